//! Against a scripted fake coordinator: the paths librdkafka's mock cannot take.

use super::*;
use crate::cluster::testing::fake_coordinator::{FakeCoordinator, Reply};
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

/// How long after its JoinGroup a leader of two members sends its SyncGroup.
async fn leader_sync_gap(mut coordinator: FakeCoordinator) -> Duration {
    coordinator.script(
        ApiKey::JoinGroup,
        [Reply::Joined {
            generation: 1,
            member_id: "m-1",
            leader: "m-1",
            members: vec![("m-1", METADATA), ("m-2", METADATA)],
        }],
    );
    coordinator.script(ApiKey::SyncGroup, [Reply::Assignment("a-1")]);
    let mut member = Member::start(&coordinator.addr);
    let join = coordinator.expect(ApiKey::JoinGroup).await;
    let sync = coordinator.expect(ApiKey::SyncGroup).await;
    assert_eq!(sync.entries.len(), 2, "the leader assigns both members");
    assert!(matches!(member.next_call().await, Call::Assign { .. }));
    assert_eq!(member.next_call().await, assigned(1, "m-1", "m-1", "a-1"));
    assert_eq!(member.leave().await, vec![]);
    sync.at - join.at
}

#[tokio::test]
async fn the_leader_pauses_before_sync_group_on_the_embedded_broker_only() {
    let embedded = leader_sync_gap(FakeCoordinator::embedded().await).await;
    assert!(embedded >= EMBEDDED_LEADER_SYNC_PAUSE, "{embedded:?}");
    // On a real broker the SyncGroup follows the JoinGroup answer at once (a few ms here).
    let real = leader_sync_gap(FakeCoordinator::start().await).await;
    assert!(real < EMBEDDED_LEADER_SYNC_PAUSE, "{real:?}");
}
