//! `KnowledgeBase::predict`: candidates from ClickHouse by indexed search, their Redis values
//! and the kb's statistics, then kato-core's pure matching, metrics and ranking.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kato_clickhouse::{BoundedCandidate, CandidateBase, CandidateBody, CandidateFilter};
use kato_core::matching::{PatternMatch, match_pattern};
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
    /// Character mode, and `recall_threshold = 0`
    /// (every pattern qualifies), read the kb's whole partition: their cost grows with the kb.
    pub async fn predict(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<Predictions, KbError> {
        Ok(self.predict_counted(kb, stm, settings).await?.0)
    }

    /// [`KnowledgeBase::predict`], and how many candidate bodies it read and matched (what the
    /// request cost, for benchmarks and diagnostics).
    pub async fn predict_counted(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<(Predictions, usize), KbError> {
        let Some(query) = candidate_query(stm, settings)? else {
            let empty = predict(stm, Vec::new(), &KbStatistics::default(), &settings.predict);
            return Ok((empty, 0));
        };
        match &query.base {
            CandidateBase::SimilarityBound {
                symbol_counts,
                stm_length,
                threshold,
            } if settings.predict.matching.fuzzy_token_threshold <= 0.0 => {
                let bounded = self
                    .clickhouse()
                    .similarity_bounded(kb, symbol_counts, *stm_length, *threshold)
                    .await?;
                let (matched, scored) = self
                    .best_by_bound(kb, stm, bounded, *stm_length, &query.filters, settings)
                    .await?;
                let (found, bodies): (Vec<_>, Vec<_>) = matched.into_iter().unzip();
                let candidates = self.with_redis_values(kb, bodies).await?;
                let statistics = self.statistics(kb, stm, &candidates, settings).await?;
                let matched = candidates.into_iter().zip(found).collect();
                let predictions = predict_matched(stm, matched, &statistics, &settings.predict);
                Ok((predictions, scored))
            }
            _ => {
                let bodies = self
                    .clickhouse()
                    .candidates(kb, &query.base, &query.filters)
                    .await?;
                let scored = bodies.len();
                Ok((self.predict_from(kb, stm, bodies, settings).await?, scored))
            }
        }
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
            return Ok(predict(
                stm,
                Vec::new(),
                &KbStatistics::default(),
                &settings.predict,
            ));
        };
        let base = match query.base {
            // The single-symbol path's first-token rule is the path's definition, not an index.
            first @ CandidateBase::FirstToken(_) => first,
            CandidateBase::All
            | CandidateBase::SimilarityBound { .. }
            | CandidateBase::Names(_) => CandidateBase::All,
        };
        let bodies = self
            .clickhouse()
            .candidates(kb, &base, &query.filters)
            .await?;
        self.predict_from(kb, stm, bodies, settings).await
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

    /// The candidates the 3 x `max_predictions` pruning can keep, found without scoring every
    /// pattern that passes the similarity bound: bodies are read and matched in decreasing
    /// order of [`pre_potential_upper_bound`] until more than the pruning set passed and the
    /// set's worst pre-potential exceeds the next bound; no candidate left unread can then
    /// enter the pruned set, so the predictions equal those of scoring them all. Returns the
    /// matches and bodies handed on (at most the pruning set and one more) and how many bodies
    /// were read.
    async fn best_by_bound(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        bounded: Vec<BoundedCandidate>,
        stm_length: u32,
        filters: &[CandidateFilter],
        settings: &PredictionSettings,
    ) -> Result<(Vec<(PatternMatch, CandidateBody)>, usize), KbError> {
        let mut order: Vec<(f64, String)> = bounded
            .into_iter()
            .map(|c| {
                let bound = pre_potential_upper_bound(c.overlap, c.pattern_length, stm_length);
                (bound, c.name)
            })
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        // One more than the pruning set, so the pruning (and `_pre_potential`) happens exactly
        // when it would over every candidate.
        let wanted = settings.predict.max_predictions.saturating_mul(3) + 1;
        // (pre-potential, match, body) of every candidate that passed the recall gate.
        let mut passed: Vec<(f64, PatternMatch, CandidateBody)> = Vec::new();
        let mut read = 0;
        // The first round reads as many as the pruning set needs; each next one doubles.
        let mut chunk = wanted;
        while read < order.len() {
            let end = (read + chunk).min(order.len());
            let names: Vec<String> = order[read..end].iter().map(|(_, n)| n.clone()).collect();
            let bodies = self
                .clickhouse()
                .candidates(kb, &CandidateBase::Names(names), filters)
                .await?;
            for body in bodies {
                let matching = &settings.predict.matching;
                if let Some(found) = match_pattern(&body.pattern_data, stm, matching) {
                    passed.push((pre_potential_of(&found), found, body));
                }
            }
            read = end;
            chunk = chunk.saturating_mul(2);
            if passed.len() >= wanted {
                passed.sort_by(|(a_pre, a, a_body), (b_pre, b, b_body)| {
                    pruning_order(
                        (*a_pre, a.similarity, &a_body.name),
                        (*b_pre, b.similarity, &b_body.name),
                    )
                });
                // Only the pruning set and one more reach `predict`: it keeps exactly the
                // first `wanted - 1` in this order, and the extra one makes it prune.
                passed.truncate(wanted);
                let worst_kept = passed[wanted - 2].0;
                if read < order.len() && worst_kept > order[read].0 + BOUND_SLACK {
                    break;
                }
            }
        }
        let matched = passed
            .into_iter()
            .map(|(_, found, body)| (found, body))
            .collect();
        Ok((matched, read))
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
            let stm_symbols: BTreeSet<&String> = stm.iter().flatten().collect();
            for symbol in stm_symbols {
                let affinity = redis.symbol_affinity(kb, symbol).await?;
                statistics.affinities.insert(symbol.clone(), affinity);
            }
        }
        Ok(statistics)
    }
}

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
