use crate::config::{ConfigDef, ConfigValue};
use crate::error::ConnectResult;
use crate::record::OffsetMap;

use super::{
    ConnectorContext, ConnectorTransactionBoundaries, ExactlyOnceSupport, Props, SinkTask,
    SourceTask,
};

/// Whether a connector imports (source) or exports (sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    Source,
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
    Source(Box<dyn SourceTask>),
    Sink(Box<dyn SinkTask>),
}

/// A connector: splits its job into task configs. It moves no data itself.
pub trait Connector: Send + 'static {
    fn version(&self) -> String;

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

    /// Source connectors: whether this connector, configured with `props`, delivers exactly
    /// once when its records and offsets are written in one transaction (Connect's
    /// `SourceConnector::exactlyOnceSupport`). `None` (the default) means it does not say, which
    /// fails validation under `exactly.once.support=required`, as `Unsupported` does. Never
    /// asked of sink connectors.
    ///
    /// ```
    /// use kconnect_connectors::api::{ExactlyOnceSupport, Props};
    ///
    /// // In `impl Connector for MySource`:
    /// fn exactly_once_support(props: &Props) -> Option<ExactlyOnceSupport> {
    ///     Some(if props.contains_key("file") {
    ///         ExactlyOnceSupport::Supported
    ///     } else {
    ///         ExactlyOnceSupport::Unsupported
    ///     })
    /// }
    /// let props = Props::from([("file".to_string(), "/tmp/in".to_string())]);
    /// assert_eq!(exactly_once_support(&props), Some(ExactlyOnceSupport::Supported));
    /// ```
    fn exactly_once_support(&self, _props: &Props) -> Option<ExactlyOnceSupport> {
        None
    }

    /// Source connectors: whether this connector's tasks, configured with `props`, define their
    /// own transaction boundaries through their
    /// [`TransactionContext`](super::TransactionContext) (Connect's
    /// `SourceConnector::canDefineTransactionBoundaries`). `transaction.boundary=connector`
    /// fails validation unless it says `Supported`. Never asked of sink connectors.
    ///
    /// ```
    /// use kconnect_connectors::api::{ConnectorTransactionBoundaries, Props};
    ///
    /// // In `impl Connector for MySource`:
    /// fn can_define_transaction_boundaries(_: &Props) -> ConnectorTransactionBoundaries {
    ///     ConnectorTransactionBoundaries::Supported
    /// }
    /// assert_eq!(
    ///     can_define_transaction_boundaries(&Props::new()),
    ///     ConnectorTransactionBoundaries::Supported
    /// );
    /// ```
    fn can_define_transaction_boundaries(&self, _props: &Props) -> ConnectorTransactionBoundaries {
        ConnectorTransactionBoundaries::Unsupported
    }
}
