//! Reads of pattern bodies from `patterns_data`: streaming a whole kb and fetching bodies by
//! name (what a resident index is built and kept current from), and the candidate queries
//! with the reference's filter stages pushed into SQL.

use std::time::Duration;

use clickhouse::Row;
use clickhouse::query::RowCursor;
use kato_core::KbId;
use serde::Deserialize;

use crate::writer::within;
use crate::{ClickHouseError, ClickHouseStore};

/// Most names bound into one query of [`ClickHouseStore::bodies_by_names`]: a bound array is
/// query text, and 2,048 names (~90 KB) stay well inside ClickHouse's `max_query_size`
/// (256 KiB by default).
pub(crate) const NAMES_PER_QUERY: usize = 2048;

/// A pattern's body.
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
    /// The patterns whose first symbol is this one (the single-symbol path).
    FirstToken(String),
}

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
    /// LSH: the pattern shares a band with the STM (at some band index `i`, the pattern's
    /// `lsh_bands[i]` equals `bands[i]`; a band at another index never matches, and when the
    /// two have different numbers of bands only the indexes both have are compared), then the
    /// estimated Jaccard of the signatures is at least `threshold`.
    MinHash {
        /// The STM's band hashes in band-index order (band `i` at index `i`, as
        /// `PatternRow::lsh_bands` stores them).
        bands: Vec<u64>,
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

/// Every body of one kb as ClickHouse sends it ([`ClickHouseStore::stream_bodies`]).
pub type BodyStream = RowStream<CandidateBody>;

/// The rows of a query as ClickHouse sends them, read one at a time without holding the whole
/// result.
///
/// Each [`RowStream::next`] gives up after the store's timeout. After an error the stream is
/// abandoned: a further `next` fails with [`ClickHouseError::StreamFailed`].
pub struct RowStream<T> {
    /// `None` once the stream ended or failed.
    cursor: Option<RowCursor<T>>,
    failed: bool,
    timeout: Duration,
}

impl<T> RowStream<T> {
    pub(crate) fn new(cursor: RowCursor<T>, timeout: Duration) -> Self {
        Self {
            cursor: Some(cursor),
            failed: false,
            timeout,
        }
    }
}

impl<T> std::fmt::Debug for RowStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("open", &self.cursor.is_some())
            .field("failed", &self.failed)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<T: clickhouse::RowOwned + clickhouse::RowRead> RowStream<T> {
    /// The next row, or `None` once every row was read (and on every call after that).
    ///
    /// Fails with [`ClickHouseError::Timeout`] when ClickHouse sends nothing for the store's
    /// timeout (the timeout applies to this call, not to the whole stream).
    pub async fn next(&mut self) -> Result<Option<T>, ClickHouseError> {
        let Some(cursor) = self.cursor.as_mut() else {
            return if self.failed {
                Err(ClickHouseError::StreamFailed)
            } else {
                Ok(None)
            };
        };
        match within(self.timeout, cursor.next()).await {
            Ok(Some(body)) => Ok(Some(body)),
            Ok(None) => {
                self.cursor = None;
                Ok(None)
            }
            Err(error) => {
                self.cursor = None;
                self.failed = true;
                Err(error)
            }
        }
    }
}

impl ClickHouseStore {
    /// Streams every pattern body of `kb`, in no particular order, for loading a resident
    /// index: the rows are read as ClickHouse sends them, never gathered into one result.
    ///
    /// Until ReplacingMergeTree merges them, a pattern inserted more than once comes as many
    /// times (with the same body): callers dedupe by name. (Deduping here would make
    /// ClickHouse sort or hash the whole kb before sending the first row.)
    pub fn stream_bodies(&self, kb: &KbId) -> Result<BodyStream, ClickHouseError> {
        let cursor = self
            .client()
            .query("SELECT name, pattern_data FROM patterns_data WHERE kb_id = ?")
            .bind(kb.as_str())
            .fetch::<CandidateBody>()?;
        Ok(RowStream::new(cursor, self.timeout()))
    }

    /// The bodies of `kb`'s patterns named in `names` (bare 40-hex names), one per name that
    /// exists, sorted by name; names without a body are left out and repeated names count
    /// once.
    ///
    /// Long lists go as several queries of at most 2,048 names each (a bound array is query
    /// text); each query gives up after the store's timeout.
    pub async fn bodies_by_names(
        &self,
        kb: &KbId,
        names: &[String],
    ) -> Result<Vec<CandidateBody>, ClickHouseError> {
        let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let mut bodies = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_QUERY) {
            let found = self
                .bounded(
                    self.client()
                        .query(
                            "SELECT name, pattern_data FROM patterns_data \
                             WHERE kb_id = ? AND name IN ? ORDER BY name LIMIT 1 BY name",
                        )
                        .bind(kb.as_str())
                        .bind(chunk)
                        .fetch_all::<CandidateBody>(),
                )
                .await?;
            bodies.extend(found);
        }
        Ok(bodies)
    }

    /// The bodies of `kb`'s patterns in `base` that pass every filter, one per name, sorted by
    /// name.
    pub async fn candidates(
        &self,
        kb: &KbId,
        base: &CandidateBase,
        filters: &[CandidateFilter],
    ) -> Result<Vec<CandidateBody>, ClickHouseError> {
        let nothing_can_match = filters.iter().any(|filter| match filter {
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
                // Both slices have min(pattern bands, STM bands) elements, so arrayExists
                // compares band i with band i over the indexes both have and never sees two
                // arrays of different lengths (which it refuses).
                CandidateFilter::MinHash { .. } => {
                    " AND arrayExists((x, y) -> x = y, \
                         arraySlice(lsh_bands, 1, ?), arraySlice(?, 1, length(lsh_bands))) \
                     AND arrayCount((x, y) -> x = y, minhash_sig, ?) / ? >= ?"
                }
                CandidateFilter::SharesToken { .. } => " AND hasAny(token_set, ?)",
            });
        }
        sql.push_str(" ORDER BY name LIMIT 1 BY name");

        let mut query = self.client().query(&sql).bind(kb.as_str());
        match base {
            CandidateBase::All => {}
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
                    .bind(bands.len() as u64)
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
