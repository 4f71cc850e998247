//! `MaskField$Key` / `MaskField$Value`: replaces fields (`fields`) by an empty value of their
//! type, as Connect's `MaskField`: numbers by 0, booleans by false, strings by "", Date, Time
//! and Timestamp by the epoch, arrays and maps by empty ones; nulls stay null. With
//! `replacement`, numeric and string fields get that text converted to their type instead
//! (integers through a decimal, as Connect's `Values.convertTo…`: `"12.7"` masks an int8 as
//! 12, `"300"` wraps to 44). Bytes and structs cannot be masked; booleans, dates, arrays and
//! maps cannot take a replacement: both fail with Connect's messages.
//!
//! Deviation from Connect: a Decimal field of a schema with scale `s` is masked with zero at
//! scale `s`, and a replacement is rescaled to `s` (failing if that loses digits); Connect
//! writes `BigDecimal.ZERO` or the replacement's own scale, which the converter then refuses.

use bigdecimal::BigDecimal;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::logical::decimal_scale;
use crate::data::values::java_big_decimal;
use crate::data::{Schema, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::PluginRegistry;

use super::cast::decimal_long_value;
use super::smt_config::{
    check_non_empty_lists, define_replace_null_with_default, map_get_mut, map_mut, non_empty_list,
    register_pair, struct_mut, take, with_default, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::java_class_name;
use super::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that masks key fields.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.MaskField$Key";
/// The class name of the transform that masks value fields.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.MaskField$Value";

const FIELDS_CONFIG: &str = "fields";
const REPLACEMENT_CONFIG: &str = "replacement";
const PURPOSE: &str = "mask fields";

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(MaskField::new(Side::Key))),
        (VALUE_CLASS, || Box::new(MaskField::new(Side::Value))),
    );
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            FIELDS_CONFIG,
            ConfigType::List,
            None,
            Some(non_empty_list()),
            Importance::High,
            "The fields to mask.",
        )
        .define_optional(
            REPLACEMENT_CONFIG,
            ConfigType::String,
            Importance::Low,
            "A value to put in every masked field instead of the empty value of its type, \
             converted to that type (numeric and string fields only; must not be empty).",
        )
        .with_validator(Validator::NonEmptyString);
    define_replace_null_with_default(def)
}

/// The MaskField transform of one side of the record.
pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        MaskField {
            side,
            fields: Vec::new(),
            replacement: None,
            replace_null_with_default: true,
        }
    }

    fn masked(&self, value: Value, schema: Option<&Schema>) -> ConnectResult<Value> {
        match (&value, &self.replacement) {
            (Value::Null, _) => Ok(Value::Null),
            (_, None) => empty_value(&value, schema),
            (_, Some(r)) => replacement_value(&value, r, schema),
        }
    }
}

/// The scale of a Decimal schema, if `schema` is one.
fn schema_scale(schema: Option<&Schema>) -> ConnectResult<Option<i64>> {
    match schema {
        Some(s) if s.logical_type() == Some(crate::data::LogicalType::Decimal) => {
            Ok(Some(i64::from(decimal_scale(s)?)))
        }
        _ => Ok(None),
    }
}

/// Connect's `maskWithNullValue`.
fn empty_value(value: &Value, schema: Option<&Schema>) -> ConnectResult<Value> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::Decimal(_) => Value::Decimal(BigDecimal::new(
            0.into(),
            schema_scale(schema)?.unwrap_or(0),
        )),
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type: class {}",
                java_class_name(other)
            )))
        }
    })
}

/// Connect's `maskWithCustomReplacement`.
fn replacement_value(value: &Value, r: &str, schema: Option<&Schema>) -> ConnectResult<Value> {
    let not_a_number = || {
        ConnectError::data(format!(
            "Unable to convert {r} (class java.lang.String) to a number"
        ))
    };
    // Values.convertToLong & co: through a decimal, keeping the low bits.
    let long = || {
        java_big_decimal(r)
            .map(|d| decimal_long_value(&d))
            .ok_or_else(not_a_number)
    };
    let double = || {
        java_big_decimal(r)
            .and_then(|_| r.parse::<f64>().ok())
            .ok_or_else(not_a_number)
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(long()? as i8),
        Value::Int16(_) => Value::Int16(long()? as i16),
        Value::Int32(_) => Value::Int32(long()? as i32),
        Value::Int64(_) => Value::Int64(long()?),
        Value::Float32(_) => Value::Float32(double()? as f32),
        Value::Float64(_) => Value::Float64(double()?),
        Value::String(_) => Value::String(r.to_string()),
        Value::Decimal(_) => {
            let d = java_big_decimal(r).ok_or_else(|| {
                ConnectError::data(format!(
                    "Unable to convert {r} (class java.lang.String) to number"
                ))
            })?;
            match schema_scale(schema)? {
                Some(scale) => {
                    let scaled = d.with_scale(scale);
                    if scaled != d {
                        return Err(ConnectError::data(format!(
                            "Replacement {r} does not fit the scale {scale} of the Decimal field"
                        )));
                    }
                    Value::Decimal(scaled)
                }
                None => Value::Decimal(d),
            }
        }
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type class {} with custom replacement.",
                java_class_name(other)
            )))
        }
    })
}

impl Transformation for MaskField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        check_non_empty_lists(props, &[FIELDS_CONFIG])?;
        let config = config_def().parse(props)?;
        let mut fields: Vec<String> = Vec::new();
        for f in config.list(FIELDS_CONFIG)? {
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
        self.fields = fields;
        self.replacement = config.opt_string(REPLACEMENT_CONFIG);
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        if schema.is_none() {
            let entries = map_mut(value, PURPOSE)?;
            for field in &self.fields {
                match map_get_mut(entries, field) {
                    Some(slot) => *slot = self.masked(take(slot), None)?,
                    // Connect puts the (null) mask of the absent field in the map.
                    None => entries.push((Value::String(field.clone()), Value::Null)),
                }
            }
        } else {
            let s = struct_mut(value, PURPOSE)?;
            let schema = s.schema.clone();
            s.values.resize(schema.fields().len(), Value::Null);
            for (field, slot) in schema.fields().iter().zip(s.values.iter_mut()) {
                let v = with_default(take(slot), &field.schema, self.replace_null_with_default);
                *slot = if self.fields.contains(&field.name) {
                    self.masked(v, Some(&field.schema))?
                } else {
                    v
                };
            }
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::data::logical::{date_schema, decimal_schema, time_schema, timestamp_schema};
    use crate::data::{SchemaBuilder, Struct, Type};
    use crate::record::SinkRecord;
    use crate::transforms::test_records::{configured, created, keyed_sink, map, props};

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .field("bool", Schema::boolean())
            .field("byte", Schema::int8())
            .field("short", Schema::int16())
            .field("int", Schema::int32())
            .field("long", Schema::int64())
            .field("float", Schema::float32())
            .field("double", Schema::float64())
            .field("string", Schema::string())
            .field("date", date_schema())
            .field("time", time_schema())
            .field("timestamp", timestamp_schema())
            .field("decimal", decimal_schema(0))
            .field("array", SchemaBuilder::array(Schema::int32()).build())
            .field(
                "map",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .field(
                "withDefault",
                SchemaBuilder::new(Type::String)
                    .optional()
                    .default_value(Value::String("default".into()))
                    .build(),
            )
            .build()
    }

    fn values_with_schema() -> Value {
        let s = Struct::new(schema())
            .unwrap()
            .with("magic", 42)
            .unwrap()
            .with("bool", true)
            .unwrap()
            .with("byte", 42i8)
            .unwrap()
            .with("short", 42i16)
            .unwrap()
            .with("int", 42)
            .unwrap()
            .with("long", 42i64)
            .unwrap()
            .with("float", 42f32)
            .unwrap()
            .with("double", 42f64)
            .unwrap()
            .with("string", "hmm")
            .unwrap()
            .with("date", Value::Date(18_000))
            .unwrap()
            .with("time", Value::Time(1234))
            .unwrap()
            .with("timestamp", Value::Timestamp(1_600_000_000_000))
            .unwrap()
            .with("decimal", BigDecimal::from(42))
            .unwrap()
            .with(
                "array",
                vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)],
            )
            .unwrap()
            .with(
                "map",
                Value::Map(vec![(
                    Value::String("what".into()),
                    Value::String("what".into()),
                )]),
            )
            .unwrap();
        Value::Struct(s)
    }

    fn schemaless_values() -> Value {
        map(&[
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(true)),
            ("byte", Value::Int8(42)),
            ("short", Value::Int16(42)),
            ("int", Value::Int32(42)),
            ("long", Value::Int64(42)),
            ("float", Value::Float32(42.0)),
            ("double", Value::Float64(42.0)),
            ("string", Value::String("55.121.20.20".into())),
            ("date", Value::Timestamp(1_600_000_000_000)),
            (
                "bigdec",
                Value::Decimal(BigDecimal::from_str("42.0").unwrap()),
            ),
            ("list", Value::Array(vec![Value::Int32(42)])),
            (
                "map",
                Value::Map(vec![(
                    Value::String("key".into()),
                    Value::String("value".into()),
                )]),
            ),
        ])
    }

    fn masking(fields: &str, replacement: Option<&str>) -> Box<dyn Transformation> {
        let mut pairs = vec![("fields", fields), ("replace.null.with.default", "false")];
        if let Some(r) = replacement {
            pairs.push(("replacement", r));
        }
        configured("MaskField$Value", &pairs)
    }

    fn masked(fields: &str, replacement: Option<&str>, r: &mut SinkRecord) -> ConnectResult<()> {
        masking(fields, replacement).apply(r).map(|_| ())
    }

    fn get(v: &Value, f: &str) -> Value {
        match v {
            Value::Struct(s) => s.get_without_default(f).unwrap().clone(),
            Value::Map(m) => crate::transforms::util::map_get(m, f).cloned().unwrap(),
            _ => panic!("not a struct or map"),
        }
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(
            r.transformation("MaskField$Key").unwrap().class_name,
            KEY_CLASS
        );
        assert_eq!(
            r.transformation("MaskField$Value").unwrap().class_name,
            VALUE_CLASS
        );
        assert_eq!(
            created("MaskField$Value")
                .configure(&props(&[("fields", "a"), ("replacement", "")]))
                .unwrap_err(),
            ConnectError::config(
                "Invalid value  for configuration replacement: String must be non-empty"
            )
        );
        assert_eq!(
            created("MaskField$Value")
                .configure(&props(&[("fields", "")]))
                .unwrap_err(),
            ConnectError::config("Invalid value [] for configuration fields: Empty list")
        );
    }

    #[test]
    fn schemaless_fields_become_empty_values() {
        let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
        masked(
            "bool,byte,short,int,long,float,double,string,date,bigdec,list,map,absent",
            None,
            &mut r,
        )
        .unwrap();
        let want = [
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(false)),
            ("byte", Value::Int8(0)),
            ("short", Value::Int16(0)),
            ("int", Value::Int32(0)),
            ("long", Value::Int64(0)),
            ("float", Value::Float32(0.0)),
            ("double", Value::Float64(0.0)),
            ("string", Value::String(String::new())),
            ("date", Value::Timestamp(0)),
            ("bigdec", Value::Decimal(BigDecimal::from(0))),
            ("list", Value::Array(vec![])),
            ("map", Value::Map(vec![])),
            // Connect puts null under a field it masks and the map lacks.
            ("absent", Value::Null),
        ];
        assert_eq!(r.value, map(&want));
    }

    #[test]
    fn struct_fields_become_empty_values() {
        let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
        let fields: Vec<String> = schema()
            .fields()
            .iter()
            .filter(|f| f.name != "magic")
            .map(|f| f.name.clone())
            .collect();
        masked(&fields.join(","), None, &mut r).unwrap();
        let want = [
            ("magic", Value::Int32(42)),
            ("bool", Value::Boolean(false)),
            ("byte", Value::Int8(0)),
            ("short", Value::Int16(0)),
            ("int", Value::Int32(0)),
            ("long", Value::Int64(0)),
            ("float", Value::Float32(0.0)),
            ("double", Value::Float64(0.0)),
            ("string", Value::String(String::new())),
            ("date", Value::Date(0)),
            ("time", Value::Time(0)),
            ("timestamp", Value::Timestamp(0)),
            ("decimal", Value::Decimal(BigDecimal::from(0))),
            ("array", Value::Array(vec![])),
            ("map", Value::Map(vec![])),
            ("withDefault", Value::Null),
        ];
        for (f, v) in want {
            assert_eq!(get(&r.value, f), v, "{f}");
        }
        assert_eq!(r.value_schema, Some(schema()));
        r.value.as_struct().unwrap().validate().unwrap();
    }

    #[test]
    fn replacements_take_the_field_s_type() {
        let cases = [
            ("short", "123", Value::Int16(123)),
            ("byte", "123", Value::Int8(123)),
            ("int", "123", Value::Int32(123)),
            ("long", "123", Value::Int64(123)),
            ("float", "123.0", Value::Float32(123.0)),
            ("double", "123.0", Value::Float64(123.0)),
            ("string", "123", Value::String("123".into())),
            // Through a decimal, as Connect's Values.convertToInteger: truncated, wrapped.
            ("int", "12.7", Value::Int32(12)),
            ("byte", "300", Value::Int8(44)),
            ("long", "1e3", Value::Int64(1000)),
        ];
        for (field, replacement, want) in cases {
            let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
            masked(field, Some(replacement), &mut r).unwrap();
            assert_eq!(get(&r.value, field), want, "schemaless {field}");
            let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
            masked(field, Some(replacement), &mut r).unwrap();
            assert_eq!(get(&r.value, field), want, "struct {field}");
        }
        let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
        masked("bigdec", Some("123.0"), &mut r).unwrap();
        assert_eq!(
            get(&r.value, "bigdec"),
            Value::Decimal(BigDecimal::from_str("123.0").unwrap())
        );
        // With a schema, the replacement takes the schema's scale (0 here).
        let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
        masked("decimal", Some("123.0"), &mut r).unwrap();
        assert_eq!(
            get(&r.value, "decimal"),
            Value::Decimal(BigDecimal::from(123))
        );
        r.value.as_struct().unwrap().validate().unwrap();
        let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
        assert_eq!(
            masked("decimal", Some("1.5"), &mut r).unwrap_err(),
            ConnectError::data("Replacement 1.5 does not fit the scale 0 of the Decimal field")
        );
    }

    #[test]
    fn unsupported_types_fail_with_connect_s_messages() {
        let cases = [
            ("date", "class java.util.Date"),
            ("bool", "class java.lang.Boolean"),
            ("list", "class java.util.ArrayList"),
            ("map", "class java.util.HashMap"),
        ];
        for (field, class) in cases {
            let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
            assert_eq!(
                masked(field, Some("x"), &mut r).unwrap_err(),
                ConnectError::data(format!(
                    "Cannot mask value of type {class} with custom replacement."
                )),
                "{field}"
            );
        }
        for field in ["time", "timestamp", "array"] {
            let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
            assert!(masked(field, Some("123"), &mut r).is_err(), "{field}");
        }
        let mut r = keyed_sink(
            None,
            Value::Null,
            None,
            map(&[("b", Value::Bytes(vec![1])), ("s", Value::Null)]),
        );
        assert_eq!(
            masked("b", None, &mut r).unwrap_err(),
            ConnectError::data("Cannot mask value of type: class [B")
        );
        assert_eq!(
            created("MaskField$Value")
                .config_def()
                .key("replacement")
                .unwrap()
                .default,
            Some(None)
        );
    }

    #[test]
    fn replacements_that_are_not_numbers_fail() {
        for field in ["byte", "short", "int", "long", "float", "double"] {
            let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
            assert_eq!(
                masked(field, Some("foo"), &mut r).unwrap_err(),
                ConnectError::data("Unable to convert foo (class java.lang.String) to a number"),
                "{field}"
            );
        }
        let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
        assert_eq!(
            masked("bigdec", Some("foo"), &mut r).unwrap_err(),
            ConnectError::data("Unable to convert foo (class java.lang.String) to number")
        );
        // Java's BigDecimal grammar: no inner blanks, no NaN, no underscores (the config
        // trims blanks around the replacement, as Connect's does).
        for bad in ["1 2", "NaN", "1_000", "1.5f"] {
            let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
            assert!(masked("int", Some(bad), &mut r).is_err(), "{bad}");
        }
        // One bad field fails the record, whatever the other fields.
        let mut r = keyed_sink(None, Value::Null, None, schemaless_values());
        assert!(masked("string,int", Some("foo"), &mut r).is_err());
    }

    #[test]
    fn null_fields_take_their_default_only_when_asked() {
        let mut t = configured(
            "MaskField$Value",
            &[
                ("fields", "withDefault"),
                ("replace.null.with.default", "true"),
            ],
        );
        let mut r = keyed_sink(None, Value::Null, Some(schema()), values_with_schema());
        t.apply(&mut r).unwrap();
        // The default is the value masked: an empty string.
        assert_eq!(get(&r.value, "withDefault"), Value::String(String::new()));
    }

    #[test]
    fn keys_are_masked_too() {
        let mut r = keyed_sink(None, map(&[("id", Value::Int64(7))]), None, Value::Null);
        configured("MaskField$Key", &[("fields", "id")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, map(&[("id", Value::Int64(0))]));
    }
}
