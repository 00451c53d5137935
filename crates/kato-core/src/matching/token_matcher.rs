//! The STM prepared once for scoring many patterns in exact token mode: what a caller needs to
//! rank thousands of candidates by `_pre_potential` (spec 4 step C) before building the full
//! [`PatternMatch`](super::PatternMatch) of the few it keeps.
//!
//! Every per-STM structure (symbol ids, difflib's `b2j`, the LCS bit masks) is built once; a
//! pattern costs one id lookup per symbol, one LCS pass and one difflib block search, with no
//! string copied. The flat extras count needs no second difflib run: the blocks of
//! `SequenceMatcher(present, S)` are those of `SequenceMatcher(P, S)` (every block lies in the
//! present, and difflib's choices inside it do not change), so `e_flat = |S| - m`.

use crate::fast_hash::FastMap;

use super::alignment::split_event_sizes;
use super::sequence_matcher::{Buffers, Positions, SequenceMatcher};
use super::similarity::{LcsMasks, token_score_of};
use super::{PatternMatch, fraction, rapidfuzz_cutoff, recalled, signal_to_noise};

/// The id of a pattern symbol the STM does not hold; never equal to an STM symbol's id.
pub const ABSENT: u32 = u32::MAX;

/// The numbers of a [`PatternMatch`] without its symbol lists: what ranking candidates by
/// `_pre_potential` needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchScores {
    /// As [`PatternMatch::similarity`].
    pub similarity: f64,
    /// As [`PatternMatch::evidence`].
    pub evidence: f64,
    /// As [`PatternMatch::confidence`].
    pub confidence: f64,
    /// As [`PatternMatch::snr`].
    pub snr: f64,
    /// As [`PatternMatch::fragmentation`].
    pub fragmentation: f64,
}

impl PatternMatch {
    /// The numbers of this match.
    pub fn scores(&self) -> MatchScores {
        MatchScores {
            similarity: self.similarity,
            evidence: self.evidence,
            confidence: self.confidence,
            snr: self.snr,
            fragmentation: self.fragmentation,
        }
    }
}

/// Memory [`TokenMatcher::scores_of_ids`] reuses from one pattern to the next.
#[derive(Debug, Default, Clone)]
pub struct MatchScratch(Buffers);

/// Positions in the flat STM of each symbol id.
#[derive(Debug)]
struct StmPositions(Vec<Vec<usize>>);

impl Positions<u32> for StmPositions {
    fn positions(&self, id: &u32) -> &[usize] {
        self.0.get(*id as usize).map_or(&[][..], Vec::as_slice)
    }
}

/// An STM (at least one symbol) prepared for matching many patterns in exact token mode
/// (`use_token_matching`, no fuzzy matching).
#[derive(Debug)]
pub struct TokenMatcher<'s> {
    /// The STM's events.
    stm: &'s [Vec<String>],
    /// Each distinct STM symbol's id: `0..ids.len()`, in order of first occurrence.
    ids: FastMap<&'s str, u32>,
    /// The flat STM as ids.
    state: Vec<u32>,
    /// Occurrences in the STM, per id.
    counts: Vec<u32>,
    positions: StmPositions,
    masks: LcsMasks,
}

impl<'s> TokenMatcher<'s> {
    /// Prepares `stm` (events).
    pub fn new(stm: &'s [Vec<String>]) -> Self {
        let symbols: Vec<&str> = stm.iter().flatten().map(String::as_str).collect();
        let mut ids: FastMap<&str, u32> =
            FastMap::with_capacity_and_hasher(symbols.len(), Default::default());
        let state: Vec<u32> = symbols
            .iter()
            .map(|symbol| {
                let next = u32::try_from(ids.len()).unwrap_or(ABSENT - 1);
                *ids.entry(symbol).or_insert(next)
            })
            .collect();
        let mut counts = vec![0; ids.len()];
        let mut positions = vec![Vec::new(); ids.len()];
        for (j, &id) in state.iter().enumerate() {
            counts[id as usize] += 1;
            positions[id as usize].push(j);
        }
        let slots: Vec<usize> = state.iter().map(|&id| id as usize).collect();
        Self {
            stm,
            masks: LcsMasks::new(&slots, ids.len()),
            ids,
            state,
            counts,
            positions: StmPositions(positions),
        }
    }

    /// `sum_s min(count_P(s), count_S(s))`: how many symbols `pattern` shares with the STM,
    /// repeats included (what [`pre_potential_upper_bound`](crate::predict::pre_potential_upper_bound)
    /// takes).
    pub fn overlap(&self, pattern: &[Vec<String>]) -> u32 {
        let mut left = self.counts.clone();
        let mut shared = 0;
        for id in self.ids_of(pattern) {
            if let Some(count) = left.get_mut(id as usize)
                && *count > 0
            {
                *count -= 1;
                shared += 1;
            }
        }
        shared
    }

    /// The scores [`match_pattern`](super::match_pattern) gives `pattern` against this STM in
    /// exact token mode with `recall_threshold`, equal to the last bit; `None` exactly when it
    /// drops the candidate.
    pub fn scores(&self, pattern: &[Vec<String>], recall_threshold: f64) -> Option<MatchScores> {
        let ids: Vec<u32> = self.ids_of(pattern).collect();
        let sizes: Vec<u32> = pattern
            .iter()
            .map(|event| u32::try_from(event.len()).unwrap_or(u32::MAX))
            .collect();
        self.scores_of_ids(&ids, &sizes, recall_threshold, &mut MatchScratch::default())
    }

    /// [`match_pattern`](super::match_pattern) of `pattern` against this STM in exact token
    /// mode with `recall_threshold`, equal to it field for field, without its per-pattern
    /// setup (the STM's positions and LCS masks are built once; symbols compare as ids).
    pub fn pattern_match(
        &self,
        pattern: &[Vec<String>],
        recall_threshold: f64,
        scratch: &mut MatchScratch,
    ) -> Option<PatternMatch> {
        let p: Vec<u32> = self.ids_of(pattern).collect();
        let s = &self.state;
        let lcs = self
            .masks
            .lcs_len(p.iter().map(|&id| (id != ABSENT).then_some(id as usize)));
        let similarity = recalled(
            token_score_of(lcs, p.len() + s.len()),
            rapidfuzz_cutoff(recall_threshold),
            recall_threshold,
        )?;
        SequenceMatcher::with_positions(&p[..], s, &self.positions)
            .get_matching_blocks_in(&mut scratch.0);
        let blocks = &scratch.0.blocks;
        let real = &blocks[..blocks.len() - 1];
        let (past_len, present_end) = match (real.first(), real.last()) {
            (Some(first), Some(last)) => (first.a, last.a + last.size),
            _ if recall_threshold > 0.0 => return None,
            _ => (0, p.len()),
        };
        // The state tokens of the blocks, in block order.
        let matched: Vec<u32> = real
            .iter()
            .flat_map(|block| &s[block.b..block.b + block.size])
            .copied()
            .collect();
        let sizes: Vec<u32> = pattern
            .iter()
            .map(|event| u32::try_from(event.len()).unwrap_or(u32::MAX))
            .collect();
        let first_match = matched.first().copied();
        let (past_end, present_end) = split_event_sizes(
            sizes.iter().map(|&size| size as usize),
            past_len,
            present_end - past_len,
            |index, start| {
                first_match
                    .is_some_and(|first| p[start..start + sizes[index] as usize].contains(&first))
            },
        );
        let present = &pattern[past_end..present_end];
        let present_start: usize = sizes[..past_end].iter().map(|&size| size as usize).sum();
        let present_symbols: usize = present.iter().map(Vec::len).sum();
        let present_ids = &p[present_start..present_start + present_symbols];
        // Membership by id is membership by string: equal ids are equal STM symbols, and a
        // symbol the STM lacks is in neither list.
        let mut at = present_start;
        let missing = present
            .iter()
            .map(|event| {
                let event_ids = &p[at..at + event.len()];
                at += event.len();
                event
                    .iter()
                    .zip(event_ids)
                    .filter(|(_, id)| **id == ABSENT || !matched.contains(id))
                    .map(|(symbol, _)| symbol.clone())
                    .collect()
            })
            .collect();
        let extras = self
            .stm
            .iter()
            .map(|event| {
                event
                    .iter()
                    .filter(|symbol| {
                        let id = self.ids.get(symbol.as_str()).copied().unwrap_or(ABSENT);
                        !present_ids.contains(&id)
                    })
                    .cloned()
                    .collect()
            })
            .collect();
        let m = matched.len();
        Some(PatternMatch {
            similarity,
            evidence: fraction(m, p.len()),
            confidence: fraction(m, present_symbols),
            // Every block lies in the present, so the flat extras are the rest of the STM.
            snr: signal_to_noise(m, s.len() - m),
            fragmentation: real.len() as f64 - 1.0,
            matches: matched
                .iter()
                .map(|&id| self.symbol_of(id).to_owned())
                .collect(),
            anomalies: Vec::new(),
            past: pattern[..past_end].to_vec(),
            present: present.to_vec(),
            future: pattern[present_end..].to_vec(),
            missing,
            extras,
        })
    }

    /// The STM symbol of STM id `id`.
    fn symbol_of(&self, id: u32) -> &'s str {
        let mut flat = self.stm.iter().flatten();
        let position = self
            .state
            .iter()
            .position(|&other| other == id)
            .unwrap_or(0);
        flat.nth(position).map_or("", String::as_str)
    }

    /// [`Self::scores`] of a pattern given as the STM id of each flat symbol ([`Self::id_of`],
    /// [`ABSENT`] for a symbol the STM does not hold) and the sizes of its events, which must
    /// add up to `ids.len()`. The same numbers as [`Self::scores`] of the pattern's strings:
    /// this is the one implementation both use.
    ///
    /// `scratch` is memory reused from one call to the next (any `MatchScratch` will do; one
    /// per thread saves the allocations).
    pub fn scores_of_ids(
        &self,
        ids: &[u32],
        event_sizes: &[u32],
        recall_threshold: f64,
        scratch: &mut MatchScratch,
    ) -> Option<MatchScores> {
        let p = ids;
        let s = &self.state;
        let lcs = self
            .masks
            .lcs_len(p.iter().map(|&id| (id != ABSENT).then_some(id as usize)));
        let cutoff = rapidfuzz_cutoff(recall_threshold);
        let similarity = recalled(
            token_score_of(lcs, p.len() + s.len()),
            cutoff,
            recall_threshold,
        )?;
        SequenceMatcher::with_positions(p, s, &self.positions)
            .get_matching_blocks_in(&mut scratch.0);
        let blocks = &scratch.0.blocks;
        // The last block is the sentinel.
        let real = &blocks[..blocks.len() - 1];
        let matched: usize = real.iter().map(|block| block.size).sum();
        let (past_len, present_end) = match (real.first(), real.last()) {
            (Some(first), Some(last)) => (first.a, last.a + last.size),
            _ if recall_threshold > 0.0 => return None,
            _ => (0, p.len()),
        };
        let first_match = real.first().map(|block| s[block.b]);
        let (past_end, present_end) = split_event_sizes(
            event_sizes.iter().map(|&size| size as usize),
            past_len,
            present_end - past_len,
            |index, start| {
                first_match.is_some_and(|first| {
                    p[start..start + event_sizes[index] as usize].contains(&first)
                })
            },
        );
        let present_symbols: usize = event_sizes[past_end..present_end]
            .iter()
            .map(|&size| size as usize)
            .sum();
        Some(MatchScores {
            similarity,
            evidence: fraction(matched, p.len()),
            confidence: fraction(matched, present_symbols),
            snr: signal_to_noise(matched, s.len() - matched),
            fragmentation: real.len() as f64 - 1.0,
        })
    }

    /// [`Self::scores`] of a pattern of `length` symbols whose only symbol shared with the STM
    /// (overlap 1) stands at its first occurrence in an event of `event_size` symbols, without
    /// matching: one block of one symbol, so evidence `1/length`, confidence `1/event_size` (the
    /// present is that event, the tail fix included), fragmentation 0 and similarity
    /// `2/(length + |S|)`. The same numbers, to the last bit, as matching it.
    pub fn single_block_scores(
        &self,
        length: usize,
        event_size: usize,
        recall_threshold: f64,
    ) -> Option<MatchScores> {
        let s = self.state.len();
        let similarity = recalled(
            token_score_of(1, length + s),
            rapidfuzz_cutoff(recall_threshold),
            recall_threshold,
        )?;
        Some(MatchScores {
            similarity,
            evidence: fraction(1, length),
            confidence: fraction(1, event_size),
            snr: signal_to_noise(1, s.saturating_sub(1)),
            fragmentation: 0.0,
        })
    }

    /// The STM id of `symbol`: ids are `0..` the number of distinct STM symbols, in order of
    /// first occurrence; `None` when the STM does not hold it.
    pub fn id_of(&self, symbol: &str) -> Option<u32> {
        self.ids.get(symbol).copied()
    }

    /// The flat STM's length, repeats included.
    pub fn stm_len(&self) -> usize {
        self.state.len()
    }

    /// The flat symbols of `pattern` as STM ids ([`ABSENT`] for the others).
    fn ids_of<'p>(&'p self, pattern: &'p [Vec<String>]) -> impl Iterator<Item = u32> + 'p {
        pattern
            .iter()
            .flatten()
            .map(|symbol| self.ids.get(symbol.as_str()).copied().unwrap_or(ABSENT))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::matching::{MatchConfig, match_pattern};

    fn events() -> impl Strategy<Value = Vec<Vec<String>>> {
        // A small alphabet so patterns and STMs share symbols, repeats included.
        let symbol =
            prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]).prop_map(String::from);
        prop::collection::vec(prop::collection::vec(symbol, 1..4), 0..7)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 3000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b61_746f_746f_6b6e),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The prepared scores are `match_pattern`'s, bit for bit, and drop the same candidates.
        #[test]
        fn scores_equal_match_pattern(
            pattern in events(),
            stm in events(),
            threshold in prop::sample::select(vec![0.0, 0.01, 0.1, 0.3, 0.5, 0.9]),
        ) {
            let config = MatchConfig {
                recall_threshold: threshold,
                use_token_matching: true,
                fuzzy_token_threshold: 0.0,
            };
            let expected = match_pattern(&pattern, &stm, &config).map(|found| found.scores());
            let matcher = TokenMatcher::new(&stm);
            prop_assert_eq!(matcher.scores(&pattern, threshold), expected);
        }

        /// The prepared full match is `match_pattern`'s, field for field.
        #[test]
        fn pattern_match_equals_match_pattern(
            pattern in events(),
            stm in events(),
            threshold in prop::sample::select(vec![0.0, 0.01, 0.1, 0.3, 0.5, 0.9]),
        ) {
            let config = MatchConfig {
                recall_threshold: threshold,
                use_token_matching: true,
                fuzzy_token_threshold: 0.0,
            };
            let expected = match_pattern(&pattern, &stm, &config);
            if stm.iter().flatten().next().is_some() {
                let matcher = TokenMatcher::new(&stm);
                let mut scratch = MatchScratch::default();
                prop_assert_eq!(matcher.pattern_match(&pattern, threshold, &mut scratch), expected);
            }
        }

        #[test]
        fn overlap_is_the_multiset_intersection(pattern in events(), stm in events()) {
            let mut counts: std::collections::HashMap<&str, (u32, u32)> =
                std::collections::HashMap::new();
            for symbol in pattern.iter().flatten() {
                counts.entry(symbol).or_default().0 += 1;
            }
            for symbol in stm.iter().flatten() {
                counts.entry(symbol).or_default().1 += 1;
            }
            let expected: u32 = counts.values().map(|(p, s)| (*p).min(*s)).sum();
            prop_assert_eq!(TokenMatcher::new(&stm).overlap(&pattern), expected);
        }
    }
}
