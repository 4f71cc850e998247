//! The `kconnect` binary's library half: command line, config files, the embedded broker and the
//! wiring that starts a worker. Integration tests in `tests/` use it directly.

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
pub mod standalone;
