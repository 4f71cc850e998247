//! The PostgreSQL source: Confluent's JDBC source connector for PostgreSQL, with its keys,
//! record formats, source partitions and offsets, so that its configs run unchanged and its
//! committed offsets carry over.
//!
//! - Each table is a source partition (`{"protocol": "1", "table": "schema.table"}`), read by
//!   one task; the tables are spread over `tasks.max` tasks. A monitor (`monitor.rs`) lists the
//!   tables every `table.poll.interval.ms` and asks for task reconfiguration when they change.
//! - `mode` picks what a poll reads: `bulk` (everything), `incrementing` (rows with a larger
//!   id), `timestamp` (newer rows), `timestamp+incrementing` (both); offsets are
//!   `{"incrementing": n}` and `{"timestamp": ms, "timestamp_nanos": ns}` (`offset.rs`). `query`
//!   copies a query's rows instead of tables.
//! - Records have no key and a Struct value named after the table (no name in query mode), one
//!   field per column (`types.rs`); they go to `topic.prefix` + the table's name.
//!
//! Deviations from Confluent's connector are listed where they are made: `config.rs` (keys),
//! `types.rs` (values), and:
//! - A task left without tables (all of its tables dropped, none matching yet) idles until
//!   the monitor reconfigures the tasks, where Confluent's fails; it still fails, naming them,
//!   when none of the tables `table.whitelist` names exists.
//! - Errors reading a table are sorted by SQLSTATE: transient ones (connection, resources,
//!   serialization, lock timeouts) are retried at the next poll, a table that no longer exists
//!   is tried again every `poll.interval.ms` (quietly) until the reconfiguration, and any other
//!   fails the task naming the table (Confluent's `query.retry.attempts=-1` retries every error
//!   forever).

mod config;
mod connector;
mod monitor;
mod offset;
mod querier;
mod query;
mod table;
mod task;
mod types;

pub use config::{config_def, SourceConfig};
pub use connector::PostgresSourceConnector;
pub use offset::{Instant, Offset};
pub use table::TableId;
pub use task::PostgresSourceTask;
pub use types::NumericMapping;

/// The kconnect class name.
pub const SOURCE_CLASS: &str = "kconnect.postgres.PostgresSourceConnector";
/// Confluent's class name, so that its configs run unchanged (alias `JdbcSource`).
pub const CONFLUENT_SOURCE_CLASS: &str = "io.confluent.connect.jdbc.JdbcSourceConnector";
/// The task class Confluent's connector names in its task configs.
pub const CONFLUENT_SOURCE_TASK_CLASS: &str = "io.confluent.connect.jdbc.source.JdbcSourceTask";
