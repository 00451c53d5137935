//! The reference's learning rules (spec section 4) through the facade.

use kato_kb::{ErrorKind, LearnContext};
use kato_redis::{GlobalCounters, SymbolStats};
use serde_json::{Map, Value, json};

use crate::support::{TestKb, emotives, kb_id, pattern};

fn mood_window(stored: &kato_kb::StoredPattern) -> Vec<f64> {
    stored
        .emotives
        .iter()
        .map(|e| e["mood"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn first_learn_relearn_and_get_pattern() {
    let Some(test) = TestKb::start("first_learn_relearn_and_get_pattern").await else {
        return;
    };
    let kb = kb_id("learn");
    let xy = pattern(&[&["X"], &["Y"]]);

    let first = test
        .kb
        .learn(&kb, &xy, &emotives(&[&[("mood", 0.9)], &[("mood", 0.8)]]))
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_new);
    assert_eq!(first.frequency, 1);
    assert_eq!(
        first.name.to_string(),
        format!("PTRN|{}", xy.name().as_hex())
    );
    let again = test
        .kb
        .learn(&kb, &xy, &emotives(&[&[("mood", 0.5)], &[("mood", 0.3)]]))
        .await
        .unwrap()
        .unwrap();
    assert!(!again.is_new);
    assert_eq!(again.frequency, 2);

    let stored = test
        .kb
        .get_pattern(&kb, &first.name)
        .await
        .unwrap()
        .expect("learned pattern");
    assert_eq!(stored.name, first.name.to_string());
    assert_eq!(
        stored.pattern_data,
        vec![vec!["X".to_owned()], vec!["Y".to_owned()]]
    );
    assert_eq!(stored.length, 2);
    assert_eq!(stored.frequency, 2);
    assert_eq!(mood_window(&stored), [0.9, 0.8, 0.5, 0.3]);

    let unknown = pattern(&[&["never"], &["learned"]]).name();
    assert_eq!(test.kb.get_pattern(&kb, &unknown).await.unwrap(), None);
    // The same pattern is unknown in another kb.
    assert_eq!(
        test.kb
            .get_pattern(&kb_id("other"), &first.name)
            .await
            .unwrap(),
        None
    );

    // Symbol statistics, globals and affinity sums of the two learns.
    let stats = test.kb.symbol_stats(&kb).await.unwrap();
    assert_eq!(
        stats["X"],
        SymbolStats {
            frequency: 2,
            pattern_member_count: 1
        }
    );
    assert_eq!(
        test.kb.global_counters(&kb).await.unwrap(),
        GlobalCounters {
            total_unique_patterns: 1,
            total_pattern_frequencies: 1,
            total_symbols_in_patterns_frequencies: 4,
            distinct_symbols: 2,
        }
    );
    let affinity = test.kb.symbol_affinity(&kb, "Y").await.unwrap();
    assert!(
        (affinity["mood"] - (0.85 + 0.4)).abs() < 1e-12,
        "{affinity:?}"
    );
    assert_eq!(test.kb.all_affinities(&kb).await.unwrap().len(), 2);
    assert_eq!(test.kb.count_patterns(&kb).await.unwrap(), 1);
    test.finish(&[&kb]).await;
}

#[tokio::test]
async fn the_emotive_window_and_metadata_union() {
    let Some(test) = TestKb::start("the_emotive_window_and_metadata_union").await else {
        return;
    };
    let kb = kb_id("window");
    let ab = pattern(&[&["a", "b"]]);
    let moods = |values: &[f64]| {
        let maps: Vec<Vec<(&str, f64)>> = values.iter().map(|v| vec![("mood", *v)]).collect();
        let refs: Vec<&[(&str, f64)]> = maps.iter().map(Vec::as_slice).collect();
        emotives(&refs)
    };
    let mut first = moods(&[0.0, 1.0, 2.0]);
    first.metadata = vec![json_map(json!({"source": "zeta", "flag": true}))];
    let mut second = moods(&[3.0, 4.0, 5.0]);
    second.metadata = vec![
        json_map(json!({"source": "alpha", "price": 45.67})),
        json_map(json!({"source": "zeta", "none": null})),
    ];
    test.kb.learn(&kb, &ab, &first).await.unwrap();
    let learned = test.kb.learn(&kb, &ab, &second).await.unwrap().unwrap();

    let stored = test
        .kb
        .get_pattern(&kb, &learned.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mood_window(&stored), [1.0, 2.0, 3.0, 4.0, 5.0]);
    let metadata: Vec<(&str, Vec<&str>)> = stored
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        metadata,
        [
            ("flag", vec!["True"]),
            ("none", vec!["None"]),
            ("price", vec!["45.67"]),
            ("source", vec!["alpha", "zeta"])
        ]
    );
    test.finish(&[&kb]).await;
}

fn json_map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[tokio::test]
async fn small_patterns_bad_input_and_drop_refusal() {
    let Some(test) = TestKb::start("small_patterns_bad_input_and_drop_refusal").await else {
        return;
    };
    let kb = kb_id("rules");
    assert_eq!(
        test.kb
            .learn(&kb, &pattern(&[&["alone"]]), &LearnContext::default())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        test.kb
            .learn(&kb, &pattern(&[]), &LearnContext::default())
            .await
            .unwrap(),
        None
    );
    assert_eq!(test.kb.count_patterns(&kb).await.unwrap(), 0);

    let bad = LearnContext {
        persistence: 0,
        ..LearnContext::default()
    };
    let err = test
        .kb
        .learn(&kb, &pattern(&[&["a", "b"]]), &bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert!(err.to_string().contains("persistence"), "{err}");

    let production = kato_core::KbId::new("production_kb").unwrap();
    let err = test.kb.drop_database(&production, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert!(err.to_string().contains("refusing to drop"), "{err}");
    // A test kb drops without force.
    test.kb
        .learn(&kb, &pattern(&[&["a", "b"]]), &LearnContext::default())
        .await
        .unwrap();
    test.kb.drop_database(&kb, false).await.unwrap();
    assert_eq!(test.kb.count_patterns(&kb).await.unwrap(), 0);
    assert_eq!(test.kb.clickhouse().count_patterns(&kb).await.unwrap(), 0);
    test.finish(&[&kb]).await;
}

#[tokio::test]
async fn clear_all_touches_only_its_kb() {
    let Some(test) = TestKb::start("clear_all_touches_only_its_kb").await else {
        return;
    };
    let kb = kb_id("iso");
    let kb_1 = kato_core::KbId::new(format!("{kb}_1")).unwrap();
    let p = pattern(&[&["shared"], &["symbols"]]);
    for target in [&kb, &kb_1] {
        test.kb
            .learn(target, &p, &emotives(&[&[("joy", 1.0)]]))
            .await
            .unwrap();
    }
    let before = test.kb.redis().dump_kb(&kb_1).await.unwrap();
    test.kb.clear_all(&kb).await.unwrap();
    assert_eq!(test.kb.get_pattern(&kb, &p.name()).await.unwrap(), None);
    assert!(test.kb.redis().dump_kb(&kb).await.unwrap().is_empty());
    assert_eq!(test.kb.redis().dump_kb(&kb_1).await.unwrap(), before);
    assert_eq!(
        test.kb
            .get_pattern(&kb_1, &p.name())
            .await
            .unwrap()
            .unwrap()
            .frequency,
        1
    );
    assert_eq!(
        test.kb.clickhouse().learn_log(&kb_1).await.unwrap().len(),
        1
    );
    test.finish(&[&kb, &kb_1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_learners_end_where_a_serial_run_ends() {
    let Some(test) = TestKb::start("sixteen_concurrent_learners_end_where_a_serial_run_ends").await
    else {
        return;
    };
    let concurrent = kb_id("concurrent");
    let serial = kb_id("serial");
    // Task t learns patterns t % 5, (t + 1) % 5, ... : heavy overlap between tasks.
    let plan: Vec<Vec<usize>> = (0..16)
        .map(|t| (0..10).map(|i| (t + i) % 5).collect())
        .collect();
    let patterns: Vec<_> = (0..5)
        .map(|i| pattern(&[&["common"], &[&format!("p{i}")]]))
        .collect();

    let tasks: Vec<_> = plan
        .iter()
        .map(|picks| {
            let (kb, knowledge_base) = (concurrent.clone(), test.kb.clone());
            let learns: Vec<_> = picks.iter().map(|&i| patterns[i].clone()).collect();
            tokio::spawn(async move {
                for p in learns {
                    knowledge_base
                        .learn(&kb, &p, &LearnContext::default())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for picks in &plan {
        for &i in picks {
            test.kb
                .learn(&serial, &patterns[i], &LearnContext::default())
                .await
                .unwrap();
        }
    }
    for p in &patterns {
        let a = test
            .kb
            .get_pattern(&concurrent, &p.name())
            .await
            .unwrap()
            .unwrap();
        let b = test
            .kb
            .get_pattern(&serial, &p.name())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.frequency, b.frequency);
        assert_eq!(
            a.frequency, 32,
            "each pattern is picked twice by each of 16 tasks"
        );
    }
    assert_eq!(
        test.kb.redis().dump_kb(&concurrent).await.unwrap(),
        test.kb.redis().dump_kb(&serial).await.unwrap()
    );
    test.finish(&[&concurrent, &serial]).await;
}
