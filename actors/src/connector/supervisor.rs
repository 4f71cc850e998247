//! `ConnectorSupervisor`: owns one connector's actors. It restarts a failed task or connector
//! after an exponential backoff with jitter, and marks it FAILED with its trace once it failed
//! more than `task.restart.max.restarts` times within `task.restart.window.ms`. A failure never
//! reaches a sibling, the connector or the worker.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect_connectors::api::{ConnectorKind, Props};
use kconnect_connectors::registry::ConnectorPlugin;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};

use super::actor::{ConnectorActor, ConnectorArgs, ConnectorMsg};
use crate::actor_names;
use crate::config::ConnectorConfig;
use crate::config_providers::ResolveError;
use crate::context::WorkerContext;
use crate::restart::{RestartDecision, RestartTracker};
use crate::status::{ConnectorStatus, RestartRequest, State};
use crate::task::committer::{CommitterArgs, CommitterMsg, OffsetCommitter};
use crate::task::sink::{SinkTaskActor, SinkTaskMsg};
use crate::task::source::{SourceTaskActor, SourceTaskLinks, SourceTaskMsg};
use crate::task::TaskArgs;
use crate::worker::WorkerMsg;
use kconnect_connectors::error::ConnectError;

/// What the user asked a connector to be (Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// Why a message about one task could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRequestError {
    #[error("task {0} not found")]
    NotFound(u32),
    #[error("task {0} is not running")]
    NotRunning(u32),
}

/// Why the connector or a task could not be given its config at a start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Config(#[from] ConnectError),
}

pub enum SupervisorMsg {
    /// Pause, resume or stop the connector and its tasks.
    SetTarget(TargetState, RpcReplyPort<()>),
    /// Restart what `request` names of the work running here. Answers Connect's restart plan
    /// (the status with what it restarts shown as RESTARTING) once those statuses show
    /// RESTARTING; the restarts follow.
    Restart {
        request: RestartRequest,
        reply: RpcReplyPort<ConnectorStatus>,
    },
    /// Restart one task now; `Err` if it does not exist.
    RestartOneTask(u32, RpcReplyPort<Result<(), TaskRequestError>>),
    /// Whether the connector instance runs here, and the tasks running here with their actor
    /// ids (a restarted task has a new id).
    LocalWork(RpcReplyPort<(bool, Vec<crate::worker::TaskActor>)>),
    /// Makes a running task fail now; `Err` if it is not running.
    InjectFault(
        u32,
        crate::task::faults::FaultKind,
        RpcReplyPort<Result<(), TaskRequestError>>,
    ),
    /// Internal: performs a restart announced by `Restart`.
    DoRestart {
        connector: bool,
        tasks: Vec<u32>,
    },
    /// The connector produced (new) task configs.
    TaskConfigs(Vec<Props>),
    /// A backoff elapsed; `generation` guards against restarts made stale by a newer one.
    RestartTask {
        id: u32,
        generation: u64,
    },
    RestartConnector {
        generation: u64,
    },
    /// Stop every task cleanly, then the connector.
    Stop(RpcReplyPort<()>),
    /// Ask the running connector instance for its task configs again.
    Reconfigure,
    /// Distributed mode: run exactly this share of the connector's work (the cluster's
    /// assignment). Answers once revoked work has stopped and assigned work was started.
    Assign(Share, RpcReplyPort<()>),
}

/// The part of a connector's work one worker runs in distributed mode, with the task configs
/// read from the config topic (every task's, since sink tasks split partitions by task count).
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub connector: bool,
    pub tasks: std::collections::BTreeSet<u32>,
    pub task_configs: Vec<Props>,
}

pub struct ConnectorSupervisor;

pub struct SupervisorArgs {
    pub worker: Arc<WorkerContext>,
    /// The config as validated, its variables resolved then.
    pub config: Arc<ConnectorConfig>,
    /// The config as written, with its `${provider:…}` variables: resolved again whenever
    /// the connector or a task starts (see [`crate::config_providers`]).
    pub raw: Props,
    pub plugin: ConnectorPlugin,
    pub target: TargetState,
    /// The worker actor, told of every change of the task configs in force so that it answers
    /// reads about them itself, even while this supervisor is stopping.
    pub owner: ActorRef<WorkerMsg>,
    /// `None` in standalone mode: the connector runs here and so do all the tasks it
    /// configures. `Some` in distributed mode: only this share runs here, task configs come
    /// from the config topic, and the configs the connector generates go to
    /// [`WorkerContext::task_configs_sink`](crate::context::WorkerContext).
    pub share: Option<Share>,
}

enum TaskRef {
    Source(ActorRef<SourceTaskMsg>),
    Sink(ActorRef<SinkTaskMsg>),
}

impl TaskRef {
    fn set_paused(&self, paused: bool) {
        // A task that is gone no longer needs telling.
        let _ = match self {
            TaskRef::Source(a) => a.send_message(SourceTaskMsg::Pause(paused)).is_ok(),
            TaskRef::Sink(a) => a.send_message(SinkTaskMsg::Pause(paused)).is_ok(),
        };
    }

    fn cell(&self) -> ActorCell {
        match self {
            TaskRef::Source(a) => a.get_cell(),
            TaskRef::Sink(a) => a.get_cell(),
        }
    }
}

#[derive(Default)]
struct TaskSlot {
    actor: Option<TaskRef>,
    committer: Option<ActorRef<CommitterMsg>>,
    tracker: RestartTracker,
    generation: u64,
}

#[derive(Clone, Copy)]
enum Child {
    Connector,
    Task(u32),
    Committer(u32),
}

pub struct SupervisorState {
    args: SupervisorArgs,
    connector: Option<ActorRef<ConnectorMsg>>,
    connector_tracker: RestartTracker,
    connector_generation: u64,
    task_configs: Vec<Props>,
    tasks: BTreeMap<u32, TaskSlot>,
    children: HashMap<ActorId, Child>,
    /// Source of restart generations, never reset, so a timer from before a reconfiguration
    /// can never match a task started after it.
    next_generation: u64,
    target: TargetState,
    stopping: bool,
}

impl SupervisorState {
    /// Whether the connector instance is this worker's to run and report on.
    fn owns_connector(&self) -> bool {
        self.args.share.as_ref().is_none_or(|s| s.connector)
    }

    fn set_connector_status(&self, state: State, trace: Option<String>) {
        if self.owns_connector() {
            let name = &self.args.config.name;
            let restarts = self.connector_tracker.total_restarts;
            self.args
                .worker
                .status
                .set_connector(name, state, trace, restarts);
        }
    }
}

impl Actor for ConnectorSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = SupervisorState {
            args,
            connector: None,
            connector_tracker: RestartTracker::default(),
            connector_generation: 0,
            task_configs: Vec::new(),
            tasks: BTreeMap::new(),
            children: HashMap::new(),
            next_generation: 0,
            target: TargetState::Started,
            stopping: false,
        };
        state.target = state.args.target;
        let nothing = Share {
            connector: false,
            tasks: Default::default(),
            task_configs: Vec::new(),
        };
        if let Some(share) = state.args.share.take() {
            state.args.share = Some(nothing);
            apply_share(&myself, &mut state, share).await;
        } else if state.target == TargetState::Stopped {
            state.set_connector_status(State::Stopped, None);
        } else {
            start_connector(&myself, &mut state).await;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::SetTarget(target, reply) => {
                set_target(&myself, state, target).await;
                let _ = reply.send(());
            }
            SupervisorMsg::Restart { request, reply } => {
                let name = state.args.config.name.clone();
                let st = state.args.worker.status.clone();
                let status = st.get(&name).unwrap_or_else(|| ConnectorStatus {
                    name: name.clone(),
                    kind: state.args.plugin.kind.as_str().to_string(),
                    connector: crate::status::Status {
                        state: State::Unassigned,
                        worker_id: st.worker_id().to_string(),
                        trace: None,
                        restarts: 0,
                    },
                    tasks: BTreeMap::new(),
                    topics: Default::default(),
                });
                // As Connect: a STOPPED connector restarts too (it shows RESTARTING, then
                // STOPPED again); in distributed mode only the connector instance's worker
                // restarts it.
                let connector =
                    request.restarts_connector(&status.connector) && state.owns_connector();
                let tasks: Vec<u32> = status
                    .tasks
                    .iter()
                    .filter(|(_, t)| request.restarts_task(t))
                    .map(|(id, _)| *id)
                    .collect();
                if connector {
                    state.set_connector_status(State::Restarting, None);
                }
                for id in &tasks {
                    st.set_task(&name, *id, State::Restarting, None, 0);
                }
                let _ = reply.send(status.restart_plan(request));
                myself.send_message(SupervisorMsg::DoRestart { connector, tasks })?;
            }
            SupervisorMsg::DoRestart { connector, tasks } => {
                if state.stopping {
                    return Ok(());
                }
                if connector && state.owns_connector() {
                    if state.target == TargetState::Stopped {
                        state.set_connector_status(State::Stopped, None);
                    } else {
                        stop_connector(state).await;
                        state.connector_tracker = RestartTracker::default();
                        start_connector(&myself, state).await;
                    }
                }
                // A task revoked since the restart was announced stays where it went.
                let here = |id: &u32| {
                    state
                        .args
                        .share
                        .as_ref()
                        .is_none_or(|s| s.tasks.contains(id))
                };
                let tasks: Vec<u32> = tasks.into_iter().filter(|id| here(id)).collect();
                for id in tasks {
                    restart_task_now(&myself, state, id).await;
                }
            }
            SupervisorMsg::RestartOneTask(id, reply) => {
                if !state.tasks.contains_key(&id) {
                    let _ = reply.send(Err(TaskRequestError::NotFound(id)));
                    return Ok(());
                }
                restart_task_now(&myself, state, id).await;
                let _ = reply.send(Ok(()));
            }
            SupervisorMsg::InjectFault(id, kind, reply) => {
                let sent = match state.tasks.get(&id).and_then(|t| t.actor.as_ref()) {
                    Some(TaskRef::Source(a)) => a.send_message(SourceTaskMsg::Inject(kind)).is_ok(),
                    Some(TaskRef::Sink(a)) => a.send_message(SinkTaskMsg::Inject(kind)).is_ok(),
                    None => false,
                };
                let r = if sent {
                    Ok(())
                } else {
                    Err(TaskRequestError::NotRunning(id))
                };
                let _ = reply.send(r);
            }
            SupervisorMsg::LocalWork(reply) => {
                let tasks = state
                    .tasks
                    .iter()
                    .filter_map(|(id, t)| {
                        t.actor.as_ref().map(|a| crate::worker::TaskActor {
                            task: *id,
                            id: a.cell().get_id().to_string(),
                            name: a.cell().get_name(),
                        })
                    })
                    .collect();
                let _ = reply.send((state.connector.is_some(), tasks));
            }
            SupervisorMsg::Reconfigure => {
                if let Some(c) = &state.connector {
                    let _ = c.send_message(ConnectorMsg::Event(
                        kconnect_connectors::api::ConnectorEvent::RequestTaskReconfiguration,
                    ));
                }
            }
            SupervisorMsg::Assign(share, reply) => {
                if !state.stopping {
                    apply_share(&myself, state, share).await;
                }
                let _ = reply.send(());
            }
            SupervisorMsg::TaskConfigs(configs) => {
                if state.stopping || state.target == TargetState::Stopped {
                    return Ok(());
                }
                // Stored and compared as written: no resolved value leaves the connector.
                let configs = crate::config_providers::reverse_transform(&state.args.raw, configs);
                if state.args.share.is_some() {
                    // Distributed: the leader stores them; they come back as an assignment.
                    if let Some(sink) = &state.args.worker.task_configs_sink {
                        sink(&state.args.config.name, configs);
                    }
                    return Ok(());
                }
                let running = state.tasks.values().filter(|t| t.actor.is_some()).count();
                if configs == state.task_configs && running == configs.len() {
                    // Unchanged here; still reported, since the worker holds the previous
                    // supervisor's configs until this one reports (a connector reconfigured
                    // to generate none).
                    set_task_configs(&myself, state, configs);
                    return Ok(());
                }
                stop_all_tasks(state).await;
                set_task_configs(&myself, state, configs);
                state.tasks.clear();
                let n = state.task_configs.len() as u32;
                state
                    .args
                    .worker
                    .status
                    .retain_tasks(&state.args.config.name, n);
                for id in 0..n {
                    start_task(&myself, state, id).await;
                }
            }
            SupervisorMsg::RestartTask { id, generation } => {
                let waiting = state
                    .tasks
                    .get(&id)
                    .is_some_and(|t| t.generation == generation && t.actor.is_none());
                if !state.stopping && waiting {
                    start_task(&myself, state, id).await;
                }
            }
            SupervisorMsg::RestartConnector { generation } => {
                // Only the connector's own, still-wanted backoff: not after a stop, a STOPPED
                // target or (distributed) its move to another worker.
                let wanted = state.owns_connector()
                    && state.target != TargetState::Stopped
                    && state.connector.is_none();
                if !state.stopping && generation == state.connector_generation && wanted {
                    start_connector(&myself, state).await;
                }
            }
            SupervisorMsg::Stop(reply) => {
                state.stopping = true;
                stop_all_tasks(state).await;
                let ran = state.connector.is_some();
                stop_connector(state).await;
                if ran && state.args.share.is_some() {
                    // Distributed: the cluster sees the connector let go (Connect's shutdown).
                    state.set_connector_status(State::Unassigned, None);
                }
                let _ = reply.send(());
                myself.stop(None);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, error, cause) = match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let cause = if crate::task::unrecoverable::is_unrecoverable(err.as_ref()) {
                    FailureCause::Unrecoverable
                } else {
                    FailureCause::Passing
                };
                (cell, err.to_string(), cause)
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                // Children we stop on purpose were forgotten first; anything else ended on its own.
                if !state.children.contains_key(&cell.get_id()) {
                    return Ok(());
                }
                let why = reason.unwrap_or_else(|| "stopped unexpectedly".into());
                (cell, why, FailureCause::Passing)
            }
            _ => return Ok(()),
        };
        let Some(child) = state.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        if state.stopping {
            return Ok(());
        }
        match child {
            Child::Connector => on_connector_failure(&myself, state, error),
            Child::Task(id) => on_task_failure(&myself, state, id, error, cause).await,
            Child::Committer(id) => {
                // The committer and its task live and die together.
                let msg = format!("offset committer failed: {error}");
                if let Some(TaskRef::Source(t)) =
                    state.tasks.get_mut(&id).and_then(|s| s.actor.take())
                {
                    state.children.remove(&t.get_id());
                    t.kill();
                }
                on_task_failure(&myself, state, id, msg, FailureCause::Passing).await;
            }
        }
        Ok(())
    }
}

async fn stop_connector(state: &mut SupervisorState) {
    // A pending restart backoff belongs to the instance being stopped.
    state.connector_generation += 1;
    if let Some(c) = state.connector.take() {
        state.children.remove(&c.get_id());
        let timeout = state.args.worker.config.shutdown_timeout;
        if c.call(ConnectorMsg::Stop, Some(timeout)).await.is_err() {
            c.kill();
        }
    }
}

/// Moves the connector to `target`: PAUSED keeps tasks alive but idle, STOPPED stops the
/// connector and its tasks (and forgets them, as Connect does), STARTED undoes either.
async fn set_target(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    target: TargetState,
) {
    let previous = std::mem::replace(&mut state.target, target);
    let name = state.args.config.name.clone();
    let status = state.args.worker.status.clone();
    let owns = state.owns_connector();
    // A running connector instance reports PAUSED or RUNNING itself, in order with its start:
    // told here, a pause that arrives while it starts could be overwritten by its RUNNING. One
    // that is not running (FAILED, or waiting out a backoff) keeps its status; it starts in
    // the new target state.
    let tell_connector = |state: &SupervisorState, paused: bool| {
        if let Some(c) = &state.connector {
            let _ = c.send_message(ConnectorMsg::Pause(paused));
        }
    };
    match target {
        TargetState::Paused => {
            if previous == TargetState::Stopped && owns {
                start_connector(myself, state).await;
            } else {
                tell_connector(state, true);
            }
            for t in state.tasks.values().filter_map(|t| t.actor.as_ref()) {
                t.set_paused(true);
            }
        }
        TargetState::Started => match previous {
            TargetState::Stopped if owns => start_connector(myself, state).await,
            TargetState::Stopped => {}
            _ => {
                for t in state.tasks.values().filter_map(|t| t.actor.as_ref()) {
                    t.set_paused(false);
                }
                tell_connector(state, false);
            }
        },
        TargetState::Stopped => {
            stop_all_tasks(state).await;
            state.tasks.clear();
            set_task_configs(myself, state, Vec::new());
            status.retain_tasks(&name, 0);
            stop_connector(state).await;
            state.set_connector_status(State::Stopped, None);
        }
    }
}

/// Records the task configs in force and tells the worker actor, which answers reads of them.
fn set_task_configs(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    configs: Vec<Props>,
) {
    let _ = state.args.owner.send_message(WorkerMsg::TaskConfigs {
        connector: state.args.config.name.clone(),
        supervisor: myself.get_id(),
        configs: configs.clone(),
    });
    state.task_configs = configs;
}

/// Distributed mode: makes the running work match `share`. Revoked tasks and tasks whose
/// config (or whose connector's task count) changed stop first; then new ones start. Tasks
/// that keep their config keep running untouched.
async fn apply_share(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, share: Share) {
    let count_changed = share.task_configs.len() != state.task_configs.len();
    let revoked: Vec<u32> = state
        .tasks
        .keys()
        .copied()
        .filter(|&id| {
            let keep = share.tasks.contains(&id)
                && !count_changed
                && share.task_configs.get(id as usize) == state.task_configs.get(id as usize);
            !keep
        })
        .collect();
    stop_tasks(state, &revoked).await;
    for id in revoked {
        {
            state.tasks.remove(&id);
            let name = &state.args.config.name;
            state
                .args
                .worker
                .status
                .set_task(name, id, State::Unassigned, None, 0);
            state.args.worker.status.forget_task(name, id);
        }
    }
    let had_connector = state.owns_connector();
    set_task_configs(myself, state, share.task_configs.clone());
    let wants_connector = share.connector;
    state.args.share = Some(share);
    if had_connector && !wants_connector {
        stop_connector(state).await;
        let name = &state.args.config.name;
        let st = &state.args.worker.status;
        st.set_connector(name, State::Unassigned, None, 0);
    } else if wants_connector && state.connector.is_none() {
        if state.target == TargetState::Stopped {
            state.set_connector_status(State::Stopped, None);
        } else {
            start_connector(myself, state).await;
        }
    }
    if state.target == TargetState::Stopped {
        return;
    }
    let wanted: Vec<u32> = state
        .args
        .share
        .as_ref()
        .map(|s| s.tasks.iter().copied().collect())
        .unwrap_or_default();
    for id in wanted {
        // A kept task that is FAILED or waiting out its backoff stays with its supervisor's
        // restart policy.
        if !state.tasks.contains_key(&id) {
            start_task(myself, state, id).await;
        }
    }
}

/// Stops a task (if running) and starts it afresh with a clean restart history.
async fn restart_task_now(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, id: u32) {
    stop_task(state, id).await;
    if let Some(slot) = state.tasks.get_mut(&id) {
        slot.tracker = RestartTracker::default();
        // Invalidate any pending backoff timer for this task.
        state.next_generation += 1;
        slot.generation = state.next_generation;
    }
    start_task(myself, state, id).await;
}

/// The connector's config for a start of it or of a task: the written config with its
/// variables resolved now, so that a changed secret takes effect on a restart.
fn config_for_start(state: &SupervisorState) -> Result<Arc<ConnectorConfig>, StartError> {
    let args = &state.args;
    if !args
        .raw
        .values()
        .any(|v| crate::config_providers::has_variables(v))
    {
        return Ok(args.config.clone());
    }
    let worker = &args.worker.config;
    let props = worker.providers.resolve(&args.raw).strict()?;
    Ok(Arc::new(ConnectorConfig::parse(props, &worker.restart)?))
}

async fn start_connector(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    let config = match config_for_start(state) {
        Ok(c) => c,
        Err(e) => return on_connector_failure(myself, state, e.to_string()),
    };
    let args = ConnectorArgs {
        worker: state.args.worker.clone(),
        config,
        plugin: state.args.plugin.clone(),
        supervisor: myself.clone(),
        restarts: state.connector_tracker.total_restarts,
        paused: state.target == TargetState::Paused,
    };
    let name = actor_names::connector(&state.args.worker.worker_id, &state.args.config.name);
    match Actor::spawn_linked(Some(name), ConnectorActor, args, myself.get_cell()).await {
        Ok((c, _)) => {
            state.children.insert(c.get_id(), Child::Connector);
            state.connector = Some(c);
        }
        Err(e) => on_connector_failure(myself, state, e.to_string()),
    }
}

fn on_connector_failure(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    error: String,
) {
    state.connector = None;
    let cfg = &state.args.config;
    let status = &state.args.worker.status;
    match state
        .connector_tracker
        .on_failure(&cfg.restart, Instant::now())
    {
        RestartDecision::RestartAfter(delay) => {
            tracing::warn!(connector = %cfg.name, ?delay, "connector failed, restarting: {error}");
            status.set_connector(
                &cfg.name,
                State::Restarting,
                Some(error),
                state.connector_tracker.total_restarts,
            );
            state.connector_generation += 1;
            let generation = state.connector_generation;
            myself.send_after(delay, move || SupervisorMsg::RestartConnector {
                generation,
            });
        }
        RestartDecision::GiveUp => {
            let trace = give_up_trace(&cfg.restart, &error);
            tracing::error!(connector = %cfg.name, "connector FAILED: {trace}");
            status.set_connector(
                &cfg.name,
                State::Failed,
                Some(trace),
                state.connector_tracker.total_restarts,
            );
        }
    }
}

fn give_up_trace(policy: &crate::restart::RestartPolicy, error: &str) -> String {
    format!(
        "{error}\n(failed more than {} times within {} ms; not restarted again)",
        policy.max_restarts,
        policy.window.as_millis()
    )
}

async fn start_task(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, id: u32) {
    let Some(raw) = state.task_configs.get(id as usize) else {
        return;
    };
    let worker = state.args.worker.clone();
    let resolved = worker.config.providers.resolve(raw).strict();
    let (connector, props) = match config_for_start(state).and_then(|c| Ok((c, resolved?))) {
        Ok(ready) => ready,
        Err(e) => {
            // As a failed start: the restart policy tries again (resolving again).
            state.tasks.entry(id).or_default();
            let e = e.to_string();
            return on_task_failure(myself, state, id, e, FailureCause::Passing).await;
        }
    };
    let slot = state.tasks.entry(id).or_default();
    let args = TaskArgs {
        worker: worker.clone(),
        connector,
        task_id: id,
        task_props: props,
        instance: state.args.plugin.create().new_task(),
        restarts: slot.tracker.total_restarts,
        task_count: state.task_configs.len(),
        paused: state.target == TargetState::Paused,
    };
    let cell = myself.get_cell();
    let (worker_id, connector_name) = (&state.args.worker.worker_id, &state.args.config.name);
    let task_name = actor_names::task(worker_id, connector_name, id);
    let started = match state.args.plugin.kind {
        ConnectorKind::Source => {
            let (runs, runs_rx) = tokio::sync::mpsc::unbounded_channel();
            let links = SourceTaskLinks {
                delivery: Arc::default(),
                runs,
            };
            let committer_name = actor_names::committer(worker_id, connector_name, id);
            match Actor::spawn_linked(
                Some(task_name),
                SourceTaskActor,
                (args, links),
                cell.clone(),
            )
            .await
            {
                Ok((task, _)) => {
                    let cargs = CommitterArgs {
                        worker,
                        connector: state.args.config.name.clone(),
                        task_id: id,
                        runs: runs_rx,
                        task: Some(task.clone()),
                    };
                    match Actor::spawn_linked(Some(committer_name), OffsetCommitter, cargs, cell)
                        .await
                    {
                        Ok((committer, _)) => {
                            state
                                .children
                                .insert(committer.get_id(), Child::Committer(id));
                            slot.committer = Some(committer);
                            Ok(TaskRef::Source(task))
                        }
                        Err(e) => {
                            task.kill();
                            Err(e.to_string())
                        }
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        }
        ConnectorKind::Sink => Actor::spawn_linked(Some(task_name), SinkTaskActor, args, cell)
            .await
            .map(|(t, _)| TaskRef::Sink(t))
            .map_err(|e| e.to_string()),
    };
    match started {
        Ok(t) => {
            state.children.insert(t.cell().get_id(), Child::Task(id));
            slot.actor = Some(t);
        }
        Err(e) => on_task_failure(myself, state, id, e, FailureCause::Passing).await,
    }
}

/// Stops a task cleanly (abandoning it after task.shutdown.graceful.timeout.ms), then flushes
/// the offsets its committer holds and stops the committer.
async fn stop_task(state: &mut SupervisorState, id: u32) {
    stop_tasks(state, &[id]).await;
}

/// Stops the tasks side by side: every one is told to stop first, then they are awaited
/// together, so stopping N tasks takes one graceful timeout, not N (a shutdown or a rebalance
/// of many tasks would otherwise grow with their number). Their slots stay, empty.
async fn stop_tasks(state: &mut SupervisorState, ids: &[u32]) {
    let flush_timeout = state.args.worker.config.offset_flush_timeout;
    // A stopping task first waits up to offset.flush.timeout.ms for in-flight records, then
    // gets task.shutdown.graceful.timeout.ms for the plugin's stop.
    let timeout = state.args.worker.config.shutdown_timeout + flush_timeout;
    let name = state.args.config.name.clone();
    let mut stopping = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(slot) = state.tasks.get_mut(&id) else {
            continue;
        };
        let task = slot.actor.take();
        if let Some(t) = &task {
            state.children.remove(&t.cell().get_id());
        }
        let committer = slot.committer.take();
        if let Some(c) = &committer {
            state.children.remove(&c.get_id());
        }
        stopping.push(stop_detached(
            name.clone(),
            id,
            task,
            committer,
            timeout,
            flush_timeout,
        ));
    }
    futures::future::join_all(stopping).await;
}

/// Stops one task no longer tracked as a child, then has its committer write what it holds
/// (offsets of acknowledged records are always safe to commit, even when the task died) and
/// stops the committer.
async fn stop_detached(
    name: String,
    id: u32,
    task: Option<TaskRef>,
    committer: Option<ActorRef<CommitterMsg>>,
    timeout: Duration,
    flush_timeout: Duration,
) {
    if let Some(t) = task {
        use ractor::rpc::CallResult;
        // Err(true): no answer in time; Err(false): the task ended before it answered.
        fn answered<E>(r: Result<CallResult<()>, E>) -> Result<(), bool> {
            match r {
                Ok(CallResult::Success(())) => Ok(()),
                Ok(CallResult::Timeout) => Err(true),
                Ok(CallResult::SenderError) | Err(_) => Err(false),
            }
        }
        let outcome = match &t {
            TaskRef::Source(a) => answered(a.call(SourceTaskMsg::Stop, Some(timeout)).await),
            TaskRef::Sink(a) => answered(a.call(SinkTaskMsg::Stop, Some(timeout)).await),
        };
        match outcome {
            Ok(()) => {}
            Err(true) => {
                tracing::warn!(connector = %name, task = id, "task did not stop within {timeout:?}; abandoning it");
                t.cell().kill();
            }
            // Not a timeout: saying so would send whoever reads the log looking for a hang.
            Err(false) => {
                tracing::warn!(connector = %name, task = id, "task ended before it answered the stop request (it failed meanwhile)");
            }
        }
    }
    if let Some(c) = committer {
        let _ = c.call(CommitterMsg::CommitNow, Some(flush_timeout)).await;
        c.stop(None);
    }
}

async fn stop_all_tasks(state: &mut SupervisorState) {
    let ids: Vec<u32> = state.tasks.keys().copied().collect();
    stop_tasks(state, &ids).await;
    for id in ids {
        state
            .args
            .worker
            .status
            .set_task(&state.args.config.name, id, State::Unassigned, None, 0);
    }
}

/// Whether a restart may cure a task's failure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FailureCause {
    /// Most failures: restart with backoff, within the intensity limit.
    Passing,
    /// [`crate::task::unrecoverable::Unrecoverable`]: FAILED at once, never restarted
    /// automatically (a restart would skip what the task refused to skip).
    Unrecoverable,
}

async fn on_task_failure(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    id: u32,
    error: String,
    cause: FailureCause,
) {
    let flush_timeout = state.args.worker.config.offset_flush_timeout;
    let cfg = state.args.config.clone();
    let status = state.args.worker.status.clone();
    let slot = state.tasks.entry(id).or_default();
    slot.actor = None;
    let committer = slot.committer.take();
    if let Some(c) = &committer {
        state.children.remove(&c.get_id());
    }
    stop_detached(
        cfg.name.clone(),
        id,
        None,
        committer,
        flush_timeout,
        flush_timeout,
    )
    .await;
    let slot = state.tasks.entry(id).or_default();
    let decision = match cause {
        FailureCause::Passing => slot.tracker.on_failure(&cfg.restart, Instant::now()),
        FailureCause::Unrecoverable => RestartDecision::GiveUp,
    };
    match decision {
        RestartDecision::RestartAfter(delay) => {
            tracing::warn!(connector = %cfg.name, task = id, ?delay, "task failed, restarting: {error}");
            crate::metrics::task_restarted(&cfg.name, id);
            status.set_task(
                &cfg.name,
                id,
                State::Restarting,
                Some(error),
                slot.tracker.total_restarts,
            );
            state.next_generation += 1;
            let generation = state.next_generation;
            slot.generation = generation;
            myself.send_after(delay, move || SupervisorMsg::RestartTask { id, generation });
        }
        RestartDecision::GiveUp => {
            let trace = match cause {
                FailureCause::Passing => give_up_trace(&cfg.restart, &error),
                FailureCause::Unrecoverable => {
                    format!("{error}\n(a restart cannot cure this; not restarted automatically)")
                }
            };
            tracing::error!(connector = %cfg.name, task = id, "task FAILED: {trace}");
            status.set_task(
                &cfg.name,
                id,
                State::Failed,
                Some(trace),
                slot.tracker.total_restarts,
            );
        }
    }
}
