//! Connect's `Values.parseString`, the cases a config literal (`InsertHeader`'s
//! `value.literal`) needs: the text is read as the narrowest schema and value it can be.
//!
//! - `""` → STRING `""`; `null` → no schema, null; `true` / `false` → BOOLEAN (surrounding
//!   whitespace allowed, case-sensitive).
//! - An integer (`42`, `-7`, `+5`, also `1.0`, `1e3`) → the smallest of INT8, INT16, INT32,
//!   INT64 that holds it; another number (`1.5`, `2.5e-3`) → FLOAT32 when finite as a float,
//!   else FLOAT64 when finite as a double, else a Decimal of the number's scale (as is an
//!   integer beyond INT64 written without exponent).
//! - `yyyy-MM-dd` → Date, `HH:mm:ss.SSSZ` → Time, `yyyy-MM-ddTHH:mm:ss.SSSZ` → Timestamp (a
//!   literal `Z`).
//! - Anything else → STRING, the text as given. As in Connect, only the first token counts
//!   when the text starts with a number followed by a delimiter (`1,2` is INT8 1).
//!
//! Not covered (deviations from Connect): arrays (`[1, 2]`) and maps (`{a: 1}`) stay strings;
//! dates and times are read strictly and in UTC, where Java reads them leniently
//! (`2024-02-30` rolls over) in the JVM's default time zone; Java's Unicode digits are not
//! digits here.

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};

use crate::data::logical::days_from_civil;
use crate::data::logical::{date_schema, decimal_schema, time_schema, timestamp_schema};
use crate::data::{Schema, SchemaAndValue, Value};

/// The characters that end a token, as in Connect's `Values.Parser`.
const DELIMITERS: &[u8] = b":,{}[]\"";

/// `Values.parseString(text)`; see the module doc for what is covered.
pub fn parse_string(text: &str) -> SchemaAndValue {
    if text.is_empty() {
        return string(text);
    }
    let tokens = tokenize(text);
    let tok = |i: usize| &text[tokens[i].0..tokens[i].1];

    // A literal must be the only non-blank token.
    if let Some(first) = (0..tokens.len()).find(|&i| !is_blank(tok(i))) {
        if first == tokens.len() - 1 {
            match java_trim(tok(first)) {
                "null" => return SchemaAndValue::null(),
                "true" => return SchemaAndValue::new(Some(Schema::boolean()), true.into()),
                "false" => return SchemaAndValue::new(Some(Schema::boolean()), false.into()),
                _ => {}
            }
        }
        if matches!(tok(first), "[" | "{") {
            // Arrays and maps are not parsed: kept as text.
            return string(text);
        }
    }

    let first = tok(0);
    if is_blank(first) {
        return string(first);
    }
    let token = java_trim(first);
    let c = token.as_bytes()[0];
    if c.is_ascii_digit() {
        // A time or timestamp spans five tokens, as `:` is a delimiter.
        if tokens.len() >= 5 {
            let joined = format!("{token}{}", &text[tokens[1].0..tokens[4].1]);
            if let Some(t) = parse_temporal(&joined) {
                return t;
            }
        }
        if let Some(t) = parse_temporal(token) {
            return t;
        }
    }
    if c.is_ascii_digit() || c == b'+' || c == b'-' {
        if let Some(n) = parse_number(token) {
            return n;
        }
    }
    string(text)
}

fn string(s: &str) -> SchemaAndValue {
    SchemaAndValue::new(Some(Schema::string()), Value::String(s.to_string()))
}

/// Java's `String.trim()`: every character up to U+0020 goes.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn is_blank(s: &str) -> bool {
    java_trim(s).is_empty()
}

/// Splits `text` into tokens (byte ranges): runs of text between delimiters, and each
/// delimiter on its own; a backslash escapes the character after it.
fn tokenize(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            escaped = !escaped;
        } else if DELIMITERS.contains(&b) && !escaped {
            if start < i {
                tokens.push((start, i));
            }
            tokens.push((i, i + 1));
            start = i + 1;
        } else {
            escaped = false;
        }
        i += 1;
    }
    if start < bytes.len() {
        tokens.push((start, bytes.len()));
    }
    tokens
}

/// The ISO 8601 forms Connect writes temporal values in, told apart by length.
fn parse_temporal(token: &str) -> Option<SchemaAndValue> {
    let t = token.replace("\\:", ":");
    let b = t.as_bytes();
    match b.len() {
        10 => {
            let days = parse_date(b)?;
            Some(SchemaAndValue::new(
                Some(date_schema()),
                Value::Date(i32::try_from(days).ok()?),
            ))
        }
        13 => {
            let ms = parse_time(b)?;
            Some(SchemaAndValue::new(
                Some(time_schema()),
                Value::Time(i32::try_from(ms).ok()?),
            ))
        }
        24 => {
            if b[10] != b'T' {
                return None;
            }
            let days = parse_date(&b[..10])?;
            let ms = parse_time(&b[11..])?;
            Some(SchemaAndValue::new(
                Some(timestamp_schema()),
                Value::Timestamp(days * 86_400_000 + ms),
            ))
        }
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `yyyy-MM-dd` → days since the epoch.
fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `HH:mm:ss.SSSZ` → milliseconds since midnight.
fn parse_time(b: &[u8]) -> Option<i64> {
    if b.len() != 13 || b[2] != b':' || b[5] != b':' || b[8] != b'.' || b[12] != b'Z' {
        return None;
    }
    let (h, m, s, ms) = (
        digits(&b[..2])?,
        digits(&b[3..5])?,
        digits(&b[6..8])?,
        digits(&b[9..12])?,
    );
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// Whether `s` is a number as Java's `new BigDecimal(s)` reads one:
/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`.
fn is_java_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn parse_number(token: &str) -> Option<SchemaAndValue> {
    if !is_java_decimal(token) {
        return None;
    }
    let decimal = BigDecimal::from_str(token.strip_prefix('+').unwrap_or(token)).ok()?;
    // Java's scale is an int: a larger exponent is not a number.
    let scale = i32::try_from(decimal.fractional_digit_count()).ok()?;
    if decimal.is_integer() {
        if let Some(n) = decimal.to_i64() {
            return Some(smallest_integer(n));
        }
    }
    if scale != 0 {
        let f: f32 = token.parse().ok()?;
        if f.is_finite() {
            return Some(SchemaAndValue::new(
                Some(Schema::float32()),
                Value::Float32(f),
            ));
        }
        let d: f64 = token.parse().ok()?;
        if d.is_finite() {
            return Some(SchemaAndValue::new(
                Some(Schema::float64()),
                Value::Float64(d),
            ));
        }
    }
    Some(SchemaAndValue::new(
        Some(decimal_schema(scale)),
        Value::Decimal(decimal),
    ))
}

fn smallest_integer(n: i64) -> SchemaAndValue {
    if let Ok(v) = i8::try_from(n) {
        SchemaAndValue::new(Some(Schema::int8()), Value::Int8(v))
    } else if let Ok(v) = i16::try_from(n) {
        SchemaAndValue::new(Some(Schema::int16()), Value::Int16(v))
    } else if let Ok(v) = i32::try_from(n) {
        SchemaAndValue::new(Some(Schema::int32()), Value::Int32(v))
    } else {
        SchemaAndValue::new(Some(Schema::int64()), Value::Int64(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LogicalType;

    fn parsed(text: &str) -> (Option<Schema>, Value) {
        let sv = parse_string(text);
        (sv.schema, sv.value)
    }

    fn is_string(text: &str) {
        assert_eq!(
            parsed(text),
            (Some(Schema::string()), Value::String(text.into())),
            "{text:?}"
        );
    }

    #[test]
    fn literals() {
        assert_eq!(parsed("null"), (None, Value::Null));
        assert_eq!(parsed("  null \t"), (None, Value::Null));
        assert_eq!(
            parsed("true"),
            (Some(Schema::boolean()), Value::Boolean(true))
        );
        assert_eq!(
            parsed(" false "),
            (Some(Schema::boolean()), Value::Boolean(false))
        );
        is_string("");
        is_string("True");
        is_string("true}");
        is_string("false]");
        is_string("null=");
        is_string("nullable");
    }

    #[test]
    fn integers_take_the_smallest_type() {
        assert_eq!(parsed("1"), (Some(Schema::int8()), Value::Int8(1)));
        assert_eq!(parsed("-128"), (Some(Schema::int8()), Value::Int8(-128)));
        assert_eq!(parsed("+5"), (Some(Schema::int8()), Value::Int8(5)));
        assert_eq!(parsed("300"), (Some(Schema::int16()), Value::Int16(300)));
        assert_eq!(
            parsed("66000"),
            (Some(Schema::int32()), Value::Int32(66000))
        );
        assert_eq!(
            parsed("9223372036854775807"),
            (Some(Schema::int64()), Value::Int64(i64::MAX))
        );
        // Integral values written with a fraction or exponent are integers too.
        assert_eq!(parsed("1.0"), (Some(Schema::int8()), Value::Int8(1)));
        assert_eq!(parsed("300.0"), (Some(Schema::int16()), Value::Int16(300)));
        assert_eq!(
            parsed("66000.0"),
            (Some(Schema::int32()), Value::Int32(66000))
        );
        assert_eq!(parsed("1e3"), (Some(Schema::int16()), Value::Int16(1000)));
    }

    #[test]
    fn other_numbers_are_floats_or_decimals() {
        assert_eq!(
            parsed("1.1"),
            (Some(Schema::float32()), Value::Float32(1.1))
        );
        assert_eq!(
            parsed("300.01"),
            (Some(Schema::float32()), Value::Float32(300.01))
        );
        assert_eq!(
            parsed("66000.0008"),
            (Some(Schema::float32()), Value::Float32(66000.0008))
        );
        assert_eq!(
            parsed("-2.5e-3"),
            (Some(Schema::float32()), Value::Float32(-0.0025))
        );
        // Too large for a float, not for a double.
        assert_eq!(
            parsed("1.5e300"),
            (Some(Schema::float64()), Value::Float64(1.5e300))
        );
        // An integer beyond INT64 written out in full has scale 0: a Decimal.
        let (schema, value) = parsed("99999999999999999999");
        let schema = schema.unwrap();
        assert_eq!(schema.logical_type(), Some(LogicalType::Decimal));
        assert_eq!(
            schema.parameters().get("scale").map(String::as_str),
            Some("0")
        );
        assert_eq!(
            value,
            Value::Decimal(BigDecimal::from_str("99999999999999999999").unwrap())
        );
        // Beyond a double as well: a Decimal of the number's (negative) scale.
        let (schema, _) = parsed("1e400");
        assert_eq!(
            schema
                .unwrap()
                .parameters()
                .get("scale")
                .map(String::as_str),
            Some("-400")
        );
    }

    #[test]
    fn temporal_literals() {
        assert_eq!(
            parsed("2017-01-03"),
            (Some(date_schema()), Value::Date(17_169))
        );
        assert_eq!(
            parsed("06:30:01.864Z"),
            (Some(time_schema()), Value::Time(23_401_864))
        );
        assert_eq!(
            parsed("2017-01-03T06:30:01.864Z"),
            (
                Some(timestamp_schema()),
                Value::Timestamp(1_483_425_001_864)
            )
        );
        assert_eq!(
            parsed("06\\:30\\:01.864Z"),
            (Some(time_schema()), Value::Time(23_401_864))
        );
        // Strict: an impossible date stays text.
        is_string("2017-02-30");
    }

    #[test]
    fn everything_else_is_text() {
        is_string("inserted-value");
        is_string("hello world");
        is_string("-");
        is_string("1-2");
        is_string("\"quoted\"");
        is_string("a:b,c");
        // Arrays and maps are not parsed.
        is_string("[1, 2]");
        is_string("{a: 1}");
        is_string("[foo]");
    }

    #[test]
    fn a_leading_number_wins_as_in_connect() {
        assert_eq!(parsed("1,2"), (Some(Schema::int8()), Value::Int8(1)));
        assert_eq!(parsed("7:x"), (Some(Schema::int8()), Value::Int8(7)));
    }

    #[test]
    fn tokens_split_on_unescaped_delimiters() {
        let t = "a:b\\,c[";
        let toks: Vec<&str> = tokenize(t).iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(toks, vec!["a", ":", "b\\,c", "["]);
        assert!(is_java_decimal("1."));
        assert!(is_java_decimal("-.5e+3"));
        assert!(!is_java_decimal("."));
        assert!(!is_java_decimal("1e"));
        assert!(!is_java_decimal("0x10"));
    }
}
