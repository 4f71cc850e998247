//! The UTF-8 check of a record's text (the StringConverter's input, a file source's line).
//!
//! Records are mostly ASCII, and a 100-byte record's check was a sixth of what the sink path
//! adds to a raw consumer: std's check cost about 150 instructions, simdutf8's about 95 (its
//! set-up dominates at that size), a plain ASCII scan about a third of that. So: ASCII first,
//! SIMD validation otherwise.

/// `bytes` as text when they are valid UTF-8.
#[inline]
pub fn from_utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    simdutf8::basic::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::from_utf8;

    #[test]
    fn ascii_multibyte_and_invalid_text() {
        assert_eq!(from_utf8(b""), Some(""));
        let ascii = "x".repeat(100);
        assert_eq!(from_utf8(ascii.as_bytes()), Some(ascii.as_str()));
        let mixed = format!("{}dé€😀", "a".repeat(70));
        assert_eq!(from_utf8(mixed.as_bytes()), Some(mixed.as_str()));
        // A lone continuation byte, a truncated sequence, an overlong encoding, a surrogate.
        for bad in [&b"ab\x80cd"[..], b"ab\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"] {
            assert_eq!(from_utf8(bad), None, "{bad:?}");
        }
    }
}
