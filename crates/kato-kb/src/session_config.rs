//! Session configuration: every parameter of the reference's `SessionConfiguration` (spec
//! `api-and-storage.md` section 6.1) as an optional override, validated with the reference's
//! ranges, and resolved into the settings a prediction uses.
//!
//! Unlike the reference, every override takes effect (DESIGN.md section 8): `rank_sort_algo`
//! ranks, and an explicit 0 for a threshold means 0 instead of falling back to the default.

use kato_core::matching::MatchConfig;
use kato_core::minhash::{
    DEFAULT_BANDS, DEFAULT_PERMUTATIONS, DEFAULT_ROWS, MAX_PERMUTATIONS, MIN_PERMUTATIONS,
};
use kato_core::predict::{PredictConfig, RankSortAlgo};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{KbError, MAX_PERSISTENCE};

/// The MinHash scheme's numbers as the session keys' type.
const MINHASH_ROWS: u32 = DEFAULT_ROWS as u32;
const MINHASH_BANDS: u32 = DEFAULT_BANDS as u32;
const MINHASH_PERMUTATIONS: u32 = DEFAULT_PERMUTATIONS as u32;

/// A session's overrides; `None` means "use the default". Field names are the reference's, in
/// the reference's order; unset fields are left out of the JSON.
///
/// Reading ignores unknown keys, so state written by a newer version stays readable;
/// [`SessionConfig::updated`] ignores a client's unknown keys too, as the reference does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionConfig {
    /// Auto-learn threshold in events (0 = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pattern_length: Option<u64>,
    /// Emotive window kept per pattern, 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence: Option<u32>,
    /// Prediction similarity cut-off, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_threshold: Option<f64>,
    /// `CLEAR` or `ROLLING` (anything else is read as `CLEAR`, as in the reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stm_mode: Option<String>,
    /// Accepted for compatibility (`VI`, `LSH`, `ANNOY`, `FAISS`); it changes nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexer_type: Option<String>,
    /// 1..=10000; also bounds the 3x pre-pruning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_predictions: Option<u32>,
    /// Sort symbols within an event when observing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_symbols: Option<bool>,
    /// Compute predictions when observing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_predictions: Option<bool>,
    /// Token matching (true) or character matching (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_token_matching: Option<bool>,
    /// Fuzzy token matching threshold, 0..=1 (0 = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuzzy_token_threshold: Option<f64>,
    /// The ranking key, one of the reference's names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_sort_algo: Option<String>,
    /// Emotive that enables the affinity-weighted metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity_emotive: Option<String>,
    /// Candidate filter stages, in order: `length`, `jaccard`, `minhash`, `bloom`, `rapidfuzz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_pipeline: Option<Vec<String>>,
    /// Length filter lower ratio, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_min_ratio: Option<f64>,
    /// Length filter upper ratio, >= 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_max_ratio: Option<f64>,
    /// Jaccard filter threshold, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jaccard_threshold: Option<f64>,
    /// Jaccard filter minimum shared tokens, >= 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jaccard_min_overlap: Option<u32>,
    /// MinHash filter estimated-Jaccard threshold, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minhash_threshold: Option<f64>,
    /// LSH bands, 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minhash_bands: Option<u32>,
    /// LSH rows per band, 1..=20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minhash_rows: Option<u32>,
    /// MinHash permutations, 10..=256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minhash_num_hashes: Option<u32>,
    /// Accepted for compatibility, 0.0001..=0.1 (the `bloom` stage is exact here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bloom_false_positive_rate: Option<f64>,
    /// Accepted for compatibility, >= 100 (the reference only logs it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_candidates_per_stage: Option<u64>,
    /// Accepted for compatibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_filter_metrics: Option<bool>,
}

/// A stage of the candidate filter pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterStage {
    /// Pattern length within ratios of the STM's.
    Length,
    /// Token-set Jaccard and overlap.
    Jaccard,
    /// LSH buckets, then estimated Jaccard.
    Minhash,
    /// At least one shared token.
    Bloom,
    /// Similarity at least the recall threshold.
    Rapidfuzz,
}

impl FilterStage {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "length" => Self::Length,
            "jaccard" => Self::Jaccard,
            "minhash" => Self::Minhash,
            "bloom" => Self::Bloom,
            "rapidfuzz" => Self::Rapidfuzz,
            _ => return None,
        })
    }
}

/// Everything a prediction request uses, resolved from a [`SessionConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionSettings {
    /// Matching, ranking and weighting (kato-core's part).
    pub predict: PredictConfig,
    /// Candidate filter stages, in order.
    pub filter_pipeline: Vec<FilterStage>,
    /// Length filter lower ratio.
    pub length_min_ratio: f64,
    /// Length filter upper ratio.
    pub length_max_ratio: f64,
    /// Jaccard filter threshold.
    pub jaccard_threshold: f64,
    /// Jaccard filter minimum shared tokens.
    pub jaccard_min_overlap: u32,
    /// MinHash filter threshold.
    pub minhash_threshold: f64,
    /// LSH bands (already `num_hashes / rows` when `bands * rows != num_hashes`).
    pub minhash_bands: u32,
    /// LSH rows per band.
    pub minhash_rows: u32,
    /// MinHash permutations.
    pub minhash_num_hashes: u32,
}

impl Default for PredictionSettings {
    fn default() -> Self {
        SessionConfig::default()
            .prediction_settings()
            .expect("the defaults are valid")
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> KbError {
    KbError::InvalidInput {
        field,
        reason: reason.into(),
    }
}

fn check_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &'static str,
    value: Option<T>,
    low: T,
    high: Option<T>,
) -> Result<(), KbError> {
    let Some(value) = value else { return Ok(()) };
    let in_range = value >= low && high.is_none_or(|high| value <= high);
    if in_range {
        Ok(())
    } else {
        Err(invalid(
            field,
            match high {
                Some(high) => format!("{value} is outside {low}..={high}"),
                None => format!("{value} is below {low}"),
            },
        ))
    }
}

impl SessionConfig {
    /// Every key, in the reference's order.
    pub const KEYS: [&'static str; 24] = [
        "max_pattern_length",
        "persistence",
        "recall_threshold",
        "stm_mode",
        "indexer_type",
        "max_predictions",
        "sort_symbols",
        "process_predictions",
        "use_token_matching",
        "fuzzy_token_threshold",
        "rank_sort_algo",
        "affinity_emotive",
        "filter_pipeline",
        "length_min_ratio",
        "length_max_ratio",
        "jaccard_threshold",
        "jaccard_min_overlap",
        "minhash_threshold",
        "minhash_bands",
        "minhash_rows",
        "minhash_num_hashes",
        "bloom_false_positive_rate",
        "max_candidates_per_stage",
        "enable_filter_metrics",
    ];

    /// Checks every override against the reference's ranges; the error names the field.
    pub fn validate(&self) -> Result<(), KbError> {
        check_range("persistence", self.persistence, 1, Some(MAX_PERSISTENCE))?;
        check_range("recall_threshold", self.recall_threshold, 0.0, Some(1.0))?;
        check_range("max_predictions", self.max_predictions, 1, Some(10_000))?;
        check_range(
            "fuzzy_token_threshold",
            self.fuzzy_token_threshold,
            0.0,
            Some(1.0),
        )?;
        check_range("length_min_ratio", self.length_min_ratio, 0.0, Some(1.0))?;
        check_range("length_max_ratio", self.length_max_ratio, 1.0, None)?;
        check_range("jaccard_threshold", self.jaccard_threshold, 0.0, Some(1.0))?;
        check_range("jaccard_min_overlap", self.jaccard_min_overlap, 1, None)?;
        check_range("minhash_threshold", self.minhash_threshold, 0.0, Some(1.0))?;
        check_range("minhash_bands", self.minhash_bands, 1, Some(100))?;
        check_range("minhash_rows", self.minhash_rows, 1, Some(20))?;
        check_range(
            "minhash_num_hashes",
            self.minhash_num_hashes,
            MIN_PERMUTATIONS as u32,
            Some(MAX_PERMUTATIONS as u32),
        )?;
        let rows = self.minhash_rows.unwrap_or(MINHASH_ROWS);
        let num_hashes = self.minhash_num_hashes.unwrap_or(MINHASH_PERMUTATIONS);
        if rows > num_hashes {
            return Err(invalid(
                "minhash_rows",
                format!("{rows} rows per band do not fit {num_hashes} permutations"),
            ));
        }
        check_range(
            "bloom_false_positive_rate",
            self.bloom_false_positive_rate,
            0.0001,
            Some(0.1),
        )?;
        check_range(
            "max_candidates_per_stage",
            self.max_candidates_per_stage,
            100,
            None,
        )?;
        if let Some(indexer) = &self.indexer_type
            && !["VI", "LSH", "ANNOY", "FAISS"].contains(&indexer.as_str())
        {
            return Err(invalid(
                "indexer_type",
                format!("{indexer:?} is not one of VI, LSH, ANNOY, FAISS"),
            ));
        }
        if let Some(algo) = &self.rank_sort_algo {
            algo.parse::<RankSortAlgo>()
                .map_err(|_| invalid("rank_sort_algo", format!("{algo:?} is not a ranking key")))?;
        }
        for stage in self.filter_pipeline.iter().flatten() {
            if FilterStage::parse(stage).is_none() {
                return Err(invalid(
                    "filter_pipeline",
                    format!("{stage:?} is not one of length, jaccard, minhash, bloom, rapidfuzz"),
                ));
            }
        }
        Ok(())
    }

    /// The reference's defaults of the filter-pipeline keys (hard-coded in its
    /// `ConfigurationService`), every other key unset.
    pub fn reference_filter_defaults() -> Self {
        Self {
            filter_pipeline: Some(Vec::new()),
            length_min_ratio: Some(0.5),
            length_max_ratio: Some(2.0),
            jaccard_threshold: Some(0.3),
            jaccard_min_overlap: Some(2),
            minhash_threshold: Some(0.7),
            minhash_bands: Some(MINHASH_BANDS),
            minhash_rows: Some(MINHASH_ROWS),
            minhash_num_hashes: Some(MINHASH_PERMUTATIONS),
            bloom_false_positive_rate: Some(0.01),
            max_candidates_per_stage: Some(100_000),
            enable_filter_metrics: Some(true),
            ..Self::default()
        }
    }

    /// These overrides changed by `changes` (a JSON object of the reference's keys), or every
    /// problem found, keyed by the key it concerns. A `null` value removes the override; an
    /// unknown `stm_mode` becomes `CLEAR`, as in the reference. Keys that are none of
    /// [`Self::KEYS`] are ignored, as the reference ignores them (DESIGN.md section 8, revised);
    /// a known key with a bad value is an error. The result is checked as a whole too (MinHash
    /// rows must fit the permutations).
    ///
    /// Unlike the reference, `use_token_matching` does not also set `sort_symbols`: the
    /// reference's observe ignores the session's `sort_symbols`, so its toggle never changes
    /// pattern names; here observe honours it, and the toggle would.
    pub fn updated(&self, changes: &Map<String, Value>) -> Result<Self, BTreeMap<String, String>> {
        let Ok(Value::Object(mut merged)) = serde_json::to_value(self) else {
            unreachable!("a SessionConfig serializes to a JSON object");
        };
        let mut errors = BTreeMap::new();
        for (key, value) in changes {
            if !Self::KEYS.contains(&key.as_str()) {
                continue;
            }
            let mut value = value.clone();
            if key == "stm_mode"
                && let Value::String(mode) = &value
                && mode != "ROLLING"
            {
                value = Value::String("CLEAR".to_owned());
            }
            let single = Map::from_iter([(key.clone(), value.clone())]);
            let checked = serde_json::from_value::<SessionConfig>(Value::Object(single))
                .map_err(|e| e.to_string())
                .and_then(|one| match one.validate() {
                    Ok(()) => Ok(()),
                    Err(KbError::InvalidInput { reason, .. }) => Err(reason),
                    Err(other) => Err(other.to_string()),
                });
            match checked {
                Err(reason) => {
                    errors.insert(key.clone(), reason);
                }
                Ok(()) if value.is_null() => {
                    merged.remove(key);
                }
                Ok(()) => {
                    merged.insert(key.clone(), value);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let updated: SessionConfig = serde_json::from_value(Value::Object(merged))
            .map_err(|e| BTreeMap::from([("config".to_owned(), e.to_string())]))?;
        match updated.validate() {
            Ok(()) => Ok(updated),
            Err(KbError::InvalidInput { field, reason }) => {
                Err(BTreeMap::from([(field.to_owned(), reason)]))
            }
            Err(other) => Err(BTreeMap::from([("config".to_owned(), other.to_string())])),
        }
    }

    /// These overrides where set, `defaults` elsewhere (e.g. a session's over the server's).
    pub fn merged_over(&self, defaults: &SessionConfig) -> SessionConfig {
        macro_rules! pick {
            ($($field:ident),* $(,)?) => {
                SessionConfig { $($field: self.$field.clone().or_else(|| defaults.$field.clone())),* }
            };
        }
        pick!(
            max_pattern_length,
            persistence,
            recall_threshold,
            stm_mode,
            indexer_type,
            max_predictions,
            sort_symbols,
            process_predictions,
            use_token_matching,
            fuzzy_token_threshold,
            rank_sort_algo,
            affinity_emotive,
            filter_pipeline,
            length_min_ratio,
            length_max_ratio,
            jaccard_threshold,
            jaccard_min_overlap,
            minhash_threshold,
            minhash_bands,
            minhash_rows,
            minhash_num_hashes,
            bloom_false_positive_rate,
            max_candidates_per_stage,
            enable_filter_metrics,
        )
    }

    /// Validates, then resolves every prediction parameter (the reference's defaults where
    /// nothing is set).
    pub fn prediction_settings(&self) -> Result<PredictionSettings, KbError> {
        self.validate()?;
        let rank_sort_algo = match &self.rank_sort_algo {
            Some(algo) => algo
                .parse::<RankSortAlgo>()
                .map_err(|_| invalid("rank_sort_algo", format!("{algo:?} is not a ranking key")))?,
            None => RankSortAlgo::default(),
        };
        let filter_pipeline = self
            .filter_pipeline
            .iter()
            .flatten()
            .filter_map(|stage| FilterStage::parse(stage))
            .collect();
        let minhash_rows = self.minhash_rows.unwrap_or(MINHASH_ROWS);
        let minhash_num_hashes = self.minhash_num_hashes.unwrap_or(MINHASH_PERMUTATIONS);
        let mut minhash_bands = self.minhash_bands.unwrap_or(MINHASH_BANDS);
        if minhash_bands * minhash_rows != minhash_num_hashes {
            minhash_bands = minhash_num_hashes / minhash_rows;
        }
        Ok(PredictionSettings {
            predict: PredictConfig {
                matching: MatchConfig {
                    recall_threshold: self.recall_threshold.unwrap_or(0.1),
                    use_token_matching: self.use_token_matching.unwrap_or(true),
                    fuzzy_token_threshold: self.fuzzy_token_threshold.unwrap_or(0.0),
                },
                max_predictions: self.max_predictions.unwrap_or(100) as usize,
                rank_sort_algo,
                affinity_emotive: self.affinity_emotive.clone(),
            },
            filter_pipeline,
            length_min_ratio: self.length_min_ratio.unwrap_or(0.5),
            length_max_ratio: self.length_max_ratio.unwrap_or(2.0),
            jaccard_threshold: self.jaccard_threshold.unwrap_or(0.3),
            jaccard_min_overlap: self.jaccard_min_overlap.unwrap_or(2),
            minhash_threshold: self.minhash_threshold.unwrap_or(0.7),
            minhash_bands,
            minhash_rows,
            minhash_num_hashes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_defaults() {
        let settings = PredictionSettings::default();
        assert_eq!(settings.predict.matching.recall_threshold, 0.1);
        assert_eq!(settings.predict.max_predictions, 100);
        assert!(settings.predict.matching.use_token_matching);
        assert_eq!(settings.predict.rank_sort_algo, RankSortAlgo::Potential);
        assert!(settings.filter_pipeline.is_empty());
        assert_eq!(
            (
                settings.minhash_bands,
                settings.minhash_rows,
                settings.minhash_num_hashes
            ),
            (20, 5, 100)
        );
    }

    fn object(value: serde_json::Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("{other} is not an object"),
        }
    }

    #[test]
    fn updates_set_clear_and_normalise() {
        let config = SessionConfig {
            recall_threshold: Some(0.3),
            ..SessionConfig::default()
        };
        let updated = config
            .updated(&object(serde_json::json!({
                "max_predictions": 7,
                "recall_threshold": null,
                "stm_mode": "SOMETHING",
                "use_token_matching": false,
                "session_id": "ignored",
                "sort": true,
            })))
            .unwrap();
        assert_eq!(updated.max_predictions, Some(7));
        assert_eq!(updated.recall_threshold, None);
        assert_eq!(updated.stm_mode.as_deref(), Some("CLEAR"));
        assert_eq!(updated.use_token_matching, Some(false));
        assert_eq!(
            updated.sort_symbols, None,
            "use_token_matching leaves sort_symbols alone"
        );
    }

    #[test]
    fn update_errors_name_every_bad_key() {
        let errors = SessionConfig::default()
            .updated(&object(serde_json::json!({
                "recall_threshold": 5,
                "max_predictions": "many",
                "bogus": 1,
                "persistence": 3,
            })))
            .unwrap_err();
        assert_eq!(
            errors.keys().map(String::as_str).collect::<Vec<_>>(),
            ["max_predictions", "recall_threshold"]
        );
        assert!(errors["recall_threshold"].contains("outside"), "{errors:?}");
    }

    #[test]
    fn unknown_keys_are_ignored_and_known_ones_apply() {
        let updated = SessionConfig::default()
            .updated(&object(serde_json::json!({
                "bogus": 1,
                "sort": false,
                "session_id": "x",
                "recall_threshold": 0.4,
                "nested": {"max_predictions": 0},
                "max_predictions": 7,
            })))
            .unwrap();
        assert_eq!(updated.recall_threshold, Some(0.4));
        assert_eq!(updated.max_predictions, Some(7));
        assert_eq!(
            updated,
            SessionConfig {
                recall_threshold: Some(0.4),
                max_predictions: Some(7),
                ..SessionConfig::default()
            }
        );
    }

    #[test]
    fn an_update_is_checked_as_a_whole() {
        let errors = SessionConfig::default()
            .updated(&object(serde_json::json!({
                "minhash_rows": 20,
                "minhash_num_hashes": 10,
            })))
            .unwrap_err();
        assert!(errors.contains_key("minhash_rows"), "{errors:?}");
    }

    #[test]
    fn keys_are_every_field_in_order() {
        let full = SessionConfig {
            fuzzy_token_threshold: Some(0.5),
            affinity_emotive: Some("joy".to_owned()),
            ..SessionConfig::reference_filter_defaults().merged_over(&SessionConfig {
                max_pattern_length: Some(0),
                persistence: Some(5),
                recall_threshold: Some(0.1),
                stm_mode: Some("CLEAR".to_owned()),
                indexer_type: Some("VI".to_owned()),
                max_predictions: Some(100),
                sort_symbols: Some(true),
                process_predictions: Some(true),
                use_token_matching: Some(true),
                rank_sort_algo: Some("potential".to_owned()),
                ..SessionConfig::default()
            })
        };
        let Value::Object(map) = serde_json::to_value(&full).unwrap() else {
            panic!("a config serializes to an object");
        };
        assert_eq!(
            map.keys().map(String::as_str).collect::<Vec<_>>(),
            SessionConfig::KEYS
        );
    }

    #[test]
    fn stored_configs_with_unknown_keys_still_read() {
        let config: SessionConfig =
            serde_json::from_str(r#"{"max_predictions": 3, "added_later": true}"#).unwrap();
        assert_eq!(config.max_predictions, Some(3));
    }

    #[test]
    fn unset_fields_are_left_out_of_the_json() {
        let config = SessionConfig {
            max_predictions: Some(3),
            ..SessionConfig::default()
        };
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"max_predictions":3}"#
        );
    }

    #[test]
    fn an_explicit_zero_means_zero() {
        let config = SessionConfig {
            recall_threshold: Some(0.0),
            jaccard_threshold: Some(0.0),
            minhash_threshold: Some(0.0),
            ..SessionConfig::default()
        };
        let settings = config.prediction_settings().unwrap();
        assert_eq!(settings.predict.matching.recall_threshold, 0.0);
        assert_eq!(settings.jaccard_threshold, 0.0);
        assert_eq!(settings.minhash_threshold, 0.0);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let cases = [
            SessionConfig {
                recall_threshold: Some(1.5),
                ..SessionConfig::default()
            },
            SessionConfig {
                max_predictions: Some(0),
                ..SessionConfig::default()
            },
            SessionConfig {
                rank_sort_algo: Some("hamiltonian".into()),
                ..SessionConfig::default()
            },
            SessionConfig {
                filter_pipeline: Some(vec!["length".into(), "faiss".into()]),
                ..SessionConfig::default()
            },
            SessionConfig {
                minhash_num_hashes: Some(300),
                ..SessionConfig::default()
            },
        ];
        let fields = [
            "recall_threshold",
            "max_predictions",
            "rank_sort_algo",
            "filter_pipeline",
            "minhash_num_hashes",
        ];
        for (config, field) in cases.iter().zip(fields) {
            let err = config.validate().unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn inconsistent_bands_follow_the_reference() {
        let config = SessionConfig {
            minhash_bands: Some(30),
            ..SessionConfig::default()
        };
        assert_eq!(config.prediction_settings().unwrap().minhash_bands, 20);
    }

    #[test]
    fn a_session_override_wins_over_the_defaults() {
        let defaults = SessionConfig {
            recall_threshold: Some(0.3),
            max_predictions: Some(7),
            ..SessionConfig::default()
        };
        let session = SessionConfig {
            recall_threshold: Some(0.5),
            ..SessionConfig::default()
        };
        let merged = session.merged_over(&defaults);
        assert_eq!(merged.recall_threshold, Some(0.5));
        assert_eq!(merged.max_predictions, Some(7));
    }
}
