//! A task's transforms: the connector's [`TransformChain`], built when the task starts, applied
//! on the source side to each record `poll` returned before it is converted, on the sink side to
//! each record after conversion, before `put`.
//!
//! A record the chain drops is not sent (or put) but counts as done: a source record's offset
//! still commits, a sink record's Kafka offset is still committed. A transform that fails goes
//! through the task's [`ErrorHandler`] as Connect's `TRANSFORMATION` stage: retried if it failed
//! retriably, then reported, and skipped under `errors.tolerance=all` (done, as a dropped
//! record) or the task's failure under `none`.
//!
//! Without transforms the task holds no chain, and its records take the paths they took before
//! transforms existed.

use std::sync::Arc;

use kconnect_connectors::data::{Schema, Value};
use kconnect_connectors::record::{
    BatchRecord, Header, OffsetMap, SinkRecord, SourcePartition, SourceRecord, Topic,
    TopicPartition,
};
use kconnect_connectors::registry::PluginRegistry;
use kconnect_connectors::transforms::chain::{TransformChain, TransformFailure};
use kconnect_connectors::transforms::{ConnectRecord, Outcome};
use kconnect_connectors::ConnectError;

use super::errors::record::source_record_detail;
use super::errors::{
    Consumed, ErrorHandler, Executing, ProcessingRecord, Recovered, ToleranceExceeded,
};
use crate::config::ConnectorConfig;

/// The connector's chain, or `None` when it configures no transform.
pub fn build(
    plugins: &PluginRegistry,
    connector: &ConnectorConfig,
) -> Result<Option<TransformChain>, ConnectError> {
    let chain = TransformChain::new(&connector.props, plugins)
        .map_err(|e| ConnectError::config(e.message))?;
    Ok((!chain.is_empty()).then_some(chain))
}

/// What becomes of a record after the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Keep,
    /// Dropped by a transform, or failed with errors.tolerance=all: done, but not sent.
    Skip,
}

/// A record on its way through the chain, with what error handling needs to know of it.
pub trait ChainRecord: ProcessingRecord {
    fn connect_record(&mut self) -> &mut dyn ConnectRecord;
}

/// Applies `chain` to `record`; a transform that fails goes through `errors`.
pub async fn apply<R: ChainRecord + ?Sized>(
    chain: &mut TransformChain,
    errors: &ErrorHandler,
    record: &mut R,
) -> Result<Fate, ToleranceExceeded> {
    let mut from = 0;
    loop {
        let TransformFailure {
            alias,
            class,
            index,
            error,
        } = match chain.apply_from(record.connect_record(), from) {
            Ok(Outcome::Keep) => return Ok(Fate::Keep),
            Ok(Outcome::Drop) => return Ok(Fate::Skip),
            Err(failure) => failure,
        };
        let exec = Executing::transformation(&alias, class);
        // Boxed: the failure path's future stays out of the record path's.
        let recovered = Box::pin(errors.recover(exec, record, error, |r| {
            chain
                .apply_stage(r.connect_record(), index)
                .map_err(|f| f.error)
        }))
        .await?;
        match recovered {
            // The retry worked: the chain goes on after the transform that failed.
            Recovered::Done(Outcome::Keep) => from = index + 1,
            Recovered::Done(Outcome::Drop) | Recovered::Skip => return Ok(Fate::Skip),
        }
    }
}

/// A record of `poll` (Connect's per-record API) in the chain; its source partition is kept
/// apart from it (the task's run holds it).
pub struct PolledRecord<'a> {
    pub record: &'a mut SourceRecord,
    pub partition: &'a OffsetMap,
}

impl ProcessingRecord for PolledRecord<'_> {
    fn name(&self) -> String {
        format!(
            "the record at source offset {} of source partition {}",
            serde_json::Value::Object(self.record.source_offset.clone()),
            serde_json::Value::Object(self.partition.clone()),
        )
    }

    fn log_detail(&self) -> String {
        source_record_detail(
            Some(self.partition),
            &self.record.source_offset,
            &*self.record,
        )
    }
}

impl ChainRecord for PolledRecord<'_> {
    fn connect_record(&mut self) -> &mut dyn ConnectRecord {
        self.record
    }
}

/// A record of a source batch in the chain, with its batch's offset and partition.
pub struct BatchItem<'a> {
    pub view: BatchRecordView<'a>,
    pub offset: &'a OffsetMap,
    pub partition: &'a SourcePartition,
}

impl ProcessingRecord for BatchItem<'_> {
    fn name(&self) -> String {
        format!(
            "a record of the batch for topic {} ending at source offset {} of source partition {}",
            self.view.topic,
            serde_json::Value::Object(self.offset.clone()),
            serde_json::Value::Object(self.partition.map().clone()),
        )
    }

    fn log_detail(&self) -> String {
        source_record_detail(Some(self.partition.map()), self.offset, &self.view)
    }
}

impl ChainRecord for BatchItem<'_> {
    fn connect_record(&mut self) -> &mut dyn ConnectRecord {
        &mut self.view
    }
}

/// A sink record in the chain, with the record it was converted from (what a dead letter
/// queue gets, whatever the transforms did).
struct SinkInChain<'a, O: ?Sized> {
    record: &'a mut SinkRecord,
    original: &'a O,
}

impl<O: ProcessingRecord + ?Sized> ProcessingRecord for SinkInChain<'_, O> {
    fn name(&self) -> String {
        self.original.name()
    }

    fn log_detail(&self) -> String {
        self.original.log_detail()
    }

    fn consumed(&self) -> Option<Consumed<'_>> {
        self.original.consumed()
    }
}

impl<O: ProcessingRecord + ?Sized> ChainRecord for SinkInChain<'_, O> {
    fn connect_record(&mut self) -> &mut dyn ConnectRecord {
        self.record
    }
}

/// A record of a [`SourceBatch`](kconnect_connectors::record::SourceBatch) with the topic it
/// is to be sent to, as transforms see it: the batch's topic until a transform routes it.
pub struct BatchRecordView<'a> {
    pub topic: Topic,
    pub record: &'a mut BatchRecord,
}

impl ConnectRecord for BatchRecordView<'_> {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn set_topic(&mut self, topic: &str) {
        if *self.topic != *topic {
            self.topic = Topic::from(topic);
        }
    }
    fn kafka_partition(&self) -> Option<i32> {
        self.record.kafka_partition
    }
    fn set_kafka_partition(&mut self, partition: Option<i32>) {
        self.record.kafka_partition = partition;
    }
    fn kafka_offset(&self) -> Option<i64> {
        None
    }
    fn timestamp(&self) -> Option<i64> {
        self.record.timestamp
    }
    fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.record.timestamp = timestamp;
    }
    fn key_schema(&self) -> Option<&Schema> {
        self.record.key_schema.as_ref()
    }
    fn key(&self) -> &Value {
        &self.record.key
    }
    fn value_schema(&self) -> Option<&Schema> {
        self.record.value_schema.as_ref()
    }
    fn value(&self) -> &Value {
        &self.record.value
    }
    fn key_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.record.key_schema, &mut self.record.key)
    }
    fn value_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.record.value_schema, &mut self.record.value)
    }
    fn headers(&self) -> &[Header] {
        &self.record.headers
    }
    fn headers_mut(&mut self) -> &mut Vec<Header> {
        &mut self.record.headers
    }
}

/// A sink task's chain, and where the records it fetched came from. A transform may change a
/// record's topic or partition, or drop it, so the offsets to commit are those of the records
/// as consumed, not as `put` saw them (Connect's `originalTopic` / `originalKafkaPartition`).
pub struct SinkTransforms {
    pub chain: TransformChain,
    consumed: ConsumedOffsets,
}

impl SinkTransforms {
    pub fn new(chain: TransformChain) -> Self {
        SinkTransforms {
            chain,
            consumed: ConsumedOffsets::default(),
        }
    }

    /// Transforms a record fetched from Kafka (converted from `original`); `None` when it is
    /// not to be put.
    pub async fn apply(
        &mut self,
        errors: &ErrorHandler,
        original: &(impl ProcessingRecord + ?Sized),
        mut record: SinkRecord,
    ) -> Result<Option<SinkRecord>, ToleranceExceeded> {
        self.consumed
            .consumed(&record.topic, record.partition, record.offset);
        let mut item = SinkInChain {
            record: &mut record,
            original,
        };
        let fate = apply(&mut self.chain, errors, &mut item).await?;
        Ok((fate == Fate::Keep).then_some(record))
    }

    /// A record fetched but never transformed (it failed conversion, tolerated): consumed all
    /// the same.
    pub fn skipped(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        self.consumed.consumed(topic, partition, offset);
    }

    /// Moves every partition of the records fetched since the last call past its last record:
    /// once `put` accepted what was kept of them, or at once when nothing was kept.
    pub fn advance(&mut self, current: &mut kconnect_connectors::api::SinkOffsets) {
        for (topic, partition, next) in self.consumed.next.drain(..) {
            current.insert(TopicPartition::new(&*topic, partition), next);
        }
        self.consumed.last = 0;
    }
}

/// The next offset of each partition among records consumed, written once per run of a
/// partition rather than once per record.
#[derive(Default)]
struct ConsumedOffsets {
    next: Vec<(Arc<str>, i32, i64)>,
    /// The entry the previous record went to: records come in runs of one partition.
    last: usize,
}

impl ConsumedOffsets {
    fn consumed(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        let same = |e: &(Arc<str>, i32, i64)| {
            e.1 == partition && (Arc::ptr_eq(&e.0, topic) || *e.0 == **topic)
        };
        if let Some(e) = self.next.get_mut(self.last).filter(|e| same(e)) {
            e.2 = offset + 1;
        } else if let Some(i) = self.next.iter().position(same) {
            self.next[i].2 = offset + 1;
            self.last = i;
        } else {
            self.last = self.next.len();
            self.next.push((topic.clone(), partition, offset + 1));
        }
    }
}

#[cfg(test)]
mod tests;
