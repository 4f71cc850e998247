//! One actor per task (the WorkerTask of Connect): [`source::SourceTaskActor`] and
//! [`sink::SinkTaskActor`], with the [`committer::OffsetCommitter`] beside each source task and
//! a fetch stage (`sink_fetch`) beside each sink task; [`transform`] applies the connector's
//! transforms in both, and [`errors`] handles what fails on a record (retries,
//! `errors.tolerance`, the error log, the dead letter queue).

pub mod acks;
pub mod committer;
pub mod convert;
pub mod errors;
pub mod faults;
mod kafka_headers;
pub mod missing_topics;
pub mod sink;
mod sink_ahead;
mod sink_fetch;
pub mod source;
pub mod transform;
pub mod unrecoverable;

use std::sync::Arc;

use kconnect_connectors::api::{Props, TaskInstance};

use crate::config::ConnectorConfig;
use crate::context::WorkerContext;

/// What a task actor is started with.
pub struct TaskArgs {
    pub worker: Arc<WorkerContext>,
    pub connector: Arc<ConnectorConfig>,
    pub task_id: u32,
    pub task_props: Props,
    pub instance: TaskInstance,
    /// Restarts so far, for the status the task reports when it runs.
    pub restarts: u32,
    /// How many tasks the connector runs now (sink partition ownership depends on it).
    pub task_count: usize,
    /// Start paused (the connector's target state is PAUSED).
    pub paused: bool,
}

/// The span every log line of a task carries.
pub fn task_span(connector: &str, task: u32) -> tracing::Span {
    tracing::info_span!("task", connector = %connector, task = task)
}

/// Applies a pause or resume to a task: records it, reports PAUSED or RUNNING once the task has
/// started, and answers whether polling must start again.
pub(crate) fn apply_pause(args: PauseArgs<'_>, paused: &mut bool, to: bool) -> bool {
    let resume = *paused && !to && args.started;
    *paused = to;
    if args.started {
        args.worker.status.set_task(
            args.connector,
            args.task,
            crate::status::State::running(to),
            None,
            args.restarts,
        );
    }
    resume
}

/// Who is being paused, for [`apply_pause`].
pub(crate) struct PauseArgs<'a> {
    pub worker: &'a WorkerContext,
    pub connector: &'a str,
    pub task: u32,
    pub restarts: u32,
    pub started: bool,
}
