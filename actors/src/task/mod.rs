//! One actor per task (the WorkerTask of Connect): [`source::SourceTaskActor`] and
//! [`sink::SinkTaskActor`], with the [`committer::OffsetCommitter`] beside each source task.

pub mod committer;
pub mod convert;
pub mod faults;
pub mod sink;
pub mod source;
pub mod submitted;

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
