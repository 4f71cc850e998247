//! Config providers as users run them: a `kconnect standalone` process whose worker config sets
//! `config.providers`, connectors created over REST with `${file:…}` and `${env:…}` in their
//! configs. Everything an operator or a REST client can see (REST bodies, statuses, `/metrics`,
//! the log) is searched for the resolved values, and a changed secret file takes effect when
//! the connector restarts.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::procs::LoggedProc;
use common::read_lines;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");
/// Part of every secret below: found anywhere, something leaked.
const CANARY: &str = "c4n4ry-7d1e";

struct Rest {
    base: String,
    http: reqwest::Client,
    /// Every body received, for the leak search at the end.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Rest {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    /// Polls the connector's status until `cond` holds.
    async fn wait_status(&self, name: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, v) = self
                .call("GET", &format!("/connectors/{name}/status"), None)
                .await;
            if cond(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{name}: not {what}: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn task_state(v: &Value) -> &str {
    v["tasks"][0]["state"].as_str().unwrap_or("")
}

/// Waits until `path` has a line for which `cond` holds.
async fn wait_line_in(path: &Path, cond: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !read_lines(path).iter().any(|l| cond(l)) {
        assert!(
            Instant::now() < deadline,
            "{}: {:?}",
            path.display(),
            read_lines(path)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_secrets(dir: &Path, output: &str, bad_output: &str) {
    let d = dir.display();
    std::fs::write(
        dir.join("secrets.properties"),
        format!(
            "input={d}/in.txt\noutput={d}/{output}\nbad-output={d}/{bad_output}\n\
             password=pw-{CANARY}\n"
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn resolved_secrets_never_leave_the_worker_and_restarts_resolve_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    write_secrets(dir.path(), "out.txt", &format!("no-dir-{CANARY}/out.txt"));
    std::fs::write(dir.path().join("in.txt"), "a\nb\nc\n").unwrap();
    let secrets = format!("{d}/secrets.properties");
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "listeners=http://127.0.0.1:0\n\
             offset.storage.file.filename={d}/offsets\n\
             offset.flush.interval.ms=${{env:KC_FLUSH_MS}}\n\
             config.providers=file,env\n\
             config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\
             config.providers.file.param.allowed.paths={d}\n\
             config.providers.env.class=EnvVarConfigProvider\n\
             config.providers.env.param.allowlist.pattern=KC_.*\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("standalone")
        .arg(&worker)
        // Debug, so that the plugins' own lines naming their files are written too.
        .env(
            "RUST_LOG",
            "info,kconnect_connectors=debug,kconnect_actors=debug",
        )
        .env("KC_FLUSH_MS", "100")
        .env("KC_TOPIC", "lines");
    let mut p = LoggedProc::spawn(cmd);
    let running = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("kconnect standalone running")
    });
    let addr = running
        .split("rest=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the running line names the REST address");
    let rest = Rest {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        seen: Default::default(),
    };

    let file_var = |key: &str| format!("${{file:{secrets}:{key}}}");
    let source = json!({
        "connector.class": "FileStreamSource", "tasks.max": "1",
        "file": file_var("input"), "topic": "${env:KC_TOPIC}",
        "producer.override.ssl.key.password": file_var("password"),
    });
    let sink = |output: &str| {
        json!({
            "connector.class": "FileStreamSink", "tasks.max": "1",
            "file": file_var(output), "topics": "${env:KC_TOPIC}",
            "task.restart.max.restarts": "0",
        })
    };

    // Validation resolves (a variable that cannot be resolved is an error on its key) and
    // shows the config as written; the PASSWORD override shows [hidden].
    let mut named = source.clone();
    named["name"] = json!("src");
    let (s, v) = rest
        .call(
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            Some(named.clone()),
        )
        .await;
    assert_eq!((s, &v["error_count"]), (200, &json!(0)), "{v}");
    let value = |v: &Value, key: &str| -> Value {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| c["value"].clone())
            .unwrap_or_else(|| panic!("no {key} in {v}"))
    };
    assert_eq!(value(&v, "file")["value"], json!(file_var("input")));
    assert_eq!(value(&v, "topic")["value"], json!("${env:KC_TOPIC}"));
    assert_eq!(
        value(&v, "producer.override.ssl.key.password")["value"],
        json!("[hidden]")
    );
    let mut missing = named.clone();
    missing["file"] = json!(file_var("nope"));
    missing["topic"] = json!("${env:HOME}");
    let (_, v) = rest
        .call(
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            Some(missing.clone()),
        )
        .await;
    assert_eq!(v["error_count"], 2, "{v}");
    assert_eq!(
        value(&v, "file")["errors"],
        json!([format!(
            "Invalid value {} for configuration file: no key nope in the properties file {secrets}",
            file_var("nope")
        )])
    );
    assert_eq!(
        value(&v, "topic")["errors"],
        json!([
            "Invalid value ${env:HOME} for configuration topic: no environment variable \
                HOME (or it does not match config.providers.env.param.allowlist.pattern)"
        ])
    );
    // Create refuses it with the same errors.
    let (s, v) = rest
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "src", "config": missing})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("no key nope in the properties file"),
        "{v}"
    );

    // The pipeline runs on the resolved values.
    for (name, config) in [("src", source.clone()), ("snk", sink("output"))] {
        let (s, v) = rest
            .call(
                "POST",
                "/connectors",
                Some(json!({"name": name, "config": config})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    wait_line_in(&dir.path().join("out.txt"), |l| l == "c").await;
    assert_eq!(read_lines(&dir.path().join("out.txt")), ["a", "b", "c"]);

    // Stored and shown as written: config, info, task configs.
    let (_, config) = rest.call("GET", "/connectors/src/config", None).await;
    let mut expected = source.clone();
    expected["name"] = json!("src");
    assert_eq!(config, expected);
    let (_, info) = rest.call("GET", "/connectors/src", None).await;
    assert_eq!(info["config"], expected);
    let (_, tasks) = rest.call("GET", "/connectors/src/tasks", None).await;
    assert_eq!(
        tasks[0]["config"]["file"],
        json!(file_var("input")),
        "{tasks}"
    );
    assert_eq!(tasks[0]["config"]["topic"], json!("${env:KC_TOPIC}"));
    let (_, tasks) = rest.call("GET", "/connectors/snk/tasks", None).await;
    assert_eq!(
        tasks[0]["config"]["file"],
        json!(file_var("output")),
        "{tasks}"
    );

    // A sink whose resolved file cannot be created: its failure names the file as [hidden].
    let (s, v) = rest
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "bad", "config": sink("bad-output")})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let status = rest
        .wait_status("bad", "FAILED", |v| task_state(v) == "FAILED")
        .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.starts_with("Couldn't find or create file '[hidden]' for FileStreamSinkTask"),
        "{trace}"
    );

    // A changed secret file takes effect when the connector and its tasks restart.
    write_secrets(dir.path(), "out2.txt", "fixed.txt");
    for name in ["snk", "bad"] {
        let (s, v) = rest
            .call(
                "POST",
                &format!("/connectors/{name}/restart?includeTasks=true"),
                None,
            )
            .await;
        assert_eq!(s, 202, "{v}");
        rest.wait_status(name, "RUNNING", |v| task_state(v) == "RUNNING")
            .await;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("in.txt"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"d\n"))
        .unwrap();
    wait_line_in(&dir.path().join("out2.txt"), |l| l == "d").await;
    wait_line_in(&dir.path().join("fixed.txt"), |l| l == "d").await;
    assert_eq!(read_lines(&dir.path().join("out.txt")), ["a", "b", "c"]);

    // A secret that is gone fails the next start, naming the key and the variable.
    std::fs::write(
        dir.path().join("secrets.properties"),
        format!("input={d}/in.txt\nbad-output={d}/fixed.txt\npassword=pw-{CANARY}\n"),
    )
    .unwrap();
    let (s, v) = rest
        .call("POST", "/connectors/snk/restart?includeTasks=true", None)
        .await;
    assert_eq!(s, 202, "{v}");
    let status = rest
        .wait_status("snk", "FAILED", |v| v["connector"]["state"] == "FAILED")
        .await;
    let trace = status["connector"]["trace"].as_str().unwrap();
    assert!(
        trace.starts_with(&format!(
            "Invalid value {} for configuration file: no key output in the properties file \
             {secrets}",
            file_var("output")
        )),
        "{trace}"
    );

    let (_, statuses) = rest
        .call("GET", "/connectors?expand=status&expand=info", None)
        .await;
    assert!(statuses["bad"]["status"]["tasks"][0]["trace"].is_null());
    let metrics = rest.call("GET", "/metrics", None).await.1;
    assert!(
        metrics
            .as_str()
            .is_some_and(|m| m.contains("kafka_connect")),
        "{metrics}"
    );

    assert!(p.terminate(Duration::from_secs(30)).success());
    let log = p.lines().join("\n");
    // Resolved values: the secret, the paths the providers handed out.
    let resolved = [
        CANARY.to_string(),
        format!("{d}/in.txt"),
        format!("{d}/out.txt"),
        format!("{d}/out2.txt"),
    ];
    let bodies = rest.seen.lock().unwrap().join("\n");
    for value in &resolved {
        assert!(!bodies.contains(value), "REST showed {value}:\n{bodies}");
        assert!(!log.contains(value), "the log showed {value}:\n{log}");
    }
    // The log had them to hide: the failed task and the source's file.
    assert!(
        log.contains("Couldn't find or create file '[hidden]'"),
        "{log}"
    );
}
