//! `cargo xtask chaos`: fault-injection scenarios against a real kato-server over real stores.
//! Prints one JSON line `{"bench":"chaos","scenarios":[...],"acknowledged":N,"lost":L}` and
//! exits non-zero when anything acknowledged was lost or the kb could not be made consistent.
//!
//! Scenarios so far:
//! - `kill9_during_learn`: C clients learn distinct sequences through the bulk route; after a
//!   few seconds the server gets SIGKILL. After a restart every acknowledged learn must be
//!   there with frequency 1 (each sequence is learned by exactly one request), and the kb must
//!   verify clean, or clean after `rehydrate` (a learn cut between ClickHouse and Redis).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use kato_core::KbId;
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig};
use serde_json::{Value, json};

use crate::server::{Client, build_server, start_server, stop_server};
use crate::{process, services};

/// The database the chaos server uses.
const DATABASE: &str = "kato_chaos";
/// The node every chaos client learns into, and its kb id (`<node>_kato`).
const NODE: &str = "chaos_kill9";
const KB: &str = "chaos_kill9_kato";
/// Sequences per learn request.
const SEQUENCES_PER_REQUEST: usize = 10;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ChaosArgs {
    /// Concurrent learning clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of load before the fault.
    #[arg(long, default_value_t = 3)]
    load_seconds: u64,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ChaosArgs) -> Result<i32> {
    if cfg!(debug_assertions) {
        return crate::bench::rerun_optimized();
    }
    let report = services::with_throwaway("chaos", |urls| {
        build_server()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(kill9_during_learn(args, &urls.clickhouse, &urls.redis))
    })?;
    let acknowledged = report["acknowledged"].as_u64().unwrap_or(0);
    let lost = report["lost"].as_u64().unwrap_or(u64::MAX);
    let consistent = report["consistent"].as_bool().unwrap_or(false);
    let summary = json!({
        "bench": "chaos",
        "scenarios": [report],
        "acknowledged": acknowledged,
        "lost": lost,
    });
    println!("{summary}");
    if !args.json {
        eprintln!(
            "chaos: {acknowledged} acknowledged learns, {lost} lost, kb consistent: {consistent}"
        );
    }
    Ok(if lost == 0 && consistent { 0 } else { 1 })
}

async fn kill9_during_learn(args: &ChaosArgs, clickhouse: &str, redis: &str) -> Result<Value> {
    let port = process::free_port()?;
    let mut server = start_server(clickhouse, redis, DATABASE, port)?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"))?;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    for worker in 0..args.clients.max(1) {
        let client = client.clone();
        let acknowledged = Arc::clone(&acknowledged);
        workers.push(tokio::spawn(async move {
            let Ok(session) = client.create_session(NODE).await else {
                return;
            };
            for request in 0.. {
                let sequences: Vec<Value> = (0..SEQUENCES_PER_REQUEST)
                    .map(|n| {
                        json!([
                            [format!("w{worker}")],
                            [format!("r{request}")],
                            [format!("n{n}")]
                        ])
                    })
                    .collect();
                let Ok(learned) = client
                    .post(
                        &format!("/sessions/{session}/learn-sequences"),
                        Some(json!({ "sequences": sequences })),
                    )
                    .await
                else {
                    // The server is gone: whatever this request did is unacknowledged.
                    return;
                };
                let names = learned["pattern_names"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                acknowledged.lock().expect("not poisoned").extend(
                    names
                        .iter()
                        .filter_map(|name| name.as_str().map(str::to_owned)),
                );
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.load_seconds)).await;
    let pid = server.id();
    eprintln!("chaos: SIGKILL to kato-server (pid {pid}) under load");
    server.kill().context("killing kato-server")?;
    let _ = server.wait();
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().expect("not poisoned"));
    eprintln!(
        "chaos: {} learns were acknowledged before the kill",
        acknowledged.len()
    );

    let mut server = start_server(clickhouse, redis, DATABASE, port)?;
    let mut lost = Vec::new();
    for name in &acknowledged {
        let path = format!("/pattern/{}?node_id={NODE}", name.replace('|', "%7C"));
        let found = client.get(&path).await?;
        let frequency = found["pattern"]["pattern"]["frequency"].as_u64();
        if found["pattern"]["status"] != "okay" || frequency != Some(1) {
            lost.push(name.clone());
        }
    }
    stop_server(&mut server);

    let mut config = KnowledgeBaseConfig::new(clickhouse, redis);
    config.clickhouse_database = DATABASE.to_owned();
    let knowledge_base = KnowledgeBase::connect(config).await?;
    let kb = KbId::new(KB)?;
    let before = knowledge_base.verify(&kb).await?;
    let clean_after_kill = before.is_clean();
    let consistent = if clean_after_kill {
        true
    } else {
        eprintln!(
            "chaos: verify found the cut learns ({} orphan bodies, {} learns without body, {} missing, {} unexpected, {} different keys); rehydrating",
            before.orphan_bodies.len(),
            before.learns_without_body.len(),
            before.missing_keys.len(),
            before.unexpected_keys.len(),
            before.different_keys.len()
        );
        knowledge_base.rehydrate(&kb).await?;
        knowledge_base.verify(&kb).await?.is_clean()
    };
    let learns_logged = before.learns_checked;
    knowledge_base.drop_database(&kb, true).await?;
    Ok(json!({
        "name": "kill9_during_learn",
        "clients": args.clients,
        "load_seconds": args.load_seconds,
        "faults": 1,
        "acknowledged": acknowledged.len(),
        "learns_logged": learns_logged,
        "lost": lost.len(),
        "lost_names": lost.iter().take(10).collect::<Vec<_>>(),
        "clean_after_kill": clean_after_kill,
        "orphan_bodies_after_kill": before.orphan_bodies.len(),
        "consistent": consistent,
    }))
}
