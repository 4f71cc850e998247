//! Embedded broker → FileStreamSink, against a raw rdkafka consumer writing the same lines to a
//! file, both while a raw producer feeds the topic.
//!
//! The embedded broker keeps only ~5 MB per partition, and kconnect's sink fails loudly (by
//! design) when records it needs are gone. The topic therefore gets enough partitions that the
//! whole run fits in what the broker retains ([`RECORDS_PER_PARTITION`] records of ~110 bytes
//! each on the wire, well under 5 MB), and the feeder spreads records round-robin. So the feeder
//! runs unthrottled, and a consumer that falls behind still finds every record.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use kconnect_connectors::registry::PluginRegistry;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::inproc::{self, props, InProcWorker, ScratchDir, StopOnDrop, LINE_BYTES};
use super::{format_value, rate, thousands, Plan, Report, Row, Target, Unit};
use crate::embedded_broker::{EmbeddedBroker, RETAINED_BYTES_PER_PARTITION};

/// Records per partition at most, so that a partition's records stay far below the embedded
/// broker's retention (5 MB, 100,000 records).
pub const RECORDS_PER_PARTITION: usize = 25_000;
// ~110 bytes per 100-byte record on the wire: at most 60% of what a partition retains.
const _: () = assert!(RECORDS_PER_PARTITION * 110 < RETAINED_BYTES_PER_PARTITION * 6 / 10);
/// Both sides buffer lines and write them in chunks of this size (as FileStreamSink does): a
/// side is done when its file holds all lines but at most the last unwritten chunk.
const WRITE_CHUNK: usize = 64 * 1024;
const TOPIC: &str = "sink-input";
const TIMEOUT: Duration = Duration::from_secs(300);

/// Partitions for `n` records.
pub fn partitions_for(n: usize) -> i32 {
    n.div_ceil(RECORDS_PER_PARTITION).max(1) as i32
}

/// The file lengths (bytes) a side's progress is timed at: 10% and 90% of the lines (the
/// steady-state window), and done: all lines but at most the last unwritten chunk. Also the
/// records the done length holds.
fn marks(n: usize) -> ([u64; 3], usize) {
    let line = (LINE_BYTES + 1) as u64;
    let full = n as u64 * line;
    let done = full.saturating_sub(WRITE_CHUNK as u64).max(1);
    let p10 = (n as u64 / 10).max(1) * line;
    let p90 = (n as u64 * 9 / 10).max(1) * line;
    (
        [p10.min(done), p90.min(done), done],
        done.div_ceil(line) as usize,
    )
}

/// One side's run.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    /// Records/s between 10% and 90% of the lines in the file.
    steady: f64,
    /// Records/s from the feed's start until the file is done.
    overall: f64,
    /// Records/s of the feeder, from its start to its last acknowledgement.
    feeder: f64,
}

impl Timing {
    fn new(n: usize, t0: Instant, at: &[Instant], fed: Instant) -> Timing {
        let ([p10, p90, _], done_records) = marks(n);
        let line = (LINE_BYTES + 1) as u64;
        Timing {
            steady: rate(((p90 - p10) / line) as usize, at[1] - at[0]),
            overall: rate(done_records, at[2] - t0),
            feeder: rate(n, fed - t0),
        }
    }
}

/// librdkafka consumer settings the sink benchmark runs with, on both sides: the defaults, then
/// a shorter `fetch.queue.backoff.ms` (its default, 1000 ms, idles a consumer for a second each
/// time its queue passes `queued.min.messages`, 100,000 records, summed over all partitions).
const VARIANTS: &[(&str, &[(&str, &str)])] = &[
    ("", &[]),
    (
        ", fetch.queue.backoff.ms=10",
        &[("fetch.queue.backoff.ms", "10")],
    ),
];

/// The like-for-like consumer settings (the last variant): what the target is judged on.
fn like_for_like() -> &'static [(&'static str, &'static str)] {
    VARIANTS[VARIANTS.len() - 1].1
}

pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let n = plan.lines;
    let partitions = partitions_for(n);
    if let Some(side) = &plan.sink_side {
        return one_side(plan, partitions, side).await;
    }
    let mut rows = Vec::new();
    let mut feeders = Vec::new();
    for (label, consumer) in VARIANTS {
        let (mut raw, mut kc) = (Timing::default(), Timing::default());
        for round in 0..plan.rounds {
            let r = raw_round(n, partitions, consumer, inproc::FILE_POLL).await?;
            let k = kconnect_round(n, partitions, consumer, inproc::FILE_POLL).await?;
            eprintln!(
                "  sink{label} round {}: raw {} steady, {} end to end (feeder {}); \
                 kconnect {} steady, {} end to end (feeder {})",
                round + 1,
                format_value(r.steady, Unit::PerSec),
                format_value(r.overall, Unit::PerSec),
                format_value(r.feeder, Unit::PerSec),
                format_value(k.steady, Unit::PerSec),
                format_value(k.overall, Unit::PerSec),
                format_value(k.feeder, Unit::PerSec),
            );
            if r.steady > raw.steady {
                raw = r;
            }
            if k.steady > kc.steady {
                kc = k;
            }
        }
        let ratio = kc.steady / raw.steady;
        if consumer.is_empty() {
            rows.push(Row::info(
                "sink: raw rdkafka consumer",
                raw.steady,
                Unit::PerSec,
            ));
            rows.push(Row::info(
                "sink: kconnect FileStreamSink",
                kc.steady,
                Unit::PerSec,
            ));
            rows.push(Row::info(
                "sink: kconnect / raw, each with its defaults",
                ratio,
                Unit::Ratio,
            ));
        } else {
            rows.push(Row::info(
                format!("sink{label}: raw"),
                raw.steady,
                Unit::PerSec,
            ));
            rows.push(Row::info(
                format!("sink{label}: kconnect"),
                kc.steady,
                Unit::PerSec,
            ));
            // Like for like: the target is judged on equal consumer settings.
            rows.push(Row::with_target(
                format!("sink{label}: kconnect / raw"),
                ratio,
                Unit::Ratio,
                Target::AtLeast(0.9),
            ));
        }
        rows.push(Row::info(
            format!("sink{label}: kconnect / raw, end to end"),
            kc.overall / raw.overall,
            Unit::Ratio,
        ));
        feeders.push(format!(
            "{} and {}{label}",
            format_value(raw.feeder, Unit::PerSec),
            format_value(kc.feeder, Unit::PerSec)
        ));
    }
    let ([_, _, done_len], done_records) = marks(n);
    Ok(Report {
        rows,
        notes: vec![format!(
            "**sink**: {} records of {LINE_BYTES} bytes, consumed while a raw producer \
             (kconnect's producer settings, connected and holding its idempotent producer id \
             before the clock starts) feeds the topic unthrottled (feeder rates in the best \
             rounds, raw and kconnect runs: {}). The embedded broker keeps only ~5 MB per \
             partition and kconnect's sink fails loudly when records it needs were dropped, so \
             the topic has {partitions} partitions (≤ {} records each, fed round-robin) and the \
             whole run fits what the broker retains: a consumer that falls behind still finds \
             every record, and no throttle is needed. kconnect: FileStreamSink (one task, \
             StringConverter, `offset.flush.interval.ms=1000`), RUNNING before the feed starts. \
             raw: an rdkafka `BaseConsumer`, assigned every partition from the beginning, \
             appending each value and a newline to a file in {} KiB writes as FileStreamSink \
             does. The first rows run each side with its defaults: librdkafka's for raw, under \
             which a consumer whose queue passes `queued.min.messages` (100,000 records, \
             counted over all its partitions) stops fetching for `fetch.queue.backoff.ms` (1 s), \
             and kconnect's, which sets that backoff to 10 ms for its sinks. The rows marked \
             `fetch.queue.backoff.ms=10` run both sides with it (kconnect: \
             `consumer.fetch.queue.backoff.ms`): the like-for-like comparison the target is \
             judged on. The ratio rows compare steady-state rates: \
             records/s while the output file grows from 10% to 90% of the lines (file size \
             checked every millisecond). *End to end* is from the feed's start until the file \
             holds {} bytes ({} records: all but the last write buffer, which the raw side \
             writes only once it has every record). Afterwards the bench checks that each file \
             holds all the lines. Fresh broker per run, best of {} alternating round(s).",
            thousands(n as u64),
            feeders.join("; "),
            thousands(RECORDS_PER_PARTITION as u64),
            WRITE_CHUNK / 1024,
            thousands(done_len),
            thousands(done_records as u64),
            plan.rounds
        )],
    })
}

/// `--sink-side`: one side's rounds alone, like for like, reported without a ratio.
async fn one_side(plan: &Plan, partitions: i32, side: &str) -> anyhow::Result<Report> {
    let n = plan.lines;
    let mut best = Timing::default();
    for _ in 0..plan.rounds {
        let t = match side {
            "raw" => raw_round(n, partitions, like_for_like(), inproc::ONE_SIDE_POLL).await?,
            _ => kconnect_round(n, partitions, like_for_like(), inproc::ONE_SIDE_POLL).await?,
        };
        if t.steady > best.steady {
            best = t;
        }
    }
    Ok(Report {
        rows: vec![Row::info(
            format!("sink ({side} side only, fetch.queue.backoff.ms=10)"),
            best.steady,
            Unit::PerSec,
        )],
        notes: vec![],
    })
}

/// The feeder's producer, connected and holding its idempotent producer id, so that its
/// start-up (a 500 ms retry timer in librdkafka) is not timed.
struct Feeder {
    producer: inproc::RawProducer,
    counting: Arc<inproc::Counting>,
}

async fn ready_feeder(broker: &EmbeddedBroker) -> anyhow::Result<Feeder> {
    broker.ensure_topic("sink-warm-up", 1)?;
    let bootstrap = broker.bootstrap_servers().to_string();
    tokio::task::spawn_blocking(move || {
        let (producer, counting) = inproc::raw_producer(&bootstrap)?;
        let mut once = true;
        inproc::raw_produce(&producer, &counting, "sink-warm-up", |buf| {
            inproc::line(0, buf);
            std::mem::take(&mut once).then_some(None)
        })?;
        Ok(Feeder { producer, counting })
    })
    .await?
}

/// Starts the feeder on a thread; the handle yields when every record was acknowledged.
fn feed(f: Feeder, n: usize, partitions: i32) -> std::thread::JoinHandle<anyhow::Result<Instant>> {
    std::thread::spawn(move || {
        let mut i = 0usize;
        inproc::raw_produce(&f.producer, &f.counting, TOPIC, |buf| {
            if i == n {
                return None;
            }
            inproc::line(i, buf);
            let p = (i % partitions as usize) as i32;
            i += 1;
            Some(Some(p))
        })?;
        Ok(Instant::now())
    })
}

/// Waits for the feeder thread without blocking the runtime.
async fn join_feeder(
    h: std::thread::JoinHandle<anyhow::Result<Instant>>,
) -> anyhow::Result<Instant> {
    tokio::task::spawn_blocking(move || h.join())
        .await?
        .map_err(|_| anyhow!("the feeder panicked"))?
}

async fn raw_round(
    n: usize,
    partitions: i32,
    settings: &[(&str, &str)],
    poll: Duration,
) -> anyhow::Result<Timing> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic(TOPIC, partitions)?;
    let feeder = ready_feeder(&broker).await?;
    let dir = ScratchDir::new("sink-raw")?;
    let output = dir.path("output.txt");
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("group.id", "bench-raw-sink")
        .set("client.id", "bench-raw-consumer")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in settings {
        config.set(*k, *v);
    }
    let consumer: BaseConsumer = config.create().context("creating the raw consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)?;
    }
    consumer
        .assign(&tpl)
        .context("assigning the raw consumer")?;
    let (stop, flag) = StopOnDrop::new();
    let out2 = output.clone();
    let consume = std::thread::spawn(move || raw_consume(consumer, &out2, n, &flag));
    let (stop_watch, flag2) = StopOnDrop::new();
    let out3 = output.clone();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_file_len(&out3, &marks(n).0, TIMEOUT, poll, &flag2)
    });
    let t0 = Instant::now();
    let fed = feed(feeder, n, partitions);
    let at = watch.await?;
    drop(stop_watch);
    let fed = join_feeder(fed).await;
    if at.is_none() {
        stop.0.store(true, Ordering::Relaxed);
    }
    let consumed = tokio::task::spawn_blocking(move || consume.join())
        .await?
        .map_err(|_| anyhow!("the raw consumer panicked"))?;
    drop(stop);
    let fed = fed?;
    consumed?;
    let at = at.ok_or_else(|| anyhow!("the raw consumer's file did not fill in time"))?;
    let lines = std::fs::metadata(&output)?.len() / (LINE_BYTES as u64 + 1);
    if lines != n as u64 {
        bail!("the raw consumer wrote {lines} lines, not {n}");
    }
    drop(broker);
    Ok(Timing::new(n, t0, &at, fed))
}

/// The raw consumer: polls, appends each value and a newline, writes in chunks.
pub(crate) fn raw_consume(
    consumer: BaseConsumer,
    path: &Path,
    n: usize,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut pending = Vec::with_capacity(WRITE_CHUNK + 1024);
    let mut got = 0usize;
    while got < n {
        if stop.load(Ordering::Relaxed) {
            bail!("the raw consumer stopped at {got} of {n} records");
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.context("raw consumer")?;
        pending.extend_from_slice(m.payload().unwrap_or_default());
        pending.push(b'\n');
        got += 1;
        if pending.len() >= WRITE_CHUNK {
            file.write_all(&pending)?;
            pending.clear();
        }
    }
    file.write_all(&pending)?;
    file.flush()?;
    Ok(())
}

async fn kconnect_round(
    n: usize,
    partitions: i32,
    settings: &[(&str, &str)],
    poll: Duration,
) -> anyhow::Result<Timing> {
    let broker = Arc::new(EmbeddedBroker::start()?);
    broker.create_topic(TOPIC, partitions)?;
    let keys: Vec<(String, &str)> = settings
        .iter()
        .map(|(k, v)| (format!("consumer.{k}"), *v))
        .collect();
    let mut worker_props = vec![("offset.flush.interval.ms", "1000")];
    worker_props.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
    let w = InProcWorker::start(&broker, &worker_props, PluginRegistry::builtin()).await?;
    let output = w.dir.path("output.txt");
    let result = kconnect_measure(&w, &broker, &output, n, partitions, poll).await;
    w.stop().await;
    drop(broker);
    result
}

async fn kconnect_measure(
    w: &InProcWorker,
    broker: &EmbeddedBroker,
    output: &Path,
    n: usize,
    partitions: i32,
    poll: Duration,
) -> anyhow::Result<Timing> {
    w.worker
        .add_connector(props(&[
            ("name", "bench-sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.to_string_lossy()),
            ("topics", TOPIC),
        ]))
        .await
        .map_err(|e| anyhow!("adding the FileStreamSink: {e}"))?;
    w.wait_running("bench-sink", 1).await?;
    let feeder = ready_feeder(broker).await?;
    let (stop, flag) = StopOnDrop::new();
    let out2 = output.to_path_buf();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_file_len(&out2, &marks(n).0, TIMEOUT, poll, &flag)
    });
    let t0 = Instant::now();
    let fed = feed(feeder, n, partitions);
    let at = tokio::select! {
        at = watch => at?,
        f = super::source::wait_failed(w) => {
            drop(stop);
            let _ = join_feeder(fed).await;
            bail!("the kconnect sink FAILED (did it fall behind the embedded broker's retention?): {f}");
        }
    };
    drop(stop);
    let fed = join_feeder(fed).await?;
    let at = at.ok_or_else(|| anyhow!("kconnect's sink file did not fill in time"))?;
    // The last lines reach the file with the `put` that delivers them.
    let full = n as u64 * (LINE_BYTES as u64 + 1);
    let (_s, never) = StopOnDrop::new();
    let out3 = output.to_path_buf();
    let complete = tokio::task::spawn_blocking(move || {
        inproc::wait_file_len(&out3, &[full], Duration::from_secs(15), poll, &never)
    })
    .await?;
    let len = std::fs::metadata(output)?.len();
    if complete.is_none() || len != full {
        bail!(
            "kconnect's sink file holds {len} bytes, not {full} ({n} lines); status: {:?}",
            w.status().all()
        );
    }
    Ok(Timing::new(n, t0, &at, fed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_fits_the_embedded_brokers_retention() {
        assert_eq!(partitions_for(1), 1);
        assert_eq!(partitions_for(25_000), 1);
        assert_eq!(partitions_for(1_000_000), 40);
        let ([p10, p90, done], records) = marks(1_000_000);
        assert_eq!((p10, p90), (10_100_000, 90_900_000));
        assert_eq!(done, 101_000_000 - 65_536);
        assert_eq!(records, (done as usize).div_ceil(101));
        assert_eq!(marks(10), ([1, 1, 1], 1));
    }
}
