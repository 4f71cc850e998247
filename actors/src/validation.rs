//! Connector config validation as Connect's `AbstractHerder.validateConnectorConfig` does it:
//! one report, per key, of everything that would make the connector fail later — the common
//! keys (`errors.*`, converters, topics, topic creation), the keys of the connector's transforms
//! and predicates (`transforms.<alias>.*`, `predicates.<alias>.*`, as Connect's
//! `ConnectorConfig.enrich` adds them), the connector's own keys, the converters' own keys
//! (`key.converter.*`, `value.converter.*`, `header.converter.*`), the client overrides the worker's
//! `connector.client.config.override.policy` refuses, and `${provider:…}` variables that cannot
//! be resolved (the config is checked resolved and shown as written).
//!
//! `PUT /connector-plugins/{p}/config/validate` shows the report; create and update refuse a
//! config whose report has errors, with Connect's message ([`ConfigReport::invalid_message`]).

use kconnect_connectors::api::{ConnectorKind, Props};
use kconnect_connectors::config::{ConfigDef, ConfigKey, ConfigValue, Password};
use kconnect_connectors::converters::config::CONVERTER_TYPE_CONFIG;
use kconnect_connectors::converters::converter_config_def;
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry};
use kconnect_connectors::transforms::chain::{self, TransformChain};

use crate::config::{
    connector_config_def, dlq_topic_error, prefixed, sink_connector_config_def, sink_topics,
    ConnectorConfig, OverridePolicy, DLQ_TOPIC_NAME, HEADER_CONVERTER, KEY_CONVERTER, PREDICATES,
    TRANSFORMS, VALUE_CONVERTER,
};
use crate::context::WorkerContext;

/// Connect's group for the common keys that define none of their own.
pub const COMMON_GROUP: &str = "Common";

/// One entry of Connect's `ConfigInfos`: a key's definition (none for a value no definition
/// covers, such as a client override) and its value with its errors.
#[derive(Debug, Clone)]
pub struct ConfigEntry {
    pub key: Option<ConfigKey>,
    pub value: ConfigValue,
}

/// Connect's `ConfigInfos` for one connector config.
#[derive(Debug, Clone)]
pub struct ConfigReport {
    /// The connector's class name.
    pub class: String,
    pub groups: Vec<String>,
    pub entries: Vec<ConfigEntry>,
}

impl ConfigReport {
    /// Connect counts error messages, not keys in error.
    pub fn error_count(&self) -> usize {
        self.entries.iter().map(|e| e.value.errors.len()).sum()
    }

    /// Every error message, in report order.
    pub fn errors(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.value.errors.iter().cloned())
            .collect()
    }

    /// Connect's message for a create or update refused because of these errors.
    pub fn invalid_message(&self) -> String {
        invalid_message(&self.errors())
    }

    fn push(&mut self, key: Option<ConfigKey>, value: ConfigValue) {
        if let Some(g) = key.as_ref().and_then(|k| k.group.clone()) {
            if !self.groups.contains(&g) {
                self.groups.push(g);
            }
        }
        self.entries.push(ConfigEntry { key, value });
    }

    fn add_error(&mut self, name: &str, error: String) {
        match self.entries.iter_mut().find(|e| e.value.name == name) {
            Some(e) => e.value.errors.push(error),
            None => self.push(
                None,
                ConfigValue {
                    name: name.to_string(),
                    value: None,
                    recommended_values: Vec::new(),
                    errors: vec![error],
                    visible: true,
                },
            ),
        }
    }
}

/// Connect's message (`AbstractHerder.maybeAddConfigErrors`) for a config with `errors`.
pub fn invalid_message(errors: &[String]) -> String {
    let mut out = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        errors.len()
    );
    for e in errors {
        out.push('\n');
        out.push_str(e);
    }
    out.push_str(
        "\nYou can also find the above list of errors at the endpoint \
         `/connector-plugins/{connectorType}/config/validate`",
    );
    out
}

/// The framework's keys for a connector of `kind` (Connect's `SinkConnectorConfig` or
/// `SourceConnectorConfig`), those without a group of their own in "Common".
pub fn framework_config_def(kind: ConnectorKind) -> ConfigDef {
    match kind {
        ConnectorKind::Sink => sink_connector_config_def(),
        ConnectorKind::Source => crate::exactly_once::source_connector_keys(connector_config_def()),
    }
    .with_default_group(COMMON_GROUP)
}

/// Validates a connector config of `plugin` as written (with its `${provider:…}` variables)
/// the way create will use it.
pub fn validate(ctx: &WorkerContext, plugin: &ConnectorPlugin, props: &Props) -> ConfigReport {
    validate_with(ctx, plugin, props, Unresolvable::Report)
}

/// What [`validate_with`] makes of a variable that cannot be resolved now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolvable {
    /// An error on the key that holds it (a create, an update, the validate endpoint).
    Report,
    /// Not this check's business: a stored config about to start, whose connector or task
    /// fails its start with that error (and resolves again when it restarts).
    LeaveToStart,
}

/// Validates `raw` with its variables resolved (Connect validates the transformed config), and
/// shows it as written: a key holding a variable shows its `${…}` text rather than the
/// resolved value, and error messages hide resolved values
/// ([`crate::config_providers::hide_secrets`]).
pub fn validate_with(
    ctx: &WorkerContext,
    plugin: &ConnectorPlugin,
    raw: &Props,
    unresolvable: Unresolvable,
) -> ConfigReport {
    let resolved = ctx.config.providers.resolve(raw);
    let mut report = validate_resolved(ctx, plugin, &resolved.props);
    for entry in &mut report.entries {
        let v = &mut entry.value;
        if let Some(text) = raw
            .get(&v.name)
            .filter(|t| crate::config_providers::has_variables(t))
        {
            if v.value.as_deref() != Some(Password::HIDDEN) {
                v.value = Some(text.clone());
            }
        }
        for e in &mut v.errors {
            *e = crate::config_providers::hide_secrets(e).into_owned();
        }
    }
    if unresolvable == Unresolvable::Report {
        for e in resolved.errors {
            report.add_error(&e.key, e.to_string());
        }
    }
    report
}

fn validate_resolved(ctx: &WorkerContext, plugin: &ConnectorPlugin, props: &Props) -> ConfigReport {
    let sink = plugin.kind == ConnectorKind::Sink;
    let common = framework_config_def(plugin.kind);
    let mut report = ConfigReport {
        class: plugin.class_name.to_string(),
        groups: Vec::new(),
        entries: Vec::new(),
    };
    for v in common.validate(props) {
        report.push(common.key(&v.name).cloned(), v);
    }
    // Exactly one of topics and topics.regex: the error shows on both keys, as in Connect.
    if sink {
        if let Err(e) = sink_topics(props) {
            report.add_error(crate::config::TOPICS, e.to_string());
            report.add_error(crate::config::TOPICS_REGEX, e.to_string());
        }
        if let Some(e) = dlq_topic_error(props) {
            report.add_error(DLQ_TOPIC_NAME, e);
        }
    }
    // Connect checks topic creation groups only where they can take effect: on sources, with
    // topic creation enabled on the worker. An error about a group's own key shows on
    // topic.creation.groups, naming that key.
    if !sink && ctx.config.topic_creation_enable {
        if let Err(e) = crate::topic_creation::TopicCreation::parse(props) {
            let shown_on = if common.key(e.key()).is_some() {
                e.key().to_string()
            } else {
                crate::topic_creation::GROUPS.to_string()
            };
            report.add_error(&shown_on, e.to_string());
        }
    }
    transform_entries(&mut report, &ctx.plugins, props);
    let connector = plugin.create();
    let own = connector.config_def();
    for v in connector.validate(props) {
        let key = own.key(&v.name).cloned();
        report.push(key, v);
    }
    // As Connect's DistributedHerder: only a distributed worker checks them, and only keys
    // whose value passed the config def's check.
    if !sink && ctx.task_configs_sink.is_some() {
        let enabled = ctx.exactly_once.is_some();
        let errors = crate::exactly_once::validate_source(enabled, connector.as_ref(), props);
        let clean: Vec<bool> = errors
            .iter()
            .map(|(key, _)| {
                report
                    .entries
                    .iter()
                    .any(|e| e.value.name == *key && e.value.errors.is_empty())
            })
            .collect();
        for ((key, message), clean) in errors.into_iter().zip(clean) {
            if clean {
                report.add_error(key, message);
            }
        }
    }
    for (key, converter_type) in [
        (KEY_CONVERTER, "key"),
        (VALUE_CONVERTER, "value"),
        (HEADER_CONVERTER, "header"),
    ] {
        converter_entries(&mut report, props, key, converter_type);
    }
    client_override_entries(&mut report, ctx, plugin.kind, props);
    // Whatever the per-key checks let through but the runtime's parse refuses (fault and
    // restart keys checked together) must still refuse the config.
    if report.error_count() == 0 {
        if let Err(e) = ConnectorConfig::parse(props.clone(), &ctx.config.restart) {
            let text = e.to_string();
            let key = key_named_in(&text)
                .unwrap_or(crate::config::CONNECTOR_CLASS)
                .to_string();
            report.add_error(&key, text);
        }
    }
    report
}

/// The keys the connector's transforms and predicates add, as Connect's `ConnectorConfig.enrich`
/// does: per alias a group (`Transforms: <alias>`, `Predicates: <alias>`) with its `.type` (the
/// registry's classes of its kind recommended), and once the class is known its own keys under
/// the alias's prefix (and a transform's `.predicate` and `.negate`). An unknown class or a bad
/// key is an error on that key. When every one of those keys is valid the chain is built, so
/// that what only a transform's `configure` finds refuses the config too, instead of failing
/// every task at start (see `chain`'s module doc).
fn transform_entries(report: &mut ConfigReport, registry: &PluginRegistry, props: &Props) {
    let enriched = chain::enrich(props, registry);
    let mut valid = enriched.errors.is_empty();
    for mut v in enriched.def.validate(props) {
        if let Some(classes) = enriched.recommended.get(&v.name) {
            v.recommended_values.clone_from(classes);
        }
        valid &= v.errors.is_empty();
        report.push(enriched.def.key(&v.name).cloned(), v);
    }
    for e in enriched.errors {
        report.add_error(&e.key, e.message);
    }
    // Duplicate aliases are the `transforms` / `predicates` keys' own errors.
    valid &= report
        .entries
        .iter()
        .filter(|e| e.value.name == TRANSFORMS || e.value.name == PREDICATES)
        .all(|e| e.value.errors.is_empty());
    if valid {
        // Dropped at once: closes what it configured.
        if let Err(e) = TransformChain::new(props, registry) {
            report.add_error(&e.key, e.message);
        }
    }
}

/// The key a ConfigDef message names ("Invalid value x for configuration KEY: …").
fn key_named_in(message: &str) -> Option<&str> {
    let rest = message.split("for configuration ").nth(1)?;
    rest.split(|c: char| c == ':' || c.is_whitespace()).next()
}

/// A converter the connector sets itself, validated with its own keys (the connector's
/// `<key>.*` keys) as Connect's `validateConverterConfig` does; errors show on the prefixed
/// keys. A class already in error, or none (the worker's converter), is not looked at.
fn converter_entries(report: &mut ConfigReport, props: &Props, key: &str, converter_type: &str) {
    let class_ok = report
        .entries
        .iter()
        .find(|e| e.value.name == key)
        .is_some_and(|e| e.value.errors.is_empty());
    let Some(class) = props.get(key).filter(|_| class_ok) else {
        return;
    };
    let Some(def) = converter_config_def(class) else {
        return;
    };
    let prefix = format!("{key}.");
    let mut own = prefixed(props, &prefix);
    own.entry(CONVERTER_TYPE_CONFIG.to_string())
        .or_insert_with(|| converter_type.to_string());
    for mut v in def.validate(&own) {
        let key = def.key(&v.name).map(|k| {
            let mut k = k.clone();
            k.name = format!("{prefix}{}", k.name);
            k
        });
        v.name = format!("{prefix}{}", v.name);
        report.push(key, v);
    }
}

/// `<client>.override.*` keys of the clients this connector uses, checked against the
/// worker's policy (Connect's `validateClientOverrides`): a source uses a producer (and an
/// admin client when it configures topic creation), a sink a consumer (and, with a dead letter
/// queue topic, a producer and an admin client). kconnect has no Java client ConfigDefs, so
/// these entries carry no definition.
fn client_override_entries(
    report: &mut ConfigReport,
    ctx: &WorkerContext,
    kind: ConnectorKind,
    props: &Props,
) {
    // An unknown policy fails the worker's own config at start.
    let policy = OverridePolicy::of(&ctx.config.props).unwrap_or(OverridePolicy::All);
    let dlq = props
        .get(DLQ_TOPIC_NAME)
        .is_some_and(|t| !t.trim().is_empty());
    let topic_creation = props
        .keys()
        .any(|k| k.starts_with(crate::topic_creation::PREFIX));
    let clients: Vec<&str> = match kind {
        ConnectorKind::Source if topic_creation => vec!["producer", "admin"],
        ConnectorKind::Source => vec!["producer"],
        ConnectorKind::Sink if dlq => vec!["producer", "consumer", "admin"],
        ConnectorKind::Sink => vec!["consumer"],
    };
    for client in clients {
        let prefix = format!("{client}.override.");
        for (key, value) in prefixed(props, &prefix) {
            let mut errors = Vec::new();
            if !policy.allows(&key) {
                errors.push(format!(
                    "The '{}' policy does not allow '{key}' to be overridden in the connector \
                     configuration.",
                    policy.name()
                ));
            }
            report.push(
                None,
                ConfigValue {
                    name: format!("{prefix}{key}"),
                    value: Some(if secret(&key) {
                        Password::HIDDEN.to_string()
                    } else {
                        value
                    }),
                    recommended_values: Vec::new(),
                    errors,
                    visible: true,
                },
            );
        }
    }
}

/// Client keys whose values are secrets (PASSWORD in Kafka's client ConfigDefs, and any
/// `*password*` key librdkafka has, such as `sasl.password`).
fn secret(key: &str) -> bool {
    const PASSWORDS: &[&str] = &[
        "sasl.jaas.config",
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.certificates",
    ];
    key.contains("password") || PASSWORDS.contains(&key)
}
