//! Real responses validate against the schemas `/openapi.json` gives them: every documented
//! response of every route (success and error) is provoked and its body checked with a small
//! validator of the schema forms the document uses (`$ref`, `type` and type lists,
//! `properties` (strictly: a field the schema does not name is a problem), `required`,
//! `additionalProperties`, `items`, `oneOf` / `anyOf` / `allOf`, `enum`). A store's 503 is provoked in the outage tests, which check it here too; the
//! WebSocket upgrades (101) have no body.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{Reply, TestServer, node};

/// Every problem of `value` against `schema`, at `at`.
fn problems(document: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        let target = &document["components"]["schemas"][name];
        assert!(!target.is_null(), "{reference} is not in the document");
        return problems(document, target, value, at);
    }
    let mut found = Vec::new();
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(branches) = schema[key].as_array() {
            let failing: Vec<Vec<String>> = branches
                .iter()
                .map(|branch| problems(document, branch, value, at))
                .filter(|found| !found.is_empty())
                .collect();
            let fitting = branches.len() - failing.len();
            let valid = match key {
                "allOf" => failing.is_empty(),
                "oneOf" => fitting == 1,
                _ => fitting >= 1,
            };
            if !valid {
                found.push(format!("{at}: {fitting} {key} branches fit: {failing:?}"));
            }
        }
    }
    if let Some(kinds) = match &schema["type"] {
        Value::String(kind) => Some(vec![kind.as_str()]),
        Value::Array(kinds) => Some(kinds.iter().filter_map(Value::as_str).collect()),
        _ => None,
    } {
        let fits = |kind: &str| match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unsupported type {other}"),
        };
        if !kinds.iter().any(|kind| fits(kind)) {
            found.push(format!("{at}: {value} is none of {kinds:?}"));
            return found;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        found.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap();
            if !object.contains_key(key) {
                found.push(format!("{at}: {key} is missing"));
            }
        }
        for (key, field) in object {
            let place = format!("{at}.{key}");
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => found.extend(problems(document, property, field, &place)),
                // Strict where the schema lists properties: a field the document does not
                // name is a gap in it. A free-form object (no properties) takes any key.
                None => match &schema["additionalProperties"] {
                    extra @ Value::Object(_) => {
                        found.extend(problems(document, extra, field, &place));
                    }
                    Value::Bool(true) => {}
                    _ if properties.is_some() => {
                        found.push(format!("{place} is not in the schema"));
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (index, item) in values.iter().enumerate() {
            found.extend(problems(document, items, item, &format!("{at}[{index}]")));
        }
    }
    found
}

/// The JSON schema of `method path` answering `status`, if the document gives one.
fn response_schema<'d>(
    document: &'d Value,
    path: &str,
    method: &str,
    status: u16,
) -> Option<&'d Value> {
    document["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        .get("schema")
}

/// Asserts that `reply` (to `method` on the route `path`) is a response the document
/// describes: its status is listed, and its body fits the schema (JSON) or its content type
/// is the documented one.
#[track_caller]
pub(crate) fn assert_documented(document: &Value, path: &str, method: &str, reply: &Reply) {
    let response = &document["paths"][path][method]["responses"][reply.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {}, which it does not document: {}",
        reply.status,
        reply.text
    );
    let content = response["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} {} has no content", reply.status));
    if let Some(schema) = response_schema(document, path, method, reply.status) {
        let found = problems(document, schema, &reply.body, "body");
        assert!(
            found.is_empty(),
            "{method} {path} {}: {found:?}\n{}",
            reply.status,
            reply.text
        );
    } else {
        let sent = reply.header("content-type").unwrap_or_default();
        assert!(
            content
                .keys()
                .any(|media_type| sent.starts_with(media_type.as_str())),
            "{method} {path}: content type {sent} is none of {:?}",
            content.keys().collect::<Vec<_>>()
        );
    }
}

/// The server's `/openapi.json`.
pub(crate) async fn document(server: &TestServer) -> Value {
    server.get("/openapi.json").await.expect(200).clone()
}

/// One request and the route it is documented under.
struct Call {
    path: &'static str,
    method: &'static str,
    request: String,
    body: Option<Value>,
    status: u16,
}

fn call(path: &'static str, method: &'static str, request: String, status: u16) -> Call {
    Call {
        path,
        method,
        request,
        body: None,
        status,
    }
}

fn call_with(
    path: &'static str,
    method: &'static str,
    request: String,
    body: Value,
    status: u16,
) -> Call {
    Call {
        body: Some(body),
        ..call(path, method, request, status)
    }
}

impl TestServer {
    async fn answer(&self, call: &Call) -> Reply {
        let url = self.url(&call.request);
        let request = match call.method {
            "get" => self.client.get(url),
            "delete" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let request = match &call.body {
            Some(body) => request.json(body),
            None => request,
        };
        self.send(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_documented() {
    let Some(server) = TestServer::start_with("every_route_answers_as_documented", |args| {
        // Small enough that a 413 costs little to provoke.
        args.max_body_bytes = 64 * 1024;
        // The session lock is waited for half of this: a 409 after 2 s.
        args.request_timeout_ms = 4_000;
    })
    .await
    else {
        return;
    };
    let document = document(&server).await;
    let kb = node("documented");
    let id = server.create_session(&kb).await;
    let doomed = server.create_session(&kb).await;
    let name = server.learn_events(&id, &[&["a", "b"], &["c"]], 1).await;
    let hex = name.trim_start_matches("PTRN|").to_owned();
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let gone = "session-00000000000000000000000000000000-0";
    let long_node = "n".repeat(5_000);
    let too_big = json!({"sequences": [[["x".repeat(70 * 1024)]]]});
    let s = |suffix: &str| format!("/sessions/{id}{suffix}");
    let g = |suffix: &str| format!("/sessions/{gone}{suffix}");
    let calls = vec![
        call("/", "get", "/".into(), 200),
        call("/health", "get", "/health".into(), 200),
        call("/status", "get", "/status".into(), 200),
        call("/metrics", "get", "/metrics".into(), 200),
        call("/stats", "get", "/stats?minutes=5".into(), 200),
        call("/stats", "get", "/stats?minutes=soon".into(), 422),
        call(
            "/metrics/{metric_name}",
            "get",
            "/metrics/kato_requests_total".into(),
            200,
        ),
        call(
            "/metrics/{metric_name}",
            "get",
            "/metrics/no_such_metric".into(),
            404,
        ),
        call(
            "/metrics/{metric_name}",
            "get",
            "/metrics/kato_requests_total?minutes=x".into(),
            422,
        ),
        call("/concurrency", "get", "/concurrency".into(), 200),
        call("/connection-pools", "get", "/connection-pools".into(), 200),
        call("/cache/stats", "get", "/cache/stats".into(), 200),
        call("/cache/invalidate", "post", "/cache/invalidate".into(), 200),
        call(
            "/distributed-stm/stats",
            "get",
            "/distributed-stm/stats".into(),
            200,
        ),
        call("/openapi.json", "get", "/openapi.json".into(), 200),
        call("/docs", "get", "/docs".into(), 200),
        call(
            "/docs/swagger-ui-bundle.js",
            "get",
            "/docs/swagger-ui-bundle.js".into(),
            200,
        ),
        call(
            "/docs/swagger-ui.css",
            "get",
            "/docs/swagger-ui.css".into(),
            200,
        ),
        // Sessions.
        call_with(
            "/sessions",
            "post",
            "/sessions".into(),
            json!({"node_id": kb, "config": {"unknown": 1}}),
            200,
        ),
        call_with(
            "/sessions",
            "post",
            "/sessions".into(),
            json!({"node_id": kb, "config": {"recall_threshold": 5}}),
            400,
        ),
        call_with("/sessions", "post", "/sessions".into(), json!({}), 422),
        call("/sessions/count", "get", "/sessions/count".into(), 200),
        call("/sessions/{session_id}", "get", s(""), 200),
        call("/sessions/{session_id}", "get", g(""), 404),
        call("/sessions/{session_id}/exists", "get", s("/exists"), 200),
        call(
            "/sessions/{session_id}/extend",
            "post",
            s("/extend?ttl_seconds=600"),
            200,
        ),
        call(
            "/sessions/{session_id}/extend",
            "post",
            s("/extend?ttl_seconds=long"),
            422,
        ),
        call("/sessions/{session_id}/extend", "post", g("/extend"), 404),
        call("/sessions/{session_id}/config", "get", s("/config"), 200),
        call("/sessions/{session_id}/config", "get", g("/config"), 404),
        call_with(
            "/sessions/{session_id}/config",
            "post",
            s("/config"),
            json!({"max_predictions": 50, "unknown": true}),
            200,
        ),
        call_with(
            "/sessions/{session_id}/config",
            "post",
            s("/config"),
            json!({"max_predictions": -1}),
            400,
        ),
        call_with(
            "/sessions/{session_id}/config",
            "post",
            s("/config"),
            json!([1]),
            422,
        ),
        call_with(
            "/sessions/{session_id}/config",
            "post",
            g("/config"),
            json!({}),
            404,
        ),
        // Memory, on the STM [a] [b] against the learned [a b] [c].
        call(
            "/sessions/{session_id}/predictions",
            "get",
            s("/predictions"),
            200,
        ),
        call(
            "/sessions/{session_id}/predictions",
            "get",
            g("/predictions"),
            404,
        ),
        call(
            "/sessions/{session_id}/cognition-data",
            "get",
            s("/cognition-data"),
            200,
        ),
        call(
            "/sessions/{session_id}/cognition-data",
            "get",
            g("/cognition-data"),
            404,
        ),
        call("/sessions/{session_id}/stm", "get", s("/stm"), 200),
        call("/sessions/{session_id}/stm", "get", g("/stm"), 404),
        call_with(
            "/sessions/{session_id}/observe",
            "post",
            s("/observe"),
            json!({"strings": ["c"], "emotives": {"joy": 0.5}, "metadata": {"k": "v"}}),
            200,
        ),
        call_with(
            "/sessions/{session_id}/observe",
            "post",
            s("/observe"),
            json!({"vectors": [[1.0], [1.0, 2.0]]}),
            400,
        ),
        call_with(
            "/sessions/{session_id}/observe",
            "post",
            s("/observe"),
            json!({"strings": 5}),
            422,
        ),
        call_with(
            "/sessions/{session_id}/observe",
            "post",
            g("/observe"),
            json!({"strings": ["a"]}),
            404,
        ),
        call(
            "/sessions/{session_id}/percept-data",
            "get",
            s("/percept-data"),
            200,
        ),
        call(
            "/sessions/{session_id}/percept-data",
            "get",
            g("/percept-data"),
            404,
        ),
        call("/sessions/{session_id}/learn", "post", s("/learn"), 200),
        // The learn emptied the STM.
        call("/sessions/{session_id}/learn", "post", s("/learn"), 400),
        call("/sessions/{session_id}/learn", "post", g("/learn"), 404),
        call_with(
            "/sessions/{session_id}/observe-sequence",
            "post",
            s("/observe-sequence"),
            json!({"observations": [{"strings": ["a"]}, {"strings": ["b"]}], "learn_at_end": true}),
            200,
        ),
        call_with(
            "/sessions/{session_id}/observe-sequence",
            "post",
            s("/observe-sequence"),
            json!({"observations": [{"strings": ["a"]}, {"vectors": [[1.0], [1.0, 2.0]]}]}),
            400,
        ),
        call_with(
            "/sessions/{session_id}/observe-sequence",
            "post",
            s("/observe-sequence"),
            json!({"observations": 1}),
            422,
        ),
        call_with(
            "/sessions/{session_id}/observe-sequence",
            "post",
            g("/observe-sequence"),
            json!({"observations": []}),
            404,
        ),
        call_with(
            "/sessions/{session_id}/observe",
            "post",
            s("/observe"),
            json!({"strings": ["a"]}),
            200,
        ),
        // One symbol in the STM: the single-symbol path.
        call(
            "/sessions/{session_id}/predictions",
            "get",
            s("/predictions"),
            200,
        ),
        call(
            "/sessions/{session_id}/percept-data",
            "get",
            s("/percept-data"),
            200,
        ),
        call(
            "/sessions/{session_id}/clear-stm",
            "post",
            s("/clear-stm"),
            200,
        ),
        call(
            "/sessions/{session_id}/clear-stm",
            "post",
            g("/clear-stm"),
            404,
        ),
        call_with(
            "/sessions/{session_id}/learn-sequences",
            "post",
            s("/learn-sequences"),
            json!({"sequences": [[["a"], ["b"]], [["z"]]]}),
            200,
        ),
        call_with(
            "/sessions/{session_id}/learn-sequences",
            "post",
            s("/learn-sequences"),
            too_big,
            413,
        ),
        call_with(
            "/sessions/{session_id}/learn-sequences",
            "post",
            s("/learn-sequences"),
            json!({"sequences": [["a"]]}),
            422,
        ),
        call_with(
            "/sessions/{session_id}/learn-sequences",
            "post",
            g("/learn-sequences"),
            json!({"sequences": []}),
            404,
        ),
        call(
            "/sessions/{session_id}/finalize-training",
            "post",
            s("/finalize-training"),
            200,
        ),
        call(
            "/sessions/{session_id}/finalize-training",
            "post",
            g("/finalize-training"),
            404,
        ),
        // The node's kb.
        call(
            "/pattern/{pattern_id}",
            "get",
            format!("/pattern/{hex}?node_id={kb}"),
            200,
        ),
        call(
            "/pattern/{pattern_id}",
            "get",
            format!("/pattern/{}?node_id={kb}", "0".repeat(40)),
            200,
        ),
        call(
            "/pattern/{pattern_id}",
            "get",
            format!("/pattern/{hex}?node_id={long_node}"),
            422,
        ),
        call(
            "/symbols/stats",
            "get",
            format!("/symbols/stats?node_id={kb}"),
            200,
        ),
        call(
            "/symbols/stats",
            "get",
            format!("/symbols/stats?node_id={long_node}"),
            422,
        ),
        call(
            "/symbols/affinity",
            "get",
            format!("/symbols/affinity?node_id={kb}"),
            200,
        ),
        call(
            "/symbols/affinity",
            "get",
            format!("/symbols/affinity?node_id={long_node}"),
            422,
        ),
        call(
            "/symbols/{symbol}/affinity",
            "get",
            format!("/symbols/c/affinity?node_id={kb}"),
            200,
        ),
        call(
            "/symbols/{symbol}/affinity",
            "get",
            format!("/symbols/c/affinity?node_id={long_node}"),
            422,
        ),
        call(
            "/percept-data",
            "get",
            format!("/percept-data?node_id={kb}"),
            200,
        ),
        call(
            "/cognition-data",
            "get",
            format!("/cognition-data?node_id={kb}"),
            200,
        ),
        call(
            "/percept-data",
            "get",
            format!("/percept-data?node_id={long_node}"),
            422,
        ),
        call(
            "/cognition-data",
            "get",
            format!("/cognition-data?node_id={long_node}"),
            422,
        ),
        // Last: these end the session and the kb.
        call(
            "/sessions/{session_id}",
            "delete",
            format!("/sessions/{doomed}"),
            200,
        ),
        call(
            "/sessions/{session_id}",
            "delete",
            format!("/sessions/{doomed}"),
            404,
        ),
        call(
            "/sessions/{session_id}/clear-all",
            "post",
            s("/clear-all"),
            200,
        ),
        call(
            "/sessions/{session_id}/clear-all",
            "post",
            g("/clear-all"),
            404,
        ),
    ];
    let mut covered = BTreeSet::new();
    for call in &calls {
        let reply = server.answer(call).await;
        assert_eq!(
            reply.status, call.status,
            "{} {}: {}",
            call.method, call.request, reply.text
        );
        assert_documented(&document, call.path, call.method, &reply);
        if call.path.ends_with("/predictions") && reply.status == 200 {
            // Both prediction paths had something to show.
            assert!(reply.body["count"].as_u64() > Some(0), "{}", reply.text);
        }
        covered.insert((
            call.path.to_owned(),
            call.method.to_owned(),
            call.status.to_string(),
        ));
    }
    // A session whose lock another writer holds (a stale one, written here) answers 409.
    let locked = server.create_session(&kb).await;
    let (_, redis_url) = crate::support::stores("every_route_answers_as_documented").unwrap();
    let mut redis = kato_redis::connect(&redis_url, &Default::default())
        .await
        .unwrap();
    let lock_key = format!("kato:session:{{{locked}}}:lock");
    let () = redis::cmd("SET")
        .arg(&lock_key)
        .arg("another-writer")
        .arg("PX")
        .arg(10_000)
        .query_async(&mut redis)
        .await
        .unwrap();
    let busy = server.post(&format!("/sessions/{locked}/clear-stm")).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    assert_documented(&document, "/sessions/{session_id}/clear-stm", "post", &busy);
    let _: u64 = redis::cmd("DEL")
        .arg(&lock_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let found = server
        .get(&format!("/pattern/{hex}?node_id={}", node("documented")))
        .await;
    assert_eq!(
        found.body["pattern"]["status"], "error",
        "clear-all removed it"
    );

    // Every documented response was provoked, except: the WebSocket upgrades (the events
    // tests); 401 (the auth test), 503 (the outage tests), and 409 and 413 (once above),
    // which every route answers with the same `Detail` body, so that is checked instead.
    let shared = ["401", "409", "413", "503"];
    let mut missed = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let key = (path.clone(), method.clone(), status.clone());
                if shared.contains(&status.as_str()) {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Detail",
                        "{method} {path} {status}"
                    );
                } else if !covered.contains(&key) && status != "101" {
                    missed.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(missed.is_empty(), "never provoked: {missed:?}");
    server.stop().await;
}

fn schema_of_health(document: &Value) -> &Value {
    response_schema(document, "/health", "get", 200).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_finds_what_is_wrong() {
    let Some(server) = TestServer::start("the_validator_finds_what_is_wrong").await else {
        return;
    };
    let document = document(&server).await;
    // A mistyped, a missing and a wrong nested field.
    let schema = schema_of_health(&document);
    let health = server.get("/health").await.body;
    assert!(problems(&document, schema, &health, "body").is_empty());
    let mut wrong = health.clone();
    wrong["uptime_seconds"] = json!("long");
    assert!(!problems(&document, schema, &wrong, "body").is_empty());
    let mut missing = health.clone();
    missing.as_object_mut().unwrap().remove("status");
    assert!(!problems(&document, schema, &missing, "body").is_empty());
    let schema = response_schema(&document, "/concurrency", "get", 200).unwrap();
    let mut nested = server.get("/concurrency").await.body;
    nested["current"]["concurrent_requests"] = json!(-1.5);
    assert!(!problems(&document, schema, &nested, "body").is_empty());
    // A field the schema does not name, and an error body of the wrong shape.
    let mut extra = health.clone();
    extra["surprise"] = json!(1);
    assert!(!problems(&document, schema_of_health(&document), &extra, "body").is_empty());
    let schema = response_schema(&document, "/sessions/{session_id}/observe", "post", 422).unwrap();
    assert!(!problems(&document, schema, &json!({"detail": "text"}), "body").is_empty());
    // Every route documents a body for its success (the WebSocket upgrades have none).
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status != "101" {
                    assert!(
                        response["content"].is_object(),
                        "{method} {path} {status} has no body schema"
                    );
                }
            }
        }
    }
    server.stop().await;
}
