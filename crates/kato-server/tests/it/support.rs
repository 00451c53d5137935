//! A kato-server in the test process, bound to `127.0.0.1:0` over the test stores, and the
//! HTTP helpers every test uses. Every response is checked not to be a 500: nothing the
//! suite sends may make the server fail that way.

use kato_server::{AppState, ServerArgs};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One answer: status, headers and the body (JSON when it parses, else `Value::Null` with
/// the text kept).
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Response headers.
    pub(crate) headers: HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) body: Value,
    /// The body as text.
    pub(crate) text: String,
}

impl Reply {
    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs; returns the body.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        &self.body
    }
}

/// A running server.
#[derive(Debug)]
pub(crate) struct TestServer {
    base: String,
    /// The server's state, for the admin router.
    state: AppState,
    /// The shared client.
    pub(crate) client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), kato_server::ApiError>>>,
}

/// The service URLs, or `None` (the test skips) when they are not configured.
pub(crate) fn stores(test: &str) -> Option<(String, String)> {
    let clickhouse = kato_test_support::clickhouse_url(test)?;
    let redis = kato_test_support::redis_url(test)?;
    Some((clickhouse, redis))
}

impl TestServer {
    /// A server with every default setting; `None` when the stores are not configured.
    pub(crate) async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, |_| {}).await
    }

    /// A server with settings changed by `adjust`.
    pub(crate) async fn start_with(
        test: &str,
        adjust: impl FnOnce(&mut ServerArgs),
    ) -> Option<Self> {
        let (clickhouse, redis) = stores(test)?;
        let mut args = ServerArgs::for_stores(&clickhouse, "kato", &redis);
        adjust(&mut args);
        Some(Self::start_args(&args).await)
    }

    /// A server with exactly these arguments.
    pub(crate) async fn start_args(args: &ServerArgs) -> Self {
        let state = AppState::connect(args).await.expect("the server connects");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(kato_server::serve(
            listener,
            kato_server::router(state.clone()),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            base: format!("http://{addr}"),
            state,
            // A fresh connection per request: the server may close a kept-alive connection
            // after answering a request whose body it did not read (a 404 or 413 before the
            // body), and a pooled client can send its next request on it in that window
            // (seen once in 10,000 fuzzed requests as "connection closed before message
            // completed"). HTTP/1.1 allows either side to close an idle connection; clients
            // retry there.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("an http client"),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The Prometheus text of the admin listener's `/metrics`.
    pub(crate) async fn admin_metrics(&self) -> String {
        use tower::ServiceExt;
        let request = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .expect("a request");
        let response = kato_server::admin_router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the admin router answers");
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        String::from_utf8(body.to_vec()).expect("utf-8 text")
    }

    /// Stops accepting, waits for requests in flight.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    /// The full URL of `path` (which starts with `/`).
    /// The `ws://` URL of `path`.
    pub(crate) fn ws_url(&self, path: &str) -> String {
        format!("ws{}{path}", self.base.trim_start_matches("http"))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request built from the client and reads the reply.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_ne!(status, 500, "a 500 answer: {text}");
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// GET `path`.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    /// DELETE `path`.
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(self.url(path))).await
    }

    /// POST `path` without a body.
    pub(crate) async fn post(&self, path: &str) -> Reply {
        self.send(self.client.post(self.url(path))).await
    }

    /// POST `path` with a JSON body.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    /// POST `path` with raw bytes as `application/json`.
    pub(crate) async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// Creates a session of `node`; its id.
    pub(crate) async fn create_session(&self, node: &str) -> String {
        let reply = self
            .post_json("/sessions", &json!({ "node_id": node }))
            .await;
        let body = reply.expect(200);
        body["session_id"]
            .as_str()
            .expect("session_id is a string")
            .to_owned()
    }

    /// Creates a session of `node` with configuration overrides.
    pub(crate) async fn create_session_with(&self, node: &str, config: Value) -> String {
        let reply = self
            .post_json("/sessions", &json!({ "node_id": node, "config": config }))
            .await;
        reply.expect(200)["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned()
    }

    /// Observes one event of strings; the response body.
    pub(crate) async fn observe(&self, id: &str, strings: &[&str]) -> Value {
        self.observe_json(id, &json!({ "strings": strings })).await
    }

    /// Observes one observation body; the response body (asserts 200).
    pub(crate) async fn observe_json(&self, id: &str, body: &Value) -> Value {
        let reply = self
            .post_json(&format!("/sessions/{id}/observe"), body)
            .await;
        reply.expect(200).clone()
    }

    /// Observes each event in order.
    pub(crate) async fn observe_all(&self, id: &str, events: &[&[&str]]) {
        for event in events {
            self.observe(id, event).await;
        }
    }

    /// Learns the STM; the pattern name.
    pub(crate) async fn learn(&self, id: &str) -> String {
        let reply = self.post(&format!("/sessions/{id}/learn")).await;
        let body = reply.expect(200);
        assert_eq!(body["status"], "learned", "{body}");
        body["pattern_name"]
            .as_str()
            .expect("pattern_name")
            .to_owned()
    }

    /// Observes `events`, learns them `times` times (clearing the STM around).
    pub(crate) async fn learn_events(&self, id: &str, events: &[&[&str]], times: usize) -> String {
        let mut name = String::new();
        for _ in 0..times {
            self.clear_stm(id).await;
            self.observe_all(id, events).await;
            name = self.learn(id).await;
        }
        self.clear_stm(id).await;
        name
    }

    /// The predictions response body.
    pub(crate) async fn predictions(&self, id: &str) -> Value {
        let reply = self.get(&format!("/sessions/{id}/predictions")).await;
        reply.expect(200).clone()
    }

    /// The STM.
    pub(crate) async fn stm(&self, id: &str) -> Value {
        let reply = self.get(&format!("/sessions/{id}/stm")).await;
        reply.expect(200)["stm"].clone()
    }

    /// Empties the STM.
    pub(crate) async fn clear_stm(&self, id: &str) {
        self.post(&format!("/sessions/{id}/clear-stm"))
            .await
            .expect(200);
    }

    /// Wipes the session's node.
    pub(crate) async fn clear_all(&self, id: &str) {
        let reply = self.post(&format!("/sessions/{id}/clear-all")).await;
        assert_eq!(reply.expect(200)["scope"], "all");
    }

    /// Sets configuration keys (asserts 200).
    pub(crate) async fn set_config(&self, id: &str, config: Value) {
        let reply = self
            .post_json(&format!("/sessions/{id}/config"), &config)
            .await;
        assert_eq!(reply.expect(200)["status"], "okay");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A unique node id (`test_<label>_...`).
pub(crate) fn node(label: &str) -> String {
    kato_test_support::unique_kb_id(label)
}

/// The kb id the server derives from a node id made by [`node`] (no characters to replace).
pub(crate) fn kb_of(node: &str) -> String {
    format!("{node}_kato")
}

/// Whether `value` is a number within 5e-5 of `expected` (the golden tests' tolerance).
pub(crate) fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 5e-5)
}

/// Asserts `prediction[field]` is close to `expected`.
#[track_caller]
pub(crate) fn assert_close(prediction: &Value, field: &str, expected: f64) {
    assert!(
        close(&prediction[field], expected),
        "{field}: {} != {expected} in {prediction}",
        prediction[field]
    );
}

/// Asserts the middleware's SESSION_NOT_FOUND body for `id`.
#[track_caller]
pub(crate) fn assert_session_not_found(reply: &Reply, id: &str) {
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"error": {
            "code": "SESSION_NOT_FOUND",
            "message": format!("Session {id} not found or expired"),
            "session_id": id,
        }}),
    );
}

/// Asserts a 422 whose `detail` has an item with `loc` ending in `field`; returns the item.
#[track_caller]
pub(crate) fn assert_422_naming(reply: &Reply, field: &str) -> Value {
    assert_eq!(reply.status, 422, "{}", reply.text);
    let items = reply.body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail is a list: {}", reply.text));
    let item = items
        .iter()
        .find(|item| {
            item["loc"]
                .as_array()
                .is_some_and(|loc| loc.iter().any(|part| part == field))
        })
        .unwrap_or_else(|| panic!("no detail item names {field}: {}", reply.text));
    for key in ["type", "loc", "msg"] {
        assert!(item.get(key).is_some(), "{key} missing in {item}");
    }
    item.clone()
}
