//! Connect schemas as PostgreSQL columns, and Connect values on the wire.
//!
//! Column types for `auto.create` / `auto.evolve` are those of Confluent's PostgreSQL dialect:
//! INT8 and INT16 → SMALLINT, INT32 → INT, INT64 → BIGINT, FLOAT32 → REAL, FLOAT64 → DOUBLE
//! PRECISION, BOOLEAN, STRING → TEXT, BYTES → BYTEA, and the logical types Decimal → DECIMAL,
//! Date → DATE, Time → TIME, Timestamp → TIMESTAMP.
//!
//! Values travel as one binary array per column ([`ColumnData`]), which the statements turn
//! back into rows with `UNNEST`: a statement has one parameter per column whatever the number
//! of rows, so it is prepared once and never reaches the protocol's 65,535-parameter limit.
//! Decimals travel as text (exact, scale kept) and are cast to `numeric` by the statement.

use std::error::Error as StdError;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type as PgType};

use crate::data::{LogicalType, Schema, Type, Value};

/// Microseconds between 1970-01-01 (Connect's epoch) and 2000-01-01 (PostgreSQL's).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between the two epochs.
const PG_EPOCH_DAYS: i32 = 10_957;

/// A field whose schema has no PostgreSQL column type here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field '{field}' has schema type {ty}, which the PostgreSQL sink cannot store (it writes primitive types and the Decimal, Date, Time and Timestamp logical types)")]
pub struct UnsupportedType {
    pub field: String,
    pub ty: String,
}

/// How one column's values travel: the element type of its array parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    /// A Decimal, as text, cast to numeric by the statement.
    Numeric,
}

impl Wire {
    /// The wire type of a field's schema.
    pub fn of(field: &str, schema: &Schema) -> Result<Wire, UnsupportedType> {
        if let Some(logical) = schema.logical_type() {
            return Ok(match logical {
                LogicalType::Decimal => Wire::Numeric,
                LogicalType::Date => Wire::Date,
                LogicalType::Time => Wire::Time,
                LogicalType::Timestamp => Wire::Timestamp,
            });
        }
        Ok(match schema.ty() {
            Type::Int8 | Type::Int16 => Wire::Int2,
            Type::Int32 => Wire::Int4,
            Type::Int64 => Wire::Int8,
            Type::Float32 => Wire::Float4,
            Type::Float64 => Wire::Float8,
            Type::Boolean => Wire::Bool,
            Type::String => Wire::Text,
            Type::Bytes => Wire::Bytea,
            other => {
                return Err(UnsupportedType {
                    field: field.to_string(),
                    ty: other.name().to_string(),
                })
            }
        })
    }

    /// The column type `auto.create` and `auto.evolve` give a field (Confluent's dialect).
    pub fn ddl_type(self) -> &'static str {
        match self {
            Wire::Int2 => "SMALLINT",
            Wire::Int4 => "INT",
            Wire::Int8 => "BIGINT",
            Wire::Float4 => "REAL",
            Wire::Float8 => "DOUBLE PRECISION",
            Wire::Bool => "BOOLEAN",
            Wire::Text => "TEXT",
            Wire::Bytea => "BYTEA",
            Wire::Date => "DATE",
            Wire::Time => "TIME",
            Wire::Timestamp => "TIMESTAMP",
            Wire::Numeric => "DECIMAL",
        }
    }

    /// The parameter's array type, as written in a statement (`$1::int8[]`).
    pub fn array_sql(self) -> &'static str {
        match self {
            Wire::Int2 => "int2[]",
            Wire::Int4 => "int4[]",
            Wire::Int8 => "int8[]",
            Wire::Float4 => "float4[]",
            Wire::Float8 => "float8[]",
            Wire::Bool => "bool[]",
            Wire::Text | Wire::Numeric => "text[]",
            Wire::Bytea => "bytea[]",
            Wire::Date => "date[]",
            Wire::Time => "time[]",
            Wire::Timestamp => "timestamp[]",
        }
    }

    fn array_type(self) -> PgType {
        match self {
            Wire::Int2 => PgType::INT2_ARRAY,
            Wire::Int4 => PgType::INT4_ARRAY,
            Wire::Int8 => PgType::INT8_ARRAY,
            Wire::Float4 => PgType::FLOAT4_ARRAY,
            Wire::Float8 => PgType::FLOAT8_ARRAY,
            Wire::Bool => PgType::BOOL_ARRAY,
            Wire::Text | Wire::Numeric => PgType::TEXT_ARRAY,
            Wire::Bytea => PgType::BYTEA_ARRAY,
            Wire::Date => PgType::DATE_ARRAY,
            Wire::Time => PgType::TIME_ARRAY,
            Wire::Timestamp => PgType::TIMESTAMP_ARRAY,
        }
    }

    fn element_oid(self) -> u32 {
        match self {
            Wire::Int2 => PgType::INT2.oid(),
            Wire::Int4 => PgType::INT4.oid(),
            Wire::Int8 => PgType::INT8.oid(),
            Wire::Float4 => PgType::FLOAT4.oid(),
            Wire::Float8 => PgType::FLOAT8.oid(),
            Wire::Bool => PgType::BOOL.oid(),
            Wire::Text | Wire::Numeric => PgType::TEXT.oid(),
            Wire::Bytea => PgType::BYTEA.oid(),
            Wire::Date => PgType::DATE.oid(),
            Wire::Time => PgType::TIME.oid(),
            Wire::Timestamp => PgType::TIMESTAMP.oid(),
        }
    }

    /// The cast a value of this wire type needs to be stored in a column of `column_type`
    /// (its `pg_type.typname`): json, jsonb and uuid columns take text with a cast, as
    /// Confluent's dialect writes `?::uuid`; decimals arrive as text and become numeric.
    /// Anything else relies on PostgreSQL's assignment casts (int8 → int4, timestamp →
    /// timestamptz, …), which refuse what would lose meaning (text → integer).
    pub fn cast_for(self, column_type: Option<&str>) -> &'static str {
        match column_type {
            Some("json") => "::json",
            Some("jsonb") => "::jsonb",
            Some("uuid") => "::uuid",
            _ if self == Wire::Numeric => "::numeric",
            _ => "",
        }
    }
}

/// A value that does not fit its column's wire type (a converter or transform produced a value
/// of another type than its schema says).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field '{field}': {why}")]
pub struct BadValue {
    pub field: String,
    pub why: String,
}

/// One column's values for a statement, encoded as the body of a one-dimensional PostgreSQL
/// array in binary format.
#[derive(Debug)]
pub struct ColumnData {
    wire: Wire,
    rows: i32,
    has_null: bool,
    elements: BytesMut,
}

impl ColumnData {
    pub fn new(wire: Wire, rows: usize) -> ColumnData {
        ColumnData {
            wire,
            rows: 0,
            has_null: false,
            elements: BytesMut::with_capacity(rows * 12),
        }
    }

    #[cfg(test)]
    pub fn rows(&self) -> usize {
        self.rows as usize
    }

    /// Empties the column, keeping its allocation.
    pub fn clear(&mut self) {
        self.rows = 0;
        self.has_null = false;
        self.elements.clear();
    }

    /// The encoded elements (each a length and its bytes): equal values encode equally.
    pub fn elements(&self) -> &[u8] {
        &self.elements
    }

    /// Appends one value (`Null` for SQL NULL).
    pub fn push(&mut self, field: &str, v: &Value) -> Result<(), BadValue> {
        self.rows += 1;
        if v.is_null() {
            self.has_null = true;
            self.elements.put_i32(-1);
            return Ok(());
        }
        let at = self.elements.len();
        self.elements.put_i32(0); // length, patched below
        let bad = |why: String| BadValue {
            field: field.to_string(),
            why,
        };
        let out = &mut self.elements;
        match (self.wire, v) {
            (Wire::Int2, Value::Int8(i)) => out.put_i16(i16::from(*i)),
            (Wire::Int2, Value::Int16(i)) => out.put_i16(*i),
            (Wire::Int4, Value::Int32(i)) => out.put_i32(*i),
            (Wire::Int8, Value::Int64(i)) => out.put_i64(*i),
            (Wire::Float4, Value::Float32(f)) => out.put_f32(*f),
            (Wire::Float8, Value::Float64(f)) => out.put_f64(*f),
            (Wire::Bool, Value::Boolean(b)) => out.put_u8(u8::from(*b)),
            (Wire::Text, Value::String(s)) => out.put_slice(s.as_bytes()),
            (Wire::Bytea, Value::Bytes(b)) => out.put_slice(b),
            (Wire::Numeric, Value::Decimal(d)) => out.put_slice(d.to_plain_string().as_bytes()),
            (Wire::Date, Value::Date(days) | Value::Int32(days)) => out.put_i32(
                days.checked_sub(PG_EPOCH_DAYS)
                    .ok_or_else(|| bad(format!("date {days} is out of range")))?,
            ),
            (Wire::Time, Value::Time(ms) | Value::Int32(ms)) => out.put_i64(i64::from(*ms) * 1000),
            (Wire::Timestamp, Value::Timestamp(ms) | Value::Int64(ms)) => out.put_i64(
                ms.checked_mul(1000)
                    .and_then(|us| us.checked_sub(PG_EPOCH_MICROS))
                    .ok_or_else(|| bad(format!("timestamp {ms} is out of range")))?,
            ),
            (wire, v) => {
                // Undo the length placeholder so the buffer stays consistent.
                self.elements.truncate(at);
                self.rows -= 1;
                return Err(bad(format!(
                    "a {} value where the schema says {}",
                    v.kind(),
                    wire.ddl_type()
                )));
            }
        }
        let len = (self.elements.len() - at - 4) as i32;
        self.elements[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

impl ToSql for ColumnData {
    fn to_sql(
        &self,
        _ty: &PgType,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        // Binary array: dimensions, has-null flag, element type, then per dimension its length
        // and lower bound, then the elements (each a length, -1 for NULL, and its bytes).
        out.reserve(20 + self.elements.len());
        out.put_i32(if self.rows == 0 { 0 } else { 1 });
        out.put_i32(i32::from(self.has_null));
        out.put_u32(self.wire.element_oid());
        if self.rows > 0 {
            out.put_i32(self.rows);
            out.put_i32(1);
        }
        out.put_slice(&self.elements);
        Ok(IsNull::No)
    }

    fn accepts(_ty: &PgType) -> bool {
        // The type alone cannot tell which wire type a column has: `to_sql_checked` (written
        // out instead of generated) compares it with this column's.
        true
    }

    fn to_sql_checked(
        &self,
        ty: &PgType,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if *ty != self.wire.array_type() {
            return Err(format!(
                "a {} parameter where the statement expects {}",
                self.wire.array_sql(),
                ty
            )
            .into());
        }
        self.to_sql(ty, out)
    }
}

/// A SQL literal for a field's default value in `CREATE TABLE` / `ALTER TABLE … ADD`, as
/// Confluent's dialect formats them (dates and times in UTC).
pub fn literal(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "NULL".into(),
        Value::Int8(i) => i.to_string(),
        Value::Int16(i) => i.to_string(),
        Value::Int32(i) => i.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float32(f) if f.is_finite() => f.to_string(),
        Value::Float64(f) if f.is_finite() => f.to_string(),
        Value::Float32(f) => quote(&float_word(f64::from(*f))),
        Value::Float64(f) => quote(&float_word(*f)),
        Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::String(s) => quote(s),
        Value::Bytes(b) => {
            let mut s = String::from("'\\x");
            for byte in b {
                let _ = write!(s, "{byte:02x}");
            }
            s.push('\'');
            s
        }
        Value::Decimal(d) => d.to_plain_string(),
        Value::Date(days) => quote(&date_text(i64::from(*days))),
        Value::Time(ms) => quote(&time_text(i64::from(*ms))),
        Value::Timestamp(ms) => {
            let days = ms.div_euclid(86_400_000);
            let rest = ms.rem_euclid(86_400_000);
            quote(&format!("{} {}", date_text(days), time_text(rest)))
        }
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => return None,
    })
}

fn float_word(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

/// A SQL string literal (standard_conforming_strings: only quotes are doubled).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian).
fn date_text(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS.mmm` of milliseconds since midnight.
fn time_text(ms: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{date_schema, decimal_schema, time_schema, timestamp_schema, SchemaBuilder};
    use bigdecimal::BigDecimal;
    use std::str::FromStr;

    #[test]
    fn column_types_are_confluents_postgres_dialect() {
        let cases = [
            (Schema::int8(), "SMALLINT"),
            (Schema::int16(), "SMALLINT"),
            (Schema::int32(), "INT"),
            (Schema::int64(), "BIGINT"),
            (Schema::float32(), "REAL"),
            (Schema::float64(), "DOUBLE PRECISION"),
            (Schema::boolean(), "BOOLEAN"),
            (Schema::string(), "TEXT"),
            (Schema::bytes(), "BYTEA"),
            (decimal_schema(2), "DECIMAL"),
            (date_schema(), "DATE"),
            (time_schema(), "TIME"),
            (timestamp_schema(), "TIMESTAMP"),
        ];
        for (schema, want) in cases {
            assert_eq!(
                Wire::of("f", &schema).unwrap().ddl_type(),
                want,
                "{schema:?}"
            );
        }
        let e = Wire::of("tags", &SchemaBuilder::array(Schema::string()).build()).unwrap_err();
        assert_eq!(e.field, "tags");
        assert!(
            e.to_string()
                .starts_with("field 'tags' has schema type ARRAY"),
            "{e}"
        );
    }

    fn encoded(wire: Wire, values: &[Value]) -> Vec<u8> {
        let mut c = ColumnData::new(wire, values.len());
        for v in values {
            c.push("f", v).unwrap();
        }
        let mut out = BytesMut::new();
        c.to_sql_checked(&wire.array_type(), &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn arrays_are_postgres_binary_arrays() {
        let bytes = encoded(Wire::Int4, &[Value::Int32(7), Value::Null]);
        let mut want = Vec::new();
        for word in [1i32, 1, 23, 2, 1, 4, 7, -1] {
            want.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(bytes, want);
    }

    #[test]
    fn logical_values_use_postgres_epochs() {
        // 2000-01-02 is day 10,958 after 1970-01-01 and day 1 after 2000-01-01.
        let date = encoded(Wire::Date, &[Value::Date(10_958)]);
        assert_eq!(&date[date.len() - 4..], &1i32.to_be_bytes());
        let ts = encoded(Wire::Timestamp, &[Value::Timestamp(946_684_800_001)]);
        assert_eq!(&ts[ts.len() - 8..], &1000i64.to_be_bytes());
        let t = encoded(Wire::Time, &[Value::Time(1)]);
        assert_eq!(&t[t.len() - 8..], &1000i64.to_be_bytes());
        let d = encoded(
            Wire::Numeric,
            &[Value::Decimal(BigDecimal::from_str("12.50").unwrap())],
        );
        assert_eq!(&d[d.len() - 5..], b"12.50");
    }

    #[test]
    fn a_value_of_another_type_names_the_field() {
        let mut c = ColumnData::new(Wire::Int4, 1);
        let e = c.push("qty", &Value::String("x".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 'qty': a STRING value where the schema says INT"
        );
        assert_eq!(c.rows(), 0);
        c.push("qty", &Value::Int32(1)).unwrap();
        assert_eq!(c.rows(), 1);
    }

    #[test]
    fn the_wrong_parameter_type_is_refused() {
        let c = ColumnData::new(Wire::Int4, 0);
        let mut out = BytesMut::new();
        assert!(c.to_sql_checked(&PgType::INT8_ARRAY, &mut out).is_err());
    }

    #[test]
    fn default_literals() {
        assert_eq!(literal(&Value::String("it's".into())).unwrap(), "'it''s'");
        assert_eq!(literal(&Value::Boolean(true)).unwrap(), "TRUE");
        assert_eq!(literal(&Value::Bytes(vec![1, 255])).unwrap(), "'\\x01ff'");
        assert_eq!(literal(&Value::Date(0)).unwrap(), "'1970-01-01'");
        assert_eq!(literal(&Value::Date(-1)).unwrap(), "'1969-12-31'");
        assert_eq!(literal(&Value::Date(19_782)).unwrap(), "'2024-02-29'");
        assert_eq!(literal(&Value::Time(3_723_004)).unwrap(), "'01:02:03.004'");
        assert_eq!(
            literal(&Value::Timestamp(1_709_164_800_123)).unwrap(),
            "'2024-02-29 00:00:00.123'"
        );
        assert_eq!(literal(&Value::Float64(f64::NAN)).unwrap(), "'NaN'");
        assert_eq!(
            literal(&Value::Decimal(BigDecimal::from_str("1.50").unwrap())).unwrap(),
            "1.50"
        );
        assert_eq!(literal(&Value::Array(vec![])), None);
    }
}
