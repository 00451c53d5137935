//! `SessionStore`: session state with a sliding TTL, shared by every server instance.
//!
//! A session is a hash `kato:session:{<id>}` (`kato` being the configurable key prefix) with fields `state` (the server's JSON) and `ttl`
//! (its sliding TTL in seconds); the key's Redis TTL decides expiry. Writers serialise through a
//! lease lock `kato:session:{<id>}:lock` holding a random token, and a write only lands while
//! its token still holds the lock (checked in the same script), so two instances racing on one
//! session can never overwrite each other's update. Taking the lock reads the session (one
//! round trip) and saving releases it (one more). The braces make the id a hash tag: a
//! session's keys share one cluster slot, as the scripts need, so an id must not make an empty
//! tag (Redis ignores `{}`: an empty id, or one starting with `}`); kato-server only passes ids
//! of `[A-Za-z0-9_-]`.
//!
//! A sorted set `<prefix>:sessions:index` scores each session by the expiry recorded when it was
//! created or extended; `count` re-checks entries past their score against the keys (dropping
//! gone ones, re-scoring ones kept alive by use), so saves never touch it. A hash
//! `<prefix>:sessions:counters` counts the sessions ever created and deleted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lease::{UNLOCK_SCRIPT, renew_while_held};
use crate::{RedisConnection, RedisError};
use redis::AsyncCommands;

/// Stale index entries re-checked per count round trip.
const INDEX_CHECKS_PER_ROUND: isize = 1000;

/// Slides the TTL and returns `[state, ttl]`, or nil when the session does not exist.
const TOUCH_SCRIPT: &str = r"
local ttl = redis.call('HGET', KEYS[1], 'ttl')
if not ttl then return false end
redis.call('EXPIRE', KEYS[1], ttl)
return {redis.call('HGET', KEYS[1], 'state'), ttl}
";

/// Takes the lock and reads the session in one step: `{0}` no such session, `{1}` another
/// writer holds the lock, `{2, state, ttl}` locked (the TTL slid).
const LOCK_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
local ttl = redis.call('HGET', KEYS[1], 'ttl')
redis.call('EXPIRE', KEYS[1], ttl)
return {2, redis.call('HGET', KEYS[1], 'state'), ttl}
";

/// Writes the state if the caller's token still holds the lock, then releases it: 1 written,
/// 0 lock lost, -1 the session is gone (deleted or expired while the caller worked).
const SAVE_SCRIPT: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'ttl', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Where sessions live and how writers of one session wait for each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStoreConfig {
    /// How long a lock holds if its owner never releases it (a crashed instance).
    pub lease: Duration,
    /// How long a writer waits for the lock before giving up.
    pub wait: Duration,
    /// First part of every session key (`<prefix>:session:{<id>}`), so deployments (or tests)
    /// sharing one Redis can keep their sessions apart.
    pub key_prefix: String,
}

impl Default for SessionStoreConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            wait: Duration::from_secs(10),
            key_prefix: "kato".to_owned(),
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The server's JSON state.
    pub state: String,
    /// The sliding TTL in seconds.
    pub ttl_seconds: u64,
}

/// The right to write one session until released or until its lease runs out.
#[derive(Debug)]
#[must_use = "a session lock must be released with SessionStore::unlock"]
pub struct SessionLock {
    session_key: String,
    lock_key: String,
    token: String,
    /// Dropping it stops the task that renews the lease while the lock is held.
    _renewal: tokio::sync::oneshot::Sender<()>,
}

/// What a locked save found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The state was written.
    Saved,
    /// The lease ran out and another writer may have taken over; nothing was written.
    LockLost,
    /// The session was deleted or expired meanwhile; nothing was written.
    Gone,
}

/// Session state in Redis. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct SessionStore {
    connection: RedisConnection,
    config: SessionStoreConfig,
    /// Sorted set of session ids scored by when they expire (ms since the epoch), for counting.
    index_key: String,
    /// A hash of lifetime counts (`created`, `deleted`), shared by every instance.
    counters_key: String,
    touch: redis::Script,
    lock: redis::Script,
    save: redis::Script,
    unlock: redis::Script,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn expiry_score(ttl_seconds: u64) -> u64 {
    now_ms().saturating_add(ttl_seconds.saturating_mul(1000))
}

impl SessionStore {
    /// A store over `connection`.
    pub fn new(connection: RedisConnection, config: SessionStoreConfig) -> Self {
        Self {
            connection,
            index_key: format!("{}:sessions:index", config.key_prefix),
            counters_key: format!("{}:sessions:counters", config.key_prefix),
            config,
            touch: redis::Script::new(TOUCH_SCRIPT),
            lock: redis::Script::new(LOCK_SCRIPT),
            save: redis::Script::new(SAVE_SCRIPT),
            unlock: redis::Script::new(UNLOCK_SCRIPT),
        }
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:session:{{{id}}}", self.config.key_prefix)
    }

    fn lock_key(&self, id: &str) -> String {
        format!("{}:session:{{{id}}}:lock", self.config.key_prefix)
    }

    /// Stores a new session.
    pub async fn create(&self, id: &str, state: &str, ttl_seconds: u64) -> Result<(), RedisError> {
        let key = self.session_key(id);
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(&key, &[("state", state), ("ttl", &ttl_seconds.to_string())])
            .ignore()
            .expire(&key, ttl_as_i64(ttl_seconds))
            .ignore()
            .query_async::<()>(&mut connection)
            .await?;
        connection
            .zadd::<_, _, _, ()>(&self.index_key, id, expiry_score(ttl_seconds))
            .await?;
        connection
            .hincr::<_, _, _, ()>(&self.counters_key, "created", 1)
            .await?;
        Ok(())
    }

    /// (sessions ever created, sessions ever deleted) through this store's prefix, by every
    /// instance that shares the Redis.
    pub async fn lifetime_counts(&self) -> Result<(u64, u64), RedisError> {
        let mut connection = self.connection.clone();
        let (created, deleted): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(&self.counters_key)
            .arg("created")
            .arg("deleted")
            .query_async(&mut connection)
            .await?;
        Ok((created.unwrap_or(0), deleted.unwrap_or(0)))
    }

    /// The session, sliding its TTL; `None` when it does not exist or expired.
    pub async fn touch(&self, id: &str) -> Result<Option<StoredSession>, RedisError> {
        let mut connection = self.connection.clone();
        let found: Option<(String, u64)> = self
            .touch
            .key(self.session_key(id))
            .invoke_async(&mut connection)
            .await?;
        Ok(found.map(|(state, ttl_seconds)| StoredSession { state, ttl_seconds }))
    }

    /// Whether the session exists, without sliding its TTL.
    pub async fn exists(&self, id: &str) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.exists(self.session_key(id)).await?)
    }

    /// Sets the session's Redis TTL to `ttl_seconds` once; later accesses slide it by the
    /// session's own TTL again. `false` when the session does not exist.
    pub async fn extend(&self, id: &str, ttl_seconds: u64) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        let extended: bool = connection
            .expire(self.session_key(id), ttl_as_i64(ttl_seconds))
            .await?;
        if extended {
            connection
                .zadd::<_, _, _, ()>(&self.index_key, id, expiry_score(ttl_seconds))
                .await?;
        }
        Ok(extended)
    }

    /// Deletes the session; `false` when it did not exist.
    pub async fn delete(&self, id: &str) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        if !connection.is_cluster() {
            let (deleted,): (u64,) = redis::pipe()
                .del(self.session_key(id))
                .zrem(&self.index_key, id)
                .ignore()
                .query_async(&mut connection)
                .await?;
            if deleted > 0 {
                connection
                    .hincr::<_, _, _, ()>(&self.counters_key, "deleted", 1)
                    .await?;
            }
            return Ok(deleted > 0);
        }
        // On a cluster the session and the index live in different slots. The session is
        // gone once DEL answered; an index entry left behind is dropped by `count` once its
        // recorded expiry passes, so a failed ZREM is no failure of the delete.
        let deleted: u64 = connection.del(self.session_key(id)).await?;
        let _ = connection.zrem::<_, _, ()>(&self.index_key, id).await;
        if deleted > 0 {
            connection
                .hincr::<_, _, _, ()>(&self.counters_key, "deleted", 1)
                .await?;
        }
        Ok(deleted > 0)
    }

    /// Number of live sessions. Index entries past their recorded expiry are checked against
    /// the keys first ([`Self::sweep`]).
    pub async fn count(&self) -> Result<u64, RedisError> {
        self.sweep().await?;
        let mut connection = self.connection.clone();
        Ok(connection.zcard(&self.index_key).await?)
    }

    /// Checks the index entries past their recorded expiry against the keys: gone sessions
    /// are dropped, ones kept alive by reads are re-scored. Returns the ids of the sessions
    /// this call dropped: each expired session is reported by exactly one caller, whichever
    /// instance sweeps first.
    pub async fn sweep(&self) -> Result<Vec<String>, RedisError> {
        let mut connection = self.connection.clone();
        let mut expired = Vec::new();
        loop {
            let now = now_ms();
            let stale: Vec<String> = connection
                .zrangebyscore_limit(&self.index_key, 0, now, 0, INDEX_CHECKS_PER_ROUND)
                .await?;
            if stale.is_empty() {
                break;
            }
            let ttls: Vec<i64> = connection
                .query_each(
                    stale
                        .iter()
                        .map(|id| redis::Cmd::pttl(self.session_key(id)))
                        .collect(),
                )
                .await?;
            let mut update = redis::pipe();
            let mut gone = Vec::new();
            for (id, ttl_ms) in stale.into_iter().zip(ttls) {
                if ttl_ms < 0 {
                    update.zrem(&self.index_key, &id);
                    gone.push(id);
                } else {
                    let alive_until = now.saturating_add(ttl_ms.unsigned_abs()).max(now + 1);
                    update.zadd(&self.index_key, &id, alive_until).ignore();
                }
            }
            if gone.is_empty() {
                update.query_async::<()>(&mut connection).await?;
                continue;
            }
            let removed: Vec<u64> = update.query_async(&mut connection).await?;
            expired.extend(
                gone.into_iter()
                    .zip(removed)
                    .filter(|(_, removed)| *removed == 1)
                    .map(|(id, _)| id),
            );
        }
        Ok(expired)
    }

    /// The channel session events are published on, for every instance.
    pub fn events_channel(&self) -> String {
        format!("{}:sessions:events", self.config.key_prefix)
    }

    /// Publishes `event` (a text frame) to every instance subscribed to
    /// [`Self::events_channel`]; returns how many subscribers received it.
    pub async fn publish_event(&self, event: &str) -> Result<u64, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.publish(self.events_channel(), event).await?)
    }

    /// Takes the session's write lock and reads it (sliding its TTL), waiting up to the
    /// configured time while another writer holds it; `None` when the session does not exist.
    ///
    /// While the lock is held a background task renews its lease every third of it, so a
    /// long request keeps it; the task stops when the lock is saved, unlocked or dropped, and
    /// a crashed holder's lock expires one lease after its last renewal.
    pub async fn lock(&self, id: &str) -> Result<Option<(SessionLock, StoredSession)>, RedisError> {
        let session_key = self.session_key(id);
        let lock_key = self.lock_key(id);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let lease_ms = u64::try_from(self.config.lease.as_millis()).unwrap_or(u64::MAX);
        let deadline = tokio::time::Instant::now() + self.config.wait;
        let mut pause = Duration::from_millis(1);
        let mut connection = self.connection.clone();
        loop {
            let reply: Vec<redis::Value> = self
                .lock
                .key(&session_key)
                .key(&lock_key)
                .arg(&token)
                .arg(lease_ms)
                .invoke_async(&mut connection)
                .await?;
            match reply.as_slice() {
                [redis::Value::Int(0)] => return Ok(None),
                [redis::Value::Int(1)] => {}
                [redis::Value::Int(2), state, ttl] => {
                    let state: String = redis::from_redis_value_ref(state)
                        .map_err(|_| RedisError::UnexpectedReply("session state"))?;
                    let ttl_seconds: u64 = redis::from_redis_value_ref(ttl)
                        .map_err(|_| RedisError::UnexpectedReply("session ttl"))?;
                    let renewal = renew_while_held(
                        &self.connection,
                        lock_key.clone(),
                        token.clone(),
                        self.config.lease,
                    );
                    let lock = SessionLock {
                        session_key,
                        lock_key,
                        token,
                        _renewal: renewal,
                    };
                    return Ok(Some((lock, StoredSession { state, ttl_seconds })));
                }
                _ => return Err(RedisError::UnexpectedReply("session lock reply")),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RedisError::SessionBusy {
                    waited: self.config.wait,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Writes the session's state under `lock` and releases it (see [`SaveOutcome`]).
    pub async fn save(
        &self,
        lock: SessionLock,
        state: &str,
        ttl_seconds: u64,
    ) -> Result<SaveOutcome, RedisError> {
        let mut connection = self.connection.clone();
        let outcome: i64 = self
            .save
            .key(&lock.session_key)
            .key(&lock.lock_key)
            .arg(&lock.token)
            .arg(state)
            .arg(ttl_seconds)
            .invoke_async(&mut connection)
            .await?;
        match outcome {
            1 => Ok(SaveOutcome::Saved),
            0 => Ok(SaveOutcome::LockLost),
            -1 => Ok(SaveOutcome::Gone),
            _ => Err(RedisError::UnexpectedReply("session save outcome")),
        }
    }

    /// Releases `lock` (a no-op when its lease already ran out).
    pub async fn unlock(&self, lock: SessionLock) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        self.unlock
            .key(&lock.lock_key)
            .arg(&lock.token)
            .invoke_async::<i64>(&mut connection)
            .await?;
        Ok(())
    }
}

fn ttl_as_i64(ttl_seconds: u64) -> i64 {
    i64::try_from(ttl_seconds).unwrap_or(i64::MAX)
}
