use std::path::PathBuf;

use async_trait::async_trait;

use crate::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SinkOffsets, SinkTask, SinkTaskContext,
    TaskInstance,
};
use crate::builtin::append_file::{AppendFile, WriterFactory};
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::Value;
use crate::error::{ConnectError, ConnectResult};
use crate::record::SinkRecord;

use super::FILE_CONFIG;

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        FILE_CONFIG,
        ConfigType::String,
        None,
        Some(Validator::NonEmptyString),
        Importance::High,
        "Destination filename. Each record's value is appended to it as one line.",
    )
}

/// Appends each record's value to a file, one line per record. Unlike Kafka's, `file` is
/// required (there is no stdout mode). Every task appends to the same file, whole lines at a
/// time.
#[derive(Debug, Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

impl FileStreamSinkConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connector for FileStreamSinkConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sink
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Sink(Box::new(FileStreamSinkTask::new()))
    }
}

/// Writes each record's value as one line, rendered as Java's `String.valueOf` would (see
/// [`Value::to_java_string`]): strings as they are, `null` for a null value, `2.0` for a
/// FLOAT64, `Struct{a=1}` for a struct (BYTES, which Java prints as an object identity, are
/// written in base64). Each `put`'s lines are handed to the OS (no fsync) before `put`
/// returns, in writes of up to 64 KiB, so the file shows what was delivered at once, as Java's
/// task (an unbuffered `PrintStream`) does, not only at the next offset commit, which is
/// `offset.flush.interval.ms` (60 s by default) away. `flush` makes them count as committed
/// (see `AppendFile`).
///
/// The file never keeps a partial line: a write that fails part-way (a full disk) cuts the file
/// back to the last flushed line and fails the task, whose restart gets the records after the
/// last commit again; a partial last line found at start is cut away (see `AppendFile`).
#[derive(Default)]
pub struct FileStreamSinkTask {
    out: Option<AppendFile>,
    /// Tests: what appends go through instead of the file itself.
    wrap: Option<WriterFactory>,
}

impl FileStreamSinkTask {
    /// A task with no config yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A task whose appends go through the writer `wrap` makes of the file.
    #[cfg(test)]
    pub(crate) fn with_writer(wrap: WriterFactory) -> Self {
        FileStreamSinkTask {
            out: None,
            wrap: Some(wrap),
        }
    }

    fn out(&mut self) -> ConnectResult<&mut AppendFile> {
        self.out
            .as_mut()
            .ok_or_else(|| ConnectError::other("FileStreamSinkTask is not started"))
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, _ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        let path = PathBuf::from(config.string(FILE_CONFIG)?);
        let who = "FileStreamSinkTask";
        self.out = Some(AppendFile::open_with(&path, who, self.wrap.clone()).await?);
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        let out = self.out()?;
        for record in records {
            let line = out.line_buffer();
            match &record.value {
                Value::String(s) => line.extend_from_slice(s.as_bytes()),
                other => line.extend_from_slice(other.to_java_string().as_bytes()),
            }
            // Awaited only when a write is due (every 64 KiB), not once per line.
            if out.finish_line() {
                out.write_gathered().await?;
            }
        }
        // One write per `put` at most: a reader of the file sees the records now.
        Ok(out.write_gathered().await?)
    }

    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        Ok(self.out()?.flush().await?)
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        if let Some(mut out) = self.out.take() {
            out.flush().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::append_file::testing::full_disk_after;
    use crate::builtin::testutil::props;
    use crate::data::{Schema, SchemaBuilder, Struct};
    use crate::record::TimestampType;

    fn record(offset: i64, value: Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp: None,
            timestamp_type: TimestampType::NoTimestampType,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn writes_one_line_per_value_and_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "kept\n").unwrap();
        let mut task = FileStreamSinkTask::new();
        let p = props(&[("file", path.to_str().unwrap())]);
        task.start(SinkTaskContext::new(0), &p).await.unwrap();

        let schema = SchemaBuilder::struct_().field("n", Schema::int32()).build();
        task.put(&[
            record(0, Value::String("hello world".into())),
            record(1, Value::Int32(42)),
            record(2, Value::Null),
            record(3, Value::Float64(2.0)),
            record(
                4,
                Value::Struct(Struct {
                    schema,
                    values: vec![Value::Int32(1)],
                }),
            ),
        ])
        .await
        .unwrap();
        task.flush(&SinkOffsets::new()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "kept\nhello world\n42\nnull\n2.0\nStruct{n=1}\n"
        );

        // A line `put` wrote without a `flush` after it stays after `stop`.
        task.put(&[record(5, Value::Boolean(true))]).await.unwrap();
        task.stop().await.unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("Struct{n=1}\ntrue\n"));
    }

    /// A user watching the file sees delivered records before the next offset commit (60 s
    /// away by default), as with Java's task.
    #[tokio::test]
    async fn lines_are_in_the_file_when_put_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = FileStreamSinkTask::new();
        let p = props(&[("file", path.to_str().unwrap())]);
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        task.put(&[
            record(0, Value::String("a".into())),
            record(1, Value::String("b".into())),
        ])
        .await
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        task.put(&[record(2, Value::Int64(3))]).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n3\n");
    }

    #[tokio::test]
    async fn many_records_arrive_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = FileStreamSinkTask::new();
        let p = props(&[("file", path.to_str().unwrap())]);
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        let n = 50_000;
        for chunk in (0..n).collect::<Vec<i64>>().chunks(999) {
            let batch: Vec<_> = chunk
                .iter()
                .map(|&i| record(i, Value::String(format!("line {i}"))))
                .collect();
            task.put(&batch).await.unwrap();
        }
        task.flush(&SinkOffsets::new()).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), n as usize);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("line {i}")));
    }

    fn line(i: i64) -> String {
        format!("line-{i:07}")
    }

    fn expected_lines(range: std::ops::Range<i64>) -> String {
        range.map(|i| line(i) + "\n").collect()
    }

    /// Feeds records `from..to` as the runtime does: `put` in batches of 500, `pre_commit`
    /// every 10,000 records and at the end. Returns the last committed next offset and how the
    /// run ended.
    async fn run(task: &mut FileStreamSinkTask, from: i64, to: i64) -> (i64, ConnectResult<()>) {
        let tp = crate::record::TopicPartition::new("t", 0);
        let mut committed = from;
        let mut next = from;
        while next < to {
            let end = (next + 500).min(to);
            let batch: Vec<_> = (next..end)
                .map(|i| record(i, Value::String(line(i))))
                .collect();
            if let Err(e) = task.put(&batch).await {
                return (committed, Err(e));
            }
            next = end;
            if (next - from) % 10_000 == 0 || next == to {
                let offered = SinkOffsets::from([(tp.clone(), next)]);
                match task.pre_commit(offered).await {
                    Ok(safe) => committed = safe[&tp],
                    Err(e) => return (committed, Err(e)),
                }
            }
        }
        (committed, Ok(()))
    }

    #[tokio::test]
    async fn a_write_failing_part_way_leaves_whole_lines_and_redelivery_writes_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let p = props(&[("file", path.to_str().unwrap())]);
        // Lines are 13 bytes: the disk takes the first commit's 10,000 lines, then fills up in
        // the middle of the second 64 KiB write of the next 10,000, inside a `put`.
        let mut task = FileStreamSinkTask::with_writer(full_disk_after(130_000 + 70_000));
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        let (committed, ended) = run(&mut task, 0, 20_000).await;
        let err = ended.unwrap_err().to_string();
        assert!(err.contains("No space left on device"), "{err}");
        assert_eq!(committed, 10_000);
        // Only whole lines, and only those committed: the rest is redelivered.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected_lines(0..10_000)
        );
        // A stop after the failure writes nothing (its flush would confirm lost lines).
        assert!(task.stop().await.is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected_lines(0..10_000)
        );

        // Space is back; the restarted task gets everything after the committed offset again.
        let mut task = FileStreamSinkTask::new();
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        let (committed, ended) = run(&mut task, committed, 20_000).await;
        ended.unwrap();
        assert_eq!(committed, 20_000);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected_lines(0..20_000)
        );
    }

    #[tokio::test]
    async fn a_partial_last_line_is_cut_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        // What a task killed in the middle of a write leaves behind.
        std::fs::write(&path, "line-0000000\nline-00").unwrap();
        let mut task = FileStreamSinkTask::new();
        let p = props(&[("file", path.to_str().unwrap())]);
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        let (_, ended) = run(&mut task, 1, 3).await;
        ended.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected_lines(0..3)
        );
    }

    #[tokio::test]
    async fn start_fails_on_an_unwritable_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("out.txt");
        let mut task = FileStreamSinkTask::new();
        let p = props(&[("file", path.to_str().unwrap())]);
        let err = task.start(SinkTaskContext::new(0), &p).await.unwrap_err();
        assert!(
            err.to_string().contains("Couldn't find or create file"),
            "{err}"
        );
    }

    #[test]
    fn connector_requires_file_and_copies_config_per_task() {
        let c = FileStreamSinkConnector::new();
        let v = c.validate(&Props::new());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "file");
        assert_eq!(v[0].errors.len(), 1);
        let mut c = FileStreamSinkConnector::new();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let p = props(&[("file", "/tmp/out"), ("topics", "a")]);
        c.start(ConnectorContext::new(tx), &p).unwrap();
        assert_eq!(c.task_configs(3).unwrap(), vec![p.clone(), p.clone(), p]);
        assert!(matches!(c.new_task(), TaskInstance::Sink(_)));
    }
}
