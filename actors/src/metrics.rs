//! Metric names, their descriptions and per-task handles. Names follow Kafka Connect's JMX
//! metrics in the form the Prometheus JMX exporter gives them
//! (`kafka_connect_<group>_<metric>` with `-` → `_`), so dashboards carry over, and Prometheus'
//! conventions: base units in the name (`_seconds`, never milliseconds), `_total` on counters,
//! histograms where Connect has averages and maxima. kconnect's own additions start with
//! `kconnect_`. The recorder (the Prometheus exporter) is installed by the binary, which calls
//! [`describe`] and sets the buckets of [`DURATION_BUCKETS`] and [`BATCH_SIZE_BUCKETS`]; without
//! a recorder these calls do nothing.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Unit};

use crate::status::State;

pub const SOURCE_POLL_TOTAL: &str = "kafka_connect_source_task_metrics_source_record_poll_total";
pub const SOURCE_WRITE_TOTAL: &str = "kafka_connect_source_task_metrics_source_record_write_total";
pub const POLL_BATCH_TIME: &str = "kafka_connect_source_task_metrics_poll_batch_time_seconds";
pub const SINK_READ_TOTAL: &str = "kafka_connect_sink_task_metrics_sink_record_read_total";
pub const SINK_SEND_TOTAL: &str = "kafka_connect_sink_task_metrics_sink_record_send_total";
pub const PUT_BATCH_TIME: &str = "kafka_connect_sink_task_metrics_put_batch_time_seconds";
pub const BATCH_SIZE: &str = "kafka_connect_connector_task_metrics_batch_size_records";
pub const COMMIT_SUCCESS: &str = "kafka_connect_connector_task_metrics_offset_commit_success_total";
pub const COMMIT_FAILURE: &str = "kafka_connect_connector_task_metrics_offset_commit_failure_total";
pub const COMMIT_TIME: &str = "kafka_connect_connector_task_metrics_offset_commit_time_seconds";
pub const TASK_STATUS: &str = "kafka_connect_connector_task_metrics_status";
pub const CONNECTOR_COUNT: &str = "kafka_connect_connect_worker_metrics_connector_count";
pub const TASK_COUNT: &str = "kafka_connect_connect_worker_metrics_task_count";
pub const REBALANCES: &str =
    "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total";
pub const RESTARTS: &str = "kconnect_task_restarts_total";

// Connect's `task-error-metrics` group (`ErrorHandlingMetrics`), per connector and task. Its
// counters are named `total-…` or `deadletterqueue-…` in Connect; here each keeps its whole
// Connect name and gets the `_total` every Prometheus counter ends with.
pub const ERROR_RECORD_FAILURES: &str =
    "kafka_connect_task_error_metrics_total_record_failures_total";
pub const ERROR_RECORD_ERRORS: &str = "kafka_connect_task_error_metrics_total_record_errors_total";
pub const ERROR_RECORDS_SKIPPED: &str =
    "kafka_connect_task_error_metrics_total_records_skipped_total";
pub const ERROR_RETRIES: &str = "kafka_connect_task_error_metrics_total_retries_total";
pub const ERROR_ERRORS_LOGGED: &str = "kafka_connect_task_error_metrics_total_errors_logged_total";
pub const ERROR_DLQ_PRODUCE_REQUESTS: &str =
    "kafka_connect_task_error_metrics_deadletterqueue_produce_requests_total";
pub const ERROR_DLQ_PRODUCE_FAILURES: &str =
    "kafka_connect_task_error_metrics_deadletterqueue_produce_failures_total";
/// Connect's `last-error-timestamp` (milliseconds there), in seconds since the epoch as
/// Prometheus has timestamps; 0 until the task's first error.
pub const ERROR_LAST_TIMESTAMP: &str =
    "kafka_connect_task_error_metrics_last_error_timestamp_seconds";
pub const FAULTS: &str = "kconnect_faults_injected_total";

/// Bucket bounds (seconds) of the `_seconds` histograms: a put, a poll or an offset commit
/// takes from well under a millisecond (a memory append) to seconds (a slow broker or plugin).
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket bounds (records) of [`BATCH_SIZE`]: up to `max.poll.records` (500) for sinks, up to a
/// source's `batch.size` (2000 for FileStreamSource) and beyond.
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// Registers the HELP text (and unit) of every metric with the installed recorder, so every
/// family renders with `# HELP` and `# TYPE`. Call once, after installing the recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        SOURCE_POLL_TOTAL,
        Unit::Count,
        "Records the source task returned from poll, before conversion and production."
    );
    describe_counter!(
        SOURCE_WRITE_TOTAL,
        Unit::Count,
        "Source records the broker acknowledged."
    );
    describe_histogram!(
        POLL_BATCH_TIME,
        Unit::Seconds,
        "Time the source task's poll took, per batch."
    );
    describe_counter!(
        SINK_READ_TOTAL,
        Unit::Count,
        "Records the sink task read from Kafka."
    );
    describe_counter!(
        SINK_SEND_TOTAL,
        Unit::Count,
        "Records the sink task's put accepted."
    );
    describe_histogram!(
        PUT_BATCH_TIME,
        Unit::Seconds,
        "Time the sink task's put took, per batch."
    );
    describe_histogram!(
        BATCH_SIZE,
        Unit::Count,
        "Records per batch: returned by a source task's poll, handed to a sink task's put."
    );
    describe_counter!(
        COMMIT_SUCCESS,
        Unit::Count,
        "Offset commits that succeeded."
    );
    describe_counter!(COMMIT_FAILURE, Unit::Count, "Offset commits that failed.");
    describe_histogram!(
        COMMIT_TIME,
        Unit::Seconds,
        "Time a successful offset commit took."
    );
    describe_gauge!(
        TASK_STATUS,
        "1 for the task's current state (label state), 0 for the other states."
    );
    describe_gauge!(
        CONNECTOR_COUNT,
        Unit::Count,
        "Connectors this worker knows."
    );
    describe_gauge!(TASK_COUNT, Unit::Count, "Tasks of those connectors.");
    describe_counter!(
        REBALANCES,
        Unit::Count,
        "Group rebalances this worker completed (always 0 in standalone mode)."
    );
    describe_counter!(
        RESTARTS,
        Unit::Count,
        "Times the supervisor restarted a failed task."
    );
    describe_counter!(
        ERROR_RECORD_FAILURES,
        Unit::Count,
        "Failed attempts of a record operation (conversion, transformation, a record put \
         reported), retriable ones included (Connect's total-record-failures)."
    );
    describe_counter!(
        ERROR_RECORD_ERRORS,
        Unit::Count,
        "Record operations that failed for good, after any retries (Connect's \
         total-record-errors)."
    );
    describe_counter!(
        ERROR_RECORDS_SKIPPED,
        Unit::Count,
        "Records skipped under errors.tolerance=all (Connect's total-records-skipped)."
    );
    describe_counter!(
        ERROR_RETRIES,
        Unit::Count,
        "Retries of operations that failed retriably (Connect's total-retries)."
    );
    describe_counter!(
        ERROR_ERRORS_LOGGED,
        Unit::Count,
        "Errors written to the log with errors.log.enable (Connect's total-errors-logged)."
    );
    describe_counter!(
        ERROR_DLQ_PRODUCE_REQUESTS,
        Unit::Count,
        "Records a sink task sent to its dead letter queue (Connect's \
         deadletterqueue-produce-requests)."
    );
    describe_counter!(
        ERROR_DLQ_PRODUCE_FAILURES,
        Unit::Count,
        "Dead letter queue writes that failed (Connect's deadletterqueue-produce-failures)."
    );
    describe_gauge!(
        ERROR_LAST_TIMESTAMP,
        Unit::Seconds,
        "When the task's last record error happened, in seconds since the epoch; 0: never \
         (Connect's last-error-timestamp)."
    );
    describe_counter!(
        FAULTS,
        Unit::Count,
        "Faults injected on purpose (faults.* keys, POST /admin/faults)."
    );
    crate::exactly_once::task::describe_metrics();
}

const STATES: [State; 6] = [
    State::Unassigned,
    State::Running,
    State::Paused,
    State::Failed,
    State::Restarting,
    State::Stopped,
];

/// One task's metric handles, registered once at start (the hot path only increments). A
/// source task's handles carry source names and a sink task's sink names: neither registers a
/// series under the other kind's names.
pub struct TaskMetrics {
    /// Source: records polled. Sink: records read.
    pub records_in: Counter,
    /// Source: records acknowledged. Sink: records put.
    pub records_out: Counter,
    pub batch_size: Histogram,
    /// Source: how long a poll took. Sink: how long a put took. Record a `Duration`: it is
    /// recorded in seconds.
    pub batch_time: Histogram,
    pub commit_success: Counter,
    pub commit_failure: Counter,
    pub commit_time: Histogram,
}

impl TaskMetrics {
    pub fn source(connector: &str, task: u32) -> Self {
        Self::new(
            connector,
            task,
            [SOURCE_POLL_TOTAL, SOURCE_WRITE_TOTAL, POLL_BATCH_TIME],
        )
    }

    pub fn sink(connector: &str, task: u32) -> Self {
        Self::new(
            connector,
            task,
            [SINK_READ_TOTAL, SINK_SEND_TOTAL, PUT_BATCH_TIME],
        )
    }

    fn new(connector: &str, task: u32, [input, output, time]: [&'static str; 3]) -> Self {
        let l = [
            ("connector", connector.to_string()),
            ("task", task.to_string()),
        ];
        TaskMetrics {
            records_in: counter!(input, &l),
            records_out: counter!(output, &l),
            batch_size: histogram!(BATCH_SIZE, &l),
            batch_time: histogram!(time, &l),
            commit_success: counter!(COMMIT_SUCCESS, &l),
            commit_failure: counter!(COMMIT_FAILURE, &l),
            commit_time: histogram!(COMMIT_TIME, &l),
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
    // The series exists from the start so dashboards find it; `absolute` never lowers it.
    counter!(REBALANCES).absolute(0);
}

/// Counts one completed rebalance of a distributed worker.
pub fn rebalance_completed() {
    counter!(REBALANCES).increment(1);
}
