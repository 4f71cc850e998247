//! Distributed mode: requests this worker cannot complete go where they can, as Connect's
//! `RestClient` forwarding does. A handler answers with [`ApiError::forward`]; this layer then
//! replays the request (method, path, query, body, content type and credentials) at that URL
//! with `forward=false` and returns what that worker answered. A request that already came
//! forwarded is not forwarded again: it gets 409, as in Connect, and the client retries.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use kconnect_actors::distributed::signature::{ALGORITHM_HEADER, SIGNATURE_HEADER};

use super::{ApiError, RestState, MAX_BODY};

/// Why a request could not be replayed at the other worker.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("{base}: {source}")]
    BadUrl {
        base: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{url}: {source}")]
    Send {
        url: reqwest::Url,
        #[source]
        source: reqwest::Error,
    },
}

/// Marks a response that must be replaced by the answer of the worker at this URL.
#[derive(Debug, Clone)]
pub struct ForwardTo(pub String);

pub async fn forwarding(State(state): State<RestState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        // A body longer than it declared, or sent without a length.
        Err(e) if is_length_limit(&e) => {
            return super::errors::too_large(MAX_BODY + 1).into_response()
        }
        Err(e) => {
            return ApiError::bad_request(format!("Cannot read the request body: {e}"))
                .into_response()
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let Some(ForwardTo(base)) = response.extensions().get::<ForwardTo>().cloned() else {
        return response;
    };
    if already_forwarded(&uri) {
        return ApiError::new(
            StatusCode::CONFLICT,
            "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
        )
        .into_response();
    }
    let Some(client) = state.peers.clone() else {
        // Only distributed mode sends requests elsewhere.
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this worker cannot forward requests",
        )
        .into_response();
    };
    match replay(&client, &base, &method, &uri, &headers, bytes).await {
        Ok(r) => r,
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Error trying to forward REST request: {e}"),
        )
        .into_response(),
    }
}

/// Whether reading failed on the size limit: http-body-util's `LengthLimitError` somewhere in
/// the chain, told by its type.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn already_forwarded(uri: &Uri) -> bool {
    uri.query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("forward=false"))
}

/// The request's path (as received, so still percent-encoded) under `base`, which may carry a
/// path prefix of its own, with the request's query and `forward=false`.
fn forward_url(base: &str, uri: &Uri) -> Result<reqwest::Url, url::ParseError> {
    let mut url = reqwest::Url::parse(base)?;
    let path = format!("{}{}", url.path().trim_end_matches('/'), uri.path());
    url.set_path(&path);
    let query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{q}&forward=false"),
        _ => "forward=false".to_string(),
    };
    url.set_query(Some(&query));
    Ok(url)
}

async fn replay(
    client: &reqwest::Client,
    base: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ForwardError> {
    let url = forward_url(base, uri).map_err(|source| ForwardError::BadUrl {
        base: base.to_string(),
        source,
    })?;
    tracing::debug!(%method, %url, "forwarding REST request");
    let send = |source| ForwardError::Send {
        url: url.clone(),
        source,
    };
    // axum and reqwest share the `http` crate: its method and status types are the same.
    let mut request = client
        .request(method.clone(), url.clone())
        .body(body.to_vec());
    for name in [header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT] {
        if let Some(v) = headers.get(&name).and_then(|v| v.to_str().ok()) {
            request = request.header(name.as_str(), v);
        }
    }
    // A signed internal request (a fencing request sent to a follower) reaches the leader with
    // its signature: the body is replayed byte for byte, so it still matches.
    for name in [SIGNATURE_HEADER, ALGORITHM_HEADER] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, v);
        }
    }
    let answer = request.send().await.map_err(send)?;
    let status = answer.status();
    let content_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let location = answer.headers().get(reqwest::header::LOCATION).cloned();
    let bytes = answer.bytes().await.map_err(send)?;
    // The other worker's answer as it was: no body (and so no content type) on a 204 or an
    // empty answer, else its body with its content type; never a made-up one.
    let mut response = Response::new(Body::from(bytes.clone()));
    *response.status_mut() = status;
    if !bytes.is_empty() && status != StatusCode::NO_CONTENT {
        if let Some(ct) = content_type.and_then(|c| header::HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
    }
    if let Some(l) = location.and_then(|l| header::HeaderValue::from_bytes(l.as_bytes()).ok()) {
        response.headers_mut().insert(header::LOCATION, l);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_told_by_its_error_type() {
        let over = axum::body::to_bytes(Body::from(vec![b'x'; 17]), 16)
            .await
            .unwrap_err();
        assert!(is_length_limit(&over), "{over:?}");
        // A body that fails for another reason is not taken for one too long.
        let broken = Body::from_stream(futures::stream::iter([Err::<axum::body::Bytes, _>(
            std::io::Error::other("length limit exceeded (a lookalike message)"),
        )]));
        let other = axum::body::to_bytes(broken, 16).await.unwrap_err();
        assert!(!is_length_limit(&other), "{other:?}");
    }

    #[test]
    fn a_forwarded_url_keeps_the_path_as_received_and_adds_forward_false() {
        let uri: Uri = "/connectors/a%20b%2Fc/config?expand=status"
            .parse()
            .unwrap();
        assert_eq!(
            forward_url("http://leader:8083", &uri).unwrap().as_str(),
            "http://leader:8083/connectors/a%20b%2Fc/config?expand=status&forward=false"
        );
        // A base with a path prefix (a proxy) and a trailing slash; no query.
        let uri: Uri = "/connectors".parse().unwrap();
        assert_eq!(
            forward_url("https://proxy/connect/", &uri)
                .unwrap()
                .as_str(),
            "https://proxy/connect/connectors?forward=false"
        );
        assert!(matches!(
            forward_url("not a url", &uri),
            Err(url::ParseError::RelativeUrlWithoutBase)
        ));
    }
}
