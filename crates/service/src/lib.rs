//! Use cases of liandong: sign-in and sessions, accounts, the registry, notices, first start
//! and the demo county. Functions take the current time as an argument; only the edges (web
//! handlers, commands) read the clock.

pub mod attachments;
pub mod auth;
pub mod compare;
pub mod demo;
mod demo_compare;
mod demo_monthly;
mod demo_roster;
pub mod error;
pub mod monthly;
pub mod photos;
pub mod policies;
pub mod roster;
pub mod scoring;
pub mod settings;
pub mod users;
pub mod vault;
pub mod warnings;

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
    /// Keys of personal data, loaded on first use.
    pub(crate) vault: std::sync::Arc<std::sync::OnceLock<vault::Vault>>,
    pub(crate) roster_jobs: roster::RosterJobs,
    pub(crate) compare_jobs: compare::CompareJobs,
    /// Serialises hand-offs of clues to warnings (a warning is pushed before it is linked).
    pub(crate) hand_offs: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// New warnings, broadcast to every open event stream.
    pub warnings: warnings::WarningHub,
    /// For forwarding warnings to group robots.
    pub(crate) http: reqwest::Client,
}

impl App {
    pub fn new(store: Store, settings: Settings) -> App {
        App {
            store,
            settings: std::sync::Arc::new(settings),
            guards: std::sync::Arc::new(auth::Guards::new()),
            rankings: Default::default(),
            vault: Default::default(),
            roster_jobs: Default::default(),
            compare_jobs: Default::default(),
            hand_offs: Default::default(),
            warnings: Default::default(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}
