//! Use cases of liandong: sign-in and sessions, accounts, the registry, notices, first start
//! and the demo county. Functions take the current time as an argument; only the edges (web
//! handlers, commands) read the clock.

pub mod attachments;
pub mod auth;
pub mod demo;
mod demo_monthly;
pub mod error;
pub mod monthly;
pub mod photos;
pub mod scoring;
pub mod settings;
pub mod users;

pub use auth::{Principal, SignedIn};
pub use error::ServiceError;
pub use settings::Settings;

use liandong_store::Store;

/// The platform as the web layer and the commands see it.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub settings: std::sync::Arc<Settings>,
    pub(crate) guards: std::sync::Arc<auth::Guards>,
    pub(crate) rankings: std::sync::Arc<scoring::RankingCache>,
}

impl App {
    pub fn new(store: Store, settings: Settings) -> App {
        App {
            store,
            settings: std::sync::Arc::new(settings),
            guards: std::sync::Arc::new(auth::Guards::new()),
            rankings: Default::default(),
        }
    }
}
