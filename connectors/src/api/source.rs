use async_trait::async_trait;

use crate::error::ConnectResult;
use crate::record::{BatchRecord, Polled, RecordMetadata, SourceRecord};

use super::{Props, SourceTaskContext};

/// A source task: polls an external system for records.
///
/// A task implements [`poll`](SourceTask::poll) (Connect's per-record API: every record
/// carries its topic, source partition and offset) and may also implement
/// [`poll_batches`](SourceTask::poll_batches), which the runtime calls instead: a batch shares
/// one topic and one source partition across its records and carries one offset, which is what
/// keeps a fast source cheap (no map per record, no offset bookkeeping per record).
///
/// # Example
///
/// A task that counts 1, 2, 3, … and, restarted, goes on after the last number committed:
///
/// ```
/// use std::sync::Arc;
///
/// use async_trait::async_trait;
/// use kconnect_connectors::api::{OffsetStorageReader, Props, SourceTask, SourceTaskContext};
/// use kconnect_connectors::data::{Schema, Value};
/// use kconnect_connectors::record::{OffsetMap, SourceRecord};
/// use kconnect_connectors::ConnectResult;
/// use serde_json::json;
///
/// /// Every record comes from this one source partition.
/// fn partition() -> OffsetMap {
///     json!({"counter": "c"}).as_object().unwrap().clone()
/// }
///
/// #[derive(Default)]
/// struct Counter {
///     topic: String,
///     next: i64,
/// }
///
/// #[async_trait]
/// impl SourceTask for Counter {
///     async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
///         self.topic = props["topic"].clone();
///         let committed = ctx.offset_storage_reader().offset(&partition());
///         self.next = committed.and_then(|o| o["n"].as_i64()).unwrap_or(0) + 1;
///         Ok(())
///     }
///
///     async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
///         let n = self.next;
///         self.next += 1;
///         let offset = json!({"n": n}).as_object().unwrap().clone();
///         let value = Value::Int64(n);
///         let record = SourceRecord::new(partition(), offset, &self.topic, Some(Schema::int64()), value);
///         Ok(vec![record])
///     }
///
///     async fn stop(&mut self) -> ConnectResult<()> {
///         Ok(())
///     }
/// }
///
/// /// The runtime's offset store, as an earlier run left it: 41 committed.
/// struct Committed;
///
/// impl OffsetStorageReader for Committed {
///     fn offset(&self, p: &OffsetMap) -> Option<OffsetMap> {
///         (p == &partition()).then(|| json!({"n": 41}).as_object().unwrap().clone())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> ConnectResult<()> {
/// let mut task = Counter::default();
/// let ctx = SourceTaskContext { offset_reader: Arc::new(Committed), task_id: 0, transactions: None };
/// task.start(ctx, &Props::from([("topic".to_string(), "numbers".to_string())])).await?;
/// let records = task.poll().await?;
/// assert_eq!(records[0].topic, "numbers");
/// assert_eq!(records[0].value, Value::Int64(42));
/// assert_eq!(records[0].source_offset["n"], 42);
/// task.stop().await
/// # }
/// ```
#[async_trait]
pub trait SourceTask: Send + 'static {
    /// Starts the task with its config (one of those the connector's `task_configs` returned). Read
    /// committed offsets through `ctx` here to resume where the last run stopped.
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()>;

    /// Returns the next records, or an empty batch when there are none now. It should return
    /// within about a second when idle so the runtime can handle stop and commit requests.
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;

    /// What the runtime calls: by default the records of [`poll`](SourceTask::poll). A task
    /// that reads runs of records from one source partition returns
    /// [`Polled::Batches`](crate::record::Polled::Batches) instead. The same rule as for
    /// `poll` holds: return within about a second when idle.
    async fn poll_batches(&mut self) -> ConnectResult<Polled> {
        Ok(Polled::Records(self.poll().await?))
    }

    /// Hands back the records of a batch of [`poll_batches`](SourceTask::poll_batches) once
    /// the producer has copied them (and the transforms, if any, are done with them), so that
    /// the task may reuse their allocations for its next batch: a line of text then costs no
    /// `String` of its own. Their contents are the sent records' (possibly transformed): a task
    /// that reuses one sets every field. By default they are dropped.
    fn recycle(&mut self, _records: Vec<BatchRecord>) {}

    /// Whether the runtime must call [`commit_record`](SourceTask::commit_record) for every
    /// record. Only then does it keep each record until the broker acknowledged it; a task
    /// that does not need the callback says `false` and its records are dropped as soon as
    /// the producer has copied them. Defaults to `true`, so that a task written against
    /// Connect's API keeps getting its callbacks. Records of
    /// [`poll_batches`](SourceTask::poll_batches) never get it (they have no offsets of their
    /// own).
    fn wants_commit_record(&self) -> bool {
        true
    }

    /// Called after the runtime flushed the offsets of acknowledged records.
    async fn commit(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    /// Called once per record of [`poll`](SourceTask::poll) after the broker acknowledged it
    /// (`metadata`), or after it was filtered out before reaching the producer (`None`), when
    /// [`wants_commit_record`](SourceTask::wants_commit_record) says so. Records are passed in
    /// the order `poll` returned them (an acknowledged record waits for the ones before it).
    async fn commit_record(
        &mut self,
        _record: &SourceRecord,
        _metadata: Option<&RecordMetadata>,
    ) -> ConnectResult<()> {
        Ok(())
    }

    /// Stops the task: releases what `start` acquired. `poll` is not called again.
    async fn stop(&mut self) -> ConnectResult<()>;
}
