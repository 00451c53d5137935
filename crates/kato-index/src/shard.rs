//! One shard of an index: its patterns' flat bodies and its postings.

use std::sync::Mutex;

use crate::search::Body;
use crate::symbols::Symbols;
use crate::{NameBytes, name_hex};

/// One symbol of a pattern of the shard, with the facts the search reads without touching the
/// pattern's body (8 bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Posting {
    /// The pattern, by its place in the shard.
    pub(crate) pattern: u32,
    /// Bits 4-15: the pattern's length, saturating at [`LENGTH_UNKNOWN`] (then read from the
    /// body). Bits 0-3: occurrences of the symbol in the pattern, saturating at
    /// [`COUNT_UNKNOWN`] (then counted in the body).
    length_count: u16,
    /// Bit 7: the symbol is the pattern's first. Bits 0-6: the size of the event of its first
    /// occurrence, saturating at [`EVENT_SIZE_UNKNOWN`].
    flags: u8,
    /// The largest event holding the symbol, saturating at [`EVENT_SIZE_UNKNOWN`].
    widest: u8,
}

/// An event size in a posting that stands for 127 or more.
pub(crate) const EVENT_SIZE_UNKNOWN: u8 = 0x7f;
const FIRST_SYMBOL: u8 = 0x80;
const LENGTH_UNKNOWN: u16 = 0x0fff;
const COUNT_UNKNOWN: u16 = 0x000f;

fn saturated_event_size(size: usize) -> u8 {
    u8::try_from(size)
        .unwrap_or(EVENT_SIZE_UNKNOWN)
        .min(EVENT_SIZE_UNKNOWN)
}

impl Posting {
    pub(crate) fn is_first(&self) -> bool {
        self.flags & FIRST_SYMBOL != 0
    }

    /// The size of the event of the symbol's first occurrence, or [`EVENT_SIZE_UNKNOWN`].
    pub(crate) fn first_event_size(&self) -> u8 {
        self.flags & EVENT_SIZE_UNKNOWN
    }

    /// The largest event holding the symbol, or [`EVENT_SIZE_UNKNOWN`].
    pub(crate) fn widest(&self) -> u8 {
        self.widest
    }
}

/// What the first posting met of a pattern tells of it (a search's touched list).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Touch {
    pub(crate) pattern: u32,
    /// As the posting's length bits.
    length: u16,
    /// As [`Posting::first_event_size`]: for an overlap of 1, the one shared symbol's.
    pub(crate) event_size: u8,
}

/// Reusable per-search buffers of one shard (a search must not clear the whole shard).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Per pattern of the shard: the overlap accumulated so far; 0 for every untouched one
    /// (restored after each search).
    pub(crate) overlap: Vec<u32>,
    /// Per pattern: bit 7 set when it holds an adjacent pair of the STM (or one hashing
    /// alike), bits 0-6 the largest [`Posting::widest`] of its touched postings; 0 for every
    /// untouched one (restored after each search).
    pub(crate) facts: Vec<u8>,
    /// The patterns whose overlap is above 0, in order of first touch, with what the posting
    /// that touched each first says (for an overlap of 1 the only one).
    pub(crate) touched: Vec<Touch>,
    /// (pattern, length, event size) of the touched patterns sharing one symbol.
    pub(crate) singles: Vec<(u32, u32, u8)>,
    /// Emptied bucket member lists, for the next search.
    pub(crate) pool: Vec<Vec<u32>>,
}

/// Patterns `0..len` of a shard. Each pattern's body is one run of the arena: its number of
/// events, its length, the events' sizes, then its symbols; so a search reads one place per
/// pattern.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    arena: Vec<u32>,
    /// Where each pattern's run starts.
    offsets: Vec<u32>,
    names: Vec<NameBytes>,
    /// Per symbol id: its postings in this shard, by increasing pattern.
    postings: Vec<Vec<Posting>>,
    /// Per bucket of adjacent symbol pairs (hashed; a power of two of them): the patterns
    /// holding a pair of the bucket, each once, by increasing pattern.
    pairs: Vec<Vec<u32>>,
    scratch: Mutex<Vec<Scratch>>,
}

/// The bucket of the adjacent pair `(a, b)` among `buckets` (a power of two).
pub(crate) fn pair_bucket(a: u32, b: u32, buckets: usize) -> usize {
    let key = (u64::from(a) << 32) | u64::from(b);
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (buckets - 1)
}

/// Patterns per pair bucket before the table doubles.
const PATTERNS_PER_PAIR_BUCKET: usize = 4;

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
        let pattern = u32::try_from(self.names.len()).expect("fewer than 2^32 patterns per shard");
        let offset = u32::try_from(self.arena.len()).expect("under 2^32 words per shard");
        self.arena
            .push(u32::try_from(events.len()).expect("under 2^32 events"));
        let length_at = self.arena.len();
        self.arena.push(0);
        for event in events {
            self.arena
                .push(u32::try_from(event.len()).expect("an event under 2^32 symbols"));
        }
        let start = self.arena.len();
        for event in events {
            for symbol in event {
                self.arena.push(symbols.intern(symbol));
            }
        }
        let length = self.arena.len() - start;
        self.arena[length_at] = u32::try_from(length).expect("under 2^32 symbols");
        let mut event_of = Vec::with_capacity(length);
        for event in events {
            event_of.extend(std::iter::repeat_n(event.len(), event.len()));
        }
        let body = &self.arena[start..];
        let length_bits = u16::try_from(length)
            .unwrap_or(LENGTH_UNKNOWN)
            .min(LENGTH_UNKNOWN);
        // One posting per distinct symbol, at its first occurrence.
        for (at, &id) in body.iter().enumerate() {
            if body[..at].contains(&id) {
                continue;
            }
            let mut count = 0;
            let mut widest = 0;
            for (other, &size) in body[at..].iter().zip(&event_of[at..]) {
                if *other == id {
                    count += 1;
                    widest = widest.max(size);
                }
            }
            let lists = &mut self.postings;
            if lists.len() <= id as usize {
                lists.resize_with(symbols.len().max(id as usize + 1), Vec::new);
            }
            lists[id as usize].push(Posting {
                pattern,
                length_count: (length_bits << 4)
                    | u16::try_from(count)
                        .unwrap_or(COUNT_UNKNOWN)
                        .min(COUNT_UNKNOWN),
                flags: saturated_event_size(event_of[at]) | if at == 0 { FIRST_SYMBOL } else { 0 },
                widest: saturated_event_size(widest),
            });
        }
        self.offsets.push(offset);
        self.names.push(name);
        if self.pairs.len() * PATTERNS_PER_PAIR_BUCKET < self.names.len() {
            self.rebuild_pairs((self.pairs.len() * 2).max(16));
        } else {
            self.add_pairs(pattern);
        }
    }

    /// Adds pattern `pattern` to the buckets of its adjacent pairs.
    fn add_pairs(&mut self, pattern: u32) {
        let buckets = self.pairs.len();
        let mut held: Vec<usize> = self
            .symbols(pattern)
            .windows(2)
            .map(|pair| pair_bucket(pair[0], pair[1], buckets))
            .collect();
        held.sort_unstable();
        held.dedup();
        for bucket in held {
            self.pairs[bucket].push(pattern);
        }
    }

    /// Rehashes every pattern's pairs into `buckets` buckets.
    fn rebuild_pairs(&mut self, buckets: usize) {
        self.pairs = vec![Vec::new(); buckets];
        for pattern in 0..self.names.len() as u32 {
            self.add_pairs(pattern);
        }
    }

    /// The patterns holding a pair of the bucket of `(a, b)` (a superset of those holding
    /// `(a, b)` adjacent).
    pub(crate) fn patterns_with_pair(&self, a: u32, b: u32) -> &[u32] {
        if self.pairs.is_empty() {
            return &[];
        }
        &self.pairs[pair_bucket(a, b, self.pairs.len())]
    }

    /// Frees what the vectors hold beyond their length (after a bulk load).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
        self.offsets.shrink_to_fit();
        self.names.shrink_to_fit();
        for list in &mut self.postings {
            list.shrink_to_fit();
        }
        for list in &mut self.pairs {
            list.shrink_to_fit();
        }
        self.postings.shrink_to_fit();
    }

    /// Pattern `p`'s (event sizes, flat symbols).
    #[inline]
    pub(crate) fn body_ids(&self, pattern: u32) -> (&[u32], &[u32]) {
        let at = self.offsets[pattern as usize] as usize;
        let events = self.arena[at] as usize;
        let length = self.arena[at + 1] as usize;
        let start = at + 2 + events;
        (
            &self.arena[at + 2..start],
            &self.arena[start..start + length],
        )
    }

    /// Pattern `p`'s flat symbols.
    pub(crate) fn symbols(&self, pattern: u32) -> &[u32] {
        self.body_ids(pattern).1
    }

    /// Pattern `p`'s length (symbols, repeats included).
    pub(crate) fn length(&self, pattern: u32) -> u32 {
        self.arena[self.offsets[pattern as usize] as usize + 1]
    }

    /// The length a touch carries, read from the body when it saturated.
    pub(crate) fn length_of(&self, touch: &Touch) -> u32 {
        if touch.length < LENGTH_UNKNOWN {
            u32::from(touch.length)
        } else {
            self.length(touch.pattern)
        }
    }

    pub(crate) fn name(&self, pattern: u32) -> &NameBytes {
        &self.names[pattern as usize]
    }

    /// The postings of symbol `id` (empty when no pattern of the shard holds it).
    pub(crate) fn postings(&self, id: u32) -> &[Posting] {
        self.postings.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The true count of a posting of symbol `id` (its stored count saturates).
    pub(crate) fn count(&self, posting: &Posting, id: u32) -> u32 {
        let count = posting.length_count & COUNT_UNKNOWN;
        if count < COUNT_UNKNOWN {
            return u32::from(count);
        }
        let found = self
            .symbols(posting.pattern)
            .iter()
            .filter(|&&s| s == id)
            .count();
        u32::try_from(found).unwrap_or(u32::MAX)
    }

    /// A touch from `posting`.
    pub(crate) fn touch(posting: &Posting) -> Touch {
        Touch {
            pattern: posting.pattern,
            length: posting.length_count >> 4,
            event_size: posting.first_event_size(),
        }
    }

    /// Pattern `p`'s name and events as strings.
    pub(crate) fn body(&self, pattern: u32, symbols: &Symbols) -> Body {
        let (sizes, flat) = self.body_ids(pattern);
        let mut flat = flat.iter();
        let events = sizes
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
        scratch.facts.resize(self.len(), 0);
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
        self.arena.capacity() * 4
            + self.offsets.capacity() * 4
            + self.names.capacity() * size_of::<NameBytes>()
            + self.postings.capacity() * size_of::<Vec<Posting>>()
            + self
                .postings
                .iter()
                .map(|list| list.capacity() * size_of::<Posting>())
                .sum::<usize>()
            + self.pairs.capacity() * size_of::<Vec<u32>>()
            + self
                .pairs
                .iter()
                .map(|list| list.capacity() * 4)
                .sum::<usize>()
    }
}
