//! `SourceTaskActor`: poll → transform → convert → produce, one poll per message so that stop
//! and commit requests interleave with the data flow. Offsets are committed by the task's
//! [`OffsetCommitter`](super::committer::OffsetCommitter) once the broker acknowledged them;
//! acknowledgements are counted per run of records (see [`super::acks`]), so nothing is locked
//! or allocated per record to track them.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect_connectors::api::{
    Props, SourceTask, SourceTaskContext, TaskInstance, TransactionEnd,
};
use kconnect_connectors::data::{Schema, Value};
use kconnect_connectors::record::{
    Header as RecordHeader, OffsetMap, Polled, RecordMetadata, SourceBatch, SourcePartition,
    SourceRecord,
};
use kconnect_connectors::transforms::chain::TransformChain;
use kconnect_connectors::ConnectError;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::broker_health::KafkaClientContext;
use tokio::sync::mpsc::UnboundedSender;
use tracing::Instrument;

use super::acks::{DeliveryState, RunAcks, SubmittedRun};
use super::convert::TaskConverters;
use super::errors::metrics::ErrorMetrics;
use super::errors::{ErrorHandler, Executing, ProcessingRecord, Reporters, Stage};
use super::faults::FaultInjector;
use super::transform::{self, BatchItem, BatchRecordView, Fate, PolledRecord};
use super::{task_span, TaskArgs};
use crate::config::client_props;
use crate::context::{LiveClient, OffsetStore, WorkerContext};
use crate::exactly_once::task::{
    FallbackOffsetReader, OffsetsTopic, TaskTransaction, TransactionalProducer,
};
use crate::exactly_once::{ConnectorTransactions, TransactionBoundary};
use crate::metrics::TaskMetrics;
use crate::status::State;
use crate::storage::kafka::{KafkaLogConfig, KafkaOffsetStore};
use crate::topic_creation::{KafkaTopicAdmin, NewTopicSpec, TopicAdmin, TopicCreation};

pub enum SourceTaskMsg {
    /// Fail now, as a fault injected from outside (REST `POST /admin/faults`).
    Inject(super::faults::FaultKind),
    /// Start the plugin task and the producer, then begin polling.
    Start,
    Poll,
    /// The committer flushed offsets: call the task's `commit`.
    OffsetsCommitted,
    /// Stop (true) or resume (false) polling; the task stays started.
    Pause(bool),
    /// Stop cleanly: wait (up to offset.flush.timeout.ms) for in-flight records, stop the task.
    Stop(RpcReplyPort<()>),
}

pub struct SourceTaskActor;

/// The producer's callbacks: an acknowledgement adds 1 to its run's counter.
pub struct SourceProducerContext {
    delivery: Arc<DeliveryState>,
    /// Connection trouble goes to the worker's broker health, as for every task client.
    client: KafkaClientContext,
}

impl ClientContext for SourceProducerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.client.log(level, fac, msg);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.client.error(error, reason);
    }
}

impl ProducerContext for SourceProducerContext {
    /// The record's run (an `Arc` clone: no allocation per record).
    type DeliveryOpaque = Arc<RunAcks>;

    fn delivery(&self, result: &DeliveryResult<'_>, run: Arc<RunAcks>) {
        match result {
            Ok(m) => self.delivery.acked(&run, m.partition(), m.offset()),
            Err((e, m)) => self.delivery.failed(format!(
                "the producer could not deliver a record to {}-{}: {e}",
                m.topic(),
                m.partition()
            )),
        }
    }
}

/// Drops its value on a thread of its own. rdkafka's `ThreadedProducer` joins its polling
/// thread on drop, which takes up to that thread's 100 ms poll timeout: done inline, it would
/// delay every restart of a failed task (the state is dropped before the supervisor hears).
/// The client stays counted in the worker's live clients until it is actually closed.
pub struct OffThreadDrop<T: Send + 'static>(Option<(T, LiveClient)>);

impl<T: Send + 'static> OffThreadDrop<T> {
    pub fn new(value: T, live: LiveClient) -> Self {
        OffThreadDrop(Some((value, live)))
    }
}

impl<T: Send + 'static> std::ops::Deref for OffThreadDrop<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.as_ref().expect("present until dropped").0
    }
}

impl<T: Send + 'static> Drop for OffThreadDrop<T> {
    fn drop(&mut self) {
        if let Some((v, live)) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("producer-drop".into())
                .spawn(move || {
                    drop(v);
                    drop(live);
                });
        }
    }
}

/// The source task actor's state: what every phase has, and the phase.
pub struct SourceTaskState {
    common: Common,
    phase: Phase,
}

/// Where the task is in its life. Only a running task has a producer, converters and an error
/// handler, so no handler can reach them before `Start` succeeded or after `Stop`.
enum Phase {
    /// Created; `Start` has not run yet (or failed, and the actor is going away).
    Created,
    /// Started: polling, sending and committing.
    Running(Box<Running>),
    /// `Stop` arrived: the task stopped, and every later message is ignored.
    Stopping,
}

/// What the task has from its start to its stop.
struct Running {
    producer: OffThreadDrop<Arc<ThreadedProducer<SourceProducerContext>>>,
    /// Under exactly-once delivery: the open transaction (see [`crate::exactly_once`]).
    eos: Option<TaskTransaction>,
    /// The producer's `transactional.id`, under exactly-once delivery (empty otherwise).
    transactional_id: String,
    /// The connector's own offsets topic, read `read_committed`, when it has one. Kept only to
    /// stay open (its reader is the task's) until the task stops.
    _own_offsets: Option<OffThreadDrop<KafkaOffsetStore>>,
    converters: TaskConverters,
    /// The connector's transforms; `None` when it has none (records then skip this step).
    chain: Option<TransformChain>,
    /// What becomes of a record a transform or converter fails on.
    errors: ErrorHandler,
    /// The plugin's `wants_commit_record`, asked once at start.
    wants_commit_record: bool,
    /// The connector's topic creation groups, when the worker allows topic creation.
    topic_creation: Option<TopicCreation>,
    /// Who creates the task's topics: the embedded broker's mock API, CreateTopics on a real
    /// cluster when `topic_creation` is set, nobody otherwise (the broker's auto-creation).
    topic_admin: Option<Arc<dyn TopicAdmin>>,
}

/// What the task has in every phase.
struct Common {
    worker: Arc<WorkerContext>,
    connector: Arc<crate::config::ConnectorConfig>,
    task_id: u32,
    task_props: Props,
    restarts: u32,
    span: tracing::Span,
    task: Box<dyn SourceTask>,
    delivery: Arc<DeliveryState>,
    /// Each poll's runs go to the task's committer, which commits their offsets.
    runs: UnboundedSender<Vec<SubmittedRun>>,
    /// Records of `poll` kept for `commit_record` (only when the plugin wants it), in poll
    /// order; those sent each with its own run to learn where it landed.
    awaiting_commit: VecDeque<AwaitingCommit>,
    /// Conversion buffers, reused from record to record (the producer copies the bytes).
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    /// Topics this task produced to (or created) already: each is checked once.
    known_topics: HashSet<String>,
    faults: Option<FaultInjector>,
    metrics: TaskMetrics,
    paused: bool,
}

/// A record of `poll` kept for its `commit_record` call.
struct AwaitingCommit {
    /// As `poll` returned it (before any transform, as Connect passes it).
    record: SourceRecord,
    /// `None`: it never reached the producer (dropped by a transform, or skipped under
    /// errors.tolerance=all), and is committed without metadata.
    sent: Option<SentTo>,
}

struct SentTo {
    /// Its own run, to learn where it landed.
    acks: Arc<RunAcks>,
    /// The topic it was sent to, where a transform changed the record's.
    topic: Option<String>,
}

impl Common {
    /// Fails the task if a record could not be delivered.
    fn check_delivery(&self) -> Result<(), ActorProcessingErr> {
        match self.delivery.error() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// What a source task actor is started with besides its [`TaskArgs`].
pub struct SourceTaskLinks {
    pub delivery: Arc<DeliveryState>,
    /// To the task's committer.
    pub runs: UnboundedSender<Vec<SubmittedRun>>,
}

impl Actor for SourceTaskActor {
    type Msg = SourceTaskMsg;
    type State = SourceTaskState;
    type Arguments = (TaskArgs, SourceTaskLinks);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (args, links): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let TaskInstance::Source(task) = args.instance else {
            return Err("a sink task was handed to a source task actor".into());
        };
        // Start in a message of its own so that a failing start goes through supervision.
        myself.send_message(SourceTaskMsg::Start)?;
        let metrics = TaskMetrics::source(&args.connector.name, args.task_id);
        let faults = FaultInjector::for_task(
            args.connector.faults.as_ref(),
            &args.connector.name,
            args.task_id,
            args.restarts,
        );
        let common = Common {
            span: task_span(&args.connector.name, args.task_id),
            worker: args.worker,
            connector: args.connector,
            task_id: args.task_id,
            task_props: args.task_props,
            restarts: args.restarts,
            task,
            delivery: links.delivery,
            runs: links.runs,
            awaiting_commit: VecDeque::new(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            known_topics: HashSet::new(),
            faults,
            metrics,
            paused: args.paused,
        };
        Ok(SourceTaskState {
            common,
            phase: Phase::Created,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.common.span.clone();
        let SourceTaskState { common, phase } = state;
        match msg {
            SourceTaskMsg::Start => {
                if !matches!(phase, Phase::Created) {
                    return Ok(());
                }
                let running = start(common).instrument(span).await?;
                *phase = Phase::Running(Box::new(running));
                if !common.paused {
                    myself.send_message(SourceTaskMsg::Poll)?;
                }
            }
            SourceTaskMsg::Inject(kind) => {
                super::faults::inject(&common.connector.name, common.task_id, kind)
                    .map_err(task_error)?
            }
            SourceTaskMsg::Pause(paused) => {
                let who = super::PauseArgs {
                    worker: &common.worker,
                    connector: &common.connector.name,
                    task: common.task_id,
                    restarts: common.restarts,
                    started: matches!(phase, Phase::Running(_)),
                };
                if super::apply_pause(who, &mut common.paused, paused) {
                    myself.send_message(SourceTaskMsg::Poll)?;
                }
                // An interval transaction left open while paused would hold back every
                // read_committed reader of its partitions, then time out: commit it now.
                if let Phase::Running(running) = phase {
                    let open_interval = running.eos.as_ref().is_some_and(|t| {
                        t.is_open() && t.boundary == TransactionBoundary::Interval
                    });
                    if paused && open_interval {
                        end_transaction(common, running, TransactionEnd::Commit)
                            .instrument(span)
                            .await?;
                    }
                }
            }
            SourceTaskMsg::Poll => {
                if let (Phase::Running(running), false) = (phase, common.paused) {
                    poll_once(common, running).instrument(span).await?;
                    myself.send_message(SourceTaskMsg::Poll)?;
                }
            }
            SourceTaskMsg::OffsetsCommitted => {
                if !matches!(phase, Phase::Stopping) {
                    common
                        .task
                        .commit()
                        .instrument(span)
                        .await
                        .map_err(task_error)?;
                }
            }
            SourceTaskMsg::Stop(reply) => {
                let running = match std::mem::replace(phase, Phase::Stopping) {
                    Phase::Running(running) => Some(running),
                    Phase::Created | Phase::Stopping => None,
                };
                stop(common, running).instrument(span).await;
                let _ = reply.send(());
                myself.stop(None);
            }
        }
        Ok(())
    }
}

fn task_error(e: ConnectError) -> ActorProcessingErr {
    e.to_string().into()
}

async fn start(state: &mut Common) -> Result<Running, ActorProcessingErr> {
    let worker = &state.worker;
    let mut conf = client_props(
        &worker.config,
        &state.connector,
        "producer",
        &worker.bootstrap_servers,
        &[],
    );
    producer_defaults(&mut conf, &state.connector.name, state.task_id);
    let mut transactional_id = String::new();
    let transactions = match &worker.exactly_once {
        Some(eos) => {
            let settings =
                ConnectorTransactions::parse(&state.connector.props).map_err(|e| e.to_string())?;
            transactional_id = crate::exactly_once::transactional_id(
                &eos.group_id,
                &state.connector.name,
                state.task_id,
            );
            crate::exactly_once::task::transactional_props(&mut conf, &transactional_id);
            Some(settings)
        }
        None => None,
    };
    let mut cc = ClientConfig::new();
    for (k, v) in &conf {
        cc.set(k, v);
    }
    let producer: ThreadedProducer<SourceProducerContext> = cc
        .create_with_context(SourceProducerContext {
            delivery: state.delivery.clone(),
            client: KafkaClientContext::new(worker.broker_health.clone()),
        })
        .map_err(|e| format!("cannot create the producer (check the producer.* keys): {e}"))?;
    let producer = Arc::new(producer);
    let live = worker.live_clients.register();
    let producer_handle = OffThreadDrop(Some((producer.clone(), live)));
    let mut own_offsets = None;
    let mut transaction = None;
    let mut offset_reader = worker.offsets.reader(&state.connector.name);
    if let (Some(settings), Some(eos)) = (transactions, &worker.exactly_once) {
        let topic = match &settings.offsets_topic {
            Some(own) if *own != eos.offsets_topic => {
                let who = (state.connector.name.as_str(), state.task_id);
                let store = open_own_offsets(worker, who, own, eos).await?;
                let partitions = store.partition_count();
                offset_reader = Arc::new(FallbackOffsetReader {
                    own: store.reader(&state.connector.name),
                    worker: offset_reader,
                });
                own_offsets = Some(OffThreadDrop::new(store, worker.live_clients.register()));
                OffsetsTopic {
                    name: own.clone(),
                    partitions,
                }
            }
            _ => OffsetsTopic {
                name: eos.offsets_topic.clone(),
                partitions: eos.offsets_partitions,
            },
        };
        // Fences an earlier producer of this task (a zombie, or the run before a restart) and
        // aborts what it left open, before this one writes anything.
        TransactionalProducer::init(&producer, &transactional_id, TRANSACTION_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let interval = settings
            .interval
            .unwrap_or(worker.config.offset_flush_interval);
        transaction = Some(TaskTransaction::new(
            &state.connector.name,
            state.task_id,
            settings.boundary,
            interval,
            topic,
        ));
        tracing::info!(
            transactional_id = %transactional_id,
            boundary = ?settings.boundary,
            "source task writes its records and offsets in transactions"
        );
    }
    let topic_creation = if worker.config.topic_creation_enable {
        TopicCreation::parse(&state.connector.props).map_err(|e| e.to_string())?
    } else {
        None
    };
    let topic_admin: Option<Arc<dyn TopicAdmin>> = match (&worker.topic_admin, &topic_creation) {
        (Some(embedded), _) => Some(embedded.clone()),
        (None, Some(_)) => {
            let props = crate::config::admin_client_props(
                &worker.config,
                &state.connector,
                &worker.bootstrap_servers,
            );
            let context = KafkaClientContext::new(worker.broker_health.clone());
            Some(Arc::new(KafkaTopicAdmin::new(&props, context).map_err(|e| e.to_string())?) as _)
        }
        (None, None) => None,
    };
    let converters = TaskConverters::new(&worker.config, &state.connector)?;
    let chain = transform::build(&worker.plugins, &state.connector).map_err(task_error)?;
    // A source connector has no dead letter queue (as in Connect): the log and metrics only.
    let (name, id) = (&state.connector.name, state.task_id);
    let settings = &state.connector.errors;
    let reporters = Reporters::new(
        name,
        id,
        settings,
        ErrorMetrics::new(name, id),
        None,
        worker.config.offset_flush_timeout,
    );
    let errors = ErrorHandler::new(settings, Arc::new(reporters));
    let ctx = SourceTaskContext {
        offset_reader,
        task_id: state.task_id,
        transactions: transaction.as_ref().and_then(|t| t.context.clone()),
    };
    state
        .task
        .start(ctx, &state.task_props)
        .await
        .map_err(task_error)?;
    let wants_commit_record = state.task.wants_commit_record();
    worker.status.set_task(
        &state.connector.name,
        state.task_id,
        State::running(state.paused),
        None,
        state.restarts,
    );
    tracing::info!("source task started");
    // Polling starts only after a successful start.
    Ok(Running {
        producer: producer_handle,
        eos: transaction,
        transactional_id,
        _own_offsets: own_offsets,
        converters,
        chain,
        errors,
        wants_commit_record,
        topic_creation,
        topic_admin,
    })
}

/// Bound of each call of the producer's transaction API (Connect's producers wait without
/// bound; a task that cannot commit for this long fails and is restarted instead).
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// The connector's own offsets topic (`offsets.storage.topic`), created when missing as
/// Connect creates it (compacted, the worker's offset partitions and replication), read
/// `read_committed` to its end before the task starts.
async fn open_own_offsets(
    worker: &WorkerContext,
    (connector, task): (&str, u32),
    topic: &str,
    eos: &crate::exactly_once::ExactlyOnceWorker,
) -> Result<KafkaOffsetStore, ActorProcessingErr> {
    let client: std::collections::BTreeMap<String, String> =
        eos.client_props.iter().cloned().collect();
    let admin = KafkaTopicAdmin::new(
        &client,
        KafkaClientContext::new(worker.broker_health.clone()),
    )
    .map_err(|e| e.to_string())?;
    let spec = NewTopicSpec {
        name: topic.to_string(),
        partitions: eos.offset_partitions_new,
        replication_factor: eos.offset_replication_new,
        configs: [("cleanup.policy".to_string(), "compact".to_string())].into(),
        group: None,
    };
    admin
        .create_topic(&spec)
        .await
        .map_err(|e| format!("cannot create the connector's offsets topic {topic}: {e}"))?;
    let config = KafkaLogConfig::new(topic, "")
        .with_props(client)
        .with_client_id(format!("{}-offsets-{connector}-{task}", worker.worker_id))
        .with_read_committed(true);
    let store = tokio::task::spawn_blocking(move || KafkaOffsetStore::start(config))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot read the connector's offsets topic {topic}: {e}"))?;
    Ok(store)
}

/// Connect's producer defaults (`Worker.baseProducerConfigs`), under the worker's `producer.*`
/// and the connector's `producer.override.*` keys as in Connect: at-least-once in order (every
/// replica acknowledges; retries never reorder nor duplicate within a partition), and a client
/// id naming the task. As with the Java producer, an `acks` other than `all` without an
/// explicit `enable.idempotence` turns idempotence off rather than failing the producer.
pub(crate) fn producer_defaults(conf: &mut Props, connector: &str, task: u32) {
    conf.entry("client.id".into())
        .or_insert_with(|| format!("connector-producer-{connector}-{task}"));
    let acks = conf.entry("acks".into()).or_insert_with(|| "all".into());
    let all = matches!(acks.trim(), "all" | "-1");
    conf.entry("enable.idempotence".into())
        .or_insert_with(|| all.to_string());
}

async fn poll_once(state: &mut Common, running: &mut Running) -> Result<(), ActorProcessingErr> {
    state.check_delivery()?;
    // Under exactly-once delivery a record is committed with its transaction, not when the
    // broker acknowledged it: `commit_record` waits for the commit.
    if running.eos.is_none() {
        commit_acknowledged_records(state)
            .await
            .map_err(task_error)?;
    }
    if let Some(f) = state.faults.as_mut() {
        f.before_call(false).await.map_err(task_error)?;
    }
    let started = std::time::Instant::now();
    let polled = match state.task.poll_batches().await {
        Ok(polled) => polled,
        // As Connect's TASK_POLL: a retriable failure is logged and the task polled again.
        Err(ConnectError::Retriable(why)) => {
            tracing::warn!("poll failed, polling again: {why}");
            return Ok(());
        }
        Err(e) => return Err(task_error(e)),
    };
    let n = polled.len();
    state.metrics.records_in.increment(n as u64);
    // As Connect's poll-batch-time: only polls that returned records (an idle poll's wait
    // says nothing about the plugin's speed).
    if n > 0 {
        state.metrics.batch_time.record(started.elapsed());
        state.metrics.batch_size.record(n as f64);
    }
    if let Some(f) = state.faults.as_mut() {
        f.after_records(n).map_err(task_error)?;
    }
    if running.eos.is_some() {
        let sent = send_in_transactions(state, running, polled).await?;
        state.metrics.records_out.increment(sent);
        if running
            .eos
            .as_ref()
            .is_some_and(|t| t.runtime_commit_due(Instant::now()))
        {
            end_transaction(state, running, TransactionEnd::Commit).await?;
        }
        return Ok(());
    }
    let mut runs = Vec::new();
    let sent = match polled {
        Polled::Records(records) => send_records(state, running, records, &mut runs).await,
        Polled::Batches(batches) => send_batches(state, running, batches, &mut runs).await,
    };
    // The runs sent whole go to the committer even when a later record failed: their offsets
    // are safe to commit once acknowledged. A run cut short is never committed.
    if !runs.is_empty() {
        // The committer stops only with its task: a closed channel means the task is going.
        let _ = state.runs.send(runs);
    }
    state.metrics.records_out.increment(sent?);
    Ok(())
}

/// Sends a poll's records inside the task's transactions: the transaction begins before the
/// first record; a record the task's transaction context named ends one right after it, and a
/// request for the whole batch ends one after the batch. Runs of records add their offsets to
/// the open transaction instead of going to the committer.
async fn send_in_transactions(
    state: &mut Common,
    running: &mut Running,
    polled: Polled,
) -> Result<u64, ActorProcessingErr> {
    let requests = running
        .eos
        .as_ref()
        .and_then(|t| t.context.as_ref())
        .map(|c| c.take_requests())
        .unwrap_or_default();
    let mut sent = 0;
    match polled {
        Polled::Records(records) if !requests.after_records.is_empty() => {
            let mut boundaries = requests.after_records;
            let mut segment = Vec::new();
            for r in records {
                let end = boundaries
                    .iter()
                    .position(|b| b.matches(&r))
                    .map(|i| boundaries.remove(i).end);
                segment.push(r);
                if let Some(end) = end {
                    sent += send_in_transaction(state, running, Polled::Records(segment)).await?;
                    segment = Vec::new();
                    end_transaction(state, running, end).await?;
                }
            }
            sent += send_in_transaction(state, running, Polled::Records(segment)).await?;
        }
        polled => sent += send_in_transaction(state, running, polled).await?,
    }
    if let Some(end) = requests.after_batch {
        end_transaction(state, running, end).await?;
    }
    Ok(sent)
}

/// Sends records in the open transaction (begun first if need be).
async fn send_in_transaction(
    state: &mut Common,
    running: &mut Running,
    polled: Polled,
) -> Result<u64, ActorProcessingErr> {
    // A batch without records still carries an offset to commit.
    let nothing = match &polled {
        Polled::Records(r) => r.is_empty(),
        Polled::Batches(b) => b.is_empty(),
    };
    if nothing {
        return Ok(0);
    }
    let tx = running
        .eos
        .as_mut()
        .expect("called under exactly-once delivery");
    if tx.needs_begin() {
        let producer = &running.producer;
        TransactionalProducer::begin(producer, &running.transactional_id)
            .map_err(|e| e.to_string())?;
        tx.began();
    }
    let mut runs = Vec::new();
    let sent = match polled {
        Polled::Records(records) => send_records(state, running, records, &mut runs).await,
        Polled::Batches(batches) => send_batches(state, running, batches, &mut runs).await,
    };
    // A run cut short by a failure is not added, and the failure fails the task: its
    // transaction is then never committed.
    let tx = running
        .eos
        .as_mut()
        .expect("called under exactly-once delivery");
    for run in runs {
        tx.add_run(run.partition.map(), run.offset, run.records);
    }
    sent
}

/// Ends the open transaction (nothing to do when none is open). A commit first writes the
/// transaction's offsets to the offsets topic with the same producer, then commits records and
/// offsets together; then the task hears `commit_record` for its records and `commit`. An
/// abort drops them all: no record of it reaches a `read_committed` reader, and its offsets
/// are never written.
async fn end_transaction(
    state: &mut Common,
    running: &mut Running,
    end: TransactionEnd,
) -> Result<(), ActorProcessingErr> {
    let Some(tx) = running.eos.as_ref().filter(|t| t.is_open()) else {
        return Ok(());
    };
    let producer: Arc<ThreadedProducer<SourceProducerContext>> = Arc::clone(&running.producer);
    let id = running.transactional_id.clone();
    match end {
        TransactionEnd::Commit => {
            let topic = tx.offsets_topic.name.clone();
            for (partition, key, value) in tx.offset_records() {
                let delivery = &state.delivery;
                send_offset_record(
                    delivery,
                    &producer,
                    &topic,
                    partition,
                    &key,
                    value.as_deref(),
                )
                .await?;
            }
            let started = Instant::now();
            if let Err(e) = TransactionalProducer::commit(&producer, &id, TRANSACTION_TIMEOUT).await
            {
                state.metrics.commit_failure.increment(1);
                return Err(e.to_string().into());
            }
            state.check_delivery()?;
            state.metrics.commit_success.increment(1);
            state.metrics.commit_time.record(started.elapsed());
            running.eos.as_mut().expect("checked above").committed();
            commit_acknowledged_records(state)
                .await
                .map_err(task_error)?;
            state.task.commit().await.map_err(task_error)?;
        }
        TransactionEnd::Abort => {
            TransactionalProducer::abort(&producer, &id, TRANSACTION_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            state.check_delivery()?;
            running.eos.as_mut().expect("checked above").aborted();
            // Their records will never be visible: no `commit_record` for them.
            state.awaiting_commit.clear();
            tracing::info!("transaction aborted as the task asked");
        }
    }
    Ok(())
}

/// Writes one offset record in the open transaction, to the partition Java's producer would
/// pick for its key.
async fn send_offset_record(
    delivery: &DeliveryState,
    producer: &ThreadedProducer<SourceProducerContext>,
    topic: &str,
    partition: i32,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), ActorProcessingErr> {
    let mut rec = BaseRecord::with_opaque_to(topic, RunAcks::new())
        .key(key)
        .partition(partition);
    if let Some(v) = value {
        rec = rec.payload(v);
    }
    delivery.sending(1);
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                rec = back;
                delivery
                    .wait(Duration::from_millis(100), |d| d.error().is_some())
                    .await;
                if let Some(e) = delivery.error() {
                    return Err(e.into());
                }
            }
            Err((e, _)) => {
                delivery.not_sent(1);
                return Err(format!("cannot write offsets to topic {topic}: {e}").into());
            }
        }
    }
}

/// Whether a record went to the producer or was dropped (errors.tolerance=all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Skipped,
}

/// One record on its way to the producer, from either API.
#[derive(Clone, Copy)]
struct Outgoing<'a> {
    topic: &'a str,
    kafka_partition: Option<i32>,
    key_schema: Option<&'a Schema>,
    key: &'a Value,
    value_schema: Option<&'a Schema>,
    value: &'a Value,
    timestamp: Option<i64>,
    headers: &'a [RecordHeader],
    /// The record's source offset, or its batch's (for log lines and errors).
    offset: &'a OffsetMap,
    in_batch: bool,
}

impl Outgoing<'_> {
    fn of(r: &SourceRecord) -> Outgoing<'_> {
        Outgoing {
            topic: &r.topic,
            kafka_partition: r.partition,
            key_schema: r.key_schema.as_ref(),
            key: &r.key,
            value_schema: r.value_schema.as_ref(),
            value: &r.value,
            timestamp: r.timestamp,
            headers: &r.headers,
            offset: &r.source_offset,
            in_batch: false,
        }
    }

    /// Where the record came from, for errors.
    fn whence(&self) -> String {
        let offset = serde_json::Value::Object(self.offset.clone());
        if self.in_batch {
            format!("in the batch ending at source offset {offset}")
        } else {
            format!("at source offset {offset}")
        }
    }
}

impl ProcessingRecord for Outgoing<'_> {
    fn name(&self) -> String {
        format!("the record for topic {} {}", self.topic, self.whence())
    }

    fn log_detail(&self) -> String {
        let or_null = |v: Option<String>| v.unwrap_or_else(|| "null".into());
        format!(
            "source record is = SourceRecord{{sourceOffset={}}} ConnectRecord{{topic='{}', \
             kafkaPartition={}, key={:?}, keySchema={:?}, value={:?}, valueSchema={:?}, \
             timestamp={}, headers={:?}}}",
            serde_json::Value::Object(self.offset.clone()),
            self.topic,
            or_null(self.kafka_partition.map(|p| p.to_string())),
            self.key,
            self.key_schema,
            self.value,
            self.value_schema,
            or_null(self.timestamp.map(|t| t.to_string())),
            self.headers,
        )
    }
}

/// A run of `poll`'s records being sent: consecutive records of one source partition.
struct OpenRun {
    partition: SourcePartition,
    acks: Arc<RunAcks>,
    records: usize,
    /// The offset of the run's last record so far.
    offset: OffsetMap,
}

impl OpenRun {
    fn close(self) -> SubmittedRun {
        SubmittedRun {
            partition: self.partition,
            offset: self.offset,
            records: self.records,
            acks: self.acks,
        }
    }
}

/// Sends the records of `poll` (Connect's per-record API), grouping consecutive records of one
/// source partition into a run. A task that wants `commit_record` gets a run per record, so
/// that each record learns where it landed, and its records are kept until then.
async fn send_records(
    state: &mut Common,
    running: &mut Running,
    records: Vec<SourceRecord>,
    runs: &mut Vec<SubmittedRun>,
) -> Result<u64, ActorProcessingErr> {
    let keep = running.wants_commit_record;
    let mut sent = 0;
    let mut open: Option<OpenRun> = None;
    for mut r in records {
        let continues = !keep
            && open
                .as_ref()
                .is_some_and(|o| *o.partition.map() == r.source_partition);
        if !continues {
            // A partition equal to the previous run's is reused, so its key is computed once.
            let partition = match open.take() {
                Some(o) => {
                    let p = o.partition.clone();
                    runs.push(o.close());
                    (*p.map() == r.source_partition).then_some(p)
                }
                None => None,
            };
            let partition = partition.unwrap_or_else(|| {
                SourcePartition::new(if keep {
                    r.source_partition.clone()
                } else {
                    std::mem::take(&mut r.source_partition)
                })
            });
            open = Some(OpenRun {
                partition,
                acks: if keep {
                    RunAcks::single()
                } else {
                    RunAcks::new()
                },
                records: 0,
                offset: OffsetMap::new(),
            });
        }
        let run = open.as_mut().expect("opened above");
        // The record as `poll` returned it, for `commit_record` (as Connect passes it).
        let mut polled = None;
        if let Some(chain) = running.chain.as_mut() {
            polled = keep.then(|| r.clone());
            let errors = &running.errors;
            let mut item = PolledRecord {
                record: &mut r,
                partition: run.partition.map(),
            };
            let fate = transform::apply(chain, errors, &mut item).await?;
            if fate == Fate::Skip {
                // Done without being sent: its offset commits with its run.
                run.records += 1;
                run.acks.skipped();
                if keep {
                    run.offset = r.source_offset.clone();
                    state.awaiting_commit.push_back(AwaitingCommit {
                        record: polled.expect("kept for commit_record"),
                        sent: None,
                    });
                } else {
                    run.offset = std::mem::take(&mut r.source_offset);
                }
                continue;
            }
        }
        ensure_topic(state, running, &r.topic).await?;
        state.delivery.sending(1);
        let outcome = match send_one(state, running, &Outgoing::of(&r), &run.acks).await {
            Ok(o) => o,
            Err(e) => {
                state.delivery.not_sent(1);
                return Err(e);
            }
        };
        run.records += 1;
        match outcome {
            Outcome::Sent => sent += 1,
            Outcome::Skipped => {
                state.delivery.not_sent(1);
                run.acks.skipped();
            }
        }
        if keep {
            run.offset = r.source_offset.clone();
            let sent = (outcome == Outcome::Sent).then(|| SentTo {
                acks: run.acks.clone(),
                topic: polled
                    .as_ref()
                    .filter(|p| p.topic != r.topic)
                    .map(|_| r.topic.clone()),
            });
            state.awaiting_commit.push_back(AwaitingCommit {
                record: polled.unwrap_or(r),
                sent,
            });
        } else {
            run.offset = std::mem::take(&mut r.source_offset);
        }
    }
    if let Some(o) = open {
        runs.push(o.close());
    }
    Ok(sent)
}

/// Sends batches: each is one run, with the batch's topic checked once.
async fn send_batches(
    state: &mut Common,
    running: &mut Running,
    batches: Vec<SourceBatch>,
    runs: &mut Vec<SubmittedRun>,
) -> Result<u64, ActorProcessingErr> {
    if running.chain.is_some() {
        return send_transformed_batches(state, running, batches, runs).await;
    }
    let mut sent = 0;
    for batch in batches {
        let SourceBatch {
            topic,
            partition,
            records,
            offset,
        } = batch;
        ensure_topic(state, running, &topic).await?;
        let acks = RunAcks::new();
        // Counted in flight once per batch: the task touches the counter once, not per record.
        state.delivery.sending(records.len());
        for (i, r) in records.iter().enumerate() {
            let out = Outgoing {
                topic: &topic,
                kafka_partition: r.kafka_partition,
                key_schema: r.key_schema.as_ref(),
                key: &r.key,
                value_schema: r.value_schema.as_ref(),
                value: &r.value,
                timestamp: r.timestamp,
                headers: &r.headers,
                offset: &offset,
                in_batch: true,
            };
            match send_one(state, running, &out, &acks).await {
                Ok(Outcome::Sent) => sent += 1,
                Ok(Outcome::Skipped) => {
                    state.delivery.not_sent(1);
                    acks.skipped();
                }
                Err(e) => {
                    state.delivery.not_sent(records.len() - i);
                    return Err(e);
                }
            }
        }
        // A batch without records commits its offset once the batches before it are done.
        runs.push(SubmittedRun {
            partition,
            offset,
            records: records.len(),
            acks,
        });
        // The producer copied them: the task may reuse their allocations.
        state.task.recycle(records);
    }
    Ok(sent)
}

/// Sends batches through the connector's transforms. A batch stays one run with its one
/// offset, whatever the transforms do to its records: a record may go to another topic or
/// partition, and one dropped (or failed, tolerated) counts as done, so the batch's offset
/// commits once every record kept was acknowledged.
async fn send_transformed_batches(
    state: &mut Common,
    running: &mut Running,
    batches: Vec<SourceBatch>,
    runs: &mut Vec<SubmittedRun>,
) -> Result<u64, ActorProcessingErr> {
    let mut sent = 0;
    for batch in batches {
        let SourceBatch {
            topic,
            partition,
            mut records,
            offset,
        } = batch;
        let acks = RunAcks::new();
        for r in records.iter_mut() {
            let mut item = BatchItem {
                view: BatchRecordView {
                    topic: topic.clone(),
                    record: r,
                },
                offset: &offset,
                partition: &partition,
            };
            let chain = running.chain.as_mut().expect("checked by the caller");
            let errors = &running.errors;
            let fate = transform::apply(chain, errors, &mut item).await?;
            if fate == Fate::Skip {
                acks.skipped();
                continue;
            }
            let BatchRecordView {
                topic: to,
                record: r,
            } = item.view;
            ensure_topic(state, running, &to).await?;
            let out = Outgoing {
                topic: &to,
                kafka_partition: r.kafka_partition,
                key_schema: r.key_schema.as_ref(),
                key: &r.key,
                value_schema: r.value_schema.as_ref(),
                value: &r.value,
                timestamp: r.timestamp,
                headers: &r.headers,
                offset: &offset,
                in_batch: true,
            };
            state.delivery.sending(1);
            match send_one(state, running, &out, &acks).await {
                Ok(Outcome::Sent) => sent += 1,
                Ok(Outcome::Skipped) => {
                    state.delivery.not_sent(1);
                    acks.skipped();
                }
                Err(e) => {
                    state.delivery.not_sent(1);
                    return Err(e);
                }
            }
        }
        runs.push(SubmittedRun {
            partition,
            offset,
            records: records.len(),
            acks,
        });
        state.task.recycle(records);
    }
    Ok(sent)
}

/// The first time the task sees a topic: has it created (as the topic creation groups say)
/// and reports its use.
async fn ensure_topic(
    state: &mut Common,
    running: &mut Running,
    topic: &str,
) -> Result<(), ActorProcessingErr> {
    if state.known_topics.contains(topic) {
        return Ok(());
    }
    if let Some(admin) = &running.topic_admin {
        // Created as the first matching group says; without groups (only on the embedded
        // broker, which always gets its topics from the runtime) with the broker's defaults.
        let spec = match &running.topic_creation {
            Some(tc) => tc.new_topic(topic),
            None => NewTopicSpec::broker_defaults(topic),
        };
        admin.create_topic(&spec).await.map_err(|e| e.to_string())?;
    }
    state
        .worker
        .status
        .topic_used(&state.connector.name, state.task_id, topic);
    state.known_topics.insert(topic.to_string());
    Ok(())
}

/// Converts a record into the task's reused buffers and hands it to the producer, with its
/// run's acknowledgements as delivery opaque. A full local queue waits for acknowledgements;
/// nothing is dropped. The caller counts the record in flight before, and uncounts it when it
/// was skipped or refused.
async fn send_one(
    state: &mut Common,
    running: &mut Running,
    r: &Outgoing<'_>,
    acks: &Arc<RunAcks>,
) -> Result<Outcome, ActorProcessingErr> {
    let injected = state.faults.as_mut().is_some_and(|f| f.converter_fails());
    // The record path: converters that succeed and a queue with room, without an await, so
    // that nothing of it is kept in the poll's future (~300 instructions a record). Anything
    // else takes the path below, which converts the record again.
    if !injected {
        if let Some(sent) = send_now(state, running, r, acks) {
            return sent;
        }
    }
    Box::pin(send_handling_errors(state, running, r, acks, injected)).await
}

/// [`send_one`] when every converter succeeds and the producer takes the record at once;
/// `None` when a converter failed or the queue is full.
fn send_now(
    state: &mut Common,
    running: &mut Running,
    r: &Outgoing<'_>,
    acks: &Arc<RunAcks>,
) -> Option<Result<Outcome, ActorProcessingErr>> {
    let conv = &running.converters;
    let headers = conv.headers_to_kafka(r.topic, r.headers).ok()?;
    let has_key = conv
        .key
        .from_connect_into(r.topic, r.key_schema, r.key, &mut state.key_buf)
        .ok()?;
    let has_value = conv
        .value
        .from_connect_into(r.topic, r.value_schema, r.value, &mut state.value_buf)
        .ok()?;
    let key = has_key.then_some(&state.key_buf[..]);
    let value = has_value.then_some(&state.value_buf[..]);
    let rec = producer_record(r, key, value, headers, acks);
    match running.producer.send(rec) {
        Ok(()) => Some(Ok(Outcome::Sent)),
        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => None,
        Err((e, _)) => Some(Err(
            format!("cannot produce to topic {}: {e}", r.topic).into()
        )),
    }
}

/// The producer's record for `r`, with its run's acknowledgements as delivery opaque.
fn producer_record<'a>(
    r: &Outgoing<'a>,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: Option<OwnedHeaders>,
    acks: &Arc<RunAcks>,
) -> BaseRecord<'a, [u8], [u8], Arc<RunAcks>> {
    let mut rec = BaseRecord::with_opaque_to(r.topic, acks.clone());
    if let Some(k) = key {
        rec = rec.key(k);
    }
    if let Some(v) = value {
        rec = rec.payload(v);
    }
    if let Some(p) = r.kafka_partition {
        rec = rec.partition(p);
    }
    if let Some(t) = r.timestamp {
        rec = rec.timestamp(t);
    }
    if let Some(h) = headers {
        rec = rec.headers(h);
    }
    rec
}

/// [`send_one`] with each converter's failure handed to the error handler, and a full queue
/// waited on.
async fn send_handling_errors(
    state: &mut Common,
    running: &mut Running,
    r: &Outgoing<'_>,
    acks: &Arc<RunAcks>,
    injected: bool,
) -> Result<Outcome, ActorProcessingErr> {
    let conv = &running.converters;
    let errors = &running.errors;
    // Each converter is a stage of its own for error handling, as in Connect: headers first,
    // then key and value.
    let mut record = *r;
    let first = if injected {
        Err(ConnectError::data("injected fault: conversion failure"))
    } else {
        conv.headers_to_kafka(r.topic, r.headers)
    };
    let exec = Executing::new(Stage::HeaderConverter, &conv.header_class);
    let retry = |o: &mut Outgoing| conv.headers_to_kafka(o.topic, o.headers);
    let Some(headers) = errors.settle(exec, &mut record, first, retry).await? else {
        return Ok(Outcome::Skipped);
    };
    let first = conv
        .key
        .from_connect_into(r.topic, r.key_schema, r.key, &mut state.key_buf);
    let key_buf = &mut state.key_buf;
    let exec = Executing::new(Stage::KeyConverter, conv.key_class);
    let retry = |o: &mut Outgoing| {
        conv.key
            .from_connect_into(o.topic, o.key_schema, o.key, key_buf)
    };
    let Some(has_key) = errors.settle(exec, &mut record, first, retry).await? else {
        return Ok(Outcome::Skipped);
    };
    let value_buf = &mut state.value_buf;
    let first = conv
        .value
        .from_connect_into(r.topic, r.value_schema, r.value, value_buf);
    let exec = Executing::new(Stage::ValueConverter, conv.value_class);
    let retry = |o: &mut Outgoing| {
        conv.value
            .from_connect_into(o.topic, o.value_schema, o.value, value_buf)
    };
    let Some(has_value) = errors.settle(exec, &mut record, first, retry).await? else {
        return Ok(Outcome::Skipped);
    };
    let key = has_key.then_some(&state.key_buf[..]);
    let value = has_value.then_some(&state.value_buf[..]);
    let mut rec = producer_record(r, key, value, headers, acks);
    let producer = &running.producer;
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(Outcome::Sent),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                // The local queue is full: wait for acknowledgements to make room.
                rec = back;
                state
                    .delivery
                    .wait(Duration::from_millis(100), |d| d.error().is_some())
                    .await;
                if let Some(e) = state.delivery.error() {
                    return Err(e.into());
                }
            }
            Err((e, _)) => {
                return Err(format!("cannot produce to topic {}: {e}", r.topic).into());
            }
        }
    }
}

/// Calls `commit_record` for the kept records the broker acknowledged (and those that never
/// reached the producer), in the order `poll` returned them.
async fn commit_acknowledged_records(state: &mut Common) -> Result<(), ConnectError> {
    while let Some(front) = state.awaiting_commit.front() {
        let metadata = match &front.sent {
            None => None,
            Some(sent) => {
                let Some((partition, offset)) = sent.acks.landed() else {
                    break;
                };
                Some(RecordMetadata {
                    topic: sent.topic.as_ref().unwrap_or(&front.record.topic).clone(),
                    partition,
                    offset,
                })
            }
        };
        let entry = state.awaiting_commit.pop_front().expect("front exists");
        state
            .task
            .commit_record(&entry.record, metadata.as_ref())
            .await?;
    }
    Ok(())
}

/// Waits for in-flight records (up to offset.flush.timeout.ms), then stops the plugin task.
async fn stop(state: &mut Common, mut running: Option<Box<Running>>) {
    let began = Instant::now();
    let deadline = began + state.worker.config.offset_flush_timeout;
    let in_flight_at_stop = state.delivery.in_flight();
    if let Some(r) = &running {
        // Hand lingering batches to the broker now rather than after linger.ms.
        let _ = r.producer.flush(Duration::ZERO);
    }
    loop {
        let in_flight = state.delivery.in_flight();
        if in_flight == 0 || running.is_none() || state.delivery.error().is_some() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::warn!(
                in_flight,
                "stopping with records not yet acknowledged; they will be sent again after restart"
            );
            break;
        }
        state
            .delivery
            .wait(left.min(Duration::from_millis(50)), |d| {
                d.in_flight() == 0 || d.error().is_some()
            })
            .await;
    }
    // How long a stop waited for acknowledgements, for whoever wonders why stopping is slow.
    tracing::debug!(
        in_flight_at_stop,
        waited_ms = began.elapsed().as_millis() as u64,
        "in-flight records settled"
    );
    // As Connect's final commit of a task stopped cleanly: what it sent is committed.
    if let (Some(r), None) = (running.as_mut(), state.delivery.error()) {
        if let Err(e) = end_transaction(state, r, TransactionEnd::Commit).await {
            tracing::warn!("cannot commit the open transaction while stopping: {e}");
        }
    }
    if let Err(e) = commit_acknowledged_records(state).await {
        tracing::warn!("commit_record failed while stopping: {e}");
    }
    if let Err(e) = state.task.stop().await {
        tracing::warn!("source task stop failed: {e}");
    }
    if let Some(chain) = running.as_mut().and_then(|r| r.chain.as_mut()) {
        chain.close();
    }
    tracing::info!("source task stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn producer_overrides_win_over_connects_defaults() {
        let mut conf = props(&[]);
        producer_defaults(&mut conf, "c", 3);
        assert_eq!(
            conf,
            props(&[
                ("acks", "all"),
                ("client.id", "connector-producer-c-3"),
                ("enable.idempotence", "true")
            ])
        );
        let mut conf = props(&[("client.id", "mine"), ("acks", "1")]);
        producer_defaults(&mut conf, "c", 3);
        assert_eq!(
            conf,
            props(&[
                ("acks", "1"),
                ("client.id", "mine"),
                ("enable.idempotence", "false")
            ])
        );
        let mut conf = props(&[("acks", "-1"), ("enable.idempotence", "false")]);
        producer_defaults(&mut conf, "c", 0);
        assert_eq!(conf["enable.idempotence"], "false");
        assert_eq!(conf["acks"], "-1");
    }
}
