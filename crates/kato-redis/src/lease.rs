//! [`LeaseLock`]: a named lock every process sharing the Redis sees, for work only one of them
//! may do at a time (applying the ClickHouse schema when several servers start at once).
//!
//! The lock is a key `kato:lock:{<name>}` holding the holder's random token with a lease,
//! renewed by a background task every third of it while the lock is held: a holder that dies
//! frees it one lease after its last renewal, and releasing checks the token, so a holder
//! whose lease ran out cannot free a lock another process has taken since.

use std::time::Duration;

use crate::{RedisConnection, RedisError};

/// Releases the lock only if the caller's token still holds it.
pub(crate) const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Extends the lease if the caller's token still holds the lock: 1 extended, 0 lost.
pub(crate) const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// A held lock; give it back with [`LeaseLock::release`].
#[derive(Debug)]
#[must_use = "a lease lock is held until released or until its lease runs out"]
pub struct LeaseLock {
    connection: RedisConnection,
    key: String,
    token: String,
    /// Dropping it stops the task that renews the lease.
    _renewal: tokio::sync::oneshot::Sender<()>,
}

impl LeaseLock {
    /// Takes the lock `name`, polling while another process holds it, for at most `wait`; the
    /// lease is renewed while the lock is held.
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
                let renewal = renew_while_held(&connection, key.clone(), token.clone(), lease);
                return Ok(Self {
                    connection,
                    key,
                    token,
                    _renewal: renewal,
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

/// Spawns the task renewing a held lock's lease every third of it; it ends when the returned
/// sender is dropped or the lock is no longer this holder's.
pub(crate) fn renew_while_held(
    connection: &RedisConnection,
    key: String,
    token: String,
    lease: Duration,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let renew = redis::Script::new(RENEW_SCRIPT);
    let mut connection = connection.clone();
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(lease / 3) => {}
            }
            let renewed: Result<i64, _> = renew
                .key(&key)
                .arg(&token)
                .arg(lease_ms)
                .invoke_async(&mut connection)
                .await;
            if !matches!(renewed, Ok(1)) {
                return;
            }
        }
    });
    stop
}
