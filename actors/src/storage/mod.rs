//! Durable worker-side state.

mod file_offsets;
pub mod kafka;

pub use file_offsets::{ConnectorWrite, Corrupt, FileOffsetStore, OffsetStoreError};
pub use kafka::{KafkaConfigStore, KafkaLog, KafkaLogConfig, KafkaOffsetStore, KafkaStatusStore};
