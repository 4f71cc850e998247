//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames fields of a struct or
//! map (`exclude`, `include`, `renames=old:new,…`), as Connect's `ReplaceField`. `exclude`
//! wins over `include`; an empty `include` keeps every field. A null key or value passes
//! through. The new struct schema keeps the name, version, doc and parameters of the old one
//! (not its optionality or default, as in Connect), and is built once per input schema.
//!
//! Connect 4.x removed the deprecated `blacklist` / `whitelist` aliases; so does kconnect.
//! Renaming two fields to one name fails with Connect's schema builder message.

use std::sync::Arc;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::data::{Schema, SchemaBuilder, Struct, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::PluginRegistry;

use super::schema_basics::copy_schema_basics;
use super::schema_update_cache::SchemaUpdateCache;
use super::smt_config::{
    define_replace_null_with_default, java_list, java_split_colon, list, map_mut, map_put,
    register_pair, struct_mut, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that renames, keeps or drops key fields.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.ReplaceField$Key";
/// The class name of the transform that renames, keeps or drops value fields.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.ReplaceField$Value";

const EXCLUDE_CONFIG: &str = "exclude";
const INCLUDE_CONFIG: &str = "include";
const RENAMES_CONFIG: &str = "renames";
const PURPOSE: &str = "field replacement";

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(ReplaceField::new(Side::Key))),
        (VALUE_CLASS, || Box::new(ReplaceField::new(Side::Value))),
    );
}

/// `old:new` pairs, with Connect's message for anything else. A name renamed twice keeps its
/// last new name.
fn parse_renames(mappings: &[String]) -> ConnectResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for mapping in mappings {
        let [from, to] = java_split_colon(mapping)[..] else {
            return Err(ConnectError::config(format!(
                "Invalid value {} for configuration {RENAMES_CONFIG}: Invalid rename mapping: \
                 {mapping}",
                java_list(mappings)
            )));
        };
        match out.iter_mut().find(|(f, _)| f == from) {
            Some(entry) => entry.1 = to.to_string(),
            None => out.push((from.to_string(), to.to_string())),
        }
    }
    Ok(out)
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            EXCLUDE_CONFIG,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "Fields to drop. A field listed here is dropped even when include lists it.",
        )
        .define(
            INCLUDE_CONFIG,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "Fields to keep; when set, every other field is dropped.",
        )
        .define(
            RENAMES_CONFIG,
            ConfigType::List,
            Some(""),
            Some(Validator::custom(
                "list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>",
                |v| match v {
                    ParsedValue::List(items) => {
                        match items.iter().find(|m| java_split_colon(m).len() != 2) {
                            Some(bad) => Err(format!("Invalid rename mapping: {bad}")),
                            None => Ok(()),
                        }
                    }
                    _ => Ok(()),
                },
            )),
            Importance::Medium,
            "Fields to rename, as old:new pairs.",
        );
    define_replace_null_with_default(def)
}

/// Which fields to keep and how to name them.
#[derive(Debug, Default)]
struct Selection {
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
}

impl Selection {
    fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name, |(_, to)| to.as_str())
    }

    fn updated_schema(&self, schema: &Schema) -> ConnectResult<(Schema, Arc<[usize]>)> {
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        let mut sources = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            if self.keeps(&field.name) {
                b = b.field(self.renamed(&field.name), field.schema.clone());
                sources.push(index);
            }
        }
        Ok((b.try_build()?, sources.into()))
    }
}

/// The ReplaceField transform of one side of the record.
pub struct ReplaceField {
    side: Side,
    selection: Selection,
    replace_null_with_default: bool,
    /// Input schema → output schema and, per output field, the input field it comes from.
    cache: SchemaUpdateCache<(Schema, Arc<[usize]>)>,
}

impl ReplaceField {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        ReplaceField {
            side,
            selection: Selection::default(),
            replace_null_with_default: true,
            cache: SchemaUpdateCache::new(),
        }
    }

    fn apply_schemaless(&self, value: &mut Value) -> ConnectResult<()> {
        let sel = &self.selection;
        let entries = map_mut(value, PURPOSE)?;
        let mut updated = Vec::with_capacity(entries.len());
        for (k, v) in std::mem::take(entries) {
            match k {
                Value::String(name) if sel.keeps(&name) => {
                    map_put(&mut updated, sel.renamed(&name), v);
                }
                Value::String(_) => {}
                // Not a field name: kept only when nothing is singled out by name.
                other if sel.include.is_empty() => updated.push((other, v)),
                _ => {}
            }
        }
        *entries = updated;
        Ok(())
    }

    fn apply_with_schema(
        &mut self,
        schema_slot: &mut Option<Schema>,
        value: &mut Value,
    ) -> ConnectResult<()> {
        let Struct { schema, values } = struct_mut(value, PURPOSE)?;
        let sel = &self.selection;
        let (updated, sources) = self
            .cache
            .get_or_build_ref(schema, || sel.updated_schema(schema))?;
        // The kept values move down into place, in order (each source index is at least its
        // output index, and they increase), and the rest are dropped: no new vector.
        let fields = schema.fields();
        if values.len() != fields.len() {
            values.resize(fields.len(), Value::Null);
        }
        for (out, &i) in sources.iter().enumerate() {
            if out != i {
                values.swap(out, i);
            }
            let v = &mut values[out];
            if v.is_null() && self.replace_null_with_default {
                if let Some(d) = fields[i].schema.default_value() {
                    *v = d.clone();
                }
            }
        }
        values.truncate(sources.len());
        *schema = updated.clone();
        *schema_slot = Some(updated.clone());
        Ok(())
    }
}

impl Transformation for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        // Connect's validator message, before ConfigDef's generic wrapping of it.
        if let Some(raw) = props.get(RENAMES_CONFIG) {
            parse_renames(&list(raw))?;
        }
        let config = config_def().parse(props)?;
        self.selection = Selection {
            exclude: config.list(EXCLUDE_CONFIG)?,
            include: config.list(INCLUDE_CONFIG)?,
            renames: parse_renames(&config.list(RENAMES_CONFIG)?)?,
        };
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        if schema.is_none() {
            self.apply_schemaless(value)?;
        } else {
            self.apply_with_schema(schema, value)?;
        }
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Type;
    use crate::transforms::test_records::{configured, created, keyed_sink, map, props};

    fn schema() -> Schema {
        SchemaBuilder::struct_()
            .name("com.example.Row")
            .version(3)
            .field("dont", Schema::string())
            .field("abc", Schema::int32())
            .field("foo", Schema::boolean())
            .field("etc", Schema::string())
            .build()
    }

    fn row() -> Value {
        Value::Struct(
            Struct::new(schema())
                .unwrap()
                .with("dont", "whatever")
                .unwrap()
                .with("abc", 42)
                .unwrap()
                .with("foo", true)
                .unwrap()
                .with("etc", "etc")
                .unwrap(),
        )
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(
            r.transformation("ReplaceField$Key").unwrap().class_name,
            KEY_CLASS
        );
        assert_eq!(
            r.transformation("ReplaceField$Value").unwrap().class_name,
            VALUE_CLASS
        );
        let def = created("ReplaceField$Value").config_def();
        let names: Vec<&str> = def.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            ["exclude", "include", "renames", "replace.null.with.default"]
        );
    }

    #[test]
    fn bad_renames_fail_with_connect_s_message() {
        for bad in ["abc:xyz,foo", "a:b:c", "a:"] {
            let err = created("ReplaceField$Value")
                .configure(&props(&[("renames", bad)]))
                .unwrap_err();
            let items: Vec<String> = list(bad);
            let wrong = items
                .iter()
                .find(|m| java_split_colon(m).len() != 2)
                .unwrap();
            assert_eq!(
                err,
                ConnectError::config(format!(
                    "Invalid value {} for configuration renames: Invalid rename mapping: {wrong}",
                    java_list(&items)
                )),
                "{bad}"
            );
        }
        let def = created("ReplaceField$Value").config_def();
        let results = def.validate(&props(&[("renames", "a:b,c:d:e")]));
        let renames = results.iter().find(|v| v.name == "renames").unwrap();
        assert_eq!(
            renames.errors,
            ["Invalid value a:b,c:d:e for configuration renames: Invalid rename mapping: c:d:e"]
        );
        assert_eq!(
            created("ReplaceField$Value")
                .configure(&props(&[("renames", "a:b,c:d:e")]))
                .unwrap_err(),
            ConnectError::config(
                "Invalid value [a:b, c:d:e] for configuration renames: Invalid rename mapping: c:d:e"
            )
        );
    }

    #[test]
    fn tombstones_pass_through() {
        for schema in [None, Some(schema())] {
            let mut r = keyed_sink(None, Value::Null, schema.clone(), Value::Null);
            configured(
                "ReplaceField$Value",
                &[("include", "abc,foo"), ("renames", "abc:xyz,foo:bar")],
            )
            .apply(&mut r)
            .unwrap();
            assert_eq!(r.value, Value::Null);
            assert_eq!(r.value_schema, schema);
        }
    }

    #[test]
    fn schemaless() {
        let mut r = keyed_sink(
            None,
            Value::Null,
            None,
            map(&[
                ("dont", Value::String("whatever".into())),
                ("abc", Value::Int32(42)),
                ("foo", Value::Boolean(true)),
                ("etc", Value::String("etc".into())),
            ]),
        );
        configured(
            "ReplaceField$Value",
            &[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")],
        )
        .apply(&mut r)
        .unwrap();
        assert_eq!(
            r.value,
            map(&[
                ("xyz", Value::Int32(42)),
                ("bar", Value::Boolean(true)),
                ("etc", Value::String("etc".into())),
            ])
        );
    }

    #[test]
    fn with_schema() {
        let mut r = keyed_sink(None, Value::Null, Some(schema()), row());
        configured(
            "ReplaceField$Value",
            &[
                ("include", "abc,foo,dont"),
                ("exclude", "dont"),
                ("renames", "abc:xyz,foo:bar"),
            ],
        )
        .apply(&mut r)
        .unwrap();
        let want = SchemaBuilder::struct_()
            .name("com.example.Row")
            .version(3)
            .field("xyz", Schema::int32())
            .field("bar", Schema::boolean())
            .build();
        assert_eq!(r.value_schema, Some(want.clone()));
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new(want)
                    .unwrap()
                    .with("xyz", 42)
                    .unwrap()
                    .with("bar", true)
                    .unwrap()
            )
        );
        r.value.as_struct().unwrap().validate().unwrap();
    }

    #[test]
    fn null_fields_take_their_default_only_when_asked() {
        let schema = SchemaBuilder::struct_()
            .field(
                "abc",
                SchemaBuilder::new(Type::Int32)
                    .optional()
                    .default_value(Value::Int32(42))
                    .build(),
            )
            .build();
        for alias in ["ReplaceField$Key", "ReplaceField$Value"] {
            for (replace, want) in [("false", Value::Null), ("true", Value::Int32(42))] {
                let mut t = configured(
                    alias,
                    &[
                        ("include", "abc"),
                        ("renames", "abc:optional_with_default"),
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
                let out = if alias.ends_with("Key") {
                    &r.key
                } else {
                    &r.value
                };
                let out = out.as_struct().unwrap();
                assert_eq!(out.schema.fields().len(), 1);
                assert_eq!(
                    out.get_without_default("optional_with_default").unwrap(),
                    &want,
                    "{alias} {replace}"
                );
            }
        }
    }

    #[test]
    fn renaming_onto_an_existing_field_fails() {
        let mut r = keyed_sink(None, Value::Null, Some(schema()), row());
        assert_eq!(
            configured("ReplaceField$Value", &[("renames", "abc:etc")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data("Cannot create field because of field name duplication etc")
        );
    }

    #[test]
    fn wrong_operands_fail_with_connect_s_messages() {
        let mut r = keyed_sink(None, Value::Null, None, Value::String("x".into()));
        assert_eq!(
            configured("ReplaceField$Value", &[("exclude", "a")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [field replacement], found: \
                 java.lang.String"
            )
        );
        let mut r = keyed_sink(
            None,
            Value::Null,
            Some(Schema::string()),
            Value::String("x".into()),
        );
        assert_eq!(
            configured("ReplaceField$Value", &[("exclude", "a")])
                .apply(&mut r)
                .unwrap_err(),
            ConnectError::data(
                "Only Struct objects supported for [field replacement], found: java.lang.String"
            )
        );
    }

    #[test]
    fn one_input_schema_gets_one_output_schema() {
        let mut t = configured("ReplaceField$Value", &[("exclude", "dont")]);
        let mut out = Vec::new();
        for _ in 0..2 {
            let mut r = keyed_sink(None, Value::Null, Some(schema()), row());
            t.apply(&mut r).unwrap();
            out.push(r.value_schema.unwrap());
        }
        assert!(Arc::ptr_eq(&out[0].0, &out[1].0));
    }
}
