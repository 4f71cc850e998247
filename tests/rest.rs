//! The REST API through a real HTTP client against a running standalone worker: every endpoint,
//! the error cases, and the field names of each body against fixtures written from Kafka
//! Connect's documentation (tests/fixtures/rest/).

mod common;

use std::time::Duration;

use common::*;
use kconnect::standalone::Standalone;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

struct Api {
    base: String,
    http: Client,
    running: Standalone,
    dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Api {
        Self::start_with(&[]).await
    }

    /// A worker with more worker keys.
    async fn start_with(extra: &[(&str, &str)]) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = vec![("offset.flush.interval.ms", "200")];
        keys.extend_from_slice(extra);
        let running = standalone_worker(dir.path(), &keys).await;
        Api {
            base: format!("http://{}", running.rest_addr),
            http: Client::new(),
            running,
            dir,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
        };
        (status, v)
    }

    async fn raw(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .request(method.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.expect("an error body is JSON"))
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// Waits (event-driven, on the worker's status) until `cond` holds for connector `c`.
    async fn wait(
        &self,
        c: &str,
        cond: impl Fn(&kconnect_actors::status::ConnectorStatus) -> bool,
    ) {
        let ok = self
            .running
            .worker
            .context()
            .status
            .wait_until(Duration::from_secs(30), |m| m.get(c).is_some_and(&cond))
            .await;
        assert!(ok, "{c}: {:?}", self.running.worker.status(c));
    }
}

fn fixture(name: &str) -> Value {
    let p = format!(
        "{}/tests/fixtures/rest/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Fields whose values are maps of user data: only "is an object" is compared.
const FREE: [&str; 3] = ["config", "partition", "offset"];

/// `actual` has exactly the fields of `expected`, recursively (arrays by their first element).
fn assert_shape(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<_> = a.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            ak.sort();
            ek.sort();
            assert_eq!(ak, ek, "fields of {path}: {actual}");
            for (k, ev) in e {
                if !FREE.contains(&k.as_str()) {
                    assert_shape(&a[k], ev, &format!("{path}.{k}"));
                } else {
                    assert!(a[k].is_object(), "{path}.{k} is an object");
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(a0), Some(e0)) = (a.first(), e.first()) {
                assert_shape(a0, e0, &format!("{path}[0]"));
            }
        }
        // Scalars: the kind must match, except that null may stand for any optional value.
        (a, e) => {
            let kind = |v: &Value| match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                Value::Null => "null",
                _ => "container",
            };
            assert!(
                kind(a) == kind(e) || a.is_null() || e.is_null(),
                "{path}: {a} is not like {e}"
            );
        }
    }
}

/// A map keyed by names (connectors, loggers): every value has the fixture's value shape.
fn assert_keyed_shape(actual: &Value, expected: &Value, path: &str) {
    let e = expected.as_object().unwrap().values().next().unwrap();
    let a = actual.as_object().expect("an object");
    assert!(!a.is_empty(), "{path} is empty");
    for (k, v) in a {
        assert_shape(v, e, &format!("{path}.{k}"));
    }
}

fn source_config(api: &Api, input: &str) -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "tasks.max": "1",
        "file": api.file(input),
        "topic": "rest-lines",
    })
}

fn sink_config(api: &Api, output: &str) -> Value {
    json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "file": api.file(output),
        "topics": "rest-lines",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn root_health_plugins_and_validation() {
    let api = Api::start().await;
    let (s, v) = api.call("GET", "/", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&connect_root(&v), &fixture("root"), "root");
    assert!(v["kafka_cluster_id"].is_string(), "{v}");
    let (s, v) = api.call("GET", "/health", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("health"), "health");

    let (s, v) = api.call("GET", "/connector-plugins", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("plugins"), "plugins");
    let classes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert!(classes.contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector"));
    assert!(!v
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["type"] == "converter"));
    let (_, all) = api
        .call("GET", "/connector-plugins?connectorsOnly=false", None)
        .await;
    assert!(all.as_array().unwrap().iter().any(|p| p["class"]
        == "org.apache.kafka.connect.json.JsonConverter"
        && p["type"] == "converter"));

    let (s, v) = api
        .call("GET", "/connector-plugins/FileStreamSource/config", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let keys: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"file") && keys.contains(&"topic"), "{v}");
    assert_shape(
        &v[0],
        &fixture("validate")["configs"][0]["definition"],
        "config key",
    );

    // A sink config missing its topics: one error, reported on the key.
    let body = json!({"connector.class": "FileStreamSink", "name": "v", "file": "/tmp/x"});
    let (s, v) = api
        .call(
            "PUT",
            "/connector-plugins/FileStreamSink/config/validate",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("validate"), "validate");
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSinkConnector"
    );
    assert!(v["error_count"].as_u64().unwrap() >= 1, "{v}");
    let good =
        json!({"connector.class": "FileStreamSink", "name": "v", "file": "/tmp/x", "topics": "t"});
    let (_, v) = api
        .call(
            "PUT",
            "/connector-plugins/FileStreamSink/config/validate",
            Some(good),
        )
        .await;
    assert_eq!(v["error_count"], 0, "{v}");
    // A source with only one of the two topic creation defaults: one error, on the other.
    let half = json!({"connector.class": "FileStreamSource", "name": "v", "file": "/tmp/x",
        "topic": "t", "topic.creation.default.partitions": "3"});
    let (_, v) = api
        .call(
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            Some(half),
        )
        .await;
    assert_eq!(v["error_count"], 1, "{v}");
    let missing = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "topic.creation.default.replication.factor")
        .unwrap_or_else(|| panic!("no entry for the replication factor: {v}"));
    assert_eq!(
        missing["value"]["errors"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    let (s, v) = api
        .call("GET", "/connector-plugins/NoSuchPlugin/config", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_shape(&v, &fixture("error"), "error");
    api.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connector_lifecycle_through_rest() {
    let api = Api::start().await;
    std::fs::write(api.file("in.txt"), "a\nb\n").unwrap();

    // Create: 201 with the info body; a second create is a 409.
    let body = json!({"name": "src", "config": source_config(&api, "in.txt")});
    let (s, v) = api.call("POST", "/connectors", Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_shape(&v, &fixture("connector_info"), "info");
    assert_eq!(v["type"], "source");
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_shape(&v, &fixture("error"), "error");
    assert_eq!(v["error_code"], 409);

    // PUT config creates (201) a sink, and updates (200).
    let (s, v) = api
        .call(
            "PUT",
            "/connectors/sink/config",
            Some(sink_config(&api, "out.txt")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    api.wait("sink", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    api.wait("src", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    assert!(
        eventually(Duration::from_secs(30), || count_lines(
            std::path::Path::new(&api.file("out.txt"))
        ) == 2)
        .await
    );

    let (s, v) = api.call("GET", "/connectors", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!(["sink", "src"]));
    let (_, v) = api
        .call("GET", "/connectors?expand=status&expand=info", None)
        .await;
    assert_keyed_shape(&v, &fixture("expand_status_info"), "expand");
    let (_, v) = api.call("GET", "/connectors?expand=status", None).await;
    assert_eq!(
        v["src"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["status"]
    );

    let (s, v) = api.call("GET", "/connectors/src", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("connector_info"), "info");
    let (_, v) = api.call("GET", "/connectors/src/config", None).await;
    assert_eq!(v["topic"], "rest-lines");
    assert_eq!(v["name"], "src");
    let (s, v) = api.call("GET", "/connectors/src/status", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("connector_status"), "status");
    let (_, v) = api.call("GET", "/connectors/src/tasks", None).await;
    assert_shape(&v, &fixture("tasks"), "tasks");
    let (s, v) = api
        .call("GET", "/connectors/src/tasks/0/status", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("task_status"), "task status");
    let (_, v) = api.call("GET", "/connectors/src/topics", None).await;
    assert_keyed_shape(&v, &fixture("topics"), "topics");
    assert_eq!(v["src"]["topics"], json!(["rest-lines"]));
    let (s, _) = api.call("PUT", "/connectors/src/topics/reset", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = api.call("GET", "/connectors/src/topics", None).await;
    assert_eq!(v["src"]["topics"], json!([]));

    // PUT on an existing connector updates it (200); PATCH merges, null removes a key.
    let mut updated = sink_config(&api, "out.txt");
    updated["errors.tolerance"] = json!("all");
    let (s, _) = api
        .call("PUT", "/connectors/sink/config", Some(updated))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api
        .call(
            "PATCH",
            "/connectors/sink/config",
            Some(json!({"errors.tolerance": null, "tasks.max": "1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["config"].get("errors.tolerance").is_none(), "{v}");

    // Pause (202) → PAUSED; resume (202) → RUNNING, and data flows again.
    let (s, _) = api.call("PUT", "/connectors/sink/pause", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    api.wait("sink", |c| {
        c.connector.state.as_str() == "PAUSED"
            && c.tasks.values().all(|t| t.state.as_str() == "PAUSED")
    })
    .await;
    let (s, _) = api.call("PUT", "/connectors/sink/resume", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    api.wait("sink", |c| {
        c.connector.state.as_str() == "RUNNING"
            && c.tasks.values().all(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    std::fs::OpenOptions::new()
        .append(true)
        .open(api.file("in.txt"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"c\n"))
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || count_lines(
            std::path::Path::new(&api.file("out.txt"))
        ) >= 3)
        .await
    );

    // Restarts: plain → 204; with includeTasks → 202 and the status body.
    let (s, _) = api.call("POST", "/connectors/src/restart", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .call("POST", "/connectors/src/restart?includeTasks=true", None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_shape(&v, &fixture("connector_status"), "restart status");
    api.wait("src", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    let (s, _) = api
        .call("POST", "/connectors/src/tasks/0/restart", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .call("POST", "/connectors/src/tasks/7/restart", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Offsets: readable while running; altering them is refused until STOPPED.
    api.wait("src", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    let (s, v) = api.call("GET", "/connectors/src/offsets", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("offsets_source"), "source offsets");
    assert_eq!(v["offsets"][0]["offset"]["position"], 6, "{v}");
    let (s, v) = api.call("GET", "/connectors/sink/offsets", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_shape(&v, &fixture("offsets_sink"), "sink offsets");
    let alter = json!({"offsets": [{"partition": {"filename": api.file("in.txt")}, "offset": {"position": 2}}]});
    let (s, v) = api
        .call("PATCH", "/connectors/src/offsets", Some(alter.clone()))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("STOPPED"), "{v}");

    let (s, _) = api
        .call(
            "PATCH",
            "/connectors/src/offsets",
            Some(json!({"offsets": []})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an alter request names its offsets"
    );

    // Stop (204) → STOPPED with no tasks; now offsets can be altered and reset.
    let (s, _) = api.call("PUT", "/connectors/src/stop", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    api.wait("src", |c| {
        c.connector.state.as_str() == "STOPPED" && c.tasks.is_empty()
    })
    .await;
    let (s, v) = api
        .call("PATCH", "/connectors/src/offsets", Some(alter))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_shape(&v, &fixture("offsets_message"), "alter");
    let (_, v) = api.call("GET", "/connectors/src/offsets", None).await;
    assert_eq!(v["offsets"][0]["offset"]["position"], 2, "{v}");
    // The task keys its file by absolute path, so a relative name is stored under that path
    // (resolved against the worker's directory) instead of beside it, where it would be ignored.
    let input = std::fs::canonicalize(api.file("in.txt")).unwrap();
    let depth = std::env::current_dir().unwrap().components().count() - 1;
    let relative = "../".repeat(depth) + input.strip_prefix("/").unwrap().to_str().unwrap();
    let alter_relative =
        json!({"offsets": [{"partition": {"filename": relative}, "offset": {"position": 3}}]});
    let (s, v) = api
        .call("PATCH", "/connectors/src/offsets", Some(alter_relative))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = api.call("GET", "/connectors/src/offsets", None).await;
    assert_eq!(
        v["offsets"],
        json!([{"partition": {"filename": input}, "offset": {"position": 3}}]),
    );
    // An offset the task would refuse is refused now, not at its next start.
    let bad = json!({"offsets": [{"partition": {"file": "x"}, "offset": {"position": 1}}]});
    let (s, v) = api
        .call("PATCH", "/connectors/src/offsets", Some(bad))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = api.call("DELETE", "/connectors/src/offsets", None).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = api.call("GET", "/connectors/src/offsets", None).await;
    assert_eq!(v["offsets"], json!([]));
    // Sink offsets reset too once stopped.
    api.call("PUT", "/connectors/sink/stop", None).await;
    api.wait("sink", |c| c.connector.state.as_str() == "STOPPED")
        .await;
    let sink_alter = json!({"offsets": [{"partition": {"kafka_topic": "rest-lines", "kafka_partition": 0}, "offset": {"kafka_offset": 1}}]});
    let (s, v) = api
        .call("PATCH", "/connectors/sink/offsets", Some(sink_alter))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = api.call("GET", "/connectors/sink/offsets", None).await;
    assert_eq!(v["offsets"][0]["offset"]["kafka_offset"], 1, "{v}");
    // Resume from STOPPED: the source re-reads from its (reset) offsets.
    let (s, _) = api.call("PUT", "/connectors/src/resume", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    api.wait("src", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;

    // Delete: 204, then 404.
    let (s, _) = api.call("DELETE", "/connectors/src", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api.call("GET", "/connectors/src", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["message"], "Connector src not found");
    api.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_are_connect_json_bodies() {
    let api = Api::start().await;
    for (method, path) in [
        ("GET", "/connectors/nope"),
        ("GET", "/connectors/nope/status"),
        ("GET", "/connectors/nope/config"),
        ("GET", "/connectors/nope/tasks"),
        ("GET", "/connectors/nope/tasks/0/status"),
        ("DELETE", "/connectors/nope"),
        ("PUT", "/connectors/nope/pause"),
        ("POST", "/connectors/nope/restart"),
        ("GET", "/connectors/nope/offsets"),
        ("GET", "/no/such/path"),
    ] {
        let (s, v) = api.call(method, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {v}");
        assert_shape(&v, &fixture("error"), path);
        assert_eq!(v["error_code"], 404);
    }
    // Malformed JSON: 400 with a JSON body, never a dropped connection.
    let (s, v) = api.raw("POST", "/connectors", "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_shape(&v, &fixture("error"), "malformed");
    // An invalid config: 400 naming the key.
    let body = json!({"name": "bad", "config": {"connector.class": "FileStreamSource", "tasks.max": "zero"}});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("tasks.max"), "{v}");
    let body = json!({"name": "bad", "config": {"connector.class": "NoSuchConnector"}});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["message"].as_str().unwrap().contains("NoSuchConnector"),
        "{v}"
    );
    let (s, v) = api
        .call("POST", "/connectors", Some(json!({"config": {}})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Wrong method: a JSON 405.
    let (s, v) = api.call("DELETE", "/connector-plugins", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_shape(&v, &fixture("error"), "405");
    // Loggers are not enabled on an in-process worker without a log handle: a JSON 404.
    let (s, v) = api.call("GET", "/admin/loggers", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_shape(&v, &fixture("error"), "loggers");
    api.running.stop().await;
}

/// Names as Connect takes them: trimmed, and every answer names the connector as stored; names
/// that could not be managed afterwards (control characters, too long for a URL) are refused
/// with Connect's error body. A config `name` is no substitute for the request's `name`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connector_names_are_trimmed_and_checked_as_connect_checks_them() {
    let api = Api::start().await;
    std::fs::write(api.file("in.txt"), "").unwrap();
    let config = source_config(&api, "in.txt");

    let body = json!({"name": "  padded\t", "config": config});
    let (s, v) = api.call("POST", "/connectors", Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "padded", "{v}");
    assert_eq!(v["config"]["name"], "padded", "{v}");
    let (s, v) = api.call("GET", "/connectors/padded/config", None).await;
    assert_eq!((s, &v["name"]), (StatusCode::OK, &json!("padded")));
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["message"], "Connector padded already exists");
    // A config name that differs only by surrounding spaces is the same name.
    let mut with_name = config.clone();
    with_name["name"] = json!(" spaced ");
    let body = json!({"name": "spaced ", "config": with_name});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(
        (s, &v["name"]),
        (StatusCode::CREATED, &json!("spaced")),
        "{v}"
    );
    // PUT …/config trims the URL's name the same way.
    let (s, v) = api
        .call(
            "PUT",
            "/connectors/%20put-padded%20/config",
            Some(config.clone()),
        )
        .await;
    assert_eq!(
        (s, &v["name"]),
        (StatusCode::CREATED, &json!("put-padded")),
        "{v}"
    );
    let (s, v) = api
        .call("PUT", "/connectors/put-padded/config", Some(config.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = api.call("GET", "/connectors", None).await;
    assert_eq!(v, json!(["padded", "put-padded", "spaced"]));

    let long = "n".repeat(kconnect_actors::config::MAX_NAME_BYTES + 1);
    let longest = "n".repeat(kconnect_actors::config::MAX_NAME_BYTES);
    for (name, says) in [
        ("bad\u{7}bell", "control"),
        ("line\nbreak", "control"),
        ("c1\u{85}control", "control"),
        (long.as_str(), "at most"),
        ("  ", "must be specified"),
    ] {
        let body = json!({"name": name, "config": config});
        let (s, v) = api.call("POST", "/connectors", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name:?}: {v}");
        assert_shape(&v, &fixture("error"), "bad name");
        assert_eq!(v["error_code"], 400);
        assert!(
            v["message"].as_str().unwrap().contains(says),
            "{name:?}: {v}"
        );
    }
    let (_, v) = api.call("GET", "/connectors", None).await;
    assert_eq!(
        v.as_array().unwrap().len(),
        3,
        "nothing more was created: {v}"
    );
    // The longest name accepted can be managed through its URL.
    let body = json!({"name": longest, "config": config});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .call("DELETE", &format!("/connectors/{longest}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    api.running.stop().await;
}

/// As Connect: a create names its connector at the top level, and validation needs the class
/// in the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_need_a_top_level_name_and_validation_a_class() {
    let api = Api::start().await;
    std::fs::write(api.file("in.txt"), "").unwrap();
    let config = source_config(&api, "in.txt");
    // Without a top-level name, a config name is compared with "" and refused.
    let mut named = config.clone();
    named["name"] = json!("only-in-config");
    let (s, v) = api
        .call("POST", "/connectors", Some(json!({"config": named})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["message"],
        "Connector name configuration (only-in-config) doesn't match connector name in the URL ()"
    );
    let (s, _) = api.call("GET", "/connectors/only-in-config", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Validation needs the class in the config, as in Connect.
    let (s, v) = api
        .call(
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            Some(json!({"name": "v", "topic": "t"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_shape(&v, &fixture("error"), "classless validate");
    assert_eq!(
        v["message"],
        "Connector config {name=v, topic=t} contains no connector type"
    );
    api.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn basic_auth_guards_every_endpoint_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "admin: s3cret,admin\n").unwrap();
    let running = standalone_worker(
        dir.path(),
        &[("rest.basic.auth.credentials.file", users.to_str().unwrap())],
    )
    .await;
    let base = format!("http://{}", running.rest_addr);
    let http = Client::new();
    for path in ["/", "/connectors", "/connector-plugins"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(r.headers().contains_key("www-authenticate"));
        let v: Value = r.json().await.unwrap();
        assert_shape(&v, &fixture("error"), "401");
        let r = http
            .get(format!("{base}{path}"))
            .basic_auth("admin", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let r = http
            .get(format!("{base}{path}"))
            .basic_auth("admin", Some("s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_listener_serves_with_a_pem_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let pem = format!("{}{}", cert_pem, cert.signing_key.serialize_pem());
    let keystore = dir.path().join("rest.pem");
    std::fs::write(&keystore, pem).unwrap();
    let running = standalone_worker(
        dir.path(),
        &[
            ("listeners", "https://127.0.0.1:0"),
            ("listeners.https.ssl.keystore.type", "PEM"),
            (
                "listeners.https.ssl.keystore.location",
                keystore.to_str().unwrap(),
            ),
        ],
    )
    .await;
    let port = running.rest_addr.port();
    let http = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", running.rest_addr)
        .build()
        .unwrap();
    let r = http
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_shape(&connect_root(&v), &fixture("root"), "root over https");
    // Plain HTTP on the TLS port gets no API answer.
    let plain = Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    running.stop().await;
}

/// The value of the first sample of `name` whose labels contain every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_fired_over_rest_heal_and_show_in_metrics() {
    let api = Api::start().await;
    let sink_base = api.file("v.out");
    let (s, v) = api
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "vsink", "config": {
            "connector.class": "VerifiableSink", "topics": "vt", "verifiable.sink.file": sink_base,
            "task.restart.backoff.initial.ms": "10"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "vsource", "config": {
            "connector.class": "VerifiableSource", "topic": "vt", "throughput": "2000",
            "max.messages": "3000", "task.restart.backoff.initial.ms": "10"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    api.wait("vsource", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.state.as_str() == "RUNNING")
    })
    .await;

    // A panic fired over REST: the supervisor restarts the task.
    let (s, v) = api
        .call(
            "POST",
            "/admin/faults",
            Some(json!({"fault": "task-panic", "connector": "vsource", "task": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    api.wait("vsource", |c| {
        c.tasks
            .get(&0)
            .is_some_and(|t| t.restarts == 1 && t.state.as_str() == "RUNNING")
    })
    .await;
    let (s, _) = api
        .call(
            "POST",
            "/admin/faults",
            Some(json!({"fault": "broker-latency", "ms": 5})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api
        .call("POST", "/admin/faults", Some(json!({"fault": "meteor"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("task-panic"), "{v}");
    let (s, _) = api
        .call(
            "POST",
            "/admin/faults",
            Some(json!({"fault": "task-error", "connector": "vsource", "task": 9})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no such running task");

    // Every record still arrives.
    let expected: std::collections::BTreeMap<u32, u64> = [(0, 3000)].into();
    let base = std::path::PathBuf::from(&sink_base);
    let done = eventually(Duration::from_secs(60), || {
        kconnect_connectors::builtin::verifiable::count_verifiable_output(
            &kconnect_connectors::builtin::verifiable::verifiable_sink_files(&base)
                .unwrap_or_default(),
        )
        .is_ok_and(|r| r.total_lost(&expected) == 0)
    })
    .await;
    assert!(done);

    // Metrics, in Prometheus text format, with Connect's names.
    let resp = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    let task = ["connector=\"vsource\"", "task=\"0\""];
    assert!(
        sample(
            &text,
            "kafka_connect_source_task_metrics_source_record_poll_total",
            &task
        )
        .unwrap()
            >= 3000.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "kafka_connect_source_task_metrics_source_record_write_total",
            &task
        )
        .unwrap()
            >= 3000.0
    );
    let sink_task = ["connector=\"vsink\"", "task=\"0\""];
    assert!(
        sample(
            &text,
            "kafka_connect_sink_task_metrics_sink_record_send_total",
            &sink_task
        )
        .unwrap()
            >= 3000.0
    );
    assert!(
        sample(
            &text,
            "kafka_connect_sink_task_metrics_sink_record_read_total",
            &sink_task
        )
        .unwrap()
            >= 3000.0
    );
    assert!(
        sample(
            &text,
            "kafka_connect_connector_task_metrics_offset_commit_success_total",
            &task
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        sample(&text, "kconnect_task_restarts_total", &task),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kconnect_faults_injected_total",
            &["connector=\"vsource\"", "fault=\"panic\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kconnect_faults_injected_total",
            &["fault=\"broker-latency\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connector_task_metrics_status",
            &["connector=\"vsource\"", "state=\"RUNNING\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connector_task_metrics_status",
            &["connector=\"vsource\"", "state=\"FAILED\""]
        ),
        Some(0.0)
    );
    // Worker gauges are per process; other tests' workers share this one, so only presence
    // is checked here.
    assert!(sample(
        &text,
        "kafka_connect_connect_worker_metrics_connector_count",
        &[]
    )
    .is_some());
    assert!(
        text.contains("kafka_connect_connector_task_metrics_batch_size_records_bucket"),
        "batch sizes are recorded"
    );
    api.running.stop().await;
}

/// `GET /admin/worker` names each task's actor (kind, connector and task, worker id) beside its
/// actor id, and a restarted task's actor has a new name.
#[tokio::test(flavor = "multi_thread")]
async fn admin_worker_names_each_task_actor_and_a_restart_renames_it() {
    let api = Api::start().await;
    let (s, v) = api
        .call(
            "PUT",
            "/connectors/named/config",
            Some(verifiable_source(2)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let running = |c: &kconnect_actors::status::ConnectorStatus| {
        c.tasks.len() == 2 && c.tasks.values().all(|t| t.state.as_str() == "RUNNING")
    };
    api.wait("named", running).await;
    // (task, actor id, actor name) of the connector's tasks, by task.
    let tasks = |v: &Value| -> Vec<(u64, String, String)> {
        let mut tasks: Vec<_> = v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["connector"] == "named")
            .map(|t| {
                (
                    t["task"].as_u64().unwrap(),
                    t["actor"].as_str().unwrap().to_string(),
                    t["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        tasks.sort();
        tasks
    };
    let (s, v) = api.call("GET", "/admin/worker", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let worker = v["worker_id"].as_str().unwrap().to_string();
    let before = tasks(&v);
    assert_eq!(before.len(), 2, "{v}");
    for (i, (task, id, name)) in before.iter().enumerate() {
        assert_eq!(*task, i as u64);
        let prefix = format!("task:named-{i}@{worker}#");
        assert!(
            name.starts_with(&prefix),
            "{name} does not start with {prefix}"
        );
        assert_ne!(name, id);
    }
    let (s, v) = api
        .call("POST", "/connectors/named/tasks/1/restart", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = api.call("GET", "/admin/worker", None).await;
    let after = tasks(&v);
    assert_eq!(after[0], before[0], "task 0 was not restarted");
    assert_ne!(after[1].2, before[1].2, "task 1's new actor has a new name");
    assert!(
        after[1].2.starts_with(&format!("task:named-1@{worker}#")),
        "{v}"
    );
}

fn verifiable_source(tasks: u32) -> Value {
    json!({
        "connector.class": "VerifiableSource",
        "tasks.max": tasks.to_string(),
        "topic": "rest-seq",
        "throughput": "10",
    })
}

/// Reads answer from the worker's state, never from a connector actor that may be stopping:
/// GETs racing a loop of config changes (and two writers racing each other) all answer 200
/// with one of the configs written, and every write answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_and_writes_answer_while_the_connector_is_reconfigured() {
    let api = Api::start().await;
    let config = |writer: u32, i: u32| {
        let mut c = verifiable_source(1 + i % 2);
        c["throughput"] = json!(format!("{}", 1000 * writer + i));
        c
    };
    let (s, v) = api
        .call("PUT", "/connectors/busy/config", Some(config(0, 0)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let done = std::sync::atomic::AtomicUsize::new(0);
    let writer = |w: u32| {
        let (api, done, config) = (&api, &done, &config);
        async move {
            for i in 1..=12 {
                let (method, body) = if i % 3 == 0 {
                    ("PATCH", json!({"throughput": config(w, i)["throughput"]}))
                } else {
                    ("PUT", config(w, i))
                };
                let (s, v) = api
                    .call(method, "/connectors/busy/config", Some(body))
                    .await;
                assert_eq!(s, StatusCode::OK, "{method} config: {v}");
                assert_eq!(v["name"], "busy", "{v}");
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let written = |v: &Value| {
        v["throughput"]
            .as_str()
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|t| t == 0 || (t % 1000 <= 12 && t / 1000 <= 2))
    };
    let reader = || {
        let (api, done) = (&api, &done);
        async move {
            let mut reads = 0;
            while done.load(std::sync::atomic::Ordering::SeqCst) < 2 || reads < 10 {
                let (s, v) = api.call("GET", "/connectors/busy", None).await;
                assert_eq!(s, StatusCode::OK, "GET connector: {v}");
                assert!(written(&v["config"]), "not a written config: {v}");
                let (s, v) = api.call("GET", "/connectors/busy/tasks", None).await;
                assert_eq!(s, StatusCode::OK, "GET tasks: {v}");
                let (s, v) = api.call("GET", "/connectors/busy/config", None).await;
                assert_eq!(s, StatusCode::OK, "GET config: {v}");
                assert!(written(&v), "not a written config: {v}");
                let (s, v) = api.call("GET", "/connectors/busy/status", None).await;
                assert_eq!(s, StatusCode::OK, "GET status: {v}");
                reads += 1;
            }
        }
    };
    tokio::join!(writer(1), writer(2), reader(), reader(), reader());
    api.running.stop().await;
}

fn all_in(v: &Value, state: &str, tasks: usize) -> bool {
    v["connector"]["state"] == state
        && v["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == state))
}

/// A PAUSED connector reports PAUSED, for itself and every task, after a restart (with and
/// without its tasks), from `initial_state`, and after a config change; a STOPPED one stays
/// STOPPED with no tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_target_state_survives_restarts_and_config_changes() {
    let api = Api::start().await;
    let body = json!({"name": "p", "config": verifiable_source(2), "initial_state": "PAUSED"});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    api.wait("p", |c| c.tasks.len() == 2).await;
    let paused = |what: &str| {
        let what = what.to_string();
        let api = &api;
        async move {
            // Statuses settle once nothing is RESTARTING or UNASSIGNED any more.
            api.wait("p", |c| {
                c.tasks.len() == 2
                    && std::iter::once(&c.connector)
                        .chain(c.tasks.values())
                        .all(|s| !matches!(s.state.as_str(), "RESTARTING" | "UNASSIGNED"))
            })
            .await;
            let (_, v) = api.call("GET", "/connectors/p/status", None).await;
            assert!(all_in(&v, "PAUSED", 2), "{what}: {v}");
        }
    };
    paused("initial_state=PAUSED").await;
    for restart in [
        "",
        "?includeTasks=true",
        "?includeTasks=true&onlyFailed=false",
    ] {
        let (s, _) = api
            .call("POST", &format!("/connectors/p/restart{restart}"), None)
            .await;
        assert!(s.is_success(), "restart{restart}: {s}");
        paused(&format!("after restart{restart}")).await;
    }
    let mut changed = verifiable_source(2);
    changed["throughput"] = json!("20");
    let (s, v) = api.call("PUT", "/connectors/p/config", Some(changed)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    paused("after a config change").await;

    let body = json!({"name": "s", "config": verifiable_source(2), "initial_state": "STOPPED"});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for restart in ["", "?includeTasks=true"] {
        api.call("POST", &format!("/connectors/s/restart{restart}"), None)
            .await;
        api.wait("s", |c| c.connector.state.as_str() == "STOPPED")
            .await;
        let (_, v) = api.call("GET", "/connectors/s/status", None).await;
        assert!(all_in(&v, "STOPPED", 0), "after restart{restart}: {v}");
    }
    api.running.stop().await;
}

/// `POST …/restart?includeTasks=true` answers 202 with everything it restarts shown as
/// RESTARTING, every time; `onlyFailed` shows only the failed ones; a plain restart keeps 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_tasks_answers_the_restart_plan() {
    let api = Api::start().await;
    let (s, v) = api
        .call("PUT", "/connectors/r/config", Some(verifiable_source(2)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for round in 0..5 {
        api.wait("r", |c| {
            c.connector.state.as_str() == "RUNNING"
                && c.tasks.len() == 2
                && c.tasks.values().all(|t| t.state.as_str() == "RUNNING")
        })
        .await;
        let (s, v) = api
            .call("POST", "/connectors/r/restart?includeTasks=true", None)
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "round {round}: {v}");
        assert!(all_in(&v, "RESTARTING", 2), "round {round}: {v}");
        assert_eq!(v["type"], "source", "{v}");
    }
    api.wait("r", |c| {
        c.connector.state.as_str() == "RUNNING"
            && c.tasks.len() == 2
            && c.tasks.values().all(|t| t.state.as_str() == "RUNNING")
    })
    .await;
    // Nothing failed: nothing to restart, and the body says so.
    let (s, v) = api
        .call(
            "POST",
            "/connectors/r/restart?includeTasks=true&onlyFailed=true",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(all_in(&v, "RUNNING", 2), "{v}");
    // onlyFailed without includeTasks restarts the connector only if it failed.
    let (s, v) = api
        .call("POST", "/connectors/r/restart?onlyFailed=true", None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["connector"]["state"], "RUNNING", "{v}");
    let (s, _) = api.call("POST", "/connectors/r/restart", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // As Connect: a STOPPED connector is restarted too (into STOPPED), so the plan shows it
    // RESTARTING, with no tasks.
    let (s, _) = api.call("PUT", "/connectors/r/stop", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .call("POST", "/connectors/r/restart?includeTasks=true", None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(all_in(&v, "RESTARTING", 0), "{v}");
    api.wait("r", |c| {
        c.connector.state.as_str() == "STOPPED" && c.tasks.is_empty()
    })
    .await;
    let (s, v) = api
        .call("POST", "/connectors/nope/restart?includeTasks=true", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    api.running.stop().await;
}

/// A connector's active topics survive a config change, until `PUT …/topics/reset`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn active_topics_survive_a_config_change_until_reset() {
    let api = Api::start().await;
    let (s, v) = api
        .call("PUT", "/connectors/t/config", Some(verifiable_source(1)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    api.wait("t", |c| c.topics.contains("rest-seq")).await;
    let mut moved = verifiable_source(1);
    moved["topic"] = json!("rest-seq-2");
    let (s, v) = api.call("PUT", "/connectors/t/config", Some(moved)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    api.wait("t", |c| c.topics.contains("rest-seq-2")).await;
    let (_, v) = api.call("GET", "/connectors/t/topics", None).await;
    assert_eq!(v["t"]["topics"], json!(["rest-seq", "rest-seq-2"]), "{v}");
    let (s, _) = api.call("PUT", "/connectors/t/topics/reset", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = api.call("GET", "/connectors/t/topics", None).await;
    assert_eq!(v["t"]["topics"], json!([]), "{v}");
    api.running.stop().await;
}

/// The names of the keys of a `GET /connector-plugins/{p}/config` answer, in order.
fn key_names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_configs_list_the_framework_keys_then_the_plugin_s_and_converters_answer() {
    let api = Api::start().await;
    let (s, v) = api
        .call("GET", "/connector-plugins/FileStreamSink/config", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let sink = key_names(&v);
    for key in [
        "name",
        "connector.class",
        "tasks.max",
        "key.converter",
        "value.converter",
        "header.converter",
        "config.action.reload",
        "transforms",
        "predicates",
        "errors.retry.timeout",
        "errors.retry.delay.max.ms",
        "errors.tolerance",
        "errors.log.enable",
        "errors.log.include.messages",
        "topics",
        "topics.regex",
        "errors.deadletterqueue.topic.name",
        "errors.deadletterqueue.topic.replication.factor",
        "errors.deadletterqueue.context.headers.enable",
    ] {
        assert!(sink.contains(&key.to_string()), "{key} missing: {sink:?}");
    }
    // The framework's keys first, then the connector's own.
    assert_eq!(sink.first().map(String::as_str), Some("name"), "{sink:?}");
    assert_eq!(sink.last().map(String::as_str), Some("file"), "{sink:?}");
    assert_eq!(
        v.as_array().unwrap()[0]["group"],
        "Common",
        "Connect's group for the common keys"
    );

    let (_, v) = api
        .call("GET", "/connector-plugins/FileStreamSource/config", None)
        .await;
    let source = key_names(&v);
    assert!(
        source.contains(&"topic.creation.groups".to_string()),
        "{source:?}"
    );
    assert!(!source.contains(&"topics".to_string()), "{source:?}");
    assert!(!source.contains(&"errors.deadletterqueue.topic.name".to_string()));
    let at = |k: &str| source.iter().position(|x| x == k);
    assert!(at("topic") > at("topic.creation.groups"), "{source:?}");

    for (plugin, key) in [
        (
            "org.apache.kafka.connect.json.JsonConverter",
            "schemas.enable",
        ),
        ("JsonConverter", "decimal.format"),
        (
            "org.apache.kafka.connect.storage.StringConverter",
            "converter.encoding",
        ),
        (
            "org.apache.kafka.connect.converters.LongConverter",
            "converter.type",
        ),
    ] {
        let (s, v) = api
            .call("GET", &format!("/connector-plugins/{plugin}/config"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{plugin}: {v}");
        assert!(key_names(&v).contains(&key.to_string()), "{plugin}: {v}");
        assert_shape(
            &v[0],
            &fixture("validate")["configs"][0]["definition"],
            "converter key",
        );
    }
    let (s, v) = api
        .call("GET", "/connector-plugins/com.example.Nope/config", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    api.running.stop().await;
}

/// A connector config without its `name` (the request names the connector).
fn without_name(config: &Value) -> Value {
    let mut c = config.clone();
    c.as_object_mut().unwrap().remove("name");
    c
}

/// The entry of `key` in a validate answer.
fn entry<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == key)
        .unwrap_or_else(|| panic!("no entry for {key}: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validation_reports_what_create_would_fail_on_and_create_refuses_it() {
    let api = Api::start_with(&[("connector.client.config.override.policy", "Principal")]).await;
    std::fs::write(api.file("in.txt"), "a\n").unwrap();
    let sink = |extra: Value| {
        let mut c = json!({"connector.class": "FileStreamSink", "tasks.max": "1", "name": "v",
            "file": api.file("out.txt"), "topics": "v-lines"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let source = |extra: Value| {
        let mut c = json!({"connector.class": "FileStreamSource", "tasks.max": "1", "name": "v",
            "file": api.file("in.txt"), "topic": "v-lines"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    // (config, the key its error shows on)
    let bad = [
        (
            sink(json!({"key.converter": "com.example.NoSuchConverter"})),
            "key.converter",
        ),
        (
            sink(
                json!({"value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "maybe"}),
            ),
            "value.converter.schemas.enable",
        ),
        (
            source(json!({"value.converter": "JsonConverter",
            "value.converter.decimal.format": "HEX"})),
            "value.converter.decimal.format",
        ),
        (
            sink(json!({"errors.tolerance": "some"})),
            "errors.tolerance",
        ),
        (
            sink(json!({"errors.retry.timeout": "soon"})),
            "errors.retry.timeout",
        ),
        (
            sink(json!({"errors.retry.delay.max.ms": "1.5"})),
            "errors.retry.delay.max.ms",
        ),
        (
            sink(json!({"errors.log.enable": "maybe"})),
            "errors.log.enable",
        ),
        (
            sink(json!({"errors.deadletterqueue.topic.name": "v-lines"})),
            "errors.deadletterqueue.topic.name",
        ),
        (
            sink(json!({"errors.deadletterqueue.context.headers.enable": "yes"})),
            "errors.deadletterqueue.context.headers.enable",
        ),
        (
            sink(json!({"config.action.reload": "sometimes"})),
            "config.action.reload",
        ),
        (
            sink(json!({"consumer.override.max.poll.records": "10"})),
            "consumer.override.max.poll.records",
        ),
        (
            source(json!({"producer.override.acks": "1"})),
            "producer.override.acks",
        ),
    ];
    for (i, (config, key)) in bad.iter().enumerate() {
        let class = config["connector.class"].as_str().unwrap();
        let (s, v) = api
            .call(
                "PUT",
                &format!("/connector-plugins/{class}/config/validate"),
                Some(config.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_shape(&v, &fixture("validate"), "validate");
        assert_eq!(v["error_count"], 1, "{key}: {v}");
        let errors = entry(&v, key)["value"]["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{key}: {v}");
        // Create refuses it with Connect's message, and nothing is left behind.
        let name = format!("bad-{i}");
        let (s, v) = api
            .call(
                "POST",
                "/connectors",
                Some(json!({"name": name, "config": without_name(config)})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{key}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "Connector configuration is invalid and contains the following 1 error(s):\n"
            ),
            "{message}"
        );
        assert!(message.contains(errors[0].as_str().unwrap()), "{message}");
        let (s, _) = api
            .call(
                "PUT",
                &format!("/connectors/{name}/config"),
                Some(without_name(config)),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{key}");
        let (s, _) = api.call("GET", &format!("/connectors/{name}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{key}");
    }
    // The Principal policy lets a connector choose its identity; the worker's own converters
    // are not the connector's to validate. A config that validates runs: no task crash-loops.
    let good = [
        sink(json!({"consumer.override.security.protocol": "PLAINTEXT",
            "value.converter": "StringConverter", "errors.tolerance": "all",
            "errors.retry.timeout": "-1", "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": "v-dlq"})),
        source(
            json!({"value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "producer.override.sasl.mechanism": "PLAIN",
            "header.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter"}),
        ),
    ];
    for (i, config) in good.iter().enumerate() {
        let class = config["connector.class"].as_str().unwrap();
        let (_, v) = api
            .call(
                "PUT",
                &format!("/connector-plugins/{class}/config/validate"),
                Some(config.clone()),
            )
            .await;
        assert_eq!(v["error_count"], 0, "{v}");
        let name = format!("good-{i}");
        let (s, v) = api
            .call(
                "POST",
                "/connectors",
                Some(json!({"name": name, "config": without_name(config)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        api.wait(&name, |c| {
            c.tasks
                .get(&0)
                .is_some_and(|t| t.state.as_str() == "RUNNING")
        })
        .await;
        let restarts = api.running.worker.status(&name).unwrap().tasks[&0].restarts;
        assert_eq!(restarts, 0, "{name} restarted");
    }
    api.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_details_are_connect_s_root_location_tasks_and_error_bodies() {
    let api = Api::start().await;
    std::fs::write(api.file("in.txt"), "a\n").unwrap();

    // GET /: the Kafka Connect version kconnect is compatible with, and kconnect's own.
    let (_, v) = api.call("GET", "/", None).await;
    assert_eq!(v["version"], kconnect::rest::KAFKA_CONNECT_VERSION, "{v}");
    assert_eq!(v["version"], "4.3.1", "{v}");
    assert_eq!(v["commit"], "26b251a451ce941d", "{v}");
    assert_eq!(v["kconnect_version"], env!("CARGO_PKG_VERSION"), "{v}");
    assert!(v["kconnect_commit"].is_string(), "{v}");

    // 201s say where the connector is.
    let url = format!("{}/connectors", api.base);
    let r = api
        .http
        .post(&url)
        .json(&json!({"name": "src", "config": source_config(&api, "in.txt")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/connectors/src");
    let r = api
        .http
        .put(format!("{url}/a%20b/config"))
        .json(&sink_config(&api, "out.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/connectors/a%20b");

    // The task configs the connector generated, task.class included, in both shapes.
    api.wait("src", |c| !c.tasks.is_empty()).await;
    let (s, v) = api.call("GET", "/connectors/src/tasks", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["id"], json!({"connector": "src", "task": 0}), "{v}");
    let config = &v[0]["config"];
    assert_eq!(
        config["task.class"], "org.apache.kafka.connect.file.FileStreamSourceTask",
        "{v}"
    );
    assert_eq!(config["topic"], "rest-lines", "{v}");
    let (s, all) = api.call("GET", "/connectors/src/tasks-config", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all, json!({"src-0": config}));
    let (s, v) = api.call("GET", "/connectors/nope/tasks-config", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Every error is Connect's JSON body, axum's own rejections included.
    let error = |s: StatusCode, v: &Value, what: &str| {
        assert_shape(v, &fixture("error"), what);
        assert_eq!(v["error_code"], s.as_u16(), "{what}: {v}");
    };
    let r = api
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body(r#"{"name": "x", "config": {}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &r.json().await.unwrap(),
        "415",
    );
    let r = api
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "curl -d's default"
    );
    // A path segment that is not UTF-8: axum's Path rejection.
    let r = api
        .http
        .get(format!("{url}/%FF/status"))
        .send()
        .await
        .unwrap();
    let s = r.status();
    assert!(s.is_client_error(), "{s}");
    error(s, &r.json().await.unwrap(), "bad path");
    // Too large: 413 with a JSON body, answered on the declared length (over a raw connection:
    // an HTTP client would still be sending the body the server refused).
    let (status, body) = raw_exchange(
        &api.base,
        &format!(
            "POST /connectors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{{\"name\":",
            kconnect::rest::MAX_BODY + 1
        ),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &serde_json::from_str(&body).unwrap(),
        "413",
    );
    // Above axum's own default limit (2 MB) but within ours: read, and refused only for
    // what it says.
    let large =
        json!({"name": "large", "config": {"connector.class": "NoSuch", "x": "y".repeat(3 << 20)}});
    let (s, v) = api.call("POST", "/connectors", Some(large)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("NoSuch"), "{v}");
    api.running.stop().await;
}

/// Sends `request` as is over a new connection to `base` and returns the answer's status and
/// body (the answer must not be chunked).
async fn raw_exchange(base: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// `GET /` as Connect's fields only (kconnect adds its own build's).
fn connect_root(v: &Value) -> Value {
    let mut v = v.clone();
    let m = v.as_object_mut().unwrap();
    assert!(m.remove("kconnect_version").is_some(), "{m:?}");
    assert!(m.remove("kconnect_commit").is_some(), "{m:?}");
    v
}

/// A standalone worker whose `/admin/loggers` controls a log filter of its own.
async fn api_with_log_control() -> Api {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let config = kconnect::standalone::StandaloneConfig {
        worker_file: std::path::PathBuf::from("worker.properties"),
        worker: kconnect_actors::config::WorkerConfig::parse(props(&[
            ("listeners", "http://127.0.0.1:0"),
            (
                "offset.storage.file.filename",
                dir.path().join("offsets").to_str().unwrap(),
            ),
        ]))
        .unwrap(),
        connectors: Vec::new(),
        plugins: std::sync::Arc::new(kconnect_connectors::registry::PluginRegistry::builtin()),
    };
    let logs = std::sync::Arc::new(kconnect::rest::LogControl::unattached(
        "info,kconnect_actors::task=trace",
    ));
    let running = Standalone::start(config, Some(logs)).await.unwrap();
    Api {
        base: format!("http://{}", running.rest_addr),
        http: Client::new(),
        running,
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loggers_take_log4j_levels_reset_their_namespace_and_scope_cluster_answers_204() {
    let api = api_with_log_control().await;
    let level = |l: &str| Some(json!({ "level": l }));
    let (s, v) = api.call("GET", "/admin/loggers", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_keyed_shape(&v, &fixture("loggers"), "loggers");
    assert_eq!(v["kconnect_actors::task"]["level"], "TRACE", "{v}");

    // One logger, worker scope: 200 with the loggers set.
    let (s, v) = api
        .call(
            "PUT",
            "/admin/loggers/kconnect_actors::task::sink",
            level("debug"),
        )
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!(["kconnect_actors::task::sink"]))
    );
    let (_, v) = api
        .call("GET", "/admin/loggers/kconnect_actors::task::sink", None)
        .await;
    assert_eq!(v["level"], "DEBUG", "{v}");
    assert!(v["last_modified"].is_u64(), "{v}");
    // A namespace takes every logger below it along, and lists them.
    let (s, v) = api
        .call("PUT", "/admin/loggers/kconnect_actors", level("Warn"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!([
            "kconnect_actors",
            "kconnect_actors::task",
            "kconnect_actors::task::sink"
        ])
    );
    for l in ["kconnect_actors::task", "kconnect_actors::task::sink"] {
        let (_, v) = api.call("GET", &format!("/admin/loggers/{l}"), None).await;
        assert_eq!(v["level"], "WARN", "{l}: {v}");
    }
    // log4j's levels, in any case.
    for l in [
        "off", "FATAL", "all", "Error", "warn", "INFO", "debug", "trace",
    ] {
        let (s, v) = api.call("PUT", "/admin/loggers/librdkafka", level(l)).await;
        assert_eq!(s, StatusCode::OK, "{l}: {v}");
        let (_, v) = api.call("GET", "/admin/loggers/librdkafka", None).await;
        assert_eq!(v["level"], l.to_ascii_uppercase(), "{v}");
    }
    let (s, v) = api
        .call("PUT", "/admin/loggers/librdkafka", level("LOUD"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_shape(&v, &fixture("error"), "bad level");
    let (s, v) = api
        .call("PUT", "/admin/loggers/librdkafka", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no level: {v}");
    // An unknown logger is 404.
    let (s, v) = api
        .call("GET", "/admin/loggers/no::such::logger", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["message"], "Logger no::such::logger not found.");

    // Cluster scope: 204, no body; a standalone worker is its whole cluster.
    let (s, v) = api
        .call(
            "PUT",
            "/admin/loggers/kconnect?scope=cluster",
            level("ERROR"),
        )
        .await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, Value::Null));
    let (_, v) = api
        .call("GET", "/admin/loggers/kconnect_actors::task", None)
        .await;
    assert_eq!(
        v["level"], "ERROR",
        "kconnect is a prefix of kconnect_actors: {v}"
    );
    // Any other scope is the worker's.
    let (s, v) = api
        .call("PUT", "/admin/loggers/kconnect?scope=galaxy", level("INFO"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.as_array().unwrap().contains(&json!("kconnect")), "{v}");
    api.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn altered_offsets_are_checked_by_the_connector_first_and_refused_ones_write_nothing() {
    let api = Api::start().await;
    std::fs::write(api.file("in.txt"), "a\nb\n").unwrap();
    let input = std::fs::canonicalize(api.file("in.txt")).unwrap();
    let body = json!({"name": "src", "config": source_config(&api, "in.txt"),
        "initial_state": "STOPPED"});
    let (s, v) = api.call("POST", "/connectors", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    api.wait("src", |c| c.connector.state.as_str() == "STOPPED")
        .await;
    let good = json!({"partition": {"filename": input}, "offset": {"position": 2}});
    for (bad, message) in [
        (
            json!({"partition": {"filename": input}, "offset": {"position": "two"}}),
            "The value for the 'position' key in the offset is expected to be a Long value",
        ),
        (
            json!({"partition": {"filename": input}, "offset": {"position": -2}}),
            "The value for the 'position' key in the offset should be a non-negative value",
        ),
        (
            json!({"partition": {"file": input}, "offset": {"position": 2}}),
            "Partition objects should contain the key 'filename'",
        ),
        (
            json!({"partition": {"filename": input}, "offset": {"pos": 2}}),
            "Offset objects should either be null or contain the key 'position'",
        ),
    ] {
        // Alongside a good one: nothing at all is written.
        let (s, v) = api
            .call(
                "PATCH",
                "/connectors/src/offsets",
                Some(json!({"offsets": [good, bad]})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["message"], message, "{bad}");
        let (_, v) = api.call("GET", "/connectors/src/offsets", None).await;
        assert_eq!(v["offsets"], json!([]), "{bad}");
    }
    // A reset may name any partition, and the good one alone is written.
    let reset_junk = json!({"offsets": [{"partition": {"file": "x"}, "offset": null}]});
    let (s, v) = api
        .call("PATCH", "/connectors/src/offsets", Some(reset_junk))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .call(
            "PATCH",
            "/connectors/src/offsets",
            Some(json!({ "offsets": [good] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = api.call("GET", "/connectors/src/offsets", None).await;
    assert_eq!(v["offsets"], json!([good]));
    api.running.stop().await;
}

/// Concurrent `PATCH …/config` requests are applied one after another to the stored config, as
/// Connect's herder applies them: twenty patches of different keys, sent at once, leave all
/// twenty keys, and a key patched to null is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_keep_every_key() {
    let api = Api::start().await;
    let mut config = verifiable_source(1);
    config["x.removed"] = json!("soon");
    let (s, v) = api
        .call("PUT", "/connectors/patched/config", Some(config))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let patches = (0..20).map(|i| {
        let mut body = json!({ format!("x.patch.{i}"): i.to_string() });
        if i == 7 {
            body["x.removed"] = Value::Null;
        }
        api.call("PATCH", "/connectors/patched/config", Some(body))
    });
    for (s, v) in futures::future::join_all(patches).await {
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, stored) = api.call("GET", "/connectors/patched/config", None).await;
    for i in 0..20 {
        assert_eq!(
            stored[format!("x.patch.{i}")],
            json!(i.to_string()),
            "patch {i} was lost: {stored}"
        );
    }
    assert!(stored.get("x.removed").is_none(), "{stored}");
    api.running.stop().await;
}
