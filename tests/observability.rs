//! What an operator sees of a running `kconnect` process: its `/metrics` and its log. Each test
//! runs the binary, so each has a process of its own (a fresh metrics recorder, the real
//! tracing setup, stderr a pipe as when logs go to a file).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::procs::LoggedProc;
use common::{count_lines, eventually};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

fn write(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, body).unwrap();
    path.to_path_buf()
}

/// `kconnect standalone` on the embedded broker with the given connector configs (`$DIR` is
/// the test's directory), logging at `info` to a pipe; with `NO_COLOR` set or unset.
fn standalone(dir: &Path, connectors: &[&str], no_color: bool) -> LoggedProc {
    let worker = write(
        &dir.join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\noffset.flush.interval.ms=100\n",
            dir.join("offsets").display()
        ),
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("standalone").arg(worker);
    for (i, c) in connectors.iter().enumerate() {
        let body = c.replace("$DIR", dir.to_str().unwrap());
        cmd.arg(write(&dir.join(format!("c{i}.properties")), &body));
    }
    cmd.env("RUST_LOG", "info");
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        // Colours must then depend on stderr alone, not on a NO_COLOR the test runner set.
        cmd.env_remove("NO_COLOR");
    }
    LoggedProc::spawn(cmd)
}

const FILE_SOURCE: &str = "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile=$DIR/in.txt\n";
const FILE_SINK: &str = "name=snk\nconnector.class=FileStreamSink\ntopics=t\nfile=$DIR/out.txt\n";

/// A file source → file sink pipeline loaded from config files, run until its three lines
/// arrived. Returns the process and its REST address.
async fn file_pipeline(dir: &Path, no_color: bool) -> (LoggedProc, String) {
    std::fs::write(dir.join("in.txt"), "a\nb\nc\n").unwrap();
    let p = standalone(dir, &[FILE_SOURCE, FILE_SINK], no_color);
    let running = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("kconnect standalone running")
    });
    let addr = running
        .split("rest=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the running line names the REST address")
        .to_string();
    let out = dir.join("out.txt");
    assert!(
        eventually(Duration::from_secs(30), || count_lines(&out) == 3).await,
        "the sink wrote {} of 3 lines; log:\n{}",
        count_lines(&out),
        p.lines().join("\n")
    );
    (p, addr)
}

async fn get_metrics(addr: &str) -> String {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// `/metrics` once the sink task has committed offsets at least once (every 100 ms here): the
/// sink writes its lines before its first commit, so lines in the file do not say that yet.
/// Polled: the metrics are another process's.
async fn metrics_after_a_sink_commit(addr: &str) -> String {
    let name = "kafka_connect_connector_task_metrics_offset_commit_time_seconds_count";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = get_metrics(addr).await;
        let committed = sample(&text, name, &["connector=\"snk\""]).is_some_and(|n| n >= 1.0);
        if committed || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the first sample of `name` whose labels include all of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn connectors_loaded_from_files_have_task_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, addr) = file_pipeline(dir.path(), true).await;
    let text = get_metrics(&addr).await;
    let src = ["connector=\"src\"", "task=\"0\""];
    let snk = ["connector=\"snk\"", "task=\"0\""];
    for (name, labels) in [
        (
            "kafka_connect_source_task_metrics_source_record_poll_total",
            src,
        ),
        (
            "kafka_connect_source_task_metrics_source_record_write_total",
            src,
        ),
        (
            "kafka_connect_sink_task_metrics_sink_record_read_total",
            snk,
        ),
        (
            "kafka_connect_sink_task_metrics_sink_record_send_total",
            snk,
        ),
    ] {
        let v = sample(&text, name, &labels);
        assert!(
            v.is_some_and(|v| v >= 3.0),
            "{name} {labels:?} = {v:?}, expected >= 3; metrics:\n{text}"
        );
    }
    assert!(p.terminate(Duration::from_secs(30)).success());
}

#[tokio::test]
async fn metrics_follow_prometheus_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, addr) = file_pipeline(dir.path(), true).await;
    let text = metrics_after_a_sink_commit(&addr).await;
    assert!(p.terminate(Duration::from_secs(30)).success());

    // name → TYPE, and the names with a HELP line.
    let mut types = std::collections::BTreeMap::new();
    let mut helps = std::collections::BTreeSet::new();
    for l in text.lines() {
        let mut words = l.split(' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("#"), Some("TYPE"), Some(name), Some(kind)) => {
                types.insert(name.to_string(), kind.to_string());
            }
            (Some("#"), Some("HELP"), Some(name), Some(_)) => {
                helps.insert(name.to_string());
            }
            _ => {}
        }
    }
    assert!(!types.is_empty(), "{text}");
    // Every sample belongs to a family with HELP and TYPE.
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = l.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE for {family}:\n{text}");
        assert!(helps.contains(family), "no HELP for {family}:\n{text}");
    }
    for (name, kind) in &types {
        assert!(
            !name.contains("_ms"),
            "{name}: base units (seconds), not milliseconds"
        );
        assert_ne!(
            kind, "summary",
            "{name}: histograms, not quantile summaries"
        );
        if kind == "counter" {
            assert!(name.ends_with("_total"), "counter {name} lacks _total");
        }
    }
    // Durations are histograms in seconds, with buckets, for the task that did the work.
    for (name, connector) in [
        (
            "kafka_connect_sink_task_metrics_put_batch_time_seconds",
            "snk",
        ),
        (
            "kafka_connect_source_task_metrics_poll_batch_time_seconds",
            "src",
        ),
        (
            "kafka_connect_connector_task_metrics_offset_commit_time_seconds",
            "snk",
        ),
        (
            "kafka_connect_connector_task_metrics_batch_size_records",
            "src",
        ),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some("histogram"),
            "{name}"
        );
        let label = format!("connector=\"{connector}\"");
        assert!(
            sample(&text, &format!("{name}_count"), &[&label]).is_some_and(|n| n >= 1.0),
            "{name} has no observation for {connector}:\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}_bucket{{")) && l.contains(&label)),
            "{name} has no buckets:\n{text}"
        );
    }
    // A task registers series under its own kind's names only.
    for l in text.lines() {
        assert!(
            !(l.starts_with("kafka_connect_sink_task_metrics_") && l.contains("connector=\"src\"")),
            "a source task under a sink name: {l}"
        );
        assert!(
            !(l.starts_with("kafka_connect_source_task_metrics_")
                && l.contains("connector=\"snk\"")),
            "a sink task under a source name: {l}"
        );
    }
}

/// `kconnect distributed` alone on its embedded broker, logging at `info` to a pipe, once it
/// received its first assignment. Returns the process and its REST URL.
fn distributed(dir: &Path) -> (LoggedProc, String) {
    let config = write(
        &dir.join("worker.properties"),
        "listeners=http://127.0.0.1:0\ngroup.id=alone\nconfig.storage.topic=cfg\n\
         offset.storage.topic=off\nstatus.storage.topic=sts\nsession.timeout.ms=3000\n\
         heartbeat.interval.ms=500\n",
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("distributed")
        .arg(config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let p = LoggedProc::spawn(cmd);
    let running = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("kconnect distributed worker running")
    });
    let url = running
        .split("rest=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the running line names the REST URL")
        .to_string();
    p.wait_line(Duration::from_secs(30), |l| {
        l.contains("assignment received")
    });
    (p, url)
}

#[tokio::test]
async fn a_distributed_worker_counts_its_rebalances() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, url) = distributed(dir.path());
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let n = sample(
        &text,
        "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total",
        &[],
    );
    assert!(n.is_some_and(|n| n >= 1.0), "rebalances: {n:?}\n{text}");
    assert!(p.terminate(Duration::from_secs(30)).success());
}

/// Whether `line` is one formatted event: an RFC 3339 timestamp, then a level.
fn is_event_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let stamp = words.next().unwrap_or("");
    let level = words.next().unwrap_or("");
    stamp.len() >= 20
        && stamp.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && stamp.as_bytes()[10] == b'T'
        && ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level)
}

#[tokio::test]
async fn logs_to_a_pipe_are_plain_lines_naming_connector_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, _) = file_pipeline(dir.path(), false).await;
    assert!(p.terminate(Duration::from_secs(30)).success());
    let lines = p.lines();
    let log = lines.join("\n");
    assert!(
        !log.contains('\x1b'),
        "colour codes in a piped log:\n{log:?}"
    );
    assert!(
        !log.contains("Actor{"),
        "actor ids instead of names:\n{log}"
    );
    for l in &lines {
        assert!(is_event_line(l), "not one formatted event per line: {l:?}");
    }
    let started = lines
        .iter()
        .find(|l| l.contains("source task started"))
        .expect("the source task logs its start");
    assert!(
        started.contains("connector=src") && started.contains("task=0"),
        "{started}"
    );
    assert!(
        !log.contains("AllBrokersDown") && !log.contains("brokers are down"),
        "a clean stop on the embedded broker logged brokers down:\n{log}"
    );
}

#[tokio::test]
async fn a_task_that_fails_for_good_logs_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    // Two panics: one restart, then FAILED. RUST_BACKTRACE makes the panics' backtraces part of
    // the log, which must still be one line per event.
    let source = "name=vs\nconnector.class=VerifiableSource\ntopic=v\nthroughput=1000\n\
                  faults.task.panic.after.records=5\ntask.restart.max.restarts=1\n\
                  task.restart.backoff.initial.ms=10\n";
    let worker = write(
        &dir.path().join("worker.properties"),
        &format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\n",
            dir.path().join("offsets").display()
        ),
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("standalone")
        .arg(worker)
        .arg(write(&dir.path().join("vs.properties"), source))
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "1");
    let mut p = LoggedProc::spawn(cmd);
    p.wait_line(Duration::from_secs(30), |l| l.contains("FAILED"));
    assert!(p.terminate(Duration::from_secs(30)).success());
    let lines = p.lines();
    let log = lines.join("\n");
    for l in &lines {
        assert!(is_event_line(l), "not one formatted event per line: {l:?}");
    }
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "one ERROR line per FAILED task:\n{log}");
    let failed = errors[0];
    assert!(
        failed.contains("FAILED")
            && failed.contains("connector=vs")
            && failed.contains("task=0")
            && failed.contains("injected fault"),
        "{failed}"
    );
    let restarts = lines
        .iter()
        .filter(|l| l.contains(" WARN ") && l.contains("restarting"))
        .count();
    assert_eq!(restarts, 1, "{log}");
}

#[tokio::test]
async fn a_clean_stop_of_a_distributed_worker_on_the_embedded_broker_logs_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, _) = distributed(dir.path());
    assert!(p.terminate(Duration::from_secs(30)).success());
    let log = p.lines().join("\n");
    assert!(
        !log.contains("AllBrokersDown") && !log.contains("brokers are down"),
        "the broker stopped before the clients using it:\n{log}"
    );
    assert!(!log.contains(" ERROR "), "{log}");
    assert!(!log.contains("CONFWARN"), "client config warnings:\n{log}");
}
