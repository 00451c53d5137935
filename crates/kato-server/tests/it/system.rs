//! Service routes (spec `api-and-storage.md` sections 1.1, 1.2 and 1.5), the OpenAPI
//! document, trace ids and the fallbacks.

use serde_json::{Value, json};

use crate::support::TestServer;

#[track_caller]
fn assert_type(body: &Value, field: &str, check: fn(&Value) -> bool, what: &str) {
    assert!(
        check(&body[field]),
        "{field} should be {what}: {} in {body}",
        body[field]
    );
}

fn is_iso_utc(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.len() >= 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_describes_the_service() {
    let Some(server) = TestServer::start("root_describes_the_service").await else {
        return;
    };
    let reply = server.get("/").await;
    let body = reply.expect(200);
    assert_eq!(body["service"], "KATO API");
    assert_eq!(body["docs"], "/docs");
    assert_eq!(body["health"], "/health");
    assert_eq!(body["status"], "running");
    assert_eq!(body["architecture"], "modular");
    assert_eq!(body["session_support"], true);
    assert_type(body, "version", Value::is_string, "a string");
    assert_type(body, "description", Value::is_string, "a string");
    assert_type(body, "uptime_seconds", Value::is_f64, "a float");
    assert!(body["uptime_seconds"].as_f64().unwrap() >= 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_healthy_with_the_reference_fields() {
    let Some(server) = TestServer::start("health_is_healthy_with_the_reference_fields").await
    else {
        return;
    };
    let reply = server.get("/health").await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "healthy", "{body}");
    assert_eq!(body["processor_status"], "healthy");
    assert_eq!(body["service_name"], "kato");
    assert_eq!(body["issues"], json!([]));
    assert_type(body, "uptime_seconds", Value::is_number, "a number");
    assert_type(body, "metrics_collected", Value::is_u64, "an integer");
    assert_type(body, "last_collection", Value::is_number, "a number");
    assert_type(body, "active_sessions", Value::is_u64, "an integer");
    assert_type(body, "timestamp", is_iso_utc, "an ISO-8601 UTC time");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_sessions_and_version() {
    let Some(server) = TestServer::start("status_reports_sessions_and_version").await else {
        return;
    };
    let reply = server.get("/status").await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["base_processor_id"], "kato");
    assert_type(body, "uptime_seconds", Value::is_number, "a number");
    assert_type(body, "version", Value::is_string, "a string");
    let sessions = &body["sessions"];
    assert_type(sessions, "total_sessions", Value::is_u64, "an integer");
    assert_type(sessions, "active_sessions", Value::is_u64, "an integer");
    assert_eq!(sessions["expired_sessions"], 0);
    assert_eq!(sessions["backend"], "redis");
    let redis_url = sessions["redis_url"].as_str().expect("redis_url");
    assert!(redis_url.starts_with("redis://"), "{redis_url}");
    let processors = &body["processors"];
    assert_type(processors, "total_processors", Value::is_u64, "an integer");
    assert_type(processors, "max_processors", Value::is_u64, "an integer");
    assert_type(
        processors,
        "eviction_ttl_seconds",
        Value::is_u64,
        "an integer",
    );
    assert_type(processors, "processors", Value::is_array, "a list");
    server.stop().await;
}

/// Every key of a JSON object, in order.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// `/metrics` has the reference's keys in its order, every figure a number, and is computed on
/// every call: requests between two reads show at once; the session counts are shared by
/// every instance (a session created on another server counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_json_has_the_reference_fields_and_is_fresh() {
    let test = "metrics_json_has_the_reference_fields_and_is_fresh";
    let Some(server) = TestServer::start(test).await else {
        return;
    };
    let Some(other) = TestServer::start(test).await else {
        return;
    };
    let node = crate::support::node("metrics");
    server.get("/health").await.expect(200);
    let first = server.get("/metrics").await.expect(200).clone();
    assert_eq!(
        keys(&first),
        [
            "timestamp",
            "sessions",
            "performance",
            "resources",
            "databases",
            "rates",
            "processor_manager",
            "uptime_seconds",
            "active_sessions",
            "error",
        ]
    );
    assert_eq!(
        keys(&first["sessions"]),
        [
            "total_created",
            "total_deleted",
            "active",
            "operations_total"
        ]
    );
    assert_eq!(
        keys(&first["performance"]),
        [
            "total_requests",
            "total_errors",
            "error_rate",
            "average_response_time"
        ]
    );
    assert_eq!(
        keys(&first["resources"]),
        ["cpu_percent", "memory_percent", "disk_percent"]
    );
    assert_eq!(keys(&first["databases"]), ["clickhouse", "qdrant", "redis"]);
    assert_eq!(
        keys(&first["rates"]),
        [
            "requests_per_second",
            "requests_per_minute",
            "errors_per_minute"
        ]
    );
    let numbers = [
        &first["timestamp"],
        &first["uptime_seconds"],
        &first["active_sessions"],
        &first["performance"]["error_rate"],
        &first["resources"]["disk_percent"],
        &first["databases"]["qdrant"]["avg_response_time"],
    ];
    for (at, number) in numbers.iter().enumerate() {
        assert!(number.is_number(), "{at}: {first}");
    }
    for (_, value) in first["sessions"].as_object().unwrap() {
        assert!(value.is_number(), "{first}");
    }
    assert!(first["error"].is_null());
    assert!(
        first["performance"]["total_requests"].as_f64().unwrap() >= 1.0,
        "{first}"
    );

    // A session created on the other instance, a few requests here, a second later: seen.
    other.create_session(&node).await;
    for _ in 0..3 {
        server.get("/health").await.expect(200);
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let second = server.get("/metrics").await.expect(200).clone();
    let count = |body: &Value, section: &str, key: &str| body[section][key].as_f64().unwrap();
    assert!(
        count(&second, "performance", "total_requests")
            >= count(&first, "performance", "total_requests") + 4.0,
        "{first}\n{second}"
    );
    assert!(
        count(&second, "sessions", "total_created")
            >= count(&first, "sessions", "total_created") + 1.0,
        "{first}\n{second}"
    );
    assert!(
        count(&second, "performance", "average_response_time") > 0.0,
        "{second}"
    );
    assert!(second["timestamp"].as_f64() > first["timestamp"].as_f64());
    server.stop().await;
    other.stop().await;
}

/// `/stats`, `/metrics/{name}` and `/concurrency` as the reference shapes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_metric_series_and_concurrency() {
    let Some(server) = TestServer::start("stats_metric_series_and_concurrency").await else {
        return;
    };
    server.get("/health").await.expect(200);
    server.get("/no/such/route").await;
    let stats = server.get("/stats?minutes=5").await;
    let body = stats.expect(200);
    assert_eq!(
        keys(body),
        [
            "time_range_minutes",
            "timestamp",
            "processor_manager",
            "current_status",
            "time_series",
            "summary",
            "error",
        ]
    );
    assert_eq!(body["time_range_minutes"], 5);
    assert_eq!(keys(&body["time_series"]).len(), 20, "{body}");
    assert_eq!(keys(&body["time_series"])[0], "kato_cpu_usage_percent");
    let requests = body["time_series"]["kato_requests_total"]
        .as_array()
        .unwrap();
    let last = requests.last().expect("the requests before this one");
    assert_eq!(keys(last), ["timestamp", "value", "labels"]);
    assert_eq!(last["labels"]["path"], "/no/such/route", "{last}");
    // The host sampler's first sample is taken at start.
    assert!(
        !body["time_series"]["kato_memory_usage_bytes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        keys(&body["current_status"]),
        ["status", "issues", "metrics", "timestamp"]
    );
    assert_eq!(
        keys(&body["summary"]),
        ["sessions", "performance", "resources", "databases"]
    );
    let empty = server.get("/stats?minutes=0").await;
    assert!(
        empty.expect(200)["time_series"]["kato_requests_total"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let bad = server.get("/stats?minutes=ten").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(
        bad.body["detail"][0]["loc"],
        serde_json::json!(["query", "minutes"])
    );

    let metric = server.get("/metrics/kato_requests_total").await;
    let body = metric.expect(200);
    assert_eq!(
        keys(body),
        [
            "metric_name",
            "time_range_minutes",
            "timestamp",
            "statistics",
            "data_points"
        ]
    );
    assert_eq!(body["time_range_minutes"], 10);
    let statistics = &body["statistics"];
    assert_eq!(keys(statistics), ["count", "min", "max", "avg"]);
    assert_eq!(
        statistics["count"].as_u64().unwrap() as usize,
        body["data_points"].as_array().unwrap().len()
    );
    assert!(statistics["max"].as_f64() >= statistics["min"].as_f64());
    let missing = server.get("/metrics/no_such_metric?minutes=3").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        serde_json::json!({"detail": "No data available for metric 'no_such_metric' in the last 3 minutes"})
    );

    let concurrency = server.get("/concurrency").await;
    let body = concurrency.expect(200);
    assert_eq!(
        keys(body),
        [
            "status",
            "current",
            "peak",
            "limits",
            "configuration",
            "recommendations",
            "timestamp"
        ]
    );
    assert!(
        body["current"]["concurrent_requests"].as_u64().unwrap() >= 1,
        "{body}"
    );
    assert!(
        body["peak"]["concurrent_requests"].as_u64()
            >= body["current"]["concurrent_requests"].as_u64()
    );
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["recommendations"][0]["level"], "info", "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_with_its_method() {
    let Some(server) = TestServer::start("openapi_lists_every_route_with_its_method").await else {
        return;
    };
    let reply = server.get("/openapi.json").await;
    let body = reply.expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    let paths = body["paths"].as_object().expect("paths");
    let expected: &[(&str, &str)] = &[
        ("/", "get"),
        ("/health", "get"),
        ("/status", "get"),
        ("/metrics", "get"),
        ("/stats", "get"),
        ("/metrics/{metric_name}", "get"),
        ("/concurrency", "get"),
        ("/connection-pools", "get"),
        ("/cache/stats", "get"),
        ("/cache/invalidate", "post"),
        ("/distributed-stm/stats", "get"),
        ("/percept-data", "get"),
        ("/cognition-data", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
        ("/docs/swagger-ui-bundle.js", "get"),
        ("/docs/swagger-ui.css", "get"),
        ("/sessions", "post"),
        ("/sessions/count", "get"),
        ("/sessions/{session_id}", "get"),
        ("/sessions/{session_id}", "delete"),
        ("/sessions/{session_id}/exists", "get"),
        ("/sessions/{session_id}/extend", "post"),
        ("/sessions/{session_id}/config", "get"),
        ("/sessions/{session_id}/config", "post"),
        ("/sessions/{session_id}/observe", "post"),
        ("/sessions/{session_id}/observe-sequence", "post"),
        ("/sessions/{session_id}/stm", "get"),
        ("/sessions/{session_id}/learn", "post"),
        ("/sessions/{session_id}/clear-stm", "post"),
        ("/sessions/{session_id}/clear-all", "post"),
        ("/sessions/{session_id}/predictions", "get"),
        ("/sessions/{session_id}/percept-data", "get"),
        ("/sessions/{session_id}/cognition-data", "get"),
        ("/sessions/{session_id}/finalize-training", "post"),
        ("/pattern/{pattern_id}", "get"),
        ("/symbols/stats", "get"),
        ("/symbols/affinity", "get"),
        ("/symbols/{symbol}/affinity", "get"),
    ];
    for (path, method) in expected {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI paths: {:?}", paths.keys()));
        assert!(
            item.get(*method).is_some(),
            "{method} {path} is not described: {item}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_is_an_html_page() {
    let Some(server) = TestServer::start("docs_is_an_html_page").await else {
        return;
    };
    let reply = server.get("/docs").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        reply.headers
    );
    assert!(
        reply.text.to_ascii_lowercase().contains("<html"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("/openapi.json"), "{}", reply.text);
    // Everything the page loads comes from this server (`cargo xtask docs-check` renders it in
    // a headless browser with no other host reachable).
    assert!(!reply.text.contains("//"), "{}", reply.text);
    for (asset, content_type, starts) in [
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript",
            "/*! For license information",
        ),
        ("/docs/swagger-ui.css", "text/css", ".swagger-ui"),
    ] {
        assert!(reply.text.contains(asset), "{}", reply.text);
        let served = server.get(asset).await;
        assert_eq!(served.status, 200, "{asset}");
        assert!(
            served
                .header("content-type")
                .is_some_and(|t| t.starts_with(content_type)),
            "{asset}: {:?}",
            served.headers
        );
        assert!(
            served.text.starts_with(starts),
            "{asset}: {:.80}",
            served.text
        );
        assert!(served.text.len() > 100_000, "{asset}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_ids_are_echoed_or_generated() {
    let Some(server) = TestServer::start("trace_ids_are_echoed_or_generated").await else {
        return;
    };
    let echoed = server
        .send(
            server
                .client
                .get(server.url("/health"))
                .header("X-Trace-ID", "my-trace-42"),
        )
        .await;
    assert_eq!(echoed.header("x-trace-id"), Some("my-trace-42"));

    let generated = server.get("/").await;
    let id = generated.header("x-trace-id").expect("a trace id");
    let hex = id.strip_prefix("kato-").expect("kato- prefix");
    assert_eq!(hex.len(), 32, "{id}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let other = server.get("/").await;
    assert_ne!(other.header("x-trace-id"), Some(id), "a new id per request");

    // Errors carry it too: the fallback 404 and the session middleware's 404.
    let missing = server.get("/no/such/route").await;
    assert!(
        missing
            .header("x-trace-id")
            .is_some_and(|t| t.starts_with("kato-"))
    );
    let unknown = server
        .send(
            server
                .client
                .get(server.url("/sessions/nope/stm"))
                .header("X-Trace-ID", "t-404"),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("x-trace-id"), Some("t-404"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods() {
    let Some(server) = TestServer::start("unknown_routes_and_methods").await else {
        return;
    };
    for path in [
        "/no/such/route",
        "/observe",
        "/learn",
        "/predictions",
        "/genes/x",
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert_eq!(reply.body, json!({"detail": "Not Found"}), "{path}");
    }
    let reply = server
        .post_json("/observe", &json!({"strings": ["a"]}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.body, json!({"detail": "Not Found"}));

    for (method, path) in [
        (reqwest::Method::DELETE, "/health"),
        (reqwest::Method::POST, "/"),
        (reqwest::Method::GET, "/sessions"),
        (reqwest::Method::POST, "/symbols/stats"),
    ] {
        let reply = server
            .send(server.client.request(method.clone(), server.url(path)))
            .await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        assert_eq!(reply.body, json!({"detail": "Method Not Allowed"}));
    }
    server.stop().await;
}

/// `/connection-pools` pings the stores; the deprecated `/percept-data` and
/// `/cognition-data` answer the reference's empty bodies for the node's kb, marked deprecated
/// in the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_pools_and_the_deprecated_node_reads() {
    let Some(server) = TestServer::start("connection_pools_and_the_deprecated_node_reads").await
    else {
        return;
    };
    let pools = server.get("/connection-pools").await;
    let body = pools.expect(200);
    assert_eq!(
        keys(body),
        [
            "status",
            "health",
            "pool_statistics",
            "connection_optimization",
            "performance_improvements",
            "error",
            "timestamp",
        ]
    );
    assert_eq!(body["status"], "healthy", "{body}");
    for store in ["redis", "clickhouse"] {
        let health = &body["health"][store];
        assert_eq!(
            keys(health),
            [
                "healthy",
                "last_check",
                "error_count",
                "last_error",
                "response_time_ms"
            ]
        );
        assert_eq!(health["healthy"], true, "{body}");
        assert!(health["response_time_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(body["pool_statistics"][store]["status"], "connected");
    }
    assert_eq!(body["health"]["qdrant"]["healthy"], false);

    let percept = server.get("/percept-data?node_id=n1").await;
    assert_eq!(
        percept.expect(200),
        &serde_json::json!({
            "percept_data": {},
            "node_id": "n1_kato",
            "warning": "This endpoint is deprecated. Use /sessions/{session_id}/percept-data for session-aware data.",
        })
    );
    let cognition = server.get("/cognition-data").await;
    let body = cognition.expect(200);
    assert_eq!(body["node_id"], "default_node_kato");
    assert_eq!(
        keys(&body["cognition_data"]),
        [
            "predictions",
            "emotives",
            "symbols",
            "command",
            "metadata",
            "path",
            "strings",
            "vectors",
            "short_term_memory",
        ]
    );
    assert!(
        body["warning"]
            .as_str()
            .unwrap()
            .contains("/sessions/{session_id}/cognition-data")
    );
    let document = server.get("/openapi.json").await;
    let paths = &document.expect(200)["paths"];
    for path in ["/percept-data", "/cognition-data"] {
        assert_eq!(paths[path]["get"]["deprecated"], true, "{path}");
    }
    server.stop().await;
}

/// The cache routes report and drop this instance's resident indexes: a prediction that loads
/// its kb's index is a miss, the next one a hit; invalidating the session's kb drops what it
/// held, and the next prediction loads it again and still predicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_stats_and_invalidate_cover_the_resident_indexes() {
    let Some(server) =
        TestServer::start("cache_stats_and_invalidate_cover_the_resident_indexes").await
    else {
        return;
    };
    let session = server.create_session(&crate::support::node("cache")).await;
    server
        .learn_events(&session, &[&["a"], &["b"], &["c"]], 1)
        .await;
    let predict = || async {
        server.clear_stm(&session).await;
        server.observe_all(&session, &[&["a"], &["b"]]).await;
        let predictions = server.predictions(&session).await;
        assert_eq!(predictions["count"], 1, "{predictions}");
    };
    predict().await;
    predict().await;
    let stats = server.get("/cache/stats").await;
    let body = stats.expect(200);
    assert_eq!(
        keys(body),
        ["cache_performance", "cache_health", "timestamp"]
    );
    let performance = &body["cache_performance"];
    assert_eq!(
        keys(performance),
        [
            "hit_rate_percent",
            "cache_hits",
            "cache_misses",
            "patterns_in_cache",
            "symbols_in_cache",
            "patterns_cached_total",
            "symbols_cached_total",
            "redis_memory_used_mb",
            "uptime_seconds",
            "requests_per_second",
        ]
    );
    assert!(performance["cache_hits"].as_u64().unwrap() >= 1, "{body}");
    assert!(performance["cache_misses"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(performance["patterns_in_cache"], 1, "{body}");
    assert_eq!(performance["symbols_in_cache"], 3, "{body}");
    assert!(
        performance["redis_memory_used_mb"].as_f64().unwrap() > 0.0,
        "{body}"
    );
    assert_eq!(body["cache_health"]["status"], "healthy");
    assert_eq!(body["cache_health"]["cache_stats"]["patterns_in_cache"], 1);

    let unknown = server
        .post("/cache/invalidate?session_id=no-such-session")
        .await;
    let body = unknown.expect(200);
    assert_eq!(body["patterns_invalidated"], 0, "{body}");
    assert_eq!(body["session_id"], "no-such-session");
    let dropped = server
        .post(&format!("/cache/invalidate?session_id={session}"))
        .await;
    let body = dropped.expect(200);
    assert_eq!(
        keys(body),
        [
            "status",
            "patterns_invalidated",
            "symbols_invalidated",
            "session_id",
            "reason",
            "timestamp",
        ]
    );
    assert_eq!(body["status"], "success");
    assert_eq!(body["patterns_invalidated"], 1, "{body}");
    assert_eq!(body["symbols_invalidated"], 3, "{body}");
    let stats = server.get("/cache/stats").await;
    assert_eq!(
        stats.expect(200)["cache_performance"]["patterns_in_cache"],
        0
    );
    predict().await;
    let all = server.post("/cache/invalidate").await;
    assert_eq!(all.expect(200)["patterns_invalidated"], 1);
    server.clear_all(&session).await;
    server.stop().await;
}

/// `/distributed-stm/stats`: always active (sessions live in Redis for every instance), with
/// this instance's figures; the monitoring timestamps are Python's `isoformat` of UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_stm_stats_reports_the_shared_sessions() {
    let Some(server) = TestServer::start("distributed_stm_stats_reports_the_shared_sessions").await
    else {
        return;
    };
    let session = server.create_session(&crate::support::node("dstm")).await;
    server.observe(&session, &["a"]).await;
    let reply = server.get("/distributed-stm/stats").await;
    let body = reply.expect(200);
    assert_eq!(
        keys(body),
        [
            "status",
            "distributed_stm_enabled",
            "performance_stats",
            "processor_info",
            "expected_improvements",
            "reason",
            "error",
            "timestamp",
        ]
    );
    assert_eq!(body["status"], "active");
    assert_eq!(body["distributed_stm_enabled"], true);
    let stats = &body["performance_stats"];
    assert!(stats["events_published"].as_u64().unwrap() >= 1, "{body}");
    assert!(stats["sync_operations"].as_u64().unwrap() >= 1, "{body}");
    assert!(
        body["timestamp"].as_str().unwrap().ends_with("+00:00"),
        "{body}"
    );
    server.clear_all(&session).await;
    server.stop().await;
}
