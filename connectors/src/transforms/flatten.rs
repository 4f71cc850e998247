//! `org.apache.kafka.connect.transforms.Flatten$Key` / `$Value`: lifts the fields of nested
//! structs (schema present) or maps (schemaless) to the top level, naming each by its path
//! joined with `delimiter` (`a.b.c`). Arrays, and what they contain, are left as they are; a
//! null key or value is left alone, schema included.
//!
//! With a schema, a flattened field is optional when it or any struct above it is optional,
//! and takes its default from its own schema or else from the default of the struct above it.
//! A MAP field in a struct schema is refused, as in Connect.
//!
//! Deviations from Connect:
//! - A schemaless map with a key that is not a string is refused with a data error (Connect
//!   fails with a `ClassCastException`).
//! - A struct value must carry the record's schema (Connect copies its fields by name into the
//!   schema flattened from the record's schema).

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::{validate_value_at, Schema, SchemaBuilder, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::schema_basics::{copy_schema, copy_schema_basics};
use crate::transforms::schema_update_cache::SchemaUpdateCache;
use crate::transforms::util::{java_class_name, require_map, require_struct};
use crate::transforms::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that flattens the key.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.Flatten$Key";
/// The class name of the transform that flattens the value.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.Flatten$Value";

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        DELIMITER,
        ConfigType::String,
        Some("."),
        None,
        Importance::Medium,
        "Text put between the names of the nested fields when naming a flattened field.",
    )
}

/// Flattens nested structs and maps into one level, joining names with `delimiter` (Connect's
/// `Flatten`).
#[derive(Debug)]
pub struct Flatten {
    side: Side,
    delimiter: String,
    schemas: SchemaUpdateCache,
}

impl Flatten {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        Flatten {
            side,
            delimiter: ".".to_string(),
            schemas: SchemaUpdateCache::new(),
        }
    }
}

fn field_name(delimiter: &str, prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}{delimiter}{name}")
    }
}

fn unsupported_with_schema(ty: Type, field: &str) -> ConnectError {
    ConnectError::data(format!(
        "Flatten transformation does not support {ty} for record with schemas (for field {field})."
    ))
}

/// The flattened struct schema of `schema`.
fn flattened_schema(schema: &Schema, delimiter: &str) -> ConnectResult<Schema> {
    if schema.ty() != Type::Struct {
        return Err(ConnectError::data("Cannot list fields on non-struct type"));
    }
    let b = copy_schema_basics(schema, SchemaBuilder::struct_());
    let default = schema.default_value().and_then(Value::as_struct);
    add_fields(schema, "", b, schema.is_optional(), default, delimiter)?.try_build()
}

/// Adds the flattened fields of struct `schema` to `b`: `optional` when any struct above is,
/// with defaults taken from `parent_default`, the default of the struct above, when the field
/// has none of its own.
fn add_fields(
    schema: &Schema,
    prefix: &str,
    mut b: SchemaBuilder,
    optional: bool,
    parent_default: Option<&Struct>,
    delimiter: &str,
) -> ConnectResult<SchemaBuilder> {
    for (i, f) in schema.fields().iter().enumerate() {
        let name = field_name(delimiter, prefix, &f.name);
        let field_optional = optional || f.schema.is_optional();
        let default = match f.schema.default_value() {
            Some(d) if !d.is_null() => Some(d),
            _ => parent_default.map(|p| p.get_at(i)).filter(|v| !v.is_null()),
        };
        match f.schema.ty() {
            Type::Map => return Err(unsupported_with_schema(Type::Map, &name)),
            Type::Struct => {
                let nested_default = default.and_then(Value::as_struct);
                b = add_fields(
                    &f.schema,
                    &name,
                    b,
                    field_optional,
                    nested_default,
                    delimiter,
                )?;
            }
            _ => {
                let mut fb = copy_schema(&f.schema);
                if field_optional {
                    fb = fb.optional();
                }
                if let Some(d) = default {
                    fb = fb.default_value(d.clone());
                }
                b = b.field(name, fb.build());
            }
        }
    }
    Ok(b)
}

/// Appends the flattened values of `s` to `out`, checking each against `schema`'s field at
/// the same position as `Struct.put` does. Returns the next position.
fn flatten_struct(
    s: &Struct,
    schema: &Schema,
    mut at: usize,
    out: &mut Vec<Value>,
) -> ConnectResult<usize> {
    for (i, f) in s.schema.fields().iter().enumerate() {
        match f.schema.ty() {
            Type::Struct => match s.values.get(i) {
                Some(Value::Struct(nested)) => {
                    at = flatten_struct(nested, schema, at, out)?;
                }
                // A null nested struct leaves its flattened fields null.
                _ => {
                    let count = leaf_count(&f.schema);
                    out.extend(std::iter::repeat_n(Value::Null, count));
                    at += count;
                }
            },
            _ => {
                let v = s.get_at(i);
                let target = schema.fields().get(at).ok_or_else(|| {
                    ConnectError::data(format!(
                        "The struct's schema is not the record's schema for [{PURPOSE}]"
                    ))
                })?;
                validate_value_at(&target.name, &target.schema, v)?;
                out.push(v.clone());
                at += 1;
            }
        }
    }
    Ok(at)
}

/// How many flattened fields a struct schema gives.
fn leaf_count(schema: &Schema) -> usize {
    schema
        .fields()
        .iter()
        .map(|f| match f.schema.ty() {
            Type::Struct => leaf_count(&f.schema),
            _ => 1,
        })
        .sum()
}

/// Flattens the schemaless map `entries` into `out`, later keys replacing equal earlier ones
/// in place (a `LinkedHashMap.put`).
fn flatten_map(
    entries: &[(Value, Value)],
    prefix: &str,
    delimiter: &str,
    out: &mut Vec<(Value, Value)>,
) -> ConnectResult<()> {
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            return Err(ConnectError::data(format!(
                "Flatten transformation needs string keys in maps without schemas, found a \
                 key of type {} under \"{prefix}\"",
                java_class_name(k)
            )));
        };
        let name = field_name(delimiter, prefix, key);
        match v {
            Value::Map(nested) => flatten_map(nested, &name, delimiter, out)?,
            Value::Struct(_) => {
                return Err(ConnectError::data(format!(
                    "Flatten transformation does not support class {} for record without \
                     schemas (for field {name}).",
                    java_class_name(v)
                )))
            }
            Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
                return Err(ConnectError::data(format!(
                    "Flatten transformation was passed a value of type class {} which is not \
                     supported by Connect's data API",
                    java_class_name(v)
                )))
            }
            _ => match out.iter_mut().find(|(k, _)| k.as_str() == Some(&name)) {
                Some((_, old)) => *old = v.clone(),
                None => out.push((Value::String(name), v.clone())),
            },
        }
    }
    Ok(())
}

impl Transformation for Flatten {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.delimiter = config_def().parse(props)?.string(DELIMITER)?;
        self.schemas.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        match schema.clone() {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                flatten_map(entries, "", &self.delimiter, &mut out)?;
                *value = Value::Map(out);
            }
            Some(input) => {
                let original = require_struct(value, PURPOSE)?;
                let delimiter = &self.delimiter;
                let flat = self
                    .schemas
                    .get_or_build(&input, || flattened_schema(&input, delimiter))?;
                // Flattened by position: the struct must carry the record's schema.
                if !original.schema.same_struct_schema(&input) {
                    return Err(ConnectError::data(format!(
                        "The struct's schema is not the record's schema for [{PURPOSE}]"
                    )));
                }
                let mut values = Vec::with_capacity(flat.fields().len());
                flatten_struct(original, &flat, 0, &mut values)?;
                *value = Value::Struct(Struct {
                    schema: flat.clone(),
                    values,
                });
                *schema = Some(flat);
            }
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
    use crate::transforms::test_records::{configured, map, props, source};
    use std::sync::Arc;

    fn supported_types_schema() -> Schema {
        SchemaBuilder::struct_()
            .field("int8", Schema::int8())
            .field("int16", Schema::int16())
            .field("int32", Schema::int32())
            .field("int64", Schema::int64())
            .field("float32", Schema::float32())
            .field("float64", Schema::float64())
            .field("boolean", Schema::boolean())
            .field("string", Schema::string())
            .field("bytes", Schema::bytes())
            .build()
    }

    fn supported_values() -> Vec<(&'static str, Value)> {
        vec![
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.0)),
            ("float64", Value::Float64(64.0)),
            ("boolean", Value::Boolean(true)),
            ("string", "stringy".into()),
            ("bytes", Value::Bytes(b"bytes".to_vec())),
        ]
    }

    #[test]
    fn nested_structs_flatten_to_dotted_names() {
        let mut t = configured("Flatten$Value", &[]);
        let inner = supported_types_schema();
        let one = SchemaBuilder::struct_().field("B", inner.clone()).build();
        let two = SchemaBuilder::struct_().field("A", one.clone()).build();
        let mut s = Struct::new(inner).unwrap();
        for (k, v) in supported_values() {
            s.put(k, v).unwrap();
        }
        let b = Struct::new(one).unwrap().with("B", s).unwrap();
        let a = Struct::new(two.clone()).unwrap().with("A", b).unwrap();
        let mut r = source("topic", None, Value::Null, Some(two), a.into());
        t.apply(&mut r).unwrap();

        let out = r.value_schema.clone().unwrap();
        assert_eq!(out.ty(), Type::Struct);
        assert_eq!(out.fields().len(), 9);
        let s = r.value.as_struct().unwrap();
        assert!(Arc::ptr_eq(&s.schema.0, &out.0));
        for (k, v) in supported_values() {
            let name = format!("A.B.{k}");
            assert_eq!(s.get(&name).unwrap(), &v, "{name}");
            assert!(!out.field(&name).unwrap().schema.is_optional());
        }
        s.validate().unwrap();
    }

    #[test]
    fn nested_maps_flatten_with_the_delimiter() {
        let mut t = configured("Flatten$Value", &[("delimiter", "#")]);
        let inner = map(&supported_values());
        let value = map(&[("A", map(&[("B", inner)]))]);
        let mut r = source("topic", None, Value::Null, None, value);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value_schema, None);
        let expected: Vec<(String, Value)> = supported_values()
            .into_iter()
            .map(|(k, v)| (format!("A#B#{k}"), v))
            .collect();
        let expected = Value::Map(
            expected
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
        );
        assert_eq!(r.value, expected);
    }

    #[test]
    fn key_side() {
        let mut t = configured("Flatten$Key", &[]);
        let key = map(&[("A", map(&[("B", Value::Int32(12))]))]);
        let mut r = source("topic", None, key, None, Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.key, map(&[("A.B", Value::Int32(12))]));
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn optional_fields_and_structs() {
        let mut t = configured("Flatten$Value", &[]);
        // A null optional field inside a struct.
        let inner = SchemaBuilder::struct_()
            .field("opt_int32", Schema::optional_int32())
            .build();
        let outer = SchemaBuilder::struct_().field("B", inner.clone()).build();
        let value = Struct::new(outer.clone())
            .unwrap()
            .with("B", Struct::new(inner).unwrap())
            .unwrap();
        let mut r = source("topic", None, Value::Null, Some(outer), value.into());
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value.as_struct().unwrap().get("B.opt_int32").unwrap(),
            &Value::Null
        );

        // A null optional nested struct.
        let inner = SchemaBuilder::struct_()
            .optional()
            .field("opt_int32", Schema::optional_int32())
            .build();
        let outer = SchemaBuilder::struct_().field("B", inner).build();
        let value = Struct::new(outer.clone()).unwrap();
        let mut r = source("topic", None, Value::Null, Some(outer), value.into());
        t.apply(&mut r).unwrap();
        let s = r.value.as_struct().unwrap();
        assert_eq!(s.get("B.opt_int32").unwrap(), &Value::Null);
        s.validate().unwrap();

        // A null value is left alone, its (nested) schema included.
        let inner = SchemaBuilder::struct_()
            .optional()
            .field("opt_int32", Schema::optional_int32())
            .build();
        let schema = SchemaBuilder::struct_()
            .optional()
            .field("B", inner)
            .build();
        let mut r = source(
            "topic",
            None,
            Value::Null,
            Some(schema.clone()),
            Value::Null,
        );
        t.apply(&mut r).unwrap();
        assert!(Arc::ptr_eq(&r.value_schema.unwrap().0, &schema.0));
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn optionality_and_defaults_come_down_from_parents() {
        let mut t = configured("Flatten$Value", &[]);
        let child = SchemaBuilder::struct_()
            .optional()
            .field("req_field", Schema::string())
            .field(
                "opt_field",
                SchemaBuilder::new(Type::String)
                    .optional()
                    .default_value("child_default".into())
                    .build(),
            );
        let child_default = Struct::new(child.clone().build())
            .unwrap()
            .with("req_field", "req_default")
            .unwrap();
        let schema = child.default_value(child_default.into()).build();
        let value = Struct::new(schema.clone()).unwrap();
        let mut r = source("topic", None, Value::Null, Some(schema), value.into());
        t.apply(&mut r).unwrap();
        let out = r.value_schema.unwrap();
        assert_eq!(out.fields().len(), 2);
        assert_eq!(
            out.field("req_field").unwrap().schema,
            SchemaBuilder::new(Type::String)
                .optional()
                .default_value("req_default".into())
                .build()
        );
        assert_eq!(
            out.field("opt_field").unwrap().schema,
            SchemaBuilder::new(Type::String)
                .optional()
                .default_value("child_default".into())
                .build()
        );
        // The flattened schema itself is neither optional nor defaulted.
        assert!(!out.is_optional());
        assert_eq!(out.default_value(), None);
    }

    #[test]
    fn arrays_are_left_as_they_are() {
        let mut t = configured("Flatten$Value", &[]);
        let value = map(&[(
            "foo",
            Value::Array(vec![
                "bar".into(),
                map(&[("baz", map(&[("lfg", "lfg".into())]))]),
            ]),
        )]);
        let mut r = source("topic", None, Value::Null, None, value.clone());
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, value);

        let nested = SchemaBuilder::struct_()
            .field("lfg", Schema::string())
            .build();
        let inner = SchemaBuilder::struct_()
            .field("baz", nested.clone())
            .build();
        let schema = SchemaBuilder::struct_()
            .field(
                "foo",
                SchemaBuilder::array(inner.clone()).doc("durk").build(),
            )
            .build();
        let n = Struct::new(nested).unwrap().with("lfg", "lfg").unwrap();
        let i = Struct::new(inner).unwrap().with("baz", n).unwrap();
        let v = Struct::new(schema.clone())
            .unwrap()
            .with("foo", Value::Array(vec![i.into()]))
            .unwrap();
        let mut r = source(
            "topic",
            None,
            Value::Null,
            Some(schema.clone()),
            v.clone().into(),
        );
        t.apply(&mut r).unwrap();
        assert_eq!(r.value_schema.unwrap(), schema);
        assert_eq!(r.value, Value::Struct(v));
    }

    #[test]
    fn nulls_keep_their_place() {
        let mut t = configured("Flatten$Value", &[]);
        let value = map(&[
            ("firstNull", Value::Null),
            ("firstNonNull", "nonNull".into()),
            ("secondNull", Value::Null),
            ("secondNonNull", "alsoNonNull".into()),
            ("thirdNonNull", Value::Null),
        ]);
        let mut r = source("test", None, Value::Null, None, value.clone());
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, value);

        let mut b = SchemaBuilder::struct_();
        for n in [
            "firstNull",
            "firstNonNull",
            "secondNull",
            "secondNonNull",
            "thirdNonNull",
        ] {
            b = b.field(n, Schema::optional_string());
        }
        let schema = b.build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .with("firstNonNull", "nonNull")
            .unwrap()
            .with("secondNonNull", "alsoNonNull")
            .unwrap();
        let mut r = source(
            "test",
            None,
            Value::Null,
            Some(schema.clone()),
            v.clone().into(),
        );
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Struct(v));
        assert_eq!(r.value_schema.unwrap(), schema);
    }

    #[test]
    fn tombstones_pass_through() {
        let mut t = configured("Flatten$Value", &[]);
        let mut r = source("test", None, Value::Null, None, Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!((r.value_schema, r.value), (None, Value::Null));

        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", Schema::optional_int64())
            .build();
        let mut r = source("test", None, Value::Null, Some(schema.clone()), Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
        assert_eq!(r.value_schema.unwrap(), schema);
    }

    #[test]
    fn one_output_schema_object_per_input_schema() {
        let mut t = configured("Flatten$Value", &[]);
        let inner = SchemaBuilder::struct_().field("x", Schema::int32()).build();
        let outer = SchemaBuilder::struct_().field("a", inner.clone()).build();
        let make = |n: i32| {
            let i = Struct::new(inner.clone()).unwrap().with("x", n).unwrap();
            let v = Struct::new(outer.clone()).unwrap().with("a", i).unwrap();
            source("t", None, Value::Null, Some(outer.clone()), v.into())
        };
        let (mut a, mut b) = (make(1), make(2));
        t.apply(&mut a).unwrap();
        t.apply(&mut b).unwrap();
        let (sa, sb) = (a.value_schema.unwrap(), b.value_schema.unwrap());
        assert!(Arc::ptr_eq(&sa.0, &sb.0));
        assert_eq!(
            b.value.as_struct().unwrap().get("a.x").unwrap(),
            &Value::Int32(2)
        );
    }

    #[test]
    fn later_keys_replace_equal_flattened_names() {
        let mut t = configured("Flatten$Value", &[]);
        let value = map(&[
            ("a.b", Value::Int8(1)),
            ("c", Value::Int8(2)),
            ("a", map(&[("b", Value::Int8(3))])),
        ]);
        let mut r = source("t", None, Value::Null, None, value);
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            map(&[("a.b", Value::Int8(3)), ("c", Value::Int8(2))])
        );
    }

    #[test]
    fn errors_carry_connect_s_messages() {
        let mut t = configured("Flatten$Value", &[]);
        let mut r = source(
            "topic",
            None,
            Value::Null,
            Some(Schema::int32()),
            Value::Int32(42),
        );
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Struct objects supported for [flattening], found: java.lang.Integer"
            )
        );
        let mut r = source("topic", None, Value::Null, None, Value::Int32(42));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [flattening], found: \
                 java.lang.Integer"
            )
        );
        let schema = SchemaBuilder::struct_()
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .with("m", Value::Map(vec![]))
            .unwrap();
        let mut r = source("topic", None, Value::Null, Some(schema), v.into());
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Flatten transformation does not support MAP for record with schemas (for \
                 field m)."
            )
        );
        let s = Struct::new(SchemaBuilder::struct_().build()).unwrap();
        let mut r = source(
            "t",
            None,
            Value::Null,
            None,
            map(&[("a", map(&[("s", s.into())]))]),
        );
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Flatten transformation does not support class \
                 org.apache.kafka.connect.data.Struct for record without schemas (for field \
                 a.s)."
            )
        );
        let mut r = source("t", None, Value::Null, None, map(&[("d", Value::Date(1))]));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Flatten transformation was passed a value of type class java.util.Date which \
                 is not supported by Connect's data API"
            )
        );
        let mut r = source(
            "t",
            None,
            Value::Null,
            None,
            Value::Map(vec![(Value::Int8(1), Value::Int8(1))]),
        );
        assert!(t.apply(&mut r).is_err());
    }

    #[test]
    fn delimiter_defaults_to_a_dot() {
        let mut t = Flatten::new(Side::Value);
        t.configure(&props(&[])).unwrap();
        assert_eq!(t.delimiter, ".");
        assert_eq!(
            config_def()
                .key("delimiter")
                .unwrap()
                .default_string()
                .as_deref(),
            Some(".")
        );
    }
}
