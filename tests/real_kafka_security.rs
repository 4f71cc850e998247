//! kconnect against a real Apache Kafka listener that asks for SASL/SCRAM or TLS: a standalone
//! worker moves records source → sink over SCRAM, a distributed worker joins its group and runs
//! a connector over SCRAM and over TLS, and refused credentials or an untrusted certificate end
//! the worker at once with an error naming the setting.
//!
//! The shared test broker is plain, so this test starts a broker of its own
//! (`tests/kafka/start-kafka.sh start --secure`) and stops it when done. It runs where the
//! other real-Kafka tests run (`KCONNECT_TEST_KAFKA` set, or CI=true) and says SKIPPED
//! otherwise. One broker serves every scenario, one after another: a second broker would
//! double the test's time.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kafka::{partition_count, record_count, unique_name, RunDir, SecureBroker};
use common::procs::Proc;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// Java-client security keys for SCRAM-SHA-512, each with `prefix` (Connect's workers need
/// them at the top level for their own clients and with `producer.` / `consumer.` for their
/// tasks').
fn scram_keys(prefix: &str, user: &str, password: &str) -> String {
    format!(
        "{prefix}security.protocol=SASL_PLAINTEXT\n{prefix}sasl.mechanism=SCRAM-SHA-512\n\
         {prefix}sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
         required username=\"{user}\" password=\"{password}\";\n"
    )
}

fn tls_keys(prefix: &str, ca: &Path) -> String {
    format!(
        "{prefix}security.protocol=SSL\n{prefix}ssl.truststore.type=PEM\n\
         {prefix}ssl.truststore.location={}\n",
        ca.display()
    )
}

/// `keys` for the worker's own clients and for its tasks' producers and consumers.
fn every_client(keys: impl Fn(&str) -> String) -> String {
    ["", "producer.", "consumer."].map(keys).concat()
}

fn write(path: PathBuf, body: &str) -> PathBuf {
    std::fs::write(&path, body).unwrap();
    path
}

fn poll_until(timeout: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    while let Err(state) = check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Source FileStreamSource → topic (created over SCRAM as its topic.creation keys say) →
/// FileStreamSink, every client of a standalone worker logging in with SCRAM-SHA-512.
fn standalone_over_scram(broker: &SecureBroker, run: &RunDir) {
    const LINES: usize = 2_000;
    let topic = unique_name("scram-standalone");
    let input = run.join("in.txt");
    let output = run.join("out.txt");
    let lines = common::write_numbered_lines(&input, LINES);
    let worker = write(
        run.join("standalone.properties"),
        &format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=500\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n{}",
            broker.sasl,
            run.join("connect.offsets").display(),
            every_client(|p| scram_keys(p, &broker.user, &broker.password)),
        ),
    );
    let source = write(
        run.join("source.properties"),
        &format!(
            "name={topic}-source\nconnector.class=FileStreamSource\nfile={}\ntopic={topic}\n\
             topic.creation.default.partitions=2\ntopic.creation.default.replication.factor=1\n",
            input.display()
        ),
    );
    let sink = write(
        run.join("sink.properties"),
        &format!(
            "name={topic}-sink\nconnector.class=FileStreamSink\nfile={}\ntopics={topic}\n",
            output.display()
        ),
    );
    let log = run.join("standalone.log");
    let mut w = Proc(
        Command::new(BIN)
            .args(["--log-level", "info", "standalone"])
            .args([&worker, &source, &sink])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    poll_until(
        Duration::from_secs(90),
        &format!("{LINES} lines in the sink's file; log {}", log.display()),
        || {
            if let Some(status) = w.0.try_wait().unwrap() {
                panic!("the worker exited ({status}); log {}", log.display());
            }
            let n = common::count_lines(&output);
            (n >= LINES).then_some(()).ok_or(format!("{n} lines"))
        },
    );
    let mut got = common::read_lines(&output);
    got.sort();
    assert_eq!(
        got, lines,
        "the sink's file holds other lines than the source's"
    );
    // Counted on the broker too (through its plain listener): every line once, in the two
    // partitions the source's admin client created over SCRAM.
    assert_eq!(partition_count(&broker.plaintext, &topic), Some(2));
    assert_eq!(record_count(&broker.plaintext, &topic), Ok(LINES as i64));
}

/// Starts `kconnect distributed` and returns it with the REST URL it prints first.
fn spawn_distributed(config: &Path, log: &Path) -> (Proc, Option<String>) {
    let mut child = Command::new(BIN)
        .args(["--log-level", "info", "distributed"])
        .arg(config)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    (Proc(child), (!url.is_empty()).then(|| url.to_string()))
}

fn distributed_config(run: &RunDir, name: &str, bootstrap: &str, security: &str) -> PathBuf {
    let group = unique_name(name);
    write(
        run.join(&format!("{name}.properties")),
        &format!(
            "bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:0\ngroup.id={group}\n\
             config.storage.topic={group}-configs\noffset.storage.topic={group}-offsets\n\
             status.storage.topic={group}-status\noffset.storage.partitions=2\n\
             status.storage.partitions=1\nconfig.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
             offset.flush.interval.ms=500\n{security}"
        ),
    )
}

/// A distributed worker whose group connection, internal topics and task clients all use
/// `security`: it joins its group, takes a Verifiable source created through REST, and the
/// source's records reach the topic it creates.
async fn distributed_runs_a_connector(
    broker: &SecureBroker,
    run: &RunDir,
    name: &str,
    bootstrap: &str,
    security: &str,
) {
    const RECORDS: i64 = 500;
    let config = distributed_config(run, name, bootstrap, security);
    let log = run.join(&format!("{name}.log"));
    let (mut w, url) = spawn_distributed(&config, &log);
    let url =
        url.unwrap_or_else(|| panic!("the worker printed no REST URL; log {}", log.display()));
    let connector = unique_name(&format!("{name}-src"));
    let topic = format!("{connector}-topic");
    let http = reqwest::Client::new();
    // A write before the worker's first assignment waits for it (up to a bound); poll until
    // the connector is accepted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            w.0.try_wait().unwrap().is_none(),
            "the worker exited; log {}",
            log.display()
        );
        let created = http
            .post(format!("{url}/connectors"))
            .json(&json!({"name": connector, "config": {
                "connector.class": "VerifiableSource",
                "tasks.max": "1",
                "topic": topic,
                "throughput": "-1",
                "max.messages": RECORDS.to_string(),
                "topic.creation.default.partitions": "3",
                "topic.creation.default.replication.factor": "1",
            }}))
            .send()
            .await;
        match created {
            Ok(r) if r.status().as_u16() == 201 => break,
            other => assert!(
                Instant::now() < deadline,
                "cannot create the connector: {other:?}; log {}",
                log.display()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: serde_json::Value = match http
            .get(format!("{url}/connectors/{connector}/status"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.unwrap(),
            _ => serde_json::Value::Null,
        };
        let count = record_count(&broker.plaintext, &topic);
        let running =
            status["connector"]["state"] == "RUNNING" && status["tasks"][0]["state"] == "RUNNING";
        if running && count == Ok(RECORDS) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the connector did not run to {RECORDS} records: status {status}, records {count:?}; \
             log {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(partition_count(&broker.plaintext, &topic), Some(3));
    let joined = log_of(&log);
    assert!(
        joined.contains("joined the group"),
        "the worker never logged joining its group; log {}",
        log.display()
    );
}

/// A worker with `security` that the broker must refuse exits at once, naming `setting`.
fn worker_is_refused(run: &RunDir, name: &str, bootstrap: &str, security: &str, setting: &str) {
    let config = distributed_config(run, name, bootstrap, security);
    let log = run.join(&format!("{name}.log"));
    let started = Instant::now();
    let (mut w, url) = spawn_distributed(&config, &log);
    assert_eq!(url, None, "the worker started; log {}", log.display());
    let mut status = None;
    poll_until(
        Duration::from_secs(20),
        "the refused worker to exit",
        || {
            status = w.0.try_wait().unwrap();
            status.map(|_| ()).ok_or_else(|| "still running".into())
        },
    );
    assert!(!status.unwrap().success());
    let text = log_of(&log);
    assert!(
        text.contains(setting) && text.contains("127.0.0.1"),
        "the error names neither {setting} nor the broker: {text}"
    );
    eprintln!(
        "refused ({setting}) within {:?}: {}",
        started.elapsed(),
        text.lines().last().unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_and_tls_listeners_carry_standalone_and_distributed_workers() {
    let Some(broker) = SecureBroker::start() else {
        return;
    };
    let run = RunDir::new("security");
    let mut timings = Vec::new();

    let t = Instant::now();
    tokio::task::block_in_place(|| standalone_over_scram(&broker, &run));
    timings.push(("standalone over SCRAM, 2000 lines", t.elapsed()));

    let t = Instant::now();
    let scram = every_client(|p| scram_keys(p, &broker.user, &broker.password));
    distributed_runs_a_connector(&broker, &run, "dist-scram", &broker.sasl, &scram).await;
    timings.push(("distributed over SCRAM", t.elapsed()));

    let t = Instant::now();
    let tls = every_client(|p| tls_keys(p, &broker.ca));
    distributed_runs_a_connector(&broker, &run, "dist-tls", &broker.ssl, &tls).await;
    timings.push(("distributed over TLS", t.elapsed()));

    let t = Instant::now();
    let wrong = every_client(|p| scram_keys(p, &broker.user, "not-the-password"));
    tokio::task::block_in_place(|| {
        worker_is_refused(
            &run,
            "wrong-password",
            &broker.sasl,
            &wrong,
            "sasl.jaas.config",
        )
    });
    // A CA that did not sign the broker's certificate.
    let other_ca = run.join("other-ca.pem");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(&other_ca, cert.cert.pem()).unwrap();
    let untrusted = every_client(|p| tls_keys(p, &other_ca));
    tokio::task::block_in_place(|| {
        worker_is_refused(
            &run,
            "untrusted",
            &broker.ssl,
            &untrusted,
            "ssl.truststore.location",
        )
    });
    timings.push(("refused password and certificate", t.elapsed()));

    for (what, took) in timings {
        eprintln!("{what}: {took:?}");
    }
}
