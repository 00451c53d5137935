//! The obviously correct path: every pattern matched with kato-core's `match_pattern`, every
//! filter stage written out from its definition over the pattern's strings.

use std::collections::BTreeSet;

use kato_core::MinHasher;
use kato_core::matching::{MatchConfig, match_pattern};
use kato_core::predict::{pre_potential_of, pruning_order};

/// A filter stage by its definition.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    Length { min: u32, max: u32 },
    Jaccard { threshold: f64, min_overlap: u32 },
    MinHash { threshold: f64 },
    SharesToken,
}

pub(crate) fn keeps(
    stage: &Stage,
    pattern: &[Vec<String>],
    stm: &[Vec<String>],
    hasher: &MinHasher,
) -> bool {
    let tokens: BTreeSet<&str> = pattern.iter().flatten().map(String::as_str).collect();
    let stm_tokens: BTreeSet<&str> = stm.iter().flatten().map(String::as_str).collect();
    let shared = tokens.intersection(&stm_tokens).count();
    match stage {
        Stage::Length { min, max } => {
            let length = pattern.iter().map(Vec::len).sum::<usize>() as u32;
            *min <= length && length <= *max
        }
        Stage::Jaccard {
            threshold,
            min_overlap,
        } => {
            let union = tokens.union(&stm_tokens).count();
            shared as u32 >= *min_overlap && shared as f64 / union as f64 >= *threshold
        }
        Stage::MinHash { threshold } => {
            let a = hasher.signature(tokens.iter().copied());
            let b = hasher.signature(stm_tokens.iter().copied());
            let bands_a = hasher.band_hashes(&a).unwrap();
            let bands_b = hasher.band_hashes(&b).unwrap();
            let band = bands_a.iter().zip(&bands_b).any(|(x, y)| x == y);
            let equal = a.iter().zip(&b).filter(|(x, y)| x == y).count();
            band && equal as f64 / a.len() as f64 >= *threshold
        }
        Stage::SharesToken => shared > 0,
    }
}

/// The names of the first `3 * max_predictions + 1` matches in pruning order (the single-symbol
/// path: every pattern starting with the symbol, by name).
pub(crate) fn pruned_names(
    kb: &[(String, Vec<Vec<String>>)],
    stm: &[Vec<String>],
    matching: &MatchConfig,
    max_predictions: usize,
    stages: &[Stage],
    hasher: &MinHasher,
) -> Vec<String> {
    let flat: Vec<&String> = stm.iter().flatten().collect();
    if flat.len() == 1 {
        let mut names: Vec<String> = kb
            .iter()
            .filter(|(_, events)| events.iter().flatten().next() == Some(flat[0]))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        return names;
    }
    let mut all: Vec<(f64, f64, &str)> = kb
        .iter()
        .filter(|(_, events)| stages.iter().all(|stage| keeps(stage, events, stm, hasher)))
        .filter_map(|(name, events)| {
            let found = match_pattern(events, stm, matching)?;
            Some((
                pre_potential_of(found.scores()),
                found.similarity,
                name.as_str(),
            ))
        })
        .collect();
    all.sort_by(|a, b| pruning_order(*a, *b));
    all.iter()
        .take(3 * max_predictions + 1)
        .map(|(_, _, name)| (*name).to_owned())
        .collect()
}
