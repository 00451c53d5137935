//! The session lifecycle and configuration (spec `api-and-storage.md` sections 1.1 and 1.3,
//! 6.1), and the session middleware's 404 on every session route.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestServer, assert_session_not_found, node};

/// The effective configuration keys in the reference's order (fuzzy_token_threshold and
/// affinity_emotive only appear when set).
const DEFAULT_CONFIG_KEYS: [&str; 22] = [
    "max_pattern_length",
    "persistence",
    "recall_threshold",
    "stm_mode",
    "indexer_type",
    "max_predictions",
    "sort_symbols",
    "process_predictions",
    "use_token_matching",
    "rank_sort_algo",
    "filter_pipeline",
    "length_min_ratio",
    "length_max_ratio",
    "jaccard_threshold",
    "jaccard_min_overlap",
    "minhash_threshold",
    "minhash_bands",
    "minhash_rows",
    "minhash_num_hashes",
    "bloom_false_positive_rate",
    "max_candidates_per_stage",
    "enable_filter_metrics",
];

/// A session id of the server's shape that no session has.
fn unknown_session_id() -> String {
    format!("session-{}-1700000000000", "0".repeat(32))
}

fn is_iso_utc(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.len() >= 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_answers_the_session_response() {
    let Some(server) = TestServer::start("create_session_answers_the_session_response").await
    else {
        return;
    };
    let node = node("create");
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node, "metadata": {"user": "u1", "n": 2}, "ttl_seconds": 120}),
        )
        .await;
    let body = reply.expect(200);
    let id = body["session_id"].as_str().expect("session_id");
    let parts: Vec<&str> = id.splitn(3, '-').collect();
    assert_eq!(parts[0], "session", "{id}");
    assert_eq!(parts[1].len(), 32, "{id}");
    assert!(parts[1].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert!(parts[2].parse::<u64>().is_ok(), "{id}");
    assert_eq!(body["node_id"], node.as_str());
    assert!(is_iso_utc(&body["created_at"]), "{body}");
    assert!(is_iso_utc(&body["expires_at"]), "{body}");
    assert!(body["created_at"].as_str() < body["expires_at"].as_str());
    assert_eq!(body["ttl_seconds"], 120);
    assert_eq!(body["metadata"], json!({"user": "u1", "n": 2}));
    let config = body["session_config"].as_object().expect("session_config");
    let keys: Vec<&str> = config.keys().map(String::as_str).collect();
    assert_eq!(
        keys, DEFAULT_CONFIG_KEYS,
        "the reference's keys in its order"
    );
    let expected = json!({
        "max_pattern_length": 0, "persistence": 5, "recall_threshold": 0.1, "stm_mode": "CLEAR",
        "indexer_type": "VI", "max_predictions": 100, "sort_symbols": true,
        "process_predictions": true, "use_token_matching": true, "rank_sort_algo": "potential",
        "filter_pipeline": [], "length_min_ratio": 0.5, "length_max_ratio": 2.0,
        "jaccard_threshold": 0.3, "jaccard_min_overlap": 2, "minhash_threshold": 0.7,
        "minhash_bands": 20, "minhash_rows": 5, "minhash_num_hashes": 100,
        "bloom_false_positive_rate": 0.01, "max_candidates_per_stage": 100000,
        "enable_filter_metrics": true,
    });
    assert_eq!(Value::Object(config.clone()), expected);

    // Without metadata or TTL: `{}` and the default 3600.
    let reply = server
        .post_json("/sessions", &json!({"node_id": node}))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["ttl_seconds"], 3600);
    assert_eq!(body["metadata"], json!({}));
    // ttl_seconds 0 is the default too.
    let reply = server
        .post_json("/sessions", &json!({"node_id": node, "ttl_seconds": 0}))
        .await;
    assert_eq!(reply.expect(200)["ttl_seconds"], 3600);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_applies_config_overrides() {
    let Some(server) = TestServer::start("create_session_applies_config_overrides").await else {
        return;
    };
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node("create_cfg"), "config": {
                "max_pattern_length": 4, "recall_threshold": 0.5, "stm_mode": "ROLLING",
                "fuzzy_token_threshold": 0.8, "affinity_emotive": "joy",
            }}),
        )
        .await;
    let body = reply.expect(200);
    let config = &body["session_config"];
    assert_eq!(config["max_pattern_length"], 4);
    assert_eq!(config["recall_threshold"], 0.5);
    assert_eq!(config["stm_mode"], "ROLLING");
    assert_eq!(config["fuzzy_token_threshold"], 0.8);
    assert_eq!(config["affinity_emotive"], "joy");
    assert_eq!(config["persistence"], 5);
    let id = body["session_id"].as_str().unwrap();
    let reply = server.get(&format!("/sessions/{id}/config")).await;
    let read = reply.expect(200);
    assert_eq!(read["session_id"], id);
    assert_eq!(&read["config"], config);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_get_exists_and_delete() {
    let Some(server) = TestServer::start("count_get_exists_and_delete").await else {
        return;
    };
    let node = node("lifecycle");
    let id = server.create_session(&node).await;

    let reply = server.get("/sessions/count").await;
    let count = reply.expect(200)["active_session_count"]
        .as_u64()
        .expect("an integer count");
    assert!(count >= 1, "{count}");

    let reply = server.get(&format!("/sessions/{id}")).await;
    let body = reply.expect(200);
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["node_id"], node.as_str());
    let ttl = body["ttl_seconds"].as_u64().expect("ttl_seconds");
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    assert!(is_iso_utc(&body["expires_at"]));
    assert!(body["session_config"].is_object());

    let reply = server.get(&format!("/sessions/{id}/exists")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"exists": true, "expired": false, "session_id": id})
    );

    let reply = server.delete(&format!("/sessions/{id}")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "deleted", "session_id": id})
    );
    assert_eq!(reply.header("x-session-id"), Some(id.as_str()));

    let reply = server.get(&format!("/sessions/{id}")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.body,
        json!({"detail": format!("Session {id} not found or expired")})
    );
    let reply = server.get(&format!("/sessions/{id}/exists")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"exists": false, "expired": false, "session_id": id})
    );
    // A second delete meets the middleware.
    let reply = server.delete(&format!("/sessions/{id}")).await;
    assert_session_not_found(&reply, &id);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_session_keeps_its_patterns() {
    let Some(server) = TestServer::start("deleting_a_session_keeps_its_patterns").await else {
        return;
    };
    let node = node("delete_keeps");
    let id = server.create_session(&node).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let name = server.learn(&id).await;
    server.delete(&format!("/sessions/{id}")).await.expect(200);
    let reply = server
        .get(&format!(
            "/pattern/{}?node_id={node}",
            name.replace('|', "%7C")
        ))
        .await;
    assert_eq!(reply.expect(200)["pattern"]["status"], "okay");
    let other = server.create_session(&node).await;
    server.clear_all(&other).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires_with_its_ttl() {
    let Some(server) = TestServer::start("a_session_expires_with_its_ttl").await else {
        return;
    };
    let reply = server
        .post_json(
            "/sessions",
            &json!({"node_id": node("expiry"), "ttl_seconds": 1}),
        )
        .await;
    let id = reply.expect(200)["session_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let reply = server.get(&format!("/sessions/{id}")).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    // Expiry is Redis's TTL here: an expired session simply no longer exists.
    let reply = server.get(&format!("/sessions/{id}/exists")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"exists": false, "expired": false, "session_id": id})
    );
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["a"]}),
        )
        .await;
    assert_session_not_found(&reply, &id);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_sets_the_ttl() {
    let Some(server) = TestServer::start("extend_sets_the_ttl").await else {
        return;
    };
    let id = server.create_session(&node("extend")).await;
    let reply = server
        .post(&format!("/sessions/{id}/extend?ttl_seconds=120"))
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "extended", "session_id": id, "ttl_seconds": 120})
    );
    assert_eq!(reply.header("x-session-id"), Some(id.as_str()));
    let reply = server.post(&format!("/sessions/{id}/extend")).await;
    assert_eq!(reply.expect(200)["ttl_seconds"], 3600, "the default");

    // A short extension really expires the session (no request slides it meanwhile).
    let reply = server
        .post(&format!("/sessions/{id}/extend?ttl_seconds=1"))
        .await;
    assert_eq!(reply.expect(200)["ttl_seconds"], 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let reply = server.get(&format!("/sessions/{id}/exists")).await;
    assert_eq!(reply.expect(200)["exists"], false);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_update_and_read_back() {
    let Some(server) = TestServer::start("config_update_and_read_back").await else {
        return;
    };
    let id = server.create_session(&node("config")).await;
    let reply = server
        .post_json(
            &format!("/sessions/{id}/config"),
            &json!({"recall_threshold": 0.4, "max_predictions": 7}),
        )
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "okay", "message": "Configuration updated", "session_id": id})
    );
    assert_eq!(reply.header("x-session-id"), Some(id.as_str()));
    // The `{"config": {...}}` form.
    server
        .set_config(
            &id,
            json!({"config": {"persistence": 9, "stm_mode": "ROLLING"}}),
        )
        .await;
    // use_token_matching leaves sort_symbols alone (the reference toggles it, but its observe
    // ignores the session's sort_symbols; here observe honours it, so toggling would change
    // pattern names); an unknown stm_mode is CLEAR.
    server
        .set_config(
            &id,
            json!({"use_token_matching": false, "stm_mode": "weird"}),
        )
        .await;
    let reply = server.get(&format!("/sessions/{id}/config")).await;
    let config = &reply.expect(200)["config"];
    assert_eq!(config["recall_threshold"], 0.4);
    assert_eq!(config["max_predictions"], 7);
    assert_eq!(config["persistence"], 9);
    assert_eq!(config["stm_mode"], "CLEAR");
    assert_eq!(config["use_token_matching"], false);
    assert_eq!(config["sort_symbols"], true);
    server
        .set_config(
            &id,
            json!({"use_token_matching": true, "sort_symbols": false}),
        )
        .await;
    // `null` removes an override: back to the default.
    server
        .set_config(&id, json!({"recall_threshold": null}))
        .await;
    let reply = server.get(&format!("/sessions/{id}/config")).await;
    let config = &reply.expect(200)["config"];
    assert_eq!(config["use_token_matching"], true);
    assert_eq!(config["sort_symbols"], false);
    assert_eq!(config["recall_threshold"], 0.1);
    // The session description shows the same.
    let reply = server.get(&format!("/sessions/{id}")).await;
    assert_eq!(&reply.expect(200)["session_config"], config);

    // An unknown key is ignored, as the reference ignores it; the known one applies.
    let reply = server
        .post_json(
            &format!("/sessions/{id}/config"),
            &json!({"max_predictions": 3, "no_such_key": 1}),
        )
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "okay", "message": "Configuration updated", "session_id": id})
    );
    let reply = server.get(&format!("/sessions/{id}/config")).await;
    assert_eq!(reply.expect(200)["config"]["max_predictions"], 3);
    assert!(
        reply.body["config"].get("no_such_key").is_none(),
        "{}",
        reply.text
    );
    server.set_config(&id, json!({"max_predictions": 7})).await;
    let reply = server.get(&format!("/sessions/{id}/config")).await;
    assert_eq!(reply.expect(200)["config"]["max_predictions"], 7);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_route_answers_the_middleware_404_for_an_unknown_session() {
    let Some(server) =
        TestServer::start("every_session_route_answers_the_middleware_404_for_an_unknown_session")
            .await
    else {
        return;
    };
    use reqwest::Method;
    for id in [unknown_session_id(), "nope".to_owned()] {
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::DELETE, format!("/sessions/{id}"), None),
            (
                Method::POST,
                format!("/sessions/{id}/extend?ttl_seconds=10"),
                None,
            ),
            (Method::GET, format!("/sessions/{id}/config"), None),
            (
                Method::POST,
                format!("/sessions/{id}/config"),
                Some(json!({"recall_threshold": 0.2})),
            ),
            (
                Method::POST,
                format!("/sessions/{id}/observe"),
                Some(json!({"strings": ["a"]})),
            ),
            // An invalid body: the 404 still wins.
            (
                Method::POST,
                format!("/sessions/{id}/observe"),
                Some(json!({"strings": "not a list", "emotives": null})),
            ),
            (
                Method::POST,
                format!("/sessions/{id}/observe-sequence"),
                Some(json!({"observations": []})),
            ),
            (
                Method::POST,
                format!("/sessions/{id}/observe-sequence"),
                Some(json!(42)),
            ),
            (Method::GET, format!("/sessions/{id}/stm"), None),
            (Method::POST, format!("/sessions/{id}/learn"), None),
            (Method::POST, format!("/sessions/{id}/clear-stm"), None),
            (Method::POST, format!("/sessions/{id}/clear-all"), None),
            (Method::GET, format!("/sessions/{id}/predictions"), None),
            (Method::GET, format!("/sessions/{id}/percept-data"), None),
            (Method::GET, format!("/sessions/{id}/cognition-data"), None),
            (
                Method::POST,
                format!("/sessions/{id}/finalize-training"),
                None,
            ),
        ];
        for (method, path, body) in routes {
            let mut request = server.client.request(method.clone(), server.url(&path));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let reply = server.send(request).await;
            assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
            assert_session_not_found(&reply, &id);
        }
        // The exempt routes answer themselves.
        let reply = server.get(&format!("/sessions/{id}")).await;
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.body,
            json!({"detail": format!("Session {id} not found or expired")})
        );
        let reply = server.get(&format!("/sessions/{id}/exists")).await;
        assert_eq!(reply.expect(200)["exists"], false);
    }
    // The reference's quirk: `/sessions/test/...` treats `test` as a session id.
    let reply = server.get("/sessions/test/something").await;
    assert_session_not_found(&reply, "test");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_routes_carry_x_session_id() {
    let Some(server) = TestServer::start("session_routes_carry_x_session_id").await else {
        return;
    };
    let id = server.create_session(&node("xsid")).await;
    let observe = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["a"]}),
        )
        .await;
    assert_eq!(observe.header("x-session-id"), Some(id.as_str()));
    for path in [
        "stm",
        "predictions",
        "percept-data",
        "cognition-data",
        "config",
    ] {
        let reply = server.get(&format!("/sessions/{id}/{path}")).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("x-session-id"), Some(id.as_str()), "{path}");
    }
    for path in ["clear-stm", "finalize-training"] {
        let reply = server.post(&format!("/sessions/{id}/{path}")).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("x-session-id"), Some(id.as_str()), "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_one_node_share_patterns_and_other_nodes_do_not() {
    let Some(server) =
        TestServer::start("sessions_of_one_node_share_patterns_and_other_nodes_do_not").await
    else {
        return;
    };
    let shared = node("iso_shared");
    let other = node("iso_other");
    let a = server.create_session(&shared).await;
    let b = server.create_session(&shared).await;
    let c = server.create_session(&other).await;
    server.observe_all(&a, &[&["p"], &["q"], &["r"]]).await;
    server.learn(&a).await;
    // STMs are per session: a's observations are not in b's or c's.
    server.observe(&b, &["p"]).await;
    assert_eq!(server.stm(&b).await, json!([["p"]]));
    assert_eq!(server.stm(&a).await, json!([]));
    server.observe(&b, &["q"]).await;
    server.observe_all(&c, &[&["p"], &["q"]]).await;
    let same = server.predictions(&b).await;
    assert_eq!(same["count"], 1, "{same}");
    let elsewhere = server.predictions(&c).await;
    assert_eq!(elsewhere["predictions"], json!([]), "{elsewhere}");
    assert_eq!(elsewhere["count"], 0);
    server.clear_all(&a).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_slide_the_ttl_and_exists_does_not() {
    let Some(server) = TestServer::start("requests_slide_the_ttl_and_exists_does_not").await else {
        return;
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let reply = server
            .post_json(
                "/sessions",
                &json!({"node_id": node("sliding"), "ttl_seconds": 2}),
            )
            .await;
        ids.push(reply.expect(200)["session_id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    server.observe(&ids[0], &["a"]).await;
    let reply = server.get(&format!("/sessions/{}/exists", ids[1])).await;
    assert_eq!(reply.expect(200)["exists"], true);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let reply = server.get(&format!("/sessions/{}/exists", ids[0])).await;
    assert_eq!(
        reply.expect(200)["exists"],
        true,
        "the observe slid the TTL"
    );
    let reply = server.get(&format!("/sessions/{}/exists", ids[1])).await;
    assert_eq!(
        reply.expect(200)["exists"],
        false,
        "exists did not slide it"
    );
    assert_eq!(server.stm(&ids[0]).await, json!([["a"]]));
    server.stop().await;
}
