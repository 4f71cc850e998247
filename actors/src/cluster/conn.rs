//! One connection to one Kafka broker: TCP, optional TLS, ApiVersions negotiation, optional
//! SASL, then framed request/response exchanges encoded with the kafka-protocol crate.
//!
//! Requests are strictly sequential (one in flight), which is all the group member needs and
//! keeps correlation trivial. A request future that is dropped half-way (e.g. inside a
//! `select!`) leaves the byte stream in an unknown position, so the connection then refuses
//! further requests ([`ConnError::Broken`]) and the caller reconnects.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};
use kafka_protocol::ResponseError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::scram::{ScramAlgorithm, ScramClient, ScramError};
use super::security::{SaslConfig, SaslMechanism, SecurityConfig, SecurityError};

/// How long one request may wait for its response unless the caller says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this are refused rather than allocated: a garbage length prefix
/// (e.g. a TLS alert read as plaintext) must not turn into a multi-gigabyte allocation.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ApiVersions v3+ requires these to match `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
const SOFTWARE_NAME: &str = "kconnect";

/// A request this client knows how to send.
///
/// The kafka-protocol crate's own `Request` trait needs its "broker" feature (request
/// decoding), which a client has no use for; this trait pairs each request with its response
/// and caps the version at the highest one kconnect has been exercised with.
pub trait ApiRequest: Message + Encodable + HeaderVersion + Send + Sync {
    const KEY: ApiKey;
    /// The newest version kconnect has tested; newer ones the crate knows are not used.
    const MAX_TESTED: i16;
    type Response: Decodable + HeaderVersion + Send;
}

macro_rules! api_request {
    ($request:ty, $response:ty, $key:ident, $max:literal) => {
        impl ApiRequest for $request {
            const KEY: ApiKey = ApiKey::$key;
            const MAX_TESTED: i16 = $max;
            type Response = $response;
        }
    };
}

api_request!(ApiVersionsRequest, ApiVersionsResponse, ApiVersions, 3);
api_request!(
    SaslHandshakeRequest,
    SaslHandshakeResponse,
    SaslHandshake,
    1
);
api_request!(
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslAuthenticate,
    2
);
api_request!(
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    FindCoordinator,
    3
);
api_request!(JoinGroupRequest, JoinGroupResponse, JoinGroup, 6);
api_request!(SyncGroupRequest, SyncGroupResponse, SyncGroup, 4);
api_request!(HeartbeatRequest, HeartbeatResponse, Heartbeat, 4);
api_request!(LeaveGroupRequest, LeaveGroupResponse, LeaveGroup, 4);
api_request!(MetadataRequest, MetadataResponse, Metadata, 12);

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("'{addr}' is not a broker address (expected host:port)")]
    BadAddress { addr: String },
    #[error("{addr}: cannot connect: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr}: no TCP connection within {timeout:?}")]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("{addr}: TLS configuration: {source}")]
    TlsConfig {
        addr: String,
        #[source]
        source: SecurityError,
    },
    #[error("{addr}: TLS handshake failed: {source}")]
    TlsHandshake {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr}: {api:?} request failed: {source}")]
    Io {
        addr: String,
        api: ApiKey,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr}: no {api:?} response within {timeout:?}")]
    Timeout {
        addr: String,
        api: ApiKey,
        timeout: Duration,
    },
    #[error("{addr}: cannot encode {api:?} v{version}: {message}")]
    Encode {
        addr: String,
        api: ApiKey,
        version: i16,
        message: String,
    },
    #[error("{addr}: malformed {api:?} v{version} response: {message}")]
    Decode {
        addr: String,
        api: ApiKey,
        version: i16,
        message: String,
    },
    #[error("{addr}: {api:?} response of {size} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        addr: String,
        api: ApiKey,
        size: usize,
        max: usize,
    },
    #[error("{addr}: {api:?} response carries correlation id {got}, expected {expected}")]
    CorrelationMismatch {
        addr: String,
        api: ApiKey,
        got: i32,
        expected: i32,
    },
    #[error("{addr}: no common {api:?} version (broker: {broker}, kconnect: {min}..={max})")]
    UnsupportedVersion {
        addr: String,
        api: ApiKey,
        broker: String,
        min: i16,
        max: i16,
    },
    #[error("{addr}: ApiVersions failed: {error}")]
    ApiVersions { addr: String, error: ResponseError },
    #[error("{addr}: SASL {mechanism} authentication failed: {message}")]
    Authentication {
        addr: String,
        mechanism: &'static str,
        message: String,
    },
    #[error("{addr}: connection unusable after an interrupted or failed request")]
    Broken { addr: String },
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

pub struct KafkaConnection {
    addr: String,
    stream: Box<dyn Stream>,
    client_id: StrBytes,
    next_correlation_id: i32,
    /// The broker's supported (min, max) version per API key.
    broker_versions: HashMap<i16, (i16, i16)>,
    request_timeout: Duration,
    max_frame: usize,
    /// Set while a request is in flight and left set if it did not complete.
    broken: bool,
}

impl std::fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConnection")
            .field("addr", &self.addr)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// Splits `host:port` (or `[v6]:port`) into its parts.
fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

impl KafkaConnection {
    /// Connects, negotiates API versions and authenticates as `security` requires.
    pub async fn connect(
        addr: &str,
        security: &SecurityConfig,
        client_id: &str,
    ) -> Result<Self, ConnError> {
        let addr = addr.trim().to_string();
        let (host, port) =
            split_addr(&addr).ok_or_else(|| ConnError::BadAddress { addr: addr.clone() })?;
        let tcp =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
                .await
            {
                Err(_) => {
                    return Err(ConnError::ConnectTimeout {
                        addr,
                        timeout: CONNECT_TIMEOUT,
                    })
                }
                Ok(Err(source)) => return Err(ConnError::Connect { addr, source }),
                Ok(Ok(tcp)) => tcp,
            };
        // Group requests are small and latency-bound.
        let _ = tcp.set_nodelay(true);

        let stream: Box<dyn Stream> = match &security.tls {
            Some(tls) if security.protocol.uses_tls() => {
                let config = tls.client_config().map_err(|source| ConnError::TlsConfig {
                    addr: addr.clone(),
                    source,
                })?;
                let server_name = ServerName::try_from(host.clone())
                    .map_err(|_| ConnError::BadAddress { addr: addr.clone() })?;
                let handshake = TlsConnector::from(config).connect(server_name, tcp);
                let tls_stream = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
                    Err(_) => {
                        return Err(ConnError::ConnectTimeout {
                            addr,
                            timeout: CONNECT_TIMEOUT,
                        })
                    }
                    Ok(Err(source)) => return Err(ConnError::TlsHandshake { addr, source }),
                    Ok(Ok(stream)) => stream,
                };
                Box::new(tls_stream)
            }
            _ => Box::new(tcp),
        };

        let mut conn = KafkaConnection {
            addr,
            stream,
            client_id: StrBytes::from_string(client_id.to_string()),
            next_correlation_id: 0,
            broker_versions: HashMap::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_frame: DEFAULT_MAX_FRAME,
            broken: false,
        };
        conn.negotiate_versions().await?;
        if let Some(sasl) = &security.sasl {
            if security.protocol.uses_sasl() {
                conn.authenticate(sasl).await?;
            }
        }
        Ok(conn)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// True after an interrupted or failed exchange: the connection must be replaced.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The id of the broker's cluster (Metadata v2+, asked for no topics); `None` from a
    /// broker too old to report one.
    pub async fn cluster_id(&mut self) -> Result<Option<String>, ConnError> {
        let version = self.version_of::<MetadataRequest>()?;
        if version < 2 {
            return Ok(None);
        }
        // An empty topic list (v1+) asks for no topics, where null would ask for all of them.
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        let response = self.send(request).await?;
        Ok(response.cluster_id.map(|id| id.to_string()))
    }

    /// The default timeout for [`KafkaConnection::send`].
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// The version [`KafkaConnection::send`] will use for `R`: the highest that the broker,
    /// the kafka-protocol crate and kconnect's testing all support.
    pub fn version_of<R: ApiRequest>(&self) -> Result<i16, ConnError> {
        let min = R::VERSIONS.min;
        let max = R::VERSIONS.max.min(R::MAX_TESTED);
        let unsupported = |broker: String| ConnError::UnsupportedVersion {
            addr: self.addr.clone(),
            api: R::KEY,
            broker,
            min,
            max,
        };
        let &(broker_min, broker_max) = self
            .broker_versions
            .get(&(R::KEY as i16))
            .ok_or_else(|| unsupported("not offered".into()))?;
        let version = max.min(broker_max);
        if version < min.max(broker_min) {
            return Err(unsupported(format!("{broker_min}..={broker_max}")));
        }
        Ok(version)
    }

    /// Sends `request` at the negotiated version and waits for its response.
    pub async fn send<R: ApiRequest>(&mut self, request: R) -> Result<R::Response, ConnError> {
        let timeout = self.request_timeout;
        self.send_with_timeout(request, timeout).await
    }

    /// As [`KafkaConnection::send`], for requests the broker may hold a long time (JoinGroup
    /// waits for the whole group, up to the rebalance timeout).
    pub async fn send_with_timeout<R: ApiRequest>(
        &mut self,
        request: R,
        timeout: Duration,
    ) -> Result<R::Response, ConnError> {
        let version = self.version_of::<R>()?;
        let body = self.round_trip(&request, version, timeout).await?;
        self.decode::<R>(body, version)
    }

    fn decode<R: ApiRequest>(
        &self,
        mut body: Bytes,
        version: i16,
    ) -> Result<R::Response, ConnError> {
        R::Response::decode(&mut body, version).map_err(|e| ConnError::Decode {
            addr: self.addr.clone(),
            api: R::KEY,
            version,
            message: format!("{e:#}"),
        })
    }

    /// Writes one request frame and reads its response frame; returns the response body
    /// after its header.
    async fn round_trip<R: ApiRequest>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes, ConnError> {
        if self.broken {
            return Err(ConnError::Broken {
                addr: self.addr.clone(),
            });
        }
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = self.encode(request, version, correlation_id)?;

        self.broken = true;
        let max_frame = self.max_frame;
        let stream = &mut self.stream;
        let exchange = async {
            stream.write_all(&frame).await?;
            stream.flush().await?;
            let size = stream.read_i32().await?;
            let size = usize::try_from(size).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "negative frame size")
            })?;
            if size > max_frame {
                return Ok(Err(size));
            }
            let mut response = vec![0u8; size];
            stream.read_exact(&mut response).await?;
            Ok::<_, std::io::Error>(Ok(Bytes::from(response)))
        };
        let mut response = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(ConnError::Timeout {
                    addr: self.addr.clone(),
                    api: R::KEY,
                    timeout,
                })
            }
            Ok(Err(source)) => {
                return Err(ConnError::Io {
                    addr: self.addr.clone(),
                    api: R::KEY,
                    source,
                })
            }
            Ok(Ok(Err(size))) => {
                return Err(ConnError::FrameTooLarge {
                    addr: self.addr.clone(),
                    api: R::KEY,
                    size,
                    max: max_frame,
                })
            }
            Ok(Ok(Ok(response))) => response,
        };
        // The whole frame was read: the stream is positioned at the next frame again.
        self.broken = false;

        let header = ResponseHeader::decode(&mut response, R::Response::header_version(version))
            .map_err(|e| ConnError::Decode {
                addr: self.addr.clone(),
                api: R::KEY,
                version,
                message: format!("response header: {e:#}"),
            })?;
        if header.correlation_id != correlation_id {
            // Responses can no longer be matched to requests.
            self.broken = true;
            return Err(ConnError::CorrelationMismatch {
                addr: self.addr.clone(),
                api: R::KEY,
                got: header.correlation_id,
                expected: correlation_id,
            });
        }
        Ok(response)
    }

    fn encode<R: ApiRequest>(
        &self,
        request: &R,
        version: i16,
        correlation_id: i32,
    ) -> Result<Bytes, ConnError> {
        let encode_error = |message: String| ConnError::Encode {
            addr: self.addr.clone(),
            api: R::KEY,
            version,
            message,
        };
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut frame = BytesMut::new();
        frame.put_i32(0); // the size, patched below
        header
            .encode(&mut frame, R::header_version(version))
            .map_err(|e| encode_error(format!("{e:#}")))?;
        request
            .encode(&mut frame, version)
            .map_err(|e| encode_error(format!("{e:#}")))?;
        let size = i32::try_from(frame.len() - 4).map_err(|_| ConnError::Encode {
            addr: self.addr.clone(),
            api: R::KEY,
            version,
            message: "request too large".into(),
        })?;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        Ok(frame.freeze())
    }

    /// ApiVersions, starting at the newest version kconnect knows. A broker that does not know
    /// that version answers in the v0 layout with UNSUPPORTED_VERSION and its own range; an
    /// answer that cannot be read at all (librdkafka's mock answers v3 in a layout of its own)
    /// falls back to v0, which every broker speaks and which lists the same API ranges.
    async fn negotiate_versions(&mut self) -> Result<(), ConnError> {
        let mut version = ApiVersionsRequest::MAX_TESTED.min(ApiVersionsRequest::VERSIONS.max);
        loop {
            let mut request = ApiVersionsRequest::default();
            if version >= 3 {
                request = request
                    .with_client_software_name(StrBytes::from_static_str(SOFTWARE_NAME))
                    .with_client_software_version(StrBytes::from_static_str(env!(
                        "CARGO_PKG_VERSION"
                    )));
            }
            let body = self
                .round_trip(&request, version, self.request_timeout)
                .await?;
            let response = self.decode::<ApiVersionsRequest>(body.clone(), version);
            match response {
                Ok(response) if response.error_code == 0 => {
                    self.broker_versions = response
                        .api_keys
                        .iter()
                        .map(|k| (k.api_key, (k.min_version, k.max_version)))
                        .collect();
                    return Ok(());
                }
                Ok(response) if version == 0 => {
                    return Err(ConnError::ApiVersions {
                        addr: self.addr.clone(),
                        error: ResponseError::try_from_code(response.error_code)
                            .unwrap_or(ResponseError::Unknown(response.error_code)),
                    })
                }
                Err(e) if version == 0 => return Err(e),
                _ => {
                    let hint = self
                        .decode::<ApiVersionsRequest>(body, 0)
                        .ok()
                        .filter(|r| {
                            ResponseError::try_from_code(r.error_code)
                                == Some(ResponseError::UnsupportedVersion)
                        })
                        .and_then(|r| {
                            r.api_keys
                                .iter()
                                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                                .map(|k| k.max_version)
                        });
                    version = hint.unwrap_or(0).clamp(0, version - 1);
                    tracing::debug!(broker = %self.addr, version, "retrying ApiVersions");
                }
            }
        }
    }

    async fn authenticate(&mut self, sasl: &SaslConfig) -> Result<(), ConnError> {
        let mechanism = sasl.mechanism.name();
        let fail = |addr: &str, message: String| ConnError::Authentication {
            addr: addr.to_string(),
            mechanism,
            message,
        };
        // Handshake v0 would mean raw (unframed) SASL tokens, a pre-1.0 broker quirk.
        if self.version_of::<SaslHandshakeRequest>()? < 1 {
            return Err(fail(
                &self.addr,
                "the broker only supports SaslHandshake v0 (Kafka < 1.0)".into(),
            ));
        }
        let handshake = self
            .send(
                SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism)),
            )
            .await?;
        if let Some(error) = ResponseError::try_from_code(handshake.error_code) {
            let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(fail(
                &self.addr,
                format!("{error} (the broker offers: {})", offered.join(", ")),
            ));
        }

        match sasl.mechanism {
            SaslMechanism::Plain => {
                let mut token = Vec::new();
                token.push(0);
                token.extend_from_slice(sasl.username.as_bytes());
                token.push(0);
                token.extend_from_slice(sasl.password.expose().as_bytes());
                self.sasl_round(mechanism, Bytes::from(token)).await?;
            }
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                let alg = if sasl.mechanism == SaslMechanism::ScramSha256 {
                    ScramAlgorithm::Sha256
                } else {
                    ScramAlgorithm::Sha512
                };
                let scram_error = |addr: &str, e: ScramError| fail(addr, e.to_string());
                let (state, client_first) =
                    ScramClient::start(alg, &sasl.username, sasl.password.expose());
                let server_first = self.sasl_round(mechanism, client_first.into()).await?;
                let server_first = std::str::from_utf8(&server_first)
                    .map_err(|_| fail(&self.addr, "server-first is not UTF-8".into()))?;
                let (state, client_final) = state
                    .handle_server_first(server_first)
                    .map_err(|e| scram_error(&self.addr, e))?;
                let server_final = self.sasl_round(mechanism, client_final.into()).await?;
                let server_final = std::str::from_utf8(&server_final)
                    .map_err(|_| fail(&self.addr, "server-final is not UTF-8".into()))?;
                state
                    .verify_server_final(server_final)
                    .map_err(|e| scram_error(&self.addr, e))?;
            }
        }
        tracing::debug!(broker = %self.addr, mechanism, "SASL authentication succeeded");
        Ok(())
    }

    /// One SaslAuthenticate exchange: our token out, the broker's token back.
    async fn sasl_round(
        &mut self,
        mechanism: &'static str,
        token: Bytes,
    ) -> Result<Bytes, ConnError> {
        let response = self
            .send(SaslAuthenticateRequest::default().with_auth_bytes(token))
            .await?;
        if let Some(error) = ResponseError::try_from_code(response.error_code) {
            let detail = response
                .error_message
                .map(|m| m.to_string())
                .unwrap_or_else(|| error.to_string());
            return Err(ConnError::Authentication {
                addr: self.addr.clone(),
                mechanism,
                message: detail,
            });
        }
        Ok(response.auth_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::scram::test_server::ScramServer;
    use crate::cluster::security::{Password, PemFile, SaslConfig, SecurityProtocol, TlsConfig};
    use crate::cluster::testing::fake_broker::{serve, Credentials};
    use std::sync::Arc;
    use tokio::net::TcpListener;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::TlsAcceptor;

    const TEST_TIMEOUT: Duration = Duration::from_secs(20);

    fn find_coordinator() -> FindCoordinatorRequest {
        FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_key(StrBytes::from_static_str("group"))
    }

    async fn plain_broker(credentials: Credentials) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            serve(stream, credentials).await;
        });
        addr
    }

    fn sasl_security(mechanism: SaslMechanism, username: &str, password: &str) -> SecurityConfig {
        SecurityConfig {
            protocol: SecurityProtocol::SaslPlaintext,
            sasl: Some(SaslConfig {
                mechanism,
                username: username.into(),
                password: Password::new(password),
            }),
            tls: None,
        }
    }

    #[tokio::test]
    async fn plaintext_negotiates_and_sends() {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let addr = plain_broker(Credentials::None).await;
            let mut conn = KafkaConnection::connect(&addr, &SecurityConfig::default(), "test")
                .await
                .unwrap();
            assert_eq!(conn.version_of::<FindCoordinatorRequest>().unwrap(), 3);
            let response = conn.send(find_coordinator()).await.unwrap();
            assert_eq!(
                response.coordinators.len(),
                0,
                "v3 answers in the top-level fields"
            );
            assert_eq!(response.node_id.0, 7);
            assert_eq!(response.host.as_str(), "broker7");
            // The fake broker never offered JoinGroup.
            let err = conn.version_of::<JoinGroupRequest>().unwrap_err();
            assert!(err.to_string().contains("JoinGroup"), "{err}");
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn sasl_plain_checks_credentials() {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let creds = || Credentials::Plain {
                username: "alice".into(),
                password: "s3cret".into(),
            };
            let addr = plain_broker(creds()).await;
            let security = sasl_security(SaslMechanism::Plain, "alice", "s3cret");
            let mut conn = KafkaConnection::connect(&addr, &security, "test")
                .await
                .unwrap();
            conn.send(find_coordinator()).await.unwrap();

            let addr = plain_broker(creds()).await;
            let security = sasl_security(SaslMechanism::Plain, "alice", "wrong-password");
            let err = KafkaConnection::connect(&addr, &security, "test")
                .await
                .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, ConnError::Authentication { .. }), "{text}");
            assert!(
                text.contains(&addr) && !text.contains("wrong-password"),
                "{text}"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn sasl_scram_sha256_checks_credentials() {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let server =
                || Credentials::Scram(ScramServer::new(ScramAlgorithm::Sha256, "bob", "pw", 4096));
            let addr = plain_broker(server()).await;
            let security = sasl_security(SaslMechanism::ScramSha256, "bob", "pw");
            let mut conn = KafkaConnection::connect(&addr, &security, "test")
                .await
                .unwrap();
            conn.send(find_coordinator()).await.unwrap();

            let addr = plain_broker(server()).await;
            let security = sasl_security(SaslMechanism::ScramSha256, "bob", "not-pw");
            let err = KafkaConnection::connect(&addr, &security, "test")
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::Authentication { .. }), "{err}");

            // A mechanism the broker does not enable is named in the error.
            let addr = plain_broker(server()).await;
            let security = sasl_security(SaslMechanism::ScramSha512, "bob", "pw");
            let err = KafkaConnection::connect(&addr, &security, "test")
                .await
                .unwrap_err();
            assert!(err.to_string().contains("SCRAM-SHA-256"), "{err}");
        })
        .await
        .unwrap();
    }

    struct Pki {
        ca_pem: String,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    }

    /// A CA and a server certificate it signed for `names`.
    fn pki(names: &[&str]) -> Pki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &*ca)
            .unwrap();
        Pki {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
        }
    }

    /// A TLS listener in front of the fake broker; accepts any number of connections.
    async fn tls_broker(pki: &Pki) -> u16 {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), pki.key.clone_key())
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        serve(stream, Credentials::None).await;
                    }
                });
            }
        });
        port
    }

    fn tls_security(ca_file: &std::path::Path, verify_hostname: bool) -> SecurityConfig {
        SecurityConfig {
            protocol: SecurityProtocol::Ssl,
            sasl: None,
            tls: Some(TlsConfig {
                trust: PemFile {
                    key: "ssl.truststore.location",
                    path: ca_file.to_path_buf(),
                },
                identity: None,
                verify_hostname,
            }),
        }
    }

    #[tokio::test]
    async fn tls_handshake_and_request() {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let dir = tempfile::tempdir().unwrap();
            let server_pki = pki(&["localhost"]);
            let port = tls_broker(&server_pki).await;
            let ca_file = dir.path().join("ca.pem");
            std::fs::write(&ca_file, &server_pki.ca_pem).unwrap();

            let addr = format!("localhost:{port}");
            let mut conn = KafkaConnection::connect(&addr, &tls_security(&ca_file, true), "test")
                .await
                .unwrap();
            let response = conn.send(find_coordinator()).await.unwrap();
            assert_eq!(response.host.as_str(), "broker7");

            // A trust store holding some other CA refuses the broker.
            let other_ca = dir.path().join("other.pem");
            std::fs::write(&other_ca, pki(&["localhost"]).ca_pem).unwrap();
            let err = KafkaConnection::connect(&addr, &tls_security(&other_ca, true), "test")
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::TlsHandshake { .. }), "{err}");
            // ... also with the hostname check off: the chain is still verified.
            let err = KafkaConnection::connect(&addr, &tls_security(&other_ca, false), "test")
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::TlsHandshake { .. }), "{err}");
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn tls_hostname_verification_switch() {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let dir = tempfile::tempdir().unwrap();
            let server_pki = pki(&["kafka.example.com"]);
            let port = tls_broker(&server_pki).await;
            let ca_file = dir.path().join("ca.pem");
            std::fs::write(&ca_file, &server_pki.ca_pem).unwrap();
            let addr = format!("127.0.0.1:{port}");

            let err = KafkaConnection::connect(&addr, &tls_security(&ca_file, true), "test")
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::TlsHandshake { .. }), "{err}");

            let mut conn = KafkaConnection::connect(&addr, &tls_security(&ca_file, false), "test")
                .await
                .unwrap();
            conn.send(find_coordinator()).await.unwrap();
        })
        .await
        .unwrap();
    }

    #[test]
    fn addresses() {
        assert_eq!(
            split_addr("localhost:9092"),
            Some(("localhost".into(), 9092))
        );
        assert_eq!(split_addr("[::1]:9093"), Some(("::1".into(), 9093)));
        assert_eq!(split_addr("localhost"), None);
        assert_eq!(split_addr(":9092"), None);
    }
}
