//! `SourceTaskActor`: poll → convert → produce, one poll per message so that stop and commit
//! requests interleave with the data flow. Offsets are committed by the task's
//! [`OffsetCommitter`](super::committer::OffsetCommitter) once the broker acknowledged them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kconnect_connectors::api::{Props, SourceTask, SourceTaskContext, TaskInstance};
use kconnect_connectors::record::{RecordMetadata, SourceRecord};
use kconnect_connectors::ConnectError;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::broker_health::KafkaClientContext;
use tokio::sync::Notify;
use tracing::Instrument;

use super::convert::{header_bytes, TaskConverters};
use super::faults::FaultInjector;
use super::submitted::{SubmittedRecords, SubmittedToken};
use super::{task_span, TaskArgs};
use crate::config::client_props;
use crate::context::{LiveClient, WorkerContext};
use crate::metrics::TaskMetrics;
use crate::status::State;
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

/// The producer's callbacks: acknowledgements go straight into the task's submitted records.
pub struct SourceProducerContext {
    submitted: Arc<Mutex<SubmittedRecords>>,
    delivered: Arc<Notify>,
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
    type DeliveryOpaque = Box<SubmittedToken>;

    fn delivery(&self, result: &DeliveryResult<'_>, token: Box<SubmittedToken>) {
        {
            let mut s = self.submitted.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(m) => s.acked(
                    &token,
                    RecordMetadata {
                        topic: m.topic().to_string(),
                        partition: m.partition(),
                        offset: m.offset(),
                    },
                ),
                Err((e, m)) => s.failed(format!(
                    "the producer could not deliver a record to {}-{}: {e}",
                    m.topic(),
                    m.partition()
                )),
            }
        }
        self.delivered.notify_one();
    }
}

/// Drops its value on a thread of its own. rdkafka's `ThreadedProducer` joins its polling
/// thread on drop, which takes up to that thread's 100 ms poll timeout: done inline, it would
/// delay every restart of a failed task (the state is dropped before the supervisor hears).
/// The client stays counted in the worker's live clients until it is actually closed.
pub struct OffThreadDrop<T: Send + 'static>(Option<(T, LiveClient)>);

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

pub struct SourceTaskState {
    worker: Arc<WorkerContext>,
    connector: Arc<crate::config::ConnectorConfig>,
    task_id: u32,
    task_props: Props,
    restarts: u32,
    span: tracing::Span,
    task: Box<dyn SourceTask>,
    producer: Option<OffThreadDrop<ThreadedProducer<SourceProducerContext>>>,
    converters: Option<TaskConverters>,
    submitted: Arc<Mutex<SubmittedRecords>>,
    delivered: Arc<Notify>,
    /// Topics this task produced to (or created) already: each is checked once.
    known_topics: HashSet<String>,
    /// The connector's topic creation groups, when the worker allows topic creation.
    topic_creation: Option<TopicCreation>,
    /// Who creates the task's topics: the embedded broker's mock API, CreateTopics on a real
    /// cluster when `topic_creation` is set, nobody otherwise (the broker's auto-creation).
    topic_admin: Option<Arc<dyn TopicAdmin>>,
    faults: Option<FaultInjector>,
    metrics: TaskMetrics,
    paused: bool,
    started: bool,
    stopping: bool,
}

impl SourceTaskState {
    fn lock(&self) -> std::sync::MutexGuard<'_, SubmittedRecords> {
        self.submitted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Actor for SourceTaskActor {
    type Msg = SourceTaskMsg;
    type State = SourceTaskState;
    type Arguments = (TaskArgs, Arc<Mutex<SubmittedRecords>>);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (args, submitted): Self::Arguments,
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
        Ok(SourceTaskState {
            span: task_span(&args.connector.name, args.task_id),
            worker: args.worker,
            connector: args.connector,
            task_id: args.task_id,
            task_props: args.task_props,
            restarts: args.restarts,
            task,
            producer: None,
            converters: None,
            submitted,
            delivered: Arc::new(Notify::new()),
            known_topics: HashSet::new(),
            topic_creation: None,
            topic_admin: None,
            faults,
            metrics,
            paused: args.paused,
            started: false,
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
        match msg {
            SourceTaskMsg::Start => {
                start(state).instrument(span).await?;
                state.started = true;
                if !state.paused {
                    myself.send_message(SourceTaskMsg::Poll)?;
                }
            }
            SourceTaskMsg::Inject(kind) => {
                super::faults::inject(&state.connector.name, state.task_id, kind)
                    .map_err(task_error)?
            }
            SourceTaskMsg::Pause(paused) => {
                let who = super::PauseArgs {
                    worker: &state.worker,
                    connector: &state.connector.name,
                    task: state.task_id,
                    restarts: state.restarts,
                    started: state.started && !state.stopping,
                };
                if super::apply_pause(who, &mut state.paused, paused) {
                    myself.send_message(SourceTaskMsg::Poll)?;
                }
            }
            SourceTaskMsg::Poll if !state.stopping && !state.paused => {
                poll_once(state).instrument(span).await?;
                myself.send_message(SourceTaskMsg::Poll)?;
            }
            SourceTaskMsg::Poll => {}
            SourceTaskMsg::OffsetsCommitted => {
                if !state.stopping {
                    state
                        .task
                        .commit()
                        .instrument(span)
                        .await
                        .map_err(task_error)?;
                }
            }
            SourceTaskMsg::Stop(reply) => {
                state.stopping = true;
                stop(state).instrument(span).await;
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

async fn start(state: &mut SourceTaskState) -> Result<(), ActorProcessingErr> {
    let worker = &state.worker;
    let conf = client_props(
        &worker.config,
        &state.connector,
        "producer",
        &worker.bootstrap_servers,
        &[
            // At-least-once in order: the broker acknowledges every replica, and retries never
            // reorder or duplicate within a partition.
            ("enable.idempotence", "true".into()),
            ("acks", "all".into()),
            (
                "client.id",
                format!(
                    "connector-producer-{}-{}",
                    state.connector.name, state.task_id
                ),
            ),
        ],
    );
    let mut cc = ClientConfig::new();
    for (k, v) in &conf {
        cc.set(k, v);
    }
    let producer = cc
        .create_with_context(SourceProducerContext {
            submitted: state.submitted.clone(),
            delivered: state.delivered.clone(),
            client: KafkaClientContext::new(worker.broker_health.clone()),
        })
        .map_err(|e| format!("cannot create the producer (check the producer.* keys): {e}"))?;
    let live = worker.live_clients.register();
    state.producer = Some(OffThreadDrop(Some((producer, live))));
    state.topic_creation = if worker.config.topic_creation_enable {
        TopicCreation::parse(&state.connector.props).map_err(|e| e.to_string())?
    } else {
        None
    };
    state.topic_admin = match (&worker.topic_admin, &state.topic_creation) {
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
    state.converters = Some(TaskConverters::new(&worker.config, &state.connector)?);
    let ctx = SourceTaskContext {
        offset_reader: worker.offsets.reader(&state.connector.name),
        task_id: state.task_id,
    };
    state
        .task
        .start(ctx, &state.task_props)
        .await
        .map_err(task_error)?;
    worker.status.set_task(
        &state.connector.name,
        state.task_id,
        State::running(state.paused),
        None,
        state.restarts,
    );
    tracing::info!("source task started");
    // Polling starts only after a successful start.
    Ok(())
}

async fn poll_once(state: &mut SourceTaskState) -> Result<(), ActorProcessingErr> {
    if let Some(e) = state.lock().error.clone() {
        return Err(e.into());
    }
    let acked = state.lock().take_acked();
    for (record, md) in &acked {
        state
            .task
            .commit_record(record, Some(md))
            .await
            .map_err(task_error)?;
    }
    if let Some(f) = state.faults.as_mut() {
        f.before_call(false).await.map_err(task_error)?;
    }
    let started = std::time::Instant::now();
    let records = state.task.poll().await.map_err(task_error)?;
    state.metrics.records_in.increment(records.len() as u64);
    // As Connect's poll-batch-time: only polls that returned records (an idle poll's wait
    // says nothing about the plugin's speed).
    if !records.is_empty() {
        state.metrics.batch_time.record(started.elapsed());
        state.metrics.batch_size.record(records.len() as f64);
    }
    if let Some(f) = state.faults.as_mut() {
        f.after_records(records.len()).map_err(task_error)?;
    }
    for r in records {
        send(state, r).await?;
    }
    Ok(())
}

async fn send(state: &mut SourceTaskState, r: SourceRecord) -> Result<(), ActorProcessingErr> {
    if !state.known_topics.contains(&r.topic) {
        if let Some(admin) = &state.topic_admin {
            // Created as the first matching group says; without groups (only on the embedded
            // broker, which always gets its topics from the runtime) with the broker's defaults.
            let spec = match &state.topic_creation {
                Some(tc) => tc.new_topic(&r.topic),
                None => NewTopicSpec::broker_defaults(&r.topic),
            };
            admin.create_topic(&spec).await.map_err(|e| e.to_string())?;
        }
        state
            .worker
            .status
            .topic_used(&state.connector.name, state.task_id, &r.topic);
        state.known_topics.insert(r.topic.clone());
    }
    let injected = state.faults.as_mut().is_some_and(|f| f.converter_fails());
    let conv = state.converters.as_ref().expect("started");
    let converted = if injected {
        Err(ConnectError::data("injected fault: conversion failure"))
    } else {
        conv.key
            .from_connect(&r.topic, r.key_schema.as_ref(), &r.key)
            .and_then(|k| {
                conv.value
                    .from_connect(&r.topic, r.value_schema.as_ref(), &r.value)
                    .map(|v| (k, v))
            })
    };
    let (key, value) = match converted {
        Ok(kv) => kv,
        Err(e) if state.connector.errors_tolerance_all => {
            tracing::warn!(topic = %r.topic, offset = ?r.source_offset, "skipping a record that failed conversion (errors.tolerance=all): {e}");
            state
                .task
                .commit_record(&r, None)
                .await
                .map_err(task_error)?;
            let token = state.lock().submit(r);
            state.lock().skipped(&token);
            return Ok(());
        }
        Err(e) => {
            return Err(format!(
                "cannot convert the record for topic {} at source offset {}: {e}",
                r.topic,
                serde_json::Value::Object(r.source_offset.clone())
            )
            .into())
        }
    };
    let mut headers = None;
    if !r.headers.is_empty() {
        let mut h = OwnedHeaders::new_with_capacity(r.headers.len());
        for hd in &r.headers {
            let bytes = header_bytes(&hd.value);
            h = h.insert(Header {
                key: &hd.key,
                value: bytes.as_deref(),
            });
        }
        headers = Some(h);
    }
    let topic = r.topic.clone();
    let (partition, timestamp) = (r.partition, r.timestamp);
    let token = state.lock().submit(r);
    let mut rec = BaseRecord::with_opaque_to(&topic, Box::new(token));
    if let Some(k) = key.as_deref() {
        rec = rec.key(k);
    }
    if let Some(v) = value.as_deref() {
        rec = rec.payload(v);
    }
    if let Some(p) = partition {
        rec = rec.partition(p);
    }
    if let Some(t) = timestamp {
        rec = rec.timestamp(t);
    }
    if let Some(h) = headers {
        rec = rec.headers(h);
    }
    let producer = state.producer.as_ref().expect("started");
    loop {
        match producer.send(rec) {
            Ok(()) => {
                state.metrics.records_out.increment(1);
                return Ok(());
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                // The local queue is full: wait for acknowledgements to make room.
                rec = back;
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), state.delivered.notified())
                        .await;
                if let Some(e) = state.lock().error.clone() {
                    return Err(e.into());
                }
            }
            Err((e, _)) => return Err(format!("cannot produce to topic {topic}: {e}").into()),
        }
    }
}

/// Waits for in-flight records (up to offset.flush.timeout.ms), then stops the plugin task.
async fn stop(state: &mut SourceTaskState) {
    let deadline = Instant::now() + state.worker.config.offset_flush_timeout;
    if let Some(p) = &state.producer {
        // Hand lingering batches to the broker now rather than after linger.ms.
        let _ = p.flush(Duration::ZERO);
    }
    loop {
        let in_flight = state.lock().in_flight();
        if in_flight == 0 || state.producer.is_none() {
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
        let _ = tokio::time::timeout(
            left.min(Duration::from_millis(50)),
            state.delivered.notified(),
        )
        .await;
    }
    let acked = state.lock().take_acked();
    for (record, md) in &acked {
        if let Err(e) = state.task.commit_record(record, Some(md)).await {
            tracing::warn!("commit_record failed while stopping: {e}");
            break;
        }
    }
    if let Err(e) = state.task.stop().await {
        tracing::warn!("source task stop failed: {e}");
    }
    tracing::info!("source task stopped");
}
