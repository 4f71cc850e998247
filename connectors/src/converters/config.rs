//! The config keys of each converter, as Connect's `Converter::config()` defines them: what
//! `GET /connector-plugins/{converter}/config` lists and what a connector's
//! `key.converter.*` / `value.converter.*` / `header.converter.*` keys are validated against.

use crate::config::{ConfigDef, ConfigType, Importance, ParsedValue, Validator, Width};

use super::json::{
    DECIMAL_FORMAT_CONFIG, REPLACE_NULL_WITH_DEFAULT_CONFIG, SCHEMAS_CACHE_SIZE_CONFIG,
    SCHEMAS_ENABLE_CONFIG,
};
use super::{converter_class_name, string::ENCODING_CONFIGS};

/// Connect's `ConverterConfig.TYPE_CONFIG`: whether the converter handles keys, values or
/// headers (the runtime sets it).
pub const CONVERTER_TYPE_CONFIG: &str = "converter.type";

/// Connect's `ConverterConfig`: the key every converter has.
fn converter_def() -> ConfigDef {
    ConfigDef::new().define(
        CONVERTER_TYPE_CONFIG,
        ConfigType::String,
        None,
        Some(Validator::one_of(&["key", "value", "header"])),
        Importance::Low,
        "How this converter will be used.",
    )
}

/// `decimal.format`, case-insensitive as Connect's `CaseInsensitiveValidString`.
fn decimal_format_validator() -> Validator {
    Validator::custom("[BASE64, NUMERIC]", |v| match v {
        ParsedValue::String(s)
            if !["BASE64", "NUMERIC"].contains(&s.to_ascii_uppercase().as_str()) =>
        {
            Err("String must be one of (case insensitive): BASE64, NUMERIC".into())
        }
        _ => Ok(()),
    })
}

/// The keys of the converter `class` (a class name or alias [`converter_class_name`]
/// accepts, or the SimpleHeaderConverter); `None` for an unknown class.
pub fn converter_config_def(class: &str) -> Option<ConfigDef> {
    // SimpleHeaderConverter has no keys at all, not even `converter.type`.
    if super::header_converter_class_name(class) == Some(super::SIMPLE_HEADER_CONVERTER) {
        return Some(ConfigDef::new());
    }
    let full = converter_class_name(class)?;
    let simple = full.rsplit('.').next()?;
    let def = converter_def();
    Some(match simple {
        "JsonConverter" => def
            .define(
                SCHEMAS_ENABLE_CONFIG,
                ConfigType::Boolean,
                Some("true"),
                None,
                Importance::High,
                "Include schemas within each of the serialized values and keys.",
            )
            .in_group("Schemas", Width::Medium, "Enable Schemas")
            .define(
                SCHEMAS_CACHE_SIZE_CONFIG,
                ConfigType::Int,
                Some("1000"),
                None,
                Importance::High,
                "The maximum number of schemas that can be cached in this converter instance.",
            )
            .in_group("Schemas", Width::Medium, "Schema Cache Size")
            .define(
                DECIMAL_FORMAT_CONFIG,
                ConfigType::String,
                Some("BASE64"),
                Some(decimal_format_validator()),
                Importance::Low,
                "Controls which format this converter will serialize decimals in: BASE64 or \
                 NUMERIC.",
            )
            .in_group("Serialization", Width::Medium, "Decimal Format")
            .define(
                REPLACE_NULL_WITH_DEFAULT_CONFIG,
                ConfigType::Boolean,
                Some("true"),
                None,
                Importance::Low,
                "Whether to replace fields that have a default value and that are null to the \
                 default value.",
            )
            .in_group("Serialization", Width::Medium, "Replace null with default"),
        // Only UTF-8 exists here (see `StringConverter`).
        "StringConverter" => ENCODING_CONFIGS.iter().fold(def, |d, key| {
            d.define(
                key,
                ConfigType::String,
                Some("UTF-8"),
                Some(Validator::custom("UTF-8", |v| match v {
                    ParsedValue::String(s)
                        if !["UTF8", "UTF-8"].contains(&s.trim().to_ascii_uppercase().as_str()) =>
                    {
                        Err("only UTF-8 is supported".into())
                    }
                    _ => Ok(()),
                })),
                Importance::High,
                "The name of the Java character set to use for encoding strings as byte \
                     arrays (kconnect: UTF-8 only).",
            )
        }),
        _ => def,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Props;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_converter_has_a_config_def_with_its_type_key() {
        for class in super::super::CONVERTER_CLASSES {
            let def = converter_config_def(class).unwrap();
            assert!(def.key(CONVERTER_TYPE_CONFIG).is_some(), "{class}");
        }
        assert!(converter_config_def("com.example.NoSuchConverter").is_none());
    }

    #[test]
    fn json_converter_keys_are_checked_as_connect_checks_them() {
        let def = converter_config_def("JsonConverter").unwrap();
        let errors = |p: &[(&str, &str)]| -> Vec<String> {
            let mut p = props(p);
            p.insert(CONVERTER_TYPE_CONFIG.into(), "value".into());
            def.validate(&p)
                .into_iter()
                .flat_map(|v| v.errors)
                .collect()
        };
        assert!(errors(&[("schemas.enable", "false"), ("decimal.format", "numeric")]).is_empty());
        let e = errors(&[("schemas.enable", "maybe")]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("schemas.enable"), "{e:?}");
        assert_eq!(errors(&[("decimal.format", "HEX")]).len(), 1);
    }
}
