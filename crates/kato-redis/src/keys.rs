//! The Redis key layout. Every key of a kb starts with `kato:{<kb>}:`, where `<kb>` is the kb id
//! in its key form ([`key_form`]); the braces make it a hash tag, so all of a kb's keys live in
//! one cluster slot and one script can update them atomically. The key form holds only
//! `[A-Za-z0-9_%]`, so the prefix can neither contain a glob metacharacter nor a brace, and ends
//! at its one `}`: no kb's prefix starts another kb's keys (`kato:{kb}:` vs `kato:{kb_1}:`).

use std::borrow::Cow;
use std::fmt::Write as _;

use kato_core::KbId;

/// The kb id as it appears in key names: `[A-Za-z0-9_]` as it is, every other byte as `%`
/// and two upper-case hex digits. Injective (`%` itself is escaped), and the ids of the first
/// kato versions, all `[A-Za-z0-9_]`, keep the keys they had.
pub(crate) fn key_form(kb: &KbId) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let id = kb.as_str();
    if id.bytes().all(plain) {
        return Cow::Borrowed(id);
    }
    let mut escaped = String::with_capacity(id.len() * 3);
    for byte in id.bytes() {
        if plain(byte) {
            escaped.push(char::from(byte));
        } else {
            let _ = write!(escaped, "%{byte:02X}");
        }
    }
    Cow::Owned(escaped)
}

/// The keys of one kb.
#[derive(Debug, Clone)]
pub(crate) struct KbKeys {
    prefix: String,
}

impl KbKeys {
    pub(crate) fn new(kb: &KbId) -> Self {
        Self {
            prefix: format!("kato:{{{}}}:", key_form(kb)),
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

    /// The dimension the kb's first learned vector locked.
    pub(crate) fn vector_dimension(&self) -> String {
        self.key(&[INDEX_KEYS, "vectors:dimension"])
    }

    /// How many vectors have been announced on the vector feed.
    pub(crate) fn vector_sequence(&self) -> String {
        self.key(&[INDEX_KEYS, "vectors:seq"])
    }

    /// The vector feed: a capped stream of the kb's newly learned vectors, as the pattern feed.
    pub(crate) fn vector_feed(&self) -> String {
        self.key(&[INDEX_KEYS, "vectors:feed"])
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
    fn ids_outside_the_plain_characters_are_escaped_apart() {
        let key_of = |id: &str| KbKeys::new(&KbId::new(id).unwrap()).frequency("abc");
        assert_eq!(
            key_of("a{b}*"),
            "kato:{a%7Bb%7D%2A}:frequency:abc",
            "no brace or glob character reaches the key"
        );
        assert_eq!(key_of("ü"), "kato:{%C3%BC}:frequency:abc");
        assert_eq!(
            key_of("x[0.1-True]"),
            "kato:{x%5B0%2E1%2DTrue%5D}:frequency:abc"
        );
        // Raw forms that an escaping without escaping its own `%` would merge.
        assert_ne!(key_of("a%41"), key_of("aA"));
        assert_eq!(key_of("a%41"), "kato:{a%2541}:frequency:abc");
        let mut seen = std::collections::BTreeSet::new();
        for id in [
            "a", "a_", "a-", "a.", "a ", "a\n", "a%", "a%2D", "a\u{0}", "A", "ä",
        ] {
            let form = key_form(&KbId::new(id).unwrap()).into_owned();
            assert!(
                form.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'%'),
                "{form}"
            );
            assert!(seen.insert(form), "{id:?} shares its key form");
        }
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
