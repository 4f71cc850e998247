//! A config topic record's key and value bytes, as `KafkaConfigBackingStore` writes them with
//! its `JsonConverter` (`schemas.enable=false`).

use kconnect_connectors::api::Props;
use serde_json::{json, Map, Value};

use super::super::json::to_java_json;
use super::super::{BadField, DecodeError, DecodeReason};
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
        let bad = |reason: DecodeReason| DecodeError::new(key, reason);
        let value: Option<Map<String, Value>> = match value {
            None => None,
            Some(bytes) => match serde_json::from_slice(bytes)
                .map_err(|e| bad(DecodeReason::Json(e.to_string())))?
            {
                Value::Object(m) => Some(m),
                Value::Null => None,
                other => return Err(bad(DecodeReason::ValueNotAnObject(other.to_string()))),
            },
        };
        let object =
            |what: &'static str| value.as_ref().ok_or_else(|| bad(DecodeReason::Null(what)));
        let properties = |what: &'static str| -> Result<Option<Props>, DecodeError> {
            value
                .as_ref()
                .map(|m| {
                    decode_properties(m).map_err(|field| {
                        bad(DecodeReason::Field {
                            what: Some(what),
                            field,
                        })
                    })
                })
                .transpose()
        };
        if let Some(connector) = key.strip_prefix(TARGET_STATE_PREFIX) {
            let state = match &value {
                None => None,
                Some(m) => Some(decode_target_state(m).map_err(|e| bad(e.into()))?),
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
            let (connector, task) = split_task_id(rest).ok_or_else(|| {
                bad(DecodeReason::MalformedKey {
                    kind: "task config",
                    shape: "task-<connector>-<n>",
                })
            })?;
            Ok(ConfigRecord::TaskConfig {
                connector,
                task,
                config: properties("task config")?,
            })
        } else if let Some(connector) = key.strip_prefix(COMMIT_TASKS_PREFIX) {
            let tasks = count_field(object("task commit")?, "tasks").map_err(|e| bad(e.into()))?;
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
            let task_count = count_field(object("task count record")?, "task-count")
                .map_err(|e| bad(e.into()))?;
            Ok(ConfigRecord::TaskCount {
                connector: connector.to_string(),
                task_count,
            })
        } else if key == SESSION_KEY_KEY {
            let m = object("session key")?;
            let string = |name: &'static str| {
                m.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(BadField::NotAString(name).into()))
            };
            Ok(ConfigRecord::SessionKey(SessionKey {
                key: string("key")?,
                algorithm: string("algorithm")?,
                creation_timestamp: m
                    .get("creation-timestamp")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad(BadField::NotAnInteger("creation-timestamp").into()))?,
            }))
        } else if let Some(namespace) = key.strip_prefix(LOGGER_CLUSTER_PREFIX) {
            let level = object("logger level")?
                .get("level")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(BadField::NotAString("level").into()))?;
            Ok(ConfigRecord::LoggerLevel {
                namespace: namespace.to_string(),
                level: level.to_string(),
            })
        } else {
            Err(bad(DecodeReason::UnknownKey("config")))
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
fn decode_properties(m: &Map<String, Value>) -> Result<Props, BadField> {
    let Some(Value::Object(props)) = m.get("properties") else {
        return Err(BadField::NotAnObject("properties"));
    };
    let mut out = Props::new();
    for (k, v) in props {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            Value::Null => {}
            other => {
                return Err(BadField::PropertyNotAString {
                    key: k.clone(),
                    value: other.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// `state.v2` when it is a string (a bad name is an error, as in Connect), else `state`.
fn decode_target_state(m: &Map<String, Value>) -> Result<TargetState, BadField> {
    let name = match m.get("state.v2") {
        Some(Value::String(s)) => s,
        _ => match m.get("state") {
            Some(Value::String(s)) => s,
            _ => return Err(BadField::NotAString("state")),
        },
    };
    parse_target_state(name).ok_or_else(|| BadField::InvalidTargetState(name.clone()))
}

fn count_field(m: &Map<String, Value>, name: &'static str) -> Result<u32, BadField> {
    m.get(name)
        .and_then(Value::as_i64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(BadField::NotACount(name))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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

    /// Task count record, derived from `KafkaConfigBackingStore.TASK_COUNT_RECORD_V0` (one
    /// `task-count` INT32 field) and the key `TASK_COUNT_RECORD_PREFIX + connector`, as the
    /// JsonConverter with schemas off writes it: the exact key and value bytes.
    #[test]
    fn golden_task_count_record() {
        for (connector, count, key, value) in [
            ("c", 0u32, "tasks-fencing-c", &br#"{"task-count":0}"#[..]),
            (
                "my-eos-source",
                4,
                "tasks-fencing-my-eos-source",
                br#"{"task-count":4}"#,
            ),
            // Names are written as given: dashes, dots and non-ASCII need no escaping in a key.
            (
                "a.b-\u{e9}",
                2147483647,
                "tasks-fencing-a.b-\u{e9}",
                br#"{"task-count":2147483647}"#,
            ),
        ] {
            let record = ConfigRecord::TaskCount {
                connector: connector.into(),
                task_count: count,
            };
            let (k, v) = record.encode();
            assert_eq!(k, key);
            assert_eq!(v.as_deref(), Some(value), "{key}");
            assert_eq!(ConfigRecord::decode(key, Some(value)).unwrap(), record);
        }
    }

    /// What a Java worker may put there, read as Connect's `processTaskCountRecord` reads it;
    /// what it would log and skip is an error. One difference: a negative count, which no
    /// worker writes, is refused here (Java would take it and fence nothing).
    #[test]
    fn task_count_records_decode_as_connect_reads_them() {
        let decoded = |value: &[u8]| ConfigRecord::decode("tasks-fencing-c", Some(value));
        assert_eq!(
            decoded(br#"{"task-count":3,"other":"ignored"}"#).unwrap(),
            ConfigRecord::TaskCount {
                connector: "c".into(),
                task_count: 3
            }
        );
        for bad in [
            &br#"{"task-count":-1}"#[..],
            br#"{"task-count":"3"}"#,
            br#"{"task-count":1.5}"#,
            br#"{"tasks":3}"#,
            br#"[3]"#,
        ] {
            let e = decoded(bad).unwrap_err();
            assert_eq!(e.key, "tasks-fencing-c", "{}", String::from_utf8_lossy(bad));
        }
        // A tombstone is no task count record.
        let e = ConfigRecord::decode("tasks-fencing-c", None).unwrap_err();
        assert_eq!(e.reason, DecodeReason::Null("task count record"));
        assert_eq!(e.reason.to_string(), "a task count record cannot be null");
        // The prefix is tried after `task-`'s: a task config key never reads as a record, nor
        // the reverse (`tasks-fencing-c` has no task number).
        assert!(matches!(
            ConfigRecord::decode("task-fencing-c-0", Some(br#"{"properties":{}}"#)).unwrap(),
            ConfigRecord::TaskConfig { .. }
        ));
    }
}
