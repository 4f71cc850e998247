//! A scripted group coordinator for the group member's tests: the error paths that
//! librdkafka's mock cluster cannot produce (MEMBER_ID_REQUIRED, JoinGroup/SyncGroup errors,
//! a coordinator that moves).
//!
//! It speaks only non-flexible versions (JoinGroup v5, SyncGroup v3, Heartbeat v3,
//! LeaveGroup v2, FindCoordinator v2), encoded by hand: the kafka-protocol crate is built
//! for clients, which encode requests and decode responses only. Each API answers from a
//! queue of scripted [`Reply`]s; with its queue empty, FindCoordinator names this broker,
//! Heartbeat and LeaveGroup succeed, and JoinGroup and SyncGroup are never answered. Every
//! group request is recorded as a [`Seen`] for the test to check.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::conn::fake_broker::{read_request, write_response};

const VERSIONS: &[(ApiKey, i16)] = &[
    (ApiKey::ApiVersions, 2),
    (ApiKey::FindCoordinator, 2),
    (ApiKey::JoinGroup, 5),
    (ApiKey::SyncGroup, 3),
    (ApiKey::Heartbeat, 3),
    (ApiKey::LeaveGroup, 2),
];
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
}

type Script = Arc<Mutex<HashMap<ApiKey, VecDeque<Reply>>>>;

pub struct FakeCoordinator {
    pub addr: String,
    script: Script,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl FakeCoordinator {
    /// Listens on 127.0.0.1, serving any number of connections.
    pub async fn start() -> Self {
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
    script: Script,
    seen: mpsc::UnboundedSender<Seen>,
) {
    while let Some(request) = read_request(&mut stream).await {
        let api = ApiKey::try_from(request.api_key).expect("known key");
        if api == ApiKey::ApiVersions {
            let body = api_versions_body(request.version);
            write_response(&mut stream, &request, &body).await;
            continue;
        }
        let max = VERSIONS.iter().find(|(key, _)| *key == api).map(|v| v.1);
        assert!(
            max.is_some_and(|max| request.version <= max),
            "{api:?} v{} was never offered",
            request.version
        );
        let request_seen = parse(api, request.body.clone());
        let protocol = request_seen.entries.first().map(|(name, _)| name.clone());
        let reply = script
            .lock()
            .unwrap()
            .get_mut(&api)
            .and_then(|queue| queue.pop_front());
        let _ = seen.send(request_seen);
        let mut body = BytesMut::new();
        body.put_i32(0); // throttle time, in every version served here
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
                body.put_i16(error);
                body.put_i16(-1); // no error message
                body.put_i32(1); // node id
                put_str(&mut body, host);
                body.put_i32(port.parse().unwrap());
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
                body.put_i16(error);
                body.put_i32(generation);
                put_str(
                    &mut body,
                    protocol.as_deref().filter(|_| error == 0).unwrap_or(""),
                );
                put_str(&mut body, leader);
                put_str(&mut body, member_id);
                body.put_i32(members.len() as i32);
                for (id, metadata) in members {
                    put_str(&mut body, id);
                    body.put_i16(-1); // no group instance id
                    put_bytes(&mut body, metadata.as_bytes());
                }
            }
            (ApiKey::SyncGroup, Some(reply)) => {
                let (error, assignment) = match reply {
                    Reply::Assignment(assignment) => (0, assignment),
                    Reply::Error(e) => (e.code(), ""),
                    _ => panic!("not a SyncGroup reply"),
                };
                body.put_i16(error);
                put_bytes(&mut body, assignment.as_bytes());
            }
            (ApiKey::Heartbeat | ApiKey::LeaveGroup, reply) => body.put_i16(match reply {
                None => 0,
                Some(Reply::Error(e)) => e.code(),
                Some(_) => panic!("not a {api:?} reply"),
            }),
            (api, _) => panic!("fake coordinator got unexpected {api:?}"),
        }
        write_response(&mut stream, &request, &body).await;
    }
}

/// Versions 0 to 2 share one layout; newer ones are refused in it (the client then retries
/// with the version named for ApiVersions).
fn api_versions_body(version: i16) -> BytesMut {
    let mut body = BytesMut::new();
    body.put_i16(if version > 2 {
        ResponseError::UnsupportedVersion.code()
    } else {
        0
    });
    body.put_i32(VERSIONS.len() as i32);
    for (key, max) in VERSIONS {
        body.put_i16(*key as i16);
        body.put_i16(0);
        body.put_i16(*max);
    }
    if (1..=2).contains(&version) {
        body.put_i32(0); // throttle time
    }
    body
}

/// Reads what the tests check from a request body (versions as served above).
fn parse(api: ApiKey, mut body: Bytes) -> Seen {
    let mut seen = Seen {
        api,
        member_id: String::new(),
        generation: -1,
        entries: Vec::new(),
    };
    if api == ApiKey::FindCoordinator {
        return seen;
    }
    get_str(&mut body); // group id
    match api {
        ApiKey::JoinGroup => {
            body.advance(8); // session and rebalance timeouts
            seen.member_id = get_str(&mut body);
            get_str(&mut body); // group instance id
            get_str(&mut body); // protocol type
            for _ in 0..body.get_i32() {
                seen.entries
                    .push((get_str(&mut body), get_bytes(&mut body)));
            }
        }
        ApiKey::SyncGroup => {
            seen.generation = body.get_i32();
            seen.member_id = get_str(&mut body);
            get_str(&mut body); // group instance id
            for _ in 0..body.get_i32() {
                seen.entries
                    .push((get_str(&mut body), get_bytes(&mut body)));
            }
        }
        ApiKey::Heartbeat => {
            seen.generation = body.get_i32();
            seen.member_id = get_str(&mut body);
        }
        ApiKey::LeaveGroup => seen.member_id = get_str(&mut body),
        _ => {}
    }
    seen
}

fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// A (nullable) string; null reads as empty.
fn get_str(buf: &mut Bytes) -> String {
    let len = buf.get_i16();
    if len < 0 {
        return String::new();
    }
    String::from_utf8(buf.split_to(len as usize).to_vec()).unwrap()
}

fn get_bytes(buf: &mut Bytes) -> Bytes {
    let len = buf.get_i32();
    buf.split_to(len.max(0) as usize)
}
