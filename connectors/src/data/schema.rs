//! Connect schemas: a type, optionality, a default, a name and version, docs and parameters,
//! and for the container types their element, key/value or field schemas.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use super::logical::LogicalType;
use super::value::Value;
use crate::error::{ConnectError, ConnectResult};

/// The schema types of Kafka Connect (`Schema.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// An 8-bit signed integer.
    Int8,
    /// A 16-bit signed integer.
    Int16,
    /// A 32-bit signed integer.
    Int32,
    /// A 64-bit signed integer.
    Int64,
    /// A 32-bit float.
    Float32,
    /// A 64-bit float.
    Float64,
    /// `true` or `false`.
    Boolean,
    /// UTF-8 text.
    String,
    /// Bytes.
    Bytes,
    /// A list of values of one schema.
    Array,
    /// Key-value pairs, keys of one schema and values of another.
    Map,
    /// Named fields, each with its own schema.
    Struct,
}

impl Type {
    /// The lower-case name Connect's JSON schemas use (`int8`, `float`, `double`, …).
    pub fn json_name(self) -> &'static str {
        match self {
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }

    /// Whether values of this type hold no other values (not ARRAY, MAP or STRUCT).
    pub fn is_primitive(self) -> bool {
        !matches!(self, Type::Array | Type::Map | Type::Struct)
    }

    /// The upper-case enum name Java uses (`Schema.Type.INT32.toString()` → `INT32`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Int8 => "INT8",
            Type::Int16 => "INT16",
            Type::Int32 => "INT32",
            Type::Int64 => "INT64",
            Type::Float32 => "FLOAT32",
            Type::Float64 => "FLOAT64",
            Type::Boolean => "BOOLEAN",
            Type::String => "STRING",
            Type::Bytes => "BYTES",
            Type::Array => "ARRAY",
            Type::Map => "MAP",
            Type::Struct => "STRUCT",
        }
    }

    /// The inverse of [`Type::json_name`].
    pub fn from_json_name(name: &str) -> Option<Type> {
        Some(match name {
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "float" => Type::Float32,
            "double" => Type::Float64,
            "boolean" => Type::Boolean,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "array" => Type::Array,
            "map" => Type::Map,
            "struct" => Type::Struct,
            _ => return None,
        })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its position in the struct (0-based).
    pub index: usize,
    /// Its schema.
    pub schema: Schema,
}

/// A Connect schema. Cheap to clone (the body is shared).
///
/// # Example
///
/// ```
/// use kconnect_connectors::data::{Schema, SchemaBuilder, Type};
///
/// let user = SchemaBuilder::struct_()
///     .name("com.example.User")
///     .field("id", Schema::int64())
///     .field("email", Schema::optional_string())
///     .build();
/// assert_eq!(user.ty(), Type::Struct);
/// assert_eq!(user.name(), Some("com.example.User"));
/// let email = user.field("email").unwrap();
/// assert_eq!(email.index, 1);
/// assert!(email.schema.is_optional());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Schema(pub Arc<SchemaBody>);

/// What a [`Schema`] holds; read it through the schema's accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaBody {
    /// The type.
    pub ty: Type,
    /// Whether values may be null.
    pub optional: bool,
    /// The default value, if any.
    pub default: Option<Value>,
    /// The schema's name (a logical type's, or a record type's such as `com.example.User`).
    pub name: Option<String>,
    /// The schema's version, if any.
    pub version: Option<i32>,
    /// Documentation of the schema.
    pub doc: Option<String>,
    /// Extra parameters (a Decimal's `scale`, converters' hints).
    pub parameters: BTreeMap<String, String>,
    /// Element schema of an ARRAY.
    pub value_schema: Option<Schema>,
    /// Key schema of a MAP (its value schema is `value_schema`).
    pub key_schema: Option<Schema>,
    /// Fields of a STRUCT, in order.
    pub fields: Vec<Field>,
}

impl Schema {
    /// The type.
    pub fn ty(&self) -> Type {
        self.0.ty
    }
    /// Whether values may be null.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }
    /// The default value, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.0.default.as_ref()
    }
    /// The schema's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The schema's version, if any.
    pub fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// The schema's documentation, if any.
    pub fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// The schema's parameters.
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.0.parameters
    }
    /// Element schema of an ARRAY, value schema of a MAP.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.0.value_schema.as_ref()
    }
    /// The key schema of a MAP.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.0.key_schema.as_ref()
    }
    /// The fields of a STRUCT, in order (empty for other types).
    pub fn fields(&self) -> &[Field] {
        &self.0.fields
    }
    /// The field named `name` of a STRUCT.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }

    // The predefined schemas of `Schema.*_SCHEMA` and `Schema.OPTIONAL_*_SCHEMA`. Each is built
    // once and shared: a source that tags every record with `Schema::string()` clones an `Arc`,
    // it allocates nothing.
    /// A required INT8 schema.
    pub fn int8() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int8, false));
        S.clone()
    }
    /// A required INT16 schema.
    pub fn int16() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int16, false));
        S.clone()
    }
    /// A required INT32 schema.
    pub fn int32() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int32, false));
        S.clone()
    }
    /// A required INT64 schema.
    pub fn int64() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int64, false));
        S.clone()
    }
    /// A required FLOAT32 schema.
    pub fn float32() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Float32, false));
        S.clone()
    }
    /// A required FLOAT64 schema.
    pub fn float64() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Float64, false));
        S.clone()
    }
    /// A required BOOLEAN schema.
    pub fn boolean() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Boolean, false));
        S.clone()
    }
    /// A required STRING schema.
    pub fn string() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::String, false));
        S.clone()
    }
    /// A required BYTES schema.
    pub fn bytes() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Bytes, false));
        S.clone()
    }
    /// An optional STRING schema.
    pub fn optional_string() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::String, true));
        S.clone()
    }
    /// An optional BYTES schema.
    pub fn optional_bytes() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Bytes, true));
        S.clone()
    }
    /// An optional INT64 schema.
    pub fn optional_int64() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int64, true));
        S.clone()
    }
    /// An optional INT32 schema.
    pub fn optional_int32() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int32, true));
        S.clone()
    }
    /// An optional INT8 schema.
    pub fn optional_int8() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int8, true));
        S.clone()
    }
    /// An optional INT16 schema.
    pub fn optional_int16() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Int16, true));
        S.clone()
    }
    /// An optional FLOAT32 schema.
    pub fn optional_float32() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Float32, true));
        S.clone()
    }
    /// An optional FLOAT64 schema.
    pub fn optional_float64() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Float64, true));
        S.clone()
    }
    /// An optional BOOLEAN schema.
    pub fn optional_boolean() -> Schema {
        static S: LazyLock<Schema> = LazyLock::new(|| primitive(Type::Boolean, true));
        S.clone()
    }

    /// The logical type this schema carries, recognised by its name
    /// (`org.apache.kafka.connect.data.Decimal`, …), if any.
    pub fn logical_type(&self) -> Option<LogicalType> {
        LogicalType::of(self)
    }

    /// Checks `value` against this schema like Java's `ConnectSchema.validateValue`; see
    /// [`crate::data::validate_value`].
    pub fn validate_value(&self, value: &Value) -> ConnectResult<()> {
        super::validate::validate_value(self, value)
    }

    /// A builder initialised with everything this schema has, to derive a variant of it.
    pub fn to_builder(&self) -> SchemaBuilder {
        SchemaBuilder((*self.0).clone())
    }

    /// Equality as used when a struct value is checked against a schema: everything but the
    /// schema's own default value must match. A struct-typed default cannot hold the schema
    /// it is the default of (that would be a cycle), so its struct carries the schema without
    /// the default.
    pub fn same_struct_schema(&self, other: &Schema) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) || self == other {
            return true;
        }
        let (a, b) = (&*self.0, &*other.0);
        a.ty == b.ty
            && a.optional == b.optional
            && a.name == b.name
            && a.version == b.version
            && a.doc == b.doc
            && a.parameters == b.parameters
            && a.value_schema == b.value_schema
            && a.key_schema == b.key_schema
            && a.fields == b.fields
    }
}

/// A predefined primitive schema, built once by its `LazyLock`.
fn primitive(ty: Type, optional: bool) -> Schema {
    let b = SchemaBuilder::new(ty);
    if optional { b.optional() } else { b }.build()
}

/// Builds a [`Schema`], like Connect's `SchemaBuilder`.
#[derive(Debug, Clone)]
pub struct SchemaBuilder(SchemaBody);

impl SchemaBuilder {
    /// A builder of a required schema of type `ty`.
    pub fn new(ty: Type) -> Self {
        SchemaBuilder(SchemaBody {
            ty,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            value_schema: None,
            key_schema: None,
            fields: Vec::new(),
        })
    }
    /// An ARRAY of `element`s.
    pub fn array(element: Schema) -> Self {
        let mut b = Self::new(Type::Array);
        b.0.value_schema = Some(element);
        b
    }
    /// A MAP from `key` to `value`.
    pub fn map(key: Schema, value: Schema) -> Self {
        let mut b = Self::new(Type::Map);
        b.0.key_schema = Some(key);
        b.0.value_schema = Some(value);
        b
    }
    /// A STRUCT; add its fields with [`field`](SchemaBuilder::field).
    pub fn struct_() -> Self {
        Self::new(Type::Struct)
    }
    /// Values may be null.
    pub fn optional(mut self) -> Self {
        self.0.optional = true;
        self
    }
    /// Values may not be null (the default).
    pub fn required(mut self) -> Self {
        self.0.optional = false;
        self
    }
    /// The default value.
    pub fn default_value(mut self, v: Value) -> Self {
        self.0.default = Some(v);
        self
    }
    /// The schema's name.
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.0.name = Some(n.into());
        self
    }
    /// The schema's version.
    pub fn version(mut self, v: i32) -> Self {
        self.0.version = Some(v);
        self
    }
    /// The schema's documentation.
    pub fn doc(mut self, d: impl Into<String>) -> Self {
        self.0.doc = Some(d.into());
        self
    }
    /// Adds a parameter.
    pub fn parameter(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.0.parameters.insert(k.into(), v.into());
        self
    }
    /// Adds a field to a STRUCT schema. Field names must be unique.
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Self {
        let index = self.0.fields.len();
        self.0.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }
    /// The schema.
    pub fn build(self) -> Schema {
        Schema(Arc::new(self.0))
    }

    /// Like [`SchemaBuilder::build`], but checks the schema first as Java's `SchemaBuilder`
    /// does: an ARRAY needs an element schema, a MAP key and value schemas, struct field
    /// names must be unique and only a STRUCT may have fields, and a default value must be
    /// valid for the schema.
    pub fn try_build(self) -> ConnectResult<Schema> {
        let body = &self.0;
        match body.ty {
            Type::Array if body.value_schema.is_none() => {
                return Err(ConnectError::data("ARRAY schema has no element schema"));
            }
            Type::Map if body.key_schema.is_none() || body.value_schema.is_none() => {
                return Err(ConnectError::data("MAP schema needs key and value schemas"));
            }
            _ => {}
        }
        if body.ty != Type::Struct && !body.fields.is_empty() {
            return Err(ConnectError::data(format!(
                "cannot add fields to a schema of type {}",
                body.ty
            )));
        }
        for (i, f) in body.fields.iter().enumerate() {
            if body.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(ConnectError::data(format!(
                    "Cannot create field because of field name duplication {}",
                    f.name
                )));
            }
        }
        let schema = self.build();
        if let Some(default) = schema.default_value() {
            if *default != Value::Null {
                super::validate::validate_value(&schema, default).map_err(|e| {
                    ConnectError::data(format!("Invalid default value: {}", error_text(&e)))
                })?;
            }
        }
        Ok(schema)
    }
}

fn error_text(e: &ConnectError) -> String {
    match e {
        ConnectError::Data(m)
        | ConnectError::Config(m)
        | ConnectError::Retriable(m)
        | ConnectError::Other(m) => m.clone(),
    }
}
