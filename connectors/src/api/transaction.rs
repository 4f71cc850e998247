//! Exactly-once source support (KIP-618) as a plugin sees it: what a source connector declares
//! about itself ([`ExactlyOnceSupport`], [`ConnectorTransactionBoundaries`]) and the
//! [`TransactionContext`] a source task uses to define its own transaction boundaries.
//!
//! Deviation from Connect: Connect recognises the record a task passes to
//! `commitTransaction(record)` by object identity. A Rust task hands its records over by value,
//! so kconnect recognises it by its source partition and source offset (the first record of the
//! batch with both equal to the given record's). Records of one batch with equal partition and
//! offset are therefore not told apart.

use std::sync::{Arc, Mutex};

use crate::record::{OffsetMap, SourceRecord};

/// What a source connector says about exactly-once delivery with a given config (Connect's
/// `ExactlyOnceSupport`), asked when a connector with `exactly.once.support=required` is
/// validated.
///
/// ```
/// use kconnect_connectors::api::ExactlyOnceSupport;
///
/// // A file source can resume at an exact position; reading stdin cannot.
/// fn support(filename: Option<&str>) -> ExactlyOnceSupport {
///     match filename {
///         Some(f) if !f.is_empty() => ExactlyOnceSupport::Supported,
///         _ => ExactlyOnceSupport::Unsupported,
///     }
/// }
/// assert_eq!(support(Some("/tmp/in.txt")), ExactlyOnceSupport::Supported);
/// assert_eq!(support(None), ExactlyOnceSupport::Unsupported);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    /// Records and offsets written in one transaction are delivered exactly once.
    Supported,
    /// The connector cannot promise it (for example: it cannot resume at an exact offset).
    Unsupported,
}

/// Whether a source connector can define its own transaction boundaries with a given config
/// (Connect's `ConnectorTransactionBoundaries`), asked when a connector with
/// `transaction.boundary=connector` is validated.
///
/// ```
/// use kconnect_connectors::api::ConnectorTransactionBoundaries;
///
/// let answer = ConnectorTransactionBoundaries::Supported;
/// assert_ne!(answer, ConnectorTransactionBoundaries::Unsupported);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectorTransactionBoundaries {
    /// Its tasks commit and abort through their [`TransactionContext`].
    Supported,
    /// The default: the runtime must define the boundaries.
    #[default]
    Unsupported,
}

/// How a transaction the task asked to end ends.
///
/// ```
/// use kconnect_connectors::api::{TransactionContext, TransactionEnd};
///
/// let ctx = TransactionContext::new();
/// ctx.abort_transaction();
/// assert_eq!(ctx.take_requests().after_batch, Some(TransactionEnd::Abort));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionEnd {
    /// Commit: the records become visible to `read_committed` readers, with their offsets.
    Commit,
    /// Abort: nothing of the transaction is ever visible; its records are polled again.
    Abort,
}

/// A record a transaction ends after, as the task named it: by its source partition and
/// source offset (see the module doc).
///
/// ```
/// use kconnect_connectors::api::{TransactionContext, TransactionEnd};
/// use kconnect_connectors::{data::Value, record::SourceRecord};
///
/// let offset = |n: i64| serde_json::json!({"n": n}).as_object().unwrap().clone();
/// let first = SourceRecord::new(Default::default(), offset(1), "t", None, Value::Null);
/// let second = SourceRecord::new(Default::default(), offset(2), "t", None, Value::Null);
/// let ctx = TransactionContext::new();
/// ctx.commit_transaction_after(&first);
/// let boundary = &ctx.take_requests().after_records[0];
/// assert!(boundary.matches(&first) && !boundary.matches(&second));
/// assert_eq!(boundary.end, TransactionEnd::Commit);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBoundary {
    /// The record's source partition.
    pub source_partition: OffsetMap,
    /// The record's source offset.
    pub source_offset: OffsetMap,
    /// Whether the transaction commits or aborts after the record.
    pub end: TransactionEnd,
}

impl RecordBoundary {
    /// Whether `record` is the one this boundary names (example on [`RecordBoundary`]).
    pub fn matches(&self, record: &SourceRecord) -> bool {
        record.source_partition == self.source_partition
            && record.source_offset == self.source_offset
    }
}

/// What a task asked of its [`TransactionContext`] since the runtime last looked.
///
/// ```
/// use kconnect_connectors::api::{TransactionContext, TransactionEnd, TransactionRequests};
///
/// let ctx = TransactionContext::new();
/// ctx.commit_transaction();
/// let asked: TransactionRequests = ctx.take_requests();
/// assert_eq!(asked.after_batch, Some(TransactionEnd::Commit));
/// assert!(asked.after_records.is_empty() && !asked.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransactionRequests {
    /// End the transaction after the records of the current batch (the next `poll`'s).
    pub after_batch: Option<TransactionEnd>,
    /// End a transaction after each of these records, in the order they were asked for.
    pub after_records: Vec<RecordBoundary>,
}

impl TransactionRequests {
    /// Whether the task asked nothing (example on [`TransactionRequests`]).
    pub fn is_empty(&self) -> bool {
        self.after_batch.is_none() && self.after_records.is_empty()
    }
}

/// Connect's `TransactionContext`: lets a source task of a connector configured with
/// `transaction.boundary=connector` commit or abort the producer transaction its records are
/// written in. The task gets it from
/// [`SourceTaskContext::transaction_context`](super::SourceTaskContext::transaction_context),
/// which is `None` unless the worker runs with `exactly.once.source.support=enabled` and the
/// connector with `transaction.boundary=connector`.
///
/// A request made during `poll` applies to the records that `poll` returns: the transaction is
/// committed (or aborted) once they were sent, or right after the named record. Records of an
/// aborted transaction, and their offsets, never reach a `read_committed` reader; the task
/// itself decides what to send next.
///
/// ```
/// use kconnect_connectors::api::{TransactionContext, TransactionEnd};
/// use kconnect_connectors::data::Value;
/// use kconnect_connectors::record::SourceRecord;
///
/// let ctx = TransactionContext::new();
/// let record = SourceRecord::new(Default::default(), Default::default(), "t", None, Value::Null);
/// // In `poll`: end a transaction right after this record, commit the rest with the batch.
/// ctx.abort_transaction_after(&record);
/// ctx.commit_transaction();
/// // The runtime takes the requests once `poll` returned.
/// let asked = ctx.take_requests();
/// assert_eq!(asked.after_batch, Some(TransactionEnd::Commit));
/// assert_eq!(asked.after_records[0].end, TransactionEnd::Abort);
/// assert!(ctx.take_requests().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct TransactionContext {
    requests: Arc<Mutex<TransactionRequests>>,
}

impl TransactionContext {
    /// A context with no requests; the runtime makes one per task.
    ///
    /// ```
    /// # use kconnect_connectors::api::TransactionContext;
    /// assert!(TransactionContext::new().take_requests().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Commits the current transaction once the records of the current batch were sent.
    ///
    /// ```
    /// # use kconnect_connectors::api::{TransactionContext, TransactionEnd};
    /// let ctx = TransactionContext::new();
    /// ctx.commit_transaction();
    /// assert_eq!(ctx.take_requests().after_batch, Some(TransactionEnd::Commit));
    /// ```
    pub fn commit_transaction(&self) {
        self.lock().after_batch = Some(TransactionEnd::Commit);
    }

    /// Commits the current transaction right after `record` was sent; the records after it
    /// go into the next transaction.
    ///
    /// ```
    /// # use kconnect_connectors::api::{TransactionContext, TransactionEnd};
    /// # use kconnect_connectors::{data::Value, record::SourceRecord};
    /// let ctx = TransactionContext::new();
    /// let r = SourceRecord::new(Default::default(), Default::default(), "t", None, Value::Null);
    /// ctx.commit_transaction_after(&r);
    /// let asked = ctx.take_requests();
    /// assert!(asked.after_records[0].matches(&r));
    /// assert_eq!(asked.after_records[0].end, TransactionEnd::Commit);
    /// ```
    pub fn commit_transaction_after(&self, record: &SourceRecord) {
        self.after(record, TransactionEnd::Commit);
    }

    /// Aborts the current transaction once the records of the current batch were sent: none
    /// of them, nor any record sent since the last commit, becomes visible.
    ///
    /// ```
    /// # use kconnect_connectors::api::{TransactionContext, TransactionEnd};
    /// let ctx = TransactionContext::new();
    /// ctx.abort_transaction();
    /// assert_eq!(ctx.take_requests().after_batch, Some(TransactionEnd::Abort));
    /// ```
    pub fn abort_transaction(&self) {
        self.lock().after_batch = Some(TransactionEnd::Abort);
    }

    /// Aborts the current transaction right after `record` was sent (`record` is aborted with
    /// it); the records after it go into the next transaction.
    ///
    /// ```
    /// # use kconnect_connectors::api::{TransactionContext, TransactionEnd};
    /// # use kconnect_connectors::{data::Value, record::SourceRecord};
    /// let ctx = TransactionContext::new();
    /// let r = SourceRecord::new(Default::default(), Default::default(), "t", None, Value::Null);
    /// ctx.abort_transaction_after(&r);
    /// assert_eq!(ctx.take_requests().after_records[0].end, TransactionEnd::Abort);
    /// ```
    pub fn abort_transaction_after(&self, record: &SourceRecord) {
        self.after(record, TransactionEnd::Abort);
    }

    /// Runtime side: takes every request made since the last call.
    ///
    /// ```
    /// # use kconnect_connectors::api::TransactionContext;
    /// let ctx = TransactionContext::new();
    /// assert!(ctx.take_requests().is_empty());
    /// ```
    pub fn take_requests(&self) -> TransactionRequests {
        std::mem::take(&mut *self.lock())
    }

    fn after(&self, record: &SourceRecord, end: TransactionEnd) {
        self.lock().after_records.push(RecordBoundary {
            source_partition: record.source_partition.clone(),
            source_offset: record.source_offset.clone(),
            end,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TransactionRequests> {
        // A poisoned lock only means a task panicked mid-request; the requests are still valid.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}
