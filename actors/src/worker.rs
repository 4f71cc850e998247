//! `WorkerActor`: the root of the supervision tree (Connect's Worker with a standalone herder's
//! bookkeeping). It validates connector configs, starts one
//! [`ConnectorSupervisor`](crate::connector::supervisor::ConnectorSupervisor) per connector and
//! stops them all on shutdown. [`Worker`] is the handle the binary and tests use.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use kconnect_connectors::api::{ConnectorKind, Props};
use kconnect_connectors::config::ConfigValue;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use thiserror::Error;

use crate::broker_health::BrokerWatch;
use crate::config::{connector_config_def, ConnectorConfig, CONNECTOR_CLASS, NAME};
use crate::config_providers::hide_secrets;
use crate::connector::supervisor::{
    ConnectorSupervisor, Share, SupervisorArgs, SupervisorMsg, TargetState,
};
use crate::context::WorkerContext;
use crate::status::{ConnectorStatus, RestartRequest, State};
use crate::validation::Unresolvable;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum WorkerError {
    /// Connect's message: "Connector configuration is invalid and contains the following N
    /// error(s): …" (one error a line).
    #[error("{}", crate::validation::invalid_message(.errors))]
    InvalidConfig {
        connector: String,
        errors: Vec<String>,
    },
    #[error("connector {connector}: unknown connector.class {class}; known connectors: {}", .known.join(", "))]
    UnknownClass {
        connector: String,
        class: String,
        known: Vec<String>,
    },
    #[error("a connector named {0} already exists")]
    Duplicate(String),
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Task {0}-{1} not found")]
    TaskNotFound(String, u32),
    #[error("{0}")]
    BadRequest(String),
    /// A signed internal request whose signature does not match (403, as in Connect).
    #[error("{0}")]
    Forbidden(String),
    /// Distributed mode: only the leader (at this REST URL) can do this; the REST layer
    /// forwards the request there.
    #[error("this worker is not the leader; the leader is at {0}")]
    NotLeader(String),
    /// Distributed mode: the task runs on the worker at this REST URL.
    #[error("the task runs on the worker at {0}")]
    ElsewhereAt(String),
    /// Distributed mode: a rebalance is under way and no worker is known to handle this yet
    /// (Connect answers 409 then).
    #[error("Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)")]
    Conflict(String),
    #[error("worker error: {0}")]
    Internal(String),
}

pub enum WorkerMsg {
    AddConnector(
        Props,
        TargetState,
        RpcReplyPort<Result<String, WorkerError>>,
    ),
    /// Replaces a connector's config (restarting it), or creates it; answers whether it created.
    PutConfig(String, Props, RpcReplyPort<Result<bool, WorkerError>>),
    /// Applies a patch to the stored config, in order with every other config write.
    PatchConfig(
        String,
        crate::herder::ConfigPatch,
        RpcReplyPort<Result<(), WorkerError>>,
    ),
    DeleteConnector(String, RpcReplyPort<Result<(), WorkerError>>),
    SetTarget(String, TargetState, RpcReplyPort<Result<(), WorkerError>>),
    Lookup(String, RpcReplyPort<Option<ConnectorEntry>>),
    /// Hands a message to the connector's current supervisor (`found` answers whether there
    /// is one). Going through this actor orders it with config changes and deletes: it reaches
    /// the supervisor it was meant for before that one is told to stop, never a stopped one.
    ToSupervisor {
        connector: String,
        send: SendToSupervisor,
        found: RpcReplyPort<bool>,
    },
    /// A supervisor's task configs changed (ignored when it is no longer the connector's).
    TaskConfigs {
        connector: String,
        supervisor: ActorId,
        configs: Vec<Props>,
    },
    List(RpcReplyPort<Vec<String>>),
    Shutdown(RpcReplyPort<()>),
    /// A long operation on a connector (stopping its supervisor, changing its target) ended
    /// off the mailbox: finish it, then handle what was held for that connector meanwhile.
    Done {
        connector: String,
        then: AfterOp,
    },
    /// Distributed mode: run `share` of the connector configured by `props` here (an empty
    /// share stops and forgets it). A changed config restarts the local share.
    Assign {
        props: Props,
        target: TargetState,
        share: Share,
        reply: RpcReplyPort<Result<(), WorkerError>>,
    },
}

/// What the worker does once a connector's long operation ended (see [`WorkerMsg::Done`]).
pub enum AfterOp {
    /// The operation answered its caller itself.
    Answered,
    /// The connector was stopped for good: forget it, then answer.
    Deleted(RpcReplyPort<Result<(), WorkerError>>),
    /// The old supervisor stopped: start the connector with its new config.
    Restart {
        props: Props,
        target: TargetState,
        task_configs: Vec<Props>,
        reply: Reply,
    },
    /// Distributed: the old share stopped; start the new one unless it is empty.
    Reassign {
        props: Props,
        target: TargetState,
        share: Share,
        reply: RpcReplyPort<Result<(), WorkerError>>,
    },
}

/// Sends one message to a supervisor (see [`WorkerMsg::ToSupervisor`]).
pub type SendToSupervisor = Box<dyn FnOnce(&ActorRef<SupervisorMsg>) + Send>;

/// One connector's work running in this process.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalWork {
    pub connector: String,
    /// The connector instance runs here.
    pub instance: bool,
    /// The tasks running here.
    pub tasks: Vec<TaskActor>,
}

/// A task running in this process and its actor (a task that restarted has a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskActor {
    pub task: u32,
    /// ractor's id of the actor.
    pub id: String,
    /// Its name ([`crate::actor_names`]).
    pub name: Option<String>,
}

/// A connector as the worker knows it. Reads (REST `GET`s) answer from here, as Connect's
/// standalone herder answers from its config store, so they never wait on a supervisor that
/// may be stopping.
#[derive(Clone)]
pub struct ConnectorEntry {
    pub supervisor: ActorRef<SupervisorMsg>,
    pub props: Props,
    pub kind: ConnectorKind,
    pub target: TargetState,
    /// The task configs in force: what the supervisor last reported. After a config change
    /// they stay the previous ones until the connector generated new ones, as Connect's
    /// stored task configs do.
    pub task_configs: Vec<Props>,
}

pub struct WorkerActor;

pub struct WorkerState {
    ctx: Arc<WorkerContext>,
    connectors: BTreeMap<String, ConnectorEntry>,
    /// Connectors with a long operation under way off the mailbox, and the messages for each
    /// that arrived meanwhile, to handle in order once it ended. Reads (`Lookup`, `List`) and
    /// other connectors' messages never wait for it.
    busy: BTreeMap<String, VecDeque<WorkerMsg>>,
    /// Tells `ctx.broker_health` whether the brokers answer; stopped at shutdown.
    broker_watch: Option<BrokerWatch>,
}

/// Validates `props` as [`crate::validation::validate`] does (every error create would meet
/// later: common keys, the connector's own, converters, client overrides, variables that
/// cannot be resolved) and parses it, its variables resolved.
pub fn validate(
    ctx: &WorkerContext,
    props: &Props,
) -> Result<
    (
        ConnectorConfig,
        kconnect_connectors::registry::ConnectorPlugin,
    ),
    WorkerError,
> {
    validate_with(ctx, props, Unresolvable::Report)
}

fn validate_with(
    ctx: &WorkerContext,
    props: &Props,
    unresolvable: Unresolvable,
) -> Result<
    (
        ConnectorConfig,
        kconnect_connectors::registry::ConnectorPlugin,
    ),
    WorkerError,
> {
    let name = props.get(NAME).cloned().unwrap_or_default();
    let class = props.get(CONNECTOR_CLASS).cloned().unwrap_or_default();
    let plugin = match ctx.plugins.connector(class.trim()) {
        Some(p) => p.clone(),
        // Without a class there is no plugin to validate with: report the common keys' errors
        // (a missing connector.class among them), as before.
        None if class.trim().is_empty() => {
            let errors: Vec<String> = connector_config_def()
                .validate(props)
                .into_iter()
                .flat_map(|v: ConfigValue| v.errors)
                .collect();
            return Err(WorkerError::InvalidConfig {
                connector: name,
                errors,
            });
        }
        None => {
            return Err(WorkerError::UnknownClass {
                connector: name,
                class,
                known: ctx.plugins.known_connector_names(),
            })
        }
    };
    let report = crate::validation::validate_with(ctx, &plugin, props, unresolvable);
    if report.error_count() > 0 {
        return Err(WorkerError::InvalidConfig {
            connector: name,
            errors: report.errors(),
        });
    }
    let resolved = ctx.config.providers.resolve(props).props;
    let config = ConnectorConfig::parse(resolved, &ctx.config.restart).map_err(|e| {
        WorkerError::InvalidConfig {
            connector: name.clone(),
            errors: vec![hide_secrets(&e.to_string()).into_owned()],
        }
    })?;
    Ok((config, plugin))
}

impl Actor for WorkerActor {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = Arc<WorkerContext>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<WorkerContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut client = rdkafka::ClientConfig::new();
        for (k, v) in crate::config::worker_client_props(&ctx.config, &ctx.bootstrap_servers) {
            client.set(k, v);
        }
        let broker_watch = BrokerWatch::start(ctx.broker_health.clone(), &client).map_err(|e| {
            format!("cannot create a Kafka client (check the worker's client keys): {e}")
        })?;
        Ok(WorkerState {
            ctx,
            connectors: BTreeMap::new(),
            busy: BTreeMap::new(),
            broker_watch: Some(broker_watch),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let WorkerMsg::Done { connector, then } = msg {
            finish(&myself, state, &connector, then).await;
            let mut held = state.busy.remove(&connector).unwrap_or_default();
            while let Some(m) = held.pop_front() {
                // One of them may have started another long operation: the rest wait for it.
                if let Some(q) = state.busy.get_mut(&connector) {
                    q.push_back(m);
                    continue;
                }
                dispatch(&myself, state, m).await;
            }
            return Ok(());
        }
        if let Some(q) = held_for(&msg).and_then(|c| state.busy.get_mut(c)) {
            q.push_back(msg);
            return Ok(());
        }
        dispatch(&myself, state, msg).await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Supervisors handle their children's failures; one failing itself is a bug, and it
        // must not take the worker or the other connectors down.
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            let name = state
                .connectors
                .iter()
                .find(|(_, e)| e.supervisor.get_id() == cell.get_id())
                .map(|(n, _)| n.clone());
            if let Some(name) = name {
                tracing::error!(connector = %name, "connector supervisor failed: {err}");
                state.connectors.remove(&name);
                let trace = format!("supervisor failed: {err}");
                let status = &state.ctx.status;
                status.set_connector(&name, State::Failed, Some(trace.clone()), 0);
                // ractor stopped the supervisor's children with it.
                let tasks: Vec<u32> = status
                    .get(&name)
                    .map(|c| c.tasks.into_keys().collect())
                    .unwrap_or_default();
                for id in tasks {
                    status.set_task(&name, id, State::Failed, Some(trace.clone()), 0);
                }
            }
        }
        Ok(())
    }
}

/// The connector a message is about, if it must wait for that connector's long operation:
/// every write and every message for its supervisor. Reads and reports never wait.
fn held_for(msg: &WorkerMsg) -> Option<&str> {
    match msg {
        WorkerMsg::AddConnector(props, ..) | WorkerMsg::Assign { props, .. } => {
            props.get(NAME).map(String::as_str)
        }
        WorkerMsg::PutConfig(name, ..)
        | WorkerMsg::PatchConfig(name, ..)
        | WorkerMsg::DeleteConnector(name, ..)
        | WorkerMsg::SetTarget(name, ..) => Some(name),
        WorkerMsg::ToSupervisor { connector, .. } => Some(connector),
        WorkerMsg::Lookup(..)
        | WorkerMsg::List(..)
        | WorkerMsg::TaskConfigs { .. }
        | WorkerMsg::Shutdown(..)
        | WorkerMsg::Done { .. } => None,
    }
}

/// Runs `op` (a supervisor stop, a call that may stop tasks) off the mailbox: `connector` is
/// busy until it ends, and its result comes back as [`WorkerMsg::Done`]. Meanwhile the worker
/// answers reads and handles other connectors, so N connectors stop side by side and a slow
/// stop never blocks `GET /connectors`.
fn begin(
    myself: &ActorRef<WorkerMsg>,
    state: &mut WorkerState,
    connector: String,
    op: impl std::future::Future<Output = AfterOp> + Send + 'static,
) {
    state.busy.entry(connector.clone()).or_default();
    let me = myself.clone();
    tokio::spawn(async move {
        let then = op.await;
        // A worker that shut down meanwhile drops `then`, and with it any reply port.
        let _ = me.send_message(WorkerMsg::Done { connector, then });
    });
}

/// The end of a long operation, back on the mailbox.
async fn finish(myself: &ActorRef<WorkerMsg>, state: &mut WorkerState, name: &str, then: AfterOp) {
    match then {
        AfterOp::Answered => {}
        AfterOp::Deleted(reply) => {
            state.ctx.status.connector_removed(name);
            let _ = reply.send(Ok(()));
        }
        AfterOp::Restart {
            props,
            target,
            task_configs,
            reply,
        } => {
            state.connectors.remove(name);
            let unresolvable = Unresolvable::Report;
            let r = start_connector(
                myself,
                state,
                props,
                target,
                None,
                task_configs,
                unresolvable,
            )
            .await;
            reply.send(r.map(|_| false));
        }
        AfterOp::Reassign {
            props,
            target,
            share,
            reply,
        } => {
            state.ctx.status.connector_removed(name);
            let _ = reply.send(start_share(myself, state, props, target, share).await);
        }
    }
}

async fn dispatch(myself: &ActorRef<WorkerMsg>, state: &mut WorkerState, msg: WorkerMsg) {
    match msg {
        WorkerMsg::AddConnector(props, target, reply) => {
            let unresolvable = Unresolvable::Report;
            let r =
                start_connector(myself, state, props, target, None, Vec::new(), unresolvable).await;
            let _ = reply.send(r);
        }
        WorkerMsg::PutConfig(name, props, reply) => {
            put_config(myself, state, name, props, Reply::Put(reply)).await;
        }
        WorkerMsg::PatchConfig(name, patch, reply) => match state.connectors.get(&name) {
            None => {
                let _ = reply.send(Err(WorkerError::NotFound(name)));
            }
            Some(e) => {
                let props = patch.apply(e.props.clone());
                put_config(myself, state, name, props, Reply::Patch(reply)).await;
            }
        },
        WorkerMsg::DeleteConnector(name, reply) => match state.connectors.remove(&name) {
            None => {
                let _ = reply.send(Err(WorkerError::NotFound(name)));
            }
            Some(e) => {
                let ctx = state.ctx.clone();
                begin(myself, state, name, async move {
                    stop_supervisor(&ctx, e.supervisor).await;
                    AfterOp::Deleted(reply)
                });
            }
        },
        WorkerMsg::ToSupervisor {
            connector,
            send,
            found,
        } => {
            let sup = state.connectors.get(&connector).map(|e| &e.supervisor);
            if let Some(sup) = sup {
                send(sup);
            }
            let _ = found.send(sup.is_some());
        }
        WorkerMsg::TaskConfigs {
            connector,
            supervisor,
            configs,
        } => {
            if let Some(e) = state.connectors.get_mut(&connector) {
                if e.supervisor.get_id() == supervisor {
                    e.task_configs = configs;
                }
            }
        }
        WorkerMsg::SetTarget(name, target, reply) => match state.connectors.get_mut(&name) {
            None => {
                let _ = reply.send(Err(WorkerError::NotFound(name)));
            }
            Some(e) => {
                e.target = target;
                let sup = e.supervisor.clone();
                // Pausing or stopping a connector stops its tasks: off the mailbox.
                begin(myself, state, name, async move {
                    let _ = reply.send(call(&sup, |r| SupervisorMsg::SetTarget(target, r)).await);
                    AfterOp::Answered
                });
            }
        },
        WorkerMsg::Assign {
            props,
            target,
            share,
            reply,
        } => assign(myself, state, props, target, share, reply).await,
        WorkerMsg::Lookup(name, reply) => {
            let _ = reply.send(state.connectors.get(&name).cloned());
        }
        WorkerMsg::List(reply) => {
            let _ = reply.send(state.connectors.keys().cloned().collect());
        }
        WorkerMsg::Shutdown(reply) => {
            let all = std::mem::take(&mut state.connectors);
            // Connectors stop side by side: shutdown takes one graceful timeout, not N.
            let ctx = state.ctx.clone();
            futures::future::join_all(
                all.into_values()
                    .map(|e| stop_supervisor(&ctx, e.supervisor)),
            )
            .await;
            // A stopped or failed task's Kafka clients close when its state is dropped,
            // after its supervisor heard of it. Whoever shut the worker down may stop the
            // embedded broker next, and a client still connected then reports every
            // broker down: answer once they are closed. (This also covers supervisors a
            // long operation was still stopping.)
            if let Err(open) = ctx
                .live_clients
                .wait_closed(ctx.config.shutdown_timeout)
                .await
            {
                tracing::warn!(
                    open,
                    "Kafka clients of abandoned tasks are still open after the shutdown"
                );
            }
            if let Some(w) = state.broker_watch.take() {
                w.stop().await;
            }
            let _ = reply.send(());
            myself.stop(None);
        }
        WorkerMsg::Done { .. } => unreachable!("handled before dispatch"),
    }
}

/// Distributed mode: brings this worker's share of one connector to `share`. A changed
/// config or an empty share stops the local supervisor off the mailbox first.
async fn assign(
    myself: &ActorRef<WorkerMsg>,
    state: &mut WorkerState,
    props: Props,
    target: TargetState,
    share: Share,
    reply: RpcReplyPort<Result<(), WorkerError>>,
) {
    let name = props.get(NAME).cloned().unwrap_or_default();
    let idle = !share.connector && share.tasks.is_empty();
    if let Some(e) = state.connectors.get_mut(&name) {
        if idle || e.props != props {
            let e = state.connectors.remove(&name).expect("present");
            let ctx = state.ctx.clone();
            begin(myself, state, name, async move {
                stop_supervisor(&ctx, e.supervisor).await;
                AfterOp::Reassign {
                    props,
                    target,
                    share,
                    reply,
                }
            });
        } else {
            let sup = e.supervisor.clone();
            let retarget = e.target != target;
            e.target = target;
            begin(myself, state, name, async move {
                let mut r = Ok(());
                if retarget {
                    r = call(&sup, |r| SupervisorMsg::SetTarget(target, r)).await;
                }
                if r.is_ok() {
                    r = call(&sup, |r| SupervisorMsg::Assign(share, r)).await;
                }
                let _ = reply.send(r);
                AfterOp::Answered
            });
        }
        return;
    }
    let _ = reply.send(start_share(myself, state, props, target, share).await);
}

/// Distributed: starts this worker's share of a stored config, unless it is empty. A variable
/// that cannot be resolved now fails the connector's or the task's start (restartable), rather
/// than keeping the connector from this worker.
async fn start_share(
    myself: &ActorRef<WorkerMsg>,
    state: &mut WorkerState,
    props: Props,
    target: TargetState,
    share: Share,
) -> Result<(), WorkerError> {
    if !share.connector && share.tasks.is_empty() {
        return Ok(());
    }
    let unresolvable = Unresolvable::LeaveToStart;
    start_connector(
        myself,
        state,
        props,
        target,
        Some(share),
        Vec::new(),
        unresolvable,
    )
    .await
    .map(|_| ())
}

async fn start_connector(
    myself: &ActorRef<WorkerMsg>,
    state: &mut WorkerState,
    props: Props,
    target: TargetState,
    share: Option<Share>,
    task_configs: Vec<Props>,
    unresolvable: Unresolvable,
) -> Result<String, WorkerError> {
    let (config, plugin) = validate_with(&state.ctx, &props, unresolvable)?;
    if state.connectors.contains_key(&config.name) {
        return Err(WorkerError::Duplicate(config.name));
    }
    let name = config.name.clone();
    let kind = plugin.kind;
    state.ctx.status.connector_added(&name, kind.as_str());
    let args = SupervisorArgs {
        worker: state.ctx.clone(),
        config: Arc::new(config),
        raw: props.clone(),
        plugin,
        target,
        owner: myself.clone(),
        share,
    };
    let actor_name = crate::actor_names::supervisor(&state.ctx.worker_id, &name);
    let (supervisor, _) = Actor::spawn_linked(
        Some(actor_name),
        ConnectorSupervisor,
        args,
        myself.get_cell(),
    )
    .await
    .map_err(|e| WorkerError::Internal(format!("cannot start connector {name}: {e}")))?;
    let entry = ConnectorEntry {
        supervisor,
        props,
        kind,
        target,
        task_configs,
    };
    state.connectors.insert(name.clone(), entry);
    tracing::info!(connector = %name, "connector added");
    Ok(name)
}

/// Who asked for a config change: a PUT answers whether it created the connector, a PATCH
/// only whether it worked.
pub enum Reply {
    Put(RpcReplyPort<Result<bool, WorkerError>>),
    Patch(RpcReplyPort<Result<(), WorkerError>>),
}

impl Reply {
    fn send(self, r: Result<bool, WorkerError>) {
        // A caller that gave up dropped its port: nobody to answer.
        match self {
            Reply::Put(p) => drop(p.send(r)),
            Reply::Patch(p) => drop(p.send(r.map(|_| ()))),
        }
    }
}

/// A new config for `name`: validated first, then the connector restarts with it (its old
/// supervisor stopped off the mailbox), keeping its target state, its task configs until it
/// generates new ones, and its active topics (until `PUT /connectors/{c}/topics/reset`, as in
/// Connect). The name in the body, if any, must match.
async fn put_config(
    myself: &ActorRef<WorkerMsg>,
    state: &mut WorkerState,
    name: String,
    mut props: Props,
    reply: Reply,
) {
    match props.get(crate::config::NAME) {
        Some(n) if *n != name => {
            return reply.send(Err(WorkerError::InvalidConfig {
                connector: name,
                errors: vec![format!(
                    "Connector name configuration ({n}) doesn't match connector name in the URL"
                )],
            }))
        }
        _ => {
            props.insert(crate::config::NAME.into(), name.clone());
        }
    }
    if let Err(e) = validate(&state.ctx, &props) {
        return reply.send(Err(e));
    }
    let Some(old) = state.connectors.get_mut(&name) else {
        let (target, unresolvable) = (TargetState::Started, Unresolvable::Report);
        let r = start_connector(myself, state, props, target, None, Vec::new(), unresolvable).await;
        return reply.send(r.map(|_| true));
    };
    // Reads show the accepted config while the old supervisor stops; messages for its
    // supervisor wait (busy) and reach the new one.
    old.props = props.clone();
    let (sup, target, task_configs) =
        (old.supervisor.clone(), old.target, old.task_configs.clone());
    let ctx = state.ctx.clone();
    begin(myself, state, name, async move {
        stop_supervisor(&ctx, sup).await;
        AfterOp::Restart {
            props,
            target,
            task_configs,
            reply,
        }
    });
}

async fn stop_supervisor(ctx: &WorkerContext, sup: ActorRef<SupervisorMsg>) {
    // The supervisor stops its tasks side by side, all within one graceful timeout plus two
    // offset flushes (in-flight records, then the committer), then the connector.
    let tasks = ctx.config.shutdown_timeout + ctx.config.offset_flush_timeout * 2;
    let budget = tasks + ctx.config.shutdown_timeout + Duration::from_secs(1);
    if sup.call(SupervisorMsg::Stop, Some(budget)).await.is_err() {
        sup.kill();
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorkerError> + Send + 'static,
) -> Result<T, WorkerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkerError::Internal(e.to_string()))?
}

async fn call<M: ractor::Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    msg: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, WorkerError> {
    match actor.call(msg, None).await {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        Ok(_) => Err(WorkerError::Internal("the connector did not answer".into())),
        Err(e) => Err(WorkerError::Internal(e.to_string())),
    }
}

/// A handle on a running worker.
#[derive(Clone)]
pub struct Worker {
    actor: ActorRef<WorkerMsg>,
    ctx: Arc<WorkerContext>,
}

impl Worker {
    pub async fn start(ctx: WorkerContext) -> Result<Worker, WorkerError> {
        let ctx = Arc::new(ctx);
        let name = crate::actor_names::worker(&ctx.worker_id);
        let (actor, _) = Actor::spawn(Some(name), WorkerActor, ctx.clone())
            .await
            .map_err(|e| WorkerError::Internal(e.to_string()))?;
        Ok(Worker { actor, ctx })
    }

    pub fn context(&self) -> &Arc<WorkerContext> {
        &self.ctx
    }

    /// Validates and starts a connector; returns its name.
    pub async fn add_connector(&self, props: Props) -> Result<String, WorkerError> {
        self.create_connector(props, TargetState::Started).await
    }

    /// Validates and creates a connector in the given initial state.
    pub async fn create_connector(
        &self,
        props: Props,
        target: TargetState,
    ) -> Result<String, WorkerError> {
        self.ask(|r| WorkerMsg::AddConnector(props, target, r))
            .await?
    }

    /// Replaces (or creates) a connector's config; `Ok(true)` when it created it.
    pub async fn put_config(&self, name: &str, props: Props) -> Result<bool, WorkerError> {
        let name = name.to_string();
        self.ask(|r| WorkerMsg::PutConfig(name, props, r)).await?
    }

    pub async fn patch_config(
        &self,
        name: &str,
        patch: crate::herder::ConfigPatch,
    ) -> Result<(), WorkerError> {
        let name = name.to_string();
        self.ask(|r| WorkerMsg::PatchConfig(name, patch, r)).await?
    }

    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        let name = name.to_string();
        self.ask(|r| WorkerMsg::SetTarget(name, target, r)).await?
    }

    pub async fn connectors(&self) -> Vec<String> {
        self.ask(WorkerMsg::List).await.unwrap_or_default()
    }

    pub async fn connector(&self, name: &str) -> Result<ConnectorEntry, WorkerError> {
        let n = name.to_string();
        self.ask(|r| WorkerMsg::Lookup(n, r))
            .await?
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))
    }

    pub async fn task_configs(&self, name: &str) -> Result<Vec<Props>, WorkerError> {
        Ok(self.connector(name).await?.task_configs)
    }

    /// Sends the connector's current supervisor a message (through the worker actor, see
    /// [`WorkerMsg::ToSupervisor`]) and waits for its answer.
    async fn on_supervisor<T: Send + 'static>(
        &self,
        name: &str,
        msg: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (tx, rx) = ractor::concurrency::oneshot();
        let send = Box::new(move |sup: &ActorRef<SupervisorMsg>| {
            let _ = sup.send_message(msg(tx.into()));
        });
        let connector = name.to_string();
        let found = self
            .ask(|found| WorkerMsg::ToSupervisor {
                connector,
                send,
                found,
            })
            .await?;
        if !found {
            return Err(WorkerError::NotFound(name.to_string()));
        }
        rx.await
            .map_err(|_| WorkerError::Internal("the connector did not answer".into()))
    }

    /// Connect's `POST /connectors/{c}/restart`: answers the restart plan (what it restarts
    /// shown as RESTARTING); the restarts follow.
    pub async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError> {
        let request = RestartRequest {
            include_tasks,
            only_failed,
        };
        self.on_supervisor(name, move |reply| SupervisorMsg::Restart { request, reply })
            .await
    }

    /// The connector's offsets (`GET /connectors/{c}/offsets`).
    pub async fn offsets(
        &self,
        name: &str,
    ) -> Result<Vec<crate::offsets::ConnectorOffset>, WorkerError> {
        let (config, kind) = self.parsed(name).await?;
        let ctx = self.ctx.clone();
        blocking(move || crate::offsets::get(&ctx, &config, kind)).await
    }

    /// Alters (`Some(offsets)`) or resets (`None`) offsets; only while the connector is STOPPED.
    pub async fn change_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<crate::offsets::ConnectorOffset>>,
    ) -> Result<(), WorkerError> {
        let (config, kind) = self.parsed(name).await?;
        let stopped = self
            .status(name)
            .is_some_and(|s| s.connector.state == State::Stopped);
        if !stopped {
            return Err(WorkerError::BadRequest(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/NAME/stop' endpoint"
                    .replace("NAME", name),
            ));
        }
        match offsets {
            Some(o) => crate::offsets::alter(&self.ctx, &config, kind, o).await,
            None => crate::offsets::reset(&self.ctx, &config, kind).await,
        }
    }

    async fn parsed(&self, name: &str) -> Result<(ConnectorConfig, ConnectorKind), WorkerError> {
        let e = self.connector(name).await?;
        let props = self.ctx.config.providers.resolve(&e.props).strict();
        let config = props
            .map_err(|err| WorkerError::BadRequest(err.to_string()))
            .and_then(|props| {
                ConnectorConfig::parse(props, &self.ctx.config.restart).map_err(|err| {
                    WorkerError::Internal(hide_secrets(&err.to_string()).into_owned())
                })
            })?;
        Ok((config, e.kind))
    }

    /// Makes a running task panic or fail now (fault injection).
    pub async fn inject_task_fault(
        &self,
        name: &str,
        task: u32,
        kind: crate::task::faults::FaultKind,
    ) -> Result<(), WorkerError> {
        self.on_supervisor(name, move |r| SupervisorMsg::InjectFault(task, kind, r))
            .await?
            .map_err(|e| WorkerError::BadRequest(e.to_string()))
    }

    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        self.on_supervisor(name, move |r| SupervisorMsg::RestartOneTask(task, r))
            .await?
            .map_err(|_| WorkerError::TaskNotFound(name.to_string(), task))
    }

    /// What runs in this process: per connector, whether its instance runs here and its tasks
    /// with their actor ids (a task that restarted has a new one).
    pub async fn local_work(&self) -> Vec<LocalWork> {
        let mut out = Vec::new();
        for name in self.connectors().await {
            if let Ok((connector, tasks)) =
                self.on_supervisor(&name, SupervisorMsg::LocalWork).await
            {
                out.push(LocalWork {
                    connector: name,
                    instance: connector,
                    tasks,
                });
            }
        }
        out
    }

    /// Asks the connector instance running here (if any) for its task configs again.
    pub async fn reconfigure(&self, name: &str) {
        let send = Box::new(|sup: &ActorRef<SupervisorMsg>| {
            let _ = sup.send_message(SupervisorMsg::Reconfigure);
        });
        let connector = name.to_string();
        let _ = self
            .ask(|found| WorkerMsg::ToSupervisor {
                connector,
                send,
                found,
            })
            .await;
    }

    /// Distributed mode: runs `share` of the connector here (see [`WorkerMsg::Assign`]).
    pub async fn assign(
        &self,
        props: Props,
        target: TargetState,
        share: Share,
    ) -> Result<(), WorkerError> {
        self.ask(|reply| WorkerMsg::Assign {
            props,
            target,
            share,
            reply,
        })
        .await?
    }

    pub async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        let name = name.to_string();
        self.ask(|r| WorkerMsg::DeleteConnector(name, r)).await?
    }

    pub fn status(&self, name: &str) -> Option<ConnectorStatus> {
        self.ctx.status.get(name)
    }

    /// Stops every connector cleanly (tasks flush their offsets) and the worker actor.
    pub async fn shutdown(&self) {
        let _ = self.ask(WorkerMsg::Shutdown).await;
    }

    async fn ask<T: Send + 'static>(
        &self,
        msg: impl FnOnce(RpcReplyPort<T>) -> WorkerMsg,
    ) -> Result<T, WorkerError> {
        match self.actor.call(msg, None).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            Ok(_) => Err(WorkerError::Internal("the worker did not answer".into())),
            Err(e) => Err(WorkerError::Internal(e.to_string())),
        }
    }
}
