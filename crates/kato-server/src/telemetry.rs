//! Counters behind the Prometheus endpoint of the admin listener and the reference's JSON
//! `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Store;

/// `[("method", ..), ("route", ..), ("status", ..)]`.
type RequestLabels = [(&'static str, String); 3];
/// `[("method", ..), ("route", ..)]`.
type RouteLabels = [(&'static str, String); 2];

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every metric the service keeps.
#[derive(Debug)]
pub(crate) struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    learned: Counter,
    predictions: Counter,
    store_errors: Family<[(&'static str, &'static str); 1], Counter>,
    learn_batch_sizes: Histogram,
    total_requests: AtomicU64,
}

use std::fmt::Write as _;

use kato_kb::IndexStats;

/// A snapshot of the plain counters, for the JSON `/metrics`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) requests: u64,
    pub(crate) clickhouse_errors: u64,
    pub(crate) redis_errors: u64,
}

impl Telemetry {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("kato");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let learned = Counter::default();
        let predictions = Counter::default();
        let store_errors = Family::default();
        let learn_batch_sizes = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            latency.clone(),
        );
        registry.register(
            "patterns_learned",
            "Learns that stored a pattern (new or again)",
            learned.clone(),
        );
        registry.register(
            "predictions",
            "Prediction requests computed",
            predictions.clone(),
        );
        registry.register(
            "store_errors",
            "Requests failed by a store, by store",
            store_errors.clone(),
        );
        registry.register(
            "learn_batch_size",
            "Learns per group commit",
            learn_batch_sizes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            learned,
            predictions,
            store_errors,
            learn_batch_sizes,
            total_requests: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&[
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&[("method", method.to_owned()), ("route", route.to_owned())])
            .observe(seconds);
        self.total_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn observe_store_error(&self, store: Store) {
        self.store_errors
            .get_or_create(&[("store", store.name())])
            .inc();
    }

    pub(crate) fn observe_learned(&self) {
        self.learned.inc();
    }

    pub(crate) fn observe_prediction(&self) {
        self.predictions.inc();
    }

    pub(crate) fn observe_learn_batch(&self, size: usize) {
        self.learn_batch_sizes.observe(size as f64);
    }

    pub(crate) fn totals(&self) -> Totals {
        let requests = self.total_requests.load(Ordering::Relaxed);
        let store_errors = |store: Store| {
            self.store_errors
                .get_or_create(&[("store", store.name())])
                .get()
        };
        Totals {
            requests,
            clickhouse_errors: store_errors(Store::ClickHouse),
            redis_errors: store_errors(Store::Redis),
        }
    }

    /// The Prometheus text exposition, with the resident indexes' figures (kept by kato-kb,
    /// so written here rather than registered).
    pub(crate) fn prometheus_text(&self, index: &IndexStats, events: (usize, u64)) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        let families: [(&str, &str, &str, u64); 10] = [
            (
                "index_bytes",
                "gauge",
                "Bytes held by the resident indexes",
                index.bytes,
            ),
            (
                "index_patterns",
                "gauge",
                "Patterns held by the resident indexes",
                index.patterns,
            ),
            (
                "index_resident_kbs",
                "gauge",
                "Kbs with a resident index",
                index.resident_kbs,
            ),
            (
                "index_loads",
                "counter",
                "Resident index loads completed",
                index.loads,
            ),
            (
                "index_load_seconds",
                "counter",
                "Time spent loading resident indexes",
                index.load_millis,
            ),
            (
                "index_evictions",
                "counter",
                "Resident indexes evicted for the memory budget",
                index.evictions,
            ),
            (
                "index_catch_ups",
                "counter",
                "Catch-ups that brought new patterns from a kb's feed",
                index.catch_ups,
            ),
            (
                "index_rebuilds",
                "counter",
                "Resident index rebuilds after a clear, rehydrate, lost Redis data or a feed gap",
                index.rebuilds,
            ),
            (
                "ws_connections",
                "gauge",
                "WebSocket event clients connected",
                events.0 as u64,
            ),
            (
                "ws_events_dropped",
                "counter",
                "Events WebSocket clients missed because their queue was full",
                events.1,
            ),
        ];
        let mut extra = String::new();
        for (name, kind, help, value) in families {
            let _ = writeln!(extra, "# HELP kato_{name} {help}.");
            let _ = writeln!(extra, "# TYPE kato_{name} {kind}");
            if name == "index_load_seconds" {
                let _ = writeln!(extra, "kato_{name}_total {}", value as f64 / 1000.0);
            } else if kind == "counter" {
                let _ = writeln!(extra, "kato_{name}_total {value}");
            } else {
                let _ = writeln!(extra, "kato_{name} {value}");
            }
        }
        // OpenMetrics ends with `# EOF`: the families go before it.
        let end = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(end, &extra);
        text
    }
}
