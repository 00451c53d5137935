//! Subscriptions to a Redis pub/sub channel, for events every instance must see (kato-server's
//! session events). On a Redis Cluster a message published on any node reaches the
//! subscribers of every node, so one subscription to the first node of the list suffices.

use crate::RedisError;

/// A live subscription to one channel.
pub struct EventSubscription {
    messages: futures_util::stream::BoxStream<'static, redis::Msg>,
}

impl std::fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSubscription").finish_non_exhaustive()
    }
}

impl EventSubscription {
    /// Subscribes to `channel` on the Redis of `url` (for a comma-separated cluster list, its
    /// first node).
    pub async fn subscribe(url: &str, channel: &str) -> Result<Self, RedisError> {
        let node = url.split(',').next().unwrap_or(url).trim();
        let client = redis::Client::open(node)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(Self {
            messages: Box::pin(pubsub.into_on_message()),
        })
    }

    /// The next message's text; `None` once the connection is gone (subscribe again).
    pub async fn next(&mut self) -> Option<String> {
        use futures_util::StreamExt;
        loop {
            let message = self.messages.next().await?;
            if let Ok(text) = message.get_payload::<String>() {
                return Some(text);
            }
        }
    }
}
