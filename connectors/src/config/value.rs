use std::collections::BTreeMap;
use std::fmt;

use crate::error::{ConnectError, ConnectResult};

/// A secret. Prints as `[hidden]`, so it cannot leak through logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const HIDDEN: &'static str = "[hidden]";

    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }
    /// The secret itself: call only where it is handed to the system that needs it.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedValue {
    String(String),
    Int(i32),
    Long(i64),
    Double(f64),
    Boolean(bool),
    List(Vec<String>),
    Class(String),
    Password(Password),
}

/// The result of validating one key, as the REST validate endpoint shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    pub name: String,
    /// The value as given (or the default); PASSWORD values are `[hidden]`.
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// A config parsed against a `ConfigDef`: every defined key with a value has one here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedConfig {
    pub values: BTreeMap<String, ParsedValue>,
}

impl ParsedConfig {
    fn get(&self, key: &str) -> ConnectResult<&ParsedValue> {
        self.values.get(key).ok_or_else(|| {
            ConnectError::config(format!("missing required configuration \"{key}\""))
        })
    }

    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    pub fn string(&self, key: &str) -> ConnectResult<String> {
        match self.get(key)? {
            ParsedValue::String(s) | ParsedValue::Class(s) => Ok(s.clone()),
            other => Err(type_error(key, "STRING", other)),
        }
    }

    pub fn opt_string(&self, key: &str) -> Option<String> {
        self.string(key).ok()
    }

    pub fn int(&self, key: &str) -> ConnectResult<i32> {
        match self.get(key)? {
            ParsedValue::Int(v) => Ok(*v),
            other => Err(type_error(key, "INT", other)),
        }
    }

    pub fn long(&self, key: &str) -> ConnectResult<i64> {
        match self.get(key)? {
            ParsedValue::Long(v) => Ok(*v),
            ParsedValue::Int(v) => Ok(*v as i64),
            other => Err(type_error(key, "LONG", other)),
        }
    }

    pub fn double(&self, key: &str) -> ConnectResult<f64> {
        match self.get(key)? {
            ParsedValue::Double(v) => Ok(*v),
            other => Err(type_error(key, "DOUBLE", other)),
        }
    }

    pub fn boolean(&self, key: &str) -> ConnectResult<bool> {
        match self.get(key)? {
            ParsedValue::Boolean(v) => Ok(*v),
            other => Err(type_error(key, "BOOLEAN", other)),
        }
    }

    pub fn list(&self, key: &str) -> ConnectResult<Vec<String>> {
        match self.get(key)? {
            ParsedValue::List(v) => Ok(v.clone()),
            other => Err(type_error(key, "LIST", other)),
        }
    }

    pub fn password(&self, key: &str) -> ConnectResult<Password> {
        match self.get(key)? {
            ParsedValue::Password(v) => Ok(v.clone()),
            other => Err(type_error(key, "PASSWORD", other)),
        }
    }
}

fn type_error(key: &str, want: &str, got: &ParsedValue) -> ConnectError {
    let kind = match got {
        ParsedValue::String(_) => "STRING",
        ParsedValue::Int(_) => "INT",
        ParsedValue::Long(_) => "LONG",
        ParsedValue::Double(_) => "DOUBLE",
        ParsedValue::Boolean(_) => "BOOLEAN",
        ParsedValue::List(_) => "LIST",
        ParsedValue::Class(_) => "CLASS",
        ParsedValue::Password(_) => "PASSWORD",
    };
    ConnectError::config(format!("configuration \"{key}\" is {kind}, not {want}"))
}
