//! `org.apache.kafka.connect.transforms.InsertField$Key` / `$Value`: adds fields holding the
//! record's topic, partition, offset (sink records only), timestamp, or a static string to a
//! struct (schema present) or map (schemaless) key or value.
//!
//! A field name ending in `!` gives a required field, one ending in `?` (or neither) an
//! optional one; the suffix only matters with a schema. A null key or value is left alone.
//! Absent partition or timestamp: the field is left out of a map, null in a struct.
//!
//! Deviations from Connect: the "No value specified for static field" error names the field
//! (Connect prints an object identity), and the offset field's sink-record check happens
//! before anything is inserted.

use std::mem::{discriminant, Discriminant};

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::logical::timestamp_builder;
use crate::data::{validate_value_at, Schema, SchemaBuilder, Type, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::schema_basics::copy_schema_basics;
use crate::transforms::schema_update_cache::SchemaUpdateCache;
use crate::transforms::util::{require_map, require_struct};
use crate::transforms::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that adds fields to the key.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.InsertField$Key";
/// The class name of the transform that adds fields to the value.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.InsertField$Value";

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

const PURPOSE: &str = "field insertion";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    const SUFFIX: &str =
        " End the name with `!` for a required field, or `?` for an optional one (the default).";
    ConfigDef::new()
        .define_optional(
            TOPIC_FIELD,
            ConfigType::String,
            Importance::Medium,
            &format!("Name of the field that receives the record's topic.{SUFFIX}"),
        )
        .define_optional(
            PARTITION_FIELD,
            ConfigType::String,
            Importance::Medium,
            &format!("Name of the field that receives the record's Kafka partition.{SUFFIX}"),
        )
        .define_optional(
            OFFSET_FIELD,
            ConfigType::String,
            Importance::Medium,
            &format!(
                "Name of the field that receives the record's Kafka offset; sink connectors \
                 only.{SUFFIX}"
            ),
        )
        .define_optional(
            TIMESTAMP_FIELD,
            ConfigType::String,
            Importance::Medium,
            &format!("Name of the field that receives the record's timestamp.{SUFFIX}"),
        )
        .define_optional(
            STATIC_FIELD,
            ConfigType::String,
            Importance::Medium,
            &format!("Name of the field that receives `static.value`.{SUFFIX}"),
        )
        .define_optional(
            STATIC_VALUE,
            ConfigType::String,
            Importance::Medium,
            "The string put in `static.field`.",
        )
        .define(
            REPLACE_NULL_WITH_DEFAULT,
            ConfigType::Boolean,
            Some("true"),
            None,
            Importance::Medium,
            "When copying the existing fields of a struct, whether a null field that has a \
             default value gets that default (true) or stays null (false).",
        )
}

/// A field to insert: its name and whether it is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(spec: Option<String>) -> Option<Spec> {
        let spec = spec?;
        Some(if let Some(name) = spec.strip_suffix('?') {
            Spec {
                name: name.to_string(),
                optional: true,
            }
        } else if let Some(name) = spec.strip_suffix('!') {
            Spec {
                name: name.to_string(),
                optional: false,
            }
        } else {
            Spec {
                name: spec,
                optional: true,
            }
        })
    }

    fn schema(&self, required: Schema, optional: Schema) -> Schema {
        if self.optional {
            optional
        } else {
            required
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Insertions {
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
}

impl Insertions {
    /// The struct schema with the configured fields after the existing ones.
    fn updated_schema(&self, schema: &Schema) -> ConnectResult<Schema> {
        if schema.ty() != crate::data::Type::Struct {
            return Err(ConnectError::data("Cannot list fields on non-struct type"));
        }
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in schema.fields() {
            b = b.field(&f.name, f.schema.clone());
        }
        if let Some(s) = &self.topic {
            b = b.field(
                &s.name,
                s.schema(Schema::string(), Schema::optional_string()),
            );
        }
        if let Some(s) = &self.partition {
            b = b.field(&s.name, s.schema(Schema::int32(), Schema::optional_int32()));
        }
        if let Some(s) = &self.offset {
            b = b.field(&s.name, s.schema(Schema::int64(), Schema::optional_int64()));
        }
        if let Some(s) = &self.timestamp {
            let required = timestamp_builder().build();
            let optional = timestamp_builder().optional().build();
            b = b.field(&s.name, s.schema(required, optional));
        }
        if let Some(s) = &self.static_field {
            b = b.field(
                &s.name,
                s.schema(Schema::string(), Schema::optional_string()),
            );
        }
        b.try_build()
    }
}

/// What is derived once per input schema: the updated schema and how to check the copied
/// values cheaply.
#[derive(Debug, Clone)]
struct Updated {
    schema: Schema,
    /// Per input field, the one value kind it takes, when every field is an unnamed primitive
    /// without a default: a value is then valid exactly when it has that kind (or is null
    /// and the field optional), a comparison of tags. `None`: each value takes the full check.
    kinds: Option<Box<[PlainField]>>,
    /// Whether any input field has a default (`replace.null.with.default` has work to do).
    defaults: bool,
}

#[derive(Debug, Clone, Copy)]
struct PlainField {
    kind: Discriminant<Value>,
    optional: bool,
}

impl Updated {
    fn new(input: &Schema, schema: Schema) -> Updated {
        let fields = input.fields();
        let kinds = fields
            .iter()
            .map(|f| {
                let s = &f.schema;
                let plain = s.name().is_none() && s.default_value().is_none();
                let kind = plain.then(|| primitive_kind(s.ty())).flatten()?;
                Some(PlainField {
                    kind,
                    optional: s.is_optional(),
                })
            })
            .collect();
        Updated {
            schema,
            kinds,
            defaults: fields.iter().any(|f| f.schema.default_value().is_some()),
        }
    }
}

/// The kind of the values of a primitive type; `None` for the container types.
fn primitive_kind(ty: Type) -> Option<Discriminant<Value>> {
    let sample = match ty {
        Type::Int8 => Value::Int8(0),
        Type::Int16 => Value::Int16(0),
        Type::Int32 => Value::Int32(0),
        Type::Int64 => Value::Int64(0),
        Type::Float32 => Value::Float32(0.0),
        Type::Float64 => Value::Float64(0.0),
        Type::Boolean => Value::Boolean(false),
        Type::String => Value::String(String::new()),
        Type::Bytes => Value::Bytes(Vec::new()),
        Type::Array | Type::Map | Type::Struct => return None,
    };
    Some(discriminant(&sample))
}

/// The record metadata the inserted fields take their values from.
struct Metadata {
    topic: String,
    partition: Option<i32>,
    offset: Option<i64>,
    timestamp: Option<i64>,
}

/// Adds fields with the record's topic, partition, offset, timestamp or a static value (Connect's
/// `InsertField`).
#[derive(Debug)]
pub struct InsertField {
    side: Side,
    insert: Insertions,
    schemas: SchemaUpdateCache<Updated>,
}

impl InsertField {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        InsertField {
            side,
            insert: Insertions::default(),
            schemas: SchemaUpdateCache::new(),
        }
    }

    fn apply_schemaless(&self, value: &mut Value, meta: Metadata) -> ConnectResult<()> {
        require_map(value, PURPOSE)?;
        let Value::Map(entries) = value else {
            return Ok(());
        };
        let ins = &self.insert;
        let mut put = |name: &str, v: Value| {
            match entries.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
                Some((_, old)) => *old = v,
                None => entries.push((Value::String(name.to_string()), v)),
            };
        };
        if let Some(s) = &ins.topic {
            put(&s.name, Value::String(meta.topic));
        }
        if let (Some(s), Some(p)) = (&ins.partition, meta.partition) {
            put(&s.name, Value::Int32(p));
        }
        if let (Some(s), Some(o)) = (&ins.offset, meta.offset) {
            put(&s.name, Value::Int64(o));
        }
        if let (Some(s), Some(t)) = (&ins.timestamp, meta.timestamp) {
            put(&s.name, Value::Int64(t));
        }
        if let (Some(s), Some(v)) = (&ins.static_field, &ins.static_value) {
            put(&s.name, Value::String(v.clone()));
        }
        Ok(())
    }

    /// Turns the struct in `value` (checked to be one) into the updated struct, in place: the
    /// fields' values move over, so nothing is copied but what is inserted, and the updated
    /// schema is the one cached for the input schema (a pointer comparison per record). Every
    /// value is checked first, so a record that fails is left as it was.
    fn update_struct(
        &mut self,
        schema_slot: &mut Option<Schema>,
        value: &mut Value,
        meta: Metadata,
    ) -> ConnectResult<()> {
        let Value::Struct(original) = value else {
            return Ok(());
        };
        let ins = &self.insert;
        let updated = self.schemas.get_or_build_ref(&original.schema, || {
            let schema = ins.updated_schema(&original.schema)?;
            Ok(Updated::new(&original.schema, schema))
        })?;
        let fields = original.schema.fields();
        let quick = updated.kinds.as_deref();
        for (i, f) in fields.iter().enumerate() {
            let mut v = original.values.get(i).unwrap_or(&Value::Null);
            if let Some(kinds) = quick {
                let k = kinds[i];
                if if v.is_null() {
                    k.optional
                } else {
                    discriminant(v) == k.kind
                } {
                    continue;
                }
            }
            if v.is_null() && ins.replace_null_with_default {
                v = f.schema.default_value().unwrap_or(v);
            }
            // `Struct.put` checks each value against its field's schema.
            validate_value_at(&f.name, &f.schema, v)?;
        }
        let defaults = updated.defaults;
        let updated = updated.schema.clone();
        let values = &mut original.values;
        if values.len() != fields.len() {
            values.resize(fields.len(), Value::Null);
        }
        if ins.replace_null_with_default && defaults {
            for (v, f) in values.iter_mut().zip(fields) {
                if v.is_null() {
                    if let Some(d) = f.schema.default_value() {
                        *v = d.clone();
                    }
                }
            }
        }
        // Within the struct's room (`Struct::ROOM`) this moves nothing.
        values.reserve_exact(updated.fields().len() - fields.len());
        if ins.topic.is_some() {
            values.push(Value::String(meta.topic));
        }
        if ins.partition.is_some() {
            values.push(meta.partition.map_or(Value::Null, Value::Int32));
        }
        if ins.offset.is_some() {
            values.push(meta.offset.map_or(Value::Null, Value::Int64));
        }
        if ins.timestamp.is_some() {
            values.push(meta.timestamp.map_or(Value::Null, Value::Timestamp));
        }
        if ins.static_field.is_some() {
            values.push(match &ins.static_value {
                Some(v) => Value::String(v.clone()),
                None => Value::Null,
            });
        }
        original.schema = updated.clone();
        *schema_slot = Some(updated);
        Ok(())
    }
}

impl Transformation for InsertField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let c = config_def().parse(props)?;
        let insert = Insertions {
            topic: Spec::parse(c.opt_string(TOPIC_FIELD)),
            partition: Spec::parse(c.opt_string(PARTITION_FIELD)),
            offset: Spec::parse(c.opt_string(OFFSET_FIELD)),
            timestamp: Spec::parse(c.opt_string(TIMESTAMP_FIELD)),
            static_field: Spec::parse(c.opt_string(STATIC_FIELD)),
            static_value: c.opt_string(STATIC_VALUE),
            replace_null_with_default: c.boolean(REPLACE_NULL_WITH_DEFAULT)?,
        };
        if insert.topic.is_none()
            && insert.partition.is_none()
            && insert.offset.is_none()
            && insert.timestamp.is_none()
            && insert.static_field.is_none()
        {
            return Err(ConnectError::config("No field insertion configured"));
        }
        if let (Some(field), None) = (&insert.static_field, &insert.static_value) {
            return Err(ConnectError::config(format!(
                "Invalid value null for configuration {STATIC_VALUE}: No value specified for \
                 static field: {}",
                field.name
            )));
        }
        self.insert = insert;
        self.schemas.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        // Only what the configured fields take from the record is read (the offset also for
        // the check below).
        let ins = &self.insert;
        let meta = Metadata {
            topic: if ins.topic.is_some() {
                record.topic().to_string()
            } else {
                String::new()
            },
            partition: ins
                .partition
                .as_ref()
                .and_then(|_| record.kafka_partition()),
            offset: ins.offset.as_ref().and_then(|_| record.kafka_offset()),
            timestamp: ins.timestamp.as_ref().and_then(|_| record.timestamp()),
        };
        let (schema, value) = self.side.get_mut(record);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        let schemaless = schema.is_none();
        // Checked before anything changes, so a failing record is left as it was.
        if schemaless {
            require_map(value, PURPOSE)?;
        } else {
            require_struct(value, PURPOSE)?;
        }
        if ins.offset.is_some() && meta.offset.is_none() {
            return Err(ConnectError::data(format!(
                "Only SinkRecord supported for [{PURPOSE}], found: \
                 org.apache.kafka.connect.source.SourceRecord"
            )));
        }
        if schemaless {
            self.apply_schemaless(value, meta)?;
        } else {
            self.update_struct(schema, value, meta)?;
        }
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.schemas.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{LogicalType, Struct, Type};
    use crate::transforms::test_records::{configured, map, props, sink, source};
    use std::sync::Arc;

    const ALL: [(&str, &str); 5] = [
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    fn simple_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", Schema::optional_int64())
            .build()
    }

    #[test]
    fn copies_the_schema_and_inserts_every_configured_field() {
        let mut t = configured("InsertField$Value", &ALL);
        let schema = simple_schema();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("magic", 42i64)
            .unwrap();
        let mut r = source(
            "test",
            None,
            Value::Null,
            Some(schema.clone()),
            value.into(),
        );
        r.timestamp = Some(789);
        t.apply(&mut r).unwrap();

        let out = r.value_schema.clone().unwrap();
        assert_eq!(out.name(), Some("name"));
        assert_eq!(out.version(), Some(1));
        assert_eq!(out.doc(), Some("doc"));
        let field = |n: &str| out.field(n).unwrap().schema.clone();
        assert_eq!(field("magic"), Schema::optional_int64());
        assert_eq!(field("topic_field"), Schema::string());
        assert_eq!(field("partition_field"), Schema::optional_int32());
        assert_eq!(
            field("timestamp_field"),
            timestamp_builder().optional().build()
        );
        assert_eq!(
            field("timestamp_field").logical_type(),
            Some(LogicalType::Timestamp)
        );
        assert_eq!(field("instance_id"), Schema::optional_string());

        let s = r.value.as_struct().unwrap();
        assert!(Arc::ptr_eq(&s.schema.0, &out.0));
        assert_eq!(s.get("magic").unwrap(), &Value::Int64(42));
        assert_eq!(s.get("topic_field").unwrap(), &Value::from("test"));
        assert_eq!(s.get("partition_field").unwrap(), &Value::Int32(0));
        assert_eq!(s.get("timestamp_field").unwrap(), &Value::Timestamp(789));
        assert_eq!(
            s.get("instance_id").unwrap(),
            &Value::from("my-instance-id")
        );
        s.validate().unwrap();

        // The same input schema gives the same output schema object.
        let mut again = source(
            "test",
            None,
            Value::Null,
            Some(schema.clone()),
            Struct::new(schema).unwrap().into(),
        );
        again.partition = Some(1);
        t.apply(&mut again).unwrap();
        assert!(Arc::ptr_eq(&again.value_schema.unwrap().0, &out.0));
    }

    /// The values of a struct that `Struct::new`, a clone or the JSON converter made stay
    /// where they are when two fields are added: nothing is reallocated or moved per record.
    #[test]
    fn inserted_fields_grow_the_struct_in_place() {
        use crate::converters::{Converter, JsonConverter};
        let mut t = configured(
            "InsertField$Value",
            &[
                ("static.field", "origin"),
                ("static.value", "here"),
                ("partition.field", "p"),
            ],
        );
        let schema = simple_schema();
        let made = Struct::new(schema.clone())
            .unwrap()
            .with("magic", 7i64)
            .unwrap();
        let cloned = made.clone();
        let mut json = JsonConverter::new();
        json.configure(&props(&[("schemas.enable", "true")]), false)
            .unwrap();
        let bytes = json
            .from_connect("t", Some(&schema), &Value::Struct(made.clone()))
            .unwrap()
            .unwrap();
        let read = json.to_connect("t", Some(&bytes)).unwrap();
        for (how, value) in [
            ("Struct::new", Value::Struct(made)),
            ("a clone", Value::Struct(cloned)),
            ("the JSON converter", read.value),
        ] {
            let before = value.as_struct().unwrap().values.as_ptr();
            let mut r = source("t", None, Value::Null, Some(schema.clone()), value);
            t.apply(&mut r).unwrap();
            let s = r.value.as_struct().unwrap();
            assert_eq!(
                s.values,
                [Value::Int64(7), Value::Int32(0), Value::from("here")],
                "{how}"
            );
            assert_eq!(s.values.as_ptr(), before, "{how}: the values moved");
        }
    }

    #[test]
    fn schemaless_map_gets_the_fields_as_plain_values() {
        let mut t = configured("InsertField$Value", &ALL);
        let mut r = source(
            "test",
            None,
            Value::Null,
            None,
            map(&[("magic", Value::Int64(42))]),
        );
        r.timestamp = Some(123);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value_schema, None);
        assert_eq!(
            r.value,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic_field", "test".into()),
                ("partition_field", Value::Int32(0)),
                ("timestamp_field", Value::Int64(123)),
                ("instance_id", "my-instance-id".into()),
            ])
        );
    }

    #[test]
    fn schemaless_fields_overwrite_existing_keys_and_skip_absent_metadata() {
        let mut t = configured("InsertField$Value", &ALL);
        let mut r = source(
            "test",
            None,
            Value::Null,
            None,
            map(&[("topic_field", "old".into()), ("a", Value::Int8(1))]),
        );
        r.partition = None;
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            map(&[
                ("topic_field", "test".into()),
                ("a", Value::Int8(1)),
                ("instance_id", "my-instance-id".into()),
            ])
        );
    }

    #[test]
    fn tombstones_and_null_keys_are_left_alone() {
        let mut t = configured("InsertField$Value", &ALL);
        let mut r = source("test", None, Value::Null, None, Value::Null);
        let before = r.clone();
        t.apply(&mut r).unwrap();
        assert_eq!(r, before);

        let mut r = source(
            "test",
            None,
            Value::Null,
            Some(simple_schema()),
            Value::Null,
        );
        let before = r.clone();
        t.apply(&mut r).unwrap();
        assert_eq!(r, before);

        let mut k = configured("InsertField$Key", &ALL);
        let mut r = source(
            "test",
            None,
            Value::Null,
            None,
            map(&[("magic", Value::Int64(42))]),
        );
        let before = r.clone();
        k.apply(&mut r).unwrap();
        assert_eq!(r, before);
    }

    #[test]
    fn key_side_of_a_tombstone() {
        let mut k = configured("InsertField$Key", &ALL);
        let mut r = source(
            "test",
            None,
            map(&[("magic", Value::Int64(42))]),
            None,
            Value::Null,
        );
        k.apply(&mut r).unwrap();
        assert_eq!(
            r.key,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic_field", "test".into()),
                ("partition_field", Value::Int32(0)),
                ("instance_id", "my-instance-id".into()),
            ])
        );
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn null_fields_with_defaults_follow_replace_null_with_default() {
        for (replace, expected) in [("false", Value::Null), ("true", Value::Int64(42))] {
            let mut cfg = ALL.to_vec();
            cfg.push(("replace.null.with.default", replace));
            let mut t = configured("InsertField$Value", &cfg);
            let magic = SchemaBuilder::new(Type::Int64)
                .optional()
                .default_value(Value::Int64(42))
                .build();
            let schema = SchemaBuilder::struct_()
                .name("name")
                .field("magic_with_default", magic.clone())
                .build();
            let value = Struct::new(schema.clone()).unwrap();
            let mut r = source("test", None, Value::Null, Some(schema), value.into());
            t.apply(&mut r).unwrap();
            let out = r.value_schema.unwrap();
            assert_eq!(out.field("magic_with_default").unwrap().schema, magic);
            let s = r.value.as_struct().unwrap();
            assert_eq!(
                s.get_without_default("magic_with_default").unwrap(),
                &expected
            );
        }
    }

    #[test]
    fn a_struct_with_a_bad_field_fails_and_is_left_as_it_was() {
        let mut t = configured(
            "InsertField$Value",
            &[("static.field", "origin"), ("static.value", "x")],
        );
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::string())
            .build();
        // `b` is required and unset: Connect's `Struct.put` refuses it.
        let value = Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![Value::Int32(1), Value::Null],
        });
        let mut r = source("test", None, Value::Null, Some(schema.clone()), value);
        let before = r.clone();
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Invalid value: null used for required field: \"b\", schema type: STRING"
            )
        );
        assert_eq!(r, before);

        // A value of the wrong kind, after a record of the same schema went through (the
        // schema's checks are cached): the full check's message, the record untouched.
        let good = Struct::new(schema.clone())
            .unwrap()
            .with("a", 1)
            .unwrap()
            .with("b", "x")
            .unwrap();
        let mut ok = source("test", None, Value::Null, Some(schema.clone()), good.into());
        t.apply(&mut ok).unwrap();
        let bad = Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![Value::Int64(1), Value::from("x")],
        });
        let mut r = source("test", None, Value::Null, Some(schema), bad);
        let before = r.clone();
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Invalid value for schema with type INT32: INT64 for field: \"a\"")
        );
        assert_eq!(r, before);
    }

    #[test]
    fn offset_needs_a_sink_record() {
        let mut t = configured("InsertField$Value", &[("offset.field", "off!")]);
        let mut r = sink("t", None, Value::Null, None, map(&[]));
        r.offset = 77;
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("off", Value::Int64(77))]));

        let schema = SchemaBuilder::struct_().build();
        let mut r = sink(
            "t",
            None,
            Value::Null,
            Some(schema.clone()),
            Struct::new(schema.clone()).unwrap().into(),
        );
        r.offset = 78;
        t.apply(&mut r).unwrap();
        let out = r.value_schema.clone().unwrap();
        assert_eq!(out.field("off").unwrap().schema, Schema::int64());
        assert_eq!(
            r.value.as_struct().unwrap().get("off").unwrap(),
            &Value::Int64(78)
        );

        let mut s = source("t", None, Value::Null, None, map(&[]));
        let before = s.clone();
        assert_eq!(
            t.apply(&mut s).unwrap_err(),
            ConnectError::data(
                "Only SinkRecord supported for [field insertion], found: \
                 org.apache.kafka.connect.source.SourceRecord"
            )
        );
        assert_eq!(s, before);
    }

    #[test]
    fn wrong_operands_are_refused_with_connect_s_messages() {
        let mut t = configured("InsertField$Value", &[("topic.field", "topic_field")]);
        let mut r = source(
            "",
            None,
            Value::Null,
            Some(Schema::int32()),
            Value::Int32(42),
        );
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Struct objects supported for [field insertion], found: java.lang.Integer"
            )
        );
        let mut r = source("", None, Value::Null, None, Value::Int32(42));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [field insertion], found: \
                 java.lang.Integer"
            )
        );
        // A field that already exists cannot be added again.
        let schema = SchemaBuilder::struct_()
            .field("topic_field", Schema::string())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("topic_field", "x")
            .unwrap();
        let mut r = source("t", None, Value::Null, Some(schema), value.into());
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Cannot create field because of field name duplication topic_field")
        );
    }

    #[test]
    fn configuration_errors() {
        let mut t = InsertField::new(Side::Value);
        assert_eq!(
            t.configure(&props(&[])).unwrap_err(),
            ConnectError::config("No field insertion configured")
        );
        assert_eq!(
            t.configure(&props(&[("static.value", "v")])).unwrap_err(),
            ConnectError::config("No field insertion configured")
        );
        assert_eq!(
            t.configure(&props(&[("static.field", "s!")])).unwrap_err(),
            ConnectError::config(
                "Invalid value null for configuration static.value: No value specified for \
                 static field: s"
            )
        );
        assert_eq!(
            t.configure(&props(&[
                ("topic.field", "t"),
                ("replace.null.with.default", "maybe")
            ]))
            .unwrap_err(),
            ConnectError::config(
                "Invalid value maybe for configuration replace.null.with.default: Expected value \
                 to be either true or false"
            )
        );
        let def = config_def();
        assert_eq!(def.keys().len(), 7);
        assert_eq!(
            def.key("replace.null.with.default")
                .unwrap()
                .default_string()
                .as_deref(),
            Some("true")
        );
    }

    #[test]
    fn suffixes_choose_optionality() {
        assert_eq!(
            Spec::parse(Some("a!".into())),
            Some(Spec {
                name: "a".into(),
                optional: false
            })
        );
        assert_eq!(
            Spec::parse(Some("a?".into())),
            Some(Spec {
                name: "a".into(),
                optional: true
            })
        );
        assert_eq!(
            Spec::parse(Some("a".into())),
            Some(Spec {
                name: "a".into(),
                optional: true
            })
        );
        assert_eq!(Spec::parse(None), None);
    }
}
