//! Source offsets in a Kafka topic (`offset.storage.topic`), as Connect's
//! `KafkaOffsetBackingStore` keeps them.
//!
//! # Record format
//!
//! Written by Connect's internal `JsonConverter` with `schemas.enable=false`:
//!
//! - key: `["<connector>",{<source partition>}]`, e.g.
//!   `["local-file-source",{"filename":"/tmp/test.txt"}]`;
//! - value: the offset map, e.g. `{"position":30}`, or null (a tombstone) to remove it.
//!
//! Keys are partitioned with murmur2 like Java producers, so a partition's offsets always land on
//! the same topic partition whoever writes them. The store keeps every offset of the topic in
//! memory, fed by a [`KafkaLog`]: offsets other workers write become visible as they are read.
//! A partition is matched by its canonical JSON (keys sorted), so key order does not matter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use kconnect_connectors::api::OffsetStorageReader;
use kconnect_connectors::record::{canonical_partition_key as canonical_json, OffsetMap};
use serde_json::Value;

use super::json::to_java_json;
use super::log::{KafkaLog, KafkaLogConfig, KafkaLogError, LogRecord};
use super::{DecodeError, DecodeReason};
use crate::context::{OffsetStore, OffsetWriteError};
use futures::future::BoxFuture;

/// The key of one source partition's offset: `["<connector>",{partition}]`.
pub fn encode_offset_key(connector: &str, partition: &OffsetMap) -> Vec<u8> {
    to_java_json(&(connector, partition))
}

/// The value of an offset: its JSON map, or `None` (a tombstone) to remove it.
pub fn encode_offset_value(offset: Option<&OffsetMap>) -> Option<Vec<u8>> {
    offset.map(to_java_json)
}

/// Parses a key written by [`encode_offset_key`] (or by Connect) into (connector, partition).
pub fn decode_offset_key(key: &[u8]) -> Result<(String, OffsetMap), DecodeError> {
    let text = String::from_utf8_lossy(key);
    let bad = |reason: DecodeReason| DecodeError::new(&text, reason);
    let value: Value =
        serde_json::from_slice(key).map_err(|e| bad(DecodeReason::Json(e.to_string())))?;
    let Value::Array(items) = value else {
        return Err(bad(DecodeReason::OffsetKeyNotAnArray));
    };
    match <[Value; 2]>::try_from(items) {
        Ok([Value::String(connector), Value::Object(partition)]) => Ok((connector, partition)),
        Ok([Value::String(_), _]) => Err(bad(DecodeReason::PartitionNotAnObject)),
        Ok(_) => Err(bad(DecodeReason::ConnectorNotAString)),
        Err(_) => Err(bad(DecodeReason::OffsetKeyLength)),
    }
}

/// Parses an offset value: `None` for a tombstone.
pub fn decode_offset_value(value: Option<&[u8]>) -> Result<Option<OffsetMap>, DecodeReason> {
    let Some(value) = value else { return Ok(None) };
    match serde_json::from_slice(value).map_err(|e| DecodeReason::Json(e.to_string()))? {
        Value::Object(offset) => Ok(Some(offset)),
        Value::Null => Ok(None),
        other => Err(DecodeReason::OffsetNotAnObject(other.to_string())),
    }
}

/// Connector → canonical partition JSON → (partition, offset).
type Offsets = BTreeMap<String, BTreeMap<String, (OffsetMap, OffsetMap)>>;

/// A record to write: key and value bytes (`None`: a tombstone).
type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Source offsets of every connector, kept in a Kafka topic. Cheap to clone; every clone shares
/// the same log. Implements [`OffsetStore`], so it stands in for the file store.
#[derive(Clone)]
pub struct KafkaOffsetStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: KafkaLog,
    offsets: Arc<Mutex<Offsets>>,
}

impl KafkaOffsetStore {
    /// Reads the whole topic (it must exist), then keeps following it.
    pub fn start(config: KafkaLogConfig) -> Result<Self, KafkaLogError> {
        let offsets = Arc::new(Mutex::new(Offsets::new()));
        let topic = config.topic.clone();
        let feed = offsets.clone();
        let log = KafkaLog::start(config, move |record| apply(&topic, &feed, record))?;
        Ok(KafkaOffsetStore {
            inner: Arc::new(Inner { log, offsets }),
        })
    }

    pub fn topic(&self) -> &str {
        self.inner.log.topic()
    }

    /// The topic's partitions (offset records are partitioned over them by key).
    pub fn partition_count(&self) -> i32 {
        self.inner.log.partition_count()
    }

    /// The offset of `connector`'s `partition` as last read from the topic (no round trip).
    pub fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.lock()
            .get(connector)?
            .get(&canonical_json(partition))
            .map(|(_, offset)| offset.clone())
    }

    /// Every (partition, offset) of `connector` as last read, ordered by canonical partition.
    pub fn get_all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.lock()
            .get(connector)
            .map(|partitions| partitions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The connectors that have offsets.
    pub fn connectors(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Reads the topic to its current end: everything written before is then visible.
    pub fn refresh(&self) -> Result<(), KafkaLogError> {
        self.inner.log.read_to_end()
    }

    /// Writes the offsets (`None` removes one), waits for the broker's acknowledgements and until
    /// they were read back, so the next read sees them (or later writes of other workers).
    pub fn put_offsets(
        &self,
        connector: &str,
        entries: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), KafkaLogError> {
        let records = offset_records(connector, entries);
        let delivered = self.inner.log.send_all(&records)?;
        self.inner.log.wait_until_applied(&delivered)
    }

    /// [`put_offsets`](Self::put_offsets) without blocking the thread (for actors).
    pub async fn put_offsets_async(
        &self,
        connector: &str,
        entries: &[(OffsetMap, Option<OffsetMap>)],
    ) -> Result<(), KafkaLogError> {
        let records = offset_records(connector, entries);
        let delivered = self.inner.log.send_all_async(&records).await?;
        self.inner.log.wait_until_applied_async(&delivered).await
    }

    /// Stops following the topic. Also done when the last clone is dropped.
    pub fn stop(&self) {
        self.inner.log.stop();
    }

    /// Reads to the end before a lookup, as Connect's readers do; on failure answers from what was
    /// read (at worst an older offset: records are re-read, never skipped).
    fn refresh_for_read(&self) {
        if let Err(e) = self.refresh() {
            tracing::warn!("offsets may be stale: {e}");
        }
    }

    fn lock(&self) -> MutexGuard<'_, Offsets> {
        self.inner.offsets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn offset_records(connector: &str, entries: &[(OffsetMap, Option<OffsetMap>)]) -> Vec<RawRecord> {
    entries
        .iter()
        .map(|(partition, offset)| {
            (
                Some(encode_offset_key(connector, partition)),
                encode_offset_value(offset.as_ref()),
            )
        })
        .collect()
}

/// Applies one record of the offset topic to the map (the log's callback).
fn apply(topic: &str, offsets: &Mutex<Offsets>, record: &LogRecord) {
    let Some(key) = &record.key else {
        tracing::warn!(
            topic,
            partition = record.partition,
            offset = record.offset,
            "ignoring an offset record without a key"
        );
        return;
    };
    let (connector, partition) = match decode_offset_key(key) {
        Ok(kp) => kp,
        Err(e) => {
            tracing::warn!(
                topic,
                partition = record.partition,
                offset = record.offset,
                "ignoring an offset record: {e}"
            );
            return;
        }
    };
    let value = match decode_offset_value(record.value.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(
                topic,
                partition = record.partition,
                offset = record.offset,
                connector,
                "ignoring an offset record: {e}"
            );
            return;
        }
    };
    let mut offsets = offsets.lock().unwrap_or_else(|e| e.into_inner());
    let id = canonical_json(&partition);
    match value {
        Some(offset) => {
            offsets
                .entry(connector)
                .or_default()
                .insert(id, (partition, offset));
        }
        None => {
            if let Some(partitions) = offsets.get_mut(&connector) {
                partitions.remove(&id);
                if partitions.is_empty() {
                    offsets.remove(&connector);
                }
            }
        }
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> BoxFuture<'static, Result<(), OffsetWriteError>> {
        let store = self.clone();
        let connector = connector.to_string();
        Box::pin(async move {
            store.put_offsets_async(&connector, &entries).await?;
            Ok(())
        })
    }

    fn reader(&self, connector: &str) -> Arc<dyn OffsetStorageReader> {
        Arc::new(ConnectorOffsetReader {
            store: self.clone(),
            connector: connector.to_string(),
        })
    }

    fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.refresh_for_read();
        self.get_all(connector)
    }
}

/// One connector's view of a [`KafkaOffsetStore`]; every lookup first reads to the end.
struct ConnectorOffsetReader {
    store: KafkaOffsetStore,
    connector: String,
}

impl OffsetStorageReader for ConnectorOffsetReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.refresh_for_read();
        self.store.get(&self.connector, partition)
    }

    fn offsets(&self, partitions: &[OffsetMap]) -> Vec<(OffsetMap, Option<OffsetMap>)> {
        self.store.refresh_for_read();
        partitions
            .iter()
            .map(|p| (p.clone(), self.store.get(&self.connector, p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> OffsetMap {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn key_and_value_bytes_match_connect() {
        // Fixtures: what Connect's OffsetStorageWriter writes through JsonConverter
        // (schemas.enable=false) for FileStreamSourceTask's partition and offset.
        assert_eq!(
            encode_offset_key("local-file-source", &map(json!({"filename": "/tmp/x"}))),
            br#"["local-file-source",{"filename":"/tmp/x"}]"#
        );
        assert_eq!(
            encode_offset_value(Some(&map(json!({"position": 30})))).unwrap(),
            br#"{"position":30}"#
        );
        assert_eq!(encode_offset_value(None), None);
        // Key order is the connector's, as Java's map iteration order would be.
        assert_eq!(
            encode_offset_key("c", &map(json!({"table": "t", "db": "d", "n": 1.5e-5}))),
            br#"["c",{"table":"t","db":"d","n":1.5E-5}]"#
        );
    }

    #[test]
    fn keys_and_values_round_trip() {
        let partition = map(json!({"filename": "/tmp/x", "nested": {"a": [1, null]}}));
        let key = encode_offset_key("my-source", &partition);
        assert_eq!(
            decode_offset_key(&key).unwrap(),
            ("my-source".to_string(), partition)
        );
        let offset = map(json!({"position": 30, "done": false}));
        let value = encode_offset_value(Some(&offset));
        assert_eq!(decode_offset_value(value.as_deref()).unwrap(), Some(offset));
        assert_eq!(decode_offset_value(None).unwrap(), None);
    }

    #[test]
    fn malformed_keys_and_values_are_errors() {
        for (key, problem) in [
            (&b"{\"a\":1}"[..], "array"),
            (b"[\"c\"]", "two elements"),
            (b"[1,{}]", "connector name"),
            (b"[\"c\",null]", "object"),
            (b"[\"c\",", "EOF"),
        ] {
            let e = decode_offset_key(key).unwrap_err().to_string();
            assert!(e.contains(problem), "{problem:?} not in {e}");
        }
        assert_eq!(
            decode_offset_value(Some(b"[1]")),
            Err(DecodeReason::OffsetNotAnObject("[1]".into()))
        );
        assert!(matches!(
            decode_offset_value(Some(b"{")),
            Err(DecodeReason::Json(_))
        ));
    }

    #[test]
    fn canonical_partition_ignores_key_order() {
        assert_eq!(
            canonical_json(&map(json!({"b": {"y": 1, "x": 2}, "a": 1}))),
            canonical_json(&map(json!({"a": 1, "b": {"x": 2, "y": 1}})))
        );
    }

    #[test]
    fn records_apply_and_tombstones_remove() {
        let offsets = Mutex::new(Offsets::new());
        let p = map(json!({"filename": "/tmp/x"}));
        let record = |offset: i64, value: Option<&[u8]>| LogRecord {
            partition: 0,
            offset,
            timestamp: None,
            key: Some(encode_offset_key("c", &p)),
            value: value.map(<[u8]>::to_vec),
        };
        apply("t", &offsets, &record(0, Some(br#"{"position":1}"#)));
        apply("t", &offsets, &record(1, Some(br#"{"position":2}"#)));
        assert_eq!(
            offsets.lock().unwrap()["c"].values().next().unwrap().1,
            map(json!({"position": 2}))
        );
        // Garbage is ignored, not applied.
        apply("t", &offsets, &record(2, Some(b"nonsense")));
        apply("t", &offsets, &record(3, None));
        assert!(offsets.lock().unwrap().is_empty());
    }
}
