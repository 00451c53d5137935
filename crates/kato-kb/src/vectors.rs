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
/// Rows between two progress lines of a load.
const LOAD_PROGRESS_EVERY: usize = 100_000;
/// Components searched on the calling task; larger indexes are searched on a blocking thread.
const INLINE_SEARCH_COMPONENTS: usize = 1 << 16;
/// Components from which a search is split over every core (a split costs a thread each).
const PARALLEL_SEARCH_COMPONENTS: usize = 1 << 22;

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
        if self.dimension == 0 || query.len() != self.dimension || k == 0 {
            return Vec::new();
        }
        self.nearest_in(0..self.names.len(), query, k)
            .into_iter()
            .map(|(_, row)| self.names[row].clone())
            .collect()
    }

    /// [`Self::nearest`] with the rows split over `threads` scoped threads: each keeps its own
    /// best `k` and the lists merge by the same order, so the answer is the same.
    fn nearest_parallel(&self, query: &[f32], k: usize, threads: usize) -> Vec<String> {
        if self.dimension == 0 || query.len() != self.dimension || k == 0 {
            return Vec::new();
        }
        let rows = self.names.len();
        let per_thread = rows.div_ceil(threads.max(1)).max(1);
        let mut best: Vec<(f32, usize)> = std::thread::scope(|scope| {
            let parts: Vec<_> = (0..rows)
                .step_by(per_thread)
                .map(|start| {
                    let end = (start + per_thread).min(rows);
                    scope.spawn(move || self.nearest_in(start..end, query, k))
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().expect("a vector search does not panic"))
                .collect()
        });
        best.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| self.names[a.1].cmp(&self.names[b.1]))
        });
        best.into_iter()
            .take(k)
            .map(|(_, row)| self.names[row].clone())
            .collect()
    }

    /// The best `k` of `rows` as (distance, row), best first.
    fn nearest_in(
        &self,
        rows: std::ops::Range<usize>,
        query: &[f32],
        k: usize,
    ) -> Vec<(f32, usize)> {
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        let start = rows.start;
        let stored_rows = self.components[rows.start * self.dimension..rows.end * self.dimension]
            .chunks_exact(self.dimension);
        for (offset, stored) in stored_rows.enumerate() {
            let row = start + offset;
            let distance = squared_distance(stored, query);
            let closer = |&(other, at): &(f32, usize)| {
                distance < other || (distance == other && self.names[row] < self.names[at])
            };
            if best.len() < k || best.last().is_some_and(closer) {
                let place = best.iter().position(closer).unwrap_or(best.len());
                best.insert(place, (distance, row));
                best.truncate(k);
            }
        }
        best
    }
}

/// Lanes of [`squared_distance`]: independent sums the compiler keeps in SIMD registers (a
/// single running sum is a chain of dependent float additions, which it may not reorder).
const LANES: usize = 8;

/// `sum((a - b)^2)` in float32, summed per lane and then across the lanes in a fixed order, so
/// the value is the same on every platform.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            let difference = x[lane] - y[lane];
            lanes[lane] += difference * difference;
        }
    }
    lanes.iter().sum::<f32>() + tail
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
            let threads = if rows.components.len() >= PARALLEL_SEARCH_COMPONENTS {
                std::thread::available_parallelism().map_or(1, usize::from)
            } else {
                1
            };
            tokio::task::spawn_blocking(move || rows.nearest_parallel(&query, k, threads))
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

/// Reads the feed's position (setting the kb's generation when it has none), then streams every
/// row: a vector announced while loading is in the rows or after the position (adds dedupe).
/// Progress is logged every [`LOAD_PROGRESS_EVERY`] rows.
async fn load(
    clickhouse: &ClickHouseStore,
    redis: &RedisWriter,
    kb: &KbId,
) -> Result<VectorIndex, KbError> {
    let started = std::time::Instant::now();
    let token = crate::resident::new_generation();
    let position = redis.vector_feed_position(kb, &token).await?;
    let dimension = match redis.vector_dimension(kb).await? {
        Some(dimension) => Some(dimension),
        None => clickhouse.oldest_vector_dimension(kb).await?,
    };
    let mut index = VectorIndex {
        generation: position.generation,
        after: position
            .entries
            .last()
            .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()),
        announced: position.announced,
        dimension: dimension.unwrap_or(0),
        ..VectorIndex::default()
    };
    if dimension.is_none() {
        return Ok(index);
    }
    let mut rows = clickhouse.stream_vectors(kb)?;
    let mut read = 0usize;
    while let Some(row) = rows.next().await? {
        index.add(row);
        read += 1;
        if read.is_multiple_of(LOAD_PROGRESS_EVERY) {
            tracing::info!(kb = %kb, vectors = read, "loading the resident vector index");
        }
    }
    if read >= LOAD_PROGRESS_EVERY {
        tracing::info!(
            kb = %kb,
            vectors = index.rows.names.len(),
            millis = started.elapsed().as_millis(),
            "resident vector index loaded"
        );
    }
    Ok(index)
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
                // Small integers: every sum is exact in float32, in any order.
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
                let expected = exhaustive(&index, &query, k);
                assert_eq!(index.rows.nearest(&query, k), expected);
                for threads in [1, 2, 3, 7] {
                    assert_eq!(index.rows.nearest_parallel(&query, k, threads), expected);
                }
            }
        }
    }

    #[test]
    fn the_lane_sum_is_the_distance_for_any_length() {
        for length in [0, 1, 7, 8, 9, 17, 128, 131] {
            let a: Vec<f32> = (0..length).map(|i| (i % 5) as f32).collect();
            let b: Vec<f32> = (0..length).map(|i| (i % 3) as f32 - 1.0).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert_eq!(squared_distance(&a, &b), naive, "length {length}");
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
