//! `KnowledgeBase`: learn, get, clear, drop and the read APIs, over ClickHouse and Redis.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kato_clickhouse::{
    BatchObserver, BatchSink, ClickHouseError, ClickHouseStore, GroupCommit, GroupCommitConfig,
    GroupCommitError, Topology, VectorRow, schema,
};
use kato_core::{KbId, MinHashConfig, MinHasher, Pattern, PatternName};
use kato_redis::{GlobalCounters, LearnOutcome, LeaseLock, RedisConfig, RedisWriter, SymbolStats};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::KbError;
use crate::metadata::accumulate_metadata;
use crate::records::LearnRecords;
use crate::resident::{Resident, ResidentConfig};
use crate::vectors::{NearestVectors, ResidentVectors};

/// The schema lock's lease, renewed while held: a process that dies holding it frees it this
/// long after its last renewal.
const SCHEMA_LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest a start applies the schema (a ClickHouse that hangs must not hold a start
/// forever): a migration that takes longer on a big database should be applied beforehand
/// (`cargo xtask schema`).
const SCHEMA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The emotive window the reference keeps by default.
pub const DEFAULT_PERSISTENCE: u32 = 5;
/// The largest emotive window a learn may ask for (the reference's bound).
pub const MAX_PERSISTENCE: u32 = 100;

/// Where the stores are and how writes are batched.
#[derive(Debug, Clone)]
pub struct KnowledgeBaseConfig {
    /// ClickHouse HTTP URL, e.g. `http://127.0.0.1:8123`.
    pub clickhouse_url: String,
    /// ClickHouse database (created with the schema on connect).
    pub clickhouse_database: String,
    /// One ClickHouse server, or a cluster (replicated, distributed tables).
    pub clickhouse_topology: Topology,
    /// Redis URL, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// How long one ClickHouse call may take before it fails (a hung server must not hold
    /// learns and reads forever).
    pub clickhouse_timeout: Duration,
    /// How concurrent learns are batched.
    pub group_commit: GroupCommitConfig,
    /// Redis timeouts and pipeline sizes.
    pub redis: RedisConfig,
    /// The MinHash scheme of stored signatures.
    pub minhash: MinHashConfig,
    /// Told the size of every learn batch (for metrics); `None` for nobody.
    pub learn_batch_observer: Option<BatchObserver>,
    /// How the resident indexes predictions search are kept.
    pub resident: ResidentConfig,
}

impl KnowledgeBaseConfig {
    /// Default settings for the given stores.
    pub fn new(clickhouse_url: impl Into<String>, redis_url: impl Into<String>) -> Self {
        Self {
            clickhouse_url: clickhouse_url.into(),
            clickhouse_database: schema::DEFAULT_DATABASE.to_owned(),
            clickhouse_topology: Topology::Single,
            redis_url: redis_url.into(),
            clickhouse_timeout: kato_clickhouse::DEFAULT_TIMEOUT,
            group_commit: GroupCommitConfig::default(),
            redis: RedisConfig::default(),
            minhash: MinHashConfig::default(),
            learn_batch_observer: None,
            resident: ResidentConfig::default(),
        }
    }
}

/// What comes with a learn besides the pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnContext {
    /// One map per observation that had emotives, oldest first.
    pub emotives: Vec<BTreeMap<String, f64>>,
    /// One map per observation that had metadata, oldest first (values any JSON).
    pub metadata: Vec<Map<String, Value>>,
    /// How many emotive entries the pattern keeps (1..=100).
    pub persistence: u32,
}

impl Default for LearnContext {
    fn default() -> Self {
        Self {
            emotives: Vec::new(),
            metadata: Vec::new(),
            persistence: DEFAULT_PERSISTENCE,
        }
    }
}

/// The result of a learn that stored a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    /// The pattern's name.
    pub name: PatternName,
    /// Whether this learn created it.
    pub is_new: bool,
    /// Its frequency after the learn.
    pub frequency: u64,
}

/// A stored pattern in the shape of the reference's `GET /pattern/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredPattern {
    /// `PTRN|<hex>`.
    pub name: String,
    /// The events.
    pub pattern_data: Vec<Vec<String>>,
    /// Symbols with duplicates.
    pub length: u32,
    /// Times learned (0 when Redis lost it; `verify` reports that).
    pub frequency: u64,
    /// The emotive window, oldest first.
    pub emotives: Vec<Map<String, Value>>,
    /// Per key, the sorted distinct values.
    pub metadata: BTreeMap<String, Vec<String>>,
}

/// An observed vector (the sum of an observation's vectors) waiting for its session's learn.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ObservedVector {
    /// `VCTR|<sha1>`.
    pub name: String,
    /// The summed components.
    pub components: Vec<f64>,
}

/// What [`KnowledgeBase::learn_vectors`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorsLearned {
    /// Vectors newly stored.
    pub stored: usize,
    /// Vectors of another dimension than the kb's, not stored.
    pub refused: usize,
}

/// The knowledge-base facade: one per process, shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clickhouse: ClickHouseStore,
    redis: RedisWriter,
    minhasher: MinHasher,
    learner: GroupCommit<LearnSink>,
    resident: Resident,
    vectors: ResidentVectors,
}

/// One group commit over both stores: the batch goes to ClickHouse (bodies and learn log,
/// two INSERTs side by side; the first phase) and, once acknowledged, to Redis in the same order (the
/// second phase, which overlaps the next batch's ClickHouse insert). Batches reach Redis in
/// learn-log order, which is what lets a replay of the log reproduce it exactly.
#[derive(Debug, Clone)]
pub(crate) struct LearnSink {
    clickhouse: ClickHouseStore,
    redis: RedisWriter,
}

impl BatchSink for LearnSink {
    type Item = LearnRecords;
    type Output = LearnOutcome;
    type Error = KbError;
    type Finish = Pin<Box<dyn Future<Output = Result<Vec<LearnOutcome>, KbError>> + Send>>;

    async fn commit(&self, items: Vec<LearnRecords>) -> Result<Self::Finish, KbError> {
        let (writes, updates): (Vec<_>, Vec<_>) =
            items.into_iter().map(LearnRecords::into_parts).unzip();
        self.clickhouse.insert_batch(&writes).await?;
        let redis = self.redis.clone();
        Ok(Box::pin(
            async move { Ok(redis.apply_learns(&updates).await?) },
        ))
    }
}

impl KnowledgeBase {
    /// Connects to both stores, applies the ClickHouse schema and starts the learn writer on
    /// the current tokio runtime.
    ///
    /// The schema is applied under a Redis lease lock, so processes starting together against
    /// one database migrate it one after another (a migration that rebuilds a table must not
    /// run twice at once); the others then find it current.
    pub async fn connect(config: KnowledgeBaseConfig) -> Result<Self, KbError> {
        let client = kato_clickhouse::connect(&config.clickhouse_url);
        let redis = RedisWriter::connect(&config.redis_url, config.redis).await?;
        // Another process applying the schema holds the lock for at most the timeout.
        let lock = LeaseLock::acquire(
            &redis.connection(),
            &format!("schema_{}", config.clickhouse_database),
            SCHEMA_LOCK_LEASE,
            SCHEMA_TIMEOUT + SCHEMA_LOCK_LEASE,
        )
        .await?;
        let applied = tokio::time::timeout(
            SCHEMA_TIMEOUT,
            schema::ensure_schema_on(
                &client,
                &config.clickhouse_database,
                &config.clickhouse_topology,
            ),
        )
        .await
        .map_err(|_| ClickHouseError::Timeout(SCHEMA_TIMEOUT));
        // A lock not released frees itself one lease later (its renewal stops with it), so a
        // failed release must not fail a start whose schema is in place.
        let _ = lock.release().await;
        applied??;
        let clickhouse = ClickHouseStore::new(client, &config.clickhouse_database)?
            .with_topology(config.clickhouse_topology)
            .with_timeout(config.clickhouse_timeout);
        let learner = GroupCommit::spawn_observed(
            LearnSink {
                clickhouse: clickhouse.clone(),
                redis: redis.clone(),
            },
            config.group_commit,
            config.learn_batch_observer,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                clickhouse,
                redis,
                minhasher: MinHasher::new(config.minhash),
                learner,
                resident: Resident::new(config.resident),
                vectors: ResidentVectors::default(),
            }),
        })
    }

    /// The ClickHouse side, for reads this facade does not wrap.
    pub fn clickhouse(&self) -> &ClickHouseStore {
        &self.inner.clickhouse
    }

    /// The MinHash scheme the kb's signatures are stored with.
    pub fn minhash_config(&self) -> MinHashConfig {
        self.inner.minhasher.config()
    }

    /// The Redis side, for reads this facade does not wrap.
    pub fn redis(&self) -> &RedisWriter {
        &self.inner.redis
    }

    pub(crate) fn resident(&self) -> &Resident {
        &self.inner.resident
    }

    pub(crate) fn minhasher(&self) -> &MinHasher {
        &self.inner.minhasher
    }

    /// Loads `kb`'s resident index now (if it is not resident) and catches it up, as the next
    /// prediction would: to warm a process before it serves, or to time a cold load.
    pub async fn load_index(&self, kb: &KbId) -> Result<(), KbError> {
        self.inner
            .resident
            .fresh(kb, &self.inner.clickhouse, &self.inner.redis)
            .await
            .map(drop)
    }

    /// What the resident indexes of this process hold and have done.
    pub fn index_stats(&self) -> crate::IndexStats {
        self.inner.resident.stats()
    }

    /// Drops `kb`'s resident index in this process, or every one (`None`); the next
    /// prediction of each kb loads it again. Returns the (patterns, symbols) they held.
    pub fn unload_indexes(&self, kb: Option<&KbId>) -> (u64, u64) {
        self.inner.resident.unload(kb)
    }

    /// Learns `pattern` into `kb`. A pattern of fewer than two symbols is not stored (the
    /// reference's rule) and gives `None`. Otherwise the call returns once the learn is durable
    /// in ClickHouse and applied in Redis, visible to the very next read.
    pub async fn learn(
        &self,
        kb: &KbId,
        pattern: &Pattern,
        context: &LearnContext,
    ) -> Result<Option<Learned>, KbError> {
        let mut learned = self
            .learn_many(kb, std::slice::from_ref(pattern), context)
            .await?;
        Ok(learned.pop().flatten())
    }

    /// Learns each of `patterns` into `kb` with the same context, as [`Self::learn`] would one
    /// after the other, but queued together so they share group commits. Returns one entry per
    /// pattern (`None` for a pattern under two symbols) once all are durable; on an error some
    /// of them may have been learned (each learn is atomic on its own).
    pub async fn learn_many(
        &self,
        kb: &KbId,
        patterns: &[Pattern],
        context: &LearnContext,
    ) -> Result<Vec<Option<Learned>>, KbError> {
        validate_context(context)?;
        let metadata = accumulate_metadata(&context.metadata);
        let mut records = Vec::with_capacity(patterns.len());
        for pattern in patterns.iter().filter(|pattern| pattern.is_storable()) {
            records.push(LearnRecords::build(
                kb,
                pattern,
                &self.inner.minhasher,
                &context.emotives,
                metadata.clone(),
                context.persistence,
            )?);
        }
        // Kept for this process's resident index of the kb, if there is one.
        let bodies: Vec<(String, Vec<Vec<String>>)> = if self.inner.resident.holds(kb) {
            records
                .iter()
                .map(|r| {
                    (
                        r.write.pattern.name.clone(),
                        r.write.pattern.pattern_data.clone(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let outcomes = self.inner.learner.submit_many(records).await;
        // This process's own learns reach its resident index at once (the feed would bring
        // them too, at the price of a ClickHouse read).
        let acknowledged: Vec<(String, Vec<Vec<String>>)> = bodies
            .into_iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(body, _)| body)
            .collect();
        self.inner.resident.apply_own(kb, &acknowledged);
        let mut outcomes = outcomes.into_iter();
        patterns
            .iter()
            .map(|pattern| {
                if !pattern.is_storable() {
                    return Ok(None);
                }
                let outcome = outcomes
                    .next()
                    .unwrap_or(Err(GroupCommitError::WriterStopped))
                    .map_err(|e| match e {
                        GroupCommitError::Batch(cause) => KbError::Batch(cause),
                        GroupCommitError::WriterStopped => KbError::WriterStopped,
                    })?;
                Ok(Some(Learned {
                    name: pattern.name(),
                    is_new: outcome.is_new,
                    frequency: outcome.frequency,
                }))
            })
            .collect()
    }

    /// The pattern `name` of `kb` with its frequency, emotives and metadata; `None` when the
    /// kb has no such pattern.
    pub async fn get_pattern(
        &self,
        kb: &KbId,
        name: &PatternName,
    ) -> Result<Option<StoredPattern>, KbError> {
        let hex = name.as_hex();
        let Some(body) = self.inner.clickhouse.get_pattern_data(kb, hex).await? else {
            return Ok(None);
        };
        let redis = &self.inner.redis;
        let (frequency, emotives, metadata) = tokio::try_join!(
            redis.get_frequency(kb, hex),
            redis.get_emotives(kb, hex),
            redis.get_metadata(kb, hex),
        )?;
        let emotives = emotives
            .iter()
            .filter_map(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
            .collect();
        Ok(Some(StoredPattern {
            name: name.to_string(),
            pattern_data: body.pattern_data,
            length: body.length,
            frequency,
            emotives,
            metadata,
        }))
    }

    /// Removes everything of `kb` from both stores (its partitions, learn log included, and
    /// every key under its Redis prefix); no other kb is touched. Every resident index of the
    /// kb, in any process, rebuilds before its next search (its generation is gone).
    pub async fn clear_all(&self, kb: &KbId) -> Result<(), KbError> {
        self.inner.resident.forget(kb);
        self.inner.vectors.forget(kb);
        self.inner.clickhouse.delete_all_patterns(kb).await?;
        self.inner.redis.delete_all_metadata(kb).await?;
        // The SCAN above may miss a generation a search set while it ran.
        self.inner.redis.reset_index_generation(kb).await?;
        self.inner.resident.forget(kb);
        self.inner.vectors.forget(kb);
        Ok(())
    }

    /// The `k` learned vectors of `kb` nearest `query` (Euclidean, exact), nearest first, with
    /// the kb's vector dimension; no names when `query` has another dimension. Reflects every
    /// vector learn acknowledged before the call began, by any process.
    pub async fn nearest_vectors(
        &self,
        kb: &KbId,
        query: &[f64],
        k: usize,
    ) -> Result<NearestVectors, KbError> {
        let inner = &self.inner;
        inner
            .vectors
            .nearest(&inner.clickhouse, &inner.redis, kb, query, k)
            .await
    }

    /// Stores observed vectors as learned (a session's vectors, when it learns): durable in
    /// ClickHouse, then announced to every process. The kb's first vector locks its dimension;
    /// vectors of another dimension are not stored (counted in the result), nor are vectors
    /// the kb has already.
    pub async fn learn_vectors(
        &self,
        kb: &KbId,
        vectors: &[ObservedVector],
    ) -> Result<VectorsLearned, KbError> {
        let Some(first) = vectors.first() else {
            return Ok(VectorsLearned::default());
        };
        let inner = &self.inner;
        let names = vectors.iter().map(|vector| vector.name.clone()).collect();
        let (stored_dimension, unknown) = inner
            .vectors
            .unknown(&inner.clickhouse, &inner.redis, kb, names)
            .await?;
        // Stored vectors keep their dimension even when Redis lost the lock (a rehydrate).
        let dimension = inner
            .redis
            .lock_vector_dimension(kb, stored_dimension.unwrap_or(first.components.len()))
            .await?;
        let mut seen = std::collections::HashSet::new();
        let fitting: Vec<&ObservedVector> = vectors
            .iter()
            .filter(|vector| vector.components.len() == dimension)
            .filter(|vector| seen.insert(vector.name.as_str()))
            .collect();
        let refused = vectors
            .iter()
            .filter(|vector| vector.components.len() != dimension)
            .count();
        #[allow(clippy::cast_possible_truncation)]
        let rows: Vec<VectorRow> = fitting
            .into_iter()
            .filter(|vector| unknown.contains(&vector.name))
            .map(|vector| VectorRow {
                kb_id: kb.to_string(),
                name: vector.name.clone(),
                components: vector.components.iter().map(|&x| x as f32).collect(),
            })
            .collect();
        inner.clickhouse.insert_vectors(&rows).await?;
        let names: Vec<String> = rows.iter().map(|row| row.name.clone()).collect();
        inner.redis.announce_vectors(kb, &names).await?;
        Ok(VectorsLearned {
            stored: rows.len(),
            refused,
        })
    }

    /// [`Self::clear_all`] for throwaway kbs: refuses unless the id starts with `test_` or
    /// `force` is set.
    pub async fn drop_database(&self, kb: &KbId, force: bool) -> Result<(), KbError> {
        if !force && !kb.as_str().starts_with("test_") {
            return Err(KbError::DropRefused(kb.to_string()));
        }
        self.clear_all(kb).await
    }

    /// Statistics of every symbol of `kb`.
    pub async fn symbol_stats(&self, kb: &KbId) -> Result<BTreeMap<String, SymbolStats>, KbError> {
        Ok(self.inner.redis.all_symbol_stats(kb).await?)
    }

    /// One symbol's affinity (emotive -> running sum); empty when it has none.
    pub async fn symbol_affinity(
        &self,
        kb: &KbId,
        symbol: &str,
    ) -> Result<BTreeMap<String, f64>, KbError> {
        Ok(self.inner.redis.symbol_affinity(kb, symbol).await?)
    }

    /// Every symbol's affinity, for the symbols that have one.
    pub async fn all_affinities(
        &self,
        kb: &KbId,
    ) -> Result<BTreeMap<String, BTreeMap<String, f64>>, KbError> {
        Ok(self.inner.redis.all_affinities(kb).await?)
    }

    /// The kb's global counters.
    pub async fn global_counters(&self, kb: &KbId) -> Result<GlobalCounters, KbError> {
        Ok(self.inner.redis.global_counters(kb).await?)
    }

    /// Number of distinct patterns of `kb`.
    pub async fn count_patterns(&self, kb: &KbId) -> Result<u64, KbError> {
        Ok(self.inner.redis.count_patterns(kb).await?)
    }
}

fn validate_context(context: &LearnContext) -> Result<(), KbError> {
    if !(1..=MAX_PERSISTENCE).contains(&context.persistence) {
        return Err(KbError::InvalidInput {
            field: "persistence",
            reason: format!("{} is not in 1..={MAX_PERSISTENCE}", context.persistence),
        });
    }
    context.emotives.iter().try_for_each(validate_emotives)
}

/// The largest emotive magnitude a learn takes. Affinities are running sums over every learn
/// (`HINCRBYFLOAT`), which fails on an infinite result; values this small keep every mean and
/// sum finite for any realistic number of learns.
pub const MAX_EMOTIVE_MAGNITUDE: f64 = 1e12;

/// Checks one observation's emotives: each a finite number of magnitude at most
/// [`MAX_EMOTIVE_MAGNITUDE`].
pub fn validate_emotives(emotives: &BTreeMap<String, f64>) -> Result<(), KbError> {
    match emotives
        .iter()
        .find(|(_, v)| !(v.is_finite() && v.abs() <= MAX_EMOTIVE_MAGNITUDE))
    {
        Some((key, value)) => Err(KbError::InvalidInput {
            field: "emotives",
            reason: format!(
                "{key:?} is {value}, not a number within -{MAX_EMOTIVE_MAGNITUDE:e}..={MAX_EMOTIVE_MAGNITUDE:e}"
            ),
        }),
        None => Ok(()),
    }
}
