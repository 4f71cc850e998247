//! Connect's `ConfigDef`: keys with a type, a default, a validator and documentation; parsing
//! and validation with Connect's messages.
//!
//! Errors are [`ConfigError`] (a key's value) and [`Invalid`] (why a validator refused a
//! value). A custom validator's closure still answers with a `String`: that text is the reason
//! the user reads, as the message of Connect's `ConfigException`, and it keeps the closures of
//! every connector and transform one-liners.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::api::Props;
use crate::error::{ConnectError, ConnectResult};

use super::value::{ConfigValue, ParsedConfig, ParsedValue, Password};

/// The types of Connect's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// Text.
    String,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// A comma-separated list of strings.
    List,
    /// A class name (a plugin's, such as a converter's).
    Class,
    /// A secret: never shown in logs, `Debug` or the REST API.
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

/// How much a key matters to a user, as the REST API and docs list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Most users set it.
    High,
    /// Some users set it.
    Medium,
    /// Few users set it.
    Low,
}

impl Importance {
    /// The upper-case name Connect uses (`"HIGH"`, `"MEDIUM"`, `"LOW"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// How wide a UI should show a key's value (Connect's `Width`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// No preference.
    None,
    /// A short value.
    Short,
    /// A medium-length value.
    Medium,
    /// A long value.
    Long,
}

impl Width {
    /// The upper-case name Connect uses (`"NONE"`, `"SHORT"`, …).
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

/// Why a value was refused: its text is Connect's, shown after "Invalid value … for
/// configuration …: ".
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Invalid {
    /// Text that does not parse as the key's numeric type (named).
    #[error("Not a number of type {0}")]
    NotANumber(&'static str),
    /// A BOOLEAN key given something other than `true`/`false`.
    #[error("Expected value to be either true or false")]
    NotABoolean,
    /// A DOUBLE key given NaN.
    #[error("Value must be a number")]
    NaN,
    /// Below a range validator's minimum (given).
    #[error("Value must be at least {}", num(*.0))]
    BelowMin(f64),
    /// Above a range validator's maximum (given).
    #[error("Value must be no more than {}", num(*.0))]
    AboveMax(f64),
    /// Not one of a validator's allowed strings (listed).
    #[error("String must be one of: {}", .0.join(", "))]
    NotOneOf(Vec<String>),
    /// An empty string where a non-empty one is required.
    #[error("String must be non-empty")]
    Empty,
    /// A custom validator's reason, as it gave it.
    #[error("{0}")]
    Custom(String),
}

/// A key whose value could not be parsed or validated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A required key (named) that is absent and has no default.
    #[error("Missing required configuration \"{0}\" which has no default value.")]
    Missing(String),
    /// `shown` is the value as given (trimmed after parsing), or `[hidden]` for a password.
    #[error("Invalid value {shown} for configuration {key}: {why}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as shown to the user.
        shown: String,
        /// Why it was refused.
        why: Invalid,
    },
}

impl From<ConfigError> for ConnectError {
    fn from(e: ConfigError) -> Self {
        ConnectError::Config(e.to_string())
    }
}

/// Checks a parsed value; the error text follows Connect's validators.
#[derive(Clone)]
pub enum Validator {
    /// Inclusive bounds on an INT, LONG or DOUBLE; either may be open.
    Range {
        /// The lowest value allowed, if any.
        min: Option<f64>,
        /// The highest value allowed, if any.
        max: Option<f64>,
    },
    /// The value must be one of these strings (case-sensitive).
    ValidString(Vec<String>),
    /// A string that is not empty (nor only spaces).
    NonEmptyString,
    /// A check of one's own.
    Custom {
        /// What the check wants, for error messages and docs.
        describe: String,
        /// The check: `Err` with the reason when the value is refused.
        check: CustomCheck,
    },
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
    /// At least `min` (inclusive).
    pub fn at_least(min: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: None,
        }
    }
    /// Between `min` and `max` (both inclusive).
    pub fn between(min: f64, max: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: Some(max),
        }
    }
    /// One of `values` (case-sensitive); they are also the key's recommended values.
    pub fn one_of(values: &[&str]) -> Self {
        Validator::ValidString(values.iter().map(|s| s.to_string()).collect())
    }
    /// A check of one's own: `describe` says what it wants, `check` refuses a value with the
    /// reason.
    pub fn custom(
        describe: impl Into<String>,
        check: impl Fn(&ParsedValue) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Validator::Custom {
            describe: describe.into(),
            check: Arc::new(check),
        }
    }

    fn check(&self, v: &ParsedValue) -> Result<(), Invalid> {
        match self {
            Validator::Range { min, max } => {
                let n = match v {
                    ParsedValue::Int(i) => *i as f64,
                    ParsedValue::Long(l) => *l as f64,
                    ParsedValue::Double(d) => *d,
                    _ => return Ok(()),
                };
                if n.is_nan() {
                    return Err(Invalid::NaN);
                }
                if let Some(min) = min {
                    if n < *min {
                        return Err(Invalid::BelowMin(*min));
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        return Err(Invalid::AboveMax(*max));
                    }
                }
                Ok(())
            }
            Validator::ValidString(allowed) => match v {
                ParsedValue::String(s) if !allowed.contains(s) => {
                    Err(Invalid::NotOneOf(allowed.clone()))
                }
                _ => Ok(()),
            },
            Validator::NonEmptyString => match v {
                ParsedValue::String(s) if s.is_empty() => Err(Invalid::Empty),
                _ => Ok(()),
            },
            Validator::Custom { check, .. } => check(v).map_err(Invalid::Custom),
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
    /// The key, as it appears in configs (`topic`, `batch.size`).
    pub name: String,
    /// The value's type.
    pub ty: ConfigType,
    /// `None`: required (Connect's NO_DEFAULT_VALUE). `Some(None)`: optional with a null default.
    pub default: Option<Option<String>>,
    /// What a value must satisfy besides its type.
    pub validator: Option<Validator>,
    /// How much the key matters to a user.
    pub importance: Importance,
    /// What the key means, as the REST API and docs show it.
    pub documentation: String,
    /// The group the key is listed under, if any.
    pub group: Option<String>,
    /// Its position within its group.
    pub order: i32,
    /// How wide a UI should show its value.
    pub width: Width,
    /// The key's name for people.
    pub display_name: String,
    /// Keys whose validity depends on this one.
    pub dependents: Vec<String>,
}

impl ConfigKey {
    /// Whether the key has no default (a config must set it).
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// The default as a string, as the REST API shows it (`null` when none).
    pub fn default_string(&self) -> Option<String> {
        self.default.clone().flatten()
    }

    /// The values a validator allows, if it names them (`ValidString`), for the REST API.
    pub fn recommended_values(&self) -> Vec<String> {
        self.validator
            .as_ref()
            .map(Validator::recommended)
            .unwrap_or_default()
    }
}

/// A set of config keys.
///
/// # Example
///
/// ```
/// use kconnect_connectors::api::Props;
/// use kconnect_connectors::config::{ConfigDef, ConfigType, Importance, Validator};
///
/// let def = ConfigDef::new()
///     .define(
///         "topic",
///         ConfigType::String,
///         None, // required
///         Some(Validator::NonEmptyString),
///         Importance::High,
///         "Where the records go",
///     )
///     .define(
///         "batch.size",
///         ConfigType::Int,
///         Some("100"),
///         Some(Validator::at_least(1.0)),
///         Importance::Medium,
///         "The most records per poll",
///     );
///
/// let config = def.parse(&Props::from([("topic".to_string(), "orders".to_string())]))?;
/// assert_eq!(config.string("topic")?, "orders");
/// assert_eq!(config.int("batch.size")?, 100); // the default
///
/// // Validation reports every key's errors, as the REST API's validate endpoint shows them.
/// let results = def.validate(&Props::from([("batch.size".to_string(), "0".to_string())]));
/// assert_eq!(results[0].name, "topic");
/// assert_eq!(
///     results[0].errors,
///     ["Missing required configuration \"topic\" which has no default value."]
/// );
/// assert!(results[1].errors[0].starts_with("Invalid value 0 for configuration batch.size"));
/// # Ok::<(), kconnect_connectors::ConnectError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// A definition with no keys.
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
        // After every key defined so far, even when this one replaces an earlier definition.
        let order = self.keys.iter().map(|k| k.order).max().unwrap_or(0) + 1;
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

    /// Defines a key made elsewhere, as it is (Connect's `define(ConfigKey)`): how keys of a
    /// plugin are embedded under a prefix (`transforms.<alias>.`), order and group included.
    pub fn define_key(mut self, key: ConfigKey) -> Self {
        self.keys.retain(|k| k.name != key.name);
        self.keys.push(key);
        self
    }

    /// Sets the validator of the last defined key.
    pub fn with_validator(mut self, validator: Validator) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.validator = Some(validator);
        }
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

    /// Puts every key without a group in `group`.
    pub fn with_default_group(mut self, group: &str) -> Self {
        for k in self.keys.iter_mut().filter(|k| k.group.is_none()) {
            k.group = Some(group.to_string());
        }
        self
    }

    /// Every key, in definition order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// The key named `name`, if defined.
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
                    errors.push(e.to_string());
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
            if let Some(v) = parse_key(k, props.get(&k.name))? {
                out.values.insert(k.name.clone(), v);
            }
        }
        Ok(out)
    }
}

/// Parses one key's value (or its default): `Ok(None)` for an optional key with no value.
fn parse_key(k: &ConfigKey, given: Option<&String>) -> Result<Option<ParsedValue>, ConfigError> {
    let raw = match (given, &k.default) {
        (Some(v), _) => v.clone(),
        (None, Some(Some(d))) => d.clone(),
        (None, Some(None)) => return Ok(None),
        (None, None) => return Err(ConfigError::Missing(k.name.clone())),
    };
    let parsed = parse_value(k.ty, &raw).map_err(|why| {
        let shown = if k.ty == ConfigType::Password {
            Password::HIDDEN
        } else {
            raw.as_str()
        };
        ConfigError::InvalidValue {
            key: k.name.clone(),
            shown: shown.to_string(),
            why,
        }
    })?;
    if let Some(v) = &k.validator {
        v.check(&parsed).map_err(|why| {
            let shown = match &parsed {
                ParsedValue::Password(_) => Password::HIDDEN.to_string(),
                _ => raw.trim().to_string(),
            };
            ConfigError::InvalidValue {
                key: k.name.clone(),
                shown,
                why,
            }
        })?;
    }
    Ok(Some(parsed))
}

/// Parses a string as Connect's `ConfigDef.parseType` does.
pub fn parse_value(ty: ConfigType, raw: &str) -> Result<ParsedValue, Invalid> {
    let t = raw.trim();
    Ok(match ty {
        ConfigType::String => ParsedValue::String(t.to_string()),
        ConfigType::Class => ParsedValue::Class(t.to_string()),
        // Connect trims passwords like every other string.
        ConfigType::Password => ParsedValue::Password(Password::new(t)),
        ConfigType::Int => ParsedValue::Int(t.parse().map_err(|_| Invalid::NotANumber("INT"))?),
        ConfigType::Long => ParsedValue::Long(t.parse().map_err(|_| Invalid::NotANumber("LONG"))?),
        ConfigType::Double => {
            ParsedValue::Double(t.parse().map_err(|_| Invalid::NotANumber("DOUBLE"))?)
        }
        ConfigType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" => ParsedValue::Boolean(true),
            "false" => ParsedValue::Boolean(false),
            _ => return Err(Invalid::NotABoolean),
        },
        ConfigType::List => ParsedValue::List(if t.is_empty() {
            Vec::new()
        } else {
            t.split(',').map(|s| s.trim().to_string()).collect()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                "name",
                ConfigType::String,
                None,
                Some(Validator::NonEmptyString),
                Importance::High,
                "a required string",
            )
            .define(
                "count",
                ConfigType::Int,
                Some("5"),
                Some(Validator::between(1.0, 10.0)),
                Importance::Medium,
                "an int in [1, 10]",
            )
            .define(
                "size",
                ConfigType::Long,
                Some("-1"),
                None,
                Importance::Low,
                "a long",
            )
            .define(
                "mode",
                ConfigType::String,
                Some("fast"),
                Some(Validator::one_of(&["fast", "slow"])),
                Importance::Low,
                "fast or slow",
            )
            .define_optional("tags", ConfigType::List, Importance::Low, "a list")
            .define_optional(
                "secret",
                ConfigType::Password,
                Importance::High,
                "a password",
            )
            .define(
                "enabled",
                ConfigType::Boolean,
                Some("false"),
                None,
                Importance::Low,
                "a flag",
            )
            .define(
                "ratio",
                ConfigType::Double,
                Some("0.5"),
                Some(Validator::at_least(0.0)),
                Importance::Low,
                "a non-negative double",
            )
    }

    fn errors_of(values: &[ConfigValue], key: &str) -> Vec<String> {
        values
            .iter()
            .find(|v| v.name == key)
            .unwrap_or_else(|| panic!("no result for {key}"))
            .errors
            .clone()
    }

    #[test]
    fn parse_applies_defaults_and_types() {
        let parsed = def().parse(&props(&[("name", " app ")])).unwrap();
        assert_eq!(parsed.string("name").unwrap(), "app");
        assert_eq!(parsed.int("count").unwrap(), 5);
        assert_eq!(parsed.long("size").unwrap(), -1);
        assert_eq!(parsed.string("mode").unwrap(), "fast");
        assert!(!parsed.boolean("enabled").unwrap());
        assert_eq!(parsed.double("ratio").unwrap(), 0.5);
        // Optional keys with a null default have no value at all.
        assert!(!parsed.has("tags"));
        assert!(!parsed.has("secret"));
        assert!(parsed.list("tags").is_err());
    }

    #[test]
    fn missing_required_key_is_reported_per_key() {
        let values = def().validate(&Props::new());
        assert_eq!(values.len(), def().keys().len());
        assert_eq!(
            errors_of(&values, "name"),
            vec!["Missing required configuration \"name\" which has no default value.".to_string()]
        );
        for other in [
            "count", "size", "mode", "tags", "secret", "enabled", "ratio",
        ] {
            assert!(errors_of(&values, other).is_empty(), "{other}");
        }
        let err = def().parse(&Props::new()).unwrap_err();
        assert_eq!(
            err,
            ConnectError::Config(
                "Missing required configuration \"name\" which has no default value.".into()
            )
        );
    }

    #[test]
    fn a_key_error_is_a_type_callers_can_match() {
        let d = def();
        let key = |name: &str| d.keys.iter().find(|k| k.name == name).unwrap();
        assert_eq!(
            parse_key(key("name"), None).unwrap_err(),
            ConfigError::Missing("name".into())
        );
        let e = parse_key(key("count"), Some(&" 11 ".to_string())).unwrap_err();
        assert_eq!(
            e,
            ConfigError::InvalidValue {
                key: "count".into(),
                shown: "11".into(),
                why: Invalid::AboveMax(10.0),
            }
        );
        assert_eq!(
            e.to_string(),
            "Invalid value 11 for configuration count: Value must be no more than 10"
        );
        assert_eq!(
            parse_value(ConfigType::Boolean, "yes").unwrap_err(),
            Invalid::NotABoolean
        );
    }

    #[test]
    fn bad_numbers_name_the_key_and_type() {
        let p = props(&[("name", "x"), ("count", "five"), ("size", "1.5")]);
        let values = def().validate(&p);
        assert_eq!(
            errors_of(&values, "count"),
            vec!["Invalid value five for configuration count: Not a number of type INT"]
        );
        assert_eq!(
            errors_of(&values, "size"),
            vec!["Invalid value 1.5 for configuration size: Not a number of type LONG"]
        );
        // An INT that overflows 32 bits is not an INT.
        let p = props(&[("name", "x"), ("count", "2147483648")]);
        assert!(def().parse(&p).is_err());
        let p = props(&[("name", "x"), ("ratio", "abc")]);
        assert_eq!(
            def().parse(&p).unwrap_err(),
            ConnectError::Config(
                "Invalid value abc for configuration ratio: Not a number of type DOUBLE".into()
            )
        );
    }

    #[test]
    fn booleans_are_case_insensitive_and_strict() {
        let parsed = def()
            .parse(&props(&[("name", "x"), ("enabled", " TRUE ")]))
            .unwrap();
        assert!(parsed.boolean("enabled").unwrap());
        let values = def().validate(&props(&[("name", "x"), ("enabled", "yes")]));
        assert_eq!(
            errors_of(&values, "enabled"),
            vec!["Invalid value yes for configuration enabled: Expected value to be either true or false"]
        );
    }

    #[test]
    fn lists_split_on_commas_and_trim() {
        let parse = |raw: &str| {
            def()
                .parse(&props(&[("name", "x"), ("tags", raw)]))
                .unwrap()
                .list("tags")
                .unwrap()
        };
        assert_eq!(parse("a,b , c"), vec!["a", "b", "c"]);
        assert_eq!(parse(" one "), vec!["one"]);
        assert_eq!(parse(""), Vec::<String>::new());
        assert_eq!(parse("  "), Vec::<String>::new());
        // Like Java's split(regex, -1), empty elements are kept.
        assert_eq!(parse("a,,b,"), vec!["a", "", "b", ""]);
    }

    #[test]
    fn range_bounds_are_inclusive_with_connect_messages() {
        let check = |raw: &str| {
            let values = def().validate(&props(&[("name", "x"), ("count", raw)]));
            errors_of(&values, "count")
        };
        assert!(check("1").is_empty());
        assert!(check("10").is_empty());
        assert_eq!(
            check("0"),
            vec!["Invalid value 0 for configuration count: Value must be at least 1"]
        );
        assert_eq!(
            check("11"),
            vec!["Invalid value 11 for configuration count: Value must be no more than 10"]
        );
        let values = def().validate(&props(&[("name", "x"), ("ratio", "-0.5")]));
        assert_eq!(
            errors_of(&values, "ratio"),
            vec!["Invalid value -0.5 for configuration ratio: Value must be at least 0"]
        );
    }

    #[test]
    fn valid_string_lists_the_allowed_values() {
        let values = def().validate(&props(&[("name", "x"), ("mode", "medium")]));
        assert_eq!(
            errors_of(&values, "mode"),
            vec!["Invalid value medium for configuration mode: String must be one of: fast, slow"]
        );
        let mode = values.iter().find(|v| v.name == "mode").unwrap();
        assert_eq!(mode.recommended_values, vec!["fast", "slow"]);
        // Matching is case-sensitive, as in Connect.
        assert!(def()
            .parse(&props(&[("name", "x"), ("mode", "FAST")]))
            .is_err());
    }

    #[test]
    fn non_empty_string_rejects_blank_values() {
        let values = def().validate(&props(&[("name", "   ")]));
        assert_eq!(
            errors_of(&values, "name"),
            vec!["Invalid value  for configuration name: String must be non-empty"]
        );
    }

    #[test]
    fn passwords_never_show() {
        let secret = "hunter2-secret";
        let p = props(&[("name", "x"), ("secret", &format!(" {secret} "))]);
        let values = def().validate(&p);
        let v = values.iter().find(|v| v.name == "secret").unwrap();
        assert_eq!(v.value.as_deref(), Some(Password::HIDDEN));
        assert!(!format!("{values:?}").contains(secret));

        let parsed = def().parse(&p).unwrap();
        let password = parsed.password("secret").unwrap();
        // Trimmed like every string value, as Connect does.
        assert_eq!(password.value(), secret);
        assert!(!format!("{parsed:?}").contains(secret));
        assert!(!format!("{password}").contains(secret));

        // A password that fails its validator does not leak through the error either.
        let strict = ConfigDef::new().define(
            "pw",
            ConfigType::Password,
            None,
            Some(Validator::custom("long enough", |v| match v {
                ParsedValue::Password(p) if p.value().len() < 20 => Err("too short".into()),
                _ => Ok(()),
            })),
            Importance::High,
            "a password",
        );
        let err = strict.parse(&props(&[("pw", secret)])).unwrap_err();
        assert_eq!(
            err,
            ConnectError::Config("Invalid value [hidden] for configuration pw: too short".into())
        );
        let values = strict.validate(&props(&[("pw", secret)]));
        assert!(!format!("{values:?}").contains(secret));
    }

    #[test]
    fn validate_shows_given_value_or_default() {
        let values = def().validate(&props(&[("name", "app")]));
        let value = |k: &str| values.iter().find(|v| v.name == k).unwrap().value.clone();
        assert_eq!(value("name").as_deref(), Some("app"));
        assert_eq!(value("count").as_deref(), Some("5"));
        assert_eq!(value("tags"), None);
        assert_eq!(value("secret"), None);
    }

    #[test]
    fn redefining_a_key_replaces_it_and_orders_stay_distinct() {
        let d = ConfigDef::new()
            .define("a", ConfigType::Int, Some("1"), None, Importance::Low, "a")
            .define("b", ConfigType::Int, Some("2"), None, Importance::Low, "b")
            .define(
                "a",
                ConfigType::Long,
                Some("3"),
                None,
                Importance::Low,
                "a again",
            );
        let names: Vec<_> = d.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, vec!["b", "a"]);
        assert_eq!(d.key("a").unwrap().ty, ConfigType::Long);
        let orders: Vec<_> = d.keys().iter().map(|k| k.order).collect();
        assert_eq!(orders, vec![2, 3]);
    }
}
