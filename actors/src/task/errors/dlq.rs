//! A sink task's dead letter queue (Connect's `DeadLetterQueueReporter`): each record that
//! failed for good is written to `errors.deadletterqueue.topic.name` with the key, value,
//! headers and timestamp it was consumed with, and, with
//! `errors.deadletterqueue.context.headers.enable`, Connect's `__connect.errors.*` headers.
//!
//! The topic is created when the task starts if it is missing (one partition,
//! `errors.deadletterqueue.topic.replication.factor`): through CreateTopics on a real cluster
//! (with the connector's `admin.override.*` keys), through the embedded broker's API there. The
//! producer is built as Connect builds it: the worker's `producer.*` keys, the connector's
//! `producer.override.*` keys, Connect's producer defaults, client id
//! `connector-dlq-producer-<connector>-<task>`.
//!
//! Writes are counted while in flight ([`DeadLetterQueue::wait_written`]): the task commits
//! offsets only once every write before the commit was acknowledged, and fails instead if one
//! could not be (see the module doc of [`super`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kconnect_connectors::{ConnectError, ConnectResult};
use metrics::Counter;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::sync::{oneshot, Notify};

use super::metrics::ErrorMetrics;
use super::{java_exception, Consumed, DlqSettings, Executing};
use crate::broker_health::KafkaClientContext;
use crate::config::{admin_client_props, client_props, ConnectorConfig};
use crate::context::WorkerContext;
use crate::task::source::{producer_defaults, OffThreadDrop};
use crate::topic_creation::{KafkaTopicAdmin, NewTopicSpec, TopicAdmin};

/// Connect's `__connect.errors.` context headers.
pub const HEADER_PREFIX: &str = "__connect.errors.";
pub const HEADER_TOPIC: &str = "__connect.errors.topic";
pub const HEADER_PARTITION: &str = "__connect.errors.partition";
pub const HEADER_OFFSET: &str = "__connect.errors.offset";
pub const HEADER_CONNECTOR_NAME: &str = "__connect.errors.connector.name";
pub const HEADER_TASK_ID: &str = "__connect.errors.task.id";
pub const HEADER_STAGE: &str = "__connect.errors.stage";
pub const HEADER_EXECUTING_CLASS: &str = "__connect.errors.class.name";
pub const HEADER_EXCEPTION: &str = "__connect.errors.exception.class.name";
pub const HEADER_EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
pub const HEADER_EXCEPTION_STACK_TRACE: &str = "__connect.errors.exception.stacktrace";

/// How long a report waits for room in the producer's local queue before the write counts as
/// failed (the queue holds 100,000 records by default: only a broker long gone fills it).
const QUEUE_FULL_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("could not initialize the dead letter queue with topic={topic}: {detail}")]
    Setup { topic: String, detail: String },
    #[error("{0}")]
    WriteFailed(String),
    #[error("{pending} dead letter queue write(s) not acknowledged within {timeout:?}")]
    Timeout { pending: usize, timeout: Duration },
}

/// What failed, for the context headers.
pub(super) struct ErrorContext<'a> {
    pub connector: &'a str,
    pub task: u32,
    pub exec: &'a Executing<'a>,
    pub error: &'a ConnectError,
}

/// Writes in flight and the first that failed.
#[derive(Default)]
struct Writes {
    in_flight: AtomicUsize,
    failed: OnceLock<String>,
    idle: Notify,
}

impl Writes {
    fn finished(&self, error: Option<String>) {
        if let Some(e) = error {
            let _ = self.failed.set(e);
        }
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// One write: whom to tell when it is done (the errant record reporter's future).
pub struct Write {
    done: Option<oneshot::Sender<ConnectResult<()>>>,
}

/// The producer's callbacks: each write's outcome.
pub struct DlqProducerContext {
    writes: Arc<Writes>,
    failures: Counter,
    topic: String,
    client: KafkaClientContext,
}

impl ClientContext for DlqProducerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.client.log(level, fac, msg);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.client.error(error, reason);
    }
}

impl ProducerContext for DlqProducerContext {
    type DeliveryOpaque = Box<Write>;

    fn delivery(&self, result: &DeliveryResult<'_>, mut write: Box<Write>) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => {
                let message = format!(
                    "Could not produce message to dead letter queue. topic={}: {e}",
                    self.topic
                );
                tracing::error!("{message}");
                self.failures.increment(1);
                Err(message)
            }
        };
        self.writes.finished(outcome.as_ref().err().cloned());
        if let Some(done) = write.done.take() {
            let _ = done.send(outcome.map_err(ConnectError::other));
        }
    }
}

/// A sink task's dead letter queue.
pub struct DeadLetterQueue {
    topic: String,
    context_headers: bool,
    writes: Arc<Writes>,
    producer: OffThreadDrop<ThreadedProducer<DlqProducerContext>>,
}

impl DeadLetterQueue {
    /// Creates the topic if it is missing, then the producer. `None` when the connector
    /// configures no queue.
    pub async fn start(
        worker: &WorkerContext,
        connector: &ConnectorConfig,
        task: u32,
        settings: &DlqSettings,
        metrics: &ErrorMetrics,
    ) -> Result<Option<DeadLetterQueue>, DlqError> {
        let Some(topic) = settings.topic.clone() else {
            return Ok(None);
        };
        let setup = |detail: String| DlqError::Setup {
            topic: topic.clone(),
            detail,
        };
        let spec = NewTopicSpec {
            name: topic.clone(),
            partitions: 1,
            replication_factor: settings.replication_factor,
            configs: Default::default(),
            group: None,
        };
        match &worker.topic_admin {
            // The embedded broker has no CreateTopics: its API makes the topic.
            Some(embedded) => embedded.create_topic(&spec).await,
            None => {
                let props =
                    admin_client_props(&worker.config, connector, &worker.bootstrap_servers);
                let context = KafkaClientContext::new(worker.broker_health.clone());
                let admin =
                    KafkaTopicAdmin::new(&props, context).map_err(|e| setup(e.to_string()))?;
                admin.create_topic(&spec).await
            }
        }
        .map_err(|e| setup(e.to_string()))?;

        let mut conf = client_props(
            &worker.config,
            connector,
            "producer",
            &worker.bootstrap_servers,
            &[],
        );
        conf.entry("client.id".into())
            .or_insert_with(|| format!("connector-dlq-producer-{}-{task}", connector.name));
        producer_defaults(&mut conf, &connector.name, task);
        let mut cc = ClientConfig::new();
        for (k, v) in &conf {
            cc.set(k, v);
        }
        let writes = Arc::new(Writes::default());
        let producer: ThreadedProducer<DlqProducerContext> = cc
            .create_with_context(DlqProducerContext {
                writes: writes.clone(),
                failures: metrics.dlq_failures.clone(),
                topic: topic.clone(),
                client: KafkaClientContext::new(worker.broker_health.clone()),
            })
            .map_err(|e| {
                setup(format!(
                    "cannot create the producer (check the producer.* keys): {e}"
                ))
            })?;
        tracing::info!(topic = %topic, "dead letter queue ready");
        Ok(Some(DeadLetterQueue {
            topic,
            context_headers: settings.context_headers,
            writes,
            producer: OffThreadDrop::new(producer, worker.live_clients.register()),
        }))
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes `original` to the queue (Connect counts a record with no original as a failed
    /// request and writes nothing). With `notify`, the write's completion.
    pub(super) fn write(
        &self,
        original: Option<&Consumed<'_>>,
        context: &ErrorContext<'_>,
        metrics: &ErrorMetrics,
        notify: bool,
    ) -> Option<oneshot::Receiver<ConnectResult<()>>> {
        metrics.dlq_requests.increment(1);
        let Some(original) = original else {
            metrics.dlq_failures.increment(1);
            return None;
        };
        let mut headers = OwnedHeaders::new_with_capacity(original.headers.len() + 10);
        for (key, value) in &original.headers {
            headers = headers.insert(Header { key, value: *value });
        }
        if self.context_headers {
            headers = context_headers(headers, original, context);
        }
        let (done, receiver) = if notify {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut record =
            BaseRecord::with_opaque_to(&self.topic, Box::new(Write { done })).headers(headers);
        if let Some(k) = original.key {
            record = record.key(k);
        }
        if let Some(v) = original.value {
            record = record.payload(v);
        }
        if let Some((t, _)) = original.timestamp {
            record = record.timestamp(t);
        }
        self.writes.in_flight.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        loop {
            match self.producer.send(record) {
                Ok(()) => return receiver,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if started.elapsed() < QUEUE_FULL_WAIT =>
                {
                    // Rare (see QUEUE_FULL_WAIT), and a report may come from a plugin's
                    // synchronous code: wait here for the producer's thread to make room.
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, mut back)) => {
                    let message = format!(
                        "Could not produce message to dead letter queue. topic={}: {e}",
                        self.topic
                    );
                    tracing::error!("{message}");
                    metrics.dlq_failures.increment(1);
                    self.writes.finished(Some(message.clone()));
                    if let Some(done) = back.delivery_opaque.done.take() {
                        let _ = done.send(Err(ConnectError::other(message)));
                    }
                    return receiver;
                }
            }
        }
    }

    /// Waits until every write made so far was acknowledged, then fails if any could not be
    /// written: what a commit must know before it commits the offsets of the records written.
    pub async fn wait_written(&self, timeout: Duration) -> Result<(), DlqError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let idle = self.writes.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read: a write finishing in between still wakes us.
            idle.as_mut().enable();
            let pending = self.writes.in_flight.load(Ordering::Acquire);
            if pending == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return Err(DlqError::Timeout { pending, timeout });
            }
        }
        match self.writes.failed.get() {
            Some(e) => Err(DlqError::WriteFailed(e.clone())),
            None => Ok(()),
        }
    }

    /// Writes not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.writes.in_flight.load(Ordering::Acquire)
    }
}

/// Connect's context headers, after the record's own.
fn context_headers(
    headers: OwnedHeaders,
    original: &Consumed<'_>,
    c: &ErrorContext<'_>,
) -> OwnedHeaders {
    let (exception, message) = java_exception(c.error);
    let trace = format!("{exception}: {message}");
    let add = |h: OwnedHeaders, key: &str, value: &str| {
        h.insert(Header {
            key,
            value: Some(value.as_bytes()),
        })
    };
    let h = add(headers, HEADER_TOPIC, original.topic);
    let h = add(h, HEADER_PARTITION, &original.partition.to_string());
    let h = add(h, HEADER_OFFSET, &original.offset.to_string());
    let h = add(h, HEADER_CONNECTOR_NAME, c.connector);
    let h = add(h, HEADER_TASK_ID, &c.task.to_string());
    let h = add(h, HEADER_STAGE, c.exec.stage.name());
    let h = add(h, HEADER_EXECUTING_CLASS, c.exec.class);
    let h = add(h, HEADER_EXCEPTION, exception);
    let h = add(h, HEADER_EXCEPTION_MESSAGE, message);
    add(h, HEADER_EXCEPTION_STACK_TRACE, &trace)
}
