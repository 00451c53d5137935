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
mod topology;
mod vectors;
mod writer;

pub use candidates::{BodyStream, CandidateBase, CandidateBody, CandidateFilter, RowStream};
pub use clickhouse::Client;
pub use error::ClickHouseError;
pub use group_commit::{
    BatchObserver, BatchSink, GroupCommit, GroupCommitConfig, GroupCommitError,
};
pub use rows::{LearnLogRow, NAME_BYTES, PatternRow, VectorRow, name_bytes};
pub use topology::Topology;
pub use writer::{ClickHouseStore, ClickHouseWriter, DEFAULT_TIMEOUT, PatternWrite};

/// Builds a client for the ClickHouse HTTP interface at `url` (e.g. `http://127.0.0.1:8123`,
/// or `http://user:password@host:8123` with credentials, which are sent as ClickHouse's user
/// and password and never become part of the URL the client prints).
///
/// The client is cheap to clone and pools its HTTP connections.
pub fn connect(url: &str) -> Client {
    let (url, credentials) = split_credentials(url);
    // Plain RowBinary: the client's per-row check of every value against the table's types
    // (RowBinaryWithNamesAndTypes) cost the read and write paths measurable CPU, and the row
    // types are pinned to the schema by the integration tests instead.
    let client = Client::default().with_url(url).with_validation(false);
    match credentials {
        Some((user, password)) => client.with_user(user).with_password(password),
        None => client,
    }
}

/// `scheme://user:password@rest` as (`scheme://rest`, (user, password)); the password may be
/// empty and is everything after the first `:`.
fn split_credentials(url: &str) -> (String, Option<(&str, &str)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (
                format!("{scheme}://{host}{}", &rest[authority_end..]),
                Some((user, password)),
            )
        }
        None => (url.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_credentials;

    #[test]
    fn credentials_leave_the_url() {
        assert_eq!(
            split_credentials("http://kato:s3cret@clickhouse:8123/"),
            (
                "http://clickhouse:8123/".to_owned(),
                Some(("kato", "s3cret"))
            )
        );
        assert_eq!(
            split_credentials("http://kato@clickhouse:8123"),
            ("http://clickhouse:8123".to_owned(), Some(("kato", "")))
        );
        assert_eq!(
            split_credentials("http://127.0.0.1:8123"),
            ("http://127.0.0.1:8123".to_owned(), None)
        );
    }
}
