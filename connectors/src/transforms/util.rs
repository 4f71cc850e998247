//! Checks every transform makes of its operand, with Connect's messages (its `Requirements`),
//! so a user who greps for Connect's text finds kconnect's.

use crate::data::{Schema, Struct, Value};
use crate::error::{ConnectError, ConnectResult};

/// The Java class of a value as Connect names it in messages (`nullSafeClassName`).
pub fn java_class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "java.util.Date",
    }
}

/// The schema, or Connect's "Schema required for \[purpose\]".
pub fn require_schema<'a>(schema: Option<&'a Schema>, purpose: &str) -> ConnectResult<&'a Schema> {
    schema.ok_or_else(|| ConnectError::data(format!("Schema required for [{purpose}]")))
}

/// The entries of a schemaless map value, or Connect's error naming what was found.
pub fn require_map<'a>(value: &'a Value, purpose: &str) -> ConnectResult<&'a [(Value, Value)]> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// A struct value, or Connect's error naming what was found.
pub fn require_struct<'a>(value: &'a Value, purpose: &str) -> ConnectResult<&'a Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::data(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// The value under a string key of a schemaless map (Connect's `Map<String, Object>`).
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_connect_s() {
        let e = require_struct(&Value::String("x".into()), "field extraction").unwrap_err();
        assert_eq!(
            e,
            ConnectError::data(
                "Only Struct objects supported for [field extraction], found: java.lang.String"
            )
        );
        let e = require_map(&Value::Null, "field insertion").unwrap_err();
        assert_eq!(
            e,
            ConnectError::data(
                "Only Map objects supported in absence of schema for [field insertion], found: null"
            )
        );
        let e = require_schema(None, "updating schema metadata").unwrap_err();
        assert_eq!(
            e,
            ConnectError::data("Schema required for [updating schema metadata]")
        );
    }

    #[test]
    fn map_get_finds_string_keys_only() {
        let m = vec![
            (Value::Int32(1), Value::Int32(10)),
            (Value::String("a".into()), Value::Int32(20)),
        ];
        assert_eq!(map_get(&m, "a"), Some(&Value::Int32(20)));
        assert_eq!(map_get(&m, "1"), None);
    }
}
