//! Logical types (Decimal, Date, Time, Timestamp), as in `org.apache.kafka.connect.data`.
//!
//! A logical type is a primitive schema with a well-known name and version 1. In this data
//! model the logical value has a [`Value`] variant of its own (`Value::Decimal`,
//! `Value::Date`, `Value::Time`, `Value::Timestamp`); the *carrier* is the primitive value
//! that represents it on the wire (BYTES, INT32, INT32, INT64). [`to_carrier`] and
//! [`from_carrier`] convert between the two for any of the four types.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use super::schema::{Schema, SchemaBuilder, Type};
use super::value::Value;
use crate::error::{ConnectError, ConnectResult};

/// `Decimal.LOGICAL_NAME`.
pub const DECIMAL_NAME: &str = "org.apache.kafka.connect.data.Decimal";
/// `Date.LOGICAL_NAME`.
pub const DATE_NAME: &str = "org.apache.kafka.connect.data.Date";
/// `Time.LOGICAL_NAME`.
pub const TIME_NAME: &str = "org.apache.kafka.connect.data.Time";
/// `Timestamp.LOGICAL_NAME`.
pub const TIMESTAMP_NAME: &str = "org.apache.kafka.connect.data.Timestamp";
/// `Decimal.SCALE_FIELD`: the schema parameter holding a Decimal's scale.
pub const DECIMAL_SCALE_PARAM: &str = "scale";

/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// The four logical types Connect defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicalType {
    /// `org.apache.kafka.connect.data.Decimal`: BYTES holding an unscaled integer, with a `scale`
    /// parameter.
    Decimal,
    /// `org.apache.kafka.connect.data.Date`: INT32 days since the Unix epoch.
    Date,
    /// `org.apache.kafka.connect.data.Time`: INT32 milliseconds since midnight.
    Time,
    /// `org.apache.kafka.connect.data.Timestamp`: INT64 milliseconds since the Unix epoch.
    Timestamp,
}

impl LogicalType {
    /// Recognises a logical type by the schema's name (as Connect's converters do; the type
    /// of the schema is not looked at).
    pub fn of(schema: &Schema) -> Option<LogicalType> {
        Self::from_name(schema.name()?)
    }

    /// The logical type a schema name stands for, if any.
    pub fn from_name(name: &str) -> Option<LogicalType> {
        match name {
            DECIMAL_NAME => Some(LogicalType::Decimal),
            DATE_NAME => Some(LogicalType::Date),
            TIME_NAME => Some(LogicalType::Time),
            TIMESTAMP_NAME => Some(LogicalType::Timestamp),
            _ => None,
        }
    }

    /// The schema name of this logical type.
    pub fn name(self) -> &'static str {
        match self {
            LogicalType::Decimal => DECIMAL_NAME,
            LogicalType::Date => DATE_NAME,
            LogicalType::Time => TIME_NAME,
            LogicalType::Timestamp => TIMESTAMP_NAME,
        }
    }

    /// The schema type carrying the logical value.
    pub fn carrier_type(self) -> Type {
        match self {
            LogicalType::Decimal => Type::Bytes,
            LogicalType::Date | LogicalType::Time => Type::Int32,
            LogicalType::Timestamp => Type::Int64,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decimal

/// `Decimal.builder(scale)`: BYTES named `org.apache.kafka.connect.data.Decimal`, version 1,
/// parameter `scale`.
pub fn decimal_builder(scale: i32) -> SchemaBuilder {
    SchemaBuilder::new(Type::Bytes)
        .name(DECIMAL_NAME)
        .parameter(DECIMAL_SCALE_PARAM, scale.to_string())
        .version(1)
}

/// `Decimal.schema(scale)`.
pub fn decimal_schema(scale: i32) -> Schema {
    decimal_builder(scale).build()
}

/// The scale a Decimal schema declares (`Decimal.scale(schema)`).
pub fn decimal_scale(schema: &Schema) -> ConnectResult<i32> {
    let s = schema
        .parameters()
        .get(DECIMAL_SCALE_PARAM)
        .ok_or_else(|| ConnectError::data("Invalid Decimal schema: scale parameter not found."))?;
    s.parse::<i32>().map_err(|_| {
        ConnectError::data(format!(
            "Invalid scale parameter found in Decimal schema: {s:?}"
        ))
    })
}

/// The unscaled value of `value` as big-endian two's-complement bytes, in the fewest bytes
/// (at least one), like Java's `BigInteger.toByteArray()`. The scale is not encoded.
pub fn encode_decimal(value: &BigDecimal) -> Vec<u8> {
    let (unscaled, _) = value.as_bigint_and_exponent();
    unscaled.to_signed_bytes_be()
}

/// The inverse of [`encode_decimal`]: `new BigDecimal(new BigInteger(bytes), scale)`.
pub fn decode_decimal(bytes: &[u8], scale: i32) -> ConnectResult<BigDecimal> {
    if bytes.is_empty() {
        return Err(ConnectError::data(
            "Invalid Decimal bytes: zero length BigInteger",
        ));
    }
    Ok(BigDecimal::new(
        BigInt::from_signed_bytes_be(bytes),
        i64::from(scale),
    ))
}

/// `Decimal.fromLogical`: the value's scale must equal the schema's.
pub fn decimal_from_logical(schema: &Schema, value: &BigDecimal) -> ConnectResult<Vec<u8>> {
    let scale = decimal_scale(schema)?;
    if value.fractional_digit_count() != i64::from(scale) {
        return Err(ConnectError::data(
            "BigDecimal has mismatching scale value for given Decimal schema",
        ));
    }
    Ok(encode_decimal(value))
}

/// `Decimal.toLogical`.
pub fn decimal_to_logical(schema: &Schema, bytes: &[u8]) -> ConnectResult<BigDecimal> {
    decode_decimal(bytes, decimal_scale(schema)?)
}

// ---------------------------------------------------------------------------------------------
// Date, Time, Timestamp

/// `Date.builder()`: INT32 named `org.apache.kafka.connect.data.Date`, version 1. Values are
/// days since the Unix epoch.
pub fn date_builder() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(DATE_NAME).version(1)
}

/// `Date.SCHEMA`.
pub fn date_schema() -> Schema {
    date_builder().build()
}

/// `Time.builder()`: INT32 named `org.apache.kafka.connect.data.Time`, version 1. Values are
/// milliseconds since midnight.
pub fn time_builder() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(TIME_NAME).version(1)
}

/// `Time.SCHEMA`.
pub fn time_schema() -> Schema {
    time_builder().build()
}

/// `Timestamp.builder()`: INT64 named `org.apache.kafka.connect.data.Timestamp`, version 1.
/// Values are milliseconds since the Unix epoch.
pub fn timestamp_builder() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int64)
        .name(TIMESTAMP_NAME)
        .version(1)
}

/// `Timestamp.SCHEMA`.
pub fn timestamp_schema() -> Schema {
    timestamp_builder().build()
}

/// Checks a Time value like `Time.toLogical` does (0 ..= 86 400 000 ms).
pub fn check_time_millis(millis: i32) -> ConnectResult<()> {
    if millis < 0 || i64::from(millis) > MILLIS_PER_DAY {
        return Err(ConnectError::data(
            "Time values must use number of milliseconds greater than 0 and less than 86400000",
        ));
    }
    Ok(())
}

/// Milliseconds since the epoch of a Date value (days since the epoch).
pub fn date_to_epoch_millis(days: i32) -> i64 {
    i64::from(days) * MILLIS_PER_DAY
}

/// Days since the epoch of a point in time that must be a midnight UTC, as
/// `Date.fromLogical` requires.
pub fn date_from_epoch_millis(millis: i64) -> ConnectResult<i32> {
    if millis.rem_euclid(MILLIS_PER_DAY) != 0 {
        return Err(ConnectError::data(
            "Kafka Connect Date type should not have any time fields set to non-zero values.",
        ));
    }
    i32::try_from(millis.div_euclid(MILLIS_PER_DAY))
        .map_err(|_| ConnectError::data("Date out of the range of an INT32 day count"))
}

/// (year, month 1-12, day 1-31) → days since 1970-01-01, in the proleptic Gregorian
/// calendar (`java.time`'s; Java's `GregorianCalendar` is Julian before 1582-10-15).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

// ---------------------------------------------------------------------------------------------
// Carrier conversions

/// Logical value → carrier value for `schema` (a logical schema): `Decimal` → `Bytes` (the
/// scale must match), `Date`/`Time` → `Int32`, `Timestamp` → `Int64`. `Null` stays `Null`;
/// values of a schema that is not logical are returned unchanged.
pub fn to_carrier(schema: &Schema, value: &Value) -> ConnectResult<Value> {
    let Some(lt) = schema.logical_type() else {
        return Ok(value.clone());
    };
    match (lt, value) {
        (_, Value::Null) => Ok(Value::Null),
        (LogicalType::Decimal, Value::Decimal(d)) => {
            Ok(Value::Bytes(decimal_from_logical(schema, d)?))
        }
        (LogicalType::Date, Value::Date(days)) => Ok(Value::Int32(*days)),
        (LogicalType::Time, Value::Time(ms)) => {
            check_time_millis(*ms).map_err(|_| {
                ConnectError::data(
                    "Kafka Connect Time type should not have any date fields set to non-zero values.",
                )
            })?;
            Ok(Value::Int32(*ms))
        }
        (LogicalType::Timestamp, Value::Timestamp(ms)) => Ok(Value::Int64(*ms)),
        (lt, v) => Err(ConnectError::data(format!(
            "Invalid type for {}: expected the logical value but was {}",
            short_name(lt),
            v.kind()
        ))),
    }
}

/// Carrier value → logical value for `schema` (a logical schema): `Bytes` → `Decimal` (with
/// the schema's scale), `Int32` → `Date`/`Time`, `Int64` → `Timestamp`. Logical values already
/// of the right kind and `Null` pass through; values of a schema that is not logical are
/// returned unchanged.
pub fn from_carrier(schema: &Schema, value: &Value) -> ConnectResult<Value> {
    let Some(lt) = schema.logical_type() else {
        return Ok(value.clone());
    };
    match (lt, value) {
        (_, Value::Null) => Ok(Value::Null),
        (LogicalType::Decimal, Value::Bytes(b)) => {
            Ok(Value::Decimal(decimal_to_logical(schema, b)?))
        }
        (LogicalType::Decimal, Value::Decimal(_))
        | (LogicalType::Date, Value::Date(_))
        | (LogicalType::Time, Value::Time(_))
        | (LogicalType::Timestamp, Value::Timestamp(_)) => Ok(value.clone()),
        (LogicalType::Date, Value::Int32(d)) => Ok(Value::Date(*d)),
        (LogicalType::Time, Value::Int32(ms)) => {
            check_time_millis(*ms)?;
            Ok(Value::Time(*ms))
        }
        (LogicalType::Timestamp, Value::Int64(ms)) => Ok(Value::Timestamp(*ms)),
        (lt, v) => Err(ConnectError::data(format!(
            "Invalid type for {}, underlying representation should be {} but was {}",
            short_name(lt),
            lt.carrier_type().name(),
            v.kind()
        ))),
    }
}

fn short_name(lt: LogicalType) -> &'static str {
    match lt {
        LogicalType::Decimal => "Decimal",
        LogicalType::Date => "Date",
        LogicalType::Time => "Time",
        LogicalType::Timestamp => "Timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(unscaled: i64, scale: i64) -> BigDecimal {
        BigDecimal::new(BigInt::from(unscaled), scale)
    }

    // JsonConverterTest.decimalToJson / decimalToConnect: "Payload is base64 encoded
    // byte[]{0, -100}, which is the two's complement encoding of 156."
    #[test]
    fn decimal_156_scale_2_encodes_as_0_156() {
        let d = dec(156, 2);
        assert_eq!(encode_decimal(&d), vec![0u8, 156]);
        assert_eq!(
            decimal_from_logical(&decimal_schema(2), &d).unwrap(),
            vec![0u8, 156]
        );
        let back = decimal_to_logical(&decimal_schema(2), &[0, 156]).unwrap();
        assert_eq!(back.as_bigint_and_exponent(), (BigInt::from(156), 2));
    }

    #[test]
    fn decimal_encoding_is_minimal_twos_complement() {
        // Values as Java's BigInteger.toByteArray() gives them.
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (-1, &[0xff]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
            (255, &[0x00, 0xff]),
            (256, &[0x01, 0x00]),
            (-390, &[0xfe, 0x7a]),
        ];
        for (n, bytes) in cases {
            assert_eq!(encode_decimal(&dec(*n, 0)), bytes.to_vec(), "{n}");
            assert_eq!(decode_decimal(bytes, 0).unwrap(), dec(*n, 0), "{n}");
        }
        let big = BigDecimal::from_str("-123456789012345678901234567890.12345").unwrap();
        let enc = encode_decimal(&big);
        let back = decode_decimal(&enc, 5).unwrap();
        assert_eq!(back.as_bigint_and_exponent(), big.as_bigint_and_exponent());
        assert!(decode_decimal(&[], 2).is_err());
    }

    #[test]
    fn decimal_scale_must_match() {
        let err = decimal_from_logical(&decimal_schema(2), &dec(15, 1)).unwrap_err();
        assert!(matches!(err, ConnectError::Data(m) if m.contains("mismatching scale")));
        let s = SchemaBuilder::new(Type::Bytes).name(DECIMAL_NAME).build();
        assert!(decimal_scale(&s).is_err());
    }

    #[test]
    fn logical_schemas_match_kafka() {
        let d = decimal_schema(2);
        assert_eq!(d.ty(), Type::Bytes);
        assert_eq!(d.name(), Some(DECIMAL_NAME));
        assert_eq!(d.version(), Some(1));
        assert_eq!(d.parameters().get("scale").map(String::as_str), Some("2"));
        assert!(!d.is_optional());
        for (s, ty, name) in [
            (date_schema(), Type::Int32, DATE_NAME),
            (time_schema(), Type::Int32, TIME_NAME),
            (timestamp_schema(), Type::Int64, TIMESTAMP_NAME),
        ] {
            assert_eq!(s.ty(), ty);
            assert_eq!(s.name(), Some(name));
            assert_eq!(s.version(), Some(1));
            assert!(s.parameters().is_empty());
        }
    }

    #[test]
    fn carrier_conversions() {
        let ds = decimal_schema(2);
        assert_eq!(
            to_carrier(&ds, &Value::Decimal(dec(156, 2))).unwrap(),
            Value::Bytes(vec![0, 156])
        );
        assert_eq!(
            from_carrier(&ds, &Value::Bytes(vec![0, 156])).unwrap(),
            Value::Decimal(dec(156, 2))
        );
        assert_eq!(
            to_carrier(&date_schema(), &Value::Date(10000)).unwrap(),
            Value::Int32(10000)
        );
        assert_eq!(
            from_carrier(&date_schema(), &Value::Int32(10000)).unwrap(),
            Value::Date(10000)
        );
        assert_eq!(
            from_carrier(&time_schema(), &Value::Int32(14_400_000)).unwrap(),
            Value::Time(14_400_000)
        );
        assert!(from_carrier(&time_schema(), &Value::Int32(-1)).is_err());
        assert!(from_carrier(&time_schema(), &Value::Int32(86_400_001)).is_err());
        assert_eq!(
            to_carrier(&timestamp_schema(), &Value::Timestamp(4_000_000_000)).unwrap(),
            Value::Int64(4_000_000_000)
        );
        assert_eq!(
            from_carrier(&timestamp_schema(), &Value::Int64(4_000_000_000)).unwrap(),
            Value::Timestamp(4_000_000_000)
        );
        assert!(to_carrier(&timestamp_schema(), &Value::Int64(1)).is_err());
        assert!(from_carrier(&date_schema(), &Value::Int64(1)).is_err());
        assert_eq!(
            to_carrier(&Schema::int32(), &Value::Int32(7)).unwrap(),
            Value::Int32(7)
        );
    }

    #[test]
    fn civil_conversions_round_trip() {
        for days in [-719_468, -1, 0, 1, 59, 11_016, 17_169, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(17_169), (2017, 1, 3));
    }

    #[test]
    fn date_millis() {
        assert_eq!(date_to_epoch_millis(10000), 864_000_000_000);
        assert_eq!(date_from_epoch_millis(864_000_000_000).unwrap(), 10000);
        assert_eq!(date_from_epoch_millis(-MILLIS_PER_DAY).unwrap(), -1);
        assert!(date_from_epoch_millis(1).is_err());
    }
}
