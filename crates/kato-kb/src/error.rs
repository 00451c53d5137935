use std::sync::Arc;

use kato_clickhouse::ClickHouseError;
use kato_core::CoreError;
use kato_redis::RedisError;

/// Everything that can go wrong in kato-kb. [`KbError::kind`] tells a caller (the server)
/// whether it was the input or a store.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// A value from the caller failed validation in kato-core (kb id, pattern name, ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A value from the caller that kato-kb itself rejects.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// `drop_database` of a kb that is not a test kb, without force.
    #[error(
        "refusing to drop kb {0}: only kbs whose id starts with test_ are dropped without force"
    )]
    DropRefused(String),
    /// ClickHouse failed or is unreachable.
    #[error("clickhouse unavailable: {0}")]
    ClickHouse(#[from] ClickHouseError),
    /// Redis failed or is unreachable.
    #[error("redis unavailable: {0}")]
    Redis(#[from] RedisError),
    /// The group-committed batch that carried this learn failed.
    #[error("{0}")]
    Batch(Arc<KbError>),
    /// The kb's resident index alone needs more than the memory budget of every resident
    /// index (`ResidentConfig::memory_budget`).
    #[error(
        "the resident index of kb {kb} needs {bytes} bytes, more than the budget of {budget} bytes for all resident indexes"
    )]
    IndexOverBudget {
        /// The kb.
        kb: String,
        /// What its index held when the load stopped.
        bytes: usize,
        /// The budget.
        budget: usize,
    },
    /// The kb's resident index was evicted again and again between catching up and searching:
    /// the memory budget is too small for the kbs searched at once.
    #[error("the resident index of kb {0} was evicted before it could be searched")]
    IndexEvicted(String),
    /// The resident index refused a stored value (a bug or foreign data in a store).
    #[error("resident index: {0}")]
    Index(#[from] kato_index::IndexError),
    /// The learn writer task is gone (the runtime is shutting down).
    #[error("the learn writer has stopped")]
    WriterStopped,
}

/// The two kinds of failure a caller tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input was wrong; retrying the same call fails again.
    BadInput,
    /// A store failed or is unreachable; the call may succeed later.
    Unavailable,
    /// The kb does not fit this process's resident-index memory budget.
    OverBudget,
}

impl KbError {
    /// Which kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KbError::Core(_) | KbError::InvalidInput { .. } | KbError::DropRefused(_) => {
                ErrorKind::BadInput
            }
            KbError::Batch(inner) => inner.kind(),
            KbError::ClickHouse(
                ClickHouseError::InvalidDatabaseName(_) | ClickHouseError::InvalidPatternName(_),
            ) => ErrorKind::BadInput,
            KbError::ClickHouse(_) | KbError::Redis(_) | KbError::WriterStopped => {
                ErrorKind::Unavailable
            }
            KbError::IndexOverBudget { .. } | KbError::IndexEvicted(_) => ErrorKind::OverBudget,
            // Stored data the index cannot take: the stores hold something they should not.
            KbError::Index(_) => ErrorKind::Unavailable,
        }
    }
}
