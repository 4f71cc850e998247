//! `SinkTaskActor`: consume → convert → transform → `put` → `pre_commit` → commit what the task
//! flushed.
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

use futures::{FutureExt, StreamExt};
use kconnect_connectors::api::{Props, SinkOffsets, SinkTask, SinkTaskContext, TaskInstance};
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
use super::faults::FaultInjector;
use super::missing_topics::{waiting_message, Change, MissingTopics};
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
/// How long one poll waits for the first record before handling other messages.
const POLL_WAIT: Duration = Duration::from_millis(200);
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
    Poll,
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
    consumer: Option<Arc<StreamConsumer<KafkaClientContext>>>,
    /// Counts the consumer in the worker's live clients; declared after it, so dropped after it.
    live_consumer: Option<LiveClient>,
    converters: Option<TaskConverters>,
    /// The connector's transforms; `None` when it has none (records then skip this step).
    transforms: Option<SinkTransforms>,
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
    /// The batch being delivered: filled by `fetch`, lent to `put`, cleared once `put`
    /// accepted it (kept, capacity and all, for the next), kept as it is when `put` refused it
    /// with a retriable error, to hand it again.
    batch: Vec<SinkRecord>,
    topic_names: TopicNames,
    faults: Option<FaultInjector>,
    metrics: TaskMetrics,
    paused: bool,
    started: bool,
    timers: Vec<JoinHandle<()>>,
    stopping: bool,
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
            live_consumer: None,
            converters: None,
            transforms: None,
            topics,
            missing_topics: MissingTopics::default(),
            reset_allowed: false,
            embedded_cluster: None,
            max_poll_records: DEFAULT_MAX_POLL_RECORDS,
            assigned: BTreeSet::new(),
            current: SinkOffsets::new(),
            committed: SinkOffsets::new(),
            batch: Vec::new(),
            topic_names: TopicNames::default(),
            faults,
            metrics,
            paused: args.paused,
            started: false,
            timers: Vec::new(),
            stopping: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        if state.stopping {
            if let SinkTaskMsg::Stop(reply) = msg {
                let _ = reply.send(());
            }
            return Ok(());
        }
        match msg {
            SinkTaskMsg::Start => {
                start(state).instrument(span.clone()).await?;
                refresh_assignment(state).instrument(span).await?;
                let every = state.worker.config.offset_flush_interval;
                state
                    .timers
                    .push(myself.send_interval(every, || SinkTaskMsg::Commit));
                state.timers.push(
                    myself.send_interval(METADATA_REFRESH, || SinkTaskMsg::RefreshAssignment),
                );
                state.started = true;
                if !state.paused {
                    myself.send_message(SinkTaskMsg::Poll)?;
                }
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
                    started: state.started,
                };
                let resume = super::apply_pause(who, &mut state.paused, paused);
                if state.started && !state.missing_topics.is_empty() {
                    // apply_pause cleared the trace; the task still waits for its topics.
                    set_running_status(state);
                }
                if resume {
                    myself.send_message(SinkTaskMsg::Poll)?;
                }
            }
            SinkTaskMsg::Poll if state.paused => {}
            SinkTaskMsg::Poll => {
                poll_once(state).instrument(span).await?;
                myself.send_message(SinkTaskMsg::Poll)?;
            }
            SinkTaskMsg::Commit => commit(state).instrument(span).await?,
            SinkTaskMsg::RefreshAssignment => refresh_assignment(state).instrument(span).await?,
            SinkTaskMsg::Stop(reply) => {
                state.stopping = true;
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
    state.consumer = Some(Arc::new(consumer));
    state.live_consumer = Some(state.worker.live_clients.register());
    state.converters = Some(TaskConverters::new(&worker.config, &state.connector)?);
    state.transforms = transform::build(&worker.plugins, &state.connector)
        .map_err(task_error)?
        .map(SinkTransforms::new);
    state
        .task
        .start(state.ctx.clone(), &state.task_props)
        .await
        .map_err(task_error)?;
    worker.status.set_task(
        name,
        state.task_id,
        State::running(state.paused),
        None,
        state.restarts,
    );
    tracing::info!("sink task started");
    Ok(())
}

fn consumer(state: &SinkTaskState) -> Arc<StreamConsumer<KafkaClientContext>> {
    state.consumer.clone().expect("consumer created at start")
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
            state.batch.retain(|r| {
                !removed
                    .iter()
                    .any(|tp| tp.partition == r.partition && tp.topic == *r.topic)
            });
        }
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
    if !removed.is_empty() || !added.is_empty() {
        state.ctx.set_assignment(state.assigned.clone());
    }
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
        name,
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

async fn poll_once(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    // Requests made in start, open or the last put (a rewind, say) apply before the next fetch.
    apply_requests(state).await?;
    // A batch still held was refused with a retriable error: it is handed again as it was.
    if state.batch.is_empty() {
        fetch(state).await?;
    }
    if state.batch.is_empty() {
        // The transforms may have dropped every record fetched: consumed all the same.
        if let Some(t) = state.transforms.as_mut() {
            t.advance(&mut state.current);
        }
        return Ok(());
    }
    let injected = match state.faults.as_mut() {
        Some(f) => f.before_call(true).await,
        None => Ok(()),
    };
    let n = state.batch.len();
    state.metrics.batch_size.record(n as f64);
    let started = std::time::Instant::now();
    // An injected fault takes the place of the put's own result, retriable ones included.
    let result = match injected {
        Ok(()) => state.task.put(&state.batch).await,
        Err(e) => Err(e),
    };
    state.metrics.batch_time.record(started.elapsed());
    match result {
        Ok(()) => {
            state.metrics.records_out.increment(n as u64);
            match state.transforms.as_mut() {
                None => advance_offsets(&mut state.current, &state.batch),
                // Past the records as consumed, those the transforms dropped or moved included.
                Some(t) => t.advance(&mut state.current),
            }
            // Cleared, not dropped: the next batch reuses the allocation.
            state.batch.clear();
            if let Some(f) = state.faults.as_mut() {
                f.after_records(n).map_err(task_error)?;
            }
        }
        Err(ConnectError::Retriable(why)) => {
            let wait = state.ctx.take_timeout().unwrap_or(100);
            tracing::warn!("put failed, retrying in {wait} ms: {why}");
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        Err(e) => return Err(task_error(e)),
    }
    Ok(())
}

/// Records that `put` accepted `batch`: each partition's next offset is written once per batch,
/// not once per record (a partition's records arrive in offset order, usually one run each).
fn advance_offsets(current: &mut SinkOffsets, batch: &[SinkRecord]) {
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

/// Reads up to max.poll.records records into `state.batch`, waiting at most POLL_WAIT for the
/// first; the rest are what librdkafka already fetched (it fetches ahead on its own threads
/// while `put` runs), taken without waiting.
async fn fetch(state: &mut SinkTaskState) -> Result<(), ActorProcessingErr> {
    if state.assigned.is_empty() {
        tokio::time::sleep(POLL_WAIT).await;
        return Ok(());
    }
    let c = consumer(state);
    // One stream for the whole batch: each `recv()` would register (and drop) a waker slot
    // under the consumer's lock for every record.
    let mut stream = c.stream();
    let first = match tokio::time::timeout(POLL_WAIT, stream.next()).await {
        Err(_) => return Ok(()),
        Ok(r) => r,
    };
    let mut received = 0u64;
    let mut next = first;
    while let Some(r) = next.take() {
        match r {
            Ok(m) => match convert(state, &m) {
                Ok(rec) => {
                    received += 1;
                    match state.transforms.as_mut() {
                        None => state.batch.extend(rec),
                        Some(t) => {
                            let kept = match rec {
                                Some(rec) => t.apply(&state.connector, rec),
                                None => {
                                    let topic = state.topic_names.get(m.topic());
                                    t.skipped(&topic, m.partition(), m.offset());
                                    Ok(None)
                                }
                            };
                            match kept {
                                Ok(kept) => state.batch.extend(kept),
                                Err(e) => {
                                    state.metrics.records_in.increment(received);
                                    return Err(e);
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    state.metrics.records_in.increment(received);
                    return Err(e);
                }
            },
            Err(e) => {
                state.metrics.records_in.increment(received);
                let wanted = state
                    .assigned
                    .iter()
                    .map(|tp| (tp.clone(), state.current.get(tp).copied().unwrap_or(0)))
                    .collect();
                return Err(consumer_error(c.clone(), wanted, e).await);
            }
        }
        if state.batch.len() >= state.max_poll_records {
            break;
        }
        // Whatever is queued already; never waits (the stream never ends).
        next = stream.next().now_or_never().flatten();
    }
    state.metrics.records_in.increment(received);
    Ok(())
}

/// Topic names shared by the records of a topic: one allocation per topic, not per record.
#[derive(Default)]
struct TopicNames {
    names: Vec<Arc<str>>,
    /// The last name handed out: records come in runs of one partition.
    last: usize,
}

impl TopicNames {
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

fn convert(
    state: &mut SinkTaskState,
    m: &BorrowedMessage<'_>,
) -> Result<Option<SinkRecord>, ActorProcessingErr> {
    let injected = state.faults.as_mut().is_some_and(|f| f.converter_fails());
    let conv = state.converters.as_ref().expect("started");
    let topic = m.topic();
    let converted = if injected {
        Err(ConnectError::data("injected fault: conversion failure"))
    } else {
        conv.key.to_connect(topic, m.key()).and_then(|k| {
            conv.value.to_connect(topic, m.payload()).and_then(|v| {
                conv.headers_from_kafka(topic, m.headers())
                    .map(|h| (k, v, h))
            })
        })
    };
    let (key, value, headers) = match converted {
        Ok(kv) => kv,
        Err(e) => {
            let at = format!("{topic}-{} at offset {}", m.partition(), m.offset());
            if state.connector.errors_tolerance_all {
                tracing::warn!(
                    "skipping the record in {at}: it failed conversion (errors.tolerance=all): {e}"
                );
                return Ok(None);
            }
            return Err(format!("cannot convert the record in {at}: {e}").into());
        }
    };
    let (timestamp, timestamp_type) = match m.timestamp() {
        Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
    };
    Ok(Some(SinkRecord {
        topic: state.topic_names.get(topic),
        partition: m.partition(),
        offset: m.offset(),
        timestamp,
        timestamp_type,
        key_schema: key.schema,
        key: key.value,
        value_schema: value.schema,
        value: value.value,
        headers,
    }))
}

/// For each partition, the next offset this task needs: those below the broker's earliest
/// offset were dropped before the task read them.
async fn find_dropped(
    consumer: Arc<StreamConsumer<KafkaClientContext>>,
    wanted: Vec<(TopicPartition, i64)>,
) -> Result<Vec<String>, ActorProcessingErr> {
    let mut lost = Vec::new();
    for (tp, want) in wanted {
        let c = consumer.clone();
        let (t, p) = (tp.topic.clone(), tp.partition);
        let (low, _high) = blocking(move || c.fetch_watermarks(&t, p, CLIENT_TIMEOUT)).await??;
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
    consumer: Arc<StreamConsumer<KafkaClientContext>>,
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
    for (tp, offset) in &req.offset_resets {
        if state.assigned.contains(tp) {
            let (t, p, o) = (tp.topic.clone(), tp.partition, *offset);
            let c2 = c.clone();
            blocking(move || c2.seek(&t, p, Offset::Offset(o), CLIENT_TIMEOUT)).await??;
            state.current.insert(tp.clone(), *offset);
        }
    }
    let owned = |s: &BTreeSet<TopicPartition>| -> Vec<TopicPartition> {
        s.iter()
            .filter(|tp| state.assigned.contains(tp))
            .cloned()
            .collect()
    };
    let pause = owned(&req.pause);
    if !pause.is_empty() {
        c.pause(&tpl_of(&pause))?;
    }
    let resume = owned(&req.resume);
    if !resume.is_empty() {
        c.resume(&tpl_of(&resume))?;
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
    if let Some(t) = state.transforms.as_mut() {
        t.chain.close();
    }
    tracing::info!("sink task stopped");
}

#[cfg(test)]
mod tests {
    use super::{advance_offsets, partition_owner, TopicNames};
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
