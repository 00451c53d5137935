//! The 13 golden prediction examples of spec `predictions.md` section 8 through HTTP: the
//! patterns are learned in a session (observe, learn, clear-stm between), the example's
//! configuration is set with POST config, the STM is observed and GET predictions is read.
//! The values and tolerance (5e-5) are those of kato-kb's golden test.
//!
//! Every example's setup can be made through the API: `sort_symbols` is on by default,
//! the filter pipeline is empty by default, finalize-training precomputes nothing here, and
//! `recall_threshold`, `fuzzy_token_threshold` and `use_token_matching` are session keys.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_close, node};

type Events<'a> = &'a [&'a [&'a str]];

/// A server, a session of a fresh node with `patterns` learned (each `times` times), the
/// session configured with `config` and holding `stm`.
struct Golden {
    server: TestServer,
    session: String,
}

impl Golden {
    async fn start(test: &str, patterns: &[(Events<'_>, usize)]) -> Option<Self> {
        let server = TestServer::start(test).await?;
        let session = server.create_session(&node(test)).await;
        for (events, times) in patterns {
            server.learn_events(&session, events, *times).await;
        }
        Some(Self { server, session })
    }

    /// Sets `config`, replaces the STM by `stm` and reads the predictions.
    async fn predict(&self, config: Value, stm: Events<'_>) -> Value {
        self.server.set_config(&self.session, config).await;
        self.server.clear_stm(&self.session).await;
        self.server.observe_all(&self.session, stm).await;
        let body = self.server.predictions(&self.session).await;
        let count = body["predictions"].as_array().expect("a list").len();
        assert_eq!(body["count"], count, "{body}");
        body
    }

    async fn finish(self) {
        self.server.clear_all(&self.session).await;
        self.server.stop().await;
    }
}

fn threshold(value: f64) -> Value {
    json!({ "recall_threshold": value })
}

#[track_caller]
fn assert_all_close(prediction: &Value, expected: &[(&str, f64)]) {
    for (field, value) in expected {
        assert_close(prediction, field, *value);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex01_past_and_present() {
    let Some(g) = Golden::start(
        "golden_ex01",
        &[(&[&["beginning"], &["middle"], &["end"]], 1)],
    )
    .await
    else {
        return;
    };
    let out = g.predict(threshold(0.3), &[&["middle"], &["end"]]).await;
    assert_eq!(out["count"], 1);
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["middle", "end"]));
    assert_eq!(p["past"], json!([["beginning"]]));
    assert_eq!(p["present"], json!([["middle"], ["end"]]));
    assert_eq!(p["future"], json!([]));
    assert_eq!(p["missing"], json!([[], []]));
    assert_eq!(p["extras"], json!([[], []]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.8),
            ("evidence", 0.6667),
            ("confidence", 1.0),
            ("snr", 1.0),
            ("fragmentation", 0.0),
            ("itfdf_similarity", 1.0),
            ("confluence", 0.0),
            ("entropy", 1.0),
            ("normalized_entropy", 0.6309),
            ("global_normalized_entropy", 0.0),
            ("tfidf_score", 0.5),
            ("predictive_information", 0.0),
            ("bayesian_prior", 1.0),
            ("bayesian_posterior", 1.0),
            ("bayesian_likelihood", 0.8),
            ("potential", 3.6667),
        ],
    );
    // An empty future is left out of future_potentials.
    assert_eq!(out["future_potentials"], json!([]));
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex02_event_aligned_missing() {
    let Some(g) = Golden::start(
        "golden_ex02",
        &[(&[&["hello", "world"], &["foo", "bar"]], 1)],
    )
    .await
    else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["hello"], &["foo"]]).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["hello", "foo"]));
    assert_eq!(p["past"], json!([]));
    assert_eq!(p["present"], json!([["hello", "world"], ["bar", "foo"]]));
    assert_eq!(p["missing"], json!([["world"], ["bar"]]));
    assert_eq!(p["extras"], json!([[], []]));
    assert_eq!(p["future"], json!([]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.6667),
            ("fragmentation", 1.0),
            ("evidence", 0.5),
            ("confidence", 0.5),
            ("snr", 1.0),
            ("itfdf_similarity", std::f64::consts::FRAC_1_SQRT_2),
            ("entropy", 2.0),
            ("normalized_entropy", 1.0),
            ("tfidf_score", 0.25),
            ("potential", 2.2071),
        ],
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex03_missing_plus_extras() {
    let Some(g) = Golden::start("golden_ex03", &[(&[&["a", "b"], &["c", "d"]], 1)]).await else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["a", "x"], &["c", "y"]]).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["a", "c"]));
    assert_eq!(p["present"], json!([["a", "b"], ["c", "d"]]));
    assert_eq!(p["missing"], json!([["b"], ["d"]]));
    assert_eq!(p["extras"], json!([["x"], ["y"]]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.5),
            ("evidence", 0.5),
            ("confidence", 0.5),
            ("snr", 0.3333),
            ("fragmentation", 1.0),
            ("itfdf_similarity", std::f64::consts::FRAC_1_SQRT_2),
            ("potential", 1.5404),
        ],
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex04_future_and_future_potentials() {
    let Some(g) = Golden::start(
        "golden_ex04",
        &[(&[&["a", "b"], &["c", "d"], &["e", "f"]], 1)],
    )
    .await
    else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["a"], &["c"]]).await;
    let p = &out["predictions"][0];
    assert_eq!(p["present"], json!([["a", "b"], ["c", "d"]]));
    assert_eq!(p["missing"], json!([["b"], ["d"]]));
    assert_eq!(p["future"], json!([["e", "f"]]));
    assert_eq!(p["extras"], json!([[], []]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.5),
            ("evidence", 0.3333),
            ("confidence", 0.5),
            ("snr", 1.0),
            ("fragmentation", 1.0),
            ("normalized_entropy", 0.7737),
            ("predictive_information", 0.5),
            ("potential", 2.0404),
        ],
    );
    assert_eq!(
        out["future_potentials"],
        json!([{"future": [["e", "f"]], "aggregate_potential": 1.0,
                "supporting_patterns": 1, "total_weighted_frequency": 0.5}])
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex05_three_patterns_with_a_shared_prefix() {
    let Some(g) = Golden::start(
        "golden_ex05",
        &[
            (&[&["shared"], &["branch_a"], &["end_a"]], 1),
            (&[&["shared"], &["branch_b"], &["end_b"]], 1),
            (&[&["shared"], &["branch_c"], &["end_c"]], 1),
        ],
    )
    .await
    else {
        return;
    };
    let out = g
        .predict(threshold(0.1), &[&["shared"], &["branch_a"]])
        .await;
    let rows = out["predictions"].as_array().expect("predictions");
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(rows[0]["matches"], json!(["shared", "branch_a"]));
    assert_eq!(rows[0]["future"], json!([["end_a"]]));
    assert_all_close(
        &rows[0],
        &[
            ("similarity", 0.8),
            ("evidence", 0.6667),
            ("confidence", 1.0),
            ("snr", 1.0),
            ("itfdf_similarity", 1.0),
            ("confluence", 0.2222),
            ("global_normalized_entropy", 0.1882),
            ("tfidf_score", 0.8962),
            ("predictive_information", 0.5333),
            ("bayesian_prior", 0.3333),
            ("bayesian_posterior", 0.5),
            ("potential", 3.6667),
        ],
    );
    // Rows 2 and 3 tie; here they come in name order (DESIGN.md section 8).
    let mut futures = Vec::new();
    for row in &rows[1..] {
        assert_eq!(row["matches"], json!(["shared"]));
        assert_eq!(row["present"], json!([["shared"]]));
        assert_eq!(row["extras"], json!([[], ["branch_a"]]));
        assert_all_close(
            row,
            &[
                ("similarity", 0.4),
                ("evidence", 0.3333),
                ("confidence", 1.0),
                ("snr", 0.3333),
                ("itfdf_similarity", 0.9829),
                ("confluence", 0.0),
                ("global_normalized_entropy", 0.0),
                ("tfidf_score", 1.0),
                ("predictive_information", 0.5333),
                ("bayesian_prior", 0.3333),
                ("bayesian_posterior", 0.25),
                ("potential", 2.4273),
            ],
        );
        futures.push(row["future"].clone());
    }
    futures.sort_by_key(Value::to_string);
    assert_eq!(
        futures,
        [
            json!([["branch_b"], ["end_b"]]),
            json!([["branch_c"], ["end_c"]])
        ]
    );
    assert!(rows[1]["name"].as_str() < rows[2]["name"].as_str());
    let potentials = out["future_potentials"].as_array().expect("a list");
    assert_eq!(potentials.len(), 3, "{out}");
    assert_eq!(potentials[0]["future"], json!([["end_a"]]));
    assert_eq!(potentials[0]["supporting_patterns"], 1);
    assert_close(&potentials[0], "aggregate_potential", 0.5);
    assert_close(&potentials[0], "total_weighted_frequency", 0.8);
    for item in &potentials[1..] {
        assert_close(item, "aggregate_potential", 0.25);
        assert_eq!(item["supporting_patterns"], 1);
        assert_close(item, "total_weighted_frequency", 0.4);
    }
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex06_misaligned_stm_negative_snr() {
    let Some(g) = Golden::start(
        "golden_ex06",
        &[(
            &[
                &["p1"],
                &["p2"],
                &["p3"],
                &["shared_symbol"],
                &["p5"],
                &["p6"],
            ],
            1,
        )],
    )
    .await
    else {
        return;
    };
    let stm: Events<'_> = &[&["s1"], &["s2"], &["shared_symbol"], &["s4"], &["s5"]];
    let out = g.predict(threshold(0.1), stm).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["shared_symbol"]));
    assert_eq!(p["past"], json!([["p1"], ["p2"], ["p3"]]));
    assert_eq!(p["present"], json!([["shared_symbol"]]));
    assert_eq!(p["future"], json!([["p5"], ["p6"]]));
    assert_eq!(p["missing"], json!([[]]));
    assert_eq!(p["extras"], json!([["s1"], ["s2"], [], ["s4"], ["s5"]]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.1818),
            ("evidence", 0.1667),
            ("confidence", 1.0),
            ("snr", -0.3333),
            ("fragmentation", 0.0),
            ("itfdf_similarity", 1.0),
            ("predictive_information", 0.1818),
            ("potential", 1.6111),
        ],
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex07_threshold_zero_with_an_unrelated_stm() {
    let Some(g) = Golden::start(
        "golden_ex07",
        &[(&[&["known"], &["pattern"], &["here"]], 1)],
    )
    .await
    else {
        return;
    };
    let stm: Events<'_> = &[&["unknown1"], &["unknown2"]];
    let out = g.predict(threshold(0.0), stm).await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!([]));
    assert_eq!(p["past"], json!([]));
    assert_eq!(p["present"], json!([["known"], ["pattern"], ["here"]]));
    assert_eq!(p["future"], json!([]));
    assert_eq!(p["missing"], json!([["known"], ["pattern"], ["here"]]));
    assert_eq!(p["extras"], json!([["unknown1"], ["unknown2"]]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.0),
            ("evidence", 0.0),
            ("confidence", 0.0),
            ("snr", -1.0),
            ("fragmentation", -1.0),
            ("itfdf_similarity", 0.0),
            ("entropy", 1.585),
            ("tfidf_score", 0.3333),
            ("bayesian_posterior", 0.0),
            ("potential", 0.0),
        ],
    );
    let out = g.predict(threshold(0.1), stm).await;
    assert_eq!(out["predictions"], json!([]));
    assert_eq!(out["count"], 0);
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex08_frequency() {
    let Some(g) = Golden::start("golden_ex08", &[(&[&["identical"], &["pattern"]], 3)]).await
    else {
        return;
    };
    let out = g
        .predict(threshold(0.1), &[&["identical"], &["pattern"]])
        .await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    assert_eq!(p["frequency"], json!(3));
    assert_eq!(p["name"], "fc32085f3f8d64997a4628543544a63879421c8e");
    assert_all_close(
        p,
        &[
            ("similarity", 1.0),
            ("evidence", 1.0),
            ("confidence", 1.0),
            ("snr", 1.0),
            ("fragmentation", 0.0),
            ("bayesian_prior", 1.0),
            ("bayesian_posterior", 1.0),
            ("itfdf_similarity", 1.0),
            ("confluence", 0.0),
            ("potential", 4.0),
        ],
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex09_single_symbol_fast_path() {
    let Some(g) = Golden::start("golden_ex09", &[(&[&["a"], &["b"], &["c"], &["d"]], 1)]).await
    else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["a"]]).await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    // The lists are flat on this path.
    assert_eq!(p["matches"], json!(["a"]));
    assert_eq!(p["past"], json!([]));
    assert_eq!(p["present"], json!(["a"]));
    assert_eq!(p["future"], json!(["b", "c", "d"]));
    assert_eq!(p["missing"], json!([]));
    assert_eq!(p["extras"], json!([]));
    assert_eq!(p["pattern_data"], json!([["a"], ["b"], ["c"], ["d"]]));
    assert_eq!(p["length"], 4);
    assert_eq!(p["fragmentation"], json!(0));
    assert_all_close(
        p,
        &[
            ("similarity", 0.4),
            ("evidence", 0.25),
            ("confidence", 1.0),
            ("snr", 1.0),
            ("potential", 2.25),
        ],
    );
    // `b` is not a first token.
    let out = g.predict(threshold(0.1), &[&["b"]]).await;
    assert_eq!(out["predictions"], json!([]));
    // With [[a],[b],[c]] learned too, the shorter pattern ranks first (kato-core's test).
    g.server
        .learn_events(&g.session, &[&["a"], &["b"], &["c"]], 1)
        .await;
    let out = g.predict(threshold(0.1), &[&["a"]]).await;
    assert_eq!(out["count"], 2, "{out}");
    let first = &out["predictions"][0];
    assert_eq!(first["pattern_data"], json!([["a"], ["b"], ["c"]]));
    assert_eq!(first["length"], 3);
    assert_all_close(
        first,
        &[
            ("similarity", 0.5),
            ("evidence", 0.3333),
            ("potential", 2.3333),
        ],
    );
    assert_eq!(out["predictions"][1]["length"], 4);
    assert_eq!(out["future_potentials"], json!([]));
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex10_lcs_similarity_versus_difflib_blocks() {
    let Some(g) = Golden::start("golden_ex10", &[(&[&["a"], &["c"], &["a"]], 1)]).await else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["c"], &["d"], &["a"]]).await;
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["a"]));
    assert_eq!(p["present"], json!([["a"]]));
    assert_eq!(p["future"], json!([["c"], ["a"]]));
    assert_eq!(p["extras"], json!([["c"], ["d"], []]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.6667),
            ("evidence", 0.3333),
            ("confidence", 1.0),
            ("snr", 0.0),
            ("potential", 2.0),
        ],
    );
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex11_duplicate_stm_symbol() {
    let Some(g) = Golden::start("golden_ex11", &[(&[&["a"], &["b"], &["c"]], 1)]).await else {
        return;
    };
    let out = g.predict(threshold(0.1), &[&["a"], &["a"], &["b"]]).await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    assert_eq!(p["extras"], json!([[], [], []]));
    assert_all_close(p, &[("snr", 0.6), ("potential", 2.9487)]);
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex12_fuzzy_tokens() {
    let Some(g) = Golden::start(
        "golden_ex12",
        &[(&[&["apple", "banana", "cherry", "date", "elderberry"]], 1)],
    )
    .await
    else {
        return;
    };
    let out = g
        .predict(
            json!({"recall_threshold": 0.1, "fuzzy_token_threshold": 0.85}),
            &[&["apple", "bannana", "chery"]],
        )
        .await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["apple", "bannana", "chery"]));
    let anomalies = p["anomalies"].as_array().expect("anomalies");
    assert_eq!(anomalies.len(), 2, "{p}");
    for (anomaly, (observed, expected, similarity)) in anomalies
        .iter()
        .zip([("bannana", "banana", 0.9231), ("chery", "cherry", 0.9091)])
    {
        assert_eq!(anomaly["observed"], observed);
        assert_eq!(anomaly["expected"], expected);
        assert_close(anomaly, "similarity", similarity);
    }
    assert_eq!(
        p["present"],
        json!([["apple", "banana", "cherry", "date", "elderberry"]])
    );
    assert_eq!(
        p["missing"],
        json!([["banana", "cherry", "date", "elderberry"]])
    );
    assert_eq!(p["extras"], json!([["bannana", "chery"]]));
    assert_all_close(
        p,
        &[
            ("similarity", 0.25),
            ("evidence", 0.6),
            ("confidence", 0.6),
            ("snr", 1.0),
            ("potential", 2.6472),
        ],
    );
    // Without the fuzzy threshold only `apple` matches.
    let out = g
        .predict(
            json!({"fuzzy_token_threshold": null}),
            &[&["apple", "bannana", "chery"]],
        )
        .await;
    assert_eq!(out["predictions"][0]["matches"], json!(["apple"]));
    g.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex13_character_mode() {
    let Some(g) = Golden::start("golden_ex13", &[(&[&["apple", "banana", "cherry"]], 1)]).await
    else {
        return;
    };
    let out = g
        .predict(
            json!({"recall_threshold": 0.1, "use_token_matching": false}),
            &[&["apple", "banana"]],
        )
        .await;
    assert_eq!(out["count"], 1, "{out}");
    let p = &out["predictions"][0];
    assert_eq!(p["matches"], json!(["apple", "banana"]));
    assert_eq!(p["missing"], json!([["cherry"]]));
    assert_all_close(p, &[("similarity", 0.7742), ("potential", 3.1498)]);
    g.finish().await;
}
