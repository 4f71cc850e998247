//! Single message transforms on top of the JsonConverter (`schemas.enable=true`): the `json`
//! benchmark's struct through `InsertField$Value` (a static field) and `ReplaceField$Value` (a
//! rename and an exclude), against the converter alone on the same records, on one thread, in
//! both directions of a pipeline. The transforms come from a connector's `transforms.*` keys
//! through the [`TransformChain`] a task builds and applies (predicate checks and all):
//!
//! - sink: bytes → `to_connect` → a `SinkRecord` → the transforms;
//! - source: a `SourceRecord` as `poll` hands it over → the transforms → `from_connect_into`.
//!
//! Each loop is timed by the CPU time of its thread (`CLOCK_THREAD_CPUTIME_ID`), not the wall
//! clock, so that other processes on the machine do not count: records/s per core.
//!
//! The transforms change a record in place, so the source side needs a fresh record for each
//! one: the bench clones a template, times the clone alone too and takes it out of both sides
//! (in a pipeline the task's `poll` makes the record, neither the converter nor a transform).
//!
//! `--smt-loop LOOP --lines N` runs one loop alone over N records, for callgrind
//! (`scripts/callgrind-smt.sh` counts the instructions per record of each and the ratios).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use kconnect_connectors::api::Props;
use kconnect_connectors::converters::json::JsonConverter;
use kconnect_connectors::converters::Converter;
use kconnect_connectors::data::SchemaAndValue;
use kconnect_connectors::record::{SinkRecord, SourceRecord, TimestampType};
use kconnect_connectors::registry::PluginRegistry;
use kconnect_connectors::transforms::chain::TransformChain;

use super::json::{connect_schema, connect_value, converter};
use super::{format_value, thousands, Plan, Report, Row, Target, Unit};

/// Rounds of each measurement, alternating; the fastest round of each counts.
const ROUNDS: usize = 3;

/// The loops `--smt-loop` can run alone.
pub(crate) const LOOPS: [&str; 5] = [
    "sink-convert",
    "sink-both",
    "source-clone",
    "source-convert",
    "source-both",
];

/// The two transforms, from the keys a connector config sets, built by the chain a task
/// builds (so a stage's predicate check and error mapping are timed too).
fn transforms() -> anyhow::Result<TransformChain> {
    let props: Props = [
        ("transforms", "insert,rename"),
        (
            "transforms.insert.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.insert.static.field", "origin"),
        ("transforms.insert.static.value", "bench"),
        (
            "transforms.rename.type",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
        ),
        ("transforms.rename.renames", "customer:client"),
        ("transforms.rename.exclude", "note"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    TransformChain::new(&props, &PluginRegistry::builtin())
        .map_err(|e| anyhow!("building the transforms: {e}"))
}

fn sink_record(topic: &Arc<str>, sv: SchemaAndValue) -> SinkRecord {
    SinkRecord {
        topic: topic.clone(),
        partition: 0,
        offset: 0,
        timestamp: Some(0),
        timestamp_type: TimestampType::CreateTime,
        key_schema: None,
        key: kconnect_connectors::data::Value::Null,
        value_schema: sv.schema,
        value: sv.value,
        headers: Vec::new(),
    }
}

/// The CPU time this thread has used. The loops are timed by it rather than by the wall
/// clock: on a shared machine the wall clock also counts the time other processes held the
/// core, which swung the ratios by more than the transforms cost.
fn thread_cpu_time() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Per-record times of one round, in seconds.
fn per_record(m: usize, elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() / m as f64
}

/// What was measured: per-record seconds of each step, the best round of each.
struct Times {
    sink_convert: f64,
    sink_both: f64,
    source_clone: f64,
    source_convert: f64,
    source_both: f64,
}

/// What every loop works with: one converter, one chain, the same record as bytes (sink) and
/// as a `SourceRecord` (source).
struct Fixture {
    conv: JsonConverter,
    chain: TransformChain,
    topic: Arc<str>,
    bytes: Vec<u8>,
    template: SourceRecord,
    buf: Vec<u8>,
}

impl Fixture {
    fn new() -> anyhow::Result<Fixture> {
        let conv = converter()?;
        let schema = connect_schema();
        let value = connect_value(&schema)?;
        let bytes = conv
            .from_connect("t", Some(&schema), &value)
            .map_err(|e| anyhow!("from_connect: {e}"))?
            .ok_or_else(|| anyhow!("from_connect returned null"))?;
        let template = SourceRecord::new(
            Default::default(),
            Default::default(),
            "t",
            Some(schema.clone()),
            value,
        );
        Ok(Fixture {
            conv,
            chain: transforms()?,
            topic: "t".into(),
            bytes,
            template,
            buf: Vec::new(),
        })
    }

    /// What the transforms make of the record, converted: checked once before timing.
    fn transformed(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut r = self.template.clone();
        self.chain
            .apply(&mut r)
            .map_err(|e| anyhow!("the transforms failed: {e}"))?;
        let out = self
            .conv
            .from_connect("t", r.value_schema.as_ref(), &r.value)
            .map_err(|e| anyhow!("from_connect after the transforms: {e}"))?
            .ok_or_else(|| anyhow!("from_connect returned null"))?;
        let text = String::from_utf8(out.clone())?;
        let reshaped = text.contains(r#""client":"ACME Corporation, Building 7""#)
            && text.contains(r#""origin":"bench""#)
            && !text.contains("note")
            && !text.contains("customer");
        if !reshaped {
            bail!("the transforms did not do what they were configured to: {text}");
        }
        Ok(out)
    }

    /// Runs one loop (one of [`LOOPS`]) over `n` records.
    fn run(&mut self, name: &str, n: usize) -> Duration {
        let Fixture {
            conv,
            chain,
            topic,
            bytes,
            template,
            buf,
        } = self;
        let t = thread_cpu_time();
        match name {
            "sink-convert" => {
                for _ in 0..n {
                    if let Ok(sv) = conv.to_connect("t", Some(black_box(&bytes[..]))) {
                        black_box(sink_record(topic, sv));
                    }
                }
            }
            "sink-both" => {
                for _ in 0..n {
                    if let Ok(sv) = conv.to_connect("t", Some(black_box(&bytes[..]))) {
                        let mut r = sink_record(topic, sv);
                        black_box(chain.apply(&mut r).ok());
                        black_box(r);
                    }
                }
            }
            "source-clone" => {
                for _ in 0..n {
                    black_box(black_box(&*template).clone());
                }
            }
            "source-convert" => {
                for _ in 0..n {
                    let r = black_box(&*template).clone();
                    black_box(
                        conv.from_connect_into("t", r.value_schema.as_ref(), &r.value, buf)
                            .ok(),
                    );
                    black_box(r);
                }
            }
            "source-both" => {
                for _ in 0..n {
                    let mut r = black_box(&*template).clone();
                    black_box(chain.apply(&mut r).ok());
                    black_box(
                        conv.from_connect_into("t", r.value_schema.as_ref(), &r.value, buf)
                            .ok(),
                    );
                    black_box(r);
                }
            }
            other => unreachable!("no smt loop {other}"),
        }
        thread_cpu_time().saturating_sub(t)
    }
}

fn measure(m: usize) -> anyhow::Result<(Times, usize, usize)> {
    let mut f = Fixture::new()?;
    let out = f.transformed()?;
    let mut best = Times {
        sink_convert: f64::MAX,
        sink_both: f64::MAX,
        source_clone: f64::MAX,
        source_convert: f64::MAX,
        source_both: f64::MAX,
    };
    // A warm-up round of a tenth as many records, then the measured rounds.
    for round in 0..=ROUNDS {
        let n = if round == 0 { (m / 10).max(1) } else { m };
        let slots = [
            &mut best.sink_convert,
            &mut best.sink_both,
            &mut best.source_clone,
            &mut best.source_convert,
            &mut best.source_both,
        ];
        for (name, best) in LOOPS.iter().zip(slots) {
            let elapsed = f.run(name, n);
            if round > 0 {
                *best = best.min(per_record(n, elapsed));
            }
        }
    }
    Ok((best, f.bytes.len(), out.len()))
}

/// `--smt-loop`: one loop alone, once, for callgrind.
fn one_loop(name: &str, n: usize) -> anyhow::Result<Report> {
    let mut f = Fixture::new()?;
    f.transformed()?;
    let elapsed = f.run(name, n);
    Ok(Report {
        rows: vec![Row::info(
            format!("smt {name} (this loop only)"),
            1.0 / per_record(n, elapsed),
            Unit::PerSec,
        )],
        notes: vec![],
    })
}

/// The rows of one direction: converter alone, converter and transforms, what the transforms
/// cost relative to the conversion.
fn rows(side: &str, convert: f64, both: f64) -> Vec<Row> {
    vec![
        Row::info(
            format!("smt {side}: JsonConverter alone"),
            1.0 / convert,
            Unit::PerSec,
        ),
        Row::with_target(
            format!("smt {side}: JsonConverter + InsertField + ReplaceField"),
            1.0 / both,
            Unit::PerSec,
            Target::AtLeast(1_000_000.0),
        ),
        Row::with_target(
            format!("smt {side}: transforms' time / conversion's"),
            (both - convert) / convert,
            Unit::Ratio,
            Target::Below(0.2),
        ),
    ]
}

pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    if let Some((name, n)) = plan.smt_loop.clone() {
        return tokio::task::spawn_blocking(move || one_loop(&name, n)).await?;
    }
    let m = plan.json_records;
    let (t, len_in, len_out) = tokio::task::spawn_blocking(move || measure(m)).await??;
    let source_convert = t.source_convert - t.source_clone;
    let source_both = t.source_both - t.source_clone;
    eprintln!(
        "  smt: sink {} alone, {} with the transforms; source {} alone, {} with the \
         transforms (a clone of the record: {:.0} ns)",
        format_value(1.0 / t.sink_convert, Unit::PerSec),
        format_value(1.0 / t.sink_both, Unit::PerSec),
        format_value(1.0 / source_convert, Unit::PerSec),
        format_value(1.0 / source_both, Unit::PerSec),
        t.source_clone * 1e9
    );
    let mut all = rows("sink", t.sink_convert, t.sink_both);
    all.extend(rows("source", source_convert, source_both));
    let note = format!(
        "**smt**: the `json` benchmark's struct ({len_in} bytes with its schema envelope) \
         through one `JsonConverter` with `schemas.enable=true` and two of Connect's built-in \
         transforms, from a connector's `transforms.*` keys through the chain a task builds \
         and applies: `InsertField$Value` with \
         `static.field=origin`, `static.value=bench`, then `ReplaceField$Value` with \
         `renames=customer:client`, `exclude=note` ({len_out} bytes once transformed). *sink*: \
         `to_connect` of the bytes into a `SinkRecord`, then the transforms; *source*: a \
         `SourceRecord` through the transforms, then `from_connect_into` a reused buffer, as a \
         source task converts. The source side clones a template record for each record (the \
         transforms change it in place); the clone alone ({:.0} ns a record) is timed too and \
         taken out of both source rows, as in a pipeline `poll` makes the record. *JsonConverter \
         alone* is the same loop without the transforms; *transforms' time / conversion's* is \
         (with − alone) / alone per record. {} records per round, one thread timed by its own \
         CPU time (`CLOCK_THREAD_CPUTIME_ID`: records/s per core, whatever else runs on the \
         machine), a warm-up round of a tenth as many, then the fastest of {ROUNDS} alternating \
         rounds of each loop.",
        t.source_clone * 1e9,
        thousands(m as u64),
    );
    Ok(Report {
        rows: all,
        notes: vec![note],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transforms_reshape_the_bench_struct_as_configured() {
        let (_, len_in, len_out) = measure(10).unwrap();
        // `note` and its text go, `origin` comes in: the envelope is shorter.
        assert!(len_out < len_in, "{len_out} vs {len_in}");
    }
}
