//! `cargo xtask bench vectors`: learns N random vectors of dimension D into a fresh kb through
//! kato-kb's `learn_vectors` (the path a session's learn takes), starts kato-server over the
//! same stores, then times Q observes through HTTP, each of one vector near a learned one,
//! and checks the 3 neighbours each observed event got against an exact search done here (in
//! float64 over the stored float32 values); prints one JSON line. Each session observes 50
//! vectors: the vectors a session observed wait in its stored state until it learns, so a
//! session that observed hundreds without learning makes every observe slower (its state is
//! read and written whole).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kato_core::KbId;
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, ObservedVector};
use serde_json::{Value, json};

use super::workload::Workload;
use crate::server::{Client, build_server, start_server, stop_server};
use crate::{process, services};

/// The reference's k.
const NEIGHBOURS: usize = 3;
/// Observes per session: the vectors a session observed wait in its state until it learns,
/// and the bench never learns (that would add the queries to the kb).
const OBSERVES_PER_SESSION: usize = 50;
/// Vectors per `learn_vectors` call while loading.
const LOAD_BATCH: usize = 10_000;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct VectorsArgs {
    /// Learned vectors.
    #[arg(long, default_value_t = 100_000)]
    vectors: usize,
    /// Their dimension.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Observes to time (one vector each).
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &VectorsArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
        return super::rerun_optimized();
    }
    let report = services::with_throwaway("bench", |urls| {
        build_server()?;
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
            "vectors: {} of dimension {}, {} observes: p50 {} ms, p99 {} ms, recall@3 {}",
            report["vectors"],
            report["dim"],
            report["queries"],
            report["observe_p50_ms"],
            report["observe_p99_ms"],
            report["recall_at_3"]
        );
    }
    Ok(0)
}

/// A component exactly representable in float32 (k / 1024 for k in -1024..=1024), so the
/// stored values are the generated ones.
fn component(rng: &mut Workload) -> f64 {
    (rng.between(0, 2048) as f64 - 1024.0) / 1024.0
}

async fn measure(args: &VectorsArgs, clickhouse_url: &str, redis_url: &str) -> Result<Value> {
    let database = format!("kato_bench_{}", std::process::id());
    let mut config = KnowledgeBaseConfig::new(clickhouse_url, redis_url);
    config.clickhouse_database = database.clone();
    let knowledge_base = KnowledgeBase::connect(config).await?;
    let node = format!("bench_vectors_{}", std::process::id());
    // The kb id kato-server gives a node of plain characters (service name `kato`).
    let kb = KbId::new(format!("{node}_kato"))?;

    let mut rng = Workload::new(args.seed);
    let learned: Vec<Vec<f64>> = (0..args.vectors)
        .map(|_| (0..args.dim).map(|_| component(&mut rng)).collect())
        .collect();
    let started = Instant::now();
    for (done, chunk) in learned.chunks(LOAD_BATCH).enumerate() {
        let batch: Vec<ObservedVector> = chunk
            .iter()
            .map(|components| {
                let name = kato_core::vector_symbol(std::slice::from_ref(components))?;
                Ok(ObservedVector {
                    name: name.as_str().to_owned(),
                    components: components.clone(),
                })
            })
            .collect::<Result<_>>()?;
        knowledge_base.learn_vectors(&kb, &batch).await?;
        eprintln!(
            "bench vectors: learned {} / {} ({:.0} vectors/s)",
            ((done + 1) * LOAD_BATCH).min(args.vectors),
            args.vectors,
            ((done + 1) * LOAD_BATCH).min(args.vectors) as f64 / started.elapsed().as_secs_f64()
        );
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let names: Vec<String> = learned
        .iter()
        .map(|components| {
            kato_core::vector_symbol(std::slice::from_ref(components))
                .map(|name| name.as_str().to_owned())
        })
        .collect::<Result<_, _>>()?;

    let port = process::free_port()?;
    // The first observe loads the server's vector index: at a million vectors that takes
    // longer than the default request deadline.
    let mut server = start_server(
        clickhouse_url,
        redis_url,
        &database,
        port,
        Some(Duration::from_secs(600)),
    )?;
    let outcome = observe(
        args,
        &format!("http://127.0.0.1:{port}"),
        &node,
        &learned,
        &names,
        &mut rng,
    )
    .await;
    stop_server(&mut server);
    let (mut latencies, first_ms, recall) = outcome?;
    knowledge_base.drop_database(&kb, true).await?;
    latencies.sort_unstable();
    Ok(json!({
        "bench": "vectors",
        "vectors": args.vectors,
        "dim": args.dim,
        "queries": args.queries,
        "observe_p50_ms": super::percentile_ms(&latencies, 50),
        "observe_p99_ms": super::percentile_ms(&latencies, 99),
        "first_observe_ms": (first_ms * 10.0).round() / 10.0,
        "recall_at_3": recall,
        "load_vectors_per_sec": (args.vectors as f64 / load_seconds).round(),
        "seed": args.seed,
    }))
}

/// Times the observes; (latencies, the first observe's time (which loads the server's index),
/// recall@3).
async fn observe(
    args: &VectorsArgs,
    url: &str,
    node: &str,
    learned: &[Vec<f64>],
    names: &[String],
    rng: &mut Workload,
) -> Result<(Vec<Duration>, f64, f64)> {
    let client = Client::new(url)?;
    let mut session = client.create_session(node).await?;
    let mut latencies = Vec::with_capacity(args.queries);
    let mut first_ms = 0.0;
    let mut found = 0usize;
    for query in 0..=args.queries {
        // Near a learned vector: one component moved by 1/1024.
        let mut vector = learned[rng.between(0, learned.len() - 1)].clone();
        let at = rng.between(0, args.dim - 1);
        vector[at] += 1.0 / 1024.0;
        let own = kato_core::vector_symbol(std::slice::from_ref(&vector))?;
        let started = Instant::now();
        client
            .post(
                &format!("/sessions/{session}/observe"),
                Some(json!({ "vectors": [vector] })),
            )
            .await?;
        let elapsed = started.elapsed();
        // The first observe loads the server's vector index: reported apart.
        if query == 0 {
            first_ms = elapsed.as_secs_f64() * 1000.0;
        } else {
            latencies.push(elapsed);
        }
        let stm = client.get(&format!("/sessions/{session}/stm")).await?;
        let event = stm["stm"]
            .as_array()
            .and_then(|events| events.last())
            .context("the observe added an event")?;
        let returned: HashSet<&str> = event
            .as_array()
            .context("an event is a list")?
            .iter()
            .filter_map(Value::as_str)
            .filter(|symbol| *symbol != own.as_str())
            .collect();
        let exact = exact_nearest(learned, names, &vector);
        if returned.len() > NEIGHBOURS || (query == 0 && returned.is_empty()) {
            bail!(
                "observe {query}: {} neighbours returned: {event}",
                returned.len()
            );
        }
        found += exact
            .iter()
            .filter(|name| returned.contains(name.as_str()))
            .count();
        if (query + 1) % OBSERVES_PER_SESSION == 0 {
            // A session carries the vectors it observed until it learns; a fresh one keeps
            // that load to what a client learning every few dozen events has.
            client.delete(&format!("/sessions/{session}")).await?;
            session = client.create_session(node).await?;
        }
        if (query + 1) % 200 == 0 {
            eprintln!("bench vectors: {} / {} observes", query + 1, args.queries);
        }
    }
    let recall = found as f64 / ((args.queries + 1) * NEIGHBOURS.min(learned.len())) as f64;
    Ok((latencies, first_ms, (recall * 10_000.0).round() / 10_000.0))
}

/// The names of the `NEIGHBOURS` learned vectors nearest `query`, by a scan in float64 over
/// the float32 values the kb stores (ties by name).
fn exact_nearest(learned: &[Vec<f64>], names: &[String], query: &[f64]) -> Vec<String> {
    #[allow(clippy::cast_possible_truncation)]
    let query32: Vec<f64> = query.iter().map(|&x| f64::from(x as f32)).collect();
    let mut scored: Vec<(f64, &String)> = learned
        .iter()
        .zip(names)
        .map(|(row, name)| {
            let distance = row
                .iter()
                .zip(&query32)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>();
            (distance, name)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(NEIGHBOURS)
        .map(|(_, name)| name.clone())
        .collect()
}
