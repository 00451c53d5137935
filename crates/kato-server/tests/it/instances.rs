//! Two server instances over the same stores share their sessions: concurrent changes
//! through both are all applied, none lost (the session lock is in Redis, not in a process).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::{TestServer, assert_session_not_found, node};

async fn two_servers(test: &str) -> Option<(Arc<TestServer>, Arc<TestServer>)> {
    let a = TestServer::start(test).await?;
    let b = TestServer::start(test).await?;
    Some((Arc::new(a), Arc::new(b)))
}

async fn stop(server: Arc<TestServer>) {
    Arc::into_inner(server)
        .expect("no request in flight")
        .stop()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_observes_through_two_instances_are_all_kept() {
    let Some((a, b)) = two_servers("concurrent_observes_through_two_instances_are_all_kept").await
    else {
        return;
    };
    let id = a.create_session(&node("two_instances")).await;
    let mut tasks = JoinSet::new();
    for i in 0..40 {
        let server = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let id = id.clone();
        tasks.spawn(async move {
            let reply = server
                .post_json(
                    &format!("/sessions/{id}/observe"),
                    &json!({"strings": [format!("s{i:02}")]}),
                )
                .await;
            assert_eq!(reply.status, 200, "observe {i}: {}", reply.text);
            reply.body["time"].as_u64().expect("time")
        });
    }
    let mut times = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        times.insert(result.expect("task"));
    }
    // Each observe saw the one before it: the times are 1..=40, each once.
    assert_eq!(times, (1..=40).collect::<BTreeSet<u64>>());

    for server in [&a, &b] {
        let stm = server.stm(&id).await;
        let events = stm.as_array().expect("stm");
        assert_eq!(events.len(), 40, "{stm}");
        let symbols: BTreeSet<String> = events
            .iter()
            .map(|event| {
                let event = event.as_array().expect("event");
                assert_eq!(event.len(), 1, "{stm}");
                event[0].as_str().expect("symbol").to_owned()
            })
            .collect();
        let expected: BTreeSet<String> = (0..40).map(|i| format!("s{i:02}")).collect();
        assert_eq!(symbols, expected);
        let reply = server.get(&format!("/sessions/{id}/cognition-data")).await;
        assert_eq!(reply.expect(200)["cognition_data"]["time"], 40);
    }
    a.delete(&format!("/sessions/{id}")).await.expect(200);
    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_created_on_one_instance_is_served_by_the_other() {
    let Some((a, b)) =
        two_servers("a_session_created_on_one_instance_is_served_by_the_other").await
    else {
        return;
    };
    let node = node("cross_instance");
    let id = a.create_session(&node).await;
    let reply = b.get(&format!("/sessions/{id}")).await;
    let body = reply.expect(200);
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["node_id"], node.as_str());

    // Configure on A, observe on B, learn on A, predict on B.
    a.set_config(&id, json!({"recall_threshold": 0.2})).await;
    let config = b.get(&format!("/sessions/{id}/config")).await;
    assert_eq!(config.expect(200)["config"]["recall_threshold"], 0.2);
    b.observe_all(&id, &[&["a"], &["b"]]).await;
    let observed = b.observe(&id, &["c"]).await;
    assert_eq!(observed["time"], 3);
    assert_eq!(a.stm(&id).await, json!([["a"], ["b"], ["c"]]));
    a.learn(&id).await;
    b.observe_all(&id, &[&["a"], &["b"]]).await;
    let predictions = b.predictions(&id).await;
    assert_eq!(predictions["count"], 1, "{predictions}");

    // Delete on B: gone on both.
    b.clear_all(&id).await;
    let reply = b.delete(&format!("/sessions/{id}")).await;
    assert_eq!(reply.expect(200)["status"], "deleted");
    let reply = a.get(&format!("/sessions/{id}/stm")).await;
    assert_session_not_found(&reply, &id);
    let reply = a.get(&format!("/sessions/{id}/exists")).await;
    assert_eq!(reply.expect(200)["exists"], Value::Bool(false));
    stop(a).await;
    stop(b).await;
}
