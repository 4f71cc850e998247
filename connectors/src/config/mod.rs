//! `ConfigDef`: typed config keys with defaults, validators, importance and documentation, and
//! validation that reports errors per key. PASSWORD values never show in `Debug`/`Display`.

mod def;
mod value;

pub use def::{
    ConfigDef, ConfigError, ConfigKey, ConfigType, Importance, Invalid, Validator, Width,
};
pub use value::{ConfigValue, ParsedConfig, ParsedValue, Password};
