//! Redis from `redis-server` on PATH, installed with apt when missing and permitted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Launch, Mode, existing_url, port_for, spawn_and_wait};
use crate::process;

const PREFERRED_PORT: u16 = 16379;

/// The service directories (and names) of the nodes of a throwaway Redis Cluster.
pub(super) const CLUSTER_NODES: [&str; 3] =
    ["redis-cluster-0", "redis-cluster-1", "redis-cluster-2"];

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
    let port = port_for(service_dir, mode, PREFERRED_PORT)?;
    let mut cmd = server_command(&program, service_dir, port);
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

/// A redis-server on 127.0.0.1:`port` with its files in `service_dir` and no RDB snapshots.
fn server_command(program: &Path, service_dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(program);
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
    cmd
}

/// Starts a throwaway Redis Cluster of three primaries (no replicas, nothing on disk) in
/// `dir/redis-cluster-<i>`, joins them with `redis-cli --cluster create`, waits until every
/// node reports `cluster_state:ok`, and returns the URL list `kato_redis::connect` takes.
pub(super) fn cluster_up(dir: &Path) -> Result<String> {
    let program = redis_server()?;
    let mut ports = Vec::new();
    for name in CLUSTER_NODES {
        let service_dir = dir.join(name);
        std::fs::create_dir_all(&service_dir)?;
        let port = process::free_port()?;
        // The cluster bus port defaults to port + 10000, which a free port need not leave free.
        let bus_port = process::free_port()?;
        let mut cmd = server_command(&program, &service_dir, port);
        cmd.args([
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ])
        .arg("--cluster-port")
        .arg(bus_port.to_string());
        let launch = Launch {
            name,
            engine: "redis-server",
            cmdline_marker: "redis-server",
            scheme: "redis",
            port,
            probe: process::redis_answers,
            ready_timeout: Duration::from_secs(15),
        };
        spawn_and_wait(cmd, &service_dir, Mode::Throwaway, &launch)?;
        ports.push(port);
    }
    let nodes: Vec<String> = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    // redis-cli ships with redis-server (Debian's redis-tools, a dependency of redis-server).
    let output = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&nodes)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .context("running redis-cli --cluster create")?;
    if !output.status.success() {
        bail!(
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let joined = process::wait_until(Duration::from_secs(30), || {
        ports.iter().all(|port| process::redis_cluster_ok(*port))
    });
    if !joined {
        bail!("the Redis Cluster on {nodes:?} did not reach cluster_state:ok within 30 s");
    }
    eprintln!("redis cluster: {} primaries up on {nodes:?}", nodes.len());
    Ok(ports
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// `redis-server` from PATH; on Debian or Ubuntu as root, installs the package when missing.
fn redis_server() -> Result<std::path::PathBuf> {
    super::program_or_package(
        "redis-server",
        "redis-server",
        "or set KATO_REDIS_URL to an existing Redis",
    )
}
