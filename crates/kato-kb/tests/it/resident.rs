//! The resident index on real stores (DESIGN.md section 5): freshness across instances that
//! share the stores (learns, clears, drops, a Redis that lost the kb's data, rehydrate,
//! concurrent learners), the memory budget (LRU eviction, transparent reload, refusal of a kb
//! bigger than the budget) and warming with `load_index`.

use std::collections::BTreeSet;

use kato_core::{KbId, Pattern};
use kato_kb::{
    ErrorKind, KbError, KnowledgeBase, KnowledgeBaseConfig, LearnContext, PredictionSettings,
    ResidentConfig, SessionConfig,
};
use serde_json::Value;

use crate::support::{TestKb, kb_id, pattern};

/// Another instance over the same stores and database as `test`, with its own resident
/// indexes kept as `resident` says.
async fn instance(test: &TestKb, resident: ResidentConfig) -> KnowledgeBase {
    let clickhouse = kato_test_support::clickhouse_url("resident instance").expect("services");
    let redis = kato_test_support::redis_url("resident instance").expect("services");
    let mut config = KnowledgeBaseConfig::new(clickhouse, redis);
    config.clickhouse_database.clone_from(&test.database);
    config.resident = resident;
    KnowledgeBase::connect(config).await.expect("connect")
}

/// Pattern `id` of the family `tag`: its own symbols plus one shared with a seventh of the
/// others, so an STM cut from it also finds other candidates. Events are sorted, as the STM
/// holds them.
fn numbered(tag: &str, id: usize) -> Pattern {
    let (a, shared, b, c) = (
        format!("{tag}a{id}"),
        format!("{tag}s{}", id % 7),
        format!("{tag}b{id}"),
        format!("{tag}c{id}"),
    );
    pattern(&[&[&a, &shared], &[&b], &[&c]])
}

/// The STM cut from pattern `id` of `tag`: its first two events (`single`: its first symbol
/// alone, the single-symbol path).
fn cut(tag: &str, id: usize, single: bool) -> Vec<Vec<String>> {
    let events: Vec<Vec<String>> = numbered(tag, id)
        .events()
        .iter()
        .map(|event| event.iter().map(|s| s.as_str().to_owned()).collect())
        .collect();
    if single {
        vec![vec![events[0][0].clone()]]
    } else {
        events[..2].to_vec()
    }
}

fn settings(config: SessionConfig) -> PredictionSettings {
    config.prediction_settings().expect("valid settings")
}

/// A few sessions that take different paths of the index: the bounded search, every pattern
/// at threshold 0 with a small result, filter stages, character mode.
fn sessions() -> Vec<PredictionSettings> {
    vec![
        PredictionSettings::default(),
        settings(SessionConfig {
            recall_threshold: Some(0.0),
            max_predictions: Some(5),
            ..SessionConfig::default()
        }),
        settings(SessionConfig {
            filter_pipeline: Some(vec!["length".into(), "jaccard".into()]),
            max_predictions: Some(10),
            ..SessionConfig::default()
        }),
        settings(SessionConfig {
            use_token_matching: Some(false),
            recall_threshold: Some(0.3),
            ..SessionConfig::default()
        }),
    ]
}

/// `predict` on `instance`, asserted byte-identical to `predict_exhaustive` on it (both run
/// at once: nothing is learned while they do); the predictions as JSON.
async fn exact(
    instance: &KnowledgeBase,
    kb: &KbId,
    stm: &[Vec<String>],
    settings: &PredictionSettings,
    scenario: &str,
) -> Value {
    let (indexed, exhaustive) = tokio::join!(
        instance.predict(kb, stm, settings),
        instance.predict_exhaustive(kb, stm, settings)
    );
    let indexed = indexed.unwrap_or_else(|e| panic!("{scenario}: predict: {e}"));
    let exhaustive = exhaustive.unwrap_or_else(|e| panic!("{scenario}: predict_exhaustive: {e}"));
    let indexed = serde_json::to_string(&indexed).expect("serialise");
    assert_eq!(
        indexed,
        serde_json::to_string(&exhaustive).expect("serialise"),
        "{scenario}: predict differs from predict_exhaustive for stm {stm:?}, {settings:?}"
    );
    serde_json::from_str(&indexed).expect("json")
}

/// The bare names of the predictions.
fn names(predictions: &Value) -> Vec<String> {
    predictions["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[track_caller]
fn assert_includes(predictions: &Value, learned: &Pattern, scenario: &str) {
    let name = learned.name().as_hex().to_owned();
    assert!(
        names(predictions).contains(&name),
        "{scenario}: pattern {name} learned before the prediction is missing from {predictions}"
    );
}

#[track_caller]
fn assert_empty(predictions: &Value, scenario: &str) {
    assert_eq!(
        predictions["predictions"],
        Value::Array(Vec::new()),
        "{scenario}: predicted patterns of a cleared kb"
    );
}

async fn learn_one(instance: &KnowledgeBase, kb: &KbId, learned: &Pattern) {
    instance
        .learn(kb, learned, &LearnContext::default())
        .await
        .expect("learn")
        .expect("stored");
}

async fn learn_all(instance: &KnowledgeBase, kb: &KbId, patterns: &[Pattern]) {
    let learned = instance
        .learn_many(kb, patterns, &LearnContext::default())
        .await
        .expect("learn_many");
    assert!(learned.iter().all(Option::is_some));
}

/// Every pattern one instance learns is predicted by the other right after the learn returns
/// (200 rounds, a fifth of them the other way round), exactly as scoring every pattern does;
/// no round needs a rebuild (the feed carries every learn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learns_on_one_instance_are_predicted_at_once_by_the_other() {
    let Some(test) =
        TestKb::start("learns_on_one_instance_are_predicted_at_once_by_the_other").await
    else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("fresh");
    let sessions = sessions();
    let rounds = 200;
    for round in 0..rounds {
        let (learner, predictor, direction) = if round % 5 == 4 {
            (&b, &a, "B to A")
        } else {
            (&a, &b, "A to B")
        };
        let learned = numbered("f", round);
        learn_one(learner, &kb, &learned).await;
        let single = round % 10 == 0;
        let stm = cut("f", round, single);
        let settings = &sessions[round % sessions.len()];
        let scenario = format!("round {round} ({direction}, single symbol: {single})");
        let predictions = exact(predictor, &kb, &stm, settings, &scenario).await;
        assert_includes(&predictions, &learned, &scenario);
    }
    // Each instance is current, and its own learns count as much as the other's.
    for (label, instance) in [("A", &a), ("B", &b)] {
        let scenario = format!("{label} after {rounds} rounds");
        for id in [0, 1, 4, 99, 198, 199] {
            let predictions =
                exact(instance, &kb, &cut("f", id, false), &sessions[0], &scenario).await;
            assert_includes(&predictions, &numbered("f", id), &scenario);
        }
        let stats = instance.index_stats();
        assert_eq!(stats.patterns, rounds as u64, "{scenario}: {stats:?}");
        assert_eq!(stats.resident_kbs, 1, "{scenario}: {stats:?}");
        assert_eq!(
            (stats.loads, stats.rebuilds),
            (1, 0),
            "{scenario}: one load, then the feed alone: {stats:?}"
        );
    }
    assert!(b.index_stats().catch_ups > 0, "{:?}", b.index_stats());
    assert_eq!(a.count_patterns(&kb).await.unwrap(), rounds as u64);
    test.finish(&[&kb]).await;
}

/// The feed keeps only its newest entries (the learn script caps it); an index that fell
/// further behind finds a gap in the numbers, or no entry at all after its own, and rebuilds
/// instead of missing the trimmed learns. The trim is done here by hand, as the cap would.
#[tokio::test]
async fn an_index_behind_a_trimmed_feed_rebuilds() {
    let Some(test) = TestKb::start("an_index_behind_a_trimmed_feed_rebuilds").await else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("trimmed");
    let sessions = sessions();
    learn_one(&a, &kb, &numbered("t", 0)).await;
    exact(&b, &kb, &cut("t", 0, false), &sessions[0], "B loads").await;
    let redis_url = kato_test_support::redis_url("trimmed feed").expect("services");
    // A single server or a cluster, as the suite runs.
    let mut redis = kato_redis::connect(&redis_url, &kato_redis::RedisConfig::default())
        .await
        .expect("redis connection");
    // kato-redis's key layout for a kb id of `[A-Za-z0-9_]`.
    let feed = format!("kato:{{{kb}}}:index:feed");
    let mut next = 1;
    // Trimmed to its last 3 entries: B next reads numbers that do not follow its own. Then
    // trimmed to nothing: B reads no entry although more were announced.
    for (keep, learns) in [(3usize, 10usize), (0, 5)] {
        let learned: Vec<Pattern> = (next..next + learns).map(|id| numbered("t", id)).collect();
        learn_all(&a, &kb, &learned).await;
        next += learns;
        let _: u64 = redis::cmd("XTRIM")
            .arg(&feed)
            .arg("MAXLEN")
            .arg(keep)
            .query_async(&mut redis)
            .await
            .expect("XTRIM");
        let before = b.index_stats().rebuilds;
        for (at, pattern) in learned.iter().enumerate() {
            let scenario = format!("B after the feed was trimmed to {keep}, pattern {at}");
            let predictions = exact(
                &b,
                &kb,
                &cut("t", next - learns + at, false),
                &sessions[at % sessions.len()],
                &scenario,
            )
            .await;
            assert_includes(&predictions, pattern, &scenario);
        }
        let stats = b.index_stats();
        assert_eq!(
            stats.rebuilds,
            before + 1,
            "one rebuild, then current: {stats:?}"
        );
        assert_eq!(stats.patterns, next as u64, "{stats:?}");
    }
    test.finish(&[&kb]).await;
}

/// A clear on one instance empties the other's next prediction, whichever instance learns
/// next (before or after the other predicts); what is learned after the clear is seen by both,
/// and nothing from before it.
#[tokio::test]
async fn clear_on_one_instance_empties_the_other() {
    let Some(test) = TestKb::start("clear_on_one_instance_empties_the_other").await else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("clear");
    let settings = PredictionSettings::default();
    let before: Vec<Pattern> = (0..30).map(|id| numbered("old", id)).collect();
    learn_all(&a, &kb, &before).await;
    for (label, instance) in [("A", &a), ("B", &b)] {
        let predictions = exact(instance, &kb, &cut("old", 3, false), &settings, label).await;
        assert_includes(&predictions, &before[3], label);
    }

    a.clear_all(&kb).await.expect("clear");
    for (label, instance) in [("B", &b), ("A", &a)] {
        for (id, single) in [(3, false), (4, true), (29, false)] {
            let scenario = format!("{label} after A cleared, stm of old pattern {id}");
            let predictions =
                exact(instance, &kb, &cut("old", id, single), &settings, &scenario).await;
            assert_empty(&predictions, &scenario);
        }
    }

    // Learned after the clear, on either side: both see it, and only what follows the clear.
    let after = [numbered("new", 0), numbered("new", 1)];
    learn_one(&a, &kb, &after[0]).await;
    learn_one(&b, &kb, &after[1]).await;
    let allowed: BTreeSet<String> = after.iter().map(|p| p.name().as_hex().to_owned()).collect();
    for (label, instance) in [("B", &b), ("A", &a)] {
        for (id, learned) in after.iter().enumerate() {
            let scenario = format!("{label} after learning new pattern {id} after the clear");
            let predictions =
                exact(instance, &kb, &cut("new", id, false), &settings, &scenario).await;
            assert_includes(&predictions, learned, &scenario);
            assert!(
                names(&predictions).iter().all(|n| allowed.contains(n)),
                "{scenario}: a cleared pattern came back: {predictions}"
            );
        }
    }

    // Cleared on B and learned again on B before A predicts anything.
    b.clear_all(&kb).await.expect("clear");
    let again = numbered("again", 0);
    learn_one(&b, &kb, &again).await;
    let scenario = "A after B cleared and learned again";
    let predictions = exact(&a, &kb, &cut("again", 0, false), &settings, scenario).await;
    assert_eq!(
        names(&predictions),
        [again.name().as_hex().to_owned()],
        "{scenario}"
    );
    let predictions = exact(&a, &kb, &cut("new", 0, false), &settings, scenario).await;
    assert_empty(&predictions, scenario);
    // B forgot its index when it cleared; its next search loads only the new pattern.
    let predictions = exact(&b, &kb, &cut("again", 0, false), &settings, "B").await;
    assert_includes(&predictions, &again, "B after it cleared and learned again");
    assert_eq!(a.count_patterns(&kb).await.unwrap(), 1);
    for (label, instance) in [("A", &a), ("B", &b)] {
        let stats = instance.index_stats();
        assert_eq!(stats.patterns, 1, "{label}: {stats:?}");
    }
    test.finish(&[&kb]).await;
}

/// The kb's Redis keys vanish (a Redis that lost its data; not FLUSHALL, the tests share the
/// Redis): both instances rebuild their index and predict as scoring every pattern does; after
/// `rehydrate` on one, both do again, with the frequencies back, and keep following learns.
#[tokio::test]
async fn redis_losing_the_kb_rebuilds_every_instance() {
    let Some(test) = TestKb::start("redis_losing_the_kb_rebuilds_every_instance").await else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("lost");
    let sessions = sessions();
    let learned: Vec<Pattern> = (0..40).map(|id| numbered("l", id)).collect();
    learn_all(&a, &kb, &learned[..20]).await;
    learn_all(&b, &kb, &learned[20..]).await;
    let sample = [0usize, 7, 19, 20, 33, 39];
    let check = |phase: &'static str| {
        let (a, b, kb, sessions) = (&a, &b, &kb, &sessions);
        async move {
            let mut rows = 0;
            for (label, instance) in [("A", a), ("B", b)] {
                for (n, id) in sample.iter().enumerate() {
                    let scenario = format!("{label} {phase}, stm of pattern {id}");
                    let stm = cut("l", *id, n % 3 == 2);
                    let settings = &sessions[n % sessions.len()];
                    let predictions = exact(instance, kb, &stm, settings, &scenario).await;
                    rows += names(&predictions).len();
                }
            }
            rows
        }
    };
    assert!(check("before the loss").await > 0);
    let rebuilds = [a.index_stats().rebuilds, b.index_stats().rebuilds];

    let deleted = a
        .redis()
        .delete_all_metadata(&kb)
        .await
        .expect("delete keys");
    assert!(deleted > 0);
    check("after Redis lost the kb").await;
    for (label, instance, before) in [("A", &a, rebuilds[0]), ("B", &b, rebuilds[1])] {
        let stats = instance.index_stats();
        assert!(
            stats.rebuilds > before,
            "{label} must rebuild when the kb's generation vanished: {stats:?}"
        );
        // The bodies are still in ClickHouse.
        assert_eq!(stats.patterns, 40, "{label}: {stats:?}");
    }

    let report = b.rehydrate(&kb).await.expect("rehydrate");
    assert_eq!(report.patterns, 40);
    assert!(check("after rehydrate on B").await > 0);
    for (label, instance) in [("A", &a), ("B", &b)] {
        let scenario = format!("{label} after rehydrate on B");
        let predictions = exact(instance, &kb, &cut("l", 5, false), &sessions[0], &scenario).await;
        let name = learned[5].name().as_hex().to_owned();
        let row = predictions["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{scenario}: {name} missing from {predictions}"));
        assert_eq!(row["frequency"], 1, "{scenario}: {row}");
    }

    // Both keep following learns after the rebuilds.
    let next = numbered("l", 40);
    learn_one(&a, &kb, &next).await;
    let predictions = exact(&b, &kb, &cut("l", 40, false), &sessions[0], "B after").await;
    assert_includes(&predictions, &next, "B after a learn on A after rehydrate");
    let next = numbered("l", 41);
    learn_one(&b, &kb, &next).await;
    let predictions = exact(&a, &kb, &cut("l", 41, false), &sessions[0], "A after").await;
    assert_includes(&predictions, &next, "A after a learn on B after rehydrate");

    // Lost again and searched (both indexes now stand at announcement 0, the count Redis
    // restarted from), then cleared on A: only the generation tells B its 42 patterns are gone.
    a.redis()
        .delete_all_metadata(&kb)
        .await
        .expect("delete keys");
    check("after Redis lost the kb again").await;
    assert_eq!(b.index_stats().patterns, 42, "{:?}", b.index_stats());
    a.clear_all(&kb).await.expect("clear");
    for (label, instance) in [("B", &b), ("A", &a)] {
        for id in [5, 40, 41] {
            let scenario = format!("{label} after A cleared a kb Redis had lost, pattern {id}");
            let predictions =
                exact(instance, &kb, &cut("l", id, false), &sessions[0], &scenario).await;
            assert_empty(&predictions, &scenario);
        }
    }
    test.finish(&[&kb]).await;
}

/// `drop_database` on A: B's next prediction finds nothing, and its index holds nothing.
#[tokio::test]
async fn drop_on_one_instance_empties_the_other() {
    let Some(test) = TestKb::start("drop_on_one_instance_empties_the_other").await else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("drop");
    let settings = PredictionSettings::default();
    let learned: Vec<Pattern> = (0..30).map(|id| numbered("d", id)).collect();
    learn_all(&a, &kb, &learned[..15]).await;
    learn_all(&b, &kb, &learned[15..]).await;
    for (label, instance) in [("A", &a), ("B", &b)] {
        let predictions = exact(instance, &kb, &cut("d", 20, false), &settings, label).await;
        assert_includes(&predictions, &learned[20], label);
    }

    a.drop_database(&kb, true).await.expect("drop");
    for (label, instance) in [("B", &b), ("A", &a)] {
        for (id, single) in [(20, false), (2, true), (29, false)] {
            let scenario = format!("{label} after A dropped the kb, stm of pattern {id}");
            let predictions =
                exact(instance, &kb, &cut("d", id, single), &settings, &scenario).await;
            assert_empty(&predictions, &scenario);
        }
        let stats = instance.index_stats();
        assert_eq!(stats.patterns, 0, "{label}: {stats:?}");
    }
    assert_eq!(b.count_patterns(&kb).await.unwrap(), 0);
    test.finish(&[&kb]).await;
}

/// 32 learners, 16 on each instance, learn distinct patterns at once; after each learn both
/// instances predict it at once, and when all are done both predict exactly as scoring every
/// pattern does and hold every pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_learners_on_two_instances() {
    let Some(test) = TestKb::start("concurrent_learners_on_two_instances").await else {
        return;
    };
    let a = test.kb.clone();
    let b = instance(&test, ResidentConfig::default()).await;
    let kb = kb_id("concurrent");
    let settings = PredictionSettings::default();
    // Both resident before the learners start, so catch-ups race the learns.
    learn_one(&a, &kb, &numbered("seed", 0)).await;
    for (label, instance) in [("A", &a), ("B", &b)] {
        exact(instance, &kb, &cut("seed", 0, false), &settings, label).await;
    }

    let learners = 32;
    let each = 8;
    let tasks: Vec<_> = (0..learners)
        .map(|learner| {
            let (own, other) = if learner % 2 == 0 {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            let (kb, settings) = (kb.clone(), settings.clone());
            tokio::spawn(async move {
                for n in 0..each {
                    let id = learner * each + n;
                    let learned = numbered("c", id);
                    learn_one(&own, &kb, &learned).await;
                    for (label, instance) in [("the other", &other), ("its own", &own)] {
                        let predictions = instance
                            .predict(&kb, &cut("c", id, n % 4 == 3), &settings)
                            .await
                            .expect("predict");
                        let predictions = serde_json::to_value(&predictions).expect("json");
                        assert_includes(
                            &predictions,
                            &learned,
                            &format!("learner {learner}, pattern {id}, {label} instance"),
                        );
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("learner");
    }

    let total = (learners * each) as u64 + 1;
    assert_eq!(a.count_patterns(&kb).await.unwrap(), total);
    let sessions = sessions();
    for (label, instance) in [("A", &a), ("B", &b)] {
        for (n, id) in [0, 1, 2, 3, 63, 64, 127, 200, 254, 255]
            .into_iter()
            .enumerate()
        {
            let scenario = format!("{label} after the concurrent learns, stm of pattern {id}");
            let stm = cut("c", id, n % 4 == 3);
            let predictions = exact(
                instance,
                &kb,
                &stm,
                &sessions[n % sessions.len()],
                &scenario,
            )
            .await;
            assert_includes(&predictions, &numbered("c", id), &scenario);
        }
        let stats = instance.index_stats();
        assert_eq!(stats.patterns, total, "{label}: {stats:?}");
    }
    test.finish(&[&kb]).await;
}

/// A budget that fits one kb but not two: each kb searched evicts the other (least recently
/// used), which reloads transparently and predicts exactly; a kb bigger than the whole budget
/// is refused with `IndexOverBudget` (kind `OverBudget`) and evicts nothing.
#[tokio::test]
async fn memory_budget_evicts_and_refuses() {
    let Some(test) = TestKb::start("memory_budget_evicts_and_refuses").await else {
        return;
    };
    let (kb1, kb2, big) = (kb_id("budget1"), kb_id("budget2"), kb_id("budget_big"));
    let n = 300;
    let family = |tag: &str, count: usize| -> Vec<Pattern> {
        (0..count).map(|id| numbered(tag, id)).collect()
    };
    let patterns: [Vec<Pattern>; 3] = [family("x", n), family("y", n), family("z", 3 * n)];
    for (kb, patterns) in [&kb1, &kb2, &big].into_iter().zip(&patterns) {
        learn_all(&test.kb, kb, patterns).await;
    }

    // Measured with the default budget (4 GiB): what each kb's index holds once loaded.
    let mut sizes = Vec::new();
    for kb in [&kb1, &kb2, &big] {
        let before = test.kb.index_stats().bytes;
        test.kb.load_index(kb).await.expect("load");
        sizes.push(test.kb.index_stats().bytes - before);
    }
    let (one, two, whole) = (sizes[0] as usize, sizes[1] as usize, sizes[2] as usize);
    let budget = one.max(two) + one.min(two) / 2;
    assert!(one + two > budget && whole > budget, "{sizes:?}, {budget}");

    let small = instance(
        &test,
        ResidentConfig {
            memory_budget: budget,
            ..ResidentConfig::default()
        },
    )
    .await;
    let sessions = sessions();
    let predict = |kb: &KbId, tag: &'static str, id: usize, step: &'static str| {
        let (small, sessions, kb) = (&small, &sessions, kb.clone());
        async move {
            let scenario = format!("{step} (budget {budget} for kbs of {one} and {two} bytes)");
            for (k, settings) in sessions.iter().enumerate() {
                let predictions =
                    exact(small, &kb, &cut(tag, id + k, k == 1), settings, &scenario).await;
                assert_includes(&predictions, &numbered(tag, id + k), &scenario);
            }
            let stats = small.index_stats();
            assert_eq!(stats.resident_kbs, 1, "{scenario}: {stats:?}");
            assert_eq!(stats.patterns, n as u64, "{scenario}: {stats:?}");
            assert!(stats.bytes <= budget as u64, "{scenario}: {stats:?}");
            stats
        }
    };
    let first = predict(&kb1, "x", 10, "kb1 first").await;
    assert_eq!((first.loads, first.evictions), (1, 0), "{first:?}");
    let second = predict(&kb2, "y", 20, "kb2 after kb1").await;
    assert_eq!((second.loads, second.evictions), (2, 1), "{second:?}");
    let third = predict(&kb1, "x", 30, "kb1 again after kb2 evicted it").await;
    assert_eq!((third.loads, third.evictions), (3, 2), "{third:?}");

    let refused = small
        .predict(&big, &cut("z", 0, false), &sessions[0])
        .await
        .expect_err("a kb bigger than the budget must be refused");
    assert_eq!(refused.kind(), ErrorKind::OverBudget, "{refused:?}");
    match &refused {
        KbError::IndexOverBudget {
            kb,
            bytes,
            budget: refused_budget,
        } => {
            assert_eq!(kb, big.as_str());
            assert!(*bytes > budget, "{refused:?}");
            assert_eq!(*refused_budget, budget);
        }
        other => panic!("expected IndexOverBudget, got {other:?}"),
    }
    let refused = small.load_index(&big).await.expect_err("load_index too");
    assert_eq!(refused.kind(), ErrorKind::OverBudget, "{refused:?}");
    let single = small
        .predict(&big, &cut("z", 1, true), &sessions[0])
        .await
        .expect_err("the single-symbol path too");
    assert_eq!(single.kind(), ErrorKind::OverBudget, "{single:?}");

    // The refusal evicted nothing: kb1 is still resident and searched without a load.
    let after = predict(&kb1, "x", 40, "kb1 after the big kb was refused").await;
    assert_eq!(
        (after.loads, after.evictions),
        (third.loads, third.evictions),
        "{after:?}"
    );
    test.finish(&[&kb1, &kb2, &big]).await;
}

/// `load_index` warms an instance: afterwards it holds every pattern of the kb (re-learns and
/// too-short patterns are not new ones), predictions need no further load, and a later
/// `load_index` catches up with what was learned meanwhile.
#[tokio::test]
async fn load_index_warms_an_instance() {
    let Some(test) = TestKb::start("load_index_warms_an_instance").await else {
        return;
    };
    let a = test.kb.clone();
    let kb = kb_id("warm");
    let mut learns: Vec<Pattern> = (0..150).map(|id| numbered("w", id)).collect();
    learns.extend((0..10).map(|id| numbered("w", id * 3)));
    learns.push(pattern(&[&["alone"]]));
    let learned = a
        .learn_many(&kb, &learns, &LearnContext::default())
        .await
        .expect("learn_many");
    assert_eq!(learned.iter().flatten().filter(|l| l.is_new).count(), 150);

    let b = instance(&test, ResidentConfig::default()).await;
    assert_eq!(b.index_stats(), kato_kb::IndexStats::default());
    b.load_index(&kb).await.expect("load_index");
    let stats = b.index_stats();
    assert_eq!(a.count_patterns(&kb).await.unwrap(), 150);
    assert_eq!(stats.patterns, 150, "{stats:?}");
    assert_eq!((stats.loads, stats.resident_kbs), (1, 1), "{stats:?}");
    assert!(stats.bytes > 0, "{stats:?}");

    let settings = PredictionSettings::default();
    let predictions = exact(&b, &kb, &cut("w", 42, false), &settings, "B warmed").await;
    assert_includes(&predictions, &numbered("w", 42), "B warmed");
    assert_eq!(b.index_stats().loads, 1, "{:?}", b.index_stats());

    let more: Vec<Pattern> = (150..170).map(|id| numbered("w", id)).collect();
    learn_all(&a, &kb, &more).await;
    b.load_index(&kb).await.expect("load_index again");
    let stats = b.index_stats();
    assert_eq!(stats.patterns, 170, "{stats:?}");
    assert_eq!(
        stats.loads, 1,
        "a warm index catches up, it does not reload: {stats:?}"
    );
    assert!(stats.catch_ups > 0, "{stats:?}");
    test.finish(&[&kb]).await;
}
