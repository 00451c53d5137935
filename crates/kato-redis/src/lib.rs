//! kato-redis: where kato keeps pattern metadata, counters and sessions.
//!
//! Connections go through a [`ConnectionManager`], which multiplexes one connection and
//! reconnects by itself after Redis comes back.

mod error;

pub use error::RedisError;
pub use redis::aio::ConnectionManager;

/// Opens a managed connection to the Redis at `url` (e.g. `redis://127.0.0.1:6379`).
pub async fn connect(url: &str) -> Result<ConnectionManager, RedisError> {
    let client = redis::Client::open(url).map_err(|source| RedisError::InvalidUrl {
        url: url.to_owned(),
        source,
    })?;
    Ok(ConnectionManager::new(client).await?)
}
