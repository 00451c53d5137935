//! Node-scoped reads (spec `api-and-storage.md` section 1.4). `node_id` in the responses is
//! the kb id, as in the reference.

use axum::Json;
use axum::extract::State;
use kato_core::PatternName;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{NodeKb, ValidPath};
use crate::state::AppState;

/// A learned pattern with its frequency, emotives and metadata; an unknown id answers 200
/// with `status: "error"`, as in the reference.
#[utoipa::path(get, path = "/pattern/{pattern_id}", tag = "node",
    params(
        ("pattern_id" = String, Path, description = "`PTRN|<40 hex>` (URL-encode the `|`) or the 40 hex digits"),
        ("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`"),
    ),
    responses(
        (status = 200, description = "`{pattern: {status, pattern | message}, node_id}`"),
        (status = 422, description = "A node id that maps to no valid kb id"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn get_pattern(
    State(app): State<AppState>,
    ValidPath(pattern_id): ValidPath<String>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<Value>, ApiError> {
    let found = match pattern_id.parse::<PatternName>() {
        Ok(name) => app.kb().get_pattern(&kb, &name).await?,
        // A malformed id names no pattern.
        Err(_) => None,
    };
    let pattern = match found {
        Some(pattern) => json!({ "status": "okay", "pattern": pattern }),
        None => json!({ "status": "error", "message": format!("Pattern {pattern_id} not found") }),
    };
    Ok(Json(json!({ "pattern": pattern, "node_id": kb.as_str() })))
}

/// Every symbol's frequency and the number of patterns containing it.
#[utoipa::path(get, path = "/symbols/stats", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses((status = 200, description = "`{symbols: {symbol: {name, frequency, pattern_member_frequency}}, node_id}`"),
              (status = 503, description = "A store is unavailable")))]
pub(crate) async fn symbol_stats(
    State(app): State<AppState>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<Value>, ApiError> {
    let symbols: Map<String, Value> = app
        .kb()
        .symbol_stats(&kb)
        .await?
        .into_iter()
        .map(|(symbol, stats)| {
            let entry = json!({
                "name": symbol,
                "frequency": stats.frequency,
                "pattern_member_frequency": stats.pattern_member_count,
            });
            (symbol, entry)
        })
        .collect();
    Ok(Json(json!({ "symbols": symbols, "node_id": kb.as_str() })))
}

/// Every symbol's emotive affinity (running sums).
#[utoipa::path(get, path = "/symbols/affinity", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses((status = 200, description = "`{affinities: {symbol: {emotive: float}}, node_id}`"),
              (status = 503, description = "A store is unavailable")))]
pub(crate) async fn all_affinities(
    State(app): State<AppState>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<Value>, ApiError> {
    let affinities = app.kb().all_affinities(&kb).await?;
    Ok(Json(
        json!({ "affinities": affinities, "node_id": kb.as_str() }),
    ))
}

/// One symbol's emotive affinity (empty when it has none).
#[utoipa::path(get, path = "/symbols/{symbol}/affinity", tag = "node",
    params(
        ("symbol" = String, Path, description = "The symbol (URL-encoded)"),
        ("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`"),
    ),
    responses((status = 200, description = "`{symbol, affinity, node_id}`"),
              (status = 503, description = "A store is unavailable")))]
pub(crate) async fn symbol_affinity(
    State(app): State<AppState>,
    ValidPath(symbol): ValidPath<String>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<Value>, ApiError> {
    let affinity = app.kb().symbol_affinity(&kb, &symbol).await?;
    Ok(Json(
        json!({ "symbol": symbol, "affinity": affinity, "node_id": kb.as_str() }),
    ))
}

/// The text the reference's deprecated node-scoped reads answer with.
const DEPRECATED: &str = "This endpoint is deprecated. Use /sessions/{session_id}/percept-data \
    for session-aware data.";

/// Deprecated: a node has no percept of its own (sessions do). As the reference: an empty
/// percept, the kb id and a deprecation warning.
#[utoipa::path(get, path = "/percept-data", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses((status = 200, description = "An empty percept", body = NodePercept)))]
#[deprecated = "use /sessions/{session_id}/percept-data"]
pub(crate) async fn node_percept_data(NodeKb { kb }: NodeKb) -> Json<NodePercept> {
    Json(NodePercept {
        percept_data: Map::new(),
        node_id: kb.to_string(),
        warning: DEPRECATED.to_owned(),
    })
}

/// `GET /percept-data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodePercept {
    /// Always empty.
    #[schema(value_type = Object)]
    percept_data: Map<String, Value>,
    /// The kb id.
    node_id: String,
    warning: String,
}

/// Deprecated: a node has no cognition of its own (sessions do). As the reference: empty
/// cognition data, the kb id and a deprecation warning.
#[utoipa::path(get, path = "/cognition-data", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses((status = 200, description = "Empty cognition data", body = NodeCognition)))]
#[deprecated = "use /sessions/{session_id}/cognition-data"]
pub(crate) async fn node_cognition_data(NodeKb { kb }: NodeKb) -> Json<NodeCognition> {
    Json(NodeCognition {
        cognition_data: EmptyCognition::default(),
        node_id: kb.to_string(),
        warning: DEPRECATED.replace("percept-data", "cognition-data"),
    })
}

/// `GET /cognition-data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodeCognition {
    cognition_data: EmptyCognition,
    /// The kb id.
    node_id: String,
    warning: String,
}

/// The reference's cognition data of a node: every list and map empty.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct EmptyCognition {
    #[schema(value_type = Vec<Object>)]
    predictions: Vec<Value>,
    #[schema(value_type = Object)]
    emotives: Map<String, Value>,
    symbols: Vec<String>,
    command: String,
    #[schema(value_type = Object)]
    metadata: Map<String, Value>,
    path: Vec<String>,
    strings: Vec<String>,
    vectors: Vec<Vec<f64>>,
    short_term_memory: Vec<Vec<String>>,
}
