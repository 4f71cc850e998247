//! A start-up check of a client config's credentials against the real brokers.
//!
//! librdkafka retries a failed SASL authentication or TLS handshake like any lost connection:
//! a worker with a wrong password would only time out, after 30 s, with "broker transport
//! failure". One connection of kconnect's own client (conn.rs) authenticates the way the
//! config says and turns a refusal into an error that names the setting to fix.

use std::collections::BTreeMap;

use super::conn::{ConnError, KafkaConnection};
use super::security::{SecurityConfig, SecurityError};

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{prefix}{source}")]
    Config {
        prefix: String,
        #[source]
        source: SecurityError,
    },
    #[error(
        "the broker {addr} refused the SASL {mechanism} login of user \"{user}\": check \
         {setting} ({message})"
    )]
    Authentication {
        addr: String,
        mechanism: &'static str,
        user: String,
        setting: String,
        message: String,
    },
    #[error("TLS with the broker {addr} failed: check {setting} ({source})")]
    Tls {
        addr: String,
        setting: String,
        #[source]
        source: ConnError,
    },
}

/// Connects to the first broker of `bootstrap` that accepts a TCP connection and logs in as
/// `props` say (Java-client or librdkafka key names; `prefix`, e.g. `producer.`, is what the
/// user wrote before them, for the error message). Errors only for what retrying cannot cure:
/// refused credentials, a certificate the trust store does not accept, an unusable security
/// setting. Unreachable brokers pass: the clients retry those, and the worker reports them.
/// PLAINTEXT configs are not checked.
pub async fn check_credentials(
    bootstrap: &str,
    props: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<(), CredentialsError> {
    let security =
        SecurityConfig::from_props(props).map_err(|source| CredentialsError::Config {
            prefix: prefix.to_string(),
            source,
        })?;
    if security.sasl.is_none() && security.tls.is_none() {
        return Ok(());
    }
    let credentials_key = if props.contains_key("sasl.jaas.config") {
        format!("{prefix}sasl.jaas.config")
    } else {
        format!("{prefix}sasl.username and {prefix}sasl.password")
    };
    let trust_key = ["ssl.truststore.location", "ssl.ca.location"]
        .into_iter()
        .find(|k| props.contains_key(*k))
        .map(|k| format!("{prefix}{k}"))
        .unwrap_or_else(|| format!("{prefix}ssl.truststore.location"));
    for addr in bootstrap
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        match KafkaConnection::connect(addr, &security, "kconnect-credentials-check").await {
            Ok(_) => return Ok(()),
            Err(ConnError::Authentication {
                addr,
                mechanism,
                message,
            }) => {
                return Err(CredentialsError::Authentication {
                    addr,
                    mechanism,
                    user: security
                        .sasl
                        .as_ref()
                        .map(|s| s.username.clone())
                        .unwrap_or_default(),
                    setting: credentials_key,
                    message,
                })
            }
            Err(e @ (ConnError::TlsHandshake { .. } | ConnError::TlsConfig { .. })) => {
                return Err(CredentialsError::Tls {
                    addr: addr.to_string(),
                    setting: trust_key,
                    source: e,
                })
            }
            Err(e) => {
                tracing::debug!(broker = addr, "credentials check: {e}");
            }
        }
    }
    Ok(())
}

/// Checks the credentials of a worker's own clients (its top-level keys: internal topics, the
/// group connection) and of its tasks' clients (`producer.*`, `consumer.*`), as Connect users
/// write them: each set that asks for SASL or TLS logs in once.
pub async fn check_worker_credentials(
    props: &BTreeMap<String, String>,
    bootstrap: &str,
) -> Result<(), CredentialsError> {
    check_credentials(bootstrap, props, "").await?;
    for prefix in ["producer.", "consumer."] {
        let client = crate::config::prefixed(props, prefix);
        check_credentials(bootstrap, &client, prefix).await?;
    }
    Ok(())
}
