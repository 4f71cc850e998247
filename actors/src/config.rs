//! Worker and connector configs: Connect's keys, parsed once with `ConfigDef`, plus kconnect's
//! own restart-policy keys. Client configs for rdkafka are assembled here too.

use std::collections::BTreeMap;
use std::time::Duration;

use kconnect_connectors::api::Props;
use kconnect_connectors::config::{
    ConfigDef, ConfigType, Importance, ParsedConfig, ParsedValue, Validator, Width,
};
use kconnect_connectors::transforms::chain;
use kconnect_connectors::ConnectError;

use crate::restart::RestartPolicy;
use thiserror::Error;

pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
/// The `bootstrap.servers` value that asks for the embedded broker.
pub const EMBEDDED: &str = "embedded";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const OFFSET_FILE: &str = "offset.storage.file.filename";
pub const OFFSET_FLUSH_INTERVAL_MS: &str = "offset.flush.interval.ms";
pub const OFFSET_FLUSH_TIMEOUT_MS: &str = "offset.flush.timeout.ms";
pub const SHUTDOWN_TIMEOUT_MS: &str = "task.shutdown.graceful.timeout.ms";
pub const LISTENERS: &str = "listeners";
pub const PLUGIN_PATH: &str = "plugin.path";
pub const RESTART_INITIAL_MS: &str = "task.restart.backoff.initial.ms";
pub const RESTART_MAX_BACKOFF_MS: &str = "task.restart.backoff.max.ms";
pub const RESTART_JITTER: &str = "task.restart.backoff.jitter";
pub const RESTART_MAX_RESTARTS: &str = "task.restart.max.restarts";
pub const RESTART_WINDOW_MS: &str = "task.restart.window.ms";

pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

fn restart_keys(def: ConfigDef, with_defaults: bool) -> ConfigDef {
    let d = |v: &'static str| if with_defaults { Some(v) } else { None };
    let def = if with_defaults {
        def
    } else {
        // Per-connector overrides: absent means "use the worker's value".
        let o = |def: ConfigDef, key: &str, ty: ConfigType, v: Validator| {
            def.define_optional(
                key,
                ty,
                Importance::Low,
                &format!("Overrides the worker's {key}."),
            )
            .with_validator(v)
        };
        let def = o(
            def,
            RESTART_INITIAL_MS,
            ConfigType::Long,
            Validator::at_least(0.0),
        );
        let def = o(
            def,
            RESTART_MAX_BACKOFF_MS,
            ConfigType::Long,
            Validator::at_least(0.0),
        );
        let def = o(
            def,
            RESTART_JITTER,
            ConfigType::Double,
            Validator::between(0.0, 1.0),
        );
        let def = o(
            def,
            RESTART_MAX_RESTARTS,
            ConfigType::Int,
            Validator::at_least(-1.0),
        );
        return o(
            def,
            RESTART_WINDOW_MS,
            ConfigType::Long,
            Validator::at_least(1.0),
        );
    };
    def.define(
        RESTART_INITIAL_MS,
        ConfigType::Long,
        d("20"),
        Some(Validator::at_least(0.0)),
        Importance::Low,
        "Delay before the first restart of a failed task or connector; each further restart \
         within the window doubles it.",
    )
    .define(
        RESTART_MAX_BACKOFF_MS,
        ConfigType::Long,
        d("30000"),
        Some(Validator::at_least(0.0)),
        Importance::Low,
        "Upper bound of the restart delay.",
    )
    .define(
        RESTART_JITTER,
        ConfigType::Double,
        d("0.2"),
        Some(Validator::between(0.0, 1.0)),
        Importance::Low,
        "Fraction of the delay added or removed at random, so that tasks failing together do \
         not restart in lockstep.",
    )
    .define(
        RESTART_MAX_RESTARTS,
        ConfigType::Int,
        d("10"),
        Some(Validator::at_least(-1.0)),
        Importance::Medium,
        "How many restarts a task or connector gets within task.restart.window.ms; one more \
         failure marks it FAILED with its error trace. -1: restart for ever.",
    )
    .define(
        RESTART_WINDOW_MS,
        ConfigType::Long,
        d("300000"),
        Some(Validator::at_least(1.0)),
        Importance::Low,
        "The sliding window over which restarts are counted.",
    )
}

/// The keys of a standalone worker config.
pub fn worker_config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            BOOTSTRAP_SERVERS,
            ConfigType::List,
            Some(EMBEDDED),
            None,
            Importance::High,
            "Kafka brokers to connect to. Absent or `embedded`: start the in-process embedded \
             broker (librdkafka's mock cluster, in memory only).",
        )
        .define(
            KEY_CONVERTER,
            ConfigType::Class,
            Some(JSON_CONVERTER),
            None,
            Importance::High,
            "Converter class for record keys.",
        )
        .define(
            VALUE_CONVERTER,
            ConfigType::Class,
            Some(JSON_CONVERTER),
            None,
            Importance::High,
            "Converter class for record values.",
        )
        .define(
            HEADER_CONVERTER,
            ConfigType::Class,
            Some(SIMPLE_HEADER_CONVERTER),
            None,
            Importance::Low,
            "Converter class for header values: SimpleHeaderConverter (values as text, schemas \
             inferred when read) or any record converter.",
        )
        .define_optional(
            OFFSET_FILE,
            ConfigType::String,
            Importance::High,
            "File that stores source connector offsets (standalone mode).",
        )
        .define(
            OFFSET_FLUSH_INTERVAL_MS,
            ConfigType::Long,
            Some("60000"),
            Some(Validator::at_least(1.0)),
            Importance::Low,
            "Interval at which to commit task offsets.",
        )
        .define(
            OFFSET_FLUSH_TIMEOUT_MS,
            ConfigType::Long,
            Some("5000"),
            Some(Validator::at_least(1.0)),
            Importance::Low,
            "How long to wait for records to be acknowledged when committing offsets.",
        )
        .define(
            SHUTDOWN_TIMEOUT_MS,
            ConfigType::Long,
            Some("5000"),
            Some(Validator::at_least(0.0)),
            Importance::Low,
            "How long tasks get to stop cleanly before they are abandoned.",
        )
        .define(
            LISTENERS,
            ConfigType::List,
            Some("http://127.0.0.1:8083"),
            None,
            Importance::Low,
            "REST listeners. kconnect binds loopback by default.",
        )
        .define(
            crate::topic_creation::TOPIC_CREATION_ENABLE,
            ConfigType::Boolean,
            Some("true"),
            None,
            Importance::Low,
            "Whether source connectors that configure topic.creation.* may create the topics \
             they write to (KIP-158).",
        )
        .define(
            crate::config_providers::CONFIG_PROVIDERS,
            ConfigType::List,
            Some(""),
            None,
            Importance::Low,
            "Names of config providers, each configured with config.providers.<name>.class \
             (FileConfigProvider, DirectoryConfigProvider, EnvVarConfigProvider) and \
             config.providers.<name>.param.*; `${<name>:<path>:<key>}` in worker and connector \
             configs refers to their data.",
        )
        .define_optional(
            PLUGIN_PATH,
            ConfigType::List,
            Importance::Low,
            "Accepted for compatibility; kconnect's plugins are built in.",
        )
        .define(
            CLIENT_OVERRIDE_POLICY,
            ConfigType::String,
            Some("All"),
            Some(Validator::custom("All, None or Principal", |v| match v {
                kconnect_connectors::config::ParsedValue::String(s) => {
                    let props = Props::from([(CLIENT_OVERRIDE_POLICY.to_string(), s.clone())]);
                    OverridePolicy::of(&props)
                        .map(|_| ())
                        .map_err(|_| "must be All, None or Principal".to_string())
                }
                _ => Ok(()),
            })),
            Importance::Medium,
            "Which client keys connectors may override with producer.override.*, \
             consumer.override.* and admin.override.*: All, None, or Principal (only \
             sasl.jaas.config, sasl.mechanism and security.protocol).",
        );
    restart_keys(def, true)
}

/// A parsed worker config.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Every key as given, for client and converter settings.
    pub props: Props,
    pub bootstrap_servers: String,
    pub key_converter: String,
    pub value_converter: String,
    pub header_converter: String,
    pub offset_file: Option<String>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub restart: RestartPolicy,
    pub listeners: Vec<String>,
    /// `topic.creation.enable`: source connectors may create their topics.
    pub topic_creation_enable: bool,
    /// `config.providers`: what resolves `${provider:path:key}` in connector configs.
    pub providers: crate::config_providers::ConfigProviders,
}

impl WorkerConfig {
    /// Parses a worker config as written: its `${provider:…}` variables are resolved first,
    /// with the providers it configures itself (see [`crate::config_providers`]), and `props`
    /// holds the resolved values.
    pub fn parse(raw: Props) -> Result<Self, ConnectError> {
        let providers = crate::config_providers::ConfigProviders::from_worker_config(&raw)
            .map_err(|e| ConnectError::config(e.to_string()))?;
        let props = providers
            .resolve(&raw)
            .strict()
            .map_err(|e| ConnectError::config(e.to_string()))?;
        let p = worker_config_def().parse(&props)?;
        let bootstrap = p.list(BOOTSTRAP_SERVERS)?.join(",");
        Ok(WorkerConfig {
            bootstrap_servers: if bootstrap.is_empty() {
                EMBEDDED.into()
            } else {
                bootstrap
            },
            key_converter: p.string(KEY_CONVERTER)?,
            value_converter: p.string(VALUE_CONVERTER)?,
            header_converter: p.string(HEADER_CONVERTER)?,
            offset_file: p.opt_string(OFFSET_FILE),
            offset_flush_interval: ms(p.long(OFFSET_FLUSH_INTERVAL_MS)?),
            offset_flush_timeout: ms(p.long(OFFSET_FLUSH_TIMEOUT_MS)?),
            shutdown_timeout: ms(p.long(SHUTDOWN_TIMEOUT_MS)?),
            restart: restart_policy(&p, &RestartPolicy::default())?,
            listeners: p.list(LISTENERS)?,
            topic_creation_enable: p.boolean(crate::topic_creation::TOPIC_CREATION_ENABLE)?,
            providers,
            props,
        })
    }

    pub fn uses_embedded_broker(&self) -> bool {
        self.bootstrap_servers == EMBEDDED
    }

    /// Keys given with `prefix` (for example `producer.`), the prefix removed.
    pub fn prefixed(&self, prefix: &str) -> Props {
        prefixed(&self.props, prefix)
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

pub(crate) fn prefixed(props: &Props, prefix: &str) -> Props {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
        .collect()
}

fn restart_policy(p: &ParsedConfig, base: &RestartPolicy) -> Result<RestartPolicy, ConnectError> {
    let long = |k: &str, d: Duration| -> Result<Duration, ConnectError> {
        Ok(if p.has(k) { ms(p.long(k)?) } else { d })
    };
    Ok(RestartPolicy {
        initial_backoff: long(RESTART_INITIAL_MS, base.initial_backoff)?,
        max_backoff: long(RESTART_MAX_BACKOFF_MS, base.max_backoff)?,
        jitter: if p.has(RESTART_JITTER) {
            p.double(RESTART_JITTER)?
        } else {
            base.jitter
        },
        max_restarts: if p.has(RESTART_MAX_RESTARTS) {
            // -1: no limit (a deliberately faulty test setup restarts for ever).
            u32::try_from(p.int(RESTART_MAX_RESTARTS)?).unwrap_or(u32::MAX)
        } else {
            base.max_restarts
        },
        window: long(RESTART_WINDOW_MS, base.window)?,
    })
}

pub const NAME: &str = "name";
/// The longest connector name accepted, in bytes of UTF-8. Connect sets no limit, but a
/// connector is managed at `/connectors/{name}/…`, and a name percent-encoded takes up to three
/// characters a byte: 2,000 bytes leave a request line of at most about 6,100 characters, within
/// the 8 KiB that Jetty (Connect's server), nginx and Apache httpd accept by default, so a
/// connector created here can be deleted through any of them.
pub const MAX_NAME_BYTES: usize = 2000;
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const TRANSFORMS: &str = chain::TRANSFORMS;
pub const ERRORS_TOLERANCE: &str = "errors.tolerance";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";
pub const TOPIC_CREATION_PARTITIONS: &str = "topic.creation.default.partitions";
pub const PREDICATES: &str = chain::PREDICATES;
pub const CONFIG_ACTION_RELOAD: &str = "config.action.reload";
pub const ERRORS_RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub const ERRORS_RETRY_DELAY_MAX_MS: &str = "errors.retry.delay.max.ms";
pub const ERRORS_LOG_ENABLE: &str = "errors.log.enable";
pub const ERRORS_LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
pub const DLQ_TOPIC_NAME: &str = "errors.deadletterqueue.topic.name";
pub const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
pub const DLQ_CONTEXT_HEADERS_ENABLE: &str = "errors.deadletterqueue.context.headers.enable";
/// Connect's `ConnectorConfig` group of the `errors.*` keys.
pub const ERROR_GROUP: &str = "Error Handling";
/// The worker's policy for connectors' `producer.override.*` / `consumer.override.*` /
/// `admin.override.*` keys (see [`OverridePolicy`]).
pub const CLIENT_OVERRIDE_POLICY: &str = "connector.client.config.override.policy";

/// Connect's `SimpleHeaderConverter`, the default header converter.
pub use kconnect_connectors::converters::SIMPLE_HEADER_CONVERTER;

/// A converter class must be one kconnect has, as Connect's CLASS keys must name a class on
/// the plugin path ("Class … could not be found."). Header converters may also be the
/// `SimpleHeaderConverter`.
fn converter_class_validator(header: bool) -> Validator {
    use kconnect_connectors::converters::{converter_class_name, header_converter_class_name};
    Validator::custom("a converter class", move |v| match v {
        kconnect_connectors::config::ParsedValue::Class(class)
        | kconnect_connectors::config::ParsedValue::String(class) => {
            let known = if header {
                header_converter_class_name(class).is_some()
            } else {
                converter_class_name(class).is_some()
            };
            if known {
                Ok(())
            } else {
                Err(format!("Class {} could not be found.", class.trim()))
            }
        }
        _ => Ok(()),
    })
}

/// Connect's `ConnectorClientConfigOverridePolicy`: which client keys a connector may
/// override with `producer.override.*`, `consumer.override.*` and `admin.override.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Any key (Connect's default since 3.0).
    All,
    /// None at all.
    None,
    /// Only the client's identity: `sasl.jaas.config`, `sasl.mechanism`, `security.protocol`.
    Principal,
}

impl OverridePolicy {
    /// The policy a worker config names (Connect's alias or class name); `All` by default.
    pub fn of(props: &Props) -> Result<Self, ConnectError> {
        let Some(raw) = props.get(CLIENT_OVERRIDE_POLICY) else {
            return Ok(OverridePolicy::All);
        };
        let simple = raw.trim().rsplit('.').next().unwrap_or_default();
        let simple = simple
            .strip_suffix("ConnectorClientConfigOverridePolicy")
            .unwrap_or(simple);
        match simple {
            "All" => Ok(OverridePolicy::All),
            "None" => Ok(OverridePolicy::None),
            "Principal" => Ok(OverridePolicy::Principal),
            _ => Err(ConnectError::config(format!(
                "Invalid value {raw} for configuration {CLIENT_OVERRIDE_POLICY}: must be All, \
                 None or Principal (or its ConnectorClientConfigOverridePolicy class)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OverridePolicy::All => "All",
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
        }
    }

    /// Whether a connector may set `key` (without its `<client>.override.` prefix).
    pub fn allows(self, key: &str) -> bool {
        match self {
            OverridePolicy::All => true,
            OverridePolicy::None => false,
            OverridePolicy::Principal => {
                ["sasl.jaas.config", "sasl.mechanism", "security.protocol"].contains(&key)
            }
        }
    }
}

/// Why a connector name is refused; the texts are Connect's (and kconnect's for the length).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BadName {
    #[error("String may not be empty")]
    Empty,
    /// The code points of the control characters, in order.
    #[error(
        "String may not contain control sequences but had the following ASCII chars: {}",
        .0.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    )]
    ControlChars(Vec<u32>),
    #[error(
        "Connector names may be at most {MAX_NAME_BYTES} bytes long in UTF-8 (this one has {0}), \
         so that requests naming them fit in a URL"
    )]
    TooLong(usize),
}

/// A connector name (already trimmed) as Connect's `NonEmptyStringWithoutControlChars` checks
/// it, with Connect's messages, and at most [`MAX_NAME_BYTES`] long (kconnect's own limit).
pub fn check_name(name: &str) -> Result<(), BadName> {
    if name.is_empty() {
        return Err(BadName::Empty);
    }
    // Java's `Character.isISOControl` is Unicode's Cc category, as is `char::is_control`.
    let control: Vec<u32> = name
        .chars()
        .filter(|c| c.is_control())
        .map(u32::from)
        .collect();
    if !control.is_empty() {
        return Err(BadName::ControlChars(control));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(BadName::TooLong(name.len()));
    }
    Ok(())
}

/// The keys every connector has (Connect's `ConnectorConfig`), before its own.
pub fn connector_config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            NAME,
            ConfigType::String,
            None,
            Some(Validator::custom(
                "non-empty string without ISO control characters",
                |v| match v {
                    ParsedValue::String(s) => check_name(s).map_err(|e| e.to_string()),
                    _ => Ok(()),
                },
            )),
            Importance::High,
            "Globally unique name to use for this connector.",
        )
        .define(
            CONNECTOR_CLASS,
            ConfigType::String,
            None,
            None,
            Importance::High,
            "Name or alias of the class for this connector.",
        )
        .define(
            TASKS_MAX,
            ConfigType::Int,
            Some("1"),
            Some(Validator::at_least(1.0)),
            Importance::High,
            "Maximum number of tasks to use for this connector.",
        )
        .define_optional(
            KEY_CONVERTER,
            ConfigType::Class,
            Importance::Low,
            "Overrides the worker's key.converter.",
        )
        .with_validator(converter_class_validator(false))
        .define_optional(
            VALUE_CONVERTER,
            ConfigType::Class,
            Importance::Low,
            "Overrides the worker's value.converter.",
        )
        .with_validator(converter_class_validator(false))
        .define_optional(
            HEADER_CONVERTER,
            ConfigType::Class,
            Importance::Low,
            "Overrides the worker's header.converter.",
        )
        .with_validator(converter_class_validator(true))
        .define(
            TRANSFORMS,
            ConfigType::List,
            Some(""),
            Some(chain::unique_aliases("transformation")),
            Importance::Low,
            "Aliases for the transformations to be applied to records.",
        )
        .in_group(chain::TRANSFORMS_GROUP, Width::Long, "Transforms")
        .define(
            PREDICATES,
            ConfigType::List,
            Some(""),
            Some(chain::unique_aliases("predicate")),
            Importance::Low,
            "Aliases for the predicates used by transformations.",
        )
        .in_group(chain::PREDICATES_GROUP, Width::Long, "Predicates")
        .define(
            CONFIG_ACTION_RELOAD,
            ConfigType::String,
            Some("restart"),
            Some(Validator::one_of(&["none", "restart"])),
            Importance::Low,
            "What to do when a config provider's data changes: `restart` or `none`. Validated \
             as in Connect. The built-in providers report no TTL, so, as in Connect, nothing \
             reloads by itself; variables are resolved again whenever the connector or a task \
             (re)starts.",
        )
        .define(
            ERRORS_RETRY_TIMEOUT,
            ConfigType::Long,
            Some("0"),
            None,
            Importance::Medium,
            "How long, in milliseconds, an operation on a record (conversion, transformation) \
             that fails with a retriable error is tried again, with an exponential backoff. 0 \
             (the default): never; -1: for ever.",
        )
        .in_group(ERROR_GROUP, Width::Medium, "Retry Timeout for Errors")
        .define(
            ERRORS_RETRY_DELAY_MAX_MS,
            ConfigType::Long,
            Some("60000"),
            None,
            Importance::Medium,
            "The longest wait, in milliseconds, between two retries of a failed operation; \
             once the doubling backoff would pass it, a random wait below it.",
        )
        .in_group(
            ERROR_GROUP,
            Width::Medium,
            "Maximum Delay Between Retries for Errors",
        )
        .define(
            ERRORS_TOLERANCE,
            ConfigType::String,
            Some("none"),
            Some(Validator::one_of(&["none", "all"])),
            Importance::Medium,
            "`none` (the default): a record whose conversion or transformation fails (or that \
             a sink task reports) fails the task. `all`: such records are skipped, counted, \
             and reported to the error log and dead letter queue where configured.",
        )
        .in_group(ERROR_GROUP, Width::Short, "Error Tolerance")
        .define(
            ERRORS_LOG_ENABLE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Log each failed operation (stage, class, and with errors.log.include.messages the \
             record) at ERROR. Without it a tolerated failure is logged at DEBUG only.",
        )
        .in_group(ERROR_GROUP, Width::Short, "Log Errors")
        .define(
            ERRORS_LOG_INCLUDE_MESSAGES,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Include the failed record in error log lines: a sink record's topic, partition, \
             offset and timestamp; a source record's fields. Off by default, so that no data \
             reaches the log.",
        )
        .in_group(ERROR_GROUP, Width::Short, "Log Error Details")
        .define_optional(
            TOPIC_CREATION_PARTITIONS,
            ConfigType::Int,
            Importance::Low,
            "Partitions of the topics this source connector creates (KIP-158; with \
             topic.creation.default.replication.factor, see topic_creation.rs). -1: the \
             broker's default.",
        )
        .define_optional(
            crate::topic_creation::DEFAULT_REPLICATION_FACTOR,
            ConfigType::Int,
            Importance::Low,
            "Replication factor of the topics this source connector creates (KIP-158). -1: the \
             broker's default.",
        )
        .define_optional(
            crate::topic_creation::GROUPS,
            ConfigType::List,
            Importance::Low,
            "Topic creation groups besides `default`, each with topic.creation.<group>.include, \
             .exclude, .partitions, .replication.factor and topic configs.",
        );
    crate::task::faults::fault_keys(restart_keys(def, false))
}

/// Connect's `SinkConnectorConfig`: the common keys plus `topics` and `topics.regex`.
pub fn sink_connector_config_def() -> ConfigDef {
    connector_config_def()
        .define(
            TOPICS,
            ConfigType::List,
            Some(""),
            None,
            Importance::High,
            "List of topics to consume, separated by commas.",
        )
        .define(
            TOPICS_REGEX,
            ConfigType::String,
            Some(""),
            None,
            Importance::High,
            "Regular expression giving topics to consume. Only one of topics or topics.regex \
             should be specified.",
        )
        .define(
            DLQ_TOPIC_NAME,
            ConfigType::String,
            Some(""),
            None,
            Importance::Medium,
            "The topic a sink connector writes the records that fail (conversion, \
             transformation, or reported by the task) to, as they were consumed. Blank (the \
             default): no dead letter queue.",
        )
        .in_group(ERROR_GROUP, Width::Medium, "Dead Letter Queue Topic Name")
        .define(
            DLQ_REPLICATION_FACTOR,
            ConfigType::Int,
            Some("3"),
            Some(Validator::between(-1.0, f64::from(i16::MAX))),
            Importance::Medium,
            "Replication factor of the dead letter queue topic when the task creates it (it \
             does when the topic is missing, with one partition).",
        )
        .in_group(
            ERROR_GROUP,
            Width::Medium,
            "Dead Letter Queue Topic Replication Factor",
        )
        .define(
            DLQ_CONTEXT_HEADERS_ENABLE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Add headers with the error's context to dead letter queue records, all named \
             `__connect.errors.*`: the record's topic, partition and offset, the connector, \
             task, stage, class, and the exception's class, message and stack trace.",
        )
        .in_group(ERROR_GROUP, Width::Medium, "Enable Error Context Headers")
}

/// Connect's `SinkConnectorConfig.validate` of the dead letter queue topic: a sink may not
/// consume its own dead letter queue.
pub fn dlq_topic_error(props: &Props) -> Option<String> {
    let dlq = props
        .get(DLQ_TOPIC_NAME)
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())?;
    match sink_topics(props).ok()? {
        SinkTopics::List(topics) if topics.iter().any(|t| t == dlq) => Some(format!(
            "The DLQ topic '{dlq}' may not be included in the list of topics ('{TOPICS}={}') \
             consumed by the connector",
            topics.join(",")
        )),
        // A full match, as Java's `Matcher.matches`.
        SinkTopics::Regex(re)
            if regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|r| r.is_match(dlq)) =>
        {
            Some(format!(
                "The DLQ topic '{dlq}' may not be included in the regex matching the topics \
                 ('{TOPICS_REGEX}={re}') consumed by the connector"
            ))
        }
        _ => None,
    }
}

/// Which records a sink task consumes.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkTopics {
    List(Vec<String>),
    Regex(String),
}

/// The topics a sink config names: exactly one of `topics` and `topics.regex` must be set.
pub fn sink_topics(props: &Props) -> Result<SinkTopics, ConnectError> {
    let list: Vec<String> = props
        .get(TOPICS)
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let regex = props
        .get(TOPICS_REGEX)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    match (list.is_empty(), regex) {
        (false, None) => Ok(SinkTopics::List(list)),
        (true, Some(r)) => Ok(SinkTopics::Regex(r)),
        (false, Some(_)) => Err(ConnectError::config(format!(
            "{TOPICS} and {TOPICS_REGEX} are mutually exclusive options, but both are set."
        ))),
        (true, None) => Err(ConnectError::config(format!(
            "Must configure one of {TOPICS} or {TOPICS_REGEX}"
        ))),
    }
}

/// The parsed common part of a connector config.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    pub tasks_max: usize,
    pub props: Props,
    pub key_converter: Option<String>,
    pub value_converter: Option<String>,
    pub header_converter: Option<String>,
    pub errors_tolerance_all: bool,
    /// Every `errors.*` key (the tolerance again among them).
    pub errors: crate::task::errors::ErrorSettings,
    pub restart: RestartPolicy,
    /// `faults.*` settings; `None` unless one is given.
    pub faults: Option<crate::task::faults::FaultConfig>,
}

impl ConnectorConfig {
    /// Parses the common keys; `worker_restart` supplies the restart policy's defaults.
    pub fn parse(props: Props, worker_restart: &RestartPolicy) -> Result<Self, ConnectError> {
        // The transforms' own keys are checked where the registry is at hand: by validation,
        // and by each task when it builds its chain.
        let p = connector_config_def().parse(&props)?;
        Ok(ConnectorConfig {
            name: p.string(NAME)?,
            class: p.string(CONNECTOR_CLASS)?,
            tasks_max: p.int(TASKS_MAX)? as usize,
            key_converter: p.opt_string(KEY_CONVERTER),
            value_converter: p.opt_string(VALUE_CONVERTER),
            header_converter: p.opt_string(HEADER_CONVERTER),
            errors_tolerance_all: p.string(ERRORS_TOLERANCE)? == "all",
            errors: crate::task::errors::ErrorSettings::parse(&p, &props)?,
            restart: restart_policy(&p, worker_restart)?,
            faults: crate::task::faults::FaultConfig::parse(&props)?,
            props,
        })
    }

    /// The topics a sink consumes: exactly one of `topics` and `topics.regex` must be set.
    pub fn sink_topics(&self) -> Result<SinkTopics, ConnectError> {
        sink_topics(&self.props)
    }

    /// Keys given with `prefix`, the prefix removed.
    pub fn prefixed(&self, prefix: &str) -> Props {
        prefixed(&self.props, prefix)
    }
}

/// librdkafka settings of the worker's own clients (internal topics, the broker watch): the
/// Kafka client keys given at the top level of the worker config (security settings, mostly),
/// as Connect passes them, and `bootstrap`.
pub fn worker_client_props(worker: &WorkerConfig, bootstrap: &str) -> Vec<(String, String)> {
    let mut props = worker.props.clone();
    props.insert(BOOTSTRAP_SERVERS.into(), bootstrap.into());
    let security = crate::cluster::security::librdkafka_client_props(&props);
    const CLIENT_KEYS: &[&str] = &[
        BOOTSTRAP_SERVERS,
        "security.protocol",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
    ];
    security
        .into_iter()
        .filter(|(k, _)| CLIENT_KEYS.contains(&k.as_str()))
        .collect()
}

/// librdkafka settings of a connector's admin client (source topic creation), as Connect builds
/// them: the worker's top-level client keys (security), then its `admin.*` keys, then the
/// connector's `admin.override.*` keys.
pub fn admin_client_props(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    bootstrap: &str,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        worker_client_props(worker, bootstrap).into_iter().collect();
    // The base is already in librdkafka's spelling; prefixed keys may use either, and are
    // rewritten below.
    out.extend(worker.prefixed("admin."));
    out.extend(connector.prefixed("admin.override."));
    crate::cluster::security::librdkafka_client_props(&out)
}

/// An rdkafka client config: the worker's `<client>.` keys, then the connector's
/// `<client>.override.` keys, then the settings the runtime relies on.
pub fn client_props(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    client: &str,
    bootstrap: &str,
    required: &[(&str, String)],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(BOOTSTRAP_SERVERS.to_string(), bootstrap.to_string());
    out.extend(worker.prefixed(&format!("{client}.")));
    out.extend(connector.prefixed(&format!("{client}.override.")));
    for (k, v) in required {
        out.insert(k.to_string(), v.clone());
    }
    // `producer.sasl.jaas.config` and friends, as Connect users write them.
    crate::cluster::security::librdkafka_client_props(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_control_characters_and_length_in_bytes() {
        assert_eq!(check_name(""), Err(BadName::Empty));
        assert_eq!(
            check_name("").unwrap_err().to_string(),
            "String may not be empty"
        );
        let e = check_name("a\nb\u{9f}").unwrap_err();
        assert_eq!(e, BadName::ControlChars(vec![10, 159]));
        assert_eq!(
            e.to_string(),
            "String may not contain control sequences but had the following ASCII chars: 10, 159"
        );
        assert_eq!(check_name(&"é".repeat(MAX_NAME_BYTES / 2)), Ok(()));
        let e = check_name(&"é".repeat(MAX_NAME_BYTES / 2 + 1)).unwrap_err();
        assert_eq!(e, BadName::TooLong(MAX_NAME_BYTES + 2));
        assert!(e.to_string().contains("at most 2000 bytes"), "{e}");
        // Through the config definition, on the trimmed value.
        let props: Props = [("name", " spaced "), ("connector.class", "X")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let c = ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap();
        assert_eq!(c.name, "spaced");
    }

    #[test]
    fn a_connector_restart_override_is_validated() {
        let props: Props = [
            ("name", "c"),
            ("connector.class", "FileStreamSource"),
            (RESTART_JITTER, "NaN"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap_err();
        assert!(e.to_string().contains(RESTART_JITTER), "{e}");
    }

    #[test]
    fn minus_one_restarts_means_no_limit_and_below_is_refused() {
        let with = |v: &str| -> Props {
            [
                ("name", "c"),
                ("connector.class", "FileStreamSource"),
                (RESTART_MAX_RESTARTS, v),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let c = ConnectorConfig::parse(with("-1"), &RestartPolicy::default()).unwrap();
        assert_eq!(c.restart.max_restarts, u32::MAX);
        let e = ConnectorConfig::parse(with("-2"), &RestartPolicy::default()).unwrap_err();
        assert!(e.to_string().contains(RESTART_MAX_RESTARTS), "{e}");
    }
}
