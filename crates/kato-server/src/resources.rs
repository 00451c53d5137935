//! This process's CPU and memory use, read from `/proc` (Linux); `None` elsewhere.

use std::fs;

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's USER_HZ, 100 on every mainstream
/// architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// One sample.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resources {
    /// CPU time over wall time since start, in percent of one core.
    pub(crate) cpu_percent: Option<f64>,
    /// Resident memory over the machine's memory, in percent.
    pub(crate) memory_percent: Option<f64>,
    /// Resident memory in bytes.
    pub(crate) rss_bytes: Option<u64>,
}

/// Samples this process, which has run for `uptime_seconds`.
pub(crate) fn sample(uptime_seconds: f64) -> Resources {
    let rss_bytes = status_kib("/proc/self/status", "VmRSS:").map(|kib| kib * 1024);
    let total_bytes = status_kib("/proc/meminfo", "MemTotal:").map(|kib| kib * 1024);
    let memory_percent = match (rss_bytes, total_bytes) {
        (Some(rss), Some(total)) if total > 0 => Some(rss as f64 * 100.0 / total as f64),
        _ => None,
    };
    let cpu_percent = cpu_seconds()
        .filter(|_| uptime_seconds > 0.0)
        .map(|cpu| cpu * 100.0 / uptime_seconds);
    Resources {
        cpu_percent,
        memory_percent,
        rss_bytes,
    }
}

fn status_kib(path: &str, field: &str) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}
