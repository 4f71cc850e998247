//! The `kconnect` binary as users run it: stopping it mid-stream (SIGTERM, SIGKILL) and
//! starting it again resumes from the stored offsets without losing a record, and bad config
//! files produce a message naming the file and key, and a non-zero exit.

mod common;

use common::procs::{report, LoggedProc, Proc};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kconnect_connectors::builtin::verifiable::VerifiableReport;
use nix::sys::signal::Signal;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// Starts `kconnect broker` and returns it with the address it printed.
fn start_broker(topics: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("broker");
    for t in topics {
        cmd.args(["--topic", t]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "broker printed {addr:?}");
    (Proc(child), addr)
}

fn write(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, body).unwrap();
    path.to_path_buf()
}

fn standalone(worker: &Path, connectors: &[&Path], log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .arg("standalone")
        .arg(worker)
        .args(connectors)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc(child)
}

/// Polls the sink's output files (written by another process) until `cond` holds.
fn wait_report(
    base: &Path,
    timeout: Duration,
    cond: impl Fn(&VerifiableReport) -> bool,
) -> VerifiableReport {
    let deadline = Instant::now() + timeout;
    loop {
        let r = report(base);
        if cond(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; report so far: received {}",
            r.total_received()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs VerifiableSource → VerifiableSink through a separate broker process, stops the worker
/// with `sig` mid-stream, starts it again and counts every record.
fn stop_and_resume(sig: Signal) -> (VerifiableReport, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, addr) = start_broker(&["seq:1"]);
    const TOTAL: u64 = 20_000;
    let offsets = dir.path().join("connect.offsets");
    let sink_base = dir.path().join("sink.out");
    let worker = write(
        &dir.path().join("worker.properties"),
        &format!(
            "bootstrap.servers={addr}\nlisteners=http://127.0.0.1:0\noffset.storage.file.filename={}\noffset.flush.interval.ms=300\n",
            offsets.display()
        ),
    );
    let source = write(
        &dir.path().join("source.properties"),
        &format!("name=seq-source\nconnector.class=VerifiableSource\ntasks.max=1\ntopic=seq\nthroughput=4000\nmax.messages={TOTAL}\n"),
    );
    let sink = write(
        &dir.path().join("sink.properties"),
        &format!("name=seq-sink\nconnector.class=VerifiableSink\ntasks.max=1\ntopics=seq\nverifiable.sink.file={}\n", sink_base.display()),
    );
    let mut run1 = standalone(&worker, &[&source, &sink], &dir.path().join("run1.log"));
    // Mid-stream: some records through, most still to come.
    wait_report(&sink_base, Duration::from_secs(60), |r| {
        r.total_received() >= 3_000
    });
    run1.signal(sig);
    let status = run1.wait_exit(Duration::from_secs(30));
    if sig == Signal::SIGTERM {
        assert!(
            status.success(),
            "SIGTERM must stop cleanly with exit 0, got {status:?}"
        );
    }
    let before = report(&sink_base).total_received();
    assert!(before < TOTAL, "stopped too late to test a resume");
    let _run2 = standalone(&worker, &[&source, &sink], &dir.path().join("run2.log"));
    let expected: BTreeMap<u32, u64> = [(0, TOTAL)].into();
    let r = wait_report(&sink_base, Duration::from_secs(90), |r| {
        r.total_lost(&expected) == 0
    });
    (r, before)
}

#[test]
fn sigterm_mid_stream_then_restart_loses_and_duplicates_nothing() {
    let (r, before) = stop_and_resume(Signal::SIGTERM);
    eprintln!(
        "SIGTERM after {before} records: {} received, {} duplicates",
        r.total_received(),
        r.total_duplicates()
    );
    assert_eq!(r.task(0).unwrap().beyond(20_000), 0);
    // A clean stop commits exactly what was written: nothing is sent twice.
    assert_eq!(r.total_duplicates(), 0);
}

#[test]
fn sigkill_mid_stream_then_restart_loses_nothing() {
    let (r, before) = stop_and_resume(Signal::SIGKILL);
    eprintln!(
        "SIGKILL after {before} records: {} received, {} duplicates",
        r.total_received(),
        r.total_duplicates()
    );
    assert_eq!(r.task(0).unwrap().beyond(20_000), 0);
}

/// Runs `kconnect standalone` on files and expects a quick failure; returns its stderr.
fn expect_config_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, body)| {
            let body = body.replace("$DIR", dir.path().to_str().unwrap());
            write(&dir.path().join(name), &body)
        })
        .collect();
    let out = Command::new(BIN)
        .arg("standalone")
        .args(&paths)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    stderr
}

const WORKER: &str = "listeners=http://127.0.0.1:0\noffset.storage.file.filename=$DIR/offsets\n";

#[test]
fn a_missing_config_file_is_named() {
    let out = Command::new(BIN)
        .args([
            "standalone",
            "/nonexistent/worker.properties",
            "/nonexistent/c.properties",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("/nonexistent/worker.properties") && stderr.contains("No such file"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_connector_class_lists_the_known_ones() {
    let e = expect_config_error(&[
        ("worker.properties", WORKER),
        (
            "c.properties",
            "name=x\nconnector.class=com.example.NoSuchConnector\ntopic=t\n",
        ),
    ]);
    assert!(e.contains("c.properties"), "{e}");
    assert!(e.contains("com.example.NoSuchConnector"), "{e}");
    assert!(
        e.contains("org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{e}"
    );
}

#[test]
fn a_missing_required_key_is_named() {
    let e = expect_config_error(&[
        ("worker.properties", WORKER),
        (
            "c.properties",
            "name=x\nconnector.class=FileStreamSource\nfile=/tmp/in\n",
        ),
    ]);
    assert!(e.contains("c.properties") && e.contains("\"topic\""), "{e}");
}

#[test]
fn a_bad_value_is_named() {
    let e = expect_config_error(&[
        ("worker.properties", WORKER),
        (
            "c.properties",
            "name=x\nconnector.class=FileStreamSource\ntopic=t\ntasks.max=many\n",
        ),
    ]);
    assert!(
        e.contains("c.properties") && e.contains("tasks.max") && e.contains("many"),
        "{e}"
    );
    let e = expect_config_error(&[
        (
            "worker.properties",
            "offset.storage.file.filename=$DIR/o\noffset.flush.interval.ms=soon\n",
        ),
        (
            "c.properties",
            "name=x\nconnector.class=FileStreamSource\ntopic=t\n",
        ),
    ]);
    assert!(
        e.contains("worker.properties") && e.contains("offset.flush.interval.ms"),
        "{e}"
    );
}

#[test]
fn a_duplicate_connector_name_names_both_files() {
    let c = "name=same\nconnector.class=FileStreamSource\ntopic=t\nfile=/tmp/x\n";
    let e = expect_config_error(&[
        ("worker.properties", WORKER),
        ("a.properties", c),
        ("b.properties", c),
    ]);
    assert!(
        e.contains("a.properties") && e.contains("b.properties") && e.contains("same"),
        "{e}"
    );
}

#[test]
fn a_standalone_worker_without_an_offset_file_is_refused() {
    let e = expect_config_error(&[
        ("worker.properties", "offset.flush.interval.ms=1000\n"),
        (
            "c.properties",
            "name=x\nconnector.class=FileStreamSource\ntopic=t\n",
        ),
    ]);
    assert!(
        e.contains("worker.properties") && e.contains("offset.storage.file.filename"),
        "{e}"
    );
}

/// Starts `kconnect standalone` and returns it with its REST address (read from its log) and
/// the log lines it writes, collected as they come.
fn standalone_with_log(
    worker: &Path,
    connectors: &[&Path],
) -> (Proc, String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let mut child = Command::new(BIN)
        .arg("standalone")
        .arg(worker)
        .args(connectors)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("rest=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker logs its REST address");
    (Proc(child), addr, lines)
}

#[tokio::test]
async fn log_levels_change_live_through_the_rest_api() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let worker = write(
        &dir.path().join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\noffset.flush.interval.ms=100\n",
            dir.path().join("offsets").display()
        ),
    );
    let source = write(
        &dir.path().join("source.properties"),
        &format!(
            "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
            input.display()
        ),
    );
    let (_worker, addr, lines) = standalone_with_log(&worker, &[&source]);
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/admin/loggers");
    let all: serde_json::Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["root"]["level"], "INFO", "{all}");
    let debug_lines = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("DEBUG") && l.contains("kconnect_actors"))
            .count()
    };
    assert_eq!(debug_lines(), 0);

    let resp = http
        .put(format!("{base}/kconnect_actors"))
        .json(&serde_json::json!({"level": "DEBUG"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    // The namespace and every logger below it that code has logged under (as Connect lists
    // every logger of a namespace it set).
    let set: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(set.contains(&"kconnect_actors"), "{body}");
    assert!(set.contains(&"kconnect_actors::task"), "{body}");
    assert!(
        set.iter().all(|l| l.starts_with("kconnect_actors")),
        "{body}"
    );
    let mut sorted = set.clone();
    sorted.sort();
    assert_eq!(set, sorted);
    let one: serde_json::Value = http
        .get(format!("{base}/kconnect_actors"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["level"], "DEBUG");
    assert!(one["last_modified"].is_u64(), "{one}");
    // A module below it inherits the level.
    let child: serde_json::Value = http
        .get(format!("{base}/kconnect_actors::task"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(child["level"], "DEBUG");

    // New data makes the committer commit, which it logs at DEBUG: now visible.
    std::fs::write(&input, "a\nb\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while debug_lines() == 0 {
        assert!(
            Instant::now() < deadline,
            "no DEBUG line after the level change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bad = http
        .put(format!("{base}/kconnect_actors"))
        .json(&serde_json::json!({"level": "LOUD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// Connect's own JSON connector files, `{"name": …, "config": {…}}` as `connect-standalone`
/// takes them since Kafka 3.7, run as they are: a line written to the source's file reaches the
/// sink's file.
#[tokio::test]
async fn connectors_run_from_connect_json_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "first\nsecond\n").unwrap();
    let worker = write(
        &dir.path().join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\noffset.flush.interval.ms=100\n",
            dir.path().join("offsets").display()
        ),
    );
    let source = write(
        &dir.path().join("source.json"),
        &serde_json::json!({
            "name": "json-source",
            "config": {
                "connector.class": "FileStreamSource",
                "tasks.max": "1",
                "file": input,
                "topic": "json-test"
            }
        })
        .to_string(),
    );
    let sink = write(
        &dir.path().join("sink.json"),
        &serde_json::json!({
            "name": "json-sink",
            "config": {
                "name": "json-sink",
                "connector.class": "FileStreamSink",
                "file": output,
                "topics": "json-test"
            }
        })
        .to_string(),
    );
    let (_worker, _addr, _lines) = standalone_with_log(&worker, &[&source, &sink]);
    let arrived = common::eventually(Duration::from_secs(60), || {
        common::read_lines(&output) == ["first", "second"]
    })
    .await;
    assert!(arrived, "the sink wrote {:?}", common::read_lines(&output));
}

/// A `bootstrap.server` typo as users meet it: the binary logs one warning for it, naming the
/// file, the key, the key meant and the embedded broker it runs on instead.
#[test]
fn a_bootstrap_server_typo_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let worker = write(
        &dir.path().join("worker.properties"),
        &format!(
            "bootstrap.server=broker.example.com:9092\nlisteners=http://127.0.0.1:0\noffset.storage.file.filename={}\n",
            dir.path().join("offsets").display()
        ),
    );
    let source = write(
        &dir.path().join("source.properties"),
        &format!(
            "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
            dir.path().join("in.txt").display()
        ),
    );
    // Start-up warnings precede the REST address line, so they are all in by the time it is.
    let (_worker, _addr, lines) = standalone_with_log(&worker, &[&source]);
    let warnings: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("unknown key"))
        .cloned()
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = &warnings[0];
    assert!(
        w.contains(&worker.display().to_string())
            && w.contains("bootstrap.server ")
            && w.contains("bootstrap.servers is unset")
            && w.contains("embedded"),
        "{w}"
    );
}

/// Spawns `kconnect ARGS…` with an INFO log collected line by line.
fn logged(args: &[&std::ffi::OsStr]) -> LoggedProc {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("RUST_LOG", "info").env("NO_COLOR", "1");
    LoggedProc::spawn(cmd)
}

/// The REST base URL a worker logs in its "running" line (`rest=host:port` or a URL).
fn rest_url(p: &LoggedProc) -> String {
    let line = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("running") && l.contains("rest=")
    });
    let addr = line
        .split("rest=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    if addr.contains("://") {
        addr
    } else {
        format!("http://{addr}")
    }
}

async fn post_connector(url: &str, name: &str, config: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/connectors"))
        .json(&serde_json::json!({ "name": name, "config": config }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(status, 201, "{}", resp.text().await.unwrap());
}

async fn task_status(url: &str, connector: &str) -> serde_json::Value {
    let status: serde_json::Value = reqwest::get(format!("{url}/connectors/{connector}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["tasks"][0].clone()
}

fn worker_props(dir: &Path, extra: &str) -> PathBuf {
    write(
        &dir.join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\n\
             offset.flush.interval.ms=100\n{extra}",
            dir.join("offsets").display()
        ),
    )
}

/// `kconnect standalone WORKER_CONFIG` alone, as connect-standalone allows since Kafka 3.x: the
/// worker starts with no connector and takes them over its REST API.
#[tokio::test]
async fn a_standalone_worker_without_connector_files_takes_connectors_over_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "first\nsecond\n").unwrap();
    let worker = worker_props(dir.path(), "");
    let p = logged(&["standalone".as_ref(), worker.as_os_str()]);
    let url = rest_url(&p);
    let listed: serde_json::Value = reqwest::get(format!("{url}/connectors"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    post_connector(
        &url,
        "src",
        serde_json::json!({"connector.class": "FileStreamSource", "file": input, "topic": "t"}),
    )
    .await;
    post_connector(
        &url,
        "sink",
        serde_json::json!({"connector.class": "FileStreamSink", "file": output, "topics": "t"}),
    )
    .await;
    let arrived = common::eventually(Duration::from_secs(60), || {
        common::read_lines(&output) == ["first", "second"]
    })
    .await;
    assert!(arrived, "the sink wrote {:?}", common::read_lines(&output));
}

/// A sink whose topic does not exist yet (a `kconnect broker` in another process creates none
/// for it): one WARN naming the topic and the connector, the task RUNNING with that as its
/// trace; once records are written to the topic they arrive and the trace goes.
#[tokio::test]
async fn a_sink_says_once_that_its_topic_is_missing_and_consumes_it_once_created() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, addr) = start_broker(&[]);
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let worker = worker_props(dir.path(), &format!("bootstrap.servers={addr}\n"));
    let sink = write(
        &dir.path().join("sink.properties"),
        &format!(
            "name=late-sink\nconnector.class=FileStreamSink\ntopics=late\nfile={}\n",
            output.display()
        ),
    );
    let p = logged(&["standalone".as_ref(), worker.as_os_str(), sink.as_os_str()]);
    let url = rest_url(&p);
    let warning = p.wait_line(Duration::from_secs(30), |l| {
        l.contains(" WARN ") && l.contains("late")
    });
    assert!(
        warning.contains("Topic late does not exist") && warning.contains("late-sink"),
        "{warning}"
    );
    let task = task_status(&url, "late-sink").await;
    assert_eq!(task["state"], "RUNNING", "{task}");
    let trace = task["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("Topic late does not exist"), "{task}");

    // A source writing to the topic creates it (the broker's auto-creation).
    post_connector(
        &url,
        "src",
        serde_json::json!({"connector.class": "FileStreamSource", "file": input, "topic": "late"}),
    )
    .await;
    // The auto-created topic has several partitions: the lines may come in either order.
    let arrived = common::eventually(Duration::from_secs(60), || {
        let mut lines = common::read_lines(&output);
        lines.sort();
        lines == ["one", "two"]
    })
    .await;
    assert!(arrived, "the sink wrote {:?}", common::read_lines(&output));
    let task = task_status(&url, "late-sink").await;
    assert_eq!(task["state"], "RUNNING", "{task}");
    assert!(task["trace"].is_null(), "{task}");
    p.wait_line(Duration::from_secs(5), |l| {
        l.contains("topic late now exists")
    });
    let warnings = p
        .lines()
        .into_iter()
        .filter(|l| l.contains(" WARN ") && l.contains("late"))
        .count();
    assert_eq!(warnings, 1, "{:#?}", p.lines());
}

/// WARN, ERROR and librdkafka CONFWARN lines in a log, but for the embedded broker's notice
/// that it keeps data in memory only (a warning by design: that is a real risk to the data).
fn warnings(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("CONFWARN"))
        .filter(|l| !l.contains("embedded broker started"))
        .cloned()
        .collect()
}

/// A default standalone worker with one FileStreamSource and one FileStreamSink logs no
/// warning on its way to moving a record: any warning a default config produces is noise.
#[tokio::test]
async fn a_default_standalone_worker_starts_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "hello\n").unwrap();
    let worker = worker_props(dir.path(), "");
    let source = write(
        &dir.path().join("source.properties"),
        &format!(
            "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
            input.display()
        ),
    );
    let sink = write(
        &dir.path().join("sink.properties"),
        &format!(
            "name=sink\nconnector.class=FileStreamSink\ntopics=t\nfile={}\n",
            output.display()
        ),
    );
    let mut p = logged(&[
        "standalone".as_ref(),
        worker.as_os_str(),
        source.as_os_str(),
        sink.as_os_str(),
    ]);
    let arrived = common::eventually(Duration::from_secs(60), || {
        common::read_lines(&output) == ["hello"]
    })
    .await;
    assert!(arrived, "the sink wrote {:?}", common::read_lines(&output));
    let lines = p.lines();
    assert_eq!(warnings(&lines), Vec::<String>::new(), "{lines:#?}");
    assert!(p.terminate(Duration::from_secs(30)).success());
}

/// The same for a default distributed worker (the connectors created over REST): its three
/// internal topics' clients used to print librdkafka's CONFWARN about consumer settings given
/// to a producer, three times per worker.
#[tokio::test]
async fn a_default_distributed_worker_starts_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "hello\n").unwrap();
    let worker = write(
        &dir.path().join("worker.properties"),
        "listeners=http://127.0.0.1:0\ngroup.id=quiet\nconfig.storage.topic=cfg\n\
         offset.storage.topic=off\nstatus.storage.topic=sts\noffset.flush.interval.ms=100\n",
    );
    let mut p = logged(&["distributed".as_ref(), worker.as_os_str()]);
    let url = rest_url(&p);
    post_connector(
        &url,
        "src",
        serde_json::json!({"connector.class": "FileStreamSource", "file": input, "topic": "t"}),
    )
    .await;
    post_connector(
        &url,
        "sink",
        serde_json::json!({"connector.class": "FileStreamSink", "file": output, "topics": "t"}),
    )
    .await;
    let arrived = common::eventually(Duration::from_secs(90), || {
        common::read_lines(&output) == ["hello"]
    })
    .await;
    assert!(arrived, "the sink wrote {:?}", common::read_lines(&output));
    let lines = p.lines();
    assert_eq!(warnings(&lines), Vec::<String>::new(), "{lines:#?}");
    assert!(p.terminate(Duration::from_secs(30)).success());
}
