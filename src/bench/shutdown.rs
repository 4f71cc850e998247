//! Worker shutdown with many running tasks: the time `Worker::shutdown` takes to stop 200
//! VerifiableSource tasks (each flushes its in-flight records and commits its offsets). The
//! supervisors tell all their tasks to stop, then await them together under one deadline, so
//! this should not grow with the number of tasks.
//!
//! Measured twice: once the tasks are past their producers' start-up (the target), and right
//! after they report RUNNING, when a stop mostly waits for records queued behind librdkafka's
//! producer-id request (see the note in [`run`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use kconnect_connectors::registry::PluginRegistry;

use super::inproc::{props, InProcWorker};
use super::{format_value, Plan, Report, Row, Target, Unit};
use crate::embedded_broker::EmbeddedBroker;

/// Connectors × tasks each: 200 tasks, many more than a worker usually runs.
const CONNECTORS: usize = 4;
const TASKS_EACH: usize = 50;

pub async fn run(_plan: &Plan) -> anyhow::Result<Report> {
    let total = CONNECTORS * TASKS_EACH;
    let running = round(Moment::Running).await?;
    let fresh = round(Moment::JustStarted).await?;
    eprintln!(
        "  shutdown of {total} running tasks: {} once each had records acknowledged, {} right \
         after RUNNING",
        format_value(running, Unit::Millis),
        format_value(fresh, Unit::Millis)
    );
    Ok(Report {
        rows: vec![
            Row::with_target(
                format!("shutdown: worker with {total} running tasks"),
                running,
                Unit::Millis,
                Target::Below(1000.0),
            ),
            Row::info(
                format!("shutdown: {total} tasks right after RUNNING (producers starting)"),
                fresh,
                Unit::Millis,
            ),
        ],
        notes: vec![format!(
            "**shutdown**: {CONNECTORS} VerifiableSource connectors of {TASKS_EACH} tasks each \
             (20 records/s per task) in an in-process standalone worker on the embedded broker \
             (`offset.flush.interval.ms={FLUSH_MS}`); timed from `Worker::shutdown` to its \
             answer, which comes once every task stopped, waited for its in-flight records, \
             committed its offsets (to the offsets file) and closed its Kafka clients. The \
             target row starts the clock once every task is RUNNING and has had records \
             acknowledged (the offsets file holds an offset for each of the {total} tasks). \
             The row *right after RUNNING* starts it as soon as all are RUNNING: then most \
             tasks' first records still wait for their idempotent producer's id, which \
             librdkafka asks for again on a 500 ms timer when no broker connection was up at \
             its first attempt, and a stopping task waits for them as Connect does (up to \
             `offset.flush.timeout.ms`), so that row measures producer start-up as much as \
             shutdown."
        )],
    })
}

/// When the clock starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// Every task RUNNING and past its producer's start-up: it had records acknowledged.
    Running,
    /// Every task RUNNING, nothing more.
    JustStarted,
}

/// The offsets' flush interval: short, so that every task's first commit comes soon.
const FLUSH_MS: &str = "500";

/// Milliseconds `Worker::shutdown` took, with the clock started at `moment`.
async fn round(moment: Moment) -> anyhow::Result<f64> {
    let broker = Arc::new(EmbeddedBroker::start()?);
    let w = InProcWorker::start(
        &broker,
        &[("offset.flush.interval.ms", FLUSH_MS)],
        PluginRegistry::builtin(),
    )
    .await?;
    let tasks = TASKS_EACH.to_string();
    for c in 0..CONNECTORS {
        let name = format!("bench-shutdown-{c}");
        w.worker
            .add_connector(props(&[
                ("name", &name),
                ("connector.class", "VerifiableSource"),
                ("tasks.max", &tasks),
                ("topic", "bench-shutdown"),
                // Busy enough that every task has records in flight and offsets to commit.
                ("throughput", "20"),
                ("max.messages", "1000000000"),
            ]))
            .await
            .map_err(|e| anyhow!("adding {name}: {e}"))?;
    }
    for c in 0..CONNECTORS {
        w.wait_running(&format!("bench-shutdown-{c}"), TASKS_EACH)
            .await?;
    }
    if moment == Moment::Running {
        wait_committed(&w.dir.path("connect.offsets"), CONNECTORS * TASKS_EACH).await?;
    }
    let started = Instant::now();
    w.stop().await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    drop(broker);
    Ok(took)
}

/// Waits until the offsets file holds at least `n` entries: every task committed offsets of
/// acknowledged records. The worker replaces the file atomically, so each read is whole.
async fn wait_committed(path: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entries = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("offsets")?.as_array().map(Vec::len))
            .unwrap_or(0);
        if entries >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {entries} of {n} tasks committed offsets within 60 s");
        }
        // The file is the worker's; it announces no change, so it is looked at.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
