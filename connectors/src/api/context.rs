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
#[derive(Debug, Clone)]
pub struct ConnectorContext {
    events: UnboundedSender<ConnectorEvent>,
}

impl ConnectorContext {
    pub fn new(events: UnboundedSender<ConnectorEvent>) -> Self {
        ConnectorContext { events }
    }

    pub fn request_task_reconfiguration(&self) {
        // A closed channel means the connector is being stopped: nothing is left to reconfigure.
        let _ = self.events.send(ConnectorEvent::RequestTaskReconfiguration);
    }

    pub fn raise_error(&self, error: ConnectError) {
        let _ = self.events.send(ConnectorEvent::RaiseError(error));
    }
}

/// Reads the last committed offset of a source partition.
pub trait OffsetStorageReader: Send + Sync {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;

    fn offsets(&self, partitions: &[OffsetMap]) -> Vec<(OffsetMap, Option<OffsetMap>)> {
        partitions
            .iter()
            .map(|p| (p.clone(), self.offset(p)))
            .collect()
    }
}

/// Handed to a source task at start.
#[derive(Clone)]
pub struct SourceTaskContext {
    pub offset_reader: Arc<dyn OffsetStorageReader>,
    pub task_id: u32,
    /// Set only under exactly-once delivery with `transaction.boundary=connector`.
    pub transactions: Option<TransactionContext>,
}

impl SourceTaskContext {
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
    pub pause: BTreeSet<TopicPartition>,
    pub resume: BTreeSet<TopicPartition>,
    pub commit_requested: bool,
    /// A back-off the task asked for after a retriable error, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// Handed to a sink task at start.
#[derive(Clone, Default)]
pub struct SinkTaskContext {
    pub task_id: u32,
    requests: Arc<Mutex<SinkTaskRequests>>,
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    errant: Option<Arc<dyn ErrantRecordReporter>>,
}

impl SinkTaskContext {
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

    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut r = self.lock();
        for p in partitions {
            r.resume.remove(p);
            r.pause.insert(p.clone());
        }
    }

    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut r = self.lock();
        for p in partitions {
            r.pause.remove(p);
            r.resume.insert(p.clone());
        }
    }

    pub fn request_commit(&self) {
        self.lock().commit_requested = true;
    }

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
