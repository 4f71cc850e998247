use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::api::{
    Connector, ConnectorContext, ConnectorKind, ExactlyOnceSupport, Props, SourceTask,
    SourceTaskContext, TaskInstance,
};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::data::{Schema, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::record::{
    BatchRecord, OffsetMap, Polled, SourceBatch, SourcePartition, SourceRecord, Topic,
};

use super::{
    DEFAULT_TASK_BATCH_SIZE, FILENAME_FIELD, FILE_CONFIG, POSITION_FIELD, TASK_BATCH_SIZE_CONFIG,
    TOPIC_CONFIG,
};

/// How long `poll` waits before returning an empty batch at the end of the input.
const EOF_BACKOFF: Duration = Duration::from_millis(100);
/// How long `poll` waits before returning an empty batch while the file does not exist.
const MISSING_FILE_BACKOFF: Duration = Duration::from_millis(500);
/// How long `poll` waits on stdin, which may block, before returning what it has.
const STDIN_READ_TIMEOUT: Duration = Duration::from_millis(500);
/// The most bytes one read asks for.
const READ_CHUNK: usize = 256 * 1024;

/// Why a file source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    #[error("cannot make the path of file {file} absolute: {source}")]
    Resolve {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than the committed position: it was truncated or replaced, or the
    /// position belongs to another file of the same name. Resuming anywhere would be a guess.
    #[error(
        "the committed position {position} of file {file} is past the file's end (it is {length} \
         bytes long): the file was truncated or replaced since that position was committed, or \
         the position belongs to another file of that name. kconnect does not guess where to \
         resume. To read the file from its start, stop the connector and reset its offsets \
         (`kconnect ctl stop <connector>`, then `kconnect ctl offsets reset <connector>`; over \
         REST `PUT /connectors/<connector>/stop`, then `DELETE /connectors/<connector>/offsets`), \
         or set another position with `kconnect ctl offsets alter` (`PATCH \
         /connectors/<connector>/offsets`); in standalone mode you may instead edit or remove \
         this file's entry in the worker's offset.storage.file.filename while the worker is \
         stopped"
    )]
    PositionPastEnd {
        file: String,
        position: u64,
        length: u64,
    },
}

impl From<FileSourceError> for ConnectError {
    fn from(e: FileSourceError) -> Self {
        ConnectError::other(e.to_string())
    }
}

/// The path a source file's offsets are kept under: the canonical path (symlinks, `.` and `..`
/// resolved) when the file exists, else the path made absolute against the current directory.
/// An absolute key means two checkouts, or two working directories, that configure the same
/// relative `file` never resume at each other's position.
pub fn absolute_filename(file: &str) -> Result<String, FileSourceError> {
    let resolve = |source| FileSourceError::Resolve {
        file: file.to_string(),
        source,
    };
    if let Ok(canonical) = std::fs::canonicalize(file) {
        // A key must survive the JSON round trip; a non-UTF-8 target keeps the plain spelling.
        if let Some(c) = canonical.to_str() {
            return Ok(c.to_string());
        }
    }
    lexically_absolute(file).map_err(resolve)
}

/// `file` made absolute against the current directory, symlinks left alone.
fn lexically_absolute(file: &str) -> std::io::Result<String> {
    let abs: PathBuf = std::path::absolute(Path::new(file))?;
    Ok(abs.to_string_lossy().into_owned())
}

/// The partitions a committed position of the configured `file`, keyed as `key`, may be stored
/// under, most recent spelling first: `key` itself; the plain absolute path (the key a task
/// that started before the file existed used); the path as configured (the key of Kafka
/// Connect and of older kconnect versions, still honoured so that their positions survive an
/// upgrade).
fn candidate_partitions(file: &str, key: &str) -> Vec<OffsetMap> {
    let mut names = vec![key.to_string()];
    if let Ok(abs) = lexically_absolute(file) {
        names.push(abs);
    }
    names.push(file.to_string());
    let mut partitions: Vec<OffsetMap> = Vec::new();
    for name in names {
        let p = FileStreamSourceTask::source_partition(Some(&name));
        if !partitions.contains(&p) {
            partitions.push(p);
        }
    }
    partitions
}

fn config_def() -> ConfigDef {
    let single_topic = Validator::custom("a single, non-empty topic name", |v| match v {
        ParsedValue::String(s) if s.is_empty() => Err("String must be non-empty".into()),
        ParsedValue::String(s) if s.contains(',') => Err(
            "FileStreamSourceConnector should only have a single topic when used as a source."
                .into(),
        ),
        _ => Ok(()),
    });
    ConfigDef::new()
        .define_optional(
            FILE_CONFIG,
            ConfigType::String,
            Importance::High,
            "Source filename. If not specified, the standard input will be used",
        )
        .define(
            TOPIC_CONFIG,
            ConfigType::String,
            None,
            Some(single_topic),
            Importance::High,
            "The topic to publish data to",
        )
        .define(
            TASK_BATCH_SIZE_CONFIG,
            ConfigType::Int,
            Some(&DEFAULT_TASK_BATCH_SIZE.to_string()),
            Some(Validator::at_least(1.0)),
            Importance::Low,
            "The maximum number of records the source task can read from the file in one poll",
        )
}

/// Reads lines from a file, or from stdin when `file` is absent or empty. One task only.
#[derive(Debug, Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

impl FileStreamSourceConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connector for FileStreamSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// Only one input stream makes sense: one task config, whatever `max_tasks`.
    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(FileStreamSourceTask::new()))
    }

    /// As Connect's: a file read from a position can be resumed exactly; stdin cannot.
    fn exactly_once_support(&self, props: &Props) -> Option<ExactlyOnceSupport> {
        Some(match props.get(FILE_CONFIG).filter(|f| !f.is_empty()) {
            Some(_) => ExactlyOnceSupport::Supported,
            None => ExactlyOnceSupport::Unsupported,
        })
    }

    /// Checks the offsets as Connect's `FileStreamSourceConnector.alterOffsets` does (with its
    /// messages): a file must be configured (stdin has no offsets); an offset is null or has a
    /// non-negative integer `position`; a partition with an offset has a `filename`. A null
    /// offset may reset any partition, so that garbage can be cleaned up.
    ///
    /// Then keys each partition by its file's absolute path, as the task does (a relative name
    /// is resolved against this worker's current directory, which in standalone mode is the
    /// task's), and removes the entries the task would also look at for that file (its plain
    /// absolute path, the name as written, the name as configured), so the task resumes at
    /// exactly the offset written here.
    fn alter_offsets(
        &self,
        props: &Props,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> ConnectResult<Vec<(OffsetMap, Option<OffsetMap>)>> {
        let Some(configured) = props.get(FILE_CONFIG).filter(|f| !f.is_empty()) else {
            return Err(ConnectError::other(format!(
                "Offsets cannot be modified if the '{FILE_CONFIG}' configuration is unspecified. \
                 This is because stdin is used for input and offsets are not tracked."
            )));
        };
        for (partition, offset) in &offsets {
            let Some(offset) = offset else { continue };
            match offset.get(POSITION_FIELD) {
                None => {
                    return Err(ConnectError::other(format!(
                        "Offset objects should either be null or contain the key \
                         '{POSITION_FIELD}'"
                    )))
                }
                Some(Json::Number(n)) if n.is_i64() || n.is_u64() => {
                    if n.as_i64().is_some_and(|p| p < 0) {
                        return Err(ConnectError::other(format!(
                            "The value for the '{POSITION_FIELD}' key in the offset should be a \
                             non-negative value"
                        )));
                    }
                }
                Some(_) => {
                    return Err(ConnectError::other(format!(
                        "The value for the '{POSITION_FIELD}' key in the offset is expected to \
                         be a Long value"
                    )))
                }
            }
            if !partition.contains_key(FILENAME_FIELD) {
                return Err(ConnectError::other(format!(
                    "Partition objects should contain the key '{FILENAME_FIELD}'"
                )));
            }
        }
        let configured_key = absolute_filename(configured)?;
        let mut writes: Vec<(OffsetMap, Option<OffsetMap>)> = Vec::new();
        let mut stale: Vec<OffsetMap> = Vec::new();
        for (mut partition, offset) in offsets {
            // Only a file name can be keyed as the task keys it; anything else is written as
            // given (a reset of a partition that was never this connector's).
            if let Some(Json::String(name)) = partition.get(FILENAME_FIELD).cloned() {
                let key = absolute_filename(&name)?;
                stale.extend(candidate_partitions(&name, &key));
                if configured_key == key {
                    stale.extend(candidate_partitions(configured, &key));
                }
                partition.insert(FILENAME_FIELD.into(), Json::String(key));
            }
            writes.push((partition, offset));
        }
        for p in stale {
            if !writes.iter().any(|(w, _)| *w == p) {
                writes.push((p, None));
            }
        }
        Ok(writes)
    }
}

type Input = Box<dyn AsyncRead + Send + Unpin>;

/// Emits each line of the file as a STRING record, tailing the file for appended lines.
///
/// A line ends at `\n`, `\r\n` or a lone `\r` (as Kafka's task does); a last line without a
/// terminator is held back until its terminator arrives. Each record's source offset is the
/// byte position just past its terminator, so a restarted task seeks there and resumes with
/// the next line. Invalid UTF-8 is replaced with U+FFFD.
///
/// Its source partition is `{"filename": <absolute path>}` (see `absolute_filename`); at
/// start it also looks up Connect's key, the path as configured. A committed position past the
/// file's end fails the task (`FileSourceError::PositionPastEnd`).
pub struct FileStreamSourceTask {
    /// The file as configured; `None`: stdin.
    filename: Option<String>,
    /// The absolute path the file's offsets are kept under (see `absolute_filename`).
    key: Option<String>,
    /// Made once at start; every batch shares it.
    topic: Topic,
    batch_size: usize,
    /// Made once at start; every batch shares it.
    partition: SourcePartition,
    /// The committed position to seek to when the file is opened.
    start_position: u64,
    input: Option<Input>,
    /// The byte position just past the last emitted line; `None` on stdin, as in Kafka.
    position: Option<u64>,
    /// Bytes read but not yet emitted as lines.
    buf: Vec<u8>,
    /// Records the runtime handed back after sending them ([`SourceTask::recycle`]), for the
    /// next batch.
    spare: Vec<BatchRecord>,
    warned_missing: bool,
}

impl Default for FileStreamSourceTask {
    fn default() -> Self {
        FileStreamSourceTask {
            filename: None,
            key: None,
            topic: Topic::from(""),
            batch_size: DEFAULT_TASK_BATCH_SIZE as usize,
            partition: SourcePartition::new(OffsetMap::new()),
            start_position: 0,
            input: None,
            position: None,
            buf: Vec::new(),
            spare: Vec::new(),
            warned_missing: false,
        }
    }
}

impl FileStreamSourceTask {
    /// A task with no config yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The source partition of records read from `filename` (`None`: stdin).
    pub fn source_partition(filename: Option<&str>) -> OffsetMap {
        let mut m = OffsetMap::new();
        m.insert(
            FILENAME_FIELD.into(),
            filename.map_or(Json::Null, |f| Json::String(f.to_string())),
        );
        m
    }

    fn name(&self) -> &str {
        self.key.as_deref().unwrap_or("stdin")
    }

    /// Opens the file and seeks to the committed position. `false`: it does not exist yet.
    async fn open(&mut self) -> ConnectResult<bool> {
        let Some(filename) = self.filename.clone() else {
            self.input = Some(Box::new(tokio::io::stdin()));
            self.position = None;
            return Ok(true);
        };
        let mut file = match tokio::fs::File::open(&filename).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::warn!(
                        "Couldn't find file {filename} for FileStreamSourceTask, \
                         waiting for it to be created"
                    );
                    self.warned_missing = true;
                }
                return Ok(false);
            }
            Err(e) => {
                return Err(ConnectError::other(format!(
                    "Couldn't open file {filename} for FileStreamSourceTask: {e}"
                )))
            }
        };
        if self.start_position > 0 {
            let length = file.metadata().await?.len();
            if length < self.start_position {
                // Waiting for the file to grow would silently skip whatever is written up to
                // that position, and would hang forever on a file that was replaced.
                return Err(FileSourceError::PositionPastEnd {
                    file: self.name().to_string(),
                    position: self.start_position,
                    length,
                }
                .into());
            }
            file.seek(std::io::SeekFrom::Start(self.start_position))
                .await?;
            tracing::debug!("Skipped to offset {} in {filename}", self.start_position);
        }
        self.position = Some(self.start_position);
        self.input = Some(Box::new(file));
        tracing::debug!("Opened {filename} for reading");
        Ok(true)
    }

    /// Hands every complete line of `buf` to `emit` with the position just past it, until
    /// `emitted` reaches the batch size; answers how many lines there are now.
    fn extract_lines(
        &mut self,
        mut emitted: usize,
        mut emit: impl FnMut(&str, Option<u64>),
    ) -> usize {
        let mut head = 0;
        while emitted < self.batch_size {
            let rest = &self.buf[head..];
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                break;
            };
            let next = if rest[end] == b'\n' {
                end + 1
            } else if end + 1 < rest.len() {
                if rest[end + 1] == b'\n' {
                    end + 2
                } else {
                    end + 1
                }
            } else {
                // A `\r` ends the data read so far: wait to see whether `\n` follows.
                break;
            };
            // Lent to `emit`, which copies it where it wants it: a batch into the strings of
            // records the runtime handed back, so no line costs an allocation.
            let line = match crate::utf8::from_utf8(&rest[..end]) {
                Some(valid) => std::borrow::Cow::Borrowed(valid),
                // Only a line with invalid UTF-8 takes the slower, replacing decoder.
                None => String::from_utf8_lossy(&rest[..end]),
            };
            head += next;
            self.position = self.position.map(|p| p + next as u64);
            emit(&line, self.position);
            emitted += 1;
        }
        self.buf.drain(..head);
        emitted
    }

    /// Reads up to a batch of lines, handing each to `emit`; `false`: the input is not there
    /// yet (after a back-off, as at the end of the input when no line came).
    async fn read_lines(&mut self, mut emit: impl FnMut(&str, Option<u64>)) -> ConnectResult<bool> {
        if self.input.is_none() && !self.open().await? {
            tokio::time::sleep(MISSING_FILE_BACKOFF).await;
            return Ok(false);
        }
        let mut emitted = self.extract_lines(0, &mut emit);
        while emitted < self.batch_size {
            if self.read_chunk().await? == 0 {
                break;
            }
            emitted = self.extract_lines(emitted, &mut emit);
        }
        if emitted == 0 {
            // At the end of the input: back off, then look for appended lines on the next poll.
            tokio::time::sleep(EOF_BACKOFF).await;
        }
        Ok(true)
    }

    /// A source offset: `{"position": <byte after the line>}` (null on stdin).
    fn offset(position: Option<u64>) -> OffsetMap {
        let mut offset = OffsetMap::new();
        offset.insert(
            POSITION_FIELD.into(),
            position.map_or(Json::Null, Json::from),
        );
        offset
    }

    /// Reads the next chunk; `Ok(0)` at the end of the input (or, on stdin, when nothing came).
    async fn read_chunk(&mut self) -> ConnectResult<usize> {
        let input = self.input.as_mut().expect("input is open");
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        let read = input.read_buf(&mut self.buf);
        let result = if self.filename.is_none() {
            match tokio::time::timeout(STDIN_READ_TIMEOUT, read).await {
                Ok(r) => r,
                Err(_) => return Ok(0),
            }
        } else {
            read.await
        };
        result.map_err(|e| ConnectError::other(format!("Error reading {}: {e}", self.name())))
    }
}

/// Makes `r`, a record of an earlier batch, the record of `line`, reusing its value's string
/// when it still is one (a transform may have changed it).
fn reuse(r: &mut BatchRecord, schema: &Schema, line: &str, timestamp: i64) {
    match &mut r.value {
        Value::String(s) => {
            s.clear();
            s.push_str(line);
        }
        other => *other = Value::String(line.into()),
    }
    r.kafka_partition = None;
    r.key_schema = None;
    r.key = Value::Null;
    r.value_schema = Some(schema.clone());
    r.timestamp = Some(timestamp);
    r.headers.clear();
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The byte position a committed offset holds; 0 when there is none.
fn committed_position(offset: Option<&OffsetMap>) -> ConnectResult<u64> {
    match offset.and_then(|o| o.get(POSITION_FIELD)) {
        None | Some(Json::Null) => Ok(0),
        Some(Json::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        Some(other) => Err(ConnectError::other(format!(
            "Offset position is the incorrect type: expected a non-negative integer, got {other}"
        ))),
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        self.filename = config.opt_string(FILE_CONFIG).filter(|f| !f.is_empty());
        self.batch_size = config.int(TASK_BATCH_SIZE_CONFIG)?.max(1) as usize;
        self.key = match &self.filename {
            Some(f) => Some(absolute_filename(f)?),
            None => None,
        };
        self.topic = Topic::from(config.string(TOPIC_CONFIG)?);
        self.partition = SourcePartition::new(Self::source_partition(self.key.as_deref()));
        self.start_position = match (&self.filename, &self.key) {
            (Some(file), Some(key)) => {
                let reader = ctx.offset_storage_reader();
                let found = candidate_partitions(file, key)
                    .into_iter()
                    .find_map(|p| reader.offset(&p).map(|o| (p, o)));
                let position = committed_position(found.as_ref().map(|(_, o)| o))?;
                if let Some((p, _)) = found.filter(|(p, _)| p != self.partition.map()) {
                    tracing::info!(
                        "Resuming {key} at position {position}, committed under {}; new \
                         positions are committed under the absolute path",
                        Json::Object(p)
                    );
                }
                position
            }
            // Tracking a position on stdin makes no sense.
            _ => 0,
        };
        self.input = None;
        self.buf.clear();
        Ok(())
    }

    /// Connect's per-record form, each line with its own position.
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let timestamp = now_ms();
        let (topic, partition) = (self.topic.to_string(), self.partition.map().clone());
        let mut records = Vec::new();
        self.read_lines(|line, position| {
            let mut record = SourceRecord::new(
                partition.clone(),
                Self::offset(position),
                topic.clone(),
                Some(Schema::string()),
                Value::String(line.to_owned()),
            );
            record.timestamp = Some(timestamp);
            records.push(record);
        })
        .await?;
        Ok(records)
    }

    /// What the runtime calls: one batch with the topic and partition made at start, and the
    /// position after its last line as its one offset.
    async fn poll_batches(&mut self) -> ConnectResult<Polled> {
        let timestamp = now_ms();
        let schema = Schema::string();
        // The records of an earlier batch, handed back by the runtime: each line is copied
        // into one of their strings, so a batch allocates nothing once the first was sent.
        let mut records = std::mem::take(&mut self.spare);
        let mut used = 0;
        self.read_lines(|line, _| {
            match records.get_mut(used) {
                Some(r) => reuse(r, &schema, line, timestamp),
                None => {
                    let mut r = BatchRecord::new(Some(schema.clone()), Value::String(line.into()));
                    r.timestamp = Some(timestamp);
                    records.push(r);
                }
            }
            used += 1;
        })
        .await?;
        if used == 0 {
            self.spare = records;
            return Ok(Polled::Batches(Vec::new()));
        }
        records.truncate(used);
        Ok(Polled::Batches(vec![SourceBatch {
            topic: self.topic.clone(),
            partition: self.partition.clone(),
            records,
            offset: Self::offset(self.position),
        }]))
    }

    /// Keeps the records for the next batch's lines.
    fn recycle(&mut self, records: Vec<BatchRecord>) {
        if records.capacity() > self.spare.capacity() {
            self.spare = records;
        }
    }

    /// Records of `poll_batches` need no callback, and `commit_record` does nothing here.
    fn wants_commit_record(&self) -> bool {
        false
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.input = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::builtin::testutil::{map, props, source_ctx};

    fn append(path: &Path, data: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(data).unwrap();
    }

    fn task_props(path: &Path, extra: &[(&str, &str)]) -> Props {
        let mut p = props(&[("file", path.to_str().unwrap()), ("topic", "lines")]);
        p.extend(props(extra));
        p
    }

    async fn started(p: &Props, offsets: Vec<(OffsetMap, OffsetMap)>) -> FileStreamSourceTask {
        let mut task = FileStreamSourceTask::new();
        task.start(source_ctx(0, offsets), p).await.unwrap();
        task
    }

    /// (line, position) of each record.
    fn lines(records: &[SourceRecord]) -> Vec<(String, u64)> {
        records
            .iter()
            .map(|r| {
                let Value::String(s) = &r.value else {
                    panic!("not a string: {:?}", r.value)
                };
                (s.clone(), r.source_offset["position"].as_u64().unwrap())
            })
            .collect()
    }

    fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, p)| (s.to_string(), *p)).collect()
    }

    #[tokio::test]
    async fn emits_each_terminated_line_with_its_end_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "a\nbb\r\nc\rdé\nhalf".as_bytes());
        let mut task = started(&task_props(&path, &[]), vec![]).await;

        let records = task.poll().await.unwrap();
        assert_eq!(
            lines(&records),
            owned(&[("a", 2), ("bb", 6), ("c", 8), ("dé", 12)])
        );
        let r = &records[0];
        assert_eq!(r.topic, "lines");
        assert_eq!(r.value_schema, Some(Schema::string()));
        assert_eq!(
            r.source_partition,
            map(json!({"filename": path.to_str().unwrap()}))
        );
        assert_eq!(r.key, Value::Null);
        assert!(r.timestamp.is_some());

        // The unterminated last line waits for its newline.
        assert!(task.poll().await.unwrap().is_empty());
        append(&path, b"way\n");
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            owned(&[("halfway", 20)])
        );
        task.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_trailing_carriage_return_waits_for_the_next_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"x\r");
        let mut task = started(&task_props(&path, &[]), vec![]).await;
        assert!(task.poll().await.unwrap().is_empty());
        // `\r\n` is one terminator: one line, positioned after both bytes.
        append(&path, b"\ny\rz");
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            owned(&[("x", 3), ("y", 5)])
        );
        append(&path, b"\n");
        assert_eq!(lines(&task.poll().await.unwrap()), owned(&[("z", 7)]));
    }

    #[tokio::test]
    async fn resumes_after_the_committed_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\ntwo\nthree\n");
        let partition = FileStreamSourceTask::source_partition(path.to_str());
        let committed = vec![(partition, map(json!({"position": 4})))];
        let mut task = started(&task_props(&path, &[]), committed).await;
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            owned(&[("two", 8), ("three", 14)])
        );
    }

    #[tokio::test]
    async fn an_offset_of_another_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\ntwo\n");
        let other = FileStreamSourceTask::source_partition(Some("/elsewhere"));
        let committed = vec![(other, map(json!({"position": 4})))];
        let mut task = started(&task_props(&path, &[]), committed).await;
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            owned(&[("one", 4), ("two", 8)])
        );
    }

    /// `abs` spelled relative to the current directory (tests must not change it: it is
    /// shared by every test thread).
    fn relative(abs: &Path) -> String {
        let depth = std::env::current_dir().unwrap().components().count() - 1;
        let below_root = abs.strip_prefix("/").unwrap().to_str().unwrap();
        format!("{}{below_root}", "../".repeat(depth))
    }

    fn partition_of(file: &str) -> OffsetMap {
        FileStreamSourceTask::source_partition(Some(file))
    }

    #[tokio::test]
    async fn a_relative_path_is_keyed_by_its_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\n");
        let canonical = std::fs::canonicalize(&path).unwrap();
        let rel = relative(&canonical);
        assert!(Path::new(&rel).is_relative());
        let p = props(&[("file", &rel), ("topic", "lines")]);
        let mut task = started(&p, vec![]).await;
        let records = task.poll().await.unwrap();
        assert_eq!(lines(&records), owned(&[("one", 4)]));
        assert_eq!(
            records[0].source_partition,
            partition_of(canonical.to_str().unwrap())
        );

        // A file that does not exist yet is keyed by its path made absolute.
        let later = relative(&canonical.with_file_name("later.txt"));
        let p = props(&[("file", &later), ("topic", "lines")]);
        let mut task = started(&p, vec![]).await;
        assert!(task.poll().await.unwrap().is_empty());
        append(&dir.path().join("later.txt"), b"x\n");
        let records = task.poll().await.unwrap();
        let key = records[0].source_partition["filename"].as_str().unwrap();
        assert!(Path::new(key).is_absolute(), "{key}");
        assert_eq!(
            std::fs::canonicalize(key).unwrap(),
            canonical.with_file_name("later.txt")
        );
    }

    #[tokio::test]
    async fn a_position_committed_under_the_relative_name_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\ntwo\nthree\n");
        let canonical = std::fs::canonicalize(&path).unwrap();
        let abs = canonical.to_str().unwrap();
        let rel = relative(&canonical);
        let p = props(&[("file", &rel), ("topic", "lines")]);

        // Written by Kafka Connect or an older kconnect: keyed by the name as configured.
        let legacy = vec![(partition_of(&rel), map(json!({"position": 4})))];
        let mut task = started(&p, legacy.clone()).await;
        let records = task.poll().await.unwrap();
        assert_eq!(lines(&records), owned(&[("two", 8), ("three", 14)]));
        // Committed from now on under the absolute path.
        assert_eq!(records[0].source_partition, partition_of(abs));

        // Once both exist, the absolute key is the newer one.
        let both = [
            legacy,
            vec![(partition_of(abs), map(json!({"position": 8})))],
        ]
        .concat();
        let mut task = started(&p, both).await;
        assert_eq!(lines(&task.poll().await.unwrap()), owned(&[("three", 14)]));
    }

    #[tokio::test]
    async fn a_position_past_the_end_of_the_file_fails_naming_the_way_to_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\n");
        let abs = std::fs::canonicalize(&path).unwrap();
        let abs = abs.to_str().unwrap();
        let committed = vec![(partition_of(abs), map(json!({"position": 100})))];
        let mut task = started(&task_props(&path, &[]), committed.clone()).await;
        let err = task.poll().await.unwrap_err().to_string();
        for part in [
            abs,
            "committed position 100",
            "4 bytes long",
            "kconnect ctl offsets reset <connector>",
            "DELETE /connectors/<connector>/offsets",
            "offset.storage.file.filename",
        ] {
            assert!(err.contains(part), "{part:?} missing from: {err}");
        }

        // The same when the file only appears later, shorter than the position.
        let later = dir.path().join("later.txt");
        let abs = std::path::absolute(&later).unwrap();
        let committed = vec![(
            partition_of(abs.to_str().unwrap()),
            map(json!({"position": 9})),
        )];
        let mut task = started(&task_props(&later, &[]), committed).await;
        assert!(task.poll().await.unwrap().is_empty());
        append(&later, b"x\n");
        let err = task.poll().await.unwrap_err().to_string();
        assert!(err.contains("committed position 9"), "{err}");
    }

    #[test]
    fn altered_offsets_are_keyed_by_absolute_path_and_shadowing_entries_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\n");
        let canonical = std::fs::canonicalize(&path).unwrap();
        let abs = canonical.to_str().unwrap();
        let rel = relative(&canonical);
        // The connector configures the file with another relative spelling.
        let configured = format!("./{rel}");
        let c = FileStreamSourceConnector::new();
        let p = props(&[("file", &configured), ("topic", "t")]);
        let pos = |n: u64| Some(map(json!({ "position": n })));

        // A relative name: stored under the canonical path; the entries a task would also
        // read (the plain absolute path, the name as written, the name as configured) go.
        let plain = std::path::absolute(&rel).unwrap();
        let plain = plain.to_str().unwrap();
        assert_ne!(plain, abs, "the plain absolute path keeps the `..`s");
        let got = c
            .alter_offsets(&p, vec![(partition_of(&rel), pos(4))])
            .unwrap();
        assert_eq!(
            got,
            vec![
                (partition_of(abs), pos(4)),
                (partition_of(plain), None),
                (partition_of(&rel), None),
                (partition_of(&configured), None),
            ]
        );
        // An absolute name stays; a reset of it also resets the other spellings.
        let got = c
            .alter_offsets(&p, vec![(partition_of(abs), None)])
            .unwrap();
        assert_eq!(
            got,
            vec![
                (partition_of(abs), None),
                (partition_of(plain), None),
                (partition_of(&configured), None),
            ]
        );
        // Another file's offset is stored as given (made absolute).
        let other = c
            .alter_offsets(&p, vec![(partition_of("/elsewhere/x"), pos(1))])
            .unwrap();
        assert_eq!(other, vec![(partition_of("/elsewhere/x"), pos(1))]);

        // What the task would refuse is refused here, with Connect's messages.
        let refused = |partition: serde_json::Value, offset: serde_json::Value| {
            c.alter_offsets(&p, vec![(map(partition), Some(map(offset)))])
                .unwrap_err()
                .to_string()
        };
        let file = json!({ "filename": abs });
        assert_eq!(
            refused(file.clone(), json!({"position": -1})),
            "The value for the 'position' key in the offset should be a non-negative value"
        );
        for not_long in [json!("4"), json!(1.5), json!(null), json!([1])] {
            assert_eq!(
                refused(file.clone(), json!({ "position": not_long })),
                "The value for the 'position' key in the offset is expected to be a Long value"
            );
        }
        assert_eq!(
            refused(file, json!({"offset": 1})),
            "Offset objects should either be null or contain the key 'position'"
        );
        assert_eq!(
            refused(json!({"file": abs}), json!({"position": 1})),
            "Partition objects should contain the key 'filename'"
        );
        // A reset may clean up any partition.
        let junk = map(json!({"file": abs}));
        assert_eq!(
            c.alter_offsets(&p, vec![(junk.clone(), None)]).unwrap(),
            vec![(junk, None)]
        );
        // Without a file the connector reads stdin, which has no offsets.
        let stdin = props(&[("topic", "t")]);
        let err = c
            .alter_offsets(&stdin, vec![(partition_of(abs), pos(1))])
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "Offsets cannot be modified if the 'file' configuration is unspecified."
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_offset_of_the_wrong_type_fails_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let partition = FileStreamSourceTask::source_partition(path.to_str());
        for bad in [json!({"position": "4"}), json!({"position": -1})] {
            let mut task = FileStreamSourceTask::new();
            let ctx = source_ctx(0, vec![(partition.clone(), map(bad.clone()))]);
            let err = task.start(ctx, &task_props(&path, &[])).await.unwrap_err();
            assert!(err.to_string().contains("incorrect type"), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn batch_size_caps_each_poll() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"1\n2\n3\n4\n5\n");
        let mut task = started(&task_props(&path, &[("batch.size", "2")]), vec![]).await;
        let sizes = [
            task.poll().await.unwrap(),
            task.poll().await.unwrap(),
            task.poll().await.unwrap(),
        ]
        .map(|b| b.len());
        assert_eq!(sizes, [2, 2, 1]);
        assert!(task.poll().await.unwrap().is_empty());
    }

    /// The runtime's form: one batch per poll sharing the topic and partition made at start
    /// (the same `Arc`s every time), the lines without offsets, and the position after the last
    /// line as the batch's offset, equal to the last per-record offset of `poll`.
    #[tokio::test]
    async fn batches_share_topic_and_partition_and_carry_the_last_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "a\nbb\r\nc\rdé\nhalf".as_bytes());
        let mut task = started(&task_props(&path, &[("batch.size", "3")]), vec![]).await;
        let batch = |p: Polled| match p {
            Polled::Batches(mut b) => {
                assert!(b.len() <= 1, "one batch per poll");
                b.pop()
            }
            Polled::Records(_) => panic!("the file source polls in batches"),
        };
        let first = batch(task.poll_batches().await.unwrap()).unwrap();
        let values: Vec<_> = first.records.iter().map(|r| r.value.clone()).collect();
        assert_eq!(
            values,
            ["a", "bb", "c"].map(|s| Value::String(s.into())).to_vec()
        );
        assert_eq!(first.offset, map(json!({"position": 8})));
        assert_eq!(first.topic.as_str(), "lines");
        assert_eq!(
            first.partition.map(),
            &map(json!({"filename": path.to_str().unwrap()}))
        );
        assert!(first.records.iter().all(|r| r.timestamp.is_some()
            && r.value_schema == Some(Schema::string())
            && r.key == Value::Null));

        let second = batch(task.poll_batches().await.unwrap()).unwrap();
        assert_eq!(second.records.len(), 1);
        assert_eq!(second.offset, map(json!({"position": 12})));
        // Shared, not rebuilt: the runtime compares them by pointer.
        assert!(std::ptr::eq(first.topic.as_str(), second.topic.as_str()));
        assert!(std::ptr::eq(first.partition.map(), second.partition.map()));
        // The unterminated last line waits; an empty poll is no batch at all.
        assert!(batch(task.poll_batches().await.unwrap()).is_none());
        assert!(!task.wants_commit_record());
    }

    /// Records handed back after a send carry the next lines, whatever a transform made of
    /// them: every field is the new line's, and a string still there is reused.
    #[tokio::test]
    async fn recycled_records_carry_the_next_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"one\ntwo\n");
        let mut task = started(&task_props(&path, &[("batch.size", "2")]), vec![]).await;
        let batch = |p: Polled| match p {
            Polled::Batches(mut b) => b.pop().unwrap(),
            Polled::Records(_) => panic!("the file source polls in batches"),
        };
        let mut first = batch(task.poll_batches().await.unwrap()).records;
        let Value::String(two) = &first[1].value else {
            panic!("not a string: {:?}", first[1].value)
        };
        let two_ptr = two.as_ptr();
        // What transforms might have left: a key, a header, a partition, another value.
        first[0].key = Value::Int32(7);
        first[0].key_schema = Some(Schema::int32());
        first[0].value = Value::Int64(1);
        first[0].kafka_partition = Some(3);
        first[0].headers.push(crate::record::Header {
            key: "h".into(),
            schema: None,
            value: Value::Null,
        });
        task.recycle(first);
        append(&path, b"three\nfour\n");
        let second = batch(task.poll_batches().await.unwrap());
        let fresh = |line: &str, r: &BatchRecord| BatchRecord {
            timestamp: r.timestamp,
            ..BatchRecord::new(Some(Schema::string()), Value::String(line.into()))
        };
        assert!(second.records[0].timestamp.is_some());
        assert_eq!(
            second.records,
            vec![
                fresh("three", &second.records[0]),
                fresh("four", &second.records[1])
            ]
        );
        assert_eq!(second.offset, map(json!({"position": 19})));
        let Value::String(four) = &second.records[1].value else {
            unreachable!()
        };
        assert_eq!(four.as_ptr(), two_ptr, "the recycled string holds the line");
        // One more line than records handed back: the batch grows.
        task.recycle(second.records[..1].to_vec());
        append(&path, b"five\n");
        let third = batch(task.poll_batches().await.unwrap());
        assert_eq!(third.records, vec![fresh("five", &third.records[0])]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_and_counted_in_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, b"ok\xffx\nfine\n");
        let mut task = started(&task_props(&path, &[]), vec![]).await;
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            owned(&[("ok\u{fffd}x", 5), ("fine", 10)])
        );
    }

    #[tokio::test]
    async fn waits_for_a_missing_file_to_appear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.txt");
        let mut task = started(&task_props(&path, &[]), vec![]).await;
        assert!(task.poll().await.unwrap().is_empty());
        append(&path, b"hello\n");
        assert_eq!(lines(&task.poll().await.unwrap()), owned(&[("hello", 6)]));
    }

    #[tokio::test]
    async fn reads_a_large_file_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for i in 0..60_000u64 {
            // Lengths vary so that lines and `\r\n` pairs straddle read boundaries.
            let line = format!("{i}-{}", "x".repeat((i % 37) as usize));
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            expected.push((line, data.len() as u64));
        }
        append(&path, &data);
        let mut task = started(&task_props(&path, &[]), vec![]).await;
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let batch = task.poll().await.unwrap();
            assert!(!batch.is_empty(), "stalled after {} lines", got.len());
            assert!(batch.len() <= DEFAULT_TASK_BATCH_SIZE as usize);
            got.extend(lines(&batch));
        }
        assert_eq!(got, expected);
        assert!(task.poll().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn connector_validates_topic_and_makes_one_task() {
        let c = FileStreamSourceConnector::new();
        let errors = |p: &Props| -> Vec<(String, Vec<String>)> {
            c.validate(p)
                .into_iter()
                .filter(|v| !v.errors.is_empty())
                .map(|v| (v.name, v.errors))
                .collect()
        };
        assert_eq!(
            errors(&props(&[("file", "/tmp/x")])),
            vec![(
                "topic".to_string(),
                vec![
                    "Missing required configuration \"topic\" which has no default value."
                        .to_string()
                ]
            )]
        );
        let two = errors(&props(&[("topic", "a,b")]));
        assert_eq!(two.len(), 1);
        assert!(two[0].1[0].contains("single topic"), "{two:?}");
        assert_eq!(
            errors(&props(&[("topic", "t"), ("batch.size", "0")]))[0].0,
            "batch.size"
        );
        assert!(errors(&props(&[("topic", "t")])).is_empty());

        let mut c = FileStreamSourceConnector::new();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let p = props(&[("file", "/tmp/x"), ("topic", "t")]);
        assert!(c
            .start(
                ConnectorContext::new(tx.clone()),
                &props(&[("topic", "a,b")])
            )
            .is_err());
        c.start(ConnectorContext::new(tx), &p).unwrap();
        assert_eq!(c.task_configs(5).unwrap(), vec![p]);
        assert!(matches!(c.new_task(), TaskInstance::Source(_)));
    }
}
