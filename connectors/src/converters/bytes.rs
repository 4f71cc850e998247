//! `org.apache.kafka.connect.converters.ByteArrayConverter`.

use crate::api::Props;
use crate::data::{Schema, SchemaAndValue, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use super::Converter;

/// Passes bytes through: writes `Bytes` values (schema BYTES or none), reads an optional
/// BYTES value.
#[derive(Debug, Clone, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// A converter (it has no config keys).
    pub fn new() -> Self {
        ByteArrayConverter
    }
}

/// The bytes a value stands for (`None`: a Kafka null), or why it cannot be written.
fn bytes_of<'a>(schema: Option<&Schema>, value: &'a Value) -> ConnectResult<Option<&'a [u8]>> {
    if let Some(s) = schema {
        if s.ty() != Type::Bytes {
            return Err(ConnectError::data(format!(
                "Invalid schema type for ByteArrayConverter: {}",
                s.ty()
            )));
        }
    }
    match value {
        Value::Null => Ok(None),
        Value::Bytes(b) => Ok(Some(b)),
        v => Err(ConnectError::data(format!(
            "ByteArrayConverter is not compatible with objects of type {}",
            v.kind()
        ))),
    }
}

impl Converter for ByteArrayConverter {
    fn configure(&mut self, _props: &Props, _is_key: bool) -> ConnectResult<()> {
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        Ok(bytes_of(schema, value)?.map(<[u8]>::to_vec))
    }

    fn from_connect_into(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> ConnectResult<bool> {
        out.clear();
        Ok(match bytes_of(schema, value)? {
            Some(b) => {
                out.extend_from_slice(b);
                true
            }
            None => false,
        })
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue> {
        Ok(SchemaAndValue::new(
            Some(optional_bytes().clone()),
            bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec())),
        ))
    }

    fn to_connect_into(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
        out: &mut SchemaAndValue,
    ) -> ConnectResult<()> {
        match bytes {
            None => out.value = Value::Null,
            Some(b) => super::bytes_into(&mut out.value, b),
        }
        super::set_schema(&mut out.schema, optional_bytes());
        Ok(())
    }
}

/// The schema of every value read, shared.
fn optional_bytes() -> &'static Schema {
    static SCHEMA: std::sync::LazyLock<Schema> = std::sync::LazyLock::new(Schema::optional_bytes);
    &SCHEMA
}

#[cfg(test)]
mod reuse_tests {
    use super::*;

    #[test]
    fn converting_into_a_used_record_gives_what_to_connect_gives_in_its_buffer() {
        let c = ByteArrayConverter;
        let mut out = c.to_connect("t", Some(b"\x00\x01 first")).unwrap();
        let buffer = match &out.value {
            Value::Bytes(b) => b.as_ptr(),
            v => panic!("{v:?}"),
        };
        c.to_connect_into("t", Some(b"\xff\xfe"), &mut out).unwrap();
        assert_eq!(out, c.to_connect("t", Some(b"\xff\xfe")).unwrap());
        assert!(matches!(&out.value, Value::Bytes(b) if b.as_ptr() == buffer));
        c.to_connect_into("t", None, &mut out).unwrap();
        assert_eq!(out, c.to_connect("t", None).unwrap());
        let mut other = SchemaAndValue::new(None, Value::String("s".into()));
        c.to_connect_into("t", Some(b"b"), &mut other).unwrap();
        assert_eq!(other, c.to_connect("t", Some(b"b")).unwrap());
    }
}
