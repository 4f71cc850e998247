//! The `kconnect` binary against real Apache Kafka (a one-node KRaft broker started by
//! tests/kafka/start-kafka.sh; scripts/test.sh starts it and sets KCONNECT_TEST_KAFKA). Every
//! record is counted. Without a broker each test says SKIPPED and passes; under CI=true a
//! missing broker fails it.
//!
//! The broker is shared by all tests and outlives a test run, so every test uses topic and
//! connector names of its own.

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kafka::{
    committed_offsets, create_topic, kafka_tool, log_end_offsets, partition_count, real_kafka,
    record_count, topic_config, unique_name, RunDir,
};
use common::procs::Proc;
use common::{pipeline_cases, TestBroker};
use nix::sys::signal::Signal;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// Starts `kconnect standalone` with these config files, logging to `log`.
fn kconnect_standalone(files: &[&Path], log: &Path, log_level: &str) -> Proc {
    let child = Command::new(BIN)
        .args(["--log-level", log_level, "standalone"])
        .args(files)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap();
    Proc(child)
}

fn write(path: PathBuf, body: &str) -> PathBuf {
    std::fs::write(&path, body).unwrap();
    path
}

/// Polls `check` every 50 ms until it returns Ok; fails after `timeout` with `what` and the
/// last state `check` described.
fn poll_until(timeout: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    while let Err(state) = check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_contains(log: &Path, needle: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|s| s.contains(needle))
}

/// The REST address a kconnect process logs at start (`rest=127.0.0.1:port`).
fn rest_address(p: &mut Proc, log: &Path) -> String {
    let mut addr = None;
    poll_until(
        Duration::from_secs(60),
        "the worker to log its REST address",
        || {
            assert!(
                p.0.try_wait().unwrap().is_none(),
                "the worker exited at start; log {}",
                log.display()
            );
            addr = std::fs::read_to_string(log).ok().and_then(|s| {
                s.split("rest=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            });
            addr.as_ref()
                .map(|_| ())
                .ok_or_else(|| format!("log {}", log.display()))
        },
    );
    addr.unwrap()
}

/// Follows a sink's output file of numbered lines (`<prefix><index>`) while it grows. Record
/// `i` belongs to ordering group `i % groups` (a partition); within a group, first
/// occurrences must come in index order. Counts distinct and duplicated lines.
struct NumberedOutput {
    path: PathBuf,
    prefix: String,
    groups: usize,
    pos: u64,
    partial: Vec<u8>,
    seen: Vec<bool>,
    next_in_group: Vec<usize>,
    distinct: usize,
    duplicates: usize,
}

impl NumberedOutput {
    fn new(path: PathBuf, prefix: &str, total: usize, groups: usize) -> Self {
        NumberedOutput {
            path,
            prefix: prefix.to_string(),
            groups,
            pos: 0,
            partial: Vec::new(),
            seen: vec![false; total],
            next_in_group: (0..groups).collect(),
            distinct: 0,
            duplicates: 0,
        }
    }

    /// Reads what was appended since the last call; panics on a line that is not one of ours
    /// or that arrived out of order.
    fn update(&mut self) {
        let Ok(mut f) = File::open(&self.path) else {
            return;
        };
        f.seek(SeekFrom::Start(self.pos)).unwrap();
        let mut buf = std::mem::take(&mut self.partial);
        let read = f.read_to_end(&mut buf).unwrap();
        self.pos += read as u64;
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = buf.split_off(complete);
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line);
            let i: usize = text
                .strip_prefix(&self.prefix)
                .and_then(|n| n.parse().ok())
                .filter(|i| *i < self.seen.len())
                .unwrap_or_else(|| panic!("unexpected line {text:?} in {}", self.path.display()));
            if self.seen[i] {
                self.duplicates += 1;
                continue;
            }
            let group = i % self.groups;
            assert_eq!(
                i, self.next_in_group[group],
                "line {text:?} arrived before line {} of the same partition",
                self.next_in_group[group]
            );
            self.next_in_group[group] += self.groups;
            self.seen[i] = true;
            self.distinct += 1;
        }
    }

    fn complete(&self) -> bool {
        self.distinct == self.seen.len()
    }

    fn summary(&self) -> String {
        format!(
            "{} of {} distinct lines, {} duplicates",
            self.distinct,
            self.seen.len(),
            self.duplicates
        )
    }
}

/// The byte position the standalone offsets file holds for `connector`'s source partition.
fn source_position(offsets: &Path, connector: &str) -> Option<u64> {
    let text = std::fs::read_to_string(offsets).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["offsets"]
        .as_array()?
        .iter()
        .find(|e| e["connector"] == connector)?["offset"]["position"]
        .as_u64()
}

/// FileStreamSource → real Kafka → FileStreamSink with 1,000,000 lines; the worker is SIGKILLed
/// three times along the way and started again on the same offsets file. Every line arrives,
/// first occurrences in order; duplicates (records after the last commit) are reported.
#[test]
fn a_million_lines_survive_three_sigkills_of_the_worker_in_order() {
    let Some(kafka) = real_kafka() else { return };
    let started = Instant::now();
    const LINES: usize = 1_000_000;
    const PREFIX: &str = "kconnect-line-";
    let run = RunDir::new("million-lines");
    let topic = unique_name("lines");
    let (source_name, sink_name) = (format!("{topic}-source"), format!("{topic}-sink"));

    // 21 bytes and a newline per line.
    let input = run.join("in.txt");
    let mut body = String::with_capacity(LINES * 22);
    for i in 0..LINES {
        body.push_str(&format!("{PREFIX}{i:07}\n"));
    }
    std::fs::write(&input, &body).unwrap();
    let input_len = body.len() as u64;
    drop(body);

    let offsets = run.join("connect.offsets");
    let output = run.join("out.txt");
    let worker = write(
        run.join("worker.properties"),
        &format!(
            "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            offsets.display()
        ),
    );
    // The topic does not exist: the broker creates it (one partition) when the source's
    // producer first names it.
    let source = write(
        run.join("source.properties"),
        &format!(
            "name={source_name}\nconnector.class=FileStreamSource\nfile={}\ntopic={topic}\n",
            input.display()
        ),
    );
    let sink = write(
        run.join("sink.properties"),
        &format!(
            "name={sink_name}\nconnector.class=FileStreamSink\nfile={}\ntopics={topic}\n",
            output.display()
        ),
    );
    // DEBUG for the file source: it logs the position it resumes from.
    let level = "info,kconnect_connectors::builtin::file=debug";
    let mut out = NumberedOutput::new(output.clone(), PREFIX, LINES, 1);

    // Kill when the sink has written this many distinct lines, and this incarnation of the
    // source has committed a position beyond the one it started from (or the whole file).
    let mut committed = 0u64;
    for (run_no, kill_at) in [150_000usize, 400_000, 650_000].into_iter().enumerate() {
        let log = run.join(&format!("worker-{run_no}.log"));
        let mut w = kconnect_standalone(&[&worker, &source, &sink], &log, level);
        let resumed = format!("Skipped to offset {committed} ");
        poll_until(
            Duration::from_secs(90),
            &format!("{kill_at} lines in the sink and a new source commit (run {run_no})"),
            || {
                assert!(
                    w.0.try_wait().unwrap().is_none(),
                    "the worker exited; log {}",
                    log.display()
                );
                out.update();
                let position = source_position(&offsets, &source_name);
                let p = position.unwrap_or(0);
                if out.distinct >= kill_at
                    && (p > committed || p == input_len)
                    && (committed == 0 || log_contains(&log, &resumed))
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{}; source position {position:?}; log {}",
                        out.summary(),
                        log.display()
                    ))
                }
            },
        );
        w.signal(Signal::SIGKILL);
        w.wait_exit(Duration::from_secs(10));
        // What survived the kill is what the next incarnation must start from.
        let position = source_position(&offsets, &source_name)
            .expect("the offsets file survives SIGKILL and holds the source's position");
        assert!(
            position > committed || position == input_len,
            "the source position went from {committed} to {position}"
        );
        committed = position;
        out.update();
        eprintln!(
            "SIGKILL {} at {:.1?}: sink {}; source committed {committed} of {input_len} bytes",
            run_no + 1,
            started.elapsed(),
            out.summary()
        );
    }

    let log = run.join("worker-final.log");
    let mut w = kconnect_standalone(&[&worker, &source, &sink], &log, level);
    let resumed = format!("Skipped to offset {committed} ");
    poll_until(Duration::from_secs(120), "every line in the sink", || {
        assert!(
            w.0.try_wait().unwrap().is_none(),
            "the worker exited; log {}",
            log.display()
        );
        out.update();
        if out.complete() {
            Ok(())
        } else {
            Err(format!("{}; log {}", out.summary(), log.display()))
        }
    });
    assert!(
        log_contains(&log, &resumed),
        "the last run did not resume the source at {committed}; log {}",
        log.display()
    );
    w.signal(Signal::SIGTERM);
    let status = w.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM must stop cleanly, got {status:?}"
    );
    assert_eq!(
        source_position(&offsets, &source_name),
        Some(input_len),
        "after a clean stop the source's committed position is the end of its file"
    );
    out.update();
    eprintln!(
        "1M lines through real Kafka with 3 SIGKILLs: 0 lost, {}, in {:.1?}",
        out.summary(),
        started.elapsed()
    );
}

/// Writes records `rec-<i>` for i in `range` to `topic`, record i to partition i % partitions.
fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>, partitions: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("queue.buffering.max.messages", "1000000")
        .set("linger.ms", "20")
        .create()
        .unwrap();
    for i in range {
        let value = format!("rec-{i:07}");
        let record = BaseRecord::<(), _>::to(topic)
            .payload(&value)
            .partition((i % partitions) as i32);
        p.send(record).map_err(|(e, _)| e).unwrap();
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60)).unwrap();
}

/// One row of `kafka-consumer-groups --describe`: (partition, current offset, log-end, lag).
fn describe_rows(out: &str, topic: &str) -> Vec<(i32, String, String, String)> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 6 && cols[1] == topic)
        .map(|cols| {
            (
                cols[2].parse().unwrap(),
                cols[3].to_string(),
                cols[4].to_string(),
                cols[5].to_string(),
            )
        })
        .collect()
}

/// A FileStreamSink with tasks.max=4 on an 8-partition topic: every record arrives (in order
/// within its partition), and the group `connect-<name>` ends with lag 0, as rdkafka and
/// Kafka's own kafka-consumer-groups both read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_task_sink_on_eight_partitions_gets_every_record_and_ends_at_lag_zero() {
    let Some(kafka) = real_kafka() else { return };
    let started = Instant::now();
    const RECORDS: usize = 200_000;
    const PARTITIONS: i32 = 8;
    let run = RunDir::new("sink-8-partitions");
    let topic = unique_name("sink8");
    let name = format!("{topic}-sink");
    let group = format!("connect-{name}");
    create_topic(&kafka, &topic, PARTITIONS).await;
    // Half before the sink starts, half while it runs.
    produce(&kafka, &topic, 0..RECORDS / 2, PARTITIONS as usize);

    let output = run.join("out.txt");
    let worker = write(
        run.join("worker.properties"),
        &format!(
            "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            run.join("connect.offsets").display()
        ),
    );
    let sink = write(
        run.join("sink.properties"),
        &format!(
            "name={name}\nconnector.class=FileStreamSink\ntasks.max=4\nfile={}\ntopics={topic}\n",
            output.display()
        ),
    );
    let log = run.join("worker.log");
    let mut w = kconnect_standalone(&[&worker, &sink], &log, "info");
    let rest = rest_address(&mut w, &log);

    // Four tasks, all running.
    let http = reqwest::Client::new();
    let status_url = format!("http://{rest}/connectors/{name}/status");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: serde_json::Value = match http.get(&status_url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.unwrap(),
            _ => serde_json::Value::Null,
        };
        let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
        if tasks.len() == 4 && tasks.iter().all(|t| t["state"] == "RUNNING") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sink's 4 tasks are not RUNNING: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (k, t) = (kafka.clone(), topic.clone());
    tokio::task::spawn_blocking(move || produce(&k, &t, RECORDS / 2..RECORDS, PARTITIONS as usize))
        .await
        .unwrap();

    let mut out = NumberedOutput::new(output, "rec-", RECORDS, PARTITIONS as usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.complete() {
        assert!(
            Instant::now() < deadline,
            "not every record arrived: {}; log {}",
            out.summary(),
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        out.update();
    }

    let end = log_end_offsets(&kafka, &topic, PARTITIONS);
    assert_eq!(
        end.iter().sum::<i64>(),
        RECORDS as i64,
        "log-end offsets {end:?}"
    );
    // The tasks commit every offset.flush.interval.ms: wait for the commit after the last put.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let committed = committed_offsets(&kafka, &group, &topic, PARTITIONS);
        if committed == end {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} committed {committed:?}, log-end offsets are {end:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Kafka's own tool sees the same offsets and lag 0. kconnect's sink tasks commit without
    // joining the group (they assign their partitions themselves), so the group has no members.
    if let Some(tool) = kafka_tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            &kafka,
            "--describe",
            "--group",
            &group,
        ],
    ) {
        let stdout = String::from_utf8_lossy(&tool.stdout);
        let stderr = String::from_utf8_lossy(&tool.stderr);
        eprintln!("kafka-consumer-groups --describe --group {group}:\n{stdout}{stderr}");
        assert!(tool.status.success(), "the tool failed: {stderr}");
        let mut rows = describe_rows(&stdout, &topic);
        rows.sort();
        assert_eq!(rows.len(), PARTITIONS as usize, "{stdout}");
        for (p, current, log_end, lag) in rows {
            let expected = end[p as usize].to_string();
            assert_eq!(
                (current.as_str(), log_end.as_str(), lag.as_str()),
                (expected.as_str(), expected.as_str(), "0"),
                "partition {p}: {stdout}"
            );
        }
    }

    w.signal(Signal::SIGTERM);
    let status = w.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM must stop cleanly, got {status:?}"
    );
    eprintln!(
        "{RECORDS} records over {PARTITIONS} partitions to 4 sink tasks: 0 lost, {}, lag 0, in {:.1?}",
        out.summary(),
        started.elapsed()
    );
}

/// The same topic creation settings on two Verifiable sources (keyed records: a compacted topic
/// refuses records without a key), one writing to a topic group `fast` takes, one to a topic
/// left to `default`. Returns the worker, its log, and the two topics once each holds all
/// `records` records.
fn run_two_sources_with_topic_creation(
    kafka: &str,
    run: &RunDir,
    worker_extra: &str,
    records: usize,
) -> (Proc, PathBuf, String, String) {
    let base = unique_name("kip158");
    let fast = format!("{base}-fast-1");
    let plain = format!("{base}-plain");
    let worker = write(
        run.join("worker.properties"),
        &format!(
            "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n{worker_extra}",
            run.join("connect.offsets").display()
        ),
    );
    let creation = format!(
        "topic.creation.default.partitions=3\n\
         topic.creation.default.replication.factor=1\n\
         topic.creation.default.cleanup.policy=compact\n\
         topic.creation.groups=fast\n\
         topic.creation.fast.include={base}-fast-.*, unused-[0-9]+\n\
         topic.creation.fast.partitions=5\n"
    );
    let connector = |name: &str, topic: &str| {
        write(
            run.join(&format!("{name}.properties")),
            &format!(
                "name={name}\nconnector.class=VerifiableSource\ntasks.max=1\ntopic={topic}\n\
                 throughput=-1\nmax.messages={records}\n{creation}"
            ),
        )
    };
    let c_fast = connector(&format!("{base}-src-fast"), &fast);
    let c_plain = connector(&format!("{base}-src-plain"), &plain);
    let log = run.join("worker.log");
    let w = kconnect_standalone(&[&worker, &c_fast, &c_plain], &log, "info");
    for topic in [&fast, &plain] {
        poll_until(
            Duration::from_secs(60),
            &format!("{records} records in {topic}; log {}", log.display()),
            || {
                let n = record_count(kafka, topic)?;
                (n == records as i64)
                    .then_some(())
                    .ok_or(format!("{n} records"))
            },
        );
    }
    (w, log, fast, plain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_topics_are_created_as_their_topic_creation_group_says() {
    let Some(kafka) = real_kafka() else { return };
    let started = Instant::now();
    let run = RunDir::new("kip158");
    // It polls with blocking clients: off the runtime's scheduling.
    let (_w, log, fast, plain) =
        tokio::task::block_in_place(|| run_two_sources_with_topic_creation(&kafka, &run, "", 100));
    // The broker alone would have made one partition and `delete` (its defaults).
    assert_eq!(
        partition_count(&kafka, &fast),
        Some(5),
        "log {}",
        log.display()
    );
    assert_eq!(
        partition_count(&kafka, &plain),
        Some(3),
        "log {}",
        log.display()
    );
    assert_eq!(
        topic_config(&kafka, &plain, "cleanup.policy").await,
        "compact"
    );
    // A group takes its partitions and replication factor from `default` when it sets none,
    // but not the default group's other configs (as in Connect).
    assert_eq!(
        topic_config(&kafka, &fast, "cleanup.policy").await,
        "delete"
    );
    assert!(
        log_contains(&log, "created topic"),
        "kconnect did not log creating the topics; log {}",
        log.display()
    );
    eprintln!("KIP-158 topic creation test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_topic_creation_disabled_the_broker_creates_source_topics() {
    let Some(kafka) = real_kafka() else { return };
    let started = Instant::now();
    let run = RunDir::new("kip158-off");
    let (_w, log, fast, plain) = tokio::task::block_in_place(|| {
        run_two_sources_with_topic_creation(&kafka, &run, "topic.creation.enable=false\n", 100)
    });
    // The broker's auto-creation made them: its num.partitions (1) and cleanup policy.
    for topic in [&fast, &plain] {
        assert_eq!(
            partition_count(&kafka, topic),
            Some(1),
            "log {}",
            log.display()
        );
        assert_eq!(
            topic_config(&kafka, topic, "cleanup.policy").await,
            "delete"
        );
    }
    assert!(
        !log_contains(&log, "created topic"),
        "kconnect created a topic with topic.creation.enable=false; log {}",
        log.display()
    );
    eprintln!(
        "topic.creation.enable=false test took {:?}",
        started.elapsed()
    );
}

// The embedded suite's pipeline runs (`tests/pipeline.rs`), on real Kafka.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipeline_file_lines_arrive_complete_and_in_order() {
    let Some(broker) = TestBroker::real() else {
        return;
    };
    pipeline_cases::file_lines_arrive_complete_and_in_order(broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipeline_a_panicking_source_task_is_restarted_and_no_line_is_lost() {
    let Some(broker) = TestBroker::real() else {
        return;
    };
    pipeline_cases::a_panicking_source_task_is_restarted_and_no_line_is_lost(broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipeline_a_panicking_sink_task_is_restarted_and_no_line_is_lost() {
    let Some(broker) = TestBroker::real() else {
        return;
    };
    pipeline_cases::a_panicking_sink_task_is_restarted_and_no_line_is_lost(broker).await;
}
