//! The status topic (`status.storage.topic`, compacted), as Connect's `KafkaStatusBackingStore`
//! writes and reads it.
//!
//! # Records (key → value)
//!
//! | key | value |
//! |---|---|
//! | `status-connector-<name>` | `{"state":"RUNNING","trace":null,"worker_id":"host:port","generation":N}`; null once the connector is deleted (Connect's DESTROYED) |
//! | `status-task-<name>-<n>` | the same |
//! | `status-topic-<topic>:connector-<name>` | `{"topic":{"name":"<topic>","connector":"<name>","task":N,"discoverTimestamp":MS}}`; null on reset |
//!
//! Field order is that of `STATUS_SCHEMA_V0` and `TOPIC_STATUS_VALUE_SCHEMA_V0`; a missing
//! trace is written as `"trace":null` (JsonConverter writes every field of a struct).
//!
//! Reading always applies the latest record (a connector tombstone also drops its tasks).
//! Writing "safely" ([`Status::can_replace`], Connect's `putSafe`) only replaces a status from
//! the same worker or from an older (or equal) generation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};

use super::json::to_java_json;
use super::log::{KafkaLog, KafkaLogConfig, KafkaLogError, LogRecord};
pub use super::BadField;
use super::{DecodeError, DecodeReason};
use crate::status::State;

pub const CONNECTOR_STATUS_PREFIX: &str = "status-connector-";
pub const TASK_STATUS_PREFIX: &str = "status-task-";
pub const TOPIC_STATUS_PREFIX: &str = "status-topic-";
pub const TOPIC_STATUS_SEPARATOR: &str = ":connector-";

/// The status of a connector or task as one worker reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
    /// `host:port` of the worker that wrote it.
    pub worker_id: String,
    /// The group generation the worker was in.
    pub generation: i32,
}

impl Status {
    /// Whether this status may overwrite `existing` in a safe write: there is none, it comes
    /// from the same worker, or from an older or equal generation.
    pub fn can_replace(&self, existing: Option<&Status>) -> bool {
        existing.is_none_or(|e| e.worker_id == self.worker_id || e.generation <= self.generation)
    }

    fn to_json(&self) -> Vec<u8> {
        to_java_json(&json!({
            "state": self.state.as_str(),
            "trace": self.trace,
            "worker_id": self.worker_id,
            "generation": self.generation,
        }))
    }

    fn from_json(m: &Map<String, Value>) -> Result<Status, BadField> {
        let state = match m.get("state") {
            Some(Value::String(s)) => {
                parse_state(s).ok_or_else(|| BadField::UnknownState(s.clone()))?
            }
            _ => return Err(BadField::NotAString("state")),
        };
        let trace = match m.get("trace") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(BadField::NotAStringOrNull("trace")),
        };
        let worker_id = m
            .get("worker_id")
            .and_then(Value::as_str)
            .ok_or(BadField::NotAString("worker_id"))?
            .to_string();
        let generation = m
            .get("generation")
            .and_then(Value::as_i64)
            .ok_or(BadField::NotAnInteger("generation"))? as i32;
        Ok(Status {
            state,
            trace,
            worker_id,
            generation,
        })
    }
}

fn parse_state(name: &str) -> Option<State> {
    [
        State::Unassigned,
        State::Running,
        State::Paused,
        State::Failed,
        State::Restarting,
        State::Stopped,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// A topic a connector used (`GET /connectors/{c}/topics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub topic: String,
    pub connector: String,
    pub task: i32,
    /// Milliseconds since the epoch.
    pub discover_timestamp: i64,
}

/// One record of the status topic; `None` statuses are tombstones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    Connector {
        connector: String,
        status: Option<Status>,
    },
    Task {
        connector: String,
        task: u32,
        status: Option<Status>,
    },
    Topic {
        topic: String,
        connector: String,
        status: Option<TopicStatus>,
    },
}

impl StatusRecord {
    /// The record's key and value bytes (`None`: a tombstone).
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        match self {
            StatusRecord::Connector { connector, status } => (
                format!("{CONNECTOR_STATUS_PREFIX}{connector}"),
                status.as_ref().map(Status::to_json),
            ),
            StatusRecord::Task {
                connector,
                task,
                status,
            } => (
                format!("{TASK_STATUS_PREFIX}{connector}-{task}"),
                status.as_ref().map(Status::to_json),
            ),
            StatusRecord::Topic {
                topic,
                connector,
                status,
            } => (
                format!("{TOPIC_STATUS_PREFIX}{topic}{TOPIC_STATUS_SEPARATOR}{connector}"),
                status.as_ref().map(|s| {
                    to_java_json(&json!({"topic": {
                        "name": s.topic,
                        "connector": s.connector,
                        "task": s.task,
                        "discoverTimestamp": s.discover_timestamp,
                    }}))
                }),
            ),
        }
    }

    /// Parses a record of the status topic; what Connect would log and skip is an error.
    pub fn decode(key: &str, value: Option<&[u8]>) -> Result<StatusRecord, DecodeError> {
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
        let status = || {
            value
                .as_ref()
                .map(|m| Status::from_json(m).map_err(|e| bad(e.into())))
                .transpose()
        };
        if let Some(connector) = key.strip_prefix(CONNECTOR_STATUS_PREFIX) {
            if connector.is_empty() {
                return Err(bad(DecodeReason::EmptyConnectorName));
            }
            Ok(StatusRecord::Connector {
                connector: connector.to_string(),
                status: status()?,
            })
        } else if let Some(rest) = key.strip_prefix(TASK_STATUS_PREFIX) {
            let (connector, task) = rest
                .rsplit_once('-')
                .and_then(|(c, t)| Some((c.to_string(), t.parse().ok()?)))
                .ok_or_else(|| {
                    bad(DecodeReason::MalformedKey {
                        kind: "task status",
                        shape: "status-task-<connector>-<n>",
                    })
                })?;
            Ok(StatusRecord::Task {
                connector,
                task,
                status: status()?,
            })
        } else if let Some(rest) = key.strip_prefix(TOPIC_STATUS_PREFIX) {
            // Topic names cannot contain ':', connector names can.
            let (topic, connector) = rest
                .split_once(TOPIC_STATUS_SEPARATOR)
                .filter(|(t, c)| !t.is_empty() && !c.is_empty() && !t.contains(':'))
                .ok_or_else(|| {
                    bad(DecodeReason::MalformedKey {
                        kind: "topic status",
                        shape: "status-topic-<topic>:connector-<name>",
                    })
                })?;
            let status = value
                .as_ref()
                .map(|m| decode_topic_status(m).map_err(|e| bad(e.into())))
                .transpose()?;
            Ok(StatusRecord::Topic {
                topic: topic.to_string(),
                connector: connector.to_string(),
                status,
            })
        } else {
            Err(bad(DecodeReason::UnknownKey("status")))
        }
    }
}

fn decode_topic_status(m: &Map<String, Value>) -> Result<TopicStatus, BadField> {
    let Some(Value::Object(t)) = m.get("topic") else {
        return Err(BadField::NotAnObject("topic"));
    };
    let string = |name: &'static str| {
        t.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(BadField::NotAString(name))
    };
    let int = |name: &'static str| {
        t.get(name)
            .and_then(Value::as_i64)
            .ok_or(BadField::NotAnInteger(name))
    };
    Ok(TopicStatus {
        topic: string("name")?,
        connector: string("connector")?,
        task: int("task")? as i32,
        discover_timestamp: int("discoverTimestamp")?,
    })
}

/// Every status read from the topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    connectors: BTreeMap<String, Status>,
    tasks: BTreeMap<String, BTreeMap<u32, Status>>,
    topics: BTreeMap<String, BTreeMap<String, TopicStatus>>,
}

impl StatusSnapshot {
    /// Applies a record read from the topic: the latest record always wins.
    pub fn apply(&mut self, record: StatusRecord) {
        match record {
            StatusRecord::Connector {
                connector,
                status: None,
            } => {
                self.connectors.remove(&connector);
                self.tasks.remove(&connector);
            }
            StatusRecord::Connector {
                connector,
                status: Some(s),
            } => {
                self.connectors.insert(connector, s);
            }
            StatusRecord::Task {
                connector,
                task,
                status: None,
            } => {
                if let Some(tasks) = self.tasks.get_mut(&connector) {
                    tasks.remove(&task);
                    if tasks.is_empty() {
                        self.tasks.remove(&connector);
                    }
                }
            }
            StatusRecord::Task {
                connector,
                task,
                status: Some(s),
            } => {
                self.tasks.entry(connector).or_default().insert(task, s);
            }
            StatusRecord::Topic {
                topic,
                connector,
                status: None,
            } => {
                if let Some(topics) = self.topics.get_mut(&connector) {
                    topics.remove(&topic);
                    if topics.is_empty() {
                        self.topics.remove(&connector);
                    }
                }
            }
            StatusRecord::Topic {
                topic,
                connector,
                status: Some(s),
            } => {
                self.topics.entry(connector).or_default().insert(topic, s);
            }
        }
    }

    pub fn connector(&self, connector: &str) -> Option<&Status> {
        self.connectors.get(connector)
    }

    pub fn task(&self, connector: &str, task: u32) -> Option<&Status> {
        self.tasks.get(connector)?.get(&task)
    }

    /// The task statuses of a connector, by task id.
    pub fn tasks(&self, connector: &str) -> Vec<(u32, Status)> {
        self.tasks
            .get(connector)
            .map(|t| t.iter().map(|(id, s)| (*id, s.clone())).collect())
            .unwrap_or_default()
    }

    /// Connectors with a status.
    pub fn connectors(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    /// The topics a connector used, by name.
    pub fn topics(&self, connector: &str) -> Vec<TopicStatus> {
        self.topics
            .get(connector)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether a safe write of `record` would be allowed (always, for tombstones and topics).
    pub fn can_write_safely(&self, record: &StatusRecord) -> bool {
        match record {
            StatusRecord::Connector {
                connector,
                status: Some(s),
            } => s.can_replace(self.connector(connector)),
            StatusRecord::Task {
                connector,
                task,
                status: Some(s),
            } => s.can_replace(self.task(connector, *task)),
            _ => true,
        }
    }
}

/// The status topic as a store: a [`StatusSnapshot`] fed by a [`KafkaLog`].
pub struct KafkaStatusStore {
    log: KafkaLog,
    snapshot: Arc<Mutex<StatusSnapshot>>,
}

impl KafkaStatusStore {
    /// Reads the topic (it must exist), then follows it.
    pub fn start(config: KafkaLogConfig) -> Result<Self, KafkaLogError> {
        let snapshot = Arc::new(Mutex::new(StatusSnapshot::default()));
        let topic = config.topic.clone();
        let feed = snapshot.clone();
        let log = KafkaLog::start(config, move |record: &LogRecord| {
            let Some(key) = record.key.as_deref().map(String::from_utf8_lossy) else {
                tracing::warn!(
                    topic,
                    offset = record.offset,
                    "discarding a status record without key"
                );
                return;
            };
            match StatusRecord::decode(&key, record.value.as_deref()) {
                Ok(r) => lock(&feed).apply(r),
                Err(e) => tracing::warn!(
                    topic,
                    offset = record.offset,
                    "discarding a status record: {e}"
                ),
            }
        })?;
        Ok(KafkaStatusStore { log, snapshot })
    }

    pub fn topic(&self) -> &str {
        self.log.topic()
    }

    /// A copy of the statuses read so far.
    pub fn snapshot(&self) -> StatusSnapshot {
        lock(&self.snapshot).clone()
    }

    /// Reads to the end of the topic.
    pub fn refresh(&self) -> Result<(), KafkaLogError> {
        self.log.read_to_end()
    }

    /// Writes the record and waits until it was read back.
    pub fn put(&self, record: &StatusRecord) -> Result<(), KafkaLogError> {
        let (key, value) = record.encode();
        let delivered = self.log.send(Some(key.as_bytes()), value.as_deref())?;
        self.log.wait_until_applied(&[delivered])
    }

    /// Writes the record unless it would replace a status of another worker from a newer
    /// generation ([`Status::can_replace`]). Returns whether it was written.
    pub fn put_safe(&self, record: &StatusRecord) -> Result<bool, KafkaLogError> {
        if !lock(&self.snapshot).can_write_safely(record) {
            return Ok(false);
        }
        self.put(record).map(|()| true)
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

fn lock(snapshot: &Mutex<StatusSnapshot>) -> MutexGuard<'_, StatusSnapshot> {
    snapshot.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_status_value_names_its_field_as_a_type() {
        let value = |v: serde_json::Value| v.as_object().unwrap().clone();
        let ok = json!({"state": "RUNNING", "trace": null, "worker_id": "w:1", "generation": 3});
        assert_eq!(
            Status::from_json(&value(ok.clone())).unwrap(),
            status(State::Running, "w:1", 3)
        );
        let mut v = value(ok.clone());
        v.insert("state".into(), json!("DONE"));
        assert_eq!(
            Status::from_json(&v).unwrap_err(),
            BadField::UnknownState("DONE".into())
        );
        let mut v = value(ok.clone());
        v.remove("generation");
        assert_eq!(
            Status::from_json(&v).unwrap_err(),
            BadField::NotAnInteger("generation")
        );
        let mut v = value(ok);
        v.insert("trace".into(), json!(1));
        let e = Status::from_json(&v).unwrap_err();
        assert_eq!(e, BadField::NotAStringOrNull("trace"));
        assert_eq!(e.to_string(), "'trace' must be a string or null");
        assert_eq!(
            decode_topic_status(&value(json!({"topic": []}))).unwrap_err(),
            BadField::NotAnObject("topic")
        );
    }

    fn status(state: State, worker: &str, generation: i32) -> Status {
        Status {
            state,
            trace: None,
            worker_id: worker.into(),
            generation,
        }
    }

    fn text(record: &StatusRecord) -> (String, Option<String>) {
        let (k, v) = record.encode();
        (k, v.map(|v| String::from_utf8(v).unwrap()))
    }

    /// Fixtures: what KafkaStatusBackingStore (org.apache.kafka.connect.storage) writes through
    /// JsonConverter with schemas.enable=false: STATUS_SCHEMA_V0 (state, trace, worker_id,
    /// generation; a null trace is written as null) and TOPIC_STATUS_SCHEMA_V0.
    #[test]
    fn records_encode_as_connect_writes_them() {
        let failed = Status {
            state: State::Failed,
            trace: Some("java.lang.Exception: boom\n\tat X.y(X.java:1)".into()),
            worker_id: "10.0.0.1:8083".into(),
            generation: 7,
        };
        let cases = vec![
            (
                StatusRecord::Connector {
                    connector: "file-source".into(),
                    status: Some(status(State::Running, "127.0.0.1:8083", 3)),
                },
                "status-connector-file-source",
                Some(
                    r#"{"state":"RUNNING","trace":null,"worker_id":"127.0.0.1:8083","generation":3}"#,
                ),
            ),
            (
                StatusRecord::Task {
                    connector: "my-sink".into(),
                    task: 2,
                    status: Some(failed),
                },
                "status-task-my-sink-2",
                Some(
                    r#"{"state":"FAILED","trace":"java.lang.Exception: boom\n\tat X.y(X.java:1)","worker_id":"10.0.0.1:8083","generation":7}"#,
                ),
            ),
            (
                StatusRecord::Connector {
                    connector: "gone".into(),
                    status: None,
                },
                "status-connector-gone",
                None,
            ),
            (
                StatusRecord::Topic {
                    topic: "connect-test".into(),
                    connector: "file-source".into(),
                    status: Some(TopicStatus {
                        topic: "connect-test".into(),
                        connector: "file-source".into(),
                        task: 0,
                        discover_timestamp: 1700000000123,
                    }),
                },
                "status-topic-connect-test:connector-file-source",
                Some(
                    r#"{"topic":{"name":"connect-test","connector":"file-source","task":0,"discoverTimestamp":1700000000123}}"#,
                ),
            ),
        ];
        for (record, key, value) in cases {
            assert_eq!(text(&record), (key.to_string(), value.map(str::to_string)));
            let (k, v) = record.encode();
            assert_eq!(StatusRecord::decode(&k, v.as_deref()).unwrap(), record);
        }
    }

    #[test]
    fn decoding_keys() {
        assert_eq!(
            StatusRecord::decode("status-task-a-b-c-10", None).unwrap(),
            StatusRecord::Task {
                connector: "a-b-c".into(),
                task: 10,
                status: None
            }
        );
        assert_eq!(
            StatusRecord::decode("status-topic-t:connector-my:conn", None).unwrap(),
            StatusRecord::Topic {
                topic: "t".into(),
                connector: "my:conn".into(),
                status: None
            }
        );
        for key in [
            "status-task-a",
            "status-task-a-x",
            "status-topic-:connector-c",
            "status-topic-t:connector-",
            "status-topic-t",
            "status-connector-",
            "other",
        ] {
            assert!(StatusRecord::decode(key, None).is_err(), "{key}");
        }
        // A missing trace reads as none; a missing generation is an error.
        assert_eq!(
            StatusRecord::decode(
                "status-connector-c",
                Some(br#"{"state":"PAUSED","worker_id":"w:1","generation":1}"#)
            )
            .unwrap(),
            StatusRecord::Connector {
                connector: "c".into(),
                status: Some(status(State::Paused, "w:1", 1))
            }
        );
        assert!(StatusRecord::decode(
            "status-connector-c",
            Some(br#"{"state":"PAUSED","worker_id":"w:1"}"#)
        )
        .is_err());
        assert!(StatusRecord::decode(
            "status-connector-c",
            Some(br#"{"state":"SLEEPING","worker_id":"w:1","generation":1}"#)
        )
        .is_err());
    }

    #[test]
    fn safe_writes_replace_same_worker_or_older_generation() {
        let existing = status(State::Running, "a:1", 5);
        assert!(status(State::Failed, "b:1", 5).can_replace(None));
        assert!(status(State::Failed, "a:1", 1).can_replace(Some(&existing)));
        assert!(status(State::Failed, "b:1", 5).can_replace(Some(&existing)));
        assert!(status(State::Failed, "b:1", 6).can_replace(Some(&existing)));
        assert!(!status(State::Failed, "b:1", 4).can_replace(Some(&existing)));

        let mut s = StatusSnapshot::default();
        s.apply(StatusRecord::Task {
            connector: "c".into(),
            task: 0,
            status: Some(existing.clone()),
        });
        let stale = StatusRecord::Task {
            connector: "c".into(),
            task: 0,
            status: Some(status(State::Unassigned, "b:1", 4)),
        };
        assert!(!s.can_write_safely(&stale));
        // Reading always applies: the topic's order is the truth.
        s.apply(stale);
        assert_eq!(s.task("c", 0).unwrap().worker_id, "b:1");
    }

    #[test]
    fn tombstones_remove() {
        let mut s = StatusSnapshot::default();
        let running = status(State::Running, "a:1", 1);
        s.apply(StatusRecord::Connector {
            connector: "c".into(),
            status: Some(running.clone()),
        });
        for task in 0..2 {
            s.apply(StatusRecord::Task {
                connector: "c".into(),
                task,
                status: Some(running.clone()),
            });
        }
        s.apply(StatusRecord::Topic {
            topic: "t".into(),
            connector: "c".into(),
            status: Some(TopicStatus {
                topic: "t".into(),
                connector: "c".into(),
                task: 0,
                discover_timestamp: 1,
            }),
        });
        s.apply(StatusRecord::Task {
            connector: "c".into(),
            task: 1,
            status: None,
        });
        assert_eq!(s.tasks("c").len(), 1);
        s.apply(StatusRecord::Connector {
            connector: "c".into(),
            status: None,
        });
        assert_eq!(s.connector("c"), None);
        assert!(
            s.tasks("c").is_empty(),
            "a connector tombstone drops its tasks"
        );
        assert_eq!(s.topics("c").len(), 1);
        s.apply(StatusRecord::Topic {
            topic: "t".into(),
            connector: "c".into(),
            status: None,
        });
        assert!(s.topics("c").is_empty());
    }
}
