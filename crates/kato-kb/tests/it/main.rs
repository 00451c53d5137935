//! Integration tests of kato-kb against real ClickHouse and Redis (`cargo xtask test`).

mod learn;
mod predict;
mod repair;
mod resident;
mod support;
mod vectors;
