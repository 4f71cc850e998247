//! Named contexts: the workers `kconnect ctl` talks to, kept in a TOML file so that a command
//! needs no `--url` (as kubectl's and kcctl's contexts).
//!
//! The file is `$KCONNECT_CONFIG`, else `$XDG_CONFIG_HOME/kconnect/ctl.toml`, else
//! `~/.config/kconnect/ctl.toml` (also on macOS, as most command-line tools do):
//!
//! ```toml
//! current-context = "prod"
//!
//! [contexts.local]
//! url = "http://127.0.0.1:8083"
//!
//! [contexts.prod]
//! url = "https://connect.example.com:8443"
//! user = "admin"
//! password = "secret"
//! ca-cert = "/etc/kconnect/ca.pem"
//! ```
//!
//! `ctl context use|set` edit the file in place (comments and order stay); a file they create
//! is readable by its owner only, since it may hold passwords.

use std::path::{Path, PathBuf};

use reqwest::Url;
use toml_edit::{value, DocumentMut, Item, Table};

use super::error::{ContextProblem, CtlError};
use super::BasicAuth;

/// Where a command sends its requests, and with which credentials.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: Url,
    pub auth: Option<BasicAuth>,
    pub ca_cert: Option<PathBuf>,
}

/// What the command line and the environment say about the target.
pub(crate) struct Choice<'a> {
    pub url: Option<&'a Url>,
    /// `--user` or `KCONNECT_USER`.
    pub user: Option<&'a BasicAuth>,
    pub ca_cert: Option<&'a Path>,
    /// `--context` or `KCONNECT_CONTEXT`.
    pub context: Option<&'a str>,
    /// `KCONNECT_URL`.
    pub env_url: Option<String>,
}

pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:8083";

/// The config file's path; `None` when neither `KCONNECT_CONFIG` nor a home directory is known.
pub(crate) fn config_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var("KCONNECT_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("kconnect").join("ctl.toml"))
}

/// Decides the target: `--url`, else the context named by `--context`, else `KCONNECT_URL`,
/// else the file's current context, else `http://127.0.0.1:8083`. A context's credentials and
/// CA certificate go only to its own URL; `--user` and `--cacert` apply to whichever URL wins.
pub(crate) fn resolve(choice: &Choice<'_>, file: Option<&Path>) -> Result<Target, CtlError> {
    let direct = |url: Url| Target {
        url,
        auth: choice.user.cloned(),
        ca_cert: choice.ca_cert.map(Path::to_path_buf),
    };
    let from_context = |context: Context| Target {
        url: context.url,
        auth: choice.user.cloned().or(context.auth),
        ca_cert: choice.ca_cert.map(Path::to_path_buf).or(context.ca_cert),
    };
    if let Some(url) = choice.url {
        return Ok(direct(url.clone()));
    }
    if let Some(name) = choice.context {
        let file = file.ok_or(CtlError::setting("--context", CtlError::NoConfigFile))?;
        return Ok(from_context(ConfigFile::load(file)?.context(name)?));
    }
    if let Some(url) = &choice.env_url {
        let url = super::parse_base_url(url).map_err(|e| CtlError::setting("KCONNECT_URL", e))?;
        return Ok(direct(url));
    }
    if let Some(file) = file.filter(|f| f.exists()) {
        let config = ConfigFile::load(file)?;
        if let Some(name) = config.current() {
            return Ok(from_context(config.context(&name)?));
        }
    }
    Ok(direct(
        Url::parse(DEFAULT_URL).expect("the default URL parses"),
    ))
}

/// One context of the file.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub name: String,
    pub url: Url,
    pub auth: Option<BasicAuth>,
    pub ca_cert: Option<PathBuf>,
}

/// The config file, as a TOML document kept with its formatting.
pub(crate) struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigFile {
    /// Reads the file; a file that does not exist is an empty config.
    pub(crate) fn load(path: &Path) -> Result<ConfigFile, CtlError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(CtlError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|source| CtlError::Toml {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn current(&self) -> Option<String> {
        self.doc
            .get("current-context")
            .and_then(Item::as_str)
            .map(str::to_string)
    }

    fn contexts(&self) -> Option<&Table> {
        self.doc.get("contexts").and_then(Item::as_table)
    }

    /// Every context, in file order.
    pub(crate) fn all(&self) -> Result<Vec<Context>, CtlError> {
        let Some(contexts) = self.contexts() else {
            return Ok(Vec::new());
        };
        contexts
            .iter()
            .map(|(name, _)| self.context(name))
            .collect()
    }

    pub(crate) fn context(&self, name: &str) -> Result<Context, CtlError> {
        let table = self
            .contexts()
            .and_then(|c| c.get(name))
            .and_then(Item::as_table_like)
            .ok_or_else(|| CtlError::NoContext {
                path: self.path.clone(),
                name: name.to_string(),
                known: self
                    .contexts()
                    .map(|c| c.iter().map(|(n, _)| n.to_string()).collect())
                    .unwrap_or_default(),
            })?;
        let bad = |problem: ContextProblem| CtlError::BadContext {
            path: self.path.clone(),
            context: name.to_string(),
            problem,
        };
        let text = |key: &'static str| -> Result<Option<String>, CtlError> {
            match table.get(key) {
                None => Ok(None),
                Some(item) => item
                    .as_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| bad(ContextProblem::NotAString(key))),
            }
        };
        let url = text("url")?.ok_or_else(|| bad(ContextProblem::NoUrl))?;
        let url = super::parse_base_url(&url).map_err(|e| bad(ContextProblem::Url(Box::new(e))))?;
        let auth = match (text("user")?, text("password")?) {
            (Some(user), password) => Some(BasicAuth {
                user,
                password: password.unwrap_or_default(),
            }),
            (None, Some(_)) => return Err(bad(ContextProblem::PasswordWithoutUser)),
            (None, None) => None,
        };
        Ok(Context {
            name: name.to_string(),
            url,
            auth,
            ca_cert: text("ca-cert")?.map(PathBuf::from),
        })
    }

    pub(crate) fn set_current(&mut self, name: &str) -> Result<(), CtlError> {
        self.context(name)?;
        self.doc["current-context"] = value(name);
        Ok(())
    }

    /// Creates or replaces the context `name`.
    pub(crate) fn set_context(
        &mut self,
        name: &str,
        url: &Url,
        auth: Option<&BasicAuth>,
        ca_cert: Option<&Path>,
    ) {
        if self.contexts().is_none() {
            let mut contexts = Table::new();
            contexts.set_implicit(true);
            self.doc["contexts"] = Item::Table(contexts);
        }
        let mut table = Table::new();
        if !self.doc.to_string().trim().is_empty() {
            // A blank line before each table, as people write them.
            table.decor_mut().set_prefix("\n");
        }
        table["url"] = value(url.as_str().trim_end_matches('/'));
        if let Some(auth) = auth {
            table["user"] = value(&auth.user);
            table["password"] = value(&auth.password);
        }
        if let Some(ca) = ca_cert {
            table["ca-cert"] = value(ca.display().to_string());
        }
        self.doc["contexts"][name] = Item::Table(table);
    }

    /// Writes the file (owner-only when it is new: it may hold passwords).
    pub(crate) fn save(&self) -> Result<(), CtlError> {
        use std::io::Write;
        let fail = |source: std::io::Error| CtlError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(fail)?;
        file.write_all(self.doc.to_string().as_bytes())
            .map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# my workers
current-context = "prod"

[contexts.local]
url = "http://127.0.0.1:8083"

[contexts.prod]
url = "https://connect.example.com:8443"
user = "admin"
password = "s3cret"
ca-cert = "/etc/ca.pem"
"#;

    fn file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("ctl.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn choice() -> Choice<'static> {
        Choice {
            url: None,
            user: None,
            ca_cert: None,
            context: None,
            env_url: None,
        }
    }

    #[test]
    fn the_current_context_is_the_default_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), FILE);
        let target = resolve(&choice(), Some(&path)).unwrap();
        assert_eq!(target.url.as_str(), "https://connect.example.com:8443/");
        assert_eq!(target.auth.unwrap().password, "s3cret");
        assert_eq!(target.ca_cert.unwrap(), Path::new("/etc/ca.pem"));
    }

    #[test]
    fn flags_and_environment_come_first_and_credentials_stay_with_their_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), FILE);
        let url = Url::parse("http://other:1").unwrap();
        let target = resolve(
            &Choice {
                url: Some(&url),
                ..choice()
            },
            Some(&path),
        )
        .unwrap();
        assert_eq!(target.url, url);
        assert!(target.auth.is_none() && target.ca_cert.is_none());

        let target = resolve(
            &Choice {
                env_url: Some("envhost:2".into()),
                ..choice()
            },
            Some(&path),
        )
        .unwrap();
        assert_eq!(target.url.as_str(), "http://envhost:2/");
        assert!(target.auth.is_none());

        // A context named explicitly beats KCONNECT_URL.
        let target = resolve(
            &Choice {
                env_url: Some("envhost:2".into()),
                context: Some("local"),
                ..choice()
            },
            Some(&path),
        )
        .unwrap();
        assert_eq!(target.url.as_str(), "http://127.0.0.1:8083/");

        let user = BasicAuth {
            user: "u".into(),
            password: "p".into(),
        };
        let target = resolve(
            &Choice {
                user: Some(&user),
                ..choice()
            },
            Some(&path),
        )
        .unwrap();
        assert_eq!(target.auth.unwrap().user, "u");

        let error = resolve(
            &Choice {
                context: Some("nope"),
                ..choice()
            },
            Some(&path),
        )
        .unwrap_err();
        assert!(
            matches!(&error, CtlError::NoContext { name, known, .. }
                if name == "nope" && known == &["local", "prod"]),
            "{error:?}"
        );
        let error = error.to_string();
        assert!(
            error.contains("nope") && error.contains("local, prod"),
            "{error}"
        );
    }

    #[test]
    fn without_a_file_the_default_url() {
        let dir = tempfile::tempdir().unwrap();
        let target = resolve(&choice(), Some(&dir.path().join("none.toml"))).unwrap();
        assert_eq!(target.url.as_str(), "http://127.0.0.1:8083/");
        assert_eq!(
            resolve(&choice(), None).unwrap().url.as_str(),
            "http://127.0.0.1:8083/"
        );
    }

    #[test]
    fn use_and_set_keep_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), FILE);
        let mut config = ConfigFile::load(&path).unwrap();
        config.set_current("local").unwrap();
        assert!(config.set_current("nope").is_err());
        config.set_context("new", &Url::parse("http://n:1").unwrap(), None, None);
        config.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# my workers\ncurrent-context = \"local\""),
            "{text}"
        );
        let config = ConfigFile::load(&path).unwrap();
        let names: Vec<String> = config.all().unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["local", "prod", "new"]);
        assert_eq!(config.context("new").unwrap().url.as_str(), "http://n:1/");

        let fresh = dir.path().join("sub").join("ctl.toml");
        let mut config = ConfigFile::load(&fresh).unwrap();
        let auth = BasicAuth {
            user: "a".into(),
            password: "b".into(),
        };
        config.set_context("x", &Url::parse("http://x:1").unwrap(), Some(&auth), None);
        config.set_current("x").unwrap();
        config.save().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let config = ConfigFile::load(&fresh).unwrap();
        assert_eq!(config.current().as_deref(), Some("x"));
        assert_eq!(config.context("x").unwrap().auth.unwrap().password, "b");
    }
}
