//! `IndexError`, the one error type of kato-index.

/// What the index refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// A pattern name that is not 40 lowercase hex digits (the first 64 characters shown).
    #[error("pattern name {0:?} is not 40 lowercase hex digits")]
    InvalidName(String),
}
