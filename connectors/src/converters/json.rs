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
//! - the reading cache is keyed by the schema's JSON text where Kafka keys it by the parsed
//!   JSON tree, so the same schema spelt with other spacing or key order is converted again.
//!
//! The data path: writing walks the value into the output bytes through serde
//! (`json_write.rs`); reading parses with serde straight into Connect values
//! (`json_read.rs`) and falls back to the tree-based reference reader here
//! ([`JsonNode`], `convert_to_connect`) for anything unusual, including every error. Both
//! directions cache schema conversions (`schemas.cache.size`, `schema_cache.rs`).

use bigdecimal::{BigDecimal, Zero};

use crate::api::Props;
use crate::data::logical::{check_time_millis, decimal_scale, decimal_to_logical, LogicalType};
use crate::data::validate::{join_field, location};
use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::error::{ConnectError, ConnectResult};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::json_node::JsonNode;
use super::json_write::{self, Ctx};
use super::schema_cache::{Lru, SchemaKey};
use super::{json_read, parse_bool_prop, parse_int_prop, Converter};

/// `schemas.enable`.
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// `schemas.cache.size`: how many schemas each direction keeps converted (default 1000).
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
    /// `schemas.enable`: whether messages carry the schema with the payload (`{"schema",
    /// "payload"}`).
    pub schemas_enable: bool,
    /// `schemas.cache.size`: how many schemas are kept converted.
    pub schemas_cache_size: i32,
    /// `decimal.format`: how Decimal values are written.
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default`: whether a null field with a schema default is written as the
    /// default.
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
#[derive(Debug, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    /// Behind a lock because `Converter` methods take `&self` (as Kafka's do, whose caches
    /// are synchronized too); a task owns its converters, so the lock is never contended.
    caches: Mutex<SchemaCaches>,
    /// The length of the last record written, to size the next one's buffer in one go.
    last_len: AtomicUsize,
}

impl Clone for JsonConverter {
    /// A converter with the same settings and empty caches.
    fn clone(&self) -> Self {
        JsonConverter::with_config(self.config.clone())
    }
}

/// Schema conversions already done, each direction with its most recent one at hand (a
/// topic's records usually share one schema, often the very same `Arc`).
#[derive(Debug)]
struct SchemaCaches {
    to_json: Lru<SchemaKey, Arc<[u8]>>,
    last_to_json: Option<(Schema, Arc<[u8]>)>,
    /// JSON text → the schema and whether [`json_read`] can read its values.
    to_connect: Lru<Box<str>, ReadSchema>,
    last_to_connect: Option<(Box<str>, ReadSchema)>,
}

/// An envelope's schema as read, and whether the fast reader can read values of it.
type ReadSchema = (Option<Schema>, bool);

impl SchemaCaches {
    fn new(size: i32) -> Self {
        SchemaCaches {
            to_json: Lru::new(size),
            last_to_json: None,
            to_connect: Lru::new(size),
            last_to_connect: None,
        }
    }
}

impl Default for SchemaCaches {
    fn default() -> Self {
        SchemaCaches::new(JsonConverterConfig::default().schemas_cache_size)
    }
}

/// A NUMERIC decimal read for a schema of `scale`: rescaled when that is exact, else `None`.
pub(crate) fn rescale_decimal(d: BigDecimal, scale: i64) -> Option<BigDecimal> {
    let have = d.fractional_digit_count();
    if have == scale {
        return Some(d);
    }
    if d.is_zero() {
        return Some(BigDecimal::new(0.into(), scale));
    }
    let exact = if have > scale {
        d.normalized().fractional_digit_count() <= scale
    } else {
        scale - have <= 10_000
    };
    exact.then(|| d.with_scale(scale))
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
    /// A converter with Connect's defaults (`schemas.enable=true`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A converter with `config`.
    pub fn with_config(config: JsonConverterConfig) -> Self {
        JsonConverter {
            caches: Mutex::new(SchemaCaches::new(config.schemas_cache_size)),
            config,
            last_len: AtomicUsize::new(0),
        }
    }

    /// A converter with `schemas.enable` set as given and the other settings at their defaults.
    pub fn with_schemas_enabled(enabled: bool) -> Self {
        JsonConverter::with_config(JsonConverterConfig {
            schemas_enable: enabled,
            ..JsonConverterConfig::default()
        })
    }

    fn caches(&self) -> MutexGuard<'_, SchemaCaches> {
        // A panic while holding the lock cannot leave a cache inconsistent for its readers
        // (entries are inserted whole), so a poisoned lock is used as is.
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many schemas are cached for writing and for reading.
    pub fn cached_schemas(&self) -> (usize, usize) {
        let c = self.caches();
        (c.to_json.len(), c.to_connect.len())
    }

    /// Appends `asJsonSchema(schema)`, converted once per distinct schema.
    fn write_schema_cached(&self, schema: &Schema, out: &mut Vec<u8>) -> ConnectResult<()> {
        let mut caches = self.caches();
        if let Some((s, text)) = &caches.last_to_json {
            if Arc::ptr_eq(&s.0, &schema.0) {
                out.extend_from_slice(text);
                return Ok(());
            }
        }
        let key = SchemaKey(schema.clone());
        let text = match caches.to_json.get(&key) {
            Some(text) => text,
            None => {
                let mut buf = Vec::new();
                json_write::write_schema(&Ctx::new(&self.config), schema, &mut buf)?;
                let text: Arc<[u8]> = buf.into();
                caches.to_json.insert(key, text.clone());
                text
            }
        };
        out.extend_from_slice(&text);
        caches.last_to_json = Some((schema.clone(), text));
        Ok(())
    }

    /// The Connect schema of an envelope's schema JSON text and whether the fast reader can
    /// read values of it, converted once per distinct text; `None` when the text is not a
    /// valid schema (the reference reader then reports why).
    pub(crate) fn schema_for_json_text(&self, text: &str) -> Option<ReadSchema> {
        let mut caches = self.caches();
        if let Some((t, found)) = &caches.last_to_connect {
            if **t == *text {
                return Some(found.clone());
            }
        }
        let found = match caches.to_connect.get(text) {
            Some(found) => found,
            None => {
                let node = JsonNode::parse(text.as_bytes()).ok()??;
                let schema = self.as_connect_schema(&node).ok()?;
                let fast = schema.as_ref().is_none_or(json_read::fast_path_can_read);
                caches
                    .to_connect
                    .insert(text.into(), (schema.clone(), fast));
                (schema, fast)
            }
        };
        caches.last_to_connect = Some((text.into(), found.clone()));
        Some(found)
    }

    /// The converter's config.
    pub fn config(&self) -> &JsonConverterConfig {
        &self.config
    }

    // ----------------------------------------------------------------------------------------
    // Schemas

    /// `asJsonSchema`: a Connect schema as Kafka's JSON schema.
    pub fn as_json_schema(&self, schema: &Schema) -> ConnectResult<JsonNode> {
        let text = self.schema_to_json_string(schema)?;
        JsonNode::parse(text.as_bytes())
            .map_err(|e| ConnectError::data(e.to_string()))?
            .ok_or_else(|| ConnectError::data("empty schema JSON"))
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
        let mut out = Vec::new();
        json_write::write_schema(&Ctx::new(&self.config), schema, &mut out)?;
        String::from_utf8(out).map_err(|e| ConnectError::data(e.to_string()))
    }

    /// Parses a JSON schema (as in the envelope); `null` is no schema.
    pub fn schema_from_json_str(&self, json: &str) -> ConnectResult<Option<Schema>> {
        let node = JsonNode::parse(json.as_bytes())
            .map_err(|e| ConnectError::data(e.to_string()))?
            .ok_or_else(|| ConnectError::data("empty schema JSON"))?;
        self.as_connect_schema(&node)
    }

    // ----------------------------------------------------------------------------------------
    // Values

    /// `convertToJson`: a value (checked against its schema as it goes) as a JSON payload.
    pub fn to_json_node(&self, schema: Option<&Schema>, value: &Value) -> ConnectResult<JsonNode> {
        let mut out = Vec::new();
        json_write::write_payload(&Ctx::new(&self.config), schema, value, &mut out)?;
        JsonNode::parse(&out)
            .map_err(|e| ConnectError::data(e.to_string()))?
            .ok_or_else(|| ConnectError::data("empty JSON"))
    }

    /// `convertToConnect`: a JSON payload as a value of `schema` (schemaless when `None`).
    pub fn from_json_node(&self, schema: Option<&Schema>, json: &JsonNode) -> ConnectResult<Value> {
        self.convert_to_connect(schema, Some(json), "")
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
                    return match rescale_decimal(d, scale) {
                        Some(d) => Ok(Value::Decimal(d)),
                        None => Err(data_err(
                            format!(
                                "Decimal value {} cannot be represented with the schema's scale {scale}",
                                json.as_text()
                            ),
                            path,
                        )),
                    };
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

use json_write::err_text;

impl Converter for JsonConverter {
    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        *self = JsonConverter::with_config(JsonConverterConfig::from_props(props)?);
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
        // The API hands each record its own Vec; size it like the last record's so that it
        // is allocated once.
        let mut out = Vec::with_capacity(self.last_len.load(Ordering::Relaxed) + 16);
        let ctx = Ctx::new(&self.config);
        if self.config.schemas_enable {
            out.extend_from_slice(br#"{"schema":"#);
            match schema {
                Some(s) => self.write_schema_cached(s, &mut out)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(br#","payload":"#);
            json_write::write_payload(&ctx, schema, value, &mut out)?;
            out.push(b'}');
        } else {
            json_write::write_payload(&ctx, schema, value, &mut out)?;
        }
        self.last_len.store(out.len(), Ordering::Relaxed);
        Ok(Some(out))
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<SchemaAndValue> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        if let Some(read) = json_read::read(self, bytes) {
            return Ok(read);
        }
        self.to_connect_reference(bytes)
    }
}

impl JsonConverter {
    /// `toConnectData` through a JSON tree: the reference the fast reader gives way to for
    /// anything unusual, and the source of every error message.
    fn to_connect_reference(&self, bytes: &[u8]) -> ConnectResult<SchemaAndValue> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::logical::{date_schema, decimal_schema, time_schema, timestamp_schema};

    fn order_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("shop.Order")
            .version(1)
            .field("id", Schema::int64())
            .field("customer", Schema::string())
            .field("amount", Schema::float64())
            .field("weight", Schema::optional_float32())
            .field("paid", Schema::boolean())
            .field("note", Schema::optional_string())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field(
                "attrs",
                SchemaBuilder::map(Schema::string(), Schema::int32()).build(),
            )
            .field(
                "by_id",
                SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
            )
            .field("price", decimal_schema(2))
            .field("day", date_schema())
            .field("at", time_schema())
            .field("ts", timestamp_schema())
            .field("raw", Schema::optional_bytes())
            .build()
    }

    fn order(schema: &Schema) -> Value {
        let s = Struct::new(schema.clone())
            .and_then(|s| s.with("id", 7i64))
            .and_then(|s| s.with("customer", "ACME \"quoted\" 😀"))
            .and_then(|s| s.with("amount", 12.5f64))
            .and_then(|s| s.with("weight", 0.1f32))
            .and_then(|s| s.with("paid", true))
            .and_then(|s| {
                s.with(
                    "tags",
                    Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
                )
            })
            .and_then(|s| {
                s.with(
                    "attrs",
                    Value::Map(vec![(Value::String("k".into()), Value::Int32(1))]),
                )
            })
            .and_then(|s| {
                s.with(
                    "by_id",
                    Value::Map(vec![(Value::Int32(3), Value::String("x".into()))]),
                )
            })
            .and_then(|s| s.with("price", Value::Decimal(BigDecimal::new(1234.into(), 2))))
            .and_then(|s| s.with("day", Value::Date(19_000)))
            .and_then(|s| s.with("at", Value::Time(3_600_000)))
            .and_then(|s| s.with("ts", Value::Timestamp(1_700_000_000_000)))
            .and_then(|s| s.with("raw", Value::Bytes(vec![0, 1, 2])))
            .unwrap();
        Value::Struct(s)
    }

    #[test]
    fn ordinary_records_take_the_fast_reader() {
        // The reference reader gives the same answers, only slowly; this guards the speed.
        let schema = order_schema();
        let value = order(&schema);
        for format in [DecimalFormat::Base64, DecimalFormat::Numeric] {
            let c = JsonConverter::with_config(JsonConverterConfig {
                decimal_format: format,
                ..JsonConverterConfig::default()
            });
            let bytes = c.from_connect("t", Some(&schema), &value).unwrap().unwrap();
            let fast = json_read::read(&c, &bytes).expect("read by the fast reader");
            assert_eq!(fast, c.to_connect_reference(&bytes).unwrap());
            assert_eq!(fast.value, value);
        }
        let plain = JsonConverter::with_schemas_enabled(false);
        let text = br#"{"a":[1,-2,2.5,"x",null,true],"b":{"c":1e3}}"#;
        let fast = json_read::read(&plain, text).expect("read by the fast reader");
        assert_eq!(fast, plain.to_connect_reference(text).unwrap());
        // The unusual goes to the reference reader: a repeated key, a fraction for an int.
        let c = JsonConverter::new();
        for text in [
            r#"{"schema":{"type":"int32","optional":false},"payload":12.9}"#,
            r#"{"schema":null,"payload":{"a":1,"a":2}}"#,
        ] {
            assert!(json_read::read(&c, text.as_bytes()).is_none(), "{text}");
        }
        assert_eq!(
            c.to_connect(
                "t",
                Some(br#"{"schema":{"type":"int32","optional":false},"payload":12.9}"#)
            )
            .unwrap()
            .value,
            Value::Int32(12)
        );
    }

    #[test]
    fn a_repeated_schema_is_converted_once_each_way() {
        let c = JsonConverter::new();
        let mut last = None;
        for _ in 0..5 {
            // Equal schemas, each its own allocation (as a connector building it per record).
            let schema = order_schema();
            let bytes = c
                .from_connect("t", Some(&schema), &order(&schema))
                .unwrap()
                .unwrap();
            let back = c.to_connect("t", Some(&bytes)).unwrap();
            assert_eq!(back.schema.as_ref(), Some(&schema));
            if let Some(prev) = &last {
                assert_eq!(prev, &bytes);
            }
            last = Some(bytes);
        }
        assert_eq!(c.cached_schemas(), (1, 1));
    }

    #[test]
    fn schemas_cache_size_bounds_both_caches() {
        let schemas: Vec<Schema> = (0..3)
            .map(|v| SchemaBuilder::new(Type::Int32).version(v).build())
            .collect();
        let run = |size: &str| {
            let mut c = JsonConverter::new();
            let props: Props = [(SCHEMAS_CACHE_SIZE_CONFIG.to_string(), size.to_string())].into();
            c.configure(&props, false).unwrap();
            for s in &schemas {
                let bytes = c
                    .from_connect("t", Some(s), &Value::Int32(1))
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    c.to_connect("t", Some(&bytes)).unwrap().schema.as_ref(),
                    Some(s)
                );
            }
            c.cached_schemas()
        };
        assert_eq!(run("2"), (2, 2));
        assert_eq!(run("1000"), (3, 3));
        assert_eq!(run("0"), (0, 0));
    }
}
