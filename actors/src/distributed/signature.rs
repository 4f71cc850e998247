//! Signed internal requests (KIP-507, `connect.protocol=sessioned`): when the group runs the
//! sessioned protocol, a worker sending task configs to the leader signs the request body with
//! the cluster's session key, and the leader refuses unsigned or wrongly signed requests. The
//! leader creates the key and writes it to the config topic (`session-key`), where every worker
//! reads it. This is what lets kconnect and Java Connect workers share a sessioned group.
//!
//! The signature is an HMAC of the exact body bytes, base64-encoded in
//! `X-Connect-Authorization`, with the algorithm's Java name (`HmacSHA256`) in
//! `X-Connect-Request-Signature-Algorithm`; the key on the topic is the raw key, base64-encoded.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::storage::kafka::SessionKey;

pub const SIGNATURE_HEADER: &str = "X-Connect-Authorization";
pub const ALGORITHM_HEADER: &str = "X-Connect-Request-Signature-Algorithm";
/// The only algorithm kconnect signs and verifies with: Connect's default for
/// `inter.worker.signature.algorithm` and `inter.worker.key.generation.algorithm`.
pub const HMAC_SHA256: &str = "HmacSHA256";
/// The size of the keys kconnect creates when `inter.worker.key.size` is not set: what Java's
/// `KeyGenerator` makes for HmacSHA256.
pub const DEFAULT_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// Answered 400, as Connect does.
    #[error("Internal request missing required signature")]
    Missing,
    /// Answered 400.
    #[error(
        "Internal request signature algorithm {0} is not supported (kconnect verifies HmacSHA256)"
    )]
    UnsupportedAlgorithm(String),
    /// Answered 403.
    #[error("Internal request contained invalid signature")]
    Invalid,
    /// The session key on the config topic cannot be used (answered 500 when verifying).
    #[error("the session key on the config topic is unusable: {0}")]
    BadKey(String),
}

/// The signature headers of a request, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSignature<'a> {
    pub signature: Option<&'a str>,
    pub algorithm: Option<&'a str>,
}

fn mac(key: &SessionKey) -> Result<Hmac<Sha256>, SignatureError> {
    if key.algorithm != HMAC_SHA256 {
        return Err(SignatureError::BadKey(format!(
            "key algorithm {} (kconnect signs with {HMAC_SHA256})",
            key.algorithm
        )));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key.key)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    Hmac::<Sha256>::new_from_slice(&raw).map_err(|e| SignatureError::BadKey(e.to_string()))
}

/// The header values (signature, algorithm) that sign `body` with `key`.
pub fn sign(key: &SessionKey, body: &[u8]) -> Result<(String, &'static str), SignatureError> {
    let mut m = mac(key)?;
    m.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    Ok((signature, HMAC_SHA256))
}

/// Checks that `request` signs `body` with `key` (in constant time).
pub fn verify(
    key: &SessionKey,
    request: RequestSignature<'_>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let (Some(signature), Some(algorithm)) = (request.signature, request.algorithm) else {
        return Err(SignatureError::Missing);
    };
    if algorithm != HMAC_SHA256 {
        return Err(SignatureError::UnsupportedAlgorithm(algorithm.to_string()));
    }
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| SignatureError::Invalid)?;
    let mut m = mac(key)?;
    m.update(body);
    m.verify_slice(&given).map_err(|_| SignatureError::Invalid)
}

/// A fresh random key, created at `now_ms`.
pub fn new_session_key(now_ms: i64, key_bytes: usize) -> SessionKey {
    let bytes: Vec<u8> = (0..key_bytes).map(|_| rand::random::<u8>()).collect();
    SessionKey {
        key: base64::engine::general_purpose::STANDARD.encode(bytes),
        algorithm: HMAC_SHA256.to_string(),
        creation_timestamp: now_ms,
    }
}

/// Whether the leader must write a new key: none yet, one it cannot sign with, or one older
/// than `ttl_ms` (`inter.worker.key.ttl.ms`).
pub fn needs_new_key(current: Option<&SessionKey>, now_ms: i64, ttl_ms: i64) -> bool {
    match current {
        None => true,
        Some(k) => mac(k).is_err() || now_ms >= k.creation_timestamp.saturating_add(ttl_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey {
            // 32 bytes 0x01..0x20.
            key: base64::engine::general_purpose::STANDARD.encode((1u8..=32).collect::<Vec<_>>()),
            algorithm: HMAC_SHA256.into(),
            creation_timestamp: 1000,
        }
    }

    #[test]
    fn signs_the_body_with_hmac_sha256_and_verifies_it() {
        let (sig, alg) = sign(&key(), b"[]").unwrap();
        assert_eq!(alg, "HmacSHA256");
        // Computed independently: printf '[]' | openssl dgst -sha256 -mac HMAC
        //   -macopt hexkey:0102…1f20 -binary | base64
        assert_eq!(sig, "6w/9QB4oLXNKaWBFrFHcLe0SwXf2XMKD0oUJhqMat3U=");
        let req = RequestSignature {
            signature: Some(&sig),
            algorithm: Some(alg),
        };
        assert_eq!(verify(&key(), req, b"[]"), Ok(()));
        assert_eq!(verify(&key(), req, b"[{}]"), Err(SignatureError::Invalid));
        assert_eq!(
            verify(&key(), RequestSignature::default(), b"[]"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(
                &key(),
                RequestSignature {
                    signature: Some(&sig),
                    algorithm: Some("HmacSHA1")
                },
                b"[]"
            ),
            Err(SignatureError::UnsupportedAlgorithm("HmacSHA1".into()))
        );
    }

    #[test]
    fn keys_expire_after_the_ttl() {
        const TTL: i64 = 3_600_000;
        assert!(needs_new_key(None, 0, TTL));
        assert!(!needs_new_key(Some(&key()), 1000 + TTL - 1, TTL));
        assert!(needs_new_key(Some(&key()), 1000 + TTL, TTL));
        let fresh = new_session_key(5, DEFAULT_KEY_BYTES);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&fresh.key)
                .unwrap()
                .len(),
            32
        );
        assert!(!needs_new_key(Some(&fresh), 5, TTL));
    }
}
