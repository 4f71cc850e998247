//! This worker as a member of the "connect" group: the metadata it joins with (REST URL, config
//! offset, current allocation), the leader's assignment (incremental cooperative, from the
//! config topic's connectors and task counts), and assignments turned into [`HerderMsg`]s.
//!
//! Revoked work is stopped before the member rejoins, so the next owner never runs a task while
//! this worker still does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kconnect_connectors::api::Props;
use ractor::ActorRef;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::config::DistributedConfig;
use super::herder::{ClusterView, GroupControl, HerderMsg, Membership};
use super::signature;
use crate::cluster::assignor::{config_mismatch_assignments, AssignorInput, IncrementalAssignor};
use crate::cluster::group::{run_member, GroupCommand, GroupConfig, GroupHandler};
use crate::cluster::protocol::{
    apply_assignment, decode_assignment, decode_metadata, encode_assignment, join_protocols,
    Assignment, ConnectProtocol, WorkerMetadata, PROTOCOL_TYPE,
};
use crate::cluster::security::{SecurityConfig, SecurityError};
use crate::storage::kafka::ConfigRecord;

/// The herder's way to ask for a rebalance.
pub struct Commands(pub UnboundedSender<GroupCommand>);

impl GroupControl for Commands {
    fn rejoin(&self) {
        let _ = self.0.send(GroupCommand::Rejoin);
    }
}

/// The group settings of a worker config.
pub fn group_config(
    cc: &DistributedConfig,
    bootstrap: &str,
    worker_id: &str,
    props: &Props,
) -> Result<GroupConfig, SecurityError> {
    let security = SecurityConfig::from_props(props)?;
    Ok(GroupConfig {
        bootstrap_servers: bootstrap
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        group_id: cc.group_id.clone(),
        client_id: format!("kconnect-{worker_id}"),
        session_timeout: cc.session_timeout,
        rebalance_timeout: cc.rebalance_timeout,
        heartbeat_interval: cc.heartbeat_interval,
        security,
        protocol_type: PROTOCOL_TYPE.to_string(),
    })
}

/// The running member: leave the group through it.
#[derive(Clone)]
pub struct MemberHandle {
    commands: UnboundedSender<GroupCommand>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl MemberHandle {
    /// Leaves the group (so the others rebalance at once) and ends the member.
    pub async fn leave(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.commands.send(GroupCommand::Leave(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            t.abort();
        }
    }
}

/// Starts the member loop on the tokio runtime.
pub fn start(
    config: GroupConfig,
    cc: &DistributedConfig,
    view: Arc<ClusterView>,
    herder: ActorRef<HerderMsg>,
    commands_rx: UnboundedReceiver<GroupCommand>,
    commands: UnboundedSender<GroupCommand>,
) -> MemberHandle {
    let protocol =
        ConnectProtocol::from_config(&cc.protocol).unwrap_or(ConnectProtocol::Compatible);
    let handler = ConnectMember {
        protocol,
        view,
        herder,
        assignor: IncrementalAssignor::new(cc.max_delay.as_millis() as u64),
        key_ttl: cc.key_ttl,
        key_bytes: cc.key_bytes,
        current: None,
        applying: None,
        last_completed_generation: -1,
        commands: commands.clone(),
        started: Instant::now(),
    };
    let group = config.group_id.clone();
    let keys = KeyRotation {
        view: handler.view.clone(),
        ttl: cc.key_ttl,
        key_bytes: cc.key_bytes,
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            r = run_member(config, handler, commands_rx) => {
                if let Err(e) = r {
                    tracing::error!(group = %group, "group membership ended: {e}");
                }
            }
            () = keys.run() => {}
        }
    });
    MemberHandle {
        commands,
        task: Arc::new(Mutex::new(Some(task))),
    }
}

struct ConnectMember {
    protocol: ConnectProtocol,
    view: Arc<ClusterView>,
    herder: ActorRef<HerderMsg>,
    assignor: IncrementalAssignor,
    /// Everything this worker runs, as the last assignments left it.
    current: Option<Assignment>,
    /// Answers once the herder applied the last assignment (revoked work stopped).
    applying: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The generation of the last assignment applied, -1 before any.
    last_completed_generation: i32,
    commands: UnboundedSender<GroupCommand>,
    started: Instant,
    /// `inter.worker.key.ttl.ms` and `inter.worker.key.size` (bytes).
    key_ttl: Duration,
    key_bytes: usize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes a new session key when the config topic has none, one kconnect cannot sign with, or
/// one older than `ttl`. Failing to write is logged: the next rebalance or expiry tries again,
/// and until then signed requests are refused.
async fn write_session_key_if_due(view: &ClusterView, ttl: Duration, key_bytes: usize) {
    let now_ms = now_ms();
    let snapshot = view.configs.snapshot();
    if !signature::needs_new_key(snapshot.session_key(), now_ms, ttl.as_millis() as i64) {
        return;
    }
    let key = signature::new_session_key(now_ms, key_bytes);
    let configs = view.configs.clone();
    let written = tokio::task::spawn_blocking(move || {
        configs.write(&[ConfigRecord::SessionKey(key)])?;
        configs.refresh()
    })
    .await;
    match written {
        Ok(Ok(())) => tracing::info!("wrote a new session key to the config topic"),
        Ok(Err(e)) => tracing::warn!("cannot write a session key: {e}"),
        Err(e) => tracing::warn!("cannot write a session key: {e}"),
    }
}

/// The leader's key expiry timer. Connect's leader replaces the session key when it expires,
/// not only at a rebalance (a stable group may not rebalance for weeks); followers pick the new
/// key up from the config topic, which their stores follow. Every worker runs this timer; only
/// the leader of a sessioned group writes.
struct KeyRotation {
    view: Arc<ClusterView>,
    ttl: Duration,
    key_bytes: usize,
}

impl KeyRotation {
    async fn run(self) {
        loop {
            let expires = self.view.configs.snapshot().session_key().map(|k| {
                k.creation_timestamp
                    .saturating_add(self.ttl.as_millis() as i64)
            });
            let wait = match expires {
                Some(at) => Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64),
                // No key yet: the leader writes the first at its assignment.
                None => self.ttl,
            };
            // A follower whose key expired waits for the leader's new one; a key another
            // leader (Java, with its own TTL) keeps longer is not worth checking more often.
            tokio::time::sleep(wait.max(Duration::from_secs(1))).await;
            let m = self.view.membership();
            if m.sessioned && m.is_leader() {
                write_session_key_if_due(&self.view, self.ttl, self.key_bytes).await;
            }
        }
    }
}

impl ConnectMember {
    /// Leader of a sessioned group: writes a new session key when there is none (or it is due),
    /// before the assignment, so that the assignment's config offset covers it and every
    /// member signs and verifies with it.
    async fn ensure_session_key(&self) {
        write_session_key_if_due(&self.view, self.key_ttl, self.key_bytes).await;
    }

    async fn read_config_to_end(&self) {
        let configs = self.view.configs.clone();
        match tokio::task::spawn_blocking(move || configs.refresh()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot read the config topic to its end: {e}"),
            Err(e) => tracing::warn!("cannot read the config topic to its end: {e}"),
        }
    }

    /// Hands the whole allocation to the herder without waiting, so heartbeats go on. When work
    /// was revoked (`rejoin`), the member rejoins once the herder has stopped it, and the next
    /// JoinGroup waits for that too (see `metadata`): revoked work never runs here while the
    /// leader hands it to another worker.
    fn tell_herder(&mut self, membership: Membership, config_offset: i64, rejoin: bool) {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let herder = self.herder.clone();
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let r = herder
                .call(
                    |reply| HerderMsg::Assigned {
                        membership,
                        config_offset,
                        reply: Some(reply),
                    },
                    Some(Duration::from_secs(300)),
                )
                .await;
            if let Err(e) = r {
                use ractor::ActorStatus::{Stopped, Stopping};
                if matches!(herder.get_status(), Stopping | Stopped) {
                    // The worker is shutting down (the herder stops first): nothing to apply,
                    // and nothing wrong.
                    tracing::debug!("assignment not applied: the herder has stopped");
                } else {
                    tracing::error!("the herder did not apply the assignment: {e}");
                }
            }
            let _ = done_tx.send(());
            if rejoin {
                let _ = commands.send(GroupCommand::Rejoin);
            }
        });
        self.applying = Some(done_rx);
    }
}

#[async_trait::async_trait]
impl GroupHandler for ConnectMember {
    async fn metadata(&mut self) -> Vec<(String, Bytes)> {
        // Joining with revoked work still running would let the leader reassign it while it
        // runs here; the JoinGroup is covered by the rebalance timeout, not the session.
        if let Some(applying) = self.applying.take() {
            let _ = applying.await;
        }
        let m = WorkerMetadata {
            url: self.view.url.clone(),
            config_offset: self.view.configs.snapshot().offset(),
            allocation: self.current.clone(),
        };
        match join_protocols(self.protocol, &m) {
            Ok(protocols) => protocols
                .into_iter()
                .map(|(name, bytes)| (name.to_string(), Bytes::from(bytes)))
                .collect(),
            Err(e) => {
                // Only a REST URL longer than 32767 bytes gets here.
                tracing::error!("cannot encode this worker's group metadata: {e}");
                Vec::new()
            }
        }
    }

    async fn assign(
        &mut self,
        generation: i32,
        leader_id: &str,
        protocol: &str,
        members: Vec<(String, Bytes)>,
    ) -> Result<HashMap<String, Bytes>, String> {
        let protocol = ConnectProtocol::from_name(protocol).ok_or_else(|| {
            format!("the group chose protocol {protocol}, which kconnect does not speak")
        })?;
        if !protocol.is_incremental() {
            return Err(
                "the group chose eager rebalancing (a worker offered only connect.protocol=eager); \
                 kconnect assigns incrementally only"
                    .into(),
            );
        }
        self.read_config_to_end().await;
        if protocol == ConnectProtocol::Sessioned {
            self.ensure_session_key().await;
        }
        let mut decoded = BTreeMap::new();
        for (member, bytes) in &members {
            let m = decode_metadata(bytes).map_err(|e| format!("member {member}: {e}"))?;
            decoded.insert(member.clone(), m);
        }
        let snapshot = self.view.configs.snapshot();
        let behind = decoded
            .values()
            .any(|m| m.config_offset > snapshot.offset());
        if behind {
            // A member read configs this leader has not: read again before assigning.
            self.read_config_to_end().await;
        }
        let snapshot = self.view.configs.snapshot();
        let configured = ClusterView::shape(&snapshot);
        let leader_url = decoded
            .get(leader_id)
            .map(|m| m.url.clone())
            .unwrap_or_else(|| self.view.url.clone());
        let input = AssignorInput {
            leader_id,
            leader_url: &leader_url,
            config_offset: snapshot.offset(),
            members: &decoded,
            configured: &configured,
            now_ms: self.started.elapsed().as_millis() as u64,
            last_completed_generation: self.last_completed_generation,
        };
        let still_behind = decoded
            .values()
            .any(|m| m.config_offset > snapshot.offset());
        let assignments = if still_behind {
            tracing::warn!("a member has read further in the config topic than the leader can: asking everyone to rejoin");
            config_mismatch_assignments(&input)
        } else {
            self.assignor.assign(&input, generation)
        };
        *self
            .view
            .assigned_shape
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = configured;
        tracing::info!(
            generation,
            members = decoded.len(),
            "assigning work as the group leader"
        );
        let mut out = HashMap::new();
        for (member, a) in assignments {
            tracing::debug!(%member, ?a, "assignment");
            let bytes = encode_assignment(protocol, &a).map_err(|e| e.to_string())?;
            out.insert(member, Bytes::from(bytes));
        }
        Ok(out)
    }

    async fn assigned(
        &mut self,
        generation: i32,
        member_id: &str,
        _leader_id: &str,
        protocol: &str,
        assignment: Bytes,
    ) -> bool {
        let received = match decode_assignment(&assignment) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("cannot decode this worker's assignment, rejoining: {e}");
                return true;
            }
        };
        if received.failed() {
            tracing::info!("the leader's configs differ from this worker's: reading the config topic, then rejoining");
            self.read_config_to_end().await;
            return true;
        }
        let protocol = ConnectProtocol::from_name(protocol).unwrap_or(self.protocol);
        let full = apply_assignment(protocol, self.current.as_ref(), &received);
        let revoked = !received.revoked_connectors.is_empty() || !received.revoked_tasks.is_empty();
        // A usable assignment ends this worker's part of the rebalance.
        crate::metrics::rebalance_completed();
        tracing::info!(
            generation,
            connectors = ?full.connectors,
            tasks = full.tasks.len(),
            revoked_connectors = ?received.revoked_connectors,
            revoked_tasks = received.revoked_tasks.len(),
            "assignment received"
        );
        let membership = Membership {
            generation,
            member_id: member_id.to_string(),
            leader_id: received.leader.clone(),
            // Connect's workers advertise `http://host:port/`; paths are appended to the URL
            // with their own leading slash, and Jetty refuses the `//` that would make.
            leader_url: Some(received.leader_url.trim_end_matches('/').to_string()),
            sessioned: protocol == ConnectProtocol::Sessioned,
            connectors: full.connectors.clone(),
            tasks: full
                .tasks
                .iter()
                .map(|t| (t.connector.clone(), t.task))
                .collect(),
        };
        self.current = Some(full);
        self.last_completed_generation = generation;
        self.tell_herder(membership, received.config_offset, revoked);
        if received.delay_ms > 0 {
            // Lost work is being held back: rebalance again when the delay ends.
            let commands = self.commands.clone();
            let delay = Duration::from_millis(received.delay_ms as u64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = commands.send(GroupCommand::Rejoin);
            });
        }
        // The rejoin after a revocation comes from `tell_herder`, once the work has stopped.
        false
    }

    async fn lost(&mut self, reason: &str) {
        tracing::warn!(
            "lost group membership ({reason}): stopping all work until the next assignment"
        );
        self.current = None;
        self.last_completed_generation = -1;
        let m = self.view.membership();
        let membership = Membership {
            generation: m.generation,
            member_id: String::new(),
            leader_id: String::new(),
            leader_url: m.leader_url,
            ..Default::default()
        };
        self.tell_herder(membership, -1, false);
    }
}
