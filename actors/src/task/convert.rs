//! The converters of one task: the connector's override, else the worker's, each configured
//! with its `key.converter.` / `value.converter.` keys (worker's first, connector's over them).

use kconnect_connectors::converters::{converter_by_name, converter_class_name, Converter};
use kconnect_connectors::data::Value;
use kconnect_connectors::ConnectError;

use crate::config::{prefixed, ConnectorConfig, WorkerConfig, KEY_CONVERTER, VALUE_CONVERTER};

pub struct TaskConverters {
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
    /// Their Java class names, for error reporting (Connect's executing class).
    pub key_class: &'static str,
    pub value_class: &'static str,
}

impl TaskConverters {
    pub fn new(worker: &WorkerConfig, connector: &ConnectorConfig) -> Result<Self, ConnectError> {
        let make = |key: &str, chosen: Option<&String>, default: &str, is_key: bool| {
            let class = chosen.map(String::as_str).unwrap_or(default);
            let unknown = || {
                ConnectError::config(format!(
                    "Invalid value {class} for configuration {key}: unknown converter class"
                ))
            };
            let mut c = converter_by_name(class).ok_or_else(unknown)?;
            let full = converter_class_name(class).ok_or_else(unknown)?;
            let mut props = prefixed(&worker.props, &format!("{key}."));
            props.extend(connector.prefixed(&format!("{key}.")));
            c.configure(&props, is_key)?;
            Ok::<_, ConnectError>((c, full))
        };
        let (key, key_class) = make(
            KEY_CONVERTER,
            connector.key_converter.as_ref(),
            &worker.key_converter,
            true,
        )?;
        let (value, value_class) = make(
            VALUE_CONVERTER,
            connector.value_converter.as_ref(),
            &worker.value_converter,
            false,
        )?;
        Ok(TaskConverters {
            key,
            value,
            key_class,
            value_class,
        })
    }
}

/// Header values travel as text (strings as they are, bytes raw, other primitives printed),
/// close to Connect's SimpleHeaderConverter for the common cases.
pub fn header_bytes(v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        Value::Int8(n) => n.to_string().into_bytes(),
        Value::Int16(n) => n.to_string().into_bytes(),
        Value::Int32(n) => n.to_string().into_bytes(),
        Value::Int64(n) => n.to_string().into_bytes(),
        Value::Float32(n) => n.to_string().into_bytes(),
        Value::Float64(n) => n.to_string().into_bytes(),
        other => format!("{other:?}").into_bytes(),
    })
}

/// A sink-side header value: UTF-8 text as a string, anything else as bytes.
pub fn header_value(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::Bytes(b.to_vec()),
        },
    }
}
