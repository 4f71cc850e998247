//! The batches a sink task's fetch stage read ahead of `put`, and which of their records may
//! still be delivered once the task's partitions changed under them.
//!
//! The fetch stage ([`super::sink_fetch`]) reads and converts the next batch while the actor
//! runs `put` on the current one, so by the time a batch is delivered the task may have lost a
//! partition, sought one to another offset, or paused one. Its rules:
//!
//! - **Generations.** Each batch carries the generation the fetch stage read it in. The actor
//!   changes a partition's position (revocation, assignment, a seek the task asked for) only
//!   while the stage is held between batches ([`super::sink_fetch::FetchStage::hold`]); the
//!   stage reads the next batches in a new generation. A partition's records from a generation
//!   before its last change are stale: dropped, since the consumer reads that partition again
//!   from where the change put it (the committed offset of a new owner, the offset sought).
//! - **Paused partitions** (`SinkTaskContext::pause`): librdkafka resumes a paused partition
//!   after the last record it handed out, so records already read ahead for it are parked, not
//!   dropped, and delivered first when the task resumes the partition: no record skipped, none
//!   delivered while the partition is paused, each partition still in offset order.
//! - A failure of the stage (a conversion or consumer error) waits behind the batches read
//!   before it, so the records before the failing one are still delivered, as without the stage.
//!
//! Nothing here costs anything per record unless a partition changed: a batch read after the
//! last change, with no partition paused, is delivered as it came.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kconnect_connectors::record::{SinkRecord, TopicPartition};
use tokio::sync::OwnedSemaphorePermit;

/// A batch the fetch stage read and converted, in the generation it was read in.
#[derive(Debug)]
pub struct Fetched {
    pub generation: u64,
    pub records: Vec<SinkRecord>,
    /// The stage's credit for this batch: it reads ahead only while it holds one, and gets it
    /// back when the batch is dropped, however that happens (`put` accepted it, its records were
    /// all stale, the task stopped).
    pub credit: Option<OwnedSemaphorePermit>,
}

/// What the fetch stage hands the actor, in the order it read it.
#[derive(Debug)]
pub enum Ready<E> {
    Batch(Fetched),
    /// The stage stopped on this error; it reads nothing more.
    Failed(E),
}

/// What the next delivery is.
#[derive(Debug)]
pub enum Next<E> {
    Records(Fetched),
    Failed(E),
}

/// The fetched-ahead batches not delivered yet, and what changed since they were read.
#[derive(Debug)]
pub struct Ahead<E> {
    ready: VecDeque<Ready<E>>,
    /// For each partition whose position changed, the first generation read after the change.
    fresh_from: BTreeMap<TopicPartition, u64>,
    /// The largest value in `fresh_from`: a batch of this generation or later is all fresh.
    fresh_all: u64,
    /// The largest generation seen, of a batch or a change.
    generation: u64,
    paused: BTreeSet<TopicPartition>,
    /// Records of paused partitions, in the order they were read.
    parked: Vec<SinkRecord>,
}

impl<E> Default for Ahead<E> {
    fn default() -> Self {
        Ahead {
            ready: VecDeque::new(),
            fresh_from: BTreeMap::new(),
            fresh_all: 0,
            generation: 0,
            paused: BTreeSet::new(),
            parked: Vec::new(),
        }
    }
}

fn partition_of(r: &SinkRecord) -> TopicPartition {
    TopicPartition::new(&*r.topic, r.partition)
}

impl<E> Ahead<E> {
    /// Queues what the fetch stage handed over.
    pub fn push(&mut self, ready: Ready<E>) {
        if let Ready::Batch(b) = &ready {
            self.generation = self.generation.max(b.generation);
        }
        self.ready.push_back(ready);
    }

    /// Whether anything waits to be delivered.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// `partitions` were revoked, assigned or sought, and the fetch stage reads generation
    /// `fresh` on: their records read before are stale, parked ones included.
    pub fn reposition(&mut self, partitions: &[TopicPartition], fresh: u64) {
        if partitions.is_empty() {
            return;
        }
        for tp in partitions {
            self.fresh_from.insert(tp.clone(), fresh);
        }
        self.fresh_all = self.fresh_all.max(fresh);
        self.generation = self.generation.max(fresh);
        if !self.parked.is_empty() {
            self.parked
                .retain(|r| !partitions.contains(&partition_of(r)));
        }
    }

    /// Records of `partitions` are parked from now on, until resumed.
    pub fn pause(&mut self, partitions: &[TopicPartition]) {
        self.paused.extend(partitions.iter().cloned());
    }

    /// `partitions` are delivered again, their parked records first.
    pub fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.paused.remove(tp);
        }
        if self.parked.is_empty() {
            return;
        }
        let (resumed, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|r| partitions.contains(&partition_of(r)));
        self.parked = still;
        if !resumed.is_empty() {
            // Read before anything of theirs still queued. Any later change of their position
            // comes with a newer generation, which makes them stale as it should.
            self.ready.push_front(Ready::Batch(Fetched {
                generation: self.generation,
                records: resumed,
                credit: None,
            }));
        }
    }

    /// The next batch to hand to `put` (stale records dropped, those of paused partitions
    /// parked), or the stage's failure; `None` when nothing is ready. A batch left empty goes
    /// to `spare`, so the stage can reuse its allocation.
    pub fn next(&mut self, mut spare: impl FnMut(Vec<SinkRecord>)) -> Option<Next<E>> {
        while let Some(ready) = self.ready.pop_front() {
            let mut batch = match ready {
                Ready::Failed(e) => return Some(Next::Failed(e)),
                Ready::Batch(b) => b,
            };
            if batch.generation < self.fresh_all {
                let fresh_from = &self.fresh_from;
                batch.records.retain(|r| {
                    fresh_from
                        .get(&partition_of(r))
                        .is_none_or(|f| batch.generation >= *f)
                });
            }
            if !self.paused.is_empty() {
                let mut all = std::mem::take(&mut batch.records);
                let mut kept = Vec::with_capacity(all.len());
                for r in all.drain(..) {
                    if self.paused.contains(&partition_of(&r)) {
                        self.parked.push(r);
                    } else {
                        kept.push(r);
                    }
                }
                spare(all);
                batch.records = kept;
            }
            if batch.records.is_empty() {
                spare(batch.records);
                continue;
            }
            return Some(Next::Records(batch));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconnect_connectors::data::Value;
    use kconnect_connectors::record::TimestampType;
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

    fn batch(generation: u64, records: &[(i32, i64)]) -> Ready<&'static str> {
        let t: Arc<str> = Arc::from("t");
        Ready::Batch(Fetched {
            generation,
            records: records.iter().map(|(p, o)| record(&t, *p, *o)).collect(),
            credit: None,
        })
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// (partition, offset) of the next batch; panics on a failure.
    fn next(a: &mut Ahead<&'static str>) -> Option<Vec<(i32, i64)>> {
        match a.next(|_| {})? {
            Next::Records(b) => Some(b.records.iter().map(|r| (r.partition, r.offset)).collect()),
            Next::Failed(e) => panic!("unexpected failure {e}"),
        }
    }

    #[test]
    fn an_unchanged_assignment_delivers_batches_as_they_came_in_order() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 0), (1, 0), (0, 1)]));
        a.push(batch(0, &[(1, 1)]));
        assert!(a.has_ready());
        assert_eq!(next(&mut a), Some(vec![(0, 0), (1, 0), (0, 1)]));
        assert_eq!(next(&mut a), Some(vec![(1, 1)]));
        assert_eq!(next(&mut a), None);
        assert!(!a.has_ready());
    }

    #[test]
    fn records_read_before_a_partition_changed_are_dropped_and_later_ones_kept() {
        let mut a = Ahead::default();
        // Read ahead in generation 0, before partition 0 was sought (or revoked) at generation 1.
        a.push(batch(0, &[(0, 5), (1, 7), (0, 6)]));
        a.reposition(&[tp(0)], 1);
        // Read after the change: partition 0 from where the seek put it.
        a.push(batch(1, &[(0, 2), (1, 8)]));
        assert_eq!(next(&mut a), Some(vec![(1, 7)]));
        assert_eq!(next(&mut a), Some(vec![(0, 2), (1, 8)]));
    }

    #[test]
    fn a_batch_left_empty_is_handed_back_and_the_next_one_delivered() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 5), (0, 6)]));
        a.push(batch(0, &[(1, 1)]));
        a.reposition(&[tp(0)], 1);
        let mut spared = 0;
        let got = match a.next(|v| {
            assert!(v.is_empty());
            spared += 1;
        }) {
            Some(Next::Records(b)) => b.records.iter().map(|r| (r.partition, r.offset)).collect(),
            _ => vec![],
        };
        assert_eq!(got, vec![(1, 1)]);
        assert_eq!(spared, 1);
    }

    #[test]
    fn a_partition_revoked_and_assigned_again_keeps_none_of_its_old_records() {
        let mut a = Ahead::default();
        a.push(batch(3, &[(0, 50), (0, 51)]));
        a.reposition(&[tp(0)], 4); // revoked
        a.push(batch(4, &[(1, 9)]));
        a.reposition(&[tp(0)], 5); // assigned again, from its committed offset
        a.push(batch(5, &[(0, 40)]));
        assert_eq!(next(&mut a), Some(vec![(1, 9)]));
        assert_eq!(next(&mut a), Some(vec![(0, 40)]));
        assert_eq!(next(&mut a), None);
    }

    #[test]
    fn a_failure_comes_after_the_batches_read_before_it() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 0)]));
        a.push(Ready::Failed("bad record"));
        assert_eq!(next(&mut a), Some(vec![(0, 0)]));
        assert!(matches!(a.next(|_| {}), Some(Next::Failed("bad record"))));
    }

    #[test]
    fn a_paused_partition_is_parked_then_delivered_first_and_in_order_when_resumed() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 10), (1, 20), (0, 11)]));
        a.push(batch(0, &[(1, 21), (0, 12)]));
        a.pause(&[tp(0)]);
        assert_eq!(next(&mut a), Some(vec![(1, 20)]));
        a.push(batch(0, &[(0, 13), (1, 22)]));
        assert_eq!(next(&mut a), Some(vec![(1, 21)]));
        // Partition 0 resumed with one of its batches still queued: its parked records first.
        a.resume(&[tp(0)]);
        assert_eq!(next(&mut a), Some(vec![(0, 10), (0, 11), (0, 12)]));
        assert_eq!(next(&mut a), Some(vec![(0, 13), (1, 22)]));
        assert_eq!(next(&mut a), None);
    }

    #[test]
    fn parked_records_of_a_partition_sought_while_paused_are_dropped() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 10), (1, 20)]));
        a.pause(&[tp(0), tp(1)]);
        assert_eq!(next(&mut a), None);
        a.reposition(&[tp(0)], 1);
        a.resume(&[tp(0), tp(1)]);
        assert_eq!(next(&mut a), Some(vec![(1, 20)]));
        // Resumed records stay stale-able: a later change drops them too.
        a.push(batch(1, &[(0, 3)]));
        a.pause(&[tp(0)]);
        assert_eq!(next(&mut a), None);
        a.resume(&[tp(0)]);
        a.reposition(&[tp(0)], 2);
        assert_eq!(next(&mut a), None);
    }
}
