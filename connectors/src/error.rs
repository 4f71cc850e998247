//! The error type every plugin call returns.

use thiserror::Error;

/// An error raised by a connector, a task, a converter or a config check.
///
/// `Retriable` tells the runtime that the same call may succeed if tried again; every other
/// variant fails the task (which its supervisor may then restart).
///
/// # Example
///
/// ```
/// use kconnect_connectors::{ConnectError, ConnectResult};
///
/// fn port(text: &str) -> ConnectResult<u16> {
///     text.parse()
///         .map_err(|_| ConnectError::config(format!("port: {text} is not a port number")))
/// }
/// assert_eq!(port("8083"), Ok(8083));
/// assert_eq!(
///     port("x").unwrap_err().to_string(),
///     "invalid config: port: x is not a port number"
/// );
///
/// // A sink whose database is restarting asks for the same batch again rather than failing.
/// let busy = ConnectError::Retriable("database is restarting".into());
/// assert_eq!(busy.to_string(), "retriable: database is restarting");
/// ```
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConnectError {
    /// A config is invalid: the message names the key.
    #[error("invalid config: {0}")]
    Config(String),
    /// A record's data cannot be handled (a type mismatch, a value out of range).
    #[error("data error: {0}")]
    Data(String),
    /// A transient failure: the same call may succeed if tried again.
    #[error("retriable: {0}")]
    Retriable(String),
    /// Any other failure.
    #[error("{0}")]
    Other(String),
}

impl ConnectError {
    /// A [`ConnectError::Other`].
    pub fn other(msg: impl Into<String>) -> Self {
        ConnectError::Other(msg.into())
    }
    /// A [`ConnectError::Data`].
    pub fn data(msg: impl Into<String>) -> Self {
        ConnectError::Data(msg.into())
    }
    /// A [`ConnectError::Config`].
    pub fn config(msg: impl Into<String>) -> Self {
        ConnectError::Config(msg.into())
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Other(format!("I/O error: {e}"))
    }
}

/// The result of a plugin call.
pub type ConnectResult<T> = Result<T, ConnectError>;
