//! The HTTP side of `kconnect ctl`: sending one [`ApiRequest`] and classifying the reply.

use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use super::error::CtlError;
use super::request::{ApiRequest, Method};
use super::BasicAuth;

/// What the worker's reply means for the command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// A 2xx status; the JSON body, if there was one (204 has none).
    Success(Option<Value>),
    /// Any other status, with Connect's `{"error_code","message"}` when the body has it.
    ServerError { code: i64, message: String },
    /// A 2xx status whose body is not JSON: not a Connect worker, or a proxy in the way.
    BadReply(String),
}

/// Builds the HTTP client. Loopback URLs never go through a proxy from the environment.
/// `ca_cert`: a PEM file of CA certificates trusted besides the system's.
pub(crate) fn build_client(
    base: &Url,
    timeout: Duration,
    ca_cert: Option<&std::path::Path>,
) -> Result<reqwest::Client, CtlError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("kconnect-ctl/", env!("CARGO_PKG_VERSION")));
    if is_loopback(base) {
        builder = builder.no_proxy();
    }
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|source| CtlError::CaFile {
            path: path.to_path_buf(),
            source,
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            CtlError::NoCertificates {
                path: path.to_path_buf(),
                source,
            }
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The status and body of a reply; `Err` when there was no complete HTTP reply (the worker
/// cannot be reached, the connection broke, the request timed out).
pub(crate) async fn send(
    client: &reqwest::Client,
    base: &Url,
    auth: Option<&BasicAuth>,
    request: &ApiRequest,
) -> Result<(u16, Vec<u8>), CtlError> {
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut builder = client
        .request(method, request.url(base))
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(auth) = auth {
        builder = builder.basic_auth(&auth.user, Some(&auth.password));
    }
    if let Some(body) = &request.body {
        builder = builder.json(body);
    } else if matches!(request.method, Method::Post | Method::Put | Method::Patch) {
        // Jetty answers 411 to a bodiless POST/PUT without a length on some versions.
        builder = builder.header(reqwest::header::CONTENT_LENGTH, "0");
    }
    let response = builder.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, body.to_vec()))
}

/// Classifies a reply by status and body.
pub(crate) fn interpret(status: u16, body: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let json = if trimmed.is_empty() {
        None
    } else {
        serde_json::from_str::<Value>(trimmed).ok()
    };
    if (200..300).contains(&status) {
        return match (trimmed.is_empty(), json) {
            (true, _) => Outcome::Success(None),
            (false, Some(value)) => Outcome::Success(Some(value)),
            (false, None) => Outcome::BadReply(format!(
                "HTTP {status} with a reply that is not JSON (is this a Kafka Connect \
                 worker?): {}",
                excerpt(trimmed)
            )),
        };
    }
    let code = json
        .as_ref()
        .and_then(|v| v.get("error_code"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(status));
    let message = match &json {
        Some(value) => match value.get("message") {
            Some(Value::String(message)) => message.clone(),
            Some(Value::Null) | None => value.to_string(),
            Some(other) => other.to_string(),
        },
        None if trimmed.is_empty() => reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string(),
        None => excerpt(trimmed),
    };
    Outcome::ServerError { code, message }
}

/// The first 300 characters of a text on one line.
fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &one_line[..end]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_replies() {
        assert_eq!(interpret(204, b""), Outcome::Success(None));
        assert_eq!(interpret(202, b"\n"), Outcome::Success(None));
        assert_eq!(
            interpret(200, br#"{"a": 1}"#),
            Outcome::Success(Some(json!({"a": 1})))
        );
        assert_eq!(
            interpret(
                404,
                br#"{"error_code":404,"message":"Connector x not found"}"#
            ),
            Outcome::ServerError {
                code: 404,
                message: "Connector x not found".into()
            }
        );
        assert_eq!(
            interpret(500, br#"{"error_code":500,"message":null}"#),
            Outcome::ServerError {
                code: 500,
                message: r#"{"error_code":500,"message":null}"#.into()
            }
        );
        assert_eq!(
            interpret(401, b"User cannot access the resource."),
            Outcome::ServerError {
                code: 401,
                message: "User cannot access the resource.".into()
            }
        );
        assert_eq!(
            interpret(503, b""),
            Outcome::ServerError {
                code: 503,
                message: "Service Unavailable".into()
            }
        );
        match interpret(200, b"<html>hello</html>") {
            Outcome::BadReply(message) => assert!(message.contains("<html>"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn excerpts_are_short() {
        let long = "x".repeat(1000);
        assert_eq!(excerpt(&long).len(), 303);
        assert_eq!(excerpt("a\n  b"), "a b");
    }

    #[test]
    fn loopback_detection() {
        for url in [
            "http://localhost:8083",
            "http://127.0.0.1:8083",
            "http://[::1]:8083",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        assert!(!is_loopback(&Url::parse("http://connect:8083").unwrap()));
    }
}
