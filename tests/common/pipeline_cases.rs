//! Pipeline runs shared by the embedded-broker suite (`tests/pipeline.rs`) and the real-Kafka
//! one (`tests/real_kafka.rs`): each takes the broker it runs on. The panicking plugins keep
//! their flags in statics, so each case runs at most once per test binary.

use std::time::Duration;

use kconnect_actors::status::State;
use kconnect_connectors::api::Props;
use std::path::Path;

use super::plugins::{self, registry};
use super::*;

/// A file connector config: sources name their topic under `topic`, sinks under `topics`.
pub fn file_connector(topic_key: &str, name: &str, class: &str, file: &Path, topic: &str) -> Props {
    props(&[
        ("name", name),
        ("connector.class", class),
        ("file", file.to_str().unwrap()),
        (topic_key, topic),
    ])
}

pub fn file_source(name: &str, class: &str, file: &Path, topic: &str) -> Props {
    file_connector("topic", name, class, file, topic)
}

pub fn file_sink(name: &str, class: &str, file: &Path, topic: &str) -> Props {
    file_connector("topics", name, class, file, topic)
}

pub async fn file_lines_arrive_complete_and_in_order(broker: TestBroker) {
    let w = TestWorker::start_on(broker, &[], registry()).await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    let (src, sink, topic) = (
        w.broker.name("src"),
        w.broker.name("sink"),
        w.broker.name("lines"),
    );
    // Created up front: on real Kafka a sink subscribed to a missing topic would find it only
    // at its next metadata refresh.
    w.broker.create_topic(&topic, 1).await;
    // Within the embedded broker's retention (5 MB, 100,000 messages per partition), so that a
    // sink slowed down by a loaded machine still finds every record; the million-line run is
    // `real_kafka::…`, on a broker that keeps everything.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source(&src, "FileStreamSource", &input, &topic))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink(&sink, "FileStreamSink", &output, &topic))
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

pub async fn a_panicking_source_task_is_restarted_and_no_line_is_lost(broker: TestBroker) {
    let w = TestWorker::start_on(
        broker,
        &[("task.restart.backoff.initial.ms", "50")],
        registry(),
    )
    .await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    let (src, sink, topic) = (
        w.broker.name("src"),
        w.broker.name("sink"),
        w.broker.name("lines"),
    );
    // Created up front: on real Kafka a sink subscribed to a missing topic would find it only
    // at its next metadata refresh.
    w.broker.create_topic(&topic, 1).await;
    // Well under the embedded broker's retention (5 MB, 100,000 messages per partition): a
    // sink that falls behind under load must find every record it has not read yet.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source(
            &src,
            "test.PanickingFileSourceConnector",
            &input,
            &topic,
        ))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink(&sink, "FileStreamSink", &output, &topic))
        .await
        .unwrap();
    // The task panics once, is restarted by its supervisor, and runs again.
    let restarted = w
        .status()
        .wait_until(Duration::from_secs(60), |m| {
            m.get(&src)
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.restarts == 1 && t.state == State::Running)
        })
        .await;
    assert!(restarted, "{:?}", w.status().get(&src));
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

pub async fn a_panicking_sink_task_is_restarted_and_no_line_is_lost(broker: TestBroker) {
    let w = TestWorker::start_on(
        broker,
        &[("task.restart.backoff.initial.ms", "50")],
        registry(),
    )
    .await;
    let (input, output) = (w.path("in.txt"), w.path("out.txt"));
    let (src, sink, topic) = (
        w.broker.name("src"),
        w.broker.name("sink"),
        w.broker.name("lines"),
    );
    // Created up front: on real Kafka a sink subscribed to a missing topic would find it only
    // at its next metadata refresh.
    w.broker.create_topic(&topic, 1).await;
    // Well under the embedded broker's retention (5 MB, 100,000 messages per partition): a
    // sink that falls behind under load must find every record it has not read yet.
    let lines = write_numbered_lines(&input, 40_000);
    w.worker
        .add_connector(file_source(&src, "FileStreamSource", &input, &topic))
        .await
        .unwrap();
    w.worker
        .add_connector(file_sink(
            &sink,
            "test.PanickingFileSinkConnector",
            &output,
            &topic,
        ))
        .await
        .unwrap();
    let done = eventually(Duration::from_secs(120), || {
        let out = read_lines(&output);
        let distinct: std::collections::HashSet<_> = out.iter().collect();
        distinct.len() >= lines.len()
    })
    .await;
    let status = w.status().get(&sink).unwrap();
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
