//! Local Redis and ClickHouse for development (`up`/`down`/`status`) and tests (throwaway).
//!
//! Each service keeps a `state.json` (pid, port, how it was started) in its own directory under
//! the services directory; `down` and `status` work from those files alone, so they stop exactly
//! the processes `up` started (by pid, checked against the command line) and nothing else.

mod clickhouse;
mod redis;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::process::{self, Lifetime};

/// Whether data survives a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `cargo xtask up`: detached processes, data kept under the directory (Redis AOF).
    Persistent,
    /// `cargo xtask test`: free ports, processes tied to xtask, Redis keeps nothing on disk.
    Throwaway,
}

impl Mode {
    fn lifetime(self) -> Lifetime {
        match self {
            Mode::Persistent => Lifetime::Detached,
            Mode::Throwaway => Lifetime::Throwaway,
        }
    }
}

/// The URLs of a running pair of services.
#[derive(Debug, Clone)]
pub(crate) struct ServiceUrls {
    pub(crate) clickhouse: String,
    pub(crate) redis: String,
}

impl ServiceUrls {
    /// The two lines `cargo xtask up` prints, in the form a shell can `eval` or `export`.
    pub(crate) fn print_env(&self) {
        println!("KATO_CLICKHOUSE_URL={}", self.clickhouse);
        println!("KATO_REDIS_URL={}", self.redis);
    }
}

/// Starts (or reuses) both services under `dir` and waits until each answers.
pub(crate) fn up(dir: &Path, mode: Mode) -> Result<ServiceUrls> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let redis = redis::up(&dir.join("redis"), mode)?;
    let clickhouse = clickhouse::up(&dir.join("clickhouse"), mode)?;
    Ok(ServiceUrls { clickhouse, redis })
}

/// Stops the services recorded under `dir` and waits until their processes are gone.
pub(crate) fn down(dir: &Path) -> Result<()> {
    for name in ["clickhouse", "redis"] {
        let service_dir = dir.join(name);
        match ServiceState::read(&service_dir)? {
            Some(state) if state.is_running() => {
                eprintln!("{name}: stopping pid {}", state.pid);
                process::terminate(state.pid, Duration::from_secs(20))?;
                eprintln!("{name}: stopped");
            }
            Some(_) => eprintln!("{name}: not running"),
            None => eprintln!("{name}: never started under {}", dir.display()),
        }
        ServiceState::remove(&service_dir);
    }
    Ok(())
}

/// Prints what runs where.
pub(crate) fn status(dir: &Path) -> Result<()> {
    for (name, env) in [
        ("clickhouse", "KATO_CLICKHOUSE_URL"),
        ("redis", "KATO_REDIS_URL"),
    ] {
        if let Ok(url) = std::env::var(env) {
            println!("{name}: external at {url} ({env} is set; xtask starts nothing)");
            continue;
        }
        let service_dir = dir.join(name);
        match ServiceState::read(&service_dir)? {
            Some(state) if state.is_running() => println!(
                "{name}: running, pid {}, {} ({}), data in {}",
                state.pid,
                state.url(),
                state.engine,
                service_dir.display()
            ),
            Some(state) => println!("{name}: not running (pid {} is gone)", state.pid),
            None => println!("{name}: not running"),
        }
    }
    Ok(())
}

/// What `up` recorded about a service it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ServiceState {
    pid: u32,
    port: u16,
    /// `redis-server`, `clickhouse-server` or `chdb`.
    engine: String,
    /// A word of the process's command line, checked so a reused pid is never taken for ours.
    cmdline_marker: String,
    scheme: String,
}

impl ServiceState {
    fn path(service_dir: &Path) -> PathBuf {
        service_dir.join("state.json")
    }

    fn read(service_dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(service_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn write(&self, service_dir: &Path) -> Result<()> {
        let path = Self::path(service_dir);
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    fn remove(service_dir: &Path) {
        std::fs::remove_file(Self::path(service_dir)).ok();
    }

    fn is_running(&self) -> bool {
        process::is_alive(self.pid)
            && process::cmdline(self.pid).is_some_and(|c| c.contains(&self.cmdline_marker))
    }

    fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }
}

/// The last lines of a service's log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Looks `program` up on PATH.
fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The URL of `service` (`clickhouse` or `redis`) that `up` started under `dir`, if it runs.
pub(crate) fn running_url(dir: &Path, service: &str) -> Result<Option<String>> {
    Ok(ServiceState::read(&dir.join(service))?
        .filter(ServiceState::is_running)
        .map(|state| state.url()))
}
