//! Turning a parsed `kconnect ctl` command into the REST request it stands for.
//!
//! Everything here is free of network I/O, so it is tested without a server: the only I/O is
//! reading the files named on the command line ([`build`]); the bodies themselves are built by
//! pure functions.

use std::path::Path;

use reqwest::Url;
use serde_json::{Map, Value};

use super::error::CtlError;
use super::{CtlCommand, Expand, InitialState, OffsetsCommand};

/// The HTTP methods the Connect REST API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One REST call: method, path segments (unencoded; [`ApiRequest::url`] percent-encodes them),
/// query pairs and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiRequest {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl ApiRequest {
    pub(crate) fn new<S: AsRef<str>>(method: Method, segments: &[S]) -> Self {
        ApiRequest {
            method,
            segments: segments.iter().map(|s| s.as_ref().to_string()).collect(),
            query: Vec::new(),
            body: None,
        }
    }

    fn query(mut self, key: &'static str, value: &str) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The full URL under `base`, which may carry a path prefix (a worker behind a reverse
    /// proxy at `/connect`, say). Each segment is percent-encoded, `/` included, so a connector
    /// name is always one segment. A query in `base` is dropped.
    pub(crate) fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(&self.segments);
        }
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &self.query {
                pairs.append_pair(key, value);
            }
        }
        url
    }

    /// `GET /connectors/x`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} /{}", self.method.as_str(), self.segments.join("/"))
    }
}

/// A connector config file, read in either of the two shapes `create` accepts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConnectorSpec {
    /// The top-level `name` of a `{"name","config"}` file, else the config's `name` key.
    pub name: Option<String>,
    /// The flat connector config.
    pub config: Map<String, Value>,
    /// The `initial_state` of a `{"name","config","initial_state"}` file.
    pub initial_state: Option<Value>,
}

/// Recognises the `{"name": ..., "config": {...}}` shape of `POST /connectors` (as printed by
/// `kconnect ctl info`, or kept next to Connect deployments): a JSON object whose `config` is an
/// object and that has no keys besides `name`, `config` and `initial_state`. Anything else is a
/// flat config (whose nested tables the config loader flattens to dotted keys).
pub(crate) fn detect_create_request(value: &Value) -> Option<ConnectorSpec> {
    let object = value.as_object()?;
    let config = object.get("config")?.as_object()?;
    if !object
        .keys()
        .all(|key| crate::config_files::CREATE_REQUEST_KEYS.contains(&key.as_str()))
    {
        return None;
    }
    let name = match object.get("name") {
        Some(Value::String(name)) => Some(name.clone()),
        _ => config
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    // Connect's config values are strings; Jackson turns a JSON number or boolean into its text,
    // and so do we, so that a hand-written `"tasks.max": 2` works on any worker.
    let config = config
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::Number(_) | Value::Bool(_) => Value::String(value.to_string()),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect();
    Some(ConnectorSpec {
        name,
        config,
        initial_state: object.get("initial_state").cloned(),
    })
}

/// A flat config as the JSON object Connect takes (all values strings).
fn flat_spec(props: impl IntoIterator<Item = (String, String)>) -> ConnectorSpec {
    let config: Map<String, Value> = props
        .into_iter()
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string);
    ConnectorSpec {
        name,
        config,
        initial_state: None,
    }
}

/// Reads a connector config file: a `.json` file in the `{"name","config"}` shape, or any
/// config file `kconnect standalone` reads (`.properties`, `.toml`, `.yaml`/`.yml`, `.json`).
pub(crate) fn load_connector_file(path: &Path) -> Result<ConnectorSpec, CtlError> {
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        // A file that does not parse is left to load_props, whose error names the line.
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                if let Some(spec) = detect_create_request(&value) {
                    return Ok(spec);
                }
            }
        }
    }
    let props = crate::config_files::load_props(path)?;
    Ok(flat_spec(props))
}

/// The body of `POST /connectors`. `--initial-state` wins over the file's `initial_state`.
pub(crate) fn create_body(
    spec: &ConnectorSpec,
    initial_state: Option<InitialState>,
) -> Result<Value, CtlError> {
    let name = spec.name.as_deref().ok_or(CtlError::NoName)?;
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name.to_string()));
    body.insert("config".into(), Value::Object(spec.config.clone()));
    let initial_state = match initial_state {
        Some(state) => Some(Value::String(state.as_str().to_string())),
        None => spec.initial_state.clone(),
    };
    if let Some(state) = initial_state {
        body.insert("initial_state".into(), state);
    }
    Ok(Value::Object(body))
}

/// The body of `PATCH /connectors/NAME/config`: set keys to their values, removed keys to null.
pub(crate) fn patch_body(sets: &[(String, String)], removes: &[String]) -> Result<Value, CtlError> {
    let mut body = Map::new();
    for (key, value) in sets {
        body.insert(key.clone(), Value::String(value.clone()));
    }
    for key in removes {
        if body.contains_key(key) {
            return Err(CtlError::SetAndRemoved(key.clone()));
        }
        body.insert(key.clone(), Value::Null);
    }
    Ok(Value::Object(body))
}

/// The body of `PATCH /connectors/NAME/offsets`: `{"offsets":[...]}` as written in the file; a
/// bare `[...]` array is wrapped.
pub(crate) fn offsets_body(value: Value) -> Result<Value, CtlError> {
    match value {
        Value::Array(offsets) => Ok(serde_json::json!({ "offsets": offsets })),
        Value::Object(object) if object.get("offsets").is_some_and(Value::is_array) => {
            Ok(Value::Object(object))
        }
        _ => Err(CtlError::NotOffsets),
    }
}

/// `connector.class` of a config, for the validate path.
pub(crate) fn connector_class(spec: &ConnectorSpec) -> Result<String, CtlError> {
    match spec.config.get("connector.class") {
        Some(Value::String(class)) if !class.trim().is_empty() => Ok(class.trim().to_string()),
        _ => Err(CtlError::NoClass),
    }
}

/// Parses `KEY=VALUE` (the value may contain `=` and be empty).
pub(crate) fn parse_key_value(arg: &str) -> Result<(String, String), CtlError> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(CtlError::NotKeyValue(arg.to_string())),
    }
}

/// `result`'s error names `path`, unless it does already.
fn with_file<T>(path: &Path, result: Result<T, CtlError>) -> Result<T, CtlError> {
    result.map_err(|e| {
        if e.names_a_file() {
            e
        } else {
            CtlError::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            }
        }
    })
}

/// `apply`'s request for one file: the connector's name and `PUT /connectors/NAME/config` with
/// the file's config, `name` included (the worker adds it anyway, and the config then compares
/// equal to what the worker shows).
pub(crate) fn apply_request(file: &Path) -> Result<(String, ApiRequest), CtlError> {
    let spec = with_file(file, load_connector_file(file))?;
    let name = spec
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| CtlError::InFile {
            path: file.to_path_buf(),
            source: Box::new(CtlError::NoNameToApply),
        })?;
    let mut config = spec.config;
    config
        .entry("name")
        .or_insert_with(|| Value::String(name.clone()));
    let request =
        ApiRequest::new(Method::Put, &["connectors", &name, "config"]).body(Value::Object(config));
    Ok((name, request))
}

/// The request for a command. Reads the files the command names; an `Err` is a message about
/// the local input (nothing is sent then). `for_table`: the reply is shown as a table, so a
/// connector list asks for statuses too.
pub(crate) fn build(command: &CtlCommand, for_table: bool) -> Result<ApiRequest, CtlError> {
    use Method::*;
    let connector = |name: &str, rest: &[&str]| {
        let mut segments = vec!["connectors", name];
        segments.extend_from_slice(rest);
        segments.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    Ok(match command {
        CtlCommand::List { expand } => {
            let mut request = ApiRequest::new(Get, &["connectors"]);
            let mut seen = Vec::new();
            if for_table {
                // The table shows type, state and tasks: all in the status.
                seen.push(Expand::Status);
                request = request.query("expand", Expand::Status.as_str());
            }
            for e in expand {
                if !seen.contains(e) {
                    seen.push(*e);
                    request = request.query("expand", e.as_str());
                }
            }
            request
        }
        CtlCommand::Status { name } => ApiRequest::new(Get, &connector(name, &["status"])),
        CtlCommand::Info { name: None } => ApiRequest::new(Get, &[] as &[&str]),
        CtlCommand::Info { name: Some(name) } | CtlCommand::Describe { name } => {
            ApiRequest::new(Get, &connector(name, &[]))
        }
        CtlCommand::Apply { .. } | CtlCommand::Context(_) => return Err(CtlError::NotOneRequest),
        CtlCommand::Config { name } => ApiRequest::new(Get, &connector(name, &["config"])),
        CtlCommand::Create {
            file,
            initial_state,
        } => {
            let spec = with_file(file, load_connector_file(file))?;
            let body = with_file(file, create_body(&spec, *initial_state))?;
            ApiRequest::new(Post, &["connectors"]).body(body)
        }
        CtlCommand::Update { name, file } => {
            let spec = with_file(file, load_connector_file(file))?;
            ApiRequest::new(Put, &connector(name, &["config"])).body(Value::Object(spec.config))
        }
        CtlCommand::Patch { name, set, remove } => {
            ApiRequest::new(Patch, &connector(name, &["config"])).body(patch_body(set, remove)?)
        }
        CtlCommand::Delete { name } => ApiRequest::new(Delete, &connector(name, &[])),
        CtlCommand::Pause { name } => ApiRequest::new(Put, &connector(name, &["pause"])),
        CtlCommand::Resume { name } => ApiRequest::new(Put, &connector(name, &["resume"])),
        CtlCommand::Stop { name } => ApiRequest::new(Put, &connector(name, &["stop"])),
        CtlCommand::Restart {
            name,
            include_tasks,
            only_failed,
        } => {
            let mut request = ApiRequest::new(Post, &connector(name, &["restart"]));
            if *include_tasks {
                request = request.query("includeTasks", "true");
            }
            if *only_failed {
                request = request.query("onlyFailed", "true");
            }
            request
        }
        CtlCommand::RestartTask { name, id } => {
            let id = id.to_string();
            ApiRequest::new(Post, &connector(name, &["tasks", &id, "restart"]))
        }
        CtlCommand::Tasks { name } => ApiRequest::new(Get, &connector(name, &["tasks"])),
        CtlCommand::Offsets(OffsetsCommand::Get { name }) => {
            ApiRequest::new(Get, &connector(name, &["offsets"]))
        }
        CtlCommand::Offsets(OffsetsCommand::Reset { name }) => {
            ApiRequest::new(Delete, &connector(name, &["offsets"]))
        }
        CtlCommand::Offsets(OffsetsCommand::Alter { name, file }) => {
            let text = std::fs::read_to_string(file).map_err(|source| CtlError::Read {
                path: file.clone(),
                source,
            })?;
            let value: Value = serde_json::from_str(&text).map_err(|source| CtlError::Json {
                path: file.clone(),
                source,
            })?;
            let body = with_file(file, offsets_body(value))?;
            ApiRequest::new(Patch, &connector(name, &["offsets"])).body(body)
        }
        CtlCommand::Topics { name } => ApiRequest::new(Get, &connector(name, &["topics"])),
        CtlCommand::TopicsReset { name } => {
            ApiRequest::new(Put, &connector(name, &["topics", "reset"]))
        }
        CtlCommand::Plugins { all } => {
            let request = ApiRequest::new(Get, &["connector-plugins"]);
            if *all {
                request.query("connectorsOnly", "false")
            } else {
                request
            }
        }
        CtlCommand::Validate { file, .. } => {
            let spec = with_file(file, load_connector_file(file))?;
            let class = with_file(file, connector_class(&spec))?;
            ApiRequest::new(Put, &["connector-plugins", &class, "config", "validate"])
                .body(Value::Object(spec.config))
        }
        CtlCommand::Fault {
            kind,
            connector,
            task,
            ms,
            api,
            errors,
        } => {
            let mut body = serde_json::json!({ "fault": kind });
            let fields = [
                ("connector", connector.clone().map(Value::from)),
                ("task", task.map(Value::from)),
                ("ms", ms.map(Value::from)),
                ("api", api.clone().map(Value::from)),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    body[k] = v;
                }
            }
            if !errors.is_empty() {
                body["errors"] = serde_json::json!(errors);
            }
            ApiRequest::new(Post, &["admin", "faults"]).body(body)
        }
        CtlCommand::Loggers => ApiRequest::new(Get, &["admin", "loggers"]),
        CtlCommand::Logger { name, level } => {
            let request = ApiRequest::new(
                if level.is_some() { Put } else { Get },
                &["admin", "loggers", name.as_str()],
            );
            match level {
                Some(level) => request.body(serde_json::json!({ "level": level })),
                None => request,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    #[test]
    fn urls_encode_segments_and_keep_a_base_path() {
        let request = ApiRequest::new(Method::Get, &["connectors", "a b/c", "status"]);
        assert_eq!(
            request.url(&base("http://h:8083")).as_str(),
            "http://h:8083/connectors/a%20b%2Fc/status"
        );
        assert_eq!(
            request.url(&base("http://h:8083/connect/")).as_str(),
            "http://h:8083/connect/connectors/a%20b%2Fc/status"
        );
        assert_eq!(
            request.url(&base("http://h/connect?x=1")).as_str(),
            "http://h/connect/connectors/a%20b%2Fc/status"
        );
        let listed = ApiRequest::new(Method::Get, &["connectors"])
            .query("expand", "status")
            .query("expand", "info");
        assert_eq!(
            listed.url(&base("http://h:8083/")).as_str(),
            "http://h:8083/connectors?expand=status&expand=info"
        );
        assert_eq!(request.describe(), "GET /connectors/a b/c/status");
    }

    #[test]
    fn detects_the_create_request_shape() {
        let wrapped = json!({"name": "c", "config": {"connector.class": "X", "tasks.max": "1"}});
        let spec = detect_create_request(&wrapped).unwrap();
        assert_eq!(spec.name.as_deref(), Some("c"));
        assert_eq!(spec.config["connector.class"], "X");
        assert_eq!(spec.initial_state, None);

        let numbers = json!({"name": "c", "config": {"tasks.max": 2, "x": true, "y": null}});
        assert_eq!(
            Value::Object(detect_create_request(&numbers).unwrap().config),
            json!({"tasks.max": "2", "x": "true", "y": null})
        );

        let with_state = json!({"config": {"name": "d"}, "initial_state": "PAUSED"});
        let spec = detect_create_request(&with_state).unwrap();
        assert_eq!(spec.name.as_deref(), Some("d"));
        assert_eq!(spec.initial_state, Some(json!("PAUSED")));

        // Flat configs, including one with a nested `config` table next to other keys.
        assert_eq!(
            detect_create_request(&json!({"name": "c", "connector.class": "X"})),
            None
        );
        assert_eq!(
            detect_create_request(&json!({"name": "c", "config": {"a": "b"}, "topic": "t"})),
            None
        );
        assert_eq!(
            detect_create_request(&json!({"name": "c", "config": "x"})),
            None
        );
        assert_eq!(detect_create_request(&json!([1])), None);
    }

    #[test]
    fn loads_both_file_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let wrapped = dir.path().join("wrapped.json");
        std::fs::write(
            &wrapped,
            r#"{"name": "w", "config": {"connector.class": "FileStreamSource", "tasks.max": "1"}}"#,
        )
        .unwrap();
        let spec = load_connector_file(&wrapped).unwrap();
        assert_eq!(spec.name.as_deref(), Some("w"));
        assert_eq!(spec.config.len(), 2);

        let flat = dir.path().join("flat.json");
        std::fs::write(
            &flat,
            r#"{"name": "f", "connector.class": "FileStreamSource", "tasks.max": 2, "key": {"converter": "x"}}"#,
        )
        .unwrap();
        let spec = load_connector_file(&flat).unwrap();
        assert_eq!(spec.name.as_deref(), Some("f"));
        assert_eq!(spec.config["tasks.max"], "2");
        assert_eq!(spec.config["key.converter"], "x");

        let props = dir.path().join("p.properties");
        std::fs::write(&props, "name=p\nconnector.class=FileStreamSink\ntopics=t\n").unwrap();
        let spec = load_connector_file(&props).unwrap();
        assert_eq!(spec.name.as_deref(), Some("p"));
        assert_eq!(spec.config["topics"], "t");

        let yaml = dir.path().join("c.yaml");
        std::fs::write(&yaml, "name: y\nconnector.class: FileStreamSink\n").unwrap();
        assert_eq!(
            load_connector_file(&yaml).unwrap().name.as_deref(),
            Some("y")
        );

        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{\"name\": ").unwrap();
        let error = load_connector_file(&broken).unwrap_err();
        assert!(error.to_string().contains("broken.json"), "{error}");

        let missing = dir.path().join("missing.properties");
        let error = load_connector_file(&missing).unwrap_err();
        assert!(
            matches!(
                error,
                CtlError::ConfigFile(crate::config_files::ConfigFileError::NotFound { .. })
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("missing.properties"), "{error}");
    }

    #[test]
    fn create_bodies() {
        let spec = flat_spec([
            ("name".to_string(), "c".to_string()),
            ("topic".to_string(), "t".to_string()),
        ]);
        assert_eq!(
            create_body(&spec, None).unwrap(),
            json!({"name": "c", "config": {"name": "c", "topic": "t"}})
        );
        assert_eq!(
            create_body(&spec, Some(InitialState::Stopped)).unwrap(),
            json!({"name": "c", "config": {"name": "c", "topic": "t"}, "initial_state": "STOPPED"})
        );
        let wrapped =
            detect_create_request(&json!({"name": "w", "config": {}, "initial_state": "PAUSED"}))
                .unwrap();
        assert_eq!(
            create_body(&wrapped, None).unwrap()["initial_state"],
            "PAUSED"
        );
        assert_eq!(
            create_body(&wrapped, Some(InitialState::Running)).unwrap()["initial_state"],
            "RUNNING"
        );
        let nameless = flat_spec([("topic".to_string(), "t".to_string())]);
        let error = create_body(&nameless, None).unwrap_err();
        assert!(matches!(error, CtlError::NoName), "{error:?}");
        assert!(error.to_string().contains("no name"), "{error}");
    }

    #[test]
    fn patch_and_offsets_bodies() {
        let sets = vec![("a".to_string(), "1".to_string())];
        assert_eq!(
            patch_body(&sets, &["b".to_string()]).unwrap(),
            json!({"a": "1", "b": null})
        );
        let error = patch_body(&sets, &["a".to_string()]).unwrap_err();
        assert!(
            matches!(&error, CtlError::SetAndRemoved(k) if k == "a"),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "key `a` is both set and removed");

        let offsets = json!([{"partition": {"filename": "f"}, "offset": {"position": 3}}]);
        assert_eq!(
            offsets_body(offsets.clone()).unwrap(),
            json!({ "offsets": offsets })
        );
        assert_eq!(
            offsets_body(json!({ "offsets": offsets })).unwrap(),
            json!({ "offsets": offsets })
        );
        let error = offsets_body(json!({"partition": {}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"expected {"offsets": [{"partition": {...}, "offset": {...}}, ...]}"#
        );
    }

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("a.b=c=d").unwrap(),
            ("a.b".to_string(), "c=d".to_string())
        );
        assert_eq!(
            parse_key_value("a=").unwrap(),
            ("a".to_string(), String::new())
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn connector_class_is_required_for_validate() {
        let spec = flat_spec([("connector.class".to_string(), " X ".to_string())]);
        assert_eq!(connector_class(&spec).unwrap(), "X");
        assert!(connector_class(&flat_spec([])).is_err());
    }
}
