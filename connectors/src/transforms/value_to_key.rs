//! `ValueToKey`: replaces the record key by a struct (or map, schemaless) of some fields of
//! the value (`fields`), as Connect's `ValueToKey`. The key's schema is built once per value
//! schema. A field missing from the value's schema fails with Connect's
//! `Field does not exist: <field>`; a missing map entry gives null.
//!
//! Beyond Connect 4.x: `field.syntax.version` (default `V1`, Connect's behaviour). With `V2`,
//! `fields` are nested paths (KIP-821) and the key keeps their nesting: `fields=a.b,c` makes
//! the key `{a: {b: …}, c: …}`, nested key structs holding only the fields named (and keeping
//! the optionality of the value's structs, not their names).
//!
//! Deviation from Connect: a field named twice appears once in the key; Connect fails to
//! build a key schema with a duplicated field.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::Schema;
use crate::error::ConnectResult;
use crate::registry::{PluginRegistry, TransformationPlugin};

use super::field_path::{FieldPaths, FieldSyntaxVersion};
use super::schema_update_cache::SchemaUpdateCache;
use super::smt_config::{
    check_non_empty_lists, define_replace_null_with_default, non_empty_list,
    REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::{require_map, require_struct};
use super::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.ValueToKey";

const FIELDS_CONFIG: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

/// Registers the transform with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    registry.register_transformation(TransformationPlugin::new(CLASS, version, || {
        Box::new(ValueToKey::new())
    }));
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new().define(
        FIELDS_CONFIG,
        ConfigType::List,
        None,
        Some(non_empty_list()),
        Importance::High,
        "The fields of the record value that make up the new record key.",
    );
    FieldSyntaxVersion::define(define_replace_null_with_default(def))
}

/// The ValueToKey transform.
pub struct ValueToKey {
    paths: FieldPaths,
    replace_null_with_default: bool,
    cache: SchemaUpdateCache,
}

impl Default for ValueToKey {
    fn default() -> Self {
        Self::new()
    }
}

impl ValueToKey {
    /// A transform not configured yet.
    pub fn new() -> Self {
        ValueToKey {
            paths: FieldPaths::new(Vec::new()),
            replace_null_with_default: true,
            cache: SchemaUpdateCache::new(),
        }
    }
}

impl Transformation for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        check_non_empty_lists(props, &[FIELDS_CONFIG])?;
        let config = config_def().parse(props)?;
        let version = FieldSyntaxVersion::from_config(&config)?;
        self.paths = FieldPaths::parse(&config.list(FIELDS_CONFIG)?, version)?;
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (key_schema, key) = if record.value_schema().is_none() {
            let entries = require_map(record.value(), PURPOSE)?;
            (None::<Schema>, self.paths.project_map(entries)?)
        } else {
            let value = require_struct(record.value(), PURPOSE)?;
            let paths = &self.paths;
            let schema = self
                .cache
                .get_or_build(&value.schema, || paths.project_schema(&value.schema))?;
            let key = paths.project_struct(value, &schema, self.replace_null_with_default)?;
            (Some(schema), crate::data::Value::Struct(key))
        };
        let (schema_slot, key_slot) = record.key_mut();
        *schema_slot = key_schema;
        *key_slot = key;
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::{SchemaBuilder, Struct, Type, Value};
    use crate::error::ConnectError;
    use crate::transforms::test_records::{configured, created, keyed_sink, map, props};

    fn abc_schema() -> Schema {
        SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::int32())
            .field("c", Schema::int32())
            .build()
    }

    fn abc(schema: &Schema) -> Value {
        Value::Struct(
            Struct::new(schema.clone())
                .unwrap()
                .with("a", 1)
                .unwrap()
                .with("b", 2)
                .unwrap()
                .with("c", 3)
                .unwrap(),
        )
    }

    #[test]
    fn registered_under_connect_s_name() {
        let r = PluginRegistry::builtin();
        assert_eq!(r.transformation("ValueToKey").unwrap().class_name, CLASS);
        assert_eq!(
            created("ValueToKey")
                .configure(&props(&[("fields", "")]))
                .unwrap_err(),
            ConnectError::config("Invalid value [] for configuration fields: Empty list")
        );
    }

    #[test]
    fn schemaless() {
        let mut r = keyed_sink(
            None,
            Value::Null,
            None,
            map(&[
                ("a", Value::Int32(1)),
                ("b", Value::Int32(2)),
                ("c", Value::Int32(3)),
            ]),
        );
        configured("ValueToKey", &[("fields", "a,b")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(
            r.key,
            map(&[("a", Value::Int32(1)), ("b", Value::Int32(2))])
        );
    }

    #[test]
    fn with_schema() {
        let schema = abc_schema();
        let mut r = keyed_sink(None, Value::Null, Some(schema.clone()), abc(&schema));
        configured("ValueToKey", &[("fields", "a,b")])
            .apply(&mut r)
            .unwrap();
        let want_schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::int32())
            .build();
        assert_eq!(r.key_schema, Some(want_schema.clone()));
        assert_eq!(
            r.key,
            Value::Struct(
                Struct::new(want_schema)
                    .unwrap()
                    .with("a", 1)
                    .unwrap()
                    .with("b", 2)
                    .unwrap()
            )
        );
        // The value is untouched.
        assert_eq!(r.value, abc(&schema));
    }

    #[test]
    fn a_missing_field_fails() {
        let schema = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let value = Value::Struct(Struct::new(schema.clone()).unwrap().with("a", 1).unwrap());
        let mut r = keyed_sink(None, Value::Null, Some(schema), value);
        assert_eq!(
            configured("ValueToKey", &[("fields", "not_exist")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data("Field does not exist: not_exist")
        );
    }

    #[test]
    fn null_fields_take_their_default_only_when_asked() {
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
            let mut t = configured(
                "ValueToKey",
                &[
                    ("fields", "optional_with_default"),
                    ("replace.null.with.default", replace),
                ],
            );
            let mut r = keyed_sink(
                None,
                Value::Null,
                Some(schema.clone()),
                Value::Struct(Struct::new(schema.clone()).unwrap()),
            );
            t.apply(&mut r).unwrap();
            let key = r.key.as_struct().unwrap();
            assert_eq!(
                key.get_without_default("optional_with_default").unwrap(),
                &want
            );
            // The key field keeps the value field's schema, default included.
            assert_eq!(
                key.schema,
                SchemaBuilder::struct_()
                    .field("optional_with_default", schema.fields()[0].schema.clone())
                    .build()
            );
        }
    }

    #[test]
    fn tombstones_fail_as_in_connect() {
        let mut r = keyed_sink(None, Value::Null, Some(abc_schema()), Value::Null);
        assert_eq!(
            configured("ValueToKey", &[("fields", "a")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data(
                "Only Struct objects supported for [copying fields from value to key], found: null"
            )
        );
        let mut r = keyed_sink(None, Value::Null, None, Value::Null);
        assert_eq!(
            configured("ValueToKey", &[("fields", "a")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [copying fields from value \
                 to key], found: null"
            )
        );
    }

    #[test]
    fn nested_paths_keep_their_nesting() {
        let address = SchemaBuilder::struct_()
            .name("com.example.Address")
            .field("city", Schema::string())
            .field("zip", Schema::string())
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("address", address.clone())
            .field("a.b", Schema::int32())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("id", 7i64)
            .unwrap()
            .with(
                "address",
                Struct::new(address)
                    .unwrap()
                    .with("city", "Oslo")
                    .unwrap()
                    .with("zip", "0150")
                    .unwrap(),
            )
            .unwrap()
            .with("a.b", 5)
            .unwrap();
        let mut t = configured(
            "ValueToKey",
            &[
                ("fields", "address.city,id,`a.b`"),
                ("field.syntax.version", "V2"),
            ],
        );
        let mut r = keyed_sink(None, Value::Null, Some(schema), Value::Struct(value));
        t.apply(&mut r).unwrap();
        let city = SchemaBuilder::struct_()
            .field("city", Schema::string())
            .optional()
            .build();
        let want_schema = SchemaBuilder::struct_()
            .field("address", city.clone())
            .field("id", Schema::int64())
            .field("a.b", Schema::int32())
            .build();
        assert_eq!(r.key_schema, Some(want_schema.clone()));
        let key = r.key.as_struct().unwrap();
        key.validate().unwrap();
        assert_eq!(
            key.get("address").unwrap(),
            &Value::Struct(Struct::new(city).unwrap().with("city", "Oslo").unwrap())
        );
        assert_eq!(key.get("id").unwrap(), &Value::Int64(7));
        assert_eq!(key.get("a.b").unwrap(), &Value::Int32(5));

        // Schemaless: nested maps, null where the value has nothing.
        let mut r = keyed_sink(
            None,
            Value::Null,
            None,
            map(&[(
                "address",
                map(&[("city", Value::String("Oslo".into())), ("zip", Value::Null)]),
            )]),
        );
        configured(
            "ValueToKey",
            &[
                ("fields", "address.city,id"),
                ("field.syntax.version", "V2"),
            ],
        )
        .apply(&mut r)
        .unwrap();
        assert_eq!(
            r.key,
            map(&[
                ("address", map(&[("city", Value::String("Oslo".into()))])),
                ("id", Value::Null),
            ])
        );
    }

    #[test]
    fn one_value_schema_gets_one_key_schema() {
        let mut t = configured("ValueToKey", &[("fields", "a")]);
        let mut keys = Vec::new();
        for _ in 0..2 {
            let schema = abc_schema();
            let mut r = keyed_sink(None, Value::Null, Some(schema.clone()), abc(&schema));
            t.apply(&mut r).unwrap();
            keys.push(r.key_schema.unwrap());
        }
        assert!(Arc::ptr_eq(&keys[0].0, &keys[1].0));
    }
}
