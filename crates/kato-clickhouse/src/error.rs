/// Everything that can go wrong in kato-clickhouse.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// ClickHouse was unreachable or rejected a query.
    #[error("clickhouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    /// ClickHouse did not answer a call in time (it hangs, or is far too slow).
    #[error("clickhouse did not finish within {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// A [`BodyStream`](crate::BodyStream) was read again after it had failed.
    #[error("the body stream failed earlier and has been abandoned")]
    StreamFailed,
    /// A pattern name that is not 40 lowercase hex digits.
    #[error("invalid pattern name {0:?}: expected 40 lowercase hex digits")]
    InvalidPatternName(String),
    /// The group-committed batch that carried this write failed.
    #[error("the batch carrying this write failed: {0}")]
    BatchFailed(std::sync::Arc<ClickHouseError>),
    /// The group-commit writer task is gone.
    #[error("the clickhouse writer has stopped")]
    WriterStopped,
    /// A database name that is not a plain identifier.
    #[error("invalid database name {0:?}: expected [A-Za-z_][A-Za-z0-9_]{{0,63}}")]
    InvalidDatabaseName(String),
    /// A cluster name that is not a plain identifier.
    #[error("invalid clickhouse cluster name {0:?}: expected [A-Za-z_][A-Za-z0-9_]{{0,63}}")]
    InvalidClusterName(String),
    /// The database holds a newer schema than this build knows.
    #[error(
        "database {database} has schema version {found}, newer than the {supported} this build supports"
    )]
    SchemaTooNew {
        /// The database that was inspected.
        database: String,
        /// The version recorded in it.
        found: u32,
        /// The newest version this build can apply.
        supported: u32,
    },
}
