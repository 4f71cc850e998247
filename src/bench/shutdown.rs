//! Worker shutdown with many running tasks: the time `Worker::shutdown` takes to stop 200
//! VerifiableSource tasks (each flushes its in-flight records and commits its offsets). The
//! supervisors tell all their tasks to stop, then await them together under one deadline, so
//! this should not grow with the number of tasks.

use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use kconnect_connectors::registry::PluginRegistry;

use super::inproc::{props, InProcWorker};
use super::{format_value, Plan, Report, Row, Target, Unit};
use crate::embedded_broker::EmbeddedBroker;

/// Connectors × tasks each: 200 tasks, many more than a worker usually runs.
const CONNECTORS: usize = 4;
const TASKS_EACH: usize = 50;

pub async fn run(_plan: &Plan) -> anyhow::Result<Report> {
    let broker = Arc::new(EmbeddedBroker::start()?);
    let w = InProcWorker::start(&broker, &[], PluginRegistry::builtin()).await?;
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
    let started = Instant::now();
    w.stop().await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    drop(broker);
    let total = CONNECTORS * TASKS_EACH;
    eprintln!(
        "  shutdown of {total} running tasks: {}",
        format_value(took, Unit::Millis)
    );
    Ok(Report {
        rows: vec![Row::with_target(
            format!("shutdown: worker with {total} running tasks"),
            took,
            Unit::Millis,
            Target::Below(1000.0),
        )],
        notes: vec![format!(
            "**shutdown**: {CONNECTORS} VerifiableSource connectors of {TASKS_EACH} tasks each \
             (20 records/s per task) in an in-process standalone worker on the embedded broker, \
             all RUNNING; timed from `Worker::shutdown` to its answer, which comes once every \
             task stopped, committed its offsets (to the offsets file) and closed its Kafka \
             clients."
        )],
    })
}
