//! Helpers for the integration tests: an in-process worker on the embedded broker, files, and
//! waiting for effects outside the process's event streams (files on disk).

#![allow(dead_code)]

pub mod eos;
pub mod java_connect;
pub mod kafka;
pub mod pipeline_cases;
pub mod plugins;
pub mod postgres;
pub mod procs;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kconnect::embedded_broker::EmbeddedBroker;
use kconnect_actors::config::WorkerConfig;
use kconnect_actors::status::StatusStore;
use kconnect_actors::Worker;
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;

pub fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The broker a test runs on: an embedded broker of its own, or the shared real Kafka broker.
pub enum TestBroker {
    Embedded(Arc<EmbeddedBroker>),
    /// Bootstrap servers of the real broker (`KCONNECT_TEST_KAFKA`).
    Real(String),
}

impl TestBroker {
    pub fn embedded() -> TestBroker {
        TestBroker::Embedded(Arc::new(EmbeddedBroker::start().expect("embedded broker")))
    }

    /// The real broker, or `None` after saying SKIPPED (a failure under `CI=true`).
    pub fn real() -> Option<TestBroker> {
        kafka::real_kafka().map(TestBroker::Real)
    }

    /// A topic or connector name. An embedded broker belongs to one test, so `base` is unique
    /// there; the real broker is shared by every test and outlives runs, so names get a unique
    /// suffix (a connector name is also its sink's consumer group).
    pub fn name(&self, base: &str) -> String {
        match self {
            TestBroker::Embedded(_) => base.to_string(),
            TestBroker::Real(_) => kafka::unique_name(base),
        }
    }

    pub fn bootstrap_servers(&self) -> String {
        match self {
            TestBroker::Embedded(b) => b.bootstrap_servers().to_string(),
            TestBroker::Real(b) => b.clone(),
        }
    }

    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        match self {
            TestBroker::Embedded(b) => b.create_topic(topic, partitions).unwrap(),
            TestBroker::Real(b) => kafka::create_topic(b, topic, partitions).await,
        }
    }

    /// The embedded broker, for tests that inject faults through the mock cluster's API.
    pub fn mock(&self) -> &EmbeddedBroker {
        match self {
            TestBroker::Embedded(b) => b,
            TestBroker::Real(_) => panic!("this test injects faults only the embedded broker has"),
        }
    }
}

/// An in-process standalone worker.
pub struct TestWorker {
    pub worker: Worker,
    pub broker: TestBroker,
    pub dir: tempfile::TempDir,
}

impl TestWorker {
    /// A worker on an embedded broker of its own.
    pub async fn start(extra: &[(&str, &str)], plugins: PluginRegistry) -> TestWorker {
        Self::start_on(TestBroker::embedded(), extra, plugins).await
    }

    pub async fn start_on(
        broker: TestBroker,
        extra: &[(&str, &str)],
        plugins: PluginRegistry,
    ) -> TestWorker {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let offsets = dir.path().join("connect.offsets");
        let bootstrap = broker.bootstrap_servers();
        let mut p = props(&[
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("offset.flush.interval.ms", "200"),
            ("bootstrap.servers", &bootstrap),
        ]);
        p.extend(props(extra));
        let config = WorkerConfig::parse(p).expect("worker config");
        let embedded = match &broker {
            TestBroker::Embedded(b) => Some(b.clone()),
            TestBroker::Real(_) => None,
        };
        let worker = kconnect::standalone::start_worker(
            config,
            embedded,
            Arc::new(plugins),
            "127.0.0.1:8083".into(),
        )
        .await
        .expect("worker");
        TestWorker {
            worker,
            broker,
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn status(&self) -> &StatusStore {
        &self.worker.context().status
    }

    /// Waits until every task of `connector` (at least `tasks` of them) is RUNNING.
    pub async fn wait_running(&self, connector: &str, tasks: usize) {
        let ok = self
            .status()
            .wait_running(connector, tasks, Duration::from_secs(30))
            .await;
        assert!(
            ok,
            "{connector} not running: {:?}",
            self.status().get(connector)
        );
    }
}

/// Logs to the test's captured output, filtered by RUST_LOG (default: warnings).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Polls `cond` until it holds or `timeout` passes. Only for effects that have no event to
/// await, such as a file another component writes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// Writes `n` numbered lines (`line-0000000` …).
pub fn write_numbered_lines(path: &Path, n: usize) -> Vec<String> {
    let lines: Vec<String> = (0..n).map(|i| format!("line-{i:07}")).collect();
    let mut body = lines.join("\n");
    body.push('\n');
    std::fs::write(path, body).unwrap();
    lines
}

/// Checks that `output` holds every input line, first occurrences in input order, and returns
/// how many duplicate lines it holds and the smallest input index that was duplicated.
pub fn check_complete_in_order(input: &[String], output: &[String]) -> (usize, Option<usize>) {
    let index: std::collections::HashMap<&str, usize> = input
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut seen = vec![0u32; input.len()];
    let mut next_new = 0usize;
    let mut dups = 0;
    let mut first_dup = None;
    for l in output {
        let i = *index
            .get(l.as_str())
            .unwrap_or_else(|| panic!("unexpected line {l:?}"));
        if seen[i] == 0 {
            assert_eq!(i, next_new, "line {l:?} arrived out of order");
            next_new += 1;
        } else {
            dups += 1;
            first_dup = Some(first_dup.map_or(i, |f: usize| f.min(i)));
        }
        seen[i] += 1;
    }
    let missing: Vec<usize> = (0..input.len()).filter(|i| seen[*i] == 0).take(5).collect();
    assert!(
        missing.is_empty(),
        "lost lines, first at indexes {missing:?}"
    );
    (dups, first_dup)
}

/// A standalone worker with its REST API on a free loopback port, offsets in `dir`, no
/// connectors; `extra` adds worker keys.
pub async fn standalone_worker(
    dir: &Path,
    extra: &[(&str, &str)],
) -> kconnect::standalone::Standalone {
    init_tracing();
    let mut p = props(&[
        ("listeners", "http://127.0.0.1:0"),
        (
            "offset.storage.file.filename",
            dir.join("offsets").to_str().unwrap(),
        ),
    ]);
    p.extend(props(extra));
    let config = kconnect::standalone::StandaloneConfig {
        worker_file: PathBuf::from("worker.properties"),
        worker: WorkerConfig::parse(p).unwrap(),
        connectors: Vec::new(),
        plugins: std::sync::Arc::new(kconnect_connectors::registry::PluginRegistry::builtin()),
    };
    kconnect::standalone::Standalone::start(config, None)
        .await
        .unwrap()
}
