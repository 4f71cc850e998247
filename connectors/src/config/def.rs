use std::fmt;
use std::sync::Arc;

use crate::api::Props;
use crate::error::{ConnectError, ConnectResult};

use super::value::{ConfigValue, ParsedConfig, ParsedValue, Password};

/// The types of Connect's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    String,
    Int,
    Long,
    Double,
    Boolean,
    List,
    Class,
    Password,
}

impl ConfigType {
    /// The upper-case name the REST API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

impl Width {
    pub fn as_str(self) -> &'static str {
        match self {
            Width::None => "NONE",
            Width::Short => "SHORT",
            Width::Medium => "MEDIUM",
            Width::Long => "LONG",
        }
    }
}

type CustomCheck = Arc<dyn Fn(&ParsedValue) -> Result<(), String> + Send + Sync>;

/// Checks a parsed value; the error text follows Connect's validators.
#[derive(Clone)]
pub enum Validator {
    /// Inclusive bounds on an INT, LONG or DOUBLE; either may be open.
    Range { min: Option<f64>, max: Option<f64> },
    /// The value must be one of these strings (case-sensitive).
    ValidString(Vec<String>),
    NonEmptyString,
    Custom { describe: String, check: CustomCheck },
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Validator::ValidString(v) => write!(f, "ValidString({v:?})"),
            Validator::NonEmptyString => f.write_str("NonEmptyString"),
            Validator::Custom { describe, .. } => write!(f, "Custom({describe})"),
        }
    }
}

impl Validator {
    pub fn at_least(min: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: None,
        }
    }
    pub fn between(min: f64, max: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: Some(max),
        }
    }
    pub fn one_of(values: &[&str]) -> Self {
        Validator::ValidString(values.iter().map(|s| s.to_string()).collect())
    }
    pub fn custom(
        describe: impl Into<String>,
        check: impl Fn(&ParsedValue) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Validator::Custom {
            describe: describe.into(),
            check: Arc::new(check),
        }
    }

    fn check(&self, v: &ParsedValue) -> Result<(), String> {
        match self {
            Validator::Range { min, max } => {
                let n = match v {
                    ParsedValue::Int(i) => *i as f64,
                    ParsedValue::Long(l) => *l as f64,
                    ParsedValue::Double(d) => *d,
                    _ => return Ok(()),
                };
                if let Some(min) = min {
                    if n < *min {
                        return Err(format!("Value must be at least {}", num(*min)));
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        return Err(format!("Value must be no more than {}", num(*max)));
                    }
                }
                Ok(())
            }
            Validator::ValidString(allowed) => match v {
                ParsedValue::String(s) if !allowed.contains(s) => {
                    Err(format!("String must be one of: {}", allowed.join(", ")))
                }
                _ => Ok(()),
            },
            Validator::NonEmptyString => match v {
                ParsedValue::String(s) if s.is_empty() => Err("String must be non-empty".into()),
                _ => Ok(()),
            },
            Validator::Custom { check, .. } => check(v),
        }
    }

    fn recommended(&self) -> Vec<String> {
        match self {
            Validator::ValidString(v) => v.clone(),
            _ => Vec::new(),
        }
    }
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// One config key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub ty: ConfigType,
    /// `None`: required (Connect's NO_DEFAULT_VALUE). `Some(None)`: optional with a null default.
    pub default: Option<Option<String>>,
    pub validator: Option<Validator>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
}

impl ConfigKey {
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// The default as a string, as the REST API shows it (`null` when none).
    pub fn default_string(&self) -> Option<String> {
        self.default.clone().flatten()
    }

    pub fn recommended_values(&self) -> Vec<String> {
        self.validator
            .as_ref()
            .map(Validator::recommended)
            .unwrap_or_default()
    }
}

/// A set of config keys.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines a key. `default`: `None` for a required key, `Some("")`-style strings otherwise;
    /// use [`ConfigDef::define_optional`] for a key whose default is null.
    pub fn define(
        mut self,
        name: &str,
        ty: ConfigType,
        default: Option<&str>,
        validator: Option<Validator>,
        importance: Importance,
        documentation: &str,
    ) -> Self {
        let order = self.keys.len() as i32 + 1;
        self.keys.retain(|k| k.name != name);
        self.keys.push(ConfigKey {
            name: name.to_string(),
            ty,
            default: default.map(|d| Some(d.to_string())),
            validator,
            importance,
            documentation: documentation.to_string(),
            group: None,
            order,
            width: Width::None,
            display_name: name.to_string(),
            dependents: Vec::new(),
        });
        self
    }

    /// Defines a key that may be absent (Connect's `null` default).
    pub fn define_optional(
        mut self,
        name: &str,
        ty: ConfigType,
        importance: Importance,
        documentation: &str,
    ) -> Self {
        self = self.define(name, ty, None, None, importance, documentation);
        self.keys.last_mut().expect("just defined").default = Some(None);
        self
    }

    /// Puts the last defined key in a group, with its display name and width.
    pub fn in_group(mut self, group: &str, width: Width, display_name: &str) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.group = Some(group.to_string());
            k.width = width;
            k.display_name = display_name.to_string();
        }
        self
    }

    /// Adds every key of `other` (a key defined in both keeps `other`'s definition).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for k in &other.keys {
            self.keys.retain(|x| x.name != k.name);
            self.keys.push(k.clone());
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The groups in the order they first appear.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in self.keys.iter().filter_map(|k| k.group.clone()) {
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }

    /// Validates every defined key of `props`: one result per key, with its errors.
    pub fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.keys
            .iter()
            .map(|k| {
                let raw = props.get(&k.name).cloned().or_else(|| k.default_string());
                let mut errors = Vec::new();
                if let Err(e) = parse_key(k, props.get(&k.name)) {
                    errors.push(e);
                }
                let value = match (k.ty, raw) {
                    (ConfigType::Password, Some(_)) => Some(Password::HIDDEN.to_string()),
                    (_, raw) => raw,
                };
                ConfigValue {
                    name: k.name.clone(),
                    value,
                    recommended_values: k.recommended_values(),
                    errors,
                    visible: true,
                }
            })
            .collect()
    }

    /// Parses `props`, failing on the first key in error with a message naming it.
    pub fn parse(&self, props: &Props) -> ConnectResult<ParsedConfig> {
        let mut out = ParsedConfig::default();
        for k in &self.keys {
            if let Some(v) = parse_key(k, props.get(&k.name)).map_err(ConnectError::Config)? {
                out.values.insert(k.name.clone(), v);
            }
        }
        Ok(out)
    }
}

/// Parses one key's value (or its default): `Ok(None)` for an optional key with no value.
fn parse_key(k: &ConfigKey, given: Option<&String>) -> Result<Option<ParsedValue>, String> {
    let raw = match (given, &k.default) {
        (Some(v), _) => v.clone(),
        (None, Some(Some(d))) => d.clone(),
        (None, Some(None)) => return Ok(None),
        (None, None) => {
            return Err(format!(
                "Missing required configuration \"{}\" which has no default value.",
                k.name
            ))
        }
    };
    let parsed = parse_value(k.ty, &raw).map_err(|why| {
        let shown = if k.ty == ConfigType::Password {
            Password::HIDDEN
        } else {
            raw.as_str()
        };
        format!(
            "Invalid value {shown} for configuration {}: {why}",
            k.name
        )
    })?;
    if let Some(v) = &k.validator {
        v.check(&parsed).map_err(|why| {
            let shown = match &parsed {
                ParsedValue::Password(_) => Password::HIDDEN.to_string(),
                _ => raw.trim().to_string(),
            };
            format!("Invalid value {shown} for configuration {}: {why}", k.name)
        })?;
    }
    Ok(Some(parsed))
}

/// Parses a string as Connect's `ConfigDef.parseType` does.
pub fn parse_value(ty: ConfigType, raw: &str) -> Result<ParsedValue, String> {
    let t = raw.trim();
    Ok(match ty {
        ConfigType::String => ParsedValue::String(t.to_string()),
        ConfigType::Class => ParsedValue::Class(t.to_string()),
        ConfigType::Password => ParsedValue::Password(Password::new(raw)),
        ConfigType::Int => ParsedValue::Int(
            t.parse()
                .map_err(|_| "Not a number of type INT".to_string())?,
        ),
        ConfigType::Long => ParsedValue::Long(
            t.parse()
                .map_err(|_| "Not a number of type LONG".to_string())?,
        ),
        ConfigType::Double => ParsedValue::Double(
            t.parse()
                .map_err(|_| "Not a number of type DOUBLE".to_string())?,
        ),
        ConfigType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" => ParsedValue::Boolean(true),
            "false" => ParsedValue::Boolean(false),
            _ => return Err("Expected value to be either true or false".into()),
        },
        ConfigType::List => ParsedValue::List(if t.is_empty() {
            Vec::new()
        } else {
            t.split(',').map(|s| s.trim().to_string()).collect()
        }),
    })
}
