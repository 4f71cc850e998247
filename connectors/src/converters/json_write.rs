//! Writing Connect data as Kafka's `JsonConverter` does, straight into the output bytes: a
//! `serde::Serialize` walk over the value and its schema, driven through a
//! `serde_json::Serializer` whose [`JacksonFormatter`] prints what Jackson prints. No JSON
//! tree is built per record.
//!
//! The rules are those of `JsonConverter.convertToJson` / `asJsonSchema` (see
//! [`super::json`]); [`super::json_node::JsonNode`] keeps the same output rules for the
//! tree it writes, and the tests of both check the same bytes.

use std::cell::RefCell;
use std::io;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::ser::{CharEscape, Formatter};

use crate::data::java_fmt::{big_decimal_to_string, java_double_text, java_float_text, FloatText};
use crate::data::logical::{check_time_millis, decimal_from_logical, LogicalType};
use crate::data::validate::location;
use crate::data::{Schema, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use super::json::{DecimalFormat, JsonConverterConfig};
use super::json_node::JsonNode;

/// serde_json's compact formatter with Jackson's differences: floats as Java prints them,
/// `\u00XX` escapes with upper-case hex, and characters beyond U+FFFF as two escaped UTF-16
/// surrogates (Jackson's UTF-8 generator without `COMBINE_UNICODE_SURROGATES_IN_UTF8`).
/// Everything else (which characters are escaped, `\n`-style short escapes, `/` and DEL
/// unescaped, integers) is already the same.
pub struct JacksonFormatter;

impl Formatter for JacksonFormatter {
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let mut buf = FloatText::new();
        writer.write_all(java_float_text(value, &mut buf).as_bytes())
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut buf = FloatText::new();
        writer.write_all(java_double_text(value, &mut buf).as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let short = |c: u8| writer_pair(c);
        let bytes: &[u8] = match char_escape {
            CharEscape::Quote => &short(b'"'),
            CharEscape::ReverseSolidus => &short(b'\\'),
            CharEscape::Solidus => &short(b'/'),
            CharEscape::Backspace => &short(b'b'),
            CharEscape::FormFeed => &short(b'f'),
            CharEscape::LineFeed => &short(b'n'),
            CharEscape::CarriageReturn => &short(b'r'),
            CharEscape::Tab => &short(b't'),
            CharEscape::AsciiControl(b) => {
                return writer.write_all(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ])
            }
        };
        writer.write_all(bytes)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // A character beyond U+FFFF is four bytes in UTF-8, led by 0xF0..=0xF4.
        if !fragment.bytes().any(|b| b >= 0xF0) {
            return writer.write_all(fragment.as_bytes());
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (c as u32) > 0xFFFF {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                for unit in c.encode_utf16(&mut [0u16; 2]) {
                    let u = *unit as usize;
                    writer.write_all(&[
                        b'\\',
                        b'u',
                        HEX[(u >> 12) & 0xf],
                        HEX[(u >> 8) & 0xf],
                        HEX[(u >> 4) & 0xf],
                        HEX[u & 0xf],
                    ])?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

fn key_str(k: &Value) -> &str {
    k.as_str().unwrap_or_default()
}

fn writer_pair(c: u8) -> [u8; 2] {
    [b'\\', c]
}

/// Where in the value being written we are, kept on the stack and turned into text only
/// for an error message (the text is that of [`crate::data::validate`]).
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    /// A map value, by its key.
    Entry(&'a Path<'a>, &'a Value),
    /// The `i`th key of a map written as an array of pairs.
    Key(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn text(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Field(p, name) => {
                let p = p.text();
                if p.is_empty() {
                    name.to_string()
                } else {
                    format!("{p}.{name}")
                }
            }
            Path::Index(p, i) => format!("{}[{i}]", p.text()),
            Path::Entry(p, k) => format!("{}[{}]", p.text(), k.to_java_string()),
            Path::Key(p, i) => format!("{}.<key #{i}>", p.text()),
        }
    }

    fn err(&self, msg: impl Into<String>) -> ConnectError {
        let msg = msg.into();
        match self {
            Path::Root => ConnectError::Data(msg),
            p => ConnectError::Data(format!("{msg} ({})", location(&p.text()))),
        }
    }
}

/// What the walk needs: the settings, and a slot for the first Connect error (serde's error
/// type cannot carry it, so it waits here and the caller returns it).
pub(crate) struct Ctx<'c> {
    pub config: &'c JsonConverterConfig,
    error: RefCell<Option<ConnectError>>,
}

impl<'c> Ctx<'c> {
    pub fn new(config: &'c JsonConverterConfig) -> Self {
        Ctx {
            config,
            error: RefCell::new(None),
        }
    }

    fn fail<E: serde::ser::Error>(&self, e: ConnectError) -> E {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
        E::custom("conversion failed")
    }

    /// The Connect error behind a failed serialization.
    fn take_error(&self, e: serde_json::Error) -> ConnectError {
        self.error
            .borrow_mut()
            .take()
            .unwrap_or_else(|| ConnectError::data(format!("Writing JSON failed: {e}")))
    }
}

/// Appends the JSON of `value` (checked against `schema` as it goes) to `out`.
pub(crate) fn write_payload(
    ctx: &Ctx<'_>,
    schema: Option<&Schema>,
    value: &Value,
    out: &mut Vec<u8>,
) -> ConnectResult<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, JacksonFormatter);
    Payload {
        ctx,
        schema,
        value,
        path: &Path::Root,
    }
    .serialize(&mut ser)
    .map_err(|e| ctx.take_error(e))
}

/// Appends `asJsonSchema(schema)` to `out`.
pub(crate) fn write_schema(ctx: &Ctx<'_>, schema: &Schema, out: &mut Vec<u8>) -> ConnectResult<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, JacksonFormatter);
    SchemaJson {
        ctx,
        schema: Some(schema),
        field: None,
    }
    .serialize(&mut ser)
    .map_err(|e| ctx.take_error(e))
}

/// `convertToJson` of one value.
struct Payload<'a> {
    ctx: &'a Ctx<'a>,
    schema: Option<&'a Schema>,
    value: &'a Value,
    path: &'a Path<'a>,
}

impl<'a> Payload<'a> {
    fn child(&self, schema: Option<&'a Schema>, value: &'a Value, path: &'a Path<'a>) -> Self {
        Payload {
            ctx: self.ctx,
            schema,
            value,
            path,
        }
    }
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (ctx, schema, value, path) = (self.ctx, self.schema, self.value, self.path);
        if value.is_null() {
            let Some(schema) = schema else {
                return ser.serialize_unit();
            };
            if ctx.config.replace_null_with_default {
                if let Some(default) = schema.default_value().filter(|d| !d.is_null()) {
                    return self.child(Some(schema), default, path).serialize(ser);
                }
            }
            if schema.is_optional() {
                return ser.serialize_unit();
            }
            return Err(ctx.fail(path.err(
                "Conversion error: null value for field that is required and has no default value",
            )));
        }

        if let Some(s) = schema {
            if let Some(lt) = s.logical_type() {
                return logical(ctx, s, lt, value, path, ser);
            }
        }

        let ty = match schema {
            Some(s) => s.ty(),
            None => match value {
                Value::Struct(_) => return Err(ctx.fail(path.err("Mismatching schema."))),
                v => match v.schema_type() {
                    Some(t) => t,
                    None => {
                        return Err(ctx.fail(path.err(format!(
                            "{} value does not have corresponding schema type.",
                            v.kind()
                        ))))
                    }
                },
            },
        };
        match (ty, value) {
            (Type::Int8, Value::Int8(v)) => ser.serialize_i64(i64::from(*v)),
            (Type::Int16, Value::Int16(v)) => ser.serialize_i64(i64::from(*v)),
            (Type::Int32, Value::Int32(v)) => ser.serialize_i64(i64::from(*v)),
            (Type::Int64, Value::Int64(v)) => ser.serialize_i64(*v),
            (Type::Float32, Value::Float32(v)) => {
                if v.is_finite() {
                    ser.serialize_f32(*v)
                } else {
                    // Jackson's QUOTE_NON_NUMERIC_NUMBERS: "NaN", "Infinity", "-Infinity".
                    ser.serialize_str(java_float_text(*v, &mut FloatText::new()))
                }
            }
            (Type::Float64, Value::Float64(v)) => {
                if v.is_finite() {
                    ser.serialize_f64(*v)
                } else {
                    ser.serialize_str(java_double_text(*v, &mut FloatText::new()))
                }
            }
            (Type::Boolean, Value::Boolean(v)) => ser.serialize_bool(*v),
            (Type::String, Value::String(v)) => ser.serialize_str(v),
            (Type::Bytes, Value::Bytes(v)) => ser.collect_str(&Base64Display::new(v, &STANDARD)),
            (Type::Array, Value::Array(items)) => {
                let elem = schema.and_then(Schema::value_schema);
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for (i, item) in items.iter().enumerate() {
                    let p = Path::Index(path, i);
                    seq.serialize_element(&self.child(elem, item, &p))?;
                }
                seq.end()
            }
            (Type::Map, Value::Map(entries)) => self.map(entries, ser),
            (Type::Struct, Value::Struct(st)) => {
                let schema = schema.expect("schemaless structs were refused above");
                if !st.schema.same_struct_schema(schema) {
                    return Err(ctx.fail(path.err("Mismatching schema.")));
                }
                let mut map = ser.serialize_map(Some(schema.fields().len()))?;
                for (i, f) in schema.fields().iter().enumerate() {
                    let v = if ctx.config.replace_null_with_default {
                        st.get_at(i)
                    } else {
                        st.values.get(i).unwrap_or(&Value::Null)
                    };
                    let p = Path::Field(path, &f.name);
                    map.serialize_entry(f.name.as_str(), &self.child(Some(&f.schema), v, &p))?;
                }
                map.end()
            }
            _ => Err(ctx.fail(path.err(format!("Invalid type for {ty}: {}", value.kind())))),
        }
    }
}

impl Payload<'_> {
    fn map<S: Serializer>(&self, entries: &[(Value, Value)], ser: S) -> Result<S::Ok, S::Error> {
        let (ctx, schema, path) = (self.ctx, self.schema, self.path);
        let (ks, vs) = match schema {
            Some(s) => match s.key_schema() {
                Some(ks) => (Some(ks), s.value_schema()),
                None => return Err(ctx.fail(path.err("Map schema has no key schema"))),
            },
            None => (None, None),
        };
        let object_mode = match ks {
            Some(ks) => ks.ty() == Type::String,
            None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
        };
        if !object_mode {
            let mut seq = ser.serialize_seq(Some(entries.len()))?;
            for (i, (k, v)) in entries.iter().enumerate() {
                let kp = Path::Key(path, i);
                let vp = Path::Entry(path, k);
                seq.serialize_element(&Pair(self.child(ks, k, &kp), self.child(vs, v, &vp)))?;
            }
            return seq.end();
        }
        // Object keys are the text of the converted key. Kafka puts them in an ObjectNode, so
        // a repeated key keeps its first place and takes the last value. The common case
        // (string keys, all different) is written as it goes; others entry by entry first.
        let direct = entries.iter().all(|(k, _)| {
            matches!(k, Value::String(_)) && ks.is_none_or(|ks| ks.logical_type().is_none())
        });
        let unique = direct
            && if entries.len() <= 16 {
                entries
                    .iter()
                    .enumerate()
                    .all(|(i, (k, _))| !entries[..i].iter().any(|(e, _)| e == k))
            } else {
                let mut seen = std::collections::HashSet::with_capacity(entries.len());
                entries.iter().all(|(k, _)| seen.insert(key_str(k)))
            };
        if unique {
            let mut map = ser.serialize_map(Some(entries.len()))?;
            for (k, v) in entries {
                let vp = Path::Entry(path, k);
                map.serialize_entry(key_str(k), &self.child(vs, v, &vp))?;
            }
            return map.end();
        }
        let mut members: Vec<(String, Box<serde_json::value::RawValue>)> = Vec::new();
        for (k, v) in entries {
            let key = self.key_text(ks, k)?;
            let vp = Path::Entry(path, k);
            let text = self.child(vs, v, &vp).to_text()?;
            let raw = serde_json::value::RawValue::from_string(text).map_err(S::Error::custom)?;
            match members.iter_mut().find(|(m, _)| *m == key) {
                Some(slot) => slot.1 = raw,
                None => members.push((key, raw)),
            }
        }
        let mut map = ser.serialize_map(Some(members.len()))?;
        for (k, raw) in &members {
            map.serialize_entry(k, raw)?;
        }
        map.end()
    }

    /// This value's JSON on its own.
    fn to_text<E: serde::ser::Error>(&self) -> Result<String, E> {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, JacksonFormatter);
        self.serialize(&mut ser)
            .map_err(|_| E::custom("conversion failed"))?;
        String::from_utf8(buf).map_err(E::custom)
    }

    /// The text of a map key written as an object key (Jackson's `asText()` of its JSON).
    fn key_text<E: serde::ser::Error>(&self, ks: Option<&Schema>, k: &Value) -> Result<String, E> {
        let text = self.child(ks, k, self.path).to_text::<E>()?;
        match JsonNode::parse(text.as_bytes()) {
            Ok(Some(node)) => Ok(node.as_text()),
            _ => Err(self
                .ctx
                .fail(self.path.err("Could not write a map key as JSON text"))),
        }
    }
}

/// A `[key, value]` pair of a map written as an array.
struct Pair<'a>(Payload<'a>, Payload<'a>);

impl Serialize for Pair<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(2))?;
        seq.serialize_element(&self.0)?;
        seq.serialize_element(&self.1)?;
        seq.end()
    }
}

fn logical<S: Serializer>(
    ctx: &Ctx<'_>,
    schema: &Schema,
    lt: LogicalType,
    value: &Value,
    path: &Path<'_>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match (lt, value) {
        (LogicalType::Decimal, Value::Decimal(d)) => match ctx.config.decimal_format {
            DecimalFormat::Numeric => {
                // BigDecimal.toString() as a JSON number, as Jackson writes a DecimalNode.
                let raw = serde_json::value::RawValue::from_string(big_decimal_to_string(d))
                    .map_err(S::Error::custom)?;
                raw.serialize(ser)
            }
            DecimalFormat::Base64 => match decimal_from_logical(schema, d) {
                Ok(bytes) => ser.collect_str(&Base64Display::new(&bytes, &STANDARD)),
                Err(e) => Err(ctx.fail(path.err(err_text(&e)))),
            },
        },
        (LogicalType::Decimal, v) => Err(ctx.fail(path.err(format!(
            "Invalid type for Decimal, expected BigDecimal but was {}",
            v.kind()
        )))),
        (LogicalType::Date, Value::Date(days)) => ser.serialize_i64(i64::from(*days)),
        (LogicalType::Time, Value::Time(ms)) => {
            if check_time_millis(*ms).is_err() {
                return Err(ctx.fail(path.err(
                    "Kafka Connect Time type should not have any date fields set to non-zero values.",
                )));
            }
            ser.serialize_i64(i64::from(*ms))
        }
        (LogicalType::Timestamp, Value::Timestamp(ms)) => ser.serialize_i64(*ms),
        (lt, v) => {
            let name = match lt {
                LogicalType::Date => "Date",
                LogicalType::Time => "Time",
                _ => "Timestamp",
            };
            Err(ctx.fail(path.err(format!(
                "Invalid type for {name}, expected Date but was {}",
                v.kind()
            ))))
        }
    }
}

pub(crate) fn err_text(e: &ConnectError) -> String {
    match e {
        ConnectError::Data(m)
        | ConnectError::Config(m)
        | ConnectError::Retriable(m)
        | ConnectError::Other(m) => m.clone(),
    }
}

/// `asJsonSchema`: `type`, then `items` / `keys`, `values` / `fields`, then `optional`,
/// `name`, `version`, `doc`, `parameters`, `default` (those set); a struct field's schema is
/// followed by `"field":"<name>"`.
struct SchemaJson<'a> {
    ctx: &'a Ctx<'a>,
    schema: Option<&'a Schema>,
    field: Option<&'a str>,
}

impl Serialize for SchemaJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let Some(schema) = self.schema else {
            return ser.serialize_unit();
        };
        let ctx = self.ctx;
        let sub = |s| SchemaJson {
            ctx,
            schema: s,
            field: None,
        };
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry("type", schema.ty().json_name())?;
        match schema.ty() {
            Type::Array => map.serialize_entry("items", &sub(schema.value_schema()))?,
            Type::Map => {
                map.serialize_entry("keys", &sub(schema.key_schema()))?;
                map.serialize_entry("values", &sub(schema.value_schema()))?;
            }
            Type::Struct => map.serialize_entry("fields", &Fields(self.ctx, schema))?,
            _ => {}
        }
        map.serialize_entry("optional", &schema.is_optional())?;
        if let Some(name) = schema.name() {
            map.serialize_entry("name", name)?;
        }
        if let Some(version) = schema.version() {
            map.serialize_entry("version", &version)?;
        }
        if let Some(doc) = schema.doc() {
            map.serialize_entry("doc", doc)?;
        }
        if !schema.parameters().is_empty() {
            map.serialize_entry("parameters", schema.parameters())?;
        }
        if let Some(default) = schema.default_value().filter(|d| !d.is_null()) {
            let p = Path::Root;
            map.serialize_entry(
                "default",
                &Payload {
                    ctx: self.ctx,
                    schema: Some(schema),
                    value: default,
                    path: &p,
                },
            )?;
        }
        if let Some(field) = self.field {
            map.serialize_entry("field", field)?;
        }
        map.end()
    }
}

struct Fields<'a>(&'a Ctx<'a>, &'a Schema);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let fields = self.1.fields();
        let mut seq = ser.serialize_seq(Some(fields.len()))?;
        for f in fields {
            seq.serialize_element(&SchemaJson {
                ctx: self.0,
                schema: Some(&f.schema),
                field: Some(&f.name),
            })?;
        }
        seq.end()
    }
}
