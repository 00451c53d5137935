//! The similarity of spec 3.1 and RapidFuzz's `fuzz.ratio`, with the reference's floating-point
//! arithmetic reproduced step by step, and the longest common subsequence they rest on.

use std::collections::HashMap;
use std::hash::Hash;

/// Length of the longest common subsequence of `x` and `y`.
///
/// Bit-parallel (Allison-Dix / Hyyrö): one bit per element of the shorter sequence, one pass of
/// word operations per element of the longer one; a run costs one small map and one bit vector.
pub(super) fn lcs_len<T: Eq + Hash>(x: &[T], y: &[T]) -> usize {
    let (short, long) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    if short.is_empty() {
        return 0;
    }
    let words = short.len().div_ceil(64);
    // masks[slot * words + w]: bit p of word w set where short[64 * w + p] is the slot's element.
    let mut slots: HashMap<&T, usize> = HashMap::with_capacity(short.len());
    let mut masks: Vec<u64> = Vec::new();
    for (position, element) in short.iter().enumerate() {
        let next_slot = slots.len();
        let slot = *slots.entry(element).or_insert(next_slot);
        if slot == next_slot {
            masks.resize(masks.len() + words, 0);
        }
        masks[slot * words + position / 64] |= 1 << (position % 64);
    }
    // A zero bit in `row` marks a position of `short` that ends a step of the current LCS.
    let mut row = vec![u64::MAX; words];
    for element in long {
        let Some(&slot) = slots.get(element) else {
            continue;
        };
        let mask = &masks[slot * words..(slot + 1) * words];
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
    // Bits past the end of `short` have no mask bit, so `*word - matched` keeps them set and
    // they never count as zeros.
    row.iter().map(|word| word.count_zeros() as usize).sum()
}

/// Token-mode score of spec 3.1, the reference scorer's percentage: `(2 * LCS / (|p| + |s|)) *
/// 100`. The similarity is this divided by 100, so `2/3` comes out as `0.6666666666666665`. Two
/// empty sequences count as identical (100), as RapidFuzz does for two empty strings.
pub(super) fn token_score<T: Eq + Hash>(p: &[T], s: &[T]) -> f64 {
    let total = p.len() + s.len();
    if total == 0 {
        return 100.0;
    }
    (2.0 * lcs_len(p, s) as f64 / total as f64) * 100.0
}

/// RapidFuzz's Indel normalized similarity: `1 - (len1 + len2 - 2 * LCS) / (len1 + len2)`,
/// computed in that order (it can differ from `2 * LCS / (len1 + len2)` in the last bit); 1 for
/// two empty sequences.
pub(super) fn indel_normalized_similarity<T: Eq + Hash>(s1: &[T], s2: &[T]) -> f64 {
    let maximum = s1.len() + s2.len();
    if maximum == 0 {
        return 1.0;
    }
    let distance = maximum - 2 * lcs_len(s1, s2);
    1.0 - distance as f64 / maximum as f64
}

/// Character-mode score: `fuzz.ratio(" ".join(p), " ".join(s))` over code points (0 to 100).
pub(super) fn character_score(p: &[&str], s: &[&str]) -> f64 {
    indel_normalized_similarity(&joined_chars(p), &joined_chars(s)) * 100.0
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
