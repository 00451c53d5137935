//! Learned vectors (DESIGN.md section 9, spec `api-and-storage.md` section 2.4): stored in
//! ClickHouse when a session learns, searched exactly (k nearest by Euclidean distance, as the
//! reference's Qdrant collection) in a resident index per kb that is kept fresh like the
//! pattern indexes: learns announce new vectors on the kb's vector feed in Redis after their
//! rows are durable, and every search first reads the feed's tail with the kb's generation.
//!
//! **Freshness.** A search reflects every vector learn acknowledged before it began, by any
//! process, and none of a kb cleared before it began (a changed or vanished generation, or a
//! gap in the feed's numbers, rebuilds the index from ClickHouse).
//!
//! **Dimension.** The kb's first learned vector locks its dimension in Redis (`SET NX`, shared
//! by every process); vectors of another dimension are not stored. Components are float32, as
//! the reference's vector store keeps them; distances are computed in float32, ties broken by
//! name so the answer is deterministic.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kato_clickhouse::{ClickHouseStore, VectorRow};
use kato_core::KbId;
use kato_redis::{FeedRead, RedisWriter};

use crate::KbError;

/// Feed entries read per round trip of a catch-up.
const FEED_PAGE: usize = 10_000;
/// Rows searched on the calling task; larger indexes are searched on a blocking thread.
const INLINE_SEARCH_COMPONENTS: usize = 1 << 16;

/// What a nearest-vector search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NearestVectors {
    /// The kb's vector dimension; `None` when it has learned no vector (since its last clear).
    pub dimension: Option<usize>,
    /// The names of the nearest learned vectors, nearest first (ties by name); empty when the
    /// query's dimension is not the kb's.
    pub names: Vec<String>,
}

/// One process's resident vector indexes, one per kb searched.
#[derive(Debug, Default)]
pub(crate) struct ResidentVectors {
    indexes: Mutex<HashMap<KbId, Arc<tokio::sync::Mutex<Option<VectorIndex>>>>>,
}

/// The learned vectors of one kb, as of a feed position.
#[derive(Debug, Default)]
struct VectorIndex {
    generation: String,
    /// The last feed entry read (`0-0` before any).
    after: String,
    /// The number of that entry.
    announced: u64,
    /// 0 while the kb has no dimension.
    dimension: usize,
    known: HashSet<String>,
    /// The rows; shared with a search running on a blocking thread, and appended to (copied
    /// only if such a search still held them) by catch-ups.
    rows: Arc<Rows>,
}

/// Names and their components, `names.len() * dimension` of them, row after row.
#[derive(Debug, Default, Clone)]
struct Rows {
    dimension: usize,
    names: Vec<String>,
    components: Vec<f32>,
}

impl VectorIndex {
    fn add(&mut self, row: VectorRow) {
        if row.components.len() != self.dimension || self.known.contains(&row.name) {
            return;
        }
        let rows = Arc::make_mut(&mut self.rows);
        rows.dimension = self.dimension;
        rows.components.extend_from_slice(&row.components);
        self.known.insert(row.name.clone());
        rows.names.push(row.name);
    }
}

impl Rows {
    /// The `k` rows nearest `query` (squared Euclidean distance in float32), ties by name.
    fn nearest(&self, query: &[f32], k: usize) -> Vec<String> {
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        if self.dimension == 0 || query.len() != self.dimension || k == 0 {
            return Vec::new();
        }
        for (row, stored) in self.components.chunks_exact(self.dimension).enumerate() {
            let distance: f32 = stored
                .iter()
                .zip(query)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let closer = |&(other, at): &(f32, usize)| {
                distance < other || (distance == other && self.names[row] < self.names[at])
            };
            if best.len() < k || best.last().is_some_and(closer) {
                let place = best.iter().position(closer).unwrap_or(best.len());
                best.insert(place, (distance, row));
                best.truncate(k);
            }
        }
        best.into_iter()
            .map(|(_, row)| self.names[row].clone())
            .collect()
    }
}

impl ResidentVectors {
    fn entry(&self, kb: &KbId) -> Arc<tokio::sync::Mutex<Option<VectorIndex>>> {
        let mut indexes = self.indexes.lock().expect("vector index map");
        Arc::clone(indexes.entry(kb.clone()).or_default())
    }

    /// Forgets `kb`'s index (clear-all); the next search reloads it.
    pub(crate) fn forget(&self, kb: &KbId) {
        self.indexes.lock().expect("vector index map").remove(kb);
    }

    /// The `k` learned vectors of `kb` nearest `query`, from an index brought up to date first.
    pub(crate) async fn nearest(
        &self,
        clickhouse: &ClickHouseStore,
        redis: &RedisWriter,
        kb: &KbId,
        query: &[f64],
        k: usize,
    ) -> Result<NearestVectors, KbError> {
        let entry = self.entry(kb);
        let mut guard = entry.lock().await;
        freshen(&mut guard, clickhouse, redis, kb).await?;
        let index = guard.as_ref().expect("a freshened index");
        let dimension = (index.dimension > 0).then_some(index.dimension);
        if dimension != Some(query.len()) {
            return Ok(NearestVectors {
                dimension,
                names: Vec::new(),
            });
        }
        #[allow(clippy::cast_possible_truncation)]
        let query: Vec<f32> = query.iter().map(|&x| x as f32).collect();
        let names = if index.rows.components.len() <= INLINE_SEARCH_COMPONENTS {
            index.rows.nearest(&query, k)
        } else {
            let rows = Arc::clone(&index.rows);
            tokio::task::spawn_blocking(move || rows.nearest(&query, k))
                .await
                .expect("a vector search does not panic")
        };
        Ok(NearestVectors { dimension, names })
    }

    /// The kb's dimension as its (freshened) index holds it (`None` without vectors), and the
    /// names among `names` that the index does not hold yet.
    pub(crate) async fn unknown(
        &self,
        clickhouse: &ClickHouseStore,
        redis: &RedisWriter,
        kb: &KbId,
        names: Vec<String>,
    ) -> Result<(Option<usize>, HashSet<String>), KbError> {
        let entry = self.entry(kb);
        let mut guard = entry.lock().await;
        freshen(&mut guard, clickhouse, redis, kb).await?;
        let index = guard.as_ref().expect("a freshened index");
        let unknown = names
            .into_iter()
            .filter(|name| !index.known.contains(name))
            .collect();
        Ok(((index.dimension > 0).then_some(index.dimension), unknown))
    }
}

/// Loads the index when there is none, else reads the feed on and applies it; rebuilds when the
/// generation changed or vanished or the feed has a gap.
async fn freshen(
    slot: &mut Option<VectorIndex>,
    clickhouse: &ClickHouseStore,
    redis: &RedisWriter,
    kb: &KbId,
) -> Result<(), KbError> {
    loop {
        let Some(index) = slot.as_mut() else {
            *slot = Some(load(clickhouse, redis, kb).await?);
            return Ok(());
        };
        let read = redis.vector_feed_after(kb, &index.after, FEED_PAGE).await?;
        let gap = read
            .entries
            .first()
            .is_some_and(|entry| entry.number != index.announced + 1)
            || (read.entries.is_empty() && read.announced != index.announced);
        if read.generation.is_empty() || read.generation != index.generation || gap {
            *slot = None;
            continue;
        }
        let full_page = read.entries.len() == FEED_PAGE;
        apply(index, clickhouse, redis, kb, read).await?;
        if !full_page {
            return Ok(());
        }
    }
}

async fn apply(
    index: &mut VectorIndex,
    clickhouse: &ClickHouseStore,
    redis: &RedisWriter,
    kb: &KbId,
    read: FeedRead,
) -> Result<(), KbError> {
    let Some(last) = read.entries.last() else {
        return Ok(());
    };
    let (after, announced) = (last.id.clone(), last.number);
    let names: Vec<String> = read
        .entries
        .iter()
        .filter(|entry| !index.known.contains(&entry.name))
        .map(|entry| entry.name.clone())
        .collect();
    if !names.is_empty() {
        if index.dimension == 0 {
            index.dimension = redis.vector_dimension(kb).await?.unwrap_or(0);
        }
        let mut rows: HashMap<String, VectorRow> = clickhouse
            .vectors_by_names(kb, &names)
            .await?
            .into_iter()
            .map(|row| (row.name.clone(), row))
            .collect();
        // In feed order, so every process holds the same rows in the same order.
        for name in &names {
            if let Some(row) = rows.remove(name) {
                index.add(row);
            }
        }
    }
    index.after = after;
    index.announced = announced;
    Ok(())
}

/// Reads the feed's position (setting the kb's generation when it has none), then every row:
/// a vector announced while loading is in the rows or after the position (adds dedupe).
async fn load(
    clickhouse: &ClickHouseStore,
    redis: &RedisWriter,
    kb: &KbId,
) -> Result<VectorIndex, KbError> {
    let token = uuid_like_token();
    let position = redis.vector_feed_position(kb, &token).await?;
    let rows = clickhouse.vector_rows(kb).await?;
    let dimension = match redis.vector_dimension(kb).await? {
        Some(dimension) => dimension,
        None => rows.first().map_or(0, |row| row.components.len()),
    };
    let mut index = VectorIndex {
        generation: position.generation,
        after: position
            .entries
            .last()
            .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()),
        announced: position.announced,
        dimension,
        ..VectorIndex::default()
    };
    for row in rows {
        index.add(row);
    }
    Ok(index)
}

/// A generation token unique enough among the processes that load one kb.
fn uuid_like_token() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(rows: &[(&str, [f32; 2])]) -> VectorIndex {
        let mut index = VectorIndex {
            dimension: 2,
            ..VectorIndex::default()
        };
        for (name, components) in rows {
            index.add(VectorRow {
                kb_id: "kb".into(),
                name: (*name).into(),
                components: components.to_vec(),
            });
        }
        index
    }

    /// The slow, obviously correct answer: sort every row by (distance, name).
    fn exhaustive(index: &VectorIndex, query: &[f32], k: usize) -> Vec<String> {
        let mut all: Vec<(f32, &String)> = index
            .rows
            .components
            .chunks_exact(index.dimension)
            .zip(&index.rows.names)
            .map(|(row, name)| {
                let distance = row.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
                (distance, name)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        all.into_iter()
            .take(k)
            .map(|(_, name)| name.clone())
            .collect()
    }

    #[test]
    fn nearest_is_the_exhaustive_order_with_ties_by_name() {
        let index = index_of(&[
            ("d", [3.0, 0.0]),
            ("b", [1.0, 0.0]),
            ("a", [0.0, 1.0]),
            ("c", [-1.0, 0.0]),
            ("e", [0.0, 0.0]),
        ]);
        assert_eq!(index.rows.nearest(&[0.0, 0.0], 3), ["e", "a", "b"]);
        assert_eq!(index.rows.nearest(&[2.9, 0.0], 2), ["d", "b"]);
        let mut seed = 7_u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            f32::from((seed >> 40) as u8 % 7) - 3.0
        };
        let rows: Vec<(String, [f32; 2])> = (0..200)
            .map(|i| (format!("v{i:03}"), [next(), next()]))
            .collect();
        let borrowed: Vec<(&str, [f32; 2])> =
            rows.iter().map(|(name, c)| (name.as_str(), *c)).collect();
        let index = index_of(&borrowed);
        for _ in 0..50 {
            let query = [next(), next()];
            for k in [1, 3, 10] {
                assert_eq!(index.rows.nearest(&query, k), exhaustive(&index, &query, k));
            }
        }
    }

    #[test]
    fn rows_of_another_dimension_and_repeats_are_left_out() {
        let mut index = index_of(&[("a", [1.0, 0.0]), ("a", [0.0, 1.0])]);
        index.add(VectorRow {
            kb_id: "kb".into(),
            name: "long".into(),
            components: vec![0.0; 3],
        });
        assert_eq!(index.rows.names, ["a"]);
        assert_eq!(index.rows.components, [1.0, 0.0]);
        assert!(index.rows.nearest(&[0.0, 0.0, 0.0], 3).is_empty());
    }
}
