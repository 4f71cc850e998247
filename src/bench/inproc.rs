//! What the in-process benchmarks share: scratch directories, the input file, a worker started
//! in this process on an embedded broker (as the integration tests start one), and the raw
//! rdkafka clients kconnect is compared with.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use kconnect_actors::config::WorkerConfig;
use kconnect_actors::status::{State, StatusStore};
use kconnect_actors::Worker;
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::embedded_broker::EmbeddedBroker;

/// Bytes of each line, without its newline.
pub const LINE_BYTES: usize = 100;

/// A directory under the system temp dir, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(what: &str) -> anyhow::Result<ScratchDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("kconnect-bench-{}-{what}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Line `i`: its number, zero-padded, then filler up to [`LINE_BYTES`].
pub fn line(i: usize, buf: &mut Vec<u8>) {
    buf.clear();
    let _ = write!(buf, "{i:012} ");
    buf.resize(LINE_BYTES, b'x');
}

/// Writes `n` lines of [`LINE_BYTES`] bytes plus a newline each.
pub fn write_lines(path: &Path, n: usize) -> anyhow::Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut buf = Vec::with_capacity(LINE_BYTES + 1);
    for i in 0..n {
        line(i, &mut buf);
        buf.push(b'\n');
        w.write_all(&buf)?;
    }
    w.flush()?;
    Ok(())
}

/// A worker running in this process, with its offsets file in a scratch directory.
pub struct InProcWorker {
    pub worker: Worker,
    pub dir: ScratchDir,
}

impl InProcWorker {
    /// Starts a worker on `broker` with the worker keys `extra` (over an offsets file and the
    /// StringConverter for keys and values) and the plugins of `plugins`.
    pub async fn start(
        broker: &Arc<EmbeddedBroker>,
        extra: &[(&str, &str)],
        plugins: PluginRegistry,
    ) -> anyhow::Result<InProcWorker> {
        let dir = ScratchDir::new("worker")?;
        let offsets = dir.path("connect.offsets");
        let offsets_str = offsets.to_string_lossy().into_owned();
        let mut p = props(&[
            ("offset.storage.file.filename", &offsets_str),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
        ]);
        p.extend(props(extra));
        let config = WorkerConfig::parse(p).map_err(|e| anyhow!("worker config: {e}"))?;
        let worker = crate::standalone::start_worker(
            config,
            Some(broker.clone()),
            Arc::new(plugins),
            "127.0.0.1:0".into(),
        )
        .await
        .map_err(|e| anyhow!("starting the worker: {e}"))?;
        Ok(InProcWorker { worker, dir })
    }

    pub fn status(&self) -> &StatusStore {
        &self.worker.context().status
    }

    /// Waits until `connector` and all of its (at least `tasks`) tasks are RUNNING.
    pub async fn wait_running(&self, connector: &str, tasks: usize) -> anyhow::Result<()> {
        let ok = self
            .status()
            .wait_running(connector, tasks, Duration::from_secs(30))
            .await;
        if !ok {
            bail!(
                "{connector} is not RUNNING after 30 s: {:?}",
                self.status().get(connector)
            );
        }
        Ok(())
    }

    /// The trace of the first FAILED task or connector, if one failed.
    pub fn failure(&self) -> Option<String> {
        self.status().all().into_iter().find_map(|c| {
            std::iter::once(&c.connector)
                .chain(c.tasks.values())
                .find(|s| s.state == State::Failed)
                .map(|s| format!("{}: {}", c.name, s.trace.clone().unwrap_or_default()))
        })
    }

    pub async fn stop(self) {
        self.worker.shutdown().await;
    }
}

/// Counts the raw producer's acknowledgements and failures.
#[derive(Default)]
pub struct Counting {
    pub acked: AtomicU64,
    pub failed: AtomicU64,
}

/// The raw producer's context: delivery reports go to a [`Counting`].
pub struct CountingContext(Arc<Counting>);

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.acked.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

pub type RawProducer = BaseProducer<CountingContext>;

/// The raw producer's settings: the ones kconnect's source task sets (idempotence, acks=all),
/// librdkafka's defaults for everything else (linger.ms, batch sizes, queue sizes) — exactly
/// what a kconnect worker without `producer.*` keys uses.
pub fn raw_producer(bootstrap: &str) -> anyhow::Result<(RawProducer, Arc<Counting>)> {
    let counting = Arc::new(Counting::default());
    let p = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("client.id", "bench-raw-producer")
        .create_with_context(CountingContext(counting.clone()))
        .context("creating the raw producer")?;
    Ok((p, counting))
}

/// Produces every record `next` yields (`None` ends) to `topic`, in the given partition or the
/// partitioner's, and waits until all are acknowledged. Blocking.
pub fn raw_produce(
    producer: &RawProducer,
    counting: &Counting,
    topic: &str,
    mut next: impl FnMut(&mut Vec<u8>) -> Option<Option<i32>>,
) -> anyhow::Result<u64> {
    let mut buf = Vec::with_capacity(LINE_BYTES + 1);
    let mut sent = 0u64;
    while let Some(partition) = next(&mut buf) {
        let mut rec = BaseRecord::<(), [u8]>::to(topic).payload(&buf[..]);
        if let Some(p) = partition {
            rec = rec.partition(p);
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    rec = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => bail!("raw producer: {e}"),
            }
        }
        sent += 1;
        if sent % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .context("raw producer: flush")?;
    let failed = counting.failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("raw producer: {failed} records failed delivery");
    }
    Ok(sent)
}

/// Reads `path` line by line (without newlines) into the producer's buffer.
pub fn file_lines(path: &Path) -> anyhow::Result<impl FnMut(&mut Vec<u8>) -> Option<Option<i32>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(256 * 1024, f);
    Ok(move |buf: &mut Vec<u8>| {
        buf.clear();
        match r.read_until(b'\n', buf) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Some(None)
            }
        }
    })
}

/// What [`wait_high_watermark`] saw.
pub struct Watermarks {
    /// When the topic first held a record.
    pub first: Instant,
    /// When it first held at least 10% and 90% of the target: the steady-state window.
    pub p10: Instant,
    pub p90: Instant,
    /// When it held every record.
    pub done: Instant,
    /// The records it held then; above the target means duplicates.
    pub records: i64,
}

/// How often the watchers look at progress when a ratio is timed: the high watermark
/// ([`wait_high_watermark`]) and a file's length ([`wait_file_len`]).
pub const WATERMARK_POLL: Duration = Duration::from_millis(2);
pub const FILE_POLL: Duration = Duration::from_millis(1);
/// How often they look when one side runs alone (`--source-side`, `--sink-side`), e.g. under
/// callgrind: a watcher works by the clock, so under valgrind its instructions per record
/// grow with the machine's load; looking rarely keeps that noise out of the counts.
pub const ONE_SIDE_POLL: Duration = Duration::from_millis(50);

/// Waits (blocking) until the high watermarks of `partitions` partitions of `topic` add up to
/// `target`, checking `every` so often. A topic that does not exist yet counts as 0. Gives up
/// when `stop` is set.
pub fn wait_high_watermark(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    target: i64,
    timeout: Duration,
    every: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<Watermarks> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "bench-watermarks")
        .create()
        .context("creating the watermark consumer")?;
    let deadline = Instant::now() + timeout;
    let (mut first, mut p10, mut p90) = (None, None, None);
    loop {
        let mut sum = 0;
        for p in 0..partitions {
            if let Ok((_, high)) = c.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                sum += high;
            }
        }
        let now = Instant::now();
        for (seen, at) in [
            (&mut first, 1),
            (&mut p10, target / 10),
            (&mut p90, target * 9 / 10),
        ] {
            if sum >= at.max(1) && seen.is_none() {
                *seen = Some(now);
            }
        }
        if sum >= target {
            return Ok(Watermarks {
                first: first.unwrap_or(now),
                p10: p10.unwrap_or(now),
                p90: p90.unwrap_or(now),
                done: now,
                records: sum,
            });
        }
        if stop.load(Ordering::Relaxed) {
            bail!("stopped waiting for {topic} at {sum} of {target} records");
        }
        if Instant::now() > deadline {
            bail!("{topic} reached only {sum} of {target} records in {timeout:?}");
        }
        std::thread::sleep(every);
    }
}

/// Waits (blocking) until `path` holds at least each of `marks` bytes (ascending), checking
/// `every` so often; returns when each was reached, or `None` if `timeout` passed or `stop`
/// was set first.
pub fn wait_file_len(
    path: &Path,
    marks: &[u64],
    timeout: Duration,
    every: Duration,
    stop: &AtomicBool,
) -> Option<Vec<Instant>> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::with_capacity(marks.len());
    loop {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let now = Instant::now();
        while seen.len() < marks.len() && len >= marks[seen.len()] {
            seen.push(now);
        }
        if seen.len() == marks.len() {
            return Some(seen);
        }
        if stop.load(Ordering::Relaxed) || now > deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Sets its flag when dropped: tells a blocking watcher to give up when its waiter goes away.
pub struct StopOnDrop(pub Arc<AtomicBool>);

impl StopOnDrop {
    pub fn new() -> (StopOnDrop, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (StopOnDrop(flag.clone()), flag)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
