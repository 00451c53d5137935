//! Proves the harness reaches a real ClickHouse: DDL, typed inserts and reads, partitions.

use clickhouse::Row;
use clickhouse::sql::Identifier;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct SmokeRow {
    kb_id: String,
    name: String,
    events: Vec<Vec<String>>,
}

fn row(kb_id: &str, name: &str, events: &[&[&str]]) -> SmokeRow {
    SmokeRow {
        kb_id: kb_id.to_owned(),
        name: name.to_owned(),
        events: events
            .iter()
            .map(|e| e.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
    }
}

#[tokio::test]
async fn insert_read_back_and_drop_a_partition() {
    let Some(url) = kato_test_support::clickhouse_url("insert_read_back_and_drop_a_partition")
    else {
        return;
    };
    let client = kato_clickhouse::connect(&url);
    let table = kato_test_support::unique_kb_id("smoke_table");
    let kb_a = kato_test_support::unique_kb_id("smoke_a");
    let kb_b = kato_test_support::unique_kb_id("smoke_b");

    client
        .query(
            "CREATE TABLE ? (kb_id String, name String, events Array(Array(String)))
             ENGINE = MergeTree PARTITION BY kb_id ORDER BY (kb_id, name)",
        )
        .bind(Identifier(&table))
        .execute()
        .await
        .expect("create table");

    let rows = vec![
        row(&kb_a, "one", &[&["hello", "world"], &["it's"]]),
        row(&kb_a, "two", &[&["café"]]),
        row(&kb_b, "three", &[&["x"], &["y", "z"]]),
    ];
    let mut insert = client
        .insert::<SmokeRow>(&table)
        .await
        .expect("start insert");
    for r in &rows {
        insert.write(r).await.expect("write row");
    }
    insert.end().await.expect("finish insert");

    let read = client
        .query("SELECT ?fields FROM ? ORDER BY kb_id, name")
        .bind(Identifier(&table))
        .fetch_all::<SmokeRow>()
        .await
        .expect("read back");
    let mut expected = rows.clone();
    expected.sort_by(|x, y| (&x.kb_id, &x.name).cmp(&(&y.kb_id, &y.name)));
    assert_eq!(read, expected);

    client
        .query("ALTER TABLE ? DROP PARTITION ?")
        .bind(Identifier(&table))
        .bind(&kb_a)
        .execute()
        .await
        .expect("drop partition");
    let left = client
        .query("SELECT ?fields FROM ? ORDER BY kb_id, name")
        .bind(Identifier(&table))
        .fetch_all::<SmokeRow>()
        .await
        .expect("read after drop");
    assert_eq!(left, vec![rows[2].clone()], "only kb_b's row survives");

    client
        .query("DROP TABLE ?")
        .bind(Identifier(&table))
        .execute()
        .await
        .expect("drop table");
}
