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
            Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        };
        Ok(SchemaAndValue::new(Some(Schema::optional_string()), value))
    }
}
