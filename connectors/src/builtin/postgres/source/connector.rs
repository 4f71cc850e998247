//! `PostgresSourceConnector`: checks the config, runs the table monitor, and spreads the tables
//! over at most `tasks.max` tasks (Confluent's `JdbcSourceConnector`).

use std::sync::Arc;

use super::config::{self, SourceConfig, TABLES, TABLES_FETCHED};
use super::monitor::{duplicate_names, TableMonitor, Tables};
use super::table::{format_table_list, TableId};
use super::task::PostgresSourceTask;
use crate::api::{Connector, ConnectorContext, ConnectorKind, Props, TaskInstance};
use crate::config::{ConfigDef, ConfigValue};
use crate::error::{ConnectError, ConnectResult};

/// Copies PostgreSQL tables (or a query's rows) to topics; each table is a source partition.
#[derive(Default)]
pub struct PostgresSourceConnector {
    props: Props,
    config: Option<Arc<SourceConfig>>,
    monitor: Option<TableMonitor>,
}

impl PostgresSourceConnector {
    /// A connector with no config yet.
    pub fn new() -> Self {
        Self::default()
    }
}

/// `items` in `groups` contiguous runs, the first ones one longer when they do not divide
/// evenly (Connect's `ConnectorUtils.groupPartitions`).
pub fn group_tables(items: &[TableId], groups: usize) -> Vec<Vec<TableId>> {
    let groups = groups.clamp(1, items.len().max(1));
    let (per, extra) = (items.len() / groups, items.len() % groups);
    let mut out = Vec::with_capacity(groups);
    let mut at = 0;
    for g in 0..groups {
        let n = per + usize::from(g < extra);
        out.push(items[at..at + n].to_vec());
        at += n;
    }
    out
}

impl Connector for PostgresSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    /// Per-key checks, then the checks across keys on the keys they concern.
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        let mut values = config::config_def().validate(props);
        for (key, why) in config::cross_key_errors(props) {
            if let Some(v) = values.iter_mut().find(|v| v.name == key) {
                v.errors.push(why);
            }
        }
        values
    }

    fn start(&mut self, ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        let config = Arc::new(SourceConfig::parse(props).map_err(|e| match e {
            ConnectError::Config(why) => ConnectError::config(format!(
                "Couldn't start PostgresSourceConnector due to configuration error: {why}"
            )),
            other => other,
        })?);
        self.props = props.clone();
        if config.query.is_none() {
            let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                ConnectError::other("the PostgreSQL source connector must start on a tokio runtime")
            })?;
            self.monitor = Some(TableMonitor::start(&runtime, config.clone(), ctx));
        }
        self.config = Some(config);
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        let config = self
            .config
            .as_ref()
            .ok_or_else(|| ConnectError::other("the connector is not started"))?;
        let with = |tables: String, fetched: bool| {
            let mut p = self.props.clone();
            p.insert(TABLES.into(), tables);
            p.insert(TABLES_FETCHED.into(), fetched.to_string());
            p
        };
        let Some(monitor) = &self.monitor else {
            // Query mode: one task runs the query.
            return Ok(vec![with(String::new(), true)]);
        };
        match monitor.tables(config.startup_limit)? {
            Tables::Unknown => {
                tracing::warn!(
                    "The connector has not been able to read the list of tables from the \
                     database yet; one idle task runs until it has"
                );
                Ok(vec![with(String::new(), false)])
            }
            Tables::Known(tables) if tables.is_empty() => {
                tracing::warn!("No tables match the connector's filters: nothing to copy yet");
                Ok(vec![with(String::new(), true)])
            }
            Tables::Known(tables) => {
                if let Some(why) = duplicate_names(&tables) {
                    return Err(ConnectError::config(why));
                }
                Ok(group_tables(&tables, max_tasks)
                    .iter()
                    .map(|group| with(format_table_list(group, config.quoting), true))
                    .collect())
            }
        }
    }

    fn stop(&mut self) -> ConnectResult<()> {
        if let Some(m) = self.monitor.take() {
            m.stop();
        }
        Ok(())
    }

    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(PostgresSourceTask::new()))
    }
}

impl Drop for PostgresSourceConnector {
    fn drop(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_spread_over_tasks_in_contiguous_groups() {
        let t: Vec<TableId> = (0..5).map(|i| TableId::new("s", format!("t{i}"))).collect();
        let names = |g: Vec<Vec<TableId>>| -> Vec<Vec<String>> {
            g.into_iter()
                .map(|v| v.into_iter().map(|t| t.name).collect())
                .collect()
        };
        assert_eq!(
            names(group_tables(&t, 2)),
            vec![vec!["t0", "t1", "t2"], vec!["t3", "t4"]]
        );
        assert_eq!(group_tables(&t, 10).len(), 5, "no more tasks than tables");
        assert_eq!(
            names(group_tables(&t, 1)),
            vec![vec!["t0", "t1", "t2", "t3", "t4"]]
        );
        assert_eq!(group_tables(&t, 0).len(), 1);
    }

    #[test]
    fn validate_puts_cross_key_errors_on_their_keys() {
        let c = PostgresSourceConnector::new();
        let props: Props = [
            ("connection.url", "jdbc:postgresql://h/d"),
            ("mode", "bulk"),
            ("table.whitelist", "a"),
            ("table.blacklist", "b"),
            ("connection.password", "s3cret"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let values = c.validate(&props);
        let errors = |k: &str| values.iter().find(|v| v.name == k).unwrap().errors.clone();
        assert_eq!(
            errors("table.whitelist"),
            vec!["table.whitelist and table.blacklist are exclusive."]
        );
        assert_eq!(errors("table.blacklist").len(), 1);
        assert!(errors("mode").is_empty());
        assert!(!format!("{values:?}").contains("s3cret"));
    }

    #[test]
    fn query_mode_runs_one_task_with_no_tables() {
        let mut c = PostgresSourceConnector::new();
        let props: Props = [
            ("connection.url", "postgres://u:s3cret@h/d"),
            ("mode", "bulk"),
            ("query", "SELECT 1 AS one"),
            ("topic.prefix", "ones"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        c.start(ConnectorContext::new(tx), &props).unwrap();
        let configs = c.task_configs(4).unwrap();
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0]["tables"], "");
        assert_eq!(configs[0]["tables.fetched"], "true");
        assert_eq!(configs[0]["query"], "SELECT 1 AS one");
        c.stop().unwrap();
    }

    #[test]
    fn a_bad_config_fails_start_naming_the_key() {
        let mut c = PostgresSourceConnector::new();
        let props: Props = [("connection.url", "jdbc:postgresql://h/d")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let e = c.start(ConnectorContext::new(tx), &props).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: Couldn't start PostgresSourceConnector due to configuration error: \
             Invalid value for configuration mode: Query mode must be specified"
        );
    }
}
