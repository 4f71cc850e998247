//! The kconnect plugin API and everything a plugin needs: the Connect data model, records,
//! configuration definitions, converters and the built-in connectors.
//!
//! This crate knows nothing of Kafka clients or actors: the runtime in `kconnect-actors` drives
//! the traits defined in [`api`].

pub mod api;
pub mod config;
pub mod converters;
pub mod data;
pub mod error;
pub mod record;
pub mod transforms;
pub mod utf8;

pub use error::{ConnectError, ConnectResult};
pub mod builtin;
pub mod registry;
