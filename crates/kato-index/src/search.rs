//! The search: which patterns kato-core's prediction needs, found exactly.
//!
//! - **One symbol** in the STM: the single-symbol path (spec 3.6), every pattern whose first
//!   symbol it is (the postings flag it), threshold and filters ignored as the reference does.
//! - **Exact token mode, `recall_threshold > 0`** (the common case): the 3 x `max_predictions`
//!   pruned set found by bounded search, without matching most candidates:
//!   1. the overlap `o = sum_s min(count_P(s), count_S(s))` of every pattern sharing a symbol
//!      with the STM, accumulated from the STM symbols' postings into a scratch array (only the
//!      touched patterns are visited, and reset afterwards);
//!   2. patterns whose similarity bound `2o / (L + |S|)` is under the threshold cannot pass
//!      the recall gate (the LCS never exceeds the overlap) and are skipped; the others are
//!      bucketed by `(o, L)`, whose pre-potential bound (kato-core's
//!      `pre_potential_upper_bound`) is computed once per bucket;
//!   3. buckets are visited best bound first, each candidate matched on `u32` ids
//!      (`TokenMatcher::scores_of_ids`, the very numbers of `match_pattern`) and kept in a
//!      heap of the best `3 x max_predictions` in pruning order plus one ranking after them;
//!      the search stops once the heap is full, the extra one is found and the worst kept
//!      pre-potential exceeds the next bucket's bound: no pattern left can enter the set.
//! - **Character mode, fuzzy tokens, `recall_threshold = 0`**: every pattern of the kb passing
//!   the filters is matched (token mode at threshold 0 on `u32` ids, the others on strings),
//!   and the best `3 x max_predictions + 1` in pruning order are kept. Their cost grows with
//!   the kb.
//!
//! Shards are searched in parallel on their own; the union of their pruned sets, in pruning
//! order, starts with the kb's exact pruned set, so its first `3 x max_predictions + 1` are
//! handed on.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use kato_core::matching::{
    ABSENT, MatchConfig, MatchScores, PatternMatch, TokenMatcher, match_pattern,
};
use kato_core::predict::{pre_potential_of, pre_potential_upper_bound, pruning_order};

use crate::KbIndex;
use crate::filter::{Filter, PatternFacts};
use crate::shard::{Scratch, Shard};
use crate::symbols::Symbols;

/// Slack for comparing a computed pre-potential with a bound: both are floating point, so a tie
/// in exact arithmetic may differ in the last bits; erring on matching more is safe.
const BOUND_SLACK: f64 = 1e-9;

/// Below this many patterns a search runs on the calling thread (threads cost more than they
/// save).
const PARALLEL_FROM: usize = 20_000;

/// What a prediction request asks of the index.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The STM's events.
    pub stm: &'a [Vec<String>],
    /// The session's matching settings.
    pub matching: &'a MatchConfig,
    /// The session's `max_predictions` (the pruning keeps three times as many).
    pub max_predictions: usize,
    /// The session's filter stages (ignored on the single-symbol path, as the reference does).
    pub filters: &'a [Filter<'a>],
}

/// A pattern's name (bare 40-hex) and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Bare 40-hex name.
    pub name: String,
    /// The events as learned.
    pub events: Vec<Vec<String>>,
}

/// What the prediction needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The single-symbol path: every pattern starting with the STM's one symbol (kato-core's
    /// `predict` ranks them, by frequency among others).
    SingleSymbol(Vec<Body>),
    /// The multi-symbol path: the pruned set's matches (at most `3 x max_predictions + 1`, in
    /// no particular order), what `predict_matched` needs to predict exactly as over every
    /// pattern.
    Matched(Vec<(Body, PatternMatch)>),
}

/// A search's answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The patterns for the prediction.
    pub found: Found,
    /// Patterns sharing a symbol with the STM (on the paths that match every pattern: the
    /// patterns passing the filters).
    pub candidates: usize,
    /// Patterns matched (scored).
    pub matched: usize,
}

/// A matched pattern in the pruning order: a greater one ranks later.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    pre_potential: f64,
    similarity: f64,
    shard: u32,
    pattern: u32,
    name: crate::NameBytes,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        // Names compare as their hex does: lowercase hex keeps the bytes' order.
        pruning_order(
            (self.pre_potential, self.similarity, ""),
            (other.pre_potential, other.similarity, ""),
        )
        .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The best `kept` in pruning order and one that ranks after all of them.
#[derive(Debug)]
struct Best {
    kept: usize,
    /// The worst on top.
    heap: BinaryHeap<Ranked>,
    beyond: Option<Ranked>,
}

impl Best {
    fn new(kept: usize) -> Self {
        Self {
            kept,
            heap: BinaryHeap::with_capacity(kept + 1),
            beyond: None,
        }
    }

    fn push(&mut self, ranked: Ranked) {
        self.heap.push(ranked);
        if self.heap.len() > self.kept {
            // The dropped one ranks after every one the heap will hold (its worst only
            // improves), so it may stand as the extra one.
            let dropped = self.heap.pop();
            if self.beyond.is_none() {
                self.beyond = dropped;
            }
        }
    }

    /// Whether no pattern whose pre-potential is at most `bound` can change the set.
    fn closed_below(&self, bound: f64) -> bool {
        self.heap.len() == self.kept
            && self.beyond.is_some()
            && self
                .heap
                .peek()
                .is_some_and(|worst| worst.pre_potential > bound + BOUND_SLACK)
    }

    fn into_vec(self) -> Vec<Ranked> {
        let mut all = self.heap.into_vec();
        all.extend(self.beyond);
        all
    }
}

/// The STM as the index sees it.
#[derive(Debug)]
struct Prepared<'s> {
    matcher: TokenMatcher<'s>,
    /// (kb symbol id, STM id, count in the STM) of each distinct STM symbol the kb holds, by
    /// kb id.
    known: Vec<(u32, u32, u32)>,
    /// Distinct STM symbols, whether the kb holds them or not.
    distinct: u32,
    stm_len: u32,
}

impl Prepared<'_> {
    fn stm_id(&self, kb_id: u32) -> u32 {
        match self.known.binary_search_by_key(&kb_id, |&(id, _, _)| id) {
            Ok(at) => self.known[at].1,
            Err(_) => ABSENT,
        }
    }
}

impl KbIndex {
    /// The patterns kato-core needs to predict from `query.stm` exactly as over every pattern of
    /// the kb (see the module documentation for the paths).
    pub fn search(&self, query: &Query<'_>) -> Search {
        self.search_with(query, pre_potential_upper_bound)
    }

    /// [`Self::search`] with the pre-potential bound `bound(overlap, length, stm_length)`
    /// (tests sabotage it to show the equivalence tests can fail).
    fn search_with(&self, query: &Query<'_>, bound: fn(u32, u32, u32) -> f64) -> Search {
        let flat: Vec<&String> = query.stm.iter().flatten().collect();
        match flat.as_slice() {
            [] => {
                return Search {
                    found: Found::Matched(Vec::new()),
                    candidates: 0,
                    matched: 0,
                };
            }
            [symbol] => return self.first_symbol(symbol),
            _ => {}
        }
        let matcher = TokenMatcher::new(query.stm);
        // STM ids are given in order of first occurrence.
        let mut counts: Vec<u32> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for symbol in &flat {
            let stm_id = matcher.id_of(symbol).unwrap_or(ABSENT) as usize;
            if stm_id == counts.len() {
                counts.push(0);
                texts.push(symbol);
            }
            if let Some(count) = counts.get_mut(stm_id) {
                *count += 1;
            }
        }
        let distinct = u32::try_from(texts.len()).unwrap_or(u32::MAX);
        let mut known: Vec<(u32, u32, u32)> = texts
            .iter()
            .zip(0..)
            .filter_map(|(text, stm_id)| {
                let kb_id = self.symbols.id(text)?;
                Some((kb_id, stm_id, counts[stm_id as usize]))
            })
            .collect();
        known.sort_unstable();
        let prepared = Prepared {
            matcher,
            known,
            distinct,
            stm_len: u32::try_from(flat.len()).unwrap_or(u32::MAX),
        };
        let matching = query.matching;
        let kept = query.max_predictions.max(1).saturating_mul(3);
        let bounded = matching.use_token_matching
            && matching.fuzzy_token_threshold <= 0.0
            && matching.recall_threshold > 0.0;
        let per_shard = |shard: &Shard, index: u32| {
            if bounded {
                search_bounded(shard, index, &self.symbols, &prepared, query, kept, bound)
            } else {
                match_every(shard, index, &self.symbols, &prepared, query, kept)
            }
        };
        let results: Vec<(Vec<Ranked>, usize, usize)> =
            if self.shards.len() > 1 && self.len() >= PARALLEL_FROM {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = self
                        .shards
                        .iter()
                        .zip(0..)
                        .map(|(shard, index)| scope.spawn(move || per_shard(shard, index)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|handle| {
                            handle
                                .join()
                                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                        })
                        .collect()
                })
            } else {
                self.shards
                    .iter()
                    .zip(0..)
                    .map(|(shard, index)| per_shard(shard, index))
                    .collect()
            };
        let mut candidates = 0;
        let mut matched = 0;
        let mut union = Vec::new();
        for (ranked, touched, scored) in results {
            union.extend(ranked);
            candidates += touched;
            matched += scored;
        }
        union.sort_unstable();
        union.truncate(kept + 1);
        let found = union
            .into_iter()
            .filter_map(|ranked| {
                let body = self.shards[ranked.shard as usize].body(ranked.pattern, &self.symbols);
                // `Some` for each: the scores kept them, and they drop exactly what this drops.
                let found = match_pattern(&body.events, query.stm, matching)?;
                Some((body, found))
            })
            .collect();
        Search {
            found: Found::Matched(found),
            candidates,
            matched,
        }
    }

    fn first_symbol(&self, symbol: &str) -> Search {
        let mut bodies = Vec::new();
        if let Some(id) = self.symbols.id(symbol) {
            for shard in &self.shards {
                for posting in shard.postings(id).iter().filter(|posting| posting.is_first) {
                    bodies.push(shard.body(posting.pattern, &self.symbols));
                }
            }
        }
        let count = bodies.len();
        Search {
            found: Found::SingleSymbol(bodies),
            candidates: count,
            matched: count,
        }
    }
}

/// The facts the filters read of one pattern; `token_texts` is a buffer for its token set.
fn passes_filters<'t>(
    shard: &Shard,
    pattern: u32,
    symbols: &'t Symbols,
    prepared: &Prepared<'_>,
    filters: &[Filter<'_>],
    token_ids: &mut Vec<u32>,
    token_texts: &mut Vec<&'t str>,
) -> bool {
    if filters.is_empty() {
        return true;
    }
    token_ids.clear();
    token_ids.extend_from_slice(shard.symbols(pattern));
    token_ids.sort_unstable();
    token_ids.dedup();
    let shared = token_ids
        .iter()
        .filter(|&&id| prepared.stm_id(id) != ABSENT)
        .count() as u32;
    token_texts.clear();
    if filters.iter().any(Filter::needs_tokens) {
        token_texts.extend(token_ids.iter().map(|&id| symbols.text(id)));
    } else {
        // Only its size is read.
        token_texts.extend(std::iter::repeat_n("", token_ids.len()));
    }
    let facts = PatternFacts {
        length: shard.length(pattern),
        token_set: token_texts,
        shared,
        stm_tokens: prepared.distinct,
    };
    filters.iter().all(|filter| filter.keeps(&facts))
}

/// Scores pattern `pattern` of `shard` on ids; `ids` is a reused buffer.
fn score(
    shard: &Shard,
    pattern: u32,
    prepared: &Prepared<'_>,
    recall_threshold: f64,
    ids: &mut Vec<u32>,
) -> Option<MatchScores> {
    ids.clear();
    ids.extend(shard.symbols(pattern).iter().map(|&id| prepared.stm_id(id)));
    prepared.matcher.scores_of_ids(
        ids,
        shard.event_sizes(pattern).iter().map(|&size| size as usize),
        recall_threshold,
    )
}

fn ranked(scores: MatchScores, shard: &Shard, index: u32, pattern: u32) -> Ranked {
    Ranked {
        pre_potential: pre_potential_of(scores),
        similarity: scores.similarity,
        shard: index,
        pattern,
        name: *shard.name(pattern),
    }
}

/// The exact-token bounded search of one shard: (its pruned set, patterns touched, matched).
fn search_bounded(
    shard: &Shard,
    index: u32,
    symbols: &Symbols,
    prepared: &Prepared<'_>,
    query: &Query<'_>,
    kept: usize,
    bound: fn(u32, u32, u32) -> f64,
) -> (Vec<Ranked>, usize, usize) {
    let mut scratch: Scratch = shard.take_scratch();
    for &(kb_id, _, stm_count) in &prepared.known {
        for posting in shard.postings(kb_id) {
            let slot = &mut scratch.overlap[posting.pattern as usize];
            if *slot == 0 {
                scratch
                    .touched
                    .push((posting.pattern, posting.first_event_size));
            }
            *slot += shard.count(posting, kb_id).min(stm_count);
        }
    }
    let threshold = query.matching.recall_threshold;
    let stm_len = prepared.stm_len;
    // Bucket by (overlap, length): the bound depends on nothing else.
    let mut bucket_of: HashMap<(u32, u32), u32> = HashMap::new();
    let mut keys: Vec<(u32, u32)> = Vec::new();
    let mut entries: Vec<(u32, u32, u8)> = Vec::with_capacity(scratch.touched.len());
    for &(pattern, event_size) in &scratch.touched {
        let overlap = std::mem::take(&mut scratch.overlap[pattern as usize]);
        let length = shard.length(pattern);
        // The similarity bound: the LCS never exceeds the overlap.
        if 2.0 * f64::from(overlap)
            < (threshold - BOUND_SLACK) * (f64::from(length) + f64::from(stm_len))
        {
            continue;
        }
        let bucket = *bucket_of.entry((overlap, length)).or_insert_with(|| {
            keys.push((overlap, length));
            (keys.len() - 1) as u32
        });
        entries.push((pattern, bucket, event_size));
    }
    let touched = scratch.touched.len();
    shard.return_scratch(scratch);
    let bounds: Vec<f64> = keys
        .iter()
        .map(|&(overlap, length)| bound(overlap, length, stm_len))
        .collect();
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| bounds[b as usize].total_cmp(&bounds[a as usize]));
    // Counting sort of the entries into the buckets' order.
    let mut rank_of = vec![0u32; keys.len()];
    for (rank, &bucket) in order.iter().enumerate() {
        rank_of[bucket as usize] = rank as u32;
    }
    let mut starts = vec![0usize; keys.len() + 1];
    for &(_, bucket, _) in &entries {
        starts[rank_of[bucket as usize] as usize + 1] += 1;
    }
    for rank in 0..keys.len() {
        starts[rank + 1] += starts[rank];
    }
    let mut fill = starts.clone();
    let mut sorted = vec![(0u32, 0u8); entries.len()];
    for &(pattern, bucket, event_size) in &entries {
        let rank = rank_of[bucket as usize] as usize;
        sorted[fill[rank]] = (pattern, event_size);
        fill[rank] += 1;
    }

    let mut best = Best::new(kept);
    let mut matched = 0;
    let mut ids = Vec::new();
    let mut token_ids = Vec::new();
    let mut token_texts = Vec::new();
    'buckets: for (rank, &bucket) in order.iter().enumerate() {
        let bound = bounds[bucket as usize];
        let (overlap, length) = keys[bucket as usize];
        for &(pattern, event_size) in &sorted[starts[rank]..starts[rank + 1]] {
            if best.closed_below(bound) {
                break 'buckets;
            }
            if !passes_filters(
                shard,
                pattern,
                symbols,
                prepared,
                query.filters,
                &mut token_ids,
                &mut token_texts,
            ) {
                continue;
            }
            // One shared symbol: one block of one symbol at its first occurrence, known from
            // the posting (a saturated event size is matched instead).
            let scores = if overlap == 1 && event_size < u8::MAX {
                prepared.matcher.single_block_scores(
                    length as usize,
                    usize::from(event_size),
                    threshold,
                )
            } else {
                matched += 1;
                score(shard, pattern, prepared, threshold, &mut ids)
            };
            if let Some(scores) = scores {
                best.push(ranked(scores, shard, index, pattern));
            }
        }
    }
    (best.into_vec(), touched, matched)
}

/// Every pattern of one shard passing the filters, matched; the best `kept + 1` kept.
fn match_every(
    shard: &Shard,
    index: u32,
    symbols: &Symbols,
    prepared: &Prepared<'_>,
    query: &Query<'_>,
    kept: usize,
) -> (Vec<Ranked>, usize, usize) {
    let matching = query.matching;
    let on_ids = matching.use_token_matching && matching.fuzzy_token_threshold <= 0.0;
    let mut best = Best::new(kept);
    let mut matched = 0;
    let mut ids = Vec::new();
    let mut token_ids = Vec::new();
    let mut token_texts = Vec::new();
    for pattern in 0..shard.len() as u32 {
        if !passes_filters(
            shard,
            pattern,
            symbols,
            prepared,
            query.filters,
            &mut token_ids,
            &mut token_texts,
        ) {
            continue;
        }
        matched += 1;
        let scores = if on_ids {
            score(
                shard,
                pattern,
                prepared,
                matching.recall_threshold,
                &mut ids,
            )
        } else {
            let body = shard.body(pattern, symbols);
            match_pattern(&body.events, query.stm, matching).map(|found| found.scores())
        };
        if let Some(scores) = scores {
            best.push(ranked(scores, shard, index, pattern));
        }
    }
    (best.into_vec(), matched, matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(search: &Search) -> Vec<String> {
        let Found::Matched(found) = &search.found else {
            return Vec::new();
        };
        let mut names: Vec<String> = found.iter().map(|(body, _)| body.name.clone()).collect();
        names.sort();
        names
    }

    /// A bound below the true one loses candidates the pruned set needs, and the search shows
    /// it: what the equivalence property tests rely on to catch a wrong bound.
    #[test]
    fn a_sabotaged_bound_changes_the_pruned_set() {
        let mut index = KbIndex::new(1);
        // Patterns sharing ever more of the STM `a b c d`, each under its own name.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in 0..400u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let events: Vec<Vec<String>> = (0..(2 + state % 6))
                .map(|i| {
                    vec![format!(
                        "{}",
                        (b'a' + ((state >> (i * 5)) % 9) as u8) as char
                    )]
                })
                .collect();
            index.insert(&format!("{n:040x}"), &events).unwrap();
        }
        let stm: Vec<Vec<String>> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| vec![(*s).to_owned()])
            .collect();
        let matching = MatchConfig {
            recall_threshold: 0.1,
            use_token_matching: true,
            fuzzy_token_threshold: 0.0,
        };
        let query = Query {
            stm: &stm,
            matching: &matching,
            max_predictions: 3,
            filters: &[],
        };
        let exact = index.search(&query);
        let sabotaged =
            index.search_with(&query, |o, l, s| 0.7 * pre_potential_upper_bound(o, l, s));
        assert!(exact.matched > 0);
        assert_ne!(names(&exact), names(&sabotaged));
    }
}
