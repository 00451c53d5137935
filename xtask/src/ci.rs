//! `cargo xtask ci`: everything CI checks, in the order that fails fastest: formatting,
//! clippy, the dependency boundary of kato-core and kato-index, the test suite (`cargo xtask test`), then the
//! fault scenarios (`cargo xtask chaos`).

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::test::cargo;

/// The crates that do no I/O.
const PURE_CRATES: &[&str] = &["kato-core", "kato-index"];

/// Crates the pure crates must never depend on, directly or not.
const FORBIDDEN_IN_CORE: &[&str] = &["tokio", "redis", "clickhouse", "hyper", "axum"];

pub(crate) fn run() -> Result<i32> {
    step("cargo fmt --check", &["fmt", "--all", "--check"])?;
    step(
        "cargo clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    for krate in PURE_CRATES {
        check_boundary(krate)?;
        eprintln!(
            "ci: {krate} depends on none of {}",
            FORBIDDEN_IN_CORE.join(", ")
        );
    }
    crate::docs_check::check_assets()?;
    eprintln!("ci: the Swagger UI assets are the pinned files");
    let code = crate::test::run(&[])?;
    if code != 0 {
        return Ok(code);
    }
    // The fault scenarios (about 6 minutes plus a release build): they fit CI's time.
    step("cargo xtask chaos", &["xtask", "chaos", "--json"])?;
    Ok(0)
}

fn step(name: &str, args: &[&str]) -> Result<()> {
    eprintln!("ci: {name}");
    let status = Command::new(cargo())
        .args(args)
        .current_dir(crate::workspace_root())
        .status()
        .with_context(|| format!("running {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

/// Fails when any crate in `krate`'s normal or build dependency tree is I/O machinery.
fn check_boundary(krate: &str) -> Result<()> {
    let output = Command::new(cargo())
        .args([
            "tree",
            "-p",
            krate,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(crate::workspace_root())
        .output()
        .context("running cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tree = String::from_utf8(output.stdout)?;
    let offenders = forbidden_crates(&tree);
    if !offenders.is_empty() {
        bail!(
            "{krate} must not depend on I/O crates, but its tree has: {}",
            offenders.join(", ")
        );
    }
    Ok(())
}

/// Crate names in a `cargo tree --format {p}` listing that are, or belong to, a forbidden crate.
fn forbidden_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            FORBIDDEN_IN_CORE
                .iter()
                .any(|f| *name == *f || name.starts_with(&format!("{f}-")))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::forbidden_crates;

    #[test]
    fn finds_forbidden_crates_and_their_families() {
        let tree = "kato-core v0.1.0 (/x)\nsha1 v0.11.0\ntokio v1.0.0\ntokio-util v0.7.0\nredis v1.0.0 (*)\nhyperlocal v1\n";
        assert_eq!(forbidden_crates(tree), vec!["redis", "tokio", "tokio-util"]);
    }

    #[test]
    fn a_clean_tree_passes() {
        assert!(
            forbidden_crates("kato-core v0.1.0\nsha1 v0.11.0\nrand_xoshiro v0.8.0\n").is_empty()
        );
    }
}
