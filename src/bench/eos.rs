//! `eos`: exactly-once source throughput as a ratio to at-least-once, on one real Kafka broker
//! (`--kafka`).
//!
//! Each configuration runs one in-process distributed worker in a fresh group (internal topics
//! of its own) and one VerifiableSource task that emits as fast as it can, `--lines` records
//! (at most 200,000) to a topic of one partition. A `read_committed` consumer counts them; the
//! rate is taken from the connector's creation (the worker has joined its group by then) to the
//! last record read, so it includes the task's start (and, under exactly-once, its producer's
//! `init_transactions`): records become visible to such a reader only at each commit, so a rate
//! from the first record read would time only the last transactions. The configurations: `exactly.once.source.support=disabled` (the
//! default, at-least-once), and `enabled` with `transaction.boundary=poll` (a transaction per
//! poll: what a connector gets by default) and `interval` (every second).

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::java::{create_topic, unique};
use super::{rate, Plan, Report, Row, Unit};
use crate::distributed::{Distributed, DistributedWorkerConfig};

/// Bound of one configuration's run.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

struct Case {
    label: &'static str,
    support: &'static str,
    boundary: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        label: "at-least-once",
        support: "disabled",
        boundary: &[],
    },
    Case {
        label: "exactly-once, transaction.boundary=poll",
        support: "enabled",
        boundary: &[],
    },
    Case {
        label: "exactly-once, transaction.boundary=interval (1 s)",
        support: "enabled",
        boundary: &[
            ("transaction.boundary", "interval"),
            ("transaction.boundary.interval.ms", "1000"),
        ],
    },
];

pub async fn run(plan: &Plan, bootstrap: &str) -> anyhow::Result<Report> {
    let records = plan.lines.min(200_000);
    let mut report = Report::default();
    let mut baseline = None;
    for case in CASES {
        let per_sec = run_case(case, bootstrap, records).await?;
        report.rows.push(Row::info(
            format!("eos: VerifiableSource, {} (real Kafka)", case.label),
            per_sec,
            Unit::PerSec,
        ));
        match baseline {
            None => baseline = Some(per_sec),
            Some(alo) => report.rows.push(Row::info(
                format!("eos: {} / at-least-once", case.label),
                per_sec / alo,
                Unit::Ratio,
            )),
        }
    }
    report.notes.push(format!(
        "eos: {records} records of one VerifiableSource task to a one-partition topic, counted \
         by a read_committed consumer, from the connector's creation to the last record read; \
         one in-process distributed worker per configuration. VerifiableSource returns up to \
         1,000 records per poll, so `poll` commits a transaction per 1,000 records, each \
         commit awaited before the next poll."
    ));
    Ok(report)
}

async fn run_case(case: &Case, bootstrap: &str, records: usize) -> anyhow::Result<f64> {
    let name = unique("eos");
    let topic = format!("{name}-seq");
    create_topic(bootstrap, &topic, 1).await?;
    let props = [
        ("bootstrap.servers", bootstrap.to_string()),
        ("listeners", "http://127.0.0.1:0".into()),
        ("group.id", name.clone()),
        ("config.storage.topic", format!("{name}-configs")),
        ("offset.storage.topic", format!("{name}-offsets")),
        ("status.storage.topic", format!("{name}-status")),
        ("config.storage.replication.factor", "1".into()),
        ("offset.storage.replication.factor", "1".into()),
        ("status.storage.replication.factor", "1".into()),
        ("exactly.once.source.support", case.support.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = DistributedWorkerConfig::from_props(std::path::Path::new("bench-eos"), props)
        .context("worker config")?;
    let worker = Distributed::start(config, None)
        .await
        .context("starting the worker")?;
    let mut connector = json!({
        "connector.class": "VerifiableSourceConnector",
        "tasks.max": "1",
        "topic": topic,
        "throughput": "-1",
        "max.messages": records.to_string(),
    });
    for (k, v) in case.boundary {
        connector[*k] = json!(v);
    }
    let counted = {
        let bootstrap = bootstrap.to_string();
        let topic = topic.clone();
        tokio::task::spawn_blocking(move || count_committed(&bootstrap, &topic, records))
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .post(format!("{}/connectors", worker.rest_url))
            .json(&json!({"name": "eos-bench", "config": connector}))
            .send()
            .await?;
        if r.status().as_u16() == 201 {
            break;
        }
        // Before its first assignment the worker may still answer 409.
        if Instant::now() > deadline {
            bail!("creating the connector: {} {}", r.status(), r.text().await?);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let created = Instant::now();
    let result = counted.await?;
    worker.stop().await;
    let last = result?;
    Ok(rate(records, last.saturating_duration_since(created)))
}

/// Reads `topic` with `read_committed` until `records` records arrived; when the last did.
fn count_committed(bootstrap: &str, topic: &str, records: usize) -> anyhow::Result<Instant> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("eos-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut seen = 0;
    while seen < records {
        if Instant::now() > deadline {
            bail!("{topic}: {seen} of {records} records after {RUN_TIMEOUT:?}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => seen += 1,
            Some(Err(e)) => bail!("reading {topic}: {e}"),
            None => {}
        }
    }
    Ok(Instant::now())
}
