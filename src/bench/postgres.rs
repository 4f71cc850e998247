//! The PostgreSQL source → embedded broker, against `COPY … TO STDOUT` of the same table through
//! the same client library (tokio-postgres): how much the connector costs over reading the rows
//! as fast as PostgreSQL hands them out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use futures::StreamExt;
use kconnect_connectors::registry::PluginRegistry;
use tokio_postgres::NoTls;

use super::inproc::{self, props, InProcWorker, StopOnDrop};
use super::source::wait_failed;
use super::{format_value, rate, thousands, Plan, Report, Row, Unit};
use crate::embedded_broker::EmbeddedBroker;

const TIMEOUT: Duration = Duration::from_secs(600);
const SCHEMA: &str = "kconnect_bench";
const TABLE: &str = "rows";

/// Rows of the table: a fifth of `--lines` (200,000 by default, 4,000 with `--quick`).
fn rows(plan: &Plan) -> usize {
    (plan.lines / 5).max(1)
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| "connecting to the PostgreSQL of --postgres")?;
    tokio::spawn(conn);
    Ok(client)
}

pub async fn run(plan: &Plan, url: &str) -> anyhow::Result<Report> {
    let n = rows(plan);
    let client = connect(url).await?;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};
             CREATE TABLE {SCHEMA}.{TABLE} (id bigserial PRIMARY KEY, name text NOT NULL,
               amount numeric(12,2) NOT NULL, flag boolean NOT NULL,
               created timestamptz NOT NULL, note text);
             INSERT INTO {SCHEMA}.{TABLE} (name, amount, flag, created, note)
             SELECT 'customer ' || g, (g % 100000) / 100.0, g % 2 = 0,
               TIMESTAMPTZ '2024-01-01' + g * INTERVAL '1 second',
               CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('x', 40) END
             FROM generate_series(1, {n}) g;
             ANALYZE {SCHEMA}.{TABLE};"
        ))
        .await
        .context("creating the benchmark table")?;
    let broker = Arc::new(EmbeddedBroker::start()?);
    let (mut copy, mut kc) = (0f64, 0f64);
    let mut kc_overall = 0f64;
    for round in 0..plan.rounds {
        let c = copy_round(&client, n).await?;
        let (steady, overall) = kconnect_round(&broker, url, n, round).await?;
        eprintln!(
            "  postgres round {}: COPY {}; kconnect {} steady, {} overall",
            round + 1,
            format_value(c, Unit::PerSec),
            format_value(steady, Unit::PerSec),
            format_value(overall, Unit::PerSec),
        );
        copy = copy.max(c);
        if steady > kc {
            kc = steady;
            kc_overall = overall;
        }
    }
    let (sink_rows, sink_note) =
        super::postgres_sink::run(&client, &broker, url, n, plan.rounds).await?;
    client
        .batch_execute(&format!("DROP SCHEMA {SCHEMA} CASCADE"))
        .await
        .context("dropping the benchmark schema")?;
    let mut rows = vec![
        Row::info("postgres source: COPY … TO STDOUT", copy, Unit::PerSec),
        Row::info("postgres source: kconnect PostgresSource", kc, Unit::PerSec),
        Row::info("postgres source: kconnect / COPY", kc / copy, Unit::Ratio),
    ];
    rows.extend(sink_rows);
    Ok(Report {
        rows,
        notes: vec![
            format!(
                "**postgres source**: a table of {} rows (bigserial id, text, numeric(12,2), \
             boolean, timestamptz, a nullable text) on the server of `--postgres`. COPY: \
             `COPY {SCHEMA}.{TABLE} TO STDOUT` (text format) through tokio-postgres, rows \
             counted as newlines. kconnect: PostgresSource in incrementing mode (one task, \
             `batch.max.rows` 1000, the JsonConverter with schemas) into a one-partition topic \
             on the embedded broker, records/s while the topic's high watermark goes from 10% \
             to 90% of the rows (from connector creation to the last record: {}). So kconnect's \
             number includes what COPY's does not: decoding each value into Connect's data \
             model, JSON conversion and producing to the broker. Best of {} alternating \
             round(s).",
                thousands(n as u64),
                format_value(kc_overall, Unit::PerSec),
                plan.rounds
            ),
            sink_note,
        ],
    })
}

/// Rows/s of `COPY … TO STDOUT`.
async fn copy_round(client: &tokio_postgres::Client, n: usize) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let stream = client
        .copy_out(&format!("COPY {SCHEMA}.{TABLE} TO STDOUT"))
        .await
        .context("COPY TO STDOUT")?;
    futures::pin_mut!(stream);
    let mut lines = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("reading COPY's output")?;
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let took = t0.elapsed();
    if lines != n {
        bail!("COPY gave {lines} rows, not {n}");
    }
    Ok(rate(n, took))
}

/// The connector's steady and overall rows/s.
async fn kconnect_round(
    broker: &Arc<EmbeddedBroker>,
    url: &str,
    n: usize,
    round: usize,
) -> anyhow::Result<(f64, f64)> {
    let w = InProcWorker::start(
        broker,
        &[(
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        )],
        PluginRegistry::builtin(),
    )
    .await?;
    let prefix = format!("pg-{round}-");
    let topic = format!("{prefix}{TABLE}");
    broker.ensure_topic(&topic, 1)?;
    let (b2, t2) = (broker.bootstrap_servers().to_string(), topic.clone());
    let (stop, flag) = StopOnDrop::new();
    let watch = tokio::task::spawn_blocking(move || {
        inproc::wait_high_watermark(
            &b2,
            &t2,
            1,
            n as i64,
            TIMEOUT,
            inproc::WATERMARK_POLL,
            &flag,
        )
    });
    let t0 = Instant::now();
    w.worker
        .add_connector(props(&[
            ("name", "bench-postgres"),
            ("connector.class", "PostgresSource"),
            ("connection.url", url),
            ("mode", "incrementing"),
            ("table.whitelist", &format!("{SCHEMA}.{TABLE}")),
            ("topic.prefix", &prefix),
        ]))
        .await
        .map_err(|e| anyhow!("adding the PostgresSource: {e}"))?;
    let watched = tokio::select! {
        w = watch => w.context("watermark watcher")?,
        failed = wait_failed(&w) => Err(anyhow!("the PostgreSQL source failed: {failed}")),
    };
    drop(stop);
    w.stop().await;
    let wm = watched?;
    if wm.records != n as i64 {
        bail!("kconnect's topic holds {} records, not {n}", wm.records);
    }
    Ok((wm.steady.rate()?, rate(n, wm.done - t0)))
}
