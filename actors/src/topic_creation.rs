//! Source topic creation as Connect does it (KIP-158): the worker's `topic.creation.enable`,
//! and on a source connector `topic.creation.groups` with, per group (and for the `default`
//! group that catches every topic no other group takes), `include` / `exclude` regex lists,
//! `replication.factor`, `partitions` and any other topic config.
//!
//! A source task creates a topic the first time it produces to it, once per topic: through
//! CreateTopics on a real cluster ([`KafkaTopicAdmin`]), through the mock's own API on the
//! embedded broker (which has no CreateTopics). Both sit behind [`TopicAdmin`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kconnect_connectors::api::Props;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use regex::Regex;

use crate::broker_health::KafkaClientContext;

/// For implementations of [`TopicAdmin`] outside this crate (the embedded broker's).
pub use async_trait::async_trait;

/// Worker key: whether source connectors may create their topics.
pub const TOPIC_CREATION_ENABLE: &str = "topic.creation.enable";
pub const PREFIX: &str = "topic.creation.";
pub const GROUPS: &str = "topic.creation.groups";
pub const DEFAULT_GROUP: &str = "default";
pub const DEFAULT_PARTITIONS: &str = "topic.creation.default.partitions";
pub const DEFAULT_REPLICATION_FACTOR: &str = "topic.creation.default.replication.factor";
const INCLUDE: &str = "include";
const EXCLUDE: &str = "exclude";
const PARTITIONS: &str = "partitions";
const REPLICATION_FACTOR: &str = "replication.factor";

#[derive(Debug, thiserror::Error)]
pub enum TopicCreationError {
    #[error(
        "Missing required configuration \"{key}\" which has no default value: a source \
         connector with topic.creation.* keys needs both {DEFAULT_REPLICATION_FACTOR} and \
         {DEFAULT_PARTITIONS} (-1: the broker's default), or {TOPIC_CREATION_ENABLE}=false on \
         the worker"
    )]
    Missing { key: &'static str },
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

impl TopicCreationError {
    /// The key at fault.
    pub fn key(&self) -> &str {
        match self {
            TopicCreationError::Missing { key } => key,
            TopicCreationError::Invalid { key, .. } => key,
        }
    }
}

/// Why a topic could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TopicAdminError {
    #[error(
        "cannot create the admin client that creates source topics (check the admin.* keys): {0}"
    )]
    Client(#[source] KafkaError),
    #[error("cannot tell whether topic {topic} exists: {source}")]
    Describe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error(
        "Task failed to create new topic {topic} ({detail}). Ensure that the task is authorized \
         to create topics or that the topic exists, and restart the task"
    )]
    Create { topic: String, detail: String },
}

/// One topic creation group: which topics it takes and how it creates them.
#[derive(Debug, Clone)]
pub struct TopicCreationGroup {
    pub name: String,
    include: Option<Regex>,
    exclude: Option<Regex>,
    /// -1: the broker's `num.partitions`.
    pub partitions: i32,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Other topic configs (`cleanup.policy`, `retention.ms`, …), passed as they are.
    pub configs: BTreeMap<String, String>,
}

impl TopicCreationGroup {
    /// As in Connect, a pattern must match the whole name, and exclusion wins.
    fn matches(&self, topic: &str) -> bool {
        let included = self.include.as_ref().is_some_and(|r| r.is_match(topic));
        let excluded = self.exclude.as_ref().is_some_and(|r| r.is_match(topic));
        included && !excluded
    }
}

/// What to create for one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTopicSpec {
    pub name: String,
    /// -1: the broker's default.
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
    /// The group it came from (`None`: no topic creation configured, the broker's defaults).
    pub group: Option<String>,
}

impl NewTopicSpec {
    /// A topic with the broker's defaults: what a broker's auto-creation would make.
    pub fn broker_defaults(name: &str) -> Self {
        NewTopicSpec {
            name: name.to_string(),
            partitions: -1,
            replication_factor: -1,
            configs: BTreeMap::new(),
            group: None,
        }
    }
}

/// A source connector's topic creation groups; the first custom group that matches a topic
/// wins, `default` takes the rest.
#[derive(Debug, Clone)]
pub struct TopicCreation {
    groups: Vec<TopicCreationGroup>,
    default: TopicCreationGroup,
}

impl TopicCreation {
    /// The connector's groups, or `None` when it sets no `topic.creation.*` key (its topics are
    /// then left to the broker's auto-creation, as in Connect). Once one such key is set, both
    /// default keys are required, as Connect requires them.
    pub fn parse(props: &Props) -> Result<Option<Self>, TopicCreationError> {
        if !props.keys().any(|k| k.starts_with(PREFIX)) {
            return Ok(None);
        }
        let partitions = match value(props, DEFAULT_PARTITIONS) {
            Some(v) => parse_partitions(DEFAULT_PARTITIONS, v)?,
            None => {
                return Err(TopicCreationError::Missing {
                    key: DEFAULT_PARTITIONS,
                })
            }
        };
        let replication_factor = match value(props, DEFAULT_REPLICATION_FACTOR) {
            Some(v) => parse_replication(DEFAULT_REPLICATION_FACTOR, v)?,
            None => {
                return Err(TopicCreationError::Missing {
                    key: DEFAULT_REPLICATION_FACTOR,
                })
            }
        };
        let default = TopicCreationGroup {
            name: DEFAULT_GROUP.into(),
            // The default group takes every topic: its own include/exclude are ignored, as in
            // Connect.
            include: None,
            exclude: None,
            partitions,
            replication_factor,
            configs: other_configs(props, DEFAULT_GROUP),
        };
        let mut names: Vec<String> = Vec::new();
        for name in value(props, GROUPS)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty() && *g != DEFAULT_GROUP)
        {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        let groups = names
            .into_iter()
            .map(|name| {
                let key = |suffix: &str| format!("{PREFIX}{name}.{suffix}");
                let partitions = match value(props, &key(PARTITIONS)) {
                    Some(v) => parse_partitions(&key(PARTITIONS), v)?,
                    None => default.partitions,
                };
                let replication_factor = match value(props, &key(REPLICATION_FACTOR)) {
                    Some(v) => parse_replication(&key(REPLICATION_FACTOR), v)?,
                    None => default.replication_factor,
                };
                Ok(TopicCreationGroup {
                    include: pattern(props, &key(INCLUDE))?,
                    exclude: pattern(props, &key(EXCLUDE))?,
                    partitions,
                    replication_factor,
                    // Like Connect, a group does not inherit the default group's other configs:
                    // only its partitions and replication factor fall back to the default's.
                    configs: other_configs(props, &name),
                    name,
                })
            })
            .collect::<Result<Vec<_>, TopicCreationError>>()?;
        Ok(Some(TopicCreation { groups, default }))
    }

    /// The group that creates `topic`: the first listed group that matches, else `default`.
    pub fn group_for(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .unwrap_or(&self.default)
    }

    pub fn new_topic(&self, topic: &str) -> NewTopicSpec {
        let g = self.group_for(topic);
        NewTopicSpec {
            name: topic.to_string(),
            partitions: g.partitions,
            replication_factor: g.replication_factor,
            configs: g.configs.clone(),
            group: Some(g.name.clone()),
        }
    }
}

fn value<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn invalid(key: &str, value: &str, reason: &str) -> TopicCreationError {
    TopicCreationError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_partitions(key: &str, v: &str) -> Result<i32, TopicCreationError> {
    match v.parse::<i32>() {
        Ok(n) if n == -1 || n >= 1 => Ok(n),
        _ => Err(invalid(
            key,
            v,
            "Number of partitions must be positive, or -1 to use the broker's default",
        )),
    }
}

fn parse_replication(key: &str, v: &str) -> Result<i16, TopicCreationError> {
    match v.parse::<i16>() {
        Ok(n) if n == -1 || n >= 1 => Ok(n),
        _ => Err(invalid(
            key,
            v,
            "Replication factor must be positive and not larger than the number of brokers \
             in the Kafka cluster, or -1 to use the broker's default",
        )),
    }
}

/// A comma-separated list of regexes as one pattern that must match a whole topic name.
fn pattern(props: &Props, key: &str) -> Result<Option<Regex>, TopicCreationError> {
    let Some(list) = value(props, key) else {
        return Ok(None);
    };
    let parts: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Ok(None);
    }
    for p in &parts {
        Regex::new(p).map_err(|e| invalid(key, p, &format!("not a regular expression: {e}")))?;
    }
    let joined = parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&format!("^(?:{joined})$"))
        .map(Some)
        .map_err(|e| invalid(key, list, &e.to_string()))
}

/// `topic.creation.<group>.<config>` keys other than the group's own settings: topic configs.
fn other_configs(props: &Props, group: &str) -> BTreeMap<String, String> {
    let prefix = format!("{PREFIX}{group}.");
    props
        .iter()
        .filter_map(|(k, v)| {
            let config = k.strip_prefix(&prefix)?;
            let own = [INCLUDE, EXCLUDE, PARTITIONS, REPLICATION_FACTOR].contains(&config);
            (!own && !config.is_empty()).then(|| (config.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Whether a topic was made or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicCreated {
    Created,
    Existed,
}

/// Creates topics for source tasks: on a real cluster through CreateTopics, on the embedded
/// broker through the mock's API (it has no CreateTopics).
#[async_trait::async_trait]
pub trait TopicAdmin: Send + Sync + 'static {
    /// Creates the topic as `spec` says unless it exists.
    async fn create_topic(&self, spec: &NewTopicSpec) -> Result<TopicCreated, TopicAdminError>;
}

/// CreateTopics on a real cluster, describing the topic first so that an existing topic costs
/// no CreateTopics (and a cluster that refuses CreateTopics to this principal still works for
/// topics made beforehand).
pub struct KafkaTopicAdmin {
    admin: Arc<AdminClient<KafkaClientContext>>,
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

impl KafkaTopicAdmin {
    /// `client`: librdkafka settings (bootstrap, security, `admin.*`).
    pub fn new(
        client: &BTreeMap<String, String>,
        context: KafkaClientContext,
    ) -> Result<Self, TopicAdminError> {
        let mut cc = ClientConfig::new();
        for (k, v) in client {
            cc.set(k, v);
        }
        // librdkafka's admin client is a producer underneath, and a producer's metadata request
        // for a missing topic lets the broker auto-create it: the describe would create the
        // topic with the broker's defaults before CreateTopics could set ours.
        cc.set("allow.auto.create.topics", "false");
        let admin = cc
            .create_with_context(context)
            .map_err(TopicAdminError::Client)?;
        Ok(KafkaTopicAdmin {
            admin: Arc::new(admin),
        })
    }

    async fn exists(&self, topic: &str) -> Result<bool, TopicAdminError> {
        let admin = self.admin.clone();
        let name = topic.to_string();
        // fetch_metadata blocks: off the async threads.
        let md = tokio::task::spawn_blocking(move || {
            admin.inner().fetch_metadata(Some(&name), ADMIN_TIMEOUT)
        })
        .await
        .map_err(|e| TopicAdminError::Create {
            topic: topic.to_string(),
            detail: e.to_string(),
        })?
        .map_err(|source| TopicAdminError::Describe {
            topic: topic.to_string(),
            source,
        })?;
        Ok(md
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
    }
}

#[async_trait::async_trait]
impl TopicAdmin for KafkaTopicAdmin {
    async fn create_topic(&self, spec: &NewTopicSpec) -> Result<TopicCreated, TopicAdminError> {
        if self.exists(&spec.name).await? {
            tracing::info!(topic = %spec.name, "topic exists; not creating it");
            return Ok(TopicCreated::Existed);
        }
        let mut new = NewTopic::new(
            &spec.name,
            spec.partitions,
            TopicReplication::Fixed(i32::from(spec.replication_factor)),
        );
        for (k, v) in &spec.configs {
            new = new.set(k, v);
        }
        let opts = AdminOptions::new()
            .operation_timeout(Some(ADMIN_TIMEOUT))
            .request_timeout(Some(ADMIN_TIMEOUT));
        let failed = |detail: String| TopicAdminError::Create {
            topic: spec.name.clone(),
            detail,
        };
        let results = self
            .admin
            .create_topics([&new], &opts)
            .await
            .map_err(|e| failed(e.to_string()))?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(
                    topic = %spec.name,
                    group = spec.group.as_deref().unwrap_or("-"),
                    partitions = spec.partitions,
                    replication_factor = spec.replication_factor,
                    configs = ?spec.configs,
                    "created topic"
                );
                Ok(TopicCreated::Created)
            }
            // Another task (or worker) created it meanwhile: what we wanted.
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(TopicCreated::Existed),
            Some(Err((_, code))) => Err(failed(code.to_string())),
            None => Err(failed("the broker sent no result".into())),
        }
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

    #[test]
    fn no_keys_no_creation() {
        assert!(TopicCreation::parse(&props(&[("topic", "t")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn both_defaults_are_required_once_a_key_is_set() {
        let e = TopicCreation::parse(&props(&[(DEFAULT_PARTITIONS, "3")])).unwrap_err();
        assert!(e.to_string().contains(DEFAULT_REPLICATION_FACTOR), "{e}");
        let e = TopicCreation::parse(&props(&[(DEFAULT_REPLICATION_FACTOR, "1")])).unwrap_err();
        assert!(e.to_string().contains(DEFAULT_PARTITIONS), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let base = [(DEFAULT_PARTITIONS, "3"), (DEFAULT_REPLICATION_FACTOR, "1")];
        for (key, v) in [
            (DEFAULT_PARTITIONS, "0"),
            (DEFAULT_PARTITIONS, "x"),
            (DEFAULT_REPLICATION_FACTOR, "-2"),
            ("topic.creation.g.partitions", "0"),
            ("topic.creation.g.replication.factor", "70000"),
            ("topic.creation.g.include", "a,("),
            ("topic.creation.g.exclude", "[z"),
        ] {
            let mut p = props(&base);
            p.insert(GROUPS.into(), "g".into());
            p.insert(key.into(), v.into());
            let e = TopicCreation::parse(&p).unwrap_err();
            assert!(e.to_string().contains(key), "{key}={v}: {e}");
        }
    }

    #[test]
    fn first_matching_group_wins_and_default_takes_the_rest() {
        let tc = TopicCreation::parse(&props(&[
            (DEFAULT_PARTITIONS, "3"),
            (DEFAULT_REPLICATION_FACTOR, "-1"),
            ("topic.creation.default.cleanup.policy", "compact"),
            (GROUPS, "fast, slow, fast, default"),
            ("topic.creation.fast.include", "fast-.*, quick"),
            ("topic.creation.fast.exclude", "fast-no"),
            ("topic.creation.fast.partitions", "5"),
            ("topic.creation.fast.retention.ms", "1000"),
            ("topic.creation.slow.include", ".*"),
            ("topic.creation.slow.replication.factor", "2"),
        ]))
        .unwrap()
        .unwrap();
        let fast = tc.new_topic("fast-1");
        assert_eq!(fast.group.as_deref(), Some("fast"));
        assert_eq!((fast.partitions, fast.replication_factor), (5, -1));
        assert_eq!(
            fast.configs,
            BTreeMap::from([("retention.ms".to_string(), "1000".to_string())])
        );
        assert_eq!(tc.group_for("quick").name, "fast");
        // Whole-name matches only; exclusion wins.
        assert_eq!(tc.group_for("quickly").name, "slow");
        assert_eq!(tc.group_for("fast-no").name, "slow");
        let slow = tc.new_topic("other");
        assert_eq!((slow.partitions, slow.replication_factor), (3, 2));
        assert!(slow.configs.is_empty());

        let only_default = TopicCreation::parse(&props(&[
            (DEFAULT_PARTITIONS, "3"),
            (DEFAULT_REPLICATION_FACTOR, "1"),
            ("topic.creation.default.cleanup.policy", "compact"),
            ("topic.creation.default.include", "nothing"),
        ]))
        .unwrap()
        .unwrap();
        let d = only_default.new_topic("anything");
        assert_eq!(d.group.as_deref(), Some(DEFAULT_GROUP));
        assert_eq!((d.partitions, d.replication_factor), (3, 1));
        assert_eq!(
            d.configs,
            BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
        );
    }
}
