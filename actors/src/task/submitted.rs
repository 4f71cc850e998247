//! Tracks source records between `poll` and the broker's acknowledgement, so that an offset is
//! committed only once every record up to it (in its source partition) was acknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use kconnect_connectors::record::{OffsetMap, RecordMetadata, SourceRecord};

/// Identifies one submitted record; carried through the producer as its delivery opaque.
#[derive(Debug)]
pub struct SubmittedToken {
    partition_key: Arc<str>,
    seq: u64,
}

struct Entry {
    seq: u64,
    acked: bool,
    offset: OffsetMap,
    /// Kept until acknowledged, for the task's `commit_record`.
    record: Option<SourceRecord>,
}

struct PartitionQueue {
    partition: OffsetMap,
    entries: VecDeque<Entry>,
    /// The newest offset whose records, and all before them, were acknowledged.
    committable: Option<OffsetMap>,
}

/// Records in flight for one source task.
#[derive(Default)]
pub struct SubmittedRecords {
    partitions: HashMap<Arc<str>, PartitionQueue>,
    next_seq: u64,
    in_flight: usize,
    /// The first delivery failure, which fails the task.
    pub error: Option<String>,
    /// Acknowledged records waiting for the task's `commit_record`.
    acked: Vec<(SourceRecord, RecordMetadata)>,
}

/// A canonical string form of a source partition map, used as a key.
pub fn partition_key(partition: &OffsetMap) -> String {
    let mut keys: Vec<_> = partition.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    serde_json::to_string(&keys).unwrap_or_default()
}

impl SubmittedRecords {
    /// Registers a record about to be sent.
    pub fn submit(&mut self, record: SourceRecord) -> SubmittedToken {
        let key: Arc<str> = partition_key(&record.source_partition).into();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        let q = self
            .partitions
            .entry(key.clone())
            .or_insert_with(|| PartitionQueue {
                partition: record.source_partition.clone(),
                entries: VecDeque::new(),
                committable: None,
            });
        q.entries.push_back(Entry {
            seq,
            acked: false,
            offset: record.source_offset.clone(),
            record: Some(record),
        });
        SubmittedToken {
            partition_key: key,
            seq,
        }
    }

    /// The broker acknowledged a record.
    pub fn acked(&mut self, token: &SubmittedToken, metadata: RecordMetadata) {
        self.complete(token, Some(metadata));
    }

    /// The record was dropped on purpose (errors.tolerance=all): its offset may be committed.
    pub fn skipped(&mut self, token: &SubmittedToken) {
        self.complete(token, None);
    }

    fn complete(&mut self, token: &SubmittedToken, metadata: Option<RecordMetadata>) {
        let Some(q) = self.partitions.get_mut(&token.partition_key) else {
            return;
        };
        let Ok(i) = q.entries.binary_search_by_key(&token.seq, |e| e.seq) else {
            return;
        };
        let e = &mut q.entries[i];
        if e.acked {
            return;
        }
        e.acked = true;
        self.in_flight -= 1;
        let record = e.record.take();
        if let (Some(r), Some(m)) = (record, metadata) {
            self.acked.push((r, m));
        }
        while q.entries.front().is_some_and(|e| e.acked) {
            let e = q.entries.pop_front().expect("front exists");
            q.committable = Some(e.offset);
        }
    }

    /// A record could not be delivered: the task must fail and retry from committed offsets.
    pub fn failed(&mut self, error: String) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes the offsets that became committable since the last call.
    pub fn take_committable(&mut self) -> Vec<(OffsetMap, OffsetMap)> {
        let mut out = Vec::new();
        self.partitions.retain(|_, q| {
            if let Some(o) = q.committable.take() {
                out.push((q.partition.clone(), o));
            }
            !q.entries.is_empty()
        });
        out
    }

    /// Puts back offsets taken by `take_committable` whose write failed, unless a newer offset
    /// became committable meanwhile.
    pub fn restore(&mut self, entries: Vec<(OffsetMap, OffsetMap)>) {
        for (partition, offset) in entries {
            let key: Arc<str> = partition_key(&partition).into();
            let q = self
                .partitions
                .entry(key)
                .or_insert_with(|| PartitionQueue {
                    partition,
                    entries: VecDeque::new(),
                    committable: None,
                });
            if q.committable.is_none() {
                q.committable = Some(offset);
            }
        }
    }

    /// Takes acknowledged records for `commit_record`.
    pub fn take_acked(&mut self) -> Vec<(SourceRecord, RecordMetadata)> {
        std::mem::take(&mut self.acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconnect_connectors::data::Value;
    use serde_json::json;

    fn rec(file: &str, pos: i64) -> SourceRecord {
        let p = json!({ "filename": file }).as_object().unwrap().clone();
        let o = json!({ "position": pos }).as_object().unwrap().clone();
        SourceRecord::new(p, o, "t", None, Value::Null)
    }

    fn md() -> RecordMetadata {
        RecordMetadata {
            topic: "t".into(),
            partition: 0,
            offset: 0,
        }
    }

    #[test]
    fn commits_only_the_acknowledged_prefix() {
        let mut s = SubmittedRecords::default();
        let a = s.submit(rec("f", 10));
        let b = s.submit(rec("f", 20));
        let c = s.submit(rec("f", 30));
        s.acked(&b, md());
        s.acked(&c, md());
        // The first record is still in flight: nothing may be committed yet.
        assert!(s.take_committable().is_empty());
        s.acked(&a, md());
        let got = s.take_committable();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1["position"], json!(30));
        assert_eq!(s.in_flight(), 0);
        assert_eq!(s.take_acked().len(), 3);
    }

    #[test]
    fn partitions_advance_independently() {
        let mut s = SubmittedRecords::default();
        let a = s.submit(rec("f1", 10));
        let _b = s.submit(rec("f2", 5));
        s.acked(&a, md());
        let got = s.take_committable();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0["filename"], json!("f1"));
        assert_eq!(s.in_flight(), 1);
    }

    #[test]
    fn offsets_whose_write_failed_are_committable_again() {
        let mut s = SubmittedRecords::default();
        let a = s.submit(rec("f", 10));
        s.acked(&a, md());
        let taken = s.take_committable();
        assert!(s.take_committable().is_empty());
        s.restore(taken.clone());
        assert_eq!(s.take_committable(), taken);
        // A newer offset wins over a restored older one.
        let b = s.submit(rec("f", 20));
        s.acked(&b, md());
        s.restore(taken);
        assert_eq!(s.take_committable()[0].1["position"], json!(20));
    }

    #[test]
    fn a_failure_is_kept() {
        let mut s = SubmittedRecords::default();
        s.failed("boom".into());
        s.failed("second".into());
        assert_eq!(s.error.as_deref(), Some("boom"));
    }
}
