//! Reading Kafka's JSON into Connect data without a JSON tree per record: serde_json parses
//! the bytes and a `DeserializeSeed` driven by the expected schema builds the Connect value
//! as it goes; the envelope's schema is borrowed as raw text and looked up in the
//! converter's schema cache.
//!
//! This is the fast path only. It gives up (returns `None`) on anything out of the ordinary:
//! any error, a repeated key, a number it cannot read exactly (a fraction or exponent for an
//! integer, an integer beyond 64 bits), nesting deeper than serde_json's 128 levels, a byte
//! order mark, odd escapes. The converter then reads the record again with the reference
//! reader ([`super::json_node`] and `JsonConverter::convert_to_connect`), which gives the
//! answer or the error Kafka's converter gives. So this module never decides an error
//! message, and whatever it accepts it reads exactly as the reference reader does (the
//! property tests in `tests/json_converter_roundtrip.rs` compare the two).

use std::fmt;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::data::logical::{check_time_millis, decimal_scale, decimal_to_logical, LogicalType};
use crate::data::{Schema, SchemaAndValue, Struct, Type, Value};

use super::json::{rescale_decimal, JsonConverter};
use super::json_node::decode_base64;

type E = serde_json::Error;

fn give_up<T>() -> Result<T, E> {
    Err(E::custom("not for the fast path"))
}

/// `toConnectData` of `bytes` (not empty), or `None` to read them with the reference reader.
pub(crate) fn read(conv: &JsonConverter, bytes: &[u8]) -> Option<SchemaAndValue> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out = if conv.config().schemas_enable {
        Envelope { conv }.deserialize(&mut de).ok()?
    } else {
        let value = ValueSeed { conv, schema: None }.deserialize(&mut de).ok()?;
        SchemaAndValue::new(None, value)
    };
    de.end().ok()?;
    Some(out)
}

/// `{"schema": …, "payload": …}` with exactly these two keys.
struct Envelope<'c> {
    conv: &'c JsonConverter,
}

#[derive(PartialEq)]
enum EnvelopeKey {
    Schema,
    Payload,
}

impl<'de> Deserialize<'de> for EnvelopeKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvelopeKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"schema\" or \"payload\"")
            }
            fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<EnvelopeKey, Er> {
                match s {
                    "schema" => Ok(EnvelopeKey::Schema),
                    "payload" => Ok(EnvelopeKey::Payload),
                    _ => Err(Er::custom("not an envelope key")),
                }
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> DeserializeSeed<'de> for Envelope<'_> {
    type Value = SchemaAndValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SchemaAndValue, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = SchemaAndValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JsonConverter envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchemaAndValue, A::Error> {
        let conv = self.conv;
        let schema_of = |raw: &RawValue| {
            conv.schema_for_json_text(raw.get())
                .ok_or_else(|| A::Error::custom("schema for the reference reader"))
        };
        let first = map.next_key::<EnvelopeKey>()?;
        let out = match first {
            Some(EnvelopeKey::Schema) => {
                let raw: &RawValue = map.next_value()?;
                let (schema, fast) = schema_of(raw)?;
                if !fast || map.next_key::<EnvelopeKey>()? != Some(EnvelopeKey::Payload) {
                    return Err(A::Error::custom("for the reference reader"));
                }
                let value = map.next_value_seed(ValueSeed {
                    conv,
                    schema: schema.as_ref(),
                })?;
                SchemaAndValue::new(schema, value)
            }
            Some(EnvelopeKey::Payload) => {
                // The payload comes first: keep its text until the schema is known.
                let payload: &RawValue = map.next_value()?;
                if map.next_key::<EnvelopeKey>()? != Some(EnvelopeKey::Schema) {
                    return Err(A::Error::custom("for the reference reader"));
                }
                let raw: &RawValue = map.next_value()?;
                let (schema, fast) = schema_of(raw)?;
                if !fast {
                    return Err(A::Error::custom("for the reference reader"));
                }
                let mut de = serde_json::Deserializer::from_str(payload.get());
                let value = ValueSeed {
                    conv,
                    schema: schema.as_ref(),
                }
                .deserialize(&mut de)
                .map_err(A::Error::custom)?;
                SchemaAndValue::new(schema, value)
            }
            None => return Err(A::Error::custom("not an envelope")),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("more than an envelope"));
        }
        Ok(out)
    }
}

/// Whether the fast path can read values of `schema`: every logical type name sits on its
/// carrier type. (Kafka recognises logical types by name only; the reference reader then
/// fails the value check for a misplaced one, which this path does not repeat.)
pub(crate) fn fast_path_can_read(schema: &Schema) -> bool {
    if let Some(lt) = schema.logical_type() {
        if lt.carrier_type() != schema.ty() {
            return false;
        }
    }
    schema.value_schema().is_none_or(fast_path_can_read)
        && schema.key_schema().is_none_or(fast_path_can_read)
        && schema
            .fields()
            .iter()
            .all(|f| fast_path_can_read(&f.schema))
}

/// One value of `schema` (schemaless when `None`).
#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    conv: &'a JsonConverter,
    schema: Option<&'a Schema>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let Some(schema) = self.schema else {
            return d.deserialize_any(Schemaless);
        };
        let v = Typed {
            conv: self.conv,
            schema,
        };
        if let Some(lt) = schema.logical_type() {
            return match lt {
                LogicalType::Decimal => {
                    let raw = <&RawValue>::deserialize(d)?;
                    v.decimal(raw.get()).map_err(D::Error::custom)
                }
                _ => d.deserialize_any(Logical { typed: v, lt }),
            };
        }
        match schema.ty() {
            // Read at single precision: one rounding from the decimal text, as Java's
            // Float.parseFloat (through BigDecimal) does.
            Type::Float32 => d.deserialize_option(NullOr(v)),
            _ => d.deserialize_any(v),
        }
    }
}

/// `null`, or a FLOAT32 read at single precision.
struct NullOr<'a>(Typed<'a>);

impl<'de> Visitor<'de> for NullOr<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or null")
    }

    fn visit_none<Er: serde::de::Error>(self) -> Result<Value, Er> {
        self.0.null()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_f32(self.0)
    }
}

/// A non-null value of a schema without logical type.
#[derive(Clone, Copy)]
struct Typed<'a> {
    conv: &'a JsonConverter,
    schema: &'a Schema,
}

impl Typed<'_> {
    /// What a JSON null (or a missing field) becomes.
    fn null<Er: serde::de::Error>(&self) -> Result<Value, Er> {
        null_value(self.conv, self.schema).ok_or_else(|| Er::custom("null for a required value"))
    }

    fn int(&self, i: i64) -> Result<Value, E> {
        // Java's narrowing of longValue(): the low bits.
        Ok(match self.schema.ty() {
            Type::Int8 => Value::Int8(i as i8),
            Type::Int16 => Value::Int16(i as i16),
            Type::Int32 => Value::Int32(i as i32),
            Type::Int64 => Value::Int64(i),
            Type::Float32 => Value::Float32(i as f32),
            Type::Float64 => Value::Float64(i as f64),
            _ => return give_up(),
        })
    }

    fn decimal(&self, text: &str) -> Result<Value, E> {
        let scale = decimal_scale(self.schema).or_else(|_| give_up())?;
        match text.as_bytes().first() {
            Some(b'n') => self.null(),
            Some(b'"') => {
                let inner = &text[1..text.len() - 1];
                if inner.contains('\\') {
                    return give_up();
                }
                let bytes = decode_base64(inner).or_else(|_| give_up())?;
                decimal_to_logical(self.schema, &bytes)
                    .map(Value::Decimal)
                    .or_else(|_| give_up())
            }
            Some(b'-' | b'0'..=b'9') => {
                let d = BigDecimal::from_str(text).or_else(|_| give_up())?;
                rescale_decimal(d, i64::from(scale))
                    .map(Value::Decimal)
                    .ok_or_else(|| E::custom("inexact"))
            }
            _ => give_up(),
        }
    }
}

/// `null` (or an absent struct field) for `schema`: the default when there is one and
/// `replace.null.with.default` is on, else `Null` when optional; `None` when neither.
fn null_value(conv: &JsonConverter, schema: &Schema) -> Option<Value> {
    if conv.config().replace_null_with_default {
        if let Some(default) = schema.default_value().filter(|d| !d.is_null()) {
            return Some(default.clone());
        }
    }
    schema.is_optional().then_some(Value::Null)
}

impl<'de> Visitor<'de> for Typed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON value for {}", self.schema.ty())
    }

    fn visit_unit<Er: serde::de::Error>(self) -> Result<Value, Er> {
        self.null()
    }

    fn visit_bool<Er: serde::de::Error>(self, b: bool) -> Result<Value, Er> {
        match self.schema.ty() {
            Type::Boolean => Ok(Value::Boolean(b)),
            _ => Err(Er::custom("not a boolean")),
        }
    }

    fn visit_i64<Er: serde::de::Error>(self, i: i64) -> Result<Value, Er> {
        self.int(i).map_err(Er::custom)
    }

    fn visit_u64<Er: serde::de::Error>(self, u: u64) -> Result<Value, Er> {
        match self.schema.ty() {
            Type::Float32 => Ok(Value::Float32(u as f32)),
            Type::Float64 => Ok(Value::Float64(u as f64)),
            // The low 64 bits, as longValue() of a larger integer.
            _ => self.int(u as i64).map_err(Er::custom),
        }
    }

    fn visit_f64<Er: serde::de::Error>(self, f: f64) -> Result<Value, Er> {
        // serde_json (with `float_roundtrip`) reads the text exactly; for FLOAT32 it was
        // asked for single precision, so the cast is exact.
        match self.schema.ty() {
            Type::Float32 => Ok(Value::Float32(f as f32)),
            Type::Float64 => Ok(Value::Float64(f)),
            // A fraction or exponent for an integer: Java truncates the exact value.
            _ => Err(Er::custom("not an integer")),
        }
    }

    fn visit_borrowed_str<Er: serde::de::Error>(self, s: &'de str) -> Result<Value, Er> {
        self.visit_str(s)
    }

    fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<Value, Er> {
        match self.schema.ty() {
            Type::String => Ok(Value::String(s.to_owned())),
            Type::Bytes => decode_base64(s)
                .map(Value::Bytes)
                .map_err(|_| Er::custom("bad base64")),
            Type::Float32 | Type::Float64 => Err(Er::custom("a string for a number")),
            _ => Err(Er::custom("not a string")),
        }
    }

    fn visit_string<Er: serde::de::Error>(self, s: String) -> Result<Value, Er> {
        match self.schema.ty() {
            Type::String => Ok(Value::String(s)),
            _ => self.visit_str(&s),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.schema.ty() {
            Type::Array => {
                let elem = ValueSeed {
                    conv: self.conv,
                    schema: self.schema.value_schema(),
                };
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element_seed(elem)? {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            Type::Map
                if self
                    .schema
                    .key_schema()
                    .is_some_and(|k| k.ty() != Type::String) =>
            {
                let pair = PairSeed {
                    key: ValueSeed {
                        conv: self.conv,
                        schema: self.schema.key_schema(),
                    },
                    value: ValueSeed {
                        conv: self.conv,
                        schema: self.schema.value_schema(),
                    },
                };
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element_seed(pair)? {
                    out.push(entry);
                }
                Ok(Value::Map(out))
            }
            _ => Err(A::Error::custom("not an array")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.schema.ty() {
            Type::Struct => {
                let fields = self.schema.fields();
                let mut values = Struct::null_values(fields.len());
                let mut seen = Seen::new(fields.len());
                let mut next = 0;
                while let Some(found) = map.next_key_seed(FieldName {
                    fields,
                    expected: next,
                })? {
                    let Some(i) = found else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    if seen.get(i) {
                        // A repeated key: Jackson keeps the last; leave that to the reference.
                        return Err(A::Error::custom("repeated field"));
                    }
                    values[i] = map.next_value_seed(ValueSeed {
                        conv: self.conv,
                        schema: Some(&fields[i].schema),
                    })?;
                    seen.set(i);
                    next = i + 1;
                }
                for (i, f) in fields.iter().enumerate() {
                    if !seen.get(i) {
                        values[i] = null_value(self.conv, &f.schema)
                            .ok_or_else(|| A::Error::custom("missing required field"))?;
                    }
                }
                Ok(Value::Struct(Struct {
                    schema: self.schema.clone(),
                    values,
                }))
            }
            Type::Map
                if self
                    .schema
                    .key_schema()
                    .is_some_and(|k| k.ty() == Type::String) =>
            {
                read_object(
                    map,
                    ValueSeed {
                        conv: self.conv,
                        schema: self.schema.value_schema(),
                    },
                )
            }
            _ => Err(A::Error::custom("not an object")),
        }
    }
}

/// Which fields of a struct were present; no allocation for up to 64 fields.
enum Seen {
    Few(u64),
    Many(Vec<bool>),
}

impl Seen {
    fn new(n: usize) -> Self {
        if n <= 64 {
            Seen::Few(0)
        } else {
            Seen::Many(vec![false; n])
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Seen::Few(bits) => bits & (1 << i) != 0,
            Seen::Many(v) => v[i],
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Seen::Few(bits) => *bits |= 1 << i,
            Seen::Many(v) => v[i] = true,
        }
    }
}

/// A JSON object as a map with string keys; a repeated key is left to the reference reader.
fn read_object<'de, A, S>(mut map: A, values: S) -> Result<Value, A::Error>
where
    A: MapAccess<'de>,
    S: DeserializeSeed<'de, Value = Value> + Copy,
{
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
    while let Some(k) = map.next_key::<String>()? {
        let v = map.next_value_seed(values)?;
        out.push((Value::String(k), v));
    }
    let unique = if out.len() <= 16 {
        out.iter()
            .enumerate()
            .all(|(i, (k, _))| !out[..i].iter().any(|(e, _)| e == k))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(out.len());
        out.iter().all(|(k, _)| seen.insert(k.as_str()))
    };
    if !unique {
        return Err(A::Error::custom("repeated key"));
    }
    Ok(Value::Map(out))
}

/// A struct field's name: `Some(index)` of the field, `None` for a key the schema does not
/// have. Fields usually come in schema order, so the expected one is tried first.
struct FieldName<'a> {
    fields: &'a [crate::data::Field],
    expected: usize,
}

impl<'de> DeserializeSeed<'de> for FieldName<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<Option<usize>, Er> {
        if self.fields.get(self.expected).is_some_and(|f| f.name == s) {
            return Ok(Some(self.expected));
        }
        Ok(self.fields.iter().position(|f| f.name == s))
    }
}

/// A `[key, value]` entry of a map with non-string keys.
#[derive(Clone, Copy)]
struct PairSeed<'a> {
    key: ValueSeed<'a>,
    value: ValueSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = (Value, Value);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Value, Value), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = (Value, Value);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Value, Value), A::Error> {
        let k = seq
            .next_element_seed(self.key)?
            .ok_or_else(|| A::Error::custom("short pair"))?;
        let v = seq
            .next_element_seed(self.value)?
            .ok_or_else(|| A::Error::custom("short pair"))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("long pair"));
        }
        Ok((k, v))
    }
}

/// DATE, TIME (integers that fit an `int`) and TIMESTAMP (any integer).
struct Logical<'a> {
    typed: Typed<'a>,
    lt: LogicalType,
}

impl Logical<'_> {
    fn int<Er: serde::de::Error>(self, i: i64, fits_long: bool) -> Result<Value, Er> {
        match self.lt {
            LogicalType::Timestamp => Ok(Value::Timestamp(i)),
            LogicalType::Date | LogicalType::Time if fits_long => {
                let Ok(v) = i32::try_from(i) else {
                    return Err(Er::custom("not an int"));
                };
                if self.lt == LogicalType::Date {
                    Ok(Value::Date(v))
                } else if check_time_millis(v).is_ok() {
                    Ok(Value::Time(v))
                } else {
                    Err(Er::custom("bad time"))
                }
            }
            _ => Err(Er::custom("not an int")),
        }
    }
}

impl<'de> Visitor<'de> for Logical<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_unit<Er: serde::de::Error>(self) -> Result<Value, Er> {
        self.typed.null()
    }

    fn visit_i64<Er: serde::de::Error>(self, i: i64) -> Result<Value, Er> {
        self.int(i, true)
    }

    fn visit_u64<Er: serde::de::Error>(self, u: u64) -> Result<Value, Er> {
        self.int(u as i64, i64::try_from(u).is_ok())
    }
}

/// Schemaless JSON, as `JsonConverter` reads it without a schema: integers are INT64,
/// other numbers FLOAT64, objects maps with string keys.
struct Schemaless;

impl<'de> Visitor<'de> for Schemaless {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<Er: serde::de::Error>(self) -> Result<Value, Er> {
        Ok(Value::Null)
    }

    fn visit_bool<Er: serde::de::Error>(self, b: bool) -> Result<Value, Er> {
        Ok(Value::Boolean(b))
    }

    fn visit_i64<Er: serde::de::Error>(self, i: i64) -> Result<Value, Er> {
        Ok(Value::Int64(i))
    }

    fn visit_u64<Er: serde::de::Error>(self, u: u64) -> Result<Value, Er> {
        Ok(Value::Int64(u as i64))
    }

    fn visit_f64<Er: serde::de::Error>(self, f: f64) -> Result<Value, Er> {
        // serde_json hands integers beyond 64 bits (and `-0`) over as floats too; their text
        // had no fraction, so the reference reader makes them INT64. Leave those to it.
        if f.fract() == 0.0 && (f.abs() >= 9.2e18 || (f == 0.0 && f.is_sign_negative())) {
            return Err(Er::custom("maybe an integer"));
        }
        Ok(Value::Float64(f))
    }

    fn visit_borrowed_str<Er: serde::de::Error>(self, s: &'de str) -> Result<Value, Er> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<Value, Er> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<Er: serde::de::Error>(self, s: String) -> Result<Value, Er> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(ValueSeedNone)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        read_object(map, ValueSeedNone)
    }
}

/// A schemaless value inside schemaless JSON.
#[derive(Clone, Copy)]
struct ValueSeedNone;

impl<'de> DeserializeSeed<'de> for ValueSeedNone {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(Schemaless)
    }
}
