//! Single message transforms (SMTs) and their predicates: the plugin traits, the record view
//! they work on, and the built-in ones of Kafka Connect 4.x (`connect-transforms`).
//!
//! A transform sees a record through [`ConnectRecord`], which both [`SourceRecord`] (after
//! `poll`, before conversion) and [`SinkRecord`] (after conversion, before `put`) implement,
//! the role of Connect's `ConnectRecord.newRecord`. It changes the record in place and says
//! whether to keep it; [`Outcome::Drop`] filters it out (a dropped source record's offset still
//! commits, as in Connect).
//!
//! Deviations from Connect, on purpose:
//! - In place instead of `newRecord`: a transform that fails half way leaves a half-changed
//!   record, which the runtime then treats as failed (skipped or fatal by
//!   `errors.tolerance`), never sends.
//! - Each transform is configured with its alias-stripped keys, as Connect does
//!   (`transforms.route.regex` → `regex`), and is owned by one task: no `Sync` needed.

pub mod chain;
pub mod util;

// group A
pub mod cast;
pub mod extract_field;
pub mod field_path;
pub mod header_from;
pub mod mask_field;
pub mod replace_field;
pub mod schema_update_cache;
pub mod smt_config;
pub mod timestamp_converter;
pub mod value_to_key;
// group B
pub mod drop_headers;
pub mod filter;
pub mod flatten;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod java_regex;
pub mod predicates;
pub mod regex_router;
pub mod schema_basics;
pub mod set_schema_metadata;
#[cfg(test)]
pub(crate) mod test_records;
pub mod timestamp_router;
// end group B

use crate::api::Props;
use crate::config::ConfigDef;
use crate::data::{Schema, Value};
use crate::error::ConnectResult;
use crate::record::{Header, SinkRecord, SourceRecord};

/// What a transform does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Pass the record on.
    Keep,
    /// Drop the record: it is not produced (source) or not put (sink).
    Drop,
}

/// A record as transforms and predicates see it: the fields Connect's `ConnectRecord` has.
/// Source records have no Kafka offset; sink records always have a partition.
pub trait ConnectRecord {
    /// The record's topic.
    fn topic(&self) -> &str;
    /// Changes the record's topic.
    fn set_topic(&mut self, topic: &str);
    /// The Kafka partition (`None`: a source record left to the partitioner).
    fn kafka_partition(&self) -> Option<i32>;
    /// Changes the Kafka partition.
    fn set_kafka_partition(&mut self, partition: Option<i32>);
    /// The Kafka offset of a sink record; `None` for source records.
    fn kafka_offset(&self) -> Option<i64>;
    /// The record's timestamp, in milliseconds since the epoch, if any.
    fn timestamp(&self) -> Option<i64>;
    /// Changes the timestamp.
    fn set_timestamp(&mut self, timestamp: Option<i64>);
    /// The key's schema, if any.
    fn key_schema(&self) -> Option<&Schema>;
    /// The key.
    fn key(&self) -> &Value;
    /// The value's schema, if any.
    fn value_schema(&self) -> Option<&Schema>;
    /// The value.
    fn value(&self) -> &Value;
    /// The key's schema and value, to change in place or replace.
    fn key_mut(&mut self) -> (&mut Option<Schema>, &mut Value);
    /// The value's schema and value, to change in place or replace.
    fn value_mut(&mut self) -> (&mut Option<Schema>, &mut Value);
    /// The record's headers, in order.
    fn headers(&self) -> &[Header];
    /// The headers, to change.
    fn headers_mut(&mut self) -> &mut Vec<Header>;
}

impl ConnectRecord for SourceRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn set_topic(&mut self, topic: &str) {
        topic.clone_into(&mut self.topic);
    }
    fn kafka_partition(&self) -> Option<i32> {
        self.partition
    }
    fn set_kafka_partition(&mut self, partition: Option<i32>) {
        self.partition = partition;
    }
    fn kafka_offset(&self) -> Option<i64> {
        None
    }
    fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.timestamp = timestamp;
    }
    fn key_schema(&self) -> Option<&Schema> {
        self.key_schema.as_ref()
    }
    fn key(&self) -> &Value {
        &self.key
    }
    fn value_schema(&self) -> Option<&Schema> {
        self.value_schema.as_ref()
    }
    fn value(&self) -> &Value {
        &self.value
    }
    fn key_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.key_schema, &mut self.key)
    }
    fn value_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.value_schema, &mut self.value)
    }
    fn headers(&self) -> &[Header] {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Vec<Header> {
        &mut self.headers
    }
}

impl ConnectRecord for SinkRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn set_topic(&mut self, topic: &str) {
        if &*self.topic != topic {
            self.topic = topic.into();
        }
    }
    fn kafka_partition(&self) -> Option<i32> {
        Some(self.partition)
    }
    /// A sink record always has a partition: `None` leaves it as it is.
    fn set_kafka_partition(&mut self, partition: Option<i32>) {
        if let Some(p) = partition {
            self.partition = p;
        }
    }
    fn kafka_offset(&self) -> Option<i64> {
        Some(self.offset)
    }
    fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.timestamp = timestamp;
    }
    fn key_schema(&self) -> Option<&Schema> {
        self.key_schema.as_ref()
    }
    fn key(&self) -> &Value {
        &self.key
    }
    fn value_schema(&self) -> Option<&Schema> {
        self.value_schema.as_ref()
    }
    fn value(&self) -> &Value {
        &self.value
    }
    fn key_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.key_schema, &mut self.key)
    }
    fn value_mut(&mut self) -> (&mut Option<Schema>, &mut Value) {
        (&mut self.value_schema, &mut self.value)
    }
    fn headers(&self) -> &[Header] {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Vec<Header> {
        &mut self.headers
    }
}

/// Which part of a record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The record's key.
    Key,
    /// The record's value.
    Value,
}

impl Side {
    /// The schema of this side of `record`.
    pub fn schema(self, record: &dyn ConnectRecord) -> Option<&Schema> {
        match self {
            Side::Key => record.key_schema(),
            Side::Value => record.value_schema(),
        }
    }

    /// The value of this side of `record`.
    pub fn value(self, record: &dyn ConnectRecord) -> &Value {
        match self {
            Side::Key => record.key(),
            Side::Value => record.value(),
        }
    }

    /// The schema and value of this side of `record`, to change.
    pub fn get_mut(self, record: &mut dyn ConnectRecord) -> (&mut Option<Schema>, &mut Value) {
        match self {
            Side::Key => record.key_mut(),
            Side::Value => record.value_mut(),
        }
    }

    /// `"key"` or `"value"`, as Connect's error messages name the operand.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

/// A single message transform: Connect's `Transformation`.
pub trait Transformation: Send + 'static {
    /// The keys it understands (alias-stripped: `regex`, not `transforms.route.regex`).
    fn config_def(&self) -> ConfigDef;

    /// Configures it from its alias-stripped keys. Called once, before `apply`.
    fn configure(&mut self, props: &Props) -> ConnectResult<()>;

    /// Changes `record` in place; [`Outcome::Drop`] filters it out.
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome>;

    /// Releases what it holds. Called once, when its task stops.
    fn close(&mut self) {}
}

/// A condition a transform can be made to depend on: Connect's `Predicate`
/// (`transforms.<alias>.predicate`, optionally negated).
pub trait Predicate: Send + 'static {
    /// The predicate's keys (`predicates.<alias>.*` without the prefix).
    fn config_def(&self) -> ConfigDef;

    /// Configures the predicate with its keys (`predicates.<alias>.` stripped).
    fn configure(&mut self, props: &Props) -> ConnectResult<()>;

    /// Whether `record` matches.
    fn test(&self, record: &dyn ConnectRecord) -> bool;

    /// Releases what the predicate holds; called once, when its task stops.
    fn close(&mut self) {}
}

/// Registers Connect's built-in transforms and predicates, under Connect's class names
/// (`org.apache.kafka.connect.transforms.Cast$Value`, aliases `Cast$Value`).
pub fn register_builtins(registry: &mut crate::registry::PluginRegistry, version: &str) {
    // group A
    cast::register(registry, version);
    extract_field::register(registry, version);
    value_to_key::register(registry, version);
    replace_field::register(registry, version);
    mask_field::register(registry, version);
    header_from::register(registry, version);
    timestamp_converter::register(registry, version);
    // group B
    {
        use crate::registry::{PredicatePlugin, TransformationPlugin};
        let t = |class: &'static str, factory: fn() -> Box<dyn Transformation>| {
            TransformationPlugin::new(class, version, factory)
        };
        for plugin in [
            t(drop_headers::CLASS, || {
                Box::new(drop_headers::DropHeaders::new())
            }),
            t(filter::CLASS, || Box::new(filter::Filter)),
            t(flatten::KEY_CLASS, || {
                Box::new(flatten::Flatten::new(Side::Key))
            }),
            t(flatten::VALUE_CLASS, || {
                Box::new(flatten::Flatten::new(Side::Value))
            }),
            t(hoist_field::KEY_CLASS, || {
                Box::new(hoist_field::HoistField::new(Side::Key))
            }),
            t(hoist_field::VALUE_CLASS, || {
                Box::new(hoist_field::HoistField::new(Side::Value))
            }),
            t(insert_field::KEY_CLASS, || {
                Box::new(insert_field::InsertField::new(Side::Key))
            }),
            t(insert_field::VALUE_CLASS, || {
                Box::new(insert_field::InsertField::new(Side::Value))
            }),
            t(insert_header::CLASS, || {
                Box::new(insert_header::InsertHeader::new())
            }),
            t(regex_router::CLASS, || {
                Box::new(regex_router::RegexRouter::new())
            }),
            t(set_schema_metadata::KEY_CLASS, || {
                Box::new(set_schema_metadata::SetSchemaMetadata::new(Side::Key))
            }),
            t(set_schema_metadata::VALUE_CLASS, || {
                Box::new(set_schema_metadata::SetSchemaMetadata::new(Side::Value))
            }),
            t(timestamp_router::CLASS, || {
                Box::new(timestamp_router::TimestampRouter::new())
            }),
        ] {
            registry.register_transformation(plugin);
        }
        let p = |class: &'static str, factory: fn() -> Box<dyn Predicate>| {
            PredicatePlugin::new(class, version, factory)
        };
        for plugin in [
            p(predicates::TOPIC_NAME_MATCHES_CLASS, || {
                Box::new(predicates::TopicNameMatches::new())
            }),
            p(predicates::HAS_HEADER_KEY_CLASS, || {
                Box::new(predicates::HasHeaderKey::new())
            }),
            p(predicates::RECORD_IS_TOMBSTONE_CLASS, || {
                Box::new(predicates::RecordIsTombstone)
            }),
        ] {
            registry.register_predicate(plugin);
        }
    }
    // end group B
}

#[cfg(test)]
mod tests {
    use crate::api::Props;
    use crate::config::ConfigDef;
    use crate::registry::PluginRegistry;

    /// Every built-in transform of Connect 4.x, by its simple name.
    const TRANSFORMS: [&str; 26] = [
        "Cast$Key",
        "Cast$Value",
        "DropHeaders",
        "ExtractField$Key",
        "ExtractField$Value",
        "Filter",
        "Flatten$Key",
        "Flatten$Value",
        "HeaderFrom$Key",
        "HeaderFrom$Value",
        "HoistField$Key",
        "HoistField$Value",
        "InsertField$Key",
        "InsertField$Value",
        "InsertHeader",
        "MaskField$Key",
        "MaskField$Value",
        "RegexRouter",
        "ReplaceField$Key",
        "ReplaceField$Value",
        "SetSchemaMetadata$Key",
        "SetSchemaMetadata$Value",
        "TimestampConverter$Key",
        "TimestampConverter$Value",
        "TimestampRouter",
        "ValueToKey",
    ];
    const PREDICATES: [&str; 3] = ["HasHeaderKey", "RecordIsTombstone", "TopicNameMatches"];

    /// Every key documented; with nothing set, exactly the required keys in error.
    fn check_keys(class: &str, def: &ConfigDef) {
        for key in def.keys() {
            assert!(
                !key.documentation.trim().is_empty(),
                "{class}: {}",
                key.name
            );
        }
        for v in def.validate(&Props::new()) {
            let required = def.key(&v.name).unwrap().required();
            assert_eq!(v.errors.len(), usize::from(required), "{class}: {}", v.name);
        }
    }

    #[test]
    fn every_built_in_is_registered_under_connect_s_class_name() {
        let registry = PluginRegistry::builtin();
        for simple in TRANSFORMS {
            let class = format!("org.apache.kafka.connect.transforms.{simple}");
            let p = registry
                .transformation(&class)
                .unwrap_or_else(|| panic!("{class} missing"));
            assert_eq!(p.class_name, class);
            assert_eq!(registry.transformation(simple).unwrap().class_name, class);
            assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
            check_keys(&class, &p.create().config_def());
        }
        for simple in PREDICATES {
            let class = format!("org.apache.kafka.connect.transforms.predicates.{simple}");
            let p = registry
                .predicate(&class)
                .unwrap_or_else(|| panic!("{class} missing"));
            assert_eq!(p.class_name, class);
            assert_eq!(registry.predicate(simple).unwrap().class_name, class);
            assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
            check_keys(&class, &p.create().config_def());
        }
    }
}
