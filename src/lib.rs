//! The `kconnect` binary's library half: command line, config files, the embedded broker and the
//! wiring that starts a worker. Integration tests in `tests/` use it directly.
//!
//! A binary with connectors of its own calls [`run_with`] with a registry that holds them (see
//! `examples/hello-connector`).

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config_files;
pub mod config_keys;
pub mod ctl;
pub mod distributed;
pub mod embedded_broker;
pub mod logging;
pub mod metrics;
pub mod rest;
mod run;
pub mod standalone;

pub use run::run_with;
