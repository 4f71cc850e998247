//! `rebalance`: a second distributed worker joins a worker that runs a connector of [`TASKS`]
//! tasks, and half of them move to it — for kconnect and for Apache Kafka Connect on one real
//! Kafka broker.
//!
//! Each kind starts one worker in a fresh group, creates a FileStreamSink of [`TASKS`] tasks on a
//! topic of as many partitions (Kafka 4.x's Connect ships no multi-task source connector), and
//! waits until every task runs there. It then starts a second worker and, once that one's REST
//! API answers, polls the first worker's `GET /connectors/{c}/status` every 20 ms until all
//! tasks are RUNNING again with exactly half on the newcomer. That interval is the number
//! reported: the group's rebalances (incremental cooperative in both kinds: the leader first
//! revokes the tasks it moves, a second round assigns them), stopping [`TASKS`]/2 tasks on the
//! first worker (each closes its consumer after committing) and starting them on the second.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::failover::{create_connector, poll_status, spawn};
use super::inproc::ScratchDir;
use super::java::{create_topic, unique, wait_rest, JavaPeer, Side, FILE_SINK};
use super::{Report, Row, Unit};

/// Tasks of the connector; half of them move.
const TASKS: usize = 200;
const TIMEOUT: Duration = Duration::from_secs(300);

/// One kind: the milliseconds from the newcomer's REST answering until half the tasks run there.
async fn time_rebalance(
    http: &reqwest::Client,
    peer: &JavaPeer,
    dir: &ScratchDir,
    side: Side,
) -> anyhow::Result<f64> {
    let group = unique("rebalance");
    let (mut a, a_id) = spawn(side, peer, dir, &group, &[])?;
    wait_rest(http, &mut a).await?;
    let topic = unique("rebalance-in");
    create_topic(&peer.bootstrap, &topic, TASKS as i32).await?;
    let body = serde_json::json!({
        "name": "rebalance",
        "config": {
            "connector.class": FILE_SINK,
            "tasks.max": TASKS.to_string(),
            "topics": topic,
            "file": dir.path(&format!("{group}.txt")).display().to_string(),
        }
    });
    create_connector(http, &a, &body).await?;
    let all_on_a = |p: &super::failover::Placement| p.tasks.iter().all(|t| *t == a_id);
    poll_status(http, &a.rest, "rebalance", TASKS, TIMEOUT, all_on_a)
        .await
        .context("the tasks never all ran on the first worker")?;
    let (mut b, b_id) = spawn(side, peer, dir, &group, &[])?;
    wait_rest(http, &mut b).await?;
    let joined = Instant::now();
    let halved = |p: &super::failover::Placement| {
        p.tasks.iter().filter(|t| **t == b_id).count() == TASKS / 2
    };
    poll_status(http, &a.rest, "rebalance", TASKS, TIMEOUT, halved)
        .await
        .with_context(|| format!("{}\n{}", a.log_tail(), b.log_tail()))?;
    Ok(joined.elapsed().as_secs_f64() * 1000.0)
}

pub async fn run(peer: &JavaPeer) -> anyhow::Result<Report> {
    let http = super::process::http()?;
    let dir = ScratchDir::new("rebalance")?;
    let mut ms = Vec::new();
    for side in [Side::Kconnect, Side::Java] {
        eprintln!("kconnect bench: rebalance: {}…", side.name());
        ms.push(time_rebalance(&http, peer, &dir, side).await?);
    }
    let moved = TASKS / 2;
    Ok(Report {
        rows: vec![
            Row::info(
                format!("rebalance moving {moved} tasks to a new worker: kconnect"),
                ms[0],
                Unit::Millis,
            ),
            Row::info(
                format!("rebalance moving {moved} tasks to a new worker: Java Connect"),
                ms[1],
                Unit::Millis,
            ),
            Row::info("rebalance: Java / kconnect", ms[1] / ms[0], Unit::Ratio),
        ],
        notes: vec![format!(
            "**rebalance**: one distributed worker of one kind (kconnect, or Apache Kafka Connect \
             with `-Xms256m -Xmx1g`, each with its defaults) in a fresh group on the real broker \
             at {}, running a FileStreamSink of {TASKS} tasks on a {TASKS}-partition topic; a \
             second worker of the same kind then starts, and from the moment its REST API \
             answers, the first worker's `GET /connectors/rebalance/status` is polled every \
             20 ms until every task is RUNNING with {moved} on the newcomer. Both kinds \
             rebalance incrementally: the leader revokes the tasks it moves, a second round \
             assigns them. One run per kind.",
            peer.bootstrap
        )],
    })
}
