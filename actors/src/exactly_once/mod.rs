//! Exactly-once source delivery (KIP-618), the worker's and connector's keys and the rules of
//! the task side: a source task's records and its source offsets are written in one producer
//! transaction, so a `read_committed` reader sees both or neither.
//!
//! # Keys
//!
//! - worker (distributed mode): `exactly.once.source.support` = `disabled` (default) /
//!   `preparing` / `enabled` ([`ExactlyOnceSourceSupport`]);
//! - connector: `exactly.once.support` = `requested` (default) / `required`
//!   ([`ExactlyOnceSupport`]), `transaction.boundary` = `poll` (default) / `interval` /
//!   `connector` ([`TransactionBoundary`]), `transaction.boundary.interval.ms` (default: the
//!   worker's `offset.flush.interval.ms`, as in Connect), `offsets.storage.topic` (a topic of
//!   the connector's own; default the worker's).
//!
//! # The upgrade path
//!
//! Connect enables exactly-once source support in two rolling upgrades: first every worker
//! goes to `preparing`, then every worker to `enabled`. A `preparing` worker runs source tasks
//! exactly as a `disabled` one (at-least-once, offsets committed by the offset committer, the
//! offsets topic read `read_uncommitted`): only the leader's zombie fencing (the fencing
//! module, not here) already behaves as under `enabled`, so that no worker of the cluster
//! commits a task's transactions while an older worker may still run its previous generation.
//!
//! # What `enabled` changes for a source task (see `task/source.rs` and [`task`])
//!
//! - its producer is transactional: `transactional.id` = [`transactional_id`], idempotence on,
//!   `acks=all` (forced, whatever the `producer.*` keys say, as Connect forces them);
//! - each transaction holds the task's records and then, on the offsets topic (the connector's
//!   `offsets.storage.topic`, else the worker's), the last offset of every source partition
//!   whose records it holds; it is committed at the boundary the connector chose;
//! - the offset committer writes nothing (the offsets travel in the transaction);
//! - the offsets are read `read_committed`, so a task starts after the last committed
//!   transaction; a failed commit fails the task, the supervisor restarts it, and the new
//!   producer's `init_transactions` aborts whatever the old one left open.
//!
//! Only distributed mode runs it; the embedded broker refuses `enabled` at start (its mock
//! cluster writes no transaction markers).
//!
//! # Deviations from Connect
//!
//! - `offsets.storage.topic` is honoured only under `enabled` (Connect uses a connector's own
//!   offsets topic in every distributed worker); the offsets REST endpoints read the worker's
//!   topic only.
//! - The `interval` boundary is checked after each poll (a source's idle poll returns within
//!   about a second), not by a timer of its own.
//! - Each transaction call is bounded (60 s) where Connect's producers wait without bound; a
//!   task that cannot commit for that long fails and is restarted.
//! - Pausing a task commits an open `interval` transaction.
//! - VerifiableSource declares exactly-once support (Connect's does not say); FileStreamSource
//!   declares it as Connect's does (with a file, not stdin).

pub mod partitioner;
pub mod task;

use std::time::Duration;

use kconnect_connectors::api::{
    Connector, ConnectorTransactionBoundaries, ExactlyOnceSupport as PluginSupport, Props,
};
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance, Validator, Width};

/// Worker key (distributed mode).
pub const EXACTLY_ONCE_SOURCE_SUPPORT: &str = "exactly.once.source.support";
/// Connector keys.
pub const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
pub const TRANSACTION_BOUNDARY: &str = "transaction.boundary";
pub const TRANSACTION_BOUNDARY_INTERVAL_MS: &str = "transaction.boundary.interval.ms";
pub const OFFSETS_STORAGE_TOPIC: &str = "offsets.storage.topic";

const GROUP: &str = "Exactly Once Support";
const OFFSETS_TOPIC_GROUP: &str = "offsets.topic";

/// A value none of a key's permitted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid value {value} for configuration {key}: String must be one of: {allowed}")]
pub struct InvalidValue {
    pub key: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

/// Values are case-insensitive and trimmed, as Connect's `fromProperty` reads them.
fn parse_enum<T: Copy>(
    key: &'static str,
    raw: &str,
    values: &[(&str, T)],
    allowed: &'static str,
) -> Result<T, InvalidValue> {
    let v = raw.trim().to_ascii_lowercase();
    values
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| InvalidValue {
            key,
            value: raw.to_string(),
            allowed,
        })
}

/// `exactly.once.source.support` of a distributed worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactlyOnceSourceSupport {
    #[default]
    Disabled,
    /// The first step of the upgrade: tasks run as under `Disabled` (see the module doc).
    Preparing,
    Enabled,
}

impl ExactlyOnceSourceSupport {
    pub const VALUES: [&'static str; 3] = ["disabled", "preparing", "enabled"];

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        use ExactlyOnceSourceSupport::*;
        parse_enum(
            EXACTLY_ONCE_SOURCE_SUPPORT,
            raw,
            &[
                ("disabled", Disabled),
                ("preparing", Preparing),
                ("enabled", Enabled),
            ],
            "disabled, preparing, enabled",
        )
    }

    pub fn as_str(self) -> &'static str {
        Self::VALUES[self as usize]
    }

    /// Whether source tasks write transactionally (only `enabled`).
    pub fn tasks_transactional(self) -> bool {
        self == ExactlyOnceSourceSupport::Enabled
    }
}

/// `exactly.once.support` of a source connector (Connect's `ExactlyOnceSupportLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactlyOnceSupport {
    #[default]
    Requested,
    /// Validation fails unless the worker runs exactly-once and the connector says it is
    /// supported.
    Required,
}

impl ExactlyOnceSupport {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        parse_enum(
            EXACTLY_ONCE_SUPPORT,
            raw,
            &[
                ("requested", ExactlyOnceSupport::Requested),
                ("required", ExactlyOnceSupport::Required),
            ],
            "requested, required",
        )
    }
}

/// `transaction.boundary`: where a task's transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionBoundary {
    /// After the records of every poll (that returned any).
    #[default]
    Poll,
    /// Once `transaction.boundary.interval.ms` passed since the transaction's first record.
    Interval,
    /// When the task says so through its transaction context.
    Connector,
}

impl TransactionBoundary {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        parse_enum(
            TRANSACTION_BOUNDARY,
            raw,
            &[
                ("poll", TransactionBoundary::Poll),
                ("interval", TransactionBoundary::Interval),
                ("connector", TransactionBoundary::Connector),
            ],
            "poll, interval, connector",
        )
    }
}

/// The `transactional.id` of a task's producer, formed as Connect's
/// `Worker.taskTransactionalId`: `<group.id>-<connector>-<task>`.
pub fn transactional_id(group_id: &str, connector: &str, task: u32) -> String {
    format!("{group_id}-{connector}-{task}")
}

/// A source connector's exactly-once settings, read from its config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectorTransactions {
    pub support: ExactlyOnceSupport,
    pub boundary: TransactionBoundary,
    /// `None`: the worker's `offset.flush.interval.ms`.
    pub interval: Option<Duration>,
    /// The connector's own offsets topic; `None` (unset or empty): the worker's.
    pub offsets_topic: Option<String>,
}

impl ConnectorTransactions {
    /// Reads the keys (absent keys take their defaults). Values the config def refused never
    /// get here on a validated config; the error names the key all the same.
    pub fn parse(props: &Props) -> Result<Self, InvalidValue> {
        let support = match props.get(EXACTLY_ONCE_SUPPORT) {
            Some(v) => ExactlyOnceSupport::parse(v)?,
            None => ExactlyOnceSupport::default(),
        };
        let boundary = match props.get(TRANSACTION_BOUNDARY) {
            Some(v) => TransactionBoundary::parse(v)?,
            None => TransactionBoundary::default(),
        };
        let interval = match props.get(TRANSACTION_BOUNDARY_INTERVAL_MS) {
            Some(v) if !v.trim().is_empty() => {
                let ms: u64 = v.trim().parse().map_err(|_| InvalidValue {
                    key: TRANSACTION_BOUNDARY_INTERVAL_MS,
                    value: v.clone(),
                    allowed: "a non-negative number of milliseconds",
                })?;
                Some(Duration::from_millis(ms))
            }
            _ => None,
        };
        let offsets_topic = props
            .get(OFFSETS_STORAGE_TOPIC)
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(ConnectorTransactions {
            support,
            boundary,
            interval,
            offsets_topic,
        })
    }
}

/// Adds Connect's `SourceConnectorConfig` exactly-once keys to a source connector's keys.
pub fn source_connector_keys(def: ConfigDef) -> ConfigDef {
    def.define(
        EXACTLY_ONCE_SUPPORT,
        ConfigType::String,
        Some("requested"),
        Some(case_insensitive(
            &["requested", "required"],
            "[requested, required]",
        )),
        Importance::Medium,
        "Permitted values are requested, required. If set to \"required\", forces a preflight \
         check for the connector to ensure that it can provide exactly-once semantics with the \
         given configuration; validation also fails on a worker without exactly-once source \
         support enabled.",
    )
    .in_group(GROUP, Width::Short, "Exactly once support")
    .define(
        TRANSACTION_BOUNDARY,
        ConfigType::String,
        Some("poll"),
        Some(case_insensitive(
            &["poll", "interval", "connector"],
            "[poll, interval, connector]",
        )),
        Importance::Medium,
        "Permitted values are: poll, interval, connector. poll: a transaction per batch of \
         records a task returns; interval: commit once transaction.boundary.interval.ms \
         passed; connector: the connector's tasks define the boundaries (not every connector \
         can).",
    )
    .in_group(GROUP, Width::Short, "Transaction Boundary")
    .define_optional(
        TRANSACTION_BOUNDARY_INTERVAL_MS,
        ConfigType::Long,
        Importance::Low,
        "If transaction.boundary is interval, how often a task commits its transaction. \
         Unset: the worker's offset.flush.interval.ms.",
    )
    .with_validator(Validator::at_least(0.0))
    .in_group(GROUP, Width::Short, "Transaction boundary interval")
    .define_optional(
        OFFSETS_STORAGE_TOPIC,
        ConfigType::String,
        Importance::Low,
        "A separate offsets topic for this connector; unset or empty: the worker's global \
         offsets topic. Created when missing. Only used in distributed mode.",
    )
    .in_group(OFFSETS_TOPIC_GROUP, Width::Long, "Offsets topic")
}

pub(crate) fn case_insensitive(values: &'static [&'static str], describe: &str) -> Validator {
    Validator::custom(describe.to_string(), move |v| {
        let s = match v {
            kconnect_connectors::config::ParsedValue::String(s) => s,
            _ => return Ok(()),
        };
        let lower = s.trim().to_ascii_lowercase();
        if values.contains(&lower.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "String must be one of (case insensitive): {}",
                values.join(", ")
            ))
        }
    })
}

/// Connect's `DistributedHerder` checks of a source connector's exactly-once keys: (key,
/// message) for each problem, with Connect's messages. Only distributed workers run them
/// (standalone mode does not offer exactly-once delivery).
pub fn validate_source(
    worker_enabled: bool,
    connector: &dyn Connector,
    props: &Props,
) -> Vec<(&'static str, String)> {
    let Ok(settings) = ConnectorTransactions::parse(props) else {
        // The config def's own check reports the bad value.
        return Vec::new();
    };
    let mut errors = Vec::new();
    if settings.support == ExactlyOnceSupport::Required {
        if !worker_enabled {
            errors.push((
                EXACTLY_ONCE_SUPPORT,
                "This worker does not have exactly-once source support enabled.".to_string(),
            ));
        }
        match connector.exactly_once_support(props) {
            Some(PluginSupport::Supported) => {}
            Some(PluginSupport::Unsupported) => errors.push((
                EXACTLY_ONCE_SUPPORT,
                "The connector does not support exactly-once semantics with the provided \
                 configuration."
                    .to_string(),
            )),
            None => errors.push((
                EXACTLY_ONCE_SUPPORT,
                "The connector does not implement the API required for preflight validation of \
                 exactly-once source support. Please consult the documentation for the \
                 connector to determine whether it supports exactly-once semantics, and then \
                 consider reconfiguring the connector to use the value \"requested\" for this \
                 property (which will disable this preflight check and allow the connector to \
                 be created)."
                    .to_string(),
            )),
        }
    }
    if settings.boundary == TransactionBoundary::Connector
        && connector.can_define_transaction_boundaries(props)
            != ConnectorTransactionBoundaries::Supported
    {
        errors.push((
            TRANSACTION_BOUNDARY,
            "The connector does not support connector-defined transaction boundaries with the \
             given configuration. Please reconfigure it to use a different transaction \
             boundary definition."
                .to_string(),
        ));
    }
    errors
}

/// What a worker running `exactly.once.source.support=enabled` tells its source tasks.
#[derive(Clone)]
pub struct ExactlyOnceWorker {
    /// `group.id`: the first part of every task's `transactional.id`.
    pub group_id: String,
    /// The worker's offsets topic and its partition count (offset records are partitioned as
    /// Java's producer partitions them, so they land where Connect's would).
    pub offsets_topic: String,
    pub offsets_partitions: i32,
    /// How a connector's own offsets topic is created when missing.
    pub offset_partitions_new: i32,
    pub offset_replication_new: i16,
    /// Client settings of the internal topics' clients (security included), for a connector's
    /// own offsets topic.
    pub client_props: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactional_ids_are_formed_as_connect_forms_them() {
        assert_eq!(
            transactional_id("connect-cluster", "my-source", 3),
            "connect-cluster-my-source-3"
        );
    }

    #[test]
    fn keys_parse_case_insensitively_with_connect_defaults() {
        assert_eq!(
            ExactlyOnceSourceSupport::parse(" Enabled ").unwrap(),
            ExactlyOnceSourceSupport::Enabled
        );
        assert_eq!(
            ExactlyOnceSourceSupport::default(),
            ExactlyOnceSourceSupport::Disabled
        );
        assert!(!ExactlyOnceSourceSupport::Preparing.tasks_transactional());
        assert_eq!(
            ExactlyOnceSourceSupport::parse("on")
                .unwrap_err()
                .to_string(),
            "Invalid value on for configuration exactly.once.source.support: String must be one \
             of: disabled, preparing, enabled"
        );
        let none = ConnectorTransactions::parse(&Props::new()).unwrap();
        assert_eq!(none, ConnectorTransactions::default());
        let props: Props = [
            (EXACTLY_ONCE_SUPPORT, "REQUIRED"),
            (TRANSACTION_BOUNDARY, "Interval"),
            (TRANSACTION_BOUNDARY_INTERVAL_MS, "250"),
            (OFFSETS_STORAGE_TOPIC, " own-offsets "),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            ConnectorTransactions::parse(&props).unwrap(),
            ConnectorTransactions {
                support: ExactlyOnceSupport::Required,
                boundary: TransactionBoundary::Interval,
                interval: Some(Duration::from_millis(250)),
                offsets_topic: Some("own-offsets".into()),
            }
        );
    }
}
