//! The example binary as a user runs it: `hello-kconnect standalone` with `.properties` files
//! runs the counting source (a plugin from outside the built-ins) next to a built-in sink, and
//! a second run goes on counting from the offset the first one stored; `hello-kconnect
//! distributed` runs it when it is created over the REST API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hello-kconnect");

/// The running binary, killed if the test ends without stopping it.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(dir: &Path, run: &str, configs: &[&Path]) -> Worker {
        let log = dir.join(format!("{run}.log"));
        let child = Command::new(BIN)
            .arg("standalone")
            .args(configs)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Worker { child, log }
    }

    /// `hello-kconnect distributed <config>`, and the REST URL it prints once it listens.
    fn distributed(dir: &Path, config: &Path) -> (Worker, String) {
        let log = dir.join("distributed.log");
        let mut child = Command::new(BIN)
            .arg("distributed")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let worker = Worker { child, log };
        assert!(
            url.starts_with("http://"),
            "printed {url:?}; log:\n{}",
            worker.log()
        );
        (worker, url.trim().to_string())
    }

    /// SIGTERM, as Ctrl-C or a service manager stops it, and its exit status.
    fn stop(mut self) -> ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: PathBuf, body: &str) -> PathBuf {
    std::fs::write(&path, body).unwrap();
    path
}

/// The lines of `file` (written by the worker process) once there are `n`, or a panic with the
/// worker's log after a minute.
fn wait_lines(worker: &Worker, file: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        // Whole lines only: the sink may be mid-write.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let lines: Vec<String> = complete.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} lines in {}; worker log:\n{}",
            lines.len(),
            file.display(),
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn numbers(from: i64, to: i64) -> Vec<String> {
    (from..=to).map(|n| n.to_string()).collect()
}

#[test]
fn counting_source_runs_through_standalone_and_resumes_from_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No bootstrap.servers: the embedded broker, gone with the process. The offsets file stays.
    let worker = write(
        d.join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\n\
             offset.flush.interval.ms=100\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            d.join("connect.offsets").display()
        ),
    );
    let source = |count_to: u32| {
        write(
            d.join("counting-source.properties"),
            &format!("name=hello-counter\nconnector.class=CountingSource\ntopic=hello\ncount.to={count_to}\n"),
        )
    };
    let sink = |file: &Path| {
        write(
            d.join("file-sink.properties"),
            &format!(
                "name=hello-file\nconnector.class=FileStreamSink\ntopics=hello\nfile={}\n",
                file.display()
            ),
        )
    };

    // First run: every number, in order, through Kafka to the file sink.
    let out1 = d.join("out1.txt");
    let run1 = Worker::start(d, "run1", &[&worker, &source(250), &sink(&out1)]);
    let lines = wait_lines(&run1, &out1, 250);
    assert_eq!(lines, numbers(1, 250), "worker log:\n{}", run1.log());
    assert!(run1.stop().success(), "SIGTERM must exit 0");

    // Second run, on a new embedded broker with an empty topic, counting further: the task
    // starts after the count it committed, so only the new numbers arrive.
    let out2 = d.join("out2.txt");
    let run2 = Worker::start(d, "run2", &[&worker, &source(300), &sink(&out2)]);
    let lines = wait_lines(&run2, &out2, 50);
    assert_eq!(lines, numbers(251, 300), "worker log:\n{}", run2.log());
    assert!(run2.stop().success(), "SIGTERM must exit 0");
}

/// Distributed mode runs the registry `run_with` was given too: the REST API lists the counting
/// source, validates its keys against its `ConfigDef`, and creates and runs it.
#[tokio::test(flavor = "multi_thread")]
async fn counting_source_runs_in_a_distributed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No bootstrap.servers: the worker's own embedded broker; a short session so that each
    // rebalance ends quickly.
    let config = write(
        d.join("worker.properties"),
        "listeners=http://127.0.0.1:0\ngroup.id=hello\nconfig.storage.topic=cfg\n\
         offset.storage.topic=off\nstatus.storage.topic=sts\nsession.timeout.ms=3000\n\
         heartbeat.interval.ms=500\n",
    );
    let (worker, url) = Worker::distributed(d, &config);
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{url}{path}"));
        async move {
            let r = request.send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };

    let plugins = get("/connector-plugins").await;
    let listed: Vec<_> = plugins
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["class"] == hello_connector::CLASS)
        .collect();
    assert_eq!(
        listed,
        [&json!({"class": hello_connector::CLASS, "type": "source", "version": "0.1.0"})]
    );

    // Validation by alias: the connector's own keys, `topic` missing.
    let report: serde_json::Value = http
        .put(format!(
            "{url}/connector-plugins/CountingSource/config/validate"
        ))
        .json(&json!({"name": "counter", "connector.class": "CountingSource", "count.to": "5"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["name"], hello_connector::CLASS);
    assert_eq!(report["error_count"], 1, "{report}");
    let topic = report["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "topic")
        .unwrap();
    assert_eq!(
        topic["value"]["errors"],
        json!(["Missing required configuration \"topic\" which has no default value."])
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let body = json!({"name": "counter", "config": {
        "connector.class": "CountingSource", "topic": "hello", "count.to": "120"}});
    loop {
        let r = http
            .post(format!("{url}/connectors"))
            .json(&body)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => break,
            // Not joined yet: Connect answers 409 then, and clients retry.
            409 => assert!(
                Instant::now() < deadline,
                "never joined; log:\n{}",
                worker.log()
            ),
            other => panic!("create answered {other}: {}", r.text().await.unwrap()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The connector and its one task run (statuses come from the status topic: polled).
    loop {
        let s = get("/connectors/counter/status").await;
        if s["connector"]["state"] == "RUNNING" && s["tasks"][0]["state"] == "RUNNING" {
            assert_eq!(s["tasks"].as_array().unwrap().len(), 1, "{s}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not RUNNING: {s}; log:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(worker.stop().success(), "SIGTERM must exit 0");
}
