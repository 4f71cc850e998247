//! Writes each batch `put` hands over in one transaction (Confluent's `JdbcDbWriter` and
//! `BufferedRecords`).
//!
//! Consecutive records of one topic, one operation (write or delete) and one pair of schemas
//! form a run; a run is written with one prepared statement per `batch.size` rows. When the
//! batch fails because of its data (a value the column refuses, a table that cannot hold the
//! records, a record the key mode cannot use), it is written again record by record, each in
//! a savepoint, to find the records at fault: the task fails naming the first one, or, under
//! `errors.tolerance=all`, those records are skipped (and logged) and the rest is written.
//! Any other failure (the connection, a lock, the server) is for the task to retry.
//!
//! Rows go in through `UNNEST` statements (see [`super::types`]) in every insert mode, plain
//! inserts included: measured through the same client (200,000 rows of three columns, batches
//! of 500 and 3,000), they were as fast as binary `COPY` or faster, and faster than multi-row
//! `VALUES`, so COPY is not used.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio_postgres::{Client, GenericClient, Statement};

use crate::data::{Schema, Type, Value};
use crate::record::{SinkRecord, TopicPartition};

use super::super::connection::{Connection, ConnectionError};
use super::config::{InsertMode, PkMode, SinkConfig};
use super::fields::{Column, Fields, FieldsError};
use super::offsets::{OffsetsTable, Stored};
use super::statements::{self, Op};
use super::table::{self, InvalidTableName, TableDef, TableError, TableId};
use super::types::{BadValue, ColumnData};

/// Why a write failed, as the task acts on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// Not the records' fault: the same write may succeed later.
    #[error("{0}")]
    Transient(String),
    /// A record cannot be written; retrying would fail the same way.
    #[error("cannot write the record at {at}{table}: {cause}")]
    Record {
        at: String,
        table: String,
        cause: String,
    },
}

/// Why a topic has no destination table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum DestinationError {
    /// `table.name.format` cannot be applied to the topic (the config's message).
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Name(#[from] InvalidTableName),
}

/// A record the key and value modes cannot use (Confluent's `RecordValidator` messages).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum InvalidRecord {
    #[error(
        "Sink connector '{connector}' is configured with 'delete.enabled={delete_enabled}' and \
         'pk.mode={pk_mode}' and therefore requires records with a non-null key and non-null \
         Struct or primitive key schema, but found record at {at} with a {found} key and \
         {schema} key schema."
    )]
    Key {
        connector: String,
        delete_enabled: bool,
        pk_mode: &'static str,
        at: String,
        found: &'static str,
        schema: &'static str,
    },
    #[error(
        "Sink connector '{connector}' is configured with 'delete.enabled={delete_enabled}' and \
         'pk.mode={pk_mode}' and therefore requires records with a non-null Struct value and \
         non-null Struct schema, but found record at {at} with a {found} value and {schema} \
         value schema."
    )]
    Value {
        connector: String,
        delete_enabled: bool,
        pk_mode: &'static str,
        at: String,
        found: &'static str,
        schema: &'static str,
    },
}

/// What a successful write did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `exactly.once`: each partition's next offset, as now stored with the rows.
    pub next: Vec<(TopicPartition, i64)>,
    /// Records left out because the offsets table says they were written before.
    pub already_written: usize,
    /// Records skipped under `errors.tolerance=all`.
    pub skipped: usize,
}

/// A failure inside a transaction.
enum Failure {
    /// The records of the run are at fault (which one is not known in a multi-row statement).
    Records {
        table: Option<String>,
        cause: String,
    },
    Db {
        table: Option<String>,
        error: tokio_postgres::Error,
    },
    /// Already decided (a record at fault, found one by one).
    Final(WriteError),
}

impl Failure {
    fn records(table: Option<&TableId>, cause: impl ToString) -> Failure {
        Failure::Records {
            table: table.map(ToString::to_string),
            cause: cause.to_string(),
        }
    }

    fn db(table: Option<&TableId>) -> impl FnOnce(tokio_postgres::Error) -> Failure {
        let table = table.map(ToString::to_string);
        move |error| Failure::Db { table, error }
    }

    fn is_records(&self) -> bool {
        match self {
            Failure::Records { .. } => true,
            Failure::Db { error, .. } => is_data_error(error),
            Failure::Final(_) => false,
        }
    }

    fn into_parts(self) -> (Option<String>, String) {
        match self {
            Failure::Records { table, cause } => (table, cause),
            Failure::Db { table, error } => (table, describe(&error)),
            Failure::Final(e) => (None, e.to_string()),
        }
    }

    fn into_transient(self) -> WriteError {
        if let Failure::Final(e) = self {
            return e;
        }
        let (table, cause) = self.into_parts();
        WriteError::Transient(match table {
            Some(t) => format!("writing to {t}: {cause}"),
            None => cause,
        })
    }
}

/// Errors caused by the values written, which no retry can fix: SQLSTATE classes 22 (data
/// exception: out of range, too long, bad text) and 23 (integrity: NOT NULL, unique, check),
/// and 42804 (a column of another type than the field's).
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23") || c == "42804"
    })
}

/// The server's message (tokio_postgres' own Display says only "db error"), with the column
/// it names when the message does not.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(col) = db.column().filter(|c| !db.message().contains(*c)) {
                s.push_str(&format!(" (column \"{col}\")"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                source = cause.source();
            }
            s
        }
    }
}

/// A record's coordinates, as Confluent's messages give them.
fn at(r: &SinkRecord) -> String {
    format!(
        "(topic='{}',partition={},offset={},timestamp={})",
        r.topic,
        r.partition,
        r.offset,
        r.timestamp.map_or("null".to_string(), |t| t.to_string())
    )
}

fn same_schema(a: &Option<Schema>, b: &Option<Schema>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a.0, &b.0) || a == b,
        (None, None) => true,
        _ => false,
    }
}

/// Whether `b` goes in the same run as `a`.
fn same_run(a: &SinkRecord, b: &SinkRecord) -> bool {
    (Arc::ptr_eq(&a.topic, &b.topic) || a.topic == b.topic)
        && a.value.is_null() == b.value.is_null()
        && same_schema(&a.key_schema, &b.key_schema)
        && same_schema(&a.value_schema, &b.value_schema)
}

/// What the writer learned from the server; forgotten after a failed transaction (a table
/// created in it was rolled back with it).
#[derive(Default)]
struct Cache {
    default_schema: String,
    tables: HashMap<TableId, TableDef>,
    statements: HashMap<String, Statement>,
    table_ids: HashMap<Arc<str>, Result<TableId, DestinationError>>,
    fields: Vec<FieldsEntry>,
}

/// The columns of a table's records with a key schema and a value schema.
type FieldsEntry = (
    TableId,
    Option<Schema>,
    Option<Schema>,
    Result<Arc<Fields>, FieldsError>,
);

/// Fields derived from this many schema pairs are remembered (schemas rarely change).
const FIELDS_CACHE: usize = 64;

pub struct Writer {
    config: Arc<SinkConfig>,
    connection: Connection,
    client: Option<Client>,
    cache: Cache,
    offsets: Option<OffsetsTable>,
}

impl Writer {
    pub fn new(config: Arc<SinkConfig>, connection: Connection) -> Writer {
        Writer {
            config,
            connection,
            client: None,
            cache: Cache::default(),
            offsets: None,
        }
    }

    /// `host:port/db`, for messages.
    pub fn target(&self) -> &str {
        self.connection.target()
    }

    /// Connects (unless connected) and sets the session up: timestamps are read and written
    /// in UTC (Confluent's `db.timezone` default), the default schema is learned, and the
    /// offsets table of `exactly.once` exists.
    pub async fn connect(&mut self) -> Result<(), ConnectionError> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        self.client = None;
        self.cache = Cache::default();
        let client = self.connection.connect().await?;
        let setup = async {
            client.batch_execute("SET TIME ZONE 'UTC'").await?;
            let schema: Option<String> = client
                .query_one("SELECT current_schema()", &[])
                .await?
                .get(0);
            Ok::<_, tokio_postgres::Error>(schema.unwrap_or_else(|| "public".into()))
        };
        let failed = |e: tokio_postgres::Error| ConnectionError::Connect {
            target: self.connection.target().to_string(),
            user: self.connection.user().to_string(),
            attempts: 1,
            cause: describe(&e),
        };
        self.cache.default_schema = setup.await.map_err(failed)?;
        if self.config.exactly_once {
            let id = TableId::parse(&self.config.offsets_table, &self.cache.default_schema)
                .map_err(|why| ConnectionError::BadUrl {
                    url: self.config.offsets_table.clone(),
                    why: why.to_string(),
                })?;
            let offsets = OffsetsTable::new(id, &self.config.connector);
            offsets.ensure(&client).await.map_err(failed)?;
            self.offsets = Some(offsets);
        }
        self.client = Some(client);
        Ok(())
    }

    /// Drops the connection: the next write connects again.
    pub fn disconnect(&mut self) {
        self.client = None;
    }

    /// `exactly.once`: the offsets stored for `partitions` (rows are created for those that
    /// have none).
    pub async fn open(&mut self, partitions: &[TopicPartition]) -> Result<Stored, WriteError> {
        self.connect()
            .await
            .map_err(|e| WriteError::Transient(e.to_string()))?;
        let (Some(client), Some(offsets)) = (&self.client, &self.offsets) else {
            return Ok(Stored::new());
        };
        offsets
            .open(client, partitions)
            .await
            .map_err(|e| WriteError::Transient(format!("reading {}: {}", offsets.id, describe(&e))))
    }

    /// The offsets table, when `exactly.once` is on.
    pub fn offsets_table(&self) -> Option<&TableId> {
        self.offsets.as_ref().map(|o| &o.id)
    }

    /// Writes `records` in one transaction.
    pub async fn write(&mut self, records: &[SinkRecord]) -> Result<Outcome, WriteError> {
        if let Err(e) = self.connect().await {
            return Err(WriteError::Transient(e.to_string()));
        }
        let failure = match self.write_batch(records, false).await {
            Ok(outcome) => return Ok(outcome),
            Err(f) => f,
        };
        self.forget();
        let failure = if failure.is_records() {
            let (table, cause) = failure.into_parts();
            tracing::debug!(
                table = table.as_deref().unwrap_or(""),
                "a batch of {} records failed ({cause}); writing them one by one",
                records.len()
            );
            match self.write_batch(records, true).await {
                Ok(outcome) => return Ok(outcome),
                Err(f) => {
                    self.forget();
                    f
                }
            }
        } else {
            failure
        };
        let e = failure.into_transient();
        if matches!(e, WriteError::Transient(_)) {
            self.disconnect();
        }
        Err(e)
    }

    fn forget(&mut self) {
        self.cache.tables.clear();
        self.cache.statements.clear();
    }

    /// One transaction: the rows (all at once, or `one_by_one` in savepoints) and, with
    /// `exactly.once`, the partitions' next offsets.
    async fn write_batch(
        &mut self,
        records: &[SinkRecord],
        one_by_one: bool,
    ) -> Result<Outcome, Failure> {
        let config = self.config.clone();
        let client = self.client.as_mut().expect("connected");
        let mut txn = client.transaction().await.map_err(Failure::db(None))?;
        let mut outcome = Outcome::default();
        let mut next: Vec<(TopicPartition, i64)> = Vec::new();
        let mut floor: HashMap<TopicPartition, i64> = HashMap::new();
        if let Some(offsets) = &self.offsets {
            for r in records {
                match next
                    .iter_mut()
                    .find(|(tp, _)| tp.partition == r.partition && *tp.topic == *r.topic)
                {
                    Some((_, n)) => *n = (*n).max(r.offset + 1),
                    None => next.push((TopicPartition::new(&*r.topic, r.partition), r.offset + 1)),
                }
            }
            let partitions: Vec<TopicPartition> = next.iter().map(|(tp, _)| tp.clone()).collect();
            let lock = prepared(&mut self.cache, &txn, offsets.lock_sql())
                .await
                .map_err(Failure::db(Some(&offsets.id)))?;
            let stored = offsets
                .lock(&txn, &lock, &partitions)
                .await
                .map_err(Failure::db(Some(&offsets.id)))?;
            floor = stored
                .into_iter()
                .filter_map(|(tp, o)| o.map(|o| (tp, o)))
                .collect();
            for (tp, n) in &mut next {
                if let Some(f) = floor.get(tp) {
                    *n = (*n).max(*f);
                }
            }
        }
        let live: Vec<&SinkRecord> = records
            .iter()
            .filter(|r| {
                floor.is_empty()
                    || floor
                        .iter()
                        .find(|(tp, _)| tp.partition == r.partition && *tp.topic == *r.topic)
                        .is_none_or(|(_, f)| r.offset >= *f)
            })
            .collect();
        outcome.already_written = records.len() - live.len();
        let mut i = 0;
        while i < live.len() {
            let mut j = i + 1;
            while j < live.len() && !one_by_one && same_run(live[i], live[j]) {
                j += 1;
            }
            let run = &live[i..j];
            if one_by_one {
                let r = run[0];
                let sp = txn
                    .savepoint("kconnect_record")
                    .await
                    .map_err(Failure::db(None))?;
                match write_run(&config, &mut self.cache, &sp, run).await {
                    Ok(()) => sp.commit().await.map_err(Failure::db(None))?,
                    Err(f) if f.is_records() => {
                        sp.rollback().await.map_err(Failure::db(None))?;
                        // A table this record created or widened went with the savepoint.
                        self.cache.tables.clear();
                        self.cache.statements.clear();
                        let (table, cause) = f.into_parts();
                        let table = table.map(|t| format!(" to table {t}")).unwrap_or_default();
                        if !config.tolerate_errors {
                            return Err(Failure::Final(WriteError::Record {
                                at: at(r),
                                table,
                                cause,
                            }));
                        }
                        tracing::warn!(
                            "skipping the record at {}{table} (errors.tolerance=all): {cause}",
                            at(r)
                        );
                        outcome.skipped += 1;
                    }
                    Err(f) => return Err(f),
                }
            } else {
                write_run(&config, &mut self.cache, &txn, run).await?;
            }
            i = j;
        }
        if let Some(offsets) = &self.offsets {
            let store = prepared(&mut self.cache, &txn, offsets.store_sql())
                .await
                .map_err(Failure::db(Some(&offsets.id)))?;
            offsets
                .store(&txn, &store, &next)
                .await
                .map_err(Failure::db(Some(&offsets.id)))?;
        }
        txn.commit().await.map_err(Failure::db(None))?;
        outcome.next = next;
        Ok(outcome)
    }
}

/// Checks a record as Confluent's `RecordValidator` does: a key where the key is used, a
/// struct value unless it is a tombstone to delete.
fn validate(config: &SinkConfig, r: &SinkRecord) -> Result<(), InvalidRecord> {
    let needs_key = config.pk_mode == PkMode::RecordKey || config.delete_enabled;
    let needs_value =
        !config.delete_enabled || matches!(config.pk_mode, PkMode::RecordValue | PkMode::None);
    let kind = |v: &Value| if v.is_null() { "null" } else { v.kind() };
    let schema = |s: &Option<Schema>| s.as_ref().map_or("null", |s| s.ty().name());
    if needs_key {
        let ok = !r.key.is_null()
            && r.key_schema
                .as_ref()
                .is_some_and(|s| s.ty().is_primitive() || s.ty() == Type::Struct);
        if !ok {
            return Err(InvalidRecord::Key {
                connector: config.connector.clone(),
                delete_enabled: config.delete_enabled,
                pk_mode: config.pk_mode.name(),
                at: at(r),
                found: kind(&r.key),
                schema: schema(&r.key_schema),
            });
        }
    }
    let tombstone = r.value.is_null() && config.delete_enabled;
    if needs_value && !tombstone {
        let ok = !r.value.is_null()
            && r.value_schema
                .as_ref()
                .is_some_and(|s| s.ty() == Type::Struct);
        if !ok {
            return Err(InvalidRecord::Value {
                connector: config.connector.clone(),
                delete_enabled: config.delete_enabled,
                pk_mode: config.pk_mode.name(),
                at: at(r),
                found: kind(&r.value),
                schema: schema(&r.value_schema),
            });
        }
    }
    Ok(())
}

/// The destination table of `topic`.
fn table_id(
    config: &SinkConfig,
    cache: &mut Cache,
    topic: &Arc<str>,
) -> Result<TableId, DestinationError> {
    if let Some(id) = cache.table_ids.get(topic) {
        return id.clone();
    }
    let id = config
        .table_name(topic)
        .map_err(|e| DestinationError::Format(e.to_string()))
        .and_then(|name| Ok(TableId::parse(&name, &cache.default_schema)?));
    cache.table_ids.insert(topic.clone(), id.clone());
    id
}

fn fields_for(
    config: &SinkConfig,
    cache: &mut Cache,
    table: &TableId,
    r: &SinkRecord,
) -> Result<Arc<Fields>, FieldsError> {
    if let Some((.., f)) = cache.fields.iter().find(|(t, k, v, _)| {
        t == table && same_schema(k, &r.key_schema) && same_schema(v, &r.value_schema)
    }) {
        return f.clone();
    }
    // A tombstone has no value schema: its run uses only the key columns.
    let value_schema = if r.value.is_null() {
        None
    } else {
        r.value_schema.as_ref()
    };
    let f =
        Fields::extract(&table.table, config, r.key_schema.as_ref(), value_schema).map(Arc::new);
    if cache.fields.len() >= FIELDS_CACHE {
        cache.fields.clear();
    }
    cache.fields.push((
        table.clone(),
        r.key_schema.clone(),
        r.value_schema.clone(),
        f.clone(),
    ));
    f
}

/// The table's definition, after creating or evolving it to hold `fields` (`None`: a delete
/// on a table that does not exist, which has nothing to delete).
async fn ensure_table<'c>(
    config: &SinkConfig,
    cache: &'c mut Cache,
    client: &impl GenericClient,
    id: &TableId,
    fields: &Fields,
    op: Op,
) -> Result<Option<&'c TableDef>, Failure> {
    if !cache.tables.contains_key(id) {
        if let Some(def) = table::load(client, id)
            .await
            .map_err(Failure::db(Some(id)))?
        {
            cache.tables.insert(id.clone(), def);
        }
    }
    let ddl = match cache.tables.get(id) {
        None if op == Op::Delete => return Ok(None),
        None if !config.auto_create => {
            return Err(Failure::records(
                Some(id),
                TableError(format!(
                    "Table {id} is missing and auto-creation is disabled"
                )),
            ))
        }
        None => table::create_sql(id, fields),
        Some(_) if op == Op::Delete => return Ok(cache.tables.get(id)),
        Some(def) => match table::evolve_sql(id, def, fields, config.auto_evolve) {
            Ok(None) => return Ok(cache.tables.get(id)),
            Ok(Some(sql)) => sql,
            Err(e) => return Err(Failure::records(Some(id), e)),
        },
    };
    tracing::info!(table = %id, "{ddl}");
    client
        .batch_execute(&ddl)
        .await
        .map_err(Failure::db(Some(id)))?;
    let def = table::load(client, id)
        .await
        .map_err(Failure::db(Some(id)))?
        .ok_or_else(|| Failure::records(Some(id), format!("{id} is gone after {ddl}")))?;
    cache.tables.insert(id.clone(), def);
    Ok(cache.tables.get(id))
}

/// `sql` prepared on this connection, once.
async fn prepared(
    cache: &mut Cache,
    client: &impl GenericClient,
    sql: String,
) -> Result<Statement, tokio_postgres::Error> {
    if let Some(s) = cache.statements.get(&sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(&sql).await?;
    cache.statements.insert(sql, s.clone());
    Ok(s)
}

/// Of records with the same key, the last (writing each in turn would leave it): a multi-row
/// upsert must not touch a row twice.
fn last_per_key<'r>(
    records: &[&'r SinkRecord],
    keys: &[Column],
    replace_null: bool,
) -> Result<Vec<&'r SinkRecord>, BadValue> {
    if records.len() < 2 {
        return Ok(records.to_vec());
    }
    let mut scratch: Vec<ColumnData> = keys.iter().map(|c| ColumnData::new(c.wire, 1)).collect();
    let mut seen = HashSet::with_capacity(records.len());
    let mut out = Vec::with_capacity(records.len());
    for r in records.iter().rev() {
        let mut signature = Vec::new();
        for (c, d) in keys.iter().zip(&mut scratch) {
            d.clear();
            d.push(&c.name, &c.value(r, replace_null))?;
            signature.extend_from_slice(d.elements());
        }
        if seen.insert(signature) {
            out.push(*r);
        }
    }
    out.reverse();
    Ok(out)
}

/// Writes a run: records of one topic, operation and pair of schemas.
async fn write_run(
    config: &SinkConfig,
    cache: &mut Cache,
    client: &impl GenericClient,
    run: &[&SinkRecord],
) -> Result<(), Failure> {
    for r in run {
        validate(config, r).map_err(|e| Failure::records(None, e))?;
    }
    let first = run[0];
    let op = if first.value.is_null() {
        Op::Delete
    } else {
        match config.insert_mode {
            InsertMode::Insert => Op::Insert,
            InsertMode::Upsert => Op::Upsert,
            InsertMode::Update => Op::Update,
        }
    };
    let id = table_id(config, cache, &first.topic).map_err(|e| Failure::records(None, e))?;
    let fields =
        fields_for(config, cache, &id, first).map_err(|e| Failure::records(Some(&id), e))?;
    let Some(def) = ensure_table(config, cache, client, &id, &fields, op).await? else {
        return Ok(());
    };
    let sql = statements::sql(op, &id, &fields, def).map_err(|e| Failure::records(Some(&id), e))?;
    let statement = prepared(cache, client, sql)
        .await
        .map_err(Failure::db(Some(&id)))?;
    let columns = op.params(&fields);
    let replace = config.replace_null_with_default;
    let rows = if op.keyed() {
        last_per_key(run, fields.key_columns(), replace)
            .map_err(|e| Failure::records(Some(&id), e))?
    } else {
        run.to_vec()
    };
    for chunk in rows.chunks(config.batch_size) {
        let mut data: Vec<ColumnData> = columns
            .iter()
            .map(|c| ColumnData::new(c.wire, chunk.len()))
            .collect();
        for r in chunk {
            for (c, d) in columns.iter().zip(&mut data) {
                d.push(&c.name, &c.value(r, replace))
                    .map_err(|e| Failure::records(Some(&id), e))?;
            }
        }
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = data
            .iter()
            .map(|d| d as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        client
            .execute(&statement, &params)
            .await
            .map_err(Failure::db(Some(&id)))?;
    }
    Ok(())
}
