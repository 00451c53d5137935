//! Integration tests of kato-clickhouse against a real ClickHouse (`cargo xtask test`).

mod schema;
mod smoke;
mod writer;
