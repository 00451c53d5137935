//! Random kbs and settings: the index's pruned set and the predictions made from it equal the
//! brute force's.

use std::collections::BTreeSet;

use kato_core::matching::{MatchConfig, MatchScratch, TokenMatcher};
use kato_core::predict::{
    Candidate, KbStatistics, PredictConfig, RankSortAlgo, pre_potential_of, predict,
    predict_matched, pruning_order,
};
use kato_core::{MinHashConfig, MinHasher};
use kato_index::{Filter, Found, KbIndex, Query};
use proptest::prelude::*;

use crate::brute_force::{Stage, pruned_names};

type Events = Vec<Vec<String>>;

/// A kb of `patterns` bodies over `vocab` symbols (skewed towards the first when `zipf`), some
/// bodies repeated under other names (exact ties), some long.
fn kb() -> impl Strategy<Value = Vec<(String, Events)>> {
    (2u32..40, any::<bool>(), 1usize..150).prop_flat_map(|(vocab, zipf, patterns)| {
        let symbol = (0.0f64..1.0).prop_map(move |u| {
            let skewed = if zipf { u * u * u } else { u };
            format!("s{}", (skewed * f64::from(vocab)) as u32)
        });
        let event = prop::collection::vec(symbol, 1..=5);
        let body = prop_oneof![
            8 => prop::collection::vec(event.clone(), 1..8),
            1 => prop::collection::vec(event, 14..30),
        ];
        let copies = prop_oneof![6 => Just(1usize), 1 => 2usize..6];
        prop::collection::vec((body, copies), patterns).prop_map(|bodies| {
            let mut kb = Vec::new();
            for (body, copies) in bodies {
                for _ in 0..copies {
                    kb.push((format!("{:040x}", kb.len() * 7919 % 100_003), body.clone()));
                }
            }
            kb
        })
    })
}

#[derive(Debug, Clone)]
struct Settings {
    matching: MatchConfig,
    max_predictions: usize,
    stages: Vec<Stage>,
}

fn settings() -> impl Strategy<Value = Settings> {
    let threshold = prop_oneof![
        1 => Just(0.0),
        6 => 0.05f64..0.9,
        2 => prop::sample::select(vec![0.1, 0.2, 0.25, 0.5]),
    ];
    let mode = prop_oneof![
        6 => Just((true, 0.0)),
        1 => Just((false, 0.0)),
        1 => Just((true, 0.6)),
    ];
    let max_predictions = prop_oneof![
        3 => 1usize..4,
        2 => 4usize..40,
        1 => Just(300usize),
    ];
    let stage = prop_oneof![
        (1u32..6, 4u32..40).prop_map(|(min, max)| Stage::Length { min, max }),
        (0.0f64..0.6, 0u32..3).prop_map(|(threshold, min_overlap)| Stage::Jaccard {
            threshold,
            min_overlap
        }),
        (0.0f64..0.5).prop_map(|threshold| Stage::MinHash { threshold }),
        Just(Stage::SharesToken),
    ];
    let stages = prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(stage, 1..3)];
    (threshold, mode, max_predictions, stages).prop_map(
        |(
            recall_threshold,
            (use_token_matching, fuzzy_token_threshold),
            max_predictions,
            stages,
        )| {
            Settings {
                matching: MatchConfig {
                    recall_threshold,
                    use_token_matching,
                    fuzzy_token_threshold,
                },
                max_predictions,
                stages,
            }
        },
    )
}

/// An STM cut from one of the kb's bodies (most requests), with noise, or made up.
fn stm_for(kb: &[(String, Events)], pick: usize, cut: (usize, usize), noise: &[String]) -> Events {
    let (_, body) = &kb[pick % kb.len()];
    let start = cut.0 % body.len();
    let end = (start + 1 + cut.1 % body.len()).min(body.len());
    let mut stm: Events = body[start..end].to_vec();
    for (i, symbol) in noise.iter().enumerate() {
        let at = i % (stm.len() + 1);
        if at == stm.len() {
            stm.push(vec![symbol.clone()]);
        } else {
            stm[at].push(symbol.clone());
        }
    }
    stm
}

fn filters<'a>(stages: &[Stage], stm: &Events, hasher: &'a MinHasher) -> Vec<Filter<'a>> {
    let tokens: BTreeSet<&str> = stm.iter().flatten().map(String::as_str).collect();
    stages
        .iter()
        .map(|stage| match stage {
            Stage::Length { min, max } => Filter::Length {
                min: *min,
                max: *max,
            },
            Stage::Jaccard {
                threshold,
                min_overlap,
            } => Filter::Jaccard {
                threshold: *threshold,
                min_overlap: *min_overlap,
            },
            Stage::MinHash { threshold } => {
                let signature = hasher.signature(tokens.iter().copied());
                let bands = hasher.band_hashes(&signature).unwrap();
                Filter::MinHash {
                    hasher,
                    signature,
                    bands,
                    threshold: *threshold,
                }
            }
            Stage::SharesToken => Filter::SharesToken,
        })
        .collect()
}

fn candidate(name: &str, events: &Events) -> Candidate {
    Candidate {
        name: name.to_owned(),
        events: events.clone(),
        frequency: 1,
        emotives: Vec::new(),
    }
}

fn check(kb: &[(String, Events)], stm: &Events, settings: &Settings, shards: usize) {
    let hasher = MinHasher::new(MinHashConfig::new(20, 5, 4).unwrap());
    let mut index = KbIndex::new(shards);
    for (name, events) in kb {
        index.insert(name, events).unwrap();
    }
    let filters = filters(&settings.stages, stm, &hasher);
    let query = Query {
        stm,
        matching: &settings.matching,
        max_predictions: settings.max_predictions,
        filters: &filters,
    };
    let search = index.search(&query);
    let expected = pruned_names(
        kb,
        stm,
        &settings.matching,
        settings.max_predictions,
        &settings.stages,
        &hasher,
    );
    let config = PredictConfig {
        matching: settings.matching,
        max_predictions: settings.max_predictions,
        rank_sort_algo: RankSortAlgo::Potential,
        affinity_emotive: None,
    };
    let statistics = KbStatistics::default();
    let single = stm.iter().flatten().count() == 1;
    let every: Vec<Candidate> = kb
        .iter()
        .filter(|(_, events)| {
            single
                || settings
                    .stages
                    .iter()
                    .all(|stage| crate::brute_force::keeps(stage, events, stm, &hasher))
        })
        .map(|(name, events)| candidate(name, events))
        .collect();
    let brute = predict(stm, every, &statistics, &config);
    match search.found {
        Found::SingleSymbol(bodies) => {
            let mut names: Vec<String> = bodies.iter().map(|b| b.name.clone()).collect();
            names.sort();
            assert_eq!(names, expected);
            let candidates = bodies
                .iter()
                .map(|b| candidate(&b.name, &b.events))
                .collect();
            assert_eq!(predict(stm, candidates, &statistics, &config), brute);
        }
        Found::Matched(matched) => {
            let kept = 3 * settings.max_predictions;
            let mut ranked: Vec<(f64, f64, String)> = matched
                .iter()
                .map(|(body, found)| {
                    (
                        pre_potential_of(found.scores()),
                        found.similarity,
                        body.name.clone(),
                    )
                })
                .collect();
            ranked.sort_by(|a, b| pruning_order((a.0, a.1, &a.2), (b.0, b.1, &b.2)));
            let names: Vec<String> = ranked.into_iter().map(|r| r.2).collect();
            assert_eq!(names.len(), expected.len(), "pruned set size");
            let cut = kept.min(names.len());
            assert_eq!(names[..cut], expected[..cut], "pruned set");
            let matched = matched
                .into_iter()
                .map(|(body, found)| (candidate(&body.name, &body.events), found))
                .collect();
            assert_eq!(
                predict_matched(stm, matched, &statistics, &config),
                brute,
                "predictions"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b61_746f_696e_6478),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every path (single symbol, bounded exact token, threshold 0, character mode, fuzzy, with
    /// and without filters), on one shard and on several.
    #[test]
    fn search_equals_brute_force(
        kb in kb(),
        settings in settings(),
        pick in any::<usize>(),
        cut in (any::<usize>(), any::<usize>()),
        noise in prop::collection::vec(
            prop::sample::select(vec!["s0", "s1", "s2", "s3", "zz", "yy"]).prop_map(String::from),
            0..20,
        ),
        shards in 1usize..4,
    ) {
        let stm = stm_for(&kb, pick, cut, &noise);
        check(&kb, &stm, &settings, shards);
    }

    /// The index's `u32` scoring equals `TokenMatcher` on the strings, pair by pair.
    #[test]
    fn id_scores_equal_token_matcher(kb in kb(), pick in any::<usize>(), cut in (any::<usize>(), any::<usize>()), threshold in 0.0f64..0.9) {
        let stm = stm_for(&kb, pick, cut, &[]);
        let matcher = TokenMatcher::new(&stm);
        // One scratch for every pattern, as the index uses it.
        let mut scratch = MatchScratch::default();
        for (_, events) in &kb {
            let ids: Vec<u32> = events
                .iter()
                .flatten()
                .map(|s| matcher.id_of(s).unwrap_or(kato_core::matching::ABSENT))
                .collect();
            let sizes: Vec<u32> = events.iter().map(|e| e.len() as u32).collect();
            prop_assert_eq!(
                matcher.scores_of_ids(&ids, &sizes, threshold, &mut scratch),
                matcher.scores(events, threshold)
            );
        }
    }
}
