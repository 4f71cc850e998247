//! The converters of one task: the connector's override, else the worker's, each configured
//! with its `key.converter.` / `value.converter.` / `header.converter.` keys (worker's first,
//! connector's over them).
//!
//! Headers go through the header converter one by one, as Connect's `WorkerSourceTask` and
//! `WorkerSinkTask` convert them: a source record's headers (after its transforms) become the
//! Kafka headers of the produced record, in order, a null value a header without a value; a
//! consumed record's Kafka headers become the sink record's headers, with the schema the
//! converter reads (SimpleHeaderConverter infers one from the text), before its transforms.

use kconnect_connectors::converters::{
    converter_by_name, converter_class_name, header_converter_by_name, Converter, HeaderConverter,
};
use kconnect_connectors::record::Header;
use kconnect_connectors::{ConnectError, ConnectResult};
use rdkafka::message::{Headers, OwnedHeaders};

use crate::config::{
    prefixed, ConnectorConfig, WorkerConfig, HEADER_CONVERTER, KEY_CONVERTER, VALUE_CONVERTER,
};

pub struct TaskConverters {
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
    pub header: Box<dyn HeaderConverter>,
    /// Their Java class names, for error reporting (Connect's executing class).
    pub key_class: &'static str,
    pub value_class: &'static str,
    pub header_class: String,
}

impl TaskConverters {
    pub fn new(worker: &WorkerConfig, connector: &ConnectorConfig) -> Result<Self, ConnectError> {
        let props = |key: &str| {
            let mut props = prefixed(&worker.props, &format!("{key}."));
            props.extend(connector.prefixed(&format!("{key}.")));
            props
        };
        let unknown = |key: &str, class: &str| {
            ConnectError::config(format!(
                "Invalid value {class} for configuration {key}: unknown converter class"
            ))
        };
        let make = |key: &str, chosen: Option<&String>, default: &str, is_key: bool| {
            let class = chosen.map(String::as_str).unwrap_or(default);
            let mut c = converter_by_name(class).ok_or_else(|| unknown(key, class))?;
            let full = converter_class_name(class).ok_or_else(|| unknown(key, class))?;
            c.configure(&props(key), is_key)?;
            Ok::<_, ConnectError>((c, full))
        };
        let (key, key_class) = make(
            KEY_CONVERTER,
            connector.key_converter.as_ref(),
            &worker.key_converter,
            true,
        )?;
        let (value, value_class) = make(
            VALUE_CONVERTER,
            connector.value_converter.as_ref(),
            &worker.value_converter,
            false,
        )?;
        let header_class = connector
            .header_converter
            .as_deref()
            .unwrap_or(&worker.header_converter);
        let mut header = header_converter_by_name(header_class)
            .ok_or_else(|| unknown(HEADER_CONVERTER, header_class))?;
        header.configure(&props(HEADER_CONVERTER))?;
        Ok(TaskConverters {
            key,
            value,
            header,
            key_class,
            value_class,
            header_class: header_class.to_string(),
        })
    }

    /// A source record's headers as Kafka headers (`None` when it has none).
    pub fn headers_to_kafka(
        &self,
        topic: &str,
        headers: &[Header],
    ) -> ConnectResult<Option<OwnedHeaders>> {
        if headers.is_empty() {
            return Ok(None);
        }
        let mut out = OwnedHeaders::new_with_capacity(headers.len());
        for h in headers {
            let bytes =
                self.header
                    .from_connect_header(topic, &h.key, h.schema.as_ref(), &h.value)?;
            out = out.insert(rdkafka::message::Header {
                key: &h.key,
                value: bytes.as_deref(),
            });
        }
        Ok(Some(out))
    }

    /// A consumed record's Kafka headers as the sink record's headers.
    pub fn headers_from_kafka<H: Headers>(
        &self,
        topic: &str,
        headers: Option<&H>,
    ) -> ConnectResult<Vec<Header>> {
        let Some(headers) = headers else {
            return Ok(Vec::new());
        };
        headers
            .iter()
            .map(|h| {
                let sv = self.header.to_connect_header(topic, h.key, h.value)?;
                Ok(Header {
                    key: h.key.to_string(),
                    schema: sv.schema,
                    value: sv.value,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconnect_connectors::api::Props;
    use kconnect_connectors::data::{Schema, SchemaBuilder, Value};

    use crate::restart::RestartPolicy;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn converters(worker: &[(&str, &str)], connector: &[(&str, &str)]) -> TaskConverters {
        let worker = WorkerConfig::parse(props(worker)).unwrap();
        let mut c = props(&[("name", "c"), ("connector.class", "FileStreamSource")]);
        c.extend(props(connector));
        let connector = ConnectorConfig::parse(c, &RestartPolicy::default()).unwrap();
        TaskConverters::new(&worker, &connector).unwrap()
    }

    fn header(key: &str, schema: Option<Schema>, value: Value) -> Header {
        Header {
            key: key.into(),
            schema,
            value,
        }
    }

    /// Headers through Kafka's representation and back, as a source task writes them and a
    /// sink task reads them.
    fn through_kafka(c: &TaskConverters, headers: &[Header]) -> Vec<Header> {
        let kafka = c.headers_to_kafka("t", headers).unwrap();
        c.headers_from_kafka("t", kafka.as_ref()).unwrap()
    }

    #[test]
    fn simple_header_converter_is_the_default_and_infers_schemas() {
        let c = converters(&[], &[]);
        let sent = [
            header("id", Some(Schema::int32()), Value::Int32(42)),
            header("name", Some(Schema::string()), Value::String("x".into())),
            header("none", None, Value::Null),
            header(
                "list",
                Some(SchemaBuilder::array(Schema::int64()).build()),
                Value::Array(vec![Value::Int64(1), Value::Int64(70_000)]),
            ),
            // A repeated key stays a second header, in order.
            header("id", Some(Schema::boolean()), Value::Boolean(true)),
        ];
        assert_eq!(
            c.headers_to_kafka("t", &[]).unwrap().map(|h| h.count()),
            None
        );
        assert_eq!(
            through_kafka(&c, &sent),
            [
                header("id", Some(Schema::int8()), Value::Int8(42)),
                header("name", Some(Schema::string()), Value::String("x".into())),
                header("none", None, Value::Null),
                header(
                    "list",
                    Some(SchemaBuilder::array(Schema::int32()).build()),
                    Value::Array(vec![Value::Int32(1), Value::Int32(70_000)]),
                ),
                header("id", Some(Schema::boolean()), Value::Boolean(true)),
            ]
        );
        let kafka = c.headers_to_kafka("t", &sent).unwrap().unwrap();
        let raw: Vec<(&str, Option<&[u8]>)> = kafka.iter().map(|h| (h.key, h.value)).collect();
        assert_eq!(
            raw,
            [
                ("id", Some(&b"42"[..])),
                ("name", Some(&b"x"[..])),
                ("none", None),
                ("list", Some(&b"[1,70000]"[..])),
                ("id", Some(&b"true"[..])),
            ]
        );
    }

    #[test]
    fn the_connector_s_header_converter_overrides_the_worker_s_with_its_keys() {
        let json = [
            header("id", Some(Schema::int32()), Value::Int32(42)),
            header("none", None, Value::Null),
        ];
        // The worker's JsonConverter keeps schemas: an INT32 stays an INT32.
        let worker_json = converters(&[("header.converter", "JsonConverter")], &[]);
        assert_eq!(
            through_kafka(&worker_json, &json),
            [
                header("id", Some(Schema::int32()), Value::Int32(42)),
                header("none", None, Value::Null),
            ]
        );
        // The connector's StringConverter, configured by the worker's keys and its own.
        let string = converters(
            &[
                ("header.converter", "JsonConverter"),
                ("header.converter.converter.encoding", "UTF-8"),
            ],
            &[(
                "header.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            )],
        );
        assert_eq!(
            through_kafka(&string, &json[..1]),
            [header(
                "id",
                Some(Schema::optional_string()),
                Value::String("42".into())
            )]
        );
        // The connector's keys reach the worker's converter.
        let plain = converters(
            &[("header.converter", "JsonConverter")],
            &[("header.converter.schemas.enable", "false")],
        );
        let kafka = plain.headers_to_kafka("t", &json[..1]).unwrap().unwrap();
        assert_eq!(kafka.get(0).value, Some(&b"42"[..]));
    }

    #[test]
    fn an_unknown_header_converter_is_refused() {
        let worker = WorkerConfig::parse(props(&[("header.converter", "Avro")])).unwrap();
        let connector = ConnectorConfig::parse(
            props(&[("name", "c"), ("connector.class", "FileStreamSource")]),
            &RestartPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            TaskConverters::new(&worker, &connector).err(),
            Some(ConnectError::config(
                "Invalid value Avro for configuration header.converter: unknown converter class"
            ))
        );
    }
}
