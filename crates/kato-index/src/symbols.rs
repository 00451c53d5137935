//! Symbols interned to dense `u32` ids.

use std::collections::HashMap;

/// Each distinct symbol of the kb once, with its id (`0..len`, in order of first insertion).
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    ids: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

impl Symbols {
    /// The id of `symbol`, interning it if new.
    pub(crate) fn intern(&mut self, symbol: &str) -> u32 {
        if let Some(&id) = self.ids.get(symbol) {
            return id;
        }
        let id = u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct symbols");
        self.ids.insert(symbol.into(), id);
        self.texts.push(symbol.into());
        id
    }

    /// The id of `symbol`, if the kb holds it.
    pub(crate) fn id(&self, symbol: &str) -> Option<u32> {
        self.ids.get(symbol).copied()
    }

    /// The text of `id`.
    pub(crate) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    /// Distinct symbols.
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// Heap bytes, approximately (both copies of each text, the map's slots).
    pub(crate) fn bytes(&self) -> usize {
        let texts: usize = self.texts.iter().map(|text| text.len()).sum();
        2 * texts
            + self.texts.capacity() * size_of::<Box<str>>()
            + self.ids.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
    }
}
