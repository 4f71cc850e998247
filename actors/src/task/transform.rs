//! A task's transforms: the connector's [`TransformChain`], built when the task starts, applied
//! on the source side to each record `poll` returned before it is converted, on the sink side to
//! each record after conversion, before `put`.
//!
//! A record the chain drops is not sent (or put) but counts as done: a source record's offset
//! still commits, a sink record's Kafka offset is still committed. A transform that fails is
//! handled in one place, [`transform_failed`]: the record is skipped under
//! `errors.tolerance=all`, as a conversion failure is, and fails the task otherwise.
//!
//! Without transforms the task holds no chain, and its records take the paths they took before
//! transforms existed.

use std::sync::Arc;

use kconnect_connectors::data::{Schema, Value};
use kconnect_connectors::record::{BatchRecord, Header, SinkRecord, Topic, TopicPartition};
use kconnect_connectors::registry::PluginRegistry;
use kconnect_connectors::transforms::chain::{TransformChain, TransformFailure};
use kconnect_connectors::transforms::{ConnectRecord, Outcome};
use kconnect_connectors::ConnectError;
use ractor::ActorProcessingErr;

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

/// Applies `chain` to `record`; `describe` names the record should a transform fail on it.
pub fn apply(
    chain: &mut TransformChain,
    connector: &ConnectorConfig,
    record: &mut dyn ConnectRecord,
    describe: impl FnOnce() -> String,
) -> Result<Fate, ActorProcessingErr> {
    settle(chain.apply(record), connector, describe)
}

/// What the chain's result means for the record (where `describe` needs to look at the record
/// after the chain is done with it).
pub fn settle(
    result: Result<Outcome, TransformFailure>,
    connector: &ConnectorConfig,
    describe: impl FnOnce() -> String,
) -> Result<Fate, ActorProcessingErr> {
    match result {
        Ok(Outcome::Keep) => Ok(Fate::Keep),
        Ok(Outcome::Drop) => Ok(Fate::Skip),
        Err(failure) => transform_failed(connector, &failure, &describe()).map(|()| Fate::Skip),
    }
}

/// A transform failed on `record`: skipped and logged under errors.tolerance=all, else the
/// task's failure naming the record and the transform. (The one place a later error reporter,
/// such as a dead letter queue, hooks in.)
pub fn transform_failed(
    connector: &ConnectorConfig,
    failure: &TransformFailure,
    record: &str,
) -> Result<(), ActorProcessingErr> {
    let TransformFailure {
        alias,
        class,
        error,
    } = failure;
    if connector.errors_tolerance_all {
        tracing::warn!(
            alias = %alias,
            class = %class,
            "skipping {record}: the transformation failed (errors.tolerance=all): {error}"
        );
        return Ok(());
    }
    Err(format!("the transformation {alias} ({class}) failed on {record}: {error}").into())
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

    /// Transforms a record fetched from Kafka; `None` when it is not to be put.
    pub fn apply(
        &mut self,
        connector: &ConnectorConfig,
        mut record: SinkRecord,
    ) -> Result<Option<SinkRecord>, ActorProcessingErr> {
        self.consumed
            .consumed(&record.topic, record.partition, record.offset);
        let (topic, partition, offset) = (record.topic.clone(), record.partition, record.offset);
        let fate = apply(&mut self.chain, connector, &mut record, || {
            format!("the record in {topic}-{partition} at offset {offset}")
        })?;
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
