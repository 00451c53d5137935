//! Matching one pattern against the STM (spec `predictions.md` section 3): similarity, difflib
//! blocks, past / present / future / missing / extras, fuzzy anomalies, the single-symbol path.
//!
//! Everything reproduces the reference's arithmetic, floating-point rounding included: the
//! similarity is an LCS ratio (token mode) or RapidFuzz's `fuzz.ratio` (character mode), while
//! the alignment uses a port of CPython's difflib `SequenceMatcher`; the two can disagree (spec
//! 8, example 10). One deliberate difference (DESIGN.md section 8): a recall threshold of 0 in
//! character mode keeps every candidate, where the reference returned no predictions at all.
//!
//! ```
//! use kato_core::matching::{MatchConfig, match_pattern};
//!
//! let events = |list: &[&[&str]]| -> Vec<Vec<String>> {
//!     list.iter().map(|event| event.iter().map(|s| s.to_string()).collect()).collect()
//! };
//! let pattern = events(&[&["beginning"], &["middle"], &["end"]]);
//! let stm = events(&[&["middle"], &["end"]]);
//! let config = MatchConfig {
//!     recall_threshold: 0.3,
//!     use_token_matching: true,
//!     fuzzy_token_threshold: 0.0,
//! };
//! let matched = match_pattern(&pattern, &stm, &config).expect("similarity 0.8 passes 0.3");
//! assert_eq!(matched.similarity, 0.8);
//! assert_eq!(matched.past, events(&[&["beginning"]]));
//! assert_eq!(matched.present, stm);
//! ```

mod alignment;
mod fuzzy;
mod sequence_matcher;
mod similarity;
mod token_matcher;

use serde::Serialize;

use alignment::{extract, split_events};
use similarity::{character_score, native_cutoff, token_score};
pub use token_matcher::{ABSENT, MatchScores, MatchScratch, TokenMatcher};

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    let p = flatten(pattern);
    let s = flatten(stm);
    let threshold = config.recall_threshold;
    let (score, cutoff) = if config.use_token_matching {
        (token_score(&p, &s), rapidfuzz_cutoff(threshold))
    } else {
        // The reference's RapidFuzz rejects a negative cutoff and returns no predictions at all;
        // DESIGN.md section 8 lets a threshold of 0 keep every candidate instead.
        let cutoff = native_cutoff(rapidfuzz_cutoff(threshold).max(0.0));
        (character_score(&p, &s, cutoff), cutoff)
    };
    let similarity = recalled(score, cutoff, threshold)?;
    let extraction = extract(&p, &s, threshold)?;
    let (matches, anomalies, flat_extras) = if config.fuzzy_token_threshold > 0.0 {
        let fuzzy = fuzzy::match_tokens(&p, &s, config.fuzzy_token_threshold);
        (fuzzy.matches, fuzzy.anomalies, fuzzy.unmatched)
    } else {
        (extraction.matches, Vec::new(), extraction.flat_extras.len())
    };
    let (past_end, present_end) = split_events(
        pattern,
        extraction.past_len,
        extraction.present_len,
        matches.first().copied(),
    );
    let present = &pattern[past_end..present_end];
    // Event-aligned lists by plain string membership, as the reference recomputes them; fuzzily
    // matched symbols therefore show up in both (spec 9, item 6).
    let missing = present
        .iter()
        .map(|event| {
            event
                .iter()
                .filter(|symbol| !matches.contains(&symbol.as_str()))
                .cloned()
                .collect()
        })
        .collect();
    let extras = stm
        .iter()
        .map(|event| {
            event
                .iter()
                .filter(|symbol| !present.iter().flatten().any(|kept| kept == *symbol))
                .cloned()
                .collect()
        })
        .collect();
    let m = matches.len();
    let present_symbols = present.iter().map(Vec::len).sum();
    Some(PatternMatch {
        similarity,
        evidence: fraction(m, p.len()),
        confidence: fraction(m, present_symbols),
        // From the flat extras, not the event-aligned ones (spec 8, example 11).
        snr: signal_to_noise(m, flat_extras),
        fragmentation: extraction.blocks as f64 - 1.0,
        matches: matches.into_iter().map(str::to_owned).collect(),
        anomalies,
        past: pattern[..past_end].to_vec(),
        present: present.to_vec(),
        future: pattern[present_end..].to_vec(),
        missing,
        extras,
    })
}

/// The single-symbol path for one candidate: `None` unless the pattern's first symbol is `symbol`.
pub fn match_single_symbol(pattern: &[Vec<String>], symbol: &str) -> Option<SingleSymbolMatch> {
    if pattern.first()?.first()? != symbol {
        return None;
    }
    let p = flatten(pattern);
    let s = [symbol];
    // The reference runs the exact extraction with cutoff 0; the first symbol always matches.
    let extraction = extract(&p, &s, 0.0)?;
    let m = extraction.matches.len();
    let present_end = extraction.past_len + extraction.present_len;
    let present = &p[extraction.past_len..present_end];
    let fragmentation = extraction.blocks as i64 - 1;
    let evidence = fraction(m, p.len());
    let confidence = fraction(m, present.len());
    let snr = fraction(m, m + extraction.flat_extras.len());
    let coherence = if fragmentation == -1 {
        0.0
    } else {
        1.0 / (fragmentation + 1) as f64
    };
    let owned = |symbols: &[&str]| symbols.iter().map(|symbol| (*symbol).to_owned()).collect();
    Some(SingleSymbolMatch {
        // difflib's ratio `2 * M / (|P| + |S|)`: `2 / (L + 1)`, with no percentage round trip.
        similarity: 2.0 * m as f64 / (p.len() + s.len()) as f64,
        evidence,
        confidence,
        snr,
        fragmentation,
        potential: (evidence + confidence) * snr + coherence,
        matches: owned(&extraction.matches),
        past: owned(&p[..extraction.past_len]),
        present: owned(present),
        future: owned(&p[present_end..]),
        missing: owned(&extraction.flat_missing),
        extras: owned(&extraction.flat_extras),
    })
}

/// The score RapidFuzz's `process` functions keep at or above: `threshold * 100 - 1e-6` (a Python
/// comparison for the token scorer; the native character scorer sees it rounded to single
/// precision, [`native_cutoff`]).
fn rapidfuzz_cutoff(threshold: f64) -> f64 {
    threshold * 100.0 - 1e-6
}

/// The similarity of a candidate scoring `score` (a percentage) when it passes both recall checks
/// of the reference: RapidFuzz's cutoff, then the similarity against the threshold once more.
fn recalled(score: f64, cutoff: f64, threshold: f64) -> Option<f64> {
    let similarity = score / 100.0;
    (score >= cutoff && similarity >= threshold).then_some(similarity)
}

/// The symbols of `events` in order.
fn flatten(events: &[Vec<String>]) -> Vec<&str> {
    events.iter().flatten().map(String::as_str).collect()
}

/// `part / whole`, or 0 when `whole` is 0 (the reference's guard for evidence and confidence).
fn fraction(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `(2m - e) / (2m + e)`, or 0 when the denominator is 0.
fn signal_to_noise(matches: usize, extras: usize) -> f64 {
    let (signal, noise) = (2 * matches, extras);
    if signal + noise == 0 {
        0.0
    } else {
        (signal as f64 - noise as f64) / (signal + noise) as f64
    }
}
