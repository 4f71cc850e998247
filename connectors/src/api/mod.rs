//! The plugin traits, with Kafka Connect's lifecycle, and the contexts the runtime hands them.
//!
//! Call order, as in Connect:
//! - [`Connector`]: `validate`? → `start` → `task_configs(max)` (again whenever the connector
//!   asks for reconfiguration) → `stop`.
//! - [`SourceTask`]: `start` → `poll_batches`* (by default `poll`; each record of `poll` later
//!   gets `commit_record` unless the task opts out with `wants_commit_record`; the records of a
//!   batch come back through `recycle` once sent, a kconnect addition with no Connect
//!   counterpart, for reusing their allocations) → `commit` after offsets were flushed → `stop`.
//! - [`SinkTask`]: `start` → `open(partitions)` → `put`* → `pre_commit` (default: `flush`) →
//!   `close(partitions)` on revocation → `stop`.

mod connector;
mod context;
mod errant;
mod sink;
mod source;
mod transaction;

pub use connector::{Connector, ConnectorKind, TaskInstance};
pub use context::{
    ConnectorContext, ConnectorEvent, OffsetStorageReader, SinkTaskContext, SinkTaskRequests,
    SourceTaskContext,
};
pub use errant::{ErrantRecordFuture, ErrantRecordReporter};
pub use sink::{SinkOffsets, SinkTask};
pub use source::SourceTask;
pub use transaction::{
    ConnectorTransactionBoundaries, ExactlyOnceSupport, RecordBoundary, TransactionContext,
    TransactionEnd, TransactionRequests,
};

/// String properties, as connector and task configs are passed around in Connect.
pub type Props = std::collections::BTreeMap<String, String>;
