//! Java's text forms of numbers and Connect values: `Double.toString`, `Float.toString`,
//! `BigDecimal.toString` and `toString()` of Connect's Java objects. Jackson writes floats and
//! decimals with these, so the JSON converter needs them to produce Kafka's bytes.
//!
//! Floats follow the JDK 19+ specification (shortest decimal that rounds to the value; when
//! that has one digit, the closest two-digit one). JDK 17 and older occasionally printed more
//! digits than needed for some values (e.g. `2.0E-3` is fine, but values such as `1.0E23` vs
//! `9.999999999999999E22` differ between JDKs); those rare outputs are not reproduced.

use base64::Engine as _;
use bigdecimal::num_bigint::Sign;
use bigdecimal::BigDecimal;

use super::logical::{civil_from_days, date_to_epoch_millis, MILLIS_PER_DAY};
use super::value::Value;

/// `Double.toString(v)`: `12.34`, `1.0`, `1.0E10`, `1.0E-4`, `NaN`, `-Infinity`.
pub fn double_to_string(v: f64) -> String {
    let mut buf = FloatText::new();
    java_double_text(v, &mut buf).to_string()
}

/// `Float.toString(v)`: `12.34`, `1.0E10`, `3.4028235E38`.
pub fn float_to_string(v: f32) -> String {
    let mut buf = FloatText::new();
    java_float_text(v, &mut buf).to_string()
}

/// Room for Java's text of a float or double, so that writing one allocates nothing (the
/// JSON converter writes many per second). The longest is about 25 bytes
/// (`-2.2250738585072014E-308`, `-0.0012345678901234567`).
pub struct FloatText {
    buf: [u8; 48],
    len: usize,
}

impl FloatText {
    /// An empty buffer.
    pub fn new() -> Self {
        FloatText {
            buf: [0; 48],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    fn push_all(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.push(*b);
        }
    }
}

impl Default for FloatText {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Write for FloatText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.push_all(s.as_bytes());
        Ok(())
    }
}

/// `Double.toString(v)` in `buf`, returned as text.
pub fn java_double_text(v: f64, buf: &mut FloatText) -> &str {
    java_text(
        v.is_nan(),
        v.is_infinite(),
        v == 0.0,
        v.is_sign_negative(),
        v.abs(),
        |t| t.parse::<f64>() == Ok(v.abs()),
        buf,
    )
}

/// `Float.toString(v)` in `buf`, returned as text.
pub fn java_float_text(v: f32, buf: &mut FloatText) -> &str {
    java_text(
        v.is_nan(),
        v.is_infinite(),
        v == 0.0,
        v.is_sign_negative(),
        v.abs(),
        |t| t.parse::<f32>() == Ok(v.abs()),
        buf,
    )
}

/// The shortest decimal digits that read back as `a` (Rust's `{:e}` gives them); when that is
/// a single digit, the closest two-digit decimal if it also reads back (JDK 19+ prints
/// `4.9E-324`, not `5.0E-324`); then Java's layout.
fn java_text<F: std::fmt::LowerExp + Copy>(
    nan: bool,
    infinite: bool,
    zero: bool,
    negative: bool,
    a: F,
    reads_back: impl Fn(&str) -> bool,
    out: &mut FloatText,
) -> &str {
    use std::fmt::Write as _;
    out.len = 0;
    if nan {
        out.push_all(b"NaN");
    } else if infinite {
        out.push_all(if negative { b"-Infinity" } else { b"Infinity" });
    } else if zero {
        out.push_all(if negative { b"-0.0" } else { b"0.0" });
    } else {
        let mut sci = FloatText::new();
        let _ = write!(sci, "{a:e}");
        let (mut digits, mut exp) = split_exp(sci.as_str());
        if digits.len == 1 {
            let mut sci2 = FloatText::new();
            let _ = write!(sci2, "{a:.1e}");
            let (d2, e2) = split_exp(sci2.as_str());
            let mut candidate = FloatText::new();
            let d2s = d2.as_str();
            let _ = write!(candidate, "{}.{}e{}", &d2s[..1], &d2s[1..], e2);
            if reads_back(candidate.as_str()) {
                digits = d2;
                exp = e2;
            }
        }
        layout(negative, digits.as_str(), exp, out);
    }
    out.as_str()
}

/// Splits Rust's `{:e}` output (`1.234e-5`) into significant digits without trailing zeros
/// (`1234`) and the decimal exponent of the first digit (`-5`).
fn split_exp(s: &str) -> (FloatText, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let mut digits = FloatText::new();
    for b in mant.bytes().filter(u8::is_ascii_digit) {
        digits.push(b);
    }
    while digits.len > 1 && digits.buf[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    (digits, exp.parse().unwrap_or(0))
}

/// Java's layout: plain for 10^-3 <= |v| < 10^7, else computerized scientific notation, with
/// at least one digit after the point.
fn layout(negative: bool, digits: &str, exp: i32, out: &mut FloatText) {
    use std::fmt::Write as _;
    let digits = digits.as_bytes();
    if negative {
        out.push(b'-');
    }
    let n = digits.len() as i32;
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                out.push_all(digits);
                for _ in 0..(int_len - n) {
                    out.push(b'0');
                }
                out.push_all(b".0");
            } else {
                out.push_all(&digits[..int_len as usize]);
                out.push(b'.');
                out.push_all(&digits[int_len as usize..]);
            }
        } else {
            out.push_all(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.push_all(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if n > 1 {
            out.push_all(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        let _ = write!(out, "{exp}");
    }
}

/// `BigDecimal.toString()`: plain notation when the scale is positive and the adjusted
/// exponent is at least -6 (`1.56`, `0.000001`, `0.00`), otherwise scientific (`1E-7`,
/// `1.23E+4`, `0E+2`); scale 0 prints the integer.
pub fn big_decimal_to_string(d: &BigDecimal) -> String {
    let (unscaled, scale) = d.as_bigint_and_exponent();
    let negative = unscaled.sign() == Sign::Minus;
    let coeff = unscaled.magnitude().to_string();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&coeff);
        return out;
    }
    let len = coeff.len() as i64;
    let adjusted = -scale + (len - 1);
    if scale > 0 && adjusted >= -6 {
        let pad = scale - len;
        if pad >= 0 {
            out.push_str("0.");
            for _ in 0..pad {
                out.push('0');
            }
            out.push_str(&coeff);
        } else {
            let split = (len - scale) as usize;
            out.push_str(&coeff[..split]);
            out.push('.');
            out.push_str(&coeff[split..]);
        }
    } else {
        out.push_str(&coeff[..1]);
        if len > 1 {
            out.push('.');
            out.push_str(&coeff[1..]);
        }
        if adjusted != 0 {
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
    }
    out
}

/// `java.util.Date.toString()` in UTC: `Thu Jan 01 00:00:00 UTC 1970`.
pub fn epoch_millis_to_java_date_string(millis: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let ms_of_day = millis.rem_euclid(MILLIS_PER_DAY);
    let secs = ms_of_day / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        y
    )
}

pub(crate) fn value_to_java_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Int8(x) => out.push_str(&x.to_string()),
        Value::Int16(x) => out.push_str(&x.to_string()),
        Value::Int32(x) => out.push_str(&x.to_string()),
        Value::Int64(x) => out.push_str(&x.to_string()),
        Value::Float32(x) => out.push_str(&float_to_string(*x)),
        Value::Float64(x) => out.push_str(&double_to_string(*x)),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => out.push_str(&base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(k, out);
                out.push('=');
                write_value(val, out);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push_str("Struct{");
            let mut first = true;
            for (f, val) in s.schema.fields().iter().zip(&s.values) {
                if val.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&f.name);
                out.push('=');
                write_value(val, out);
            }
            out.push('}');
        }
        Value::Decimal(d) => out.push_str(&big_decimal_to_string(d)),
        Value::Date(days) => out.push_str(&epoch_millis_to_java_date_string(date_to_epoch_millis(
            *days,
        ))),
        Value::Time(ms) => out.push_str(&epoch_millis_to_java_date_string(i64::from(*ms))),
        Value::Timestamp(ms) => out.push_str(&epoch_millis_to_java_date_string(*ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, Struct};
    use bigdecimal::num_bigint::BigInt;

    #[test]
    fn doubles_print_like_java() {
        // Expected strings are what Double.toString returns.
        let cases: &[(f64, &str)] = &[
            (12.34, "12.34"),
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (9999999.0, "9999999.0"),
            (1.0e7, "1.0E7"),
            (1.0e10, "1.0E10"),
            (1.234e-5, "1.234E-5"),
            (123456789.0, "1.23456789E8"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::from_bits(1), "4.9E-324"),
            (1.0e23, "1.0E23"),
            (12.24, "12.24"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, s) in cases {
            assert_eq!(double_to_string(*v), *s, "{v:e}");
        }
    }

    #[test]
    fn floats_print_like_java() {
        let cases: &[(f32, &str)] = &[
            (12.34, "12.34"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.0e10, "1.0E10"),
            (1.0e-5, "1.0E-5"),
            (f32::MAX, "3.4028235E38"),
            (f32::from_bits(1), "1.4E-45"),
            (3.0e-3, "0.003"),
            (-2.5e6, "-2500000.0"),
        ];
        for (v, s) in cases {
            assert_eq!(float_to_string(*v), *s, "{v:e}");
        }
    }

    #[test]
    fn big_decimals_print_like_java() {
        let d = |u: i64, s: i64| BigDecimal::new(BigInt::from(u), s);
        let cases = [
            (d(156, 2), "1.56"),
            (d(-156, 2), "-1.56"),
            (d(1, 6), "0.000001"),
            (d(1, 7), "1E-7"),
            (d(123, 10), "1.23E-8"),
            (d(123, -2), "1.23E+4"),
            (d(1, -2), "1E+2"),
            (d(0, 2), "0.00"),
            (d(0, -2), "0E+2"),
            (d(12345, 0), "12345"),
            (d(12345, 3), "12.345"),
            (d(5, 1), "0.5"),
        ];
        for (v, s) in cases {
            assert_eq!(big_decimal_to_string(&v), s);
        }
    }

    #[test]
    fn java_dates() {
        assert_eq!(
            epoch_millis_to_java_date_string(0),
            "Thu Jan 01 00:00:00 UTC 1970"
        );
        // 10000 days after the epoch, as in JsonConverterTest.dateToJson.
        assert_eq!(
            epoch_millis_to_java_date_string(date_to_epoch_millis(10000)),
            "Mon May 19 00:00:00 UTC 1997"
        );
        assert_eq!(
            epoch_millis_to_java_date_string(4_000_000_000),
            "Mon Feb 16 07:06:40 UTC 1970"
        );
        assert_eq!(
            epoch_millis_to_java_date_string(-1),
            "Wed Dec 31 23:59:59 UTC 1969"
        );
    }

    #[test]
    fn values_print_like_java_to_string() {
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_string())
            .field("c", Schema::string())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("a", 1)
            .unwrap()
            .with("c", "x")
            .unwrap();
        assert_eq!(Value::Struct(s).to_java_string(), "Struct{a=1,c=x}");
        assert_eq!(
            Value::Array(vec![
                Value::Int64(1),
                Value::String("2".into()),
                Value::Null
            ])
            .to_java_string(),
            "[1, 2, null]"
        );
        assert_eq!(
            Value::Map(vec![
                (Value::String("k".into()), Value::Float64(1.0)),
                (Value::String("j".into()), Value::Boolean(true))
            ])
            .to_java_string(),
            "{k=1.0, j=true}"
        );
        assert_eq!(Value::Float32(1.0e10).to_java_string(), "1.0E10");
    }
}
