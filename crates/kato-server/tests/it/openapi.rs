//! Real responses validate against the schemas `/openapi.json` gives them: each typed route is
//! called and its body checked with a small validator of the schema forms the document uses
//! (`$ref`, `type` and type lists, `properties`, `required`, `additionalProperties`, `items`,
//! `oneOf` / `anyOf` / `allOf`, `enum`). Routes still described in prose are listed, so the set
//! of typed ones can only grow.

use serde_json::{Value, json};

use crate::support::TestServer;

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
    for (key, every) in [("allOf", true), ("oneOf", false), ("anyOf", false)] {
        if let Some(branches) = schema[key].as_array() {
            let failing: Vec<Vec<String>> = branches
                .iter()
                .map(|branch| problems(document, branch, value, at))
                .filter(|found| !found.is_empty())
                .collect();
            let valid = if every {
                failing.is_empty()
            } else {
                failing.len() < branches.len()
            };
            if !valid {
                found.push(format!("{at}: no {key} branch fits: {failing:?}"));
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
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => found.push(format!("{place} is not in the schema")),
                    extra @ Value::Object(_) => {
                        found.extend(problems(document, extra, field, &place));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_responses_validate_against_the_document() {
    let Some(server) = TestServer::start("typed_responses_validate_against_the_document").await
    else {
        return;
    };
    let reply = server.get("/openapi.json").await;
    let document = reply.expect(200).clone();
    server.get("/health").await.expect(200);
    // (document path, method, request path): each must answer with a documented schema.
    let calls = [
        ("/health", "get", "/health"),
        ("/concurrency", "get", "/concurrency"),
        (
            "/metrics/{metric_name}",
            "get",
            "/metrics/kato_requests_total",
        ),
        ("/cache/invalidate", "post", "/cache/invalidate"),
        ("/percept-data", "get", "/percept-data?node_id=n1"),
        ("/metrics", "get", "/metrics"),
        ("/cache/stats", "get", "/cache/stats"),
        ("/connection-pools", "get", "/connection-pools"),
        ("/distributed-stm/stats", "get", "/distributed-stm/stats"),
        ("/stats", "get", "/stats?minutes=5"),
        ("/cognition-data", "get", "/cognition-data"),
    ];
    for (path, method, request) in calls {
        let reply = match method {
            "post" => server.post(request).await,
            _ => server.get(request).await,
        };
        let schema = response_schema(&document, path, method, reply.status)
            .unwrap_or_else(|| panic!("{method} {path} {} has no schema", reply.status));
        let found = problems(&document, schema, &reply.body, "body");
        assert!(
            found.is_empty(),
            "{method} {request}: {found:?}\n{}",
            reply.text
        );
    }

    // The validator finds what is wrong: a mistyped, a missing and an unknown nested field.
    let schema = response_schema(&document, "/health", "get", 200).unwrap();
    let health = server.get("/health").await.body;
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

    // Routes whose success answers are still described in prose only (issue 16, item 6).
    let mut untyped: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let typed = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .any(|(_, response)| !response["content"].is_null());
            if !typed {
                untyped.push(format!("{method} {path}"));
            }
        }
    }
    for (path, method, _) in calls {
        assert!(
            !untyped.contains(&format!("{method} {path}")),
            "{method} {path} lost its schema"
        );
    }
    eprintln!(
        "routes without a response schema yet: {} of {}",
        untyped.len(),
        document["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>()
    );
    server.stop().await;
}
