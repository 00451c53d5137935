//! kato-redis: where kato keeps pattern metadata, counters and sessions.
//!
//! [`RedisWriter`] applies learns with one Lua script (`learn.lua`, run by EVALSHA), each learn
//! atomically (a run of learns of one kb shares one script call):
//! frequency, emotive window, metadata union, symbol statistics, affinity and global counters,
//! with the reference's first-learn vs re-learn semantics. Connections are a
//! [`RedisConnection`]: one multiplexed, self-reconnecting connection to a standalone server,
//! or a cluster client when the URL lists several nodes of a Redis Cluster.
//!
//! [`SessionStore`] keeps session state with a sliding TTL and a fenced write lock, so any
//! server instance can serve any session without losing an update (see `sessions.rs`).
//!
//! Keys live under `kato:{<kb_id>}:` (see `keys.rs`). Where the layout differs from the
//! reference's: the emotive window is a list of JSON objects and metadata a hash of
//! `["key","value"]` fields, so the script needs no JSON parsing and the bytes it stores do not
//! depend on Lua table order.

mod connection;
mod error;
mod events;
mod keys;
mod lease;
mod sessions;
mod vectors;
mod writer;

pub use connection::{RedisConnection, connect, without_password};
pub use error::RedisError;
pub use events::EventSubscription;
pub use lease::LeaseLock;
pub use sessions::{SaveOutcome, SessionLock, SessionStore, SessionStoreConfig, StoredSession};
pub use writer::{
    FeedEntry, FeedRead, GlobalCounters, LearnOutcome, LearnUpdate, PatternSummary,
    PredictionValues, READS_PER_PIPELINE, RedisConfig, RedisWriter, StoredValue, SymbolStats,
};
