//! Acknowledgements of a source task's records, counted per run rather than tracked per record.
//!
//! A *run* is a stretch of consecutive records of one poll from one source partition: a whole
//! [`SourceBatch`](kconnect_connectors::record::SourceBatch), or consecutive records of `poll`
//! with equal source partitions. It commits one offset, the one after its last record, once the
//! broker acknowledged all its records and every run before it in that partition was committed.
//!
//! Who owns what, and why nothing is locked per record:
//! - the task actor makes each run's [`RunAcks`] and hands a clone (an `Arc`, no allocation) to
//!   librdkafka as each record's delivery opaque; it keeps a record after sending it only if the
//!   plugin wants `commit_record`;
//! - librdkafka's delivery thread only adds 1 to the run's counter and subtracts 1 from the
//!   task's [`DeliveryState::in_flight`] (atomics), or records the first delivery error;
//! - at the end of each poll the task sends the poll's runs ([`SubmittedRun`], with their final
//!   record counts and offsets) over a channel to its `OffsetCommitter`, which owns
//!   [`PendingOffsets`]: the runs of each partition in order and the committable offsets.
//!   Because the committer, not the task, holds them, the supervisor's final commit after a task
//!   crashed still writes every acknowledged offset.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kconnect_connectors::record::{OffsetMap, SourcePartition};
use tokio::sync::Notify;

/// What a task and its producer's delivery callback share.
#[derive(Default)]
pub struct DeliveryState {
    /// Records handed to the producer and not yet called back.
    in_flight: AtomicUsize,
    /// The first delivery failure, which fails the task.
    error: OnceLock<String>,
    /// Whether the task waits for a callback (on a full queue, or for the last records): only
    /// then does a callback wake it, so a callback costs no store to a line the task reads.
    waiting: AtomicBool,
    delivered: Notify,
}

impl DeliveryState {
    /// `n` records are about to be handed to the producer.
    pub fn sending(&self, n: usize) {
        self.in_flight.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` of the records announced by [`sending`](DeliveryState::sending) were not handed
    /// over after all (skipped, or refused): they will not be called back.
    pub fn not_sent(&self, n: usize) {
        self.in_flight.fetch_sub(n, Ordering::Relaxed);
    }

    /// The broker acknowledged a record of `run`, which landed at `partition` / `offset`.
    pub fn acked(&self, run: &RunAcks, partition: i32, offset: i64) {
        if let Some(l) = &run.landed {
            l.partition.store(partition, Ordering::Relaxed);
            l.offset.store(offset, Ordering::Relaxed);
        }
        run.acked.fetch_add(1, Ordering::Release);
        self.called_back();
    }

    /// A record could not be delivered: the task must fail and retry from committed offsets.
    pub fn failed(&self, error: String) {
        let _ = self.error.set(error);
        self.called_back();
    }

    fn called_back(&self) {
        // SeqCst with `wait`'s store and load: either the task sees this callback's count, or
        // this callback sees that the task waits.
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            self.delivered.notify_one();
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn error(&self) -> Option<&str> {
        self.error.get().map(String::as_str)
    }

    /// Waits (at most `timeout`) for the next callback, unless `done` already holds.
    pub async fn wait(&self, timeout: Duration, done: impl Fn(&Self) -> bool) {
        self.waiting.store(true, Ordering::SeqCst);
        // A callback between here and the await leaves a permit in `delivered`: not lost.
        if !done(self) {
            let _ = tokio::time::timeout(timeout, self.delivered.notified()).await;
        }
        self.waiting.store(false, Ordering::SeqCst);
    }
}

/// The acknowledgements of one run; each of its records carries a clone as delivery opaque.
#[derive(Debug, Default)]
pub struct RunAcks {
    /// Records of the run the broker acknowledged (or the task skipped on purpose).
    acked: AtomicUsize,
    /// Where the record landed, for a run of one record kept for `commit_record`.
    landed: Option<Landed>,
}

#[derive(Debug, Default)]
struct Landed {
    partition: AtomicI32,
    offset: AtomicI64,
}

impl RunAcks {
    pub fn new() -> Arc<RunAcks> {
        Arc::new(RunAcks::default())
    }

    /// A run of one record whose Kafka partition and offset the task wants to know.
    pub fn single() -> Arc<RunAcks> {
        Arc::new(RunAcks {
            acked: AtomicUsize::new(0),
            landed: Some(Landed::default()),
        })
    }

    /// A record of the run was dropped on purpose (errors.tolerance=all): it counts as done.
    pub fn skipped(&self) {
        self.acked.fetch_add(1, Ordering::Release);
    }

    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Acquire)
    }

    /// For a [`RunAcks::single`] run that was acknowledged: its Kafka partition and offset.
    pub fn landed(&self) -> Option<(i32, i64)> {
        let l = self.landed.as_ref()?;
        (self.acked() > 0).then(|| {
            (
                l.partition.load(Ordering::Relaxed),
                l.offset.load(Ordering::Relaxed),
            )
        })
    }
}

/// A run the task finished sending: what its committer needs to commit it.
#[derive(Debug)]
pub struct SubmittedRun {
    pub partition: SourcePartition,
    /// The source offset after the run's last record.
    pub offset: OffsetMap,
    /// How many records the run has (acknowledged or skipped, it is done).
    pub records: usize,
    pub acks: Arc<RunAcks>,
}

impl SubmittedRun {
    fn done(&self) -> bool {
        self.acks.acked() >= self.records
    }
}

struct PartitionRuns {
    partition: SourcePartition,
    runs: VecDeque<SubmittedRun>,
    /// The newest offset whose run, and every run before it, is done; not yet written.
    committable: Option<OffsetMap>,
}

/// The committer's view of its task's runs: in order per source partition, so that an offset
/// becomes committable only once every record up to it was acknowledged.
#[derive(Default)]
pub struct PendingOffsets {
    partitions: HashMap<Arc<str>, PartitionRuns>,
}

impl PendingOffsets {
    /// A run the task sent (runs arrive in the order the task sent them).
    pub fn add(&mut self, run: SubmittedRun) {
        self.entry(&run.partition).runs.push_back(run);
    }

    fn entry(&mut self, partition: &SourcePartition) -> &mut PartitionRuns {
        self.partitions
            .entry(partition.key().clone())
            .or_insert_with(|| PartitionRuns {
                partition: partition.clone(),
                runs: VecDeque::new(),
                committable: None,
            })
    }

    /// Runs not yet done.
    pub fn open_runs(&self) -> usize {
        self.partitions.values().map(|p| p.runs.len()).sum()
    }

    /// Takes the offsets that became committable since the last call.
    pub fn take_committable(&mut self) -> Vec<(SourcePartition, OffsetMap)> {
        let mut out = Vec::new();
        self.partitions.retain(|_, p| {
            while p.runs.front().is_some_and(SubmittedRun::done) {
                let run = p.runs.pop_front().expect("front exists");
                p.committable = Some(run.offset);
            }
            if let Some(o) = p.committable.take() {
                out.push((p.partition.clone(), o));
            }
            !p.runs.is_empty()
        });
        out
    }

    /// Puts back offsets taken by `take_committable` whose write failed, unless a newer offset
    /// became committable meanwhile.
    pub fn restore(&mut self, entries: Vec<(SourcePartition, OffsetMap)>) {
        for (partition, offset) in entries {
            let p = self.entry(&partition);
            if p.committable.is_none() {
                p.committable = Some(offset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn partition(file: &str) -> SourcePartition {
        SourcePartition::new(json!({ "filename": file }).as_object().unwrap().clone())
    }

    fn position(pos: i64) -> OffsetMap {
        json!({ "position": pos }).as_object().unwrap().clone()
    }

    fn run(p: &SourcePartition, pos: i64, records: usize) -> (SubmittedRun, Arc<RunAcks>) {
        let acks = RunAcks::new();
        let run = SubmittedRun {
            partition: p.clone(),
            offset: position(pos),
            records,
            acks: acks.clone(),
        };
        (run, acks)
    }

    fn ack(d: &DeliveryState, acks: &RunAcks, n: usize) {
        d.sending(n);
        for _ in 0..n {
            d.acked(acks, 0, 0);
        }
    }

    #[test]
    fn commits_only_runs_whose_every_record_and_every_earlier_run_was_acknowledged() {
        let d = DeliveryState::default();
        let f = partition("f");
        let mut s = PendingOffsets::default();
        let (a, a_acks) = run(&f, 10, 2);
        let (b, b_acks) = run(&f, 20, 3);
        s.add(a);
        s.add(b);
        ack(&d, &b_acks, 3);
        ack(&d, &a_acks, 1);
        // The first run still has a record in flight: nothing may be committed yet.
        assert!(s.take_committable().is_empty());
        ack(&d, &a_acks, 1);
        let got = s.take_committable();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1["position"], json!(20));
        assert_eq!(s.open_runs(), 0);
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn equal_partitions_made_separately_share_their_runs() {
        let mut s = PendingOffsets::default();
        let (a, a_acks) = run(&partition("f"), 10, 1);
        let (b, _b_acks) = run(&partition("f"), 20, 1);
        s.add(a);
        s.add(b);
        a_acks.skipped();
        assert_eq!(s.take_committable()[0].1["position"], json!(10));
        // The second run of the same partition is still open.
        assert_eq!(s.open_runs(), 1);
        assert!(s.take_committable().is_empty());
    }

    #[test]
    fn partitions_advance_independently() {
        let mut s = PendingOffsets::default();
        let (a, a_acks) = run(&partition("f1"), 10, 1);
        let (b, _b_acks) = run(&partition("f2"), 5, 1);
        s.add(a);
        s.add(b);
        a_acks.skipped();
        let got = s.take_committable();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0["filename"], json!("f1"));
        assert_eq!(s.open_runs(), 1);
    }

    #[test]
    fn offsets_whose_write_failed_are_committable_again() {
        let f = partition("f");
        let mut s = PendingOffsets::default();
        let (a, a_acks) = run(&f, 10, 1);
        s.add(a);
        a_acks.skipped();
        let taken = s.take_committable();
        assert!(s.take_committable().is_empty());
        s.restore(taken.clone());
        assert_eq!(s.take_committable(), taken);
        // A newer offset wins over a restored older one.
        let (b, b_acks) = run(&f, 20, 1);
        s.add(b);
        b_acks.skipped();
        s.restore(taken);
        assert_eq!(s.take_committable()[0].1["position"], json!(20));
    }

    #[test]
    fn the_first_failure_is_kept_and_a_single_run_knows_where_it_landed() {
        let d = DeliveryState::default();
        d.sending(2);
        d.failed("boom".into());
        d.failed("second".into());
        assert_eq!(d.error(), Some("boom"));
        assert_eq!(d.in_flight(), 0);

        let one = RunAcks::single();
        assert_eq!(one.landed(), None);
        d.sending(1);
        d.acked(&one, 3, 42);
        assert_eq!(one.landed(), Some((3, 42)));
    }

    /// A waiting task is woken by the callback it waits for, and does not wait at all when its
    /// condition already holds.
    #[tokio::test]
    async fn a_waiting_task_is_woken_by_the_next_callback() {
        let d = Arc::new(DeliveryState::default());
        let run = RunAcks::new();
        d.sending(1);
        let (d2, run2) = (d.clone(), run.clone());
        let acker = std::thread::spawn(move || {
            while !d2.waiting.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            d2.acked(&run2, 0, 0);
        });
        let started = std::time::Instant::now();
        d.wait(Duration::from_secs(30), |d| d.in_flight() == 0)
            .await;
        assert_eq!(d.in_flight(), 0);
        assert!(started.elapsed() < Duration::from_secs(20));
        acker.join().unwrap();
        // Already done: returns at once.
        let started = std::time::Instant::now();
        d.wait(Duration::from_secs(30), |d| d.in_flight() == 0)
            .await;
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
