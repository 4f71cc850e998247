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
//!
//! One concession to the embedded broker (librdkafka's mock cluster): its coordinator refuses
//! a follower's SyncGroup that arrives after the leader's, where a real coordinator holds the
//! followers' SyncGroups until the leader's arrives, in any order. So when the coordinator
//! reports the mock's cluster id the leader of a group with followers waits
//! [`EMBEDDED_LEADER_SYNC_PAUSE`] before its SyncGroup (see [`leader_sync_pause`]); on a real
//! broker it never waits (measured on Apache Kafka 4.3, the pause only lengthened each
//! rebalance round: README, "Distributed mode").

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::backoff::{Backoff, ExponentialBackoff};
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
        coordinator_is_embedded: false,
        member_id: String::new(),
        generation: -1,
        holds_assignment: false,
        last_contact: Instant::now(),
        pending_rejoin: false,
        backoff: Backoff::new(RETRY_BACKOFF),
        next_bootstrap: 0,
    };
    member.run().await
}

/// Retry pacing for coordinator lookups and failed requests: the Java client's
/// retry.backoff.ms / retry.backoff.max.ms defaults, with its jitter (0.2) so members that
/// failed together do not retry in lockstep.
const RETRY_BACKOFF: ExponentialBackoff = ExponentialBackoff {
    initial: Duration::from_millis(100),
    max: Duration::from_secs(1),
    jitter: 0.2,
};

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

/// How long the leader waits before its SyncGroup: on the embedded broker only, and only when
/// there are followers, whose SyncGroups (sent as soon as JoinGroup answers) must reach the
/// mock first.
pub const EMBEDDED_LEADER_SYNC_PAUSE: Duration = Duration::from_millis(300);

/// The leader's wait before SyncGroup for a group of `members` (the leader included).
pub fn leader_sync_pause(coordinator_is_embedded: bool, members: usize) -> Duration {
    if coordinator_is_embedded && members > 1 {
        EMBEDDED_LEADER_SYNC_PAUSE
    } else {
        Duration::ZERO
    }
}

/// Whether the broker behind `conn` is the embedded one, told by the cluster id it reports
/// (`mockCluster…`, also for a `kconnect broker` in another process). A broker that cannot say
/// is taken for a real one: only the mock needs the pause, and a mock that cannot answer
/// Metadata will not answer the group requests either.
async fn is_embedded_broker(conn: &mut KafkaConnection) -> bool {
    match conn.cluster_id().await {
        Ok(id) => id
            .as_deref()
            .is_some_and(crate::context::is_embedded_cluster),
        Err(e) => {
            tracing::debug!(broker = %conn.addr(), "cannot read the cluster id: {e}");
            false
        }
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
    /// The coordinator is the embedded broker: the leader pauses before SyncGroup.
    coordinator_is_embedded: bool,
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
        let delay = self.backoff.next_delay(&mut rand::rng());
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
                Waited::Done(Ok(mut conn)) => {
                    let identified = watch_commands(
                        &mut self.commands,
                        &mut self.pending_rejoin,
                        rejoin_interrupts,
                        is_embedded_broker(&mut conn),
                    )
                    .await;
                    self.coordinator_is_embedded = match identified {
                        Waited::Flow(flow) => return Ok(Some(flow)),
                        Waited::Done(embedded) => embedded,
                    };
                    tracing::info!(group = %self.config.group_id, coordinator = %conn.addr(),
                        embedded = self.coordinator_is_embedded, "connected to the group coordinator");
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
        let pause = if is_leader {
            leader_sync_pause(self.coordinator_is_embedded, assignments.len())
        } else {
            Duration::ZERO
        };
        if !pause.is_zero() {
            let paused = watch_commands(
                &mut self.commands,
                &mut self.pending_rejoin,
                false,
                tokio::time::sleep(pause),
            )
            .await;
            if let Waited::Flow(flow) = paused {
                return Ok(SyncOutcome::Flow(flow));
            }
        }

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
mod scripted_tests;
#[cfg(test)]
mod tests;
