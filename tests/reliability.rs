//! The reliability suite: VerifiableSource → VerifiableSink runs under injected faults, each
//! counting every record per source task. Each asserts that no record was lost and reports the
//! duplicates it saw (at-least-once allows them, after the last committed offset). The runs
//! whose faults are the task's own also run on real Kafka (`…_on_real_kafka`, skipped loudly
//! without `KCONNECT_TEST_KAFKA`); broker faults exist only on the embedded broker.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::plugins::registry;
use common::*;
use kconnect_connectors::builtin::verifiable::{
    count_verifiable_output, verifiable_sink_files, VerifiableReport,
};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const SOURCE_TASKS: u32 = 2;

struct Run {
    w: TestWorker,
    sink_base: PathBuf,
    per_task: u64,
    /// The sink connector's name (unique on the shared real broker).
    sink: String,
}

impl Run {
    /// Starts a verifiable pipeline; `source_extra` / `sink_extra` add connector keys (faults).
    async fn start(
        broker: TestBroker,
        worker_extra: &[(&str, &str)],
        per_task: u64,
        throughput: &str,
        source_extra: &[(&str, &str)],
        sink_extra: &[(&str, &str)],
    ) -> Run {
        let w = TestWorker::start_on(broker, worker_extra, registry()).await;
        let (topic, sink_name, source_name) = (
            w.broker.name("rel"),
            w.broker.name("vsink"),
            w.broker.name("vsource"),
        );
        w.broker.create_topic(&topic, 2).await;
        let sink_base = w.path("verifiable.out");
        let mut sink = props(&[
            ("name", &sink_name),
            ("connector.class", "VerifiableSink"),
            ("tasks.max", "2"),
            ("topics", &topic),
            ("verifiable.sink.file", sink_base.to_str().unwrap()),
        ]);
        sink.extend(props(sink_extra));
        w.worker.add_connector(sink).await.unwrap();
        w.wait_running(&sink_name, 2).await;
        let mut source = props(&[
            ("name", &source_name),
            ("connector.class", "VerifiableSource"),
            ("tasks.max", &SOURCE_TASKS.to_string()),
            ("topic", &topic),
            ("throughput", throughput),
            ("max.messages", &per_task.to_string()),
        ]);
        source.extend(props(source_extra));
        w.worker.add_connector(source).await.unwrap();
        Run {
            w,
            sink_base,
            per_task,
            sink: sink_name,
        }
    }

    fn expected(&self) -> BTreeMap<u32, u64> {
        (0..SOURCE_TASKS).map(|t| (t, self.per_task)).collect()
    }

    fn report(&self) -> VerifiableReport {
        count_verifiable_output(&verifiable_sink_files(&self.sink_base).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Waits until every record arrived (or the time is up), stops, and asserts none is lost.
    async fn finish(
        self,
        what: &str,
    ) -> (
        VerifiableReport,
        Vec<kconnect_actors::status::ConnectorStatus>,
    ) {
        let expected = self.expected();
        let complete = eventually(Duration::from_secs(120), || {
            self.report().total_lost(&expected) == 0
        })
        .await;
        let statuses = self.w.status().all();
        self.w.worker.shutdown().await;
        let r = self.report();
        assert!(
            complete,
            "{what}: lost {:?}; statuses {statuses:?}",
            r.lost(&expected)
        );
        for t in r.tasks.values() {
            assert_eq!(
                t.beyond(self.per_task),
                0,
                "{what}: records beyond max.messages"
            );
        }
        eprintln!(
            "{what}: {} records, 0 lost, {} duplicates {:?}",
            r.total_received(),
            r.total_duplicates(),
            r.duplicates()
        );
        (r, statuses)
    }
}

const RESTART_FAST: [(&str, &str); 2] = [
    ("task.restart.backoff.initial.ms", "10"),
    ("task.restart.max.restarts", "-1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_task_panics_in_source_and_sink_lose_nothing() {
    repeated_task_panics_in_source_and_sink_lose_nothing_on(TestBroker::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_task_panics_in_source_and_sink_lose_nothing_on_real_kafka() {
    if let Some(broker) = TestBroker::real() {
        repeated_task_panics_in_source_and_sink_lose_nothing_on(broker).await;
    }
}

async fn repeated_task_panics_in_source_and_sink_lose_nothing_on(broker: TestBroker) {
    // Faults leave room for commits (every 200 ms): a task that panicked before committing
    // anything would, correctly, redo the same work forever.
    let run = Run::start(
        broker,
        &RESTART_FAST,
        20_000,
        "5000",
        &[("faults.task.panic.after.records", "3000")],
        &[("faults.task.panic.every.ms", "1500")],
    )
    .await;
    let (_, statuses) = run.finish("repeated panics").await;
    // The faults really fired: every task was restarted more than once.
    for c in &statuses {
        for (id, t) in &c.tasks {
            assert!(
                t.restarts >= 2,
                "{} task {id} restarted {} times",
                c.name,
                t.restarts
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_down_and_up_loses_nothing() {
    let run = Run::start(
        TestBroker::embedded(),
        &RESTART_FAST,
        15_000,
        "3000",
        &[],
        &[],
    )
    .await;
    // Let records flow, then take the broker away for two seconds mid-stream.
    assert!(
        eventually(Duration::from_secs(30), || run.report().total_received()
            > 2_000)
        .await
    );
    run.w.broker.mock().broker_down().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the outage itself
    run.w.broker.mock().broker_up().unwrap();
    run.finish("broker down and up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn producer_request_errors_lose_nothing() {
    let run = Run::start(
        TestBroker::embedded(),
        &RESTART_FAST,
        15_000,
        "3000",
        &[],
        &[],
    )
    .await;
    assert!(
        eventually(Duration::from_secs(30), || run.report().total_received()
            > 2_000)
        .await
    );
    use RDKafkaRespErr::*;
    let errors = [
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
    ]
    .repeat(4);
    run.w
        .broker
        .mock()
        .push_request_errors(RDKafkaApiKey::Produce, errors)
        .unwrap();
    run.finish("produce request errors").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sink_put_errors_are_retried_and_lose_nothing() {
    sink_put_errors_are_retried_and_lose_nothing_on(TestBroker::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sink_put_errors_are_retried_and_lose_nothing_on_real_kafka() {
    if let Some(broker) = TestBroker::real() {
        sink_put_errors_are_retried_and_lose_nothing_on(broker).await;
    }
}

async fn sink_put_errors_are_retried_and_lose_nothing_on(broker: TestBroker) {
    let run = Run::start(
        broker,
        &RESTART_FAST,
        10_000,
        "-1",
        &[],
        &[
            ("faults.put.retriable.error.probability", "0.3"),
            ("faults.task.error.probability", "0.1"),
            ("faults.seed", "7"),
        ],
    )
    .await;
    let sink_name = run.sink.clone();
    let (_, statuses) = run.finish("sink put errors").await;
    let sink = statuses.iter().find(|c| c.name == sink_name).unwrap();
    assert!(
        sink.tasks.values().any(|t| t.restarts > 0),
        "non-retriable put errors restarted a task: {sink:?}"
    );
}

/// A pause (or resume) that arrives while the connector instance is still starting is what
/// the connector reports once started: the connector and its tasks end up PAUSED (or RUNNING),
/// never a RUNNING connector with PAUSED tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_or_resume_during_the_connector_start_is_honoured() {
    use common::plugins::START_GATE;
    use kconnect_actors::status::State;
    use kconnect_actors::TargetState;

    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("gated", 1).await;
    let config = props(&[
        ("name", "gated"),
        ("connector.class", "test.GatedStartSource"),
        ("tasks.max", "2"),
        ("topic", "gated"),
        ("throughput", "10"),
    ]);
    let settles_in = |want: State| {
        let w = &w;
        async move {
            let ok = w
                .status()
                .wait_until(Duration::from_secs(10), |m| {
                    m.get("gated").is_some_and(|c| {
                        c.connector.state == want
                            && c.tasks.len() == 2
                            && c.tasks.values().all(|t| t.state == want)
                    })
                })
                .await;
            assert!(ok, "not all {want}: {:?}", w.status().get("gated"));
        }
    };
    for (initial, then, want) in [
        (TargetState::Started, TargetState::Paused, State::Paused),
        (TargetState::Paused, TargetState::Started, State::Running),
    ] {
        START_GATE.set(false);
        w.worker
            .create_connector(config.clone(), initial)
            .await
            .unwrap();
        assert!(eventually(Duration::from_secs(10), || START_GATE.waiting()).await);
        w.worker.set_target("gated", then).await.unwrap();
        START_GATE.set(true);
        settles_in(want).await;
        w.worker.delete_connector("gated").await.unwrap();
    }
}

/// A connector whose stop hangs holds up neither reads nor other connectors: the worker
/// stops it off its mailbox. Writes for that connector wait their turn and then apply in
/// order (a create of the same name after its delete finds the name free).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_connector_stop_blocks_neither_reads_nor_other_connectors() {
    use common::plugins::STOP_GATE;
    use std::time::Instant;

    let w = TestWorker::start(&[], registry()).await;
    w.broker.create_topic("slow-stop", 1).await;
    let config = |name: &str, class: &str| {
        props(&[
            ("name", name),
            ("connector.class", class),
            ("tasks.max", "1"),
            ("topic", "slow-stop"),
            ("throughput", "10"),
        ])
    };
    w.worker
        .add_connector(config("slow", "test.GatedStopSource"))
        .await
        .unwrap();
    w.wait_running("slow", 1).await;

    STOP_GATE.set(false);
    let deleting = {
        let worker = w.worker.clone();
        tokio::spawn(async move { worker.delete_connector("slow").await })
    };
    assert!(eventually(Duration::from_secs(10), || STOP_GATE.waiting()).await);

    // The stop hangs; the worker still answers at once and runs other connectors.
    let t = Instant::now();
    assert_eq!(w.worker.connectors().await, Vec::<String>::new());
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    w.worker
        .add_connector(config("other", "VerifiableSource"))
        .await
        .unwrap();
    w.wait_running("other", 1).await;
    // A create of the deleted name waits until its delete finished, then succeeds.
    let recreating = {
        let worker = w.worker.clone();
        tokio::spawn(async move {
            worker
                .add_connector(config("slow", "test.GatedStopSource"))
                .await
        })
    };
    assert!(!deleting.is_finished() && !recreating.is_finished());
    assert_eq!(w.worker.connectors().await, vec!["other".to_string()]);

    STOP_GATE.set(true);
    deleting.await.unwrap().unwrap();
    assert_eq!(recreating.await.unwrap().unwrap(), "slow");
    w.wait_running("slow", 1).await;
    let mut names = w.worker.connectors().await;
    names.sort();
    assert_eq!(names, vec!["other".to_string(), "slow".to_string()]);
}
