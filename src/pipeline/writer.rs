//! The writer of a fetch round: one thread that stores what ingest prepared, one transaction per
//! feed ([`Store::ingest_batch`]), in the order the feeds finish. The CPU pool hands a batch over
//! and goes on with the next feed instead of waiting for SQLite, and no commit ever runs on the
//! async reactor. The queue is bounded, so prepared batches cannot pile up in memory.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use super::PipelineError;
use crate::store::{FetchSuccess, IngestBatch, IngestCounts, Store, StoreError};

/// Batches waiting for the writer at most (each is one feed's new and changed articles).
const QUEUE: usize = 8;

struct Job {
    feed: String,
    batch: IngestBatch,
    success: FetchSuccess,
    now: Timestamp,
    reply: oneshot::Sender<Result<IngestCounts, StoreError>>,
}

/// Handle to the writer thread; dropping it lets the thread finish its queue and joins it.
pub(super) struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `store`.
    pub(super) fn start(store: Arc<Mutex<Store>>) -> Result<Writer, PipelineError> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("digestif-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        let mut guard = match store.lock() {
                            Ok(g) => g,
                            Err(poisoned) => poisoned.into_inner(),
                        };
                        guard.ingest_batch(&job.feed, &job.batch, &job.success, job.now)
                    }));
                    // A panic drops the reply; the waiting feed reports it.
                    if let Ok(r) = result {
                        let _ = job.reply.send(r);
                    }
                }
            })
            .map_err(|e| PipelineError::Join(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stores one feed's batch and new cache state in one transaction; waits for the commit.
    pub(super) async fn ingest(
        &self,
        feed: &str,
        batch: IngestBatch,
        success: FetchSuccess,
        now: Timestamp,
    ) -> Result<IngestCounts, PipelineError> {
        let stopped = || PipelineError::Join("the writer thread stopped".into());
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            feed: feed.to_string(),
            batch,
            success,
            now,
            reply,
        };
        tx.send(job).await.map_err(|_| stopped())?;
        Ok(answer.await.map_err(|_| stopped())??)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
