//! Redis from `redis-server` on PATH, installed with apt when missing and permitted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Mode, ServiceState, find_on_path, log_tail};
use crate::process;

const PREFERRED_PORT: u16 = 16379;

/// Starts Redis under `service_dir` (or reuses the one running there) and returns its URL.
pub(super) fn up(service_dir: &Path, mode: Mode) -> Result<String> {
    if let Ok(url) = std::env::var("KATO_REDIS_URL") {
        eprintln!("redis: using {url} from KATO_REDIS_URL; starting nothing");
        return Ok(url);
    }
    if let Some(state) = ServiceState::read(service_dir)?
        && state.is_running()
        && process::redis_answers(state.port)
    {
        eprintln!(
            "redis: already running, pid {} on port {}",
            state.pid, state.port
        );
        return Ok(state.url());
    }
    let program = redis_server()?;
    std::fs::create_dir_all(service_dir)?;
    let port = match mode {
        Mode::Persistent => process::preferred_or_free_port(PREFERRED_PORT)?,
        Mode::Throwaway => process::free_port()?,
    };
    let log = service_dir.join("redis.log");
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
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(service_dir.join("redis.stderr.log"))?);
    process::configure_lifetime(&mut cmd, mode.lifetime());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let state = ServiceState {
        pid: child.id(),
        port,
        engine: "redis-server".to_owned(),
        cmdline_marker: "redis-server".to_owned(),
        scheme: "redis".to_owned(),
    };
    state.write(service_dir)?;
    let mut exited = None;
    let ready = process::wait_until(Duration::from_secs(15), || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        process::redis_answers(port)
    });
    if let Some(status) = exited {
        bail!(
            "redis-server exited with {status} at start; its log:\n{}",
            log_tail(&log)
        );
    }
    if !ready {
        process::terminate(state.pid, Duration::from_secs(5))?;
        bail!(
            "redis-server did not answer PING within 15 s; its log:\n{}",
            log_tail(&log)
        );
    }
    eprintln!(
        "redis: started pid {} on port {port}, data in {}",
        state.pid,
        service_dir.display()
    );
    Ok(state.url())
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
