//! Helpers for the tests against real Apache Kafka: the broker's address (`KCONNECT_TEST_KAFKA`,
//! set by scripts/test.sh), topics, offsets, Kafka's own command-line tools, and a directory
//! under target/ that is kept when a test fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// The environment variable holding the real broker's address (`host:port`).
pub const KAFKA_ENV: &str = "KCONNECT_TEST_KAFKA";

const TIMEOUT: Duration = Duration::from_secs(30);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// One line on the test process's real stderr: libtest captures `eprintln!` of passing tests,
/// and a skip must be seen.
fn loud(line: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(std::io::stderr(), "{line} [{test}]");
}

/// The real Kafka broker to test against, from `KCONNECT_TEST_KAFKA`. Without it the test
/// should return at once: this says SKIPPED, loudly. Under `CI=true` a missing broker is a
/// failure, not a skip.
pub fn real_kafka() -> Option<String> {
    match std::env::var(KAFKA_ENV) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            assert!(
                !in_ci(),
                "{KAFKA_ENV} is not set but CI=true: the real-Kafka tests must run in CI \
                 (scripts/test.sh starts the broker and sets it)"
            );
            loud("SKIPPED (no real Kafka): set KCONNECT_TEST_KAFKA or run scripts/test.sh");
            None
        }
    }
}

/// A name no earlier run used: the broker is shared by every test and outlives test runs.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{:x}", std::process::id(), nanos % (1 << 40))
}

/// Creates `topic` with `partitions` partitions (replication factor 1) and waits until every
/// partition has a leader.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
        )
        .await
        .expect("CreateTopics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
    let consumer = plain_consumer(bootstrap, None);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let ready = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|md| {
                md.topics().first().map(|t| {
                    t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                })
            })
            .unwrap_or(false);
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} has no leaders after {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn plain_consumer(bootstrap: &str, group: Option<&str>) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("enable.auto.commit", "false");
    if let Some(g) = group {
        c.set("group.id", g);
    }
    c.create().expect("consumer")
}

/// Each partition's log-end offset (the next offset to be written), partitions 0..n.
pub fn log_end_offsets(bootstrap: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer = plain_consumer(bootstrap, None);
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, TIMEOUT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{p}: {e}"))
                .1
        })
        .collect()
}

/// The offsets `group` committed for partitions 0..n of `topic` (-1 where it committed none),
/// read with OffsetFetch, as any consumer of the group would.
pub fn committed_offsets(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer = plain_consumer(bootstrap, Some(group));
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, TIMEOUT)
        .unwrap_or_else(|e| panic!("committed offsets of group {group}: {e}"));
    (0..partitions)
        .map(
            |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            },
        )
        .collect()
}

/// One record as it is on the topic: key and value bytes (`None`: null) and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// The first `count` records of partition 0 of `topic`, in offset order, read with a plain
/// rdkafka consumer (no group). Panics if fewer arrive within `timeout`.
pub fn read_partition(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Vec<RawRecord> {
    use rdkafka::message::{Headers as _, Message as _};
    // librdkafka refuses assign() without a group.id, though nothing is committed to it.
    let consumer = plain_consumer(bootstrap, Some(&unique_name("kconnect-test-reader")));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records of {topic} arrived within {timeout:?}",
            out.len()
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap_or_else(|e| panic!("reading {topic}: {e}"));
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        out.push(RawRecord {
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    out
}

/// Runs one of Kafka's command-line tools (a main class of the pinned Kafka in
/// tests/kafka/pom.xml) through tests/kafka/run-class.sh. None, said loudly, when `java` is not
/// installed (only allowed outside CI: a broker from elsewhere needs no Java here).
pub fn kafka_tool(class: &str, args: &[&str]) -> Option<Output> {
    let has_java = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_java {
        assert!(
            !in_ci(),
            "java is missing but CI=true: Kafka's tools must run"
        );
        loud(&format!("SKIPPED {class} (no java on PATH)"));
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/run-class.sh");
    Some(
        Command::new(script)
            .arg(class)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {class}: {e}")),
    )
}

/// A directory under target/tmp for one test run. Removed when the test passes; kept, and
/// named on stderr, when it fails, for its logs.
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new(name: &str) -> RunDir {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("real-kafka")
            .join(unique_name(name));
        std::fs::create_dir_all(&path).unwrap();
        RunDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            loud(&format!("kept {} for inspection", self.0.display()));
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
