//! `ClickHouseStore` and `ClickHouseWriter` against a real ClickHouse.

use std::time::Duration;

use kato_clickhouse::{
    ClickHouseStore, ClickHouseWriter, GroupCommitConfig, PatternWrite, VectorRow, schema,
};
use kato_core::KbId;
use kato_test_support::TcpProxy;

use crate::support::{drop_database, kb, name, store, table_rows, tables, write};

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
    // A learn writes two rows: its body and its log entry, and nothing else exists.
    assert_eq!(table_rows(&store, "patterns_data", &kb).await, 3);
    assert_eq!(table_rows(&store, "learn_log", &kb).await, 3);
    assert_eq!(
        tables(&store).await,
        ["learn_log", "patterns_data", "schema_version", "vectors"]
    );
    assert_eq!(table_rows(&store, "vectors", &kb).await, 0);

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
    for table in ["patterns_data", "learn_log"] {
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
    for table in ["patterns_data", "learn_log"] {
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
async fn one_learn_writes_one_body_row_and_one_log_row() {
    let Some(store) = store("one_learn_writes_one_body_row_and_one_log_row").await else {
        return;
    };
    let kb = kb("tworows");
    store
        .insert_batch(&[write(&kb, "one", &[&["a", "b", "c"], &["d"]])])
        .await
        .unwrap();
    assert_eq!(table_rows(&store, "patterns_data", &kb).await, 1);
    assert_eq!(table_rows(&store, "learn_log", &kb).await, 1);
    let total: u64 = store
        .client()
        .query(
            "SELECT sum(rows) FROM system.parts \
             WHERE database = ? AND active AND table != 'schema_version'",
        )
        .bind(store.database())
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(total, 2, "no other table of the database took a row");
    drop_database(&store).await;
}

#[tokio::test]
async fn deleting_bodies_by_name_leaves_the_others_and_the_log() {
    let Some(store) = store("deleting_bodies_by_name_leaves_the_others_and_the_log").await else {
        return;
    };
    let kb = kb("delbodies");
    store
        .insert_batch(&[write(&kb, "gone", &[&["a"]]), write(&kb, "kept", &[&["b"]])])
        .await
        .unwrap();
    store
        .delete_pattern_bodies(&kb, &[name("gone")])
        .await
        .unwrap();
    assert!(!store.pattern_exists(&kb, &name("gone")).await.unwrap());
    assert!(store.pattern_exists(&kb, &name("kept")).await.unwrap());
    assert_eq!(store.learn_log(&kb).await.unwrap().len(), 2);
    drop_database(&store).await;
}

#[tokio::test]
async fn vectors_are_stored_read_whole_and_by_name_and_cleared_with_the_kb() {
    let Some(store) = store("vectors_are_stored").await else {
        return;
    };
    let kb = kb("vectors");
    let other = crate::support::kb_1_of(&kb);
    let row = |kb: &KbId, name: &str, components: &[f32]| VectorRow {
        kb_id: kb.to_string(),
        name: name.to_owned(),
        components: components.to_vec(),
    };
    store
        .insert_vectors(&[
            row(&kb, "VCTR|b", &[1.0, 0.0]),
            row(&kb, "VCTR|a", &[0.0, 1.0]),
        ])
        .await
        .unwrap();
    // Stored again: still one row per name when read.
    store
        .insert_vectors(&[
            row(&kb, "VCTR|a", &[0.0, 1.0]),
            row(&other, "VCTR|a", &[5.0, 5.0]),
        ])
        .await
        .unwrap();
    // The stream may repeat a row until merges collapse it; its names are the two.
    let all = streamed_vectors(&store, &kb).await;
    let mut names: Vec<&str> = all.iter().map(|row| row.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names, ["VCTR|a", "VCTR|b"]);
    assert_eq!(store.oldest_vector_dimension(&kb).await.unwrap(), Some(2));
    let found = store
        .vectors_by_names(&kb, &["VCTR|a".into(), "VCTR|z".into(), "VCTR|a".into()])
        .await
        .unwrap();
    assert_eq!(found, [row(&kb, "VCTR|a", &[0.0, 1.0])]);
    store.delete_all_patterns(&kb).await.unwrap();
    assert!(streamed_vectors(&store, &kb).await.is_empty());
    assert_eq!(store.oldest_vector_dimension(&kb).await.unwrap(), None);
    assert_eq!(
        streamed_vectors(&store, &other).await,
        [row(&other, "VCTR|a", &[5.0, 5.0])]
    );
    store.delete_all_patterns(&other).await.unwrap();
    drop_database(&store).await;
}

async fn streamed_vectors(store: &ClickHouseStore, kb: &KbId) -> Vec<VectorRow> {
    let mut stream = store.stream_vectors(kb).unwrap();
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await.unwrap() {
        rows.push(row);
    }
    rows
}
