//! liandong's web layer: Chinese HTML pages, the JSON API under `/api/v1` with its OpenAPI
//! document, and the middleware around them. Handlers stay thin: they parse, call the
//! service or the store, and render.

pub mod api;
pub mod auth;
pub mod error;
pub mod json;
pub mod pages;
pub mod svg;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use liandong_service::App;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// token -> (user id, expiry, file)
pub type RejectedFiles =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (i64, i64, Vec<u8>)>>>;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// Rejected imports written back with an error column, kept briefly for their uploader.
    pub rejected: RejectedFiles,
}

static CSS: &str = include_str!("../static/app.css");
static LIVE_JS: &str = include_str!("../static/live.js");

async fn live_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_JS,
    )
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

async fn not_found() -> error::AppError {
    error::AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "您访问的页面或接口不存在",
    )
}

/// The whole application as one router.
pub fn router(app: App) -> Router {
    let state = AppState {
        app,
        rejected: Default::default(),
    };
    let limit = state.app.settings.body_limit_bytes;
    Router::new()
        .nest("/api/v1", api::routes())
        .merge(pages::routes())
        .route("/static/app.css", get(css))
        .route("/static/live.js", get(live_js))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), auth::resolve))
        .layer(middleware::from_fn(error::normalize_rejections))
        .layer(middleware::from_fn(pages::render_errors))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(auth::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until ctrl-c (or SIGTERM), finishing requests in flight.
pub async fn serve(listener: TcpListener, app: App) -> std::io::Result<()> {
    let router = router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
