//! A scripted group coordinator for the group member's tests: the error paths that
//! librdkafka's mock cluster cannot produce (MEMBER_ID_REQUIRED, JoinGroup/SyncGroup errors,
//! a coordinator that moves).
//!
//! It offers the versions the embedded broker (librdkafka's mock) is limited to: JoinGroup v5,
//! SyncGroup v3, Heartbeat v3, LeaveGroup v2, FindCoordinator v2; Metadata (v8) only tells
//! its cluster id, a real broker's unless started [`FakeCoordinator::embedded`]. Each API answers from a
//! queue of scripted [`Reply`]s; with its queue empty, FindCoordinator names this broker,
//! Heartbeat and LeaveGroup succeed, and JoinGroup and SyncGroup are never answered. Every
//! group request is recorded as a [`Seen`] for the test to check.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FindCoordinatorResponse, HeartbeatResponse,
    JoinGroupResponse, LeaveGroupResponse, MetadataResponse, RequestKind, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::wire::{read_request, write_response, write_response_as, Request};

const VERSIONS: &[(ApiKey, i16)] = &[
    (ApiKey::ApiVersions, 2),
    (ApiKey::FindCoordinator, 2),
    (ApiKey::JoinGroup, 5),
    (ApiKey::SyncGroup, 3),
    (ApiKey::Heartbeat, 3),
    (ApiKey::LeaveGroup, 2),
    (ApiKey::Metadata, 8),
];
/// The cluster id of a real broker (Kafka's are base64 UUIDs) and one of librdkafka's mock.
const REAL_CLUSTER_ID: &str = "5L6g3nShT-eMCtK--X86sw";
const EMBEDDED_CLUSTER_ID: &str = "mockCluster1a2b3c";
/// How long a test waits for a request it expects.
const WAIT: Duration = Duration::from_secs(10);

/// One scripted answer.
pub enum Reply {
    /// FindCoordinator: the coordinator is the broker at this `127.0.0.1:port` address.
    Coordinator(String),
    /// JoinGroup success. `members` (the leader's view) are (member id, metadata).
    Joined {
        generation: i32,
        member_id: &'static str,
        leader: &'static str,
        members: Vec<(&'static str, &'static str)>,
    },
    /// JoinGroup MEMBER_ID_REQUIRED (v4+) handing out this member id.
    MemberIdRequired(&'static str),
    /// SyncGroup success with this member's assignment.
    Assignment(&'static str),
    /// This error, with empty or default fields otherwise.
    Error(ResponseError),
    /// Close the connection instead of answering.
    Close,
}

/// A group request the fake received.
#[derive(Debug)]
pub struct Seen {
    pub api: ApiKey,
    /// Empty for FindCoordinator.
    pub member_id: String,
    /// SyncGroup and Heartbeat only; -1 otherwise.
    pub generation: i32,
    /// JoinGroup: the offered (protocol, metadata); SyncGroup: the leader's (member,
    /// assignment).
    pub entries: Vec<(String, Bytes)>,
    /// When the request arrived.
    pub at: Instant,
}

type Script = Arc<Mutex<HashMap<ApiKey, VecDeque<Reply>>>>;

pub struct FakeCoordinator {
    pub addr: String,
    script: Script,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl FakeCoordinator {
    /// Listens on 127.0.0.1, serving any number of connections, as a real broker.
    pub async fn start() -> Self {
        Self::start_with_cluster_id(REAL_CLUSTER_ID).await
    }

    /// As [`FakeCoordinator::start`], reporting the embedded broker's cluster id.
    pub async fn embedded() -> Self {
        Self::start_with_cluster_id(EMBEDDED_CLUSTER_ID).await
    }

    async fn start_with_cluster_id(cluster_id: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let script = Script::default();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (for_task, self_addr) = (script.clone(), addr.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(
                    stream,
                    self_addr.clone(),
                    cluster_id,
                    for_task.clone(),
                    seen_tx.clone(),
                ));
            }
        });
        Self { addr, script, seen }
    }

    /// Queues answers for the next requests of `api`.
    pub fn script(&self, api: ApiKey, replies: impl IntoIterator<Item = Reply>) {
        let mut script = self.script.lock().unwrap();
        script.entry(api).or_default().extend(replies);
    }

    /// The next request of `api`. Heartbeats and FindCoordinators in between are skipped
    /// (unless that is `api`); any other request in between fails the test.
    pub async fn expect(&mut self, api: ApiKey) -> Seen {
        loop {
            let seen = self.recv().await;
            if seen.api == api {
                return seen;
            }
            assert!(
                is_routine(seen.api),
                "{}: expected {api:?}, got {seen:?}",
                self.addr
            );
        }
    }

    /// The next JoinGroup, SyncGroup or LeaveGroup, as `"JoinGroup(m-1)"` or
    /// `"SyncGroup(m-1@3)"` (member id, generation).
    pub async fn next_step(&mut self) -> String {
        loop {
            let seen = self.recv().await;
            if is_routine(seen.api) {
                continue;
            }
            return match seen.api {
                ApiKey::SyncGroup => format!("SyncGroup({}@{})", seen.member_id, seen.generation),
                api => format!("{api:?}({})", seen.member_id),
            };
        }
    }

    async fn recv(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no request within {WAIT:?}", self.addr))
            .expect("the fake keeps running")
    }
}

/// Requests a member sends on its own schedule, which tests may skip.
fn is_routine(api: ApiKey) -> bool {
    matches!(api, ApiKey::Heartbeat | ApiKey::FindCoordinator)
}

async fn serve(
    mut stream: TcpStream,
    self_addr: String,
    cluster_id: &'static str,
    script: Script,
    seen: mpsc::UnboundedSender<Seen>,
) {
    while let Some(request) = read_request(&mut stream).await {
        let api = request.api;
        if api == ApiKey::ApiVersions {
            answer_api_versions(&mut stream, &request).await;
            continue;
        }
        if api == ApiKey::Metadata {
            let response = MetadataResponse::default()
                .with_cluster_id(Some(StrBytes::from_static_str(cluster_id)))
                .with_controller_id(BrokerId(1));
            write_response(&mut stream, &request, response).await;
            continue;
        }
        let max = VERSIONS.iter().find(|(key, _)| *key == api).map(|v| v.1);
        assert!(
            max.is_some_and(|max| request.version <= max),
            "{api:?} v{} was never offered",
            request.version
        );
        let request_seen = parse(&request);
        let protocol = request_seen.entries.first().map(|(name, _)| name.clone());
        let reply = script
            .lock()
            .unwrap()
            .get_mut(&api)
            .and_then(|queue| queue.pop_front());
        let _ = seen.send(request_seen);
        match (api, reply) {
            (_, Some(Reply::Close)) => return,
            (ApiKey::FindCoordinator, reply) => {
                let (error, addr) = match reply {
                    None => (0, self_addr.clone()),
                    Some(Reply::Coordinator(addr)) => (0, addr),
                    Some(Reply::Error(e)) => (e.code(), "0.0.0.0:0".into()),
                    Some(_) => panic!("not a FindCoordinator reply"),
                };
                let (host, port) = addr.rsplit_once(':').unwrap();
                let response = FindCoordinatorResponse::default()
                    .with_error_code(error)
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port.parse().unwrap());
                write_response(&mut stream, &request, response).await;
            }
            (ApiKey::JoinGroup, None) | (ApiKey::SyncGroup, None) => {
                // Held, like a JoinGroup waiting for the rest of the group.
                std::future::pending::<()>().await;
            }
            (ApiKey::JoinGroup, Some(reply)) => {
                let (error, generation, member_id, leader, members) = match reply {
                    Reply::Joined {
                        generation,
                        member_id,
                        leader,
                        members,
                    } => (0, generation, member_id, leader, members),
                    Reply::MemberIdRequired(member_id) => {
                        let error = ResponseError::MemberIdRequired.code();
                        (error, -1, member_id, "", vec![])
                    }
                    Reply::Error(e) => (e.code(), -1, "", "", vec![]),
                    _ => panic!("not a JoinGroup reply"),
                };
                // A failed join names no protocol.
                let protocol = protocol.filter(|_| error == 0).unwrap_or_default();
                let members = members
                    .into_iter()
                    .map(|(id, metadata)| {
                        JoinGroupResponseMember::default()
                            .with_member_id(StrBytes::from_static_str(id))
                            .with_metadata(Bytes::from_static(metadata.as_bytes()))
                    })
                    .collect();
                let response = JoinGroupResponse::default()
                    .with_error_code(error)
                    .with_generation_id(generation)
                    .with_protocol_name(Some(StrBytes::from_string(protocol)))
                    .with_leader(StrBytes::from_static_str(leader))
                    .with_member_id(StrBytes::from_static_str(member_id))
                    .with_members(members);
                write_response(&mut stream, &request, response).await;
            }
            (ApiKey::SyncGroup, Some(reply)) => {
                let (error, assignment) = match reply {
                    Reply::Assignment(assignment) => (0, assignment),
                    Reply::Error(e) => (e.code(), ""),
                    _ => panic!("not a SyncGroup reply"),
                };
                let response = SyncGroupResponse::default()
                    .with_error_code(error)
                    .with_assignment(Bytes::from_static(assignment.as_bytes()));
                write_response(&mut stream, &request, response).await;
            }
            (ApiKey::Heartbeat | ApiKey::LeaveGroup, reply) => {
                let error = match reply {
                    None => 0,
                    Some(Reply::Error(e)) => e.code(),
                    Some(_) => panic!("not a {api:?} reply"),
                };
                if api == ApiKey::Heartbeat {
                    let response = HeartbeatResponse::default().with_error_code(error);
                    write_response(&mut stream, &request, response).await;
                } else {
                    let response = LeaveGroupResponse::default().with_error_code(error);
                    write_response(&mut stream, &request, response).await;
                }
            }
            (api, _) => panic!("fake coordinator got unexpected {api:?}"),
        }
    }
}

/// Versions 0 to 2 are answered in their own layout; newer ones are refused in v0 (the
/// client then retries with the version named for ApiVersions), as a broker does.
async fn answer_api_versions(stream: &mut TcpStream, request: &Request) {
    let api_keys = VERSIONS
        .iter()
        .map(|(key, max)| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(0)
                .with_max_version(*max)
        })
        .collect();
    let response = ApiVersionsResponse::default().with_api_keys(api_keys);
    if request.version > 2 {
        let refused = response.with_error_code(ResponseError::UnsupportedVersion.code());
        write_response_as(stream, request, 0, refused).await;
    } else {
        write_response(stream, request, response).await;
    }
}

/// What the tests check of a group request.
fn parse(request: &Request) -> Seen {
    let entries = |pairs: Vec<(&StrBytes, &Bytes)>| {
        pairs
            .into_iter()
            .map(|(name, bytes)| (name.to_string(), bytes.clone()))
            .collect()
    };
    let (member_id, generation, entries) = match &request.body {
        RequestKind::FindCoordinator(_) => (String::new(), -1, Vec::new()),
        RequestKind::JoinGroup(join) => (
            join.member_id.to_string(),
            -1,
            entries(
                join.protocols
                    .iter()
                    .map(|p| (&p.name, &p.metadata))
                    .collect(),
            ),
        ),
        RequestKind::SyncGroup(sync) => (
            sync.member_id.to_string(),
            sync.generation_id,
            entries(
                sync.assignments
                    .iter()
                    .map(|a| (&a.member_id, &a.assignment))
                    .collect(),
            ),
        ),
        RequestKind::Heartbeat(heartbeat) => (
            heartbeat.member_id.to_string(),
            heartbeat.generation_id,
            Vec::new(),
        ),
        RequestKind::LeaveGroup(leave) => (leave.member_id.to_string(), -1, Vec::new()),
        _ => panic!("fake coordinator got unexpected {:?}", request.api),
    };
    Seen {
        api: request.api,
        member_id,
        generation,
        entries,
        at: Instant::now(),
    }
}
