//! Proves the harness reaches a real Redis (a standalone server or a cluster) through `kato_redis::connect`.

use redis::AsyncCommands;

#[tokio::test]
async fn write_and_read_keys_through_a_connection() {
    let Some(url) = kato_test_support::redis_url("write_and_read_keys_through_a_connection") else {
        return;
    };
    let mut redis = kato_redis::connect(&url, &kato_redis::RedisConfig::default())
        .await
        .expect("connect");
    let kb = kato_test_support::unique_kb_id("redis_smoke");
    let text_key = format!("kato:{{{kb}}}:smoke:text");
    let counter_key = format!("kato:{{{kb}}}:smoke:counter");

    let () = redis.set(&text_key, "café it's").await.expect("set");
    let read: String = redis.get(&text_key).await.expect("get");
    assert_eq!(read, "café it's");

    let first: i64 = redis.incr(&counter_key, 1).await.expect("incr");
    let second: i64 = redis.incr(&counter_key, 41).await.expect("incr");
    assert_eq!((first, second), (1, 42));

    let removed: usize = redis.del(&[&text_key, &counter_key]).await.expect("del");
    assert_eq!(removed, 2);
    let gone: Option<String> = redis.get(&text_key).await.expect("get after del");
    assert_eq!(gone, None);
}

#[tokio::test]
async fn an_invalid_url_is_a_typed_error() {
    let err = kato_redis::connect("not a url", &kato_redis::RedisConfig::default())
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, kato_redis::RedisError::InvalidUrl { .. }),
        "{err}"
    );
}
