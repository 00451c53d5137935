//! `cargo xtask bench http`: drives kato-server through its public HTTP API only, as a client
//! would, and prints one JSON line. Deterministic from the seed.
//!
//! - learn: N distinct synthetic sequences (3 to 8 events of 1 to 3 Zipf symbols, or exactly
//!   `--events` events) learned through sessions of one node by C concurrent clients, through
//!   one of three routes (`--learn-route`):
//!   - `learn-sequences` (the default): `--learn-batch` sequences per
//!     `POST /sessions/{id}/learn-sequences` (the bulk route);
//!   - `observe-learn` (the default when `--learn-batch 0`): the reference's per-event routes,
//!     `POST /sessions/{id}/observe` for each event, then `POST /sessions/{id}/learn`;
//!   - `observe-sequence`: one `POST /sessions/{id}/observe-sequence` per pattern with
//!     `learn_at_end: true` (the reference's one request per pattern);
//!
//!   `learn_request_p50_ms` / `learn_request_p99_ms` time the requests that learn (the bulk
//!   request, the `learn` request, the whole `observe-sequence` request);
//! - predict: Q queries, one after the other, each on a cleared session: observe 2 to 3
//!   consecutive events of a learned sequence, then GET predictions (`--queries 0` skips
//!   them).
//!
//! Without `--url` it starts throwaway ClickHouse and Redis (or uses `KATO_*_URL`), builds
//! kato-server in release and runs it on a free port; `server_rss_mb` is then the server's
//! peak resident memory (VmHWM). With `--url` it uses that server and reports no RSS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::workload::{Workload, Zipf, events};
use crate::server::{Client, build_server, peak_rss_mb, start_server, stop_server};
use crate::{process, services};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HttpArgs {
    /// Distinct sequences to learn.
    #[arg(long, default_value_t = 100_000)]
    patterns: usize,
    /// Vocabulary size (Zipf-distributed).
    #[arg(long, default_value_t = 50_000)]
    vocab: usize,
    /// Concurrent learning clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Sequences per bulk learn request; 0 learns through the reference's per-event routes
    /// (unless `--learn-route` says otherwise).
    #[arg(long, default_value_t = 100)]
    learn_batch: usize,
    /// How patterns are learned; by default `learn-sequences`, or `observe-learn` with
    /// `--learn-batch 0`.
    #[arg(long, value_enum)]
    learn_route: Option<LearnRoute>,
    /// Events per sequence (default: 3 to 8).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    events: Option<u64>,
    /// Prediction queries.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A running kato-server to drive instead of starting one (e.g. http://127.0.0.1:8000).
    #[arg(long)]
    url: Option<String>,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

/// The routes the learn phase sends its patterns through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LearnRoute {
    /// `--learn-batch` sequences per `POST /sessions/{id}/learn-sequences`.
    LearnSequences,
    /// `POST /sessions/{id}/observe` per event, then `POST /sessions/{id}/learn`.
    ObserveLearn,
    /// One `POST /sessions/{id}/observe-sequence` per pattern, with `learn_at_end`.
    ObserveSequence,
}

impl LearnRoute {
    /// The route `args` ask for.
    fn of(args: &HttpArgs) -> Result<Self> {
        match (args.learn_route, args.learn_batch) {
            (Some(Self::LearnSequences), 0) => {
                anyhow::bail!("--learn-route learn-sequences needs --learn-batch of at least 1")
            }
            (Some(route), _) => Ok(route),
            (None, 0) => Ok(Self::ObserveLearn),
            (None, _) => Ok(Self::LearnSequences),
        }
    }

    /// The name the JSON report gives it.
    fn label(self) -> &'static str {
        match self {
            Self::LearnSequences => "learn-sequences",
            Self::ObserveLearn => "observe+learn",
            Self::ObserveSequence => "observe-sequence",
        }
    }
}

pub(crate) fn run(args: &HttpArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
        return super::rerun_optimized();
    }
    LearnRoute::of(args)?;
    let report = match &args.url {
        Some(url) => drive(args, url, None)?,
        None => services::with_throwaway("bench", |urls| {
            build_server()?;
            let port = process::free_port()?;
            let mut server = start_server(&urls.clickhouse, &urls.redis, "kato_bench", port, None)?;
            let url = format!("http://127.0.0.1:{port}");
            let report = drive(args, &url, Some(server.id()));
            stop_server(&mut server);
            report
        })?,
    };
    if args.json {
        println!("{report}");
    } else {
        eprintln!("{report}");
        println!(
            "http: {} patterns by {} clients through {}: {} learned/s, learn request p50 {} ms, p99 {} ms, observe p99 {} ms; {} queries: predict p50 {} ms, p99 {} ms, recall@10 {}; server RSS {} MB",
            report["patterns"],
            report["concurrency"],
            report["learn_route"],
            report["learn_patterns_per_sec"],
            report["learn_request_p50_ms"],
            report["learn_request_p99_ms"],
            report["observe_p99_ms"],
            report["queries"],
            report["predict_p50_ms"],
            report["predict_p99_ms"],
            report["recall_at_10"],
            report["server_rss_mb"],
        );
    }
    Ok(0)
}

fn drive(args: &HttpArgs, url: &str, server_pid: Option<u32>) -> Result<Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = Client::new(url)?;
        let node = format!("bench_http_{}", std::process::id());
        eprintln!(
            "bench http: generating {} distinct sequences (vocabulary {})",
            args.patterns, args.vocab
        );
        let sequences = Arc::new(sequences(args));
        let learned = learn(&client, &node, &sequences, args).await?;
        let predicted = predict(&client, &node, &sequences, &learned.names, args).await?;
        let rss_mb = server_pid.and_then(peak_rss_mb);
        let cleanup = client.create_session(&node).await?;
        client
            .post(&format!("/sessions/{cleanup}/clear-all"), None)
            .await?;
        let mut observe = learned.observe_latencies;
        observe.extend(predicted.observe_latencies);
        observe.sort_unstable();
        let mut predict = predicted.latencies;
        predict.sort_unstable();
        let mut learn_requests = learned.request_latencies;
        learn_requests.sort_unstable();
        let route = LearnRoute::of(args)?;
        Ok(json!({
            "bench": "http",
            "patterns": args.patterns,
            "concurrency": args.concurrency,
            "learn_route": route.label(),
            "learn_batch": if route == LearnRoute::LearnSequences { json!(args.learn_batch) } else { json!(1) },
            "events": args.events,
            "learn_patterns_per_sec": (learned.per_second).round(),
            "learn_request_p50_ms": super::percentile_ms(&learn_requests, 50),
            "learn_request_p99_ms": super::percentile_ms(&learn_requests, 99),
            "observe_p99_ms": super::percentile_ms(&observe, 99),
            "predict_p50_ms": super::percentile_ms(&predict, 50),
            "predict_p99_ms": super::percentile_ms(&predict, 99),
            "recall_at_10": (args.queries > 0).then_some(predicted.recall_at_10),
            "recall_misses": predicted.misses,
            "server_rss_mb": rss_mb,
            "queries": args.queries,
            "vocab": args.vocab,
            "seed": args.seed,
        }))
    })
}

fn sequences(args: &HttpArgs) -> Vec<Vec<Vec<String>>> {
    let zipf = Zipf::new(args.vocab);
    let fixed = args
        .events
        .map(|events| usize::try_from(events).unwrap_or(usize::MAX));
    let patterns = super::workload::distinct_patterns(args.patterns, args.seed, |rng| {
        let count = fixed.unwrap_or_else(|| rng.between(3, 8));
        events(count, &zipf, rng)
    });
    patterns
        .iter()
        .map(|pattern| {
            pattern
                .events()
                .iter()
                .map(|event| event.iter().map(|s| s.as_str().to_owned()).collect())
                .collect()
        })
        .collect()
}

struct Learned {
    /// The bare pattern name of each sequence, by index.
    names: Vec<String>,
    observe_latencies: Vec<Duration>,
    /// Every request that learned.
    request_latencies: Vec<Duration>,
    per_second: f64,
}

async fn learn(
    client: &Client,
    node: &str,
    sequences: &Arc<Vec<Vec<Vec<String>>>>,
    args: &HttpArgs,
) -> Result<Learned> {
    let concurrency = args.concurrency.max(1);
    let route = LearnRoute::of(args)?;
    let batch = match route {
        LearnRoute::LearnSequences => args.learn_batch,
        LearnRoute::ObserveLearn | LearnRoute::ObserveSequence => 1,
    };
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let client = client.clone();
        let node = node.to_owned();
        let sequences = Arc::clone(sequences);
        let done = Arc::clone(&done);
        workers.push(tokio::spawn(async move {
            let session = client.create_session(&node).await?;
            let mine: Vec<usize> = (worker..sequences.len()).step_by(concurrency).collect();
            let mut names = Vec::with_capacity(mine.len());
            let mut observe_latencies = Vec::new();
            let mut request_latencies = Vec::new();
            for indices in mine.chunks(batch) {
                match route {
                    LearnRoute::ObserveLearn => {
                        let index = indices[0];
                        for event in &sequences[index] {
                            let started = Instant::now();
                            client
                                .post(
                                    &format!("/sessions/{session}/observe"),
                                    Some(json!({ "strings": event })),
                                )
                                .await?;
                            observe_latencies.push(started.elapsed());
                        }
                        let started = Instant::now();
                        let learned = client
                            .post(&format!("/sessions/{session}/learn"), None)
                            .await?;
                        request_latencies.push(started.elapsed());
                        names.push((index, bare_name(&learned["pattern_name"])?));
                    }
                    LearnRoute::ObserveSequence => {
                        let index = indices[0];
                        let observations: Vec<Value> = sequences[index]
                            .iter()
                            .map(|event| json!({ "strings": event }))
                            .collect();
                        let started = Instant::now();
                        let learned = client
                            .post(
                                &format!("/sessions/{session}/observe-sequence"),
                                Some(json!({
                                    "observations": observations,
                                    "learn_at_end": true,
                                })),
                            )
                            .await?;
                        request_latencies.push(started.elapsed());
                        names.push((index, bare_name(&learned["final_learned_pattern"])?));
                    }
                    LearnRoute::LearnSequences => {
                        let body: Vec<&Vec<Vec<String>>> =
                            indices.iter().map(|&index| &sequences[index]).collect();
                        let started = Instant::now();
                        let learned = client
                            .post(
                                &format!("/sessions/{session}/learn-sequences"),
                                Some(json!({ "sequences": body })),
                            )
                            .await?;
                        request_latencies.push(started.elapsed());
                        let learned_names = learned["pattern_names"]
                            .as_array()
                            .with_context(|| format!("learn-sequences answered {learned}"))?;
                        for (&index, name) in indices.iter().zip(learned_names) {
                            names.push((index, bare_name(name)?));
                        }
                    }
                }
                let before = done.fetch_add(indices.len(), std::sync::atomic::Ordering::Relaxed);
                if (before + indices.len()) / 10_000 > before / 10_000 {
                    eprintln!(
                        "bench http: learned {} / {}",
                        before + indices.len(),
                        sequences.len()
                    );
                }
            }
            anyhow::Ok((names, observe_latencies, request_latencies))
        }));
    }
    let mut names = vec![String::new(); sequences.len()];
    let mut observe_latencies = Vec::new();
    let mut request_latencies = Vec::new();
    for worker in workers {
        let (learned, observed, requests) = worker.await??;
        for (index, name) in learned {
            names[index] = name;
        }
        observe_latencies.extend(observed);
        request_latencies.extend(requests);
    }
    let per_second = sequences.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "bench http: learned {} sequences, {per_second:.0}/s",
        sequences.len()
    );
    Ok(Learned {
        names,
        observe_latencies,
        request_latencies,
        per_second,
    })
}

/// `abc...` from `"PTRN|abc..."`.
fn bare_name(name: &Value) -> Result<String> {
    Ok(name
        .as_str()
        .and_then(|name| name.strip_prefix("PTRN|"))
        .with_context(|| format!("a learn answered the pattern name {name}"))?
        .to_owned())
}

struct Predicted {
    latencies: Vec<Duration>,
    observe_latencies: Vec<Duration>,
    recall_at_10: f64,
    /// Where the source pattern of each query that missed the top 10 ranked.
    misses: Vec<Value>,
}

async fn predict(
    client: &Client,
    node: &str,
    sequences: &[Vec<Vec<String>>],
    names: &[String],
    args: &HttpArgs,
) -> Result<Predicted> {
    let session = client.create_session(node).await?;
    let mut rng = Workload::new(args.seed ^ 0x5eed);
    let mut latencies = Vec::with_capacity(args.queries);
    let mut observe_latencies = Vec::new();
    let mut hits = 0usize;
    let mut misses = Vec::new();
    for query in 0..args.queries {
        let source = rng.between(0, sequences.len() - 1);
        let events = &sequences[source];
        let size = rng.between(2, 3).min(events.len());
        let start = rng.between(0, events.len() - size);
        client
            .post(&format!("/sessions/{session}/clear-stm"), None)
            .await?;
        for event in &events[start..start + size] {
            let started = Instant::now();
            client
                .post(
                    &format!("/sessions/{session}/observe"),
                    Some(json!({ "strings": event })),
                )
                .await?;
            observe_latencies.push(started.elapsed());
        }
        let started = Instant::now();
        let answer = client
            .get(&format!("/sessions/{session}/predictions"))
            .await?;
        latencies.push(started.elapsed());
        let ranked = answer["predictions"]
            .as_array()
            .context("predictions is not a list")?;
        let rank = ranked
            .iter()
            .position(|prediction| prediction["name"].as_str() == Some(names[source].as_str()));
        match rank {
            Some(rank) if rank < 10 => hits += 1,
            _ => {
                // Predictions are exact, so a miss is the ranking's: say where the source
                // stands and whether it ties the tenth (then names break the tie).
                let potential = |at: usize| ranked.get(at).and_then(|p| p["potential"].as_f64());
                misses.push(json!({
                    "rank": rank.map(|rank| rank + 1),
                    "potential": rank.and_then(potential),
                    "tenth_potential": potential(9),
                }));
            }
        }
        if (query + 1).is_multiple_of(100) {
            eprintln!("bench http: {} / {} predictions", query + 1, args.queries);
        }
    }
    Ok(Predicted {
        latencies,
        observe_latencies,
        recall_at_10: hits as f64 / args.queries.max(1) as f64,
        misses,
    })
}
