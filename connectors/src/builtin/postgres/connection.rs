//! The `connection.*` keys of Confluent's JDBC connectors and the PostgreSQL client they give.
//!
//! `connection.url` takes JDBC's form (`jdbc:postgresql://host:port/db?user=…&password=…`) and
//! libpq's (`postgres://user:password@host:port/db`, `postgresql://…`);
//! `connection.user` / `connection.password` win over credentials in the URL, as the JDBC
//! driver's properties do. The password is never part of an error or a log line.

use std::time::Duration;

use thiserror::Error;
use tokio_postgres::NoTls;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, Validator, Width};

/// The JDBC URL of the database (`jdbc:postgresql://host:port/db?…`).
pub const CONNECTION_URL: &str = "connection.url";
/// The user to log in as.
pub const CONNECTION_USER: &str = "connection.user";
/// The user's password.
pub const CONNECTION_PASSWORD: &str = "connection.password";
/// How many times to try to connect before giving up.
pub const CONNECTION_ATTEMPTS: &str = "connection.attempts";
/// How long to wait between connection attempts, in milliseconds.
pub const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";

const GROUP: &str = "Database";

/// The `connection.*` keys, as Confluent's JDBC connectors define them.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            CONNECTION_URL,
            ConfigType::String,
            None,
            None,
            Importance::High,
            "JDBC connection URL (jdbc:postgresql://host:port/database) or a libpq URL \
             (postgres://user@host:port/database).",
        )
        .in_group(GROUP, Width::Long, "JDBC URL")
        .define(
            CONNECTION_USER,
            ConfigType::String,
            Some(""),
            None,
            Importance::High,
            "The database user; overrides a user in the URL.",
        )
        .in_group(GROUP, Width::Long, "JDBC User")
        .define(
            CONNECTION_PASSWORD,
            ConfigType::Password,
            Some(""),
            None,
            Importance::High,
            "The database user's password; overrides a password in the URL. Never shown.",
        )
        .in_group(GROUP, Width::Short, "JDBC Password")
        .define(
            CONNECTION_ATTEMPTS,
            ConfigType::Int,
            Some("3"),
            Some(Validator::at_least(1.0)),
            Importance::Low,
            "How many times to try to connect before the connector or task fails.",
        )
        .in_group(GROUP, Width::Short, "JDBC connection attempts")
        .define(
            CONNECTION_BACKOFF_MS,
            ConfigType::Long,
            Some("10000"),
            None,
            Importance::Low,
            "Milliseconds to wait between connection attempts.",
        )
        .in_group(GROUP, Width::Short, "JDBC connection backoff (ms)")
}

/// Why a connection to the database could not be made.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConnectionError {
    /// `connection.url` is not a URL the client can use.
    #[error("Invalid value {url} for configuration connection.url: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server refused or could not be reached. `target` is `host:port/db` as the user
    /// wrote it, never with the password.
    #[error(
        "cannot connect to PostgreSQL at {target} as {user} after {attempts} attempt(s): {cause}"
    )]
    Connect {
        /// Where the connection was tried (host, port and database).
        target: String,
        /// The user the login was for.
        user: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        cause: String,
    },
}

impl From<ConnectionError> for crate::error::ConnectError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::BadUrl { .. } => crate::error::ConnectError::config(e.to_string()),
            ConnectionError::Connect { .. } => crate::error::ConnectError::other(e.to_string()),
        }
    }
}

/// Where and how to connect: parsed once from a connector's or task's props.
#[derive(Clone)]
pub struct Connection {
    config: tokio_postgres::Config,
    /// `host:port/db`, for messages.
    target: String,
    attempts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio_postgres::Config's Debug redacts the password; say only where it goes anyway.
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("user", &self.user())
            .finish()
    }
}

impl Connection {
    /// Reads the `connection.*` keys of `props`.
    pub fn from_props(props: &Props) -> Result<Connection, ConnectionError> {
        let url = props.get(CONNECTION_URL).map(String::as_str).unwrap_or("");
        let mut config = parse_url(url)?;
        if let Some(user) = props.get(CONNECTION_USER).filter(|u| !u.is_empty()) {
            config.user(user);
        }
        if let Some(pw) = props.get(CONNECTION_PASSWORD).filter(|p| !p.is_empty()) {
            config.password(pw);
        }
        let attempts = props
            .get(CONNECTION_ATTEMPTS)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(3u32)
            .max(1);
        let backoff = props
            .get(CONNECTION_BACKOFF_MS)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(10_000u64);
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("").to_string();
        Ok(Connection {
            config,
            target: format!("{host}:{port}/{db}"),
            attempts,
            backoff: Duration::from_millis(backoff),
        })
    }

    /// The user to log in as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    /// `host:port/db`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Connects, trying `connection.attempts` times `connection.backoff.ms` apart. The
    /// connection's I/O runs on a task of its own until the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, ConnectionError> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.config.connect(NoTls).await {
                Ok((client, connection)) => {
                    let target = self.target.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!(%target, "PostgreSQL connection closed: {e}");
                        }
                    });
                    return Ok(client);
                }
                Err(e) => {
                    last = describe(&e);
                    if attempt < self.attempts {
                        tracing::warn!(
                            target = %self.target,
                            attempt,
                            "cannot connect to PostgreSQL, trying again: {last}"
                        );
                        tokio::time::sleep(self.backoff).await;
                    }
                }
            }
        }
        Err(ConnectionError::Connect {
            target: self.target.clone(),
            user: self.user().to_string(),
            attempts: self.attempts,
            cause: last,
        })
    }
}

/// The server's message with its cause (tokio_postgres' Display says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                source = cause.source();
            }
            s
        }
    }
}

/// A JDBC or libpq URL as a client config. JDBC's query parameters `user`, `password` and
/// `currentSchema`-like driver options other than those are ignored, as kconnect has no driver.
fn parse_url(url: &str) -> Result<tokio_postgres::Config, ConnectionError> {
    let bad = |why: &str| ConnectionError::BadUrl {
        url: redact(url),
        why: why.to_string(),
    };
    if url.trim().is_empty() {
        return Err(bad("a connection URL is required"));
    }
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("jdbc:postgresql:") {
        // jdbc:postgresql://host[:port]/db[?k=v&…] (also jdbc:postgresql:db → localhost).
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut config = tokio_postgres::Config::new();
        match location.strip_prefix("//") {
            Some(hostpart) => {
                let (hosts, db) = hostpart.split_once('/').unwrap_or((hostpart, ""));
                for host in hosts.split(',').filter(|h| !h.is_empty()) {
                    let (h, port) = match host.rsplit_once(':') {
                        Some((h, p)) if !h.ends_with(']') || host.starts_with('[') => {
                            let port = p
                                .parse::<u16>()
                                .map_err(|_| bad(&format!("bad port '{p}'")))?;
                            (h, port)
                        }
                        _ => (host, 5432),
                    };
                    config.host(h.trim_start_matches('[').trim_end_matches(']'));
                    config.port(port);
                }
                if hosts.is_empty() {
                    config.host("localhost");
                }
                if !db.is_empty() {
                    config.dbname(db);
                }
            }
            None => {
                config.host("localhost");
                if !location.is_empty() {
                    config.dbname(location);
                }
            }
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "user" => {
                    config.user(v);
                }
                "password" => {
                    config.password(v);
                }
                "connectTimeout" => {
                    if let Ok(s) = v.parse::<u64>() {
                        config.connect_timeout(Duration::from_secs(s));
                    }
                }
                "ApplicationName" => {
                    config.application_name(v);
                }
                _ => {}
            }
        }
        return Ok(config);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| bad(&e.to_string()));
    }
    Err(bad(
        "expected jdbc:postgresql://host:port/database or postgres://user@host:port/database",
    ))
}

/// `url` without a password, for messages.
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    // password=… in a query string
    if let Some(i) = out.find("password=") {
        let end = out[i..].find('&').map(|e| i + e).unwrap_or(out.len());
        out.replace_range(i + "password=".len()..end, "[hidden]");
    }
    // user:password@ in a libpq URL
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            if let Some(colon) = rest[..at].find(':') {
                let (from, to) = (scheme_end + 3 + colon + 1, scheme_end + 3 + at);
                out.replace_range(from..to, "[hidden]");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn jdbc_urls_give_host_port_database_and_credentials() {
        let c = Connection::from_props(&props(&[(
            CONNECTION_URL,
            "jdbc:postgresql://db.example:6543/shop?user=u&password=p&ssl=false",
        )]))
        .unwrap();
        assert_eq!(c.target(), "db.example:6543/shop");
        assert_eq!(c.user(), "u");
        assert_eq!(c.config.get_password(), Some(&b"p"[..]));
        let c =
            Connection::from_props(&props(&[(CONNECTION_URL, "jdbc:postgresql://h/d")])).unwrap();
        assert_eq!(c.target(), "h:5432/d");
    }

    #[test]
    fn connection_user_and_password_win_over_the_url() {
        let c = Connection::from_props(&props(&[
            (CONNECTION_URL, "postgres://a:b@h:1/d"),
            (CONNECTION_USER, "u"),
            (CONNECTION_PASSWORD, "p"),
        ]))
        .unwrap();
        assert_eq!(c.user(), "u");
        assert_eq!(c.config.get_password(), Some(&b"p"[..]));
        assert_eq!(c.target(), "h:1/d");
    }

    #[test]
    fn a_bad_url_names_the_key_and_hides_the_password() {
        let e = Connection::from_props(&props(&[(
            CONNECTION_URL,
            "jdbc:mysql://h/d?user=u&password=s3cret",
        )]))
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("Invalid value jdbc:mysql://h/d?user=u&password=[hidden] for configuration connection.url"), "{text}");
        assert!(!text.contains("s3cret"));
        let e = Connection::from_props(&props(&[(CONNECTION_URL, "postgres://u:s3cret@h:x/d")]))
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(Connection::from_props(&props(&[])).is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c =
            Connection::from_props(&props(&[(CONNECTION_URL, "postgres://u:s3cret@h/d")])).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_naming_it_without_the_password() {
        // Port 1 on localhost refuses at once.
        let c = Connection::from_props(&props(&[
            (CONNECTION_URL, "postgres://u:s3cret@127.0.0.1:1/d"),
            (CONNECTION_ATTEMPTS, "2"),
            (CONNECTION_BACKOFF_MS, "1"),
        ]))
        .unwrap();
        let e = c.connect().await.unwrap_err().to_string();
        assert!(
            e.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1/d as u after 2 attempt(s)"),
            "{e}"
        );
        assert!(!e.contains("s3cret"));
    }
}
