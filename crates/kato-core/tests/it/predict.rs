//! Predictions end to end: the golden examples of spec `predictions.md` section 8 through
//! `predict`, the JSON shape of spec section 6, and properties of ranking and pruning.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::f64::consts::FRAC_1_SQRT_2;

use kato_core::matching::MatchConfig;
use kato_core::predict::{
    Candidate, FullPrediction, KbStatistics, PredictConfig, Prediction, Predictions, RankSortAlgo,
    SingleSymbolPrediction, predict,
};
use kato_core::{Event, Pattern};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use crate::fixed_seed_config;

/// A kb after some learns: the candidates and the counters the reference's Redis would hold.
#[derive(Debug, Clone)]
struct Kb {
    candidates: Vec<Candidate>,
    statistics: KbStatistics,
}

/// Learns each pattern `times` times with `sort_symbols` on: the events are sorted, a new pattern
/// adds 1 to `U`, `T_pf` (re-learns do not, spec 9.7) and the pmf of each of its distinct
/// symbols; every learn adds its symbol occurrences to `symbols:freq`.
fn learn(patterns: &[(&[&[&str]], u64)]) -> Kb {
    let mut by_name: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut statistics = KbStatistics::default();
    for &(events, times) in patterns {
        let events = sorted_events(events);
        let name = Pattern::new(
            events
                .iter()
                .map(|event| event.iter().map(String::as_str).collect::<Event>())
                .collect(),
        )
        .name()
        .as_hex()
        .to_owned();
        for symbol in events.iter().flatten() {
            *statistics
                .symbol_frequencies
                .entry(symbol.clone())
                .or_default() += times;
        }
        match by_name.get_mut(&name) {
            Some(candidate) => candidate.frequency += times,
            None => {
                statistics.total_unique_patterns += 1;
                statistics.total_pattern_frequencies += 1;
                let distinct: BTreeSet<&String> = events.iter().flatten().collect();
                for symbol in distinct {
                    *statistics
                        .pattern_member_counts
                        .entry(symbol.clone())
                        .or_default() += 1;
                }
                by_name.insert(
                    name.clone(),
                    Candidate {
                        name,
                        events,
                        frequency: times,
                        emotives: Vec::new(),
                    },
                );
            }
        }
    }
    statistics.distinct_symbols = statistics.symbol_frequencies.len() as u64;
    Kb {
        candidates: by_name.into_values().collect(),
        statistics,
    }
}

fn sorted_events(events: &[&[&str]]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|event| {
            let mut event: Vec<String> = event.iter().map(|&symbol| symbol.to_owned()).collect();
            event.sort();
            event
        })
        .collect()
}

/// Token mode, no fuzzy tokens, 100 predictions ranked by potential, no affinity.
fn config(recall_threshold: f64) -> PredictConfig {
    PredictConfig {
        matching: MatchConfig {
            recall_threshold,
            use_token_matching: true,
            fuzzy_token_threshold: 0.0,
        },
        max_predictions: 100,
        rank_sort_algo: RankSortAlgo::Potential,
        affinity_emotive: None,
    }
}

fn run(kb: &Kb, stm: &[&[&str]], config: &PredictConfig) -> Predictions {
    predict(
        &sorted_events(stm),
        kb.candidates.clone(),
        &kb.statistics,
        config,
    )
}

fn full(prediction: &Prediction) -> &FullPrediction {
    match prediction {
        Prediction::Full(full) => full,
        Prediction::SingleSymbol(single) => panic!("expected the multi-symbol path: {single:?}"),
    }
}

fn single(prediction: &Prediction) -> &SingleSymbolPrediction {
    match prediction {
        Prediction::SingleSymbol(single) => single,
        Prediction::Full(full) => panic!("expected the single-symbol path: {full:?}"),
    }
}

/// Equal, with numbers compared to the 4 decimal places the spec rounds to.
fn approx_eq(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(actual), Value::Number(expected)) => {
            match (actual.as_f64(), expected.as_f64()) {
                (Some(actual), Some(expected)) => (actual - expected).abs() <= 5e-5 + 1e-12,
                _ => false,
            }
        }
        (Value::Array(actual), Value::Array(expected)) => {
            actual.len() == expected.len()
                && actual.iter().zip(expected).all(|(a, e)| approx_eq(a, e))
        }
        (Value::Object(actual), Value::Object(expected)) => {
            actual.len() == expected.len()
                && expected
                    .iter()
                    .all(|(key, e)| actual.get(key).is_some_and(|a| approx_eq(a, e)))
        }
        _ => actual == expected,
    }
}

/// Asserts every field listed in `expected` (a JSON object) on the serialised `value`.
fn assert_fields(value: &impl Serialize, expected: Value) {
    let actual = serde_json::to_value(value).unwrap();
    let Value::Object(expected) = expected else {
        panic!("expected fields must be an object");
    };
    for (key, expected) in &expected {
        let found = actual.get(key).unwrap_or(&Value::Null);
        assert!(
            approx_eq(found, expected),
            "field {key}: got {found}, expected {expected}\nin {actual:#}"
        );
    }
}

fn keys(value: &impl Serialize) -> Vec<String> {
    match serde_json::to_value(value).unwrap() {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// Ex 1: past and present (threshold 0.3).
#[test]
fn golden_1_past_and_present() {
    let kb = learn(&[(&[&["beginning"], &["middle"], &["end"]], 1)]);
    let out = run(&kb, &[&["middle"], &["end"]], &config(0.3));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "type": "prototypical", "frequency": 1,
            "matches": ["middle", "end"], "past": [["beginning"]], "present": [["middle"], ["end"]],
            "future": [], "missing": [[], []], "extras": [[], []], "anomalies": [],
            "similarity": 0.8, "evidence": 0.6667, "confidence": 1.0, "snr": 1.0,
            "fragmentation": 0.0, "itfdf_similarity": 1.0, "confluence": 0.0, "entropy": 1.0,
            "normalized_entropy": 0.6309, "global_normalized_entropy": 0.0, "tfidf_score": 0.5,
            "predictive_information": 0.0, "bayesian_prior": 1.0, "bayesian_posterior": 1.0,
            "bayesian_likelihood": 0.8, "potential": 3.6667,
            "sequence": [["beginning"], ["middle"], ["end"]],
            "weighted_similarity": null, "weighted_evidence": null,
            "weighted_confidence": null, "weighted_snr": null,
        }),
    );
    assert!(out.future_potentials.is_empty());
}

/// Ex 2: event-aligned missing.
#[test]
fn golden_2_event_aligned_missing() {
    let kb = learn(&[(&[&["hello", "world"], &["foo", "bar"]], 1)]);
    let out = run(&kb, &[&["hello"], &["foo"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "matches": ["hello", "foo"], "past": [], "present": [["hello", "world"], ["bar", "foo"]],
            "missing": [["world"], ["bar"]], "extras": [[], []], "future": [],
            "similarity": 0.6667, "fragmentation": 1.0, "evidence": 0.5, "confidence": 0.5,
            "snr": 1.0, "itfdf_similarity": FRAC_1_SQRT_2, "entropy": 2.0, "normalized_entropy": 1.0,
            "tfidf_score": 0.25, "potential": 2.2071,
        }),
    );
}

/// Ex 3: missing plus extras.
#[test]
fn golden_3_missing_and_extras() {
    let kb = learn(&[(&[&["a", "b"], &["c", "d"]], 1)]);
    let out = run(&kb, &[&["a", "x"], &["c", "y"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "matches": ["a", "c"], "present": [["a", "b"], ["c", "d"]],
            "missing": [["b"], ["d"]], "extras": [["x"], ["y"]],
            "similarity": 0.5, "evidence": 0.5, "confidence": 0.5, "snr": 0.3333,
            "fragmentation": 1.0, "itfdf_similarity": FRAC_1_SQRT_2, "potential": 1.5404,
        }),
    );
}

/// Ex 4: a future, and a partially matched multi-symbol event.
#[test]
fn golden_4_future() {
    let kb = learn(&[(&[&["a", "b"], &["c", "d"], &["e", "f"]], 1)]);
    let out = run(&kb, &[&["a"], &["c"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "present": [["a", "b"], ["c", "d"]], "missing": [["b"], ["d"]],
            "future": [["e", "f"]], "extras": [[], []],
            "similarity": 0.5, "evidence": 0.3333, "confidence": 0.5, "snr": 1.0,
            "fragmentation": 1.0, "normalized_entropy": 0.7737, "predictive_information": 0.5,
            "potential": 2.0404,
        }),
    );
    assert_fields(
        &out,
        json!({"future_potentials": [{
            "future": [["e", "f"]], "aggregate_potential": 1.0, "supporting_patterns": 1,
            "total_weighted_frequency": 0.5,
        }]}),
    );
}

/// Ex 5: three patterns with a shared prefix.
#[test]
fn golden_5_shared_prefix() {
    let kb = learn(&[
        (&[&["shared"], &["branch_a"], &["end_a"]], 1),
        (&[&["shared"], &["branch_b"], &["end_b"]], 1),
        (&[&["shared"], &["branch_c"], &["end_c"]], 1),
    ]);
    assert_eq!(
        (
            kb.statistics.total_unique_patterns,
            kb.statistics.total_pattern_frequencies,
            kb.statistics.distinct_symbols,
        ),
        (3, 3, 7)
    );
    let name_of = |branch: &str| {
        kb.candidates
            .iter()
            .find(|candidate| candidate.events[1][0] == branch)
            .unwrap()
            .name
            .clone()
    };
    let out = run(&kb, &[&["shared"], &["branch_a"]], &config(0.1));
    assert_eq!(out.predictions.len(), 3);
    let first = full(&out.predictions[0]);
    assert_eq!(first.name, name_of("branch_a"));
    assert_fields(
        first,
        json!({
            "similarity": 0.8, "matches": ["shared", "branch_a"],
            "present": [["shared"], ["branch_a"]], "future": [["end_a"]], "extras": [[], []],
            "evidence": 0.6667, "confidence": 1.0, "snr": 1.0, "itfdf_similarity": 1.0,
            "confluence": 0.2222, "global_normalized_entropy": 0.1882, "tfidf_score": 0.8962,
            "predictive_information": 0.5333, "bayesian_prior": 0.3333,
            "bayesian_posterior": 0.5, "potential": 3.6667,
        }),
    );
    // Rows 2 and 3 tie on potential and similarity; DESIGN.md section 8 breaks the tie by name,
    // ascending (the reference's order here is not deterministic).
    let mut tied = [name_of("branch_b"), name_of("branch_c")];
    tied.sort();
    for (row, name) in out.predictions[1..].iter().zip(&tied) {
        let row = full(row);
        assert_eq!(&row.name, name);
        let branch = if *name == name_of("branch_b") {
            "b"
        } else {
            "c"
        };
        assert_fields(
            row,
            json!({
                "similarity": 0.4, "matches": ["shared"], "present": [["shared"]],
                "future": [[format!("branch_{branch}")], [format!("end_{branch}")]],
                "extras": [[], ["branch_a"]], "evidence": 0.3333, "confidence": 1.0,
                "snr": 0.3333, "itfdf_similarity": 0.9829, "confluence": 0.0,
                "global_normalized_entropy": 0.0, "tfidf_score": 1.0,
                "predictive_information": 0.5333, "bayesian_prior": 0.3333,
                "bayesian_posterior": 0.25, "potential": 2.4273,
            }),
        );
    }
    // Equal aggregates keep the order their futures were first met in, which is the same
    // deterministic order (hence name order for b and c).
    let tied_futures: Vec<Value> = tied
        .iter()
        .map(|name| {
            let branch = if *name == name_of("branch_b") {
                "b"
            } else {
                "c"
            };
            json!({
                "future": [[format!("branch_{branch}")], [format!("end_{branch}")]],
                "aggregate_potential": 0.25, "supporting_patterns": 1,
                "total_weighted_frequency": 0.4,
            })
        })
        .collect();
    assert_fields(
        &out,
        json!({"future_potentials": [
            {"future": [["end_a"]], "aggregate_potential": 0.5, "supporting_patterns": 1,
             "total_weighted_frequency": 0.8},
            tied_futures[0], tied_futures[1],
        ]}),
    );
}

/// Ex 6: misaligned STM, negative snr.
#[test]
fn golden_6_misaligned_negative_snr() {
    let kb = learn(&[(
        &[
            &["p1"],
            &["p2"],
            &["p3"],
            &["shared_symbol"],
            &["p5"],
            &["p6"],
        ],
        1,
    )]);
    let out = run(
        &kb,
        &[&["s1"], &["s2"], &["shared_symbol"], &["s4"], &["s5"]],
        &config(0.1),
    );
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "matches": ["shared_symbol"], "past": [["p1"], ["p2"], ["p3"]],
            "present": [["shared_symbol"]], "future": [["p5"], ["p6"]], "missing": [[]],
            "extras": [["s1"], ["s2"], [], ["s4"], ["s5"]],
            "similarity": 0.1818, "evidence": 0.1667, "confidence": 1.0, "snr": -0.3333,
            "fragmentation": 0.0, "itfdf_similarity": 1.0, "predictive_information": 0.1818,
            "potential": 1.6111,
        }),
    );
}

/// Ex 7: threshold 0.0 keeps an unrelated pattern; 0.1 drops it.
#[test]
fn golden_7_threshold_zero_unrelated() {
    let kb = learn(&[(&[&["known"], &["pattern"], &["here"]], 1)]);
    let out = run(&kb, &[&["unknown1"], &["unknown2"]], &config(0.0));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "matches": [], "past": [], "present": [["known"], ["pattern"], ["here"]],
            "future": [], "missing": [["known"], ["pattern"], ["here"]],
            "extras": [["unknown1"], ["unknown2"]],
            "similarity": 0.0, "evidence": 0.0, "confidence": 0.0, "snr": -1.0,
            "fragmentation": -1.0, "itfdf_similarity": 0.0, "entropy": 1.585,
            "tfidf_score": 0.3333, "bayesian_posterior": 0.0, "potential": 0.0,
        }),
    );
    let out = run(&kb, &[&["unknown1"], &["unknown2"]], &config(0.1));
    assert!(out.predictions.is_empty());
}

/// Ex 8: a pattern learned three times.
#[test]
fn golden_8_frequency() {
    let kb = learn(&[(&[&["identical"], &["pattern"]], 3)]);
    assert_eq!(kb.statistics.total_pattern_frequencies, 1);
    let out = run(&kb, &[&["identical"], &["pattern"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "frequency": 3, "similarity": 1.0, "evidence": 1.0, "confidence": 1.0, "snr": 1.0,
            "fragmentation": 0.0, "bayesian_prior": 1.0, "bayesian_posterior": 1.0,
            "itfdf_similarity": 1.0, "confluence": 0.0, "potential": 4.0,
        }),
    );
}

/// Ex 9: the single-symbol path; shorter patterns rank first, and only first symbols qualify.
#[test]
fn golden_9_single_symbol() {
    let kb = learn(&[
        (&[&["a"], &["b"], &["c"], &["d"]], 1),
        (&[&["a"], &["b"], &["c"]], 1),
    ]);
    let out = run(&kb, &[&["a"]], &config(0.1));
    assert_eq!(out.predictions.len(), 2);
    assert!(out.future_potentials.is_empty());
    assert_fields(
        single(&out.predictions[0]),
        json!({
            "pattern_data": [["a"], ["b"], ["c"]], "length": 3,
            "similarity": 0.5, "evidence": 0.3333, "potential": 2.3333,
        }),
    );
    assert_fields(
        single(&out.predictions[1]),
        json!({
            "matches": ["a"], "past": [], "present": ["a"], "future": ["b", "c", "d"],
            "missing": [], "extras": [], "similarity": 0.4, "evidence": 0.25, "confidence": 1.0,
            "snr": 1.0, "fragmentation": 0, "potential": 2.25,
            "pattern_data": [["a"], ["b"], ["c"], ["d"]], "length": 4, "frequency": 1,
            "anomalies": [], "weighted_similarity": null,
        }),
    );
    assert!(run(&kb, &[&["b"]], &config(0.1)).predictions.is_empty());
}

/// Ex 10: the LCS similarity and the difflib blocks disagree.
#[test]
fn golden_10_lcs_versus_blocks() {
    let kb = learn(&[(&[&["a"], &["c"], &["a"]], 1)]);
    let out = run(&kb, &[&["c"], &["d"], &["a"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "similarity": 0.6667, "matches": ["a"], "present": [["a"]],
            "future": [["c"], ["a"]], "extras": [["c"], ["d"], []],
            "evidence": 0.3333, "confidence": 1.0, "snr": 0.0, "potential": 2.0,
        }),
    );
}

/// Ex 11: a duplicate STM symbol; snr counts the flat extras, not the event-aligned ones.
#[test]
fn golden_11_duplicate_state_symbol() {
    let kb = learn(&[(&[&["a"], &["b"], &["c"]], 1)]);
    let out = run(&kb, &[&["a"], &["a"], &["b"]], &config(0.1));
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({"extras": [[], [], []], "snr": 0.6, "potential": 2.9487}),
    );
}

/// Ex 12: fuzzy tokens at 0.85.
#[test]
fn golden_12_fuzzy_tokens() {
    let kb = learn(&[(&[&["apple", "banana", "cherry", "date", "elderberry"]], 1)]);
    let mut config = config(0.1);
    config.matching.fuzzy_token_threshold = 0.85;
    let out = run(&kb, &[&["apple", "bannana", "chery"]], &config);
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "similarity": 0.25, "matches": ["apple", "bannana", "chery"],
            "anomalies": [
                {"observed": "bannana", "expected": "banana", "similarity": 0.9231},
                {"observed": "chery", "expected": "cherry", "similarity": 0.9091},
            ],
            "present": [["apple", "banana", "cherry", "date", "elderberry"]],
            "missing": [["banana", "cherry", "date", "elderberry"]],
            "extras": [["bannana", "chery"]],
            "evidence": 0.6, "confidence": 0.6, "snr": 1.0, "potential": 2.6472,
        }),
    );
}

/// Ex 13: character mode.
#[test]
fn golden_13_character_mode() {
    let kb = learn(&[(&[&["apple", "banana", "cherry"]], 1)]);
    let mut config = config(0.1);
    config.matching.use_token_matching = false;
    let out = run(&kb, &[&["apple", "banana"]], &config);
    assert_eq!(out.predictions.len(), 1);
    assert_fields(
        full(&out.predictions[0]),
        json!({
            "similarity": 0.7742, "matches": ["apple", "banana"], "missing": [["cherry"]],
            "potential": 3.1498,
        }),
    );
}

/// An empty STM predicts nothing.
#[test]
fn empty_stm_predicts_nothing() {
    let kb = learn(&[(&[&["a"], &["b"]], 1)]);
    assert_eq!(run(&kb, &[], &config(0.0)), Predictions::default());
}

/// More than 3 x max_predictions candidates: the pruning keeps the best 3 x max_predictions by
/// `_pre_potential` and every kept prediction shows it, last in the JSON.
#[test]
fn pruning_adds_pre_potential() {
    let kb = learn(&[
        (&[&["a"], &["b"]], 1),
        (&[&["a"], &["b"], &["c"]], 1),
        (&[&["a"], &["b"], &["c"], &["d"]], 1),
        (&[&["a"], &["x"], &["y"], &["z"]], 1),
        (&[&["q"], &["a"], &["r"], &["s"], &["t"]], 1),
    ]);
    let mut config = config(0.1);
    config.max_predictions = 1;
    let out = run(&kb, &[&["a"], &["b"]], &config);
    assert_eq!(out.predictions.len(), 1);
    let best = full(&out.predictions[0]);
    assert_eq!(best.sequence, sorted_events(&[&["a"], &["b"]]));
    // evidence 1, confidence 1, snr 1, one block.
    assert_eq!(best.pre_potential, Some(3.0));
    assert_eq!(
        keys(best).last().map(String::as_str),
        Some("_pre_potential")
    );
    // The two patterns with the lowest _pre_potential were pruned, so only the futures of
    // [[a],[b],[c]] and [[a],[b],[c],[d]] are left (the kept [[a],[b]] has none).
    assert_eq!(out.future_potentials.len(), 2);

    config.max_predictions = 2;
    let out = run(&kb, &[&["a"], &["b"]], &config);
    assert!(
        out.predictions
            .iter()
            .all(|prediction| full(prediction).pre_potential.is_none())
    );
    assert!(!keys(full(&out.predictions[0])).contains(&"_pre_potential".to_owned()));
}

const FULL_KEYS: [&str; 34] = [
    "type",
    "name",
    "frequency",
    "emotives",
    "matches",
    "past",
    "present",
    "missing",
    "extras",
    "anomalies",
    "potential",
    "evidence",
    "similarity",
    "fragmentation",
    "snr",
    "confluence",
    "predictive_information",
    "sequence",
    "future",
    "confidence",
    "weighted_similarity",
    "weighted_evidence",
    "weighted_confidence",
    "weighted_snr",
    "entropy",
    "normalized_entropy",
    "global_normalized_entropy",
    "itfdf_similarity",
    "tfidf_score",
    "pattern_probability",
    "weighted_strength",
    "bayesian_posterior",
    "bayesian_prior",
    "bayesian_likelihood",
];

fn full_prediction(pre_potential: Option<f64>) -> FullPrediction {
    FullPrediction {
        kind: "prototypical",
        name: "0".repeat(40),
        frequency: 1,
        emotives: BTreeMap::from([("joy".to_owned(), 0.5)]),
        matches: vec!["a".into()],
        past: vec![],
        present: vec![vec!["a".into()]],
        missing: vec![vec![]],
        extras: vec![vec![], vec!["b".into()]],
        anomalies: vec![],
        potential: 1.0,
        evidence: 0.5,
        similarity: 0.6666666666666665,
        fragmentation: 0.0,
        snr: 0.0,
        confluence: 0.0,
        predictive_information: 0.0,
        sequence: vec![vec!["a".into()], vec!["c".into()]],
        future: vec![vec!["c".into()]],
        confidence: 1.0,
        weighted_similarity: None,
        weighted_evidence: None,
        weighted_confidence: None,
        weighted_snr: None,
        entropy: 0.0,
        normalized_entropy: 0.0,
        global_normalized_entropy: 0.0,
        itfdf_similarity: 1.0,
        tfidf_score: 1.0,
        pattern_probability: 1.0,
        weighted_strength: 0.6666666666666665,
        bayesian_posterior: 1.0,
        bayesian_prior: 1.0,
        bayesian_likelihood: 0.6666666666666665,
        pre_potential,
    }
}

/// Spec 6: the key order of both prediction shapes, `_pre_potential` only after pruning, and the
/// untagged `Prediction` serialises as the bare object.
#[test]
fn json_key_order() {
    let plain = full_prediction(None);
    assert_eq!(keys(&plain), FULL_KEYS);
    let pruned = full_prediction(Some(2.0));
    let mut with_pre = FULL_KEYS.to_vec();
    with_pre.push("_pre_potential");
    assert_eq!(keys(&pruned), with_pre);
    assert_eq!(
        serde_json::to_value(Prediction::Full(plain.clone())).unwrap(),
        serde_json::to_value(&plain).unwrap()
    );
    let text = serde_json::to_string(&plain).unwrap();
    assert!(text.contains(r#""fragmentation":0.0"#), "{text}");
    assert!(text.contains(r#""weighted_snr":null"#), "{text}");

    let single = SingleSymbolPrediction {
        name: "0".repeat(40),
        pattern_data: vec![vec!["a".into()], vec!["b".into()]],
        length: 2,
        frequency: 1,
        emotives: BTreeMap::new(),
        matches: vec!["a".into()],
        missing: vec![],
        present: vec!["a".into()],
        past: vec![],
        future: vec!["b".into()],
        extras: vec![],
        similarity: 0.6666666666666666,
        evidence: 0.5,
        confidence: 1.0,
        snr: 1.0,
        fragmentation: 0,
        anomalies: vec![],
        weighted_similarity: None,
        weighted_evidence: None,
        weighted_confidence: None,
        weighted_snr: None,
        potential: 2.5,
    };
    assert_eq!(
        keys(&single),
        [
            "name",
            "pattern_data",
            "length",
            "frequency",
            "emotives",
            "matches",
            "missing",
            "present",
            "past",
            "future",
            "extras",
            "similarity",
            "evidence",
            "confidence",
            "snr",
            "fragmentation",
            "anomalies",
            "weighted_similarity",
            "weighted_evidence",
            "weighted_confidence",
            "weighted_snr",
            "potential",
        ]
    );
    let text = serde_json::to_string(&Prediction::SingleSymbol(single)).unwrap();
    assert!(text.starts_with(r#"{"name":"#), "{text}");
    assert!(text.contains(r#""fragmentation":0,"#), "{text}");
    assert_eq!(
        keys(&Predictions::default()),
        ["predictions", "future_potentials"]
    );
}

/// `RankSortAlgo` parses exactly the reference's names and prints them back.
#[test]
fn rank_sort_algo_names() {
    for algo in RankSortAlgo::ALL {
        assert_eq!(algo.as_str().parse::<RankSortAlgo>(), Ok(algo));
        assert_eq!(algo.to_string(), algo.as_str());
    }
    assert_eq!("potential".parse(), Ok(RankSortAlgo::default()));
    for bad in [
        "Potential",
        " potential",
        "hamiltonian",
        "",
        "_pre_potential",
    ] {
        let error = bad.parse::<RankSortAlgo>().unwrap_err();
        assert_eq!(error.input, bad);
        assert!(error.to_string().contains("weighted_snr"));
    }
}

/// Random small kbs: patterns of 1 to 4 events over a 6-symbol alphabet, learned 1 to 3 times.
fn kb_strategy() -> impl Strategy<Value = Kb> {
    let symbol = prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]);
    let event = prop::collection::vec(symbol, 1..3);
    let pattern = prop::collection::vec(event, 1..5);
    prop::collection::vec((pattern, 1u64..4), 1..12).prop_map(|patterns| {
        let patterns: Vec<(Vec<Vec<&str>>, u64)> = patterns
            .into_iter()
            .filter(|(events, _)| events.iter().map(Vec::len).sum::<usize>() >= 2)
            .collect();
        let borrowed: Vec<Vec<&[&str]>> = patterns
            .iter()
            .map(|(events, _)| events.iter().map(Vec::as_slice).collect())
            .collect();
        let learns: Vec<(&[&[&str]], u64)> = borrowed
            .iter()
            .zip(&patterns)
            .map(|(events, (_, times))| (events.as_slice(), *times))
            .collect();
        learn(&learns)
    })
}

fn stm_strategy() -> impl Strategy<Value = Vec<Vec<String>>> {
    let symbol = prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "g"]);
    prop::collection::vec(prop::collection::vec(symbol, 1..3), 1..4).prop_map(|events| {
        let borrowed: Vec<&[&str]> = events.iter().map(Vec::as_slice).collect();
        sorted_events(&borrowed)
    })
}

fn config_strategy() -> impl Strategy<Value = PredictConfig> {
    (
        prop::sample::select(vec![0.0, 0.1, 0.3, 0.6]),
        any::<bool>(),
        1usize..6,
        prop::sample::select(RankSortAlgo::ALL.to_vec()),
        prop::option::of(Just("joy".to_owned())),
    )
        .prop_map(
            |(recall_threshold, use_token_matching, max_predictions, rank_sort_algo, affinity)| {
                PredictConfig {
                    matching: MatchConfig {
                        recall_threshold,
                        use_token_matching,
                        fuzzy_token_threshold: 0.0,
                    },
                    max_predictions,
                    rank_sort_algo,
                    affinity_emotive: affinity,
                }
            },
        )
}

/// Gives every symbol an affinity for `joy`, so the weighted metrics have something to weigh.
fn with_affinities(mut kb: Kb) -> Kb {
    for (index, symbol) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
        kb.statistics.affinities.insert(
            symbol.to_owned(),
            BTreeMap::from([("joy".to_owned(), index as f64 - 2.5)]),
        );
    }
    kb
}

/// The ranking key of a multi-symbol prediction; `None` for an unset weighted field.
fn key_of(prediction: &FullPrediction, algo: RankSortAlgo) -> Option<f64> {
    let value = serde_json::to_value(prediction).unwrap();
    value.get(algo.as_str()).and_then(Value::as_f64)
}

proptest! {
    #![proptest_config(fixed_seed_config(128))]

    /// The result does not depend on the order the candidates come in.
    #[test]
    fn candidate_order_does_not_matter(
        (kb, shuffled) in kb_strategy().prop_flat_map(|kb| {
            let candidates = kb.candidates.clone();
            (Just(kb), Just(candidates).prop_shuffle())
        }),
        stm in stm_strategy(),
        config in config_strategy(),
    ) {
        let kb = with_affinities(kb);
        let expected = predict(&stm, kb.candidates.clone(), &kb.statistics, &config);
        let actual = predict(&stm, shuffled, &kb.statistics, &config);
        prop_assert_eq!(actual, expected);
    }

    /// At most max_predictions come back, sorted by the key descending (unset weighted keys
    /// last), ties by similarity descending, then name ascending; the single-symbol path sorts
    /// by its potential with the same ties.
    #[test]
    fn output_is_bounded_and_sorted(
        kb in kb_strategy(),
        stm in stm_strategy(),
        config in config_strategy(),
    ) {
        let kb = with_affinities(kb);
        let out = predict(&stm, kb.candidates.clone(), &kb.statistics, &config);
        prop_assert!(out.predictions.len() <= config.max_predictions);
        for pair in out.predictions.windows(2) {
            let (key_a, key_b, sim_a, sim_b, name_a, name_b) = match (&pair[0], &pair[1]) {
                (Prediction::Full(a), Prediction::Full(b)) => (
                    key_of(a, config.rank_sort_algo),
                    key_of(b, config.rank_sort_algo),
                    a.similarity, b.similarity, &a.name, &b.name,
                ),
                (Prediction::SingleSymbol(a), Prediction::SingleSymbol(b)) => (
                    Some(a.potential), Some(b.potential), a.similarity, b.similarity,
                    &a.name, &b.name,
                ),
                _ => panic!("mixed prediction shapes"),
            };
            let in_order = match (key_a, key_b) {
                (Some(a), Some(b)) if a != b => a > b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                _ => sim_a > sim_b || (sim_a == sim_b && name_a < name_b),
            };
            prop_assert!(in_order, "{:?} before {:?}", pair[0], pair[1]);
        }
    }

    /// With nothing pruned or truncated, the posteriors sum to 1 whenever some similarity is
    /// above 0 (Z > 0), and are all 0 otherwise.
    #[test]
    fn posteriors_sum_to_one(
        kb in kb_strategy(),
        stm in stm_strategy().prop_filter("multi-symbol path", |stm| {
            stm.iter().map(Vec::len).sum::<usize>() >= 2
        }),
    ) {
        let mut config = config(0.0);
        config.max_predictions = 100;
        let out = predict(&stm, kb.candidates.clone(), &kb.statistics, &config);
        let predictions: Vec<&FullPrediction> = out.predictions.iter().map(full).collect();
        prop_assert!(predictions.iter().all(|p| p.pre_potential.is_none()));
        let sum: f64 = predictions.iter().map(|p| p.bayesian_posterior).sum();
        if predictions.iter().any(|p| p.similarity > 0.0) {
            prop_assert!((sum - 1.0).abs() < 1e-9, "sum {}", sum);
        } else {
            prop_assert_eq!(sum, 0.0);
        }
    }
}

/// `symbols:pmf` and `symbols:freq` as `learn` builds them (the statistics the golden examples
/// rely on).
#[test]
fn learn_builds_the_reference_counters() {
    let kb = learn(&[
        (&[&["b", "a"], &["a"]], 2),
        (&[&["a"], &["c"]], 1),
        (&[&["a", "b"], &["a"]], 1),
    ]);
    assert_eq!(kb.candidates.len(), 2);
    assert_eq!(kb.statistics.total_unique_patterns, 2);
    assert_eq!(kb.statistics.total_pattern_frequencies, 2);
    assert_eq!(kb.statistics.distinct_symbols, 3);
    let pmf: HashMap<&str, u64> = kb
        .statistics
        .pattern_member_counts
        .iter()
        .map(|(symbol, count)| (symbol.as_str(), *count))
        .collect();
    assert_eq!(pmf, HashMap::from([("a", 2), ("b", 1), ("c", 1)]));
    assert_eq!(kb.statistics.symbol_frequencies["a"], 7);
    assert_eq!(kb.statistics.symbol_frequencies["b"], 3);
    let frequencies: BTreeSet<u64> = kb.candidates.iter().map(|c| c.frequency).collect();
    assert_eq!(frequencies, BTreeSet::from([1, 3]));
}
