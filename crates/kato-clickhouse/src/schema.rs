//! The ClickHouse schema as code: numbered migrations applied in order, each recorded in
//! `<database>.schema_version`, so applying is idempotent and a later build can migrate.
//!
//! Every statement can run again harmlessly (`CREATE ... IF NOT EXISTS`, or a rebuild that
//! drops what it recreates), so a run interrupted between a statement and its version row
//! simply repeats.

use clickhouse::Client;
use clickhouse::sql::Identifier;

use crate::ClickHouseError;
use crate::topology::{Topology, bind_placeholders};

/// The database kato uses unless told otherwise.
pub const DEFAULT_DATABASE: &str = "kato";

/// One step of the schema. `statements` use `{db}` for the (validated) database name.
struct Migration {
    version: u32,
    description: &'static str,
    statements: &'static [&'static str],
}

/// All migrations, oldest first. Never edit a released one; append a new version.
///
/// Every table is `PARTITION BY kb_id` (clearing a kb is one `DROP PARTITION` per table, and no
/// query of one kb reads another's parts) and a `ReplacingMergeTree` whose sort key is the row's
/// identity, so a repeated insert of the same row collapses in merges; reads dedupe as well,
/// because merges are asynchronous. Why each sort key is what it is: `docs/ARCHITECTURE.md`.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "patterns_data, symbol_index, lsh_buckets, learn_log",
        statements: &[
            // Point lookups by name (get, exists) and fetching candidate bodies by name.
            "CREATE TABLE IF NOT EXISTS {db}.patterns_data (
            kb_id LowCardinality(String),
            name String,
            pattern_data Array(Array(String)),
            length UInt32,
            token_set Array(String),
            token_count UInt32,
            minhash_sig Array(UInt32),
            lsh_bands Array(UInt64),
            first_token String,
            last_token String,
            created_at DateTime64(3) DEFAULT now64(3)
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, name)",
            // The inverted index: candidates are the patterns that share a symbol with the STM,
            // found by a range read per symbol; `count` and `length` give the similarity bound.
            "CREATE TABLE IF NOT EXISTS {db}.symbol_index (
            kb_id LowCardinality(String),
            symbol String,
            name String,
            count UInt32,
            length UInt32
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, symbol, name)",
            // LSH: one row per band; a lookup is a range read per (band, hash).
            "CREATE TABLE IF NOT EXISTS {db}.lsh_buckets (
            kb_id LowCardinality(String),
            band_index UInt8,
            band_hash UInt64,
            name String
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, band_index, band_hash, name)",
            // One row per learn, in commit order (`seq`), enough to rebuild every Redis value.
            "CREATE TABLE IF NOT EXISTS {db}.learn_log (
            kb_id LowCardinality(String),
            seq UInt64,
            name String,
            emotives Array(String),
            metadata Array(Tuple(String, String)),
            persistence UInt32,
            learned_at DateTime64(3) DEFAULT now64(3)
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, seq)",
        ],
    },
    Migration {
        version: 2,
        description: "index tables keep pattern names as FixedString(20)",
        // Index rows are most of the bytes a learn writes; the 20 SHA-1 bytes halve their names.
        // The tables are rebuilt from patterns_data, which holds everything they index. Rerunning
        // after an interruption drops the half-filled table and fills it again.
        statements: &[
            "DROP TABLE IF EXISTS {db}.symbol_index SYNC",
            "CREATE TABLE {db}.symbol_index (
            kb_id LowCardinality(String),
            symbol String,
            name FixedString(20),
            count UInt32,
            length UInt32
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, symbol, name)",
            "INSERT INTO {db}.symbol_index (kb_id, symbol, name, count, length)
        SELECT kb_id, symbol, unhex(name), countEqual(arrayFlatten(pattern_data), symbol), length
        FROM {db}.patterns_data FINAL ARRAY JOIN token_set AS symbol
        SETTINGS max_partitions_per_insert_block = 0",
            "DROP TABLE IF EXISTS {db}.lsh_buckets SYNC",
            "CREATE TABLE {db}.lsh_buckets (
            kb_id LowCardinality(String),
            band_index UInt8,
            band_hash UInt64,
            name FixedString(20)
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, band_index, band_hash, name)",
            "INSERT INTO {db}.lsh_buckets (kb_id, band_index, band_hash, name)
        SELECT kb_id, toUInt8(band - 1), lsh_bands[band], unhex(name)
        FROM {db}.patterns_data FINAL ARRAY JOIN arrayEnumerate(lsh_bands) AS band
        SETTINGS max_partitions_per_insert_block = 0",
        ],
    },
    Migration {
        version: 3,
        description: "drop symbol_index and lsh_buckets (the resident index replaced them)",
        // Predictions search an in-memory index built from patterns_data, which keeps every
        // column the two tables indexed (token_set, lsh_bands), so nothing is lost.
        statements: &[
            "DROP TABLE IF EXISTS {db}.symbol_index SYNC",
            "DROP TABLE IF EXISTS {db}.lsh_buckets SYNC",
        ],
    },
    Migration {
        version: 4,
        description: "vectors: the learned vectors of each kb",
        // One row per learned vector (the observation's summed vector, named `VCTR|<sha1>`),
        // as Float32 like the reference's Qdrant collection; a kb's rows are read whole into
        // its resident vector index, and by name when another process announced new ones.
        statements: &["CREATE TABLE IF NOT EXISTS {db}.vectors (
            kb_id LowCardinality(String),
            name String,
            components Array(Float32),
            learned_at DateTime64(3) DEFAULT now64(3)
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, name)"],
    },
];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Checks that `database` is a plain identifier, so it can be bound as one.
pub fn validate_database_name(database: &str) -> Result<(), ClickHouseError> {
    let mut chars = database.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let valid =
        valid_start && database.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ClickHouseError::InvalidDatabaseName(database.to_owned()))
    }
}

const CREATE_DATABASE: &str = "CREATE DATABASE IF NOT EXISTS {db}";

/// The table that records applied migrations.
const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS {db}.schema_version (
            version UInt32,
            description String,
            applied_at DateTime64(3) DEFAULT now64(3)
        )
        ENGINE = ReplacingMergeTree
        ORDER BY version";

/// Creates `database` on one server and applies every migration it lacks; returns the version
/// it ends at.
///
/// `client` must not have a default database set (the database may not exist yet).
pub async fn ensure_schema(client: &Client, database: &str) -> Result<u32, ClickHouseError> {
    ensure_schema_on(client, database, &Topology::Single).await
}

/// [`ensure_schema`] on `topology` (see [`Topology`] for what a cluster's tables are).
pub async fn ensure_schema_on(
    client: &Client,
    database: &str,
    topology: &Topology,
) -> Result<u32, ClickHouseError> {
    migrate_to(client, database, topology, latest_version()).await
}

/// Like [`ensure_schema_on`], but stops at migration `target` (for tests of a migration, and
/// for operators who roll a schema forward one step at a time); returns the version it ends at.
pub async fn migrate_to(
    client: &Client,
    database: &str,
    topology: &Topology,
    target: u32,
) -> Result<u32, ClickHouseError> {
    validate_database_name(database)?;
    let mut client = client.clone();
    for (name, value) in topology.client_settings() {
        client = client.with_setting(*name, *value);
    }
    let run = async |statement: &str| -> Result<(), ClickHouseError> {
        for rendered in topology.render(statement) {
            bind_placeholders(&client, &rendered, database, topology)
                .execute()
                .await?;
        }
        Ok(())
    };
    run(CREATE_DATABASE).await?;
    run(SCHEMA_VERSION_TABLE).await?;
    let current = current_version(&client, database).await?;
    if current > latest_version() {
        return Err(ClickHouseError::SchemaTooNew {
            database: database.to_owned(),
            found: current,
            supported: latest_version(),
        });
    }
    let pending = MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target);
    for migration in pending {
        for statement in migration.statements {
            run(statement).await?;
        }
        client
            .query("INSERT INTO ?.schema_version (version, description) VALUES (?, ?)")
            .bind(Identifier(database))
            .bind(migration.version)
            .bind(migration.description)
            .execute()
            .await?;
    }
    Ok(current.max(target.min(latest_version())))
}

/// Every statement [`ensure_schema_on`] runs on a fresh database, as ClickHouse receives it
/// (with `database` and the cluster bound), for review before a rollout.
pub fn statements(database: &str, topology: &Topology) -> Result<Vec<String>, ClickHouseError> {
    validate_database_name(database)?;
    let cluster = topology.cluster_name();
    Ok(all_statements()
        .flat_map(|statement| topology.render(statement))
        .map(|rendered| {
            rendered
                .replace("{db}", &format!("`{database}`"))
                .replace("{cluster}", &format!("`{cluster}`"))
        })
        .collect())
}

/// Parses every statement of [`statements`] with ClickHouse's `EXPLAIN AST`, running none;
/// returns how many were checked. A check of the cluster schema on a server that has no
/// cluster.
pub async fn check_syntax(
    client: &Client,
    database: &str,
    topology: &Topology,
) -> Result<usize, ClickHouseError> {
    validate_database_name(database)?;
    let mut checked = 0;
    for statement in all_statements() {
        for rendered in topology.render(statement) {
            bind_placeholders(
                client,
                &format!("EXPLAIN AST {rendered}"),
                database,
                topology,
            )
            .fetch_all::<String>()
            .await?;
            checked += 1;
        }
    }
    Ok(checked)
}

/// The schema's statements in the order a fresh database gets them, written for one server.
fn all_statements() -> impl Iterator<Item = &'static str> {
    [CREATE_DATABASE, SCHEMA_VERSION_TABLE]
        .into_iter()
        .chain(MIGRATIONS.iter().flat_map(|m| m.statements.iter().copied()))
}

/// The highest migration recorded in `database` (0 when none).
pub async fn current_version(client: &Client, database: &str) -> Result<u32, ClickHouseError> {
    validate_database_name(database)?;
    let version = client
        .query("SELECT max(version) FROM ?.schema_version")
        .bind(Identifier(database))
        .fetch_one::<u32>()
        .await?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                migration.version as usize,
                index + 1,
                "{}",
                migration.description
            );
        }
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        for good in ["kato", "kato_test_1", "_x", "A"] {
            assert!(validate_database_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1kato",
            "kato-db",
            "kato.x",
            "a b",
            "`x`",
            "x;DROP",
            &"a".repeat(65),
        ] {
            assert!(validate_database_name(bad).is_err(), "{bad}");
        }
    }
}
