//! What can go wrong in `kconnect ctl` before or instead of a reply: arguments, the context
//! file, input files and the HTTP client. The texts are what `ctl` prints after `error: `.

use std::path::PathBuf;

use thiserror::Error;

use crate::config_files::ConfigFileError;

#[derive(Debug, Error)]
pub(crate) enum CtlError {
    // Arguments and the environment.
    #[error("expected USER:PASSWORD")]
    NotUserPassword,
    #[error("expected KEY=VALUE, got `{0}`")]
    NotKeyValue(String),
    #[error("not a URL: {0}")]
    NotAUrl(#[from] url::ParseError),
    #[error("unsupported scheme `{0}` (use http or https)")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    /// A setting that is wrong, named (`KCONNECT_URL`, `--context`, `context set`).
    #[error("{setting}: {source}")]
    Setting {
        setting: &'static str,
        #[source]
        source: Box<CtlError>,
    },
    #[error("no config file (set KCONNECT_CONFIG or HOME)")]
    NoConfigFile,
    #[error("no config file: set KCONNECT_CONFIG or HOME")]
    NoConfigFileToEdit,
    #[error("--url is required")]
    NoUrl,
    #[error("this command is not one request")]
    NotOneRequest,

    // The context file.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not valid TOML: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("{}: no context named `{name}` (known: {})", path.display(), known.join(", "))]
    NoContext {
        path: PathBuf,
        name: String,
        known: Vec<String>,
    },
    /// A key of a context that is missing or wrong (`contexts.NAME.KEY …`).
    #[error("{}: contexts.{context}{problem}", path.display())]
    BadContext {
        path: PathBuf,
        context: String,
        problem: ContextProblem,
    },

    // Input files.
    #[error(transparent)]
    ConfigFile(#[from] ConfigFileError),
    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// An error about a file's content that does not name the file itself.
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<CtlError>,
    },
    #[error(
        "the connector config has no name (set the `name` key, or a top-level \"name\" in a \
         {{\"name\",\"config\"}} JSON file)"
    )]
    NoName,
    #[error("the connector config has no name")]
    NoNameToApply,
    #[error("the connector config has no `connector.class`")]
    NoClass,
    #[error("key `{0}` is both set and removed")]
    SetAndRemoved(String),
    #[error("expected {{\"offsets\": [{{\"partition\": {{...}}, \"offset\": {{...}}}}, ...]}}")]
    NotOffsets,

    // The HTTP client.
    #[error("cannot read the CA file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no PEM certificates: {}", path.display(), chain(source))]
    NoCertificates {
        path: PathBuf,
        source: reqwest::Error,
    },
    /// No complete HTTP reply, or no client; the text is the error with its causes.
    #[error("{}", chain(.0))]
    Http(#[from] reqwest::Error),
}

/// What is wrong with one context of the file, after `contexts.NAME`.
#[derive(Debug, Error)]
pub(crate) enum ContextProblem {
    #[error(".{0} must be a string")]
    NotAString(&'static str),
    #[error(" has no url")]
    NoUrl,
    #[error(".url: {0}")]
    Url(Box<CtlError>),
    #[error(" has a password but no user")]
    PasswordWithoutUser,
}

impl CtlError {
    /// Whether the text already names an input file, so that [`CtlError::InFile`] would
    /// name it twice.
    pub(crate) fn names_a_file(&self) -> bool {
        matches!(
            self,
            CtlError::ConfigFile(_)
                | CtlError::Json { .. }
                | CtlError::Read { .. }
                | CtlError::InFile { .. }
        )
    }

    pub(crate) fn setting(setting: &'static str, source: CtlError) -> CtlError {
        CtlError::Setting {
            setting,
            source: Box::new(source),
        }
    }
}

/// An error with its causes, `a: b: c`, without repeating a cause the message already shows.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
