//! `cargo xtask test`: the whole suite against throwaway ClickHouse and Redis.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::process;
use crate::services::{self, ServiceUrls};

/// Runs the tests against throwaway services (see [`services::with_throwaway`]). Returns the
/// test suite's exit code, 130 when it was interrupted and otherwise passed.
pub(crate) fn run(runner_args: &[String]) -> Result<i32> {
    let code = services::with_throwaway("test", |urls| run_suite(urls, runner_args))?;
    Ok(if process::interrupted() && code == 0 {
        130
    } else {
        code
    })
}

/// cargo-nextest when installed (doc tests then run with `cargo test --doc`, which nextest
/// cannot), else `cargo test`.
fn run_suite(urls: &ServiceUrls, runner_args: &[String]) -> Result<i32> {
    let root = crate::workspace_root();
    let nextest = Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let code = if nextest {
        let code = cargo_with_services(
            &root,
            urls,
            &["nextest", "run", "--workspace", "--no-fail-fast"],
            runner_args,
        )?;
        if code != 0 || process::interrupted() {
            return Ok(code);
        }
        let code = cargo_with_services(&root, urls, &["test", "--workspace", "--doc"], &[])?;
        if code != 0 || process::interrupted() {
            return Ok(code);
        }
        on_redis_cluster(&root, urls, runner_args)?
    } else {
        eprintln!("test: cargo-nextest not found; using cargo test");
        cargo_with_services(
            &root,
            urls,
            &["test", "--workspace", "--no-fail-fast"],
            runner_args,
        )?
    };
    Ok(code)
}

/// The crates that use Redis, again against a three-node Redis Cluster: every command kato
/// sends must stay within one slot. Tests that cut Redis through a proxy skip themselves
/// there (a proxy cannot stand in front of a cluster).
fn on_redis_cluster(root: &Path, urls: &ServiceUrls, runner_args: &[String]) -> Result<i32> {
    let cluster = urls.with_redis_cluster()?;
    eprintln!("test: again on the Redis Cluster {}", cluster.redis);
    cargo_with_services(
        root,
        &cluster,
        &[
            "nextest",
            "run",
            "--no-fail-fast",
            "-p",
            "kato-redis",
            "-p",
            "kato-kb",
            "-p",
            "kato-server",
        ],
        runner_args,
    )
}

fn cargo_with_services(
    root: &Path,
    urls: &ServiceUrls,
    args: &[&str],
    extra: &[String],
) -> Result<i32> {
    eprintln!("test: cargo {} {}", args.join(" "), extra.join(" "));
    let status = Command::new(cargo())
        .args(args)
        .args(extra)
        .current_dir(root)
        .env(kato_test_support::CLICKHOUSE_URL_VAR, &urls.clickhouse)
        .env(kato_test_support::REDIS_URL_VAR, &urls.redis)
        .env(kato_test_support::REQUIRE_SERVICES_VAR, "1")
        .status()
        .context("running cargo")?;
    // A runner killed by a signal has no code; report it the way a shell would.
    Ok(status.code().unwrap_or(128 + 2))
}

/// The cargo that runs xtask (so the pinned toolchain is used throughout).
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
