//! `RedisWriter` against a real Redis: the reference's learn semantics (spec section 4),
//! isolation between kbs, concurrency and odd input.

use std::collections::BTreeMap;

use kato_core::KbId;
use kato_redis::{GlobalCounters, LearnUpdate, RedisConfig, RedisWriter, SymbolStats};

async fn writer(test: &str) -> Option<RedisWriter> {
    let url = kato_test_support::redis_url(test)?;
    Some(
        RedisWriter::connect(&url, RedisConfig::default())
            .await
            .expect("connect"),
    )
}

fn kb(label: &str) -> KbId {
    KbId::new(kato_test_support::unique_kb_id(label)).expect("valid kb id")
}

/// A learn of `events` with emotive dicts given as (key, value) lists.
fn learn(kb: &KbId, name: &str, events: &[&[&str]], emotives: &[&[(&str, f64)]]) -> LearnUpdate {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for symbol in events.iter().flat_map(|e| e.iter()) {
        *counts.entry((*symbol).to_owned()).or_default() += 1;
    }
    let mut sums: BTreeMap<String, (f64, u32)> = BTreeMap::new();
    for emotive in emotives {
        for (key, value) in *emotive {
            let entry = sums.entry((*key).to_owned()).or_default();
            entry.0 += value;
            entry.1 += 1;
        }
    }
    LearnUpdate {
        kb: kb.clone(),
        name: name.to_owned(),
        length: u32::try_from(events.iter().map(|e| e.len()).sum::<usize>()).unwrap(),
        symbol_counts: counts.into_iter().collect(),
        emotives: emotives
            .iter()
            .map(|e| {
                let map: BTreeMap<&str, f64> = e.iter().copied().collect();
                serde_json::to_string(&map).unwrap()
            })
            .collect(),
        emotive_means: sums
            .into_iter()
            .map(|(k, (sum, n))| (k, sum / f64::from(n)))
            .collect(),
        metadata: Vec::new(),
        persistence: 5,
    }
}

fn mood_values(entries: &[String]) -> Vec<f64> {
    entries
        .iter()
        .map(|e| serde_json::from_str::<BTreeMap<String, f64>>(e).unwrap()["mood"])
        .collect()
}

#[tokio::test]
async fn first_learn_then_relearn_follow_the_reference() {
    let Some(redis) = writer("first_learn_then_relearn_follow_the_reference").await else {
        return;
    };
    let kb = kb("relearn");
    let first = learn(
        &kb,
        "p1",
        &[&["X"], &["Y", "Y"]],
        &[&[("mood", 0.9)], &[("mood", 0.8)]],
    );
    let outcome = redis.apply_learn(&first).await.unwrap();
    assert!(outcome.is_new);
    assert_eq!(outcome.frequency, 1);
    assert_eq!(
        mood_values(&redis.get_emotives(&kb, "p1").await.unwrap()),
        [0.9, 0.8]
    );

    let again = learn(
        &kb,
        "p1",
        &[&["X"], &["Y", "Y"]],
        &[&[("mood", 0.5)], &[("mood", 0.3)]],
    );
    let outcome = redis.apply_learn(&again).await.unwrap();
    assert!(!outcome.is_new);
    assert_eq!(outcome.frequency, 2);
    assert_eq!(redis.get_frequency(&kb, "p1").await.unwrap(), 2);
    assert_eq!(
        mood_values(&redis.get_emotives(&kb, "p1").await.unwrap()),
        [0.9, 0.8, 0.5, 0.3]
    );

    // Symbol frequency counts every learn; member count (pmf) only the first.
    let stats = redis
        .symbol_stats(&kb, &["X".into(), "Y".into(), "never".into()])
        .await
        .unwrap();
    assert_eq!(
        stats,
        [
            SymbolStats {
                frequency: 2,
                pattern_member_count: 1
            },
            SymbolStats {
                frequency: 4,
                pattern_member_count: 1
            },
            SymbolStats::default(),
        ]
    );
    // Re-learn adds the length again but leaves the pattern counters alone.
    assert_eq!(
        redis.global_counters(&kb).await.unwrap(),
        GlobalCounters {
            total_unique_patterns: 1,
            total_pattern_frequencies: 1,
            total_symbols_in_patterns_frequencies: 6,
            distinct_symbols: 2,
        }
    );
    // Affinity: per learn, the mean of that learn's emotives, summed.
    let affinity = redis.symbol_affinity(&kb, "X").await.unwrap();
    let expected = (0.9 + 0.8) / 2.0 + (0.5 + 0.3) / 2.0;
    assert!((affinity["mood"] - expected).abs() < 1e-12, "{affinity:?}");

    redis.delete_all_metadata(&kb).await.unwrap();
}

#[tokio::test]
async fn the_emotive_window_keeps_the_newest_persistence_entries() {
    let Some(redis) = writer("the_emotive_window_keeps_the_newest_persistence_entries").await
    else {
        return;
    };
    let kb = kb("window");
    let events: &[&[&str]] = &[&["a"], &["b"]];
    redis
        .apply_learn(&learn(
            &kb,
            "p",
            events,
            &[&[("mood", 0.0)], &[("mood", 1.0)], &[("mood", 2.0)]],
        ))
        .await
        .unwrap();
    redis
        .apply_learn(&learn(
            &kb,
            "p",
            events,
            &[&[("mood", 3.0)], &[("mood", 4.0)], &[("mood", 5.0)]],
        ))
        .await
        .unwrap();
    assert_eq!(
        mood_values(&redis.get_emotives(&kb, "p").await.unwrap()),
        [1.0, 2.0, 3.0, 4.0, 5.0]
    );
    redis.delete_all_metadata(&kb).await.unwrap();
}

#[tokio::test]
async fn metadata_is_a_sorted_union_per_key() {
    let Some(redis) = writer("metadata_is_a_sorted_union_per_key").await else {
        return;
    };
    let kb = kb("metadata");
    let mut first = learn(&kb, "p", &[&["a", "b"]], &[]);
    first.metadata = vec![
        ("source".into(), "zeta".into()),
        ("flag".into(), "True".into()),
    ];
    let mut second = learn(&kb, "p", &[&["a", "b"]], &[]);
    second.metadata = vec![
        ("source".into(), "alpha".into()),
        ("source".into(), "zeta".into()),
    ];
    redis.apply_learn(&first).await.unwrap();
    redis.apply_learn(&second).await.unwrap();
    redis
        .write_metadata(&kb, "p", &[("extra".into(), "45.67".into())])
        .await
        .unwrap();
    let metadata = redis.get_metadata(&kb, "p").await.unwrap();
    let expected: BTreeMap<String, Vec<String>> = [
        ("extra", vec!["45.67"]),
        ("flag", vec!["True"]),
        ("source", vec!["alpha", "zeta"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(metadata, expected);
    redis.delete_all_metadata(&kb).await.unwrap();
}

#[tokio::test]
async fn frequency_existence_and_count_helpers() {
    let Some(redis) = writer("frequency_existence_and_count_helpers").await else {
        return;
    };
    let kb = kb("helpers");
    assert!(!redis.pattern_exists(&kb, "p").await.unwrap());
    assert_eq!(redis.get_frequency(&kb, "p").await.unwrap(), 0);
    assert_eq!(redis.count_patterns(&kb).await.unwrap(), 0);
    redis
        .apply_learn(&learn(&kb, "p", &[&["a", "b"]], &[]))
        .await
        .unwrap();
    redis
        .apply_learn(&learn(&kb, "q", &[&["a"], &["c"]], &[]))
        .await
        .unwrap();
    assert!(redis.pattern_exists(&kb, "p").await.unwrap());
    assert_eq!(redis.count_patterns(&kb).await.unwrap(), 2);
    assert_eq!(redis.increment_frequency(&kb, "p").await.unwrap(), 2);
    assert_eq!(redis.get_frequency(&kb, "p").await.unwrap(), 2);
    let stats = redis.all_symbol_stats(&kb).await.unwrap();
    assert_eq!(stats.len(), 3);
    assert_eq!(
        stats["a"],
        SymbolStats {
            frequency: 2,
            pattern_member_count: 2
        }
    );
    redis.delete_all_metadata(&kb).await.unwrap();
}

#[tokio::test]
async fn clearing_one_kb_leaves_a_kb_with_a_longer_id_intact() {
    let Some(redis) = writer("clearing_one_kb_leaves_a_kb_with_a_longer_id_intact").await else {
        return;
    };
    // `kb` and `kb_1`: one id is a prefix of the other.
    let kb = kb("iso");
    let kb_1 = KbId::new(format!("{kb}_1")).unwrap();
    for target in [&kb, &kb_1] {
        redis
            .apply_learn(&learn(target, "p", &[&["a"], &["b"]], &[&[("joy", 1.0)]]))
            .await
            .unwrap();
    }
    let before = redis.scan_kb_keys(&kb_1).await.unwrap();
    assert!(!before.is_empty());
    let deleted = redis.delete_all_metadata(&kb).await.unwrap();
    assert_eq!(
        deleted,
        u64::try_from(before.len()).unwrap(),
        "same layout in both kbs"
    );
    assert!(redis.scan_kb_keys(&kb).await.unwrap().is_empty());
    assert_eq!(redis.scan_kb_keys(&kb_1).await.unwrap(), before);
    assert_eq!(redis.get_frequency(&kb_1, "p").await.unwrap(), 1);
    redis.delete_all_metadata(&kb_1).await.unwrap();
}

#[tokio::test]
async fn sixty_four_concurrent_learns_of_one_new_pattern() {
    let Some(redis) = writer("sixty_four_concurrent_learns_of_one_new_pattern").await else {
        return;
    };
    let kb = kb("concurrent");
    let update = learn(&kb, "p", &[&["a", "b"], &["c"]], &[]);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let redis = redis.clone();
            let update = update.clone();
            tokio::spawn(async move { redis.apply_learn(&update).await.unwrap() })
        })
        .collect();
    let mut new_count = 0;
    let mut frequencies = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        new_count += usize::from(outcome.is_new);
        frequencies.push(outcome.frequency);
    }
    frequencies.sort_unstable();
    assert_eq!(new_count, 1, "exactly one learn created the pattern");
    assert_eq!(frequencies, (1..=64).collect::<Vec<u64>>());
    assert_eq!(redis.get_frequency(&kb, "p").await.unwrap(), 64);
    let stats = redis.symbol_stats(&kb, &["a".into()]).await.unwrap();
    assert_eq!(
        stats[0],
        SymbolStats {
            frequency: 64,
            pattern_member_count: 1
        }
    );
    assert_eq!(redis.count_patterns(&kb).await.unwrap(), 1);
    redis.delete_all_metadata(&kb).await.unwrap();
}

#[tokio::test]
async fn odd_symbols_round_trip_byte_for_byte_and_stay_in_their_kb() {
    let Some(redis) = writer("odd_symbols_round_trip_byte_for_byte_and_stay_in_their_kb").await
    else {
        return;
    };
    let kb = kb("odd");
    let other = kb_other(&kb);
    let odd = [
        "it's \"quoted\"",
        "back\\slash",
        "100%",
        "star*",
        "{brace}",
        "new\nline",
        "café ☕",
        "kato:{x}:*",
    ];
    let events: Vec<&[&str]> = odd.iter().map(std::slice::from_ref).collect();
    let mut update = learn(&kb, "p", &events, &[&[("mood", 1.0)]]);
    update.metadata = odd
        .iter()
        .map(|s| ((*s).to_owned(), (*s).to_owned()))
        .collect();
    redis.apply_learn(&update).await.unwrap();

    let stats = redis.all_symbol_stats(&kb).await.unwrap();
    let mut expected: Vec<&str> = odd.to_vec();
    expected.sort_unstable();
    assert_eq!(
        stats.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for symbol in odd {
        assert_eq!(
            redis.symbol_affinity(&kb, symbol).await.unwrap()["mood"],
            1.0
        );
        assert!(
            redis
                .symbol_affinity(&other, symbol)
                .await
                .unwrap()
                .is_empty()
        );
    }
    let metadata = redis.get_metadata(&kb, "p").await.unwrap();
    for symbol in odd {
        assert_eq!(metadata[symbol], [symbol]);
    }
    assert!(redis.scan_kb_keys(&other).await.unwrap().is_empty());
    redis.delete_all_metadata(&kb).await.unwrap();
    assert!(redis.scan_kb_keys(&kb).await.unwrap().is_empty());
}

fn kb_other(kb: &KbId) -> KbId {
    KbId::new(format!("{kb}x")).unwrap()
}

/// Kb ids of glob, brace, separator and escape characters (and raw forms an escaping that
/// kept its own escape character would merge) each keep their own keys: SCAN and delete of one
/// see only its keys, and a learn into one counts in no other.
#[tokio::test]
async fn kb_ids_of_any_characters_keep_their_keys_apart() {
    let Some(redis) = writer("kb_ids_of_any_characters_keep_their_keys_apart").await else {
        return;
    };
    let base = kb("apart");
    let kbs: Vec<KbId> = [
        "", "*", "}:x", ":{other}", " b", "%2A", "%7D%3Ax", "ü", "\n\u{0}",
    ]
    .iter()
    .map(|suffix| KbId::new(format!("{base}{suffix}")).unwrap())
    .collect();
    for (i, kb) in kbs.iter().enumerate() {
        let own = format!("own{i}");
        redis
            .apply_learn(&learn(kb, "p", &[&["shared"], &[own.as_str()]], &[]))
            .await
            .unwrap();
    }
    for (i, kb) in kbs.iter().enumerate() {
        let stats = redis.all_symbol_stats(kb).await.unwrap();
        let own = format!("own{i}");
        let mut expected = vec!["shared", own.as_str()];
        expected.sort_unstable();
        assert_eq!(
            stats.keys().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{kb:?}"
        );
        assert_eq!(stats["shared"].frequency, 1, "{kb:?}");
        assert_eq!(redis.count_patterns(kb).await.unwrap(), 1, "{kb:?}");
    }
    // Deleting the kb whose id is a glob leaves every other kb's keys.
    let mut before = Vec::new();
    for kb in &kbs {
        before.push(redis.scan_kb_keys(kb).await.unwrap().len());
    }
    redis.delete_all_metadata(&kbs[1]).await.unwrap();
    for (i, kb) in kbs.iter().enumerate() {
        let keys = redis.scan_kb_keys(kb).await.unwrap().len();
        let expected = if i == 1 { 0 } else { before[i] };
        assert_eq!(keys, expected, "{kb:?} after deleting {:?}", kbs[1]);
    }
    for kb in &kbs {
        redis.delete_all_metadata(kb).await.unwrap();
    }
}

/// A varied sequence: new patterns, re-learns, emotives, metadata, odd symbols.
fn varied_learns(kb: &KbId) -> Vec<LearnUpdate> {
    let mut with_metadata = learn(kb, "m", &[&["a"], &["b", "{*}"]], &[&[("joy", 0.25)]]);
    with_metadata.metadata = vec![("k".into(), "v2".into()), ("k".into(), "v1".into())];
    vec![
        learn(
            kb,
            "p",
            &[&["a", "b"], &["c"]],
            &[&[("joy", 0.1)], &[("joy", 0.2), ("fear", 1.0)]],
        ),
        learn(kb, "q", &[&["a"], &["a"]], &[]),
        learn(kb, "p", &[&["a", "b"], &["c"]], &[&[("joy", 0.3)]]),
        with_metadata,
        learn(kb, "q", &[&["a"], &["a"]], &[&[("fear", 0.7)]]),
        learn(
            kb,
            "p",
            &[&["a", "b"], &["c"]],
            &[&[("joy", 1.0 / 3.0)] as &[_]; 4],
        ),
    ]
}

#[tokio::test]
async fn a_run_in_one_script_equals_learning_one_at_a_time() {
    let Some(redis) = writer("a_run_in_one_script_equals_learning_one_at_a_time").await else {
        return;
    };
    let one_by_one = kb("serial");
    let at_once = kb("batched");
    let mut serial_outcomes = Vec::new();
    for update in varied_learns(&one_by_one) {
        serial_outcomes.push(redis.apply_learn(&update).await.unwrap());
    }
    let batched_outcomes = redis.apply_learns(&varied_learns(&at_once)).await.unwrap();
    assert_eq!(serial_outcomes, batched_outcomes);
    let new_flags: Vec<bool> = batched_outcomes.iter().map(|o| o.is_new).collect();
    assert_eq!(new_flags, [true, true, false, true, false, false]);
    let serial = redis.dump_kb(&one_by_one).await.unwrap();
    assert!(serial.len() > 10, "{serial:?}");
    assert_eq!(serial, redis.dump_kb(&at_once).await.unwrap());
    redis.delete_all_metadata(&one_by_one).await.unwrap();
    redis.delete_all_metadata(&at_once).await.unwrap();
}

#[tokio::test]
async fn runs_of_several_kbs_in_one_call_stay_apart() {
    let Some(redis) = writer("runs_of_several_kbs_in_one_call_stay_apart").await else {
        return;
    };
    let (a, b) = (kb("mix_a"), kb("mix_b"));
    let updates = vec![
        learn(&a, "p", &[&["x", "y"]], &[]),
        learn(&b, "p", &[&["x", "y"]], &[]),
        learn(&a, "p", &[&["x", "y"]], &[]),
        learn(&b, "q", &[&["z", "y"]], &[]),
    ];
    let outcomes = redis.apply_learns(&updates).await.unwrap();
    let summary: Vec<(bool, u64)> = outcomes.iter().map(|o| (o.is_new, o.frequency)).collect();
    assert_eq!(summary, [(true, 1), (true, 1), (false, 2), (true, 1)]);
    assert_eq!(redis.count_patterns(&a).await.unwrap(), 1);
    assert_eq!(redis.count_patterns(&b).await.unwrap(), 2);
    let y = &redis.symbol_stats(&b, &["y".into()]).await.unwrap()[0];
    assert_eq!((y.frequency, y.pattern_member_count), (2, 2));
    redis.delete_all_metadata(&a).await.unwrap();
    redis.delete_all_metadata(&b).await.unwrap();
}
