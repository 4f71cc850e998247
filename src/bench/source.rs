//! FileStreamSource → embedded broker, against a raw rdkafka producer sending the same lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use kconnect_connectors::registry::PluginRegistry;

use super::inproc::{
    self, props, InProcWorker, ScratchDir, StopOnDrop, LINE_BYTES, MIN_WINDOW_CHECKS,
};
use super::{format_value, rate, thousands, Plan, Report, Row, Target, Unit};
use crate::embedded_broker::EmbeddedBroker;

const TIMEOUT: Duration = Duration::from_secs(300);

/// One side's run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Records/s from the start (client or connector creation) to the last acknowledgement.
    pub overall: f64,
    /// Records/s over the steady-state window (see [`inproc::Window`]), or why it was too
    /// short to time.
    pub steady: Result<f64, inproc::WindowTooShort>,
    /// Milliseconds from the start to the first record on the broker.
    pub first_ms: f64,
}

impl Timing {
    fn new(n: usize, t0: Instant, w: &inproc::Watermarks) -> Timing {
        Timing {
            overall: rate(n, w.done - t0),
            steady: w.steady.rate(),
            first_ms: (w.first - t0).as_secs_f64() * 1000.0,
        }
    }

    /// Whether `self` is a better round than `best`: a timed window beats none, and a faster
    /// one a slower one.
    fn beats(&self, best: &Option<Timing>) -> bool {
        match (best, self.steady) {
            (None, _) => true,
            (Some(b), Ok(s)) => b.steady.map_or(true, |bs| s > bs),
            (Some(_), Err(_)) => false,
        }
    }
}

/// The steady rate of a side's best round, or an error saying why there is none.
fn steady(side: &str, t: &Timing) -> anyhow::Result<f64> {
    t.steady
        .map_err(|e| anyhow!("no ratio: {side}'s best round could not be timed: {e}"))
}

/// `rec/s` of a round's steady window, or why there is none, for the progress lines.
fn steady_text(t: &Timing) -> String {
    match t.steady {
        Ok(r) => format!("{} steady", format_value(r, Unit::PerSec)),
        Err(e) => format!("steady not timed ({} checks)", e.0),
    }
}

pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let n = plan.lines;
    let dir = ScratchDir::new("source")?;
    let input = dir.path("input.txt");
    inproc::write_lines(&input, n)?;
    let broker = Arc::new(EmbeddedBroker::start()?);
    if let Some(side) = &plan.source_side {
        return one_side(plan, &broker, &input, side).await;
    }
    let (mut best_raw, mut best_kc) = (None, None);
    for round in 0..plan.rounds {
        let r = raw_round(&broker, &input, n, round, inproc::WATERMARK_POLL).await?;
        let k = kconnect_round(&broker, &input, n, round, inproc::WATERMARK_POLL).await?;
        eprintln!(
            "  source round {}: raw {}, {} overall, first record after {:.0} ms; \
             kconnect {}, {} overall, first record after {:.0} ms",
            round + 1,
            steady_text(&r),
            format_value(r.overall, Unit::PerSec),
            r.first_ms,
            steady_text(&k),
            format_value(k.overall, Unit::PerSec),
            k.first_ms,
        );
        if r.beats(&best_raw) {
            best_raw = Some(r);
        }
        if k.beats(&best_kc) {
            best_kc = Some(k);
        }
    }
    let (raw, kc) = match (best_raw, best_kc) {
        (Some(r), Some(k)) => (r, k),
        _ => bail!("no rounds ran"),
    };
    let (raw_steady, kc_steady) = (steady("the raw producer", &raw)?, steady("kconnect", &kc)?);
    Ok(Report {
        rows: vec![
            Row::info("source: raw rdkafka producer", raw_steady, Unit::PerSec),
            Row::info("source: kconnect FileStreamSource", kc_steady, Unit::PerSec),
            Row::with_target(
                "source: kconnect / raw",
                kc_steady / raw_steady,
                Unit::Ratio,
                Target::AtLeast(0.9),
            ),
        ],
        notes: vec![format!(
            "**source**: {} lines of {LINE_BYTES} bytes in a file → a one-partition topic on \
             the embedded broker. kconnect: FileStreamSource (one task, batch.size 2000) with \
             `value.converter=org.apache.kafka.connect.storage.StringConverter`, so the bytes on \
             the wire are the raw line's. raw: an rdkafka `BaseProducer` with kconnect's \
             producer settings (`enable.idempotence=true`, `acks=all`, librdkafka's defaults for \
             linger, batching and queue sizes, as kconnect uses without `producer.*` keys) reads \
             the same file line by line and sends each line. Progress is the topic's high \
             watermark, polled every 2 ms with a separate client, so only acknowledged records \
             count. The ratio compares steady-state rates: the records between the first check \
             that saw 10% of the lines on the broker and the first that saw 90%, over the time \
             between those checks; a side whose window spans fewer than {MIN_WINDOW_CHECKS} \
             checks that saw progress gets no ratio. Start-up is left out because a new idempotent \
             producer's first record waits for its producer id, which librdkafka retries on a \
             500 ms timer: the first record took {:.0} ms (raw) and {:.0} ms (kconnect) in the \
             best rounds, and from start to the last acknowledgement the sides did {} (raw) and \
             {} (kconnect). Same broker, a topic per run, best of {} alternating round(s).",
            thousands(n as u64),
            raw.first_ms,
            kc.first_ms,
            format_value(raw.overall, Unit::PerSec),
            format_value(kc.overall, Unit::PerSec),
            plan.rounds
        )],
    })
}

/// `--source-side`: one side's rounds alone, reported without a ratio.
async fn one_side(
    plan: &Plan,
    broker: &Arc<EmbeddedBroker>,
    input: &std::path::Path,
    side: &str,
) -> anyhow::Result<Report> {
    let mut best = None;
    for round in 0..plan.rounds {
        let t = match side {
            "raw" => raw_round(broker, input, plan.lines, round, inproc::ONE_SIDE_POLL).await?,
            _ => kconnect_round(broker, input, plan.lines, round, inproc::ONE_SIDE_POLL).await?,
        };
        if t.beats(&best) {
            best = Some(t);
        }
    }
    let best = best.ok_or_else(|| anyhow!("no rounds ran"))?;
    // This mode checks progress rarely (it is for callgrind), so a short run has no steady
    // window: its row is then the overall rate, and says so.
    let row = match best.steady {
        Ok(r) => Row::info(format!("source ({side} side only)"), r, Unit::PerSec),
        Err(_) => Row::info(
            format!("source ({side} side only), start to last ack"),
            best.overall,
            Unit::PerSec,
        ),
    };
    Ok(Report {
        rows: vec![row],
        notes: vec![],
    })
}

async fn raw_round(
    broker: &Arc<EmbeddedBroker>,
    input: &std::path::Path,
    n: usize,
    round: usize,
    poll: Duration,
) -> anyhow::Result<Timing> {
    let topic = format!("raw-source-{round}");
    broker.ensure_topic(&topic, 1)?;
    let bootstrap = broker.bootstrap_servers().to_string();
    let input = input.to_path_buf();
    let (b2, t2) = (bootstrap.clone(), topic.clone());
    let (_stop, flag) = StopOnDrop::new();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_high_watermark(&b2, &t2, 1, n as i64, TIMEOUT, poll, &flag)
    });
    let t0 = Instant::now();
    let sent = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let (producer, counting) = inproc::raw_producer(&bootstrap)?;
        inproc::raw_produce(&producer, &counting, &topic, inproc::file_lines(&input)?)
    })
    .await??;
    if sent != n as u64 {
        bail!("the raw producer read {sent} lines, not {n}");
    }
    let w = watch.await??;
    if w.records != n as i64 {
        bail!(
            "the raw producer's topic holds {} records, not {n}",
            w.records
        );
    }
    Ok(Timing::new(n, t0, &w))
}

async fn kconnect_round(
    broker: &Arc<EmbeddedBroker>,
    input: &std::path::Path,
    n: usize,
    round: usize,
    poll: Duration,
) -> anyhow::Result<Timing> {
    let w = InProcWorker::start(broker, &[], PluginRegistry::builtin()).await?;
    let topic = format!("kconnect-source-{round}");
    let (b2, t2) = (broker.bootstrap_servers().to_string(), topic.clone());
    let (stop, flag) = StopOnDrop::new();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_high_watermark(&b2, &t2, 1, n as i64, TIMEOUT, poll, &flag)
    });
    let t0 = Instant::now();
    w.worker
        .add_connector(props(&[
            ("name", "bench-source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.to_string_lossy()),
            ("topic", &topic),
        ]))
        .await
        .map_err(|e| anyhow!("adding the FileStreamSource: {e}"))?;
    let watched = tokio::select! {
        w = watch => w.context("watermark watcher")?,
        failed = wait_failed(&w) => Err(anyhow!("the kconnect source failed: {failed}")),
    };
    drop(stop);
    let failure = w.failure();
    w.stop().await;
    let w = watched?;
    if let Some(f) = failure {
        bail!("the kconnect source failed: {f}");
    }
    if w.records != n as i64 {
        bail!("kconnect's topic holds {} records, not {n}", w.records);
    }
    Ok(Timing::new(n, t0, &w))
}

/// Resolves once a task or connector of `w` is FAILED, with its trace.
pub async fn wait_failed(w: &InProcWorker) -> String {
    loop {
        if let Some(f) = w.failure() {
            return f;
        }
        w.status()
            .wait_until(Duration::from_secs(3600), |m| {
                m.values().any(|c| {
                    c.connector.state == kconnect_actors::status::State::Failed
                        || c.tasks
                            .values()
                            .any(|t| t.state == kconnect_actors::status::State::Failed)
                })
            })
            .await;
    }
}
