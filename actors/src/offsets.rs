//! Reading and changing a connector's offsets for the REST API (KIP-875): source offsets from
//! the worker's offset store, sink offsets from the connector's consumer group.

use std::sync::Arc;
use std::time::Duration;

use kconnect_connectors::api::ConnectorKind;
use kconnect_connectors::record::OffsetMap;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::config::{ConnectorConfig, SinkTopics};
use crate::context::WorkerContext;
use crate::worker::WorkerError;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One partition's offset as the REST API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorOffset {
    pub partition: OffsetMap,
    /// `None` in an alter request resets the partition.
    pub offset: Option<OffsetMap>,
}

fn obj(v: Value) -> OffsetMap {
    match v {
        Value::Object(m) => m,
        _ => OffsetMap::new(),
    }
}

fn bad(msg: impl Into<String>) -> WorkerError {
    WorkerError::BadRequest(msg.into())
}

fn group_consumer(
    ctx: &WorkerContext,
    config: &ConnectorConfig,
) -> Result<BaseConsumer, WorkerError> {
    let group = config
        .props
        .get("consumer.override.group.id")
        .cloned()
        .unwrap_or_else(|| format!("connect-{}", config.name));
    ClientConfig::new()
        .set("bootstrap.servers", &ctx.bootstrap_servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| WorkerError::Internal(format!("cannot create a consumer: {e}")))
}

/// The partitions of the topics a sink reads.
fn sink_partitions(
    c: &BaseConsumer,
    config: &ConnectorConfig,
) -> Result<TopicPartitionList, WorkerError> {
    let topics = config.sink_topics().map_err(|e| bad(e.to_string()))?;
    let regex = match &topics {
        SinkTopics::Regex(r) => {
            Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| bad(e.to_string()))?)
        }
        SinkTopics::List(_) => None,
    };
    let md = c
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| WorkerError::Internal(format!("cannot fetch metadata: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        let wanted = match (&topics, &regex) {
            (SinkTopics::List(l), _) => l.iter().any(|x| x == t.name()),
            (_, Some(r)) => r.is_match(t.name()),
            _ => false,
        };
        if wanted {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    Ok(tpl)
}

/// The connector's current offsets.
pub fn get(
    ctx: &WorkerContext,
    config: &ConnectorConfig,
    kind: ConnectorKind,
) -> Result<Vec<ConnectorOffset>, WorkerError> {
    if kind == ConnectorKind::Source {
        return Ok(ctx
            .offsets
            .all(&config.name)
            .into_iter()
            .map(|(partition, offset)| ConnectorOffset {
                partition,
                offset: Some(offset),
            })
            .collect());
    }
    let c = group_consumer(ctx, config)?;
    let tpl = sink_partitions(&c, config)?;
    let committed = c
        .committed_offsets(tpl, TIMEOUT)
        .map_err(|e| WorkerError::Internal(format!("cannot read the group's offsets: {e}")))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => Some(ConnectorOffset {
                partition: obj(json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()})),
                offset: Some(obj(json!({ "kafka_offset": o }))),
            }),
            _ => None,
        })
        .collect())
}

/// Writes offsets a user gave; a `None` offset resets its partition. They first go through
/// the connector's [`alter_offsets`](kconnect_connectors::api::Connector::alter_offsets), which
/// may refuse them (nothing is written then) or rewrite them (FileStreamSource keys them by
/// absolute path). Sink resets start the partition over at the
/// broker's earliest offset (what Connect's reset amounts to with the default
/// auto.offset.reset=earliest).
///
/// Async because a source's write goes to the (async) offset store; a sink's consumer-group
/// calls block, so they run on the blocking pool.
pub async fn alter(
    ctx: &Arc<WorkerContext>,
    config: &ConnectorConfig,
    kind: ConnectorKind,
    offsets: Vec<ConnectorOffset>,
) -> Result<(), WorkerError> {
    if kind == ConnectorKind::Source {
        let entries = offsets
            .into_iter()
            .map(|o| (o.partition, o.offset))
            .collect();
        let entries = match ctx.plugins.connector(&config.class) {
            Some(plugin) => plugin
                .create()
                .alter_offsets(&config.props, entries)
                .map_err(|e| bad(e.to_string()))?,
            None => entries,
        };
        return write_source(ctx, config, entries).await;
    }
    let (ctx, config) = (ctx.clone(), config.clone());
    blocking(move || alter_sink(&ctx, &config, offsets)).await
}

/// Runs a blocking call (rdkafka's) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorkerError> + Send + 'static,
) -> Result<T, WorkerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkerError::Internal(e.to_string()))?
}

fn alter_sink(
    ctx: &WorkerContext,
    config: &ConnectorConfig,
    offsets: Vec<ConnectorOffset>,
) -> Result<(), WorkerError> {
    // As Connect: the partitions' shape is checked first, then the connector may refuse
    // (`SinkConnector.alterOffsets`); FileStreamSink accepts any. Nothing is committed before.
    for o in &offsets {
        sink_partition(&o.partition)?;
    }
    let offsets = match ctx.plugins.connector(&config.class) {
        Some(plugin) => plugin
            .create()
            .alter_offsets(
                &config.props,
                offsets
                    .into_iter()
                    .map(|o| (o.partition, o.offset))
                    .collect(),
            )
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .map(|(partition, offset)| ConnectorOffset { partition, offset })
            .collect(),
        None => offsets,
    };
    let c = group_consumer(ctx, config)?;
    let mut tpl = TopicPartitionList::new();
    for o in offsets {
        let (topic, partition) = sink_partition(&o.partition)?;
        let offset = match &o.offset {
            Some(m) => m
                .get("kafka_offset")
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    bad("Sink connector offsets must have a non-negative integer kafka_offset")
                })?,
            None => {
                c.fetch_watermarks(topic, partition, TIMEOUT)
                    .map_err(|e| WorkerError::Internal(format!("cannot read watermarks: {e}")))?
                    .0
            }
        };
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| bad(e.to_string()))?;
    }
    if tpl.count() == 0 {
        return Ok(());
    }
    c.commit(&tpl, CommitMode::Sync)
        .map_err(|e| WorkerError::Internal(format!("cannot commit the group's offsets: {e}")))
}

/// The topic and partition of a sink offset's partition map.
fn sink_partition(partition: &OffsetMap) -> Result<(&str, i32), WorkerError> {
    let topic = partition
        .get("kafka_topic")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Sink connector offsets must have a string kafka_topic in each partition")
        })?;
    let number = partition
        .get("kafka_partition")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            bad("Sink connector offsets must have an integer kafka_partition in each partition")
        })? as i32;
    Ok((topic, number))
}

async fn write_source(
    ctx: &WorkerContext,
    config: &ConnectorConfig,
    entries: Vec<(OffsetMap, Option<OffsetMap>)>,
) -> Result<(), WorkerError> {
    ctx.offsets
        .put(&config.name, entries)
        .await
        .map_err(|e| WorkerError::Internal(e.to_string()))
}

/// Resets every offset of the connector.
pub async fn reset(
    ctx: &Arc<WorkerContext>,
    config: &ConnectorConfig,
    kind: ConnectorKind,
) -> Result<(), WorkerError> {
    let all = {
        let (ctx, config) = (ctx.clone(), config.clone());
        blocking(move || get(&ctx, &config, kind)).await?
    };
    if kind == ConnectorKind::Source {
        // Every stored partition goes, as stored: the connector's alter_offsets would rewrite
        // keys (a FileStreamSource's relative name into an absolute one) and leave some behind.
        let entries = all.into_iter().map(|o| (o.partition, None)).collect();
        return write_source(ctx, config, entries).await;
    }
    let all = all
        .into_iter()
        .map(|o| ConnectorOffset {
            partition: o.partition,
            offset: None,
        })
        .collect();
    alter(ctx, config, kind, all).await
}
