/// Everything that can go wrong in kato-redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("invalid redis url {url:?}: {source}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the client said about it.
        source: redis::RedisError,
    },
    /// Redis was unreachable or rejected a command.
    #[error("redis: {0}")]
    Command(#[from] redis::RedisError),
    /// Another request held the session's write lock for longer than a writer waits.
    #[error("the session is busy: another request held it for more than {waited:?}")]
    SessionBusy {
        /// How long this writer waited.
        waited: std::time::Duration,
    },
    /// Another process held a [`crate::LeaseLock`] for longer than this one waits.
    #[error("the lock {name:?} is busy: another process held it for more than {waited:?}")]
    LockBusy {
        /// The lock's name.
        name: String,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// Redis answered with something kato did not ask for.
    #[error("unexpected reply from redis: {0}")]
    UnexpectedReply(&'static str),
}
