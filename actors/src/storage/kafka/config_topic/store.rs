//! The config topic as a store: its log, the snapshot the log feeds, and the writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use kconnect_connectors::api::Props;

use super::super::log::{KafkaLog, KafkaLogConfig, KafkaLogError, LogRecord};
use super::codec::{ConfigRecord, RestartRequest};
use super::snapshot::{ConfigSnapshot, ConfigUpdate};
use crate::TargetState;

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

    /// Records that the connector's previous tasks were fenced and `task_count` tasks may start
    /// (the leader's write after a round of zombie fencing).
    pub fn put_task_count_record(
        &self,
        connector: &str,
        task_count: u32,
    ) -> Result<(), KafkaLogError> {
        self.write(&[ConfigRecord::TaskCount {
            connector: connector.to_string(),
            task_count,
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
