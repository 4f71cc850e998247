//! A worker that cannot reach its brokers says so once, naming `bootstrap.servers`, keeps
//! retrying quietly, and shows it in `/health` and in its running tasks' status.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::procs::Proc;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn standalone(dir: &Path, worker_extra: &str, log: &Path) -> (Proc, String) {
    let rest = free_port();
    let worker = dir.join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "listeners=http://127.0.0.1:{rest}\noffset.storage.file.filename={}\n{worker_extra}",
            dir.join("connect.offsets").display()
        ),
    )
    .unwrap();
    let source = dir.join("source.properties");
    std::fs::write(
        &source,
        "name=seq\nconnector.class=VerifiableSource\ntopic=seq\nthroughput=10\n",
    )
    .unwrap();
    let sink = dir.join("sink.properties");
    std::fs::write(
        &sink,
        format!(
            "name=out\nconnector.class=FileStreamSink\ntopics=seq\nfile={}\n",
            dir.join("out.txt").display()
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["--log-level", "info", "standalone"])
        .arg(&worker)
        .arg(&source)
        .arg(&sink)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    (Proc(child), format!("http://127.0.0.1:{rest}"))
}

/// GETs `url` until `cond` holds on (status, body); the worker is another process.
async fn wait_for(url: &str, timeout: Duration, cond: impl Fn(u16, &Value) -> bool) -> Value {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = http.get(url).send().await {
            let code = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if cond(code, &body) {
                return body;
            }
        }
        assert!(Instant::now() < deadline, "{url}: condition not met");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn error_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("ERROR"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn unreachable_brokers_are_told_once_and_shown_in_health_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    let closed = free_port();
    let (_worker, url) = standalone(
        dir.path(),
        &format!("bootstrap.servers=127.0.0.1:{closed}\n"),
        &log,
    );
    let health = wait_for(&format!("{url}/health"), Duration::from_secs(30), |c, _| {
        c == 503
    })
    .await;
    let message = health["message"].as_str().unwrap();
    assert_eq!(health["status"], "unhealthy");
    assert!(
        message.contains(&format!("bootstrap.servers=127.0.0.1:{closed}")),
        "{message}"
    );

    // Both tasks keep retrying (RUNNING) and say why they move nothing.
    for connector in ["seq", "out"] {
        let status = wait_for(
            &format!("{url}/connectors/{connector}/status"),
            Duration::from_secs(30),
            |c, b| c == 200 && b["tasks"][0]["state"] == "RUNNING",
        )
        .await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
        assert!(
            trace.contains("cannot reach Kafka"),
            "{connector}: {status}"
        );
    }

    // librdkafka retries every second or so; without the fix each retry of each client logged
    // an ERROR. Let a few retries happen, then count: the outage is told exactly once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let errors = error_lines(&log);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(&format!("bootstrap.servers=127.0.0.1:{closed}")),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn health_recovers_when_the_broker_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    // No bootstrap.servers: the embedded broker, whose faults REST can drive.
    let (_worker, url) = standalone(dir.path(), "", &log);
    wait_for(&format!("{url}/health"), Duration::from_secs(30), |c, _| {
        c == 200
    })
    .await;
    let http = reqwest::Client::new();
    let fire = |fault: &'static str| {
        let http = http.clone();
        let url = format!("{url}/admin/faults");
        async move {
            let r = http
                .post(url)
                .json(&serde_json::json!({ "fault": fault }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{fault}: {}", r.status());
        }
    };
    fire("broker-down").await;
    wait_for(&format!("{url}/health"), Duration::from_secs(30), |c, _| {
        c == 503
    })
    .await;
    fire("broker-up").await;
    wait_for(&format!("{url}/health"), Duration::from_secs(30), |c, _| {
        c == 200
    })
    .await;
    let status = wait_for(
        &format!("{url}/connectors/seq/status"),
        Duration::from_secs(10),
        |c, _| c == 200,
    )
    .await;
    assert!(status["tasks"][0]["trace"].is_null(), "{status}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("Kafka answers again"), "{log}");
}
