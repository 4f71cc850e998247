//! The Connect data model: validation (errors name the field), the `Struct` API and logical
//! types.

use std::str::FromStr;

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use kconnect_connectors::data::logical::{
    date_schema, decimal_builder, decimal_schema, time_schema, timestamp_schema,
};
use kconnect_connectors::data::{
    validate_value, validate_value_at, Schema, SchemaBuilder, Struct, Type, Value,
};
use kconnect_connectors::ConnectError;

fn data_msg(e: ConnectError) -> String {
    match e {
        ConnectError::Data(m) => m,
        other => panic!("expected a data error, got {other:?}"),
    }
}

fn person_schema() -> Schema {
    let address = SchemaBuilder::struct_()
        .name("Address")
        .field("street", Schema::string())
        .field("zip", Schema::optional_int32())
        .build();
    SchemaBuilder::struct_()
        .name("Person")
        .field("name", Schema::string())
        .field(
            "age",
            SchemaBuilder::new(Type::Int32)
                .default_value(Value::Int32(42))
                .build(),
        )
        .field("nick", Schema::optional_string())
        .field("address", address)
        .field(
            "tags",
            SchemaBuilder::array(Schema::string()).optional().build(),
        )
        .field(
            "scores",
            SchemaBuilder::map(Schema::string(), Schema::float64())
                .optional()
                .build(),
        )
        .build()
}

fn address(schema: &Schema, street: &str) -> Struct {
    let s = schema.field("address").unwrap().schema.clone();
    Struct::new(s).unwrap().with("street", street).unwrap()
}

#[test]
fn struct_new_requires_a_struct_schema() {
    assert!(Struct::new(Schema::string()).is_err());
    let s = Struct::new(person_schema()).unwrap();
    assert_eq!(s.values.len(), 6);
    assert!(s.values.iter().all(Value::is_null));
}

#[test]
fn put_validates_against_the_field_schema_and_names_the_field() {
    let schema = person_schema();
    let mut s = Struct::new(schema.clone()).unwrap();
    s.put("name", "Ann").unwrap();
    let m = data_msg(s.put("name", 5i32).unwrap_err());
    assert!(m.contains("field: \"name\""), "{m}");
    assert!(m.contains("STRING") && m.contains("INT32"), "{m}");

    let m = data_msg(s.put("name", Value::Null).unwrap_err());
    assert_eq!(
        m,
        "Invalid value: null used for required field: \"name\", schema type: STRING"
    );

    let m = data_msg(s.put("nope", 1i32).unwrap_err());
    assert!(m.contains("nope is not a valid field name"), "{m}");

    // Nested paths: array elements, map values, struct fields.
    let m = data_msg(
        s.put(
            "tags",
            Value::Array(vec!["a".into(), Value::Int64(3), "c".into()]),
        )
        .unwrap_err(),
    );
    assert!(m.contains("field: \"tags[1]\""), "{m}");
    let m = data_msg(
        s.put(
            "scores",
            Value::Map(vec![
                ("x".into(), Value::Float64(1.0)),
                ("y".into(), Value::Float32(2.0)),
            ]),
        )
        .unwrap_err(),
    );
    assert!(m.contains("field: \"scores[y]\""), "{m}");
    let m = data_msg(
        s.put(
            "scores",
            Value::Map(vec![(Value::Int32(1), Value::Float64(1.0))]),
        )
        .unwrap_err(),
    );
    assert!(m.contains("field: \"scores.<key #0>\""), "{m}");

    // A struct missing a required field, put into another struct.
    let addr_schema = schema.field("address").unwrap().schema.clone();
    let empty_addr = Struct::new(addr_schema).unwrap();
    let m = data_msg(s.put("address", empty_addr).unwrap_err());
    assert_eq!(
        m,
        "Invalid value: null used for required field: \"address.street\", schema type: STRING"
    );

    // A struct of another schema.
    let other = SchemaBuilder::struct_()
        .field("street", Schema::string())
        .build();
    let m = data_msg(
        s.put(
            "address",
            Struct::new(other).unwrap().with("street", "x").unwrap(),
        )
        .unwrap_err(),
    );
    assert!(
        m.contains("Struct schemas do not match for field: \"address\""),
        "{m}"
    );

    // Failed puts left the struct alone.
    assert_eq!(s.get("tags").unwrap(), &Value::Null);
    assert_eq!(s.get("address").unwrap(), &Value::Null);
}

#[test]
fn get_falls_back_to_the_default_and_validate_checks_required_fields() {
    let schema = person_schema();
    let mut s = Struct::new(schema.clone()).unwrap();
    assert_eq!(s.get("age").unwrap(), &Value::Int32(42));
    assert_eq!(s.get_without_default("age").unwrap(), &Value::Null);
    assert_eq!(s.get("nick").unwrap(), &Value::Null);
    assert!(s.get("missing").is_err());

    let m = data_msg(s.validate().unwrap_err());
    assert_eq!(
        m,
        "Invalid value: null used for required field: \"name\", schema type: STRING"
    );
    s.put("name", "Ann").unwrap();
    let m = data_msg(s.validate().unwrap_err());
    assert!(m.contains("field: \"address\""), "{m}");
    s.put("address", address(&schema, "Main St")).unwrap();
    // `age` is unset but has a default; `nick`, `tags`, `scores` are optional.
    s.validate().unwrap();
    s.put("age", 7i32).unwrap();
    assert_eq!(s.get("age").unwrap(), &Value::Int32(7));
    validate_value(&schema, &Value::Struct(s.clone())).unwrap();

    // A struct built by hand with a wrong value is caught by validate(), with the path.
    let mut bad = s.clone();
    bad.values[3] = Value::Struct(Struct {
        schema: schema.field("address").unwrap().schema.clone(),
        values: vec![Value::String("x".into()), Value::String("12345".into())],
    });
    let m = data_msg(bad.validate().unwrap_err());
    assert!(m.contains("field: \"address.zip\""), "{m}");
    let m = data_msg(validate_value_at("person", &schema, &Value::Struct(bad)).unwrap_err());
    assert!(m.contains("field: \"person.address.zip\""), "{m}");
}

#[test]
fn top_level_validation() {
    validate_value(&Schema::int8(), &Value::Int8(1)).unwrap();
    validate_value(&Schema::optional_string(), &Value::Null).unwrap();
    let m = data_msg(validate_value(&Schema::int8(), &Value::Int16(1)).unwrap_err());
    assert!(m.ends_with("for value"), "{m}");
    // A default does not make null valid (as in Java's ConnectSchema.validateValue).
    let with_default = SchemaBuilder::new(Type::Int8)
        .default_value(Value::Int8(1))
        .build();
    assert!(validate_value(&with_default, &Value::Null).is_err());
    // Each type takes exactly its value kind.
    let pairs = [
        (Schema::int8(), Value::Int8(0)),
        (Schema::int16(), Value::Int16(0)),
        (Schema::int32(), Value::Int32(0)),
        (Schema::int64(), Value::Int64(0)),
        (Schema::float32(), Value::Float32(0.0)),
        (Schema::float64(), Value::Float64(0.0)),
        (Schema::boolean(), Value::Boolean(false)),
        (Schema::string(), Value::String(String::new())),
        (Schema::bytes(), Value::Bytes(vec![])),
    ];
    for (i, (schema, _)) in pairs.iter().enumerate() {
        for (j, (_, value)) in pairs.iter().enumerate() {
            assert_eq!(
                validate_value(schema, value).is_ok(),
                i == j,
                "{:?} / {:?}",
                schema.ty(),
                value
            );
        }
    }
}

#[test]
fn logical_values_need_their_schemas() {
    let d = |u: i64, s: i64| Value::Decimal(BigDecimal::new(BigInt::from(u), s));
    validate_value(&decimal_schema(2), &d(156, 2)).unwrap();
    let m = data_msg(validate_value(&decimal_schema(2), &d(15, 1)).unwrap_err());
    assert!(m.contains("scale 1") && m.contains("scale 2"), "{m}");
    // Bytes are the carrier, not the logical value.
    assert!(validate_value(&decimal_schema(2), &Value::Bytes(vec![0, 156])).is_err());
    // A decimal is not valid for plain BYTES.
    assert!(validate_value(&Schema::bytes(), &d(1, 0)).is_err());

    validate_value(&date_schema(), &Value::Date(10000)).unwrap();
    assert!(validate_value(&date_schema(), &Value::Int32(10000)).is_err());
    assert!(validate_value(&Schema::int32(), &Value::Date(10000)).is_err());
    assert!(validate_value(&date_schema(), &Value::Time(0)).is_err());

    validate_value(&time_schema(), &Value::Time(14_400_000)).unwrap();
    assert!(validate_value(&time_schema(), &Value::Time(-1)).is_err());
    assert!(validate_value(&time_schema(), &Value::Time(86_400_001)).is_err());

    validate_value(&timestamp_schema(), &Value::Timestamp(4_000_000_000)).unwrap();
    assert!(validate_value(&timestamp_schema(), &Value::Int64(4_000_000_000)).is_err());
    assert!(validate_value(&timestamp_schema(), &Value::Date(1)).is_err());

    // In a struct the error names the field.
    let schema = SchemaBuilder::struct_()
        .field("price", decimal_schema(2))
        .build();
    let m = data_msg(
        Struct::new(schema)
            .unwrap()
            .put("price", BigDecimal::from_str("1.5").unwrap())
            .unwrap_err(),
    );
    assert!(m.contains("field: \"price\""), "{m}");
}

#[test]
fn try_build_checks_defaults_and_fields() {
    assert!(SchemaBuilder::new(Type::Int32)
        .default_value(Value::String("x".into()))
        .try_build()
        .is_err());
    assert!(decimal_builder(2)
        .default_value(Value::Decimal(BigDecimal::from_str("1.5").unwrap()))
        .try_build()
        .is_err());
    decimal_builder(2)
        .default_value(Value::Decimal(BigDecimal::from_str("1.50").unwrap()))
        .try_build()
        .unwrap();
    assert!(SchemaBuilder::struct_()
        .field("a", Schema::int32())
        .field("a", Schema::string())
        .try_build()
        .is_err());
    assert!(SchemaBuilder::new(Type::Array).try_build().is_err());
    assert!(SchemaBuilder::new(Type::Int32)
        .field("a", Schema::int32())
        .try_build()
        .is_err());
    SchemaBuilder::array(Schema::int32()).try_build().unwrap();
}

#[test]
fn value_helpers() {
    assert_eq!(Value::from(3i16), Value::Int16(3));
    assert_eq!(Value::from(Some("x")), Value::String("x".into()));
    assert_eq!(Value::from(None::<i32>), Value::Null);
    assert_eq!(Value::Int8(1).schema_type(), Some(Type::Int8));
    assert_eq!(Value::Date(1).schema_type(), None);
    let json: serde_json::Value =
        serde_json::from_str(r#"{"a":[1,2.5,"x",null,true],"b":{"c":-3}}"#).unwrap();
    let v = Value::from_json(&json);
    assert_eq!(
        v,
        Value::Map(vec![
            (
                "a".into(),
                Value::Array(vec![
                    Value::Int64(1),
                    Value::Float64(2.5),
                    "x".into(),
                    Value::Null,
                    Value::Boolean(true)
                ])
            ),
            ("b".into(), Value::Map(vec![("c".into(), Value::Int64(-3))])),
        ])
    );
    assert_eq!(v.to_json().unwrap(), json);
    assert_eq!(
        Value::Float32(12.34).to_json().unwrap().to_string(),
        "12.34"
    );
    assert_eq!(
        Value::Float64(f64::NAN).to_json().unwrap(),
        serde_json::Value::String("NaN".into())
    );
    assert!(Value::Date(1).to_json().is_err());
}
