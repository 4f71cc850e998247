//! Header converters: Connect's `HeaderConverter`, which turns a record header's schema and
//! value into the bytes of a Kafka header and back (`header.converter` on worker and connector
//! configs).
//!
//! The default is Connect's [`SimpleHeaderConverter`]: values are written as their text form
//! (`Values.convertToString`) and read back with the schema `Values.parseString` infers, so a
//! header a source task sets to INT32 `42` arrives at a sink as INT8 `42`, a struct as a map of
//! its fields, bytes as their base64 text. Every converter of [`super::CONVERTER_CLASSES`] can
//! be a header converter too, as in Connect (they implement `HeaderConverter` there): it
//! converts a header value as it would a record value (`is_key` false).
//!
//! Deviation from Connect: SimpleHeaderConverter falls back to a BYTES header when reading the
//! text fails unexpectedly (a Java exception other than a parse error); reading text here
//! cannot fail, so that fallback never happens. Bytes that are not UTF-8 are read as Java
//! reads them, with U+FFFD for each malformed sequence.

use crate::api::Props;
use crate::data::values::{convert_to_string, parse_string};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::ConnectResult;

use super::{converter_by_name, converter_class_name, Converter};

/// Kafka's class name of [`SimpleHeaderConverter`].
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Kafka Connect's `HeaderConverter`.
pub trait HeaderConverter: Send + Sync {
    /// Configures the converter with its own keys (the `header.converter.` prefix removed).
    fn configure(&mut self, props: &Props) -> ConnectResult<()>;

    /// A header's schema and value → its bytes; `None` is a header with a null value.
    #[allow(clippy::wrong_self_convention)] // Kafka's name (`fromConnectHeader`)
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>>;

    /// A header's bytes → its schema and value; a null header is `Value::Null` without schema.
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        bytes: Option<&[u8]>,
    ) -> ConnectResult<SchemaAndValue>;
}

/// Connect's `SimpleHeaderConverter` (see the module doc). It has no configuration keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimpleHeaderConverter;

impl HeaderConverter for SimpleHeaderConverter {
    fn configure(&mut self, _props: &Props) -> ConnectResult<()> {
        Ok(())
    }

    fn from_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        if value.is_null() {
            return Ok(None);
        }
        Ok(Some(convert_to_string(value).into_bytes()))
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> ConnectResult<SchemaAndValue> {
        Ok(match bytes {
            None => SchemaAndValue::null(),
            Some(b) => parse_string(&String::from_utf8_lossy(b)),
        })
    }
}

/// A record converter used for headers, as Connect's converters implement `HeaderConverter`.
struct ConverterHeaders(Box<dyn Converter>);

impl HeaderConverter for ConverterHeaders {
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0.configure(props, false)
    }

    fn from_connect_header(
        &self,
        topic: &str,
        _key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        self.0.from_connect(topic, schema, value)
    }

    fn to_connect_header(
        &self,
        topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> ConnectResult<SchemaAndValue> {
        self.0.to_connect(topic, bytes)
    }
}

/// The full Kafka class name of a header converter `header_converter_by_name` accepts: the
/// SimpleHeaderConverter (also as `SimpleHeaderConverter` or `SimpleHeader`, case-insensitive)
/// or any of the record converters.
pub fn header_converter_class_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if name == SIMPLE_HEADER_CONVERTER
        || name.eq_ignore_ascii_case("SimpleHeaderConverter")
        || name.eq_ignore_ascii_case("SimpleHeader")
    {
        return Some(SIMPLE_HEADER_CONVERTER);
    }
    converter_class_name(name)
}

/// A new, unconfigured header converter for a class name `header_converter_class_name` knows.
pub fn header_converter_by_name(name: &str) -> Option<Box<dyn HeaderConverter>> {
    if header_converter_class_name(name)? == SIMPLE_HEADER_CONVERTER {
        return Some(Box::new(SimpleHeaderConverter));
    }
    Some(Box::new(ConverterHeaders(converter_by_name(name)?)))
}

#[cfg(test)]
mod tests;
