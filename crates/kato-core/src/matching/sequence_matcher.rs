//! A port of CPython's `difflib.SequenceMatcher` as KATO uses it (spec 3.2): no junk and no
//! autojunk heuristic, so `b2j` indexes every element of `b`. The structure follows CPython's
//! code line by line so the two can be compared; blocks and opcodes must match it exactly,
//! ties included.

use crate::fast_hash::FastMap;
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

/// Where each element occurs in `b`, ascending: CPython's `b2j` with nothing removed. A caller
/// matching many `a` against one `b` builds it once and lends it to every matcher.
pub(super) trait Positions<T> {
    /// The positions of `element` in `b` (empty when it does not occur).
    fn positions(&self, element: &T) -> &[usize];
}

impl<T, P: Positions<T>> Positions<T> for &P {
    fn positions(&self, element: &T) -> &[usize] {
        (*self).positions(element)
    }
}

/// `b2j` as CPython builds it: a map from element to its positions.
#[derive(Debug)]
pub(super) struct B2j<'s, T>(FastMap<&'s T, Vec<usize>>);

impl<'s, T: Eq + Hash> B2j<'s, T> {
    fn new(b: &'s [T]) -> Self {
        let mut b2j: FastMap<&'s T, Vec<usize>> = FastMap::default();
        for (j, element) in b.iter().enumerate() {
            b2j.entry(element).or_default().push(j);
        }
        Self(b2j)
    }
}

impl<T: Eq + Hash> Positions<T> for B2j<'_, T> {
    fn positions(&self, element: &T) -> &[usize] {
        self.0.get(element).map_or(&[][..], Vec::as_slice)
    }
}

/// What matching reuses from one pattern to the next: the longest-match rows (all 0 between
/// calls), the work queue, and the blocks found.
#[derive(Debug, Default, Clone)]
pub(super) struct Buffers {
    j2len: Vec<usize>,
    newj2len: Vec<usize>,
    set: Vec<usize>,
    newly_set: Vec<usize>,
    queue: Vec<(usize, usize, usize, usize)>,
    found: Vec<Block>,
    /// The result of [`SequenceMatcher::get_matching_blocks_in`].
    pub(super) blocks: Vec<Block>,
}

/// `SequenceMatcher(None, a, b, autojunk=False)`.
#[derive(Debug)]
pub(super) struct SequenceMatcher<'s, T, P = B2j<'s, T>> {
    a: &'s [T],
    b: &'s [T],
    /// Positions of each element in `b`.
    b2j: P,
}

impl<'s, T: Eq + Hash> SequenceMatcher<'s, T> {
    pub(super) fn new(a: &'s [T], b: &'s [T]) -> Self {
        Self::with_positions(a, b, B2j::new(b))
    }
}

impl<'s, T: Eq, P: Positions<T>> SequenceMatcher<'s, T, P> {
    /// A matcher whose `b2j` is `positions`, which must index exactly `b`.
    pub(super) fn with_positions(a: &'s [T], b: &'s [T], positions: P) -> Self {
        Self {
            a,
            b,
            b2j: positions,
        }
    }

    /// CPython's `set_seq1`: a new `a` against the same `b`, keeping the `b` index.
    pub(super) fn set_seq1(&mut self, a: &'s [T]) {
        self.a = a;
    }

    /// The longest matching block in `a[alo..ahi]` and `b[blo..bhi]`; of equally long ones the
    /// one starting earliest in `a`, then earliest in `b`. `size` is 0 when nothing matches, and
    /// the block is then `(alo, blo, 0)`.
    #[cfg(test)]
    pub(super) fn find_longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> Block {
        self.find_longest_match_in(alo, ahi, blo, bhi, &mut Buffers::default())
    }

    /// [`Self::find_longest_match`] with reused buffers.
    fn find_longest_match_in(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
        buffers: &mut Buffers,
    ) -> Block {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        // j2len[j + 1] = length of the longest match ending with a[i-1] and b[j] (CPython's dict,
        // 0 when absent; index 0 stands for j = -1). Dense rows, and only the entries a row set
        // are reset, so a row costs what CPython's dict costs without hashing. Every entry is 0
        // between calls.
        let Buffers {
            j2len,
            newj2len,
            set,
            newly_set,
            ..
        } = buffers;
        if j2len.len() < b.len() + 1 {
            j2len.resize(b.len() + 1, 0);
            newj2len.resize(b.len() + 1, 0);
        }
        for (i, element) in a.iter().enumerate().take(ahi).skip(alo) {
            for &j in self.b2j.positions(element) {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = j2len[j] + 1;
                newj2len[j + 1] = k;
                newly_set.push(j + 1);
                if k > bestsize {
                    (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                }
            }
            for index in set.drain(..) {
                j2len[index] = 0;
            }
            std::mem::swap(j2len, newj2len);
            std::mem::swap(set, newly_set);
        }
        for index in set.drain(..) {
            j2len[index] = 0;
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
        let mut buffers = Buffers::default();
        self.get_matching_blocks_in(&mut buffers);
        buffers.blocks
    }

    /// [`Self::get_matching_blocks`] into `buffers.blocks`, reusing the buffers' memory.
    pub(super) fn get_matching_blocks_in(&self, buffers: &mut Buffers) {
        let (la, lb) = (self.a.len(), self.b.len());
        // CPython pops from the end of a list, so the right remainder is searched first; the
        // order does not change the result because the blocks are sorted afterwards.
        let mut queue = std::mem::take(&mut buffers.queue);
        let mut matching_blocks = std::mem::take(&mut buffers.found);
        queue.clear();
        matching_blocks.clear();
        queue.push((0, la, 0, lb));
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let block = self.find_longest_match_in(alo, ahi, blo, bhi, buffers);
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
        let non_adjacent = &mut buffers.blocks;
        non_adjacent.clear();
        for &Block {
            a: i2,
            b: j2,
            size: k2,
        } in &matching_blocks
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
        buffers.queue = queue;
        buffers.found = matching_blocks;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn blocks(a: &str, b: &str) -> Vec<(usize, usize, usize)> {
        let (a, b) = (chars(a), chars(b));
        SequenceMatcher::new(&a, &b)
            .get_matching_blocks()
            .into_iter()
            .map(|block| (block.a, block.b, block.size))
            .collect()
    }

    fn opcodes(a: &str, b: &str) -> Vec<(&'static str, usize, usize, usize, usize)> {
        let (a, b) = (chars(a), chars(b));
        SequenceMatcher::new(&a, &b)
            .get_opcodes()
            .into_iter()
            .map(|opcode| {
                let tag = match opcode.tag {
                    Tag::Replace => "replace",
                    Tag::Delete => "delete",
                    Tag::Insert => "insert",
                    Tag::Equal => "equal",
                };
                (tag, opcode.i1, opcode.i2, opcode.j1, opcode.j2)
            })
            .collect()
    }

    fn longest(a: &str, b: &str, range: (usize, usize, usize, usize)) -> (usize, usize, usize) {
        let (a, b) = (chars(a), chars(b));
        let block =
            SequenceMatcher::new(&a, &b).find_longest_match(range.0, range.1, range.2, range.3);
        (block.a, block.b, block.size)
    }

    /// CPython's documented examples.
    #[test]
    fn documented_examples() {
        assert_eq!(blocks("abxcd", "abcd"), [(0, 0, 2), (3, 2, 2), (5, 4, 0)]);
        assert_eq!(
            opcodes("qabxcd", "abycdf"),
            [
                ("delete", 0, 1, 0, 0),
                ("equal", 1, 3, 0, 2),
                ("replace", 3, 4, 2, 3),
                ("equal", 4, 6, 3, 5),
                ("insert", 6, 6, 5, 6),
            ]
        );
        assert_eq!(
            blocks(
                "private Thread currentThread;",
                "private volatile Thread currentThread;"
            ),
            [(0, 0, 6), (6, 15, 23), (29, 38, 0)]
        );
    }

    /// Ties go to the smallest `i`, then the smallest `j`; ranges are honoured.
    #[test]
    fn find_longest_match_ties_and_ranges() {
        assert_eq!(longest("ababab", "abab", (0, 6, 0, 4)), (0, 0, 4));
        assert_eq!(longest("ababab", "abab", (1, 6, 0, 4)), (2, 0, 4));
        assert_eq!(longest("ababab", "abab", (0, 6, 1, 4)), (1, 1, 3));
        assert_eq!(longest("xyzabcxyz", "abcxyz", (0, 9, 0, 6)), (3, 0, 6));
        assert_eq!(longest("ba", "ab", (0, 2, 0, 2)), (0, 1, 1));
        assert_eq!(longest("abab", "baba", (0, 4, 0, 4)), (0, 1, 3));
        assert_eq!(longest("aca", "cda", (0, 3, 0, 3)), (0, 2, 1));
        assert_eq!(longest("abc", "xyz", (1, 3, 2, 3)), (1, 2, 0));
    }

    /// Without autojunk: CPython with `autojunk=True` would treat the 250 `a`s of `b` as popular
    /// and find nothing long.
    #[test]
    fn no_autojunk() {
        let a = format!("{}b", "a".repeat(250));
        let b = format!("b{}", "a".repeat(250));
        assert_eq!(blocks(&a, &b), [(0, 1, 250), (251, 251, 0)]);
        assert_eq!(
            opcodes(&a, &b),
            [
                ("insert", 0, 0, 0, 1),
                ("equal", 0, 250, 1, 251),
                ("delete", 250, 251, 251, 251),
            ]
        );
    }

    #[test]
    fn opcodes_of_cpython() {
        assert_eq!(
            opcodes("acbd", "abcd"),
            [
                ("equal", 0, 1, 0, 1),
                ("insert", 1, 1, 1, 2),
                ("equal", 1, 2, 2, 3),
                ("delete", 2, 3, 3, 3),
                ("equal", 3, 4, 3, 4),
            ]
        );
        assert_eq!(
            opcodes("abcabcab", "bcacab"),
            [
                ("delete", 0, 1, 0, 0),
                ("equal", 1, 4, 0, 3),
                ("delete", 4, 5, 3, 3),
                ("equal", 5, 8, 3, 6),
            ]
        );
        assert_eq!(
            opcodes("ab", "ba"),
            [
                ("insert", 0, 0, 0, 1),
                ("equal", 0, 1, 1, 2),
                ("delete", 1, 2, 2, 2)
            ]
        );
        assert_eq!(opcodes("", "abc"), [("insert", 0, 0, 0, 3)]);
        assert_eq!(opcodes("abc", ""), [("delete", 0, 3, 0, 0)]);
        assert_eq!(opcodes("", ""), []);
    }

    /// `(i, j, n)` as CPython prints a block.
    type Triple = (usize, usize, usize);

    /// Random pairs over a small alphabet, expected values from CPython 3.11's difflib
    /// (`SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()`).
    #[test]
    fn matching_blocks_of_cpython() {
        let cases: [(&str, &str, &[Triple]); 31] = [
            (
                "cbbccaa",
                "cbccaabbaacc",
                &[(0, 0, 1), (2, 1, 5), (7, 12, 0)],
            ),
            ("acbbccccac", "", &[(10, 0, 0)]),
            ("aaaaacab", "bcaca", &[(4, 2, 3), (8, 5, 0)]),
            ("bbacabcbbc", "c", &[(3, 0, 1), (10, 1, 0)]),
            ("bacb", "", &[(4, 0, 0)]),
            ("c", "ababbaacaaaa", &[(0, 7, 1), (1, 12, 0)]),
            ("bcbbacc", "cbb", &[(1, 0, 3), (7, 3, 0)]),
            ("b", "abaaa", &[(0, 1, 1), (1, 5, 0)]),
            ("aaabbaccabc", "cab", &[(7, 0, 3), (11, 3, 0)]),
            ("babbaabcba", "abc", &[(5, 0, 3), (10, 3, 0)]),
            ("caaaabbacb", "baaa", &[(1, 1, 3), (10, 4, 0)]),
            ("cca", "", &[(3, 0, 0)]),
            ("bbcbacbca", "acabac", &[(2, 1, 1), (3, 3, 3), (9, 6, 0)]),
            ("caa", "ccacbbcabaa", &[(0, 1, 2), (2, 7, 1), (3, 11, 0)]),
            ("a", "baccbbbc", &[(0, 1, 1), (1, 8, 0)]),
            ("bcacaaa", "ccccaba", &[(1, 3, 2), (4, 6, 1), (7, 7, 0)]),
            ("caa", "bbaa", &[(1, 2, 2), (3, 4, 0)]),
            ("", "bb", &[(0, 2, 0)]),
            (
                "caababbc",
                "cccacaabbcb",
                &[(0, 4, 4), (6, 8, 2), (8, 11, 0)],
            ),
            ("", "", &[(0, 0, 0)]),
            ("cabacbbaa", "b", &[(2, 0, 1), (9, 1, 0)]),
            ("bcacccab", "acbab", &[(2, 0, 2), (6, 3, 2), (8, 5, 0)]),
            ("abcaccbbcaca", "a", &[(0, 0, 1), (12, 1, 0)]),
            ("abbcbbcccb", "bcaccab", &[(0, 5, 2), (10, 7, 0)]),
            (
                "abaacabcc",
                "babbacc",
                &[(0, 1, 2), (3, 4, 2), (7, 6, 1), (9, 7, 0)],
            ),
            ("cab", "bbabbcbacb", &[(1, 2, 2), (3, 10, 0)]),
            (
                "aabacbaaabba",
                "abaabbbabbc",
                &[(1, 0, 2), (7, 2, 4), (11, 7, 1), (12, 11, 0)],
            ),
            ("bcbccbba", "", &[(8, 0, 0)]),
            ("cacc", "cbbc", &[(0, 0, 1), (2, 3, 1), (4, 4, 0)]),
            (
                "cacabbaabaaa",
                "abaccccbac",
                &[(7, 0, 3), (10, 8, 1), (12, 10, 0)],
            ),
            ("aaa", "aa", &[(0, 0, 2), (3, 2, 0)]),
        ];
        for (a, b, expected) in cases {
            assert_eq!(blocks(a, b), expected, "{a:?} vs {b:?}");
        }
    }

    /// `set_seq1` swaps `a` and keeps the index of `b`.
    #[test]
    fn set_seq1_reuses_b() {
        let (a, other, b) = (chars("qabxcd"), chars("abcd"), chars("abycdf"));
        let mut matcher = SequenceMatcher::new(&a, &b);
        matcher.set_seq1(&other);
        let fresh = SequenceMatcher::new(&other, &b);
        assert_eq!(matcher.get_matching_blocks(), fresh.get_matching_blocks());
        assert_eq!(matcher.get_opcodes(), fresh.get_opcodes());
    }
}
