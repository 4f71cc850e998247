//! End-to-end runs of a worker in this process on the embedded broker: a large file pipeline,
//! task panics and restarts, a task that ends FAILED beside a healthy connector, and a sink
//! with four tasks over four partitions.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use common::pipeline_cases::{file_sink, file_source};
use common::plugins::{self, registry};
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::builtin::verifiable::{count_verifiable_output, verifiable_sink_files};
use kconnect_connectors::record::TopicPartition;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_to_kafka_to_file_lines_arrive_complete_and_in_order() {
    pipeline_cases::file_lines_arrive_complete_and_in_order(TestBroker::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_source_task_is_restarted_and_no_line_is_lost() {
    pipeline_cases::a_panicking_source_task_is_restarted_and_no_line_is_lost(TestBroker::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_sink_task_is_restarted_and_no_line_is_lost() {
    pipeline_cases::a_panicking_sink_task_is_restarted_and_no_line_is_lost(TestBroker::embedded())
        .await;
}

/// A plugin on Connect's per-record API that keeps the default `wants_commit_record` gets
/// `commit_record` once per record, in poll order, with the Kafka offset it landed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_per_record_source_gets_commit_record_for_every_record_with_its_kafka_offset() {
    let w = TestWorker::start(&[], registry()).await;
    let input = w.path("in.txt");
    let lines = 5_000;
    write_numbered_lines(&input, lines);
    w.worker
        .add_connector(file_source(
            "recording",
            "test.CommitRecordingFileSourceConnector",
            &input,
            "recorded",
        ))
        .await
        .unwrap();
    let all = eventually(Duration::from_secs(60), || {
        plugins::COMMITTED_RECORDS.lock().unwrap().len() >= lines
    })
    .await;
    let calls = plugins::COMMITTED_RECORDS.lock().unwrap().clone();
    assert!(all, "{} of {lines} commit_record calls", calls.len());
    assert_eq!(calls.len(), lines, "one call per record");
    let input_len = std::fs::metadata(&input).unwrap().len() as i64;
    for (i, (position, kafka_offset)) in calls.iter().enumerate() {
        assert_eq!(*kafka_offset, Some(i as i64), "call {i}: {calls:?}");
        assert!(
            i == 0 || *position > calls[i - 1].0,
            "poll order at call {i}"
        );
    }
    assert_eq!(calls.last().unwrap().0, input_len);
    w.worker.shutdown().await;
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
    w.broker.create_topic("verifiable", 4).await;
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

/// The sink reads and converts the next batches while `put` runs. A rewind the task asks for
/// (`SinkTaskContext::offset`) and a pause of a partition must still act at the next `put`: after
/// the rewind the partition goes on exactly from the offset asked for (none of the records read
/// ahead before it), and a paused partition gets no record until resumed, then every one it
/// missed, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_reading_ahead_honours_a_rewind_and_a_pause_at_the_next_put() {
    use plugins::{SeenPut, PAUSED_PUTS, PAUSE_AT, REWIND_AT, REWIND_TO, SEEN_PUTS};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    const PER_PARTITION: i64 = 20_000;
    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("ahead", 2).await;
    // The whole topic is there before the sink starts, so it always has batches read ahead.
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", w.broker.bootstrap_servers())
        .create()
        .unwrap();
    for i in 0..PER_PARTITION {
        for p in 0..2 {
            let value = format!("record {i} of {p}");
            let mut record = BaseRecord::<(), str>::to("ahead")
                .payload(&value)
                .partition(p);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let string = "org.apache.kafka.connect.storage.StringConverter";
    w.worker
        .add_connector(props(&[
            ("name", "ahead"),
            ("connector.class", "test.RewindingPausingSinkConnector"),
            ("topics", "ahead"),
            ("file", w.path("unused").to_str().unwrap()),
            ("key.converter", string),
            ("value.converter", string),
        ]))
        .await
        .unwrap();
    let last = |puts: &[SeenPut], p: i32| {
        puts.iter()
            .flat_map(|s| s.records.iter())
            .rev()
            .find(|(q, _)| *q == p)
            .map(|(_, o)| *o)
    };
    let done = eventually(Duration::from_secs(60), || {
        let puts = SEEN_PUTS.lock().unwrap();
        puts.iter().any(|s| s.rewound)
            && last(&puts, 0) == Some(PER_PARTITION - 1)
            && last(&puts, 1) == Some(PER_PARTITION - 1)
    })
    .await;
    w.worker.shutdown().await;
    let puts = SEEN_PUTS.lock().unwrap().clone();
    assert!(
        done,
        "{} puts, last offsets {:?} and {:?}",
        puts.len(),
        last(&puts, 0),
        last(&puts, 1)
    );

    // Partition 0: consecutive up to the rewind's put, then consecutive again from REWIND_TO.
    let rewind = puts.iter().position(|s| s.rewound).unwrap();
    let offsets = |range: &[SeenPut], p: i32| -> Vec<i64> {
        range
            .iter()
            .flat_map(|s| s.records.iter())
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect()
    };
    let before = offsets(&puts[..=rewind], 0);
    let rewound_at = *before.last().unwrap();
    assert!(rewound_at >= REWIND_AT);
    assert_consecutive(&before, 0..rewound_at + 1, "partition 0 up to the rewind");
    // After the rewind, partition 0 goes on from REWIND_TO, none of what was read ahead.
    assert_consecutive(
        &offsets(&puts[rewind + 1..], 0),
        REWIND_TO..PER_PARTITION,
        "partition 0 after the rewind",
    );

    // Partition 1: nothing while paused, and every record once, in order.
    let paused: Vec<&SeenPut> = puts.iter().filter(|s| s.partition_1_paused).collect();
    assert_eq!(
        paused.len(),
        PAUSED_PUTS,
        "puts while partition 1 was paused"
    );
    for s in &paused {
        assert!(
            s.records.iter().all(|(p, _)| *p == 0),
            "a record of paused partition 1 was put: {:?}",
            s.records.iter().find(|(p, _)| *p == 1)
        );
    }
    let first_paused = puts.iter().position(|s| s.partition_1_paused).unwrap();
    assert!(offsets(&puts[..first_paused], 1).last().unwrap() >= &PAUSE_AT);
    assert_consecutive(&offsets(&puts, 1), 0..PER_PARTITION, "partition 1");
}

/// A sink reading two topics whose records interleave: each record carries its own topic's
/// name (the runtime shares one name per topic and checks each message against the last), and
/// its value as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_of_two_topics_names_each_records_topic() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    const PER_TOPIC: usize = 3_000;
    let w = TestWorker::start(&[], registry()).await;
    // Names of one length differing in their last byte, and a longer one sharing a prefix.
    let topics = ["orders-a", "orders-b", "orders-b2"];
    for t in topics {
        w.broker.create_topic(t, 1).await;
    }
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", w.broker.bootstrap_servers())
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for i in 0..PER_TOPIC {
        for t in topics {
            let value = format!("{t}:{i}");
            let mut record = BaseRecord::<(), str>::to(t).payload(&value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let string = "org.apache.kafka.connect.storage.StringConverter";
    w.worker
        .add_connector(props(&[
            ("name", "two-topics"),
            ("connector.class", "test.TopicRecordingSinkConnector"),
            ("topics", &topics.join(",")),
            ("file", w.path("unused").to_str().unwrap()),
            ("value.converter", string),
        ]))
        .await
        .unwrap();
    let all = topics.len() * PER_TOPIC;
    let done = eventually(Duration::from_secs(60), || {
        plugins::TOPICS_SEEN.lock().unwrap().len() >= all
    })
    .await;
    w.worker.shutdown().await;
    let seen = plugins::TOPICS_SEEN.lock().unwrap().clone();
    assert!(done, "{} of {all} records", seen.len());
    assert_eq!(seen.len(), all);
    for (topic, value) in &seen {
        assert_eq!(Some(topic.as_str()), value.split(':').next(), "{value}");
    }
    for t in topics {
        let values: Vec<&str> = seen
            .iter()
            .filter(|(topic, _)| topic == t)
            .map(|(_, v)| v.as_str())
            .collect();
        let expected: Vec<String> = (0..PER_TOPIC).map(|i| format!("{t}:{i}")).collect();
        let first_difference = values.iter().zip(&expected).position(|(v, e)| v != e);
        assert_eq!(first_difference, None, "{t}: records out of order");
        assert_eq!(values.len(), PER_TOPIC, "{t}");
    }
}

/// Fails at the first offset that is not the next of `expected`, without printing thousands.
fn assert_consecutive(offsets: &[i64], expected: std::ops::Range<i64>, what: &str) {
    let want: Vec<i64> = expected.collect();
    if let Some(i) = (0..offsets.len().min(want.len())).find(|i| offsets[*i] != want[*i]) {
        panic!(
            "{what}: offset {} where {} was due (after {:?})",
            offsets[i],
            want[i],
            &offsets[i.saturating_sub(3)..i]
        );
    }
    assert_eq!(offsets.len(), want.len(), "{what}: how many records");
}
