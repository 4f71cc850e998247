//! How kconnect secures its own Kafka connections (the group-membership client), configured
//! with the same keys a Java Kafka client understands, plus the librdkafka spellings that
//! kconnect users already put in their worker configs.
//!
//! Only PEM material is supported: rustls has no JKS/PKCS12 reader, and failing loudly with
//! the offending key is better than a handshake error much later.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A configuration problem. Every variant names the offending key; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{key}: unsupported value '{value}' (supported: {supported})")]
    Unsupported {
        key: &'static str,
        value: String,
        supported: &'static str,
    },
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("{key} is required {because}")]
    Missing {
        key: &'static str,
        because: &'static str,
    },
    #[error("{key}: cannot read '{}': {source}", path.display())]
    Io {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the TLS client configuration: {0}")]
    Tls(String),
}

/// `security.protocol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaslMechanism {
    #[default]
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    /// The name the broker knows the mechanism by (SaslHandshake).
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// A password: its Debug output never shows the value, so configs can be logged safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The cleartext, for the authentication exchange only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([hidden])")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Password,
}

/// A PEM file and the config key it came from, so load errors can name the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemFile {
    pub key: &'static str,
    pub path: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain (leaf first).
    pub certs: PemFile,
    /// The private key; the same file as `certs` for a PEM keystore.
    pub private_key: PemFile,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates the broker's chain must lead to.
    pub trust: PemFile,
    pub identity: Option<ClientIdentity>,
    /// `ssl.endpoint.identification.algorithm`: "https" (the default) checks the broker's
    /// certificate names its host; "" still checks the chain, but not the name.
    pub verify_hostname: bool,
}

/// How to reach the brokers securely. The default is PLAINTEXT with nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    pub protocol: SecurityProtocol,
    /// Present exactly when `protocol` uses SASL.
    pub sasl: Option<SaslConfig>,
    /// Present exactly when `protocol` uses TLS.
    pub tls: Option<TlsConfig>,
}

const PROTOCOL: &str = "security.protocol";
const MECHANISM: &str = "sasl.mechanism";
/// librdkafka spells it in the plural; kconnect configs may carry either.
const MECHANISMS: &str = "sasl.mechanisms";
const JAAS: &str = "sasl.jaas.config";
const USERNAME: &str = "sasl.username";
const PASSWORD: &str = "sasl.password";
const TRUSTSTORE_LOCATION: &str = "ssl.truststore.location";
const TRUSTSTORE_TYPE: &str = "ssl.truststore.type";
const CA_LOCATION: &str = "ssl.ca.location";
const KEYSTORE_LOCATION: &str = "ssl.keystore.location";
const KEYSTORE_TYPE: &str = "ssl.keystore.type";
const CERT_LOCATION: &str = "ssl.certificate.location";
const KEY_LOCATION: &str = "ssl.key.location";
const ENDPOINT_IDENTIFICATION: &str = "ssl.endpoint.identification.algorithm";

impl SecurityConfig {
    /// Reads the security settings from Java-client-style (and librdkafka-style) properties.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self, SecurityError> {
        let get = |key: &str| value(props, key);

        let protocol = match get(PROTOCOL).map(str::to_ascii_uppercase).as_deref() {
            None | Some("PLAINTEXT") => SecurityProtocol::Plaintext,
            Some("SSL") => SecurityProtocol::Ssl,
            Some("SASL_PLAINTEXT") => SecurityProtocol::SaslPlaintext,
            Some("SASL_SSL") => SecurityProtocol::SaslSsl,
            Some(other) => {
                return Err(SecurityError::Unsupported {
                    key: PROTOCOL,
                    value: other.to_string(),
                    supported: "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                })
            }
        };

        let sasl = if protocol.uses_sasl() {
            Some(sasl_from_props(props)?)
        } else {
            None
        };
        let tls = if protocol.uses_tls() {
            Some(tls_from_props(props)?)
        } else {
            None
        };
        Ok(Self {
            protocol,
            sasl,
            tls,
        })
    }
}

/// A trimmed, non-empty value: an empty setting means "not set" for every key but one.
fn value<'a>(props: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn sasl_from_props(props: &BTreeMap<String, String>) -> Result<SaslConfig, SecurityError> {
    let get = |key: &str| value(props, key);
    let (mechanism_key, mechanism_value) = match (get(MECHANISM), get(MECHANISMS)) {
        (Some(v), _) => (MECHANISM, v),
        (None, Some(v)) => (MECHANISMS, v),
        (None, None) => (MECHANISM, "PLAIN"),
    };
    let mechanism = match mechanism_value.to_ascii_uppercase().as_str() {
        "PLAIN" => SaslMechanism::Plain,
        "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
        "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
        _ => {
            return Err(SecurityError::Unsupported {
                key: mechanism_key,
                value: mechanism_value.to_string(),
                supported: "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
            })
        }
    };

    let (username, password) = if let Some(jaas) = get(JAAS) {
        parse_jaas(jaas)?
    } else {
        let username = get(USERNAME).ok_or(SecurityError::Missing {
            key: JAAS,
            because: "(or sasl.username and sasl.password) when security.protocol uses SASL",
        })?;
        // The password is taken untrimmed: spaces may be part of it.
        let password = props.get(PASSWORD).ok_or(SecurityError::Missing {
            key: PASSWORD,
            because: "when sasl.username is set",
        })?;
        (username.to_string(), Password::new(password.clone()))
    };
    Ok(SaslConfig {
        mechanism,
        username,
        password,
    })
}

/// Parses `<LoginModule> <flag> username="u" password="p";`. Errors never quote the text:
/// it holds the password.
fn parse_jaas(text: &str) -> Result<(String, Password), SecurityError> {
    let invalid = |reason: &str| SecurityError::Invalid {
        key: JAAS,
        reason: reason.to_string(),
    };
    let mut rest = text.trim();
    let (module, after) = split_word(rest);
    let known_module =
        module.ends_with(".PlainLoginModule") || module.ends_with(".ScramLoginModule");
    if !known_module {
        return Err(SecurityError::Unsupported {
            key: JAAS,
            value: module.to_string(),
            supported: "PlainLoginModule, ScramLoginModule",
        });
    }
    let (flag, after) = split_word(after);
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err(invalid(
            "expected a control flag (required) after the login module",
        ));
    }
    rest = after;

    let mut username = None;
    let mut password = None;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with(';') {
            break;
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| invalid("expected key=value options"))?;
        let name = rest[..eq].trim();
        rest = rest[eq + 1..].trim_start();
        let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            parse_quoted(quoted).ok_or_else(|| invalid("unterminated quoted value"))?
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ';')
                .unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        rest = after;
        match name {
            "username" => username = Some(value),
            "password" => password = Some(value),
            // Other options (e.g. tokenauth) do not change a username/password login.
            _ => {}
        }
    }
    let username = username.ok_or_else(|| invalid("no username option"))?;
    let password = password.ok_or_else(|| invalid("no password option"))?;
    Ok((username, Password::new(password)))
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Reads a quoted value after its opening quote, honouring `\"` and `\\`; returns the value
/// and what follows the closing quote.
fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((value, &s[i + 1..])),
            other => value.push(other),
        }
    }
    None
}

fn tls_from_props(props: &BTreeMap<String, String>) -> Result<TlsConfig, SecurityError> {
    let get = |key: &str| value(props, key);
    let trust = match (get(TRUSTSTORE_LOCATION), get(CA_LOCATION)) {
        (Some(location), _) => {
            require_pem(
                TRUSTSTORE_LOCATION,
                location,
                TRUSTSTORE_TYPE,
                get(TRUSTSTORE_TYPE),
            )?;
            PemFile {
                key: TRUSTSTORE_LOCATION,
                path: PathBuf::from(location),
            }
        }
        (None, Some(location)) => PemFile {
            key: CA_LOCATION,
            path: PathBuf::from(location),
        },
        // rustls has no access to the JVM's or the OS's default trust store here, so a
        // trust store is mandatory rather than silently trusting nothing.
        (None, None) => {
            return Err(SecurityError::Missing {
                key: TRUSTSTORE_LOCATION,
                because: "(a PEM file, or ssl.ca.location) when security.protocol uses SSL",
            })
        }
    };

    let identity = match (
        get(KEYSTORE_LOCATION),
        get(CERT_LOCATION),
        get(KEY_LOCATION),
    ) {
        (Some(location), _, _) => {
            require_pem(
                KEYSTORE_LOCATION,
                location,
                KEYSTORE_TYPE,
                get(KEYSTORE_TYPE),
            )?;
            let file = PemFile {
                key: KEYSTORE_LOCATION,
                path: PathBuf::from(location),
            };
            Some(ClientIdentity {
                certs: file.clone(),
                private_key: file,
            })
        }
        (None, Some(cert), Some(key)) => Some(ClientIdentity {
            certs: PemFile {
                key: CERT_LOCATION,
                path: PathBuf::from(cert),
            },
            private_key: PemFile {
                key: KEY_LOCATION,
                path: PathBuf::from(key),
            },
        }),
        (None, Some(_), None) => {
            return Err(SecurityError::Missing {
                key: KEY_LOCATION,
                because: "when ssl.certificate.location is set",
            })
        }
        (None, None, Some(_)) => {
            return Err(SecurityError::Missing {
                key: CERT_LOCATION,
                because: "when ssl.key.location is set",
            })
        }
        (None, None, None) => None,
    };

    // Unlike the other keys, an explicitly empty value is meaningful here: it turns the
    // hostname check off (librdkafka spells that "none").
    let endpoint = props
        .get(ENDPOINT_IDENTIFICATION)
        .map(|v| v.trim().to_ascii_lowercase());
    let verify_hostname = match endpoint {
        None => true,
        Some(v) if v == "https" => true,
        Some(v) if v.is_empty() || v == "none" => false,
        Some(v) => {
            return Err(SecurityError::Unsupported {
                key: ENDPOINT_IDENTIFICATION,
                value: v,
                supported: "https, \"\" (empty: no hostname verification)",
            })
        }
    };
    Ok(TlsConfig {
        trust,
        identity,
        verify_hostname,
    })
}

/// A store is PEM when its type says so, or, with no type, when its file name looks like PEM.
fn require_pem(
    location_key: &'static str,
    location: &str,
    type_key: &'static str,
    store_type: Option<&str>,
) -> Result<(), SecurityError> {
    match store_type.map(str::to_ascii_uppercase).as_deref() {
        Some("PEM") => Ok(()),
        Some(other) => Err(SecurityError::Unsupported {
            key: type_key,
            value: other.to_string(),
            supported: "PEM (convert JKS/PKCS12 stores to PEM)",
        }),
        None => {
            let ext = Path::new(location)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if matches!(ext.as_deref(), Some("pem" | "crt" | "cer")) {
                Ok(())
            } else {
                Err(SecurityError::Invalid {
                    key: location_key,
                    reason: format!(
                        "'{location}' is not a PEM file and {type_key} is not set; only PEM \
                         stores are supported (JKS/PKCS12 are not): set {type_key}=PEM"
                    ),
                })
            }
        }
    }
}

impl TlsConfig {
    /// Loads the PEM material and builds a rustls client configuration (ring provider).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, SecurityError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(load_roots(&self.trust)?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SecurityError::Tls(e.to_string()))?;
        let builder = if self.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { roots, provider }))
        };
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let certs = load_certs(&identity.certs)?;
                let key = load_key(&identity.private_key)?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| SecurityError::Invalid {
                        key: identity.private_key.key,
                        reason: format!("unusable client certificate/key: {e}"),
                    })?
            }
        };
        Ok(Arc::new(config))
    }
}

fn read_pem(file: &PemFile) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(&file.path).map_err(|source| SecurityError::Io {
        key: file.key,
        path: file.path.clone(),
        source,
    })
}

fn load_certs(file: &PemFile) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let pem = read_pem(file)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SecurityError::Invalid {
            key: file.key,
            reason: format!("'{}' is not valid PEM: {e}", file.path.display()),
        })?;
    if certs.is_empty() {
        return Err(SecurityError::Invalid {
            key: file.key,
            reason: format!("'{}' holds no PEM certificate", file.path.display()),
        });
    }
    Ok(certs)
}

fn load_roots(file: &PemFile) -> Result<RootCertStore, SecurityError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(file)? {
        roots.add(cert).map_err(|e| SecurityError::Invalid {
            key: file.key,
            reason: format!("unusable CA certificate in '{}': {e}", file.path.display()),
        })?;
    }
    Ok(roots)
}

fn load_key(file: &PemFile) -> Result<PrivateKeyDer<'static>, SecurityError> {
    let pem = read_pem(file)?;
    // rustls cannot decrypt keys; say so instead of "no key found".
    if pem.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(SecurityError::Invalid {
            key: file.key,
            reason: format!(
                "'{}' holds an encrypted private key; only unencrypted PEM keys are supported",
                file.path.display()
            ),
        });
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| SecurityError::Invalid {
        key: file.key,
        reason: format!(
            "no usable PEM private key in '{}': {e}",
            file.path.display()
        ),
    })
}

/// Verifies the broker's chain against the trust store but not its name: what
/// `ssl.endpoint.identification.algorithm=` (empty) asks for, e.g. brokers reached by an
/// address their certificates do not list.
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_to_plaintext() {
        let config = SecurityConfig::from_props(&props(&[])).unwrap();
        assert_eq!(config, SecurityConfig::default());
    }

    #[test]
    fn protocol_is_case_insensitive_and_unknown_values_name_the_key() {
        let config =
            SecurityConfig::from_props(&props(&[("security.protocol", "plaintext")])).unwrap();
        assert_eq!(config.protocol, SecurityProtocol::Plaintext);
        let err = SecurityConfig::from_props(&props(&[("security.protocol", "TLS")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("security.protocol") && text.contains("TLS"),
            "{text}"
        );
    }

    #[test]
    fn jaas_plain_with_escaped_quotes() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p\"a;ss";"#,
            ),
        ]))
        .unwrap();
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::Plain);
        assert_eq!(sasl.username, "alice");
        assert_eq!(sasl.password.expose(), "p\"a;ss");
        assert!(config.tls.is_none());
    }

    #[test]
    fn jaas_scram_and_mechanism() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob\n  password=\"secret\";",
            ),
        ]))
        .unwrap();
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(sasl.username, "bob");
        assert_eq!(sasl.password.expose(), "secret");
    }

    #[test]
    fn librdkafka_style_credentials() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "SCRAM-SHA-256"),
            ("sasl.username", "carol"),
            ("sasl.password", "hunter2"),
        ]))
        .unwrap();
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha256);
        assert_eq!(sasl.username, "carol");
        assert_eq!(sasl.password.expose(), "hunter2");
    }

    #[test]
    fn unknown_mechanism_names_key_and_value() {
        let err = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "GSSAPI"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("sasl.mechanism") && text.contains("GSSAPI"),
            "{text}"
        );
    }

    #[test]
    fn passwords_never_leak() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="TOPSECRET";"#,
            ),
        ]))
        .unwrap();
        assert!(!format!("{config:?}").contains("TOPSECRET"));

        // A malformed JAAS config must not echo its text (which holds the password).
        let err = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="TOPSECRET"#,
            ),
        ]))
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("sasl.jaas.config") && !text.contains("TOPSECRET"),
            "{text}"
        );

        let err = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="TOPSECRET";"#,
            ),
        ]))
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("username") && !text.contains("TOPSECRET"),
            "{text}"
        );
    }

    #[test]
    fn sasl_without_credentials_is_an_error() {
        let err =
            SecurityConfig::from_props(&props(&[("security.protocol", "SASL_SSL")])).unwrap_err();
        assert!(err.to_string().contains("sasl.jaas.config"), "{err}");
    }

    #[test]
    fn tls_pem_settings() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/etc/kafka/ca.jks"),
            ("ssl.truststore.type", "pem"),
            ("ssl.keystore.location", "/etc/kafka/client.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]))
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.trust.path, PathBuf::from("/etc/kafka/ca.jks"));
        assert!(!tls.verify_hostname);
        let identity = tls.identity.unwrap();
        assert_eq!(identity.certs, identity.private_key);

        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
            ("ssl.ca.location", "/ca.crt"),
            ("ssl.certificate.location", "/c.crt"),
            ("ssl.key.location", "/c.key"),
        ]))
        .unwrap();
        let tls = config.tls.unwrap();
        assert!(tls.verify_hostname);
        assert_eq!(tls.trust.key, "ssl.ca.location");
        assert_eq!(tls.identity.unwrap().private_key.key, "ssl.key.location");
    }

    #[test]
    fn jks_and_pkcs12_are_rejected_by_key() {
        let err = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/etc/kafka/truststore.jks"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("ssl.truststore.location"), "{err}");

        let err = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.keystore.location", "/client.p12"),
            ("ssl.keystore.type", "PKCS12"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ssl.keystore.type") && text.contains("PKCS12"),
            "{text}"
        );

        let err = SecurityConfig::from_props(&props(&[("security.protocol", "SSL")])).unwrap_err();
        assert!(err.to_string().contains("ssl.truststore.location"), "{err}");
    }

    #[test]
    fn missing_trust_file_names_the_key() {
        let config = SecurityConfig::from_props(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
        ]))
        .unwrap();
        let err = config.tls.unwrap().client_config().unwrap_err();
        assert!(err.to_string().contains("ssl.ca.location"), "{err}");
    }
}

/// The Java-client security keys of a Kafka client config, rewritten for librdkafka (the
/// worker's rdkafka producers, consumers and admin clients): `sasl.jaas.config` becomes
/// `sasl.username`/`sasl.password`, `sasl.mechanism` becomes `sasl.mechanisms`, PEM trust and key
/// stores become `ssl.ca.location`/`ssl.certificate.location`/`ssl.key.location`, and an empty
/// `ssl.endpoint.identification.algorithm` becomes `none`. Other keys pass through. A config that
/// does not parse is returned unchanged: librdkafka then refuses it, naming the key.
pub fn librdkafka_client_props(props: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let Ok(security) = SecurityConfig::from_props(props) else {
        return props.clone();
    };
    let java_only = [
        MECHANISM,
        JAAS,
        TRUSTSTORE_LOCATION,
        TRUSTSTORE_TYPE,
        KEYSTORE_LOCATION,
        KEYSTORE_TYPE,
        "ssl.truststore.password",
        "ssl.keystore.password",
    ];
    let mut out: BTreeMap<String, String> = props
        .iter()
        .filter(|(k, _)| !java_only.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let protocol = match security.protocol {
        SecurityProtocol::Plaintext => "plaintext",
        SecurityProtocol::Ssl => "ssl",
        SecurityProtocol::SaslPlaintext => "sasl_plaintext",
        SecurityProtocol::SaslSsl => "sasl_ssl",
    };
    out.insert(PROTOCOL.into(), protocol.into());
    if let Some(sasl) = &security.sasl {
        out.insert(MECHANISMS.into(), sasl.mechanism.name().into());
        out.insert(USERNAME.into(), sasl.username.clone());
        out.insert(PASSWORD.into(), sasl.password.expose().to_string());
    }
    if let Some(tls) = &security.tls {
        out.insert(CA_LOCATION.into(), tls.trust.path.display().to_string());
        if let Some(id) = &tls.identity {
            out.insert(CERT_LOCATION.into(), id.certs.path.display().to_string());
            out.insert(
                KEY_LOCATION.into(),
                id.private_key.path.display().to_string(),
            );
        }
        let verify = if tls.verify_hostname { "https" } else { "none" };
        out.insert(ENDPOINT_IDENTIFICATION.into(), verify.into());
    }
    out
}

#[cfg(test)]
mod librdkafka_tests {
    use super::tests::props;
    use super::*;

    #[test]
    fn java_sasl_keys_become_librdkafka_keys() {
        let out = librdkafka_client_props(&props(&[
            ("bootstrap.servers", "b:9093"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="connect" password="s3cret";"#,
            ),
        ]));
        assert_eq!(
            out,
            props(&[
                ("bootstrap.servers", "b:9093"),
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanisms", "SCRAM-SHA-512"),
                ("sasl.username", "connect"),
                ("sasl.password", "s3cret"),
            ])
        );
    }

    #[test]
    fn plaintext_configs_pass_through_and_unparseable_ones_are_left_for_librdkafka_to_refuse() {
        let plain = props(&[("bootstrap.servers", "b:9092"), ("acks", "all")]);
        let mut expected = plain.clone();
        expected.insert("security.protocol".into(), "plaintext".into());
        assert_eq!(librdkafka_client_props(&plain), expected);
        let bad = props(&[("security.protocol", "KERBEROS")]);
        assert_eq!(librdkafka_client_props(&bad), bad);
    }

    /// The translated keys are ones librdkafka accepts (it validates them, and loads the CA,
    /// when a client is created): SCRAM and TLS need librdkafka built with OpenSSL.
    #[test]
    fn librdkafka_accepts_translated_scram_over_tls_settings() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let out = librdkafka_client_props(&props(&[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";"#,
            ),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", ca_file.to_str().unwrap()),
        ]));
        assert_eq!(out["ssl.ca.location"], ca_file.to_str().unwrap());
        assert_eq!(out["ssl.endpoint.identification.algorithm"], "https");
        let mut config = rdkafka::ClientConfig::new();
        for (k, v) in &out {
            config.set(k, v);
        }
        let created: Result<rdkafka::producer::BaseProducer, _> = config.create();
        assert!(
            created.is_ok(),
            "librdkafka refused {out:?}: {:?}",
            created.err()
        );
    }
}
