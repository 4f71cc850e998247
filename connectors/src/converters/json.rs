//! `org.apache.kafka.connect.json.JsonConverter`.
//!
//! Output is byte-for-byte what Kafka's converter writes (Jackson's compact output):
//! - with `schemas.enable=true` an envelope `{"schema":…,"payload":…}`; without, the payload;
//! - schemas as `asJsonSchema` builds them: `type`, then `items` (array) / `keys`, `values`
//!   (map) / `fields` (struct), then `optional`, `name`, `version`, `doc`, `parameters`,
//!   `default` (only those set); a struct field is its schema followed by `"field":"<name>"`;
//! - numbers as Java prints them (`12.34`, `1.0E10`), bytes and BASE64 decimals as base64,
//!   NUMERIC decimals as `BigDecimal.toString()`, maps with STRING keys (or, without a schema,
//!   all-string keys) as objects, other maps as arrays of `[key, value]` pairs.
//!
//! Known differences from Kafka:
//! - schema parameters are written in key order (`BTreeMap`), Kafka writes them in insertion
//!   order; only schemas with several parameters are affected (Decimal has one);
//! - an empty parameter map is not written (Kafka writes `"parameters":{}` when parameters were
//!   set to an empty map);
//! - reading is stricter: a JSON value of the wrong kind for its schema (e.g. a string for an
//!   int32) is an error where Kafka silently yields 0/false/null, an array is needed for an
//!   ARRAY, and content after the JSON value is refused;
//! - a NUMERIC decimal read for a Decimal schema is rescaled to the schema's scale when that
//!   is exact (Kafka keeps the scale of the JSON text), else refused;
//! - map entries are written in the order of the `Value::Map` (Kafka iterates a Java
//!   `HashMap`, whose order depends on the keys' hash codes);
//! - floats are printed as JDK 19+ does (see [`crate::data::java_fmt`]);
//! - no schema cache: `schemas.cache.size` is checked but has no effect.

use bigdecimal::{BigDecimal, Zero};

use crate::api::Props;
use crate::data::logical::{
    check_time_millis, decimal_from_logical, decimal_scale, decimal_to_logical, LogicalType,
};
use crate::data::validate::{join_field, location};
use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use super::json_node::JsonNode;
use super::{parse_bool_prop, parse_int_prop, Converter};

/// `schemas.enable`.
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// `schemas.cache.size` (accepted and checked, otherwise unused: nothing is cached).
pub const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
/// `decimal.format`: `BASE64` (default) or `NUMERIC`, case-insensitive.
pub const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
/// `replace.null.with.default`.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

/// Kafka's message when `schemas.enable=true` and the JSON is not an envelope.
pub const ENVELOPE_REQUIRED_MESSAGE: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// How Decimal values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// The unscaled value's two's-complement bytes, base64 (`"AJw="`).
    #[default]
    Base64,
    /// A JSON number (`1.56`).
    Numeric,
}

/// The settings of a [`JsonConverter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonConverterConfig {
    pub schemas_enable: bool,
    pub schemas_cache_size: i32,
    pub decimal_format: DecimalFormat,
    pub replace_null_with_default: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        JsonConverterConfig {
            schemas_enable: true,
            schemas_cache_size: 1000,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        }
    }
}

impl JsonConverterConfig {
    /// Reads the converter's keys (prefix already removed); unknown keys are ignored.
    pub fn from_props(props: &Props) -> ConnectResult<Self> {
        let d = JsonConverterConfig::default();
        let decimal_format = match props.get(DECIMAL_FORMAT_CONFIG) {
            None => d.decimal_format,
            Some(v) => match v.trim().to_ascii_uppercase().as_str() {
                "BASE64" => DecimalFormat::Base64,
                "NUMERIC" => DecimalFormat::Numeric,
                _ => {
                    return Err(ConnectError::config(format!(
                        "Invalid value {v} for configuration {DECIMAL_FORMAT_CONFIG}: String must be one of (case insensitive): BASE64, NUMERIC"
                    )))
                }
            },
        };
        Ok(JsonConverterConfig {
            schemas_enable: parse_bool_prop(props, SCHEMAS_ENABLE_CONFIG, d.schemas_enable)?,
            schemas_cache_size: parse_int_prop(
                props,
                SCHEMAS_CACHE_SIZE_CONFIG,
                d.schemas_cache_size,
            )?,
            decimal_format,
            replace_null_with_default: parse_bool_prop(
                props,
                REPLACE_NULL_WITH_DEFAULT_CONFIG,
                d.replace_null_with_default,
            )?,
        })
    }
}

/// Kafka's `JsonConverter`. [`JsonConverter::new`] gives Kafka's defaults, so configuring is
/// optional.
#[derive(Debug, Clone, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
}

fn data_err(msg: impl Into<String>, path: &str) -> ConnectError {
    let msg = msg.into();
    if path.is_empty() {
        ConnectError::Data(msg)
    } else {
        ConnectError::Data(format!("{msg} ({})", location(path)))
    }
}

impl JsonConverter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(config: JsonConverterConfig) -> Self {
        JsonConverter { config }
    }

    /// A converter with `schemas.enable` set as given and the other settings at their defaults.
    pub fn with_schemas_enabled(enabled: bool) -> Self {
        JsonConverter {
            config: JsonConverterConfig {
                schemas_enable: enabled,
                ..JsonConverterConfig::default()
            },
        }
    }

    pub fn config(&self) -> &JsonConverterConfig {
        &self.config
    }

    // ----------------------------------------------------------------------------------------
    // Schemas

    /// `asJsonSchema`: a Connect schema as Kafka's JSON schema.
    pub fn as_json_schema(&self, schema: &Schema) -> ConnectResult<JsonNode> {
        let mut obj = JsonNode::Object(vec![(
            "type".to_string(),
            JsonNode::String(schema.ty().json_name().to_string()),
        )]);
        let sub = |s: Option<&Schema>| -> ConnectResult<JsonNode> {
            match s {
                Some(s) => self.as_json_schema(s),
                None => Ok(JsonNode::Null),
            }
        };
        match schema.ty() {
            Type::Array => obj.set("items", sub(schema.value_schema())?),
            Type::Map => {
                obj.set("keys", sub(schema.key_schema())?);
                obj.set("values", sub(schema.value_schema())?);
            }
            Type::Struct => {
                let mut fields = Vec::with_capacity(schema.fields().len());
                for f in schema.fields() {
                    let mut fs = self.as_json_schema(&f.schema)?;
                    fs.set("field", JsonNode::String(f.name.clone()));
                    fields.push(fs);
                }
                obj.set("fields", JsonNode::Array(fields));
            }
            _ => {}
        }
        obj.set("optional", JsonNode::Bool(schema.is_optional()));
        if let Some(name) = schema.name() {
            obj.set("name", JsonNode::String(name.to_string()));
        }
        if let Some(version) = schema.version() {
            obj.set("version", JsonNode::Int(i64::from(version)));
        }
        if let Some(doc) = schema.doc() {
            obj.set("doc", JsonNode::String(doc.to_string()));
        }
        if !schema.parameters().is_empty() {
            obj.set(
                "parameters",
                JsonNode::Object(
                    schema
                        .parameters()
                        .iter()
                        .map(|(k, v)| (k.clone(), JsonNode::String(v.clone())))
                        .collect(),
                ),
            );
        }
        if let Some(default) = schema.default_value().filter(|d| !d.is_null()) {
            obj.set("default", self.convert_to_json(Some(schema), default, "")?);
        }
        Ok(obj)
    }

    /// `asConnectSchema`: Kafka's JSON schema as a Connect schema; JSON `null` is no schema.
    pub fn as_connect_schema(&self, json: &JsonNode) -> ConnectResult<Option<Schema>> {
        if json.is_null() {
            return Ok(None);
        }
        let type_name = json
            .get("type")
            .and_then(JsonNode::as_str)
            .ok_or_else(|| ConnectError::data("Schema must contain 'type' field"))?;
        let ty = Type::from_json_name(type_name)
            .ok_or_else(|| ConnectError::data(format!("Unknown schema type: {type_name}")))?;
        let mut builder = match ty {
            Type::Array => {
                let items = json.get("items").filter(|n| !n.is_null()).ok_or_else(|| {
                    ConnectError::data("Array schema did not specify the element type")
                })?;
                SchemaBuilder::array(self.required_schema(items, "Array element")?)
            }
            Type::Map => {
                let keys = json
                    .get("keys")
                    .ok_or_else(|| ConnectError::data("Map schema did not specify the key type"))?;
                let values = json.get("values").ok_or_else(|| {
                    ConnectError::data("Map schema did not specify the value type")
                })?;
                SchemaBuilder::map(
                    self.required_schema(keys, "Map key")?,
                    self.required_schema(values, "Map value")?,
                )
            }
            Type::Struct => {
                let Some(JsonNode::Array(fields)) = json.get("fields") else {
                    return Err(ConnectError::data(
                        "Struct schema's \"fields\" argument is not an array.",
                    ));
                };
                let mut b = SchemaBuilder::struct_();
                for field in fields {
                    let name = field
                        .get("field")
                        .and_then(JsonNode::as_str)
                        .ok_or_else(|| {
                            ConnectError::data("Struct schema's field name not specified properly")
                        })?;
                    let fs = self.required_schema(field, "Struct field")?;
                    b = b.field(name, fs);
                }
                b
            }
            _ => SchemaBuilder::new(ty),
        };
        if let Some(JsonNode::Bool(true)) = json.get("optional") {
            builder = builder.optional();
        }
        if let Some(name) = json.get("name").and_then(JsonNode::as_str) {
            builder = builder.name(name);
        }
        if let Some(v) = json.get("version").filter(|n| n.is_integral()) {
            builder = builder.version(v.wrapping_i64().unwrap_or(0) as i32);
        }
        if let Some(doc) = json.get("doc").and_then(JsonNode::as_str) {
            builder = builder.doc(doc);
        }
        if let Some(JsonNode::Object(params)) = json.get("parameters") {
            for (k, v) in params {
                let v = v.as_str().ok_or_else(|| {
                    ConnectError::data("Schema parameters must have string values.")
                })?;
                builder = builder.parameter(k.clone(), v);
            }
        }
        if let Some(default) = json.get("default") {
            let partial = builder.clone().build();
            let v = self.convert_to_connect(Some(&partial), Some(default), "")?;
            if !v.is_null() {
                builder = builder.default_value(v);
            }
        }
        builder.try_build().map(Some)
    }

    fn required_schema(&self, json: &JsonNode, what: &str) -> ConnectResult<Schema> {
        self.as_connect_schema(json)?
            .ok_or_else(|| ConnectError::data(format!("{what} schema cannot be null")))
    }

    /// A schema as the compact JSON text Kafka writes in the envelope.
    pub fn schema_to_json_string(&self, schema: &Schema) -> ConnectResult<String> {
        Ok(self.as_json_schema(schema)?.to_json_string())
    }

    /// Parses a JSON schema (as in the envelope); `null` is no schema.
    pub fn schema_from_json_str(&self, json: &str) -> ConnectResult<Option<Schema>> {
        let node = JsonNode::parse(json.as_bytes())
            .map_err(ConnectError::data)?
            .ok_or_else(|| ConnectError::data("empty schema JSON"))?;
        self.as_connect_schema(&node)
    }

    // ----------------------------------------------------------------------------------------
    // Values

    /// `convertToJson`: a value (checked against its schema as it goes) as a JSON payload.
    pub fn to_json_node(&self, schema: Option<&Schema>, value: &Value) -> ConnectResult<JsonNode> {
        self.convert_to_json(schema, value, "")
    }

    /// `convertToConnect`: a JSON payload as a value of `schema` (schemaless when `None`).
    pub fn from_json_node(&self, schema: Option<&Schema>, json: &JsonNode) -> ConnectResult<Value> {
        self.convert_to_connect(schema, Some(json), "")
    }

    fn convert_to_json(
        &self,
        schema: Option<&Schema>,
        value: &Value,
        path: &str,
    ) -> ConnectResult<JsonNode> {
        if value.is_null() {
            let Some(schema) = schema else {
                return Ok(JsonNode::Null);
            };
            if self.config.replace_null_with_default {
                if let Some(default) = schema.default_value().filter(|d| !d.is_null()) {
                    return self.convert_to_json(Some(schema), default, path);
                }
            }
            if schema.is_optional() {
                return Ok(JsonNode::Null);
            }
            return Err(data_err(
                "Conversion error: null value for field that is required and has no default value",
                path,
            ));
        }

        if let Some(s) = schema {
            if let Some(lt) = s.logical_type() {
                return self.logical_to_json(s, lt, value, path);
            }
        }

        let ty = match schema {
            Some(s) => s.ty(),
            None => match value {
                Value::Struct(_) => return Err(data_err("Mismatching schema.", path)),
                v => v.schema_type().ok_or_else(|| {
                    data_err(
                        format!(
                            "{} value does not have corresponding schema type.",
                            v.kind()
                        ),
                        path,
                    )
                })?,
            },
        };
        let wrong = || data_err(format!("Invalid type for {ty}: {}", value.kind()), path);
        Ok(match (ty, value) {
            (Type::Int8, Value::Int8(v)) => JsonNode::Int(i64::from(*v)),
            (Type::Int16, Value::Int16(v)) => JsonNode::Int(i64::from(*v)),
            (Type::Int32, Value::Int32(v)) => JsonNode::Int(i64::from(*v)),
            (Type::Int64, Value::Int64(v)) => JsonNode::Int(*v),
            (Type::Float32, Value::Float32(v)) => JsonNode::Float(*v),
            (Type::Float64, Value::Float64(v)) => JsonNode::Double(*v),
            (Type::Boolean, Value::Boolean(v)) => JsonNode::Bool(*v),
            (Type::String, Value::String(v)) => JsonNode::String(v.clone()),
            (Type::Bytes, Value::Bytes(v)) => JsonNode::Binary(v.clone()),
            (Type::Array, Value::Array(items)) => {
                let elem = schema.and_then(Schema::value_schema);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.convert_to_json(elem, item, &format!("{path}[{i}]"))?);
                }
                JsonNode::Array(out)
            }
            (Type::Map, Value::Map(entries)) => {
                let (ks, vs) = match schema {
                    Some(s) => {
                        let ks = s
                            .key_schema()
                            .ok_or_else(|| data_err("Map schema has no key schema", path))?;
                        (Some(ks), s.value_schema())
                    }
                    None => (None, None),
                };
                let object_mode = match ks {
                    Some(ks) => ks.ty() == Type::String,
                    None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
                };
                if object_mode {
                    let mut obj = JsonNode::Object(Vec::with_capacity(entries.len()));
                    for (k, v) in entries {
                        let key = self.convert_to_json(ks, k, path)?.as_text();
                        let val = self.convert_to_json(vs, v, &format!("{path}[{key}]"))?;
                        obj.set(&key, val);
                    }
                    obj
                } else {
                    let mut out = Vec::with_capacity(entries.len());
                    for (i, (k, v)) in entries.iter().enumerate() {
                        let key = self.convert_to_json(ks, k, &format!("{path}.<key #{i}>"))?;
                        let val = self.convert_to_json(
                            vs,
                            v,
                            &format!("{path}[{}]", k.to_java_string()),
                        )?;
                        out.push(JsonNode::Array(vec![key, val]));
                    }
                    JsonNode::Array(out)
                }
            }
            (Type::Struct, Value::Struct(st)) => {
                let schema = schema.expect("schemaless structs were refused above");
                if !st.schema.same_struct_schema(schema) {
                    return Err(data_err("Mismatching schema.", path));
                }
                let mut obj = Vec::with_capacity(schema.fields().len());
                for (i, f) in schema.fields().iter().enumerate() {
                    let v = if self.config.replace_null_with_default {
                        st.get_at(i)
                    } else {
                        st.values.get(i).unwrap_or(&Value::Null)
                    };
                    let node =
                        self.convert_to_json(Some(&f.schema), v, &join_field(path, &f.name))?;
                    obj.push((f.name.clone(), node));
                }
                JsonNode::Object(obj)
            }
            _ => return Err(wrong()),
        })
    }

    fn logical_to_json(
        &self,
        schema: &Schema,
        lt: LogicalType,
        value: &Value,
        path: &str,
    ) -> ConnectResult<JsonNode> {
        match (lt, value) {
            (LogicalType::Decimal, Value::Decimal(d)) => match self.config.decimal_format {
                DecimalFormat::Numeric => Ok(JsonNode::Decimal(d.clone())),
                DecimalFormat::Base64 => decimal_from_logical(schema, d)
                    .map(JsonNode::Binary)
                    .map_err(|e| data_err(err_text(&e), path)),
            },
            (LogicalType::Decimal, v) => Err(data_err(
                format!(
                    "Invalid type for Decimal, expected BigDecimal but was {}",
                    v.kind()
                ),
                path,
            )),
            (LogicalType::Date, Value::Date(days)) => Ok(JsonNode::Int(i64::from(*days))),
            (LogicalType::Time, Value::Time(ms)) => {
                if check_time_millis(*ms).is_err() {
                    return Err(data_err(
                        "Kafka Connect Time type should not have any date fields set to non-zero values.",
                        path,
                    ));
                }
                Ok(JsonNode::Int(i64::from(*ms)))
            }
            (LogicalType::Timestamp, Value::Timestamp(ms)) => Ok(JsonNode::Int(*ms)),
            (lt, v) => {
                let name = match lt {
                    LogicalType::Date => "Date",
                    LogicalType::Time => "Time",
                    _ => "Timestamp",
                };
                Err(data_err(
                    format!(
                        "Invalid type for {name}, expected Date but was {}",
                        v.kind()
                    ),
                    path,
                ))
            }
        }
    }

    fn convert_to_connect(
        &self,
        schema: Option<&Schema>,
        json: Option<&JsonNode>,
        path: &str,
    ) -> ConnectResult<Value> {
        let ty = match schema {
            Some(s) => {
                if json.is_none_or(JsonNode::is_null) {
                    if self.config.replace_null_with_default {
                        if let Some(default) = s.default_value().filter(|d| !d.is_null()) {
                            return Ok(default.clone());
                        }
                    }
                    if s.is_optional() {
                        return Ok(Value::Null);
                    }
                    return Err(data_err(
                        format!("Invalid null value for required {} field", s.ty()),
                        path,
                    ));
                }
                s.ty()
            }
            None => match json {
                None | Some(JsonNode::Null) => return Ok(Value::Null),
                Some(JsonNode::Bool(_)) => Type::Boolean,
                Some(n) if n.is_number() => {
                    if n.is_integral() {
                        Type::Int64
                    } else {
                        Type::Float64
                    }
                }
                Some(JsonNode::Array(_)) => Type::Array,
                Some(JsonNode::Object(_)) => Type::Map,
                Some(JsonNode::String(_)) => Type::String,
                Some(n) => {
                    return Err(data_err(
                        format!("Unknown schema type for JSON {}", n.node_type()),
                        path,
                    ))
                }
            },
        };
        let json = json.expect("null JSON was handled above");

        if let Some(s) = schema {
            if let Some(lt) = s.logical_type() {
                return self.logical_to_connect(s, lt, json, path);
            }
        }

        let wrong = || {
            data_err(
                format!("Invalid JSON {} for schema type {ty}", json.node_type()),
                path,
            )
        };
        let int = || {
            json.is_number()
                .then(|| json.wrapping_i64())
                .flatten()
                .ok_or_else(wrong)
        };
        Ok(match ty {
            Type::Boolean => match json {
                JsonNode::Bool(b) => Value::Boolean(*b),
                _ => return Err(wrong()),
            },
            Type::Int8 => Value::Int8(int()? as i8),
            Type::Int16 => Value::Int16(int()? as i16),
            Type::Int32 => Value::Int32(int()? as i32),
            Type::Int64 => Value::Int64(int()?),
            Type::Float32 => Value::Float32(json.f32_value().ok_or_else(wrong)?),
            Type::Float64 => Value::Float64(json.f64_value().ok_or_else(wrong)?),
            Type::Bytes => match json.binary_value() {
                Some(Ok(b)) => Value::Bytes(b),
                Some(Err(e)) => return Err(data_err(format!("Invalid bytes field: {e}"), path)),
                None => return Err(wrong()),
            },
            Type::String => match json {
                JsonNode::String(s) => Value::String(s.clone()),
                _ => return Err(wrong()),
            },
            Type::Array => {
                let JsonNode::Array(items) = json else {
                    return Err(wrong());
                };
                let elem = schema.and_then(Schema::value_schema);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.convert_to_connect(elem, Some(item), &format!("{path}[{i}]"))?);
                }
                Value::Array(out)
            }
            Type::Map => {
                let (ks, vs) = match schema {
                    Some(s) => (
                        Some(
                            s.key_schema()
                                .ok_or_else(|| data_err("Map schema has no key schema", path))?,
                        ),
                        s.value_schema(),
                    ),
                    None => (None, None),
                };
                if ks.is_none_or(|k| k.ty() == Type::String) {
                    let JsonNode::Object(members) = json else {
                        return Err(data_err(
                            format!(
                                "Maps with string fields should be encoded as JSON objects, but found {}",
                                json.node_type()
                            ),
                            path,
                        ));
                    };
                    let mut out = Vec::with_capacity(members.len());
                    for (k, v) in members {
                        let val = self.convert_to_connect(vs, Some(v), &format!("{path}[{k}]"))?;
                        out.push((Value::String(k.clone()), val));
                    }
                    Value::Map(out)
                } else {
                    let JsonNode::Array(entries) = json else {
                        return Err(data_err(
                            format!(
                                "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                                json.node_type()
                            ),
                            path,
                        ));
                    };
                    let mut out = Vec::with_capacity(entries.len());
                    for (i, entry) in entries.iter().enumerate() {
                        let JsonNode::Array(pair) = entry else {
                            return Err(data_err(
                                format!(
                                    "Found invalid map entry instead of array tuple: {}",
                                    entry.node_type()
                                ),
                                path,
                            ));
                        };
                        if pair.len() != 2 {
                            return Err(data_err(
                                format!(
                                    "Found invalid map entry, expected length 2 but found :{}",
                                    pair.len()
                                ),
                                path,
                            ));
                        }
                        let key = self.convert_to_connect(
                            ks,
                            Some(&pair[0]),
                            &format!("{path}.<key #{i}>"),
                        )?;
                        let val = self.convert_to_connect(
                            vs,
                            Some(&pair[1]),
                            &format!("{path}[{}]", key.to_java_string()),
                        )?;
                        out.push((key, val));
                    }
                    Value::Map(out)
                }
            }
            Type::Struct => {
                let JsonNode::Object(_) = json else {
                    return Err(data_err(
                        format!(
                            "Structs should be encoded as JSON objects, but found {}",
                            json.node_type()
                        ),
                        path,
                    ));
                };
                let schema = schema.expect("schemaless JSON objects are maps");
                let mut st = Struct::new(schema.clone())?;
                for (i, f) in schema.fields().iter().enumerate() {
                    let fpath = join_field(path, &f.name);
                    let v = self.convert_to_connect(Some(&f.schema), json.get(&f.name), &fpath)?;
                    crate::data::validate_value_at(&fpath, &f.schema, &v)?;
                    st.values[i] = v;
                }
                Value::Struct(st)
            }
        })
    }

    fn logical_to_connect(
        &self,
        schema: &Schema,
        lt: LogicalType,
        json: &JsonNode,
        path: &str,
    ) -> ConnectResult<Value> {
        match lt {
            LogicalType::Decimal => {
                if json.is_number() {
                    let d = json
                        .decimal_value()
                        .ok_or_else(|| data_err("Invalid number for Decimal field", path))?;
                    let scale = i64::from(decimal_scale(schema)?);
                    let have = d.fractional_digit_count();
                    if have == scale {
                        return Ok(Value::Decimal(d));
                    }
                    if d.is_zero() {
                        return Ok(Value::Decimal(BigDecimal::new(0.into(), scale)));
                    }
                    let exact = if have > scale {
                        d.normalized().fractional_digit_count() <= scale
                    } else {
                        scale - have <= 10_000
                    };
                    if !exact {
                        return Err(data_err(
                            format!(
                                "Decimal value {} cannot be represented with the schema's scale {scale}",
                                json.as_text()
                            ),
                            path,
                        ));
                    }
                    return Ok(Value::Decimal(d.with_scale(scale)));
                }
                match json.binary_value() {
                    Some(Ok(bytes)) => decimal_to_logical(schema, &bytes)
                        .map(Value::Decimal)
                        .map_err(|e| data_err(format!("Invalid bytes for Decimal field: {}", err_text(&e)), path)),
                    Some(Err(e)) => Err(data_err(format!("Invalid bytes for Decimal field: {e}"), path)),
                    None => Err(data_err(
                        format!(
                            "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                            json.node_type()
                        ),
                        path,
                    )),
                }
            }
            LogicalType::Date | LogicalType::Time => {
                let name = if lt == LogicalType::Date {
                    "Date"
                } else {
                    "Time"
                };
                if !json.is_int() {
                    return Err(data_err(
                        format!(
                            "Invalid type for {name}, underlying representation should be integer but was {}",
                            json.node_type()
                        ),
                        path,
                    ));
                }
                let v = json.wrapping_i64().unwrap_or(0) as i32;
                if lt == LogicalType::Date {
                    Ok(Value::Date(v))
                } else {
                    check_time_millis(v).map_err(|e| data_err(err_text(&e), path))?;
                    Ok(Value::Time(v))
                }
            }
            LogicalType::Timestamp => {
                if !json.is_integral() {
                    return Err(data_err(
                        format!(
                            "Invalid type for Timestamp, underlying representation should be integral but was {}",
                            json.node_type()
                        ),
                        path,
                    ));
                }
                Ok(Value::Timestamp(json.wrapping_i64().unwrap_or(0)))
            }
        }
    }
}

fn err_text(e: &ConnectError) -> String {
    match e {
        ConnectError::Data(m)
        | ConnectError::Config(m)
        | ConnectError::Retriable(m)
        | ConnectError::Other(m) => m.clone(),
    }
}

impl Converter for JsonConverter {
    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        self.config = JsonConverterConfig::from_props(props)?;
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> ConnectResult<Option<Vec<u8>>> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let node = if self.config.schemas_enable {
            let schema_node = match schema {
                Some(s) => self.as_json_schema(s)?,
                None => JsonNode::Null,
            };
            let payload = self.convert_to_json(schema, value, "")?;
            JsonNode::Object(vec![
                ("schema".to_string(), schema_node),
                ("payload".to_string(), payload),
            ])
        } else {
            self.convert_to_json(schema, value, "")?
        };
        Ok(Some(node.to_json_string().into_bytes()))
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        let node = JsonNode::parse(bytes).map_err(|e| {
            ConnectError::data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ))
        })?;
        if !self.config.schemas_enable {
            let value = self.convert_to_connect(None, node.as_ref(), "")?;
            return Ok(SchemaAndValue::new(None, value));
        }
        let envelope = match &node {
            Some(n @ JsonNode::Object(members))
                if members.len() == 2
                    && n.get("schema").is_some()
                    && n.get("payload").is_some() =>
            {
                n
            }
            _ => return Err(ConnectError::data(ENVELOPE_REQUIRED_MESSAGE)),
        };
        let schema = self.as_connect_schema(envelope.get("schema").unwrap_or(&JsonNode::Null))?;
        let value = self.convert_to_connect(schema.as_ref(), envelope.get("payload"), "")?;
        Ok(SchemaAndValue::new(schema, value))
    }
}
