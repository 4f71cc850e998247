//! Records, configs and registry look-ups for the tests of the group B transforms.

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

/// A built-in transform found by alias (`InsertField$Value`) and configured with `pairs`.
pub(crate) fn transformation(alias: &str, pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
    let mut t = PluginRegistry::builtin()
        .transformation(alias)
        .unwrap_or_else(|| panic!("{alias} is not registered"))
        .create();
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

/// A header with a string value, as `Headers.addString` adds it.
pub(crate) fn string_header(key: &str, value: &str) -> Header {
    Header {
        key: key.to_string(),
        schema: Some(Schema::string()),
        value: Value::String(value.to_string()),
    }
}

/// A schemaless map with string keys.
pub(crate) fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::String(k.to_string()), v))
            .collect(),
    )
}

#[test]
fn group_b_is_registered_under_connect_s_class_names_with_documented_keys() {
    let registry = PluginRegistry::builtin();
    let transforms = [
        "DropHeaders",
        "Filter",
        "Flatten$Key",
        "Flatten$Value",
        "HoistField$Key",
        "HoistField$Value",
        "InsertField$Key",
        "InsertField$Value",
        "InsertHeader",
        "RegexRouter",
        "SetSchemaMetadata$Key",
        "SetSchemaMetadata$Value",
        "TimestampRouter",
    ];
    for simple in transforms {
        let class = format!("org.apache.kafka.connect.transforms.{simple}");
        let p = registry
            .transformation(&class)
            .unwrap_or_else(|| panic!("{class} missing"));
        assert_eq!(p.class_name, class);
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(registry.transformation(simple).unwrap().class_name, class);
        for key in p.create().config_def().keys() {
            assert!(
                !key.documentation.trim().is_empty(),
                "{class}: {}",
                key.name
            );
        }
    }
    for simple in ["TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"] {
        let class = format!("org.apache.kafka.connect.transforms.predicates.{simple}");
        let p = registry
            .predicate(&class)
            .unwrap_or_else(|| panic!("{class} missing"));
        assert_eq!(p.class_name, class);
        assert_eq!(registry.predicate(simple).unwrap().class_name, class);
        for key in p.create().config_def().keys() {
            assert!(
                !key.documentation.trim().is_empty(),
                "{class}: {}",
                key.name
            );
        }
    }
}
