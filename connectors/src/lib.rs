//! The kconnect plugin API and everything a plugin needs: the Connect data model, records,
//! configuration definitions, converters and the built-in connectors.
//!
//! This crate knows nothing of Kafka clients or actors: the runtime in `kconnect-actors` drives
//! the traits defined in [`api`].

// The plugin API is what third parties build against: every public item is documented, and the
// build fails otherwise. (Cargo takes a member's lints either from the workspace or from its
// own table, not both, so this one lint lives here.)
#![deny(missing_docs)]

pub mod api;
pub mod config;
// The data path: a panic here fails a task on one record, so failures must be typed and
// handled. Tests may unwrap (clippy.toml).
#[deny(clippy::unwrap_used)]
pub mod converters;
pub mod data;
pub mod error;
pub mod record;
pub mod transforms;
pub mod utf8;

pub use error::{ConnectError, ConnectResult};
pub mod builtin;
pub mod registry;
