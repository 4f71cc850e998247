//! The PostgreSQL sink: Confluent's JDBC sink connector for PostgreSQL, with its keys (see
//! [`config`]), known by kconnect's class name and by Confluent's
//! (`io.confluent.connect.jdbc.JdbcSinkConnector`), so JDBC sink configs run unchanged.
//!
//! Each `put` is written in one transaction (`writer.rs`); a failed write is retried
//! `max.retries` times `retry.backoff.ms` apart (the task returns a retriable error and the
//! runtime hands the same batch again), then the task fails.
//!
//! `exactly.once=true` (kconnect's key) stores each topic partition's next offset in a table
//! of the sink's own (`offsets.rs`) in the transaction that writes the rows, and on every
//! assignment seeks to what that table says instead of the consumer group's offset. A worker
//! killed at any moment then leaves each record in the table exactly once. `pre_commit` returns
//! the table's offsets, so the consumer group's committed offsets (and the lag tools show)
//! follow them.
//!
//! Deviations from Confluent's sink, and why:
//! - Values that cannot be stored (SQLSTATE classes 22 and 23, a column of another type) fail
//!   the task at once, naming the record, instead of after `max.retries` retries: retrying
//!   data cannot change the answer. Other failures are retried as Confluent does.
//! - Under `errors.tolerance=all` such records are skipped and logged (Confluent hands them to
//!   the errant record reporter; the runtime has none to give the task yet); a connection or
//!   server failure is never a reason to skip.
//! - `insert.mode=update` needs a primary key (`pk.mode` other than `none`): without one,
//!   Confluent's UPDATE has no WHERE clause and rewrites every row.
//! - Values must be structs: a STRING value schema (Confluent's
//!   `string.output.value.column.name`) and ARRAY, MAP and STRUCT fields are refused with an
//!   error naming the field. `db.timezone` (UTC), `quote.sql.identifiers` (always),
//!   `table.types` (TABLE), `timestamp.fields.list` and the other keys Confluent has for other
//!   databases are not implemented; a non-default value is warned about at start.
//! - A tombstone whose table does not exist deletes nothing, instead of creating a table of
//!   key columns.
//! - Validation does not connect to the database (`validate` is synchronous here).

pub mod config;
mod fields;
mod offsets;
mod statements;
mod table;
mod types;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SinkOffsets, SinkTask, SinkTaskContext,
    TaskInstance,
};
use crate::config::{ConfigDef, ConfigValue};
use crate::error::{ConnectError, ConnectResult};
use crate::record::{SinkRecord, TopicPartition};

use super::connection::Connection;
use config::SinkConfig;
use writer::{WriteError, Writer};

/// kconnect's class name for the sink.
pub const SINK_CLASS: &str = "kconnect.postgres.PostgresSinkConnector";
/// Confluent's JDBC sink, which this sink stands in for.
pub const CONFLUENT_SINK_CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";

/// Splits nothing: every task gets the connector's config and writes the partitions the runtime
/// gives it.
#[derive(Debug, Default)]
pub struct PostgresSinkConnector {
    props: Props,
}

impl PostgresSinkConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Connector for PostgresSinkConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sink
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        config::validate(props)
    }

    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        SinkConfig::parse(props)?;
        Connection::from_props(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }

    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Sink(Box::new(PostgresSinkTask::default()))
    }
}

/// Writes each batch in one transaction; see the module documentation.
#[derive(Default)]
pub struct PostgresSinkTask {
    ctx: Option<SinkTaskContext>,
    config: Option<Arc<SinkConfig>>,
    writer: Option<Writer>,
    /// Retries left for the batch being written (reset by every successful write).
    retries_left: u32,
    /// `exactly.once`: each owned partition's next offset as the offsets table holds it.
    stored: HashMap<TopicPartition, i64>,
}

impl PostgresSinkTask {
    fn parts(&mut self) -> ConnectResult<(&Arc<SinkConfig>, &mut Writer)> {
        match (&self.config, &mut self.writer) {
            (Some(c), Some(w)) => Ok((c, w)),
            _ => Err(ConnectError::other("PostgresSinkTask is not started")),
        }
    }
}

#[async_trait]
impl SinkTask for PostgresSinkTask {
    async fn start(&mut self, ctx: SinkTaskContext, props: &Props) -> ConnectResult<()> {
        let config = Arc::new(SinkConfig::parse(props)?);
        let mut writer = Writer::new(config.clone(), Connection::from_props(props)?);
        // Connecting now makes a wrong password or an unreachable server a start failure
        // with its cause, instead of retries of the first batch.
        writer.connect().await?;
        tracing::info!(
            target_db = writer.target(),
            exactly_once = config.exactly_once,
            "PostgreSQL sink task connected"
        );
        self.retries_left = config.max_retries;
        self.ctx = Some(ctx);
        self.config = Some(config);
        self.writer = Some(writer);
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        let (config, writer) = self.parts()?;
        if !config.exactly_once || partitions.is_empty() {
            return Ok(());
        }
        let stored = writer.open(partitions).await.map_err(|e| {
            ConnectError::other(format!(
                "cannot read the exactly-once offsets of {partitions:?}: {e}"
            ))
        })?;
        let table = writer
            .offsets_table()
            .map(ToString::to_string)
            .unwrap_or_default();
        let ctx = self.ctx.as_ref().expect("started");
        for (tp, next) in stored {
            if let Some(next) = next {
                tracing::info!(
                    partition = %tp,
                    offset = next,
                    "resuming from the offset stored in {table} (exactly.once)"
                );
                ctx.offset(tp.clone(), next);
                self.stored.insert(tp, next);
            }
        }
        Ok(())
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        for tp in partitions {
            self.stored.remove(tp);
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> ConnectResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let (config, writer) = self.parts()?;
        let (max_retries, backoff) = (config.max_retries, config.retry_backoff_ms);
        match writer.write(records).await {
            Ok(outcome) => {
                if outcome.already_written > 0 {
                    tracing::debug!(
                        "left out {} records the offsets table says were written",
                        outcome.already_written
                    );
                }
                self.stored.extend(outcome.next);
                self.retries_left = max_retries;
                Ok(())
            }
            Err(WriteError::Transient(why)) if self.retries_left > 0 => {
                self.retries_left -= 1;
                tracing::warn!(
                    "writing {} records failed, retrying in {backoff} ms ({} retries left): {why}",
                    records.len(),
                    self.retries_left
                );
                self.ctx.as_ref().expect("started").timeout(backoff);
                Err(ConnectError::Retriable(why))
            }
            Err(WriteError::Transient(why)) => Err(ConnectError::other(format!(
                "writing {} records failed after {max_retries} retries: {why}",
                records.len()
            ))),
            Err(e) => Err(ConnectError::data(e.to_string())),
        }
    }

    async fn pre_commit(&mut self, offsets: SinkOffsets) -> ConnectResult<SinkOffsets> {
        let exactly_once = self.config.as_ref().is_some_and(|c| c.exactly_once);
        if !exactly_once {
            // Every `put` is committed before it returns: all that was handed over is stored.
            return Ok(offsets);
        }
        Ok(offsets
            .keys()
            .filter_map(|tp| self.stored.get(tp).map(|o| (tp.clone(), *o)))
            .collect())
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.writer = None;
        Ok(())
    }
}
