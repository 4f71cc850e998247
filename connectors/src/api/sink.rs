use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::ConnectResult;
use crate::record::{SinkRecord, TopicPartition};

use super::{Props, SinkTaskContext};

/// Offsets as Connect passes them to `flush` and `pre_commit`: for each partition, the offset
/// of the next record to read (last delivered offset + 1).
pub type SinkOffsets = BTreeMap<TopicPartition, i64>;

/// A sink task: writes records to an external system.
///
/// # Example
///
/// A sink that buffers values in `put` and writes them on `flush`:
///
/// ```
/// use async_trait::async_trait;
/// use kconnect_connectors::api::{Props, SinkOffsets, SinkTask, SinkTaskContext};
/// use kconnect_connectors::data::Value;
/// use kconnect_connectors::record::{SinkRecord, TimestampType, TopicPartition};
/// use kconnect_connectors::ConnectResult;
///
/// #[derive(Default)]
/// struct Collect {
///     buffered: Vec<String>,
///     written: Vec<String>,
/// }
///
/// #[async_trait]
/// impl SinkTask for Collect {
///     async fn start(&mut self, _ctx: SinkTaskContext, _props: &Props) -> ConnectResult<()> {
///         Ok(())
///     }
///
///     async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
///         // The batch is lent: keep copies of what is kept.
///         let values = records.iter().map(|r| r.value.as_str().unwrap_or_default().to_string());
///         self.buffered.extend(values);
///         Ok(())
///     }
///
///     async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
///         self.written.append(&mut self.buffered);
///         Ok(())
///     }
///
///     async fn stop(&mut self) -> ConnectResult<()> {
///         Ok(())
///     }
/// }
///
/// fn record(offset: i64, value: &str) -> SinkRecord {
///     SinkRecord {
///         topic: "orders".into(),
///         partition: 0,
///         offset,
///         timestamp: None,
///         timestamp_type: TimestampType::NoTimestampType,
///         key_schema: None,
///         key: Value::Null,
///         value_schema: None,
///         value: Value::from(value),
///         headers: Vec::new(),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> ConnectResult<()> {
/// let mut task = Collect::default();
/// task.start(SinkTaskContext::new(0), &Props::new()).await?;
/// task.put(&[record(7, "a"), record(8, "b")]).await?;
/// assert!(task.written.is_empty());
/// // The runtime commits what `pre_commit` returns; by default it flushes and returns all.
/// let orders0 = TopicPartition::new("orders", 0);
/// let committed = task.pre_commit(SinkOffsets::from([(orders0.clone(), 9)])).await?;
/// assert_eq!(committed[&orders0], 9);
/// assert_eq!(task.written, ["a", "b"]);
/// task.stop().await
/// # }
/// ```
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
