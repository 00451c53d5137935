//! ClickHouse, from the first source that exists: `KATO_CLICKHOUSE_URL` (start nothing), a
//! `clickhouse` binary on PATH (`clickhouse server` with a generated private config), or the
//! chdb engine served by a child process of xtask (see [`crate::chdb`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Mode, ServiceState, find_on_path, log_tail};
use crate::{chdb, process};

const PREFERRED_PORT: u16 = 18123;
/// The chdb engine serves for as long as its query runs; persistent services run for years.
const PERSISTENT_SERVE_SECONDS: u64 = 10 * 365 * 24 * 3600;
/// Throwaway services die with xtask anyway; this only bounds a runaway.
const THROWAWAY_SERVE_SECONDS: u64 = 24 * 3600;
/// A cold start maps a 560 MB library and may create the data directory.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Starts ClickHouse under `service_dir` (or reuses the one running there) and returns its URL.
pub(super) fn up(service_dir: &Path, mode: Mode) -> Result<String> {
    if let Ok(url) = std::env::var("KATO_CLICKHOUSE_URL") {
        eprintln!("clickhouse: using {url} from KATO_CLICKHOUSE_URL; starting nothing");
        return Ok(url);
    }
    if let Some(state) = ServiceState::read(service_dir)?
        && state.is_running()
        && process::clickhouse_answers(state.port)
    {
        eprintln!(
            "clickhouse: already running ({}), pid {} on port {}",
            state.engine, state.pid, state.port
        );
        return Ok(state.url());
    }
    std::fs::create_dir_all(service_dir)?;
    let data_dir = service_dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let port = match mode {
        Mode::Persistent => process::preferred_or_free_port(PREFERRED_PORT)?,
        Mode::Throwaway => process::free_port()?,
    };
    let log = service_dir.join("clickhouse.log");

    let (mut cmd, engine, cmdline_marker) = match find_on_path("clickhouse") {
        Some(binary) => {
            let config = write_server_config(service_dir, &data_dir, port)?;
            let mut cmd = Command::new(binary);
            cmd.arg("server")
                .arg(format!("--config-file={}", config.display()));
            (cmd, "clickhouse-server", "clickhouse")
        }
        None => {
            let library = chdb::library_path()?;
            let seconds = match mode {
                Mode::Persistent => PERSISTENT_SERVE_SECONDS,
                Mode::Throwaway => THROWAWAY_SERVE_SECONDS,
            };
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.arg("serve-chdb")
                .arg("--library")
                .arg(library)
                .arg("--data")
                .arg(&data_dir)
                .arg("--http-port")
                .arg(port.to_string())
                .arg("--seconds")
                .arg(seconds.to_string());
            (cmd, "chdb", "serve-chdb")
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(
            service_dir.join("clickhouse.stderr.log"),
        )?)
        .current_dir(service_dir);
    process::configure_lifetime(&mut cmd, mode.lifetime());
    let child = cmd
        .spawn()
        .with_context(|| format!("starting ClickHouse ({engine})"))?;
    let state = ServiceState {
        pid: child.id(),
        port,
        engine: engine.to_owned(),
        cmdline_marker: cmdline_marker.to_owned(),
        scheme: "http".to_owned(),
    };
    state.write(service_dir)?;
    wait_ready(child, &state, service_dir)?;
    eprintln!(
        "clickhouse: started {engine}, pid {} on port {port}, data in {}",
        state.pid,
        data_dir.display()
    );
    Ok(state.url())
}

fn wait_ready(mut child: Child, state: &ServiceState, service_dir: &Path) -> Result<()> {
    let mut exited = None;
    let ready = process::wait_until(READY_TIMEOUT, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        process::clickhouse_answers(state.port)
    });
    let logs = || {
        format!(
            "{}\n{}",
            log_tail(&service_dir.join("clickhouse.log")),
            log_tail(&service_dir.join("clickhouse.stderr.log"))
        )
    };
    if let Some(status) = exited {
        bail!(
            "ClickHouse ({}) exited with {status} at start; its log:\n{}",
            state.engine,
            logs()
        );
    }
    if !ready {
        process::terminate(state.pid, Duration::from_secs(5))?;
        bail!(
            "ClickHouse did not answer /ping within {READY_TIMEOUT:?}; its log:\n{}",
            logs()
        );
    }
    Ok(())
}

/// A private config for `clickhouse server`: HTTP only, on 127.0.0.1, everything under
/// `service_dir`, a password-less `default` user reachable from loopback only.
fn write_server_config(
    service_dir: &Path,
    data_dir: &Path,
    port: u16,
) -> Result<std::path::PathBuf> {
    let dir = service_dir.display();
    let data = data_dir.display();
    let config = format!(
        r#"<clickhouse>
    <logger>
        <level>warning</level>
        <log>{dir}/server.log</log>
        <errorlog>{dir}/server.err.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{port}</http_port>
    <path>{data}/</path>
    <tmp_path>{data}/tmp/</tmp_path>
    <user_files_path>{data}/user_files/</user_files_path>
    <format_schema_path>{data}/format_schemas/</format_schema_path>
    <mark_cache_size>268435456</mark_cache_size>
    <user_directories>
        <users_xml><path>{dir}/config.xml</path></users_xml>
    </user_directories>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </default>
    </users>
    <profiles><default/></profiles>
    <quotas><default/></quotas>
</clickhouse>
"#
    );
    let path = service_dir.join("config.xml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
