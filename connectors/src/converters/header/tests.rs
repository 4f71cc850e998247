//! Header values through SimpleHeaderConverter as Connect writes and reads them, value by
//! value, and the record converters used as header converters.

use std::str::FromStr;

use bigdecimal::BigDecimal;

use super::*;
use crate::data::logical::{
    date_schema, days_from_civil, decimal_schema, time_schema, timestamp_schema, MILLIS_PER_DAY,
};
use crate::data::{SchemaBuilder, Struct, Type};

fn s(text: &str) -> Value {
    Value::String(text.into())
}

/// The bytes SimpleHeaderConverter writes for `value`, as text.
fn written(value: &Value) -> Option<String> {
    SimpleHeaderConverter
        .from_connect_header("topic", "header", None, value)
        .unwrap()
        .map(|b| String::from_utf8(b).unwrap())
}

fn read(bytes: Option<&[u8]>) -> (Option<Schema>, Value) {
    let sv = SimpleHeaderConverter
        .to_connect_header("topic", "header", bytes)
        .unwrap();
    (sv.schema, sv.value)
}

/// Writes `value`, reads it back, writes and reads that again: Connect's `assertRoundTrip`,
/// with what each step must give.
fn round_trip(value: Value, text: &str, schema: Option<Schema>, back: Value) {
    assert_eq!(written(&value).as_deref(), Some(text), "{value:?}");
    let first = read(Some(text.as_bytes()));
    assert_eq!(first, (schema.clone(), back.clone()), "{value:?} read back");
    // What was read is stable: written and read again, it is the same.
    let again = written(&first.1).unwrap();
    assert_eq!(
        read(Some(again.as_bytes())),
        (schema, back),
        "{value:?} again"
    );
}

fn same(value: Value, text: &str, schema: Schema) {
    round_trip(value.clone(), text, Some(schema), value);
}

#[test]
fn null_is_a_null_header() {
    assert_eq!(written(&Value::Null), None);
    assert_eq!(read(None), (None, Value::Null));
}

#[test]
fn primitives_come_back_with_the_narrowest_schema() {
    same(s("simple"), "simple", Schema::string());
    same(s(""), "", Schema::string());
    same(
        s("three\"blind\\\"mice"),
        "three\"blind\\\"mice",
        Schema::string(),
    );
    same(
        s("string with delimiters: <>?,./\\=+-!@#$%^&*(){}[]|;':"),
        "string with delimiters: <>?,./\\=+-!@#$%^&*(){}[]|;':",
        Schema::string(),
    );
    same(Value::Boolean(true), "true", Schema::boolean());
    same(Value::Boolean(false), "false", Schema::boolean());
    same(Value::Int8(-7), "-7", Schema::int8());
    same(Value::Int16(300), "300", Schema::int16());
    same(Value::Int32(1_234_567_890), "1234567890", Schema::int32());
    same(
        Value::Int64(1_234_567_890_123),
        "1234567890123",
        Schema::int64(),
    );
    same(Value::Float32(1.5), "1.5", Schema::float32());
    same(Value::Float64(1.0e300), "1.0E300", Schema::float64());
    // The schema is not written: a small INT32 comes back as INT8, an integral float as an
    // integer, a double that a float can hold as a FLOAT32.
    round_trip(
        Value::Int32(42),
        "42",
        Some(Schema::int8()),
        Value::Int8(42),
    );
    round_trip(
        Value::Int64(70_000),
        "70000",
        Some(Schema::int32()),
        Value::Int32(70_000),
    );
    round_trip(
        Value::Float32(2.0),
        "2.0",
        Some(Schema::int8()),
        Value::Int8(2),
    );
    round_trip(
        Value::Float64(0.1),
        "0.1",
        Some(Schema::float32()),
        Value::Float32(0.1),
    );
    // Bytes are written in base64 and read back as that text.
    round_trip(
        Value::Bytes(vec![1, 2, 3]),
        "AQID",
        Some(Schema::string()),
        s("AQID"),
    );
    // The string `null` is read as a null.
    assert_eq!(written(&s("null")).as_deref(), Some("null"));
    assert_eq!(read(Some(b"null")), (None, Value::Null));
}

#[test]
fn decimals_and_dates() {
    round_trip(
        Value::Decimal(BigDecimal::from_str("1.56").unwrap()),
        "1.56",
        Some(Schema::float32()),
        Value::Float32(1.56),
    );
    let big = Value::Decimal(BigDecimal::from_str("9223372036854775808").unwrap());
    same(big, "9223372036854775808", decimal_schema(0));
    let d = days_from_civil(2019, 8, 23);
    same(Value::Date(d as i32), "2019-08-23", date_schema());
    same(Value::Time(52_494_346), "14:34:54.346Z", time_schema());
    same(
        Value::Timestamp(d * MILLIS_PER_DAY + 52_494_346),
        "2019-08-23T14:34:54.346Z",
        timestamp_schema(),
    );
    // A timestamp at midnight is written, and so read, as a date.
    round_trip(
        Value::Timestamp(d * MILLIS_PER_DAY),
        "2019-08-23",
        Some(date_schema()),
        Value::Date(d as i32),
    );
}

#[test]
fn arrays_maps_and_structs() {
    same(
        Value::Array(vec![s("foo"), s("bar")]),
        "[\"foo\",\"bar\"]",
        SchemaBuilder::array(Schema::string()).build(),
    );
    same(
        Value::Array(vec![
            Value::Int32(1_234_567_890),
            Value::Int32(-987_654_321),
        ]),
        "[1234567890,-987654321]",
        SchemaBuilder::array(Schema::int32()).build(),
    );
    same(
        Value::Map(vec![(s("foo"), s("123")), (s("bar"), s("baz"))]),
        "{\"foo\":\"123\",\"bar\":\"baz\"}",
        SchemaBuilder::map(Schema::string(), Schema::string()).build(),
    );
    same(
        Value::Map(vec![
            (s("foo"), Value::Int16(12345)),
            (s("bar"), Value::Int16(0)),
            (s("baz"), Value::Int16(-4321)),
        ]),
        "{\"foo\":12345,\"bar\":0,\"baz\":-4321}",
        SchemaBuilder::map(Schema::string(), Schema::int16()).build(),
    );
    // Mixed element types: no element schema, the elements as read.
    let mixed = Value::Array(vec![s("foo"), Value::Int16(13344)]);
    same(
        mixed,
        "[\"foo\",13344]",
        SchemaBuilder::new(Type::Array).build(),
    );
    same(
        Value::Array(vec![]),
        "[]",
        SchemaBuilder::new(Type::Array).build(),
    );
    same(
        Value::Map(vec![]),
        "{}",
        SchemaBuilder::new(Type::Map).build(),
    );
    // A struct is written like a map of its fields and read as one: with string keys, and
    // here no common value schema.
    let schema = SchemaBuilder::struct_()
        .field("id", Schema::int32())
        .field("name", Schema::optional_string())
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .build();
    let st = Struct::new(schema)
        .unwrap()
        .with("id", 7)
        .unwrap()
        .with("tags", Value::Array(vec![s("a")]))
        .unwrap();
    let (schema, value) = {
        assert_eq!(
            written(&Value::Struct(st)).as_deref(),
            Some("{\"id\":7,\"name\":null,\"tags\":[\"a\"]}")
        );
        read(Some(b"{\"id\":7,\"name\":null,\"tags\":[\"a\"]}"))
    };
    let schema = schema.unwrap();
    assert_eq!(
        (schema.ty(), schema.key_schema(), schema.value_schema()),
        (Type::Map, Some(&Schema::string()), None)
    );
    assert_eq!(
        value,
        Value::Map(vec![
            (s("id"), Value::Int8(7)),
            (s("name"), Value::Null),
            (s("tags"), Value::Array(vec![s("a")])),
        ])
    );
}

#[test]
fn bytes_that_are_not_utf8_are_read_as_java_decodes_them() {
    assert_eq!(
        read(Some(&[b'a', 0xff, b'b'])),
        (Some(Schema::string()), s("a\u{fffd}b"))
    );
}

#[test]
fn header_converters_by_name() {
    for name in [
        SIMPLE_HEADER_CONVERTER,
        "SimpleHeaderConverter",
        "simpleheader",
        " org.apache.kafka.connect.storage.SimpleHeaderConverter ",
    ] {
        assert_eq!(
            header_converter_class_name(name),
            Some(SIMPLE_HEADER_CONVERTER)
        );
        assert!(header_converter_by_name(name).is_some(), "{name}");
    }
    for full in super::super::CONVERTER_CLASSES {
        assert_eq!(header_converter_class_name(full), Some(*full));
        assert!(header_converter_by_name(full).is_some(), "{full}");
    }
    assert_eq!(header_converter_class_name("Avro"), None);
    assert!(header_converter_by_name("Avro").is_none());
}

#[test]
fn record_converters_convert_headers_as_values() {
    // JsonConverter keeps the schema: an INT32 stays an INT32.
    let mut json = header_converter_by_name("JsonConverter").unwrap();
    json.configure(&Props::new()).unwrap();
    let bytes = json
        .from_connect_header("t", "h", Some(&Schema::int32()), &Value::Int32(42))
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"{"schema":{"type":"int32","optional":false},"payload":42}"#
    );
    assert_eq!(
        json.to_connect_header("t", "h", Some(&bytes)).unwrap(),
        SchemaAndValue::new(Some(Schema::int32()), Value::Int32(42))
    );
    // Configured with its header.converter.* keys.
    let mut plain = header_converter_by_name("JsonConverter").unwrap();
    let props: Props = [("schemas.enable".to_string(), "false".to_string())]
        .into_iter()
        .collect();
    plain.configure(&props).unwrap();
    assert_eq!(
        plain
            .from_connect_header("t", "h", Some(&Schema::int32()), &Value::Int32(42))
            .unwrap(),
        Some(b"42".to_vec())
    );
    // StringConverter reads every header as an optional string.
    let string = header_converter_by_name("StringConverter").unwrap();
    assert_eq!(
        string.to_connect_header("t", "h", Some(b"42")).unwrap(),
        SchemaAndValue::new(Some(Schema::optional_string()), s("42"))
    );
    // ByteArrayConverter passes bytes through.
    let raw = header_converter_by_name("ByteArrayConverter").unwrap();
    assert_eq!(
        raw.from_connect_header("t", "h", None, &Value::Bytes(vec![0xff]))
            .unwrap(),
        Some(vec![0xff])
    );
}
