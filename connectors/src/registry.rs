//! Finds plugins by Kafka class name or short alias.
//!
//! As in Connect's `PluginUtils`, a connector class `a.b.FooSinkConnector` is also known by its
//! simple name `FooSinkConnector` and by that name without the `Connector` suffix, `FooSink`.
//! Names match exactly (case-sensitive); an alias two plugins share finds neither.

use crate::api::{Connector, ConnectorKind};
use crate::builtin::{file, postgres, verifiable};
use crate::transforms::{self, Predicate, Transformation};

/// A connector class the worker can instantiate.
#[derive(Debug, Clone)]
pub struct ConnectorPlugin {
    /// The Java-style class name `connector.class` names (`com.example.CountingSourceConnector`).
    pub class_name: &'static str,
    /// The other names the class is found by: its simple name and that name without `Connector`.
    pub aliases: Vec<String>,
    /// Source or sink.
    pub kind: ConnectorKind,
    /// The version `GET /connector-plugins` shows.
    pub version: String,
    factory: fn() -> Box<dyn Connector>,
    /// The task class when it is not the connector's `…Connector` → `…Task` (Confluent's
    /// connectors keep their tasks in other packages).
    task_class: Option<&'static str>,
}

impl ConnectorPlugin {
    /// A plugin with the aliases Connect derives from `class_name`.
    pub fn new(
        class_name: &'static str,
        kind: ConnectorKind,
        version: impl Into<String>,
        factory: fn() -> Box<dyn Connector>,
    ) -> Self {
        ConnectorPlugin {
            class_name,
            aliases: aliases(class_name),
            kind,
            version: version.into(),
            factory,
            task_class: None,
        }
    }

    /// This plugin with the task class its task configs name, where that does not follow from
    /// the connector's class name.
    pub fn with_task_class(mut self, task_class: &'static str) -> Self {
        self.task_class = Some(task_class);
        self
    }

    /// A new, unstarted connector of this class.
    pub fn create(&self) -> Box<dyn Connector> {
        (self.factory)()
    }

    /// The class name without its package.
    pub fn simple_name(&self) -> &'static str {
        simple_name(self.class_name)
    }

    /// The Java class name of the connector's tasks, which Connect's workers store in every task
    /// config as `task.class` and refuse to start a task without: `…Connector` → `…Task`, the
    /// naming every built-in connector (and Connect's own) follows.
    pub fn task_class(&self) -> String {
        if let Some(c) = self.task_class {
            return c.to_string();
        }
        let base = self
            .class_name
            .strip_suffix("Connector")
            .unwrap_or(self.class_name);
        format!("{base}Task")
    }
}

fn simple_name(class_name: &str) -> &str {
    class_name.rsplit('.').next().unwrap_or(class_name)
}

fn aliases(class_name: &str) -> Vec<String> {
    let simple = simple_name(class_name);
    let mut out = Vec::new();
    if simple != class_name {
        out.push(simple.to_string());
    }
    if let Some(short) = simple.strip_suffix("Connector") {
        if !short.is_empty() {
            out.push(short.to_string());
        }
    }
    out
}

/// A single message transform class (`transforms.<alias>.type`).
#[derive(Debug, Clone)]
pub struct TransformationPlugin {
    /// The class name `transforms.<alias>.type` names.
    pub class_name: &'static str,
    /// The other names the class is found by: its simple name and that name without `Connector`.
    pub aliases: Vec<String>,
    /// The version `GET /connector-plugins` shows.
    pub version: String,
    factory: fn() -> Box<dyn Transformation>,
}

impl TransformationPlugin {
    /// A transform with the aliases derived from `class_name`; `factory` makes a new, unconfigured
    /// instance.
    pub fn new(
        class_name: &'static str,
        version: impl Into<String>,
        factory: fn() -> Box<dyn Transformation>,
    ) -> Self {
        TransformationPlugin {
            class_name,
            aliases: aliases(class_name),
            version: version.into(),
            factory,
        }
    }

    /// A new, unconfigured transform of this class.
    pub fn create(&self) -> Box<dyn Transformation> {
        (self.factory)()
    }
}

/// A predicate class (`predicates.<alias>.type`).
#[derive(Debug, Clone)]
pub struct PredicatePlugin {
    /// The class name `predicates.<alias>.type` names.
    pub class_name: &'static str,
    /// The other names the class is found by: its simple name and that name without `Connector`.
    pub aliases: Vec<String>,
    /// The version `GET /connector-plugins` shows.
    pub version: String,
    factory: fn() -> Box<dyn Predicate>,
}

impl PredicatePlugin {
    /// A predicate with the aliases derived from `class_name`; `factory` makes a new, unconfigured
    /// instance.
    pub fn new(
        class_name: &'static str,
        version: impl Into<String>,
        factory: fn() -> Box<dyn Predicate>,
    ) -> Self {
        PredicatePlugin {
            class_name,
            aliases: aliases(class_name),
            version: version.into(),
            factory,
        }
    }

    /// A new, unconfigured predicate of this class.
    pub fn create(&self) -> Box<dyn Predicate> {
        (self.factory)()
    }
}

/// What the registry needs of a plugin to find it by name.
trait Named {
    fn class_name(&self) -> &str;
    fn aliases(&self) -> &[String];
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn class_name(&self) -> &str {
                self.class_name
            }
            fn aliases(&self) -> &[String] {
                &self.aliases
            }
        }
    )*};
}
named!(ConnectorPlugin, TransformationPlugin, PredicatePlugin);

/// The plugin whose class name is `name`, else the one plugin with that alias.
fn find<'a, P: Named>(plugins: &'a [P], name: &str) -> Option<&'a P> {
    if let Some(p) = plugins.iter().find(|p| p.class_name() == name) {
        return Some(p);
    }
    let mut matching = plugins
        .iter()
        .filter(|p| p.aliases().iter().any(|a| a == name));
    match (matching.next(), matching.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

/// Adds `plugin` to `plugins`, replacing any with the same class name.
fn replace<P: Named>(plugins: &mut Vec<P>, plugin: P) {
    plugins.retain(|p| p.class_name() != plugin.class_name());
    plugins.push(plugin);
}

/// The plugins a worker knows: connectors, transforms and predicates.
///
/// # Example
///
/// Registering a connector, a transformation and a predicate of one's own next to the built-ins:
///
/// ```
/// use kconnect_connectors::api::{ConnectorKind, Props};
/// use kconnect_connectors::builtin::file::FileStreamSourceConnector;
/// use kconnect_connectors::config::ConfigDef;
/// use kconnect_connectors::registry::{
///     ConnectorPlugin, PluginRegistry, PredicatePlugin, TransformationPlugin,
/// };
/// use kconnect_connectors::transforms::{ConnectRecord, Outcome, Predicate, Transformation};
/// use kconnect_connectors::ConnectResult;
///
/// /// Upper-cases the topic name.
/// struct UpperTopic;
///
/// impl Transformation for UpperTopic {
///     fn config_def(&self) -> ConfigDef {
///         ConfigDef::new()
///     }
///     fn configure(&mut self, _props: &Props) -> ConnectResult<()> {
///         Ok(())
///     }
///     fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
///         let upper = record.topic().to_uppercase();
///         record.set_topic(&upper);
///         Ok(Outcome::Keep)
///     }
/// }
///
/// /// Matches records without a key.
/// struct NoKey;
///
/// impl Predicate for NoKey {
///     fn config_def(&self) -> ConfigDef {
///         ConfigDef::new()
///     }
///     fn configure(&mut self, _props: &Props) -> ConnectResult<()> {
///         Ok(())
///     }
///     fn test(&self, record: &dyn ConnectRecord) -> bool {
///         record.key().is_null()
///     }
/// }
///
/// let mut plugins = PluginRegistry::builtin();
/// // A connector of one's own (here the file source under another name, for brevity).
/// plugins.register(ConnectorPlugin::new(
///     "com.example.MySourceConnector",
///     ConnectorKind::Source,
///     "1.0",
///     || Box::new(FileStreamSourceConnector::new()),
/// ));
/// plugins.register_transformation(TransformationPlugin::new(
///     "com.example.UpperTopic",
///     "1.0",
///     || Box::new(UpperTopic),
/// ));
/// plugins.register_predicate(PredicatePlugin::new("com.example.NoKey", "1.0", || Box::new(NoKey)));
///
/// // Configs name them by class name or alias, as in Connect
/// // (`connector.class=MySource`, `transforms.up.type=UpperTopic`, `predicates.nokey.type=NoKey`).
/// let connector = plugins.connector("MySource").unwrap();
/// assert_eq!(connector.class_name, "com.example.MySourceConnector");
/// assert_eq!(connector.kind, ConnectorKind::Source);
/// assert_eq!(connector.task_class(), "com.example.MySourceTask");
/// assert!(plugins.transformation("UpperTopic").is_some());
/// assert!(plugins.predicate("NoKey").is_some());
/// assert!(plugins.connector("FileStreamSource").is_some()); // the built-ins are still there
/// ```
#[derive(Debug, Clone, Default)]
pub struct PluginRegistry {
    connectors: Vec<ConnectorPlugin>,
    transformations: Vec<TransformationPlugin>,
    predicates: Vec<PredicatePlugin>,
}

impl PluginRegistry {
    /// A registry with no plugins.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in plugins: FileStream source and sink, Verifiable source and sink, the
    /// PostgreSQL source (also under Confluent's JDBC source class name), and Connect's
    /// transforms and predicates.
    pub fn builtin() -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let mut r = Self::empty();
        r.register(ConnectorPlugin::new(
            file::SOURCE_CLASS,
            ConnectorKind::Source,
            version,
            || Box::new(file::FileStreamSourceConnector::new()),
        ));
        r.register(ConnectorPlugin::new(
            file::SINK_CLASS,
            ConnectorKind::Sink,
            version,
            || Box::new(file::FileStreamSinkConnector::new()),
        ));
        r.register(ConnectorPlugin::new(
            verifiable::SOURCE_CLASS,
            ConnectorKind::Source,
            version,
            || Box::new(verifiable::VerifiableSourceConnector::new()),
        ));
        r.register(ConnectorPlugin::new(
            verifiable::SINK_CLASS,
            ConnectorKind::Sink,
            version,
            || Box::new(verifiable::VerifiableSinkConnector::new()),
        ));
        // The PostgreSQL sink, also under Confluent's JDBC sink class name.
        for class in [
            postgres::sink::SINK_CLASS,
            postgres::sink::CONFLUENT_SINK_CLASS,
        ] {
            r.register(ConnectorPlugin::new(
                class,
                ConnectorKind::Sink,
                version,
                || Box::new(postgres::sink::PostgresSinkConnector::new()),
            ));
        }
        r.register(ConnectorPlugin::new(
            postgres::source::SOURCE_CLASS,
            ConnectorKind::Source,
            version,
            || Box::new(postgres::source::PostgresSourceConnector::new()),
        ));
        r.register(
            ConnectorPlugin::new(
                postgres::source::CONFLUENT_SOURCE_CLASS,
                ConnectorKind::Source,
                version,
                || Box::new(postgres::source::PostgresSourceConnector::new()),
            )
            .with_task_class(postgres::source::CONFLUENT_SOURCE_TASK_CLASS),
        );
        transforms::register_builtins(&mut r, version);
        r
    }

    /// Adds a plugin, replacing any with the same class name.
    pub fn register(&mut self, plugin: ConnectorPlugin) {
        replace(&mut self.connectors, plugin);
    }

    /// Adds a transform, replacing any with the same class name.
    pub fn register_transformation(&mut self, plugin: TransformationPlugin) {
        replace(&mut self.transformations, plugin);
    }

    /// Adds a predicate, replacing any with the same class name.
    pub fn register_predicate(&mut self, plugin: PredicatePlugin) {
        replace(&mut self.predicates, plugin);
    }

    /// The plugin whose class name is `class_or_alias`, else the one plugin with that alias.
    pub fn connector(&self, class_or_alias: &str) -> Option<&ConnectorPlugin> {
        find(&self.connectors, class_or_alias)
    }

    /// The transform whose class name is `class_or_alias`, else the one with that alias.
    pub fn transformation(&self, class_or_alias: &str) -> Option<&TransformationPlugin> {
        find(&self.transformations, class_or_alias)
    }

    /// The predicate whose class name is `class_or_alias`, else the one with that alias.
    pub fn predicate(&self, class_or_alias: &str) -> Option<&PredicatePlugin> {
        find(&self.predicates, class_or_alias)
    }

    /// Every transform, in registration order.
    pub fn transformations(&self) -> &[TransformationPlugin] {
        &self.transformations
    }

    /// Every predicate, in registration order.
    pub fn predicates(&self) -> &[PredicatePlugin] {
        &self.predicates
    }

    /// Every plugin, in registration order.
    pub fn connectors(&self) -> &[ConnectorPlugin] {
        &self.connectors
    }

    /// The class names of every plugin, sorted, for error messages.
    pub fn known_connector_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .connectors
            .iter()
            .map(|p| p.class_name.to_string())
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Props;

    const CLASSES: [&str; 8] = [
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "org.apache.kafka.connect.tools.VerifiableSourceConnector",
        "org.apache.kafka.connect.tools.VerifiableSinkConnector",
        "kconnect.postgres.PostgresSinkConnector",
        "io.confluent.connect.jdbc.JdbcSinkConnector",
        "kconnect.postgres.PostgresSourceConnector",
        "io.confluent.connect.jdbc.JdbcSourceConnector",
    ];

    #[test]
    fn task_classes_are_connect_s() {
        let r = PluginRegistry::builtin();
        let task = |c: &str| r.connector(c).unwrap().task_class();
        assert_eq!(
            task("FileStreamSource"),
            "org.apache.kafka.connect.file.FileStreamSourceTask"
        );
        assert_eq!(
            task("FileStreamSink"),
            "org.apache.kafka.connect.file.FileStreamSinkTask"
        );
        assert_eq!(
            task("VerifiableSource"),
            "org.apache.kafka.connect.tools.VerifiableSourceTask"
        );
        assert_eq!(
            task("JdbcSinkConnector"),
            "io.confluent.connect.jdbc.JdbcSinkTask"
        );
        assert_eq!(task("PostgresSink"), "kconnect.postgres.PostgresSinkTask");
        assert_eq!(
            task("PostgresSource"),
            "kconnect.postgres.PostgresSourceTask"
        );
        // Confluent's task lives in its `source` package.
        assert_eq!(
            task("JdbcSource"),
            "io.confluent.connect.jdbc.source.JdbcSourceTask"
        );
    }

    #[test]
    fn finds_builtins_by_class_and_aliases() {
        let r = PluginRegistry::builtin();
        for class in CLASSES {
            let simple = class.rsplit('.').next().unwrap();
            let short = simple.strip_suffix("Connector").unwrap();
            for name in [class, simple, short] {
                let p = r
                    .connector(name)
                    .unwrap_or_else(|| panic!("{name} not found"));
                assert_eq!(p.class_name, class);
            }
            let p = r.connector(class).unwrap();
            assert_eq!(p.aliases, vec![simple.to_string(), short.to_string()]);
            assert_eq!(p.simple_name(), simple);
            assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
            let connector = p.create();
            assert_eq!(connector.kind(), p.kind);
            let want = if class.contains("Source") {
                ConnectorKind::Source
            } else {
                ConnectorKind::Sink
            };
            assert_eq!(p.kind, want);
        }
    }

    #[test]
    fn names_match_exactly() {
        let r = PluginRegistry::builtin();
        for name in [
            "filestreamsource",
            "FileStreamSourceconnector",
            "FileStream",
            "org.apache.kafka.connect.file.FileStreamSource",
            " FileStreamSource",
            "",
        ] {
            assert!(r.connector(name).is_none(), "{name:?} matched");
        }
    }

    #[test]
    fn lists_known_names_for_error_messages() {
        let r = PluginRegistry::builtin();
        let mut want: Vec<String> = CLASSES.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(r.known_connector_names(), want);
        assert_eq!(r.connectors().len(), CLASSES.len());
    }

    #[test]
    fn an_alias_two_plugins_share_finds_neither() {
        let mut r = PluginRegistry::builtin();
        r.register(ConnectorPlugin::new(
            "com.example.FileStreamSourceConnector",
            ConnectorKind::Source,
            "9.9",
            || Box::new(crate::builtin::file::FileStreamSourceConnector::new()),
        ));
        assert!(r.connector("FileStreamSource").is_none());
        assert!(r.connector("FileStreamSourceConnector").is_none());
        assert_eq!(
            r.connector("com.example.FileStreamSourceConnector")
                .unwrap()
                .version,
            "9.9"
        );
        assert!(r
            .connector("org.apache.kafka.connect.file.FileStreamSourceConnector")
            .is_some());
        // Registering a class again replaces it.
        r.register(ConnectorPlugin::new(
            "com.example.FileStreamSourceConnector",
            ConnectorKind::Source,
            "10.0",
            || Box::new(crate::builtin::file::FileStreamSourceConnector::new()),
        ));
        assert_eq!(r.connectors().len(), CLASSES.len() + 1);
    }

    #[test]
    fn every_builtin_documents_its_keys_and_reports_errors_per_key() {
        let r = PluginRegistry::builtin();
        for p in r.connectors() {
            let connector = p.create();
            let def = connector.config_def();
            assert!(!def.keys().is_empty(), "{}", p.class_name);
            for key in def.keys() {
                assert!(
                    !key.documentation.trim().is_empty(),
                    "{}: {} undocumented",
                    p.class_name,
                    key.name
                );
            }
            // With nothing set, exactly the required keys are in error, each on its own.
            let results = connector.validate(&Props::new());
            assert_eq!(results.len(), def.keys().len());
            for v in results {
                let required = def.key(&v.name).unwrap().required();
                assert_eq!(v.errors.len(), usize::from(required), "{}", v.name);
            }
        }
    }
}
