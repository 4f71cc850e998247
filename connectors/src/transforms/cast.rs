//! `Cast$Key` / `Cast$Value`: casts the whole key or value, or fields of a struct or map, to
//! another primitive type (`spec=int32` or `spec=a:int64,b:string`), as Connect's `Cast`.
//!
//! What casts to what, as in Connect: the inputs are the integers, floats, BOOLEAN, STRING and
//! BYTES (Decimal included); the outputs are the integers, floats, BOOLEAN and STRING. Numbers
//! narrow as Java's `Number.intValue()` & co. do (integers wrap, floats saturate through
//! `int`, decimals drop their fraction and wrap), booleans become 1/0 and numbers booleans by
//! `!= 0`, strings are parsed as Java's `Integer.parseInt` / `Double.parseDouble` /
//! `Boolean.parseBoolean` parse them. Date, Time and Timestamp cast to numbers as their day,
//! millisecond-of-day and epoch-millisecond counts; to strings as ISO 8601 (`1970-01-02`,
//! `01:00:00.000Z` for values within the first day, `1970-01-02T00:00:00.001Z`); BYTES only to
//! strings, as base64.
//!
//! Deviations from Connect:
//! - Date strings are in UTC; Connect formats them in the JVM's time zone.
//! - A whole-value cast of a logical schema (Decimal, Date, …) does not copy the logical name,
//!   version and parameters onto the primitive schema it builds: Connect does, which makes the
//!   result unreadable for converters (a STRING named Decimal).
//! - A struct schema with a default value can have its fields cast (the default's fields are
//!   cast too); Connect fails on it (`does not support casting from STRUCT`).
//! - Java's hexadecimal float literals (`0x1p3`) are not parsed.

use base64::Engine as _;
use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::data::java_fmt::{big_decimal_to_string, double_to_string, float_to_string};
use crate::data::logical::{DATE_NAME, TIMESTAMP_NAME, TIME_NAME};
use crate::data::{Schema, SchemaBuilder, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::PluginRegistry;

use super::schema_basics::copy_schema_basics;
use super::schema_update_cache::SchemaUpdateCache;
use super::smt_config::{
    define_replace_null_with_default, java_list, java_split_colon, list, map_get_mut, map_mut,
    register_pair, struct_mut, take, with_default, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::java_class_name;
use super::{ConnectRecord, Outcome, Side, Transformation};
use crate::data::simple_date_format::SimpleDateFormat;

/// The class name of the transform that casts key fields (or the whole key).
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.Cast$Key";
/// The class name of the transform that casts value fields (or the whole value).
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.Cast$Value";

const SPEC_CONFIG: &str = "spec";
const PURPOSE: &str = "cast types";
const MILLIS_PER_DAY: i64 = 86_400_000;

const INPUT_TYPES: [Type; 9] = [
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::Boolean,
    Type::String,
    Type::Bytes,
];
const OUTPUT_TYPES: [Type; 8] = [
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::Boolean,
    Type::String,
];

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(Cast::new(Side::Key))),
        (VALUE_CLASS, || Box::new(Cast::new(Side::Value))),
    );
}

/// What to cast: the whole operand, or fields by name.
#[derive(Debug, Clone, Default, PartialEq)]
struct Spec {
    whole: Option<Type>,
    /// One entry per field; a field named twice keeps its last type, as Connect's map does.
    fields: Vec<(String, Type)>,
}

impl Spec {
    fn field_type(&self, name: &str) -> Option<Type> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }
}

fn type_list(types: &[Type]) -> String {
    let names: Vec<String> = types.iter().map(|t| t.name().to_string()).collect();
    java_list(&names)
}

/// Why a `spec` is refused; `Display` gives Connect's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SpecError {
    #[error("Must specify at least one field to cast.")]
    Empty,
    #[error("Invalid type found in casting spec: {0}")]
    UnknownType(String),
    #[error("Cast transformation does not support casting to {0}; supported types are {list}", list = type_list(&OUTPUT_TYPES))]
    UnsupportedTarget(Type),
    // Connect names `renames` here: the check was copied from ReplaceField.
    #[error("Invalid value {} for configuration renames: Invalid rename mapping: {mapping}", java_list(.mappings))]
    BadMapping {
        mappings: Vec<String>,
        mapping: String,
    },
    #[error(
        "Cast transformations that specify a type to cast the entire value to may only \
         specify a single cast in their spec"
    )]
    WholeNotAlone,
}

impl SpecError {
    /// The reason alone, for the REST validate endpoint (which names the key and value).
    fn reason(&self) -> String {
        match self {
            SpecError::BadMapping { mapping, .. } => format!("Invalid rename mapping: {mapping}"),
            other => other.to_string(),
        }
    }
}

impl From<SpecError> for ConnectError {
    fn from(e: SpecError) -> Self {
        ConnectError::config(e.to_string())
    }
}

fn output_type(name: &str) -> Result<Type, SpecError> {
    let ty = [
        Type::Int8,
        Type::Int16,
        Type::Int32,
        Type::Int64,
        Type::Float32,
        Type::Float64,
        Type::Boolean,
        Type::String,
        Type::Bytes,
        Type::Array,
        Type::Map,
        Type::Struct,
    ]
    .into_iter()
    .find(|t| t.name().eq_ignore_ascii_case(name))
    .ok_or_else(|| SpecError::UnknownType(name.to_string()))?;
    if !OUTPUT_TYPES.contains(&ty) {
        return Err(SpecError::UnsupportedTarget(ty));
    }
    Ok(ty)
}

/// Parses `spec` with Connect's checks.
fn parse_spec(mappings: &[String]) -> Result<Spec, SpecError> {
    if mappings.is_empty() {
        return Err(SpecError::Empty);
    }
    let mut spec = Spec::default();
    for mapping in mappings {
        match java_split_colon(mapping).as_slice() {
            [ty] => spec.whole = Some(output_type(ty.trim())?),
            [field, ty] => {
                let ty = output_type(ty.trim())?;
                let field = field.trim();
                match spec.fields.iter_mut().find(|(n, _)| n == field) {
                    Some(entry) => entry.1 = ty,
                    None => spec.fields.push((field.to_string(), ty)),
                }
            }
            _ => {
                return Err(SpecError::BadMapping {
                    mappings: mappings.to_vec(),
                    mapping: mapping.clone(),
                })
            }
        }
    }
    if spec.whole.is_some() && mappings.len() > 1 {
        return Err(SpecError::WholeNotAlone);
    }
    Ok(spec)
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new().define(
        SPEC_CONFIG,
        ConfigType::List,
        None,
        Some(Validator::custom(
            "list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>",
            |v| match v {
                ParsedValue::List(items) => parse_spec(items).map(|_| ()).map_err(|e| e.reason()),
                _ => Ok(()),
            },
        )),
        Importance::High,
        "What to cast: field1:type,field2:type casts fields of a struct or map, a single type \
         casts the whole key or value. Types: int8, int16, int32, int64, float32, float64, \
         boolean and string. Binary fields can only be cast to string.",
    );
    define_replace_null_with_default(def)
}

/// The Cast transform of one side of the record.
pub struct Cast {
    side: Side,
    spec: Spec,
    replace_null_with_default: bool,
    cache: SchemaUpdateCache,
}

impl Cast {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        Cast {
            side,
            spec: Spec::default(),
            replace_null_with_default: true,
            cache: SchemaUpdateCache::new(),
        }
    }

    fn apply_schemaless(&self, value: &mut Value) -> ConnectResult<()> {
        if let Some(ty) = self.spec.whole {
            *value = cast_value(None, take(value), ty)?;
            return Ok(());
        }
        let entries = map_mut(value, PURPOSE)?;
        for (field, ty) in &self.spec.fields {
            match map_get_mut(entries, field) {
                Some(slot) => *slot = cast_value(None, take(slot), *ty)?,
                // Connect puts the (null) cast of the absent field in the map.
                None => entries.push((Value::String(field.clone()), Value::Null)),
            }
        }
        Ok(())
    }

    fn apply_with_schema(
        &mut self,
        schema_slot: &mut Option<Schema>,
        value: &mut Value,
    ) -> ConnectResult<()> {
        let schema = schema_slot.clone().expect("called with a schema");
        let spec = &self.spec;
        let updated = self
            .cache
            .get_or_build(&schema, || build_schema(spec, &schema))?;
        if let Some(ty) = self.spec.whole {
            *value = cast_value(Some(&schema), take(value), ty)?;
        } else {
            let s = struct_mut(value, PURPOSE)?;
            cast_fields(&self.spec, s, &updated, self.replace_null_with_default)?;
        }
        *schema_slot = Some(updated);
        Ok(())
    }
}

/// Casts the fields of `s` the spec names, in place, and gives it the schema `updated`.
fn cast_fields(spec: &Spec, s: &mut Struct, updated: &Schema, replace: bool) -> ConnectResult<()> {
    let old = s.schema.clone();
    s.values.resize(old.fields().len(), Value::Null);
    for (field, slot) in old.fields().iter().zip(s.values.iter_mut()) {
        let v = with_default(take(slot), &field.schema, replace);
        *slot = match spec.field_type(&field.name) {
            Some(ty) => cast_value(Some(&field.schema), v, ty)?,
            None => v,
        };
    }
    s.schema = updated.clone();
    Ok(())
}

fn build_schema(spec: &Spec, schema: &Schema) -> ConnectResult<Schema> {
    let mut b = match spec.whole {
        Some(ty) if schema.logical_type().is_some() => match schema.doc() {
            Some(doc) => SchemaBuilder::new(ty).doc(doc),
            None => SchemaBuilder::new(ty),
        },
        Some(ty) => copy_schema_basics(schema, SchemaBuilder::new(ty)),
        None => {
            if schema.ty() != Type::Struct {
                return Err(ConnectError::data("Cannot list fields on non-struct type"));
            }
            let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
            for field in schema.fields() {
                let field_schema = match spec.field_type(&field.name) {
                    Some(ty) => {
                        let mut fb = SchemaBuilder::new(ty);
                        if field.schema.is_optional() {
                            fb = fb.optional();
                        }
                        if let Some(d) = field.schema.default_value().filter(|d| !d.is_null()) {
                            fb = fb.default_value(cast_value(Some(&field.schema), d.clone(), ty)?);
                        }
                        fb.build()
                    }
                    None => field.schema.clone(),
                };
                b = b.field(field.name.clone(), field_schema);
            }
            b
        }
    };
    if schema.is_optional() {
        b = b.optional();
    }
    if let Some(d) = schema.default_value().filter(|d| !d.is_null()) {
        let cast_default = match (spec.whole, d) {
            (Some(ty), d) => cast_value(Some(schema), d.clone(), ty)?,
            (None, Value::Struct(s)) => {
                let without_default = b.clone().build();
                let mut s = s.clone();
                cast_fields(spec, &mut s, &without_default, true)?;
                Value::Struct(s)
            }
            (None, other) => other.clone(),
        };
        b = b.default_value(cast_default);
    }
    Ok(b.build())
}

/// Casts one value as Connect's `castValueToType`; `schema` is the value's, if it has one.
pub fn cast_value(schema: Option<&Schema>, value: Value, target: Type) -> ConnectResult<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let inferred = match schema {
        Some(s) => Some(s.ty()),
        None => value.schema_type(),
    };
    let Some(inferred) = inferred else {
        return Err(ConnectError::data(format!(
            "Cast transformation was passed a value of type class {} which is not supported \
             by Connect's data API",
            java_class_name(&value)
        )));
    };
    if !INPUT_TYPES.contains(&inferred) {
        return Err(ConnectError::data(format!(
            "Cast transformation does not support casting from {inferred}; supported types are {}",
            type_list(&INPUT_TYPES)
        )));
    }
    // Date, Time and Timestamp become their carrier numbers, except for strings.
    let logical = schema
        .and_then(Schema::name)
        .is_some_and(|n| n == DATE_NAME || n == TIME_NAME || n == TIMESTAMP_NAME);
    let value = match value {
        Value::Date(d) if logical && target != Type::String => Value::Int32(d),
        Value::Time(ms) if logical && target != Type::String => Value::Int32(ms),
        Value::Timestamp(ms) if logical && target != Type::String => Value::Int64(ms),
        v => v,
    };
    let out_of_range = |v: &Value| {
        ConnectError::data(format!(
            "Value ({}) was out of range for requested data type",
            cast_to_string(v.clone())
        ))
    };
    let unexpected = |v: &Value| {
        ConnectError::data(format!(
            "Unexpected type in Cast transformation: class {}",
            java_class_name(v)
        ))
    };
    if target == Type::String {
        return Ok(Value::String(cast_to_string(value)));
    }
    if let Value::String(s) = &value {
        let parsed = match target {
            Type::Int8 => s.parse().ok().map(Value::Int8),
            Type::Int16 => s.parse().ok().map(Value::Int16),
            Type::Int32 => s.parse().ok().map(Value::Int32),
            Type::Int64 => s.parse().ok().map(Value::Int64),
            Type::Float32 => java_parse_f64(s, true).map(|f| Value::Float32(f as f32)),
            Type::Float64 => java_parse_f64(s, false).map(Value::Float64),
            Type::Boolean => Some(Value::Boolean(s.eq_ignore_ascii_case("true"))),
            _ => None,
        };
        return parsed.ok_or_else(|| out_of_range(&value));
    }
    let n = match &value {
        Value::Boolean(b) => JavaNumber::Long(i64::from(*b)),
        other => JavaNumber::of(other).ok_or_else(|| unexpected(other))?,
    };
    Ok(match target {
        Type::Int8 => Value::Int8(n.int_value() as i8),
        Type::Int16 => Value::Int16(n.int_value() as i16),
        Type::Int32 => Value::Int32(n.int_value()),
        Type::Int64 => Value::Int64(n.long_value()),
        Type::Float32 => Value::Float32(n.float_value()),
        Type::Float64 => Value::Float64(n.double_value()),
        Type::Boolean => Value::Boolean(n.long_value() != 0),
        other => {
            return Err(ConnectError::data(format!(
                "{other} is not supported in the Cast transformation."
            )))
        }
    })
}

/// Connect's `castToString`: dates as ISO 8601, bytes as base64, the rest as Java prints it.
fn cast_to_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Date(days) => date_string(i64::from(days) * MILLIS_PER_DAY),
        Value::Time(ms) => date_string(i64::from(ms)),
        Value::Timestamp(ms) => date_string(ms),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::Float32(f) => float_to_string(f),
        Value::Float64(d) => double_to_string(d),
        Value::Decimal(d) => big_decimal_to_string(&d),
        other => other.to_java_string(),
    }
}

/// Connect's `Values.dateFormatFor(date).format(date)`: a time for the first day (and before
/// the epoch), a date at midnights, a timestamp otherwise.
fn date_string(millis: i64) -> String {
    let pattern = if millis < MILLIS_PER_DAY {
        "HH:mm:ss.SSS'Z'"
    } else if millis % MILLIS_PER_DAY == 0 {
        "yyyy-MM-dd"
    } else {
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    };
    SimpleDateFormat::new(pattern)
        .expect("a valid pattern")
        .format(millis)
}

/// A number as Java's `Number` subclasses narrow it.
#[derive(Debug, Clone, Copy)]
pub enum JavaNumber<'a> {
    /// An integer (Java's `byte`, `short`, `int` or `long`).
    Long(i64),
    /// A Java `float`.
    Float(f32),
    /// A Java `double`.
    Double(f64),
    /// A `BigDecimal`.
    Decimal(&'a BigDecimal),
}

impl<'a> JavaNumber<'a> {
    /// The number a value holds (integers, floats, decimals), if any.
    pub fn of(value: &'a Value) -> Option<Self> {
        Some(match value {
            Value::Int8(v) => JavaNumber::Long(i64::from(*v)),
            Value::Int16(v) => JavaNumber::Long(i64::from(*v)),
            Value::Int32(v) => JavaNumber::Long(i64::from(*v)),
            Value::Int64(v) => JavaNumber::Long(*v),
            Value::Float32(v) => JavaNumber::Float(*v),
            Value::Float64(v) => JavaNumber::Double(*v),
            Value::Decimal(d) => JavaNumber::Decimal(d),
            _ => return None,
        })
    }

    /// `longValue()`: floats saturate (NaN is 0), decimals drop the fraction and wrap.
    pub fn long_value(&self) -> i64 {
        match *self {
            JavaNumber::Long(l) => l,
            JavaNumber::Float(f) => f as i64,
            JavaNumber::Double(d) => d as i64,
            JavaNumber::Decimal(d) => decimal_long_value(d),
        }
    }

    /// `intValue()`; `byteValue()` and `shortValue()` narrow this further, as Java does.
    pub fn int_value(&self) -> i32 {
        match *self {
            JavaNumber::Long(l) => l as i32,
            JavaNumber::Float(f) => f as i32,
            JavaNumber::Double(d) => d as i32,
            JavaNumber::Decimal(d) => decimal_long_value(d) as i32,
        }
    }

    /// The number as a Java `float` (`Number.floatValue`).
    pub fn float_value(&self) -> f32 {
        match *self {
            JavaNumber::Long(l) => l as f32,
            JavaNumber::Float(f) => f,
            JavaNumber::Double(d) => d as f32,
            JavaNumber::Decimal(d) => big_decimal_to_string(d).parse().unwrap_or(f32::NAN),
        }
    }

    /// The number as a Java `double` (`Number.doubleValue`).
    pub fn double_value(&self) -> f64 {
        match *self {
            JavaNumber::Long(l) => l as f64,
            JavaNumber::Float(f) => f64::from(f),
            JavaNumber::Double(d) => d,
            JavaNumber::Decimal(d) => big_decimal_to_string(d).parse().unwrap_or(f64::NAN),
        }
    }
}

/// `BigDecimal.longValue()`: the integer part, truncated toward zero, in its low 64 bits.
pub fn decimal_long_value(d: &BigDecimal) -> i64 {
    let (digits, scale) = d.as_bigint_and_exponent();
    let int_part = if scale >= 0 {
        let scale = u32::try_from(scale).unwrap_or(u32::MAX);
        if u64::from(scale) > digits.bits() {
            // More fraction digits than the number has bits: |value| < 1.
            return 0;
        }
        digits / BigInt::from(10).pow(scale)
    } else {
        // 10^k is a multiple of 2^64 from k = 64 on: no low bits left.
        let k = u32::try_from(-scale).unwrap_or(u32::MAX);
        if k >= 64 {
            return 0;
        }
        digits * BigInt::from(10).pow(k)
    };
    let bytes = int_part.to_signed_bytes_le();
    let fill = if int_part.sign() == bigdecimal::num_bigint::Sign::Minus {
        0xff
    } else {
        0
    };
    let mut low = [fill; 8];
    for (slot, b) in low.iter_mut().zip(bytes) {
        *slot = b;
    }
    i64::from_le_bytes(low)
}

/// Java's `Double.parseDouble` (or, `for_float`, the text `Float.parseFloat` reads, which
/// the caller narrows): blanks around, an optional sign, `NaN`, `Infinity`, or a decimal with
/// an optional exponent and `f`/`d` suffix. Hexadecimal floats are not read.
pub fn java_parse_f64(s: &str, for_float: bool) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match t.as_bytes().first() {
        Some(b'+') => ("", &t[1..]),
        Some(b'-') => ("-", &t[1..]),
        _ => ("", t),
    };
    let text = match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => format!("{sign}inf"),
        _ => {
            let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            // The sign was taken off above: another one is not a number.
            if body.starts_with(['+', '-']) || !crate::data::values::is_java_decimal(body) {
                return None;
            }
            format!("{sign}{body}")
        }
    };
    if for_float {
        // Round once, to float, as Float.parseFloat does.
        text.parse::<f32>().ok().map(f64::from)
    } else {
        text.parse::<f64>().ok()
    }
}

impl Transformation for Cast {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        // Connect's validator message, before ConfigDef's generic wrapping of it.
        if let Some(raw) = props.get(SPEC_CONFIG) {
            parse_spec(&list(raw))?;
        }
        let config = config_def().parse(props)?;
        self.spec = parse_spec(&config.list(SPEC_CONFIG)?)?;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        if schema.is_none() {
            self.apply_schemaless(value)?;
        } else {
            self.apply_with_schema(schema, value)?;
        }
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::Arc;

    use super::*;
    use crate::data::logical::{date_schema, decimal_schema, time_schema, timestamp_schema};
    use crate::record::SourceRecord;
    use crate::transforms::test_records::{configured, created, map, props, value_source};

    fn value_cast(spec: &str) -> Box<dyn Transformation> {
        configured("Cast$Value", &[("spec", spec)])
    }

    fn cast_whole(spec: &str, schema: Option<Schema>, value: Value) -> SourceRecord {
        let mut r = value_source(schema, value);
        value_cast(spec).apply(&mut r).unwrap();
        r
    }

    fn config_error(spec: &str) -> ConnectError {
        created("Cast$Key")
            .configure(&props(&[("spec", spec)]))
            .unwrap_err()
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(r.transformation("Cast$Key").unwrap().class_name, KEY_CLASS);
        assert_eq!(
            r.transformation("org.apache.kafka.connect.transforms.Cast$Value")
                .unwrap()
                .class_name,
            VALUE_CLASS
        );
        let def = created("Cast$Value").config_def();
        assert!(def.key("spec").unwrap().required());
        assert_eq!(
            def.key("replace.null.with.default")
                .unwrap()
                .default_string()
                .as_deref(),
            Some("true")
        );
    }

    #[test]
    fn bad_specs_fail_with_connect_s_messages() {
        let outputs = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
        let cases = [
            ("", "Must specify at least one field to cast.".to_string()),
            ("foo:faketype", "Invalid type found in casting spec: faketype".into()),
            (
                "foo:array",
                format!("Cast transformation does not support casting to ARRAY; supported types are {outputs}"),
            ),
            (
                "array",
                format!("Cast transformation does not support casting to ARRAY; supported types are {outputs}"),
            ),
            (
                "foo:bytes",
                format!("Cast transformation does not support casting to BYTES; supported types are {outputs}"),
            ),
            (
                "foo:int8:extra",
                "Invalid value [foo:int8:extra] for configuration renames: Invalid rename mapping: foo:int8:extra".into(),
            ),
            (
                "foo:int8,int32",
                "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec".into(),
            ),
        ];
        for (spec, message) in cases {
            assert_eq!(config_error(spec), ConnectError::config(message), "{spec}");
        }
        assert_eq!(
            created("Cast$Key").configure(&Props::new()).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"spec\" which has no default value."
            )
        );
        // The REST validate endpoint reports the key, naming it once.
        let def = created("Cast$Key").config_def();
        let results = def.validate(&props(&[("spec", "a:int8:x")]));
        let spec = results.iter().find(|v| v.name == "spec").unwrap();
        assert_eq!(
            spec.errors,
            ["Invalid value a:int8:x for configuration spec: Invalid rename mapping: a:int8:x"]
        );
    }

    #[test]
    fn null_operands_pass_through() {
        let mut r = value_source(Some(Schema::string()), Value::Null);
        r.key_schema = Some(Schema::string());
        r.key = Value::String("key".into());
        let before = r.clone();
        value_cast("foo:int64").apply(&mut r).unwrap();
        assert_eq!(r, before);
        let mut r = value_source(None, Value::Null);
        value_cast("foo:int64").apply(&mut r).unwrap();
        assert_eq!(r, value_source(None, Value::Null));
        let mut r = value_source(Some(Schema::string()), Value::String("value".into()));
        configured("Cast$Key", &[("spec", "foo:int64")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, Value::Null);
        assert_eq!(r.key_schema, None);
    }

    #[test]
    fn whole_key_with_schema() {
        let mut r = value_source(Some(Schema::string()), Value::String("bogus".into()));
        r.key_schema = Some(Schema::int32());
        r.key = Value::Int32(42);
        configured("Cast$Key", &[("spec", "int8")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema.as_ref().unwrap().ty(), Type::Int8);
        assert_eq!(r.key, Value::Int8(42));
        assert_eq!(r.value, Value::String("bogus".into()));
    }

    #[test]
    fn whole_value_to_every_type_with_and_without_schema() {
        let cases = [
            ("int8", Type::Int8, Value::Int8(42)),
            ("int16", Type::Int16, Value::Int16(42)),
            ("int32", Type::Int32, Value::Int32(42)),
            ("int64", Type::Int64, Value::Int64(42)),
            ("float32", Type::Float32, Value::Float32(42.0)),
            ("float64", Type::Float64, Value::Float64(42.0)),
            ("boolean", Type::Boolean, Value::Boolean(true)),
            ("string", Type::String, Value::String("42".into())),
        ];
        for (spec, ty, want) in cases {
            let r = cast_whole(spec, Some(Schema::int32()), Value::Int32(42));
            assert_eq!(r.value_schema.as_ref().unwrap().ty(), ty, "{spec}");
            assert_eq!(r.value, want, "{spec}");
            let r = cast_whole(spec, None, Value::Int32(42));
            assert_eq!(r.value_schema, None, "{spec}");
            assert_eq!(r.value, want, "{spec}");
        }
        let r = cast_whole("boolean", Some(Schema::int32()), Value::Int32(0));
        assert_eq!(r.value, Value::Boolean(false));
        let r = cast_whole("boolean", None, Value::Int32(0));
        assert_eq!(r.value, Value::Boolean(false));
    }

    #[test]
    fn whole_logical_values_to_string() {
        let r = cast_whole(
            "string",
            Some(decimal_schema(0)),
            Value::Decimal(BigDecimal::from(42)),
        );
        assert_eq!(r.value, Value::String("42".into()));
        // The result is a plain string: no Decimal name left on it.
        assert_eq!(r.value_schema, Some(Schema::string()));
        let r = cast_whole(
            "string",
            Some(timestamp_schema()),
            Value::Timestamp(MILLIS_PER_DAY + 1),
        );
        assert_eq!(r.value, Value::String("1970-01-02T00:00:00.001Z".into()));
    }

    #[test]
    fn whole_value_default_is_cast_and_metadata_kept() {
        let schema = SchemaBuilder::new(Type::Float32)
            .default_value(Value::Float32(-42.125))
            .name("my.float")
            .doc("a float")
            .build();
        let r = cast_whole("int32", Some(schema), Value::Float32(42.125));
        let s = r.value_schema.unwrap();
        assert_eq!(s.ty(), Type::Int32);
        assert_eq!(r.value, Value::Int32(42));
        assert_eq!(s.default_value(), Some(&Value::Int32(-42)));
        assert_eq!(s.name(), Some("my.float"));
        assert_eq!(s.doc(), Some("a float"));
    }

    #[test]
    fn schemaless_values_outside_connect_s_types_fail() {
        let mut r = value_source(None, Value::Array(vec![Value::String("foo".into())]));
        assert_eq!(
            value_cast("int8").apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Cast transformation does not support casting from ARRAY; supported types are \
                 [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
            )
        );
        let mut r = value_source(None, Value::Timestamp(0));
        assert_eq!(
            value_cast("int64").apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Cast transformation was passed a value of type class java.util.Date which is \
                 not supported by Connect's data API"
            )
        );
        let mut r = value_source(None, Value::Int32(1));
        assert_eq!(
            value_cast("a:int8").apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [cast types], found: \
                 java.lang.Integer"
            )
        );
    }

    #[test]
    fn logical_fields_to_primitives() {
        let spec = "date_to_int32:int32,timestamp_to_int64:int64,time_to_int64:int64,\
                    decimal_to_int32:int32,timestamp_to_float64:float64,null_timestamp_to_int32:int32";
        let schema = SchemaBuilder::struct_()
            .field("date_to_int32", date_schema())
            .field("timestamp_to_int64", timestamp_schema())
            .field("time_to_int64", time_schema())
            .field("decimal_to_int32", decimal_schema(0))
            .field("timestamp_to_float64", timestamp_schema())
            .field(
                "null_timestamp_to_int32",
                crate::data::logical::timestamp_builder().optional().build(),
            )
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("date_to_int32", Value::Date(1))
            .unwrap()
            .with("timestamp_to_int64", Value::Timestamp(0))
            .unwrap()
            .with("time_to_int64", Value::Time(1))
            .unwrap()
            .with(
                "decimal_to_int32",
                BigDecimal::from(i64::from(i32::MAX) + 1),
            )
            .unwrap()
            .with("timestamp_to_float64", Value::Timestamp(i64::MAX))
            .unwrap();
        let r = cast_whole(spec, Some(schema), Value::Struct(value));
        let s = r.value.as_struct().unwrap();
        assert_eq!(s.get("date_to_int32").unwrap(), &Value::Int32(1));
        assert_eq!(s.get("timestamp_to_int64").unwrap(), &Value::Int64(0));
        assert_eq!(s.get("time_to_int64").unwrap(), &Value::Int64(1));
        assert_eq!(s.get("decimal_to_int32").unwrap(), &Value::Int32(i32::MIN));
        assert_eq!(
            s.get("timestamp_to_float64").unwrap(),
            &Value::Float64(9.223372036854776E18)
        );
        assert_eq!(s.get("null_timestamp_to_int32").unwrap(), &Value::Null);
        let ts = r.value_schema.unwrap();
        for (name, ty) in [
            ("date_to_int32", Type::Int32),
            ("timestamp_to_int64", Type::Int64),
            ("time_to_int64", Type::Int64),
            ("decimal_to_int32", Type::Int32),
            ("timestamp_to_float64", Type::Float64),
            ("null_timestamp_to_int32", Type::Int32),
        ] {
            assert_eq!(ts.field(name).unwrap().schema.ty(), ty, "{name}");
            assert_eq!(ts.field(name).unwrap().schema.name(), None, "{name}");
        }
        assert!(ts
            .field("null_timestamp_to_int32")
            .unwrap()
            .schema
            .is_optional());
        s.validate().unwrap();
    }

    #[test]
    fn logical_fields_to_string() {
        let schema = SchemaBuilder::struct_()
            .field("date", date_schema())
            .field("decimal", decimal_schema(0))
            .field("time", time_schema())
            .field("timestamp", timestamp_schema())
            .field("before_epoch", timestamp_schema())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("date", Value::Date(1))
            .unwrap()
            .with("decimal", BigDecimal::from(1982))
            .unwrap()
            .with("time", Value::Time(3_600_000))
            .unwrap()
            .with("timestamp", Value::Timestamp(1_614_876_543_210))
            .unwrap()
            .with("before_epoch", Value::Timestamp(-1))
            .unwrap();
        let r = cast_whole(
            "date:string,decimal:string,time:string,timestamp:string,before_epoch:string",
            Some(schema),
            Value::Struct(value),
        );
        let s = r.value.as_struct().unwrap();
        let text = |f: &str| s.get(f).unwrap().as_str().unwrap().to_string();
        assert_eq!(text("date"), "1970-01-02");
        assert_eq!(text("decimal"), "1982");
        assert_eq!(text("time"), "01:00:00.000Z");
        assert_eq!(text("timestamp"), "2021-03-04T16:49:03.210Z");
        // Connect's rule: anything before one day past the epoch prints as a time.
        assert_eq!(text("before_epoch"), "23:59:59.999Z");
        for f in ["date", "decimal", "time", "timestamp"] {
            assert_eq!(
                r.value_schema
                    .as_ref()
                    .unwrap()
                    .field(f)
                    .unwrap()
                    .schema
                    .ty(),
                Type::String
            );
        }
    }

    #[test]
    fn fields_with_schema() {
        let spec = "int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,\
                    float64:boolean,boolean:int8,string:int32,bigdecimal:string,date:string,\
                    optional:int32,bytes:string";
        let schema = SchemaBuilder::struct_()
            .field("int8", Schema::int8())
            .field("int16", Schema::optional_int16())
            .field(
                "int32",
                SchemaBuilder::new(Type::Int32)
                    .default_value(Value::Int32(2))
                    .build(),
            )
            .field("int64", Schema::int64())
            .field("float32", Schema::float32())
            .field(
                "float64",
                SchemaBuilder::new(Type::Float64)
                    .default_value(Value::Float64(-1.125))
                    .build(),
            )
            .field("boolean", Schema::boolean())
            .field("string", Schema::string())
            .field("bigdecimal", decimal_schema(0))
            .field("date", date_schema())
            .field("optional", Schema::optional_float32())
            .field("timestamp", timestamp_schema())
            .field("bytes", Schema::bytes())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("int8", 8i8)
            .unwrap()
            .with("int16", 16i16)
            .unwrap()
            .with("int32", 32)
            .unwrap()
            .with("int64", 64i64)
            .unwrap()
            .with("float32", 32f32)
            .unwrap()
            .with("float64", -64f64)
            .unwrap()
            .with("boolean", true)
            .unwrap()
            .with("string", "42")
            .unwrap()
            .with("bigdecimal", BigDecimal::from(42))
            .unwrap()
            .with("date", Value::Date(1))
            .unwrap()
            .with("timestamp", Value::Timestamp(0))
            .unwrap()
            .with(
                "bytes",
                vec![0xFEu8, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10],
            )
            .unwrap();
        let r = cast_whole(spec, Some(schema), Value::Struct(value));
        let s = r.value.as_struct().unwrap();
        s.validate().unwrap();
        let get = |f: &str| s.get(f).unwrap().clone();
        assert_eq!(get("int8"), Value::Int16(8));
        assert_eq!(get("int16"), Value::Int32(16));
        assert_eq!(get("int32"), Value::Int64(32));
        assert_eq!(get("int64"), Value::Boolean(true));
        assert_eq!(get("float32"), Value::Float64(32.0));
        assert_eq!(get("float64"), Value::Boolean(true));
        assert_eq!(get("boolean"), Value::Int8(1));
        assert_eq!(get("string"), Value::Int32(42));
        assert_eq!(get("bigdecimal"), Value::String("42".into()));
        assert_eq!(get("date"), Value::String("1970-01-02".into()));
        assert_eq!(get("timestamp"), Value::Timestamp(0));
        assert_eq!(get("bytes"), Value::String("/ty6mHZUMhA=".into()));
        assert_eq!(get("optional"), Value::Null);
        let ts = r.value_schema.unwrap();
        let field = |f: &str| ts.field(f).unwrap().schema.clone();
        assert!(field("int16").is_optional());
        assert_eq!(field("int32").default_value(), Some(&Value::Int64(2)));
        assert_eq!(
            field("float64").default_value(),
            Some(&Value::Boolean(true))
        );
        assert_eq!(field("optional").ty(), Type::Int32);
        assert!(field("optional").is_optional());
        // Fields not in the spec keep their schema.
        assert_eq!(field("timestamp"), timestamp_schema());
    }

    #[test]
    fn fields_schemaless() {
        let value = map(&[
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.0)),
            ("float64", Value::Float64(-64.0)),
            ("boolean", Value::Boolean(true)),
            ("string", Value::String("42".into())),
        ]);
        let r = cast_whole(
            "int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,float64:boolean,\
             boolean:int8,string:int32,absent:string",
            None,
            value,
        );
        assert_eq!(r.value_schema, None);
        assert_eq!(
            r.value,
            map(&[
                ("int8", Value::Int16(8)),
                ("int16", Value::Int32(16)),
                ("int32", Value::Int64(32)),
                ("int64", Value::Boolean(true)),
                ("float32", Value::Float64(32.0)),
                ("float64", Value::Boolean(true)),
                ("boolean", Value::Int8(1)),
                ("string", Value::Int32(42)),
                // Connect puts null under a field the spec names and the map lacks.
                ("absent", Value::Null),
            ])
        );
    }

    #[test]
    fn null_fields_take_their_default_only_when_asked() {
        let schema = SchemaBuilder::struct_()
            .field(
                "magic",
                SchemaBuilder::new(Type::Int32)
                    .optional()
                    .default_value(Value::Int32(10))
                    .build(),
            )
            .build();
        for (replace, want) in [("false", Value::Null), ("true", Value::String("10".into()))] {
            let mut t = configured(
                "Cast$Value",
                &[
                    ("spec", "magic:string"),
                    ("replace.null.with.default", replace),
                ],
            );
            let mut r = value_source(
                Some(schema.clone()),
                Value::Struct(Struct::new(schema.clone()).unwrap()),
            );
            t.apply(&mut r).unwrap();
            let field = r.value_schema.as_ref().unwrap().field("magic").unwrap();
            assert_eq!(field.schema.ty(), Type::String);
            assert_eq!(
                r.value
                    .as_struct()
                    .unwrap()
                    .get_without_default("magic")
                    .unwrap(),
                &want,
                "replace={replace}"
            );
        }
    }

    #[test]
    fn narrowing_and_parsing_follow_java() {
        let cast = |v: Value, t: Type| cast_value(None, v, t);
        assert_eq!(
            cast(Value::Int32(300), Type::Int8).unwrap(),
            Value::Int8(44)
        );
        assert_eq!(
            cast(Value::Int64(1 << 40), Type::Int32).unwrap(),
            Value::Int32(0)
        );
        assert_eq!(
            cast(Value::Float64(1e10), Type::Int32).unwrap(),
            Value::Int32(i32::MAX)
        );
        // double → byte goes through int: 300.7 → 300 → 44.
        assert_eq!(
            cast(Value::Float64(300.7), Type::Int8).unwrap(),
            Value::Int8(44)
        );
        assert_eq!(
            cast(Value::Float64(1e10), Type::Int8).unwrap(),
            Value::Int8(-1)
        );
        assert_eq!(
            cast(Value::Float32(f32::NAN), Type::Int64).unwrap(),
            Value::Int64(0)
        );
        assert_eq!(
            cast(Value::Float64(0.5), Type::Boolean).unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(Value::Float64(12.5), Type::String).unwrap(),
            Value::String("12.5".into())
        );
        assert_eq!(
            cast(Value::Float64(1e10), Type::String).unwrap(),
            Value::String("1.0E10".into())
        );
        assert_eq!(
            cast(Value::Boolean(false), Type::Float64).unwrap(),
            Value::Float64(0.0)
        );
        assert_eq!(
            cast(Value::String("TRUE".into()), Type::Boolean).unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(
            cast(Value::String("yes".into()), Type::Boolean).unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(Value::String("-12".into()), Type::Int16).unwrap(),
            Value::Int16(-12)
        );
        assert_eq!(
            cast(Value::String(" 1.5d ".into()), Type::Float64).unwrap(),
            Value::Float64(1.5)
        );
        assert_eq!(
            cast(Value::String("1e3".into()), Type::Float32).unwrap(),
            Value::Float32(1000.0)
        );
        assert_eq!(
            cast(Value::String("-Infinity".into()), Type::Float64).unwrap(),
            Value::Float64(f64::NEG_INFINITY)
        );
        for (text, ty) in [
            ("300", Type::Int8),
            ("abc", Type::Int32),
            ("1.5", Type::Int64),
            ("inf", Type::Float64),
            (" 1", Type::Int32),
        ] {
            assert_eq!(
                cast(Value::String(text.into()), ty).unwrap_err(),
                ConnectError::data(format!(
                    "Value ({text}) was out of range for requested data type"
                )),
                "{text}"
            );
        }
        assert_eq!(
            cast(Value::Bytes(vec![1]), Type::Int32).unwrap_err(),
            ConnectError::data("Unexpected type in Cast transformation: class [B")
        );
        let d = |s: &str| Value::Decimal(BigDecimal::from_str(s).unwrap());
        // Decimals are values of a Decimal schema (schemaless, Connect has no decimals).
        let decimal = decimal_schema(2);
        let cast = |v: Value, t: Type| cast_value(Some(&decimal), v, t);
        assert_eq!(cast(d("-12.99"), Type::Int32).unwrap(), Value::Int32(-12));
        assert_eq!(cast(d("1.5"), Type::Float32).unwrap(), Value::Float32(1.5));
        assert_eq!(
            cast(d("0.001"), Type::Boolean).unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(d("18446744073709551617"), Type::Int64).unwrap(),
            Value::Int64(1)
        );
        assert_eq!(cast(d("-1E+70"), Type::Int64).unwrap(), Value::Int64(0));
        assert_eq!(cast(d("1E+3"), Type::Int16).unwrap(), Value::Int16(1000));
    }

    #[test]
    fn one_input_schema_gets_one_output_schema() {
        let schema = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let mut t = value_cast("a:string");
        let mut outputs = Vec::new();
        for i in 0..3 {
            // A new but equal schema each time, as a converter without a cache would give.
            let s = SchemaBuilder::struct_().field("a", Schema::int32()).build();
            let mut r = value_source(
                Some(s.clone()),
                Value::Struct(Struct::new(s).unwrap().with("a", i).unwrap()),
            );
            t.apply(&mut r).unwrap();
            assert_eq!(
                r.value.as_struct().unwrap().get("a").unwrap(),
                &Value::String(i.to_string())
            );
            outputs.push(r.value_schema.unwrap());
        }
        assert!(outputs.windows(2).all(|w| Arc::ptr_eq(&w[0].0, &w[1].0)));
        assert_ne!(outputs[0], schema);
    }

    #[test]
    fn struct_defaults_have_their_fields_cast() {
        let inner = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let default = Struct::new(inner.clone()).unwrap().with("a", 7).unwrap();
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .optional()
            .default_value(Value::Struct(default))
            .build();
        let r = cast_whole(
            "a:string",
            Some(schema.clone()),
            Value::Struct(Struct::new(schema).unwrap().with("a", 1).unwrap()),
        );
        let s = r.value_schema.unwrap();
        assert!(s.is_optional());
        let d = s.default_value().unwrap().as_struct().unwrap();
        assert_eq!(d.get("a").unwrap(), &Value::String("7".into()));
        s.validate_value(&r.value).unwrap();
    }
}
