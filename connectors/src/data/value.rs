//! Connect values. Logical types have values of their own (`Decimal`, `Date`, `Time`,
//! `Timestamp`) so that converters can tell them apart from the integers and bytes that carry
//! them on the wire.

use bigdecimal::BigDecimal;

use super::schema::{Schema, Type};
use super::validate::{join_field, validate_value_at};
use crate::error::{ConnectError, ConnectResult};

/// A value of the Connect data model. `Null` is the absent value of an optional schema.
///
/// # Example
///
/// ```
/// use kconnect_connectors::data::{Type, Value};
///
/// let v = Value::from("hello");
/// assert_eq!(v.as_str(), Some("hello"));
/// assert_eq!(v.schema_type(), Some(Type::String));
/// assert_eq!(Value::from(7i32), Value::Int32(7));
/// assert!(Value::Null.is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value: the value of an optional schema that is absent.
    Null,
    /// INT8.
    Int8(i8),
    /// INT16.
    Int16(i16),
    /// INT32.
    Int32(i32),
    /// INT64.
    Int64(i64),
    /// FLOAT32.
    Float32(f32),
    /// FLOAT64.
    Float64(f64),
    /// BOOLEAN.
    Boolean(bool),
    /// STRING.
    String(String),
    /// BYTES.
    Bytes(Vec<u8>),
    /// ARRAY: elements in order.
    Array(Vec<Value>),
    /// Entries in order; keys may be any value, as in Connect.
    Map(Vec<(Value, Value)>),
    /// STRUCT.
    Struct(Struct),
    /// `org.apache.kafka.connect.data.Decimal`: its scale must equal the schema's `scale`.
    Decimal(BigDecimal),
    /// `org.apache.kafka.connect.data.Date`: days since the Unix epoch.
    Date(i32),
    /// `org.apache.kafka.connect.data.Time`: milliseconds since midnight.
    Time(i32),
    /// `org.apache.kafka.connect.data.Timestamp`: milliseconds since the Unix epoch.
    Timestamp(i64),
}

/// A struct value: its schema and one value per field, in field order.
///
/// The value vectors the data model makes ([`Struct::new`], [`Struct::null_values`], a clone)
/// keep room for [`Struct::ROOM`] more values: a transform that adds fields to each record
/// (`InsertField` adds one to five) then grows the vector in place instead of reallocating
/// and moving every value of every record. A vector built elsewhere works the same, it only
/// reallocates when it grows.
///
/// # Example
///
/// ```
/// use kconnect_connectors::data::{Schema, SchemaBuilder, Struct, Value};
///
/// let schema = SchemaBuilder::struct_()
///     .field("id", Schema::int64())
///     .field("email", Schema::optional_string())
///     .build();
/// let user = Struct::new(schema.clone())?.with("id", 42i64)?.with("email", "a@example.com")?;
/// assert_eq!(user.get("id")?, &Value::Int64(42));
/// assert_eq!(user.get("email")?.as_str(), Some("a@example.com"));
///
/// // Values are checked against their field's schema.
/// let mut other = Struct::new(schema)?;
/// assert!(other.put("id", "forty-two").is_err());
/// assert!(other.put("age", 3i32).is_err()); // no such field
/// // A required field left unset fails validation.
/// assert!(other.validate().is_err());
/// # Ok::<(), kconnect_connectors::ConnectError>(())
/// ```
#[derive(Debug, PartialEq)]
pub struct Struct {
    /// The struct's schema (a STRUCT schema).
    pub schema: Schema,
    /// One value per field, in field order.
    pub values: Vec<Value>,
}

/// A schema (absent for schemaless data) and a value, as converters return them.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    /// The schema, or `None` for schemaless data.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

impl Value {
    /// The kind of this value as an upper-case name (`INT32`, `STRING`, `STRUCT`, `NULL`,
    /// `DECIMAL`, …), for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int8(_) => "INT8",
            Value::Int16(_) => "INT16",
            Value::Int32(_) => "INT32",
            Value::Int64(_) => "INT64",
            Value::Float32(_) => "FLOAT32",
            Value::Float64(_) => "FLOAT64",
            Value::Boolean(_) => "BOOLEAN",
            Value::String(_) => "STRING",
            Value::Bytes(_) => "BYTES",
            Value::Array(_) => "ARRAY",
            Value::Map(_) => "MAP",
            Value::Struct(_) => "STRUCT",
            Value::Decimal(_) => "DECIMAL",
            Value::Date(_) => "DATE",
            Value::Time(_) => "TIME",
            Value::Timestamp(_) => "TIMESTAMP",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The schema type a schemaless value of this kind has (Java's
    /// `ConnectSchema.schemaType(value.getClass())`); `None` for `Null` and for the logical
    /// values, which have no schemaless type.
    pub fn schema_type(&self) -> Option<Type> {
        Some(match self {
            Value::Int8(_) => Type::Int8,
            Value::Int16(_) => Type::Int16,
            Value::Int32(_) => Type::Int32,
            Value::Int64(_) => Type::Int64,
            Value::Float32(_) => Type::Float32,
            Value::Float64(_) => Type::Float64,
            Value::Boolean(_) => Type::Boolean,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::Array(_) => Type::Array,
            Value::Map(_) => Type::Map,
            Value::Struct(_) => Type::Struct,
            Value::Null
            | Value::Decimal(_)
            | Value::Date(_)
            | Value::Time(_)
            | Value::Timestamp(_) => return None,
        })
    }

    /// The text of a STRING, or `None` for any other value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The struct of a STRUCT, or `None` for any other value.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// What Java's `toString()` gives for the corresponding Connect Java object (what
    /// `StringConverter` writes): integers in decimal, floats as `Float.toString` /
    /// `Double.toString` (`1.0E10`), decimals as `BigDecimal.toString`, arrays `[a, b]`,
    /// maps `{k=v, k2=v2}`, structs `Struct{a=1,b=x}` (unset fields left out), `null`.
    /// Deviations: bytes (Java prints an object identity such as `[B@1b6d3586`) are written
    /// as base64, and Date/Time/Timestamp as `java.util.Date.toString()` in UTC
    /// (`Thu Jan 01 00:00:00 UTC 1970`) whatever the JVM's zone would have been.
    pub fn to_java_string(&self) -> String {
        super::java_fmt::value_to_java_string(self)
    }

    /// A schemaless value from JSON, as `JsonConverter` with `schemas.enable=false` reads it:
    /// integral numbers become `Int64` (wrapping when out of range, like Java's
    /// `longValue()`), other numbers `Float64`, objects `Map`s with `String` keys.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Boolean(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int64(i)
                } else if let Some(u) = n.as_u64() {
                    Value::Int64(u as i64)
                } else {
                    Value::Float64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (Value::String(k.clone()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// This value as schemaless JSON, as `JsonConverter` with `schemas.enable=false` writes
    /// it without a schema: maps whose keys are all strings become objects, other maps arrays
    /// of `[key, value]` pairs, bytes base64 strings. Structs and logical values need a
    /// schema and are refused; non-finite floats become the strings Jackson writes (`"NaN"`).
    pub fn to_json(&self) -> crate::error::ConnectResult<serde_json::Value> {
        use crate::error::ConnectError;
        use base64::Engine as _;
        Ok(match self {
            Value::Null => serde_json::Value::Null,
            Value::Int8(v) => (*v).into(),
            Value::Int16(v) => (*v).into(),
            Value::Int32(v) => (*v).into(),
            Value::Int64(v) => (*v).into(),
            Value::Float32(v) => float_json(f64::from(*v), super::java_fmt::float_to_string(*v)),
            Value::Float64(v) => float_json(*v, super::java_fmt::double_to_string(*v)),
            Value::Boolean(b) => (*b).into(),
            Value::String(s) => s.clone().into(),
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
            Value::Array(items) => serde_json::Value::Array(
                items.iter().map(Value::to_json).collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => {
                if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                    let mut obj = serde_json::Map::new();
                    for (k, v) in entries {
                        if let Value::String(k) = k {
                            obj.insert(k.clone(), v.to_json()?);
                        }
                    }
                    serde_json::Value::Object(obj)
                } else {
                    serde_json::Value::Array(
                        entries
                            .iter()
                            .map(|(k, v)| {
                                Ok(serde_json::Value::Array(vec![k.to_json()?, v.to_json()?]))
                            })
                            .collect::<crate::error::ConnectResult<_>>()?,
                    )
                }
            }
            Value::Struct(_) => return Err(ConnectError::data("Mismatching schema.")),
            other => {
                return Err(ConnectError::data(format!(
                    "{} value does not have a corresponding schemaless type",
                    other.kind()
                )))
            }
        })
    }
}

fn float_json(v: f64, java_text: String) -> serde_json::Value {
    // Java's text (`12.34` for a float, not the widened 12.34000015258789) read as a JSON
    // number; non-finite values as the strings Jackson writes.
    if v.is_finite() {
        serde_json::from_str(&java_text).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::String(java_text)
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v(x)
            }
        })*
    };
}

value_from!(
    i8 => Int8,
    i16 => Int16,
    i32 => Int32,
    i64 => Int64,
    f32 => Float32,
    f64 => Float64,
    bool => Boolean,
    String => String,
    Vec<u8> => Bytes,
    Vec<Value> => Array,
    Struct => Struct,
    BigDecimal => Decimal,
);

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Clone for Struct {
    /// With [`Struct::ROOM`] to spare, like the struct a connector or converter made.
    fn clone(&self) -> Struct {
        let mut values = Vec::with_capacity(self.values.len() + Struct::ROOM);
        values.extend_from_slice(&self.values);
        Struct {
            schema: self.schema.clone(),
            values,
        }
    }
}

impl Struct {
    /// How many values past its fields a struct's value vector has room for (see [`Struct`]).
    pub const ROOM: usize = 2;

    /// An empty struct (every field unset) of a STRUCT schema, like `new Struct(schema)`.
    pub fn new(schema: Schema) -> ConnectResult<Struct> {
        if schema.ty() != Type::Struct {
            return Err(ConnectError::data(format!(
                "Not a struct schema: {}",
                schema.ty()
            )));
        }
        let values = Struct::null_values(schema.fields().len());
        Ok(Struct { schema, values })
    }

    /// `fields` unset values, with [`Struct::ROOM`] to spare: what a converter or connector
    /// that fills a struct's values itself starts from.
    pub fn null_values(fields: usize) -> Vec<Value> {
        let mut values = Vec::with_capacity(fields + Struct::ROOM);
        values.resize(fields, Value::Null);
        values
    }

    /// The struct's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    fn field_index(&self, field: &str) -> ConnectResult<usize> {
        self.schema
            .fields()
            .iter()
            .position(|f| f.name == field)
            .ok_or_else(|| ConnectError::data(format!("{field} is not a valid field name")))
    }

    /// Sets a field after checking the value against the field's schema (errors name the
    /// field). `Value::Null` unsets an optional field.
    pub fn put(&mut self, field: &str, value: impl Into<Value>) -> ConnectResult<&mut Struct> {
        let idx = self.field_index(field)?;
        let value = value.into();
        validate_value_at(field, &self.schema.fields()[idx].schema, &value)?;
        if self.values.len() < self.schema.fields().len() {
            self.values.resize(self.schema.fields().len(), Value::Null);
        }
        self.values[idx] = value;
        Ok(self)
    }

    /// [`Struct::put`] for chaining by value: `Struct::new(s)?.with("a", 1)?.with("b", "x")?`.
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> ConnectResult<Struct> {
        self.put(field, value)?;
        Ok(self)
    }

    /// A field's value; the field schema's default when the field is unset (`Null`) and has
    /// one. Errors when there is no such field.
    pub fn get(&self, field: &str) -> ConnectResult<&Value> {
        let idx = self.field_index(field)?;
        Ok(self.get_at(idx))
    }

    /// A field's value as set, without falling back to the default (`getWithoutDefault`).
    pub fn get_without_default(&self, field: &str) -> ConnectResult<&Value> {
        let idx = self.field_index(field)?;
        Ok(self.values.get(idx).unwrap_or(&Value::Null))
    }

    /// The value of the field at `index` (default when unset), `Null` when out of range.
    pub fn get_at(&self, index: usize) -> &Value {
        let v = self.values.get(index).unwrap_or(&Value::Null);
        if v.is_null() {
            if let Some(d) = self
                .schema
                .fields()
                .get(index)
                .and_then(|f| f.schema.default_value())
            {
                return d;
            }
        }
        v
    }

    /// Checks that every field is valid for its schema and every required field without a
    /// default is set, like `Struct.validate()`. Errors name the field.
    pub fn validate(&self) -> ConnectResult<()> {
        self.validate_at("")
    }

    pub(crate) fn validate_at(&self, path: &str) -> ConnectResult<()> {
        let fields = self.schema.fields();
        if self.values.len() != fields.len() {
            return Err(ConnectError::data(format!(
                "Struct for {} has {} values for {} fields",
                super::validate::location(path),
                self.values.len(),
                fields.len()
            )));
        }
        for (f, v) in fields.iter().zip(&self.values) {
            if v.is_null() && (f.schema.is_optional() || f.schema.default_value().is_some()) {
                continue;
            }
            validate_value_at(&join_field(path, &f.name), &f.schema, v)?;
        }
        Ok(())
    }
}

impl SchemaAndValue {
    /// A schema and a value.
    pub fn new(schema: Option<Schema>, value: Value) -> SchemaAndValue {
        SchemaAndValue { schema, value }
    }

    /// `SchemaAndValue.NULL`: no schema, `Null`.
    pub fn null() -> SchemaAndValue {
        SchemaAndValue {
            schema: None,
            value: Value::Null,
        }
    }
}
