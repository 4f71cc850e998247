//! Kafka Connect's group sub-protocol (protocol type `connect`): the member metadata a worker
//! sends in JoinGroup and the assignment the leader hands back in SyncGroup, byte-compatible with
//! Connect's `ConnectProtocol` (v0, "default"/eager) and `IncrementalCooperativeConnectProtocol`
//! (v1 "compatible" and v2 "sessioned", KIP-415 / KIP-507).
//!
//! Wire format (Kafka's classic `Struct` types, big-endian):
//! `INT16`/`INT32`/`INT64` fixed width; `STRING` = int16 byte length + UTF-8 (never null);
//! array = int32 count + elements (-1 = null where the schema allows it);
//! `NULLABLE_BYTES` = int32 length + bytes (-1 = null).
//!
//! ```text
//! Metadata      := version:int16 url:STRING config_offset:INT64 [allocation:NULLABLE_BYTES]   (allocation v1+)
//! Assignment    := version:int16 error:INT16 leader:STRING leader_url:STRING config_offset:INT64
//!                  assignment:[ConnectorEntry] [revoked:[ConnectorEntry] delay:INT32]        (revoked, delay v1+)
//! ConnectorEntry:= connector:STRING tasks:[INT32]          (task id -1 = the connector instance itself)
//! ```
//!
//! The allocation embedded in v1+ metadata is a complete, version-prefixed assignment: the
//! worker's current connectors and tasks.
//!
//! Decoding follows Connect's tolerant v1 schema (`TOLERATE_MISSING_FIELDS_WITH_DEFAULTS`): any
//! header version >= 0 is accepted and read with this schema, so bytes appended by a newer
//! version are ignored, and when the input ends exactly before an optional trailing field that
//! field takes its default (allocation null, assignment/revoked null = empty, delay 0). Input that
//! ends in the middle of a field, or before a required one, is a [`ProtocolError::Truncated`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The JoinGroup protocol type of Connect worker groups.
pub const PROTOCOL_TYPE: &str = "connect";
/// The sentinel task id that stands for the connector instance in an assignment entry.
pub const CONNECTOR_TASK: i32 = -1;

/// The Connect sub-protocols, in increasing version order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectProtocol {
    /// Eager rebalancing: protocol name `default`, version 0, `connect.protocol=eager`.
    Eager,
    /// Incremental cooperative rebalancing: `compatible`, version 1.
    Compatible,
    /// Incremental cooperative rebalancing with session keys for internal requests
    /// (KIP-507): `sessioned`, version 2.
    Sessioned,
}

impl ConnectProtocol {
    /// The protocol name used in JoinGroup (`default`, `compatible`, `sessioned`).
    pub fn name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The version written in the metadata header.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => 0,
            ConnectProtocol::Compatible => 1,
            ConnectProtocol::Sessioned => 2,
        }
    }

    /// The `connect.protocol` worker config value (`eager`, `compatible`, `sessioned`).
    pub fn config_name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "eager",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// Parses a JoinGroup protocol name (case-insensitive, as `ConnectProtocolCompatibility.fromProtocol`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Parses a `connect.protocol` config value (case-insensitive, as
    /// `ConnectProtocolCompatibility.compatibility`).
    pub fn from_config(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.config_name().eq_ignore_ascii_case(value.trim()))
    }

    /// Whether this protocol rebalances incrementally (v1+).
    pub fn is_incremental(self) -> bool {
        self != ConnectProtocol::Eager
    }

    const ALL: [ConnectProtocol; 3] = [
        ConnectProtocol::Eager,
        ConnectProtocol::Compatible,
        ConnectProtocol::Sessioned,
    ];
}

impl fmt::Display for ConnectProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A task of a connector (Connect's `ConnectorTaskId`); ordered by connector, then task number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

impl TaskId {
    pub fn new(connector: impl Into<String>, task: u32) -> Self {
        TaskId {
            connector: connector.into(),
            task,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// An assignment as carried on the wire (Connect's `ExtendedAssignment`; eager v0 assignments
/// simply have no revocations and no delay).
///
/// In the incremental protocols `connectors`/`tasks` are only the *newly* assigned work: the
/// member keeps what it already runs minus `revoked_*` (see [`apply_assignment`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// [`Assignment::NO_ERROR`] or [`Assignment::CONFIG_MISMATCH`].
    pub error: i16,
    /// Member id of the group leader.
    pub leader: String,
    /// REST URL of the group leader.
    pub leader_url: String,
    /// Config topic offset the assignment was computed at.
    pub config_offset: i64,
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskId>,
    pub revoked_connectors: BTreeSet<String>,
    pub revoked_tasks: BTreeSet<TaskId>,
    /// Milliseconds after which the member should rejoin (scheduled rebalance), 0 for none.
    pub delay_ms: i32,
}

impl Assignment {
    pub const NO_ERROR: i16 = 0;
    /// The leader could not assign because its config is behind: read to the end of the config
    /// topic and rejoin.
    pub const CONFIG_MISMATCH: i16 = 1;

    pub fn failed(&self) -> bool {
        self.error != Self::NO_ERROR
    }

    /// True when nothing is assigned or revoked.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
            && self.tasks.is_empty()
            && self.revoked_connectors.is_empty()
            && self.revoked_tasks.is_empty()
    }
}

/// A worker's JoinGroup metadata (Connect's `WorkerState` / `ExtendedWorkerState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerMetadata {
    /// The worker's advertised REST URL.
    pub url: String,
    /// The latest config topic offset this worker has read.
    pub config_offset: i64,
    /// v1+: the worker's current assignment (its complete set of connectors and tasks); `None`
    /// when the worker has no assignment yet (encoded as null bytes) or in v0 metadata.
    pub allocation: Option<Assignment>,
}

/// Why bytes could not be decoded or a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error(
        "truncated connect protocol data: field '{field}' needs {needed} bytes, {remaining} left"
    )]
    Truncated {
        field: &'static str,
        needed: usize,
        remaining: usize,
    },
    #[error("unsupported connect protocol version {0}")]
    UnsupportedVersion(i16),
    #[error("invalid length {len} for field '{field}'")]
    InvalidLength { field: &'static str, len: i64 },
    #[error("field '{field}' is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("invalid task id {task} for connector '{connector}'")]
    InvalidTaskId { connector: String, task: i32 },
    #[error("field '{field}' is {len} bytes long, more than the {max} a protocol string can hold")]
    StringTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

/// The protocols a worker offers in JoinGroup for its `connect.protocol`, most preferred first,
/// as `WorkerCoordinator.metadata()` does: sessioned → [sessioned, compatible, default];
/// compatible → [compatible, default]; eager → [default].
pub fn offered(p: ConnectProtocol) -> Vec<ConnectProtocol> {
    match p {
        ConnectProtocol::Eager => vec![ConnectProtocol::Eager],
        ConnectProtocol::Compatible => vec![ConnectProtocol::Compatible, ConnectProtocol::Eager],
        ConnectProtocol::Sessioned => vec![
            ConnectProtocol::Sessioned,
            ConnectProtocol::Compatible,
            ConnectProtocol::Eager,
        ],
    }
}

/// The JoinGroup protocol list for `connect.protocol = p`: each offered protocol's name with
/// the metadata encoded for it (the eager entry carries v0 metadata without the allocation).
pub fn join_protocols(
    p: ConnectProtocol,
    m: &WorkerMetadata,
) -> Result<Vec<(&'static str, Vec<u8>)>, ProtocolError> {
    offered(p)
        .into_iter()
        .map(|q| Ok((q.name(), encode_metadata(q, m)?)))
        .collect()
}

/// The member's complete assignment after receiving `received` in a rebalance, as
/// `WorkerCoordinator.onJoinComplete` computes it: in the incremental protocols the newly
/// assigned work is added to what the member already had minus the revoked work; an eager
/// assignment (or the first one) replaces everything.
pub fn apply_assignment(
    p: ConnectProtocol,
    previous: Option<&Assignment>,
    received: &Assignment,
) -> Assignment {
    let mut next = received.clone();
    if let (true, Some(prev)) = (p.is_incremental(), previous) {
        next.connectors.extend(
            prev.connectors
                .difference(&received.revoked_connectors)
                .cloned(),
        );
        next.tasks
            .extend(prev.tasks.difference(&received.revoked_tasks).cloned());
    }
    next
}

// ----------------------------------------------------------------------------------------------
// Encoding

/// Encodes member metadata for protocol `p`: v0 (`ConnectProtocol.serializeMetadata`) for eager,
/// else v1/v2 with the allocation (`IncrementalCooperativeConnectProtocol.serializeMetadata`).
pub fn encode_metadata(p: ConnectProtocol, m: &WorkerMetadata) -> Result<Vec<u8>, ProtocolError> {
    let mut w = Writer::default();
    w.i16(p.version());
    w.string("url", &m.url)?;
    w.i64(m.config_offset);
    if p.is_incremental() {
        match &m.allocation {
            None => w.i32(-1),
            Some(a) => {
                let bytes = encode_assignment(p, a)?;
                w.i32(len_i32("allocation", bytes.len())?);
                w.buf.extend_from_slice(&bytes);
            }
        }
    }
    Ok(w.buf)
}

/// Encodes an assignment for protocol `p`.
///
/// Eager writes header version 0 and the v0 body (no revocations, no delay). Compatible and
/// sessioned both write header version 1 and the v1 body: the assignment schema has no v2, and
/// Connect's generated-message `ExtendedAssignment.toByteBuffer` always writes version 1 (while
/// its reader rejects assignment versions above 1), so version 1 is readable by every Connect
/// release. Metadata headers, by contrast, do carry version 2 for sessioned.
pub fn encode_assignment(p: ConnectProtocol, a: &Assignment) -> Result<Vec<u8>, ProtocolError> {
    let mut w = Writer::default();
    w.i16(if p.is_incremental() { 1 } else { 0 });
    w.i16(a.error);
    w.string("leader", &a.leader)?;
    w.string("leader-url", &a.leader_url)?;
    w.i64(a.config_offset);
    w.entries(&a.connectors, &a.tasks)?;
    if p.is_incremental() {
        w.entries(&a.revoked_connectors, &a.revoked_tasks)?;
        w.i32(a.delay_ms);
    }
    Ok(w.buf)
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

fn len_i32(field: &'static str, len: usize) -> Result<i32, ProtocolError> {
    i32::try_from(len).map_err(|_| ProtocolError::InvalidLength {
        field,
        len: len as i64,
    })
}

impl Writer {
    fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, field: &'static str, s: &str) -> Result<(), ProtocolError> {
        let len = i16::try_from(s.len()).map_err(|_| ProtocolError::StringTooLong {
            field,
            len: s.len(),
            max: i16::MAX as usize,
        })?;
        self.i16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// Writes `[ConnectorEntry]` the way Connect's `Assignment.asMap()` groups work: first one
    /// entry per assigned connector instance (its task list starting with -1 and followed by the
    /// connector's assigned tasks), then entries for connectors of which only tasks are
    /// assigned. Connect orders connectors by hash-set iteration; here they are sorted by name
    /// and tasks ascending so the bytes are deterministic (readers do not depend on the order).
    fn entries(
        &mut self,
        connectors: &BTreeSet<String>,
        tasks: &BTreeSet<TaskId>,
    ) -> Result<(), ProtocolError> {
        let mut by_connector: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for t in tasks {
            let id = i32::try_from(t.task).map_err(|_| ProtocolError::InvalidLength {
                field: "tasks",
                len: t.task as i64,
            })?;
            by_connector.entry(&t.connector).or_default().push(id);
        }
        let mut order: Vec<(&str, Vec<i32>)> = Vec::new();
        for c in connectors {
            let mut ids = vec![CONNECTOR_TASK];
            ids.extend(by_connector.remove(c.as_str()).unwrap_or_default());
            order.push((c, ids));
        }
        order.extend(by_connector);
        self.i32(len_i32("assignment", order.len())?);
        for (connector, ids) in order {
            self.string("connector", connector)?;
            self.i32(len_i32("tasks", ids.len())?);
            for id in ids {
                self.i32(id);
            }
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------------
// Decoding

/// Decodes member metadata of any version (v0 has no allocation).
pub fn decode_metadata(b: &[u8]) -> Result<WorkerMetadata, ProtocolError> {
    let mut r = Reader::new(b);
    r.version()?;
    let url = r.string("url")?;
    let config_offset = r.i64("config-offset")?;
    let allocation = if r.is_empty() {
        None
    } else {
        match r.nullable_bytes("allocation")? {
            None => None,
            Some(bytes) => Some(decode_assignment(bytes)?),
        }
    };
    Ok(WorkerMetadata {
        url,
        config_offset,
        allocation,
    })
}

/// Decodes an assignment of any version with Connect's tolerant v1 schema.
pub fn decode_assignment(b: &[u8]) -> Result<Assignment, ProtocolError> {
    let mut r = Reader::new(b);
    r.version()?;
    let mut a = Assignment {
        error: r.i16("error")?,
        leader: r.string("leader")?,
        leader_url: r.string("leader-url")?,
        config_offset: r.i64("config-offset")?,
        ..Assignment::default()
    };
    if !r.is_empty() {
        r.entries("assignment", &mut a.connectors, &mut a.tasks)?;
    }
    if !r.is_empty() {
        r.entries("revoked", &mut a.revoked_connectors, &mut a.revoked_tasks)?;
    }
    if !r.is_empty() {
        a.delay_ms = r.i32("delay")?;
    }
    Ok(a)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::Truncated {
                field,
                needed: n,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }
    fn i16(&mut self, field: &'static str) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }
    fn i32(&mut self, field: &'static str) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }
    fn i64(&mut self, field: &'static str) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    /// The int16 header; negative versions are rejected, any other is read with this schema.
    fn version(&mut self) -> Result<i16, ProtocolError> {
        let v = self.i16("version")?;
        if v < 0 {
            return Err(ProtocolError::UnsupportedVersion(v));
        }
        Ok(v)
    }
    fn string(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        let len = self.i16(field)?;
        if len < 0 {
            return Err(ProtocolError::InvalidLength {
                field,
                len: len as i64,
            });
        }
        let bytes = self.take(field, len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError::InvalidUtf8 { field })
    }
    fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, ProtocolError> {
        match self.i32(field)? {
            -1 => Ok(None),
            len if len < 0 => Err(ProtocolError::InvalidLength {
                field,
                len: len as i64,
            }),
            len => Ok(Some(self.take(field, len as usize)?)),
        }
    }
    /// An array count; `None` for a null array when `nullable`.
    fn count(
        &mut self,
        field: &'static str,
        nullable: bool,
    ) -> Result<Option<usize>, ProtocolError> {
        let n = self.i32(field)?;
        if n == -1 && nullable {
            return Ok(None);
        }
        if n < 0 {
            return Err(ProtocolError::InvalidLength {
                field,
                len: n as i64,
            });
        }
        // Every element takes at least 4 bytes (an int32, or a string length + array count),
        // so a count the remaining bytes cannot hold is truncated input, not a huge allocation.
        let n = n as usize;
        if n.saturating_mul(4) > self.buf.len() {
            return Err(ProtocolError::Truncated {
                field,
                needed: n.saturating_mul(4),
                remaining: self.buf.len(),
            });
        }
        Ok(Some(n))
    }
    /// A nullable `[ConnectorEntry]` (null reads as empty, as `ExtendedAssignment` does).
    fn entries(
        &mut self,
        field: &'static str,
        connectors: &mut BTreeSet<String>,
        tasks: &mut BTreeSet<TaskId>,
    ) -> Result<(), ProtocolError> {
        let Some(n) = self.count(field, true)? else {
            return Ok(());
        };
        for _ in 0..n {
            let connector = self.string("connector")?;
            let Some(m) = self.count("tasks", false)? else {
                unreachable!("non-nullable count")
            };
            for _ in 0..m {
                match self.i32("tasks")? {
                    CONNECTOR_TASK => {
                        connectors.insert(connector.clone());
                    }
                    t if t >= 0 => {
                        tasks.insert(TaskId::new(connector.clone(), t as u32));
                    }
                    t => {
                        return Err(ProtocolError::InvalidTaskId {
                            connector: connector.clone(),
                            task: t,
                        })
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    fn sample_assignment() -> Assignment {
        Assignment {
            error: 0,
            leader: "leader-1".into(),
            leader_url: "http://w1:8083/".into(),
            config_offset: 42,
            connectors: set(&["a".to_string(), "b".to_string()]),
            tasks: set(&[
                TaskId::new("a", 0),
                TaskId::new("a", 2),
                TaskId::new("c", 1),
            ]),
            revoked_connectors: set(&["d".to_string()]),
            revoked_tasks: set(&[TaskId::new("b", 3), TaskId::new("d", 0)]),
            delay_ms: 1500,
        }
    }

    #[test]
    fn protocol_names_versions_and_offers() {
        assert_eq!(ConnectProtocol::Eager.name(), "default");
        assert_eq!(ConnectProtocol::Sessioned.version(), 2);
        assert_eq!(
            ConnectProtocol::from_name("COMPATIBLE"),
            Some(ConnectProtocol::Compatible)
        );
        assert_eq!(ConnectProtocol::from_name("eager"), None);
        assert_eq!(
            ConnectProtocol::from_config("eager"),
            Some(ConnectProtocol::Eager)
        );
        assert_eq!(
            ConnectProtocol::from_config("Sessioned"),
            Some(ConnectProtocol::Sessioned)
        );
        assert_eq!(ConnectProtocol::from_config("default"), None);
        assert_eq!(
            offered(ConnectProtocol::Sessioned),
            vec![
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager
            ]
        );
        assert_eq!(
            offered(ConnectProtocol::Compatible),
            vec![ConnectProtocol::Compatible, ConnectProtocol::Eager]
        );
        assert_eq!(
            offered(ConnectProtocol::Eager),
            vec![ConnectProtocol::Eager]
        );
    }

    #[test]
    fn metadata_round_trips_every_version() {
        let with = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: 7,
            allocation: Some(sample_assignment()),
        };
        let without = WorkerMetadata {
            allocation: None,
            ..with.clone()
        };
        for p in [ConnectProtocol::Compatible, ConnectProtocol::Sessioned] {
            assert_eq!(
                decode_metadata(&encode_metadata(p, &with).unwrap()).unwrap(),
                with
            );
            assert_eq!(
                decode_metadata(&encode_metadata(p, &without).unwrap()).unwrap(),
                without
            );
        }
        // v0 has no allocation field at all.
        let v0 = encode_metadata(ConnectProtocol::Eager, &with).unwrap();
        assert_eq!(decode_metadata(&v0).unwrap(), without);
    }

    #[test]
    fn assignment_round_trips_every_version() {
        let a = sample_assignment();
        for p in [ConnectProtocol::Compatible, ConnectProtocol::Sessioned] {
            assert_eq!(
                decode_assignment(&encode_assignment(p, &a).unwrap()).unwrap(),
                a
            );
        }
        let eager = Assignment {
            revoked_connectors: BTreeSet::new(),
            revoked_tasks: BTreeSet::new(),
            delay_ms: 0,
            ..a.clone()
        };
        let bytes = encode_assignment(ConnectProtocol::Eager, &a).unwrap();
        assert_eq!(decode_assignment(&bytes).unwrap(), eager);
        let empty = Assignment::default();
        assert_eq!(
            decode_assignment(&encode_assignment(ConnectProtocol::Compatible, &empty).unwrap())
                .unwrap(),
            empty
        );
    }

    /// Metadata v0, derived from `ConnectProtocol.CONNECT_PROTOCOL_HEADER_SCHEMA` +
    /// `CONFIG_STATE_V0`: version INT16, url STRING (int16 length), config-offset INT64.
    #[test]
    fn golden_metadata_v0() {
        let m = WorkerMetadata {
            url: "http://a:1".into(),
            config_offset: 5,
            allocation: None,
        };
        let expected: Vec<u8> = [
            &[0x00, 0x00][..],         // version 0
            &[0x00, 0x0a],             // url length 10
            b"http://a:1",             // url
            &[0, 0, 0, 0, 0, 0, 0, 5], // config-offset 5
        ]
        .concat();
        assert_eq!(
            encode_metadata(ConnectProtocol::Eager, &m).unwrap(),
            expected
        );
        assert_eq!(decode_metadata(&expected).unwrap(), m);
    }

    /// Metadata v1/v2 with no assignment yet, derived from `CONFIG_STATE_V1` (= v0) followed by
    /// `ALLOCATION_V1` (allocation NULLABLE_BYTES): a worker without an assignment snapshot
    /// serializes `ExtendedAssignment.empty()` as null, i.e. length -1.
    #[test]
    fn golden_metadata_v1_v2_null_allocation() {
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: -1,
            allocation: None,
        };
        for (p, v) in [
            (ConnectProtocol::Compatible, 1u8),
            (ConnectProtocol::Sessioned, 2u8),
        ] {
            let expected: Vec<u8> = [
                &[0x00, v][..], // version
                &[0x00, 0x01],  // url length 1
                b"u",
                &[0xff; 8],                // config-offset -1
                &[0xff, 0xff, 0xff, 0xff], // allocation: null
            ]
            .concat();
            assert_eq!(encode_metadata(p, &m).unwrap(), expected);
            assert_eq!(decode_metadata(&expected).unwrap(), m);
        }
    }

    /// Assignment v0, derived from `ConnectProtocol.ASSIGNMENT_V0` and `Assignment.asMap()`: the
    /// connector instance is task -1 at the head of its connector's entry, followed by that
    /// connector's tasks; connectors with only tasks get their own entry afterwards.
    #[test]
    fn golden_assignment_v0() {
        let a = Assignment {
            error: 0,
            leader: "L".into(),
            leader_url: "U".into(),
            config_offset: 3,
            connectors: set(&["a".to_string()]),
            tasks: set(&[TaskId::new("a", 0), TaskId::new("b", 1)]),
            ..Assignment::default()
        };
        let expected: Vec<u8> = [
            &[0x00, 0x00][..], // version 0
            &[0x00, 0x00],     // error 0
            &[0x00, 0x01],
            b"L", // leader
            &[0x00, 0x01],
            b"U",                      // leader-url
            &[0, 0, 0, 0, 0, 0, 0, 3], // config-offset 3
            &[0, 0, 0, 2],             // assignment: 2 entries
            &[0x00, 0x01],
            b"a",                      //   connector "a"
            &[0, 0, 0, 2],             //   2 task ids
            &[0xff, 0xff, 0xff, 0xff], //   -1 (the connector)
            &[0, 0, 0, 0],             //   task 0
            &[0x00, 0x01],
            b"b",          //   connector "b"
            &[0, 0, 0, 1], //   1 task id
            &[0, 0, 0, 1], //   task 1
        ]
        .concat();
        assert_eq!(
            encode_assignment(ConnectProtocol::Eager, &a).unwrap(),
            expected
        );
        assert_eq!(decode_assignment(&expected).unwrap(), a);
    }

    /// Assignment v1, derived from `IncrementalCooperativeConnectProtocol.ASSIGNMENT_V1`: the v0
    /// fields, then revoked `[ConnectorAssignment]` (built like `revokedAsMap()`), then delay
    /// INT32. Sessioned assignments carry the same bytes (header version 1).
    #[test]
    fn golden_assignment_v1() {
        let a = Assignment {
            error: 1,
            leader: "L".into(),
            leader_url: "U".into(),
            config_offset: 256,
            connectors: BTreeSet::new(),
            tasks: set(&[TaskId::new("x", 2)]),
            revoked_connectors: set(&["y".to_string()]),
            revoked_tasks: BTreeSet::new(),
            delay_ms: 300_000,
        };
        let expected: Vec<u8> = [
            &[0x00, 0x01][..], // version 1
            &[0x00, 0x01],     // error 1 (CONFIG_MISMATCH)
            &[0x00, 0x01],
            b"L",
            &[0x00, 0x01],
            b"U",
            &[0, 0, 0, 0, 0, 0, 1, 0], // config-offset 256
            &[0, 0, 0, 1],             // assignment: 1 entry
            &[0x00, 0x01],
            b"x",
            &[0, 0, 0, 1],
            &[0, 0, 0, 2], //   task 2
            &[0, 0, 0, 1], // revoked: 1 entry
            &[0x00, 0x01],
            b"y",
            &[0, 0, 0, 1],
            &[0xff, 0xff, 0xff, 0xff], //   the connector (-1)
            &[0x00, 0x04, 0x93, 0xe0], // delay 300000
        ]
        .concat();
        assert_eq!(
            encode_assignment(ConnectProtocol::Compatible, &a).unwrap(),
            expected
        );
        assert_eq!(
            encode_assignment(ConnectProtocol::Sessioned, &a).unwrap(),
            expected
        );
        assert_eq!(decode_assignment(&expected).unwrap(), a);
    }

    /// Metadata v2 embedding an allocation: NULLABLE_BYTES length followed by a complete
    /// version-prefixed v1 assignment (`serializeMetadata` nests `serializeAssignment`).
    #[test]
    fn golden_metadata_v2_with_allocation() {
        let alloc = Assignment {
            leader: "L".into(),
            leader_url: "U".into(),
            config_offset: 1,
            connectors: set(&["c".to_string()]),
            ..Assignment::default()
        };
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 1,
            allocation: Some(alloc),
        };
        let inner: Vec<u8> = [
            &[0x00, 0x01][..], // assignment version 1
            &[0x00, 0x00],     // error 0
            &[0x00, 0x01],
            b"L",
            &[0x00, 0x01],
            b"U",
            &[0, 0, 0, 0, 0, 0, 0, 1], // config-offset 1
            &[0, 0, 0, 1],             // 1 entry
            &[0x00, 0x01],
            b"c",
            &[0, 0, 0, 1],
            &[0xff, 0xff, 0xff, 0xff], //   connector c
            &[0, 0, 0, 0],             // revoked: empty (not null)
            &[0, 0, 0, 0],             // delay 0
        ]
        .concat();
        // 2 + 2 + (2+1) + (2+1) + 8 + 4 + (2+1) + 4 + 4 + 4 + 4 = 41 bytes
        assert_eq!(inner.len(), 41);
        let expected: Vec<u8> = [
            &[0x00, 0x02][..], // metadata version 2
            &[0x00, 0x01],
            b"u",
            &[0, 0, 0, 0, 0, 0, 0, 1], // config-offset 1
            &[0, 0, 0, 41],            // allocation length
            &inner,
        ]
        .concat();
        assert_eq!(
            encode_metadata(ConnectProtocol::Sessioned, &m).unwrap(),
            expected
        );
        assert_eq!(decode_metadata(&expected).unwrap(), m);
    }

    #[test]
    fn tolerates_missing_defaults_higher_versions_and_null_arrays() {
        // A v1 assignment whose trailing revoked/delay are absent reads them as defaults.
        let a = sample_assignment();
        let v0 = encode_assignment(ConnectProtocol::Eager, &a).unwrap();
        let mut as_v1 = v0.clone();
        as_v1[1] = 1;
        let d = decode_assignment(&as_v1).unwrap();
        assert!(d.revoked_tasks.is_empty() && d.delay_ms == 0);
        assert_eq!(d.tasks, a.tasks);

        // A future version with extra trailing bytes is read with this schema.
        let mut v9 = encode_assignment(ConnectProtocol::Compatible, &a).unwrap();
        v9[1] = 9;
        v9.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(decode_assignment(&v9).unwrap(), a);
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 3,
            allocation: None,
        };
        let mut m9 = encode_metadata(ConnectProtocol::Sessioned, &m).unwrap();
        m9[1] = 9;
        m9.extend_from_slice(&[0xAA; 3]);
        assert_eq!(decode_metadata(&m9).unwrap(), m);

        // Null assignment/revoked arrays (nullable in ASSIGNMENT_V1) read as empty.
        let mut null_arrays = vec![0, 1, 0, 0, 0, 0, 0, 0];
        null_arrays.extend_from_slice(&[0; 8]);
        null_arrays.extend_from_slice(&[0xff; 8]);
        null_arrays.extend_from_slice(&[0, 0, 0, 7]);
        let d = decode_assignment(&null_arrays).unwrap();
        assert!(d.connectors.is_empty() && d.revoked_connectors.is_empty());
        assert_eq!(d.delay_ms, 7);
    }

    #[test]
    fn truncated_and_invalid_input_errors() {
        let a = sample_assignment();
        let bytes = encode_assignment(ConnectProtocol::Compatible, &a).unwrap();
        // Cutting inside any field (not exactly at an optional field boundary) must fail.
        // Optional-field boundaries: before the assignment array, before revoked, before delay.
        let boundaries = {
            let no_work = Assignment {
                connectors: BTreeSet::new(),
                tasks: BTreeSet::new(),
                ..a.clone()
            };
            let before_array = encode_assignment(ConnectProtocol::Eager, &no_work)
                .unwrap()
                .len()
                - 4;
            let v0_len = encode_assignment(ConnectProtocol::Eager, &a).unwrap().len();
            let delay_start = bytes.len() - 4;
            [before_array, v0_len, delay_start]
        };
        for cut in 0..bytes.len() {
            let r = decode_assignment(&bytes[..cut]);
            if boundaries.contains(&cut) {
                assert!(r.is_ok(), "cut at optional boundary {cut}");
            } else {
                assert!(
                    matches!(r, Err(ProtocolError::Truncated { .. })),
                    "cut {cut}: {r:?}"
                );
            }
        }
        let m = WorkerMetadata {
            url: "http://x".into(),
            config_offset: 9,
            allocation: Some(a),
        };
        let mb = encode_metadata(ConnectProtocol::Compatible, &m).unwrap();
        let v0_len = encode_metadata(ConnectProtocol::Eager, &m).unwrap().len();
        for cut in 0..mb.len() {
            let r = decode_metadata(&mb[..cut]);
            if cut == v0_len {
                assert_eq!(r.unwrap().allocation, None);
            } else {
                assert!(r.is_err(), "cut {cut}");
            }
        }
        assert_eq!(
            decode_metadata(&[0xff, 0xff, 0, 0]),
            Err(ProtocolError::UnsupportedVersion(-1))
        );
        // An absurd array count is reported as truncation, not allocated.
        let mut huge = vec![0, 1, 0, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decode_assignment(&huge),
            Err(ProtocolError::Truncated {
                field: "assignment",
                ..
            })
        ));
        // Negative task ids other than -1 are rejected.
        let mut bad = vec![0, 1, 0, 0, 0, 0, 0, 0];
        bad.extend_from_slice(&[0; 8]);
        bad.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
        assert!(matches!(
            decode_assignment(&bad),
            Err(ProtocolError::InvalidTaskId { task: -2, .. })
        ));
        let long = WorkerMetadata {
            url: "x".repeat(40_000),
            config_offset: 0,
            allocation: None,
        };
        assert!(matches!(
            encode_metadata(ConnectProtocol::Eager, &long),
            Err(ProtocolError::StringTooLong { .. })
        ));
    }

    #[test]
    fn join_protocols_and_apply() {
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 1,
            allocation: None,
        };
        let ps = join_protocols(ConnectProtocol::Sessioned, &m).unwrap();
        let names: Vec<_> = ps.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["sessioned", "compatible", "default"]);
        assert_eq!(ps[0].1[1], 2);
        assert_eq!(ps[1].1[1], 1);
        assert_eq!(ps[2].1[1], 0);

        let prev = Assignment {
            connectors: set(&["a".to_string(), "b".to_string()]),
            tasks: set(&[TaskId::new("a", 0), TaskId::new("a", 1)]),
            ..Assignment::default()
        };
        let recv = Assignment {
            connectors: set(&["c".to_string()]),
            revoked_connectors: set(&["b".to_string()]),
            revoked_tasks: set(&[TaskId::new("a", 1)]),
            ..Assignment::default()
        };
        let next = apply_assignment(ConnectProtocol::Compatible, Some(&prev), &recv);
        assert_eq!(next.connectors, set(&["a".to_string(), "c".to_string()]));
        assert_eq!(next.tasks, set(&[TaskId::new("a", 0)]));
        let eager = apply_assignment(ConnectProtocol::Eager, Some(&prev), &recv);
        assert_eq!(eager.connectors, set(&["c".to_string()]));
    }
}
