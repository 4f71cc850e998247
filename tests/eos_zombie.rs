//! A zombie worker under exactly-once source delivery (KIP-618) on real Kafka
//! (`KCONNECT_TEST_KAFKA`; SKIPPED without it, a failure under CI=true).
//!
//! Three `kconnect distributed` processes run VerifiableSource (4 tasks, `interval`
//! transactions of a second, so a stopped worker nearly always holds an open transaction with
//! records on the broker). A follower that runs tasks is SIGSTOPped past its session, its tasks
//! move to the others, then it gets SIGCONT and goes on where it stopped: its tasks' producers
//! try to send and commit. A `read_committed` reader must then see every seqno of every task
//! exactly once: any record of the resumed worker that became visible would repeat a seqno the
//! task's new owner also wrote (it resumed from the last committed offset and runs to the end).
//!
//! - the tasks move by the rebalance alone: each new owner's `init_transactions` fences the
//!   zombie's producer of the same `transactional.id`;
//! - `tasks.max` shrinks from 4 to 1 while the worker, running one of the tasks that go away,
//!   is stopped: no new producer of that task's `transactional.id` ever starts, so only the
//!   leader's fencing round (before the new task count record) keeps the zombie from
//!   committing; its task shows exactly the seqnos committed before it resumed.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::eos::{
    create, has_all, per_key_without_duplicates, session_timeout, spawn_worker, verifiable,
    worker_props, CommittedReader,
};
use common::kafka::{create_topic, real_kafka, unique_name};
use common::procs::Proc;
use nix::sys::signal::Signal;
use serde_json::{json, Value as Json};

/// The cluster tests run worker processes; one at a time keeps their timing honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TASKS: i64 = 4;
/// 30 s of load at 50 records/s per task: the stop, the move and the resume happen within it.
const PER_TASK: i64 = 1_500;
const WAIT: Duration = Duration::from_secs(60);

struct Cluster {
    dir: tempfile::TempDir,
    workers: Vec<(Proc, String)>,
    http: reqwest::Client,
}

impl Cluster {
    fn start(kafka: &str, name: &str, session: u128) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("worker.properties");
        std::fs::write(&config, worker_props(kafka, name, "enabled", session)).unwrap();
        let workers = (0..3)
            .map(|i| spawn_worker(&config, &dir.path().join(format!("w{i}.log"))))
            .collect();
        Cluster {
            dir,
            workers,
            http: reqwest::Client::new(),
        }
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("w{i}.log"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        (0..self.workers.len())
            .map(|i| format!("--- worker {i} ---\n{}", self.log(i)))
            .collect()
    }

    /// `GET path` on worker `i`; `Null` when it does not answer with JSON.
    async fn get(&self, i: usize, path: &str) -> Json {
        let r = self
            .http
            .get(format!("{}{path}", self.workers[i].1))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) => r.json().await.unwrap_or(Json::Null),
            Err(_) => Json::Null,
        }
    }

    /// Waits until worker `via` reports `tasks` tasks of `connector`, all RUNNING, none of them
    /// on `not_on` (a worker id); returns the worker id of each task.
    async fn wait_running(
        &self,
        via: usize,
        connector: &str,
        tasks: usize,
        not_on: Option<&str>,
    ) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self
                .get(via, &format!("/connectors/{connector}/status"))
                .await;
            let ts = s["tasks"].as_array().cloned().unwrap_or_default();
            let on: Vec<String> = ts
                .iter()
                .filter(|t| t["state"] == "RUNNING")
                .filter_map(|t| t["worker_id"].as_str().map(str::to_string))
                .filter(|w| Some(w.as_str()) != not_on)
                .collect();
            if ts.len() == tasks && on.len() == tasks {
                return on;
            }
            assert!(
                Instant::now() < deadline,
                "{connector}: not {tasks} RUNNING tasks (not on {not_on:?}): {s}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A follower running a task of the connector numbered `min_task` or above (the leader
    /// stays up to fence and assign): its index, worker id and group generation.
    async fn follower_with_tasks(&self, min_task: i64) -> (usize, String, i64) {
        let deadline = Instant::now() + WAIT;
        loop {
            for i in 0..self.workers.len() {
                let w = self.get(i, "/admin/worker").await;
                let runs = w["tasks"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t["task"].as_i64() >= Some(min_task)));
                if w["cluster"]["leader"] == json!(false) && runs {
                    let id = w["worker_id"].as_str().unwrap().to_string();
                    return (i, id, w["cluster"]["generation"].as_i64().unwrap());
                }
            }
            assert!(
                Instant::now() < deadline,
                "no follower runs a task from {min_task} on\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until worker `i` logged that a producer of its was fenced: it went on sending or
    /// committing where it stopped, and the broker refused it.
    async fn wait_fenced(&self, i: usize) {
        let deadline = Instant::now() + WAIT;
        while !self.log(i).contains("fenced by a newer instance") {
            assert!(
                Instant::now() < deadline,
                "worker {i} never logged a fenced producer\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until worker `i` is a member of a generation after `before`: for the victim, it
    /// rejoined; for a live worker, the group rebalanced without the victim.
    async fn wait_rejoined(&self, i: usize, before: i64) -> i64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let w = self.get(i, "/admin/worker").await;
            if let Some(g) = w["cluster"]["generation"].as_i64().filter(|g| *g > before) {
                if w["cluster"]["leader_url"].is_string() {
                    return g;
                }
            }
            assert!(
                Instant::now() < deadline,
                "worker {i} did not rejoin after generation {before}: {w}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Cluster {
    /// The connector's committed seqno per task, as worker `i` reads the offsets topic.
    async fn committed_seqnos(&self, i: usize) -> BTreeMap<i64, i64> {
        let offsets = self.get(i, "/connectors/vs/offsets").await;
        offsets["offsets"]
            .as_array()
            .unwrap_or_else(|| panic!("offsets: {offsets}"))
            .iter()
            .map(|o| {
                (
                    o["partition"]["id"].as_i64().unwrap(),
                    o["offset"]["seqno"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

/// What a run reports: records visible to `read_committed`, and written in all.
struct Counts {
    committed: usize,
    written: usize,
}

/// The zombie scenario; with `resize_to`, `tasks.max` changes to it while the worker is
/// stopped. Returns the counts after asserting every seqno is visible exactly once.
async fn zombie_run(kafka: &str, label: &str, resize_to: Option<i64>) -> Counts {
    let started = Instant::now();
    let name = unique_name(label);
    let session = session_timeout(kafka).await;
    let c = Cluster::start(kafka, &name, session);
    let topic = format!("{name}-seq");
    create_topic(kafka, &topic, 4).await;
    let extra = [
        ("throughput", "50"),
        ("transaction.boundary", "interval"),
        ("transaction.boundary.interval.ms", "1000"),
    ];
    let config = |tasks: i64| verifiable(&topic, tasks as u32, PER_TASK as u64, &extra);
    create(&c.http, &c.workers[0].1, "vs", config(TASKS)).await;
    c.wait_running(0, "vs", TASKS as usize, None).await;
    // Shrinking, the victim must run a task that goes away: no new producer of its
    // `transactional.id` ever starts, so only the leader's round can fence it.
    let (victim, victim_id, generation) = c.follower_with_tasks(resize_to.unwrap_or(0)).await;
    let live = (victim + 1) % 3;
    // Let the victim's tasks open their transactions and send into them.
    let mut written = CommittedReader::uncommitted(kafka, &topic, 4);
    tokio::task::block_in_place(|| {
        written.read_while_written(WAIT, |s| s.len() as i64 >= 2 * TASKS * 50)
    });

    c.workers[victim].0.signal(Signal::SIGSTOP);
    let stopped = Instant::now();
    let tasks = match resize_to {
        Some(n) => {
            let r = c
                .http
                .put(format!("{}/connectors/vs/config", c.workers[live].1))
                .json(&config(n))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
            n
        }
        None => TASKS,
    };
    // The group went on without the victim (its session expired), and every task runs
    // elsewhere.
    c.wait_rejoined(live, generation).await;
    let owners = c
        .wait_running(live, "vs", tasks as usize, Some(&victim_id))
        .await;
    let moved = stopped.elapsed();
    // What the removed tasks committed before the zombie resumed: all they may ever show.
    let removed: BTreeMap<i64, i64> = if tasks < TASKS {
        c.committed_seqnos(live).await
    } else {
        BTreeMap::new()
    }
    .into_iter()
    .filter(|(t, _)| *t >= tasks)
    .collect();
    c.workers[victim].0.signal(Signal::SIGCONT);
    let resumed = Instant::now();
    let rejoined_at = c.wait_rejoined(victim, generation).await;
    c.wait_fenced(victim).await;
    eprintln!(
        "{label}: worker {victim_id} stopped in generation {generation}; its tasks RUNNING on \
         {owners:?} after {moved:?}; resumed, it rejoined in generation {rejoined_at} after {:?}",
        resumed.elapsed()
    );

    let mut reader = CommittedReader::new(kafka, &topic, 4);
    tokio::task::block_in_place(|| reader.read_until(WAIT, |s| has_all(s, tasks, PER_TASK)));
    let per_key = per_key_without_duplicates(&reader.seen);
    let want: Vec<i64> = (0..PER_TASK).collect();
    for t in 0..tasks {
        assert_eq!(per_key[&t], want, "{label}: task {t}: lost records");
    }
    for (t, last) in &removed {
        let want: Vec<i64> = (0..=*last).collect();
        assert_eq!(
            per_key.get(t),
            Some(&want),
            "{label}: removed task {t}: not exactly what it committed before the resume"
        );
    }
    let removed_count: i64 = removed.values().map(|last| last + 1).sum();
    assert_eq!(
        reader.seen.len() as i64,
        tasks * PER_TASK + removed_count,
        "{label}"
    );
    // The zombie's fenced tasks failed on the resumed worker; their FAILED status must not
    // hide the new owners' RUNNING (statuses of an older generation never replace newer ones).
    c.wait_running(live, "vs", tasks as usize, None).await;
    let status = c.get(live, "/connectors/vs/status").await;
    let states: Vec<&Json> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["state"])
        .collect();
    assert_eq!(states, vec!["RUNNING"; tasks as usize], "{status}");
    tokio::task::block_in_place(|| written.read_until(WAIT, |_| true));
    let counts = Counts {
        committed: reader.seen.len(),
        written: written.seen.len(),
    };
    eprintln!(
        "{label}: {} records visible, each once; {} written in all ({} in aborted \
         transactions); {:?} into the test",
        counts.committed,
        counts.written,
        counts.written - counts.committed,
        started.elapsed(),
    );
    // The victim had records on the broker in a transaction it never committed: the fencing,
    // not luck, kept them out of sight.
    assert!(
        counts.written > counts.committed,
        "{label}: no record of an aborted transaction on the broker ({} written)",
        counts.written
    );
    counts
}

/// The tasks move by the rebalance alone; the resumed worker's producers are fenced by their
/// new owners' `init_transactions`.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_zombie_worker_makes_nothing_visible() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    zombie_run(&kafka, "eoszombie", None).await;
}

/// `tasks.max` goes from 4 to 1 while the worker (running one of tasks 1..3) is stopped: the
/// leader fences ids 0..3 before the new generation starts, and nothing the zombie commits
/// after it resumes is visible (its removed task shows exactly what was committed before).
#[tokio::test(flavor = "multi_thread")]
async fn a_zombie_of_the_previous_task_generation_is_fenced_by_the_leader() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    zombie_run(&kafka, "eoszombie-resize", Some(1)).await;
}
