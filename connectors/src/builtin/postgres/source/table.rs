//! Table names: how they are quoted in SQL and in task configs, and the source partitions a
//! table's offsets are stored under.
//!
//! Confluent's PostgreSQL dialect names a table by schema and name only (it drops the database,
//! which only echoes the one the connection is to), so the source partition of a table is
//! `{"protocol": "1", "table": "public.users"}`, and bulk mode's (an older protocol) is
//! `{"table": "users"}`. Offsets are looked up under the current form first, then under
//! `{"protocol": "1", "table": "<database>.public.users"}` (written by connector versions that
//! kept the database pgjdbc 42.7.5+ reports), then under the unqualified form.

use std::fmt;

use serde_json::json;
use thiserror::Error;

use crate::record::OffsetMap;

/// `"table"`: the source partition key naming a table (`TABLE_NAME_KEY`).
pub const TABLE_KEY: &str = "table";
/// `"protocol"`: the offset protocol version key.
pub const PROTOCOL_KEY: &str = "protocol";
pub const PROTOCOL_V1: &str = "1";
/// Query mode's source partition: `{"query": "query"}`.
pub const QUERY_KEY: &str = "query";

/// How identifiers are written in SQL (`quote.sql.identifiers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Always,
    Never,
}

impl Quoting {
    pub fn parse(s: &str) -> Option<Quoting> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => Some(Quoting::Always),
            "never" => Some(Quoting::Never),
            _ => None,
        }
    }

    /// One identifier: `"na""me"` (quotes doubled), or as it is.
    pub fn ident(self, name: &str) -> String {
        match self {
            Quoting::Always => format!("\"{}\"", name.replace('"', "\"\"")),
            Quoting::Never => name.to_string(),
        }
    }
}

/// A table: its schema (absent: found through the search path) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// The table's schema, if named.
    pub schema: Option<String>,
    /// The table's name.
    pub name: String,
}

impl TableId {
    /// The table `schema.name`.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> TableId {
        TableId {
            schema: Some(schema.into()),
            name: name.into(),
        }
    }

    /// `schema.name` without quotes: how the table is named in partitions, regexes and logs.
    pub fn unquoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The table in SQL.
    pub fn sql(&self, quoting: Quoting) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quoting.ident(s), quoting.ident(&self.name)),
            None => quoting.ident(&self.name),
        }
    }

    /// The partition of a table's offsets in incremental modes (protocol 1).
    pub fn partition(&self) -> OffsetMap {
        v1(&self.unquoted())
    }

    /// The partition of bulk mode, and of offsets from before protocol 1.
    pub fn unqualified_partition(&self) -> OffsetMap {
        as_map(json!({ TABLE_KEY: self.name }))
    }

    /// Every partition the table's committed offset may be under, the current one first.
    pub fn offset_partitions(&self, database: &str) -> Vec<OffsetMap> {
        let mut out = vec![self.partition()];
        if !database.is_empty() {
            out.push(v1(&format!("{database}.{}", self.unquoted())));
        }
        out.push(self.unqualified_partition());
        out
    }

    /// Parses one table as the connector writes it into a task's `tables`: `"schema"."name"`,
    /// `schema.name` or `name`; a leading database (`db.schema.name`) is dropped.
    pub fn parse(text: &str) -> Result<TableId, TableNameError> {
        let parts = split_outside_quotes(text.trim(), '.')
            .into_iter()
            .map(|p| unquote(p.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        match parts.as_slice() {
            [name] if !name.is_empty() => Ok(TableId {
                schema: None,
                name: name.clone(),
            }),
            [schema, name] | [_, schema, name] if !name.is_empty() => {
                Ok(TableId::new(schema.clone(), name.clone()))
            }
            _ => Err(TableNameError::NotATable(text.to_string())),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unquoted())
    }
}

/// Why a task's `tables` value does not name tables.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TableNameError {
    #[error("'{0}' is not a table name")]
    NotATable(String),
    #[error("unbalanced quotes in '{0}'")]
    UnbalancedQuotes(String),
}

fn v1(table: &str) -> OffsetMap {
    as_map(json!({ PROTOCOL_KEY: PROTOCOL_V1, TABLE_KEY: table }))
}

/// Query mode's source partition.
pub fn query_partition() -> OffsetMap {
    as_map(json!({ QUERY_KEY: QUERY_KEY }))
}

fn as_map(v: serde_json::Value) -> OffsetMap {
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// The tables of a task's `tables` key, comma-separated (commas inside quotes kept).
pub fn parse_table_list(text: &str) -> Result<Vec<TableId>, TableNameError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    split_outside_quotes(text, ',')
        .into_iter()
        .map(TableId::parse)
        .collect()
}

/// The tables as a task's `tables` value: quoted with `quoting`, comma-separated (Confluent's
/// `ExpressionBuilder` list).
pub fn format_table_list(tables: &[TableId], quoting: Quoting) -> String {
    tables
        .iter()
        .map(|t| t.sql(quoting))
        .collect::<Vec<_>>()
        .join(",")
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out
}

fn unquote(part: &str) -> Result<String, TableNameError> {
    match part.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .map(|inner| inner.replace("\"\"", "\""))
            .ok_or_else(|| TableNameError::UnbalancedQuotes(part.to_string())),
        None => Ok(part.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_have_confluents_shapes() {
        let t = TableId::new("public", "users");
        assert_eq!(
            serde_json::Value::Object(t.partition()),
            json!({"protocol": "1", "table": "public.users"})
        );
        assert_eq!(
            serde_json::Value::Object(t.unqualified_partition()),
            json!({"table": "users"})
        );
        let all: Vec<_> = t
            .offset_partitions("shop")
            .into_iter()
            .map(serde_json::Value::Object)
            .collect();
        assert_eq!(
            all,
            vec![
                json!({"protocol": "1", "table": "public.users"}),
                json!({"protocol": "1", "table": "shop.public.users"}),
                json!({"table": "users"}),
            ]
        );
        assert_eq!(
            serde_json::Value::Object(query_partition()),
            json!({"query": "query"})
        );
    }

    #[test]
    fn quoting_doubles_quotes_and_never_leaves_names_alone() {
        let t = TableId::new("my schema", "we\"ird");
        assert_eq!(t.sql(Quoting::Always), "\"my schema\".\"we\"\"ird\"");
        assert_eq!(TableId::new("public", "t").sql(Quoting::Never), "public.t");
    }

    #[test]
    fn task_table_lists_round_trip() {
        let tables = vec![
            TableId::new("public", "a"),
            TableId::new("s.x", "b,c"),
            TableId::new("public", "q\"uote"),
        ];
        let text = format_table_list(&tables, Quoting::Always);
        assert_eq!(
            text,
            "\"public\".\"a\",\"s.x\".\"b,c\",\"public\".\"q\"\"uote\""
        );
        assert_eq!(parse_table_list(&text).unwrap(), tables);
        assert_eq!(
            parse_table_list("public.a, b").unwrap(),
            vec![
                TableId::new("public", "a"),
                TableId {
                    schema: None,
                    name: "b".into()
                }
            ]
        );
        // A database in front is dropped.
        assert_eq!(
            TableId::parse("\"db\".\"public\".\"a\"").unwrap(),
            TableId::new("public", "a")
        );
        assert!(parse_table_list("").unwrap().is_empty());
        assert!(TableId::parse("\"open").is_err());
        assert!(TableId::parse("a.b.c.d").is_err());
    }
}
