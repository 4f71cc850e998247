//! Exactly-once source delivery (KIP-618) in a mixed cluster: two `kconnect` workers and one
//! Java Connect worker (tests/kafka/start-connect.sh), all with
//! `exactly.once.source.support=enabled`, in one group on real Kafka (`KCONNECT_TEST_KAFKA`;
//! SKIPPED without it or without `java`, a failure under CI=true).
//!
//! Four FileStreamSource connectors (`exactly.once.support=required`; Connect's
//! VerifiableSource is not on the pinned Java classpath: Kafka 4 moved it to the
//! `connect-test-plugins` artifact) run their tasks on both kinds of worker while lines keep
//! being appended; the Java worker, running at least one as Connect's
//! `ExactlyOnceWorkerSourceTask`, is SIGKILLed and its tasks move to the kconnect workers, whose
//! producers fence Java's. A `read_committed` reader then sees every line of every file once,
//! in order.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::eos::{create, spawn_worker, CommittedReader};
use common::java_connect::{java_available, JavaConnect};
use common::kafka::{create_topic, real_kafka, unique_name};
use serde_json::{json, Value as Json};

const CONNECTORS: usize = 4;
const LINES: usize = 1_500;
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const WAIT: Duration = Duration::from_secs(90);

/// Worker keys both kinds accept (Java requires the converters): one group, its internal topics, a short session (so the
/// SIGKILLed worker's tasks move quickly; Java's `scheduled.rebalance.max.delay.ms` would
/// otherwise wait 5 minutes for it) and exactly-once source support.
fn worker_config(kafka: &str, group: &str) -> String {
    format!(
        "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\ngroup.id={group}\n\
         config.storage.topic={group}-configs\noffset.storage.topic={group}-offsets\n\
         status.storage.topic={group}-status\nconfig.storage.replication.factor=1\n\
         offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
         offset.storage.partitions=5\nstatus.storage.partitions=3\n\
         session.timeout.ms=6000\nheartbeat.interval.ms=1000\n\
         scheduled.rebalance.max.delay.ms=0\noffset.flush.interval.ms=500\n\
         exactly.once.source.support=enabled\n\
         key.converter={JSON}\nvalue.converter={JSON}\nkey.converter.schemas.enable=false\n\
         value.converter.schemas.enable=false\n"
    )
}

/// The worker id of each connector's task, once every task is RUNNING.
async fn owners(http: &reqwest::Client, url: &str, names: &[String]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for n in names {
        let s: Json = http
            .get(format!("{url}/connectors/{n}/status"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let task = s["tasks"].as_array()?.first()?;
        if task["state"] != "RUNNING" {
            return None;
        }
        out.push(task["worker_id"].as_str()?.to_string());
    }
    Some(out)
}

/// Waits until `check` holds of the task owners `url` reports; returns them.
async fn wait_owners(
    http: &reqwest::Client,
    url: &str,
    names: &[String],
    what: &str,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(o) = owners(http, url, names).await.filter(|o| check(o)) {
            return o;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Appends `line-<n>` for n in `range` to each file, one line per file every 10 ms.
fn append_lines(files: &[PathBuf], range: std::ops::Range<usize>) {
    let mut handles: Vec<std::fs::File> = files
        .iter()
        .map(|f| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .unwrap()
        })
        .collect();
    for n in range {
        for h in &mut handles {
            writeln!(h, "line-{n:05}").unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kconnect_and_java_workers_share_exactly_once_connectors_and_survive_a_java_sigkill() {
    let Some(kafka) = real_kafka() else { return };
    if !java_available() {
        return;
    }
    let started = Instant::now();
    let group = unique_name("eos-mixed");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.properties");
    std::fs::write(&config, worker_config(&kafka, &group)).unwrap();
    // kconnect starts first, so it leads: its fencing rounds serve Java's tasks too.
    let k0 = spawn_worker(&config, &dir.path().join("k0.log"));
    let java =
        tokio::task::block_in_place(|| JavaConnect::start(&kafka, "distributed", &config, &[]));
    let k1 = spawn_worker(&config, &dir.path().join("k1.log"));
    let http = reqwest::Client::new();
    let names: Vec<String> = (0..CONNECTORS).map(|i| format!("fs{i}")).collect();
    let root = dir.path().canonicalize().unwrap();
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| root.join(format!("{n}.txt")))
        .collect();
    append_lines(&files, 0..100);
    for (n, f) in names.iter().zip(&files) {
        let topic = format!("{group}-{n}");
        create_topic(&kafka, &topic, 1).await;
        let c = json!({
            "connector.class": "FileStreamSource", "tasks.max": "1",
            "file": f.to_str().unwrap(), "topic": topic,
            "exactly.once.support": "required",
        });
        create(&http, &k0.1, n, c).await;
    }

    let java_id = java.rest.trim_start_matches("http://").to_string();
    let k_ids: Vec<String> = [&k0.1, &k1.1]
        .iter()
        .map(|u| {
            u.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    let shared = wait_owners(&http, &k0.1, &names, "tasks on Java and on kconnect", |o| {
        o.contains(&java_id) && o.iter().any(|w| k_ids.contains(w))
    })
    .await;
    eprintln!("tasks on Java ({java_id}) and kconnect ({k_ids:?}): {shared:?}");
    let on_java: Vec<&String> = names
        .iter()
        .zip(&shared)
        .filter(|(_, o)| **o == java_id)
        .map(|(n, _)| n)
        .collect();
    for n in &on_java {
        let task = format!("ExactlyOnceWorkerSourceTask{{id={n}-0}}");
        assert!(
            java.log_contains(&task),
            "Java runs {n} but not as an exactly-once task; log {}",
            java.log().display()
        );
    }

    // Lines keep coming while Java's tasks copy them in transactions; Java dies among them.
    let writer = {
        let files = files.clone();
        std::thread::spawn(move || append_lines(&files, 100..LINES))
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    java.kill();
    let moved = wait_owners(&http, &k0.1, &names, "all tasks on kconnect", |o| {
        o.iter().all(|w| k_ids.contains(w))
    })
    .await;
    eprintln!("after Java's SIGKILL: {moved:?}");
    tokio::task::block_in_place(|| writer.join().unwrap());

    let want: Vec<String> = (0..LINES).map(|n| format!("\"line-{n:05}\"")).collect();
    for n in &names {
        let mut reader = CommittedReader::text(&kafka, &format!("{group}-{n}"), 1);
        // Read to the end until every line is there (more than that are duplicates).
        let deadline = Instant::now() + WAIT;
        while reader.text.len() < LINES {
            assert!(
                Instant::now() < deadline,
                "{n}: {} of {LINES} lines",
                reader.text.len()
            );
            tokio::task::block_in_place(|| reader.read_until(WAIT, |_| true));
        }
        let got: Vec<String> = reader.text.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(got.len(), LINES, "{n}: lines lost or duplicated");
        assert_eq!(got, want, "{n}: every line once, in order");
    }
    eprintln!(
        "mixed exactly-once cluster: {CONNECTORS} file sources x {LINES} lines, 0 lost, 0 \
         duplicates across Java's SIGKILL (Java ran {on_java:?}); {:?} into the test",
        started.elapsed()
    );
}
