//! `org.apache.kafka.connect.transforms.SetSchemaMetadata$Key` / `$Value`: gives the key or
//! value schema a new name and/or version, everything else kept. A struct value is moved onto
//! the new schema (its null fields taking their defaults, unless
//! `replace.null.with.default=false`); other values are kept as they are.

use std::sync::Arc;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::{validate_value_at, Schema, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::schema_update_cache::SchemaUpdateCache;
use crate::transforms::util::require_schema;
use crate::transforms::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that sets the key schema's name and version.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key";
/// The class name of the transform that sets the value schema's name and version.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value";

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define_optional(
            SCHEMA_NAME,
            ConfigType::String,
            Importance::High,
            "The name the schema gets; unset keeps its name.",
        )
        .define_optional(
            SCHEMA_VERSION,
            ConfigType::Int,
            Importance::High,
            "The version the schema gets; unset keeps its version.",
        )
        .define(
            REPLACE_NULL_WITH_DEFAULT,
            ConfigType::Boolean,
            Some("true"),
            None,
            Importance::Medium,
            "For a struct, whether a null field that has a default value gets that default \
             (true) or stays null (false).",
        )
}

/// Sets the schema's name and/or version (Connect's `SetSchemaMetadata`).
#[derive(Debug)]
pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    schemas: SchemaUpdateCache,
}

impl SetSchemaMetadata {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        SetSchemaMetadata {
            side,
            name: None,
            version: None,
            replace_null_with_default: true,
            schemas: SchemaUpdateCache::new(),
        }
    }

    /// Moves a struct onto `schema`, a renamed copy of its own (same fields), as `Struct.put`
    /// of each field would: every value is checked before anything changes.
    fn move_struct(&self, s: &mut Struct, schema: Schema) -> ConnectResult<()> {
        if schema.ty() != Type::Struct {
            return Err(ConnectError::data(format!(
                "Not a struct schema: {}",
                schema.ty()
            )));
        }
        let value_at = |i: usize| {
            if self.replace_null_with_default {
                s.get_at(i)
            } else {
                s.values.get(i).unwrap_or(&Value::Null)
            }
        };
        for (i, f) in schema.fields().iter().enumerate() {
            validate_value_at(&f.name, &f.schema, value_at(i))?;
        }
        let n = schema.fields().len();
        s.values.resize(n, Value::Null);
        if self.replace_null_with_default {
            for (v, f) in s.values.iter_mut().zip(schema.fields()) {
                if v.is_null() {
                    if let Some(d) = f.schema.default_value() {
                        *v = d.clone();
                    }
                }
            }
        }
        s.schema = schema;
        Ok(())
    }
}

/// `schema` with the name and version given, everything else the same (the field, key and
/// value schemas shared, not copied).
fn renamed(schema: &Schema, name: &Option<String>, version: Option<i32>) -> Schema {
    let mut body = (*schema.0).clone();
    if let Some(name) = name {
        body.name = Some(name.clone());
    }
    if let Some(version) = version {
        body.version = Some(version);
    }
    Schema(Arc::new(body))
}

impl Transformation for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let c = config_def().parse(props)?;
        let name = c.opt_string(SCHEMA_NAME);
        let version = if c.has(SCHEMA_VERSION) {
            Some(c.int(SCHEMA_VERSION)?)
        } else {
            None
        };
        if name.is_none() && version.is_none() {
            return Err(ConnectError::config(
                "Neither schema name nor version configured",
            ));
        }
        self.name = name;
        self.version = version;
        self.replace_null_with_default = c.boolean(REPLACE_NULL_WITH_DEFAULT)?;
        self.schemas.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let input = {
            let schema = self.side.schema(record);
            if schema.is_none() && self.side.value(record).is_null() {
                return Ok(Outcome::Keep);
            }
            require_schema(schema, "updating schema metadata")?.clone()
        };
        let (name, version) = (&self.name, self.version);
        let updated = self
            .schemas
            .get_or_build(&input, || Ok(renamed(&input, name, version)))?;
        tracing::trace!(original = ?input.name(), updated = ?updated.name(), "set schema metadata");
        let (schema, value) = self.side.get_mut(record);
        if let Value::Struct(s) = value {
            self.move_struct(s, updated.clone())?;
        }
        *schema = Some(updated);
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.schemas.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaBuilder;
    use crate::transforms::test_records::{configured, props, sink, source};

    fn empty_struct_record() -> crate::record::SinkRecord {
        sink(
            "",
            None,
            Value::Null,
            Some(SchemaBuilder::struct_().build()),
            Value::Null,
        )
    }

    /// The struct carries `schema` itself, and its fields are `schema`'s.
    fn assert_matching_schema(value: &Value, schema: &Schema) {
        let s = value.as_struct().unwrap();
        assert!(Arc::ptr_eq(&s.schema.0, &schema.0));
        for f in schema.fields() {
            let g = s.schema.field(&f.name).unwrap();
            assert_eq!(g.index, f.index);
            assert!(Arc::ptr_eq(&g.schema.0, &f.schema.0));
        }
    }

    #[test]
    fn sets_the_name_the_version_or_both() {
        let mut t = configured("SetSchemaMetadata$Value", &[("schema.name", "foo")]);
        let mut r = empty_struct_record();
        t.apply(&mut r).unwrap();
        assert_eq!(r.value_schema.as_ref().unwrap().name(), Some("foo"));
        assert_eq!(r.value_schema.as_ref().unwrap().version(), None);

        let mut t = configured("SetSchemaMetadata$Value", &[("schema.version", "42")]);
        let mut r = empty_struct_record();
        t.apply(&mut r).unwrap();
        assert_eq!(r.value_schema.as_ref().unwrap().version(), Some(42));
        assert_eq!(r.value_schema.as_ref().unwrap().name(), None);

        let mut t = configured(
            "SetSchemaMetadata$Value",
            &[("schema.name", "foo"), ("schema.version", "42")],
        );
        let mut r = empty_struct_record();
        t.apply(&mut r).unwrap();
        let s = r.value_schema.unwrap();
        assert_eq!((s.name(), s.version()), (Some("foo"), Some(42)));
    }

    #[test]
    fn keeps_everything_else_of_the_schema() {
        let mut t = configured("SetSchemaMetadata$Key", &[("schema.name", "renamed")]);
        let schema = SchemaBuilder::map(Schema::string(), Schema::int32())
            .name("orig")
            .version(3)
            .doc("d")
            .parameter("p", "v")
            .optional()
            .build();
        let key = Value::Map(vec![("a".into(), Value::Int32(1))]);
        let mut r = source("t", Some(schema.clone()), key.clone(), None, Value::Null);
        t.apply(&mut r).unwrap();
        let out = r.key_schema.unwrap();
        let mut expected = (*schema.0).clone();
        expected.name = Some("renamed".into());
        assert_eq!(*out.0, expected);
        assert_eq!(r.key, key);
    }

    #[test]
    fn struct_values_move_onto_the_new_schema() {
        let schema = SchemaBuilder::struct_()
            .name("my.orig.SchemaDefn")
            .field("f1", Schema::string())
            .field("f2", Schema::int32())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("f1", "value1")
            .unwrap()
            .with("f2", 1)
            .unwrap();
        let mut t = configured(
            "SetSchemaMetadata$Value",
            &[("schema.name", "foo"), ("schema.version", "42")],
        );
        let mut r = sink("", None, Value::Null, Some(schema), value.into());
        t.apply(&mut r).unwrap();
        let out = r.value_schema.clone().unwrap();
        assert_eq!((out.name(), out.version()), (Some("foo"), Some(42)));
        assert_matching_schema(&r.value, &out);
        let s = r.value.as_struct().unwrap();
        assert_eq!(s.values, vec![Value::from("value1"), Value::Int32(1)]);
    }

    #[test]
    fn null_fields_with_defaults_follow_replace_null_with_default() {
        for (replace, expected) in [("false", Value::Null), ("true", Value::from("default"))] {
            let schema = SchemaBuilder::struct_()
                .name("my.orig.SchemaDefn")
                .field(
                    "f1",
                    SchemaBuilder::new(Type::String)
                        .default_value("default".into())
                        .optional()
                        .build(),
                )
                .field("f2", Schema::int32())
                .build();
            let value = Struct::new(schema.clone()).unwrap().with("f2", 1).unwrap();
            let mut t = configured(
                "SetSchemaMetadata$Value",
                &[
                    ("schema.name", "foo"),
                    ("schema.version", "42"),
                    ("replace.null.with.default", replace),
                ],
            );
            let mut r = sink("", None, Value::Null, Some(schema), value.into());
            t.apply(&mut r).unwrap();
            let out = r.value_schema.clone().unwrap();
            assert_matching_schema(&r.value, &out);
            let s = r.value.as_struct().unwrap();
            assert_eq!(s.get_without_default("f1").unwrap(), &expected, "{replace}");
        }
    }

    #[test]
    fn one_output_schema_object_per_input_schema() {
        let mut t = configured("SetSchemaMetadata$Value", &[("schema.name", "foo")]);
        let schema = SchemaBuilder::new(Type::Int32).build();
        let mut a = sink("", None, Value::Null, Some(schema.clone()), Value::Int32(1));
        let mut b = sink("", None, Value::Null, Some(schema), Value::Int32(2));
        t.apply(&mut a).unwrap();
        t.apply(&mut b).unwrap();
        let (sa, sb) = (a.value_schema.unwrap(), b.value_schema.unwrap());
        assert!(Arc::ptr_eq(&sa.0, &sb.0));
        assert_eq!(b.value, Value::Int32(2));
    }

    #[test]
    fn schema_required_and_null_without_schema_ignored() {
        let mut t = configured("SetSchemaMetadata$Value", &[("schema.name", "foo")]);
        let mut r = sink("", None, Value::Null, None, Value::Int32(42));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Schema required for [updating schema metadata]")
        );
        let mut r = sink("", None, Value::Null, None, Value::Null);
        let before = r.clone();
        t.apply(&mut r).unwrap();
        assert_eq!(r, before);
    }

    #[test]
    fn a_null_in_a_required_field_is_refused_without_replacement() {
        let schema = SchemaBuilder::struct_()
            .field(
                "f",
                SchemaBuilder::new(Type::Int32)
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let value = Struct::new(schema.clone()).unwrap();
        let cfg = [("schema.name", "n"), ("replace.null.with.default", "false")];
        let mut t = configured("SetSchemaMetadata$Value", &cfg);
        let mut r = sink(
            "",
            None,
            Value::Null,
            Some(schema.clone()),
            value.clone().into(),
        );
        let before = r.clone();
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Invalid value: null used for required field: \"f\", schema type: INT32"
            )
        );
        assert_eq!(r, before);
        // With replacement the default fills it.
        let mut t = configured("SetSchemaMetadata$Value", &[("schema.name", "n")]);
        let mut r = sink("", None, Value::Null, Some(schema), value.into());
        t.apply(&mut r).unwrap();
        assert_eq!(r.value.as_struct().unwrap().values, vec![Value::Int32(5)]);
    }

    #[test]
    fn name_or_version_must_be_configured() {
        let mut t = SetSchemaMetadata::new(Side::Value);
        assert_eq!(
            t.configure(&props(&[])).unwrap_err(),
            ConnectError::config("Neither schema name nor version configured")
        );
        assert_eq!(
            t.configure(&props(&[("schema.version", "x")])).unwrap_err(),
            ConnectError::config(
                "Invalid value x for configuration schema.version: Not a number of type INT"
            )
        );
    }
}
