//! ClickHouse, from the first source that exists: `KATO_CLICKHOUSE_URL` (start nothing), a
//! `clickhouse` binary on PATH (`clickhouse server` with a generated private config), or the
//! chdb engine served by a child process of xtask (see [`crate::chdb`]).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Launch, Mode, existing_url, find_on_path, port_for, spawn_and_wait};
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
    if let Some(url) = existing_url(
        service_dir,
        "clickhouse",
        "KATO_CLICKHOUSE_URL",
        process::clickhouse_answers,
    )? {
        return Ok(url);
    }
    std::fs::create_dir_all(service_dir)?;
    let data_dir = service_dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let port = port_for(service_dir, mode, PREFERRED_PORT)?;

    let (cmd, engine, cmdline_marker) = match find_on_path("clickhouse") {
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
    let launch = Launch {
        name: "clickhouse",
        engine,
        cmdline_marker,
        scheme: "http",
        port,
        probe: process::clickhouse_answers,
        ready_timeout: READY_TIMEOUT,
    };
    Ok(spawn_and_wait(cmd, service_dir, mode, &launch)?.url())
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
