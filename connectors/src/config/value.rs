use std::collections::BTreeMap;
use std::fmt;

use crate::error::{ConnectError, ConnectResult};

/// A secret. Prints as `[hidden]`, so it cannot leak through logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// What `Debug` and `Display` print instead of the secret.
    pub const HIDDEN: &'static str = "[hidden]";

    /// Wraps a secret.
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
    /// A STRING value.
    String(String),
    /// An INT value.
    Int(i32),
    /// A LONG value.
    Long(i64),
    /// A DOUBLE value.
    Double(f64),
    /// A BOOLEAN value.
    Boolean(bool),
    /// A LIST value.
    List(Vec<String>),
    /// A CLASS value.
    Class(String),
    /// A PASSWORD value.
    Password(Password),
}

/// The result of validating one key, as the REST validate endpoint shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    /// The key.
    pub name: String,
    /// The value as given (or the default); PASSWORD values are `[hidden]`.
    pub value: Option<String>,
    /// The values the key's validator allows, if it names them.
    pub recommended_values: Vec<String>,
    /// What is wrong with the value; empty when it is valid.
    pub errors: Vec<String>,
    /// Whether a UI should show the key (always `true` here, as for Connect's keys without
    /// recommenders).
    pub visible: bool,
}

/// A config parsed against a `ConfigDef`: every defined key with a value has one here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedConfig {
    /// Each key's value, by key.
    pub values: BTreeMap<String, ParsedValue>,
}

impl ParsedConfig {
    fn get(&self, key: &str) -> ConnectResult<&ParsedValue> {
        self.values.get(key).ok_or_else(|| {
            ConnectError::config(format!("missing required configuration \"{key}\""))
        })
    }

    /// Whether `key` has a value (set, or defaulted).
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The STRING (or CLASS) value of `key`; an error when it has none or another type.
    pub fn string(&self, key: &str) -> ConnectResult<String> {
        match self.get(key)? {
            ParsedValue::String(s) | ParsedValue::Class(s) => Ok(s.clone()),
            other => Err(type_error(key, "STRING", other)),
        }
    }

    /// The STRING value of `key`, `None` when it has none (an optional key with no default).
    pub fn opt_string(&self, key: &str) -> Option<String> {
        self.string(key).ok()
    }

    /// The INT value of `key`; an error when it has none or another type.
    pub fn int(&self, key: &str) -> ConnectResult<i32> {
        match self.get(key)? {
            ParsedValue::Int(v) => Ok(*v),
            other => Err(type_error(key, "INT", other)),
        }
    }

    /// The LONG value of `key` (an INT widens); an error when it has none or another type.
    pub fn long(&self, key: &str) -> ConnectResult<i64> {
        match self.get(key)? {
            ParsedValue::Long(v) => Ok(*v),
            ParsedValue::Int(v) => Ok(*v as i64),
            other => Err(type_error(key, "LONG", other)),
        }
    }

    /// The DOUBLE value of `key`; an error when it has none or another type.
    pub fn double(&self, key: &str) -> ConnectResult<f64> {
        match self.get(key)? {
            ParsedValue::Double(v) => Ok(*v),
            other => Err(type_error(key, "DOUBLE", other)),
        }
    }

    /// The BOOLEAN value of `key`; an error when it has none or another type.
    pub fn boolean(&self, key: &str) -> ConnectResult<bool> {
        match self.get(key)? {
            ParsedValue::Boolean(v) => Ok(*v),
            other => Err(type_error(key, "BOOLEAN", other)),
        }
    }

    /// The LIST value of `key`; an error when it has none or another type.
    pub fn list(&self, key: &str) -> ConnectResult<Vec<String>> {
        match self.get(key)? {
            ParsedValue::List(v) => Ok(v.clone()),
            other => Err(type_error(key, "LIST", other)),
        }
    }

    /// The PASSWORD value of `key`; an error when it has none or another type.
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
