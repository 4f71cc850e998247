//! Against librdkafka's mock cluster. Its classic group implementation differs from a
//! real broker in ways these tests must respect:
//! - every member must offer the same first protocol name (it asserts otherwise);
//! - a rebalance after the first ends only when its timer fires (session timeout − 1 s);
//! - it parses JoinGroup v6, SyncGroup v4 and LeaveGroup v3+ with the older layouts, so
//!   the tests lower its advertised maxima to the versions it really speaks;
//! - a follower's SyncGroup that arrives after the leader's is refused (INVALID_REQUEST)
//!   instead of being answered from the stored assignment: the member recognises the mock
//!   and its leader pauses before SyncGroup (`leader_sync_pause`), which these tests rely on
//!   (their handler assigns at once).

use super::*;
use crate::cluster::testing::mock_cluster::MockBroker;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

const SESSION: Duration = Duration::from_millis(3000);
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Generous: a mock rebalance takes ~2 s, and a lost SyncGroup race costs another round.
const WAIT: Duration = Duration::from_secs(45);
const PROTOCOL: &str = "test-protocol";

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
    let mock = MockBroker::start();
    let (mut recorder, events) = Recorder::new();
    let _a = start(&mock, "g-two", "a", &events);
    let _b = start(&mock, "g-two", "b", &events);
    let generation = recorder.generation_of(&["a", "b"], 0).await;
    recorder.check_generation(&["a", "b"], generation);
    assert!(recorder.lost.is_empty(), "lost: {:?}", recorder.lost);
}

#[tokio::test]
async fn a_third_member_triggers_a_rebalance_without_loss() {
    let mock = MockBroker::start();
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
    let mock = MockBroker::start();
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
    let mock = MockBroker::start();
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
    let mock = MockBroker::with_errors(&[(
        RDKafkaApiKey::Heartbeat,
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
fn only_a_leader_with_followers_on_the_embedded_broker_pauses() {
    assert_eq!(leader_sync_pause(true, 2), Duration::from_millis(300));
    assert_eq!(leader_sync_pause(true, 5), EMBEDDED_LEADER_SYNC_PAUSE);
    // Alone in the group there is no follower to wait for.
    assert_eq!(leader_sync_pause(true, 1), Duration::ZERO);
    assert_eq!(leader_sync_pause(false, 2), Duration::ZERO);
    assert_eq!(leader_sync_pause(false, 1), Duration::ZERO);
}

#[tokio::test]
async fn the_embedded_broker_is_recognised_by_its_cluster_id() {
    let mock = MockBroker::start();
    let mut conn = KafkaConnection::connect(&mock.bootstrap, &SecurityConfig::default(), "test")
        .await
        .unwrap();
    let id = conn
        .cluster_id()
        .await
        .unwrap()
        .expect("the mock names its cluster");
    assert!(id.starts_with("mockCluster"), "{id}");
    assert!(is_embedded_broker(&mut conn).await);
}

/// Against the real broker the test command starts (`KCONNECT_TEST_KAFKA`); skipped without
/// one unless `CI=true`.
#[tokio::test]
async fn a_real_broker_is_not_taken_for_the_embedded_one() {
    let Ok(bootstrap) = std::env::var("KCONNECT_TEST_KAFKA") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "KCONNECT_TEST_KAFKA is not set but CI=true: this test must run"
        );
        eprintln!("SKIPPED: KCONNECT_TEST_KAFKA is not set");
        return;
    };
    let mut conn = KafkaConnection::connect(&bootstrap, &SecurityConfig::default(), "test")
        .await
        .unwrap();
    let id = conn
        .cluster_id()
        .await
        .unwrap()
        .expect("Kafka names its cluster");
    assert!(!id.is_empty() && !id.starts_with("mockCluster"), "{id}");
    assert!(!is_embedded_broker(&mut conn).await);
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
