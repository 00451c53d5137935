//! The rows kato writes, one struct per table (field names are column names).

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// A `patterns_data` row: the body of one pattern in one kb.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct PatternRow {
    /// The kb (validated by `KbId` before it gets here).
    pub kb_id: String,
    /// The bare 40-hex name.
    pub name: String,
    /// The events as learned.
    pub pattern_data: Vec<Vec<String>>,
    /// Symbols counted with duplicates.
    pub length: u32,
    /// Distinct symbols, sorted.
    pub token_set: Vec<String>,
    /// Number of distinct symbols.
    pub token_count: u32,
    /// The MinHash signature of `token_set`.
    pub minhash_sig: Vec<u32>,
    /// One LSH hash per band, band `i` at index `i`.
    pub lsh_bands: Vec<u64>,
    /// The first symbol of the first event (`""` when there is none).
    pub first_token: String,
    /// The last symbol of the last event (`""` when there is none).
    pub last_token: String,
}

/// A `symbol_index` row: symbol `symbol` occurs `count` times in pattern `name`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct SymbolIndexRow {
    /// The kb.
    pub kb_id: String,
    /// The symbol.
    pub symbol: String,
    /// The bare pattern name.
    pub name: String,
    /// Occurrences of the symbol in the pattern.
    pub count: u32,
    /// The pattern's length (symbols with duplicates), for the similarity bound.
    pub length: u32,
}

/// An `lsh_buckets` row: band `band_index` of pattern `name` hashes to `band_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct LshBucketRow {
    /// The kb.
    pub kb_id: String,
    /// Which band.
    pub band_index: u8,
    /// The band's hash.
    pub band_hash: u64,
    /// The bare pattern name.
    pub name: String,
}

/// A `learn_log` row: one learn, enough to replay its Redis update exactly.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LearnLogRow {
    /// The kb.
    pub kb_id: String,
    /// Commit order: increasing across every learn this writer committed.
    pub seq: u64,
    /// The bare pattern name.
    pub name: String,
    /// This learn's emotives, one canonical JSON object per observation.
    pub emotives: Vec<String>,
    /// This learn's metadata as (key, value) pairs.
    pub metadata: Vec<(String, String)>,
    /// The emotive window kept for the pattern.
    pub persistence: u32,
}
