//! Every error answer is Connect's `{"error_code", "message"}` JSON, whoever produced it: the
//! handlers ([`super::ApiError`]), and also axum's own rejections (a body over the size limit,
//! an undecodable path) and anything else that answers an error in plain text. Bodies must be
//! JSON, as Connect's resources `@Consume` only `application/json`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, MAX_BODY};

/// Rewrites an error response that is not JSON into Connect's error body, keeping its status
/// and its text as the message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
    } else {
        text
    };
    let mut out = ApiError::new(status, message).into_response();
    // Keep what else the answer said (WWW-Authenticate on a 401, for one).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// 415 for a request body that says it is not JSON, and 413 for one over [`MAX_BODY`] (by its
/// declared length; a body that turns out longer is refused where it is read). A body without
/// a content type is read as JSON: Connect's Jersey would refuse it, but clients that omit the
/// header while sending JSON are common and nothing is gained by refusing them.
pub async fn json_media_type(request: Request, next: Next) -> Response {
    let has_body = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && declared_length(&request).is_none_or(|n| n > 0);
    if let Some(n) = declared_length(&request).filter(|n| *n > MAX_BODY) {
        return too_large(n).into_response();
    }
    if has_body {
        if let Some(ct) = request.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !media_type_is_json(ct) {
                return ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("HTTP 415 Unsupported Media Type: request bodies are application/json, not {ct}"),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

pub fn too_large(length: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body of {length} bytes is larger than the limit of {MAX_BODY} bytes"),
    )
}

fn declared_length(request: &Request<Body>) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(media_type_is_json)
}

/// `application/json` (any parameters), `application/*+json`, or a wildcard.
fn media_type_is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "*/*"
}

#[cfg(test)]
mod tests {
    use super::media_type_is_json;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=UTF-8",
            "Application/JSON",
            "application/vnd.kafka+json",
        ] {
            assert!(media_type_is_json(ok), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", ""] {
            assert!(!media_type_is_json(bad), "{bad}");
        }
    }
}
