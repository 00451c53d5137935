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
        let nothing_can_match = match base {
            CandidateBase::SimilarityBound { symbol_counts, .. } => symbol_counts.is_empty(),
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
        self.bounded(query.fetch_all::<CandidateBody>()).await
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
