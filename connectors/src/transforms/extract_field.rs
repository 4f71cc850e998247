//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value by one of its fields
//! (`field`, a nested path with `field.syntax.version=V2`), as Connect's `ExtractField`. With a
//! schema the field must exist (`Unknown field: <path>`); without one a missing field gives
//! null. A null key or value stays null (with the field's schema).
//!
//! Deviation from Connect: the unknown-field error is a data error; Connect throws an
//! `IllegalArgumentException` (both fail the record the same way under `errors.tolerance`).

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::PluginRegistry;

use super::field_path::{FieldSyntaxVersion, SingleFieldPath};
use super::smt_config::{
    define_replace_null_with_default, register_pair, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::{require_map, require_struct};
use super::{ConnectRecord, Outcome, Side, Transformation};
use crate::data::Value;

/// The class name of the transform that replaces the key with one of its fields.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.ExtractField$Key";
/// The class name of the transform that replaces the value with one of its fields.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.ExtractField$Value";

const FIELD_CONFIG: &str = "field";
const PURPOSE: &str = "field extraction";

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(ExtractField::new(Side::Key))),
        (VALUE_CLASS, || Box::new(ExtractField::new(Side::Value))),
    );
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new().define(
        FIELD_CONFIG,
        ConfigType::String,
        None,
        None,
        Importance::Medium,
        "The field to extract (a path into nested structs or maps with field.syntax.version=V2).",
    );
    FieldSyntaxVersion::define(define_replace_null_with_default(def))
}

/// The ExtractField transform of one side of the record.
pub struct ExtractField {
    side: Side,
    path: Option<SingleFieldPath>,
    replace_null_with_default: bool,
}

impl ExtractField {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        ExtractField {
            side,
            path: None,
            replace_null_with_default: true,
        }
    }
}

impl Transformation for ExtractField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        let version = FieldSyntaxVersion::from_config(&config)?;
        self.path = Some(SingleFieldPath::new(
            &config.string(FIELD_CONFIG)?,
            version,
        )?);
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| ConnectError::other("ExtractField used before configure"))?;
        let (schema_slot, value) = self.side.get_mut(record);
        match schema_slot {
            None => {
                if !value.is_null() {
                    let entries = require_map(value, PURPOSE)?;
                    *value = path
                        .value_from_map(entries)?
                        .cloned()
                        .unwrap_or(Value::Null);
                }
            }
            Some(schema) => {
                if !value.is_null() {
                    require_struct(value, PURPOSE)?;
                }
                let field = path
                    .field_from(schema)?
                    .ok_or_else(|| ConnectError::data(format!("Unknown field: {}", path.text())))?;
                let field_schema = field.schema.clone();
                if let Value::Struct(s) = value {
                    *value = path
                        .value_from_struct(s, self.replace_null_with_default)?
                        .cloned()
                        .unwrap_or(Value::Null);
                }
                *schema_slot = Some(field_schema);
            }
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, Struct, Type};
    use crate::record::SinkRecord;
    use crate::transforms::test_records::{configured, created, keyed_sink, map, props};

    fn key_record(schema: Option<Schema>, key: Value) -> SinkRecord {
        keyed_sink(schema, key, None, Value::Null)
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(
            r.transformation("ExtractField$Key").unwrap().class_name,
            KEY_CLASS
        );
        assert_eq!(
            r.transformation("ExtractField$Value").unwrap().class_name,
            VALUE_CLASS
        );
        assert_eq!(
            created("ExtractField$Key")
                .configure(&Props::new())
                .unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"field\" which has no default value."
            )
        );
    }

    #[test]
    fn schemaless() {
        let mut r = key_record(None, map(&[("magic", Value::Int32(42))]));
        configured("ExtractField$Key", &[("field", "magic")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(r.key, Value::Int32(42));
    }

    #[test]
    fn schemaless_nested_path() {
        let key = map(&[("magic", map(&[("foo", Value::Int32(42))]))]);
        let mut r = key_record(None, key.clone());
        configured(
            "ExtractField$Key",
            &[("field", "magic.foo"), ("field.syntax.version", "V2")],
        )
        .apply(&mut r)
        .unwrap();
        assert_eq!(r.key, Value::Int32(42));
        // V1 reads the dotted name as one field.
        let mut r = key_record(None, key);
        configured("ExtractField$Key", &[("field", "magic.foo")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, Value::Null);
    }

    #[test]
    fn null_and_missing_schemaless() {
        let mut r = key_record(None, Value::Null);
        configured("ExtractField$Key", &[("field", "magic")])
            .apply(&mut r)
            .unwrap();
        assert_eq!((r.key_schema, r.key), (None, Value::Null));

        let mut r = key_record(None, map(&[("magic", Value::Int32(42))]));
        configured("ExtractField$Key", &[("field", "nonexistent")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, Value::Null);

        let mut r = key_record(None, map(&[("magic", map(&[("foo", Value::Int32(42))]))]));
        configured(
            "ExtractField$Key",
            &[
                ("field", "magic.nonexistent"),
                ("field.syntax.version", "V2"),
            ],
        )
        .apply(&mut r)
        .unwrap();
        assert_eq!(r.key, Value::Null);

        let mut r = key_record(None, Value::Int32(1));
        assert_eq!(
            configured("ExtractField$Key", &[("field", "magic")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [field extraction], found: \
                 java.lang.Integer"
            )
        );
    }

    #[test]
    fn with_schema() {
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .build();
        let key = Struct::new(schema.clone())
            .unwrap()
            .with("magic", 42)
            .unwrap();
        let mut r = key_record(Some(schema), Value::Struct(key));
        configured("ExtractField$Key", &[("field", "magic")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema, Some(Schema::int32()));
        assert_eq!(r.key, Value::Int32(42));
    }

    #[test]
    fn with_schema_nested_path() {
        let foo = SchemaBuilder::struct_()
            .field("foo", Schema::int32())
            .build();
        let schema = SchemaBuilder::struct_().field("magic", foo.clone()).build();
        let key = Struct::new(schema.clone())
            .unwrap()
            .with("magic", Struct::new(foo).unwrap().with("foo", 42).unwrap())
            .unwrap();
        let mut t = configured(
            "ExtractField$Key",
            &[("field", "magic.foo"), ("field.syntax.version", "v2")],
        );
        let mut r = key_record(Some(schema.clone()), Value::Struct(key.clone()));
        t.apply(&mut r).unwrap();
        assert_eq!(r.key_schema, Some(Schema::int32()));
        assert_eq!(r.key, Value::Int32(42));

        let mut t = configured(
            "ExtractField$Key",
            &[
                ("field", "magic.nonexistent"),
                ("field.syntax.version", "V2"),
            ],
        );
        let mut r = key_record(Some(schema), Value::Struct(key));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Unknown field: magic.nonexistent")
        );
    }

    #[test]
    fn null_with_schema_keeps_the_field_schema() {
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .optional()
            .build();
        let mut r = key_record(Some(schema), Value::Null);
        configured("ExtractField$Key", &[("field", "magic")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema, Some(Schema::int32()));
        assert_eq!(r.key, Value::Null);
    }

    #[test]
    fn unknown_field_with_schema_fails() {
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .build();
        let key = Struct::new(schema.clone())
            .unwrap()
            .with("magic", 42)
            .unwrap();
        let mut r = key_record(Some(schema), Value::Struct(key));
        assert_eq!(
            configured("ExtractField$Key", &[("field", "nonexistent")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data("Unknown field: nonexistent")
        );
    }

    #[test]
    fn unset_optional_field_takes_its_default_only_when_asked() {
        let schema = SchemaBuilder::struct_()
            .field(
                "optional_with_default",
                SchemaBuilder::new(Type::Int32)
                    .optional()
                    .default_value(Value::Int32(42))
                    .build(),
            )
            .build();
        for (replace, want) in [("false", Value::Null), ("true", Value::Int32(42))] {
            for alias in ["ExtractField$Key", "ExtractField$Value"] {
                let mut t = configured(
                    alias,
                    &[
                        ("field", "optional_with_default"),
                        ("replace.null.with.default", replace),
                    ],
                );
                let s = Value::Struct(Struct::new(schema.clone()).unwrap());
                let mut r = if alias.ends_with("Key") {
                    keyed_sink(Some(schema.clone()), s, None, Value::Null)
                } else {
                    keyed_sink(None, Value::Null, Some(schema.clone()), s)
                };
                t.apply(&mut r).unwrap();
                let got = if alias.ends_with("Key") {
                    &r.key
                } else {
                    &r.value
                };
                assert_eq!(got, &want, "{alias} replace={replace}");
            }
        }
    }

    #[test]
    fn bad_paths_and_versions_fail_at_configure() {
        let mut t = created("ExtractField$Value");
        assert_eq!(
            t.configure(&props(&[("field", "`a.b"), ("field.syntax.version", "V2")]))
                .unwrap_err(),
            ConnectError::config(
                "Incomplete backtick pair in path: [`a.b], consider adding a backslash before \
                 backtick at position 0 to escape it"
            )
        );
        assert_eq!(
            t.configure(&props(&[("field", "a"), ("field.syntax.version", "V9")]))
                .unwrap_err(),
            ConnectError::config(
                "Invalid value V9 for configuration field.syntax.version: String must be one of \
                 (case insensitive): V1, V2"
            )
        );
    }
}
