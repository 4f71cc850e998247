//! JSON bytes exactly as Kafka Connect's `JsonConverter` (`schemas.enable=false`) writes them:
//! Jackson's compact output. Three details differ from `serde_json`'s defaults and are matched here:
//!
//! - control characters without a short escape are written `\u001F` (upper-case hex),
//! - a character beyond U+FFFF is written as its two UTF-16 surrogates, escaped
//!   (`😀` → `\uD83D\uDE00`): Jackson's UTF-8 generator does so unless
//!   `COMBINE_UNICODE_SURROGATES_IN_UTF8` is set, and Connect's JsonConverter does not set it, and
//! - doubles are written like Java's `Double.toString`: `1.0E20`, `1.5E-5`, `100.0`.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// Compact JSON of `value`, byte for byte as Jackson writes it.
pub fn to_java_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JavaFormatter);
    value
        .serialize(&mut ser)
        .expect("serializing JSON into memory cannot fail");
    out
}

struct JavaFormatter;

impl Formatter for JavaFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(java_double(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(java_double(f64::from(value)).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Runs of characters within the Basic Multilingual Plane go out as they are.
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (c as u32) > 0xFFFF {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                for unit in c.encode_utf16(&mut [0u16; 2]) {
                    write!(writer, "\\u{unit:04X}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        match char_escape {
            CharEscape::AsciiControl(byte) => write!(writer, "\\u{byte:04X}"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

/// `Double.toString(value)` (JDK 19+: the shortest decimal that reads back as `value`).
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "-1.2345e-7".
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let abs = value.abs();
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int_part, frac) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (format!("{digits:0<int_len$}"), String::new())
            };
            let frac = if frac.is_empty() { "0".into() } else { frac };
            format!("{sign}{int_part}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{rest}E{exp}", &digits[..1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doubles_as_java_writes_them() {
        // Expected strings are what `Double.toString` prints (java.lang.Double).
        let cases = [
            (1.5, "1.5"),
            (100.0, "100.0"),
            (-2.0, "-2.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.5e-5, "1.5E-5"),
            (1234567.0, "1234567.0"),
            (9999999.0, "9999999.0"),
            (1e7, "1.0E7"),
            (1.2345e7, "1.2345E7"),
            (1e20, "1.0E20"),
            (0.1, "0.1"),
            (0.123, "0.123"),
            (123.456, "123.456"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        ];
        for (value, expected) in cases {
            assert_eq!(java_double(value), expected, "{value:e}");
        }
    }

    #[test]
    fn compact_with_jackson_escapes() {
        let value = json!({"a": "tab\there\nnl \u{1} \u{1f} \"q\" \\ / é 😀x", "n": 1, "d": 1e20,
                           "l": [true, null, -3]});
        assert_eq!(
            String::from_utf8(to_java_json(&value)).unwrap(),
            r#"{"a":"tab\there\nnl \u0001 \u001F \"q\" \\ / é \uD83D\uDE00x","n":1,"d":1.0E20,"l":[true,null,-3]}"#
        );
    }
}
