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
///
/// # Example
///
/// A source connector that splits its `files` among its tasks:
///
/// ```
/// use kconnect_connectors::api::{Connector, ConnectorContext, ConnectorKind, Props, TaskInstance};
/// use kconnect_connectors::config::{ConfigDef, ConfigType, Importance};
/// use kconnect_connectors::ConnectResult;
/// # use kconnect_connectors::api::{SourceTask, SourceTaskContext};
/// # use kconnect_connectors::record::SourceRecord;
/// # struct FilesTask;
/// # #[async_trait::async_trait]
/// # impl SourceTask for FilesTask {
/// #     async fn start(&mut self, _: SourceTaskContext, _: &Props) -> ConnectResult<()> { Ok(()) }
/// #     async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> { Ok(Vec::new()) }
/// #     async fn stop(&mut self) -> ConnectResult<()> { Ok(()) }
/// # }
///
/// #[derive(Default)]
/// struct FilesSource {
///     files: Vec<String>,
/// }
///
/// impl Connector for FilesSource {
///     fn version(&self) -> String {
///         "1.0".into()
///     }
///
///     fn kind(&self) -> ConnectorKind {
///         ConnectorKind::Source
///     }
///
///     fn config_def(&self) -> ConfigDef {
///         ConfigDef::new().define(
///             "files",
///             ConfigType::List,
///             None,
///             None,
///             Importance::High,
///             "The files to read",
///         )
///     }
///
///     fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
///         self.files = self.config_def().parse(props)?.list("files")?;
///         Ok(())
///     }
///
///     /// At most `max_tasks` tasks, the files dealt out among them.
///     fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
///         let n = max_tasks.min(self.files.len()).max(1);
///         Ok((0..n)
///             .map(|i| {
///                 let mine: Vec<&str> =
///                     self.files.iter().skip(i).step_by(n).map(String::as_str).collect();
///                 Props::from([("files".to_string(), mine.join(","))])
///             })
///             .collect())
///     }
///
///     fn stop(&mut self) -> ConnectResult<()> {
///         Ok(())
///     }
///
///     fn new_task(&self) -> TaskInstance {
///         TaskInstance::Source(Box::new(FilesTask))
///     }
/// }
///
/// // What the runtime does with it:
/// let (events, _) = tokio::sync::mpsc::unbounded_channel();
/// let mut connector = FilesSource::default();
/// let props = Props::from([("files".to_string(), "a.txt,b.txt,c.txt".to_string())]);
/// connector.start(ConnectorContext::new(events.clone()), &props)?;
/// let configs = connector.task_configs(2)?;
/// assert_eq!(configs.len(), 2);
/// assert_eq!(configs[0]["files"], "a.txt,c.txt");
/// assert_eq!(configs[1]["files"], "b.txt");
///
/// // A config without `files` fails `start`, naming the key.
/// let err = FilesSource::default()
///     .start(ConnectorContext::new(events), &Props::new())
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid config: Missing required configuration \"files\" which has no default value."
/// );
/// # Ok::<(), kconnect_connectors::ConnectError>(())
/// ```
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
