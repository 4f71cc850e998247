//! Unknown keys in worker and connector config files: typos that would otherwise be ignored.
//!
//! A misspelt key is no error in Connect (it logs the key as "unused"), and it is none here: the
//! config still runs. But it quietly changes what runs: `bootstrap.server=broker:9092` leaves
//! `bootstrap.servers` unset, so the worker starts on the embedded in-memory broker. So each key
//! that neither kconnect nor Kafka Connect reads is reported, with the closest known key when
//! one is close enough to be the likely intent.
//!
//! [`unknown_worker_keys`] and [`unknown_connector_keys`] are pure; [`warn_unknown_keys`] logs
//! their findings, once per key, naming the file.
//!
//! "Known" is deliberately wide: every key kconnect's ConfigDefs define, every key of Connect's
//! own worker and connector configs (also those kconnect ignores, such as `plugin.path`, which
//! users keep in their files), and whole namespaces whose keys are open-ended: client settings
//! (`producer.`, `consumer.`, `admin.`, their `.override.` forms), converter settings, transform
//! and predicate aliases, config providers, `ssl.`/`sasl.`, `rest.`, `metrics.`. Namespaces
//! Connect or kconnect define completely (`errors.`, `exactly.once.`, `task.restart.`,
//! `faults.`) are checked key by key instead, since a typo there (`errors.tolerence=all`)
//! silently changes behaviour.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use kconnect_actors::config::{
    connector_config_def, sink_connector_config_def, worker_config_def, BOOTSTRAP_SERVERS,
    CONNECTOR_CLASS,
};
use kconnect_actors::distributed::config::distributed_config_def;
use kconnect_connectors::api::{ConnectorKind, Props};
use kconnect_connectors::config::ConfigDef;
use kconnect_connectors::registry::PluginRegistry;

/// A key of a config file that nothing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub key: String,
    /// The known key it most likely stands for, if one is close.
    pub suggestion: Option<String>,
    /// The key is a near-miss of `bootstrap.servers`, which is unset: the worker runs on the
    /// embedded broker, most likely not what was meant.
    pub embedded_broker: bool,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown key {}", self.key)?;
        match &self.suggestion {
            Some(known) if self.embedded_broker => write!(
                f,
                " (did you mean {known}?): {BOOTSTRAP_SERVERS} is unset, so kconnect uses the \
                 embedded in-memory broker"
            ),
            Some(known) => write!(f, " is ignored (did you mean {known}?)"),
            None => f.write_str(" is ignored (neither kconnect nor Kafka Connect reads it)"),
        }
    }
}

/// Which kind of config file a key was found in, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Worker,
    Connector,
}

/// Logs one warning per unknown key, naming the file. Keys in `from_env` were set by a
/// `CONNECT_*` environment variable rather than the file, and the warning says so.
pub fn warn_unknown_keys(
    kind: ConfigKind,
    file: &Path,
    unknown: &[UnknownKey],
    from_env: &[String],
) {
    let kind = match kind {
        ConfigKind::Worker => "worker",
        ConfigKind::Connector => "connector",
    };
    for u in unknown {
        let source = if from_env.contains(&u.key) {
            " (set from the environment)"
        } else {
            ""
        };
        tracing::warn!("{kind} config {}{source}: {u}", file.display());
    }
}

/// Connect worker keys (standalone and distributed) outside kconnect's ConfigDefs: what
/// Connect's `WorkerConfig`, `StandaloneConfig` and `DistributedConfig` define, which kconnect
/// ignores but users keep in their files.
const CONNECT_WORKER_KEYS: &[&str] = &[
    "access.control.allow.methods",
    "access.control.allow.origin",
    "auto.include.jmx.reporter",
    "client.dns.lookup",
    "client.id",
    "config.providers",
    "connections.max.idle.ms",
    "connector.client.config.override.policy",
    "exactly.once.source.support",
    "internal.key.converter",
    "internal.value.converter",
    "metadata.max.age.ms",
    "metadata.recovery.rebootstrap.trigger.ms",
    "metadata.recovery.strategy",
    "metric.reporters",
    "plugin.discovery",
    "receive.buffer.bytes",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "request.timeout.ms",
    "response.http.headers.config",
    "retry.backoff.max.ms",
    "retry.backoff.ms",
    "security.protocol",
    "send.buffer.bytes",
    "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms",
    "topic.tracking.allow.reset",
    "topic.tracking.enable",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
];

/// Worker namespaces whose keys are open-ended: client settings, converter settings, listener
/// TLS settings, config providers by name, security settings, REST (extensions define their
/// own keys) and metrics.
const WORKER_PREFIXES: &[&str] = &[
    "admin.",
    "config.providers.",
    "consumer.",
    "header.converter.",
    "key.converter.",
    "listeners.https.",
    "metrics.",
    "producer.",
    "rest.",
    "sasl.",
    "ssl.",
    "value.converter.",
];

/// Keys of Connect's `ConnectorConfig` (and its sink and source forms) outside kconnect's
/// ConfigDefs; kconnect refuses or ignores them, but they are Connect's, not typos.
const CONNECT_CONNECTOR_KEYS: &[&str] = &["connector.plugin.version", "tasks.max.enforce"];

const CONNECT_SOURCE_KEYS: &[&str] = &[
    "exactly.once.support",
    "offsets.storage.topic",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
];

/// Connector namespaces whose keys are open-ended: converter settings, client overrides,
/// transforms and predicates by alias.
const CONNECTOR_PREFIXES: &[&str] = &[
    "admin.override.",
    "consumer.override.",
    "header.converter.",
    "key.converter.",
    "predicates.",
    "producer.override.",
    "transforms.",
    "value.converter.",
];

/// Source connectors also have topic creation groups (`topic.creation.<group>.*`).
const SOURCE_PREFIXES: &[&str] = &["topic.creation."];

/// The keys a kind of config file may hold.
struct KnownKeys {
    exact: BTreeSet<String>,
    prefixes: Vec<&'static str>,
}

impl KnownKeys {
    fn new() -> Self {
        KnownKeys {
            exact: BTreeSet::new(),
            prefixes: Vec::new(),
        }
    }

    fn def(mut self, def: &ConfigDef) -> Self {
        self.exact
            .extend(def.keys().iter().map(|key| key.name.clone()));
        self
    }

    fn keys(mut self, keys: &[&str]) -> Self {
        self.exact.extend(keys.iter().map(|key| key.to_string()));
        self
    }

    fn prefixes(mut self, prefixes: &[&'static str]) -> Self {
        self.prefixes.extend_from_slice(prefixes);
        self
    }

    fn knows(&self, key: &str) -> bool {
        self.exact.contains(key) || self.prefixes.iter().any(|p| key.starts_with(p))
    }

    /// The known key nearest to `key` and its distance. A namespace counts as the key with
    /// the namespace's part replaced: `prodcer.acks` is 1 away from `producer.acks`.
    fn closest(&self, key: &str) -> Option<(String, usize)> {
        let segments: Vec<&str> = key.split('.').collect();
        let from_prefixes = self.prefixes.iter().filter_map(|prefix| {
            let depth = prefix.matches('.').count();
            (segments.len() > depth).then(|| format!("{prefix}{}", segments[depth..].join(".")))
        });
        self.exact
            .iter()
            .cloned()
            .chain(from_prefixes)
            .map(|candidate| {
                let d = distance(key, &candidate);
                (candidate, d)
            })
            .min_by(|(a, da), (b, db)| da.cmp(db).then_with(|| a.cmp(b)))
    }
}

/// Edit distance with transpositions, ignoring case and treating `_` and `-` as `.`, so that
/// `BOOTSTRAP_SERVERS` and `bootstrap-servers` are near misses of `bootstrap.servers`.
fn distance(a: &str, b: &str) -> usize {
    fn normal(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '_' | '-' => '.',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    }
    strsim::damerau_levenshtein(&normal(a), &normal(b))
}

/// Whether a known key `d` edits away from `key` is likely what was meant: one edit for short
/// keys, up to three for long ones. Farther keys would be guesses, not help.
fn near(key: &str, d: usize) -> bool {
    d <= (key.chars().count() / 5).clamp(1, 3)
}

fn unknown_keys(
    props: &Props,
    known: &KnownKeys,
    check: impl Fn(&str, Option<String>) -> UnknownKey,
) -> Vec<UnknownKey> {
    props
        .keys()
        .filter(|key| !known.knows(key))
        .map(|key| {
            let suggestion = known
                .closest(key)
                .filter(|(_, d)| near(key, *d))
                .map(|(candidate, _)| candidate);
            check(key, suggestion)
        })
        .collect()
}

/// The keys of a worker config (standalone or distributed) that neither kconnect nor Kafka
/// Connect reads, in key order.
pub fn unknown_worker_keys(props: &Props) -> Vec<UnknownKey> {
    let known = KnownKeys::new()
        .def(&worker_config_def())
        .def(&distributed_config_def())
        .keys(CONNECT_WORKER_KEYS)
        .prefixes(WORKER_PREFIXES);
    // `bootstrap.servers` absent or empty starts the embedded broker.
    let bootstrap_unset = props
        .get(BOOTSTRAP_SERVERS)
        .is_none_or(|v| v.trim().is_empty());
    unknown_keys(props, &known, |key, suggestion| {
        if bootstrap_unset && near(key, distance(key, BOOTSTRAP_SERVERS)) {
            return UnknownKey {
                key: key.to_string(),
                suggestion: Some(BOOTSTRAP_SERVERS.to_string()),
                embedded_broker: true,
            };
        }
        UnknownKey {
            key: key.to_string(),
            suggestion,
            embedded_broker: false,
        }
    })
}

/// The keys of a connector config that neither kconnect, Kafka Connect nor the connector
/// plugin (its own ConfigDef) reads, in key order. A config whose `connector.class` names no
/// plugin is not checked: the worker refuses it with a clearer error.
pub fn unknown_connector_keys(props: &Props, plugins: &PluginRegistry) -> Vec<UnknownKey> {
    let Some(plugin) = props
        .get(CONNECTOR_CLASS)
        .and_then(|class| plugins.connector(class.trim()))
    else {
        return Vec::new();
    };
    let known = KnownKeys::new()
        .def(&plugin.create().config_def())
        .keys(CONNECT_CONNECTOR_KEYS)
        .prefixes(CONNECTOR_PREFIXES);
    let known = match plugin.kind {
        ConnectorKind::Sink => known.def(&sink_connector_config_def()),
        ConnectorKind::Source => known
            .def(&connector_config_def())
            .keys(CONNECT_SOURCE_KEYS)
            .prefixes(SOURCE_PREFIXES),
    };
    unknown_keys(props, &known, |key, suggestion| UnknownKey {
        key: key.to_string(),
        suggestion,
        embedded_broker: false,
    })
}

/// Log capture for the tests of the modules that log these warnings.
#[cfg(test)]
pub(crate) use capture::warnings_of;

#[cfg(test)]
mod capture {
    use std::sync::{Arc, Mutex};

    /// A writer that keeps what the subscriber writes, for reading it back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` with a subscriber of this thread only, and returns its result with the WARN
    /// lines logged meanwhile.
    pub(crate) fn warnings_of<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (result, text.lines().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn unknown(key: &str, suggestion: Option<&str>) -> UnknownKey {
        UnknownKey {
            key: key.into(),
            suggestion: suggestion.map(str::to_string),
            embedded_broker: false,
        }
    }

    /// The keys (with values) of Kafka's config/connect-distributed.properties.
    const KAFKA_CONNECT_DISTRIBUTED: &[(&str, &str)] = &[
        ("bootstrap.servers", "localhost:9092"),
        ("group.id", "connect-cluster"),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("key.converter.schemas.enable", "true"),
        ("value.converter.schemas.enable", "true"),
        ("offset.storage.topic", "connect-offsets"),
        ("offset.storage.replication.factor", "1"),
        ("offset.storage.partitions", "25"),
        ("config.storage.topic", "connect-configs"),
        ("config.storage.replication.factor", "1"),
        ("status.storage.topic", "connect-status"),
        ("status.storage.replication.factor", "1"),
        ("status.storage.partitions", "5"),
        ("offset.flush.interval.ms", "10000"),
        ("listeners", "HTTP://:8083"),
        ("rest.host.name", ""),
        ("rest.port", "8083"),
        ("rest.advertised.host.name", ""),
        ("rest.advertised.port", ""),
        ("rest.advertised.listener", ""),
        ("plugin.path", "/usr/local/share/java"),
    ];

    fn repo_config(name: &str) -> Props {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name);
        crate::config_files::load_props(&path).unwrap()
    }

    #[test]
    fn kafkas_sample_worker_configs_have_no_unknown_keys() {
        let standalone = repo_config("connect-standalone.properties");
        assert!(standalone.contains_key("offset.storage.file.filename"));
        assert_eq!(unknown_worker_keys(&standalone), []);
        assert_eq!(unknown_worker_keys(&props(KAFKA_CONNECT_DISTRIBUTED)), []);
        // kconnect cluster's own worker config.
        assert_eq!(
            unknown_worker_keys(&crate::cluster::default_worker_props()),
            []
        );
    }

    #[test]
    fn kafkas_quickstart_connector_configs_have_no_unknown_keys() {
        let plugins = PluginRegistry::builtin();
        for file in [
            "connect-file-source.properties",
            "connect-file-sink.properties",
        ] {
            let config = repo_config(file);
            assert!(config.contains_key("file"), "{file}");
            assert_eq!(unknown_connector_keys(&config, &plugins), [], "{file}");
        }
    }

    #[test]
    fn worker_keys_connect_users_keep_are_known() {
        let config = props(&[
            ("plugin.path", "/opt/connectors"),
            ("offset.storage.file.filename", "/tmp/o"),
            ("rest.advertised.host.name", "w1"),
            ("rest.basic.auth.credentials.file", "/etc/users"),
            ("rest.extension.classes", "x.Y"),
            ("listeners.https.ssl.keystore.location", "/k.pem"),
            ("admin.listeners", "http://:8084"),
            ("ssl.truststore.location", "/t.pem"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", "x"),
            ("security.protocol", "SASL_SSL"),
            ("producer.acks", "all"),
            ("consumer.max.poll.records", "10"),
            ("admin.request.timeout.ms", "100"),
            ("key.converter.schema.registry.url", "http://sr"),
            ("value.converter.schemas.enable", "false"),
            ("header.converter", "x.Y"),
            ("config.providers", "file"),
            ("config.providers.file.class", "x.FileConfigProvider"),
            ("metrics.recording.level", "INFO"),
            ("metric.reporters", ""),
            ("connector.client.config.override.policy", "All"),
            ("exactly.once.source.support", "enabled"),
            ("topic.creation.enable", "true"),
            ("task.restart.max.restarts", "3"),
            ("connect.protocol", "sessioned"),
            ("scheduled.rebalance.max.delay.ms", "0"),
            ("internal.key.converter", "x.Y"),
        ]);
        assert_eq!(unknown_worker_keys(&config), []);
    }

    #[test]
    fn connector_keys_connect_users_keep_are_known() {
        let plugins = PluginRegistry::builtin();
        let common = [
            ("tasks.max", "1"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            ("key.converter.schemas.enable", "false"),
            ("value.converter.decimal.format", "NUMERIC"),
            ("header.converter", "x.Y"),
            ("transforms", "route"),
            ("transforms.route.type", "x.Y"),
            ("predicates", "p"),
            ("predicates.p.type", "x.Y"),
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
            ("errors.retry.timeout", "0"),
            ("producer.override.acks", "all"),
            ("consumer.override.auto.offset.reset", "earliest"),
            ("admin.override.request.timeout.ms", "100"),
            ("task.restart.max.restarts", "3"),
            ("faults.seed", "42"),
            ("config.action.reload", "none"),
        ];
        let mut source = props(&common);
        source.extend(props(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("file", "in.txt"),
            ("topic", "t"),
            ("batch.size", "100"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.groups", "g"),
            ("topic.creation.g.include", "t.*"),
            ("exactly.once.support", "requested"),
            ("transaction.boundary", "poll"),
        ]));
        assert_eq!(unknown_connector_keys(&source, &plugins), []);
        let mut sink = props(&common);
        sink.extend(props(&[
            ("name", "k"),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("file", "out.txt"),
            ("topics", "t"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]));
        assert_eq!(unknown_connector_keys(&sink, &plugins), []);
    }

    #[test]
    fn a_near_miss_of_an_unset_bootstrap_servers_means_the_embedded_broker() {
        for typo in [
            "bootstrap.server",
            "bootstrap_servers",
            "boostrap.servers",
            "BOOTSTRAP.SERVERS",
            "bootstrap.severs",
        ] {
            let found = unknown_worker_keys(&props(&[(typo, "broker:9092")]));
            assert_eq!(
                found,
                [UnknownKey {
                    key: typo.into(),
                    suggestion: Some("bootstrap.servers".into()),
                    embedded_broker: true,
                }],
                "{typo}"
            );
            let text = found[0].to_string();
            assert!(
                text.contains(typo)
                    && text.contains("bootstrap.servers is unset")
                    && text.contains("embedded"),
                "{text}"
            );
        }
        // With bootstrap.servers set it is an ordinary typo.
        let found = unknown_worker_keys(&props(&[
            ("bootstrap.servers", "a:9092"),
            ("bootstrap.server", "b:9092"),
        ]));
        assert_eq!(
            found,
            [unknown("bootstrap.server", Some("bootstrap.servers"))]
        );
        assert!(!found[0].to_string().contains("embedded"), "{}", found[0]);
        // An empty bootstrap.servers starts the embedded broker too.
        let found = unknown_worker_keys(&props(&[
            ("bootstrap.servers", ""),
            ("bootstrap.server", "b:9092"),
        ]));
        assert!(found[0].embedded_broker);
    }

    #[test]
    fn worker_typos_name_the_closest_key() {
        let found = unknown_worker_keys(&props(&[
            ("offset.flush.interval", "1000"),
            ("prodcer.acks", "all"),
            ("key.convertor.schemas.enable", "false"),
            ("group.idd", "g"),
            ("zookeeper.connect", "zk:2181"),
            ("tasks.max", "1"),
        ]));
        assert_eq!(
            found,
            [
                unknown("group.idd", Some("group.id")),
                unknown(
                    "key.convertor.schemas.enable",
                    Some("key.converter.schemas.enable")
                ),
                unknown("offset.flush.interval", Some("offset.flush.interval.ms")),
                unknown("prodcer.acks", Some("producer.acks")),
                // A connector key in a worker file: ignored there.
                unknown("tasks.max", None),
                unknown("zookeeper.connect", None),
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "unknown key group.idd is ignored (did you mean group.id?)"
        );
        assert_eq!(
            found[5].to_string(),
            "unknown key zookeeper.connect is ignored (neither kconnect nor Kafka Connect reads it)"
        );
    }

    #[test]
    fn connector_typos_name_the_closest_key_of_its_kind() {
        let plugins = PluginRegistry::builtin();
        let source = props(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("topics", "t"),
            ("fiel", "in.txt"),
            ("task.max", "2"),
            ("errors.tolerence", "all"),
            ("faults.sed", "1"),
            ("trasforms", "x"),
        ]);
        assert_eq!(
            unknown_connector_keys(&source, &plugins),
            [
                unknown("errors.tolerence", Some("errors.tolerance")),
                unknown("faults.sed", Some("faults.seed")),
                unknown("fiel", Some("file")),
                unknown("task.max", Some("tasks.max")),
                // A source takes `topic`; `topics` is the sinks' key.
                unknown("topics", Some("topic")),
                unknown("trasforms", Some("transforms")),
            ]
        );
        let sink = props(&[
            ("name", "k"),
            ("connector.class", "FileStreamSink"),
            ("topic", "t"),
            ("file", "out.txt"),
            ("topic.creation.default.partitions", "2"),
        ]);
        let found = unknown_connector_keys(&sink, &plugins);
        assert_eq!(found[0], unknown("topic", Some("topics")));
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn a_connector_of_an_unknown_class_is_left_to_the_worker() {
        let plugins = PluginRegistry::builtin();
        let config = props(&[("connector.class", "com.example.Nope"), ("whatever", "x")]);
        assert_eq!(unknown_connector_keys(&config, &plugins), []);
        assert_eq!(unknown_connector_keys(&props(&[("x", "y")]), &plugins), []);
    }
}
