//! The resident index through the server: two instances see each other's learns and clears at
//! once, a kb over the memory budget answers 503 naming the setting, and `/status` and the
//! Prometheus text report the indexes.

use serde_json::{Value, json};

use crate::support::{TestServer, node};

/// The names of a predictions reply.
fn names(predictions: &Value) -> Vec<String> {
    predictions["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learn_on_one_instance_is_predicted_at_once_on_the_other() {
    let test = "a_learn_on_one_instance_is_predicted_at_once_on_the_other";
    let Some(a) = TestServer::start(test).await else {
        return;
    };
    let Some(b) = TestServer::start(test).await else {
        return;
    };
    let node = node("two_indexes");
    let on_a = a.create_session(&node).await;
    let on_b = b.create_session(&node).await;
    // B's index is loaded (empty) before A learns anything.
    b.observe_all(&on_b, &[&["x0"], &["y0"]]).await;
    assert!(names(&b.predictions(&on_b).await).is_empty());
    b.clear_stm(&on_b).await;
    for round in 0..20 {
        let first = format!("x{round}");
        let second = format!("y{round}");
        let third = format!("z{round}");
        let name = a
            .learn_events(&on_a, &[&[&first], &[&second], &[&third]], 1)
            .await;
        b.observe_all(&on_b, &[&[&first], &[&second]]).await;
        let predicted = names(&b.predictions(&on_b).await);
        assert!(
            predicted.iter().any(|p| name.ends_with(p.as_str())),
            "round {round}: {name} not among {predicted:?}"
        );
        b.clear_stm(&on_b).await;
    }
    // A clear on A: B's next prediction sees nothing of the kb.
    a.clear_all(&on_a).await;
    b.observe_all(&on_b, &[&["x1"], &["y1"]]).await;
    assert!(names(&b.predictions(&on_b).await).is_empty());
    b.clear_all(&on_b).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kb_over_the_index_budget_answers_503_naming_the_setting() {
    let test = "a_kb_over_the_index_budget_answers_503_naming_the_setting";
    // Any index needs more than one byte.
    let Some(server) = TestServer::start_with(test, |args| args.index_memory_bytes = 1).await
    else {
        return;
    };
    let id = server.create_session(&node("over_budget")).await;
    server.learn_events(&id, &[&["a"], &["b"]], 1).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    let reply = server.get(&format!("/sessions/{id}/predictions")).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    let detail = reply.body["detail"].as_str().expect("detail");
    assert!(detail.contains("KATO_INDEX_MEMORY_BYTES"), "{detail}");
    server.clear_all(&id).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_prometheus_report_the_resident_indexes() {
    let test = "status_and_prometheus_report_the_resident_indexes";
    let Some(server) = TestServer::start(test).await else {
        return;
    };
    let id = server.create_session(&node("index_metrics")).await;
    server.learn_events(&id, &[&["a"], &["b"], &["c"]], 1).await;
    server.observe_all(&id, &[&["a"], &["b"]]).await;
    assert_eq!(names(&server.predictions(&id).await).len(), 1);
    let status = server.get("/status").await;
    let index = &status.expect(200)["resident_indexes"];
    for field in [
        "bytes",
        "patterns",
        "resident_kbs",
        "loads",
        "memory_budget_bytes",
    ] {
        assert!(
            index[field].as_u64().is_some_and(|n| n > 0),
            "{field}: {index}"
        );
    }
    for field in ["evictions", "catch_ups", "rebuilds"] {
        assert!(index[field].is_u64(), "{field}: {index}");
    }
    assert!(index["load_seconds"].is_number(), "{index}");
    let text = server.admin_metrics().await;
    for family in [
        "kato_index_bytes ",
        "kato_index_patterns ",
        "kato_index_resident_kbs ",
        "kato_index_loads_total ",
        "kato_index_load_seconds_total ",
        "kato_index_evictions_total ",
        "kato_index_catch_ups_total ",
        "kato_index_rebuilds_total ",
    ] {
        assert!(text.contains(family), "{family} missing from:\n{text}");
    }
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    server.clear_all(&id).await;
    server.stop().await;
}

/// A cold instance loading a kb's index for a prediction keeps answering `/health`: the
/// building runs off the runtime's workers (here there is one), so each health check waits
/// for at most a small part of the load (reading the bodies is async work on the worker).
/// Built on the worker, the slowest check waited for most of the load (about 270 of 330 ms
/// here, against about 25 of 410 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn health_answers_while_an_index_loads() {
    let test = "health_answers_while_an_index_loads";
    let Some(a) = TestServer::start(test).await else {
        return;
    };
    let Some(b) = TestServer::start(test).await else {
        return;
    };
    let node = node("cold_load");
    let on_a = a.create_session(&node).await;
    let patterns = 50_000;
    for chunk in 0..patterns / 10_000 {
        let sequences: Vec<Value> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(|id| json!([[format!("p{id}")], [format!("q{}", id % 97)], ["r"]]))
            .collect();
        a.post_json(
            &format!("/sessions/{on_a}/learn-sequences"),
            &json!({ "sequences": sequences }),
        )
        .await
        .expect(200);
    }
    let on_b = b.create_session(&node).await;
    b.observe_all(&on_b, &[&["p7"], &["q7"]]).await;
    let (predictions, health, load) = {
        let started = std::time::Instant::now();
        let prediction = b.predictions(&on_b);
        tokio::pin!(prediction);
        let mut health = Vec::new();
        let predictions = loop {
            let check = async {
                let asked = std::time::Instant::now();
                b.get("/health").await.expect(200);
                asked.elapsed()
            };
            tokio::select! {
                predictions = &mut prediction => break predictions,
                latency = check => health.push(latency),
            }
        };
        (predictions, health, started.elapsed())
    };
    assert!(
        names(&predictions).iter().any(|name| !name.is_empty()),
        "{predictions}"
    );
    let slowest = health.iter().max().copied().unwrap_or_default();
    assert!(
        health.len() >= 5 && slowest * 4 < load,
        "{} health checks answered during a load of {load:?}, the slowest in {slowest:?}",
        health.len()
    );
    let status = b.get("/status").await;
    assert_eq!(
        status.expect(200)["resident_indexes"]["loads"],
        1,
        "{}",
        status.text
    );
    a.clear_all(&on_a).await;
    a.stop().await;
    b.stop().await;
}
