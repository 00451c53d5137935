//! [`Topology`]: one ClickHouse server, or a cluster of shards and replicas.
//!
//! On a cluster each table of the schema becomes two (created `ON CLUSTER`, so on every
//! node): `<table>_local`, the `Replicated` form of its engine holding this shard's rows, and
//! `<table>`, a `Distributed` table over the `_local` ones, sharded by `cityHash64(kb_id)` so
//! each kb lives on one shard (`FINAL` and the read side's dedupe stay exact). Every read and
//! insert goes through the `Distributed` names, which are the single-server table names, so
//! nothing else changes; only `ALTER`s (which a `Distributed` table does not take) go to the
//! `_local` tables `ON CLUSTER`.
//!
//! The statements are rendered from the single-server schema, so both topologies always have
//! the same columns, sort keys and partitioning.

use clickhouse::Client;
use clickhouse::query::Query;
use clickhouse::sql::Identifier;

use crate::ClickHouseError;
use crate::schema::validate_database_name;

/// Where kato's tables live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Topology {
    /// One server: plain `ReplacingMergeTree` tables.
    #[default]
    Single,
    /// The cluster of this name in the servers' `remote_servers`, whose nodes define the
    /// `{shard}` and `{replica}` macros and reach a ClickHouse Keeper.
    Cluster(String),
}

impl Topology {
    /// The cluster `name`, which must be a plain identifier.
    pub fn cluster(name: &str) -> Result<Self, ClickHouseError> {
        validate_database_name(name)
            .map_err(|_| ClickHouseError::InvalidClusterName(name.to_owned()))?;
        Ok(Self::Cluster(name.to_owned()))
    }

    /// The settings every query of a store on this topology carries: on a cluster an insert
    /// returns only once every shard wrote its rows to a majority of its replicas, and a read
    /// sees every write acknowledged before it (kato's "durable and visible at once").
    pub(crate) fn client_settings(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Single => &[],
            Self::Cluster(_) => &[
                // Every table is sharded by kb, so an `IN (SELECT ...)` over another table
                // finds its rows on the same shard: run it there, not across the cluster
                // (which ClickHouse refuses by default).
                ("distributed_product_mode", "local"),
                ("distributed_foreground_insert", "1"),
                ("insert_quorum", "auto"),
                ("select_sequential_consistency", "1"),
            ],
        }
    }

    /// The statements that apply one schema statement, written for a single server with
    /// `{db}` for the database, on this topology. They may contain `{db}` and `{cluster}`,
    /// which [`bind_placeholders`] binds as identifiers.
    pub(crate) fn render(&self, statement: &str) -> Vec<String> {
        let Self::Cluster(_) = self else {
            return vec![statement.to_owned()];
        };
        let trimmed = statement.trim_start();
        if let Some(rest) = trimmed.strip_prefix("CREATE TABLE ") {
            let (if_not_exists, rest) = match rest.strip_prefix("IF NOT EXISTS ") {
                Some(rest) => ("IF NOT EXISTS ", rest),
                None => ("", rest),
            };
            let Some((table, body)) = table_and_rest(rest) else {
                return vec![statement.to_owned()];
            };
            let local = format!(
                "CREATE TABLE {if_not_exists}{{db}}.{table}_local ON CLUSTER {{cluster}}{}",
                replicated_engine(body)
            );
            let sharding_key = if body.contains("kb_id ") {
                "cityHash64(kb_id)"
            } else {
                "rand()"
            };
            let distributed = format!(
                "CREATE TABLE {if_not_exists}{{db}}.{table} ON CLUSTER {{cluster}} \
                 AS {{db}}.{table}_local \
                 ENGINE = Distributed({{cluster}}, {{db}}, {table}_local, {sharding_key})"
            );
            return vec![local, distributed];
        }
        if let Some(rest) = trimmed.strip_prefix("DROP TABLE IF EXISTS ")
            && let Some((table, tail)) = table_and_rest(rest)
        {
            return [table.to_owned(), format!("{table}_local")]
                .iter()
                .map(|name| {
                    format!("DROP TABLE IF EXISTS {{db}}.{name} ON CLUSTER {{cluster}}{tail}")
                })
                .collect();
        }
        if let Some(rest) = trimmed.strip_prefix("CREATE DATABASE IF NOT EXISTS {db}") {
            return vec![format!(
                "CREATE DATABASE IF NOT EXISTS {{db}} ON CLUSTER {{cluster}}{rest}"
            )];
        }
        vec![statement.to_owned()]
    }

    /// The cluster's name; empty for one server.
    pub(crate) fn cluster_name(&self) -> &str {
        match self {
            Self::Single => "",
            Self::Cluster(cluster) => cluster,
        }
    }

    /// The table an `ALTER` of `table` goes to, and the cluster it runs on (if any).
    pub(crate) fn alter_target<'a>(&'a self, table: &str) -> (String, Option<&'a str>) {
        match self {
            Self::Single => (table.to_owned(), None),
            Self::Cluster(cluster) => (format!("{table}_local"), Some(cluster)),
        }
    }
}

/// `{db}.<table>` at the start of `rest`: the table name and what follows it.
fn table_and_rest(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_prefix("{db}.")?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| (&rest[..end], &rest[end..]))
}

/// `body` (a CREATE TABLE after its name) with `ENGINE = X` made `ReplicatedX` with the usual
/// Keeper path and replica name; a body with no `ENGINE = ` stays as it is.
fn replicated_engine(body: &str) -> String {
    const ENGINE: &str = "ENGINE = ";
    let Some(at) = body.find(ENGINE) else {
        return body.to_owned();
    };
    let after = &body[at + ENGINE.len()..];
    let end = after
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(after.len());
    format!(
        "{}{ENGINE}Replicated{}('/clickhouse/tables/{{shard}}/{{database}}/{{table}}', '{{replica}}'){}",
        &body[..at],
        &after[..end],
        &after[end..]
    )
}

/// A query of `statement` with each `{db}` and `{cluster}` bound, in order of appearance, as
/// an identifier (so neither is ever pasted into SQL).
pub(crate) fn bind_placeholders(
    client: &Client,
    statement: &str,
    database: &str,
    topology: &Topology,
) -> Query {
    const PLACEHOLDERS: [&str; 2] = ["{db}", "{cluster}"];
    let cluster = topology.cluster_name();
    let mut sql = String::with_capacity(statement.len());
    let mut values = Vec::new();
    let mut rest = statement;
    while let Some((at, placeholder)) = PLACEHOLDERS
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, *p)))
        .min()
    {
        sql.push_str(&rest[..at]);
        sql.push('?');
        values.push(if placeholder == "{db}" {
            database
        } else {
            cluster
        });
        rest = &rest[at + placeholder.len()..];
    }
    sql.push_str(rest);
    values.into_iter().fold(client.query(&sql), |query, value| {
        query.bind(Identifier(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "CREATE TABLE IF NOT EXISTS {db}.learn_log (
            kb_id LowCardinality(String),
            name String
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY kb_id
        ORDER BY (kb_id, name)";

    fn cluster() -> Topology {
        Topology::cluster("kato_cluster").unwrap()
    }

    #[test]
    fn a_single_server_runs_the_statements_as_written() {
        assert_eq!(Topology::Single.render(TABLE), [TABLE]);
        assert!(Topology::Single.client_settings().is_empty());
        assert_eq!(Topology::Single.alter_target("t"), ("t".to_owned(), None));
    }

    #[test]
    fn a_cluster_table_is_a_replicated_local_table_and_a_distributed_one() {
        let rendered = cluster().render(TABLE);
        assert_eq!(rendered.len(), 2);
        assert!(
            rendered[0].starts_with(
                "CREATE TABLE IF NOT EXISTS {db}.learn_log_local ON CLUSTER {cluster} ("
            ),
            "{}",
            rendered[0]
        );
        assert!(
            rendered[0].contains(
                "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n        PARTITION BY kb_id"
            ),
            "{}",
            rendered[0]
        );
        assert_eq!(
            rendered[1],
            "CREATE TABLE IF NOT EXISTS {db}.learn_log ON CLUSTER {cluster} \
             AS {db}.learn_log_local \
             ENGINE = Distributed({cluster}, {db}, learn_log_local, cityHash64(kb_id))"
        );
    }

    #[test]
    fn a_cluster_drops_both_tables_and_alters_the_local_one() {
        assert_eq!(
            cluster().render("DROP TABLE IF EXISTS {db}.lsh_buckets SYNC"),
            [
                "DROP TABLE IF EXISTS {db}.lsh_buckets ON CLUSTER {cluster} SYNC",
                "DROP TABLE IF EXISTS {db}.lsh_buckets_local ON CLUSTER {cluster} SYNC",
            ]
        );
        assert_eq!(
            cluster().alter_target("learn_log"),
            ("learn_log_local".to_owned(), Some("kato_cluster"))
        );
        let insert = "INSERT INTO {db}.a SELECT * FROM {db}.b";
        assert_eq!(cluster().render(insert), [insert]);
        assert_eq!(
            cluster().render("CREATE DATABASE IF NOT EXISTS {db}"),
            ["CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER {cluster}"]
        );
    }

    #[test]
    fn cluster_names_are_plain_identifiers() {
        assert!(Topology::cluster("c1_x").is_ok());
        for bad in ["", "a b", "c`", "x;DROP", "{cluster}"] {
            assert!(
                matches!(
                    Topology::cluster(bad),
                    Err(ClickHouseError::InvalidClusterName(_))
                ),
                "{bad}"
            );
        }
    }
}
