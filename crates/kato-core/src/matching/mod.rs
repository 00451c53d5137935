//! Matching one pattern against the STM (spec `predictions.md` section 3): similarity, difflib
//! blocks, past / present / future / missing / extras, fuzzy anomalies, the single-symbol path.
//!
//! INTERFACE FIXED BY THE LEAD; the helper that owns this module fills in the bodies and may add
//! private submodules, but keeps these public names and fields.

use serde::Serialize;

/// How the multi-symbol path matches one pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    /// Candidates below this similarity are dropped; with no exact block a candidate is dropped
    /// whenever this is > 0 (spec 3.3 step 2).
    pub recall_threshold: f64,
    /// Token mode (LCS over symbols) when true, character mode (`fuzz.ratio` of the joined
    /// strings) when false.
    pub use_token_matching: bool,
    /// Fuzzy token mode when > 0 (spec 3.4).
    pub fuzzy_token_threshold: f64,
}

/// A state symbol matched fuzzily to a different pattern symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// The state's spelling.
    pub observed: String,
    /// The pattern's spelling.
    pub expected: String,
    /// `fuzz.ratio / 100`.
    pub similarity: f64,
}

/// One pattern matched against the STM on the multi-symbol path (spec 3.3 to 3.5), before any
/// kb-wide metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternMatch {
    /// Token-mode LCS ratio or character-mode ratio, with the reference's `*100/100` round trip.
    pub similarity: f64,
    /// State tokens in block order (fuzzy mode: every fuzzily matched state token).
    pub matches: Vec<String>,
    /// Fuzzy mode only; empty otherwise.
    pub anomalies: Vec<Anomaly>,
    /// Pattern events before the present.
    pub past: Vec<Vec<String>>,
    /// Pattern events from the first to the last matched one (after the tail fix).
    pub present: Vec<Vec<String>>,
    /// Pattern events after the present.
    pub future: Vec<Vec<String>>,
    /// Per present event, its symbols that are not in `matches` (len == present.len()).
    pub missing: Vec<Vec<String>>,
    /// Per STM event, its symbols that are not in the flattened present (len == stm.len()).
    pub extras: Vec<Vec<String>>,
    /// `len(matches) / pattern length`.
    pub evidence: f64,
    /// `len(matches) / symbols in present`.
    pub confidence: f64,
    /// `(2m - e_flat) / (2m + e_flat)` from the flat extras count (0 when the denominator is 0).
    pub snr: f64,
    /// `number_of_blocks - 1` as a float (-1.0 with no block).
    pub fragmentation: f64,
}

/// One pattern on the single-symbol path (spec 3.6): flat symbol lists.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleSymbolMatch {
    /// `[symbol]`.
    pub matches: Vec<String>,
    /// Flat.
    pub past: Vec<String>,
    /// Flat.
    pub present: Vec<String>,
    /// Flat: `P[len(past)+len(present):]`.
    pub future: Vec<String>,
    /// Flat.
    pub missing: Vec<String>,
    /// Flat.
    pub extras: Vec<String>,
    /// As in the multi-symbol path.
    pub similarity: f64,
    /// As in the multi-symbol path.
    pub evidence: f64,
    /// As in the multi-symbol path.
    pub confidence: f64,
    /// `m / (m + e_flat)`.
    pub snr: f64,
    /// An integer in the reference (`int`); serialised without a fraction.
    pub fragmentation: i64,
    /// `(evidence+confidence)*snr + (0 if frag == -1 else 1/(frag+1))`.
    pub potential: f64,
}

/// Matches `pattern` (events) against `stm` (events) on the multi-symbol path; `None` when the
/// candidate is dropped (similarity below the threshold, or no block while the threshold is > 0).
pub fn match_pattern(
    pattern: &[Vec<String>],
    stm: &[Vec<String>],
    config: &MatchConfig,
) -> Option<PatternMatch> {
    let _ = (pattern, stm, config);
    unimplemented!("the matching helper implements this")
}

/// The single-symbol path for one candidate: `None` unless the pattern's first symbol is `symbol`.
pub fn match_single_symbol(pattern: &[Vec<String>], symbol: &str) -> Option<SingleSymbolMatch> {
    let _ = (pattern, symbol);
    unimplemented!("the matching helper implements this")
}
