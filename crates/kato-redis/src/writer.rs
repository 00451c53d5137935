//! `RedisWriter`: pattern metadata, frequencies, symbol statistics and global counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kato_core::KbId;
use redis::AsyncCommands;

use crate::keys::{KbKeys, metadata_field, parse_metadata_field};
use crate::{RedisConnection, RedisError};

const LEARN_SCRIPT: &str = include_str!("learn.lua");
const FEED_SCRIPT: &str = include_str!("feed.lua");
/// Keys removed per UNLINK when a kb is deleted.
const KEYS_PER_UNLINK: usize = 1000;
/// Keys asked for per SCAN round trip.
const KEYS_PER_SCAN: usize = 1000;

/// Patterns whose values one read pipeline fetches (two commands each; small replies).
pub const READS_PER_PIPELINE: usize = 1000;

/// What Redis holds of one pattern for a prediction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternSummary {
    /// Times learned; 0 when Redis does not know the pattern.
    pub frequency: u64,
    /// The emotive window, oldest first, each entry a JSON object.
    pub emotives: Vec<String>,
}

/// Connection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisConfig {
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long Redis may take to answer one command or pipeline.
    pub response_timeout: Duration,
    /// The most learns one script run applies (bounds how long Redis is busy with one call
    /// and the size of Lua's argument lists).
    pub max_learns_per_script: usize,
    /// The most scripts (or deletions) sent in one pipeline.
    pub max_pipeline: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            max_learns_per_script: 500,
            max_pipeline: 64,
        }
    }
}

/// One learn's Redis update, applied atomically by one script run.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnUpdate {
    /// The kb.
    pub kb: KbId,
    /// The bare 40-hex pattern name.
    pub name: String,
    /// Symbols in the pattern, duplicates counted.
    pub length: u32,
    /// (symbol, occurrences in the pattern) for each distinct symbol.
    pub symbol_counts: Vec<(String, u32)>,
    /// This learn's emotives, one canonical JSON object per observation, oldest first.
    pub emotives: Vec<String>,
    /// Key-wise mean of this learn's emotives (empty when it has none).
    pub emotive_means: Vec<(String, f64)>,
    /// This learn's metadata as (key, value) pairs.
    pub metadata: Vec<(String, String)>,
    /// How many emotive entries the pattern keeps (the newest ones).
    pub persistence: u32,
}

/// What a learn did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnOutcome {
    /// Whether this learn created the pattern.
    pub is_new: bool,
    /// The pattern's frequency after the learn.
    pub frequency: u64,
}

/// Per-symbol statistics of a kb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SymbolStats {
    /// Occurrences summed over every learn (re-learns included).
    pub frequency: u64,
    /// Number of distinct patterns that contain the symbol.
    pub pattern_member_count: u64,
}

/// The global counters of a kb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GlobalCounters {
    /// +1 per new pattern.
    pub total_unique_patterns: u64,
    /// +1 per new pattern (the reference's semantics: equal to `total_unique_patterns`).
    pub total_pattern_frequencies: u64,
    /// Σ pattern length over every learn.
    pub total_symbols_in_patterns_frequencies: u64,
    /// Number of distinct symbols in the kb.
    pub distinct_symbols: u64,
}

/// What a prediction reads of a kb besides its bodies ([`RedisWriter::prediction_values`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PredictionValues {
    /// Per candidate, in the order asked.
    pub summaries: Vec<PatternSummary>,
    /// The kb's global counters.
    pub globals: GlobalCounters,
    /// Per symbol, in the order asked (frequencies 0 unless asked for).
    pub symbols: Vec<SymbolStats>,
}

/// A reply of a pipeline read as `T`.
fn parse<T: redis::FromRedisValue>(value: redis::Value) -> Result<T, RedisError> {
    redis::from_redis_value(value).map_err(|error| RedisError::Command(error.into()))
}

/// One pattern the learn script announced on a kb's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The stream entry's id (read on from here).
    pub id: String,
    /// Its number: announcements are numbered 1, 2, ... per kb, without gaps.
    pub number: u64,
    /// The pattern's bare name.
    pub name: String,
}

/// What a resident index reads of its kb's feed, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRead {
    /// The kb's index generation; empty when the kb has none (cleared, dropped, rehydrated,
    /// or Redis lost its data since).
    pub generation: String,
    /// Patterns announced so far: the number of the newest entry.
    pub announced: u64,
    /// The entries read, oldest first.
    pub entries: Vec<FeedEntry>,
}

/// Writes and reads the Redis side of a kb. Cheap to clone; clones share one multiplexed,
/// self-reconnecting connection.
#[derive(Clone)]
pub struct RedisWriter {
    pub(crate) connection: RedisConnection,
    learn_script: Arc<redis::Script>,
    feed_script: Arc<redis::Script>,
    pub(crate) announce_script: Arc<redis::Script>,
    config: RedisConfig,
}

impl std::fmt::Debug for RedisWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWriter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisWriter {
    /// Connects to the Redis at `url` (e.g. `redis://127.0.0.1:6379`, or a comma-separated list
    /// of a Redis Cluster's nodes; see [`crate::connect`]).
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, RedisError> {
        let connection = crate::connect(url, &config).await?;
        Ok(Self {
            connection,
            learn_script: Arc::new(redis::Script::new(LEARN_SCRIPT)),
            feed_script: Arc::new(redis::Script::new(FEED_SCRIPT)),
            announce_script: Arc::new(redis::Script::new(crate::vectors::ANNOUNCE_SCRIPT)),
            config,
        })
    }

    /// A connection for commands this crate does not wrap (tests, admin tools).
    pub fn connection(&self) -> RedisConnection {
        self.connection.clone()
    }

    /// Applies one learn atomically.
    pub async fn apply_learn(&self, update: &LearnUpdate) -> Result<LearnOutcome, RedisError> {
        let outcomes = self.apply_learns(std::slice::from_ref(update)).await?;
        outcomes
            .into_iter()
            .next()
            .ok_or(RedisError::UnexpectedReply("no learn outcome"))
    }

    /// Applies learns in order, each atomically.
    ///
    /// Consecutive learns of one kb go to Redis as one script run of at most
    /// `max_learns_per_script` learns; the runs are pipelined, `max_pipeline` scripts per
    /// round trip. Each pipeline starts with `SCRIPT LOAD` (a no-op when the script is cached),
    /// so the `EVALSHA`s that follow work even right after Redis restarted with an empty
    /// script cache.
    pub async fn apply_learns(
        &self,
        updates: &[LearnUpdate],
    ) -> Result<Vec<LearnOutcome>, RedisError> {
        let runs = consecutive_groups(updates, self.config.max_learns_per_script, |a, b| {
            a.kb == b.kb
        });
        // A cluster takes a pipeline only within one slot, so there a pipeline holds the runs
        // of one kb; a standalone server takes the runs of several kbs in one.
        let one_kb_per_pipeline = self.connection.is_cluster();
        let pipelines = consecutive_groups(&runs, self.config.max_pipeline, |a, b| {
            !one_kb_per_pipeline || a[0].kb == b[0].kb
        });
        let mut outcomes = Vec::with_capacity(updates.len());
        for scripts in pipelines {
            let mut pipe = redis::pipe();
            pipe.load_script(&self.learn_script).ignore();
            for run in scripts {
                pipe.invoke_script(&self.invocation(run));
            }
            let mut connection = self.connection.clone();
            let replies: Vec<Vec<(u8, u64)>> = pipe.query_async(&mut connection).await?;
            for (run, reply) in scripts.iter().zip(&replies) {
                if reply.len() != run.len() {
                    return Err(RedisError::UnexpectedReply(
                        "a learn script answered for the wrong number of learns",
                    ));
                }
            }
            outcomes.extend(replies.into_iter().flatten().map(|(is_new, frequency)| {
                LearnOutcome {
                    is_new: is_new == 1,
                    frequency,
                }
            }));
        }
        Ok(outcomes)
    }

    /// The script invocation for a run of learns of one kb.
    fn invocation(&self, run: &[LearnUpdate]) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.learn_script.prepare_invoke();
        let Some(first) = run.first() else {
            return invocation;
        };
        let keys = KbKeys::new(&first.kb);
        invocation
            .key(keys.total_unique_patterns())
            .arg(keys.prefix())
            .arg(run.len());
        for update in run {
            invocation
                .arg(&update.name)
                .arg(update.length)
                .arg(update.persistence)
                .arg(update.symbol_counts.len())
                .arg(update.emotives.len())
                .arg(update.metadata.len())
                .arg(update.emotive_means.len());
            for (symbol, count) in &update.symbol_counts {
                invocation.arg(symbol).arg(*count);
            }
            for emotive in &update.emotives {
                invocation.arg(emotive);
            }
            for (key, value) in &update.metadata {
                invocation.arg(metadata_field(key, value));
            }
            for (emotive, mean) in &update.emotive_means {
                // Display of f64 is the shortest text that parses back to the same value.
                invocation.arg(emotive).arg(mean.to_string());
            }
        }
        invocation
    }

    /// Where `kb`'s feed stands: its generation (set to `generation_if_missing` first when it
    /// has none), the number of announcements and the newest entry (none when the feed is
    /// empty). A resident index reads this before loading the kb's bodies, then reads on from
    /// the entry with [`Self::index_feed_after`].
    pub async fn index_feed_position(
        &self,
        kb: &KbId,
        generation_if_missing: &str,
    ) -> Result<FeedRead, RedisError> {
        self.read_feed(kb, generation_if_missing, "", 1).await
    }

    /// `kb`'s generation, announcements and at most `max` entries after the entry `after`
    /// (`"0-0"` for the start), in one atomic read.
    pub async fn index_feed_after(
        &self,
        kb: &KbId,
        after: &str,
        max: usize,
    ) -> Result<FeedRead, RedisError> {
        self.read_feed(kb, "", after, max).await
    }

    async fn read_feed(
        &self,
        kb: &KbId,
        generation_if_missing: &str,
        after: &str,
        max: usize,
    ) -> Result<FeedRead, RedisError> {
        let keys = KbKeys::new(kb);
        self.read_any_feed(
            [keys.index_sequence(), keys.index_feed()],
            &keys,
            generation_if_missing,
            after,
            max,
        )
        .await
    }

    /// Reads the feed whose sequence and stream keys are `feed`, with the kb's generation.
    pub(crate) async fn read_any_feed(
        &self,
        feed: [String; 2],
        keys: &KbKeys,
        generation_if_missing: &str,
        after: &str,
        max: usize,
    ) -> Result<FeedRead, RedisError> {
        let [sequence, stream] = feed;
        let mut connection = self.connection.clone();
        let (generation, announced, raw): (String, u64, Vec<(String, Vec<String>)>) = self
            .feed_script
            .key(keys.index_generation())
            .key(sequence)
            .key(stream)
            .arg(generation_if_missing)
            .arg(after)
            .arg(max.max(1))
            .invoke_async(&mut connection)
            .await?;
        let entries = raw
            .into_iter()
            .map(|(id, fields)| {
                let field = |wanted: &str| {
                    fields
                        .chunks_exact(2)
                        .find(|pair| pair[0] == wanted)
                        .map(|pair| pair[1].clone())
                };
                let number = field("s").and_then(|n| n.parse().ok());
                match (number, field("n")) {
                    (Some(number), Some(name)) => Ok(FeedEntry { id, number, name }),
                    _ => Err(RedisError::UnexpectedReply(
                        "a feed entry without its number or name",
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(FeedRead {
            generation,
            announced,
            entries,
        })
    }

    /// Ends `kb`'s index generation, so every resident index of the kb rebuilds before its
    /// next search (after a clear, a drop or a rehydrate).
    pub async fn reset_index_generation(&self, kb: &KbId) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        let _: u64 = connection.del(KbKeys::new(kb).index_generation()).await?;
        Ok(())
    }

    /// Merges metadata pairs into a pattern's metadata (a set union per key).
    pub async fn write_metadata(
        &self,
        kb: &KbId,
        name: &str,
        metadata: &[(String, String)],
    ) -> Result<(), RedisError> {
        if metadata.is_empty() {
            return Ok(());
        }
        let fields: Vec<(String, &str)> = metadata
            .iter()
            .map(|(k, v)| (metadata_field(k, v), "1"))
            .collect();
        let mut connection = self.connection.clone();
        let () = connection
            .hset_multiple(KbKeys::new(kb).metadata(name), &fields)
            .await?;
        Ok(())
    }

    /// A pattern's metadata: per key, the sorted distinct values.
    pub async fn get_metadata(
        &self,
        kb: &KbId,
        name: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, RedisError> {
        let mut connection = self.connection.clone();
        let fields: Vec<String> = connection.hkeys(KbKeys::new(kb).metadata(name)).await?;
        let mut metadata: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in fields.iter().filter_map(|f| parse_metadata_field(f)) {
            metadata.entry(key).or_default().push(value);
        }
        for values in metadata.values_mut() {
            // Code-point order, as Python's sorted() of str.
            values.sort();
        }
        Ok(metadata)
    }

    /// A pattern's emotive window, oldest first, each entry a JSON object.
    pub async fn get_emotives(&self, kb: &KbId, name: &str) -> Result<Vec<String>, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection
            .lrange(KbKeys::new(kb).emotives(name), 0, -1)
            .await?)
    }

    /// Frequency and emotive window of each named pattern, in order (frequency 0 when Redis does
    /// not know the pattern): what a prediction needs per candidate, read in pipelines of
    /// [`READS_PER_PIPELINE`] patterns.
    pub async fn pattern_summaries(
        &self,
        kb: &KbId,
        names: &[String],
    ) -> Result<Vec<PatternSummary>, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let mut summaries = Vec::with_capacity(names.len());
        for chunk in names.chunks(READS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for name in chunk {
                pipe.get(keys.frequency(name))
                    .lrange(keys.emotives(name), 0, -1);
            }
            let replies: Vec<(Option<u64>, Vec<String>)> =
                pipe.query_async(&mut connection).await?;
            summaries.extend(
                replies
                    .into_iter()
                    .map(|(frequency, emotives)| PatternSummary {
                        frequency: frequency.unwrap_or(0),
                        emotives,
                    }),
            );
        }
        Ok(summaries)
    }

    /// The candidates' summaries, the kb's global counters and the symbols' statistics (their
    /// frequencies only when `with_frequencies`), in one pipeline of up to
    /// [`READS_PER_PIPELINE`] candidates (more candidates take more round trips).
    pub async fn prediction_values(
        &self,
        kb: &KbId,
        names: &[String],
        symbols: &[&str],
        with_frequencies: bool,
    ) -> Result<PredictionValues, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.get(keys.total_unique_patterns())
            .get(keys.total_pattern_frequencies())
            .get(keys.total_symbols_in_patterns_frequencies())
            .hlen(keys.symbol_frequencies());
        if !symbols.is_empty() {
            pipe.cmd("HMGET")
                .arg(keys.symbol_pattern_counts())
                .arg(symbols);
            if with_frequencies {
                pipe.cmd("HMGET")
                    .arg(keys.symbol_frequencies())
                    .arg(symbols);
            }
        }
        let (first, rest) = names.split_at(names.len().min(READS_PER_PIPELINE));
        if !first.is_empty() {
            // One command for every frequency: the keys share the kb's hash tag.
            pipe.cmd("MGET").arg(
                first
                    .iter()
                    .map(|name| keys.frequency(name))
                    .collect::<Vec<_>>(),
            );
        }
        for name in first {
            pipe.lrange(keys.emotives(name), 0, -1);
        }
        let replies: Vec<redis::Value> = pipe.query_async(&mut connection).await?;
        let mut replies = replies.into_iter();
        let mut next = || {
            replies.next().ok_or(RedisError::UnexpectedReply(
                "a prediction read answered too few replies",
            ))
        };
        let counter = |value: redis::Value| -> Result<u64, RedisError> {
            Ok(parse::<Option<u64>>(value)?.unwrap_or(0))
        };
        let globals = GlobalCounters {
            total_unique_patterns: counter(next()?)?,
            total_pattern_frequencies: counter(next()?)?,
            total_symbols_in_patterns_frequencies: counter(next()?)?,
            distinct_symbols: counter(next()?)?,
        };
        let mut stats = vec![SymbolStats::default(); symbols.len()];
        if !symbols.is_empty() {
            let counts: Vec<Option<u64>> = parse(next()?)?;
            for (stat, count) in stats.iter_mut().zip(counts) {
                stat.pattern_member_count = count.unwrap_or(0);
            }
            if with_frequencies {
                let frequencies: Vec<Option<u64>> = parse(next()?)?;
                for (stat, frequency) in stats.iter_mut().zip(frequencies) {
                    stat.frequency = frequency.unwrap_or(0);
                }
            }
        }
        let mut summaries = Vec::with_capacity(names.len());
        if !first.is_empty() {
            let frequencies: Vec<Option<u64>> = parse(next()?)?;
            if frequencies.len() != first.len() {
                return Err(RedisError::UnexpectedReply(
                    "a prediction read answered too few frequencies",
                ));
            }
            for frequency in frequencies {
                summaries.push(PatternSummary {
                    frequency: frequency.unwrap_or(0),
                    emotives: parse(next()?)?,
                });
            }
        }
        if !rest.is_empty() {
            summaries.extend(self.pattern_summaries(kb, rest).await?);
        }
        Ok(PredictionValues {
            summaries,
            globals,
            symbols: stats,
        })
    }

    /// Adds one to a pattern's frequency and returns the new value.
    pub async fn increment_frequency(&self, kb: &KbId, name: &str) -> Result<u64, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.incr(KbKeys::new(kb).frequency(name), 1).await?)
    }

    /// A pattern's frequency; 0 when Redis does not know it.
    pub async fn get_frequency(&self, kb: &KbId, name: &str) -> Result<u64, RedisError> {
        let mut connection = self.connection.clone();
        let frequency: Option<u64> = connection.get(KbKeys::new(kb).frequency(name)).await?;
        Ok(frequency.unwrap_or(0))
    }

    /// Whether Redis knows the pattern.
    pub async fn pattern_exists(&self, kb: &KbId, name: &str) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.exists(KbKeys::new(kb).frequency(name)).await?)
    }

    /// Checks that Redis answers a command.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }

    /// The memory Redis uses (`INFO memory`'s `used_memory`; on a cluster, summed over the
    /// nodes, which each answer).
    pub async fn used_memory_bytes(&self) -> Result<u64, RedisError> {
        fn texts(value: &redis::Value, into: &mut Vec<String>) {
            match value {
                redis::Value::BulkString(bytes) => {
                    into.push(String::from_utf8_lossy(bytes).into_owned());
                }
                redis::Value::SimpleString(text) => into.push(text.clone()),
                redis::Value::VerbatimString { text, .. } => into.push(text.clone()),
                redis::Value::Array(values) | redis::Value::Set(values) => {
                    for value in values {
                        texts(value, into);
                    }
                }
                redis::Value::Map(pairs) => {
                    for (_, value) in pairs {
                        texts(value, into);
                    }
                }
                _ => {}
            }
        }
        let mut connection = self.connection.clone();
        let info: redis::Value = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut connection)
            .await?;
        let mut replies = Vec::new();
        texts(&info, &mut replies);
        let used: Vec<u64> = replies
            .iter()
            .flat_map(|reply| reply.lines())
            .filter_map(|line| line.strip_prefix("used_memory:"))
            .filter_map(|value| value.trim().parse().ok())
            .collect();
        if used.is_empty() {
            return Err(RedisError::UnexpectedReply(
                "INFO memory answered no used_memory",
            ));
        }
        Ok(used.iter().sum())
    }

    /// Number of distinct patterns of the kb (a counter, not a scan).
    pub async fn count_patterns(&self, kb: &KbId) -> Result<u64, RedisError> {
        Ok(self.global_counters(kb).await?.total_unique_patterns)
    }

    /// The kb's global counters.
    pub async fn global_counters(&self, kb: &KbId) -> Result<GlobalCounters, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let (unique, frequencies, symbols, distinct): (Option<u64>, Option<u64>, Option<u64>, u64) =
            redis::pipe()
                .get(keys.total_unique_patterns())
                .get(keys.total_pattern_frequencies())
                .get(keys.total_symbols_in_patterns_frequencies())
                .hlen(keys.symbol_frequencies())
                .query_async(&mut connection)
                .await?;
        Ok(GlobalCounters {
            total_unique_patterns: unique.unwrap_or(0),
            total_pattern_frequencies: frequencies.unwrap_or(0),
            total_symbols_in_patterns_frequencies: symbols.unwrap_or(0),
            distinct_symbols: distinct,
        })
    }

    /// Statistics of the given symbols (zero for a symbol the kb has never seen), in order.
    pub async fn symbol_stats(
        &self,
        kb: &KbId,
        symbols: &[String],
    ) -> Result<Vec<SymbolStats>, RedisError> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let (frequencies, member_counts): (Vec<Option<u64>>, Vec<Option<u64>>) = redis::pipe()
            .cmd("HMGET")
            .arg(keys.symbol_frequencies())
            .arg(symbols)
            .cmd("HMGET")
            .arg(keys.symbol_pattern_counts())
            .arg(symbols)
            .query_async(&mut connection)
            .await?;
        Ok(frequencies
            .into_iter()
            .zip(member_counts)
            .map(|(frequency, members)| SymbolStats {
                frequency: frequency.unwrap_or(0),
                pattern_member_count: members.unwrap_or(0),
            })
            .collect())
    }

    /// Statistics of every symbol of the kb.
    pub async fn all_symbol_stats(
        &self,
        kb: &KbId,
    ) -> Result<BTreeMap<String, SymbolStats>, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let (frequencies, member_counts): (HashMap<String, u64>, HashMap<String, u64>) =
            redis::pipe()
                .hgetall(keys.symbol_frequencies())
                .hgetall(keys.symbol_pattern_counts())
                .query_async(&mut connection)
                .await?;
        let mut stats: BTreeMap<String, SymbolStats> = BTreeMap::new();
        for (symbol, frequency) in frequencies {
            stats.entry(symbol).or_default().frequency = frequency;
        }
        for (symbol, members) in member_counts {
            stats.entry(symbol).or_default().pattern_member_count = members;
        }
        Ok(stats)
    }

    /// A symbol's affinity: per emotive, the running sum of the learns' means.
    pub async fn symbol_affinity(
        &self,
        kb: &KbId,
        symbol: &str,
    ) -> Result<BTreeMap<String, f64>, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.hgetall(KbKeys::new(kb).affinity(symbol)).await?)
    }

    /// Every symbol's affinity, for the symbols that have one (the kb's symbols from
    /// `symbols:freq`, their affinity hashes read in pipelines of `max_pipeline`).
    pub async fn all_affinities(
        &self,
        kb: &KbId,
    ) -> Result<BTreeMap<String, BTreeMap<String, f64>>, RedisError> {
        let mut connection = self.connection.clone();
        let symbols: Vec<String> = connection
            .hkeys(KbKeys::new(kb).symbol_frequencies())
            .await?;
        let affinities = self.symbol_affinities(kb, &symbols).await?;
        Ok(symbols
            .into_iter()
            .zip(affinities)
            .filter(|(_, affinity)| !affinity.is_empty())
            .collect())
    }

    /// The affinity of each of `symbols` (empty when it has none), in order, read in pipelines.
    pub async fn symbol_affinities(
        &self,
        kb: &KbId,
        symbols: &[String],
    ) -> Result<Vec<BTreeMap<String, f64>>, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let mut affinities = Vec::with_capacity(symbols.len());
        for chunk in symbols.chunks(self.config.max_pipeline.max(1)) {
            let mut pipe = redis::pipe();
            for symbol in chunk {
                pipe.hgetall(keys.affinity(symbol));
            }
            let maps: Vec<BTreeMap<String, f64>> = pipe.query_async(&mut connection).await?;
            affinities.extend(maps);
        }
        Ok(affinities)
    }

    /// Deletes every key of the kb (SCAN over its exact prefix, then UNLINK); returns how many.
    pub async fn delete_all_metadata(&self, kb: &KbId) -> Result<u64, RedisError> {
        let keys = self.scan_kb_keys(kb).await?;
        let mut connection = self.connection.clone();
        let mut deleted = 0;
        for chunk in keys.chunks(KEYS_PER_UNLINK) {
            let n: u64 = connection.unlink(chunk).await?;
            deleted += n;
        }
        Ok(deleted)
    }

    /// Every key of the kb, sorted (SCAN over its exact prefix, never KEYS).
    pub async fn scan_kb_keys(&self, kb: &KbId) -> Result<Vec<String>, RedisError> {
        let kb_keys = KbKeys::new(kb);
        let pattern = kb_keys.all_keys_pattern();
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch) = connection
                .scan_page(kb_keys.prefix(), cursor, &pattern, KEYS_PER_SCAN)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Every key of the kb with its value, keyed by the key without the kb's prefix; for
    /// comparing a kb against another or against a rebuilt copy.
    pub async fn dump_kb(&self, kb: &KbId) -> Result<BTreeMap<String, StoredValue>, RedisError> {
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let mut dump = BTreeMap::new();
        let index_keys = keys.index_keys();
        for key in self.scan_kb_keys(kb).await? {
            // The resident indexes' feed is bookkeeping, not a value of the kb.
            if key.starts_with(&index_keys) {
                continue;
            }
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut connection)
                .await?;
            let value = match kind.as_str() {
                "string" => StoredValue::String(connection.get(&key).await?),
                "list" => StoredValue::List(connection.lrange(&key, 0, -1).await?),
                "hash" => StoredValue::Hash(connection.hgetall(&key).await?),
                "set" => StoredValue::Set(connection.smembers(&key).await?),
                // Gone between SCAN and TYPE.
                "none" => continue,
                _ => {
                    return Err(RedisError::UnexpectedReply(
                        "a kb key of a type kato never writes",
                    ));
                }
            };
            let short = key.strip_prefix(keys.prefix()).unwrap_or(&key).to_owned();
            dump.insert(short, value);
        }
        Ok(dump)
    }
}

/// `items` cut into consecutive slices of at most `max` items; an item joins the current slice
/// only when `joins(first of the slice, item)`.
fn consecutive_groups<T>(items: &[T], max: usize, joins: impl Fn(&T, &T) -> bool) -> Vec<&[T]> {
    let mut groups = Vec::new();
    let mut rest = items;
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .take(max.max(1))
            .take_while(|item| joins(first, item))
            .count();
        let (group, tail) = rest.split_at(len);
        groups.push(group);
        rest = tail;
    }
    groups
}

/// The value of one Redis key, as [`RedisWriter::dump_kb`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    /// A string (counters are strings in Redis).
    String(String),
    /// A list, in order.
    List(Vec<String>),
    /// A hash.
    Hash(BTreeMap<String, String>),
    /// A set.
    Set(std::collections::BTreeSet<String>),
}

#[cfg(test)]
mod tests {
    use super::consecutive_groups;

    #[test]
    fn groups_are_consecutive_bounded_and_never_mixed() {
        let items = [1, 1, 1, 2, 2, 1, 3, 3, 3, 3];
        let by_value = consecutive_groups(&items, 3, |a, b| a == b);
        assert_eq!(by_value, [&[1, 1, 1][..], &[2, 2], &[1], &[3, 3, 3], &[3]]);
        let any = consecutive_groups(&items, 4, |_, _| true);
        assert_eq!(any, [&[1, 1, 1, 2][..], &[2, 1, 3, 3], &[3, 3]]);
        assert!(consecutive_groups::<u8>(&[], 4, |_, _| true).is_empty());
        // A bound of 0 still makes progress, one item at a time.
        assert_eq!(
            consecutive_groups(&[5, 5], 0, |_, _| true),
            [&[5][..], &[5]]
        );
    }
}
