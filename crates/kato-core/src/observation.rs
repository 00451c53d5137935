//! One observation and how it becomes an event (reference spec section 2.2 steps 3 to 5).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::event::{Event, Symbol};
use crate::numpy_print::array_str;
use crate::sha1_hex::sha1_lower_hex;

/// Prefix of the symbol that stands for an observation's vectors.
pub const VECTOR_SYMBOL_PREFIX: &str = "VCTR|";

/// What a client observes at one time step. Emotives and metadata never become symbols; they are
/// carried for the learn path.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observation {
    /// String symbols, in the order sent.
    pub strings: Vec<String>,
    /// Numeric vectors; all of one observation are summed element-wise into one vector symbol.
    pub vectors: Vec<Vec<f64>>,
    /// Emotive name to value.
    pub emotives: BTreeMap<String, f64>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// How the symbols of one event are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SymbolOrder {
    /// Sorted by Unicode code point (the reference default, `SORT_SYMBOLS=true`).
    #[default]
    Sorted,
    /// Kept in the order observed.
    AsObserved,
}

impl SymbolOrder {
    /// The order selected by the reference's `sort_symbols` flag.
    pub fn from_sort_symbols(sort_symbols: bool) -> Self {
        if sort_symbols {
            Self::Sorted
        } else {
            Self::AsObserved
        }
    }

    fn apply(self, symbols: &mut [Symbol]) {
        if self == Self::Sorted {
            // Code point order: `str` compares UTF-8 bytes, which orders like code points.
            symbols.sort_unstable();
        }
    }
}

impl Observation {
    /// Whether the observation adds an event: it must carry strings or vectors. Emotives and
    /// metadata alone add nothing.
    pub fn has_symbols(&self) -> bool {
        !self.strings.is_empty() || !self.vectors.is_empty()
    }

    /// The event this observation appends to the STM, or `None` when it has neither strings nor
    /// vectors: the vector symbol first (see [`vector_symbol`]), then the strings, each part
    /// ordered by `order` on its own. Duplicates and the empty string are kept.
    pub fn to_event(&self, order: SymbolOrder) -> Result<Option<Event>, CoreError> {
        self.to_event_with_neighbours(order, &[])
    }

    /// [`Self::to_event`] with the names of the learned vectors nearest this observation's
    /// summed vector (the reference's k-nearest search of its vector store): the vector part
    /// of the event is the union of `neighbours` (nearest first) and the observation's own
    /// vector symbol, without repeats, then ordered by `order`. The reference's union is a
    /// Python set, whose order is arbitrary when sorting is off; here it is the neighbours' order
    /// followed by the own name.
    pub fn to_event_with_neighbours(
        &self,
        order: SymbolOrder,
        neighbours: &[String],
    ) -> Result<Option<Event>, CoreError> {
        if !self.has_symbols() {
            return Ok(None);
        }
        let mut vector_symbols: Vec<Symbol> = Vec::with_capacity(neighbours.len() + 1);
        if !self.vectors.is_empty() {
            let own = vector_symbol(&self.vectors)?;
            for name in neighbours {
                if !vector_symbols.iter().any(|symbol| symbol.as_str() == name) {
                    vector_symbols.push(Symbol::from(name.as_str()));
                }
            }
            if !vector_symbols.contains(&own) {
                vector_symbols.push(own);
            }
        }
        // Vector symbols and strings are ordered separately, never merged.
        order.apply(&mut vector_symbols);
        let mut strings: Vec<Symbol> = self
            .strings
            .iter()
            .map(|s| Symbol::from(s.as_str()))
            .collect();
        order.apply(&mut strings);
        vector_symbols.extend(strings);
        Ok(Some(Event::new(vector_symbols)))
    }
}

/// The element-wise sum of `vectors` as float64, added in order starting from `+0.0` (so
/// `[-0.0]` sums to `[0.0]`, as NumPy's `sum(axis=0)` does). Vectors of different lengths are
/// rejected.
pub fn sum_vectors(vectors: &[Vec<f64>]) -> Result<Vec<f64>, CoreError> {
    let expected = vectors.first().map_or(0, Vec::len);
    let mut sum = vec![0.0; expected];
    for (index, vector) in vectors.iter().enumerate() {
        if vector.len() != expected {
            return Err(CoreError::VectorLengthMismatch {
                index,
                expected,
                found: vector.len(),
            });
        }
        for (total, value) in sum.iter_mut().zip(vector) {
            *total += value;
        }
    }
    Ok(sum)
}

/// The symbol for an observation's vectors: `VCTR|` + lowercase SHA-1 of NumPy's `str()` of their
/// element-wise sum (see [`sum_vectors`]), e.g. `[[1, 2], [3, 4]]` → text `[4. 6.]`.
///
/// The reference also adds the names of up to three nearest stored vectors from its vector
/// database; kato-core has no vector store: the caller finds them and passes them to
/// [`Observation::to_event_with_neighbours`].
pub fn vector_symbol(vectors: &[Vec<f64>]) -> Result<Symbol, CoreError> {
    let text = array_str(&sum_vectors(vectors)?);
    let mut symbol = String::from(VECTOR_SYMBOL_PREFIX);
    symbol.extend(sha1_lower_hex(text.as_bytes()).map(char::from));
    Ok(Symbol::from(symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(strings: &[&str], vectors: &[&[f64]]) -> Observation {
        Observation {
            strings: strings.iter().map(|s| (*s).to_owned()).collect(),
            vectors: vectors.iter().map(|v| v.to_vec()).collect(),
            ..Observation::default()
        }
    }

    fn texts(event: &Event) -> Vec<&str> {
        event.iter().map(Symbol::as_str).collect()
    }

    #[test]
    fn neighbours_join_the_own_vector_symbol_without_repeats() {
        let observed = observation(&["s"], &[&[1.0, 0.0, 0.0]]);
        let own = vector_symbol(&observed.vectors)
            .unwrap()
            .as_str()
            .to_owned();
        let neighbours = ["VCTR|b".to_owned(), own.clone(), "VCTR|a".to_owned()];
        let event = observed
            .to_event_with_neighbours(SymbolOrder::Sorted, &neighbours)
            .unwrap()
            .unwrap();
        let mut vectors = vec!["VCTR|a", "VCTR|b", own.as_str()];
        vectors.sort_unstable();
        vectors.push("s");
        assert_eq!(texts(&event), vectors);
        let event = observed
            .to_event_with_neighbours(SymbolOrder::AsObserved, &neighbours[..1])
            .unwrap()
            .unwrap();
        assert_eq!(texts(&event), ["VCTR|b", own.as_str(), "s"]);
        // Without vectors, neighbours add nothing.
        let event = observation(&["s"], &[])
            .to_event_with_neighbours(SymbolOrder::Sorted, &neighbours)
            .unwrap()
            .unwrap();
        assert_eq!(texts(&event), ["s"]);
    }

    #[test]
    fn strings_sorted_by_code_point_with_duplicates_and_empty_string_kept() {
        let event = observation(&["b", "a", "", "b", "B", "é"], &[])
            .to_event(SymbolOrder::Sorted)
            .unwrap()
            .unwrap();
        assert_eq!(texts(&event), ["", "B", "a", "b", "b", "é"]);
    }

    #[test]
    fn unsorted_keeps_observed_order() {
        let event = observation(&["b", "a"], &[])
            .to_event(SymbolOrder::from_sort_symbols(false))
            .unwrap()
            .unwrap();
        assert_eq!(texts(&event), ["b", "a"]);
    }

    #[test]
    fn vector_symbol_comes_first() {
        let event = observation(&["zeta", "A"], &[&[1.0, 0.0, 0.0, 0.0]])
            .to_event(SymbolOrder::Sorted)
            .unwrap()
            .unwrap();
        assert_eq!(
            texts(&event),
            ["VCTR|2fb865b4597f2549eff7585cc6d16cc1fea9b5b5", "A", "zeta"]
        );
    }

    #[test]
    fn no_strings_and_no_vectors_adds_no_event() {
        let mut only_extras = observation(&[], &[]);
        only_extras.emotives.insert("joy".to_owned(), 0.5);
        only_extras
            .metadata
            .insert("k".to_owned(), serde_json::json!("v"));
        assert!(!only_extras.has_symbols());
        assert_eq!(only_extras.to_event(SymbolOrder::Sorted).unwrap(), None);
    }

    #[test]
    fn sums_start_from_positive_zero() {
        assert_eq!(
            sum_vectors(&[vec![-0.0]]).unwrap()[0].to_bits(),
            0.0_f64.to_bits()
        );
        assert_eq!(sum_vectors(&[]).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn vectors_of_different_lengths_are_rejected() {
        let error = vector_symbol(&[vec![1.0, 2.0], vec![1.0]]).unwrap_err();
        assert_eq!(
            error,
            CoreError::VectorLengthMismatch {
                index: 1,
                expected: 2,
                found: 1
            }
        );
    }

    #[test]
    fn observation_reads_the_wire_shape_with_defaults() {
        let parsed: Observation = serde_json::from_str(r#"{"strings": ["a"]}"#).unwrap();
        assert_eq!(parsed, observation(&["a"], &[]));
        let empty: Observation = serde_json::from_str("{}").unwrap();
        assert!(!empty.has_symbols());
    }
}
