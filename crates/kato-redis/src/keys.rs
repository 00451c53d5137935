//! The Redis key layout. Every key of a kb starts with `kato:{<kb_id>}:`; the braces make the kb
//! a hash tag, so all of a kb's keys live in one cluster slot and one script can update them
//! atomically. A `KbId` is `[A-Za-z0-9_]{1,64}`, so the prefix can neither contain a glob
//! metacharacter nor end inside another kb's prefix (`kato:{kb}:` vs `kato:{kb_1}:`).

use kato_core::KbId;

/// The keys of one kb.
#[derive(Debug, Clone)]
pub(crate) struct KbKeys {
    prefix: String,
}

impl KbKeys {
    pub(crate) fn new(kb: &KbId) -> Self {
        Self {
            prefix: format!("kato:{{{kb}}}:"),
        }
    }

    /// `kato:{<kb_id>}:`, the start of every key of the kb.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push_str(part);
        }
        key
    }

    /// SCAN pattern matching exactly this kb's keys.
    pub(crate) fn all_keys_pattern(&self) -> String {
        self.key(&["*"])
    }

    pub(crate) fn frequency(&self, name: &str) -> String {
        self.key(&["frequency:", name])
    }

    pub(crate) fn emotives(&self, name: &str) -> String {
        self.key(&["emotives:", name])
    }

    pub(crate) fn metadata(&self, name: &str) -> String {
        self.key(&["metadata:", name])
    }

    pub(crate) fn symbol_frequencies(&self) -> String {
        self.key(&["symbols:freq"])
    }

    pub(crate) fn symbol_pattern_counts(&self) -> String {
        self.key(&["symbols:pmf"])
    }

    pub(crate) fn affinity(&self, symbol: &str) -> String {
        self.key(&["affinity:", symbol])
    }

    pub(crate) fn total_symbols_in_patterns_frequencies(&self) -> String {
        self.key(&["global:total_symbols_in_patterns_frequencies"])
    }

    pub(crate) fn total_pattern_frequencies(&self) -> String {
        self.key(&["global:total_pattern_frequencies"])
    }

    pub(crate) fn total_unique_patterns(&self) -> String {
        self.key(&["global:total_unique_patterns"])
    }

    /// The start of the resident indexes' keys ([`INDEX_KEYS`]).
    pub(crate) fn index_keys(&self) -> String {
        self.key(&[INDEX_KEYS])
    }

    /// The resident indexes' generation of the kb: a token its first loader sets; gone when
    /// the kb is cleared, dropped, rehydrated or Redis lost its data, which makes every index
    /// of the kb rebuild.
    pub(crate) fn index_generation(&self) -> String {
        self.key(&[INDEX_KEYS, "generation"])
    }

    /// How many patterns the learn script has announced on the feed.
    pub(crate) fn index_sequence(&self) -> String {
        self.key(&[INDEX_KEYS, "seq"])
    }

    /// The feed: a capped stream of the kb's new patterns (`s` = sequence number, `n` = name).
    pub(crate) fn index_feed(&self) -> String {
        self.key(&[INDEX_KEYS, "feed"])
    }
}

/// What the keys of the resident indexes' change feed start with, after the kb's prefix. They
/// are bookkeeping, not kb values: `dump_kb` (and so `verify`) leaves them out.
pub(crate) const INDEX_KEYS: &str = "index:";

/// A metadata (key, value) pair as the field of a pattern's metadata hash: the JSON array
/// `["key","value"]`, which cannot be confused for another pair whatever the strings hold.
pub(crate) fn metadata_field(key: &str, value: &str) -> String {
    serde_json::to_string(&(key, value)).unwrap_or_default()
}

/// The inverse of [`metadata_field`]; `None` for a field kato did not write.
pub(crate) fn parse_metadata_field(field: &str) -> Option<(String, String)> {
    serde_json::from_str(field).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_kb_as_hash_tag() {
        let keys = KbKeys::new(&KbId::new("kb_1").unwrap());
        assert_eq!(keys.frequency("abc"), "kato:{kb_1}:frequency:abc");
        assert_eq!(keys.affinity("{x}*"), "kato:{kb_1}:affinity:{x}*");
        assert_eq!(keys.all_keys_pattern(), "kato:{kb_1}:*");
    }

    #[test]
    fn metadata_fields_round_trip_any_text() {
        for (k, v) in [("a", "b"), ("k\"]", "[\"x"), ("", ""), ("é\n", "\\")] {
            assert_eq!(
                parse_metadata_field(&metadata_field(k, v)),
                Some((k.into(), v.into()))
            );
        }
    }
}
