//! Kafka's Verifiable connectors, the yardstick of delivery tests.
//!
//! Each [`VerifiableSourceTask`] emits records keyed by its task id (INT32) whose value is an
//! increasing sequence number (INT64), resuming after the last committed seqno. Each
//! [`VerifiableSinkTask`] appends `<source task id> <seqno>` lines to a file of its own, and
//! [`count_verifiable_output`] reads those files back to count, per source task, what was lost
//! and what was delivered twice.

mod report;
mod sink;
mod source;

pub use report::{count_verifiable_output, verifiable_sink_files, TaskSeqnos, VerifiableReport};
pub use sink::{VerifiableSinkConnector, VerifiableSinkTask};
pub use source::{VerifiableSourceConnector, VerifiableSourceTask};

/// Task configs: the task's id, set by the connector (Kafka's `id`).
pub const ID_CONFIG: &str = "id";
/// Source: the topic to produce to.
pub const TOPIC_CONFIG: &str = "topic";
/// Source: records per second per task; negative means unlimited, 0 emits nothing.
pub const THROUGHPUT_CONFIG: &str = "throughput";
/// Source (kconnect's addition): the seqnos each task emits in all, across restarts; after
/// seqno `max.messages - 1` the task goes idle. Negative means unbounded.
pub const MAX_MESSAGES_CONFIG: &str = "max.messages";
/// Source (kconnect's addition; Connect's VerifiableSource never defines transaction
/// boundaries): with `transaction.boundary=connector`, each task commits its transaction after
/// every `n`th seqno (seqnos `n-1`, `2n-1`, …) and after its last one (`max.messages - 1`).
/// 0, the default, leaves the boundaries to the runtime, and `connector` fails validation.
pub const TRANSACTION_RECORDS_CONFIG: &str = "verifiable.transaction.records";
/// Sink (kconnect's addition): the base path of the output files; sink task `n` appends to
/// `<path>.<n>`.
pub const SINK_FILE_CONFIG: &str = "verifiable.sink.file";

/// The source partition key, `{"id": <task id>}`, as Kafka's task uses.
pub const ID_FIELD: &str = "id";
/// The source offset key, `{"seqno": <seqno>}`.
pub const SEQNO_FIELD: &str = "seqno";

/// The source connector's class name, as Kafka's.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.tools.VerifiableSourceConnector";
/// The sink connector's class name, as Kafka's.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.tools.VerifiableSinkConnector";

/// The task id a task config names, or the context's when the config has none.
fn task_id(props: &crate::api::Props, fallback: u32) -> crate::ConnectResult<u32> {
    match props.get(ID_CONFIG) {
        None => Ok(fallback),
        Some(raw) => raw.trim().parse().map_err(|_| {
            crate::ConnectError::config(format!(
                "Invalid value {raw} for configuration {ID_CONFIG}: not a task id"
            ))
        }),
    }
}

/// The task configs of a connector with `props`: `max_tasks` copies, each with its `id`.
fn numbered_task_configs(props: &crate::api::Props, max_tasks: usize) -> Vec<crate::api::Props> {
    (0..max_tasks)
        .map(|i| {
            let mut p = props.clone();
            p.insert(ID_CONFIG.to_string(), i.to_string());
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SinkOffsets, SinkTask, SinkTaskContext, SourceTask};
    use crate::builtin::testutil::{props, source_ctx};
    use crate::record::{SinkRecord, SourceRecord, TimestampType};

    fn delivered(r: &SourceRecord, offset: i64) -> SinkRecord {
        SinkRecord {
            topic: std::sync::Arc::from(&*r.topic),
            partition: 0,
            offset,
            timestamp: None,
            timestamp_type: TimestampType::CreateTime,
            key_schema: r.key_schema.clone(),
            key: r.key.clone(),
            value_schema: r.value_schema.clone(),
            value: r.value.clone(),
            headers: Vec::new(),
        }
    }

    /// Source tasks' records through two sink tasks, with one record dropped and a few
    /// delivered twice: the report finds exactly those.
    #[tokio::test]
    async fn the_report_finds_what_the_pipeline_lost_and_duplicated() {
        let mut produced = Vec::new();
        for id in ["0", "1"] {
            let mut task = VerifiableSourceTask::new();
            let p = props(&[("topic", "seq"), ("id", id), ("max.messages", "300")]);
            task.start(source_ctx(0, vec![]), &p).await.unwrap();
            loop {
                let batch = task.poll().await.unwrap();
                if batch.is_empty() {
                    break;
                }
                produced.extend(batch);
            }
        }
        assert_eq!(produced.len(), 600);

        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("sink");
        let mut sinks = Vec::new();
        for id in 0..2u32 {
            let mut sink = VerifiableSinkTask::new();
            let p = props(&[(SINK_FILE_CONFIG, base.to_str().unwrap())]);
            sink.start(SinkTaskContext::new(id), &p).await.unwrap();
            sinks.push(sink);
        }
        // Source task 1's seqno 17 is lost; task 0's 5..10 arrive twice, at different sinks.
        let mut deliveries: [Vec<SinkRecord>; 2] = Default::default();
        for (i, r) in produced.iter().enumerate() {
            let (task, seqno) = match (&r.key, &r.value) {
                (crate::data::Value::Int32(t), crate::data::Value::Int64(s)) => (*t, *s),
                other => panic!("unexpected record {other:?}"),
            };
            if task == 1 && seqno == 17 {
                continue;
            }
            deliveries[i % 2].push(delivered(r, i as i64));
            if task == 0 && (5..10).contains(&seqno) {
                deliveries[(i + 1) % 2].push(delivered(r, i as i64));
            }
        }
        for (sink, batch) in sinks.iter_mut().zip(deliveries) {
            sink.put(&batch).await.unwrap();
            sink.flush(&SinkOffsets::new()).await.unwrap();
        }

        let files = verifiable_sink_files(&base).unwrap();
        assert_eq!(files.len(), 2);
        let report = count_verifiable_output(&files).unwrap();
        let expected = [(0u32, 300u64), (1, 300)].into_iter().collect();
        assert_eq!(
            report.lost(&expected),
            [(0, 0), (1, 1)].into_iter().collect()
        );
        assert_eq!(report.task(1).unwrap().missing(300, 10), vec![17]);
        assert_eq!(report.duplicates(), [(0, 5), (1, 0)].into_iter().collect());
        assert_eq!(
            report.missing_below_max(),
            [(0, 0), (1, 1)].into_iter().collect()
        );
        assert_eq!(report.total_received(), 600 - 1 + 5);
        assert_eq!(report.malformed_lines, 0);
    }
}
