//! `cargo xtask bench write`: distinct patterns through ClickHouseWriter + RedisWriter with
//! concurrent callers; prints one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kato_clickhouse::{ClickHouseStore, ClickHouseWriter, GroupCommitConfig, schema};
use kato_core::{KbId, MinHashConfig, MinHasher, Pattern};
use kato_kb::records::LearnRecords;
use kato_redis::{RedisConfig, RedisWriter};

use super::workload::{Zipf, distinct_patterns, events_with};
use crate::services;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WriteArgs {
    /// Distinct patterns to write.
    #[arg(long, default_value_t = 100_000)]
    patterns: usize,
    /// Vocabulary size (Zipf-distributed).
    #[arg(long, default_value_t = 10_000)]
    vocab: usize,
    /// Concurrent callers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Patterns per call (each caller uses the writers' batch forms).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Write to one store only, to see where the time goes.
    #[arg(long, value_enum)]
    only: Option<Store>,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

/// A store of the write path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Store {
    Clickhouse,
    Redis,
}

pub(crate) fn run(args: &WriteArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
        // Writers built without optimisation would measure the compiler, not the design.
        return super::rerun_optimized();
    }
    let report = services::with_throwaway("bench", |urls| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(measure(args, &urls.clickhouse, &urls.redis))
    })?;
    if args.json {
        println!("{report}");
    } else {
        eprintln!("{report}");
        println!(
            "write: {} patterns, {} callers x {} per call: {:.0} patterns/s, p99 {:.1} ms per call",
            report["patterns"],
            report["concurrency"],
            report["batch"],
            report["patterns_per_sec"],
            report["p99_ms"]
        );
    }
    Ok(0)
}

fn workload(args: &WriteArgs) -> Vec<Pattern> {
    let zipf = Zipf::new(args.vocab);
    distinct_patterns(args.patterns, args.seed, |rng| {
        let total = rng.between(5, 20);
        events_with(total, &zipf, rng)
    })
}

async fn measure(
    args: &WriteArgs,
    clickhouse_url: &str,
    redis_url: &str,
) -> Result<serde_json::Value> {
    let database = format!("kato_bench_{}", std::process::id());
    let client = kato_clickhouse::connect(clickhouse_url);
    schema::ensure_schema(&client, &database).await?;
    let store = ClickHouseStore::new(client.clone(), &database)?;
    let writer = ClickHouseWriter::spawn(store.clone(), GroupCommitConfig::default());
    let redis = RedisWriter::connect(redis_url, RedisConfig::default()).await?;
    let kb = KbId::new(format!("bench_write_{}", std::process::id()))?;
    let minhasher = Arc::new(MinHasher::new(MinHashConfig::default()));

    eprintln!(
        "bench write: generating {} distinct patterns (vocabulary {})",
        args.patterns, args.vocab
    );
    let patterns = Arc::new(workload(args));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let progress = tokio::spawn({
        let done = Arc::clone(&done);
        let total = args.patterns;
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                eprintln!("bench write: {} / {total}", done.load(Ordering::Relaxed));
            }
        }
    });
    let callers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (patterns, next, done) =
                (Arc::clone(&patterns), Arc::clone(&next), Arc::clone(&done));
            let (writer, redis, kb, minhasher) = (
                writer.clone(),
                redis.clone(),
                kb.clone(),
                Arc::clone(&minhasher),
            );
            let batch = args.batch.max(1);
            let only = args.only;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let start = next.fetch_add(batch, Ordering::Relaxed);
                    if start >= patterns.len() {
                        return Ok::<_, anyhow::Error>(latencies);
                    }
                    let chunk = &patterns[start..(start + batch).min(patterns.len())];
                    let call = Instant::now();
                    let mut writes = Vec::with_capacity(chunk.len());
                    let mut updates = Vec::with_capacity(chunk.len());
                    for pattern in chunk {
                        let (write, update) =
                            LearnRecords::build(&kb, pattern, &minhasher, &[], Vec::new(), 5)?
                                .into_parts();
                        writes.push(write);
                        updates.push(update);
                    }
                    if only != Some(Store::Redis) {
                        for result in writer.write_patterns(writes).await {
                            result?;
                        }
                    }
                    if only != Some(Store::Clickhouse) {
                        redis.apply_learns(&updates).await?;
                    }
                    latencies.push(call.elapsed());
                    done.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for caller in callers {
        latencies.extend(caller.await.context("a caller panicked")??);
    }
    let elapsed = started.elapsed();
    progress.abort();

    let expected = args.patterns as u64;
    if args.only != Some(Store::Redis) {
        let written = store.count_patterns(&kb).await?;
        anyhow::ensure!(
            written == expected,
            "ClickHouse holds {written} patterns, expected {expected}"
        );
    }
    if args.only != Some(Store::Clickhouse) {
        let counted = redis.count_patterns(&kb).await?;
        anyhow::ensure!(
            counted == expected,
            "Redis counts {counted} patterns, expected {expected}"
        );
    }

    redis.delete_all_metadata(&kb).await?;
    client
        .query("DROP DATABASE ?")
        .bind(clickhouse::sql::Identifier(&database))
        .execute()
        .await?;

    latencies.sort_unstable();
    Ok(serde_json::json!({
        "bench": "write",
        "patterns": args.patterns,
        "patterns_per_sec": (args.patterns as f64 / elapsed.as_secs_f64()).round(),
        "p99_ms": super::percentile_ms(&latencies, 99),
        "concurrency": args.concurrency,
        "batch": args.batch,
        "vocab": args.vocab,
        "only": args.only,
    }))
}
