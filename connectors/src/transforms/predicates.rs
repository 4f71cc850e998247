//! Connect's built-in predicates (`org.apache.kafka.connect.transforms.predicates`):
//! `TopicNameMatches`, `HasHeaderKey` and `RecordIsTombstone`.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, Validator};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::java_regex::{non_empty_regex_validator, JavaRegex};
use crate::transforms::{ConnectRecord, Predicate};

/// The class name of `TopicNameMatches`.
pub const TOPIC_NAME_MATCHES_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";
/// The class name of `HasHeaderKey`.
pub const HAS_HEADER_KEY_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey";
/// The class name of `RecordIsTombstone`.
pub const RECORD_IS_TOMBSTONE_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone";

const PATTERN: &str = "pattern";
const NAME: &str = "name";

/// True for records whose whole topic name matches `pattern`.
#[derive(Debug, Default)]
pub struct TopicNameMatches {
    pattern: Option<JavaRegex>,
}

impl TopicNameMatches {
    /// A predicate not configured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The predicate's keys.
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            PATTERN,
            ConfigType::String,
            None,
            Some(non_empty_regex_validator()),
            Importance::Medium,
            "Regular expression (Java syntax) the whole topic name of a record must match.",
        )
    }
}

impl Predicate for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        Self::config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let parsed = Self::config_def().parse(props)?;
        let pattern = parsed.string(PATTERN)?;
        let regex = JavaRegex::new(&pattern).map_err(|e| {
            ConnectError::config(format!(
                "Invalid value {pattern} for configuration {PATTERN}: entry must be a \
                 Java-compatible regular expression: {e}"
            ))
        })?;
        self.pattern = Some(regex);
        Ok(())
    }

    fn test(&self, record: &dyn ConnectRecord) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.matches(record.topic()))
    }
}

/// True for records with at least one header whose key is `name`.
#[derive(Debug, Default)]
pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    /// A predicate not configured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The predicate's keys.
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            NAME,
            ConfigType::String,
            None,
            Some(Validator::NonEmptyString),
            Importance::Medium,
            "The header key to look for.",
        )
    }
}

impl Predicate for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        Self::config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.name = Self::config_def().parse(props)?.string(NAME)?;
        Ok(())
    }

    fn test(&self, record: &dyn ConnectRecord) -> bool {
        record.headers().iter().any(|h| h.key == self.name)
    }
}

/// True for tombstones: records whose value is null.
#[derive(Debug, Default)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> ConnectResult<()> {
        Ok(())
    }

    fn test(&self, record: &dyn ConnectRecord) -> bool {
        record.value().is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, Value};
    use crate::transforms::test_records::{predicate, props, sink, source, string_header};

    fn on_topic(topic: &str) -> crate::record::SourceRecord {
        source(topic, None, Value::Null, None, Value::Null)
    }

    #[test]
    fn topic_name_matches_the_whole_name() {
        let p = predicate("TopicNameMatches", &[("pattern", "my-prefix-.*")]);
        assert!(p.test(&on_topic("my-prefix-")));
        assert!(p.test(&on_topic("my-prefix-foo")));
        assert!(!p.test(&on_topic("x-my-prefix-")));
        assert!(!p.test(&on_topic("x-my-prefix-foo")));
        assert!(!p.test(&on_topic("your-prefix-")));
        assert!(!p.test(&on_topic("your-prefix-foo")));
        assert!(!p.test(&on_topic("")));
        let s = sink("my-prefix-x", None, Value::Null, None, Value::Null);
        assert!(p.test(&s));
    }

    #[test]
    fn topic_name_matches_validates_its_pattern() {
        let def = TopicNameMatches::config_def();
        let errors = |v: Option<&str>| {
            let p = match v {
                Some(v) => props(&[("pattern", v)]),
                None => props(&[]),
            };
            def.validate(&p).remove(0).errors
        };
        assert!(errors(Some("my-prefix-.*")).is_empty());
        assert_eq!(
            errors(None),
            vec!["Missing required configuration \"pattern\" which has no default value."]
        );
        assert_eq!(
            errors(Some("")),
            vec!["Invalid value  for configuration pattern: String must be non-empty"]
        );
        for bad in ["*", "["] {
            let e = errors(Some(bad));
            assert_eq!(e.len(), 1);
            let prefix = format!("Invalid value {bad} for configuration pattern: Invalid regex: ");
            assert!(e[0].starts_with(&prefix), "{}", e[0]);
        }
        let mut p = TopicNameMatches::new();
        let err = p.configure(&props(&[("pattern", "[")])).unwrap_err();
        assert!(
            matches!(&err, ConnectError::Config(m) if m.contains("Invalid regex")),
            "{err:?}"
        );
        // Unconfigured, it matches nothing.
        assert!(!p.test(&on_topic("[")));
    }

    #[test]
    fn has_header_key_looks_for_any_header_of_that_key() {
        let p = predicate("HasHeaderKey", &[("name", "foo")]);
        let with = |keys: &[&str]| {
            let mut r = on_topic("t");
            r.headers = keys.iter().map(|k| string_header(k, "v")).collect();
            p.test(&r)
        };
        assert!(with(&["foo"]));
        assert!(with(&["foo", "bar"]));
        assert!(with(&["bar", "foo", "bar", "foo"]));
        assert!(!with(&["bar"]));
        assert!(!with(&["bar", "bar"]));
        assert!(!with(&[]));
        assert!(!with(&["Foo"]));
    }

    #[test]
    fn has_header_key_needs_a_non_empty_name() {
        let mut p = HasHeaderKey::new();
        assert_eq!(
            p.configure(&props(&[])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"name\" which has no default value."
            )
        );
        assert_eq!(
            HasHeaderKey::config_def()
                .validate(&props(&[("name", "")]))
                .remove(0)
                .errors,
            vec!["Invalid value  for configuration name: String must be non-empty"]
        );
    }

    #[test]
    fn record_is_tombstone_looks_at_the_value_only() {
        let p = predicate("RecordIsTombstone", &[]);
        assert!(p.test(&on_topic("t")));
        let with_schema = source(
            "t",
            None,
            Value::Null,
            Some(Schema::optional_string()),
            Value::Null,
        );
        assert!(p.test(&with_schema));
        let keyed = source("t", None, Value::Int8(1), None, Value::Null);
        assert!(p.test(&keyed));
        let live = sink("t", None, Value::Null, None, Value::String(String::new()));
        assert!(!p.test(&live));
    }
}
