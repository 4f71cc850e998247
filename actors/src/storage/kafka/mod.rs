//! Worker state kept in Kafka topics, in the formats of Kafka Connect's distributed mode, so a
//! kconnect worker and a Java worker can read each other's records (groundwork for distributed
//! mode; the cluster actor builds on it).
//!
//! | topic (Connect key) | module | Connect class |
//! |---|---|---|
//! | any internal topic | [`log`]: [`KafkaLog`] | `KafkaBasedLog` |
//! | `offset.storage.topic` | [`offsets`]: [`KafkaOffsetStore`] | `KafkaOffsetBackingStore` |
//! | `config.storage.topic` | [`config_topic`]: [`ConfigRecord`], [`ConfigSnapshot`], [`KafkaConfigStore`] | `KafkaConfigBackingStore` |
//! | `status.storage.topic` | [`status_topic`]: [`StatusRecord`], [`StatusSnapshot`], [`KafkaStatusStore`] | `KafkaStatusBackingStore` |
//!
//! Values are JSON as Connect's `JsonConverter` writes them with `schemas.enable=false`
//! (compact, Jackson's escapes and number format: [`json`]); keys of the config and status topics
//! are plain UTF-8 strings. Creating the topics is the caller's job.

pub mod config_topic;
pub mod json;
pub mod log;
pub mod offsets;
pub mod status_topic;

pub use config_topic::{
    ConfigRecord, ConfigSnapshot, ConfigUpdate, KafkaConfigStore, RestartRequest, SessionKey,
};
pub use log::{Delivered, KafkaLog, KafkaLogConfig, KafkaLogError, LogRecord, Receipt};
pub use offsets::KafkaOffsetStore;
pub use status_topic::{KafkaStatusStore, Status, StatusRecord, StatusSnapshot, TopicStatus};

/// A record of an internal topic that cannot be understood. Stores log it and skip the record,
/// as Connect does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {key:?}: {reason}")]
pub struct DecodeError {
    pub key: String,
    #[source]
    pub reason: DecodeReason,
}

impl DecodeError {
    pub fn new(key: &str, reason: impl Into<DecodeReason>) -> Self {
        DecodeError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// What is wrong with a record of an internal topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeReason {
    /// serde_json's message: its error is neither `Clone` nor `Eq`, and a skipped record is
    /// only logged.
    #[error("{0}")]
    Json(String),
    /// The value is JSON but not an object (the value, rendered).
    #[error("the value is not a JSON object: {0}")]
    ValueNotAnObject(String),
    /// A record of this kind needs a value.
    #[error("a {0} cannot be null")]
    Null(&'static str),
    /// The key has the topic's prefix for this kind but not its shape.
    #[error("not a {kind} key ({shape})")]
    MalformedKey {
        kind: &'static str,
        shape: &'static str,
    },
    /// No prefix of the topic (`config`, `status`) matches the key.
    #[error("unknown {0} record key")]
    UnknownKey(&'static str),
    #[error("empty connector name")]
    EmptyConnectorName,
    #[error("an offset key must be a JSON array")]
    OffsetKeyNotAnArray,
    #[error("an offset key must have two elements")]
    OffsetKeyLength,
    #[error("the connector name must be a string")]
    ConnectorNotAString,
    #[error("the source partition must be a JSON object")]
    PartitionNotAnObject,
    /// An offset value that is JSON but not an object (rendered).
    #[error("an offset must be a JSON object, not {0}")]
    OffsetNotAnObject(String),
    /// A field of the value, in a record of kind `what` when given.
    #[error("{}{field}", .what.map(|w| format!("{w}: ")).unwrap_or_default())]
    Field {
        what: Option<&'static str>,
        #[source]
        field: BadField,
    },
}

impl From<BadField> for DecodeReason {
    fn from(field: BadField) -> Self {
        DecodeReason::Field { what: None, field }
    }
}

/// A field of a record's value that is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadField {
    #[error("unknown state {0:?}")]
    UnknownState(String),
    #[error("invalid target state {0:?}")]
    InvalidTargetState(String),
    #[error("'{0}' must be a string")]
    NotAString(&'static str),
    #[error("'{0}' must be a string or null")]
    NotAStringOrNull(&'static str),
    #[error("'{0}' must be an integer")]
    NotAnInteger(&'static str),
    #[error("'{0}' must be a non-negative integer")]
    NotACount(&'static str),
    #[error("'{0}' must be a JSON object")]
    NotAnObject(&'static str),
    /// A connector or task property (the key, and the value rendered as JSON).
    #[error("property {key:?} is not a string: {value}")]
    PropertyNotAString { key: String, value: String },
}
