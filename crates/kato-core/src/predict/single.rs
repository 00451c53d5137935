//! The single-symbol path (spec 3.6): patterns whose first symbol is the observed one, flat
//! lists, its own potential, no kb-wide metric.

use super::keywise_means;
use super::ranking::{descending, tie_break};
use super::{Candidate, Predictions, SingleSymbolPrediction};
use crate::matching::{SingleSymbolMatch, match_single_symbol};

/// Predicts from the one observed `symbol`; `future_potentials` stays empty.
pub(super) fn predict_single_symbol(
    symbol: &str,
    candidates: Vec<Candidate>,
    max_predictions: usize,
) -> Predictions {
    let matched = candidates
        .into_iter()
        .filter_map(|candidate| {
            match_single_symbol(&candidate.events, symbol).map(|found| (candidate, found))
        })
        .collect();
    rank_single_symbol(matched, max_predictions)
}

/// Builds the predictions of matched candidates, sorted by potential with the tie rule and cut
/// to `max_predictions`.
pub(super) fn rank_single_symbol(
    matched: Vec<(Candidate, SingleSymbolMatch)>,
    max_predictions: usize,
) -> Predictions {
    let mut predictions: Vec<SingleSymbolPrediction> = matched
        .into_iter()
        .map(|(candidate, found)| SingleSymbolPrediction {
            length: candidate.events.iter().map(Vec::len).sum::<usize>() as u64,
            name: candidate.name,
            pattern_data: candidate.events,
            frequency: candidate.frequency.max(1),
            emotives: keywise_means(&candidate.emotives),
            matches: found.matches,
            missing: found.missing,
            present: found.present,
            past: found.past,
            future: found.future,
            extras: found.extras,
            similarity: found.similarity,
            evidence: found.evidence,
            confidence: found.confidence,
            snr: found.snr,
            fragmentation: found.fragmentation,
            anomalies: Vec::new(),
            weighted_similarity: None,
            weighted_evidence: None,
            weighted_confidence: None,
            weighted_snr: None,
            potential: found.potential,
        })
        .collect();
    predictions.sort_by(|a, b| {
        descending(a.potential, b.potential)
            .then_with(|| tie_break(a.similarity, &a.name, b.similarity, &b.name))
    });
    predictions.truncate(max_predictions);
    Predictions {
        predictions: predictions
            .into_iter()
            .map(super::Prediction::SingleSymbol)
            .collect(),
        future_potentials: Vec::new(),
    }
}
