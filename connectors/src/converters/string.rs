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
    pub fn new() -> Self {
        StringConverter
    }
}

/// The schema of every value read, built once: a clone is a reference count, where
/// `Schema::optional_string()` would allocate for each key and value of each record.
fn optional_string() -> Schema {
    static SCHEMA: std::sync::LazyLock<Schema> = std::sync::LazyLock::new(Schema::optional_string);
    SCHEMA.clone()
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
        Ok(SchemaAndValue::new(Some(optional_string()), value))
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
}
