//! Reads of bodies against a real ClickHouse: streaming a kb, bodies by name, candidates.

use std::collections::BTreeMap;
use std::time::Duration;

use kato_clickhouse::{
    CandidateBase, CandidateBody, CandidateFilter, ClickHouseError, ClickHouseStore, PatternWrite,
    schema,
};
use kato_test_support::TcpProxy;

use crate::support::{drop_database, kb, kb_1_of, name, store, write};

fn names(bodies: Vec<CandidateBody>) -> Vec<String> {
    bodies.into_iter().map(|b| b.name).collect()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Pattern `i` of a generated kb: a distinct name and body.
fn numbered(kb: &kato_core::KbId, i: usize) -> PatternWrite {
    let first = format!("s{i}");
    let second = format!("t{}", i % 7);
    write(kb, &format!("n{i}"), &[&[&first, "common"], &[&second]])
}

#[tokio::test]
async fn stream_bodies_gives_every_body_of_the_kb_duplicates_included() {
    let Some(store) = store("stream_bodies_gives_every_body_of_the_kb_duplicates_included").await
    else {
        return;
    };
    // No merge may collapse the duplicates before the stream reads them.
    store
        .client()
        .query("SYSTEM STOP MERGES patterns_data")
        .execute()
        .await
        .unwrap();
    let kb = kb("stream");
    let writes: Vec<PatternWrite> = (0..300).map(|i| numbered(&kb, i)).collect();
    for batch in writes.chunks(70) {
        store.insert_batch(batch).await.unwrap();
    }
    store.insert_batch(&writes[..20]).await.unwrap();
    store
        .insert_batch(&[write(&kb_1_of(&kb), "n1", &[&["elsewhere"]])])
        .await
        .unwrap();

    let expected: BTreeMap<String, Vec<Vec<String>>> = writes
        .iter()
        .map(|w| (w.pattern.name.clone(), w.pattern.pattern_data.clone()))
        .collect();
    let mut stream = store.stream_bodies(&kb).unwrap();
    let mut rows = 0;
    let mut seen = BTreeMap::new();
    while let Some(body) = stream.next().await.unwrap() {
        rows += 1;
        if let Some(earlier) = seen.insert(body.name.clone(), body.pattern_data.clone()) {
            assert_eq!(earlier, body.pattern_data, "a duplicate has the same body");
        }
    }
    assert_eq!(rows, 320, "the 20 patterns inserted twice come twice");
    assert_eq!(seen, expected, "every body of the kb and nothing of kb_1");
    assert_eq!(
        stream.next().await.unwrap(),
        None,
        "an ended stream stays ended"
    );

    let mut empty = store.stream_bodies(&kb_1_of(&kb_1_of(&kb))).unwrap();
    assert_eq!(
        empty.next().await.unwrap(),
        None,
        "an empty kb streams nothing"
    );
    assert_eq!(empty.next().await.unwrap(), None);
    drop_database(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_times_out_per_call_and_then_refuses_to_go_on() {
    let Some(url) =
        kato_test_support::clickhouse_url("a_stream_times_out_per_call_and_then_refuses_to_go_on")
    else {
        return;
    };
    let database = kato_test_support::unique_kb_id("db");
    let direct_client = kato_clickhouse::connect(&url);
    schema::ensure_schema(&direct_client, &database)
        .await
        .unwrap();
    let direct = ClickHouseStore::new(direct_client, &database).unwrap();
    let kb = kb("streamhang");
    let writes: Vec<PatternWrite> = (0..5).map(|i| numbered(&kb, i)).collect();
    direct.insert_batch(&writes).await.unwrap();

    let proxy = TcpProxy::start(&url).await;
    let timeout = Duration::from_millis(300);
    let store = ClickHouseStore::new(kato_clickhouse::connect(&proxy.url("http")), &database)
        .unwrap()
        .with_timeout(timeout);
    // Each call has its own timeout: slow reading of a stream is fine.
    let mut stream = store.stream_bodies(&kb).unwrap();
    assert!(stream.next().await.unwrap().is_some());
    tokio::time::sleep(timeout * 2).await;
    let mut rows = 1;
    while stream.next().await.unwrap().is_some() {
        rows += 1;
    }
    assert_eq!(rows, 5);

    proxy.pause();
    let mut hung = store.stream_bodies(&kb).unwrap();
    let started = std::time::Instant::now();
    let failed = hung.next().await;
    assert!(
        matches!(failed, Err(ClickHouseError::Timeout(t)) if t == timeout),
        "{failed:?}"
    );
    assert!(started.elapsed() < timeout * 3, "{:?}", started.elapsed());
    let again = hung.next().await;
    assert!(
        matches!(again, Err(ClickHouseError::StreamFailed)),
        "{again:?}"
    );
    proxy.resume().await;
    drop_database(&direct).await;
}

#[tokio::test]
async fn bodies_by_names_gives_one_body_per_existing_name() {
    let Some(store) = store("bodies_by_names_gives_one_body_per_existing_name").await else {
        return;
    };
    store
        .client()
        .query("SYSTEM STOP MERGES patterns_data")
        .execute()
        .await
        .unwrap();
    let kb = kb("byname");
    let writes: Vec<PatternWrite> = (0..10).map(|i| numbered(&kb, i)).collect();
    store.insert_batch(&writes).await.unwrap();
    store.insert_batch(&writes[..3]).await.unwrap();
    store
        .insert_batch(&[write(&kb_1_of(&kb), "other", &[&["x"]])])
        .await
        .unwrap();

    // Duplicated rows (0..3), repeated names, a missing name, another kb's name, and enough
    // missing names that the list takes several queries.
    let mut asked: Vec<String> = [0, 2, 5, 2, 9]
        .iter()
        .map(|i| name(&format!("n{i}")))
        .collect();
    asked.push(name("missing"));
    asked.push(name("other"));
    asked.extend((0..5000).map(|i| format!("{i:040x}")));
    let found = store.bodies_by_names(&kb, &asked).await.unwrap();
    let expected: Vec<CandidateBody> = {
        let mut bodies: Vec<CandidateBody> = [0, 2, 5, 9]
            .iter()
            .map(|&i| CandidateBody {
                name: writes[i].pattern.name.clone(),
                pattern_data: writes[i].pattern.pattern_data.clone(),
            })
            .collect();
        bodies.sort_by(|a, b| a.name.cmp(&b.name));
        bodies
    };
    assert_eq!(found, expected);
    assert!(store.bodies_by_names(&kb, &[]).await.unwrap().is_empty());
    drop_database(&store).await;
}

#[tokio::test]
async fn candidates_by_base_and_filters() {
    let Some(store) = store("candidates_by_base_and_filters").await else {
        return;
    };
    let kb = kb("cand");
    let other = kb_1_of(&kb);
    store
        .insert_batch(&[
            write(&kb, "ab", &[&["a"], &["b"]]),
            write(
                &kb,
                "abcdefgh",
                &[&["a"], &["c", "d", "e"], &["f", "g", "h"]],
            ),
            write(&kb, "xy", &[&["x"], &["y"]]),
            write(&kb, "ba", &[&["b"], &["a"], &["a"]]),
            write(&other, "ab", &[&["a"], &["b"]]),
        ])
        .await
        .unwrap();
    assert_eq!(
        store
            .candidates(&kb, &CandidateBase::All, &[])
            .await
            .unwrap()
            .len(),
        4,
        "every pattern of the kb and none of kb_1"
    );
    let first_a = names(
        store
            .candidates(&kb, &CandidateBase::FirstToken("a".into()), &[])
            .await
            .unwrap(),
    );
    assert_eq!(first_a, sorted(vec![name("ab"), name("abcdefgh")]));

    let tokens = vec!["a".to_owned(), "b".to_owned()];
    let length = CandidateFilter::Length { min: 2, max: 3 };
    assert_eq!(
        names(
            store
                .candidates(&kb, &CandidateBase::All, &[length])
                .await
                .unwrap()
        ),
        sorted(vec![name("ab"), name("ba"), name("xy")])
    );
    let jaccard = CandidateFilter::Jaccard {
        tokens: tokens.clone(),
        threshold: 0.5,
        min_overlap: 2,
    };
    assert_eq!(
        names(
            store
                .candidates(&kb, &CandidateBase::All, &[jaccard])
                .await
                .unwrap()
        ),
        sorted(vec![name("ab"), name("ba")])
    );
    let shares = CandidateFilter::SharesToken { tokens };
    assert_eq!(
        store
            .candidates(&kb, &CandidateBase::All, &[shares])
            .await
            .unwrap()
            .len(),
        3
    );
    drop_database(&store).await;
}

#[tokio::test]
async fn the_minhash_filter_matches_a_band_only_at_its_own_index() {
    let Some(store) = store("the_minhash_filter_matches_a_band_only_at_its_own_index").await else {
        return;
    };
    let kb = kb("lsh");
    let with_bands = |label: &str, bands: Vec<u64>| {
        let mut w = write(&kb, label, &[&[label]]);
        w.pattern.lsh_bands = bands;
        w
    };
    store
        .insert_batch(&[
            with_bands("p1", (0..20).map(|i| 100 + i).collect()),
            with_bands("p2", (0..20).map(|i| 200 + i).collect()),
            // Fewer bands than the STM has (learned with another band setting).
            with_bands("p3", (0..10).map(|i| 300 + i).collect()),
            with_bands("p4", Vec::new()),
            with_bands("p5", vec![u64::MAX; 20]),
        ])
        .await
        .unwrap();
    // An STM whose 20 bands match nothing, except where `set` says.
    let stm = |set: &[(usize, u64)]| -> Vec<u64> {
        let mut bands: Vec<u64> = (0..20).map(|i| 9000 + i).collect();
        for &(index, hash) in set {
            bands[index] = hash;
        }
        bands
    };
    let found = async |bands: Vec<u64>, signature: Vec<u32>, threshold: f64| {
        let filter = CandidateFilter::MinHash {
            bands,
            signature,
            threshold,
        };
        names(
            store
                .candidates(&kb, &CandidateBase::All, &[filter])
                .await
                .unwrap(),
        )
    };
    let same: Vec<u32> = (0..100).collect();
    assert!(found(stm(&[]), same.clone(), 0.0).await.is_empty());
    assert_eq!(
        found(stm(&[(5, 105)]), same.clone(), 1.0).await,
        [name("p1")]
    );
    assert_eq!(
        found(stm(&[(5, 105), (19, 219)]), same.clone(), 1.0).await,
        sorted(vec![name("p1"), name("p2")])
    );
    assert!(
        found(stm(&[(4, 203), (6, 105)]), same.clone(), 0.0)
            .await
            .is_empty(),
        "p2's band 3 at index 4 and p1's band 5 at index 6 match nothing"
    );
    // Band counts that differ compare the indexes both have, and never fail.
    assert_eq!(
        found(stm(&[(7, 307)]), same.clone(), 1.0).await,
        [name("p3")]
    );
    assert!(
        found(stm(&[(15, 307)]), same.clone(), 0.0).await.is_empty(),
        "p3 has no band 15"
    );
    assert_eq!(
        found(vec![1, 101], same.clone(), 1.0).await,
        [name("p1")],
        "an STM with fewer bands"
    );
    assert_eq!(
        found(stm(&[(0, u64::MAX)]), same.clone(), 1.0).await,
        [name("p5")],
        "the whole u64 range binds"
    );
    // Then the estimated Jaccard: 50 of 100 positions equal.
    let half: Vec<u32> = (0..100)
        .map(|i| if i < 50 { i } else { 1000 + i })
        .collect();
    assert_eq!(
        found(stm(&[(5, 105)]), half.clone(), 0.5).await,
        [name("p1")]
    );
    assert!(found(stm(&[(5, 105)]), half, 0.51).await.is_empty());
    assert!(
        store
            .candidates(
                &kb,
                &CandidateBase::All,
                &[CandidateFilter::MinHash {
                    bands: Vec::new(),
                    signature: same,
                    threshold: 0.0,
                }]
            )
            .await
            .unwrap()
            .is_empty(),
        "an STM without bands shares none"
    );
    drop_database(&store).await;
}
