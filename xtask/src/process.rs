//! Process and port helpers shared by the service launchers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How a service process relates to the xtask that starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// Outlives xtask (`cargo xtask up`): its own process group, stopped by `down`.
    Detached,
    /// Dies with xtask (`cargo xtask test`): the kernel sends it SIGTERM when xtask exits,
    /// so even a killed test run leaves nothing behind.
    Throwaway,
}

/// Puts the command in its own process group (a terminal Ctrl-C does not reach it; xtask
/// decides when it stops) and, for throwaway services, ties its life to ours.
pub(crate) fn configure_lifetime(cmd: &mut Command, lifetime: Lifetime) {
    cmd.process_group(0);
    if lifetime == Lifetime::Throwaway {
        #[allow(unsafe_code)]
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `preferred` when nothing listens there, else any free port.
pub(crate) fn preferred_or_free_port(preferred: u16) -> Result<u16> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, preferred)) {
        Ok(_) => Ok(preferred),
        Err(_) => free_port(),
    }
}

pub(crate) fn is_alive(pid: u32) -> bool {
    // A zombie still answers kill(0); /proc tells us it is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The command line of a live process, NUL separators replaced by spaces.
pub(crate) fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

fn send_signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    #[allow(unsafe_code)]
    // SAFETY: kill has no memory-safety preconditions; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL and wait until the process is gone.
pub(crate) fn terminate(pid: u32, grace: Duration) -> Result<()> {
    if !is_alive(pid) {
        return Ok(());
    }
    send_signal(pid, libc::SIGTERM);
    if wait_until(grace, || !is_alive(pid)) {
        return Ok(());
    }
    eprintln!("pid {pid} ignored SIGTERM for {grace:?}; sending SIGKILL");
    send_signal(pid, libc::SIGKILL);
    if wait_until(Duration::from_secs(10), || !is_alive(pid)) {
        return Ok(());
    }
    bail!("pid {pid} is still alive after SIGKILL")
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `request` to 127.0.0.1:`port` and returns what came back before the peer closed
/// or `expect` appeared.
fn exchange(port: u16, request: &[u8], expect: &str) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(request).ok()?;
    let mut response = Vec::new();
    let mut buffer = [0u8; 512];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                response.extend_from_slice(&buffer[..n]);
                if String::from_utf8_lossy(&response).contains(expect) {
                    break;
                }
            }
        }
    }
    Some(String::from_utf8_lossy(&response).into_owned())
}

/// Whether a Redis server answers PING on the port.
pub(crate) fn redis_answers(port: u16) -> bool {
    exchange(port, b"PING\r\n", "+PONG").is_some_and(|r| r.contains("+PONG"))
}

/// Whether the Redis Cluster node on the port sees the whole cluster up (`cluster_state:ok`).
pub(crate) fn redis_cluster_ok(port: u16) -> bool {
    exchange(port, b"CLUSTER INFO\r\n", "cluster_state:")
        .is_some_and(|r| r.contains("cluster_state:ok"))
}

/// Whether a ClickHouse HTTP interface answers `/ping` on the port.
pub(crate) fn clickhouse_answers(port: u16) -> bool {
    let request =
        format!("GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    exchange(port, request.as_bytes(), "Ok.").is_some_and(|r| r.contains("Ok."))
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM so xtask survives them long enough to clean up. A handler (not
/// SIG_IGN) is used on purpose: handlers reset to the default on exec, so child processes
/// such as the test runner still stop on Ctrl-C.
pub(crate) fn catch_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        #[allow(unsafe_code)]
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, note_interrupt as *const () as libc::sighandler_t);
        }
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
