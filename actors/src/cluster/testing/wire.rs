//! The broker side of the wire for the test brokers: requests decoded and responses encoded
//! with the kafka-protocol crate's broker-side types (its `broker` feature, enabled for tests
//! only), so the fakes share no byte layout with the client they test.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One decoded request.
pub struct Request {
    pub api: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    pub body: RequestKind,
}

/// Reads one `[size][body]` frame; `None` once the client has closed the connection.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Bytes> {
    let size = stream.read_i32().await.ok()?;
    let mut body = vec![0u8; usize::try_from(size).ok()?];
    stream.read_exact(&mut body).await.ok()?;
    Some(Bytes::from(body))
}

/// The next request on `stream`, or `None` once the client has closed it. A request the crate
/// cannot decode fails the test: the client under test wrote it.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
    let mut frame = read_frame(stream).await?;
    // The header's own version depends on the API and version it names (its first 4 bytes).
    let mut peek = frame.clone();
    let api = ApiKey::try_from(peek.get_i16()).expect("a known API key");
    let version = peek.get_i16();
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .expect("a well-formed request header");
    let body = RequestKind::decode(api, &mut frame, version)
        .unwrap_or_else(|e| panic!("{api:?} v{version} does not decode: {e}"));
    assert!(
        !frame.has_remaining(),
        "{api:?} v{version}: {} bytes after the body",
        frame.remaining()
    );
    Some(Request {
        api,
        version,
        correlation_id: header.correlation_id,
        body,
    })
}

/// Answers `request` in its own version.
pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    request: &Request,
    response: impl Into<ResponseKind>,
) {
    write_response_as(stream, request, request.version, response).await;
}

/// Answers `request` in `version`: a broker answers an ApiVersions request of a version it
/// does not know in v0.
pub async fn write_response_as<S: AsyncWrite + Unpin>(
    stream: &mut S,
    request: &Request,
    version: i16,
    response: impl Into<ResponseKind>,
) {
    let mut frame = BytesMut::new();
    frame.put_i32(0); // size, filled in below
    ResponseHeader::default()
        .with_correlation_id(request.correlation_id)
        .encode(&mut frame, request.api.response_header_version(version))
        .expect("response header encodes");
    response
        .into()
        .encode(&mut frame, version)
        .unwrap_or_else(|e| panic!("{:?} v{version} response does not encode: {e}", request.api));
    let size = i32::try_from(frame.len() - 4).expect("a small response");
    frame[..4].copy_from_slice(&size.to_be_bytes());
    stream.write_all(&frame).await.expect("write response");
}
