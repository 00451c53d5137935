//! kato-redis: where kato keeps pattern metadata, counters and sessions.
//!
//! [`RedisWriter`] applies learns with one Lua script (`learn.lua`, run by EVALSHA), each learn
//! atomically (a run of learns of one kb shares one script call):
//! frequency, emotive window, metadata union, symbol statistics, affinity and global counters,
//! with the reference's first-learn vs re-learn semantics. Connections go through a
//! `ConnectionManager`, which multiplexes one connection and reconnects by itself.
//!
//! [`SessionStore`] keeps session state with a sliding TTL and a fenced write lock, so any
//! server instance can serve any session without losing an update (see `sessions.rs`).
//!
//! Keys live under `kato:{<kb_id>}:` (see `keys.rs`). Where the layout differs from the
//! reference's: the emotive window is a list of JSON objects and metadata a hash of
//! `["key","value"]` fields, so the script needs no JSON parsing and the bytes it stores do not
//! depend on Lua table order.

mod error;
mod keys;
mod sessions;
mod watched;
mod writer;

pub use error::RedisError;
pub use redis::aio::ConnectionManager;
pub use sessions::{SaveOutcome, SessionLock, SessionStore, SessionStoreConfig, StoredSession};
pub use writer::{
    GlobalCounters, LearnOutcome, LearnUpdate, PatternSummary, READS_PER_PIPELINE, RedisConfig,
    RedisWriter, StoredValue, SymbolStats,
};

/// `url` with any password replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Opens a managed connection to the Redis at `url` (e.g. `redis://127.0.0.1:6379`) with the
/// connect and response timeouts of `config`.
pub async fn connect(url: &str, config: &RedisConfig) -> Result<ConnectionManager, RedisError> {
    let client = redis::Client::open(url).map_err(|source| RedisError::InvalidUrl {
        url: without_password(url),
        source,
    })?;
    let manager_config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(2);
    Ok(ConnectionManager::new_with_config(client, manager_config).await?)
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            without_password("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(without_password("redis://host:6379"), "redis://host:6379");
    }
}
