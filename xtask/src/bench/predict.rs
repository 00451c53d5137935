//! `cargo xtask bench predict`: loads synthetic patterns into a fresh kb through the bulk write
//! path, then times predictions for STMs cut from learned patterns; prints one JSON line.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kato_core::{KbId, MinHasher, Pattern};
use kato_kb::records::LearnRecords;
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, SessionConfig};

use super::workload::{Workload, Zipf, distinct_patterns, events};
use crate::services;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PredictArgs {
    /// Distinct patterns to load.
    #[arg(long, default_value_t = 1_000_000)]
    patterns: usize,
    /// Vocabulary size (Zipf-distributed).
    #[arg(long, default_value_t = 50_000)]
    vocab: usize,
    /// Predictions to time.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// Patterns per bulk write while loading.
    #[arg(long, default_value_t = 20_000)]
    load_batch: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The sessions' recall threshold (the reference's default is 0.1; 0 matches every
    /// pattern of the kb).
    #[arg(long, default_value_t = 0.1)]
    recall_threshold: f64,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &PredictArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
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
            "predict: {} patterns, {} queries: p50 {} ms, p99 {} ms, {} candidates on average",
            report["patterns"],
            report["queries"],
            report["p50_ms"],
            report["p99_ms"],
            report["mean_candidates"]
        );
    }
    Ok(0)
}

fn workload(args: &PredictArgs) -> Vec<Pattern> {
    let zipf = Zipf::new(args.vocab);
    distinct_patterns(args.patterns, args.seed, |rng| {
        let count = rng.between(3, 8);
        events(count, &zipf, rng)
    })
}

async fn load(
    knowledge_base: &KnowledgeBase,
    kb: &KbId,
    patterns: &[Pattern],
    batch: usize,
) -> Result<()> {
    let minhasher = MinHasher::shared_default();
    let started = Instant::now();
    let mut loaded = 0;
    for chunk in patterns.chunks(batch.max(1)) {
        let mut writes = Vec::with_capacity(chunk.len());
        let mut updates = Vec::with_capacity(chunk.len());
        for pattern in chunk {
            let (write, update) =
                LearnRecords::build(kb, pattern, minhasher, &[], Vec::new(), 5)?.into_parts();
            writes.push(write);
            updates.push(update);
        }
        knowledge_base.clickhouse().insert_batch(&writes).await?;
        knowledge_base.redis().apply_learns(&updates).await?;
        loaded += chunk.len();
        eprintln!(
            "bench predict: loaded {loaded} / {} ({:.0} patterns/s)",
            patterns.len(),
            loaded as f64 / started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// STMs of 2 to 3 consecutive events cut from learned patterns.
fn queries(args: &PredictArgs, patterns: &[Pattern]) -> Vec<Vec<Vec<String>>> {
    let mut rng = Workload::new(args.seed ^ 0x5eed);
    (0..args.queries)
        .map(|_| {
            let pattern = &patterns[rng.between(0, patterns.len() - 1)];
            let events = pattern.events();
            let size = rng.between(2, 3).min(events.len());
            let start = rng.between(0, events.len() - size);
            events[start..start + size]
                .iter()
                .map(|event| {
                    event
                        .symbols()
                        .iter()
                        .map(|s| s.as_str().to_owned())
                        .collect()
                })
                .collect()
        })
        .collect()
}

async fn measure(
    args: &PredictArgs,
    clickhouse_url: &str,
    redis_url: &str,
) -> Result<serde_json::Value> {
    let mut config = KnowledgeBaseConfig::new(clickhouse_url, redis_url);
    config.clickhouse_database = format!("kato_bench_{}", std::process::id());
    let knowledge_base = KnowledgeBase::connect(config).await?;
    let kb = KbId::new(format!("bench_predict_{}", std::process::id()))?;

    eprintln!(
        "bench predict: generating {} distinct patterns (vocabulary {})",
        args.patterns, args.vocab
    );
    let patterns = workload(args);
    load(&knowledge_base, &kb, &patterns, args.load_batch).await?;
    let stms = queries(args, &patterns);
    drop(patterns);

    let settings = SessionConfig {
        recall_threshold: Some(args.recall_threshold),
        ..SessionConfig::default()
    }
    .prediction_settings()?;
    let mut latencies: Vec<Duration> = Vec::with_capacity(stms.len());
    let mut candidates = 0usize;
    let mut returned = 0usize;
    for (done, stm) in stms.iter().enumerate() {
        let started = Instant::now();
        let (predictions, count) = knowledge_base
            .predict_counted(&kb, stm, &settings)
            .await
            .with_context(|| format!("predicting for {stm:?}"))?;
        latencies.push(started.elapsed());
        candidates += count;
        returned += predictions.predictions.len();
        if (done + 1) % 100 == 0 {
            eprintln!("bench predict: {} / {} predictions", done + 1, stms.len());
        }
    }
    knowledge_base.drop_database(&kb, true).await?;

    latencies.sort_unstable();
    let queries = stms.len().max(1) as f64;
    Ok(serde_json::json!({
        "bench": "predict",
        "patterns": args.patterns,
        "p50_ms": super::percentile_ms(&latencies, 50),
        "p99_ms": super::percentile_ms(&latencies, 99),
        "mean_candidates": (candidates as f64 / queries).round(),
        "mean_predictions": (returned as f64 / queries).round(),
        "queries": stms.len(),
        "recall_threshold": args.recall_threshold,
        "vocab": args.vocab,
    }))
}
