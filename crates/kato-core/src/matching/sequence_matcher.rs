//! A port of CPython's `difflib.SequenceMatcher` as KATO uses it (spec 3.2): no junk and no
//! autojunk heuristic, so `b2j` indexes every element of `b`. The structure follows CPython's
//! code line by line so the two can be compared; blocks and opcodes must match it exactly,
//! ties included.

use std::collections::HashMap;
use std::hash::Hash;

/// A matching block: `a[a..a + size] == b[b..b + size]`. Field order makes the derived `Ord` the
/// tuple order CPython sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Block {
    pub(super) a: usize,
    pub(super) b: usize,
    pub(super) size: usize,
}

/// The kind of an opcode, as CPython's tag strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Replace,
    Delete,
    Insert,
    Equal,
}

/// One `(tag, i1, i2, j1, j2)` of `get_opcodes`: `a[i1..i2]` relates to `b[j1..j2]` by `tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Opcode {
    pub(super) tag: Tag,
    pub(super) i1: usize,
    pub(super) i2: usize,
    pub(super) j1: usize,
    pub(super) j2: usize,
}

/// `SequenceMatcher(None, a, b, autojunk=False)`.
#[derive(Debug)]
pub(super) struct SequenceMatcher<'s, T> {
    a: &'s [T],
    b: &'s [T],
    /// Positions of each element in `b`, ascending (CPython's `b2j` with nothing removed).
    b2j: HashMap<&'s T, Vec<usize>>,
}

impl<'s, T: Eq + Hash> SequenceMatcher<'s, T> {
    pub(super) fn new(a: &'s [T], b: &'s [T]) -> Self {
        let mut b2j: HashMap<&'s T, Vec<usize>> = HashMap::new();
        for (j, element) in b.iter().enumerate() {
            b2j.entry(element).or_default().push(j);
        }
        Self { a, b, b2j }
    }

    /// CPython's `set_seq1`: a new `a` against the same `b`, keeping the `b` index.
    pub(super) fn set_seq1(&mut self, a: &'s [T]) {
        self.a = a;
    }

    /// The longest matching block in `a[alo..ahi]` and `b[blo..bhi]`; of equally long ones the
    /// one starting earliest in `a`, then earliest in `b`. `size` is 0 when nothing matches, and
    /// the block is then `(alo, blo, 0)`.
    pub(super) fn find_longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> Block {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        // j2len[j] = length of the longest match ending with a[i-1] and b[j].
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        let mut newj2len: HashMap<usize, usize> = HashMap::new();
        for (i, element) in a.iter().enumerate().take(ahi).skip(alo) {
            newj2len.clear();
            for &j in self.b2j.get(element).map_or(&[][..], Vec::as_slice) {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = j
                    .checked_sub(1)
                    .and_then(|previous| j2len.get(&previous))
                    .map_or(0, |length| *length)
                    + 1;
                newj2len.insert(j, k);
                if k > bestsize {
                    (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                }
            }
            std::mem::swap(&mut j2len, &mut newj2len);
        }
        // CPython then extends the block over equal non-junk neighbours. Without junk the scan
        // above already found a maximal block, so these loops never move it; they stay so the
        // port reads like the original. CPython's further loops over junk neighbours are left out
        // because nothing is junk here.
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && a[besti + bestsize] == b[bestj + bestsize]
        {
            bestsize += 1;
        }
        Block {
            a: besti,
            b: bestj,
            size: bestsize,
        }
    }

    /// The matching blocks, sorted, adjacent ones merged, ending with the sentinel
    /// `(len(a), len(b), 0)`.
    pub(super) fn get_matching_blocks(&self) -> Vec<Block> {
        let (la, lb) = (self.a.len(), self.b.len());
        // CPython pops from the end of a list, so the right remainder is searched first; the
        // order does not change the result because the blocks are sorted afterwards.
        let mut queue = vec![(0, la, 0, lb)];
        let mut matching_blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let block = self.find_longest_match(alo, ahi, blo, bhi);
            let Block {
                a: i,
                b: j,
                size: k,
            } = block;
            if k > 0 {
                matching_blocks.push(block);
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        matching_blocks.sort_unstable();

        let (mut i1, mut j1, mut k1) = (0, 0, 0);
        let mut non_adjacent = Vec::with_capacity(matching_blocks.len() + 1);
        for Block {
            a: i2,
            b: j2,
            size: k2,
        } in matching_blocks
        {
            if i1 + k1 == i2 && j1 + k1 == j2 {
                k1 += k2;
            } else {
                if k1 > 0 {
                    non_adjacent.push(Block {
                        a: i1,
                        b: j1,
                        size: k1,
                    });
                }
                (i1, j1, k1) = (i2, j2, k2);
            }
        }
        if k1 > 0 {
            non_adjacent.push(Block {
                a: i1,
                b: j1,
                size: k1,
            });
        }
        non_adjacent.push(Block {
            a: la,
            b: lb,
            size: 0,
        });
        non_adjacent
    }

    /// How to turn `a` into `b`: CPython's `get_opcodes`.
    pub(super) fn get_opcodes(&self) -> Vec<Opcode> {
        let (mut i, mut j) = (0, 0);
        let mut answer = Vec::new();
        for Block { a: ai, b: bj, size } in self.get_matching_blocks() {
            let tag = if i < ai && j < bj {
                Some(Tag::Replace)
            } else if i < ai {
                Some(Tag::Delete)
            } else if j < bj {
                Some(Tag::Insert)
            } else {
                None
            };
            if let Some(tag) = tag {
                answer.push(Opcode {
                    tag,
                    i1: i,
                    i2: ai,
                    j1: j,
                    j2: bj,
                });
            }
            (i, j) = (ai + size, bj + size);
            // The sentinel has size 0 and adds no `equal`.
            if size > 0 {
                answer.push(Opcode {
                    tag: Tag::Equal,
                    i1: ai,
                    i2: i,
                    j1: bj,
                    j2: j,
                });
            }
        }
        answer
    }
}
