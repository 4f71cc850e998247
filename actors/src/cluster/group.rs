//! A member of a Kafka group speaking the classic group protocol (FindCoordinator, JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup) for an arbitrary protocol type — "connect" for kconnect.
//!
//! [`run_member`] is the whole member: one tokio task that joins, lets the leader assign,
//! hands this member's assignment to a [`GroupHandler`], heartbeats, and rejoins whenever the
//! coordinator, a command or the handler asks for it.
//!
//! The handler is called from that same task, so its methods must return quickly (hand work
//! to other tasks): while a handler method runs, no heartbeat is sent, and a handler that
//! blocks longer than the session timeout gets the member thrown out of the group.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::conn::{ConnError, KafkaConnection, DEFAULT_REQUEST_TIMEOUT};
use super::security::SecurityConfig;

#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub bootstrap_servers: Vec<String>,
    pub group_id: String,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub security: SecurityConfig,
    /// The group's protocol type: "connect" for Kafka Connect workers.
    pub protocol_type: String,
}

/// What the member loop asks of its owner. All methods run on the member's task between
/// group requests: they must be quick (no waiting for work to stop), or heartbeats stall.
#[async_trait::async_trait]
pub trait GroupHandler: Send + 'static {
    /// The protocols this member supports, in preference order, with their metadata bytes.
    async fn metadata(&mut self) -> Vec<(String, Bytes)>;
    /// Leader only: assignments for every member, given each member's metadata for `protocol`.
    async fn assign(
        &mut self,
        generation: i32,
        leader_id: &str,
        protocol: &str,
        members: Vec<(String, Bytes)>,
    ) -> Result<HashMap<String, Bytes>, String>;
    /// This member's assignment after a successful SyncGroup. Return true to rejoin at once
    /// (e.g. after revoking work in cooperative rebalancing).
    async fn assigned(
        &mut self,
        generation: i32,
        member_id: &str,
        leader_id: &str,
        protocol: &str,
        assignment: Bytes,
    ) -> bool;
    /// Membership was lost (session expired, fenced, coordinator gone for longer than the
    /// session timeout ...): the member must stop all work, it will rejoin.
    async fn lost(&mut self, reason: &str);
}

pub enum GroupCommand {
    /// Rejoin the group (e.g. this member's metadata changed). During a join in progress,
    /// the member rejoins once more after it, so the group sees the new metadata.
    Rejoin,
    /// Leave the group and end [`run_member`]; the sender is told when the member is gone.
    Leave(oneshot::Sender<()>),
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("group {group}: invalid member configuration: {reason}")]
    Config { group: String, reason: String },
    #[error("group {group}: the handler offered no protocols to join with")]
    NoProtocols { group: String },
    #[error("group {group}: {api:?} failed with {error}, which retrying cannot fix")]
    Fatal {
        group: String,
        api: ApiKey,
        error: ResponseError,
    },
}

/// Runs one group member until it is told to leave (or its command sender is dropped, which
/// also leaves). Returns an error only for problems that retrying cannot fix.
pub async fn run_member(
    config: GroupConfig,
    handler: impl GroupHandler,
    commands: mpsc::UnboundedReceiver<GroupCommand>,
) -> Result<(), GroupError> {
    let timeouts = Timeouts::from_config(&config)?;
    let mut member = Member {
        config,
        timeouts,
        handler,
        commands,
        coordinator: None,
        member_id: String::new(),
        generation: -1,
        holds_assignment: false,
        last_contact: Instant::now(),
        pending_rejoin: false,
        backoff: Backoff::new(),
        next_bootstrap: 0,
    };
    member.run().await
}

/// Retry pacing for coordinator lookups and failed requests (the Java client's
/// retry.backoff.ms / retry.backoff.max.ms defaults), with jitter so members that failed
/// together do not retry in lockstep.
struct Backoff {
    next: Duration,
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl Backoff {
    fn new() -> Self {
        Self { next: BACKOFF_MIN }
    }

    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay.mul_f64(rand::rng().random_range(0.8..1.2))
    }
}

struct Timeouts {
    session_ms: i32,
    rebalance_ms: i32,
    /// JoinGroup and SyncGroup may be held by the broker until the whole group has (re)joined,
    /// i.e. up to the rebalance timeout; the read timeout must outlast that.
    rebalance_request: Duration,
    /// A heartbeat unanswered this long means the session is gone anyway.
    heartbeat_request: Duration,
}

impl Timeouts {
    fn from_config(config: &GroupConfig) -> Result<Self, GroupError> {
        let invalid = |reason: String| GroupError::Config {
            group: config.group_id.clone(),
            reason,
        };
        let millis = |name: &str, d: Duration| {
            i32::try_from(d.as_millis())
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| invalid(format!("{name} {d:?} is out of range")))
        };
        if config.bootstrap_servers.is_empty() {
            return Err(invalid("no bootstrap servers".into()));
        }
        if config.group_id.is_empty() {
            return Err(invalid("empty group id".into()));
        }
        let session_ms = millis("session timeout", config.session_timeout)?;
        let rebalance_ms = millis("rebalance timeout", config.rebalance_timeout)?;
        millis("heartbeat interval", config.heartbeat_interval)?;
        if config.heartbeat_interval >= config.session_timeout {
            return Err(invalid(format!(
                "heartbeat interval {:?} must be below the session timeout {:?}",
                config.heartbeat_interval, config.session_timeout
            )));
        }
        Ok(Self {
            session_ms,
            rebalance_ms,
            rebalance_request: (config.rebalance_timeout + Duration::from_secs(5))
                .max(DEFAULT_REQUEST_TIMEOUT),
            heartbeat_request: config.session_timeout,
        })
    }
}

/// How a phase of the member loop ended.
enum Flow {
    Rejoin,
    /// Leave the group; the sender (absent when the command channel closed) is told after.
    Leave(Option<oneshot::Sender<()>>),
}

/// The outcome of waiting on something while commands keep arriving.
enum Waited<T> {
    Done(T),
    Flow(Flow),
}

/// Waits for `fut` while serving commands. Leave (or a closed channel) interrupts it; Rejoin
/// interrupts it only when `rejoin_interrupts`, and is otherwise remembered for later.
async fn watch_commands<T>(
    commands: &mut mpsc::UnboundedReceiver<GroupCommand>,
    pending_rejoin: &mut bool,
    rejoin_interrupts: bool,
    fut: impl Future<Output = T>,
) -> Waited<T> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Waited::Done(out),
            command = commands.recv() => match command {
                Some(GroupCommand::Rejoin) if rejoin_interrupts => return Waited::Flow(Flow::Rejoin),
                Some(GroupCommand::Rejoin) => *pending_rejoin = true,
                Some(GroupCommand::Leave(done)) => return Waited::Flow(Flow::Leave(Some(done))),
                None => return Waited::Flow(Flow::Leave(None)),
            },
        }
    }
}

/// Unwraps a [`Waited`], returning the flow from the enclosing function if interrupted.
macro_rules! waited {
    ($waited:expr) => {
        match $waited {
            Waited::Done(value) => value,
            Waited::Flow(flow) => return Ok(flow),
        }
    };
}

/// The result of a JoinGroup that succeeded.
struct Joined {
    generation: i32,
    leader_id: String,
    protocol: String,
    /// Every member's metadata; only the leader gets these.
    members: Vec<(String, Bytes)>,
}

struct Member<H> {
    config: GroupConfig,
    timeouts: Timeouts,
    handler: H,
    commands: mpsc::UnboundedReceiver<GroupCommand>,
    coordinator: Option<KafkaConnection>,
    /// Empty until the coordinator hands one out; reset when the coordinator forgets us.
    member_id: String,
    generation: i32,
    /// `assigned` was called and no `lost` since: the handler may be running work.
    holds_assignment: bool,
    /// When the coordinator last answered us as a member in good standing.
    last_contact: Instant,
    /// A Rejoin arrived during a join: rejoin again once this one completes.
    pending_rejoin: bool,
    backoff: Backoff,
    /// Bootstrap servers are tried round-robin, starting after the last one used.
    next_bootstrap: usize,
}

impl<H: GroupHandler> Member<H> {
    fn group_id(&self) -> GroupId {
        GroupId(StrBytes::from_string(self.config.group_id.clone()))
    }

    async fn run(&mut self) -> Result<(), GroupError> {
        loop {
            let flow = match self.join_and_sync().await? {
                None => self.heartbeat_until_rejoin().await?,
                Some(flow) => flow,
            };
            match flow {
                Flow::Rejoin => continue,
                Flow::Leave(done) => {
                    self.leave().await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Sleeps for the next backoff delay, still serving commands.
    async fn back_off(&mut self, rejoin_interrupts: bool) -> Waited<()> {
        let delay = self.backoff.next_delay();
        watch_commands(
            &mut self.commands,
            &mut self.pending_rejoin,
            rejoin_interrupts,
            tokio::time::sleep(delay),
        )
        .await
    }

    /// The coordinator forgot this member (or will have, after the session timeout).
    async fn reset_membership(&mut self, reason: &str) {
        self.member_id.clear();
        self.generation = -1;
        self.lose(reason).await;
    }

    /// Tells the handler to stop its work, once per assignment.
    async fn lose(&mut self, reason: &str) {
        if self.holds_assignment {
            tracing::warn!(group = %self.config.group_id, "group membership lost: {reason}");
            self.holds_assignment = false;
            self.handler.lost(reason).await;
        }
    }

    fn session_expired(&self) -> bool {
        self.last_contact.elapsed() > self.config.session_timeout
    }

    /// Drops the coordinator connection so the next request looks the coordinator up again.
    fn forget_coordinator(&mut self, why: &dyn std::fmt::Display) {
        if let Some(conn) = self.coordinator.take() {
            tracing::info!(group = %self.config.group_id, coordinator = %conn.addr(),
                "dropping the group coordinator connection: {why}");
        }
    }

    /// Makes sure there is a live coordinator connection, retrying with backoff. Past the
    /// session timeout without one, the membership is considered lost.
    async fn ensure_coordinator(
        &mut self,
        rejoin_interrupts: bool,
    ) -> Result<Option<Flow>, GroupError> {
        loop {
            if self.coordinator.as_ref().is_some_and(|c| !c.is_broken()) {
                return Ok(None);
            }
            self.coordinator = None;
            let found = watch_commands(
                &mut self.commands,
                &mut self.pending_rejoin,
                rejoin_interrupts,
                find_coordinator(&self.config, &mut self.next_bootstrap),
            )
            .await;
            match found {
                Waited::Flow(flow) => return Ok(Some(flow)),
                Waited::Done(Ok(conn)) => {
                    tracing::info!(group = %self.config.group_id, coordinator = %conn.addr(),
                        "connected to the group coordinator");
                    self.coordinator = Some(conn);
                    return Ok(None);
                }
                Waited::Done(Err(FindError::Fatal(error))) => {
                    return Err(GroupError::Fatal {
                        group: self.config.group_id.clone(),
                        api: ApiKey::FindCoordinator,
                        error,
                    })
                }
                Waited::Done(Err(FindError::Retry(why))) => {
                    tracing::warn!(group = %self.config.group_id, "cannot reach the group coordinator: {why}");
                    if self.holds_assignment && self.session_expired() {
                        self.reset_membership(
                            "the group coordinator was unreachable for longer than the session timeout",
                        )
                        .await;
                    }
                    if let Waited::Flow(flow) = self.back_off(rejoin_interrupts).await {
                        return Ok(Some(flow));
                    }
                }
            }
        }
    }

    /// Joins and syncs until this member has an assignment for a generation. `None` means
    /// joined (go heartbeat); otherwise what to do instead.
    async fn join_and_sync(&mut self) -> Result<Option<Flow>, GroupError> {
        loop {
            self.pending_rejoin = false;
            let joined = match self.join().await? {
                Ok(joined) => joined,
                Err(flow) => return Ok(Some(flow)),
            };
            match self.sync(joined).await? {
                SyncOutcome::Member => {
                    if self.pending_rejoin {
                        tracing::info!(group = %self.config.group_id, "rejoining as requested during the rebalance");
                        continue;
                    }
                    return Ok(None);
                }
                SyncOutcome::Rejoin => continue,
                SyncOutcome::Flow(flow) => return Ok(Some(flow)),
            }
        }
    }

    /// JoinGroup until it succeeds. Inner `Err` carries a Leave.
    async fn join(&mut self) -> Result<Result<Joined, Flow>, GroupError> {
        loop {
            if let Some(flow) = self.ensure_coordinator(false).await? {
                return Ok(Err(flow));
            }
            let protocols = self.handler.metadata().await;
            if protocols.is_empty() {
                return Err(GroupError::NoProtocols {
                    group: self.config.group_id.clone(),
                });
            }
            let Some(conn) = self.coordinator.as_mut() else {
                continue;
            };
            let version = match conn.version_of::<JoinGroupRequest>() {
                Ok(v) => v,
                Err(e) => return Err(self.unsupported(ApiKey::JoinGroup, e)),
            };
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
                .with_session_timeout_ms(self.timeouts.session_ms)
                .with_rebalance_timeout_ms(if version >= 1 {
                    self.timeouts.rebalance_ms
                } else {
                    -1
                })
                .with_member_id(StrBytes::from_string(self.member_id.clone()))
                .with_protocol_type(StrBytes::from_string(self.config.protocol_type.clone()))
                .with_protocols(
                    protocols
                        .into_iter()
                        .map(|(name, metadata)| {
                            JoinGroupRequestProtocol::default()
                                .with_name(StrBytes::from_string(name))
                                .with_metadata(metadata)
                        })
                        .collect(),
                );
            tracing::info!(group = %self.config.group_id, member = %self.member_id, version,
                "joining the group");
            let timeout = self.timeouts.rebalance_request;
            let sent = watch_commands(
                &mut self.commands,
                &mut self.pending_rejoin,
                false,
                conn.send_with_timeout(request, timeout),
            )
            .await;
            let response = match sent {
                Waited::Flow(flow) => return Ok(Err(flow)),
                Waited::Done(Err(e)) => {
                    self.forget_coordinator(&e);
                    if let Waited::Flow(flow) = self.back_off(false).await {
                        return Ok(Err(flow));
                    }
                    continue;
                }
                Waited::Done(Ok(response)) => response,
            };
            let error = ResponseError::try_from_code(response.error_code);
            match error {
                None => {
                    self.backoff.reset();
                    self.last_contact = Instant::now();
                    self.member_id = response.member_id.to_string();
                    self.generation = response.generation_id;
                    let joined = Joined {
                        generation: response.generation_id,
                        leader_id: response.leader.to_string(),
                        protocol: response
                            .protocol_name
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        members: response
                            .members
                            .into_iter()
                            .map(|m| (m.member_id.to_string(), m.metadata))
                            .collect(),
                    };
                    tracing::info!(group = %self.config.group_id, member = %self.member_id,
                        generation = joined.generation, leader = %joined.leader_id,
                        protocol = %joined.protocol, members = joined.members.len(),
                        "joined the group");
                    return Ok(Ok(joined));
                }
                Some(ResponseError::MemberIdRequired) => {
                    // v4+: the first join only obtains a member id; join again with it.
                    self.member_id = response.member_id.to_string();
                    tracing::info!(group = %self.config.group_id, member = %self.member_id,
                        "the coordinator assigned a member id; joining with it");
                }
                Some(ResponseError::UnknownMemberId) => {
                    self.reset_membership("the coordinator no longer knows this member")
                        .await;
                }
                Some(ResponseError::RebalanceInProgress | ResponseError::IllegalGeneration) => {
                    tracing::info!(group = %self.config.group_id, "JoinGroup: {}; rejoining",
                        error.map(|e| e.to_string()).unwrap_or_default());
                }
                Some(
                    e @ (ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable),
                ) => {
                    self.forget_coordinator(&e);
                    if let Waited::Flow(flow) = self.back_off(false).await {
                        return Ok(Err(flow));
                    }
                }
                Some(
                    e @ (ResponseError::GroupAuthorizationFailed
                    | ResponseError::InvalidSessionTimeout
                    | ResponseError::InconsistentGroupProtocol
                    | ResponseError::InvalidGroupId
                    | ResponseError::GroupMaxSizeReached),
                ) => {
                    return Err(GroupError::Fatal {
                        group: self.config.group_id.clone(),
                        api: ApiKey::JoinGroup,
                        error: e,
                    })
                }
                Some(e) => {
                    tracing::warn!(group = %self.config.group_id, "JoinGroup failed: {e}; retrying");
                    if let Waited::Flow(flow) = self.back_off(false).await {
                        return Ok(Err(flow));
                    }
                }
            }
        }
    }

    fn unsupported(&self, api: ApiKey, e: ConnError) -> GroupError {
        tracing::error!(group = %self.config.group_id, "{e}");
        GroupError::Fatal {
            group: self.config.group_id.clone(),
            api,
            error: ResponseError::UnsupportedVersion,
        }
    }

    /// SyncGroup for the generation just joined; the leader brings everyone's assignment.
    async fn sync(&mut self, joined: Joined) -> Result<SyncOutcome, GroupError> {
        let is_leader = joined.leader_id == self.member_id;
        let assignments = if is_leader {
            let member_ids: Vec<String> = joined.members.iter().map(|(id, _)| id.clone()).collect();
            let assigned = self
                .handler
                .assign(
                    joined.generation,
                    &joined.leader_id,
                    &joined.protocol,
                    joined.members,
                )
                .await;
            match assigned {
                Ok(mut map) => {
                    tracing::info!(group = %self.config.group_id, generation = joined.generation,
                        members = member_ids.len(), "assigned work as the group leader");
                    // The group completes only when every member has an assignment.
                    member_ids
                        .into_iter()
                        .map(|id| {
                            let assignment = map.remove(&id).unwrap_or_else(|| {
                                tracing::warn!(group = %self.config.group_id, member = %id,
                                    "the assignor gave this member nothing; sending it an empty assignment");
                                Bytes::new()
                            });
                            SyncGroupRequestAssignment::default()
                                .with_member_id(StrBytes::from_string(id))
                                .with_assignment(assignment)
                        })
                        .collect()
                }
                Err(e) => {
                    tracing::error!(group = %self.config.group_id, generation = joined.generation,
                        "the assignor failed: {e}; rejoining");
                    return Ok(match self.back_off(false).await {
                        Waited::Flow(flow) => SyncOutcome::Flow(flow),
                        Waited::Done(()) => SyncOutcome::Rejoin,
                    });
                }
            }
        } else {
            Vec::new()
        };

        let Some(conn) = self.coordinator.as_mut() else {
            return Ok(SyncOutcome::Rejoin);
        };
        let version = match conn.version_of::<SyncGroupRequest>() {
            Ok(v) => v,
            Err(e) => return Err(self.unsupported(ApiKey::SyncGroup, e)),
        };
        let mut request = SyncGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_generation_id(joined.generation)
            .with_member_id(StrBytes::from_string(self.member_id.clone()))
            .with_assignments(assignments);
        if version >= 5 {
            request = request
                .with_protocol_type(Some(StrBytes::from_string(
                    self.config.protocol_type.clone(),
                )))
                .with_protocol_name(Some(StrBytes::from_string(joined.protocol.clone())));
        }
        let timeout = self.timeouts.rebalance_request;
        let sent = watch_commands(
            &mut self.commands,
            &mut self.pending_rejoin,
            false,
            conn.send_with_timeout(request, timeout),
        )
        .await;
        let response = match sent {
            Waited::Flow(flow) => return Ok(SyncOutcome::Flow(flow)),
            Waited::Done(Err(e)) => {
                self.forget_coordinator(&e);
                return Ok(SyncOutcome::Rejoin);
            }
            Waited::Done(Ok(response)) => response,
        };
        match ResponseError::try_from_code(response.error_code) {
            None => {
                self.last_contact = Instant::now();
                tracing::info!(group = %self.config.group_id, member = %self.member_id,
                    generation = joined.generation, leader = is_leader,
                    assignment_bytes = response.assignment.len(), "received this member's assignment");
                self.holds_assignment = true;
                let rejoin = self
                    .handler
                    .assigned(
                        joined.generation,
                        &self.member_id,
                        &joined.leader_id,
                        &joined.protocol,
                        response.assignment,
                    )
                    .await;
                if rejoin {
                    tracing::info!(group = %self.config.group_id, "the handler asked to rejoin");
                    return Ok(SyncOutcome::Rejoin);
                }
                Ok(SyncOutcome::Member)
            }
            Some(e @ (ResponseError::RebalanceInProgress | ResponseError::IllegalGeneration)) => {
                tracing::info!(group = %self.config.group_id, "SyncGroup: {e}; rejoining");
                Ok(SyncOutcome::Rejoin)
            }
            Some(ResponseError::UnknownMemberId) => {
                self.reset_membership("the coordinator no longer knows this member")
                    .await;
                Ok(SyncOutcome::Rejoin)
            }
            Some(e @ (ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable)) => {
                self.forget_coordinator(&e);
                Ok(SyncOutcome::Rejoin)
            }
            Some(e @ ResponseError::GroupAuthorizationFailed) => Err(GroupError::Fatal {
                group: self.config.group_id.clone(),
                api: ApiKey::SyncGroup,
                error: e,
            }),
            Some(e) => {
                tracing::warn!(group = %self.config.group_id, "SyncGroup failed: {e}; rejoining");
                Ok(match self.back_off(false).await {
                    Waited::Flow(flow) => SyncOutcome::Flow(flow),
                    Waited::Done(()) => SyncOutcome::Rejoin,
                })
            }
        }
    }

    /// Heartbeats every interval until something calls for a rejoin or a leave.
    async fn heartbeat_until_rejoin(&mut self) -> Result<Flow, GroupError> {
        let interval = self.config.heartbeat_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            waited!(
                watch_commands(
                    &mut self.commands,
                    &mut self.pending_rejoin,
                    true,
                    ticker.tick()
                )
                .await
            );
            if self.session_expired() {
                self.reset_membership("no successful heartbeat within the session timeout")
                    .await;
                return Ok(Flow::Rejoin);
            }
            if let Some(flow) = self.ensure_coordinator(true).await? {
                return Ok(flow);
            }
            let Some(conn) = self.coordinator.as_mut() else {
                continue;
            };
            let request = HeartbeatRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
                .with_generation_id(self.generation)
                .with_member_id(StrBytes::from_string(self.member_id.clone()));
            let timeout = self.timeouts.heartbeat_request;
            let sent = waited!(
                watch_commands(
                    &mut self.commands,
                    &mut self.pending_rejoin,
                    true,
                    conn.send_with_timeout(request, timeout),
                )
                .await
            );
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    // The membership may well survive a coordinator move: find it again and
                    // keep heartbeating the same generation.
                    self.forget_coordinator(&e);
                    continue;
                }
            };
            match ResponseError::try_from_code(response.error_code) {
                None => {
                    self.last_contact = Instant::now();
                    tracing::debug!(group = %self.config.group_id, member = %self.member_id,
                        generation = self.generation, "heartbeat");
                }
                Some(ResponseError::RebalanceInProgress) => {
                    // Not a loss: with cooperative rebalancing the member keeps its work
                    // while it rejoins.
                    tracing::info!(group = %self.config.group_id, generation = self.generation,
                        "the group is rebalancing; rejoining");
                    return Ok(Flow::Rejoin);
                }
                Some(ResponseError::IllegalGeneration) => {
                    self.lose("the group moved on to a newer generation without this member")
                        .await;
                    return Ok(Flow::Rejoin);
                }
                Some(e @ (ResponseError::UnknownMemberId | ResponseError::FencedInstanceId)) => {
                    self.reset_membership(&format!("the coordinator fenced this member: {e}"))
                        .await;
                    return Ok(Flow::Rejoin);
                }
                Some(
                    e @ (ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable),
                ) => {
                    self.forget_coordinator(&e);
                }
                Some(e @ ResponseError::GroupAuthorizationFailed) => {
                    return Err(GroupError::Fatal {
                        group: self.config.group_id.clone(),
                        api: ApiKey::Heartbeat,
                        error: e,
                    })
                }
                Some(e) => {
                    tracing::warn!(group = %self.config.group_id, "heartbeat failed: {e}");
                }
            }
        }
    }

    /// Best-effort LeaveGroup so the group rebalances now rather than after the session
    /// timeout. Failures are logged: the session timeout removes the member anyway.
    async fn leave(&mut self) {
        if self.member_id.is_empty() {
            return;
        }
        let group = self.config.group_id.clone();
        let group_id = self.group_id();
        let deadline = self.config.session_timeout.min(Duration::from_secs(10));
        let result = tokio::time::timeout(deadline, async {
            if self.coordinator.as_ref().is_none_or(|c| c.is_broken()) {
                self.coordinator = Some(
                    find_coordinator(&self.config, &mut self.next_bootstrap)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let conn = self.coordinator.as_mut().ok_or("no coordinator")?;
            let version = conn
                .version_of::<LeaveGroupRequest>()
                .map_err(|e| e.to_string())?;
            let request = leave_request(group_id, &self.member_id, version);
            let response = conn.send(request).await.map_err(|e| e.to_string())?;
            let error = ResponseError::try_from_code(response.error_code).or_else(|| {
                response
                    .members
                    .iter()
                    .find_map(|m| ResponseError::try_from_code(m.error_code))
            });
            match error {
                None => Ok(()),
                Some(e) => Err(e.to_string()),
            }
        })
        .await;
        match result {
            Ok(Ok(())) => {
                tracing::info!(group = %group, member = %self.member_id, "left the group")
            }
            Ok(Err(e)) => {
                tracing::warn!(group = %group, member = %self.member_id, "LeaveGroup failed: {e}")
            }
            Err(_) => tracing::warn!(group = %group, member = %self.member_id,
                "LeaveGroup timed out after {deadline:?}"),
        }
        self.member_id.clear();
        self.coordinator = None;
    }
}

enum SyncOutcome {
    /// This member has its assignment for the generation.
    Member,
    Rejoin,
    Flow(Flow),
}

/// LeaveGroup names the member directly up to v2 and in a members array (batch leave,
/// KIP-345) from v3.
fn leave_request(group_id: GroupId, member_id: &str, version: i16) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default().with_group_id(group_id);
    let member_id = StrBytes::from_string(member_id.to_string());
    if version >= 3 {
        request.with_members(vec![MemberIdentity::default().with_member_id(member_id)])
    } else {
        request.with_member_id(member_id)
    }
}

enum FindError {
    Retry(String),
    Fatal(ResponseError),
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::Retry(why) => f.write_str(why),
            FindError::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// Asks the bootstrap servers, in turn, for the group coordinator and connects to it.
async fn find_coordinator(
    config: &GroupConfig,
    next_bootstrap: &mut usize,
) -> Result<KafkaConnection, FindError> {
    let mut failures = Vec::new();
    for _ in 0..config.bootstrap_servers.len() {
        let index = *next_bootstrap % config.bootstrap_servers.len();
        *next_bootstrap = next_bootstrap.wrapping_add(1);
        let bootstrap = &config.bootstrap_servers[index];
        match find_via(config, bootstrap).await {
            Ok(conn) => return Ok(conn),
            Err(FindError::Fatal(e)) => return Err(FindError::Fatal(e)),
            Err(FindError::Retry(why)) => failures.push(why),
        }
    }
    Err(FindError::Retry(failures.join("; ")))
}

async fn find_via(config: &GroupConfig, bootstrap: &str) -> Result<KafkaConnection, FindError> {
    let retry = |e: ConnError| FindError::Retry(e.to_string());
    let mut conn = KafkaConnection::connect(bootstrap, &config.security, &config.client_id)
        .await
        .map_err(retry)?;
    let version = conn.version_of::<FindCoordinatorRequest>().map_err(retry)?;
    let key = StrBytes::from_string(config.group_id.clone());
    // v4+ looks up a batch of keys; up to v3 a single key.
    let request = if version >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(vec![key])
    } else {
        FindCoordinatorRequest::default().with_key(key)
    };
    let response = conn.send(request).await.map_err(retry)?;
    let (error_code, message, host, port) = if version >= 4 {
        let Some(c) = response.coordinators.into_iter().next() else {
            return Err(FindError::Retry(format!(
                "{bootstrap}: empty FindCoordinator response"
            )));
        };
        (c.error_code, c.error_message, c.host, c.port)
    } else {
        (
            response.error_code,
            response.error_message,
            response.host,
            response.port,
        )
    };
    match ResponseError::try_from_code(error_code) {
        None => {}
        Some(e @ ResponseError::GroupAuthorizationFailed) => return Err(FindError::Fatal(e)),
        Some(e) => {
            let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
            return Err(FindError::Retry(format!(
                "{bootstrap}: FindCoordinator: {e}{detail}"
            )));
        }
    }
    let coordinator = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if coordinator == bootstrap {
        return Ok(conn);
    }
    KafkaConnection::connect(&coordinator, &config.security, &config.client_id)
        .await
        .map_err(retry)
}

#[cfg(test)]
mod tests {
    //! Against librdkafka's mock cluster. Its classic group implementation differs from a
    //! real broker in ways these tests must respect:
    //! - every member must offer the same first protocol name (it asserts otherwise);
    //! - a rebalance after the first ends only when its timer fires (session timeout − 1 s);
    //! - it parses JoinGroup v6, SyncGroup v4 and LeaveGroup v3+ with the older layouts, so
    //!   the tests lower its advertised maxima to the versions it really speaks;
    //! - a follower's SyncGroup that arrives after the leader's is refused (INVALID_REQUEST)
    //!   instead of being answered from the stored assignment, so the test leader takes a
    //!   moment to assign, as a real Connect leader (which first reads the config topic) does.

    use super::*;
    use rdkafka::producer::{BaseProducer, Producer};
    use rdkafka::ClientConfig;
    use rdkafka_sys::rd_kafka_resp_err_t as RDKafkaRespErr;
    use std::ffi::CStr;
    use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

    const SESSION: Duration = Duration::from_millis(3000);
    const HEARTBEAT: Duration = Duration::from_millis(500);
    /// Generous: a mock rebalance takes ~2 s, and a lost SyncGroup race costs another round.
    const WAIT: Duration = Duration::from_secs(45);
    const PROTOCOL: &str = "test-protocol";

    /// A one-broker mock cluster on a thread of its own (its handle is not Send); it stops
    /// when this is dropped.
    struct MockBroker {
        bootstrap: String,
        _stop: std::sync::mpsc::Sender<()>,
    }

    fn mock_broker() -> MockBroker {
        mock_broker_with_errors(&[])
    }

    /// A mock whose first requests of the given APIs fail with the given errors, in order.
    fn mock_broker_with_errors(errors: &[(ApiKey, Vec<RDKafkaRespErr>)]) -> MockBroker {
        let errors = errors.to_vec();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            // A client configured with test.mock.num.brokers owns a mock cluster and exposes
            // its raw handle, which the mock settings below need.
            let producer: BaseProducer = ClientConfig::new()
                .set("test.mock.num.brokers", "1")
                .create()
                .expect("mock cluster");
            // SAFETY: the handle belongs to `producer`, which outlives every use below (it is
            // dropped only after the stop signal), and is used on this thread only.
            let bootstrap = unsafe {
                let mock =
                    rdkafka_sys::rd_kafka_handle_mock_cluster(producer.client().native_ptr());
                assert!(!mock.is_null());
                rdkafka_sys::rd_kafka_mock_group_initial_rebalance_delay_ms(mock, 1000);
                for (key, max) in [
                    (ApiKey::JoinGroup, 5),
                    (ApiKey::SyncGroup, 3),
                    (ApiKey::LeaveGroup, 2),
                ] {
                    rdkafka_sys::rd_kafka_mock_set_apiversion(mock, key as i16, 0, max);
                }
                for (key, codes) in &errors {
                    rdkafka_sys::rd_kafka_mock_push_request_errors_array(
                        mock,
                        *key as i16,
                        codes.len(),
                        codes.as_ptr(),
                    );
                }
                CStr::from_ptr(rdkafka_sys::rd_kafka_mock_cluster_bootstraps(mock))
                    .to_string_lossy()
                    .into_owned()
            };
            ready_tx.send(bootstrap).expect("test waits for the mock");
            let _ = stop_rx.recv();
            drop(producer);
        });
        let bootstrap = ready_rx.recv().expect("mock cluster started");
        MockBroker {
            bootstrap,
            _stop: stop_tx,
        }
    }

    #[derive(Debug)]
    enum Event {
        Assign {
            generation: i32,
            members: Vec<(String, Bytes)>,
        },
        Assigned {
            name: &'static str,
            generation: i32,
            member_id: String,
            leader_id: String,
            assignment: Bytes,
        },
        Lost {
            name: &'static str,
        },
    }

    struct TestHandler {
        name: &'static str,
        events: UnboundedSender<Event>,
    }

    #[async_trait::async_trait]
    impl GroupHandler for TestHandler {
        async fn metadata(&mut self) -> Vec<(String, Bytes)> {
            vec![(PROTOCOL.into(), Bytes::from(self.name))]
        }

        async fn assign(
            &mut self,
            generation: i32,
            _leader_id: &str,
            protocol: &str,
            members: Vec<(String, Bytes)>,
        ) -> Result<HashMap<String, Bytes>, String> {
            assert_eq!(protocol, PROTOCOL);
            let _ = self.events.send(Event::Assign {
                generation,
                members: members.clone(),
            });
            // See the module comment: let the followers' SyncGroups reach the mock first.
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(members
                .into_iter()
                .map(|(id, metadata)| {
                    let text = format!("{}@{generation}", String::from_utf8_lossy(&metadata));
                    (id, Bytes::from(text))
                })
                .collect())
        }

        async fn assigned(
            &mut self,
            generation: i32,
            member_id: &str,
            leader_id: &str,
            _protocol: &str,
            assignment: Bytes,
        ) -> bool {
            let _ = self.events.send(Event::Assigned {
                name: self.name,
                generation,
                member_id: member_id.into(),
                leader_id: leader_id.into(),
                assignment,
            });
            false
        }

        async fn lost(&mut self, _reason: &str) {
            let _ = self.events.send(Event::Lost { name: self.name });
        }
    }

    struct Running {
        commands: UnboundedSender<GroupCommand>,
        task: tokio::task::JoinHandle<Result<(), GroupError>>,
    }

    fn start(
        mock: &MockBroker,
        group: &str,
        name: &'static str,
        events: &UnboundedSender<Event>,
    ) -> Running {
        let config = GroupConfig {
            bootstrap_servers: vec![mock.bootstrap.clone()],
            group_id: group.into(),
            client_id: format!("test-{name}"),
            session_timeout: SESSION,
            rebalance_timeout: Duration::from_secs(10),
            heartbeat_interval: HEARTBEAT,
            security: SecurityConfig::default(),
            protocol_type: "connect".into(),
        };
        let handler = TestHandler {
            name,
            events: events.clone(),
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_member(config, handler, rx));
        Running { commands, task }
    }

    struct Assigned {
        name: &'static str,
        generation: i32,
        member_id: String,
        leader_id: String,
        assignment: Bytes,
    }

    /// Everything the members reported so far.
    struct Recorder {
        rx: UnboundedReceiver<Event>,
        assigns: Vec<(i32, Vec<(String, Bytes)>)>,
        assigned: Vec<Assigned>,
        lost: Vec<&'static str>,
    }

    impl Recorder {
        fn new() -> (Self, UnboundedSender<Event>) {
            let (tx, rx) = mpsc::unbounded_channel();
            let recorder = Self {
                rx,
                assigns: Vec::new(),
                assigned: Vec::new(),
                lost: Vec::new(),
            };
            (recorder, tx)
        }

        /// Waits for a generation newer than `after` in which exactly `names` were assigned
        /// work (the leader assigned to that many members, and each of them got its share).
        async fn generation_of(&mut self, names: &[&str], after: i32) -> i32 {
            let wait = async {
                loop {
                    if let Some(generation) = self.complete_generation(names, after) {
                        return generation;
                    }
                    match self.rx.recv().await.expect("members keep the channel open") {
                        Event::Assign {
                            generation,
                            members,
                        } => self.assigns.push((generation, members)),
                        Event::Assigned {
                            name,
                            generation,
                            member_id,
                            leader_id,
                            assignment,
                        } => self.assigned.push(Assigned {
                            name,
                            generation,
                            member_id,
                            leader_id,
                            assignment,
                        }),
                        Event::Lost { name } => self.lost.push(name),
                    }
                }
            };
            tokio::time::timeout(WAIT, wait)
                .await
                .unwrap_or_else(|_| panic!("no generation after {after} with exactly {names:?}"))
        }

        fn complete_generation(&self, names: &[&str], after: i32) -> Option<i32> {
            self.assigns
                .iter()
                .map(|(generation, members)| (*generation, members.len()))
                .filter(|(generation, count)| *generation > after && *count == names.len())
                .map(|(generation, _)| generation)
                .find(|generation| {
                    names
                        .iter()
                        .all(|name| self.get(name, *generation).is_some())
                })
        }

        fn get(&self, name: &str, generation: i32) -> Option<&Assigned> {
            self.assigned
                .iter()
                .find(|a| a.name == name && a.generation == generation)
        }

        fn members_of(&self, generation: i32) -> Vec<String> {
            let (_, members) = self
                .assigns
                .iter()
                .find(|(g, _)| *g == generation)
                .expect("the leader assigned this generation");
            let mut names: Vec<String> = members
                .iter()
                .map(|(_, metadata)| String::from_utf8_lossy(metadata).into_owned())
                .collect();
            names.sort();
            names
        }

        /// Checks the leader's assignment reached every member of `generation` intact.
        fn check_generation(&self, names: &[&str], generation: i32) {
            let expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            assert_eq!(
                self.members_of(generation),
                expected,
                "members seen by the leader"
            );
            let leaders: Vec<&str> = names
                .iter()
                .map(|n| self.get(n, generation).expect("assigned"))
                .filter(|a| a.member_id == a.leader_id)
                .map(|a| a.name)
                .collect();
            assert_eq!(leaders.len(), 1, "exactly one leader, got {leaders:?}");
            for name in names {
                let a = self.get(name, generation).expect("assigned");
                assert_eq!(
                    a.leader_id,
                    self.get(leaders[0], generation).expect("leader").member_id
                );
                assert_eq!(a.assignment, Bytes::from(format!("{name}@{generation}")));
            }
        }
    }

    #[tokio::test]
    async fn two_members_join_and_get_the_leaders_assignment() {
        let mock = mock_broker();
        let (mut recorder, events) = Recorder::new();
        let _a = start(&mock, "g-two", "a", &events);
        let _b = start(&mock, "g-two", "b", &events);
        let generation = recorder.generation_of(&["a", "b"], 0).await;
        recorder.check_generation(&["a", "b"], generation);
        assert!(recorder.lost.is_empty(), "lost: {:?}", recorder.lost);
    }

    #[tokio::test]
    async fn a_third_member_triggers_a_rebalance_without_loss() {
        let mock = mock_broker();
        let (mut recorder, events) = Recorder::new();
        let _a = start(&mock, "g-three", "a", &events);
        let _b = start(&mock, "g-three", "b", &events);
        let first = recorder.generation_of(&["a", "b"], 0).await;

        let _c = start(&mock, "g-three", "c", &events);
        let second = recorder.generation_of(&["a", "b", "c"], first).await;
        recorder.check_generation(&["a", "b", "c"], second);
        assert!(recorder.lost.is_empty(), "lost: {:?}", recorder.lost);
    }

    #[tokio::test]
    async fn a_leaving_member_triggers_a_rebalance() {
        let mock = mock_broker();
        let (mut recorder, events) = Recorder::new();
        let _a = start(&mock, "g-leave", "a", &events);
        let _b = start(&mock, "g-leave", "b", &events);
        let c = start(&mock, "g-leave", "c", &events);
        let first = recorder.generation_of(&["a", "b", "c"], 0).await;

        let (done_tx, done_rx) = oneshot::channel();
        c.commands.send(GroupCommand::Leave(done_tx)).unwrap();
        tokio::time::timeout(WAIT, done_rx).await.unwrap().unwrap();
        let result = tokio::time::timeout(WAIT, c.task).await.unwrap().unwrap();
        assert!(result.is_ok(), "{result:?}");

        let second = recorder.generation_of(&["a", "b"], first).await;
        recorder.check_generation(&["a", "b"], second);
        assert!(recorder.lost.is_empty(), "lost: {:?}", recorder.lost);
    }

    #[tokio::test]
    async fn a_silent_member_is_removed_after_the_session_timeout() {
        let mock = mock_broker();
        let (mut recorder, events) = Recorder::new();
        let _a = start(&mock, "g-silent", "a", &events);
        let b = start(&mock, "g-silent", "b", &events);
        let first = recorder.generation_of(&["a", "b"], 0).await;

        // Gone without a LeaveGroup: only the session timeout can remove it.
        b.task.abort();
        let second = recorder.generation_of(&["a"], first).await;
        recorder.check_generation(&["a"], second);
        assert!(recorder.lost.is_empty(), "lost: {:?}", recorder.lost);
    }

    #[tokio::test]
    async fn heartbeat_errors_reconnect_rejoin_or_lose_membership() {
        use RDKafkaRespErr::*;
        // (The mock's injected JoinGroup/SyncGroup errors carry null strings/bytes that the
        // protocol forbids, so only Heartbeat errors make well-formed responses.)
        let mock = mock_broker_with_errors(&[(
            ApiKey::Heartbeat,
            vec![
                // The coordinator moved: find it again and keep heartbeating.
                RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                // A rebalance: rejoin, keeping the work.
                RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                // Fenced: work must stop, then rejoin.
                RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
            ],
        )]);
        let (mut recorder, events) = Recorder::new();
        let _a = start(&mock, "g-errors", "a", &events);
        let first = recorder.generation_of(&["a"], 0).await;
        let second = recorder.generation_of(&["a"], first).await;
        assert!(recorder.lost.is_empty(), "a rebalance is not a loss");
        let third = recorder.generation_of(&["a"], second).await;
        recorder.check_generation(&["a"], third);
        assert_eq!(recorder.lost, vec!["a"]);
    }

    #[test]
    fn leave_request_layout_follows_the_version() {
        use kafka_protocol::protocol::Encodable;
        let group = GroupId(StrBytes::from_static_str("g"));
        for version in 0..=4 {
            let request = leave_request(group.clone(), "member-1", version);
            assert_eq!(request.members.len(), usize::from(version >= 3));
            let mut buf = bytes::BytesMut::new();
            request.encode(&mut buf, version).unwrap();
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        let config = GroupConfig {
            bootstrap_servers: vec!["localhost:9092".into()],
            group_id: "g".into(),
            client_id: "c".into(),
            session_timeout: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            security: SecurityConfig::default(),
            protocol_type: "connect".into(),
        };
        let err = Timeouts::from_config(&config)
            .err()
            .expect("heartbeat >= session");
        assert!(err.to_string().contains("heartbeat"), "{err}");
        let config = GroupConfig {
            bootstrap_servers: Vec::new(),
            ..config
        };
        assert!(Timeouts::from_config(&config).is_err());
    }

    /// Against a scripted fake coordinator: the paths librdkafka's mock cannot take.
    mod scripted {
        use super::super::*;
        use crate::cluster::fake_coordinator::{FakeCoordinator, Reply};
        use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

        const WAIT: Duration = Duration::from_secs(10);
        const PROTOCOL: &str = "test-protocol";
        const METADATA: &str = "meta";

        /// A handler call.
        #[derive(Debug, PartialEq)]
        enum Call {
            Assign {
                generation: i32,
                members: Vec<(String, Bytes)>,
            },
            Assigned {
                generation: i32,
                member_id: String,
                leader_id: String,
                assignment: Bytes,
            },
            Lost,
        }

        fn assigned(generation: i32, member_id: &str, leader_id: &str, assignment: &str) -> Call {
            Call::Assigned {
                generation,
                member_id: member_id.into(),
                leader_id: leader_id.into(),
                assignment: Bytes::from(assignment.to_string()),
            }
        }

        struct Recording(UnboundedSender<Call>);

        #[async_trait::async_trait]
        impl GroupHandler for Recording {
            async fn metadata(&mut self) -> Vec<(String, Bytes)> {
                vec![(PROTOCOL.into(), Bytes::from(METADATA))]
            }

            async fn assign(
                &mut self,
                generation: i32,
                _leader_id: &str,
                protocol: &str,
                members: Vec<(String, Bytes)>,
            ) -> Result<HashMap<String, Bytes>, String> {
                assert_eq!(protocol, PROTOCOL);
                let _ = self.0.send(Call::Assign {
                    generation,
                    members: members.clone(),
                });
                Ok(members
                    .into_iter()
                    .map(|(id, _)| (id.clone(), Bytes::from(format!("for-{id}"))))
                    .collect())
            }

            async fn assigned(
                &mut self,
                generation: i32,
                member_id: &str,
                leader_id: &str,
                protocol: &str,
                assignment: Bytes,
            ) -> bool {
                assert_eq!(protocol, PROTOCOL);
                let _ = self.0.send(Call::Assigned {
                    generation,
                    member_id: member_id.into(),
                    leader_id: leader_id.into(),
                    assignment,
                });
                false
            }

            async fn lost(&mut self, _reason: &str) {
                let _ = self.0.send(Call::Lost);
            }
        }

        struct Member {
            commands: UnboundedSender<GroupCommand>,
            task: tokio::task::JoinHandle<Result<(), GroupError>>,
            calls: UnboundedReceiver<Call>,
        }

        impl Member {
            fn start(bootstrap: &str) -> Self {
                let config = GroupConfig {
                    bootstrap_servers: vec![bootstrap.into()],
                    group_id: "g".into(),
                    client_id: "test".into(),
                    session_timeout: Duration::from_secs(10),
                    rebalance_timeout: Duration::from_secs(10),
                    heartbeat_interval: Duration::from_millis(50),
                    security: SecurityConfig::default(),
                    protocol_type: "connect".into(),
                };
                let (calls_tx, calls) = mpsc::unbounded_channel();
                let (commands, rx) = mpsc::unbounded_channel();
                let task = tokio::spawn(run_member(config, Recording(calls_tx), rx));
                Self {
                    commands,
                    task,
                    calls,
                }
            }

            async fn next_call(&mut self) -> Call {
                tokio::time::timeout(WAIT, self.calls.recv())
                    .await
                    .expect("a handler call")
                    .expect("the member is running")
            }

            /// Leaves the group; the handler calls made after the ones already taken.
            async fn leave(mut self) -> Vec<Call> {
                let (done_tx, done_rx) = oneshot::channel();
                self.commands.send(GroupCommand::Leave(done_tx)).unwrap();
                tokio::time::timeout(WAIT, done_rx).await.unwrap().unwrap();
                let result = tokio::time::timeout(WAIT, self.task)
                    .await
                    .unwrap()
                    .unwrap();
                assert!(result.is_ok(), "{result:?}");
                let mut rest = Vec::new();
                while let Ok(call) = self.calls.try_recv() {
                    rest.push(call);
                }
                rest
            }
        }

        fn joined(generation: i32, member_id: &'static str) -> Reply {
            Reply::Joined {
                generation,
                member_id,
                leader: "the-leader",
                members: vec![],
            }
        }

        /// The next `n` JoinGroups, SyncGroups and LeaveGroups `coordinator` received.
        async fn steps(coordinator: &mut FakeCoordinator, n: usize) -> Vec<String> {
            let mut steps = Vec::new();
            for _ in 0..n {
                steps.push(coordinator.next_step().await);
            }
            steps
        }

        #[tokio::test]
        async fn member_id_required_rejoins_with_the_given_id() {
            let mut coordinator = FakeCoordinator::start().await;
            coordinator.script(
                ApiKey::JoinGroup,
                [
                    Reply::MemberIdRequired("m-1"),
                    Reply::Joined {
                        generation: 1,
                        member_id: "m-1",
                        leader: "m-1",
                        members: vec![("m-1", METADATA)],
                    },
                ],
            );
            coordinator.script(ApiKey::SyncGroup, [Reply::Assignment("a-1")]);
            let mut member = Member::start(&coordinator.addr);

            let first = coordinator.expect(ApiKey::JoinGroup).await;
            assert_eq!(first.member_id, "");
            let offered = vec![(PROTOCOL.to_string(), Bytes::from(METADATA))];
            assert_eq!(first.entries, offered);
            let second = coordinator.expect(ApiKey::JoinGroup).await;
            assert_eq!(second.member_id, "m-1");
            assert_eq!(second.entries, offered);

            // The leader assigns, and its SyncGroup carries that assignment.
            let sync = coordinator.expect(ApiKey::SyncGroup).await;
            assert_eq!((sync.generation, sync.member_id.as_str()), (1, "m-1"));
            assert_eq!(
                sync.entries,
                vec![("m-1".to_string(), Bytes::from("for-m-1"))]
            );
            assert_eq!(
                member.next_call().await,
                Call::Assign {
                    generation: 1,
                    members: vec![("m-1".into(), Bytes::from(METADATA))],
                }
            );
            assert_eq!(member.next_call().await, assigned(1, "m-1", "m-1", "a-1"));

            assert_eq!(member.leave().await, vec![]);
            let leave = coordinator.expect(ApiKey::LeaveGroup).await;
            assert_eq!(leave.member_id, "m-1");
        }

        #[tokio::test]
        async fn unknown_member_id_on_join_resets_the_id() {
            let mut coordinator = FakeCoordinator::start().await;
            coordinator.script(
                ApiKey::JoinGroup,
                [
                    Reply::MemberIdRequired("m-1"),
                    Reply::Error(ResponseError::UnknownMemberId),
                    joined(1, "m-2"),
                ],
            );
            coordinator.script(ApiKey::SyncGroup, [Reply::Assignment("a-1")]);
            let mut member = Member::start(&coordinator.addr);

            // Nothing was held, so nothing was lost.
            assert_eq!(
                member.next_call().await,
                assigned(1, "m-2", "the-leader", "a-1")
            );
            assert_eq!(member.leave().await, vec![]);
            assert_eq!(
                steps(&mut coordinator, 5).await,
                [
                    "JoinGroup()",
                    "JoinGroup(m-1)",
                    "JoinGroup()",
                    "SyncGroup(m-2@1)",
                    "LeaveGroup(m-2)"
                ]
            );
        }

        #[tokio::test]
        async fn unknown_member_id_on_join_loses_a_held_assignment() {
            let mut coordinator = FakeCoordinator::start().await;
            coordinator.script(
                ApiKey::JoinGroup,
                [
                    joined(1, "m-1"),
                    Reply::Error(ResponseError::UnknownMemberId),
                    joined(2, "m-2"),
                ],
            );
            coordinator.script(
                ApiKey::SyncGroup,
                [Reply::Assignment("a-1"), Reply::Assignment("a-2")],
            );
            coordinator.script(
                ApiKey::Heartbeat,
                [Reply::Error(ResponseError::RebalanceInProgress)],
            );
            let mut member = Member::start(&coordinator.addr);

            assert_eq!(
                member.next_call().await,
                assigned(1, "m-1", "the-leader", "a-1")
            );
            assert_eq!(member.next_call().await, Call::Lost);
            assert_eq!(
                member.next_call().await,
                assigned(2, "m-2", "the-leader", "a-2")
            );
            assert_eq!(member.leave().await, vec![]);
            assert_eq!(
                steps(&mut coordinator, 6).await,
                [
                    "JoinGroup()",
                    "SyncGroup(m-1@1)",
                    "JoinGroup(m-1)",
                    "JoinGroup()",
                    "SyncGroup(m-2@2)",
                    "LeaveGroup(m-2)"
                ]
            );
        }

        /// A member holding generation 1's assignment rejoins (after a heartbeat's
        /// ResponseError::RebalanceInProgress), and the SyncGroup of generation 2 fails with `error`; the
        /// member then rejoins, becoming `rejoined_as` in generation 3, and leaves. Returns the
        /// coordinator's [`steps`] and the handler calls after generation 1's assignment.
        async fn sync_fails_with(
            error: ResponseError,
            rejoined_as: &'static str,
        ) -> (Vec<String>, Vec<Call>) {
            let mut coordinator = FakeCoordinator::start().await;
            coordinator.script(
                ApiKey::JoinGroup,
                [joined(1, "m-1"), joined(2, "m-1"), joined(3, rejoined_as)],
            );
            coordinator.script(
                ApiKey::SyncGroup,
                [
                    Reply::Assignment("a-1"),
                    Reply::Error(error),
                    Reply::Assignment("a-3"),
                ],
            );
            coordinator.script(
                ApiKey::Heartbeat,
                [Reply::Error(ResponseError::RebalanceInProgress)],
            );
            let mut member = Member::start(&coordinator.addr);

            assert_eq!(
                member.next_call().await,
                assigned(1, "m-1", "the-leader", "a-1")
            );
            let mut calls = Vec::new();
            loop {
                let call = member.next_call().await;
                let done = matches!(call, Call::Assigned { .. });
                calls.push(call);
                if done {
                    break;
                }
            }
            calls.extend(member.leave().await);
            (steps(&mut coordinator, 7).await, calls)
        }

        /// The steps of [`sync_fails_with`] when the member keeps its id.
        const KEEPS_ID: [&str; 7] = [
            "JoinGroup()",
            "SyncGroup(m-1@1)",
            "JoinGroup(m-1)",
            "SyncGroup(m-1@2)",
            "JoinGroup(m-1)",
            "SyncGroup(m-1@3)",
            "LeaveGroup(m-1)",
        ];

        #[tokio::test]
        async fn sync_rebalance_in_progress_rejoins_without_loss() {
            let (steps, calls) = sync_fails_with(ResponseError::RebalanceInProgress, "m-1").await;
            assert_eq!(steps, KEEPS_ID);
            assert_eq!(calls, [assigned(3, "m-1", "the-leader", "a-3")]);
        }

        #[tokio::test]
        async fn sync_illegal_generation_rejoins_with_the_same_id() {
            let (steps, calls) = sync_fails_with(ResponseError::IllegalGeneration, "m-1").await;
            assert_eq!(steps, KEEPS_ID);
            assert_eq!(calls, [assigned(3, "m-1", "the-leader", "a-3")]);
        }

        #[tokio::test]
        async fn sync_unknown_member_id_resets_the_id_and_loses_the_assignment() {
            let (steps, calls) = sync_fails_with(ResponseError::UnknownMemberId, "m-2").await;
            assert_eq!(
                steps,
                [
                    "JoinGroup()",
                    "SyncGroup(m-1@1)",
                    "JoinGroup(m-1)",
                    "SyncGroup(m-1@2)",
                    "JoinGroup()",
                    "SyncGroup(m-2@3)",
                    "LeaveGroup(m-2)"
                ]
            );
            assert_eq!(calls, [Call::Lost, assigned(3, "m-2", "the-leader", "a-3")]);
        }

        /// The coordinator `a` answers a heartbeat with `reply` and, asked again, names `b`;
        /// the member heartbeats `b`, which has it rejoin, and gets its new assignment there.
        async fn coordinator_moves_after(reply: Reply) {
            let mut a = FakeCoordinator::start().await;
            let mut b = FakeCoordinator::start().await;
            a.script(
                ApiKey::FindCoordinator,
                [
                    Reply::Coordinator(a.addr.clone()),
                    Reply::Coordinator(b.addr.clone()),
                ],
            );
            a.script(ApiKey::JoinGroup, [joined(1, "m-1")]);
            a.script(ApiKey::SyncGroup, [Reply::Assignment("a-1")]);
            a.script(ApiKey::Heartbeat, [reply]);
            b.script(
                ApiKey::Heartbeat,
                [Reply::Error(ResponseError::RebalanceInProgress)],
            );
            b.script(ApiKey::JoinGroup, [joined(2, "m-1")]);
            b.script(ApiKey::SyncGroup, [Reply::Assignment("a-2")]);
            let mut member = Member::start(&a.addr);

            assert_eq!(
                member.next_call().await,
                assigned(1, "m-1", "the-leader", "a-1")
            );
            assert_eq!(
                member.next_call().await,
                assigned(2, "m-1", "the-leader", "a-2")
            );
            a.expect(ApiKey::FindCoordinator).await;
            a.expect(ApiKey::JoinGroup).await;
            a.expect(ApiKey::SyncGroup).await;
            let heartbeat = a.expect(ApiKey::Heartbeat).await;
            assert_eq!(
                (heartbeat.generation, heartbeat.member_id.as_str()),
                (1, "m-1")
            );
            a.expect(ApiKey::FindCoordinator).await;
            // The same membership is carried over to the new coordinator.
            let heartbeat = b.expect(ApiKey::Heartbeat).await;
            assert_eq!(
                (heartbeat.generation, heartbeat.member_id.as_str()),
                (1, "m-1")
            );
            assert_eq!(b.expect(ApiKey::JoinGroup).await.member_id, "m-1");
            let sync = b.expect(ApiKey::SyncGroup).await;
            assert_eq!((sync.generation, sync.member_id.as_str()), (2, "m-1"));

            assert_eq!(
                member.leave().await,
                vec![],
                "a coordinator move is no loss"
            );
            assert_eq!(b.expect(ApiKey::LeaveGroup).await.member_id, "m-1");
        }

        #[tokio::test]
        async fn not_coordinator_on_heartbeat_moves_to_the_new_coordinator() {
            coordinator_moves_after(Reply::Error(ResponseError::NotCoordinator)).await;
        }

        #[tokio::test]
        async fn a_closed_coordinator_connection_moves_to_the_new_coordinator() {
            coordinator_moves_after(Reply::Close).await;
        }
    }
}
