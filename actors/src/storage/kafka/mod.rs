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
    pub reason: String,
}

impl DecodeError {
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        DecodeError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
