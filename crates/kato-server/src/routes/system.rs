//! Service-level routes: root, health, status, the reference's JSON metrics, the OpenAPI
//! document and its docs page.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Detail};
use crate::state::AppState;
use crate::time::{epoch_seconds, iso_utc};

/// The crate version, reported as the service version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the service is.
#[utoipa::path(get, path = "/", tag = "system",
    responses((status = 200, description = "The service and where its docs are", body = Root)))]
pub(crate) async fn root(State(app): State<AppState>) -> Json<Root> {
    Json(Root {
        service: "KATO API",
        version: VERSION,
        description: "Deterministic, explainable pattern learning and prediction (kato, Rust)",
        docs: "/docs",
        health: "/health",
        status: "running",
        uptime_seconds: app.uptime_seconds(),
        architecture: "modular",
        session_support: true,
    })
}

/// `GET /`, in the reference's field order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Root {
    service: &'static str,
    version: &'static str,
    description: &'static str,
    docs: &'static str,
    health: &'static str,
    status: &'static str,
    uptime_seconds: f64,
    architecture: &'static str,
    session_support: bool,
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
    responses(
        (status = 200, description = "Sessions, processors and resident indexes", body = Status),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn status(State(app): State<AppState>) -> Result<Json<Status>, ApiError> {
    let sessions = app.sessions().count().await?;
    let settings = app.settings();
    let index = app.kb().index_stats();
    Ok(Json(Status {
        status: "healthy",
        base_processor_id: settings.service_name.clone(),
        uptime_seconds: app.uptime_seconds(),
        sessions: StatusSessions {
            total_sessions: sessions,
            active_sessions: sessions,
            expired_sessions: 0,
            backend: "redis",
            redis_url: settings.redis_url_public.clone(),
        },
        processors: StatusProcessors {
            total_processors: 0,
            max_processors: 0,
            eviction_ttl_seconds: settings.session_ttl,
            processors: Vec::new(),
        },
        resident_indexes: ResidentIndexes {
            bytes: index.bytes,
            patterns: index.patterns,
            resident_kbs: index.resident_kbs,
            memory_budget_bytes: settings.index_memory_bytes,
            loads: index.loads,
            load_seconds: index.load_millis as f64 / 1000.0,
            evictions: index.evictions,
            catch_ups: index.catch_ups,
            rebuilds: index.rebuilds,
        },
        version: VERSION,
    }))
}

/// `GET /status`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    status: &'static str,
    /// The service name.
    base_processor_id: String,
    uptime_seconds: f64,
    sessions: StatusSessions,
    processors: StatusProcessors,
    resident_indexes: ResidentIndexes,
    version: &'static str,
}

/// The sessions of `/status` (every instance shares them through Redis).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusSessions {
    total_sessions: u64,
    active_sessions: u64,
    /// Always 0: an expired session is simply gone.
    expired_sessions: u64,
    backend: &'static str,
    /// The Redis URL without its password.
    redis_url: String,
}

/// The processors of `/status`: none, as every instance serves every node.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusProcessors {
    total_processors: u64,
    max_processors: u64,
    /// The default session TTL.
    eviction_ttl_seconds: u64,
    /// Always empty.
    processors: Vec<String>,
}

/// What this instance's resident indexes hold and have done (an addition to the reference's
/// `/status`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResidentIndexes {
    bytes: u64,
    patterns: u64,
    resident_kbs: u64,
    /// `KATO_INDEX_MEMORY_BYTES`.
    memory_budget_bytes: usize,
    loads: u64,
    load_seconds: f64,
    evictions: u64,
    catch_ups: u64,
    rebuilds: u64,
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
