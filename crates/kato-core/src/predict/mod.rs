//! Predictions over matched candidates (spec `predictions.md` sections 3.6, 4, 5 and 6): every
//! metric, the 3 x max_predictions pruning, ranking with deterministic ties, the prediction
//! objects with the reference's field names, and `future_potentials`.
//!
//! Deliberate differences from the reference (DESIGN.md section 8): every ordering among equal
//! keys, the pruning included, is decided by (key desc, similarity desc, name asc);
//! `future_potentials` belongs to the request; `rank_sort_algo` is honoured. A `None`
//! `weighted_*` ranking key sorts after every number (the reference answers HTTP 500).

mod full;
mod metrics;
mod ranking;
mod single;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::matching::{Anomaly, MatchConfig, MatchScores, PatternMatch, match_pattern};

/// A learned pattern offered to [`predict`], with what Redis knows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Bare 40-hex name.
    pub name: String,
    /// The pattern's events as stored.
    pub events: Vec<Vec<String>>,
    /// Times learned; 0 (lost in Redis) is read as 1, as the reference does.
    pub frequency: u64,
    /// The stored emotive window, oldest first.
    pub emotives: Vec<BTreeMap<String, f64>>,
}

/// The kb-wide statistics the metrics read (Redis values in the reference).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KbStatistics {
    /// `U`: `global:total_unique_patterns`.
    pub total_unique_patterns: u64,
    /// `T_pf`: `global:total_pattern_frequencies`.
    pub total_pattern_frequencies: u64,
    /// `N_sym`: the number of distinct symbols in the kb (`symbols:freq` fields).
    pub distinct_symbols: u64,
    /// `symbols:pmf`: patterns containing each symbol. Must cover every symbol of the candidates
    /// and the STM; an absent symbol reads as 0.
    pub pattern_member_counts: HashMap<String, u64>,
    /// `symbols:freq`, read only when `affinity_emotive` is set; must then cover the STM symbols.
    pub symbol_frequencies: HashMap<String, u64>,
    /// `affinity:<symbol>` hashes, read only when `affinity_emotive` is set; must then cover the
    /// STM symbols.
    pub affinities: HashMap<String, BTreeMap<String, f64>>,
}

/// The keys predictions can be ranked by (the reference's `rank_sort_algo` list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RankSortAlgo {
    /// `potential` (the default).
    #[default]
    Potential,
    /// `similarity`.
    Similarity,
    /// `evidence`.
    Evidence,
    /// `confidence`.
    Confidence,
    /// `snr`.
    Snr,
    /// `fragmentation`.
    Fragmentation,
    /// `frequency`.
    Frequency,
    /// `normalized_entropy`.
    NormalizedEntropy,
    /// `global_normalized_entropy`.
    GlobalNormalizedEntropy,
    /// `itfdf_similarity`.
    ItfdfSimilarity,
    /// `confluence`.
    Confluence,
    /// `predictive_information`.
    PredictiveInformation,
    /// `bayesian_posterior`.
    BayesianPosterior,
    /// `bayesian_prior`.
    BayesianPrior,
    /// `bayesian_likelihood`.
    BayesianLikelihood,
    /// `tfidf_score`.
    TfidfScore,
    /// `weighted_similarity`.
    WeightedSimilarity,
    /// `weighted_evidence`.
    WeightedEvidence,
    /// `weighted_confidence`.
    WeightedConfidence,
    /// `weighted_snr`.
    WeightedSnr,
}

impl RankSortAlgo {
    /// Every key, in the reference's validator order.
    pub const ALL: [Self; 20] = [
        Self::Potential,
        Self::Similarity,
        Self::Evidence,
        Self::Confidence,
        Self::Snr,
        Self::Fragmentation,
        Self::Frequency,
        Self::NormalizedEntropy,
        Self::GlobalNormalizedEntropy,
        Self::ItfdfSimilarity,
        Self::Confluence,
        Self::PredictiveInformation,
        Self::BayesianPosterior,
        Self::BayesianPrior,
        Self::BayesianLikelihood,
        Self::TfidfScore,
        Self::WeightedSimilarity,
        Self::WeightedEvidence,
        Self::WeightedConfidence,
        Self::WeightedSnr,
    ];

    /// The reference's name of the key (also the prediction field it reads).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Potential => "potential",
            Self::Similarity => "similarity",
            Self::Evidence => "evidence",
            Self::Confidence => "confidence",
            Self::Snr => "snr",
            Self::Fragmentation => "fragmentation",
            Self::Frequency => "frequency",
            Self::NormalizedEntropy => "normalized_entropy",
            Self::GlobalNormalizedEntropy => "global_normalized_entropy",
            Self::ItfdfSimilarity => "itfdf_similarity",
            Self::Confluence => "confluence",
            Self::PredictiveInformation => "predictive_information",
            Self::BayesianPosterior => "bayesian_posterior",
            Self::BayesianPrior => "bayesian_prior",
            Self::BayesianLikelihood => "bayesian_likelihood",
            Self::TfidfScore => "tfidf_score",
            Self::WeightedSimilarity => "weighted_similarity",
            Self::WeightedEvidence => "weighted_evidence",
            Self::WeightedConfidence => "weighted_confidence",
            Self::WeightedSnr => "weighted_snr",
        }
    }
}

impl fmt::Display for RankSortAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RankSortAlgo {
    type Err = UnknownRankSortAlgo;

    /// Accepts exactly the reference's names (case-sensitive, no surrounding space).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algo| algo.as_str() == text)
            .ok_or_else(|| UnknownRankSortAlgo {
                input: text.chars().take(100).collect(),
            })
    }
}

/// A `rank_sort_algo` name that is not one of [`RankSortAlgo::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRankSortAlgo {
    /// The rejected text, cut to its first 100 characters.
    pub input: String,
}

impl fmt::Display for UnknownRankSortAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown rank_sort_algo {:?}: expected one of ",
            self.input
        )?;
        for (index, algo) in RankSortAlgo::ALL.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(algo.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownRankSortAlgo {}

/// Everything a prediction request decides.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictConfig {
    /// Threshold, token/character mode, fuzzy threshold.
    pub matching: MatchConfig,
    /// 1..=10000; also sets the 3x pruning bound.
    pub max_predictions: usize,
    /// The ranking key (descending; ties by similarity desc, then name asc).
    pub rank_sort_algo: RankSortAlgo,
    /// Enables the affinity-weighted metrics.
    pub affinity_emotive: Option<String>,
}

/// One group of predictions sharing a future (spec 4 step F).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FuturePotential {
    /// The shared future events.
    pub future: Vec<Vec<String>>,
    /// The group's share of the total weighted frequency.
    pub aggregate_potential: f64,
    /// Predictions in the group.
    pub supporting_patterns: u64,
    /// `sum(frequency * similarity)` over the group.
    pub total_weighted_frequency: f64,
}

/// A multi-symbol prediction, fields in the reference's order (spec 6).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FullPrediction {
    /// Always `"prototypical"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bare 40-hex name.
    pub name: String,
    /// Times learned.
    pub frequency: u64,
    /// Key-wise mean of the stored emotive window.
    pub emotives: BTreeMap<String, f64>,
    /// See [`crate::matching::PatternMatch`].
    pub matches: Vec<String>,
    /// Pattern events before the present.
    pub past: Vec<Vec<String>>,
    /// Matched region.
    pub present: Vec<Vec<String>>,
    /// Per present event.
    pub missing: Vec<Vec<String>>,
    /// Per STM event.
    pub extras: Vec<Vec<String>>,
    /// Fuzzy mode only.
    pub anomalies: Vec<Anomaly>,
    /// Step H.
    pub potential: f64,
    /// `m / length`.
    pub evidence: f64,
    /// The recall gate's similarity.
    pub similarity: f64,
    /// `blocks - 1`, a float.
    pub fragmentation: f64,
    /// Signal to noise.
    pub snr: f64,
    /// Step E.
    pub confluence: f64,
    /// Step F.
    pub predictive_information: f64,
    /// The whole pattern.
    pub sequence: Vec<Vec<String>>,
    /// Pattern events after the present.
    pub future: Vec<Vec<String>>,
    /// `m / present symbols`.
    pub confidence: f64,
    /// Null unless affinity weighting.
    pub weighted_similarity: Option<f64>,
    /// Null unless affinity weighting.
    pub weighted_evidence: Option<f64>,
    /// Null unless affinity weighting.
    pub weighted_confidence: Option<f64>,
    /// Null unless affinity weighting.
    pub weighted_snr: Option<f64>,
    /// Step E.
    pub entropy: f64,
    /// Step E.
    pub normalized_entropy: f64,
    /// Step E.
    pub global_normalized_entropy: f64,
    /// Step E.
    pub itfdf_similarity: f64,
    /// Step E.
    pub tfidf_score: f64,
    /// Step F.
    pub pattern_probability: f64,
    /// Step F.
    pub weighted_strength: f64,
    /// Step G.
    pub bayesian_posterior: f64,
    /// Step G.
    pub bayesian_prior: f64,
    /// Step G.
    pub bayesian_likelihood: f64,
    /// Present only when the 3 x max_predictions pruning ran.
    #[serde(rename = "_pre_potential", skip_serializing_if = "Option::is_none")]
    pub pre_potential: Option<f64>,
}

/// A single-symbol-path prediction (spec 3.6): flat lists, its own field set.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SingleSymbolPrediction {
    /// Bare 40-hex name.
    pub name: String,
    /// The pattern's events.
    pub pattern_data: Vec<Vec<String>>,
    /// Symbols in the pattern.
    pub length: u64,
    /// Times learned.
    pub frequency: u64,
    /// Key-wise mean of the stored emotive window.
    pub emotives: BTreeMap<String, f64>,
    /// `[symbol]`.
    pub matches: Vec<String>,
    /// Flat.
    pub missing: Vec<String>,
    /// Flat.
    pub present: Vec<String>,
    /// Flat.
    pub past: Vec<String>,
    /// Flat.
    pub future: Vec<String>,
    /// Flat.
    pub extras: Vec<String>,
    /// `2/(L+1)` in token mode.
    pub similarity: f64,
    /// `1/L`.
    pub evidence: f64,
    /// 1.
    pub confidence: f64,
    /// `m/(m+e)`.
    pub snr: f64,
    /// An integer here.
    pub fragmentation: i64,
    /// Always empty.
    pub anomalies: Vec<Anomaly>,
    /// Null (no affinity on this path).
    pub weighted_similarity: Option<f64>,
    /// Null.
    pub weighted_evidence: Option<f64>,
    /// Null.
    pub weighted_confidence: Option<f64>,
    /// Null.
    pub weighted_snr: Option<f64>,
    /// Its own formula, no itfdf term.
    pub potential: f64,
}

/// A prediction of either path; serialises as the bare object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Prediction {
    /// The multi-symbol path.
    Full(FullPrediction),
    /// The single-symbol path.
    SingleSymbol(SingleSymbolPrediction),
}

/// What a prediction request returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Predictions {
    /// Ranked, at most `max_predictions`.
    pub predictions: Vec<Prediction>,
    /// Computed for this request only (DESIGN.md section 8); empty on the single-symbol path.
    pub future_potentials: Vec<FuturePotential>,
}

/// Predicts from `stm` over `candidates` (already retrieved; the order does not matter, the
/// result is the same for any order as long as names are unique). An STM of one symbol takes the
/// single-symbol path; an empty STM predicts nothing.
pub fn predict(
    stm: &[Vec<String>],
    candidates: Vec<Candidate>,
    statistics: &KbStatistics,
    config: &PredictConfig,
) -> Predictions {
    let state: Vec<&str> = stm.iter().flatten().map(String::as_str).collect();
    match state.as_slice() {
        [] => Predictions::default(),
        [symbol] => single::predict_single_symbol(symbol, candidates, config.max_predictions),
        _ => {
            let matched = candidates
                .into_iter()
                .filter_map(|candidate| {
                    match_pattern(&candidate.events, stm, &config.matching)
                        .map(|found| (candidate, found))
                })
                .collect();
            full::predict_full(stm, matched, statistics, config)
        }
    }
}

/// [`predict`] on the multi-symbol path for candidates the caller already matched with
/// [`match_pattern`] and `config.matching` (only the ones it returned `Some` for), so a caller
/// that matched them to choose them does not match them again. `stm` must hold at least two
/// symbols; with fewer this is [`predict`] over the candidates.
pub fn predict_matched(
    stm: &[Vec<String>],
    matched: Vec<(Candidate, PatternMatch)>,
    statistics: &KbStatistics,
    config: &PredictConfig,
) -> Predictions {
    if stm.iter().map(Vec::len).sum::<usize>() < 2 {
        let candidates = matched
            .into_iter()
            .map(|(candidate, _)| candidate)
            .collect();
        return predict(stm, candidates, statistics, config);
    }
    full::predict_full(stm, matched, statistics, config)
}

/// Key-wise mean over emotive maps: each key averaged over the maps that contain it (the
/// reference's `average_emotives`, also its affinity and percept averaging).
pub fn keywise_means(maps: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for map in maps {
        for (key, value) in map {
            let (sum, count) = sums.entry(key.as_str()).or_insert((0.0, 0));
            *sum += value;
            *count += 1;
        }
    }
    sums.into_iter()
        .map(|(key, (sum, count))| (key.to_owned(), sum / count as f64))
        .collect()
}

/// `_pre_potential` of one matched pattern (spec 4 step C) from its scores
/// ([`PatternMatch::scores`] or [`TokenMatcher::scores`](crate::matching::TokenMatcher::scores)):
/// what the 3 x `max_predictions` pruning ranks by.
pub fn pre_potential_of(scores: MatchScores) -> f64 {
    metrics::pre_potential(
        scores.evidence,
        scores.confidence,
        scores.snr,
        scores.fragmentation,
    )
}

/// An upper bound of [`pre_potential_of`] for a pattern of `pattern_length` symbols that
/// shares `overlap = sum_s min(count_P(s), count_S(s))` symbols with an STM of `stm_length`
/// symbols, valid in exact token mode (not fuzzy: fuzzy matches may exceed the overlap).
///
/// Why it holds: the `m` matched symbols lie in difflib blocks of equal tokens, so
/// `1 <= m <= overlap` for a candidate with a block, and the flat extras are exactly
/// `stm_length - m` (see [`TokenMatcher`](crate::matching::TokenMatcher)), so snr is a function
/// of `m`. For each `m`: evidence is `m / length`; with snr >= 0, confidence and the
/// fragmentation term are at most 1; with snr < 0 the product is largest when confidence is
/// smallest, at least `m / length` (the present is at most the whole pattern), and the
/// fragmentation term is still at most 1. The bound is the largest of these over `m`. A caller
/// that scores candidates in decreasing bound order can stop once its pruning set is full and
/// the worst kept value exceeds the next bound: the rest cannot enter the set.
pub fn pre_potential_upper_bound(overlap: u32, pattern_length: u32, stm_length: u32) -> f64 {
    let length = f64::from(pattern_length);
    (1..=overlap.min(pattern_length).min(stm_length))
        .map(|m| {
            let evidence = f64::from(m) / length;
            let extras = f64::from(stm_length - m);
            let snr = (2.0 * f64::from(m) - extras) / (2.0 * f64::from(m) + extras);
            if snr >= 0.0 {
                (evidence + 1.0) * snr + 1.0
            } else {
                2.0 * evidence * snr + 1.0
            }
        })
        // No possible block: the candidate is dropped (threshold > 0) or scores 0.
        .fold(0.0, f64::max)
}

/// The order of the 3 x `max_predictions` pruning (spec 4 step C with DESIGN.md's ties) over
/// (pre-potential, similarity, name): pre-potential descending, then similarity descending,
/// then name ascending. A caller that hands [`predict_matched`] only the first
/// `3 * max_predictions + 1` candidates in this order gets the same predictions as handing it
/// all of them.
pub fn pruning_order(a: (f64, f64, &str), b: (f64, f64, &str)) -> std::cmp::Ordering {
    ranking::descending(a.0, b.0).then_with(|| ranking::tie_break(a.1, a.2, b.1, b.2))
}
