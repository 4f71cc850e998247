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
    /// When it held every record.
    pub done: Instant,
    /// The records it held then; above the target means duplicates.
    pub records: i64,
    /// The steady-state window: from the first check that saw at least 10% of the target to
    /// the first that saw at least 90%.
    pub steady: Window,
}

/// A timing window between two progress checks, with the records they saw in between.
///
/// It is timed from checks, not from the nominal 10% and 90% marks: a check can come late (the
/// watcher shares a loaded machine) and see several marks at once, and timing 80% of the
/// records over the gap between two checks that both saw 90% gave absurd rates (277,951,857
/// records/s once). Records are what the two checks saw, and `checks` says how many checks
/// moved in between, so a window too short to time is refused instead of printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Records between the window's first and last checks.
    pub records: i64,
    pub elapsed: Duration,
    /// Checks after the first that saw progress, up to and including the last.
    pub checks: usize,
}

/// Fewest progress checks a steady-state window must span to be timed: fewer, and one late
/// check is a large part of the window.
pub const MIN_WINDOW_CHECKS: usize = 10;

impl Window {
    /// The window of `samples` (the checks that saw progress, in order, with what each saw)
    /// from the first at or above `from` records to the first at or above `to`.
    pub fn between(samples: &[(Instant, i64)], from: i64, to: i64) -> Window {
        let start = samples.iter().position(|(_, n)| *n >= from);
        let end = samples.iter().position(|(_, n)| *n >= to);
        match (start, end) {
            (Some(a), Some(b)) if b > a => Window {
                records: samples[b].1 - samples[a].1,
                elapsed: samples[b].0 - samples[a].0,
                checks: b - a,
            },
            _ => Window {
                records: 0,
                elapsed: Duration::ZERO,
                checks: 0,
            },
        }
    }

    /// Records/s over the window, or why it is too short to say.
    pub fn rate(&self) -> Result<f64, WindowTooShort> {
        if self.checks < MIN_WINDOW_CHECKS {
            return Err(WindowTooShort(self.checks));
        }
        Ok(self.records as f64 / self.elapsed.as_secs_f64().max(1e-9))
    }
}

/// A steady-state window spanned fewer than [`MIN_WINDOW_CHECKS`] progress checks.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "the 10%–90% window spanned {0} progress check(s), fewer than the {MIN_WINDOW_CHECKS} \
     needed to time it: run with more --lines"
)]
pub struct WindowTooShort(pub usize);

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
    // Every check that saw the sum move, with when: the steady window is timed from these.
    let mut moved: Vec<(Instant, i64)> = Vec::with_capacity(1024);
    loop {
        let mut sum = 0;
        for p in 0..partitions {
            if let Ok((_, high)) = c.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                sum += high;
            }
        }
        let now = Instant::now();
        if sum > moved.last().map_or(0, |(_, n)| *n) {
            moved.push((now, sum));
        }
        if sum >= target {
            return Ok(Watermarks {
                first: moved.first().map_or(now, |(t, _)| *t),
                done: now,
                records: sum,
                steady: Window::between(&moved, (target / 10).max(1), target * 9 / 10),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks at `t0 + ms` that saw `records`.
    fn checks(t0: Instant, seen: &[(u64, i64)]) -> Vec<(Instant, i64)> {
        seen.iter()
            .map(|(ms, n)| (t0 + Duration::from_millis(*ms), *n))
            .collect()
    }

    #[test]
    fn a_window_is_timed_between_the_checks_that_saw_10_and_90_percent() {
        let t0 = Instant::now();
        // 1,000 records: a check every 10 ms that saw 50 more each time.
        let seen: Vec<(u64, i64)> = (1..=20).map(|i| (i * 10, i as i64 * 50)).collect();
        let w = Window::between(&checks(t0, &seen), 100, 900);
        // The first check at or above 100 saw 100 (at 20 ms), the first at or above 900
        // saw 900 (at 180 ms): 800 records in 160 ms, 16 checks apart.
        assert_eq!(w.records, 800);
        assert_eq!(w.elapsed, Duration::from_millis(160));
        assert_eq!(w.checks, 16);
        assert_eq!(w.rate(), Ok(5_000.0));
    }

    #[test]
    fn a_late_check_counts_what_it_saw_not_the_nominal_mark() {
        let t0 = Instant::now();
        // The check after 50 records came late and saw 400: the window starts there, with
        // 400, not with the 10% mark's 100.
        let mut seen = vec![(10, 50), (100, 400)];
        seen.extend((1..=12).map(|i| (100 + i * 10, 400 + i as i64 * 50)));
        let w = Window::between(&checks(t0, &seen), 100, 900);
        assert_eq!(w.records, 500);
        assert_eq!(w.elapsed, Duration::from_millis(100));
        assert_eq!(w.checks, 10);
        assert_eq!(w.rate(), Ok(5_000.0));
    }

    #[test]
    fn a_window_of_too_few_checks_is_refused() {
        let t0 = Instant::now();
        // One check saw 5%, the next everything: the old 10%–90% timing divided 80% of the
        // records by the time between two instants of one check.
        let w = Window::between(&checks(t0, &[(10, 50), (60, 1000)]), 100, 900);
        assert_eq!(w.checks, 0);
        assert_eq!(w.rate(), Err(WindowTooShort(0)));
        let seen: Vec<(u64, i64)> = (1..=5).map(|i| (i * 10, i as i64 * 200)).collect();
        let w = Window::between(&checks(t0, &seen), 100, 900);
        assert_eq!((w.records, w.checks), (800, 4));
        assert_eq!(w.rate(), Err(WindowTooShort(4)));
    }
}
