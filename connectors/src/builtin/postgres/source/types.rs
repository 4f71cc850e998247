//! PostgreSQL column types → Connect schemas, and the binary wire values → Connect values.
//!
//! The mapping is Confluent's (`GenericDatabaseDialect` and `PostgreSqlDatabaseDialect` over the
//! pgjdbc driver's JDBC types):
//!
//! | PostgreSQL | Connect |
//! |---|---|
//! | `boolean` | BOOLEAN |
//! | `smallint` / `integer` / `bigint` / `oid` | INT16 / INT32 / INT64 / INT64 |
//! | `real` / `double precision` | FLOAT32 / FLOAT64 |
//! | `numeric(p,s)` | Decimal (scale `s`, parameter `connect.decimal.precision` = `p`); with `numeric.mapping` an integer or FLOAT64 where it fits |
//! | `text`, `varchar`, `char(n)`, `name`, `"char"`, `xml`, `citext`, enums | STRING |
//! | `json`, `jsonb`, `uuid` | STRING |
//! | `bytea` | BYTES |
//! | `date` / `time`, `timetz` / `timestamp`, `timestamptz` | Date / Time / Timestamp |
//!
//! Domains map as their base type. A nullable column gives an optional field.
//!
//! Deviations from Confluent, on purpose:
//! - A column of any other type (arrays, ranges, composites, `interval`, `money`, `inet`, …) is
//!   refused with an error naming the column and its type, where Confluent silently leaves the
//!   column out of the record: losing a column without a word is worse than stopping.
//! - `numeric` without a precision keeps the Decimal schema (scale 127, as Confluent gives it
//!   under `numeric.mapping=none`) under every `numeric.mapping`; Confluent maps it to INT8
//!   under `best_fit` and `precision_only`, truncating its values.
//! - `numeric(p,s)` with a negative scale is sized by its `p − s` integer digits, not `p`.
//! - A value that does not fit its schema (`NaN` or ±infinity in a Decimal or integer, a
//!   `numeric` value with more than 127 decimal places, `date` ±infinity) fails with an error
//!   naming the column; nothing is rounded silently. `timestamp` ±infinity become pgjdbc's
//!   constants (as in Confluent's records).
//! - Dates before 1582 are proleptic Gregorian (PostgreSQL's own calendar), as Confluent's
//!   `date.calendar.system=PROLEPTIC_GREGORIAN`; its default `LEGACY` shifts them to the Julian
//!   calendar.

use std::fmt;

use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, ToPrimitive};
use thiserror::Error;
use tokio_postgres::types::{Kind, Type};

use crate::data::logical::{date_schema, decimal_builder, time_schema, timestamp_schema};
use crate::data::{Schema, SchemaBuilder, Type as ConnectType, Value};

/// The Decimal schema parameter Confluent adds with the column's precision.
pub const PRECISION_PARAMETER: &str = "connect.decimal.precision";
/// The scale Confluent gives a `numeric` column declared without precision and scale.
pub const UNCONSTRAINED_NUMERIC_SCALE: i32 = 127;
/// The most digits an integer schema holds (Confluent's `MAX_INTEGER_TYPE_PRECISION`).
const MAX_INTEGER_DIGITS: i32 = 18;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between the Unix epoch and PostgreSQL's.
const PG_EPOCH_DAYS: i32 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// What pgjdbc returns for `timestamp 'infinity'` and `'-infinity'` (`PGStatement`), and so
/// what Confluent's records hold.
const TIMESTAMP_POSITIVE_INFINITY_MS: i64 = 9_223_372_036_825_200_000;
const TIMESTAMP_NEGATIVE_INFINITY_MS: i64 = -9_223_372_036_832_400_000;

/// `numeric.mapping`: how NUMERIC columns map (Confluent's `NumericMapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericMapping {
    /// `none`: every NUMERIC is a Connect Decimal.
    None,
    /// `precision_only`: NUMERIC with a precision and scale 0 is the narrowest integer that holds
    /// it.
    PrecisionOnly,
    /// `best_fit`: integers as `precision_only`, others FLOAT64 when the precision allows.
    BestFit,
    /// `best_fit_eager_double`: as `best_fit`, and NUMERIC with a non-zero scale always FLOAT64.
    BestFitEagerDouble,
}

impl NumericMapping {
    /// The names `numeric.mapping` takes, in the variants' order.
    pub const NAMES: [&'static str; 4] = [
        "none",
        "precision_only",
        "best_fit",
        "best_fit_eager_double",
    ];

    /// Case-insensitive, as Confluent's `NumericMapping.get`.
    pub fn parse(s: &str) -> Option<NumericMapping> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "none" => NumericMapping::None,
            "precision_only" => NumericMapping::PrecisionOnly,
            "best_fit" => NumericMapping::BestFit,
            "best_fit_eager_double" => NumericMapping::BestFitEagerDouble,
            _ => return None,
        })
    }
}

/// A column whose type cannot become a Connect field.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TypeError {
    #[error(
        "column {column} of {source_name} is an array ({type_name}): the PostgreSQL source does not \
         read arrays; leave the column out with a view or a `query`"
    )]
    Array {
        column: String,
        source_name: String,
        type_name: String,
    },
    #[error(
        "column {column} of {source_name} has type {type_name}, which the PostgreSQL source cannot \
         map to a Connect schema; leave the column out or cast it (to text, say) with a view or a \
         `query`"
    )]
    Unsupported {
        column: String,
        source_name: String,
        type_name: String,
    },
}

/// A value that cannot be what its column's schema says.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("column {column}: {why}")]
pub struct ValueError {
    pub column: String,
    pub why: String,
}

/// How one column's binary values decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// A Decimal of this scale.
    Decimal(i32),
    /// An integral NUMERIC as the integer schema of `numeric.mapping`.
    NumericInt(ConnectType),
    NumericFloat64,
    /// UTF-8 text as the server sends it (text, varchar, json, xml, enum labels, …).
    Text,
    /// jsonb: a version byte, then the text.
    Jsonb,
    /// `"char"`: one byte.
    Char,
    Bytea,
    Uuid,
    Date,
    Time,
    TimeTz,
    /// `timestamp` and `timestamptz` alike: microseconds since 2000-01-01 (UTC, or the wall
    /// clock read as UTC, which is what Confluent's default `db.timezone=UTC` gives).
    Timestamp,
}

/// One result column: its field name, schema and decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    pub name: String,
    pub schema: Schema,
    pub decoder: Decoder,
}

/// What a result column is, as the server describes it.
#[derive(Debug, Clone)]
pub struct ColumnInfo<'a> {
    pub name: &'a str,
    pub ty: &'a Type,
    /// The type modifier (`numeric(p,s)`'s precision and scale); -1 when none.
    pub typmod: i32,
    pub optional: bool,
}

/// The precision and scale of a `numeric` type modifier; `(0, 0)` when unconstrained, as pgjdbc
/// reports it. A negative scale (PostgreSQL 15+) is kept.
pub fn numeric_precision_scale(typmod: i32) -> (i32, i32) {
    if typmod < 4 {
        return (0, 0);
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    // An 11-bit two's complement scale since PostgreSQL 15; the same bits before.
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    (precision, scale)
}

/// The integer schema for `digits` decimal digits (Confluent's `integerSchema`).
fn integer_type(digits: i32) -> ConnectType {
    if digits > 9 {
        ConnectType::Int64
    } else if digits > 4 {
        ConnectType::Int32
    } else if digits > 2 {
        ConnectType::Int16
    } else {
        ConnectType::Int8
    }
}

fn primitive(ty: ConnectType, optional: bool) -> Schema {
    let b = SchemaBuilder::new(ty);
    if optional { b.optional() } else { b }.build()
}

fn optional_if(schema: Schema, optional: bool) -> Schema {
    if optional {
        schema.to_builder().optional().build()
    } else {
        schema
    }
}

/// The Connect field of one column. `source_name` names the table or query for errors.
pub fn map_column(
    col: &ColumnInfo<'_>,
    source_name: &str,
    numeric: NumericMapping,
) -> Result<ColumnMapping, TypeError> {
    let mut ty = col.ty.clone();
    // Domains travel in their base type's format.
    while let Kind::Domain(base) = ty.kind() {
        ty = base.clone();
    }
    let optional = col.optional;
    let (schema, decoder) = match ty.kind() {
        Kind::Array(_) => {
            return Err(TypeError::Array {
                column: col.name.to_string(),
                source_name: source_name.to_string(),
                type_name: col.ty.name().to_string(),
            })
        }
        Kind::Enum(_) => (primitive(ConnectType::String, optional), Decoder::Text),
        Kind::Simple => match simple(&ty, col.typmod, optional, numeric) {
            Some(m) => m,
            None => {
                return Err(TypeError::Unsupported {
                    column: col.name.to_string(),
                    source_name: source_name.to_string(),
                    type_name: col.ty.name().to_string(),
                })
            }
        },
        _ => {
            return Err(TypeError::Unsupported {
                column: col.name.to_string(),
                source_name: source_name.to_string(),
                type_name: col.ty.name().to_string(),
            })
        }
    };
    Ok(ColumnMapping {
        name: col.name.to_string(),
        schema,
        decoder,
    })
}

fn simple(
    ty: &Type,
    typmod: i32,
    optional: bool,
    numeric: NumericMapping,
) -> Option<(Schema, Decoder)> {
    use ConnectType as C;
    let p = |t| primitive(t, optional);
    Some(match *ty {
        Type::BOOL => (p(C::Boolean), Decoder::Bool),
        Type::INT2 => (p(C::Int16), Decoder::Int2),
        Type::INT4 => (p(C::Int32), Decoder::Int4),
        Type::INT8 => (p(C::Int64), Decoder::Int8),
        // pgjdbc reports oid as BIGINT.
        Type::OID => (p(C::Int64), Decoder::Oid),
        Type::FLOAT4 => (p(C::Float32), Decoder::Float4),
        Type::FLOAT8 => (p(C::Float64), Decoder::Float8),
        Type::NUMERIC => numeric_field(typmod, optional, numeric),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::XML | Type::JSON => {
            (p(C::String), Decoder::Text)
        }
        Type::JSONB => (p(C::String), Decoder::Jsonb),
        Type::CHAR => (p(C::String), Decoder::Char),
        Type::UUID => (p(C::String), Decoder::Uuid),
        Type::BYTEA => (p(C::Bytes), Decoder::Bytea),
        Type::DATE => (optional_if(date_schema(), optional), Decoder::Date),
        Type::TIME => (optional_if(time_schema(), optional), Decoder::Time),
        Type::TIMETZ => (optional_if(time_schema(), optional), Decoder::TimeTz),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => (
            optional_if(timestamp_schema(), optional),
            Decoder::Timestamp,
        ),
        // citext is an extension type (no fixed OID); its values are text.
        _ if ty.name() == "citext" => (p(C::String), Decoder::Text),
        _ => return None,
    })
}

/// Confluent's NUMERIC rules (`GenericDatabaseDialect.addFieldToSchema`), see the module doc
/// for where they differ.
fn numeric_field(typmod: i32, optional: bool, mapping: NumericMapping) -> (Schema, Decoder) {
    let (precision, scale) = numeric_precision_scale(typmod);
    let constrained = precision > 0;
    // Integer digits of an integral NUMERIC (a negative scale adds zeros).
    let int_digits = precision - scale.min(0);
    let as_int = |digits: i32| {
        let t = integer_type(digits);
        (primitive(t, optional), Decoder::NumericInt(t))
    };
    let double = || {
        (
            primitive(ConnectType::Float64, optional),
            Decoder::NumericFloat64,
        )
    };
    if constrained {
        match mapping {
            NumericMapping::None => {}
            NumericMapping::PrecisionOnly => {
                if scale == 0 && precision <= MAX_INTEGER_DIGITS {
                    return as_int(precision);
                }
            }
            NumericMapping::BestFit => {
                if precision <= MAX_INTEGER_DIGITS {
                    if scale <= 0 && int_digits <= MAX_INTEGER_DIGITS {
                        return as_int(int_digits);
                    } else if scale > 0 {
                        return double();
                    }
                }
            }
            NumericMapping::BestFitEagerDouble => {
                if scale <= 0 {
                    if int_digits <= MAX_INTEGER_DIGITS {
                        return as_int(int_digits);
                    }
                } else {
                    return double();
                }
            }
        }
    }
    let decimal_scale = if constrained {
        scale
    } else {
        UNCONSTRAINED_NUMERIC_SCALE
    };
    let b = decimal_builder(decimal_scale).parameter(PRECISION_PARAMETER, precision.to_string());
    let schema = if optional { b.optional() } else { b }.build();
    (schema, Decoder::Decimal(decimal_scale))
}

fn bad(column: &str, why: impl fmt::Display) -> ValueError {
    ValueError {
        column: column.to_string(),
        why: why.to_string(),
    }
}

fn fixed<const N: usize>(column: &str, raw: &[u8]) -> Result<[u8; N], ValueError> {
    raw.try_into().map_err(|_| {
        bad(
            column,
            format!("expected {N} bytes, the server sent {}", raw.len()),
        )
    })
}

fn utf8(column: &str, raw: &[u8]) -> Result<String, ValueError> {
    String::from_utf8(raw.to_vec()).map_err(|e| bad(column, format!("not UTF-8: {e}")))
}

impl Decoder {
    /// The Connect value of one binary wire value (`None`: SQL NULL).
    pub fn decode(self, column: &str, raw: Option<&[u8]>) -> Result<Value, ValueError> {
        let Some(raw) = raw else {
            return Ok(Value::Null);
        };
        Ok(match self {
            Decoder::Bool => Value::Boolean(fixed::<1>(column, raw)?[0] != 0),
            Decoder::Int2 => Value::Int16(i16::from_be_bytes(fixed(column, raw)?)),
            Decoder::Int4 => Value::Int32(i32::from_be_bytes(fixed(column, raw)?)),
            Decoder::Int8 => Value::Int64(i64::from_be_bytes(fixed(column, raw)?)),
            Decoder::Oid => Value::Int64(i64::from(u32::from_be_bytes(fixed(column, raw)?))),
            Decoder::Float4 => Value::Float32(f32::from_be_bytes(fixed(column, raw)?)),
            Decoder::Float8 => Value::Float64(f64::from_be_bytes(fixed(column, raw)?)),
            Decoder::Decimal(scale) => {
                let d = finite_numeric(column, raw)?;
                Value::Decimal(rescale(column, d, scale)?)
            }
            Decoder::NumericInt(t) => {
                let d = finite_numeric(column, raw)?;
                let whole = d
                    .is_integer()
                    .then(|| d.to_i64())
                    .flatten()
                    .ok_or_else(|| {
                        bad(
                            column,
                            format!("{d} does not fit the column's integer schema"),
                        )
                    })?;
                let out_of_range = || bad(column, format!("{whole} does not fit {t}"));
                match t {
                    ConnectType::Int8 => {
                        Value::Int8(i8::try_from(whole).map_err(|_| out_of_range())?)
                    }
                    ConnectType::Int16 => {
                        Value::Int16(i16::try_from(whole).map_err(|_| out_of_range())?)
                    }
                    ConnectType::Int32 => {
                        Value::Int32(i32::try_from(whole).map_err(|_| out_of_range())?)
                    }
                    _ => Value::Int64(whole),
                }
            }
            Decoder::NumericFloat64 => Value::Float64(match decode_numeric(raw) {
                Ok(Numeric::Finite(d)) => {
                    d.to_string().parse::<f64>().map_err(|e| bad(column, e))?
                }
                Ok(Numeric::NaN) => f64::NAN,
                Ok(Numeric::PositiveInfinity) => f64::INFINITY,
                Ok(Numeric::NegativeInfinity) => f64::NEG_INFINITY,
                Err(why) => return Err(bad(column, why)),
            }),
            Decoder::Text => Value::String(utf8(column, raw)?),
            Decoder::Jsonb => match raw.split_first() {
                Some((1, text)) => Value::String(utf8(column, text)?),
                _ => return Err(bad(column, "unknown jsonb format version")),
            },
            Decoder::Char => Value::String(String::from_utf8_lossy(raw).into_owned()),
            Decoder::Bytea => Value::Bytes(raw.to_vec()),
            Decoder::Uuid => Value::String(uuid_string(&fixed::<16>(column, raw)?)),
            Decoder::Date => {
                let days = i32::from_be_bytes(fixed(column, raw)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err(bad(
                        column,
                        "date ±infinity cannot be a Connect Date; cast or filter it with a `query`",
                    ));
                }
                Value::Date(
                    days.checked_add(PG_EPOCH_DAYS)
                        .ok_or_else(|| bad(column, "date out of the range of a Connect Date"))?,
                )
            }
            Decoder::Time => {
                let micros = i64::from_be_bytes(fixed(column, raw)?);
                Value::Time((micros.div_euclid(1000)) as i32)
            }
            Decoder::TimeTz => {
                let b: [u8; 12] = fixed(column, raw)?;
                let local = i64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
                // Seconds west of UTC.
                let zone = i64::from(i32::from_be_bytes(b[8..].try_into().expect("4 bytes")));
                let utc = (local + zone * 1_000_000).rem_euclid(MICROS_PER_DAY);
                Value::Time((utc / 1000) as i32)
            }
            Decoder::Timestamp => {
                let micros = i64::from_be_bytes(fixed(column, raw)?);
                Value::Timestamp(timestamp_millis(micros))
            }
        })
    }
}

/// The Connect Timestamp (Unix milliseconds) of a PostgreSQL timestamp (microseconds since
/// 2000-01-01), ±infinity as pgjdbc gives them.
pub fn timestamp_millis(pg_micros: i64) -> i64 {
    match pg_micros {
        i64::MAX => TIMESTAMP_POSITIVE_INFINITY_MS,
        i64::MIN => TIMESTAMP_NEGATIVE_INFINITY_MS,
        m => (m.div_euclid(1000)).saturating_add(PG_EPOCH_MICROS / 1000),
    }
}

fn uuid_string(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// A `numeric` value as the server sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Numeric {
    Finite(BigDecimal),
    NaN,
    PositiveInfinity,
    NegativeInfinity,
}

/// Why a `numeric` value's binary form cannot be read.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NumericError {
    #[error("numeric value shorter than its header")]
    ShorterThanHeader,
    #[error("unknown numeric sign {0:#x}")]
    UnknownSign(u16),
    #[error("numeric value length does not match its digit count")]
    LengthMismatch,
    #[error("numeric digit {0} out of range")]
    DigitOutOfRange(u16),
}

/// Decodes `numeric`'s binary form: digit count, weight, sign, display scale, then base-10000
/// digits, most significant first; the value is Σ digitᵢ·10000^(weight−i).
pub fn decode_numeric(raw: &[u8]) -> Result<Numeric, NumericError> {
    if raw.len() < 8 {
        return Err(NumericError::ShorterThanHeader);
    }
    let word = |i: usize| u16::from_be_bytes([raw[2 * i], raw[2 * i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(1) as i16 as i64;
    let sign = word(2);
    let dscale = word(3) as i64;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok(Numeric::NaN),
        0xD000 => return Ok(Numeric::PositiveInfinity),
        0xF000 => return Ok(Numeric::NegativeInfinity),
        other => return Err(NumericError::UnknownSign(other)),
    }
    if raw.len() != 8 + 2 * ndigits {
        return Err(NumericError::LengthMismatch);
    }
    let mut unscaled = BigInt::from(0u32);
    for i in 0..ndigits {
        let d = word(4 + i);
        if d >= 10_000 {
            return Err(NumericError::DigitOutOfRange(d));
        }
        unscaled = unscaled * 10_000u32 + u32::from(d);
    }
    if sign == 0x4000 {
        unscaled = -unscaled;
    }
    // The last digit's place is 10000^(weight − ndigits + 1).
    let scale = 4 * (ndigits as i64 - 1 - weight);
    let value = BigDecimal::new(unscaled, scale);
    // The display scale is what the value's text shows: rescaling to it only adds or drops
    // zeros (the digits beyond it are zero).
    Ok(Numeric::Finite(value.with_scale(dscale)))
}

fn finite_numeric(column: &str, raw: &[u8]) -> Result<BigDecimal, ValueError> {
    match decode_numeric(raw).map_err(|why| bad(column, why))? {
        Numeric::Finite(d) => Ok(d),
        other => Err(bad(
            column,
            format!(
                "{} cannot be a Connect Decimal or integer; set numeric.mapping to map the column \
                 to FLOAT64, or filter the value with a `query`",
                match other {
                    Numeric::NaN => "NaN",
                    Numeric::PositiveInfinity => "Infinity",
                    _ => "-Infinity",
                }
            ),
        )),
    }
}

/// `d` at exactly `scale` decimal places, refusing to drop a non-zero digit.
fn rescale(column: &str, d: BigDecimal, scale: i32) -> Result<BigDecimal, ValueError> {
    let out = d.with_scale(i64::from(scale));
    if out != d {
        return Err(bad(
            column,
            format!("{d} has more than the {scale} decimal places of the column's Decimal schema"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use crate::data::logical::{DATE_NAME, DECIMAL_NAME, TIMESTAMP_NAME, TIME_NAME};

    /// `numeric`'s binary form of a decimal text, built digit group by digit group as the
    /// server does (the inverse of `decode_numeric`), so the tests do not trust the decoder.
    fn encode_numeric(text: &str) -> Vec<u8> {
        let negative = text.starts_with('-');
        let t = text.trim_start_matches('-');
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let dscale = frac.len();
        let int = int.trim_start_matches('0');
        // Pad the integer part to a multiple of 4 on the left, the fraction on the right.
        let ipad = (4 - int.len() % 4) % 4;
        let fpad = (4 - frac.len() % 4) % 4;
        let digits_text = format!("{}{int}{frac}{}", "0".repeat(ipad), "0".repeat(fpad));
        let mut digits: Vec<u16> = digits_text
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        let mut weight = ((int.len() + ipad) / 4) as i16 - 1;
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        let mut out = Vec::new();
        out.extend((digits.len() as u16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend((if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend((dscale as u16).to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    fn col<'a>(name: &'a str, ty: &'a Type, typmod: i32, optional: bool) -> ColumnInfo<'a> {
        ColumnInfo {
            name,
            ty,
            typmod,
            optional,
        }
    }

    fn numeric_typmod(p: i32, s: i32) -> i32 {
        ((p << 16) | (s & 0x7ff)) + 4
    }

    fn map(ty: &Type, typmod: i32, mapping: NumericMapping) -> ColumnMapping {
        map_column(&col("c", ty, typmod, false), "public.t", mapping).unwrap()
    }

    #[test]
    fn numeric_typmods_give_precision_and_scale() {
        assert_eq!(numeric_precision_scale(-1), (0, 0));
        assert_eq!(numeric_precision_scale(numeric_typmod(10, 2)), (10, 2));
        assert_eq!(numeric_precision_scale(numeric_typmod(1000, 0)), (1000, 0));
        assert_eq!(numeric_precision_scale(numeric_typmod(5, -2)), (5, -2));
    }

    #[test]
    fn numerics_decode_exactly_at_their_display_scale() {
        for text in [
            "0",
            "1",
            "-1",
            "12.34",
            "-12.34",
            "0.0001",
            "0.00012",
            "10000",
            "123456789012345678901234567890.123456789",
            "-0.5",
            "1.50",
            "99999999",
        ] {
            let Numeric::Finite(d) = decode_numeric(&encode_numeric(text)).unwrap() else {
                panic!("{text}")
            };
            assert_eq!(d.to_string(), text, "{text}");
            assert_eq!(
                d.sign() == bigdecimal::num_bigint::Sign::Minus,
                text.starts_with('-')
            );
        }
        let special = |sign: u16| {
            let mut b = vec![0, 0, 0, 0];
            b.extend(sign.to_be_bytes());
            b.extend([0, 0]);
            decode_numeric(&b).unwrap()
        };
        assert_eq!(special(0xC000), Numeric::NaN);
        assert_eq!(special(0xD000), Numeric::PositiveInfinity);
        assert_eq!(special(0xF000), Numeric::NegativeInfinity);
        assert!(decode_numeric(&[0, 1]).is_err());
    }

    #[test]
    fn numeric_none_is_a_decimal_with_confluents_precision_parameter() {
        let m = map(&Type::NUMERIC, numeric_typmod(10, 2), NumericMapping::None);
        assert_eq!(m.schema.name(), Some(DECIMAL_NAME));
        assert_eq!(m.schema.parameters()["scale"], "2");
        assert_eq!(m.schema.parameters()[PRECISION_PARAMETER], "10");
        assert_eq!(m.schema.version(), Some(1));
        assert!(!m.schema.is_optional());
        assert_eq!(
            m.decoder
                .decode("c", Some(&encode_numeric("12.5")))
                .unwrap(),
            Value::Decimal(BigDecimal::from_str("12.50").unwrap())
        );
        // Unconstrained: scale 127, precision 0, whatever the mapping.
        for mapping in [
            NumericMapping::None,
            NumericMapping::BestFit,
            NumericMapping::PrecisionOnly,
            NumericMapping::BestFitEagerDouble,
        ] {
            let m = map(&Type::NUMERIC, -1, mapping);
            assert_eq!(m.schema.parameters()["scale"], "127");
            assert_eq!(m.schema.parameters()[PRECISION_PARAMETER], "0");
            let Value::Decimal(d) = m
                .decoder
                .decode("c", Some(&encode_numeric("1.25")))
                .unwrap()
            else {
                panic!()
            };
            assert_eq!(d, BigDecimal::from_str("1.25").unwrap());
            assert_eq!(d.fractional_digit_count(), 127);
        }
    }

    #[test]
    fn best_fit_maps_by_precision_and_scale() {
        let t = |p, s, mapping| {
            map(&Type::NUMERIC, numeric_typmod(p, s), mapping)
                .schema
                .ty()
        };
        use ConnectType as C;
        use NumericMapping as N;
        assert_eq!(t(2, 0, N::BestFit), C::Int8);
        assert_eq!(t(4, 0, N::BestFit), C::Int16);
        assert_eq!(t(9, 0, N::BestFit), C::Int32);
        assert_eq!(t(18, 0, N::BestFit), C::Int64);
        assert_eq!(t(19, 0, N::BestFit), C::Bytes);
        assert_eq!(t(10, 2, N::BestFit), C::Float64);
        assert_eq!(t(20, 2, N::BestFit), C::Bytes);
        assert_eq!(t(3, -2, N::BestFit), C::Int32);
        assert_eq!(t(10, 2, N::PrecisionOnly), C::Bytes);
        assert_eq!(t(5, 0, N::PrecisionOnly), C::Int32);
        assert_eq!(t(20, 2, N::BestFitEagerDouble), C::Float64);
        assert_eq!(t(20, 0, N::BestFitEagerDouble), C::Bytes);
        let m = map(&Type::NUMERIC, numeric_typmod(4, 0), N::BestFit);
        assert_eq!(
            m.decoder
                .decode("c", Some(&encode_numeric("-1234")))
                .unwrap(),
            Value::Int16(-1234)
        );
        let m = map(&Type::NUMERIC, numeric_typmod(10, 3), N::BestFit);
        assert_eq!(
            m.decoder
                .decode("c", Some(&encode_numeric("-1.125")))
                .unwrap(),
            Value::Float64(-1.125)
        );
    }

    #[test]
    fn values_that_do_not_fit_fail_naming_the_column() {
        let m = map(&Type::NUMERIC, numeric_typmod(10, 2), NumericMapping::None);
        let mut nan = vec![0, 0, 0, 0];
        nan.extend(0xC000u16.to_be_bytes());
        nan.extend([0, 0]);
        let e = m.decoder.decode("price", Some(&nan)).unwrap_err();
        assert_eq!(e.column, "price");
        assert!(
            e.to_string().starts_with("column price: NaN cannot be"),
            "{e}"
        );
        let e = m
            .decoder
            .decode("price", Some(&encode_numeric("1.125")))
            .unwrap_err();
        assert!(
            e.to_string().contains("more than the 2 decimal places"),
            "{e}"
        );
        let e = Decoder::Date
            .decode("d", Some(&i32::MAX.to_be_bytes()))
            .unwrap_err();
        assert!(e.to_string().contains("infinity"), "{e}");
    }

    #[test]
    fn every_supported_type_has_connect_s_schema() {
        let s = |ty: &Type| map(ty, -1, NumericMapping::None).schema;
        use ConnectType as C;
        for (ty, want) in [
            (Type::BOOL, C::Boolean),
            (Type::INT2, C::Int16),
            (Type::INT4, C::Int32),
            (Type::INT8, C::Int64),
            (Type::OID, C::Int64),
            (Type::FLOAT4, C::Float32),
            (Type::FLOAT8, C::Float64),
            (Type::TEXT, C::String),
            (Type::VARCHAR, C::String),
            (Type::BPCHAR, C::String),
            (Type::NAME, C::String),
            (Type::CHAR, C::String),
            (Type::JSON, C::String),
            (Type::JSONB, C::String),
            (Type::UUID, C::String),
            (Type::XML, C::String),
            (Type::BYTEA, C::Bytes),
        ] {
            let schema = s(&ty);
            assert_eq!(schema.ty(), want, "{ty}");
            assert_eq!(schema.name(), None, "{ty}");
        }
        assert_eq!(s(&Type::DATE).name(), Some(DATE_NAME));
        assert_eq!(s(&Type::TIME).name(), Some(TIME_NAME));
        assert_eq!(s(&Type::TIMETZ).name(), Some(TIME_NAME));
        assert_eq!(s(&Type::TIMESTAMP).name(), Some(TIMESTAMP_NAME));
        assert_eq!(s(&Type::TIMESTAMPTZ).name(), Some(TIMESTAMP_NAME));
        let optional = map_column(
            &col("c", &Type::TIMESTAMP, -1, true),
            "t",
            NumericMapping::None,
        )
        .unwrap();
        assert!(optional.schema.is_optional());
        assert_eq!(optional.schema.name(), Some(TIMESTAMP_NAME));
    }

    #[test]
    fn arrays_and_unknown_types_are_refused_naming_the_column() {
        let e = map_column(
            &col("tags", &Type::TEXT_ARRAY, -1, true),
            "public.items",
            NumericMapping::None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "column tags of public.items is an array (_text): the PostgreSQL source does not read \
             arrays; leave the column out with a view or a `query`"
        );
        let e = map_column(
            &col("span", &Type::INTERVAL, -1, true),
            "public.items",
            NumericMapping::None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("column span of public.items has type interval"),
            "{e}"
        );
    }

    #[test]
    fn wire_values_decode_to_connect_values() {
        let d = |dec: Decoder, raw: &[u8]| dec.decode("c", Some(raw)).unwrap();
        assert_eq!(d(Decoder::Bool, &[1]), Value::Boolean(true));
        assert_eq!(d(Decoder::Bool, &[0]), Value::Boolean(false));
        assert_eq!(d(Decoder::Int2, &(-2i16).to_be_bytes()), Value::Int16(-2));
        assert_eq!(
            d(Decoder::Int4, &i32::MIN.to_be_bytes()),
            Value::Int32(i32::MIN)
        );
        assert_eq!(
            d(Decoder::Int8, &i64::MAX.to_be_bytes()),
            Value::Int64(i64::MAX)
        );
        assert_eq!(
            d(Decoder::Oid, &u32::MAX.to_be_bytes()),
            Value::Int64(4_294_967_295)
        );
        assert_eq!(
            d(Decoder::Float4, &1.5f32.to_be_bytes()),
            Value::Float32(1.5)
        );
        assert_eq!(
            d(Decoder::Float8, &(-0.25f64).to_be_bytes()),
            Value::Float64(-0.25)
        );
        assert_eq!(
            d(Decoder::Text, "héllo".as_bytes()),
            Value::String("héllo".into())
        );
        assert_eq!(
            d(Decoder::Jsonb, b"\x01{\"a\": 1}"),
            Value::String("{\"a\": 1}".into())
        );
        assert_eq!(d(Decoder::Char, b"x"), Value::String("x".into()));
        assert_eq!(d(Decoder::Bytea, &[0, 255]), Value::Bytes(vec![0, 255]));
        let uuid = [
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11,
        ];
        assert_eq!(
            d(Decoder::Uuid, &uuid),
            Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())
        );
        // 2000-01-02 is day 10958 since the Unix epoch; 1969-12-31 is day -1.
        assert_eq!(d(Decoder::Date, &1i32.to_be_bytes()), Value::Date(10_958));
        assert_eq!(
            d(Decoder::Date, &(-10_958i32).to_be_bytes()),
            Value::Date(-1)
        );
        // 13:14:15.678912 → milliseconds since midnight, sub-millisecond digits dropped.
        let t = (13 * 3600 + 14 * 60 + 15) * 1_000_000i64 + 678_912;
        assert_eq!(d(Decoder::Time, &t.to_be_bytes()), Value::Time(47_655_678));
        // 10:00 at UTC+2 (zone -7200 s west) is 08:00 UTC; 01:00 at UTC+2 wraps to 23:00.
        let tz = |local_h: i64, west: i32| {
            let mut b = (local_h * 3_600_000_000).to_be_bytes().to_vec();
            b.extend(west.to_be_bytes());
            d(Decoder::TimeTz, &b)
        };
        assert_eq!(tz(10, -7200), Value::Time(8 * 3_600_000));
        assert_eq!(tz(1, -7200), Value::Time(23 * 3_600_000));
        // 2000-01-01 00:00:00.001999 → 946684800001 ms; before the epochs, floored.
        assert_eq!(
            d(Decoder::Timestamp, &1_999i64.to_be_bytes()),
            Value::Timestamp(946_684_800_001)
        );
        assert_eq!(
            d(Decoder::Timestamp, &(-PG_EPOCH_MICROS - 1).to_be_bytes()),
            Value::Timestamp(-1)
        );
        assert_eq!(
            d(Decoder::Timestamp, &i64::MAX.to_be_bytes()),
            Value::Timestamp(TIMESTAMP_POSITIVE_INFINITY_MS)
        );
        assert_eq!(Decoder::Int4.decode("c", None).unwrap(), Value::Null);
        assert!(Decoder::Int4.decode("c", Some(&[1, 2])).is_err());
    }
}
