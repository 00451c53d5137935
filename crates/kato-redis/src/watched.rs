//! A connection that notes how long Redis has left kato waiting: the time since the first
//! command sent after its last reply. A server that hangs keeps growing it (whatever the
//! response timeout makes of each command); a busy but healthy one resets it with every reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A [`ConnectionManager`] whose every command goes through [`Silence`]. Cheap to clone;
/// clones share the connection and the silence.
#[derive(Clone)]
pub(crate) struct Watched {
    connection: ConnectionManager,
    silence: Arc<Silence>,
}

impl Watched {
    pub(crate) fn new(connection: ConnectionManager) -> Self {
        Self {
            connection,
            silence: Arc::new(Silence::new()),
        }
    }

    /// The connection without the watch (for commands of tests and admin tools).
    pub(crate) fn unwatched(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// How long the oldest command since the last reply has gone unanswered; `None` when
    /// every command so far was answered.
    pub(crate) fn silent_for(&self) -> Option<Duration> {
        self.silence.silent_for()
    }
}

impl ConnectionLike for Watched {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Self {
            connection,
            silence,
        } = self;
        silence.asked();
        let reply = connection.req_packed_command(cmd);
        Box::pin(async move { silence.noted(reply.await) })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Self {
            connection,
            silence,
        } = self;
        silence.asked();
        let replies = connection.req_packed_commands(pipeline, offset, count);
        Box::pin(async move { silence.noted(replies.await) })
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}

#[derive(Debug)]
struct Silence {
    origin: Instant,
    /// Nanoseconds from `origin` to the first unanswered command, plus one; 0 when every
    /// command sent so far was answered.
    since: AtomicU64,
}

impl Silence {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    fn asked(&self) {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        // Only the first command after a reply starts the silence.
        let _ = self
            .since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Ends the silence when `reply` came from Redis: an error reply is an answer, a timeout
    /// or a broken connection is not.
    fn noted<T>(&self, reply: redis::RedisResult<T>) -> redis::RedisResult<T> {
        let answered = match &reply {
            Ok(_) => true,
            Err(error) => {
                !(error.is_timeout() || error.is_io_error() || error.is_connection_dropped())
            }
        };
        if answered {
            self.since.store(0, Ordering::Relaxed);
        }
        reply
    }

    fn silent_for(&self) -> Option<Duration> {
        match self.since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(
                self.origin
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(since - 1)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_starts_at_the_first_unanswered_command_and_ends_at_a_reply() {
        let silence = Silence::new();
        assert_eq!(silence.silent_for(), None);
        silence.asked();
        std::thread::sleep(Duration::from_millis(20));
        silence.asked();
        let first = silence.silent_for().unwrap();
        assert!(first >= Duration::from_millis(20), "{first:?}");
        let timeout = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let _ = silence.noted::<()>(Err(timeout));
        assert!(silence.silent_for().is_some(), "a timeout is no answer");
        let _ = silence.noted(Ok(()));
        assert_eq!(silence.silent_for(), None);
    }
}
