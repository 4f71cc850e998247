//! Transforms and predicates in a running worker on the embedded broker, with test-only plugins
//! registered through the same registry API a user's own plugins use: every record counted on
//! the source side (batch and per-record APIs) and on the sink side, kept, dropped and routed;
//! a failing transform under each `errors.tolerance`; and the REST plugin listing and
//! validation of transform configs. Then Connect's built-in transforms and predicates chained
//! on both sides of typed (JsonConverter with schemas) records, and typed headers carried from
//! a source to a sink through the header converter.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use common::pipeline_cases::{file_sink, file_source};
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SinkTask, SinkTaskContext, SourceTask,
    SourceTaskContext, TaskInstance,
};
use kconnect_connectors::builtin::file::FileStreamSourceConnector;
use kconnect_connectors::config::{ConfigDef, ConfigType, ConfigValue, Importance};
use kconnect_connectors::data::logical::{
    date_schema, days_from_civil, decimal_schema, timestamp_schema, MILLIS_PER_DAY,
};
use kconnect_connectors::data::{Schema, SchemaBuilder, Struct, Type, Value};
use kconnect_connectors::record::{Header, RecordMetadata, SinkRecord, SourceRecord};
use kconnect_connectors::registry::{
    ConnectorPlugin, PluginRegistry, PredicatePlugin, TransformationPlugin,
};
use kconnect_connectors::transforms::{ConnectRecord, Outcome, Predicate, Transformation};
use kconnect_connectors::{ConnectError, ConnectResult};
use reqwest::StatusCode;
use serde_json::{json, Value as Json};

// ---- Test-only transforms and predicates. ----

fn string_key(name: &str, doc: &str) -> ConfigDef {
    ConfigDef::new().define(name, ConfigType::String, None, None, Importance::High, doc)
}

fn value_text(record: &dyn ConnectRecord) -> ConnectResult<&str> {
    record
        .value()
        .as_str()
        .ok_or_else(|| ConnectError::data("the value is not a string"))
}

/// Sends the record to `topic`.
#[derive(Default)]
struct Route(String);

impl Transformation for Route {
    fn config_def(&self) -> ConfigDef {
        string_key("topic", "The topic to send records to.")
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0 = props["topic"].clone();
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        record.set_topic(&self.0);
        Ok(Outcome::Keep)
    }
}

/// Appends `suffix` to a string value; fails on values ending with `fail.on.suffix`.
#[derive(Default)]
struct Suffix {
    suffix: String,
    fail_on: Option<String>,
}

impl Transformation for Suffix {
    fn config_def(&self) -> ConfigDef {
        string_key("suffix", "Appended to the value.").define_optional(
            "fail.on.suffix",
            ConfigType::String,
            Importance::Low,
            "Values ending with this fail.",
        )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.suffix = props["suffix"].clone();
        self.fail_on = props.get("fail.on.suffix").cloned();
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let text = value_text(record)?;
        if let Some(f) = self.fail_on.as_deref().filter(|f| text.ends_with(f)) {
            return Err(ConnectError::data(format!("{text} ends with {f}")));
        }
        let text = format!("{text}{}", self.suffix);
        *record.value_mut().1 = Value::String(text);
        Ok(Outcome::Keep)
    }
}

#[derive(Default)]
struct DropIt;

impl Transformation for DropIt {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _: &Props) -> ConnectResult<()> {
        Ok(())
    }
    fn apply(&mut self, _: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        Ok(Outcome::Drop)
    }
}

/// Matches string values ending with `suffix`.
#[derive(Default)]
struct ValueEndsWith(String);

impl Predicate for ValueEndsWith {
    fn config_def(&self) -> ConfigDef {
        string_key("suffix", "The end of the values that match.")
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0 = props["suffix"].clone();
        Ok(())
    }
    fn test(&self, record: &dyn ConnectRecord) -> bool {
        value_text(record).is_ok_and(|t| t.ends_with(&self.0))
    }
}

// ---- A file source on Connect's per-record API that wants commit_record. ----

/// Per `commit_record` call: the record's value and topic as `poll` returned them, and the
/// topic and Kafka offset it landed at (`None`: it never reached the producer).
type CommitCall = (String, String, Option<(String, i64)>);
static COMMITS: Mutex<Vec<CommitCall>> = Mutex::new(Vec::new());

struct PerRecordFileSource {
    inner: Box<dyn SourceTask>,
}

#[async_trait]
impl SourceTask for PerRecordFileSource {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        self.inner.start(ctx, props).await
    }
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        self.inner.poll().await
    }
    async fn commit_record(
        &mut self,
        record: &SourceRecord,
        metadata: Option<&RecordMetadata>,
    ) -> ConnectResult<()> {
        COMMITS.lock().unwrap().push((
            record.value.as_str().unwrap().to_string(),
            record.topic.clone(),
            metadata.map(|m| (m.topic.clone(), m.offset)),
        ));
        Ok(())
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

struct PerRecordFileSourceConnector(FileStreamSourceConnector);

impl Connector for PerRecordFileSourceConnector {
    fn version(&self) -> String {
        self.0.version()
    }
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }
    fn config_def(&self) -> ConfigDef {
        self.0.config_def()
    }
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.0.validate(props)
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
            TaskInstance::Source(inner) => {
                TaskInstance::Source(Box::new(PerRecordFileSource { inner }))
            }
            TaskInstance::Sink(_) => unreachable!("a source connector"),
        }
    }
}

// ---- A source of typed records and a sink that keeps what it is given. ----

/// 2024-01-02T00:00:00Z: the timestamp of every typed record.
fn typed_timestamp() -> i64 {
    days_from_civil(2024, 1, 2) * MILLIS_PER_DAY
}

fn order_schema() -> Schema {
    SchemaBuilder::struct_()
        .name("com.example.Order")
        .version(1)
        .field("id", Schema::int32())
        .field("name", Schema::string())
        .field("secret", Schema::string())
        .build()
}

/// Order `i`: on topic `orders-raw` when even, `orders-keep` when odd, with an INT32 header
/// `keep` unless `i` is a multiple of 5.
fn order(i: i32) -> SourceRecord {
    let value = Struct::new(order_schema())
        .and_then(|s| s.with("id", i))
        .and_then(|s| s.with("name", format!("order-{i}")))
        .and_then(|s| s.with("secret", format!("s{i}")))
        .unwrap();
    let topic = if i % 2 == 0 {
        "orders-raw"
    } else {
        "orders-keep"
    };
    let mut r = SourceRecord::new(
        [("source".to_string(), json!("orders"))]
            .into_iter()
            .collect(),
        [("i".to_string(), json!(i))].into_iter().collect(),
        topic,
        Some(order_schema()),
        Value::Struct(value),
    );
    r.timestamp = Some(typed_timestamp());
    if i % 5 != 0 {
        r.headers
            .push(header("keep", Some(Schema::int32()), Value::Int32(i)));
    }
    r
}

fn header(key: &str, schema: Option<Schema>, value: Value) -> Header {
    Header {
        key: key.into(),
        schema,
        value,
    }
}

fn text(s: &str) -> Value {
    Value::String(s.into())
}

fn struct_header_schema() -> Schema {
    SchemaBuilder::struct_()
        .field("id", Schema::int32())
        .field("name", Schema::string())
        .build()
}

/// Headers of every kind of value, as a source task sets them.
fn typed_headers() -> Vec<Header> {
    let st = Struct::new(struct_header_schema())
        .and_then(|s| s.with("id", 7))
        .and_then(|s| s.with("name", "n"))
        .unwrap();
    vec![
        header("int32", Some(Schema::int32()), Value::Int32(42)),
        header(
            "int64",
            Some(Schema::int64()),
            Value::Int64(1_234_567_890_123),
        ),
        header("float64", Some(Schema::float64()), Value::Float64(0.5)),
        header("bool", Some(Schema::boolean()), Value::Boolean(true)),
        header("text", Some(Schema::string()), text("hello, world")),
        header(
            "date",
            Some(date_schema()),
            Value::Date(days_from_civil(2024, 1, 2) as i32),
        ),
        header(
            "ts",
            Some(timestamp_schema()),
            Value::Timestamp(typed_timestamp() + 1234),
        ),
        header(
            "decimal",
            Some(decimal_schema(2)),
            Value::Decimal("12.34".parse().unwrap()),
        ),
        header(
            "tags",
            Some(SchemaBuilder::array(Schema::string()).build()),
            Value::Array(vec![text("a"), text("b")]),
        ),
        header(
            "counts",
            Some(SchemaBuilder::map(Schema::string(), Schema::int32()).build()),
            Value::Map(vec![
                (text("x"), Value::Int32(1)),
                (text("y"), Value::Int32(300)),
            ]),
        ),
        header("struct", Some(struct_header_schema()), Value::Struct(st)),
        header("bytes", Some(Schema::bytes()), Value::Bytes(vec![1, 2, 3])),
        header("none", None, Value::Null),
    ]
}

/// A connector that hands its own config to its one task, which `task` makes.
struct OneTaskConnector {
    kind: ConnectorKind,
    props: Props,
    task: fn() -> TaskInstance,
}

impl OneTaskConnector {
    fn new(kind: ConnectorKind, task: fn() -> TaskInstance) -> Self {
        OneTaskConnector {
            kind,
            props: Props::new(),
            task,
        }
    }
}

impl Connector for OneTaskConnector {
    fn version(&self) -> String {
        "1".into()
    }
    fn kind(&self) -> ConnectorKind {
        self.kind
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
        (self.task)()
    }
}

/// Emits `count` records once: orders (`mode=orders`) or values carrying [`typed_headers`]
/// (`mode=headers`, on `topic`).
#[derive(Default)]
struct TypedSource {
    pending: Vec<SourceRecord>,
}

#[async_trait]
impl SourceTask for TypedSource {
    async fn start(&mut self, _: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let count: i32 = props["count"].parse().unwrap();
        self.pending = match props["mode"].as_str() {
            "orders" => (0..count).map(order).collect(),
            _ => (0..count)
                .map(|i| {
                    let mut r = SourceRecord::new(
                        [("source".to_string(), json!("headers"))]
                            .into_iter()
                            .collect(),
                        [("i".to_string(), json!(i))].into_iter().collect(),
                        props["topic"].as_str(),
                        Some(Schema::int32()),
                        Value::Int32(i),
                    );
                    r.headers = typed_headers();
                    r
                })
                .collect(),
        };
        Ok(())
    }
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.pending.is_empty() {
            // Idle: return within a second, as the API asks.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(std::mem::take(&mut self.pending))
    }
    fn wants_commit_record(&self) -> bool {
        false
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

/// Every record each capturing sink was given, by connector name.
static CAPTURED: Mutex<BTreeMap<String, Vec<SinkRecord>>> = Mutex::new(BTreeMap::new());

fn captured(connector: &str) -> Vec<SinkRecord> {
    CAPTURED
        .lock()
        .unwrap()
        .get(connector)
        .cloned()
        .unwrap_or_default()
}

#[derive(Default)]
struct CapturingSink(String);

#[async_trait]
impl SinkTask for CapturingSink {
    async fn start(&mut self, _: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        self.0 = props["name"].clone();
        Ok(())
    }
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        CAPTURED
            .lock()
            .unwrap()
            .entry(self.0.clone())
            .or_default()
            .extend(records.iter().cloned());
        Ok(())
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

/// The built-in plugins plus the test transforms, predicate and connector, registered as a
/// user registers their own.
fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register_transformation(TransformationPlugin::new("test.Route", "1", || {
        Box::new(Route::default())
    }));
    r.register_transformation(TransformationPlugin::new("test.Suffix", "1", || {
        Box::new(Suffix::default())
    }));
    r.register_transformation(TransformationPlugin::new("test.Drop", "1", || {
        Box::new(DropIt)
    }));
    r.register_predicate(PredicatePlugin::new("test.ValueEndsWith", "2", || {
        Box::new(ValueEndsWith::default())
    }));
    r.register(ConnectorPlugin::new(
        "test.TypedSourceConnector",
        ConnectorKind::Source,
        "1",
        || {
            Box::new(OneTaskConnector::new(ConnectorKind::Source, || {
                TaskInstance::Source(Box::new(TypedSource::default()))
            }))
        },
    ));
    r.register(ConnectorPlugin::new(
        "test.CapturingSinkConnector",
        ConnectorKind::Sink,
        "1",
        || {
            Box::new(OneTaskConnector::new(ConnectorKind::Sink, || {
                TaskInstance::Sink(Box::new(CapturingSink::default()))
            }))
        },
    ));
    r.register(ConnectorPlugin::new(
        "test.PerRecordFileSourceConnector",
        ConnectorKind::Source,
        "1",
        || {
            Box::new(PerRecordFileSourceConnector(
                FileStreamSourceConnector::default(),
            ))
        },
    ));
    r
}

fn with(mut base: Props, extra: &[(&str, &str)]) -> Props {
    base.extend(props(extra));
    base
}

/// Source transforms: lines ending in 0 dropped, those ending in 5 routed to `<topic>-five`,
/// every other one marked `|src` (one predicate alias serving two transforms, once negated).
fn source_transforms(topic: &str) -> Vec<(String, String)> {
    let five = format!("{topic}-five");
    [
        ("transforms", "drop0,five,mark"),
        ("transforms.drop0.type", "test.Drop"),
        ("transforms.drop0.predicate", "ends0"),
        ("transforms.five.type", "Route"),
        ("transforms.five.topic", &five),
        ("transforms.five.predicate", "ends5"),
        ("transforms.mark.type", "test.Suffix"),
        ("transforms.mark.suffix", "|src"),
        ("transforms.mark.predicate", "ends5"),
        ("transforms.mark.negate", "true"),
        ("predicates", "ends0,ends5"),
        ("predicates.ends0.type", "test.ValueEndsWith"),
        ("predicates.ends0.suffix", "0"),
        ("predicates.ends5.type", "ValueEndsWith"),
        ("predicates.ends5.suffix", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Waits until the connector's committed source offset is `position`.
async fn wait_source_position(w: &TestWorker, connector: &str, position: i64) {
    let at = || {
        w.worker
            .context()
            .offsets
            .all(connector)
            .first()
            .and_then(|(_, o)| o["position"].as_i64())
    };
    let ok = eventually(Duration::from_secs(30), || at() == Some(position)).await;
    assert!(
        ok,
        "{connector}: committed position {:?}, not {position}",
        at()
    );
}

/// Batch API on the source side (the file source), per-record tolerance on the sink side: each
/// record of 1,001 lines is counted where it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transforms_drop_route_and_change_records_on_both_sides_and_every_offset_commits() {
    let w = TestWorker::start(&[], registry()).await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    // The last line, line-0001000, is dropped: the batch's offset must still commit.
    let lines = write_numbered_lines(&input, 1001);
    let mut source = file_source("src", "FileStreamSource", &input, "lines");
    source.extend(source_transforms("lines"));
    w.worker.add_connector(source).await.unwrap();
    // The sink reads both topics, fails (tolerated) on lines ending in 7 before the mark, sends
    // every record to another topic (offsets must still be committed for the topics read), and
    // marks what it puts.
    let sink = with(
        file_sink("sink", "FileStreamSink", &output, "lines,lines-five"),
        &[
            ("errors.tolerance", "all"),
            ("transforms", "picky,away,tag"),
            ("transforms.picky.type", "test.Suffix"),
            ("transforms.picky.suffix", ""),
            ("transforms.picky.fail.on.suffix", "7|src"),
            ("transforms.away.type", "test.Route"),
            ("transforms.away.topic", "elsewhere"),
            ("transforms.tag.type", "test.Suffix"),
            ("transforms.tag.suffix", "|sink"),
        ],
    );
    w.worker.add_connector(sink).await.unwrap();

    let mut expected: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match i % 10 {
            0 | 7 => {}
            5 => expected.push(format!("{line}|sink")),
            _ => expected.push(format!("{line}|src|sink")),
        }
    }
    assert_eq!(expected.len(), 800);
    let all = eventually(Duration::from_secs(60), || {
        count_lines(&output) >= expected.len()
    })
    .await;
    assert!(all, "{} of {} lines", count_lines(&output), expected.len());
    // Every source offset, the dropped last line's included, commits.
    let input_len = std::fs::metadata(&input).unwrap().len() as i64;
    wait_source_position(&w, "src", input_len).await;
    // The sink committed past every record it read, those it dropped or failed on included,
    // for the topics it read (not the one its transform named).
    let bootstrap = w.broker.bootstrap_servers();
    let committed = || {
        (
            kafka::committed_offsets(&bootstrap, "connect-sink", "lines", 1),
            kafka::committed_offsets(&bootstrap, "connect-sink", "lines-five", 1),
        )
    };
    let ok = eventually(Duration::from_secs(30), || {
        committed() == (vec![800], vec![100])
    })
    .await;
    assert!(ok, "committed {:?}", committed());
    w.worker.shutdown().await;

    // Exactly what was kept reached each topic, nothing else.
    assert_eq!(kafka::log_end_offsets(&bootstrap, "lines", 1), vec![800]);
    assert_eq!(
        kafka::log_end_offsets(&bootstrap, "lines-five", 1),
        vec![100]
    );
    let mut got = read_lines(&output);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}

/// On the per-record API, `commit_record` comes once per record with the record as `poll`
/// returned it: with no metadata for a dropped one, with where it landed for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_per_record_source_gets_commit_record_for_dropped_and_routed_records_alike() {
    let w = TestWorker::start(&[], registry()).await;
    let input = w.path("in.txt");
    let lines = write_numbered_lines(&input, 101);
    let mut source = file_source(
        "per-record",
        "test.PerRecordFileSourceConnector",
        &input,
        "plines",
    );
    source.extend(source_transforms("plines"));
    w.worker.add_connector(source).await.unwrap();
    let all = eventually(Duration::from_secs(60), || {
        COMMITS.lock().unwrap().len() >= lines.len()
    })
    .await;
    let input_len = std::fs::metadata(&input).unwrap().len() as i64;
    wait_source_position(&w, "per-record", input_len).await;
    w.worker.shutdown().await;
    let calls = COMMITS.lock().unwrap().clone();
    assert!(
        all,
        "{} of {} commit_record calls",
        calls.len(),
        lines.len()
    );
    assert_eq!(calls.len(), lines.len(), "one call per record");
    let (mut main, mut five) = (0, 0);
    for (i, (value, topic, landed)) in calls.iter().enumerate() {
        assert_eq!(value, &lines[i], "poll order, untransformed");
        assert_eq!(topic, "plines", "as poll returned it");
        match (i % 10, landed) {
            (0, None) => {}
            (5, Some((t, offset))) => {
                assert_eq!((t.as_str(), *offset), ("plines-five", five));
                five += 1;
            }
            (_, Some((t, offset))) => {
                assert_eq!((t.as_str(), *offset), ("plines", main));
                main += 1;
            }
            other => panic!("line {i}: {other:?}"),
        }
    }
    assert_eq!((main, five), (80, 10));
}

/// Under errors.tolerance=none a transform failure fails the task, naming the record and the
/// transform; nothing after the failing record is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_transform_fails_the_task_naming_the_record_and_the_transform() {
    let w = TestWorker::start(&[("task.restart.max.restarts", "0")], registry()).await;
    let input = w.path("in.txt");
    write_numbered_lines(&input, 10);
    let source = with(
        file_source("src", "FileStreamSource", &input, "lines"),
        &[
            ("transforms", "picky"),
            ("transforms.picky.type", "test.Suffix"),
            ("transforms.picky.suffix", "!"),
            ("transforms.picky.fail.on.suffix", "3"),
        ],
    );
    w.worker.add_connector(source).await.unwrap();
    let failed = w
        .status()
        .wait_until(Duration::from_secs(30), |m| {
            m.get("src")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Failed)
        })
        .await;
    assert!(failed, "{:?}", w.status().get("src"));
    let trace = w.status().get("src").unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap();
    let partition = json!({ "filename": input.to_str().unwrap() });
    // The batch's end depends on how much the file source read at once.
    for part in [
        "the transformation picky (test.Suffix) failed on a record of the batch for topic \
         lines ending at source offset {\"position\":"
            .to_string(),
        format!("}} of source partition {partition}: data error: line-0000003 ends with 3"),
    ] {
        assert!(trace.contains(&part), "{part} not in {trace}");
    }
    // The batch's offset was not committed: its records come again after a restart.
    assert!(w.worker.context().offsets.all("src").is_empty());
    let bootstrap = w.broker.bootstrap_servers();
    w.worker.shutdown().await;
    assert!(kafka::log_end_offsets(&bootstrap, "lines", 1)[0] <= 3);
}

// ---- REST ----

async fn rest_worker(dir: &std::path::Path) -> kconnect::standalone::Standalone {
    init_tracing();
    let p = props(&[
        ("listeners", "http://127.0.0.1:0"),
        (
            "offset.storage.file.filename",
            dir.join("offsets").to_str().unwrap(),
        ),
    ]);
    let config = kconnect::standalone::StandaloneConfig {
        worker_file: "worker.properties".into(),
        worker: kconnect_actors::config::WorkerConfig::parse(p).unwrap(),
        connectors: Vec::new(),
        plugins: std::sync::Arc::new(registry()),
    };
    kconnect::standalone::Standalone::start(config, None)
        .await
        .unwrap()
}

async fn call(base: &str, method: &str, path: &str, body: Option<Json>) -> (StatusCode, Json) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_lists_transforms_and_predicates_with_their_configs_and_validates_them() {
    let dir = tempfile::tempdir().unwrap();
    let running = rest_worker(dir.path()).await;
    let base = format!("http://{}", running.rest_addr);

    let (s, v) = call(
        &base,
        "GET",
        "/connector-plugins?connectorsOnly=false",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let listed = v.as_array().unwrap();
    let at = |class: &str| listed.iter().position(|p| p["class"] == class);
    let route = at("test.Route").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(
        listed[route],
        json!({"class": "test.Route", "type": "transformation", "version": "1"})
    );
    let predicate = at("test.ValueEndsWith").unwrap();
    assert_eq!(
        listed[predicate],
        json!({"class": "test.ValueEndsWith", "type": "predicate", "version": "2"})
    );
    // Connect's order: connectors, transformations, predicates, converters.
    let connector = at("test.PerRecordFileSourceConnector").unwrap();
    let converter = at("org.apache.kafka.connect.json.JsonConverter").unwrap();
    assert!(
        connector < route && route < predicate && predicate < converter,
        "{v}"
    );
    let (_, v) = call(&base, "GET", "/connector-plugins", None).await;
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink"),
        "{v}"
    );

    // A transform's and a predicate's own keys, by class name or alias (KIP-769).
    for (plugin, key) in [
        ("test.Route", "topic"),
        ("Suffix", "suffix"),
        ("ValueEndsWith", "suffix"),
    ] {
        let (s, v) = call(
            &base,
            "GET",
            &format!("/connector-plugins/{plugin}/config"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{plugin}: {v}");
        assert_eq!(v[0]["name"], key, "{plugin}: {v}");
        assert_eq!(v[0]["required"], true, "{plugin}: {v}");
        assert_eq!(v[0]["type"], "STRING", "{plugin}: {v}");
    }

    // A config with an unknown class, a transform and a predicate missing their keys, a bad
    // negate: each error on its own key, in its alias's group.
    let file = dir.path().join("in.txt");
    let mut config: serde_json::Map<String, Json> = [
        ("name", "bad"),
        ("connector.class", "FileStreamSource"),
        ("file", file.to_str().unwrap()),
        ("topic", "t"),
        ("transforms", "a,b"),
        ("transforms.a.type", "Nope"),
        ("transforms.b.type", "test.Route"),
        ("transforms.b.predicate", "p"),
        ("transforms.b.negate", "yes"),
        ("predicates", "p"),
        ("predicates.p.type", "test.ValueEndsWith"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect();
    let (s, v) = call(
        &base,
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(Json::Object(config.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let errors: Vec<(String, Vec<String>)> = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["value"]["errors"].as_array().unwrap().is_empty())
        .map(|c| {
            (
                c["value"]["name"].as_str().unwrap().to_string(),
                serde_json::from_value(c["value"]["errors"].clone()).unwrap(),
            )
        })
        .collect();
    let e = |key: &str, msg: &str| (key.to_string(), vec![msg.to_string()]);
    assert_eq!(
        errors,
        vec![
            e(
                "transforms.a.type",
                "Invalid value Nope for configuration transforms.a.type: Class Nope could not \
                 be found."
            ),
            e(
                "transforms.b.topic",
                "Missing required configuration \"transforms.b.topic\" which has no default \
                 value."
            ),
            e(
                "transforms.b.negate",
                "Invalid value yes for configuration transforms.b.negate: Expected value to be \
                 either true or false"
            ),
            e(
                "predicates.p.suffix",
                "Missing required configuration \"predicates.p.suffix\" which has no default \
                 value."
            ),
        ],
        "{v}"
    );
    assert_eq!(v["error_count"], 4);
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    for g in [
        "Common",
        "Transforms",
        "Predicates",
        "Transforms: a",
        "Transforms: b",
        "Predicates: p",
    ] {
        assert!(groups.contains(&g), "{g}: {groups:?}");
    }
    let entry = |name: &str| {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"))
            .clone()
    };
    let b_type = entry("transforms.b.type");
    assert_eq!(b_type["definition"]["group"], "Transforms: b");
    assert_eq!(b_type["definition"]["type"], "CLASS");
    assert_eq!(
        b_type["definition"]["display_name"],
        "Transformation type for b"
    );
    let recommended = b_type["value"]["recommended_values"].as_array().unwrap();
    assert!(recommended.contains(&json!("test.Route")), "{b_type}");
    assert!(
        !recommended.contains(&json!("test.ValueEndsWith")),
        "{b_type}"
    );
    assert_eq!(entry("transforms.b.predicate")["value"]["value"], "p");
    assert_eq!(
        entry("predicates.p.suffix")["definition"]["group"],
        "Predicates: p"
    );

    // Create refuses it with Connect's message; fixed, it is created and runs.
    let (s, v) = call(
        &base,
        "PUT",
        "/connectors/bad/config",
        Some(Json::Object(config.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Connector configuration is invalid and contains the following 4 error(s):\n\
             Invalid value Nope for configuration transforms.a.type"
        ),
        "{message}"
    );
    for (k, val) in [
        ("transforms.a.type", "test.Drop"),
        ("transforms.b.topic", "u"),
        ("transforms.b.negate", "true"),
        ("predicates.p.suffix", "x"),
    ] {
        config.insert(k.into(), json!(val));
    }
    std::fs::write(&file, "").unwrap();
    let (s, v) = call(
        &base,
        "PUT",
        "/connectors/bad/config",
        Some(Json::Object(config)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ok = running
        .worker
        .context()
        .status
        .wait_running("bad", 1, Duration::from_secs(30))
        .await;
    assert!(ok, "{:?}", running.worker.status("bad"));
    running.stop().await;
}

// ---- Built-in transforms and predicates, typed records and headers ----

const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

fn json_converters() -> Vec<(&'static str, &'static str)> {
    vec![
        ("key.converter", JSON_CONVERTER),
        ("key.converter.schemas.enable", "true"),
        ("value.converter", JSON_CONVERTER),
        ("value.converter.schemas.enable", "true"),
    ]
}

/// Waits until the sink `connector` committed the end of each of `topics` (one partition
/// each), so that everything it will ever get was put.
async fn wait_consumed(w: &TestWorker, connector: &str, topics: &[&str]) {
    let bootstrap = w.broker.bootstrap_servers();
    let group = format!("connect-{connector}");
    let state = || {
        topics
            .iter()
            .map(|t| {
                (
                    kafka::log_end_offsets(&bootstrap, t, 1),
                    kafka::committed_offsets(&bootstrap, &group, t, 1),
                )
            })
            .collect::<Vec<_>>()
    };
    let ok = eventually(Duration::from_secs(30), || {
        state().iter().all(|(end, committed)| end == committed)
    })
    .await;
    assert!(ok, "{connector}: (log end, committed) {:?}", state());
}

/// A source chain (Filter under a negated HasHeaderKey, InsertField$Value, RegexRouter under
/// TopicNameMatches) and a sink chain (ReplaceField$Value, ValueToKey, ExtractField$Key,
/// InsertHeader under TopicNameMatches, TimestampRouter) of Connect's built-ins on typed
/// records: every record the sink gets is checked, schema and value, and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn built_in_transforms_and_predicates_reshape_typed_records_on_both_sides() {
    let w = TestWorker::start(&[], registry()).await;
    let mut source = props(&[
        ("name", "orders"),
        ("connector.class", "test.TypedSourceConnector"),
        ("mode", "orders"),
        ("count", "200"),
        ("transforms", "unkept,origin,route"),
        ("transforms.unkept.type", "Filter"),
        ("transforms.unkept.predicate", "kept"),
        ("transforms.unkept.negate", "true"),
        (
            "transforms.origin.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.origin.static.field", "origin"),
        ("transforms.origin.static.value", "typed-source"),
        // Without its predicate the router would move orders-keep too.
        ("transforms.route.type", "RegexRouter"),
        ("transforms.route.regex", "orders-(.*)"),
        ("transforms.route.replacement", "orders-routed"),
        ("transforms.route.predicate", "raw"),
        ("predicates", "kept,raw"),
        ("predicates.kept.type", "HasHeaderKey"),
        ("predicates.kept.name", "keep"),
        (
            "predicates.raw.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.raw.pattern", "orders-raw"),
    ]);
    source.extend(props(&json_converters()));
    let mut sink = props(&[
        ("name", "orders-sink"),
        ("connector.class", "test.CapturingSinkConnector"),
        ("topics", "orders-routed,orders-keep"),
        ("transforms", "rename,tokey,extract,via,day"),
        ("transforms.rename.type", "ReplaceField$Value"),
        ("transforms.rename.exclude", "secret"),
        ("transforms.rename.renames", "name:title"),
        ("transforms.tokey.type", "ValueToKey"),
        ("transforms.tokey.fields", "id"),
        ("transforms.extract.type", "ExtractField$Key"),
        ("transforms.extract.field", "id"),
        ("transforms.via.type", "InsertHeader"),
        ("transforms.via.header", "via"),
        ("transforms.via.value.literal", "kconnect"),
        ("transforms.via.predicate", "routed"),
        ("transforms.day.type", "TimestampRouter"),
        ("transforms.day.topic.format", "${topic}-${timestamp}"),
        ("transforms.day.timestamp.format", "yyyyMMdd"),
        ("predicates", "routed"),
        ("predicates.routed.type", "TopicNameMatches"),
        ("predicates.routed.pattern", "orders-routed"),
    ]);
    sink.extend(props(&json_converters()));
    w.worker.add_connector(source).await.unwrap();
    w.worker.add_connector(sink).await.unwrap();

    // Multiples of 5 have no `keep` header: filtered out at the source.
    let kept: Vec<i32> = (0..200).filter(|i| i % 5 != 0).collect();
    assert_eq!(kept.len(), 160);
    let arrived = eventually(Duration::from_secs(60), || {
        captured("orders-sink").len() >= kept.len()
    })
    .await;
    assert!(
        arrived,
        "{} of {}",
        captured("orders-sink").len(),
        kept.len()
    );
    wait_consumed(&w, "orders-sink", &["orders-routed", "orders-keep"]).await;
    let bootstrap = w.broker.bootstrap_servers();
    w.worker.shutdown().await;
    assert_eq!(kafka::log_end_offsets(&bootstrap, "orders-routed", 1), [80]);
    assert_eq!(kafka::log_end_offsets(&bootstrap, "orders-keep", 1), [80]);

    let value_schema = SchemaBuilder::struct_()
        .name("com.example.Order")
        .version(1)
        .field("id", Schema::int32())
        .field("title", Schema::string())
        .field("origin", Schema::optional_string())
        .build();
    let mut got = captured("orders-sink");
    got.sort_by_key(|r| match r.key {
        Value::Int32(i) => i,
        _ => -1,
    });
    assert_eq!(got.len(), kept.len(), "every record once");
    for (r, &i) in got.iter().zip(&kept) {
        let routed = i % 2 == 0;
        let topic = if routed {
            "orders-routed-20240102"
        } else {
            "orders-keep-20240102"
        };
        assert_eq!(&*r.topic, topic, "order {i}");
        assert_eq!(r.timestamp, Some(typed_timestamp()), "order {i}");
        assert_eq!(
            (&r.key_schema, &r.key),
            (&Some(Schema::int32()), &Value::Int32(i)),
            "order {i}"
        );
        let value = Struct::new(value_schema.clone())
            .and_then(|s| s.with("id", i))
            .and_then(|s| s.with("title", format!("order-{i}")))
            .and_then(|s| s.with("origin", "typed-source"))
            .unwrap();
        assert_eq!(
            (&r.value_schema, &r.value),
            (&Some(value_schema.clone()), &Value::Struct(value)),
            "order {i}"
        );
        // The INT32 header comes back with the narrowest schema SimpleHeaderConverter infers.
        let keep = match i8::try_from(i) {
            Ok(b) => header("keep", Some(Schema::int8()), Value::Int8(b)),
            Err(_) => header("keep", Some(Schema::int16()), Value::Int16(i as i16)),
        };
        let mut headers = vec![keep];
        if routed {
            headers.push(header("via", Some(Schema::string()), text("kconnect")));
        }
        assert_eq!(r.headers, headers, "order {i}");
    }
}

/// A MAP schema with a key schema and no value schema: what Connect infers for a map whose
/// values have no common type.
fn map_of_keys(key: Schema) -> Schema {
    let mut body = (*SchemaBuilder::new(Type::Map).build().0).clone();
    body.key_schema = Some(key);
    Schema(std::sync::Arc::new(body))
}

/// Headers of every kind set by a source arrive at a sink: through the default
/// SimpleHeaderConverter as their text, with the schema Connect infers from it; through a
/// JsonConverter set on both connectors, exactly as they were set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_headers_reach_the_sink_through_the_header_converter() {
    let w = TestWorker::start(&[], registry()).await;
    for (name, topic, header_converter) in [
        ("simple", "simple-headers", None),
        ("json", "json-headers", Some(JSON_CONVERTER)),
    ] {
        let mut source = props(&[
            ("name", &format!("{name}-src")),
            ("connector.class", "test.TypedSourceConnector"),
            ("mode", "headers"),
            ("count", "3"),
            ("topic", topic),
        ]);
        let mut sink = props(&[
            ("name", &format!("{name}-sink")),
            ("connector.class", "test.CapturingSinkConnector"),
            ("topics", topic),
        ]);
        for c in [&mut source, &mut sink] {
            c.extend(props(&json_converters()));
            if let Some(h) = header_converter {
                c.insert("header.converter".into(), h.into());
            }
        }
        w.worker.add_connector(source).await.unwrap();
        w.worker.add_connector(sink).await.unwrap();
    }
    for name in ["simple-sink", "json-sink"] {
        let arrived = eventually(Duration::from_secs(60), || captured(name).len() >= 3).await;
        assert!(arrived, "{name}: {} of 3", captured(name).len());
    }
    wait_consumed(&w, "simple-sink", &["simple-headers"]).await;
    wait_consumed(&w, "json-sink", &["json-headers"]).await;
    w.worker.shutdown().await;

    let date = days_from_civil(2024, 1, 2) as i32;
    let inferred = vec![
        header("int32", Some(Schema::int8()), Value::Int8(42)),
        header(
            "int64",
            Some(Schema::int64()),
            Value::Int64(1_234_567_890_123),
        ),
        header("float64", Some(Schema::float32()), Value::Float32(0.5)),
        header("bool", Some(Schema::boolean()), Value::Boolean(true)),
        header("text", Some(Schema::string()), text("hello, world")),
        header("date", Some(date_schema()), Value::Date(date)),
        header(
            "ts",
            Some(timestamp_schema()),
            Value::Timestamp(typed_timestamp() + 1234),
        ),
        header("decimal", Some(Schema::float32()), Value::Float32(12.34)),
        header(
            "tags",
            Some(SchemaBuilder::array(Schema::string()).build()),
            Value::Array(vec![text("a"), text("b")]),
        ),
        header(
            "counts",
            Some(SchemaBuilder::map(Schema::string(), Schema::int16()).build()),
            Value::Map(vec![
                (text("x"), Value::Int16(1)),
                (text("y"), Value::Int16(300)),
            ]),
        ),
        // A struct is written like a map of its fields; its values have no common type.
        header(
            "struct",
            Some(map_of_keys(Schema::string())),
            Value::Map(vec![
                (text("id"), Value::Int8(7)),
                (text("name"), text("n")),
            ]),
        ),
        header("bytes", Some(Schema::string()), text("AQID")),
        header("none", None, Value::Null),
    ];
    let simple = captured("simple-sink");
    assert_eq!(simple.len(), 3, "every record once");
    for (i, r) in simple.iter().enumerate() {
        assert_eq!(r.value, Value::Int32(i as i32));
        for (got, want) in r.headers.iter().zip(&inferred) {
            assert_eq!(got, want, "record {i}");
        }
        assert_eq!(r.headers.len(), inferred.len(), "record {i}");
    }
    let json = captured("json-sink");
    assert_eq!(json.len(), 3, "every record once");
    for (i, r) in json.iter().enumerate() {
        assert_eq!(r.value, Value::Int32(i as i32));
        assert_eq!(r.headers, typed_headers(), "record {i}");
    }
}

/// Header converters are listed as Connect lists them, and a connector's `header.converter.*`
/// keys are validated against its header converter's own keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_lists_header_converters_and_validates_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let running = rest_worker(dir.path()).await;
    let base = format!("http://{}", running.rest_addr);

    let (s, v) = call(
        &base,
        "GET",
        "/connector-plugins?connectorsOnly=false",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let listed = v.as_array().unwrap();
    let kinds = |class: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|p| p["class"] == class)
            .map(|p| p["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds("org.apache.kafka.connect.storage.SimpleHeaderConverter"),
        ["header_converter"]
    );
    assert_eq!(kinds(JSON_CONVERTER), ["converter", "header_converter"]);
    // Header converters come last, after the converters.
    let last_converter = listed
        .iter()
        .rposition(|p| p["type"] == "converter")
        .unwrap();
    let first_header = listed
        .iter()
        .position(|p| p["type"] == "header_converter")
        .unwrap();
    assert!(last_converter < first_header, "{v}");
    let (s, v) = call(
        &base,
        "GET",
        "/connector-plugins/SimpleHeaderConverter/config",
        None,
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));

    let file = dir.path().join("in.txt");
    let config = |extra: &[(&str, &str)]| {
        let c: serde_json::Map<String, Json> = [
            ("name", "h"),
            ("connector.class", "FileStreamSource"),
            ("file", file.to_str().unwrap()),
            ("topic", "t"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
        Json::Object(c)
    };
    let validate = |body: Json| {
        let base = base.clone();
        async move {
            let (s, v) = call(
                &base,
                "PUT",
                "/connector-plugins/FileStreamSource/config/validate",
                Some(body),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let errors: Vec<(String, Json)> = v["configs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| !c["value"]["errors"].as_array().unwrap().is_empty())
                .map(|c| {
                    (
                        c["value"]["name"].as_str().unwrap().to_string(),
                        c["value"]["errors"].clone(),
                    )
                })
                .collect();
            errors
        }
    };
    assert_eq!(
        validate(config(&[
            ("header.converter", JSON_CONVERTER),
            ("header.converter.schemas.enable", "maybe"),
        ]))
        .await,
        [(
            "header.converter.schemas.enable".to_string(),
            json!([
                "Invalid value maybe for configuration schemas.enable: Expected value to be \
                 either true or false"
            ])
        )]
    );
    assert_eq!(
        validate(config(&[("header.converter", "Avro")])).await,
        [(
            "header.converter".to_string(),
            json!([
                "Invalid value Avro for configuration header.converter: Class Avro could not \
                    be found."
            ])
        )]
    );
    assert!(
        validate(config(&[("header.converter", "SimpleHeaderConverter")]))
            .await
            .is_empty()
    );
    running.stop().await;
}
