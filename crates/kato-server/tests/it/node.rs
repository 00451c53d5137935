//! Node-scoped reads (spec `api-and-storage.md` section 1.4): `/pattern/{id}`, the symbol
//! routes, and how they pick the node (query `node_id`, header `x-test-id` with the `test_`
//! rule, header `x-node-id`, then `default_node`).

use serde_json::json;

use crate::support::{Reply, TestServer, kb_of, node};

const AB_C: &str = "PTRN|e9e43f2309079f2843665ab773996d99489306d6";
const AB_C_HEX: &str = "e9e43f2309079f2843665ab773996d99489306d6";

async fn get_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = server.client.get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    server.send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_by_id_with_and_without_the_prefix() {
    let Some(server) = TestServer::start("pattern_by_id_with_and_without_the_prefix").await else {
        return;
    };
    let node = node("pattern");
    let kb = kb_of(&node);
    let id = server.create_session(&node).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["b", "a"], "emotives": {"joy": 1}, "metadata": {"k": "v"}}),
        )
        .await;
    server.observe(&id, &["c"]).await;
    assert_eq!(server.learn(&id).await, AB_C);

    let expected = json!({
        "pattern": {
            "status": "okay",
            "pattern": {
                "name": AB_C,
                "pattern_data": [["a", "b"], ["c"]],
                "length": 3,
                "frequency": 1,
                "emotives": [{"joy": 1.0}],
                "metadata": {"k": ["v"]},
            },
        },
        "node_id": kb,
    });
    for id_form in [
        format!("PTRN%7C{AB_C_HEX}"),
        format!("PTRN%7c{AB_C_HEX}"),
        AB_C_HEX.to_owned(),
    ] {
        let reply = server
            .get(&format!("/pattern/{id_form}?node_id={node}"))
            .await;
        assert_eq!(reply.expect(200), &expected, "{id_form}");
    }

    // Unknown or malformed ids: 200 with status "error".
    for unknown in [
        "0".repeat(40),
        format!("PTRN%7C{}", "f".repeat(40)),
        "not-a-pattern".to_owned(),
    ] {
        let reply = server
            .get(&format!("/pattern/{unknown}?node_id={node}"))
            .await;
        let body = reply.expect(200);
        assert_eq!(body["pattern"]["status"], "error", "{body}");
        let message = body["pattern"]["message"].as_str().expect("message");
        assert!(
            message.starts_with("Pattern ") && message.ends_with(" not found"),
            "{message}"
        );
        assert_eq!(body["node_id"], kb.as_str());
    }
    // Another node does not see it.
    let reply = server
        .get(&format!(
            "/pattern/{AB_C_HEX}?node_id={}",
            crate::support::node("other")
        ))
        .await;
    assert_eq!(reply.expect(200)["pattern"]["status"], "error");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbol_stats_and_affinities() {
    let Some(server) = TestServer::start("symbol_stats_and_affinities").await else {
        return;
    };
    let node = node("symbols");
    let kb = kb_of(&node);
    let id = server.create_session(&node).await;
    // [[x],[y]] twice with emotives, [[x],[z]] once without.
    for _ in 0..2 {
        server
            .observe_json(&id, &json!({"strings": ["x"], "emotives": {"joy": 1.0}}))
            .await;
        server
            .observe_json(&id, &json!({"strings": ["y"], "emotives": {"joy": 0.5}}))
            .await;
        server.learn(&id).await;
    }
    server.observe_all(&id, &[&["x"], &["z"]]).await;
    server.learn(&id).await;

    let reply = server.get(&format!("/symbols/stats?node_id={node}")).await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "symbols": {
                "x": {"name": "x", "frequency": 3, "pattern_member_frequency": 2},
                "y": {"name": "y", "frequency": 2, "pattern_member_frequency": 1},
                "z": {"name": "z", "frequency": 1, "pattern_member_frequency": 1},
            },
            "node_id": kb,
        })
    );

    // Affinity accumulates the mean (0.75) on every learn, re-learns included.
    let reply = server
        .get(&format!("/symbols/affinity?node_id={node}"))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["node_id"], kb.as_str());
    let affinities = &body["affinities"];
    crate::support::assert_close(&affinities["x"], "joy", 1.5);
    crate::support::assert_close(&affinities["y"], "joy", 1.5);
    assert!(
        affinities.get("z").is_none_or(|z| z == &json!({})),
        "{body}"
    );

    let reply = server
        .get(&format!("/symbols/x/affinity?node_id={node}"))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["symbol"], "x");
    assert_eq!(body["node_id"], kb.as_str());
    crate::support::assert_close(&body["affinity"], "joy", 1.5);
    let reply = server
        .get(&format!("/symbols/nothing/affinity?node_id={node}"))
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"symbol": "nothing", "affinity": {}, "node_id": kb})
    );
    // A symbol with characters that need encoding.
    let reply = server
        .get(&format!("/symbols/VCTR%7Cab%20c/affinity?node_id={node}"))
        .await;
    assert_eq!(reply.expect(200)["symbol"], "VCTR|ab c");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_is_resolved_in_the_reference_order() {
    let Some(server) = TestServer::start("the_node_is_resolved_in_the_reference_order").await
    else {
        return;
    };
    // `node` starts with `test_`, as unique_kb_id guarantees.
    let node = node("resolve");
    let other = crate::support::node("resolve_other");
    let kb = kb_of(&node);
    let id = server.create_session(&node).await;
    server.observe_all(&id, &[&["b", "a"], &["c"]]).await;
    server.learn(&id).await;

    let without_prefix = node.strip_prefix("test_").expect("test_ prefix");
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Case<'_>> = vec![
        // Query first, whatever the headers say.
        (
            format!("?node_id={node}"),
            vec![("x-test-id", other.as_str()), ("x-node-id", other.as_str())],
            kb.clone(),
        ),
        // Then x-test-id, with or without the prefix.
        (
            String::new(),
            vec![("x-test-id", node.as_str()), ("x-node-id", other.as_str())],
            kb.clone(),
        ),
        (
            String::new(),
            vec![("x-test-id", without_prefix)],
            kb.clone(),
        ),
        // Then x-node-id.
        (
            String::new(),
            vec![("x-node-id", node.as_str())],
            kb.clone(),
        ),
    ];
    for (query, headers, expected_kb) in &cases {
        let reply = get_with(&server, &format!("/pattern/{AB_C_HEX}{query}"), headers).await;
        let body = reply.expect(200);
        assert_eq!(body["node_id"], expected_kb.as_str(), "{query} {headers:?}");
        assert_eq!(body["pattern"]["status"], "okay", "{query} {headers:?}");
        let reply = get_with(&server, &format!("/symbols/stats{query}"), headers).await;
        let body = reply.expect(200);
        assert_eq!(body["node_id"], expected_kb.as_str(), "{query} {headers:?}");
        assert_eq!(
            body["symbols"]["a"]["frequency"], 1,
            "{query} {headers:?}: {body}"
        );
        let reply = get_with(&server, &format!("/symbols/affinity{query}"), headers).await;
        assert_eq!(reply.expect(200)["node_id"], expected_kb.as_str());
        let reply = get_with(&server, &format!("/symbols/a/affinity{query}"), headers).await;
        assert_eq!(reply.expect(200)["node_id"], expected_kb.as_str());
    }
    // x-test-id without the prefix names `test_<value>`, a different node from `<value>`.
    let reply = get_with(&server, "/symbols/stats", &[("x-node-id", without_prefix)]).await;
    let body = reply.expect(200);
    assert_eq!(body["node_id"], format!("{without_prefix}_kato"));
    assert_eq!(body["symbols"], json!({}));
    // Nothing given: default_node.
    let reply = server.get(&format!("/pattern/{AB_C_HEX}")).await;
    assert_eq!(reply.expect(200)["node_id"], "default_node_kato");
    let reply = server.get("/symbols/stats").await;
    assert_eq!(reply.expect(200)["node_id"], "default_node_kato");
    server.clear_all(&id).await;
    server.stop().await;
}
