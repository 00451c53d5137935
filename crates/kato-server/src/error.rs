//! The one place errors become HTTP responses.
//!
//! The shapes are the reference's (spec `api-and-storage.md` section 1.1): route errors are
//! `{"detail": ...}`, request validation is 422 with a `detail` list whose `loc` names the
//! field, and an unknown or expired session is the session middleware's
//! `{"error": {"code": "SESSION_NOT_FOUND", ...}}`. A store failure is 503 with a `detail`
//! that names the store, and so is a request past its deadline (naming a store that does not
//! answer a ping then, when one does not); nothing answers 500 with a bare text.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kato_kb::{ErrorKind, KbError};
use kato_redis::RedisError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One problem of a request, in the shape of FastAPI's 422 items.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ValidationIssue {
    /// A short machine name (`missing`, `string_type`, `json_invalid`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "strings", 0]`, `["query", "ttl_seconds"]`, ...
    #[schema(value_type = Vec<Value>)]
    pub loc: Vec<Value>,
    /// What is wrong, for a person.
    pub msg: String,
    /// The offending input where known.
    #[schema(value_type = Value)]
    pub input: Value,
}

/// `{"detail": "..."}`: a route's refusal, a store failure, a limit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Detail {
    detail: String,
}

/// 422: what is wrong with the request, field by field.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidationFailed {
    detail: Vec<ValidationIssue>,
}

/// 404 of the session middleware: no such session, or it expired.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionNotFoundBody {
    error: SessionNotFoundError,
}

/// The `error` of [`SessionNotFoundBody`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionNotFoundError {
    /// `SESSION_NOT_FOUND`.
    code: &'static str,
    message: String,
    session_id: String,
}

/// 400: configuration values that are wrong, per key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvalidConfigBody {
    detail: InvalidConfigDetail,
}

/// The `detail` of [`InvalidConfigBody`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvalidConfigDetail {
    /// `Configuration validation failed`.
    error: &'static str,
    /// Key -> what is wrong with its value.
    validation_errors: BTreeMap<String, String>,
}

/// 400 of observe-sequence: which observation was refused, and why.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvalidObservationBody {
    detail: InvalidObservationDetail,
}

/// 400: an observed vector of another dimension than the node's (the reference's
/// `VectorDimensionError`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorDimensionBody {
    detail: VectorDimensionDetail,
}

/// The `detail` of [`VectorDimensionBody`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorDimensionDetail {
    /// `VectorDimensionError`.
    error: &'static str,
    message: String,
    expected_dimension: usize,
    actual_dimension: usize,
    vector_name: String,
    /// In an observe-sequence: which observation.
    #[serde(skip_serializing_if = "Option::is_none")]
    observation_index: Option<usize>,
}

/// The `detail` of [`InvalidObservationBody`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvalidObservationDetail {
    /// `InvalidObservation`.
    error: &'static str,
    message: String,
    observation_index: usize,
}

/// Which store failed, as the `detail` of a 503 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// ClickHouse.
    ClickHouse,
    /// Redis.
    Redis,
}

impl Store {
    /// The store's name in metrics and messages.
    pub fn name(self) -> &'static str {
        match self {
            Store::ClickHouse => "clickhouse",
            Store::Redis => "redis",
        }
    }
}

/// Every way a request (or the server's start) can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The session middleware's 404: no such session, or it expired.
    #[error("session {0} not found or expired")]
    SessionNotFound(String),
    /// A route's own 404.
    #[error("{0}")]
    NotFound(String),
    /// A request the route refuses (400 with the message as `detail`).
    #[error("{0}")]
    BadRequest(String),
    /// A configuration with invalid values (400 with `validation_errors` per key).
    #[error("configuration validation failed")]
    InvalidConfig(BTreeMap<String, String>),
    /// The body, path or query does not have the declared shape (422).
    #[error("request validation failed")]
    Validation(Vec<ValidationIssue>),
    /// The body is larger than the configured limit (413).
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// This request lost the session's lock before it could save (409): the session was not
    /// updated, though learns it made stay learned.
    #[error("{0}")]
    LeaseLost(String),
    /// One observation of an observe-sequence was refused (400 with `observation_index`).
    #[error("observation {index}: {message}")]
    InvalidObservation {
        /// Position in the sequence.
        index: usize,
        /// Why.
        message: String,
    },
    /// An observed vector whose dimension is not the kb's (400, the reference's
    /// `VectorDimensionError`).
    #[error("vector {name} has {actual} dimensions; this node's vectors have {expected}")]
    VectorDimension {
        /// The kb's dimension.
        expected: usize,
        /// The observed vector's.
        actual: usize,
        /// The observed vector's `VCTR|` name.
        name: String,
        /// Its position in an observe-sequence.
        observation_index: Option<usize>,
    },
    /// `KATO_API_TOKEN` is set and the request did not carry it (401).
    #[error("missing or wrong bearer token: send Authorization: Bearer <KATO_API_TOKEN>")]
    Unauthorized,
    /// A bounded resource is full (503 naming the setting).
    #[error("{0}")]
    Unavailable(String),
    /// The server is shutting down and did not finish the request (503).
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The request did not finish within `KATO_REQUEST_TIMEOUT_MS` (503). A session change
    /// goes on in its own task and may still take effect.
    #[error(
        "request deadline of {} ms (KATO_REQUEST_TIMEOUT_MS) exceeded{}",
        .deadline.as_millis(),
        stalled_text(.stalled)
    )]
    DeadlineExceeded {
        /// The deadline.
        deadline: Duration,
        /// A store that then did not answer a ping, and how long it was given, when one did
        /// not.
        stalled: Option<(Store, Duration)>,
    },
    /// `KATO_MAX_IN_FLIGHT` session changes are running already (503, at once).
    #[error(
        "{limit} session changes are running already, the most this server runs at once \
         (KATO_MAX_IN_FLIGHT): retry later"
    )]
    Overloaded {
        /// `KATO_MAX_IN_FLIGHT`.
        limit: u32,
    },
    /// A start-up setting is invalid; the message names the variable (start-up only).
    #[error("{0}")]
    InvalidSetting(String),
    /// A listener failed (start-up and serving only).
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The knowledge base refused the input or a store failed.
    #[error(transparent)]
    Kb(#[from] KbError),
    /// The session store failed.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// A session's stored state could not be read back; a bug or foreign data in Redis.
    #[error("session state is unreadable: {0}")]
    CorruptSession(String),
}

/// Marks a response that carries a store failure, for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct StoreFailure(pub Store);

impl ApiError {
    /// A 422 for one field.
    pub fn invalid_field(
        loc: Vec<Value>,
        kind: &str,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        Self::Validation(vec![ValidationIssue {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input,
        }])
    }

    /// The store behind a failure, if a store failed.
    pub fn failed_store(&self) -> Option<Store> {
        match self {
            ApiError::DeadlineExceeded { stalled, .. } => stalled.map(|(store, _)| store),
            ApiError::Kb(error) if error.kind() == ErrorKind::Unavailable => Some(kb_store(error)),
            ApiError::Redis(RedisError::SessionBusy { .. }) => None,
            ApiError::Redis(_) => Some(Store::Redis),
            _ => None,
        }
    }
}

fn stalled_text(stalled: &Option<(Store, Duration)>) -> String {
    stalled.map_or_else(String::new, |(store, patience)| {
        format!(
            ": {} did not answer a ping within {} ms",
            store.name(),
            patience.as_millis()
        )
    })
}

fn kb_store(error: &KbError) -> Store {
    match error {
        KbError::Redis(_) => Store::Redis,
        KbError::Batch(inner) => kb_store(inner),
        _ => Store::ClickHouse,
    }
}

fn detail(status: StatusCode, detail: String) -> Response {
    (status, Json(Detail { detail })).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(store) = self.failed_store() {
            tracing::warn!(store = store.name(), error = %self, "store failure");
            let mut response = detail(StatusCode::SERVICE_UNAVAILABLE, self.to_string());
            response.extensions_mut().insert(StoreFailure(store));
            return response;
        }
        match self {
            ApiError::SessionNotFound(id) => (
                StatusCode::NOT_FOUND,
                Json(SessionNotFoundBody {
                    error: SessionNotFoundError {
                        code: "SESSION_NOT_FOUND",
                        message: format!("Session {id} not found or expired"),
                        session_id: id,
                    },
                }),
            )
                .into_response(),
            ApiError::NotFound(message) => detail(StatusCode::NOT_FOUND, message),
            ApiError::BadRequest(message) => detail(StatusCode::BAD_REQUEST, message),
            ApiError::InvalidConfig(validation_errors) => (
                StatusCode::BAD_REQUEST,
                Json(InvalidConfigBody {
                    detail: InvalidConfigDetail {
                        error: "Configuration validation failed",
                        validation_errors,
                    },
                }),
            )
                .into_response(),
            ApiError::Validation(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationFailed { detail }),
            )
                .into_response(),
            error @ ApiError::PayloadTooLarge { .. } => {
                detail(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
            }
            ApiError::LeaseLost(message) => detail(StatusCode::CONFLICT, message),
            ApiError::InvalidObservation { index, message } => (
                StatusCode::BAD_REQUEST,
                Json(InvalidObservationBody {
                    detail: InvalidObservationDetail {
                        error: "InvalidObservation",
                        message,
                        observation_index: index,
                    },
                }),
            )
                .into_response(),
            ref error @ ApiError::VectorDimension {
                expected,
                actual,
                ref name,
                observation_index,
            } => (
                StatusCode::BAD_REQUEST,
                Json(VectorDimensionBody {
                    detail: VectorDimensionDetail {
                        error: "VectorDimensionError",
                        message: error.to_string(),
                        expected_dimension: expected,
                        actual_dimension: actual,
                        vector_name: name.clone(),
                        observation_index,
                    },
                }),
            )
                .into_response(),
            error @ ApiError::Unauthorized => {
                let mut response = detail(StatusCode::UNAUTHORIZED, error.to_string());
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
                response
            }
            error @ ApiError::DeadlineExceeded { .. } => {
                // With no store to blame (that case is a store failure above) the request was
                // slow for another reason: a long prediction, a starved machine.
                tracing::warn!(%error, "request deadline exceeded");
                detail(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            }
            error @ (ApiError::ShuttingDown
            | ApiError::Overloaded { .. }
            | ApiError::Unavailable(_)) => {
                detail(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            }
            error @ ApiError::Redis(RedisError::SessionBusy { .. }) => {
                detail(StatusCode::CONFLICT, error.to_string())
            }
            ApiError::Kb(error) if error.kind() == ErrorKind::OverBudget => {
                tracing::warn!(%error, "resident index over its memory budget");
                detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{error} (the budget is KATO_INDEX_MEMORY_BYTES)"),
                )
            }
            ApiError::Kb(error) => detail(StatusCode::BAD_REQUEST, error.to_string()),
            error @ (ApiError::Redis(_)
            | ApiError::CorruptSession(_)
            | ApiError::InvalidSetting(_)
            | ApiError::Io(_)) => {
                tracing::error!(error = %error, "request failed");
                detail(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
            }
        }
    }
}
