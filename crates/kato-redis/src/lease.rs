//! [`LeaseLock`]: a named lock every process sharing the Redis sees, for work only one of them
//! may do at a time (applying the ClickHouse schema when several servers start at once).
//!
//! The lock is a key `kato:lock:{<name>}` holding the holder's random token with a lease: a
//! holder that dies frees it when the lease runs out, and releasing checks the token, so a
//! holder whose lease ran out cannot free a lock another process has taken since.

use std::time::Duration;

use crate::{RedisConnection, RedisError};

/// Releases the lock only if the caller's token still holds it.
pub(crate) const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A held lock; give it back with [`LeaseLock::release`].
#[derive(Debug)]
#[must_use = "a lease lock is held until released or until its lease runs out"]
pub struct LeaseLock {
    connection: RedisConnection,
    key: String,
    token: String,
}

impl LeaseLock {
    /// Takes the lock `name`, polling while another process holds it, for at most `wait`.
    pub async fn acquire(
        connection: &RedisConnection,
        name: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Self, RedisError> {
        let mut connection = connection.clone();
        let key = format!("kato:lock:{{{name}}}");
        let token = uuid::Uuid::new_v4().simple().to_string();
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query_async(&mut connection)
                .await?;
            if taken.is_some() {
                return Ok(Self {
                    connection,
                    key,
                    token,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RedisError::LockBusy {
                    name: name.to_owned(),
                    waited: wait,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Releases the lock (a no-op when its lease already ran out).
    pub async fn release(mut self) -> Result<(), RedisError> {
        redis::Script::new(UNLOCK_SCRIPT)
            .key(&self.key)
            .arg(&self.token)
            .invoke_async::<i64>(&mut self.connection)
            .await?;
        Ok(())
    }
}
