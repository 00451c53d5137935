//! `ensure_schema` against a real ClickHouse: creates everything, then is a no-op.

use clickhouse::sql::Identifier;
use kato_clickhouse::schema;

#[tokio::test]
async fn ensure_schema_is_idempotent() {
    let Some(url) = kato_test_support::clickhouse_url("ensure_schema_is_idempotent") else {
        return;
    };
    let client = kato_clickhouse::connect(&url);
    let database = kato_test_support::unique_kb_id("schema_db");

    let first = schema::ensure_schema(&client, &database)
        .await
        .expect("first apply");
    let second = schema::ensure_schema(&client, &database)
        .await
        .expect("second apply");
    assert_eq!(first, schema::latest_version());
    assert_eq!(second, first);

    let version_rows = client
        .query("SELECT count() FROM ?.schema_version FINAL")
        .bind(Identifier(&database))
        .fetch_one::<u64>()
        .await
        .expect("count versions");
    assert_eq!(version_rows, u64::from(schema::latest_version()));

    let tables = client
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(&database)
        .fetch_all::<String>()
        .await
        .expect("list tables");
    // Migration 3 dropped symbol_index and lsh_buckets: a fresh database never keeps them.
    assert_eq!(
        tables,
        ["learn_log", "patterns_data", "schema_version", "vectors"]
    );

    client
        .query("DROP DATABASE ?")
        .bind(Identifier(&database))
        .execute()
        .await
        .expect("drop database");
}

#[tokio::test]
async fn rejects_a_database_name_that_is_not_an_identifier() {
    let client = kato_clickhouse::connect("http://127.0.0.1:9");
    let err = schema::ensure_schema(&client, "kato; DROP DATABASE kato")
        .await
        .expect_err("must refuse before any query");
    assert!(err.to_string().contains("invalid database name"), "{err}");
}

#[tokio::test]
async fn migration_2_rebuilds_the_index_tables_and_migration_3_drops_them() {
    let Some(url) = kato_test_support::clickhouse_url(
        "migration_2_rebuilds_the_index_tables_and_migration_3_drops_them",
    ) else {
        return;
    };
    let client = kato_clickhouse::connect(&url);
    let database = kato_test_support::unique_kb_id("migrate_db");
    assert_eq!(
        schema::migrate_to(&client, &database, &kato_clickhouse::Topology::Single, 1)
            .await
            .unwrap(),
        1
    );
    let name = "0123456789abcdef0123456789abcdef01234567";
    client
        .query(
            "INSERT INTO ?.patterns_data (kb_id, name, pattern_data, length, token_set, \
             token_count, minhash_sig, lsh_bands, first_token, last_token) \
             VALUES ('kb', ?, [['a', 'b'], ['a']], 3, ['a', 'b'], 2, [], [11, 22], 'a', 'a')",
        )
        .bind(Identifier(&database))
        .bind(name)
        .execute()
        .await
        .unwrap();

    assert_eq!(
        schema::migrate_to(&client, &database, &kato_clickhouse::Topology::Single, 2)
            .await
            .unwrap(),
        2
    );
    let symbols: Vec<(String, String, u32, u32)> = client
        .query("SELECT symbol, lower(hex(name)), count, length FROM ?.symbol_index ORDER BY symbol")
        .bind(Identifier(&database))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        symbols,
        [
            ("a".into(), name.into(), 2, 3),
            ("b".into(), name.into(), 1, 3)
        ]
    );
    let bands: Vec<(u8, u64, String)> = client
        .query(
            "SELECT band_index, band_hash, lower(hex(name)) FROM ?.lsh_buckets ORDER BY band_index",
        )
        .bind(Identifier(&database))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(bands, [(0, 11, name.into()), (1, 22, name.into())]);

    assert_eq!(
        schema::ensure_schema(&client, &database).await.unwrap(),
        schema::latest_version()
    );
    let tables = client
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(&database)
        .fetch_all::<String>()
        .await
        .unwrap();
    assert_eq!(
        tables,
        ["learn_log", "patterns_data", "schema_version", "vectors"]
    );
    let bodies: Vec<(String, u64, u64, u64)> = client
        .query("SELECT name, length(lsh_bands), lsh_bands[1], lsh_bands[2] FROM ?.patterns_data")
        .bind(Identifier(&database))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(bodies, [(name.to_owned(), 2, 11, 22)], "the bodies stay");
    client
        .query("DROP DATABASE ?")
        .bind(Identifier(&database))
        .execute()
        .await
        .unwrap();
}

/// The cluster schema cannot run here (no ClickHouse cluster or Keeper on this machine), but
/// ClickHouse's own parser checks every statement of it, and a statement that does not parse
/// is caught: what the check can and cannot show.
#[tokio::test]
async fn the_cluster_schema_parses_in_clickhouse() {
    let Some(url) = kato_test_support::clickhouse_url("the_cluster_schema_parses_in_clickhouse")
    else {
        return;
    };
    let client = kato_clickhouse::connect(&url);
    let cluster = kato_clickhouse::Topology::cluster("kato_cluster").unwrap();
    let single = schema::check_syntax(&client, "kato_x", &kato_clickhouse::Topology::Single)
        .await
        .expect("the single-server schema parses");
    let clustered = schema::check_syntax(&client, "kato_x", &cluster)
        .await
        .expect("the cluster schema parses");
    // Every CREATE TABLE and DROP TABLE becomes two statements on a cluster.
    assert!(clustered > single, "{clustered} vs {single}");

    let statements = schema::statements("kato_x", &cluster).unwrap();
    assert_eq!(statements.len(), clustered);
    assert!(
        statements.iter().any(|s| s
            == "CREATE TABLE IF NOT EXISTS `kato_x`.patterns_data ON CLUSTER `kato_cluster` \
                AS `kato_x`.patterns_data_local \
                ENGINE = Distributed(`kato_cluster`, `kato_x`, patterns_data_local, cityHash64(kb_id))"),
        "{statements:#?}"
    );
    assert!(
        statements
            .iter()
            .filter(|s| s.contains("_local ON CLUSTER") && s.starts_with("CREATE TABLE"))
            .all(|s| s.contains("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')")),
        "{statements:#?}"
    );

    // Migration 3 drops both forms of each index table on every node, the Distributed table
    // before the local one it reads; migration 4 (vectors) is the last two statements.
    assert_eq!(
        statements[statements.len() - 6..statements.len() - 2],
        [
            "DROP TABLE IF EXISTS `kato_x`.symbol_index ON CLUSTER `kato_cluster` SYNC",
            "DROP TABLE IF EXISTS `kato_x`.symbol_index_local ON CLUSTER `kato_cluster` SYNC",
            "DROP TABLE IF EXISTS `kato_x`.lsh_buckets ON CLUSTER `kato_cluster` SYNC",
            "DROP TABLE IF EXISTS `kato_x`.lsh_buckets_local ON CLUSTER `kato_cluster` SYNC",
        ]
    );
    assert!(
        statements[statements.len() - 1].starts_with(
            "CREATE TABLE IF NOT EXISTS `kato_x`.vectors ON CLUSTER `kato_cluster` AS `kato_x`.vectors_local"
        ),
        "{statements:#?}"
    );

    let broken = client
        .query("EXPLAIN AST CREATE TABLE x ON CLUSTER (a UInt8) ENGINE = Memory")
        .fetch_all::<String>()
        .await;
    assert!(
        broken.is_err(),
        "a statement that does not parse is refused"
    );
}
