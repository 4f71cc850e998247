//! Exactly-once source delivery (KIP-618) on real Kafka (`KCONNECT_TEST_KAFKA`): records are
//! counted by a `read_committed` consumer, value by value.
//!
//! - every transaction boundary (`poll`, `interval`, `connector`) delivers each record once,
//!   and the offsets travel in the same transactions;
//! - a task that commits and aborts on purpose through its transaction context: nothing of an
//!   aborted transaction is ever visible;
//! - validation of `exactly.once.support=required` and `transaction.boundary=connector`;
//! - a 3-worker cluster of `kconnect` processes, a worker SIGKILLed every 10 s and restarted:
//!   0 lost, 0 duplicates, with each of the three boundaries;
//! - the embedded broker refuses `exactly.once.source.support=enabled` (no broker needed).
//!
//! Without a broker the real-Kafka tests say SKIPPED; under CI=true they fail.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::eos::{
    create, has_all, json_converters, per_key_without_duplicates, session_timeout, spawn_worker,
    verifiable, worker_props, CommittedReader,
};
use common::kafka::{create_topic, real_kafka, unique_name};
use common::procs::Proc;
use kconnect::distributed::{Distributed, DistributedWorkerConfig};
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, ConnectorTransactionBoundaries, ExactlyOnceSupport,
    Props, SourceTask, SourceTaskContext, TaskInstance, TransactionContext,
};
use kconnect_connectors::builtin::file::FileStreamSourceConnector;
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance};
use kconnect_connectors::data::{Schema, Value};
use kconnect_connectors::record::SourceRecord;
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry};
use kconnect_connectors::{ConnectError, ConnectResult};
use nix::sys::signal::Signal;
use serde_json::{json, Value as Json};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// Each test runs workers of its own; one at a time keeps their timing honest on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An in-process distributed worker with the built-in plugins and the test's.
async fn start_worker(props: &str) -> Distributed {
    let props: Props = props
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = DistributedWorkerConfig::from_props(Path::new("eos-test"), props).unwrap();
    let mut plugins = PluginRegistry::builtin();
    plugins.register(demarcating_source());
    plugins.register(undeclared_source());
    Distributed::start(config.with_plugins(std::sync::Arc::new(plugins)), None)
        .await
        .unwrap()
}

// ---- A source whose task ends its transactions itself, committing and aborting on purpose.

const BATCHES: i64 = 30;
const BATCH: i64 = 10;

/// What a read_committed reader sees of [`DemarcatingTask`]: batch k holds seqnos
/// 10k..10k+9. k % 3 == 0: commit after 10k+6 (10k+7..9 stay in the open transaction);
/// k % 3 == 1: abort with the batch (10(k-1)+7..9 and all of batch k); k % 3 == 2: abort
/// after 10k+4, commit the rest with the batch.
fn demarcated_visible() -> Vec<i64> {
    let mut out = Vec::new();
    for k in 0..BATCHES {
        let first = k * BATCH;
        match k % 3 {
            0 => out.extend(first..=first + 6),
            1 => {}
            _ => out.extend(first + 5..first + BATCH),
        }
    }
    out
}

struct DemarcatingConnector(Props);

impl Connector for DemarcatingConnector {
    fn version(&self) -> String {
        "1".into()
    }
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "topic",
            ConfigType::String,
            None,
            None,
            Importance::High,
            "",
        )
    }
    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        self.0 = props.clone();
        Ok(())
    }
    fn task_configs(&self, _max: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.0.clone()])
    }
    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(DemarcatingTask {
            topic: String::new(),
            next_batch: 0,
            tx: None,
        }))
    }
    fn exactly_once_support(&self, _props: &Props) -> Option<ExactlyOnceSupport> {
        Some(ExactlyOnceSupport::Supported)
    }
    fn can_define_transaction_boundaries(&self, _: &Props) -> ConnectorTransactionBoundaries {
        ConnectorTransactionBoundaries::Supported
    }
}

struct DemarcatingTask {
    topic: String,
    next_batch: i64,
    tx: Option<TransactionContext>,
}

#[async_trait]
impl SourceTask for DemarcatingTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        self.topic = props["topic"].clone();
        self.tx = Some(
            ctx.transaction_context()
                .cloned()
                .ok_or_else(|| ConnectError::config("no transaction context"))?,
        );
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let k = self.next_batch;
        if k >= BATCHES {
            // Idle: return within a second, as the runtime asks of an idle poll.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(Vec::new());
        }
        self.next_batch += 1;
        let partition = json!({"task": 0}).as_object().unwrap().clone();
        let records: Vec<SourceRecord> = (k * BATCH..(k + 1) * BATCH)
            .map(|n| {
                let offset = json!({"seqno": n}).as_object().unwrap().clone();
                let mut r = SourceRecord::new(
                    partition.clone(),
                    offset,
                    self.topic.clone(),
                    Some(Schema::int64()),
                    Value::Int64(n),
                );
                r.key_schema = Some(Schema::int32());
                r.key = Value::Int32(0);
                r
            })
            .collect();
        let tx = self.tx.as_ref().expect("started");
        match k % 3 {
            0 => tx.commit_transaction_after(&records[6]),
            1 => tx.abort_transaction(),
            _ => {
                tx.abort_transaction_after(&records[4]);
                tx.commit_transaction();
            }
        }
        Ok(records)
    }

    fn wants_commit_record(&self) -> bool {
        false
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

fn demarcating_source() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.DemarcatingSourceConnector",
        ConnectorKind::Source,
        "1",
        || Box::new(DemarcatingConnector(Props::new())),
    )
}

/// A file source that says nothing about exactly-once support (the API's default).
struct Undeclared(FileStreamSourceConnector);

impl Connector for Undeclared {
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
        self.0.new_task()
    }
}

fn undeclared_source() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.UndeclaredSourceConnector",
        ConnectorKind::Source,
        "1",
        || Box::new(Undeclared(FileStreamSourceConnector::default())),
    )
}

/// The metric's value for the connector's task 0 in the Prometheus text, if it is there.
fn metric(text: &str, name: &str, connector: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&format!("connector=\"{connector}\"")))
        .find(|l| l.contains("task=\"0\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Every boundary delivers every record exactly once on real Kafka; the offsets committed with
/// the records are the last ones delivered; a task's own commits and aborts decide exactly
/// what becomes visible; the transaction size metrics count the committed transactions.
#[tokio::test(flavor = "multi_thread")]
async fn every_transaction_boundary_delivers_each_record_once_and_aborted_ones_never() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let name = unique_name("eos");
    let session = session_timeout(&kafka).await;
    let worker = start_worker(&worker_props(&kafka, &name, "enabled", session)).await;
    let http = reqwest::Client::new();
    let url = worker.rest_url.clone();
    const TASKS: u32 = 2;
    const PER_TASK: u64 = 3_000;
    let cases = [
        ("poll", vec![]),
        (
            "interval",
            vec![
                ("transaction.boundary", "interval"),
                ("transaction.boundary.interval.ms", "200"),
            ],
        ),
        ("own-offsets", vec![("offsets.storage.topic", "OWN")]),
    ];
    let mut topics = Vec::new();
    for (boundary, extra) in &cases {
        let topic = format!("{name}-{boundary}");
        create_topic(&kafka, &topic, 3).await;
        let connector = format!("vs-{boundary}");
        let own = format!("{name}-private-offsets");
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (*k, if *v == "OWN" { own.as_str() } else { *v }))
            .collect();
        let config = verifiable(&topic, TASKS, PER_TASK, &extra);
        create(&http, &url, &connector, config).await;
        topics.push((connector, topic));
    }
    let demarcated = format!("{name}-connector");
    create_topic(&kafka, &demarcated, 1).await;
    let config = json_converters(json!({
        "connector.class": "test.DemarcatingSourceConnector",
        "topic": demarcated,
        "transaction.boundary": "connector",
    }));
    create(&http, &url, "demarcating", config).await;

    for (connector, topic) in &topics {
        let mut reader = CommittedReader::new(&kafka, topic, 3);
        tokio::task::block_in_place(|| {
            reader.read_until(Duration::from_secs(120), |s| {
                has_all(s, TASKS as i64, PER_TASK as i64)
            })
        });
        let per_key = per_key_without_duplicates(&reader.seen);
        let want: Vec<i64> = (0..PER_TASK as i64).collect();
        for t in 0..TASKS as i64 {
            assert_eq!(per_key[&t], want, "{connector}: task {t}'s seqnos");
        }
        assert_eq!(
            reader.seen.len() as u64,
            TASKS as u64 * PER_TASK,
            "{connector}"
        );
        let last = PER_TASK - 1;
        if connector == "vs-own-offsets" {
            // Its offsets went to the topic of its own (created with the worker's offset
            // partitions), in its transactions.
            let mut reader = CommittedReader::text(&kafka, &format!("{name}-private-offsets"), 5);
            tokio::task::block_in_place(|| reader.read_until(Duration::from_secs(30), |_| true));
            let mut latest = BTreeMap::new();
            for (k, v) in &reader.text {
                latest.insert(k.clone(), v.clone());
            }
            let want_last = format!("{{\"seqno\":{last}}}");
            assert_eq!(
                latest,
                BTreeMap::from([
                    (
                        r#"["vs-own-offsets",{"id":0}]"#.to_string(),
                        want_last.clone()
                    ),
                    (r#"["vs-own-offsets",{"id":1}]"#.to_string(), want_last),
                ]),
                "the connector's own offsets topic"
            );
            continue;
        }
        // The offsets went into the same transactions: the last committed is the last seqno.
        let offsets: Json = http
            .get(format!("{url}/connectors/{connector}/offsets"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut got: Vec<(Json, Json)> = offsets["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["partition"].clone(), o["offset"].clone()))
            .collect();
        got.sort_by_key(|(p, _)| p["id"].as_i64());
        assert_eq!(
            got,
            vec![
                (json!({"id": 0}), json!({"seqno": last})),
                (json!({"id": 1}), json!({"seqno": last}))
            ],
            "{connector}"
        );
    }

    let want = demarcated_visible();
    let mut reader = CommittedReader::new(&kafka, &demarcated, 1);
    tokio::task::block_in_place(|| {
        reader.read_until(Duration::from_secs(60), |s| {
            s.iter().any(|(_, v)| *v == BATCHES * BATCH - 1)
        })
    });
    let seen: Vec<i64> = reader.seen.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        seen, want,
        "exactly the committed records, in order, once each"
    );

    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The demarcating task's committed transactions: 7 (k%3==0), then 5 (k%3==2), so the
    // smallest holds 5 records and the largest 7.
    let size = |m: &str| metric(&metrics, m, "demarcating");
    assert_eq!(
        size("kafka_connect_source_task_metrics_transaction_size_min"),
        Some(5.0)
    );
    assert_eq!(
        size("kafka_connect_source_task_metrics_transaction_size_max"),
        Some(7.0)
    );
    worker.stop().await;
}

/// Connect's validation messages for `exactly.once.support=required` and
/// `transaction.boundary=connector`, on a worker with exactly-once enabled and one without.
#[tokio::test(flavor = "multi_thread")]
async fn required_exactly_once_and_connector_boundaries_are_validated() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let session = session_timeout(&kafka).await;
    let http = reqwest::Client::new();
    let errors = |report: &Json, key: &str| -> Vec<String> {
        report["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_else(|| panic!("no {key} in {report}"))
    };
    let validate = |url: String, class: &'static str, config: Json| {
        let http = http.clone();
        async move {
            let mut config = config;
            config["connector.class"] = json!(class);
            config["name"] = json!("v");
            http.put(format!("{url}/connector-plugins/{class}/config/validate"))
                .json(&config)
                .send()
                .await
                .unwrap()
                .json::<Json>()
                .await
                .unwrap()
        }
    };
    let enabled = start_worker(&worker_props(
        &kafka,
        &unique_name("eosv"),
        "enabled",
        session,
    ))
    .await;
    let url = enabled.rest_url.clone();
    let required = json!({"exactly.once.support": "required", "topic": "t", "file": "/tmp/x"});

    let r = validate(url.clone(), "VerifiableSourceConnector", required.clone()).await;
    assert_eq!(errors(&r, "exactly.once.support"), Vec::<String>::new());
    assert_eq!(r["error_count"], 0, "{r}");

    let r = validate(
        url.clone(),
        "test.UndeclaredSourceConnector",
        required.clone(),
    )
    .await;
    assert_eq!(
        errors(&r, "exactly.once.support"),
        vec![
            "The connector does not implement the API required for preflight validation of \
             exactly-once source support. Please consult the documentation for the connector \
             to determine whether it supports exactly-once semantics, and then consider \
             reconfiguring the connector to use the value \"requested\" for this property \
             (which will disable this preflight check and allow the connector to be created)."
        ]
    );

    // FileStreamSource reading stdin (no file) cannot resume exactly.
    let stdin = json!({"exactly.once.support": "REQUIRED", "topic": "t"});
    let r = validate(url.clone(), "FileStreamSource", stdin).await;
    assert_eq!(
        errors(&r, "exactly.once.support"),
        vec!["The connector does not support exactly-once semantics with the provided configuration."]
    );

    let boundary = json!({"transaction.boundary": "connector", "topic": "t"});
    let r = validate(url.clone(), "VerifiableSourceConnector", boundary.clone()).await;
    assert_eq!(
        errors(&r, "transaction.boundary"),
        vec![
            "The connector does not support connector-defined transaction boundaries with the \
             given configuration. Please reconfigure it to use a different transaction boundary \
             definition."
        ]
    );
    let mut own = boundary.clone();
    own["verifiable.transaction.records"] = json!("100");
    let r = validate(url.clone(), "VerifiableSourceConnector", own).await;
    assert_eq!(r["error_count"], 0, "{r}");
    let r = validate(url.clone(), "test.DemarcatingSourceConnector", boundary).await;
    assert_eq!(r["error_count"], 0, "{r}");
    let r = validate(
        url.clone(),
        "VerifiableSourceConnector",
        json!({"topic": "t", "transaction.boundary": "sometimes"}),
    )
    .await;
    assert_eq!(errors(&r, "transaction.boundary").len(), 1, "{r}");
    enabled.stop().await;

    let disabled = start_worker(&worker_props(
        &kafka,
        &unique_name("eosv"),
        "preparing",
        session,
    ))
    .await;
    let r = validate(
        disabled.rest_url.clone(),
        "VerifiableSourceConnector",
        required,
    )
    .await;
    assert_eq!(
        errors(&r, "exactly.once.support"),
        vec!["This worker does not have exactly-once source support enabled."]
    );
    disabled.stop().await;
}

/// Three `kconnect` worker processes run three VerifiableSource connectors (4 tasks each) with
/// exactly-once delivery, one per `transaction.boundary`: `poll`, `interval` and `connector`
/// (the tasks commit every `verifiable.transaction.records` seqnos, kconnect's key); every
/// 10 s one worker, in turn, is SIGKILLed and started again. A `read_committed` reader then
/// sees every seqno of every task of each exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn sigkilled_workers_lose_and_duplicate_no_record_under_exactly_once() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let name = unique_name("eoskill");
    let session = session_timeout(&kafka).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.properties");
    std::fs::write(&config, worker_props(&kafka, &name, "enabled", session)).unwrap();
    let mut workers: Vec<(Proc, String)> = (0..3)
        .map(|i| spawn_worker(&config, &dir.path().join(format!("w{i}-0.log"))))
        .collect();
    const TASKS: i64 = 4;
    // 60 s of load at 50 records/s per task, killed every 10 s while it lasts.
    const PER_TASK: i64 = 3_000;
    let http = reqwest::Client::new();
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("poll", &[("throughput", "50")]),
        (
            "interval",
            &[
                ("throughput", "50"),
                ("transaction.boundary", "interval"),
                ("transaction.boundary.interval.ms", "500"),
            ],
        ),
        // The tasks commit after every 37th seqno (about 0.7 s of records at 50/s; 37 so the
        // boundaries fall inside polls, not with them).
        (
            "connector",
            &[
                ("throughput", "50"),
                ("transaction.boundary", "connector"),
                ("verifiable.transaction.records", "37"),
            ],
        ),
    ];
    let mut topics = Vec::new();
    for (boundary, extra) in cases {
        let topic = format!("{name}-{boundary}");
        create_topic(&kafka, &topic, 4).await;
        let connector = verifiable(&topic, TASKS as u32, PER_TASK as u64, extra);
        create(&http, &workers[0].1, &format!("vs-{boundary}"), connector).await;
        topics.push((boundary, topic));
    }
    let mut kills = 0;
    for round in 1..=6 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let victim = round % 3;
        workers[victim].0.signal(Signal::SIGKILL);
        let _ = workers[victim].0 .0.wait();
        kills += 1;
        let log = dir.path().join(format!("w{victim}-{round}.log"));
        workers[victim] = spawn_worker(&config, &log);
    }
    for (boundary, topic) in &topics {
        let mut reader = CommittedReader::new(&kafka, topic, 4);
        tokio::task::block_in_place(|| {
            reader.read_until(Duration::from_secs(120), |s| has_all(s, TASKS, PER_TASK))
        });
        let per_key = per_key_without_duplicates(&reader.seen);
        let want: Vec<i64> = (0..PER_TASK).collect();
        for t in 0..TASKS {
            assert_eq!(per_key[&t], want, "{boundary}: task {t}: lost records");
        }
        assert_eq!(reader.seen.len() as i64, TASKS * PER_TASK, "{boundary}");
        eprintln!(
            "exactly-once, transaction.boundary={boundary}, under {kills} SIGKILLs: {} records, \
             0 lost, 0 duplicates, {:?} into the test",
            reader.seen.len(),
            started.elapsed()
        );
    }
}

/// The embedded broker writes no transaction markers: a worker on it refuses to start with
/// exactly-once source support enabled, naming the key, and exits non-zero.
#[test]
fn the_embedded_broker_refuses_exactly_once_source_support() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.properties");
    std::fs::write(
        &config,
        "listeners=http://127.0.0.1:0\ngroup.id=g\nconfig.storage.topic=c\n\
         offset.storage.topic=o\nstatus.storage.topic=s\nexactly.once.source.support=enabled\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["distributed"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "exit status {:?}: {stderr}",
        out.status
    );
    assert!(
        stderr.contains(
            "exactly.once.source.support=enabled needs a Kafka cluster that honours transactions"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("embedded broker"), "{stderr}");
}
