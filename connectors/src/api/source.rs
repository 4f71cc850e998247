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
#[async_trait]
pub trait SourceTask: Send + 'static {
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

    async fn stop(&mut self) -> ConnectResult<()>;
}
