//! Symbols and events: the atoms and molecules of everything kato learns.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One string token, for example `"hello"` or a vector's `"VCTR|<sha1>"`. Any string is a valid
/// symbol, the empty string included (the reference accepts it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Symbol(String);

impl Symbol {
    /// Wraps a string as a symbol.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The symbol's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for Symbol {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Symbol {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0
    }
}

impl PartialEq<str> for Symbol {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Symbol {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The symbols observed together at one time step, in their stored order (sorted by code point
/// when sorting is on; see [`crate::SymbolOrder`]). Duplicates are kept.
///
/// Events built by [`crate::Observation::to_event`] are never empty; an event built by hand may
/// be, and is then named and stored as the reference would store `[]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event(Vec<Symbol>);

impl Event {
    /// An event holding `symbols` in the given order.
    pub fn new(symbols: Vec<Symbol>) -> Self {
        Self(symbols)
    }

    /// The symbols in stored order.
    pub fn symbols(&self) -> &[Symbol] {
        &self.0
    }

    /// Iterates the symbols in stored order.
    pub fn iter(&self) -> std::slice::Iter<'_, Symbol> {
        self.0.iter()
    }

    /// Number of symbols, duplicates included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the event holds no symbol.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Unwraps the symbols.
    pub fn into_symbols(self) -> Vec<Symbol> {
        self.0
    }
}

impl<S: Into<Symbol>> FromIterator<S> for Event {
    fn from_iter<I: IntoIterator<Item = S>>(symbols: I) -> Self {
        Self(symbols.into_iter().map(Into::into).collect())
    }
}

impl From<Vec<Symbol>> for Event {
    fn from(symbols: Vec<Symbol>) -> Self {
        Self(symbols)
    }
}

impl<'a> IntoIterator for &'a Event {
    type Item = &'a Symbol;
    type IntoIter = std::slice::Iter<'a, Symbol>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_order_by_code_point() {
        let mut symbols: Vec<Symbol> = ["b", "B", "é", "a", ""]
            .into_iter()
            .map(Symbol::from)
            .collect();
        symbols.sort();
        let texts: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(texts, ["", "B", "a", "b", "é"]);
    }

    #[test]
    fn event_serializes_as_plain_list_of_strings() {
        let event: Event = ["a", "b"].into_iter().collect();
        assert_eq!(serde_json::to_string(&event).unwrap(), r#"["a","b"]"#);
        let back: Event = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(back, event);
    }
}
