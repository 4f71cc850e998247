//! A source task's transactions under `exactly.once.source.support=enabled`: when the open
//! transaction ends ([`TaskTransaction`]), the offsets it carries, its size metrics, and the
//! producer's transaction calls, which block in librdkafka and so run on the blocking pool
//! (the task actor awaits them; no tokio worker thread waits).
//!
//! The task actor (`task/source.rs`) owns one `TaskTransaction` and drives it: `begin` before
//! the first record of a transaction, `add_run` for each run of records it sent, then at the
//! boundary it writes [`TaskTransaction::offset_records`] to the offsets topic through the same
//! producer and commits, or aborts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect_connectors::api::{OffsetStorageReader, TransactionContext};
use kconnect_connectors::record::OffsetMap;
use metrics::{gauge, Gauge};
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};

use super::partitioner::partition_for_key;
use super::TransactionBoundary;
use crate::storage::kafka::offsets::{encode_offset_key, encode_offset_value};

pub const TRANSACTION_SIZE_MIN: &str = "kafka_connect_source_task_metrics_transaction_size_min";
pub const TRANSACTION_SIZE_MAX: &str = "kafka_connect_source_task_metrics_transaction_size_max";
pub const TRANSACTION_SIZE_AVG: &str = "kafka_connect_source_task_metrics_transaction_size_avg";

/// Registers the HELP text of the transaction size gauges.
pub fn describe_metrics() {
    use metrics::{describe_gauge, Unit};
    for (name, what) in [
        (TRANSACTION_SIZE_MIN, "smallest"),
        (TRANSACTION_SIZE_MAX, "largest"),
        (TRANSACTION_SIZE_AVG, "average"),
    ] {
        describe_gauge!(
            name,
            Unit::Count,
            format!("Records in the {what} transaction the task committed (exactly-once).")
        );
    }
}

/// Connect's `transaction-size-min/max/avg` over the task's committed transactions.
struct SizeMetrics {
    min: Gauge,
    max: Gauge,
    avg: Gauge,
    count: u64,
    total: u64,
    smallest: u64,
    largest: u64,
}

impl SizeMetrics {
    fn new(connector: &str, task: u32) -> Self {
        let l = [
            ("connector", connector.to_string()),
            ("task", task.to_string()),
        ];
        SizeMetrics {
            min: gauge!(TRANSACTION_SIZE_MIN, &l),
            max: gauge!(TRANSACTION_SIZE_MAX, &l),
            avg: gauge!(TRANSACTION_SIZE_AVG, &l),
            count: 0,
            total: 0,
            smallest: u64::MAX,
            largest: 0,
        }
    }

    fn committed(&mut self, records: u64) {
        self.count += 1;
        self.total += records;
        self.smallest = self.smallest.min(records);
        self.largest = self.largest.max(records);
        self.min.set(self.smallest as f64);
        self.max.set(self.largest as f64);
        self.avg.set(self.total as f64 / self.count as f64);
    }
}

/// Where the task writes its offsets inside its transactions.
#[derive(Debug, Clone)]
pub struct OffsetsTopic {
    pub name: String,
    pub partitions: i32,
}

/// One offset record: (partition, key, value).
pub type OffsetRecord = (i32, Vec<u8>, Option<Vec<u8>>);

/// The open transaction of one task, and when it ends.
pub struct TaskTransaction {
    pub boundary: TransactionBoundary,
    interval: Duration,
    connector: String,
    pub offsets_topic: OffsetsTopic,
    /// The task's context, under `transaction.boundary=connector`.
    pub context: Option<TransactionContext>,
    open: bool,
    /// Records sent in the open transaction.
    records: u64,
    /// Offset key bytes → the last offset of that source partition in the open transaction.
    offsets: BTreeMap<Vec<u8>, OffsetMap>,
    /// When the interval boundary last ended a transaction (or the task started).
    since: Instant,
    sizes: SizeMetrics,
}

impl TaskTransaction {
    pub fn new(
        connector: &str,
        task: u32,
        boundary: TransactionBoundary,
        interval: Duration,
        offsets_topic: OffsetsTopic,
    ) -> Self {
        TaskTransaction {
            boundary,
            interval,
            connector: connector.to_string(),
            offsets_topic,
            context: (boundary == TransactionBoundary::Connector).then(TransactionContext::new),
            open: false,
            records: 0,
            offsets: BTreeMap::new(),
            since: Instant::now(),
            sizes: SizeMetrics::new(connector, task),
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether the producer's transaction must begin before the next record.
    pub fn needs_begin(&self) -> bool {
        !self.open
    }

    pub fn began(&mut self) {
        self.open = true;
    }

    /// A run of `records` records sent in the open transaction, whose source partition's
    /// offset is now `offset`.
    pub fn add_run(&mut self, partition: &OffsetMap, offset: OffsetMap, records: usize) {
        self.records += records as u64;
        self.offsets
            .insert(encode_offset_key(&self.connector, partition), offset);
    }

    /// Whether the runtime ends the open transaction after a poll (`poll` and `interval`
    /// boundaries; the connector's requests are the caller's business).
    pub fn runtime_commit_due(&self, now: Instant) -> bool {
        match self.boundary {
            TransactionBoundary::Poll => self.open,
            TransactionBoundary::Interval => {
                self.open && now.saturating_duration_since(self.since) >= self.interval
            }
            TransactionBoundary::Connector => false,
        }
    }

    /// The offset records to write before the commit, partitioned as Java's producer would.
    pub fn offset_records(&self) -> Vec<OffsetRecord> {
        self.offsets
            .iter()
            .map(|(key, offset)| {
                (
                    partition_for_key(key, self.offsets_topic.partitions),
                    key.clone(),
                    encode_offset_value(Some(offset)),
                )
            })
            .collect()
    }

    /// The open transaction was committed.
    pub fn committed(&mut self) {
        self.sizes.committed(self.records);
        self.reset();
    }

    /// The open transaction was aborted: its records and offsets are gone.
    pub fn aborted(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.open = false;
        self.records = 0;
        self.offsets.clear();
        self.since = Instant::now();
    }
}

/// What Connect's `Worker.exactlyOnceSourceTaskProducerConfigs` ensures of a task's producer
/// config: idempotence, `acks=all` and the task's `transactional.id`, over whatever the
/// `producer.*` and `producer.override.*` keys said (a value replaced is logged).
pub fn transactional_props(conf: &mut kconnect_connectors::api::Props, transactional_id: &str) {
    for (key, value) in [
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("transactional.id", transactional_id),
    ] {
        if let Some(old) = conf.insert(key.to_string(), value.to_string()) {
            let same = old == value || (key == "acks" && old.trim() == "-1");
            if !same {
                tracing::warn!(
                    key,
                    configured = %old,
                    used = value,
                    "ignoring the configured producer value: exactly-once source support needs it"
                );
            }
        }
    }
}

/// A failed call of the producer's transaction API.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    #[error("cannot {what} the transaction of producer {transactional_id}: {source}")]
    Kafka {
        what: &'static str,
        transactional_id: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("the blocking pool dropped the transaction call: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The producer's blocking transaction calls, each run on the blocking pool.
pub struct TransactionalProducer;

impl TransactionalProducer {
    async fn call<C: ProducerContext + 'static>(
        producer: &Arc<ThreadedProducer<C>>,
        transactional_id: &str,
        what: &'static str,
        f: impl FnOnce(&ThreadedProducer<C>) -> rdkafka::error::KafkaResult<()> + Send + 'static,
    ) -> Result<(), TransactionError> {
        let p = producer.clone();
        tokio::task::spawn_blocking(move || f(&p))
            .await?
            .map_err(|source| TransactionError::Kafka {
                what,
                transactional_id: transactional_id.to_string(),
                source,
            })
    }

    /// Registers the transactional id with the broker, fencing any earlier producer of it
    /// and aborting what that one left open.
    pub async fn init<C: ProducerContext + 'static>(
        producer: &Arc<ThreadedProducer<C>>,
        id: &str,
        timeout: Duration,
    ) -> Result<(), TransactionError> {
        Self::call(producer, id, "initialise", move |p| {
            p.init_transactions(timeout)
        })
        .await
    }

    /// Local to the client (no round trip), so it is called inline.
    pub fn begin<C: ProducerContext + 'static>(
        producer: &ThreadedProducer<C>,
        id: &str,
    ) -> Result<(), TransactionError> {
        producer
            .begin_transaction()
            .map_err(|source| TransactionError::Kafka {
                what: "begin",
                transactional_id: id.to_string(),
                source,
            })
    }

    /// Flushes the transaction's records and commits it.
    pub async fn commit<C: ProducerContext + 'static>(
        producer: &Arc<ThreadedProducer<C>>,
        id: &str,
        timeout: Duration,
    ) -> Result<(), TransactionError> {
        Self::call(producer, id, "commit", move |p| {
            p.commit_transaction(timeout)
        })
        .await
    }

    /// Waits for every record to be acknowledged first (so none is purged, which would report
    /// a delivery failure), then aborts.
    pub async fn abort<C: ProducerContext + 'static>(
        producer: &Arc<ThreadedProducer<C>>,
        id: &str,
        timeout: Duration,
    ) -> Result<(), TransactionError> {
        Self::call(producer, id, "abort", move |p| {
            p.flush(timeout)?;
            p.abort_transaction(timeout)
        })
        .await
    }
}

/// A connector's own offsets topic first, then the worker's (as Connect's
/// `ConnectorOffsetBackingStore` reads): offsets written before the connector had its own
/// topic are still found.
pub struct FallbackOffsetReader {
    pub own: Arc<dyn OffsetStorageReader>,
    pub worker: Arc<dyn OffsetStorageReader>,
}

impl OffsetStorageReader for FallbackOffsetReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.own
            .offset(partition)
            .or_else(|| self.worker.offset(partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> OffsetMap {
        v.as_object().unwrap().clone()
    }

    fn tx(boundary: TransactionBoundary, interval: Duration) -> TaskTransaction {
        let topic = OffsetsTopic {
            name: "offsets".into(),
            partitions: 25,
        };
        TaskTransaction::new("c", 0, boundary, interval, topic)
    }

    #[test]
    fn a_transaction_carries_the_last_offset_of_each_partition_keyed_as_connect() {
        let mut t = tx(TransactionBoundary::Poll, Duration::ZERO);
        assert!(!t.runtime_commit_due(Instant::now()), "nothing open");
        t.began();
        t.add_run(&map(json!({"id": 1})), map(json!({"seqno": 4})), 5);
        t.add_run(&map(json!({"id": 2})), map(json!({"seqno": 0})), 1);
        t.add_run(&map(json!({"id": 1})), map(json!({"seqno": 9})), 5);
        assert!(t.runtime_commit_due(Instant::now()));
        let records = t.offset_records();
        let key1 = br#"["c",{"id":1}]"#.to_vec();
        let key2 = br#"["c",{"id":2}]"#.to_vec();
        assert_eq!(
            records,
            vec![
                (
                    partition_for_key(&key1, 25),
                    key1,
                    Some(br#"{"seqno":9}"#.to_vec())
                ),
                (
                    partition_for_key(&key2, 25),
                    key2,
                    Some(br#"{"seqno":0}"#.to_vec())
                ),
            ]
        );
        t.committed();
        assert_eq!(t.sizes.largest, 11);
        assert!(t.offset_records().is_empty() && !t.is_open());
        t.began();
        t.add_run(&map(json!({"id": 1})), map(json!({"seqno": 10})), 1);
        t.aborted();
        assert!(t.offset_records().is_empty());
        assert_eq!(t.sizes.count, 1, "an aborted transaction is not counted");
    }

    #[test]
    fn interval_and_connector_boundaries_wait() {
        let mut t = tx(TransactionBoundary::Interval, Duration::from_secs(3600));
        t.began();
        assert!(!t.runtime_commit_due(Instant::now()));
        assert!(t.runtime_commit_due(Instant::now() + Duration::from_secs(3600)));
        let mut t = tx(TransactionBoundary::Connector, Duration::ZERO);
        assert!(t.context.is_some());
        t.began();
        assert!(!t.runtime_commit_due(Instant::now() + Duration::from_secs(3600)));
    }
}
