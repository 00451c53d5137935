//! `cargo xtask chaos`: fault-injection scenarios against a real kato-server over real stores.
//! Prints one JSON line `{"bench":"chaos","scenarios":[...],"acknowledged":N,"lost":L}` and
//! exits non-zero when anything acknowledged was lost or a kb could not be made consistent.
//!
//! Load: C clients learn distinct sequences through the bulk route, so every sequence is
//! learned by exactly one request and an acknowledged learn must end with frequency 1.
//!
//! - `kill9_during_learn`: SIGKILL to the server under load. After a restart every
//!   acknowledged learn is there, and the kb verifies clean, or clean after `rehydrate` (a
//!   batch cut between ClickHouse and Redis).
//! - `clickhouse_restart`: ClickHouse is stopped (SIGTERM) under load and started again a
//!   few seconds later over its files: learns answer 503 while it is down (never 500),
//!   succeed again once it is back without a server restart, every acknowledged learn is
//!   there once (frequency 1), and the kb verifies clean after `rehydrate`. A batch ClickHouse
//!   committed just before it stopped, unacknowledged, is in the learn log: rehydrate rolls it
//!   forward (reported as `unacknowledged_but_logged`).
//! - `redis_restart`: Redis, which keeps nothing on disk here, is stopped while clients keep
//!   learning (503s) and started again empty, as a restart without persistence; the server
//!   recovers by itself, and `rehydrate` restores the kb to exactly the dump taken before the
//!   stop.
//! - `slow_clickhouse`, `slow_redis`: the store hangs for a few seconds under load (its proxy
//!   paused: connections stay open, no byte goes through, as with SIGSTOP), with the server's
//!   request deadline at 2 s. Every answer comes within the deadline plus 1 s of slack, the
//!   ones while it hangs as 503 (never 500); the server's resident memory is sampled while it
//!   hangs; once resumed, learning goes on without a restart; every acknowledged learn is there
//!   once, and the kb verifies clean, at the latest after `rehydrate` (work left running past
//!   the deadline may have landed in part).
//!
//! The stores are the throwaway services of this run; the restarts stop and start their real
//! processes. `--only NAME[,NAME]` runs some of the scenarios.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use kato_core::{KbId, PatternName};
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, SessionConfig};
use kato_test_support::TcpProxy;
use serde_json::{Value, json};

use crate::process;
use crate::server::{Client, build_server, rss_mb, start_server, stop_server};
use crate::services::{self, ServiceUrls};

/// The database the chaos server uses.
const DATABASE: &str = "kato_chaos";
/// Sequences per learn request.
const SEQUENCES_PER_REQUEST: usize = 10;
/// Every scenario, in the order they run.
const SCENARIOS: [&str; 5] = [
    "kill9_during_learn",
    "clickhouse_restart",
    "redis_restart",
    "slow_clickhouse",
    "slow_redis",
];
/// The request deadline of the slow-store scenarios' server.
const SLOW_DEADLINE: Duration = Duration::from_secs(2);
/// How much later than the deadline an answer may come (a loaded two-core machine).
const SLOW_SLACK: Duration = Duration::from_secs(1);
/// How long the store hangs in the slow-store scenarios.
const SLOW_PAUSE: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ChaosArgs {
    /// Concurrent learning clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of load before each fault.
    #[arg(long, default_value_t = 3)]
    load_seconds: u64,
    /// Run only these scenarios (comma-separated); all of them when absent.
    #[arg(long, value_delimiter = ',',
          value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
    only: Vec<String>,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ChaosArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
        return crate::bench::rerun_optimized();
    }
    let scenarios = services::with_throwaway("chaos", |urls| {
        build_server()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let (clickhouse, redis) = (urls.clickhouse.as_str(), urls.redis.as_str());
            let mut reports = Vec::new();
            for scenario in SCENARIOS {
                if !args.only.is_empty() && !args.only.iter().any(|name| name == scenario) {
                    continue;
                }
                reports.push(match scenario {
                    "kill9_during_learn" => kill9_during_learn(args, clickhouse, redis).await?,
                    "clickhouse_restart" => clickhouse_restart(args, urls).await?,
                    "redis_restart" => redis_restart(args, urls).await?,
                    "slow_clickhouse" => {
                        slow_store(args, SlowStore::ClickHouse, clickhouse, redis).await?
                    }
                    "slow_redis" => slow_store(args, SlowStore::Redis, clickhouse, redis).await?,
                    other => unreachable!("{other} is not in SCENARIOS"),
                });
            }
            anyhow::Ok(reports)
        })
    })?;
    let acknowledged: u64 = scenarios
        .iter()
        .map(|s| s["acknowledged"].as_u64().unwrap_or(0))
        .sum();
    let lost: u64 = scenarios
        .iter()
        .map(|s| s["lost"].as_u64().unwrap_or(u64::MAX))
        .sum();
    let consistent = scenarios.iter().all(|s| s["consistent"] == true);
    println!(
        "{}",
        json!({
            "bench": "chaos",
            "scenarios": scenarios,
            "acknowledged": acknowledged,
            "lost": lost,
        })
    );
    if !args.json {
        eprintln!(
            "chaos: {acknowledged} acknowledged learns, {lost} lost, every kb consistent: {consistent}"
        );
    }
    Ok(if lost == 0 && consistent { 0 } else { 1 })
}

/// What a learn load saw.
#[derive(Debug, Default)]
struct LoadOutcome {
    /// Names of acknowledged learns.
    acknowledged: Vec<String>,
    /// Answers that were 503.
    unavailable: u64,
    /// Answers that were any other error (a 500 among them would be a bug).
    other_errors: Vec<String>,
}

/// Counters of a running load, readable while it runs.
#[derive(Debug, Default)]
struct Tally {
    /// Learns acknowledged so far.
    acknowledged: AtomicU64,
    /// Answers that were 503 so far.
    unavailable: AtomicU64,
    /// The slowest answer so far, in milliseconds.
    slowest_ms: AtomicU64,
}

/// C clients learning distinct sequences into `node` until `stop` is set. With `give_up` a
/// client stops at its first failed request (the server is gone); otherwise it pauses and
/// goes on, creating a new session when its session is gone.
async fn learn_load(
    client: &Client,
    node: &str,
    clients: usize,
    label: &'static str,
    stop: Arc<AtomicBool>,
    give_up: bool,
    tally: Arc<Tally>,
) -> LoadOutcome {
    let mut workers = Vec::new();
    for worker in 0..clients.max(1) {
        let (client, node, stop) = (client.clone(), node.to_owned(), Arc::clone(&stop));
        let tally = Arc::clone(&tally);
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut other_errors = Vec::new();
            let mut session = None;
            let mut request = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = match &session {
                    Some(id) => String::clone(id),
                    None => match timed(&tally, client.create_session(&node)).await {
                        Ok(id) => {
                            session = Some(id.clone());
                            id
                        }
                        Err(error) => {
                            if give_up {
                                break;
                            }
                            note_failure(&error, &tally, &mut other_errors);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                request += 1;
                let sequences: Vec<Value> = (0..SEQUENCES_PER_REQUEST)
                    .map(|n| {
                        json!([
                            [label],
                            [format!("w{worker}")],
                            [format!("r{request}")],
                            [format!("n{n}")]
                        ])
                    })
                    .collect();
                let path = format!("/sessions/{id}/learn-sequences");
                let learned = timed(
                    &tally,
                    client.post(&path, Some(json!({ "sequences": sequences }))),
                )
                .await;
                match learned {
                    Ok(learned) => {
                        let names = learned["pattern_names"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|name| name.as_str().map(str::to_owned));
                        let before = acknowledged.len();
                        acknowledged.extend(names);
                        tally
                            .acknowledged
                            .fetch_add((acknowledged.len() - before) as u64, Ordering::Relaxed);
                    }
                    Err(_) if give_up => break,
                    Err(error) => {
                        if error.to_string().contains("SESSION_NOT_FOUND") {
                            session = None;
                        } else {
                            note_failure(&error, &tally, &mut other_errors);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            (acknowledged, other_errors)
        }));
    }
    let mut outcome = LoadOutcome::default();
    for worker in workers {
        if let Ok((acknowledged, other_errors)) = worker.await {
            outcome.acknowledged.extend(acknowledged);
            outcome.other_errors.extend(other_errors);
        }
    }
    outcome.unavailable = tally.unavailable.load(Ordering::Relaxed);
    outcome
}

/// Awaits `request`, noting how long its answer took.
async fn timed<T>(tally: &Tally, request: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = request.await;
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tally.slowest_ms.fetch_max(took, Ordering::Relaxed);
    answer
}

fn note_failure(error: &anyhow::Error, tally: &Tally, other: &mut Vec<String>) {
    let text = format!("{error:#}");
    if text.contains("503") {
        tally.unavailable.fetch_add(1, Ordering::Relaxed);
    } else if other.len() < 10 {
        other.push(text);
    }
}

/// A learn load running in the background.
struct Load {
    /// Ends the load.
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<LoadOutcome>,
    /// What it has seen so far.
    tally: Arc<Tally>,
}

/// Runs `learn_load` in the background.
fn spawn_load(
    client: &Client,
    node: &str,
    clients: usize,
    label: &'static str,
    give_up: bool,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let (client, node, flag) = (client.clone(), node.to_owned(), Arc::clone(&stop));
    let counters = Arc::clone(&tally);
    let task = tokio::spawn(async move {
        learn_load(&client, &node, clients, label, flag, give_up, counters).await
    });
    Load { stop, task, tally }
}

async fn finish_load(load: Load) -> Result<LoadOutcome> {
    load.stop.store(true, Ordering::Relaxed);
    load.task.await.context("the load task")
}

/// The acknowledged names that are not present with frequency 1 (checked by 32 readers).
async fn missing(client: &Client, node: &str, acknowledged: &[String]) -> Result<Vec<String>> {
    let mut readers = tokio::task::JoinSet::new();
    for names in acknowledged.chunks(acknowledged.len().div_ceil(32).max(1)) {
        let (client, node, names) = (client.clone(), node.to_owned(), names.to_vec());
        readers.spawn(async move {
            let mut lost = Vec::new();
            for name in names {
                let path = format!("/pattern/{}?node_id={node}", name.replace('|', "%7C"));
                let found = client.get(&path).await?;
                let frequency = found["pattern"]["pattern"]["frequency"].as_u64();
                if found["pattern"]["status"] != "okay" || frequency != Some(1) {
                    lost.push(name);
                }
            }
            anyhow::Ok(lost)
        });
    }
    let mut lost = Vec::new();
    while let Some(reader) = readers.join_next().await {
        lost.extend(reader.context("a reader task")??);
    }
    Ok(lost)
}

async fn knowledge_base(clickhouse: &str, redis: &str) -> Result<KnowledgeBase> {
    let mut config = KnowledgeBaseConfig::new(clickhouse, redis);
    config.clickhouse_database = DATABASE.to_owned();
    Ok(KnowledgeBase::connect(config).await?)
}

/// Verifies the kb, rehydrating it when verify is not clean; (clean at first, clean at end,
/// orphan bodies found).
async fn verify_or_repair(
    knowledge_base: &KnowledgeBase,
    kb: &KbId,
) -> Result<(bool, bool, usize)> {
    let before = knowledge_base.verify(kb).await?;
    if before.is_clean() {
        return Ok((true, true, 0));
    }
    eprintln!(
        "chaos: {kb}: verify found {} orphan bodies, {} patterns logged without a body, {} missing, {} unexpected, {} different keys; rehydrating",
        before.orphan_bodies.len(),
        before.learns_without_body.len(),
        before.missing_keys.len(),
        before.unexpected_keys.len(),
        before.different_keys.len()
    );
    knowledge_base.rehydrate(kb).await?;
    let after = knowledge_base.verify(kb).await?;
    Ok((false, after.is_clean(), before.orphan_bodies.len()))
}

/// STMs compared per scenario between the recovered server and `predict_exhaustive`.
const PREDICTIONS_COMPARED: usize = 20;

/// Predictions of the running server (its resident index, caught up after the fault and any
/// repair another process made) for STMs cut from `names`, compared with `predict_exhaustive`
/// over the stores: (compared, differing). Every STM is the first two events of a learned
/// pattern, observed through a session of `node`.
async fn compare_predictions(
    client: &Client,
    node: &str,
    knowledge_base: &KnowledgeBase,
    kb: &KbId,
    names: &[String],
) -> Result<(usize, usize)> {
    let settings = SessionConfig::default().prediction_settings()?;
    let step = (names.len() / PREDICTIONS_COMPARED).max(1);
    let (mut compared, mut differing) = (0, 0);
    for name in names.iter().step_by(step).take(PREDICTIONS_COMPARED) {
        let Some(pattern) = knowledge_base
            .get_pattern(kb, &name.parse::<PatternName>()?)
            .await?
        else {
            continue;
        };
        let stm: Vec<Vec<String>> = pattern.pattern_data.iter().take(2).cloned().collect();
        let session = patiently(|| client.create_session(node)).await?;
        for event in &stm {
            let path = format!("/sessions/{session}/observe");
            patiently(|| client.post(&path, Some(json!({ "strings": event })))).await?;
        }
        let path = format!("/sessions/{session}/predictions");
        let served = patiently(|| client.get(&path)).await?;
        let exhaustive = serde_json::to_value(
            knowledge_base
                .predict_exhaustive(kb, &stm, &settings)
                .await?,
        )?;
        compared += 1;
        if served["predictions"] != exhaustive["predictions"]
            || served["future_potentials"] != exhaustive["future_potentials"]
        {
            eprintln!(
                "chaos: {kb}: the server's predictions for {stm:?} differ from predict_exhaustive"
            );
            differing += 1;
        }
    }
    eprintln!(
        "chaos: {kb}: {compared} predictions compared with predict_exhaustive, {differing} differ"
    );
    Ok((compared, differing))
}

/// `request`, tried again for up to 10 s while it fails: a connection to a store that was
/// restarted fails its first command after the restart (503), then reconnects.
async fn patiently<T, F: Future<Output = Result<T>>>(mut request: impl FnMut() -> F) -> Result<T> {
    let started = Instant::now();
    loop {
        match request().await {
            Ok(answer) => return Ok(answer),
            Err(error) if started.elapsed() > Duration::from_secs(10) => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The kb id of a chaos node (the reference's mapping: `<node>_kato`).
fn kb_of(node: &str) -> Result<KbId> {
    Ok(KbId::new(format!("{node}_kato"))?)
}

async fn kill9_during_learn(args: &ChaosArgs, clickhouse: &str, redis: &str) -> Result<Value> {
    let node = "chaos_kill9";
    let port = process::free_port()?;
    let mut server = start_server(clickhouse, redis, DATABASE, port, None)?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"))?;
    let load = spawn_load(&client, node, args.clients, "kill9", true);
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    eprintln!(
        "chaos: SIGKILL to kato-server (pid {}) under load",
        server.id()
    );
    server.kill().context("killing kato-server")?;
    let _ = server.wait();
    let outcome = finish_load(load).await?;
    eprintln!(
        "chaos: {} learns were acknowledged before the kill",
        outcome.acknowledged.len()
    );
    let mut server = start_server(clickhouse, redis, DATABASE, port, None)?;
    let lost = missing(&client, node, &outcome.acknowledged).await?;
    let knowledge_base = knowledge_base(clickhouse, redis).await?;
    let kb = kb_of(node)?;
    let (clean_at_first, consistent, orphans) = verify_or_repair(&knowledge_base, &kb).await?;
    let (compared, differing) =
        compare_predictions(&client, node, &knowledge_base, &kb, &outcome.acknowledged).await?;
    stop_server(&mut server);
    knowledge_base.drop_database(&kb, true).await?;
    Ok(json!({
        "name": "kill9_during_learn",
        "predictions_compared": compared,
        "predictions_differing": differing,
        "clients": args.clients,
        "faults": 1,
        "acknowledged": outcome.acknowledged.len(),
        "lost": lost.len(),
        "lost_names": lost.iter().take(10).collect::<Vec<_>>(),
        "clean_after_fault": clean_at_first,
        "orphan_bodies_after_fault": orphans,
        "consistent": consistent && differing == 0 && compared > 0,
    }))
}

/// Stops the store `name` of `urls` under load, keeps it down for `down`, starts it again.
async fn restart_store(urls: &ServiceUrls, name: &str, down: Duration) -> Result<()> {
    eprintln!("chaos: stopping {name} under load");
    tokio::task::block_in_place(|| urls.stop(name))?;
    tokio::time::sleep(down).await;
    tokio::task::block_in_place(|| urls.start_again(name))?;
    eprintln!("chaos: {name} is back");
    Ok(())
}

async fn clickhouse_restart(args: &ChaosArgs, urls: &ServiceUrls) -> Result<Value> {
    let (clickhouse, redis) = (urls.clickhouse.as_str(), urls.redis.as_str());
    let node = "chaos_clickhouse";
    let port = process::free_port()?;
    let mut server = start_server(clickhouse, redis, DATABASE, port, None)?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"))?;
    let load = spawn_load(&client, node, args.clients, "clickhouse", false);
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    restart_store(urls, "clickhouse", Duration::from_secs(3)).await?;
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    let outcome = finish_load(load).await?;
    let lost = missing(&client, node, &outcome.acknowledged).await?;
    let knowledge_base = knowledge_base(clickhouse, redis).await?;
    let kb = kb_of(node)?;
    let distinct: BTreeSet<&String> = outcome.acknowledged.iter().collect();
    let stored = knowledge_base.clickhouse().count_patterns(&kb).await?;
    let (clean_at_first, consistent, orphans) = verify_or_repair(&knowledge_base, &kb).await?;
    let after_repair = knowledge_base.clickhouse().count_patterns(&kb).await?;
    let (compared, differing) =
        compare_predictions(&client, node, &knowledge_base, &kb, &outcome.acknowledged).await?;
    stop_server(&mut server);
    knowledge_base.drop_database(&kb, true).await?;
    ensure!(
        outcome.other_errors.is_empty(),
        "clickhouse_restart: answers other than 503: {:?}",
        outcome.other_errors
    );
    Ok(json!({
        "name": "clickhouse_restart",
        "predictions_compared": compared,
        "predictions_differing": differing,
        "clients": args.clients,
        "faults": 1,
        "down_seconds": 3,
        "unavailable_answers": outcome.unavailable,
        "acknowledged": outcome.acknowledged.len(),
        "lost": lost.len(),
        "lost_names": lost.iter().take(10).collect::<Vec<_>>(),
        "patterns_stored_before_repair": stored,
        "patterns_stored_after_repair": after_repair,
        // Learns whose batch ClickHouse committed while the cut hid the acknowledgement: the
        // caller got 503, the learn log has them, and rehydrate rolls them forward.
        "unacknowledged_but_logged": after_repair.saturating_sub(distinct.len() as u64),
        "duplicates_visible": distinct.len() != outcome.acknowledged.len(),
        "clean_after_fault": clean_at_first,
        "orphan_bodies_after_fault": orphans,
        "consistent": consistent
            && outcome.unavailable > 0
            && after_repair >= distinct.len() as u64
            && differing == 0
            && compared > 0,
    }))
}

async fn redis_restart(args: &ChaosArgs, urls: &ServiceUrls) -> Result<Value> {
    let (clickhouse, redis) = (urls.clickhouse.as_str(), urls.redis.as_str());
    let node = "chaos_redis";
    let port = process::free_port()?;
    let mut server = start_server(clickhouse, redis, DATABASE, port, None)?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"))?;
    let load = spawn_load(&client, node, args.clients, "redis", false);
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    let first = finish_load(load).await?;
    let knowledge_base = knowledge_base(clickhouse, redis).await?;
    let kb = kb_of(node)?;
    let before = knowledge_base.redis().dump_kb(&kb).await?;

    eprintln!("chaos: stopping Redis under load");
    tokio::task::block_in_place(|| urls.stop("redis"))?;
    let load = spawn_load(&client, node, args.clients, "redis_down", false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = finish_load(load).await?;
    tokio::task::block_in_place(|| urls.start_again("redis"))?;
    eprintln!("chaos: Redis is back, empty");

    // The server recovers by itself: a new session and a learn succeed within a few seconds.
    let mut recovered = false;
    for _ in 0..50 {
        if let Ok(session) = client.create_session(node).await {
            let probe = client
                .post(
                    &format!("/sessions/{session}/learn-sequences"),
                    Some(json!({ "sequences": [] })),
                )
                .await;
            if probe.is_ok() {
                recovered = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A checker of its own: the old one's connection died with Redis.
    let knowledge_base = self::knowledge_base(clickhouse, redis).await?;
    knowledge_base.rehydrate(&kb).await?;
    let after = knowledge_base.redis().dump_kb(&kb).await?;
    let (compared, differing) =
        compare_predictions(&client, node, &knowledge_base, &kb, &first.acknowledged).await?;
    stop_server(&mut server);
    let restored_exactly = after == before;
    let lost = first
        .acknowledged
        .iter()
        .filter(|name| {
            let key = format!("frequency:{}", name.trim_start_matches("PTRN|"));
            !after.contains_key(&key)
        })
        .count();
    let clean = knowledge_base.verify(&kb).await?.is_clean();
    knowledge_base.drop_database(&kb, true).await?;
    Ok(json!({
        "name": "redis_restart",
        "predictions_compared": compared,
        "predictions_differing": differing,
        "clients": args.clients,
        "faults": 1,
        "acknowledged": first.acknowledged.len() + during.acknowledged.len(),
        "acknowledged_while_down": during.acknowledged.len(),
        "unavailable_answers": during.unavailable,
        "other_errors_while_down": during.other_errors,
        "recovered_without_restart": recovered,
        "keys_before_restart": before.len(),
        "restored_exactly": restored_exactly,
        "lost": lost,
        "consistent": restored_exactly
            && clean
            && recovered
            && during.acknowledged.is_empty()
            && differing == 0
            && compared > 0,
    }))
}

/// The store a slow-store scenario hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlowStore {
    ClickHouse,
    Redis,
}

impl SlowStore {
    /// The scenario's name, also its load's label.
    fn scenario(self) -> &'static str {
        match self {
            SlowStore::ClickHouse => "slow_clickhouse",
            SlowStore::Redis => "slow_redis",
        }
    }
}

async fn slow_store(
    args: &ChaosArgs,
    store: SlowStore,
    clickhouse: &str,
    redis: &str,
) -> Result<Value> {
    let scenario = store.scenario();
    let node = format!("chaos_{scenario}");
    let (proxy, server_clickhouse, server_redis) = match store {
        SlowStore::ClickHouse => {
            let proxy = TcpProxy::start(clickhouse).await;
            let url = proxy.url("http");
            (proxy, url, redis.to_owned())
        }
        SlowStore::Redis => {
            let proxy = TcpProxy::start(redis).await;
            let url = proxy.url("redis");
            (proxy, clickhouse.to_owned(), url)
        }
    };
    let port = process::free_port()?;
    let mut server = start_server(
        &server_clickhouse,
        &server_redis,
        DATABASE,
        port,
        Some(SLOW_DEADLINE),
    )?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"))?;
    let load = spawn_load(&client, &node, args.clients, scenario, false);
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;

    let rss_before = rss_mb(server.id());
    let acknowledged_before = load.tally.acknowledged.load(Ordering::Relaxed);
    let unavailable_before = load.tally.unavailable.load(Ordering::Relaxed);
    eprintln!("chaos: {scenario}: the store hangs under load");
    proxy.pause();
    let paused = Instant::now();
    let mut peak_rss_while_hung: Option<f64> = None;
    while paused.elapsed() < SLOW_PAUSE {
        if let Some(rss) = rss_mb(server.id()) {
            peak_rss_while_hung = Some(peak_rss_while_hung.map_or(rss, |peak| peak.max(rss)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acknowledged_while_hung =
        load.tally.acknowledged.load(Ordering::Relaxed) - acknowledged_before;
    let unavailable_while_hung =
        load.tally.unavailable.load(Ordering::Relaxed) - unavailable_before;
    let acknowledged_at_resume = load.tally.acknowledged.load(Ordering::Relaxed);
    proxy.resume().await;
    eprintln!("chaos: {scenario}: the store answers again");
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    let slowest_ms = load.tally.slowest_ms.load(Ordering::Relaxed);
    let outcome = finish_load(load).await?;
    let acknowledged_after_resume =
        (outcome.acknowledged.len() as u64).saturating_sub(acknowledged_at_resume);
    let lost = missing(&client, &node, &outcome.acknowledged).await?;
    let rss_after = rss_mb(server.id());

    let knowledge_base = knowledge_base(clickhouse, redis).await?;
    let kb = kb_of(&node)?;
    let distinct: BTreeSet<&String> = outcome.acknowledged.iter().collect();
    let (clean_at_first, consistent, orphans) = verify_or_repair(&knowledge_base, &kb).await?;
    let (compared, differing) =
        compare_predictions(&client, &node, &knowledge_base, &kb, &outcome.acknowledged).await?;
    stop_server(&mut server);
    proxy.stop().await;
    let stored = knowledge_base.clickhouse().count_patterns(&kb).await?;
    knowledge_base.drop_database(&kb, true).await?;
    ensure!(
        outcome.other_errors.is_empty(),
        "{scenario}: answers other than 503: {:?}",
        outcome.other_errors
    );
    let within_deadline = u128::from(slowest_ms) <= (SLOW_DEADLINE + SLOW_SLACK).as_millis();
    let load_held = within_deadline && acknowledged_after_resume > 0;
    Ok(json!({
        "name": scenario,
        "predictions_compared": compared,
        "predictions_differing": differing,
        "clients": args.clients,
        "faults": 1,
        "hang_seconds": SLOW_PAUSE.as_secs(),
        "deadline_ms": SLOW_DEADLINE.as_millis(),
        "slack_ms": SLOW_SLACK.as_millis(),
        // Every answer within deadline + slack, and learning went on after the hang.
        "load_held": load_held,
        "slowest_answer_ms": slowest_ms,
        "unavailable_answers": outcome.unavailable,
        "unavailable_while_hung": unavailable_while_hung,
        "acknowledged_while_hung": acknowledged_while_hung,
        "rss_mb_before_hang": rss_before,
        "peak_rss_mb_while_hung": peak_rss_while_hung,
        "rss_mb_after": rss_after,
        "acknowledged": outcome.acknowledged.len(),
        "acknowledged_after_resume": acknowledged_after_resume,
        "lost": lost.len(),
        "lost_names": lost.iter().take(10).collect::<Vec<_>>(),
        "patterns_stored_after_repair": stored,
        // Learns whose request answered 503 (at its deadline) but which went on and landed.
        "unacknowledged_but_logged": stored.saturating_sub(distinct.len() as u64),
        "duplicates_visible": distinct.len() != outcome.acknowledged.len(),
        "clean_after_fault": clean_at_first,
        "orphan_bodies_after_fault": orphans,
        "consistent": consistent
            && lost.is_empty()
            && differing == 0
            && compared > 0
            && load_held
            && unavailable_while_hung > 0
            && stored >= distinct.len() as u64,
    }))
}
