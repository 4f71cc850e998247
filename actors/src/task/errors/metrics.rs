//! One task's error metrics: Connect's `ErrorHandlingMetrics` (the `task-error-metrics` group),
//! registered when the task starts, so each series shows 0 until something fails. Names and
//! meanings in [`crate::metrics`].

use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, Counter, Gauge};

use crate::metrics as names;

/// A task's error counters, as Connect's sensors count:
/// - `record_failures`: every failed attempt of an operation, retriable or not;
/// - `record_errors`: operations that failed for good (after their retries);
/// - `records_skipped`: records skipped under `errors.tolerance=all`;
/// - `retries`: retries made;
/// - `errors_logged`: lines of the error log (`errors.log.enable`);
/// - `dlq_requests` / `dlq_failures`: dead letter queue writes asked for, and failed.
pub struct ErrorMetrics {
    pub record_failures: Counter,
    pub record_errors: Counter,
    pub records_skipped: Counter,
    pub retries: Counter,
    pub errors_logged: Counter,
    pub dlq_requests: Counter,
    pub dlq_failures: Counter,
    last_error: Gauge,
}

impl ErrorMetrics {
    pub fn new(connector: &str, task: u32) -> Self {
        let l = [
            ("connector", connector.to_string()),
            ("task", task.to_string()),
        ];
        let m = ErrorMetrics {
            record_failures: counter!(names::ERROR_RECORD_FAILURES, &l),
            record_errors: counter!(names::ERROR_RECORD_ERRORS, &l),
            records_skipped: counter!(names::ERROR_RECORDS_SKIPPED, &l),
            retries: counter!(names::ERROR_RETRIES, &l),
            errors_logged: counter!(names::ERROR_ERRORS_LOGGED, &l),
            dlq_requests: counter!(names::ERROR_DLQ_PRODUCE_REQUESTS, &l),
            dlq_failures: counter!(names::ERROR_DLQ_PRODUCE_FAILURES, &l),
            last_error: gauge!(names::ERROR_LAST_TIMESTAMP, &l),
        };
        // The series exist from the start (dashboards find them); `absolute` never lowers what
        // an earlier incarnation of the task counted.
        for c in [
            &m.record_failures,
            &m.record_errors,
            &m.records_skipped,
            &m.retries,
            &m.errors_logged,
            &m.dlq_requests,
            &m.dlq_failures,
        ] {
            c.absolute(0);
        }
        m
    }

    /// Connect's `recordErrorTimestamp`: the time of the latest error.
    pub fn error_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_error.set(now.as_secs_f64());
    }
}
