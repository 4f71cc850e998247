//! The SQL each mode runs: Confluent's `TimestampIncrementingCriteria` WHERE clauses after
//! `SELECT * FROM <table>` (or after the configured `query`), then `query.suffix`.
//!
//! The incrementing bound is cast to `bigint` (the offset is a 64-bit integer whatever the
//! column's integer type; PostgreSQL compares across integer types, on the index too), and the
//! two timestamp bounds of timestamp+incrementing mode share a parameter (`$2`) where
//! Confluent's JDBC statement binds the same value twice.

use super::table::{Quoting, TableId};

/// What a querier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Table(TableId),
    /// A user's query (`query`).
    Query(String),
}

/// The columns that track progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criteria {
    /// Every row, every time.
    Bulk,
    Incrementing {
        column: String,
    },
    Timestamp {
        columns: Vec<String>,
    },
    TimestampIncrementing {
        columns: Vec<String>,
        column: String,
    },
}

/// The parameters a statement of [`build`] takes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    None,
    /// `$1`: the last incrementing value.
    Incrementing,
    /// `$1`: the last timestamp; `$2`: the end (database time − delay).
    Timestamp,
    /// `$1`: the end; `$2`: the last timestamp; `$3`: the last incrementing value.
    TimestampIncrementing,
}

impl Criteria {
    pub fn params(&self) -> Params {
        match self {
            Criteria::Bulk => Params::None,
            Criteria::Incrementing { .. } => Params::Incrementing,
            Criteria::Timestamp { .. } => Params::Timestamp,
            Criteria::TimestampIncrementing { .. } => Params::TimestampIncrementing,
        }
    }

    pub fn uses_timestamp(&self) -> bool {
        matches!(
            self,
            Criteria::Timestamp { .. } | Criteria::TimestampIncrementing { .. }
        )
    }
}

/// `COALESCE(a,b)` of several timestamp columns, or the one column.
fn timestamp_expr(columns: &[String], q: Quoting) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| q.ident(c)).collect();
    if quoted.len() == 1 {
        quoted.into_iter().next().expect("one column")
    } else {
        format!("COALESCE({})", quoted.join(","))
    }
}

/// The statement for `source` under `criteria`.
pub fn build(source: &Source, criteria: &Criteria, quoting: Quoting, suffix: &str) -> String {
    let mut sql = match source {
        Source::Table(t) => format!("SELECT * FROM {}", t.sql(quoting)),
        Source::Query(q) => q.clone(),
    };
    match criteria {
        Criteria::Bulk => {}
        Criteria::Incrementing { column } => {
            let inc = quoting.ident(column);
            sql.push_str(&format!(" WHERE {inc} > $1::bigint ORDER BY {inc} ASC"));
        }
        Criteria::Timestamp { columns } => {
            let ts = timestamp_expr(columns, quoting);
            sql.push_str(&format!(" WHERE {ts} > $1 AND {ts} < $2 ORDER BY {ts} ASC"));
        }
        Criteria::TimestampIncrementing { columns, column } => {
            let ts = timestamp_expr(columns, quoting);
            let inc = quoting.ident(column);
            sql.push_str(&format!(
                " WHERE {ts} < $1 AND (({ts} = $2 AND {inc} > $3::bigint) OR {ts} > $2) \
                 ORDER BY {ts},{inc} ASC"
            ));
        }
    }
    if !suffix.trim().is_empty() {
        sql.push(' ');
        sql.push_str(suffix.trim());
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Source {
        Source::Table(TableId::new("public", "orders"))
    }

    #[test]
    fn bulk_selects_everything() {
        assert_eq!(
            build(&table(), &Criteria::Bulk, Quoting::Always, ""),
            "SELECT * FROM \"public\".\"orders\""
        );
        assert_eq!(
            build(&table(), &Criteria::Bulk, Quoting::Never, " LIMIT 5 "),
            "SELECT * FROM public.orders LIMIT 5"
        );
    }

    #[test]
    fn incrementing_reads_after_the_last_id_in_order() {
        let c = Criteria::Incrementing {
            column: "id".into(),
        };
        assert_eq!(c.params(), Params::Incrementing);
        assert_eq!(
            build(&table(), &c, Quoting::Always, ""),
            "SELECT * FROM \"public\".\"orders\" WHERE \"id\" > $1::bigint ORDER BY \"id\" ASC"
        );
    }

    #[test]
    fn timestamp_reads_between_the_last_timestamp_and_the_end() {
        let c = Criteria::Timestamp {
            columns: vec!["updated".into()],
        };
        assert_eq!(
            build(
                &Source::Query("SELECT a, updated FROM x".into()),
                &c,
                Quoting::Always,
                ""
            ),
            "SELECT a, updated FROM x WHERE \"updated\" > $1 AND \"updated\" < $2 ORDER BY \
             \"updated\" ASC"
        );
        let c = Criteria::Timestamp {
            columns: vec!["modified".into(), "created".into()],
        };
        assert_eq!(
            build(&table(), &c, Quoting::Never, ""),
            "SELECT * FROM public.orders WHERE COALESCE(modified,created) > $1 AND \
             COALESCE(modified,created) < $2 ORDER BY COALESCE(modified,created) ASC"
        );
    }

    #[test]
    fn timestamp_incrementing_takes_later_ids_at_the_same_timestamp() {
        let c = Criteria::TimestampIncrementing {
            columns: vec!["ts".into()],
            column: "id".into(),
        };
        assert_eq!(c.params(), Params::TimestampIncrementing);
        assert!(c.uses_timestamp());
        assert_eq!(
            build(&table(), &c, Quoting::Always, ""),
            "SELECT * FROM \"public\".\"orders\" WHERE \"ts\" < $1 AND ((\"ts\" = $2 AND \"id\" \
             > $3::bigint) OR \"ts\" > $2) ORDER BY \"ts\",\"id\" ASC"
        );
    }
}
