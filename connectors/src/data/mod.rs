//! The Connect data model: schemas, values, structs and logical types.

pub mod logical;
pub mod schema;
pub mod value;

pub use schema::{Field, Schema, SchemaBuilder, Type};
pub use value::{SchemaAndValue, Struct, Value};
