//! The Redis side of a kb's learned vectors: the dimension its first vector locked, and the
//! vector feed on which learns announce new vectors to every process's resident vector index
//! (the pattern feed's scheme, `feed.lua`, with the same generation). All keys are under the
//! kb's `index:` prefix: bookkeeping that `dump_kb` leaves out and clear-all removes.

use kato_core::KbId;
use redis::AsyncCommands;

use crate::RedisError;
use crate::keys::KbKeys;
use crate::writer::{FeedRead, RedisWriter};

pub(crate) const ANNOUNCE_SCRIPT: &str = include_str!("announce.lua");
/// Entries the vector feed keeps (a reader further behind rebuilds).
const VECTOR_FEED_CAP: usize = 100_000;

impl RedisWriter {
    /// The dimension of `kb`'s vectors: `dimension` when the kb had none (this call locks it),
    /// else the one locked before.
    pub async fn lock_vector_dimension(
        &self,
        kb: &KbId,
        dimension: usize,
    ) -> Result<usize, RedisError> {
        let key = KbKeys::new(kb).vector_dimension();
        let mut connection = self.connection.clone();
        let (locked,): (usize,) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(dimension)
            .arg("NX")
            .ignore()
            .get(&key)
            .query_async(&mut connection)
            .await?;
        Ok(locked)
    }

    /// The dimension `kb`'s vectors locked, if any vector was learned since its last clear.
    pub async fn vector_dimension(&self, kb: &KbId) -> Result<Option<usize>, RedisError> {
        let mut connection = self.connection.clone();
        Ok(connection.get(KbKeys::new(kb).vector_dimension()).await?)
    }

    /// Announces vectors whose rows ClickHouse acknowledged, in order.
    pub async fn announce_vectors(&self, kb: &KbId, names: &[String]) -> Result<(), RedisError> {
        if names.is_empty() {
            return Ok(());
        }
        let keys = KbKeys::new(kb);
        let mut connection = self.connection.clone();
        let mut invocation = self.announce_script.prepare_invoke();
        invocation
            .key(keys.vector_sequence())
            .key(keys.vector_feed())
            .arg(VECTOR_FEED_CAP);
        for name in names {
            invocation.arg(name);
        }
        let _: u64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    /// Where `kb`'s vector feed stands (as [`RedisWriter::index_feed_position`]).
    pub async fn vector_feed_position(
        &self,
        kb: &KbId,
        generation_if_missing: &str,
    ) -> Result<FeedRead, RedisError> {
        let keys = KbKeys::new(kb);
        let feed = [keys.vector_sequence(), keys.vector_feed()];
        self.read_any_feed(feed, &keys, generation_if_missing, "", 1)
            .await
    }

    /// At most `max` vector feed entries after `after` (as [`RedisWriter::index_feed_after`]).
    pub async fn vector_feed_after(
        &self,
        kb: &KbId,
        after: &str,
        max: usize,
    ) -> Result<FeedRead, RedisError> {
        let keys = KbKeys::new(kb);
        let feed = [keys.vector_sequence(), keys.vector_feed()];
        self.read_any_feed(feed, &keys, "", after, max).await
    }
}
