//! The table monitor: a tokio task of the connector that lists the tables to copy every
//! `table.poll.interval.ms` and asks for task reconfiguration when the list changes (Confluent's
//! `TableMonitorThread`).
//!
//! The connector's `task_configs` reads the latest list. Before the first list is known it waits
//! for it up to `table.monitoring.startup.polling.limit.ms` (when the runtime lets it block: on
//! a multi-threaded runtime), and otherwise hands out one idle task (`tables.fetched=false`),
//! which the first list then replaces through a reconfiguration.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::Client;

use super::config::{SourceConfig, TableFilter};
use super::table::TableId;
use crate::api::ConnectorContext;
use crate::error::ConnectError;

/// pgjdbc's `TABLE_TYPE` of a relation (`DatabaseMetaData.getTables`), so that `table.types`
/// means what it means with Confluent's connector.
const LIST_TABLES: &str = "\
SELECT n.nspname, c.relname, t.table_type
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT CASE
  WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN
    CASE c.relkind WHEN 'r' THEN 'SYSTEM TABLE' WHEN 'v' THEN 'SYSTEM VIEW' WHEN 'i' THEN 'SYSTEM INDEX' END
  WHEN n.nspname = 'pg_toast' THEN
    CASE c.relkind WHEN 'r' THEN 'SYSTEM TOAST TABLE' WHEN 'i' THEN 'SYSTEM TOAST INDEX' END
  WHEN n.nspname ~ '^pg_' THEN
    CASE c.relkind WHEN 'r' THEN 'TEMPORARY TABLE' WHEN 'p' THEN 'TEMPORARY TABLE'
      WHEN 'i' THEN 'TEMPORARY INDEX' WHEN 'S' THEN 'TEMPORARY SEQUENCE' WHEN 'v' THEN 'TEMPORARY VIEW' END
  ELSE
    CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'i' THEN 'INDEX'
      WHEN 'I' THEN 'PARTITIONED INDEX' WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
      WHEN 'c' THEN 'TYPE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' END
  END AS table_type) t
WHERE t.table_type = ANY($2) AND ($1::text IS NULL OR n.nspname LIKE $1)
ORDER BY t.table_type, n.nspname, c.relname";

/// Every table of `types` in the schemas matching `schema_pattern`, in pgjdbc's order.
pub async fn list_tables(
    client: &Client,
    schema_pattern: Option<&str>,
    types: &[String],
) -> Result<Vec<TableId>, tokio_postgres::Error> {
    let rows = client
        .query(LIST_TABLES, &[&schema_pattern, &types])
        .await?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}

/// The tables `filter` keeps, in order.
pub fn filter_tables(all: Vec<TableId>, filter: &TableFilter) -> Vec<TableId> {
    all.into_iter().filter(|t| filter.accepts(t)).collect()
}

/// Tables whose unqualified names collide: they would share a topic (`topic.prefix` + name),
/// which Confluent's connector refuses.
pub fn duplicate_names(tables: &[TableId]) -> Option<String> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in tables {
        by_name.entry(&t.name).or_default().push(t.unquoted());
    }
    let dups: Vec<String> = by_name
        .into_values()
        .filter(|v| v.len() > 1)
        .map(|v| format!("[{}]", v.join(", ")))
        .collect();
    (!dups.is_empty()).then(|| {
        format!(
            "The connector uses the unqualified table name as the topic name and has detected \
             duplicate unqualified table names, whose records would mix in one topic: {}. Narrow \
             table.whitelist, table.include.list or schema.pattern to one table of each name.",
            dups.join(", ")
        )
    })
}

#[derive(Default)]
struct State {
    /// `None` until the first list.
    tables: Option<Vec<TableId>>,
    /// The monitor stopped for good with this error.
    failed: Option<String>,
    /// Task configs went out before the first list: it must reconfigure them.
    served_unfetched: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// What `task_configs` learns from the monitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Tables {
    Known(Vec<TableId>),
    /// Not listed yet.
    Unknown,
}

/// The running monitor; stopping it (or dropping it) ends its task.
pub struct TableMonitor {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TableMonitor {
    /// Starts the monitor on `runtime`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        config: Arc<SourceConfig>,
        ctx: ConnectorContext,
    ) -> TableMonitor {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(run(config, shared.clone(), ctx, stopped));
        TableMonitor { shared, stop, task }
    }

    /// The latest list; before the first, waits up to `limit` for it if blocking is safe here.
    pub fn tables(&self, limit: Duration) -> Result<Tables, ConnectError> {
        let wait = || {
            let deadline = Instant::now() + limit;
            let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while s.tables.is_none() && s.failed.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                s = self
                    .shared
                    .changed
                    .wait_timeout(s, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if let Some(e) = &s.failed {
                return Err(ConnectError::other(e.clone()));
            }
            match &s.tables {
                Some(t) => Ok(Tables::Known(t.clone())),
                None => {
                    s.served_unfetched = true;
                    Ok(Tables::Unknown)
                }
            }
        };
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            // Blocking this worker thread would starve the monitor's own task.
            Ok(RuntimeFlavor::CurrentThread) => {
                let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(e) = &s.failed {
                    return Err(ConnectError::other(e.clone()));
                }
                match &s.tables {
                    Some(t) => Ok(Tables::Known(t.clone())),
                    None => {
                        s.served_unfetched = true;
                        Ok(Tables::Unknown)
                    }
                }
            }
            Ok(_) => tokio::task::block_in_place(wait),
            Err(_) => wait(),
        }
    }

    pub fn stop(self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

impl Shared {
    /// Records a new list; whether the tasks must be reconfigured.
    fn update(&self, tables: Vec<TableId>) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let changed = s.tables.as_ref() != Some(&tables);
        let first = s.tables.is_none();
        if changed {
            tracing::info!(
                tables = %tables.iter().map(TableId::unquoted).collect::<Vec<_>>().join(", "),
                "the PostgreSQL source's tables changed"
            );
        }
        s.tables = Some(tables);
        self.changed.notify_all();
        changed && (!first || s.served_unfetched)
    }

    fn fail(&self, why: String) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failed = Some(why);
        self.changed.notify_all();
    }
}

async fn run(
    config: Arc<SourceConfig>,
    shared: Arc<Shared>,
    ctx: ConnectorContext,
    mut stopped: watch::Receiver<bool>,
) {
    let mut client: Option<Client> = None;
    let mut last_missing = Vec::new();
    loop {
        if client.as_ref().is_none_or(Client::is_closed) {
            let connected = tokio::select! {
                c = config.connection.connect() => c,
                _ = stopped.changed() => return,
            };
            match connected {
                Ok(c) => client = Some(c),
                Err(e) => {
                    let why = format!(
                        "Encountered an unrecoverable error while reading tables from the \
                         database: {e}"
                    );
                    tracing::error!("{why}");
                    shared.fail(why.clone());
                    ctx.raise_error(ConnectError::other(why));
                    return;
                }
            }
        }
        let c = client.as_ref().expect("connected above");
        match list_tables(c, config.schema_pattern.as_deref(), &config.table_types).await {
            Ok(all) => {
                let tables = filter_tables(all, &config.filter);
                let missing = config.filter.missing(&tables);
                if !missing.is_empty() && missing != last_missing {
                    tracing::warn!(
                        "table.whitelist names tables that do not exist (or are not of the \
                         types table.types lists, or outside schema.pattern): {}",
                        missing.join(", ")
                    );
                }
                last_missing = missing;
                if shared.update(tables) {
                    ctx.request_task_reconfiguration();
                }
            }
            Err(e) => {
                tracing::error!(
                    target = %config.connection.target(),
                    "cannot list the tables, trying again in table.poll.interval.ms: {e}"
                );
                client = None;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.table_poll_interval) => {}
            _ = stopped.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_unqualified_names_are_named() {
        let tables = vec![
            TableId::new("a", "users"),
            TableId::new("b", "users"),
            TableId::new("a", "orders"),
        ];
        let e = duplicate_names(&tables).unwrap();
        assert!(e.contains("[a.users, b.users]"), "{e}");
        assert!(!e.contains("orders"));
        assert!(duplicate_names(&tables[1..]).is_none());
    }

    #[test]
    fn the_first_list_reconfigures_only_after_placeholder_configs() {
        let shared = Shared::default();
        assert!(
            !shared.update(vec![TableId::new("s", "a")]),
            "first list, none served"
        );
        assert!(!shared.update(vec![TableId::new("s", "a")]), "unchanged");
        assert!(shared.update(vec![]), "a table dropped");
        assert!(
            shared.update(vec![TableId::new("s", "b")]),
            "a table created"
        );
        let shared = Shared::default();
        shared.state.lock().unwrap().served_unfetched = true;
        assert!(shared.update(vec![]), "the idle task must be replaced");
    }
}
