//! Group commit: many concurrent callers, one writer task, one commit per batch.
//!
//! Callers hand an item to [`GroupCommit::submit`] and await their own result. The writer task
//! takes the first waiting item, gathers more for at most `max_delay` or until `max_items`,
//! commits them through the [`BatchSink`] in one go, and answers every caller of the batch
//! with its own output, or with the batch's error. Batches commit one after another, so the
//! sink sees items in submission order; that order is what makes a replay of the learn log
//! reproduce Redis exactly.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// How a batch is gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitConfig {
    /// The most items one commit carries.
    pub max_items: usize,
    /// How long the writer waits for more items after the first one arrived.
    pub max_delay: Duration,
    /// How many submitted items may wait for the writer before `submit` itself waits.
    pub queue_capacity: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self {
            max_items: 20_000,
            max_delay: Duration::from_millis(2),
            queue_capacity: 100_000,
        }
    }
}

/// Where a batch goes, in up to two phases. `commit` (the first phase) gets the items in
/// submission order and returns the rest of the commit (the second phase), which yields one
/// output per item, in the same order.
///
/// First phases run one at a time in batch order; so do second phases, and a batch's second
/// phase runs while the next batch's first phase does. A sink with one store finishes in the
/// first phase and returns a ready second phase ([`Finished`]); a sink over two stores that
/// must see batches in the same order (ClickHouse, then Redis) keeps both stores busy.
pub trait BatchSink: Send + Sync + 'static {
    /// One caller's unit of work.
    type Item: Send + 'static;
    /// What one caller gets back.
    type Output: Send + 'static;
    /// Why a whole batch failed; every caller of the batch receives it.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The second phase of a batch's commit.
    type Finish: Future<Output = Result<Vec<Self::Output>, Self::Error>> + Send + 'static;

    /// Runs the first phase of the batch's commit; resolves when it is acknowledged.
    fn commit(
        &self,
        items: Vec<Self::Item>,
    ) -> impl Future<Output = Result<Self::Finish, Self::Error>> + Send;
}

/// The second phase of a sink that finishes in its first.
pub type Finished<O, E> = std::future::Ready<Result<Vec<O>, E>>;

/// Why a submitted item did not commit.
#[derive(Debug, thiserror::Error)]
pub enum GroupCommitError<E: std::error::Error + 'static> {
    /// The batch holding the item failed.
    #[error(transparent)]
    Batch(Arc<E>),
    /// The writer task is gone (the runtime is shutting down).
    #[error("the group-commit writer has stopped")]
    WriterStopped,
}

/// Called with the size of every batch the writer commits (e.g. to export a histogram).
#[derive(Clone)]
pub struct BatchObserver(Arc<dyn Fn(usize) + Send + Sync>);

impl BatchObserver {
    /// An observer calling `observe` with each batch size.
    pub fn new(observe: impl Fn(usize) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }
}

impl std::fmt::Debug for BatchObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchObserver")
    }
}

type Reply<S> =
    oneshot::Sender<Result<<S as BatchSink>::Output, GroupCommitError<<S as BatchSink>::Error>>>;

/// A handle to the writer task; cheap to clone, shared by every caller.
#[derive(Debug)]
pub struct GroupCommit<S: BatchSink> {
    queue: mpsc::Sender<(S::Item, Reply<S>)>,
}

impl<S: BatchSink> Clone for GroupCommit<S> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<S: BatchSink> GroupCommit<S> {
    /// Spawns the writer task on the current tokio runtime. It ends when every handle is gone.
    pub fn spawn(sink: S, config: GroupCommitConfig) -> Self {
        Self::spawn_observed(sink, config, None)
    }

    /// [`GroupCommit::spawn`], telling `observer` the size of every batch before it commits.
    pub fn spawn_observed(
        sink: S,
        config: GroupCommitConfig,
        observer: Option<BatchObserver>,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        tokio::spawn(run_writer(sink, config, observer, receiver));
        Self { queue }
    }

    /// Submits one item and waits until its batch is committed.
    pub async fn submit(&self, item: S::Item) -> Result<S::Output, GroupCommitError<S::Error>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((item, reply))
            .await
            .map_err(|_| GroupCommitError::WriterStopped)?;
        answer.await.map_err(|_| GroupCommitError::WriterStopped)?
    }

    /// Submits several items at once (they queue back to back, so they usually share a batch)
    /// and waits for all of them; results are in item order.
    pub async fn submit_many(
        &self,
        items: Vec<S::Item>,
    ) -> Vec<Result<S::Output, GroupCommitError<S::Error>>> {
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let (reply, answer) = oneshot::channel();
            let queued = self.queue.send((item, reply)).await.is_ok();
            answers.push(queued.then_some(answer));
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Some(answer) => answer.await.unwrap_or(Err(GroupCommitError::WriterStopped)),
                None => Err(GroupCommitError::WriterStopped),
            });
        }
        results
    }
}

/// Runs second phases one at a time, in the order their first phases finished, and answers
/// each batch's callers.
async fn run_finisher<S: BatchSink>(mut finishes: mpsc::Receiver<(S::Finish, Vec<Reply<S>>)>) {
    while let Some((finish, replies)) = finishes.recv().await {
        answer::<S>(replies, finish.await);
    }
}

fn answer<S: BatchSink>(replies: Vec<Reply<S>>, outcome: Result<Vec<S::Output>, S::Error>) {
    match outcome {
        Ok(outputs) => {
            debug_assert_eq!(
                outputs.len(),
                replies.len(),
                "a sink returns one output per item"
            );
            for (reply, output) in replies.into_iter().zip(outputs) {
                // A caller that stopped waiting does not need its answer.
                let _ = reply.send(Ok(output));
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for reply in replies {
                let _ = reply.send(Err(GroupCommitError::Batch(Arc::clone(&error))));
            }
        }
    }
}

async fn run_writer<S: BatchSink>(
    sink: S,
    config: GroupCommitConfig,
    observer: Option<BatchObserver>,
    mut receiver: mpsc::Receiver<(S::Item, Reply<S>)>,
) {
    let max_items = config.max_items.max(1);
    // One batch may wait for its second phase while another runs it: the first phase of the
    // next batch overlaps the second phase of this one, and no more batches pile up.
    let (finishes, pending) = mpsc::channel(1);
    tokio::spawn(run_finisher::<S>(pending));
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while batch.len() < max_items {
            // Take what is already queued without waiting, then wait out the deadline.
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, receiver.recv()).await {
                        Ok(Some(next)) => batch.push(next),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        if let Some(BatchObserver(observe)) = &observer {
            observe(items.len());
        }
        match sink.commit(items).await {
            Ok(finish) => {
                if let Err(mpsc::error::SendError((finish, replies))) =
                    finishes.send((finish, replies)).await
                {
                    // The finisher is gone only if the runtime is shutting down; finish here.
                    answer::<S>(replies, finish.await);
                }
            }
            Err(error) => answer::<S>(replies, Err(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sink refused the batch")]
    struct Refused;

    /// Records every batch; refuses batches that contain a negative number.
    #[derive(Default)]
    struct RecordingSink {
        batches: Arc<Mutex<Vec<Vec<i64>>>>,
    }

    impl BatchSink for RecordingSink {
        type Item = i64;
        type Output = i64;
        type Error = Refused;
        type Finish = Finished<i64, Refused>;

        async fn commit(&self, items: Vec<i64>) -> Result<Self::Finish, Refused> {
            self.batches.lock().unwrap().push(items.clone());
            if items.iter().any(|i| *i < 0) {
                return Err(Refused);
            }
            Ok(std::future::ready(Ok(items
                .into_iter()
                .map(|i| i * 10)
                .collect())))
        }
    }

    /// Logs each phase: `("first", batch)` when a first phase starts and ends, and
    /// `("second", batch)` when a second phase ends, after a pause.
    /// (phase, batch) in the order the phases were seen.
    type PhaseLog = Arc<Mutex<Vec<(&'static str, Vec<i64>)>>>;

    #[derive(Default)]
    struct TwoPhaseSink {
        log: PhaseLog,
    }

    impl BatchSink for TwoPhaseSink {
        type Item = i64;
        type Output = i64;
        type Error = Refused;
        type Finish = std::pin::Pin<Box<dyn Future<Output = Result<Vec<i64>, Refused>> + Send>>;

        async fn commit(&self, items: Vec<i64>) -> Result<Self::Finish, Refused> {
            self.log.lock().unwrap().push(("first", items.clone()));
            let log = Arc::clone(&self.log);
            Ok(Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().unwrap().push(("second", items.clone()));
                Ok(items.into_iter().map(|i| -i).collect())
            }))
        }
    }

    #[tokio::test]
    async fn second_phases_run_in_batch_order_and_overlap_the_next_first_phase() {
        let sink = TwoPhaseSink::default();
        let log = Arc::clone(&sink.log);
        let config = GroupCommitConfig {
            max_items: 2,
            max_delay: Duration::from_millis(1),
            ..GroupCommitConfig::default()
        };
        let group = GroupCommit::spawn(sink, config);
        let results = group.submit_many((1..=6).collect()).await;
        let outputs: Vec<i64> = results.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(outputs, [-1, -2, -3, -4, -5, -6]);
        let log = log.lock().unwrap().clone();
        let seconds: Vec<Vec<i64>> = log
            .iter()
            .filter(|(phase, _)| *phase == "second")
            .map(|(_, batch)| batch.clone())
            .collect();
        let firsts: Vec<Vec<i64>> = log
            .iter()
            .filter(|(phase, _)| *phase == "first")
            .map(|(_, batch)| batch.clone())
            .collect();
        assert_eq!(
            seconds, firsts,
            "second phases follow the order of the first"
        );
        assert_eq!(seconds.concat(), [1, 2, 3, 4, 5, 6]);
        // The second batch's first phase started before the first batch's second phase ended.
        let first_of_second = log
            .iter()
            .position(|(phase, batch)| *phase == "first" && *batch == firsts[1])
            .unwrap();
        let second_of_first = log
            .iter()
            .position(|(phase, batch)| *phase == "second" && *batch == firsts[0])
            .unwrap();
        assert!(first_of_second < second_of_first, "{log:?}");
    }

    #[tokio::test]
    async fn every_caller_gets_its_own_output_and_batches_respect_max_items() {
        let sink = RecordingSink::default();
        let batches = Arc::clone(&sink.batches);
        let config = GroupCommitConfig {
            max_items: 8,
            max_delay: Duration::from_millis(20),
            queue_capacity: 1000,
        };
        let writer = GroupCommit::spawn(sink, config);
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move { (i, writer.submit(i).await.unwrap()) })
            })
            .collect();
        for task in tasks {
            let (i, output) = task.await.unwrap();
            assert_eq!(output, i * 10);
        }
        let batches = batches.lock().unwrap();
        assert!(batches.iter().all(|b| b.len() <= 8));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(batches.len() < 100, "concurrent submissions were grouped");
    }

    #[tokio::test]
    async fn a_failed_batch_reaches_every_caller_in_it() {
        let writer = GroupCommit::spawn(
            RecordingSink::default(),
            GroupCommitConfig {
                max_items: 100,
                max_delay: Duration::from_millis(50),
                queue_capacity: 100,
            },
        );
        // Both are queued before the (current-thread) writer runs, so they share a batch.
        let (good, bad) = tokio::join!(writer.submit(1), writer.submit(-1));
        assert!(matches!(good, Err(GroupCommitError::Batch(_))), "{good:?}");
        assert!(matches!(bad, Err(GroupCommitError::Batch(_))), "{bad:?}");
        // The writer goes on after a failure.
        assert_eq!(writer.submit(2).await.unwrap(), 20);
    }

    #[tokio::test]
    async fn submit_many_answers_in_item_order() {
        let writer = GroupCommit::spawn(RecordingSink::default(), GroupCommitConfig::default());
        let results = writer.submit_many((1..=50).collect()).await;
        let outputs: Vec<i64> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(outputs, (1..=50).map(|i| i * 10).collect::<Vec<_>>());
    }
}
