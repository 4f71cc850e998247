//! Exactly-once source tests' shared parts: `read_committed` readers that count records value
//! by value, the worker keys of a group of its own, VerifiableSource configs, and `kconnect`
//! worker processes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value as Json};

use super::kafka::{broker_configs, unique_name};
use super::procs::Proc;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// (key, value) of every record a `read_committed` consumer read, both as JSON numbers.
pub type Seen = Vec<(i64, i64)>;

/// A `read_committed` reader of a whole topic that keeps what it read.
pub struct CommittedReader {
    consumer: BaseConsumer,
    topic: String,
    partitions: i32,
    pub seen: Seen,
    /// Keys and values as text, in the order read; numbers are parsed into `seen` only when
    /// `numeric`.
    pub text: Vec<(String, String)>,
    numeric: bool,
}

impl CommittedReader {
    pub fn new(bootstrap: &str, topic: &str, partitions: i32) -> Self {
        Self::with_isolation(bootstrap, topic, partitions, "read_committed")
    }

    /// A reader that also sees the records of open and aborted transactions: what was written,
    /// as opposed to what became visible.
    pub fn uncommitted(bootstrap: &str, topic: &str, partitions: i32) -> Self {
        Self::with_isolation(bootstrap, topic, partitions, "read_uncommitted")
    }

    fn with_isolation(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", unique_name("eos-reader"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", isolation)
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        CommittedReader {
            consumer,
            topic: topic.to_string(),
            partitions,
            seen: Vec::new(),
            text: Vec::new(),
            numeric: true,
        }
    }

    /// A reader of records whose keys and values are not numbers (an offsets topic).
    pub fn text(bootstrap: &str, topic: &str, partitions: i32) -> Self {
        CommittedReader {
            numeric: false,
            ..Self::new(bootstrap, topic, partitions)
        }
    }

    /// Reads until `done` holds for what was read and the reader stands at every partition's
    /// high watermark (so every transaction written so far has ended and been read).
    pub fn read_until(&mut self, timeout: Duration, done: impl Fn(&Seen) -> bool) {
        self.read(timeout, done, true)
    }

    /// Reads until `done` holds for what was read, while records may still be coming.
    pub fn read_while_written(&mut self, timeout: Duration, done: impl Fn(&Seen) -> bool) {
        self.read(timeout, done, false)
    }

    fn read(&mut self, timeout: Duration, done: impl Fn(&Seen) -> bool, to_end: bool) {
        if !to_end && done(&self.seen) {
            return;
        }
        let deadline = Instant::now() + timeout;
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: not done after {timeout:?}; read {} records",
                self.topic,
                self.seen.len()
            );
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let text = |b: Option<&[u8]>| -> String {
                        String::from_utf8_lossy(b.unwrap_or_default()).into_owned()
                    };
                    self.text.push((text(m.key()), text(m.payload())));
                    if !self.numeric {
                        continue;
                    }
                    let num = |b: Option<&[u8]>| -> i64 {
                        let text = std::str::from_utf8(b.expect("present")).unwrap();
                        text.parse()
                            .unwrap_or_else(|_| panic!("not a number: {text:?}"))
                    };
                    let key = m.key().map_or(-1, |k| num(Some(k)));
                    self.seen.push((key, num(m.payload())));
                    if !to_end && done(&self.seen) {
                        return;
                    }
                }
                Some(Err(e)) => panic!("reading {}: {e}", self.topic),
                None if done(&self.seen) && self.at_end() => return,
                None => {}
            }
        }
    }

    pub fn at_end(&self) -> bool {
        let positions = self.consumer.position().unwrap();
        (0..self.partitions).all(|p| {
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, p, Duration::from_secs(10))
                .unwrap();
            let pos = positions
                .find_partition(&self.topic, p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(0);
            pos >= high
        })
    }
}

/// Values read per key, sorted; panics on a duplicate, naming it.
pub fn per_key_without_duplicates(seen: &Seen) -> BTreeMap<i64, Vec<i64>> {
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (k, v) in seen {
        out.entry(*k).or_default().push(*v);
    }
    for (k, vs) in out.iter_mut() {
        vs.sort();
        let n = vs.len();
        vs.dedup();
        assert_eq!(vs.len(), n, "key {k}: {} duplicates", n - vs.len());
    }
    out
}

pub fn has_all(seen: &Seen, tasks: i64, per_task: i64) -> bool {
    let mut counts: BTreeMap<i64, std::collections::BTreeSet<i64>> = BTreeMap::new();
    for (k, v) in seen {
        counts.entry(*k).or_default().insert(*v);
    }
    (0..tasks).all(|t| counts.get(&t).is_some_and(|s| s.len() as i64 >= per_task))
}

/// The worker keys of a group of its own on `kafka`, with exactly-once `support`.
pub fn worker_props(kafka: &str, name: &str, support: &str, session_ms: u128) -> String {
    format!(
        "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\ngroup.id={name}\n\
         config.storage.topic={name}-configs\noffset.storage.topic={name}-offsets\n\
         offset.storage.partitions=5\nstatus.storage.topic={name}-status\n\
         status.storage.partitions=3\nconfig.storage.replication.factor=1\n\
         offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
         session.timeout.ms={session_ms}\nheartbeat.interval.ms={}\n\
         offset.flush.interval.ms=500\nexactly.once.source.support={support}\n",
        session_ms / 6
    )
}

pub async fn session_timeout(kafka: &str) -> u128 {
    broker_configs(kafka)
        .await
        .get("group.min.session.timeout.ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000)
}

/// JSON converters without schemas: keys and values are plain numbers on the topic.
pub fn json_converters(mut config: Json) -> Json {
    for side in ["key", "value"] {
        config[format!("{side}.converter")] = json!("org.apache.kafka.connect.json.JsonConverter");
        config[format!("{side}.converter.schemas.enable")] = json!("false");
    }
    config
}

pub async fn create(http: &reqwest::Client, url: &str, name: &str, config: Json) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .post(format!("{url}/connectors"))
            .json(&json!({"name": name, "config": config}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 201 => return,
            // Before the worker joined its group it cannot forward to a leader yet.
            Ok(r) if r.status().as_u16() == 409 || r.status().is_server_error() => {
                assert!(
                    Instant::now() < deadline,
                    "create {name}: {}",
                    r.text().await.unwrap()
                );
            }
            Ok(r) => panic!("create {name}: {} {}", r.status(), r.text().await.unwrap()),
            Err(e) => assert!(Instant::now() < deadline, "create {name}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn verifiable(topic: &str, tasks: u32, per_task: u64, extra: &[(&str, &str)]) -> Json {
    let mut c = json!({
        "connector.class": "org.apache.kafka.connect.tools.VerifiableSourceConnector",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "throughput": "-1",
        "max.messages": per_task.to_string(),
    });
    for (k, v) in extra {
        c[*k] = json!(v);
    }
    json_converters(c)
}

/// Starts `kconnect distributed CONFIG`; returns it with the REST URL it printed.
pub fn spawn_worker(config: &Path, log: &Path) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "info", "distributed"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://"),
        "worker printed {url:?}; log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (Proc(child), url)
}
