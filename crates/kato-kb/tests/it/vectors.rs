//! Learned vectors: stored by one process and found by the next search of another, their
//! dimension locked by the first, repeats stored once, cleared with the kb, and kept through a
//! rehydrate (which deletes the Redis side).

use kato_kb::ObservedVector;

use crate::support::{TestKb, kb_id};

fn vector(name: &str, components: &[f64]) -> ObservedVector {
    ObservedVector {
        name: name.to_owned(),
        components: components.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_are_shared_locked_to_one_dimension_cleared_and_kept_through_a_rehydrate() {
    let Some(first) = TestKb::start("vectors_are_shared").await else {
        return;
    };
    let clickhouse = kato_test_support::clickhouse_url("vectors_are_shared").unwrap();
    let redis = kato_test_support::redis_url("vectors_are_shared").unwrap();
    let mut config = kato_kb::KnowledgeBaseConfig::new(&clickhouse, &redis);
    config.clickhouse_database.clone_from(&first.database);
    let second = kato_kb::KnowledgeBase::connect(config).await.unwrap();
    let kb = kb_id("vectors");

    // The second process's index is loaded (empty) before the first learns.
    let none = second.nearest_vectors(&kb, &[0.0, 0.0], 3).await.unwrap();
    assert_eq!(none.dimension, None);
    assert!(none.names.is_empty());

    let learned = first
        .kb
        .learn_vectors(
            &kb,
            &[
                vector("VCTR|a", &[1.0, 0.0]),
                vector("VCTR|b", &[0.0, 1.0]),
                vector("VCTR|long", &[1.0, 1.0, 1.0]),
                vector("VCTR|a", &[1.0, 0.0]),
            ],
        )
        .await
        .unwrap();
    assert_eq!((learned.stored, learned.refused), (2, 1));
    let again = first
        .kb
        .learn_vectors(
            &kb,
            &[vector("VCTR|a", &[1.0, 0.0]), vector("VCTR|c", &[5.0, 5.0])],
        )
        .await
        .unwrap();
    assert_eq!((again.stored, again.refused), (1, 0), "a is stored once");

    let found = second.nearest_vectors(&kb, &[0.9, 0.2], 3).await.unwrap();
    assert_eq!(found.dimension, Some(2));
    assert_eq!(found.names, ["VCTR|a", "VCTR|b", "VCTR|c"]);
    let found = second.nearest_vectors(&kb, &[0.9, 0.2], 1).await.unwrap();
    assert_eq!(found.names, ["VCTR|a"]);
    // Another dimension finds nothing, and says the kb's.
    let other = second
        .nearest_vectors(&kb, &[1.0, 0.0, 0.0], 3)
        .await
        .unwrap();
    assert_eq!((other.dimension, other.names.len()), (Some(2), 0));

    // A rehydrate deletes the Redis side; the stored vectors keep the kb's dimension.
    first.kb.rehydrate(&kb).await.unwrap();
    let after = first
        .kb
        .learn_vectors(&kb, &[vector("VCTR|d3", &[0.0, 0.0, 0.0])])
        .await
        .unwrap();
    assert_eq!((after.stored, after.refused), (0, 1));
    let found = second.nearest_vectors(&kb, &[0.0, 0.9], 2).await.unwrap();
    assert_eq!(found.names, ["VCTR|b", "VCTR|a"]);

    // clear-all removes them for every process; a new dimension may then be learned.
    first.kb.clear_all(&kb).await.unwrap();
    let cleared = second.nearest_vectors(&kb, &[0.9, 0.2], 3).await.unwrap();
    assert_eq!(cleared, kato_kb::NearestVectors::default());
    first
        .kb
        .learn_vectors(&kb, &[vector("VCTR|d3", &[0.0, 0.0, 0.0])])
        .await
        .unwrap();
    let found = second
        .nearest_vectors(&kb, &[0.0, 0.0, 1.0], 3)
        .await
        .unwrap();
    assert_eq!(found.names, ["VCTR|d3"]);
    first.finish(&[&kb]).await;
}
