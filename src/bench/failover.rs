//! `failover`: from the SIGKILL of a distributed worker until its tasks run on the survivor,
//! for kconnect and for Apache Kafka Connect on one real Kafka broker.
//!
//! Each configuration starts two workers of one kind in one fresh group (their own internal
//! topics), creates a FileStreamSink of [`TASKS`] tasks on a topic of as many partitions (Kafka
//! 4.x's Connect ships no multi-task source connector), and waits until both workers run some
//! of its tasks. It then SIGKILLs the worker started second and polls the survivor's
//! `GET /connectors/{c}/status` every 20 ms until the connector and every task are RUNNING
//! with the survivor's worker id. That interval is the number reported.
//!
//! The victim is the second worker because it is a follower: the group coordinator keeps the
//! first member as leader while it stays. Which one dies matters for Connect: its leader
//! remembers what it assigned and holds a departed follower's work back (below), but a new
//! leader, after the old one died, knows nothing of the lost work and assigns it at once (a run
//! that killed the leader measured 9.9 s for Java Connect with its defaults).
//!
//! Both kinds first need the group coordinator to notice the dead member, which takes up to
//! `session.timeout.ms` (10 s, the default of both). After that, Connect holds a departed
//! worker's work back for `scheduled.rebalance.max.delay.ms` (300000 by default) in case it comes
//! back; kconnect's default for that key is 0 (see `actors/src/distributed/config.rs`). So three
//! configurations run: kconnect with its defaults, Java Connect with its defaults, and Java
//! Connect with the delay set to 0, which is kconnect's default. Java's default run alone takes
//! over five minutes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::inproc::ScratchDir;
use super::java::{
    create_topic, free_port, spawn_worker, unique, wait_rest, JavaPeer, Mode, Peer, Side, FILE_SINK,
};
use super::{Report, Row, Unit};

/// Tasks of the connector whose failover is timed.
const TASKS: usize = 4;
/// Longer than Connect's default delay (300 s) plus the session timeout and a rebalance.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(420);

/// One timed configuration.
struct Case {
    side: Side,
    label: &'static str,
    /// Extra worker keys.
    worker: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        side: Side::Kconnect,
        label: "kconnect, defaults",
        worker: &[],
    },
    Case {
        side: Side::Java,
        label: "Java Connect, defaults",
        worker: &[],
    },
    Case {
        side: Side::Java,
        label: "Java Connect, scheduled.rebalance.max.delay.ms=0",
        worker: &[("scheduled.rebalance.max.delay.ms", "0")],
    },
];

/// Spawns a distributed worker of `side` in `group`; its worker id is `127.0.0.1:PORT`.
pub(super) fn spawn(
    side: Side,
    peer: &JavaPeer,
    dir: &ScratchDir,
    group: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<(Peer, String)> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let port = free_port()?;
    let mut props = format!(
        "bootstrap.servers={}\ngroup.id={group}\nlisteners=http://127.0.0.1:{port}\n\
         rest.advertised.host.name=127.0.0.1\nrest.advertised.port={port}\n\
         config.storage.topic={group}-configs\noffset.storage.topic={group}-offsets\n\
         status.storage.topic={group}-status\nconfig.storage.replication.factor=1\n\
         offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
        peer.bootstrap
    );
    for (k, v) in extra {
        props.push_str(&format!("{k}={v}\n"));
    }
    let worker = dir.path(&format!("failover-worker-{run}.properties"));
    std::fs::write(&worker, props)?;
    let log = dir.path(&format!(
        "failover-{}-{run}.log",
        side.name().replace(' ', "-")
    ));
    let child = spawn_worker(side, peer, Mode::Distributed, &[&worker], &log)?;
    Ok((
        Peer {
            child,
            rest: format!("http://127.0.0.1:{port}"),
            log,
        },
        format!("127.0.0.1:{port}"),
    ))
}

/// Where the connector and its tasks run, by worker id, once all are RUNNING.
#[derive(Debug, PartialEq)]
pub(super) struct Placement {
    pub connector: String,
    pub tasks: Vec<String>,
}

/// `Some` when the status shows the connector and `tasks` tasks, all RUNNING.
fn placement(status: &serde_json::Value, tasks: usize) -> Option<Placement> {
    let running = |v: &serde_json::Value| {
        (v["state"] == "RUNNING").then(|| v["worker_id"].as_str().map(str::to_owned))?
    };
    let connector = running(&status["connector"])?;
    let ts = status["tasks"].as_array()?;
    if ts.len() != tasks {
        return None;
    }
    let tasks = ts.iter().map(running).collect::<Option<Vec<_>>>()?;
    Some(Placement { connector, tasks })
}

/// Polls `base`'s status of `connector` (of `tasks` tasks) every 20 ms until `done` holds, or
/// `timeout`.
pub(super) async fn poll_status(
    http: &reqwest::Client,
    base: &str,
    connector: &str,
    tasks: usize,
    timeout: Duration,
    done: impl Fn(&Placement) -> bool,
) -> anyhow::Result<Placement> {
    let url = kconnect_actors::rest_url::under(base, &["connectors", connector, "status"])?;
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        if let Ok(r) = http.get(url.clone()).send().await {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                if let Some(p) = placement(&v, tasks) {
                    if done(&p) {
                        return Ok(p);
                    }
                }
                last = v.to_string();
            }
        }
        if Instant::now() > deadline {
            bail!("{connector} never reached the wanted placement; last status: {last}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates the connector `body` describes through `worker`. Creation can meet a rebalance in
/// progress (409 on both kinds): retried until accepted.
pub(super) async fn create_connector(
    http: &reqwest::Client,
    worker: &Peer,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = http
            .post(format!("{}/connectors", worker.rest))
            .json(body)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => return Ok(()),
            _ if Instant::now() > deadline => bail!(
                "the connector was not created: {r:?}\n{}",
                worker.log_tail()
            ),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// One configuration: the seconds from SIGKILL until the survivor runs everything.
async fn time_failover(
    http: &reqwest::Client,
    peer: &JavaPeer,
    dir: &ScratchDir,
    case: &Case,
) -> anyhow::Result<f64> {
    let group = unique("failover");
    let (mut a, a_id) = spawn(case.side, peer, dir, &group, case.worker)?;
    wait_rest(http, &mut a).await?;
    let (mut b, b_id) = spawn(case.side, peer, dir, &group, case.worker)?;
    wait_rest(http, &mut b).await?;
    let topic = unique("failover-in");
    create_topic(&peer.bootstrap, &topic, TASKS as i32).await?;
    let body = serde_json::json!({
        "name": "failover",
        "config": {
            "connector.class": FILE_SINK,
            "tasks.max": TASKS.to_string(),
            "topics": topic,
            "file": dir.path(&format!("{group}.txt")).display().to_string(),
        }
    });
    create_connector(http, &a, &body)
        .await
        .with_context(|| case.label)?;
    let spread = |p: &Placement| p.tasks.contains(&a_id) && p.tasks.contains(&b_id);
    let wait = Duration::from_secs(180);
    let before = poll_status(http, &a.rest, "failover", TASKS, wait, spread)
        .await
        .with_context(|| format!("{}: tasks never spread over both workers", case.label))?;
    let lost = before.tasks.iter().filter(|t| **t == b_id).count();
    eprintln!("kconnect bench: failover: SIGKILL of the follower, which runs {lost} task(s)");
    let (mut victim, survivor, survivor_id) = (b, a, a_id);
    victim.child.kill().context("SIGKILL")?;
    let killed = Instant::now();
    let _ = victim.child.wait();
    let all_on_survivor =
        |p: &Placement| p.connector == survivor_id && p.tasks.iter().all(|t| *t == survivor_id);
    poll_status(
        http,
        &survivor.rest,
        "failover",
        TASKS,
        FAILOVER_TIMEOUT,
        all_on_survivor,
    )
    .await
    .with_context(|| format!("{}: {}", case.label, survivor.log_tail()))?;
    Ok(killed.elapsed().as_secs_f64() * 1000.0)
}

pub async fn run(peer: &JavaPeer) -> anyhow::Result<Report> {
    let http = super::process::http()?;
    let dir = ScratchDir::new("failover")?;
    let mut rows = Vec::new();
    let mut ms = Vec::new();
    for case in CASES {
        eprintln!("kconnect bench: failover: {}…", case.label);
        let t = time_failover(&http, peer, &dir, case).await?;
        rows.push(Row::info(
            format!("SIGKILL → tasks RUNNING elsewhere: {}", case.label),
            t,
            Unit::Millis,
        ));
        ms.push(t);
    }
    rows.push(Row::info(
        "failover: Java defaults / kconnect defaults",
        ms[1] / ms[0],
        Unit::Ratio,
    ));
    rows.push(Row::info(
        "failover: Java (delay 0) / kconnect",
        ms[2] / ms[0],
        Unit::Ratio,
    ));
    Ok(Report {
        rows,
        notes: vec![format!(
            "**failover**: two distributed workers of one kind (kconnect, or Apache Kafka \
             Connect with `-Xms256m -Xmx1g`) in a fresh group on the real broker at {}, each \
             kind with its defaults (`session.timeout.ms` 10000 for both; \
             `scheduled.rebalance.max.delay.ms` 300000 in Connect, 0 in kconnect) and, for \
             Java, once more with that delay at 0. A FileStreamSink of {TASKS} tasks on a \
             {TASKS}-partition topic runs until both workers hold tasks; then the worker \
             started second (a follower; the leader stays, see `failover.rs` for why it \
             matters to Connect) gets SIGKILL and the survivor's `GET /connectors/failover/status` is polled every \
             20 ms until the connector and all tasks are RUNNING there. One run per \
             configuration. Both kinds first wait for the group coordinator to expire the dead \
             member's session; Connect then keeps its work unassigned for the delay in case it \
             returns.",
            peer.bootstrap
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_needs_every_task_running_with_a_worker() {
        let status = serde_json::json!({
            "connector": {"state": "RUNNING", "worker_id": "a"},
            "tasks": [
                {"id": 0, "state": "RUNNING", "worker_id": "a"},
                {"id": 1, "state": "RUNNING", "worker_id": "b"},
            ]
        });
        assert_eq!(
            placement(&status, 2),
            Some(Placement {
                connector: "a".into(),
                tasks: vec!["a".into(), "b".into()],
            })
        );
        assert_eq!(placement(&status, 3), None, "a task is missing");
        let mut unassigned = status.clone();
        unassigned["tasks"][1]["state"] = "UNASSIGNED".into();
        assert_eq!(placement(&unassigned, 2), None);
    }
}
