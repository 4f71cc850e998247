//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies or moves fields of the key or value into
//! headers (`fields`, `headers` in the same order, `operation=copy|move`), as Connect's
//! `HeaderFrom`. Headers are appended, after any of the same name. With a schema the header
//! gets the field's schema, and `move` drops the fields from the struct schema (built once per
//! input schema; like Connect, that schema keeps the name, version, doc and parameters but not
//! the optionality or default of the original).
//!
//! Beyond Connect 4.x: `field.syntax.version` (default `V1`, Connect's behaviour); with `V2`,
//! `fields` are nested paths (KIP-821) and `move` removes the nested fields.
//!
//! Deviation from Connect: a field missing from the schema fails with
//! `Unknown field: <field>`, where Connect fails with a `NullPointerException`.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::{Field, Schema, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::record::Header;
use crate::registry::PluginRegistry;

use super::field_path::{FieldPaths, FieldSyntaxVersion, FieldUpdate};
use super::schema_update_cache::SchemaUpdateCache;
use super::smt_config::{
    check_non_empty_lists, define_replace_null_with_default, map_mut, non_empty_list,
    register_pair, struct_mut, REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::{require_map, require_struct};
use super::{ConnectRecord, Outcome, Side, Transformation};

/// The class name of the transform that copies or moves key fields to headers.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.HeaderFrom$Key";
/// The class name of the transform that copies or moves value fields to headers.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.HeaderFrom$Value";

const FIELDS_CONFIG: &str = "fields";
const HEADERS_CONFIG: &str = "headers";
const OPERATION_CONFIG: &str = "operation";

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(HeaderFrom::new(Side::Key))),
        (VALUE_CLASS, || Box::new(HeaderFrom::new(Side::Value))),
    );
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            FIELDS_CONFIG,
            ConfigType::List,
            None,
            Some(non_empty_list()),
            Importance::High,
            "The fields whose values go into headers.",
        )
        .define(
            HEADERS_CONFIG,
            ConfigType::List,
            None,
            Some(non_empty_list()),
            Importance::High,
            "The header names, one per field, in the order of fields.",
        )
        .define(
            OPERATION_CONFIG,
            ConfigType::String,
            None,
            Some(Validator::one_of(&["move", "copy"])),
            Importance::High,
            "move: the fields leave the key or value for the headers; copy: they stay.",
        );
    FieldSyntaxVersion::define(define_replace_null_with_default(def))
}

/// Removes every field a path reaches.
struct Remove;

impl FieldUpdate for Remove {
    fn schema(&mut self, _: usize, _: &Field) -> ConnectResult<Option<Schema>> {
        Ok(None)
    }
    fn value(&mut self, _: usize, _: &Field, value: Value) -> ConnectResult<Value> {
        Ok(value)
    }
}

/// The HeaderFrom transform of one side of the record.
pub struct HeaderFrom {
    side: Side,
    paths: FieldPaths,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
    cache: SchemaUpdateCache,
}

impl HeaderFrom {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        HeaderFrom {
            side,
            paths: FieldPaths::new(Vec::new()),
            headers: Vec::new(),
            moving: false,
            replace_null_with_default: true,
            cache: SchemaUpdateCache::new(),
        }
    }

    /// `header move` / `header copy`, as Connect names the operand's purpose.
    fn purpose(&self) -> &'static str {
        if self.moving {
            "header move"
        } else {
            "header copy"
        }
    }

    /// The headers to add, read from the operand before any field moves.
    fn headers_from(&self, schema: Option<&Schema>, value: &Value) -> ConnectResult<Vec<Header>> {
        let mut out = Vec::with_capacity(self.headers.len());
        for (path, key) in self.paths.paths().iter().zip(&self.headers) {
            let (schema, value) = match schema {
                None => {
                    let entries = require_map(value, self.purpose())?;
                    (None, path.value_from_map(entries)?)
                }
                Some(schema) => {
                    let s = require_struct(value, self.purpose())?;
                    let field = path.field_from(schema)?.ok_or_else(|| {
                        ConnectError::data(format!("Unknown field: {}", path.text()))
                    })?;
                    (
                        Some(field.schema.clone()),
                        path.value_from_struct(s, self.replace_null_with_default)?,
                    )
                }
            };
            out.push(Header {
                key: key.clone(),
                schema,
                value: value.cloned().unwrap_or(Value::Null),
            });
        }
        Ok(out)
    }

    fn move_fields(
        &mut self,
        schema_slot: &mut Option<Schema>,
        value: &mut Value,
    ) -> ConnectResult<()> {
        match schema_slot {
            None => {
                let entries = map_mut(value, self.purpose())?;
                for path in self.paths.paths() {
                    if let Some((parent, last)) = path.parent_map_mut(entries)? {
                        parent.retain(|(k, _)| k.as_str() != Some(last));
                    }
                }
            }
            Some(schema) => {
                let paths = &self.paths;
                let moved = self.cache.get_or_build(schema, || {
                    Ok(paths.update_schema(schema, &mut Remove)?.build())
                })?;
                let s = struct_mut(value, "header move")?;
                let old = std::mem::replace(
                    s,
                    crate::data::Struct {
                        schema: moved.clone(),
                        values: Vec::new(),
                    },
                );
                *s = paths.update_struct(
                    old,
                    &moved,
                    &mut Remove,
                    self.replace_null_with_default,
                )?;
                *schema_slot = Some(moved);
            }
        }
        Ok(())
    }
}

impl Transformation for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        check_non_empty_lists(props, &[FIELDS_CONFIG, HEADERS_CONFIG])?;
        let config = config_def().parse(props)?;
        let fields = config.list(FIELDS_CONFIG)?;
        let headers = config.list(HEADERS_CONFIG)?;
        if fields.len() != headers.len() {
            return Err(ConnectError::config(format!(
                "'{FIELDS_CONFIG}' config must have the same number of elements as \
                 '{HEADERS_CONFIG}' config."
            )));
        }
        let version = FieldSyntaxVersion::from_config(&config)?;
        self.paths = FieldPaths::parse(&fields, version)?;
        self.headers = headers;
        self.moving = config.string(OPERATION_CONFIG)? == "move";
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let side = self.side;
        let headers = self.headers_from(side.schema(record), side.value(record))?;
        if self.moving {
            let (schema, value) = side.get_mut(record);
            self.move_fields(schema, value)?;
        }
        record.headers_mut().extend(headers);
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Struct, Type};
    use crate::record::SourceRecord;
    use crate::transforms::test_records::{configured, created, map, props, value_source};

    /// A record whose key or value has some fields, and some headers.
    #[derive(Clone, Default)]
    struct Builder {
        fields: Vec<(&'static str, Schema, Value)>,
        headers: Vec<(&'static str, Schema, Value)>,
    }

    impl Builder {
        fn field(mut self, name: &'static str, schema: Schema, value: impl Into<Value>) -> Self {
            self.fields.push((name, schema, value.into()));
            self
        }
        fn header(mut self, name: &'static str, schema: Schema, value: impl Into<Value>) -> Self {
            self.headers.push((name, schema, value.into()));
            self
        }

        fn record(&self, key: bool, with_schema: bool) -> SourceRecord {
            let (schema, value) = if with_schema {
                let mut b = SchemaBuilder::struct_();
                for (n, s, _) in &self.fields {
                    b = b.field(*n, s.clone());
                }
                let schema = b.build();
                let mut s = Struct::new(schema.clone()).unwrap();
                for (n, _, v) in &self.fields {
                    s.put(n, v.clone()).unwrap();
                }
                (Some(schema), Value::Struct(s))
            } else {
                let entries: Vec<(&str, Value)> = self
                    .fields
                    .iter()
                    .map(|(n, _, v)| (*n, v.clone()))
                    .collect();
                (None, map(&entries))
            };
            let mut r = value_source(None, Value::String("value".into()));
            r.key = Value::String("key".into());
            if key {
                r.key_schema = schema;
                r.key = value;
            } else {
                r.value_schema = schema;
                r.value = value;
            }
            r.headers = self
                .headers
                .iter()
                .map(|(n, s, v)| Header {
                    key: n.to_string(),
                    // Schemaless records carry schemaless headers.
                    schema: with_schema.then(|| s.clone()),
                    value: v.clone(),
                })
                .collect();
            r
        }
    }

    fn string(v: &str) -> Value {
        Value::String(v.into())
    }

    fn optional_with_default() -> Schema {
        SchemaBuilder::new(Type::String)
            .optional()
            .default_value(string("default"))
            .build()
    }

    /// Connect's HeaderFromTest cases: description, original, fields, headers, operation,
    /// replace.null.with.default, expected.
    fn cases() -> Vec<(
        &'static str,
        Builder,
        &'static str,
        &'static str,
        &'static str,
        bool,
        Builder,
    )> {
        let s = Schema::string;
        let base = Builder::default()
            .field("field1", s(), "field1-value")
            .field("field2", s(), "field2-value");
        let inner = SchemaBuilder::struct_().field("foo", s()).build();
        let inner_value = Value::Struct(
            Struct::new(inner.clone())
                .unwrap()
                .with("foo", "foo-value")
                .unwrap(),
        );
        let with_struct = Builder::default()
            .field("field1", inner.clone(), inner_value.clone())
            .field("field2", s(), "field2-value")
            .header("header1", s(), "existing-value");
        let nulls = Builder::default()
            .field("field1", optional_with_default(), "field1-value")
            .field("field2", optional_with_default(), Value::Null)
            .header("header1", s(), "existing-value");
        vec![
            (
                "basic copy",
                base.clone().header("header1", s(), "existing-value"),
                "field1",
                "inserted1",
                "copy",
                true,
                base.clone()
                    .header("header1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value"),
            ),
            (
                "basic move",
                base.clone().header("header1", s(), "existing-value"),
                "field1",
                "inserted1",
                "move",
                true,
                Builder::default()
                    .field("field2", s(), "field2-value")
                    .header("header1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value"),
            ),
            (
                "copy with preexisting header",
                base.clone().header("inserted1", s(), "existing-value"),
                "field1",
                "inserted1",
                "copy",
                true,
                base.clone()
                    .header("inserted1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value"),
            ),
            (
                "move with preexisting header",
                base.clone().header("inserted1", s(), "existing-value"),
                "field1",
                "inserted1",
                "move",
                true,
                Builder::default()
                    .field("field2", s(), "field2-value")
                    .header("inserted1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value"),
            ),
            (
                "copy with struct value",
                with_struct.clone(),
                "field1",
                "inserted1",
                "copy",
                true,
                with_struct
                    .clone()
                    .header("inserted1", inner.clone(), inner_value.clone()),
            ),
            (
                "move with struct value",
                with_struct,
                "field1",
                "inserted1",
                "move",
                true,
                Builder::default()
                    .field("field2", s(), "field2-value")
                    .header("header1", s(), "existing-value")
                    .header("inserted1", inner, inner_value),
            ),
            (
                "two headers from same field",
                base.clone().header("header1", s(), "existing-value"),
                "field1,field1",
                "inserted1,inserted2",
                "move",
                true,
                Builder::default()
                    .field("field2", s(), "field2-value")
                    .header("header1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value")
                    .header("inserted2", s(), "field1-value"),
            ),
            (
                "two fields to same header",
                base.clone().header("header1", s(), "existing-value"),
                "field1,field2",
                "inserted1,inserted1",
                "move",
                true,
                Builder::default()
                    .header("header1", s(), "existing-value")
                    .header("inserted1", s(), "field1-value")
                    .header("inserted1", s(), "field2-value"),
            ),
            (
                "copy null field without default",
                nulls.clone(),
                "field1,field2",
                "inserted1,inserted2",
                "copy",
                false,
                nulls
                    .clone()
                    .header("inserted1", optional_with_default(), "field1-value")
                    .header("inserted2", optional_with_default(), Value::Null),
            ),
            (
                "move null field without default",
                nulls.clone(),
                "field1,field2",
                "inserted1,inserted2",
                "move",
                false,
                Builder::default()
                    .header("header1", s(), "existing-value")
                    .header("inserted1", optional_with_default(), "field1-value")
                    .header("inserted2", optional_with_default(), Value::Null),
            ),
        ]
    }

    #[test]
    fn null_fields_with_a_default_give_it_when_asked() {
        let nulls = Builder::default()
            .field("field1", optional_with_default(), "field1-value")
            .field("field2", optional_with_default(), Value::Null);
        let mut t = configured(
            "HeaderFrom$Value",
            &[
                ("fields", "field2"),
                ("headers", "inserted2"),
                ("operation", "copy"),
            ],
        );
        let mut r = nulls.record(false, true);
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.headers,
            vec![Header {
                key: "inserted2".into(),
                schema: Some(optional_with_default()),
                value: string("default"),
            }]
        );
        // Schemaless maps have no defaults.
        let mut r = nulls.record(false, false);
        t.apply(&mut r).unwrap();
        assert_eq!(r.headers[0].value, Value::Null);
    }

    #[test]
    fn connect_s_cases_for_key_and_value_with_and_without_schema() {
        for (what, original, fields, headers, operation, replace, expected) in cases() {
            for key in [true, false] {
                for with_schema in [true, false] {
                    let alias = if key {
                        "HeaderFrom$Key"
                    } else {
                        "HeaderFrom$Value"
                    };
                    let mut t = configured(
                        alias,
                        &[
                            ("fields", fields),
                            ("headers", headers),
                            ("operation", operation),
                            (
                                "replace.null.with.default",
                                if replace { "true" } else { "false" },
                            ),
                        ],
                    );
                    let mut r = original.record(key, with_schema);
                    t.apply(&mut r).unwrap();
                    let want = expected.record(key, with_schema);
                    assert_eq!(r, want, "{what}, key={key}, schema={with_schema}");
                }
            }
        }
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(
            r.transformation("HeaderFrom$Key").unwrap().class_name,
            KEY_CLASS
        );
        assert_eq!(
            r.transformation("HeaderFrom$Value").unwrap().class_name,
            VALUE_CLASS
        );
    }

    #[test]
    fn bad_configs_fail_with_connect_s_messages() {
        let configure = |pairs: &[(&str, &str)]| {
            created("HeaderFrom$Value")
                .configure(&props(pairs))
                .unwrap_err()
        };
        let mismatch = ConnectError::config(
            "'fields' config must have the same number of elements as 'headers' config.",
        );
        assert_eq!(
            configure(&[
                ("fields", "foo,bar"),
                ("headers", "foo"),
                ("operation", "copy")
            ]),
            mismatch
        );
        assert_eq!(
            configure(&[
                ("fields", "foo"),
                ("headers", "foo,bar"),
                ("operation", "copy")
            ]),
            mismatch
        );
        assert_eq!(
            configure(&[("fields", ""), ("headers", ""), ("operation", "copy")]),
            ConnectError::config("Invalid value [] for configuration fields: Empty list")
        );
        assert_eq!(
            configure(&[("fields", "a"), ("headers", "a"), ("operation", "swap")]),
            ConnectError::config(
                "Invalid value swap for configuration operation: String must be one of: move, copy"
            )
        );
        assert_eq!(
            configure(&[("fields", "a"), ("headers", "a")]),
            ConnectError::config(
                "Missing required configuration \"operation\" which has no default value."
            )
        );
    }

    #[test]
    fn wrong_operands_fail_with_connect_s_messages() {
        let mut t = configured(
            "HeaderFrom$Value",
            &[("fields", "a"), ("headers", "a"), ("operation", "move")],
        );
        let mut r = value_source(
            Some(SchemaBuilder::struct_().optional().build()),
            Value::Null,
        );
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Only Struct objects supported for [header move], found: null")
        );
        let mut t = configured(
            "HeaderFrom$Value",
            &[("fields", "a"), ("headers", "a"), ("operation", "copy")],
        );
        let mut r = value_source(None, Value::Int64(1));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [header copy], found: \
                 java.lang.Long"
            )
        );
        let schema = SchemaBuilder::struct_().field("b", Schema::int32()).build();
        let mut r = value_source(
            Some(schema.clone()),
            Value::Struct(Struct::new(schema).unwrap().with("b", 1).unwrap()),
        );
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data("Unknown field: a")
        );
    }

    #[test]
    fn nested_fields_move_with_v2() {
        let inner = SchemaBuilder::struct_()
            .field("b", Schema::int32())
            .field("c", Schema::int32())
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .name("com.example.Outer")
            .field("a", inner.clone())
            .field("d", Schema::int32())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with(
                "a",
                Struct::new(inner)
                    .unwrap()
                    .with("b", 1)
                    .unwrap()
                    .with("c", 2)
                    .unwrap(),
            )
            .unwrap()
            .with("d", 3)
            .unwrap();
        let mut t = configured(
            "HeaderFrom$Value",
            &[
                ("fields", "a.b,d"),
                ("headers", "hb,hd"),
                ("operation", "move"),
                ("field.syntax.version", "V2"),
            ],
        );
        let mut r = value_source(Some(schema), Value::Struct(value));
        t.apply(&mut r).unwrap();
        let moved_inner = SchemaBuilder::struct_()
            .field("c", Schema::int32())
            .optional()
            .build();
        let want_schema = SchemaBuilder::struct_()
            .name("com.example.Outer")
            .field("a", moved_inner.clone())
            .build();
        assert_eq!(r.value_schema, Some(want_schema.clone()));
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new(want_schema)
                    .unwrap()
                    .with("a", Struct::new(moved_inner).unwrap().with("c", 2).unwrap())
                    .unwrap()
            )
        );
        assert_eq!(
            r.headers,
            vec![
                Header {
                    key: "hb".into(),
                    schema: Some(Schema::int32()),
                    value: Value::Int32(1)
                },
                Header {
                    key: "hd".into(),
                    schema: Some(Schema::int32()),
                    value: Value::Int32(3)
                },
            ]
        );

        // Schemaless.
        let mut r = value_source(
            None,
            map(&[
                ("a", map(&[("b", Value::Int32(1)), ("c", Value::Int32(2))])),
                ("d", Value::Int32(3)),
            ]),
        );
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("a", map(&[("c", Value::Int32(2))]))]));
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.headers[0].value, Value::Int32(1));
        assert_eq!(r.headers[0].schema, None);
    }
}
