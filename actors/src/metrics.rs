//! Metric names and per-task handles. Names follow Kafka Connect's JMX metrics in the form the
//! Prometheus JMX exporter gives them (`kafka_connect_<group>_<metric>` with `-` → `_`), so
//! dashboards carry over; kconnect's own additions start with `kconnect_`. The recorder (the
//! Prometheus exporter) is installed by the binary; without one these calls do nothing.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::status::State;

pub const SOURCE_POLL_TOTAL: &str = "kafka_connect_source_task_metrics_source_record_poll_total";
pub const SOURCE_WRITE_TOTAL: &str = "kafka_connect_source_task_metrics_source_record_write_total";
pub const SINK_READ_TOTAL: &str = "kafka_connect_sink_task_metrics_sink_record_read_total";
pub const SINK_SEND_TOTAL: &str = "kafka_connect_sink_task_metrics_sink_record_send_total";
pub const PUT_BATCH_TIME: &str = "kafka_connect_sink_task_metrics_put_batch_time_ms";
pub const BATCH_SIZE: &str = "kafka_connect_connector_task_metrics_batch_size";
pub const COMMIT_SUCCESS: &str = "kafka_connect_connector_task_metrics_offset_commit_success_total";
pub const COMMIT_FAILURE: &str = "kafka_connect_connector_task_metrics_offset_commit_failure_total";
pub const COMMIT_TIME: &str = "kafka_connect_connector_task_metrics_offset_commit_time_ms";
pub const TASK_STATUS: &str = "kafka_connect_connector_task_metrics_status";
pub const CONNECTOR_COUNT: &str = "kafka_connect_connect_worker_metrics_connector_count";
pub const TASK_COUNT: &str = "kafka_connect_connect_worker_metrics_task_count";
pub const REBALANCES: &str =
    "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total";
pub const RESTARTS: &str = "kconnect_task_restarts_total";
pub const FAULTS: &str = "kconnect_faults_injected_total";

const STATES: [State; 6] = [
    State::Unassigned,
    State::Running,
    State::Paused,
    State::Failed,
    State::Restarting,
    State::Stopped,
];

/// One task's metric handles, registered once at start (the hot path only increments).
pub struct TaskMetrics {
    pub records_in: Counter,
    pub records_out: Counter,
    pub batch_size: Histogram,
    pub put_time_ms: Histogram,
    pub commit_success: Counter,
    pub commit_failure: Counter,
    pub commit_time_ms: Histogram,
}

impl TaskMetrics {
    pub fn source(connector: &str, task: u32) -> Self {
        Self::new(connector, task, SOURCE_POLL_TOTAL, SOURCE_WRITE_TOTAL)
    }

    pub fn sink(connector: &str, task: u32) -> Self {
        Self::new(connector, task, SINK_READ_TOTAL, SINK_SEND_TOTAL)
    }

    fn new(connector: &str, task: u32, input: &'static str, output: &'static str) -> Self {
        let l = [
            ("connector", connector.to_string()),
            ("task", task.to_string()),
        ];
        TaskMetrics {
            records_in: counter!(input, &l),
            records_out: counter!(output, &l),
            batch_size: histogram!(BATCH_SIZE, &l),
            put_time_ms: histogram!(PUT_BATCH_TIME, &l),
            commit_success: counter!(COMMIT_SUCCESS, &l),
            commit_failure: counter!(COMMIT_FAILURE, &l),
            commit_time_ms: histogram!(COMMIT_TIME, &l),
        }
    }
}

/// Sets the task's state gauge: 1 for its state, 0 for the others.
pub fn task_state(connector: &str, task: u32, state: State) {
    for s in STATES {
        let g: Gauge = gauge!(TASK_STATUS, "connector" => connector.to_string(), "task" => task.to_string(), "state" => s.as_str());
        g.set(if s == state { 1.0 } else { 0.0 });
    }
}

pub fn task_restarted(connector: &str, task: u32) {
    counter!(RESTARTS, "connector" => connector.to_string(), "task" => task.to_string())
        .increment(1);
}

pub fn worker_counts(connectors: usize, tasks: usize) {
    gauge!(CONNECTOR_COUNT).set(connectors as f64);
    gauge!(TASK_COUNT).set(tasks as f64);
    // A standalone worker never rebalances; the series exists so dashboards find it.
    counter!(REBALANCES).absolute(0);
}
