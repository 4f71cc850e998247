//! Validation of a value against its schema, like Java's `ConnectSchema.validateValue`.
//!
//! Errors are `ConnectError::Data` and name where the bad value sits: `value` for the top
//! level, otherwise `field: "<path>"` where the path joins struct field names with `.`, array
//! indexes as `[i]`, map values as `[<key>]` and map keys as `.<key #i>`, e.g.
//! `field: "order.lines[2].price"`.

use super::logical::{check_time_millis, decimal_scale, LogicalType};
use super::schema::{Schema, Type};
use super::value::Value;
use crate::error::{ConnectError, ConnectResult};

/// Checks `value` against `schema`:
/// - `Null` only for an optional schema (a default does not make `Null` valid, as in Java;
///   [`crate::data::Struct::validate`] does accept an unset field that has a default);
/// - the value's kind must match the schema type; a schema named like a logical type needs the
///   logical value (`Value::Decimal` with the schema's `scale`, `Value::Date`, `Value::Time`
///   within a day, `Value::Timestamp`) on the matching carrier type;
/// - array elements, map keys and values, and struct fields are checked recursively; a struct
///   value must carry the schema it is checked against (see [`Schema::same_struct_schema`])
///   and have every required field set.
pub fn validate_value(schema: &Schema, value: &Value) -> ConnectResult<()> {
    validate_value_at("", schema, value)
}

/// [`validate_value`] for the value of a field (or other location) named `path`, which error
/// messages then name.
#[inline]
pub fn validate_value_at(path: &str, schema: &Schema, value: &Value) -> ConnectResult<()> {
    if plainly_valid(schema, value) {
        return Ok(());
    }
    validate_at(schema, value, path)
}

/// Whether the kinds alone show `value` valid for `schema`: a primitive schema without a name
/// (so no logical type) and a value of its type, or `Null` for an optional one. Inlined into
/// every caller, so that the fields of a struct a transform copies (Connect's `Struct.put`
/// checks each) cost a comparison, not a call. Everything else takes the full check, which
/// also writes the errors.
#[inline]
fn plainly_valid(schema: &Schema, value: &Value) -> bool {
    let body = &*schema.0;
    if body.name.is_some() {
        return false;
    }
    match value {
        Value::Null => body.optional,
        Value::Int8(_) => body.ty == Type::Int8,
        Value::Int16(_) => body.ty == Type::Int16,
        Value::Int32(_) => body.ty == Type::Int32,
        Value::Int64(_) => body.ty == Type::Int64,
        Value::Float32(_) => body.ty == Type::Float32,
        Value::Float64(_) => body.ty == Type::Float64,
        Value::Boolean(_) => body.ty == Type::Boolean,
        Value::String(_) => body.ty == Type::String,
        Value::Bytes(_) => body.ty == Type::Bytes,
        _ => false,
    }
}

pub(crate) fn location(path: &str) -> String {
    if path.is_empty() {
        "value".to_string()
    } else {
        format!("field: \"{path}\"")
    }
}

pub(crate) fn join_field(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn mismatch(schema: &Schema, value: &Value, path: &str) -> ConnectError {
    let named = match schema.name() {
        Some(n) => format!(" \"{n}\""),
        None => String::new(),
    };
    ConnectError::data(format!(
        "Invalid value for schema{named} with type {}: {} for {}",
        schema.ty(),
        value.kind(),
        location(path)
    ))
}

fn validate_at(schema: &Schema, value: &Value, path: &str) -> ConnectResult<()> {
    if let Value::Null = value {
        if !schema.is_optional() {
            return Err(ConnectError::data(format!(
                "Invalid value: null used for required {}, schema type: {}",
                location(path),
                schema.ty()
            )));
        }
        return Ok(());
    }

    if let Some(lt) = schema.logical_type() {
        if schema.ty() != lt.carrier_type() {
            return Err(ConnectError::data(format!(
                "Invalid schema for {}: logical type {} must have type {} but has {}",
                location(path),
                lt.name(),
                lt.carrier_type(),
                schema.ty()
            )));
        }
        return match (lt, value) {
            (LogicalType::Decimal, Value::Decimal(d)) => {
                let scale = decimal_scale(schema)?;
                if d.fractional_digit_count() != i64::from(scale) {
                    Err(ConnectError::data(format!(
                        "Decimal value with scale {} does not match the schema's scale {} for {}",
                        d.fractional_digit_count(),
                        scale,
                        location(path)
                    )))
                } else {
                    Ok(())
                }
            }
            (LogicalType::Date, Value::Date(_)) | (LogicalType::Timestamp, Value::Timestamp(_)) => {
                Ok(())
            }
            (LogicalType::Time, Value::Time(ms)) => check_time_millis(*ms)
                .map_err(|e| ConnectError::data(format!("{} for {}", text(&e), location(path)))),
            _ => Err(mismatch(schema, value, path)),
        };
    }

    match (schema.ty(), value) {
        (Type::Int8, Value::Int8(_))
        | (Type::Int16, Value::Int16(_))
        | (Type::Int32, Value::Int32(_))
        | (Type::Int64, Value::Int64(_))
        | (Type::Float32, Value::Float32(_))
        | (Type::Float64, Value::Float64(_))
        | (Type::Boolean, Value::Boolean(_))
        | (Type::String, Value::String(_))
        | (Type::Bytes, Value::Bytes(_)) => Ok(()),
        (Type::Array, Value::Array(items)) => {
            let elem = schema.value_schema().ok_or_else(|| {
                ConnectError::data(format!(
                    "No schema defined for element of array {}",
                    location(path)
                ))
            })?;
            for (i, item) in items.iter().enumerate() {
                validate_at(elem, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Type::Map, Value::Map(entries)) => {
            let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
                return Err(ConnectError::data(format!(
                    "No key or value schema defined for map {}",
                    location(path)
                )));
            };
            for (i, (k, v)) in entries.iter().enumerate() {
                validate_at(ks, k, &format!("{path}.<key #{i}>"))?;
                validate_at(vs, v, &format!("{path}[{}]", k.to_java_string()))?;
            }
            Ok(())
        }
        (Type::Struct, Value::Struct(s)) => {
            if !s.schema.same_struct_schema(schema) {
                return Err(ConnectError::data(format!(
                    "Struct schemas do not match for {}",
                    location(path)
                )));
            }
            s.validate_at(path)
        }
        _ => Err(mismatch(schema, value, path)),
    }
}

fn text(e: &ConnectError) -> &str {
    match e {
        ConnectError::Data(m)
        | ConnectError::Config(m)
        | ConnectError::Retriable(m)
        | ConnectError::Other(m) => m,
    }
}
