//! `ClickHouseStore` (direct reads and batch writes) and `ClickHouseWriter` (the same writes,
//! group-committed across concurrent callers).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clickhouse::Client;
use clickhouse::sql::Identifier;
use kato_core::KbId;

use crate::ClickHouseError;
use crate::group_commit::{BatchSink, Finished, GroupCommit, GroupCommitConfig, GroupCommitError};
use crate::rows::{LearnLogRow, PatternRow, name_bytes};
use crate::schema;
use crate::topology::Topology;

/// How long one call may wait for ClickHouse unless [`ClickHouseStore::with_timeout`] says
/// otherwise: a hung server makes calls fail after it instead of holding them forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Every table that holds rows of a kb (each is partitioned by kb_id).
const KB_TABLES: [&str; 3] = ["patterns_data", "learn_log", "vectors"];

/// What one learn writes to ClickHouse: the pattern body and the log row (two rows; there
/// are no per-symbol or per-band index rows).
#[derive(Debug, Clone, PartialEq)]
pub struct PatternWrite {
    /// The pattern body.
    pub pattern: PatternRow,
    /// The log entry; its `seq` is assigned at commit (whatever is given is replaced).
    pub learn: LearnLogRow,
}

/// Direct access to kato's tables in one database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClickHouseStore {
    client: Client,
    database: String,
    topology: Topology,
    sequence: Arc<LearnSequence>,
    timeout: Duration,
}

impl ClickHouseStore {
    /// A store over `database` (which [`schema::ensure_schema`] has prepared).
    ///
    /// Inserts run with `async_insert=0`: an insert returns only once its rows are written and
    /// visible (some builds, chdb among them, default to asynchronous inserts). Every call
    /// gives up after [`DEFAULT_TIMEOUT`].
    pub fn new(client: Client, database: &str) -> Result<Self, ClickHouseError> {
        schema::validate_database_name(database)?;
        let client = client
            .with_database(database)
            .with_setting("async_insert", "0")
            // A batch may span any number of kbs, i.e. partitions.
            .with_setting("max_partitions_per_insert_block", "0");
        Ok(Self {
            client,
            database: database.to_owned(),
            topology: Topology::Single,
            sequence: Arc::new(LearnSequence::default()),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// This store on `topology` (whose schema [`schema::ensure_schema_on`] has prepared).
    #[must_use]
    pub fn with_topology(mut self, topology: Topology) -> Self {
        for (name, value) in topology.client_settings() {
            self.client = self.client.with_setting(*name, *value);
        }
        self.topology = topology;
        self
    }

    /// `ALTER TABLE <table> <rest>` with the table bound: on a cluster the table's `_local`
    /// form `ON CLUSTER` (a `Distributed` table takes no `ALTER`). `rest`'s own placeholders
    /// are bound by the caller.
    fn alter(&self, table: &str, rest: &str) -> clickhouse::query::Query {
        let (target, cluster) = self.topology.alter_target(table);
        let on_cluster = if cluster.is_some() {
            " ON CLUSTER ?"
        } else {
            ""
        };
        let query = self
            .client
            .query(&format!("ALTER TABLE ?{on_cluster} {rest}"))
            .bind(Identifier(target.as_str()));
        match cluster {
            Some(cluster) => query.bind(Identifier(cluster)),
            None => query,
        }
    }

    /// The store with every call giving up after `timeout` ([`ClickHouseError::Timeout`]).
    /// A call that gives up is abandoned: ClickHouse may still carry out an insert whose rows
    /// it had received.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs one call to ClickHouse within the timeout.
    pub(crate) async fn bounded<T, E: Into<ClickHouseError>>(
        &self,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, ClickHouseError> {
        within(self.timeout, call).await
    }

    /// The timeout of every call.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The database this store writes to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The underlying client (with the database set).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Writes a batch: one INSERT of the bodies into `patterns_data` and one of the learn log,
    /// sent at once and run side by side. Returns each write's log sequence number, in order;
    /// resolves only after both inserts were acknowledged, so an acknowledged learn has its
    /// body and its log row. A failure or a crash can leave either without the other (a body
    /// without a log row, or a log row whose body never landed): neither learn was
    /// acknowledged, and `kato-kb`'s verify reports both and rehydrate removes both.
    pub async fn insert_batch(&self, writes: &[PatternWrite]) -> Result<Vec<u64>, ClickHouseError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        for write in writes {
            checked_name(&write.pattern.name)?;
        }
        let seqs: Vec<u64> = writes.iter().map(|_| self.sequence.next()).collect();
        // Rows of one kb next to each other: one block per partition.
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by(|&a, &b| writes[a].pattern.kb_id.cmp(&writes[b].pattern.kb_id));

        let patterns = async {
            let mut insert = self.client.insert::<PatternRow>("patterns_data").await?;
            for &i in &order {
                insert.write(&writes[i].pattern).await?;
            }
            insert.end().await
        };
        let log = async {
            let mut insert = self.client.insert::<LearnLogRow>("learn_log").await?;
            for &i in &order {
                let mut row = writes[i].learn.clone();
                row.seq = seqs[i];
                insert.write(&row).await?;
            }
            insert.end().await
        };
        self.bounded(async { tokio::try_join!(patterns, log) })
            .await?;
        Ok(seqs)
    }

    /// Removes every row of `kb` from every table (one `DROP PARTITION` each; a kb with no
    /// rows is fine).
    pub async fn delete_all_patterns(&self, kb: &KbId) -> Result<(), ClickHouseError> {
        for table in KB_TABLES {
            self.bounded(
                self.alter(table, "DROP PARTITION ?")
                    .bind(kb.as_str())
                    .execute(),
            )
            .await?;
        }
        Ok(())
    }

    /// Checks that ClickHouse answers a query.
    pub async fn ping(&self) -> Result<(), ClickHouseError> {
        self.bounded(self.client.query("SELECT 1").fetch_one::<u8>())
            .await?;
        Ok(())
    }

    /// Number of distinct patterns of `kb`.
    pub async fn count_patterns(&self, kb: &KbId) -> Result<u64, ClickHouseError> {
        self.bounded(
            self.client
                .query("SELECT uniqExact(name) FROM patterns_data WHERE kb_id = ?")
                .bind(kb.as_str())
                .fetch_one::<u64>(),
        )
        .await
    }

    /// Whether `kb` has a pattern with the bare name `name`.
    pub async fn pattern_exists(&self, kb: &KbId, name: &str) -> Result<bool, ClickHouseError> {
        let found = self
            .bounded(
                self.client
                    .query("SELECT count() FROM patterns_data WHERE kb_id = ? AND name = ?")
                    .bind(kb.as_str())
                    .bind(name)
                    .fetch_one::<u64>(),
            )
            .await?;
        Ok(found > 0)
    }

    /// The body of pattern `name` of `kb` (duplicates collapse to one).
    pub async fn get_pattern_data(
        &self,
        kb: &KbId,
        name: &str,
    ) -> Result<Option<PatternRow>, ClickHouseError> {
        self.bounded(
            self.client
                .query("SELECT ?fields FROM patterns_data WHERE kb_id = ? AND name = ? LIMIT 1")
                .bind(kb.as_str())
                .bind(name)
                .fetch_optional::<PatternRow>(),
        )
        .await
    }

    /// Every pattern body of `kb`, one per name, sorted by name.
    pub async fn pattern_bodies(&self, kb: &KbId) -> Result<Vec<PatternRow>, ClickHouseError> {
        self.bounded(
            self.client
            .query(
                "SELECT ?fields FROM patterns_data WHERE kb_id = ? ORDER BY name LIMIT 1 BY name",
            )
            .bind(kb.as_str())
            .fetch_all::<PatternRow>(),
        )
        .await
    }

    /// Names of `kb`'s pattern bodies that no learn-log row accounts for (left by a learn whose
    /// log insert failed or was cut by a crash), sorted.
    pub async fn orphan_pattern_names(&self, kb: &KbId) -> Result<Vec<String>, ClickHouseError> {
        self.bounded(
            self.client
                .query(
                    "SELECT DISTINCT name FROM patterns_data WHERE kb_id = ? \
                 AND name NOT IN (SELECT name FROM learn_log WHERE kb_id = ?) ORDER BY name",
                )
                .bind(kb.as_str())
                .bind(kb.as_str())
                .fetch_all::<String>(),
        )
        .await
    }

    /// Deletes the named patterns' bodies from `kb` (a synchronous mutation: a repair tool, not
    /// a hot path).
    pub async fn delete_pattern_bodies(
        &self,
        kb: &KbId,
        names: &[String],
    ) -> Result<(), ClickHouseError> {
        self.delete_named_rows("patterns_data", kb, names).await
    }

    /// Deletes every learn-log row of `kb` for the named patterns (a synchronous mutation: a
    /// repair tool, not a hot path).
    pub async fn delete_learn_log_rows(
        &self,
        kb: &KbId,
        names: &[String],
    ) -> Result<(), ClickHouseError> {
        self.delete_named_rows("learn_log", kb, names).await
    }

    async fn delete_named_rows(
        &self,
        table: &str,
        kb: &KbId,
        names: &[String],
    ) -> Result<(), ClickHouseError> {
        if names.is_empty() {
            return Ok(());
        }
        // mutations_sync = 2: done on every replica before this answers.
        self.bounded(
            self.alter(
                table,
                "DELETE WHERE kb_id = ? AND has(?, name) SETTINGS mutations_sync = 2",
            )
            .bind(kb.as_str())
            .bind(names)
            .execute(),
        )
        .await
    }

    /// The learn log of `kb` in commit order (duplicate rows collapse to one).
    pub async fn learn_log(&self, kb: &KbId) -> Result<Vec<LearnLogRow>, ClickHouseError> {
        self.bounded(
            self.client
                .query(
                    "SELECT ?fields FROM learn_log FINAL WHERE kb_id = ? ORDER BY seq \
                 SETTINGS do_not_merge_across_partitions_select_final = 1",
                )
                .bind(kb.as_str())
                .fetch_all::<LearnLogRow>(),
        )
        .await
    }
}

/// `call`, failing with [`ClickHouseError::Timeout`] if it does not finish within `timeout`.
pub(crate) async fn within<T, E: Into<ClickHouseError>>(
    timeout: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, ClickHouseError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(outcome) => outcome.map_err(Into::into),
        Err(_) => Err(ClickHouseError::Timeout(timeout)),
    }
}

/// Refuses a pattern name that is not 40 lowercase hex digits.
fn checked_name(name: &str) -> Result<(), ClickHouseError> {
    match name_bytes(name) {
        Some(_) => Ok(()),
        None => Err(ClickHouseError::InvalidPatternName(name.to_owned())),
    }
}

/// Learn-log sequence numbers: nanoseconds since the epoch, forced to increase, so the numbers
/// of one writer follow its commit order and those of several writers interleave by time.
#[derive(Debug, Default)]
struct LearnSequence {
    last: AtomicU64,
}

impl LearnSequence {
    fn next(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

impl BatchSink for ClickHouseStore {
    type Item = PatternWrite;
    type Output = u64;
    type Error = ClickHouseError;
    type Finish = Finished<u64, ClickHouseError>;

    async fn commit(&self, items: Vec<PatternWrite>) -> Result<Self::Finish, ClickHouseError> {
        Ok(std::future::ready(Ok(self.insert_batch(&items).await?)))
    }
}

/// Group-committed writes to ClickHouse, shared by every caller of a process.
///
/// Reads go straight to the store ([`ClickHouseWriter::store`]).
#[derive(Debug, Clone)]
pub struct ClickHouseWriter {
    store: ClickHouseStore,
    group: GroupCommit<ClickHouseStore>,
}

impl ClickHouseWriter {
    /// Spawns the writer task on the current tokio runtime.
    pub fn spawn(store: ClickHouseStore, config: GroupCommitConfig) -> Self {
        let group = GroupCommit::spawn(store.clone(), config);
        Self { store, group }
    }

    /// The store behind the writer, for reads.
    pub fn store(&self) -> &ClickHouseStore {
        &self.store
    }

    /// Writes one pattern (its body and log row); resolves after ClickHouse
    /// acknowledged the batch that carried it. Returns the learn's log sequence number.
    pub async fn write_pattern(&self, write: PatternWrite) -> Result<u64, ClickHouseError> {
        // Checked here so a bad name fails its own caller, not the batch it would have joined.
        checked_name(&write.pattern.name)?;
        self.group
            .submit(write)
            .await
            .map_err(ClickHouseError::from)
    }

    /// Writes several patterns; results are in input order.
    pub async fn write_patterns(
        &self,
        writes: Vec<PatternWrite>,
    ) -> Vec<Result<u64, ClickHouseError>> {
        let checks: Vec<Result<(), ClickHouseError>> = writes
            .iter()
            .map(|w| checked_name(&w.pattern.name))
            .collect();
        let valid = writes
            .into_iter()
            .zip(&checks)
            .filter_map(|(write, check)| check.is_ok().then_some(write))
            .collect();
        let mut committed = self.group.submit_many(valid).await.into_iter();
        checks
            .into_iter()
            .map(|check| {
                check?;
                committed
                    .next()
                    .unwrap_or(Err(GroupCommitError::WriterStopped))
                    .map_err(ClickHouseError::from)
            })
            .collect()
    }
}

impl From<GroupCommitError<ClickHouseError>> for ClickHouseError {
    fn from(error: GroupCommitError<ClickHouseError>) -> Self {
        match error {
            GroupCommitError::Batch(cause) => ClickHouseError::BatchFailed(cause),
            GroupCommitError::WriterStopped => ClickHouseError::WriterStopped,
        }
    }
}
