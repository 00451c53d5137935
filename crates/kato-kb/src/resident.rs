//! Resident indexes (DESIGN.md section 5): one [`KbIndex`] per kb this process has searched,
//! loaded from ClickHouse on first use and kept current through the kb's feed in Redis.
//!
//! **Freshness.** A search reflects every learn acknowledged before it began, by any process,
//! and no pattern of a kb cleared before it began. The learn script announces each new pattern
//! on the kb's feed (numbered, capped) in the same atomic step that makes it visible in Redis,
//! after its body is durable in ClickHouse. Before each search the index reads the feed's tail
//! with the kb's generation in one atomic script: new names are fetched from ClickHouse and
//! inserted; a generation that changed or vanished (clear, drop, rehydrate, a Redis that lost
//! its data) or a gap in the numbers (the cap trimmed entries it had not read) makes it
//! rebuild. A load reads the feed's position first and the bodies after, so a learn racing the
//! load is in one or the other (inserts are idempotent by name). Concurrent searches of a kb
//! share a catch-up that began after they did. This process's own learns are inserted at once.
//!
//! **Memory.** Every index counts its bytes; past the budget the least recently used whole kbs
//! are evicted (and reloaded when searched again); a kb that alone needs more than the budget
//! is refused with [`KbError::IndexOverBudget`]. Loading is single-flight per kb, streamed,
//! and logged with progress.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use kato_clickhouse::ClickHouseStore;
use kato_core::KbId;
use kato_index::KbIndex;
use kato_redis::RedisWriter;

use crate::KbError;

/// Feed entries read per round trip of a catch-up.
const FEED_PAGE: usize = 10_000;
/// Bodies between two progress lines (and budget checks) of a load: a multiple of
/// [`LOAD_BATCH`].
const LOAD_PROGRESS_EVERY: usize = 100_000;
/// Bodies inserted per blocking task while loading.
const LOAD_BATCH: usize = 10_000;

/// How the resident indexes of a process are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentConfig {
    /// The most bytes all resident indexes of the process may hold together.
    pub memory_budget: usize,
    /// Shards per index, searched in parallel (one per core by default).
    pub shards: usize,
}

impl Default for ResidentConfig {
    fn default() -> Self {
        Self {
            memory_budget: 4 << 30,
            shards: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// What the resident indexes hold and have done, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Bytes held by every resident index.
    pub bytes: u64,
    /// Patterns held by every resident index.
    pub patterns: u64,
    /// Kbs with a resident index.
    pub resident_kbs: u64,
    /// Loads (first use, reload after eviction, rebuilds) completed.
    pub loads: u64,
    /// Milliseconds spent loading, over every load.
    pub load_millis: u64,
    /// Whole kbs evicted for the budget.
    pub evictions: u64,
    /// Catch-ups that brought new patterns from the feed.
    pub catch_ups: u64,
    /// Rebuilds forced by a changed generation or a gap in the feed.
    pub rebuilds: u64,
    /// Searches that found their kb's index resident (the others loaded it: `loads`).
    pub hits: u64,
    /// Distinct symbols held by every resident index.
    pub symbols: u64,
    /// Patterns put into a resident index since the process started (loads, the feed, own
    /// learns).
    pub patterns_indexed: u64,
    /// Symbols new to a resident index since the process started.
    pub symbols_indexed: u64,
}

/// A loaded index and where it stands on its kb's feed.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) index: KbIndex,
    generation: String,
    /// The last feed entry applied.
    feed_id: String,
    /// Its number.
    announced: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Single flight of loads and catch-ups; holds when the last completed catch-up began.
    gate: tokio::sync::Mutex<Option<Instant>>,
    pub(crate) index: RwLock<Option<Loaded>>,
    last_used: AtomicU64,
    bytes: AtomicUsize,
    patterns: AtomicUsize,
    symbols: AtomicUsize,
}

impl Slot {
    fn record_size(&self, loaded: &Loaded) {
        self.bytes.store(loaded.index.bytes(), Ordering::Relaxed);
        self.patterns.store(loaded.index.len(), Ordering::Relaxed);
        self.symbols
            .store(loaded.index.symbol_count(), Ordering::Relaxed);
    }

    fn clear(&self) {
        *self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.bytes.store(0, Ordering::Relaxed);
        self.patterns.store(0, Ordering::Relaxed);
        self.symbols.store(0, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Counters {
    loads: AtomicU64,
    load_millis: AtomicU64,
    evictions: AtomicU64,
    catch_ups: AtomicU64,
    rebuilds: AtomicU64,
    hits: AtomicU64,
    patterns_indexed: AtomicU64,
    symbols_indexed: AtomicU64,
}

impl Counters {
    /// Counts what an index gained between two of its sizes (patterns, symbols).
    fn indexed(&self, before: (usize, usize), index: &KbIndex) {
        let gained = |now: usize, then: usize| now.saturating_sub(then) as u64;
        self.patterns_indexed
            .fetch_add(gained(index.len(), before.0), Ordering::Relaxed);
        self.symbols_indexed
            .fetch_add(gained(index.symbol_count(), before.1), Ordering::Relaxed);
    }
}

/// An index's (patterns, symbols).
fn sizes(index: &KbIndex) -> (usize, usize) {
    (index.len(), index.symbol_count())
}

/// The resident indexes of one process.
#[derive(Debug)]
pub(crate) struct Resident {
    config: ResidentConfig,
    slots: Mutex<HashMap<KbId, Arc<Slot>>>,
    clock: AtomicU64,
    counters: Counters,
}

impl Resident {
    pub(crate) fn new(config: ResidentConfig) -> Self {
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<KbId, Arc<Slot>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `kb`'s index, loaded and caught up with every learn acknowledged before this call.
    pub(crate) async fn fresh(
        &self,
        kb: &KbId,
        clickhouse: &ClickHouseStore,
        redis: &RedisWriter,
    ) -> Result<Arc<Slot>, KbError> {
        let asked = Instant::now();
        let slot = self.slots().entry(kb.clone()).or_default().clone();
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut gate = slot.gate.lock().await;
        let loaded = slot
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        if loaded {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        // A catch-up that began after this call read the feed after every learn it must see.
        if loaded && gate.is_some_and(|began| began >= asked) {
            drop(gate);
            return Ok(slot);
        }
        let began = Instant::now();
        // A rebuild reads the feed's position afresh, so a second attempt only fails if the
        // kb is cleared again meanwhile; then the next search rebuilds.
        for attempt in 0..2 {
            let loaded = slot
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some();
            if !loaded {
                let fresh = self.load(kb, clickhouse, redis).await?;
                self.counters.indexed((0, 0), &fresh.index);
                slot.record_size(&fresh);
                *slot
                    .index
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh);
            }
            if catch_up(kb, &slot, clickhouse, redis, &self.counters).await? {
                break;
            }
            if attempt == 0 {
                self.counters.rebuilds.fetch_add(1, Ordering::Relaxed);
                slot.clear();
            }
        }
        *gate = Some(began);
        drop(gate);
        self.enforce_budget(kb, &slot)?;
        Ok(slot)
    }

    async fn load(
        &self,
        kb: &KbId,
        clickhouse: &ClickHouseStore,
        redis: &RedisWriter,
    ) -> Result<Loaded, KbError> {
        let started = Instant::now();
        let position = redis.index_feed_position(kb, &new_generation()).await?;
        let mut index = KbIndex::new(self.config.shards);
        let mut bodies = clickhouse.stream_bodies(kb)?;
        let mut read = 0usize;
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        loop {
            let body = bodies.next().await?;
            let done = body.is_none();
            batch.extend(body);
            if batch.len() < LOAD_BATCH && !done {
                continue;
            }
            // Building is CPU work: off the runtime's workers, so requests (and `/health`)
            // go on while a big kb loads.
            read += batch.len();
            let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
            index = tokio::task::spawn_blocking(move || {
                for body in &full {
                    index.insert(&body.name, &body.pattern_data)?;
                }
                Ok::<_, KbError>(index)
            })
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))?;
            if done {
                break;
            }
            if read.is_multiple_of(LOAD_PROGRESS_EVERY) {
                let bytes = index.bytes();
                tracing::info!(kb = %kb, bodies = read, patterns = index.len(), bytes, "loading resident index");
                self.check_budget(kb, bytes)?;
            }
        }
        index.shrink_to_fit();
        self.check_budget(kb, index.bytes())?;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.counters.loads.fetch_add(1, Ordering::Relaxed);
        self.counters
            .load_millis
            .fetch_add(millis, Ordering::Relaxed);
        tracing::info!(kb = %kb, patterns = index.len(), bytes = index.bytes(), millis, "resident index loaded");
        let newest = position.entries.last();
        Ok(Loaded {
            index,
            generation: position.generation,
            feed_id: newest.map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()),
            announced: newest.map_or(position.announced, |entry| entry.number),
        })
    }

    fn check_budget(&self, kb: &KbId, bytes: usize) -> Result<(), KbError> {
        if bytes > self.config.memory_budget {
            return Err(KbError::IndexOverBudget {
                kb: kb.to_string(),
                bytes,
                budget: self.config.memory_budget,
            });
        }
        Ok(())
    }

    /// Evicts least recently used kbs other than `kb` until every index fits the budget.
    fn enforce_budget(&self, kb: &KbId, slot: &Slot) -> Result<(), KbError> {
        let own = slot.bytes.load(Ordering::Relaxed);
        if let Err(error) = self.check_budget(kb, own) {
            self.slots().remove(kb);
            slot.clear();
            return Err(error);
        }
        let mut slots = self.slots();
        let mut total: usize = slots
            .values()
            .map(|s| s.bytes.load(Ordering::Relaxed))
            .sum();
        while total > self.config.memory_budget {
            let Some((victim, _)) = slots
                .iter()
                .filter(|(id, _)| *id != kb)
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(id, s)| (id.clone(), s.clone()))
            else {
                break;
            };
            if let Some(evicted) = slots.remove(&victim) {
                total -= evicted.bytes.load(Ordering::Relaxed);
                evicted.clear();
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(kb = %victim, "resident index evicted for the memory budget");
            }
        }
        Ok(())
    }

    /// Whether `kb` has a resident index in this process.
    pub(crate) fn holds(&self, kb: &KbId) -> bool {
        self.slots().contains_key(kb)
    }

    /// Inserts bodies this process just learned into `kb`'s index, if it is resident.
    pub(crate) fn apply_own(&self, kb: &KbId, bodies: &[(String, Vec<Vec<String>>)]) {
        let Some(slot) = self.slots().get(kb).cloned() else {
            return;
        };
        let mut guard = slot
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(loaded) = guard.as_mut() {
            let before = sizes(&loaded.index);
            for (name, events) in bodies {
                // Stored names are valid: the writer refused any other before it was stored.
                let _ = loaded.index.insert(name, events);
            }
            self.counters.indexed(before, &loaded.index);
            slot.record_size(loaded);
        }
    }

    /// Forgets `kb`'s index (this process cleared, dropped or rehydrated it).
    pub(crate) fn forget(&self, kb: &KbId) {
        if let Some(slot) = self.slots().remove(kb) {
            slot.clear();
        }
    }

    /// Forgets `kb`'s index, or every index; their next searches load them again. Returns the
    /// (patterns, symbols) they held.
    pub(crate) fn unload(&self, kb: Option<&KbId>) -> (u64, u64) {
        let removed: Vec<Arc<Slot>> = {
            let mut slots = self.slots();
            match kb {
                Some(kb) => slots.remove(kb).into_iter().collect(),
                None => slots.drain().map(|(_, slot)| slot).collect(),
            }
        };
        let mut held = (0, 0);
        for slot in removed {
            held.0 += slot.patterns.load(Ordering::Relaxed) as u64;
            held.1 += slot.symbols.load(Ordering::Relaxed) as u64;
            slot.clear();
        }
        held
    }

    pub(crate) fn stats(&self) -> IndexStats {
        let slots = self.slots();
        let c = &self.counters;
        IndexStats {
            bytes: slots
                .values()
                .map(|s| s.bytes.load(Ordering::Relaxed) as u64)
                .sum(),
            patterns: slots
                .values()
                .map(|s| s.patterns.load(Ordering::Relaxed) as u64)
                .sum(),
            resident_kbs: slots
                .values()
                .filter(|s| s.bytes.load(Ordering::Relaxed) > 0)
                .count() as u64,
            loads: c.loads.load(Ordering::Relaxed),
            load_millis: c.load_millis.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            catch_ups: c.catch_ups.load(Ordering::Relaxed),
            rebuilds: c.rebuilds.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            symbols: slots
                .values()
                .map(|s| s.symbols.load(Ordering::Relaxed) as u64)
                .sum(),
            patterns_indexed: c.patterns_indexed.load(Ordering::Relaxed),
            symbols_indexed: c.symbols_indexed.load(Ordering::Relaxed),
        }
    }
}

/// Applies the feed's new entries to `slot`'s index: `false` when it must rebuild instead.
async fn catch_up(
    kb: &KbId,
    slot: &Slot,
    clickhouse: &ClickHouseStore,
    redis: &RedisWriter,
    counters: &Counters,
) -> Result<bool, KbError> {
    loop {
        let Some((generation, after, announced)) = slot
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|l| (l.generation.clone(), l.feed_id.clone(), l.announced))
        else {
            return Ok(false);
        };
        let read = redis.index_feed_after(kb, &after, FEED_PAGE).await?;
        if read.generation.is_empty() || read.generation != generation {
            return Ok(false);
        }
        // Numbers run without gaps; a gap is what the cap trimmed before this index read it.
        let continuous = read
            .entries
            .iter()
            .zip(announced + 1..)
            .all(|(entry, expected)| entry.number == expected);
        let Some(last) = read.entries.last() else {
            return Ok(read.announced == announced);
        };
        if !continuous {
            return Ok(false);
        }
        let missing: Vec<String> = {
            let guard = slot
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(loaded) = guard.as_ref() else {
                return Ok(false);
            };
            read.entries
                .iter()
                .filter(|entry| !loaded.index.contains(&entry.name))
                .map(|entry| entry.name.clone())
                .collect()
        };
        // A name whose body is gone was cleared meanwhile: the next read sees no generation.
        let bodies = if missing.is_empty() {
            Vec::new()
        } else {
            clickhouse.bodies_by_names(kb, &missing).await?
        };
        {
            let mut guard = slot
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(loaded) = guard.as_mut() else {
                return Ok(false);
            };
            let before = sizes(&loaded.index);
            for body in &bodies {
                loaded.index.insert(&body.name, &body.pattern_data)?;
            }
            counters.indexed(before, &loaded.index);
            loaded.feed_id = last.id.clone();
            loaded.announced = last.number;
            slot.record_size(loaded);
        }
        counters.catch_ups.fetch_add(1, Ordering::Relaxed);
        if read.entries.len() < FEED_PAGE {
            return Ok(true);
        }
    }
}

/// A token no other load of any process makes (pattern and vector indexes alike).
pub(crate) fn new_generation() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
