//! The pre-potential upper bound that lets kato-kb stop scoring candidates early never
//! underestimates: for any pattern and STM in exact token mode, the bound computed from symbol
//! counts alone is at least the pre-potential the matcher computes.

use std::collections::HashMap;

use kato_core::matching::{MatchConfig, match_pattern};
use kato_core::predict::{pre_potential_of, pre_potential_upper_bound};
use proptest::prelude::*;

fn events() -> impl Strategy<Value = Vec<Vec<String>>> {
    // A small alphabet so patterns and STMs share symbols, repeats included.
    let symbol = prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]).prop_map(String::from);
    prop::collection::vec(prop::collection::vec(symbol, 1..4), 1..9)
}

fn overlap(pattern: &[Vec<String>], stm: &[Vec<String>]) -> u32 {
    let mut counts: HashMap<&str, (u32, u32)> = HashMap::new();
    for symbol in pattern.iter().flatten() {
        counts.entry(symbol).or_default().0 += 1;
    }
    for symbol in stm.iter().flatten() {
        counts.entry(symbol).or_default().1 += 1;
    }
    counts.values().map(|(p, s)| (*p).min(*s)).sum()
}

proptest! {
    #![proptest_config(crate::fixed_seed_config(5000))]

    #[test]
    fn the_bound_is_never_below_the_pre_potential(pattern in events(), stm in events()) {
        let config = MatchConfig {
            recall_threshold: 0.01,
            use_token_matching: true,
            fuzzy_token_threshold: 0.0,
        };
        if let Some(found) = match_pattern(&pattern, &stm, &config) {
            let length = pattern.iter().map(Vec::len).sum::<usize>() as u32;
            let stm_length = stm.iter().map(Vec::len).sum::<usize>() as u32;
            let bound = pre_potential_upper_bound(overlap(&pattern, &stm), length, stm_length);
            let pre_potential = pre_potential_of(found.scores());
            prop_assert!(
                pre_potential <= bound + 1e-9,
                "pre-potential {} above bound {}", pre_potential, bound
            );
        }
    }
}

/// Handing over candidates matched by the caller gives what `predict` gives from scratch.
#[test]
fn predict_matched_equals_predict() {
    use kato_core::predict::{
        Candidate, KbStatistics, PredictConfig, RankSortAlgo, predict, predict_matched,
    };
    let stm = vec![vec!["a".to_owned()], vec!["b".to_owned(), "c".to_owned()]];
    let config = PredictConfig {
        matching: MatchConfig {
            recall_threshold: 0.1,
            use_token_matching: true,
            fuzzy_token_threshold: 0.0,
        },
        max_predictions: 2,
        rank_sort_algo: RankSortAlgo::Potential,
        affinity_emotive: None,
    };
    let candidates: Vec<Candidate> = [
        vec![vec!["a"], vec!["b", "c"], vec!["d"]],
        vec![vec!["x"], vec!["a"], vec!["c"]],
        vec![vec!["b"], vec!["a"]],
        vec![vec!["a", "e"], vec!["f"]],
        vec![vec!["y"], vec!["z"]],
    ]
    .iter()
    .enumerate()
    .map(|(i, events)| Candidate {
        name: format!("{i:040}"),
        events: events
            .iter()
            .map(|e| e.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
        frequency: 1,
        emotives: Vec::new(),
    })
    .collect();
    let mut statistics = KbStatistics {
        total_unique_patterns: 5,
        total_pattern_frequencies: 5,
        distinct_symbols: 8,
        ..KbStatistics::default()
    };
    for symbol in ["a", "b", "c", "d", "e", "f", "x", "y", "z"] {
        statistics
            .pattern_member_counts
            .insert(symbol.to_owned(), 1);
    }
    let matched = candidates
        .iter()
        .filter_map(|c| match_pattern(&c.events, &stm, &config.matching).map(|m| (c.clone(), m)))
        .collect();
    let direct = predict(&stm, candidates, &statistics, &config);
    assert!(!direct.predictions.is_empty());
    assert_eq!(predict_matched(&stm, matched, &statistics, &config), direct);
}
