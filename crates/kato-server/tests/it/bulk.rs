//! `POST /sessions/{id}/learn-sequences`: many sequences learned in one request, as observing
//! and learning each would, without touching the session's STM.

use serde_json::json;

use crate::support::{TestServer, node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learns_each_sequence_as_observe_and_learn_would() {
    let Some(server) = TestServer::start("learns_each_sequence_as_observe_and_learn_would").await
    else {
        return;
    };
    let node = node("bulk");
    let id = server.create_session(&node).await;
    server.observe(&id, &["kept"]).await;
    let reply = server
        .post_json(
            &format!("/sessions/{id}/learn-sequences"),
            &json!({"sequences": [
                [["hello"], ["world"]],
                [["b", "a"], ["c"]],
                [["lonely"]],
                [["hello"], ["world"]],
                [[], ["x"], ["y"]],
            ]}),
        )
        .await;
    let body = reply.expect(200).clone();
    assert_eq!(body["status"], "learned");
    assert_eq!(
        body["pattern_names"],
        json!([
            "PTRN|7d0678ba6305341ce0d25133ab086208656a562f",
            // Sorted within the event, as observe sorts: [['a', 'b'], ['c']].
            "PTRN|e9e43f2309079f2843665ab773996d99489306d6",
            "",
            "PTRN|7d0678ba6305341ce0d25133ab086208656a562f",
            // An empty event adds nothing, as an empty observation does.
            "PTRN|0b546fe2eec70a7c81a07579fb158530cdcb848a",
        ])
    );
    // The session's own STM is untouched.
    assert_eq!(server.stm(&id).await, json!([["kept"]]));
    // Learned twice: frequency 2, as two learns would give.
    let pattern = server
        .get(&format!(
            "/pattern/PTRN%7C7d0678ba6305341ce0d25133ab086208656a562f?node_id={node}"
        ))
        .await;
    assert_eq!(pattern.expect(200)["pattern"]["pattern"]["frequency"], 2);
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sequences_are_422_and_unknown_sessions_404() {
    let Some(server) = TestServer::start("bad_sequences_are_422_and_unknown_sessions_404").await
    else {
        return;
    };
    let id = server.create_session(&node("bulk_bad")).await;
    for body in [
        json!({}),
        json!({"sequences": "a"}),
        json!({"sequences": [["a"]]}),
        json!({"sequences": [[[1]]]}),
    ] {
        let reply = server
            .post_json(&format!("/sessions/{id}/learn-sequences"), &body)
            .await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
    }
    let reply = server
        .post_json(
            "/sessions/no-such-session/learn-sequences",
            &json!({"sequences": []}),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], "SESSION_NOT_FOUND");
    server.stop().await;
}
