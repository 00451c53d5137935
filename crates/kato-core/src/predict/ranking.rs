//! Orderings with the deterministic tie rule of DESIGN.md section 8: key descending, then
//! similarity descending, then name ascending.

use std::cmp::Ordering;

use super::{FullPrediction, RankSortAlgo};

/// Larger first. `-0.0` and `0.0` compare equal, as in Python; a NaN (never produced from valid
/// statistics) still gets a fixed place, so the sort stays total.
pub(super) fn descending(a: f64, b: f64) -> Ordering {
    // Adding 0.0 turns -0.0 into 0.0 and leaves every other value alone.
    (b + 0.0).total_cmp(&(a + 0.0))
}

/// Larger first, and `None` after every number.
fn optional_descending(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => descending(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The tie rule after the key: similarity descending, then name ascending.
pub(super) fn tie_break(
    similarity_a: f64,
    name_a: &str,
    similarity_b: f64,
    name_b: &str,
) -> Ordering {
    descending(similarity_a, similarity_b).then_with(|| name_a.cmp(name_b))
}

impl RankSortAlgo {
    /// The field of `prediction` this key reads; `None` only for an unset `weighted_*` field.
    pub(super) fn key(self, prediction: &FullPrediction) -> Option<f64> {
        let value = match self {
            Self::Potential => prediction.potential,
            Self::Similarity => prediction.similarity,
            Self::Evidence => prediction.evidence,
            Self::Confidence => prediction.confidence,
            Self::Snr => prediction.snr,
            Self::Fragmentation => prediction.fragmentation,
            Self::Frequency => prediction.frequency as f64,
            Self::NormalizedEntropy => prediction.normalized_entropy,
            Self::GlobalNormalizedEntropy => prediction.global_normalized_entropy,
            Self::ItfdfSimilarity => prediction.itfdf_similarity,
            Self::Confluence => prediction.confluence,
            Self::PredictiveInformation => prediction.predictive_information,
            Self::BayesianPosterior => prediction.bayesian_posterior,
            Self::BayesianPrior => prediction.bayesian_prior,
            Self::BayesianLikelihood => prediction.bayesian_likelihood,
            Self::TfidfScore => prediction.tfidf_score,
            Self::WeightedSimilarity => return prediction.weighted_similarity,
            Self::WeightedEvidence => return prediction.weighted_evidence,
            Self::WeightedConfidence => return prediction.weighted_confidence,
            Self::WeightedSnr => return prediction.weighted_snr,
        };
        Some(value)
    }
}

/// Sorts by `algo` with the tie rule and keeps the first `max_predictions` (spec 5).
pub(super) fn rank(
    predictions: &mut Vec<FullPrediction>,
    algo: RankSortAlgo,
    max_predictions: usize,
) {
    predictions.sort_by(|a, b| {
        optional_descending(algo.key(a), algo.key(b))
            .then_with(|| tie_break(a.similarity, &a.name, b.similarity, &b.name))
    });
    predictions.truncate(max_predictions);
}
