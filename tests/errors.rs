//! Errors in the record path of a running worker (its REST API and `/metrics` included): a
//! stream of JSON records with malformed ones, ones a built-in transform (`Cast$Value`) cannot
//! cast and ones the sink rejects through its errant record reporter (KIP-610).
//! - `errors.tolerance=all`: every good record is put, each bad one is in the dead letter queue
//!   as it was consumed with Connect's `__connect.errors.*` headers, the offsets of all of them
//!   commit, and the task-error metrics count exactly what Connect counts. Also on real Kafka
//!   (`…_on_real_kafka`, skipped loudly without `KCONNECT_TEST_KAFKA`).
//! - `errors.tolerance=none`: the task fails naming the stage and the record, and never commits
//!   past it.
//! - Retries: a transform failing retriably N times delivers its record after N retries.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, ErrantRecordReporter, Props, SinkTask,
    SinkTaskContext, SourceTask, SourceTaskContext, TaskInstance,
};
use kconnect_connectors::builtin::file::FileStreamSourceConnector;
use kconnect_connectors::config::ConfigDef;
use kconnect_connectors::record::{Polled, SinkRecord, SourceRecord};
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry, TransformationPlugin};
use kconnect_connectors::transforms::{ConnectRecord, Outcome, Transformation};
use kconnect_connectors::{ConnectError, ConnectResult};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value as Json};

// ---- The test sink: keeps what it is put, rejects records keyed `reject-…`. ----

/// Per connector: the key and value (as JSON) of each record put, in order.
static PUT: Mutex<BTreeMap<String, Vec<(String, Json)>>> = Mutex::new(BTreeMap::new());

fn put_records(connector: &str) -> Vec<(String, Json)> {
    PUT.lock()
        .unwrap()
        .get(connector)
        .cloned()
        .unwrap_or_default()
}

struct KeepingSinkTask {
    name: String,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

#[async_trait]
impl SinkTask for KeepingSinkTask {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        self.name = props["name"].clone();
        self.reporter = ctx.errant_record_reporter();
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        for r in records {
            let key = r.key.as_str().unwrap_or_default().to_string();
            if key.starts_with("reject-") {
                let reporter = self
                    .reporter
                    .as_ref()
                    .ok_or_else(|| ConnectError::other("no errant record reporter to report to"))?;
                let error = ConnectError::data(format!("rejected by the sink: {key}"));
                // A refusal (errors.tolerance=none) fails put; otherwise wait until written.
                reporter.report(r, error)?.await?;
                continue;
            }
            let value = r.value.to_json()?;
            PUT.lock()
                .unwrap()
                .entry(self.name.clone())
                .or_default()
                .push((key, value));
        }
        Ok(())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

#[derive(Default)]
struct KeepingSink {
    props: Props,
}

impl Connector for KeepingSink {
    fn version(&self) -> String {
        "1".into()
    }
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sink
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn start(&mut self, _: ConnectorContext, props: &Props) -> ConnectResult<()> {
        self.props = props.clone();
        Ok(())
    }
    fn task_configs(&self, _: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }
    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
    fn new_task(&self) -> TaskInstance {
        TaskInstance::Sink(Box::new(KeepingSinkTask {
            name: String::new(),
            reporter: None,
        }))
    }
}

// ---- A transform that fails retriably its first FLAKY_FAILURES times. ----

const FLAKY_FAILURES: u32 = 3;
static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

#[derive(Default)]
struct Flaky;

impl Transformation for Flaky {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _: &Props) -> ConnectResult<()> {
        Ok(())
    }
    fn apply(&mut self, _: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) < FLAKY_FAILURES {
            return Err(ConnectError::Retriable("not yet".into()));
        }
        Ok(Outcome::Keep)
    }
}

fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register(ConnectorPlugin::new(
        "test.KeepingSink",
        ConnectorKind::Sink,
        "1",
        || Box::<KeepingSink>::default(),
    ));
    r.register(ConnectorPlugin::new(
        "test.FlakyPollSource",
        ConnectorKind::Source,
        "1",
        || Box::<FlakyPollSourceConnector>::default(),
    ));
    r.register_transformation(TransformationPlugin::new("test.Flaky", "1", || {
        Box::new(Flaky)
    }));
    r
}

// ---- A worker with its REST API, on the embedded broker or a real one. ----

struct Running {
    worker: kconnect::standalone::Standalone,
    bootstrap: String,
    real: bool,
    _dir: tempfile::TempDir,
}

impl Running {
    /// `real`: the real broker's bootstrap servers; `None`: the worker's embedded broker.
    async fn start(real: Option<String>) -> Running {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let offsets = dir.path().join("offsets");
        let mut p = props(&[
            ("listeners", "http://127.0.0.1:0"),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("offset.flush.interval.ms", "200"),
        ]);
        if let Some(b) = &real {
            p.insert("bootstrap.servers".into(), b.clone());
        }
        let config = kconnect::standalone::StandaloneConfig {
            worker_file: "worker.properties".into(),
            worker: kconnect_actors::config::WorkerConfig::parse(p).unwrap(),
            connectors: Vec::new(),
            plugins: Arc::new(registry()),
        };
        let worker = kconnect::standalone::Standalone::start(config, None)
            .await
            .unwrap();
        let bootstrap = match (&real, &worker.broker) {
            (Some(b), _) => b.clone(),
            (None, Some(embedded)) => embedded.bootstrap_servers().to_string(),
            (None, None) => unreachable!("no bootstrap servers: the worker starts a broker"),
        };
        Running {
            worker,
            bootstrap,
            real: real.is_some(),
            _dir: dir,
        }
    }

    /// A topic or connector name: unique on the shared real broker.
    fn name(&self, base: &str) -> String {
        if self.real {
            kafka::unique_name(base)
        } else {
            base.to_string()
        }
    }

    async fn create_topic(&self, topic: &str) {
        match &self.worker.broker {
            Some(b) => b.create_topic(topic, 1).unwrap(),
            None => kafka::create_topic(&self.bootstrap, topic, 1).await,
        }
    }

    /// Writes `records` (key, value bytes, one header `src`) to partition 0 of `topic`.
    async fn produce(&self, topic: &str, records: &[Input]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        for r in records {
            let headers = OwnedHeaders::new().insert(Header {
                key: "src",
                value: Some(r.key.as_bytes()),
            });
            let record = FutureRecord::to(topic)
                .partition(0)
                .key(r.key.as_bytes())
                .payload(&r.value)
                .headers(headers);
            producer
                .send(record, Duration::from_secs(30))
                .await
                .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
        }
    }

    async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.worker.rest_addr);
        let resp = reqwest::get(url).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// Connect's task-error metrics of task 0 of `connector`, by Connect's names.
    async fn error_metrics(&self, connector: &str) -> BTreeMap<&'static str, f64> {
        let text = self.metrics().await;
        let labels = format!("connector=\"{connector}\"");
        [
            ("total-record-failures", "total_record_failures_total"),
            ("total-record-errors", "total_record_errors_total"),
            ("total-records-skipped", "total_records_skipped_total"),
            ("total-retries", "total_retries_total"),
            ("total-errors-logged", "total_errors_logged_total"),
            (
                "deadletterqueue-produce-requests",
                "deadletterqueue_produce_requests_total",
            ),
            (
                "deadletterqueue-produce-failures",
                "deadletterqueue_produce_failures_total",
            ),
            ("last-error-timestamp", "last_error_timestamp_seconds"),
        ]
        .into_iter()
        .map(|(connect, name)| {
            let name = format!("kafka_connect_task_error_metrics_{name}");
            let v = text
                .lines()
                .find(|l| {
                    l.starts_with(&format!("{name}{{"))
                        && l.contains(&labels)
                        && l.contains("task=\"0\"")
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no {name} for {connector}:\n{text}"));
            (connect, v)
        })
        .collect()
    }

    async fn wait_failed(&self, connector: &str) -> String {
        let status = &self.worker.worker.context().status;
        let failed = status
            .wait_until(Duration::from_secs(30), |m| {
                m.get(connector)
                    .and_then(|c| c.tasks.get(&0))
                    .is_some_and(|t| t.state == State::Failed)
            })
            .await;
        assert!(failed, "{connector}: {:?}", status.get(connector));
        status.get(connector).unwrap().tasks[&0]
            .trace
            .clone()
            .unwrap_or_default()
    }
}

/// The offset `group` committed for partition 0 of `topic` (-1: none), or `None` while the
/// broker cannot tell (on a fresh real broker the group coordinator may still be loading).
fn committed_offset(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .ok()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .ok()?;
    match committed.find_partition(topic, 0)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => Some(-1),
    }
}

/// One record to produce.
struct Input {
    key: String,
    value: Vec<u8>,
}

/// What a record of the stream is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Good,
    /// Not JSON: the value converter fails.
    BadJson,
    /// `n` is no number: `Cast$Value` fails.
    BadCast,
    /// The sink rejects it through its errant record reporter.
    Rejected,
}

fn kind_of(i: usize) -> Kind {
    match i % 5 {
        1 => Kind::BadJson,
        2 => Kind::BadCast,
        3 => Kind::Rejected,
        _ => Kind::Good,
    }
}

fn input(i: usize) -> Input {
    let (key, value) = match kind_of(i) {
        Kind::Good => (format!("good-{i}"), format!(r#"{{"id":{i},"n":"{i}"}}"#)),
        Kind::BadJson => (format!("bad-json-{i}"), format!(r#"{{"id":{i},"n":"#)),
        Kind::BadCast => (
            format!("bad-cast-{i}"),
            format!(r#"{{"id":{i},"n":"x{i}"}}"#),
        ),
        Kind::Rejected => (format!("reject-{i}"), format!(r#"{{"id":{i},"n":"{i}"}}"#)),
    };
    Input {
        key,
        value: value.into_bytes(),
    }
}

/// The sink's config: string keys, schemaless JSON values, `n` cast to an int32.
fn sink_config(name: &str, topic: &str, extra: &[(&str, &str)]) -> Props {
    let mut p = props(&[
        ("name", name),
        ("connector.class", "test.KeepingSink"),
        ("topics", topic),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("value.converter.schemas.enable", "false"),
        ("transforms", "cast"),
        (
            "transforms.cast.type",
            "org.apache.kafka.connect.transforms.Cast$Value",
        ),
        ("transforms.cast.spec", "n:int32"),
    ]);
    p.extend(props(extra));
    p
}

const RECORDS: usize = 20;
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
const CAST: &str = "org.apache.kafka.connect.transforms.Cast$Value";
const DATA_EXCEPTION: &str = "org.apache.kafka.connect.errors.DataException";
const JSON_ERROR: &str =
    "Converting byte[] to Kafka Connect data failed due to serialization error: ";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tolerated_errors_go_to_the_dead_letter_queue_and_every_good_record_is_delivered() {
    tolerated_errors_go_to_the_dead_letter_queue_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tolerated_errors_go_to_the_dead_letter_queue_and_every_good_record_is_delivered_on_real_kafka(
) {
    if let Some(bootstrap) = kafka::real_kafka() {
        tolerated_errors_go_to_the_dead_letter_queue_on(Some(bootstrap)).await;
    }
}

async fn tolerated_errors_go_to_the_dead_letter_queue_on(real: Option<String>) {
    let w = Running::start(real).await;
    let (name, topic, dlq) = (w.name("dlq-sink"), w.name("orders"), w.name("orders-dlq"));
    w.create_topic(&topic).await;
    let inputs: Vec<Input> = (0..RECORDS).map(input).collect();
    w.produce(&topic, &inputs).await;
    let config = sink_config(
        &name,
        &topic,
        &[
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
            ("errors.deadletterqueue.topic.name", &dlq),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    w.worker.worker.add_connector(config).await.unwrap();

    // Every offset commits, the bad records' included (once their queue writes are in).
    let committed = || committed_offset(&w.bootstrap, &format!("connect-{name}"), &topic);
    let done = eventually(Duration::from_secs(60), || {
        committed() == Some(RECORDS as i64)
    })
    .await;
    assert!(
        done,
        "committed {:?}; put {:?}; status {:?}",
        committed(),
        put_records(&name),
        w.worker.worker.status(&name)
    );

    // Every good record was put, in order, cast; nothing else was.
    let expected: Vec<(String, Json)> = (0..RECORDS)
        .filter(|i| kind_of(*i) == Kind::Good)
        .map(|i| (format!("good-{i}"), json!({"id": i, "n": i})))
        .collect();
    assert_eq!(put_records(&name), expected);

    // Each bad record is in the queue once, as it was consumed, with Connect's headers.
    let bad: Vec<usize> = (0..RECORDS).filter(|i| kind_of(*i) != Kind::Good).collect();
    let queued = kafka::read_partition(&w.bootstrap, &dlq, bad.len(), Duration::from_secs(30));
    let mut by_key: BTreeMap<String, kafka::RawRecord> = BTreeMap::new();
    for r in queued {
        let key = String::from_utf8(r.key.clone().expect("a key")).unwrap();
        assert!(
            by_key.insert(key.clone(), r).is_none(),
            "{key} queued twice"
        );
    }
    for i in bad {
        let original = &inputs[i];
        let r = by_key
            .remove(&original.key)
            .unwrap_or_else(|| panic!("{} not in the queue", original.key));
        assert_eq!(
            r.value.as_deref(),
            Some(&original.value[..]),
            "{}",
            original.key
        );
        let header = |k: &str| {
            r.headers
                .iter()
                .find(|(hk, _)| hk == k)
                .and_then(|(_, v)| v.clone())
                .map(|v| String::from_utf8(v).unwrap())
                .unwrap_or_else(|| panic!("{}: no header {k}: {:?}", original.key, r.headers))
        };
        let (stage, class, message) = match kind_of(i) {
            Kind::BadJson => {
                let m = header("__connect.errors.exception.message");
                assert!(m.starts_with(JSON_ERROR), "{m}");
                ("VALUE_CONVERTER", JSON_CONVERTER, m)
            }
            Kind::BadCast => (
                "TRANSFORMATION",
                CAST,
                format!("Value (x{i}) was out of range for requested data type"),
            ),
            Kind::Rejected => (
                "TASK_PUT",
                "org.apache.kafka.connect.sink.SinkTask",
                format!("rejected by the sink: reject-{i}"),
            ),
            Kind::Good => unreachable!(),
        };
        let text = |s: &str| Some(s.as_bytes().to_vec());
        let expected_headers: Vec<(String, Option<Vec<u8>>)> = [
            ("src", original.key.clone()),
            ("__connect.errors.topic", topic.clone()),
            ("__connect.errors.partition", "0".into()),
            ("__connect.errors.offset", i.to_string()),
            ("__connect.errors.connector.name", name.clone()),
            ("__connect.errors.task.id", "0".into()),
            ("__connect.errors.stage", stage.into()),
            ("__connect.errors.class.name", class.into()),
            (
                "__connect.errors.exception.class.name",
                DATA_EXCEPTION.into(),
            ),
            ("__connect.errors.exception.message", message.clone()),
            (
                "__connect.errors.exception.stacktrace",
                format!("{DATA_EXCEPTION}: {message}"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), text(&v)))
        .collect();
        assert_eq!(r.headers, expected_headers, "{}", original.key);
    }
    assert!(
        by_key.is_empty(),
        "unexpected records in the queue: {by_key:?}"
    );

    // Connect's counts: every failure once; conversion and transformation failures are errors
    // and skips; records put reports are failures only (executeFailed); all logged, all queued.
    let m = w.error_metrics(&name).await;
    let n = (RECORDS / 5) as f64;
    assert_eq!(m["total-record-failures"], 3.0 * n, "{m:?}");
    assert_eq!(m["total-record-errors"], 2.0 * n, "{m:?}");
    assert_eq!(m["total-records-skipped"], 2.0 * n, "{m:?}");
    assert_eq!(m["total-retries"], 0.0, "{m:?}");
    assert_eq!(m["total-errors-logged"], 3.0 * n, "{m:?}");
    assert_eq!(m["deadletterqueue-produce-requests"], 3.0 * n, "{m:?}");
    assert_eq!(m["deadletterqueue-produce-failures"], 0.0, "{m:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = m["last-error-timestamp"];
    assert!(last > now - 120.0 && last <= now, "{last} vs {now}");
    w.worker.stop().await;
}

/// Under errors.tolerance=none each kind of bad record fails its task, naming the stage and
/// the record; the task never commits past it. With a dead letter queue, the record is there
/// when the task reports FAILED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untolerated_errors_fail_the_task_naming_the_stage_and_the_record() {
    let w = Running::start(None).await;
    let cases = [
        (
            Kind::BadJson,
            format!(
                "Tolerance exceeded in error handler at stage VALUE_CONVERTER: the value \
                 converter {JSON_CONVERTER} failed on the record in none-json-0 at offset 2: data \
                 error: {JSON_ERROR}"
            ),
        ),
        (
            Kind::BadCast,
            format!(
                "Tolerance exceeded in error handler at stage TRANSFORMATION: the \
                 transformation cast ({CAST}) failed on the record in none-cast-0 at offset 2: \
                 data error: Value (x2) was out of range for requested data type"
            ),
        ),
        (
            Kind::Rejected,
            "Tolerance exceeded in error handler at stage TASK_PUT: the sink task failed on \
             the record in none-reject-0 at offset 2: data error: rejected by the sink: reject-3"
                .to_string(),
        ),
    ];
    for (kind, _) in &cases {
        let topic = match kind {
            Kind::BadJson => "none-json",
            Kind::BadCast => "none-cast",
            _ => "none-reject",
        };
        w.create_topic(topic).await;
        // Two good records, then the bad one, then a good one.
        let mut inputs = vec![
            input(0),
            input(5),
            input(match kind {
                Kind::BadJson => 1,
                Kind::BadCast => 2,
                _ => 3,
            }),
        ];
        inputs.push(input(10));
        // The bad record at offset 2 names its own offset in its value; keys as produced.
        w.produce(topic, &inputs).await;
        let name = format!("{topic}-sink");
        let mut extra = vec![("task.restart.max.restarts", "0")];
        let dlq = format!("{topic}-dlq");
        extra.push(("errors.deadletterqueue.topic.name", &dlq));
        extra.push(("errors.deadletterqueue.topic.replication.factor", "1"));
        w.worker
            .worker
            .add_connector(sink_config(&name, topic, &extra))
            .await
            .unwrap();
    }
    for (kind, message) in &cases {
        let topic = match kind {
            Kind::BadJson => "none-json",
            Kind::BadCast => "none-cast",
            _ => "none-reject",
        };
        let name = format!("{topic}-sink");
        let trace = w.wait_failed(&name).await;
        // The converter's own message goes on after its fixed start.
        let expected = message.as_str();
        assert!(
            trace.contains(expected),
            "{kind:?}: {expected}\nnot in\n{trace}"
        );
        // Never committed past the bad record.
        let committed =
            kafka::committed_offsets(&w.bootstrap, &format!("connect-{name}"), topic, 1)[0];
        assert!(committed <= 2, "{kind:?}: committed {committed}");
        // Nothing after it was put.
        let put: Vec<String> = put_records(&name).into_iter().map(|(k, _)| k).collect();
        assert!(
            put.iter().all(|k| k == "good-0" || k == "good-5"),
            "{kind:?}: {put:?}"
        );
        let m = w.error_metrics(&name).await;
        assert_eq!(
            (
                m["total-record-failures"],
                m["total-record-errors"],
                m["total-records-skipped"]
            ),
            (1.0, 1.0, 0.0),
            "{kind:?}: {m:?}"
        );
    }
    // Each bad record reached its queue before its task failed: exactly once (no restart).
    for (topic, bad) in [("none-json", 1), ("none-cast", 2), ("none-reject", 3)] {
        let dlq = format!("{topic}-dlq");
        let queued = kafka::read_partition(&w.bootstrap, &dlq, 1, Duration::from_secs(30));
        assert_eq!(queued[0].key.as_deref(), Some(input(bad).key.as_bytes()));
        assert_eq!(queued[0].value.as_deref(), Some(&input(bad).value[..]));
        assert_eq!(
            kafka::log_end_offsets(&w.bootstrap, &dlq, 1),
            vec![1],
            "{dlq}"
        );
    }
    w.worker.stop().await;
}

/// A transform that fails retriably N times, within errors.retry.timeout, delivers its record
/// after N retries: nothing is skipped, nothing is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retriable_failure_is_retried_and_the_record_delivered() {
    let w = Running::start(None).await;
    let topic = "flaky";
    w.create_topic(topic).await;
    let inputs = [input(0), input(4), input(5)];
    w.produce(topic, &inputs).await;
    let name = "flaky-sink";
    let mut config = sink_config(
        name,
        topic,
        &[
            ("errors.retry.timeout", "60000"),
            ("errors.retry.delay.max.ms", "20"),
        ],
    );
    config.insert("transforms".into(), "flaky,cast".into());
    config.insert("transforms.flaky.type".into(), "test.Flaky".into());
    w.worker.worker.add_connector(config).await.unwrap();
    let all = eventually(Duration::from_secs(30), || put_records(name).len() == 3).await;
    assert!(
        all,
        "{:?} {:?}",
        put_records(name),
        w.worker.worker.status(name)
    );
    let expected: Vec<(String, Json)> = [0, 4, 5]
        .iter()
        .map(|i| (format!("good-{i}"), json!({"id": i, "n": i})))
        .collect();
    assert_eq!(put_records(name), expected);
    let m = w.error_metrics(name).await;
    let n = f64::from(FLAKY_FAILURES);
    assert_eq!(m["total-retries"], n, "{m:?}");
    assert_eq!(m["total-record-failures"], n, "{m:?}");
    assert_eq!(m["total-record-errors"], 0.0, "{m:?}");
    assert_eq!(m["total-records-skipped"], 0.0, "{m:?}");
    w.worker.stop().await;
}

/// The dead letter queue's producer takes the connector's `producer.override.*` keys; a write
/// it cannot make (here: larger than the overridden `message.max.bytes`) fails the task rather
/// than commit past the record, which is then not lost: it comes again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_letter_queue_write_that_fails_fails_the_task_before_its_offset_commits() {
    let w = Running::start(None).await;
    let topic = "too-big";
    w.create_topic(topic).await;
    let big = Input {
        key: "bad-json-big".into(),
        value: format!("{{\"pad\":\"{}\"", "x".repeat(2000)).into_bytes(),
    };
    w.produce(topic, &[input(0), big, input(4)]).await;
    let name = "too-big-sink";
    let config = sink_config(
        name,
        topic,
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "too-big-dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("producer.override.message.max.bytes", "1000"),
            ("task.restart.max.restarts", "0"),
        ],
    );
    w.worker.worker.add_connector(config).await.unwrap();
    let trace = w.wait_failed(name).await;
    assert!(
        trace.contains("Could not produce message to dead letter queue. topic=too-big-dlq")
            && trace.contains("MessageSizeTooLarge"),
        "{trace}"
    );
    let committed = kafka::committed_offsets(&w.bootstrap, &format!("connect-{name}"), topic, 1)[0];
    assert!(
        committed <= 1,
        "committed {committed}, past the record the queue lacks"
    );
    let m = w.error_metrics(name).await;
    assert_eq!(
        (
            m["deadletterqueue-produce-requests"],
            m["deadletterqueue-produce-failures"]
        ),
        (1.0, 1.0),
        "{m:?}"
    );
    assert_eq!(
        kafka::log_end_offsets(&w.bootstrap, "too-big-dlq", 1),
        vec![0]
    );
    w.worker.stop().await;
}

// ---- The source side: a file source whose first poll fails retriably. ----

struct FlakyPollSource {
    inner: Box<dyn SourceTask>,
    failed_once: bool,
}

#[async_trait]
impl SourceTask for FlakyPollSource {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        self.inner.start(ctx, props).await
    }
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        self.inner.poll().await
    }
    async fn poll_batches(&mut self) -> ConnectResult<Polled> {
        if !std::mem::replace(&mut self.failed_once, true) {
            return Err(ConnectError::Retriable("the file is busy".into()));
        }
        self.inner.poll_batches().await
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

#[derive(Default)]
struct FlakyPollSourceConnector(FileStreamSourceConnector);

impl Connector for FlakyPollSourceConnector {
    fn version(&self) -> String {
        self.0.version()
    }
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }
    fn config_def(&self) -> ConfigDef {
        self.0.config_def()
    }
    fn start(&mut self, ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        self.0.start(ctx, props)
    }
    fn task_configs(&self, max: usize) -> ConnectResult<Vec<Props>> {
        self.0.task_configs(max)
    }
    fn stop(&mut self) -> ConnectResult<()> {
        self.0.stop()
    }
    fn new_task(&self) -> TaskInstance {
        match self.0.new_task() {
            TaskInstance::Source(inner) => TaskInstance::Source(Box::new(FlakyPollSource {
                inner,
                failed_once: false,
            })),
            TaskInstance::Sink(_) => unreachable!("a source connector"),
        }
    }
}

/// On the source side, a poll that fails retriably is polled again (Connect's TASK_POLL), and
/// records whose conversion fails are skipped under errors.tolerance=all, logged and counted,
/// their offsets committed with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_skips_what_it_cannot_convert_and_polls_again_after_a_retriable_failure() {
    let w = Running::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "l0\nl1\nl2\nl3\nl4\n").unwrap();
    let (name, topic) = ("flaky-source", "source-out");
    let config = props(&[
        ("name", name),
        ("connector.class", "test.FlakyPollSource"),
        ("file", file.to_str().unwrap()),
        ("topic", topic),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        ("errors.tolerance", "all"),
        ("errors.log.enable", "true"),
        // The second and fourth records fail their (key) conversion.
        ("faults.converter.fail.records", "1,3"),
    ]);
    w.worker.worker.add_connector(config).await.unwrap();
    let offsets = w.worker.worker.context().offsets.clone();
    let at_end = || {
        offsets
            .all(name)
            .first()
            .and_then(|(_, o)| o["position"].as_i64())
            == Some(15)
    };
    assert!(
        eventually(Duration::from_secs(30), at_end).await,
        "{:?} {:?}",
        offsets.all(name),
        w.worker.worker.status(name)
    );
    let sent = kafka::read_partition(&w.bootstrap, topic, 3, Duration::from_secs(30));
    let values: Vec<&[u8]> = sent.iter().map(|r| r.value.as_deref().unwrap()).collect();
    assert_eq!(values, [&b"l0"[..], b"l2", b"l4"]);
    assert_eq!(kafka::log_end_offsets(&w.bootstrap, topic, 1), vec![3]);
    let status = w.worker.worker.status(name).unwrap();
    assert_eq!(status.tasks[&0].state, State::Running, "{status:?}");
    assert_eq!(
        status.tasks[&0].restarts, 0,
        "the retriable poll failed nothing"
    );
    let m = w.error_metrics(name).await;
    for (metric, want) in [
        ("total-record-failures", 2.0),
        ("total-record-errors", 2.0),
        ("total-records-skipped", 2.0),
        ("total-retries", 0.0),
        ("total-errors-logged", 2.0),
        ("deadletterqueue-produce-requests", 0.0),
    ] {
        assert_eq!(m[metric], want, "{metric}: {m:?}");
    }
    w.worker.stop().await;
}

/// Without transforms too, a skipped record's offset commits, the last record of a partition
/// included: it is not read (nor queued) again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_skipped_last_record_commits_without_transforms() {
    let w = Running::start(None).await;
    let topic = "plain";
    w.create_topic(topic).await;
    w.produce(topic, &[input(0), input(1)]).await;
    let name = "plain-sink";
    let mut config = sink_config(name, topic, &[("errors.tolerance", "all")]);
    config.retain(|k, _| !k.starts_with("transforms"));
    w.worker.worker.add_connector(config).await.unwrap();
    let group = format!("connect-{name}");
    let done = eventually(Duration::from_secs(30), || {
        committed_offset(&w.bootstrap, &group, topic) == Some(2)
    })
    .await;
    assert!(
        done,
        "committed {:?}",
        committed_offset(&w.bootstrap, &group, topic)
    );
    // Not cast: no transforms.
    assert_eq!(
        put_records(name),
        [("good-0".to_string(), json!({"id": 0, "n": "0"}))]
    );
    w.worker.stop().await;
}
