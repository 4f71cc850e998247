//! `org.apache.kafka.connect.storage.StringConverter`.

use crate::api::Props;
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::{ConnectError, ConnectResult};

use super::Converter;

/// Writes any value as the UTF-8 bytes of its Java `toString()` (see
/// [`Value::to_java_string`]; `Bytes` values are passed through unchanged) and reads any bytes
/// as an optional STRING (invalid UTF-8 is replaced with U+FFFD, as Java's decoder does).
/// Only UTF-8 is supported for `converter.encoding` (also `serializer.encoding`,
/// `deserializer.encoding`).
#[derive(Debug, Clone, Default)]
pub struct StringConverter;

impl StringConverter {
    /// A converter with the default encoding, UTF-8.
    pub fn new() -> Self {
        StringConverter
    }
}

/// The schema of every value read, built once: a clone is a reference count, and
/// `to_connect_into` does not even take that when the record it reuses has it already.
fn optional_string() -> &'static Schema {
    static SCHEMA: std::sync::LazyLock<Schema> = std::sync::LazyLock::new(Schema::optional_string);
    &SCHEMA
}

/// Kafka's encoding keys for `StringConverter`.
pub const ENCODING_CONFIGS: [&str; 3] = [
    "converter.encoding",
    "serializer.encoding",
    "deserializer.encoding",
];

impl Converter for StringConverter {
    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        for key in ENCODING_CONFIGS {
            if let Some(enc) = props.get(key) {
                let e = enc.trim().to_ascii_uppercase();
                if e != "UTF8" && e != "UTF-8" {
                    return Err(ConnectError::config(format!(
                        "Invalid value {enc} for configuration {key}: only UTF-8 is supported"
                    )));
                }
            }
        }
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        Ok(match value {
            Value::Null => None,
            Value::Bytes(b) => Some(b.clone()),
            Value::String(s) => Some(s.as_bytes().to_vec()),
            v => Some(v.to_java_string().into_bytes()),
        })
    }

    fn from_connect_into(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> ConnectResult<bool> {
        out.clear();
        match value {
            Value::Null => return Ok(false),
            Value::Bytes(b) => out.extend_from_slice(b),
            Value::String(s) => out.extend_from_slice(s.as_bytes()),
            v => out.extend_from_slice(v.to_java_string().as_bytes()),
        }
        Ok(true)
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue> {
        let value = match bytes {
            None => Value::Null,
            // Valid UTF-8 (nearly always) is checked by the fast validator and copied once;
            // only invalid bytes take the slower replacing path.
            Some(b) => Value::String(match std::str::from_utf8(b) {
                Ok(s) => s.to_owned(),
                Err(_) => String::from_utf8_lossy(b).into_owned(),
            }),
        };
        Ok(SchemaAndValue::new(Some(optional_string().clone()), value))
    }

    fn to_connect_into(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
        out: &mut SchemaAndValue,
    ) -> ConnectResult<()> {
        match bytes {
            None => out.value = Value::Null,
            Some(b) => match crate::utf8::from_utf8(b) {
                Some(s) => super::string_into(&mut out.value, s),
                None => out.value = Value::String(String::from_utf8_lossy(b).into_owned()),
            },
        }
        super::set_schema(&mut out.schema, optional_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_as_an_optional_string_and_replaces_invalid_utf8() {
        let c = StringConverter::new();
        let v = c.to_connect("t", Some("héllo".as_bytes())).unwrap();
        assert_eq!(v.value, Value::String("héllo".into()));
        assert_eq!(v.schema, Some(Schema::optional_string()));
        let v = c.to_connect("t", Some(b"a\xffb")).unwrap();
        assert_eq!(v.value, Value::String("a\u{FFFD}b".into()));
        assert_eq!(c.to_connect("t", None).unwrap().value, Value::Null);
    }

    #[test]
    fn every_record_shares_one_schema() {
        // A sink converts every key and value: building a schema for each cost an allocation
        // (and a free) per record.
        let c = StringConverter::new();
        let a = c.to_connect("t", Some(b"a")).unwrap().schema.unwrap();
        let b = c.to_connect("t", Some(b"b")).unwrap().schema.unwrap();
        assert!(std::sync::Arc::ptr_eq(&a.0, &b.0));
    }

    #[test]
    fn converting_into_a_used_record_gives_what_to_connect_gives_in_its_buffer() {
        let c = StringConverter::new();
        let ptr = |v: &SchemaAndValue| match &v.value {
            Value::String(s) => s.as_ptr(),
            v => panic!("{v:?}"),
        };
        // Valid text goes into the string's own buffer: no allocation per record.
        let mut out = c.to_connect("t", Some(b"a first, longer value")).unwrap();
        let buffer = ptr(&out);
        c.to_connect_into("t", Some("héllo".as_bytes()), &mut out)
            .unwrap();
        assert_eq!(out, c.to_connect("t", Some("héllo".as_bytes())).unwrap());
        assert_eq!(ptr(&out), buffer);
        // Invalid UTF-8, a null and a value of another kind come out as from `to_connect`.
        for bytes in [Some(&b"a\xffb"[..]), None, Some(b"again")] {
            c.to_connect_into("t", bytes, &mut out).unwrap();
            assert_eq!(out, c.to_connect("t", bytes).unwrap(), "{bytes:?}");
        }
        let mut other = SchemaAndValue::new(None, Value::Int32(1));
        c.to_connect_into("t", Some(b"x"), &mut other).unwrap();
        assert_eq!(other, c.to_connect("t", Some(b"x")).unwrap());
    }

    #[test]
    fn a_huge_buffer_is_not_kept_for_small_values() {
        let c = StringConverter::new();
        let huge = "x".repeat(1 << 20);
        let mut out = c.to_connect("t", Some(huge.as_bytes())).unwrap();
        c.to_connect_into("t", Some(b"small"), &mut out).unwrap();
        assert!(matches!(&out.value, Value::String(s) if s == "small" && s.capacity() < 4096));
    }
}
