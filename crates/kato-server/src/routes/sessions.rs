//! Session lifecycle and configuration (spec `api-and-storage.md` section 1.3).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use kato_kb::SessionConfig;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, Detail, InvalidConfigBody, SessionNotFoundBody, ValidationFailed};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::node::kb_id_for_node;
use crate::requests::{CreateSession, ExtendQuery};
use crate::session::{LockedSession, SessionResponse, SessionState, read_session, to_completion};
use crate::state::AppState;

/// The longest TTL a client may ask for (one year).
const MAX_TTL_SECONDS: i64 = 365 * 24 * 3600;
/// The reference's default of `extend`.
const DEFAULT_EXTEND_SECONDS: u64 = 3600;

/// A TTL a client asked for, checked against `1..=MAX_TTL_SECONDS` (422 at `loc`).
fn checked_ttl(ttl: i64, loc: [&str; 2]) -> Result<u64, ApiError> {
    if (1..=MAX_TTL_SECONDS).contains(&ttl) {
        Ok(ttl.unsigned_abs())
    } else {
        Err(ApiError::invalid_field(
            loc.iter().map(|part| Value::from(*part)).collect(),
            "value_error",
            format!("ttl_seconds must be within 1..={MAX_TTL_SECONDS}"),
            Value::from(ttl),
        ))
    }
}

fn new_session_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("session-{}-{millis}", uuid::Uuid::new_v4().simple())
}

/// Creates a session for a node.
#[utoipa::path(post, path = "/sessions", tag = "sessions",
    request_body = CreateSession,
    responses(
        (status = 200, description = "The session", body = SessionResponse),
        (status = 400, description = "Invalid `config` values: `detail.validation_errors` per key (unknown keys are ignored)", body = InvalidConfigBody),
        (status = 422, description = "Missing or mistyped field, or a node_id that maps to no valid kb id", body = ValidationFailed),
    ))]
pub(crate) async fn create_session(
    State(app): State<AppState>,
    ValidJson(request): ValidJson<CreateSession>,
) -> Result<Json<SessionResponse>, ApiError> {
    let settings = app.settings();
    settings
        .limits
        .check_node_id(vec!["body".into(), "node_id".into()], &request.node_id)?;
    let kb_id = kb_id_for_node(&request.node_id, &settings.service_name).map_err(|error| {
        ApiError::invalid_field(
            vec!["body".into(), "node_id".into()],
            "value_error",
            error.to_string(),
            Value::from(request.node_id.clone()),
        )
    })?;
    let ttl_seconds = match request.ttl_seconds.map(|ttl| ttl.0) {
        None | Some(0) => settings.session_ttl,
        Some(ttl) => checked_ttl(ttl, ["body", "ttl_seconds"])?,
    };
    let config = match &request.config {
        Some(changes) => SessionConfig::default()
            .updated(changes)
            .map_err(ApiError::InvalidConfig)?,
        None => SessionConfig::default(),
    };
    let session = SessionState::new(
        new_session_id(),
        request.node_id,
        kb_id,
        request.metadata.unwrap_or_default(),
        config,
        ttl_seconds,
    );
    app.sessions()
        .create(&session.session_id, &session.to_json(), ttl_seconds)
        .await?;
    crate::events::session_created(
        &app,
        &session.session_id,
        &session.node_id,
        session.created_at,
    )
    .await;
    tracing::info!(session_id = %session.session_id, node_id = %session.node_id, "session created");
    Ok(Json(session.response(&settings.defaults, ttl_seconds)))
}

/// Number of live sessions.
#[utoipa::path(get, path = "/sessions/count", tag = "sessions",
    responses(
        (status = 200, description = "Sessions alive now", body = SessionCount),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn count_sessions(
    State(app): State<AppState>,
) -> Result<Json<SessionCount>, ApiError> {
    let active_session_count = app.sessions().count().await?;
    Ok(Json(SessionCount {
        active_session_count,
    }))
}

/// `GET /sessions/count`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionCount {
    active_session_count: u64,
}

/// A session's description; slides its TTL.
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "The session", body = SessionResponse),
        (status = 404, description = "No such session", body = Detail),
    ))]
pub(crate) async fn get_session(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionResponse>, ApiError> {
    match read_session(&app, &id).await {
        Ok((session, ttl)) => Ok(Json(session.response(&app.settings().defaults, ttl))),
        Err(ApiError::SessionNotFound(id)) => Err(ApiError::NotFound(format!(
            "Session {id} not found or expired"
        ))),
        Err(other) => Err(other),
    }
}

/// Whether a session exists, without sliding its TTL.
#[utoipa::path(get, path = "/sessions/{session_id}/exists", tag = "sessions",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "Whether the session is alive", body = SessionExists),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn session_exists(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionExists>, ApiError> {
    let exists = app.sessions().exists(&id).await?;
    Ok(Json(SessionExists {
        exists,
        expired: false,
        session_id: id,
    }))
}

/// `GET /sessions/{session_id}/exists`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionExists {
    exists: bool,
    /// Always false: expiry is Redis's TTL, so an expired session is simply gone.
    expired: bool,
    session_id: String,
}

/// Deletes a session (its learned patterns stay).
#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`status` is `deleted`", body = SessionStatus),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
    ))]
pub(crate) async fn delete_session(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionStatus>, ApiError> {
    // The session middleware checked it exists; another request deleted it since.
    if !app.sessions().delete(&id).await? {
        return Err(ApiError::SessionNotFound(id));
    }
    crate::events::session_destroyed(&app, &id, "explicit_delete").await;
    Ok(Json(SessionStatus {
        status: "deleted",
        session_id: id,
    }))
}

/// What a change did to a session: `deleted`, `cleared`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionStatus {
    pub(crate) status: &'static str,
    pub(crate) session_id: String,
}

/// Sets the session's TTL once (later accesses slide it by its own TTL again).
#[utoipa::path(post, path = "/sessions/{session_id}/extend", tag = "sessions",
    params(("session_id" = String, Path, description = "The session"), ExtendQuery),
    responses(
        (status = 200, description = "`status` is `extended`", body = SessionExtended),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 422, description = "`ttl_seconds` is not a positive integer", body = ValidationFailed),
    ))]
pub(crate) async fn extend_session(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidQuery(query): ValidQuery<ExtendQuery>,
) -> Result<Json<SessionExtended>, ApiError> {
    let requested = query.ttl_seconds.unwrap_or(DEFAULT_EXTEND_SECONDS);
    let ttl_seconds = checked_ttl(
        i64::try_from(requested).unwrap_or(i64::MAX),
        ["query", "ttl_seconds"],
    )?;
    if !app.sessions().extend(&id, ttl_seconds).await? {
        return Err(ApiError::SessionNotFound(id));
    }
    Ok(Json(SessionExtended {
        status: "extended",
        session_id: id,
        ttl_seconds,
    }))
}

/// `POST /sessions/{session_id}/extend`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionExtended {
    status: &'static str,
    session_id: String,
    ttl_seconds: u64,
}

/// The session's effective configuration.
#[utoipa::path(get, path = "/sessions/{session_id}/config", tag = "sessions",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "The session's keys over the server's defaults", body = SessionConfigResponse),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
    ))]
pub(crate) async fn get_config(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionConfigResponse>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let config = session.effective_config(&app.settings().defaults);
    Ok(Json(SessionConfigResponse {
        session_id: id,
        config,
    }))
}

/// `GET /sessions/{session_id}/config`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionConfigResponse {
    session_id: String,
    config: SessionConfig,
}

/// Changes configuration keys of the session; the body is the keys, or `{"config": {...}}`.
#[utoipa::path(post, path = "/sessions/{session_id}/config", tag = "sessions",
    params(("session_id" = String, Path, description = "The session")),
    request_body(content = Object, description = "Configuration keys (spec 6.1), or `{\"config\": {...}}`"),
    responses(
        (status = 200, description = "`status` is `okay`", body = ConfigUpdated),
        (status = 400, description = "`detail.validation_errors` per known key with a wrong type or out of range (unknown keys are ignored)", body = InvalidConfigBody),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
        (status = 422, description = "The body is not a JSON object", body = ValidationFailed),
    ))]
pub(crate) async fn update_config(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(body): ValidJson<Map<String, Value>>,
) -> Result<Json<ConfigUpdated>, ApiError> {
    to_completion(app.admit()?, async move {
        let changes = match body.get("config") {
            Some(Value::Object(inner)) => inner.clone(),
            _ => body,
        };
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let outcome = locked
            .state
            .config
            .updated(&changes)
            .map(|config| locked.state.config = config)
            .map_err(ApiError::InvalidConfig);
        locked.finish(&app, outcome).await?;
        Ok(Json(ConfigUpdated {
            status: "okay",
            message: "Configuration updated",
            session_id: id,
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/config`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConfigUpdated {
    status: &'static str,
    message: &'static str,
    session_id: String,
}
