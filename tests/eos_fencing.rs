//! Zombie fencing for exactly-once source connectors (KIP-618) on real Kafka
//! (`KCONNECT_TEST_KAFKA`; SKIPPED without it, a failure under CI=true).
//!
//! - A transactional producer that began a transaction before its id was fenced can no longer
//!   commit, and nothing it wrote reaches a `read_committed` reader.
//! - Two `kconnect distributed` workers with `exactly.once.source.support=enabled`: the leader
//!   writes the task count record before any task of a new connector runs, and when the task
//!   configs change it fences the previous generation's producers first (a zombie producer
//!   holding a task's transactional id cannot commit afterwards).
//! - `PUT /connectors/{c}/fence` on a follower: refused unsigned (400) or wrongly signed (403)
//!   in a sessioned group, forwarded to the leader when signed.
//!
//! Workers here run the at-least-once task runtime: only the fencing around it is under test.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kafka::{broker_configs, create_topic, real_kafka, unique_name};
use common::procs::Proc;
use kconnect_actors::distributed::fencing::{fence_producers, transactional_id};
use kconnect_actors::distributed::signature;
use kconnect_actors::storage::kafka::{ConfigRecord, SessionKey};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");
const TIMEOUT: Duration = Duration::from_secs(30);

/// The cluster tests run worker processes; one at a time keeps their timing honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A transactional producer for `id` with its transaction begun and one record sent (and
/// acknowledged) to `topic`: what a task that lost its assignment but still runs looks like.
fn zombie(kafka: &str, id: &str, topic: &str) -> BaseProducer {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("transactional.id", id)
        .create()
        .expect("zombie producer");
    producer
        .init_transactions(TIMEOUT)
        .expect("init_transactions");
    producer.begin_transaction().expect("begin_transaction");
    producer
        .send(
            BaseRecord::to(topic)
                .key("zombie")
                .payload("written before the fence"),
        )
        .map_err(|(e, _)| e)
        .expect("send");
    producer
        .flush(TIMEOUT)
        .expect("the zombie's record is acknowledged");
    producer
}

/// The commit of a fenced producer fails, and says it was fenced.
fn assert_commit_fenced(producer: &BaseProducer) {
    let e = producer
        .commit_transaction(TIMEOUT)
        .expect_err("a fenced producer committed its transaction");
    let code = match &e {
        KafkaError::Transaction(e) => e.code(),
        other => panic!("not a transaction error: {other:?}"),
    };
    assert!(
        matches!(
            code,
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
        ),
        "the commit failed, but not as fenced: {e}"
    );
}

/// A record as read: (offset, key, value, timestamp ms).
type Read = (i64, Option<String>, Option<Vec<u8>>, i64);

/// Every record of partition 0 of `topic` as a reader with `isolation` sees it, read to the
/// end.
fn read_all(kafka: &str, topic: &str, isolation: &str) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("group.id", unique_name("eos-fencing-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "{topic} was not read to its end");
        match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => out.push((
                m.offset(),
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                m.payload().map(<[u8]>::to_vec),
                m.timestamp().to_millis().unwrap_or(-1),
            )),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_begun_before_the_fence_never_commits_nor_shows() {
    let Some(kafka) = real_kafka() else { return };
    let topic = unique_name("eos-fence-one");
    create_topic(&kafka, &topic, 1).await;
    let group = unique_name("eos-group");
    let ids: Vec<String> = (0..3).map(|t| transactional_id(&group, "src", t)).collect();
    // Tasks 0 and 2 of the old generation are zombies with open transactions; task 1 never
    // started (fencing an id with no producer is not an error).
    let zombies = [
        zombie(&kafka, &ids[0], &topic),
        zombie(&kafka, &ids[2], &topic),
    ];
    let uncommitted = read_all(&kafka, &topic, "read_uncommitted");
    assert_eq!(uncommitted.len(), 2, "both zombies wrote: {uncommitted:?}");

    let client = [("bootstrap.servers".to_string(), kafka.clone())]
        .into_iter()
        .collect();
    let started = Instant::now();
    fence_producers(&client, ids.clone(), TIMEOUT)
        .await
        .expect("fencing");
    eprintln!(
        "fencing 3 transactional ids (2 with open transactions) took {:?}",
        started.elapsed()
    );

    for z in &zombies {
        assert_commit_fenced(z);
    }
    assert_eq!(
        read_all(&kafka, &topic, "read_committed"),
        vec![],
        "a read_committed reader sees nothing of the fenced transactions"
    );
    // The new generation's producer with the same id works: fencing is no ban.
    let next = zombie(&kafka, &ids[0], &topic);
    next.commit_transaction(TIMEOUT)
        .expect("the new producer commits");
    let committed = read_all(&kafka, &topic, "read_committed");
    assert_eq!(committed.len(), 1, "{committed:?}");
    assert_eq!(committed[0].1.as_deref(), Some("zombie"));
}

/// Starts `kconnect distributed CONFIG` with its log in `log`; returns it and its REST URL.
fn spawn_worker(config: &Path, log: &Path) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "info"])
        .arg("distributed")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), line.trim().to_string())
}

struct Cluster {
    dir: tempfile::TempDir,
    workers: Vec<(Proc, String)>,
    name: String,
    http: reqwest::Client,
}

impl Cluster {
    /// Two workers, exactly-once source support enabled, the sessioned protocol, internal
    /// topics of their own.
    async fn start(kafka: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let name = unique_name("eos-fence");
        let session: u64 = broker_configs(kafka)
            .await
            .get("group.min.session.timeout.ms")
            .and_then(|v| v.parse().ok())
            .expect("group.min.session.timeout.ms");
        let config = format!(
            "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\ngroup.id={name}\n\
             config.storage.topic={name}-configs\noffset.storage.topic={name}-offsets\n\
             status.storage.topic={name}-status\nconfig.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
             connect.protocol=sessioned\nexactly.once.source.support=enabled\n\
             session.timeout.ms={session}\nheartbeat.interval.ms={}\n\
             offset.flush.interval.ms=300\n",
            session / 6
        );
        let file = dir.path().join("worker.properties");
        std::fs::write(&file, config).unwrap();
        let workers = (0..2)
            .map(|i| spawn_worker(&file, &dir.path().join(format!("worker-{i}.log"))))
            .collect();
        let c = Cluster {
            dir,
            workers,
            name,
            http: reqwest::Client::new(),
        };
        c.wait_joined().await;
        c
    }

    fn logs(&self) -> String {
        (0..self.workers.len())
            .map(|i| {
                let log = self.dir.path().join(format!("worker-{i}.log"));
                format!(
                    "--- worker {i} ---\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .collect()
    }

    async fn get(&self, worker: usize, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.workers[worker].1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    async fn wait_joined(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for i in 0..self.workers.len() {
            while !self.get(i, "/admin/worker").await["cluster"]["leader_url"].is_string() {
                assert!(
                    Instant::now() < deadline,
                    "worker {i} never joined\n{}",
                    self.logs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The worker that is not the leader.
    async fn follower(&self) -> usize {
        for i in 0..self.workers.len() {
            if self.get(i, "/admin/worker").await["cluster"]["leader"] == json!(false) {
                return i;
            }
        }
        panic!("no follower\n{}", self.logs())
    }

    /// Waits until `tasks` tasks of `connector` are RUNNING.
    async fn wait_running(&self, connector: &str, tasks: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self
                .get(0, &format!("/connectors/{connector}/status"))
                .await;
            let running = s["tasks"]
                .as_array()
                .map(|ts| ts.iter().filter(|t| t["state"] == "RUNNING").count())
                .unwrap_or(0);
            if running == tasks && s["tasks"].as_array().map(Vec::len) == Some(tasks) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{connector}: not {tasks} RUNNING tasks: {s}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The decoded records of the config topic, with offsets and timestamps.
    fn config_records(&self, kafka: &str) -> Vec<(i64, ConfigRecord, i64)> {
        read_all(kafka, &format!("{}-configs", self.name), "read_committed")
            .into_iter()
            .filter_map(|(offset, key, value, ts)| {
                let record = ConfigRecord::decode(&key?, value.as_deref()).ok()?;
                Some((offset, record, ts))
            })
            .collect()
    }

    /// Waits for the task count record `count` of `connector`; returns its offset and time.
    async fn wait_task_count_record(&self, kafka: &str, connector: &str, count: u32) -> (i64, i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .config_records(kafka)
                .into_iter()
                .find_map(|(o, r, ts)| {
                    (r == ConfigRecord::TaskCount {
                        connector: connector.into(),
                        task_count: count,
                    })
                    .then_some((o, ts))
                });
            if let Some(found) = found {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no task count record {count} for {connector}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `PUT /connectors/{c}/fence` on `worker`, signed with `key` if given.
    async fn fence(
        &self,
        worker: usize,
        connector: &str,
        key: Option<&SessionKey>,
        query: &str,
    ) -> (u16, String) {
        let mut request = self.http.put(format!(
            "{}/connectors/{connector}/fence{query}",
            self.workers[worker].1
        ));
        if let Some(key) = key {
            let (sig, alg) = signature::sign(key, b"").unwrap();
            request = request
                .header(signature::SIGNATURE_HEADER, sig)
                .header(signature::ALGORITHM_HEADER, alg);
        }
        let r = request.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// The first RUNNING status of any task of `connector` on the status topic: its timestamp.
fn first_task_running(kafka: &str, status_topic: &str, connector: &str) -> Option<i64> {
    let prefix = format!("status-task-{connector}-");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("group.id", unique_name("eos-fencing-status"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(status_topic), TIMEOUT)
        .unwrap();
    let partitions = md.topics()[0].partitions().len();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(status_topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut at_end, mut first) = (0, None::<i64>);
    let deadline = Instant::now() + TIMEOUT;
    while at_end < partitions {
        assert!(
            Instant::now() < deadline,
            "{status_topic} not read to its end"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
            Some(Err(e)) => panic!("{e}"),
            Some(Ok(m)) => {
                let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                let running = m
                    .payload()
                    .and_then(|v| serde_json::from_slice::<Value>(v).ok())
                    .is_some_and(|v| v["state"] == "RUNNING");
                if key.starts_with(&prefix) && running {
                    let ts = m.timestamp().to_millis().unwrap_or(i64::MAX);
                    first = Some(first.map_or(ts, |f| f.min(ts)));
                }
            }
        }
    }
    first
}

/// The leader's fencing with real worker processes: the first task count record comes before
/// any task runs; a config change fences the producers of the previous generation (a zombie
/// holding one of their ids cannot commit, nothing of it is visible) before the new record.
#[tokio::test(flavor = "multi_thread")]
async fn the_leader_fences_the_previous_generation_before_new_tasks_start() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(&kafka).await;
    let seq = format!("{}-seq", c.name);
    create_topic(&kafka, &seq, 2).await;
    let config = |tasks: u32| {
        json!({
            "connector.class": "VerifiableSource",
            "tasks.max": tasks.to_string(),
            "topic": seq,
            "throughput": "50",
        })
    };
    let r = c
        .http
        .post(format!("{}/connectors", c.workers[0].1))
        .json(&json!({"name": "src", "config": config(2)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    c.wait_running("src", 2).await;

    // The first generation: no fencing needed (no producer can exist), but the record is
    // written after the commit and before any task of it ran.
    let records = c.config_records(&kafka);
    let commit_at = records
        .iter()
        .find(|(_, r, _)| {
            *r == ConfigRecord::Commit {
                connector: "src".into(),
                tasks: 2,
            }
        })
        .map(|(o, _, _)| *o)
        .expect("the commit of 2 tasks");
    let (count_at, count_ts) = c.wait_task_count_record(&kafka, "src", 2).await;
    assert!(count_at > commit_at, "the record follows the commit");
    let running_ts = first_task_running(&kafka, &format!("{}-status", c.name), "src")
        .expect("a RUNNING task status");
    assert!(
        count_ts <= running_ts,
        "a task ran ({running_ts}) before the task count record ({count_ts})"
    );

    // A zombie of the running generation: task 1's transactional id, a transaction open.
    let zombie_topic = format!("{}-zombie", c.name);
    create_topic(&kafka, &zombie_topic, 1).await;
    let zombie = zombie(&kafka, &transactional_id(&c.name, "src", 1), &zombie_topic);

    // New task configs (3 tasks), sent to the follower: the leader must fence ids 0 and 1.
    let follower = c.follower().await;
    let r = c
        .http
        .put(format!("{}/connectors/src/config", c.workers[follower].1))
        .json(&config(3))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let changed = Instant::now();
    c.wait_task_count_record(&kafka, "src", 3).await;
    eprintln!(
        "config change to the task count record after fencing 2 tasks: {:?}",
        changed.elapsed()
    );
    c.wait_running("src", 3).await;
    assert_commit_fenced(&zombie);
    assert_eq!(
        read_all(&kafka, &zombie_topic, "read_committed"),
        vec![],
        "nothing the zombie wrote is visible to read_committed"
    );
    assert_eq!(
        read_all(&kafka, &zombie_topic, "read_uncommitted").len(),
        1,
        "the zombie did write"
    );
}

/// The internal endpoint on a follower of a sessioned group: the follower checks the signature
/// (as Connect's workers do), then forwards to the leader, which answers.
#[tokio::test(flavor = "multi_thread")]
async fn the_fence_endpoint_is_signed_and_forwarded_to_the_leader() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(&kafka).await;
    let seq = format!("{}-seq", c.name);
    create_topic(&kafka, &seq, 1).await;
    for (name, class, topic_key) in [
        ("src", "VerifiableSource", "topic"),
        ("snk", "VerifiableSink", "topics"),
    ] {
        let r = c
            .http
            .post(format!("{}/connectors", c.workers[0].1))
            .json(&json!({"name": name, "config": {
                "connector.class": class, "tasks.max": "1", topic_key: seq,
                "verifiable.sink.file": c.dir.path().join("sink.out").display().to_string(),
            }}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }
    c.wait_running("src", 1).await;
    let key = c
        .config_records(&kafka)
        .into_iter()
        .rev()
        .find_map(|(_, r, _)| match r {
            ConfigRecord::SessionKey(k) => Some(k),
            _ => None,
        })
        .expect("the leader wrote a session key");
    let follower = c.follower().await;

    let (status, body) = c.fence(follower, "src", None, "").await;
    assert_eq!(status, 400, "unsigned: {body}");
    assert!(
        body.contains("Internal request missing required signature"),
        "{body}"
    );
    let wrong = SessionKey {
        key: "d3Jvbmcga2V5IGJ5dGVzIGZvciB0aGUgdGVzdCEhISE=".into(),
        ..key.clone()
    };
    let (status, body) = c.fence(follower, "src", Some(&wrong), "").await;
    assert_eq!(status, 403, "wrongly signed: {body}");
    assert!(
        body.contains("Internal request contained invalid signature"),
        "{body}"
    );

    // Signed: forwarded to the leader, which fences (nothing left to fence: 204).
    let (status, body) = c.fence(follower, "src", Some(&key), "").await;
    assert_eq!(status, 204, "signed: {body}");
    // What only the leader answers, through the follower: unknown connectors, sinks.
    let (status, body) = c.fence(follower, "nope", Some(&key), "").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Connector nope not found"), "{body}");
    let (status, body) = c.fence(follower, "snk", Some(&key), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Connector snk is not a source connector"),
        "{body}"
    );
    // A request that was already forwarded is not forwarded again (Connect's 409).
    let (status, body) = c.fence(follower, "src", Some(&key), "?forward=false").await;
    assert_eq!(status, 409, "{body}");
}
