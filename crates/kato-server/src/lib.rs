//! kato-server: the KATO-compatible HTTP service.
//!
//! Maps the reference's session API (spec `api-and-storage.md` sections 1 to 3 and 6, with
//! DESIGN.md section 8) onto `kato-kb`. The service is stateless: sessions live in Redis
//! ([`kato_redis::SessionStore`]), patterns in ClickHouse and Redis, so any number of
//! instances can serve the same sessions. Every change to a session happens under the
//! session's Redis lock and is written back only while the lock is still held, so two
//! requests racing on one session, on one instance or on two, are applied one after the
//! other and neither update is lost.
//!
//! [`ApiError`] is the crate's one error type and the one place errors become status codes
//! and bodies.

pub mod config;
pub mod error;
mod events;
mod extract;
mod memory;
mod middleware;
mod monitor;
mod node;
mod requests;
mod routes;
mod session;
mod state;
mod telemetry;
mod time;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;

pub use config::{ApiToken, Limits, ServerArgs};
pub use error::ApiError;
pub use state::{AppState, ServerSettings};

/// The API: every route of the reference's session API, `/openapi.json` and `/docs`, with
/// the trace-id, token, deadline, session and telemetry middleware.
pub fn router(state: AppState) -> Router {
    let max_body_bytes = state.settings().limits.max_body_bytes;
    let (api, _) = routes::api();
    api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::telemetry,
    ))
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::session_guard,
    ))
    // Outside the session guard: its Redis check is part of the request's time.
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::deadline,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::require_token,
    ))
    // Outside the token check: browsers send CORS preflights without credentials.
    .layer(CorsLayer::very_permissive())
    // Outside every layer that answers: each answer is counted, 404s and 401s included.
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::monitor,
    ))
    .layer(DefaultBodyLimit::max(max_body_bytes))
    .layer(CatchPanicLayer::custom(panic_response))
    .layer(axum::middleware::from_fn(middleware::trace_id))
    .with_state(state)
}

/// The OpenAPI document the API serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::api().1
}

/// The admin listener's routes: Prometheus text at `/metrics` (behind `KATO_API_TOKEN` too
/// when it is set).
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(app): axum::extract::State<AppState>| async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        app.telemetry()
                            .prometheus_text(&app.kb().index_stats(), app.events().figures()),
                    )
                },
            ),
        )
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the requests in flight (their learns are committed before they answer; session changes
/// that outlived their request's deadline are awaited by [`AppState::finish_in_flight`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not Found"})),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(json!({"detail": "Method Not Allowed"})),
    )
        .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"detail": "internal error"})),
    )
        .into_response()
}
