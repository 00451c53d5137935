//! How long ClickHouse has left kato waiting: the time since the first call made after its
//! last answer. A server that hangs keeps growing it; a busy but healthy one resets it with
//! every answer, however slow each single call is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Silence {
    origin: Instant,
    /// Nanoseconds from `origin` to the first unanswered call, plus one; 0 when every call
    /// made so far was answered.
    since: AtomicU64,
}

impl Silence {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    /// A call goes out.
    pub(crate) fn asked(&self) {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        // Only the first call after an answer starts the silence.
        let _ = self
            .since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// ClickHouse answered a call.
    pub(crate) fn answered(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// How long the oldest call since the last answer has gone unanswered.
    pub(crate) fn silent_for(&self) -> Option<Duration> {
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
    fn silence_starts_at_the_first_unanswered_call_and_ends_at_an_answer() {
        let silence = Silence::new();
        assert_eq!(silence.silent_for(), None);
        silence.asked();
        std::thread::sleep(Duration::from_millis(20));
        silence.asked();
        let first = silence.silent_for().unwrap();
        assert!(first >= Duration::from_millis(20), "{first:?}");
        silence.answered();
        assert_eq!(silence.silent_for(), None);
    }
}
