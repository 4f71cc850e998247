//! `SinkTaskActor`: consume → convert → transform → `put` → `pre_commit` → commit what the task
//! flushed.
//!
//! Consuming, converting and transforming run ahead in the task's fetch stage
//! ([`super::sink_fetch`]), which hands ready batches to the actor as messages; the actor owns
//! the plugin, the partitions and the offsets, and advances a partition's offset only for what
//! `put` accepted (or what the transforms and errors dropped before it). The actor never waits
//! on the broker for records, so commits, stops and assignment refreshes are handled between
//! two `put`s.
//!
//! Partitions are not handed out by a consumer group rebalance. Each task computes the
//! partitions it owns from the topic metadata with [`partition_owner`], a pure function of
//! (topic, partition, tasks.max): every partition has exactly one owner at all times, whatever
//! each task's view of the metadata, and no join/sync round can go wrong (simultaneous joins of
//! several librdkafka consumers converged badly on the embedded broker). Offsets are still
//! committed to the consumer group `connect-<name>`, as in Connect, so tooling shows the lag.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kconnect_connectors::api::{Props, SinkOffsets, SinkTask, SinkTaskContext, TaskInstance};
use kconnect_connectors::data::{SchemaAndValue, Value};
use kconnect_connectors::record::{SinkRecord, TimestampType, TopicPartition};
use kconnect_connectors::ConnectError;
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};
use regex::Regex;
use tracing::Instrument;

use super::convert::TaskConverters;
use super::errors::dlq::{DeadLetterQueue, DlqError};
use super::errors::errant::{BatchOrigins, TaskErrantReporter};
use super::errors::metrics::ErrorMetrics;
use super::errors::record::ConsumedMessage;
use super::errors::{ErrorHandler, Executing, Reporters, Stage};
use super::faults::FaultInjector;
use super::kafka_headers;
use super::missing_topics::{waiting_message, Change, MissingTopics};
use super::sink_ahead::{Ahead, Next, Ready};
use super::sink_fetch::{FetchError, FetchStage, FetchState};
use super::transform::{self, SinkTransforms};
use super::unrecoverable::Unrecoverable;
use super::{task_span, TaskArgs};
use crate::broker_health::KafkaClientContext;
use crate::config::{client_props, ConnectorConfig, SinkTopics};
use crate::context::{is_embedded_cluster, LiveClient, WorkerContext};
use crate::metrics::TaskMetrics;
use crate::status::State;

/// Records handed to one `put` at most, unless `consumer.max.poll.records` says otherwise
/// (Connect's consumer default).
const DEFAULT_MAX_POLL_RECORDS: usize = 500;
/// How often the task looks for new partitions (and for its topics, until they exist).
const METADATA_REFRESH: Duration = Duration::from_secs(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The task that owns `partition` of `topic` when the connector runs `tasks` tasks.
///
/// Partitions of a topic go round-robin, starting at a task chosen by a stable hash of the
/// topic name (FNV-1a) so that several single-partition topics spread over the tasks.
pub fn partition_owner(topic: &str, partition: i32, tasks: usize) -> u32 {
    let tasks = tasks.max(1) as u64;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ((h % tasks + partition.max(0) as u64) % tasks) as u32
}

pub enum SinkTaskMsg {
    /// Fail now, as a fault injected from outside (REST `POST /admin/faults`).
    Inject(super::faults::FaultKind),
    Start,
    /// A batch the fetch stage read and converted (or the error it stopped on).
    Fetched(Ready<FetchError>),
    /// Hand the next ready batch to `put`.
    Deliver,
    /// A retriable error's back-off elapsed: hand the refused batch to `put` again.
    Retry,
    /// offset.flush.interval.ms elapsed: pre_commit and commit.
    Commit,
    RefreshAssignment,
    /// Stop (true) or resume (false) consuming; the task keeps its partitions.
    Pause(bool),
    Stop(RpcReplyPort<()>),
}

pub struct SinkTaskActor;

pub struct SinkTaskState {
    worker: Arc<WorkerContext>,
    connector: Arc<ConnectorConfig>,
    task_id: u32,
    task_props: Props,
    restarts: u32,
    task_count: usize,
    span: tracing::Span,
    task: Box<dyn SinkTask>,
    ctx: SinkTaskContext,
    consumer: Option<Arc<SinkConsumer>>,
    converters: Option<Arc<TaskConverters>>,
    /// The connector's transforms; `None` when it has none (records then skip this step). Made
    /// at start, then owned by the fetch stage.
    transforms: Option<SinkTransforms>,
    /// Reads, converts and transforms ahead of `put`, once started.
    fetch: Option<FetchStage>,
    /// What the fetch stage handed over and `put` did not get yet.
    ahead: Ahead<FetchError>,
    /// What becomes of a record an operation fails on (set at start).
    errors: Option<ErrorHandler>,
    /// The errant record reporter the task's context hands out, when the connector has one.
    errant: Option<Arc<TaskErrantReporter>>,
    /// Where each record of `batch` came from, index for index (kept only with `errant`).
    origins: BatchOrigins,
    topics: TopicFilter,
    /// Listed topics the cluster did not have at the last metadata refresh.
    missing_topics: MissingTopics,
    /// Whether the user allowed offset resets (auto.offset.reset set explicitly).
    reset_allowed: bool,
    /// Whether the cluster is the embedded broker, once asked.
    embedded_cluster: Option<bool>,
    max_poll_records: usize,
    assigned: BTreeSet<TopicPartition>,
    /// Next offset to read for each assigned partition, after the records `put` accepted.
    current: SinkOffsets,
    committed: SinkOffsets,
    /// The batch being delivered: taken from `ahead`, lent to `put`, handed back to the fetch
    /// stage for reuse once `put` accepted it, kept as it is when `put` refused it with a
    /// retriable error, to hand it again.
    batch: Vec<SinkRecord>,
    /// Each partition's next offset once `batch` is put: past every record it consumed, those
    /// the transforms dropped or errors skipped included.
    batch_consumed: SinkOffsets,
    /// The fetch stage's credit for `batch`, returned with it.
    batch_credit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// `put` refused `batch` with a retriable error; it is handed again at `Retry`.
    retry_pending: bool,
    faults: Option<FaultInjector>,
    metrics: TaskMetrics,
    paused: bool,
    phase: Phase,
    timers: Vec<JoinHandle<()>>,
}

/// Where the task is in its life: one phase at a time, where two flags allowed four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Created; `Start` has not run yet (or failed, and the actor is going away).
    Created,
    /// Started: fetching, delivering and committing.
    Running,
    /// `Stop` arrived: the task stops, and every later message is ignored.
    Stopping,
}

enum TopicFilter {
    List(Vec<String>),
    Regex(Regex),
}

impl TopicFilter {
    fn matches(&self, topic: &str) -> bool {
        match self {
            TopicFilter::List(l) => l.iter().any(|t| t == topic),
            TopicFilter::Regex(r) => r.is_match(topic),
        }
    }
}

fn task_error(e: ConnectError) -> ActorProcessingErr {
    e.to_string().into()
}

impl Actor for SinkTaskActor {
    type Msg = SinkTaskMsg;
    type State = SinkTaskState;
    type Arguments = TaskArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TaskArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let TaskInstance::Sink(task) = args.instance else {
            return Err("a source task was handed to a sink task actor".into());
        };
        let topics = match args.connector.sink_topics()? {
            SinkTopics::List(l) => TopicFilter::List(l),
            SinkTopics::Regex(r) => {
                TopicFilter::Regex(Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                    format!("Invalid value {r} for configuration topics.regex: {e}")
                })?)
            }
        };
        myself.send_message(SinkTaskMsg::Start)?;
        let metrics = TaskMetrics::sink(&args.connector.name, args.task_id);
        let faults = FaultInjector::for_task(
            args.connector.faults.as_ref(),
            &args.connector.name,
            args.task_id,
            args.restarts,
        );
        Ok(SinkTaskState {
            span: task_span(&args.connector.name, args.task_id),
            ctx: SinkTaskContext::new(args.task_id),
            worker: args.worker,
            connector: args.connector,
            task_id: args.task_id,
            task_props: args.task_props,
            restarts: args.restarts,
            task_count: args.task_count,
            task,
            consumer: None,
            converters: None,
            transforms: None,
            fetch: None,
            ahead: Ahead::default(),
            errors: None,
            errant: None,
            origins: BatchOrigins::default(),
            topics,
            missing_topics: MissingTopics::default(),
            reset_allowed: false,
            embedded_cluster: None,
            max_poll_records: DEFAULT_MAX_POLL_RECORDS,
            assigned: BTreeSet::new(),
            current: SinkOffsets::new(),
            committed: SinkOffsets::new(),
            batch: Vec::new(),
            batch_consumed: SinkOffsets::new(),
            batch_credit: None,
            retry_pending: false,
            faults,
            metrics,
            paused: args.paused,
            phase: Phase::Created,
            timers: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        if state.phase == Phase::Stopping {
            if let SinkTaskMsg::Stop(reply) = msg {
                let _ = reply.send(());
            }
            return Ok(());
        }
        match msg {
            SinkTaskMsg::Start => {
                start(state).instrument(span.clone()).await?;
                refresh_assignment(state).instrument(span.clone()).await?;
                // Requests of start and open (a rewind, say) apply before the first read.
                apply_requests(state).instrument(span.clone()).await?;
                start_fetching(state, &myself, span);
                let every = state.worker.config.offset_flush_interval;
                state
                    .timers
                    .push(myself.send_interval(every, || SinkTaskMsg::Commit));
                state.timers.push(
                    myself.send_interval(METADATA_REFRESH, || SinkTaskMsg::RefreshAssignment),
                );
                state.phase = Phase::Running;
            }
            SinkTaskMsg::Inject(kind) => {
                super::faults::inject(&state.connector.name, state.task_id, kind)
                    .map_err(task_error)?
            }
            SinkTaskMsg::Pause(paused) => {
                let who = super::PauseArgs {
                    worker: &state.worker,
                    connector: &state.connector.name,
                    task: state.task_id,
                    restarts: state.restarts,
                    started: state.phase == Phase::Running,
                };
                let resume = super::apply_pause(who, &mut state.paused, paused);
                if state.phase == Phase::Running && !state.missing_topics.is_empty() {
                    // apply_pause cleared the trace; the task still waits for its topics.
                    set_running_status(state);
                }
                if resume {
                    myself.send_message(SinkTaskMsg::Deliver)?;
                }
            }
            SinkTaskMsg::Fetched(ready) => {
                state.ahead.push(ready);
                deliver(state, &myself).instrument(span).await?;
            }
            SinkTaskMsg::Deliver => deliver(state, &myself).instrument(span).await?,
            SinkTaskMsg::Retry => {
                state.retry_pending = false;
                deliver(state, &myself).instrument(span).await?;
            }
            SinkTaskMsg::Commit => commit(state).instrument(span).await?,
            SinkTaskMsg::RefreshAssignment => refresh_assignment(state).instrument(span).await?,
            SinkTaskMsg::Stop(reply) => {
                state.phase = Phase::Stopping;
                stop(state).instrument(span).await;
                let _ = reply.send(());
                myself.stop(None);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for t in state.timers.drain(..) {
            t.abort();
        }
        if let Some(f) = state.fetch.as_mut() {
            f.stop().await;
        }
        Ok(())
    }
}

async fn start(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    let worker = &state.worker;
    let name = &state.connector.name;
    if let (Some(admin), TopicFilter::List(topics)) = (&worker.topic_admin, &state.topics) {
        // Where the runtime creates topics (the embedded broker), a sink's topics exist before
        // any source writes, so the sink owns its partitions from the first record on.
        for t in topics {
            admin
                .create_topic(&crate::topic_creation::NewTopicSpec::broker_defaults(t))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let mut conf = client_props(
        &worker.config,
        &state.connector,
        "consumer",
        &worker.bootstrap_servers,
        &[],
    );
    // Java-client keys librdkafka does not know, read here instead.
    if let Some(n) = conf.remove("max.poll.records") {
        state.max_poll_records = n.trim().parse().map_err(|_| {
            format!("Invalid value {n} for configuration consumer.max.poll.records")
        })?;
    }
    state.reset_allowed = conf.contains_key("auto.offset.reset");
    conf.entry("group.id".into())
        .or_insert_with(|| format!("connect-{name}"));
    conf.entry("client.id".into())
        .or_insert_with(|| format!("connector-consumer-{name}-{}", state.task_id));
    conf.insert("enable.auto.commit".into(), "false".into());
    conf.insert("enable.auto.offset.store".into(), "false".into());
    conf.insert("enable.partition.eof".into(), "false".into());
    // librdkafka pauses fetching for fetch.queue.backoff.ms (1 s by default) whenever its
    // local queue is full; a sink slower than its producers would stall a second at a time.
    // The Java consumer keeps fetching, so match that unless the user chose otherwise.
    conf.entry("fetch.queue.backoff.ms".into())
        .or_insert_with(|| "10".into());
    // Never skip data silently: an out-of-range offset is an error unless the user chose a reset.
    conf.entry("auto.offset.reset".into())
        .or_insert_with(|| "error".into());
    let mut cc = ClientConfig::new();
    for (k, v) in &conf {
        cc.set(k, v);
    }
    let consumer: StreamConsumer<KafkaClientContext> = cc
        .create_with_context(KafkaClientContext::new(worker.broker_health.clone()))
        .map_err(|e| format!("cannot create the consumer (check the consumer.* keys): {e}"))?;
    state.consumer = Some(Arc::new(SinkConsumer {
        consumer,
        _live: state.worker.live_clients.register(),
    }));
    let converters = Arc::new(TaskConverters::new(&worker.config, &state.connector)?);
    state.converters = Some(converters.clone());
    state.transforms = transform::build(&worker.plugins, &state.connector)
        .map_err(task_error)?
        .map(SinkTransforms::new);
    start_error_handling(state, converters).await?;
    state
        .task
        .start(state.ctx.clone(), &state.task_props)
        .await
        .map_err(task_error)?;
    state.worker.status.set_task(
        &state.connector.name,
        state.task_id,
        State::running(state.paused),
        None,
        state.restarts,
    );
    tracing::info!("sink task started");
    Ok(())
}

/// The task's error handling: its metrics, its dead letter queue (the topic created if
/// missing), and the errant record reporter its context offers when the connector has a queue
/// or the error log.
async fn start_error_handling(
    state: &mut SinkTaskState,
    converters: Arc<TaskConverters>,
) -> Result<(), ActorProcessingErr> {
    let worker = &state.worker;
    let settings = &state.connector.errors;
    let metrics = ErrorMetrics::new(&state.connector.name, state.task_id);
    let dlq = DeadLetterQueue::start(
        worker,
        &state.connector,
        state.task_id,
        &settings.dlq,
        &metrics,
    )
    .await?;
    let reporters = Arc::new(Reporters::new(
        &state.connector.name,
        state.task_id,
        settings,
        metrics,
        dlq,
        worker.config.offset_flush_timeout,
    ));
    if settings.errant_reporter_enabled() {
        let reporter = Arc::new(TaskErrantReporter::new(reporters.clone(), converters));
        state.ctx = state
            .ctx
            .clone()
            .with_errant_record_reporter(reporter.clone());
        state.origins = BatchOrigins::new(settings.dlq.topic.is_some());
        state.errant = Some(reporter);
    }
    state.errors = Some(ErrorHandler::new(settings, reporters));
    Ok(())
}

/// The task's consumer, counted in the worker's live clients for as long as it exists: the
/// actor and its fetch stage share it, and whichever lets go of it last closes it.
pub(super) struct SinkConsumer {
    consumer: StreamConsumer<KafkaClientContext>,
    /// Dropped after the consumer (a later field).
    _live: LiveClient,
}

impl std::ops::Deref for SinkConsumer {
    type Target = StreamConsumer<KafkaClientContext>;
    fn deref(&self) -> &Self::Target {
        &self.consumer
    }
}

fn consumer(state: &SinkTaskState) -> Arc<SinkConsumer> {
    state.consumer.clone().expect("consumer created at start")
}

/// Starts the fetch stage, which owns the transforms from now on.
fn start_fetching(state: &mut SinkTaskState, myself: &ActorRef<SinkTaskMsg>, span: tracing::Span) {
    let errors = state.errors.as_ref().expect("made at start");
    let fetch = FetchState {
        converters: state.converters.clone().expect("made at start"),
        transforms: state.transforms.take(),
        // Its own operator over the task's reporters (metrics, log, dead letter queue).
        errors: ErrorHandler::new(&state.connector.errors, errors.reporters().clone()),
        origins: state
            .errant
            .as_ref()
            .map(|_| state.connector.errors.dlq.topic.is_some()),
        // Its own injector: it counts the records it converts, the actor's counts the rest.
        faults: FaultInjector::for_task(
            state.connector.faults.as_ref(),
            &state.connector.name,
            state.task_id,
            state.restarts,
        ),
        topic_names: TopicNames::default(),
        consumer: consumer(state),
        max_poll_records: state.max_poll_records,
        records_in: state.metrics.records_in.clone(),
    };
    state.fetch = Some(FetchStage::spawn(fetch, myself.clone(), span));
}

/// Holds the fetch stage between two batches while partitions change position; the answer
/// (to drop once they changed) says from which generation on its batches are fresh.
async fn hold_fetching(state: &mut SinkTaskState) -> Option<super::sink_fetch::Held> {
    match state.fetch.as_mut() {
        Some(f) => Some(f.hold().await),
        None => None,
    }
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ActorProcessingErr> {
    Ok(tokio::task::spawn_blocking(f).await?)
}

/// Takes the partitions this task owns now: closes those it lost, opens those it gained.
async fn refresh_assignment(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    let c = consumer(state);
    let md = match blocking(move || c.fetch_metadata(None, CLIENT_TIMEOUT)).await? {
        Ok(md) => md,
        Err(e) => {
            // An outage is told once by the worker's broker health; anything else is news.
            if state.worker.broker_health.problem().is_none() {
                tracing::warn!("cannot fetch topic metadata (will retry): {e}");
            }
            return Ok(());
        }
    };
    if let TopicFilter::List(listed) = &state.topics {
        // A topic the cluster lacks is absent from the metadata, or listed with this error.
        let present: BTreeSet<&str> = md
            .topics()
            .iter()
            .filter(|t| {
                t.error().map(RDKafkaErrorCode::from)
                    != Some(RDKafkaErrorCode::UnknownTopicOrPartition)
            })
            .map(|t| t.name())
            .collect();
        let change = state.missing_topics.update(listed, |t| present.contains(t));
        report_missing_topics(state, change);
    }
    let tasks = state.task_count;
    let mut wanted = BTreeSet::new();
    for t in md.topics() {
        if t.error().is_some() || !state.topics.matches(t.name()) {
            continue;
        }
        for p in t.partitions() {
            if partition_owner(t.name(), p.id(), tasks) == state.task_id {
                wanted.insert(TopicPartition::new(t.name(), p.id()));
            }
        }
    }
    let removed: Vec<_> = state.assigned.difference(&wanted).cloned().collect();
    let added: Vec<_> = wanted.difference(&state.assigned).cloned().collect();
    if removed.is_empty() && added.is_empty() {
        return check_positions(state).await;
    }
    // Records the stage read ahead for these partitions are stale once they change (see
    // `sink_ahead`): a revoked one's new owner, and a re-added one, read from the committed offset.
    let held = hold_fetching(state).await;
    if let Some(h) = &held {
        state.ahead.reposition(&removed, h.fresh);
        state.ahead.reposition(&added, h.fresh);
    }
    if !removed.is_empty() {
        commit(state).await?;
        state.task.close(&removed).await.map_err(task_error)?;
        let tpl = tpl_of(&removed);
        consumer(state).incremental_unassign(&tpl)?;
        for tp in &removed {
            state.assigned.remove(tp);
            state.current.remove(tp);
            state.committed.remove(tp);
        }
        // A held batch (put refused it, retriable) keeps only what this task still owns: the
        // new owner reads the rest from the committed offsets, as Connect drops its batch.
        if !state.batch.is_empty() {
            let keep: Vec<bool> = state
                .batch
                .iter()
                .map(|r| {
                    !removed
                        .iter()
                        .any(|tp| tp.partition == r.partition && tp.topic == *r.topic)
                })
                .collect();
            // The origins of the batch's records go with them, as do its consumed offsets.
            if !state.origins.is_empty() {
                state.origins.retain(&keep);
            }
            let mut i = 0;
            state.batch.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        state.batch_consumed.retain(|tp, _| !removed.contains(tp));
    }
    if !added.is_empty() {
        let c = consumer(state);
        let query = tpl_of(&added);
        let committed = blocking(move || c.committed_offsets(query, CLIENT_TIMEOUT)).await??;
        let mut tpl = TopicPartitionList::new();
        for tp in &added {
            let stored = committed
                .find_partition(&tp.topic, tp.partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                });
            let start = match stored {
                Some(o) => {
                    state.committed.insert(tp.clone(), o);
                    state.current.insert(tp.clone(), o);
                    Offset::Offset(o)
                }
                None if state.reset_allowed => Offset::Invalid,
                None => {
                    // On the embedded broker every partition starts at 0, so the position
                    // check below also catches records dropped before this sink ever read.
                    if on_embedded_broker(state).await? {
                        state.current.insert(tp.clone(), 0);
                    }
                    Offset::Beginning
                }
            };
            tpl.add_partition_offset(&tp.topic, tp.partition, start)?;
            tracing::info!(partition = %tp, offset = ?start, "assigned");
        }
        consumer(state).incremental_assign(&tpl)?;
        for tp in &added {
            state
                .worker
                .status
                .topic_used(&state.connector.name, state.task_id, &tp.topic);
        }
        state.assigned.extend(added.iter().cloned());
        state.task.open(&added).await.map_err(task_error)?;
    }
    drop(held);
    state.ctx.set_assignment(state.assigned.clone());
    check_positions(state).await
}

/// Says when listed topics go missing or appear (see [`super::missing_topics`]): in the log
/// once per connector (task 0 speaks for all, as every task waits for the same topics), and in
/// each task's status trace.
fn report_missing_topics(state: &SinkTaskState, change: Change) {
    if change.is_empty() {
        return;
    }
    // The status first: whoever reads the log line then finds the trace too.
    set_running_status(state);
    let name = &state.connector.name;
    if !change.gone.is_empty() {
        let message = waiting_message(&change.gone, name);
        if state.task_id == 0 {
            tracing::warn!(topics = ?change.gone, "{message}");
        } else {
            tracing::debug!(topics = ?change.gone, "{message}");
        }
    }
    for topic in &change.appeared {
        if state.task_id == 0 {
            tracing::info!("topic {topic} now exists: sink connector {name} consumes it");
        }
    }
}

/// RUNNING (or PAUSED), with the missing topics as the trace while there are any.
fn set_running_status(state: &SinkTaskState) {
    let name = &state.connector.name;
    state.worker.status.set_task(
        &state.connector.name,
        state.task_id,
        State::running(state.paused),
        state.missing_topics.trace(name),
        state.restarts,
    );
}

/// Whether the cluster is the embedded broker (see [`is_embedded_cluster`]), asked once.
async fn on_embedded_broker(state: &mut SinkTaskState) -> Result<bool, ActorProcessingErr> {
    if let Some(known) = state.embedded_cluster {
        return Ok(known);
    }
    let c = consumer(state);
    let id = blocking(move || c.client().fetch_cluster_id(CLIENT_TIMEOUT)).await?;
    // Without the id the never-skip rule cannot be applied safely; the restart asks again.
    let id = id.ok_or(
        "the broker did not tell its cluster id (needed to know whether records \
                       before the first offset were dropped)",
    )?;
    let embedded = is_embedded_cluster(&id);
    tracing::debug!(cluster_id = %id, embedded, "cluster identified");
    state.embedded_cluster = Some(embedded);
    Ok(embedded)
}

fn tpl_of(tps: &[TopicPartition]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for tp in tps {
        tpl.add_partition(&tp.topic, tp.partition);
    }
    tpl
}

/// Hands the next batch to `put`: the one `put` refused with a retriable error, else the next
/// the fetch stage read ahead. One `put` per message, so other messages come in between.
async fn deliver(
    state: &mut SinkTaskState,
    myself: &ActorRef<SinkTaskMsg>,
) -> Result<(), ActorProcessingErr> {
    if state.paused || state.retry_pending || state.phase != Phase::Running {
        return Ok(());
    }
    // Requests made in the last put (a rewind, say) apply before the next.
    apply_requests(state).await?;
    // A batch still held was refused with a retriable error: it is handed again as it was.
    if state.batch.is_empty() {
        let fetch = state.fetch.as_ref();
        let next = state.ahead.next(|spare| {
            if let Some(f) = fetch {
                f.give_back(spare.records, spare.origins);
            }
        });
        match next {
            None => return Ok(()),
            Some(Next::Failed(e)) => return Err(fetch_error(state, e).await),
            Some(Next::Records(b)) => {
                state.batch = b.records;
                state.origins = b.origins;
                state.batch_consumed = b.consumed;
                state.batch_credit = b.credit;
            }
        }
    }
    if state.batch.is_empty() {
        // The transforms dropped (or errors skipped) every record of the batch: consumed all
        // the same, in its turn.
        put_done(state, myself, 0)?;
        return Ok(());
    }
    let injected = match state.faults.as_mut() {
        Some(f) => f.before_call(true).await,
        None => Ok(()),
    };
    let n = state.batch.len();
    state.metrics.batch_size.record(n as f64);
    let started = std::time::Instant::now();
    // Records `put` reports are found by their place in the batch lent to it (one lock).
    if let Some(r) = &state.errant {
        r.lend(&state.batch, std::mem::take(&mut state.origins));
    }
    // An injected fault takes the place of the put's own result, retriable ones included.
    let result = match injected {
        Ok(()) => state.task.put(&state.batch).await,
        Err(e) => Err(e),
    };
    state.metrics.batch_time.record(started.elapsed());
    if let Some(r) = &state.errant {
        let (origins, refused) = r.take_back();
        state.origins = origins;
        // A report errors.tolerance refused fails the task, even if `put` swallowed it; once
        // the record is in the dead letter queue, if there is one.
        if let Some(refused) = refused {
            if let Some(dlq) = state.errors.as_ref().and_then(|e| e.reporters().dlq()) {
                let _ = dlq
                    .wait_written(state.worker.config.offset_flush_timeout)
                    .await;
            }
            return Err(refused.into());
        }
    }
    match result {
        Ok(()) => {
            state.metrics.records_out.increment(n as u64);
            put_done(state, myself, n)?;
        }
        Err(ConnectError::Retriable(why)) => {
            let wait = state.ctx.take_timeout().unwrap_or(100);
            tracing::warn!("put failed, retrying in {wait} ms: {why}");
            // Waited for off the mailbox: commits and a stop are handled meanwhile.
            state.retry_pending = true;
            myself.send_after(Duration::from_millis(wait), || SinkTaskMsg::Retry);
        }
        Err(e) => return Err(task_error(e)),
    }
    Ok(())
}

/// `put` accepted the batch (of `n` records): each partition moves past what the batch
/// consumed (once per partition per batch), and the batch goes back to the fetch stage.
fn put_done(
    state: &mut SinkTaskState,
    myself: &ActorRef<SinkTaskMsg>,
    n: usize,
) -> Result<(), ActorProcessingErr> {
    state.current.append(&mut state.batch_consumed);
    // Back to the stage with its credit: the allocations are reused for a later batch.
    let done = std::mem::take(&mut state.batch);
    let origins = std::mem::take(&mut state.origins);
    if let Some(f) = &state.fetch {
        f.give_back(done, origins);
    }
    state.batch_credit = None;
    if let Some(f) = state.faults.as_mut() {
        f.after_records(n).map_err(task_error)?;
    }
    if state.ahead.has_ready() {
        myself.send_message(SinkTaskMsg::Deliver)?;
    }
    Ok(())
}

/// The task's failure for the error the fetch stage stopped on.
async fn fetch_error(state: &mut SinkTaskState, e: FetchError) -> ActorProcessingErr {
    match e {
        FetchError::Convert(e) => e,
        FetchError::Consumer(e) => {
            let wanted = state
                .assigned
                .iter()
                .map(|tp| (tp.clone(), state.current.get(tp).copied().unwrap_or(0)))
                .collect();
            consumer_error(consumer(state), wanted, e).await
        }
    }
}

/// Records that `put` accepted `batch`: each partition's next offset is written once per batch,
/// not once per record (a partition's records arrive in offset order, usually one run each).
pub(super) fn advance_offsets(current: &mut SinkOffsets, batch: &[SinkRecord]) {
    let mut next: Vec<(&Arc<str>, i32, i64)> = Vec::new();
    let mut last = 0;
    for r in batch {
        let same = |e: &(&Arc<str>, i32, i64)| {
            e.1 == r.partition && (Arc::ptr_eq(e.0, &r.topic) || **e.0 == *r.topic)
        };
        if next.get(last).is_some_and(same) {
            next[last].2 = r.offset + 1;
        } else if let Some(i) = next.iter().position(same) {
            next[i].2 = r.offset + 1;
            last = i;
        } else {
            last = next.len();
            next.push((&r.topic, r.partition, r.offset + 1));
        }
    }
    for (topic, partition, offset) in next {
        current.insert(TopicPartition::new(&**topic, partition), offset);
    }
}

/// Moves each partition past the records fetched and skipped (failed under
/// errors.tolerance=all) without transforms: never back, as the batch's records may lie beyond.
pub(super) fn advance_past_skipped(
    current: &mut SinkOffsets,
    skipped: &mut Vec<(Arc<str>, i32, i64)>,
) {
    for (topic, partition, offset) in skipped.drain(..) {
        let next = current
            .entry(TopicPartition::new(&*topic, partition))
            .or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }
}

/// Topic names shared by the records of a topic: one allocation per topic, not per record.
#[derive(Default)]
pub(super) struct TopicNames {
    names: Vec<Arc<str>>,
    /// The last name handed out: records come in runs of one partition.
    last: usize,
}

impl TopicNames {
    /// The name of `m`'s topic. The last one handed out is checked against librdkafka's name
    /// byte by byte, which costs less than `Message::topic` (a `strlen` and a UTF-8 check).
    #[inline]
    pub(super) fn of(&mut self, m: &BorrowedMessage<'_>) -> Arc<str> {
        if let Some(last) = self.names.get(self.last) {
            // SAFETY: `m` is alive, so is its topic handle, whose name is a NUL-terminated
            // string; the comparison stops at the first byte that differs, at the latest at
            // that NUL (a topic name holds none).
            let same = unsafe {
                let name = rdkafka::bindings::rd_kafka_topic_name(m.topic_ptr()).cast::<u8>();
                last.bytes().enumerate().all(|(i, b)| *name.add(i) == b)
                    && *name.add(last.len()) == 0
            };
            if same {
                return last.clone();
            }
        }
        self.get(m.topic())
    }

    fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(n) = self.names.get(self.last).filter(|n| ***n == *topic) {
            return n.clone();
        }
        let i = match self.names.iter().position(|n| **n == *topic) {
            Some(i) => i,
            None => {
                self.names.push(Arc::from(topic));
                self.names.len() - 1
            }
        };
        self.last = i;
        self.names[i].clone()
    }
}

/// Converts a fetched record into `records[at]`, or pushes it when `at` is the end (a record
/// `put` is done with is overwritten field by field: the converters write into its key's and
/// value's buffers, and nothing the size of a record is moved or dropped per record); `false`
/// when it failed and errors.tolerance skips it (then `records[at]` holds nothing of use).
/// Each converter is a stage of its own for error handling (KEY_CONVERTER, VALUE_CONVERTER,
/// then HEADER_CONVERTER). Runs in the fetch stage (`state` is the stage's).
pub(super) async fn convert(
    state: &mut FetchState,
    m: &BorrowedMessage<'_>,
    records: &mut Vec<SinkRecord>,
    at: usize,
) -> Result<bool, ActorProcessingErr> {
    let injected = state.faults.as_mut().is_some_and(|f| f.converter_fails());
    // The record path: converters that succeed, and no await, so that nothing of it lives in
    // the fetch stage's future (spilling its locals there cost ~400 instructions a record). A
    // failure goes to the error handler's path, which converts the record again.
    if !injected && convert_now(state, m, records, at) {
        return Ok(true);
    }
    Box::pin(convert_handling_errors(state, m, records, at, injected)).await
}

/// [`convert`] when every converter succeeds; `false` as soon as one fails.
fn convert_now(
    state: &mut FetchState,
    m: &BorrowedMessage<'_>,
    records: &mut Vec<SinkRecord>,
    at: usize,
) -> bool {
    let conv = &*state.converters;
    let topic_name = state.topic_names.of(m);
    let topic: &str = &topic_name;
    let (mut key, mut value) = reused_key_and_value(records.get_mut(at));
    if conv.key.to_connect_into(topic, m.key(), &mut key).is_err()
        || conv
            .value
            .to_connect_into(topic, m.payload(), &mut value)
            .is_err()
    {
        return false;
    }
    let Ok(headers) = conv.headers_from_kafka(topic, kafka_headers::headers(m)) else {
        return false;
    };
    store(records, at, m, topic_name, key, value, headers);
    true
}

/// [`convert`] with each failure handed to the error handler (retries, tolerance, reporting).
async fn convert_handling_errors(
    state: &mut FetchState,
    m: &BorrowedMessage<'_>,
    records: &mut Vec<SinkRecord>,
    at: usize,
    injected: bool,
) -> Result<bool, ActorProcessingErr> {
    let conv = &*state.converters;
    let errors = &state.errors;
    let topic_name = state.topic_names.of(m);
    let topic: &str = &topic_name;
    let (mut key_out, mut value_out) = reused_key_and_value(records.get_mut(at));
    let mut record = ConsumedMessage(m);
    let first = if injected {
        Err(ConnectError::data("injected fault: conversion failure"))
    } else {
        conv.key
            .to_connect_into(topic, m.key(), &mut key_out)
            .map(|()| key_out)
    };
    // Only a failure goes to the error handler.
    let key = match first {
        Ok(key) => key,
        Err(e) => {
            let exec = Executing::new(Stage::KeyConverter, conv.key_class);
            let retry = |_: &mut ConsumedMessage| conv.key.to_connect(topic, m.key());
            let Some(key) = errors.settle(exec, &mut record, Err(e), retry).await? else {
                return Ok(false);
            };
            key
        }
    };
    let value = match conv
        .value
        .to_connect_into(topic, m.payload(), &mut value_out)
    {
        Ok(()) => value_out,
        Err(e) => {
            let exec = Executing::new(Stage::ValueConverter, conv.value_class);
            let retry = |_: &mut ConsumedMessage| conv.value.to_connect(topic, m.payload());
            let Some(value) = errors.settle(exec, &mut record, Err(e), retry).await? else {
                return Ok(false);
            };
            value
        }
    };
    let headers = match conv.headers_from_kafka(topic, kafka_headers::headers(m)) {
        Ok(headers) => headers,
        Err(e) => {
            let exec = Executing::new(Stage::HeaderConverter, &conv.header_class);
            let retry =
                |_: &mut ConsumedMessage| conv.headers_from_kafka(topic, kafka_headers::headers(m));
            let Some(headers) = errors.settle(exec, &mut record, Err(e), retry).await? else {
                return Ok(false);
            };
            headers
        }
    };
    store(records, at, m, topic_name, key, value, headers);
    Ok(true)
}

/// Writes a converted record into `records[at]`, field by field, or pushes it at the end.
fn store(
    records: &mut Vec<SinkRecord>,
    at: usize,
    m: &BorrowedMessage<'_>,
    topic_name: Arc<str>,
    key: SchemaAndValue,
    value: SchemaAndValue,
    headers: Vec<kconnect_connectors::record::Header>,
) {
    let (timestamp, timestamp_type) = match m.timestamp() {
        Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
    };
    match records.get_mut(at) {
        Some(r) => {
            if !Arc::ptr_eq(&r.topic, &topic_name) {
                r.topic = topic_name;
            }
            r.partition = m.partition();
            r.offset = m.offset();
            r.timestamp = timestamp;
            r.timestamp_type = timestamp_type;
            r.key_schema = key.schema;
            r.key = key.value;
            r.value_schema = value.schema;
            r.value = value.value;
            r.headers = headers;
        }
        None => records.push(SinkRecord {
            topic: topic_name,
            partition: m.partition(),
            offset: m.offset(),
            timestamp,
            timestamp_type,
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            headers,
        }),
    }
}

/// The key and value of a record `put` is done with, for the converters to write into (a null
/// key and value without one).
fn reused_key_and_value(reuse: Option<&mut SinkRecord>) -> (SchemaAndValue, SchemaAndValue) {
    match reuse {
        Some(r) => (
            SchemaAndValue::new(
                r.key_schema.take(),
                std::mem::replace(&mut r.key, Value::Null),
            ),
            SchemaAndValue::new(
                r.value_schema.take(),
                std::mem::replace(&mut r.value, Value::Null),
            ),
        ),
        None => (
            SchemaAndValue::new(None, Value::Null),
            SchemaAndValue::new(None, Value::Null),
        ),
    }
}

/// For each partition, the next offset this task needs: those below the broker's earliest
/// offset were dropped before the task read them.
///
/// The earliest offsets of all the partitions are asked for in one ListOffsets round trip
/// (timestamp -2, EARLIEST) rather than one watermark query per partition: a broker answers a
/// connection's requests in order, so once the consumer has caught up each query waits behind
/// its fetch's long poll (`fetch.wait.max.ms`, 500 ms). With one query per partition, a task
/// with 100 partitions spent ~50 s of every assignment refresh (every 5 s) here and delivered
/// almost nothing.
async fn find_dropped(
    consumer: Arc<SinkConsumer>,
    wanted: Vec<(TopicPartition, i64)>,
) -> Result<Vec<String>, ActorProcessingErr> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = TopicPartitionList::new();
    for (tp, _) in &wanted {
        query.add_partition_offset(&tp.topic, tp.partition, Offset::Beginning)?;
    }
    let earliest = blocking(move || consumer.offsets_for_times(query, CLIENT_TIMEOUT)).await??;
    let mut lost = Vec::new();
    for (tp, want) in wanted {
        let low = match earliest.find_partition(&tp.topic, tp.partition) {
            Some(e) => {
                e.error()?;
                e.offset()
            }
            None => Offset::Invalid,
        };
        // No earliest offset told (as a watermark query answering -1): nothing to compare.
        // The consumer's `auto.offset.reset=error` still refuses a fetch out of range.
        let Offset::Offset(low) = low else {
            tracing::debug!(partition = %tp, earliest = ?low, "no earliest offset to check against");
            continue;
        };
        if want < low {
            lost.push(format!(
                "{tp}: next offset {want}, but the earliest offset on the broker is {low} ({} \
                 records dropped)",
                low - want
            ));
        }
    }
    Ok(lost)
}

fn dropped_error(lost: &[String]) -> ActorProcessingErr {
    Box::new(Unrecoverable::RecordsDropped(lost.to_vec()))
}

/// Fails the task if a partition's next offset is no longer on the broker (checked at every
/// assignment refresh, so also where a broker answers such a fetch without an error).
async fn check_positions(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    if state.reset_allowed || state.consumer.is_none() {
        return Ok(());
    }
    let wanted: Vec<(TopicPartition, i64)> = state
        .assigned
        .iter()
        .filter_map(|tp| state.current.get(tp).map(|o| (tp.clone(), *o)))
        .collect();
    let lost = find_dropped(consumer(state), wanted).await?;
    if lost.is_empty() {
        Ok(())
    } else {
        Err(dropped_error(&lost))
    }
}

/// Turns a consumer error into the task's failure, naming the cause where it is known.
async fn consumer_error(
    consumer: Arc<SinkConsumer>,
    wanted: Vec<(TopicPartition, i64)>,
    e: KafkaError,
) -> ActorProcessingErr {
    if let KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset) = e {
        let lost = find_dropped(consumer, wanted).await.unwrap_or_default();
        if lost.is_empty() {
            return dropped_error(&["an assigned partition".to_string()]);
        }
        return dropped_error(&lost);
    }
    format!("the consumer failed: {e}").into()
}

/// Applies what the task asked for through its context: offset resets, pause, resume, commit.
async fn apply_requests(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    let req = state.ctx.take_requests();
    let c = consumer(state);
    let resets: Vec<(TopicPartition, i64)> = req
        .offset_resets
        .into_iter()
        .filter(|(tp, _)| state.assigned.contains(tp))
        .collect();
    if !resets.is_empty() {
        // What the stage read ahead for these partitions is stale once they are sought.
        let held = hold_fetching(state).await;
        for (tp, offset) in &resets {
            let (t, p, o) = (tp.topic.clone(), tp.partition, *offset);
            let c2 = c.clone();
            blocking(move || c2.seek(&t, p, Offset::Offset(o), CLIENT_TIMEOUT)).await??;
            state.current.insert(tp.clone(), *offset);
        }
        if let Some(h) = held {
            let sought: Vec<TopicPartition> = resets.into_iter().map(|(tp, _)| tp).collect();
            state.ahead.reposition(&sought, h.fresh);
        }
    }
    let owned = |s: &BTreeSet<TopicPartition>| -> Vec<TopicPartition> {
        s.iter()
            .filter(|tp| state.assigned.contains(tp))
            .cloned()
            .collect()
    };
    // Records already read ahead for a paused partition wait, parked, until it is resumed:
    // librdkafka goes on after them (see `sink_ahead`).
    let pause = owned(&req.pause);
    if !pause.is_empty() {
        c.pause(&tpl_of(&pause))?;
        state.ahead.pause(&pause);
    }
    let resume = owned(&req.resume);
    if !resume.is_empty() {
        c.resume(&tpl_of(&resume))?;
        state.ahead.resume(&resume);
    }
    if req.commit_requested {
        commit(state).await?;
    }
    Ok(())
}

/// Asks the task what is safe to commit (`pre_commit`, by default a `flush`) and commits it.
async fn commit(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    if state.current.is_empty() {
        return Ok(());
    }
    // A record's offset commits only once its dead letter queue write was acknowledged; a
    // write that failed fails the task rather than lose the record.
    if let Some(dlq) = state.errors.as_ref().and_then(|e| e.reporters().dlq()) {
        match dlq
            .wait_written(state.worker.config.offset_flush_timeout)
            .await
        {
            Ok(()) => {}
            Err(e @ DlqError::Timeout { .. }) => {
                tracing::warn!("offset commit skipped (the next one tries again): {e}");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let offered = state.current.clone();
    let safe = state.task.pre_commit(offered).await.map_err(task_error)?;
    let mut tpl = TopicPartitionList::new();
    let mut changed = Vec::new();
    for (tp, o) in safe {
        if state.assigned.contains(&tp) && state.committed.get(&tp) != Some(&o) {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(o))?;
            changed.push((tp, o));
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let c = consumer(state);
    let started = std::time::Instant::now();
    match blocking(move || c.commit(&tpl, CommitMode::Sync)).await? {
        Ok(()) => {
            tracing::debug!(partitions = changed.len(), "committed sink offsets");
            state.committed.extend(changed);
            state.metrics.commit_success.increment(1);
            state.metrics.commit_time.record(started.elapsed());
        }
        // Not fatal, as in Connect: the next commit covers these offsets too.
        Err(e) => {
            state.metrics.commit_failure.increment(1);
            tracing::warn!("offset commit failed: {e}");
        }
    }
    Ok(())
}

async fn stop(state: &mut SinkTaskState) {
    // Nothing more is read (the stage closes the transforms); what was read ahead and not put
    // is read again by the next owner, from the committed offsets.
    if let Some(f) = state.fetch.as_mut() {
        f.stop().await;
    }
    if state.consumer.is_some() {
        if let Err(e) = commit(state).await {
            tracing::warn!("final offset commit failed: {e}");
        }
        let owned: Vec<_> = state.assigned.iter().cloned().collect();
        if let Err(e) = state.task.close(&owned).await {
            tracing::warn!("closing partitions failed: {e}");
        }
    }
    if let Err(e) = state.task.stop().await {
        tracing::warn!("sink task stop failed: {e}");
    }
    // The stage never started (its transforms are closed with it otherwise).
    if let Some(t) = state.transforms.as_mut() {
        t.chain.close();
    }
    tracing::info!("sink task stopped");
}

#[cfg(test)]
mod tests {
    use super::{advance_offsets, advance_past_skipped, partition_owner, TopicNames};
    use kconnect_connectors::api::SinkOffsets;
    use kconnect_connectors::data::Value;
    use kconnect_connectors::record::{SinkRecord, TimestampType, TopicPartition};
    use std::sync::Arc;

    fn record(topic: &Arc<str>, partition: i32, offset: i64) -> SinkRecord {
        SinkRecord {
            topic: topic.clone(),
            partition,
            offset,
            timestamp: None,
            timestamp_type: TimestampType::CreateTime,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value: Value::Null,
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_put_batch_advances_each_partition_to_its_last_record_plus_one() {
        let (a, b) = (Arc::<str>::from("a"), Arc::<str>::from("b"));
        // Runs of partitions, a partition seen again after another, a topic equal by name only.
        let batch = [
            record(&a, 0, 5),
            record(&a, 0, 6),
            record(&a, 1, 0),
            record(&b, 0, 10),
            record(&a, 0, 7),
            record(&Arc::from("b"), 0, 11),
        ];
        let mut current = SinkOffsets::new();
        current.insert(TopicPartition::new("c", 0), 3);
        advance_offsets(&mut current, &batch);
        let expected: SinkOffsets = [
            (TopicPartition::new("a", 0), 8),
            (TopicPartition::new("a", 1), 1),
            (TopicPartition::new("b", 0), 12),
            (TopicPartition::new("c", 0), 3),
        ]
        .into_iter()
        .collect();
        assert_eq!(current, expected);
    }

    #[test]
    fn skipped_records_move_their_partitions_forward_never_back() {
        let (a, b) = (Arc::<str>::from("a"), Arc::<str>::from("b"));
        let mut current = SinkOffsets::new();
        // The batch put went past the skipped record of a-0; b-1 had nothing else.
        current.insert(TopicPartition::new("a", 0), 9);
        let mut skipped = vec![(a.clone(), 0, 4), (b.clone(), 1, 6), (b, 1, 7)];
        advance_past_skipped(&mut current, &mut skipped);
        assert!(skipped.is_empty());
        let expected: SinkOffsets = [
            (TopicPartition::new("a", 0), 9),
            (TopicPartition::new("b", 1), 8),
        ]
        .into_iter()
        .collect();
        assert_eq!(current, expected);
    }

    #[test]
    fn records_of_a_topic_share_one_name() {
        let mut names = TopicNames::default();
        let first = names.get("orders");
        let other = names.get("payments");
        assert!(Arc::ptr_eq(&first, &names.get("orders")));
        assert!(Arc::ptr_eq(&other, &names.get("payments")));
        assert_eq!(&*first, "orders");
    }

    #[test]
    fn four_partitions_over_four_tasks_one_each() {
        let mut owners: Vec<u32> = (0..4).map(|p| partition_owner("orders", p, 4)).collect();
        owners.sort();
        assert_eq!(owners, vec![0, 1, 2, 3]);
    }

    #[test]
    fn adding_partitions_never_moves_existing_ones() {
        let before: Vec<u32> = (0..4).map(|p| partition_owner("t", p, 3)).collect();
        let after: Vec<u32> = (0..8).map(|p| partition_owner("t", p, 3)).collect();
        assert_eq!(&after[..4], &before[..]);
    }

    #[test]
    fn one_task_owns_everything() {
        assert!((0..16).all(|p| partition_owner("x", p, 1) == 0));
    }
}
