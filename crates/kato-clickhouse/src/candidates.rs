//! Candidate retrieval for predictions: which pattern bodies of a kb can match an STM, found by
//! indexed reads (`symbol_index`, `lsh_buckets`, the `patterns_data` sort key) and never by
//! loading the whole kb unless the request asks for every pattern.

use clickhouse::Row;
use kato_core::KbId;
use serde::Deserialize;

use crate::{ClickHouseError, ClickHouseStore};

/// How far the SQL similarity bound is relaxed below the threshold: the bound is computed in
/// floating point by ClickHouse, the exact check happens afterwards in kato-core, so a hair of
/// slack only admits a candidate that kato-core then drops, never loses one.
const BOUND_SLACK: f64 = 1e-9;

/// Names bound into one query: 43 bytes each as SQL text, well under ClickHouse's default
/// 256 KiB `max_query_size`.
const NAMES_PER_QUERY: usize = 4_000;

/// A candidate's body.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct CandidateBody {
    /// The bare 40-hex name.
    pub name: String,
    /// The events as learned.
    pub pattern_data: Vec<Vec<String>>,
}

/// The set candidates start from.
#[derive(Debug, Clone, PartialEq)]
pub enum CandidateBase {
    /// Every pattern of the kb (a read of the kb's whole partition).
    All,
    /// The patterns whose similarity upper bound `2 * sum_s min(count_P(s), count_S(s)) /
    /// (|P| + |S|)` reaches `threshold`: one range read of `symbol_index` per STM symbol. Any
    /// pattern outside it has a token-mode similarity below `threshold`.
    SimilarityBound {
        /// (symbol, count in the STM) for each distinct STM symbol.
        symbol_counts: Vec<(String, u32)>,
        /// `|S|`: STM symbols with duplicates.
        stm_length: u32,
        /// The recall threshold (> 0).
        threshold: f64,
    },
    /// The patterns whose first symbol is this one (the single-symbol path).
    FirstToken(String),
    /// The named patterns (bare 40-hex names).
    Names(Vec<String>),
}

/// A pattern that passes the similarity bound, with what the bound was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct BoundedCandidate {
    /// The bare 40-hex name.
    pub name: String,
    /// `sum_s min(count_P(s), count_S(s))` over the STM's symbols.
    pub overlap: u32,
    /// `|P|`.
    pub pattern_length: u32,
}

/// The symbol-index aggregation: per pattern sharing a symbol with the STM, the multiset
/// overlap and its length. Placeholders: symbols, counts, kb, symbols. Duplicate index rows
/// (before a merge) collapse in the inner grouping.
const OVERLAP_SQL: &str = "SELECT lower(hex(name)) AS name, \
        toUInt32(sum(least(c, transform(symbol, ?, ?, 0)))) AS overlap, \
        any(l) AS pattern_length \
    FROM (SELECT name, symbol, any(count) AS c, any(length) AS l FROM symbol_index \
        WHERE kb_id = ? AND symbol IN ? GROUP BY name, symbol) \
    GROUP BY name";

/// A set filter of the reference's `filter_pipeline`, pushed into SQL. Filters intersect, so
/// their order changes the work, never the result.
#[derive(Debug, Clone, PartialEq)]
pub enum CandidateFilter {
    /// `length BETWEEN min AND max` (inclusive).
    Length {
        /// Shortest length kept.
        min: u32,
        /// Longest length kept.
        max: u32,
    },
    /// Shared distinct tokens at least `min_overlap` and Jaccard at least `threshold`.
    Jaccard {
        /// The distinct STM tokens.
        tokens: Vec<String>,
        /// Minimum Jaccard of the token sets.
        threshold: f64,
        /// Minimum number of shared distinct tokens.
        min_overlap: u32,
    },
    /// LSH: shares a band with the STM (band index and hash both equal, via `lsh_buckets`),
    /// then the estimated Jaccard of the signatures is at least `threshold`.
    MinHash {
        /// (band index, band hash) of the STM signature.
        bands: Vec<(u8, u64)>,
        /// The STM signature (same scheme as the stored ones).
        signature: Vec<u32>,
        /// Minimum fraction of equal signature positions.
        threshold: f64,
    },
    /// Shares at least one token with the STM (the reference's `bloom` stage, made to work).
    SharesToken {
        /// The distinct STM tokens.
        tokens: Vec<String>,
    },
}

impl ClickHouseStore {
    /// The bodies of `kb`'s patterns in `base` that pass every filter, one per name, sorted by
    /// name.
    pub async fn candidates(
        &self,
        kb: &KbId,
        base: &CandidateBase,
        filters: &[CandidateFilter],
    ) -> Result<Vec<CandidateBody>, ClickHouseError> {
        let CandidateBase::Names(names) = base else {
            return self.candidates_in_one_query(kb, base, filters).await;
        };
        // Names are bound into the query text, which ClickHouse caps (`max_query_size`).
        let mut bodies = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_QUERY) {
            let chunk = CandidateBase::Names(chunk.to_vec());
            bodies.extend(self.candidates_in_one_query(kb, &chunk, filters).await?);
        }
        bodies.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(bodies)
    }

    async fn candidates_in_one_query(
        &self,
        kb: &KbId,
        base: &CandidateBase,
        filters: &[CandidateFilter],
    ) -> Result<Vec<CandidateBody>, ClickHouseError> {
        let nothing_can_match = match base {
            CandidateBase::SimilarityBound { symbol_counts, .. } => symbol_counts.is_empty(),
            CandidateBase::Names(names) => names.is_empty(),
            CandidateBase::All | CandidateBase::FirstToken(_) => false,
        } || filters.iter().any(|filter| match filter {
            CandidateFilter::Jaccard { tokens, .. } | CandidateFilter::SharesToken { tokens } => {
                tokens.is_empty()
            }
            CandidateFilter::MinHash { bands, .. } => bands.is_empty(),
            CandidateFilter::Length { min, max } => min > max,
        });
        if nothing_can_match {
            return Ok(Vec::new());
        }
        let mut sql = String::from("SELECT name, pattern_data FROM patterns_data WHERE kb_id = ?");
        match base {
            CandidateBase::All => {}
            CandidateBase::SimilarityBound { .. } => {
                sql.push_str(" AND name IN (SELECT name FROM (");
                sql.push_str(OVERLAP_SQL);
                sql.push_str(" HAVING 2 * overlap >= ? * (pattern_length + ?)))");
            }
            CandidateBase::FirstToken(_) => sql.push_str(" AND first_token = ?"),
            CandidateBase::Names(_) => sql.push_str(" AND name IN ?"),
        }
        for filter in filters {
            sql.push_str(match filter {
                CandidateFilter::Length { .. } => " AND length BETWEEN ? AND ?",
                CandidateFilter::Jaccard { .. } => {
                    " AND length(arrayIntersect(token_set, ?)) >= ? \
                     AND length(arrayIntersect(token_set, ?)) / \
                         length(arrayDistinct(arrayConcat(token_set, ?))) >= ?"
                }
                CandidateFilter::MinHash { .. } => {
                    " AND name IN (SELECT lower(hex(name)) FROM lsh_buckets \
                        WHERE kb_id = ? AND (band_index, band_hash) IN ?) \
                     AND arrayCount((x, y) -> x = y, minhash_sig, ?) / ? >= ?"
                }
                CandidateFilter::SharesToken { .. } => " AND hasAny(token_set, ?)",
            });
        }
        sql.push_str(" ORDER BY name LIMIT 1 BY name");

        let mut query = self.client().query(&sql).bind(kb.as_str());
        match base {
            CandidateBase::All => {}
            CandidateBase::SimilarityBound {
                symbol_counts,
                stm_length,
                threshold,
            } => {
                query = bind_overlap(query, kb, symbol_counts)
                    .bind(threshold - BOUND_SLACK)
                    .bind(*stm_length);
            }
            CandidateBase::FirstToken(symbol) => query = query.bind(symbol.as_str()),
            CandidateBase::Names(names) => query = query.bind(names),
        }
        for filter in filters {
            query = match filter {
                CandidateFilter::Length { min, max } => query.bind(*min).bind(*max),
                CandidateFilter::Jaccard {
                    tokens,
                    threshold,
                    min_overlap,
                } => query
                    .bind(tokens)
                    .bind(*min_overlap)
                    .bind(tokens)
                    .bind(tokens)
                    .bind(*threshold),
                CandidateFilter::MinHash {
                    bands,
                    signature,
                    threshold,
                } => query
                    .bind(kb.as_str())
                    .bind(bands)
                    .bind(signature)
                    .bind(signature.len().max(1) as f64)
                    .bind(*threshold),
                CandidateFilter::SharesToken { tokens } => query.bind(tokens),
            };
        }
        Ok(query.fetch_all::<CandidateBody>().await?)
    }
}

fn bind_overlap(
    query: clickhouse::query::Query,
    kb: &KbId,
    symbol_counts: &[(String, u32)],
) -> clickhouse::query::Query {
    let symbols: Vec<&str> = symbol_counts.iter().map(|(s, _)| s.as_str()).collect();
    let counts: Vec<u32> = symbol_counts.iter().map(|(_, c)| *c).collect();
    query
        .bind(&symbols)
        .bind(counts)
        .bind(kb.as_str())
        .bind(&symbols)
}

impl ClickHouseStore {
    /// The patterns of `kb` whose similarity bound with the STM reaches `threshold` (see
    /// [`CandidateBase::SimilarityBound`]), without their bodies: name, overlap and length,
    /// sorted by name. What a caller needs to score candidates in decreasing order of a bound
    /// and stop early.
    pub async fn similarity_bounded(
        &self,
        kb: &KbId,
        symbol_counts: &[(String, u32)],
        stm_length: u32,
        threshold: f64,
    ) -> Result<Vec<BoundedCandidate>, ClickHouseError> {
        if symbol_counts.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!("{OVERLAP_SQL} HAVING 2 * overlap >= ? * (pattern_length + ?) ORDER BY name");
        let query = bind_overlap(self.client().query(&sql), kb, symbol_counts)
            .bind(threshold - BOUND_SLACK)
            .bind(stm_length);
        Ok(query.fetch_all::<BoundedCandidate>().await?)
    }
}
