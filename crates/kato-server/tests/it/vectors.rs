//! Learned vectors (spec `api-and-storage.md` section 2.4): an observed vector is stored when
//! its session learns; at observe the 3 learned vectors of the node nearest the observation's
//! summed vector join the event, on every instance and after a restart; a vector of another
//! dimension than the node's is the reference's 400 `VectorDimensionError`; clear-all removes
//! the node's vectors.

use serde_json::{Value, json};

use crate::support::{TestServer, node};

/// The vector symbols of each STM event.
fn vector_symbols(stm: &Value) -> Vec<Vec<String>> {
    stm.as_array()
        .unwrap()
        .iter()
        .map(|event| {
            event
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|symbol| symbol.starts_with("VCTR|"))
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Learns the reference's multimodal case on `id`: [a b + [1,0,0]] [c d + [0,1,0]]; the two
/// vector names.
async fn learn_two_vector_events(server: &TestServer, id: &str) -> (String, String) {
    server
        .observe_json(
            id,
            &json!({"strings": ["a", "b"], "vectors": [[1.0, 0.0, 0.0]]}),
        )
        .await;
    server
        .observe_json(
            id,
            &json!({"strings": ["c", "d"], "vectors": [[0.0, 1.0, 0.0]]}),
        )
        .await;
    let learned = vector_symbols(&server.stm(id).await);
    assert_eq!(learned.len(), 2);
    assert_eq!(
        learned[0].len(),
        1,
        "no vector was learned yet: {learned:?}"
    );
    server.learn(id).await;
    (learned[0][0].clone(), learned[1][0].clone())
}

/// Observes one string of each learned event with the same vectors.
async fn observe_one_of_each(server: &TestServer, id: &str) {
    server
        .observe_json(id, &json!({"strings": ["a"], "vectors": [[1.0, 0.0, 0.0]]}))
        .await;
    server
        .observe_json(id, &json!({"strings": ["c"], "vectors": [[0.0, 1.0, 0.0]]}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_multimodal_case_matches_through_learned_vectors() {
    let Some(server) = TestServer::start("the_reference_multimodal_case").await else {
        return;
    };
    let kb = node("multimodal");
    let id = server
        .create_session_with(&kb, json!({"recall_threshold": 0.65}))
        .await;
    let (first, second) = learn_two_vector_events(&server, &id).await;
    observe_one_of_each(&server, &id).await;
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    // Each observed event holds both learned vector names (its own is one of them).
    assert_eq!(vector_symbols(&server.stm(&id).await), [both.clone(), both]);
    let predictions = server.predictions(&id).await;
    let found = predictions["predictions"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{predictions}");
    let similarity = found[0]["similarity"].as_f64().unwrap();
    assert!((similarity - 2.0 * 4.0 / 12.0).abs() < 1e-9, "{similarity}");
    // At 0.7 the same STM predicts nothing.
    server
        .set_config(&id, json!({"recall_threshold": 0.7}))
        .await;
    let predictions = server.predictions(&id).await;
    assert_eq!(predictions["count"], 0, "{predictions}");

    // Another kb with the same vectors sees none of these.
    let other = server.create_session(&node("multimodal_other")).await;
    observe_one_of_each(&server, &other).await;
    assert_eq!(
        vector_symbols(&server.stm(&other).await),
        [vec![first.clone()], vec![second.clone()]]
    );
    server.clear_all(&other).await;

    // clear-all removes the kb's vectors: the next observe finds no neighbour, and another
    // dimension is accepted.
    server.clear_all(&id).await;
    server
        .observe_json(&id, &json!({"vectors": [[1.0, 0.0, 0.0]]}))
        .await;
    assert_eq!(vector_symbols(&server.stm(&id).await), [vec![first]]);
    server.clear_stm(&id).await;
    server
        .observe_json(&id, &json!({"vectors": [[1.0, 0.0]]}))
        .await;
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vector_of_another_dimension_is_the_reference_400() {
    let Some(server) = TestServer::start("a_vector_of_another_dimension").await else {
        return;
    };
    let kb = node("vector_dimension");
    let id = server.create_session(&kb).await;
    learn_two_vector_events(&server, &id).await;
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"strings": ["a"], "vectors": [[1.0, 0.0]]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let detail = &reply.body["detail"];
    assert_eq!(detail["error"], "VectorDimensionError");
    assert_eq!(detail["expected_dimension"], 3);
    assert_eq!(detail["actual_dimension"], 2);
    assert!(detail["vector_name"].as_str().unwrap().starts_with("VCTR|"));
    assert!(detail.get("observation_index").is_none());
    // In a sequence: which observation, and nothing of the sequence is kept.
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe-sequence"),
            &json!({"observations": [
                {"strings": ["x"], "vectors": [[0.0, 0.0, 1.0]]},
                {"vectors": [[1.0, 2.0, 3.0, 4.0]]},
            ]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["detail"]["error"], "VectorDimensionError");
    assert_eq!(reply.body["detail"]["observation_index"], 1);
    assert_eq!(reply.body["detail"]["actual_dimension"], 4);
    assert_eq!(server.stm(&id).await, json!([]));
    // While the kb has no vector any dimension is observed, as in the reference; the first
    // the session learns locks the kb's, and the other is not stored.
    let fresh = server.create_session(&node("vector_dimension_fresh")).await;
    server
        .observe_json(&fresh, &json!({"strings": ["s"], "vectors": [[1.0, 2.0]]}))
        .await;
    server
        .observe_json(&fresh, &json!({"vectors": [[1.0, 2.0, 3.0]]}))
        .await;
    server.learn(&fresh).await;
    let reply = server
        .post_json(
            &format!("/sessions/{fresh}/observe"),
            &json!({"vectors": [[1.0, 2.0, 3.0]]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["detail"]["expected_dimension"], 2);
    server
        .observe_json(&fresh, &json!({"vectors": [[2.0, 2.0]]}))
        .await;
    assert_eq!(
        vector_symbols(&server.stm(&fresh).await)[0].len(),
        2,
        "the one stored 2-dimensional vector is a neighbour"
    );
    // A component beyond float32 (after summing) is a 422 naming the field.
    let reply = server
        .post_json(
            &format!("/sessions/{id}/observe"),
            &json!({"vectors": [[1e38, 0.0, 0.0], [1e38, 0.0, 0.0], [1e38, 0.0, 0.0], [1e38, 0.0, 0.0]]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "vectors"]));
    server.clear_all(&id).await;
    server.clear_all(&fresh).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_learned_on_one_instance_are_found_on_another_and_after_a_restart() {
    let test = "vectors_across_instances";
    let Some(a) = TestServer::start(test).await else {
        return;
    };
    let b = TestServer::start(test).await.unwrap();
    let kb = node("vectors_instances");
    let on_a = a.create_session(&kb).await;
    let on_b = b.create_session(&kb).await;
    // b's index of the kb is loaded (empty) before a learns.
    b.observe_json(&on_b, &json!({"vectors": [[0.5, 0.5, 0.0]]}))
        .await;
    b.clear_stm(&on_b).await;
    let (first, second) = learn_two_vector_events(&a, &on_a).await;
    b.observe_json(&on_b, &json!({"vectors": [[0.9, 0.1, 0.0]]}))
        .await;
    let seen = vector_symbols(&b.stm(&on_b).await);
    assert!(
        seen[0].contains(&first) && seen[0].contains(&second),
        "{seen:?}"
    );
    a.stop().await;
    b.stop().await;
    // A new process loads the kb's vectors from the stores.
    let c = TestServer::start(test).await.unwrap();
    let on_c = c.create_session(&kb).await;
    c.observe_json(&on_c, &json!({"vectors": [[0.0, 0.9, 0.0]]}))
        .await;
    let seen = vector_symbols(&c.stm(&on_c).await);
    assert!(
        seen[0].contains(&first) && seen[0].contains(&second),
        "{seen:?}"
    );
    c.clear_all(&on_c).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_sequence_learns_its_vectors_and_sessions_keep_theirs_apart() {
    let Some(server) = TestServer::start("observe_sequence_learns_vectors").await else {
        return;
    };
    let kb = node("vectors_sequence");
    let learner = server.create_session(&kb).await;
    let bystander = server.create_session(&kb).await;
    // The bystander observes a vector but never learns: it is not stored.
    server
        .observe_json(&bystander, &json!({"vectors": [[0.0, 0.0, 5.0]]}))
        .await;
    let bystander_vector = vector_symbols(&server.stm(&bystander).await)[0][0].clone();
    let reply = server
        .post_json(
            &format!("/sessions/{learner}/observe-sequence"),
            &json!({"observations": [
                {"strings": ["p"], "vectors": [[1.0, 0.0, 0.0]]},
                {"strings": ["q"], "vectors": [[0.0, 1.0, 0.0]]},
            ], "learn_at_end": true}),
        )
        .await;
    assert!(
        reply.expect(200)["final_learned_pattern"]
            .as_str()
            .unwrap()
            .starts_with("PTRN|")
    );
    let probe = server.create_session(&kb).await;
    server
        .observe_json(&probe, &json!({"vectors": [[0.0, 0.0, 4.0]]}))
        .await;
    let seen = vector_symbols(&server.stm(&probe).await);
    // Both learned vectors are neighbours (the only two stored); the bystander's is not.
    assert_eq!(seen[0].len(), 3, "{seen:?}");
    assert!(!seen[0].contains(&bystander_vector), "{seen:?}");
    server.clear_all(&probe).await;
    server.stop().await;
}
