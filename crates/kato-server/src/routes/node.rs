//! Node-scoped reads (spec `api-and-storage.md` section 1.4). `node_id` in the responses is
//! the kb id, as in the reference.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use kato_core::PatternName;
use kato_kb::StoredPattern;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, Detail, ValidationFailed};
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
        (status = 200, description = "The pattern, or `status: error` when the kb has none of that name", body = PatternResponse),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn get_pattern(
    State(app): State<AppState>,
    ValidPath(pattern_id): ValidPath<String>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<PatternResponse>, ApiError> {
    let found = match pattern_id.parse::<PatternName>() {
        Ok(name) => app.kb().get_pattern(&kb, &name).await?,
        // A malformed id names no pattern.
        Err(_) => None,
    };
    let pattern = match found {
        Some(pattern) => PatternLookup::Found {
            status: "okay",
            pattern,
        },
        None => PatternLookup::Missing {
            status: "error",
            message: format!("Pattern {pattern_id} not found"),
        },
    };
    Ok(Json(PatternResponse {
        pattern,
        node_id: kb.to_string(),
    }))
}

/// `GET /pattern/{pattern_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PatternResponse {
    pattern: PatternLookup,
    /// The kb id.
    node_id: String,
}

/// A pattern found (`status: okay`), or not (`status: error` with a message).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PatternLookup {
    /// The kb has the pattern.
    Found {
        status: &'static str,
        pattern: StoredPattern,
    },
    /// It has none of that name (or the id is malformed).
    Missing {
        status: &'static str,
        message: String,
    },
}

/// Every symbol's frequency and the number of patterns containing it.
#[utoipa::path(get, path = "/symbols/stats", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses(
        (status = 200, description = "Per symbol: its frequency and the patterns containing it", body = SymbolStatsResponse),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn symbol_stats(
    State(app): State<AppState>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<SymbolStatsResponse>, ApiError> {
    let symbols = app
        .kb()
        .symbol_stats(&kb)
        .await?
        .into_iter()
        .map(|(symbol, stats)| {
            let entry = SymbolEntry {
                name: symbol.clone(),
                frequency: stats.frequency,
                pattern_member_frequency: stats.pattern_member_count,
            };
            (symbol, entry)
        })
        .collect();
    Ok(Json(SymbolStatsResponse {
        symbols,
        node_id: kb.to_string(),
    }))
}

/// `GET /symbols/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SymbolStatsResponse {
    /// Symbol -> its figures.
    symbols: BTreeMap<String, SymbolEntry>,
    /// The kb id.
    node_id: String,
}

/// One symbol of [`SymbolStatsResponse`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SymbolEntry {
    name: String,
    /// Occurrences summed over every learn.
    frequency: u64,
    /// Distinct patterns containing the symbol.
    pattern_member_frequency: u64,
}

/// Every symbol's emotive affinity (running sums).
#[utoipa::path(get, path = "/symbols/affinity", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses(
        (status = 200, description = "Symbol -> emotive -> running sum", body = AffinitiesResponse),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn all_affinities(
    State(app): State<AppState>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<AffinitiesResponse>, ApiError> {
    let affinities = app.kb().all_affinities(&kb).await?;
    Ok(Json(AffinitiesResponse {
        affinities,
        node_id: kb.to_string(),
    }))
}

/// `GET /symbols/affinity`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AffinitiesResponse {
    affinities: BTreeMap<String, BTreeMap<String, f64>>,
    /// The kb id.
    node_id: String,
}

/// One symbol's emotive affinity (empty when it has none).
#[utoipa::path(get, path = "/symbols/{symbol}/affinity", tag = "node",
    params(
        ("symbol" = String, Path, description = "The symbol (URL-encoded)"),
        ("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`"),
    ),
    responses(
        (status = 200, description = "Emotive -> running sum (empty when it has none)", body = SymbolAffinityResponse),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn symbol_affinity(
    State(app): State<AppState>,
    ValidPath(symbol): ValidPath<String>,
    NodeKb { kb }: NodeKb,
) -> Result<Json<SymbolAffinityResponse>, ApiError> {
    let affinity = app.kb().symbol_affinity(&kb, &symbol).await?;
    Ok(Json(SymbolAffinityResponse {
        symbol,
        affinity,
        node_id: kb.to_string(),
    }))
}

/// `GET /symbols/{symbol}/affinity`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SymbolAffinityResponse {
    symbol: String,
    affinity: BTreeMap<String, f64>,
    /// The kb id.
    node_id: String,
}

/// The text the reference's deprecated node-scoped reads answer with.
const DEPRECATED: &str = "This endpoint is deprecated. Use /sessions/{session_id}/percept-data \
    for session-aware data.";

/// Deprecated: a node has no percept of its own (sessions do). As the reference: an empty
/// percept, the kb id and a deprecation warning.
#[utoipa::path(get, path = "/percept-data", tag = "node",
    params(("node_id" = Option<String>, Query, description = "The node; else `x-test-id`, `x-node-id`, `default_node`")),
    responses(
        (status = 200, description = "An empty percept", body = NodePercept),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
    ))]
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
    responses(
        (status = 200, description = "Empty cognition data", body = NodeCognition),
        (status = 422, description = "A node id over the byte limit, or one that maps to no kb id", body = ValidationFailed),
    ))]
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
