//! Just enough of a broker to test connection setup (conn.rs): ApiVersions, SASL (PLAIN and
//! SCRAM-SHA-256) and one FindCoordinator, in the newest versions the client offers.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FindCoordinatorResponse, RequestKind,
    SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::io::{AsyncRead, AsyncWrite};

use super::wire::{read_request, write_response};
use crate::cluster::scram::test_server::ScramServer;

/// What the fake broker supports, as (key, min, max).
const VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::FindCoordinator, 0, 3),
];

/// What the broker's SASL listener accepts.
pub enum Credentials {
    None,
    Plain { username: String, password: String },
    Scram(ScramServer),
}

impl Credentials {
    fn mechanism(&self) -> &'static str {
        match self {
            Credentials::Plain { .. } => "PLAIN",
            Credentials::Scram(_) => "SCRAM-SHA-256",
            Credentials::None => "",
        }
    }
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        VERSIONS
            .iter()
            .map(|(key, min, max)| {
                ApiVersion::default()
                    .with_api_key(*key as i16)
                    .with_min_version(*min)
                    .with_max_version(*max)
            })
            .collect(),
    )
}

/// Serves one client connection until it closes; asserts SASL happens when configured.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, mut credentials: Credentials) {
    let mut authenticated = matches!(credentials, Credentials::None);
    let mut scram_step = 0;
    while let Some(request) = read_request(&mut stream).await {
        match &request.body {
            RequestKind::ApiVersions(_) => {
                write_response(&mut stream, &request, api_versions()).await;
            }
            RequestKind::SaslHandshake(handshake) => {
                let expected = credentials.mechanism();
                let error = if handshake.mechanism.as_str() == expected {
                    0
                } else {
                    ResponseError::UnsupportedSaslMechanism.code()
                };
                let response = SaslHandshakeResponse::default()
                    .with_error_code(error)
                    .with_mechanisms(vec![StrBytes::from_static_str(expected)]);
                write_response(&mut stream, &request, response).await;
            }
            RequestKind::SaslAuthenticate(authenticate) => {
                let token = &authenticate.auth_bytes;
                let (ok, reply) = match &mut credentials {
                    Credentials::Plain { username, password } => {
                        let expected = format!("\0{username}\0{password}");
                        (token == expected.as_bytes(), Vec::new())
                    }
                    Credentials::Scram(server) => {
                        let text = std::str::from_utf8(token).expect("SCRAM messages are text");
                        scram_step += 1;
                        if scram_step == 1 {
                            match server.first(text) {
                                Ok(first) => (true, first.into_bytes()),
                                Err(_) => (false, Vec::new()),
                            }
                        } else {
                            let last = server.finish(text);
                            (last.starts_with("v="), last.into_bytes())
                        }
                    }
                    Credentials::None => (false, Vec::new()),
                };
                // SCRAM's first round trip only exchanges nonces.
                if ok && !matches!(credentials, Credentials::Scram(_) if scram_step == 1) {
                    authenticated = true;
                }
                let response = if ok {
                    SaslAuthenticateResponse::default()
                } else {
                    SaslAuthenticateResponse::default()
                        .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                        .with_error_message(Some(StrBytes::from_static_str(
                            "Authentication failed: Invalid credentials",
                        )))
                };
                write_response(
                    &mut stream,
                    &request,
                    response.with_auth_bytes(Bytes::from(reply)),
                )
                .await;
            }
            RequestKind::FindCoordinator(_) => {
                assert!(authenticated, "request before authentication");
                assert_eq!(
                    request.version, 3,
                    "the client should pick the highest common version"
                );
                let response = FindCoordinatorResponse::default()
                    .with_node_id(BrokerId(7))
                    .with_host(StrBytes::from_static_str("broker7"))
                    .with_port(9092);
                write_response(&mut stream, &request, response).await;
            }
            _ => panic!("fake broker got unexpected {:?}", request.api),
        }
    }
}
