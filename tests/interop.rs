//! kconnect next to Apache Kafka Connect (the Java reference, 4.3.1, pinned in
//! tests/kafka/pom.xml) on one real broker: the same bytes on topics, the same internal topics
//! read by both, and workers of both kinds in one group. Each test starts the Java Connect it
//! needs (tests/kafka/start-connect.sh) and kills it when dropped.
//!
//! Without a broker (KCONNECT_TEST_KAFKA) each test says SKIPPED and passes; under CI=true a
//! missing broker fails it. Names are unique per run: the broker outlives test runs.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::java_connect::JavaConnect;
use common::kafka::{log_end_offsets, read_partition, real_kafka, unique_name, RawRecord, RunDir};
use common::procs::Proc;
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";

/// Each test runs JVMs and kconnect processes on a small machine: one test at a time keeps
/// their timing honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn write(path: PathBuf, body: &str) -> PathBuf {
    std::fs::write(&path, body).unwrap();
    path
}

/// Runs blocking work (starting a JVM, waiting for a process) without stalling the runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Polls `check` every 100 ms until it returns Some; fails after `timeout` with `what` and the
/// last state `check` described.
async fn poll<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(state) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last: {state}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET `url` as JSON: Err with the status or error when it does not answer 2xx.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {url}: {e}: {body}"))
}

/// Sends a write until the worker accepts it: right after start, and during rebalances,
/// Connect answers 409 until the worker has joined the group (and kconnect may wait for it).
async fn send_until_accepted(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) {
    poll(Duration::from_secs(60), &format!("{method} {url}"), || {
        let mut req = http.request(method.clone(), url);
        if let Some(b) = body {
            req = req.json(b);
        }
        async move {
            let r = req.send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{status} {}", r.text().await.unwrap_or_default()))
            }
        }
    })
    .await
}

/// A kconnect process, with its log.
struct Kconnect {
    proc: Proc,
    url: String,
    log: PathBuf,
}

impl Kconnect {
    /// `kconnect distributed CONFIG`; returns once it printed its REST URL.
    fn distributed(config: &Path, log: PathBuf) -> Kconnect {
        let mut child = Command::new(BIN)
            .args(["--log-level", "info"])
            .arg("distributed")
            .arg(config)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().trim_end_matches('/').to_string();
        assert!(
            url.starts_with("http://"),
            "kconnect printed {url:?}; log {}",
            log.display()
        );
        Kconnect {
            proc: Proc(child),
            url,
            log,
        }
    }

    /// `kconnect standalone FILES...`, logging to `log`.
    fn standalone(files: &[&Path], log: PathBuf) -> Kconnect {
        let child = Command::new(BIN)
            .args(["--log-level", "info", "standalone"])
            .args(files)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Kconnect {
            proc: Proc(child),
            url: String::new(),
            log,
        }
    }

    /// SIGTERM and wait for a clean exit (tasks stopped, offsets committed, group left).
    fn stop(&mut self) {
        self.proc.signal(Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.proc.0.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "kconnect exited with {status:?}; log {}",
                    self.log.display()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kconnect did not stop within 30 s; log {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JsonConverter: byte identity
// ---------------------------------------------------------------------------------------------

/// Lines that exercise JSON string escaping: quotes, backslashes, short escapes, control
/// characters without one (Jackson writes `\u001F`, upper case), 2-, 3- and 4-byte UTF-8 (Jackson
/// escapes a supplementary character as a surrogate pair), line and paragraph separators, an
/// empty line, a CRLF line end, and a long line.
fn tricky_lines() -> String {
    let mut s = String::new();
    s.push_str("plain ascii line\n");
    s.push_str("quotes \"inside\" and a back\\slash and a /slash/\n");
    s.push_str("tab\there, backspace\u{8}, form feed\u{c}, vertical tab\u{b}\n");
    s.push_str("controls \u{1}\u{2}\u{1f} and DEL \u{7f}\n");
    s.push_str("latin é ü ß, greek αβγ, cjk 漢字, check ✓\n");
    s.push_str("emoji 😀 and 𝄞 (supplementary), U+2028 \u{2028} U+2029 \u{2029}\n");
    s.push_str("html </script> & <b>\n");
    s.push('\n');
    s.push_str("windows line end\r\n");
    s.push_str(&"x".repeat(5000));
    s.push('\n');
    for i in 0..100 {
        s.push_str(&format!(
            "numbered line {i:04} {{\"json\": [1, 2.5, true, null]}}\n"
        ));
    }
    s
}

/// How many records FileStreamSource makes of `body`: one per line ending (`\n`, `\r\n` or a
/// lone `\r`).
fn line_count(body: &str) -> usize {
    body.replace("\r\n", "\n").matches(['\n', '\r']).count()
}

/// Java Connect's FileStreamSource and kconnect's read the same file through JsonConverter, with
/// `schemas.enable=true` and `false`: the keys, values and headers they write are identical byte
/// for byte, record by record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_converter_output_is_byte_identical_to_java_connect_with_and_without_schemas() {
    let Some(kafka) = real_kafka() else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let run = RunDir::new("json-identity");
    let body = tricky_lines();
    let count = line_count(&body);
    let input = write(run.join("in.txt"), &body);
    let base = unique_name("json");

    // The worker converters are JSON without schemas; the `schemas` connectors override both
    // converters per connector, as Connect allows.
    let worker = |who: &str| {
        write(
            run.join(&format!("{who}-worker.properties")),
            &format!(
                "bootstrap.servers={kafka}\nlisteners=http://127.0.0.1:0\n\
                 offset.storage.file.filename={}\noffset.flush.interval.ms=500\n\
                 key.converter={JSON}\nvalue.converter={JSON}\n\
                 key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n",
                run.join(&format!("{who}.offsets")).display()
            ),
        )
    };
    let connector = |who: &str, schemas: bool| {
        let name = format!("{base}-{who}-{schemas}");
        let path = write(
            run.join(&format!("{who}-{schemas}.properties")),
            &format!(
                "name={name}\nconnector.class=FileStreamSource\nfile={}\ntopic={name}\n\
                 key.converter={JSON}\nvalue.converter={JSON}\n\
                 key.converter.schemas.enable={schemas}\nvalue.converter.schemas.enable={schemas}\n",
                input.display()
            ),
        );
        (path, name)
    };
    let (java_true, java_true_topic) = connector("java", true);
    let (java_false, java_false_topic) = connector("java", false);
    let (k_true, k_true_topic) = connector("kconnect", true);
    let (k_false, k_false_topic) = connector("kconnect", false);

    let java_worker = worker("java");
    let java = blocking(|| {
        JavaConnect::start(
            &kafka,
            "standalone",
            &java_worker,
            &[&java_true, &java_false],
        )
    });
    let mut k = Kconnect::standalone(
        &[&worker("kconnect"), &k_true, &k_false],
        run.join("kconnect.log"),
    );

    let read = |topic: &str| {
        let (kafka, topic) = (kafka.clone(), topic.to_string());
        tokio::task::spawn_blocking(move || {
            read_partition(&kafka, &topic, count, Duration::from_secs(60))
        })
    };
    let (jt, jf, kt, kf) = (
        read(&java_true_topic),
        read(&java_false_topic),
        read(&k_true_topic),
        read(&k_false_topic),
    );
    let (jt, jf, kt, kf) = (
        jt.await.unwrap(),
        jf.await.unwrap(),
        kt.await.unwrap(),
        kf.await.unwrap(),
    );
    for (schemas, java, ours) in [(true, &jt, &kt), (false, &jf, &kf)] {
        compare_records(schemas, java, ours);
    }
    // Nothing beyond the expected records (a stray extra record would be a difference too).
    for topic in [
        &java_true_topic,
        &java_false_topic,
        &k_true_topic,
        &k_false_topic,
    ] {
        assert_eq!(
            log_end_offsets(&kafka, topic, 1),
            vec![count as i64],
            "{topic} holds more records than the file has lines"
        );
    }
    // Spot checks that the comparison compares what it should.
    let show = |r: &RawRecord| {
        String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
    };
    assert_eq!(
        show(&jt[0]),
        r#"{"schema":{"type":"string","optional":false},"payload":"plain ascii line"}"#
    );
    assert_eq!(show(&jf[0]), r#""plain ascii line""#);
    eprintln!(
        "JsonConverter: {count} records × 2 (schemas on/off), Java Connect {:.1?} to start; \
         kconnect's bytes identical; e.g. {} / {}; whole test {:.1?}",
        java.startup,
        show(&jf[3]),
        show(&jf[5]),
        started.elapsed()
    );
    k.stop();
    blocking(|| java.stop(Duration::from_secs(30)));
}

fn compare_records(schemas: bool, java: &[RawRecord], ours: &[RawRecord]) {
    assert_eq!(java.len(), ours.len());
    let show = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    for (i, (j, k)) in java.iter().zip(ours).enumerate() {
        assert_eq!(
            show(&j.key),
            show(&k.key),
            "schemas.enable={schemas}: key of record {i} differs (Java, kconnect)"
        );
        assert_eq!(
            show(&j.value),
            show(&k.value),
            "schemas.enable={schemas}: value of record {i} differs (Java, kconnect)"
        );
        // Exact bytes too (the lossy strings above are for a readable message).
        assert_eq!(
            j.key, k.key,
            "schemas.enable={schemas}: key bytes of record {i}"
        );
        assert_eq!(
            j.value, k.value,
            "schemas.enable={schemas}: value bytes of record {i}"
        );
        assert_eq!(
            j.headers, k.headers,
            "schemas.enable={schemas}: headers of record {i}"
        );
    }
}
