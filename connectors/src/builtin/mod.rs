//! Built-in connectors: FileStream source and sink, Verifiable source and sink, PostgreSQL source
//! and sink.

mod append_file;
pub mod file;
pub mod postgres;
pub mod verifiable;

#[cfg(test)]
pub(crate) mod testutil;
