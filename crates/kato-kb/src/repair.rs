//! `rehydrate` and `verify`: Redis rebuilt from, or checked against, a replay of the learn log.
//!
//! The learn log holds every learn in the order Redis applied it (see `LearnSink`), and the
//! replay goes through the same record builder and the same Lua script as the learns did, so a
//! replay reproduces every Redis value of the kb exactly, float sums included.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use kato_core::{Event, KbId, Pattern, Symbol};
use kato_redis::{LearnUpdate, StoredValue};

use crate::records::learn_update;
use crate::{KbError, KnowledgeBase};

/// Learns replayed per `apply_learns` call.
const REPLAY_CHUNK: usize = 5000;

/// What `rehydrate` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RehydrateReport {
    /// Learn-log rows replayed into Redis.
    pub learns_replayed: usize,
    /// Distinct patterns the kb has after the rebuild.
    pub patterns: usize,
    /// Pattern bodies no learn accounted for, removed from ClickHouse.
    pub orphan_bodies_removed: Vec<String>,
    /// Patterns whose learn-log rows have no body (a learn whose body insert failed or was cut
    /// by a crash, never acknowledged): not replayed, and their log rows removed from
    /// ClickHouse, so a later learn of the pattern does not bring them back.
    pub learns_without_body: Vec<String>,
}

/// What `verify` found; `is_clean` when Redis equals a replay of the learn log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Learn-log rows replayed to build the expected state.
    pub learns_checked: usize,
    /// Pattern bodies no learn accounts for (a learn whose log row never landed).
    pub orphan_bodies: Vec<String>,
    /// Patterns whose learn-log rows have no body (a learn whose body never landed).
    pub learns_without_body: Vec<String>,
    /// Keys (without the kb prefix) the replay has and Redis lacks.
    pub missing_keys: Vec<String>,
    /// Keys Redis has and the replay does not.
    pub unexpected_keys: Vec<String>,
    /// Keys whose values differ.
    pub different_keys: Vec<String>,
}

impl VerifyReport {
    /// Whether Redis and ClickHouse agree.
    pub fn is_clean(&self) -> bool {
        self.orphan_bodies.is_empty()
            && self.learns_without_body.is_empty()
            && self.missing_keys.is_empty()
            && self.unexpected_keys.is_empty()
            && self.different_keys.is_empty()
    }
}

/// The replay of a kb's learn log as Redis updates addressed to `target`.
struct Replay {
    updates: Vec<LearnUpdate>,
    /// The patterns of log rows without a body, sorted, once each.
    learns_without_body: Vec<String>,
}

impl KnowledgeBase {
    /// Rebuilds every Redis value of `kb` from ClickHouse: removes orphan bodies and the log
    /// rows of patterns without a body (learns that were never acknowledged), deletes the
    /// kb's Redis keys and replays the learn log in commit order. Run it while nothing learns
    /// into `kb` (a learn racing the rebuild could be applied twice or not at all, and one
    /// between its two inserts would look half-done).
    pub async fn rehydrate(&self, kb: &KbId) -> Result<RehydrateReport, KbError> {
        let orphan_bodies_removed = self.clickhouse().orphan_pattern_names(kb).await?;
        self.clickhouse()
            .delete_pattern_bodies(kb, &orphan_bodies_removed)
            .await?;
        let replay = self.replay(kb, kb).await?;
        self.clickhouse()
            .delete_learn_log_rows(kb, &replay.learns_without_body)
            .await?;
        self.redis().delete_all_metadata(kb).await?;
        for chunk in replay.updates.chunks(REPLAY_CHUNK) {
            self.redis().apply_learns(chunk).await?;
        }
        // Orphans left the kb: every resident index of it rebuilds.
        self.redis().reset_index_generation(kb).await?;
        self.resident().forget(kb);
        let patterns = replay
            .updates
            .iter()
            .map(|u| &u.name)
            .collect::<BTreeSet<_>>()
            .len();
        Ok(RehydrateReport {
            learns_replayed: replay.updates.len(),
            patterns,
            orphan_bodies_removed,
            learns_without_body: replay.learns_without_body,
        })
    }

    /// Compares `kb`'s Redis values with a replay of its learn log, changing nothing of the
    /// kb: the replay goes to a scratch kb that is deleted afterwards.
    pub async fn verify(&self, kb: &KbId) -> Result<VerifyReport, KbError> {
        let orphan_bodies = self.clickhouse().orphan_pattern_names(kb).await?;
        let scratch = scratch_kb()?;
        let replay = self.replay(kb, &scratch).await?;
        let expected = async {
            for chunk in replay.updates.chunks(REPLAY_CHUNK) {
                self.redis().apply_learns(chunk).await?;
            }
            self.redis().dump_kb(&scratch).await
        }
        .await;
        // The scratch kb goes whatever happened above.
        let cleanup = self.redis().delete_all_metadata(&scratch).await;
        let expected = expected?;
        cleanup?;
        let actual = self.redis().dump_kb(kb).await?;
        let (missing_keys, unexpected_keys, different_keys) = compare(&expected, &actual);
        Ok(VerifyReport {
            learns_checked: replay.updates.len(),
            orphan_bodies,
            learns_without_body: replay.learns_without_body,
            missing_keys,
            unexpected_keys,
            different_keys,
        })
    }

    /// `kb`'s learn log as updates addressed to `target`, in commit order.
    async fn replay(&self, kb: &KbId, target: &KbId) -> Result<Replay, KbError> {
        let (log, bodies) = tokio::try_join!(
            self.clickhouse().learn_log(kb),
            self.clickhouse().pattern_bodies(kb)
        )?;
        let patterns: BTreeMap<String, Pattern> = bodies
            .into_iter()
            .map(|row| {
                let pattern = row
                    .pattern_data
                    .into_iter()
                    .map(|event| Event::new(event.into_iter().map(Symbol::new).collect()))
                    .collect();
                (row.name, pattern)
            })
            .collect();
        let mut updates = Vec::with_capacity(log.len());
        let mut learns_without_body = BTreeSet::new();
        for row in log {
            let Some(pattern) = patterns.get(&row.name) else {
                learns_without_body.insert(row.name);
                continue;
            };
            let emotives = row
                .emotives
                .iter()
                .map(|text| serde_json::from_str(text))
                .collect::<Result<Vec<BTreeMap<String, f64>>, _>>()
                .map_err(|e| KbError::InvalidInput {
                    field: "learn_log.emotives",
                    reason: format!("pattern {}: {e}", row.name),
                })?;
            updates.push(learn_update(
                target,
                &row.name,
                &pattern.columns(),
                &emotives,
                row.metadata,
                row.persistence,
            ));
        }
        Ok(Replay {
            updates,
            learns_without_body: learns_without_body.into_iter().collect(),
        })
    }
}

/// A kb id nobody uses, for verify's replay.
fn scratch_kb() -> Result<KbId, KbError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(KbId::new(format!(
        "kato_verify_scratch_{}_{nanos}",
        std::process::id()
    ))?)
}

/// (missing from actual, unexpected in actual, different) key lists.
fn compare(
    expected: &BTreeMap<String, StoredValue>,
    actual: &BTreeMap<String, StoredValue>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let missing = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .cloned()
        .collect();
    let unexpected = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    let different = expected
        .iter()
        .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
        .map(|(k, _)| k.clone())
        .collect();
    (missing, unexpected, different)
}
