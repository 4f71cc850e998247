//! Records as plugins see them: [`SourceRecord`]s a source task returns from `poll`, and
//! [`SinkRecord`]s a sink task receives in `put`.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value as Json};

use crate::data::{Schema, Value};

/// A source partition or offset: a map of string keys to primitive JSON values, as Connect
/// stores them (`{"filename": "/tmp/in.txt"}` → `{"position": 30}`).
pub type OffsetMap = Map<String, Json>;

/// The identity of a source partition: its compact JSON with object keys sorted at every level,
/// so that two maps that differ only in key order are one partition. Every place that indexes
/// partitions (the offset stores, the runtime's in-flight offsets) uses this one form.
pub fn canonical_partition_key(map: &OffsetMap) -> String {
    // A map of JSON values always serializes (keys are strings).
    serde_json::to_string(&sorted_keys(map)).unwrap_or_default()
}

/// A copy of `map` with object keys sorted at every level (array order is kept): the form
/// [`canonical_partition_key`] serializes, and the offset file writes.
pub fn sorted_keys(map: &OffsetMap) -> OffsetMap {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(m) => Json::Object(sorted_keys(m)),
            Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .into_iter()
        .map(|(k, v)| (k.clone(), sorted(v)))
        .collect()
}

/// A topic name shared by every record of a [`SourceBatch`]: cloning it clones an `Arc`, and
/// two handles of one name compare by pointer before they compare text.
/// (`Arc<str>`'s equality checks the pointer first.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Arc<str>);

impl Topic {
    /// A topic named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Topic(name.into())
    }

    /// The topic's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Topic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(s: &str) -> Self {
        Topic(s.into())
    }
}

impl From<String> for Topic {
    fn from(s: String) -> Self {
        Topic(s.into())
    }
}

/// A source partition (`{"filename": "/tmp/in.txt"}`) made once and shared: a task keeps one
/// per partition it reads and hands out clones (an `Arc`), so the runtime compares partitions
/// by pointer first and computes a partition's canonical key (for its offset bookkeeping) once.
///
/// # Example
///
/// ```
/// use kconnect_connectors::record::{OffsetMap, SourcePartition};
/// use serde_json::json;
///
/// let map: OffsetMap = json!({"table": "users", "schema": "public"}).as_object().unwrap().clone();
/// let partition = SourcePartition::new(map.clone());
/// // Clones share the map; equal maps are equal partitions, whatever their key order.
/// assert_eq!(partition.clone(), SourcePartition::new(map));
/// assert_eq!(&**partition.key(), r#"{"schema":"public","table":"users"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct SourcePartition(Arc<PartitionBody>);

#[derive(Debug)]
struct PartitionBody {
    map: OffsetMap,
    key: OnceLock<Arc<str>>,
}

impl SourcePartition {
    /// A partition of `map`.
    pub fn new(map: OffsetMap) -> Self {
        SourcePartition(Arc::new(PartitionBody {
            map,
            key: OnceLock::new(),
        }))
    }

    /// The partition's keys and values.
    pub fn map(&self) -> &OffsetMap {
        &self.0.map
    }

    /// [`canonical_partition_key`] of the map: the key offsets are tracked under. Computed on
    /// first use, then shared by every clone.
    pub fn key(&self) -> &Arc<str> {
        self.0
            .key
            .get_or_init(|| canonical_partition_key(&self.0.map).into())
    }
}

impl PartialEq for SourcePartition {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.map == other.0.map
    }
}

impl Deref for SourcePartition {
    type Target = OffsetMap;
    fn deref(&self) -> &OffsetMap {
        &self.0.map
    }
}

impl From<OffsetMap> for SourcePartition {
    fn from(map: OffsetMap) -> Self {
        SourcePartition::new(map)
    }
}

/// Records a source task read from one source partition, in order, for one topic: the batch
/// form of [`SourceTask::poll`](crate::api::SourceTask::poll), returned by
/// [`SourceTask::poll_batches`](crate::api::SourceTask::poll_batches). The records carry no
/// offsets of their own: `offset` is the source offset after the last of them, and the runtime
/// commits it once the broker acknowledged every record of the batch (and of the batches
/// before it in that partition).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceBatch {
    /// The topic every record goes to.
    pub topic: Topic,
    /// The source partition every record was read from.
    pub partition: SourcePartition,
    /// The records, in order.
    pub records: Vec<BatchRecord>,
    /// The source offset after the last record.
    pub offset: OffsetMap,
}

/// One record of a [`SourceBatch`]: a [`SourceRecord`] without what the batch shares.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    /// The Kafka partition, or `None` to let the producer's partitioner choose.
    pub kafka_partition: Option<i32>,
    /// The key's schema, if any.
    pub key_schema: Option<Schema>,
    /// The key ([`Value::Null`] for none).
    pub key: Value,
    /// The value's schema, if any.
    pub value_schema: Option<Schema>,
    /// The value.
    pub value: Value,
    /// Milliseconds since the epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// The record's headers, in order.
    pub headers: Vec<Header>,
}

impl BatchRecord {
    /// A record with a value and its schema, no key, no headers.
    pub fn new(value_schema: Option<Schema>, value: Value) -> Self {
        BatchRecord {
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// What one poll of a source task returned: records of the per-record API, or batches.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Records of [`SourceTask::poll`](crate::api::SourceTask::poll), each with its own partition
    /// and offset.
    Records(Vec<SourceRecord>),
    /// Runs of records, each from one source partition, of
    /// [`SourceTask::poll_batches`](crate::api::SourceTask::poll_batches).
    Batches(Vec<SourceBatch>),
}

impl Polled {
    /// How many records it holds.
    pub fn len(&self) -> usize {
        match self {
            Polled::Records(r) => r.len(),
            Polled::Batches(b) => b.iter().map(|b| b.records.len()).sum(),
        }
    }

    /// Whether it holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A Kafka topic and partition.
///
/// # Example
///
/// ```
/// use kconnect_connectors::record::TopicPartition;
///
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!((tp.topic.as_str(), tp.partition), ("orders", 3));
/// assert_eq!(tp.to_string(), "orders-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: String,
    /// The partition's number.
    pub partition: i32,
}

impl TopicPartition {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One record header: a key and a value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The header's key.
    pub key: String,
    /// The value's schema, if any.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

/// Where a sink record's timestamp came from (Kafka's `TimestampType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The record has no timestamp.
    NoTimestampType,
    /// The producer (or source task) set the timestamp.
    CreateTime,
    /// The broker set the timestamp when it appended the record.
    LogAppendTime,
}

/// A record produced by a source task.
///
/// # Example
///
/// ```
/// use kconnect_connectors::data::{Schema, Value};
/// use kconnect_connectors::record::{Header, OffsetMap, SourceRecord};
/// use serde_json::json;
///
/// let partition: OffsetMap = json!({"filename": "/tmp/in.txt"}).as_object().unwrap().clone();
/// let offset: OffsetMap = json!({"position": 30}).as_object().unwrap().clone();
/// let mut record =
///     SourceRecord::new(partition, offset, "lines", Some(Schema::string()), Value::from("hello"));
/// // The optional parts are public fields.
/// record.key_schema = Some(Schema::string());
/// record.key = Value::from("in.txt");
/// record.headers.push(Header {
///     key: "origin".into(),
///     schema: Some(Schema::string()),
///     value: Value::from("file"),
/// });
/// assert_eq!(record.partition, None); // the producer's partitioner chooses
/// assert_eq!(record.source_offset["position"], 30);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Where the record was read from in the source system (`{"filename": "/tmp/in.txt"}`): offsets
    /// are committed per source partition.
    pub source_partition: OffsetMap,
    /// How far into its source partition the record is (`{"position": 30}`): what the task resumes
    /// after.
    pub source_offset: OffsetMap,
    /// The Kafka topic the record goes to.
    pub topic: String,
    /// The Kafka partition, or `None` to let the producer's partitioner choose.
    pub partition: Option<i32>,
    /// The key's schema, if any.
    pub key_schema: Option<Schema>,
    /// The key ([`Value::Null`] for none).
    pub key: Value,
    /// The value's schema, if any.
    pub value_schema: Option<Schema>,
    /// The value.
    pub value: Value,
    /// Milliseconds since the epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// The record's headers, in order.
    pub headers: Vec<Header>,
}

impl SourceRecord {
    /// A record with a value and its schema, no key, no headers.
    pub fn new(
        source_partition: OffsetMap,
        source_offset: OffsetMap,
        topic: impl Into<String>,
        value_schema: Option<Schema>,
        value: Value,
    ) -> Self {
        SourceRecord {
            source_partition,
            source_offset,
            topic: topic.into(),
            partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// A record delivered to a sink task.
///
/// # Example
///
/// ```
/// use kconnect_connectors::data::{Schema, Value};
/// use kconnect_connectors::record::{SinkRecord, TimestampType, TopicPartition};
///
/// let record = SinkRecord {
///     topic: "orders".into(),
///     partition: 2,
///     offset: 41,
///     timestamp: Some(1_700_000_000_000),
///     timestamp_type: TimestampType::CreateTime,
///     key_schema: Some(Schema::string()),
///     key: Value::from("order-7"),
///     value_schema: Some(Schema::int64()),
///     value: Value::Int64(1250),
///     headers: Vec::new(),
/// };
/// assert_eq!(record.topic_partition(), TopicPartition::new("orders", 2));
/// assert_eq!(record.topic_partition().to_string(), "orders-2");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Shared by every record of the topic the runtime delivers (interned once per topic), so
    /// a record costs no allocation for it; `"t".into()` builds one.
    pub topic: Arc<str>,
    /// The Kafka partition the record was read from.
    pub partition: i32,
    /// The record's offset in that partition.
    pub offset: i64,
    /// The record's timestamp, in milliseconds since the epoch, if any.
    pub timestamp: Option<i64>,
    /// Where the timestamp came from.
    pub timestamp_type: TimestampType,
    /// The key's schema, if any (from the key converter).
    pub key_schema: Option<Schema>,
    /// The key ([`Value::Null`] for none).
    pub key: Value,
    /// The value's schema, if any (from the value converter).
    pub value_schema: Option<Schema>,
    /// The value.
    pub value: Value,
    /// The record's headers, in order.
    pub headers: Vec<Header>,
}

impl SinkRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }
}

/// What the broker said about a source record it acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic the record was written to.
    pub topic: String,
    /// The partition it was written to.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> OffsetMap {
        match v {
            Json::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_partition_key_is_the_same_whatever_the_key_order_at_every_level() {
        let a = map(json!({"b": {"y": [{"q": 1, "p": 2}], "x": 2}, "a": "f"}));
        let b = map(json!({"a": "f", "b": {"x": 2, "y": [{"p": 2, "q": 1}]}}));
        assert_eq!(
            canonical_partition_key(&a),
            r#"{"a":"f","b":{"x":2,"y":[{"p":2,"q":1}]}}"#
        );
        assert_eq!(canonical_partition_key(&a), canonical_partition_key(&b));
        // The runtime's key is the stores' key.
        assert_eq!(
            &**SourcePartition::new(a.clone()).key(),
            canonical_partition_key(&b)
        );
        // Array order is data: it stays.
        let c = map(json!({"a": "f", "b": {"x": 2, "y": [{"p": 2}, {"q": 1}]}}));
        let d = map(json!({"a": "f", "b": {"x": 2, "y": [{"q": 1}, {"p": 2}]}}));
        assert_ne!(canonical_partition_key(&c), canonical_partition_key(&d));
    }
}
