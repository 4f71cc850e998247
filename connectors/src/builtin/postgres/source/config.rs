//! The source's keys, with the names, defaults and groups of Confluent's
//! `JdbcSourceConnectorConfig`, and the checks across keys of its `JdbcSourceConnectorValidation`
//! that apply to PostgreSQL.
//!
//! Deviations:
//! - A config with no table filter copies every table `table.types` and `schema.pattern` find,
//!   as Confluent's connector did before its newest validation demanded a filter; and
//!   `incrementing.column.name` / `timestamp.column.name` work beside `table.include.list`
//!   (Confluent's newest validation asks for the `*.mapping` keys there; both are read here).
//! - `query` mode needs `topic.prefix` (the topic's name): refused when configured rather than
//!   when the first record fails to be produced.
//! - `db.timezone` accepts only UTC (and its aliases) and `timestamp.granularity` only
//!   `connect_logical`; other values are refused rather than ignored.
//! - Confluent keys not defined here (`dialect.name`, `transaction.isolation.mode`,
//!   `query.retry.attempts`, `query.masked`, `poll.linger.ms`, `max.buffer.size`,
//!   `date.calendar.system`, `jdbc.credentials.provider.class`) are ignored like any unknown key.

use std::time::Duration;

use super::super::connection::{self, Connection};
use super::query::Criteria;
use super::table::{Quoting, TableId};
use super::types::NumericMapping;
use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator, Width};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::java_regex::JavaRegex;
use thiserror::Error;

pub const TABLE_WHITELIST: &str = "table.whitelist";
pub const TABLE_BLACKLIST: &str = "table.blacklist";
pub const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub const CATALOG_PATTERN: &str = "catalog.pattern";
pub const SCHEMA_PATTERN: &str = "schema.pattern";
pub const NUMERIC_PRECISION_MAPPING: &str = "numeric.precision.mapping";
pub const NUMERIC_MAPPING: &str = "numeric.mapping";
pub const MODE: &str = "mode";
pub const INCREMENTING_COLUMN_NAME: &str = "incrementing.column.name";
pub const TIMESTAMP_COLUMN_NAME: &str = "timestamp.column.name";
pub const TIMESTAMP_COLUMNS_MAPPING: &str = "timestamp.columns.mapping";
pub const INCREMENTING_COLUMN_MAPPING: &str = "incrementing.column.mapping";
pub const TIMESTAMP_INITIAL: &str = "timestamp.initial";
pub const VALIDATE_NON_NULL: &str = "validate.non.null";
pub const QUERY: &str = "query";
pub const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";
pub const QUERY_SUFFIX: &str = "query.suffix";
pub const TABLE_TYPES: &str = "table.types";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub const TABLE_POLL_INTERVAL_MS: &str = "table.poll.interval.ms";
pub const TABLE_MONITORING_STARTUP_LIMIT_MS: &str = "table.monitoring.startup.polling.limit.ms";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const TIMESTAMP_DELAY_INTERVAL_MS: &str = "timestamp.delay.interval.ms";
pub const DB_TIMEZONE: &str = "db.timezone";
pub const TIMESTAMP_GRANULARITY: &str = "timestamp.granularity";

/// Task config keys the connector adds (Confluent's `JdbcSourceTaskConfig`).
pub const TABLES: &str = "tables";
pub const TABLES_FETCHED: &str = "tables.fetched";

pub const MODE_BULK: &str = "bulk";
pub const MODE_INCREMENTING: &str = "incrementing";
pub const MODE_TIMESTAMP: &str = "timestamp";
pub const MODE_TIMESTAMP_INCREMENTING: &str = "timestamp+incrementing";

/// `timestamp.initial=-1`: start at the database's current time.
pub const TIMESTAMP_INITIAL_CURRENT: i64 = -1;

const DATABASE_GROUP: &str = "Database";
const MODE_GROUP: &str = "Mode";
const CONNECTOR_GROUP: &str = "Connector";

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            MODE_BULK => Mode::Bulk,
            MODE_INCREMENTING => Mode::Incrementing,
            MODE_TIMESTAMP => Mode::Timestamp,
            MODE_TIMESTAMP_INCREMENTING => Mode::TimestampIncrementing,
            _ => return None,
        })
    }

    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

fn regex_list_validator() -> Validator {
    Validator::custom("a valid comma-separated list of regular expressions", |v| {
        if let ParsedValue::List(items) = v {
            for r in items {
                JavaRegex::new(r.trim()).map_err(|e| {
                    format!(
                        "Must be a valid comma-separated list of regular expression patterns: {e}"
                    )
                })?;
            }
        }
        Ok(())
    })
}

/// Why an item of `incrementing.column.mapping` or `timestamp.columns.mapping` is invalid
/// (Confluent's messages).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MappingError {
    #[error("Invalid format. Expected '{0}'")]
    Format(&'static str),
    #[error("Invalid regular expression: {0}")]
    Regex(String),
    #[error("Column name cannot be empty")]
    EmptyColumn,
    #[error("Columns list must be enclosed in square brackets")]
    NotBracketed,
    #[error("Columns list cannot be empty")]
    EmptyList,
    #[error("Every column name should be non-empty string")]
    EmptyColumnInList,
}

/// Why a table's columns cannot be told from the `*.mapping` keys.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MappingMatchError {
    #[error("Included table '{table}' does not match any of the regexes of {key}")]
    NoMatch { table: String, key: &'static str },
    #[error("Included table '{table}' matches more than one of the regexes of {key}")]
    ManyMatches { table: String, key: &'static str },
}

/// `regex:column` items of `incrementing.column.mapping`.
fn parse_single_mapping(item: &str) -> Result<(JavaRegex, String), MappingError> {
    let (regex, column) = item
        .trim()
        .split_once(':')
        .filter(|(_, c)| !c.contains(':'))
        .ok_or(MappingError::Format("regex:columnName"))?;
    let regex = JavaRegex::new(regex.trim()).map_err(|e| MappingError::Regex(e.to_string()))?;
    let column = column.trim();
    if column.is_empty() {
        return Err(MappingError::EmptyColumn);
    }
    Ok((regex, column.to_string()))
}

/// `regex:[col1|col2]` items of `timestamp.columns.mapping`.
fn parse_multi_mapping(item: &str) -> Result<(JavaRegex, Vec<String>), MappingError> {
    let (regex, columns) = item
        .trim()
        .split_once(':')
        .filter(|(_, c)| !c.contains(':'))
        .ok_or(MappingError::Format("regex:[col1|col2|...]"))?;
    let regex = JavaRegex::new(regex.trim()).map_err(|e| MappingError::Regex(e.to_string()))?;
    let inner = columns
        .trim()
        .strip_prefix('[')
        .and_then(|c| c.strip_suffix(']'))
        .ok_or(MappingError::NotBracketed)?;
    if inner.trim().is_empty() {
        return Err(MappingError::EmptyList);
    }
    let columns: Vec<String> = inner.split('|').map(|c| c.trim().to_string()).collect();
    if columns.iter().any(String::is_empty) {
        return Err(MappingError::EmptyColumnInList);
    }
    Ok((regex, columns))
}

fn mapping_validator(multi: bool) -> Validator {
    Validator::custom("a list of table regex to column mappings", move |v| {
        if let ParsedValue::List(items) = v {
            for item in items {
                // The config API's checks report their messages as text.
                if multi {
                    parse_multi_mapping(item).map_err(|e| e.to_string())?;
                } else {
                    parse_single_mapping(item).map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    })
}

fn topic_prefix_validator() -> Validator {
    Validator::custom("a valid topic prefix", |v| {
        if let ParsedValue::String(s) = v {
            if s.len() > 249 {
                return Err(
                    "Topic prefix length must not exceed max topic name length, 249 chars".into(),
                );
            }
            if s.chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(
                    "Topic prefix must not contain any character other than ASCII \
                            alphanumerics, '.', '_' and '-'."
                        .into(),
                );
            }
        }
        Ok(())
    })
}

fn case_insensitive_one_of(values: &'static [&'static str]) -> Validator {
    Validator::custom(values.join(", "), move |v| match v {
        ParsedValue::String(s) if !values.iter().any(|allowed| allowed.eq_ignore_ascii_case(s)) => {
            Err(format!("String must be one of: {}", values.join(", ")))
        }
        _ => Ok(()),
    })
}

const UTC_NAMES: [&str; 6] = ["UTC", "Z", "GMT", "Etc/UTC", "Etc/GMT", "UCT"];

/// Every key of the source, in Confluent's groups and order.
pub fn config_def() -> ConfigDef {
    connection::config_def()
        .define(
            TABLE_WHITELIST,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "List of tables to include in copying (exact names: 'table', 'schema.table' or \
             '\"schema\".\"table\"'). If specified, table.blacklist may not be set.",
        )
        .in_group(DATABASE_GROUP, Width::Long, "Table Whitelist")
        .define(
            TABLE_BLACKLIST,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "List of tables to exclude from copying. If specified, table.whitelist may not be \
             set.",
        )
        .in_group(DATABASE_GROUP, Width::Long, "Table Blacklist")
        .define(
            TABLE_INCLUDE_LIST,
            ConfigType::List,
            Some(""),
            Some(regex_list_validator()),
            Importance::Medium,
            "Regular expressions matching the fully-qualified names (schema.table) of tables to \
             copy. May not be combined with table.whitelist or table.blacklist.",
        )
        .in_group(DATABASE_GROUP, Width::Long, "Tables Included (Regex)")
        .define(
            TABLE_EXCLUDE_LIST,
            ConfigType::List,
            Some(""),
            Some(regex_list_validator()),
            Importance::Medium,
            "Regular expressions matching the fully-qualified names of tables not to copy among \
             those of table.include.list, which it requires.",
        )
        .in_group(DATABASE_GROUP, Width::Long, "Tables Excluded (Regex)")
        .define_optional(
            CATALOG_PATTERN,
            ConfigType::String,
            Importance::Medium,
            "Catalog pattern to fetch table metadata from the database. A PostgreSQL connection \
             sees one database (the catalog), so this narrows nothing, as with the JDBC driver.",
        )
        .in_group(DATABASE_GROUP, Width::Short, "Catalog pattern")
        .define_optional(
            SCHEMA_PATTERN,
            ConfigType::String,
            Importance::High,
            "Schema pattern (a LIKE pattern) to fetch table metadata from the database; unset, \
             tables of every schema are listed.",
        )
        .in_group(DATABASE_GROUP, Width::Short, "Schema pattern")
        .define(
            NUMERIC_PRECISION_MAPPING,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Low,
            "Deprecated: numeric.mapping=precision_only when numeric.mapping is unset.",
        )
        .in_group(
            DATABASE_GROUP,
            Width::Short,
            "Map Numeric Values By Precision (deprecated)",
        )
        .define_optional(
            NUMERIC_MAPPING,
            ConfigType::String,
            Importance::Low,
            "How NUMERIC columns map: none (Decimal), best_fit (INT8..INT64 or FLOAT64 where the \
             precision and scale allow), best_fit_eager_double (also FLOAT64 for any scale), or \
             precision_only (integers by precision where the scale is 0).",
        )
        .with_validator(case_insensitive_one_of(&NumericMapping::NAMES))
        .in_group(
            DATABASE_GROUP,
            Width::Short,
            "Map Numeric Values, Integral or Decimal, By Precision and Scale",
        )
        .define(
            MODE,
            ConfigType::String,
            Some(""),
            Some(Validator::one_of(&[
                "",
                MODE_BULK,
                MODE_TIMESTAMP,
                MODE_INCREMENTING,
                MODE_TIMESTAMP_INCREMENTING,
            ])),
            Importance::High,
            "How a table is read each poll: bulk (the whole table), incrementing (rows with a \
             larger strictly incrementing column), timestamp (rows with a newer timestamp \
             column), or timestamp+incrementing (both: new and updated rows, each exactly once).",
        )
        .in_group(MODE_GROUP, Width::Medium, "Table Loading Mode")
        .define(
            INCREMENTING_COLUMN_NAME,
            ConfigType::String,
            Some(""),
            None,
            Importance::Medium,
            "The strictly incrementing, non-null column detecting new rows; empty: the table's \
             auto-incrementing (serial or identity) column.",
        )
        .in_group(MODE_GROUP, Width::Medium, "Incrementing Column Name")
        .define(
            TIMESTAMP_COLUMN_NAME,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "One or more timestamp columns detecting new or modified rows; several are combined \
             with COALESCE.",
        )
        .in_group(MODE_GROUP, Width::Medium, "Timestamp Column Name")
        .define(
            TIMESTAMP_COLUMNS_MAPPING,
            ConfigType::List,
            Some(""),
            Some(mapping_validator(true)),
            Importance::Medium,
            "Per-table timestamp columns: 'regex:[col1|col2]' items matched against schema.table; \
             every table must match exactly one.",
        )
        .in_group(
            MODE_GROUP,
            Width::Long,
            "Table to timestamp columns mappings",
        )
        .define(
            INCREMENTING_COLUMN_MAPPING,
            ConfigType::List,
            Some(""),
            Some(mapping_validator(false)),
            Importance::Medium,
            "Per-table incrementing column: 'regex:column' items matched against schema.table; \
             every table must match exactly one.",
        )
        .in_group(
            MODE_GROUP,
            Width::Long,
            "Table to incrementing column mappings",
        )
        .define_optional(
            TIMESTAMP_INITIAL,
            ConfigType::Long,
            Importance::Low,
            "The Unix time in milliseconds timestamp modes start from when no offset is \
             committed; -1: the database's current time; unset: every row.",
        )
        .in_group(
            MODE_GROUP,
            Width::Medium,
            "Unix time value of initial timestamp",
        )
        .define(
            VALIDATE_NON_NULL,
            ConfigType::Boolean,
            Some("true"),
            None,
            Importance::Low,
            "Check that the incrementing column, and at least one timestamp column, are NOT \
             NULL in every table; a table failing the check fails the task.",
        )
        .in_group(MODE_GROUP, Width::Short, "Validate Non Null")
        .define(
            QUERY,
            ConfigType::String,
            Some(""),
            None,
            Importance::Medium,
            "A query to copy instead of whole tables; the mode's WHERE clause is appended, so it \
             must not have one of its own in incremental modes. Records go to topic.prefix.",
        )
        .in_group(MODE_GROUP, Width::Short, "Query")
        .define(
            QUOTE_SQL_IDENTIFIERS,
            ConfigType::String,
            Some("always"),
            Some(case_insensitive_one_of(&["always", "never"])),
            Importance::Medium,
            "When to quote table and column names in SQL statements: always or never.",
        )
        .in_group(MODE_GROUP, Width::Medium, "Quote Identifiers")
        .define(
            QUERY_SUFFIX,
            ConfigType::String,
            Some(""),
            None,
            Importance::Low,
            "Suffix to append at the end of the generated query.",
        )
        .in_group(MODE_GROUP, Width::Medium, "Query suffix")
        .define(
            TABLE_TYPES,
            ConfigType::List,
            Some("TABLE"),
            None,
            Importance::Low,
            "The table types to copy, as the JDBC driver names them: TABLE, VIEW, MATERIALIZED \
             VIEW, PARTITIONED TABLE, FOREIGN TABLE, SYSTEM TABLE, …",
        )
        .in_group(CONNECTOR_GROUP, Width::Medium, "Table Types")
        .define(
            POLL_INTERVAL_MS,
            ConfigType::Int,
            Some("5000"),
            None,
            Importance::High,
            "Frequency in ms to poll for new data in each table.",
        )
        .in_group(CONNECTOR_GROUP, Width::Short, "Poll Interval (ms)")
        .define(
            BATCH_MAX_ROWS,
            ConfigType::Int,
            Some("1000"),
            None,
            Importance::Low,
            "Maximum number of rows in one batch of records.",
        )
        .in_group(CONNECTOR_GROUP, Width::Short, "Max Rows Per Batch")
        .define(
            TABLE_MONITORING_STARTUP_LIMIT_MS,
            ConfigType::Long,
            Some("10000"),
            None,
            Importance::Low,
            "How long the first task configs wait for the first list of tables.",
        )
        .define(
            TABLE_POLL_INTERVAL_MS,
            ConfigType::Long,
            Some("60000"),
            None,
            Importance::Low,
            "Frequency in ms to look for new or removed tables; a change reconfigures the tasks.",
        )
        .in_group(
            CONNECTOR_GROUP,
            Width::Short,
            "Metadata Change Monitoring Interval (ms)",
        )
        .define(
            TOPIC_PREFIX,
            ConfigType::String,
            Some(""),
            Some(topic_prefix_validator()),
            Importance::High,
            "Prefix prepended to table names to make topic names, or in query mode the topic.",
        )
        .in_group(CONNECTOR_GROUP, Width::Medium, "Topic Prefix")
        .define(
            TIMESTAMP_DELAY_INTERVAL_MS,
            ConfigType::Long,
            Some("0"),
            None,
            Importance::High,
            "How long after a timestamp a row is read, so that transactions with earlier \
             timestamps can commit first.",
        )
        .in_group(CONNECTOR_GROUP, Width::Medium, "Delay Interval (ms)")
        .define(
            DB_TIMEZONE,
            ConfigType::String,
            Some("UTC"),
            Some(case_insensitive_one_of(&UTC_NAMES)),
            Importance::Medium,
            "The time zone `timestamp` (without time zone) values are read in. Only UTC.",
        )
        .in_group(CONNECTOR_GROUP, Width::Medium, "DB time zone")
        .define(
            TIMESTAMP_GRANULARITY,
            ConfigType::String,
            Some("connect_logical"),
            Some(case_insensitive_one_of(&["connect_logical"])),
            Importance::Low,
            "How timestamps are represented: connect_logical (Connect's Timestamp) only.",
        )
        .in_group(
            CONNECTOR_GROUP,
            Width::Medium,
            "Timestamp granularity for timestamp columns",
        )
}

/// Which tables to copy.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    /// Exact names (`table.whitelist`).
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
    /// Whole-name regexes on `schema.table` (`table.include.list`).
    pub include: Vec<JavaRegex>,
    pub exclude: Vec<JavaRegex>,
}

impl TableFilter {
    /// Whether `t` is copied: Confluent's `TableMonitorThread` filters.
    pub fn accepts(&self, t: &TableId) -> bool {
        if !self.include.is_empty() || !self.exclude.is_empty() {
            let name = t.unquoted();
            return self.include.iter().any(|r| r.matches(&name))
                && !self.exclude.iter().any(|r| r.matches(&name));
        }
        let named = |list: &[String]| {
            let (plain, quoted) = (t.unquoted(), t.sql(Quoting::Always));
            list.iter()
                .any(|n| *n == plain || *n == quoted || *n == t.name)
        };
        if !self.whitelist.is_empty() {
            named(&self.whitelist)
        } else if !self.blacklist.is_empty() {
            !named(&self.blacklist)
        } else {
            true
        }
    }

    /// The `table.whitelist` names no table of `tables` has.
    pub fn missing(&self, tables: &[TableId]) -> Vec<String> {
        self.whitelist
            .iter()
            .filter(|n| {
                !tables
                    .iter()
                    .any(|t| **n == t.unquoted() || **n == t.sql(Quoting::Always) || **n == t.name)
            })
            .cloned()
            .collect()
    }
}

/// A parsed source config, for the connector and its tasks.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// `connection.*`: where and how to connect.
    pub connection: Connection,
    /// `table.whitelist` / `table.blacklist`: which tables to read.
    pub filter: TableFilter,
    /// `schema.pattern`: the schemas whose tables are read; `None` for all.
    pub schema_pattern: Option<String>,
    /// Upper case.
    pub table_types: Vec<String>,
    /// `query`: a query to read instead of tables.
    pub query: Option<String>,
    /// `mode`: how new and changed rows are found.
    pub mode: Mode,
    /// `incrementing.column.name`.
    pub incrementing_column: String,
    /// `timestamp.column.name`: the columns, in order of precedence.
    pub timestamp_columns: Vec<String>,
    /// `incrementing.column.mapping`: table patterns and their incrementing column.
    pub incrementing_mapping: Vec<(JavaRegex, String)>,
    /// `timestamp.columns.mapping`: table patterns and their timestamp columns.
    pub timestamp_mapping: Vec<(JavaRegex, Vec<String>)>,
    /// `timestamp.initial`: where a timestamp mode starts, in Unix milliseconds; `None` for now.
    pub timestamp_initial: Option<i64>,
    /// `validate.non.null`: whether the mode's columns are checked to be NOT NULL.
    pub validate_non_null: bool,
    /// `quote.sql.identifiers`.
    pub quoting: Quoting,
    /// `query.suffix`: text appended to each query.
    pub query_suffix: String,
    /// `poll.interval.ms`.
    pub poll_interval: Duration,
    /// `batch.max.rows`.
    pub batch_max_rows: usize,
    /// `table.poll.interval.ms`: how often the table list is read again.
    pub table_poll_interval: Duration,
    /// `table.monitoring.startup.polling.limit.ms`.
    pub startup_limit: Duration,
    /// `topic.prefix`.
    pub topic_prefix: String,
    /// `timestamp.delay.interval.ms`.
    pub timestamp_delay_ms: i64,
    /// `numeric.mapping`.
    pub numeric_mapping: NumericMapping,
}

fn non_empty(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

impl SourceConfig {
    /// Parses and checks `props`, failing with the first problem.
    pub fn parse(props: &Props) -> ConnectResult<SourceConfig> {
        let p = config_def().parse(props)?;
        if let Some((key, why)) = cross_key_errors(props).into_iter().next() {
            return Err(ConnectError::config(format!(
                "Invalid value for configuration {key}: {why}"
            )));
        }
        let regexes = |key: &str| -> ConnectResult<Vec<JavaRegex>> {
            non_empty(p.list(key)?)
                .iter()
                .map(|r| JavaRegex::new(r).map_err(|e| ConnectError::config(format!("{key}: {e}"))))
                .collect()
        };
        let filter = TableFilter {
            whitelist: non_empty(p.list(TABLE_WHITELIST)?),
            blacklist: non_empty(p.list(TABLE_BLACKLIST)?),
            include: regexes(TABLE_INCLUDE_LIST)?,
            exclude: regexes(TABLE_EXCLUDE_LIST)?,
        };
        let mode = Mode::parse(&p.string(MODE)?).expect("checked by cross_key_errors");
        let numeric_mapping = match p.opt_string(NUMERIC_MAPPING) {
            Some(m) => NumericMapping::parse(&m).expect("checked by the validator"),
            None if p.boolean(NUMERIC_PRECISION_MAPPING)? => NumericMapping::PrecisionOnly,
            None => NumericMapping::None,
        };
        let query = Some(p.string(QUERY)?).filter(|q| !q.is_empty());
        Ok(SourceConfig {
            connection: Connection::from_props(props)?,
            filter,
            schema_pattern: p.opt_string(SCHEMA_PATTERN),
            table_types: non_empty(p.list(TABLE_TYPES)?)
                .into_iter()
                .map(|t| t.to_ascii_uppercase())
                .collect(),
            query,
            mode,
            incrementing_column: p.string(INCREMENTING_COLUMN_NAME)?,
            timestamp_columns: non_empty(p.list(TIMESTAMP_COLUMN_NAME)?),
            incrementing_mapping: non_empty(p.list(INCREMENTING_COLUMN_MAPPING)?)
                .iter()
                .map(|m| parse_single_mapping(m).map_err(|e| ConnectError::config(e.to_string())))
                .collect::<ConnectResult<_>>()?,
            timestamp_mapping: non_empty(p.list(TIMESTAMP_COLUMNS_MAPPING)?)
                .iter()
                .map(|m| parse_multi_mapping(m).map_err(|e| ConnectError::config(e.to_string())))
                .collect::<ConnectResult<_>>()?,
            timestamp_initial: if p.has(TIMESTAMP_INITIAL) {
                Some(p.long(TIMESTAMP_INITIAL)?)
            } else {
                None
            },
            validate_non_null: p.boolean(VALIDATE_NON_NULL)?,
            quoting: Quoting::parse(&p.string(QUOTE_SQL_IDENTIFIERS)?)
                .expect("checked by the validator"),
            query_suffix: p.string(QUERY_SUFFIX)?,
            poll_interval: ms(i64::from(p.int(POLL_INTERVAL_MS)?)),
            batch_max_rows: p.int(BATCH_MAX_ROWS)?.max(1) as usize,
            table_poll_interval: ms(p.long(TABLE_POLL_INTERVAL_MS)?),
            startup_limit: ms(p.long(TABLE_MONITORING_STARTUP_LIMIT_MS)?),
            topic_prefix: p.string(TOPIC_PREFIX)?,
            timestamp_delay_ms: p.long(TIMESTAMP_DELAY_INTERVAL_MS)?.max(0),
            numeric_mapping,
        })
    }

    /// The columns that track progress in `table` (`None`: query mode), from the `*.mapping`
    /// keys when set, else from the column name keys. An empty incrementing column is found
    /// later (the table's auto-incrementing column).
    pub fn criteria_for(&self, table: Option<&TableId>) -> Result<Criteria, MappingMatchError> {
        let name = table.map(TableId::unquoted);
        let incrementing = match (&name, self.incrementing_mapping.is_empty()) {
            (Some(n), false) => {
                one_match(&self.incrementing_mapping, n, INCREMENTING_COLUMN_MAPPING)?
            }
            _ => self.incrementing_column.clone(),
        };
        let timestamps = match (&name, self.timestamp_mapping.is_empty()) {
            (Some(n), false) => one_match(&self.timestamp_mapping, n, TIMESTAMP_COLUMNS_MAPPING)?,
            _ => self.timestamp_columns.clone(),
        };
        Ok(match self.mode {
            Mode::Bulk => Criteria::Bulk,
            Mode::Incrementing => Criteria::Incrementing {
                column: incrementing,
            },
            Mode::Timestamp => Criteria::Timestamp {
                columns: timestamps,
            },
            Mode::TimestampIncrementing => Criteria::TimestampIncrementing {
                columns: timestamps,
                column: incrementing,
            },
        })
    }
}

fn one_match<T: Clone>(
    mapping: &[(JavaRegex, T)],
    table: &str,
    key: &'static str,
) -> Result<T, MappingMatchError> {
    let mut matching = mapping.iter().filter(|(r, _)| r.matches(table));
    match (matching.next(), matching.next()) {
        (Some((_, v)), None) => Ok(v.clone()),
        (None, _) => Err(MappingMatchError::NoMatch {
            table: table.to_string(),
            key,
        }),
        (Some(_), Some(_)) => Err(MappingMatchError::ManyMatches {
            table: table.to_string(),
            key,
        }),
    }
}

/// The problems that involve more than one key, each on the key to show it on. Keys whose own
/// values are invalid are left to the per-key checks.
pub fn cross_key_errors(props: &Props) -> Vec<(&'static str, String)> {
    let def = config_def();
    let Ok(p) = def.parse(props) else {
        return Vec::new();
    };
    let list = |k: &str| non_empty(p.list(k).unwrap_or_default());
    let (white, black) = (list(TABLE_WHITELIST), list(TABLE_BLACKLIST));
    let (include, exclude) = (list(TABLE_INCLUDE_LIST), list(TABLE_EXCLUDE_LIST));
    let query = p.string(QUERY).unwrap_or_default();
    let mode = p.string(MODE).unwrap_or_default();
    let mut out = Vec::new();
    let present: Vec<&'static str> = [
        (TABLE_WHITELIST, &white),
        (TABLE_BLACKLIST, &black),
        (TABLE_INCLUDE_LIST, &include),
        (TABLE_EXCLUDE_LIST, &exclude),
    ]
    .into_iter()
    .filter(|(_, l)| !l.is_empty())
    .map(|(k, _)| k)
    .collect();
    if !query.is_empty() && !present.is_empty() {
        let why = "Do not specify table filtering configs with 'query'. Remove table.whitelist / \
                   table.blacklist / table.include.list / table.exclude.list when using query \
                   mode or 'query' when using table filtering mode.";
        out.push((QUERY, why.to_string()));
        out.extend(present.iter().map(|k| (*k, why.to_string())));
    } else if (!white.is_empty() || !black.is_empty())
        && (!include.is_empty() || !exclude.is_empty())
    {
        let why = "Cannot mix legacy and new configuration approaches: table.whitelist and \
                   table.blacklist cannot be used together with table.include.list and \
                   table.exclude.list.";
        out.extend(present.iter().map(|k| (*k, why.to_string())));
    } else if !white.is_empty() && !black.is_empty() {
        let why = "table.whitelist and table.blacklist are exclusive.";
        out.push((TABLE_WHITELIST, why.to_string()));
        out.push((TABLE_BLACKLIST, why.to_string()));
    } else if !exclude.is_empty() && include.is_empty() {
        out.push((
            TABLE_EXCLUDE_LIST,
            "table.exclude.list cannot be used without table.include.list. Exclude list only \
             applies to tables that match the include list."
                .to_string(),
        ));
    }
    let Some(mode) = Mode::parse(&mode) else {
        out.push((MODE, "Query mode must be specified".to_string()));
        return out;
    };
    if mode.uses_timestamp()
        && list(TIMESTAMP_COLUMN_NAME).is_empty()
        && list(TIMESTAMP_COLUMNS_MAPPING).is_empty()
    {
        out.push((
            TIMESTAMP_COLUMN_NAME,
            format!(
                "Timestamp column configuration must be provided when using mode '{MODE_TIMESTAMP}' \
                 or '{MODE_TIMESTAMP_INCREMENTING}': set timestamp.column.name or \
                 timestamp.columns.mapping."
            ),
        ));
    }
    if !query.is_empty() {
        if mode.uses_incrementing()
            && p.string(INCREMENTING_COLUMN_NAME)
                .unwrap_or_default()
                .trim()
                .is_empty()
        {
            out.push((
                INCREMENTING_COLUMN_NAME,
                format!(
                    "'{INCREMENTING_COLUMN_NAME}' must be provided when using mode \
                     '{MODE_INCREMENTING}' or '{MODE_TIMESTAMP_INCREMENTING}' with a custom query: \
                     a query has no table whose auto-incrementing column could be used."
                ),
            ));
        }
        if p.string(TOPIC_PREFIX).unwrap_or_default().trim().is_empty() {
            out.push((
                TOPIC_PREFIX,
                "topic.prefix is the topic a query's records go to, and must be set with 'query'."
                    .to_string(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        let mut p: Props = [
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("mode", "bulk"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        cross_key_errors(&props(pairs))
    }

    #[test]
    fn defaults_are_confluents() {
        let c = SourceConfig::parse(&props(&[])).unwrap();
        assert_eq!(c.mode, Mode::Bulk);
        assert_eq!(c.poll_interval, Duration::from_millis(5000));
        assert_eq!(c.batch_max_rows, 1000);
        assert_eq!(c.table_poll_interval, Duration::from_millis(60_000));
        assert_eq!(c.table_types, vec!["TABLE"]);
        assert_eq!(c.topic_prefix, "");
        assert_eq!(c.timestamp_delay_ms, 0);
        assert_eq!(c.numeric_mapping, NumericMapping::None);
        assert_eq!(c.quoting, Quoting::Always);
        assert!(c.validate_non_null);
        assert!(c.query.is_none());
        assert!(c.schema_pattern.is_none());
        assert!(c.timestamp_initial.is_none());
        let def = config_def();
        let key = |k: &str| def.key(k).unwrap().clone();
        assert_eq!(key(POLL_INTERVAL_MS).ty, ConfigType::Int);
        assert_eq!(key(TABLE_POLL_INTERVAL_MS).ty, ConfigType::Long);
        assert_eq!(key("connection.password").ty, ConfigType::Password);
        assert_eq!(key(MODE).group.as_deref(), Some("Mode"));
        assert_eq!(key(TABLE_WHITELIST).group.as_deref(), Some("Database"));
        assert_eq!(key(TOPIC_PREFIX).group.as_deref(), Some("Connector"));
    }

    #[test]
    fn numeric_mapping_keys() {
        let m =
            |pairs: &[(&str, &str)]| SourceConfig::parse(&props(pairs)).unwrap().numeric_mapping;
        assert_eq!(
            m(&[("numeric.mapping", "best_fit")]),
            NumericMapping::BestFit
        );
        assert_eq!(
            m(&[("numeric.mapping", "BEST_FIT")]),
            NumericMapping::BestFit
        );
        assert_eq!(
            m(&[("numeric.precision.mapping", "true")]),
            NumericMapping::PrecisionOnly
        );
        assert_eq!(
            m(&[
                ("numeric.precision.mapping", "true"),
                ("numeric.mapping", "none")
            ]),
            NumericMapping::None
        );
        let e = SourceConfig::parse(&props(&[("numeric.mapping", "fit")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: Invalid value fit for configuration numeric.mapping: String must be \
             one of: none, precision_only, best_fit, best_fit_eager_double"
        );
    }

    #[test]
    fn mode_must_be_set_and_known() {
        let mut p = props(&[]);
        p.remove("mode");
        assert_eq!(
            cross_key_errors(&p),
            vec![(MODE, "Query mode must be specified".to_string())]
        );
        assert!(SourceConfig::parse(&p)
            .unwrap_err()
            .to_string()
            .contains("mode"));
        let e = SourceConfig::parse(&props(&[("mode", "everything")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("String must be one of: , bulk, timestamp"),
            "{e}"
        );
    }

    #[test]
    fn table_filters_exclude_each_other_as_in_confluent() {
        let e = errors(&[("table.whitelist", "a"), ("table.blacklist", "b")]);
        assert_eq!(
            e.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![TABLE_WHITELIST, TABLE_BLACKLIST]
        );
        assert!(e[0].1.contains("exclusive"));
        let e = errors(&[
            ("table.whitelist", "a"),
            ("table.include.list", "public\\..*"),
        ]);
        assert_eq!(e.len(), 2);
        assert!(e[0].1.starts_with("Cannot mix legacy and new"));
        let e = errors(&[("table.exclude.list", ".*tmp")]);
        assert_eq!(e[0].0, TABLE_EXCLUDE_LIST);
        let e = errors(&[
            ("query", "SELECT 1"),
            ("table.whitelist", "a"),
            ("topic.prefix", "t"),
        ]);
        assert_eq!(
            e.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![QUERY, TABLE_WHITELIST]
        );
        assert!(errors(&[("table.include.list", "a"), ("table.exclude.list", "b")]).is_empty());
    }

    #[test]
    fn modes_need_their_columns() {
        let e = errors(&[("mode", "timestamp")]);
        assert_eq!(e[0].0, TIMESTAMP_COLUMN_NAME);
        assert!(errors(&[("mode", "timestamp"), ("timestamp.column.name", "ts")]).is_empty());
        assert!(errors(&[
            ("mode", "timestamp+incrementing"),
            ("timestamp.columns.mapping", ".*:[ts]")
        ])
        .is_empty());
        // Tables have auto-incrementing columns to fall back on; queries have not.
        assert!(errors(&[("mode", "incrementing")]).is_empty());
        let e = errors(&[
            ("mode", "incrementing"),
            ("query", "SELECT * FROM t"),
            ("topic.prefix", "t"),
        ]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, INCREMENTING_COLUMN_NAME);
        let e = errors(&[("query", "SELECT * FROM t")]);
        assert_eq!(e[0].0, TOPIC_PREFIX);
    }

    #[test]
    fn filters_match_as_confluent_does() {
        let t = TableId::new("public", "users");
        let f = |pairs: &[(&str, &str)]| SourceConfig::parse(&props(pairs)).unwrap().filter;
        assert!(f(&[]).accepts(&t));
        for name in ["users", "public.users", "\"public\".\"users\""] {
            assert!(f(&[("table.whitelist", name)]).accepts(&t), "{name}");
            assert!(!f(&[("table.blacklist", name)]).accepts(&t), "{name}");
        }
        assert!(!f(&[("table.whitelist", "user")]).accepts(&t));
        // Regexes match the whole schema.table name.
        assert!(f(&[("table.include.list", "public\\.u.*")]).accepts(&t));
        assert!(!f(&[("table.include.list", "u.*")]).accepts(&t));
        assert!(!f(&[
            ("table.include.list", "public\\..*"),
            ("table.exclude.list", ".*ers")
        ])
        .accepts(&t));
        let e = SourceConfig::parse(&props(&[("table.include.list", "(")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("Must be a valid comma-separated list of regular expression patterns"),
            "{e}"
        );
    }

    #[test]
    fn column_mappings_pick_one_per_table() {
        let c = SourceConfig::parse(&props(&[
            ("mode", "timestamp+incrementing"),
            ("table.include.list", "public\\..*"),
            (
                "incrementing.column.mapping",
                "public\\.a.*:id, public\\.b:num",
            ),
            (
                "timestamp.columns.mapping",
                "public\\..*:[modified|created]",
            ),
        ]))
        .unwrap();
        assert_eq!(
            c.criteria_for(Some(&TableId::new("public", "abc")))
                .unwrap(),
            Criteria::TimestampIncrementing {
                columns: vec!["modified".into(), "created".into()],
                column: "id".into()
            }
        );
        let e = c
            .criteria_for(Some(&TableId::new("public", "zz")))
            .unwrap_err();
        assert!(
            e.to_string().contains("'public.zz' does not match any"),
            "{e}"
        );
        let e = SourceConfig::parse(&props(&[("timestamp.columns.mapping", "a:ts")])).unwrap_err();
        assert!(e.to_string().contains("square brackets"), "{e}");
    }

    #[test]
    fn topic_prefix_characters_are_checked() {
        let e = SourceConfig::parse(&props(&[("topic.prefix", "bad prefix")])).unwrap_err();
        assert!(
            e.to_string().contains("Topic prefix must not contain"),
            "{e}"
        );
        assert!(SourceConfig::parse(&props(&[("topic.prefix", "pg.db_1-")])).is_ok());
    }

    #[test]
    fn only_utc_and_connect_logical_are_accepted() {
        assert!(SourceConfig::parse(&props(&[("db.timezone", "Etc/UTC")])).is_ok());
        assert!(SourceConfig::parse(&props(&[("db.timezone", "Europe/Paris")])).is_err());
        assert!(SourceConfig::parse(&props(&[("timestamp.granularity", "micros_long")])).is_err());
    }
}
