//! `cargo xtask kb rehydrate|verify --kb KB`: repair tools over a running pair of stores.

use anyhow::{Context, Result};
use clap::Subcommand;
use kato_core::KbId;
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig};

#[derive(Debug, Subcommand)]
pub(crate) enum KbCommand {
    /// Rebuild every Redis value of the kb from ClickHouse's learn log.
    Rehydrate(KbArgs),
    /// Report where Redis differs from a replay of the learn log; changes nothing.
    Verify(KbArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct KbArgs {
    /// The kb id (after node_id sanitising), e.g. `node1`.
    #[arg(long)]
    kb: String,
    /// ClickHouse HTTP URL; default: the server `up` started under .kato/.
    #[arg(long, env = "KATO_CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// Redis URL; default: the server `up` started under .kato/.
    #[arg(long, env = "KATO_REDIS_URL")]
    redis_url: Option<String>,
    #[arg(long, env = "KATO_CLICKHOUSE_DATABASE", default_value = kato_clickhouse::schema::DEFAULT_DATABASE)]
    database: String,
    /// The ClickHouse cluster whose replicated, distributed tables hold the kb; none for one
    /// server.
    #[arg(long, env = "KATO_CLICKHOUSE_CLUSTER")]
    cluster: Option<String>,
}

pub(crate) fn run(command: KbCommand) -> Result<i32> {
    let (KbCommand::Rehydrate(args) | KbCommand::Verify(args)) = &command;
    let kb = KbId::new(args.kb.as_str())?;
    let services = crate::services_dir(None);
    let clickhouse_url = match &args.clickhouse_url {
        Some(url) => url.clone(),
        None => crate::services::running_url(&services, "clickhouse")?
            .context("no ClickHouse: start one with `cargo xtask up` or pass --clickhouse-url")?,
    };
    let redis_url = match &args.redis_url {
        Some(url) => url.clone(),
        None => crate::services::running_url(&services, "redis")?
            .context("no Redis: start one with `cargo xtask up` or pass --redis-url")?,
    };
    let mut config = KnowledgeBaseConfig::new(clickhouse_url, redis_url);
    config.clickhouse_database.clone_from(&args.database);
    config.clickhouse_topology = crate::topology(args.cluster.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let knowledge_base = KnowledgeBase::connect(config).await?;
        match command {
            KbCommand::Rehydrate(_) => {
                eprintln!("kb {kb}: replaying the learn log into Redis ...");
                let report = knowledge_base.rehydrate(&kb).await?;
                println!(
                    "kb {kb}: rehydrated: {} learns replayed, {} patterns, {} orphan bodies removed, the log rows of {} patterns without a body removed",
                    report.learns_replayed,
                    report.patterns,
                    report.orphan_bodies_removed.len(),
                    report.learns_without_body.len()
                );
                Ok(0)
            }
            KbCommand::Verify(_) => {
                let report = knowledge_base.verify(&kb).await?;
                if report.is_clean() {
                    println!("kb {kb}: clean ({} learns checked)", report.learns_checked);
                    return Ok(0);
                }
                println!("kb {kb}: Redis differs from the learn log ({} learns checked)", report.learns_checked);
                for (what, list) in [
                    ("orphan pattern bodies", &report.orphan_bodies),
                    ("patterns logged without a body", &report.learns_without_body),
                    ("missing keys", &report.missing_keys),
                    ("unexpected keys", &report.unexpected_keys),
                    ("different keys", &report.different_keys),
                ] {
                    if !list.is_empty() {
                        println!("  {what} ({}): {}", list.len(), list.iter().take(20).cloned().collect::<Vec<_>>().join(", "));
                    }
                }
                println!("  repair with `cargo xtask kb rehydrate --kb {kb}`");
                Ok(1)
            }
        }
    })
}
