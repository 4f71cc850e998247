use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SinkOffsets, SinkTask, SinkTaskContext,
    TaskInstance,
};
use crate::builtin::append_file::AppendFile;
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::Value;
use crate::error::{ConnectError, ConnectResult};
use crate::record::SinkRecord;

use super::{numbered_task_configs, task_id, SINK_FILE_CONFIG};

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        SINK_FILE_CONFIG,
        ConfigType::String,
        None,
        Some(Validator::NonEmptyString),
        Importance::High,
        "The base path of the output files: sink task N appends a line '<source task id> \
         <seqno>' per record to '<path>.N'",
    )
}

/// The file sink task `id` appends to when the connector's base path is `base`.
pub(crate) fn sink_file_path(base: &Path, id: u32) -> PathBuf {
    let mut s = base.as_os_str().to_os_string();
    s.push(format!(".{id}"));
    PathBuf::from(s)
}

/// Records what it consumes from the Verifiable source's topics. See [`VerifiableSinkTask`].
#[derive(Debug, Default)]
pub struct VerifiableSinkConnector {
    props: Props,
}

impl VerifiableSinkConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connector for VerifiableSinkConnector {
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

    /// Exactly `max_tasks` configs, the `n`th with `id` = `n`.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(numbered_task_configs(&self.props, max_tasks))
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Sink(Box::new(VerifiableSinkTask::new()))
    }
}

/// Appends `<source task id> <seqno>` for each record to `<verifiable.sink.file>.<id>`, where
/// `id` is the task config's `id` (else the context's task id). The key must be an integer
/// source task id and the value an integer seqno, both non-negative, of any integer type (so
/// schemaless JSON's INT64 works); any other record fails the batch with a data error naming
/// it. Lines reach the OS on `flush` and `stop`: records put after the last flush may be
/// written again after a restart, which [`super::count_verifiable_output`] counts as
/// duplicates.
#[derive(Default)]
pub struct VerifiableSinkTask {
    out: Option<AppendFile>,
    path: Option<PathBuf>,
}

impl VerifiableSinkTask {
    /// A task with no config yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file this task appends to, once started.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

fn non_negative_integer(v: &Value) -> Option<u64> {
    match v {
        Value::Int8(n) => u64::try_from(*n).ok(),
        Value::Int16(n) => u64::try_from(*n).ok(),
        Value::Int32(n) => u64::try_from(*n).ok(),
        Value::Int64(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The (source task id, seqno) a record carries.
fn task_and_seqno(record: &SinkRecord) -> ConnectResult<(u32, u64)> {
    let task = non_negative_integer(&record.key).and_then(|t| u32::try_from(t).ok());
    match (task, non_negative_integer(&record.value)) {
        (Some(task), Some(seqno)) => Ok((task, seqno)),
        _ => {
            let mut shown = format!("key {:?}, value {:?}", record.key, record.value);
            if shown.len() > 200 {
                let mut cut = 200;
                while !shown.is_char_boundary(cut) {
                    cut -= 1;
                }
                shown.truncate(cut);
                shown.push('…');
            }
            Err(ConnectError::data(format!(
                "VerifiableSinkTask expects a non-negative integer key (source task id) and \
                 value (seqno); record {}-{} at offset {} has {shown}",
                record.topic, record.partition, record.offset
            )))
        }
    }
}

#[async_trait]
impl SinkTask for VerifiableSinkTask {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        let id = task_id(props, ctx.task_id)?;
        let path = sink_file_path(Path::new(&config.string(SINK_FILE_CONFIG)?), id);
        self.out = Some(AppendFile::open(&path, "VerifiableSinkTask").await?);
        self.path = Some(path);
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        // Check the whole batch first so that a bad record leaves nothing of it written.
        let lines = records
            .iter()
            .map(task_and_seqno)
            .collect::<ConnectResult<Vec<_>>>()?;
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| ConnectError::other("VerifiableSinkTask is not started"))?;
        for (task, seqno) in lines {
            // Writing to a Vec cannot fail.
            let _ = write!(out.line_buffer(), "{task} {seqno}");
            out.end_line().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        match self.out.as_mut() {
            Some(out) => Ok(out.flush().await?),
            None => Err(ConnectError::other("VerifiableSinkTask is not started")),
        }
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
    use crate::builtin::testutil::props;
    use crate::record::TimestampType;

    fn record(offset: i64, key: Value, value: Value) -> SinkRecord {
        SinkRecord {
            topic: "seq".into(),
            partition: 1,
            offset,
            timestamp: None,
            timestamp_type: TimestampType::CreateTime,
            key_schema: None,
            key,
            value_schema: None,
            value,
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn appends_task_and_seqno_lines_to_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("verified");
        let p = props(&[
            ("verifiable.sink.file", base.to_str().unwrap()),
            ("id", "2"),
        ]);
        let mut task = VerifiableSinkTask::new();
        task.start(SinkTaskContext::new(7), &p).await.unwrap();
        let path = dir.path().join("verified.2");
        assert_eq!(task.path(), Some(path.as_path()));
        task.put(&[
            record(0, Value::Int32(0), Value::Int64(0)),
            record(1, Value::Int32(0), Value::Int64(1)),
            // Schemaless JSON gives INT64 keys.
            record(2, Value::Int64(1), Value::Int64(0)),
            record(3, Value::Int8(1), Value::Int32(1)),
        ])
        .await
        .unwrap();
        task.flush(&SinkOffsets::new()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0 0\n0 1\n1 0\n1 1\n"
        );
        task.put(&[record(4, Value::Int32(0), Value::Int64(2))])
            .await
            .unwrap();
        task.stop().await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0 0\n0 1\n1 0\n1 1\n0 2\n"
        );
    }

    #[tokio::test]
    async fn a_record_that_is_not_a_seqno_fails_the_batch_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("verified");
        let p = props(&[("verifiable.sink.file", base.to_str().unwrap())]);
        let mut task = VerifiableSinkTask::new();
        task.start(SinkTaskContext::new(0), &p).await.unwrap();
        let bad_batches = [
            record(8, Value::String("0".into()), Value::Int64(1)),
            record(8, Value::Int32(-1), Value::Int64(1)),
            record(8, Value::Int32(0), Value::Null),
        ];
        for bad in bad_batches {
            let batch = vec![record(7, Value::Int32(0), Value::Int64(0)), bad];
            let err = task.put(&batch).await.unwrap_err();
            assert!(
                matches!(&err, ConnectError::Data(m) if m.contains("seq-1 at offset 8")),
                "{err}"
            );
        }
        task.stop().await.unwrap();
        // The file of context task 0, with nothing of the failed batches in it.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("verified.0")).unwrap(),
            ""
        );
    }

    #[test]
    fn sink_file_path_appends_the_task_id() {
        assert_eq!(
            sink_file_path(Path::new("/tmp/a.out"), 12),
            PathBuf::from("/tmp/a.out.12")
        );
    }
}
