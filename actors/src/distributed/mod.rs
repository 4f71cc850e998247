//! Distributed mode: workers that form a group through Kafka and share connector configs,
//! offsets and statuses through Connect's three internal topics.
//!
//! - [`config`]: the distributed worker keys.
//! - [`herder`]: `DistributedHerder`, the actor that owns the cluster view (config snapshot,
//!   this worker's assignment) and tells the local [`Worker`](crate::Worker) what to run.
//! - [`member`]: the group handler: member metadata, the leader's assignment, and assignments
//!   turned into herder messages.
//! - [`status_writer`]: statuses set on this worker, written to the status topic off the actors'
//!   threads.

pub mod config;
pub mod fencing;
pub mod herder;
pub mod member;
pub mod signature;
pub mod status_writer;

pub use herder::{ClusterView, DistributedHerder, HerderMsg, Membership};

/// Why the workers' REST client cannot be built from the worker config.
#[derive(Debug, thiserror::Error)]
pub enum RestClientError {
    /// The inter-worker `Authorization` value is not a valid header value.
    #[error(transparent)]
    Authorization(#[from] reqwest::header::InvalidHeaderValue),
    #[error("ssl.truststore.location {location}: {source}")]
    TruststoreRead {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ssl.truststore.location {location}: {source}")]
    TruststorePem {
        location: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(transparent)]
    Build(reqwest::Error),
}

/// The HTTP client one worker uses to reach another's REST API (forwarded requests, task
/// configs to the leader). With https listeners it trusts, besides the usual roots, the PEM
/// trust store of `listeners.https.ssl.truststore.location` (or `ssl.truststore.location`), as
/// Connect's inter-worker client does. `authorization` is sent with every request (REST basic
/// auth between workers).
pub fn rest_client(
    props: &kconnect_connectors::api::Props,
    authorization: Option<&str>,
) -> Result<reqwest::Client, RestClientError> {
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(90));
    if let Some(value) = authorization {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = reqwest::header::HeaderValue::from_str(value)?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    let key = |k: &str| {
        props
            .get(&format!("listeners.https.{k}"))
            .or_else(|| props.get(k))
    };
    if let Some(location) = key("ssl.truststore.location") {
        let pem = std::fs::read(location).map_err(|source| RestClientError::TruststoreRead {
            location: location.clone(),
            source,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            RestClientError::TruststorePem {
                location: location.clone(),
                source,
            }
        })?;
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(RestClientError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that cannot build its REST client says which setting is wrong, and callers
    /// can tell a bad trust store from a bad credential.
    #[test]
    fn rest_client_errors_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.pem").display().to_string();
        let props = [("ssl.truststore.location".to_string(), missing.clone())].into();
        let e = rest_client(&props, None).unwrap_err();
        assert!(
            matches!(&e, RestClientError::TruststoreRead { location, .. } if *location == missing),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("ssl.truststore.location {missing}: ")),
            "{e}"
        );
        // The listener's own key wins over the plain one.
        let listener = [
            (
                "listeners.https.ssl.truststore.location".to_string(),
                missing.clone(),
            ),
            ("ssl.truststore.location".to_string(), "/elsewhere".into()),
        ]
        .into();
        assert!(matches!(
            rest_client(&listener, None),
            Err(RestClientError::TruststoreRead { location, .. }) if location == missing
        ));
        let e = rest_client(&Default::default(), Some("Basic a\nb")).unwrap_err();
        assert!(matches!(e, RestClientError::Authorization(_)), "{e:?}");
        assert!(rest_client(&Default::default(), Some("Basic YTpi")).is_ok());
    }
}
