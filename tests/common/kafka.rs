//! Helpers for the tests against real Apache Kafka: the broker's address (`KCONNECT_TEST_KAFKA`,
//! set by scripts/test.sh), topics, offsets, Kafka's own command-line tools, and a directory
//! under target/ that is kept when a test fails.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// The environment variable holding the real broker's address (`host:port`).
pub const KAFKA_ENV: &str = "KCONNECT_TEST_KAFKA";

const TIMEOUT: Duration = Duration::from_secs(30);

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// One line on the test process's real stderr: libtest captures `eprintln!` of passing tests,
/// and a skip must be seen.
pub fn loud(line: &str) {
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

/// The number of partitions of `topic` as the broker's metadata shows it (None: no such topic).
/// The metadata client never asks the broker to auto-create it.
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    let consumer = plain_consumer(bootstrap, None);
    let md = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    md.topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len())
}

/// How many records `topic` holds (the sum of its partitions' log-end offsets), or why that
/// cannot be told yet (no topic, partitions without a leader just after creation).
pub fn record_count(bootstrap: &str, topic: &str) -> Result<i64, String> {
    let partitions = partition_count(bootstrap, topic).ok_or("no such topic yet")?;
    let consumer = plain_consumer(bootstrap, None);
    (0..partitions as i32)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, TIMEOUT)
                .map(|(_, high)| high)
                .map_err(|e| format!("watermarks of {topic}/{p}: {e}"))
        })
        .sum()
}

/// A topic config's value as DescribeConfigs reports it (the broker's default where the topic
/// sets none).
pub async fn topic_config(bootstrap: &str, topic: &str, key: &str) -> String {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let results = admin
        .describe_configs(
            &[ResourceSpecifier::Topic(topic)],
            &AdminOptions::new().request_timeout(Some(TIMEOUT)),
        )
        .await
        .expect("DescribeConfigs");
    let resource = results
        .into_iter()
        .next()
        .expect("one result")
        .unwrap_or_else(|e| panic!("configs of {topic}: {e}"));
    resource
        .get(key)
        .and_then(|e| e.value.clone())
        .unwrap_or_else(|| panic!("topic {topic} has no config {key}"))
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

/// A broker of the test's own with a SASL_PLAINTEXT listener (SCRAM-SHA-512 user made when its
/// storage was formatted) and an SSL listener (PEM key store, certificate from a CA of its
/// own), started by `tests/kafka/start-kafka.sh start --secure` and stopped when dropped. The
/// shared broker stays plain and fast; only the security tests pay for this one.
pub struct SecureBroker {
    /// The PLAINTEXT listener, for the test's own checks.
    pub plaintext: String,
    pub sasl: String,
    pub ssl: String,
    pub user: String,
    pub password: String,
    /// The CA that signed the broker's certificate (PEM).
    pub ca: PathBuf,
    run_dir: PathBuf,
}

impl SecureBroker {
    /// Starts it, or returns None (said loudly) where `real_kafka()` skips, and where Java or
    /// Maven are missing outside CI (a broker elsewhere needs neither here, this one does).
    pub fn start() -> Option<SecureBroker> {
        real_kafka()?;
        let runs = |cmd: &str, arg: &str| {
            Command::new(cmd)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !(runs("java", "-version") && runs("mvn", "-v")) {
            assert!(
                !in_ci(),
                "java or mvn is missing but CI=true: the security tests start a broker of their own"
            );
            loud(
                "SKIPPED (no java or mvn on PATH: the security tests start a broker of their own)",
            );
            return None;
        }
        let started = Instant::now();
        let out = Command::new(rig_script())
            .args(["start", "--secure"])
            // If this test process dies without dropping us, the broker goes with it.
            .env("KAFKA_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("running tests/kafka/start-kafka.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "start-kafka.sh start --secure failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("start-kafka.sh printed no {key}: {stdout}"))
                .to_string()
        };
        let broker = SecureBroker {
            plaintext: get("KCONNECT_TEST_KAFKA"),
            sasl: get("KCONNECT_TEST_KAFKA_SASL"),
            ssl: get("KCONNECT_TEST_KAFKA_SSL"),
            user: get("KAFKA_SCRAM_USER"),
            password: get("KAFKA_SCRAM_PASSWORD"),
            ca: PathBuf::from(get("KAFKA_TLS_CA")),
            run_dir: PathBuf::from(get("KAFKA_RUN_DIR")),
        };
        loud(&format!(
            "secure broker started in {:?} (logs in {}/logs)",
            started.elapsed(),
            broker.run_dir.display()
        ));
        Some(broker)
    }
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let mut stop = Command::new(rig_script());
        stop.arg("stop").arg(&self.run_dir);
        // A failed test keeps the broker's data next to its logs.
        if std::thread::panicking() {
            stop.arg("--keep-data");
        }
        let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

fn rig_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/start-kafka.sh")
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

/// A topic's configs as DescribeConfigs reports them (name → value; unset values omitted).
pub async fn topic_configs(bootstrap: &str, topic: &str) -> BTreeMap<String, String> {
    describe(bootstrap, ResourceSpecifier::Topic(topic)).await
}

/// The configs of one of the cluster's brokers (the first the metadata names) as
/// DescribeConfigs reports them (name → value).
pub async fn broker_configs(bootstrap: &str) -> BTreeMap<String, String> {
    let broker = plain_consumer(bootstrap, None)
        .fetch_metadata(None, TIMEOUT)
        .expect("metadata")
        .brokers()
        .first()
        .expect("a broker in the metadata")
        .id();
    describe(bootstrap, ResourceSpecifier::Broker(broker)).await
}

async fn describe(bootstrap: &str, resource: ResourceSpecifier<'_>) -> BTreeMap<String, String> {
    let results = admin(bootstrap)
        .describe_configs(
            [&resource],
            &AdminOptions::new().request_timeout(Some(TIMEOUT)),
        )
        .await
        .expect("DescribeConfigs");
    let described = results
        .into_iter()
        .next()
        .expect("one DescribeConfigs result")
        .unwrap_or_else(|e| panic!("DescribeConfigs of {resource:?}: {e}"));
    described
        .entries
        .into_iter()
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}
