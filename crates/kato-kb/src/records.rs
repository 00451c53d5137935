//! What one learn writes to each store, derived once from the pattern.

use std::collections::BTreeMap;

use kato_clickhouse::{LearnLogRow, PatternRow, PatternWrite};
use kato_core::predict::keywise_means;
use kato_core::{CoreError, KbId, MinHasher, Pattern, PatternColumns};
use kato_redis::LearnUpdate;

/// The ClickHouse rows and the Redis update of one learn.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnRecords {
    /// Pattern row and learn-log row.
    pub write: PatternWrite,
    /// The atomic Redis update.
    pub update: LearnUpdate,
}

impl LearnRecords {
    /// Derives both records of learning `pattern` into `kb` with this learn's `emotives` (one
    /// map per observation), `metadata` (key, value-as-text) pairs and emotive window size.
    pub fn build(
        kb: &KbId,
        pattern: &Pattern,
        minhasher: &MinHasher,
        emotives: &[BTreeMap<String, f64>],
        metadata: Vec<(String, String)>,
        persistence: u32,
    ) -> Result<Self, CoreError> {
        let name = pattern.name().as_hex().to_owned();
        let columns = pattern.columns();
        let token_set: Vec<String> = columns.token_set().into_iter().map(str::to_owned).collect();
        let signature = minhasher.signature(token_set.iter().map(String::as_str));
        let lsh_bands = minhasher.band_hashes(&signature)?;
        let length = saturating_u32(columns.length);
        let update = learn_update(kb, &name, &columns, emotives, metadata, persistence);
        let write = PatternWrite {
            pattern: PatternRow {
                kb_id: kb.to_string(),
                name: name.clone(),
                pattern_data: pattern
                    .events()
                    .iter()
                    .map(|event| event.iter().map(|s| s.as_str().to_owned()).collect())
                    .collect(),
                length,
                token_count: saturating_u32(token_set.len()),
                token_set,
                minhash_sig: signature,
                lsh_bands,
                first_token: columns.first_token.to_owned(),
                last_token: columns.last_token.to_owned(),
            },
            learn: LearnLogRow {
                kb_id: kb.to_string(),
                seq: 0,
                name,
                emotives: update.emotives.clone(),
                metadata: update.metadata.clone(),
                persistence,
            },
        };
        Ok(Self { write, update })
    }

    /// Splits into the ClickHouse part and the Redis part.
    pub fn into_parts(self) -> (PatternWrite, LearnUpdate) {
        (self.write, self.update)
    }
}

/// The Redis update of learning the pattern `name` (with `columns`) into `kb`. A learn and a
/// replay of its learn-log row both come through here, so they produce the same update.
pub fn learn_update(
    kb: &KbId,
    name: &str,
    columns: &PatternColumns<'_>,
    emotives: &[BTreeMap<String, f64>],
    metadata: Vec<(String, String)>,
    persistence: u32,
) -> LearnUpdate {
    LearnUpdate {
        kb: kb.clone(),
        name: name.to_owned(),
        length: saturating_u32(columns.length),
        symbol_counts: columns
            .symbol_counts
            .iter()
            .map(|&(symbol, count)| (symbol.to_owned(), saturating_u32(count)))
            .collect(),
        emotives: emotives
            .iter()
            // A map of strings to finite floats always serialises.
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect(),
        emotive_means: keywise_means(emotives).into_iter().collect(),
        metadata,
        persistence,
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_taken_over_the_maps_that_have_the_key() {
        let maps: Vec<BTreeMap<String, f64>> = vec![
            [("joy".to_owned(), 1.0), ("fear".to_owned(), 0.5)].into(),
            [("joy".to_owned(), 0.0)].into(),
        ];
        assert_eq!(
            keywise_means(&maps).into_iter().collect::<Vec<_>>(),
            [("fear".to_owned(), 0.5), ("joy".to_owned(), 0.5)]
        );
        assert!(keywise_means(&[]).is_empty());
    }
}
