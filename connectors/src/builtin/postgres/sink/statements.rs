//! The statements that write a run of rows: one array parameter per column, turned back into
//! rows by `UNNEST`, so that one prepared statement writes any number of rows.

use super::fields::{Column, Fields};
use super::table::{ident, TableDef, TableError, TableId};

/// What a statement does with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Insert,
    /// `INSERT … ON CONFLICT (key) DO UPDATE` (or `DO NOTHING` without other columns).
    Upsert,
    Update,
    /// Tombstones with `delete.enabled`: `DELETE … WHERE key`.
    Delete,
}

impl Op {
    /// The columns the statement takes, in parameter order.
    pub fn params(self, fields: &Fields) -> &[Column] {
        match self {
            Op::Delete => fields.key_columns(),
            _ => &fields.columns,
        }
    }

    /// Whether rows of one statement must have distinct keys (the last record of a key wins,
    /// as when each record is written in turn).
    pub fn keyed(self) -> bool {
        !matches!(self, Op::Insert)
    }
}

/// `UNNEST($1::int8[], $2::text[]) AS v(c0, c1)` and, per column, the expression that reads
/// its value (`v.c1::jsonb` where the column needs a cast) and its name in the table.
struct Unnest {
    from: String,
    values: Vec<String>,
    names: Vec<String>,
}

fn unnest(columns: &[Column], def: &TableDef) -> Unnest {
    let mut arrays = Vec::new();
    let mut aliases = Vec::new();
    let mut values = Vec::new();
    let mut names = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let existing = def.column(&c.name);
        arrays.push(format!("${}::{}", i + 1, c.wire.array_sql()));
        aliases.push(format!("c{i}"));
        let cast = c.wire.cast_for(existing.map(|e| e.type_name.as_str()));
        values.push(format!("v.c{i}{cast}"));
        names.push(ident(existing.map_or(&c.name, |e| &e.name)));
    }
    Unnest {
        from: format!("UNNEST({}) AS v({})", arrays.join(", "), aliases.join(", ")),
        values,
        names,
    }
}

/// The SQL of `op` on `table` for records of `fields`.
pub fn sql(op: Op, table: &TableId, fields: &Fields, def: &TableDef) -> Result<String, TableError> {
    let u = unnest(op.params(fields), def);
    let keys = fields.keys;
    let key_match = || -> String {
        (0..keys)
            .map(|i| format!("t.{} = {}", u.names[i], u.values[i]))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    Ok(match op {
        Op::Insert | Op::Upsert => {
            let mut sql = format!(
                "INSERT INTO {table} ({}) SELECT {} FROM {}",
                u.names.join(","),
                u.values.join(", "),
                u.from
            );
            if op == Op::Upsert {
                let key_names = u.names[..keys].join(",");
                if u.names.len() == keys {
                    sql.push_str(&format!(" ON CONFLICT ({key_names}) DO NOTHING"));
                } else {
                    let sets: Vec<String> = u.names[keys..]
                        .iter()
                        .map(|n| format!("{n}=EXCLUDED.{n}"))
                        .collect();
                    sql.push_str(&format!(
                        " ON CONFLICT ({key_names}) DO UPDATE SET {}",
                        sets.join(",")
                    ));
                }
            }
            sql
        }
        Op::Update => {
            if u.names.len() == keys {
                return Err(TableError(format!(
                    "Write to table {table} in UPDATE mode needs a column that is not part of \
                     the primary key"
                )));
            }
            let sets: Vec<String> = (keys..u.names.len())
                .map(|i| format!("{} = {}", u.names[i], u.values[i]))
                .collect();
            format!(
                "UPDATE {table} AS t SET {} FROM {} WHERE {}",
                sets.join(", "),
                u.from,
                key_match()
            )
        }
        Op::Delete => format!(
            "DELETE FROM {table} AS t USING {} WHERE {}",
            u.from,
            key_match()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::postgres::sink::config::SinkConfig;
    use crate::builtin::postgres::sink::table::{ColumnDef, TableKind};
    use crate::builtin::testutil::props;
    use crate::data::{decimal_schema, Schema, SchemaBuilder};

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut p = props(&[("connection.url", "postgres://h/d")]);
        p.extend(props(pairs));
        let config = SinkConfig::parse(&p).unwrap();
        let vs = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("doc", Schema::optional_string())
            .field("price", decimal_schema(2))
            .build();
        Fields::extract("t", &config, None, Some(&vs)).unwrap()
    }

    fn def() -> TableDef {
        TableDef {
            kind: TableKind::Table,
            columns: [("ID", "int8"), ("doc", "jsonb"), ("price", "numeric")]
                .iter()
                .map(|(n, t)| ColumnDef {
                    name: n.to_string(),
                    type_name: t.to_string(),
                })
                .collect(),
        }
    }

    const FROM: &str = "UNNEST($1::int8[], $2::text[], $3::text[]) AS v(c0, c1, c2)";

    #[test]
    fn insert_and_upsert_cast_json_and_decimals_and_use_the_tables_names() {
        let id = TableId::parse("t", "public").unwrap();
        let f = fields(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
        let cols = "\"ID\",\"doc\",\"price\"";
        let vals = "v.c0, v.c1::jsonb, v.c2::numeric";
        assert_eq!(
            sql(Op::Insert, &id, &f, &def()).unwrap(),
            format!("INSERT INTO \"public\".\"t\" ({cols}) SELECT {vals} FROM {FROM}")
        );
        assert_eq!(
            sql(Op::Upsert, &id, &f, &def()).unwrap(),
            format!(
                "INSERT INTO \"public\".\"t\" ({cols}) SELECT {vals} FROM {FROM} ON CONFLICT \
                 (\"ID\") DO UPDATE SET \"doc\"=EXCLUDED.\"doc\",\"price\"=EXCLUDED.\"price\""
            )
        );
    }

    #[test]
    fn update_and_delete_match_the_key() {
        let id = TableId::parse("t", "public").unwrap();
        let f = fields(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
        assert_eq!(
            sql(Op::Update, &id, &f, &def()).unwrap(),
            format!(
                "UPDATE \"public\".\"t\" AS t SET \"doc\" = v.c1::jsonb, \"price\" = \
                 v.c2::numeric FROM {FROM} WHERE t.\"ID\" = v.c0"
            )
        );
        assert_eq!(
            sql(Op::Delete, &id, &f, &def()).unwrap(),
            "DELETE FROM \"public\".\"t\" AS t USING UNNEST($1::int8[]) AS v(c0) WHERE t.\"ID\" \
             = v.c0"
        );
        let all_keys = fields(&[("pk.mode", "record_value")]);
        assert!(sql(Op::Update, &id, &all_keys, &def()).is_err());
        assert!(sql(Op::Upsert, &id, &all_keys, &def())
            .unwrap()
            .ends_with("ON CONFLICT (\"ID\",\"doc\",\"price\") DO NOTHING"));
    }
}
