//! `DistributedHerder`: one worker's view of the cluster and the actor that keeps the local
//! [`Worker`] running exactly this worker's assignment (Connect's `DistributedHerder`).
//!
//! ```text
//! group member ──Assigned──▶ HerderActor ──Worker::assign(share)──▶ WorkerActor ─▶ supervisors
//! config topic ──ConfigUpdated─┘    │  ▲
//! local connector ──TaskConfigs─────┘  └ leader: writes task configs; others: PUT to the leader
//! ```
//!
//! Reads (REST `GET`s) come from the config and status topics, so every worker answers them;
//! writes that Connect reserves for the leader return [`WorkerError::NotLeader`] elsewhere and
//! the REST layer forwards them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kconnect_connectors::api::{ConnectorKind, Props};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{fencing, signature};
use crate::config::ConnectorConfig;
use crate::connector::supervisor::{Share, TargetState};
use crate::context::WorkerContext;
use crate::herder::{ConnectorInfo, Herder};
use crate::offsets::ConnectorOffset;
use crate::status::{ConnectorStatus, State, Status};
use crate::storage::kafka::{
    ConfigSnapshot, ConfigUpdate, KafkaConfigStore, KafkaStatusStore, RestartRequest,
};
use crate::task::faults::FaultKind;
use crate::worker::{Worker, WorkerError};

/// How long a REST request waits for the herder actor (Connect's REST request timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// A task of a connector, as assignments name it.
pub type TaskKey = (String, u32);

/// This worker's place in the group, as the last rebalance left it.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    /// The leader's REST URL; `None` until the first assignment.
    pub leader_url: Option<String>,
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskKey>,
    /// The group runs `sessioned`: task-config requests to the leader are signed with the
    /// session key, and the leader refuses unsigned ones (see [`super::signature`]).
    pub sessioned: bool,
}

impl Membership {
    pub fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.member_id == self.leader_id
    }
}

/// What REST handlers and the group member read without asking the actor.
pub struct ClusterView {
    pub configs: Arc<KafkaConfigStore>,
    pub statuses: Arc<KafkaStatusStore>,
    /// This worker's REST URL, as other workers reach it.
    pub url: String,
    pub membership: Mutex<Membership>,
    /// Connectors and their task counts when the leader last assigned: when the config topic
    /// differs from it, the leader starts a rebalance.
    pub assigned_shape: Mutex<BTreeMap<String, u32>>,
    pub status_writer: Arc<super::status_writer::StatusWriter>,
    /// Bumped whenever `membership` changes.
    pub membership_changed: tokio::sync::watch::Sender<u64>,
    /// How long a request waits for the worker's first assignment.
    pub first_join_timeout: Duration,
}

impl ClusterView {
    pub fn membership(&self) -> Membership {
        self.membership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The work the leader must assign: every connector, with the tasks it has configs for.
    /// A STOPPED connector still counts (Connect assigns it; it runs nothing).
    pub fn shape(snapshot: &ConfigSnapshot) -> BTreeMap<String, u32> {
        snapshot
            .connectors()
            .into_iter()
            .map(|c| {
                let tasks = if snapshot.inconsistent().contains(&c) {
                    0
                } else {
                    snapshot.task_count(&c).unwrap_or(0)
                };
                (c, tasks)
            })
            .collect()
    }

    /// `Ok` on the leader; elsewhere where the leader is. A worker that has not had its first
    /// assignment yet waits for it (up to the rebalance timeout) rather than refusing requests
    /// made right after start.
    async fn leader_or_err(&self) -> Result<(), WorkerError> {
        let mut changed = self.membership_changed.subscribe();
        let _ = tokio::time::timeout(self.first_join_timeout, async {
            while self.membership().leader_url.is_none() {
                if changed.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        self.leader_now()
    }

    /// `Ok` on the leader; elsewhere where the leader is, without waiting.
    fn leader_now(&self) -> Result<(), WorkerError> {
        let m = self.membership();
        if m.is_leader() {
            return Ok(());
        }
        match m.leader_url {
            Some(url) => Err(WorkerError::NotLeader(url)),
            None => Err(WorkerError::Conflict(
                "the worker has not joined the cluster yet".into(),
            )),
        }
    }
}

pub enum HerderMsg {
    /// The group gave this worker a new assignment (the whole of it, after revocations).
    Assigned {
        membership: Membership,
        config_offset: i64,
        /// Answered once revoked work stopped and assigned work started.
        reply: Option<RpcReplyPort<()>>,
    },
    /// A change read from the config topic.
    ConfigUpdated(ConfigUpdate),
    /// Apply the assignment again (after a transient failure).
    Reconcile,
    /// A connector running here generated task configs.
    TaskConfigs(String, Vec<Props>),
    /// Leader: write a connector's (validated) config; answers whether it created the
    /// connector. See [`write_connector_config`].
    WriteConnectorConfig {
        name: String,
        props: Props,
        write: ConfigWrite,
        reply: RpcReplyPort<Result<bool, WorkerError>>,
    },
    /// Leader: delete a connector's config (`NotFound` if it has none).
    RemoveConnectorConfig {
        name: String,
        reply: RpcReplyPort<Result<(), WorkerError>>,
    },
    /// Leader: a round of zombie fencing for a source connector (`PUT /connectors/{c}/fence`,
    /// or this worker's own tasks waiting: no reply then). See [`super::fencing`].
    FenceZombies {
        connector: String,
        reply: Option<FencingReply>,
    },
    /// The fencing part of a round finished off the mailbox; the task count record is next.
    ZombiesFenced {
        connector: String,
        fenced: Result<Option<fencing::Fenced>, WorkerError>,
    },
    /// This worker's request to the leader to fence a connector failed: ask again later.
    FencingRequestFailed(String),
    Shutdown(RpcReplyPort<()>),
}

/// How a connector config write treats a connector that already exists.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigWrite {
    /// `POST /connectors`: refused (`Duplicate`) if it exists; created in this target state.
    Create(TargetState),
    /// `PUT /connectors/{c}/config`: replaces it, keeping its target state; a new one starts.
    Replace,
    /// `PATCH /connectors/{c}/config`: applied to the stored config (`NotFound` without one),
    /// then validated; the props sent with it are ignored.
    Patch(crate::herder::ConfigPatch),
}

/// What the herder asks of the group (implemented by the group member).
pub trait GroupControl: Send + Sync + 'static {
    /// Start a rebalance (the config changed the work to assign).
    fn rejoin(&self);
}

pub struct HerderArgs {
    pub worker: Worker,
    pub view: Arc<ClusterView>,
    pub group: Arc<dyn GroupControl>,
    /// `Authorization` for requests to other workers (REST basic auth), if any.
    pub authorization: Option<String>,
}

pub struct HerderActor;

/// Where a fencing round's outcome goes (`PUT /connectors/{c}/fence` waiting for it).
type FencingReply = RpcReplyPort<Result<(), WorkerError>>;

pub struct HerderState {
    args: HerderArgs,
    /// What each connector's local share was last set to.
    applied: BTreeMap<String, (Props, TargetState, Share)>,
    http: reqwest::Client,
    /// Leader: fencing rounds under way, with whoever waits for each; a second request for a
    /// connector joins the round instead of fencing again (which could fence the new tasks).
    fencings: BTreeMap<String, Vec<Option<FencingReply>>>,
    /// Connectors whose tasks wait here for a fencing this worker asked the leader for.
    fencing_asked: BTreeSet<String>,
}

impl Actor for HerderActor {
    type Msg = HerderMsg;
    type State = HerderState;
    type Arguments = HerderArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: HerderArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let props = &args.worker.context().config.props;
        let http = super::rest_client(props, args.authorization.as_deref())?;
        Ok(HerderState {
            args,
            applied: BTreeMap::new(),
            http,
            fencings: BTreeMap::new(),
            fencing_asked: BTreeSet::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HerderMsg::Assigned {
                membership,
                config_offset,
                reply,
            } => {
                read_config_to(&state.args.view, config_offset).await;
                state
                    .args
                    .view
                    .status_writer
                    .set_generation(membership.generation);
                *state
                    .args
                    .view
                    .membership
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = membership;
                state.args.view.membership_changed.send_modify(|v| *v += 1);
                reconcile(state, &myself).await;
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
                // The config may have changed while the group rebalanced.
                rebalance_if_needed(state);
            }
            HerderMsg::ConfigUpdated(update) => {
                match &update {
                    ConfigUpdate::RestartRequested(request) => restart_local(state, request).await,
                    // Stop what runs here even if the connector already exists again: records
                    // read in one batch show only the end state to `reconcile`, and a
                    // re-created connector must start afresh, as in Connect.
                    ConfigUpdate::ConnectorConfigRemoved(name) => {
                        if let Some((props, target, _)) = state.applied.remove(name) {
                            let idle = Share {
                                connector: false,
                                tasks: BTreeSet::new(),
                                task_configs: Vec::new(),
                            };
                            if let Err(e) = state.args.worker.assign(props, target, idle).await {
                                tracing::warn!(connector = %name, "cannot stop a deleted connector: {e}");
                            }
                        }
                    }
                    _ => {}
                }
                reconcile(state, &myself).await;
                if let ConfigUpdate::TargetStateChanged(name) = &update {
                    regenerate_if_taskless(state, name).await;
                }
                rebalance_if_needed(state);
            }
            HerderMsg::TaskConfigs(connector, configs) => {
                // Stale once the connector moved away (its new owner generates its own).
                if state.args.view.membership().connectors.contains(&connector) {
                    store_task_configs(state, &myself, connector, configs).await;
                }
            }
            HerderMsg::WriteConnectorConfig {
                name,
                props,
                write,
                reply,
            } => {
                let ctx = state.args.worker.context().clone();
                let written = write_connector_config(&state.args.view, ctx, name, props, write);
                let _ = reply.send(written.await);
            }
            HerderMsg::RemoveConnectorConfig { name, reply } => {
                let _ = reply.send(remove_connector_config(&state.args.view, name).await);
            }
            HerderMsg::FenceZombies { connector, reply } => {
                start_fencing(state, &myself, connector, reply)
            }
            HerderMsg::ZombiesFenced { connector, fenced } => {
                let waiting = state.fencings.remove(&connector).unwrap_or_default();
                let view = &state.args.view;
                let result = match fenced {
                    Ok(Some(fenced)) => match view.leader_now() {
                        Ok(()) => {
                            fencing::record_round(view.configs.clone(), connector.clone(), fenced)
                                .await
                        }
                        Err(e) => Err(e),
                    },
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                if let Err(e) = &result {
                    tracing::warn!(%connector, "zombie fencing failed: {e}");
                }
                let mut own = false;
                for reply in waiting {
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(result.clone());
                        }
                        None => own = true,
                    }
                }
                // The leader's own tasks wait: a failed round is asked for again.
                if own && result.is_err() {
                    myself.send_after(Duration::from_secs(1), move || {
                        HerderMsg::FencingRequestFailed(connector)
                    });
                }
            }
            HerderMsg::FencingRequestFailed(connector) => {
                state.fencing_asked.remove(&connector);
                reconcile(state, &myself).await;
            }
            HerderMsg::Reconcile => reconcile(state, &myself).await,
            HerderMsg::Shutdown(reply) => {
                state.args.worker.shutdown().await;
                let _ = reply.send(());
                myself.stop(None);
            }
        }
        Ok(())
    }
}

/// Waits (reading the topic) until the config snapshot includes `offset`, so no work starts on
/// configs older than the ones the leader assigned from.
async fn read_config_to(view: &Arc<ClusterView>, offset: i64) {
    for _ in 0..10 {
        if view.configs.snapshot().offset() >= offset {
            return;
        }
        let configs = view.configs.clone();
        match tokio::task::spawn_blocking(move || configs.refresh()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot read the config topic: {e}"),
            Err(e) => tracing::warn!("cannot read the config topic: {e}"),
        }
    }
    tracing::warn!(
        offset,
        read = view.configs.snapshot().offset(),
        "the config topic did not reach the assignment's offset"
    );
}

/// The leader starts a rebalance when the connectors or their task counts differ from what it
/// last assigned.
fn rebalance_if_needed(state: &HerderState) {
    let view = &state.args.view;
    if !view.membership().is_leader() {
        return;
    }
    let shape = ClusterView::shape(&view.configs.snapshot());
    let assigned = view
        .assigned_shape
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if shape != assigned {
        tracing::info!("connectors or task counts changed: rebalancing");
        state.args.group.rejoin();
    }
}

/// Makes the local worker run exactly this worker's assignment with the configs in the config
/// topic. Shares that did not change are left alone, so their tasks keep running. A share that
/// could not be applied for a transient reason is tried again a second later.
async fn reconcile(state: &mut HerderState, myself: &ActorRef<HerderMsg>) {
    let mut retry = false;
    let snapshot = state.args.view.configs.snapshot();
    let m = state.args.view.membership();
    // The mode as tasks see it: `preparing` runs them as `disabled` (see `crate::exactly_once`).
    let support = if state.args.worker.context().exactly_once.is_some() {
        crate::exactly_once::ExactlyOnceSourceSupport::Enabled
    } else {
        crate::exactly_once::ExactlyOnceSourceSupport::Disabled
    };
    // Fencings asked for that happened (or whose connector is gone) are asked no more.
    state
        .fencing_asked
        .retain(|c| snapshot.pending_fencing().contains(c) && snapshot.contains(c));
    let mut to_fence = Vec::new();
    let mut names: BTreeSet<String> = m.connectors.clone();
    names.extend(m.tasks.iter().map(|(c, _)| c.clone()));
    names.extend(state.applied.keys().cloned());
    for name in names {
        let config = snapshot.connector_config(&name).cloned();
        let share = match &config {
            Some(_) if !snapshot.inconsistent().contains(&name) => {
                let count = snapshot.task_count(&name).unwrap_or(0);
                Share {
                    connector: m.connectors.contains(&name),
                    tasks: m
                        .tasks
                        .iter()
                        .filter(|(c, t)| *c == name && *t < count)
                        .map(|(_, t)| *t)
                        .collect(),
                    task_configs: snapshot.task_configs(&name),
                }
            }
            Some(_) => Share {
                connector: m.connectors.contains(&name),
                tasks: BTreeSet::new(),
                task_configs: Vec::new(),
            },
            None => Share {
                connector: false,
                tasks: BTreeSet::new(),
                task_configs: Vec::new(),
            },
        };
        let Some(props) = config.or_else(|| state.applied.get(&name).map(|a| a.0.clone())) else {
            continue;
        };
        let mut share = share;
        // Exactly-once sources start no task until the previous generation is fenced.
        if !share.tasks.is_empty()
            && fencing::must_wait(
                support,
                is_source(state.args.worker.context(), &props),
                &snapshot,
                &name,
            )
        {
            tracing::debug!(connector = %name, "tasks wait for the zombie fencing of their connector");
            share.tasks.clear();
            to_fence.push(name.clone());
        }
        let target = snapshot.target_state(&name).unwrap_or(TargetState::Started);
        let wanted = (props.clone(), target, share.clone());
        if state.applied.get(&name) == Some(&wanted) {
            continue;
        }
        let idle = !share.connector && share.tasks.is_empty();
        match state.args.worker.assign(props, target, share).await {
            Ok(()) if idle => {
                state.applied.remove(&name);
            }
            Ok(()) => {
                state.applied.insert(name, wanted);
            }
            Err(e @ WorkerError::Internal(_)) => {
                // Not recorded as applied: the next reconcile (scheduled) tries again.
                tracing::warn!(connector = %name, "cannot apply this worker's share, retrying: {e}");
                retry = true;
            }
            Err(e) => {
                // An invalid config stays invalid: FAILED until the config changes.
                tracing::error!(connector = %name, "cannot run the connector: {e}");
                if wanted.2.connector {
                    state.args.worker.context().status.set_connector(
                        &name,
                        State::Failed,
                        Some(e.to_string()),
                        0,
                    );
                }
                state.applied.insert(name, wanted);
            }
        }
    }
    for name in to_fence {
        ask_for_fencing(state, myself, &name);
    }
    if retry {
        myself.send_after(Duration::from_secs(1), || HerderMsg::Reconcile);
    }
}

/// The leader starts a round of zombie fencing for `connector`, or adds `reply` to the one under
/// way. The fencing itself runs off the mailbox and reports back as
/// [`HerderMsg::ZombiesFenced`].
fn start_fencing(
    state: &mut HerderState,
    myself: &ActorRef<HerderMsg>,
    connector: String,
    reply: Option<FencingReply>,
) {
    if let Some(waiting) = state.fencings.get_mut(&connector) {
        waiting.push(reply);
        return;
    }
    let view = &state.args.view;
    let ctx = state.args.worker.context();
    let snapshot = view.configs.snapshot();
    let refused = match (view.leader_now(), snapshot.connector_config(&connector)) {
        (Err(e), _) => Some(e),
        (Ok(()), None) => Some(WorkerError::NotFound(connector.clone())),
        (Ok(()), Some(props)) if !is_source(ctx, props) => Some(WorkerError::BadRequest(format!(
            "Connector {connector} is not a source connector"
        ))),
        (Ok(()), Some(_)) => None,
    };
    if let Some(e) = refused {
        match reply {
            Some(reply) => {
                let _ = reply.send(Err(e));
            }
            // This worker's own request: leadership moved; asked again (of the new leader).
            None => {
                myself.send_after(Duration::from_secs(1), move || {
                    HerderMsg::FencingRequestFailed(connector)
                });
            }
        }
        return;
    }
    let props = snapshot
        .connector_config(&connector)
        .cloned()
        .unwrap_or_default();
    let client = fencing::fencing_client(ctx, &props);
    let group_id = ctx
        .config
        .props
        .get("group.id")
        .cloned()
        .unwrap_or_default();
    state.fencings.insert(connector.clone(), vec![reply]);
    let configs = view.configs.clone();
    let myself = myself.clone();
    tokio::spawn(async move {
        let fenced = fencing::fence_round(configs, client, group_id, connector.clone()).await;
        let _ = myself.cast(HerderMsg::ZombiesFenced { connector, fenced });
    });
}

fn is_source(ctx: &WorkerContext, props: &Props) -> bool {
    props
        .get(crate::config::CONNECTOR_CLASS)
        .and_then(|c| ctx.plugins.connector(c.trim()))
        .is_some_and(|p| p.kind == ConnectorKind::Source)
}

/// Asks for the fencing this worker's tasks of `connector` wait for, once: the leader asks
/// itself; others send Connect's `PUT /connectors/{c}/fence` to the leader, signed in a
/// sessioned group. A failure is asked again a second later.
fn ask_for_fencing(state: &mut HerderState, myself: &ActorRef<HerderMsg>, connector: &str) {
    if !state.fencing_asked.insert(connector.to_string()) {
        return;
    }
    tracing::info!(
        %connector,
        "the connector's tasks wait for its previous task generation to be fenced"
    );
    let failed = {
        let myself = myself.clone();
        let connector = connector.to_string();
        move |error: String| {
            tracing::warn!(%connector, "cannot have the connector's zombies fenced, retrying in 1 s: {error}");
            myself.send_after(Duration::from_secs(1), move || {
                HerderMsg::FencingRequestFailed(connector)
            });
        }
    };
    let view = &state.args.view;
    let m = view.membership();
    if m.is_leader() {
        let _ = myself.cast(HerderMsg::FenceZombies {
            connector: connector.to_string(),
            reply: None,
        });
        return;
    }
    let Some(leader) = m.leader_url else {
        return failed("no leader yet".into());
    };
    // Connect sends no body; the signature signs the empty one.
    let body: Vec<u8> = Vec::new();
    let mut signed = None;
    if m.sessioned {
        let Some(key) = view.configs.snapshot().session_key().cloned() else {
            return failed("no session key on the config topic yet".into());
        };
        match signature::sign(&key, &body) {
            Ok(headers) => signed = Some(headers),
            Err(e) => return failed(e.to_string()),
        }
    }
    let http = state.http.clone();
    let url = match crate::rest_url::under(&leader, &["connectors", connector, "fence"]) {
        Ok(url) => url,
        Err(e) => return failed(format!("{leader}: {e}")),
    };
    tokio::spawn(async move {
        let mut request = http.put(url.clone()).body(body);
        if let Some((sig, alg)) = signed {
            request = request
                .header(signature::SIGNATURE_HEADER, sig)
                .header(signature::ALGORITHM_HEADER, alg);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let status = r.status();
                failed(format!(
                    "PUT {url}: {status} {}",
                    r.text().await.unwrap_or_default()
                ));
            }
            Err(e) => failed(format!("PUT {url}: {e}")),
        }
    });
}

/// A STARTED connector whose instance runs here but has no task configs (it was stopped and
/// resumed, perhaps in records read together, so it never restarted) is asked for them again.
async fn regenerate_if_taskless(state: &HerderState, name: &str) {
    let snapshot = state.args.view.configs.snapshot();
    let started = snapshot.target_state(name) == Some(TargetState::Started);
    let taskless = snapshot.task_count(name).unwrap_or(0) == 0;
    let here = state.args.view.membership().connectors.contains(name);
    if started && taskless && here {
        state.args.worker.reconfigure(name).await;
    }
}

/// A restart request read from the config topic: restarts what of it runs here.
async fn restart_local(state: &HerderState, request: &RestartRequest) {
    let name = &request.connector;
    if !state.applied.contains_key(name) {
        return;
    }
    if let Err(e) = state
        .args
        .worker
        .restart_connector(name, request.include_tasks, request.only_failed)
        .await
    {
        tracing::warn!(connector = %name, "restart failed: {e}");
    }
}

/// Task configs generated here: the leader writes them, others send them to the leader (off
/// the actor, so a slow leader never delays an assignment). Failures retry after a second.
async fn store_task_configs(
    state: &HerderState,
    myself: &ActorRef<HerderMsg>,
    connector: String,
    configs: Vec<Props>,
) {
    let view = &state.args.view;
    let snapshot = view.configs.snapshot();
    let unchanged = !snapshot.inconsistent().contains(&connector)
        && snapshot.task_count(&connector) == Some(configs.len() as u32)
        && snapshot.task_configs(&connector) == configs;
    if unchanged {
        return;
    }
    let retry = {
        let myself = myself.clone();
        move |connector: String, configs: Vec<Props>, error: String| {
            tracing::warn!(%connector, "cannot store task configs, retrying in 1 s: {error}");
            myself.send_after(Duration::from_secs(1), move || {
                HerderMsg::TaskConfigs(connector, configs)
            });
        }
    };
    let m = view.membership();
    if m.is_leader() {
        let store = view.configs.clone();
        let (c, v) = (connector.clone(), configs.clone());
        let written = tokio::task::spawn_blocking(move || write_task_configs(&store, &c, &v))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = written {
            retry(connector, configs, e);
        }
        return;
    }
    let Some(leader) = m.leader_url else {
        return retry(connector, configs, "no leader yet".into());
    };
    let http = state.http.clone();
    let body = match serde_json::to_vec(&configs) {
        Ok(b) => b,
        Err(e) => return retry(connector, configs, e.to_string()),
    };
    // In a sessioned group the leader (kconnect or Java) refuses unsigned requests.
    let mut signed = None;
    if m.sessioned {
        let Some(key) = view.configs.snapshot().session_key().cloned() else {
            return retry(
                connector,
                configs,
                "no session key on the config topic yet".into(),
            );
        };
        match signature::sign(&key, &body) {
            Ok(headers) => signed = Some(headers),
            Err(e) => return retry(connector, configs, e.to_string()),
        }
    }
    tokio::spawn(async move {
        let mut url = match crate::rest_url::under(&leader, &["connectors", &connector, "tasks"]) {
            Ok(url) => url,
            Err(e) => return retry(connector, configs, format!("leader URL {leader}: {e}")),
        };
        url.set_query(Some("forward=false"));
        // POST: the only method Connect's workers accept here (a Java leader answers 405 to
        // PUT); kconnect's REST API takes both. The body is sent as signed, byte for byte.
        let mut request = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some((sig, alg)) = signed {
            request = request
                .header(signature::SIGNATURE_HEADER, sig)
                .header(signature::ALGORITHM_HEADER, alg);
        }
        let sent = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => {
                let status = r.status();
                Err(format!(
                    "POST {url}: {status} {}",
                    r.text().await.unwrap_or_default()
                ))
            }
            Err(e) => Err(format!("POST {url}: {e}")),
        };
        if let Err(e) = sent {
            retry(connector, configs, e);
        }
    });
}

/// The leader's decision and write of a connector's config, as Connect's `DistributedHerder`
/// makes them: in the herder's one thread (this actor handles one message at a time, so two
/// requests for one name never both find it absent), against the config topic read to its end
/// (a previous leader's last writes included). The write is read back before the answer, so the
/// next request sees it.
async fn write_connector_config(
    view: &Arc<ClusterView>,
    ctx: Arc<crate::context::WorkerContext>,
    name: String,
    props: Props,
    write: ConfigWrite,
) -> Result<bool, WorkerError> {
    // Leadership may have moved since the request was checked: the new leader decides.
    view.leader_now()?;
    let store = view.configs.clone();
    blocking(move || {
        store.refresh().map_err(internal)?;
        let snapshot = store.snapshot();
        let exists = snapshot.contains(&name);
        let (props, target) = match write {
            ConfigWrite::Create(_) if exists => return Err(WorkerError::Duplicate(name)),
            ConfigWrite::Create(target) => (props, Some(target)),
            ConfigWrite::Replace => (props, (!exists).then_some(TargetState::Started)),
            ConfigWrite::Patch(patch) => {
                let current = snapshot
                    .connector_config(&name)
                    .cloned()
                    .ok_or_else(|| WorkerError::NotFound(name.clone()))?;
                let patched = patch.apply(current);
                crate::worker::validate(&ctx, &patched)?;
                (patched, None)
            }
        };
        store
            .put_connector_config(&name, &props, target)
            .map_err(internal)?;
        Ok(!exists)
    })
    .await
}

/// The leader's deletion of a connector's config, decided as [`write_connector_config`] decides.
async fn remove_connector_config(view: &Arc<ClusterView>, name: String) -> Result<(), WorkerError> {
    view.leader_now()?;
    let store = view.configs.clone();
    blocking(move || {
        store.refresh().map_err(internal)?;
        if !store.snapshot().contains(&name) {
            return Err(WorkerError::NotFound(name));
        }
        store.remove_connector_config(&name).map_err(internal)
    })
    .await
}

fn internal(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Internal(e.to_string())
}

/// Runs a blocking config-topic operation off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorkerError> + Send + 'static,
) -> Result<T, WorkerError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// The leader's write of a connector's task configs. Configs for a connector that was deleted or
/// STOPPED meanwhile are dropped: they would resurrect tasks nobody wants.
fn write_task_configs(
    store: &KafkaConfigStore,
    connector: &str,
    configs: &[Props],
) -> Result<(), crate::storage::kafka::KafkaLogError> {
    let unwanted = || {
        let snapshot = store.snapshot();
        let stopped = snapshot.target_state(connector) == Some(TargetState::Stopped);
        !snapshot.contains(connector) || (stopped && !configs.is_empty())
    };
    // The sender acted on a config record (a resume, a create) that this leader may not have
    // read yet: read the topic to its end before dropping anything, or the tasks of a resumed
    // connector would be lost for good.
    if unwanted() {
        store.refresh()?;
        if unwanted() {
            tracing::info!(
                connector,
                "dropping task configs of a deleted or stopped connector"
            );
            return Ok(());
        }
    }
    store.put_task_configs(connector, configs)
}

/// The handle the REST API and the binary use.
#[derive(Clone)]
pub struct DistributedHerder {
    pub actor: ActorRef<HerderMsg>,
    pub worker: Worker,
    pub view: Arc<ClusterView>,
    /// Stops the group member (leaving the group) before the worker stops.
    pub leave: Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>,
}

impl DistributedHerder {
    fn ctx(&self) -> &Arc<WorkerContext> {
        self.worker.context()
    }

    fn snapshot(&self) -> ConfigSnapshot {
        self.view.configs.snapshot()
    }

    fn existing(&self, name: &str) -> Result<(ConfigSnapshot, Props), WorkerError> {
        let snapshot = self.snapshot();
        match snapshot.connector_config(name).cloned() {
            Some(props) => Ok((snapshot, props)),
            None => Err(WorkerError::NotFound(name.to_string())),
        }
    }

    fn kind_of(&self, props: &Props) -> ConnectorKind {
        props
            .get(crate::config::CONNECTOR_CLASS)
            .and_then(|c| self.ctx().plugins.connector(c.trim()))
            .map(|p| p.kind)
            .unwrap_or(ConnectorKind::Source)
    }

    /// Where the worker that last reported `task` of `name` answers REST requests.
    fn owner_url(&self, name: &str, task: u32) -> Option<String> {
        let worker_id = self
            .view
            .statuses
            .snapshot()
            .task(name, task)?
            .worker_id
            .clone();
        let scheme = if self.view.url.starts_with("https:") {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{worker_id}"))
    }

    fn runs_here(&self, name: &str, task: u32) -> bool {
        self.view
            .membership()
            .tasks
            .contains(&(name.to_string(), task))
    }

    /// Asks the herder actor to decide and write (see [`write_connector_config`]); as long as
    /// Connect's REST layer waits for its herder (90 s).
    async fn ask<T: Send + 'static>(
        &self,
        msg: impl FnOnce(RpcReplyPort<Result<T, WorkerError>>) -> HerderMsg,
    ) -> Result<T, WorkerError> {
        match self.actor.call(msg, Some(REQUEST_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(ractor::rpc::CallResult::Timeout) => {
                Err(WorkerError::Internal("Request timed out".into()))
            }
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(WorkerError::Internal(
                "the herder stopped before answering".into(),
            )),
        }
    }

    /// An internal request's signature, checked when the group runs `sessioned`. As Connect's
    /// workers: no key yet or an unusable one is this worker's problem (500); a missing
    /// signature is the caller's (400), a wrong one forbidden (403).
    fn verify_signed(
        &self,
        request: signature::RequestSignature<'_>,
        body: &[u8],
    ) -> Result<(), WorkerError> {
        if !self.view.membership().sessioned {
            return Ok(());
        }
        let key = self
            .view
            .configs
            .snapshot()
            .session_key()
            .cloned()
            .ok_or_else(|| {
                WorkerError::Conflict("no session key on the config topic yet".into())
            })?;
        signature::verify(&key, request, body).map_err(|e| match e {
            signature::SignatureError::Invalid => WorkerError::Forbidden(e.to_string()),
            signature::SignatureError::BadKey(_) => WorkerError::Internal(e.to_string()),
            _ => WorkerError::BadRequest(e.to_string()),
        })
    }

    /// Runs a write to the config topic off the async threads (it waits until the write was
    /// read back).
    async fn write_configs(
        &self,
        write: impl FnOnce(&KafkaConfigStore) -> Result<(), crate::storage::kafka::KafkaLogError>
            + Send
            + 'static,
    ) -> Result<(), WorkerError> {
        let store = self.view.configs.clone();
        tokio::task::spawn_blocking(move || write(&store))
            .await
            .map_err(|e| WorkerError::Internal(e.to_string()))?
            .map_err(|e| WorkerError::Internal(e.to_string()))
    }
}

#[async_trait]
impl Herder for DistributedHerder {
    fn context(&self) -> &Arc<WorkerContext> {
        self.ctx()
    }

    async fn connectors(&self) -> Vec<String> {
        self.snapshot().connectors()
    }

    async fn connector(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        let (snapshot, props) = self.existing(name)?;
        Ok(ConnectorInfo {
            kind: self.kind_of(&props),
            target: snapshot.target_state(name).unwrap_or(TargetState::Started),
            props,
        })
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<Props>, WorkerError> {
        let (snapshot, _) = self.existing(name)?;
        Ok(snapshot.task_configs(name))
    }

    async fn create_connector(
        &self,
        props: Props,
        target: TargetState,
    ) -> Result<String, WorkerError> {
        self.view.leader_or_err().await?;
        let (config, _) = crate::worker::validate(self.ctx(), &props)?;
        let name = config.name;
        self.ask(|reply| HerderMsg::WriteConnectorConfig {
            name: name.clone(),
            props,
            write: ConfigWrite::Create(target),
            reply,
        })
        .await?;
        Ok(name)
    }

    async fn put_config(&self, name: &str, mut props: Props) -> Result<bool, WorkerError> {
        match props.get(crate::config::NAME) {
            Some(n) if n != name => {
                return Err(WorkerError::InvalidConfig {
                    connector: name.to_string(),
                    errors: vec![format!(
                        "Connector name configuration ({n}) doesn't match connector name in the URL"
                    )],
                })
            }
            _ => {
                props.insert(crate::config::NAME.into(), name.to_string());
            }
        }
        self.view.leader_or_err().await?;
        crate::worker::validate(self.ctx(), &props)?;
        let name = name.to_string();
        self.ask(|reply| HerderMsg::WriteConnectorConfig {
            name,
            props,
            write: ConfigWrite::Replace,
            reply,
        })
        .await
    }

    async fn patch_config(
        &self,
        name: &str,
        patch: crate::herder::ConfigPatch,
    ) -> Result<(), WorkerError> {
        self.view.leader_or_err().await?;
        let name = name.to_string();
        self.ask(|reply| HerderMsg::WriteConnectorConfig {
            name,
            props: Props::new(),
            write: ConfigWrite::Patch(patch),
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        self.view.leader_or_err().await?;
        let name = name.to_string();
        self.ask(|reply| HerderMsg::RemoveConnectorConfig { name, reply })
            .await
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        // As Connect: any worker may pause or resume; stopping (which also empties the task
        // configs) is the leader's.
        if target == TargetState::Stopped {
            self.view.leader_or_err().await?;
        }
        self.existing(name)?;
        let name = name.to_string();
        self.write_configs(move |s| {
            // As Connect: the tasks go first, then the state that keeps them from coming back.
            if target == TargetState::Stopped {
                s.put_task_configs(&name, &[])?;
            }
            s.put_target_state(&name, target)
        })
        .await
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError> {
        self.view.leader_or_err().await?;
        self.existing(name)?;
        // As Connect's leader: the plan comes from the status topic as it stands, so the
        // answer shows what will restart whenever the workers running it get to it.
        let plan = self
            .status(name)
            .await
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?
            .restart_plan(crate::status::RestartRequest {
                include_tasks,
                only_failed,
            });
        let request = RestartRequest {
            connector: name.to_string(),
            include_tasks,
            only_failed,
        };
        self.write_configs(move |s| s.put_restart_request(&request))
            .await?;
        Ok(plan)
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        let (snapshot, _) = self.existing(name)?;
        if task >= snapshot.task_count(name).unwrap_or(0) {
            return Err(WorkerError::TaskNotFound(name.to_string(), task));
        }
        if self.runs_here(name, task) {
            return self.worker.restart_task(name, task).await;
        }
        match self.owner_url(name, task) {
            Some(url) if url != self.view.url => Err(WorkerError::ElsewhereAt(url)),
            _ => Err(WorkerError::Conflict(format!(
                "task {name}-{task} is not running on any worker yet"
            ))),
        }
    }

    async fn status(&self, name: &str) -> Option<ConnectorStatus> {
        let (snapshot, props) = self.existing(name).ok()?;
        let statuses = self.view.statuses.snapshot();
        let convert = |s: &crate::storage::kafka::Status| Status {
            state: s.state,
            worker_id: s.worker_id.clone(),
            trace: s.trace.clone(),
            restarts: 0,
        };
        // As Connect: no status until a worker has reported one (REST answers 404 "No status
        // found for connector …"), rather than an UNASSIGNED nobody wrote.
        let connector = statuses.connector(name).map(convert)?;
        let count = snapshot.task_count(name).unwrap_or(0);
        Some(ConnectorStatus {
            name: name.to_string(),
            kind: self.kind_of(&props).as_str().to_string(),
            connector,
            tasks: statuses
                .tasks(name)
                .iter()
                .filter(|(id, _)| *id < count)
                .map(|(id, s)| (*id, convert(s)))
                .collect(),
            topics: statuses.topics(name).into_iter().map(|t| t.topic).collect(),
        })
    }

    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, WorkerError> {
        let (_, props) = self.existing(name)?;
        let kind = self.kind_of(&props);
        let config = ConnectorConfig::parse(props, &self.ctx().config.restart)
            .map_err(|e| WorkerError::Internal(e.to_string()))?;
        let ctx = self.ctx().clone();
        tokio::task::spawn_blocking(move || crate::offsets::get(&ctx, &config, kind))
            .await
            .map_err(|e| WorkerError::Internal(e.to_string()))?
    }

    async fn change_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> Result<(), WorkerError> {
        self.view.leader_or_err().await?;
        let (snapshot, props) = self.existing(name)?;
        if snapshot.target_state(name) != Some(TargetState::Stopped) {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        let kind = self.kind_of(&props);
        let config = ConnectorConfig::parse(props, &self.ctx().config.restart)
            .map_err(|e| WorkerError::Internal(e.to_string()))?;
        match offsets {
            Some(o) => crate::offsets::alter(self.ctx(), &config, kind, o).await,
            None => crate::offsets::reset(self.ctx(), &config, kind).await,
        }
    }

    async fn inject_task_fault(
        &self,
        name: &str,
        task: u32,
        kind: FaultKind,
    ) -> Result<(), WorkerError> {
        self.existing(name)?;
        if self.runs_here(name, task) {
            return self.worker.inject_task_fault(name, task, kind).await;
        }
        match self.owner_url(name, task) {
            Some(url) if url != self.view.url => Err(WorkerError::ElsewhereAt(url)),
            _ => Err(WorkerError::BadRequest(format!(
                "task {name}-{task} is not running"
            ))),
        }
    }

    /// Tombstones every `status-topic-…` record of the connector, as Connect's reset does.
    async fn reset_topics(&self, name: &str) -> Result<(), WorkerError> {
        self.existing(name)?;
        self.ctx().status.reset_topics(name);
        let store = self.view.statuses.clone();
        let connector = name.to_string();
        tokio::task::spawn_blocking(move || {
            for t in store.snapshot().topics(&connector) {
                store.put(&crate::storage::kafka::StatusRecord::Topic {
                    topic: t.topic,
                    connector: connector.clone(),
                    status: None,
                })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| WorkerError::Internal(e.to_string()))?
        .map_err(|e: crate::storage::kafka::KafkaLogError| WorkerError::Internal(e.to_string()))
    }

    async fn put_task_configs(
        &self,
        name: &str,
        configs: Vec<Props>,
        body: &[u8],
        request: signature::RequestSignature<'_>,
    ) -> Result<(), WorkerError> {
        self.view.leader_or_err().await?;
        self.verify_signed(request, body)?;
        self.existing(name)?;
        let name = name.to_string();
        let store = self.view.configs.clone();
        tokio::task::spawn_blocking(move || write_task_configs(&store, &name, &configs))
            .await
            .map_err(|e| WorkerError::Internal(e.to_string()))?
            .map_err(|e| WorkerError::Internal(e.to_string()))
    }

    /// Connect's `fenceZombieSourceTasks`: the signature is checked by whichever worker
    /// receives the request (as Connect does), then the leader runs the round; elsewhere the
    /// REST layer forwards it there, signature headers included.
    async fn fence_zombies(
        &self,
        name: &str,
        body: &[u8],
        request: signature::RequestSignature<'_>,
    ) -> Result<(), WorkerError> {
        self.verify_signed(request, body)?;
        self.view.leader_or_err().await?;
        let connector = name.to_string();
        self.ask(|reply| HerderMsg::FenceZombies {
            connector,
            reply: Some(reply),
        })
        .await
    }

    async fn set_cluster_logger_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<bool, WorkerError> {
        // Any worker may write it, as in Connect.
        let record = crate::storage::kafka::ConfigRecord::LoggerLevel {
            namespace: namespace.to_string(),
            level: level.to_string(),
        };
        self.write_configs(move |s| s.write(&[record])).await?;
        Ok(true)
    }

    async fn local_work(&self) -> Vec<crate::worker::LocalWork> {
        self.worker.local_work().await
    }

    fn cluster_info(&self) -> Option<serde_json::Value> {
        let m = self.view.membership();
        Some(serde_json::json!({
            "generation": m.generation,
            "member_id": m.member_id,
            "leader": m.is_leader(),
            "leader_url": m.leader_url,
            "url": self.view.url,
        }))
    }

    /// Stops this worker's tasks (they commit their offsets) while it is still a member, then
    /// leaves the group so the others take the work over at once.
    async fn shutdown(&self) {
        let _ = self
            .actor
            .call(HerderMsg::Shutdown, Some(Duration::from_secs(120)))
            .await;
        (self.leave)().await;
        // The tasks' last statuses (UNASSIGNED) before the status topic's clients go.
        let writer = self.view.status_writer.clone();
        let _ = tokio::task::spawn_blocking(move || writer.flush(Duration::from_secs(10))).await;
        self.view.configs.stop();
        self.view.statuses.stop();
    }
}
