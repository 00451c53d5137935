//! `KnowledgeBase::predict`: candidates from ClickHouse by indexed search, their Redis values
//! and the kb's statistics, then kato-core's pure matching, metrics and ranking.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use kato_clickhouse::{CandidateBase, CandidateBody, CandidateFilter};
use kato_core::matching::{PatternMatch, TokenMatcher, match_pattern};
use kato_core::predict::{
    Candidate, KbStatistics, Predictions, pre_potential_of, pre_potential_upper_bound, predict,
    predict_matched, pruning_order,
};
use kato_core::{KbId, MinHashConfig, MinHasher};

use crate::session_config::{FilterStage, PredictionSettings};
use crate::{KbError, KnowledgeBase};

/// Slack for comparing a computed pre-potential with a bound: both are floating point, so a
/// tie in exact arithmetic may differ in the last bits; erring on reading more is safe.
const BOUND_SLACK: f64 = 1e-9;

/// How a request's candidates are found (see [`candidate_query`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateQuery {
    /// The starting set.
    pub base: CandidateBase,
    /// The filter stages, in the session's order.
    pub filters: Vec<CandidateFilter>,
}

impl KnowledgeBase {
    /// Predictions for `stm` (events, symbols as observed into the STM) over `kb`'s patterns.
    ///
    /// Candidates come from ClickHouse by indexed search: in token mode with
    /// `recall_threshold > 0` the symbol index returns exactly the patterns whose similarity
    /// upper bound reaches the threshold, a superset of those that can match, and they are
    /// scored in decreasing order of a pre-potential bound only as far as the 3 x
    /// `max_predictions` pruning needs, so the result equals scoring every pattern of the kb.
    /// Character mode, fuzzy tokens and `recall_threshold = 0` (every pattern qualifies) read
    /// the kb's whole partition and match every body, so their cost grows with the kb; only
    /// the pruning set's values are read from Redis.
    pub async fn predict(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<Predictions, KbError> {
        Ok(self.predict_counted(kb, stm, settings).await?.0)
    }

    /// [`KnowledgeBase::predict`], and how many candidate bodies it matched (what the request
    /// cost, for benchmarks and diagnostics): on the bound-ordered path only those scored before
    /// the early stop, elsewhere every body read.
    pub async fn predict_counted(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<(Predictions, usize), KbError> {
        let Some(query) = candidate_query(stm, settings)? else {
            return Ok((Predictions::default(), 0));
        };
        self.check_minhash_scheme(&query, settings)?;
        let bodies = self
            .clickhouse()
            .candidates(kb, &query.base, &query.filters)
            .await?;
        let (matched, scored) = match &query.base {
            // The single-symbol path ranks by frequency, which only Redis knows.
            CandidateBase::FirstToken(_) => {
                let scored = bodies.len();
                return Ok((self.predict_from(kb, stm, bodies, settings).await?, scored));
            }
            CandidateBase::SimilarityBound { .. }
                if settings.predict.matching.fuzzy_token_threshold <= 0.0 =>
            {
                best_by_bound(stm, bodies, settings)
            }
            // Character mode, fuzzy tokens, `recall_threshold = 0`: every body is matched, but
            // only the pruning set reaches Redis.
            _ => {
                let scored = bodies.len();
                (best_by_match(stm, bodies, settings), scored)
            }
        };
        let (found, bodies): (Vec<_>, Vec<_>) = matched.into_iter().unzip();
        let candidates = self.with_redis_values(kb, bodies).await?;
        let statistics = self.statistics(kb, stm, &candidates, settings).await?;
        let matched = candidates.into_iter().zip(found).collect();
        let predictions = predict_matched(stm, matched, &statistics, &settings.predict);
        Ok((predictions, scored))
    }

    /// Predictions from every pattern of `kb` (the session's filter stages still apply) without
    /// the symbol index: the reference's way, for tests and tools that check the indexed
    /// search against it. Reads the whole kb.
    pub async fn predict_exhaustive(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<Predictions, KbError> {
        let Some(query) = candidate_query(stm, settings)? else {
            return Ok(Predictions::default());
        };
        self.check_minhash_scheme(&query, settings)?;
        let base = match query.base {
            // The single-symbol path's first-token rule is the path's definition, not an index.
            first @ CandidateBase::FirstToken(_) => first,
            CandidateBase::All | CandidateBase::SimilarityBound { .. } => CandidateBase::All,
        };
        let bodies = self
            .clickhouse()
            .candidates(kb, &base, &query.filters)
            .await?;
        self.predict_from(kb, stm, bodies, settings).await
    }

    /// The `minhash` stage compares the STM's signature with the stored ones, so it needs the
    /// scheme they were stored with; any other would silently find nothing.
    fn check_minhash_scheme(
        &self,
        query: &CandidateQuery,
        settings: &PredictionSettings,
    ) -> Result<(), KbError> {
        let uses_minhash = query
            .filters
            .iter()
            .any(|filter| matches!(filter, CandidateFilter::MinHash { .. }));
        if !uses_minhash {
            return Ok(());
        }
        let stored = self.minhash_config();
        let asked = [
            settings.minhash_num_hashes,
            settings.minhash_bands,
            settings.minhash_rows,
        ]
        .map(|n| n as usize);
        if asked == [stored.permutations(), stored.bands(), stored.rows()] {
            return Ok(());
        }
        Err(KbError::InvalidInput {
            field: "minhash_num_hashes, minhash_bands, minhash_rows",
            reason: format!(
                "the minhash stage needs the scheme the kb's signatures are stored with \
                 ({} hashes in {} bands of {} rows), not {} hashes in {} bands of {} rows",
                stored.permutations(),
                stored.bands(),
                stored.rows(),
                asked[0],
                asked[1],
                asked[2]
            ),
        })
    }

    /// The shared last step: the candidates' Redis values, the kb statistics, kato-core.
    async fn predict_from(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        bodies: Vec<CandidateBody>,
        settings: &PredictionSettings,
    ) -> Result<Predictions, KbError> {
        let candidates = self.with_redis_values(kb, bodies).await?;
        let statistics = self.statistics(kb, stm, &candidates, settings).await?;
        Ok(predict(stm, candidates, &statistics, &settings.predict))
    }

    async fn with_redis_values(
        &self,
        kb: &KbId,
        bodies: Vec<CandidateBody>,
    ) -> Result<Vec<Candidate>, KbError> {
        let names: Vec<String> = bodies.iter().map(|b| b.name.clone()).collect();
        let summaries = self.redis().pattern_summaries(kb, &names).await?;
        bodies
            .into_iter()
            .zip(summaries)
            .map(|(body, summary)| {
                let emotives = summary
                    .emotives
                    .iter()
                    .map(|entry| parse_emotives(entry))
                    .collect::<Result<_, _>>()?;
                Ok(Candidate {
                    name: body.name,
                    events: body.pattern_data,
                    frequency: summary.frequency,
                    emotives,
                })
            })
            .collect()
    }

    /// The kb statistics the metrics read, for the symbols of the STM and the candidates.
    async fn statistics(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        candidates: &[Candidate],
        settings: &PredictionSettings,
    ) -> Result<KbStatistics, KbError> {
        let redis = self.redis();
        let globals = redis.global_counters(kb).await?;
        let symbols: Vec<String> = stm
            .iter()
            .flatten()
            .chain(candidates.iter().flat_map(|c| c.events.iter().flatten()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let stats = redis.symbol_stats(kb, &symbols).await?;
        let mut statistics = KbStatistics {
            total_unique_patterns: globals.total_unique_patterns,
            total_pattern_frequencies: globals.total_pattern_frequencies,
            distinct_symbols: globals.distinct_symbols,
            pattern_member_counts: HashMap::with_capacity(symbols.len()),
            symbol_frequencies: HashMap::new(),
            affinities: HashMap::new(),
        };
        let weighted = settings.predict.affinity_emotive.is_some();
        for (symbol, stat) in symbols.into_iter().zip(stats) {
            if weighted {
                statistics
                    .symbol_frequencies
                    .insert(symbol.clone(), stat.frequency);
            }
            statistics
                .pattern_member_counts
                .insert(symbol, stat.pattern_member_count);
        }
        if weighted {
            let stm_symbols: Vec<String> = stm
                .iter()
                .flatten()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .cloned()
                .collect();
            let affinities = redis.symbol_affinities(kb, &stm_symbols).await?;
            statistics
                .affinities
                .extend(stm_symbols.into_iter().zip(affinities));
        }
        Ok(statistics)
    }
}

/// The candidates the 3 x `max_predictions` pruning can keep, found without scoring every body
/// that passed the similarity bound: bodies are scored in decreasing order of
/// [`pre_potential_upper_bound`] until more than the pruning set passed and the set's worst
/// pre-potential exceeds the next bound; no candidate left unscored can then enter the pruned
/// set, so the predictions equal those of scoring them all. Returns the matches and bodies
/// handed on (at most the pruning set and one more) and how many bodies were scored.
///
/// Exact token mode only (the similarity-bound path, not fuzzy). Scoring computes only the
/// numbers `_pre_potential` needs ([`TokenMatcher::scores`], equal to [`match_pattern`]'s); the
/// full match is built for the bodies handed on alone.
fn best_by_bound(
    stm: &[Vec<String>],
    bodies: Vec<CandidateBody>,
    settings: &PredictionSettings,
) -> (Vec<(PatternMatch, CandidateBody)>, usize) {
    let matching = &settings.predict.matching;
    let matcher = TokenMatcher::new(stm);
    let stm_length = u32::try_from(stm.iter().map(Vec::len).sum::<usize>()).unwrap_or(u32::MAX);
    let bounds: Vec<f64> = bodies
        .iter()
        .map(|body| {
            let length = body.pattern_data.iter().map(Vec::len).sum::<usize>();
            let length = u32::try_from(length).unwrap_or(u32::MAX);
            let overlap = matcher.overlap(&body.pattern_data);
            pre_potential_upper_bound(overlap, length, stm_length)
        })
        .collect();
    // Equal bounds may come in any order: the stop test compares values only.
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_unstable_by(|&a, &b| bounds[b].total_cmp(&bounds[a]));
    // The pruning keeps the first `3 * max_predictions` in pruning order; one more candidate
    // handed on makes it prune exactly when it would over every candidate.
    let kept = settings.predict.max_predictions.saturating_mul(3);
    // The best `kept` so far, the worst on top, and one that ranks after all of them.
    let mut best: BinaryHeap<Ranked<'_>> = BinaryHeap::with_capacity(kept + 1);
    let mut beyond: Option<Ranked<'_>> = None;
    let mut scored = 0;
    for &index in &order {
        if best.len() == kept
            && beyond.is_some()
            && best
                .peek()
                .is_some_and(|worst| worst.pre_potential > bounds[index] + BOUND_SLACK)
        {
            break;
        }
        scored += 1;
        let body = &bodies[index];
        let Some(scores) = matcher.scores(&body.pattern_data, matching.recall_threshold) else {
            continue;
        };
        best.push(Ranked {
            pre_potential: pre_potential_of(scores),
            similarity: scores.similarity,
            name: &body.name,
            index,
        });
        if best.len() > kept {
            // The dropped one ranks after every candidate `best` will hold (its worst only
            // improves), so any of them can be the extra one.
            let dropped = best.pop();
            beyond = beyond.or(dropped);
        }
    }
    let handed: Vec<usize> = best.into_iter().chain(beyond).map(|r| r.index).collect();
    let mut bodies: Vec<Option<CandidateBody>> = bodies.into_iter().map(Some).collect();
    let matched = handed
        .into_iter()
        .filter_map(|index| {
            let body = bodies[index].take()?;
            // `Some` for each: `scores` kept them, and it drops exactly what this drops.
            match_pattern(&body.pattern_data, stm, matching).map(|found| (found, body))
        })
        .collect();
    (matched, scored)
}

/// Every body [`match_pattern`] keeps, cut to the first 3 x `max_predictions` + 1 in
/// [`pruning_order`]: what [`predict_matched`] needs to predict exactly as over all of them.
fn best_by_match(
    stm: &[Vec<String>],
    bodies: Vec<CandidateBody>,
    settings: &PredictionSettings,
) -> Vec<(PatternMatch, CandidateBody)> {
    let matching = &settings.predict.matching;
    let kept = settings
        .predict
        .max_predictions
        .saturating_mul(3)
        .saturating_add(1);
    let matched: Vec<(PatternMatch, CandidateBody)> = bodies
        .into_iter()
        .filter_map(|body| match_pattern(&body.pattern_data, stm, matching).map(|m| (m, body)))
        .collect();
    if matched.len() <= kept {
        return matched;
    }
    // The best `kept`, the worst on top.
    let mut best: BinaryHeap<Ranked<'_>> = BinaryHeap::with_capacity(kept + 1);
    for (index, (found, body)) in matched.iter().enumerate() {
        best.push(Ranked {
            pre_potential: pre_potential_of(found.scores()),
            similarity: found.similarity,
            name: &body.name,
            index,
        });
        if best.len() > kept {
            best.pop();
        }
    }
    let mut keep = vec![false; matched.len()];
    for ranked in best {
        keep[ranked.index] = true;
    }
    matched
        .into_iter()
        .zip(keep)
        .filter_map(|(entry, kept)| kept.then_some(entry))
        .collect()
}

/// A scored candidate in the pruning order ([`pruning_order`]): a greater one ranks later.
#[derive(Debug)]
struct Ranked<'b> {
    pre_potential: f64,
    similarity: f64,
    name: &'b str,
    /// Its place in the bodies.
    index: usize,
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        pruning_order(
            (self.pre_potential, self.similarity, self.name),
            (other.pre_potential, other.similarity, other.name),
        )
    }
}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}

fn parse_emotives(entry: &str) -> Result<BTreeMap<String, f64>, KbError> {
    serde_json::from_str(entry).map_err(|e| KbError::InvalidInput {
        field: "stored emotives",
        reason: format!("{entry:?} is not a JSON object of numbers: {e}"),
    })
}

/// How the candidates of a request are found; `None` when nothing can be a candidate (an
/// empty STM).
pub fn candidate_query(
    stm: &[Vec<String>],
    settings: &PredictionSettings,
) -> Result<Option<CandidateQuery>, KbError> {
    let flat: Vec<&String> = stm.iter().flatten().collect();
    match flat.as_slice() {
        [] => return Ok(None),
        // The single-symbol path ignores the threshold and the pipeline (spec 3.6).
        [symbol] => {
            return Ok(Some(CandidateQuery {
                base: CandidateBase::FirstToken((*symbol).clone()),
                filters: Vec::new(),
            }));
        }
        _ => {}
    }
    let matching = &settings.predict.matching;
    let mut counts: BTreeMap<&String, u32> = BTreeMap::new();
    for symbol in &flat {
        *counts.entry(symbol).or_default() += 1;
    }
    let base = if matching.use_token_matching && matching.recall_threshold > 0.0 {
        CandidateBase::SimilarityBound {
            symbol_counts: counts.iter().map(|(s, c)| ((*s).clone(), *c)).collect(),
            stm_length: u32::try_from(flat.len()).unwrap_or(u32::MAX),
            threshold: matching.recall_threshold,
        }
    } else {
        CandidateBase::All
    };
    let tokens: Vec<String> = counts.keys().map(|s| (*s).clone()).collect();
    let mut filters = Vec::new();
    for stage in &settings.filter_pipeline {
        match stage {
            FilterStage::Length => {
                let n = flat.len() as f64;
                let min = ((n * settings.length_min_ratio).floor() as u32).max(1);
                let max = (n * settings.length_max_ratio).floor() as u32;
                filters.push(CandidateFilter::Length { min, max });
            }
            FilterStage::Jaccard => filters.push(CandidateFilter::Jaccard {
                tokens: tokens.clone(),
                threshold: settings.jaccard_threshold,
                min_overlap: settings.jaccard_min_overlap,
            }),
            FilterStage::Minhash => {
                let config = MinHashConfig::new(
                    settings.minhash_num_hashes as usize,
                    settings.minhash_bands as usize,
                    settings.minhash_rows as usize,
                )?;
                let hasher = MinHasher::new(config);
                let signature = hasher.signature(tokens.iter().map(String::as_str));
                let bands = hasher
                    .band_hashes(&signature)?
                    .into_iter()
                    .enumerate()
                    .map(|(index, hash)| (u8::try_from(index).unwrap_or(u8::MAX), hash))
                    .collect();
                filters.push(CandidateFilter::MinHash {
                    bands,
                    signature,
                    threshold: settings.minhash_threshold,
                });
            }
            FilterStage::Bloom => filters.push(CandidateFilter::SharesToken {
                tokens: tokens.clone(),
            }),
            // The recall gate itself: kato-core applies it to every candidate anyway, so the
            // stage changes nothing in SQL (an explicit 0 keeps everything, as it should).
            FilterStage::Rapidfuzz => {}
        }
    }
    Ok(Some(CandidateQuery { base, filters }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<Vec<String>> {
        text.split('|')
            .map(|event| event.split(' ').map(str::to_owned).collect())
            .collect()
    }

    /// The bound-ordered selection hands on exactly the first `3 * max_predictions` of every
    /// candidate in pruning order plus one more, without scoring them all.
    #[test]
    fn best_by_bound_keeps_the_pruning_set_and_stops_early() {
        let stm = events("a|b c|d");
        let mut settings = PredictionSettings::default();
        settings.predict.max_predictions = 2;
        let patterns = [
            "a|b c|d",
            "a|b|c d",
            "x|a|b c",
            "a|y|z|w",
            "b|c|q",
            "d|a",
            "a b|c d|e",
            "z|z|z|a",
            "q|r|s|t|u|v|a",
            "c|d|a|b",
            "x|y",
            "a|a|a|b",
        ];
        let bodies: Vec<CandidateBody> = patterns
            .iter()
            .enumerate()
            .map(|(i, pattern)| CandidateBody {
                name: format!("{i:040}"),
                pattern_data: events(pattern),
            })
            .collect();
        let matching = &settings.predict.matching;
        let mut every: Vec<(f64, f64, String)> = bodies
            .iter()
            .filter_map(|body| {
                let found = match_pattern(&body.pattern_data, &stm, matching)?;
                Some((
                    pre_potential_of(found.scores()),
                    found.similarity,
                    body.name.clone(),
                ))
            })
            .collect();
        every.sort_by(|a, b| pruning_order((a.0, a.1, &a.2), (b.0, b.1, &b.2)));
        let (handed, scored) = best_by_bound(&stm, bodies.clone(), &settings);
        assert!(scored < bodies.len(), "stops early: scored {scored}");
        let mut names: Vec<String> = handed.iter().map(|(_, body)| body.name.clone()).collect();
        names.sort_by_key(|name| every.iter().position(|e| &e.2 == name));
        let expected: Vec<String> = every.iter().take(6).map(|e| e.2.clone()).collect();
        assert_eq!(names.len(), 7);
        assert_eq!(names[..6], expected[..]);
        for (found, body) in &handed {
            assert_eq!(
                Some(found),
                match_pattern(&body.pattern_data, &stm, matching).as_ref()
            );
        }
    }
}
