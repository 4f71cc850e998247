//! PostgreSQL connectors with the configuration keys of Confluent's JDBC connectors: a source in
//! which each table is a stream partition, and a sink that can store its Kafka offsets with the
//! rows it writes (exactly once).
//!
//! [`connection`] is shared by both: the `connection.*` keys and how a client connects.

pub mod connection;
pub mod sink;
pub mod source;
