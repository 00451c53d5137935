//! Local Redis and ClickHouse for development (`up`/`down`/`status`) and tests (throwaway).
//!
//! Each service keeps a `state.json` (pid, port, how it was started) in its own directory under
//! the services directory; `down` and `status` work from those files alone, so they stop exactly
//! the processes `up` started (by pid, checked against the command line) and nothing else.

mod clickhouse;
mod redis;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
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
    /// Where the services keep their files; more throwaway services may start under it.
    dir: PathBuf,
}

impl ServiceUrls {
    /// Starts a throwaway three-node Redis Cluster beside the services (stopped with them) and
    /// returns these URLs with Redis replaced by the cluster's node URLs, comma-separated.
    pub(crate) fn with_redis_cluster(&self) -> Result<ServiceUrls> {
        Ok(ServiceUrls {
            redis: redis::cluster_up(&self.dir)?,
            ..self.clone()
        })
    }

    /// Stops the service `name` (`clickhouse` or `redis`) as an operator would (SIGTERM, then
    /// waits until it is gone), keeping its files and port for [`ServiceUrls::start_again`].
    pub(crate) fn stop(&self, name: &str) -> Result<()> {
        let state = ServiceState::read(&self.dir.join(name))?
            .with_context(|| format!("{name} was never started under {}", self.dir.display()))?;
        process::terminate(state.pid, Duration::from_secs(20))
    }

    /// Starts the stopped service `name` again on its port over its files. A throwaway Redis
    /// keeps nothing on disk, so it comes back empty, as one restarted without persistence.
    pub(crate) fn start_again(&self, name: &str) -> Result<()> {
        let service_dir = self.dir.join(name);
        let (url, old_url) = match name {
            "clickhouse" => (
                clickhouse::up(&service_dir, Mode::Throwaway)?,
                &self.clickhouse,
            ),
            "redis" => (redis::up(&service_dir, Mode::Throwaway)?, &self.redis),
            _ => anyhow::bail!("no service {name}"),
        };
        anyhow::ensure!(
            url == *old_url,
            "{name} came back at {url}, not at its old URL {old_url}"
        );
        Ok(())
    }

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
    Ok(ServiceUrls {
        clickhouse,
        redis,
        dir,
    })
}

/// Runs `work` against throwaway services in a fresh temp dir, then always stops them and
/// removes the dir, also when `work` fails or the run is interrupted (Ctrl-C is caught so the
/// cleanup runs; child processes still get it).
pub(crate) fn with_throwaway<T>(
    label: &str,
    work: impl FnOnce(&ServiceUrls) -> Result<T>,
) -> Result<T> {
    process::catch_interrupts();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("kato-{label}-{}-{nanos:x}", std::process::id()));
    let outcome = up(&dir, Mode::Throwaway).and_then(|urls| {
        eprintln!(
            "{label}: throwaway services: ClickHouse {} and Redis {}",
            urls.clickhouse, urls.redis
        );
        work(&urls)
    });
    if let Err(e) = down(&dir) {
        eprintln!("{label}: stopping the throwaway services failed: {e:#}");
    }
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("{label}: removing {} failed: {e}", dir.display());
    }
    if process::interrupted() {
        eprintln!(
            "{label}: interrupted; services stopped and {} removed",
            dir.display()
        );
    }
    outcome
}

/// Stops the services recorded under `dir` and waits until their processes are gone.
pub(crate) fn down(dir: &Path) -> Result<()> {
    for name in ["clickhouse", "redis"]
        .into_iter()
        .chain(redis::CLUSTER_NODES)
    {
        let service_dir = dir.join(name);
        match ServiceState::read(&service_dir)? {
            Some(state) if state.is_running() => {
                eprintln!("{name}: stopping pid {}", state.pid);
                process::terminate(state.pid, Duration::from_secs(20))?;
                eprintln!("{name}: stopped");
            }
            Some(_) => eprintln!("{name}: not running"),
            // Cluster nodes start only for the tests that ask for them.
            None if redis::CLUSTER_NODES.contains(&name) => {}
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

/// The URL of the service when nothing needs starting: the one its environment variable names,
/// or the one already running (and answering `probe`) under `service_dir`.
fn existing_url(
    service_dir: &Path,
    name: &str,
    env_var: &str,
    probe: fn(u16) -> bool,
) -> Result<Option<String>> {
    if let Ok(url) = std::env::var(env_var) {
        eprintln!("{name}: using {url} from {env_var}; starting nothing");
        return Ok(Some(url));
    }
    if let Some(state) = ServiceState::read(service_dir)?
        && state.is_running()
        && probe(state.port)
    {
        eprintln!(
            "{name}: already running ({}), pid {} on port {}",
            state.engine, state.pid, state.port
        );
        return Ok(Some(state.url()));
    }
    Ok(None)
}

/// The port a new service listens on: the one it had when it is started again in its
/// directory (its clients keep their URL), else the preferred one when persistent and free,
/// else any.
fn port_for(service_dir: &Path, mode: Mode, preferred: u16) -> Result<u16> {
    if let Some(state) = ServiceState::read(service_dir)? {
        return Ok(state.port);
    }
    match mode {
        Mode::Persistent => process::preferred_or_free_port(preferred),
        Mode::Throwaway => process::free_port(),
    }
}

/// What `spawn_and_wait` needs to know about the service it starts.
struct Launch {
    name: &'static str,
    engine: &'static str,
    cmdline_marker: &'static str,
    scheme: &'static str,
    port: u16,
    probe: fn(u16) -> bool,
    ready_timeout: Duration,
}

/// Starts `cmd` with its output in `<name>.log` / `<name>.stderr.log` under `service_dir`,
/// records its state, and waits until it answers `probe` (stopping it again if it never does).
fn spawn_and_wait(
    mut cmd: std::process::Command,
    service_dir: &Path,
    mode: Mode,
    launch: &Launch,
) -> Result<ServiceState> {
    let logs = [
        service_dir.join(format!("{}.log", launch.name)),
        service_dir.join(format!("{}.stderr.log", launch.name)),
    ];
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&logs[0])?)
        .stderr(std::fs::File::create(&logs[1])?)
        .current_dir(service_dir);
    process::configure_lifetime(&mut cmd, mode.lifetime());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} ({})", launch.name, launch.engine))?;
    let state = ServiceState {
        pid: child.id(),
        port: launch.port,
        engine: launch.engine.to_owned(),
        cmdline_marker: launch.cmdline_marker.to_owned(),
        scheme: launch.scheme.to_owned(),
    };
    state.write(service_dir)?;
    let mut exited = None;
    let ready = process::wait_until(launch.ready_timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        (launch.probe)(launch.port)
    });
    let log_tails = || format!("{}\n{}", log_tail(&logs[0]), log_tail(&logs[1]));
    if let Some(status) = exited {
        anyhow::bail!(
            "{} ({}) exited with {status} at start; its log:\n{}",
            launch.name,
            launch.engine,
            log_tails()
        );
    }
    if !ready {
        process::terminate(state.pid, Duration::from_secs(5))?;
        anyhow::bail!(
            "{} did not answer within {:?}; its log:\n{}",
            launch.name,
            launch.ready_timeout,
            log_tails()
        );
    }
    eprintln!(
        "{}: started {}, pid {} on port {}, data in {}",
        launch.name,
        launch.engine,
        state.pid,
        launch.port,
        service_dir.display()
    );
    Ok(state)
}

/// The last lines of a service's log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `program` from PATH; on Debian or Ubuntu as root, installs `package` with apt when it is
/// missing (after `apt-get update` if the package lists are empty). `otherwise` ends the error
/// of a machine where kato cannot install it.
pub(crate) fn program_or_package(program: &str, package: &str, otherwise: &str) -> Result<PathBuf> {
    if let Some(path) = find_on_path(program) {
        return Ok(path);
    }
    let debian_like = Path::new("/etc/debian_version").exists();
    #[allow(unsafe_code)]
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    if !(debian_like && root && find_on_path("apt-get").is_some()) {
        bail!(
            "{program} is not on PATH; install it (Debian/Ubuntu package `{package}`, \
             e.g. `sudo apt-get install {package}`) {otherwise}"
        );
    }
    eprintln!("{program} is missing; installing the Debian package `{package}` ...");
    let apt = |args: &[&str]| -> Result<bool> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::io::stderr())
            .status()
            .with_context(|| format!("running apt-get {}", args[0]))?;
        Ok(status.success())
    };
    let install = ["install", "-y", "-q", "--no-install-recommends", package];
    // A fresh machine may have empty package lists.
    let installed = apt(&install)? || (apt(&["update", "-q"])? && apt(&install)?);
    if !installed {
        bail!("apt-get could not install {package}; install the package `{package}` by hand");
    }
    find_on_path(program).with_context(|| {
        format!("the package `{package}` was installed but {program} is not on PATH")
    })
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
