//! One table (or the query) of a task: its statement, where its reading stands, and the rows
//! of a running query turned into records (Confluent's `TableQuerier` family).
//!
//! A query's rows stream from the server as they are read (the client applies back-pressure),
//! so a large table is never held in memory; its records leave in batches of `batch.max.rows`,
//! each carrying the offset after its last row.
//!
//! In timestamp mode a row's timestamp becomes committable only once a later row has a larger
//! one (or the result ends): rows sharing a timestamp are never split across a committed
//! offset, since `timestamp > offset` would skip the rest of them after a restart. This is
//! Confluent's `TimestampTableQuerier`.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant as Clock;

use bytes::{BufMut, BytesMut};
use thiserror::Error;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, Row, RowStream, Statement};

use super::offset::{Instant, Offset};
use super::query::{Criteria, Params, Source};
use super::types::{
    decode_numeric, map_column, ColumnInfo, ColumnMapping, Numeric, NumericError, NumericMapping,
};
use crate::data::{Schema, SchemaBuilder, Struct, Value};
use crate::record::{BatchRecord, SourcePartition, Topic};

/// A wire value as the server sent it.
struct RawCell<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(RawCell(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A point in time as a statement parameter: `timestamp` and `timestamptz` take PostgreSQL's
/// microseconds as they are (a `timestamp` column's wall clock is read as UTC, as Confluent's
/// default `db.timezone=UTC` does), `date` the day.
#[derive(Debug)]
struct TimeParam(i64);

impl ToSql for TimeParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if *ty == Type::DATE {
            let day = self.0.div_euclid(86_400_000_000);
            out.put_i32(i32::try_from(day)?);
        } else {
            out.put_i64(self.0);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE)
    }

    to_sql_checked!();
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    /// From the server or the connection.
    Sql(tokio_postgres::Error),
    /// The rows cannot become records (a type, a value, a missing column).
    Data(String),
}

impl From<tokio_postgres::Error> for ReadError {
    fn from(e: tokio_postgres::Error) -> Self {
        ReadError::Sql(e)
    }
}

/// The server's message with its SQLSTATE, or the client's error with its causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = StdError::source(e);
            while let Some(cause) = source {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                source = cause.source();
            }
            s
        }
    }
}

/// How the records of one statement are made.
#[derive(Debug)]
pub struct RowMapping {
    pub schema: Schema,
    pub columns: Vec<ColumnMapping>,
    incrementing: Option<OffsetColumn>,
    timestamps: Vec<OffsetColumn>,
}

#[derive(Debug, Clone, Copy)]
struct OffsetColumn {
    index: usize,
    kind: OffsetKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum OffsetKind {
    Int2,
    Int4,
    Int8,
    Numeric,
    Timestamp,
    Date,
}

fn base_type(ty: &Type) -> Type {
    let mut ty = ty.clone();
    while let tokio_postgres::types::Kind::Domain(base) = ty.kind() {
        ty = base.clone();
    }
    ty
}

/// Why an offset column is not among the result's columns.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ColumnLookupError {
    #[error("{what} {name} not found in {columns}")]
    Missing {
        what: &'static str,
        name: String,
        columns: String,
    },
    #[error(
        "{what} {name} not found in {columns}, and more than one column matches it ignoring case"
    )]
    Ambiguous {
        what: &'static str,
        name: String,
        columns: String,
    },
}

/// Why an incrementing column's value cannot be an offset.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IncrementingValueError {
    #[error("expected {0} bytes")]
    Length(usize),
    #[error(transparent)]
    Numeric(#[from] NumericError),
    #[error("Scale of Decimal value for incrementing column must be 0")]
    Fraction,
    #[error("Decimal value for incrementing column exceeded Long.MAX_VALUE")]
    TooLarge,
    #[error("NaN or infinity")]
    NotFinite,
    #[error("not an integer")]
    NotAnInteger,
}

/// The result column named `name`: exactly, else the one whose name matches ignoring case
/// (Confluent's fallback for timestamp columns).
fn find_column(names: &[&str], name: &str, what: &'static str) -> Result<usize, ColumnLookupError> {
    if let Some(i) = names.iter().position(|n| *n == name) {
        return Ok(i);
    }
    let lower = name.to_lowercase();
    let matches: Vec<usize> = (0..names.len())
        .filter(|i| names[*i].to_lowercase() == lower)
        .collect();
    match matches.as_slice() {
        [i] => Ok(*i),
        [] => Err(ColumnLookupError::Missing {
            what,
            name: name.to_string(),
            columns: names.join(","),
        }),
        _ => Err(ColumnLookupError::Ambiguous {
            what,
            name: name.to_string(),
            columns: names.join(","),
        }),
    }
}

/// What a running query has left to give.
struct Reading {
    stream: Pin<Box<RowStream>>,
    mapping: Arc<RowMapping>,
    /// Timestamp mode: the row read last, held until the next shows whether its timestamp
    /// can be committed; with the timestamp it carries.
    pending: Option<(BatchRecord, Instant)>,
}

/// One table or the query, and where its reading stands.
pub struct Querier {
    pub source: Source,
    /// `table public.users` or `the query`, for messages.
    pub what: String,
    pub criteria: Criteria,
    pub sql: String,
    pub topic: Topic,
    pub partition: SourcePartition,
    /// The value schemas' name: the table's (unqualified) name; none for a query.
    schema_name: Option<String>,
    /// After the last row handed out.
    pub offset: Offset,
    /// When the last complete read ended.
    pub last_run: Option<Clock>,
    /// The table did not exist at the last try (logged once); it is tried again every
    /// `poll.interval.ms` until the tasks are reconfigured without it.
    pub missing: bool,
    /// Whether `criteria` names the table's real columns (checked once the table exists).
    pub resolved: bool,
    reading: Option<Reading>,
    last_mapping: Option<Arc<RowMapping>>,
}

/// One read: records and whether the query has ended.
pub struct Batch {
    pub records: Vec<BatchRecord>,
    pub done: bool,
}

impl Querier {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: Source,
        criteria: Criteria,
        sql: String,
        topic: Topic,
        partition: SourcePartition,
        schema_name: Option<String>,
        offset: Offset,
    ) -> Querier {
        let what = match &source {
            Source::Table(t) => format!("table {t}"),
            Source::Query(_) => "the query".to_string(),
        };
        Querier {
            source,
            what,
            criteria,
            sql,
            topic,
            partition,
            schema_name,
            offset,
            last_run: None,
            missing: false,
            resolved: true,
            reading: None,
            last_mapping: None,
        }
    }

    /// Gives up the running query (its held row too): the next read starts over from
    /// `offset`.
    pub fn reset(&mut self) {
        self.reading = None;
        self.last_run = Some(Clock::now());
    }

    /// Starts the query from `offset`.
    pub async fn start(
        &mut self,
        client: &Client,
        numeric: NumericMapping,
        delay_ms: i64,
    ) -> Result<(), ReadError> {
        let stmt = client.prepare(&self.sql).await?;
        let mapping = self.mapping(client, &stmt, numeric).await?;
        let end = if self.criteria.uses_timestamp() {
            let now: i64 = {
                let row = client.query_one("SELECT CURRENT_TIMESTAMP", &[]).await?;
                let raw: RawCell = row.try_get(0)?;
                i64::from_be_bytes(raw.0.try_into().map_err(|_| {
                    ReadError::Data("the server's CURRENT_TIMESTAMP is not 8 bytes".into())
                })?)
            };
            now.saturating_sub(delay_ms.saturating_mul(1000))
        } else {
            0
        };
        let begin = self.offset.timestamp_or_start().to_pg_micros();
        let inc = self.offset.incrementing_or_start();
        for (i, ty) in stmt.params().iter().enumerate() {
            let is_time = matches!(
                (self.criteria.params(), i),
                (Params::Timestamp, 0 | 1) | (Params::TimestampIncrementing, 0 | 1)
            );
            if is_time && !TimeParam::accepts(ty) {
                return Err(ReadError::Data(format!(
                    "the timestamp column(s) of {} must be timestamp, timestamptz or date, not {ty}",
                    self.what
                )));
            }
        }
        let stream = match self.criteria.params() {
            Params::None => {
                client
                    .query_raw(&stmt, std::iter::empty::<&(dyn ToSql + Sync)>())
                    .await?
            }
            Params::Incrementing => {
                client
                    .query_raw(&stmt, [&inc as &(dyn ToSql + Sync)])
                    .await?
            }
            Params::Timestamp => {
                let (b, e) = (TimeParam(begin), TimeParam(end));
                client
                    .query_raw(
                        &stmt,
                        [&b as &(dyn ToSql + Sync), &e as &(dyn ToSql + Sync)],
                    )
                    .await?
            }
            Params::TimestampIncrementing => {
                let (b, e) = (TimeParam(begin), TimeParam(end));
                client
                    .query_raw(
                        &stmt,
                        [
                            &e as &(dyn ToSql + Sync),
                            &b as &(dyn ToSql + Sync),
                            &inc as &(dyn ToSql + Sync),
                        ],
                    )
                    .await?
            }
        };
        self.reading = Some(Reading {
            stream: Box::pin(stream),
            mapping,
            pending: None,
        });
        Ok(())
    }

    /// The schema and decoders of `stmt`'s rows; the previous ones when they are the same, so
    /// that records of successive reads share their schema.
    async fn mapping(
        &mut self,
        client: &Client,
        stmt: &Statement,
        numeric: NumericMapping,
    ) -> Result<Arc<RowMapping>, ReadError> {
        let cols = stmt.columns();
        // Nullability: PostgreSQL tells it for columns read straight from a table.
        let keys: Vec<(u32, i16)> = cols
            .iter()
            .filter_map(|c| Some((c.table_oid()?, c.column_id()?)))
            .collect();
        let mut not_null = std::collections::HashSet::new();
        if !keys.is_empty() {
            let oids: Vec<u32> = keys.iter().map(|k| k.0).collect();
            let nums: Vec<i16> = keys.iter().map(|k| k.1).collect();
            let rows = client
                .query(
                    "SELECT a.attrelid, a.attnum FROM pg_catalog.pg_attribute a \
                     JOIN unnest($1::oid[], $2::int2[]) k(rel, num) \
                     ON a.attrelid = k.rel AND a.attnum = k.num WHERE a.attnotnull",
                    &[&oids, &nums],
                )
                .await?;
            for r in rows {
                not_null.insert((r.get::<_, u32>(0), r.get::<_, i16>(1)));
            }
        }
        let mut columns = Vec::with_capacity(cols.len());
        let mut builder = SchemaBuilder::struct_();
        if let Some(n) = &self.schema_name {
            builder = builder.name(n.clone());
        }
        let source_name = match &self.source {
            Source::Table(t) => t.unquoted(),
            Source::Query(_) => "the query".to_string(),
        };
        for c in cols {
            let optional = !matches!(
                (c.table_oid(), c.column_id()),
                (Some(t), Some(n)) if not_null.contains(&(t, n))
            );
            let info = ColumnInfo {
                name: c.name(),
                ty: c.type_(),
                typmod: c.type_modifier(),
                optional,
            };
            let m = map_column(&info, &source_name, numeric)
                .map_err(|e| ReadError::Data(e.to_string()))?;
            builder = builder.field(m.name.clone(), m.schema.clone());
            columns.push(m);
        }
        let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
        let offset_column = |name: &str, incrementing: bool| -> Result<OffsetColumn, ReadError> {
            let what = if incrementing {
                "Incrementing column"
            } else {
                "Timestamp column"
            };
            let index =
                find_column(&names, name, what).map_err(|e| ReadError::Data(e.to_string()))?;
            let kind = match (incrementing, base_type(cols[index].type_())) {
                (true, Type::INT2) => OffsetKind::Int2,
                (true, Type::INT4) => OffsetKind::Int4,
                (true, Type::INT8) => OffsetKind::Int8,
                (true, Type::NUMERIC) => OffsetKind::Numeric,
                (false, Type::TIMESTAMP | Type::TIMESTAMPTZ) => OffsetKind::Timestamp,
                (false, Type::DATE) => OffsetKind::Date,
                _ => {
                    return Err(ReadError::Data(format!(
                        "Invalid type for {} {name} of {source_name}: {}",
                        what.to_lowercase(),
                        cols[index].type_()
                    )))
                }
            };
            Ok(OffsetColumn { index, kind })
        };
        let (incrementing, timestamps) = match &self.criteria {
            Criteria::Bulk => (None, Vec::new()),
            Criteria::Incrementing { column } => (Some(offset_column(column, true)?), Vec::new()),
            Criteria::Timestamp { columns } => (
                None,
                columns
                    .iter()
                    .map(|c| offset_column(c, false))
                    .collect::<Result<_, _>>()?,
            ),
            Criteria::TimestampIncrementing { columns, column } => (
                Some(offset_column(column, true)?),
                columns
                    .iter()
                    .map(|c| offset_column(c, false))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let schema = builder.build();
        if let Some(last) = &self.last_mapping {
            if last.schema == schema
                && last.columns == columns
                && last.incrementing.map(|c| c.index) == incrementing.map(|c| c.index)
                && last
                    .timestamps
                    .iter()
                    .map(|c| c.index)
                    .eq(timestamps.iter().map(|c| c.index))
            {
                return Ok(last.clone());
            }
        }
        let mapping = Arc::new(RowMapping {
            schema,
            columns,
            incrementing,
            timestamps,
        });
        self.last_mapping = Some(mapping.clone());
        Ok(mapping)
    }

    /// Reads up to `max` rows, waiting for the next one no longer than until `deadline`.
    /// Records are in row order; `offset` stands after the last of them.
    pub async fn read(&mut self, max: usize, deadline: Clock) -> Result<Batch, ReadError> {
        use futures::{FutureExt, StreamExt};
        let timestamp_mode = matches!(self.criteria, Criteria::Timestamp { .. });
        let mut records = Vec::with_capacity(max.min(4096));
        let Some(reading) = self.reading.as_mut() else {
            return Ok(Batch {
                records,
                done: true,
            });
        };
        let mut done = false;
        while records.len() < max {
            // Rows already received are taken without arming a timer for each.
            let next = match reading.stream.next().now_or_never() {
                Some(next) => next,
                None => {
                    let left = deadline.saturating_duration_since(Clock::now());
                    match tokio::time::timeout(left, reading.stream.next()).await {
                        Ok(next) => next,
                        // Nothing more for now; the query goes on at the next read.
                        Err(_) => break,
                    }
                }
            };
            match next {
                None => {
                    if let Some((record, ts)) = reading.pending.take() {
                        self.offset.timestamp = Some(ts);
                        records.push(record);
                    }
                    done = true;
                    break;
                }
                Some(row) => {
                    let row = row?;
                    let (record, inc, ts) = make_record(&row, &reading.mapping)?;
                    if timestamp_mode {
                        let ts = ts.ok_or_else(|| {
                            ReadError::Data(format!(
                                "every timestamp column of a row of {} is NULL",
                                self.what
                            ))
                        })?;
                        if let Some((prev, prev_ts)) = reading.pending.replace((record, ts)) {
                            // The held row's timestamp is committable once a later one is
                            // larger; until then the offset stays where it was.
                            if prev_ts < ts {
                                self.offset.timestamp = Some(prev_ts);
                            }
                            records.push(prev);
                        }
                    } else {
                        if inc.is_some() {
                            self.offset.incrementing = inc;
                        }
                        if ts.is_some() {
                            self.offset.timestamp = ts;
                        }
                        records.push(record);
                    }
                }
            }
        }
        if done {
            self.reading = None;
            self.last_run = Some(Clock::now());
        }
        Ok(Batch { records, done })
    }
}

/// A row as a record, with its incrementing value and timestamp (the first non-NULL timestamp
/// column, as COALESCE has it).
fn make_record(
    row: &Row,
    mapping: &RowMapping,
) -> Result<(BatchRecord, Option<i64>, Option<Instant>), ReadError> {
    let mut values = Vec::with_capacity(mapping.columns.len());
    for (i, col) in mapping.columns.iter().enumerate() {
        let raw: Option<RawCell> = row.try_get(i)?;
        let v = col
            .decoder
            .decode(&col.name, raw.map(|r| r.0))
            .map_err(|e| ReadError::Data(e.to_string()))?;
        if v.is_null() && !col.schema.is_optional() {
            return Err(ReadError::Data(format!(
                "column {}: NULL in a column declared NOT NULL (an outer join in the query?)",
                col.name
            )));
        }
        values.push(v);
    }
    let raw_of = |c: &OffsetColumn| -> Result<Option<&[u8]>, ReadError> {
        Ok(row.try_get::<_, Option<RawCell>>(c.index)?.map(|r| r.0))
    };
    let inc = match &mapping.incrementing {
        None => None,
        Some(c) => {
            let name = &mapping.columns[c.index].name;
            let raw = raw_of(c)?.ok_or_else(|| {
                ReadError::Data(format!("Null value for incrementing column {name}"))
            })?;
            Some(
                incrementing_value(c.kind, raw)
                    .map_err(|why| ReadError::Data(format!("incrementing column {name}: {why}")))?,
            )
        }
    };
    let mut ts = None;
    for c in &mapping.timestamps {
        if let Some(raw) = raw_of(c)? {
            let micros = match c.kind {
                OffsetKind::Date => {
                    i64::from(i32::from_be_bytes(
                        raw.try_into()
                            .map_err(|_| ReadError::Data("a date is not 4 bytes".into()))?,
                    )) * 86_400_000_000
                }
                _ => i64::from_be_bytes(
                    raw.try_into()
                        .map_err(|_| ReadError::Data("a timestamp is not 8 bytes".into()))?,
                ),
            };
            ts = Some(Instant::from_pg_micros(micros));
            break;
        }
    }
    let value = Value::Struct(Struct {
        schema: mapping.schema.clone(),
        values,
    });
    Ok((
        BatchRecord::new(Some(mapping.schema.clone()), value),
        inc,
        ts,
    ))
}

fn incrementing_value(kind: OffsetKind, raw: &[u8]) -> Result<i64, IncrementingValueError> {
    let bytes = |n: usize| -> Result<&[u8], IncrementingValueError> {
        (raw.len() == n)
            .then_some(raw)
            .ok_or(IncrementingValueError::Length(n))
    };
    Ok(match kind {
        OffsetKind::Int2 => i64::from(i16::from_be_bytes(bytes(2)?.try_into().expect("2"))),
        OffsetKind::Int4 => i64::from(i32::from_be_bytes(bytes(4)?.try_into().expect("4"))),
        OffsetKind::Int8 => i64::from_be_bytes(bytes(8)?.try_into().expect("8")),
        OffsetKind::Numeric => match decode_numeric(raw)? {
            Numeric::Finite(d) => {
                use bigdecimal::ToPrimitive;
                if !d.is_integer() {
                    return Err(IncrementingValueError::Fraction);
                }
                d.to_i64().ok_or(IncrementingValueError::TooLarge)?
            }
            _ => return Err(IncrementingValueError::NotFinite),
        },
        OffsetKind::Timestamp | OffsetKind::Date => {
            return Err(IncrementingValueError::NotAnInteger)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_exactly_then_ignoring_case() {
        let names = ["id", "Updated", "updated_at", "X", "x"];
        assert_eq!(find_column(&names, "Updated", "Timestamp column"), Ok(1));
        assert_eq!(find_column(&names, "UPDATED", "Timestamp column"), Ok(1));
        assert_eq!(find_column(&names, "x", "Timestamp column"), Ok(4));
        assert!(find_column(&names, "X2", "Timestamp column")
            .unwrap_err()
            .to_string()
            .starts_with("Timestamp column X2 not found in id,Updated,updated_at,X,x"));
        assert!(find_column(&["A", "a"], "A_", "Incrementing column").is_err());
        assert!(find_column(&["aB", "Ab"], "ab", "Incrementing column")
            .unwrap_err()
            .to_string()
            .contains("more than one"));
    }

    #[test]
    fn incrementing_values_read_every_integer_type() {
        assert_eq!(
            incrementing_value(OffsetKind::Int2, &7i16.to_be_bytes()),
            Ok(7)
        );
        assert_eq!(
            incrementing_value(OffsetKind::Int4, &(-3i32).to_be_bytes()),
            Ok(-3)
        );
        assert_eq!(
            incrementing_value(OffsetKind::Int8, &i64::MAX.to_be_bytes()),
            Ok(i64::MAX)
        );
        // numeric 12345: one digit group 1, one 2345, weight 1.
        let n = [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x09, 0x29];
        assert_eq!(incrementing_value(OffsetKind::Numeric, &n), Ok(12_345));
        assert!(incrementing_value(OffsetKind::Int4, &[0, 1]).is_err());
    }
}
