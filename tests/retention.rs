//! The embedded broker keeps only the last 5 MB or 100,000 messages of a partition. A sink must
//! never skip records it dropped: it fails with a message naming the cause, unless the user
//! explicitly allows a reset.

mod common;

use std::time::Duration;

use common::plugins::registry;
use common::*;
use kconnect_actors::status::State;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// Writes `n` records of about `size` bytes to partition 0 of `topic` with a plain producer.
fn produce(bootstrap: &str, topic: &str, from: usize, n: usize, size: usize) {
    produce_to(bootstrap, topic, 0, from, n, size)
}

/// Writes `n` records of about `size` bytes to `partition` of `topic`.
fn produce_to(bootstrap: &str, topic: &str, partition: i32, from: usize, n: usize, size: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for i in from..from + n {
        let mut v = format!("r{i}");
        while v.len() < size {
            v.push('.');
        }
        p.send(
            BaseRecord::<(), _>::to(topic)
                .payload(&v)
                .partition(partition),
        )
        .unwrap();
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn sink(
    name: &str,
    file: &std::path::Path,
    extra: &[(&str, &str)],
) -> kconnect_connectors::api::Props {
    let mut p = props(&[
        ("name", name),
        ("connector.class", "FileStreamSink"),
        ("topics", "kept"),
        ("file", file.to_str().unwrap()),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        ("task.restart.max.restarts", "0"),
    ]);
    p.extend(props(extra));
    p
}

async fn task_failure(w: &TestWorker, name: &str) -> String {
    let failed = w
        .status()
        .wait_until(Duration::from_secs(30), |m| {
            m.get(name)
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Failed)
        })
        .await;
    assert!(failed, "{:?}", w.status().get(name));
    w.status().get(name).unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_fails_loudly_when_the_broker_dropped_records_it_had_not_read() {
    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("kept", 1).await;
    let out = w.path("out.txt");
    let bootstrap = w.broker.bootstrap_servers();

    // A sink that reads 10 records and commits them, then stops.
    produce(&bootstrap, "kept", 0, 10, 1);
    w.worker
        .add_connector(sink("reader", &out, &[]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(30), || count_lines(&out) == 10).await);
    w.worker.delete_connector("reader").await.unwrap();

    // While it is away, 12 MB more push the oldest records out of the mock (it keeps 5 MB).
    const MORE: usize = 3_000;
    produce(&bootstrap, "kept", 10, MORE, 4_000);
    w.worker
        .add_connector(sink("reader", &out, &[]))
        .await
        .unwrap();
    let trace = task_failure(&w, "reader").await;
    assert!(
        trace.contains("kept-0") && trace.contains("offset 10"),
        "{trace}"
    );
    assert!(trace.contains("dropped"), "{trace}");
    assert!(trace.contains("100,000 messages"), "{trace}");
    assert!(trace.contains("auto.offset.reset"), "{trace}");
    assert_eq!(count_lines(&out), 10, "nothing after the gap was written");

    // A sink that never read the topic finds offset 0 gone too: also an error, not a skip.
    let fresh = w.path("fresh.txt");
    w.worker
        .add_connector(sink("newcomer", &fresh, &[]))
        .await
        .unwrap();
    let trace = task_failure(&w, "newcomer").await;
    assert!(
        trace.contains("kept-0") && trace.contains("dropped"),
        "{trace}"
    );
    assert_eq!(count_lines(&fresh), 0);

    // The user may accept the loss explicitly.
    let accepted = w.path("accepted.txt");
    w.worker
        .add_connector(sink(
            "accepting",
            &accepted,
            &[("consumer.override.auto.offset.reset", "earliest")],
        ))
        .await
        .unwrap();
    let last = format!("r{}", 10 + MORE - 1);
    let got_last = eventually(Duration::from_secs(60), || {
        read_lines(&accepted)
            .last()
            .is_some_and(|l| l.starts_with(&format!("{last}.")))
    })
    .await;
    assert!(got_last, "read {} lines", count_lines(&accepted));
    assert!(
        count_lines(&accepted) < MORE,
        "the mock kept everything: nothing was tested"
    );
    w.worker.shutdown().await;
}

/// The check for dropped records runs at every assignment refresh (every 5 s) on every
/// partition, and must not hold the sink up: a broker answers a connection's requests in
/// order, so a caught-up consumer's queries wait behind its fetch's long poll (500 ms). Asked
/// one partition at a time, 100 partitions kept the task away from its records ~50 s of every
/// refresh (the 200,000-row PostgreSQL round trip stalled on it). Records written while the
/// sink is caught up, spread over more than one refresh, each reach the file within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caught_up_sink_on_a_hundred_partitions_delivers_new_records_within_seconds() {
    const PARTITIONS: i32 = 100;
    /// Far above a refresh's cost with one query (one long poll, ~0.5 s), far below 100 of them.
    const WITHIN: Duration = Duration::from_secs(10);
    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("wide", PARTITIONS).await;
    let out = w.path("wide.txt");
    let bootstrap = w.broker.bootstrap_servers();
    w.worker
        .add_connector(sink("wide-reader", &out, &[("topics", "wide")]))
        .await
        .unwrap();
    w.wait_running("wide-reader", 1).await;
    // One record on every partition, while the sink waits on an empty topic.
    for p in 0..PARTITIONS {
        produce_to(&bootstrap, "wide", p, p as usize, 1, 1);
    }
    let all = eventually(WITHIN, || count_lines(&out) == PARTITIONS as usize).await;
    assert!(
        all,
        "{} of {PARTITIONS} records after {WITHIN:?}",
        count_lines(&out)
    );
    // Then one record a second for 8 s: at least one assignment refresh runs in between.
    for round in 0..8usize {
        let n = PARTITIONS as usize + round + 1;
        let partition = (round as i32 * 37) % PARTITIONS;
        let started = std::time::Instant::now();
        produce_to(&bootstrap, "wide", partition, n - 1, 1, 1);
        let arrived = eventually(WITHIN, || count_lines(&out) == n).await;
        assert!(
            arrived,
            "round {round}: the record on wide-{partition} not written after {WITHIN:?}"
        );
        eprintln!("round {round}: written in {:?}", started.elapsed());
        // The input's schedule (a record a second), not a wait for an event.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut lines = read_lines(&out);
    lines.sort();
    let mut want: Vec<String> = (0..PARTITIONS as usize + 8)
        .map(|i| format!("r{i}"))
        .collect();
    want.sort();
    assert_eq!(lines, want);
    w.worker.shutdown().await;
}

/// A worker pointed at an embedded broker by address (a `kconnect broker` elsewhere) applies the
/// same rule: it recognises the mock by its cluster id, not by how the worker was started. The
/// refusal is final: the supervisor does not restart the task into what is left, and a user's
/// restart refuses again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_on_a_broker_elsewhere_refuses_dropped_records_and_stays_failed() {
    use kconnect_actors::status::{StatusChange, StatusStore};
    use kconnect_actors::storage::FileOffsetStore;
    init_tracing();
    let broker = kconnect::embedded_broker::EmbeddedBroker::start().unwrap();
    broker.create_topic("kept", 1).unwrap();
    let bootstrap = broker.bootstrap_servers().to_string();
    // 12 MB push the first records out of the mock (it keeps 5 MB).
    produce(&bootstrap, "kept", 0, 3_000, 4_000);

    // The worker knows only the address; every state its task reports is recorded in order.
    let dir = tempfile::tempdir().unwrap();
    let config = kconnect_actors::config::WorkerConfig::parse(props(&[
        ("bootstrap.servers", &bootstrap),
        ("offset.flush.interval.ms", "200"),
    ]))
    .unwrap();
    let (tx, mut states) = tokio::sync::mpsc::unbounded_channel();
    let listener = std::sync::Arc::new(move |c: StatusChange| {
        if let StatusChange::State {
            task: Some(0),
            status,
            ..
        } = c
        {
            let _ = tx.send(status);
        }
    });
    let store = FileOffsetStore::open(dir.path().join("connect.offsets")).unwrap();
    let worker = kconnect_actors::Worker::start(kconnect_actors::WorkerContext {
        status: StatusStore::new("w").with_listener(listener),
        worker_id: "w".into(),
        bootstrap_servers: bootstrap.clone(),
        broker_health: kconnect_actors::broker_health::BrokerHealth::new(&bootstrap),
        offsets: std::sync::Arc::new(kconnect_actors::context::FileOffsets::new(
            std::sync::Arc::new(store),
        )),
        plugins: std::sync::Arc::new(registry()),
        topic_admin: None,
        live_clients: Default::default(),
        task_configs_sink: None,
        exactly_once: None,
        config,
    })
    .await
    .unwrap();
    let out = dir.path().join("out.txt");
    let mut p = sink("newcomer", &out, &[]);
    // The default restart policy: the refusal must not depend on restarts being off.
    p.remove("task.restart.max.restarts");
    worker.add_connector(p).await.unwrap();

    async fn next_failure(
        states: &mut tokio::sync::mpsc::UnboundedReceiver<kconnect_actors::status::Status>,
    ) -> kconnect_actors::status::Status {
        let wait = async {
            loop {
                let s = states.recv().await.expect("status listener gone");
                assert_ne!(s.state, State::Restarting, "restarted automatically: {s:?}");
                if s.state == State::Failed {
                    return s;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("the task did not fail")
    }
    let failed = next_failure(&mut states).await;
    let trace = failed.trace.unwrap();
    assert!(
        trace.contains("kept-0") && trace.contains("dropped"),
        "{trace}"
    );
    assert_eq!(failed.restarts, 0, "{trace}");

    // The user restarts the task: it starts, and the same check refuses again.
    worker.restart_task("newcomer", 0).await.unwrap();
    let started = tokio::time::timeout(Duration::from_secs(30), states.recv()).await;
    assert_eq!(started.unwrap().unwrap().state, State::Running);
    let again = next_failure(&mut states).await;
    assert!(again.trace.unwrap().contains("dropped"));
    worker.shutdown().await;
    assert_eq!(
        count_lines(&out),
        0,
        "a restart turned the refusal into a skip"
    );
}
