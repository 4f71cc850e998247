use async_trait::async_trait;

use crate::error::ConnectResult;
use crate::record::{RecordMetadata, SourceRecord};

use super::{Props, SourceTaskContext};

/// A source task: polls an external system for records.
#[async_trait]
pub trait SourceTask: Send + 'static {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()>;

    /// Returns the next records, or an empty batch when there are none now. It should return
    /// within about a second when idle so the runtime can handle stop and commit requests.
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;

    /// Called after the runtime flushed the offsets of acknowledged records.
    async fn commit(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    /// Called once per record after the broker acknowledged it (`metadata`), or after it was
    /// filtered out before reaching the producer (`None`).
    async fn commit_record(
        &mut self,
        _record: &SourceRecord,
        _metadata: Option<&RecordMetadata>,
    ) -> ConnectResult<()> {
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()>;
}
