//! `org.apache.kafka.connect.transforms.RegexRouter`: when the whole topic name matches
//! `regex`, the topic becomes `Matcher.replaceFirst(replacement)` of it (`$1` for groups).
//! See [`super::java_regex`] for what differs from Java's regular expressions.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::error::{ConnectError, ConnectResult};
use crate::transforms::java_regex::{regex_validator, JavaRegex, Replacement};
use crate::transforms::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.RegexRouter";

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            REGEX,
            ConfigType::String,
            None,
            Some(regex_validator()),
            Importance::High,
            "Regular expression the whole topic name must match for the record to be rerouted.",
        )
        .define(
            REPLACEMENT,
            ConfigType::String,
            None,
            None,
            Importance::High,
            "The new topic name; `$n` and `${name}` insert the regex's capture groups.",
        )
}

/// Renames the topic of records whose topic matches `regex` to `replacement` (Connect's
/// `RegexRouter`).
#[derive(Debug, Default)]
pub struct RegexRouter {
    route: Option<(JavaRegex, Replacement)>,
}

impl RegexRouter {
    /// A transform not configured yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transformation for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let parsed = config_def().parse(props)?;
        let regex = JavaRegex::new(&parsed.string(REGEX)?)
            .map_err(|e| ConnectError::config(format!("Invalid regex: {e}")))?;
        let replacement = parsed.string(REPLACEMENT)?;
        let replacement = Replacement::parse(&replacement, &regex).map_err(|e| {
            ConnectError::config(format!(
                "Invalid value {replacement} for configuration {REPLACEMENT}: {e}"
            ))
        })?;
        self.route = Some((regex, replacement));
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (regex, replacement) = self
            .route
            .as_ref()
            .ok_or_else(|| ConnectError::other("RegexRouter used before it was configured"))?;
        if regex.matches(record.topic()) {
            if let Some(topic) = regex.replace_first(record.topic(), replacement) {
                tracing::trace!(from = record.topic(), to = %topic, "rerouting record");
                record.set_topic(&topic);
            }
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transforms::test_records::{configured, props, sink, source};

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let mut t = configured(
            "org.apache.kafka.connect.transforms.RegexRouter",
            &[("regex", regex), ("replacement", replacement)],
        );
        let mut r = sink(topic, None, Value::Null, None, Value::Null);
        assert_eq!(t.apply(&mut r).unwrap(), Outcome::Keep);
        r.topic.to_string()
    }

    #[test]
    fn connect_s_cases() {
        assert_eq!(route("foo", "bar", "foo"), "bar");
        assert_eq!(route("foo", "bar", "orig"), "orig");
        assert_eq!(route("(.*)", "$1", "orig"), "orig");
        assert_eq!(route("(.*)", "prefix-$1", "orig"), "prefix-orig");
        assert_eq!(route("(.*)", "$1-suffix", "orig"), "orig-suffix");
        assert_eq!(
            route("(.*)-(\\d\\d\\d\\d\\d\\d\\d\\d)", "$1", "index-20160117"),
            "index"
        );
    }

    #[test]
    fn a_partial_match_does_not_reroute() {
        // `find` would match inside the name; only a whole-name match counts.
        assert_eq!(route("foo", "bar", "foobar"), "foobar");
        assert_eq!(route("^foo", "bar", "xfoo"), "xfoo");
    }

    #[test]
    fn reroutes_source_records_and_keeps_everything_else() {
        let mut t = configured(
            "RegexRouter",
            &[("regex", "db\\.(\\w+)\\.(\\w+)"), ("replacement", "$2")],
        );
        let mut r = source("db.shop.orders", None, Value::Int8(1), None, Value::Int8(2));
        let mut expected = r.clone();
        expected.topic = "orders".into();
        t.apply(&mut r).unwrap();
        assert_eq!(r, expected);
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut t = RegexRouter::new();
        let err = t
            .configure(&props(&[("regex", "("), ("replacement", "x")]))
            .unwrap_err();
        let ConnectError::Config(msg) = err else {
            panic!("{err:?}")
        };
        assert!(
            msg.starts_with("Invalid value ( for configuration regex: Invalid regex: "),
            "{msg}"
        );
        assert_eq!(
            t.configure(&props(&[("regex", "(a)"), ("replacement", "$2")]))
                .unwrap_err(),
            ConnectError::config("Invalid value $2 for configuration replacement: No group 2")
        );
        assert_eq!(
            t.configure(&props(&[("regex", "a")])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"replacement\" which has no default value."
            )
        );
    }
}
