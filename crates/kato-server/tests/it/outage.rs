//! Store outages: while ClickHouse or Redis is cut off, requests that need it answer 503 with
//! a `detail` naming the store (never 500), and the server recovers by itself once the store
//! is back. While one hangs (its proxy paused: connections open, no byte through), requests
//! answer 503 at the request deadline, naming it, and a change left running still holds its
//! in-flight permit. The stores sit behind `TcpProxy`s so other tests keep their connections.

use std::time::{Duration, Instant};

use kato_server::ServerArgs;
use kato_test_support::TcpProxy;

use crate::openapi;
use crate::support::{Reply, TestServer, node, stores};

/// Polls `request` until it answers `status` (the server reconnects by itself).
async fn eventually(status: u16, mut request: impl AsyncFnMut() -> Reply) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = request().await;
        if reply.status == status || Instant::now() > deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_store_unavailable(reply: &Reply, store: &str) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(store), "the detail names {store}: {detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_is_503_and_the_server_recovers() {
    let Some((clickhouse, redis)) = stores("clickhouse_down_is_503_and_the_server_recovers") else {
        return;
    };
    let proxy = TcpProxy::start(&clickhouse).await;
    let args = ServerArgs::for_stores(&proxy.url("http"), "kato", &redis);
    let server = TestServer::start_args(&args).await;
    let id = server.create_session(&node("clickhouse_down")).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;

    proxy.stop().await;
    let learn = server.post(&format!("/sessions/{id}/learn")).await;
    assert_store_unavailable(&learn, "clickhouse");
    let predictions = server.get(&format!("/sessions/{id}/predictions")).await;
    assert_store_unavailable(&predictions, "clickhouse");
    let document = openapi::document(&server).await;
    openapi::assert_documented(&document, "/sessions/{session_id}/learn", "post", &learn);
    openapi::assert_documented(
        &document,
        "/sessions/{session_id}/predictions",
        "get",
        &predictions,
    );
    let health = server.get("/health").await.expect(200).clone();
    assert_eq!(health["status"], "unhealthy");
    assert_issue_names(&health, "clickhouse");
    // The failed learn left the session as it was.
    assert_eq!(server.stm(&id).await, serde_json::json!([["a"], ["b"]]));

    proxy.resume().await;
    let learn = eventually(200, async || {
        server.post(&format!("/sessions/{id}/learn")).await
    })
    .await;
    assert_eq!(
        learn.expect(200)["pattern_name"],
        "PTRN|76d7efca2e96cb5eeddf4e06ac96a0f424630135"
    );
    let health = server.get("/health").await.expect(200).clone();
    assert_eq!(health["status"], "healthy");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_and_the_server_recovers() {
    let Some((clickhouse, redis)) = stores("redis_down_is_503_and_the_server_recovers") else {
        return;
    };
    if kato_test_support::skips_redis_proxy_on_cluster(
        "redis_down_is_503_and_the_server_recovers",
        &redis,
    ) {
        return;
    }
    let proxy = TcpProxy::start(&redis).await;
    let args = ServerArgs::for_stores(&clickhouse, "kato", &proxy.url("redis"));
    let server = TestServer::start_args(&args).await;
    let id = server.create_session(&node("redis_down")).await;
    server.observe(&id, &["a"]).await;

    proxy.stop().await;
    let observe = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &serde_json::json!({"strings": ["b"]}),
        )
        .await;
    assert_store_unavailable(&observe, "redis");
    let created = server
        .post_json(
            "/sessions",
            &serde_json::json!({"node_id": node("redis_down_2")}),
        )
        .await;
    assert_store_unavailable(&created, "redis");
    let document = openapi::document(&server).await;
    openapi::assert_documented(
        &document,
        "/sessions/{session_id}/observe",
        "post",
        &observe,
    );
    openapi::assert_documented(&document, "/sessions", "post", &created);

    proxy.resume().await;
    let observe = eventually(200, async || {
        server
            .post_json(
                &format!("/sessions/{id}/observe"),
                &serde_json::json!({"strings": ["b"]}),
            )
            .await
    })
    .await;
    assert_eq!(observe.expect(200)["stm_length"], 2, "{}", observe.text);
    // Each of the server's Redis connections notices the outage on its first use after it
    // and reconnects; clear-all goes through the knowledge base's connection.
    let cleared = eventually(200, async || {
        server.post(&format!("/sessions/{id}/clear-all")).await
    })
    .await;
    cleared.expect(200);
    server.stop().await;
}

/// The request deadline of the slow-store tests.
const DEADLINE: Duration = Duration::from_secs(1);
/// What an answer at the deadline may take beyond it on a busy test machine.
const SLACK: Duration = Duration::from_millis(500);

/// Sends `request` and checks it answers 503 at the deadline (not before half of it, not
/// after the slack), with a detail that says so and names `store`.
/// `/health`'s issues name `store` and only it.
fn assert_issue_names(health: &serde_json::Value, store: &str) {
    let issues: Vec<&str> = health["issues"]
        .as_array()
        .map(|issues| issues.iter().filter_map(|i| i.as_str()).collect())
        .unwrap_or_default();
    assert!(
        !issues.is_empty() && issues.iter().all(|issue| issue.starts_with(store)),
        "the issues name {store}: {health}"
    );
}

async fn assert_deadline_names(store: &str, request: impl Future<Output = Reply>) {
    let started = Instant::now();
    let reply = request.await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{}", reply.text);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("deadline") && detail.contains(store),
        "the detail says the deadline passed and names {store}: {detail}"
    );
    assert!(
        took >= DEADLINE / 2 && took <= DEADLINE + SLACK,
        "answered after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_clickhouse_is_503_at_the_deadline_and_the_session_works_after() {
    let Some((clickhouse, redis)) =
        stores("a_hung_clickhouse_is_503_at_the_deadline_and_the_session_works_after")
    else {
        return;
    };
    let proxy = TcpProxy::start(&clickhouse).await;
    let mut args = ServerArgs::for_stores(&proxy.url("http"), "kato", &redis);
    args.request_timeout_ms = DEADLINE.as_millis() as u64;
    args.max_in_flight = 1;
    let server = TestServer::start_args(&args).await;
    let id = server.create_session(&node("clickhouse_hung")).await;
    let other = server.create_session(&node("clickhouse_hung_2")).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;

    proxy.pause();
    let paused = Instant::now();
    let learn_path = format!("/sessions/{id}/learn");
    let learn = server.post(&learn_path);
    let busy = async {
        // While the learn holds the only in-flight permit, another change is refused at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let reply = server
            .post_json(
                &format!("/sessions/{other}/observe"),
                &serde_json::json!({"strings": ["x"]}),
            )
            .await;
        (reply, started.elapsed())
    };
    let ((), (busy, busy_took)) = tokio::join!(assert_deadline_names("clickhouse", learn), busy);
    assert_eq!(busy.status, 503, "{}", busy.text);
    assert!(busy.text.contains("KATO_MAX_IN_FLIGHT"), "{}", busy.text);
    assert!(busy_took < DEADLINE / 2, "refused after {busy_took:?}");
    // A read stops at the deadline too.
    assert_deadline_names(
        "clickhouse",
        server.get(&format!("/sessions/{id}/predictions")),
    )
    .await;
    let health = server.get("/health").await.expect(200).clone();
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_issue_names(&health, "clickhouse");

    // Past the ClickHouse timeout (twice the deadline) the learn left running has failed, so
    // the session is as it was and unlocked.
    tokio::time::sleep((paused + 3 * DEADLINE).saturating_duration_since(Instant::now())).await;
    proxy.resume().await;
    assert_eq!(server.stm(&id).await, serde_json::json!([["a"], ["b"]]));
    let learn = eventually(200, async || {
        server.post(&format!("/sessions/{id}/learn")).await
    })
    .await;
    assert_eq!(
        learn.expect(200)["pattern_name"],
        "PTRN|76d7efca2e96cb5eeddf4e06ac96a0f424630135"
    );
    server.clear_all(&id).await;
    server.clear_all(&other).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_is_503_at_the_deadline_and_the_session_works_after() {
    let Some((clickhouse, redis)) =
        stores("a_hung_redis_is_503_at_the_deadline_and_the_session_works_after")
    else {
        return;
    };
    if kato_test_support::skips_redis_proxy_on_cluster(
        "a_hung_redis_is_503_at_the_deadline_and_the_session_works_after",
        &redis,
    ) {
        return;
    }
    let proxy = TcpProxy::start(&redis).await;
    let mut args = ServerArgs::for_stores(&clickhouse, "kato", &proxy.url("redis"));
    args.request_timeout_ms = DEADLINE.as_millis() as u64;
    let server = TestServer::start_args(&args).await;
    let id = server.create_session(&node("redis_hung")).await;
    server.observe(&id, &["a"]).await;

    proxy.pause();
    let observe = serde_json::json!({"strings": ["b"]});
    assert_deadline_names(
        "redis",
        server.post_json(&format!("/sessions/{id}/observe"), &observe),
    )
    .await;
    assert_deadline_names("redis", server.post(&format!("/sessions/{id}/learn"))).await;
    let health = server.get("/health").await.expect(200).clone();
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_issue_names(&health, "redis");

    proxy.resume().await;
    let observed = eventually(200, async || {
        server
            .post_json(&format!("/sessions/{id}/observe"), &observe)
            .await
    })
    .await;
    assert_eq!(observed.expect(200)["stm_length"], 2, "{}", observed.text);
    let learned = server.learn(&id).await;
    assert_eq!(learned, "PTRN|76d7efca2e96cb5eeddf4e06ac96a0f424630135");
    server.clear_all(&id).await;
    server.stop().await;
}
