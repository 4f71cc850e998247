//! The kconnect runtime: a ractor supervision tree that runs connectors and their tasks.
//!
//! ```text
//! WorkerActor                      (worker.rs: validates, starts and stops connectors)
//! └── ConnectorSupervisor  × N     (connector/supervisor.rs: restart policy, FAILED)
//!     ├── ConnectorActor           (connector/actor.rs: the plugin, task configs)
//!     ├── SourceTaskActor × tasks  (task/source.rs: poll → convert → produce)
//!     │   └ OffsetCommitter        (task/committer.rs: acknowledged offsets → store)
//!     └── SinkTaskActor   × tasks  (task/sink.rs: consume → convert → put → commit)
//! ```
//!
//! In distributed mode a `HerderActor` (distributed/herder.rs) sits beside the `WorkerActor`: the
//! group member (cluster/group.rs, distributed/member.rs) hands it each assignment, and it tells
//! the `WorkerActor` which share of each connector to run. `herder.rs` is what REST asks of a
//! worker in either mode.

pub mod actor_names;
pub mod backoff;
pub mod broker_health;
pub mod cluster;
pub mod config;
pub mod config_providers;
pub mod connector;
pub mod context;
pub mod distributed;
pub mod exactly_once;
pub mod herder;
pub mod metrics;
pub mod offsets;
pub mod rest_url;
pub mod restart;
pub mod status;
pub mod storage;
// The data path: a panic here stops a task mid-batch, so failures must be typed and handled.
// Tests may unwrap (clippy.toml).
#[deny(clippy::unwrap_used)]
pub mod task;
pub mod topic_creation;
pub mod validation;
pub mod worker;

pub use connector::supervisor::TargetState;
pub use context::{OffsetStore, TopicAdmin, WorkerContext};
pub use herder::{ConnectorInfo, Herder};
pub use worker::{ConnectorEntry, Worker, WorkerError};
