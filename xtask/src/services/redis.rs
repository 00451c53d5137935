//! Redis from `redis-server` on PATH, installed with apt when missing and permitted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Launch, Mode, existing_url, find_on_path, port_for, spawn_and_wait};
use crate::process;

const PREFERRED_PORT: u16 = 16379;

/// Starts Redis under `service_dir` (or reuses the one running there) and returns its URL.
pub(super) fn up(service_dir: &Path, mode: Mode) -> Result<String> {
    if let Some(url) = existing_url(
        service_dir,
        "redis",
        "KATO_REDIS_URL",
        process::redis_answers,
    )? {
        return Ok(url);
    }
    let program = redis_server()?;
    std::fs::create_dir_all(service_dir)?;
    let port = port_for(mode, PREFERRED_PORT)?;
    let mut cmd = Command::new(&program);
    cmd.arg("--port")
        .arg(port.to_string())
        .args([
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(service_dir)
        .args(["--save", ""]);
    match mode {
        Mode::Persistent => cmd.args(["--appendonly", "yes", "--appendfsync", "everysec"]),
        Mode::Throwaway => cmd.args(["--appendonly", "no"]),
    };
    let launch = Launch {
        name: "redis",
        engine: "redis-server",
        cmdline_marker: "redis-server",
        scheme: "redis",
        port,
        probe: process::redis_answers,
        ready_timeout: Duration::from_secs(15),
    };
    Ok(spawn_and_wait(cmd, service_dir, mode, &launch)?.url())
}

/// `redis-server` from PATH; on Debian or Ubuntu as root, installs the package when missing.
fn redis_server() -> Result<std::path::PathBuf> {
    if let Some(path) = find_on_path("redis-server") {
        return Ok(path);
    }
    let debian_like = Path::new("/etc/debian_version").exists();
    #[allow(unsafe_code)]
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    if !(debian_like && root && find_on_path("apt-get").is_some()) {
        bail!(
            "redis-server is not on PATH; install it (Debian/Ubuntu package `redis-server`, \
             e.g. `sudo apt-get install redis-server`) or set KATO_REDIS_URL to an existing Redis"
        );
    }
    eprintln!("redis: redis-server is missing; installing the Debian package `redis-server` ...");
    if !apt_install_redis()? {
        // A fresh machine may have empty package lists.
        let status = Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::io::stderr())
            .status()
            .context("running apt-get update")?;
        if !status.success() || !apt_install_redis()? {
            bail!(
                "apt-get could not install redis-server; install the package `redis-server` by hand"
            );
        }
    }
    find_on_path("redis-server")
        .context("the package `redis-server` was installed but redis-server is not on PATH")
}

fn apt_install_redis() -> Result<bool> {
    let status = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "redis-server",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::io::stderr())
        .status()
        .context("running apt-get install")?;
    Ok(status.success())
}
