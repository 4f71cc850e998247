//! End-to-end runs of a worker in this process on the embedded broker: a large file pipeline,
//! task panics and restarts, a task that ends FAILED beside a healthy connector, and a sink
//! with four tasks over four partitions.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use common::plugins::{self, registry};
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::api::Props;
use kconnect_connectors::builtin::verifiable::{count_verifiable_output, verifiable_sink_files};
use kconnect_connectors::record::TopicPartition;
use std::path::Path;

/// A file connector config: sources name their topic under `topic`, sinks under `topics`.
fn file_connector(topic_key: &str, name: &str, class: &str, file: &Path, topic: &str) -> Props {
    props(&[
        ("name", name),
        ("connector.class", class),
        ("file", file.to_str().unwrap()),
        (topic_key, topic),
    ])
}

fn file_source(name: &str, class: &str, file: &Path, topic: &str) -> Props {
    file_connector("topic", name, class, file, topic)
}

fn file_sink(name: &str, class: &str, file: &Path, topic: &str) -> Props {
    file_connector("topics", name, class, file, topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_to_kafka_to_file_lines_arrive_complete_and_in_order() {
    let w = TestWorker::start(&[], registry()).await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    // Within the embedded broker's retention (5 MB, 100,000 messages per partition), so that a
    // sink slowed down by a loaded machine still finds every record; the million-line run is
    // `real_kafka::…`, on a broker that keeps everything.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source("src", "FileStreamSource", &input, "lines"))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink("sink", "FileStreamSink", &output, "lines"))
        .await
        .unwrap();
    let done = eventually(Duration::from_secs(120), || {
        count_lines(&output) >= lines.len()
    })
    .await;
    assert!(
        done,
        "only {} of {} lines arrived",
        count_lines(&output),
        lines.len()
    );
    w.worker.shutdown().await;
    let out = read_lines(&output);
    let (dups, _) = check_complete_in_order(&lines, &out);
    assert_eq!(dups, 0, "a run without faults must not duplicate");
    assert_eq!(out.len(), lines.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_source_task_is_restarted_and_no_line_is_lost() {
    let w = TestWorker::start(&[("task.restart.backoff.initial.ms", "50")], registry()).await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    // Well under the embedded broker's retention (5 MB, 100,000 messages per partition): a
    // sink that falls behind under load must find every record it has not read yet.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source(
            "src",
            "test.PanickingFileSourceConnector",
            &input,
            "lines",
        ))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink("sink", "FileStreamSink", &output, "lines"))
        .await
        .unwrap();
    // The task panics once, is restarted by its supervisor, and runs again.
    let restarted = w
        .status()
        .wait_until(Duration::from_secs(60), |m| {
            m.get("src")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.restarts == 1 && t.state == State::Running)
        })
        .await;
    assert!(restarted, "{:?}", w.status().get("src"));
    assert!(plugins::SOURCE_PANICKED.load(std::sync::atomic::Ordering::SeqCst));
    let done = eventually(Duration::from_secs(120), || {
        let out = read_lines(&output);
        let distinct: std::collections::HashSet<_> = out.iter().collect();
        distinct.len() >= lines.len()
    })
    .await;
    let statuses = w.status().all();
    w.worker.shutdown().await;
    assert!(done, "not every line arrived: {statuses:?}");
    let out = read_lines(&output);
    let (dups, first_dup) = check_complete_in_order(&lines, &out);
    let resumed_at = plugins::SOURCE_RESUMED_AT
        .lock()
        .unwrap()
        .expect("restarted task read its offset");
    // Each line is 13 bytes: the committed position says which line the restart resumed at.
    let resumed_line = (resumed_at / 13) as usize;
    eprintln!("source panic: {dups} duplicate lines; restart resumed at line {resumed_line}");
    if let Some(first) = first_dup {
        assert!(
            first >= resumed_line,
            "line {first} duplicated, but offsets were committed up to line {resumed_line}"
        );
    }
    assert!(resumed_line > 0, "offsets were committed before the panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_sink_task_is_restarted_and_no_line_is_lost() {
    let w = TestWorker::start(&[("task.restart.backoff.initial.ms", "50")], registry()).await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    // Well under the embedded broker's retention (5 MB, 100,000 messages per partition): a
    // sink that falls behind under load must find every record it has not read yet.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source("src", "FileStreamSource", &input, "lines"))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink(
            "sink",
            "test.PanickingFileSinkConnector",
            &output,
            "lines",
        ))
        .await
        .unwrap();
    let done = eventually(Duration::from_secs(120), || {
        let out = read_lines(&output);
        let distinct: std::collections::HashSet<_> = out.iter().collect();
        distinct.len() >= lines.len()
    })
    .await;
    let status = w.status().get("sink").unwrap();
    let statuses = w.status().all();
    w.worker.shutdown().await;
    assert!(done, "not every line arrived: {statuses:?}");
    assert!(plugins::SINK_PANICKED.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(status.tasks[&0].restarts, 1, "{status:?}");
    let out = read_lines(&output);
    let (dups, first_dup) = check_complete_in_order(&lines, &out);
    // One partition, one source without faults: offset N holds line N.
    let resumed = plugins::SINK_RESUMED_AT
        .lock()
        .unwrap()
        .expect("restarted task got records") as usize;
    eprintln!("sink panic: {dups} duplicate lines; consumer resumed at offset {resumed}");
    if let Some(first) = first_dup {
        assert!(
            first >= resumed,
            "line {first} duplicated, but the group had committed up to {resumed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_keeps_failing_ends_failed_while_a_sibling_connector_runs() {
    let w = TestWorker::start(
        &[
            ("task.restart.backoff.initial.ms", "10"),
            ("task.restart.max.restarts", "3"),
        ],
        registry(),
    )
    .await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    write_numbered_lines(&input, 10);
    w.worker
        .add_connector(file_source("src", "FileStreamSource", &input, "lines"))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink("sink", "FileStreamSink", &output, "lines"))
        .await
        .unwrap();
    w.worker
        .add_connector(file_source(
            "broken",
            "test.AlwaysFailingSourceConnector",
            &input,
            "other",
        ))
        .await
        .unwrap();
    let failed = w
        .status()
        .wait_until(Duration::from_secs(30), |m| {
            m.get("broken")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Failed)
        })
        .await;
    assert!(failed, "{:?}", w.status().get("broken"));
    let broken = w.status().get("broken").unwrap();
    let task = &broken.tasks[&0];
    assert_eq!(task.restarts, 3);
    let trace = task.trace.as_deref().unwrap();
    assert!(
        trace.contains("the external system is unreachable (injected)"),
        "{trace}"
    );
    assert_eq!(
        broken.connector.state,
        State::Running,
        "the connector itself did not fail"
    );
    // The sibling pipeline still runs: lines written after the failure still arrive.
    w.wait_running("src", 1).await;
    w.wait_running("sink", 1).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    writeln!(f, "after-the-failure").unwrap();
    drop(f);
    let arrived = eventually(Duration::from_secs(30), || {
        read_lines(&output).iter().any(|l| l == "after-the-failure")
    })
    .await;
    assert!(arrived);
    assert_eq!(
        w.status().get("broken").unwrap().tasks[&0].state,
        State::Failed
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_with_four_tasks_owns_each_of_four_partitions_once_and_gets_every_record_once() {
    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("verifiable", 4).unwrap();
    let sink_base = w.path("verifiable.out");
    const PER_TASK: u64 = 5_000;
    const SOURCE_TASKS: u32 = 8;
    w.worker
        .add_connector(props(&[
            ("name", "vsink"),
            ("connector.class", "test.RecordingSinkConnector"),
            ("tasks.max", "4"),
            ("topics", "verifiable"),
            ("verifiable.sink.file", sink_base.to_str().unwrap()),
        ]))
        .await
        .unwrap();
    w.wait_running("vsink", 4).await;
    w.worker
        .add_connector(props(&[
            ("name", "vsource"),
            ("connector.class", "VerifiableSource"),
            ("tasks.max", &SOURCE_TASKS.to_string()),
            ("topic", "verifiable"),
            ("throughput", "-1"),
            ("max.messages", &PER_TASK.to_string()),
        ]))
        .await
        .unwrap();
    let expected: BTreeMap<u32, u64> = (0..SOURCE_TASKS).map(|t| (t, PER_TASK)).collect();
    let complete = eventually(Duration::from_secs(60), || {
        let files = verifiable_sink_files(&sink_base).unwrap_or_default();
        count_verifiable_output(&files).is_ok_and(|r| r.total_lost(&expected) == 0)
    })
    .await;
    w.worker.shutdown().await;
    let report = count_verifiable_output(&verifiable_sink_files(&sink_base).unwrap()).unwrap();
    assert!(complete, "lost: {:?}", report.lost(&expected));
    assert_eq!(report.total_duplicates(), 0, "{:?}", report.duplicates());
    assert_eq!(report.total_received(), PER_TASK * SOURCE_TASKS as u64);

    let all: Vec<TopicPartition> = (0..4)
        .map(|p| TopicPartition::new("verifiable", p))
        .collect();
    let opened = plugins::OPENED.lock().unwrap().clone();
    for tp in &all {
        // Opened once, by one task, for the whole run.
        let opens: Vec<u32> = opened
            .iter()
            .flat_map(|(t, v)| v.iter().filter(|p| *p == tp).map(move |_| *t))
            .collect();
        assert_eq!(opens.len(), 1, "{tp} opened by tasks {opens:?}");
    }
    let received = plugins::RECEIVED_BY.lock().unwrap().clone();
    assert_eq!(
        received.keys().cloned().collect::<Vec<_>>(),
        all,
        "every partition carried records"
    );
    for (tp, tasks) in &received {
        assert_eq!(tasks.len(), 1, "{tp} was consumed by tasks {tasks:?}");
    }
}
