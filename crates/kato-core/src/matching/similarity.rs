//! The similarity of spec 3.1 and RapidFuzz's `fuzz.ratio`, with the reference's floating-point
//! arithmetic reproduced step by step, and the longest common subsequence they rest on.

use crate::fast_hash::FastMap;
use std::hash::Hash;

/// Length of the longest common subsequence of `x` and `y`.
///
/// Bit-parallel (Allison-Dix / Hyyrö): one bit per element of the shorter sequence, one pass of
/// word operations per element of the longer one; a run costs one small map and one bit vector.
pub(super) fn lcs_len<T: Eq + Hash>(x: &[T], y: &[T]) -> usize {
    let (short, long) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    let mut slots: FastMap<&T, usize> =
        FastMap::with_capacity_and_hasher(short.len(), Default::default());
    let slot_of_short: Vec<usize> = short
        .iter()
        .map(|element| {
            let next_slot = slots.len();
            *slots.entry(element).or_insert(next_slot)
        })
        .collect();
    LcsMasks::new(&slot_of_short, slots.len())
        .lcs_len(long.iter().map(|element| slots.get(element).copied()))
}

/// The bit masks of one side of an LCS (spec 3.1), built once and run against any number of
/// other sequences. LCS is symmetric, so either side can hold the masks.
#[derive(Debug, Clone)]
pub(super) struct LcsMasks {
    /// Words per mask: one bit per element of the masked side.
    words: usize,
    /// masks[slot * words + w]: bit p of word w set where element 64 * w + p has that slot.
    masks: Vec<u64>,
}

impl LcsMasks {
    /// Masks for a sequence given as slots (equal elements share a slot, slots are `0..slots`).
    pub(super) fn new(sequence: &[usize], slots: usize) -> Self {
        let words = sequence.len().div_ceil(64);
        let mut masks = vec![0; slots * words];
        for (position, &slot) in sequence.iter().enumerate() {
            masks[slot * words + position / 64] |= 1 << (position % 64);
        }
        Self { words, masks }
    }

    /// The LCS length of the masked sequence and `other`, given as the slot of each element
    /// (`None` for an element the masked side does not hold).
    pub(super) fn lcs_len(&self, other: impl IntoIterator<Item = Option<usize>>) -> usize {
        if self.words == 0 {
            return 0;
        }
        if self.words == 1 {
            // The common case (a masked side of at most 64 elements) in a register.
            let mut word = u64::MAX;
            for slot in other.into_iter().flatten() {
                let m = self.masks[slot];
                let matched = word & m;
                word = word.wrapping_add(matched) | (word - matched);
            }
            return word.count_zeros() as usize;
        }
        // A zero bit in `row` marks a position of the masked side that ends a step of the LCS.
        let mut row = vec![u64::MAX; self.words];
        for slot in other.into_iter().flatten() {
            let mask = &self.masks[slot * self.words..(slot + 1) * self.words];
            let mut carry = false;
            for (word, &m) in row.iter_mut().zip(mask) {
                let matched = *word & m;
                let (sum, overflow_a) = word.overflowing_add(matched);
                let (sum, overflow_b) = sum.overflowing_add(u64::from(carry));
                carry = overflow_a || overflow_b;
                // `matched` is a subset of `word`, so this subtraction never borrows.
                *word = sum | (*word - matched);
            }
        }
        // Bits past the end of the masked side have no mask bit, so `*word - matched` keeps them
        // set and they never count as zeros.
        row.iter().map(|word| word.count_zeros() as usize).sum()
    }
}

/// Token-mode score of spec 3.1, the reference scorer's percentage: `(2 * LCS / (|p| + |s|)) *
/// 100`. The similarity is this divided by 100, so `2/3` comes out as `0.6666666666666665`. Two
/// empty sequences count as identical (100), as RapidFuzz does for two empty strings.
pub(super) fn token_score<T: Eq + Hash>(p: &[T], s: &[T]) -> f64 {
    token_score_of(lcs_len(p, s), p.len() + s.len())
}

/// [`token_score`] from the LCS length and `|p| + |s|`.
pub(super) fn token_score_of(lcs: usize, total: usize) -> f64 {
    if total == 0 {
        return 100.0;
    }
    (2.0 * lcs as f64 / total as f64) * 100.0
}

/// RapidFuzz's `fuzz.ratio` (0 to 100) as its native scorer computes it under `score_cutoff`,
/// returning 0 below the cutoff.
///
/// The steps are RapidFuzz's (`CachedRatio` over `CachedIndel`): the cutoff becomes a normalized
/// distance bound `1 - cutoff/100 + 1e-5`, an integer distance bound `ceil(max * bound)`, then
/// `1 - distance/max` must reach `cutoff/100`. Every comparison is kept because each can decide a
/// score lying on the cutoff; with a cutoff of 0 the result is the plain ratio.
pub(super) fn ratio<T: Eq + Hash>(s1: &[T], s2: &[T], score_cutoff: f64) -> f64 {
    let cutoff = score_cutoff / 100.0;
    let distance_bound = (1.0 - cutoff + 1e-5).min(1.0);
    let maximum = s1.len() + s2.len();
    let distance = maximum - 2 * lcs_len(s1, s2);
    let cutoff_distance = (maximum as f64 * distance_bound).ceil() as usize;
    let reported = if distance <= cutoff_distance {
        distance
    } else {
        cutoff_distance + 1
    };
    let normalized_distance = if maximum == 0 {
        0.0
    } else {
        reported as f64 / maximum as f64
    };
    let normalized_distance = if normalized_distance <= distance_bound {
        normalized_distance
    } else {
        1.0
    };
    let normalized_similarity = 1.0 - normalized_distance;
    if normalized_similarity >= cutoff {
        normalized_similarity * 100.0
    } else {
        0.0
    }
}

/// The cutoff RapidFuzz's `process` functions hand to a native scorer: the Python float is stored
/// in a C `float` first (`get_score_cutoff_f64`), so it is rounded to single precision.
pub(super) fn native_cutoff(score_cutoff: f64) -> f64 {
    // The rounding to single precision is the point.
    f64::from(score_cutoff as f32)
}

/// Character-mode score: `fuzz.ratio(" ".join(p), " ".join(s))` over code points, under
/// `score_cutoff` as [`ratio`] applies it.
pub(super) fn character_score(p: &[&str], s: &[&str], score_cutoff: f64) -> f64 {
    ratio(&joined_chars(p), &joined_chars(s), score_cutoff)
}

/// `" ".join(tokens)` as code points.
fn joined_chars(tokens: &[&str]) -> Vec<char> {
    let mut chars = Vec::with_capacity(tokens.iter().map(|token| token.len() + 1).sum());
    for (index, token) in tokens.iter().enumerate() {
        if index > 0 {
            chars.push(' ');
        }
        chars.extend(token.chars());
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    /// The textbook O(n*m) table.
    fn naive_lcs<T: Eq>(x: &[T], y: &[T]) -> usize {
        let mut row = vec![0; y.len() + 1];
        for a in x {
            let mut diagonal = 0;
            for (j, b) in y.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = if a == b {
                    diagonal + 1
                } else {
                    above.max(row[j])
                };
                diagonal = above;
            }
        }
        row[y.len()]
    }

    /// Bit-parallel LCS against the table, across word boundaries (64, 128) and both orders.
    #[test]
    fn lcs_matches_the_table() {
        // A small linear congruential generator keeps the sequences fixed without a dependency.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |modulus: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % modulus
        };
        for round in 0..300 {
            let alphabet = 2 + next(5);
            let max_len = if round % 3 == 0 { 200 } else { 20 };
            let x: Vec<u64> = (0..next(max_len)).map(|_| next(alphabet)).collect();
            let y: Vec<u64> = (0..next(max_len)).map(|_| next(alphabet)).collect();
            assert_eq!(lcs_len(&x, &y), naive_lcs(&x, &y), "{x:?} vs {y:?}");
            assert_eq!(lcs_len(&y, &x), naive_lcs(&x, &y));
        }
        let long: Vec<u8> = (0..=255).collect();
        assert_eq!(lcs_len(&long, &long), 256);
        assert_eq!(lcs_len(&long[..64], &long), 64);
        assert_eq!(lcs_len(&long[..0], &long), 0);
    }

    /// Spec 3.1: the percentage round trip (2/3 gives 0.6666666666666665).
    #[test]
    fn token_score_round_trip() {
        let p = ["hello", "world", "bar", "foo"];
        assert_eq!(
            token_score(&p, &["hello", "foo"]) / 100.0,
            0.666_666_666_666_666_5
        );
        assert_eq!(token_score(&["a", "b", "c"], &["b", "c"]) / 100.0, 0.8);
        assert_eq!(token_score(&["a"], &["b"]), 0.0);
        assert_eq!(token_score::<&str>(&[], &[]), 100.0);
        // Case-sensitive, whole-token equality.
        assert_eq!(token_score(&["Apple"], &["apple"]), 0.0);
    }

    /// Values of RapidFuzz 3.14 `fuzz.ratio`, which computes `1 - distance / max` (this differs
    /// from `2 * LCS / max` in the last bit for 6/7).
    #[test]
    fn ratio_of_rapidfuzz() {
        assert_eq!(
            character_score(&["apple", "banana", "cherry"], &["apple", "banana"], 0.0),
            77.419_354_838_709_68
        );
        assert_eq!(
            character_score(
                &["known", "pattern", "here"],
                &["unknown1", "unknown2"],
                0.0
            ),
            40.0
        );
        assert_eq!(
            ratio(&chars("xxx"), &chars("xxxb"), 0.0),
            85.714_285_714_285_72
        );
        assert_eq!(ratio(&chars(""), &chars(""), 0.0), 100.0);
        assert_eq!(ratio(&chars(""), &chars("a"), 0.0), 0.0);
        assert_eq!(ratio(&chars("ab"), &chars("ab"), 100.0), 100.0);
    }

    /// Under a cutoff: 0 below it, and RapidFuzz's own comparisons on the boundary.
    #[test]
    fn ratio_under_a_cutoff() {
        assert_eq!(ratio(&chars("xx"), &chars("xxb"), 80.0), 80.0);
        assert_eq!(ratio(&chars("abcx"), &chars("abce"), 80.0), 0.0);
        // `1 - 16/50` is 0.6799999999999999, below 0.68, although its percentage prints as 68.0.
        let (a, b) = (
            format!("{}{}", "x".repeat(17), "a".repeat(8)),
            format!("{}{}", "x".repeat(17), "b".repeat(8)),
        );
        assert_eq!(ratio(&chars(&a), &chars(&b), 0.0), 68.0);
        assert_eq!(ratio(&chars(&a), &chars(&b), 68.0), 0.0);
    }

    #[test]
    fn native_cutoff_is_single_precision() {
        assert_eq!(native_cutoff(68.0), 68.0);
        assert_eq!(native_cutoff(0.7 * 100.0 - 1e-6), 70.0);
        assert_eq!(native_cutoff(85.714_285_714_285_72), 85.714_286_804_199_22);
    }
}
