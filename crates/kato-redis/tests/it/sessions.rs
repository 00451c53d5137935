//! `SessionStore` against a real Redis: sliding TTL, the fenced lock, counting.

use std::sync::Arc;
use std::time::Duration;

use kato_redis::{RedisConfig, SaveOutcome, SessionStore, SessionStoreConfig};

/// A store with its own key prefix, so counts see only this test's sessions.
async fn store(test: &str, mut config: SessionStoreConfig) -> Option<SessionStore> {
    let url = kato_test_support::redis_url(test)?;
    let connection = kato_redis::connect(&url, &RedisConfig::default())
        .await
        .expect("connect");
    config.key_prefix = kato_test_support::unique_kb_id(test);
    Some(SessionStore::new(connection, config))
}

fn session_id(label: &str) -> String {
    kato_test_support::unique_kb_id(label).replace('_', "-")
}

#[tokio::test]
async fn create_touch_extend_delete() {
    let Some(store) = store("sessions_lifecycle", SessionStoreConfig::default()).await else {
        return;
    };
    let id = session_id("lifecycle");
    assert_eq!(store.touch(&id).await.unwrap(), None);
    store.create(&id, "{\"a\":1}", 120).await.unwrap();
    let stored = store.touch(&id).await.unwrap().expect("created");
    assert_eq!(
        (stored.state.as_str(), stored.ttl_seconds),
        ("{\"a\":1}", 120)
    );
    assert!(store.exists(&id).await.unwrap());
    assert!(store.extend(&id, 5).await.unwrap());
    assert!(store.delete(&id).await.unwrap());
    assert!(!store.delete(&id).await.unwrap());
    assert!(!store.exists(&id).await.unwrap());
    assert!(!store.extend(&id, 5).await.unwrap());
}

#[tokio::test]
async fn a_session_expires_by_its_ttl_and_touches_slide_it() {
    let Some(store) = store("sessions_ttl", SessionStoreConfig::default()).await else {
        return;
    };
    let id = session_id("ttl");
    store.create(&id, "{}", 2).await.unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(
            store.touch(&id).await.unwrap().is_some(),
            "a touch slides the ttl"
        );
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(store.touch(&id).await.unwrap().is_none(), "expired");
}

#[tokio::test]
async fn racing_writers_lose_no_update() {
    let Some(store) = store("sessions_race", SessionStoreConfig::default()).await else {
        return;
    };
    let store = Arc::new(store);
    let id = session_id("race");
    store.create(&id, "0", 60).await.unwrap();
    let writers: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let id = id.clone();
            tokio::spawn(async move {
                let (lock, stored) = store.lock(&id).await.unwrap().expect("exists");
                let current: u64 = stored.state.parse().unwrap();
                tokio::task::yield_now().await;
                store
                    .save(lock, &(current + 1).to_string(), 60)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.await.unwrap(), SaveOutcome::Saved);
    }
    assert_eq!(store.touch(&id).await.unwrap().unwrap().state, "20");
    store.delete(&id).await.unwrap();
}

#[tokio::test]
async fn a_lost_lock_writes_nothing_and_a_busy_session_times_out() {
    let Some(url) = kato_test_support::redis_url("sessions_lease") else {
        return;
    };
    let mut connection = kato_redis::connect(&url, &RedisConfig::default())
        .await
        .expect("connect");
    let prefix = kato_test_support::unique_kb_id("sessions_lease");
    let store = SessionStore::new(
        connection.clone(),
        SessionStoreConfig {
            wait: Duration::from_millis(100),
            key_prefix: prefix.clone(),
            ..SessionStoreConfig::default()
        },
    );
    let id = session_id("lease");
    store.create(&id, "first", 60).await.unwrap();
    assert!(store.lock("no-such-session").await.unwrap().is_none());
    let (held, stored) = store.lock(&id).await.unwrap().expect("exists");
    assert_eq!(stored.state, "first");
    let busy = store.lock(&id).await;
    assert!(
        matches!(busy, Err(kato_redis::RedisError::SessionBusy { .. })),
        "{busy:?}"
    );
    // The lock is lost (as when its lease ran out during a Redis outage) and taken by another.
    redis::cmd("DEL")
        .arg(format!("{prefix}:session:{{{id}}}:lock"))
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    let (second, _) = store
        .lock(&id)
        .await
        .expect("the lock is free")
        .expect("exists");
    assert_eq!(
        store.save(held, "stale", 60).await.unwrap(),
        SaveOutcome::LockLost
    );
    assert_eq!(
        store.save(second, "second", 60).await.unwrap(),
        SaveOutcome::Saved
    );
    assert_eq!(store.touch(&id).await.unwrap().unwrap().state, "second");
    let (third, _) = store
        .lock(&id)
        .await
        .unwrap()
        .expect("saving released the lock");
    store.delete(&id).await.unwrap();
    assert_eq!(
        store.save(third, "ghost", 60).await.unwrap(),
        SaveOutcome::Gone
    );
    assert!(
        store.touch(&id).await.unwrap().is_none(),
        "a deleted session is not recreated"
    );
    assert!(
        store.lock(&id).await.unwrap().is_none(),
        "a deleted session cannot be locked"
    );
}

#[tokio::test]
async fn count_sees_live_sessions_only() {
    let Some(store) = store("sessions_count", SessionStoreConfig::default()).await else {
        return;
    };
    assert_eq!(store.count().await.unwrap(), 0);
    let ids: Vec<String> = (0..3).map(|n| session_id(&format!("count{n}"))).collect();
    for id in &ids {
        store.create(id, "{}", 60).await.unwrap();
    }
    let short = session_id("count_short");
    store.create(&short, "{}", 1).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 4);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    store.delete(&ids[0]).await.unwrap();
    assert_eq!(
        store.count().await.unwrap(),
        2,
        "the expired and the deleted are gone"
    );
    for id in &ids[1..] {
        store.delete(id).await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_held_lock_is_renewed_until_saved() {
    let config = SessionStoreConfig {
        lease: Duration::from_millis(300),
        wait: Duration::from_millis(50),
        ..SessionStoreConfig::default()
    };
    let Some(store) = store("sessions_renewal", config).await else {
        return;
    };
    let id = session_id("renewal");
    store.create(&id, "first", 60).await.unwrap();
    let (held, _) = store.lock(&id).await.unwrap().expect("exists");
    // Three leases later the lock still holds: it was renewed.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(
        store.lock(&id).await,
        Err(kato_redis::RedisError::SessionBusy { .. })
    ));
    assert_eq!(
        store.save(held, "second", 60).await.unwrap(),
        SaveOutcome::Saved
    );
    // A dropped lock stops being renewed and lapses after one lease.
    let (dropped, _) = store.lock(&id).await.unwrap().expect("exists");
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(store.lock(&id).await.unwrap().is_some(), "the lease lapsed");
    store.delete(&id).await.unwrap();
}
