//! The error type every plugin call returns.

use thiserror::Error;

/// An error raised by a connector, a task, a converter or a config check.
///
/// `Retriable` tells the runtime that the same call may succeed if tried again; every other
/// variant fails the task (which its supervisor may then restart).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConnectError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("data error: {0}")]
    Data(String),
    #[error("retriable: {0}")]
    Retriable(String),
    #[error("{0}")]
    Other(String),
}

impl ConnectError {
    pub fn other(msg: impl Into<String>) -> Self {
        ConnectError::Other(msg.into())
    }
    pub fn data(msg: impl Into<String>) -> Self {
        ConnectError::Data(msg.into())
    }
    pub fn config(msg: impl Into<String>) -> Self {
        ConnectError::Config(msg.into())
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Other(format!("I/O error: {e}"))
    }
}

pub type ConnectResult<T> = Result<T, ConnectError>;
