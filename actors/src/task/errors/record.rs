//! The record an operation failed on, as error handling sees it (Connect's
//! `ProcessingContext.original()`): a name for the task's error, the detail the error log shows
//! with `errors.log.include.messages`, and, on a sink, the record as it was consumed, for the
//! dead letter queue. Each is computed only once an operation failed.

use kconnect_connectors::record::TimestampType;
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};

/// The record an operation is processing.
pub trait ProcessingRecord {
    /// Names the record in the task's error: "the record in orders-0 at offset 5".
    fn name(&self) -> String;

    /// What the error log adds with `errors.log.include.messages` (Connect's
    /// `LogReporter.appendMessage`), after ", where ".
    fn log_detail(&self) -> String {
        match self.consumed() {
            Some(c) => c.log_detail(),
            None => format!("record is {}", self.name()),
        }
    }

    /// The record as it was consumed from Kafka (sinks only).
    fn consumed(&self) -> Option<Consumed<'_>> {
        None
    }
}

/// A record as it was consumed: what goes to the dead letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<(i64, TimestampType)>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl<'a> Consumed<'a> {
    /// The record librdkafka handed over.
    pub fn of<'m>(m: &'a BorrowedMessage<'m>) -> Self {
        let timestamp = match m.timestamp() {
            Timestamp::NotAvailable => None,
            Timestamp::CreateTime(t) => Some((t, TimestampType::CreateTime)),
            Timestamp::LogAppendTime(t) => Some((t, TimestampType::LogAppendTime)),
        };
        Consumed {
            topic: m.topic(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp,
            key: m.key(),
            value: m.payload(),
            headers: m
                .headers()
                .map(|hs| hs.iter().map(|h| (h.key, h.value)).collect())
                .unwrap_or_default(),
        }
    }

    /// "the record in orders-0 at offset 5"
    pub fn name(&self) -> String {
        format!(
            "the record in {}-{} at offset {}",
            self.topic, self.partition, self.offset
        )
    }

    /// Connect's `LogReporter.Sink` detail: the coordinates and timestamp, never the data.
    pub fn log_detail(&self) -> String {
        let mut s = format!(
            "consumed record is {{topic='{}', partition={}, offset={}",
            self.topic, self.partition, self.offset
        );
        if let Some((t, kind)) = self.timestamp {
            let kind = match kind {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
                TimestampType::NoTimestampType => "NoTimestampType",
            };
            s.push_str(&format!(", timestamp={t}, timestampType={kind}"));
        }
        s.push('}');
        s
    }
}

/// A record librdkafka handed a sink task, as it came.
pub struct ConsumedMessage<'a, 'm>(pub &'a BorrowedMessage<'m>);

impl ProcessingRecord for ConsumedMessage<'_, '_> {
    fn name(&self) -> String {
        format!(
            "the record in {}-{} at offset {}",
            self.0.topic(),
            self.0.partition(),
            self.0.offset()
        )
    }

    fn consumed(&self) -> Option<Consumed<'_>> {
        Some(Consumed::of(self.0))
    }
}

impl ProcessingRecord for Consumed<'_> {
    fn name(&self) -> String {
        Consumed::name(self)
    }

    fn consumed(&self) -> Option<Consumed<'_>> {
        Some(self.clone())
    }
}

/// Connect's `LogReporter.Source` detail: the record with its source partition and offset, as
/// it stood when the stage failed.
pub fn source_record_detail(
    partition: Option<&kconnect_connectors::record::OffsetMap>,
    offset: &kconnect_connectors::record::OffsetMap,
    r: &dyn kconnect_connectors::transforms::ConnectRecord,
) -> String {
    let json = |m: &kconnect_connectors::record::OffsetMap| serde_json::Value::Object(m.clone());
    let partition = partition.map_or_else(|| "?".to_string(), |p| json(p).to_string());
    let kafka_partition = r
        .kafka_partition()
        .map_or_else(|| "null".to_string(), |p| p.to_string());
    let timestamp = r
        .timestamp()
        .map_or_else(|| "null".to_string(), |t| t.to_string());
    format!(
        "source record is = SourceRecord{{sourcePartition={partition}, sourceOffset={}}} \
         ConnectRecord{{topic='{}', kafkaPartition={kafka_partition}, key={:?}, keySchema={:?}, \
         value={:?}, valueSchema={:?}, timestamp={timestamp}, headers={:?}}}",
        json(offset),
        r.topic(),
        r.key(),
        r.key_schema(),
        r.value(),
        r.value_schema(),
        r.headers(),
    )
}
