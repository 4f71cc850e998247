use crate::config::{ConfigDef, ConfigValue};
use crate::error::ConnectResult;
use crate::record::OffsetMap;

use super::{ConnectorContext, Props, SinkTask, SourceTask};

/// Whether a connector imports (source) or exports (sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// A source connector: its tasks read an external system and write to Kafka.
    Source,
    /// A sink connector: its tasks read Kafka and write to an external system.
    Sink,
}

impl ConnectorKind {
    /// The lower-case name the REST API uses (`"source"`, `"sink"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Source => "source",
            ConnectorKind::Sink => "sink",
        }
    }
}

/// A fresh task of a connector's task class.
pub enum TaskInstance {
    /// A task of a source connector.
    Source(Box<dyn SourceTask>),
    /// A task of a sink connector.
    Sink(Box<dyn SinkTask>),
}

/// A connector: splits its job into task configs. It moves no data itself.
pub trait Connector: Send + 'static {
    /// The connector's version, as `GET /connector-plugins` lists it.
    fn version(&self) -> String;

    /// Whether this is a source or a sink connector; it must match the registered
    /// [`ConnectorPlugin::kind`](crate::registry::ConnectorPlugin::kind).
    fn kind(&self) -> ConnectorKind;

    /// The keys this connector understands.
    fn config_def(&self) -> ConfigDef;

    /// Validates a full connector config, one result per key. The default checks every key
    /// against [`Connector::config_def`].
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.config_def().validate(props)
    }

    /// Starts the connector. `ctx` lets it ask for task reconfiguration or raise an error later.
    fn start(&mut self, ctx: ConnectorContext, props: &Props) -> ConnectResult<()>;

    /// Returns at most `max_tasks` task configs.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>>;

    /// Stops the connector: releases what `start` acquired. Its tasks are stopped before this is
    /// called.
    fn stop(&mut self) -> ConnectResult<()>;

    /// A new, unstarted task of this connector's task class.
    fn new_task(&self) -> TaskInstance;

    /// Checks, and may rewrite, offsets a user writes (`PATCH /connectors/{c}/offsets`) before
    /// they are stored: the role of Connect's `SourceConnector::alterOffsets` and
    /// `SinkConnector::alterOffsets`, which may refuse them too (an error here answers 400 and
    /// nothing is written). Sink offsets come as Connect's `{"kafka_topic", "kafka_partition"}`
    /// → `{"kafka_offset"}` maps, already checked for that shape. `props` is the connector's
    /// config; a `None` offset removes its partition's. The default stores them as given. Not
    /// called when all offsets are reset.
    fn alter_offsets(
        &self,
        _props: &Props,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> ConnectResult<Vec<(OffsetMap, Option<OffsetMap>)>> {
        Ok(offsets)
    }
}
