//! What the store tests share: a fresh database per test, kb ids, pattern names and writes.

use std::collections::BTreeSet;

use kato_clickhouse::{ClickHouseStore, LearnLogRow, PatternRow, PatternWrite, schema};
use kato_core::KbId;

/// A store over a fresh database with the schema applied (the database is per test, so tests
/// never see each other's rows).
pub(crate) async fn store(test: &str) -> Option<ClickHouseStore> {
    let url = kato_test_support::clickhouse_url(test)?;
    let database = kato_test_support::unique_kb_id("db");
    let client = kato_clickhouse::connect(&url);
    schema::ensure_schema(&client, &database)
        .await
        .expect("schema");
    Some(ClickHouseStore::new(client, &database).expect("store"))
}

pub(crate) async fn drop_database(store: &ClickHouseStore) {
    store
        .client()
        .query("DROP DATABASE ?")
        .bind(clickhouse::sql::Identifier(store.database()))
        .execute()
        .await
        .expect("drop database");
}

pub(crate) fn kb(label: &str) -> KbId {
    KbId::new(kato_test_support::unique_kb_id(label)).expect("valid kb id")
}

pub(crate) fn kb_1_of(kb: &KbId) -> KbId {
    KbId::new(format!("{kb}_1")).unwrap()
}

/// A valid 40-hex pattern name standing for `label` (the label's bytes in hex, zero-padded).
pub(crate) fn name(label: &str) -> String {
    let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<40}")
}

/// A write of `events` as pattern `name(label)` (signature values are arbitrary but fixed: this
/// tests storage, not MinHash; band `i` hashes to `i * 7919`, signature 0..100).
pub(crate) fn write(kb: &KbId, label: &str, events: &[&[&str]]) -> PatternWrite {
    let name = name(label);
    let pattern_data: Vec<Vec<String>> = events
        .iter()
        .map(|e| e.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    let token_set: BTreeSet<String> = pattern_data.iter().flatten().cloned().collect();
    let flat: Vec<&String> = pattern_data.iter().flatten().collect();
    PatternWrite {
        pattern: PatternRow {
            kb_id: kb.to_string(),
            name: name.clone(),
            length: u32::try_from(flat.len()).unwrap(),
            token_count: u32::try_from(token_set.len()).unwrap(),
            token_set: token_set.into_iter().collect(),
            minhash_sig: (0..100).collect(),
            lsh_bands: (0..20).map(|i| i * 7919).collect(),
            first_token: flat.first().map(|s| (*s).clone()).unwrap_or_default(),
            last_token: flat.last().map(|s| (*s).clone()).unwrap_or_default(),
            pattern_data,
        },
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

/// Rows of `kb` in `table`, duplicates included.
pub(crate) async fn table_rows(store: &ClickHouseStore, table: &str, kb: &KbId) -> u64 {
    store
        .client()
        .query("SELECT count() FROM ? WHERE kb_id = ?")
        .bind(clickhouse::sql::Identifier(table))
        .bind(kb.as_str())
        .fetch_one::<u64>()
        .await
        .expect("count rows")
}

/// The tables of the store's database, sorted.
pub(crate) async fn tables(store: &ClickHouseStore) -> Vec<String> {
    store
        .client()
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(store.database())
        .fetch_all::<String>()
        .await
        .expect("list tables")
}
