//! `rehydrate` and `verify`: Redis rebuilt exactly from ClickHouse's learn log.

use kato_kb::LearnContext;
use kato_test_support::TcpProxy;
use redis::AsyncCommands;
use serde_json::json;

use crate::support::{TestKb, emotives, kb_id, pattern};

/// Learns a varied set into `kb`: re-learns, emotives (floats whose sums round), metadata,
/// odd symbols.
async fn learn_varied(test: &TestKb, kb: &kato_core::KbId) {
    let odd = pattern(&[&["it's", "{x}*"], &["café\n", "100%"]]);
    let plain = pattern(&[&["a", "b"], &["c"]]);
    let repeated = pattern(&[&["a"], &["a"], &["d"]]);
    let mut with_metadata = emotives(&[&[("joy", 0.1)], &[("joy", 0.2), ("fear", 1.0 / 3.0)]]);
    with_metadata.metadata = vec![
        json!({"source": "s1", "n": 1.5})
            .as_object()
            .cloned()
            .unwrap(),
    ];
    test.kb.learn(kb, &plain, &with_metadata).await.unwrap();
    test.kb
        .learn(kb, &odd, &emotives(&[&[("joy", 0.7)]]))
        .await
        .unwrap();
    for i in 0..7 {
        let context = emotives(&[&[("joy", f64::from(i) / 7.0)]]);
        test.kb.learn(kb, &plain, &context).await.unwrap();
        test.kb
            .learn(kb, &repeated, &LearnContext::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn rehydrate_rebuilds_every_value_and_verify_sees_a_changed_key() {
    let Some(test) =
        TestKb::start("rehydrate_rebuilds_every_value_and_verify_sees_a_changed_key").await
    else {
        return;
    };
    let kb = kb_id("rehydrate");
    learn_varied(&test, &kb).await;
    let before = test.kb.redis().dump_kb(&kb).await.unwrap();
    assert!(before.len() > 15, "{before:?}");
    let clean = test.kb.verify(&kb).await.unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.learns_checked, 16);

    // Lose every Redis value of the kb (the tests share one Redis, so not FLUSHALL).
    test.kb.redis().delete_all_metadata(&kb).await.unwrap();
    let lost = test.kb.verify(&kb).await.unwrap();
    assert_eq!(lost.missing_keys.len(), before.len());
    let report = test.kb.rehydrate(&kb).await.unwrap();
    assert_eq!(report.learns_replayed, 16);
    assert_eq!(report.patterns, 3);
    assert_eq!(
        test.kb.redis().dump_kb(&kb).await.unwrap(),
        before,
        "identical, key for key"
    );
    assert!(test.kb.verify(&kb).await.unwrap().is_clean());

    // One value changed by hand is reported, and only that one.
    let name = pattern(&[&["a", "b"], &["c"]]).name();
    let mut connection = test.kb.redis().connection();
    let () = connection
        .set(format!("kato:{{{kb}}}:frequency:{}", name.as_hex()), 99)
        .await
        .unwrap();
    let changed = test.kb.verify(&kb).await.unwrap();
    assert_eq!(
        changed.different_keys,
        [format!("frequency:{}", name.as_hex())]
    );
    assert!(changed.missing_keys.is_empty() && changed.unexpected_keys.is_empty());
    test.kb.rehydrate(&kb).await.unwrap();
    assert!(test.kb.verify(&kb).await.unwrap().is_clean());
    // verify leaves no scratch keys behind.
    let scratch: Vec<String> = connection
        .keys("kato:{kato_verify_scratch_*")
        .await
        .unwrap();
    assert!(
        scratch
            .iter()
            .all(|k| !k.contains(&format!("_{}_", std::process::id()))),
        "{scratch:?}"
    );
    test.finish(&[&kb]).await;
}

#[tokio::test]
async fn a_learn_that_fails_at_redis_is_found_by_verify_and_repaired_by_rehydrate() {
    let test_name = "a_learn_that_fails_at_redis_is_found_by_verify_and_repaired_by_rehydrate";
    let (Some(clickhouse), Some(redis)) = (
        kato_test_support::clickhouse_url(test_name),
        kato_test_support::redis_url(test_name),
    ) else {
        return;
    };
    if kato_test_support::skips_redis_proxy_on_cluster(test_name, &redis) {
        return;
    }
    // Redis reached through a proxy we can cut: a real Redis outage, for this test only.
    let proxy = TcpProxy::start(&redis).await;
    let test = TestKb::with_urls(&clickhouse, &proxy.url("redis")).await;
    let kb = kb_id("fault");
    let p = pattern(&[&["before"], &["outage"]]);
    test.kb
        .learn(&kb, &p, &emotives(&[&[("joy", 0.5)]]))
        .await
        .unwrap();

    proxy.stop().await;
    let failed = test.kb.learn(&kb, &p, &emotives(&[&[("joy", 0.25)]])).await;
    let err = failed.expect_err("a learn whose Redis update cannot be applied fails");
    assert_eq!(err.kind(), kato_kb::ErrorKind::Unavailable, "{err}");
    proxy.resume().await;

    // ClickHouse logged the failed learn; Redis did not apply it.
    assert_eq!(test.kb.clickhouse().learn_log(&kb).await.unwrap().len(), 2);
    let report = test.kb.verify(&kb).await.unwrap();
    assert!(!report.is_clean());
    assert!(
        report
            .different_keys
            .contains(&format!("frequency:{}", p.name().as_hex())),
        "{report:?}"
    );
    test.kb.rehydrate(&kb).await.unwrap();
    assert!(test.kb.verify(&kb).await.unwrap().is_clean());
    assert_eq!(
        test.kb
            .get_pattern(&kb, &p.name())
            .await
            .unwrap()
            .unwrap()
            .frequency,
        2
    );
    test.finish(&[&kb]).await;
}

#[tokio::test]
async fn a_log_row_whose_body_never_landed_is_reported_and_removed_by_rehydrate() {
    let Some(test) =
        TestKb::start("a_log_row_whose_body_never_landed_is_reported_and_removed_by_rehydrate")
            .await
    else {
        return;
    };
    let kb = kb_id("bodiless");
    let kept = pattern(&[&["a"], &["b"]]);
    test.kb
        .learn(&kb, &kept, &LearnContext::default())
        .await
        .unwrap();
    // What a batch cut between its two concurrent inserts can leave: the log row alone.
    let lost = pattern(&[&["never"], &["landed"]]);
    let seq = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut insert = test
        .kb
        .clickhouse()
        .client()
        .insert::<kato_clickhouse::LearnLogRow>("learn_log")
        .await
        .unwrap();
    insert
        .write(&kato_clickhouse::LearnLogRow {
            kb_id: kb.as_str().to_owned(),
            seq: u64::try_from(seq).unwrap(),
            name: lost.name().as_hex().to_owned(),
            emotives: Vec::new(),
            metadata: Vec::new(),
            persistence: 5,
        })
        .await
        .unwrap();
    insert.end().await.unwrap();

    let found = test.kb.verify(&kb).await.unwrap();
    assert_eq!(found.learns_without_body, [lost.name().as_hex()]);
    assert!(!found.is_clean());
    let report = test.kb.rehydrate(&kb).await.unwrap();
    assert_eq!(report.learns_without_body, [lost.name().as_hex()]);
    assert_eq!(report.learns_replayed, 1);
    assert!(test.kb.verify(&kb).await.unwrap().is_clean());
    assert_eq!(test.kb.clickhouse().learn_log(&kb).await.unwrap().len(), 1);

    // The removed row does not come back when the pattern is learned later.
    let learned = test
        .kb
        .learn(&kb, &lost, &LearnContext::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(learned.frequency, 1);
    assert!(test.kb.verify(&kb).await.unwrap().is_clean());
    test.finish(&[&kb]).await;
}
