//! Fixed examples for `JsonConverter`, taken from Kafka's `JsonConverterTest`
//! (connect/json/src/test/java/org/apache/kafka/connect/json/JsonConverterTest.java).
//!
//! The Java tests compare parsed JSON trees; the exact bytes asserted here follow from how
//! Kafka builds those trees (`JsonConverter.asJsonSchema` puts `type`, then
//! `items`/`keys`/`values`/`fields`, then `optional`, `name`, `version`, `doc`, `parameters`,
//! `default`; a struct field's schema gets `field` appended last; the envelope is `schema`
//! then `payload`) and Jackson's compact output.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use kconnect_connectors::api::Props;
use kconnect_connectors::converters::json::ENVELOPE_REQUIRED_MESSAGE;
use kconnect_connectors::converters::{Converter, JsonConverter};
use kconnect_connectors::data::logical::{
    date_builder, date_schema, decimal_builder, decimal_schema, time_schema, timestamp_schema,
};
use kconnect_connectors::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use kconnect_connectors::ConnectError;

const TOPIC: &str = "topic";

fn converter(props: &[(&str, &str)]) -> JsonConverter {
    let mut c = JsonConverter::new();
    let p: Props = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.configure(&p, false).unwrap();
    c
}

fn to_json(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    String::from_utf8(c.from_connect(TOPIC, schema, value).unwrap().unwrap()).unwrap()
}

fn to_connect(c: &JsonConverter, json: &str) -> SchemaAndValue {
    c.to_connect(TOPIC, Some(json.as_bytes())).unwrap()
}

fn sv(schema: Schema, value: Value) -> SchemaAndValue {
    SchemaAndValue::new(Some(schema), value)
}

fn dec(unscaled: i64, scale: i64) -> BigDecimal {
    BigDecimal::new(BigInt::from(unscaled), scale)
}

fn data_msg(e: ConnectError) -> String {
    match e {
        ConnectError::Data(m) => m,
        other => panic!("expected a data error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Connect → JSON

#[test]
fn primitives_to_json() {
    let c = JsonConverter::new();
    // booleanToJson
    assert_eq!(
        to_json(&c, Some(&Schema::boolean()), &Value::Boolean(true)),
        r#"{"schema":{"type":"boolean","optional":false},"payload":true}"#
    );
    // byteToJson
    assert_eq!(
        to_json(&c, Some(&Schema::int8()), &Value::Int8(12)),
        r#"{"schema":{"type":"int8","optional":false},"payload":12}"#
    );
    // shortToJson
    assert_eq!(
        to_json(&c, Some(&Schema::int16()), &Value::Int16(12)),
        r#"{"schema":{"type":"int16","optional":false},"payload":12}"#
    );
    // intToJson
    assert_eq!(
        to_json(&c, Some(&Schema::int32()), &Value::Int32(12)),
        r#"{"schema":{"type":"int32","optional":false},"payload":12}"#
    );
    // longToJson
    assert_eq!(
        to_json(&c, Some(&Schema::int64()), &Value::Int64(4398046511104)),
        r#"{"schema":{"type":"int64","optional":false},"payload":4398046511104}"#
    );
    // floatToJson (Jackson writes a float with Float.toString)
    assert_eq!(
        to_json(&c, Some(&Schema::float32()), &Value::Float32(12.34)),
        r#"{"schema":{"type":"float","optional":false},"payload":12.34}"#
    );
    // doubleToJson
    assert_eq!(
        to_json(&c, Some(&Schema::float64()), &Value::Float64(12.34)),
        r#"{"schema":{"type":"double","optional":false},"payload":12.34}"#
    );
    // bytesToJson
    assert_eq!(
        to_json(
            &c,
            Some(&Schema::bytes()),
            &Value::Bytes(b"test-string".to_vec())
        ),
        r#"{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}"#
    );
    // stringToJson
    assert_eq!(
        to_json(
            &c,
            Some(&Schema::string()),
            &Value::String("test-string".into())
        ),
        r#"{"schema":{"type":"string","optional":false},"payload":"test-string"}"#
    );
    // Not from a Java test: Double.toString switches to scientific notation at 1e7.
    assert_eq!(
        to_json(&c, Some(&Schema::float64()), &Value::Float64(1.0e10)),
        r#"{"schema":{"type":"double","optional":false},"payload":1.0E10}"#
    );
    assert_eq!(
        to_json(&c, Some(&Schema::float64()), &Value::Float64(1.0)),
        r#"{"schema":{"type":"double","optional":false},"payload":1.0}"#
    );
}

#[test]
fn schema_metadata_to_json() {
    // testJsonSchemaMetadataTranslation
    let c = JsonConverter::new();
    assert_eq!(
        to_json(&c, Some(&Schema::optional_boolean()), &Value::Null),
        r#"{"schema":{"type":"boolean","optional":true},"payload":null}"#
    );
    let with_default = SchemaBuilder::new(Type::Boolean)
        .default_value(Value::Boolean(true))
        .build();
    assert_eq!(
        to_json(&c, Some(&with_default), &Value::Boolean(true)),
        r#"{"schema":{"type":"boolean","optional":false,"default":true},"payload":true}"#
    );
    let described = SchemaBuilder::new(Type::Boolean)
        .required()
        .name("bool")
        .version(3)
        .doc("the documentation")
        .parameter("foo", "bar")
        .build();
    assert_eq!(
        to_json(&c, Some(&described), &Value::Boolean(true)),
        r#"{"schema":{"type":"boolean","optional":false,"name":"bool","version":3,"doc":"the documentation","parameters":{"foo":"bar"}},"payload":true}"#
    );
}

#[test]
fn containers_to_json() {
    let c = JsonConverter::new();
    // arrayToJson
    let int32_array = SchemaBuilder::array(Schema::int32()).build();
    assert_eq!(
        to_json(
            &c,
            Some(&int32_array),
            &Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)])
        ),
        r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}"#
    );
    // mapToJsonStringKeys
    let string_int_map = SchemaBuilder::map(Schema::string(), Schema::int32()).build();
    assert_eq!(
        to_json(
            &c,
            Some(&string_int_map),
            &Value::Map(vec![
                ("key1".into(), Value::Int32(12)),
                ("key2".into(), Value::Int32(15))
            ])
        ),
        r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}"#
    );
    // mapToJsonNonStringKeys
    let int_int_map = SchemaBuilder::map(Schema::int32(), Schema::int32()).build();
    assert_eq!(
        to_json(
            &c,
            Some(&int_int_map),
            &Value::Map(vec![
                (Value::Int32(1), Value::Int32(12)),
                (Value::Int32(2), Value::Int32(15))
            ])
        ),
        r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,12],[2,15]]}"#
    );
    // structToJson
    let schema = SchemaBuilder::struct_()
        .field("field1", Schema::boolean())
        .field("field2", Schema::string())
        .field("field3", Schema::string())
        .field("field4", Schema::boolean())
        .build();
    let input = Struct::new(schema.clone())
        .unwrap()
        .with("field1", true)
        .unwrap()
        .with("field2", "string2")
        .unwrap()
        .with("field3", "string3")
        .unwrap()
        .with("field4", false)
        .unwrap();
    assert_eq!(
        to_json(&c, Some(&schema), &Value::Struct(input)),
        concat!(
            r#"{"schema":{"type":"struct","fields":["#,
            r#"{"type":"boolean","optional":false,"field":"field1"},"#,
            r#"{"type":"string","optional":false,"field":"field2"},"#,
            r#"{"type":"string","optional":false,"field":"field3"},"#,
            r#"{"type":"boolean","optional":false,"field":"field4"}"#,
            r#"],"optional":false},"#,
            r#""payload":{"field1":true,"field2":"string2","field3":"string3","field4":false}}"#
        )
    );
}

#[test]
fn logical_types_to_json() {
    let c = JsonConverter::new();
    // decimalToJson: the payload is base64 of byte[]{0, -100}
    assert_eq!(
        to_json(&c, Some(&decimal_schema(2)), &Value::Decimal(dec(156, 2))),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#
    );
    // decimalToNumericJson (decimal.format=NUMERIC): the payload is the number 1.56
    let numeric = converter(&[("decimal.format", "NUMERIC")]);
    assert_eq!(
        to_json(
            &numeric,
            Some(&decimal_schema(2)),
            &Value::Decimal(dec(156, 2))
        ),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":1.56}"#
    );
    // dateToJson: 10000 days after the epoch
    assert_eq!(
        to_json(&c, Some(&date_schema()), &Value::Date(10000)),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#
    );
    // timeToJson: 14400000 ms after midnight
    assert_eq!(
        to_json(&c, Some(&time_schema()), &Value::Time(14_400_000)),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}"#
    );
    // timestampToJson: 4000000000 ms after the epoch
    assert_eq!(
        to_json(
            &c,
            Some(&timestamp_schema()),
            &Value::Timestamp(4_000_000_000)
        ),
        r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}"#
    );
    // Decimal.fromLogical refuses a value whose scale is not the schema's.
    let m = data_msg(
        c.from_connect(TOPIC, Some(&decimal_schema(2)), &Value::Decimal(dec(15, 1)))
            .unwrap_err(),
    );
    assert!(m.contains("mismatching scale"), "{m}");
}

#[test]
fn schemaless_to_json() {
    let c = JsonConverter::new();
    // nullSchemaAndPrimitiveToJson
    assert_eq!(
        to_json(&c, None, &Value::Boolean(true)),
        r#"{"schema":null,"payload":true}"#
    );
    // nullSchemaAndArrayToJson
    assert_eq!(
        to_json(
            &c,
            None,
            &Value::Array(vec![Value::Int32(1), "string".into(), Value::Boolean(true)])
        ),
        r#"{"schema":null,"payload":[1,"string",true]}"#
    );
    // nullSchemaAndMapToJson
    assert_eq!(
        to_json(
            &c,
            None,
            &Value::Map(vec![
                ("key1".into(), Value::Int32(12)),
                ("key2".into(), "string".into()),
                ("key3".into(), Value::Boolean(true)),
            ])
        ),
        r#"{"schema":null,"payload":{"key1":12,"key2":"string","key3":true}}"#
    );
    // nullSchemaAndMapNonStringKeysToJson
    assert_eq!(
        to_json(
            &c,
            None,
            &Value::Map(vec![
                ("string".into(), Value::Int32(12)),
                (Value::Int32(52), "string".into()),
                (Value::Boolean(false), Value::Boolean(true)),
            ])
        ),
        r#"{"schema":null,"payload":[["string",12],[52,"string"],[false,true]]}"#
    );
    // noSchemaToJson
    let plain = converter(&[("schemas.enable", "false")]);
    assert_eq!(to_json(&plain, None, &Value::Boolean(true)), "true");
    // Not from a Java test: an offset-topic key as the runtime writes it (schemas disabled).
    assert_eq!(
        to_json(
            &plain,
            None,
            &Value::Array(vec![
                "conn".into(),
                Value::Map(vec![("filename".into(), "f".into())])
            ])
        ),
        r#"["conn",{"filename":"f"}]"#
    );
    // A null without schema is a Kafka null (fromConnectData returns null).
    assert_eq!(c.from_connect(TOPIC, None, &Value::Null).unwrap(), None);
    assert_eq!(plain.from_connect(TOPIC, None, &Value::Null).unwrap(), None);
    // A schemaless struct has no JSON form ("Mismatching schema.").
    let s = Struct::new(SchemaBuilder::struct_().build()).unwrap();
    assert!(c.from_connect(TOPIC, None, &Value::Struct(s)).is_err());
}

#[test]
fn mismatch_schema_json() {
    // mismatchSchemaJson
    let c = JsonConverter::new();
    let m = data_msg(
        c.from_connect(TOPIC, Some(&Schema::float64()), &Value::Boolean(true))
            .unwrap_err(),
    );
    assert!(m.contains("FLOAT64"), "{m}");
    // A struct of another schema ("Mismatching schema.").
    let a = SchemaBuilder::struct_().field("x", Schema::int32()).build();
    let b = SchemaBuilder::struct_().field("y", Schema::int32()).build();
    let v = Struct::new(a).unwrap().with("x", 1i32).unwrap();
    assert!(c.from_connect(TOPIC, Some(&b), &Value::Struct(v)).is_err());
    // A null for a required field without default.
    let s = SchemaBuilder::struct_().field("x", Schema::int32()).build();
    let v = Struct::new(s.clone()).unwrap();
    let m = data_msg(
        c.from_connect(TOPIC, Some(&s), &Value::Struct(v))
            .unwrap_err(),
    );
    assert!(m.contains("null value for field that is required"), "{m}");
    assert!(m.contains("field: \"x\""), "{m}");
}

#[test]
fn null_and_defaults_to_json() {
    // With replace.null.with.default=true (the default) a null is written as the default,
    // otherwise as null (JsonConverter.convertToJson, KIP-581).
    let schema = SchemaBuilder::new(Type::String)
        .optional()
        .default_value("default".into())
        .build();
    let c = JsonConverter::new();
    assert_eq!(
        to_json(&c, Some(&schema), &Value::Null),
        r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":"default"}"#
    );
    let keep_null = converter(&[("replace.null.with.default", "false")]);
    assert_eq!(
        to_json(&keep_null, Some(&schema), &Value::Null),
        r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}"#
    );
    let struct_schema = SchemaBuilder::struct_().field("field1", schema).build();
    let empty = Value::Struct(Struct::new(struct_schema.clone()).unwrap());
    assert_eq!(
        to_json(&c, Some(&struct_schema), &empty),
        r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":"default"}}"#
    );
    assert_eq!(
        to_json(&keep_null, Some(&struct_schema), &empty),
        r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":null}}"#
    );
}

#[test]
fn strings_are_escaped_like_jackson() {
    let c = converter(&[("schemas.enable", "false")]);
    assert_eq!(
        to_json(&c, Some(&Schema::string()), &"a\"b\\c\n\u{1}é/".into()),
        "\"a\\\"b\\\\c\\n\\u0001é/\""
    );
}

// ---------------------------------------------------------------------------------------------
// JSON → Connect

#[test]
fn schema_metadata_to_connect() {
    // testConnectSchemaMetadataTranslation
    let c = JsonConverter::new();
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "boolean" }, "payload": true }"#
        ),
        sv(Schema::boolean(), Value::Boolean(true))
    );
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "boolean", "optional": true }, "payload": null }"#
        ),
        sv(Schema::optional_boolean(), Value::Null)
    );
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "boolean", "default": true }, "payload": null }"#
        ),
        sv(
            SchemaBuilder::new(Type::Boolean)
                .default_value(Value::Boolean(true))
                .build(),
            Value::Boolean(true)
        )
    );
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, "doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }"#
        ),
        sv(
            SchemaBuilder::new(Type::Boolean)
                .required()
                .name("bool")
                .version(2)
                .doc("the documentation")
                .parameter("foo", "bar")
                .build(),
            Value::Boolean(true)
        )
    );
}

#[test]
fn primitives_to_connect() {
    let c = JsonConverter::new();
    // booleanToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "boolean" }, "payload": false }"#
        ),
        sv(Schema::boolean(), Value::Boolean(false))
    );
    // byteToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": { "type": "int8" }, "payload": 12 }"#),
        sv(Schema::int8(), Value::Int8(12))
    );
    // shortToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": { "type": "int16" }, "payload": 12 }"#),
        sv(Schema::int16(), Value::Int16(12))
    );
    // intToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": { "type": "int32" }, "payload": 12 }"#),
        sv(Schema::int32(), Value::Int32(12))
    );
    // longToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": { "type": "int64" }, "payload": 12 }"#),
        sv(Schema::int64(), Value::Int64(12))
    );
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int64" }, "payload": 4398046511104 }"#
        ),
        sv(Schema::int64(), Value::Int64(4398046511104))
    );
    // floatToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": { "type": "float" }, "payload": 12.34 }"#),
        sv(Schema::float32(), Value::Float32(12.34))
    );
    // doubleToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "double" }, "payload": 12.34 }"#
        ),
        sv(Schema::float64(), Value::Float64(12.34))
    );
    // bytesToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }"#
        ),
        sv(Schema::bytes(), Value::Bytes(b"test-string".to_vec()))
    );
    // stringToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }"#
        ),
        sv(Schema::string(), Value::String("foo-bar-baz".into()))
    );
}

#[test]
fn containers_to_connect() {
    let c = JsonConverter::new();
    // arrayToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "array", "items": { "type" : "int32" } }, "payload": [1, 2, 3] }"#
        ),
        sv(
            SchemaBuilder::array(Schema::int32()).build(),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)])
        )
    );
    // mapToConnectStringKeys
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "map", "keys": { "type" : "string" }, "values": { "type" : "int32" } }, "payload": { "key1": 12, "key2": 15} }"#
        ),
        sv(
            SchemaBuilder::map(Schema::string(), Schema::int32()).build(),
            Value::Map(vec![
                ("key1".into(), Value::Int32(12)),
                ("key2".into(), Value::Int32(15))
            ])
        )
    );
    // mapToConnectNonStringKeys
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, "payload": [ [1, 12], [2, 15] ] }"#
        ),
        sv(
            SchemaBuilder::map(Schema::int32(), Schema::int32()).build(),
            Value::Map(vec![
                (Value::Int32(1), Value::Int32(12)),
                (Value::Int32(2), Value::Int32(15))
            ])
        )
    );
    // structToConnect
    let expected_schema = SchemaBuilder::struct_()
        .field("field1", Schema::boolean())
        .field("field2", Schema::string())
        .build();
    let expected = Struct::new(expected_schema.clone())
        .unwrap()
        .with("field1", true)
        .unwrap()
        .with("field2", "string")
        .unwrap();
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "struct", "fields": [{ "field": "field1", "type": "boolean" }, { "field": "field2", "type": "string" }] }, "payload": { "field1": true, "field2": "string" } }"#
        ),
        sv(expected_schema, Value::Struct(expected))
    );
    // structWithOptionalFieldToConnect
    let expected_schema = SchemaBuilder::struct_()
        .field("optional", Schema::optional_string())
        .field("required", Schema::string())
        .build();
    let expected = Struct::new(expected_schema.clone())
        .unwrap()
        .with("required", "required")
        .unwrap();
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", "optional": true }, {  "field": "required", "type": "string" }] }, "payload": { "required": "required" } }"#
        ),
        sv(expected_schema, Value::Struct(expected))
    );
}

#[test]
fn nulls_to_connect() {
    let c = JsonConverter::new();
    // nullToConnect: a tombstone is SchemaAndValue.NULL
    assert_eq!(c.to_connect(TOPIC, None).unwrap(), SchemaAndValue::null());
    // nullSchemaPrimitiveToConnect
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": null }"#),
        SchemaAndValue::null()
    );
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": true }"#),
        SchemaAndValue::new(None, Value::Boolean(true))
    );
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": 12 }"#),
        SchemaAndValue::new(None, Value::Int64(12))
    );
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": 12.24 }"#),
        SchemaAndValue::new(None, Value::Float64(12.24))
    );
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": "a string" }"#),
        SchemaAndValue::new(None, Value::String("a string".into()))
    );
    assert_eq!(
        to_connect(&c, r#"{ "schema": null, "payload": [1, "2", 3] }"#),
        SchemaAndValue::new(
            None,
            Value::Array(vec![Value::Int64(1), "2".into(), Value::Int64(3)])
        )
    );
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": null, "payload": { "field1": 1, "field2": 2} }"#
        ),
        SchemaAndValue::new(
            None,
            Value::Map(vec![
                ("field1".into(), Value::Int64(1)),
                ("field2".into(), Value::Int64(2))
            ])
        )
    );
    // noSchemaToConnect
    let plain = converter(&[("schemas.enable", "false")]);
    assert_eq!(
        to_connect(&plain, "true"),
        SchemaAndValue::new(None, Value::Boolean(true))
    );
}

#[test]
fn logical_types_to_connect() {
    let c = JsonConverter::new();
    // decimalToConnect: "AJw=" is byte[]{0, -100}, the two's complement encoding of 156
    let got = to_connect(
        &c,
        r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }"#,
    );
    assert_eq!(got.schema, Some(decimal_schema(2)));
    let Value::Decimal(d) = &got.value else {
        panic!("{got:?}")
    };
    assert_eq!(d.as_bigint_and_exponent(), (BigInt::from(156), 2));
    // decimalToConnectOptional
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "optional": true, "parameters": { "scale": "2" } }, "payload": null }"#
        ),
        sv(decimal_builder(2).optional().build(), Value::Null)
    );
    // decimalToConnectWithDefaultValue
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "default": "AJw=", "parameters": { "scale": "2" } }, "payload": null }"#
        ),
        sv(
            decimal_builder(2)
                .default_value(Value::Decimal(dec(156, 2)))
                .build(),
            Value::Decimal(dec(156, 2))
        )
    );
    // decimalToConnectOptionalWithDefaultValue
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "optional": true, "default": "AJw=", "parameters": { "scale": "2" } }, "payload": null }"#
        ),
        sv(
            decimal_builder(2)
                .optional()
                .default_value(Value::Decimal(dec(156, 2)))
                .build(),
            Value::Decimal(dec(156, 2))
        )
    );
    // A NUMERIC payload is read whatever decimal.format is set to.
    let got = to_connect(
        &c,
        r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 1.56 }"#,
    );
    let Value::Decimal(d) = &got.value else {
        panic!("{got:?}")
    };
    assert_eq!(d.as_bigint_and_exponent(), (BigInt::from(156), 2));
    // dateToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, "payload": 10000 }"#
        ),
        sv(date_schema(), Value::Date(10000))
    );
    // dateToConnectOptional
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, "optional": true }, "payload": null }"#
        ),
        sv(date_builder().optional().build(), Value::Null)
    );
    // dateToConnectWithDefaultValue
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, "default": 0 }, "payload": null }"#
        ),
        sv(
            date_builder().default_value(Value::Date(0)).build(),
            Value::Date(0)
        )
    );
    // timeToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, "payload": 14400000 }"#
        ),
        sv(time_schema(), Value::Time(14_400_000))
    );
    // timestampToConnect
    assert_eq!(
        to_connect(
            &c,
            r#"{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, "payload": 4000000000 }"#
        ),
        sv(timestamp_schema(), Value::Timestamp(4_000_000_000))
    );
    // The representation must fit the logical type.
    let m = data_msg(
        c.to_connect(
            TOPIC,
            Some(br#"{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, "payload": 1.5 }"#),
        )
        .unwrap_err(),
    );
    assert!(m.contains("Invalid type for Date"), "{m}");
    let m = data_msg(
        c.to_connect(
            TOPIC,
            Some(br#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 1.567 }"#),
        )
        .unwrap_err(),
    );
    assert!(m.contains("scale 2"), "{m}");
}

#[test]
fn null_and_defaults_to_connect() {
    let json = r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}"#;
    let c = JsonConverter::new();
    assert_eq!(to_connect(&c, json).value, Value::String("default".into()));
    let keep_null = converter(&[("replace.null.with.default", "false")]);
    assert_eq!(to_connect(&keep_null, json).value, Value::Null);
    let json = r#"{"schema":{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],"optional":false},"payload":{"field1":null}}"#;
    let got = to_connect(&c, json);
    let Value::Struct(s) = &got.value else {
        panic!("{got:?}")
    };
    assert_eq!(s.get_without_default("field1").unwrap(), &"default".into());
    let got = to_connect(&keep_null, json);
    let Value::Struct(s) = &got.value else {
        panic!("{got:?}")
    };
    assert_eq!(s.get_without_default("field1").unwrap(), &Value::Null);
}

#[test]
fn envelope_is_required_when_schemas_are_enabled() {
    let c = JsonConverter::new();
    for bad in [
        "true",
        r#"{"payload":true}"#,
        r#"{"schema":null,"payload":true,"extra":1}"#,
        r#"[1]"#,
        "",
    ] {
        let m = data_msg(c.to_connect(TOPIC, Some(bad.as_bytes())).unwrap_err());
        assert_eq!(m, ENVELOPE_REQUIRED_MESSAGE, "{bad}");
    }
    assert!(ENVELOPE_REQUIRED_MESSAGE.starts_with(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields."
    ));
    let m = data_msg(c.to_connect(TOPIC, Some(b"{not json")).unwrap_err());
    assert!(
        m.starts_with("Converting byte[] to Kafka Connect data failed due to serialization error"),
        "{m}"
    );
    // Without schemas, empty input is null (Jackson's MissingNode).
    let plain = converter(&[("schemas.enable", "false")]);
    assert_eq!(to_connect(&plain, ""), SchemaAndValue::null());
}

#[test]
fn bad_payloads_name_the_field() {
    let c = JsonConverter::new();
    let schema = r#"{"type":"struct","fields":[{"field":"outer","type":"struct","fields":[{"field":"items","type":"array","items":{"type":"int32"}}]}]}"#;
    let m = data_msg(
        c.to_connect(
            TOPIC,
            Some(
                format!(r#"{{"schema":{schema},"payload":{{"outer":{{"items":[1,"x"]}}}}}}"#)
                    .as_bytes(),
            ),
        )
        .unwrap_err(),
    );
    assert!(m.contains("field: \"outer.items[1]\""), "{m}");
    let m = data_msg(
        c.to_connect(
            TOPIC,
            Some(format!(r#"{{"schema":{schema},"payload":{{"outer":{{}}}}}}"#).as_bytes()),
        )
        .unwrap_err(),
    );
    assert!(
        m.contains("Invalid null value for required ARRAY field"),
        "{m}"
    );
    assert!(m.contains("field: \"outer.items\""), "{m}");
    // Schema errors.
    for (bad, msg) in [
        (r#"{"schema":{"optional":true},"payload":1}"#, "Schema must contain 'type' field"),
        (r#"{"schema":{"type":"nope"},"payload":1}"#, "Unknown schema type: nope"),
        (r#"{"schema":{"type":"array"},"payload":[]}"#, "Array schema did not specify the element type"),
        (r#"{"schema":{"type":"map","values":{"type":"int8"}},"payload":{}}"#, "Map schema did not specify the key type"),
        (r#"{"schema":{"type":"struct"},"payload":{}}"#, "Struct schema's \"fields\" argument is not an array."),
        (r#"{"schema":{"type":"struct","fields":[{"type":"int8"}]},"payload":{}}"#, "Struct schema's field name not specified properly"),
        (r#"{"schema":{"type":"int8","parameters":{"a":1}},"payload":1}"#, "Schema parameters must have string values."),
        (r#"{"schema":{"type":"struct","fields":[]},"payload":[]}"#, "Structs should be encoded as JSON objects, but found ARRAY"),
        (r#"{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"int8"}},"payload":[]}"#, "Maps with string fields should be encoded as JSON objects, but found ARRAY"),
        (r#"{"schema":{"type":"map","keys":{"type":"int8"},"values":{"type":"int8"}},"payload":{}}"#, "Maps with non-string fields should be encoded as JSON array of tuples, but found OBJECT"),
        (r#"{"schema":{"type":"map","keys":{"type":"int8"},"values":{"type":"int8"}},"payload":[[1]]}"#, "Found invalid map entry, expected length 2 but found :1"),
    ] {
        let m = data_msg(c.to_connect(TOPIC, Some(bad.as_bytes())).unwrap_err());
        assert!(m.contains(msg), "{bad}: {m}");
    }
}

#[test]
fn numbers_are_read_like_jackson() {
    let c = JsonConverter::new();
    // Java narrows with (byte) value.intValue(): the low bits.
    assert_eq!(
        to_connect(&c, r#"{"schema":{"type":"int8"},"payload":300}"#).value,
        Value::Int8(44)
    );
    assert_eq!(
        to_connect(&c, r#"{"schema":{"type":"int32"},"payload":12.9}"#).value,
        Value::Int32(12)
    );
    assert_eq!(
        to_connect(&c, r#"{"schema":{"type":"double"},"payload":1.0E10}"#).value,
        Value::Float64(1.0e10)
    );
    assert_eq!(
        to_connect(&c, r#"{"schema":{"type":"double"},"payload":3}"#).value,
        Value::Float64(3.0)
    );
    // Jackson's quoted non-finite numbers are read back.
    let nan = to_connect(&c, r#"{"schema":{"type":"double"},"payload":"NaN"}"#).value;
    assert!(matches!(nan, Value::Float64(v) if v.is_nan()));
    assert_eq!(
        to_json(&c, Some(&Schema::float32()), &Value::Float32(f32::INFINITY)),
        r#"{"schema":{"type":"float","optional":false},"payload":"Infinity"}"#
    );
    // A string is not a number here (Kafka would silently read 0).
    assert!(c
        .to_connect(
            TOPIC,
            Some(br#"{"schema":{"type":"int32"},"payload":"12"}"#)
        )
        .is_err());
    // Schemaless: integral numbers are INT64, others FLOAT64.
    let plain = converter(&[("schemas.enable", "false")]);
    assert_eq!(to_connect(&plain, "1e2").value, Value::Float64(100.0));
    assert_eq!(to_connect(&plain, "-7").value, Value::Int64(-7));
    assert_eq!(
        to_connect(&plain, "18446744073709551617").value,
        Value::Int64(1)
    );
}

#[test]
fn schemas_round_trip_through_their_json_text() {
    let c = JsonConverter::new();
    let schema = SchemaBuilder::struct_()
        .name("com.example.Order")
        .version(2)
        .doc("an order")
        .field("id", Schema::int64())
        .field(
            "lines",
            SchemaBuilder::array(
                SchemaBuilder::struct_()
                    .field("price", decimal_schema(2))
                    .field(
                        "qty",
                        SchemaBuilder::new(Type::Int32)
                            .default_value(Value::Int32(1))
                            .build(),
                    )
                    .build(),
            )
            .build(),
        )
        .field("at", timestamp_schema())
        .field(
            "attrs",
            SchemaBuilder::map(Schema::string(), Schema::optional_string())
                .optional()
                .build(),
        )
        .build();
    let text = c.schema_to_json_string(&schema).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"type":"struct","fields":["#,
            r#"{"type":"int64","optional":false,"field":"id"},"#,
            r#"{"type":"array","items":{"type":"struct","fields":["#,
            r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},"#,
            r#"{"type":"int32","optional":false,"default":1,"field":"qty"}"#,
            r#"],"optional":false},"optional":false,"field":"lines"},"#,
            r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"at"},"#,
            r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true},"optional":true,"field":"attrs"}"#,
            r#"],"optional":false,"name":"com.example.Order","version":2,"doc":"an order"}"#
        )
    );
    assert_eq!(c.schema_from_json_str(&text).unwrap(), Some(schema));
}
