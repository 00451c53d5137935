//! Fuzzy token mode (spec 3.4): each state token is matched to its most similar pattern token with
//! RapidFuzz's `process.extractOne(token, P, scorer=fuzz.ratio, score_cutoff=threshold * 100)`.

use super::Anomaly;
use super::similarity::{native_cutoff, ratio};

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
/// As RapidFuzz does: the cutoff is rounded to single precision on the way in, each choice is
/// scored under the current cutoff (0 below it), and a choice is kept only when it reaches the
/// cutoff and beats the best so far strictly, after which its score becomes the cutoff. So ties go
/// to the first choice, and a perfect score ends the search.
fn extract_one(query: &[char], choices: &[Vec<char>], score_cutoff: f64) -> Option<(usize, f64)> {
    const OPTIMAL_SCORE: f64 = 100.0;
    let mut cutoff = native_cutoff(score_cutoff);
    let mut best: Option<(usize, f64)> = None;
    for (index, choice) in choices.iter().enumerate() {
        let score = ratio(query, choice, cutoff);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, choices: &[&str], cutoff: f64) -> Option<(usize, f64)> {
        let query: Vec<char> = query.chars().collect();
        let choices: Vec<Vec<char>> = choices.iter().map(|c| c.chars().collect()).collect();
        extract_one(&query, &choices, cutoff)
    }

    /// Expected values from RapidFuzz 3.14 `process.extractOne(..., scorer=fuzz.ratio)`.
    #[test]
    fn extract_one_of_rapidfuzz() {
        let fruit = ["apple", "banana", "cherry", "date", "elderberry"];
        assert_eq!(
            run("bannana", &fruit, 85.0),
            Some((1, 92.307_692_307_692_3))
        );
        assert_eq!(run("chery", &fruit, 85.0), Some((2, 90.909_090_909_090_9)));
        assert_eq!(run("date", &fruit, 85.0), Some((3, 100.0)));
        assert_eq!(run("zzz", &["apple", "banana"], 10.0), None);
        // Ties go to the first choice; a later exact match still wins.
        assert_eq!(run("abcx", &["abce", "abcf"], 70.0), Some((0, 75.0)));
        assert_eq!(
            run("abcd", &["abce", "abcf", "abcd"], 70.0),
            Some((2, 100.0))
        );
        assert_eq!(run("ab", &["abcd", "xab", "ba"], 60.0), Some((1, 80.0)));
        assert_eq!(run("", &[""], 100.0), Some((0, 100.0)));
        assert_eq!(run("", &["a"], 0.0), Some((0, 0.0)));
    }

    /// On the boundary RapidFuzz's single-precision cutoff decides, in both directions.
    #[test]
    fn extract_one_boundaries() {
        assert_eq!(run("xx", &["xxb"], 80.0), Some((0, 80.0)));
        assert_eq!(run("xxx", &["xxxb"], 85.714_285_714_285_72), None);
        assert_eq!(
            run("x", &["xb"], 66.666_667_9),
            Some((0, 66.666_666_666_666_67))
        );
        assert_eq!(run("xaaaa", &["xbbbb"], 19.999_999_999_999_996), None);
    }

    #[test]
    fn match_tokens_of_the_spec() {
        let pattern = ["apple", "banana", "cherry", "date", "elderberry"];
        let outcome = match_tokens(&pattern, &["apple", "bannana", "chery", "fig"], 0.85);
        assert_eq!(outcome.matches, ["apple", "bannana", "chery"]);
        assert_eq!(outcome.unmatched, 1);
        let anomalies: Vec<(&str, &str, f64)> = outcome
            .anomalies
            .iter()
            .map(|a| (a.observed.as_str(), a.expected.as_str(), a.similarity))
            .collect();
        assert_eq!(
            anomalies,
            [
                ("bannana", "banana", 0.923_076_923_076_923),
                ("chery", "cherry", 0.909_090_909_090_909_1)
            ]
        );
    }
}
