//! The cases of Connect's `ValuesTest`, and the text forms value by value.

use super::*;
use crate::data::logical::{days_from_civil, decimal_schema};
use crate::data::Struct;

fn parsed(text: &str) -> (Option<Schema>, Value) {
    let sv = parse_string(text);
    (sv.schema, sv.value)
}

fn is_string(text: &str) {
    assert_eq!(
        parsed(text),
        (Some(Schema::string()), Value::String(text.into())),
        "{text:?}"
    );
}

fn dec(text: &str) -> BigDecimal {
    BigDecimal::from_str(text).unwrap()
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

fn array_of(element: Schema) -> Option<Schema> {
    Some(SchemaBuilder::array(element).build())
}

/// An ARRAY schema without an element schema: no common schema was found.
fn array_of_null() -> Option<Schema> {
    Some(SchemaBuilder::new(Type::Array).build())
}

fn day(y: i64, m: i64, d: i64) -> i32 {
    days_from_civil(y, m, d) as i32
}

// --- reading

#[test]
fn literals() {
    assert_eq!(parsed("null"), (None, Value::Null));
    assert_eq!(parsed("  null \t"), (None, Value::Null));
    assert_eq!(
        parsed("true"),
        (Some(Schema::boolean()), Value::Boolean(true))
    );
    assert_eq!(
        parsed(" \t\n false \n"),
        (Some(Schema::boolean()), Value::Boolean(false))
    );
    is_string("");
    is_string("True");
    is_string("true}");
    is_string("false]");
    is_string("null=");
    is_string("nullable");
    is_string("  ");
}

#[test]
fn integers_take_the_smallest_type() {
    let cases = [
        ("1", Schema::int8(), Value::Int8(1)),
        ("127", Schema::int8(), Value::Int8(127)),
        ("-128", Schema::int8(), Value::Int8(-128)),
        ("+5", Schema::int8(), Value::Int8(5)),
        ("300", Schema::int16(), Value::Int16(300)),
        ("32767", Schema::int16(), Value::Int16(i16::MAX)),
        ("-32768", Schema::int16(), Value::Int16(i16::MIN)),
        ("66000", Schema::int32(), Value::Int32(66000)),
        ("2147483647", Schema::int32(), Value::Int32(i32::MAX)),
        ("-2147483648", Schema::int32(), Value::Int32(i32::MIN)),
        (
            "9223372036854775807",
            Schema::int64(),
            Value::Int64(i64::MAX),
        ),
        (
            "-9223372036854775808",
            Schema::int64(),
            Value::Int64(i64::MIN),
        ),
        // Integral values written with a fraction or exponent are integers too.
        ("1.0", Schema::int8(), Value::Int8(1)),
        ("300.0", Schema::int16(), Value::Int16(300)),
        ("66000.0", Schema::int32(), Value::Int32(66000)),
        ("1e3", Schema::int16(), Value::Int16(1000)),
    ];
    for (text, schema, value) in cases {
        assert_eq!(parsed(text), (Some(schema), value), "{text}");
    }
}

#[test]
fn other_numbers_are_floats_or_decimals() {
    let cases = [
        ("1.1", Schema::float32(), Value::Float32(1.1)),
        ("300.01", Schema::float32(), Value::Float32(300.01)),
        ("66000.0008", Schema::float32(), Value::Float32(66000.0008)),
        ("-2.5e-3", Schema::float32(), Value::Float32(-0.0025)),
        ("3.4028235E38", Schema::float32(), Value::Float32(f32::MAX)),
        (
            "-3.4028235E38",
            Schema::float32(),
            Value::Float32(-f32::MAX),
        ),
        // Too large for a float, not for a double.
        ("1.5e300", Schema::float64(), Value::Float64(1.5e300)),
        (
            "1.7976931348623157E308",
            Schema::float64(),
            Value::Float64(f64::MAX),
        ),
        // Integral but beyond INT64, with a negative scale: a float.
        ("1E+20", Schema::float32(), Value::Float32(1e20)),
    ];
    for (text, schema, value) in cases {
        assert_eq!(parsed(text), (Some(schema), value), "{text}");
    }
    // An integer beyond INT64 written out in full has scale 0: a Decimal.
    for text in ["9223372036854775808", "-9223372036854775809"] {
        assert_eq!(
            parsed(text),
            (Some(decimal_schema(0)), Value::Decimal(dec(text))),
            "{text}"
        );
    }
    // Beyond a double as well: a Decimal of the number's (negative) scale.
    assert_eq!(
        parsed("1e400"),
        (Some(decimal_schema(-400)), Value::Decimal(dec("1e400")))
    );
    // Java's BigDecimal refuses a scale beyond an int: text.
    is_string("1e9999999999");
}

#[test]
fn dates_times_and_timestamps() {
    let t = i64::from(day(2019, 8, 23)) * MILLIS_PER_DAY + 52_494_346;
    assert_eq!(
        parsed("2019-08-23"),
        (Some(date_schema()), Value::Date(day(2019, 8, 23)))
    );
    assert_eq!(
        parsed("14:34:54.346Z"),
        (Some(time_schema()), Value::Time(52_494_346))
    );
    assert_eq!(
        parsed("2019-08-23T14:34:54.346Z"),
        (Some(timestamp_schema()), Value::Timestamp(t))
    );
    assert_eq!(
        parsed("2019-08-23T14\\:34\\:54.346Z"),
        (Some(timestamp_schema()), Value::Timestamp(t))
    );
    assert_eq!(
        parsed("14\\:34\\:54.346Z"),
        (Some(time_schema()), Value::Time(52_494_346))
    );
    // Read leniently, as Java's SimpleDateFormat does: out-of-range fields roll over.
    assert_eq!(
        parsed("2019-02-30"),
        (Some(date_schema()), Value::Date(day(2019, 3, 2)))
    );
    // Ten digits are not a date.
    assert_eq!(
        parsed("1234567890"),
        (Some(Schema::int32()), Value::Int32(1_234_567_890))
    );
}

#[test]
fn everything_else_is_text() {
    for text in [
        "inserted-value",
        "simple string",
        "simple \n\t\u{8}string",
        "'simple' string",
        "si\\mple",
        "-",
        "1-2",
        "\"quoted\"",
        "a:b,c",
        "{foo: 3}",
        "{3: foo}",
        "[foo]",
        "{6:9 4:20}",
        "[0 1 2]",
        "{null: 3}",
        "[1, 2, 3,,,]",
        "[1, null]",
        "[null, 1]",
        "three\"blind\\\"mice",
        "string with delimiters: <>?,./\\=+-!@#$%^&*(){}[]|;':",
        "\u{ffff}",
    ] {
        is_string(text);
    }
}

#[test]
fn a_failed_array_or_map_after_blanks_reads_as_the_first_blank_as_in_connect() {
    // Connect rewinds to the start and takes the next token, the blank before the brace.
    assert_eq!(parsed(" { ,,  , , }  "), (Some(Schema::string()), s(" ")));
    assert_eq!(parsed(" [x"), (Some(Schema::string()), s(" ")));
    // Without the failed brace, blanks before a delimiter are skipped: the text as given.
    is_string("  :x");
}

#[test]
fn a_leading_number_wins_as_in_connect() {
    assert_eq!(parsed("1,2"), (Some(Schema::int8()), Value::Int8(1)));
    assert_eq!(parsed("7:x"), (Some(Schema::int8()), Value::Int8(7)));
}

#[test]
fn arrays_take_the_common_schema_of_their_elements() {
    assert_eq!(
        parsed("[true, false]"),
        (
            array_of(Schema::boolean()),
            Value::Array(vec![Value::Boolean(true), Value::Boolean(false)])
        )
    );
    assert_eq!(
        parsed("[\"foo\",\"bar\"]"),
        (
            array_of(Schema::string()),
            Value::Array(vec![s("foo"), s("bar")])
        )
    );
    // Integers widen to the widest, and every element is converted to it.
    assert_eq!(
        parsed("[1, 2, 32768]"),
        (
            array_of(Schema::int32()),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(32768)])
        )
    );
    assert_eq!(
        parsed("[1, 2, 3.4028235E38]"),
        (
            array_of(Schema::float32()),
            Value::Array(vec![
                Value::Float32(1.0),
                Value::Float32(2.0),
                Value::Float32(f32::MAX)
            ])
        )
    );
    assert_eq!(
        parsed("[1, 2, 1.7976931348623157E308]"),
        (
            array_of(Schema::float64()),
            Value::Array(vec![
                Value::Float64(1.0),
                Value::Float64(2.0),
                Value::Float64(f64::MAX)
            ])
        )
    );
    let ts = |text: &str| parse_string(text).value;
    assert_eq!(
        parsed("[2019-08-23T14:34:54.346Z,2019-01-23T15:12:34.567Z,   2019-04-23T19:12:34.567Z]"),
        (
            array_of(timestamp_schema()),
            Value::Array(vec![
                ts("2019-08-23T14:34:54.346Z"),
                ts("2019-01-23T15:12:34.567Z"),
                ts("2019-04-23T19:12:34.567Z"),
            ])
        )
    );
    assert_eq!(
        parsed("[14:34:54.346Z]"),
        (
            array_of(time_schema()),
            Value::Array(vec![Value::Time(52_494_346)])
        )
    );
    assert_eq!(
        parsed("[2019-08-23]"),
        (
            array_of(date_schema()),
            Value::Array(vec![Value::Date(day(2019, 8, 23))])
        )
    );
    // Empty, all null, nested.
    assert_eq!(parsed("[]"), (array_of_null(), Value::Array(vec![])));
    assert_eq!(
        parsed("[null]"),
        (array_of_null(), Value::Array(vec![Value::Null]))
    );
    assert_eq!(
        parsed("[[]]"),
        (
            array_of(SchemaBuilder::new(Type::Array).build()),
            Value::Array(vec![Value::Array(vec![])])
        )
    );
    assert_eq!(
        parsed("[{}]"),
        (
            array_of(SchemaBuilder::new(Type::Map).build()),
            Value::Array(vec![Value::Map(vec![])])
        )
    );
}

#[test]
fn arrays_without_a_common_schema_keep_their_elements_as_read() {
    let four = [
        ("[1, 2, 300, \"four\"]", vec![0, 1, 2, 3]),
        ("[2, 300, \"four\", 1]", vec![1, 2, 3, 0]),
        ("[300, \"four\", 1, 2]", vec![2, 3, 0, 1]),
        ("[\"four\", 1, 2, 300]", vec![3, 0, 1, 2]),
    ];
    let values = [Value::Int8(1), Value::Int8(2), Value::Int16(300), s("four")];
    for (text, order) in four {
        let expected = order.iter().map(|&i| values[i].clone()).collect();
        assert_eq!(
            parsed(text),
            (array_of_null(), Value::Array(expected)),
            "{text}"
        );
    }
    // A quoted number stays a string; decimals beyond INT64 do not mix with it.
    assert_eq!(
        parsed("[\"1.0\", 9223372036854775808, -9223372036854775809, 1, 1]"),
        (
            array_of_null(),
            Value::Array(vec![
                s("1.0"),
                Value::Decimal(dec("9223372036854775808")),
                Value::Decimal(dec("-9223372036854775809")),
                Value::Int8(1),
                Value::Int8(1),
            ])
        )
    );
    assert_eq!(
        parsed("[9223372036854775808, -9223372036854775809]"),
        (
            array_of(decimal_schema(0)),
            Value::Array(vec![
                Value::Decimal(dec("9223372036854775808")),
                Value::Decimal(dec("-9223372036854775809")),
            ])
        )
    );
}

#[test]
fn maps_take_the_common_schemas_of_their_keys_and_values() {
    let string_map = Value::Map(vec![(s("foo"), s("123")), (s("bar"), s("baz"))]);
    let string_map_schema = Some(SchemaBuilder::map(Schema::string(), Schema::string()).build());
    for text in [
        "{\"foo\":\"123\",\"bar\":\"baz\"}",
        "{ \"foo\" : \"123\", \n\"bar\" : \"baz\" } ",
    ] {
        assert_eq!(
            parsed(text),
            (string_map_schema.clone(), string_map.clone()),
            "{text}"
        );
    }
    let shorts = Value::Map(vec![
        (s("foo"), Value::Int16(12345)),
        (s("bar"), Value::Int16(0)),
        (s("baz"), Value::Int16(-4321)),
    ]);
    for text in [
        "{\"foo\":12345,\"bar\":0,\"baz\":-4321}",
        " { \"foo\" :  12345 , \"bar\" : 0,  \"baz\" : -4321 }  ",
    ] {
        assert_eq!(
            parsed(text),
            (
                Some(SchemaBuilder::map(Schema::string(), Schema::int16()).build()),
                shorts.clone()
            ),
            "{text}"
        );
    }
    assert_eq!(
        parsed("{true: false, false: true}"),
        (
            Some(SchemaBuilder::map(Schema::boolean(), Schema::boolean()).build()),
            Value::Map(vec![
                (Value::Boolean(true), Value::Boolean(false)),
                (Value::Boolean(false), Value::Boolean(true)),
            ])
        )
    );
    assert_eq!(
        parsed("{\"k1\":\"14:34:54.346Z\"}"),
        (
            Some(SchemaBuilder::map(Schema::string(), time_schema()).build()),
            Value::Map(vec![(s("k1"), Value::Time(52_494_346))])
        )
    );
    assert_eq!(
        parsed("{\"k1\":14:34:54.346Z}"),
        (
            Some(SchemaBuilder::map(Schema::string(), time_schema()).build()),
            Value::Map(vec![(s("k1"), Value::Time(52_494_346))])
        )
    );
    assert_eq!(
        parsed("{}"),
        (
            Some(SchemaBuilder::new(Type::Map).build()),
            Value::Map(vec![])
        )
    );
    assert_eq!(
        parsed("{\"a\":{}}"),
        (
            Some(
                SchemaBuilder::map(Schema::string(), SchemaBuilder::new(Type::Map).build()).build()
            ),
            Value::Map(vec![(s("a"), Value::Map(vec![]))])
        )
    );
    // A later duplicate key replaces the value in the first one's place.
    assert_eq!(
        parsed("{1:1, 2:2, 1:3}"),
        (
            Some(SchemaBuilder::map(Schema::int8(), Schema::int8()).build()),
            Value::Map(vec![
                (Value::Int8(1), Value::Int8(3)),
                (Value::Int8(2), Value::Int8(2))
            ])
        )
    );
}

#[test]
fn maps_without_common_schemas() {
    // Null values: a key schema only.
    let (schema, value) = parsed("{3: null}");
    let schema = schema.unwrap();
    assert_eq!(
        (schema.ty(), schema.key_schema(), schema.value_schema()),
        (Type::Map, Some(&Schema::int8()), None)
    );
    assert_eq!(value, Value::Map(vec![(Value::Int8(3), Value::Null)]));
    // Mixed value types: a key schema only, the keys aligned, the values as read.
    let (schema, value) = parsed("{\"foo\":\"bar\",\"baz\":3456}");
    let schema = schema.unwrap();
    assert_eq!(
        (schema.key_schema(), schema.value_schema()),
        (Some(&Schema::string()), None)
    );
    assert_eq!(
        value,
        Value::Map(vec![(s("foo"), s("bar")), (s("baz"), Value::Int16(3456))])
    );
    // Mixed key types: neither, everything as read.
    let (schema, value) = parsed("{1:1, 2:1, 300:300, \"four\":1}");
    assert_eq!(schema, Some(SchemaBuilder::new(Type::Map).build()));
    assert_eq!(
        value,
        Value::Map(vec![
            (Value::Int8(1), Value::Int8(1)),
            (Value::Int8(2), Value::Int8(1)),
            (Value::Int16(300), Value::Int16(300)),
            (s("four"), Value::Int8(1)),
        ])
    );
}

#[test]
fn tokens_split_on_unescaped_delimiters() {
    let tokens = |text: &str| {
        let mut p = Parser::new(text);
        let mut out = Vec::new();
        while p.has_next() {
            out.push(p.next().to_string());
        }
        out
    };
    assert_eq!(tokens("a:b\\,c["), ["a", ":", "b\\,c", "["]);
    assert_eq!(
        tokens("\"simple\" string"),
        ["\"", "simple", "\"", " string"]
    );
    assert_eq!(tokens("a { b c } d"), ["a ", "{", " b c ", "}", " d"]);
    for escaped in ["si\\\"mple", "si\\{mple", "si\\:mple", "si\\,mple"] {
        assert_eq!(tokens(escaped), [escaped]);
    }
    // Five tokens at once, or none when fewer remain.
    let mut p = Parser::new("a:b:c:d:e:f:g:h");
    assert_eq!(p.next_n(5), Some("a:b:c"));
    assert_eq!(p.next(), ":");
    assert_eq!(p.next(), "d");
    assert_eq!(p.next(), ":");
    assert_eq!(p.next_n(8), None);
    assert_eq!(p.next(), "e");
}

#[test]
fn java_decimal_syntax() {
    for ok in ["1", "-1", "+1", "1.", ".5", "-.5e+3", "1E-7", "0.000"] {
        assert!(is_java_decimal(ok), "{ok}");
        assert!(java_big_decimal(ok).is_some(), "{ok}");
    }
    for bad in [".", "1e", "0x10", "1_000", " 1", "NaN", "", "+-1"] {
        assert!(!is_java_decimal(bad), "{bad}");
    }
    assert_eq!(java_big_decimal("-.5e+3"), Some(dec("-500")));
    assert_eq!(java_big_decimal("1e2147483649"), None);
    assert!(java_big_decimal("1e2147483648").is_some());
}

// --- text forms

#[test]
fn text_forms_of_primitives() {
    let cases = [
        (Value::Null, "null"),
        (Value::Int8(-7), "-7"),
        (Value::Int16(300), "300"),
        (Value::Int32(66000), "66000"),
        (Value::Int64(i64::MIN), "-9223372036854775808"),
        (Value::Float32(1.0), "1.0"),
        (Value::Float32(1.0e10), "1.0E10"),
        (Value::Float64(0.1), "0.1"),
        (Value::Float64(f64::NAN), "NaN"),
        (Value::Boolean(true), "true"),
        (s("three\"blind\\\"mice"), "three\"blind\\\"mice"),
        (Value::Bytes(vec![0, 1, 2, 255]), "AAEC/w=="),
        (Value::Decimal(dec("1.56")), "1.56"),
        (Value::Decimal(dec("1E-7")), "1E-7"),
        (Value::Decimal(BigDecimal::new(123.into(), -2)), "1.23E+4"),
    ];
    for (value, text) in cases {
        assert_eq!(convert_to_string(&value), text, "{value:?}");
    }
}

#[test]
fn dates_print_by_the_instant_they_stand_for() {
    let d = day(2019, 8, 23);
    let at = |ms: i64| i64::from(d) * MILLIS_PER_DAY + ms;
    let cases = [
        (Value::Date(d), "2019-08-23"),
        (Value::Time(52_494_346), "14:34:54.346Z"),
        (Value::Timestamp(at(52_494_346)), "2019-08-23T14:34:54.346Z"),
        // A timestamp at a midnight prints as a date, one on the first day as a time.
        (Value::Timestamp(at(0)), "2019-08-23"),
        (Value::Timestamp(1), "00:00:00.001Z"),
        // So does the Date of 1970-01-01, and anything before it.
        (Value::Date(0), "00:00:00.000Z"),
        (Value::Date(-1), "00:00:00.000Z"),
        (Value::Timestamp(-1), "23:59:59.999Z"),
    ];
    for (value, text) in cases {
        assert_eq!(convert_to_string(&value), text, "{value:?}");
    }
}

#[test]
fn text_forms_of_arrays_maps_and_structs() {
    assert_eq!(
        convert_to_string(&Value::Array(vec![
            s("foo"),
            Value::Int32(1),
            Value::Null,
            Value::Bytes(vec![1]),
            Value::Date(day(2019, 8, 23)),
        ])),
        "[\"foo\",1,null,\"AQ==\",2019-08-23]"
    );
    assert_eq!(
        convert_to_string(&Value::Map(vec![
            (s("a\"b"), Value::Float64(1.5)),
            (Value::Int8(2), Value::Array(vec![])),
        ])),
        "{\"a\\\"b\":1.5,2:[]}"
    );
    let schema = SchemaBuilder::struct_()
        .field("id", Schema::int32())
        .field("name", Schema::optional_string())
        .field(
            "tier",
            SchemaBuilder::new(Type::String)
                .optional()
                .default_value(s("gold"))
                .build(),
        )
        .build();
    let st = Struct::new(schema).unwrap().with("id", 7).unwrap();
    assert_eq!(
        convert_to_string(&Value::Struct(st)),
        "{\"id\":7,\"name\":null,\"tier\":\"gold\"}"
    );
    assert_eq!(escape("three\"blind\\\"mice"), "three\\\"blind\\\\\\\"mice");
}

// --- schema inference

#[test]
fn inferred_schemas() {
    assert_eq!(infer_schema(&s("x")), Some(Schema::string()));
    assert_eq!(infer_schema(&Value::Int16(1)), Some(Schema::int16()));
    assert_eq!(infer_schema(&Value::Bytes(vec![0])), Some(Schema::bytes()));
    assert_eq!(infer_schema(&Value::Null), None);
    assert_eq!(infer_schema(&Value::Date(1)), None);
    assert_eq!(infer_schema(&Value::Array(vec![])), None);
    assert_eq!(infer_schema(&Value::Map(vec![])), None);
    assert_eq!(
        infer_schema(&Value::Array(vec![Value::Int32(1), Value::Null])),
        array_of(SchemaBuilder::new(Type::Int32).optional().build())
    );
    assert_eq!(
        infer_schema(&Value::Array(vec![Value::Int32(1), Value::Int64(1)])),
        None
    );
    assert_eq!(
        infer_schema(&Value::Map(vec![(
            s("a"),
            Value::Array(vec![Value::Int8(1)])
        )])),
        Some(SchemaBuilder::map(Schema::string(), SchemaBuilder::new(Type::Array).build()).build())
    );
    let st = Struct::new(SchemaBuilder::struct_().build()).unwrap();
    assert_eq!(infer_schema(&Value::Struct(st.clone())), Some(st.schema));
}
