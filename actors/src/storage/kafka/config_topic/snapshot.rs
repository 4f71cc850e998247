//! The state the config topic's records build up (Connect's `ClusterConfigState`).
//!
//! Exactly-once source support (KIP-618) adds two things per connector, kept as
//! `KafkaConfigBackingStore` keeps them: the task count of the last task count record
//! (`tasks-fencing-<c>`, written by the leader once it fenced the previous generation of tasks)
//! and whether task configs were committed after that record (*pending fencing*: no task of
//! that connector may start until the next record). A commit always makes a connector pending;
//! a task count record always clears it; deleting a connector keeps both, as in Connect, so a
//! re-created connector's first fencing still fences the tasks of its previous life. The task
//! config *generation* counts the commits that applied configs, so the leader can tell whether
//! new configs were committed while it fenced.

use std::collections::{BTreeMap, BTreeSet};

use kconnect_connectors::api::Props;

use super::codec::{ConfigRecord, RestartRequest, SessionKey};
use crate::TargetState;

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
    /// A task count record (`tasks-fencing-<c>`): the connector's tasks were fenced for its
    /// last task configs. Connect's listener hears nothing of it; kconnect's herder holds an
    /// exactly-once source's tasks back until it arrives, so it must hear it.
    TaskCountRecorded(String),
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
    task_config_generations: BTreeMap<String, u64>,
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
            task_config_generations: BTreeMap::new(),
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
                // Connect keeps the (emptied) map of deferred configs between commits, and counts
                // a generation for every complete commit that finds one, even an empty one.
                let seen = self.deferred.get_mut(&connector).map(std::mem::take);
                let had_deferred = seen.is_some();
                let deferred = seen.unwrap_or_default();
                // Only the tasks 0..N must be there: compaction may leave configs of tasks a
                // later commit dropped.
                let complete = (0..tasks).all(|t| deferred.contains_key(&t));
                let mut updated = Vec::new();
                if complete {
                    if had_deferred {
                        self.task_config_generations
                            .entry(connector.clone())
                            .and_modify(|g| *g += 1)
                            .or_insert(0);
                    }
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
                Some(ConfigUpdate::TaskCountRecorded(connector))
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

    /// The task count of the connector's last task count record (`tasks-fencing-<c>`): how many
    /// tasks the last fenced generation had.
    pub fn task_count_record(&self, connector: &str) -> Option<u32> {
        self.task_count_records.get(connector).copied()
    }

    /// Connectors with task configs newer than their last task count record.
    pub fn pending_fencing(&self) -> &BTreeSet<String> {
        &self.pending_fencing
    }

    /// How many complete commits applied task configs, minus one (Connect's
    /// `taskConfigGeneration`); `None` before the first.
    pub fn task_config_generation(&self, connector: &str) -> Option<u64> {
        self.task_config_generations.get(connector).copied()
    }

    pub fn session_key(&self) -> Option<&SessionKey> {
        self.session_key.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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

    #[test]
    fn pending_fencing_follows_commits_and_task_count_records() {
        let mut s = ConfigSnapshot::new();
        let mut offset = 0;
        let mut apply = |s: &mut ConfigSnapshot, r| {
            let u = s.apply(offset, r);
            offset += 1;
            u
        };
        let count = |n| ConfigRecord::TaskCount {
            connector: "c".into(),
            task_count: n,
        };
        apply(&mut s, connector("c", Some(Props::new())));
        assert!(s.pending_fencing().is_empty());
        assert_eq!(s.task_config_generation("c"), None);

        apply(&mut s, task("c", 0, Props::new()));
        apply(&mut s, task("c", 1, Props::new()));
        apply(&mut s, commit("c", 2));
        assert!(s.pending_fencing().contains("c"));
        assert_eq!(s.task_config_generation("c"), Some(0));
        assert_eq!(s.task_count_record("c"), None);
        // The herder hears of the record (Connect's listener does not).
        assert_eq!(
            apply(&mut s, count(2)),
            Some(ConfigUpdate::TaskCountRecorded("c".into()))
        );
        assert!(s.pending_fencing().is_empty());
        assert_eq!(s.task_count_record("c"), Some(2));

        // New configs: pending again, a new generation; the old record stays until the next.
        apply(&mut s, task("c", 0, Props::new()));
        apply(&mut s, commit("c", 1));
        assert!(s.pending_fencing().contains("c"));
        assert_eq!(s.task_config_generation("c"), Some(1));
        assert_eq!(s.task_count_record("c"), Some(2));
        // An empty commit after earlier ones is a generation too (Connect's kept deferred map).
        apply(&mut s, commit("c", 0));
        assert_eq!(s.task_config_generation("c"), Some(2));
        // An incomplete commit is no generation, but still pending.
        apply(&mut s, count(0));
        apply(&mut s, commit("c", 3));
        assert!(s.inconsistent().contains("c"));
        assert_eq!(s.task_config_generation("c"), Some(2));
        assert!(s.pending_fencing().contains("c"));

        // Deleting the connector keeps the record and the pending mark, as Connect does.
        apply(&mut s, connector("c", None));
        assert_eq!(s.task_count_record("c"), Some(0));
        assert!(s.pending_fencing().contains("c"));
        // A first commit of zero tasks finds no deferred configs: no generation in Connect.
        let mut fresh = ConfigSnapshot::new();
        fresh.apply(0, connector("d", Some(Props::new())));
        fresh.apply(1, commit("d", 0));
        assert_eq!(fresh.task_config_generation("d"), None);
        assert!(fresh.pending_fencing().contains("d"));
    }
}
