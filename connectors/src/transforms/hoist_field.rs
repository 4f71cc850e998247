//! `org.apache.kafka.connect.transforms.HoistField$Key` / `$Value`: wraps the key or value in a
//! struct of one field named `field` (schema present) or a map of one entry (schemaless).
//! Null values are wrapped too, as in Connect.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::{validate_value_at, SchemaBuilder, Struct, Value};
use crate::error::ConnectResult;
use crate::transforms::schema_update_cache::SchemaUpdateCache;
use crate::transforms::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that wraps the key in a struct (or map).
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.HoistField$Key";
/// The class name of the transform that wraps the value in a struct (or map).
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.HoistField$Value";

const FIELD: &str = "field";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        FIELD,
        ConfigType::String,
        None,
        None,
        Importance::Medium,
        "Name of the one field of the struct (or key of the map) the data is wrapped in.",
    )
}

/// Wraps the key or value in a struct (or a map, without a schema) of one field, `field` (Connect's
/// `HoistField`).
#[derive(Debug)]
pub struct HoistField {
    side: Side,
    field: String,
    schemas: SchemaUpdateCache,
}

impl HoistField {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        HoistField {
            side,
            field: String::new(),
            schemas: SchemaUpdateCache::new(),
        }
    }
}

impl Transformation for HoistField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.field = config_def().parse(props)?.string(FIELD)?;
        self.schemas.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        match schema.clone() {
            None => {
                let inner = std::mem::replace(value, Value::Null);
                *value = Value::Map(vec![(Value::String(self.field.clone()), inner)]);
            }
            Some(inner_schema) => {
                let field = &self.field;
                let wrapped = self.schemas.get_or_build(&inner_schema, || {
                    Ok(SchemaBuilder::struct_()
                        .field(field, inner_schema.clone())
                        .build())
                })?;
                // `Struct.put` checks the value against the field's schema.
                validate_value_at(field, &inner_schema, value)?;
                let inner = std::mem::replace(value, Value::Null);
                *value = Value::Struct(Struct {
                    schema: wrapped.clone(),
                    values: vec![inner],
                });
                *schema = Some(wrapped);
            }
        }
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.schemas.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, Type};
    use crate::error::ConnectError;
    use crate::transforms::test_records::{configured, map, props, sink, source};
    use std::sync::Arc;

    #[test]
    fn schemaless_key_becomes_a_one_entry_map() {
        let mut t = configured("HoistField$Key", &[("field", "magic")]);
        let mut r = sink("test", None, Value::Int32(42), None, Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(r.key, map(&[("magic", Value::Int32(42))]));
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn key_with_schema_becomes_a_struct_with_that_schema_as_its_field() {
        let mut t = configured("HoistField$Key", &[("field", "magic")]);
        let mut r = sink(
            "test",
            Some(Schema::int32()),
            Value::Int32(42),
            None,
            Value::Null,
        );
        t.apply(&mut r).unwrap();
        let schema = r.key_schema.clone().unwrap();
        assert_eq!(schema.ty(), Type::Struct);
        assert_eq!(schema.fields().len(), 1);
        assert_eq!(schema.field("magic").unwrap().schema, Schema::int32());
        let s = r.key.as_struct().unwrap();
        assert!(Arc::ptr_eq(&s.schema.0, &schema.0));
        assert_eq!(s.get("magic").unwrap(), &Value::Int32(42));
    }

    #[test]
    fn value_side_and_one_schema_object_per_input_schema() {
        let mut t = configured("HoistField$Value", &[("field", "v")]);
        let inner = SchemaBuilder::new(Type::String).optional().build();
        let mut a = source("t", None, Value::Int8(1), Some(inner.clone()), "x".into());
        let mut b = source("t", None, Value::Int8(2), Some(inner.clone()), Value::Null);
        t.apply(&mut a).unwrap();
        t.apply(&mut b).unwrap();
        let (sa, sb) = (a.value_schema.unwrap(), b.value_schema.unwrap());
        assert!(Arc::ptr_eq(&sa.0, &sb.0));
        assert_eq!(a.key, Value::Int8(1));
        assert_eq!(a.value.as_struct().unwrap().values, vec![Value::from("x")]);
        // A null of an optional schema is wrapped, not skipped.
        assert_eq!(b.value.as_struct().unwrap().values, vec![Value::Null]);
    }

    #[test]
    fn schemaless_null_is_wrapped_too() {
        let mut t = configured("HoistField$Value", &[("field", "v")]);
        let mut r = source("t", None, Value::Null, None, Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("v", Value::Null)]));
    }

    #[test]
    fn a_value_its_schema_refuses_is_an_error() {
        let mut t = configured("HoistField$Value", &[("field", "v")]);
        let mut r = source("t", None, Value::Null, Some(Schema::int32()), Value::Null);
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Invalid value: null used for required field: \"v\", schema type: INT32"
            )
        );
    }

    #[test]
    fn field_is_required() {
        let mut t = HoistField::new(Side::Value);
        assert_eq!(
            t.configure(&props(&[])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"field\" which has no default value."
            )
        );
    }
}
