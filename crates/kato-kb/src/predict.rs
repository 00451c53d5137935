//! `KnowledgeBase::predict`: the pruned candidates from the kb's resident index, their Redis
//! values and the kb's statistics, then kato-core's metrics and ranking.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kato_clickhouse::{CandidateBase, CandidateBody, CandidateFilter};
use kato_core::predict::{Candidate, KbStatistics, Predictions, predict, predict_matched};
use kato_core::{KbId, MinHashConfig, MinHasher};
use kato_index::{Filter, Found};

use crate::session_config::{FilterStage, PredictionSettings};
use crate::{KbError, KnowledgeBase};

/// How many times a search retries when its kb's index was evicted between catching up and
/// searching (another kb's load needed the memory).
const EVICTED_RETRIES: usize = 3;

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
    /// Candidates come from the kb's resident index (loaded from ClickHouse on first use and
    /// caught up with every learn acknowledged before the call, by any process): in exact
    /// token mode with `recall_threshold > 0` a bounded search finds the 3 x
    /// `max_predictions` pruned set without matching most candidates; character mode, fuzzy
    /// tokens and `recall_threshold = 0` match every pattern in memory, so their cost grows
    /// with the kb. Only the pruned set's values are read from Redis. The result equals
    /// [`Self::predict_exhaustive`]'s.
    pub async fn predict(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        settings: &PredictionSettings,
    ) -> Result<Predictions, KbError> {
        Ok(self.predict_counted(kb, stm, settings).await?.0)
    }

    /// [`KnowledgeBase::predict`], and how many patterns it matched (what the request cost,
    /// for benchmarks and diagnostics).
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
        let mut search = None;
        for _ in 0..EVICTED_RETRIES {
            let slot = self
                .resident()
                .fresh(kb, self.clickhouse(), self.redis())
                .await?;
            let this = self.clone();
            let stm = stm.to_vec();
            let settings = settings.clone();
            let filters = query.filters.clone();
            let task = tokio::task::spawn_blocking(move || {
                let filters: Vec<Filter<'_>> = filters
                    .into_iter()
                    .map(|filter| index_filter(filter, this.minhasher()))
                    .collect();
                let query = kato_index::Query {
                    stm: &stm,
                    matching: &settings.predict.matching,
                    max_predictions: settings.predict.max_predictions,
                    filters: &filters,
                };
                let guard = slot
                    .index
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                guard.as_ref().map(|loaded| loaded.index.search(&query))
            });
            match task.await {
                Ok(Some(found)) => {
                    search = Some(found);
                    break;
                }
                Ok(None) => continue,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        let Some(search) = search else {
            return Err(KbError::IndexEvicted(kb.to_string()));
        };
        let matched_count = search.matched;
        match search.found {
            Found::SingleSymbol(bodies) => {
                let bodies = bodies.into_iter().map(candidate_body).collect();
                // The single-symbol path reads no kb statistics.
                let (candidates, statistics) = self
                    .prediction_inputs(kb, stm, bodies, std::iter::empty(), settings)
                    .await?;
                Ok((
                    predict(stm, candidates, &statistics, &settings.predict),
                    matched_count,
                ))
            }
            Found::Matched(matched) => {
                let (bodies, found): (Vec<_>, Vec<_>) = matched
                    .into_iter()
                    .map(|(body, found)| (candidate_body(body), found))
                    .unzip();
                // The metrics read the statistics of the matched and missing symbols only
                // (the present events'), and the frequencies of the STM's.
                let symbols = stm.iter().flatten().chain(
                    found
                        .iter()
                        .flat_map(|found| found.missing.iter().flatten()),
                );
                let (candidates, statistics) = self
                    .prediction_inputs(kb, stm, bodies, symbols, settings)
                    .await?;
                let matched = candidates.into_iter().zip(found).collect();
                let predictions = predict_matched(stm, matched, &statistics, &settings.predict);
                Ok((predictions, matched_count))
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
            return Ok(Predictions::default());
        };
        self.check_minhash_scheme(&query, settings)?;
        let bodies = self
            .clickhouse()
            .candidates(kb, &query.base, &query.filters)
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
        // Every symbol of the candidates: which of them the metrics read is known only once
        // kato-core has matched them.
        let symbols: Vec<String> = stm
            .iter()
            .flatten()
            .chain(bodies.iter().flat_map(|b| b.pattern_data.iter().flatten()))
            .cloned()
            .collect();
        let (candidates, statistics) = self
            .prediction_inputs(kb, stm, bodies, symbols.iter(), settings)
            .await?;
        Ok(predict(stm, candidates, &statistics, &settings.predict))
    }

    /// The candidates with their Redis values, and the kb statistics of `symbols` (which must
    /// hold every symbol the metrics read: the STM's and the present events'), in one Redis
    /// round trip (two with affinity weighting).
    async fn prediction_inputs<'s>(
        &self,
        kb: &KbId,
        stm: &[Vec<String>],
        bodies: Vec<CandidateBody>,
        symbols: impl Iterator<Item = &'s String>,
        settings: &PredictionSettings,
    ) -> Result<(Vec<Candidate>, KbStatistics), KbError> {
        let redis = self.redis();
        let weighted = settings.predict.affinity_emotive.is_some();
        let names: Vec<String> = bodies.iter().map(|b| b.name.clone()).collect();
        let symbols: Vec<&str> = symbols
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let values = redis
            .prediction_values(kb, &names, &symbols, weighted)
            .await?;

        let globals = values.globals;
        let mut statistics = KbStatistics {
            total_unique_patterns: globals.total_unique_patterns,
            total_pattern_frequencies: globals.total_pattern_frequencies,
            distinct_symbols: globals.distinct_symbols,
            pattern_member_counts: HashMap::with_capacity(symbols.len()),
            symbol_frequencies: HashMap::new(),
            affinities: HashMap::new(),
        };
        for (symbol, stat) in symbols.iter().zip(&values.symbols) {
            if weighted {
                statistics
                    .symbol_frequencies
                    .insert((*symbol).to_owned(), stat.frequency);
            }
            statistics
                .pattern_member_counts
                .insert((*symbol).to_owned(), stat.pattern_member_count);
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
        let candidates = bodies
            .into_iter()
            .zip(values.summaries)
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
            .collect::<Result<_, KbError>>()?;
        Ok((candidates, statistics))
    }
}

fn candidate_body(body: kato_index::Body) -> CandidateBody {
    CandidateBody {
        name: body.name,
        pattern_data: body.events,
    }
}

/// A filter stage as the index applies it (the same set as its SQL form).
fn index_filter(filter: CandidateFilter, hasher: &MinHasher) -> Filter<'_> {
    match filter {
        CandidateFilter::Length { min, max } => Filter::Length { min, max },
        CandidateFilter::Jaccard {
            threshold,
            min_overlap,
            ..
        } => Filter::Jaccard {
            threshold,
            min_overlap,
        },
        CandidateFilter::MinHash {
            bands,
            signature,
            threshold,
        } => Filter::MinHash {
            hasher,
            signature,
            bands,
            threshold,
        },
        CandidateFilter::SharesToken { .. } => Filter::SharesToken,
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
    let base = CandidateBase::All;
    let tokens: Vec<String> = flat
        .iter()
        .map(|s| (*s).clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
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
                let bands = hasher.band_hashes(&signature)?;
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
