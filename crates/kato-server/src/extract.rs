//! Request extractors that fail the reference's way: a body, query or path that does not fit
//! its type is a 422 whose `detail` names the field, a body over the limit a 413.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use kato_core::KbId;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ValidationIssue};
use crate::node::kb_id_for_node;
use crate::state::AppState;

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct ValidJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                body_rejection(rejection, state.settings().limits.max_body_bytes)
            })?;
        parse_body(&bytes).map(ValidJson)
    }
}

fn body_rejection(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!("could not read the request body: {rejection}"))
    }
}

/// Parses a JSON body into `T`; an empty body reads as `null` (FastAPI's "Field required").
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(|error| {
            ApiError::invalid_field(
                vec![Value::from("body"), Value::from(error.column())],
                "json_invalid",
                format!("JSON decode error: {error}"),
                Value::Null,
            )
        })?
    };
    from_value(value, "body")
}

/// Deserializes `value` into `T`; a mismatch is a 422 located under `root`.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value, root: &str) -> Result<T, ApiError> {
    if value.is_null() {
        return Err(ApiError::invalid_field(
            vec![Value::from(root)],
            "missing",
            "Field required",
            Value::Null,
        ));
    }
    let input = value.clone();
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let mut loc = vec![Value::from(root)];
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
                serde_path_to_error::Segment::Map { key } => loc.push(Value::from(key.as_str())),
                serde_path_to_error::Segment::Enum { variant } => {
                    loc.push(Value::from(variant.as_str()));
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = error.inner().to_string();
        let kind = if let Some(field) = missing_field(&message) {
            loc.push(Value::from(field));
            "missing"
        } else if message.starts_with("invalid type") {
            "type_error"
        } else {
            "value_error"
        };
        let input = locate(&input, &loc[1..]).cloned().unwrap_or(Value::Null);
        ApiError::Validation(vec![ValidationIssue {
            kind: kind.to_owned(),
            loc,
            msg: message,
            input,
        }])
    })
}

/// The field of serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn locate<'a>(value: &'a Value, path: &[Value]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, step| match step {
        Value::String(key) => value.get(key.as_str()),
        Value::Number(index) => value.get(usize::try_from(index.as_u64()?).ok()?),
        _ => None,
    })
}

/// Path parameters of type `T`; a segment that does not decode (bad percent-encoding, not
/// UTF-8) is a 422 located at `["path"]`.
#[derive(Debug)]
pub(crate) struct ValidPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ValidPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ValidPath(value))
            .map_err(|rejection| {
                ApiError::invalid_field(
                    vec![Value::from("path")],
                    "path_error",
                    rejection.body_text(),
                    Value::Null,
                )
            })
    }
}

/// Query parameters of type `T`.
#[derive(Debug)]
pub(crate) struct ValidQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(query)| ValidQuery(query))
            .map_err(|rejection| {
                let message = rejection.body_text();
                let field = query_field(&message);
                let mut loc = vec![Value::from("query")];
                loc.extend(field.map(Value::from));
                ApiError::invalid_field(loc, "query_error", message, Value::Null)
            })
    }
}

/// The parameter a query rejection is about: serde's "missing field `x`" or, for a value that
/// does not parse, the "x: ..." prefix axum puts before the error.
fn query_field(message: &str) -> Option<String> {
    if let Some(field) = missing_field(message) {
        return Some(field.to_owned());
    }
    let detail = message
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(message);
    let (field, _) = detail.split_once(": ")?;
    (!field.is_empty() && !field.contains(' ')).then(|| field.to_owned())
}

/// The kb of a node-scoped route: query `node_id`, else header `x-test-id` (prefixed with
/// `test_` unless it has it), else header `x-node-id`, else `default_node`.
#[derive(Debug)]
pub(crate) struct NodeKb {
    /// The kb.
    pub(crate) kb: KbId,
}

impl FromRequestParts<AppState> for NodeKb {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
            .map(|Query(query)| query)
            .unwrap_or_default();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let (node, loc) = if let Some(node) = query.get("node_id") {
            (node.clone(), ["query", "node_id"])
        } else if let Some(test) = header("x-test-id") {
            let node = if test.starts_with("test_") {
                test
            } else {
                format!("test_{test}")
            };
            (node, ["header", "x-test-id"])
        } else if let Some(node) = header("x-node-id") {
            (node, ["header", "x-node-id"])
        } else {
            ("default_node".to_owned(), ["query", "node_id"])
        };
        let loc_values: Vec<Value> = loc.iter().map(|part| Value::from(*part)).collect();
        state.settings().limits.check_node_id(loc_values, &node)?;
        let kb = kb_id_for_node(&node, &state.settings().service_name).map_err(|error| {
            ApiError::invalid_field(
                loc.iter().map(|part| Value::from(*part)).collect(),
                "value_error",
                error.to_string(),
                Value::from(node.clone()),
            )
        })?;
        Ok(NodeKb { kb })
    }
}
