//! Helpers for the built-in connectors' tests.

use std::sync::Arc;

use serde_json::json;

use crate::api::{OffsetStorageReader, Props, SourceTaskContext};
use crate::record::OffsetMap;

/// Committed offsets held in memory.
#[derive(Default)]
pub(crate) struct MemoryOffsets(pub Vec<(OffsetMap, OffsetMap)>);

impl OffsetStorageReader for MemoryOffsets {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.0
            .iter()
            .find(|(p, _)| p == partition)
            .map(|(_, o)| o.clone())
    }
}

/// A source task context with the given committed offsets.
pub(crate) fn source_ctx(task_id: u32, offsets: Vec<(OffsetMap, OffsetMap)>) -> SourceTaskContext {
    SourceTaskContext {
        offset_reader: Arc::new(MemoryOffsets(offsets)),
        task_id,
        transactions: None,
    }
}

/// An offset or partition map from a JSON object literal.
pub(crate) fn map(v: serde_json::Value) -> OffsetMap {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub(crate) fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn memory_offsets_find_by_partition() {
    let r = MemoryOffsets(vec![(map(json!({"a": 1})), map(json!({"o": 2})))]);
    assert_eq!(r.offset(&map(json!({"a": 1}))), Some(map(json!({"o": 2}))));
    assert_eq!(r.offset(&map(json!({"a": 2}))), None);
}
