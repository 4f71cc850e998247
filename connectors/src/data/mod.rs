//! The Connect data model: schemas, values, structs and logical types.

pub mod java_fmt;
pub mod logical;
pub mod schema;
pub mod simple_date_format;
pub mod validate;
pub mod value;
pub mod values;

pub use logical::{date_schema, decimal_schema, time_schema, timestamp_schema, LogicalType};
pub use schema::{Field, Schema, SchemaBuilder, Type};
pub use validate::{validate_value, validate_value_at};
pub use value::{SchemaAndValue, Struct, Value};
