//! A small JSON tree with Jackson's output rules, as Kafka's `JsonSerializer` /
//! `JsonDeserializer` (a default `ObjectMapper`) write and read it.
//!
//! Writing: compact (no spaces); object keys in insertion order; strings escaped like Jackson
//! (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`, other control characters as `\u00XX` with
//! upper-case hex, everything else — including `/` and non-ASCII — as is); floats with Java's
//! `Float.toString` / `Double.toString`, non-finite ones as the strings `"NaN"`, `"Infinity"`,
//! `"-Infinity"` (Jackson's `QUOTE_NON_NUMERIC_NUMBERS`); decimals with `BigDecimal.toString`;
//! binary as standard base64 with padding.
//!
//! Reading: strict RFC 8259 JSON in UTF-8 (a UTF-8 byte-order mark is skipped); numbers keep
//! their text so that no precision is lost (Kafka reads with `USE_BIG_DECIMAL_FOR_FLOATS`);
//! a repeated object key replaces the earlier value in its place (Jackson's default). Unlike
//! Jackson, content after the root value is an error and unpaired `\u` surrogates become
//! U+FFFD.
//!
//! Errors are [`JsonError`]: malformed text says what was expected and at which byte.

use base64::Engine as _;
use bigdecimal::num_bigint::BigInt;
use bigdecimal::num_traits::ToPrimitive;
use bigdecimal::BigDecimal;
use std::str::FromStr;
use thiserror::Error;

use crate::data::java_fmt::{big_decimal_to_string, double_to_string, float_to_string};

/// Nesting deeper than this is refused when parsing (Jackson 2.15+ also limits depth to 1000).
pub const MAX_DEPTH: usize = 1000;

/// A JSON document as the JSON converter reads and writes it: numbers keep their Java type (or
/// their literal text, as read), object members their order.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonNode {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer to write (Java `byte`/`short`/`int`/`long`).
    Int(i64),
    /// A Java `float` to write.
    Float(f32),
    /// A Java `double` to write.
    Double(f64),
    /// A `BigDecimal` to write.
    Decimal(BigDecimal),
    /// A number as read: its literal text.
    Number(String),
    /// A string.
    String(String),
    /// Bytes, written as a base64 string.
    Binary(Vec<u8>),
    /// An array.
    Array(Vec<JsonNode>),
    /// Members in order; keys are unique.
    Object(Vec<(String, JsonNode)>),
}

impl JsonNode {
    /// Jackson's `JsonNodeType` name of this node, for messages.
    pub fn node_type(&self) -> &'static str {
        match self {
            JsonNode::Null => "NULL",
            JsonNode::Bool(_) => "BOOLEAN",
            JsonNode::Int(_)
            | JsonNode::Float(_)
            | JsonNode::Double(_)
            | JsonNode::Decimal(_)
            | JsonNode::Number(_) => "NUMBER",
            JsonNode::String(_) => "STRING",
            JsonNode::Binary(_) => "BINARY",
            JsonNode::Array(_) => "ARRAY",
            JsonNode::Object(_) => "OBJECT",
        }
    }

    /// `ObjectNode.set`: replaces the value of an existing key in place, else appends.
    pub fn set(&mut self, key: &str, value: JsonNode) {
        if let JsonNode::Object(members) = self {
            if let Some(slot) = members.iter_mut().find(|(k, _)| k == key) {
                slot.1 = value;
            } else {
                members.push((key.to_string(), value));
            }
        }
    }

    /// `JsonNode.get(name)` of an object; `None` for other nodes or a missing key.
    pub fn get(&self, key: &str) -> Option<&JsonNode> {
        match self {
            JsonNode::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, JsonNode::Null)
    }

    /// Whether this is a number, of whatever kind.
    pub fn is_number(&self) -> bool {
        self.node_type() == "NUMBER"
    }

    /// Whether this is an integral number (Jackson's `isIntegralNumber`: a literal without
    /// fraction or exponent).
    pub fn is_integral(&self) -> bool {
        match self {
            JsonNode::Int(_) => true,
            JsonNode::Number(t) => !t.contains(['.', 'e', 'E']),
            _ => false,
        }
    }

    /// Jackson's `isInt`: an integral number that fits a Java `int`.
    pub fn is_int(&self) -> bool {
        match self {
            JsonNode::Int(i) => i32::try_from(*i).is_ok(),
            JsonNode::Number(t) if self.is_integral() => t.parse::<i32>().is_ok(),
            _ => false,
        }
    }

    /// The text of a string, or `None` for any other node.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonNode::String(s) => Some(s),
            _ => None,
        }
    }

    /// Jackson's `asText()`: text of scalars (`null` for null), empty for containers.
    pub fn as_text(&self) -> String {
        match self {
            JsonNode::Null => "null".into(),
            JsonNode::Bool(b) => b.to_string(),
            JsonNode::Int(i) => i.to_string(),
            JsonNode::Float(f) => float_to_string(*f),
            JsonNode::Double(d) => double_to_string(*d),
            JsonNode::Decimal(d) => big_decimal_to_string(d),
            JsonNode::Number(t) => t.clone(),
            JsonNode::String(s) => s.clone(),
            JsonNode::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b),
            JsonNode::Array(_) | JsonNode::Object(_) => String::new(),
        }
    }

    /// The exact value of a number node.
    pub fn decimal_value(&self) -> Option<BigDecimal> {
        match self {
            JsonNode::Int(i) => Some(BigDecimal::from(*i)),
            JsonNode::Number(t) => BigDecimal::from_str(t).ok(),
            JsonNode::Decimal(d) => Some(d.clone()),
            JsonNode::Float(f) => BigDecimal::from_str(&float_to_string(*f)).ok(),
            JsonNode::Double(d) => BigDecimal::from_str(&double_to_string(*d)).ok(),
            _ => None,
        }
    }

    /// Java's `longValue()` of a number node: the fraction truncated toward zero, then the
    /// low 64 bits of the two's-complement integer. Narrower types take the low bits of this.
    pub fn wrapping_i64(&self) -> Option<i64> {
        if let JsonNode::Int(i) = self {
            return Some(*i);
        }
        if let JsonNode::Number(t) = self {
            if self.is_integral() {
                if let Ok(i) = t.parse::<i64>() {
                    return Some(i);
                }
                let big = BigInt::from_str(t).ok()?;
                return Some(low_64_bits(&big));
            }
        }
        let d = self.decimal_value()?;
        let scale = d.fractional_digit_count();
        if scale <= -64 {
            // n * 10^k with k >= 64 is a multiple of 2^64.
            return Some(0);
        }
        if scale > 0 && scale as u64 > d.digits() {
            return Some(0);
        }
        let int = d.with_scale(0).as_bigint_and_exponent().0;
        Some(low_64_bits(&int))
    }

    /// Java's `doubleValue()` of a number node (also accepting the strings Jackson writes for
    /// non-finite numbers).
    pub fn f64_value(&self) -> Option<f64> {
        match self {
            JsonNode::Int(i) => Some(*i as f64),
            JsonNode::Float(f) => Some(f64::from(*f)),
            JsonNode::Double(d) => Some(*d),
            JsonNode::Decimal(d) => d.to_f64(),
            JsonNode::Number(t) => t.parse::<f64>().ok(),
            JsonNode::String(s) => non_finite(s),
            _ => None,
        }
    }

    /// Java's `floatValue()` of a number node (rounded once, from the exact value).
    pub fn f32_value(&self) -> Option<f32> {
        match self {
            JsonNode::Int(i) => Some(*i as f32),
            JsonNode::Float(f) => Some(*f),
            JsonNode::Double(d) => Some(*d as f32),
            JsonNode::Decimal(d) => big_decimal_to_string(d).parse::<f32>().ok(),
            JsonNode::Number(t) => t.parse::<f32>().ok(),
            JsonNode::String(s) => non_finite(s).map(|v| v as f32),
            _ => None,
        }
    }

    /// Jackson's `binaryValue()`: the bytes of a binary node or of a base64 string.
    pub fn binary_value(&self) -> Option<Result<Vec<u8>, JsonError>> {
        match self {
            JsonNode::Binary(b) => Some(Ok(b.clone())),
            JsonNode::String(s) => Some(decode_base64(s)),
            _ => None,
        }
    }

    /// The compact JSON text of this node.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Appends this node's JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            JsonNode::Null => out.push_str("null"),
            JsonNode::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JsonNode::Int(i) => out.push_str(&i.to_string()),
            JsonNode::Float(f) => {
                if f.is_finite() {
                    out.push_str(&float_to_string(*f));
                } else {
                    write_string(&float_to_string(*f), out);
                }
            }
            JsonNode::Double(d) => {
                if d.is_finite() {
                    out.push_str(&double_to_string(*d));
                } else {
                    write_string(&double_to_string(*d), out);
                }
            }
            JsonNode::Decimal(d) => out.push_str(&big_decimal_to_string(d)),
            JsonNode::Number(t) => out.push_str(t),
            JsonNode::String(s) => write_string(s, out),
            JsonNode::Binary(b) => {
                out.push('"');
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                out.push('"');
            }
            JsonNode::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            JsonNode::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Parses JSON text. Empty input (or only whitespace) is `Ok(None)`, like Jackson's
    /// `MissingNode`.
    pub fn parse(bytes: &[u8]) -> Result<Option<JsonNode>, JsonError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes)?;
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
        };
        p.skip_ws();
        if p.pos == p.s.len() {
            return Ok(None);
        }
        let node = p.value(0)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(p.err("unexpected content after the JSON value"));
        }
        Ok(Some(node))
    }
}

/// Why JSON text (or a base64 string in it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonError {
    /// The bytes are not UTF-8.
    #[error("Invalid UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// What the parser expected or found, and the byte offset where.
    #[error("{what} at byte {at}")]
    Syntax {
        /// What was expected or found.
        what: &'static str,
        /// The byte offset.
        at: usize,
    },
    /// A BYTES value that is not valid base64.
    #[error("Invalid base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

fn non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn low_64_bits(n: &BigInt) -> i64 {
    let bytes = n.to_signed_bytes_le();
    let fill = if n.sign() == bigdecimal::num_bigint::Sign::Minus {
        0xff
    } else {
        0
    };
    let mut buf = [fill; 8];
    for (i, b) in bytes.iter().take(8).enumerate() {
        buf[i] = *b;
    }
    i64::from_le_bytes(buf)
}

/// Base64 as Jackson's default variant reads it: the standard alphabet; padding may be left
/// out.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, JsonError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    Ok(LENIENT.decode(s)?)
}

/// Writes `s` as a JSON string with Jackson's escaping. Jackson's UTF-8 generator writes a
/// character beyond U+FFFF as its two UTF-16 surrogates, each escaped (`😀` → `\uD83D\uDE00`),
/// unless `COMBINE_UNICODE_SURROGATES_IN_UTF8` is on, which JsonConverter does not set: seen on
/// the topic next to Java Connect 4.3.1 (tests/interop.rs).
pub fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            c if (c as u32) > 0xFFFF => {
                for unit in c.encode_utf16(&mut [0u16; 2]) {
                    out.push_str("\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[((*unit >> shift) & 0xf) as usize] as char);
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::Syntax { what, at: self.pos }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn literal(&mut self, word: &str, node: JsonNode) -> Result<JsonNode, JsonError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(node)
        } else {
            Err(self.err("unrecognized token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonNode, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => {
                self.pos += 1;
                let mut node = JsonNode::Object(Vec::new());
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(node);
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a field name"));
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    node.set(&key, v);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(node);
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(JsonNode::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(JsonNode::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(JsonNode::String(self.string()?)),
            Some(b't') => self.literal("true", JsonNode::Bool(true)),
            Some(b'f') => self.literal("false", JsonNode::Bool(false)),
            Some(b'n') => self.literal("null", JsonNode::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<JsonNode, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = self.digits();
        if n == 0 {
            return Err(self.err("expected a digit"));
        }
        if n > 1 && self.s[int_start] == b'0' {
            return Err(self.err("leading zeroes are not allowed"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        Ok(JsonNode::Number(self.text[start..self.pos].to_string()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0C}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                    out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                                } else {
                                    out.push('\u{FFFD}');
                                    self.pos = save;
                                }
                            } else {
                                out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("unrecognized character escape"));
                        }
                    }
                }
                Some(_) => return Err(self.err("illegal unquoted control character in string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> JsonNode {
        JsonNode::parse(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn writes_compact_json_in_insertion_order() {
        let mut o = JsonNode::Object(vec![]);
        o.set("type", JsonNode::String("boolean".into()));
        o.set("optional", JsonNode::Bool(false));
        o.set("type", JsonNode::String("int8".into()));
        assert_eq!(o.to_json_string(), r#"{"type":"int8","optional":false}"#);
        let a = JsonNode::Array(vec![
            JsonNode::Int(1),
            JsonNode::Double(12.34),
            JsonNode::Float(1.0e10),
            JsonNode::Null,
            JsonNode::Binary(b"test-string".to_vec()),
            JsonNode::Double(f64::NAN),
        ]);
        assert_eq!(
            a.to_json_string(),
            r#"[1,12.34,1.0E10,null,"dGVzdC1zdHJpbmc=","NaN"]"#
        );
    }

    #[test]
    fn escapes_like_jackson() {
        let mut out = String::new();
        write_string(
            "a\"b\\c/\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é😀\u{2028}",
            &mut out,
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c/\\b\\t\\n\\f\\r\\u0001\\u001F\u{7f}é\\uD83D\\uDE00\u{2028}\""
        );
    }

    #[test]
    fn parses_and_keeps_number_text() {
        let n =
            parse(r#" { "a" : [1, -2.50, 3e2, "x\u00e9\ud83d\ude00"], "b": null, "a": true } "#);
        assert_eq!(
            n,
            JsonNode::Object(vec![
                ("a".into(), JsonNode::Bool(true)),
                ("b".into(), JsonNode::Null),
            ])
        );
        let arr = parse(r#"[1, -2.50, 3e2, "x\u00e9\ud83d\ude00"]"#);
        let JsonNode::Array(items) = arr else {
            panic!()
        };
        assert_eq!(items[0], JsonNode::Number("1".into()));
        assert!(items[0].is_integral() && items[0].is_int());
        assert_eq!(items[1], JsonNode::Number("-2.50".into()));
        assert!(!items[1].is_integral());
        assert!(!items[2].is_integral());
        assert_eq!(items[3], JsonNode::String("xé😀".into()));
    }

    #[test]
    fn rejects_invalid_json() {
        for bad in [
            "{",
            "[1,]",
            "01",
            "1.",
            ".5",
            "+1",
            "tru",
            "\"a",
            "{\"a\" 1}",
            "[1] 2",
            "\"\u{1}\"",
            "NaN",
            "{'a':1}",
            "\"\\x\"",
        ] {
            assert!(JsonNode::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(JsonNode::parse(b"  ").unwrap(), None);
        assert!(JsonNode::parse(b"\xff").is_err());
        assert_eq!(
            JsonNode::parse(b"\xEF\xBB\xBFtrue").unwrap(),
            Some(JsonNode::Bool(true))
        );
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(JsonNode::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn number_accessors_follow_java() {
        let n = |s: &str| JsonNode::Number(s.into());
        assert_eq!(n("12").wrapping_i64(), Some(12));
        assert_eq!(n("12.9").wrapping_i64(), Some(12));
        assert_eq!(n("-12.9").wrapping_i64(), Some(-12));
        assert_eq!(n("1e2").wrapping_i64(), Some(100));
        assert_eq!(n("18446744073709551617").wrapping_i64(), Some(1));
        assert_eq!(n("-9223372036854775809").wrapping_i64(), Some(i64::MAX));
        assert_eq!(n("1e100").wrapping_i64(), Some(0));
        assert_eq!(n("1e-100").wrapping_i64(), Some(0));
        assert_eq!(n("12.34").f32_value(), Some(12.34f32));
        assert_eq!(n("12.34").f64_value(), Some(12.34f64));
        assert!(n("2147483648").is_integral() && !n("2147483648").is_int());
        assert_eq!(
            JsonNode::String("NaN".into()).f64_value().map(f64::is_nan),
            Some(true)
        );
    }

    #[test]
    fn base64_reading_accepts_missing_padding() {
        assert_eq!(decode_base64("AJw=").unwrap(), vec![0, 156]);
        assert_eq!(decode_base64("AJw").unwrap(), vec![0, 156]);
        assert!(decode_base64("A!w=").is_err());
    }
}
