//! `java`: kconnect next to Apache Kafka Connect, the reference peer, on one real Kafka broker.
//!
//! Both run as child processes in standalone mode with the same worker keys (StringConverter,
//! a file offset store, a REST listener on a free port) and the same connectors, by Connect's
//! class names, which kconnect also answers to. Measured, each side in turn:
//!
//! - start-up: from spawning the worker (one idle FileStreamSource) until `GET /` answers 200;
//! - resident memory (`VmRSS`) with that idle connector, and with a FileStreamSink of
//!   `plan.load_tasks` tasks on as many partitions, once every task is RUNNING;
//! - FileStreamSource: `plan.lines` lines of 100 bytes from a file to a fresh one-partition
//!   topic, records/s while the topic's high watermark goes from 10% to 90%, next to a raw
//!   rdkafka producer sending the same file to the same broker;
//! - FileStreamSink: the same number of records from a pre-filled one-partition topic to a file,
//!   bytes/s while the file grows from 10% to 90%, next to a raw rdkafka consumer.
//!
//! Not measured here: restart after a task failure (Java Connect restarts nothing by itself: a
//! failed task stays FAILED until someone calls the restart endpoint, so there is no number to
//! put next to kconnect's) and the time from a SIGKILLed worker to its tasks running elsewhere
//! (distributed mode: the `failover` benchmark, `failover.rs`).
//!
//! Runs only with `--kafka ADDR --java-classpath CP`; `scripts/bench-vs-java.sh` starts the
//! broker from `tests/kafka/` and passes both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::inproc::{self, ScratchDir, StopOnDrop, LINE_BYTES};
use super::{median, rate, Plan, Report, Row, Unit};

/// The real broker and Java Connect's classpath (from `tests/kafka/pom.xml`).
#[derive(Debug, Clone)]
pub struct JavaPeer {
    pub bootstrap: String,
    pub classpath: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Side {
    Kconnect,
    Java,
}

impl Side {
    pub(super) fn name(self) -> &'static str {
        match self {
            Side::Kconnect => "kconnect",
            Side::Java => "Java Connect",
        }
    }
}

const FILE_SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
pub(super) const FILE_SINK: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
const TIMEOUT: Duration = Duration::from_secs(300);

/// A worker process, killed when dropped.
pub(super) struct Peer {
    pub(super) child: Child,
    pub(super) rest: String,
    pub(super) log: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// The log's first ERROR lines (stack traces left out), then its last lines.
    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let errors: Vec<&str> = lines
            .iter()
            .filter(|l| l.contains("ERROR"))
            .take(10)
            .copied()
            .collect();
        let tail: Vec<&str> = lines
            .iter()
            .filter(|l| !l.starts_with('\t'))
            .copied()
            .collect();
        format!(
            "{}\n…\n{}",
            errors.join("\n"),
            tail[tail.len().saturating_sub(10)..].join("\n")
        )
    }
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Writes the worker and connector configs in `dir` and spawns `side` on them.
fn spawn(
    side: Side,
    peer: &JavaPeer,
    dir: &ScratchDir,
    connector: &[(&str, String)],
) -> anyhow::Result<(Peer, Instant)> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let port = free_port()?;
    let worker = dir.path(&format!("worker-{run}.properties"));
    std::fs::write(
        &worker,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=10000\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            peer.bootstrap,
            dir.path(&format!("offsets-{run}")).display()
        ),
    )?;
    let conn = dir.path(&format!("connector-{run}.properties"));
    let body: String = connector
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    std::fs::write(&conn, body)?;
    let log = dir.path(&format!("{}-{run}.log", side.name().replace(' ', "-")));
    let spawned = Instant::now();
    let child = spawn_worker(side, peer, Mode::Standalone, &[&worker, &conn], &log)?;
    Ok((
        Peer {
            child,
            rest: format!("http://127.0.0.1:{port}"),
            log,
        },
        spawned,
    ))
}

/// Which entry point of a side runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mode {
    Standalone,
    Distributed,
}

/// Spawns `side` in `mode` on the config files `files`, its output (stdout and stderr) in
/// `log`, without any `CONNECT_*` variable of the bench's environment.
pub(super) fn spawn_worker(
    side: Side,
    peer: &JavaPeer,
    mode: Mode,
    files: &[&Path],
    log: &Path,
) -> anyhow::Result<Child> {
    let mut cmd = match side {
        Side::Kconnect => {
            let mut c = Command::new(std::env::current_exe()?);
            c.args(["--log-level", "warn"]);
            c.arg(match mode {
                Mode::Standalone => "standalone",
                Mode::Distributed => "distributed",
            });
            c.env("NO_COLOR", "1").env_remove("RUST_LOG");
            c
        }
        Side::Java => {
            // The heap the rig's scripts give Java Connect.
            let mut c = Command::new("java");
            c.args(["-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-cp", &peer.classpath]);
            c.arg(match mode {
                Mode::Standalone => "org.apache.kafka.connect.cli.ConnectStandalone",
                Mode::Distributed => "org.apache.kafka.connect.cli.ConnectDistributed",
            });
            c
        }
    };
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONNECT_") {
            cmd.env_remove(k);
        }
    }
    let out = std::fs::File::create(log)?;
    cmd.args(files)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("spawning {}", side.name()))
}

/// Waits until `GET /` answers 200; returns when.
pub(super) async fn wait_rest(http: &reqwest::Client, p: &mut Peer) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = http.get(format!("{}/", p.rest)).send().await {
            if r.status() == reqwest::StatusCode::OK {
                return Ok(Instant::now());
            }
        }
        if let Some(s) = p.child.try_wait()? {
            bail!("the worker exited ({s}):\n{}", p.log_tail());
        }
        if Instant::now() > deadline {
            bail!("{} never answered:\n{}", p.rest, p.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The largest RSS (MB) over six readings 200 ms apart, after a second of settling.
async fn settled_rss_mb(pid: u32) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(super::process::settled_rss(pid, 6).await? as f64 / 1e6)
}

pub(super) async fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin.create_topics([&new], &AdminOptions::new()).await?;
    for r in results {
        if let Err((t, e)) = r {
            bail!("creating topic {t}: {e}");
        }
    }
    Ok(())
}

pub(super) fn unique(what: &str) -> String {
    format!(
        "bench-{what}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    )
}

pub async fn run(plan: &Plan, peer: &JavaPeer) -> anyhow::Result<Report> {
    let http = super::process::http()?;
    let mut rows = Vec::new();
    let dir = ScratchDir::new("java")?;
    let empty = dir.path("empty.txt");
    std::fs::write(&empty, "")?;

    // Start-up and idle memory.
    let mut startup = [Vec::new(), Vec::new()];
    let mut idle = [0.0, 0.0];
    for (i, side) in [Side::Kconnect, Side::Java].into_iter().enumerate() {
        for n in 0..plan.startups {
            let idle_conn = [
                ("name", "idle".to_string()),
                ("connector.class", FILE_SOURCE.into()),
                ("file", empty.display().to_string()),
                ("topic", unique("idle")),
            ];
            let (mut p, spawned) = spawn(side, peer, &dir, &idle_conn)?;
            let ready = wait_rest(&http, &mut p).await?;
            startup[i].push((ready - spawned).as_secs_f64() * 1000.0);
            if n == 0 {
                super::process::wait_tasks_running(&http, &p.rest, "idle", 1, &|| p.log_tail())
                    .await?;
                idle[i] = settled_rss_mb(p.child.id()).await?;
            }
        }
    }
    let (kc_start, java_start) = (median(&startup[0]), median(&startup[1]));
    rows.push(Row::info(
        "start-up to REST, median: kconnect",
        kc_start,
        Unit::Millis,
    ));
    rows.push(Row::info(
        "start-up to REST, median: Java Connect",
        java_start,
        Unit::Millis,
    ));
    rows.push(Row::info(
        "start-up: Java / kconnect",
        java_start / kc_start,
        Unit::Ratio,
    ));
    rows.push(Row::info("RSS idle: kconnect", idle[0], Unit::MB));
    rows.push(Row::info("RSS idle: Java Connect", idle[1], Unit::MB));
    rows.push(Row::info(
        "RSS idle: Java / kconnect",
        idle[1] / idle[0],
        Unit::Ratio,
    ));

    // Memory with many tasks: sink tasks, one partition each (Kafka 4.x's Connect ships no
    // multi-task source connector; each sink task has its own consumer, as each source task
    // has its own producer).
    let mut loaded = [0.0, 0.0];
    let load_topic = unique("load");
    create_topic(&peer.bootstrap, &load_topic, plan.load_tasks as i32).await?;
    for (i, side) in [Side::Kconnect, Side::Java].into_iter().enumerate() {
        let conn = [
            ("name", "load".to_string()),
            ("connector.class", FILE_SINK.into()),
            ("tasks.max", plan.load_tasks.to_string()),
            ("topics", load_topic.clone()),
            (
                "file",
                dir.path(&format!("load-{i}.txt")).display().to_string(),
            ),
        ];
        let (mut p, _) = spawn(side, peer, &dir, &conn)?;
        wait_rest(&http, &mut p).await?;
        super::process::wait_tasks_running(&http, &p.rest, "load", plan.load_tasks, &|| {
            p.log_tail()
        })
        .await?;
        loaded[i] = settled_rss_mb(p.child.id()).await?;
    }
    let tasks = plan.load_tasks;
    rows.push(Row::info(
        format!("RSS {tasks} tasks: kconnect"),
        loaded[0],
        Unit::MB,
    ));
    rows.push(Row::info(
        format!("RSS {tasks} tasks: Java Connect"),
        loaded[1],
        Unit::MB,
    ));
    rows.push(Row::info(
        format!("RSS {tasks} tasks: Java / kconnect"),
        loaded[1] / loaded[0],
        Unit::Ratio,
    ));

    // FileStreamSource, and the raw producer, to the same broker.
    let n = plan.lines;
    let input = dir.path("input.txt");
    inproc::write_lines(&input, n)?;
    let raw_src = raw_source(&peer.bootstrap, &input, n).await?;
    let mut src = [0.0, 0.0];
    for (i, side) in [Side::Kconnect, Side::Java].into_iter().enumerate() {
        let topic = unique("source");
        create_topic(&peer.bootstrap, &topic, 1).await?;
        let conn = [
            ("name", "source".to_string()),
            ("connector.class", FILE_SOURCE.into()),
            ("file", input.display().to_string()),
            ("topic", topic.clone()),
        ];
        let (b, t) = (peer.bootstrap.clone(), topic.clone());
        let (_stop, flag) = StopOnDrop::new();
        let watch = tokio::task::spawn_blocking(move || {
            inproc::wait_high_watermark(&b, &t, 1, n as i64, TIMEOUT, inproc::WATERMARK_POLL, &flag)
        });
        let (_p, _) = spawn(side, peer, &dir, &conn)?;
        let w = watch.await??;
        src[i] = w.steady.rate()?;
    }
    throughput_rows(&mut rows, "FileStreamSource", "raw producer", raw_src, src);

    // FileStreamSink from one pre-filled topic, and the raw consumer.
    let topic = unique("sink");
    create_topic(&peer.bootstrap, &topic, 1).await?;
    let (b, t, i2) = (peer.bootstrap.clone(), topic.clone(), input.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let (producer, counting) = inproc::raw_producer(&b)?;
        inproc::raw_produce(&producer, &counting, &t, inproc::file_lines(&i2)?)
    })
    .await??;
    let bytes = (n * (LINE_BYTES + 1)) as u64;
    let marks = [bytes / 10, bytes * 9 / 10];
    let raw_out = dir.path("raw-sink.txt");
    let raw_snk = raw_sink(&peer.bootstrap, &topic, &raw_out, n, marks).await?;
    let mut snk = [0.0, 0.0];
    for (i, side) in [Side::Kconnect, Side::Java].into_iter().enumerate() {
        let out = dir.path(&format!("sink-{i}.txt"));
        let conn = [
            ("name", format!("sink-{}", unique("g"))),
            ("connector.class", FILE_SINK.into()),
            ("file", out.display().to_string()),
            ("topics", topic.clone()),
        ];
        let (_p, _) = spawn(side, peer, &dir, &conn)?;
        let at = wait_marks(&out, marks).await?;
        snk[i] = rate(n * 8 / 10, at[1] - at[0]);
    }
    throughput_rows(&mut rows, "FileStreamSink", "raw consumer", raw_snk, snk);

    Ok(Report {
        rows,
        notes: vec![format!(
            "**java**: kconnect and Apache Kafka Connect (`tests/kafka/pom.xml`'s version, \
             `-Xms256m -Xmx1g`) as standalone worker processes on the real broker at {}, the \
             same worker keys (StringConverter, file offsets, `offset.flush.interval.ms=10000`) \
             and connectors by Connect's class names. Start-up: spawn → `GET /` 200 with one \
             idle FileStreamSource, median of {} each; RSS: `VmRSS`, largest of six readings \
             200 ms apart once the connector's tasks are RUNNING plus 1 s (the loaded row: a \
             FileStreamSink of {} tasks on as many partitions, since Kafka 4.x's Connect ships \
             no multi-task source connector). FileStreamSource: {} lines of 100 \
             bytes to a fresh one-partition topic, records/s while its high watermark goes from \
             10% to 90%, raw: an rdkafka producer with kconnect's producer settings sending the \
             same file. FileStreamSink: the same records from one pre-filled one-partition \
             topic, records/s while the output file grows from 10% to 90% of its size, raw: an \
             rdkafka consumer with `fetch.queue.backoff.ms=10` (as kconnect's sinks set it) \
             writing the same file in 64 KiB chunks; Java Connect's consumer keeps its own \
             defaults. One run per side. Not \
             measured: restart after a failure (Java Connect does not restart failed tasks by \
             itself); SIGKILL-to-failover time is the **failover** benchmark's.",
            peer.bootstrap, plan.startups, plan.load_tasks, n
        )],
    })
}

/// One throughput comparison's rows: raw, kconnect, Java Connect (records/s), then the three
/// ratios between them.
fn throughput_rows(rows: &mut Vec<Row>, what: &str, raw_name: &str, raw: f64, sides: [f64; 2]) {
    let [kc, java] = sides;
    rows.push(Row::info(format!("{what}: {raw_name}"), raw, Unit::PerSec));
    rows.push(Row::info(format!("{what}: kconnect"), kc, Unit::PerSec));
    rows.push(Row::info(
        format!("{what}: Java Connect"),
        java,
        Unit::PerSec,
    ));
    rows.push(Row::info(
        format!("{what}: kconnect / raw"),
        kc / raw,
        Unit::Ratio,
    ));
    rows.push(Row::info(
        format!("{what}: Java / raw"),
        java / raw,
        Unit::Ratio,
    ));
    rows.push(Row::info(
        format!("{what}: kconnect / Java"),
        kc / java,
        Unit::Ratio,
    ));
}

async fn raw_source(bootstrap: &str, input: &Path, n: usize) -> anyhow::Result<f64> {
    let topic = unique("raw-source");
    create_topic(bootstrap, &topic, 1).await?;
    let (b, t) = (bootstrap.to_string(), topic.clone());
    let (_stop, flag) = StopOnDrop::new();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_high_watermark(&b, &t, 1, n as i64, TIMEOUT, inproc::WATERMARK_POLL, &flag)
    });
    let (b, i) = (bootstrap.to_string(), input.to_path_buf());
    tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let (producer, counting) = inproc::raw_producer(&b)?;
        inproc::raw_produce(&producer, &counting, &topic, inproc::file_lines(&i)?)
    })
    .await??;
    let w = watch.await??;
    Ok(w.steady.rate()?)
}

async fn raw_sink(
    bootstrap: &str,
    topic: &str,
    out: &Path,
    n: usize,
    marks: [u64; 2],
) -> anyhow::Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("raw-sink"))
        .set("enable.auto.commit", "false")
        // As kconnect's sinks set it (librdkafka's 1 s default stalls a consumer whose queue
        // is full): like for like.
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let (_stop, flag) = StopOnDrop::new();
    let path = out.to_path_buf();
    let consume =
        tokio::task::spawn_blocking(move || super::sink::raw_consume(consumer, &path, n, &flag));
    let at = wait_marks(out, marks).await?;
    consume.await??;
    Ok(rate(n * 8 / 10, at[1] - at[0]))
}

async fn wait_marks(path: &Path, marks: [u64; 2]) -> anyhow::Result<Vec<Instant>> {
    let (_stop, flag) = StopOnDrop::new();
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        inproc::wait_file_len(&p, &marks, TIMEOUT, inproc::FILE_POLL, &flag)
    })
    .await?
    .with_context(|| format!("{} did not reach {} bytes", path.display(), marks[1]))
}
