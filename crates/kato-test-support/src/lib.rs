//! What every kato test that needs a database uses: the service URLs and a unique kb id.
//!
//! `cargo xtask test` starts throwaway ClickHouse and Redis servers and sets
//! `KATO_TEST_CLICKHOUSE_URL`, `KATO_TEST_REDIS_URL` and `KATO_REQUIRE_SERVICES=1`. With
//! `KATO_REQUIRE_SERVICES=1` a missing URL fails the test; without it (a plain `cargo test`)
//! the test is skipped with a message saying why, so the skip is never silent.
//!
//! ```no_run
//! let Some(url) = kato_test_support::clickhouse_url("my_test") else { return };
//! let kb = kato_test_support::unique_kb_id("my_test");
//! # let _ = (url, kb);
//! ```

mod proxy;

pub use proxy::TcpProxy;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable `cargo xtask test` sets to the throwaway ClickHouse's HTTP URL.
pub const CLICKHOUSE_URL_VAR: &str = "KATO_TEST_CLICKHOUSE_URL";
/// The variable `cargo xtask test` sets to the throwaway Redis's URL.
pub const REDIS_URL_VAR: &str = "KATO_TEST_REDIS_URL";
/// When `1`, a test whose service URL is missing fails instead of skipping.
pub const REQUIRE_SERVICES_VAR: &str = "KATO_REQUIRE_SERVICES";

/// The ClickHouse URL for `test`, or `None` (with a printed reason) when the test should skip.
///
/// # Panics
/// When `KATO_REQUIRE_SERVICES=1` and `KATO_TEST_CLICKHOUSE_URL` is not set.
pub fn clickhouse_url(test: &str) -> Option<String> {
    service_url(test, "ClickHouse", CLICKHOUSE_URL_VAR)
}

/// The Redis URL for `test`, or `None` (with a printed reason) when the test should skip.
///
/// # Panics
/// When `KATO_REQUIRE_SERVICES=1` and `KATO_TEST_REDIS_URL` is not set.
pub fn redis_url(test: &str) -> Option<String> {
    service_url(test, "Redis", REDIS_URL_VAR)
}

/// Whether `test`, which cuts Redis through a [`TcpProxy`], must skip because `url` names a
/// Redis Cluster (a comma-separated list of its nodes, as `kato_redis::connect` takes it): a
/// proxy cannot stand in front of a cluster, whose client follows the addresses the nodes
/// announce. Says so when it skips; `cargo xtask test` runs such tests on a standalone Redis
/// first.
pub fn skips_redis_proxy_on_cluster(test: &str, url: &str) -> bool {
    let cluster = url.contains(',');
    if cluster {
        eprintln!(
            "SKIPPED {test} on a Redis Cluster: a proxy cannot cut one; the standalone run covers it"
        );
    }
    cluster
}

fn service_url(test: &str, service: &str, var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if services_required() => panic!(
            "{test} needs {service} but {var} is not set while {REQUIRE_SERVICES_VAR}=1; \
             run the suite with `cargo xtask test`"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: needs {service} and {var} is not set; \
                 `cargo xtask test` runs it against a real server"
            );
            None
        }
    }
}

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES_VAR).is_ok_and(|v| v == "1")
}

/// A kb id no other test (in this process or any other) uses: `test_<label>_<pid>_<n>_<time>`.
///
/// It starts with `test_` (the prefix kato allows dropping without force) and keeps to
/// `[A-Za-z0-9_]{1,64}` (any kb id is valid now; plain ones read well in logs); the label is
/// sanitised and shortened to fit.
pub fn unique_kb_id(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let suffix = format!("_{}_{n}_{nanos:x}", std::process::id());
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(64 - "test_".len() - suffix.len())
        .collect();
    format!("test_{label}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_ids_are_unique_valid_and_bounded() {
        let long_label = "a-very-long-label/with odd chars".repeat(5);
        let ids: Vec<String> = (0..100).map(|_| unique_kb_id(&long_label)).collect();
        for id in &ids {
            assert!(id.starts_with("test_a_very_long"), "{id}");
            assert!(id.len() <= 64, "{id} is {} long", id.len());
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
