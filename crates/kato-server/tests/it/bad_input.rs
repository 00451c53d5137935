//! Bad requests: each gets its documented 4xx with a body that names the problem, and
//! nothing answers 500 (the support module fails any test that meets a 500).

use serde_json::{Value, json};

use crate::support::{Reply, TestServer, assert_422_naming, node};

#[track_caller]
fn assert_config_errors(reply: &Reply, keys: &[&str]) {
    assert_eq!(reply.status, 400, "{}", reply.text);
    let detail = &reply.body["detail"];
    assert_eq!(
        detail["error"], "Configuration validation failed",
        "{}",
        reply.text
    );
    let errors = detail["validation_errors"]
        .as_object()
        .unwrap_or_else(|| panic!("validation_errors: {}", reply.text));
    for key in keys {
        let message = errors
            .get(*key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{key} is not named: {}", reply.text));
        assert!(!message.is_empty());
    }
    assert_eq!(errors.len(), keys.len(), "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_with_bad_fields() {
    let Some(server) = TestServer::start("create_session_with_bad_fields").await else {
        return;
    };
    let node = node("bad_create");
    let missing = server.post_json("/sessions", &json!({})).await;
    let item = assert_422_naming(&missing, "node_id");
    assert_eq!(item["type"], "missing");
    assert_eq!(item["loc"], json!(["body", "node_id"]));
    for (body, field) in [
        (json!({"node_id": 123}), "node_id"),
        (json!({"node_id": null}), "node_id"),
        (json!({"node_id": ["a"]}), "node_id"),
        (json!({"node_id": node, "metadata": "x"}), "metadata"),
        (json!({"node_id": node, "metadata": [1]}), "metadata"),
        (
            json!({"node_id": node, "ttl_seconds": "abc"}),
            "ttl_seconds",
        ),
        (json!({"node_id": node, "ttl_seconds": 1.5}), "ttl_seconds"),
        (json!({"node_id": node, "ttl_seconds": -5}), "ttl_seconds"),
        (json!({"node_id": node, "ttl_seconds": [1]}), "ttl_seconds"),
        (json!({"node_id": node, "config": "x"}), "config"),
        (json!({"node_id": node, "config": [1]}), "config"),
    ] {
        let reply = server.post_json("/sessions", &body).await;
        assert_422_naming(&reply, field);
    }
    // Values of the config that are invalid: 400 naming each key (the reference drops them).
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node, "config": {"recall_threshold": 5, "max_predictions": 0}}),
        )
        .await;
    assert_config_errors(&reply, &["recall_threshold", "max_predictions"]);
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node, "config": {"recall_threshold": "high"}}),
        )
        .await;
    assert_config_errors(&reply, &["recall_threshold"]);
    // Unknown config keys are ignored, as in the reference; the known ones apply.
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node, "config": {"bogus": 1, "recall_threshold": 0.3}}),
        )
        .await;
    let created = reply.expect(200);
    assert_eq!(
        created["session_config"]["recall_threshold"], 0.3,
        "{}",
        reply.text
    );
    assert!(
        created["session_config"].get("bogus").is_none(),
        "{}",
        reply.text
    );
    let session = created["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let reply = server
        .post_json(
            &format!("/sessions/{session}/config"),
            &json!({"config": {"also_unknown": [1], "max_predictions": 9}}),
        )
        .await;
    assert_eq!(reply.expect(200)["status"], "okay", "{}", reply.text);
    let config = server.get(&format!("/sessions/{session}/config")).await;
    let config = &config.expect(200)["config"];
    assert_eq!(config["max_predictions"], 9, "{config}");
    assert_eq!(config["recall_threshold"], 0.3, "{config}");
    assert!(config.get("also_unknown").is_none(), "{config}");
    // A known key with a bad value next to unknown ones is still a 400 naming only it.
    let reply = server
        .post_json(
            &format!("/sessions/{session}/config"),
            &json!({"config": {"also_unknown": 1, "max_predictions": 0}}),
        )
        .await;
    assert_config_errors(&reply, &["max_predictions"]);
    // Unknown top-level fields are ignored, as in the reference.
    let reply = server
        .post_json("/sessions", &json!({"node_id": node, "extra": 1}))
        .await;
    reply.expect(200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_no_json_object() {
    let Some(server) = TestServer::start("bodies_that_are_no_json_object").await else {
        return;
    };
    let id = server.create_session(&node("bad_bodies")).await;
    let paths = [
        "/sessions".to_owned(),
        format!("/sessions/{id}/observe"),
        format!("/sessions/{id}/observe-sequence"),
        format!("/sessions/{id}/config"),
    ];
    for path in &paths {
        // Invalid JSON.
        for text in [
            "{\"strings\": [",
            "not json",
            "{'a': 1}",
            "{\"a\": NaN}",
            "[1,]",
        ] {
            let reply = server.post_raw(path, text).await;
            assert_eq!(reply.status, 422, "{path} {text}: {}", reply.text);
            let item = &reply.body["detail"][0];
            assert_eq!(
                item["type"], "json_invalid",
                "{path} {text}: {}",
                reply.text
            );
            assert_eq!(item["loc"][0], "body");
            assert!(item["msg"].as_str().is_some_and(|m| !m.is_empty()));
        }
        // An empty body: the body is required.
        for empty in ["", "   "] {
            let reply = server.post_raw(path, empty).await;
            assert_eq!(reply.status, 422, "{path} empty: {}", reply.text);
            assert_eq!(reply.body["detail"][0]["type"], "missing", "{}", reply.text);
            assert_eq!(reply.body["detail"][0]["loc"], json!(["body"]));
        }
        // JSON that is not an object.
        for text in ["[1, 2]", "\"text\"", "42", "true", "null"] {
            let reply = server.post_raw(path, text).await;
            assert_eq!(reply.status, 422, "{path} {text}: {}", reply.text);
            assert_eq!(reply.body["detail"][0]["loc"][0], "body", "{}", reply.text);
        }
    }
    // None of that changed the session.
    assert_eq!(server.stm(&id).await, json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_with_bad_fields() {
    let Some(server) = TestServer::start("observe_with_bad_fields").await else {
        return;
    };
    let id = server.create_session(&node("bad_observe")).await;
    let path = format!("/sessions/{id}/observe");
    for (body, loc) in [
        (json!({"strings": "a"}), json!(["body", "strings"])),
        (json!({"strings": null}), json!(["body", "strings"])),
        (json!({"strings": [1]}), json!(["body", "strings", 0])),
        (
            json!({"strings": ["a", null]}),
            json!(["body", "strings", 1]),
        ),
        (json!({"strings": [["a"]]}), json!(["body", "strings", 0])),
        (json!({"strings": [true]}), json!(["body", "strings", 0])),
        (json!({"vectors": "x"}), json!(["body", "vectors"])),
        (json!({"vectors": [1, 2]}), json!(["body", "vectors", 0])),
        (
            json!({"vectors": [["a"]]}),
            json!(["body", "vectors", 0, 0]),
        ),
        (
            json!({"vectors": [[null]]}),
            json!(["body", "vectors", 0, 0]),
        ),
        (json!({"vectors": null}), json!(["body", "vectors"])),
        (
            json!({"emotives": {"joy": null}}),
            json!(["body", "emotives", "joy"]),
        ),
        (
            json!({"emotives": {"joy": "x"}}),
            json!(["body", "emotives", "joy"]),
        ),
        (
            json!({"emotives": {"joy": "nan"}}),
            json!(["body", "emotives", "joy"]),
        ),
        (
            json!({"emotives": {"joy": "inf"}}),
            json!(["body", "emotives", "joy"]),
        ),
        (
            json!({"emotives": {"joy": [1]}}),
            json!(["body", "emotives", "joy"]),
        ),
        (json!({"emotives": [1]}), json!(["body", "emotives"])),
        (json!({"emotives": null}), json!(["body", "emotives"])),
        (json!({"metadata": "x"}), json!(["body", "metadata"])),
        (json!({"metadata": [1]}), json!(["body", "metadata"])),
    ] {
        let reply = server.post_json(&path, &body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        let items = reply.body["detail"].as_array().expect("detail list");
        assert!(
            items.iter().any(|item| item["loc"] == loc),
            "{body}: no item at {loc}: {}",
            reply.text
        );
    }
    // NaN and out-of-range numbers are not JSON.
    for text in [
        r#"{"strings": ["a"], "emotives": {"joy": NaN}}"#,
        r#"{"strings": ["a"], "emotives": {"joy": Infinity}}"#,
        r#"{"strings": ["a"], "emotives": {"joy": 1e400}}"#,
    ] {
        let reply = server.post_raw(&path, text).await;
        assert_eq!(reply.status, 422, "{text}: {}", reply.text);
        assert_eq!(
            reply.body["detail"][0]["type"], "json_invalid",
            "{}",
            reply.text
        );
    }
    // Vectors of different lengths in one observation: 400 naming the problem.
    let reply = server
        .post_json(&path, &json!({"vectors": [[1.0], [1.0, 2.0]]}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let detail = reply.body["detail"].to_string().to_lowercase();
    assert!(
        detail.contains("vector") || detail.contains("dimension"),
        "{detail}"
    );
    // Nothing above reached the STM.
    let reply = server.get(&format!("/sessions/{id}/stm")).await;
    assert_eq!(reply.expect(200)["length"], 0);
    assert_eq!(
        server
            .get(&format!("/sessions/{id}/cognition-data"))
            .await
            .body["cognition_data"]["time"],
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_sequence_with_bad_fields() {
    let Some(server) = TestServer::start("observe_sequence_with_bad_fields").await else {
        return;
    };
    let id = server.create_session(&node("bad_sequence")).await;
    let path = format!("/sessions/{id}/observe-sequence");
    for (body, field) in [
        (json!({}), "observations"),
        (json!({"observations": null}), "observations"),
        (json!({"observations": "x"}), "observations"),
        (json!({"observations": [1]}), "observations"),
        (json!({"observations": [{"strings": 5}]}), "strings"),
        (
            json!({"observations": [{"strings": ["a"]}, {"emotives": {"e": null}}]}),
            "e",
        ),
        (json!({"observations": [{"unique_id": 5}]}), "unique_id"),
        (
            json!({"observations": [], "learn_after_each": "maybe"}),
            "learn_after_each",
        ),
        (
            json!({"observations": [], "learn_at_end": [true]}),
            "learn_at_end",
        ),
        (
            json!({"observations": [], "clear_stm_between": null}),
            "clear_stm_between",
        ),
    ] {
        let reply = server.post_json(&path, &body).await;
        assert_422_naming(&reply, field);
    }
    let reply = server
        .post_json(&path, &json!({"observations": [{"strings": [1]}]}))
        .await;
    let item = assert_422_naming(&reply, "strings");
    assert_eq!(
        item["loc"],
        json!(["body", "observations", 0, "strings", 0])
    );
    // A bad vector at index 1: 400, nothing of the sequence is kept.
    let reply = server
        .post_json(
            &path,
            &json!({"observations": [{"strings": ["a"]}, {"vectors": [[1.0], [1.0, 2.0]]}]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.text.contains('1'),
        "names the observation: {}",
        reply.text
    );
    assert_eq!(server.stm(&id).await, json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_with_bad_values() {
    let Some(server) = TestServer::start("config_with_bad_values").await else {
        return;
    };
    let id = server.create_session(&node("bad_config")).await;
    let path = format!("/sessions/{id}/config");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"recall_threshold": 5}), vec!["recall_threshold"]),
        (json!({"recall_threshold": -0.1}), vec!["recall_threshold"]),
        (
            json!({"recall_threshold": "high"}),
            vec!["recall_threshold"],
        ),
        (json!({"max_predictions": 0}), vec!["max_predictions"]),
        (json!({"max_predictions": 10001}), vec!["max_predictions"]),
        (json!({"max_predictions": 2.5}), vec!["max_predictions"]),
        (json!({"persistence": 101}), vec!["persistence"]),
        (json!({"persistence": 0}), vec!["persistence"]),
        (
            json!({"max_pattern_length": -1}),
            vec!["max_pattern_length"],
        ),
        (json!({"rank_sort_algo": "nope"}), vec!["rank_sort_algo"]),
        (json!({"indexer_type": "BTREE"}), vec!["indexer_type"]),
        (json!({"filter_pipeline": ["x"]}), vec!["filter_pipeline"]),
        (
            json!({"filter_pipeline": "length"}),
            vec!["filter_pipeline"],
        ),
        (json!({"sort_symbols": "yes"}), vec!["sort_symbols"]),
        (
            json!({"process_predictions": 3}),
            vec!["process_predictions"],
        ),
        (json!({"stm_mode": 5}), vec!["stm_mode"]),
        (
            json!({"fuzzy_token_threshold": 2}),
            vec!["fuzzy_token_threshold"],
        ),
        (json!({"minhash_rows": 0}), vec!["minhash_rows"]),
        // An unknown key next to a bad one: only the bad one is named.
        (
            json!({"no_such_key": 1, "minhash_rows": 0}),
            vec!["minhash_rows"],
        ),
        (
            json!({"recall_threshold": 5, "max_predictions": 0, "persistence": 101,
                   "rank_sort_algo": "nope", "filter_pipeline": ["x"]}),
            vec![
                "recall_threshold",
                "max_predictions",
                "persistence",
                "rank_sort_algo",
                "filter_pipeline",
            ],
        ),
        // The `{"config": {...}}` form is checked the same way.
        (
            json!({"config": {"recall_threshold": 5}}),
            vec!["recall_threshold"],
        ),
    ];
    for (body, keys) in &cases {
        let reply = server.post_json(&path, body).await;
        assert_config_errors(&reply, keys);
    }
    // A valid key next to an invalid one is not applied either.
    let reply = server
        .post_json(&path, &json!({"max_predictions": 3, "persistence": 101}))
        .await;
    assert_config_errors(&reply, &["persistence"]);
    let reply = server.get(&path).await;
    let config = &reply.expect(200)["config"];
    assert_eq!(config["max_predictions"], 100);
    assert_eq!(config["persistence"], 5);
    assert_eq!(config["recall_threshold"], 0.1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_with_bad_ttl() {
    let Some(server) = TestServer::start("extend_with_bad_ttl").await else {
        return;
    };
    let id = server.create_session(&node("bad_extend")).await;
    for ttl in ["abc", "-1", "0", "1.5", "99999999999999999999", ""] {
        let reply = server
            .post(&format!("/sessions/{id}/extend?ttl_seconds={ttl}"))
            .await;
        assert_eq!(reply.status, 422, "{ttl}: {}", reply.text);
        let item = &reply.body["detail"][0];
        assert_eq!(item["loc"][0], "query", "{ttl}: {}", reply.text);
        assert_eq!(
            item["loc"],
            json!(["query", "ttl_seconds"]),
            "{ttl}: {}",
            reply.text
        );
    }
    // The session is still there with its TTL.
    let reply = server.get(&format!("/sessions/{id}")).await;
    assert!(reply.expect(200)["ttl_seconds"].as_u64().unwrap() > 3000);
    server.stop().await;
}

/// FastAPI locates a bad query parameter at `["query", "<name>"]`; clients read `loc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_with_unparsable_ttl_locates_the_parameter() {
    let Some(server) = TestServer::start("extend_with_unparsable_ttl_locates_the_parameter").await
    else {
        return;
    };
    let id = server.create_session(&node("bad_extend_loc")).await;
    for ttl in ["abc", "-1", "1.5"] {
        let reply = server
            .post(&format!("/sessions/{id}/extend?ttl_seconds={ttl}"))
            .await;
        let item = assert_422_naming(&reply, "ttl_seconds");
        assert_eq!(item["loc"], json!(["query", "ttl_seconds"]), "{ttl}");
    }
    server.stop().await;
}

/// Node-scoped routes take a node id of any characters from the query or either header and
/// answer with the reference's kb id; only a node id over `KATO_MAX_NODE_ID_BYTES` is refused,
/// a 422 at the parameter it came in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ids_of_any_characters_and_over_the_limit() {
    let Some(server) =
        TestServer::start_with("node_ids_of_any_characters_and_over_the_limit", |args| {
            args.max_node_id_bytes = 40;
        })
        .await
    else {
        return;
    };
    let long = "n".repeat(41);
    for path in [
        "/symbols/stats",
        "/symbols/affinity",
        "/symbols/a/affinity",
        "/pattern/abc",
    ] {
        for (encoded, kb) in [
            ("user%40example", "user@example_kato"),
            ("caf%C3%A9", "café_kato"),
            ("%7Bother%7D", "{other}_kato"),
        ] {
            let reply = server.get(&format!("{path}?node_id={encoded}")).await;
            assert_eq!(reply.expect(200)["node_id"], kb, "{path}: {}", reply.text);
        }
        let reply = server.get(&format!("{path}?node_id={long}")).await;
        let item = assert_422_naming(&reply, "node_id");
        assert_eq!(item["loc"], json!(["query", "node_id"]), "{path}");
        for (header, value, kb) in [
            ("x-node-id", "user@example", "user@example_kato"),
            ("x-test-id", "a@b", "test_a@b_kato"),
        ] {
            let request = server.client.get(server.url(path));
            let reply = server.send(request.header(header, value)).await;
            assert_eq!(reply.expect(200)["node_id"], kb, "{path}: {}", reply.text);
            let request = server.client.get(server.url(path));
            let reply = server.send(request.header(header, long.as_str())).await;
            assert_422_naming(&reply, header);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    let Some(server) = TestServer::start_with("bodies_over_the_limit_are_413", |args| {
        args.max_body_bytes = 1024;
    })
    .await
    else {
        return;
    };
    let id = server.create_session(&node("too_big")).await;
    let big = "x".repeat(2000);
    for path in [
        "/sessions".to_owned(),
        format!("/sessions/{id}/observe"),
        format!("/sessions/{id}/observe-sequence"),
        format!("/sessions/{id}/config"),
    ] {
        let reply = server
            .post_json(&path, &json!({"node_id": big, "strings": [big]}))
            .await;
        assert_eq!(reply.status, 413, "{path}: {}", reply.text);
        let detail = reply.body["detail"].as_str().expect("detail");
        assert!(detail.contains("1024"), "{detail}");
    }
    // Just under the limit is fine.
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["y".repeat(900)]}),
        )
        .await;
    reply.expect(200);
    assert_eq!(server.stm(&id).await[0][0].as_str().unwrap().len(), 900);
    // An unknown session with a big body: the session check comes first.
    let reply = server
        .post_json("/sessions/nope/observe", &json!({"strings": [big]}))
        .await;
    crate::support::assert_session_not_found(&reply, "nope");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_symbols_are_ordinary_symbols() {
    let Some(server) = TestServer::start("odd_symbols_are_ordinary_symbols").await else {
        return;
    };
    let node = node("odd_symbols");
    let id = server.create_session(&node).await;
    // As long as KATO_MAX_SYMBOL_BYTES allows (4096 by default); longer is a 422.
    let huge = "h".repeat(4096);
    let odd = [
        "",
        huge.as_str(),
        "日本語",
        "🎉 party",
        "it's \"quoted\"",
        "back\\slash",
        "new\nline",
        "tab\there",
        "PTRN|fake",
        "VCTR|fake",
        "'; DROP TABLE patterns; --",
    ];
    for symbol in odd {
        let reply = server
            .post_json(
                &format!("/sessions/{id}/observe"),
                &json!({"strings": [symbol]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{:.80}: {:.200}", symbol, reply.text);
    }
    let stm = server.stm(&id).await;
    let expected: Vec<Value> = odd.iter().map(|s| json!([s])).collect();
    assert_eq!(stm, Value::Array(expected));
    let name = server.learn(&id).await;
    assert!(name.starts_with("PTRN|"), "{name}");
    let reply = server
        .get(&format!(
            "/pattern/{}?node_id={node}",
            name.replace('|', "%7C")
        ))
        .await;
    let pattern = &reply.expect(200)["pattern"]["pattern"];
    assert_eq!(pattern["pattern_data"], stm);
    assert_eq!(pattern["length"], odd.len());
    // Predictions over the same symbols work.
    server.observe_all(&id, &[&["日本語"], &["🎉 party"]]).await;
    let body = server.predictions(&id).await;
    assert_eq!(body["count"], 1, "{:.500}", body.to_string());
    // Symbol routes take them URL-encoded.
    let reply = server
        .get(&format!(
            "/symbols/%E6%97%A5%E6%9C%AC%E8%AA%9E/affinity?node_id={node}"
        ))
        .await;
    assert_eq!(reply.expect(200)["symbol"], "日本語");
    let reply = server.get(&format!("/symbols/stats?node_id={node}")).await;
    let symbols = &reply.expect(200)["symbols"];
    assert_eq!(symbols["'; DROP TABLE patterns; --"]["frequency"], 1);
    assert_eq!(symbols[""]["frequency"], 1);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored_and_coercions_accepted() {
    let Some(server) = TestServer::start("unknown_fields_are_ignored_and_coercions_accepted").await
    else {
        return;
    };
    let id = server.create_session(&node("lenient")).await;
    let body = server
        .observe_json(
            &id,
            &json!({"strings": ["a"], "unique_id": "client-chosen", "extra": {"x": 1}}),
        )
        .await;
    // observe assigns its own id.
    assert!(
        body["unique_id"].as_str().unwrap().starts_with("obs-"),
        "{body}"
    );
    // Emotives as pydantic coerces them: ints, booleans, numeric strings.
    server
        .observe_json(
            &id,
            &json!({"strings": ["b"], "emotives": {"i": 2, "b": false, "s": " 1.5 ", "e": "1e-3"}}),
        )
        .await;
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    assert_eq!(
        reply.expect(200)["percept_data"]["emotives"],
        json!({"b": 0.0, "e": 0.001, "i": 2.0, "s": 1.5})
    );
    // Vector elements as integers are floats.
    server
        .observe_json(&id, &json!({"vectors": [[1, 0, 0, 0]]}))
        .await;
    assert_eq!(
        server.stm(&id).await[2],
        json!(["VCTR|2fb865b4597f2549eff7585cc6d16cc1fea9b5b5"])
    );
    server.stop().await;
}

/// The reference's pydantic models run in lax mode: an `int` field takes `"120"` and
/// `120.0`, a `bool` field takes `"true"`, `1`, `"yes"`; so do these.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pydantic_lax_coercions_of_ints_and_bools() {
    let Some(server) = TestServer::start("pydantic_lax_coercions_of_ints_and_bools").await else {
        return;
    };
    let node = node("lax");
    for ttl in [json!("120"), json!(120.0)] {
        let reply = server
            .post_json("/sessions", &json!({"node_id": node, "ttl_seconds": ttl}))
            .await;
        assert_eq!(reply.expect(200)["ttl_seconds"], 120, "{ttl}");
    }
    let id = server.create_session(&node).await;
    for flag in [json!("true"), json!(1), json!("yes")] {
        let reply = server
            .post_json(
                &format!("/sessions/{id}/observe-sequence"),
                &json!({"observations": [{"strings": ["a", "b"]}], "learn_at_end": flag}),
            )
            .await;
        assert_eq!(
            reply.expect(200)["final_learned_pattern"],
            "PTRN|395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4",
            "{flag}"
        );
    }
    server.clear_all(&id).await;
    server.stop().await;
}

/// Values that would break a store later are refused at the door: emotives beyond
/// ±1e12 (affinity sums must stay finite), request lists over the per-request limit, and path
/// segments that do not decode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_undecodable_paths() {
    let Some(server) = TestServer::start("limits_and_undecodable_paths").await else {
        return;
    };
    let id = server.create_session(&node("limits")).await;
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["a"], "emotives": {"joy": 1e308}}),
        )
        .await;
    let item = assert_422_naming(&reply, "emotives");
    assert_eq!(item["loc"], json!(["body", "emotives"]));
    assert_eq!(server.stm(&id).await, json!([]), "nothing was observed");

    let observations: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe-sequence"),
            &json!({ "observations": observations }),
        )
        .await;
    let item = assert_422_naming(&reply, "observations");
    assert!(
        item["msg"].as_str().unwrap().contains("10000"),
        "{}",
        reply.text
    );
    let sequences: Vec<Value> = (0..10_001).map(|_| json!([["a", "b"]])).collect();
    let reply = server
        .post_json(
            &format!("/sessions/{id}/learn-sequences"),
            &json!({ "sequences": sequences }),
        )
        .await;
    assert_422_naming(&reply, "sequences");

    let reply = server.get("/pattern/%FF").await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["path"]));

    // An empty session id names no session (it once reached Redis as an empty hash tag).
    for path in [
        "/sessions//learn",
        "/sessions//observe",
        "/sessions//predictions",
    ] {
        let reply = if path.ends_with("predictions") {
            server.get(path).await
        } else {
            server.post_json(path, &json!({"strings": ["a"]})).await
        };
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert_eq!(reply.body["error"]["code"], "SESSION_NOT_FOUND", "{path}");
    }
    server.stop().await;
}

/// Each request limit answers 422 at the offending field with a message naming its variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_name_their_variable() {
    let Some(server) = TestServer::start_with("configured_limits_name_their_variable", |args| {
        args.max_symbols_per_event = 3;
        args.max_symbol_bytes = 8;
        args.max_node_id_bytes = 40;
    })
    .await
    else {
        return;
    };
    let id = server.create_session(&node("limits2")).await;
    let check = |reply: &Reply, loc: Value, variable: &str| {
        assert_eq!(reply.status, 422, "{}", reply.text);
        let item = &reply.body["detail"][0];
        assert_eq!(item["loc"], loc, "{}", reply.text);
        assert!(
            item["msg"].as_str().unwrap().contains(variable),
            "{}",
            reply.text
        );
    };
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["a", "b", "c", "d"]}),
        )
        .await;
    check(
        &reply,
        json!(["body", "strings"]),
        "KATO_MAX_SYMBOLS_PER_EVENT",
    );
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["ok", "123456789"]}),
        )
        .await;
    check(
        &reply,
        json!(["body", "strings", 1]),
        "KATO_MAX_SYMBOL_BYTES",
    );
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe-sequence"),
            &json!({"observations": [{"strings": ["a"]}, {"strings": ["a", "b", "c", "d"]}]}),
        )
        .await;
    check(
        &reply,
        json!(["body", "observations", 1, "strings"]),
        "KATO_MAX_SYMBOLS_PER_EVENT",
    );
    let reply = server
        .post_json(
            &format!("/sessions/{id}/learn-sequences"),
            &json!({"sequences": [[["a"], ["123456789"]]]}),
        )
        .await;
    check(
        &reply,
        json!(["body", "sequences", 0, 1, 0]),
        "KATO_MAX_SYMBOL_BYTES",
    );
    let long_node = "n".repeat(41);
    let reply = server
        .post_json("/sessions", &json!({"node_id": long_node}))
        .await;
    check(&reply, json!(["body", "node_id"]), "KATO_MAX_NODE_ID_BYTES");
    let reply = server
        .get(&format!("/symbols/stats?node_id={long_node}"))
        .await;
    check(
        &reply,
        json!(["query", "node_id"]),
        "KATO_MAX_NODE_ID_BYTES",
    );
    // Nothing was observed by the refused requests.
    assert_eq!(server.stm(&id).await, json!([]));
    server.stop().await;
}

/// The STM window slides at `KATO_MAX_STM_EVENTS`; a change that would store a session over
/// `KATO_MAX_SESSION_BYTES` is refused by name and leaves the session as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stm_window_and_the_session_size_are_configured_limits() {
    let Some(server) = TestServer::start_with(
        "the_stm_window_and_the_session_size_are_configured_limits",
        |args| {
            args.max_stm_events = 3;
            args.max_session_bytes = 4_000;
        },
    )
    .await
    else {
        return;
    };
    let id = server.create_session(&node("window")).await;
    for symbol in ["a", "b", "c", "d", "e"] {
        let reply = server
            .post_json(
                &format!("/sessions/{id}/observe"),
                &json!({"strings": [symbol]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(server.stm(&id).await, json!([["c"], ["d"], ["e"]]));

    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["f"], "metadata": {"blob": "x".repeat(5_000)}}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let item = &reply.body["detail"][0];
    assert_eq!(item["loc"], json!(["body"]), "{}", reply.text);
    assert!(
        item["msg"]
            .as_str()
            .unwrap()
            .contains("KATO_MAX_SESSION_BYTES"),
        "{}",
        reply.text
    );
    assert_eq!(
        server.stm(&id).await,
        json!([["c"], ["d"], ["e"]]),
        "the refused observe left the session as it was"
    );
    // The lock was released: the session takes the next change at once.
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["f"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(server.stm(&id).await, json!([["d"], ["e"], ["f"]]));
    server.stop().await;
}
