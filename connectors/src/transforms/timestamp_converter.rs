//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp, the whole key
//! or value or one field (`field`), between Unix time (`unix`, an INT64 in `unix.precision`),
//! text (`string`, in the SimpleDateFormat pattern `format`) and Connect's `Date`, `Time` and
//! `Timestamp` (`target.type`), in UTC, as Connect's `TimestampConverter`.
//!
//! The source type comes from the schema (a logical type, else STRING is text and INT64 Unix
//! time), or without one from the value (Date, Time and Timestamp values all count as
//! timestamps, INT64 as Unix time, STRING as text). Conversions go through milliseconds since
//! the epoch, so sub-millisecond Unix precision is lost, as in Connect. A struct schema with
//! the field converted is built once per input schema; the field's new schema keeps only its
//! optionality (not its default), as in Connect.
//!
//! Beyond Connect 4.x: `field.syntax.version` (default `V1`, Connect's behaviour); with `V2`
//! `field` is a nested path (KIP-821).
//!
//! Deviations from Connect: see [`crate::data::simple_date_format`] for the pattern letters and
//! zones understood. A string input without a `format` fails with a data error naming the
//! missing option, where Connect fails with a `NullPointerException`.

use std::sync::LazyLock;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::data::logical::{date_builder, date_from_epoch_millis, time_builder, timestamp_builder};
use crate::data::{Field, LogicalType, Schema, Type, Value};
use crate::error::{ConnectError, ConnectResult};
use crate::registry::PluginRegistry;

use super::field_path::{FieldPaths, FieldSyntaxVersion, FieldUpdate, SingleFieldPath};
use super::schema_update_cache::SchemaUpdateCache;
use super::smt_config::{
    define_replace_null_with_default, map_get_mut, map_mut, register_pair, struct_mut, take,
    REPLACE_NULL_WITH_DEFAULT_CONFIG,
};
use super::util::java_class_name;
use super::{ConnectRecord, Outcome, Side, Transformation};
use crate::data::simple_date_format::SimpleDateFormat;

/// The class name of the transform that converts a key timestamp (field or whole key).
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Key";
/// The class name of the transform that converts a value timestamp (field or whole value).
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Value";

const FIELD_CONFIG: &str = "field";
const TARGET_TYPE_CONFIG: &str = "target.type";
const FORMAT_CONFIG: &str = "format";
const UNIX_PRECISION_CONFIG: &str = "unix.precision";
const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

/// Registers the `$Key` and `$Value` forms with `registry`.
pub fn register(registry: &mut PluginRegistry, version: &str) {
    register_pair(
        registry,
        version,
        (KEY_CLASS, || Box::new(TimestampConverter::new(Side::Key))),
        (VALUE_CLASS, || {
            Box::new(TimestampConverter::new(Side::Value))
        }),
    );
}

fn config_def() -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            FIELD_CONFIG,
            ConfigType::String,
            Some(""),
            None,
            Importance::High,
            "The field holding the timestamp; empty when the whole key or value is the timestamp.",
        )
        .define(
            TARGET_TYPE_CONFIG,
            ConfigType::String,
            None,
            Some(Validator::one_of(&[
                "string",
                "unix",
                "Date",
                "Time",
                "Timestamp",
            ])),
            Importance::High,
            "What to convert the timestamp to: string, unix, Date, Time or Timestamp.",
        )
        .define(
            FORMAT_CONFIG,
            ConfigType::String,
            Some(""),
            None,
            Importance::Medium,
            "A java.text.SimpleDateFormat pattern, in UTC: how to write the timestamp when \
             target.type=string, and how to read timestamps given as strings.",
        )
        .define(
            UNIX_PRECISION_CONFIG,
            ConfigType::String,
            Some("milliseconds"),
            Some(Validator::one_of(&[
                "nanoseconds",
                "microseconds",
                "milliseconds",
                "seconds",
            ])),
            Importance::Low,
            "The unit of Unix timestamps, read and written: seconds, milliseconds, microseconds \
             or nanoseconds. Conversions keep milliseconds only: finer digits are lost.",
        );
    FieldSyntaxVersion::define(define_replace_null_with_default(def))
}

/// The representations of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

static DATE: LazyLock<Schema> = LazyLock::new(|| date_builder().build());
static OPTIONAL_DATE: LazyLock<Schema> = LazyLock::new(|| date_builder().optional().build());
static TIME: LazyLock<Schema> = LazyLock::new(|| time_builder().build());
static OPTIONAL_TIME: LazyLock<Schema> = LazyLock::new(|| time_builder().optional().build());
static TIMESTAMP: LazyLock<Schema> = LazyLock::new(|| timestamp_builder().build());
static OPTIONAL_TIMESTAMP: LazyLock<Schema> =
    LazyLock::new(|| timestamp_builder().optional().build());

/// What the transform converts to, and how it reads and writes text and Unix time.
struct Settings {
    target: Kind,
    format: Option<SimpleDateFormat>,
    precision: Precision,
}

impl Settings {
    /// The schema of the target type; shared, so that one input gives one output schema.
    fn type_schema(&self, optional: bool) -> Schema {
        match (self.target, optional) {
            (Kind::String, false) => Schema::string(),
            (Kind::String, true) => Schema::optional_string(),
            (Kind::Unix, false) => Schema::int64(),
            (Kind::Unix, true) => Schema::optional_int64(),
            (Kind::Date, false) => DATE.clone(),
            (Kind::Date, true) => OPTIONAL_DATE.clone(),
            (Kind::Time, false) => TIME.clone(),
            (Kind::Time, true) => OPTIONAL_TIME.clone(),
            (Kind::Timestamp, false) => TIMESTAMP.clone(),
            (Kind::Timestamp, true) => OPTIONAL_TIMESTAMP.clone(),
        }
    }

    /// Milliseconds since the epoch of a timestamp of kind `kind`.
    fn source_millis(&self, kind: Kind, value: &Value) -> ConnectResult<i64> {
        let found = |what: &str| {
            ConnectError::data(format!(
                "Expected {what}, but found class {}",
                java_class_name(value)
            ))
        };
        let date_millis = |what: &str| match value {
            Value::Date(days) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            Value::Time(ms) => Ok(i64::from(*ms)),
            Value::Timestamp(ms) => Ok(*ms),
            _ => Err(found(what)),
        };
        match kind {
            Kind::String => {
                let Value::String(text) = value else {
                    return Err(found("string timestamp to be a String"));
                };
                let format = self.format.as_ref().ok_or_else(|| {
                    ConnectError::data(
                        "TimestampConverter requires format option to be specified when using \
                         string timestamps",
                    )
                })?;
                format.parse(text).ok_or_else(|| {
                    ConnectError::data(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            Kind::Unix => {
                let Value::Int64(t) = value else {
                    return Err(found("Unix timestamp to be a Long"));
                };
                Ok(match self.precision {
                    Precision::Seconds => t.saturating_mul(1000),
                    Precision::Millis => *t,
                    Precision::Micros => t / 1000,
                    Precision::Nanos => t / 1_000_000,
                })
            }
            Kind::Date => date_millis("Date to be a java.util.Date"),
            Kind::Time => date_millis("Time to be a java.util.Date"),
            Kind::Timestamp => date_millis("Timestamp to be a java.util.Date"),
        }
    }

    /// The target representation of a point in time.
    fn millis_to_target(&self, millis: i64) -> ConnectResult<Value> {
        Ok(match self.target {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .expect("configure requires a format for strings")
                    .format(millis),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Millis => millis,
                Precision::Micros => millis.saturating_mul(1000),
                Precision::Nanos => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::Date(date_from_epoch_millis(
                millis.div_euclid(MILLIS_PER_DAY) * MILLIS_PER_DAY,
            )?),
            Kind::Time => Value::Time(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Timestamp(millis),
        })
    }

    /// Converts a timestamp of kind `kind` (inferred from the value when `None`).
    fn convert(&self, value: Value, kind: Option<Kind>) -> ConnectResult<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => infer_kind(&value)?,
        };
        let millis = self.source_millis(kind, &value)?;
        self.millis_to_target(millis)
    }
}

/// The kind of timestamp a schema describes, or Connect's error.
fn kind_of_schema(schema: &Schema) -> ConnectResult<Kind> {
    match (schema.logical_type(), schema.ty()) {
        (Some(LogicalType::Timestamp), _) => Ok(Kind::Timestamp),
        (Some(LogicalType::Date), _) => Ok(Kind::Date),
        (Some(LogicalType::Time), _) => Ok(Kind::Time),
        (_, Type::String) => Ok(Kind::String),
        (_, Type::Int64) => Ok(Kind::Unix),
        _ => {
            let shown = match schema.name() {
                Some(n) => format!("Schema{{{n}:{}}}", schema.ty()),
                None => format!("Schema{{{}}}", schema.ty()),
            };
            Err(ConnectError::data(format!(
                "{shown} does not correspond to a known timestamp type format"
            )))
        }
    }
}

/// The kind of timestamp a schemaless value is.
fn infer_kind(value: &Value) -> ConnectResult<Kind> {
    match value {
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => Ok(Kind::Timestamp),
        Value::Int64(_) => Ok(Kind::Unix),
        Value::String(_) => Ok(Kind::String),
        other => Err(ConnectError::data(format!(
            "TimestampConverter does not support class {} objects as timestamps",
            java_class_name(other)
        ))),
    }
}

/// Converts the field a path reaches, schema and value.
struct Convert<'a>(&'a Settings);

impl FieldUpdate for Convert<'_> {
    fn schema(&mut self, _: usize, field: &Field) -> ConnectResult<Option<Schema>> {
        Ok(Some(self.0.type_schema(field.schema.is_optional())))
    }
    fn value(&mut self, _: usize, field: &Field, value: Value) -> ConnectResult<Value> {
        let kind = kind_of_schema(&field.schema)?;
        self.0.convert(value, Some(kind))
    }
}

/// The TimestampConverter transform of one side of the record.
pub struct TimestampConverter {
    side: Side,
    settings: Settings,
    /// The field to convert; `None` for the whole key or value.
    field: Option<(SingleFieldPath, FieldPaths)>,
    replace_null_with_default: bool,
    cache: SchemaUpdateCache,
}

impl TimestampConverter {
    /// A transform of the record's key or value (`side`), not configured yet.
    pub fn new(side: Side) -> Self {
        TimestampConverter {
            side,
            settings: Settings {
                target: Kind::Timestamp,
                format: None,
                precision: Precision::Millis,
            },
            field: None,
            replace_null_with_default: true,
            cache: SchemaUpdateCache::new(),
        }
    }

    fn apply_schemaless(&self, value: &mut Value) -> ConnectResult<()> {
        let Some((path, _)) = &self.field else {
            *value = self.settings.convert(take(value), None)?;
            return Ok(());
        };
        if value.is_null() {
            return Ok(());
        }
        let entries = map_mut(value, PURPOSE)?;
        if let Some((parent, last)) = path.parent_map_mut(entries)? {
            match map_get_mut(parent, last) {
                Some(slot) => *slot = self.settings.convert(take(slot), None)?,
                // Connect puts the (null) conversion of an absent field in the map.
                None => parent.push((Value::String(last.to_string()), Value::Null)),
            }
        }
        Ok(())
    }

    fn apply_with_schema(
        &mut self,
        schema_slot: &mut Option<Schema>,
        value: &mut Value,
    ) -> ConnectResult<()> {
        let schema = schema_slot.clone().expect("called with a schema");
        let Some((_, paths)) = &self.field else {
            let kind = kind_of_schema(&schema)?;
            *value = self.settings.convert(take(value), Some(kind))?;
            *schema_slot = Some(self.settings.type_schema(schema.is_optional()));
            return Ok(());
        };
        if !value.is_null() {
            struct_mut(value, PURPOSE)?;
        }
        let settings = &self.settings;
        let replace = self.replace_null_with_default;
        let updated = self.cache.get_or_build(&schema, || {
            let mut b = paths.update_schema(&schema, &mut Convert(settings))?;
            if schema.is_optional() {
                b = b.optional();
            }
            if let Some(Value::Struct(d)) = schema.default_value() {
                let without_default = b.clone().build();
                let d = paths.update_struct(
                    d.clone(),
                    &without_default,
                    &mut Convert(settings),
                    replace,
                )?;
                b = b.default_value(Value::Struct(d));
            }
            Ok(b.build())
        })?;
        if let Value::Struct(s) = take(value) {
            *value =
                Value::Struct(paths.update_struct(s, &updated, &mut Convert(settings), replace)?);
        }
        *schema_slot = Some(updated);
        Ok(())
    }
}

impl Transformation for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let config = config_def().parse(props)?;
        let target = match config.string(TARGET_TYPE_CONFIG)?.as_str() {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            _ => Kind::Timestamp,
        };
        let pattern = config.string(FORMAT_CONFIG)?;
        if target == Kind::String && pattern.trim().is_empty() {
            return Err(ConnectError::config(
                "TimestampConverter requires format option to be specified when using string \
                 timestamps",
            ));
        }
        let format = if pattern.trim().is_empty() {
            None
        } else {
            Some(SimpleDateFormat::new(&pattern).map_err(|_| {
                ConnectError::config(format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for \
                     string timestamps: {pattern}"
                ))
            })?)
        };
        let precision = match config.string(UNIX_PRECISION_CONFIG)?.as_str() {
            "seconds" => Precision::Seconds,
            "microseconds" => Precision::Micros,
            "nanoseconds" => Precision::Nanos,
            _ => Precision::Millis,
        };
        let field = config.string(FIELD_CONFIG)?;
        self.field = if field.is_empty() {
            None
        } else {
            let path = SingleFieldPath::new(&field, FieldSyntaxVersion::from_config(&config)?)?;
            Some((path.clone(), FieldPaths::new(vec![path])))
        };
        self.settings = Settings {
            target,
            format,
            precision,
        };
        self.replace_null_with_default = config.boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?;
        self.cache.clear();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (schema, value) = self.side.get_mut(record);
        if schema.is_none() {
            self.apply_schemaless(value)?;
        } else {
            self.apply_with_schema(schema, value)?;
        }
        Ok(Outcome::Keep)
    }

    fn close(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::logical::{date_schema, time_schema, timestamp_schema};
    use crate::data::{SchemaBuilder, Struct};
    use crate::record::SourceRecord;
    use crate::transforms::test_records::{configured, created, map, props, value_source};

    // TimestampConverterTest's points in time.
    const TIME: i64 = 1234; // 00:00:01.234 on the epoch day
    const DATE: i64 = MILLIS_PER_DAY; // 1970-01-02
    const DATE_PLUS_TIME: i64 = MILLIS_PER_DAY + 1234;
    const DATE_PLUS_TIME_MICROS: i64 = DATE_PLUS_TIME * 1000 + 123;
    const DATE_PLUS_TIME_NANOS: i64 = DATE_PLUS_TIME_MICROS * 1000 + 456;
    const DATE_PLUS_TIME_SECONDS: i64 = DATE_PLUS_TIME / 1000;
    const FORMAT: &str = "yyyy MM dd HH mm ss SSS z";
    const DATE_PLUS_TIME_STRING: &str = "1970 01 02 00 00 01 234 UTC";

    fn converter(pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
        configured("TimestampConverter$Value", pairs)
    }

    fn convert(pairs: &[(&str, &str)], schema: Option<Schema>, value: Value) -> SourceRecord {
        let mut r = value_source(schema, value);
        converter(pairs).apply(&mut r).unwrap();
        r
    }

    fn config_error(pairs: &[(&str, &str)]) -> ConnectError {
        created("TimestampConverter$Value")
            .configure(&props(pairs))
            .unwrap_err()
    }

    #[test]
    fn registered_under_connect_s_names() {
        let r = PluginRegistry::builtin();
        assert_eq!(
            r.transformation("TimestampConverter$Key")
                .unwrap()
                .class_name,
            KEY_CLASS
        );
        assert_eq!(
            r.transformation("TimestampConverter$Value")
                .unwrap()
                .class_name,
            VALUE_CLASS
        );
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            config_error(&[]),
            ConnectError::config(
                "Missing required configuration \"target.type\" which has no default value."
            )
        );
        assert_eq!(
            config_error(&[("target.type", "invalid")]),
            ConnectError::config(
                "Invalid value invalid for configuration target.type: String must be one of: \
                 string, unix, Date, Time, Timestamp"
            )
        );
        assert_eq!(
            config_error(&[("target.type", "unix"), ("unix.precision", "invalid")]),
            ConnectError::config(
                "Invalid value invalid for configuration unix.precision: String must be one of: \
                 nanoseconds, microseconds, milliseconds, seconds"
            )
        );
        created("TimestampConverter$Value")
            .configure(&props(&[
                ("target.type", "unix"),
                ("unix.precision", "seconds"),
            ]))
            .unwrap();
        assert_eq!(
            config_error(&[("target.type", "string")]),
            ConnectError::config(
                "TimestampConverter requires format option to be specified when using string \
                 timestamps"
            )
        );
        assert_eq!(
            config_error(&[("target.type", "string"), ("format", "bad-format")]),
            ConnectError::config(
                "TimestampConverter requires a SimpleDateFormat-compatible pattern for string \
                 timestamps: bad-format"
            )
        );
    }

    #[test]
    fn schemaless_timestamp_to_every_type() {
        let cases = [
            ("Timestamp", Value::Timestamp(DATE_PLUS_TIME)),
            ("Date", Value::Date(1)),
            ("Time", Value::Time(TIME as i32)),
            ("unix", Value::Int64(DATE_PLUS_TIME)),
            ("string", Value::String(DATE_PLUS_TIME_STRING.into())),
        ];
        for (target, want) in cases {
            let r = convert(
                &[("target.type", target), ("format", FORMAT)],
                None,
                Value::Timestamp(DATE_PLUS_TIME),
            );
            assert_eq!(r.value_schema, None, "{target}");
            assert_eq!(r.value, want, "{target}");
        }
    }

    #[test]
    fn schemaless_every_type_to_timestamp() {
        let to_ts = [("target.type", "Timestamp"), ("format", FORMAT)];
        // Coarser types are timestamps already: the point in time is kept.
        assert_eq!(
            convert(&to_ts, None, Value::Date(1)).value,
            Value::Timestamp(DATE)
        );
        assert_eq!(
            convert(&to_ts, None, Value::Time(1234)).value,
            Value::Timestamp(TIME)
        );
        assert_eq!(
            convert(&to_ts, None, Value::Int64(DATE_PLUS_TIME)).value,
            Value::Timestamp(DATE_PLUS_TIME)
        );
        assert_eq!(
            convert(&to_ts, None, Value::String(DATE_PLUS_TIME_STRING.into())).value,
            Value::Timestamp(DATE_PLUS_TIME)
        );
    }

    #[test]
    fn with_schema_timestamp_to_every_type() {
        let cases = [
            (
                "Timestamp",
                timestamp_schema(),
                Value::Timestamp(DATE_PLUS_TIME),
            ),
            ("Date", date_schema(), Value::Date(1)),
            ("Time", time_schema(), Value::Time(TIME as i32)),
            ("unix", Schema::int64(), Value::Int64(DATE_PLUS_TIME)),
            (
                "string",
                Schema::string(),
                Value::String(DATE_PLUS_TIME_STRING.into()),
            ),
        ];
        for (target, schema, want) in cases {
            let r = convert(
                &[("target.type", target), ("format", FORMAT)],
                Some(timestamp_schema()),
                Value::Timestamp(DATE_PLUS_TIME),
            );
            assert_eq!(r.value_schema, Some(schema), "{target}");
            assert_eq!(r.value, want, "{target}");
        }
    }

    #[test]
    fn with_schema_every_type_to_timestamp() {
        let to_ts = [("target.type", "Timestamp"), ("format", FORMAT)];
        let cases = [
            (date_schema(), Value::Date(1), DATE),
            (time_schema(), Value::Time(1234), TIME),
            (
                Schema::int64(),
                Value::Int64(DATE_PLUS_TIME),
                DATE_PLUS_TIME,
            ),
            (
                Schema::string(),
                Value::String(DATE_PLUS_TIME_STRING.into()),
                DATE_PLUS_TIME,
            ),
        ];
        for (schema, value, want) in cases {
            let r = convert(&to_ts, Some(schema.clone()), value);
            assert_eq!(r.value_schema, Some(timestamp_schema()), "{schema:?}");
            assert_eq!(r.value, Value::Timestamp(want), "{schema:?}");
        }
    }

    #[test]
    fn nulls_convert_to_null_with_the_target_schema() {
        let optional_sources = [
            Schema::optional_int64(),
            time_builder().optional().build(),
            date_builder().optional().build(),
            Schema::optional_string(),
            timestamp_builder().optional().build(),
        ];
        let targets = [
            ("Timestamp", timestamp_builder().optional().build()),
            ("unix", Schema::optional_int64()),
            ("Time", time_builder().optional().build()),
            ("Date", date_builder().optional().build()),
            ("string", Schema::optional_string()),
        ];
        for (target, want) in &targets {
            let whole = [("target.type", *target), ("format", FORMAT)];
            let field = [
                ("target.type", *target),
                ("format", FORMAT),
                ("field", "ts"),
            ];
            // Schemaless: a null value, with or without a field.
            for pairs in [&whole[..], &field[..]] {
                let r = convert(pairs, None, Value::Null);
                assert_eq!((r.value_schema, r.value), (None, Value::Null));
            }
            for source_schema in &optional_sources {
                let r = convert(&whole, Some(source_schema.clone()), Value::Null);
                assert_eq!(r.value_schema.as_ref(), Some(want), "{target}");
                assert_eq!(r.value, Value::Null);

                let struct_schema = SchemaBuilder::struct_()
                    .field("ts", source_schema.clone())
                    .field("other", Schema::string());
                let expected = SchemaBuilder::struct_()
                    .field("ts", want.clone())
                    .field("other", Schema::string());
                let original = Struct::new(struct_schema.clone().build())
                    .unwrap()
                    .with("other", "test")
                    .unwrap();
                let r = convert(
                    &field,
                    Some(struct_schema.clone().build()),
                    Value::Struct(original),
                );
                assert_eq!(r.value_schema, Some(expected.clone().build()), "{target}");
                assert_eq!(
                    r.value.as_struct().unwrap().get("ts").unwrap(),
                    &Value::Null
                );
                // A null struct stays null, its schema converted.
                let r = convert(&field, Some(struct_schema.optional().build()), Value::Null);
                assert_eq!(
                    r.value_schema,
                    Some(expected.optional().build()),
                    "{target}"
                );
                assert_eq!(r.value, Value::Null);
            }
        }
    }

    #[test]
    fn fields_convert_in_place() {
        let r = convert(
            &[("target.type", "Date"), ("field", "ts")],
            None,
            map(&[("ts", Value::Timestamp(DATE_PLUS_TIME))]),
        );
        assert_eq!(r.value, map(&[("ts", Value::Date(1))]));

        let schema = SchemaBuilder::struct_()
            .field("ts", Schema::int64())
            .field("other", Schema::string())
            .build();
        let original = Struct::new(schema.clone())
            .unwrap()
            .with("ts", DATE_PLUS_TIME)
            .unwrap()
            .with("other", "test")
            .unwrap();
        let r = convert(
            &[("target.type", "Timestamp"), ("field", "ts")],
            Some(schema),
            Value::Struct(original),
        );
        let want = SchemaBuilder::struct_()
            .field("ts", timestamp_schema())
            .field("other", Schema::string())
            .build();
        assert_eq!(r.value_schema, Some(want));
        let s = r.value.as_struct().unwrap();
        assert_eq!(s.get("ts").unwrap(), &Value::Timestamp(DATE_PLUS_TIME));
        assert_eq!(s.get("other").unwrap(), &Value::String("test".into()));
        s.validate().unwrap();
    }

    #[test]
    fn null_field_with_default() {
        let schema = SchemaBuilder::struct_()
            .field(
                "ts",
                SchemaBuilder::new(Type::Int64)
                    .optional()
                    .default_value(Value::Int64(0))
                    .build(),
            )
            .field("other", Schema::string())
            .build();
        for (replace, want) in [("false", Value::Null), ("true", Value::Timestamp(0))] {
            let original = Struct::new(schema.clone())
                .unwrap()
                .with("other", "test")
                .unwrap();
            let r = convert(
                &[
                    ("target.type", "Timestamp"),
                    ("field", "ts"),
                    ("replace.null.with.default", replace),
                ],
                Some(schema.clone()),
                Value::Struct(original),
            );
            let want_schema = SchemaBuilder::struct_()
                .field("ts", timestamp_builder().optional().build())
                .field("other", Schema::string())
                .build();
            assert_eq!(r.value_schema, Some(want_schema));
            assert_eq!(
                r.value.as_struct().unwrap().get("ts").unwrap(),
                &want,
                "{replace}"
            );
        }
    }

    #[test]
    fn unix_precisions() {
        let schema = SchemaBuilder::struct_()
            .field("ts", Schema::int64())
            .build();
        let want_schema = SchemaBuilder::struct_()
            .field("ts", timestamp_schema())
            .build();
        for (precision, unix, want) in [
            ("microseconds", DATE_PLUS_TIME_MICROS, DATE_PLUS_TIME),
            ("nanoseconds", DATE_PLUS_TIME_NANOS, DATE_PLUS_TIME),
            ("seconds", DATE_PLUS_TIME_SECONDS, MILLIS_PER_DAY + 1000),
        ] {
            let original = Struct::new(schema.clone())
                .unwrap()
                .with("ts", unix)
                .unwrap();
            let r = convert(
                &[
                    ("target.type", "Timestamp"),
                    ("field", "ts"),
                    ("unix.precision", precision),
                ],
                Some(schema.clone()),
                Value::Struct(original),
            );
            assert_eq!(r.value_schema, Some(want_schema.clone()));
            assert_eq!(
                r.value.as_struct().unwrap().get("ts").unwrap(),
                &Value::Timestamp(want),
                "{precision}"
            );
        }
        // Strings to Unix time: sub-millisecond digits are lost on the way.
        for (precision, want) in [
            ("microseconds", 86_401_234_000),
            ("nanoseconds", 86_401_234_000_000),
            ("seconds", DATE_PLUS_TIME_SECONDS),
        ] {
            let r = convert(
                &[
                    ("target.type", "unix"),
                    ("unix.precision", precision),
                    ("format", FORMAT),
                ],
                None,
                Value::String(DATE_PLUS_TIME_STRING.into()),
            );
            assert_eq!(r.value, Value::Int64(want), "{precision}");
        }
    }

    #[test]
    fn key() {
        let mut r = value_source(None, Value::Null);
        r.key = Value::Timestamp(DATE_PLUS_TIME);
        configured("TimestampConverter$Key", &[("target.type", "Timestamp")])
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(r.key, Value::Timestamp(DATE_PLUS_TIME));
    }

    #[test]
    fn errors_name_the_problem_as_connect_does() {
        let err = |pairs: &[(&str, &str)], schema: Option<Schema>, value: Value| {
            let mut r = value_source(schema, value);
            converter(pairs).apply(&mut r).unwrap_err()
        };
        assert_eq!(
            err(&[("target.type", "unix")], None, Value::Int32(5)),
            ConnectError::data(
                "TimestampConverter does not support class java.lang.Integer objects as timestamps"
            )
        );
        assert_eq!(
            err(
                &[("target.type", "unix")],
                Some(Schema::int32()),
                Value::Int32(5)
            ),
            ConnectError::data(
                "Schema{INT32} does not correspond to a known timestamp type format"
            )
        );
        assert_eq!(
            err(
                &[("target.type", "unix"), ("format", "yyyy-MM-dd")],
                None,
                Value::String("01/02/1970".into())
            ),
            ConnectError::data(
                "Could not parse timestamp: value (01/02/1970) does not match pattern (yyyy-MM-dd)"
            )
        );
        assert_eq!(
            err(
                &[("target.type", "unix")],
                Some(Schema::string()),
                Value::Int64(1)
            ),
            ConnectError::data(
                "Expected string timestamp to be a String, but found class java.lang.Long"
            )
        );
        assert_eq!(
            err(
                &[("target.type", "unix")],
                Some(timestamp_schema()),
                Value::Int64(1)
            ),
            ConnectError::data(
                "Expected Timestamp to be a java.util.Date, but found class java.lang.Long"
            )
        );
        assert_eq!(
            err(&[("target.type", "unix")], None, Value::String("x".into())),
            ConnectError::data(
                "TimestampConverter requires format option to be specified when using string \
                 timestamps"
            )
        );
        assert_eq!(
            err(
                &[("target.type", "unix"), ("field", "a")],
                None,
                Value::Int64(1)
            ),
            ConnectError::data(
                "Only Map objects supported in absence of schema for [converting timestamp \
                 formats], found: java.lang.Long"
            )
        );
    }

    #[test]
    fn nested_fields_with_v2() {
        let inner = SchemaBuilder::struct_()
            .field("ts", Schema::int64())
            .field("n", Schema::int32())
            .build();
        let schema = SchemaBuilder::struct_()
            .field("event", inner.clone())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with(
                "event",
                Struct::new(inner)
                    .unwrap()
                    .with("ts", DATE_PLUS_TIME)
                    .unwrap()
                    .with("n", 1)
                    .unwrap(),
            )
            .unwrap();
        let pairs = [
            ("target.type", "string"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSSX"),
            ("field", "event.ts"),
            ("field.syntax.version", "V2"),
        ];
        let r = convert(&pairs, Some(schema), Value::Struct(value));
        let event = r
            .value
            .as_struct()
            .unwrap()
            .get("event")
            .unwrap()
            .as_struct()
            .unwrap()
            .clone();
        assert_eq!(
            event.get("ts").unwrap(),
            &Value::String("1970-01-02T00:00:01.234Z".into())
        );
        assert_eq!(event.get("n").unwrap(), &Value::Int32(1));
        assert_eq!(event.schema.field("ts").unwrap().schema, Schema::string());
        r.value.as_struct().unwrap().validate().unwrap();

        let r = convert(
            &pairs,
            None,
            map(&[("event", map(&[("ts", Value::Int64(DATE_PLUS_TIME))]))]),
        );
        assert_eq!(
            r.value,
            map(&[(
                "event",
                map(&[("ts", Value::String("1970-01-02T00:00:01.234Z".into()))])
            )])
        );
    }

    #[test]
    fn struct_defaults_are_converted_and_schemas_shared() {
        let plain = SchemaBuilder::struct_().field("ts", Schema::int64());
        let default = Struct::new(plain.clone().build())
            .unwrap()
            .with("ts", 0i64)
            .unwrap();
        let mut t = converter(&[("target.type", "Date"), ("field", "ts")]);
        let mut outputs = Vec::new();
        for _ in 0..2 {
            let schema = plain
                .clone()
                .optional()
                .default_value(Value::Struct(default.clone()))
                .build();
            let value = Struct::new(schema.clone())
                .unwrap()
                .with("ts", DATE_PLUS_TIME)
                .unwrap();
            let mut r = value_source(Some(schema), Value::Struct(value));
            t.apply(&mut r).unwrap();
            let s = r.value_schema.unwrap();
            assert!(s.is_optional());
            assert_eq!(
                s.default_value()
                    .unwrap()
                    .as_struct()
                    .unwrap()
                    .get("ts")
                    .unwrap(),
                &Value::Date(0)
            );
            assert_eq!(
                r.value.as_struct().unwrap().get("ts").unwrap(),
                &Value::Date(1)
            );
            s.validate_value(&r.value).unwrap();
            outputs.push(s);
        }
        assert!(Arc::ptr_eq(&outputs[0].0, &outputs[1].0));
    }
}
