//! kato-kb: the knowledge-base facade over ClickHouse and Redis.
//!
//! [`KnowledgeBase`] is what the server and library users call: `learn`, `get_pattern`,
//! `clear_all`, `drop_database`, `rehydrate`, `verify`, `predict` and the read APIs. It owns the rules that
//! span both stores:
//!
//! - **Order of a learn.** Concurrent learns are group-committed: one batch goes to ClickHouse
//!   (pattern bodies and the learn log, two INSERTs side by side), and only after
//!   ClickHouse acknowledged both, to Redis (one atomic script per run of learns of a kb), in the
//!   same order. A learn is acknowledged only after both.
//! - **Crash consistency.** A crash or store failure during the two ClickHouse inserts can
//!   leave a pattern body without a log row (`verify` reports it as an orphan; `rehydrate`
//!   removes it) or a log row whose body never landed (`verify` reports it; `rehydrate` removes
//!   the pattern's log rows), both from learns never acknowledged; after both inserts and before
//!   Redis it leaves a logged learn that Redis lacks (`verify` reports
//!   the keys; `rehydrate` applies it: the log is the source of truth and repair rolls forward).
//!   An acknowledged learn is in both stores, so it is never lost. A learn that failed may
//!   therefore still take effect after a repair; a client that retries it learns twice.
//! - **Metadata values** become strings as Python's `str()` would make them (see
//!   [`kato_core::python_str`]).

mod error;
mod knowledge_base;
pub mod metadata;
mod predict;
pub mod records;
mod repair;
mod resident;
mod session_config;
mod vectors;

pub use error::{ErrorKind, KbError};
pub use knowledge_base::{
    DEFAULT_PERSISTENCE, KnowledgeBase, KnowledgeBaseConfig, LearnContext, Learned,
    MAX_EMOTIVE_MAGNITUDE, MAX_PERSISTENCE, ObservedVector, StoredPattern, VectorsLearned,
    validate_emotives,
};
pub use predict::{CandidateQuery, candidate_query};
pub use repair::{RehydrateReport, VerifyReport};
pub use resident::{IndexStats, ResidentConfig};
pub use session_config::{FilterStage, PredictionSettings, SessionConfig};
pub use vectors::NearestVectors;
