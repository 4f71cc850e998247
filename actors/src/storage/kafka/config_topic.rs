//! The config topic (`config.storage.topic`, one partition, compacted), as Connect's
//! `KafkaConfigBackingStore` writes and reads it.
//!
//! # Records (key → value)
//!
//! | key | value |
//! |---|---|
//! | `connector-<name>` | `{"properties":{...}}`; null when the connector is deleted |
//! | `task-<name>-<n>` | `{"properties":{...}}` (applied only when the next commit arrives) |
//! | `commit-<name>` | `{"tasks":N}` |
//! | `target-state-<name>` | `{"state":"STARTED\|PAUSED","state.v2":"STARTED\|PAUSED\|STOPPED"}` (STOPPED is written with `state` PAUSED for older workers); null on delete |
//! | `restart-connector-<name>` | `{"include-tasks":bool,"only-failed":bool}` |
//! | `tasks-fencing-<name>` | `{"task-count":N}` |
//! | `session-key` | `{"key":"<base64>","algorithm":"HmacSHA256","creation-timestamp":N}` |
//! | `logger-cluster-<namespace>` | `{"level":"DEBUG"}` |
//!
//! Field order is the order of the Connect schemas (`CONNECTOR_CONFIGURATION_V0`,
//! `TARGET_STATE_V1`, `RESTART_REQUEST_V0`, …); properties are written sorted by key (Java writes
//! its map's iteration order, which no reader depends on).
//!
//! [`ConfigSnapshot::apply`] replays records as `KafkaConfigBackingStore`'s consumer callback
//! does: task configs wait for their commit record and apply together only if the commit finds
//! configs for every task 0..N (otherwise the connector is marked inconsistent); deleting a
//! connector drops its task configs and count; a target-state tombstone removes the state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use kconnect_connectors::api::Props;
use serde_json::{json, Map, Value};

use super::json::to_java_json;
use super::log::{KafkaLog, KafkaLogConfig, KafkaLogError, LogRecord};
use super::DecodeError;
use crate::TargetState;

pub const CONNECTOR_PREFIX: &str = "connector-";
pub const TASK_PREFIX: &str = "task-";
pub const COMMIT_TASKS_PREFIX: &str = "commit-";
pub const TARGET_STATE_PREFIX: &str = "target-state-";
pub const RESTART_PREFIX: &str = "restart-connector-";
pub const TASK_COUNT_RECORD_PREFIX: &str = "tasks-fencing-";
pub const SESSION_KEY_KEY: &str = "session-key";
pub const LOGGER_CLUSTER_PREFIX: &str = "logger-cluster-";

/// A restart asked for through the REST API of any worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    pub connector: String,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// The key that signs internal REST requests between workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The key's bytes, base64-encoded as on the topic.
    pub key: String,
    pub algorithm: String,
    pub creation_timestamp: i64,
}

/// One record of the config topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRecord {
    /// `None`: the connector was deleted.
    ConnectorConfig {
        connector: String,
        config: Option<Props>,
    },
    /// `None` never comes from Connect; it is ignored when applied.
    TaskConfig {
        connector: String,
        task: u32,
        config: Option<Props>,
    },
    Commit {
        connector: String,
        tasks: u32,
    },
    /// `None`: removed (written with the connector's deletion).
    TargetState {
        connector: String,
        state: Option<TargetState>,
    },
    Restart(RestartRequest),
    TaskCount {
        connector: String,
        task_count: u32,
    },
    SessionKey(SessionKey),
    LoggerLevel {
        namespace: String,
        level: String,
    },
}

fn target_state_name(state: TargetState) -> &'static str {
    match state {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

fn parse_target_state(name: &str) -> Option<TargetState> {
    match name {
        "STARTED" => Some(TargetState::Started),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

impl ConfigRecord {
    /// The record's key and value bytes (`None`: a tombstone).
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let properties = |config: &Props| to_java_json(&json!({ "properties": config }));
        match self {
            ConfigRecord::ConnectorConfig { connector, config } => (
                format!("{CONNECTOR_PREFIX}{connector}"),
                config.as_ref().map(properties),
            ),
            ConfigRecord::TaskConfig {
                connector,
                task,
                config,
            } => (
                format!("{TASK_PREFIX}{connector}-{task}"),
                config.as_ref().map(properties),
            ),
            ConfigRecord::Commit { connector, tasks } => (
                format!("{COMMIT_TASKS_PREFIX}{connector}"),
                Some(to_java_json(&json!({ "tasks": tasks }))),
            ),
            ConfigRecord::TargetState { connector, state } => (
                format!("{TARGET_STATE_PREFIX}{connector}"),
                state.map(|state| {
                    // Older workers know no STOPPED: they read `state` and see PAUSED.
                    let v1 = match state {
                        TargetState::Stopped => TargetState::Paused,
                        other => other,
                    };
                    to_java_json(&json!({
                        "state": target_state_name(v1),
                        "state.v2": target_state_name(state),
                    }))
                }),
            ),
            ConfigRecord::Restart(r) => (
                format!("{RESTART_PREFIX}{}", r.connector),
                Some(to_java_json(&json!({
                    "include-tasks": r.include_tasks,
                    "only-failed": r.only_failed,
                }))),
            ),
            ConfigRecord::TaskCount {
                connector,
                task_count,
            } => (
                format!("{TASK_COUNT_RECORD_PREFIX}{connector}"),
                Some(to_java_json(&json!({ "task-count": task_count }))),
            ),
            ConfigRecord::SessionKey(k) => (
                SESSION_KEY_KEY.to_string(),
                Some(to_java_json(&json!({
                    "key": k.key,
                    "algorithm": k.algorithm,
                    "creation-timestamp": k.creation_timestamp,
                }))),
            ),
            ConfigRecord::LoggerLevel { namespace, level } => (
                format!("{LOGGER_CLUSTER_PREFIX}{namespace}"),
                Some(to_java_json(&json!({ "level": level }))),
            ),
        }
    }

    /// Parses a record of the config topic. Prefixes are tried in `KafkaConfigBackingStore`'s
    /// order; what Connect would log and skip is an error here.
    pub fn decode(key: &str, value: Option<&[u8]>) -> Result<ConfigRecord, DecodeError> {
        let bad = |reason: String| DecodeError::new(key, reason);
        let value: Option<Map<String, Value>> = match value {
            None => None,
            Some(bytes) => match serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))? {
                Value::Object(m) => Some(m),
                Value::Null => None,
                other => return Err(bad(format!("the value is not a JSON object: {other}"))),
            },
        };
        let object = |what: &str| {
            value
                .as_ref()
                .ok_or_else(|| bad(format!("a {what} cannot be null")))
        };
        let properties = |what: &str| -> Result<Option<Props>, DecodeError> {
            value
                .as_ref()
                .map(|m| decode_properties(m).map_err(|e| bad(format!("{what}: {e}"))))
                .transpose()
        };
        if let Some(connector) = key.strip_prefix(TARGET_STATE_PREFIX) {
            let state = match &value {
                None => None,
                Some(m) => Some(decode_target_state(m).map_err(bad)?),
            };
            Ok(ConfigRecord::TargetState {
                connector: connector.to_string(),
                state,
            })
        } else if let Some(connector) = key.strip_prefix(CONNECTOR_PREFIX) {
            Ok(ConfigRecord::ConnectorConfig {
                connector: connector.to_string(),
                config: properties("connector config")?,
            })
        } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
            let (connector, task) = split_task_id(rest)
                .ok_or_else(|| bad("not a task config key (task-<connector>-<n>)".into()))?;
            Ok(ConfigRecord::TaskConfig {
                connector,
                task,
                config: properties("task config")?,
            })
        } else if let Some(connector) = key.strip_prefix(COMMIT_TASKS_PREFIX) {
            let tasks = count_field(object("task commit")?, "tasks").map_err(bad)?;
            Ok(ConfigRecord::Commit {
                connector: connector.to_string(),
                tasks,
            })
        } else if let Some(connector) = key.strip_prefix(RESTART_PREFIX) {
            let m = object("restart request")?;
            // Connect defaults a missing or mistyped flag to false.
            let flag = |name: &str| m.get(name).and_then(Value::as_bool).unwrap_or(false);
            Ok(ConfigRecord::Restart(RestartRequest {
                connector: connector.to_string(),
                include_tasks: flag("include-tasks"),
                only_failed: flag("only-failed"),
            }))
        } else if let Some(connector) = key.strip_prefix(TASK_COUNT_RECORD_PREFIX) {
            let task_count =
                count_field(object("task count record")?, "task-count").map_err(bad)?;
            Ok(ConfigRecord::TaskCount {
                connector: connector.to_string(),
                task_count,
            })
        } else if key == SESSION_KEY_KEY {
            let m = object("session key")?;
            let string = |name: &str| {
                m.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("'{name}' must be a string")))
            };
            Ok(ConfigRecord::SessionKey(SessionKey {
                key: string("key")?,
                algorithm: string("algorithm")?,
                creation_timestamp: m
                    .get("creation-timestamp")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad("'creation-timestamp' must be an integer".into()))?,
            }))
        } else if let Some(namespace) = key.strip_prefix(LOGGER_CLUSTER_PREFIX) {
            let level = object("logger level")?
                .get("level")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("'level' must be a string".into()))?;
            Ok(ConfigRecord::LoggerLevel {
                namespace: namespace.to_string(),
                level: level.to_string(),
            })
        } else {
            Err(bad("unknown config record key".into()))
        }
    }
}

/// `<connector>-<n>` → (connector, n); the connector name may contain dashes.
fn split_task_id(rest: &str) -> Option<(String, u32)> {
    let (connector, task) = rest.rsplit_once('-')?;
    Some((connector.to_string(), task.parse().ok()?))
}

/// `{"properties":{...}}` → the properties. Null values (allowed by Connect's schema) are left
/// out: to a connector, a null property is an absent one.
fn decode_properties(m: &Map<String, Value>) -> Result<Props, String> {
    let Some(Value::Object(props)) = m.get("properties") else {
        return Err("'properties' must be a JSON object".into());
    };
    let mut out = Props::new();
    for (k, v) in props {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            Value::Null => {}
            other => return Err(format!("property {k:?} is not a string: {other}")),
        }
    }
    Ok(out)
}

/// `state.v2` when it is a string (a bad name is an error, as in Connect), else `state`.
fn decode_target_state(m: &Map<String, Value>) -> Result<TargetState, String> {
    let name = match m.get("state.v2") {
        Some(Value::String(s)) => s,
        _ => match m.get("state") {
            Some(Value::String(s)) => s,
            _ => return Err("'state' must be a string".into()),
        },
    };
    parse_target_state(name).ok_or_else(|| format!("invalid target state {name:?}"))
}

fn count_field(m: &Map<String, Value>, name: &str) -> Result<u32, String> {
    m.get(name)
        .and_then(Value::as_i64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("'{name}' must be a non-negative integer"))
}

/// What applying a record changed, for whoever reacts to it (Connect's `UpdateListener`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigUpdate {
    ConnectorConfigUpdated(String),
    ConnectorConfigRemoved(String),
    /// Only for an existing connector whose state changed.
    TargetStateChanged(String),
    /// A commit: the task ids whose configs were applied (none if the set was incomplete).
    TaskConfigsCommitted {
        connector: String,
        tasks: Vec<u32>,
    },
    RestartRequested(RestartRequest),
    SessionKeyUpdated,
    LoggerLevel {
        namespace: String,
        level: String,
    },
}

/// The connectors, task configs and target states of the cluster, as read from the config
/// topic (Connect's `ClusterConfigState` and the maps behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSnapshot {
    offset: i64,
    connector_configs: BTreeMap<String, Props>,
    target_states: BTreeMap<String, TargetState>,
    task_counts: BTreeMap<String, u32>,
    task_configs: BTreeMap<String, BTreeMap<u32, Props>>,
    deferred: BTreeMap<String, BTreeMap<u32, Props>>,
    inconsistent: BTreeSet<String>,
    task_count_records: BTreeMap<String, u32>,
    pending_fencing: BTreeSet<String>,
    session_key: Option<SessionKey>,
}

impl Default for ConfigSnapshot {
    fn default() -> Self {
        ConfigSnapshot {
            offset: -1,
            connector_configs: BTreeMap::new(),
            target_states: BTreeMap::new(),
            task_counts: BTreeMap::new(),
            task_configs: BTreeMap::new(),
            deferred: BTreeMap::new(),
            inconsistent: BTreeSet::new(),
            task_count_records: BTreeMap::new(),
            pending_fencing: BTreeSet::new(),
            session_key: None,
        }
    }
}

impl ConfigSnapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the record read at `offset` of the topic.
    pub fn apply(&mut self, offset: i64, record: ConfigRecord) -> Option<ConfigUpdate> {
        self.offset = offset + 1;
        match record {
            ConfigRecord::TargetState { connector, state } => {
                let exists = self.connector_configs.contains_key(&connector);
                match state {
                    None => {
                        self.target_states.remove(&connector);
                        // A connector always has a target state.
                        if exists {
                            self.target_states
                                .insert(connector.clone(), TargetState::Started);
                        }
                        None
                    }
                    Some(state) => {
                        let previous = self.target_states.insert(connector.clone(), state);
                        (exists && previous != Some(state))
                            .then_some(ConfigUpdate::TargetStateChanged(connector))
                    }
                }
            }
            ConfigRecord::ConnectorConfig {
                connector,
                config: None,
            } => {
                self.connector_configs.remove(&connector);
                self.task_counts.remove(&connector);
                self.task_configs.remove(&connector);
                self.deferred.remove(&connector);
                Some(ConfigUpdate::ConnectorConfigRemoved(connector))
            }
            ConfigRecord::ConnectorConfig {
                connector,
                config: Some(config),
            } => {
                self.connector_configs.insert(connector.clone(), config);
                self.target_states
                    .entry(connector.clone())
                    .or_insert(TargetState::Started);
                Some(ConfigUpdate::ConnectorConfigUpdated(connector))
            }
            ConfigRecord::TaskConfig {
                connector,
                task,
                config,
            } => {
                match config {
                    Some(config) => {
                        self.deferred
                            .entry(connector)
                            .or_default()
                            .insert(task, config);
                    }
                    None => tracing::warn!(connector, task, "ignoring a null task config"),
                }
                None
            }
            ConfigRecord::Commit { connector, tasks } => {
                let deferred = self.deferred.remove(&connector).unwrap_or_default();
                // Only the tasks 0..N must be there: compaction may leave configs of tasks a
                // later commit dropped.
                let complete = (0..tasks).all(|t| deferred.contains_key(&t));
                let mut updated = Vec::new();
                if complete {
                    if !deferred.is_empty() {
                        updated = deferred.keys().copied().collect();
                        self.task_configs
                            .entry(connector.clone())
                            .or_default()
                            .extend(deferred);
                    }
                    self.inconsistent.remove(&connector);
                } else {
                    tracing::debug!(
                        connector,
                        tasks,
                        "incomplete task configs at a commit \
                        (compaction?): the connector is inconsistent until the next commit"
                    );
                    self.inconsistent.insert(connector.clone());
                }
                self.task_counts.insert(connector.clone(), tasks);
                self.pending_fencing.insert(connector.clone());
                Some(ConfigUpdate::TaskConfigsCommitted {
                    connector,
                    tasks: updated,
                })
            }
            ConfigRecord::Restart(request) => Some(ConfigUpdate::RestartRequested(request)),
            ConfigRecord::TaskCount {
                connector,
                task_count,
            } => {
                self.task_count_records
                    .insert(connector.clone(), task_count);
                self.pending_fencing.remove(&connector);
                None
            }
            ConfigRecord::SessionKey(key) => {
                self.session_key = Some(key);
                Some(ConfigUpdate::SessionKeyUpdated)
            }
            ConfigRecord::LoggerLevel { namespace, level } => {
                Some(ConfigUpdate::LoggerLevel { namespace, level })
            }
        }
    }

    /// The offset after the last record applied (-1 before any).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The connectors that exist (have a config), sorted.
    pub fn connectors(&self) -> Vec<String> {
        self.connector_configs.keys().cloned().collect()
    }

    pub fn contains(&self, connector: &str) -> bool {
        self.connector_configs.contains_key(connector)
    }

    pub fn connector_config(&self, connector: &str) -> Option<&Props> {
        self.connector_configs.get(connector)
    }

    pub fn target_state(&self, connector: &str) -> Option<TargetState> {
        self.target_states.get(connector).copied()
    }

    /// The task count of the last commit.
    pub fn task_count(&self, connector: &str) -> Option<u32> {
        self.task_counts.get(connector).copied()
    }

    /// The task ids to run: 0..count of the last commit, none while inconsistent.
    pub fn tasks(&self, connector: &str) -> Vec<u32> {
        if self.inconsistent.contains(connector) {
            return Vec::new();
        }
        (0..self.task_count(connector).unwrap_or(0)).collect()
    }

    /// The committed config of one task.
    pub fn task_config(&self, connector: &str, task: u32) -> Option<&Props> {
        self.task_configs.get(connector)?.get(&task)
    }

    /// The committed configs of [`tasks`](Self::tasks), in task order.
    pub fn task_configs(&self, connector: &str) -> Vec<Props> {
        self.tasks(connector)
            .into_iter()
            .filter_map(|t| self.task_config(connector, t).cloned())
            .collect()
    }

    /// Connectors whose last commit found an incomplete set of task configs.
    pub fn inconsistent(&self) -> &BTreeSet<String> {
        &self.inconsistent
    }

    /// Task configs read but not committed yet.
    pub fn pending_task_configs(&self, connector: &str) -> usize {
        self.deferred.get(connector).map_or(0, BTreeMap::len)
    }

    pub fn task_count_record(&self, connector: &str) -> Option<u32> {
        self.task_count_records.get(connector).copied()
    }

    /// Connectors with task configs newer than their last task count record.
    pub fn pending_fencing(&self) -> &BTreeSet<String> {
        &self.pending_fencing
    }

    pub fn session_key(&self) -> Option<&SessionKey> {
        self.session_key.as_ref()
    }
}

/// The config topic as a store: a [`ConfigSnapshot`] fed by a [`KafkaLog`], and writes in the
/// order `KafkaConfigBackingStore` makes them. Every write returns once it was read back.
pub struct KafkaConfigStore {
    log: KafkaLog,
    snapshot: Arc<Mutex<ConfigSnapshot>>,
}

impl KafkaConfigStore {
    /// Reads the topic (it must exist, with one partition), then follows it. `listener` hears
    /// about every change read after start, on the log's thread: it must hand the update on
    /// (a channel, an actor message) rather than call back into the store and wait.
    pub fn start(
        config: KafkaLogConfig,
        mut listener: impl FnMut(&ConfigUpdate) + Send + 'static,
    ) -> Result<Self, KafkaLogError> {
        let snapshot = Arc::new(Mutex::new(ConfigSnapshot::new()));
        let started = Arc::new(AtomicBool::new(false));
        let topic = config.topic.clone();
        let log = {
            let snapshot = snapshot.clone();
            let started = started.clone();
            KafkaLog::start(config, move |record: &LogRecord| {
                let Some(record) = decode_log_record(&topic, record) else {
                    return;
                };
                let update = lock(&snapshot).apply(record.0, record.1);
                if let Some(update) = update {
                    if started.load(Ordering::SeqCst) {
                        listener(&update);
                    }
                }
            })?
        };
        if log.partition_count() != 1 {
            return Err(KafkaLogError::Unsuitable {
                topic: log.topic().to_string(),
                reason: format!(
                    "the config topic must have exactly one partition to keep configs in order, \
                     it has {}",
                    log.partition_count()
                ),
            });
        }
        started.store(true, Ordering::SeqCst);
        Ok(KafkaConfigStore { log, snapshot })
    }

    pub fn topic(&self) -> &str {
        self.log.topic()
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> ConfigSnapshot {
        lock(&self.snapshot).clone()
    }

    /// Reads to the end of the topic.
    pub fn refresh(&self) -> Result<(), KafkaLogError> {
        self.log.read_to_end()
    }

    /// Writes a connector's config, preceded by its target state if given.
    pub fn put_connector_config(
        &self,
        connector: &str,
        config: &Props,
        target_state: Option<TargetState>,
    ) -> Result<(), KafkaLogError> {
        let mut records = Vec::new();
        if let Some(state) = target_state {
            records.push(ConfigRecord::TargetState {
                connector: connector.to_string(),
                state: Some(state),
            });
        }
        records.push(ConfigRecord::ConnectorConfig {
            connector: connector.to_string(),
            config: Some(config.clone()),
        });
        self.write(&records)
    }

    /// Deletes a connector: tombstones for its config and its target state.
    pub fn remove_connector_config(&self, connector: &str) -> Result<(), KafkaLogError> {
        self.write(&[
            ConfigRecord::ConnectorConfig {
                connector: connector.to_string(),
                config: None,
            },
            ConfigRecord::TargetState {
                connector: connector.to_string(),
                state: None,
            },
        ])
    }

    /// Writes the task configs, then (once they are all acknowledged) the commit record that
    /// applies them together.
    pub fn put_task_configs(
        &self,
        connector: &str,
        configs: &[Props],
    ) -> Result<(), KafkaLogError> {
        self.log.read_to_end()?;
        let tasks: Vec<ConfigRecord> = configs
            .iter()
            .enumerate()
            .map(|(task, config)| ConfigRecord::TaskConfig {
                connector: connector.to_string(),
                task: task as u32,
                config: Some(config.clone()),
            })
            .collect();
        self.write(&tasks)?;
        self.write(&[ConfigRecord::Commit {
            connector: connector.to_string(),
            tasks: configs.len() as u32,
        }])
    }

    pub fn put_target_state(
        &self,
        connector: &str,
        state: TargetState,
    ) -> Result<(), KafkaLogError> {
        self.write(&[ConfigRecord::TargetState {
            connector: connector.to_string(),
            state: Some(state),
        }])
    }

    pub fn put_restart_request(&self, request: &RestartRequest) -> Result<(), KafkaLogError> {
        self.write(&[ConfigRecord::Restart(request.clone())])
    }

    /// Writes records in order, waits for their acknowledgements and until they were applied.
    pub fn write(&self, records: &[ConfigRecord]) -> Result<(), KafkaLogError> {
        let encoded: Vec<(Option<String>, Option<Vec<u8>>)> = records
            .iter()
            .map(|r| {
                let (key, value) = r.encode();
                (Some(key), value)
            })
            .collect();
        let delivered = self.log.send_all(&encoded)?;
        self.log.wait_until_applied(&delivered)
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

/// Decodes a record of the config topic, logging (and skipping) what cannot be understood.
fn decode_log_record(topic: &str, record: &LogRecord) -> Option<(i64, ConfigRecord)> {
    let key = record.key.as_deref().map(String::from_utf8_lossy);
    let Some(key) = key else {
        tracing::error!(
            topic,
            offset = record.offset,
            "discarding a config record without key"
        );
        return None;
    };
    match ConfigRecord::decode(&key, record.value.as_deref()) {
        Ok(decoded) => Some((record.offset, decoded)),
        Err(e) => {
            tracing::error!(
                topic,
                offset = record.offset,
                "discarding a config record: {e}"
            );
            None
        }
    }
}

fn lock(snapshot: &Mutex<ConfigSnapshot>) -> MutexGuard<'_, ConfigSnapshot> {
    snapshot.lock().unwrap_or_else(|e| e.into_inner())
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

    fn text(record: &ConfigRecord) -> (String, Option<String>) {
        let (k, v) = record.encode();
        (k, v.map(|v| String::from_utf8(v).unwrap()))
    }

    fn connector(name: &str, config: Option<Props>) -> ConfigRecord {
        ConfigRecord::ConnectorConfig {
            connector: name.into(),
            config,
        }
    }

    fn task(name: &str, task: u32, config: Props) -> ConfigRecord {
        ConfigRecord::TaskConfig {
            connector: name.into(),
            task,
            config: Some(config),
        }
    }

    fn commit(name: &str, tasks: u32) -> ConfigRecord {
        ConfigRecord::Commit {
            connector: name.into(),
            tasks,
        }
    }

    fn target(name: &str, state: Option<TargetState>) -> ConfigRecord {
        ConfigRecord::TargetState {
            connector: name.into(),
            state,
        }
    }

    /// Fixtures: the bytes KafkaConfigBackingStore (connect/runtime, org.apache.kafka.connect.
    /// storage) writes through JsonConverter with schemas.enable=false, fields in the order of
    /// its schemas CONNECTOR_CONFIGURATION_V0, CONNECTOR_TASKS_COMMIT_V0, TARGET_STATE_V1,
    /// RESTART_REQUEST_V0, TASK_COUNT_RECORD_V0, SESSION_KEY_V0 and LOGGER_LEVEL_V0.
    #[test]
    fn records_encode_as_connect_writes_them() {
        let cases: Vec<(ConfigRecord, &str, Option<&str>)> = vec![
            (
                connector(
                    "file-source",
                    Some(props(&[
                        ("name", "file-source"),
                        ("connector.class", "FileStreamSource"),
                    ])),
                ),
                "connector-file-source",
                Some(
                    r#"{"properties":{"connector.class":"FileStreamSource","name":"file-source"}}"#,
                ),
            ),
            (
                connector("file-source", None),
                "connector-file-source",
                None,
            ),
            (
                task(
                    "my-conn",
                    3,
                    props(&[("task.class", "T"), ("file", "a\tb")]),
                ),
                "task-my-conn-3",
                Some(r#"{"properties":{"file":"a\tb","task.class":"T"}}"#),
            ),
            (
                commit("my-conn", 4),
                "commit-my-conn",
                Some(r#"{"tasks":4}"#),
            ),
            (
                target("c", Some(TargetState::Started)),
                "target-state-c",
                Some(r#"{"state":"STARTED","state.v2":"STARTED"}"#),
            ),
            (
                target("c", Some(TargetState::Paused)),
                "target-state-c",
                Some(r#"{"state":"PAUSED","state.v2":"PAUSED"}"#),
            ),
            (
                target("c", Some(TargetState::Stopped)),
                "target-state-c",
                Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
            ),
            (target("c", None), "target-state-c", None),
            (
                ConfigRecord::Restart(RestartRequest {
                    connector: "c".into(),
                    include_tasks: true,
                    only_failed: false,
                }),
                "restart-connector-c",
                Some(r#"{"include-tasks":true,"only-failed":false}"#),
            ),
            (
                ConfigRecord::TaskCount {
                    connector: "c".into(),
                    task_count: 2,
                },
                "tasks-fencing-c",
                Some(r#"{"task-count":2}"#),
            ),
            (
                ConfigRecord::SessionKey(SessionKey {
                    key: "a2V5".into(),
                    algorithm: "HmacSHA256".into(),
                    creation_timestamp: 1700000000000,
                }),
                "session-key",
                Some(
                    r#"{"key":"a2V5","algorithm":"HmacSHA256","creation-timestamp":1700000000000}"#,
                ),
            ),
            (
                ConfigRecord::LoggerLevel {
                    namespace: "org.apache.kafka".into(),
                    level: "DEBUG".into(),
                },
                "logger-cluster-org.apache.kafka",
                Some(r#"{"level":"DEBUG"}"#),
            ),
        ];
        for (record, key, value) in cases {
            assert_eq!(
                text(&record),
                (key.to_string(), value.map(str::to_string)),
                "{record:?}"
            );
            // And every record reads back as itself.
            let (k, v) = record.encode();
            assert_eq!(ConfigRecord::decode(&k, v.as_deref()).unwrap(), record);
        }
    }

    #[test]
    fn decoding_follows_connect() {
        // A record written by a worker older than STOPPED has only `state`.
        assert_eq!(
            ConfigRecord::decode("target-state-c", Some(br#"{"state":"PAUSED"}"#)).unwrap(),
            target("c", Some(TargetState::Paused))
        );
        // `state.v2` wins; a bad `state.v2` is an error, not a fallback.
        assert_eq!(
            ConfigRecord::decode(
                "target-state-c",
                Some(br#"{"state":"PAUSED","state.v2":"STOPPED"}"#)
            )
            .unwrap(),
            target("c", Some(TargetState::Stopped))
        );
        assert!(ConfigRecord::decode(
            "target-state-c",
            Some(br#"{"state":"PAUSED","state.v2":"NOPE"}"#)
        )
        .is_err());
        // A non-string `state.v2` falls back on `state`.
        assert_eq!(
            ConfigRecord::decode(
                "target-state-c",
                Some(br#"{"state":"PAUSED","state.v2":null}"#)
            )
            .unwrap(),
            target("c", Some(TargetState::Paused))
        );
        // Connector names with dashes; the task number is after the last one.
        assert_eq!(
            ConfigRecord::decode("task-my-file-source-12", Some(br#"{"properties":{}}"#)).unwrap(),
            task("my-file-source", 12, Props::new())
        );
        assert!(ConfigRecord::decode("task-foo", Some(br#"{"properties":{}}"#)).is_err());
        assert!(ConfigRecord::decode("task-foo-x", Some(br#"{"properties":{}}"#)).is_err());
        // Restart flags default to false.
        assert_eq!(
            ConfigRecord::decode("restart-connector-c", Some(br#"{"include-tasks":"yes"}"#))
                .unwrap(),
            ConfigRecord::Restart(RestartRequest {
                connector: "c".into(),
                include_tasks: false,
                only_failed: false
            })
        );
        // Null property values are absent properties.
        assert_eq!(
            ConfigRecord::decode("connector-c", Some(br#"{"properties":{"a":"1","b":null}}"#))
                .unwrap(),
            connector("c", Some(props(&[("a", "1")])))
        );
        // Integers Connect may have written as longs.
        assert_eq!(
            ConfigRecord::decode("commit-c", Some(br#"{"tasks":2}"#)).unwrap(),
            commit("c", 2)
        );
        for (key, value) in [
            ("commit-c", None),
            ("commit-c", Some(&br#"{"tasks":-1}"#[..])),
            ("connector-c", Some(br#"{"properties":{"a":1}}"#)),
            ("connector-c", Some(br#"[1]"#)),
            ("nonsense", Some(br#"{}"#)),
        ] {
            assert!(ConfigRecord::decode(key, value).is_err(), "{key} {value:?}");
        }
    }

    #[test]
    fn task_configs_apply_only_at_their_commit() {
        let mut s = ConfigSnapshot::new();
        let mut offset = 0;
        let mut apply = |s: &mut ConfigSnapshot, r| {
            let u = s.apply(offset, r);
            offset += 1;
            u
        };
        assert_eq!(
            apply(&mut s, connector("c", Some(props(&[("tasks.max", "2")])))),
            Some(ConfigUpdate::ConnectorConfigUpdated("c".into()))
        );
        assert_eq!(s.target_state("c"), Some(TargetState::Started));
        apply(&mut s, task("c", 0, props(&[("t", "0")])));
        apply(&mut s, task("c", 1, props(&[("t", "1")])));
        assert!(s.tasks("c").is_empty());
        assert_eq!(s.pending_task_configs("c"), 2);
        assert_eq!(
            apply(&mut s, commit("c", 2)),
            Some(ConfigUpdate::TaskConfigsCommitted {
                connector: "c".into(),
                tasks: vec![0, 1]
            })
        );
        assert_eq!(s.tasks("c"), vec![0, 1]);
        assert_eq!(
            s.task_configs("c"),
            vec![props(&[("t", "0")]), props(&[("t", "1")])]
        );
        assert_eq!(s.offset(), 4);

        // Down to one task: the stale config of task 1 stays but is not among the tasks.
        apply(&mut s, task("c", 0, props(&[("t", "new")])));
        assert_eq!(s.task_configs("c")[0], props(&[("t", "0")]));
        apply(&mut s, commit("c", 1));
        assert_eq!(s.task_configs("c"), vec![props(&[("t", "new")])]);

        // A commit without every config (compaction) marks the connector inconsistent…
        apply(&mut s, task("c", 1, props(&[("t", "x")])));
        apply(&mut s, commit("c", 2));
        assert!(s.inconsistent().contains("c"));
        assert!(s.tasks("c").is_empty());
        assert_eq!(
            s.pending_task_configs("c"),
            0,
            "deferred configs are dropped"
        );
        // …until a complete one arrives.
        apply(&mut s, task("c", 0, props(&[("t", "a")])));
        apply(&mut s, task("c", 1, props(&[("t", "b")])));
        apply(&mut s, commit("c", 2));
        assert!(s.inconsistent().is_empty());
        assert_eq!(
            s.task_configs("c"),
            vec![props(&[("t", "a")]), props(&[("t", "b")])]
        );

        // Target states.
        assert_eq!(
            apply(&mut s, target("c", Some(TargetState::Stopped))),
            Some(ConfigUpdate::TargetStateChanged("c".into()))
        );
        assert_eq!(apply(&mut s, target("c", Some(TargetState::Stopped))), None);
        assert_eq!(s.target_state("c"), Some(TargetState::Stopped));
        // A state for a connector not created yet is kept but not announced.
        assert_eq!(apply(&mut s, target("d", Some(TargetState::Paused))), None);
        apply(&mut s, connector("d", Some(Props::new())));
        assert_eq!(s.target_state("d"), Some(TargetState::Paused));

        // Deleting: config and target-state tombstones, as Connect writes them.
        assert_eq!(
            apply(&mut s, connector("c", None)),
            Some(ConfigUpdate::ConnectorConfigRemoved("c".into()))
        );
        apply(&mut s, target("c", None));
        assert!(!s.contains("c"));
        assert_eq!(s.task_count("c"), None);
        assert!(s.task_configs("c").is_empty());
        assert_eq!(s.task_config("c", 0), None);
        assert_eq!(s.target_state("c"), None);
        assert_eq!(s.connectors(), vec!["d".to_string()]);
        // A target-state tombstone for a live connector falls back to STARTED.
        apply(&mut s, target("d", None));
        assert_eq!(s.target_state("d"), Some(TargetState::Started));
    }

    #[test]
    fn zero_tasks_commit_is_consistent() {
        let mut s = ConfigSnapshot::new();
        s.apply(0, connector("c", Some(Props::new())));
        s.apply(1, commit("c", 0));
        assert_eq!(s.task_count("c"), Some(0));
        assert!(s.inconsistent().is_empty());
        assert!(s.tasks("c").is_empty());
        assert!(s.pending_fencing().contains("c"));
        s.apply(
            2,
            ConfigRecord::TaskCount {
                connector: "c".into(),
                task_count: 0,
            },
        );
        assert!(s.pending_fencing().is_empty());
        assert_eq!(s.task_count_record("c"), Some(0));
    }
}
