//! The reference's JSON monitoring store (spec `monitoring-and-events.md` section 0.1): named
//! series of the newest [`SAMPLES_KEPT`] samples each, fed by every HTTP request this instance
//! answers and by a host sampler every [`SAMPLE_EVERY`], read by `/metrics`, `/stats`,
//! `/metrics/{metric_name}` and `/concurrency`. Bounded: a fixed set of names, each a ring of
//! samples. Prometheus text (the admin listener) is kept apart, in `telemetry.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::time::epoch_seconds;

/// Samples each series keeps, as the reference.
pub(crate) const SAMPLES_KEPT: usize = 1000;

/// How often the host sampler runs (the reference: one sample, then a 10 s pause).
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Every HTTP request answered: a running total (labels `method`, `path`).
pub(crate) const REQUESTS_TOTAL: &str = "kato_requests_total";
/// Seconds each request took (labels `method`, `path`, `status`).
pub(crate) const REQUEST_DURATION: &str = "kato_request_duration_seconds";
/// Requests answered with a status of 400 or more: a running total.
pub(crate) const REQUESTS_FAILED: &str = "kato_requests_failed";
/// Server errors (5xx): a running total (the reference registers it and never feeds it).
pub(crate) const ERRORS_TOTAL: &str = "kato_errors_total";
/// Host CPU use in percent since the previous sample.
pub(crate) const CPU_PERCENT: &str = "kato_cpu_usage_percent";
/// Host memory in use, bytes.
pub(crate) const MEMORY_BYTES: &str = "kato_memory_usage_bytes";
/// Host memory in use, percent.
pub(crate) const MEMORY_PERCENT: &str = "kato_memory_usage_percent";
/// Use of the root file system, percent.
pub(crate) const DISK_PERCENT: &str = "kato_disk_usage_percent";
/// One-minute load average of the host.
pub(crate) const LOAD_AVERAGE: &str = "load_average_1m";
/// Host network bytes sent and received since boot.
pub(crate) const NETWORK_SENT: &str = "kato_network_bytes_sent";
pub(crate) const NETWORK_RECEIVED: &str = "kato_network_bytes_recv";

#[derive(Debug, Clone)]
struct Sample {
    timestamp: f64,
    value: f64,
    labels: Vec<(&'static str, String)>,
}

/// The store of one instance.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    series: Mutex<BTreeMap<&'static str, VecDeque<Sample>>>,
    /// HTTP requests inside the monitor layer now, and the most there ever were.
    concurrent: AtomicUsize,
    peak: AtomicUsize,
    /// The host's CPU counters at the previous sample: (busy, total) jiffies.
    cpu: Mutex<Option<(u64, u64)>>,
}

/// Counts a request in [`Monitor::concurrent`] while it lives.
#[derive(Debug)]
pub(crate) struct InFlight<'m>(&'m Monitor);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.concurrent.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Monitor {
    /// A request entered; it counts until the guard drops.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let now = self.concurrent.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// (requests in flight now, the most there were at once).
    pub(crate) fn concurrency(&self) -> (usize, usize) {
        (
            self.concurrent.load(Ordering::Relaxed),
            self.peak.load(Ordering::Relaxed),
        )
    }

    /// A request answered with `status` after `seconds`.
    pub(crate) fn record_request(&self, method: &str, path: &str, status: u16, seconds: f64) {
        let labels = || vec![("method", method.to_owned()), ("path", path.to_owned())];
        let with_status = || {
            let mut labels = labels();
            labels.push(("status", status.to_string()));
            labels
        };
        let mut series = self.lock();
        let now = epoch_seconds(SystemTime::now());
        increment(&mut series, REQUESTS_TOTAL, now, labels());
        push(&mut series, REQUEST_DURATION, now, seconds, with_status());
        if status >= 400 {
            increment(&mut series, REQUESTS_FAILED, now, with_status());
        }
        if status >= 500 {
            increment(&mut series, ERRORS_TOTAL, now, with_status());
        }
    }

    /// One sample of the host (CPU, memory, disk, load, network), from `/proc` and the root
    /// file system; a value that cannot be read is not sampled.
    pub(crate) fn sample_host(&self) {
        let now = epoch_seconds(SystemTime::now());
        let cpu = host::cpu_jiffies();
        let cpu_percent = {
            let mut previous = self.cpu.lock().unwrap_or_else(|e| e.into_inner());
            let percent = match (*previous, cpu) {
                (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
                    Some((busy1 - busy0) as f64 * 100.0 / (total1 - total0) as f64)
                }
                _ => None,
            };
            *previous = cpu.or(*previous);
            percent
        };
        let memory = host::memory();
        let mut series = self.lock();
        let mut gauge = |name, value: Option<f64>| {
            if let Some(value) = value {
                push(&mut series, name, now, value, Vec::new());
            }
        };
        gauge(CPU_PERCENT, cpu_percent);
        gauge(MEMORY_BYTES, memory.map(|(used, _)| used as f64));
        gauge(MEMORY_PERCENT, memory.map(|(_, percent)| percent));
        gauge(DISK_PERCENT, host::disk_percent());
        gauge(LOAD_AVERAGE, host::load_average());
        let network = host::network_bytes();
        gauge(NETWORK_SENT, network.map(|(sent, _)| sent as f64));
        gauge(
            NETWORK_RECEIVED,
            network.map(|(_, received)| received as f64),
        );
    }

    /// Primes the CPU counters, so the first sample has a CPU figure.
    pub(crate) fn prime_cpu(&self) {
        *self.cpu.lock().unwrap_or_else(|e| e.into_inner()) = host::cpu_jiffies();
    }

    /// The last sample's value.
    pub(crate) fn current(&self, name: &str) -> Option<f64> {
        self.lock().get(name)?.back().map(|sample| sample.value)
    }

    /// The mean of the samples of the last `window`, 0 when none.
    pub(crate) fn average(&self, name: &str, window: Duration) -> f64 {
        let values = self.window_values(name, window);
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    }

    /// (last - first) / their time apart over the samples of the last `window`; 0 with fewer
    /// than two or no time between them.
    pub(crate) fn rate(&self, name: &str, window: Duration) -> f64 {
        let series = self.lock();
        let Some(samples) = series.get(name) else {
            return 0.0;
        };
        let since = epoch_seconds(SystemTime::now()) - window.as_secs_f64();
        // Samples are in time order: the window is a suffix.
        let start = samples.partition_point(|sample| sample.timestamp <= since);
        let (Some(first), Some(last)) = (samples.get(start), samples.back()) else {
            return 0.0;
        };
        if samples.len() - start < 2 {
            return 0.0;
        }
        let seconds = last.timestamp - first.timestamp;
        if seconds > 0.0 {
            (last.value - first.value) / seconds
        } else {
            0.0
        }
    }

    /// The samples of the last `window` (nothing for a negative or empty one), oldest first,
    /// as `{timestamp, value, labels}`.
    pub(crate) fn series(&self, name: &str, window_seconds: f64) -> Vec<Value> {
        let series = self.lock();
        let Some(samples) = series.get(name) else {
            return Vec::new();
        };
        let since = epoch_seconds(SystemTime::now()) - window_seconds;
        samples
            .iter()
            .filter(|sample| sample.timestamp > since)
            .map(|sample| {
                let labels: serde_json::Map<String, Value> = sample
                    .labels
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), Value::from(value.as_str())))
                    .collect();
                json!({
                    "timestamp": sample.timestamp,
                    "value": sample.value,
                    "labels": labels,
                })
            })
            .collect()
    }

    fn window_values(&self, name: &str, window: Duration) -> Vec<f64> {
        let since = epoch_seconds(SystemTime::now()) - window.as_secs_f64();
        self.lock().get(name).map_or_else(Vec::new, |samples| {
            samples
                .iter()
                .filter(|sample| sample.timestamp > since)
                .map(|sample| sample.value)
                .collect()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, VecDeque<Sample>>> {
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn push(
    series: &mut BTreeMap<&'static str, VecDeque<Sample>>,
    name: &'static str,
    timestamp: f64,
    value: f64,
    labels: Vec<(&'static str, String)>,
) {
    let samples = series.entry(name).or_default();
    if samples.len() == SAMPLES_KEPT {
        samples.pop_front();
    }
    samples.push_back(Sample {
        timestamp,
        value,
        labels,
    });
}

/// A counter's sample: the running total, so it keeps growing after old samples drop out.
fn increment(
    series: &mut BTreeMap<&'static str, VecDeque<Sample>>,
    name: &'static str,
    timestamp: f64,
    labels: Vec<(&'static str, String)>,
) {
    let total = series
        .get(name)
        .and_then(|samples| samples.back())
        .map_or(0.0, |sample| sample.value);
    push(series, name, timestamp, total + 1.0, labels);
}

/// The host's figures, read from `/proc` and the root file system (Linux); `None` elsewhere.
mod host {
    use std::fs;

    /// (busy, total) jiffies of all CPUs since boot (`/proc/stat`).
    pub(super) fn cpu_jiffies() -> Option<(u64, u64)> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|line| line.starts_with("cpu "))?;
        let values: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|value| value.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
        Some((total - idle, total))
    }

    /// (bytes in use, percent in use): total minus available, as psutil counts it.
    pub(super) fn memory() -> Option<(u64, f64)> {
        let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
        let kib = |field: &str| -> Option<u64> {
            meminfo
                .lines()
                .find_map(|line| line.strip_prefix(field))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        let total = kib("MemTotal:")?;
        let available = kib("MemAvailable:")?;
        let used = total.saturating_sub(available);
        (total > 0).then(|| (used * 1024, used as f64 * 100.0 / total as f64))
    }

    /// Used space of `/` in percent of what is not reserved, as psutil counts it.
    pub(super) fn disk_percent() -> Option<f64> {
        let stats = rustix::fs::statvfs("/").ok()?;
        let used = stats.f_blocks.saturating_sub(stats.f_bfree);
        let usable = used + stats.f_bavail;
        (usable > 0).then(|| used as f64 * 100.0 / usable as f64)
    }

    pub(super) fn load_average() -> Option<f64> {
        fs::read_to_string("/proc/loadavg")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// (bytes sent, bytes received) over every interface since boot (`/proc/net/dev`).
    pub(super) fn network_bytes() -> Option<(u64, u64)> {
        let dev = fs::read_to_string("/proc/net/dev").ok()?;
        let mut sent = 0u64;
        let mut received = 0u64;
        for line in dev.lines().skip(2) {
            let (_, counters) = line.split_once(':')?;
            let values: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|value| value.parse().ok())
                .collect();
            received += values.first()?;
            sent += values.get(8)?;
        }
        Some((sent, received))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_run_on_and_series_are_bounded() {
        let monitor = Monitor::default();
        for _ in 0..SAMPLES_KEPT + 5 {
            monitor.record_request("GET", "/health", 200, 0.001);
        }
        monitor.record_request("GET", "/nope", 404, 0.002);
        assert_eq!(
            monitor.current(REQUESTS_TOTAL),
            Some((SAMPLES_KEPT + 6) as f64)
        );
        assert_eq!(monitor.current(REQUESTS_FAILED), Some(1.0));
        assert_eq!(monitor.current(ERRORS_TOTAL), None);
        let series = monitor.series(REQUESTS_TOTAL, 600.0);
        assert_eq!(series.len(), SAMPLES_KEPT);
        assert_eq!(series.last().unwrap()["labels"]["path"], "/nope");
        assert!(monitor.series(REQUESTS_TOTAL, -1.0).is_empty());
        assert!(monitor.average(REQUEST_DURATION, Duration::from_secs(60)) > 0.0);
        assert!(monitor.series("no_such_metric", 600.0).is_empty());
    }

    #[test]
    fn concurrency_counts_live_guards_and_keeps_the_peak() {
        let monitor = Monitor::default();
        let first = monitor.enter();
        let second = monitor.enter();
        assert_eq!(monitor.concurrency(), (2, 2));
        drop(first);
        drop(second);
        let _third = monitor.enter();
        assert_eq!(monitor.concurrency(), (1, 2));
    }

    #[test]
    fn the_host_sample_reads_this_machine() {
        let monitor = Monitor::default();
        monitor.prime_cpu();
        std::thread::sleep(Duration::from_millis(50));
        monitor.sample_host();
        for name in [MEMORY_BYTES, MEMORY_PERCENT, DISK_PERCENT, LOAD_AVERAGE] {
            assert!(monitor.current(name).is_some(), "{name}");
        }
        let memory = monitor.current(MEMORY_PERCENT).unwrap();
        assert!((0.0..=100.0).contains(&memory), "{memory}");
    }
}
