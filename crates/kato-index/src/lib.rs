//! kato-index: the resident index of one knowledge base (DESIGN.md section 5).
//!
//! A [`KbIndex`] holds every pattern of a kb in a compact form: symbols interned to dense `u32`
//! ids, each pattern's symbols as one flat run with its event sizes, names as 20 SHA-1 bytes, and
//! one postings list per symbol (pattern, count in the pattern, the size of the event of its
//! first occurrence, whether it is the pattern's first symbol). It is built from bodies one
//! pattern at a time ([`KbIndex::insert`], idempotent by name) and searched by
//! [`KbIndex::search`], whose answer is exactly what scoring every pattern of the kb would hand
//! to kato-core's `predict_matched` (see [`search`] for the paths and the bounds).
//!
//! **Invariants.** No I/O: no files, sockets, clocks or environment (threads for a parallel
//! search are fine). Exact: every path gives the same pruned set as the brute force over every
//! pattern, which the property tests check. Patterns live in shards (by insertion order); each
//! shard is searched on its own and the shards' pruned sets merge exactly because the pruning
//! order is total.

mod error;
mod filter;
mod search;
mod shard;
mod symbols;

pub use error::IndexError;
pub use filter::Filter;
pub use search::{Body, Found, Query, Search};

use shard::Shard;
use symbols::Symbols;

/// A pattern name as stored: the 20 bytes of its SHA-1.
pub type NameBytes = [u8; 20];

/// The resident index of one kb.
#[derive(Debug)]
pub struct KbIndex {
    symbols: Symbols,
    shards: Vec<Shard>,
    /// Every pattern as `shard << 32 | place`, hashed by its name's first 8 bytes (a SHA-1 is
    /// its own hash): 9 bytes per pattern where a set of names took about 40.
    names: hashbrown::HashTable<u64>,
    patterns: usize,
}

/// The hash of a name: its first 8 bytes.
fn name_hash(bytes: &NameBytes) -> u64 {
    let mut first = [0; 8];
    first.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(first)
}

/// The name of the pattern `place` (`shard << 32 | index`).
fn name_at(shards: &[Shard], place: u64) -> &NameBytes {
    shards[(place >> 32) as usize].name(place as u32)
}

impl KbIndex {
    /// An empty index whose patterns are spread over `shards` shards (at least one), searched
    /// in parallel.
    pub fn new(shards: usize) -> Self {
        Self {
            symbols: Symbols::default(),
            shards: (0..shards.max(1)).map(|_| Shard::default()).collect(),
            names: hashbrown::HashTable::new(),
            patterns: 0,
        }
    }

    /// An empty index with one shard per available core.
    pub fn with_available_parallelism() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Adds the pattern `name` (bare 40-hex) with `events`; `false` when it is already held
    /// (the index keeps one body per name, as the stores do).
    pub fn insert(&mut self, name: &str, events: &[Vec<String>]) -> Result<bool, IndexError> {
        let bytes = name_bytes(name)?;
        let hash = name_hash(&bytes);
        let shards = &self.shards;
        if self
            .names
            .find(hash, |&place| *name_at(shards, place) == bytes)
            .is_some()
        {
            return Ok(false);
        }
        let shard = self.patterns % self.shards.len();
        let place = ((shard as u64) << 32) | self.shards[shard].len() as u64;
        self.shards[shard].insert(bytes, events, &mut self.symbols);
        self.patterns += 1;
        let shards = &self.shards;
        self.names
            .insert_unique(hash, place, |&place| name_hash(name_at(shards, place)));
        Ok(true)
    }

    /// Frees the spare capacity of the index's vectors (growth leaves up to half of each
    /// unused): call it after loading in bulk.
    pub fn shrink_to_fit(&mut self) {
        for shard in &mut self.shards {
            shard.shrink_to_fit();
        }
        let shards = &self.shards;
        self.names
            .shrink_to_fit(|&place| name_hash(name_at(shards, place)));
    }

    /// Whether the pattern `name` (bare 40-hex) is held; an invalid name is not.
    pub fn contains(&self, name: &str) -> bool {
        name_bytes(name).is_ok_and(|bytes| {
            self.names
                .find(name_hash(&bytes), |&place| {
                    *name_at(&self.shards, place) == bytes
                })
                .is_some()
        })
    }

    /// Patterns held.
    pub fn len(&self) -> usize {
        self.patterns
    }

    /// Distinct symbols held.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Whether no pattern is held.
    pub fn is_empty(&self) -> bool {
        self.patterns == 0
    }

    /// The heap bytes the index holds (capacities, so what it costs, not only what it uses).
    pub fn bytes(&self) -> usize {
        let names = self.names.capacity() * (size_of::<u64>() + 1);
        names
            + self.symbols.bytes()
            + self.shards.iter().map(Shard::bytes).sum::<usize>()
            + size_of::<Self>()
    }

    /// Every pattern's name and body, in no particular order (for checks and tools).
    pub fn bodies(&self) -> impl Iterator<Item = Body> + '_ {
        self.shards.iter().flat_map(move |shard| {
            (0..shard.len()).map(move |pattern| shard.body(pattern as u32, &self.symbols))
        })
    }
}

/// The 20 bytes of a bare 40-hex name (lowercase, as the stores keep it).
pub fn name_bytes(name: &str) -> Result<NameBytes, IndexError> {
    let invalid = || IndexError::InvalidName(name.chars().take(64).collect());
    let text = name.as_bytes();
    if text.len() != 40 {
        return Err(invalid());
    }
    let mut bytes = [0; 20];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *byte = (digit(pair[0]).ok_or_else(invalid)? << 4) | digit(pair[1]).ok_or_else(invalid)?;
    }
    Ok(bytes)
}

/// The bare 40-hex name of `bytes`.
pub fn name_hex(bytes: &NameBytes) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(40);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        let name = "048607f8988a39e5594a01e63a40f1d3266a5cd0";
        assert_eq!(name_hex(&name_bytes(name).unwrap()), name);
        for bad in [
            "",
            "048607F8988A39E5594A01E63A40F1D3266A5CD0",
            &name[..39],
            "g".repeat(40).as_str(),
        ] {
            assert!(name_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn insert_is_idempotent_by_name() {
        let mut index = KbIndex::new(2);
        let events = vec![vec!["a".to_owned()], vec!["b".to_owned()]];
        let name = "0".repeat(40);
        assert!(index.insert(&name, &events).unwrap());
        assert!(!index.insert(&name, &events).unwrap());
        assert_eq!(index.len(), 1);
        assert!(index.contains(&name));
        let bodies: Vec<Body> = index.bodies().collect();
        assert_eq!(bodies, [Body { name, events }]);
    }
}
