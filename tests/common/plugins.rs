//! Connectors made for tests: the built-in ones wrapped so that a task panics or fails on cue,
//! or reports what it was assigned. State lives in statics because plugin factories are plain
//! functions; each test uses its own wrapper and so its own statics.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SinkOffsets, SinkTask, SinkTaskContext,
    SourceTask, SourceTaskContext, TaskInstance,
};
use kconnect_connectors::builtin::file::{
    FileStreamSinkConnector, FileStreamSourceConnector, FileStreamSourceTask,
};
use kconnect_connectors::builtin::verifiable::VerifiableSinkConnector;
use kconnect_connectors::config::{ConfigDef, ConfigValue};
use kconnect_connectors::record::{RecordMetadata, SinkRecord, SourceRecord, TopicPartition};
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry};
use kconnect_connectors::{ConnectError, ConnectResult};

/// A connector that delegates to `inner` and wraps each new task with `wrap`.
pub struct Wrapped {
    inner: Box<dyn Connector>,
    wrap: fn(TaskInstance) -> TaskInstance,
}

impl Connector for Wrapped {
    fn version(&self) -> String {
        self.inner.version()
    }
    fn kind(&self) -> ConnectorKind {
        self.inner.kind()
    }
    fn config_def(&self) -> ConfigDef {
        self.inner.config_def()
    }
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.inner.validate(props)
    }
    fn start(&mut self, ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        self.inner.start(ctx, props)
    }
    fn task_configs(&self, max: usize) -> ConnectResult<Vec<Props>> {
        self.inner.task_configs(max)
    }
    fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop()
    }
    fn new_task(&self) -> TaskInstance {
        (self.wrap)(self.inner.new_task())
    }
}

fn source(t: TaskInstance) -> Box<dyn SourceTask> {
    match t {
        TaskInstance::Source(s) => s,
        TaskInstance::Sink(_) => unreachable!("a source connector"),
    }
}

fn sink(t: TaskInstance) -> Box<dyn SinkTask> {
    match t {
        TaskInstance::Sink(s) => s,
        TaskInstance::Source(_) => unreachable!("a sink connector"),
    }
}

// ---- A file source whose first incarnation panics after PANIC_AFTER records. ----

pub const PANIC_AFTER: u64 = 30_000;
pub static SOURCE_EMITTED: AtomicU64 = AtomicU64::new(0);
pub static SOURCE_PANICKED: AtomicBool = AtomicBool::new(false);
/// The position the restarted task resumed from (read from the offset store at start).
pub static SOURCE_RESUMED_AT: Mutex<Option<i64>> = Mutex::new(None);

pub struct PanickingFileSource {
    inner: Box<dyn SourceTask>,
}

#[async_trait]
impl SourceTask for PanickingFileSource {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        if SOURCE_PANICKED.load(Ordering::SeqCst) {
            let p = FileStreamSourceTask::source_partition(props.get("file").map(String::as_str));
            let pos = ctx
                .offset_storage_reader()
                .offset(&p)
                .and_then(|o| o.get("position").and_then(|v| v.as_i64()));
            *SOURCE_RESUMED_AT.lock().unwrap() = Some(pos.unwrap_or(0));
        }
        self.inner.start(ctx, props).await
    }
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if SOURCE_EMITTED.load(Ordering::SeqCst) >= PANIC_AFTER
            && !SOURCE_PANICKED.swap(true, Ordering::SeqCst)
        {
            panic!("injected panic in poll after {PANIC_AFTER} records");
        }
        let r = self.inner.poll().await?;
        SOURCE_EMITTED.fetch_add(r.len() as u64, Ordering::SeqCst);
        Ok(r)
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

pub fn panicking_file_source() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.PanickingFileSourceConnector",
        ConnectorKind::Source,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSourceConnector::default()),
                wrap: |t| TaskInstance::Source(Box::new(PanickingFileSource { inner: source(t) })),
            })
        },
    )
}

// ---- A file sink whose first incarnation panics in put after SINK_PANIC_AFTER records. ----

pub const SINK_PANIC_AFTER: u64 = 30_000;
pub static SINK_PUT: AtomicU64 = AtomicU64::new(0);
pub static SINK_PANICKED: AtomicBool = AtomicBool::new(false);
/// The first offset the restarted task was handed: where its consumer resumed.
pub static SINK_RESUMED_AT: Mutex<Option<i64>> = Mutex::new(None);

pub struct PanickingFileSink {
    inner: Box<dyn SinkTask>,
}

#[async_trait]
impl SinkTask for PanickingFileSink {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        self.inner.start(ctx, props).await
    }
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        if SINK_PANICKED.load(Ordering::SeqCst) {
            let mut r = SINK_RESUMED_AT.lock().unwrap();
            if r.is_none() {
                *r = records.first().map(|x| x.offset);
            }
        } else if SINK_PUT.load(Ordering::SeqCst) >= SINK_PANIC_AFTER {
            SINK_PANICKED.store(true, Ordering::SeqCst);
            panic!("injected panic in put after {SINK_PANIC_AFTER} records");
        }
        SINK_PUT.fetch_add(records.len() as u64, Ordering::SeqCst);
        self.inner.put(records).await
    }
    async fn flush(&mut self, offsets: &SinkOffsets) -> ConnectResult<()> {
        self.inner.flush(offsets).await
    }
    async fn pre_commit(&mut self, offsets: SinkOffsets) -> ConnectResult<SinkOffsets> {
        self.inner.pre_commit(offsets).await
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

pub fn panicking_file_sink() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.PanickingFileSinkConnector",
        ConnectorKind::Sink,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSinkConnector::default()),
                wrap: |t| TaskInstance::Sink(Box::new(PanickingFileSink { inner: sink(t) })),
            })
        },
    )
}

// ---- A source that fails every poll. ----

pub struct AlwaysFailingSource;

#[async_trait]
impl SourceTask for AlwaysFailingSource {
    async fn start(&mut self, _ctx: SourceTaskContext, _props: &Props) -> ConnectResult<()> {
        Ok(())
    }
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        Err(ConnectError::other(
            "the external system is unreachable (injected)",
        ))
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

pub fn always_failing_source() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.AlwaysFailingSourceConnector",
        ConnectorKind::Source,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSourceConnector::default()),
                wrap: |_| TaskInstance::Source(Box::new(AlwaysFailingSource)),
            })
        },
    )
}

// ---- A verifiable sink that records which partitions each task opened and received. ----

/// task id → every partition it opened (closing does not remove it).
pub static OPENED: Mutex<BTreeMap<u32, Vec<TopicPartition>>> = Mutex::new(BTreeMap::new());
/// partition → task ids that received records from it.
pub static RECEIVED_BY: Mutex<BTreeMap<TopicPartition, Vec<u32>>> = Mutex::new(BTreeMap::new());

pub struct RecordingSink {
    inner: Box<dyn SinkTask>,
    id: u32,
}

#[async_trait]
impl SinkTask for RecordingSink {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        self.id = ctx.task_id;
        self.inner.start(ctx, props).await
    }
    async fn open(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        OPENED
            .lock()
            .unwrap()
            .entry(self.id)
            .or_default()
            .extend(partitions.iter().cloned());
        self.inner.open(partitions).await
    }
    async fn close(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        self.inner.close(partitions).await
    }
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        {
            let mut m = RECEIVED_BY.lock().unwrap();
            for r in records {
                let v = m.entry(r.topic_partition()).or_default();
                if !v.contains(&self.id) {
                    v.push(self.id);
                }
            }
        }
        self.inner.put(records).await
    }
    async fn flush(&mut self, offsets: &SinkOffsets) -> ConnectResult<()> {
        self.inner.flush(offsets).await
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

pub fn recording_verifiable_sink() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.RecordingSinkConnector",
        ConnectorKind::Sink,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(VerifiableSinkConnector::default()),
                wrap: |t| {
                    TaskInstance::Sink(Box::new(RecordingSink {
                        inner: sink(t),
                        id: 0,
                    }))
                },
            })
        },
    )
}

// ---- Verifiable sources whose connector start or stop waits for the test to open a gate. ----

/// A gate a connector's start or stop waits at until the test opens it.
pub struct Gate {
    open: Mutex<bool>,
    changed: std::sync::Condvar,
    waiting: AtomicBool,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            open: Mutex::new(true),
            changed: std::sync::Condvar::new(),
            waiting: AtomicBool::new(false),
        }
    }

    pub fn set(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.changed.notify_all();
    }

    /// Whether a connector is waiting at the closed gate.
    pub fn waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            self.waiting.store(true, Ordering::SeqCst);
            // Bounded, so a test that fails before opening the gate cannot hang the worker.
            open = self
                .changed
                .wait_timeout(open, std::time::Duration::from_secs(30))
                .unwrap()
                .0;
        }
        self.waiting.store(false, Ordering::SeqCst);
    }
}

/// Where `test.GatedStartSource` waits in `start`.
pub static START_GATE: Gate = Gate::new();
/// Where `test.GatedStopSource` waits in `stop`.
pub static STOP_GATE: Gate = Gate::new();

pub struct Gated {
    inner: Box<dyn Connector>,
    start: Option<&'static Gate>,
    stop: Option<&'static Gate>,
}

impl Connector for Gated {
    fn version(&self) -> String {
        self.inner.version()
    }
    fn kind(&self) -> ConnectorKind {
        self.inner.kind()
    }
    fn config_def(&self) -> ConfigDef {
        self.inner.config_def()
    }
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.inner.validate(props)
    }
    fn start(&mut self, ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        if let Some(g) = self.start {
            g.pass();
        }
        self.inner.start(ctx, props)
    }
    fn task_configs(&self, max: usize) -> ConnectResult<Vec<Props>> {
        self.inner.task_configs(max)
    }
    fn stop(&mut self) -> ConnectResult<()> {
        if let Some(g) = self.stop {
            g.pass();
        }
        self.inner.stop()
    }
    fn new_task(&self) -> TaskInstance {
        self.inner.new_task()
    }
}

fn gated_verifiable_source(start: Option<&'static Gate>, stop: Option<&'static Gate>) -> Gated {
    Gated {
        inner: Box::new(
            kconnect_connectors::builtin::verifiable::VerifiableSourceConnector::default(),
        ),
        start,
        stop,
    }
}

pub fn gated_start_source() -> ConnectorPlugin {
    ConnectorPlugin::new("test.GatedStartSource", ConnectorKind::Source, "1", || {
        Box::new(gated_verifiable_source(Some(&START_GATE), None))
    })
}

pub fn gated_stop_source() -> ConnectorPlugin {
    ConnectorPlugin::new("test.GatedStopSource", ConnectorKind::Source, "1", || {
        Box::new(gated_verifiable_source(None, Some(&STOP_GATE)))
    })
}

// ---- A file source on Connect's per-record API that records its commit_record calls. ----

/// (the record's source position, the Kafka offset it landed at) of each `commit_record`.
pub static COMMITTED_RECORDS: Mutex<Vec<(i64, Option<i64>)>> = Mutex::new(Vec::new());

/// Wraps the file source's per-record `poll`, keeping the default `wants_commit_record`
/// (true), as a plugin written against Connect's API does.
pub struct CommitRecordingFileSource {
    inner: Box<dyn SourceTask>,
}

#[async_trait]
impl SourceTask for CommitRecordingFileSource {
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
        let position = record.source_offset["position"].as_i64().unwrap();
        COMMITTED_RECORDS
            .lock()
            .unwrap()
            .push((position, metadata.map(|m| m.offset)));
        Ok(())
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        self.inner.stop().await
    }
}

pub fn commit_recording_file_source() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.CommitRecordingFileSourceConnector",
        ConnectorKind::Source,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSourceConnector::default()),
                wrap: |t| {
                    TaskInstance::Source(Box::new(CommitRecordingFileSource { inner: source(t) }))
                },
            })
        },
    )
}

// ---- A sink that rewinds one partition and pauses another while the runtime reads ahead. ----

/// Partition 0 is rewound to REWIND_TO once a put holds an offset of it at or past REWIND_AT.
pub const REWIND_AT: i64 = 5_000;
pub const REWIND_TO: i64 = 1_000;
/// Partition 1 is paused once a put holds an offset of it at or past PAUSE_AT, and resumed in
/// the PAUSED_PUTS-th put after that.
pub const PAUSE_AT: i64 = 3_000;
pub const PAUSED_PUTS: usize = 4;

/// One `put` as the rewinding sink saw it.
#[derive(Debug, Clone)]
pub struct SeenPut {
    /// (partition, offset) of each record, in order.
    pub records: Vec<(i32, i64)>,
    /// Partition 1 was paused (asked before this put, not resumed yet) when it came.
    pub partition_1_paused: bool,
    /// This put asked for the rewind of partition 0.
    pub rewound: bool,
}

pub static SEEN_PUTS: Mutex<Vec<SeenPut>> = Mutex::new(Vec::new());

#[derive(Default)]
pub struct RewindingPausingSink {
    ctx: Option<SinkTaskContext>,
    rewound: bool,
    /// Puts since partition 1 was paused (`None`: not paused).
    paused_for: Option<usize>,
    pause_done: bool,
}

#[async_trait]
impl SinkTask for RewindingPausingSink {
    async fn start(&mut self, ctx: SinkTaskContext, _props: &Props) -> ConnectResult<()> {
        self.ctx = Some(ctx);
        Ok(())
    }
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        let ctx = self.ctx.as_ref().expect("started");
        let seen: Vec<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
        let rewind = !self.rewound && seen.iter().any(|(p, o)| *p == 0 && *o >= REWIND_AT);
        if rewind {
            ctx.offset(TopicPartition::new(&*records[0].topic, 0), REWIND_TO);
            self.rewound = true;
        }
        let paused = self.paused_for.is_some();
        let topic = records
            .first()
            .map(|r| r.topic.to_string())
            .unwrap_or_default();
        if let Some(n) = self.paused_for.as_mut() {
            *n += 1;
            if *n == PAUSED_PUTS {
                ctx.resume(&[TopicPartition::new(&*topic, 1)]);
                self.paused_for = None;
                self.pause_done = true;
            }
        } else if !self.pause_done && seen.iter().any(|(p, o)| *p == 1 && *o >= PAUSE_AT) {
            ctx.pause(&[TopicPartition::new(&*topic, 1)]);
            self.paused_for = Some(0);
        }
        SEEN_PUTS.lock().unwrap().push(SeenPut {
            records: seen,
            partition_1_paused: paused,
            rewound: rewind,
        });
        Ok(())
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

pub fn rewinding_pausing_sink() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.RewindingPausingSinkConnector",
        ConnectorKind::Sink,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSinkConnector::default()),
                wrap: |_| TaskInstance::Sink(Box::<RewindingPausingSink>::default()),
            })
        },
    )
}

// ---- A sink that records each record's topic and value. ----

/// (topic, value) of every record put, in order.
pub static TOPICS_SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

pub struct TopicRecordingSink;

#[async_trait]
impl SinkTask for TopicRecordingSink {
    async fn start(&mut self, _ctx: SinkTaskContext, _props: &Props) -> ConnectResult<()> {
        Ok(())
    }
    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        let mut seen = TOPICS_SEEN.lock().unwrap();
        for r in records {
            let value = match &r.value {
                kconnect_connectors::data::Value::String(s) => s.clone(),
                v => format!("{v:?}"),
            };
            seen.push((r.topic.to_string(), value));
        }
        Ok(())
    }
    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}

pub fn topic_recording_sink() -> ConnectorPlugin {
    ConnectorPlugin::new(
        "test.TopicRecordingSinkConnector",
        ConnectorKind::Sink,
        "1",
        || {
            Box::new(Wrapped {
                inner: Box::new(FileStreamSinkConnector::default()),
                wrap: |_| TaskInstance::Sink(Box::new(TopicRecordingSink)),
            })
        },
    )
}

/// The built-in plugins plus every test plugin.
pub fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register(panicking_file_source());
    r.register(panicking_file_sink());
    r.register(always_failing_source());
    r.register(recording_verifiable_sink());
    r.register(gated_start_source());
    r.register(gated_stop_source());
    r.register(commit_recording_file_source());
    r.register(rewinding_pausing_sink());
    r.register(topic_recording_sink());
    r
}
