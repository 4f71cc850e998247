//! Which columns a record writes and where each value comes from, decided once per pair of key
//! and value schemas, as Confluent's `FieldsMetadata` does: the primary key columns from
//! `pk.mode` / `pk.fields`, then the value struct's fields filtered by `fields.whitelist`.

use std::borrow::Cow;

use crate::data::{Schema, Type, Value};
use crate::record::SinkRecord;

use super::config::{PkMode, SinkConfig, DEFAULT_KAFKA_PK_NAMES};
use super::types::{UnsupportedType, Wire};

/// Where a column's value comes from in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Topic,
    Partition,
    Offset,
    /// The whole key (a primitive key).
    Key,
    /// A field of the key struct, by index.
    KeyField(usize),
    /// A field of the value struct, by index.
    ValueField(usize),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub schema: Schema,
    pub wire: Wire,
    pub primary_key: bool,
    pub source: Source,
}

impl Column {
    /// Whether `auto.create` / `auto.evolve` make it nullable: key columns never are.
    pub fn optional(&self) -> bool {
        !self.primary_key && self.schema.is_optional()
    }

    /// This column's value in `record`; `replace_null` gives an unset field its default.
    pub fn value<'r>(&self, record: &'r SinkRecord, replace_null: bool) -> Cow<'r, Value> {
        let field = |v: &'r Value, i: usize| -> &'r Value {
            match v {
                Value::Struct(s) if replace_null => s.get_at(i),
                Value::Struct(s) => s.values.get(i).unwrap_or(&NULL),
                _ => &NULL,
            }
        };
        match self.source {
            Source::Topic => Cow::Owned(Value::String(record.topic.to_string())),
            Source::Partition => Cow::Owned(Value::Int32(record.partition)),
            Source::Offset => Cow::Owned(Value::Int64(record.offset)),
            Source::Key => Cow::Borrowed(&record.key),
            Source::KeyField(i) => Cow::Borrowed(field(&record.key, i)),
            Source::ValueField(i) => Cow::Borrowed(field(&record.value, i)),
        }
    }
}

static NULL: Value = Value::Null;

/// The columns of one pair of key and value schemas.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Primary key columns first (in key order), then the others: the order of statements.
    pub columns: Vec<Column>,
    pub keys: usize,
    /// Indexes into `columns` in the order `CREATE TABLE` lists them: Kafka coordinates, the
    /// value's fields in schema order, then any other (key) columns by name.
    pub create_order: Vec<usize>,
}

/// Why no columns could be derived: the message names the table and what is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldsError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Unsupported(#[from] UnsupportedType),
}

impl Fields {
    pub fn key_columns(&self) -> &[Column] {
        &self.columns[..self.keys]
    }

    #[cfg(test)]
    pub fn value_columns(&self) -> &[Column] {
        &self.columns[self.keys..]
    }

    /// The columns for records with these schemas (`value_schema` is `None` for tombstones).
    pub fn extract(
        table: &str,
        config: &SinkConfig,
        key_schema: Option<&Schema>,
        value_schema: Option<&Schema>,
    ) -> Result<Fields, FieldsError> {
        let err = |m: String| FieldsError::Config(m);
        if let Some(v) = value_schema {
            if v.ty() != Type::Struct {
                return Err(err(format!(
                    "Value schema must be of type Struct, but is of type {} (table '{table}')",
                    v.ty()
                )));
            }
        }
        let pk = &config.pk_fields;
        // (name, schema, source) of the key columns, in key order.
        let mut keys: Vec<(String, Schema, Source)> = Vec::new();
        match config.pk_mode {
            PkMode::None => {}
            PkMode::Kafka => {
                let names: Vec<String> = if pk.is_empty() {
                    DEFAULT_KAFKA_PK_NAMES
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    pk.clone()
                };
                keys.push((names[0].clone(), Schema::string(), Source::Topic));
                keys.push((names[1].clone(), Schema::int32(), Source::Partition));
                keys.push((names[2].clone(), Schema::int64(), Source::Offset));
            }
            PkMode::RecordKey => {
                let Some(ks) = key_schema else {
                    return Err(err(format!(
                        "PK mode for table '{table}' is RECORD_KEY, but record key schema is \
                         missing"
                    )));
                };
                if ks.ty().is_primitive() {
                    if pk.len() != 1 {
                        return Err(err(format!(
                            "Need exactly one PK column defined since the key schema for \
                             records is a primitive type, defined columns are: {pk:?}"
                        )));
                    }
                    keys.push((pk[0].clone(), ks.clone(), Source::Key));
                } else if ks.ty() == Type::Struct {
                    let names: Vec<String> = if pk.is_empty() {
                        ks.fields().iter().map(|f| f.name.clone()).collect()
                    } else {
                        pk.clone()
                    };
                    for name in names {
                        let Some(f) = ks.field(&name) else {
                            return Err(err(format!(
                                "PK mode for table '{table}' is RECORD_KEY with configured PK \
                                 fields {pk:?}, but record key schema does not contain field: \
                                 {name}"
                            )));
                        };
                        keys.push((name, f.schema.clone(), Source::KeyField(f.index)));
                    }
                } else {
                    return Err(err(format!(
                        "Key schema must be primitive type or Struct, but is of type: {}",
                        ks.ty()
                    )));
                }
            }
            PkMode::RecordValue => {
                let Some(vs) = value_schema else {
                    return Err(err(format!(
                        "PK mode for table '{table}' is RECORD_VALUE, but record value schema \
                         is missing"
                    )));
                };
                let names: Vec<String> = if pk.is_empty() {
                    vs.fields().iter().map(|f| f.name.clone()).collect()
                } else {
                    pk.clone()
                };
                for name in names {
                    let Some(f) = vs.field(&name) else {
                        return Err(err(format!(
                            "PK mode for table '{table}' is RECORD_VALUE with configured PK \
                             fields {pk:?}, but record value schema does not contain field: \
                             {name}"
                        )));
                    };
                    keys.push((name, f.schema.clone(), Source::ValueField(f.index)));
                }
            }
        }
        let mut columns = Vec::new();
        for (name, schema, source) in keys {
            columns.push(Column {
                wire: Wire::of(&name, &schema)?,
                name,
                schema,
                primary_key: true,
                source,
            });
        }
        let key_count = columns.len();
        if let Some(vs) = value_schema {
            let whitelist = &config.fields_whitelist;
            for f in vs.fields() {
                if columns[..key_count].iter().any(|c| c.name == f.name) {
                    continue;
                }
                if !whitelist.is_empty() && !whitelist.contains(&f.name) {
                    continue;
                }
                columns.push(Column {
                    wire: Wire::of(&f.name, &f.schema)?,
                    name: f.name.clone(),
                    schema: f.schema.clone(),
                    primary_key: false,
                    source: Source::ValueField(f.index),
                });
            }
        }
        if columns.is_empty() {
            return Err(err(format!(
                "No fields found using key and value schemas for table: {table}"
            )));
        }
        let mut create_order: Vec<usize> = Vec::new();
        for name in DEFAULT_KAFKA_PK_NAMES {
            if let Some(i) = columns.iter().position(|c| c.name == name) {
                create_order.push(i);
            }
        }
        if let Some(vs) = value_schema {
            for f in vs.fields() {
                if let Some(i) = columns.iter().position(|c| c.name == f.name) {
                    if !create_order.contains(&i) {
                        create_order.push(i);
                    }
                }
            }
        }
        let mut rest: Vec<usize> = (0..columns.len())
            .filter(|i| !create_order.contains(i))
            .collect();
        rest.sort_by(|a, b| columns[*a].name.cmp(&columns[*b].name));
        create_order.extend(rest);
        Ok(Fields {
            columns,
            keys: key_count,
            create_order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::testutil::props;
    use crate::data::{SchemaBuilder, Struct};
    use crate::record::TimestampType;

    fn config(pairs: &[(&str, &str)]) -> SinkConfig {
        let mut p = props(&[("connection.url", "postgres://h/d")]);
        p.extend(props(pairs));
        SinkConfig::parse(&p).unwrap()
    }

    fn value_schema() -> Schema {
        SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("name", Schema::optional_string())
            .field("qty", Schema::int32())
            .build()
    }

    fn key_schema() -> Schema {
        SchemaBuilder::struct_()
            .field("region", Schema::string())
            .field("id", Schema::int64())
            .build()
    }

    fn names(f: &Fields) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
        (
            f.key_columns().iter().map(|c| c.name.as_str()).collect(),
            f.value_columns().iter().map(|c| c.name.as_str()).collect(),
            f.create_order
                .iter()
                .map(|i| f.columns[*i].name.as_str())
                .collect(),
        )
    }

    #[test]
    fn none_writes_every_value_field_or_the_whitelisted_ones() {
        let f = Fields::extract("t", &config(&[]), None, Some(&value_schema())).unwrap();
        assert_eq!(
            names(&f),
            (vec![], vec!["id", "name", "qty"], vec!["id", "name", "qty"])
        );
        let f = Fields::extract(
            "t",
            &config(&[("fields.whitelist", "qty,id")]),
            None,
            Some(&value_schema()),
        )
        .unwrap();
        assert_eq!(names(&f).1, vec!["id", "qty"]);
    }

    #[test]
    fn kafka_keys_come_first_with_their_types() {
        let f = Fields::extract(
            "t",
            &config(&[("pk.mode", "kafka")]),
            None,
            Some(&value_schema()),
        )
        .unwrap();
        let (k, v, create) = names(&f);
        assert_eq!(k, DEFAULT_KAFKA_PK_NAMES.to_vec());
        assert_eq!(v, vec!["id", "name", "qty"]);
        assert_eq!(create[..3], DEFAULT_KAFKA_PK_NAMES);
        let wires: Vec<Wire> = f.key_columns().iter().map(|c| c.wire).collect();
        assert_eq!(wires, vec![Wire::Text, Wire::Int4, Wire::Int8]);
        let f = Fields::extract(
            "t",
            &config(&[("pk.mode", "kafka"), ("pk.fields", "t,p,o")]),
            None,
            Some(&value_schema()),
        )
        .unwrap();
        // Custom names are not Confluent's defaults: CREATE lists them after the value's fields.
        assert_eq!(names(&f).2, vec!["id", "name", "qty", "o", "p", "t"]);
    }

    #[test]
    fn record_key_struct_fields_or_a_primitive_key() {
        let c = config(&[("pk.mode", "record_key")]);
        let f = Fields::extract("t", &c, Some(&key_schema()), Some(&value_schema())).unwrap();
        let (k, v, create) = names(&f);
        assert_eq!(k, vec!["region", "id"]);
        // The value's `id` is the key's: written once, from the key.
        assert_eq!(v, vec!["name", "qty"]);
        assert_eq!(create, vec!["id", "name", "qty", "region"]);
        assert_eq!(f.columns[1].source, Source::KeyField(1));

        let c = config(&[("pk.mode", "record_key"), ("pk.fields", "k")]);
        let f = Fields::extract("t", &c, Some(&Schema::int64()), Some(&value_schema())).unwrap();
        assert_eq!(f.columns[0].source, Source::Key);
        assert_eq!(names(&f).0, vec!["k"]);

        let c = config(&[("pk.mode", "record_key")]);
        let e =
            Fields::extract("t", &c, Some(&Schema::int64()), Some(&value_schema())).unwrap_err();
        assert!(
            e.to_string().starts_with("Need exactly one PK column"),
            "{e}"
        );
        let e = Fields::extract("t", &c, None, Some(&value_schema())).unwrap_err();
        assert!(
            e.to_string().contains("record key schema is missing"),
            "{e}"
        );
        let c = config(&[("pk.mode", "record_key"), ("pk.fields", "nope")]);
        let e = Fields::extract("t", &c, Some(&key_schema()), Some(&value_schema())).unwrap_err();
        assert!(
            e.to_string().ends_with("does not contain field: nope"),
            "{e}"
        );
    }

    #[test]
    fn record_value_keys_are_value_fields() {
        let c = config(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
        let f = Fields::extract("t", &c, None, Some(&value_schema())).unwrap();
        assert_eq!(names(&f).0, vec!["id"]);
        assert_eq!(names(&f).1, vec!["name", "qty"]);
        assert!(!f.columns[0].optional());
        assert!(f.columns[1].optional());
    }

    #[test]
    fn a_struct_field_is_refused_naming_it() {
        let vs = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("address", SchemaBuilder::struct_().build())
            .build();
        let e = Fields::extract("t", &config(&[]), None, Some(&vs)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("field 'address' has schema type STRUCT"),
            "{e}"
        );
        let e = Fields::extract("t", &config(&[]), None, Some(&Schema::string())).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Value schema must be of type Struct"),
            "{e}"
        );
    }

    #[test]
    fn values_come_from_their_source_with_defaults() {
        let vs = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field(
                "n",
                SchemaBuilder::new(Type::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let value = Struct::new(vs.clone()).unwrap().with("id", 9i64).unwrap();
        let record = SinkRecord {
            topic: "orders".into(),
            partition: 3,
            offset: 42,
            timestamp: None,
            timestamp_type: TimestampType::NoTimestampType,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(vs.clone()),
            value: Value::Struct(value),
            headers: Vec::new(),
        };
        let f = Fields::extract("t", &config(&[("pk.mode", "kafka")]), None, Some(&vs)).unwrap();
        let got: Vec<Value> = f
            .columns
            .iter()
            .map(|c| c.value(&record, true).into_owned())
            .collect();
        assert_eq!(
            got,
            vec![
                Value::String("orders".into()),
                Value::Int32(3),
                Value::Int64(42),
                Value::Int64(9),
                Value::Int32(5)
            ]
        );
        assert_eq!(*f.columns[4].value(&record, false), Value::Null);
    }
}
