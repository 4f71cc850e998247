//! `OffsetCommitter`: one per source task, beside it under the connector's supervisor. Every
//! `offset.flush.interval.ms` (and once more when the task stops or fails) it writes the offsets
//! whose records the broker acknowledged to the worker's offset store, then tells the task so
//! it can run its `commit`. A failed write fails the committer, and with it the task.
//!
//! Why one per task rather than per worker: its life is the task's (started, stopped and
//! restarted together), and a slow or failing store write for one task never delays another's.
//!
//! It owns the task's [`PendingOffsets`]: the task sends it each poll's runs over a channel,
//! librdkafka counts their acknowledgements, and the committer reads the channel and the
//! counters when it commits. Since it keeps the runs itself, its final commit after the task
//! crashed still writes every offset the broker acknowledged (see [`super::acks`]).

use std::sync::Arc;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::Instrument;

use super::acks::{PendingOffsets, SubmittedRun};
use super::source::SourceTaskMsg;
use super::task_span;
use crate::context::{OffsetWriteError, WorkerContext};
use crate::metrics::TaskMetrics;

/// A periodic commit failed: the committer stops with it, and the supervisor fails the task.
#[derive(Debug, thiserror::Error)]
#[error("cannot commit source offsets: {0}")]
pub struct CommitFailed(#[source] pub OffsetWriteError);

pub enum CommitterMsg {
    Tick,
    /// Commit now and answer with how many partitions were written (or the store's error).
    CommitNow(RpcReplyPort<Result<usize, OffsetWriteError>>),
}

pub struct OffsetCommitter;

pub struct CommitterArgs {
    pub worker: Arc<WorkerContext>,
    pub connector: String,
    pub task_id: u32,
    /// Each poll's runs, from the task.
    pub runs: UnboundedReceiver<Vec<SubmittedRun>>,
    pub task: Option<ActorRef<SourceTaskMsg>>,
}

pub struct CommitterState {
    args: CommitterArgs,
    pending: PendingOffsets,
    timer: Option<JoinHandle<()>>,
    metrics: TaskMetrics,
}

impl CommitterState {
    /// The store write is awaited, never waited for on the thread: a stalled broker parks this
    /// actor, not one of tokio's worker threads (REST and heartbeats run on those).
    async fn commit(&mut self) -> Result<usize, OffsetWriteError> {
        while let Ok(runs) = self.args.runs.try_recv() {
            for run in runs {
                self.pending.add(run);
            }
        }
        let entries = self.pending.take_committable();
        if entries.is_empty() {
            return Ok(0);
        }
        let n = entries.len();
        let started = std::time::Instant::now();
        let writes = entries
            .iter()
            .map(|(p, o)| (p.map().clone(), Some(o.clone())))
            .collect();
        let written = self.args.worker.offsets.put(&self.args.connector, writes);
        if let Err(e) = written.await {
            // Keep them committable so the next tick (or the final commit) writes them.
            self.pending.restore(entries);
            self.metrics.commit_failure.increment(1);
            return Err(e);
        }
        self.metrics.commit_success.increment(1);
        self.metrics.commit_time.record(started.elapsed());
        tracing::debug!(partitions = n, "committed source offsets");
        if let Some(t) = &self.args.task {
            let _ = t.send_message(SourceTaskMsg::OffsetsCommitted);
        }
        Ok(n)
    }
}

impl Actor for OffsetCommitter {
    type Msg = CommitterMsg;
    type State = CommitterState;
    type Arguments = CommitterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: CommitterArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let every = args.worker.config.offset_flush_interval;
        let timer = myself.send_interval(every, || CommitterMsg::Tick);
        Ok(CommitterState {
            metrics: TaskMetrics::source(&args.connector, args.task_id),
            args,
            pending: PendingOffsets::default(),
            timer: Some(timer),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = task_span(&state.args.connector, state.args.task_id);
        async move {
            match msg {
                CommitterMsg::Tick => {
                    // A store that cannot be written fails the task (through the supervisor: it
                    // is restarted with backoff, then FAILED), so its status says what is wrong
                    // rather than RUNNING over an ERROR line every flush. The offsets stay
                    // committable for the final commit the supervisor attempts.
                    state.commit().await.map_err(CommitFailed)?;
                }
                CommitterMsg::CommitNow(reply) => {
                    let r = state.commit().await;
                    if let Err(e) = &r {
                        tracing::error!("offset commit failed: {e}");
                    }
                    let _ = reply.send(r);
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.timer.take() {
            t.abort();
        }
        Ok(())
    }
}
