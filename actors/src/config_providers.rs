//! Connect's config providers (KIP-297): the worker config names them with
//! `config.providers=file,dir,env`, `config.providers.<name>.class` (a class name or alias) and
//! `config.providers.<name>.param.<key>`, and config values refer to their data as
//! `${<provider>:<path>:<key>}` or `${<provider>:<key>}`, parsed as Connect's `ConfigTransformer`
//! parses them. The built-in providers: `FileConfigProvider` (a key of a properties file),
//! `DirectoryConfigProvider` (the contents of a file in a directory, as Kubernetes mounts
//! secrets) and `EnvVarConfigProvider` (an environment variable), with their parameters
//! `allowed.paths` and `allowlist.pattern`.
//!
//! Where resolution happens (Connect's `WorkerConfigTransformer`):
//! - a worker config once, when it is parsed ([`crate::config::WorkerConfig::parse`]);
//! - a connector config whenever it is validated (a create or update) and whenever the connector
//!   or one of its tasks starts (the connector supervisor), so a changed secret file takes
//!   effect on the next restart. What is stored (REST reads, the config topic) keeps the `${…}`
//!   text; task configs are stored with the connector's `${…}` text put back
//!   ([`reverse_transform`], as Connect's `AbstractHerder.reverseTransform`).
//!
//! Resolved values are treated as secrets: every value a provider hands out is remembered for
//! the life of the process, and [`hide_secrets`] replaces it with `[hidden]` in status traces,
//! validation messages and log lines (the binary's log writer calls it on every line).
//!
//! Deviations from Connect:
//! - A variable of a configured provider that cannot be resolved (no such key, file or
//!   directory, a path outside `allowed.paths`, a variable outside `allowlist.pattern`) is an
//!   error naming the config key and the variable. Connect leaves such a variable as it is (it
//!   fails only on a file it cannot read), and a connector would then run with the literal
//!   `${…}` text as, say, its password. A variable of a provider the worker does not configure
//!   is left as it is, as in Connect.
//! - Providers come from the worker config only, as Connect's runtime resolves connector
//!   configs with the worker's providers; only the three built-in providers exist.
//! - `allowed.paths` entries are trimmed.
//! - Values shorter than [`MIN_HIDDEN_LEN`] characters are not scrubbed from free text (they
//!   would match ordinary words and numbers everywhere); a secret that short is no secret.
//! - None of the built-in providers reports a TTL, so, as in Connect with these providers,
//!   nothing reloads by itself: `config.action.reload` is validated and has no effect.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use kconnect_connectors::api::Props;
use regex::Regex;
use thiserror::Error;

/// The worker key listing provider names.
pub const CONFIG_PROVIDERS: &str = "config.providers";
/// `FileConfigProvider` and `DirectoryConfigProvider`: the paths they may read (comma
/// separated, absolute, existing); all paths when absent.
pub const ALLOWED_PATHS: &str = "allowed.paths";
/// `EnvVarConfigProvider`: the variables it may hand out (a regular expression matching the
/// whole name); all when absent.
pub const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

pub const FILE_CONFIG_PROVIDER: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
pub const DIRECTORY_CONFIG_PROVIDER: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
pub const ENV_VAR_CONFIG_PROVIDER: &str =
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// What a hidden value shows as (Connect's PASSWORD values show the same).
pub const HIDDEN: &str = "[hidden]";
/// Resolved values at least this many characters long are scrubbed from free text.
pub const MIN_HIDDEN_LEN: usize = 6;

/// Connect's `ConfigTransformer.DEFAULT_PATTERN`: provider, optional path, key. The lazy
/// quantifiers pick the first colon after the provider as the end of the path, as Java's
/// backtracking matcher does (the regex crate gives the same leftmost-first captures).
static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}").expect("a valid pattern"));

/// A worker config's provider settings that cannot work.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProviderConfigError {
    /// Connect's message for a class it cannot find.
    #[error(
        "Invalid value {class} for configuration {key}: Failed to find any class that \
         implements ConfigProvider and which name matches {class}, available ConfigProviders \
         are: {FILE_CONFIG_PROVIDER}, {DIRECTORY_CONFIG_PROVIDER}, {ENV_VAR_CONFIG_PROVIDER}"
    )]
    UnknownClass { key: String, class: String },
    /// A bad parameter (Connect's `AllowedPaths` and pattern messages).
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    BadParam {
        key: String,
        value: String,
        reason: String,
    },
}

/// A variable that could not be resolved, named with the config key that holds it. Never
/// carries a resolved value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("Invalid value {variable} for configuration {key}: {reason}")]
pub struct ResolveError {
    pub key: String,
    /// The variable as written, `${provider:path:key}`.
    pub variable: String,
    pub reason: Unresolved,
}

/// Why a variable could not be resolved. Causes from the file system are kept as their text so
/// that the error stays `Clone` and comparable (validation results carry it).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Unresolved {
    #[error(
        "The path {path} is not allowed by {CONFIG_PROVIDERS}.{provider}.param.{ALLOWED_PATHS}"
    )]
    PathNotAllowed { provider: String, path: String },
    #[error("Could not read properties from file {path}: {error}")]
    ReadFile { path: String, error: String },
    /// Only the line number: the parser's description may quote the line, a secret.
    #[error("Could not read properties from file {path}{}", line.map(|n| format!(": line {n}")).unwrap_or_default())]
    BadPropertiesFile { path: String, line: Option<usize> },
    #[error("The path {0} is not a directory")]
    NotADirectory(String),
    #[error("Could not read file {file} for property {key}: {error}")]
    ReadDirectoryFile {
        file: String,
        key: String,
        error: String,
    },
    #[error("Path is not supported for EnvVarConfigProvider, invalid value '{0}'")]
    EnvVarPath(String),
    #[error("FileConfigProvider needs a file: ${{provider:path:key}}")]
    NoFile,
    #[error("no key {key} in the properties file {path}")]
    NoKeyInFile { key: String, path: String },
    #[error("DirectoryConfigProvider needs a directory: ${{provider:path:key}}")]
    NoDirectory,
    #[error("no file {key} in the directory {path}")]
    NoFileInDirectory { key: String, path: String },
    #[error("no environment variable {key} (or it does not match {allowlist_key})")]
    NoEnvVar { key: String, allowlist_key: String },
}

/// The providers a worker config configures, by name.
#[derive(Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Arc<Provider>>,
}

impl std::fmt::Debug for ConfigProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: an env provider holds the process's environment.
        f.debug_set().entries(self.providers.keys()).finish()
    }
}

/// A config with its variables resolved, and what could not be resolved (those variables are
/// left as written).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub props: Props,
    pub errors: Vec<ResolveError>,
}

impl Resolved {
    /// The resolved config, or the first variable that could not be resolved.
    pub fn strict(self) -> Result<Props, ResolveError> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.props),
        }
    }
}

impl ConfigProviders {
    /// The providers `worker` configures (Connect's `config.providers` handling). A name
    /// without a `.class` key is ignored, as in Connect.
    pub fn from_worker_config(worker: &Props) -> Result<Self, ProviderConfigError> {
        // `vars` would panic on a variable that is not UTF-8; such a one cannot be a config
        // value anyway.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::with_env(worker, env)
    }

    /// As [`Self::from_worker_config`], with `env` as the environment the env provider reads.
    pub fn with_env(
        worker: &Props,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ProviderConfigError> {
        let names: Vec<&str> = worker
            .get(CONFIG_PROVIDERS)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut providers = BTreeMap::new();
        for name in names {
            let class_key = format!("{CONFIG_PROVIDERS}.{name}.class");
            let Some(class) = worker.get(&class_key) else {
                continue;
            };
            let params =
                crate::config::prefixed(worker, &format!("{CONFIG_PROVIDERS}.{name}.param."));
            let param_key = |p: &str| format!("{CONFIG_PROVIDERS}.{name}.param.{p}");
            let provider = match provider_kind(class) {
                Some(Kind::File) => Provider::File {
                    allowed: AllowedPaths::parse(
                        &param_key(ALLOWED_PATHS),
                        params.get(ALLOWED_PATHS),
                    )?,
                },
                Some(Kind::Directory) => Provider::Directory {
                    allowed: AllowedPaths::parse(
                        &param_key(ALLOWED_PATHS),
                        params.get(ALLOWED_PATHS),
                    )?,
                },
                Some(Kind::EnvVar) => {
                    let key = param_key(ALLOWLIST_PATTERN);
                    let pattern = match params.get(ALLOWLIST_PATTERN) {
                        // Java's Matcher.matches: the whole name.
                        Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                            ProviderConfigError::BadParam {
                                key: key.clone(),
                                value: p.clone(),
                                reason: e.to_string(),
                            }
                        })?),
                        None => None,
                    };
                    let vars = env
                        .iter()
                        .filter(|(k, _)| pattern.as_ref().is_none_or(|p| p.is_match(k)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Provider::EnvVar {
                        vars,
                        allowlist_key: key,
                    }
                }
                None => {
                    return Err(ProviderConfigError::UnknownClass {
                        key: class_key,
                        class: class.trim().to_string(),
                    })
                }
            };
            providers.insert(name.to_string(), Arc::new(provider));
        }
        Ok(ConfigProviders { providers })
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Resolves every variable of a configured provider in `raw` (Connect's
    /// `ConfigTransformer.transform`): each (provider, path) is looked up once, with the keys
    /// wanted from it. The values handed out are remembered for [`hide_secrets`].
    pub fn resolve(&self, raw: &Props) -> Resolved {
        if self.providers.is_empty() || !raw.values().any(|v| has_variables(v)) {
            return Resolved {
                props: raw.clone(),
                errors: Vec::new(),
            };
        }
        let mut wanted: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for value in raw.values() {
            for var in variables(value) {
                if self.providers.contains_key(var.provider) {
                    wanted
                        .entry((var.provider, var.path))
                        .or_default()
                        .insert(var.key);
                }
            }
        }
        let looked_up: BTreeMap<(&str, &str), Result<Data, Unresolved>> = wanted
            .into_iter()
            .map(|((name, path), keys)| {
                let data = self.providers[name].get(name, path, &keys);
                ((name, path), data)
            })
            .collect();
        let mut props = Props::new();
        let mut errors = Vec::new();
        for (key, value) in raw {
            let mut out = String::with_capacity(value.len());
            let mut last = 0;
            for var in variables(value) {
                let Some(data) = looked_up.get(&(var.provider, var.path)) else {
                    // Not a configured provider: left as written, as in Connect.
                    continue;
                };
                out.push_str(&value[last..var.start]);
                last = var.end;
                let error = |reason: Unresolved| ResolveError {
                    key: key.clone(),
                    variable: var.text.to_string(),
                    reason,
                };
                match data {
                    Ok(data) => match data.get(var.key) {
                        Some(v) => {
                            remember_secret(v);
                            out.push_str(v);
                        }
                        None => {
                            let provider = &self.providers[var.provider];
                            errors.push(error(provider.missing(var.path, var.key)));
                            out.push_str(var.text);
                        }
                    },
                    Err(reason) => {
                        errors.push(error(reason.clone()));
                        out.push_str(var.text);
                    }
                }
            }
            out.push_str(&value[last..]);
            props.insert(key.clone(), out);
        }
        Resolved { props, errors }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
    EnvVar,
}

/// A provider class by Connect's class name, simple name or alias (the simple name without
/// `ConfigProvider`, as Connect's plugin aliases).
fn provider_kind(class: &str) -> Option<Kind> {
    let class = class.trim();
    let simple = class
        .strip_prefix("org.apache.kafka.common.config.provider.")
        .unwrap_or(class);
    let simple = simple.strip_suffix("ConfigProvider").unwrap_or(simple);
    match simple {
        "File" => Some(Kind::File),
        "Directory" => Some(Kind::Directory),
        "EnvVar" => Some(Kind::EnvVar),
        _ => None,
    }
}

/// One variable in a value.
struct Variable<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    provider: &'a str,
    /// Empty when the variable has none.
    path: &'a str,
    key: &'a str,
}

fn variables(value: &str) -> impl Iterator<Item = Variable<'_>> {
    VARIABLE.captures_iter(value).map(|c| {
        let all = c.get(0).expect("group 0");
        Variable {
            text: all.as_str(),
            start: all.start(),
            end: all.end(),
            provider: c.get(1).map_or("", |m| m.as_str()),
            path: c.get(3).map_or("", |m| m.as_str()),
            key: c.get(4).map_or("", |m| m.as_str()),
        }
    })
}

/// Whether `value` refers to any provider (Connect's test for keys to reverse-transform).
pub fn has_variables(value: &str) -> bool {
    value.contains("${") && VARIABLE.is_match(value)
}

/// Connect's `reverseTransform`: in task configs generated from a resolved connector config,
/// each key whose connector value holds a variable gets that `${…}` text back, so that stored
/// task configs hold no resolved values (they are resolved again when the task starts).
pub fn reverse_transform(raw_connector: &Props, task_configs: Vec<Props>) -> Vec<Props> {
    let with_variables: Vec<(&String, &String)> = raw_connector
        .iter()
        .filter(|(_, v)| has_variables(v))
        .collect();
    if with_variables.is_empty() {
        return task_configs;
    }
    task_configs
        .into_iter()
        .map(|mut config| {
            for (k, v) in &with_variables {
                if let Some(slot) = config.get_mut(*k) {
                    slot.clone_from(v);
                }
            }
            config
        })
        .collect()
}

/// A provider's answer for one path: key → value.
type Data = BTreeMap<String, String>;

enum Provider {
    File {
        allowed: Option<AllowedPaths>,
    },
    Directory {
        allowed: Option<AllowedPaths>,
    },
    EnvVar {
        /// The environment at worker start, filtered by the allowlist.
        vars: BTreeMap<String, String>,
        allowlist_key: String,
    },
}

impl Provider {
    /// The data at `path` for `keys` (Connect's `ConfigProvider.get(path, keys)`); keys absent
    /// from the answer are missing. `Err` explains why nothing could be read.
    fn get(&self, name: &str, path: &str, keys: &BTreeSet<&str>) -> Result<Data, Unresolved> {
        match self {
            Provider::File { allowed } => {
                if path.is_empty() {
                    return Ok(BTreeMap::new());
                }
                let file = allowed_path(name, allowed.as_ref(), path)?;
                let bytes = std::fs::read(&file).map_err(|e| Unresolved::ReadFile {
                    path: path.to_string(),
                    error: e.to_string(),
                })?;
                let mut all = BTreeMap::new();
                java_properties::PropertiesIter::new_with_encoding(
                    bytes.as_slice(),
                    encoding_rs::UTF_8,
                )
                .read_into(|k, v| {
                    all.insert(k, v);
                })
                .map_err(|e| Unresolved::BadPropertiesFile {
                    path: path.to_string(),
                    line: e.line_number(),
                })?;
                all.retain(|k, _| keys.contains(k.as_str()));
                Ok(all)
            }
            Provider::Directory { allowed } => {
                if path.is_empty() {
                    return Ok(BTreeMap::new());
                }
                let dir = allowed_path(name, allowed.as_ref(), path)?;
                if !dir.is_dir() {
                    return Err(Unresolved::NotADirectory(path.to_string()));
                }
                let mut out = BTreeMap::new();
                for key in keys {
                    // Connect lists the directory: a key is a file name in it, never a path.
                    if key.is_empty() || key.contains('/') || *key == "." || *key == ".." {
                        continue;
                    }
                    let file = dir.join(key);
                    // Regular files, following symbolic links (Kubernetes' secret volumes).
                    if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
                        continue;
                    }
                    let bytes =
                        std::fs::read(&file).map_err(|e| Unresolved::ReadDirectoryFile {
                            file: file.display().to_string(),
                            key: key.to_string(),
                            error: e.to_string(),
                        })?;
                    out.insert(
                        key.to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    );
                }
                Ok(out)
            }
            Provider::EnvVar { vars, .. } => {
                if !path.is_empty() {
                    return Err(Unresolved::EnvVarPath(path.to_string()));
                }
                Ok(keys
                    .iter()
                    .filter_map(|k| vars.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect())
            }
        }
    }

    /// Why `key` is not in the data at `path`.
    fn missing(&self, path: &str, key: &str) -> Unresolved {
        let (key, path) = (key.to_string(), path.to_string());
        match self {
            Provider::File { .. } if path.is_empty() => Unresolved::NoFile,
            Provider::File { .. } => Unresolved::NoKeyInFile { key, path },
            Provider::Directory { .. } if path.is_empty() => Unresolved::NoDirectory,
            Provider::Directory { .. } => Unresolved::NoFileInDirectory { key, path },
            Provider::EnvVar { allowlist_key, .. } => Unresolved::NoEnvVar {
                key,
                allowlist_key: allowlist_key.clone(),
            },
        }
    }
}

/// Connect's `AllowedPaths`: the directories and files a provider may read.
#[derive(Debug)]
struct AllowedPaths(Vec<PathBuf>);

impl AllowedPaths {
    fn parse(key: &str, value: Option<&String>) -> Result<Option<Self>, ProviderConfigError> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let bad = |reason: String| ProviderConfigError::BadParam {
            key: key.to_string(),
            value: value.clone(),
            reason,
        };
        let mut paths = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let path = normalize(Path::new(entry));
            if !path.is_absolute() {
                return Err(bad(format!("Path {} is not absolute", path.display())));
            }
            if !path.exists() {
                return Err(bad(format!("Path {} does not exist", path.display())));
            }
            paths.push(path);
        }
        Ok(Some(AllowedPaths(paths)))
    }
}

/// `path` as the provider reads it: normalised and checked against `allowed`, if set.
fn allowed_path(
    name: &str,
    allowed: Option<&AllowedPaths>,
    path: &str,
) -> Result<PathBuf, Unresolved> {
    let Some(allowed) = allowed else {
        return Ok(PathBuf::from(path));
    };
    let normalized = normalize(Path::new(path));
    if allowed.0.iter().any(|a| normalized.starts_with(a)) {
        Ok(normalized)
    } else {
        Err(Unresolved::PathNotAllowed {
            provider: name.to_string(),
            path: path.to_string(),
        })
    }
}

/// Java's `Path.normalize`: `.` dropped, `..` removing the name before it; no file system
/// access.
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`; a relative path keeps its leading `..`.
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// Every resolved value of this process, longest first (so that a secret containing another
/// is hidden whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Whether `SECRETS` has any, so that a process without providers pays one load per line.
static ANY_SECRET: AtomicBool = AtomicBool::new(false);

fn remember_secret(value: &str) {
    let mut candidates: Vec<&str> = vec![value, value.trim()];
    candidates.retain(|v| v.chars().count() >= MIN_HIDDEN_LEN);
    candidates.dedup();
    {
        let known = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        if candidates.iter().all(|v| known.iter().any(|k| k == v)) {
            return;
        }
    }
    let mut known = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in candidates {
        if !known.iter().any(|k| k == v) {
            known.push(v.to_string());
        }
    }
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    ANY_SECRET.store(!known.is_empty(), Ordering::Release);
}

/// `text` with every value a provider resolved in this process (of [`MIN_HIDDEN_LEN`]
/// characters or more) replaced by `[hidden]`.
pub fn hide_secrets(text: &str) -> Cow<'_, str> {
    if !ANY_SECRET.load(Ordering::Acquire) {
        return Cow::Borrowed(text);
    }
    let known = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), HIDDEN);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
