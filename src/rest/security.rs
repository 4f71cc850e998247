//! Optional REST security, off by default: HTTPS through rustls, and HTTP basic
//! authentication against a credentials file.
//!
//! - TLS: an `https://host:port` listener with a PEM keystore — `listeners.https.ssl.keystore.location`
//!   (or `ssl.keystore.location`) naming one PEM file that holds the certificate chain and the
//!   private key, with `ssl.keystore.type=PEM` (Kafka's PEM keystore type; JKS and PKCS12 are
//!   refused with a clear error).
//! - Basic auth: `rest.basic.auth.credentials.file` names a file of `user: password[,role…]`
//!   lines — the format of the Jetty property file Connect's `BasicAuthSecurityRestExtension`
//!   reads; `#` starts a comment. Every request then needs matching credentials, or gets a
//!   401 JSON error. Passwords are compared in constant time (`subtle`), so how long a refusal
//!   takes does not tell how much of a guess was right.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kconnect_connectors::api::Props;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use subtle::ConstantTimeEq;
use thiserror::Error;

use super::ApiError;

pub const CREDENTIALS_FILE: &str = "rest.basic.auth.credentials.file";

/// Why the basic-auth credentials file could not be loaded.
#[derive(Debug, Error)]
pub enum CredentialsError {
    #[error("cannot read {CREDENTIALS_FILE} {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}: expected `user: password`", path.display())]
    Line {
        path: std::path::PathBuf,
        line: usize,
    },
}

/// Why the https listener's TLS config could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error(
        "ssl.keystore.type={0} is not supported by kconnect's REST listener: use a PEM \
         keystore (ssl.keystore.type=PEM) holding the certificate chain and private key"
    )]
    KeystoreType(String),
    #[error(
        "an https listener needs listeners.https.ssl.keystore.location (a PEM file with the \
         certificate chain and private key)"
    )]
    NoKeystore,
    #[error("ssl.keystore.location {location}: {source}")]
    Pem {
        location: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("ssl.keystore.location {0}: no certificate in the file")]
    NoCertificate(String),
    #[error("ssl.keystore.location {location}: no private key: {source}")]
    NoPrivateKey {
        location: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("ssl.keystore.location {location}: {source}")]
    Rustls {
        location: String,
        source: rustls::Error,
    },
}

/// Users and their passwords.
#[derive(Debug, Clone, Default)]
pub struct Credentials(BTreeMap<String, String>);

impl Credentials {
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut users = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, rest) = line.split_once(':').ok_or_else(|| CredentialsError::Line {
                path: path.to_path_buf(),
                line: n + 1,
            })?;
            let password = rest.split(',').next().unwrap_or("").trim();
            users.insert(user.trim().to_string(), password.to_string());
        }
        Ok(Credentials(users))
    }

    /// The `Authorization` value a worker sends other workers' REST APIs (task configs to the
    /// leader): the first user of the file, by name.
    pub fn worker_authorization(&self) -> Option<String> {
        let (user, password) = self.0.iter().next()?;
        let pair = format!("{user}:{password}");
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    }

    fn accepts(&self, header_value: Option<&str>) -> bool {
        let Some(encoded) = header_value.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(pair) = String::from_utf8(decoded) else {
            return false;
        };
        match pair.split_once(':') {
            // `ct_eq` on slices of different lengths answers at once, which tells a guesser
            // only the length; equal lengths take the same time whatever the bytes.
            Some((u, p)) => self
                .0
                .get(u)
                .is_some_and(|want| bool::from(want.as_bytes().ct_eq(p.as_bytes()))),
            None => false,
        }
    }
}

/// Middleware: 401 unless the request carries credentials from the file.
pub async fn require_basic_auth(
    State(creds): State<Arc<Credentials>>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if creds.accepts(given) {
        return next.run(req).await;
    }
    let mut resp = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized: credentials are missing or invalid",
    )
    .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"kconnect\""),
    );
    resp
}

/// The rustls server config for an https listener, from the worker config.
pub fn tls_config(props: &Props) -> Result<rustls::ServerConfig, TlsError> {
    let key = |k: &str| {
        props
            .get(&format!("listeners.https.{k}"))
            .or_else(|| props.get(k))
            .cloned()
    };
    let kind = key("ssl.keystore.type").unwrap_or_else(|| "PEM".into());
    if !kind.eq_ignore_ascii_case("PEM") {
        return Err(TlsError::KeystoreType(kind));
    }
    let location = key("ssl.keystore.location").ok_or(TlsError::NoKeystore)?;
    let pem = |source| TlsError::Pem {
        location: location.clone(),
        source,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&location)
        .map_err(pem)?
        .collect::<Result<_, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(location));
    }
    let private =
        PrivateKeyDer::from_pem_file(&location).map_err(|source| TlsError::NoPrivateKey {
            location: location.clone(),
            source,
        })?;
    let rustls = |source| TlsError::Rustls {
        location: location.clone(),
        source,
    };
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(rustls)?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(rustls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn credentials_file_in_jetty_format() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(&f, "# users\nalice: s3cret,admin\nbob:pw\n").unwrap();
        let c = Credentials::load(&f).unwrap();
        assert!(c.accepts(Some(&basic("alice", "s3cret"))));
        assert!(c.accepts(Some(&basic("bob", "pw"))));
        assert!(!c.accepts(Some(&basic("alice", "wrong"))));
        assert!(!c.accepts(Some(&basic("carol", "pw"))));
        assert!(!c.accepts(None));
        assert!(!c.accepts(Some("Bearer x")));
    }

    #[test]
    fn a_wrong_password_is_refused_whatever_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(&f, "alice: s3cret\n").unwrap();
        let c = Credentials::load(&f).unwrap();
        // Same length, one byte off (first, last); shorter; longer; a prefix; empty.
        for wrong in ["x3cret", "s3creT", "s3cre", "s3crets", "s3", ""] {
            assert!(!c.accepts(Some(&basic("alice", wrong))), "{wrong}");
        }
        assert!(c.accepts(Some(&basic("alice", "s3cret"))));
    }

    #[test]
    fn a_credentials_line_without_a_colon_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(&f, "# users\nalice: pw\nbob\n").unwrap();
        let e = Credentials::load(&f).unwrap_err();
        assert!(matches!(e, CredentialsError::Line { line: 3, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("{}: line 3: expected `user: password`", f.display())
        );
    }

    #[test]
    fn a_keystore_that_is_not_pem_is_refused_by_name() {
        let props: Props = [("ssl.keystore.type".to_string(), "JKS".to_string())].into();
        let e = tls_config(&props).unwrap_err();
        assert!(
            matches!(&e, TlsError::KeystoreType(k) if k == "JKS"),
            "{e:?}"
        );
        assert!(e.to_string().contains("ssl.keystore.type=JKS"), "{e}");
    }
}
