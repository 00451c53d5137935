//! Fuzzy token mode (spec 3.4): each state token is matched to its most similar pattern token with
//! RapidFuzz's `process.extractOne(token, P, scorer=fuzz.ratio, score_cutoff=threshold * 100)`.

use super::Anomaly;
use super::similarity::indel_normalized_similarity;

/// What fuzzy matching makes of the state.
#[derive(Debug)]
pub(super) struct FuzzyOutcome<'s> {
    /// Every state token that found a pattern token, in state order.
    pub(super) matches: Vec<&'s str>,
    /// The matched state tokens spelled differently from their pattern token.
    pub(super) anomalies: Vec<Anomaly>,
    /// The state tokens that found none (the flat extras).
    pub(super) unmatched: usize,
}

/// Matches every token of `state` against the tokens of `pattern`.
pub(super) fn match_tokens<'s>(
    pattern: &[&str],
    state: &[&'s str],
    threshold: f64,
) -> FuzzyOutcome<'s> {
    let choices: Vec<Vec<char>> = pattern
        .iter()
        .map(|token| token.chars().collect())
        .collect();
    let mut outcome = FuzzyOutcome {
        matches: Vec::new(),
        anomalies: Vec::new(),
        unmatched: 0,
    };
    for &observed in state {
        let query: Vec<char> = observed.chars().collect();
        match extract_one(&query, &choices, threshold * 100.0) {
            Some((index, score)) => {
                outcome.matches.push(observed);
                let expected = pattern[index];
                if observed != expected {
                    outcome.anomalies.push(Anomaly {
                        observed: observed.to_owned(),
                        expected: expected.to_owned(),
                        similarity: score / 100.0,
                    });
                }
            }
            None => outcome.unmatched += 1,
        }
    }
    outcome
}

/// `process.extractOne(query, choices, scorer=fuzz.ratio, score_cutoff=score_cutoff)`: the index
/// and score of the first choice with the highest score at or above the cutoff.
///
/// RapidFuzz raises the cutoff to the best score so far and keeps a later choice only when it
/// scores strictly higher, so ties go to the first; the native scorer returns 0 whenever its
/// normalized similarity is below `cutoff / 100`. Both comparisons are reproduced, in the same
/// units, because they can differ in the last bit.
fn extract_one(query: &[char], choices: &[Vec<char>], score_cutoff: f64) -> Option<(usize, f64)> {
    const OPTIMAL_SCORE: f64 = 100.0;
    let mut cutoff = score_cutoff;
    let mut best: Option<(usize, f64)> = None;
    for (index, choice) in choices.iter().enumerate() {
        // `fuzz.ratio` is this times 100.
        let normalized = indel_normalized_similarity(query, choice);
        let score = if normalized >= cutoff / 100.0 {
            normalized * 100.0
        } else {
            0.0
        };
        if score >= cutoff && best.is_none_or(|(_, best_score)| score > best_score) {
            cutoff = score;
            best = Some((index, score));
        }
        if score == OPTIMAL_SCORE {
            break;
        }
    }
    best
}
