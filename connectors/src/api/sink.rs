use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::ConnectResult;
use crate::record::{SinkRecord, TopicPartition};

use super::{Props, SinkTaskContext};

/// Offsets as Connect passes them to `flush` and `pre_commit`: for each partition, the offset
/// of the next record to read (last delivered offset + 1).
pub type SinkOffsets = BTreeMap<TopicPartition, i64>;

/// A sink task: writes records to an external system.
#[async_trait]
pub trait SinkTask: Send + 'static {
    /// Starts the task with its config (one of those the connector's `task_configs` returned).
    /// `ctx` stays valid for the task's life.
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()>;

    /// The task now owns these partitions.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    /// The task no longer owns these partitions; it should write out what it buffered for them.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    /// Writes (or buffers) a batch of records. The batch is lent, not given: the runtime keeps
    /// it, so that a batch refused with [`ConnectError::Retriable`](crate::ConnectError::Retriable) is
    /// handed again as it was without a copy; a task that keeps records clones what it keeps.
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()>;

    /// Makes every record handed to `put` so far durable.
    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        Ok(())
    }

    /// Returns the offsets that are safe to commit. The default flushes and commits them all.
    async fn pre_commit(&mut self, offsets: SinkOffsets) -> ConnectResult<SinkOffsets> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    /// Stops the task: releases what `start` acquired. Called once, after the last `close`.
    async fn stop(&mut self) -> ConnectResult<()>;
}
