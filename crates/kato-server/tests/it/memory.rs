//! Observe, observe-sequence, learn, clear, predictions, percept and cognition data (spec
//! `api-and-storage.md` sections 1.3, 2, 3 and 4, with DESIGN.md section 8).

use serde_json::{Value, json};

use crate::support::{TestServer, node};

const ABC: &str = "PTRN|b98534b32c1d7489d4ce1a48724aa65aeecbdba9";
const BCD: &str = "PTRN|ef0fa9b54fb889754235d8d404e1f3da5bf5b156";
const AB_C: &str = "PTRN|e9e43f2309079f2843665ab773996d99489306d6";
const AB_ONE_EVENT: &str = "PTRN|395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4";
const AB_CD: &str = "PTRN|0979c1024e7a5c6bf7c542ef1a2b8226d8fd50a3";
const CD_ONE_EVENT: &str = "PTRN|cb6d41f60aba52a3bc72907265d45fac238db50c";
const X_Y: &str = "PTRN|0b546fe2eec70a7c81a07579fb158530cdcb848a";

fn is_hex_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// GET /pattern for the session's node.
async fn pattern(server: &TestServer, node: &str, name: &str) -> Value {
    let reply = server
        .get(&format!(
            "/pattern/{}?node_id={node}",
            name.replace('|', "%7C")
        ))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["pattern"]["status"], "okay", "{body}");
    body["pattern"]["pattern"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_answers_the_observation_result() {
    let Some(server) = TestServer::start("observe_answers_the_observation_result").await else {
        return;
    };
    let node = node("observe");
    let id = server.create_session(&node).await;
    let body = server.observe(&id, &["hello"]).await;
    assert_eq!(body["status"], "okay");
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["processor_id"], node.as_str());
    assert_eq!(body["stm_length"], 1);
    assert_eq!(body["time"], 1);
    assert_eq!(body["auto_learned_pattern"], Value::Null);
    let unique = body["unique_id"].as_str().expect("unique_id");
    assert!(is_hex_id(unique, "obs-"), "{unique}");
    let second = server.observe(&id, &["world"]).await;
    assert_ne!(second["unique_id"], body["unique_id"]);
    assert_eq!(second["stm_length"], 2);
    assert_eq!(second["time"], 2);

    // An observation without strings or vectors appends nothing but still counts.
    let empty = server.observe_json(&id, &json!({})).await;
    assert_eq!(empty["stm_length"], 2);
    assert_eq!(empty["time"], 3);
    let emotives_only = server
        .observe_json(&id, &json!({"emotives": {"joy": 1.0}}))
        .await;
    assert_eq!(emotives_only["stm_length"], 2);
    assert_eq!(emotives_only["time"], 4);

    let reply = server.get(&format!("/sessions/{id}/stm")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"stm": [["hello"], ["world"]], "session_id": id, "length": 2})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbols_are_sorted_unless_the_session_says_not_to() {
    let Some(server) = TestServer::start("symbols_are_sorted_unless_the_session_says_not_to").await
    else {
        return;
    };
    let node = node("sorting");
    let sorted = server.create_session(&node).await;
    server.observe(&sorted, &["b", "a", "C", "", "b"]).await;
    // Code-point order, duplicates and the empty string kept.
    assert_eq!(server.stm(&sorted).await, json!([["", "C", "a", "b", "b"]]));

    // Session override at creation (DESIGN.md section 8: the reference ignores it).
    let unsorted = server
        .create_session_with(&node, json!({"sort_symbols": false}))
        .await;
    server.observe(&unsorted, &["b", "a"]).await;
    assert_eq!(server.stm(&unsorted).await, json!([["b", "a"]]));
    let name = server.learn(&unsorted).await;
    assert_eq!(name, "PTRN|fbe541339f86759dad596a4ae4e06d43f63874b3");

    // And through POST config.
    server
        .set_config(&sorted, json!({"sort_symbols": false}))
        .await;
    server.observe(&sorted, &["z", "y"]).await;
    assert_eq!(
        server.stm(&sorted).await,
        json!([["", "C", "a", "b", "b"], ["z", "y"]])
    );
    server
        .set_config(&sorted, json!({"sort_symbols": true}))
        .await;
    server.observe(&sorted, &["z", "y"]).await;
    assert_eq!(server.stm(&sorted).await[2], json!(["y", "z"]));
    server.clear_all(&sorted).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_become_vctr_symbols_before_the_strings() {
    let Some(server) = TestServer::start("vectors_become_vctr_symbols_before_the_strings").await
    else {
        return;
    };
    let id = server.create_session(&node("vectors")).await;
    server
        .observe_json(
            &id,
            &json!({"vectors": [[1, 0, 0, 0]], "strings": ["b", "a"]}),
        )
        .await;
    server
        .observe_json(&id, &json!({"vectors": [[1, 2], [3, 4]]}))
        .await;
    server
        .observe_json(&id, &json!({"vectors": [[0.1, 0.2, 0.3]]}))
        .await;
    assert_eq!(
        server.stm(&id).await,
        json!([
            ["VCTR|2fb865b4597f2549eff7585cc6d16cc1fea9b5b5", "a", "b"],
            ["VCTR|d4ae6976f832d22d69d3a980c3da5401f08b0b1a"],
            ["VCTR|e09ff768f2b2a0f5d5e78932dc977709e8c35f57"],
        ])
    );
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    let percept = &reply.expect(200)["percept_data"];
    assert_eq!(percept["vectors"], json!([[0.1, 0.2, 0.3]]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learn_names_the_pattern_and_empties_the_stm() {
    let Some(server) = TestServer::start("learn_names_the_pattern_and_empties_the_stm").await
    else {
        return;
    };
    let node = node("learn");
    let id = server.create_session(&node).await;

    // Empty STM: 400 with the reference's detail.
    let reply = server.post(&format!("/sessions/{id}/learn")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body, json!({"detail": "Cannot learn from empty STM"}));

    server.observe_all(&id, &[&["b", "a"], &["c"]]).await;
    let reply = server.post(&format!("/sessions/{id}/learn")).await;
    let body = reply.expect(200);
    assert_eq!(
        body,
        &json!({
            "status": "learned",
            "pattern_name": AB_C,
            "session_id": id,
            "processor_id": null,
            "message": format!("Learned pattern {AB_C} from 0 events"),
        })
    );
    assert_eq!(server.stm(&id).await, json!([]));

    // The reference's worked names (spec 3.1).
    for (events, expected) in [
        (
            vec![vec!["hello"], vec!["world"]],
            "PTRN|7d0678ba6305341ce0d25133ab086208656a562f",
        ),
        (
            vec![vec!["it's"], vec!["x"]],
            "PTRN|271339250f33fe945c5a24f7deb31f02ce16ddb5",
        ),
        (
            vec![vec!["café"], vec!["z"]],
            "PTRN|b492ff4a08226f786a0393c80b8507e44c9d9184",
        ),
        (vec![vec!["a", "b"]], AB_ONE_EVENT),
    ] {
        for event in &events {
            server.observe(&id, event).await;
        }
        assert_eq!(server.learn(&id).await, expected, "{events:?}");
    }

    // One symbol: "learned" with an empty name, nothing stored, STM emptied.
    server.observe(&id, &["lonely"]).await;
    let reply = server.post(&format!("/sessions/{id}/learn")).await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "learned");
    assert_eq!(body["pattern_name"], "");
    assert_eq!(server.stm(&id).await, json!([]));
    let reply = server
        .post(&format!("/sessions/{id}/finalize-training"))
        .await;
    assert_eq!(reply.expect(200)["patterns_processed"], 5);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_pattern_is_predicted_by_the_next_call() {
    let Some(server) = TestServer::start("a_learned_pattern_is_predicted_by_the_next_call").await
    else {
        return;
    };
    let id = server.create_session(&node("visible")).await;
    // Empty STM: no predictions.
    let empty = server.predictions(&id).await;
    assert_eq!(empty["predictions"], json!([]));
    assert_eq!(empty["count"], 0);

    server.observe_all(&id, &[&["a"], &["b"], &["c"]]).await;
    assert_eq!(server.learn(&id).await, ABC);
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let body = server.predictions(&id).await;
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["processor_id"], Value::Null);
    assert_eq!(body["time"], Value::Null);
    assert_eq!(body["unique_id"], Value::Null);
    assert_eq!(body["count"], 1);
    let p = &body["predictions"][0];
    assert_eq!(p["name"], ABC.strip_prefix("PTRN|").unwrap());
    assert_eq!(p["type"], "prototypical");
    assert_eq!(p["frequency"], 1);
    assert_eq!(p["future"], json!([["c"]]));
    assert_eq!(p["matches"], json!(["a", "b"]));
    for field in [
        "emotives",
        "matches",
        "past",
        "present",
        "future",
        "missing",
        "extras",
        "anomalies",
        "evidence",
        "confidence",
        "similarity",
        "snr",
        "fragmentation",
        "potential",
        "predictive_information",
        "pattern_probability",
        "weighted_strength",
        "confluence",
        "entropy",
        "normalized_entropy",
        "global_normalized_entropy",
        "itfdf_similarity",
        "tfidf_score",
        "bayesian_posterior",
        "bayesian_prior",
        "bayesian_likelihood",
        "weighted_similarity",
        "weighted_evidence",
        "weighted_confidence",
        "weighted_snr",
    ] {
        assert!(p.get(field).is_some(), "{field} missing in {p}");
    }
    assert_eq!(p["weighted_similarity"], Value::Null);
    let futures = body["future_potentials"].as_array().expect("a list");
    assert_eq!(futures[0]["future"], json!([["c"]]));
    for field in [
        "aggregate_potential",
        "supporting_patterns",
        "total_weighted_frequency",
    ] {
        assert!(futures[0][field].is_number(), "{field} in {body}");
    }
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_stm_resets_the_session_memory() {
    let Some(server) = TestServer::start("clear_stm_resets_the_session_memory").await else {
        return;
    };
    let id = server.create_session(&node("clear_stm")).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["a"], "emotives": {"e": 1}, "metadata": {"m": 1}}),
        )
        .await;
    server.observe(&id, &["b"]).await;
    let reply = server.post(&format!("/sessions/{id}/clear-stm")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "cleared", "session_id": id})
    );
    assert_eq!(server.stm(&id).await, json!([]));
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    assert_eq!(reply.expect(200)["percept_data"], json!({}));
    let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
    let cognition = &reply.expect(200)["cognition_data"];
    assert_eq!(cognition["time"], 0);
    assert_eq!(cognition["emotives"], json!({}));
    assert_eq!(cognition["predictions"], json!([]));
    // time restarts.
    assert_eq!(server.observe(&id, &["c"]).await["time"], 1);
    // The accumulators were reset: learning now carries no emotives.
    server.observe(&id, &["d"]).await;
    let name = server.learn(&id).await;
    let node_id = server.get(&format!("/sessions/{id}")).await.body["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = pattern(&server, &node_id, &name).await;
    assert_eq!(stored["emotives"], json!([]), "{stored}");
    assert_eq!(stored["metadata"], json!({}), "{stored}");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_all_wipes_the_node_for_every_session_and_no_other_node() {
    let Some(server) =
        TestServer::start("clear_all_wipes_the_node_for_every_session_and_no_other_node").await
    else {
        return;
    };
    let node_a = node("clear_all_a");
    let node_b = node("clear_all_b");
    let a1 = server.create_session(&node_a).await;
    let a2 = server.create_session(&node_a).await;
    let b = server.create_session(&node_b).await;
    server.observe_all(&a1, &[&["a"], &["b"], &["c"]]).await;
    server.learn(&a1).await;
    server.observe_all(&b, &[&["a"], &["b"], &["c"]]).await;
    server.learn(&b).await;
    server.observe_all(&a1, &[&["a"], &["b"]]).await;
    server.observe_all(&a2, &[&["a"], &["b"]]).await;
    assert_eq!(server.predictions(&a2).await["count"], 1);

    let reply = server.post(&format!("/sessions/{a1}/clear-all")).await;
    assert_eq!(
        reply.expect(200),
        &json!({"status": "cleared", "session_id": a1, "scope": "all"})
    );
    assert_eq!(server.stm(&a1).await, json!([]));
    // a2's STM is its own and stays, but the node's patterns are gone.
    assert_eq!(server.stm(&a2).await, json!([["a"], ["b"]]));
    assert_eq!(server.predictions(&a2).await["predictions"], json!([]));
    let reply = server
        .get(&format!(
            "/pattern/{}?node_id={node_a}",
            ABC.replace('|', "%7C")
        ))
        .await;
    assert_eq!(reply.expect(200)["pattern"]["status"], "error");
    let reply = server
        .get(&format!("/symbols/stats?node_id={node_a}"))
        .await;
    assert_eq!(reply.expect(200)["symbols"], json!({}));
    // The other node keeps its pattern.
    server.observe_all(&b, &[&["a"], &["b"]]).await;
    assert_eq!(server.predictions(&b).await["count"], 1);
    pattern(&server, &node_b, ABC).await;
    let reply = server
        .post(&format!("/sessions/{a2}/finalize-training"))
        .await;
    assert_eq!(reply.expect(200)["patterns_processed"], 0);
    server.clear_all(&b).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_sequence_empty_and_learn_at_end() {
    let Some(server) = TestServer::start("observe_sequence_empty_and_learn_at_end").await else {
        return;
    };
    let node = node("sequence");
    let id = server.create_session(&node).await;
    server.observe(&id, &["before"]).await;
    let path = format!("/sessions/{id}/observe-sequence");
    let reply = server.post_json(&path, &json!({"observations": []})).await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "status": "completed", "processor_id": node, "observations_processed": 0,
            "initial_stm_length": 1, "final_stm_length": 1, "results": [],
            "auto_learned_patterns": [], "final_learned_pattern": null, "isolated": false,
        })
    );
    server.clear_stm(&id).await;

    let reply = server
        .post_json(
            &path,
            &json!({
                "observations": [
                    {"strings": ["a"], "unique_id": "mine-1"},
                    {"strings": ["b"]},
                    {"strings": ["c"]},
                ],
                "learn_at_end": true,
            }),
        )
        .await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["observations_processed"], 3);
    assert_eq!(body["initial_stm_length"], 0);
    assert_eq!(body["final_stm_length"], 0);
    assert_eq!(body["final_learned_pattern"], ABC);
    assert_eq!(body["auto_learned_patterns"], json!([ABC]));
    assert_eq!(body["isolated"], false);
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["status"], "okay");
        assert_eq!(result["sequence_position"], i);
        assert_eq!(result["stm_length"], i + 1);
        assert_eq!(result["time"], i + 1);
        assert_eq!(result["auto_learned_pattern"], Value::Null);
    }
    assert_eq!(results[0]["unique_id"], "mine-1");
    let generated = results[1]["unique_id"].as_str().unwrap();
    assert!(is_hex_id(generated, "seq-obs-"), "{generated}");
    assert_eq!(server.stm(&id).await, json!([]));
    pattern(&server, &node, ABC).await;
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_sequence_learn_after_each_and_clear_between() {
    let Some(server) =
        TestServer::start("observe_sequence_learn_after_each_and_clear_between").await
    else {
        return;
    };
    let id = server.create_session(&node("sequence_flags")).await;
    let path = format!("/sessions/{id}/observe-sequence");
    let reply = server
        .post_json(
            &path,
            &json!({
                "observations": [{"strings": ["a", "b"]}, {"strings": ["c", "d"]}, {"strings": ["x"]}],
                "learn_after_each": true,
            }),
        )
        .await;
    let body = reply.expect(200);
    // The one-symbol STM learns as "".
    assert_eq!(
        body["auto_learned_patterns"],
        json!([AB_ONE_EVENT, CD_ONE_EVENT, ""])
    );
    assert_eq!(body["final_learned_pattern"], Value::Null);
    let results = body["results"].as_array().unwrap();
    for result in results {
        assert_eq!(result["stm_length"], 0, "{body}");
    }
    assert_eq!(results[2]["time"], 3);

    // clear_stm_between: each observation starts from an empty STM, time keeps counting.
    let reply = server
        .post_json(
            &path,
            &json!({
                "observations": [{"strings": ["a", "b"]}, {"strings": ["c", "d"]}],
                "clear_stm_between": true,
                "learn_at_end": true,
            }),
        )
        .await;
    let body = reply.expect(200);
    assert_eq!(body["isolated"], true);
    assert_eq!(body["final_learned_pattern"], CD_ONE_EVENT);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["stm_length"], 1);
    assert_eq!(results[1]["stm_length"], 1);
    assert_eq!(results[1]["time"], 5);

    // Without clearing, both events land in one pattern.
    let reply = server
        .post_json(
            &path,
            &json!({
                "observations": [{"strings": ["b", "a"]}, {"strings": ["d", "c"]}],
                "learn_at_end": true,
            }),
        )
        .await;
    assert_eq!(reply.expect(200)["final_learned_pattern"], AB_CD);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_learn_clear_mode() {
    let Some(server) = TestServer::start("auto_learn_clear_mode").await else {
        return;
    };
    let node = node("auto_clear");
    let id = server
        .create_session_with(&node, json!({"max_pattern_length": 3}))
        .await;
    let first = server.observe(&id, &["a"]).await;
    assert_eq!(first["auto_learned_pattern"], Value::Null);
    server.observe(&id, &["b"]).await;
    // An empty observation neither appends nor triggers.
    let empty = server.observe_json(&id, &json!({})).await;
    assert_eq!(empty["auto_learned_pattern"], Value::Null);
    assert_eq!(empty["stm_length"], 2);
    let third = server.observe(&id, &["c"]).await;
    assert_eq!(third["auto_learned_pattern"], ABC, "{third}");
    assert_eq!(third["stm_length"], 0);
    assert_eq!(server.stm(&id).await, json!([]));
    let stored = pattern(&server, &node, ABC).await;
    assert_eq!(stored["pattern_data"], json!([["a"], ["b"], ["c"]]));

    // max_pattern_length 1: a one-symbol event is not stored (null), two symbols are.
    server
        .set_config(&id, json!({"max_pattern_length": 1}))
        .await;
    let single = server.observe(&id, &["a"]).await;
    assert_eq!(single["auto_learned_pattern"], Value::Null);
    assert_eq!(single["stm_length"], 0);
    let pair = server.observe(&id, &["b", "a"]).await;
    assert_eq!(pair["auto_learned_pattern"], AB_ONE_EVENT);
    assert_eq!(pair["stm_length"], 0);

    // Via observe-sequence: the auto-learned names are listed.
    server
        .set_config(&id, json!({"max_pattern_length": 2}))
        .await;
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe-sequence"),
            &json!({"observations": [{"strings": ["x"]}, {"strings": ["y"]}]}),
        )
        .await;
    let body = reply.expect(200);
    assert_eq!(body["auto_learned_patterns"], json!([X_Y]));
    assert_eq!(body["results"][1]["auto_learned_pattern"], X_Y);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_learn_rolling_mode_worked_example() {
    let Some(server) = TestServer::start("auto_learn_rolling_mode_worked_example").await else {
        return;
    };
    let node = node("auto_rolling");
    let id = server
        .create_session_with(
            &node,
            json!({"max_pattern_length": 3, "stm_mode": "ROLLING"}),
        )
        .await;
    assert_eq!(
        server.observe(&id, &["a"]).await["auto_learned_pattern"],
        Value::Null
    );
    server.observe(&id, &["b"]).await;
    let c = server.observe(&id, &["c"]).await;
    assert_eq!(c["auto_learned_pattern"], ABC);
    assert_eq!(c["stm_length"], 2);
    assert_eq!(server.stm(&id).await, json!([["b"], ["c"]]));
    let d = server.observe(&id, &["d"]).await;
    assert_eq!(d["auto_learned_pattern"], BCD);
    assert_eq!(server.stm(&id).await, json!([["c"], ["d"]]));
    let stored = pattern(&server, &node, BCD).await;
    assert_eq!(stored["pattern_data"], json!([["b"], ["c"], ["d"]]));
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_learned_patterns_get_their_emotives_and_metadata() {
    let Some(server) =
        TestServer::start("auto_learned_patterns_get_their_emotives_and_metadata").await
    else {
        return;
    };
    let node = node("auto_emotives");
    let id = server
        .create_session_with(&node, json!({"max_pattern_length": 2}))
        .await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["x"], "emotives": {"joy": 0.5}, "metadata": {"src": "one"}}),
        )
        .await;
    let second = server
        .observe_json(
            &id,
            &json!({"strings": ["y"], "emotives": {"joy": 1.0}, "metadata": {"src": "two"}}),
        )
        .await;
    assert_eq!(second["auto_learned_pattern"], X_Y);
    let stored = pattern(&server, &node, X_Y).await;
    assert_eq!(stored["emotives"], json!([{"joy": 0.5}, {"joy": 1.0}]));
    assert_eq!(stored["metadata"], json!({"src": ["one", "two"]}));
    // The accumulators were reset by the learn: the next pattern gets only its own.
    server
        .observe_json(&id, &json!({"strings": ["a"], "emotives": {"joy": 0.25}}))
        .await;
    let next = server.observe(&id, &["b"]).await;
    let name = next["auto_learned_pattern"].as_str().expect("learned");
    let stored = pattern(&server, &node, name).await;
    assert_eq!(stored["emotives"], json!([{"joy": 0.25}]));
    assert_eq!(stored["metadata"], json!({}));
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emotives_are_averaged_in_predictions_and_percept_data() {
    let Some(server) =
        TestServer::start("emotives_are_averaged_in_predictions_and_percept_data").await
    else {
        return;
    };
    let node = node("emotives");
    let id = server.create_session(&node).await;
    // Spec 4.3's example: [0.9, 0.8], then [0.5, 0.3] → four entries, frequency 2.
    for values in [[0.9, 0.8], [0.5, 0.3]] {
        server
            .observe_json(
                &id,
                &json!({"strings": ["x"], "emotives": {"mood": values[0]}}),
            )
            .await;
        server
            .observe_json(
                &id,
                &json!({"strings": ["y"], "emotives": {"mood": values[1]}}),
            )
            .await;
        let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
        let percept = &reply.expect(200)["percept_data"];
        crate::support::assert_close(&percept["emotives"], "mood", (values[0] + values[1]) / 2.0);
        assert_eq!(server.learn(&id).await, X_Y);
    }
    let stored = pattern(&server, &node, X_Y).await;
    assert_eq!(stored["frequency"], 2);
    assert_eq!(
        stored["emotives"],
        json!([{"mood": 0.9}, {"mood": 0.8}, {"mood": 0.5}, {"mood": 0.3}])
    );
    server.observe_all(&id, &[&["x"], &["y"]]).await;
    let body = server.predictions(&id).await;
    crate::support::assert_close(&body["predictions"][0]["emotives"], "mood", 0.625);

    // Keys are averaged over the entries that have them; values are coerced from ints,
    // booleans and numeric strings.
    server.clear_stm(&id).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["p"], "emotives": {"a": 1, "b": true, "c": "0.5"}}),
        )
        .await;
    server
        .observe_json(&id, &json!({"strings": ["q"], "emotives": {"a": 3}}))
        .await;
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    let body = reply.expect(200);
    assert_eq!(
        body["percept_data"]["emotives"],
        json!({"a": 2.0, "b": 1.0, "c": 0.5})
    );
    // cognition-data shows the last entry, not the mean.
    let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
    assert_eq!(
        reply.expect(200)["cognition_data"]["emotives"],
        json!({"a": 3.0})
    );
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persistence_window_keeps_the_newest_emotives() {
    let Some(server) = TestServer::start("the_persistence_window_keeps_the_newest_emotives").await
    else {
        return;
    };
    let node = node("persistence");
    let id = server.create_session(&node).await;
    let learn_with = |values: [f64; 3]| {
        let server = &server;
        let id = &id;
        async move {
            for (symbol, value) in ["a", "b", "c"].iter().zip(values) {
                server
                    .observe_json(id, &json!({"strings": [symbol], "emotives": {"e": value}}))
                    .await;
            }
            server.learn(id).await
        }
    };
    // Default persistence 5: [0,1,2] + [3,4,5] → [1,2,3,4,5] (spec 4.3).
    learn_with([0.0, 1.0, 2.0]).await;
    learn_with([3.0, 4.0, 5.0]).await;
    let stored = pattern(&server, &node, ABC).await;
    let values: Vec<f64> = stored["emotives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["e"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0]);
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let body = server.predictions(&id).await;
    crate::support::assert_close(&body["predictions"][0]["emotives"], "e", 3.0);
    server.clear_stm(&id).await;

    // The session's persistence is honoured (DESIGN.md section 8): 2 keeps the last two.
    server.set_config(&id, json!({"persistence": 2})).await;
    learn_with([6.0, 7.0, 8.0]).await;
    let stored = pattern(&server, &node, ABC).await;
    assert_eq!(stored["emotives"], json!([{"e": 7.0}, {"e": 8.0}]));
    assert_eq!(stored["frequency"], 3);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_accumulated_as_sorted_strings() {
    let Some(server) = TestServer::start("metadata_is_accumulated_as_sorted_strings").await else {
        return;
    };
    let node = node("metadata");
    let id = server.create_session(&node).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["x"], "metadata": {"source": "web", "n": 123, "f": 45.67}}),
        )
        .await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["y"], "metadata": {"source": "app", "flag": true, "none": null}}),
        )
        .await;
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    assert_eq!(
        reply.expect(200)["percept_data"]["metadata"],
        json!({"source": "app", "flag": true, "none": null}),
        "the last observation's metadata"
    );
    assert_eq!(server.learn(&id).await, X_Y);
    let stored = pattern(&server, &node, X_Y).await;
    assert_eq!(
        stored["metadata"],
        json!({
            "f": ["45.67"], "flag": ["True"], "n": ["123"], "none": ["None"],
            "source": ["app", "web"],
        })
    );
    // Re-learning merges per key.
    server
        .observe_json(
            &id,
            &json!({"strings": ["x"], "metadata": {"source": "cli"}}),
        )
        .await;
    server.observe(&id, &["y"]).await;
    server.learn(&id).await;
    let stored = pattern(&server, &node, X_Y).await;
    assert_eq!(stored["metadata"]["source"], json!(["app", "cli", "web"]));
    assert_eq!(stored["metadata"]["n"], json!(["123"]));
    // Pattern metadata is not part of the predictions.
    server.observe_all(&id, &[&["x"], &["y"]]).await;
    let body = server.predictions(&id).await;
    assert!(body["predictions"][0].get("metadata").is_none(), "{body}");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percept_and_cognition_data() {
    let Some(server) = TestServer::start("percept_and_cognition_data").await else {
        return;
    };
    let node = node("percept");
    let id = server.create_session(&node).await;
    server.observe_all(&id, &[&["a"], &["b"], &["c"]]).await;
    server.learn(&id).await;
    server.observe(&id, &["a"]).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["b", "B"], "emotives": {"joy": 0.5}, "metadata": {"k": "v"}}),
        )
        .await;
    let reply = server.get(&format!("/sessions/{id}/percept-data")).await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "percept_data": {
                "strings": ["B", "b"], "vectors": [], "emotives": {"joy": 0.5}, "path": [],
                "metadata": {"k": "v"},
            },
            "session_id": id,
            "node_id": node,
        })
    );
    let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
    let body = reply.expect(200);
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["node_id"], node.as_str());
    let cognition = &body["cognition_data"];
    assert_eq!(cognition["emotives"], json!({"joy": 0.5}));
    assert_eq!(cognition["symbols"], json!(["a", "B", "b"]));
    assert_eq!(cognition["short_term_memory"], json!([["a"], ["B", "b"]]));
    // Observations since the last clear (learning does not reset it).
    assert_eq!(cognition["time"], 5);
    assert_eq!(cognition["command"], "");
    assert_eq!(cognition["metadata"], json!({}));
    assert_eq!(cognition["path"], json!([]));
    assert_eq!(cognition["strings"], json!([]));
    assert_eq!(cognition["vectors"], json!([]));
    let predictions = cognition["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 1, "{cognition}");
    assert_eq!(predictions[0]["name"], ABC.strip_prefix("PTRN|").unwrap());
    // They are the predictions of GET /predictions for the same STM.
    let direct = server.predictions(&id).await;
    assert_eq!(direct["predictions"], cognition["predictions"]);

    // process_predictions off: cognition-data has none, GET /predictions still does.
    server
        .set_config(&id, json!({"process_predictions": false}))
        .await;
    server.observe(&id, &["c"]).await;
    let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
    assert_eq!(
        reply.expect(200)["cognition_data"]["predictions"],
        json!([])
    );
    assert_eq!(server.predictions(&id).await["count"], 1);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_training_reports_the_pattern_count() {
    let Some(server) = TestServer::start("finalize_training_reports_the_pattern_count").await
    else {
        return;
    };
    let node = node("finalize");
    let id = server.create_session(&node).await;
    server.learn_events(&id, &[&["a"], &["b"]], 2).await;
    server.learn_events(&id, &[&["a"], &["c"]], 1).await;
    let reply = server
        .post(&format!("/sessions/{id}/finalize-training"))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["patterns_processed"], 2);
    assert!(body["time_ms"].is_number(), "{body}");
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["node_id"], node.as_str());
    assert!(body["message"].is_string());
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_values_are_stored_in_python_str_form() {
    let Some(server) = TestServer::start("metadata_values_are_stored_in_python_str_form").await
    else {
        return;
    };
    let node = node("metadata_str");
    let id = server.create_session(&node).await;
    server
        .observe_json(
            &id,
            &json!({"strings": ["x"], "metadata": {
                "obj": {"k": "v", "n": [1, true, null]}, "list": [1, 2.5, "a"], "f1": 1.0,
                "big": 1e20, "small": 1e-7, "i": -3, "s": "it's", "uni": "café\n",
                "bigint": 12_345_678_901_234_567_890_u64, "e16": 1e16,
            }}),
        )
        .await;
    server.observe(&id, &["y"]).await;
    server.learn(&id).await;
    let stored = pattern(&server, &node, X_Y).await;
    assert_eq!(
        stored["metadata"],
        json!({
            "big": ["1e+20"], "bigint": ["12345678901234567890"], "e16": ["1e+16"],
            "f1": ["1.0"], "i": ["-3"], "list": ["[1, 2.5, 'a']"],
            "obj": ["{'k': 'v', 'n': [1, True, None]}"], "s": ["it's"], "small": ["1e-07"],
            "uni": ["café\n"],
        })
    );
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_prediction_settings_are_honoured() {
    let Some(server) = TestServer::start("session_prediction_settings_are_honoured").await else {
        return;
    };
    let id = server.create_session(&node("pred_settings")).await;
    // [shared, b_a, e_a] twice (with an emotive), [shared, b_c, e_c] once.
    for branch in ["a", "a", "c"] {
        let reply = server
            .post_json(
                &format!("/sessions/{id}/observe-sequence"),
                &json!({
                    "observations": [
                        {"strings": ["shared"], "emotives": {"joy": 1.0}},
                        {"strings": [format!("b_{branch}")]},
                        {"strings": [format!("e_{branch}")]},
                    ],
                    "learn_at_end": true,
                }),
            )
            .await;
        reply.expect(200);
    }
    server.observe_all(&id, &[&["shared"], &["b_c"]]).await;
    let by_potential = server.predictions(&id).await;
    let rows = by_potential["predictions"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{by_potential}");
    assert_eq!(rows[0]["frequency"], 1, "the b_c pattern matches best");
    assert_eq!(rows[0]["weighted_similarity"], Value::Null);

    // rank_sort_algo is honoured (DESIGN.md section 8): the frequency-2 pattern first.
    server
        .set_config(&id, json!({"rank_sort_algo": "frequency"}))
        .await;
    let by_frequency = server.predictions(&id).await;
    assert_eq!(by_frequency["predictions"][0]["frequency"], 2);
    // max_predictions caps the list.
    server.set_config(&id, json!({"max_predictions": 1})).await;
    let capped = server.predictions(&id).await;
    assert_eq!(capped["count"], 1);
    assert_eq!(capped["predictions"][0]["frequency"], 2);
    // recall_threshold cuts: only the 0.8-similar pattern stays above 0.5.
    server
        .set_config(
            &id,
            json!({"max_predictions": 100, "rank_sort_algo": "potential", "recall_threshold": 0.5}),
        )
        .await;
    let cut = server.predictions(&id).await;
    assert_eq!(cut["count"], 1, "{cut}");
    assert_close_sim(&cut["predictions"][0], 0.8);
    // affinity_emotive turns the weighted metrics on.
    server
        .set_config(
            &id,
            json!({"recall_threshold": 0.1, "affinity_emotive": "joy"}),
        )
        .await;
    let weighted = server.predictions(&id).await;
    for row in weighted["predictions"].as_array().unwrap() {
        assert!(row["weighted_similarity"].is_number(), "{row}");
    }
    // Every filter stage runs without failing; `bloom` keeps patterns sharing a token.
    server
        .set_config(
            &id,
            json!({"filter_pipeline": ["length", "jaccard", "minhash", "bloom", "rapidfuzz"]}),
        )
        .await;
    server.predictions(&id).await;
    server
        .set_config(&id, json!({"filter_pipeline": ["bloom"]}))
        .await;
    assert_eq!(server.predictions(&id).await["count"], 2);
    server.clear_all(&id).await;
    server.stop().await;
}

#[track_caller]
fn assert_close_sim(prediction: &Value, expected: f64) {
    crate::support::assert_close(prediction, "similarity", expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stm_keeps_the_newest_thousand_events() {
    let Some(server) = TestServer::start("the_stm_keeps_the_newest_thousand_events").await else {
        return;
    };
    let id = server.create_session(&node("stm_window")).await;
    let observations: Vec<Value> = (0..1005)
        .map(|i| json!({"strings": [format!("s{i}")]}))
        .collect();
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe-sequence"),
            &json!({ "observations": observations }),
        )
        .await;
    let body = reply.expect(200);
    assert_eq!(body["observations_processed"], 1005);
    let reply = server.get(&format!("/sessions/{id}/stm")).await;
    let body = reply.expect(200);
    assert_eq!(body["length"], 1000);
    assert_eq!(body["stm"][0], json!(["s5"]));
    assert_eq!(body["stm"][999], json!(["s1004"]));
    let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
    assert_eq!(reply.expect(200)["cognition_data"]["time"], 1005);
    server.stop().await;
}

/// Cognition-data shows the predictions of the last observe, also after a learn emptied the
/// STM (the reference keeps them until clear-stm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognition_predictions_survive_a_learn() {
    let Some(server) = TestServer::start("cognition_predictions_survive_a_learn").await else {
        return;
    };
    let id = server.create_session(&node("cognition_learn")).await;
    server.observe_all(&id, &[&["a"], &["b"], &["c"]]).await;
    server.learn(&id).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let before = server.get(&format!("/sessions/{id}/cognition-data")).await;
    let before = before.expect(200)["cognition_data"]["predictions"].clone();
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");
    server.learn(&id).await;
    let after = server.get(&format!("/sessions/{id}/cognition-data")).await;
    let after = &after.expect(200)["cognition_data"];
    assert_eq!(after["short_term_memory"], json!([]));
    // Computed now, from the STM of the last observe: [a, b, c] still predicts, and the
    // just-learned [a, b] matches too.
    let names: Vec<&Value> = after["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|prediction| &prediction["name"])
        .collect();
    assert!(names.contains(&&before[0]["name"]), "{after}");
    assert_eq!(names.len(), 2, "{after}");
    server.clear_all(&id).await;
    server.stop().await;
}
