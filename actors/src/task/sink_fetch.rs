//! The sink task's fetch stage: reads and converts the next batch while the task's actor runs
//! `put` on the current one, so the consumer's queue is drained and the records converted
//! while the plugin works, and the actor's mailbox never waits on the broker.
//!
//! The stage is a tokio task beside the actor, owning the consumer's message stream, the
//! task's converters, its transforms and everything else they need ([`FetchState`]): errors
//! met converting or transforming a record (their retries, `errors.tolerance`, the dead letter
//! queue) are handled here too, off the actor's mailbox. It hands each
//! batch (up to `max.poll.records` records: the first awaited, the rest whatever librdkafka
//! already queued) to the actor as a message, and reads ahead only while it holds a credit:
//! [`BATCHES_AHEAD`] batches beyond the one being `put`, so a slow plugin holds back the stage
//! (and librdkafka's queue, bounded by `queued.min.messages`, holds back fetching).
//!
//! Who owns what: the stage owns reading, the actor owns positions. The actor changes the
//! consumer's assignment or seeks only while the stage is [`FetchStage::hold`]ed between two
//! batches, and the stage reads on in a new *generation*; [`super::sink_ahead`] drops the
//! records of those partitions read in an earlier one. Offsets are still only advanced by what
//! `put` accepted, in the actor.

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kconnect_connectors::api::SinkOffsets;
use kconnect_connectors::record::SinkRecord;
use metrics::Counter;
use ractor::{ActorProcessingErr, ActorRef};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::convert::TaskConverters;
use super::errors::errant::BatchOrigins;
use super::errors::record::ConsumedMessage;
use super::errors::ErrorHandler;
use super::faults::FaultInjector;
use super::sink::{
    advance_offsets, advance_past_skipped, convert, SinkConsumer, SinkTaskMsg, TopicNames,
};
use super::sink_ahead::{Fetched, Ready};
use super::transform::SinkTransforms;

/// Batches read ahead of the one `put` is working on.
pub const BATCHES_AHEAD: usize = 1;

/// Why the stage stopped reading.
#[derive(Debug)]
pub enum FetchError {
    /// A record failed conversion or a transform, beyond what `errors.tolerance` allows.
    Convert(ActorProcessingErr),
    /// The consumer reported an error.
    Consumer(KafkaError),
}

/// What the stage converts and transforms with; `convert` reads these fields.
pub struct FetchState {
    pub converters: Arc<TaskConverters>,
    /// The connector's transforms; `None` when it has none. Closed when the stage ends.
    pub transforms: Option<SinkTransforms>,
    /// What becomes of a record an operation fails on.
    pub errors: ErrorHandler,
    /// With an errant record reporter: a batch's origins are kept, bytes and all when `true`
    /// (a dead letter queue needs them).
    pub origins: Option<bool>,
    /// Only its converter faults are consulted here (the actor has its own injector for the
    /// rest), counted per record converted, as before the stage.
    pub faults: Option<FaultInjector>,
    pub topic_names: TopicNames,
    pub consumer: Arc<SinkConsumer>,
    pub max_poll_records: usize,
    pub records_in: Counter,
}

impl Drop for FetchState {
    fn drop(&mut self) {
        if let Some(t) = self.transforms.as_mut() {
            t.chain.close();
        }
    }
}

/// A request to stop between batches until released.
struct Hold {
    /// Answered with the generation of the batches read so far.
    held: oneshot::Sender<u64>,
    /// Dropped (or sent) to release the stage.
    release: oneshot::Receiver<()>,
}

/// The stage held between batches: it reads nothing until this is dropped, and then reads
/// generation [`Held::fresh`] on.
pub struct Held {
    pub fresh: u64,
    _release: oneshot::Sender<()>,
}

/// The actor's handle on its fetch stage. Dropping it ends the stage.
pub struct FetchStage {
    holds: mpsc::UnboundedSender<Hold>,
    spare: mpsc::Sender<(Vec<SinkRecord>, BatchOrigins)>,
    task: Option<JoinHandle<()>>,
    /// The generation the stage reads after the last hold.
    generation: u64,
}

impl FetchStage {
    /// Starts reading: batches go to `to` as [`SinkTaskMsg::Fetched`].
    pub fn spawn(state: FetchState, to: ActorRef<SinkTaskMsg>, span: tracing::Span) -> Self {
        let (holds, hold_rx) = mpsc::unbounded_channel();
        let (spare, spare_rx) = mpsc::channel(BATCHES_AHEAD + 1);
        let task = tokio::spawn(run(state, to, hold_rx, spare_rx).instrument(span));
        FetchStage {
            holds,
            spare,
            task: Some(task),
            generation: 0,
        }
    }

    /// Stops the stage between two batches (waiting at most for the conversion of the batch it
    /// is reading) until the answer is dropped.
    pub async fn hold(&mut self) -> Held {
        let (held, held_rx) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        let asked = self.holds.send(Hold {
            held,
            release: release_rx,
        });
        // A stage that ended reads nothing more: any newer generation will do.
        let current = match asked {
            Ok(()) => held_rx.await.unwrap_or(self.generation),
            Err(_) => self.generation,
        };
        self.generation = current.max(self.generation) + 1;
        Held {
            fresh: self.generation,
            _release: release,
        }
    }

    /// Hands back a batch `put` is done with: the stage converts the next records into its
    /// records' buffers (and reuses its allocations and its origins' buffers).
    pub fn give_back(&self, records: Vec<SinkRecord>, origins: BatchOrigins) {
        let _ = self.spare.try_send((records, origins));
    }

    /// Ends the stage and waits until it has dropped its clients' handles.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FetchStage {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(
    mut state: FetchState,
    to: ActorRef<SinkTaskMsg>,
    mut holds: mpsc::UnboundedReceiver<Hold>,
    mut spare: mpsc::Receiver<(Vec<SinkRecord>, BatchOrigins)>,
) {
    let credits = Arc::new(Semaphore::new(BATCHES_AHEAD + 1));
    let consumer = state.consumer.clone();
    // One stream for the stage's life: each `recv()` would register (and drop) a waker slot
    // under the consumer's lock for every record.
    let mut stream = consumer.stream();
    let mut generation = 0u64;
    loop {
        // A credit, then the first record; a hold is served while waiting for either.
        let credit = tokio::select! {
            biased;
            h = holds.recv() => match h {
                Some(h) => { serve(h, &mut generation).await; continue; }
                None => return,
            },
            c = credits.clone().acquire_owned() => match c {
                Ok(c) => c,
                Err(_) => return,
            },
        };
        let first = loop {
            tokio::select! {
                biased;
                h = holds.recv() => match h {
                    Some(h) => serve(h, &mut generation).await,
                    None => return,
                },
                m = stream.next() => match m {
                    Some(m) => break m,
                    // The stream never ends while the consumer lives.
                    None => return,
                },
            }
        };
        // A batch `put` is done with: each record is converted into the buffers of the one at
        // its place, then replaces it.
        let (mut records, mut origins) = spare.try_recv().unwrap_or_else(|_| {
            let records = Vec::with_capacity(state.max_poll_records);
            (records, BatchOrigins::new(state.origins == Some(true)))
        });
        origins.clear();
        // Records fetched and skipped (failed, tolerated) without transforms; with transforms,
        // `SinkTransforms` keeps what was consumed.
        let mut skipped = Vec::new();
        let mut filled = 0;
        let mut received = 0u64;
        let mut next = Some(first);
        let mut failed = None;
        while let Some(r) = next.take() {
            match r {
                Ok(m) => match convert(&mut state, &m, &mut records, filled).await {
                    Ok(converted) => {
                        received += 1;
                        // Whether `records[filled]` now holds a record for `put`.
                        let kept = match (state.transforms.as_mut(), converted) {
                            (None, true) => true,
                            (None, false) => {
                                let topic = state.topic_names.of(&m);
                                skipped.push((topic, m.partition(), m.offset()));
                                false
                            }
                            (Some(t), true) => {
                                // The transforms take the record; what they keep goes back in
                                // its place (the spare record there moves to the end).
                                let rec = records.swap_remove(filled);
                                match t.apply(&state.errors, &ConsumedMessage(&m), rec).await {
                                    Ok(Some(rec)) => {
                                        records.push(rec);
                                        let last = records.len() - 1;
                                        records.swap(filled, last);
                                        true
                                    }
                                    Ok(None) => false,
                                    Err(e) => {
                                        failed = Some(FetchError::Convert(e.into()));
                                        break;
                                    }
                                }
                            }
                            (Some(t), false) => {
                                let topic = state.topic_names.of(&m);
                                t.skipped(&topic, m.partition(), m.offset());
                                false
                            }
                        };
                        if kept {
                            if state.origins.is_some() {
                                let topic = state.topic_names.of(&m);
                                origins.push(&m, &topic);
                            }
                            filled += 1;
                        }
                    }
                    Err(e) => {
                        failed = Some(FetchError::Convert(e));
                        break;
                    }
                },
                Err(e) => {
                    failed = Some(FetchError::Consumer(e));
                    break;
                }
            }
            if filled >= state.max_poll_records {
                break;
            }
            // Whatever is queued already; never waits (the stream never ends).
            next = stream.next().now_or_never().flatten();
        }
        records.truncate(filled);
        state.records_in.increment(received);
        // The records before a failure are dropped with it (the task fails, and its restart
        // reads them again from the committed offsets), as before the stage.
        let ready = match failed {
            Some(e) => Ready::Failed(e),
            None => {
                // Past everything consumed, the records dropped or skipped included.
                let mut consumed = SinkOffsets::new();
                match state.transforms.as_mut() {
                    Some(t) => t.advance(&mut consumed),
                    None => {
                        advance_offsets(&mut consumed, &records);
                        advance_past_skipped(&mut consumed, &mut skipped);
                    }
                }
                Ready::Batch(Fetched {
                    generation,
                    records,
                    origins,
                    consumed,
                    credit: Some(credit),
                })
            }
        };
        let stop = matches!(ready, Ready::Failed(_));
        if to.send_message(SinkTaskMsg::Fetched(ready)).is_err() || stop {
            return;
        }
    }
}

/// Answers a hold with the current generation and waits for its release.
async fn serve(h: Hold, generation: &mut u64) {
    if h.held.send(*generation).is_ok() {
        let _ = h.release.await;
    }
    *generation += 1;
}
