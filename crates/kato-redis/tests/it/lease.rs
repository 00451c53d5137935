//! `LeaseLock` against a real Redis: one holder at a time, a lease that frees a dead holder's
//! lock and is renewed while held, and a late release that cannot free the next holder's.

use std::time::Duration;

use kato_redis::{LeaseLock, RedisConfig, RedisError};

#[tokio::test]
async fn one_holder_at_a_time_and_leases_run_out() {
    let Some(url) = kato_test_support::redis_url("lease_lock") else {
        return;
    };
    let connection = kato_redis::connect(&url, &RedisConfig::default())
        .await
        .expect("connect");
    let name = kato_test_support::unique_kb_id("lease");
    let long = Duration::from_secs(30);
    let first = LeaseLock::acquire(&connection, &name, long, long)
        .await
        .unwrap();
    let busy = LeaseLock::acquire(&connection, &name, long, Duration::from_millis(250)).await;
    assert!(
        matches!(&busy, Err(RedisError::LockBusy { name: n, .. }) if *n == name),
        "{busy:?}"
    );
    first.release().await.unwrap();
    let second = LeaseLock::acquire(&connection, &name, long, Duration::ZERO)
        .await
        .expect("free once released");
    second.release().await.unwrap();

    // A holder that is gone without releasing (a crashed process: its renewal stopped) holds
    // only for its lease.
    let short = Duration::from_millis(300);
    let crashed = LeaseLock::acquire(&connection, &name, short, long)
        .await
        .unwrap();
    drop(crashed);
    let next = LeaseLock::acquire(&connection, &name, long, Duration::from_secs(5))
        .await
        .expect("taken once the lease ran out");
    next.release().await.unwrap();

    // While held, the lease is renewed: a holder outlives its lease many times over.
    let renewed = LeaseLock::acquire(&connection, &name, short, long)
        .await
        .unwrap();
    tokio::time::sleep(short * 4).await;
    let still_held = LeaseLock::acquire(&connection, &name, long, Duration::from_millis(250)).await;
    assert!(
        matches!(still_held, Err(RedisError::LockBusy { .. })),
        "{still_held:?}"
    );

    // A holder whose lock was lost (its key expired during an outage) and taken by another
    // cannot free the new holder's lock.
    let mut raw = connection.clone();
    redis::cmd("DEL")
        .arg(format!("kato:lock:{{{name}}}"))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    let next = LeaseLock::acquire(&connection, &name, long, Duration::ZERO)
        .await
        .expect("free once the key is gone");
    renewed.release().await.unwrap();
    let still_held = LeaseLock::acquire(&connection, &name, long, Duration::from_millis(250)).await;
    assert!(
        matches!(still_held, Err(RedisError::LockBusy { .. })),
        "{still_held:?}"
    );
    next.release().await.unwrap();
}
