//! `org.apache.kafka.connect.transforms.TimestampRouter`: sets the topic to `topic.format`
//! with `${topic}` replaced by the topic and `${timestamp}` by the record's timestamp written
//! with `timestamp.format` (a `SimpleDateFormat` pattern, in UTC; see
//! [`crate::data::simple_date_format`]). A record without a timestamp is an error.
//!
//! Deviations from Connect:
//! - A bad `timestamp.format` is refused when configured (and by config validation); Connect
//!   fails on the first record.
//! - The "Timestamp missing" error describes the record as Connect's `ConnectRecord.toString`
//!   does, without the `SourceRecord{…}` / `SinkRecord{…}` prefix Java puts before it.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::data::simple_date_format::SimpleDateFormat;
use crate::data::Schema;
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampRouter";

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";

fn date_format_validator() -> Validator {
    Validator::custom("SimpleDateFormat pattern", |v| match v {
        ParsedValue::String(s) => SimpleDateFormat::new(s)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    })
}

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            TOPIC_FORMAT,
            ConfigType::String,
            Some("${topic}-${timestamp}"),
            None,
            Importance::High,
            "The new topic name: `${topic}` stands for the record's topic and `${timestamp}` for \
             its timestamp as `timestamp.format` writes it.",
        )
        .define(
            TIMESTAMP_FORMAT,
            ConfigType::String,
            Some("yyyyMMdd"),
            Some(date_format_validator()),
            Importance::High,
            "How `${timestamp}` is written: a java.text.SimpleDateFormat pattern, applied in UTC.",
        )
}

/// Renames the topic after the record's timestamp, `${topic}-${timestamp}` by default (Connect's
/// `TimestampRouter`).
#[derive(Debug)]
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: SimpleDateFormat,
}

impl Default for TimestampRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl TimestampRouter {
    /// A transform not configured yet.
    pub fn new() -> Self {
        TimestampRouter {
            topic_format: "${topic}-${timestamp}".into(),
            timestamp_format: SimpleDateFormat::new("yyyyMMdd").expect("a valid pattern"),
        }
    }
}

impl Transformation for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let c = config_def().parse(props)?;
        self.topic_format = c.string(TOPIC_FORMAT)?;
        let pattern = c.string(TIMESTAMP_FORMAT)?;
        // The validator already refused a bad pattern; this cannot fail.
        self.timestamp_format =
            SimpleDateFormat::new(&pattern).map_err(|e| ConnectError::config(e.to_string()))?;
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let Some(timestamp) = record.timestamp() else {
            return Err(ConnectError::data(format!(
                "Timestamp missing on record: {}",
                record_to_java_string(record)
            )));
        };
        let formatted = self.timestamp_format.format(timestamp);
        let topic = self
            .topic_format
            .replace("${topic}", record.topic())
            .replace("${timestamp}", &formatted);
        record.set_topic(&topic);
        Ok(Outcome::Keep)
    }
}

/// `ConnectSchema.toString()`: `Schema{STRING}`, `Schema{name:STRUCT}`; `null` for none.
fn schema_to_java_string(schema: Option<&Schema>) -> String {
    match schema {
        None => "null".into(),
        Some(s) => match s.name() {
            Some(n) => format!("Schema{{{n}:{}}}", s.ty()),
            None => format!("Schema{{{}}}", s.ty()),
        },
    }
}

/// `ConnectRecord.toString()`.
fn record_to_java_string(r: &dyn ConnectRecord) -> String {
    let headers = if r.headers().is_empty() {
        String::new()
    } else {
        let items: Vec<String> = r
            .headers()
            .iter()
            .map(|h| {
                format!(
                    "ConnectHeader(key={}, value={}, schema={})",
                    h.key,
                    h.value.to_java_string(),
                    schema_to_java_string(h.schema.as_ref())
                )
            })
            .collect();
        format!("[{}]", items.join(", "))
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    format!(
        "ConnectRecord{{topic='{}', kafkaPartition={}, key={}, keySchema={}, value={}, \
         valueSchema={}, timestamp={}, headers=ConnectHeaders(headers={headers})}}",
        r.topic(),
        opt(r.kafka_partition().map(|p| p.to_string())),
        r.key().to_java_string(),
        schema_to_java_string(r.key_schema()),
        r.value().to_java_string(),
        schema_to_java_string(r.value_schema()),
        opt(r.timestamp().map(|t| t.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Value};
    use crate::transforms::test_records::{configured, props, sink, source, string_header};

    #[test]
    fn default_configuration_appends_the_day() {
        let mut t = configured("TimestampRouter", &[]);
        let mut r = source("test", None, Value::Null, None, Value::Null);
        r.timestamp = Some(1_483_425_001_864);
        t.apply(&mut r).unwrap();
        assert_eq!(r.topic, "test-20170103");
    }

    #[test]
    fn custom_formats() {
        let mut t = configured(
            "org.apache.kafka.connect.transforms.TimestampRouter",
            &[
                ("topic.format", "${timestamp}/${topic}/${timestamp}"),
                ("timestamp.format", "yyyy-MM-dd'T'HH"),
            ],
        );
        let mut r = sink("orders", None, Value::Null, None, Value::Null);
        r.timestamp = Some(1_483_425_001_864);
        let mut expected = r.clone();
        expected.topic = "2017-01-03T06/orders/2017-01-03T06".into();
        t.apply(&mut r).unwrap();
        assert_eq!(r, expected);

        let mut fixed = configured("TimestampRouter", &[("topic.format", "all")]);
        let mut r = sink("orders", None, Value::Null, None, Value::Null);
        r.timestamp = Some(0);
        fixed.apply(&mut r).unwrap();
        assert_eq!(&*r.topic, "all");
    }

    #[test]
    fn a_record_without_timestamp_is_an_error() {
        let mut t = configured("TimestampRouter", &[]);
        let mut r = source(
            "test",
            None,
            Value::Null,
            Some(Schema::string()),
            "v".into(),
        );
        r.headers.push(string_header("h", "x"));
        assert_eq!(
            t.apply(&mut r).unwrap_err(),
            ConnectError::data(
                "Timestamp missing on record: ConnectRecord{topic='test', kafkaPartition=0, \
                 key=null, keySchema=null, value=v, valueSchema=Schema{STRING}, timestamp=null, \
                 headers=ConnectHeaders(headers=[ConnectHeader(key=h, value=x, \
                 schema=Schema{STRING})])}"
            )
        );
        assert_eq!(r.topic, "test");
        let named = SchemaBuilder::struct_().name("n").build();
        assert_eq!(schema_to_java_string(Some(&named)), "Schema{n:STRUCT}");
    }

    #[test]
    fn a_bad_pattern_is_refused_when_configured() {
        let mut t = TimestampRouter::new();
        assert_eq!(
            t.configure(&props(&[("timestamp.format", "yyyy-qq")]))
                .unwrap_err(),
            ConnectError::config(
                "Invalid value yyyy-qq for configuration timestamp.format: Illegal pattern \
                 character 'q'"
            )
        );
        let errors = config_def()
            .validate(&props(&[("timestamp.format", "'open")]))
            .into_iter()
            .find(|v| v.name == "timestamp.format")
            .unwrap()
            .errors;
        assert_eq!(
            errors,
            vec!["Invalid value 'open for configuration timestamp.format: Unterminated quote"]
        );
    }
}
