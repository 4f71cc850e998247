//! `org.apache.kafka.connect.transforms.DropHeaders`: removes every header whose key is one of
//! `headers` (all of its values, when a key repeats).

use std::collections::HashSet;

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator};
use crate::error::ConnectResult;
use crate::transforms::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.DropHeaders";

const HEADERS: &str = "headers";

/// Connect's `NonEmptyListValidator` ("Empty list").
pub(crate) fn non_empty_list() -> Validator {
    Validator::custom("non-empty list", |v| match v {
        ParsedValue::List(items) if items.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    })
}

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        HEADERS,
        ConfigType::List,
        None,
        Some(non_empty_list()),
        Importance::High,
        "Keys of the headers to remove from each record, comma-separated.",
    )
}

/// Removes the headers with the configured names (Connect's `DropHeaders`).
#[derive(Debug, Default)]
pub struct DropHeaders {
    headers: HashSet<String>,
}

impl DropHeaders {
    /// A transform not configured yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transformation for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let parsed = config_def().parse(props)?;
        self.headers = parsed.list(HEADERS)?.into_iter().collect();
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        if record
            .headers()
            .iter()
            .any(|h| self.headers.contains(&h.key))
        {
            record
                .headers_mut()
                .retain(|h| !self.headers.contains(&h.key));
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, Value};
    use crate::error::ConnectError;
    use crate::transforms::test_records::{configured, props, source, string_header};

    fn record_with(headers: Vec<crate::record::Header>) -> crate::record::SourceRecord {
        let mut r = source(
            "topic",
            None,
            Value::String("key".into()),
            None,
            Value::String("value".into()),
        );
        r.timestamp = Some(0);
        r.headers = headers;
        r
    }

    #[test]
    fn drops_a_header_and_all_its_values_leaving_the_rest() {
        let mut t = configured("DropHeaders", &[("headers", "to-drop")]);
        let mut r = record_with(vec![
            string_header("existing", "existing-value"),
            string_header("to-drop", "existing-value"),
            string_header("to-drop", "existing-other-value"),
        ]);
        let mut expected = r.clone();
        expected.headers = vec![string_header("existing", "existing-value")];
        assert_eq!(t.apply(&mut r).unwrap(), Outcome::Keep);
        // Only the headers changed.
        assert_eq!(r, expected);
    }

    #[test]
    fn drops_several_keys_and_ignores_absent_ones() {
        let mut t = configured("DropHeaders", &[("headers", "a, c,absent")]);
        let mut r = record_with(vec![
            string_header("a", "1"),
            string_header("b", "2"),
            string_header("c", "3"),
            string_header("b", "4"),
        ]);
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.headers,
            vec![string_header("b", "2"), string_header("b", "4")]
        );

        let mut untouched = record_with(vec![string_header("existing", "v")]);
        t.apply(&mut untouched).unwrap();
        assert_eq!(untouched.headers, vec![string_header("existing", "v")]);
        assert_eq!(untouched.value, Value::String("value".into()));
        assert_eq!(untouched.value_schema, None::<Schema>);
    }

    #[test]
    fn an_empty_or_missing_list_is_refused() {
        let mut t = DropHeaders::new();
        assert_eq!(
            t.configure(&props(&[("headers", "")])).unwrap_err(),
            ConnectError::config("Invalid value  for configuration headers: Empty list")
        );
        assert_eq!(
            t.configure(&props(&[])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"headers\" which has no default value."
            )
        );
    }
}
