//! Converters turn Connect data into the bytes of a Kafka key, value or header and back
//! ([`HeaderConverter`]s for headers, see [`header`]).
//!
//! [`converter_by_name`] makes a converter from Kafka's class name (or a short alias);
//! converters work with Kafka's defaults until [`Converter::configure`] is called.

use crate::api::Props;
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::{ConnectError, ConnectResult};

pub mod bytes;
pub mod config;
pub mod header;
pub mod json;
pub mod json_node;
mod json_read;
mod json_write;
pub mod number;
mod schema_cache;
pub mod string;

pub use bytes::ByteArrayConverter;
pub use config::converter_config_def;
pub use header::{
    header_converter_by_name, header_converter_class_name, HeaderConverter, SimpleHeaderConverter,
    SIMPLE_HEADER_CONVERTER,
};
pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
pub use number::{
    BooleanConverter, DoubleConverter, FloatConverter, IntegerConverter, LongConverter,
    ShortConverter,
};
pub use string::StringConverter;

/// Kafka Connect's `Converter`.
pub trait Converter: Send + Sync {
    /// Configures the converter with its own keys (the `key.converter.` / `value.converter.`
    /// prefix already removed) and whether it converts keys or values.
    fn configure(&mut self, props: &Props, is_key: bool) -> ConnectResult<()>;

    /// Connect data → bytes. `None` is a Kafka null (tombstone).
    #[allow(clippy::wrong_self_convention)] // Kafka's name (`fromConnectData`)
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>>;

    /// Connect data → bytes written into `out`, which is cleared first and which the caller
    /// reuses from record to record; `false` is a Kafka null. The default moves the result of
    /// [`from_connect`](Converter::from_connect) into `out`; converters that can write in
    /// place do, so a source task converts without an allocation per record.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_into(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> ConnectResult<bool> {
        match self.from_connect(topic, schema, value)? {
            Some(bytes) => {
                *out = bytes;
                Ok(true)
            }
            None => {
                out.clear();
                Ok(false)
            }
        }
    }

    /// Bytes → Connect data. A Kafka null becomes `Value::Null`.
    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue>;

    /// Bytes → Connect data written over `out`, whose allocations the converter may reuse: a
    /// sink task hands in the key or value of a record `put` is done with, so that it converts
    /// without an allocation per record. The result is what
    /// [`to_connect`](Converter::to_connect) returns, which the default moves into `out`; the
    /// String and ByteArray converters write into the string's or bytes' buffer `out` holds.
    /// On an error `out` holds some value of no meaning.
    #[allow(clippy::wrong_self_convention)]
    fn to_connect_into(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
        out: &mut SchemaAndValue,
    ) -> ConnectResult<()> {
        *out = self.to_connect(topic, bytes)?;
        Ok(())
    }
}

/// A buffer larger than this many times what it is reused for (and than [`KEEP_BYTES`]) is
/// dropped rather than kept: one huge record must not pin its memory in every later batch.
const KEEP_RATIO: usize = 4;
const KEEP_BYTES: usize = 4096;

/// Whether a buffer of `capacity` bytes is worth reusing for `len` bytes.
fn worth_reusing(capacity: usize, len: usize) -> bool {
    capacity <= KEEP_BYTES.max(len.saturating_mul(KEEP_RATIO))
}

/// Sets `out` to `schema`, left as it is when it is that very schema already (no reference
/// counted per record).
pub(crate) fn set_schema(out: &mut Option<Schema>, schema: &Schema) {
    if !out
        .as_ref()
        .is_some_and(|s| std::sync::Arc::ptr_eq(&s.0, &schema.0))
    {
        *out = Some(schema.clone());
    }
}

/// `Value::String(text)`, written into the string `out` holds when there is one worth reusing.
pub(crate) fn string_into(out: &mut Value, text: &str) {
    match out {
        Value::String(s) if worth_reusing(s.capacity(), text.len()) => {
            s.clear();
            s.push_str(text);
        }
        _ => *out = Value::String(text.to_owned()),
    }
}

/// `Value::Bytes(bytes)`, written into the bytes `out` holds when there are some worth reusing.
pub(crate) fn bytes_into(out: &mut Value, bytes: &[u8]) {
    match out {
        Value::Bytes(b) if worth_reusing(b.capacity(), bytes.len()) => {
            b.clear();
            b.extend_from_slice(bytes);
        }
        _ => *out = Value::Bytes(bytes.to_vec()),
    }
}

/// Kafka's class names of the converters this crate provides.
pub const CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "org.apache.kafka.connect.converters.ShortConverter",
    "org.apache.kafka.connect.converters.IntegerConverter",
    "org.apache.kafka.connect.converters.LongConverter",
    "org.apache.kafka.connect.converters.FloatConverter",
    "org.apache.kafka.connect.converters.DoubleConverter",
    "org.apache.kafka.connect.converters.BooleanConverter",
];

/// The full Kafka class name for a class name or alias `converter_by_name` accepts.
pub fn converter_class_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if let Some(full) = CONVERTER_CLASSES.iter().find(|c| **c == name) {
        return Some(full);
    }
    CONVERTER_CLASSES.iter().copied().find(|full| {
        let simple = full.rsplit('.').next().unwrap_or(full);
        let short = simple.strip_suffix("Converter").unwrap_or(simple);
        name.eq_ignore_ascii_case(simple) || name.eq_ignore_ascii_case(short)
    })
}

/// A new (unconfigured, i.e. Kafka-default) converter for a Kafka class name
/// (`org.apache.kafka.connect.json.JsonConverter`), its simple name (`JsonConverter`) or the
/// simple name without `Converter` (`Json`); the short forms are case-insensitive.
pub fn converter_by_name(name: &str) -> Option<Box<dyn Converter>> {
    let full = converter_class_name(name)?;
    let simple = full.rsplit('.').next()?;
    Some(match simple {
        "JsonConverter" => Box::new(JsonConverter::new()),
        "StringConverter" => Box::new(StringConverter::new()),
        "ByteArrayConverter" => Box::new(ByteArrayConverter::new()),
        "ShortConverter" => Box::new(ShortConverter::new()),
        "IntegerConverter" => Box::new(IntegerConverter::new()),
        "LongConverter" => Box::new(LongConverter::new()),
        "FloatConverter" => Box::new(FloatConverter::new()),
        "DoubleConverter" => Box::new(DoubleConverter::new()),
        "BooleanConverter" => Box::new(BooleanConverter::new()),
        _ => return None,
    })
}

/// A BOOLEAN config value as Kafka's `ConfigDef` parses it (trimmed, case-insensitive).
pub(crate) fn parse_bool_prop(props: &Props, key: &str, default: bool) -> ConnectResult<bool> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConnectError::config(format!(
                "Invalid value {v} for configuration {key}: Expected value to be either true or false"
            ))),
        },
    }
}

/// An INT config value as Kafka's `ConfigDef` parses it.
pub(crate) fn parse_int_prop(props: &Props, key: &str, default: i32) -> ConnectResult<i32> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse::<i32>().map_err(|_| {
            ConnectError::config(format!(
                "Invalid value {v} for configuration {key}: Not a number of type INT"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + ?Sized>() {}

    #[test]
    fn converters_are_send_and_sync() {
        assert_send_sync::<dyn Converter>();
        assert_send_sync::<JsonConverter>();
        assert_send_sync::<StringConverter>();
    }

    #[test]
    fn converters_by_name() {
        for full in CONVERTER_CLASSES {
            assert!(converter_by_name(full).is_some(), "{full}");
            let simple = full.rsplit('.').next().unwrap();
            assert_eq!(converter_class_name(simple), Some(*full));
            assert_eq!(
                converter_class_name(simple.strip_suffix("Converter").unwrap()),
                Some(*full)
            );
        }
        assert_eq!(
            converter_class_name("json"),
            Some("org.apache.kafka.connect.json.JsonConverter")
        );
        assert_eq!(
            converter_class_name("ByteArray"),
            Some("org.apache.kafka.connect.converters.ByteArrayConverter")
        );
        assert!(converter_by_name("org.apache.kafka.connect.json.Nope").is_none());
        assert!(converter_by_name("Avro").is_none());
        assert!(converter_by_name("").is_none());

        // The boxed converter really is the named one.
        let c = converter_by_name("Integer").unwrap();
        assert_eq!(
            c.from_connect("t", None, &Value::Int32(1)).unwrap(),
            Some(vec![0, 0, 0, 1])
        );
        let j = converter_by_name("org.apache.kafka.connect.json.JsonConverter").unwrap();
        assert_eq!(
            j.from_connect("t", None, &Value::Boolean(true)).unwrap(),
            Some(br#"{"schema":null,"payload":true}"#.to_vec())
        );
    }

    /// `from_connect_into` writes what `from_connect` returns, into a buffer reused from record
    /// to record (cleared each time), for every converter; a null writes nothing.
    #[test]
    fn converting_into_a_reused_buffer_matches_from_connect() {
        let cases: Vec<(Option<Schema>, Value)> = vec![
            (
                Some(Schema::string()),
                Value::String("a longer first line".into()),
            ),
            (Some(Schema::string()), Value::String("short".into())),
            (None, Value::Bytes(vec![1, 2, 3])),
            (Some(Schema::int32()), Value::Int32(7)),
            (None, Value::Boolean(true)),
            (None, Value::Null),
        ];
        for full in CONVERTER_CLASSES {
            let c = converter_by_name(full).unwrap();
            let mut buf = Vec::new();
            for (schema, value) in &cases {
                let want = c.from_connect("t", schema.as_ref(), value);
                let got = c.from_connect_into("t", schema.as_ref(), value, &mut buf);
                match (want, got) {
                    (Ok(Some(bytes)), Ok(true)) => assert_eq!(buf, bytes, "{full} {value:?}"),
                    (Ok(None), Ok(false)) => assert!(buf.is_empty(), "{full} {value:?}"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (want, got) => panic!("{full} {value:?}: {want:?} vs {got:?}"),
                }
            }
        }
    }

    #[test]
    fn config_parsing() {
        let mut p = Props::new();
        p.insert("schemas.enable".into(), " FALSE ".into());
        p.insert("decimal.format".into(), "numeric".into());
        p.insert("schemas.cache.size".into(), "5".into());
        let c = JsonConverterConfig::from_props(&p).unwrap();
        assert!(!c.schemas_enable);
        assert_eq!(c.decimal_format, DecimalFormat::Numeric);
        assert_eq!(c.schemas_cache_size, 5);
        assert!(c.replace_null_with_default);
        p.insert("replace.null.with.default".into(), "yes".into());
        assert!(matches!(
            JsonConverterConfig::from_props(&p),
            Err(ConnectError::Config(_))
        ));
        p.remove("replace.null.with.default");
        p.insert("decimal.format".into(), "hex".into());
        assert!(JsonConverterConfig::from_props(&p).is_err());
        p.remove("decimal.format");
        p.insert("schemas.cache.size".into(), "many".into());
        assert!(JsonConverterConfig::from_props(&p).is_err());
        assert_eq!(
            JsonConverterConfig::from_props(&Props::new()).unwrap(),
            JsonConverterConfig::default()
        );
    }
}
