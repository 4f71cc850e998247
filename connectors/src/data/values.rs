//! Connect's `Values`: the text form of any Connect value ([`convert_to_string`]), reading
//! such text back as the narrowest schema and value it can be ([`parse_string`]), and the
//! schema of a schemaless value ([`infer_schema`]). Connect's SimpleHeaderConverter writes and
//! reads header values with the first two; InsertHeader reads its `value.literal` with
//! [`parse_string`].
//!
//! Text forms, as `Values.convertToString` writes them: numbers as Java prints them (`1.0E10`,
//! decimals as `BigDecimal.toString`), booleans, strings as they are, bytes in base64, arrays
//! `[1,2]`, maps `{"a":1}`, structs like maps of their fields (`{"f":1,"g":null}`; an unset
//! field prints its default), dates by the instant they stand for: before 1970-01-02 as a time
//! (`HH:mm:ss.SSS'Z'`), at a midnight as a date (`yyyy-MM-dd`), otherwise as a timestamp
//! (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`). Inside an array, map or struct strings and bytes are
//! quoted, with `\` and `"` escaped.
//!
//! Reading (`Values.parseString`): `null`, `true` and `false` on their own; numbers as the
//! smallest of INT8 … INT64 that holds them when integral, else FLOAT32, FLOAT64 or a Decimal
//! of the number's scale; the three date forms above; arrays and maps whose elements are any
//! of these (strings quoted, keys not null), with the elements' common schema (integers widen
//! to the widest, then to floats; no common schema → an array or map schema without an element
//! schema, the elements as read); anything else is a string, the text as given. Like Connect,
//! a text that starts with a number followed by a delimiter is that number (`1,2` is INT8 1),
//! and a backslash escapes a delimiter without being removed.
//!
//! Deviations from Connect:
//! - Dates are read and written in UTC, where Connect uses the JVM's default zone (UTC in most
//!   deployments), and a date read with out-of-range fields rolls over as Java's lenient
//!   `SimpleDateFormat` does, except a time beyond an INT32 of milliseconds, which stays text.
//! - Java's Unicode digits (`١٢٣`) are not digits here.
//! - A date of one kind in an array of another kind (a time among timestamps, say) keeps the
//!   instant when the element kind can hold it; when it cannot (a time of day given to a
//!   Date), the whole text is read as a string, where Java keeps a `java.util.Date` that its
//!   own schema does not describe.
//! - [`infer_schema`] gives `None` for an array or map whose elements are all null, where Java
//!   throws.

use std::str::FromStr;
use std::sync::LazyLock;

use base64::Engine as _;
use bigdecimal::{BigDecimal, ToPrimitive};

use super::java_fmt::{big_decimal_to_string, double_to_string, float_to_string};
use super::logical::{
    check_time_millis, date_schema, decimal_schema, time_schema, timestamp_schema, LogicalType,
    MILLIS_PER_DAY,
};
use super::simple_date_format::SimpleDateFormat;
use super::{Schema, SchemaAndValue, SchemaBuilder, Type, Value};

// ---------------------------------------------------------------------------------------------
// Text forms

static TIME_FORMAT: LazyLock<SimpleDateFormat> =
    LazyLock::new(|| SimpleDateFormat::new("HH:mm:ss.SSS'Z'").expect("a valid pattern"));
static DATE_FORMAT: LazyLock<SimpleDateFormat> =
    LazyLock::new(|| SimpleDateFormat::new("yyyy-MM-dd").expect("a valid pattern"));
static TIMESTAMP_FORMAT: LazyLock<SimpleDateFormat> = LazyLock::new(|| {
    SimpleDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").expect("a valid pattern")
});

/// `Values.convertToString`: the text form of `value` (see the module doc). `Null` is `null`.
pub fn convert_to_string(value: &Value) -> String {
    let mut out = String::new();
    append(&mut out, value, false);
    out
}

/// Connect's `Values.escape`: `\` doubled, `"` preceded by `\`.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn append(out: &mut String, value: &Value, embedded: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Int8(n) => out.push_str(&n.to_string()),
        Value::Int16(n) => out.push_str(&n.to_string()),
        Value::Int32(n) => out.push_str(&n.to_string()),
        Value::Int64(n) => out.push_str(&n.to_string()),
        Value::Float32(f) => out.push_str(&float_to_string(*f)),
        Value::Float64(f) => out.push_str(&double_to_string(*f)),
        Value::Decimal(d) => out.push_str(&big_decimal_to_string(d)),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) if embedded => {
            out.push('"');
            out.push_str(&escape(s));
            out.push('"');
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                out.push('"');
                out.push_str(&text);
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, k, true);
                out.push(':');
                append(out, v, true);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, field) in s.schema.fields().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, &Value::String(field.name.clone()), true);
                out.push(':');
                append(out, s.get_at(i), true);
            }
            out.push('}');
        }
        Value::Date(days) => out.push_str(&instant_text(i64::from(*days) * MILLIS_PER_DAY)),
        Value::Time(ms) => out.push_str(&instant_text(i64::from(*ms))),
        Value::Timestamp(ms) => out.push_str(&instant_text(*ms)),
    }
}

/// `Values.dateFormatFor`: the form is chosen by the instant, not by the logical type.
fn instant_text(millis: i64) -> String {
    if millis < MILLIS_PER_DAY {
        TIME_FORMAT.format(millis)
    } else if millis % MILLIS_PER_DAY == 0 {
        DATE_FORMAT.format(millis)
    } else {
        TIMESTAMP_FORMAT.format(millis)
    }
}

// ---------------------------------------------------------------------------------------------
// Schema inference

/// `Values.inferSchema`: the schema of a schemaless value. Logical values and `Null` have
/// none; an array or map has one when it is not empty and its elements (and keys) are all of
/// one type or null, and then its element schema is that bare type (optional when a null was
/// among them).
pub fn infer_schema(value: &Value) -> Option<Schema> {
    Some(match value {
        Value::String(_) => Schema::string(),
        Value::Boolean(_) => Schema::boolean(),
        Value::Int8(_) => Schema::int8(),
        Value::Int16(_) => Schema::int16(),
        Value::Int32(_) => Schema::int32(),
        Value::Int64(_) => Schema::int64(),
        Value::Float32(_) => Schema::float32(),
        Value::Float64(_) => Schema::float64(),
        Value::Bytes(_) => Schema::bytes(),
        Value::Array(items) => {
            let mut elements = SchemaDetector::default();
            if items.is_empty() || !items.iter().all(|v| elements.can_detect(v)) {
                return None;
            }
            SchemaBuilder::array(elements.schema()?).build()
        }
        Value::Map(entries) => {
            let (mut keys, mut values) = (SchemaDetector::default(), SchemaDetector::default());
            if entries.is_empty()
                || !entries
                    .iter()
                    .all(|(k, v)| keys.can_detect(k) && values.can_detect(v))
            {
                return None;
            }
            SchemaBuilder::map(keys.schema()?, values.schema()?).build()
        }
        Value::Struct(s) => s.schema.clone(),
        Value::Null | Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
            return None
        }
    })
}

/// Connect's `SchemaDetector`: one type for every non-null value seen.
#[derive(Default)]
struct SchemaDetector {
    known: Option<Type>,
    optional: bool,
}

impl SchemaDetector {
    fn can_detect(&mut self, value: &Value) -> bool {
        if value.is_null() {
            self.optional = true;
            return true;
        }
        let Some(schema) = infer_schema(value) else {
            return false;
        };
        match self.known {
            None => self.known = Some(schema.ty()),
            Some(t) if t != schema.ty() => return false,
            Some(_) => {}
        }
        true
    }

    fn schema(&self) -> Option<Schema> {
        let b = SchemaBuilder::new(self.known?);
        Some(if self.optional { b.optional() } else { b }.build())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// `Values.parseString(text)`; see the module doc.
pub fn parse_string(text: &str) -> SchemaAndValue {
    if text.is_empty() {
        return string(text);
    }
    let mut p = ValueParser {
        tokens: Parser::new(text),
    };
    match p.parse(false) {
        Ok(Some(sv)) => sv,
        Ok(None) => SchemaAndValue::null(),
        // Only embedded values fail, and a failed array or map falls back to text.
        Err(Unparsable) => string(text),
    }
}

/// Connect's `DataException` inside the parser: what is being read is not an embedded value,
/// array or map, and the enclosing array or map is read as text instead.
#[derive(Debug)]
struct Unparsable;

fn string(s: &str) -> SchemaAndValue {
    SchemaAndValue::new(Some(Schema::string()), Value::String(s.to_string()))
}

/// Java's `String.trim()`: every character up to U+0020 goes.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn is_blank(s: &str) -> bool {
    java_trim(s).is_empty()
}

/// Connect's `Values.Parser`: tokens are runs of text between the delimiters `:,{}[]"` and
/// each delimiter on its own; a backslash escapes the character after it. A token looked at
/// but not consumed is held in `next_token`, and positions are byte offsets into the text.
struct Parser<'a> {
    original: &'a str,
    pos: usize,
    next_token: Option<&'a str>,
}

impl<'a> Parser<'a> {
    fn new(original: &'a str) -> Self {
        Parser {
            original,
            pos: 0,
            next_token: None,
        }
    }

    /// Where the next token starts.
    fn mark(&self) -> usize {
        self.pos - self.next_token.map_or(0, str::len)
    }

    fn rewind_to(&mut self, position: usize) {
        self.pos = position;
        self.next_token = None;
    }

    fn has_next(&self) -> bool {
        self.next_token.is_some() || self.pos < self.original.len()
    }

    fn next(&mut self) -> &'a str {
        match self.next_token.take() {
            Some(t) => t,
            None => self.consume(),
        }
    }

    /// The text of the next `n` tokens, or `None` (and nothing consumed) when fewer remain.
    fn next_n(&mut self, n: usize) -> Option<&'a str> {
        let start = self.mark();
        for _ in 0..n {
            if !self.has_next() {
                self.rewind_to(start);
                return None;
            }
            self.next();
        }
        Some(&self.original[start..self.pos])
    }

    fn consume(&mut self) -> &'a str {
        let bytes = self.original.as_bytes();
        let start = self.pos;
        let mut escaped = false;
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'\\' => escaped = !escaped,
                b':' | b',' | b'{' | b'}' | b'[' | b']' | b'"' if !escaped => {
                    if start < self.pos {
                        return &self.original[start..self.pos];
                    }
                    self.pos += 1;
                    return &self.original[start..self.pos];
                }
                _ => escaped = false,
            }
            self.pos += 1;
        }
        &self.original[start..]
    }

    /// Consumes the next token if, trimmed, it is `expected`; blank tokens before it are
    /// skipped (and stay skipped when it is not).
    fn can_consume(&mut self, expected: &str) -> bool {
        if self.next_token.is_none() {
            if !self.has_next() {
                return false;
            }
            self.next_token = Some(self.consume());
        }
        while self.next_token.is_some_and(is_blank) && self.pos < self.original.len() {
            self.next_token = Some(self.consume());
        }
        if self.next_token.is_some_and(|t| java_trim(t) == expected) {
            self.next_token = None;
            return true;
        }
        false
    }
}

/// Connect's `Values.ValueParser`. `Ok(None)` is Java's `null`: a `null` literal or nothing.
struct ValueParser<'a> {
    tokens: Parser<'a>,
}

impl ValueParser<'_> {
    fn parse(&mut self, embedded: bool) -> Result<Option<SchemaAndValue>, Unparsable> {
        if !self.tokens.has_next() {
            return Ok(None);
        }
        if embedded && self.tokens.can_consume("\"") {
            return Ok(Some(self.parse_quoted_string()));
        }
        if self.single_token_literal(embedded, "null") {
            return Ok(None);
        }
        for (literal, b) in [("true", true), ("false", false)] {
            if self.single_token_literal(embedded, literal) {
                return Ok(Some(SchemaAndValue::new(
                    Some(Schema::boolean()),
                    Value::Boolean(b),
                )));
            }
        }
        let start = self.tokens.mark();
        let nested = if self.tokens.can_consume("[") {
            Some(self.parse_array())
        } else if self.tokens.can_consume("{") {
            Some(self.parse_map())
        } else {
            None
        };
        match nested {
            Some(Ok(sv)) => return Ok(Some(sv)),
            Some(Err(Unparsable)) => self.tokens.rewind_to(start),
            None => {}
        }
        let token = self.tokens.next();
        if is_blank(token) {
            return Ok(Some(string(token)));
        }
        self.parse_next_token(embedded, java_trim(token)).map(Some)
    }

    /// Whether the next token is `literal`, and either embedded or the last token (so that
    /// `true}` is text, not `true`). Consumed only then.
    fn single_token_literal(&mut self, embedded: bool, literal: &str) -> bool {
        let start = self.tokens.mark();
        if self.tokens.can_consume(literal) && (embedded || !self.tokens.has_next()) {
            return true;
        }
        self.tokens.rewind_to(start);
        false
    }

    fn parse_next_token(
        &mut self,
        embedded: bool,
        token: &str,
    ) -> Result<SchemaAndValue, Unparsable> {
        let first = token.as_bytes()[0];
        if first.is_ascii_digit() {
            if let Some(t) = self.parse_multiple_tokens_as_temporal(token) {
                return Ok(t);
            }
        }
        if first.is_ascii_digit() || first == b'+' || first == b'-' {
            if let Some(n) = parse_as_number(token) {
                return Ok(n);
            }
        }
        if embedded {
            return Err(Unparsable);
        }
        Ok(string(self.tokens.original))
    }

    /// A time or timestamp spans five tokens, as `:` is a delimiter: those first, then the
    /// token alone.
    fn parse_multiple_tokens_as_temporal(&mut self, token: &str) -> Option<SchemaAndValue> {
        let position = self.tokens.mark();
        if let Some(rest) = self.tokens.next_n(4) {
            if let Some(t) = parse_as_temporal(&format!("{token}{rest}")) {
                return Some(t);
            }
        }
        self.tokens.rewind_to(position);
        parse_as_temporal(token)
    }

    /// The text up to the closing quote (blank tokens dropped, as Connect does), a date when
    /// it reads as one, else a string.
    fn parse_quoted_string(&mut self) -> SchemaAndValue {
        let mut content = String::new();
        while self.tokens.has_next() {
            if self.tokens.can_consume("\"") {
                break;
            }
            content.push_str(self.tokens.next());
        }
        parse_as_temporal(&content).unwrap_or_else(|| string(&content))
    }

    fn parse_array(&mut self) -> Result<SchemaAndValue, Unparsable> {
        let mut items = Vec::new();
        let mut elements = SchemaMerger::default();
        while self.tokens.has_next() {
            if self.tokens.can_consume("]") {
                return Ok(match elements.common() {
                    Some(element) => {
                        let schema = SchemaBuilder::array(element.clone()).build();
                        let items = items
                            .into_iter()
                            .map(|v| convert_to(element, v))
                            .collect::<Result<_, _>>()?;
                        SchemaAndValue::new(Some(schema), Value::Array(items))
                    }
                    None => SchemaAndValue::new(
                        Some(SchemaBuilder::new(Type::Array).build()),
                        Value::Array(items),
                    ),
                });
            }
            if self.tokens.can_consume(",") {
                return Err(Unparsable);
            }
            let element = self.parse(true)?;
            elements.merge(element.as_ref());
            items.push(element.map_or(Value::Null, |e| e.value));
            let current = self.tokens.mark();
            if self.tokens.can_consume("]") {
                self.tokens.rewind_to(current);
            } else if !self.tokens.can_consume(",") {
                return Err(Unparsable);
            }
        }
        Err(Unparsable)
    }

    fn parse_map(&mut self) -> Result<SchemaAndValue, Unparsable> {
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let (mut keys, mut values) = (SchemaMerger::default(), SchemaMerger::default());
        while self.tokens.has_next() {
            if self.tokens.can_consume("}") {
                let (schema, entries) = match (keys.common(), values.common()) {
                    (Some(k), Some(v)) => {
                        let mut aligned = Vec::with_capacity(entries.len());
                        for (key, value) in entries {
                            map_put(&mut aligned, convert_to(k, key)?, convert_to(v, value)?);
                        }
                        (SchemaBuilder::map(k.clone(), v.clone()).build(), aligned)
                    }
                    (Some(k), None) => {
                        let mut aligned = Vec::with_capacity(entries.len());
                        for (key, value) in entries {
                            map_put(&mut aligned, convert_to(k, key)?, value);
                        }
                        (map_with_null_values(k.clone()), aligned)
                    }
                    _ => (SchemaBuilder::new(Type::Map).build(), entries),
                };
                return Ok(SchemaAndValue::new(Some(schema), Value::Map(entries)));
            }
            if self.tokens.can_consume(",") {
                return Err(Unparsable);
            }
            let key = match self.parse(true)? {
                Some(key) if !key.value.is_null() => key,
                _ => return Err(Unparsable),
            };
            if !self.tokens.can_consume(":") {
                return Err(Unparsable);
            }
            let value = self.parse(true)?;
            keys.merge(Some(&key));
            values.merge(value.as_ref());
            map_put(
                &mut entries,
                key.value,
                value.map_or(Value::Null, |v| v.value),
            );
            self.tokens.can_consume(",");
        }
        Err(Unparsable)
    }
}

/// A MAP schema with a key schema and no value schema (`SchemaBuilder.mapWithNullValues`).
fn map_with_null_values(key: Schema) -> Schema {
    let mut body = (*SchemaBuilder::new(Type::Map).build().0).clone();
    body.key_schema = Some(key);
    Schema(std::sync::Arc::new(body))
}

/// `LinkedHashMap.put`: a key already there keeps its place and takes the new value.
fn map_put(entries: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = value,
        None => entries.push((key, value)),
    }
}

/// Connect's `SchemaMerger`: the schema common to every element seen, until two have none.
/// Elements without a schema (nulls) do not count.
struct SchemaMerger {
    common: Option<Schema>,
    compatible: bool,
}

impl Default for SchemaMerger {
    fn default() -> Self {
        SchemaMerger {
            common: None,
            compatible: true,
        }
    }
}

impl SchemaMerger {
    fn merge(&mut self, latest: Option<&SchemaAndValue>) {
        let Some(schema) = latest.and_then(|l| l.schema.as_ref()) else {
            return;
        };
        if !self.compatible {
            return;
        }
        self.common = match &self.common {
            None => Some(schema.clone()),
            Some(previous) => {
                let merged = merge_schemas(previous, schema);
                self.compatible = merged.is_some();
                merged
            }
        };
    }

    fn common(&self) -> Option<&Schema> {
        self.common.as_ref()
    }
}

/// Connect's `mergeSchemas`: numbers widen (INT8 < INT16 < INT32 < INT64 < FLOAT32 < FLOAT64,
/// logical types by their carrier type); the same type gives the later schema unless one is
/// optional and the other not; anything else has no common schema.
fn merge_schemas(previous: &Schema, latest: &Schema) -> Option<Schema> {
    fn rank(t: Type) -> Option<u8> {
        Some(match t {
            Type::Int8 => 0,
            Type::Int16 => 1,
            Type::Int32 => 2,
            Type::Int64 => 3,
            Type::Float32 => 4,
            Type::Float64 => 5,
            _ => return None,
        })
    }
    if previous.ty() != latest.ty() {
        let (p, l) = (rank(previous.ty())?, rank(latest.ty())?);
        return Some(if p > l { previous } else { latest }.clone());
    }
    if previous.is_optional() == latest.is_optional() {
        return Some(
            if previous.is_optional() {
                previous
            } else {
                latest
            }
            .clone(),
        );
    }
    None
}

/// Connect's `convertTo(toSchema, null, value)` for the values [`parse_string`] makes, as it
/// aligns an array's elements or a map's keys and values with their common schema.
fn convert_to(schema: &Schema, value: Value) -> Result<Value, Unparsable> {
    if value.is_null() {
        return if schema.is_optional() {
            Ok(Value::Null)
        } else {
            Err(Unparsable)
        };
    }
    if let Some(logical) = schema.logical_type() {
        return convert_to_logical(logical, value);
    }
    Ok(match (schema.ty(), value) {
        (Type::String, v) => Value::String(convert_to_string(&v)),
        (Type::Boolean, Value::Boolean(b)) => Value::Boolean(b),
        (Type::Boolean, v) => Value::Boolean(as_long(&v)? != 0),
        (Type::Int8, v @ Value::Int8(_)) => v,
        (Type::Int8, v) => Value::Int8(as_long(&v)? as i8),
        (Type::Int16, v @ Value::Int16(_)) => v,
        (Type::Int16, v) => Value::Int16(as_long(&v)? as i16),
        (Type::Int32, v @ Value::Int32(_)) => v,
        (Type::Int32, v) => Value::Int32(as_long(&v)? as i32),
        (Type::Int64, v @ Value::Int64(_)) => v,
        (Type::Int64, v) => Value::Int64(as_long(&v)?),
        (Type::Float32, v @ Value::Float32(_)) => v,
        (Type::Float32, v) => Value::Float32(as_double(&v)? as f32),
        (Type::Float64, v @ Value::Float64(_)) => v,
        (Type::Float64, v) => Value::Float64(as_double(&v)?),
        (Type::Bytes, v @ Value::Bytes(_))
        | (Type::Array, v @ Value::Array(_))
        | (Type::Map, v @ Value::Map(_))
        | (Type::Struct, v @ Value::Struct(_)) => v,
        _ => return Err(Unparsable),
    })
}

fn convert_to_logical(logical: LogicalType, value: Value) -> Result<Value, Unparsable> {
    // The instant a date value stands for, as Java's `java.util.Date` holds it.
    let instant = match &value {
        Value::Date(d) => Some(i64::from(*d) * MILLIS_PER_DAY),
        Value::Time(ms) => Some(i64::from(*ms)),
        Value::Timestamp(ms) => Some(*ms),
        _ => None,
    };
    Ok(match (logical, instant) {
        (LogicalType::Decimal, _) => match value {
            Value::Decimal(_) => value,
            _ => return Err(Unparsable),
        },
        (LogicalType::Timestamp, Some(ms)) => Value::Timestamp(ms),
        (LogicalType::Timestamp, None) => Value::Timestamp(as_long(&value)?),
        (LogicalType::Date, Some(ms)) if ms % MILLIS_PER_DAY == 0 => {
            Value::Date(i32::try_from(ms / MILLIS_PER_DAY).map_err(|_| Unparsable)?)
        }
        (LogicalType::Date, None) => Value::Date(as_long(&value)? as i32),
        (LogicalType::Time, Some(ms)) if (0..MILLIS_PER_DAY).contains(&ms) => {
            Value::Time(ms as i32)
        }
        (LogicalType::Time, None) => {
            let ms = as_long(&value)? as i32;
            check_time_millis(ms).map_err(|_| Unparsable)?;
            Value::Time(ms)
        }
        // An instant the kind cannot hold (see the module doc).
        (LogicalType::Date | LogicalType::Time, Some(_)) => return Err(Unparsable),
    })
}

/// `Number.longValue()` of a numeric value (floats truncate and saturate, as Java's do).
fn as_long(value: &Value) -> Result<i64, Unparsable> {
    Ok(match value {
        Value::Int8(n) => i64::from(*n),
        Value::Int16(n) => i64::from(*n),
        Value::Int32(n) => i64::from(*n),
        Value::Int64(n) => *n,
        Value::Float32(f) => *f as i64,
        Value::Float64(f) => *f as i64,
        _ => return Err(Unparsable),
    })
}

/// `Number.doubleValue()` of a numeric value.
fn as_double(value: &Value) -> Result<f64, Unparsable> {
    Ok(match value {
        Value::Float32(f) => f64::from(*f),
        Value::Float64(f) => *f,
        v => as_long(v)? as f64,
    })
}

/// The ISO 8601 forms Connect writes dates in, told apart by length and read leniently.
fn parse_as_temporal(token: &str) -> Option<SchemaAndValue> {
    let token = token.replace("\\:", ":");
    // Java counts UTF-16 units.
    match token.encode_utf16().count() {
        13 => {
            let ms = i32::try_from(TIME_FORMAT.parse(&token)?).ok()?;
            Some(SchemaAndValue::new(Some(time_schema()), Value::Time(ms)))
        }
        24 => {
            let ms = TIMESTAMP_FORMAT.parse(&token)?;
            Some(SchemaAndValue::new(
                Some(timestamp_schema()),
                Value::Timestamp(ms),
            ))
        }
        10 => {
            let days = i32::try_from(DATE_FORMAT.parse(&token)?.div_euclid(MILLIS_PER_DAY)).ok()?;
            Some(SchemaAndValue::new(Some(date_schema()), Value::Date(days)))
        }
        _ => None,
    }
}

/// Whether `s` is a number as Java's `new BigDecimal(s)` reads one:
/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`.
pub fn is_java_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Java's `new BigDecimal(text)`: `None` where Java throws `NumberFormatException` (not the
/// syntax of [`is_java_decimal`], or a scale beyond an `int`).
pub fn java_big_decimal(text: &str) -> Option<BigDecimal> {
    if !is_java_decimal(text) {
        return None;
    }
    let d = BigDecimal::from_str(text.strip_prefix('+').unwrap_or(text)).ok()?;
    i32::try_from(d.fractional_digit_count()).ok()?;
    Some(d)
}

/// `ValueParser.parseAsNumber`: integral → the smallest integer type holding it; else FLOAT32
/// or FLOAT64 when finite (and the scale is not 0); else a Decimal of the number's scale.
fn parse_as_number(token: &str) -> Option<SchemaAndValue> {
    let decimal = java_big_decimal(token)?;
    let scale = decimal.fractional_digit_count();
    if decimal.is_integer() {
        if let Some(n) = decimal.to_i64() {
            return Some(smallest_integer(n));
        }
    }
    if scale != 0 {
        let f: f32 = token.parse().ok()?;
        if f.is_finite() {
            return Some(SchemaAndValue::new(
                Some(Schema::float32()),
                Value::Float32(f),
            ));
        }
        let d: f64 = token.parse().ok()?;
        if d.is_finite() {
            return Some(SchemaAndValue::new(
                Some(Schema::float64()),
                Value::Float64(d),
            ));
        }
    }
    Some(SchemaAndValue::new(
        Some(decimal_schema(scale as i32)),
        Value::Decimal(decimal),
    ))
}

fn smallest_integer(n: i64) -> SchemaAndValue {
    if let Ok(v) = i8::try_from(n) {
        SchemaAndValue::new(Some(Schema::int8()), Value::Int8(v))
    } else if let Ok(v) = i16::try_from(n) {
        SchemaAndValue::new(Some(Schema::int16()), Value::Int16(v))
    } else if let Ok(v) = i32::try_from(n) {
        SchemaAndValue::new(Some(Schema::int32()), Value::Int32(v))
    } else {
        SchemaAndValue::new(Some(Schema::int64()), Value::Int64(n))
    }
}

#[cfg(test)]
mod tests;
