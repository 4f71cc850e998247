//! Loading worker and connector config files the way Kafka Connect users have them.
//!
//! [`load_props`] picks the format from the file extension:
//! - `.toml`, `.yaml`/`.yml` and `.json` are parsed through the `config` crate and flattened to
//!   the dotted string keys Connect uses: a nested table `key: {converter: x}` becomes
//!   `key.converter`, an array becomes a comma-joined string (a Connect `LIST`), numbers and
//!   booleans become their string form and a null becomes the empty string. Dotted keys may also
//!   be written as they are (`key.converter.schemas.enable: false` next to
//!   `key.converter: ...`); a key defined twice (say once dotted and once nested) is an error.
//! - Anything else (`.properties`, no extension, ...) is a Java `.properties` file, read as
//!   `connect-standalone` reads it: `key=value`, `key: value` and `key value` pairs, `#` and `!`
//!   comments, `\` line continuations, escapes and `\uXXXX` escapes; the last of duplicate keys
//!   wins. Values are kept as written: leading whitespace is dropped, trailing whitespace is
//!   kept, as in Java. One deliberate difference: a file that is valid UTF-8 is read as UTF-8
//!   (Java would read its non-ASCII bytes as ISO-8859-1 and mangle them); any other file is read
//!   as ISO-8859-1, as Java does.
//!
//! [`load_connector_file`] reads a connector config: anything [`load_props`] reads, and also a
//! `.json` file in the shape of Connect's `POST /connectors` body, `{"name": …, "config": {…},
//! "initial_state": …}`, which `connect-standalone` accepts since Kafka 3.7 (KIP-980).
//!
//! [`apply_env_overrides`] lets `CONNECT_*` environment variables override the worker config.

use std::collections::btree_map::Entry;
use std::io;
use std::path::{Path, PathBuf};

use config::{FileFormat, Format, Map, Value, ValueKind};
use kconnect_actors::TargetState;
use kconnect_connectors::api::Props;

/// What is wrong inside a config file.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The `.properties` reader's description, with its line when it has one.
    #[error("{}{description}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Properties {
        line: Option<usize>,
        description: String,
    },
    #[error("line {0}: not valid UTF-8")]
    NotUtf8(usize),
    /// The TOML, YAML or JSON parser's message (it names the line and column).
    #[error("{}", .0.to_string().trim_end())]
    Format(Box<dyn std::error::Error + Send + Sync>),
    #[error("key {0}: expected a string")]
    NotAString(String),
    #[error("key {0}: a list may only hold strings, numbers and booleans")]
    NotAScalarList(String),
    #[error("key {0} is defined more than once")]
    Duplicate(String),
}

/// A config file could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {}: No such file or directory", .path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read config file {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `why` carries the line (and column) when the parser reports it.
    #[error("cannot parse config file {}: {why}", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        why: ParseError,
    },
    /// A `{"name", "config"}` connector file whose two names disagree: which one was meant is
    /// anyone's guess, so neither is used (Connect refuses it too).
    #[error(
        "connector config {}: the top-level \"name\" is {name:?} but config.name is \
         {config_name:?}; they must match",
        .path.display()
    )]
    NameMismatch {
        path: PathBuf,
        name: String,
        config_name: String,
    },
    #[error(
        "connector config {}: invalid initial_state {value:?}; must be one of RUNNING, PAUSED, \
         STOPPED",
        .path.display()
    )]
    InitialState { path: PathBuf, value: String },
}

/// A connector config file, read by [`load_connector_file`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorFile {
    pub path: PathBuf,
    /// The flat connector config; a `{"name", "config"}` file's top-level name is its `name`.
    pub props: Props,
    /// The `initial_state` of a `{"name", "config", "initial_state"}` file; `None` elsewhere,
    /// which means RUNNING.
    pub initial_state: Option<TargetState>,
}

/// The keys of Connect's `POST /connectors` body (`CreateConnectorRequest`). A JSON connector
/// file with a `config` object and no other keys is read as such a body, as `connect-standalone`
/// and `kconnect ctl create` read it.
pub const CREATE_REQUEST_KEYS: [&str; 3] = ["name", "config", "initial_state"];

/// Reads a config file into string properties; the format follows the extension (see the
/// [module documentation](self)).
pub fn load_props(path: &Path) -> Result<Props, ConfigFileError> {
    match parse_file(path)? {
        Parsed::Properties(props) => Ok(props),
        Parsed::Table(table) => flatten_table(path, table),
    }
}

/// Reads a connector config file: a `.json` file in the `{"name": …, "config": {…},
/// "initial_state": …}` shape of Connect's `POST /connectors` body, or any file [`load_props`]
/// reads (a flat config). In the nested shape the top-level `name` becomes the config's `name`;
/// when both are given they must be equal.
pub fn load_connector_file(path: &Path) -> Result<ConnectorFile, ConfigFileError> {
    let file = |props, initial_state| ConnectorFile {
        path: path.to_path_buf(),
        props,
        initial_state,
    };
    let mut table = match parse_file(path)? {
        Parsed::Properties(props) => return Ok(file(props, None)),
        Parsed::Table(table) if is_json(path) && is_create_request(&table) => table,
        Parsed::Table(table) => return Ok(file(flatten_table(path, table)?, None)),
    };
    let Some(ValueKind::Table(config)) = table.remove("config").map(|v| v.kind) else {
        unreachable!("is_create_request checked that config is a table");
    };
    let mut props = flatten_table(path, config)?;
    if let Some(name) = top_level_text(path, &mut table, "name")? {
        match props.get("name") {
            Some(config_name) if *config_name != name => {
                return Err(ConfigFileError::NameMismatch {
                    path: path.to_path_buf(),
                    name,
                    config_name: config_name.clone(),
                })
            }
            _ => {
                props.insert("name".into(), name);
            }
        }
    }
    let initial_state = match top_level_text(path, &mut table, "initial_state")? {
        None => None,
        // Connect reads the state case-insensitively.
        Some(value) => Some(match value.to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => {
                return Err(ConfigFileError::InitialState {
                    path: path.to_path_buf(),
                    value,
                })
            }
        }),
    };
    debug_assert!(table.is_empty(), "is_create_request allows no other keys");
    Ok(file(props, initial_state))
}

/// Only JSON files are read in the `POST /connectors` shape, as in Connect: a YAML or TOML
/// file's `config` table stays the `config.*` keys it flattens to.
fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Whether a parsed JSON file is a `POST /connectors` body rather than a flat config: a
/// `config` object and no keys besides [`CREATE_REQUEST_KEYS`]. A flat config whose only keys
/// are `name` and a nested `config.*` table reads as a body too, as it does in Connect.
fn is_create_request(table: &Map<String, Value>) -> bool {
    matches!(
        table.get("config").map(|v| &v.kind),
        Some(ValueKind::Table(_))
    ) && table
        .keys()
        .all(|key| CREATE_REQUEST_KEYS.contains(&key.as_str()))
}

/// A top-level scalar of a `POST /connectors` body as text; null is absent.
fn top_level_text(
    path: &Path,
    table: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ConfigFileError> {
    match table.remove(key).map(|v| v.kind) {
        None | Some(ValueKind::Nil) => Ok(None),
        Some(kind) => scalar(kind)
            .map(Some)
            .ok_or_else(|| ConfigFileError::Parse {
                path: path.to_path_buf(),
                why: ParseError::NotAString(key.to_string()),
            }),
    }
}

/// A config file's content before flattening.
enum Parsed {
    /// A `.properties` file: already flat.
    Properties(Props),
    /// A `.toml`, `.yaml`/`.yml` or `.json` file: nested tables.
    Table(Map<String, Value>),
}

fn parse_file(path: &Path) -> Result<Parsed, ConfigFileError> {
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            ConfigFileError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigFileError::Unreadable {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let parse_error = |why: ParseError| ConfigFileError::Parse {
        path: path.to_path_buf(),
        why,
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let format = match extension.as_deref() {
        Some("toml") => FileFormat::Toml,
        Some("yaml" | "yml") => FileFormat::Yaml,
        Some("json") => FileFormat::Json,
        _ => {
            return parse_properties(&bytes)
                .map(Parsed::Properties)
                .map_err(parse_error)
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        parse_error(ParseError::NotUtf8(line))
    })?;
    // No URI: the error already names the file, and the parsers would repeat it.
    Format::parse(&format, None, text)
        .map(Parsed::Table)
        .map_err(|e| parse_error(ParseError::Format(e)))
}

fn flatten_table(path: &Path, table: Map<String, Value>) -> Result<Props, ConfigFileError> {
    let mut props = Props::new();
    for (key, value) in table {
        flatten(&key, value, &mut props).map_err(|why| ConfigFileError::Parse {
            path: path.to_path_buf(),
            why,
        })?;
    }
    Ok(props)
}

fn parse_properties(bytes: &[u8]) -> Result<Props, ParseError> {
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    };
    let mut props = Props::new();
    java_properties::PropertiesIter::new_with_encoding(bytes, encoding)
        .read_into(|key, value| {
            props.insert(key, value);
        })
        .map_err(|e| {
            #[allow(deprecated)] // the only way to get the message without the line suffix
            let description = std::error::Error::description(&e).to_string();
            let description = match std::error::Error::source(&e) {
                Some(cause) => format!("{description}: {cause}"),
                None => description,
            };
            ParseError::Properties {
                line: e.line_number(),
                description,
            }
        })?;
    Ok(props)
}

fn flatten(key: &str, value: Value, props: &mut Props) -> Result<(), ParseError> {
    let text = match value.kind {
        ValueKind::Table(table) => {
            for (child, value) in table {
                flatten(&format!("{key}.{child}"), value, props)?;
            }
            return Ok(());
        }
        ValueKind::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(
                    scalar(item.kind).ok_or_else(|| ParseError::NotAScalarList(key.to_string()))?,
                );
            }
            parts.join(",")
        }
        kind => scalar(kind).expect("tables and arrays are handled above"),
    };
    match props.entry(key.to_string()) {
        Entry::Occupied(_) => Err(ParseError::Duplicate(key.to_string())),
        Entry::Vacant(slot) => {
            slot.insert(text);
            Ok(())
        }
    }
}

fn scalar(kind: ValueKind) -> Option<String> {
    Some(match kind {
        ValueKind::Nil => String::new(),
        ValueKind::Boolean(b) => b.to_string(),
        ValueKind::I64(n) => n.to_string(),
        ValueKind::I128(n) => n.to_string(),
        ValueKind::U64(n) => n.to_string(),
        ValueKind::U128(n) => n.to_string(),
        // `Debug` keeps a float a float: 1.0 stays "1.0" rather than becoming "1".
        ValueKind::Float(f) => format!("{f:?}"),
        ValueKind::String(s) => s,
        ValueKind::Table(_) | ValueKind::Array(_) => return None,
    })
}

/// Overrides worker config keys from `CONNECT_*` environment variables, the convention of
/// Confluent's Kafka Connect Docker images, and returns the keys it set (for logging; values are
/// left out since they may be secrets).
///
/// The variable name minus the `CONNECT_` prefix is lowercased, then every run of underscores is
/// read left to right: `___` becomes `-`, `__` becomes `_` and a single `_` becomes `.`:
///
/// | variable                                | key                                |
/// |-----------------------------------------|------------------------------------|
/// | `CONNECT_BOOTSTRAP_SERVERS`             | `bootstrap.servers`                |
/// | `CONNECT_OFFSET_FLUSH_INTERVAL_MS`      | `offset.flush.interval.ms`         |
/// | `CONNECT_KEY_CONVERTER_SCHEMAS_ENABLE`  | `key.converter.schemas.enable`     |
/// | `CONNECT_SASL_JAAS_CONFIG`              | `sasl.jaas.config`                 |
/// | `CONNECT_CONFLUENT_TOPIC__REPLICATION`  | `confluent.topic_replication`      |
/// | `CONNECT_SOME___DASHED_KEY`             | `some-dashed.key`                  |
///
/// As in those images, `CONNECT_LOG4J_*` and `CONNECT_TOOLS_LOG4J_*` configure logging, not the
/// worker, and are skipped, as is a bare `CONNECT_`. Other variables are ignored.
pub fn apply_env_overrides(
    props: &mut Props,
    env: impl Iterator<Item = (String, String)>,
) -> Vec<String> {
    let mut overridden = Vec::new();
    for (name, value) in env {
        let Some(key) = env_var_to_key(&name) else {
            continue;
        };
        props.insert(key.clone(), value);
        overridden.push(key);
    }
    overridden
}

/// The worker config key a `CONNECT_*` variable sets, if any.
fn env_var_to_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("CONNECT_")?;
    if rest.is_empty() || rest.starts_with("LOG4J_") || rest.starts_with("TOOLS_LOG4J_") {
        return None;
    }
    let mut key = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            key.extend(c.to_lowercase());
            continue;
        }
        let mut run = 1;
        while chars.next_if_eq(&'_').is_some() {
            run += 1;
        }
        while run >= 3 {
            key.push('-');
            run -= 3;
        }
        match run {
            2 => key.push('_'),
            1 => key.push('.'),
            _ => {}
        }
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const STANDALONE_PROPERTIES: &str = r#"# Licensed to the Apache Software Foundation (ASF) under one or more
# contributor license agreements.  See the NOTICE file distributed with
# this work for additional information regarding copyright ownership.

# These are defaults. This file just demonstrates how to override some settings.
bootstrap.servers=localhost:9092

# The converters specify the format of data in Kafka and how to translate it into Connect data. Every Connect user will
# need to configure these based on the format they want their data in when loaded from or stored into Kafka
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
# Converter-specific settings can be passed in by prefixing the Converter's setting with the converter we want to apply
# it to
key.converter.schemas.enable=true
value.converter.schemas.enable=true

offset.storage.file.filename=/tmp/connect.offsets
# Flush much faster than normal, which is useful for testing/debugging
offset.flush.interval.ms=10000

# Set to a list of filesystem paths separated by commas (,) to enable class loading isolation for plugins
# (connectors, converters, transformations).
# Examples:
# plugin.path=/usr/local/share/java,/usr/local/share/kafka/plugins,/opt/connectors,
#plugin.path=
"#;

    const FILE_SOURCE_PROPERTIES: &str = "# Licensed to the Apache Software Foundation (ASF)\n\
        \n\
        name=local-file-source\n\
        connector.class=FileStreamSource\n\
        tasks.max=1\n\
        file=test.txt\n\
        topic=connect-test";

    #[test]
    fn reads_kafka_connect_standalone_properties() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "connect-standalone.properties", STANDALONE_PROPERTIES);
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("bootstrap.servers", "localhost:9092"),
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("key.converter.schemas.enable", "true"),
                ("value.converter.schemas.enable", "true"),
                ("offset.storage.file.filename", "/tmp/connect.offsets"),
                ("offset.flush.interval.ms", "10000"),
            ])
        );
    }

    #[test]
    fn reads_kafka_file_source_properties_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "connect-file-source.properties",
            FILE_SOURCE_PROPERTIES,
        );
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("name", "local-file-source"),
                ("connector.class", "FileStreamSource"),
                ("tasks.max", "1"),
                ("file", "test.txt"),
                ("topic", "connect-test"),
            ])
        );
    }

    #[test]
    fn properties_syntax_variants() {
        let dir = tempfile::tempdir().unwrap();
        let content = "equals=a\n\
            colon: b\n\
            space c\n\
            \x20\x20indented = d\n\
            ! bang comment=x\n\
            # hash comment=y\n\
            trailing=kept  \n\
            empty=\n\
            bare\n\
            escaped\\=key=v\\=1\\tx\n\
            unicode=caf\\u00e9\n\
            plugin.path=/opt/a,\\\n\
            \x20\x20\x20\x20/opt/b,\\\n\
            \x20\x20\x20\x20/opt/c\n\
            dup=first\n\
            dup=second\n";
        let path = write(&dir, "worker", content);
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("equals", "a"),
                ("colon", "b"),
                ("space", "c"),
                ("indented", "d"),
                ("trailing", "kept  "),
                ("empty", ""),
                ("bare", ""),
                ("escaped=key", "v=1\tx"),
                ("unicode", "café"),
                ("plugin.path", "/opt/a,/opt/b,/opt/c"),
                ("dup", "second"),
            ])
        );
    }

    #[test]
    fn properties_encoding_utf8_or_latin1() {
        let dir = tempfile::tempdir().unwrap();
        let utf8 = write(&dir, "utf8.properties", "topic=café\r\nname=x\r\n");
        assert_eq!(
            load_props(&utf8).unwrap(),
            props(&[("topic", "café"), ("name", "x")])
        );
        let latin1 = dir.path().join("latin1.properties");
        fs::write(&latin1, b"topic=caf\xe9\n").unwrap();
        assert_eq!(load_props(&latin1).unwrap(), props(&[("topic", "café")]));
    }

    #[test]
    fn malformed_unicode_escape_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "bad.properties", "a=1\nb=\\u12\n");
        let err = load_props(&path).unwrap_err();
        assert!(matches!(err, ConfigFileError::Parse { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot parse config file {}: ", path.display())),
            "{text}"
        );
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn toml_is_flattened() {
        let dir = tempfile::tempdir().unwrap();
        let content = r#"
"bootstrap.servers" = "localhost:9092"
"offset.flush.interval.ms" = 10000
"plugin.path" = ["/opt/a", "/opt/b"]
ratio = 1.0

[key]
converter = "org.apache.kafka.connect.json.JsonConverter"
"converter.schemas.enable" = false

[consumer.max]
"poll.records" = 500
"#;
        let path = write(&dir, "worker.toml", content);
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("bootstrap.servers", "localhost:9092"),
                ("offset.flush.interval.ms", "10000"),
                ("plugin.path", "/opt/a,/opt/b"),
                ("ratio", "1.0"),
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("key.converter.schemas.enable", "false"),
                ("consumer.max.poll.records", "500"),
            ])
        );
    }

    #[test]
    fn yaml_is_flattened_and_dotted_keys_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let content = "\
name: local-file-source
connector.class: FileStreamSource
tasks.max: 1
key.converter: org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable: false
transforms:
  - route
  - mask
errors:
  tolerance: all
  deadletterqueue.topic.name: dlq
empty:
quoted: '  spaced  '
";
        let path = write(&dir, "source.yml", content);
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("name", "local-file-source"),
                ("connector.class", "FileStreamSource"),
                ("tasks.max", "1"),
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("key.converter.schemas.enable", "false"),
                ("transforms", "route,mask"),
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "dlq"),
                ("empty", ""),
                ("quoted", "  spaced  "),
            ])
        );
    }

    #[test]
    fn json_is_flattened() {
        let dir = tempfile::tempdir().unwrap();
        let content = r#"{
  "name": "sink",
  "tasks.max": 2,
  "topics": ["a", "b", "c"],
  "value": {"converter": "org.apache.kafka.connect.storage.StringConverter"},
  "big": 18446744073709551615,
  "flag": true
}"#;
        let path = write(&dir, "sink.JSON", content);
        assert_eq!(
            load_props(&path).unwrap(),
            props(&[
                ("name", "sink"),
                ("tasks.max", "2"),
                ("topics", "a,b,c"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.storage.StringConverter"
                ),
                ("big", "18446744073709551615"),
                ("flag", "true"),
            ])
        );
    }

    /// Connect's `POST /connectors` body, as `connect-standalone` reads it from a `.json` file.
    const NESTED_SOURCE: &str = r#"{
  "name": "local-file-source",
  "config": {
    "connector.class": "FileStreamSource",
    "tasks.max": 1,
    "file": "test.txt",
    "topic": "connect-test"
  }
}"#;

    fn file_source(name: &str) -> Props {
        props(&[
            ("name", name),
            ("connector.class", "FileStreamSource"),
            ("tasks.max", "1"),
            ("file", "test.txt"),
            ("topic", "connect-test"),
        ])
    }

    #[test]
    fn nested_json_connector_file_takes_its_name_from_the_top_level() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "source.json", NESTED_SOURCE);
        let file = load_connector_file(&path).unwrap();
        assert_eq!(file.props, file_source("local-file-source"));
        assert_eq!(file.initial_state, None);
        assert_eq!(file.path, path);
    }

    #[test]
    fn flat_json_connector_file_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let flat = r#"{"name": "local-file-source", "connector.class": "FileStreamSource",
            "tasks.max": "1", "file": "test.txt", "topic": "connect-test"}"#;
        let path = write(&dir, "source.json", flat);
        let file = load_connector_file(&path).unwrap();
        assert_eq!(file.props, file_source("local-file-source"));
        assert_eq!(file.initial_state, None);
        // The same as load_props, and a .properties file reads the same way.
        assert_eq!(file.props, load_props(&path).unwrap());
        let path = write(&dir, "source.properties", FILE_SOURCE_PROPERTIES);
        assert_eq!(
            load_connector_file(&path).unwrap().props,
            file_source("local-file-source")
        );
    }

    #[test]
    fn nested_json_names_may_repeat_but_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let same = r#"{"name": "s", "config": {"name": "s", "connector.class": "FileStreamSource",
            "tasks.max": "1", "file": "test.txt", "topic": "connect-test"}}"#;
        let path = write(&dir, "same.json", same);
        assert_eq!(load_connector_file(&path).unwrap().props, file_source("s"));
        // Only config.name: Connect's body without its optional top-level name.
        let inner = r#"{"config": {"name": "s", "connector.class": "FileStreamSource",
            "tasks.max": "1", "file": "test.txt", "topic": "connect-test"}}"#;
        let path = write(&dir, "inner.json", inner);
        assert_eq!(load_connector_file(&path).unwrap().props, file_source("s"));

        let differ = r#"{"name": "a", "config": {"name": "b", "connector.class": "X"}}"#;
        let path = write(&dir, "differ.json", differ);
        let err = load_connector_file(&path).unwrap_err();
        assert!(
            matches!(&err, ConfigFileError::NameMismatch { name, config_name, .. }
                if name == "a" && config_name == "b"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("\"a\"") && text.contains("\"b\""), "{text}");
    }

    #[test]
    fn nested_json_initial_state() {
        let dir = tempfile::tempdir().unwrap();
        for (state, expected) in [
            ("\"PAUSED\"", Some(TargetState::Paused)),
            ("\"stopped\"", Some(TargetState::Stopped)),
            ("\"RUNNING\"", Some(TargetState::Started)),
            ("null", None),
        ] {
            let body = format!(r#"{{"name": "c", "config": {{}}, "initial_state": {state}}}"#);
            let path = write(&dir, "c.json", &body);
            let file = load_connector_file(&path).unwrap();
            assert_eq!(file.initial_state, expected, "{state}");
            assert_eq!(file.props, props(&[("name", "c")]));
        }
        let path = write(
            &dir,
            "bad.json",
            r#"{"name": "c", "config": {}, "initial_state": "ASLEEP"}"#,
        );
        let err = load_connector_file(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("initial_state") && err.contains("ASLEEP"),
            "{err}"
        );
    }

    #[test]
    fn only_a_json_body_shape_is_unwrapped() {
        let dir = tempfile::tempdir().unwrap();
        // Another key next to name and config: a flat config with a nested config.* table.
        let path = write(
            &dir,
            "flat.json",
            r#"{"name": "c", "config": {"action.reload": "none"}, "topic": "t"}"#,
        );
        assert_eq!(
            load_connector_file(&path).unwrap().props,
            props(&[
                ("name", "c"),
                ("config.action.reload", "none"),
                ("topic", "t")
            ])
        );
        // YAML and TOML keep their tables as dotted keys, whatever their shape.
        let path = write(
            &dir,
            "c.yaml",
            "name: c
config:
  action.reload: none
",
        );
        assert_eq!(
            load_connector_file(&path).unwrap().props,
            props(&[("name", "c"), ("config.action.reload", "none")])
        );
    }

    #[test]
    fn key_defined_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "twice.yaml",
            "key.converter: a\nkey:\n  converter: b\n",
        );
        let err = load_props(&path).unwrap_err();
        assert!(
            matches!(&err, ConfigFileError::Parse { why: ParseError::Duplicate(k), .. } if k == "key.converter"),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("key.converter is defined more than once"),
            "{err}"
        );
    }

    #[test]
    fn nested_list_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "nested.json", r#"{"topics": [["a"]]}"#);
        let err = load_props(&path).unwrap_err().to_string();
        assert!(err.contains("key topics"), "{err}");
    }

    #[test]
    fn missing_file_error_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.properties");
        let err = load_props(&path).unwrap_err();
        assert!(matches!(err, ConfigFileError::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read config file {}: No such file or directory",
                path.display()
            )
        );
    }

    #[test]
    fn directory_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_props(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigFileError::Unreadable { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!(
                "cannot read config file {}: ",
                dir.path().display()
            )),
            "{err}"
        );
    }

    #[test]
    fn bad_toml_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "worker.toml", "a = 1\nb = = 2\n");
        let err = load_props(&path).unwrap_err();
        assert!(matches!(err, ConfigFileError::Parse { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot parse config file {}: ", path.display())),
            "{text}"
        );
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.ends_with('\n'), "{text:?}");
    }

    #[test]
    fn bad_yaml_and_json_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = write(&dir, "w.yaml", "a: 1\nb: [unclosed\n");
        let text = load_props(&yaml).unwrap_err().to_string();
        assert!(text.contains(&yaml.display().to_string()), "{text}");
        assert!(text.contains("line"), "{text}");
        let json = write(&dir, "w.json", "{\n\"a\": 1,\n}\n");
        let text = load_props(&json).unwrap_err().to_string();
        assert!(text.contains(&json.display().to_string()), "{text}");
        assert!(text.contains("line 3"), "{text}");
        let array = write(&dir, "w2.json", "[1]");
        assert_eq!(
            load_props(&array).unwrap_err().to_string(),
            format!(
                "cannot parse config file {}: invalid type: sequence, expected a map",
                array.display()
            )
        );
    }

    #[test]
    fn non_utf8_toml_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        fs::write(&path, b"a = 1\nb = \"\xff\"\n").unwrap();
        let text = load_props(&path).unwrap_err().to_string();
        assert!(text.contains("line 2: not valid UTF-8"), "{text}");
    }

    #[test]
    fn env_names_map_like_confluent_images() {
        let cases = [
            ("CONNECT_BOOTSTRAP_SERVERS", Some("bootstrap.servers")),
            (
                "CONNECT_OFFSET_FLUSH_INTERVAL_MS",
                Some("offset.flush.interval.ms"),
            ),
            (
                "CONNECT_KEY_CONVERTER_SCHEMAS_ENABLE",
                Some("key.converter.schemas.enable"),
            ),
            (
                "CONNECT_CONFLUENT_TOPIC__REPLICATION",
                Some("confluent.topic_replication"),
            ),
            ("CONNECT_SOME___DASHED_KEY", Some("some-dashed.key")),
            ("CONNECT_A____B", Some("a-.b")),
            ("CONNECT_A_____B", Some("a-_b")),
            ("CONNECT_LOG4J_ROOT_LOGLEVEL", None),
            ("CONNECT_TOOLS_LOG4J_LOGLEVEL", None),
            ("CONNECT_", None),
            ("KAFKA_BOOTSTRAP_SERVERS", None),
            ("connect_bootstrap_servers", None),
        ];
        for (name, key) in cases {
            assert_eq!(env_var_to_key(name).as_deref(), key, "{name}");
        }
    }

    #[test]
    fn env_overrides_replace_and_add_keys() {
        let mut worker = props(&[
            ("bootstrap.servers", "localhost:9092"),
            ("offset.flush.interval.ms", "10000"),
        ]);
        let env = [
            ("PATH", "/usr/bin"),
            ("CONNECT_BOOTSTRAP_SERVERS", "kafka:29092"),
            ("CONNECT_PLUGIN_PATH", "/usr/share/java"),
            ("CONNECT_LOG4J_LOGGERS", "org.reflections=ERROR"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let overridden = apply_env_overrides(&mut worker, env);
        assert_eq!(overridden, vec!["bootstrap.servers", "plugin.path"]);
        assert_eq!(
            worker,
            props(&[
                ("bootstrap.servers", "kafka:29092"),
                ("offset.flush.interval.ms", "10000"),
                ("plugin.path", "/usr/share/java"),
            ])
        );
    }
}
