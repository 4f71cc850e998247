//! The number and boolean converters of `org.apache.kafka.connect.converters`: big-endian
//! encodings as Kafka's `ShortSerializer`, `IntegerSerializer`, `LongSerializer`,
//! `FloatSerializer`, `DoubleSerializer` and `BooleanSerializer` write them.

use crate::api::Props;
use crate::data::{Schema, SchemaAndValue, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use super::Converter;

macro_rules! number_converter {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $rust:ty, $size:expr, $type_name:expr, $deser:expr, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name;

        impl $name {
            /// A converter (it has no config keys besides the key/value side).
            pub fn new() -> Self {
                $name
            }
        }

        impl Converter for $name {
            fn configure(&mut self, _props: &Props, _is_key: bool) -> ConnectResult<()> {
                Ok(())
            }

            fn from_connect(
                &self,
                _topic: &str,
                _schema: Option<&Schema>,
                value: &Value,
            ) -> ConnectResult<Option<Vec<u8>>> {
                match value {
                    Value::Null => Ok(None),
                    Value::$variant(v) => Ok(Some(v.to_be_bytes().to_vec())),
                    v => Err(ConnectError::data(format!(
                        "Failed to serialize to {} (was {})",
                        $type_name,
                        v.kind()
                    ))),
                }
            }

            fn to_connect(
                &self,
                _topic: &str,
                bytes: Option<&[u8]>,
            ) -> ConnectResult<SchemaAndValue> {
                let value = match bytes {
                    None => Value::Null,
                    Some(b) => {
                        let arr: [u8; $size] = b.try_into().map_err(|_| {
                            ConnectError::data(format!(
                                "Failed to deserialize {}: Size of data received by {} is not {}",
                                $type_name, $deser, $size
                            ))
                        })?;
                        Value::$variant(<$rust>::from_be_bytes(arr))
                    }
                };
                Ok(SchemaAndValue::new(Some($schema), value))
            }
        }
    };
}

number_converter!(
    /// `ShortConverter`: INT16, 2 bytes big-endian.
    ShortConverter, Int16, i16, 2, "short", "ShortDeserializer", Schema::optional_int16()
);
number_converter!(
    /// `IntegerConverter`: INT32, 4 bytes big-endian.
    IntegerConverter, Int32, i32, 4, "integer", "IntegerDeserializer", Schema::optional_int32()
);
number_converter!(
    /// `LongConverter`: INT64, 8 bytes big-endian.
    LongConverter, Int64, i64, 8, "long", "LongDeserializer", Schema::optional_int64()
);
number_converter!(
    /// `FloatConverter`: FLOAT32, IEEE 754 bits big-endian.
    FloatConverter, Float32, f32, 4, "float", "FloatDeserializer", Schema::optional_float32()
);
number_converter!(
    /// `DoubleConverter`: FLOAT64, IEEE 754 bits big-endian.
    DoubleConverter, Float64, f64, 8, "double", "DoubleDeserializer", Schema::optional_float64()
);

/// `BooleanConverter`: one byte, 1 for true and 0 for false; reads an optional BOOLEAN.
#[derive(Debug, Clone, Default)]
pub struct BooleanConverter;

impl BooleanConverter {
    /// A converter (it has no config keys besides `converter.encoding`).
    pub fn new() -> Self {
        BooleanConverter
    }
}

impl Converter for BooleanConverter {
    fn configure(&mut self, _props: &Props, _is_key: bool) -> ConnectResult<()> {
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        if let Some(s) = schema {
            if s.ty() != Type::Boolean {
                return Err(ConnectError::data(format!(
                    "Invalid schema type for BooleanConverter: {}",
                    s.ty()
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Boolean(b) => Ok(Some(vec![u8::from(*b)])),
            v => Err(ConnectError::data(format!(
                "BooleanConverter is not compatible with objects of type {}",
                v.kind()
            ))),
        }
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue> {
        let value = match bytes {
            None => Value::Null,
            Some([0]) => Value::Boolean(false),
            Some([1]) => Value::Boolean(true),
            Some([b]) => {
                return Err(ConnectError::data(format!(
                    "Failed to deserialize boolean: Unexpected byte received by BooleanDeserializer: {}",
                    *b as i8
                )))
            }
            Some(_) => {
                return Err(ConnectError::data(
                    "Failed to deserialize boolean: Size of data received by BooleanDeserializer is not 1",
                ))
            }
        };
        Ok(SchemaAndValue::new(Some(Schema::optional_boolean()), value))
    }
}
