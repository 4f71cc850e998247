//! Records, configs and registry look-ups the tests of the built-in transforms share.

use crate::api::Props;
use crate::data::{Schema, Value};
use crate::record::{Header, SinkRecord, SourceRecord, TimestampType};
use crate::registry::PluginRegistry;
use crate::transforms::{Predicate, Transformation};

pub(crate) fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A built-in transform found by alias (`InsertField$Value`), not configured.
pub(crate) fn created(alias: &str) -> Box<dyn Transformation> {
    PluginRegistry::builtin()
        .transformation(alias)
        .unwrap_or_else(|| panic!("{alias} is not registered"))
        .create()
}

/// A built-in transform found by alias (`InsertField$Value`) and configured with `pairs`.
pub(crate) fn configured(alias: &str, pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
    let mut t = created(alias);
    t.configure(&props(pairs))
        .unwrap_or_else(|e| panic!("{alias}: {e}"));
    t
}

/// A built-in predicate found by alias and configured with `pairs`.
pub(crate) fn predicate(alias: &str, pairs: &[(&str, &str)]) -> Box<dyn Predicate> {
    let mut p = PluginRegistry::builtin()
        .predicate(alias)
        .unwrap_or_else(|| panic!("{alias} is not registered"))
        .create();
    p.configure(&props(pairs))
        .unwrap_or_else(|e| panic!("{alias}: {e}"));
    p
}

/// A source record on topic `topic`, partition 0, timestamp absent, with this key and value.
pub(crate) fn source(
    topic: &str,
    key_schema: Option<Schema>,
    key: Value,
    value_schema: Option<Schema>,
    value: Value,
) -> SourceRecord {
    let mut r = SourceRecord::new(
        serde_json::Map::new(),
        serde_json::Map::new(),
        topic,
        value_schema,
        value,
    );
    r.partition = Some(0);
    r.key_schema = key_schema;
    r.key = key;
    r
}

/// A sink record on topic `topic`, partition 0, offset 0, timestamp absent.
pub(crate) fn sink(
    topic: &str,
    key_schema: Option<Schema>,
    key: Value,
    value_schema: Option<Schema>,
    value: Value,
) -> SinkRecord {
    SinkRecord {
        topic: topic.into(),
        partition: 0,
        offset: 0,
        timestamp: None,
        timestamp_type: TimestampType::NoTimestampType,
        key_schema,
        key,
        value_schema,
        value,
        headers: Vec::new(),
    }
}

/// A source record on topic `topic` with only a value: no key, partition, timestamp or
/// headers.
pub(crate) fn value_source(value_schema: Option<Schema>, value: Value) -> SourceRecord {
    SourceRecord::new(
        serde_json::Map::new(),
        serde_json::Map::new(),
        "topic",
        value_schema,
        value,
    )
}

/// A sink record on topic `test`, partition 0, offset 0, created at time 0.
pub(crate) fn keyed_sink(
    key_schema: Option<Schema>,
    key: Value,
    value_schema: Option<Schema>,
    value: Value,
) -> SinkRecord {
    SinkRecord {
        timestamp: Some(0),
        timestamp_type: TimestampType::CreateTime,
        ..sink("test", key_schema, key, value_schema, value)
    }
}

/// A header with a string value, as `Headers.addString` adds it.
pub(crate) fn string_header(key: &str, value: &str) -> Header {
    Header {
        key: key.to_string(),
        schema: Some(Schema::string()),
        value: Value::String(value.to_string()),
    }
}

/// A schemaless map with string keys.
pub(crate) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::String(k.to_string()), v.clone()))
            .collect(),
    )
}
