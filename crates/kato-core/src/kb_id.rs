//! Knowledge-base ids: the one value that separates tenants in both stores.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// A validated knowledge-base id: 1 to [`KbId::MAX_LEN`] bytes of any text, as the reference
/// derives kb ids from node ids of any characters (`test_x[0.1-True]_1763`, `ü`, `a{b}`, a
/// control character: DESIGN.md section 3).
///
/// Only this type reaches storage. The stores keep every kb apart whatever its characters:
/// ClickHouse binds the id as a value, and kato-redis writes it into key names in an escaped
/// form of `[A-Za-z0-9_%]` only, so no id can carry a glob or hash-tag character into a key or
/// reach another kb's keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KbId(String);

impl KbId {
    /// The longest kb id, in bytes (a kb id derived from a node id has at most 60 characters
    /// plus the service name's).
    pub const MAX_LEN: usize = 512;

    /// Validates `id`: not empty, at most [`Self::MAX_LEN`] bytes.
    pub fn new(id: impl Into<String>) -> Result<Self, CoreError> {
        let id = id.into();
        if (1..=Self::MAX_LEN).contains(&id.len()) {
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
    fn accepts_any_text_up_to_the_limit() {
        for id in [
            "kb",
            "kb_1",
            "A",
            "test_threshold[0.1-True]_1763040555614_9ea384e2_kato",
            "kb-1",
            "kb:1*?",
            "a{b}",
            "kb 1",
            "café",
            "kb\n\u{0}",
            "%41",
            &"x".repeat(KbId::MAX_LEN),
        ] {
            assert_eq!(KbId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_empty_and_too_long_ids() {
        for id in ["", &"x".repeat(KbId::MAX_LEN + 1), &"ü".repeat(257)] {
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
