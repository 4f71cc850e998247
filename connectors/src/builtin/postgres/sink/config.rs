//! The sink's keys: Confluent's JDBC sink keys (names, defaults, validators and the check that
//! deletes need `pk.mode=record_key`), plus kconnect's `exactly.once` and
//! `exactly.once.offsets.table`.

use crate::api::Props;
use crate::config::{
    ConfigDef, ConfigType, ConfigValue, Importance, ParsedValue, Validator, Width,
};
use crate::error::{ConnectError, ConnectResult};

use super::super::connection;

/// `insert.mode`: `insert`, `upsert` or `update`.
pub const INSERT_MODE: &str = "insert.mode";
/// `batch.size`: the most records one statement writes.
pub const BATCH_SIZE: &str = "batch.size";
/// `delete.enabled`: whether a record with a null value deletes its row.
pub const DELETE_ENABLED: &str = "delete.enabled";
/// `replace.null.with.default`: whether a null field with a schema default writes the default.
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
/// `table.name.format`: the table of a topic, `${topic}` replaced by the topic's name.
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
/// `pk.mode`: where the primary key columns come from.
pub const PK_MODE: &str = "pk.mode";
/// `pk.fields`: the primary key columns' names.
pub const PK_FIELDS: &str = "pk.fields";
/// `fields.whitelist`: the value fields to write; empty for all.
pub const FIELDS_WHITELIST: &str = "fields.whitelist";
/// `auto.create`: whether a missing table is created.
pub const AUTO_CREATE: &str = "auto.create";
/// `auto.evolve`: whether missing columns are added.
pub const AUTO_EVOLVE: &str = "auto.evolve";
/// `max.retries`: how many times a failed `put` is retried.
pub const MAX_RETRIES: &str = "max.retries";
/// `retry.backoff.ms`: the wait between retries.
pub const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
/// `dialect.name`: accepted for Confluent's configs; only PostgreSQL is spoken.
pub const DIALECT_NAME: &str = "dialect.name";
/// `exactly.once`: whether offsets are written with the rows, in one transaction.
pub const EXACTLY_ONCE: &str = "exactly.once";
/// `exactly.once.offsets.table`: the table those offsets are kept in.
pub const EXACTLY_ONCE_TABLE: &str = "exactly.once.offsets.table";

/// The dialect `dialect.name` may name: this sink speaks only PostgreSQL.
const POSTGRES_DIALECT: &str = "PostgreSqlDatabaseDialect";
/// `pk.fields` in `pk.mode=kafka` when none are given.
pub const DEFAULT_KAFKA_PK_NAMES: [&str; 3] =
    ["__connect_topic", "__connect_partition", "__connect_offset"];
const DELETES_NEED_RECORD_KEY: &str = "Deletes are only supported for pk.mode record_key";

/// Confluent keys this sink does not implement, with Confluent's default, which is what this
/// sink does. They are defined (so JDBC sink configs that set them raise no "unknown key"),
/// and any other value is warned about at start, as it would change what a JDBC sink writes.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("db.timezone", "UTC"),
    ("date.timezone", "DB_TIMEZONE"),
    ("quote.sql.identifiers", "ALWAYS"),
    ("table.types", "TABLE"),
    ("timestamp.fields.list", ""),
    ("timestamp.precision.mode", "microseconds"),
    ("date.calendar.system", "LEGACY"),
    ("string.output.value.column.name", "record_value"),
    ("credentials.provider.class", ""),
    ("mssql.use.merge.holdlock", "true"),
    ("trim.sensitive.log", "false"),
];

/// `insert.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Plain `INSERT`: a row per record.
    Insert,
    /// `INSERT … ON CONFLICT DO UPDATE` on the primary key.
    Upsert,
    /// `UPDATE` of the row with the record's primary key.
    Update,
}

/// `pk.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    /// No primary key.
    None,
    /// The record's topic, partition and offset.
    Kafka,
    /// Fields of the record's key (or the key itself, when primitive).
    RecordKey,
    /// Fields of the record's value.
    RecordValue,
}

impl PkMode {
    /// The name `pk.mode` takes for this mode.
    pub fn name(self) -> &'static str {
        match self {
            PkMode::None => "none",
            PkMode::Kafka => "kafka",
            PkMode::RecordKey => "record_key",
            PkMode::RecordValue => "record_value",
        }
    }
}

/// Confluent's `EnumValidator`: the lower- or upper-case name of one of `values`.
fn enum_validator(values: &'static [&'static str]) -> Validator {
    let shown = format!("[{}]", values.join(", "));
    Validator::custom(shown, move |v| match v {
        ParsedValue::String(s) if values.iter().any(|e| *e == s || e.to_uppercase() == *s) => {
            Ok(())
        }
        _ => Err("Invalid enumerator".into()),
    })
}

/// Every key of the sink, with Confluent's groups and display names.
pub fn config_def() -> ConfigDef {
    const WRITES: &str = "Writes";
    const MAPPING: &str = "Data Mapping";
    const DDL: &str = "DDL Support";
    const RETRIES: &str = "Retries";
    const EOS: &str = "Exactly Once";
    let def = connection::config_def()
        .define(
            DIALECT_NAME,
            ConfigType::String,
            Some(""),
            Some(Validator::custom(
                format!("[, {POSTGRES_DIALECT}]"),
                |v| match v {
                    ParsedValue::String(s) if s.trim().is_empty() || s == POSTGRES_DIALECT => {
                        Ok(())
                    }
                    _ => Err(format!(
                        "this sink writes to PostgreSQL only: leave it empty or set \
                         {POSTGRES_DIALECT}"
                    )),
                },
            )),
            Importance::Low,
            "The database dialect. Only PostgreSqlDatabaseDialect (or empty) is accepted.",
        )
        .in_group("Connection", Width::Long, "Database Dialect")
        .define(
            INSERT_MODE,
            ConfigType::String,
            Some("insert"),
            Some(enum_validator(&["insert", "upsert", "update"])),
            Importance::High,
            "How rows are written: insert (INSERT), upsert (INSERT … ON CONFLICT (key) DO \
             UPDATE) or update (UPDATE … WHERE key).",
        )
        .in_group(WRITES, Width::Medium, "Insert Mode")
        .define(
            BATCH_SIZE,
            ConfigType::Int,
            Some("3000"),
            Some(Validator::at_least(0.0)),
            Importance::Medium,
            "How many records to write with one statement, when possible.",
        )
        .in_group(WRITES, Width::Short, "Batch Size")
        .define(
            DELETE_ENABLED,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Whether a record with a null value (a tombstone) deletes the row of its key. \
             Requires pk.mode to be record_key.",
        )
        .in_group(WRITES, Width::Short, "Enable deletes")
        .define(
            REPLACE_NULL_WITH_DEFAULT,
            ConfigType::Boolean,
            Some("true"),
            None,
            Importance::Low,
            "Whether a null field value is written as the field schema's default value.",
        )
        .in_group(
            WRITES,
            Width::Medium,
            "Replace null value with default value",
        )
        .define(
            TABLE_NAME_FORMAT,
            ConfigType::String,
            Some("${topic}"),
            Some(Validator::NonEmptyString),
            Importance::Medium,
            "The destination table, where ${topic} stands for the record's topic (for \
             example kafka_${topic}); schema.table names a schema too.",
        )
        .in_group(MAPPING, Width::Long, "Table Name Format")
        .define(
            PK_MODE,
            ConfigType::String,
            Some("none"),
            Some(enum_validator(&[
                "none",
                "kafka",
                "record_key",
                "record_value",
            ])),
            Importance::High,
            "Where the primary key comes from: none, kafka (the record's topic, partition \
             and offset), record_key (the key, a primitive or a struct) or record_value \
             (fields of the value struct).",
        )
        .in_group(MAPPING, Width::Medium, "Primary Key Mode")
        .define(
            PK_FIELDS,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "The primary key columns. kafka: three names for topic, partition and offset \
             (default __connect_topic,__connect_partition,__connect_offset); record_key: the \
             key struct's fields to use (default all), or the one column name of a primitive \
             key; record_value: the value struct's fields to use (default all).",
        )
        .in_group(MAPPING, Width::Long, "Primary Key Fields")
        .define(
            FIELDS_WHITELIST,
            ConfigType::List,
            Some(""),
            None,
            Importance::Medium,
            "The value struct's fields to write (empty: all). The primary key columns are \
             chosen by pk.fields independently.",
        )
        .in_group(MAPPING, Width::Long, "Fields Whitelist")
        .define(
            AUTO_CREATE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Whether to create a missing destination table from the record schema.",
        )
        .in_group(DDL, Width::Short, "Auto-Create")
        .define(
            AUTO_EVOLVE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::Medium,
            "Whether to add columns missing from the destination table (as nullable columns, \
             or with the field's default) with ALTER TABLE.",
        )
        .in_group(DDL, Width::Short, "Auto-Evolve")
        .define(
            MAX_RETRIES,
            ConfigType::Int,
            Some("10"),
            Some(Validator::at_least(0.0)),
            Importance::Medium,
            "How many times a failed write is retried before the task fails.",
        )
        .in_group(RETRIES, Width::Short, "Maximum Retries")
        .define(
            RETRY_BACKOFF_MS,
            ConfigType::Int,
            Some("3000"),
            Some(Validator::at_least(0.0)),
            Importance::Medium,
            "Milliseconds to wait after a failed write before it is retried.",
        )
        .in_group(RETRIES, Width::Short, "Retry Backoff (millis)")
        .define(
            EXACTLY_ONCE,
            ConfigType::Boolean,
            Some("false"),
            None,
            Importance::High,
            "kconnect: store each topic partition's next offset in the table named by \
             exactly.once.offsets.table, in the transaction that writes the rows, and resume \
             from it (not from the consumer group) at start and on every assignment: each \
             record is written exactly once, even after a crash.",
        )
        .in_group(EOS, Width::Short, "Exactly once")
        .define(
            EXACTLY_ONCE_TABLE,
            ConfigType::String,
            Some("__kconnect_offsets"),
            Some(Validator::NonEmptyString),
            Importance::Low,
            "kconnect: the table holding the offsets of exactly.once (created when missing; \
             schema.table names a schema too). Rows are keyed by connector name, topic and \
             partition; delete a connector's rows to make it start again from the consumer \
             group's offsets.",
        )
        .in_group(EOS, Width::Long, "Exactly once offsets table");
    UNSUPPORTED.iter().fold(def, |def, (key, default)| {
        def.define(
            key,
            ConfigType::String,
            Some(default),
            None,
            Importance::Low,
            &format!(
                "Confluent's JDBC sink key, not implemented by kconnect's PostgreSQL sink: it \
                 always behaves as {key}={default}."
            ),
        )
        .in_group("Not implemented", Width::Medium, key)
    })
}

/// The sink's config, parsed once per task.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The connector's name (`name`): the key of its rows in the offsets table.
    pub connector: String,
    /// `insert.mode`.
    pub insert_mode: InsertMode,
    /// `batch.size`.
    pub batch_size: usize,
    /// `delete.enabled`.
    pub delete_enabled: bool,
    /// `replace.null.with.default`.
    pub replace_null_with_default: bool,
    /// `table.name.format`.
    pub table_name_format: String,
    /// `pk.mode`.
    pub pk_mode: PkMode,
    /// `pk.fields`.
    pub pk_fields: Vec<String>,
    /// `fields.whitelist`.
    pub fields_whitelist: Vec<String>,
    /// `auto.create`.
    pub auto_create: bool,
    /// `auto.evolve`.
    pub auto_evolve: bool,
    /// `max.retries`.
    pub max_retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `exactly.once`.
    pub exactly_once: bool,
    /// `exactly.once.offsets.table`.
    pub offsets_table: String,
    /// `errors.tolerance=all`: records that cannot be written are skipped (and logged) instead
    /// of failing the task.
    pub tolerate_errors: bool,
}

impl SinkConfig {
    /// Parses and checks the sink's keys.
    pub fn parse(props: &Props) -> ConnectResult<SinkConfig> {
        let c = config_def().parse(props)?;
        let insert_mode = match c.string(INSERT_MODE)?.to_lowercase().as_str() {
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        let pk_mode = match c.string(PK_MODE)?.to_lowercase().as_str() {
            "kafka" => PkMode::Kafka,
            "record_key" => PkMode::RecordKey,
            "record_value" => PkMode::RecordValue,
            _ => PkMode::None,
        };
        let delete_enabled = c.boolean(DELETE_ENABLED)?;
        if delete_enabled && pk_mode != PkMode::RecordKey {
            return Err(ConnectError::config(
                "Primary key mode must be 'record_key' when delete support is enabled",
            ));
        }
        let pk_fields = c.list(PK_FIELDS)?;
        if pk_mode == PkMode::Kafka && !pk_fields.is_empty() && pk_fields.len() != 3 {
            return Err(ConnectError::config(format!(
                "PK mode is kafka so there should either be no field names defined for \
                 defaults {DEFAULT_KAFKA_PK_NAMES:?} to be applicable, or exactly 3, defined \
                 fields are: {pk_fields:?}"
            )));
        }
        if insert_mode != InsertMode::Insert && pk_mode == PkMode::None {
            // Confluent refuses upsert without keys when it writes; an UPDATE without a key
            // would rewrite every row of the table, so it is refused too, and up front.
            return Err(ConnectError::config(format!(
                "insert.mode={} needs a primary key: set pk.mode to kafka, record_key or \
                 record_value",
                c.string(INSERT_MODE)?.to_lowercase()
            )));
        }
        for (key, neutral) in UNSUPPORTED {
            if let Some(v) = props.get(*key) {
                if !v.trim().eq_ignore_ascii_case(neutral) {
                    tracing::warn!(
                        "{key}={v} is not supported by kconnect's PostgreSQL sink and is \
                         ignored (it behaves as {key}={neutral})"
                    );
                }
            }
        }
        let tolerance = props
            .get("errors.tolerance")
            .map(|v| v.trim().eq_ignore_ascii_case("all"))
            .unwrap_or(false);
        Ok(SinkConfig {
            connector: props.get("name").cloned().unwrap_or_default(),
            insert_mode,
            batch_size: c.int(BATCH_SIZE)?.max(1) as usize,
            delete_enabled,
            replace_null_with_default: c.boolean(REPLACE_NULL_WITH_DEFAULT)?,
            table_name_format: c.string(TABLE_NAME_FORMAT)?.trim().to_string(),
            pk_mode,
            pk_fields,
            fields_whitelist: c.list(FIELDS_WHITELIST)?,
            auto_create: c.boolean(AUTO_CREATE)?,
            auto_evolve: c.boolean(AUTO_EVOLVE)?,
            max_retries: c.int(MAX_RETRIES)?.max(0) as u32,
            retry_backoff_ms: c.int(RETRY_BACKOFF_MS)?.max(0) as u64,
            exactly_once: c.boolean(EXACTLY_ONCE)?,
            offsets_table: c.string(EXACTLY_ONCE_TABLE)?.trim().to_string(),
            tolerate_errors: tolerance,
        })
    }

    /// The destination table's name for `topic` (before it is split into schema and table).
    pub fn table_name(&self, topic: &str) -> ConnectResult<String> {
        let name = self.table_name_format.replace("${topic}", topic);
        if name.trim().is_empty() {
            return Err(ConnectError::config(format!(
                "Destination table name for topic '{topic}' is empty using the format string \
                 '{}'",
                self.table_name_format
            )));
        }
        Ok(name)
    }
}

/// Per-key validation as Confluent's sink does it: every key, then the delete/pk.mode conflict
/// reported on both keys.
pub fn validate(props: &Props) -> Vec<ConfigValue> {
    let mut values = config_def().validate(props);
    let deletes = values
        .iter()
        .find(|v| v.name == DELETE_ENABLED)
        .and_then(|v| v.value.as_deref())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let record_key = values
        .iter()
        .find(|v| v.name == PK_MODE)
        .and_then(|v| v.value.as_deref())
        .is_some_and(|v| v == "record_key" || v == "RECORD_KEY");
    if deletes && !record_key {
        for v in values
            .iter_mut()
            .filter(|v| v.name == DELETE_ENABLED || v.name == PK_MODE)
        {
            v.errors.push(DELETES_NEED_RECORD_KEY.to_string());
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::testutil::props;

    const URL: (&str, &str) = ("connection.url", "jdbc:postgresql://localhost/db");

    #[test]
    fn defaults_are_confluents() {
        let c = SinkConfig::parse(&props(&[URL, ("name", "s")])).unwrap();
        assert_eq!(c.insert_mode, InsertMode::Insert);
        assert_eq!(c.pk_mode, PkMode::None);
        assert_eq!(c.batch_size, 3000);
        assert_eq!(c.max_retries, 10);
        assert_eq!(c.retry_backoff_ms, 3000);
        assert_eq!(c.table_name_format, "${topic}");
        assert!(!c.delete_enabled && !c.auto_create && !c.auto_evolve && !c.exactly_once);
        assert!(c.replace_null_with_default);
        assert_eq!(c.offsets_table, "__kconnect_offsets");
        assert_eq!(c.connector, "s");
        assert_eq!(c.table_name("orders").unwrap(), "orders");
    }

    #[test]
    fn enums_take_lower_and_upper_case_and_name_the_key_otherwise() {
        let c = SinkConfig::parse(&props(&[
            URL,
            (INSERT_MODE, "UPSERT"),
            (PK_MODE, "RECORD_VALUE"),
        ]))
        .unwrap();
        assert_eq!(c.insert_mode, InsertMode::Upsert);
        assert_eq!(c.pk_mode, PkMode::RecordValue);
        let e = SinkConfig::parse(&props(&[URL, (INSERT_MODE, "merge")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: Invalid value merge for configuration insert.mode: Invalid enumerator"
        );
    }

    #[test]
    fn deletes_need_record_key_as_confluent_checks() {
        let e = SinkConfig::parse(&props(&[URL, (DELETE_ENABLED, "true")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("Primary key mode must be 'record_key' when delete support is enabled"),
            "{e}"
        );
        let v = validate(&props(&[URL, (DELETE_ENABLED, "true"), (PK_MODE, "kafka")]));
        for key in [DELETE_ENABLED, PK_MODE] {
            let errors = &v.iter().find(|v| v.name == key).unwrap().errors;
            assert_eq!(errors, &vec![DELETES_NEED_RECORD_KEY.to_string()], "{key}");
        }
        let v = validate(&props(&[
            URL,
            (DELETE_ENABLED, "true"),
            (PK_MODE, "record_key"),
        ]));
        assert!(v.iter().all(|v| v.errors.is_empty()), "{v:?}");
    }

    #[test]
    fn kafka_keys_are_three_or_none() {
        let e =
            SinkConfig::parse(&props(&[URL, (PK_MODE, "kafka"), (PK_FIELDS, "a,b")])).unwrap_err();
        assert!(e.to_string().contains("or exactly 3"), "{e}");
        SinkConfig::parse(&props(&[URL, (PK_MODE, "kafka"), (PK_FIELDS, "t,p,o")])).unwrap();
    }

    #[test]
    fn upsert_and_update_need_a_key() {
        for mode in ["upsert", "update"] {
            let e = SinkConfig::parse(&props(&[URL, (INSERT_MODE, mode)])).unwrap_err();
            assert!(e.to_string().contains("needs a primary key"), "{e}");
        }
    }

    #[test]
    fn the_password_is_never_shown_by_validation() {
        let v = validate(&props(&[URL, ("connection.password", "s3cret")]));
        let pw = v.iter().find(|v| v.name == "connection.password").unwrap();
        assert_eq!(pw.value.as_deref(), Some("[hidden]"));
        assert!(!format!("{v:?}").contains("s3cret"));
    }

    #[test]
    fn dialect_must_be_postgres() {
        SinkConfig::parse(&props(&[URL, (DIALECT_NAME, "PostgreSqlDatabaseDialect")])).unwrap();
        let e =
            SinkConfig::parse(&props(&[URL, (DIALECT_NAME, "MySqlDatabaseDialect")])).unwrap_err();
        assert!(e.to_string().contains("dialect.name"), "{e}");
    }

    #[test]
    fn an_empty_table_name_is_refused() {
        let c = SinkConfig::parse(&props(&[URL, (TABLE_NAME_FORMAT, "${topic}")])).unwrap();
        assert!(c.table_name("").is_err());
    }
}
