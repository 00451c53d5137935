//! The reference's JSON monitoring routes (spec `monitoring-and-events.md` sections 1 to 4.1):
//! `/metrics`, `/stats`, `/metrics/{metric_name}` and `/concurrency`, over this instance's
//! monitoring store (`monitor.rs`) and the session counts every instance shares in Redis.
//! Where the reference answers a placeholder (a constant 0, a `null`), these answer the real
//! value; the session counts are service-wide. Nothing is cached: each call computes its body.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, Detail, ValidationFailed};
use crate::extract::ValidQuery;
use crate::monitor::{
    CPU_PERCENT, DISK_PERCENT, ERRORS_TOTAL, LOAD_AVERAGE, MEMORY_BYTES, MEMORY_PERCENT, Monitor,
    REQUEST_DURATION, REQUESTS_TOTAL,
};
use crate::state::AppState;
use crate::time::{epoch_seconds, iso_utc_offset};

/// The window of the rates and the mean response time.
const MINUTE: Duration = Duration::from_secs(60);

/// `/stats`'s `time_series` keys, in the reference's order.
const TIME_SERIES: [&str; 20] = [
    CPU_PERCENT,
    MEMORY_PERCENT,
    MEMORY_BYTES,
    DISK_PERCENT,
    LOAD_AVERAGE,
    REQUESTS_TOTAL,
    REQUEST_DURATION,
    ERRORS_TOTAL,
    "sessions_created",
    "sessions_deleted",
    "session_operations",
    "clickhouse_operations",
    "clickhouse_response_time",
    "clickhouse_errors",
    "qdrant_operations",
    "qdrant_response_time",
    "qdrant_errors",
    "redis_operations",
    "redis_response_time",
    "redis_errors",
];

/// The `minutes` query parameter (default 10).
#[derive(Debug, Deserialize)]
pub(crate) struct Minutes {
    minutes: Option<i64>,
}

impl Minutes {
    fn get(&self) -> i64 {
        self.minutes.unwrap_or(10)
    }
}

/// The numbers `/metrics` and `/stats` share.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Summary {
    sessions: SessionFigures,
    performance: PerformanceFigures,
    resources: ResourceFigures,
    databases: Databases,
}

/// Sessions of every instance (created and deleted ever, live now) and this instance's
/// requests.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionFigures {
    total_created: f64,
    total_deleted: f64,
    active: u64,
    operations_total: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PerformanceFigures {
    total_requests: f64,
    /// Answers with a 5xx status.
    total_errors: f64,
    error_rate: f64,
    /// Mean seconds per request over the last minute.
    average_response_time: f64,
}

/// The host's figures at the last sample, in percent (0 before the first).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResourceFigures {
    cpu_percent: f64,
    memory_percent: f64,
    disk_percent: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Databases {
    clickhouse: DatabaseFigures,
    /// Never used: kato keeps vectors in ClickHouse.
    qdrant: DatabaseFigures,
    redis: DatabaseFigures,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DatabaseFigures {
    operations: f64,
    errors: f64,
    avg_response_time: f64,
}

async fn summary(app: &AppState) -> Result<Summary, ApiError> {
    let monitor = app.monitor();
    let active_sessions = app.sessions().count().await?;
    let (created, deleted) = app.sessions().lifetime_counts().await?;
    let totals = app.telemetry().totals();
    let requests = monitor.current(REQUESTS_TOTAL).unwrap_or(0.0);
    let errors = monitor.current(ERRORS_TOTAL).unwrap_or(0.0);
    let resource = |name| monitor.current(name).unwrap_or(0.0);
    let database = |errors: u64| DatabaseFigures {
        operations: 0.0,
        errors: errors as f64,
        avg_response_time: 0.0,
    };
    Ok(Summary {
        sessions: SessionFigures {
            total_created: created as f64,
            total_deleted: deleted as f64,
            active: active_sessions,
            operations_total: totals.requests as f64,
        },
        performance: PerformanceFigures {
            total_requests: requests,
            total_errors: errors,
            error_rate: if requests > 0.0 {
                errors / requests
            } else {
                0.0
            },
            average_response_time: monitor.average(REQUEST_DURATION, MINUTE),
        },
        resources: ResourceFigures {
            cpu_percent: resource(CPU_PERCENT),
            memory_percent: resource(MEMORY_PERCENT),
            disk_percent: resource(DISK_PERCENT),
        },
        databases: Databases {
            clickhouse: database(totals.clickhouse_errors),
            qdrant: database(0),
            redis: database(totals.redis_errors),
        },
    })
}

/// This instance as the reference's processor manager: every instance serves every node, so
/// it holds no node processors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProcessorManager {
    total_processors: u64,
    max_processors: u64,
    eviction_ttl_seconds: u64,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    processors: Vec<Value>,
}

fn processor_manager(app: &AppState) -> ProcessorManager {
    ProcessorManager {
        total_processors: 0,
        max_processors: 0,
        eviction_ttl_seconds: app.settings().session_ttl,
        processors: Vec::new(),
    }
}

/// `GET /metrics`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Metrics {
    timestamp: f64,
    sessions: SessionFigures,
    performance: PerformanceFigures,
    resources: ResourceFigures,
    databases: Databases,
    rates: Rates,
    processor_manager: ProcessorManager,
    uptime_seconds: f64,
    active_sessions: u64,
    /// `null`: the figures were gathered.
    error: Option<String>,
}

/// Over the last minute.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rates {
    requests_per_second: f64,
    requests_per_minute: f64,
    errors_per_minute: f64,
}

/// The reference's JSON metrics of this instance (Prometheus text is on the admin listener).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "The session counts are shared by every instance, the rest is this instance's", body = Metrics),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn metrics(State(app): State<AppState>) -> Result<Json<Metrics>, ApiError> {
    let summary = summary(&app).await?;
    let monitor = app.monitor();
    let per_second = monitor.rate(REQUESTS_TOTAL, MINUTE);
    Ok(Json(Metrics {
        timestamp: epoch_seconds(SystemTime::now()),
        active_sessions: summary.sessions.active,
        sessions: summary.sessions,
        performance: summary.performance,
        resources: summary.resources,
        databases: summary.databases,
        rates: Rates {
            requests_per_second: per_second,
            requests_per_minute: per_second * 60.0,
            errors_per_minute: monitor.rate(ERRORS_TOTAL, MINUTE) * 60.0,
        },
        processor_manager: processor_manager(&app),
        uptime_seconds: app.uptime_seconds(),
        error: None,
    }))
}

/// The health rule of `/stats`' `current_status` (spec section 0.1): high CPU degrades, high
/// memory makes unhealthy, a high error rate degrades.
fn current_status(monitor: &Monitor) -> CurrentStatus {
    let cpu = monitor.current(CPU_PERCENT);
    let memory = monitor.current(MEMORY_PERCENT);
    let errors_per_minute = monitor.rate(ERRORS_TOTAL, MINUTE) * 60.0;
    let mut status = "healthy";
    let mut issues = Vec::new();
    if cpu.is_some_and(|cpu| cpu > 80.0) {
        issues.push("High CPU usage");
        status = "degraded";
    }
    if memory.is_some_and(|memory| memory > 90.0) {
        issues.push("High memory usage");
        status = "unhealthy";
    }
    if errors_per_minute > 10.0 {
        issues.push("High error rate");
        if status == "healthy" {
            status = "degraded";
        }
    }
    CurrentStatus {
        status,
        issues,
        metrics: StatusMetrics {
            cpu_percent: cpu,
            memory_percent: memory,
            error_rate_per_min: errors_per_minute,
        },
        timestamp: iso_utc_offset(SystemTime::now()),
    }
}

/// The health rule's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CurrentStatus {
    /// `healthy`, `degraded` or `unhealthy`.
    status: &'static str,
    issues: Vec<&'static str>,
    metrics: StatusMetrics,
    timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusMetrics {
    /// `null` before the first CPU sample.
    cpu_percent: Option<f64>,
    /// `null` before the first memory sample.
    memory_percent: Option<f64>,
    error_rate_per_min: f64,
}

/// `GET /stats`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    time_range_minutes: i64,
    timestamp: f64,
    processor_manager: ProcessorManager,
    current_status: CurrentStatus,
    /// The reference's 20 series by name, each `[{timestamp, value, labels}]`, oldest first.
    #[schema(value_type = Object)]
    time_series: serde_json::Map<String, Value>,
    summary: Summary,
    /// `null`: the figures were gathered.
    error: Option<String>,
}

/// The time series of the last `minutes` (spec section 2), with the health status and the
/// summary of `/metrics`.
#[utoipa::path(get, path = "/stats", tag = "system",
    params(("minutes" = Option<i64>, Query, description = "The window in minutes (default 10; 0 or less: empty series)")),
    responses(
        (status = 200, description = "The series, the health status and the summary", body = Stats),
        (status = 422, description = "`minutes` is not an integer", body = ValidationFailed),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn stats(
    State(app): State<AppState>,
    ValidQuery(query): ValidQuery<Minutes>,
) -> Result<Json<Stats>, ApiError> {
    let minutes = query.get();
    let summary = summary(&app).await?;
    let monitor = app.monitor();
    let window = minutes as f64 * 60.0;
    let time_series = TIME_SERIES
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                Value::Array(monitor.series(name, window)),
            )
        })
        .collect();
    Ok(Json(Stats {
        time_range_minutes: minutes,
        timestamp: epoch_seconds(SystemTime::now()),
        processor_manager: processor_manager(&app),
        current_status: current_status(monitor),
        time_series,
        summary,
        error: None,
    }))
}

/// One series of the last `minutes` with its count, minimum, maximum and mean (spec section
/// 3; the reference reads `minutes` as seconds, here it is minutes).
#[utoipa::path(get, path = "/metrics/{metric_name}", tag = "system",
    params(
        ("metric_name" = String, Path, description = "A series name, e.g. kato_requests_total"),
        ("minutes" = Option<i64>, Query, description = "The window in minutes (default 10)"),
    ),
    responses(
        (status = 200, description = "The series and its statistics", body = MetricSeries),
        (status = 404, description = "No data for the metric in the window", body = Detail),
        (status = 422, description = "`minutes` is not an integer", body = ValidationFailed),
    ))]
pub(crate) async fn metric(
    State(app): State<AppState>,
    Path(metric_name): Path<String>,
    ValidQuery(query): ValidQuery<Minutes>,
) -> Result<Json<MetricSeries>, ApiError> {
    let minutes = query.get();
    let points = app.monitor().series(&metric_name, minutes as f64 * 60.0);
    let values: Vec<f64> = points
        .iter()
        .filter_map(|point| point["value"].as_f64())
        .collect();
    if values.is_empty() {
        return Err(ApiError::NotFound(format!(
            "No data available for metric '{metric_name}' in the last {minutes} minutes"
        )));
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = values.iter().sum::<f64>() / values.len() as f64;
    Ok(Json(MetricSeries {
        metric_name,
        time_range_minutes: minutes,
        timestamp: epoch_seconds(SystemTime::now()),
        statistics: SeriesStatistics {
            count: values.len(),
            min,
            max,
            avg,
        },
        data_points: points,
    }))
}

/// `GET /metrics/{metric_name}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetricSeries {
    metric_name: String,
    time_range_minutes: i64,
    timestamp: f64,
    statistics: SeriesStatistics,
    /// `{timestamp, value, labels}` each, oldest first.
    #[schema(value_type = Vec<Object>)]
    data_points: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeriesStatistics {
    count: usize,
    min: f64,
    max: f64,
    avg: f64,
}

/// `floor(n / limit * 100)`, the reference's percentage.
fn percent(n: usize, limit: usize) -> u64 {
    if limit == 0 {
        0
    } else {
        (n as f64 / limit as f64 * 100.0) as u64
    }
}

/// Requests in flight on this instance now and at most, against its limit (spec section
/// 4.1). The limit is `KATO_MAX_IN_FLIGHT` (session changes running at once); one process
/// serves, with the listener's backlog of 1,024.
#[utoipa::path(get, path = "/concurrency", tag = "system",
    responses((status = 200, description = "Requests in flight against the limit", body = Concurrency)))]
pub(crate) async fn concurrency(State(app): State<AppState>) -> Json<Concurrency> {
    let (current, peak) = app.monitor().concurrency();
    let limit = app.settings().limits.max_in_flight as usize;
    let warning = limit * 8 / 10;
    let critical = limit * 95 / 100;
    let status = if current >= critical {
        "critical"
    } else if current >= warning {
        "warning"
    } else {
        "healthy"
    };
    let mut recommendations = Vec::new();
    let mut recommend = |level, message| recommendations.push(Recommendation { level, message });
    if peak as f64 >= 0.95 * limit as f64 {
        recommend(
            "critical",
            format!(
                "Peak concurrency ({peak}) exceeded 95% of the limit; raise KATO_MAX_IN_FLIGHT \
                 (now {limit}) or run more instances"
            ),
        );
    } else if peak as f64 >= 0.8 * limit as f64 {
        recommend(
            "warning",
            format!(
                "Peak concurrency ({peak}) exceeded 80% of the limit; consider more instances \
                 or a higher KATO_MAX_IN_FLIGHT (now {limit})"
            ),
        );
    }
    if current as f64 >= 0.9 * limit as f64 {
        recommend(
            "urgent",
            format!(
                "Current load is {current} requests ({}%); requests may be refused",
                percent(current, limit)
            ),
        );
    }
    if recommendations.is_empty() {
        recommendations.push(Recommendation {
            level: "info",
            message: format!(
                "Concurrency is healthy. Peak {peak}/{limit} ({}%).",
                percent(peak, limit)
            ),
        });
    }
    let load = |requests| Load {
        concurrent_requests: requests,
        utilization_percent: percent(requests, limit),
    };
    Json(Concurrency {
        status,
        current: load(current),
        peak: load(peak),
        limits: ConcurrencyLimits {
            per_worker: limit,
            warning_threshold: warning,
            critical_threshold: critical,
            total_capacity: limit,
        },
        configuration: ConcurrencyConfiguration {
            workers: 1,
            backlog: 1024,
            max_requests: "unlimited",
        },
        recommendations,
        timestamp: iso_utc_offset(SystemTime::now()),
    })
}

/// `GET /concurrency`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Concurrency {
    /// `healthy`, `warning` (at 80% of the limit) or `critical` (at 95%).
    status: &'static str,
    current: Load,
    peak: Load,
    limits: ConcurrencyLimits,
    configuration: ConcurrencyConfiguration,
    recommendations: Vec<Recommendation>,
    timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Load {
    concurrent_requests: usize,
    utilization_percent: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConcurrencyLimits {
    per_worker: usize,
    warning_threshold: usize,
    critical_threshold: usize,
    total_capacity: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConcurrencyConfiguration {
    workers: u32,
    backlog: u32,
    max_requests: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Recommendation {
    /// `critical`, `warning`, `urgent` or `info`.
    level: &'static str,
    message: String,
}

/// The stores this instance talks to, pinged now (spec section 4.5, where the reference reports
/// what it recorded at its last lazy check). kato keeps vectors in ClickHouse, so Qdrant is
/// never used: its entry says so.
#[utoipa::path(get, path = "/connection-pools", tag = "system",
    responses((status = 200, description = "The stores' health, pinged now", body = ConnectionPools)))]
pub(crate) async fn connection_pools(State(app): State<AppState>) -> Json<ConnectionPools> {
    let [(_, clickhouse, clickhouse_ms), (_, redis, redis_ms)] =
        app.store_checks(Duration::from_secs(1)).await;
    let totals = app.telemetry().totals();
    let now = epoch_seconds(SystemTime::now());
    let health = |issue: &Option<String>, millis: f64, errors: u64| StoreHealth {
        healthy: issue.is_none(),
        last_check: now,
        error_count: errors,
        last_error: issue.clone(),
        response_time_ms: Some(millis),
    };
    let pool = |kind: &'static str, issue: &Option<String>| PoolStatus {
        kind,
        status: if issue.is_none() {
            "connected"
        } else {
            "disconnected"
        },
    };
    let healthy = clickhouse.is_none() && redis.is_none();
    Json(ConnectionPools {
        status: if healthy { "healthy" } else { "degraded" },
        health: PoolHealth {
            redis: health(&redis, redis_ms, totals.redis_errors),
            qdrant: StoreHealth {
                healthy: false,
                last_check: now,
                error_count: 0,
                last_error: Some("not used: kato keeps vectors in ClickHouse".to_owned()),
                response_time_ms: None,
            },
            clickhouse: health(&clickhouse, clickhouse_ms, totals.clickhouse_errors),
        },
        pool_statistics: PoolStatistics {
            redis: pool("redis", &redis),
            clickhouse: pool("clickhouse", &clickhouse),
        },
        connection_optimization: json!({
            "clickhouse": {
                "pool_size_optimized": true,
                "connection_reuse": true,
                "health_monitoring": true,
                "features": ["http_client", "compression", "connection_pooling"],
            },
            "redis": {
                "pool_size_optimized": true,
                "connection_reuse": true,
                "health_monitoring": true,
                "features": ["socket_keepalive", "retry_on_timeout", "health_check"],
            },
            "qdrant": {
                "grpc_optimized": true,
                "connection_reuse": true,
                "health_monitoring": true,
                "features": ["prefer_grpc", "timeout_handling"],
            },
        }),
        performance_improvements: json!({
            "expected_connection_overhead_reduction": "60-80%",
            "expected_concurrent_performance_improvement": "40-60%",
            "expected_memory_efficiency_improvement": "30-50%",
        }),
        error: None,
        timestamp: iso_utc_offset(SystemTime::now()),
    })
}

/// `GET /connection-pools`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectionPools {
    /// `healthy` when Redis and ClickHouse answer, else `degraded`.
    status: &'static str,
    health: PoolHealth,
    pool_statistics: PoolStatistics,
    /// The reference's constant block.
    #[schema(value_type = Object)]
    connection_optimization: Value,
    /// The reference's constant block.
    #[schema(value_type = Object)]
    performance_improvements: Value,
    error: Option<String>,
    timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PoolHealth {
    redis: StoreHealth,
    qdrant: StoreHealth,
    clickhouse: StoreHealth,
}

/// A store's ping, made by this request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StoreHealth {
    healthy: bool,
    last_check: f64,
    /// Requests this instance answered 503 because of the store.
    error_count: u64,
    last_error: Option<String>,
    /// `null` for a store kato does not use.
    response_time_ms: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PoolStatistics {
    redis: PoolStatus,
    clickhouse: PoolStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PoolStatus {
    #[serde(rename = "type")]
    kind: &'static str,
    /// `connected` or `disconnected`.
    status: &'static str,
}

/// Two decimals, as the reference rounds the cache figures.
fn two_decimals(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The cache figures: this instance's resident indexes, which cache the kbs' patterns for
/// predictions, and the memory Redis uses.
async fn cache_figures(app: &AppState) -> Result<CacheFigures, ApiError> {
    let index = app.kb().index_stats();
    let used_memory = app.kb().redis().used_memory_bytes().await?;
    let uptime = app.uptime_seconds();
    let lookups = index.hits + index.loads;
    Ok(CacheFigures {
        hit_rate_percent: if lookups == 0 {
            0.0
        } else {
            two_decimals(index.hits as f64 * 100.0 / lookups as f64)
        },
        cache_hits: index.hits,
        cache_misses: index.loads,
        patterns_in_cache: index.patterns,
        symbols_in_cache: index.symbols,
        patterns_cached_total: index.patterns_indexed,
        symbols_cached_total: index.symbols_indexed,
        redis_memory_used_mb: two_decimals(used_memory as f64 / 1_048_576.0),
        uptime_seconds: two_decimals(uptime),
        requests_per_second: if uptime > 0.0 {
            two_decimals(lookups as f64 / uptime)
        } else {
            0.0
        },
    })
}

/// The resident indexes as the reference's pattern cache.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CacheFigures {
    hit_rate_percent: f64,
    /// Searches that found their kb's index resident.
    cache_hits: u64,
    /// Searches that loaded it.
    cache_misses: u64,
    patterns_in_cache: u64,
    symbols_in_cache: u64,
    /// Patterns put into an index since start.
    patterns_cached_total: u64,
    /// Symbols new to an index since start.
    symbols_cached_total: u64,
    redis_memory_used_mb: f64,
    uptime_seconds: f64,
    requests_per_second: f64,
}

/// The figures, or why they could not be gathered.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum CachePerformance {
    Figures(CacheFigures),
    Failed { error: String },
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CacheHealth {
    /// `healthy`, or `unhealthy` when Redis does not answer.
    status: &'static str,
    redis_connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_stats: Option<CacheFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `GET /cache/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CacheStats {
    cache_performance: CachePerformance,
    cache_health: CacheHealth,
    timestamp: String,
}

/// The pattern cache (spec section 4.2), which here is this instance's resident indexes: a
/// hit is a prediction that found its kb's index resident, a miss one that loaded it.
#[utoipa::path(get, path = "/cache/stats", tag = "system",
    responses((status = 200, description = "The resident indexes as the pattern cache", body = CacheStats)))]
pub(crate) async fn cache_stats(State(app): State<AppState>) -> Json<CacheStats> {
    let (performance, health) = match (cache_figures(&app).await, app.kb().redis().ping().await) {
        (Ok(figures), Ok(())) => (
            CachePerformance::Figures(figures.clone()),
            CacheHealth {
                status: "healthy",
                redis_connected: true,
                cache_stats: Some(figures),
                error: None,
            },
        ),
        (figures, ping) => {
            let error = ping
                .err()
                .map(|error| error.to_string())
                .or_else(|| figures.as_ref().err().map(ToString::to_string))
                .unwrap_or_default();
            (
                match figures {
                    Ok(figures) => CachePerformance::Figures(figures),
                    Err(_) => CachePerformance::Failed {
                        error: error.clone(),
                    },
                },
                CacheHealth {
                    status: "unhealthy",
                    redis_connected: false,
                    cache_stats: None,
                    error: Some(error),
                },
            )
        }
    };
    Json(CacheStats {
        cache_performance: performance,
        cache_health: health,
        timestamp: iso_utc_offset(SystemTime::now()),
    })
}

/// The `session_id` query parameter of `/cache/invalidate`.
#[derive(Debug, Deserialize)]
pub(crate) struct InvalidateQuery {
    session_id: Option<String>,
}

/// Drops this instance's resident index of the session's kb, or every one without
/// `session_id` (spec section 4.3); the next predictions load them again. An unknown session
/// invalidates nothing.
#[utoipa::path(post, path = "/cache/invalidate", tag = "system",
    params(("session_id" = Option<String>, Query, description = "Drop only the index of this session's kb")),
    responses(
        (status = 200, description = "What was dropped", body = CacheInvalidated),
        (status = 503, description = "Redis is unavailable", body = Detail),
    ))]
pub(crate) async fn cache_invalidate(
    State(app): State<AppState>,
    ValidQuery(query): ValidQuery<InvalidateQuery>,
) -> Result<Json<CacheInvalidated>, ApiError> {
    let (patterns, symbols) = match &query.session_id {
        None => app.kb().unload_indexes(None),
        Some(id) => match crate::session::read_session(&app, id).await {
            Ok((session, _)) => app.kb().unload_indexes(Some(&session.kb_id)),
            Err(ApiError::SessionNotFound(_)) => (0, 0),
            Err(other) => return Err(other),
        },
    };
    Ok(Json(CacheInvalidated {
        status: "success",
        patterns_invalidated: patterns,
        symbols_invalidated: symbols,
        session_id: query.session_id,
        reason: None,
        timestamp: iso_utc_offset(SystemTime::now()),
    }))
}

/// `POST /cache/invalidate`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CacheInvalidated {
    status: &'static str,
    patterns_invalidated: u64,
    symbols_invalidated: u64,
    session_id: Option<String>,
    /// Why nothing could be invalidated; `null` here, where the cache always exists.
    reason: Option<String>,
    timestamp: String,
}

/// The reference's "distributed STM" (spec section 4.4): here every session, its STM
/// included, lives in Redis and every instance reads and writes it there, so it is always
/// active. The figures are this instance's: session events it published and received, and
/// session states it wrote. There is no STM cache (every access reads Redis), so its hits and
/// misses are 0; the reference's stream figures (`stream_length`, `consumer_groups`) are left
/// out, as the reference leaves them out when it cannot read its stream: events travel by
/// pub/sub, not a stream.
#[utoipa::path(get, path = "/distributed-stm/stats", tag = "system",
    responses((status = 200, description = "Sessions shared through Redis", body = DistributedStm)))]
pub(crate) async fn distributed_stm_stats(State(app): State<AppState>) -> Json<DistributedStm> {
    let sharing = app.events().sharing();
    Json(DistributedStm {
        status: "active",
        distributed_stm_enabled: true,
        performance_stats: StmFigures {
            events_published: sharing.published,
            events_consumed: sharing.relayed,
            cache_hits: 0,
            cache_misses: 0,
            sync_operations: sharing.session_writes,
            cache_hit_rate: 0.0,
        },
        processor_info: ProcessorInfo {
            sample_processor_id: None,
            total_active_processors: 0,
        },
        expected_improvements: ExpectedImprovements {
            stm_coordination_overhead_reduction: "50-70%",
            distributed_state_consistency: "near real-time",
            horizontal_scaling_support: "enabled",
        },
        reason: None,
        error: None,
        timestamp: iso_utc_offset(SystemTime::now()),
    })
}

/// `GET /distributed-stm/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DistributedStm {
    status: &'static str,
    distributed_stm_enabled: bool,
    performance_stats: StmFigures,
    processor_info: ProcessorInfo,
    /// The reference's constant block.
    expected_improvements: ExpectedImprovements,
    reason: Option<String>,
    error: Option<String>,
    timestamp: String,
}

/// This instance's part in sharing sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StmFigures {
    /// Session events this instance published.
    events_published: u64,
    /// Session events this instance received for its WebSocket clients.
    events_consumed: u64,
    /// No STM cache: every access reads Redis.
    cache_hits: u64,
    cache_misses: u64,
    /// Session states this instance wrote.
    sync_operations: u64,
    cache_hit_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProcessorInfo {
    /// `null`: instances hold no node processors.
    sample_processor_id: Option<String>,
    total_active_processors: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExpectedImprovements {
    stm_coordination_overhead_reduction: &'static str,
    distributed_state_consistency: &'static str,
    horizontal_scaling_support: &'static str,
}
