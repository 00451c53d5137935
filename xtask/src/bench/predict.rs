//! `cargo xtask bench predict`: learns synthetic patterns into a fresh kb through the learn path
//! the server uses (group commit, both stores, the resident index's feed), loads the kb's
//! resident index cold, then times predictions for STMs cut from learned patterns, optionally
//! checking the first ones against `predict_exhaustive`; prints one JSON line.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kato_core::{KbId, Pattern};
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, LearnContext, SessionConfig};

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
    /// Patterns per `learn_many` call while loading.
    #[arg(long, default_value_t = 20_000)]
    load_batch: usize,
    /// Compare the first N predictions with `predict_exhaustive` (which reads the whole kb
    /// from ClickHouse), byte for byte; any difference fails the bench.
    #[arg(long, default_value_t = 0)]
    verify: usize,
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
            "predict: {} patterns, {} queries: p50 {} ms, p99 {} ms, {} candidates matched on average",
            report["patterns"],
            report["queries"],
            report["p50_ms"],
            report["p99_ms"],
            report["mean_candidates_matched"]
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
    let started = Instant::now();
    let mut loaded = 0;
    let context = LearnContext::default();
    for chunk in patterns.chunks(batch.max(1)) {
        knowledge_base.learn_many(kb, chunk, &context).await?;
        loaded += chunk.len();
        eprintln!(
            "bench predict: learned {loaded} / {} ({:.0} patterns/s)",
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

    // A cold load, as a process that never served the kb does it.
    let started = Instant::now();
    knowledge_base.load_index(&kb).await?;
    let index_load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let index = knowledge_base.index_stats();
    eprintln!(
        "bench predict: resident index loaded in {index_load_ms:.0} ms, {} bytes for {} patterns",
        index.bytes, index.patterns
    );

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
        if done < args.verify {
            let exhaustive = knowledge_base
                .predict_exhaustive(&kb, stm, &settings)
                .await
                .with_context(|| format!("predicting exhaustively for {stm:?}"))?;
            if serde_json::to_string(&predictions)? != serde_json::to_string(&exhaustive)? {
                bail!("prediction {done} differs from predict_exhaustive for {stm:?}");
            }
        }
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
        "mean_candidates_matched": (candidates as f64 / queries).round(),
        "index_load_ms": (index_load_ms * 10.0).round() / 10.0,
        "index_bytes_per_pattern": (index.bytes as f64 / index.patterns.max(1) as f64).round(),
        "verified": args.verify.min(stms.len()),
        "mean_predictions": (returned as f64 / queries).round(),
        "queries": stms.len(),
        "recall_threshold": args.recall_threshold,
        "vocab": args.vocab,
    }))
}
