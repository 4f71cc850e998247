//! KIP-610 on the runtime side: the errant record reporter a sink task's context hands out
//! when the connector configures a dead letter queue or `errors.log.enable`.
//!
//! A record `put` reports goes through Connect's `executeFailed` ([`Reporters::execute_failed`]):
//! counted, logged, written to the dead letter queue as it was consumed, and refused under
//! `errors.tolerance=none` (the report returns the task's error, and the task fails after
//! `put` even if the plugin swallowed it).
//!
//! To write a reported record as it was consumed, the task keeps, beside the batch it lends to
//! `put`, where each record came from ([`BatchOrigins`]): its coordinates, and, with a dead
//! letter queue, a copy of its key, value and header bytes in one buffer reused from batch to
//! batch (a copy, no allocation per record once the buffer is large enough; nothing at all
//! without a reporter). A reported record is found by its address in the lent batch (a task
//! reports the records it was handed), else by its Kafka coordinates; a record the task made
//! itself is converted with the task's converters, as Connect does.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use kconnect_connectors::api::{ErrantRecordFuture, ErrantRecordReporter};
use kconnect_connectors::record::{SinkRecord, TimestampType};
use kconnect_connectors::{ConnectError, ConnectResult};
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};

use super::{
    Consumed, Executing, ProcessingRecord, Reporters, Stage, ToleranceExceeded, SINK_TASK_CLASS,
};
use crate::task::convert::TaskConverters;

/// Where the records of a batch came from, index for index.
#[derive(Debug, Default)]
pub struct BatchOrigins {
    /// Whether to copy the bytes (only a dead letter queue needs them).
    keep_bytes: bool,
    records: Vec<Origin>,
    bytes: Vec<u8>,
    headers: Vec<(Range<usize>, Option<Range<usize>>)>,
}

#[derive(Debug)]
struct Origin {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    timestamp: Option<(i64, TimestampType)>,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    headers: Range<usize>,
}

impl BatchOrigins {
    pub fn new(keep_bytes: bool) -> Self {
        BatchOrigins {
            keep_bytes,
            ..Default::default()
        }
    }

    /// The next record of the batch came from `m` (its topic's shared name: `topic`).
    pub fn push(&mut self, m: &BorrowedMessage<'_>, topic: &Arc<str>) {
        let timestamp = match m.timestamp() {
            Timestamp::NotAvailable => None,
            Timestamp::CreateTime(t) => Some((t, TimestampType::CreateTime)),
            Timestamp::LogAppendTime(t) => Some((t, TimestampType::LogAppendTime)),
        };
        let headers = m.headers().into_iter().flat_map(|hs| hs.iter());
        self.push_parts(
            (topic, m.partition(), m.offset()),
            timestamp,
            m.key(),
            m.payload(),
            headers.map(|h| (h.key, h.value)),
        );
    }

    /// [`push`](BatchOrigins::push) from the record's parts.
    pub fn push_parts<'h>(
        &mut self,
        (topic, partition, offset): (&Arc<str>, i32, i64),
        timestamp: Option<(i64, TimestampType)>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl Iterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) {
        let (mut k, mut v, first_header) = (None, None, self.headers.len());
        if self.keep_bytes {
            k = key.map(|b| self.copy(b));
            v = value.map(|b| self.copy(b));
            for (hk, hv) in headers {
                let hk = self.copy(hk.as_bytes());
                let hv = hv.map(|b| self.copy(b));
                self.headers.push((hk, hv));
            }
        }
        self.records.push(Origin {
            topic: topic.clone(),
            partition,
            offset,
            timestamp,
            key: k,
            value: v,
            headers: first_header..self.headers.len(),
        });
    }

    fn copy(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    /// Forgets every record, keeping the buffers for the next batch.
    pub fn clear(&mut self) {
        self.records.clear();
        self.bytes.clear();
        self.headers.clear();
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Keeps the records whose `keep` is true (`keep` has one entry per record).
    pub fn retain(&mut self, keep: &[bool]) {
        let mut i = 0;
        self.records.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    /// Moves the records whose `take` is true (one entry per record) to a new `BatchOrigins`,
    /// in order, keeping the others: a sink task parks the records of a partition it paused
    /// with their origins.
    pub fn split_off_where(&mut self, take: &[bool]) -> BatchOrigins {
        let mut out = BatchOrigins::new(self.keep_bytes);
        for i in (0..self.records.len()).filter(|i| take[*i]) {
            out.push_origin(self, i);
        }
        let keep: Vec<bool> = take.iter().map(|t| !t).collect();
        self.retain(&keep);
        out
    }

    /// Appends the records of `other` after this one's (an empty one takes `other`'s choice
    /// of keeping bytes).
    pub fn append(&mut self, other: &BatchOrigins) {
        if self.records.is_empty() {
            self.keep_bytes = other.keep_bytes;
        }
        for i in 0..other.records.len() {
            self.push_origin(other, i);
        }
    }

    /// Copies record `i` of `from`.
    fn push_origin(&mut self, from: &BatchOrigins, i: usize) {
        let c = from.consumed(i);
        let topic = &from.records[i].topic;
        self.push_parts(
            (topic, c.partition, c.offset),
            c.timestamp,
            c.key,
            c.value,
            c.headers.into_iter(),
        );
    }

    /// Record `i` as it was consumed.
    pub fn consumed(&self, i: usize) -> Consumed<'_> {
        let o = &self.records[i];
        let slice = |r: &Range<usize>| &self.bytes[r.clone()];
        Consumed {
            topic: &o.topic,
            partition: o.partition,
            offset: o.offset,
            timestamp: o.timestamp,
            key: o.key.as_ref().map(slice),
            value: o.value.as_ref().map(slice),
            headers: self.headers[o.headers.clone()]
                .iter()
                .map(|(k, v)| {
                    (
                        std::str::from_utf8(slice(k)).unwrap_or_default(),
                        v.as_ref().map(slice),
                    )
                })
                .collect(),
        }
    }

    /// The record consumed at these coordinates.
    fn position(&self, topic: &str, partition: i32, offset: i64) -> Option<usize> {
        self.records
            .iter()
            .position(|o| o.offset == offset && o.partition == partition && *o.topic == *topic)
    }
}

/// The batch lent to `put`: its address, to know a reported record by it, and its origins.
#[derive(Default)]
struct Lent {
    base: usize,
    len: usize,
    origins: BatchOrigins,
}

impl Lent {
    /// The index in the batch of `record`, if it is one of the batch's.
    fn index_of(&self, record: &SinkRecord) -> Option<usize> {
        let size = std::mem::size_of::<SinkRecord>();
        let at = record as *const SinkRecord as usize;
        let off = at.checked_sub(self.base)?;
        let i = off / size;
        (off % size == 0 && i < self.len && i < self.origins.len()).then_some(i)
    }
}

/// A record `put` made up (or changed beyond recognition), converted for the queue.
struct Converted {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<(i64, TimestampType)>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl ProcessingRecord for Converted {
    fn name(&self) -> String {
        format!(
            "the record in {}-{} at offset {}",
            self.topic, self.partition, self.offset
        )
    }

    fn consumed(&self) -> Option<Consumed<'_>> {
        Some(Consumed {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect(),
        })
    }
}

/// The reporter a sink task's context hands out.
pub struct TaskErrantReporter {
    reporters: Arc<Reporters>,
    converters: Arc<TaskConverters>,
    lent: Mutex<Lent>,
    /// The first report refused during the current `put` (Connect's `taskPutException`, kept
    /// only when the tolerance refuses it): the task fails with it after `put`.
    refused: Mutex<Option<ToleranceExceeded>>,
}

impl TaskErrantReporter {
    pub fn new(reporters: Arc<Reporters>, converters: Arc<TaskConverters>) -> Self {
        TaskErrantReporter {
            reporters,
            converters,
            lent: Mutex::default(),
            refused: Mutex::default(),
        }
    }

    fn lent(&self) -> MutexGuard<'_, Lent> {
        // A task that panicked mid-report leaves valid data behind.
        self.lent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before `put`: the batch it gets, and where its records came from (one lock a batch).
    pub fn lend(&self, batch: &[SinkRecord], origins: BatchOrigins) {
        let mut lent = self.lent();
        lent.base = batch.as_ptr() as usize;
        lent.len = batch.len();
        lent.origins = origins;
    }

    /// After `put`: the origins back, and the first report refused during it, if any.
    pub fn take_back(&self) -> (BatchOrigins, Option<ToleranceExceeded>) {
        let origins = std::mem::take(&mut self.lent().origins);
        let refused = self
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        (origins, refused)
    }

    fn convert(&self, record: &SinkRecord) -> ConnectResult<Converted> {
        let topic = &*record.topic;
        let c = &self.converters;
        Ok(Converted {
            topic: topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp.map(|t| (t, record.timestamp_type)),
            key: c
                .key
                .from_connect(topic, record.key_schema.as_ref(), &record.key)?,
            value: c
                .value
                .from_connect(topic, record.value_schema.as_ref(), &record.value)?,
            headers: record
                .headers
                .iter()
                .map(|h| {
                    let bytes =
                        c.header
                            .from_connect_header(topic, &h.key, h.schema.as_ref(), &h.value)?;
                    Ok((h.key.clone(), bytes))
                })
                .collect::<ConnectResult<_>>()?,
        })
    }
}

impl ErrantRecordReporter for TaskErrantReporter {
    fn report(
        &self,
        record: &SinkRecord,
        error: ConnectError,
    ) -> ConnectResult<ErrantRecordFuture> {
        let exec = Executing::new(Stage::TaskPut, SINK_TASK_CLASS);
        let result = {
            let lent = self.lent();
            let found = lent.index_of(record).or_else(|| {
                lent.origins
                    .position(&record.topic, record.partition, record.offset)
            });
            match found {
                Some(i) => self
                    .reporters
                    .execute_failed(&exec, &lent.origins.consumed(i), &error),
                None => {
                    drop(lent);
                    let converted = self.convert(record)?;
                    self.reporters.execute_failed(&exec, &converted, &error)
                }
            }
        };
        match result {
            Ok(Some(written)) => Ok(ErrantRecordFuture::pending(written)),
            Ok(None) => Ok(ErrantRecordFuture::completed(Ok(()))),
            Err(refused) => {
                let e = ConnectError::other(refused.to_string());
                self.refused
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(refused);
                Err(e)
            }
        }
    }
}
