//! Benchmarks of the `kconnect` binary as a child process: its resident memory (idle and with
//! many tasks) and its start-up time to a REST API that answers.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use super::inproc::ScratchDir;
use super::{format_value, median, Plan, Report, Row, Target, Unit};

/// The `kconnect` binary: `KCONNECT_BIN` if set, else this very executable.
fn kconnect_exe() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("KCONNECT_BIN") {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("finding the kconnect executable")
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Proc(Child);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Strips ANSI escape sequences (`ESC [ … letter`).
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The REST address in the worker's start-up log line (`… rest=127.0.0.1:PORT`).
pub(crate) fn rest_addr(line: &str) -> Option<String> {
    strip_ansi(line)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rest="))
        .filter(|a| a.contains(':'))
        .map(|a| a.trim_matches(|c| c == '"' || c == ',').to_string())
}

/// `VmRSS` of a process, in bytes.
pub(crate) fn rss_bytes(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    rss_bytes(&status).ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// `kconnect broker` with `topics`; returns it and its address.
fn spawn_broker(topics: &[&str]) -> anyhow::Result<(Proc, String)> {
    let mut cmd = Command::new(kconnect_exe()?);
    cmd.args(["--log-level", "warn", "broker"]);
    for t in topics {
        cmd.args(["--topic", t]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("spawning kconnect broker")?;
    let stdout = child.stdout.take().expect("piped");
    let proc = Proc(child);
    let mut addr = String::new();
    BufReader::new(stdout)
        .read_line(&mut addr)
        .context("reading the broker's address")?;
    let addr = addr.trim().to_string();
    if addr.is_empty() {
        bail!("kconnect broker printed no address");
    }
    Ok((proc, addr))
}

/// A `kconnect standalone` child and what its stderr said.
struct Worker {
    proc: Proc,
    spawned: Instant,
    rest: tokio::sync::oneshot::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

/// Writes `worker.properties` and `connector.properties` in `dir` and spawns
/// `kconnect standalone` on them. `bootstrap` `None` uses the embedded broker.
fn spawn_worker(
    dir: &ScratchDir,
    bootstrap: Option<&str>,
    connector: &[(&str, String)],
) -> anyhow::Result<Worker> {
    let worker_file = dir.path("worker.properties");
    let connector_file = dir.path("connector.properties");
    let mut w = format!(
        "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
        dir.path("connect.offsets").display()
    );
    if let Some(b) = bootstrap {
        w.push_str(&format!("bootstrap.servers={b}\n"));
    }
    std::fs::write(&worker_file, w)?;
    let mut c = String::new();
    for (k, v) in connector {
        c.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(&connector_file, c)?;
    let mut cmd = Command::new(kconnect_exe()?);
    cmd.args(["--log-level", "info", "standalone"])
        .arg(&worker_file)
        .arg(&connector_file)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // No CONNECT_* overrides from the bench's own environment.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONNECT_") {
            cmd.env_remove(k);
        }
    }
    let spawned = Instant::now();
    let mut child = cmd.spawn().context("spawning kconnect standalone")?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        // Reads until the child exits, so that it never blocks on a full pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = rest_addr(&line) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr);
                }
            }
            let mut l = log2.lock().unwrap_or_else(|e| e.into_inner());
            if l.len() >= 40 {
                l.remove(0);
            }
            l.push(strip_ansi(&line));
        }
    });
    Ok(Worker {
        proc: Proc(child),
        spawned,
        rest: rx,
        log,
    })
}

impl Worker {
    fn log_tail(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Waits for the REST address in the log, then for `GET /health` to answer 200; returns
    /// the address and when /health answered.
    async fn wait_healthy(&mut self, http: &reqwest::Client) -> anyhow::Result<(String, Instant)> {
        let addr = match tokio::time::timeout(Duration::from_secs(60), &mut self.rest).await {
            Ok(Ok(a)) => a,
            _ => bail!(
                "kconnect standalone logged no rest= address; its stderr:\n{}",
                self.log_tail()
            ),
        };
        let url = format!("http://{addr}/health");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status() == reqwest::StatusCode::OK {
                    return Ok((addr, Instant::now()));
                }
            }
            if Instant::now() > deadline {
                bail!("{url} never answered 200; stderr:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

pub(crate) fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")
}

/// Waits until `connector` has `tasks` tasks, all RUNNING, as the REST API at `base` (the same
/// on kconnect and Java Connect) reports them; `log` says what the worker logged, for errors.
pub(crate) async fn wait_tasks_running(
    http: &reqwest::Client,
    base: &str,
    connector: &str,
    tasks: usize,
    log: &dyn Fn() -> String,
) -> anyhow::Result<()> {
    let url = kconnect_actors::rest_url::under(base, &["connectors", connector, "status"])?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    loop {
        if let Ok(r) = http.get(url.clone()).send().await {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                let running = v["tasks"].as_array().map_or(0, |ts| {
                    ts.iter().filter(|t| t["state"] == "RUNNING").count()
                });
                if running >= tasks && v["connector"]["state"] == "RUNNING" {
                    return Ok(());
                }
                last = v.to_string();
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{connector}: not {tasks} RUNNING tasks after 120 s: {last}\nlog:\n{}",
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The largest RSS of `pid` over `samples` readings 200 ms apart.
pub(crate) async fn settled_rss(pid: u32, samples: usize) -> anyhow::Result<u64> {
    let mut max = 0;
    for i in 0..samples {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        max = max.max(rss_of(pid)?);
    }
    Ok(max)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// An idle connector: FileStreamSource on an empty file.
fn idle_connector(dir: &ScratchDir) -> anyhow::Result<Vec<(&'static str, String)>> {
    let empty = dir.path("empty.txt");
    std::fs::File::create(&empty)?.flush()?;
    Ok(vec![
        ("name", "idle".into()),
        ("connector.class", "FileStreamSource".into()),
        ("file", path_str(&empty)),
        ("topic", "idle".into()),
    ])
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Starts a worker with `connector` (named `name`, `tasks` tasks), waits until they run and
/// have run a while, and returns the worker's RSS.
async fn measure_rss(
    http: &reqwest::Client,
    bootstrap: Option<&str>,
    connector: Vec<(&'static str, String)>,
    tasks: usize,
    dir: &ScratchDir,
) -> anyhow::Result<u64> {
    let name = connector
        .iter()
        .find(|(k, _)| *k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut w = spawn_worker(dir, bootstrap, &connector)?;
    let (addr, _) = w.wait_healthy(http).await?;
    wait_tasks_running(http, &format!("http://{addr}"), &name, tasks, &|| {
        w.log_tail()
    })
    .await?;
    // Let the tasks settle (producers connected, first batches sent), then read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = settled_rss(w.proc.pid(), 6).await?;
    drop(w);
    Ok(rss)
}

pub async fn run_rss(plan: &Plan) -> anyhow::Result<Report> {
    let http = http()?;
    let (broker, bootstrap) = spawn_broker(&["idle:1", "load:1"])?;
    let dir = ScratchDir::new("rss-idle")?;
    let idle = measure_rss(&http, Some(&bootstrap), idle_connector(&dir)?, 1, &dir).await?;
    drop(dir);
    let dir = ScratchDir::new("rss-load")?;
    let tasks = plan.load_tasks;
    let load = vec![
        ("name", "load".to_string()),
        ("connector.class", "VerifiableSource".into()),
        ("tasks.max", tasks.to_string()),
        ("topic", "load".into()),
        ("throughput", "100".into()),
    ];
    let loaded = measure_rss(&http, Some(&bootstrap), load, tasks, &dir).await?;
    drop(dir);
    let broker_rss = rss_of(broker.pid()).unwrap_or(0);
    drop(broker);
    let dir = ScratchDir::new("rss-embedded")?;
    let embedded = measure_rss(&http, None, idle_connector(&dir)?, 1, &dir).await?;
    drop(dir);
    eprintln!(
        "  rss: idle {}, {tasks} tasks {}, idle with the embedded broker {} (broker process {})",
        format_value(mb(idle), Unit::MB),
        format_value(mb(loaded), Unit::MB),
        format_value(mb(embedded), Unit::MB),
        format_value(mb(broker_rss), Unit::MB)
    );
    Ok(Report {
        rows: vec![
            Row::with_target(
                "RSS: worker idle (1 idle task)",
                mb(idle),
                Unit::MB,
                Target::Below(15.0),
            ),
            Row::info(
                format!("RSS: worker with {tasks} VerifiableSource tasks"),
                mb(loaded),
                Unit::MB,
            ),
            Row::info(
                "RSS: worker idle, embedded broker in-process",
                mb(embedded),
                Unit::MB,
            ),
        ],
        notes: vec![format!(
            "**RSS**: `VmRSS` from `/proc/<pid>/status` of a `kconnect standalone` child process \
             (this executable), in MB of 10^6 bytes. The worker points at a separate `kconnect \
             broker` process, so the numbers are the worker's own (the embedded-broker row runs \
             the quickstart way, broker in the worker's process). `standalone` needs a connector \
             config, so *idle* is the worker, its REST API and one FileStreamSource task on an \
             empty file (one producer). *{tasks} tasks*: one VerifiableSource connector with \
             `tasks.max={tasks}`, `throughput=100` records/s per task (each task has its own \
             producer, as in Connect). Read after every task is RUNNING over REST, plus 1 s, as \
             the largest of six readings 200 ms apart."
        )],
    })
}

pub async fn run_startup(plan: &Plan) -> anyhow::Result<Report> {
    let http = http()?;
    let (broker, bootstrap) = spawn_broker(&["idle:1"])?;
    let mut external = Vec::new();
    let mut embedded = Vec::new();
    for _ in 0..plan.startups {
        for (samples, bootstrap) in [
            (&mut external, Some(bootstrap.as_str())),
            (&mut embedded, None),
        ] {
            let dir = ScratchDir::new("startup")?;
            let mut w = spawn_worker(&dir, bootstrap, &idle_connector(&dir)?)?;
            let (_, healthy) = w.wait_healthy(&http).await?;
            samples.push((healthy - w.spawned).as_secs_f64() * 1000.0);
            drop(w);
        }
    }
    drop(broker);
    let (ext, emb) = (median(&external), median(&embedded));
    eprintln!(
        "  startup: external broker {:?} ms, embedded {:?} ms",
        external.iter().map(|s| s.round()).collect::<Vec<_>>(),
        embedded.iter().map(|s| s.round()).collect::<Vec<_>>()
    );
    Ok(Report {
        rows: vec![
            Row::info(
                "start-up to /health 200, external broker, median",
                ext,
                Unit::Millis,
            ),
            Row::info(
                "start-up to /health 200, embedded broker, median",
                emb,
                Unit::Millis,
            ),
        ],
        notes: vec![format!(
            "**start-up**: from spawning `kconnect standalone` (worker config with \
             `listeners=http://127.0.0.1:0`, one idle FileStreamSource) until `GET /health` \
             answers 200 at the address the worker logs (`rest=127.0.0.1:PORT`, INFO, stderr); \
             median of {} runs each against a separate `kconnect broker` and with the embedded \
             broker. No target was set for it.",
            plan.startups
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_address_is_read_from_the_log_line_with_or_without_colours() {
        let plain = "2025-01-01T00:00:00Z  INFO kconnect: kconnect standalone running; Ctrl-C \
                     or SIGTERM stops it rest=127.0.0.1:40123";
        assert_eq!(rest_addr(plain).as_deref(), Some("127.0.0.1:40123"));
        let coloured = "\u{1b}[2m2025\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2mkconnect\u{1b}[0m\
                        \u{1b}[2m:\u{1b}[0m running \u{1b}[3mrest\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:8083";
        assert_eq!(rest_addr(coloured).as_deref(), Some("127.0.0.1:8083"));
        assert_eq!(rest_addr("interest=1 rest=nothing"), None);
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tkconnect\nVmPeak:\t  100 kB\nVmRSS:\t   12288 kB\nThreads:\t9\n";
        assert_eq!(rss_bytes(status), Some(12_582_912));
        assert_eq!(rss_bytes("Name: x\n"), None);
    }
}
