//! Integration tests of kato-clickhouse against a real ClickHouse (`cargo xtask test`).

mod reads;
mod schema;
mod smoke;
mod support;
mod writer;
