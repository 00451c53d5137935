//! The multi-symbol path: spec 4 steps B to H over matched candidates, then the ranking of
//! spec 5.

use crate::fast_hash::FastMap;

use super::metrics::{
    AffinityWeights, Probabilities, StateVector, Weighted, confluence, counts, entropy,
    global_normalized_entropy, normalized_entropy, potential, pre_potential, tfidf_score,
};
use super::ranking::{descending, rank, tie_break};
use super::{
    Candidate, FullPrediction, FuturePotential, KbStatistics, PredictConfig, Prediction,
    Predictions, keywise_means,
};
use crate::matching::PatternMatch;

/// One matched candidate on its way through the steps.
#[derive(Debug)]
struct Entry {
    /// Its frequency already read as at least 1.
    candidate: Candidate,
    found: PatternMatch,
    pre_potential: f64,
    weighted: Option<Weighted>,
}

/// What steps E to G compute for one entry.
#[derive(Debug)]
struct Computed {
    itfdf_similarity: f64,
    confluence: f64,
    entropy: f64,
    normalized_entropy: f64,
    global_normalized_entropy: f64,
    tfidf_score: f64,
    pattern_probability: f64,
    weighted_strength: f64,
    predictive_information: f64,
    bayesian_prior: f64,
    bayesian_posterior: f64,
}

/// A group of entries sharing a future (step F).
#[derive(Debug)]
struct Group {
    /// The future of the first entry met.
    first: usize,
    total_weighted_frequency: f64,
    supporting_patterns: u64,
}

/// Predicts from `stm` over the candidates `match_pattern` kept.
pub(super) fn predict_full(
    stm: &[Vec<String>],
    matched: Vec<(Candidate, PatternMatch)>,
    statistics: &KbStatistics,
    config: &PredictConfig,
) -> Predictions {
    let state: Vec<&str> = stm.iter().flatten().map(String::as_str).collect();

    // Step B.
    let weights = config
        .affinity_emotive
        .as_deref()
        .map(|emotive| AffinityWeights::new(&state, emotive, statistics));
    let mut entries: Vec<Entry> = matched
        .into_iter()
        .map(|(mut candidate, found)| {
            candidate.frequency = candidate.frequency.max(1);
            Entry {
                pre_potential: pre_potential(
                    found.evidence,
                    found.confidence,
                    found.snr,
                    found.fragmentation,
                ),
                candidate,
                found,
                // Set after pruning: only the kept entries need it.
                weighted: None,
            }
        })
        .collect();

    // Step C. The sort also fixes the order every later step meets the entries in, so ties in
    // `future_potentials` and every float sum are the same for any candidate order.
    entries.sort_by(|a, b| {
        descending(a.pre_potential, b.pre_potential).then_with(|| {
            tie_break(
                a.found.similarity,
                &a.candidate.name,
                b.found.similarity,
                &b.candidate.name,
            )
        })
    });
    let bound = config.max_predictions.saturating_mul(3);
    let pruned = entries.len() > bound;
    entries.truncate(bound);
    if entries.is_empty() {
        return Predictions::default();
    }
    if let Some(weights) = &weights {
        for entry in &mut entries {
            entry.weighted = Some(weights.weigh(
                &entry.found.matches,
                &entry.candidate.events,
                &entry.found.present,
                &entry.found.extras,
            ));
        }
    }

    let (computed, future_potentials) = compute(&state, &entries, statistics);
    let mut predictions: Vec<FullPrediction> = entries
        .into_iter()
        .zip(computed)
        .map(|(entry, computed)| assemble(entry, computed, pruned))
        .collect();
    rank(
        &mut predictions,
        config.rank_sort_algo,
        config.max_predictions,
    );
    Predictions {
        predictions: predictions.into_iter().map(Prediction::Full).collect(),
        future_potentials,
    }
}

/// Steps D to G over the pruned set, in its order.
fn compute(
    state: &[&str],
    entries: &[Entry],
    statistics: &KbStatistics,
) -> (Vec<Computed>, Vec<FuturePotential>) {
    // Step D.
    let unique_patterns = statistics.total_unique_patterns;
    let frequency_total: u64 = entries.iter().map(|entry| entry.candidate.frequency).sum();
    let mut probabilities: Probabilities<'_> = Probabilities::default();
    for entry in entries {
        let symbols = entry
            .found
            .matches
            .iter()
            .chain(entry.found.missing.iter().flatten());
        for symbol in symbols {
            probabilities.entry(symbol.as_str()).or_insert_with(|| {
                let members = statistics
                    .pattern_member_counts
                    .get(symbol)
                    .copied()
                    .unwrap_or(0);
                if unique_patterns == 0 {
                    0.0
                } else {
                    members as f64 / unique_patterns as f64
                }
            });
        }
    }
    let state_vector = StateVector::new(state, &probabilities);

    // Step F's groups: an exact key on the sorted future events groups as the reference's SHA1
    // of their JSON does.
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of_key: FastMap<Vec<Vec<&str>>, usize> = FastMap::default();
    let mut group_of_entry: Vec<Option<usize>> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        if entry.found.future.is_empty() {
            group_of_entry.push(None);
            continue;
        }
        let key: Vec<Vec<&str>> = entry
            .found
            .future
            .iter()
            .map(|event| {
                let mut sorted: Vec<&str> = event.iter().map(String::as_str).collect();
                sorted.sort_unstable();
                sorted
            })
            .collect();
        let group = *group_of_key.entry(key).or_insert_with(|| {
            groups.push(Group {
                first: index,
                total_weighted_frequency: 0.0,
                supporting_patterns: 0,
            });
            groups.len() - 1
        });
        groups[group].total_weighted_frequency +=
            entry.candidate.frequency as f64 * entry.found.similarity;
        groups[group].supporting_patterns += 1;
        group_of_entry.push(Some(group));
    }
    let groups_total: f64 = groups
        .iter()
        .map(|group| group.total_weighted_frequency)
        .sum();
    let aggregate = |group: &Group| {
        if groups_total == 0.0 {
            0.0
        } else {
            group.total_weighted_frequency / groups_total
        }
    };

    // Step G's `Z = sum(sim * prior)`; the prior `f / sum(f)` is step F's pattern probability.
    let bayesian_total: f64 = entries
        .iter()
        .map(|entry| {
            entry.found.similarity * (entry.candidate.frequency as f64 / frequency_total as f64)
        })
        .sum();

    let computed = entries
        .iter()
        .zip(&group_of_entry)
        .map(|(entry, group)| {
            let frequency = entry.candidate.frequency;
            let present: Vec<&str> = entry
                .found
                .present
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let present_counts = counts(&present);
            let distance = state_vector.distance(&present, &probabilities);
            let pattern_probability = frequency as f64 / frequency_total as f64;
            let weighted_strength = entry.found.similarity * pattern_probability;
            let own_aggregate = group.map_or(0.0, |group| aggregate(&groups[group]));
            Computed {
                // F_ens >= 1 here: the set is not empty and every frequency is at least 1.
                itfdf_similarity: 1.0 - distance * frequency as f64 / frequency_total as f64,
                confluence: confluence(
                    &present,
                    &probabilities,
                    frequency,
                    statistics.total_pattern_frequencies,
                ),
                entropy: entropy(&present_counts, present.len()),
                normalized_entropy: normalized_entropy(
                    &present_counts,
                    present.len(),
                    statistics.distinct_symbols,
                ),
                global_normalized_entropy: global_normalized_entropy(
                    &present_counts,
                    &probabilities,
                    statistics.distinct_symbols,
                ),
                tfidf_score: tfidf_score(
                    &present_counts,
                    present.len(),
                    &probabilities,
                    unique_patterns,
                ),
                pattern_probability,
                weighted_strength,
                predictive_information: if own_aggregate == 0.0 {
                    0.0
                } else {
                    weighted_strength / own_aggregate
                },
                bayesian_prior: pattern_probability,
                // sim * prior is the weighted strength.
                bayesian_posterior: if bayesian_total == 0.0 {
                    0.0
                } else {
                    weighted_strength / bayesian_total
                },
            }
        })
        .collect();

    let mut future_potentials: Vec<FuturePotential> = groups
        .iter()
        .map(|group| FuturePotential {
            future: entries[group.first].found.future.clone(),
            aggregate_potential: aggregate(group),
            supporting_patterns: group.supporting_patterns,
            total_weighted_frequency: group.total_weighted_frequency,
        })
        .collect();
    // Stable: equal aggregates keep the order their futures were first met in.
    future_potentials.sort_by(|a, b| descending(a.aggregate_potential, b.aggregate_potential));
    (computed, future_potentials)
}

/// Step H, and the prediction object of one entry.
fn assemble(entry: Entry, computed: Computed, pruned: bool) -> FullPrediction {
    let Entry {
        candidate,
        found,
        pre_potential,
        weighted,
    } = entry;
    let (evidence, confidence, snr) = match weighted {
        Some(weighted) => (weighted.evidence, weighted.confidence, weighted.snr),
        None => (found.evidence, found.confidence, found.snr),
    };
    FullPrediction {
        kind: "prototypical",
        name: candidate.name,
        frequency: candidate.frequency,
        emotives: keywise_means(&candidate.emotives),
        matches: found.matches,
        past: found.past,
        present: found.present,
        missing: found.missing,
        extras: found.extras,
        anomalies: found.anomalies,
        potential: potential(
            evidence,
            confidence,
            snr,
            computed.itfdf_similarity,
            found.fragmentation,
        ),
        evidence: found.evidence,
        similarity: found.similarity,
        fragmentation: found.fragmentation,
        snr: found.snr,
        confluence: computed.confluence,
        predictive_information: computed.predictive_information,
        sequence: candidate.events,
        future: found.future,
        confidence: found.confidence,
        weighted_similarity: weighted.and_then(|weighted| weighted.similarity),
        weighted_evidence: weighted.map(|weighted| weighted.evidence),
        weighted_confidence: weighted.map(|weighted| weighted.confidence),
        weighted_snr: weighted.map(|weighted| weighted.snr),
        entropy: computed.entropy,
        normalized_entropy: computed.normalized_entropy,
        global_normalized_entropy: computed.global_normalized_entropy,
        itfdf_similarity: computed.itfdf_similarity,
        tfidf_score: computed.tfidf_score,
        pattern_probability: computed.pattern_probability,
        weighted_strength: computed.weighted_strength,
        bayesian_posterior: computed.bayesian_posterior,
        bayesian_prior: computed.bayesian_prior,
        bayesian_likelihood: found.similarity,
        pre_potential: pruned.then_some(pre_potential),
    }
}
