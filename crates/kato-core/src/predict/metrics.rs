//! The per-prediction formulas of spec 4 (steps B, E and H), each in the reference's arithmetic
//! order so the floats come out the same.

use std::collections::BTreeMap;

use crate::fast_hash::FastMap;

use super::KbStatistics;

/// `Pr(s) = pmf(s) / U` for the symbols of the probability cache (spec 4 step D); a symbol
/// outside the cache is absent, which is not the same as 0 for `tfidf_score`.
pub(super) type Probabilities<'a> = FastMap<&'a str, f64>;

/// The floor `confluence` puts under a zero probability before taking its log.
const CONFLUENCE_FLOOR: f64 = 1e-10;

/// The weight every known symbol gets on top of its affinity, and all an unknown one gets.
const AFFINITY_FLOOR: f64 = 0.01;

/// The distinct symbols of `symbols` with their counts, in first-occurrence order (the order a
/// Python `Counter` iterates in).
pub(super) fn counts<'a>(symbols: &[&'a str]) -> Vec<(&'a str, usize)> {
    let mut index: FastMap<&str, usize> = FastMap::default();
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for &symbol in symbols {
        match index.get(symbol) {
            Some(&at) => counted[at].1 += 1,
            None => {
                index.insert(symbol, counted.len());
                counted.push((symbol, 1));
            }
        }
    }
    counted
}

/// `-sum`, with an empty or zero sum giving 0.0 rather than -0.0.
fn negated(sum: f64) -> f64 {
    0.0 - sum
}

/// Shannon entropy in bits of the symbol distribution of a list of `len` symbols.
pub(super) fn entropy(counts: &[(&str, usize)], len: usize) -> f64 {
    negated(
        counts
            .iter()
            .map(|&(_, count)| {
                let q = count as f64 / len as f64;
                q * q.log2()
            })
            .sum(),
    )
}

/// `log_base(x)` as Python's `math.log(x, base)` computes it.
fn log_base(x: f64, base: f64) -> f64 {
    x.ln() / base.ln()
}

/// Entropy with logarithms in base `N_sym`; 0 when `N_sym <= 1`.
pub(super) fn normalized_entropy(counts: &[(&str, usize)], len: usize, distinct: u64) -> f64 {
    if distinct <= 1 {
        return 0.0;
    }
    negated(
        counts
            .iter()
            .map(|&(_, count)| {
                let q = count as f64 / len as f64;
                q * log_base(q, distinct as f64)
            })
            .sum(),
    )
}

/// `-sum Pr(s) log_N Pr(s)` over the distinct symbols with `Pr > 0`; 0 when `N_sym <= 1`.
pub(super) fn global_normalized_entropy(
    counts: &[(&str, usize)],
    probabilities: &Probabilities<'_>,
    distinct: u64,
) -> f64 {
    if distinct <= 1 {
        return 0.0;
    }
    negated(
        counts
            .iter()
            .filter_map(|&(symbol, _)| probabilities.get(symbol).copied())
            .filter(|&probability| probability > 0.0)
            .map(|probability| probability * log_base(probability, distinct as f64))
            .sum(),
    )
}

/// The mean over the distinct symbols of `tf * (log2(U / n_s) + 1)`, with `n_s` the symbol's
/// pattern count recovered from the cache (1 at least, and 1 outside the cache).
pub(super) fn tfidf_score(
    counts: &[(&str, usize)],
    len: usize,
    probabilities: &Probabilities<'_>,
    unique_patterns: u64,
) -> f64 {
    if unique_patterns == 0 || counts.is_empty() {
        return 0.0;
    }
    let total = unique_patterns as f64;
    let sum: f64 = counts
        .iter()
        .map(|&(symbol, count)| {
            let tf = count as f64 / len as f64;
            // The reference recovers n_s from the rounded probability, not from pmf itself.
            let patterns = probabilities
                .get(symbol)
                .map_or(1.0, |probability| (probability * total).floor().max(1.0));
            tf * ((total / patterns).log2() + 1.0)
        })
        .sum();
    sum / counts.len() as f64
}

/// `f/T_pf * (1 - prod Pr'(s))` over the present symbols, repeats included; the product is
/// `10^(sum log10)` with zeros floored at 1e-10, as in the reference.
pub(super) fn confluence(
    present: &[&str],
    probabilities: &Probabilities<'_>,
    frequency: u64,
    total_pattern_frequencies: u64,
) -> f64 {
    if present.is_empty() || total_pattern_frequencies == 0 {
        return 0.0;
    }
    let log_product: f64 = present
        .iter()
        .map(|symbol| {
            let probability = probabilities.get(symbol).copied().unwrap_or(0.0);
            if probability > 0.0 {
                probability.log10()
            } else {
                CONFLUENCE_FLOOR.log10()
            }
        })
        .sum();
    frequency as f64 / total_pattern_frequencies as f64 * (1.0 - 10f64.powf(log_product))
}

/// The itfdf state vector: `Pr(s) * count_S(s)` per distinct state symbol, and its norm summed in
/// the vocabulary's (sorted) order.
#[derive(Debug)]
pub(super) struct StateVector<'a> {
    values: FastMap<&'a str, f64>,
    norm: f64,
}

impl<'a> StateVector<'a> {
    /// The vector of the flattened STM.
    pub(super) fn new(state: &[&'a str], probabilities: &Probabilities<'_>) -> Self {
        let mut sorted: BTreeMap<&str, usize> = BTreeMap::new();
        for &symbol in state {
            *sorted.entry(symbol).or_default() += 1;
        }
        let values: Vec<(&str, f64)> = sorted
            .into_iter()
            .map(|(symbol, count)| {
                let probability = probabilities.get(symbol).copied().unwrap_or(0.0);
                (symbol, probability * count as f64)
            })
            .collect();
        let norm = values
            .iter()
            .map(|(_, value)| value * value)
            .sum::<f64>()
            .sqrt();
        Self {
            values: values.into_iter().collect(),
            norm,
        }
    }

    /// `1 - cos(v_S, v_p)` for the present symbols of one prediction; 1 when either vector is 0.
    /// Summing over the prediction's own symbols in sorted order gives the same floats as summing
    /// over the whole sorted vocabulary: the skipped terms are exact zeros.
    pub(super) fn distance(&self, present: &[&str], probabilities: &Probabilities<'_>) -> f64 {
        if self.norm == 0.0 {
            return 1.0;
        }
        let mut sorted: BTreeMap<&str, usize> = BTreeMap::new();
        for &symbol in present {
            *sorted.entry(symbol).or_default() += 1;
        }
        let mut dot = 0.0;
        let mut squares = 0.0;
        for (symbol, count) in sorted {
            let value = probabilities.get(symbol).copied().unwrap_or(0.0) * count as f64;
            dot += self.values.get(symbol).copied().unwrap_or(0.0) * value;
            squares += value * value;
        }
        let norm = f64::sqrt(squares);
        let cosine = if norm == 0.0 {
            0.0
        } else {
            dot / (self.norm * norm)
        };
        1.0 - cosine
    }
}

/// `1/(frag+1)`, or 0 with no block (`frag == -1`).
fn fragmentation_term(fragmentation: f64) -> f64 {
    if fragmentation == -1.0 {
        0.0
    } else {
        1.0 / (fragmentation + 1.0)
    }
}

/// `_pre_potential`: step H's potential without the itfdf term (spec 4 step C).
pub(super) fn pre_potential(evidence: f64, confidence: f64, snr: f64, fragmentation: f64) -> f64 {
    (evidence + confidence) * snr + fragmentation_term(fragmentation)
}

/// Step H's potential.
pub(super) fn potential(
    evidence: f64,
    confidence: f64,
    snr: f64,
    itfdf_similarity: f64,
    fragmentation: f64,
) -> f64 {
    (evidence + confidence) * snr + itfdf_similarity + fragmentation_term(fragmentation)
}

/// Affinity weights of the distinct state symbols for one emotive (spec 4 step B); every other
/// symbol weighs 0, as in the reference's `weights.get(t, 0.0)`.
#[derive(Debug)]
pub(super) struct AffinityWeights<'a> {
    weights: FastMap<&'a str, f64>,
    /// The state's summed weight, the same for every prediction.
    state_sum: f64,
}

/// The four affinity-weighted metrics of one prediction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Weighted {
    pub(super) similarity: Option<f64>,
    pub(super) evidence: f64,
    pub(super) confidence: f64,
    pub(super) snr: f64,
}

/// `numerator / denominator`, or 0 when the denominator is 0.
fn ratio_or_zero(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

impl<'a> AffinityWeights<'a> {
    /// `|aff_t[e]| / freq_t + 0.01` for each state symbol with a known frequency and a non-zero
    /// affinity, 0.01 for the other state symbols.
    pub(super) fn new(state: &[&'a str], emotive: &str, statistics: &KbStatistics) -> Self {
        let weights = state
            .iter()
            .map(|&symbol| {
                let frequency = statistics
                    .symbol_frequencies
                    .get(symbol)
                    .copied()
                    .unwrap_or(0);
                let affinity = statistics
                    .affinities
                    .get(symbol)
                    .and_then(|sums| sums.get(emotive))
                    .map_or(0.0, |sum| sum.abs());
                let weight = if frequency > 0 && affinity > 0.0 {
                    affinity / frequency as f64 + AFFINITY_FLOOR
                } else {
                    AFFINITY_FLOOR
                };
                (symbol, weight)
            })
            .collect();
        let mut affinity = Self {
            weights,
            state_sum: 0.0,
        };
        affinity.state_sum = affinity.sum(state.iter().copied());
        affinity
    }

    /// The summed weights of `symbols`, repeats included.
    fn sum<'s>(&self, symbols: impl IntoIterator<Item = &'s str>) -> f64 {
        symbols
            .into_iter()
            .map(|symbol| self.weights.get(symbol).copied().unwrap_or(0.0))
            .sum()
    }

    /// The weighted metrics of one prediction: `similarity` is `None` when its denominator is 0,
    /// the others are 0 then.
    pub(super) fn weigh(
        &self,
        matches: &[String],
        pattern: &[Vec<String>],
        present: &[Vec<String>],
        extras: &[Vec<String>],
    ) -> Weighted {
        let matched = self.sum(matches.iter().map(String::as_str));
        let pattern = self.sum(pattern.iter().flatten().map(String::as_str));
        let present = self.sum(present.iter().flatten().map(String::as_str));
        let extras = self.sum(extras.iter().flatten().map(String::as_str));
        let both = self.state_sum + pattern;
        Weighted {
            similarity: (both != 0.0).then(|| 2.0 * matched / both),
            evidence: ratio_or_zero(matched, pattern),
            confidence: ratio_or_zero(matched, present),
            snr: ratio_or_zero(matched, matched + extras),
        }
    }
}
