//! `KnowledgeBase::predict` on real stores: the golden examples end to end, indexed search
//! against scoring every pattern, LSH recall, determinism.

use std::collections::BTreeMap;

use kato_core::{Event, KbId, Pattern, Symbol};
use kato_kb::{LearnContext, PredictionSettings, SessionConfig};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::{TestKb, kb_id};

/// A pattern as the STM would hold it with `sort_symbols` on (symbols sorted in each event).
fn sorted(events: &[&[&str]]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|event| {
            let mut symbols: Vec<String> = event.iter().map(|s| (*s).to_owned()).collect();
            symbols.sort();
            symbols
        })
        .collect()
}

fn as_pattern(events: &[Vec<String>]) -> Pattern {
    events
        .iter()
        .map(|event| Event::new(event.iter().map(|s| Symbol::new(s.as_str())).collect()))
        .collect()
}

async fn learn(test: &TestKb, kb: &KbId, events: &[&[&str]], times: usize) {
    let pattern = as_pattern(&sorted(events));
    for _ in 0..times {
        test.kb
            .learn(kb, &pattern, &LearnContext::default())
            .await
            .expect("learn")
            .expect("stored");
    }
}

fn settings(config: SessionConfig) -> PredictionSettings {
    config.prediction_settings().expect("valid settings")
}

fn threshold(recall_threshold: f64) -> PredictionSettings {
    settings(SessionConfig {
        recall_threshold: Some(recall_threshold),
        ..SessionConfig::default()
    })
}

async fn predict_json(
    test: &TestKb,
    kb: &KbId,
    stm: &[&[&str]],
    settings: &PredictionSettings,
) -> Value {
    let predictions = test
        .kb
        .predict(kb, &sorted(stm), settings)
        .await
        .expect("predict");
    serde_json::to_value(predictions).expect("serialise")
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 5e-5)
}

#[track_caller]
fn assert_close(prediction: &Value, field: &str, expected: f64) {
    assert!(
        close(&prediction[field], expected),
        "{field}: {} != {expected} in {prediction}",
        prediction[field]
    );
}

#[tokio::test]
async fn golden_examples_end_to_end() {
    let Some(test) = TestKb::start("golden_examples_end_to_end").await else {
        return;
    };
    let mut kbs = Vec::new();

    // Ex 1: past and present.
    let kb = kb_id("ex1");
    learn(&test, &kb, &[&["beginning"], &["middle"], &["end"]], 1).await;
    let out = predict_json(&test, &kb, &[&["middle"], &["end"]], &threshold(0.3)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["middle", "end"]));
    assert_eq!(p["past"], json!([["beginning"]]));
    assert_eq!(p["present"], json!([["middle"], ["end"]]));
    assert_eq!(p["future"], json!([]));
    assert_eq!(p["missing"], json!([[], []]));
    for (field, value) in [
        ("similarity", 0.8),
        ("evidence", 0.6667),
        ("confidence", 1.0),
        ("snr", 1.0),
        ("fragmentation", 0.0),
        ("itfdf_similarity", 1.0),
        ("confluence", 0.0),
        ("entropy", 1.0),
        ("normalized_entropy", 0.6309),
        ("global_normalized_entropy", 0.0),
        ("tfidf_score", 0.5),
        ("predictive_information", 0.0),
        ("bayesian_prior", 1.0),
        ("bayesian_posterior", 1.0),
        ("bayesian_likelihood", 0.8),
        ("potential", 3.6667),
    ] {
        assert_close(p, field, value);
    }
    kbs.push(kb);

    // Ex 2: event-aligned missing (stored as [[hello,world],[bar,foo]]).
    let kb = kb_id("ex2");
    learn(&test, &kb, &[&["hello", "world"], &["foo", "bar"]], 1).await;
    let out = predict_json(&test, &kb, &[&["hello"], &["foo"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["present"], json!([["hello", "world"], ["bar", "foo"]]));
    assert_eq!(p["missing"], json!([["world"], ["bar"]]));
    assert_close(p, "itfdf_similarity", std::f64::consts::FRAC_1_SQRT_2);
    assert_close(p, "normalized_entropy", 1.0);
    assert_close(p, "potential", 2.2071);
    kbs.push(kb);

    // Ex 3: missing plus extras.
    let kb = kb_id("ex3");
    learn(&test, &kb, &[&["a", "b"], &["c", "d"]], 1).await;
    let out = predict_json(&test, &kb, &[&["a", "x"], &["c", "y"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["extras"], json!([["x"], ["y"]]));
    assert_close(p, "snr", 0.3333);
    assert_close(p, "potential", 1.5404);
    kbs.push(kb);

    // Ex 4: future, and future_potentials.
    let kb = kb_id("ex4");
    learn(&test, &kb, &[&["a", "b"], &["c", "d"], &["e", "f"]], 1).await;
    let out = predict_json(&test, &kb, &[&["a"], &["c"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["future"], json!([["e", "f"]]));
    assert_close(p, "normalized_entropy", 0.7737);
    assert_close(p, "predictive_information", 0.5);
    assert_close(p, "potential", 2.0404);
    assert_eq!(
        out["future_potentials"],
        json!([{"future": [["e", "f"]], "aggregate_potential": 1.0,
                "supporting_patterns": 1, "total_weighted_frequency": 0.5}])
    );
    kbs.push(kb);

    // Ex 5: three patterns with a shared prefix; rows 2 and 3 tie and come in name order
    // (DESIGN.md section 8; the reference's order among them is arbitrary).
    let kb = kb_id("ex5");
    for x in ["a", "b", "c"] {
        let branch = format!("branch_{x}");
        let end = format!("end_{x}");
        learn(&test, &kb, &[&["shared"], &[&branch], &[&end]], 1).await;
    }
    let out = predict_json(&test, &kb, &[&["shared"], &["branch_a"]], &threshold(0.1)).await;
    let rows = out["predictions"].as_array().expect("predictions");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["future"], json!([["end_a"]]));
    for (field, value) in [
        ("confluence", 0.2222),
        ("global_normalized_entropy", 0.1882),
        ("tfidf_score", 0.8962),
        ("predictive_information", 0.5333),
        ("bayesian_posterior", 0.5),
        ("potential", 3.6667),
    ] {
        assert_close(&rows[0], field, value);
    }
    for row in &rows[1..] {
        assert_close(row, "itfdf_similarity", 0.9829);
        assert_close(row, "bayesian_posterior", 0.25);
        assert_close(row, "potential", 2.4273);
    }
    assert!(rows[1]["name"].as_str() < rows[2]["name"].as_str());
    let futures: Vec<(Value, f64)> = out["future_potentials"]
        .as_array()
        .expect("future_potentials")
        .iter()
        .map(|f| {
            (
                f["future"].clone(),
                f["aggregate_potential"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(futures[0], (json!([["end_a"]]), 0.5));
    assert_eq!(futures.len(), 3);
    kbs.push(kb);

    // Ex 6: misaligned STM, negative snr.
    let kb = kb_id("ex6");
    learn(
        &test,
        &kb,
        &[
            &["p1"],
            &["p2"],
            &["p3"],
            &["shared_symbol"],
            &["p5"],
            &["p6"],
        ],
        1,
    )
    .await;
    let stm: &[&[&str]] = &[&["s1"], &["s2"], &["shared_symbol"], &["s4"], &["s5"]];
    let out = predict_json(&test, &kb, stm, &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["extras"], json!([["s1"], ["s2"], [], ["s4"], ["s5"]]));
    assert_close(p, "snr", -0.3333);
    assert_close(p, "potential", 1.6111);
    kbs.push(kb);

    // Ex 7: threshold 0.0 with an unrelated STM; with 0.1 nothing.
    let kb = kb_id("ex7");
    learn(&test, &kb, &[&["known"], &["pattern"], &["here"]], 1).await;
    let stm: &[&[&str]] = &[&["unknown1"], &["unknown2"]];
    let out = predict_json(&test, &kb, stm, &threshold(0.0)).await;
    let p = &out["predictions"][0];
    assert_close(p, "snr", -1.0);
    assert_close(p, "fragmentation", -1.0);
    assert_close(p, "potential", 0.0);
    let out = predict_json(&test, &kb, stm, &threshold(0.1)).await;
    assert_eq!(out["predictions"], json!([]));
    kbs.push(kb);

    // Ex 8: frequency 3.
    let kb = kb_id("ex8");
    learn(&test, &kb, &[&["identical"], &["pattern"]], 3).await;
    let out = predict_json(&test, &kb, &[&["identical"], &["pattern"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["frequency"], json!(3));
    assert_close(p, "potential", 4.0);
    kbs.push(kb);

    // Ex 9: the single-symbol path (flat lists); `b` is not a first token.
    let kb = kb_id("ex9");
    learn(&test, &kb, &[&["a"], &["b"], &["c"], &["d"]], 1).await;
    let out = predict_json(&test, &kb, &[&["a"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["future"], json!(["b", "c", "d"]));
    assert_eq!(p["fragmentation"], json!(0));
    assert_close(p, "potential", 2.25);
    let out = predict_json(&test, &kb, &[&["b"]], &threshold(0.1)).await;
    assert_eq!(out["predictions"], json!([]));
    kbs.push(kb);

    // Ex 10: LCS similarity against difflib blocks.
    let kb = kb_id("ex10");
    learn(&test, &kb, &[&["a"], &["c"], &["a"]], 1).await;
    let out = predict_json(&test, &kb, &[&["c"], &["d"], &["a"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["a"]));
    assert_close(p, "similarity", 0.6667);
    assert_close(p, "potential", 2.0);
    kbs.push(kb);

    // Ex 11: duplicate STM symbol.
    let kb = kb_id("ex11");
    learn(&test, &kb, &[&["a"], &["b"], &["c"]], 1).await;
    let out = predict_json(&test, &kb, &[&["a"], &["a"], &["b"]], &threshold(0.1)).await;
    let p = &out["predictions"][0];
    assert_eq!(p["extras"], json!([[], [], []]));
    assert_close(p, "snr", 0.6);
    assert_close(p, "potential", 2.9487);
    kbs.push(kb);

    // Ex 12: fuzzy tokens.
    let kb = kb_id("ex12");
    learn(
        &test,
        &kb,
        &[&["apple", "banana", "cherry", "date", "elderberry"]],
        1,
    )
    .await;
    let fuzzy = settings(SessionConfig {
        fuzzy_token_threshold: Some(0.85),
        ..SessionConfig::default()
    });
    let out = predict_json(&test, &kb, &[&["apple", "bannana", "chery"]], &fuzzy).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["apple", "bannana", "chery"]));
    assert_close(p, "similarity", 0.25);
    assert_close(p, "potential", 2.6472);
    kbs.push(kb);

    // Ex 13: character mode (a full read of the kb: the symbol bound does not hold there).
    let kb = kb_id("ex13");
    learn(&test, &kb, &[&["apple", "banana", "cherry"]], 1).await;
    let characters = settings(SessionConfig {
        use_token_matching: Some(false),
        ..SessionConfig::default()
    });
    let out = predict_json(&test, &kb, &[&["apple", "banana"]], &characters).await;
    let p = &out["predictions"][0];
    assert_close(p, "similarity", 0.7742);
    assert_eq!(p["missing"], json!([["cherry"]]));
    assert_close(p, "potential", 3.1498);
    kbs.push(kb);

    let refs: Vec<&KbId> = kbs.iter().collect();
    test.finish(&refs).await;
}

/// Zipf(1) ranks below `vocabulary`.
fn zipf_symbol(rng: &mut Xoshiro256PlusPlus, cumulative: &[f64]) -> String {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let target = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    let rank = cumulative.partition_point(|&c| c < target);
    format!("s{rank}")
}

fn random_events(
    rng: &mut Xoshiro256PlusPlus,
    cumulative: &[f64],
    events: usize,
) -> Vec<Vec<String>> {
    (0..events)
        .map(|_| {
            let size = 1 + (rng.next_u64() % 3) as usize;
            let mut event: Vec<String> = (0..size).map(|_| zipf_symbol(rng, cumulative)).collect();
            event.sort();
            event
        })
        .collect()
}

/// Property: for random kbs and STMs, the indexed search gives exactly the predictions of
/// scoring every pattern (byte-identical JSON). Fixed seed; 12 kbs of up to 300 patterns, 15
/// STMs each, over several thresholds (0 among them), pipelines, character mode and fuzzy
/// tokens.
#[tokio::test]
async fn indexed_search_equals_scoring_every_pattern() {
    let Some(test) = TestKb::start("indexed_search_equals_scoring_every_pattern").await else {
        return;
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x6b61_746f);
    let mut kbs = Vec::new();
    let mut compared = 0;
    let mut nonempty = 0;
    let mut stopped_early = 0;
    for case in 0..12 {
        let vocabulary = [20, 60, 200][case % 3];
        let mut total = 0.0;
        let cumulative: Vec<f64> = (1..=vocabulary)
            .map(|rank| {
                total += 1.0 / f64::from(rank);
                total
            })
            .collect();
        let kb = kb_id(&format!("equiv{case}"));
        let count = 1 + (rng.next_u64() % 300) as usize;
        let mut learned = Vec::new();
        let mut learns = Vec::new();
        for _ in 0..count {
            let length = 2 + (rng.next_u64() % 5) as usize;
            let events = random_events(&mut rng, &cumulative, length);
            learns.push(as_pattern(&events));
            learned.push(events);
        }
        let context = LearnContext::default();
        let results = futures_join(&test, &kb, &learns, &context).await;
        assert_eq!(results, learns.len());
        // Every third pattern learned again with emotives: frequencies above 1, emotives and
        // affinities for the predictions (and the affinity-weighted metrics) to read.
        for (at, pattern) in learns.iter().enumerate().filter(|(at, _)| at % 3 == 0) {
            let context = LearnContext {
                emotives: vec![BTreeMap::from([("joy".to_owned(), at as f64 / 10.0 - 1.0)])],
                ..LearnContext::default()
            };
            test.kb
                .learn(&kb, pattern, &context)
                .await
                .expect("learn again");
        }
        for query in 0..15 {
            let stm = if query % 2 == 0 {
                let length = 1 + (rng.next_u64() % 4) as usize;
                random_events(&mut rng, &cumulative, length)
            } else {
                // A slice of a learned pattern, so there are close matches.
                let source = &learned[(rng.next_u64() % learned.len() as u64) as usize];
                let start = (rng.next_u64() % source.len() as u64) as usize;
                source[start..].iter().take(3).cloned().collect()
            };
            let config = SessionConfig {
                // 0 (every pattern), character mode and fuzzy tokens take the path that
                // matches every candidate and prunes before reading Redis.
                recall_threshold: Some([0.1, 0.05, 0.3, 0.6, 0.0][query % 5]),
                max_predictions: Some([100, 5, 20][query % 3] as u32),
                use_token_matching: Some(query % 7 != 3),
                fuzzy_token_threshold: (query % 6 == 5).then_some(0.85),
                affinity_emotive: (query % 4 == 1).then(|| "joy".to_owned()),
                filter_pipeline: match query % 5 {
                    0 => Some(vec!["length".into()]),
                    1 => Some(vec!["jaccard".into(), "bloom".into()]),
                    2 => Some(vec!["bloom".into(), "rapidfuzz".into()]),
                    _ => None,
                },
                ..SessionConfig::default()
            };
            let settings = settings(config);
            let (indexed, scored) = test
                .kb
                .predict_counted(&kb, &stm, &settings)
                .await
                .expect("indexed");
            let matching = &settings.predict.matching;
            let bounded = matching.use_token_matching
                && matching.fuzzy_token_threshold <= 0.0
                && matching.recall_threshold > 0.0;
            if bounded && stm.iter().flatten().count() > 1 && scored < count {
                stopped_early += 1;
            }
            let exhaustive = test
                .kb
                .predict_exhaustive(&kb, &stm, &settings)
                .await
                .expect("exhaustive");
            assert_eq!(
                serde_json::to_string(&indexed).unwrap(),
                serde_json::to_string(&exhaustive).unwrap(),
                "kb {case} ({count} patterns), stm {stm:?}, {settings:?}"
            );
            compared += 1;
            if !indexed.predictions.is_empty() {
                nonempty += 1;
            }
        }
        kbs.push(kb);
    }
    assert!(
        stopped_early > 0,
        "some comparisons must match fewer patterns than the kb holds (the bounded search)"
    );
    assert!(
        nonempty * 2 > compared,
        "most comparisons must have predictions to mean something: {nonempty} of {compared}"
    );
    let refs: Vec<&KbId> = kbs.iter().collect();
    test.finish(&refs).await;
}

/// Learns every pattern concurrently (the group commit batches them); returns how many stored.
async fn futures_join(
    test: &TestKb,
    kb: &KbId,
    patterns: &[Pattern],
    context: &LearnContext,
) -> usize {
    let tasks: Vec<_> = patterns
        .iter()
        .map(|pattern| {
            let (knowledge_base, kb, pattern, context) = (
                test.kb.clone(),
                kb.clone(),
                pattern.clone(),
                context.clone(),
            );
            tokio::spawn(async move { knowledge_base.learn(&kb, &pattern, &context).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        if task.await.expect("learn task").expect("learn").is_some() {
            stored += 1;
        }
    }
    stored
}

/// With the default MinHash settings, a pattern whose Jaccard with the STM is at least 0.8 is
/// found by the `minhash` stage at least 99% of the time.
#[tokio::test]
async fn lsh_finds_close_patterns() {
    let Some(test) = TestKb::start("lsh_finds_close_patterns").await else {
        return;
    };
    let kb = kb_id("lsh");
    let cases = 400;
    let mut stms = Vec::new();
    let mut patterns = Vec::new();
    for case in 0..cases {
        // 10 distinct tokens; the pattern swaps one for a token of its own: Jaccard 9/11.
        let tokens: Vec<String> = (0..10).map(|t| format!("c{case}t{t}")).collect();
        let mut learned = tokens.clone();
        learned[case % 10] = format!("c{case}other");
        stms.push(vec![tokens]);
        patterns.push(as_pattern(&sorted(&[&learned
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()])));
    }
    assert_eq!(
        futures_join(&test, &kb, &patterns, &LearnContext::default()).await,
        cases
    );
    let settings = settings(SessionConfig {
        filter_pipeline: Some(vec!["minhash".into()]),
        ..SessionConfig::default()
    });
    let mut found = 0;
    for (stm, pattern) in stms.iter().zip(&patterns) {
        let name = pattern.name().as_hex().to_owned();
        let predictions = test.kb.predict(&kb, stm, &settings).await.expect("predict");
        let json = serde_json::to_value(&predictions).expect("json");
        if json["predictions"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == name.as_str()))
        {
            found += 1;
        }
    }
    assert!(
        found * 100 >= cases * 99,
        "LSH found {found} of {cases} patterns with Jaccard 0.82"
    );

    // Another scheme than the stored one would find nothing; it is refused, naming the keys.
    let other_scheme = crate::predict::settings(SessionConfig {
        filter_pipeline: Some(vec!["minhash".into()]),
        minhash_bands: Some(10),
        minhash_rows: Some(10),
        ..SessionConfig::default()
    });
    let refused = test.kb.predict(&kb, &stms[0], &other_scheme).await;
    assert!(
        matches!(&refused, Err(kato_kb::KbError::InvalidInput { field, .. }) if field.contains("minhash_bands")),
        "{refused:?}"
    );
    test.finish(&[&kb]).await;
}

#[tokio::test]
async fn predictions_are_byte_identical_across_runs_and_restarts() {
    let Some(test) = TestKb::start("predictions_are_byte_identical_across_runs_and_restarts").await
    else {
        return;
    };
    let kb = kb_id("det");
    for x in ["a", "b", "c", "d"] {
        let branch = format!("branch_{x}");
        learn(&test, &kb, &[&["shared"], &[&branch], &["end"]], 1).await;
    }
    let stm = sorted(&[&["shared"], &["branch_a"]]);
    let settings = PredictionSettings::default();
    let first =
        serde_json::to_string(&test.kb.predict(&kb, &stm, &settings).await.unwrap()).unwrap();
    let second =
        serde_json::to_string(&test.kb.predict(&kb, &stm, &settings).await.unwrap()).unwrap();
    assert_eq!(first, second);

    let clickhouse = kato_test_support::clickhouse_url("restart").expect("services");
    let redis = kato_test_support::redis_url("restart").expect("services");
    let mut config = kato_kb::KnowledgeBaseConfig::new(clickhouse, redis);
    config.clickhouse_database.clone_from(&test.database);
    let restarted = kato_kb::KnowledgeBase::connect(config)
        .await
        .expect("reconnect");
    let after =
        serde_json::to_string(&restarted.predict(&kb, &stm, &settings).await.unwrap()).unwrap();
    assert_eq!(
        first, after,
        "a new process over the same stores answers the same bytes"
    );
    test.finish(&[&kb]).await;
}
