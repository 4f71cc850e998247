//! Connect values. Logical types have values of their own (`Decimal`, `Date`, `Time`,
//! `Timestamp`) so that converters can tell them apart from the integers and bytes that carry
//! them on the wire.

use bigdecimal::BigDecimal;

use super::schema::Schema;

/// A value of the Connect data model. `Null` is the absent value of an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in order; keys may be any value, as in Connect.
    Map(Vec<(Value, Value)>),
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
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: Schema,
    pub values: Vec<Value>,
}

/// A schema (absent for schemaless data) and a value, as converters return them.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<Schema>,
    pub value: Value,
}
