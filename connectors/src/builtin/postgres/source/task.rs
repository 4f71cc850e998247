//! `PostgresSourceTask`: reads its tables (or the query) in turn, each every
//! `poll.interval.ms`, and hands their rows out as batches (Confluent's `JdbcSourceTask` and
//! `TableQuerierProcessor`).
//!
//! A failed query is retried at the table's next poll when the failure is transient (a lost
//! connection, SQLSTATE classes 08, 40, 53, 57, 58, lock timeouts); a table that no longer
//! exists is tried again every `poll.interval.ms` until the table monitor reconfigures the
//! tasks without it (it may be re-created under its name first); any other error fails the
//! task with the server's message, naming the table.

use std::time::{Duration, Instant as Clock};

use async_trait::async_trait;
use thiserror::Error;
use tokio_postgres::Client;

use super::config::{
    Mode, SourceConfig, INCREMENTING_COLUMN_NAME, TABLES, TABLES_FETCHED, TABLE_WHITELIST,
    TIMESTAMP_INITIAL_CURRENT,
};
use super::offset::{Instant, Offset};
use super::querier::{describe, Querier, ReadError};
use super::query::{build, Criteria, Source};
use super::table::{parse_table_list, query_partition, Quoting, TableId};
use crate::api::{Props, SourceTask, SourceTaskContext};
use crate::error::{ConnectError, ConnectResult};
use crate::record::{Polled, SourceBatch, SourcePartition, Topic};

/// The longest a poll waits for rows (or for the next table to be due) before returning.
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);

/// Reads the tables the connector assigned, or the query.
#[derive(Default)]
pub struct PostgresSourceTask {
    config: Option<SourceConfig>,
    client: Option<Client>,
    queriers: Vec<Querier>,
    /// The querier whose query is running.
    current: Option<usize>,
}

impl PostgresSourceTask {
    /// A task with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A column of a table, as its definition says.
struct TableColumn {
    name: String,
    not_null: bool,
    auto_increment: bool,
}

/// The columns of `table`, or `None` when there is no such table.
async fn table_columns(
    client: &Client,
    table: &TableId,
) -> Result<Option<Vec<TableColumn>>, tokio_postgres::Error> {
    let name = table.sql(Quoting::Always);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT a.attname::text, a.attnotnull, \
               (a.attidentity <> '' OR \
                coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%') \
             FROM pg_catalog.pg_attribute a \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&name],
        )
        .await?;
    Ok(Some(
        rows.iter()
            .map(|r| TableColumn {
                name: r.get(0),
                not_null: r.get(1),
                auto_increment: r.get(2),
            })
            .collect(),
    ))
}

/// The table's column called `name` (ignoring case when no column has it exactly).
fn resolve<'a>(columns: &'a [TableColumn], name: &str) -> Option<&'a TableColumn> {
    columns.iter().find(|c| c.name == name).or_else(|| {
        let mut ci = columns
            .iter()
            .filter(|c| c.name.to_lowercase() == name.to_lowercase());
        match (ci.next(), ci.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    })
}

/// Why a table's columns cannot track its progress (Confluent's messages).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ColumnCheckError {
    #[error(
        "table {table} has no auto-incrementing column (serial or identity): set \
         {INCREMENTING_COLUMN_NAME}"
    )]
    NoAutoIncrement { table: String },
    #[error("Incrementing column: {column} does not exist in table '{table}'")]
    NoIncrementing { column: String, table: String },
    #[error(
        "Cannot make incremental queries using incrementing column {column} on {table} because \
         this column is nullable."
    )]
    NullableIncrementing { column: String, table: String },
    #[error("Timestamp columns: {columns} do not exist in table '{table}'")]
    NoTimestamps { columns: String, table: String },
    #[error(
        "Cannot make incremental queries using timestamp columns {columns} on {table} because \
         all of these columns are nullable."
    )]
    NullableTimestamps { columns: String, table: String },
}

/// `criteria` with the table's real column names (an empty incrementing column becomes the
/// table's auto-incrementing one), after Confluent's checks that they exist and, with
/// `validate.non.null`, are NOT NULL.
fn check_columns(
    table: &TableId,
    columns: &[TableColumn],
    criteria: Criteria,
    validate_non_null: bool,
) -> Result<Criteria, ColumnCheckError> {
    let incrementing = |name: &str| -> Result<String, ColumnCheckError> {
        let col = if name.is_empty() {
            columns.iter().find(|c| c.auto_increment).ok_or_else(|| {
                ColumnCheckError::NoAutoIncrement {
                    table: table.to_string(),
                }
            })?
        } else {
            resolve(columns, name).ok_or_else(|| ColumnCheckError::NoIncrementing {
                column: name.to_string(),
                table: table.to_string(),
            })?
        };
        if validate_non_null && !col.not_null {
            return Err(ColumnCheckError::NullableIncrementing {
                column: col.name.clone(),
                table: table.to_string(),
            });
        }
        Ok(col.name.clone())
    };
    let timestamps = |names: &[String]| -> Result<Vec<String>, ColumnCheckError> {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| resolve(columns, n).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ColumnCheckError::NoTimestamps {
                columns: missing.join(", "),
                table: table.to_string(),
            });
        }
        let cols: Vec<&TableColumn> = names.iter().filter_map(|n| resolve(columns, n)).collect();
        if validate_non_null && !cols.iter().any(|c| c.not_null) {
            return Err(ColumnCheckError::NullableTimestamps {
                columns: names.join(","),
                table: table.to_string(),
            });
        }
        Ok(cols.iter().map(|c| c.name.clone()).collect())
    };
    Ok(match criteria {
        Criteria::Bulk => Criteria::Bulk,
        Criteria::Incrementing { column } => Criteria::Incrementing {
            column: incrementing(&column)?,
        },
        Criteria::Timestamp { columns } => Criteria::Timestamp {
            columns: timestamps(&columns)?,
        },
        Criteria::TimestampIncrementing { columns, column } => Criteria::TimestampIncrementing {
            columns: timestamps(&columns)?,
            column: incrementing(&column)?,
        },
    })
}

/// Checks the columns of `q`'s table and names them as the table does; `false` when the
/// table does not exist (now).
async fn resolve_table(
    config: &SourceConfig,
    client: &Client,
    q: &mut Querier,
) -> ConnectResult<bool> {
    let Source::Table(table) = &q.source else {
        return Ok(true);
    };
    let columns = table_columns(client, table).await.map_err(|e| {
        ConnectError::other(format!("cannot describe table {table}: {}", describe(&e)))
    })?;
    let Some(columns) = columns else {
        if !q.missing {
            tracing::warn!(
                %table,
                "the table does not exist; trying again every poll.interval.ms until the \
                 connector's table monitor reconfigures the tasks"
            );
        }
        q.missing = true;
        q.reset();
        return Ok(false);
    };
    q.criteria = check_columns(
        table,
        &columns,
        q.criteria.clone(),
        config.validate_non_null,
    )
    .map_err(|e| ConnectError::config(e.to_string()))?;
    q.sql = build(&q.source, &q.criteria, config.quoting, &config.query_suffix);
    q.resolved = true;
    Ok(true)
}

/// What to do after a query failed.
#[derive(Debug, PartialEq)]
enum Failure {
    /// The table is gone: skip it until reconfigured.
    Dropped,
    /// Try again at the next poll.
    Transient,
    Fatal,
}

fn classify(e: &tokio_postgres::Error, table: bool) -> Failure {
    match e.code().map(|c| c.code()) {
        Some("42P01") if table => Failure::Dropped,
        Some(c)
            if ["08", "40", "53", "57", "58"]
                .iter()
                .any(|p| c.starts_with(p))
                || c == "55P03"
                || c == "55006" =>
        {
            Failure::Transient
        }
        Some(_) => Failure::Fatal,
        None => {
            let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
            if e.is_closed() || io {
                Failure::Transient
            } else {
                Failure::Fatal
            }
        }
    }
}

impl PostgresSourceTask {
    fn config(&self) -> &SourceConfig {
        self.config.as_ref().expect("started")
    }

    /// The committed offset of one of the candidate partitions, the first found.
    fn committed(
        ctx: &SourceTaskContext,
        candidates: &[crate::record::OffsetMap],
    ) -> ConnectResult<Option<Offset>> {
        for (partition, offset) in ctx.offset_storage_reader().offsets(candidates) {
            if let Some(o) = offset {
                tracing::info!(
                    partition = %serde_json::Value::Object(partition.clone()),
                    offset = %serde_json::Value::Object(o.clone()),
                    "resuming from the committed offset"
                );
                return Offset::from_map(&partition, &o)
                    .map(Some)
                    .map_err(|e| ConnectError::other(e.to_string()));
            }
        }
        Ok(None)
    }

    /// Where reading starts without a committed offset: `timestamp.initial`, or the start.
    async fn initial_offset(&self, client: &Client) -> ConnectResult<Offset> {
        let timestamp = match self.config().timestamp_initial {
            None => None,
            Some(TIMESTAMP_INITIAL_CURRENT) => {
                let row = client
                    .query_one(
                        "SELECT (extract(epoch FROM CURRENT_TIMESTAMP) * 1000)::int8",
                        &[],
                    )
                    .await
                    .map_err(|e| ConnectError::other(describe(&e)))?;
                Some(Instant::from_millis(row.get(0)))
            }
            Some(ms) => Some(Instant::from_millis(ms)),
        };
        Ok(Offset {
            incrementing: None,
            timestamp,
        })
    }

    async fn table_querier(
        &self,
        ctx: &SourceTaskContext,
        client: &Client,
        database: &str,
        table: TableId,
    ) -> ConnectResult<Querier> {
        let config = self.config();
        let criteria = config
            .criteria_for(Some(&table))
            .map_err(|e| ConnectError::config(e.to_string()))?;
        let partition = if config.mode == Mode::Bulk {
            table.unqualified_partition()
        } else {
            table.partition()
        };
        let offset = if config.mode == Mode::Bulk {
            Offset::default()
        } else {
            match Self::committed(ctx, &table.offset_partitions(database))? {
                Some(o) => o,
                None => self.initial_offset(client).await?,
            }
        };
        let source = Source::Table(table.clone());
        let sql = build(&source, &criteria, config.quoting, &config.query_suffix);
        let mut q = Querier::new(
            source,
            criteria,
            sql,
            Topic::from(format!("{}{}", config.topic_prefix, table.name)),
            SourcePartition::new(partition),
            Some(table.name.clone()),
            offset,
        );
        q.resolved = false;
        // Column problems fail the task at start, as in Confluent's connector.
        resolve_table(config, client, &mut q).await?;
        Ok(q)
    }

    async fn query_querier(
        &self,
        ctx: &SourceTaskContext,
        client: &Client,
        query: &str,
    ) -> ConnectResult<Querier> {
        let config = self.config();
        let criteria = config
            .criteria_for(None)
            .map_err(|e| ConnectError::config(e.to_string()))?;
        let partition = query_partition();
        let offset = if config.mode == Mode::Bulk {
            Offset::default()
        } else {
            match Self::committed(ctx, std::slice::from_ref(&partition))? {
                Some(o) => o,
                None => self.initial_offset(client).await?,
            }
        };
        let source = Source::Query(query.to_string());
        let sql = build(&source, &criteria, config.quoting, &config.query_suffix);
        Ok(Querier::new(
            source,
            criteria,
            sql,
            Topic::from(config.topic_prefix.clone()),
            SourcePartition::new(partition),
            None,
            offset,
        ))
    }

    /// Connects again if the last connection was lost.
    async fn ensure_client(&mut self) -> ConnectResult<()> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let c = self.config().connection.connect().await?;
            self.client = Some(c);
        }
        Ok(())
    }

    /// Handles a failed query of querier `i`: Ok when the task goes on.
    fn on_error(&mut self, i: usize, e: ReadError) -> ConnectResult<()> {
        self.current = None;
        let q = &mut self.queriers[i];
        q.reset();
        let e = match e {
            ReadError::Data(why) => {
                return Err(ConnectError::data(format!("cannot read {}: {why}", q.what)))
            }
            ReadError::Sql(e) => e,
        };
        let table = matches!(q.source, Source::Table(_));
        match classify(&e, table) {
            Failure::Dropped => {
                if !q.missing {
                    tracing::warn!(
                        "{} no longer exists ({}); trying again every poll.interval.ms until the \
                         connector's table monitor reconfigures the tasks",
                        q.what,
                        describe(&e)
                    );
                }
                q.missing = true;
                Ok(())
            }
            Failure::Transient => {
                tracing::warn!(
                    "cannot read {}, trying again in poll.interval.ms: {}",
                    q.what,
                    describe(&e)
                );
                if e.is_closed() {
                    self.client = None;
                }
                Ok(())
            }
            Failure::Fatal => Err(ConnectError::other(format!(
                "cannot read {}: {}",
                q.what,
                describe(&e)
            ))),
        }
    }

    /// The querier due next and when it is due.
    fn next_due(&self) -> Option<(usize, Clock)> {
        let every = self.config().poll_interval;
        self.queriers
            .iter()
            .enumerate()
            .map(|(i, q)| (i, q.last_run.map_or_else(Clock::now, |t| t + every)))
            .min_by_key(|(_, due)| *due)
    }
}

#[async_trait]
impl SourceTask for PostgresSourceTask {
    async fn start(&mut self, ctx: SourceTaskContext, props: &Props) -> ConnectResult<()> {
        let config = SourceConfig::parse(props).map_err(|e| match e {
            ConnectError::Config(why) => ConnectError::config(format!(
                "Couldn't start PostgresSourceTask due to configuration error: {why}"
            )),
            other => other,
        })?;
        let tables = parse_table_list(props.get(TABLES).map(String::as_str).unwrap_or(""))
            .map_err(|why| ConnectError::config(format!("Invalid value for {TABLES}: {why}")))?;
        let fetched = props.get(TABLES_FETCHED).map_or(!tables.is_empty(), |v| {
            v.trim().eq_ignore_ascii_case("true")
        });
        let query = config.query.clone();
        if query.is_some() && !tables.is_empty() {
            return Err(ConnectError::config(
                "Invalid configuration: a PostgresSourceTask cannot have both a table and a query \
                 assigned to it",
            ));
        }
        if query.is_none() && tables.is_empty() {
            if fetched && !config.filter.whitelist.is_empty() {
                return Err(ConnectError::config(format!(
                    "Task is being killed because it was not assigned a table nor a query to \
                     execute: none of the tables {TABLE_WHITELIST} names exists ({}) among the \
                     tables of the types and schemas the connector lists",
                    config.filter.whitelist.join(", ")
                )));
            }
            tracing::warn!(
                fetched,
                "no table to copy yet: the task idles until the connector's table monitor \
                 assigns it tables"
            );
            self.config = Some(config);
            return Ok(());
        }
        self.config = Some(config);
        let client = self.config().connection.connect().await?;
        let database: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .map_err(|e| ConnectError::other(describe(&e)))?
            .get(0);
        let mut queriers = Vec::new();
        match query {
            Some(q) => queriers.push(self.query_querier(&ctx, &client, &q).await?),
            None => {
                for t in tables {
                    queriers.push(self.table_querier(&ctx, &client, &database, t).await?);
                }
            }
        }
        tracing::info!(
            tables = queriers.len(),
            target = %self.config().connection.target(),
            "PostgreSQL source task started"
        );
        self.queriers = queriers;
        self.client = Some(client);
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<crate::record::SourceRecord>> {
        // The runtime calls `poll_batches`; a caller of the per-record API gets the same rows.
        Ok(match self.poll_batches().await? {
            Polled::Records(r) => r,
            Polled::Batches(batches) => batches
                .into_iter()
                .flat_map(|b| {
                    let (partition, offset, topic) = (b.partition, b.offset, b.topic);
                    b.records
                        .into_iter()
                        .map(move |r| crate::record::SourceRecord {
                            source_partition: partition.map().clone(),
                            source_offset: offset.clone(),
                            topic: topic.to_string(),
                            partition: r.kafka_partition,
                            key_schema: r.key_schema,
                            key: r.key,
                            value_schema: r.value_schema,
                            value: r.value,
                            timestamp: r.timestamp,
                            headers: r.headers,
                        })
                })
                .collect(),
        })
    }

    async fn poll_batches(&mut self) -> ConnectResult<Polled> {
        let started = Clock::now();
        let deadline = started + MAX_POLL_WAIT;
        if self.queriers.is_empty() {
            tokio::time::sleep(MAX_POLL_WAIT).await;
            return Ok(Polled::Batches(Vec::new()));
        }
        loop {
            if let Some(i) = self.current {
                let max = self.config().batch_max_rows;
                match self.queriers[i].read(max, deadline).await {
                    Ok(batch) => {
                        if batch.done {
                            self.current = None;
                        }
                        if !batch.records.is_empty() {
                            let q = &self.queriers[i];
                            return Ok(Polled::Batches(vec![SourceBatch {
                                topic: q.topic.clone(),
                                partition: q.partition.clone(),
                                records: batch.records,
                                offset: q.offset.to_map(),
                            }]));
                        }
                        if !batch.done {
                            // No row within the wait: the query goes on at the next poll.
                            return Ok(Polled::Batches(Vec::new()));
                        }
                    }
                    Err(e) => self.on_error(i, e)?,
                }
                continue;
            }
            let Some((i, due)) = self.next_due() else {
                tokio::time::sleep(deadline.saturating_duration_since(Clock::now())).await;
                return Ok(Polled::Batches(Vec::new()));
            };
            let now = Clock::now();
            if due > now || now >= deadline {
                tokio::time::sleep(due.min(deadline).saturating_duration_since(now)).await;
                return Ok(Polled::Batches(Vec::new()));
            }
            let (numeric, delay) = (
                self.config().numeric_mapping,
                self.config().timestamp_delay_ms,
            );
            self.ensure_client().await?;
            if !self.queriers[i].resolved {
                let (config, client) = (
                    self.config.as_ref().expect("started"),
                    self.client.as_ref().expect("connected above"),
                );
                if !resolve_table(config, client, &mut self.queriers[i]).await? {
                    continue;
                }
            }
            let client = self.client.as_ref().expect("connected above");
            let started = self.queriers[i].start(client, numeric, delay).await;
            if started.is_ok() && self.queriers[i].missing {
                tracing::info!("{} exists again", self.queriers[i].what);
                self.queriers[i].missing = false;
            }
            match started {
                Ok(()) => self.current = Some(i),
                Err(e) => self.on_error(i, e)?,
            }
        }
    }

    fn wants_commit_record(&self) -> bool {
        false
    }

    async fn stop(&mut self) -> ConnectResult<()> {
        self.current = None;
        self.queriers.clear();
        self.client = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(spec: &[(&str, bool, bool)]) -> Vec<TableColumn> {
        spec.iter()
            .map(|(n, not_null, auto)| TableColumn {
                name: n.to_string(),
                not_null: *not_null,
                auto_increment: *auto,
            })
            .collect()
    }

    #[test]
    fn columns_are_checked_as_confluent_checks_them() {
        let t = TableId::new("public", "orders");
        let columns = cols(&[
            ("id", true, true),
            ("Updated", false, false),
            ("created", true, false),
        ]);
        let inc = |c: &str| Criteria::Incrementing { column: c.into() };
        assert_eq!(
            check_columns(&t, &columns, inc(""), true).unwrap(),
            inc("id"),
            "the auto-incrementing column"
        );
        assert_eq!(
            check_columns(&t, &columns, inc("ID"), true).unwrap(),
            inc("id")
        );
        assert_eq!(
            check_columns(&t, &columns, inc("nope"), true)
                .unwrap_err()
                .to_string(),
            "Incrementing column: nope does not exist in table 'public.orders'"
        );
        assert_eq!(
            check_columns(&t, &columns, inc("Updated"), true)
                .unwrap_err()
                .to_string(),
            "Cannot make incremental queries using incrementing column Updated on public.orders \
             because this column is nullable."
        );
        assert!(check_columns(&t, &columns, inc("Updated"), false).is_ok());
        let ts = |c: &[&str]| Criteria::Timestamp {
            columns: c.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            check_columns(&t, &columns, ts(&["updated", "created"]), true).unwrap(),
            ts(&["Updated", "created"])
        );
        assert_eq!(
            check_columns(&t, &columns, ts(&["updated"]), true)
                .unwrap_err()
                .to_string(),
            "Cannot make incremental queries using timestamp columns updated on public.orders \
             because all of these columns are nullable."
        );
        assert_eq!(
            check_columns(&t, &columns, ts(&["a", "created", "b"]), true)
                .unwrap_err()
                .to_string(),
            "Timestamp columns: a, b do not exist in table 'public.orders'"
        );
        let e = check_columns(&t, &cols(&[("x", true, false)]), inc(""), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no auto-incrementing column"), "{e}");
    }
}
