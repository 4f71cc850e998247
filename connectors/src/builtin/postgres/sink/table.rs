//! Destination tables: their names, what the server says they hold, and the DDL of
//! `auto.create` and `auto.evolve` (Confluent's `DbStructure`).
//!
//! Names are always quoted (Confluent's default `quote.sql.identifiers=always`): the topic
//! `Orders` is written to the table `"Orders"`, case kept.

use std::fmt;

use tokio_postgres::GenericClient;

use super::fields::{Column, Fields};
use super::types::literal;

/// A schema-qualified table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableId {
    pub schema: String,
    pub table: String,
}

/// Quotes an identifier (doubling the quotes in it).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name that `table.name.format` (or `exactly.once.offsets.table`) made and that does
/// not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{0}' is not a valid table name")]
pub struct InvalidTableName(pub String);

impl TableId {
    /// Parses `table`, `schema.table` or `database.schema.table` (the database, which a
    /// PostgreSQL connection cannot change, is dropped); parts may be quoted (`"a.b"`). A name
    /// without a schema is in `default_schema` (the connection's `current_schema()`).
    pub fn parse(name: &str, default_schema: &str) -> Result<TableId, InvalidTableName> {
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = name.trim().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = !quoted,
                '.' if !quoted => parts.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        parts.push(cur);
        if quoted || parts.iter().any(String::is_empty) || parts.len() > 3 {
            return Err(InvalidTableName(name.to_string()));
        }
        let table = parts.pop().expect("one part at least");
        let schema = parts.pop().unwrap_or_else(|| default_schema.to_string());
        Ok(TableId { schema, table })
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", ident(&self.schema), ident(&self.table))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Table,
    View,
    Other,
}

impl TableKind {
    fn name(self) -> &'static str {
        match self {
            TableKind::Table => "TABLE",
            TableKind::View => "VIEW",
            TableKind::Other => "RELATION",
        }
    }
}

/// A column as the server has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    /// `pg_type.typname`: `int4`, `varchar`, `jsonb`, …
    pub type_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub kind: TableKind,
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    /// The column for a field: the same name, else the only one equal ignoring case (as
    /// Confluent's `DbStructure` matches them).
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            let mut same = self
                .columns
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(name));
            match (same.next(), same.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        })
    }
}

/// Reads a table's definition; `None` when there is no such relation.
pub async fn load(
    client: &impl GenericClient,
    id: &TableId,
) -> Result<Option<TableDef>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relkind::text, a.attname::text, t.typname::text \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE n.nspname = $1 AND c.relname = $2 \
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             ORDER BY a.attnum",
            &[&id.schema, &id.table],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let kind = match first.get::<_, String>(0).as_str() {
        "r" | "p" => TableKind::Table,
        "v" | "m" => TableKind::View,
        _ => TableKind::Other,
    };
    let columns = rows
        .iter()
        .filter_map(|r| {
            Some(ColumnDef {
                name: r.get::<_, Option<String>>(1)?,
                type_name: r.get::<_, Option<String>>(2).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Some(TableDef { kind, columns }))
}

/// A table cannot be created or changed to hold the records (Confluent's
/// `TableAlterOrCreateException`): the task fails, or skips the records under
/// `errors.tolerance=all`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

fn column_spec(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.wire.ddl_type());
    match c.schema.default_value().and_then(literal) {
        Some(default) if default != "NULL" => {
            s.push_str(" DEFAULT ");
            s.push_str(&default);
        }
        _ if c.optional() => s.push_str(" NULL"),
        _ => s.push_str(" NOT NULL"),
    }
    s
}

/// `CREATE TABLE` for `fields`, key columns as the primary key.
pub fn create_sql(id: &TableId, fields: &Fields) -> String {
    let specs: Vec<String> = fields
        .create_order
        .iter()
        .map(|i| format!("\n{}", column_spec(&fields.columns[*i])))
        .collect();
    let mut sql = format!("CREATE TABLE {id} ({}", specs.join(","));
    let keys: Vec<String> = fields
        .key_columns()
        .iter()
        .map(|c| ident(&c.name))
        .collect();
    if !keys.is_empty() {
        sql.push_str(&format!(",\nPRIMARY KEY({})", keys.join(",")));
    }
    sql.push(')');
    sql
}

/// The `ALTER TABLE` that adds `fields`' columns `def` lacks, `None` when it lacks none.
/// Errors (the table's kind, a required field without default, `auto.evolve=false`) follow
/// Confluent's `DbStructure.amendIfNecessary`.
pub fn evolve_sql(
    id: &TableId,
    def: &TableDef,
    fields: &Fields,
    auto_evolve: bool,
) -> Result<Option<String>, TableError> {
    let missing: Vec<&Column> = fields
        .create_order
        .iter()
        .map(|i| &fields.columns[*i])
        .filter(|c| def.column(&c.name).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
    if def.kind != TableKind::Table {
        return Err(TableError(format!(
            "{} {id} is missing fields {names:?} and ALTER {} is unsupported",
            def.kind.name(),
            def.kind.name()
        )));
    }
    if let Some(c) = missing
        .iter()
        .find(|c| !c.optional() && c.schema.default_value().is_none())
    {
        return Err(TableError(format!(
            "Cannot ALTER TABLE {id} to add missing field '{}', as the field is not optional \
             and does not have a default value",
            c.name
        )));
    }
    if !auto_evolve {
        return Err(TableError(format!(
            "Table {id} is missing fields {names:?} and auto-evolution is disabled"
        )));
    }
    let adds: Vec<String> = missing
        .iter()
        .map(|c| format!("\nADD {}", column_spec(c)))
        .collect();
    Ok(Some(format!("ALTER TABLE {id} {}", adds.join(","))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::postgres::sink::config::SinkConfig;
    use crate::builtin::testutil::props;
    use crate::data::{Schema, SchemaBuilder, Type, Value};

    #[test]
    fn names_parse_with_schemas_and_quotes() {
        let t = TableId::parse("orders", "public").unwrap();
        assert_eq!((t.schema.as_str(), t.table.as_str()), ("public", "orders"));
        assert_eq!(t.to_string(), "\"public\".\"orders\"");
        let t = TableId::parse("sales.Orders", "public").unwrap();
        assert_eq!((t.schema.as_str(), t.table.as_str()), ("sales", "Orders"));
        let t = TableId::parse("db.\"my.schema\".\"a\"\"b\"", "public").unwrap();
        assert_eq!((t.schema.as_str(), t.table.as_str()), ("my.schema", "a\"b"));
        assert_eq!(t.to_string(), "\"my.schema\".\"a\"\"b\"");
        for bad in ["a..b", "\"open", "a.b.c.d", ""] {
            assert!(TableId::parse(bad, "public").is_err(), "{bad}");
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut p = props(&[("connection.url", "postgres://h/d")]);
        p.extend(props(pairs));
        let config = SinkConfig::parse(&p).unwrap();
        let vs = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("name", Schema::optional_string())
            .field(
                "qty",
                SchemaBuilder::new(Type::Int32)
                    .default_value(Value::Int32(1))
                    .build(),
            )
            .build();
        Fields::extract("t", &config, None, Some(&vs)).unwrap()
    }

    #[test]
    fn create_lists_columns_with_nullability_defaults_and_the_key() {
        let id = TableId::parse("t", "public").unwrap();
        let f = fields(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
        assert_eq!(
            create_sql(&id, &f),
            "CREATE TABLE \"public\".\"t\" (\n\"id\" BIGINT NOT NULL,\n\"name\" TEXT NULL,\n\
             \"qty\" INT DEFAULT 1,\nPRIMARY KEY(\"id\"))"
        );
    }

    fn def(columns: &[&str]) -> TableDef {
        TableDef {
            kind: TableKind::Table,
            columns: columns
                .iter()
                .map(|c| ColumnDef {
                    name: c.to_string(),
                    type_name: "text".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn evolve_adds_optional_or_defaulted_columns_only_when_allowed() {
        let id = TableId::parse("t", "public").unwrap();
        let f = fields(&[]);
        assert_eq!(
            evolve_sql(&id, &def(&["id", "NAME", "qty"]), &f, false),
            Ok(None)
        );
        assert_eq!(
            evolve_sql(&id, &def(&["id"]), &f, true).unwrap().unwrap(),
            "ALTER TABLE \"public\".\"t\" \nADD \"name\" TEXT NULL,\nADD \"qty\" INT DEFAULT 1"
        );
        let e = evolve_sql(&id, &def(&["id"]), &f, false).unwrap_err();
        assert_eq!(
            e.0,
            "Table \"public\".\"t\" is missing fields [\"name\", \"qty\"] and auto-evolution \
             is disabled"
        );
        let e = evolve_sql(&id, &def(&["name"]), &f, true).unwrap_err();
        assert!(
            e.0.contains("add missing field 'id', as the field is not optional"),
            "{e}"
        );
        let mut view = def(&["id"]);
        view.kind = TableKind::View;
        let e = evolve_sql(&id, &view, &f, true).unwrap_err();
        assert!(e.0.contains("ALTER VIEW is unsupported"), "{e}");
    }
}
