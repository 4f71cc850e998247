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
//! - A batch carries, beside its records, where they came from (for the errant record reporter,
//!   index for index) and each partition's next offset past everything it consumed, the records
//!   the transforms dropped or errors skipped included. Both follow its records: dropped when
//!   stale, parked with them. A batch left without records still counts for those offsets: it is
//!   delivered in its turn, so that no offset moves past records not put yet.
//!
//! Nothing here costs anything per record unless a partition changed: a batch read after the
//! last change, with no partition paused, is delivered as it came.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kconnect_connectors::api::SinkOffsets;
use kconnect_connectors::record::{SinkRecord, TopicPartition};
use tokio::sync::OwnedSemaphorePermit;

use super::errors::errant::BatchOrigins;

/// A batch the fetch stage read, converted and transformed, in the generation it was read in.
#[derive(Debug)]
pub struct Fetched {
    pub generation: u64,
    pub records: Vec<SinkRecord>,
    /// Where `records` came from, index for index (empty without an errant record reporter).
    pub origins: BatchOrigins,
    /// Each partition's next offset past the records the batch consumed: where it stands once
    /// the batch is put.
    pub consumed: SinkOffsets,
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
    /// Records of paused partitions, in the order they were read, with their origins and
    /// consumed offsets.
    parked: Vec<SinkRecord>,
    parked_origins: BatchOrigins,
    parked_consumed: SinkOffsets,
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
            parked_origins: BatchOrigins::default(),
            parked_consumed: SinkOffsets::new(),
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
            let keep: Vec<bool> = self
                .parked
                .iter()
                .map(|r| !partitions.contains(&partition_of(r)))
                .collect();
            retain_with(&mut self.parked, &mut self.parked_origins, &keep);
        }
        self.parked_consumed
            .retain(|tp, _| !partitions.contains(tp));
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
        let take: Vec<bool> = self
            .parked
            .iter()
            .map(|r| partitions.contains(&partition_of(r)))
            .collect();
        let (records, origins) = split_off_with(&mut self.parked, &mut self.parked_origins, &take);
        let mut consumed = SinkOffsets::new();
        self.parked_consumed.retain(|tp, next| {
            let resumed = partitions.contains(tp);
            if resumed {
                consumed.insert(tp.clone(), *next);
            }
            !resumed
        });
        if !records.is_empty() || !consumed.is_empty() {
            // Read before anything of theirs still queued. Any later change of their position
            // comes with a newer generation, which makes them stale as it should.
            self.ready.push_front(Ready::Batch(Fetched {
                generation: self.generation,
                records,
                origins,
                consumed,
                credit: None,
            }));
        }
    }

    /// The next batch to hand to `put` (stale records dropped, those of paused partitions
    /// parked), or the stage's failure; `None` when nothing is ready. A batch left with neither
    /// records nor offsets goes to `spare`, so the stage can reuse its allocations.
    pub fn next(&mut self, mut spare: impl FnMut(Fetched)) -> Option<Next<E>> {
        while let Some(ready) = self.ready.pop_front() {
            let mut batch = match ready {
                Ready::Failed(e) => return Some(Next::Failed(e)),
                Ready::Batch(b) => b,
            };
            if batch.generation < self.fresh_all {
                let generation = batch.generation;
                let fresh_from = &self.fresh_from;
                let fresh =
                    |tp: &TopicPartition| fresh_from.get(tp).is_none_or(|f| generation >= *f);
                let keep: Vec<bool> = batch
                    .records
                    .iter()
                    .map(|r| fresh(&partition_of(r)))
                    .collect();
                if keep.contains(&false) {
                    retain_with(&mut batch.records, &mut batch.origins, &keep);
                }
                batch.consumed.retain(|tp, _| fresh(tp));
            }
            if !self.paused.is_empty() {
                let take: Vec<bool> = batch
                    .records
                    .iter()
                    .map(|r| self.paused.contains(&partition_of(r)))
                    .collect();
                if take.contains(&true) {
                    let (records, origins) =
                        split_off_with(&mut batch.records, &mut batch.origins, &take);
                    self.parked.extend(records);
                    self.parked_origins.append(&origins);
                }
                let paused = &self.paused;
                let parked = &mut self.parked_consumed;
                batch.consumed.retain(|tp, next| {
                    if !paused.contains(tp) {
                        return true;
                    }
                    let at = parked.entry(tp.clone()).or_insert(*next);
                    *at = (*at).max(*next);
                    false
                });
            }
            if batch.records.is_empty() && batch.consumed.is_empty() {
                spare(batch);
                continue;
            }
            return Some(Next::Records(batch));
        }
        None
    }
}

/// Keeps the records whose `keep` is true, and their origins when there are any.
fn retain_with(records: &mut Vec<SinkRecord>, origins: &mut BatchOrigins, keep: &[bool]) {
    if !origins.is_empty() && origins.len() == records.len() {
        origins.retain(keep);
    }
    let mut i = 0;
    records.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Moves the records whose `take` is true out, in order, with their origins when there are any.
fn split_off_with(
    records: &mut Vec<SinkRecord>,
    origins: &mut BatchOrigins,
    take: &[bool],
) -> (Vec<SinkRecord>, BatchOrigins) {
    let taken_origins = if !origins.is_empty() && origins.len() == records.len() {
        origins.split_off_where(take)
    } else {
        BatchOrigins::default()
    };
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(records.len());
    for (r, t) in std::mem::take(records).into_iter().zip(take) {
        if *t {
            taken.push(r);
        } else {
            kept.push(r);
        }
    }
    *records = kept;
    (taken, taken_origins)
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

    /// A batch as the stage makes it: each record's origin (its value bytes `p:o`) and each
    /// partition's next offset past its last record.
    fn fetched(generation: u64, records: &[(i32, i64)]) -> Fetched {
        let t: Arc<str> = Arc::from("t");
        let mut origins = BatchOrigins::new(true);
        let mut consumed = SinkOffsets::new();
        for (p, o) in records {
            let value = format!("{p}:{o}");
            origins.push_parts(
                (&t, *p, *o),
                None,
                None,
                Some(value.as_bytes()),
                [].into_iter(),
            );
            consumed.insert(tp(*p), o + 1);
        }
        Fetched {
            generation,
            records: records.iter().map(|(p, o)| record(&t, *p, *o)).collect(),
            origins,
            consumed,
            credit: None,
        }
    }

    fn batch(generation: u64, records: &[(i32, i64)]) -> Ready<&'static str> {
        Ready::Batch(fetched(generation, records))
    }

    /// The next batch whole; panics on a failure.
    fn next_batch(a: &mut Ahead<&'static str>) -> Option<Fetched> {
        match a.next(|_| {})? {
            Next::Records(b) => Some(b),
            Next::Failed(e) => panic!("unexpected failure {e}"),
        }
    }

    /// Each origin's value, index for index: `p:o` when it follows its record.
    fn origins(b: &Fetched) -> Vec<String> {
        (0..b.origins.len())
            .map(|i| String::from_utf8(b.origins.consumed(i).value.unwrap().to_vec()).unwrap())
            .collect()
    }

    fn offsets(pairs: &[(i32, i64)]) -> SinkOffsets {
        pairs.iter().map(|(p, o)| (tp(*p), *o)).collect()
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// (partition, offset) of the next batch's records; panics on a failure, and when the
    /// origins do not follow the records.
    fn next(a: &mut Ahead<&'static str>) -> Option<Vec<(i32, i64)>> {
        let b = next_batch(a)?;
        let got: Vec<(i32, i64)> = b.records.iter().map(|r| (r.partition, r.offset)).collect();
        let expected: Vec<String> = got.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        assert_eq!(origins(&b), expected, "origins follow their records");
        Some(got)
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
        let got = match a.next(|b| {
            assert!(b.records.is_empty() && b.consumed.is_empty());
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

    #[test]
    fn offsets_follow_their_records_dropped_when_stale_and_kept_for_dropped_records() {
        let mut a = Ahead::default();
        a.push(batch(0, &[(0, 5), (1, 7)]));
        // Everything of this batch was dropped by the transforms: its offsets count in turn.
        let mut dropped = fetched(0, &[]);
        dropped.consumed = offsets(&[(1, 9)]);
        a.push(Ready::Batch(dropped));
        a.reposition(&[tp(0)], 1);
        let first = next_batch(&mut a).unwrap();
        assert_eq!(
            first.consumed,
            offsets(&[(1, 8)]),
            "partition 0's offset is stale"
        );
        let second = next_batch(&mut a).unwrap();
        assert!(second.records.is_empty());
        assert_eq!(second.consumed, offsets(&[(1, 9)]));
        assert!(next_batch(&mut a).is_none());
    }

    #[test]
    fn a_paused_partitions_offsets_wait_with_its_records_and_origins() {
        let mut a = Ahead::default();
        a.pause(&[tp(0)]);
        a.push(batch(0, &[(0, 10), (1, 20), (0, 11)]));
        let mut dropped = fetched(0, &[]);
        dropped.consumed = offsets(&[(0, 15)]);
        a.push(Ready::Batch(dropped));
        let first = next_batch(&mut a).unwrap();
        assert_eq!(origins(&first), vec!["1:20"]);
        assert_eq!(first.consumed, offsets(&[(1, 21)]));
        // The batch of partition 0's dropped records waits too: nothing is delivered for it.
        assert!(next_batch(&mut a).is_none());
        a.resume(&[tp(0)]);
        let resumed = next_batch(&mut a).unwrap();
        assert_eq!(origins(&resumed), vec!["0:10", "0:11"]);
        assert_eq!(resumed.consumed, offsets(&[(0, 15)]));
    }
}
