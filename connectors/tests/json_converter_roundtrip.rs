//! Property tests: values generated to fit generated schemas survive a round trip through the
//! converters.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::str::FromStr;

use kconnect_connectors::api::Props;
use kconnect_connectors::converters::json_node::JsonNode;
use kconnect_connectors::converters::{
    BooleanConverter, ByteArrayConverter, Converter, DoubleConverter, FloatConverter,
    IntegerConverter, JsonConverter, LongConverter, ShortConverter, StringConverter,
};
use kconnect_connectors::data::java_fmt::{double_to_string, float_to_string};
use kconnect_connectors::data::logical::{
    date_builder, decimal_builder, time_builder, timestamp_builder,
};
use kconnect_connectors::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};

const TOPIC: &str = "t";

// ---------------------------------------------------------------------------------------------
// Generators

type Meta = (
    Option<String>,
    Option<i32>,
    Option<String>,
    BTreeMap<String, String>,
);

fn meta() -> impl Strategy<Value = Meta> {
    (
        proptest::option::of("[a-z][a-z0-9_.]{0,10}"),
        proptest::option::of(any::<i32>()),
        proptest::option::of(any::<String>()),
        proptest::collection::btree_map("[a-z.]{1,6}", any::<String>(), 0..3),
    )
}

fn with_meta(
    mut b: SchemaBuilder,
    optional: bool,
    (name, version, doc, params): Meta,
) -> SchemaBuilder {
    if optional {
        b = b.optional();
    }
    if let Some(n) = name {
        b = b.name(n);
    }
    if let Some(v) = version {
        b = b.version(v);
    }
    if let Some(d) = doc {
        b = b.doc(d);
    }
    for (k, v) in params {
        b = b.parameter(k, v);
    }
    b
}

const PRIMITIVES: [Type; 9] = [
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::Boolean,
    Type::String,
    Type::Bytes,
];

/// A required primitive or logical schema without default (map keys).
fn key_schema() -> impl Strategy<Value = Schema> {
    prop_oneof![
        4 => proptest::sample::select(PRIMITIVES.to_vec()).prop_map(|t| SchemaBuilder::new(t).build()),
        1 => (-2i32..=6).prop_map(|s| decimal_builder(s).build()),
        1 => Just(date_builder().build()),
        1 => Just(timestamp_builder().build()),
    ]
}

/// A primitive or logical schema, maybe optional, maybe with metadata and a default.
fn leaf_schema() -> impl Strategy<Value = Schema> {
    let plain = (
        proptest::sample::select(PRIMITIVES.to_vec()),
        any::<bool>(),
        meta(),
    )
        .prop_map(|(t, opt, m)| with_meta(SchemaBuilder::new(t), opt, m).build());
    let logical = (
        prop_oneof![
            (-2i32..=6).prop_map(decimal_builder),
            Just(date_builder()),
            Just(time_builder()),
            Just(timestamp_builder()),
        ],
        any::<bool>(),
    )
        .prop_map(|(b, opt)| if opt { b.optional().build() } else { b.build() });
    prop_oneof![3 => plain, 2 => logical].prop_flat_map(|schema| {
        let default = proptest::option::weighted(0.3, non_null_value(&schema));
        (Just(schema), default).prop_map(|(schema, default)| match default {
            Some(d) => schema.to_builder().default_value(d).build(),
            None => schema,
        })
    })
}

fn any_schema() -> impl Strategy<Value = Schema> {
    leaf_schema().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), any::<bool>(), meta()).prop_map(|(e, opt, m)| with_meta(
                SchemaBuilder::array(e),
                opt,
                m
            )
            .build()),
            (key_schema(), inner.clone(), any::<bool>(), meta())
                .prop_map(|(k, v, opt, m)| with_meta(SchemaBuilder::map(k, v), opt, m).build()),
            (
                proptest::collection::vec(("[a-z][a-z0-9_]{0,5}", inner), 0..5),
                any::<bool>(),
                meta()
            )
                .prop_map(|(fields, opt, m)| {
                    let mut b = SchemaBuilder::struct_();
                    let mut seen = Vec::new();
                    for (name, s) in fields {
                        if !seen.contains(&name) {
                            seen.push(name.clone());
                            b = b.field(name, s);
                        }
                    }
                    with_meta(b, opt, m).build()
                }),
        ]
    })
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("finite", |f| f.is_finite())
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn value_for(schema: &Schema) -> BoxedStrategy<Value> {
    if schema.is_optional() {
        prop_oneof![1 => Just(Value::Null), 3 => non_null_value(schema)].boxed()
    } else {
        non_null_value(schema)
    }
}

fn non_null_value(schema: &Schema) -> BoxedStrategy<Value> {
    use kconnect_connectors::data::LogicalType;
    if let Some(lt) = schema.logical_type() {
        return match lt {
            LogicalType::Decimal => {
                let scale: i64 = schema.parameters()["scale"].parse().unwrap();
                any::<i128>()
                    .prop_map(move |u| Value::Decimal(BigDecimal::new(BigInt::from(u), scale)))
                    .boxed()
            }
            LogicalType::Date => any::<i32>().prop_map(Value::Date).boxed(),
            LogicalType::Time => (0..=86_400_000i32).prop_map(Value::Time).boxed(),
            LogicalType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
        };
    }
    match schema.ty() {
        Type::Int8 => any::<i8>().prop_map(Value::Int8).boxed(),
        Type::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
        Type::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        Type::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        Type::Float32 => finite_f32().prop_map(Value::Float32).boxed(),
        Type::Float64 => finite_f64().prop_map(Value::Float64).boxed(),
        Type::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Bytes => proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(Value::Bytes)
            .boxed(),
        Type::Array => {
            let elem = schema.value_schema().unwrap();
            proptest::collection::vec(value_for(elem), 0..4)
                .prop_map(Value::Array)
                .boxed()
        }
        Type::Map => {
            let (ks, vs) = (schema.key_schema().unwrap(), schema.value_schema().unwrap());
            proptest::collection::vec((non_null_value(ks), value_for(vs)), 0..4)
                .prop_map(|entries| {
                    let mut out: Vec<(Value, Value)> = Vec::new();
                    for (k, v) in entries {
                        // Keys of a map are unique (as in a Java Map); compare strictly.
                        if !out
                            .iter()
                            .any(|(k2, _)| format!("{k2:?}") == format!("{k:?}"))
                        {
                            out.push((k, v));
                        }
                    }
                    Value::Map(out)
                })
                .boxed()
        }
        Type::Struct => {
            let s = schema.clone();
            let fields: Vec<BoxedStrategy<Value>> = schema
                .fields()
                .iter()
                .map(|f| value_for(&f.schema))
                .collect();
            fields
                .prop_map(move |values| {
                    Value::Struct(Struct {
                        schema: s.clone(),
                        values,
                    })
                })
                .boxed()
        }
    }
}

fn schema_and_value() -> impl Strategy<Value = (Schema, Value)> {
    any_schema().prop_flat_map(|s| (Just(s.clone()), value_for(&s)))
}

/// Values that need no schema: what `JsonConverter` reads from plain JSON.
fn schemaless_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Int64),
        finite_f64().prop_map(Value::Float64),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..4).prop_map(|m| Value::Map(
                m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
            )),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Expected results

/// What the converter gives back with `replace.null.with.default=true`: nulls where the
/// schema has a default read back as the default.
fn expected(schema: &Schema, v: &Value) -> Value {
    match v {
        Value::Null => match schema.default_value() {
            Some(d) => expected(schema, d),
            None => Value::Null,
        },
        Value::Array(items) => {
            let es = schema.value_schema().unwrap();
            Value::Array(items.iter().map(|i| expected(es, i)).collect())
        }
        Value::Map(entries) => {
            let (ks, vs) = (schema.key_schema().unwrap(), schema.value_schema().unwrap());
            Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (expected(ks, k), expected(vs, v)))
                    .collect(),
            )
        }
        Value::Struct(s) => Value::Struct(Struct {
            schema: s.schema.clone(),
            values: s
                .schema
                .fields()
                .iter()
                .zip(&s.values)
                .map(|(f, v)| expected(&f.schema, v))
                .collect(),
        }),
        other => other.clone(),
    }
}

/// Strict equality: `Debug` shows decimal scales and the sign of zero, which `PartialEq`
/// ignores.
fn same(a: &Value, b: &Value) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn json_converter(props: &[(&str, &str)]) -> JsonConverter {
    let mut c = JsonConverter::new();
    let p: Props = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.configure(&p, false).unwrap();
    c
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_values_fit_their_schemas((schema, value) in schema_and_value()) {
        prop_assert!(schema.validate_value(&value).is_ok(), "{:?}", schema.validate_value(&value));
    }

    #[test]
    fn json_with_schemas_round_trips((schema, value) in schema_and_value()) {
        for format in ["BASE64", "NUMERIC"] {
            let c = json_converter(&[("decimal.format", format)]);
            let bytes = c.from_connect(TOPIC, Some(&schema), &value).unwrap().unwrap();
            // The output is JSON for an independent parser too, and has the envelope.
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(
                parsed.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
                Some(vec!["schema".to_string(), "payload".to_string()])
            );
            let back = c.to_connect(TOPIC, Some(&bytes)).unwrap();
            prop_assert_eq!(back.schema.as_ref(), Some(&schema));
            let want = expected(&schema, &value);
            prop_assert!(same(&back.value, &want), "{} -> {:?} != {:?}", String::from_utf8_lossy(&bytes), back.value, want);
            // Writing what was read gives the same bytes.
            let again = c.from_connect(TOPIC, back.schema.as_ref(), &back.value).unwrap().unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn json_without_defaults_replaced_round_trips((schema, value) in schema_and_value()) {
        // With replace.null.with.default=false a null stays null, unless it is a required
        // field's (then the default is the only valid value and the write fails in Kafka).
        let c = json_converter(&[("replace.null.with.default", "false")]);
        match c.from_connect(TOPIC, Some(&schema), &value) {
            Ok(bytes) => {
                let bytes = bytes.unwrap();
                let back = c.to_connect(TOPIC, Some(&bytes)).unwrap();
                prop_assert!(same(&back.value, &value), "{:?} != {:?}", back.value, value);
            }
            Err(_) => prop_assert!(contains_required_null(&schema, &value)),
        }
    }

    #[test]
    fn schemaless_json_round_trips(value in schemaless_value()) {
        let plain = json_converter(&[("schemas.enable", "false")]);
        let bytes = plain.from_connect(TOPIC, None, &value).unwrap();
        prop_assert_eq!(bytes.is_none(), value.is_null());
        if let Some(b) = &bytes {
            let parsed: serde_json::Value = serde_json::from_slice(b).unwrap();
            // Same structure as serde's reading of it (numbers aside).
            prop_assert!(parsed.is_null() == value.is_null());
        }
        let back = plain.to_connect(TOPIC, bytes.as_deref()).unwrap();
        prop_assert_eq!(back.schema, None);
        prop_assert!(same(&back.value, &value), "{:?} != {:?}", back.value, value);

        // The same value in an envelope with a null schema.
        let c = JsonConverter::new();
        let bytes = c.from_connect(TOPIC, None, &value).unwrap();
        let back = c.to_connect(TOPIC, bytes.as_deref()).unwrap();
        prop_assert!(same(&back.value, &value), "{:?} != {:?}", back.value, value);
    }

    #[test]
    fn java_float_text_round_trips(d in finite_f64(), f in finite_f32()) {
        let ds = double_to_string(d);
        prop_assert_eq!(ds.parse::<f64>().unwrap().to_bits(), d.to_bits());
        prop_assert!(ds.contains('.'));
        let fs = float_to_string(f);
        prop_assert_eq!(fs.parse::<f32>().unwrap().to_bits(), f.to_bits());
        prop_assert!(fs.contains('.'));
    }

    #[test]
    fn string_converter_round_trips(s in any::<String>(), i in any::<i64>(), d in finite_f64(),
                                    u in any::<i128>(), scale in -5i64..10) {
        let c = StringConverter::new();
        let back = |v: &Value| {
            let bytes = c.from_connect(TOPIC, None, v).unwrap();
            let sv = c.to_connect(TOPIC, bytes.as_deref()).unwrap();
            assert_eq!(sv.schema, Some(Schema::optional_string()));
            sv.value
        };
        prop_assert_eq!(back(&Value::String(s.clone())), Value::String(s));
        prop_assert_eq!(back(&Value::Int64(i)), Value::String(i.to_string()));
        let Value::String(text) = back(&Value::Float64(d)) else { panic!() };
        prop_assert_eq!(text.parse::<f64>().unwrap(), d);
        let dec = BigDecimal::new(BigInt::from(u), scale);
        let Value::String(text) = back(&Value::Decimal(dec.clone())) else { panic!() };
        // new BigDecimal(decimal.toString()) gives the same unscaled value and scale.
        prop_assert_eq!(BigDecimal::from_str(&text).unwrap().as_bigint_and_exponent(), dec.as_bigint_and_exponent());
        prop_assert_eq!(back(&Value::Null), Value::Null);
    }

    #[test]
    fn number_converters_round_trip(a in any::<i16>(), b in any::<i32>(), c in any::<i64>(),
                                    d in finite_f32(), e in finite_f64(), f in any::<bool>(),
                                    g in proptest::collection::vec(any::<u8>(), 0..16)) {
        fn rt(conv: &dyn Converter, v: Value, width: usize, schema: Schema) -> Value {
            let bytes = conv.from_connect(TOPIC, None, &v).unwrap().unwrap();
            assert_eq!(bytes.len(), width);
            let sv = conv.to_connect(TOPIC, Some(&bytes)).unwrap();
            assert_eq!(sv.schema, Some(schema));
            sv.value
        }
        prop_assert_eq!(rt(&ShortConverter, Value::Int16(a), 2, Schema::optional_int16()), Value::Int16(a));
        prop_assert_eq!(rt(&IntegerConverter, Value::Int32(b), 4, Schema::optional_int32()), Value::Int32(b));
        prop_assert_eq!(rt(&LongConverter, Value::Int64(c), 8, Schema::optional_int64()), Value::Int64(c));
        prop_assert_eq!(rt(&FloatConverter, Value::Float32(d), 4, Schema::optional_float32()), Value::Float32(d));
        prop_assert_eq!(rt(&DoubleConverter, Value::Float64(e), 8, Schema::optional_float64()), Value::Float64(e));
        prop_assert_eq!(rt(&BooleanConverter, Value::Boolean(f), 1, Schema::optional_boolean()), Value::Boolean(f));
        prop_assert_eq!(rt(&ByteArrayConverter, Value::Bytes(g.clone()), g.len(), Schema::optional_bytes()), Value::Bytes(g));
        // Big-endian, as Kafka's serializers.
        prop_assert_eq!(IntegerConverter.from_connect(TOPIC, None, &Value::Int32(b)).unwrap().unwrap(), b.to_be_bytes().to_vec());
    }
}

/// Whether a null sits where the schema is required (possible only when the schema has a
/// default, which the generator then relies on).
fn contains_required_null(schema: &Schema, v: &Value) -> bool {
    match v {
        Value::Null => !schema.is_optional(),
        Value::Array(items) => items
            .iter()
            .any(|i| contains_required_null(schema.value_schema().unwrap(), i)),
        Value::Map(entries) => entries.iter().any(|(k, v)| {
            contains_required_null(schema.key_schema().unwrap(), k)
                || contains_required_null(schema.value_schema().unwrap(), v)
        }),
        Value::Struct(s) => s
            .schema
            .fields()
            .iter()
            .zip(&s.values)
            .any(|(f, v)| contains_required_null(&f.schema, v)),
        _ => false,
    }
}

#[test]
fn fixed_converter_bytes() {
    // Kafka's serializers: big-endian two's complement / IEEE 754.
    assert_eq!(
        ShortConverter
            .from_connect(TOPIC, None, &Value::Int16(-2))
            .unwrap(),
        Some(vec![0xff, 0xfe])
    );
    assert_eq!(
        LongConverter
            .from_connect(TOPIC, None, &Value::Int64(1))
            .unwrap(),
        Some(vec![0, 0, 0, 0, 0, 0, 0, 1])
    );
    assert_eq!(
        FloatConverter
            .from_connect(TOPIC, None, &Value::Float32(1.0))
            .unwrap(),
        Some(vec![0x3f, 0x80, 0, 0])
    );
    assert_eq!(
        DoubleConverter
            .from_connect(TOPIC, None, &Value::Float64(-2.0))
            .unwrap(),
        Some(vec![0xc0, 0, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        BooleanConverter
            .from_connect(TOPIC, None, &Value::Boolean(true))
            .unwrap(),
        Some(vec![1])
    );
    // Wrong kinds and sizes are errors; nulls are Kafka nulls.
    assert!(ShortConverter
        .from_connect(TOPIC, None, &Value::Int32(1))
        .is_err());
    assert!(LongConverter
        .from_connect(TOPIC, None, &Value::Timestamp(1))
        .is_err());
    assert!(IntegerConverter
        .to_connect(TOPIC, Some(&[1, 2, 3]))
        .is_err());
    assert!(BooleanConverter.to_connect(TOPIC, Some(&[2])).is_err());
    assert!(BooleanConverter
        .from_connect(TOPIC, Some(&Schema::int8()), &Value::Boolean(true))
        .is_err());
    assert_eq!(
        IntegerConverter
            .from_connect(TOPIC, None, &Value::Null)
            .unwrap(),
        None
    );
    assert_eq!(
        IntegerConverter.to_connect(TOPIC, None).unwrap().value,
        Value::Null
    );
    assert!(ByteArrayConverter
        .from_connect(TOPIC, Some(&Schema::string()), &Value::Bytes(vec![]))
        .is_err());
    assert!(ByteArrayConverter
        .from_connect(TOPIC, None, &Value::String("x".into()))
        .is_err());

    // StringConverter writes Java's toString.
    let s = StringConverter::new();
    let text =
        |v: Value| String::from_utf8(s.from_connect(TOPIC, None, &v).unwrap().unwrap()).unwrap();
    assert_eq!(text(Value::Float64(1.0e10)), "1.0E10");
    assert_eq!(text(Value::Float32(12.34)), "12.34");
    assert_eq!(text(Value::Boolean(true)), "true");
    assert_eq!(text(Value::Int8(-5)), "-5");
    assert_eq!(
        text(Value::Decimal(BigDecimal::new(BigInt::from(156), 2))),
        "1.56"
    );
    assert_eq!(
        text(Value::Array(vec![Value::Int32(1), Value::Int32(2)])),
        "[1, 2]"
    );
    assert_eq!(
        s.to_connect(TOPIC, Some(b"\xffa")).unwrap().value,
        Value::String("\u{fffd}a".into())
    );
    let mut s2 = StringConverter::new();
    let mut p = Props::new();
    p.insert("converter.encoding".into(), "UTF-16".into());
    assert!(s2.configure(&p, false).is_err());
}

// ---------------------------------------------------------------------------------------------
// The fast reader against the reference reader
//
// `to_connect` parses with serde straight into Connect values and leaves anything unusual to
// the reference reader (the JSON tree read step by step as Kafka's converter does). Whatever
// the fast reader accepts must come out exactly as the reference reads it.

/// The reference reading of `bytes`: `JsonNode` tree, `asConnectSchema`, `convertToConnect`.
fn reference_read(c: &JsonConverter, bytes: &[u8]) -> Result<SchemaAndValue, String> {
    let node = JsonNode::parse(bytes)
        .map_err(|e| e.to_string())?
        .ok_or("no JSON")?;
    if !c.config().schemas_enable {
        return c
            .from_json_node(None, &node)
            .map(|v| SchemaAndValue::new(None, v))
            .map_err(|e| e.to_string());
    }
    let (JsonNode::Object(members), Some(schema), Some(payload)) =
        (&node, node.get("schema"), node.get("payload"))
    else {
        return Err("not an envelope".into());
    };
    if members.len() != 2 {
        return Err("more than an envelope".into());
    }
    let schema = c.as_connect_schema(schema).map_err(|e| e.to_string())?;
    let value = c
        .from_json_node(schema.as_ref(), payload)
        .map_err(|e| e.to_string())?;
    Ok(SchemaAndValue::new(schema, value))
}

/// Whether the converter read `bytes` as the reference does (an error either way counts as
/// agreeing: the converter's errors are the reference's by construction).
fn reads_like_the_reference(c: &JsonConverter, bytes: &[u8]) -> Result<(), String> {
    let want = reference_read(c, bytes);
    let got = c.to_connect(TOPIC, Some(bytes));
    match (&got, &want) {
        (Ok(g), Ok(w)) if g.schema == w.schema && same(&g.value, &w.value) => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        _ => Err(format!(
            "{}: converter {got:?}, reference {want:?}",
            String::from_utf8_lossy(bytes)
        )),
    }
}

/// JSON text of every kind, with numbers in the forms that need care (fractions, exponents,
/// `-0`, integers beyond 64 bits, out of range), strings with escapes and surrogates, and
/// objects with repeated keys.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        finite_f64().prop_map(double_to_string),
        finite_f32().prop_map(float_to_string),
        (any::<i32>(), 0u32..1_000_000, -340i32..340).prop_map(|(m, f, e)| format!("{m}.{f}e{e}")),
        "[0-9]{15,30}(\\.[0-9]{1,25})?"
            .prop_map(|s| s.trim_start_matches('0').to_string())
            .prop_filter("a number", |s| !s.is_empty() && !s.starts_with('.')),
        prop_oneof![
            Just("-0"),
            Just("-0.0"),
            Just("1e400"),
            Just("12.9"),
            Just("-12.9"),
            Just("1e2"),
            Just("2147483648"),
            Just("86400000"),
            Just("18446744073709551617"),
            Just("\"NaN\""),
            Just("\"-Infinity\""),
            Just("\"AJw=\""),
            Just("\"AJw\""),
            Just("\"\\u00e9\\ud83d\\ude00\""),
            Just("\"\\ud800x\""),
            Just("\"a\\\"b\""),
        ]
        .prop_map(str::to_string),
        "[a-zA-Z0-9+/=]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-c]{1,2}", inner), 0..4).prop_map(|kv| {
                let members: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A converter's envelope of `value` split into the schema's and the payload's JSON text.
fn envelope_parts(c: &JsonConverter, schema: &Schema, value: &Value) -> (String, String) {
    let bytes =
        String::from_utf8(c.from_connect(TOPIC, Some(schema), value).unwrap().unwrap()).unwrap();
    let schema_text = c.schema_to_json_string(schema).unwrap();
    let prefix = format!("{{\"schema\":{schema_text},\"payload\":");
    assert!(bytes.starts_with(&prefix), "{bytes}");
    let payload = bytes[prefix.len()..bytes.len() - 1].to_string();
    (schema_text, payload)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn reading_agrees_with_the_reference((schema, value) in schema_and_value(),
                                         other in json_text()) {
        for props in [vec![], vec![("decimal.format", "NUMERIC")],
                      vec![("replace.null.with.default", "false")]] {
            let c = json_converter(&props);
            if c.from_connect(TOPIC, Some(&schema), &value).is_err() {
                continue;
            }
            let (s, p) = envelope_parts(&c, &schema, &value);
            for text in [
                format!("{{\"schema\":{s},\"payload\":{p}}}"),
                // Keys the other way round, spaces around.
                format!(" {{ \"payload\" : {p} , \"schema\" : {s} }} "),
                // Any other payload for this schema, mostly of the wrong kind.
                format!("{{\"schema\":{s},\"payload\":{other}}}"),
                // Not an envelope.
                format!("{{\"schema\":{s},\"payload\":{p},\"extra\":1}}"),
                format!("{{\"schema\":{s}}}"),
            ] {
                prop_assert!(reads_like_the_reference(&c, text.as_bytes()).is_ok(),
                    "{}", reads_like_the_reference(&c, text.as_bytes()).unwrap_err());
            }
        }
    }

    #[test]
    fn schemaless_reading_agrees_with_the_reference(text in json_text()) {
        let plain = json_converter(&[("schemas.enable", "false")]);
        let r = reads_like_the_reference(&plain, text.as_bytes());
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        let enveloped = format!("{{\"schema\":null,\"payload\":{text}}}");
        let r = reads_like_the_reference(&JsonConverter::new(), enveloped.as_bytes());
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn numbers_read_for_number_schemas_agree_with_the_reference(text in json_text()) {
        let c = JsonConverter::new();
        for ty in ["int8", "int16", "int32", "int64", "float", "double", "boolean", "string",
                   "bytes"] {
            for name in ["", r#","name":"org.apache.kafka.connect.data.Timestamp""#,
                         r#","name":"org.apache.kafka.connect.data.Date""#,
                         r#","name":"org.apache.kafka.connect.data.Time""#,
                         r#","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}"#] {
                let envelope = format!(
                    r#"{{"schema":{{"type":"{ty}","optional":true{name}}},"payload":{text}}}"#
                );
                let r = reads_like_the_reference(&c, envelope.as_bytes());
                prop_assert!(r.is_ok(), "{}", r.unwrap_err());
            }
        }
    }

    #[test]
    fn written_strings_are_escaped_as_the_tree_writer_escapes_them(
        (schema, value) in schema_and_value()
    ) {
        // The JSON tree writer (`JsonNode`) has its own implementation of Jackson's escaping;
        // the serde writer must agree with it.
        let plain = json_converter(&[("schemas.enable", "false")]);
        if let Ok(Some(bytes)) = plain.from_connect(TOPIC, Some(&schema), &value) {
            let node = JsonNode::parse(&bytes).unwrap().unwrap();
            prop_assert_eq!(node.to_json_string(), String::from_utf8(bytes).unwrap());
        }
    }
}
