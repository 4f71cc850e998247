//! Pre-filled topic on the embedded broker → PostgresSink, against a batched insert of the same
//! rows through the same client library (tokio-postgres): how much the connector costs over
//! writing the rows as the sink's own statement shape allows.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _};
use kconnect_connectors::registry::PluginRegistry;
use tokio_postgres::Client;

use super::inproc::{self, props, InProcWorker};
use super::source::wait_failed;
use super::{rate, thousands, Row, Unit};
use crate::embedded_broker::EmbeddedBroker;

const SCHEMA: &str = "kconnect_bench";
const TOPIC: &str = "pg-sink-input";
/// The sink's default `batch.size`; the baseline writes batches of the same size.
const BATCH: usize = 3000;
/// Records per partition: a ~650-byte record with its schema, well under the 5 MB a partition
/// of the embedded broker retains.
const PER_PARTITION: usize = 4000;
const TIMEOUT: Duration = Duration::from_secs(600);
const COLUMNS: &str = "id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2) NOT NULL, \
    flag boolean NOT NULL, created timestamp NOT NULL, note text";
const INSERT: &str = "INSERT INTO {table} (id, name, amount, flag, created, note) \
    SELECT v.c0, v.c1, v.c2::numeric, v.c3, v.c4, v.c5 FROM UNNEST($1::int8[], $2::text[], \
    $3::text[], $4::bool[], $5::timestamp[], $6::text[]) AS v(c0, c1, c2, c3, c4, c5)";

/// Row `i` (from 1): id, name, amount (cents), flag, created (Unix ms), note.
fn row(i: usize) -> (i64, String, i64, bool, i64, Option<String>) {
    (
        i as i64,
        format!("customer {i}"),
        (i % 100_000) as i64,
        i % 2 == 0,
        1_704_067_200_000 + i as i64 * 1000,
        (i % 3 != 0).then(|| "x".repeat(40)),
    )
}

fn amount_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The JSON-with-schema record of row `i`; the amount a Decimal of scale 2 (base64 of its
/// unscaled big-endian bytes).
fn record(i: usize, buf: &mut Vec<u8>) {
    use base64::Engine as _;
    let (id, name, cents, flag, created, note) = row(i);
    let bytes = cents.to_be_bytes();
    // The shortest two's complement form: drop leading zero bytes while the sign stays positive.
    let mut skip = 0;
    while skip < 7 && bytes[skip] == 0 && bytes[skip + 1] & 0x80 == 0 {
        skip += 1;
    }
    let amount = base64::engine::general_purpose::STANDARD.encode(&bytes[skip..]);
    let v = serde_json::json!({
        "schema": {"type": "struct", "name": "rows", "optional": false, "fields": [
            {"type": "int64", "optional": false, "field": "id"},
            {"type": "string", "optional": false, "field": "name"},
            {"type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal",
             "version": 1, "parameters": {"scale": "2"}, "field": "amount"},
            {"type": "boolean", "optional": false, "field": "flag"},
            {"type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp",
             "version": 1, "field": "created"},
            {"type": "string", "optional": true, "field": "note"}]},
        "payload": {"id": id, "name": name, "amount": amount, "flag": flag,
            "created": created, "note": note}});
    buf.clear();
    serde_json::to_writer(&mut *buf, &v).expect("JSON to memory");
}

async fn count(client: &Client, table: &str) -> anyhow::Result<i64> {
    Ok(client
        .query_one(&format!("SELECT count(*) FROM {SCHEMA}.{table}"), &[])
        .await
        .with_context(|| format!("counting {table}"))?
        .get(0))
}

/// Sink rows: (kconnect rows/s, baseline rows/s), best of `rounds`, and the note.
pub async fn run(
    client: &Client,
    broker: &Arc<EmbeddedBroker>,
    url: &str,
    n: usize,
    rounds: usize,
) -> anyhow::Result<(Vec<Row>, String)> {
    let partitions = n.div_ceil(PER_PARTITION).max(1) as i32;
    broker.ensure_topic(TOPIC, partitions)?;
    let (producer, counting) = inproc::raw_producer(broker.bootstrap_servers())?;
    let mut i = 0usize;
    tokio::task::block_in_place(|| {
        inproc::raw_produce(&producer, &counting, TOPIC, |buf| {
            i += 1;
            (i <= n).then(|| {
                record(i, buf);
                Some(((i - 1) / PER_PARTITION) as i32)
            })
        })
    })?;
    let (mut kc, mut raw) = (0f64, 0f64);
    for round in 0..rounds {
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {SCHEMA}.sink_kc, {SCHEMA}.sink_raw;
                 CREATE TABLE {SCHEMA}.sink_kc ({COLUMNS});
                 CREATE TABLE {SCHEMA}.sink_raw ({COLUMNS});"
            ))
            .await
            .context("creating the sink benchmark tables")?;
        let r = raw_round(client, n).await?;
        let k = kconnect_round(client, broker, url, n, round).await?;
        eprintln!(
            "  postgres sink round {}: batched insert {r:.0}/s; kconnect {k:.0}/s",
            round + 1
        );
        raw = raw.max(r);
        kc = kc.max(k);
    }
    let rows = vec![
        Row::info("postgres sink: batched INSERT … UNNEST", raw, Unit::PerSec),
        Row::info("postgres sink: kconnect PostgresSink", kc, Unit::PerSec),
        Row::info(
            "postgres sink: kconnect / batched insert",
            kc / raw,
            Unit::Ratio,
        ),
    ];
    let note = format!(
        "**postgres sink**: {} records (the source benchmark's columns: bigint id, text, \
         numeric(12,2), boolean, timestamp, a nullable text) as JSON with schemas, pre-filled in \
         a {partitions}-partition topic on the embedded broker. kconnect: PostgresSink (one \
         task, insert mode, the JsonConverter) into a pre-created table, rows/s from connector \
         creation until the table holds every row. Baseline: the same rows built in memory and \
         written through tokio-postgres with the statement shape the sink uses, `INSERT … \
         SELECT … FROM UNNEST($1::int8[], …)` (one array per column, prepared once), {BATCH} \
         rows (the sink's default `batch.size`) per statement, each in its own transaction. \
         kconnect's number includes consuming, JSON decoding and the conversion to Connect's \
         data model. Best of {rounds} round(s).",
        thousands(n as u64)
    );
    Ok((rows, note))
}

async fn raw_round(client: &Client, n: usize) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let stmt = client
        .prepare(&INSERT.replace("{table}", &format!("{SCHEMA}.sink_raw")))
        .await
        .context("preparing the baseline insert")?;
    let mut first = 1;
    while first <= n {
        let last = (first + BATCH - 1).min(n);
        let (mut ids, mut names, mut amounts, mut flags, mut created, mut notes) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in first..=last {
            let (id, name, cents, flag, ms, note) = row(i);
            ids.push(id);
            names.push(name);
            amounts.push(amount_text(cents));
            flags.push(flag);
            created.push(SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64));
            notes.push(note);
        }
        client.batch_execute("BEGIN").await?;
        client
            .execute(&stmt, &[&ids, &names, &amounts, &flags, &created, &notes])
            .await
            .context("the baseline insert")?;
        client.batch_execute("COMMIT").await?;
        first = last + 1;
    }
    let took = t0.elapsed();
    let got = count(client, "sink_raw").await?;
    if got != n as i64 {
        bail!("the baseline wrote {got} rows, not {n}");
    }
    Ok(rate(n, took))
}

async fn kconnect_round(
    client: &Client,
    broker: &Arc<EmbeddedBroker>,
    url: &str,
    n: usize,
    round: usize,
) -> anyhow::Result<f64> {
    let w = InProcWorker::start(broker, &[], PluginRegistry::builtin()).await?;
    let t0 = Instant::now();
    w.worker
        .add_connector(props(&[
            ("name", &format!("bench-postgres-sink-{round}")),
            ("connector.class", "PostgresSink"),
            ("connection.url", url),
            ("topics", TOPIC),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("insert.mode", "insert"),
            ("table.name.format", &format!("{SCHEMA}.sink_kc")),
        ]))
        .await
        .map_err(|e| anyhow!("adding the PostgresSink: {e}"))?;
    let done = async {
        loop {
            if count(client, "sink_kc").await? >= n as i64 {
                return anyhow::Ok(t0.elapsed());
            }
            if t0.elapsed() > TIMEOUT {
                bail!("the PostgresSink did not write {n} rows in {TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let took = tokio::select! {
        d = done => d?,
        failed = wait_failed(&w) => bail!("the PostgreSQL sink failed: {failed}"),
    };
    w.stop().await;
    Ok(rate(n, took))
}
