//! What the runtime hands to plugins. Contexts are cheap to clone and safe to use from any task.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use super::{ErrantRecordReporter, TransactionContext};
use crate::error::ConnectError;
use crate::record::{OffsetMap, TopicPartition};

/// What a connector asks of the runtime after `start`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorEvent {
    /// Task configs changed: call `task_configs` again and restart the tasks.
    RequestTaskReconfiguration,
    /// The connector failed on its own (for example in a background thread).
    RaiseError(ConnectError),
}

/// Lets a running connector ask for task reconfiguration or raise an error.
///
/// # Example
///
/// ```
/// use kconnect_connectors::api::{ConnectorContext, ConnectorEvent};
///
/// let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let ctx = ConnectorContext::new(events);
/// // Say the connector's monitor thread found a new table: the runtime asks for task configs again.
/// ctx.request_task_reconfiguration();
/// assert_eq!(received.try_recv().unwrap(), ConnectorEvent::RequestTaskReconfiguration);
/// ```
#[derive(Debug, Clone)]
pub struct ConnectorContext {
    events: UnboundedSender<ConnectorEvent>,
}

impl ConnectorContext {
    /// Runtime side: a context whose requests go to `events`.
    pub fn new(events: UnboundedSender<ConnectorEvent>) -> Self {
        ConnectorContext { events }
    }

    /// Asks the runtime to call [`Connector::task_configs`](super::Connector::task_configs) again
    /// and restart the tasks with the new configs, as when the connector found new work to split (a
    /// new table, a new file).
    pub fn request_task_reconfiguration(&self) {
        // A closed channel means the connector is being stopped: nothing is left to reconfigure.
        let _ = self.events.send(ConnectorEvent::RequestTaskReconfiguration);
    }

    /// Fails the connector with `error`, as a background thread of the connector would: the
    /// connector goes FAILED with the error as its trace.
    pub fn raise_error(&self, error: ConnectError) {
        let _ = self.events.send(ConnectorEvent::RaiseError(error));
    }
}

/// Reads the last committed offset of a source partition.
///
/// # Example
///
/// ```
/// use kconnect_connectors::api::OffsetStorageReader;
/// use kconnect_connectors::record::OffsetMap;
/// use serde_json::json;
///
/// /// Offsets in memory (a test double: the runtime brings its own store).
/// struct InMemory(Vec<(OffsetMap, OffsetMap)>);
///
/// impl OffsetStorageReader for InMemory {
///     fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
///         self.0.iter().find(|(p, _)| p == partition).map(|(_, o)| o.clone())
///     }
/// }
///
/// let map = |v: serde_json::Value| v.as_object().unwrap().clone();
/// let reader = InMemory(vec![(map(json!({"file": "a"})), map(json!({"position": 30})))]);
/// let found = reader.offsets(&[map(json!({"file": "a"})), map(json!({"file": "b"}))]);
/// assert_eq!(found[0], (map(json!({"file": "a"})), Some(map(json!({"position": 30})))));
/// assert_eq!(found[1].1, None); // never committed
/// ```
pub trait OffsetStorageReader: Send + Sync {
    /// The last committed offset of `partition`, or `None` when none was ever committed.
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;

    /// The last committed offsets of several partitions, each with its partition, in the order
    /// asked.
    fn offsets(&self, partitions: &[OffsetMap]) -> Vec<(OffsetMap, Option<OffsetMap>)> {
        partitions
            .iter()
            .map(|p| (p.clone(), self.offset(p)))
            .collect()
    }
}

/// Handed to a source task at start.
///
/// [`SourceTask`](super::SourceTask)'s example shows a task reading its committed offset at start.
#[derive(Clone)]
pub struct SourceTaskContext {
    /// Where the task reads the offsets committed before it started.
    pub offset_reader: Arc<dyn OffsetStorageReader>,
    /// The task's number within its connector (0-based).
    pub task_id: u32,
    /// Set only under exactly-once delivery with `transaction.boundary=connector`.
    pub transactions: Option<TransactionContext>,
}

impl SourceTaskContext {
    /// The reader of committed offsets: where a task resumes from in `start`.
    pub fn offset_storage_reader(&self) -> &dyn OffsetStorageReader {
        self.offset_reader.as_ref()
    }

    /// Connect's `SourceTaskContext::transactionContext`: how the task commits and aborts its
    /// transactions, or `None` when the runtime defines the boundaries (the worker does not run
    /// with `exactly.once.source.support=enabled`, or the connector's `transaction.boundary`
    /// is not `connector`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kconnect_connectors::api::{OffsetStorageReader, SourceTaskContext, TransactionContext};
    /// use kconnect_connectors::record::OffsetMap;
    ///
    /// struct NoOffsets;
    /// impl OffsetStorageReader for NoOffsets {
    ///     fn offset(&self, _: &OffsetMap) -> Option<OffsetMap> { None }
    /// }
    /// let ctx = SourceTaskContext {
    ///     offset_reader: Arc::new(NoOffsets),
    ///     task_id: 0,
    ///     transactions: Some(TransactionContext::new()),
    /// };
    /// if let Some(tx) = ctx.transaction_context() {
    ///     tx.commit_transaction();
    /// }
    /// ```
    pub fn transaction_context(&self) -> Option<&TransactionContext> {
        self.transactions.as_ref()
    }
}

/// Requests a sink task made through its context, drained by the runtime after each call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SinkTaskRequests {
    /// Rewind or skip to these offsets before the next `put`.
    pub offset_resets: BTreeMap<TopicPartition, i64>,
    /// Partitions to stop fetching from (no more `put` of their records until resumed).
    pub pause: BTreeSet<TopicPartition>,
    /// Partitions to fetch from again.
    pub resume: BTreeSet<TopicPartition>,
    /// Whether the task asked for an offset commit as soon as possible.
    pub commit_requested: bool,
    /// A back-off the task asked for after a retriable error, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// Handed to a sink task at start.
///
/// # Example
///
/// ```
/// use kconnect_connectors::api::SinkTaskContext;
/// use kconnect_connectors::record::TopicPartition;
///
/// let ctx = SinkTaskContext::new(0);
/// let orders0 = TopicPartition::new("orders", 0);
/// // A task whose destination is busy holds a partition back, and will read it again from 40.
/// ctx.pause(&[orders0.clone()]);
/// ctx.offset(orders0.clone(), 40);
/// ctx.request_commit();
/// // The runtime takes the requests after the call that made them.
/// let requests = ctx.take_requests();
/// assert!(requests.pause.contains(&orders0));
/// assert_eq!(requests.offset_resets[&orders0], 40);
/// assert!(requests.commit_requested);
/// assert_eq!(ctx.take_requests(), Default::default());
/// ```
#[derive(Clone, Default)]
pub struct SinkTaskContext {
    /// The task's number within its connector (0-based).
    pub task_id: u32,
    requests: Arc<Mutex<SinkTaskRequests>>,
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    errant: Option<Arc<dyn ErrantRecordReporter>>,
}

impl SinkTaskContext {
    /// A context for task `task_id` with no requests, no assignment and no errant record reporter.
    pub fn new(task_id: u32) -> Self {
        SinkTaskContext {
            task_id,
            ..Default::default()
        }
    }

    /// Runtime side: the context with the reporter [`errant_record_reporter`] hands out.
    ///
    /// [`errant_record_reporter`]: SinkTaskContext::errant_record_reporter
    pub fn with_errant_record_reporter(mut self, reporter: Arc<dyn ErrantRecordReporter>) -> Self {
        self.errant = Some(reporter);
        self
    }

    /// KIP-610: where to report records `put` could not write, or `None` when the connector
    /// configures neither a dead letter queue nor `errors.log.enable` (Connect's condition).
    pub fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.errant.clone()
    }

    /// Asks the runtime to read `partition` from `offset` next.
    pub fn offset(&self, partition: TopicPartition, offset: i64) {
        self.lock().offset_resets.insert(partition, offset);
    }

    /// Asks the runtime to stop fetching from `partitions` until
    /// [`resume`](SinkTaskContext::resume): a sink whose destination is busy holds back without
    /// failing.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut r = self.lock();
        for p in partitions {
            r.resume.remove(p);
            r.pause.insert(p.clone());
        }
    }

    /// Asks the runtime to fetch from paused `partitions` again.
    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut r = self.lock();
        for p in partitions {
            r.pause.remove(p);
            r.resume.insert(p.clone());
        }
    }

    /// Asks the runtime to commit offsets (through [`pre_commit`](super::SinkTask::pre_commit))
    /// soon, rather than at the next `offset.flush.interval.ms`.
    pub fn request_commit(&self) {
        self.lock().commit_requested = true;
    }

    /// Asks the runtime to wait `ms` milliseconds before handing the records of a
    /// [`Retriable`](crate::ConnectError::Retriable) failure to `put` again.
    pub fn timeout(&self, ms: u64) {
        self.lock().timeout_ms = Some(ms);
    }

    /// The partitions the task owns now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().expect("assignment lock").clone()
    }

    /// Runtime side: replaces the assignment the task sees.
    pub fn set_assignment(&self, partitions: BTreeSet<TopicPartition>) {
        *self.assignment.lock().expect("assignment lock") = partitions;
    }

    /// Runtime side: takes only the back-off the task asked for, leaving its other requests.
    pub fn take_timeout(&self) -> Option<u64> {
        self.lock().timeout_ms.take()
    }

    /// Runtime side: takes every pending request.
    pub fn take_requests(&self) -> SinkTaskRequests {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkTaskRequests> {
        // A poisoned lock only means a task panicked mid-request; the requests are still valid.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}
