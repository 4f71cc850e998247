//! `org.apache.kafka.connect.transforms.InsertHeader`: adds a header `header` to every record,
//! its value `value.literal` read as Connect's `Values.parseString` reads it (`1` is an INT8,
//! `true` a BOOLEAN, text a STRING; see [`crate::data::values`] for the forms it reads).
//! Headers already there, even of the same key, are kept.

use crate::api::Props;
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::data::values::parse_string;
use crate::data::SchemaAndValue;
use crate::error::ConnectResult;
use crate::record::Header;
use crate::transforms::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.InsertHeader";

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

/// The transform's keys.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            HEADER,
            ConfigType::String,
            None,
            None,
            Importance::High,
            "Key of the header added to each record.",
        )
        .define(
            VALUE_LITERAL,
            ConfigType::String,
            None,
            None,
            Importance::High,
            "Value of the header, as text: its type is inferred (number, boolean, date, else \
             string).",
        )
}

/// Adds a header with a fixed value (Connect's `InsertHeader`).
#[derive(Debug)]
pub struct InsertHeader {
    header: String,
    literal: SchemaAndValue,
}

impl Default for InsertHeader {
    fn default() -> Self {
        Self::new()
    }
}

impl InsertHeader {
    /// A transform not configured yet.
    pub fn new() -> Self {
        InsertHeader {
            header: String::new(),
            literal: SchemaAndValue::null(),
        }
    }
}

impl Transformation for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let c = config_def().parse(props)?;
        self.header = c.string(HEADER)?;
        self.literal = parse_string(&c.string(VALUE_LITERAL)?);
        Ok(())
    }

    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        record.headers_mut().push(Header {
            key: self.header.clone(),
            schema: self.literal.schema.clone(),
            value: self.literal.value.clone(),
        });
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, Value};
    use crate::error::ConnectError;
    use crate::transforms::test_records::{configured, props, sink, source, string_header};

    fn record() -> crate::record::SourceRecord {
        let mut r = source(
            "topic",
            None,
            Value::String("key".into()),
            None,
            Value::String("value".into()),
        );
        r.timestamp = Some(0);
        r.headers.push(string_header("existing", "existing-value"));
        r
    }

    #[test]
    fn adds_after_other_headers_and_changes_nothing_else() {
        let mut t = configured(
            "InsertHeader",
            &[("header", "inserted"), ("value.literal", "inserted-value")],
        );
        let mut r = record();
        let mut expected = r.clone();
        expected
            .headers
            .push(string_header("inserted", "inserted-value"));
        t.apply(&mut r).unwrap();
        assert_eq!(r, expected);
    }

    #[test]
    fn keeps_a_header_of_the_same_key() {
        let mut t = configured(
            "InsertHeader",
            &[("header", "existing"), ("value.literal", "inserted-value")],
        );
        let mut r = record();
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.headers,
            vec![
                string_header("existing", "existing-value"),
                string_header("existing", "inserted-value"),
            ]
        );
    }

    #[test]
    fn the_literal_gets_the_narrowest_type() {
        let cases = [
            ("1", Some(Schema::int8()), Value::Int8(1)),
            ("true", Some(Schema::boolean()), Value::Boolean(true)),
            ("70000", Some(Schema::int32()), Value::Int32(70000)),
            ("2.5", Some(Schema::float32()), Value::Float32(2.5)),
            ("null", None, Value::Null),
        ];
        for (literal, schema, value) in cases {
            let mut t = configured(
                "InsertHeader",
                &[("header", "h"), ("value.literal", literal)],
            );
            let mut r = sink("t", None, Value::Null, None, Value::Null);
            t.apply(&mut r).unwrap();
            assert_eq!(
                r.headers,
                vec![Header {
                    key: "h".into(),
                    schema,
                    value
                }],
                "{literal}"
            );
        }
    }

    #[test]
    fn both_keys_are_required() {
        let mut t = InsertHeader::new();
        assert_eq!(
            t.configure(&props(&[("value.literal", "1")])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"header\" which has no default value."
            )
        );
        assert_eq!(
            t.configure(&props(&[("header", "h")])).unwrap_err(),
            ConnectError::config(
                "Missing required configuration \"value.literal\" which has no default value."
            )
        );
    }
}
