//! Service-level routes: root, health, status, the reference's JSON metrics, the OpenAPI
//! document and its docs page.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::time::{epoch_seconds, iso_utc};

/// The crate version, reported as the service version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the service is.
#[utoipa::path(get, path = "/", tag = "system",
    responses((status = 200, description = "`{service, version, description, docs, health, status, uptime_seconds, architecture, session_support}`")))]
pub(crate) async fn root(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "service": "KATO API",
        "version": VERSION,
        "description": "Deterministic, explainable pattern learning and prediction (kato, Rust)",
        "docs": "/docs",
        "health": "/health",
        "status": "running",
        "uptime_seconds": app.uptime_seconds(),
        "architecture": "modular",
        "session_support": true,
    }))
}

/// Store reachability. Always 200 (within the request deadline); `status` is `unhealthy`
/// and `issues` names the store when one does not answer, or not within a quarter of the
/// deadline.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The stores' reachability", body = Health)))]
pub(crate) async fn health(State(app): State<AppState>) -> Json<Health> {
    // Both pings run at once and the session count after them: a quarter of the deadline
    // each, so the answer comes well within it.
    let patience = app.settings().limits.request_timeout / 4;
    let issues: Vec<String> = app
        .store_issues(patience)
        .await
        .into_iter()
        .filter_map(|(store, issue)| Some(format!("{} {}", store.name(), issue?)))
        .collect();
    let active_sessions = if issues.is_empty() {
        tokio::time::timeout(patience, app.sessions().count())
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    let status = if issues.is_empty() {
        "healthy"
    } else {
        "unhealthy"
    };
    Json(Health {
        status,
        processor_status: status,
        service_name: app.settings().service_name.clone(),
        uptime_seconds: app.uptime_seconds(),
        issues,
        metrics_collected: app.telemetry().totals().requests,
        last_collection: epoch_seconds(app.started_at()),
        active_sessions,
        timestamp: iso_utc(SystemTime::now()),
    })
}

/// `GET /health`, in the reference's field order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `healthy`, or `unhealthy` when a store does not answer.
    status: &'static str,
    /// The same as `status`.
    processor_status: &'static str,
    service_name: String,
    uptime_seconds: f64,
    /// One entry per store that does not answer.
    issues: Vec<String>,
    /// Requests this instance answered.
    metrics_collected: u64,
    /// When this instance started (epoch seconds).
    last_collection: f64,
    /// Live sessions; `null` when a store does not answer.
    active_sessions: Option<u64>,
    timestamp: String,
}

/// Sessions and configuration of this instance. Nodes need no per-process processors here
/// (every instance serves every node), so `processors` is empty.
#[utoipa::path(get, path = "/status", tag = "system",
    responses((status = 200, description = "`{status, base_processor_id, uptime_seconds, sessions, processors, resident_indexes, version}`"),
              (status = 503, description = "Redis is unavailable")))]
pub(crate) async fn status(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let sessions = app.sessions().count().await?;
    let settings = app.settings();
    Ok(Json(json!({
        "status": "healthy",
        "base_processor_id": settings.service_name,
        "uptime_seconds": app.uptime_seconds(),
        "sessions": {
            "total_sessions": sessions,
            "active_sessions": sessions,
            "expired_sessions": 0,
            "backend": "redis",
            "redis_url": settings.redis_url_public,
        },
        "processors": {
            "total_processors": 0,
            "max_processors": 0,
            "eviction_ttl_seconds": settings.session_ttl,
            "processors": [],
        },
        "resident_indexes": resident_indexes(&app),
        "version": VERSION,
    })))
}

/// What this instance's resident indexes hold and have done (an addition to the reference's
/// `/status`).
fn resident_indexes(app: &AppState) -> Value {
    let index = app.kb().index_stats();
    json!({
        "bytes": index.bytes,
        "patterns": index.patterns,
        "resident_kbs": index.resident_kbs,
        "memory_budget_bytes": app.settings().index_memory_bytes,
        "loads": index.loads,
        "load_seconds": index.load_millis as f64 / 1000.0,
        "evictions": index.evictions,
        "catch_ups": index.catch_ups,
        "rebuilds": index.rebuilds,
    })
}

/// A docs page (Swagger UI, like FastAPI's) over `/openapi.json`; its assets are served by
/// this server ([`swagger_ui_bundle`], [`swagger_ui_css`]), so it works without internet.
pub(crate) async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// Swagger UI's script (`swagger-ui-dist`, `assets/swagger-ui/README.md`).
pub(crate) async fn swagger_ui_bundle() -> Response {
    static_asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    )
}

/// Swagger UI's style sheet.
pub(crate) async fn swagger_ui_css() -> Response {
    static_asset(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    )
}

fn static_asset(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The assets change only with kato's version.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}
