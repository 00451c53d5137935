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

/// Node ids of every character class the reference accepts get the reference's kb ids and
/// stay apart in both stores: brackets and pytest-style ids, glob and brace characters,
/// non-ASCII, punctuation, control characters, the empty id, a 300-character id (the MD5 cut),
/// and raw forms that an escaping must keep apart (`%41` against `A`, `%7B` against `{`).
/// Each kb sees only its own patterns, symbols and counters; clear-all of one leaves the
/// others intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_id_is_a_kb_of_its_own() {
    let Some(server) = TestServer::start("every_node_id_is_a_kb_of_its_own").await else {
        return;
    };
    let unique = node("ids");
    let suffixes = [
        "_test_threshold[0.1-True]_1763040555614_9ea384e2".to_owned(),
        "{x}*?[a-z]\\".to_owned(),
        "ü€日本".to_owned(),
        "+=,@#'%".to_owned(),
        "%41".to_owned(),
        "A".to_owned(),
        "%7B".to_owned(),
        "{".to_owned(),
        "\ttab\u{1}".to_owned(),
        "n".repeat(300),
    ];
    let mut nodes: Vec<String> = suffixes.iter().map(|s| format!("{unique}{s}")).collect();
    // The empty node id is the reference's kb `_kato`, shared by every run: it learns nothing
    // here and must see nothing of the others.
    nodes.push(String::new());
    let by_query = |path: &str, node: &str| {
        server
            .client
            .get(server.url(path))
            .query(&[("node_id", node)])
    };
    let mut sessions = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let created = server
            .post_json("/sessions", &json!({ "node_id": node }))
            .await;
        let body = created.expect(200);
        assert_eq!(body["node_id"], node.as_str(), "{}", created.text);
        let session = body["session_id"].as_str().expect("session id").to_owned();
        if !node.is_empty() {
            server
                .observe_all(&session, &[&["common"], &[&format!("own{i}")]])
                .await;
            server.learn(&session).await;
        }
        sessions.push(session);
    }
    let check = |cleared: Option<usize>| {
        let (server, nodes, sessions, by_query) = (&server, &nodes, &sessions, &by_query);
        async move {
            for (i, node) in nodes.iter().enumerate() {
                let learned = !node.is_empty() && cleared != Some(i);
                let stats = server.send(by_query("/symbols/stats", node)).await;
                let symbols = &stats.expect(200)["symbols"];
                let mut expected = serde_json::Map::new();
                if learned {
                    for symbol in ["common".to_owned(), format!("own{i}")] {
                        expected.insert(
                            symbol.clone(),
                            json!({"name": symbol, "frequency": 1, "pattern_member_frequency": 1}),
                        );
                    }
                }
                assert_eq!(
                    symbols,
                    &serde_json::Value::Object(expected),
                    "node {node:?} (cleared: {cleared:?})"
                );
                server.clear_stm(&sessions[i]).await;
                server.observe(&sessions[i], &["common"]).await;
                let predictions = server.predictions(&sessions[i]).await;
                let futures: Vec<&serde_json::Value> = predictions["predictions"]
                    .as_array()
                    .expect("predictions")
                    .iter()
                    .map(|p| &p["future"])
                    .collect();
                // The single-symbol path: flat lists.
                let own = json!([format!("own{i}")]);
                let expected: Vec<&serde_json::Value> = if learned { vec![&own] } else { vec![] };
                assert_eq!(futures, expected, "node {node:?} (cleared: {cleared:?})");
            }
        }
    };
    check(None).await;
    // The 300-character id has the reference's 60-character kb id.
    let long = nodes.len() - 2;
    let stats = server.send(by_query("/symbols/stats", &nodes[long])).await;
    let kb = stats.expect(200)["node_id"]
        .as_str()
        .expect("kb id")
        .to_owned();
    assert_eq!(kb.chars().count(), 60, "{kb}");
    assert!(
        kb.ends_with("_kato") && kb.starts_with(&unique[..10]),
        "{kb}"
    );
    // Clear-all of one (the one whose id is all glob and brace characters).
    server.clear_all(&sessions[1]).await;
    check(Some(1)).await;
    for (i, session) in sessions.iter().enumerate() {
        if i != 1 && !nodes[i].is_empty() {
            server.clear_all(session).await;
        }
    }
    server.stop().await;
}
