//! An example kconnect plugin: a source connector that counts.
//!
//! [`CountingSourceConnector`] (class `com.example.hello.CountingSourceConnector`, also known as
//! `CountingSourceConnector` and `CountingSource`) writes the numbers 1, 2, … `count.to` to
//! `topic`, one record each, value INT64, no key. Its one task remembers how far it counted in
//! its source offset, `{"count": n}` under the source partition `{"counter": "hello"}`, so a
//! restarted worker goes on from there instead of counting again. After `count.to` it idles.
//!
//! [`register`] adds it to a [`PluginRegistry`]; `src/main.rs` builds a kconnect binary with it.

use std::time::Duration;

use async_trait::async_trait;
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SourceTask, SourceTaskContext, TaskInstance,
};
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance, Validator};
use kconnect_connectors::data::{Schema, Value};
use kconnect_connectors::record::{OffsetMap, SourceRecord};
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry};
use kconnect_connectors::{ConnectError, ConnectResult};
use serde_json::Value as Json;

/// The connector's class name, as `connector.class` names it.
pub const CLASS: &str = "com.example.hello.CountingSourceConnector";
/// The topic the numbers go to.
pub const TOPIC_CONFIG: &str = "topic";
/// The last number; the task idles after it.
pub const COUNT_TO_CONFIG: &str = "count.to";

/// The most records one `poll` returns, so that a long count still lets the runtime handle a
/// stop or a commit between polls.
const MAX_BATCH: i64 = 100;
/// How long a `poll` with nothing left to count waits before it returns (empty): the runtime
/// wants an idle `poll` back within about a second.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// Adds the counting source to `plugins`.
pub fn register(plugins: &mut PluginRegistry) {
    plugins.register(ConnectorPlugin::new(
        CLASS,
        ConnectorKind::Source,
        env!("CARGO_PKG_VERSION"),
        || Box::new(CountingSourceConnector::default()),
    ));
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_CONFIG,
            ConfigType::String,
            None,
            Some(Validator::NonEmptyString),
            Importance::High,
            "The topic to write the numbers to",
        )
        .define(
            COUNT_TO_CONFIG,
            ConfigType::Long,
            Some("100"),
            Some(Validator::at_least(0.0)),
            Importance::Medium,
            "The last number to write; the task idles after it",
        )
}

/// The connector: checks its config and hands it, unchanged, to its one task.
#[derive(Debug, Default)]
pub struct CountingSourceConnector {
    props: Props,
}

impl Connector for CountingSourceConnector {
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
        // Refuse a bad config here, where the user sees it as the connector's failure.
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One task whatever `tasks.max` says: one counter cannot be split.
    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(CountingSourceTask::default()))
    }
}

/// The task: writes the next numbers on each `poll`.
#[derive(Debug, Default)]
pub struct CountingSourceTask {
    topic: String,
    count_to: i64,
    /// The last number written (0 before the first).
    count: i64,
    partition: OffsetMap,
}

impl CountingSourceTask {
    /// The source partition every record of the counter carries.
    pub fn source_partition() -> OffsetMap {
        let mut partition = OffsetMap::new();
        partition.insert("counter".into(), Json::from("hello"));
        partition
    }

    fn record(&self, n: i64) -> SourceRecord {
        let mut offset = OffsetMap::new();
        offset.insert("count".into(), Json::from(n));
        SourceRecord::new(
            self.partition.clone(),
            offset,
            self.topic.clone(),
            Some(Schema::int64()),
            Value::Int64(n),
        )
    }
}

#[async_trait]
impl SourceTask for CountingSourceTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        self.topic = config.string(TOPIC_CONFIG)?;
        self.count_to = config.long(COUNT_TO_CONFIG)?;
        self.partition = Self::source_partition();
        // Go on from the last committed number, if any.
        self.count = match ctx.offset_storage_reader().offset(&self.partition) {
            None => 0,
            Some(offset) => offset
                .get("count")
                .and_then(Json::as_i64)
                .ok_or_else(|| ConnectError::data(format!("not a count offset: {offset:?}")))?,
        };
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let last = self.count_to.min(self.count + MAX_BATCH);
        if last <= self.count {
            tokio::time::sleep(IDLE_WAIT).await;
            return Ok(Vec::new());
        }
        let records = (self.count + 1..=last).map(|n| self.record(n)).collect();
        self.count = last;
        Ok(records)
    }

    /// The runtime needs no per-record callback: offsets alone say how far the task got.
    fn wants_commit_record(&self) -> bool {
        false
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
}
