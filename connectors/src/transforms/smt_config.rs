//! Pieces the Cast, ExtractField, HeaderFrom, MaskField, ReplaceField, TimestampConverter and
//! ValueToKey transforms share: the `replace.null.with.default` key, Connect's list checks with
//! its exact messages, mutable access to a record's operand with Connect's `Requirements`
//! messages, and the `$Key` / `$Value` registration.
//!
//! Connect's validators throw their own `ConfigException`, whose text names the list as Java
//! prints it (`Invalid value [] for configuration fields: Empty list`). [`ConfigDef::parse`]
//! prints the raw string instead, so each transform runs these checks itself before parsing,
//! keeping Connect's text for `configure`; the `ConfigDef` carries the same checks so that the
//! REST validate endpoint reports the key in error.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::data::{Struct, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::{PluginRegistry, TransformationPlugin};

use super::util::{require_map, require_struct};
use super::Transformation;

/// `replace.null.with.default`: every transform of Connect 4.x that copies struct fields has it.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

/// Adds `replace.null.with.default` (BOOLEAN, default true) to `def`.
pub fn define_replace_null_with_default(def: ConfigDef) -> ConfigDef {
    def.define(
        REPLACE_NULL_WITH_DEFAULT_CONFIG,
        ConfigType::Boolean,
        Some("true"),
        None,
        Importance::Medium,
        "When a field is null and its schema has a default value: true writes the default \
         value in its place, false keeps the null.",
    )
}

/// Connect's `NonEmptyListValidator`, for the REST validate endpoint.
pub fn non_empty_list() -> Validator {
    Validator::custom("non-empty list", |v| match v {
        ParsedValue::List(items) if items.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    })
}

/// Connect's `NonEmptyListValidator` message for each of `keys` that is set to an empty list,
/// in the order given (Connect checks keys in definition order).
pub fn check_non_empty_lists(props: &Props, keys: &[&str]) -> ConnectResult<()> {
    for key in keys {
        if let Some(raw) = props.get(*key) {
            if list(raw).is_empty() {
                return Err(ConnectError::config(format!(
                    "Invalid value [] for configuration {key}: Empty list"
                )));
            }
        }
    }
    Ok(())
}

/// A LIST value as Connect parses it (`a, b` → `["a", "b"]`, `""` → `[]`), the way
/// [`ConfigDef::parse`] does.
pub fn list(raw: &str) -> Vec<String> {
    let t = raw.trim();
    if t.is_empty() {
        Vec::new()
    } else {
        t.split(',').map(|s| s.trim().to_string()).collect()
    }
}

/// A list as Java's `List.toString()` prints it: `[a, b]`.
pub fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `String.split(":")` as Java does it: trailing empty parts are dropped (`"a:"` → `["a"]`,
/// `":b"` → `["", "b"]`), an empty string gives one empty part.
pub fn java_split_colon(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(':').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        // Only separators (`":::"`): Java returns an empty array.
        parts.clear();
    }
    parts
}

/// Takes a value out of its place, leaving null (`Value` has no `Default`).
pub fn take(value: &mut Value) -> Value {
    std::mem::replace(value, Value::Null)
}

/// The entries of a schemaless map operand, mutably, or Connect's `requireMap` error.
pub fn map_mut<'a>(
    value: &'a mut Value,
    purpose: &str,
) -> ConnectResult<&'a mut Vec<(Value, Value)>> {
    require_map(value, purpose)?;
    match value {
        Value::Map(entries) => Ok(entries),
        _ => unreachable!("require_map accepted a map"),
    }
}

/// A struct operand, mutably, or Connect's `requireStruct` error.
pub fn struct_mut<'a>(value: &'a mut Value, purpose: &str) -> ConnectResult<&'a mut Struct> {
    require_struct(value, purpose)?;
    match value {
        Value::Struct(s) => Ok(s),
        _ => unreachable!("require_struct accepted a struct"),
    }
}

/// The value under a string key of a schemaless map, mutably.
pub fn map_get_mut<'a>(entries: &'a mut [(Value, Value)], key: &str) -> Option<&'a mut Value> {
    entries
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Java's `HashMap.put(key, value)` on a schemaless map: replaces the value under `key`, or
/// adds the entry at the end.
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match map_get_mut(entries, key) {
        Some(slot) => *slot = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// The value of field `index` of a struct as a transform copies it: unset fields (`Null`)
/// take the field's default when `replace_null_with_default` (Connect's `struct.get(field)`),
/// else stay null (`getWithoutDefault`).
pub fn field_value(s: &Struct, index: usize, replace_null_with_default: bool) -> Value {
    if replace_null_with_default {
        s.get_at(index).clone()
    } else {
        s.values.get(index).cloned().unwrap_or(Value::Null)
    }
}

/// [`field_value`] for a value already taken out of its struct.
pub fn with_default(value: Value, field_schema: &crate::data::Schema, replace: bool) -> Value {
    match (value, field_schema.default_value()) {
        (Value::Null, Some(d)) if replace => d.clone(),
        (v, _) => v,
    }
}

/// Registers a `$Key` / `$Value` pair: `org.apache.kafka.connect.transforms.<Name>$Key`, etc.
pub fn register_pair(
    registry: &mut PluginRegistry,
    version: &str,
    key: (&'static str, fn() -> Box<dyn Transformation>),
    value: (&'static str, fn() -> Box<dyn Transformation>),
) {
    registry.register_transformation(TransformationPlugin::new(key.0, version, key.1));
    registry.register_transformation(TransformationPlugin::new(value.0, version, value.1));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transforms that have Connect's `replace.null.with.default` key.
    #[test]
    fn the_transforms_of_kip_1040_have_replace_null_with_default() {
        let r = PluginRegistry::builtin();
        for simple in [
            "Cast$Key",
            "Cast$Value",
            "ExtractField$Key",
            "ExtractField$Value",
            "HeaderFrom$Key",
            "HeaderFrom$Value",
            "MaskField$Key",
            "MaskField$Value",
            "ReplaceField$Key",
            "ReplaceField$Value",
            "TimestampConverter$Key",
            "TimestampConverter$Value",
            "ValueToKey",
        ] {
            let def = r.transformation(simple).unwrap().create().config_def();
            assert!(
                def.key(REPLACE_NULL_WITH_DEFAULT_CONFIG).is_some(),
                "{simple}"
            );
        }
    }

    #[test]
    fn split_drops_trailing_empty_parts_like_java() {
        assert_eq!(java_split_colon("a:b"), vec!["a", "b"]);
        assert_eq!(java_split_colon("a:"), vec!["a"]);
        assert_eq!(java_split_colon(":b"), vec!["", "b"]);
        assert_eq!(java_split_colon("a::b"), vec!["a", "", "b"]);
        assert_eq!(java_split_colon(""), vec![""]);
        assert!(java_split_colon("::").is_empty());
    }

    #[test]
    fn empty_lists_fail_with_connect_s_message() {
        let p = crate::transforms::test_records::props(&[("fields", " "), ("headers", "a")]);
        assert_eq!(
            check_non_empty_lists(&p, &["headers", "fields"]).unwrap_err(),
            ConnectError::config("Invalid value [] for configuration fields: Empty list")
        );
        assert!(check_non_empty_lists(&p, &["headers", "absent"]).is_ok());
        assert_eq!(java_list(&["a".into(), "b".into()]), "[a, b]");
    }

    #[test]
    fn map_put_replaces_or_appends() {
        let mut m = vec![(Value::String("a".into()), Value::Int32(1))];
        map_put(&mut m, "a", Value::Int32(2));
        map_put(&mut m, "b", Value::Null);
        assert_eq!(
            m,
            vec![
                (Value::String("a".into()), Value::Int32(2)),
                (Value::String("b".into()), Value::Null)
            ]
        );
    }
}
