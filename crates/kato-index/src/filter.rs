//! The reference's `filter_pipeline` stages over the index: set filters, so they intersect and
//! their order cannot change the result. Each equals the stage's ClickHouse form over the
//! stored columns (kato-clickhouse's `CandidateFilter`), which `predict_exhaustive` reads.

use kato_core::MinHasher;

/// One stage, with the STM's side already computed where it needs one.
#[derive(Debug, Clone)]
pub enum Filter<'a> {
    /// `min <= length <= max`.
    Length {
        /// Shortest length kept.
        min: u32,
        /// Longest length kept.
        max: u32,
    },
    /// At least `min_overlap` shared distinct tokens and a Jaccard of the token sets of at
    /// least `threshold`.
    Jaccard {
        /// Minimum Jaccard.
        threshold: f64,
        /// Minimum shared distinct tokens.
        min_overlap: u32,
    },
    /// LSH: shares a band with the STM (same band index, same hash), then the estimated
    /// Jaccard of the signatures (equal positions over the signature length) is at least
    /// `threshold`. Signatures are those `hasher` gives the pattern's token set, as stored.
    MinHash {
        /// The kb's MinHash scheme.
        hasher: &'a MinHasher,
        /// The STM's signature.
        signature: Vec<u32>,
        /// The STM's band hashes, by band index.
        bands: Vec<u64>,
        /// Minimum estimated Jaccard.
        threshold: f64,
    },
    /// Shares at least one token with the STM (the `bloom` stage).
    SharesToken,
}

/// What a filter needs to know of one pattern, computed on demand.
#[derive(Debug)]
pub(crate) struct PatternFacts<'p> {
    pub(crate) length: u32,
    /// The pattern's distinct symbols, as strings.
    pub(crate) token_set: &'p [&'p str],
    /// How many of them the STM holds.
    pub(crate) shared: u32,
    /// The STM's distinct tokens (the kb may lack some).
    pub(crate) stm_tokens: u32,
}

impl Filter<'_> {
    /// Whether the pattern passes this stage.
    pub(crate) fn keeps(&self, facts: &PatternFacts<'_>) -> bool {
        match self {
            Self::Length { min, max } => (*min..=*max).contains(&facts.length),
            Self::Jaccard {
                threshold,
                min_overlap,
            } => {
                let union = facts.token_set.len() as u32 + facts.stm_tokens - facts.shared;
                facts.shared >= *min_overlap
                    && f64::from(facts.shared) / f64::from(union.max(1)) >= *threshold
            }
            Self::MinHash {
                hasher,
                signature,
                bands,
                threshold,
            } => {
                let stored = hasher.signature(facts.token_set.iter().copied());
                let Ok(stored_bands) = hasher.band_hashes(&stored) else {
                    return false;
                };
                let shares_band = stored_bands.iter().zip(bands).any(|(a, b)| a == b);
                let equal = stored.iter().zip(signature).filter(|(a, b)| a == b).count();
                shares_band && equal as f64 / signature.len().max(1) as f64 >= *threshold
            }
            Self::SharesToken => facts.shared > 0,
        }
    }

    /// Whether the stage needs the pattern's token set (the others read counts only).
    pub(crate) fn needs_tokens(&self) -> bool {
        matches!(self, Self::MinHash { .. })
    }
}
