//! One shard of an index: its patterns' flat bodies and its postings.

use std::sync::Mutex;

use crate::search::Body;
use crate::symbols::Symbols;
use crate::{NameBytes, name_hex};

/// One occurrence of a symbol in a pattern of the shard, with the facts the bounds read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Posting {
    /// The pattern, by its place in the shard.
    pub(crate) pattern: u32,
    /// Occurrences of the symbol in the pattern, saturating at `u16::MAX` (then the body is
    /// counted, see [`Shard::count`]).
    pub(crate) count: u16,
    /// The size of the event of the symbol's first occurrence, saturating at `u8::MAX`.
    pub(crate) first_event_size: u8,
    /// Whether the symbol is the pattern's first symbol.
    pub(crate) is_first: bool,
}

/// Reusable per-search buffers of one shard (a search must not clear the whole shard).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Per pattern of the shard: the overlap accumulated so far; 0 for every untouched one
    /// (restored after each search).
    pub(crate) overlap: Vec<u32>,
    /// The patterns whose overlap is above 0, in order of first touch, each with the
    /// `first_event_size` of the posting that touched it first (for an overlap of 1 the only
    /// one).
    pub(crate) touched: Vec<(u32, u8)>,
}

/// Patterns `0..len` of a shard.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    /// Every pattern's symbols, one after the other.
    flat: Vec<u32>,
    /// Pattern `p`'s symbols are `flat[starts[p]..starts[p + 1]]` (one more entry than patterns,
    /// once the first is in).
    starts: Vec<u32>,
    /// Every pattern's event sizes, one after the other.
    sizes: Vec<u32>,
    /// Pattern `p`'s event sizes are `sizes[event_starts[p]..event_starts[p + 1]]`.
    event_starts: Vec<u32>,
    names: Vec<NameBytes>,
    /// Per symbol id: its postings in this shard, by increasing pattern.
    postings: Vec<Vec<Posting>>,
    scratch: Mutex<Vec<Scratch>>,
}

impl Shard {
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Adds a pattern the index does not hold yet.
    pub(crate) fn insert(
        &mut self,
        name: NameBytes,
        events: &[Vec<String>],
        symbols: &mut Symbols,
    ) {
        if self.starts.is_empty() {
            self.starts.push(0);
            self.event_starts.push(0);
        }
        let pattern = u32::try_from(self.names.len()).expect("fewer than 2^32 patterns per shard");
        let start = self.flat.len();
        for event in events {
            self.sizes
                .push(u32::try_from(event.len()).expect("an event under 2^32 symbols"));
            for symbol in event {
                self.flat.push(symbols.intern(symbol));
            }
        }
        let first = self.flat.get(start).copied();
        // One posting per distinct symbol, at its first occurrence.
        let mut event_of = Vec::with_capacity(self.flat.len() - start);
        for event in events {
            event_of.extend(std::iter::repeat_n(event.len(), event.len()));
        }
        let body = &self.flat[start..];
        for (offset, &id) in body.iter().enumerate() {
            if body[..offset].contains(&id) {
                continue;
            }
            let count = body[offset..].iter().filter(|&&other| other == id).count();
            let lists = &mut self.postings;
            if lists.len() <= id as usize {
                lists.resize_with(symbols.len().max(id as usize + 1), Vec::new);
            }
            lists[id as usize].push(Posting {
                pattern,
                count: u16::try_from(count).unwrap_or(u16::MAX),
                first_event_size: u8::try_from(event_of[offset]).unwrap_or(u8::MAX),
                is_first: first == Some(id) && offset == 0,
            });
        }
        self.starts
            .push(u32::try_from(self.flat.len()).expect("under 2^32 symbols per shard"));
        self.event_starts
            .push(u32::try_from(self.sizes.len()).expect("under 2^32 events per shard"));
        self.names.push(name);
    }

    /// Pattern `p`'s flat symbols.
    pub(crate) fn symbols(&self, pattern: u32) -> &[u32] {
        let p = pattern as usize;
        &self.flat[self.starts[p] as usize..self.starts[p + 1] as usize]
    }

    /// Pattern `p`'s event sizes.
    pub(crate) fn event_sizes(&self, pattern: u32) -> &[u32] {
        let p = pattern as usize;
        &self.sizes[self.event_starts[p] as usize..self.event_starts[p + 1] as usize]
    }

    /// Pattern `p`'s length (symbols, repeats included).
    pub(crate) fn length(&self, pattern: u32) -> u32 {
        let p = pattern as usize;
        self.starts[p + 1] - self.starts[p]
    }

    pub(crate) fn name(&self, pattern: u32) -> &NameBytes {
        &self.names[pattern as usize]
    }

    /// The postings of symbol `id` (empty when no pattern of the shard holds it).
    pub(crate) fn postings(&self, id: u32) -> &[Posting] {
        self.postings.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The true count of a posting (its stored count saturates).
    pub(crate) fn count(&self, posting: &Posting, id: u32) -> u32 {
        if posting.count < u16::MAX {
            return u32::from(posting.count);
        }
        let found = self
            .symbols(posting.pattern)
            .iter()
            .filter(|&&s| s == id)
            .count();
        u32::try_from(found).unwrap_or(u32::MAX)
    }

    /// Pattern `p`'s name and events as strings.
    pub(crate) fn body(&self, pattern: u32, symbols: &Symbols) -> Body {
        let mut flat = self.symbols(pattern).iter();
        let events = self
            .event_sizes(pattern)
            .iter()
            .map(|&size| {
                flat.by_ref()
                    .take(size as usize)
                    .map(|&id| symbols.text(id).to_owned())
                    .collect()
            })
            .collect();
        Body {
            name: name_hex(self.name(pattern)),
            events,
        }
    }

    /// A scratch for one search, sized to the shard.
    pub(crate) fn take_scratch(&self) -> Scratch {
        let mut scratch = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        scratch.overlap.resize(self.len(), 0);
        scratch
    }

    /// Returns a scratch whose overlaps are all 0 again.
    pub(crate) fn return_scratch(&self, mut scratch: Scratch) {
        scratch.touched.clear();
        self.scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(scratch);
    }

    /// Heap bytes (capacities; scratch buffers not counted, they live while searches run).
    pub(crate) fn bytes(&self) -> usize {
        self.flat.capacity() * 4
            + self.starts.capacity() * 4
            + self.sizes.capacity() * 4
            + self.event_starts.capacity() * 4
            + self.names.capacity() * size_of::<NameBytes>()
            + self.postings.capacity() * size_of::<Vec<Posting>>()
            + self
                .postings
                .iter()
                .map(|list| list.capacity() * size_of::<Posting>())
                .sum::<usize>()
    }
}
