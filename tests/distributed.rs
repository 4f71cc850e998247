//! Distributed mode with real worker processes: `kconnect distributed` workers that coordinate
//! only through a `kconnect broker` process. Work is balanced, survives a SIGKILLed worker and a
//! rolling restart without losing a record, moves minimally when a worker joins, and every
//! worker answers every REST request.
//!
//! The embedded broker ends each rebalance only when its timer fires (session.timeout.ms − 1 s),
//! so the workers here use a 3 s session.
//!
//! The `real_kafka_*` tests run the same scenarios against real Apache Kafka
//! (`KCONNECT_TEST_KAFKA`, see tests/common/kafka.rs): the workers create their internal topics
//! themselves, and every test uses a group and topics of its own since the broker is shared.
//! Without a broker they say SKIPPED; under CI=true they fail.

mod common;

use common::kafka::{
    broker_configs, create_topic, partition_count, real_kafka, topic_configs, unique_name,
};
use common::procs::{report, Proc};

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kconnect_connectors::builtin::verifiable::VerifiableReport;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");
const SESSION_MS: u64 = 3000;

/// Every test here runs several processes; one at a time keeps their timing honest on a small
/// machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts `kconnect distributed CONFIG` and returns it with the REST URL it printed.
fn spawn_worker(config: &Path, stderr: Stdio) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "info"])
        .arg("distributed")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), line.trim().to_string())
}

/// A broker process and the workers of one group, with a scratch folder.
struct Cluster {
    dir: tempfile::TempDir,
    /// The `kconnect broker` process; none on real Kafka.
    broker: Option<Proc>,
    config: PathBuf,
    /// The topic the Verifiable connectors use.
    seq: String,
    /// The workers' session.timeout.ms.
    session: Duration,
    workers: Vec<Worker>,
    started: usize,
    http: reqwest::Client,
}

struct Worker {
    proc: Proc,
    url: String,
    log: PathBuf,
}

impl Cluster {
    /// Starts the broker with the internal topics and `topics`, then `n` workers.
    async fn start(n: usize, topics: &[&str]) -> Cluster {
        Self::start_with(
            n,
            topics,
            "listeners=http://127.0.0.1:0\n",
            reqwest::Client::new(),
        )
        .await
    }

    /// Like [`Cluster::start`], with more worker config lines (`listeners` among them) and the
    /// test's HTTP client.
    async fn start_with(n: usize, topics: &[&str], extra: &str, http: reqwest::Client) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("broker");
        for t in ["connect-configs:1", "connect-offsets:5", "connect-status:3"]
            .iter()
            .chain(topics)
        {
            cmd.args(["--topic", t]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().to_string();
        let config = format!(
            "bootstrap.servers={addr}\n{extra}group.id=test-cluster\n\
             config.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n\
             offset.storage.partitions=5\nstatus.storage.topic=connect-status\n\
             status.storage.partitions=3\nsession.timeout.ms={SESSION_MS}\n\
             heartbeat.interval.ms=500\noffset.flush.interval.ms=300\n"
        );
        let session = Duration::from_millis(SESSION_MS);
        Self::with_workers(dir, Some(Proc(child)), &config, "seq", session, n, http)
    }

    /// `n` workers on the real Kafka broker at `kafka`, in a group of their own with internal
    /// topics of their own (`<name>-configs`, `-offsets` with 5 partitions, `-status` with 3),
    /// which the workers create. The Verifiable topic `<name>-seq` gets `seq_partitions`.
    /// Returns the cluster and `<name>`.
    async fn start_real(kafka: &str, n: usize, seq_partitions: i32) -> (Cluster, String) {
        let dir = tempfile::tempdir().unwrap();
        let name = unique_name("dist");
        let seq = format!("{name}-seq");
        create_topic(kafka, &seq, seq_partitions).await;
        let session = real_session_timeout(kafka).await;
        let config = format!(
            "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\ngroup.id={name}\n\
             config.storage.topic={name}-configs\noffset.storage.topic={name}-offsets\n\
             offset.storage.partitions=5\nstatus.storage.topic={name}-status\n\
             status.storage.partitions=3\nconfig.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
             session.timeout.ms={}\nheartbeat.interval.ms={}\noffset.flush.interval.ms=300\n",
            session.as_millis(),
            (session / 6).as_millis()
        );
        let c = Self::with_workers(dir, None, &config, &seq, session, n, reqwest::Client::new());
        (c, name)
    }

    fn with_workers(
        dir: tempfile::TempDir,
        broker: Option<Proc>,
        config: &str,
        seq: &str,
        session: Duration,
        n: usize,
        http: reqwest::Client,
    ) -> Cluster {
        let file = dir.path().join("worker.properties");
        std::fs::write(&file, config).unwrap();
        let mut c = Cluster {
            dir,
            broker,
            config: file,
            seq: seq.to_string(),
            session,
            workers: Vec::new(),
            started: 0,
            http,
        };
        for _ in 0..n {
            c.add_worker();
        }
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts one more worker and waits until its REST API listens.
    fn add_worker(&mut self) -> usize {
        let log = self.path(&format!("worker-{}.log", self.started));
        self.started += 1;
        let (proc, url) = spawn_worker(&self.config, std::fs::File::create(&log).unwrap().into());
        assert!(
            url.contains("://127.0.0.1:"),
            "worker printed {url:?}; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.workers.push(Worker { proc, url, log });
        self.workers.len() - 1
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .map(|w| {
                format!(
                    "--- {} ---\n{}",
                    w.url,
                    std::fs::read_to_string(&w.log).unwrap_or_default()
                )
            })
            .collect()
    }

    async fn get(&self, worker: usize, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.workers[worker].url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until every worker has an assignment (it knows the leader).
    async fn wait_joined(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 0..self.workers.len() {
            loop {
                let (_, v) = self.get(i, "/admin/worker").await;
                if v["cluster"]["leader_url"].is_string() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "worker {i} never joined\n{}",
                    self.logs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    async fn create(&self, worker: usize, name: &str, config: Value) {
        self.wait_joined().await;
        let r = self
            .http
            .post(format!("{}/connectors", self.workers[worker].url))
            .json(&json!({"name": name, "config": config}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 201, "create {name}: {body}");
    }

    /// What each worker runs: (connector instances, task → actor id).
    async fn local_work(&self) -> Vec<(BTreeSet<String>, BTreeMap<(String, u64), String>)> {
        let mut out = Vec::new();
        for i in 0..self.workers.len() {
            let (_, v) = self.get(i, "/admin/worker").await;
            let connectors = v["connectors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let tasks = v["tasks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            (
                                (
                                    t["connector"].as_str().unwrap().to_string(),
                                    t["task"].as_u64().unwrap(),
                                ),
                                t["actor"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((connectors, tasks));
        }
        out
    }

    /// Waits until the workers together run every connector in `expected` (name → task count)
    /// once, each task exactly once, RUNNING, with task counts per worker differing by at most
    /// one; returns the local work.
    async fn wait_balanced(
        &self,
        expected: &BTreeMap<&str, u64>,
        timeout: Duration,
    ) -> Vec<(BTreeSet<String>, BTreeMap<(String, u64), String>)> {
        let deadline = Instant::now() + timeout;
        loop {
            let work = self.local_work().await;
            let mut tasks: Vec<(String, u64)> =
                work.iter().flat_map(|(_, t)| t.keys().cloned()).collect();
            tasks.sort();
            let want: Vec<(String, u64)> = expected
                .iter()
                .flat_map(|(c, n)| (0..*n).map(move |t| (c.to_string(), t)))
                .collect();
            let mut connectors: Vec<String> =
                work.iter().flat_map(|(c, _)| c.iter().cloned()).collect();
            connectors.sort();
            let want_connectors: Vec<String> = expected.keys().map(|c| c.to_string()).collect();
            let counts: Vec<usize> = work.iter().map(|(_, t)| t.len()).collect();
            let spread = counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0);
            let ccounts: Vec<usize> = work.iter().map(|(c, _)| c.len()).collect();
            let cspread = ccounts.iter().max().unwrap_or(&0) - ccounts.iter().min().unwrap_or(&0);
            let mut running = true;
            for name in expected.keys() {
                running &= self.all_running(0, name, expected[name]).await;
            }
            if tasks == want
                && connectors == want_connectors
                && spread <= 1
                && cspread <= 1
                && running
            {
                return work;
            }
            let last = format!("tasks per worker {counts:?}, connectors per worker {ccounts:?}, tasks {tasks:?}, running {running}");
            assert!(
                Instant::now() < deadline,
                "not balanced within {timeout:?}: {last}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The connector and `tasks` tasks are RUNNING, as worker `via` reports it.
    async fn all_running(&self, via: usize, name: &str, tasks: u64) -> bool {
        let (code, s) = self.get(via, &format!("/connectors/{name}/status")).await;
        code == 200
            && s["connector"]["state"] == "RUNNING"
            && s["tasks"].as_array().is_some_and(|t| {
                t.len() as u64 == tasks && t.iter().all(|t| t["state"] == "RUNNING")
            })
    }
}

async fn wait_report(
    base: &Path,
    timeout: Duration,
    cond: impl Fn(&VerifiableReport) -> bool,
) -> VerifiableReport {
    let deadline = Instant::now() + timeout;
    loop {
        let r = report(base);
        if cond(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; received {}",
            r.total_received()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn source(topic: &str, tasks: u32, per_task: u64, throughput: u32) -> Value {
    json!({
        "connector.class": "VerifiableSource",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "throughput": throughput.to_string(),
        "max.messages": per_task.to_string(),
    })
}

fn sink(topic: &str, tasks: u32, file: &Path) -> Value {
    json!({
        "connector.class": "VerifiableSink",
        "tasks.max": tasks.to_string(),
        "topics": topic,
        "verifiable.sink.file": file.display().to_string(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_split_two_connectors_of_four_tasks_evenly() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, &["seq:4"]).await;
    let out = c.path("sink.out");
    c.create(0, "src", source(&c.seq, 4, 1_000_000, 100)).await;
    c.create(0, "snk", sink(&c.seq, 4, &out)).await;
    let expected = BTreeMap::from([("src", 4), ("snk", 4)]);
    let work = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    let mut counts: Vec<usize> = work.iter().map(|(_, t)| t.len()).collect();
    counts.sort();
    assert_eq!(counts, vec![2, 3, 3], "8 tasks over 3 workers");
    let mut connectors: Vec<usize> = work.iter().map(|(c, _)| c.len()).collect();
    connectors.sort();
    assert_eq!(connectors, vec![0, 1, 1], "2 connectors over 3 workers");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_created_through_one_worker_is_visible_through_every_worker() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, &["seq:2"]).await;
    // Through a worker that may not be the leader (create waits for the group to form).
    c.create(2, "src", source(&c.seq, 2, 1_000_000, 100)).await;
    for via in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.all_running(via, "src", 2).await {
            assert!(
                Instant::now() < deadline,
                "src not RUNNING via worker {via}\n{}",
                c.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (code, list) = c.get(via, "/connectors").await;
        assert_eq!((code, list), (200, json!(["src"])));
        let (code, info) = c.get(via, "/connectors/src").await;
        assert_eq!(code, 200);
        assert_eq!(info["config"]["connector.class"], "VerifiableSource");
        assert_eq!(info["tasks"].as_array().unwrap().len(), 2);
        let (code, tasks) = c.get(via, "/connectors/src/tasks").await;
        assert_eq!(code, 200);
        assert_eq!(tasks.as_array().unwrap().len(), 2);
    }
    // Active topics come from the status topic: every worker sees them, and a reset through
    // one worker clears them for all.
    for via in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, t) = c.get(via, "/connectors/src/topics").await;
            if t == json!({"src": {"topics": ["seq"]}}) {
                break;
            }
            assert!(Instant::now() < deadline, "topics via worker {via}: {t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let r = c
        .http
        .put(format!("{}/connectors/src/topics/reset", c.workers[1].url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    for via in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, t) = c.get(via, "/connectors/src/topics").await;
            if t == json!({"src": {"topics": []}}) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "topics via worker {via} after reset: {t}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Restarting one task through any worker reaches the worker running it.
    for via in 0..3 {
        let r = c
            .http
            .post(format!(
                "{}/connectors/src/tasks/1/restart",
                c.workers[via].url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            204,
            "via {via}: {}",
            r.text().await.unwrap()
        );
    }
    // A write through a follower reaches the leader.
    let r = c
        .http
        .delete(format!("{}/connectors/src", c.workers[1].url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
    for via in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, _) = c.get(via, "/connectors/src").await;
            if code == 404 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "src still visible via worker {via}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

type Work = Vec<(BTreeSet<String>, BTreeMap<(String, u64), String>)>;

/// Adds a worker to a cluster balanced as `before` and waits until the work is balanced again
/// with some of it on the new worker. Tasks that stayed on their worker must be the very same
/// task actors (never restarted). Returns how many tasks moved, the work after, and the time
/// from the new worker's start to the balance.
async fn join_one_more(
    c: &mut Cluster,
    expected: &BTreeMap<&str, u64>,
    before: &Work,
) -> (usize, Work, Duration) {
    let started = Instant::now();
    let new = c.add_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let after = c.wait_balanced(expected, Duration::from_secs(60)).await;
        if !after[new].1.is_empty() {
            break after;
        }
        assert!(
            Instant::now() < deadline,
            "the new worker got no work\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed();
    let mut moved = 0;
    for (w, (_, tasks)) in before.iter().enumerate() {
        for (task, actor) in tasks {
            match after[w].1.get(task) {
                // Still on the same worker: the very same task actor, never restarted.
                Some(now) => assert_eq!(now, actor, "task {task:?} was restarted"),
                None => moved += 1,
            }
        }
    }
    (moved, after, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_joining_worker_takes_only_the_work_it_needs_and_the_rest_keeps_running() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(2, &["seq:4"]).await;
    let out = c.path("sink.out");
    c.create(0, "src", source(&c.seq, 4, 1_000_000, 100)).await;
    c.create(0, "snk", sink(&c.seq, 4, &out)).await;
    let expected = BTreeMap::from([("src", 4), ("snk", 4)]);
    let before = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    let (moved, after, _) = join_one_more(&mut c, &expected, &before).await;
    // 4/4 → 3/3/2 needs two tasks to move, and no connector.
    assert_eq!(moved, 2, "before {before:?}\nafter {after:?}");
    assert_eq!(after[2].1.len(), 2);
    assert!(after[2].0.is_empty(), "a connector moved: {after:?}");
}

/// SIGKILLs the worker running the most tasks in `work`, and returns the time until every
/// connector and task of `expected` is RUNNING on another worker, as a survivor reports it.
async fn kill_busiest(c: &Cluster, work: &Work, expected: &BTreeMap<&str, u64>) -> Duration {
    let victim = (0..c.workers.len())
        .max_by_key(|w| work[*w].1.len())
        .unwrap();
    let victim_url = c.workers[victim].url.clone();
    let victim_id = victim_url.trim_start_matches("http://").to_string();
    c.workers[victim].proc.signal(Signal::SIGKILL);
    let killed = Instant::now();
    let survivor = (0..c.workers.len()).find(|w| *w != victim).unwrap();
    // The coordinator drops the victim after the session timeout; one rebalance follows.
    let deadline = killed + c.session + Duration::from_secs(10);
    loop {
        let mut moved = true;
        for (name, n) in expected {
            let (code, s) = c.get(survivor, &format!("/connectors/{name}/status")).await;
            moved &= code == 200
                && s["connector"]["state"] == "RUNNING"
                && s["connector"]["worker_id"] != victim_id.as_str()
                && s["tasks"].as_array().is_some_and(|t| {
                    t.len() as u64 == *n
                        && t.iter().all(|t| {
                            t["state"] == "RUNNING" && t["worker_id"] != victim_id.as_str()
                        })
                });
        }
        if moved {
            return killed.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the killed worker's work did not move within session.timeout.ms + 10 s\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkilled_worker_s_tasks_move_within_the_session_timeout_and_no_record_is_lost() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, &["seq:3"]).await;
    let out = c.path("sink.out");
    const PER_TASK: u64 = 8_000;
    c.create(0, "src", source(&c.seq, 3, PER_TASK, 800)).await;
    c.create(0, "snk", sink(&c.seq, 3, &out)).await;
    let expected = BTreeMap::from([("src", 3), ("snk", 3)]);
    let work = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    wait_report(&out, Duration::from_secs(60), |r| {
        r.total_received() >= 1_500
    })
    .await;
    let moved = kill_busiest(&c, &work, &expected).await;
    eprintln!("work moved {moved:?} after the SIGKILL");
    let expected_seqnos: BTreeMap<u32, u64> = (0..3).map(|t| (t, PER_TASK)).collect();
    let r = wait_report(&out, Duration::from_secs(120), |r| {
        r.total_lost(&expected_seqnos) == 0
    })
    .await;
    assert_eq!(r.total_lost(&expected_seqnos), 0);
    eprintln!(
        "0 lost, {} duplicates, {} malformed lines",
        r.total_duplicates(),
        r.malformed_lines
    );
}

/// SIGTERMs each worker in turn (it stops its tasks, committing, and leaves), starts a new one
/// in its place and waits for the balance. Returns the time each of those steps took.
async fn rolling_restart(c: &mut Cluster, expected: &BTreeMap<&str, u64>) -> Vec<Duration> {
    let mut steps = Vec::new();
    for i in 0..c.workers.len() {
        let started = Instant::now();
        c.workers[i].proc.signal(Signal::SIGTERM);
        let exit = c.workers[i].proc.0.wait().unwrap();
        assert!(exit.success(), "worker {i} exited with {exit:?}");
        let new = c.add_worker();
        c.workers.swap(i, new);
        c.workers.pop();
        c.wait_balanced(expected, Duration::from_secs(60)).await;
        steps.push(started.elapsed());
    }
    steps
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_restart_of_every_worker_loses_no_record() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, &["seq:2"]).await;
    let out = c.path("sink.out");
    const PER_TASK: u64 = 10_000;
    c.create(0, "src", source(&c.seq, 2, PER_TASK, 500)).await;
    c.create(0, "snk", sink(&c.seq, 2, &out)).await;
    let expected = BTreeMap::from([("src", 2), ("snk", 2)]);
    c.wait_balanced(&expected, Duration::from_secs(60)).await;
    rolling_restart(&mut c, &expected).await;
    let expected_seqnos: BTreeMap<u32, u64> = (0..2).map(|t| (t, PER_TASK)).collect();
    let r = wait_report(&out, Duration::from_secs(120), |r| {
        r.total_lost(&expected_seqnos) == 0
    })
    .await;
    assert_eq!(r.total_lost(&expected_seqnos), 0);
    eprintln!(
        "rolling restart: 0 lost, {} duplicates",
        r.total_duplicates()
    );
    assert!(
        report(&out).total_received() < PER_TASK * 2 * 3,
        "far more duplicates than records"
    );
}

/// The session timeout for workers on real Kafka: the broker's `group.min.session.timeout.ms`
/// (6000 by default), the shortest it accepts, so a SIGKILLed worker is noticed soonest.
async fn real_session_timeout(kafka: &str) -> Duration {
    let configs = broker_configs(kafka).await;
    let min: u64 = configs
        .get("group.min.session.timeout.ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the broker tells no group.min.session.timeout.ms: {configs:?}"));
    Duration::from_millis(min)
}

/// On real Kafka, three workers create their internal topics with CreateTopics (compacted, the
/// config topic with one partition), split 2 connectors × 4 tasks 3/3/2, and the busiest one's
/// tasks run elsewhere after a SIGKILL with no record lost.
#[tokio::test(flavor = "multi_thread")]
async fn real_kafka_workers_create_compacted_topics_balance_and_survive_a_sigkill() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let (c, name) = Cluster::start_real(&kafka, 3, 4).await;
    c.wait_joined().await;
    for (suffix, partitions) in [("configs", 1), ("offsets", 5), ("status", 3)] {
        let topic = format!("{name}-{suffix}");
        assert_eq!(
            partition_count(&kafka, &topic),
            Some(partitions),
            "partitions of {topic}"
        );
        let configs = topic_configs(&kafka, &topic).await;
        assert_eq!(
            configs.get("cleanup.policy").map(String::as_str),
            Some("compact"),
            "{topic}: {configs:?}"
        );
    }
    let out = c.path("sink.out");
    const PER_TASK: u64 = 6_000;
    c.create(0, "src", source(&c.seq, 4, PER_TASK, 500)).await;
    c.create(0, "snk", sink(&c.seq, 4, &out)).await;
    let expected = BTreeMap::from([("src", 4), ("snk", 4)]);
    let work = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    let mut counts: Vec<usize> = work.iter().map(|(_, t)| t.len()).collect();
    counts.sort();
    assert_eq!(counts, vec![2, 3, 3], "8 tasks over 3 workers");
    let mut connectors: Vec<usize> = work.iter().map(|(c, _)| c.len()).collect();
    connectors.sort();
    assert_eq!(connectors, vec![0, 1, 1], "2 connectors over 3 workers");
    wait_report(&out, Duration::from_secs(60), |r| {
        r.total_received() >= 2_000
    })
    .await;
    let moved = kill_busiest(&c, &work, &expected).await;
    eprintln!(
        "real Kafka: the SIGKILLed worker's 3 tasks ran elsewhere {moved:?} after the kill \
         (session.timeout.ms {})",
        c.session.as_millis()
    );
    let expected_seqnos: BTreeMap<u32, u64> = (0..4).map(|t| (t, PER_TASK)).collect();
    let r = wait_report(&out, Duration::from_secs(120), |r| {
        r.total_lost(&expected_seqnos) == 0
    })
    .await;
    assert_eq!(r.total_lost(&expected_seqnos), 0);
    eprintln!(
        "real Kafka SIGKILL: 0 lost, {} duplicates, {} malformed lines; test took {:?}",
        r.total_duplicates(),
        r.malformed_lines,
        started.elapsed()
    );
}

/// On real Kafka, a rolling restart (SIGTERM, replace, balance) of all three workers while
/// records flow loses none and duplicates none: every task commits as it stops.
#[tokio::test(flavor = "multi_thread")]
async fn real_kafka_rolling_restart_loses_and_duplicates_no_record() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let (mut c, _) = Cluster::start_real(&kafka, 3, 2).await;
    let out = c.path("sink.out");
    const PER_TASK: u64 = 10_000;
    c.create(0, "src", source(&c.seq, 2, PER_TASK, 500)).await;
    c.create(0, "snk", sink(&c.seq, 2, &out)).await;
    let expected = BTreeMap::from([("src", 2), ("snk", 2)]);
    c.wait_balanced(&expected, Duration::from_secs(60)).await;
    let steps = rolling_restart(&mut c, &expected).await;
    let during = report(&out).total_received();
    let expected_seqnos: BTreeMap<u32, u64> = (0..2).map(|t| (t, PER_TASK)).collect();
    let r = wait_report(&out, Duration::from_secs(120), |r| {
        r.total_lost(&expected_seqnos) == 0
    })
    .await;
    eprintln!(
        "real Kafka rolling restart: steps took {steps:?}; {during} of {} records had arrived \
         when it ended; 0 lost, {} duplicates; test took {:?}",
        PER_TASK * 2,
        r.total_duplicates(),
        started.elapsed()
    );
    assert!(
        during < PER_TASK * 2,
        "the sources finished before the restart did: nothing was tested under load"
    );
    assert_eq!(r.total_duplicates(), 0, "{r:?}");
}

/// On real Kafka, a fourth worker joining 3/3/2 takes one task from each busy worker (2/2/2/2),
/// no connector moves, and every task that stays is the same task actor.
#[tokio::test(flavor = "multi_thread")]
async fn real_kafka_a_fourth_worker_takes_only_what_it_must() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let (mut c, _) = Cluster::start_real(&kafka, 3, 4).await;
    let out = c.path("sink.out");
    c.create(0, "src", source(&c.seq, 4, 1_000_000, 100)).await;
    c.create(0, "snk", sink(&c.seq, 4, &out)).await;
    let expected = BTreeMap::from([("src", 4), ("snk", 4)]);
    let before = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    let (moved, after, took) = join_one_more(&mut c, &expected, &before).await;
    eprintln!(
        "real Kafka: a fourth worker ran its tasks {took:?} after it started; test took {:?}",
        started.elapsed()
    );
    assert_eq!(moved, 2, "before {before:?}\nafter {after:?}");
    let counts: Vec<usize> = after.iter().map(|(_, t)| t.len()).collect();
    assert_eq!(counts.iter().max(), Some(&2), "{counts:?}");
    assert!(after[3].0.is_empty(), "a connector moved: {after:?}");
    let connectors: Vec<_> = after.iter().map(|(c, _)| c.clone()).collect();
    let before_connectors: Vec<_> = before.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(connectors[..3], before_connectors[..], "a connector moved");
}

/// `kconnect cluster` prints the broker, the worker config and each worker's REST URL; the
/// workers form one group; a worker started by hand against the printed config joins it; Ctrl-C
/// stops every worker it started.
#[tokio::test(flavor = "multi_thread")]
async fn kconnect_cluster_runs_workers_a_hand_started_one_joins_and_ctrl_c_stops_them() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Proc(
        Command::new(BIN)
            .args(["cluster", "--workers", "2", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("cluster.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(cluster.0.stdout.take().unwrap()).lines();
    let (mut config, mut urls, mut pids) = (None, Vec::new(), Vec::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(file) = line.strip_prefix("worker config: ") {
            config = Some(PathBuf::from(file));
        } else if let Some(rest) = line.strip_prefix("worker ") {
            // "worker 0: http://127.0.0.1:PORT (pid N)"
            let (_, rest) = rest.split_once(": ").unwrap();
            let (url, pid) = rest.split_once(" (pid ").unwrap();
            urls.push(url.to_string());
            pids.push(pid.trim_end_matches(')').parse::<i32>().unwrap());
        } else if line.starts_with("more workers:") {
            break;
        }
    }
    assert_eq!(urls.len(), 2, "workers printed: {urls:?}");
    let config = config.expect("the worker config is printed");
    // A third worker, by hand.
    let (extra, url) = spawn_worker(&config, Stdio::null());
    urls.push(url);
    // All three in one group: one leader, known to every worker.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut leaders = BTreeSet::new();
        let mut generations = BTreeSet::new();
        for url in &urls {
            let v: Value = match http.get(format!("{url}/admin/worker")).send().await {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            leaders.insert(v["cluster"]["leader_url"].to_string());
            generations.insert(v["cluster"]["generation"].to_string());
        }
        let one_group = leaders.len() == 1
            && generations.len() == 1
            && leaders.iter().all(|l| l.starts_with("\"http"));
        if one_group {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no single group: leaders {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.signal(Signal::SIGINT);
    let status = cluster.0.wait().unwrap();
    assert!(status.success(), "kconnect cluster exited with {status:?}");
    for pid in pids {
        assert!(
            kill(Pid::from_raw(pid), None).is_err(),
            "worker process {pid} still runs after Ctrl-C"
        );
    }
    drop(extra);
}

/// Without bootstrap.servers a distributed worker starts the embedded broker in its own process
/// and creates the internal topics through the mock's API.
#[tokio::test(flavor = "multi_thread")]
async fn a_distributed_worker_without_bootstrap_servers_runs_on_its_own_embedded_broker() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.properties");
    std::fs::write(
        &config,
        "listeners=http://127.0.0.1:0\ngroup.id=alone\nconfig.storage.topic=cfg\n\
         offset.storage.topic=off\nstatus.storage.topic=sts\nsession.timeout.ms=3000\n\
         heartbeat.interval.ms=500\n",
    )
    .unwrap();
    let (_worker, url) = spawn_worker(&config, Stdio::null());
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http
            .post(format!("{url}/connectors"))
            .json(&json!({"name": "src", "config": source("seq", 1, 1_000_000, 10)}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => break,
            // Not joined yet: Connect answers 409 then; clients retry.
            409 => assert!(Instant::now() < deadline, "never joined"),
            other => panic!("create answered {other}: {}", r.text().await.unwrap()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        let s: Value = http
            .get(format!("{url}/connectors/src/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if s["tasks"][0]["state"] == "RUNNING" && s["connector"]["state"] == "RUNNING" {
            break;
        }
        assert!(Instant::now() < deadline, "not RUNNING: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A user trying distributed mode locally: a worker on its own embedded broker, its config only
/// the keys Connect requires (so Connect's 10 s session and 60 s offset flush), a
/// VerifiableSource and a FileStreamSink created over REST. Every record is in the sink's file,
/// once and in order, within seconds of the creates. (It took ~80 s: each rebalance on the mock
/// lasted session.timeout.ms − 1 s, two of them before the tasks ran, and the file sink's lines
/// waited for the first offset commit.)
#[tokio::test(flavor = "multi_thread")]
async fn on_its_own_embedded_broker_a_default_worker_moves_every_record_to_the_sink_within_seconds()
{
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.properties");
    std::fs::write(
        &config,
        "listeners=http://127.0.0.1:0\ngroup.id=local\nconfig.storage.topic=connect-configs\n\
         offset.storage.topic=connect-offsets\nstatus.storage.topic=connect-status\n\
         config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
         status.storage.replication.factor=1\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n",
    )
    .unwrap();
    let (_worker, url) = spawn_worker(&config, Stdio::null());
    let http = reqwest::Client::new();
    let joined_by = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http
            .post(format!("{url}/connectors"))
            .json(&json!({"name": "src", "config": source("numbers", 1, 50, 100)}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => break,
            // Not joined yet (the mock's first join takes 3 s): Connect answers 409.
            409 => assert!(Instant::now() < joined_by, "never joined"),
            other => panic!("create answered {other}: {}", r.text().await.unwrap()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let created = Instant::now();
    let file = dir.path().join("sink.txt");
    let r = http
        .post(format!("{url}/connectors"))
        .json(&json!({"name": "snk", "config": {
            "connector.class": "FileStreamSink",
            "tasks.max": "1",
            "topics": "numbers",
            "file": file.display().to_string(),
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());

    // VerifiableSource's values are its seqnos, 0 to 49; the sink writes one per line.
    let expected: Vec<String> = (0..50).map(|n: u64| n.to_string()).collect();
    let deadline = created + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= expected.len() {
            assert_eq!(lines, expected);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 50 records in the sink's file {:?} after the creates",
            lines.len(),
            created.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "50 records in the sink's file {:?} after the creates",
        created.elapsed()
    );
}

/// With https listeners, a request to a follower is forwarded to the leader over TLS, trusting
/// the PEM trust store of the worker config.
#[tokio::test(flavor = "multi_thread")]
async fn https_workers_forward_writes_to_the_leader_over_tls() {
    let _serial = SERIAL.lock().await;
    let pki = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let keystore = pki.path().join("rest.pem");
    std::fs::write(
        &keystore,
        format!("{cert_pem}{}", cert.signing_key.serialize_pem()),
    )
    .unwrap();
    let truststore = pki.path().join("ca.pem");
    std::fs::write(&truststore, &cert_pem).unwrap();
    let extra = format!(
        "listeners=https://127.0.0.1:0\nlisteners.https.ssl.keystore.type=PEM\n\
         listeners.https.ssl.keystore.location={}\n\
         listeners.https.ssl.truststore.location={}\n",
        keystore.display(),
        truststore.display()
    );
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let c = Cluster::start_with(2, &["seq:1"], &extra, http).await;
    assert!(c.workers[0].url.starts_with("https://"));
    c.wait_joined().await;
    let (_, w0) = c.get(0, "/admin/worker").await;
    let follower = if w0["cluster"]["leader"] == true {
        1
    } else {
        0
    };
    c.create(follower, "src", source(&c.seq, 1, 1_000_000, 10))
        .await;
    for via in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.all_running(via, "src", 1).await {
            assert!(Instant::now() < deadline, "src not RUNNING\n{}", c.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Cluster {
    async fn put(&self, worker: usize, path: &str) -> u16 {
        let r = self
            .http
            .put(format!("{}{path}", self.workers[worker].url))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    /// Waits until `pred` holds for the connector's status as worker `via` reports it.
    async fn wait_status(&self, via: usize, name: &str, what: &str, pred: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let (_, s) = self.get(via, &format!("/connectors/{name}/status")).await;
            if pred(&s) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never {what}: {s}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn running_with(tasks: usize) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["connector"]["state"] == "RUNNING"
            && s["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == "RUNNING"))
    }
}

/// Stop then resume, and delete then create again under the same name, through a follower: the
/// connector comes back RUNNING with all its tasks each time.
#[tokio::test(flavor = "multi_thread")]
async fn stop_resume_and_delete_recreate_bring_the_connector_back_with_its_tasks() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:2"]).await;
    c.create(0, "src", source(&c.seq, 2, 1_000_000, 10)).await;
    c.wait_status(0, "src", "RUNNING", running_with(2)).await;
    let (_, w0) = c.get(0, "/admin/worker").await;
    let follower = if w0["cluster"]["leader"] == true {
        1
    } else {
        0
    };

    assert_eq!(c.put(follower, "/connectors/src/stop").await, 204);
    c.wait_status(0, "src", "STOPPED", |s| {
        s["connector"]["state"] == "STOPPED" && s["tasks"].as_array().is_some_and(|t| t.is_empty())
    })
    .await;
    assert_eq!(c.put(follower, "/connectors/src/resume").await, 202);
    c.wait_status(1, "src", "RUNNING again", running_with(2))
        .await;

    let r = c
        .http
        .delete(format!("{}/connectors/src", c.workers[follower].url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    c.create(follower, "src", source(&c.seq, 2, 1_000_000, 10))
        .await;
    c.wait_status(0, "src", "RUNNING after re-creation", running_with(2))
        .await;
}

/// With REST basic auth, the task configs a follower's connector generates still reach the
/// leader (workers authenticate to each other), so every connector gets its tasks.
#[tokio::test(flavor = "multi_thread")]
async fn with_basic_auth_connectors_on_followers_get_their_tasks() {
    let _serial = SERIAL.lock().await;
    let creds = tempfile::tempdir().unwrap();
    let file = creds.path().join("users");
    std::fs::write(&file, "admin: s3cret,admin\n").unwrap();
    let extra = format!(
        "listeners=http://127.0.0.1:0\nrest.basic.auth.credentials.file={}\n",
        file.display()
    );
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        "Basic YWRtaW46czNjcmV0".parse().unwrap(), // admin:s3cret
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let c = Cluster::start_with(2, &["seq:2"], &extra, http).await;
    // Two connectors over two workers: one connector instance runs on the follower.
    c.create(0, "a", source(&c.seq, 2, 1_000_000, 10)).await;
    c.create(0, "b", source(&c.seq, 2, 1_000_000, 10)).await;
    let expected = BTreeMap::from([("a", 2), ("b", 2)]);
    let work = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    assert!(work.iter().all(|(connectors, _)| connectors.len() == 1));
}

/// The leader replaces the session key when it expires (`inter.worker.key.ttl.ms`), without a
/// rebalance, as Connect's leader does; followers follow the config topic and sign with the
/// new key. Connectors created after the key was replaced twice, one of them on the follower,
/// get their tasks: the follower's task configs reach the leader signed with a current key.
#[tokio::test(flavor = "multi_thread")]
async fn the_leader_replaces_an_expired_session_key_and_followers_sign_with_the_new_one() {
    let _serial = SERIAL.lock().await;
    let extra = "listeners=http://127.0.0.1:0\ninter.worker.key.ttl.ms=1000\n";
    let c = Cluster::start_with(2, &["seq:2"], extra, reqwest::Client::new()).await;
    c.wait_joined().await;
    let generation = |v: &Value| v["cluster"]["generation"].as_i64();
    let (_, before) = c.get(0, "/admin/worker").await;
    let keys_written = || c.logs().matches("wrote a new session key").count();
    // The first key at the first assignment, then one per expiry. The log is another
    // process's: polled.
    let rotated = common::eventually(Duration::from_secs(20), || keys_written() >= 3).await;
    assert!(rotated, "the key was not replaced\n{}", c.logs());
    let (_, after) = c.get(0, "/admin/worker").await;
    assert_eq!(
        generation(&before),
        generation(&after),
        "replacing the key needs no rebalance"
    );
    c.create(0, "a", source(&c.seq, 2, 1_000_000, 10)).await;
    c.create(0, "b", source(&c.seq, 2, 1_000_000, 10)).await;
    let expected = BTreeMap::from([("a", 2), ("b", 2)]);
    let work = c.wait_balanced(&expected, Duration::from_secs(60)).await;
    assert!(work.iter().all(|(connectors, _)| connectors.len() == 1));
}

impl Cluster {
    /// Sends `requests` (method, worker, path, body) all at once; returns each answer's status
    /// and body, in order.
    async fn all_at_once(&self, requests: Vec<(&str, usize, String, Value)>) -> Vec<(u16, Value)> {
        let sent: Vec<_> = requests
            .into_iter()
            .map(|(method, worker, path, body)| {
                let request = self
                    .http
                    .request(
                        method.parse().unwrap(),
                        format!("{}{path}", self.workers[worker].url),
                    )
                    .json(&body);
                tokio::spawn(async move {
                    let r = request.send().await.unwrap();
                    let status = r.status().as_u16();
                    (status, r.json().await.unwrap_or(Value::Null))
                })
            })
            .collect();
        let mut answers = Vec::new();
        for s in sent {
            answers.push(s.await.unwrap());
        }
        answers
    }

    /// Waits until every worker answers `GET path` with 200 and `expected`.
    async fn wait_everywhere(&self, path: &str, expected: &Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for via in 0..self.workers.len() {
            loop {
                let (code, v) = self.get(via, path).await;
                if code == 200 && v == *expected {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{path} via worker {via}: {code} {v}, not {expected}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connector created but not started yet (the rebalance that assigns it ends only when the
/// embedded broker's timer fires, seconds later) has no status on any worker: 404, as in Connect,
/// until a worker reports one.
#[tokio::test(flavor = "multi_thread")]
async fn a_connector_no_worker_reported_on_yet_has_no_status() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:1"]).await;
    c.create(1, "fresh", source(&c.seq, 1, 10, 10)).await;
    for via in 0..2 {
        let (code, v) = c.get(via, "/connectors/fresh/status").await;
        assert_eq!(code, 404, "via {via}: {v}");
        assert_eq!(
            v,
            json!({"error_code": 404, "message": "No status found for connector fresh"})
        );
        // A restart planned from the status has nothing to plan from either.
        let r = c
            .http
            .post(format!(
                "{}/connectors/fresh/restart?includeTasks=true",
                c.workers[via].url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "via {via}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"error_code": 404, "message": "Status for connector fresh not found"})
        );
        // As Connect's list: a connector whose expansion is not found is left out.
        let (code, v) = c.get(via, "/connectors?expand=status").await;
        assert_eq!((code, v), (200, json!({})), "via {via}");
    }
    c.wait_status(0, "fresh", "RUNNING", running_with(1)).await;
    let (_, v) = c.get(0, "/connectors?expand=status").await;
    assert_eq!(v["fresh"]["status"]["name"], "fresh", "{v}");
}

/// Twenty creates of one name at once, through leader and follower alike, each with its own
/// config: the leader decides them one at a time against the config topic, so exactly one is
/// created (201) and its config is the one every worker shows; the others get the leader's 409.
/// The same for PUT …/config: one 201 (created), the rest 200.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_of_one_name_create_it_once_through_any_worker() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:1"]).await;
    c.wait_joined().await;

    let creates = (0..20)
        .map(|i| {
            let body = json!({"name": "race", "config": source(&c.seq, 1, 1000 + i, 10)});
            ("POST", i as usize % 2, "/connectors".to_string(), body)
        })
        .collect();
    let answers = c.all_at_once(creates).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(code, _)| *code == 201)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(created.len(), 1, "one create wins: {answers:?}");
    for (code, v) in answers.iter().filter(|(code, _)| *code != 201) {
        assert_eq!(
            (*code, v),
            (
                409,
                &json!({"error_code": 409, "message": "Connector race already exists"})
            ),
            "{answers:?}"
        );
    }
    c.wait_everywhere("/connectors/race/config", &created[0]["config"])
        .await;

    let puts = (0..20)
        .map(|i| {
            let path = "/connectors/put-race/config".to_string();
            ("PUT", i as usize % 2, path, source(&c.seq, 1, 1000 + i, 10))
        })
        .collect();
    let answers = c.all_at_once(puts).await;
    let codes: Vec<u16> = answers.iter().map(|(code, _)| *code).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 201).count(),
        1,
        "one PUT creates: {answers:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == 200).count(),
        19,
        "{answers:?}"
    );
    // Every worker ends with the same config, one of those sent.
    let (_, stored) = c.get(0, "/connectors/put-race/config").await;
    assert!(
        answers.iter().any(|(_, v)| v["config"] == stored),
        "{stored} was sent"
    );
    c.wait_everywhere("/connectors/put-race/config", &stored)
        .await;

    // Twenty PATCHes of different keys, through both workers, at once: the leader applies
    // them one after another to the stored config, so none loses another's key.
    let patches = (0..20)
        .map(|i| {
            let path = "/connectors/put-race/config".to_string();
            ("PATCH", i % 2, path, json!({ format!("x.patch.{i}"): "1" }))
        })
        .collect();
    let answers = c.all_at_once(patches).await;
    assert!(answers.iter().all(|(code, _)| *code == 200), "{answers:?}");
    let mut patched = stored.clone();
    for i in 0..20 {
        patched[format!("x.patch.{i}")] = json!("1");
    }
    c.wait_everywhere("/connectors/put-race/config", &patched)
        .await;
}

/// Names are trimmed through a follower as through the leader, answers name the connector as
/// stored, and names with control characters are refused with Connect's error body.
#[tokio::test(flavor = "multi_thread")]
async fn connector_names_are_trimmed_and_checked_through_every_worker() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:1"]).await;
    c.wait_joined().await;
    for via in 0..2 {
        let name = format!("spaced-{via}");
        let body = json!({"name": format!(" {name}\t"), "config": source(&c.seq, 1, 10, 10)});
        let send = |body: Value| c.all_at_once(vec![("POST", via, "/connectors".into(), body)]);
        let answers = send(body.clone()).await;
        assert_eq!(answers[0].0, 201, "via {via}: {answers:?}");
        assert_eq!(answers[0].1["name"], name.as_str());
        assert_eq!(answers[0].1["config"]["name"], name.as_str());
        let answers = send(body).await;
        assert_eq!(
            answers[0],
            (
                409,
                json!({"error_code": 409, "message": format!("Connector {name} already exists")})
            ),
            "via {via}"
        );
        let (_, config) = c.get(0, &format!("/connectors/{name}/config")).await;
        assert_eq!(config["name"], name.as_str(), "{config}");
        c.wait_everywhere(&format!("/connectors/{name}/config"), &config)
            .await;

        let bad = json!({"name": "be\u{7}ll", "config": source(&c.seq, 1, 10, 10)});
        let answers = send(bad).await;
        assert_eq!(answers[0].0, 400, "{answers:?}");
        assert_eq!(answers[0].1["error_code"], 400, "{answers:?}");
    }
    let (_, list) = c.get(0, "/connectors").await;
    assert_eq!(list, json!(["spaced-0", "spaced-1"]));
}

impl Cluster {
    async fn post(&self, worker: usize, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.workers[worker].url));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn leader_and_follower(&self) -> (usize, usize) {
        self.wait_joined().await;
        let (_, w0) = self.get(0, "/admin/worker").await;
        if w0["cluster"]["leader"] == true {
            (0, 1)
        } else {
            (1, 0)
        }
    }
}

impl Cluster {
    /// The actor ids of every task running on any worker.
    async fn task_actors(&self) -> BTreeSet<String> {
        self.local_work()
            .await
            .into_iter()
            .flat_map(|(_, t)| t.into_values())
            .collect()
    }

    /// Waits until `tasks` tasks run, none of them one of the actors in `before`.
    async fn wait_tasks_replaced(&self, before: &BTreeSet<String>, tasks: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.task_actors().await;
            if now.len() == tasks && now.is_disjoint(before) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tasks never restarted\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn all_in(state: &'static str, tasks: usize) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["connector"]["state"] == state
            && s["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == state))
    }
}

/// `POST …/restart?includeTasks=true` answers 202 with what it restarts shown as RESTARTING,
/// through the leader and through a follower, every time; a paused connector comes back from
/// the restart PAUSED, and so does one created PAUSED or paused right after its creation.
#[tokio::test(flavor = "multi_thread")]
async fn restarts_answer_their_plan_and_paused_connectors_stay_paused() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:2"]).await;
    let (leader, follower) = c.leader_and_follower().await;
    c.create(follower, "src", source(&c.seq, 2, 1_000_000, 10))
        .await;
    c.wait_status(leader, "src", "RUNNING", running_with(2))
        .await;
    // Nothing failed (and nothing restarts now): nothing to restart, and the plan says so.
    let (code, v) = c
        .post(
            follower,
            "/connectors/src/restart?includeTasks=true&onlyFailed=true",
            None,
        )
        .await;
    assert_eq!(code, 202, "{v}");
    assert!(all_in("RUNNING", 2)(&v), "nothing failed: {v}");
    let (code, _) = c.post(follower, "/connectors/src/restart", None).await;
    assert_eq!(code, 204);
    for (round, via) in [leader, follower, leader, follower].into_iter().enumerate() {
        let (code, v) = c
            .post(via, "/connectors/src/restart?includeTasks=true", None)
            .await;
        assert_eq!(code, 202, "round {round}: {v}");
        assert!(all_in("RESTARTING", 2)(&v), "round {round}: {v}");
    }

    assert_eq!(c.put(follower, "/connectors/src/pause").await, 202);
    c.wait_status(leader, "src", "PAUSED", all_in("PAUSED", 2))
        .await;
    // A restart of the tasks, and a config change, while paused: the tasks start again (new
    // actors), PAUSED.
    let put_config = || async {
        let r = c
            .http
            .put(format!("{}/connectors/src/config", c.workers[follower].url))
            .json(&source(&c.seq, 2, 1_000_000, 20))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    };
    for change in ["restart", "config change"] {
        let before = c.task_actors().await;
        if change == "restart" {
            let (code, v) = c
                .post(follower, "/connectors/src/restart?includeTasks=true", None)
                .await;
            assert_eq!(code, 202, "{v}");
        } else {
            assert_eq!(put_config().await, 200);
        }
        c.wait_tasks_replaced(&before, 2).await;
        c.wait_status(
            follower,
            "src",
            &format!("PAUSED after a {change}"),
            all_in("PAUSED", 2),
        )
        .await;
    }
    let (code, _) = c.post(follower, "/connectors/src/restart", None).await;
    assert_eq!(code, 204);
    c.wait_status(
        leader,
        "src",
        "PAUSED after a connector restart",
        all_in("PAUSED", 2),
    )
    .await;

    let body = json!({"name": "born-paused", "config": source(&c.seq, 2, 1_000_000, 10), "initial_state": "PAUSED"});
    let (code, v) = c.post(follower, "/connectors", Some(body)).await;
    assert_eq!(code, 201, "{v}");
    c.create(leader, "paused-at-once", source(&c.seq, 2, 1_000_000, 10))
        .await;
    // Through the worker that wrote it: a follower may not have read the new connector yet.
    assert_eq!(c.put(leader, "/connectors/paused-at-once/pause").await, 202);
    for name in ["born-paused", "paused-at-once"] {
        c.wait_status(leader, name, "PAUSED", all_in("PAUSED", 2))
            .await;
    }
}

/// A paused connector whose connector and tasks move to workers that join later is PAUSED
/// there too: the pause was written before they were assigned.
#[tokio::test(flavor = "multi_thread")]
async fn a_paused_connector_moved_by_a_rebalance_stays_paused() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(1, &["seq:2"]).await;
    c.create(0, "a", source(&c.seq, 3, 1_000_000, 10)).await;
    c.create(0, "b", source(&c.seq, 3, 1_000_000, 10)).await;
    for name in ["a", "b"] {
        c.wait_status(0, name, "RUNNING", running_with(3)).await;
        assert_eq!(c.put(0, &format!("/connectors/{name}/pause")).await, 202);
        c.wait_status(0, name, "PAUSED", all_in("PAUSED", 3)).await;
    }
    c.add_worker();
    c.add_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let work = c.local_work().await;
        // Both connectors and their tasks spread over the three workers.
        if work.iter().all(|(_, t)| t.len() == 2) && work.iter().any(|(c, _)| c.len() == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "never rebalanced\n{}", c.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in ["a", "b"] {
        c.wait_status(2, name, "PAUSED after moving", all_in("PAUSED", 3))
            .await;
    }
}

/// Polls `GET path` on `worker` until `pred` holds for the answer.
async fn wait_get(c: &Cluster, worker: usize, path: &str, pred: impl Fn(u16, &Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, v) = c.get(worker, path).await;
        if pred(code, &v) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} on worker {worker}: {code} {v}\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_scoped_log_levels_reach_every_worker_and_forwarded_204s_carry_no_body() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(2, &["seq:1"]).await;
    c.wait_joined().await;

    // scope=cluster through one worker: 204, and every worker applies it (Connect's
    // logger-cluster record on the config topic).
    let r = c
        .http
        .put(format!(
            "{}/admin/loggers/kconnect_actors?scope=cluster",
            c.workers[0].url
        ))
        .json(&json!({"level": "debug"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.text().await.unwrap(), "");
    for w in 0..2 {
        wait_get(&c, w, "/admin/loggers/kconnect_actors", |code, v| {
            code == 200 && v["level"] == "DEBUG"
        })
        .await;
    }
    // Worker scope stays on its worker.
    let r = c
        .http
        .put(format!(
            "{}/admin/loggers/kconnect_actors",
            c.workers[1].url
        ))
        .json(&json!({"level": "TRACE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let changed: Value = r.json().await.unwrap();
    assert!(
        changed
            .as_array()
            .unwrap()
            .contains(&json!("kconnect_actors")),
        "{changed}"
    );
    let (_, v) = c.get(0, "/admin/loggers/kconnect_actors").await;
    assert_eq!(
        v["level"], "DEBUG",
        "worker 0 keeps the cluster's level: {v}"
    );

    // The task configs the connector generated, through either worker, task.class included.
    c.create(0, "src", source(&c.seq, 1, 1_000_000, 10)).await;
    for w in 0..2 {
        wait_get(&c, w, "/connectors/src/tasks-config", |code, v| {
            code == 200
                && v["src-0"]["task.class"] == "org.apache.kafka.connect.tools.VerifiableSourceTask"
        })
        .await;
        let (_, tasks) = c.get(w, "/connectors/src/tasks").await;
        assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
        assert!(tasks[0]["config"]["task.class"].is_string(), "{tasks}");
    }

    // Leader-only writes sent to the follower come back as the leader answered: a 204 with
    // neither body nor content type.
    let (_, info) = c.get(0, "/admin/worker").await;
    let leader_url = info["cluster"]["leader_url"].as_str().unwrap().to_string();
    let follower = c
        .workers
        .iter()
        .position(|w| w.url.trim_end_matches('/') != leader_url.trim_end_matches('/'))
        .unwrap();
    for (method, path) in [
        (reqwest::Method::POST, "/connectors/src/restart"),
        (reqwest::Method::DELETE, "/connectors/src"),
    ] {
        let r = c
            .http
            .request(method.clone(), format!("{}{path}", c.workers[follower].url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "{method} {path}");
        assert!(
            r.headers().get("content-type").is_none(),
            "{method} {path}: {:?}",
            r.headers()
        );
        assert_eq!(r.bytes().await.unwrap().len(), 0);
    }
}

/// A broker that stops answering never freezes a worker. The `kconnect broker` process is
/// paused (SIGSTOP) while a worker runs more committing source tasks than there are cores:
/// every offset write then waits for an acknowledgement that does not come. Throughout the
/// pause `GET /connectors/{c}/status` answers within 100 ms, and the group member keeps its
/// membership: after the broker resumes, the worker is still in the same generation with the
/// same task actors (no rebalance, no restart) for longer than a session timeout, and offsets
/// are committed again.
#[tokio::test(flavor = "multi_thread")]
async fn a_paused_broker_freezes_neither_rest_nor_the_group_membership() {
    let _serial = SERIAL.lock().await;
    const PAUSE: Duration = Duration::from_secs(3);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let tasks = 2 * cores;
    let mut c = Cluster::start(0, &["seq:4"]).await;
    // A session that outlasts the pause (a longer pause would rightly cost the membership),
    // and frequent offset flushes so that every committer is inside a write when it starts.
    let config = std::fs::read_to_string(&c.config)
        .unwrap()
        .replace(
            &format!("session.timeout.ms={SESSION_MS}"),
            "session.timeout.ms=8000",
        )
        .replace(
            "offset.flush.interval.ms=300",
            "offset.flush.interval.ms=50",
        );
    std::fs::write(&c.config, config).unwrap();
    c.session = Duration::from_secs(8);
    c.add_worker();
    c.create(0, "busy", source(&c.seq, tasks as u32, 1_000_000_000, 200))
        .await;
    c.wait_status(0, "busy", "RUNNING", running_with(tasks))
        .await;
    let committed = || async {
        let (_, v) = c.get(0, "/connectors/busy/offsets").await;
        v["offsets"].as_array().cloned().unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while committed().await.len() < tasks {
        assert!(Instant::now() < deadline, "no offsets\n{}", c.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, before) = c.get(0, "/admin/worker").await;
    let generation = before["cluster"]["generation"].clone();
    let actors = c.local_work().await;

    let broker = c.broker.as_ref().expect("a broker process");
    broker.signal(Signal::SIGSTOP);
    let paused = Instant::now();
    let mut answers = Vec::new();
    while paused.elapsed() < PAUSE {
        let asked = Instant::now();
        // Bounded, so that the broker resumes on time even when the worker does not answer.
        let answer = tokio::time::timeout(PAUSE, c.get(0, "/connectors/busy/status")).await;
        let code = answer.map_or(0, |(code, _)| code);
        answers.push((paused.elapsed(), code, asked.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.signal(Signal::SIGCONT);
    let slow: Vec<_> = answers
        .iter()
        .filter(|(_, code, took)| *code != 200 || *took >= Duration::from_millis(100))
        .collect();
    let slowest = answers.iter().map(|a| a.2).max().unwrap_or_default();
    eprintln!(
        "broker paused {PAUSE:?}: {} status answers, the slowest in {slowest:?}",
        answers.len()
    );
    assert!(
        slow.is_empty() && answers.len() > 10,
        "while the broker was paused, {} of {} answers took 100 ms or more (or failed): \
         (time into the pause, status, answered in) {slow:?}",
        slow.len(),
        answers.len()
    );

    // After the pause: offsets move again, and for longer than a session timeout the worker
    // stays in its generation with the same task actors.
    let offsets_at_resume = committed().await;
    let resumed = Instant::now();
    while committed().await == offsets_at_resume {
        assert!(
            resumed.elapsed() < Duration::from_secs(30),
            "offsets never committed again\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while resumed.elapsed() < c.session + Duration::from_secs(1) {
        let (_, now) = c.get(0, "/admin/worker").await;
        assert_eq!(
            now["cluster"]["generation"],
            generation,
            "the worker lost its membership: {now}\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.local_work().await, actors, "tasks were restarted");
    c.wait_status(0, "busy", "RUNNING", running_with(tasks))
        .await;
}

/// Every value of `topic` from its start, read by a client of the test's own.
fn topic_values(bootstrap: &str, topic: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    loop {
        match c.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => out.extend(m.payload().map(|p| String::from_utf8_lossy(p).into_owned())),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return out,
            other => panic!("reading {topic}: {other:?}"),
        }
    }
}

/// Config providers in a cluster: the config topic keeps the `${…}` text of connector and task
/// configs (the resolved secret is nowhere in it), every worker shows it as written, and each
/// worker resolves the variables when it starts its share (the records go to the resolved
/// topic).
#[tokio::test(flavor = "multi_thread")]
async fn config_provider_variables_are_stored_as_written_and_resolved_where_tasks_run() {
    let _serial = SERIAL.lock().await;
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("s.properties");
    std::fs::write(&file, "topic=seq\npassword=pw-8c1f-canary\n").unwrap();
    let extra = "listeners=http://127.0.0.1:0\nconfig.providers=file\n\
                 config.providers.file.class=FileConfigProvider\n";
    let c = Cluster::start_with(2, &["seq:2"], extra, reqwest::Client::new()).await;
    let var = |key: &str| format!("${{file:{}:{key}}}", file.display());
    let mut config = source(&c.seq, 2, 1_000_000, 10);
    config["topic"] = json!(var("topic"));
    config["producer.override.ssl.key.password"] = json!(var("password"));
    c.create(1, "src", config.clone()).await;
    c.wait_status(0, "src", "RUNNING", running_with(2)).await;
    // Both tasks produce to the resolved topic, wherever they run.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = c.get(0, "/connectors/src/topics").await;
        if v["src"]["topics"] == json!(["seq"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no active topic: {v}\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut expected = config.clone();
    expected["name"] = json!("src");
    for w in 0..2 {
        let (_, v) = c.get(w, "/connectors/src/config").await;
        assert_eq!(v, expected, "worker {w}");
        let (_, tasks) = c.get(w, "/connectors/src/tasks").await;
        for t in tasks.as_array().unwrap() {
            assert_eq!(t["config"]["topic"], json!(var("topic")), "{t}");
            assert_eq!(
                t["config"]["producer.override.ssl.key.password"],
                json!(var("password")),
                "{t}"
            );
        }
    }
    let config_text = std::fs::read_to_string(&c.config).unwrap();
    let bootstrap = config_text
        .lines()
        .find_map(|l| l.strip_prefix("bootstrap.servers="))
        .unwrap();
    let stored = topic_values(bootstrap, "connect-configs").join("\n");
    assert!(stored.contains(&var("password")), "{stored}");
    assert!(!stored.contains("canary"), "{stored}");
    assert!(!c.logs().contains("canary"), "{}", c.logs());
}
