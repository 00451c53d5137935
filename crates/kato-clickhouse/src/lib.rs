//! kato-clickhouse
