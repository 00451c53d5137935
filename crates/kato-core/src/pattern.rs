//! Patterns (learned STM snapshots) and the per-pattern columns storage keeps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{Event, Symbol};
use crate::pattern_name::PatternName;

/// A pattern is stored only when it holds at least this many symbols in total (duplicates
/// included, possibly all in one event).
pub const MIN_PATTERN_LENGTH: usize = 2;

/// A learned sequence of events (the STM at learn time), in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pattern(Vec<Event>);

impl Pattern {
    /// A pattern made of `events`, in order.
    pub fn new(events: Vec<Event>) -> Self {
        Self(events)
    }

    /// The events in order.
    pub fn events(&self) -> &[Event] {
        &self.0
    }

    /// Unwraps the events.
    pub fn into_events(self) -> Vec<Event> {
        self.0
    }

    /// The pattern's name (see [`PatternName::of_events`]).
    pub fn name(&self) -> PatternName {
        PatternName::of_events(&self.0)
    }

    /// Every symbol of every event, in order, duplicates included.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> + '_ {
        self.0.iter().flat_map(Event::iter)
    }

    /// Total number of symbols, duplicates included (the `length` column).
    pub fn length(&self) -> usize {
        self.0.iter().map(Event::len).sum()
    }

    /// Whether the pattern is big enough to be stored (see [`MIN_PATTERN_LENGTH`]).
    pub fn is_storable(&self) -> bool {
        self.length() >= MIN_PATTERN_LENGTH
    }

    /// The values storage derives from the pattern, computed in one pass.
    pub fn columns(&self) -> PatternColumns<'_> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for symbol in self.symbols() {
            *counts.entry(symbol.as_str()).or_default() += 1;
        }
        let first_token = self.0.first().and_then(|event| event.symbols().first());
        let last_token = self.0.last().and_then(|event| event.symbols().last());
        PatternColumns {
            length: counts.values().sum(),
            first_token: first_token.map_or("", Symbol::as_str),
            last_token: last_token.map_or("", Symbol::as_str),
            symbol_counts: counts.into_iter().collect(),
        }
    }
}

impl From<Vec<Event>> for Pattern {
    fn from(events: Vec<Event>) -> Self {
        Self(events)
    }
}

impl FromIterator<Event> for Pattern {
    fn from_iter<I: IntoIterator<Item = Event>>(events: I) -> Self {
        Self(events.into_iter().collect())
    }
}

/// What storage keeps next to a pattern's events, borrowed from the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternColumns<'p> {
    /// Total number of symbols, duplicates included.
    pub length: usize,
    /// First symbol of the first event, or `""` when there is none (the reference's
    /// `pattern_data[0][0]`).
    pub first_token: &'p str,
    /// Last symbol of the last event, or `""` when there is none (`pattern_data[-1][-1]`).
    pub last_token: &'p str,
    /// Each distinct symbol with its number of occurrences, sorted by symbol (code point order).
    pub symbol_counts: Vec<(&'p str, usize)>,
}

impl<'p> PatternColumns<'p> {
    /// The distinct symbols, sorted by code point (the `token_set` column).
    pub fn token_set(&self) -> Vec<&'p str> {
        self.symbol_counts
            .iter()
            .map(|&(symbol, _)| symbol)
            .collect()
    }

    /// Number of distinct symbols (the `token_count` column).
    pub fn token_count(&self) -> usize {
        self.symbol_counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(events: &[&[&str]]) -> Pattern {
        events
            .iter()
            .map(|symbols| symbols.iter().copied().collect())
            .collect()
    }

    #[test]
    fn columns_of_a_pattern_with_duplicates() {
        let pattern = pattern(&[&["b", "a"], &["a"], &["c", "a", "z"]]);
        let columns = pattern.columns();
        assert_eq!(columns.length, 6);
        assert_eq!(pattern.length(), 6);
        assert_eq!(columns.first_token, "b");
        assert_eq!(columns.last_token, "z");
        assert_eq!(
            columns.symbol_counts,
            [("a", 3), ("b", 1), ("c", 1), ("z", 1)]
        );
        assert_eq!(columns.token_set(), ["a", "b", "c", "z"]);
        assert_eq!(columns.token_count(), 4);
    }

    #[test]
    fn columns_of_empty_patterns_and_events() {
        let empty = Pattern::default();
        let columns = empty.columns();
        assert_eq!(
            (columns.length, columns.first_token, columns.last_token),
            (0, "", "")
        );
        assert_eq!(columns.token_count(), 0);

        let hollow_ends = pattern(&[&[], &["x"], &[]]);
        let columns = hollow_ends.columns();
        assert_eq!(
            (columns.length, columns.first_token, columns.last_token),
            (1, "", "")
        );
    }

    #[test]
    fn storable_needs_two_symbols_in_total() {
        assert!(!pattern(&[&["a"]]).is_storable());
        assert!(!pattern(&[&[], &["a"]]).is_storable());
        assert!(pattern(&[&["a", "a"]]).is_storable());
        assert!(pattern(&[&["a"], &["b"]]).is_storable());
    }
}
