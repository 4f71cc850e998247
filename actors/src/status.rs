//! Connector and task states as Connect reports them, kept where the REST layer and tests can
//! read them and await changes (no polling loops: `wait_until` wakes on every update).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Connect's states (`AbstractStatus.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
}

impl State {
    /// The state of something that runs: RUNNING, or PAUSED while its target is PAUSED.
    pub fn running(paused: bool) -> State {
        if paused {
            State::Paused
        } else {
            State::Running
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
            State::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a connector or one of its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: State,
    pub worker_id: String,
    /// The error trace of the last failure, if any.
    pub trace: Option<String>,
    /// Restarts performed by the supervisor so far.
    pub restarts: u32,
}

/// One connector's status and its tasks'.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorStatus {
    pub name: String,
    /// "source" or "sink".
    pub kind: String,
    pub connector: Status,
    pub tasks: BTreeMap<u32, Status>,
    /// Topics the connector's tasks produced to or consumed from (Connect's active topics).
    pub topics: std::collections::BTreeSet<String>,
}

/// What `POST /connectors/{c}/restart` restarts (Connect's `RestartRequest`): the connector
/// unless `only_failed` and it is not FAILED; with `include_tasks`, every task, or only the
/// FAILED ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartRequest {
    pub include_tasks: bool,
    pub only_failed: bool,
}

impl RestartRequest {
    pub fn restarts_connector(&self, connector: &Status) -> bool {
        !self.only_failed || connector.state == State::Failed
    }

    pub fn restarts_task(&self, task: &Status) -> bool {
        self.include_tasks && (!self.only_failed || task.state == State::Failed)
    }
}

impl ConnectorStatus {
    /// Connect's restart plan (`AbstractHerder.buildRestartPlan`): this status with everything
    /// `request` restarts shown as RESTARTING (worker and trace as they were). It is what the
    /// restart answers, whatever the restart has done by the time the answer is sent.
    pub fn restart_plan(&self, request: RestartRequest) -> ConnectorStatus {
        let mut plan = self.clone();
        if request.restarts_connector(&self.connector) {
            plan.connector.state = State::Restarting;
        }
        for task in plan.tasks.values_mut() {
            if request.restarts_task(task) {
                task.state = State::Restarting;
            }
        }
        plan
    }
}

/// A status this worker set, or a topic a task started using, as a listener hears it
/// (distributed mode writes it to the status topic).
#[derive(Debug, Clone)]
pub enum StatusChange {
    State {
        connector: String,
        /// `None` for the connector instance itself.
        task: Option<u32>,
        status: Status,
    },
    TopicUsed {
        connector: String,
        task: u32,
        topic: String,
    },
}

pub type StatusListener = Arc<dyn Fn(StatusChange) + Send + Sync>;

/// Every connector's status on this worker.
#[derive(Clone)]
pub struct StatusStore {
    inner: Arc<Mutex<BTreeMap<String, ConnectorStatus>>>,
    changed: watch::Sender<u64>,
    worker_id: String,
    listener: Option<StatusListener>,
}

impl StatusStore {
    pub fn new(worker_id: impl Into<String>) -> Self {
        StatusStore {
            inner: Arc::default(),
            changed: watch::channel(0).0,
            worker_id: worker_id.into(),
            listener: None,
        }
    }

    /// The same store, telling `listener` about every connector and task status set.
    pub fn with_listener(mut self, listener: StatusListener) -> Self {
        self.listener = Some(listener);
        self
    }

    fn tell(&self, connector: &str, task: Option<u32>, status: &Status) {
        if let Some(l) = &self.listener {
            l(StatusChange::State {
                connector: connector.to_string(),
                task,
                status: status.clone(),
            });
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    fn update(&self, f: impl FnOnce(&mut BTreeMap<String, ConnectorStatus>)) {
        {
            let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut m);
            let tasks = m.values().map(|c| c.tasks.len()).sum();
            crate::metrics::worker_counts(m.len(), tasks);
        }
        self.changed.send_modify(|v| *v += 1);
    }

    fn status(&self, state: State, trace: Option<String>, restarts: u32) -> Status {
        // Every status goes through here: REST, the status topic and the log never see a value
        // a config provider resolved.
        let trace = trace.map(|t| crate::config_providers::hide_secrets(&t).into_owned());
        Status {
            state,
            worker_id: self.worker_id.clone(),
            trace,
            restarts,
        }
    }

    /// A connector starts (UNASSIGNED, no tasks yet). One that is still known (its config
    /// changed) keeps its active topics: Connect forgets them only on a reset or a delete.
    pub fn connector_added(&self, name: &str, kind: &str) {
        let s = self.status(State::Unassigned, None, 0);
        self.update(|m| {
            let topics = m.remove(name).map(|c| c.topics).unwrap_or_default();
            m.insert(
                name.to_string(),
                ConnectorStatus {
                    name: name.to_string(),
                    kind: kind.to_string(),
                    connector: s,
                    tasks: BTreeMap::new(),
                    topics,
                },
            );
        });
    }

    pub fn connector_removed(&self, name: &str) {
        self.update(|m| {
            m.remove(name);
        });
    }

    pub fn set_connector(&self, name: &str, state: State, trace: Option<String>, restarts: u32) {
        let s = self.status(state, trace, restarts);
        self.tell(name, None, &s);
        self.update(|m| {
            if let Some(c) = m.get_mut(name) {
                c.connector = s;
            }
        });
    }

    pub fn set_task(
        &self,
        name: &str,
        task: u32,
        state: State,
        trace: Option<String>,
        restarts: u32,
    ) {
        crate::metrics::task_state(name, task, state);
        let s = self.status(state, trace, restarts);
        self.tell(name, Some(task), &s);
        self.update(|m| {
            if let Some(c) = m.get_mut(name) {
                c.tasks.insert(task, s);
            }
        });
    }

    /// Forgets a task that no longer runs here (distributed mode: it moved elsewhere).
    pub fn forget_task(&self, name: &str, task: u32) {
        self.update(|m| {
            if let Some(c) = m.get_mut(name) {
                c.tasks.remove(&task);
            }
        });
    }

    /// Records that task `task` of the connector uses `topic` (a no-op when already known).
    pub fn topic_used(&self, name: &str, task: u32, topic: &str) {
        let known = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_none_or(|c| c.topics.contains(topic));
        if !known {
            if let Some(l) = &self.listener {
                l(StatusChange::TopicUsed {
                    connector: name.to_string(),
                    task,
                    topic: topic.to_string(),
                });
            }
            self.update(|m| {
                if let Some(c) = m.get_mut(name) {
                    c.topics.insert(topic.to_string());
                }
            });
        }
    }

    pub fn reset_topics(&self, name: &str) {
        self.update(|m| {
            if let Some(c) = m.get_mut(name) {
                c.topics.clear();
            }
        });
    }

    /// Forgets tasks with ids at or above `count` (after a reconfiguration shrank the connector).
    pub fn retain_tasks(&self, name: &str, count: u32) {
        self.update(|m| {
            if let Some(c) = m.get_mut(name) {
                c.tasks.retain(|id, _| *id < count);
            }
        });
    }

    pub fn get(&self, name: &str) -> Option<ConnectorStatus> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn all(&self) -> Vec<ConnectorStatus> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Waits until `connector` and at least `tasks` tasks, all of its tasks, are RUNNING.
    pub async fn wait_running(&self, connector: &str, tasks: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |m| {
            m.get(connector).is_some_and(|c| {
                c.connector.state == State::Running
                    && c.tasks.len() >= tasks
                    && c.tasks.values().all(|t| t.state == State::Running)
            })
        })
        .await
    }

    /// Waits until `pred` holds for the status of every connector, or `timeout` passes; returns
    /// whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&BTreeMap<String, ConnectorStatus>) -> bool,
    ) -> bool {
        let mut rx = self.changed.subscribe();
        let check = |pred: &mut dyn FnMut(&BTreeMap<String, ConnectorStatus>) -> bool| {
            pred(&self.inner.lock().unwrap_or_else(|e| e.into_inner()))
        };
        tokio::time::timeout(timeout, async {
            loop {
                if check(&mut pred) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
            && check(&mut pred)
    }
}
