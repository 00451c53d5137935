//! `cargo xtask bench ...`: benchmarks that print one JSON line each.

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::test::cargo;

mod http;
mod predict;
mod vectors;
mod workload;
mod write;

#[derive(Debug, Subcommand)]
pub(crate) enum Bench {
    /// MinHash signatures per second on one thread (100 permutations, 10-token sets).
    Minhash {
        /// Number of sets to sign.
        #[arg(long, default_value_t = 2_000_000)]
        sets: u64,
        /// Print only the JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Distinct patterns per second through ClickHouseWriter + RedisWriter.
    Write(write::WriteArgs),
    /// Prediction latency over a kb loaded with synthetic patterns.
    Predict(predict::PredictArgs),
    /// The whole service through its HTTP API: learn throughput, observe and predict latency,
    /// recall and server memory.
    Http(http::HttpArgs),
    /// Observe latency with one vector per observation against N learned vectors, and
    /// recall@3 of their nearest neighbours against an exact search.
    Vectors(vectors::VectorsArgs),
}

pub(crate) fn run(bench: Bench) -> Result<i32> {
    match bench {
        Bench::Write(args) => return write::run(&args),
        Bench::Predict(args) => return predict::run(&args),
        Bench::Http(args) => return http::run(&args),
        Bench::Vectors(args) => return vectors::run(&args),
        Bench::Minhash { sets, json } => {
            let output = Command::new(cargo())
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "-p",
                    "kato-core",
                    "--example",
                    "minhash_throughput",
                    "--",
                ])
                .arg("--sets")
                .arg(sets.to_string())
                .current_dir(crate::workspace_root())
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running the minhash_throughput example")?;
            if !output.status.success() {
                bail!("the minhash benchmark failed ({})", output.status);
            }
            let line = String::from_utf8(output.stdout)?;
            let line = line.trim();
            if json {
                println!("{line}");
            } else {
                let result: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("the benchmark printed {line:?}, not JSON"))?;
                println!(
                    "minhash: {} sets of {} tokens, {} permutations: {:.0} sets/s on one thread",
                    result["sets"],
                    result["tokens_per_set"],
                    result["num_perm"],
                    result["sets_per_sec"]
                );
            }
        }
    }
    Ok(0)
}

/// The `p`-th percentile (nearest rank) of `sorted` latencies in milliseconds, one decimal.
fn percentile_ms(sorted: &[std::time::Duration], p: usize) -> f64 {
    sorted
        .get((sorted.len() * p).div_ceil(100).saturating_sub(1))
        .map_or(0.0, |d| (d.as_secs_f64() * 1e4).round() / 10.0)
}

/// Runs this same xtask command again from a release build of xtask; returns its exit code.
pub(crate) fn rerun_optimized() -> Result<i32> {
    eprintln!("bench: building xtask with optimisations and running it there ...");
    let status = Command::new(cargo())
        .args(["run", "--quiet", "--release", "-p", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .current_dir(crate::workspace_root())
        .status()
        .context("running the optimised xtask")?;
    Ok(status.code().unwrap_or(1))
}
