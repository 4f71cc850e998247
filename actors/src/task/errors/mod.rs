//! Error handling in a task's record path: Kafka Connect's `RetryWithToleranceOperator` and
//! its reporters (KIP-298), and the errant record reporter sink tasks ask their context for
//! (KIP-610).
//!
//! Every per-record operation Connect guards is guarded here, as a [`Stage`]: on the source side
//! each transformation (after `poll`), then the key and value converters; on the sink side the
//! key and value converters, then each transformation (before `put`); and for sinks the records
//! `put` reports through [`errant::TaskErrantReporter`] (`TASK_PUT`). A failed operation:
//! 1. is retried while it fails with [`ConnectError::Retriable`] and `errors.retry.timeout`
//!    allows (0, the default: never; -1: for ever), after a backoff that starts at 300 ms and
//!    doubles, a random delay below `errors.retry.delay.max.ms` once it would pass it, and never
//!    beyond the timeout ([`ErrorHandler::recover`]; the delay is drawn by the worker's one
//!    backoff, [`crate::backoff`]);
//! 2. then, failed for good, is reported: logged as Connect's `LogReporter` logs
//!    (`errors.log.enable`, the record's coordinates only with `errors.log.include.messages`),
//!    and on a sink written to the dead letter queue as it was consumed ([`dlq`]);
//! 3. and under `errors.tolerance=all` the record is skipped (its offset still commits), under
//!    `none` the task fails with [`ToleranceExceeded`], which names the stage and the record.
//!
//! Everything is counted under Connect's task-error metric names ([`metrics`]).
//!
//! The fast path costs nothing: an operation that succeeds is the operation's own call and a
//! match on its result; nothing is allocated, locked or counted until one fails.
//!
//! Deviations from Connect, on purpose:
//! - A retriable failure that outlives `errors.retry.timeout` fails the task under
//!   `errors.tolerance=none`, as Kafka 4.0 has it (KAFKA-18073); Connect before 4.0 skipped such
//!   records whatever the tolerance.
//! - A transformation that failed retriably is retried on the record as it left the
//!   transformations before it (Connect's records are immutable, kconnect's transformations
//!   change them in place: one that fails should leave the record as it found it).
//! - Every dead letter queue write, not only those of the errant record reporter, is awaited
//!   before the offsets of the records it covers are committed, and a write that failed (after
//!   the producer's own retries) fails the task instead of committing past the record: nothing
//!   reported is lost. Connect awaits only the errant record reporter's writes.
//! - A sink's failed operation under `errors.tolerance=none` waits (up to
//!   `offset.flush.timeout.ms`) for its dead letter queue write before the task fails: the
//!   record is in the queue when the task reports FAILED.
//! - The `__connect.errors.exception.*` headers name the Java exception class Connect would
//!   have thrown for the error's kind ([`java_exception`]); the stack trace header holds the
//!   exception's first line (`class: message`), as kconnect's errors carry no stack frames.
//! - Retries of a stage that keeps failing delay a stop request until the running backoff ends
//!   (a task stuck longer is abandoned after `task.shutdown.graceful.timeout.ms`, as any task);
//!   Connect interrupts the backoff.
//! - With `errors.log.enable=false` a skipped record is still logged at DEBUG (Connect logs
//!   nothing), so it can be found without restarting with different settings.
//! - The header converter (HEADER_CONVERTER stage) and the producer of a source task
//!   (KAFKA_PRODUCE) are not guarded: header values convert without failing, and a record the
//!   producer cannot deliver fails the task whatever the tolerance.

pub mod dlq;
pub mod errant;
mod log;
pub mod metrics;
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect_connectors::api::Props;
use kconnect_connectors::config::ParsedConfig;
use kconnect_connectors::{ConnectError, ConnectResult};

use crate::backoff::ExponentialBackoff;
use crate::config::{
    DLQ_CONTEXT_HEADERS_ENABLE, DLQ_REPLICATION_FACTOR, DLQ_TOPIC_NAME, ERRORS_LOG_ENABLE,
    ERRORS_LOG_INCLUDE_MESSAGES, ERRORS_RETRY_DELAY_MAX_MS, ERRORS_RETRY_TIMEOUT, ERRORS_TOLERANCE,
};
pub use record::{Consumed, ProcessingRecord};

use self::dlq::DeadLetterQueue;
use self::metrics::ErrorMetrics;

/// The first backoff of a retry; each further one doubles (Connect's `RETRIES_DELAY_MIN_MS`).
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

/// A logical stage of the record path, named as Connect names it (its `Stage` enum): the
/// `__connect.errors.stage` header and the log lines carry [`Stage::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TaskPoll,
    TaskPut,
    Transformation,
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::TaskPut => "TASK_PUT",
            Stage::Transformation => "TRANSFORMATION",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tolerance {
    #[default]
    None,
    All,
}

/// The class Connect names for `TASK_PUT` failures (`SinkTask.class`).
pub const SINK_TASK_CLASS: &str = "org.apache.kafka.connect.sink.SinkTask";

/// What was running when an operation failed: the stage, the class executing it (a converter
/// or transformation class, Connect's `executingClass`) and, for a transformation, its alias.
#[derive(Debug, Clone, Copy)]
pub struct Executing<'a> {
    pub stage: Stage,
    pub class: &'a str,
    pub alias: Option<&'a str>,
}

impl<'a> Executing<'a> {
    pub fn new(stage: Stage, class: &'a str) -> Self {
        Executing {
            stage,
            class,
            alias: None,
        }
    }

    pub fn transformation(alias: &'a str, class: &'a str) -> Self {
        Executing {
            stage: Stage::Transformation,
            class,
            alias: Some(alias),
        }
    }

    /// Who failed, for the task's error.
    fn who(&self) -> String {
        match self.stage {
            Stage::Transformation => format!(
                "the transformation {} ({})",
                self.alias.unwrap_or("?"),
                self.class
            ),
            Stage::KeyConverter => format!("the key converter {}", self.class),
            Stage::ValueConverter => format!("the value converter {}", self.class),
            Stage::HeaderConverter => format!("the header converter {}", self.class),
            Stage::TaskPut => "the sink task".to_string(),
            other => format!("{} ({})", other.name(), self.class),
        }
    }
}

/// The Java exception class Connect would have thrown for `error`, and its message (what
/// Java's `getMessage` returns, without kconnect's kind prefix).
pub fn java_exception(error: &ConnectError) -> (&'static str, &str) {
    match error {
        ConnectError::Data(m) => ("org.apache.kafka.connect.errors.DataException", m),
        ConnectError::Retriable(m) => ("org.apache.kafka.connect.errors.RetriableException", m),
        ConnectError::Config(m) => ("org.apache.kafka.common.config.ConfigException", m),
        ConnectError::Other(m) => ("org.apache.kafka.connect.errors.ConnectException", m),
    }
}

/// A failure `errors.tolerance=none` does not tolerate: the task's error, naming the stage, who
/// failed and the record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Tolerance exceeded in error handler at stage {stage}: {who} failed on {record}: {error}")]
pub struct ToleranceExceeded {
    pub stage: Stage,
    pub who: String,
    pub record: String,
    pub error: ConnectError,
}

impl ToleranceExceeded {
    fn new(
        exec: &Executing<'_>,
        record: &(impl ProcessingRecord + ?Sized),
        error: &ConnectError,
    ) -> Self {
        ToleranceExceeded {
            stage: exec.stage,
            who: exec.who(),
            record: record.name(),
            error: error.clone(),
        }
    }
}

/// The dead letter queue keys of a sink connector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DlqSettings {
    /// `errors.deadletterqueue.topic.name`, trimmed; `None` when blank (no queue).
    pub topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor` (default 3).
    pub replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub context_headers: bool,
}

impl DlqSettings {
    /// The keys as given (the connector config was validated when it was created).
    pub fn parse(props: &Props) -> ConnectResult<Self> {
        let get = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let invalid = |k: &str, v: &str| {
            ConnectError::config(format!("Invalid value {v} for configuration {k}"))
        };
        let replication_factor = match get(DLQ_REPLICATION_FACTOR) {
            None => 3,
            Some(v) => v.parse().map_err(|_| invalid(DLQ_REPLICATION_FACTOR, v))?,
        };
        let context_headers = match get(DLQ_CONTEXT_HEADERS_ENABLE) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(invalid(DLQ_CONTEXT_HEADERS_ENABLE, v)),
        };
        Ok(DlqSettings {
            topic: get(DLQ_TOPIC_NAME).map(str::to_string),
            replication_factor,
            context_headers,
        })
    }
}

/// A connector's `errors.*` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSettings {
    /// `errors.retry.timeout`: `None` retries for ever (-1).
    pub retry_timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`.
    pub retry_delay_max: Duration,
    pub tolerance: Tolerance,
    /// `errors.log.enable`.
    pub log: bool,
    /// `errors.log.include.messages`.
    pub log_messages: bool,
    /// Sinks only: the dead letter queue (parsed from every connector's config; a source
    /// connector has no such keys, so no queue).
    pub dlq: DlqSettings,
}

impl Default for ErrorSettings {
    /// Connect's defaults: no retry, no tolerance, no log, no queue.
    fn default() -> Self {
        ErrorSettings {
            retry_timeout: Some(Duration::ZERO),
            retry_delay_max: Duration::from_millis(60_000),
            tolerance: Tolerance::None,
            log: false,
            log_messages: false,
            dlq: DlqSettings {
                replication_factor: 3,
                ..DlqSettings::default()
            },
        }
    }
}

impl ErrorSettings {
    /// From a parsed connector config (the common keys) and its props (the sink's keys).
    pub fn parse(p: &ParsedConfig, props: &Props) -> ConnectResult<Self> {
        let timeout = p.long(ERRORS_RETRY_TIMEOUT)?;
        Ok(ErrorSettings {
            // Connect: a negative timeout retries for ever; -1 is the documented value.
            retry_timeout: (timeout >= 0).then(|| Duration::from_millis(timeout as u64)),
            retry_delay_max: Duration::from_millis(p.long(ERRORS_RETRY_DELAY_MAX_MS)?.max(0) as u64),
            tolerance: if p.string(ERRORS_TOLERANCE)? == "all" {
                Tolerance::All
            } else {
                Tolerance::None
            },
            log: p.boolean(ERRORS_LOG_ENABLE)?,
            log_messages: p.boolean(ERRORS_LOG_INCLUDE_MESSAGES)?,
            dlq: DlqSettings::parse(props)?,
        })
    }

    /// Whether a sink task's context offers an errant record reporter: Connect's condition
    /// (`SinkConnectorConfig.enableErrantRecordReporter`), a dead letter queue or the error log.
    pub fn errant_reporter_enabled(&self) -> bool {
        self.dlq.topic.is_some() || self.log
    }
}

/// What becomes of a record whose operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovered<T> {
    /// A retry succeeded: the operation's result.
    Done(T),
    /// Failed for good and tolerated: the record is skipped.
    Skip,
}

/// What happens once an operation failed for good: the counts, the reporters, the tolerance.
/// Shared by the task (its converters and transformations) and the errant record reporter its
/// sink task may call from `put`.
pub struct Reporters {
    /// `<connector>-<task>`, as Connect prints a `ConnectorTaskId`.
    task: String,
    connector: String,
    task_id: u32,
    tolerance: Tolerance,
    log: bool,
    log_messages: bool,
    metrics: ErrorMetrics,
    dlq: Option<DeadLetterQueue>,
    /// How long a failing task waits for its last dead letter queue write.
    flush_timeout: Duration,
}

impl Reporters {
    /// `metrics`: the task's, made first so that its dead letter queue counts into them.
    pub fn new(
        connector: &str,
        task: u32,
        settings: &ErrorSettings,
        metrics: ErrorMetrics,
        dlq: Option<DeadLetterQueue>,
        flush_timeout: Duration,
    ) -> Self {
        Reporters {
            task: format!("{connector}-{task}"),
            connector: connector.to_string(),
            task_id: task,
            tolerance: settings.tolerance,
            log: settings.log,
            log_messages: settings.log_messages,
            metrics,
            dlq,
            flush_timeout,
        }
    }

    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    pub fn metrics(&self) -> &ErrorMetrics {
        &self.metrics
    }

    pub fn dlq(&self) -> Option<&DeadLetterQueue> {
        self.dlq.as_ref()
    }

    /// Hands the failure to the reporters: the log (when enabled) and the dead letter queue
    /// (when configured and the record came from Kafka). Returns the queue write's completion
    /// when `notify` asks for it.
    fn report(
        &self,
        exec: &Executing<'_>,
        record: &(impl ProcessingRecord + ?Sized),
        error: &ConnectError,
        notify: bool,
    ) -> Option<tokio::sync::oneshot::Receiver<ConnectResult<()>>> {
        if self.log {
            let line = log::message(&self.task, exec, record, self.log_messages);
            tracing::error!(error = %error, "{line}");
            self.metrics.errors_logged.increment(1);
        } else {
            tracing::debug!(
                stage = exec.stage.name(),
                class = exec.class,
                error = %error,
                "operation failed on {} (errors.log.enable=false)",
                record.name()
            );
        }
        let dlq = self.dlq.as_ref()?;
        let context = dlq::ErrorContext {
            connector: &self.connector,
            task: self.task_id,
            exec,
            error,
        };
        dlq.write(record.consumed().as_ref(), &context, &self.metrics, notify)
    }

    /// An operation failed for good (retries, if any, exhausted): counted, reported, then
    /// skipped under `all`, the task's failure under `none`.
    async fn failed<T>(
        &self,
        exec: &Executing<'_>,
        record: &(impl ProcessingRecord + ?Sized),
        error: &ConnectError,
    ) -> Result<Recovered<T>, ToleranceExceeded> {
        self.metrics.error_now();
        self.metrics.record_errors.increment(1);
        match self.tolerance {
            Tolerance::All => {
                self.report(exec, record, error, false);
                self.metrics.records_skipped.increment(1);
                Ok(Recovered::Skip)
            }
            Tolerance::None => {
                if let Some(written) = self.report(exec, record, error, true) {
                    // The record is in the queue by the time the task reports FAILED.
                    let _ = tokio::time::timeout(self.flush_timeout, written).await;
                }
                Err(ToleranceExceeded::new(exec, record, error))
            }
        }
    }

    /// Connect's `executeFailed`: an operation that failed outside the runtime's hands (a
    /// record `put` reported) is counted and reported at once, with no retry; the task's
    /// failure under `none`. The report's completion otherwise (`None`: nothing to await).
    pub fn execute_failed(
        &self,
        exec: &Executing<'_>,
        record: &(impl ProcessingRecord + ?Sized),
        error: &ConnectError,
    ) -> Result<Option<tokio::sync::oneshot::Receiver<ConnectResult<()>>>, ToleranceExceeded> {
        self.metrics.error_now();
        self.metrics.record_failures.increment(1);
        let written = self.report(exec, record, error, true);
        match self.tolerance {
            Tolerance::All => Ok(written),
            Tolerance::None => {
                self.metrics.record_errors.increment(1);
                Err(ToleranceExceeded::new(exec, record, error))
            }
        }
    }
}

/// `errors.retry.timeout` and `errors.retry.delay.max.ms`.
#[derive(Debug, Clone, Copy)]
struct Retry {
    timeout: Option<Duration>,
    max_delay: Duration,
}

impl Retry {
    /// The wait before retry number `attempt` (1 for the first): Connect's exponential backoff
    /// from [`RETRY_DELAY_MIN`], a random delay below the maximum once it would pass it, and
    /// never past the deadline.
    fn backoff(&self, attempt: u32, deadline: Option<Instant>, now: Instant) -> Duration {
        let shape = ExponentialBackoff {
            initial: RETRY_DELAY_MIN,
            max: self.max_delay,
            jitter: 0.0,
        };
        let delay = shape.doubled_or_random_below_max(attempt, &mut rand::rng());
        match deadline {
            Some(d) => delay.min(d.saturating_duration_since(now)),
            None => delay,
        }
    }
}

/// A task's operator: runs the rest of a failed operation (its retries, then the reporters and
/// the tolerance). One per task incarnation.
pub struct ErrorHandler {
    retry: Retry,
    reporters: Arc<Reporters>,
}

impl ErrorHandler {
    pub fn new(settings: &ErrorSettings, reporters: Arc<Reporters>) -> Self {
        ErrorHandler {
            retry: Retry {
                timeout: settings.retry_timeout,
                max_delay: settings.retry_delay_max,
            },
            reporters,
        }
    }

    pub fn reporters(&self) -> &Arc<Reporters> {
        &self.reporters
    }

    /// The outcome of an operation on `record` whose first attempt gave `first`: its value,
    /// or, when it failed, what [`recover`](ErrorHandler::recover) makes of it (`None`: the
    /// record is skipped). On success this is a match and nothing else.
    pub async fn settle<R: ProcessingRecord + ?Sized, T>(
        &self,
        exec: Executing<'_>,
        record: &mut R,
        first: ConnectResult<T>,
        op: impl FnMut(&mut R) -> ConnectResult<T>,
    ) -> Result<Option<T>, ToleranceExceeded> {
        match first {
            Ok(v) => Ok(Some(v)),
            // Boxed: the failure path's future stays out of the record path's.
            Err(e) => match Box::pin(self.recover(exec, record, e, op)).await? {
                Recovered::Done(v) => Ok(Some(v)),
                Recovered::Skip => Ok(None),
            },
        }
    }

    /// Continues an operation whose first attempt on `record` failed with `error`: retried
    /// with `op` while it fails retriably and `errors.retry.timeout` allows, then reported and
    /// skipped or refused as `errors.tolerance` says. Callers reach it only on a failure, so
    /// the record path's success costs nothing here.
    pub async fn recover<R: ProcessingRecord + ?Sized, T>(
        &self,
        exec: Executing<'_>,
        record: &mut R,
        error: ConnectError,
        mut op: impl FnMut(&mut R) -> ConnectResult<T>,
    ) -> Result<Recovered<T>, ToleranceExceeded> {
        let metrics = self.reporters.metrics();
        let deadline = self.retry.timeout.map(|t| Instant::now() + t);
        let mut error = error;
        let mut attempt = 1;
        loop {
            metrics.record_failures.increment(1);
            if !matches!(error, ConnectError::Retriable(_)) {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            let wait = self.retry.backoff(attempt, deadline, now);
            tracing::debug!(
                stage = exec.stage.name(),
                attempt,
                "retrying in {} ms after a retriable failure: {error}",
                wait.as_millis()
            );
            tokio::time::sleep(wait).await;
            metrics.retries.increment(1);
            attempt += 1;
            match op(record) {
                Ok(v) => return Ok(Recovered::Done(v)),
                Err(e) => error = e,
            }
        }
        self.reporters.failed(&exec, &*record, &error).await
    }
}

#[cfg(test)]
mod tests;
