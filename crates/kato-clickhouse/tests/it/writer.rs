//! `ClickHouseStore` and `ClickHouseWriter` against a real ClickHouse.

use std::collections::BTreeMap;
use std::time::Duration;

use kato_clickhouse::{
    ClickHouseStore, ClickHouseWriter, GroupCommitConfig, LearnLogRow, PatternRow, PatternWrite,
    schema,
};
use kato_core::KbId;
use kato_test_support::TcpProxy;

/// A store over a fresh database with the schema applied (the database is per test, so tests
/// never see each other's rows).
async fn store(test: &str) -> Option<ClickHouseStore> {
    let url = kato_test_support::clickhouse_url(test)?;
    let database = kato_test_support::unique_kb_id("db");
    let client = kato_clickhouse::connect(&url);
    schema::ensure_schema(&client, &database)
        .await
        .expect("schema");
    Some(ClickHouseStore::new(client, &database).expect("store"))
}

async fn drop_database(store: &ClickHouseStore) {
    store
        .client()
        .query("DROP DATABASE ?")
        .bind(clickhouse::sql::Identifier(store.database()))
        .execute()
        .await
        .expect("drop database");
}

fn kb(label: &str) -> KbId {
    KbId::new(kato_test_support::unique_kb_id(label)).expect("valid kb id")
}

/// A valid 40-hex pattern name standing for `label` (the label's bytes in hex, zero-padded).
fn name(label: &str) -> String {
    let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<40}")
}

/// A write of `events` as pattern `name(label)` (signature values are arbitrary but fixed: this
/// tests storage, not MinHash).
fn write(kb: &KbId, label: &str, events: &[&[&str]]) -> PatternWrite {
    let name = name(label);
    let pattern_data: Vec<Vec<String>> = events
        .iter()
        .map(|e| e.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for symbol in pattern_data.iter().flatten() {
        *counts.entry(symbol.clone()).or_default() += 1;
    }
    let flat: Vec<&String> = pattern_data.iter().flatten().collect();
    PatternWrite {
        pattern: PatternRow {
            kb_id: kb.to_string(),
            name: name.clone(),
            length: u32::try_from(flat.len()).unwrap(),
            token_set: counts.keys().cloned().collect(),
            token_count: u32::try_from(counts.len()).unwrap(),
            minhash_sig: (0..100).collect(),
            lsh_bands: (0..20).map(|i| i * 7919).collect(),
            first_token: flat.first().map(|s| (*s).clone()).unwrap_or_default(),
            last_token: flat.last().map(|s| (*s).clone()).unwrap_or_default(),
            pattern_data,
        },
        symbol_counts: counts.into_iter().collect(),
        learn: LearnLogRow {
            kb_id: kb.to_string(),
            seq: 0,
            name: name.clone(),
            emotives: vec![r#"{"mood":0.5}"#.to_owned()],
            metadata: vec![("source".to_owned(), "test".to_owned())],
            persistence: 5,
        },
    }
}

async fn table_rows(store: &ClickHouseStore, table: &str, kb: &KbId) -> u64 {
    store
        .client()
        .query("SELECT count() FROM ? WHERE kb_id = ?")
        .bind(clickhouse::sql::Identifier(table))
        .bind(kb.as_str())
        .fetch_one::<u64>()
        .await
        .expect("count rows")
}

#[tokio::test]
async fn write_read_count_and_delete() {
    let Some(store) = store("write_read_count_and_delete").await else {
        return;
    };
    let writer = ClickHouseWriter::spawn(store.clone(), GroupCommitConfig::default());
    let kb = kb("rw");
    let first = write(&kb, "aaaa", &[&["hello"], &["world"]]);
    let seq = writer.write_pattern(first.clone()).await.expect("write");
    let results = writer
        .write_patterns(vec![
            write(&kb, "bbbb", &[&["a", "b"]]),
            write(&kb, "cccc", &[&["c"], &["c"]]),
        ])
        .await;
    let seqs: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert!(
        seqs[0] > seq && seqs[1] > seqs[0],
        "log sequence follows commit order"
    );

    assert_eq!(store.count_patterns(&kb).await.unwrap(), 3);
    assert!(store.pattern_exists(&kb, &name("aaaa")).await.unwrap());
    assert!(!store.pattern_exists(&kb, &name("zzzz")).await.unwrap());
    assert_eq!(
        store.get_pattern_data(&kb, &name("aaaa")).await.unwrap(),
        Some(first.pattern.clone())
    );
    assert_eq!(
        store.get_pattern_data(&kb, &name("zzzz")).await.unwrap(),
        None
    );
    assert_eq!(table_rows(&store, "symbol_index", &kb).await, 2 + 2 + 1);
    assert_eq!(table_rows(&store, "lsh_buckets", &kb).await, 3 * 20);
    let indexed: Vec<(String, String, u32, u32)> = store
        .client()
        .query(
            "SELECT symbol, lower(hex(name)), count, length FROM symbol_index \
             WHERE kb_id = ? ORDER BY symbol, name",
        )
        .bind(kb.as_str())
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        indexed,
        [
            ("a".into(), name("bbbb"), 1, 2),
            ("b".into(), name("bbbb"), 1, 2),
            ("c".into(), name("cccc"), 2, 2),
            ("hello".into(), name("aaaa"), 1, 2),
            ("world".into(), name("aaaa"), 1, 2),
        ]
    );
    let bands: Vec<(u8, u64)> = store
        .client()
        .query(
            "SELECT band_index, band_hash FROM lsh_buckets \
             WHERE kb_id = ? AND lower(hex(name)) = ? ORDER BY band_index",
        )
        .bind(kb.as_str())
        .bind(name("aaaa"))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        bands,
        (0..20u8)
            .zip(first.pattern.lsh_bands.iter().copied())
            .collect::<Vec<_>>()
    );

    let log = store.learn_log(&kb).await.unwrap();
    assert_eq!(
        log.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        [name("aaaa"), name("bbbb"), name("cccc")]
    );
    assert_eq!(log[0].seq, seq);
    assert_eq!(log[0].emotives, first.learn.emotives);
    assert_eq!(log[0].metadata, first.learn.metadata);

    store.delete_all_patterns(&kb).await.unwrap();
    assert_eq!(store.count_patterns(&kb).await.unwrap(), 0);
    for table in ["patterns_data", "symbol_index", "lsh_buckets", "learn_log"] {
        assert_eq!(table_rows(&store, table, &kb).await, 0, "{table}");
    }
    // Deleting a kb that has nothing is fine.
    store.delete_all_patterns(&kb).await.unwrap();
    drop_database(&store).await;
}

#[tokio::test]
async fn sixty_four_concurrent_writes_of_one_pattern_show_one_row() {
    let Some(store) = store("sixty_four_concurrent_writes_of_one_pattern_show_one_row").await
    else {
        return;
    };
    let writer = ClickHouseWriter::spawn(store.clone(), GroupCommitConfig::default());
    let kb = kb("dup");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let writer = writer.clone();
            let w = write(&kb, "samesame", &[&["x", "y"], &["z"]]);
            tokio::spawn(async move { writer.write_pattern(w).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 64, "every learn has its own log entry");
    assert_eq!(store.count_patterns(&kb).await.unwrap(), 1);
    assert!(
        store
            .get_pattern_data(&kb, &name("samesame"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.learn_log(&kb).await.unwrap().len(), 64);
    drop_database(&store).await;
}

#[tokio::test]
async fn one_batch_may_span_many_kbs() {
    let Some(store) = store("one_batch_may_span_many_kbs").await else {
        return;
    };
    let kbs: Vec<KbId> = (0..150).map(|i| kb(&format!("many{i}"))).collect();
    let writes: Vec<PatternWrite> = kbs
        .iter()
        .map(|kb| write(kb, "p", &[&["a"], &["b"]]))
        .collect();
    // One INSERT per table carrying 150 partitions (ClickHouse's default limit is 100).
    store
        .insert_batch(&writes)
        .await
        .expect("a batch over 150 kbs");
    for kb in &kbs {
        assert_eq!(store.count_patterns(kb).await.unwrap(), 1, "{kb}");
    }
    drop_database(&store).await;
}

#[tokio::test]
async fn clearing_kb_leaves_kb_1_intact_and_odd_symbols_round_trip() {
    let Some(store) = store("clearing_kb_leaves_kb_1_intact_and_odd_symbols_round_trip").await
    else {
        return;
    };
    let kb = kb("iso");
    let kb_1 = KbId::new(format!("{kb}_1")).unwrap();
    let odd: &[&str] = &[
        "it's \"q\"",
        "back\\slash",
        "100%",
        "*",
        "{x}",
        "new\nline",
        "café ☕",
        "'; DROP TABLE x; --",
    ];
    let odd_write = write(&kb_1, "odd", &[odd, &["tail"]]);
    store
        .insert_batch(&[write(&kb, "p", &[&["a"], &["b"]]), odd_write.clone()])
        .await
        .unwrap();
    store.delete_all_patterns(&kb).await.unwrap();
    assert_eq!(store.count_patterns(&kb).await.unwrap(), 0);
    assert_eq!(store.count_patterns(&kb_1).await.unwrap(), 1);
    for table in ["symbol_index", "lsh_buckets", "learn_log"] {
        assert!(
            table_rows(&store, table, &kb_1).await > 0,
            "{table} of kb_1 survived"
        );
    }
    let read = store
        .get_pattern_data(&kb_1, &name("odd"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read, odd_write.pattern,
        "stored and read back byte for byte"
    );
    drop_database(&store).await;
}

#[tokio::test]
async fn a_write_fails_while_clickhouse_is_unreachable_and_recovers_after() {
    let Some(url) = kato_test_support::clickhouse_url(
        "a_write_fails_while_clickhouse_is_unreachable_and_recovers_after",
    ) else {
        return;
    };
    let database = kato_test_support::unique_kb_id("db");
    schema::ensure_schema(&kato_clickhouse::connect(&url), &database)
        .await
        .unwrap();
    let proxy = TcpProxy::start(&url).await;
    let store =
        ClickHouseStore::new(kato_clickhouse::connect(&proxy.url("http")), &database).unwrap();
    let config = GroupCommitConfig {
        max_delay: Duration::from_millis(1),
        ..GroupCommitConfig::default()
    };
    let writer = ClickHouseWriter::spawn(store.clone(), config);
    let kb = kb("outage");

    writer
        .write_pattern(write(&kb, "before", &[&["a"], &["b"]]))
        .await
        .expect("write while up");
    proxy.stop().await;
    let failed = writer
        .write_pattern(write(&kb, "during", &[&["a"], &["c"]]))
        .await;
    assert!(
        failed.is_err(),
        "a write while ClickHouse is unreachable must fail"
    );
    proxy.resume().await;
    writer
        .write_pattern(write(&kb, "after", &[&["a"], &["d"]]))
        .await
        .expect("the same writer works again once ClickHouse is back");

    let direct = ClickHouseStore::new(kato_clickhouse::connect(&url), &database).unwrap();
    assert!(direct.pattern_exists(&kb, &name("before")).await.unwrap());
    assert!(!direct.pattern_exists(&kb, &name("during")).await.unwrap());
    assert!(direct.pattern_exists(&kb, &name("after")).await.unwrap());
    drop_database(&direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_clickhouse_times_out_and_the_store_works_once_it_answers() {
    let Some(url) = kato_test_support::clickhouse_url(
        "a_hung_clickhouse_times_out_and_the_store_works_once_it_answers",
    ) else {
        return;
    };
    let database = kato_test_support::unique_kb_id("db");
    schema::ensure_schema(&kato_clickhouse::connect(&url), &database)
        .await
        .unwrap();
    let proxy = TcpProxy::start(&url).await;
    let timeout = Duration::from_millis(300);
    let store = ClickHouseStore::new(kato_clickhouse::connect(&proxy.url("http")), &database)
        .unwrap()
        .with_timeout(timeout);
    let kb = kb("hung");
    store.ping().await.expect("ping while it answers");

    proxy.pause();
    let started = std::time::Instant::now();
    let failed = store
        .insert_batch(&[write(&kb, "during", &[&["a"], &["b"]])])
        .await;
    assert!(
        matches!(failed, Err(kato_clickhouse::ClickHouseError::Timeout(t)) if t == timeout),
        "{failed:?}"
    );
    assert!(started.elapsed() < timeout * 3, "{:?}", started.elapsed());
    assert!(store.count_patterns(&kb).await.is_err());

    proxy.resume().await;
    store.ping().await.expect("ping once it answers again");
    let direct = ClickHouseStore::new(kato_clickhouse::connect(&url), &database).unwrap();
    drop_database(&direct).await;
}

#[tokio::test]
async fn a_bad_pattern_name_fails_alone() {
    let Some(store) = store("a_bad_pattern_name_fails_alone").await else {
        return;
    };
    let writer = ClickHouseWriter::spawn(store.clone(), GroupCommitConfig::default());
    let kb = kb("badname");
    let mut bad = write(&kb, "x", &[&["a"]]);
    bad.pattern.name = "PTRN|not-hex".to_owned();
    let results = writer
        .write_patterns(vec![write(&kb, "good", &[&["a"]]), bad.clone()])
        .await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let err = results[1]
        .as_ref()
        .expect_err("a name that is not 40 hex digits");
    assert!(err.to_string().contains("invalid pattern name"), "{err}");
    let err = writer.write_pattern(bad).await.expect_err("alone as well");
    assert!(err.to_string().contains("PTRN|not-hex"), "{err}");
    assert_eq!(store.count_patterns(&kb).await.unwrap(), 1);
    drop_database(&store).await;
}

#[tokio::test]
async fn candidates_by_similarity_bound_first_token_and_filters() {
    use kato_clickhouse::{CandidateBase, CandidateFilter};
    let Some(store) = store("candidates_by_similarity_bound_first_token_and_filters").await else {
        return;
    };
    let kb = kb("cand");
    let other = kb_1_of(&kb);
    store
        .insert_batch(&[
            write(&kb, "ab", &[&["a"], &["b"]]),
            write(
                &kb,
                "abcdefgh",
                &[&["a"], &["c", "d", "e"], &["f", "g", "h"]],
            ),
            write(&kb, "xy", &[&["x"], &["y"]]),
            write(&kb, "ba", &[&["b"], &["a"], &["a"]]),
            write(&other, "ab", &[&["a"], &["b"]]),
        ])
        .await
        .unwrap();
    let names = |bodies: Vec<kato_clickhouse::CandidateBody>| -> Vec<String> {
        bodies.into_iter().map(|b| b.name).collect()
    };
    // STM [a, b]: bounds ab 2*2/4 = 1, ba 2*2/5 = 0.8, abcdefgh 2*1/9 = 0.222, xy 0.
    let bound = |threshold| CandidateBase::SimilarityBound {
        symbol_counts: vec![("a".into(), 1), ("b".into(), 1)],
        stm_length: 2,
        threshold,
    };
    let mut expected = vec![name("ab"), name("abcdefgh"), name("ba")];
    expected.sort();
    assert_eq!(
        names(store.candidates(&kb, &bound(0.2), &[]).await.unwrap()),
        expected
    );
    let mut expected = vec![name("ab"), name("ba")];
    expected.sort();
    assert_eq!(
        names(store.candidates(&kb, &bound(0.23), &[]).await.unwrap()),
        expected
    );
    assert_eq!(
        names(store.candidates(&kb, &bound(0.81), &[]).await.unwrap()),
        [name("ab")]
    );
    assert_eq!(
        store
            .candidates(&kb, &CandidateBase::All, &[])
            .await
            .unwrap()
            .len(),
        4,
        "every pattern of the kb and none of kb_1"
    );
    let first_a = names(
        store
            .candidates(&kb, &CandidateBase::FirstToken("a".into()), &[])
            .await
            .unwrap(),
    );
    let mut expected = vec![name("ab"), name("abcdefgh")];
    expected.sort();
    assert_eq!(first_a, expected);

    let tokens = vec!["a".to_owned(), "b".to_owned()];
    let length = CandidateFilter::Length { min: 2, max: 3 };
    let mut expected = vec![name("ab"), name("ba"), name("xy")];
    expected.sort();
    assert_eq!(
        names(
            store
                .candidates(&kb, &CandidateBase::All, &[length])
                .await
                .unwrap()
        ),
        expected
    );
    let jaccard = CandidateFilter::Jaccard {
        tokens: tokens.clone(),
        threshold: 0.5,
        min_overlap: 2,
    };
    let mut expected = vec![name("ab"), name("ba")];
    expected.sort();
    assert_eq!(
        names(
            store
                .candidates(&kb, &CandidateBase::All, &[jaccard])
                .await
                .unwrap()
        ),
        expected
    );
    let shares = CandidateFilter::SharesToken { tokens };
    assert_eq!(
        store
            .candidates(&kb, &CandidateBase::All, &[shares])
            .await
            .unwrap()
            .len(),
        3
    );
    // The write helper stores band i with hash i * 7919 and signature 0..100.
    let minhash = |bands: Vec<(u8, u64)>, threshold| CandidateFilter::MinHash {
        bands,
        signature: (0..100).collect(),
        threshold,
    };
    assert_eq!(
        store
            .candidates(
                &kb,
                &CandidateBase::All,
                &[minhash(vec![(3, 3 * 7919)], 1.0)]
            )
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(
        store
            .candidates(
                &kb,
                &CandidateBase::All,
                &[minhash(vec![(4, 3 * 7919)], 0.5)]
            )
            .await
            .unwrap()
            .is_empty(),
        "a band matches only at its own index"
    );
    drop_database(&store).await;
}

fn kb_1_of(kb: &KbId) -> KbId {
    KbId::new(format!("{kb}_1")).unwrap()
}
