use std::path::PathBuf;

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
/// written in base64). Lines are buffered
/// and handed to the OS on `flush` (no fsync) and on `stop`.
#[derive(Default)]
pub struct FileStreamSinkTask {
    out: Option<AppendFile>,
}

impl FileStreamSinkTask {
    pub fn new() -> Self {
        Self::default()
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
        self.out = Some(AppendFile::open(&path, "FileStreamSinkTask").await?);
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let out = self.out()?;
        for record in &records {
            match &record.value {
                Value::String(s) => out.line_buffer().extend_from_slice(s.as_bytes()),
                other => out
                    .line_buffer()
                    .extend_from_slice(other.to_java_string().as_bytes()),
            }
            out.end_line().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &SinkOffsets) -> ConnectResult<()> {
        self.out()?.flush().await
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
        task.put(vec![
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

        // `stop` writes out what `put` buffered since the last flush.
        task.put(vec![record(5, Value::Boolean(true))])
            .await
            .unwrap();
        task.stop().await.unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("Struct{n=1}\ntrue\n"));
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
            let batch = chunk
                .iter()
                .map(|&i| record(i, Value::String(format!("line {i}"))))
                .collect();
            task.put(batch).await.unwrap();
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
