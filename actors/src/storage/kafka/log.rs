//! A topic read as a log of (key, value) records: the role of Connect's `KafkaBasedLog`.
//!
//! - [`KafkaLog::start`] assigns every partition of the topic to a plain consumer (manual
//!   assignment from the beginning: no group membership, no committed offsets), applies every
//!   record up to the end offsets of that moment to the caller's callback, and returns. A
//!   background thread then keeps following the topic, applying each record in partition order.
//! - [`KafkaLog::send`] produces with an idempotent producer (`acks=all`) and returns once the
//!   broker acknowledged the record. Keys are partitioned with murmur2, as Java clients do, so a
//!   key lands on the same partition whichever worker (Rust or Java) writes it.
//! - [`KafkaLog::read_to_end`] captures the end offsets and blocks until every record before
//!   them was applied: anything written (by anyone) before the call is then visible.
//! - [`KafkaLog::send_all_async`] and [`KafkaLog::wait_until_applied_async`] do the same as
//!   their blocking twins without holding a thread: acknowledgements arrive on oneshot
//!   channels and the reader thread's progress on a watch channel. Actors (the offset
//!   committers) use these, so a broker that stops answering parks futures, not tokio's worker
//!   threads (which would stall REST and the group's heartbeats with them).
//!
//! The log does not create its topic: the caller does (on the embedded broker, through the mock's
//! API; on a real cluster, with the admin API and `cleanup.policy=compact`).
//!
//! librdkafka needs a `group.id` to assign partitions; the log sets a unique one that never joins
//! a group and never commits (`enable.auto.commit=false`), so nothing appears on the broker.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::{oneshot, watch, Notify};

/// Errors a broker answers while a partition's leader is not ready to serve it yet.
fn leader_not_ready(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::UnknownTopicOrPartition
    )
}

/// How long the reader thread waits for a record before it checks whether it should stop.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What can go wrong with a [`KafkaLog`]. Every variant names the topic.
#[derive(Debug, thiserror::Error)]
pub enum KafkaLogError {
    #[error("topic {topic}: cannot create the Kafka {client}: {source}")]
    Client {
        topic: String,
        client: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("topic {topic}: cannot read its metadata: {reason}")]
    Metadata { topic: String, reason: String },
    #[error("topic {topic} does not exist (it must be created before the log starts)")]
    TopicMissing { topic: String },
    #[error("topic {topic}: cannot list the partitions' offsets: {reason}")]
    ListOffsets { topic: String, reason: String },
    #[error("topic {topic}: cannot write a record: {source}")]
    Produce {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {topic}: {what} did not complete within {timeout:?}")]
    Timeout {
        topic: String,
        what: &'static str,
        timeout: Duration,
    },
    #[error("topic {topic}: the log is stopped")]
    Stopped { topic: String },
    #[error("topic {topic} cannot be used: {reason}")]
    Unsuitable { topic: String, reason: String },
    #[error("topic {topic}: the record callback panicked: {message}")]
    CallbackPanicked { topic: String, message: String },
}

/// Where and how a [`KafkaLog`] connects.
#[derive(Debug, Clone)]
pub struct KafkaLogConfig {
    pub topic: String,
    /// librdkafka properties for both clients (`bootstrap.servers`, security settings…). The
    /// settings the log relies on (idempotence, `acks`, partitioner, offsets) override them.
    ///
    /// On the embedded broker set `fetch.wait.max.ms` low (say 10): the mock answers a fetch
    /// only when that wait expires, not when a record arrives, so every read-back of a write
    /// would otherwise take up to librdkafka's default 500 ms.
    pub client_props: BTreeMap<String, String>,
    /// `client.id` of both clients.
    pub client_id: String,
    /// Bound of every blocking operation: start, an acknowledgement, a read to the end.
    pub timeout: Duration,
    /// Read only committed transactions (`isolation.level=read_committed`): the offsets topic
    /// of a worker running exactly-once source support, where tasks write offsets in their
    /// transactions. Reads to the end then stop at the last stable offset.
    pub read_committed: bool,
}

impl KafkaLogConfig {
    pub fn new(topic: impl Into<String>, bootstrap_servers: impl Into<String>) -> Self {
        let topic = topic.into();
        KafkaLogConfig {
            client_props: BTreeMap::from([(
                "bootstrap.servers".to_string(),
                bootstrap_servers.into(),
            )]),
            client_id: format!("kconnect-{topic}"),
            topic,
            timeout: Duration::from_secs(30),
            read_committed: false,
        }
    }

    /// See [`KafkaLogConfig::read_committed`].
    pub fn with_read_committed(mut self, read_committed: bool) -> Self {
        self.read_committed = read_committed;
        self
    }

    /// Adds librdkafka properties (applied after `bootstrap.servers`).
    pub fn with_props<K: Into<String>, V: Into<String>>(
        mut self,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.client_props
            .extend(props.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// One record of the topic, as handed to the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the broker gave one.
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
}

/// Where an acknowledged record was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

type DeliveryOutcome = Result<Delivered, KafkaError>;

/// Where the producer's delivery callback sends a record's outcome: a blocking caller waits on
/// a std channel, an async one on a oneshot.
enum Reply {
    Blocking(mpsc::SyncSender<DeliveryOutcome>),
    Async(oneshot::Sender<DeliveryOutcome>),
}

/// A record handed to the producer; [`Receipt::wait`] returns once the broker acknowledged it.
pub struct Receipt {
    topic: String,
    timeout: Duration,
    rx: mpsc::Receiver<DeliveryOutcome>,
}

impl Receipt {
    /// Waits for the acknowledgement (at most the log's timeout).
    pub fn wait(self) -> Result<Delivered, KafkaLogError> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(Ok(delivered)) => Ok(delivered),
            Ok(Err(source)) => Err(KafkaLogError::Produce {
                topic: self.topic,
                source,
            }),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(KafkaLogError::Timeout {
                topic: self.topic,
                what: "the acknowledgement of a write",
                timeout: self.timeout,
            }),
            // The producer dropped the record without a delivery report: it was stopped.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(KafkaLogError::Stopped { topic: self.topic })
            }
        }
    }
}

/// Counts acknowledgements, so a sender facing a full local queue waits for room (a blocking
/// one on the condvar, an async one on `room`).
#[derive(Default)]
struct Acks {
    count: Mutex<u64>,
    changed: Condvar,
    room: Notify,
}

struct LogProducerContext {
    acks: Arc<Acks>,
}

impl ClientContext for LogProducerContext {}

impl ProducerContext for LogProducerContext {
    type DeliveryOpaque = Box<Reply>;

    fn delivery(&self, result: &DeliveryResult<'_>, reply: Box<Reply>) {
        let outcome = match result {
            Ok(m) => Ok(Delivered {
                partition: m.partition(),
                offset: m.offset(),
            }),
            Err((e, _)) => Err(e.clone()),
        };
        match *reply {
            Reply::Blocking(tx) => {
                let _ = tx.try_send(outcome);
            }
            Reply::Async(tx) => {
                let _ = tx.send(outcome);
            }
        }
        *self.acks.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.acks.changed.notify_all();
        self.acks.room.notify_waiters();
    }
}

/// Reading progress, shared by the reader thread and the callers waiting on it.
struct Progress {
    /// Per partition, the offset after the last applied record (or a later position).
    positions: Vec<i64>,
    stopped: bool,
    failure: Option<String>,
}

struct Shared {
    topic: String,
    progress: Mutex<Progress>,
    advanced: Condvar,
    /// Bumped with every `advanced` notification, for async waiters.
    changes: watch::Sender<()>,
    stopping: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn advance(&self, partition: i32, next: i64) {
        let mut progress = self.lock();
        if let Some(p) = progress.positions.get_mut(partition as usize) {
            if next > *p {
                *p = next;
                drop(progress);
                self.notify();
            }
        }
    }

    /// Wakes every waiter, blocking or async, to look at the progress again.
    fn notify(&self) {
        self.advanced.notify_all();
        self.changes.send_replace(());
    }
}

/// A topic-backed log. See the module documentation.
pub struct KafkaLog {
    shared: Arc<Shared>,
    /// `None` once stopped: [`stop`](Self::stop) closes the clients rather than leaving them to
    /// the last owner's drop, so nothing stays connected to a broker that goes away next (the
    /// embedded one, at shutdown), where librdkafka would report every broker down.
    clients: Mutex<Option<Clients>>,
    acks: Arc<Acks>,
    partitions: i32,
    timeout: Duration,
    reader: Mutex<Option<JoinHandle<()>>>,
}

struct Clients {
    consumer: Arc<BaseConsumer>,
    producer: Arc<ThreadedProducer<LogProducerContext>>,
}

impl KafkaLog {
    /// Starts reading the topic from the beginning, applies every record up to the current end
    /// to `callback` (on the log's thread, in order within each partition), and returns once they
    /// are all applied. The callback keeps being called for every later record until
    /// [`stop`](Self::stop).
    pub fn start(
        config: KafkaLogConfig,
        callback: impl FnMut(&LogRecord) + Send + 'static,
    ) -> Result<KafkaLog, KafkaLogError> {
        static INSTANCE: AtomicU64 = AtomicU64::new(0);
        let topic = config.topic.clone();
        let client_error = |client, source| KafkaLogError::Client {
            topic: topic.clone(),
            client,
            source,
        };

        let mut cc = ClientConfig::new();
        for (k, v) in &config.client_props {
            cc.set(k, v);
        }
        cc.set("client.id", &config.client_id);
        let mut consumer_config = cc.clone();
        consumer_config
            // Required by librdkafka for `assign`; never joined, never committed to.
            .set(
                "group.id",
                format!(
                    "{}-log-{}-{}",
                    config.client_id,
                    std::process::id(),
                    INSTANCE.fetch_add(1, Ordering::Relaxed)
                ),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // As Java consumers by default: read everything up to the high watermark, unless
            // the log holds transactional writes that must not be seen before their commit.
            .set(
                "isolation.level",
                if config.read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            );
        let consumer: BaseConsumer = consumer_config
            .create()
            .map_err(|e| client_error("consumer", e))?;

        let metadata = consumer
            .fetch_metadata(Some(&topic), config.timeout)
            .map_err(|e| KafkaLogError::Metadata {
                topic: topic.clone(),
                reason: e.to_string(),
            })?;
        let partitions = match metadata.topics().iter().find(|t| t.name() == topic) {
            Some(t) => match t.error() {
                None if !t.partitions().is_empty() => t.partitions().len() as i32,
                Some(e)
                    if RDKafkaErrorCode::from(e) != RDKafkaErrorCode::UnknownTopicOrPartition =>
                {
                    return Err(KafkaLogError::Metadata {
                        topic,
                        reason: RDKafkaErrorCode::from(e).to_string(),
                    })
                }
                _ => return Err(KafkaLogError::TopicMissing { topic }),
            },
            None => return Err(KafkaLogError::TopicMissing { topic }),
        };
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment
                .add_partition_offset(&topic, p, Offset::Beginning)
                .expect("a fresh partition list accepts offsets");
        }
        consumer
            .assign(&assignment)
            .map_err(|e| client_error("consumer", e))?;

        let acks = Arc::new(Acks::default());
        let mut producer_config = cc;
        // The props serve both clients; a consumer's fetch settings given to the producer only
        // earn a CONFWARN line at every start.
        for k in config.client_props.keys() {
            if k.starts_with("fetch.") {
                producer_config.remove(k);
            }
        }
        producer_config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Java's default partitioner for keyed records.
            .set("partitioner", "murmur2_random");
        let producer = producer_config
            .create_with_context(LogProducerContext { acks: acks.clone() })
            .map_err(|e| client_error("producer", e))?;

        let shared = Arc::new(Shared {
            topic: topic.clone(),
            progress: Mutex::new(Progress {
                positions: vec![0; partitions as usize],
                stopped: false,
                failure: None,
            }),
            advanced: Condvar::new(),
            changes: watch::channel(()).0,
            stopping: AtomicBool::new(false),
        });
        let consumer = Arc::new(consumer);
        let thread = {
            let shared = shared.clone();
            let consumer = consumer.clone();
            std::thread::Builder::new()
                .name(format!("kafka-log-{topic}"))
                .spawn(move || read_loop(&shared, &consumer, callback))
                .map_err(|e| KafkaLogError::Metadata {
                    topic: topic.clone(),
                    reason: format!("cannot start the reader thread: {e}"),
                })?
        };
        let log = KafkaLog {
            shared,
            clients: Mutex::new(Some(Clients {
                consumer,
                producer: Arc::new(producer),
            })),
            acks,
            partitions,
            timeout: config.timeout,
            reader: Mutex::new(Some(thread)),
        };
        log.read_to_end()?;
        tracing::debug!(topic = %log.topic(), partitions, "kafka log started");
        Ok(log)
    }

    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// The number of partitions the topic had when the log started (all of them are read).
    pub fn partition_count(&self) -> i32 {
        self.partitions
    }

    /// Writes one record and returns once the broker acknowledged it.
    pub fn send(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Delivered, KafkaLogError> {
        self.send_with_receipt(key, value)?.wait()
    }

    /// Writes the records in order and returns once every one was acknowledged.
    pub fn send_all<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        records: &[(Option<K>, Option<V>)],
    ) -> Result<Vec<Delivered>, KafkaLogError> {
        let receipts = records
            .iter()
            .map(|(k, v)| {
                self.send_with_receipt(k.as_ref().map(AsRef::as_ref), v.as_ref().map(AsRef::as_ref))
            })
            .collect::<Result<Vec<_>, _>>()?;
        receipts.into_iter().map(Receipt::wait).collect()
    }

    /// Hands one record to the producer; the receipt tells when it is acknowledged. Waits (at
    /// most the log's timeout) while the producer's local queue is full.
    pub fn send_with_receipt(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Receipt, KafkaLogError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        let producer = self.producer()?;
        let (tx, rx) = mpsc::sync_channel(1);
        let mut reply = Box::new(Reply::Blocking(tx));
        let deadline = Instant::now() + self.timeout;
        loop {
            let seen = *self.acks.count.lock().unwrap_or_else(|e| e.into_inner());
            match self.produce(&producer, key, value, reply) {
                Ok(()) => {
                    return Ok(Receipt {
                        topic: self.topic().to_string(),
                        timeout: self.timeout,
                        rx,
                    })
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    reply = back;
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(self.queue_full_timeout());
                    }
                    // Wait for an acknowledgement to make room.
                    let count = self.acks.count.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = self
                        .acks
                        .changed
                        .wait_timeout_while(count, deadline - now, |c| *c == seen);
                }
                Err((source, _)) => {
                    return Err(KafkaLogError::Produce {
                        topic: self.topic().to_string(),
                        source,
                    })
                }
            }
        }
    }

    /// Writes the records in order and returns once every one was acknowledged (at most the
    /// log's timeout in all), without blocking the thread: see the module documentation.
    pub async fn send_all_async<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        records: &[(Option<K>, Option<V>)],
    ) -> Result<Vec<Delivered>, KafkaLogError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut pending = Vec::with_capacity(records.len());
        for (k, v) in records {
            let key = k.as_ref().map(AsRef::as_ref);
            let value = v.as_ref().map(AsRef::as_ref);
            pending.push(self.enqueue_async(key, value, deadline).await?);
        }
        let mut delivered = Vec::with_capacity(pending.len());
        for ack in pending {
            match tokio::time::timeout_at(deadline, ack).await {
                Ok(Ok(Ok(d))) => delivered.push(d),
                Ok(Ok(Err(source))) => {
                    return Err(KafkaLogError::Produce {
                        topic: self.topic().to_string(),
                        source,
                    })
                }
                // The producer dropped the record without a delivery report: it was stopped.
                Ok(Err(_)) => return Err(self.stopped()),
                Err(_) => {
                    return Err(KafkaLogError::Timeout {
                        topic: self.topic().to_string(),
                        what: "the acknowledgement of a write",
                        timeout: self.timeout,
                    })
                }
            }
        }
        Ok(delivered)
    }

    /// Hands one record to the producer, awaiting room (never blocking) while its local queue
    /// is full; the receiver gets the delivery's outcome.
    async fn enqueue_async(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        deadline: tokio::time::Instant,
    ) -> Result<oneshot::Receiver<DeliveryOutcome>, KafkaLogError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        let producer = self.producer()?;
        let (tx, rx) = oneshot::channel();
        let mut reply = Box::new(Reply::Async(tx));
        loop {
            // Registered before the attempt, so an acknowledgement right after it still wakes us.
            let room = self.acks.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.produce(&producer, key, value, reply) {
                Ok(()) => return Ok(rx),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    reply = back;
                    if tokio::time::timeout_at(deadline, room).await.is_err() {
                        return Err(self.queue_full_timeout());
                    }
                }
                Err((source, _)) => {
                    return Err(KafkaLogError::Produce {
                        topic: self.topic().to_string(),
                        source,
                    })
                }
            }
        }
    }

    /// One `send` to the producer; a refused record gives its reply back for another attempt.
    fn produce(
        &self,
        producer: &ThreadedProducer<LogProducerContext>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        reply: Box<Reply>,
    ) -> Result<(), (KafkaError, Box<Reply>)> {
        let mut record = BaseRecord::<[u8], [u8], _>::with_opaque_to(self.topic(), reply);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        producer
            .send(record)
            .map_err(|(e, back)| (e, back.delivery_opaque))
    }

    fn queue_full_timeout(&self) -> KafkaLogError {
        KafkaLogError::Timeout {
            topic: self.topic().to_string(),
            what: "waiting for room in the producer's queue",
            timeout: self.timeout,
        }
    }

    /// Blocks until every record written to the topic before this call has been applied to the
    /// callback (at most the log's timeout).
    pub fn read_to_end(&self) -> Result<(), KafkaLogError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        let end = self.list_offsets(Offset::End)?;
        let begin = self.list_offsets(Offset::Beginning)?;
        // A partition whose records are all gone (retention) has nothing left to apply.
        let targets: Vec<(i32, i64)> = end
            .into_iter()
            .zip(begin)
            .enumerate()
            .filter(|(_, (end, begin))| end > begin)
            .map(|(p, (end, _))| (p as i32, end))
            .collect();
        self.wait_until(&targets, "reading to the end of the topic")
    }

    /// Blocks until the records stored at `delivered` (as returned by [`send`](Self::send)) have
    /// been applied to the callback: a cheaper read-your-writes than
    /// [`read_to_end`](Self::read_to_end).
    pub fn wait_until_applied(&self, delivered: &[Delivered]) -> Result<(), KafkaLogError> {
        let targets: Vec<(i32, i64)> = delivered
            .iter()
            .map(|d| (d.partition, d.offset + 1))
            .collect();
        self.wait_until(&targets, "reading back written records")
    }

    /// [`wait_until_applied`](Self::wait_until_applied) without blocking the thread: awaits
    /// the reader thread's progress (at most the log's timeout).
    pub async fn wait_until_applied_async(
        &self,
        delivered: &[Delivered],
    ) -> Result<(), KafkaLogError> {
        let targets: Vec<(i32, i64)> = delivered
            .iter()
            .map(|d| (d.partition, d.offset + 1))
            .collect();
        let deadline = tokio::time::Instant::now() + self.timeout;
        // Subscribed before the first look, so no progress after it goes unnoticed.
        let mut changes = self.shared.changes.subscribe();
        loop {
            if let Some(outcome) = self.settled(&self.shared.lock(), &targets) {
                return outcome;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(self.stopped()),
                Err(_) => {
                    return Err(KafkaLogError::Timeout {
                        topic: self.topic().to_string(),
                        what: "reading back written records",
                        timeout: self.timeout,
                    })
                }
            }
        }
    }

    /// Whether waiting for `targets` is over: reached, or never will be (a failure, a stop).
    fn settled(
        &self,
        progress: &Progress,
        targets: &[(i32, i64)],
    ) -> Option<Result<(), KafkaLogError>> {
        if let Some(message) = &progress.failure {
            return Some(Err(KafkaLogError::CallbackPanicked {
                topic: self.topic().to_string(),
                message: message.clone(),
            }));
        }
        let reached = targets.iter().all(|&(partition, next)| {
            progress
                .positions
                .get(partition as usize)
                .is_none_or(|&pos| pos >= next)
        });
        if reached {
            return Some(Ok(()));
        }
        if progress.stopped || self.shared.stopping.load(Ordering::SeqCst) {
            return Some(Err(self.stopped()));
        }
        None
    }

    /// Stops following the topic and waits for the reader thread; records not yet acknowledged
    /// get up to the log's timeout. Idempotent; also done on drop.
    pub fn stop(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(producer) = self.producer() {
            if let Err(e) = producer.flush(self.timeout) {
                tracing::warn!(topic = %self.topic(), "records not acknowledged at stop: {e}");
            }
        }
        let thread = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        // The reader thread's handle on the consumer is gone with it; a caller still inside
        // a send or a listing holds its own until it returns.
        let clients = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(clients);
        self.shared.lock().stopped = true;
        self.shared.notify();
        tracing::debug!(topic = %self.topic(), "kafka log stopped");
    }

    fn stopped(&self) -> KafkaLogError {
        KafkaLogError::Stopped {
            topic: self.topic().to_string(),
        }
    }

    fn producer(&self) -> Result<Arc<ThreadedProducer<LogProducerContext>>, KafkaLogError> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match &*clients {
            Some(c) => Ok(c.producer.clone()),
            None => Err(self.stopped()),
        }
    }

    fn consumer(&self) -> Result<Arc<BaseConsumer>, KafkaLogError> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match &*clients {
            Some(c) => Ok(c.consumer.clone()),
            None => Err(self.stopped()),
        }
    }

    /// The begin or end offset of every partition, in one request per broker. A partition
    /// whose leader is not ready yet (a topic created a moment ago, a leader moving) is asked
    /// again until the log's timeout: the broker answers so only for a while.
    fn list_offsets(&self, which: Offset) -> Result<Vec<i64>, KafkaLogError> {
        let deadline = Instant::now() + self.timeout;
        let consumer = self.consumer()?;
        loop {
            match self.list_offsets_once(&consumer, which) {
                Ok(offsets) => return Ok(offsets),
                Err((Some(code), reason))
                    if leader_not_ready(code) && Instant::now() < deadline =>
                {
                    tracing::debug!(topic = %self.topic(), "listing offsets: {reason}; asking again");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err((_, reason)) => {
                    return Err(KafkaLogError::ListOffsets {
                        topic: self.topic().to_string(),
                        reason,
                    })
                }
            }
        }
    }

    /// One ListOffsets round; an error carries the broker's error code when there is one.
    fn list_offsets_once(
        &self,
        consumer: &BaseConsumer,
        which: Offset,
    ) -> Result<Vec<i64>, (Option<RDKafkaErrorCode>, String)> {
        let mut request = TopicPartitionList::new();
        for p in 0..self.partitions {
            // As a timestamp, -1 asks for the end offset and -2 for the beginning.
            request
                .add_partition_offset(self.topic(), p, which)
                .expect("a fresh partition list accepts offsets");
        }
        let answer = consumer
            .offsets_for_times(request, self.timeout)
            .map_err(|e| (e.rdkafka_error_code(), e.to_string()))?;
        let mut offsets = vec![0; self.partitions as usize];
        for elem in answer.elements() {
            if let Err(e) = elem.error() {
                return Err((
                    e.rdkafka_error_code(),
                    format!("partition {}: {e}", elem.partition()),
                ));
            }
            match elem.offset() {
                Offset::Offset(o) => offsets[elem.partition() as usize] = o,
                other => {
                    return Err((
                        None,
                        format!(
                            "partition {}: unexpected offset {other:?}",
                            elem.partition()
                        ),
                    ))
                }
            }
        }
        Ok(offsets)
    }

    fn wait_until(&self, targets: &[(i32, i64)], what: &'static str) -> Result<(), KafkaLogError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        let reached = |p: &Progress| {
            targets.iter().all(|&(partition, next)| {
                p.positions
                    .get(partition as usize)
                    .is_none_or(|&pos| pos >= next)
            })
        };
        let progress = self.shared.lock();
        let (progress, result) = self
            .shared
            .advanced
            .wait_timeout_while(progress, self.timeout, |p| {
                !reached(p) && !p.stopped && p.failure.is_none()
            })
            .unwrap_or_else(|e| e.into_inner());
        if let Some(message) = &progress.failure {
            return Err(KafkaLogError::CallbackPanicked {
                topic: self.topic().to_string(),
                message: message.clone(),
            });
        }
        if reached(&progress) {
            return Ok(());
        }
        if progress.stopped || self.shared.stopping.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        debug_assert!(result.timed_out());
        Err(KafkaLogError::Timeout {
            topic: self.topic().to_string(),
            what,
            timeout: self.timeout,
        })
    }
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The reader thread: applies records until the log stops or the callback panics.
fn read_loop(
    shared: &Shared,
    consumer: &BaseConsumer,
    mut callback: impl FnMut(&LogRecord) + Send + 'static,
) {
    while !shared.stopping.load(Ordering::SeqCst) {
        match consumer.poll(POLL_INTERVAL) {
            Some(Ok(m)) => {
                let record = LogRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp: m.timestamp().to_millis(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                };
                drop(m);
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| callback(&record))) {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "(no message)".into());
                    tracing::error!(topic = %shared.topic, partition = record.partition,
                        offset = record.offset, "the record callback panicked, the log stops \
                        reading: {message}");
                    shared.lock().failure = Some(message);
                    shared.notify();
                    return;
                }
                shared.advance(record.partition, record.offset + 1);
            }
            Some(Err(e)) => {
                // librdkafka retries by itself; the error is worth a line, not a stop.
                tracing::warn!(topic = %shared.topic, "reading the topic: {e}");
            }
            None => {
                // Idle: the consumer may have moved past records never handed out (control
                // records of transactions).
                if let Ok(positions) = consumer.position() {
                    for elem in positions.elements() {
                        if let Offset::Offset(o) = elem.offset() {
                            shared.advance(elem.partition(), o);
                        }
                    }
                }
            }
        }
    }
}
