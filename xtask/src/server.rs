//! kato-server as a child process and a JSON client of its API, for the benches and the
//! chaos suite (which drive the service over HTTP only).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::process;

/// Builds kato-server in release.
pub(crate) fn build_server() -> Result<()> {
    eprintln!("building kato-server (release)");
    let status = Command::new(crate::test::cargo())
        .args(["build", "--release", "--quiet", "-p", "kato-server"])
        .current_dir(crate::workspace_root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building kato-server failed");
    }
    Ok(())
}

/// Starts the release kato-server on 127.0.0.1:`port` over the given stores (database
/// `database`), with the request deadline `request_timeout` (else the server's default), dying
/// with xtask, and waits until it listens.
pub(crate) fn start_server(
    clickhouse: &str,
    redis: &str,
    database: &str,
    port: u16,
    request_timeout: Option<Duration>,
) -> Result<Child> {
    let mut command = Command::new(crate::release_binary("kato-server"));
    command
        .env("KATO_CLICKHOUSE_URL", clickhouse)
        .env("KATO_REDIS_URL", redis)
        .env("KATO_CLICKHOUSE_DATABASE", database)
        .env("KATO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(timeout) = request_timeout {
        command.env("KATO_REQUEST_TIMEOUT_MS", timeout.as_millis().to_string());
    }
    process::configure_lifetime(&mut command, process::Lifetime::Throwaway);
    let mut child = command.spawn().context("starting kato-server")?;
    let ready = process::wait_until(Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    if !ready {
        let _ = child.kill();
        bail!("kato-server did not listen on port {port} within 60 s");
    }
    Ok(child)
}

/// Stops the server with SIGTERM (then SIGKILL) and reaps it.
pub(crate) fn stop_server(server: &mut Child) {
    if let Err(error) = process::terminate(server.id(), Duration::from_secs(10)) {
        eprintln!("stopping kato-server: {error:#}");
    }
    let _ = server.wait();
}

/// The server's peak resident memory in MiB, from `/proc/<pid>/status`.
pub(crate) fn peak_rss_mb(pid: u32) -> Option<f64> {
    memory_mb(pid, "VmHWM:")
}

/// The server's resident memory now in MiB, from `/proc/<pid>/status`.
pub(crate) fn rss_mb(pid: u32) -> Option<f64> {
    memory_mb(pid, "VmRSS:")
}

fn memory_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((kib / 1024.0).round())
}

/// A JSON client of the API that fails on any non-2xx answer.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: Arc<str>,
}

impl Client {
    pub(crate) fn new(base: &str) -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?,
            base: base.trim_end_matches('/').into(),
        })
    }

    pub(crate) async fn create_session(&self, node: &str) -> Result<String> {
        let session = self
            .post("/sessions", Some(json!({ "node_id": node })))
            .await?;
        Ok(session["session_id"]
            .as_str()
            .with_context(|| format!("POST /sessions answered {session}"))?
            .to_owned())
    }

    pub(crate) async fn post(&self, path: &str, body: Option<Value>) -> Result<Value> {
        let request = self.http.post(format!("{}{path}", self.base));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        Self::answer(path, request.send().await).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<Value> {
        Self::answer(
            path,
            self.http
                .delete(format!("{}{path}", self.base))
                .send()
                .await,
        )
        .await
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        Self::answer(
            path,
            self.http.get(format!("{}{path}", self.base)).send().await,
        )
        .await
    }

    async fn answer(path: &str, sent: reqwest::Result<reqwest::Response>) -> Result<Value> {
        let response = sent.with_context(|| format!("sending {path}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading {path}"))?;
        if !status.is_success() {
            bail!("{path} answered {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("{path} answered {body:?}"))
    }
}
