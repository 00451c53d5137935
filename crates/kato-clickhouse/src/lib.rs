//! kato-clickhouse: where kato keeps pattern bodies.
//!
//! The schema is code ([`schema`]), applied idempotently and versioned so later versions can
//! migrate. Every value that reaches SQL is bound by the `clickhouse` client; identifiers
//! (the database name) are validated before they are bound as identifiers.

mod candidates;
mod error;
pub mod group_commit;
mod rows;
pub mod schema;
mod writer;

pub use candidates::{CandidateBase, CandidateBody, CandidateFilter};
pub use clickhouse::Client;
pub use error::ClickHouseError;
pub use group_commit::{
    BatchObserver, BatchSink, GroupCommit, GroupCommitConfig, GroupCommitError,
};
pub use rows::{LearnLogRow, LshBucketRow, NAME_BYTES, PatternRow, SymbolIndexRow, name_bytes};
pub use writer::{ClickHouseStore, ClickHouseWriter, PatternWrite};

/// Builds a client for the ClickHouse HTTP interface at `url` (e.g. `http://127.0.0.1:8123`).
///
/// The client is cheap to clone and pools its HTTP connections.
pub fn connect(url: &str) -> Client {
    Client::default().with_url(url)
}
