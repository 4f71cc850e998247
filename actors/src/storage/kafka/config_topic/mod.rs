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
//!
//! The module is in three parts: [`codec`] (a record's key and value bytes), [`snapshot`] (the
//! state the records build up) and [`store`] (the topic's I/O behind them).

pub mod codec;
pub mod snapshot;
pub mod store;

pub use codec::*;
pub use snapshot::{ConfigSnapshot, ConfigUpdate};
pub use store::KafkaConfigStore;

/// Records the tests of the codec and of the snapshot build.
#[cfg(test)]
mod fixtures {
    use super::ConfigRecord;
    use crate::TargetState;
    use kconnect_connectors::api::Props;

    pub(super) fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(super) fn text(record: &ConfigRecord) -> (String, Option<String>) {
        let (k, v) = record.encode();
        (k, v.map(|v| String::from_utf8(v).unwrap()))
    }

    pub(super) fn connector(name: &str, config: Option<Props>) -> ConfigRecord {
        ConfigRecord::ConnectorConfig {
            connector: name.into(),
            config,
        }
    }

    pub(super) fn task(name: &str, task: u32, config: Props) -> ConfigRecord {
        ConfigRecord::TaskConfig {
            connector: name.into(),
            task,
            config: Some(config),
        }
    }

    pub(super) fn commit(name: &str, tasks: u32) -> ConfigRecord {
        ConfigRecord::Commit {
            connector: name.into(),
            tasks,
        }
    }

    pub(super) fn target(name: &str, state: Option<TargetState>) -> ConfigRecord {
        ConfigRecord::TargetState {
            connector: name.into(),
            state,
        }
    }
}
