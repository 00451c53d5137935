//! Knowledge-base ids: the one value that separates tenants in both stores.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// A validated knowledge-base id: 1 to 64 characters of `[A-Za-z0-9_]`.
///
/// Only this type reaches storage, so no kb id can carry a character that would let its Redis
/// prefix (`kato:{<kb_id>}:`), a Redis glob or a ClickHouse partition reach another kb's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KbId(String);

impl KbId {
    /// The longest kb id.
    pub const MAX_LEN: usize = 64;

    /// Validates `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, CoreError> {
        let id = id.into();
        let valid = (1..=Self::MAX_LEN).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(id))
        } else {
            Err(CoreError::InvalidKbId { input: id })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KbId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for KbId {
    type Error = CoreError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<KbId> for String {
    fn from(id: KbId) -> Self {
        id.0
    }
}

impl AsRef<str> for KbId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for id in ["kb", "kb_1", "test_abc_123", "A", &"x".repeat(64)] {
            assert_eq!(KbId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_anything_else() {
        for id in [
            "",
            "kb-1",
            "kb:1",
            "kb*",
            "kb{1}",
            "kb 1",
            "café",
            "kb\n",
            &"x".repeat(65),
        ] {
            assert_eq!(
                KbId::new(id),
                Err(CoreError::InvalidKbId {
                    input: id.to_owned()
                }),
                "{id:?}"
            );
        }
    }
}
