//! The worker keys of Connect's distributed mode (`DistributedConfig`), with Connect's names and
//! defaults, except `scheduled.rebalance.max.delay.ms` (see [`DEFAULT_MAX_DELAY_MS`]).

use std::time::Duration;

use kconnect_connectors::api::Props;
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use kconnect_connectors::error::ConnectError;

use super::signature;

pub const GROUP_ID: &str = "group.id";
pub const CONFIG_TOPIC: &str = "config.storage.topic";
pub const CONFIG_REPLICATION: &str = "config.storage.replication.factor";
pub const OFFSET_TOPIC: &str = "offset.storage.topic";
pub const OFFSET_PARTITIONS: &str = "offset.storage.partitions";
pub const OFFSET_REPLICATION: &str = "offset.storage.replication.factor";
pub const STATUS_TOPIC: &str = "status.storage.topic";
pub const STATUS_PARTITIONS: &str = "status.storage.partitions";
pub const STATUS_REPLICATION: &str = "status.storage.replication.factor";
pub const SESSION_TIMEOUT_MS: &str = "session.timeout.ms";
pub const HEARTBEAT_INTERVAL_MS: &str = "heartbeat.interval.ms";
pub const REBALANCE_TIMEOUT_MS: &str = "rebalance.timeout.ms";
pub const MAX_DELAY_MS: &str = "scheduled.rebalance.max.delay.ms";
pub const CONNECT_PROTOCOL: &str = "connect.protocol";
pub const KEY_TTL_MS: &str = "inter.worker.key.ttl.ms";
pub const KEY_SIZE: &str = "inter.worker.key.size";
pub const KEY_GENERATION_ALGORITHM: &str = "inter.worker.key.generation.algorithm";
pub const SIGNATURE_ALGORITHM: &str = "inter.worker.signature.algorithm";
pub const VERIFICATION_ALGORITHMS: &str = "inter.worker.verification.algorithms";

/// kconnect reassigns a departed worker's work in the rebalance that notices it is gone
/// (Connect waits up to 5 minutes for the worker to come back). The session timeout already is
/// the grace period: a worker that crashed is declared gone only after it, and a kconnect worker
/// restarts in milliseconds, well inside it, so waiting longer only leaves tasks idle. Set the
/// key to Connect's 300000 to get Connect's behaviour.
pub const DEFAULT_MAX_DELAY_MS: &str = "0";

pub fn distributed_config_def() -> ConfigDef {
    let topic = |def: ConfigDef, key: &str, doc: &str| {
        def.define(key, ConfigType::String, None, None, Importance::High, doc)
    };
    let short = |def: ConfigDef, key: &str, default: &str, doc: &str| {
        def.define(
            key,
            ConfigType::Int,
            Some(default),
            Some(Validator::custom("-1 or [1,...]", |v| match v {
                ParsedValue::Int(n) if *n == -1 || (1..=i16::MAX as i32).contains(n) => Ok(()),
                _ => Err("must be -1 (the broker's default) or at least 1".into()),
            })),
            Importance::Low,
            doc,
        )
    };
    let ms = |def: ConfigDef, key: &str, default: &str, min: f64, doc: &str| {
        def.define(
            key,
            ConfigType::Int,
            Some(default),
            Some(Validator::at_least(min)),
            Importance::Medium,
            doc,
        )
    };
    let def = ConfigDef::new().define(
        GROUP_ID,
        ConfigType::String,
        None,
        None,
        Importance::High,
        "A unique string that identifies the Connect cluster group this worker belongs to.",
    );
    let def = topic(
        def,
        CONFIG_TOPIC,
        "The topic connector and task configs are kept in.",
    );
    let def = topic(def, OFFSET_TOPIC, "The topic source offsets are kept in.");
    let def = topic(
        def,
        STATUS_TOPIC,
        "The topic connector and task statuses are kept in.",
    );
    let def = short(
        def,
        CONFIG_REPLICATION,
        "3",
        "Replication factor of the config topic.",
    );
    let def = short(
        def,
        OFFSET_REPLICATION,
        "3",
        "Replication factor of the offset topic.",
    );
    let def = short(
        def,
        STATUS_REPLICATION,
        "3",
        "Replication factor of the status topic.",
    );
    let def = ms(
        def,
        OFFSET_PARTITIONS,
        "25",
        1.0,
        "Partitions of the offset topic.",
    );
    let def = ms(
        def,
        STATUS_PARTITIONS,
        "5",
        1.0,
        "Partitions of the status topic.",
    );
    let def = ms(
        def,
        SESSION_TIMEOUT_MS,
        "10000",
        1.0,
        "How long the group waits for a worker's heartbeat before it is declared gone.",
    );
    let def = ms(
        def,
        HEARTBEAT_INTERVAL_MS,
        "3000",
        1.0,
        "Time between heartbeats to the group coordinator.",
    );
    let def = ms(
        def,
        REBALANCE_TIMEOUT_MS,
        "60000",
        1.0,
        "How long a worker may take to rejoin the group during a rebalance.",
    );
    let def = ms(
        def,
        MAX_DELAY_MS,
        DEFAULT_MAX_DELAY_MS,
        0.0,
        "How long the leader holds a departed worker's work back for it to return. kconnect \
         defaults to 0: work is reassigned once the session timeout declared the worker gone.",
    );
    // Connect's session keys (KIP-507). kconnect signs and verifies with HmacSHA256 only,
    // Connect's default; other algorithms are refused by name rather than silently ignored.
    let hmac_only = || Some(Validator::one_of(&[signature::HMAC_SHA256]));
    let def = ms(
        def,
        KEY_TTL_MS,
        "3600000",
        0.0,
        "How long the leader uses a session key before it writes a new one to the config topic.",
    )
    .define_optional(
        KEY_SIZE,
        ConfigType::Int,
        Importance::Low,
        "The size of new session keys in bits (a multiple of 8); by default 256, what Java's \
         KeyGenerator makes for HmacSHA256.",
    )
    .with_validator(Validator::custom("a positive multiple of 8", |v| match v {
        ParsedValue::Int(n) if *n > 0 && n % 8 == 0 => Ok(()),
        _ => Err("must be a positive multiple of 8 (bits)".into()),
    }))
    .define(
        KEY_GENERATION_ALGORITHM,
        ConfigType::String,
        Some(signature::HMAC_SHA256),
        hmac_only(),
        Importance::Low,
        "The algorithm of new session keys.",
    )
    .define(
        SIGNATURE_ALGORITHM,
        ConfigType::String,
        Some(signature::HMAC_SHA256),
        hmac_only(),
        Importance::Low,
        "The algorithm this worker signs internal requests with.",
    )
    .define(
        VERIFICATION_ALGORITHMS,
        ConfigType::List,
        Some(signature::HMAC_SHA256),
        Some(Validator::custom(
            "a list including HmacSHA256",
            |v| match v {
                ParsedValue::List(l) if l.iter().any(|a| a == signature::HMAC_SHA256) => Ok(()),
                _ => Err("must include HmacSHA256, the algorithm kconnect signs with".into()),
            },
        )),
        Importance::Low,
        "The algorithms internal requests may be signed with.",
    );
    let def = def.define(
        crate::exactly_once::EXACTLY_ONCE_SOURCE_SUPPORT,
        ConfigType::String,
        Some("disabled"),
        Some(crate::exactly_once::case_insensitive(
            &crate::exactly_once::ExactlyOnceSourceSupport::VALUES,
            "[disabled, preparing, enabled]",
        )),
        Importance::High,
        "Whether to enable exactly-once support for source connectors (KIP-618): \
             disabled, preparing (the first step of the rolling upgrade; tasks run as under \
             disabled), or enabled (each source task writes its records and offsets in one \
             transaction). Not available on the embedded broker.",
    );
    def.define(
        CONNECT_PROTOCOL,
        ConfigType::String,
        // Connect's default since 2.4: a kconnect worker joining a Java Connect group offers
        // what the Java workers offer, and internal requests are signed unless asked not to be.
        Some("sessioned"),
        Some(Validator::one_of(&["compatible", "sessioned"])),
        Importance::Low,
        "The group protocol: incremental cooperative rebalancing (compatible or sessioned). \
         When the group runs sessioned (every member offers it), internal requests are signed \
         with the session key the leader writes to the config topic, and the leader refuses \
         unsigned ones, as Connect does. Eager rebalancing is not supported.",
    )
}

/// The distributed keys of a worker config, parsed.
#[derive(Debug, Clone)]
pub struct DistributedConfig {
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub config_replication: i16,
    pub offset_partitions: i32,
    pub offset_replication: i16,
    pub status_partitions: i32,
    pub status_replication: i16,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub max_delay: Duration,
    /// `compatible` or `sessioned`.
    pub protocol: String,
    /// `inter.worker.key.ttl.ms`: the leader replaces an older session key.
    pub key_ttl: Duration,
    /// `inter.worker.key.size` in bytes.
    pub key_bytes: usize,
    /// `exactly.once.source.support`.
    pub exactly_once_source_support: crate::exactly_once::ExactlyOnceSourceSupport,
}

impl DistributedConfig {
    pub fn parse(props: &Props) -> Result<Self, ConnectError> {
        let p = distributed_config_def().parse(props)?;
        let ms = |key: &str| -> Result<Duration, ConnectError> {
            Ok(Duration::from_millis(p.int(key)? as u64))
        };
        let short = |key: &str| -> Result<i16, ConnectError> { Ok(p.int(key)? as i16) };
        let config = DistributedConfig {
            group_id: p.string(GROUP_ID)?,
            config_topic: p.string(CONFIG_TOPIC)?,
            offset_topic: p.string(OFFSET_TOPIC)?,
            status_topic: p.string(STATUS_TOPIC)?,
            config_replication: short(CONFIG_REPLICATION)?,
            offset_partitions: p.int(OFFSET_PARTITIONS)?,
            offset_replication: short(OFFSET_REPLICATION)?,
            status_partitions: p.int(STATUS_PARTITIONS)?,
            status_replication: short(STATUS_REPLICATION)?,
            session_timeout: ms(SESSION_TIMEOUT_MS)?,
            heartbeat_interval: ms(HEARTBEAT_INTERVAL_MS)?,
            rebalance_timeout: ms(REBALANCE_TIMEOUT_MS)?,
            max_delay: ms(MAX_DELAY_MS)?,
            protocol: p.string(CONNECT_PROTOCOL)?,
            key_ttl: ms(KEY_TTL_MS)?,
            key_bytes: if p.has(KEY_SIZE) {
                p.int(KEY_SIZE)
                    .map_or(signature::DEFAULT_KEY_BYTES, |bits| bits as usize / 8)
            } else {
                signature::DEFAULT_KEY_BYTES
            },
            exactly_once_source_support: crate::exactly_once::ExactlyOnceSourceSupport::parse(
                &p.string(crate::exactly_once::EXACTLY_ONCE_SOURCE_SUPPORT)?,
            )
            .map_err(|e| ConnectError::Config(e.to_string()))?,
        };
        let topics = [
            &config.config_topic,
            &config.offset_topic,
            &config.status_topic,
        ];
        if topics[0] == topics[1] || topics[0] == topics[2] || topics[1] == topics[2] {
            return Err(ConnectError::Config(format!(
                "{CONFIG_TOPIC}, {OFFSET_TOPIC} and {STATUS_TOPIC} must be three different topics"
            )));
        }
        if config.heartbeat_interval >= config.session_timeout {
            return Err(ConnectError::Config(format!(
                "{HEARTBEAT_INTERVAL_MS} must be lower than {SESSION_TIMEOUT_MS}"
            )));
        }
        Ok(config)
    }

    /// The internal topics with their partition counts and replication factors.
    pub fn internal_topics(&self) -> [(&str, i32, i16); 3] {
        [
            (&self.config_topic, 1, self.config_replication),
            (
                &self.offset_topic,
                self.offset_partitions,
                self.offset_replication,
            ),
            (
                &self.status_topic,
                self.status_partitions,
                self.status_replication,
            ),
        ]
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

    fn minimal() -> Props {
        props(&[
            (GROUP_ID, "connect-cluster"),
            (CONFIG_TOPIC, "connect-configs"),
            (OFFSET_TOPIC, "connect-offsets"),
            (STATUS_TOPIC, "connect-status"),
        ])
    }

    #[test]
    fn connect_defaults_apply_except_the_lost_work_delay() {
        let c = DistributedConfig::parse(&minimal()).unwrap();
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(c.offset_partitions, 25);
        assert_eq!(c.status_partitions, 5);
        assert_eq!(c.config_replication, 3);
        assert_eq!(c.max_delay, Duration::ZERO);
        assert_eq!(c.protocol, "sessioned");
        assert_eq!(c.internal_topics()[0], ("connect-configs", 1, 3));
        assert_eq!(c.key_ttl, Duration::from_secs(3600));
        assert_eq!(c.key_bytes, 32);
    }

    #[test]
    fn session_key_settings_are_read_and_other_algorithms_refused_by_name() {
        let mut p = minimal();
        p.insert(KEY_TTL_MS.into(), "5000".into());
        p.insert(KEY_SIZE.into(), "512".into());
        let c = DistributedConfig::parse(&p).unwrap();
        assert_eq!(c.key_ttl, Duration::from_secs(5));
        assert_eq!(c.key_bytes, 64);
        for (key, value) in [
            (SIGNATURE_ALGORITHM, "HmacSHA512"),
            (KEY_GENERATION_ALGORITHM, "HmacSHA1"),
            (VERIFICATION_ALGORITHMS, "HmacSHA512"),
            (KEY_SIZE, "100"),
        ] {
            let mut p = minimal();
            p.insert(key.into(), value.into());
            let e = DistributedConfig::parse(&p).unwrap_err().to_string();
            assert!(e.contains(key), "{key}={value}: {e}");
        }
    }

    #[test]
    fn missing_and_bad_keys_are_named() {
        let mut p = minimal();
        p.remove(GROUP_ID);
        let e = DistributedConfig::parse(&p).unwrap_err().to_string();
        assert!(e.contains(GROUP_ID), "{e}");

        let mut p = minimal();
        p.insert(CONNECT_PROTOCOL.into(), "eager".into());
        let e = DistributedConfig::parse(&p).unwrap_err().to_string();
        assert!(e.contains(CONNECT_PROTOCOL), "{e}");

        let mut p = minimal();
        p.insert(STATUS_TOPIC.into(), "connect-offsets".into());
        let e = DistributedConfig::parse(&p).unwrap_err().to_string();
        assert!(e.contains("three different topics"), "{e}");

        let mut p = minimal();
        p.insert(HEARTBEAT_INTERVAL_MS.into(), "20000".into());
        let e = DistributedConfig::parse(&p).unwrap_err().to_string();
        assert!(e.contains(HEARTBEAT_INTERVAL_MS), "{e}");
    }
}
