//! `cargo xtask test`: the whole suite against throwaway ClickHouse and Redis.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::process;
use crate::services::{self, Mode, ServiceUrls};

/// Starts throwaway services in a temp dir, runs the tests, and always stops the services and
/// removes the dir, also on failure or Ctrl-C. Returns the test suite's exit code.
pub(crate) fn run(runner_args: &[String]) -> Result<i32> {
    process::catch_interrupts();
    let dir = scratch_dir();
    let outcome = services::up(&dir, Mode::Throwaway).and_then(|urls| {
        eprintln!(
            "test: throwaway services: ClickHouse {} and Redis {}",
            urls.clickhouse, urls.redis
        );
        run_suite(&urls, runner_args)
    });
    if let Err(e) = services::down(&dir) {
        eprintln!("test: stopping the throwaway services failed: {e:#}");
    }
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("test: removing {} failed: {e}", dir.display());
    }
    let code = outcome?;
    if process::interrupted() {
        eprintln!(
            "test: interrupted; services stopped and {} removed",
            dir.display()
        );
        return Ok(if code == 0 { 130 } else { code });
    }
    Ok(code)
}

fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("kato-test-{}-{nanos:x}", std::process::id()))
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
        cargo_with_services(&root, urls, &["test", "--workspace", "--doc"], &[])?
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
        .env(kato_test_env::CLICKHOUSE_URL, &urls.clickhouse)
        .env(kato_test_env::REDIS_URL, &urls.redis)
        .env(kato_test_env::REQUIRE_SERVICES, "1")
        .status()
        .context("running cargo")?;
    // A runner killed by a signal has no code; report it the way a shell would.
    Ok(status.code().unwrap_or(128 + 2))
}

/// The cargo that runs xtask (so the pinned toolchain is used throughout).
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The variables the test-support crate reads (kept in step with `kato-test-support`).
mod kato_test_env {
    pub(super) const CLICKHOUSE_URL: &str = "KATO_TEST_CLICKHOUSE_URL";
    pub(super) const REDIS_URL: &str = "KATO_TEST_REDIS_URL";
    pub(super) const REQUIRE_SERVICES: &str = "KATO_REQUIRE_SERVICES";
}
