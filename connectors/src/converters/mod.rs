//! Converters turn Connect data into the bytes of a Kafka key, value or header and back.

use crate::api::Props;
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::ConnectResult;

/// Kafka Connect's `Converter`.
pub trait Converter: Send + Sync {
    /// Configures the converter with its own keys (the `key.converter.` / `value.converter.`
    /// prefix already removed) and whether it converts keys or values.
    fn configure(&mut self, props: &Props, is_key: bool) -> ConnectResult<()>;

    /// Connect data → bytes. `None` is a Kafka null (tombstone).
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>>;

    /// Bytes → Connect data. A Kafka null becomes `Value::Null`.
    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue>;
}
