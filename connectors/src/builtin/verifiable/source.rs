use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio::time::Instant;

use crate::api::{
    Connector, ConnectorContext, ConnectorKind, ConnectorTransactionBoundaries, ExactlyOnceSupport,
    Props, SourceTask, SourceTaskContext, TaskInstance, TransactionContext,
};
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::{Schema, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::record::{OffsetMap, SourceRecord};

use super::{
    numbered_task_configs, task_id, ID_FIELD, MAX_MESSAGES_CONFIG, SEQNO_FIELD, THROUGHPUT_CONFIG,
    TOPIC_CONFIG, TRANSACTION_RECORDS_CONFIG,
};

/// The most records one `poll` returns.
const MAX_BATCH: u64 = 1000;
/// How long an idle `poll` (all seqnos emitted, or throughput 0) waits before returning.
const IDLE_BACKOFF: Duration = Duration::from_millis(100);
/// The longest a throttled `poll` waits before returning, so the runtime stays responsive.
const MAX_THROTTLE_WAIT: Duration = Duration::from_millis(500);

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_CONFIG,
            ConfigType::String,
            None,
            Some(Validator::NonEmptyString),
            Importance::High,
            "The topic to produce the sequence records to",
        )
        .define(
            THROUGHPUT_CONFIG,
            ConfigType::Long,
            Some("-1"),
            None,
            Importance::Medium,
            "The most records per second each task produces; negative for no limit, \
             0 to produce nothing",
        )
        .define(
            MAX_MESSAGES_CONFIG,
            ConfigType::Long,
            Some("-1"),
            None,
            Importance::Medium,
            "The number of seqnos each task produces in all, across restarts (seqnos 0 to \
             max.messages - 1); negative for no end",
        )
        .define(
            TRANSACTION_RECORDS_CONFIG,
            ConfigType::Long,
            Some("0"),
            Some(Validator::at_least(0.0)),
            Importance::Low,
            "With transaction.boundary=connector: each task commits its transaction after every \
             this many seqnos and after its last; 0 leaves the boundaries to the runtime",
        )
}

/// The `verifiable.transaction.records` of `props`: 0 when absent or not a positive number.
fn transaction_records(props: &Props) -> u64 {
    props
        .get(TRANSACTION_RECORDS_CONFIG)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Generates sequence records from `tasks.max` tasks. See [`VerifiableSourceTask`].
#[derive(Debug, Default)]
pub struct VerifiableSourceConnector {
    props: Props,
}

impl VerifiableSourceConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connector for VerifiableSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// Exactly `max_tasks` configs, the `n`th with `id` = `n`.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(numbered_task_configs(&self.props, max_tasks))
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(VerifiableSourceTask::new()))
    }

    /// Deviation from Connect (whose VerifiableSource does not say): a task resumes at the
    /// committed seqno + 1, so records and offsets written together are delivered exactly once.
    fn exactly_once_support(&self, _props: &Props) -> Option<ExactlyOnceSupport> {
        Some(ExactlyOnceSupport::Supported)
    }

    /// Deviation from Connect (whose VerifiableSource cannot): with
    /// `verifiable.transaction.records` > 0 its tasks define the boundaries, so exactly-once
    /// tests can run `transaction.boundary=connector` with the built-in connector.
    fn can_define_transaction_boundaries(&self, props: &Props) -> ConnectorTransactionBoundaries {
        if transaction_records(props) > 0 {
            ConnectorTransactionBoundaries::Supported
        } else {
            ConnectorTransactionBoundaries::Unsupported
        }
    }
}

/// Emits records with key INT32 task id and value INT64 seqno, seqnos 0, 1, 2, … in order.
///
/// Source partition `{"id": <task id>}`, source offset `{"seqno": <seqno>}`; a restarted task
/// resumes at the committed seqno + 1. With `throughput` > 0 the task emits at most
/// `throughput` records per second since it started (plus one); with `max.messages` ≥ 0 it
/// stops after seqno `max.messages - 1` and then returns empty batches.
#[derive(Debug, Default)]
pub struct VerifiableSourceTask {
    id: i32,
    topic: String,
    partition: OffsetMap,
    throughput: i64,
    /// `None`: unbounded.
    max_messages: Option<u64>,
    starting_seqno: u64,
    seqno: u64,
    started: Option<Instant>,
    /// Under `transaction.boundary=connector`: where the task ends its transactions, and after
    /// how many seqnos (`verifiable.transaction.records`).
    transactions: Option<(TransactionContext, u64)>,
}

impl VerifiableSourceTask {
    /// A task with no config yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The source partition of task `id`'s records.
    pub fn source_partition(id: i32) -> OffsetMap {
        let mut m = OffsetMap::new();
        m.insert(ID_FIELD.into(), Json::from(id));
        m
    }

    /// The seqno the next record will carry.
    pub fn next_seqno(&self) -> u64 {
        self.seqno
    }

    /// How many records may go now under the throughput limit, or how long to wait for one.
    fn allowance(&self, now: Instant) -> Result<u64, Duration> {
        if self.throughput < 0 {
            return Ok(u64::MAX);
        }
        let rate = self.throughput as u128;
        let started = self.started.unwrap_or(now);
        let elapsed = now.saturating_duration_since(started).as_nanos();
        // floor(elapsed × rate) + 1 records by now: the first goes at once.
        let allowed = elapsed * rate / 1_000_000_000 + 1;
        let sent = (self.seqno - self.starting_seqno) as u128;
        if allowed > sent {
            return Ok(u64::try_from(allowed - sent).unwrap_or(u64::MAX));
        }
        // Record `sent` (0-based, since start) may go at sent / rate seconds after the start.
        let due_nanos = (sent * 1_000_000_000).div_ceil(rate);
        let due = started + Duration::from_nanos(u64::try_from(due_nanos).unwrap_or(u64::MAX));
        Err(due
            .saturating_duration_since(now)
            .max(Duration::from_millis(1)))
    }

    fn record(&self, seqno: u64) -> SourceRecord {
        let mut offset = OffsetMap::new();
        offset.insert(SEQNO_FIELD.into(), Json::from(seqno));
        let mut record = SourceRecord::new(
            self.partition.clone(),
            offset,
            self.topic.clone(),
            Some(Schema::int64()),
            Value::Int64(seqno as i64),
        );
        record.key_schema = Some(Schema::int32());
        record.key = Value::Int32(self.id);
        record
    }
}

/// The seqno after the committed offset's; 0 when there is none.
fn resume_seqno(offset: Option<&OffsetMap>) -> ConnectResult<u64> {
    match offset.and_then(|o| o.get(SEQNO_FIELD)) {
        None | Some(Json::Null) => Ok(0),
        Some(Json::Number(n)) if n.as_u64().is_some() => {
            Ok(n.as_u64().unwrap_or_default().saturating_add(1))
        }
        Some(other) => Err(ConnectError::other(format!(
            "Offset seqno is the incorrect type: expected a non-negative integer, got {other}"
        ))),
    }
}

#[async_trait]
impl SourceTask for VerifiableSourceTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        let id = task_id(props, ctx.task_id)?;
        self.id = i32::try_from(id)
            .map_err(|_| ConnectError::config(format!("task id {id} does not fit an INT32")))?;
        self.topic = config.string(TOPIC_CONFIG)?;
        self.throughput = config.long(THROUGHPUT_CONFIG)?;
        self.max_messages = u64::try_from(config.long(MAX_MESSAGES_CONFIG)?).ok();
        self.partition = Self::source_partition(self.id);
        let every = u64::try_from(config.long(TRANSACTION_RECORDS_CONFIG)?).unwrap_or(0);
        self.transactions = ctx
            .transaction_context()
            .filter(|_| every > 0)
            .map(|tx| (tx.clone(), every));
        let committed = ctx.offset_storage_reader().offset(&self.partition);
        self.seqno = resume_seqno(committed.as_ref())?;
        self.starting_seqno = self.seqno;
        self.started = Some(Instant::now());
        tracing::info!(
            "Started VerifiableSourceTask {} producing to topic {} resuming from seqno {}",
            self.id,
            self.topic,
            self.seqno
        );
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let remaining = match self.max_messages {
            Some(max) => max.saturating_sub(self.seqno),
            None => u64::MAX,
        };
        if remaining == 0 || self.throughput == 0 {
            tokio::time::sleep(IDLE_BACKOFF).await;
            return Ok(Vec::new());
        }
        let allowed = match self.allowance(Instant::now()) {
            Ok(n) => n,
            Err(wait) if wait > MAX_THROTTLE_WAIT => {
                tokio::time::sleep(MAX_THROTTLE_WAIT).await;
                return Ok(Vec::new());
            }
            Err(wait) => {
                tokio::time::sleep(wait).await;
                self.allowance(Instant::now()).unwrap_or(0)
            }
        };
        let n = allowed.min(remaining).min(MAX_BATCH);
        let records: Vec<SourceRecord> = (self.seqno..self.seqno + n)
            .map(|s| self.record(s))
            .collect();
        if let Some((tx, every)) = &self.transactions {
            let last = self.max_messages.map(|max| max.saturating_sub(1));
            for (seqno, record) in (self.seqno..).zip(&records) {
                if (seqno + 1) % every == 0 || Some(seqno) == last {
                    tx.commit_transaction_after(record);
                }
            }
        }
        self.seqno += n;
        Ok(records)
    }

    /// Its `commit_record` does nothing: the runtime need not keep records for it.
    fn wants_commit_record(&self) -> bool {
        false
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::builtin::testutil::{map, props, source_ctx};

    async fn started(
        extra: &[(&str, &str)],
        offsets: Vec<(OffsetMap, OffsetMap)>,
    ) -> VerifiableSourceTask {
        let mut p = props(&[("topic", "seq"), ("id", "3")]);
        p.extend(props(extra));
        let mut task = VerifiableSourceTask::new();
        task.start(source_ctx(9, offsets), &p).await.unwrap();
        task
    }

    fn seqnos(records: &[SourceRecord]) -> Vec<i64> {
        records
            .iter()
            .map(|r| match r.value {
                Value::Int64(s) => s,
                ref other => panic!("not INT64: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn emits_an_increasing_sequence_in_batches_up_to_max_messages() {
        let mut task = started(&[("max.messages", "2500")], vec![]).await;
        let first = task.poll().await.unwrap();
        assert_eq!(first.len(), 1000);
        assert_eq!(seqnos(&first), (0..1000).collect::<Vec<_>>());
        let r = &first[7];
        assert_eq!(r.topic, "seq");
        assert_eq!(r.key, Value::Int32(3));
        assert_eq!(r.key_schema, Some(Schema::int32()));
        assert_eq!(r.value_schema, Some(Schema::int64()));
        assert_eq!(r.source_partition, map(json!({"id": 3})));
        assert_eq!(r.source_offset, map(json!({"seqno": 7})));

        let second = task.poll().await.unwrap();
        let third = task.poll().await.unwrap();
        assert_eq!(seqnos(&second), (1000..2000).collect::<Vec<_>>());
        assert_eq!(seqnos(&third), (2000..2500).collect::<Vec<_>>());
        assert!(task.poll().await.unwrap().is_empty());
        assert_eq!(task.next_seqno(), 2500);
    }

    #[tokio::test]
    async fn resumes_after_the_committed_seqno() {
        let committed = vec![(
            VerifiableSourceTask::source_partition(3),
            map(json!({"seqno": 41})),
        )];
        let mut task = started(&[("max.messages", "45")], committed).await;
        assert_eq!(seqnos(&task.poll().await.unwrap()), vec![42, 43, 44]);
        assert!(task.poll().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn another_tasks_offset_does_not_apply() {
        let committed = vec![(
            VerifiableSourceTask::source_partition(4),
            map(json!({"seqno": 41})),
        )];
        let mut task = started(&[("max.messages", "2")], committed).await;
        assert_eq!(seqnos(&task.poll().await.unwrap()), vec![0, 1]);
    }

    #[tokio::test]
    async fn a_bad_committed_seqno_fails_start() {
        let committed = vec![(
            VerifiableSourceTask::source_partition(3),
            map(json!({"seqno": "x"})),
        )];
        let mut task = VerifiableSourceTask::new();
        let p = props(&[("topic", "seq"), ("id", "3")]);
        let err = task.start(source_ctx(3, committed), &p).await.unwrap_err();
        assert!(err.to_string().contains("incorrect type"), "{err}");
    }

    #[tokio::test]
    async fn the_context_task_id_applies_without_an_id_config() {
        let mut task = VerifiableSourceTask::new();
        let p = props(&[("topic", "seq"), ("max.messages", "1")]);
        task.start(source_ctx(5, vec![]), &p).await.unwrap();
        assert_eq!(task.poll().await.unwrap()[0].key, Value::Int32(5));
    }

    #[tokio::test]
    async fn throughput_limits_the_rate_and_max_messages_the_total() {
        let mut task = started(&[("throughput", "100"), ("max.messages", "50")], vec![]).await;
        let start = std::time::Instant::now();
        let mut all = Vec::new();
        while all.len() < 50 {
            let batch = task.poll().await.unwrap();
            all.extend(seqnos(&batch));
        }
        let elapsed = start.elapsed();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        // At 100 records/s the 50th may go 490 ms after the start, not before.
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(task.poll().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn zero_throughput_emits_nothing() {
        let mut task = started(&[("throughput", "0")], vec![]).await;
        assert!(task.poll().await.unwrap().is_empty());
        assert_eq!(task.next_seqno(), 0);
    }

    #[test]
    fn allowance_follows_the_rate_since_start() {
        let mut task = VerifiableSourceTask {
            throughput: 10,
            ..Default::default()
        };
        let t0 = Instant::now();
        task.started = Some(t0);
        assert_eq!(task.allowance(t0), Ok(1));
        task.seqno = 1;
        assert_eq!(task.allowance(t0), Err(Duration::from_millis(100)));
        assert_eq!(task.allowance(t0 + Duration::from_millis(100)), Ok(1));
        assert_eq!(task.allowance(t0 + Duration::from_millis(350)), Ok(3));
        task.throughput = -1;
        assert_eq!(task.allowance(t0), Ok(u64::MAX));
    }

    /// Under `transaction.boundary=connector` a task asks for a commit after every `n`th seqno
    /// and after its last, naming the records; nothing for the whole batch.
    #[tokio::test]
    async fn commits_after_every_nth_seqno_and_the_last_when_it_defines_boundaries() {
        let tx = TransactionContext::new();
        let mut ctx = source_ctx(3, vec![]);
        ctx.transactions = Some(tx.clone());
        let p = props(&[
            ("topic", "seq"),
            ("id", "3"),
            ("max.messages", "2300"),
            ("verifiable.transaction.records", "400"),
        ]);
        let mut task = VerifiableSourceTask::new();
        task.start(ctx, &p).await.unwrap();
        let mut boundaries = Vec::new();
        for _ in 0..3 {
            let records = task.poll().await.unwrap();
            let asked = tx.take_requests();
            assert_eq!(asked.after_batch, None);
            for b in asked.after_records {
                assert_eq!(b.end, crate::api::TransactionEnd::Commit);
                let named = records
                    .iter()
                    .find(|r| b.matches(r))
                    .expect("a polled record");
                assert_eq!(named.source_partition, map(json!({"id": 3})));
                boundaries.push(b.source_offset["seqno"].as_i64().unwrap());
            }
        }
        assert_eq!(boundaries, vec![399, 799, 1199, 1599, 1999, 2299]);
    }

    /// Without the key, or with no transaction context, the task asks nothing; the connector
    /// says it can define boundaries only with the key.
    #[tokio::test]
    async fn defines_no_boundaries_without_the_key() {
        let tx = TransactionContext::new();
        let mut ctx = source_ctx(0, vec![]);
        ctx.transactions = Some(tx.clone());
        let mut task = VerifiableSourceTask::new();
        let p = props(&[("topic", "seq"), ("max.messages", "10")]);
        task.start(ctx, &p).await.unwrap();
        assert_eq!(task.poll().await.unwrap().len(), 10);
        assert!(tx.take_requests().is_empty());

        let c = VerifiableSourceConnector::new();
        let with = props(&[("verifiable.transaction.records", "5")]);
        assert_eq!(
            c.can_define_transaction_boundaries(&with),
            ConnectorTransactionBoundaries::Supported
        );
        assert_eq!(
            c.can_define_transaction_boundaries(&props(&[])),
            ConnectorTransactionBoundaries::Unsupported
        );
        let errors: Vec<_> = c
            .validate(&props(&[
                ("topic", "t"),
                ("verifiable.transaction.records", "-1"),
            ]))
            .into_iter()
            .filter(|v| !v.errors.is_empty())
            .map(|v| v.name)
            .collect();
        assert_eq!(errors, vec!["verifiable.transaction.records"]);
    }

    #[test]
    fn connector_numbers_its_task_configs() {
        let mut c = VerifiableSourceConnector::new();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        assert!(c
            .start(
                ConnectorContext::new(tx.clone()),
                &props(&[("throughput", "x")])
            )
            .is_err());
        c.start(ConnectorContext::new(tx), &props(&[("topic", "seq")]))
            .unwrap();
        let configs = c.task_configs(3).unwrap();
        let ids: Vec<&str> = configs.iter().map(|p| p["id"].as_str()).collect();
        assert_eq!(ids, vec!["0", "1", "2"]);
        assert!(configs.iter().all(|p| p["topic"] == "seq"));
        let errors: Vec<_> = c
            .validate(&props(&[("throughput", "fast")]))
            .into_iter()
            .filter(|v| !v.errors.is_empty())
            .map(|v| v.name)
            .collect();
        assert_eq!(errors, vec!["topic", "throughput"]);
    }
}
