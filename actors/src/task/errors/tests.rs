use std::sync::atomic::{AtomicU32, Ordering};

use kconnect_connectors::api::ErrantRecordReporter;
use kconnect_connectors::data::Value;
use kconnect_connectors::record::{SinkRecord, TimestampType};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::errant::{BatchOrigins, TaskErrantReporter};
use super::*;
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::restart::RestartPolicy;
use crate::task::convert::TaskConverters;

fn connector(pairs: &[(&str, &str)]) -> ConnectorConfig {
    let mut props: Props = [("name", "c"), ("connector.class", "FileStreamSink")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    props.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap()
}

/// The task's reporters with metrics of their own (a recorder local to the test).
fn reporters(c: &ConnectorConfig) -> (Arc<Reporters>, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let m = ::metrics::with_local_recorder(&recorder, || ErrorMetrics::new(&c.name, 3));
    let r = Reporters::new(&c.name, 3, &c.errors, m, None, Duration::from_secs(1));
    (Arc::new(r), handle)
}

fn handler(pairs: &[(&str, &str)]) -> (ErrorHandler, PrometheusHandle) {
    let c = connector(pairs);
    let (r, handle) = reporters(&c);
    (ErrorHandler::new(&c.errors, r), handle)
}

/// Each error metric of task c-3, by its Connect name.
fn counts(handle: &PrometheusHandle) -> Vec<(&'static str, f64)> {
    let text = handle.render();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains("task=\"3\""))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    [
        (
            "total-record-failures",
            crate::metrics::ERROR_RECORD_FAILURES,
        ),
        ("total-record-errors", crate::metrics::ERROR_RECORD_ERRORS),
        (
            "total-records-skipped",
            crate::metrics::ERROR_RECORDS_SKIPPED,
        ),
        ("total-retries", crate::metrics::ERROR_RETRIES),
        ("total-errors-logged", crate::metrics::ERROR_ERRORS_LOGGED),
        (
            "deadletterqueue-produce-requests",
            crate::metrics::ERROR_DLQ_PRODUCE_REQUESTS,
        ),
        (
            "deadletterqueue-produce-failures",
            crate::metrics::ERROR_DLQ_PRODUCE_FAILURES,
        ),
    ]
    .into_iter()
    .map(|(connect, name)| (connect, value(name)))
    .collect()
}

fn expect(
    failures: f64,
    errors: f64,
    skipped: f64,
    retries: f64,
    logged: f64,
) -> Vec<(&'static str, f64)> {
    vec![
        ("total-record-failures", failures),
        ("total-record-errors", errors),
        ("total-records-skipped", skipped),
        ("total-retries", retries),
        ("total-errors-logged", logged),
        ("deadletterqueue-produce-requests", 0.0),
        ("deadletterqueue-produce-failures", 0.0),
    ]
}

fn consumed() -> Consumed<'static> {
    Consumed {
        topic: "orders",
        partition: 2,
        offset: 41,
        timestamp: Some((1_700_000_000_123, TimestampType::CreateTime)),
        key: Some(b"k"),
        value: Some(b"{oops"),
        headers: vec![("h", Some(b"v"))],
    }
}

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// An operation failing retriably `times` times, then giving 7.
fn flaky(
    times: u32,
) -> (
    Arc<AtomicU32>,
    impl FnMut(&mut Consumed<'static>) -> ConnectResult<i32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let op = move |_: &mut Consumed<'static>| {
        if c.fetch_add(1, Ordering::SeqCst) < times {
            Err(ConnectError::Retriable("not yet".into()))
        } else {
            Ok(7)
        }
    };
    (calls, op)
}

#[tokio::test]
async fn a_retriable_failure_is_retried_until_the_operation_succeeds() {
    let (h, m) = handler(&[
        ("errors.retry.timeout", "-1"),
        ("errors.retry.delay.max.ms", "1"),
    ]);
    let (calls, mut op) = flaky(3);
    let mut record = consumed();
    let first = op(&mut record);
    let exec = Executing::new(Stage::ValueConverter, JSON);
    let got = h.settle(exec, &mut record, first, op).await.unwrap();
    assert_eq!(got, Some(7));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Three failed attempts, three retries, no error: the record went through.
    assert_eq!(counts(&m), expect(3.0, 0.0, 0.0, 3.0, 0.0));
}

#[tokio::test]
async fn without_a_retry_timeout_a_retriable_failure_is_final_and_skipped_under_all() {
    let (h, m) = handler(&[("errors.tolerance", "all")]);
    let (calls, mut op) = flaky(1);
    let mut record = consumed();
    let first = op(&mut record);
    let exec = Executing::new(Stage::KeyConverter, JSON);
    assert_eq!(h.settle(exec, &mut record, first, op).await.unwrap(), None);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "errors.retry.timeout=0: no retry"
    );
    assert_eq!(counts(&m), expect(1.0, 1.0, 1.0, 0.0, 0.0));
}

/// Kafka 4.0 (KAFKA-18073): retries running out under errors.tolerance=none fail the task.
#[tokio::test]
async fn retries_running_out_fail_the_task_under_none() {
    let (h, m) = handler(&[
        ("errors.retry.timeout", "30"),
        ("errors.retry.delay.max.ms", "5"),
    ]);
    let (calls, mut op) = flaky(u32::MAX);
    let mut record = consumed();
    let first = op(&mut record);
    let exec = Executing::new(Stage::ValueConverter, JSON);
    let e = h.settle(exec, &mut record, first, op).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tolerance exceeded in error handler at stage VALUE_CONVERTER: the value converter \
         org.apache.kafka.connect.json.JsonConverter failed on the record in orders-2 at offset \
         41: retriable: not yet"
    );
    let n = f64::from(calls.load(Ordering::SeqCst));
    assert!(n >= 2.0, "retried within the timeout: {n} calls");
    // Every attempt failed; every attempt after the first was a retry; one error, no skip.
    assert_eq!(counts(&m), expect(n, 1.0, 0.0, n - 1.0, 0.0));
}

#[tokio::test]
async fn other_failures_are_never_retried_and_the_log_counts_its_lines() {
    let pairs = [
        ("errors.retry.timeout", "-1"),
        ("errors.log.enable", "true"),
        ("errors.tolerance", "all"),
    ];
    let (h, m) = handler(&pairs);
    let mut record = consumed();
    let exec = Executing::transformation("cast", "org.apache.kafka.connect.transforms.Cast$Value");
    let got = h
        .settle(
            exec,
            &mut record,
            Err::<(), _>(ConnectError::data("no")),
            |_| panic!("a data error is not retried"),
        )
        .await
        .unwrap();
    assert_eq!(got, None);
    assert_eq!(counts(&m), expect(1.0, 1.0, 1.0, 0.0, 1.0));

    let (h, _) = handler(&[("errors.retry.timeout", "-1")]);
    let e = h
        .settle(
            exec,
            &mut record,
            Err::<(), _>(ConnectError::data("no")),
            |_| panic!("a data error is not retried"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tolerance exceeded in error handler at stage TRANSFORMATION: the transformation cast \
         (org.apache.kafka.connect.transforms.Cast$Value) failed on the record in orders-2 at \
         offset 41: data error: no"
    );
}

#[test]
fn the_backoff_doubles_from_300_ms_then_stays_random_below_the_maximum_and_within_the_deadline() {
    let retry = Retry {
        timeout: None,
        max_delay: Duration::from_millis(1000),
    };
    let now = Instant::now();
    let ms = |d: Duration| d.as_millis();
    assert_eq!(ms(retry.backoff(1, None, now)), 300);
    assert_eq!(ms(retry.backoff(2, None, now)), 600);
    for attempt in [3, 4, 40, 500] {
        assert!(retry.backoff(attempt, None, now) < Duration::from_millis(1000));
    }
    let deadline = Some(now + Duration::from_millis(100));
    assert_eq!(ms(retry.backoff(1, deadline, now)), 100);
    let no_delay = Retry {
        timeout: None,
        max_delay: Duration::ZERO,
    };
    assert_eq!(no_delay.backoff(1, None, now), Duration::ZERO);
}

#[test]
fn settings_follow_connect_s_keys_and_defaults() {
    let defaults = connector(&[]).errors;
    assert_eq!(defaults, ErrorSettings::default());
    assert!(!defaults.errant_reporter_enabled());
    let c = connector(&[
        ("errors.retry.timeout", "-1"),
        ("errors.retry.delay.max.ms", "250"),
        ("errors.tolerance", "all"),
        ("errors.log.include.messages", "true"),
        ("errors.deadletterqueue.topic.name", " dlq "),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("errors.deadletterqueue.context.headers.enable", "TRUE"),
    ]);
    assert_eq!(
        c.errors,
        ErrorSettings {
            retry_timeout: None,
            retry_delay_max: Duration::from_millis(250),
            tolerance: Tolerance::All,
            log: false,
            log_messages: true,
            dlq: DlqSettings {
                topic: Some("dlq".into()),
                replication_factor: 1,
                context_headers: true,
            },
        }
    );
    // Connect offers the errant record reporter with a queue or the error log.
    assert!(c.errors.errant_reporter_enabled());
    assert!(connector(&[("errors.log.enable", "true")])
        .errors
        .errant_reporter_enabled());
    assert!(!connector(&[("errors.tolerance", "all")])
        .errors
        .errant_reporter_enabled());
}

#[test]
fn log_lines_say_what_connect_s_log_reporter_says() {
    let sink = consumed();
    let exec = Executing::new(Stage::ValueConverter, JSON);
    assert_eq!(
        log::message("c-3", &exec, &sink, false),
        "Error encountered in task c-3. Executing stage 'VALUE_CONVERTER' with class \
         'org.apache.kafka.connect.json.JsonConverter'."
    );
    // The record's coordinates only: never its data.
    assert_eq!(
        log::message("c-3", &exec, &sink, true),
        "Error encountered in task c-3. Executing stage 'VALUE_CONVERTER' with class \
         'org.apache.kafka.connect.json.JsonConverter', where consumed record is \
         {topic='orders', partition=2, offset=41, timestamp=1700000000123, \
         timestampType=CreateTime}."
    );
}

#[test]
fn java_exception_classes_follow_the_error_kind() {
    assert_eq!(
        java_exception(&ConnectError::data("bad")),
        ("org.apache.kafka.connect.errors.DataException", "bad")
    );
    assert_eq!(
        java_exception(&ConnectError::Retriable("later".into())).0,
        "org.apache.kafka.connect.errors.RetriableException"
    );
    assert_eq!(
        java_exception(&ConnectError::other("x")).0,
        "org.apache.kafka.connect.errors.ConnectException"
    );
}

fn sink_record(topic: &str, partition: i32, offset: i64, value: &str) -> SinkRecord {
    SinkRecord {
        topic: topic.into(),
        partition,
        offset,
        timestamp: None,
        timestamp_type: TimestampType::CreateTime,
        key_schema: None,
        key: Value::Null,
        value_schema: None,
        value: Value::String(value.into()),
        headers: Vec::new(),
    }
}

fn errant(pairs: &[(&str, &str)]) -> (TaskErrantReporter, PrometheusHandle) {
    let c = connector(pairs);
    let (r, handle) = reporters(&c);
    let worker = WorkerConfig::parse(Props::new()).unwrap();
    let converters = Arc::new(TaskConverters::new(&worker, &c).unwrap());
    (TaskErrantReporter::new(r, converters), handle)
}

/// The batch `put` gets after a transform moved its records elsewhere, and their origins.
fn lent_batch() -> (Vec<SinkRecord>, BatchOrigins) {
    let batch = vec![
        sink_record("elsewhere", 0, 0, "a"),
        sink_record("elsewhere", 0, 1, "b"),
    ];
    let mut origins = BatchOrigins::new(true);
    let topic: Arc<str> = Arc::from("orders");
    for offset in [40, 41] {
        origins.push_parts(
            (&topic, 2, offset),
            None,
            None,
            Some(b"raw"),
            std::iter::empty(),
        );
    }
    (batch, origins)
}

#[test]
fn a_reported_record_is_known_by_its_place_in_the_batch_whatever_the_transforms_did() {
    let (reporter, m) = errant(&[("errors.log.enable", "true")]);
    let (batch, origins) = lent_batch();
    reporter.lend(&batch, origins);
    let e = reporter
        .report(&batch[1], ConnectError::other("refused"))
        .unwrap_err();
    // Named as it was consumed, not as the transforms left it.
    assert_eq!(
        e.to_string(),
        "Tolerance exceeded in error handler at stage TASK_PUT: the sink task failed on the \
         record in orders-2 at offset 41: refused"
    );
    // A clone is known by its coordinates as consumed, when they are unchanged...
    let (origins, _) = reporter.take_back();
    let (batch, _) = lent_batch();
    reporter.lend(&batch, origins);
    let e = reporter
        .report(&sink_record("orders", 2, 40, "a"), ConnectError::other("x"))
        .unwrap_err();
    assert!(e.to_string().contains("in orders-2 at offset 40"), "{e}");
    // ...and a record the task made up by its own.
    let e = reporter
        .report(&sink_record("mine", 9, 3, "z"), ConnectError::other("y"))
        .unwrap_err();
    assert!(e.to_string().contains("in mine-9 at offset 3"), "{e}");
    // The first refusal fails the task after put, even if put swallowed it.
    let (origins, refused) = reporter.take_back();
    assert_eq!(origins.len(), 2);
    assert!(refused.unwrap().to_string().contains("at offset 40"));
    assert_eq!(reporter.take_back().1, None);
    // Connect's executeFailed: a failure and an error each of the three, no skip, no retry;
    // each logged.
    assert_eq!(counts(&m), expect(3.0, 3.0, 0.0, 0.0, 3.0));
}

#[tokio::test]
async fn under_all_a_report_completes_at_once_without_a_queue_and_is_counted_as_a_failure() {
    let (reporter, m) = errant(&[("errors.log.enable", "true"), ("errors.tolerance", "all")]);
    let (batch, origins) = lent_batch();
    reporter.lend(&batch, origins);
    let written = reporter
        .report(&batch[0], ConnectError::other("refused"))
        .unwrap();
    assert_eq!(written.await, Ok(()));
    assert_eq!(reporter.take_back().1, None);
    assert_eq!(counts(&m), expect(1.0, 0.0, 0.0, 0.0, 1.0));
}

#[test]
fn origins_keep_the_bytes_only_for_a_queue_and_follow_the_batch_when_it_shrinks() {
    let topic: Arc<str> = Arc::from("t");
    let mut o = BatchOrigins::new(true);
    for offset in 0..3 {
        let value = format!("v{offset}");
        o.push_parts(
            (&topic, 0, offset),
            Some((5, TimestampType::LogAppendTime)),
            Some(b"k"),
            Some(value.as_bytes()),
            [("h", Some(&b"x"[..])), ("n", None)].into_iter(),
        );
    }
    o.retain(&[true, false, true]);
    assert_eq!(o.len(), 2);
    assert_eq!(
        o.consumed(1),
        Consumed {
            topic: "t",
            partition: 0,
            offset: 2,
            timestamp: Some((5, TimestampType::LogAppendTime)),
            key: Some(b"k"),
            value: Some(b"v2"),
            headers: vec![("h", Some(b"x")), ("n", None)],
        }
    );
    // Without a queue, the coordinates only.
    let mut bare = BatchOrigins::new(false);
    bare.push_parts(
        (&topic, 1, 9),
        None,
        Some(b"k"),
        Some(b"v"),
        [("h", None)].into_iter(),
    );
    assert_eq!(
        bare.consumed(0),
        Consumed {
            topic: "t",
            partition: 1,
            offset: 9,
            timestamp: None,
            key: None,
            value: None,
            headers: vec![],
        }
    );
    let (batch, _) = lent_batch();
    let (reporter, _) = errant(&[("errors.log.enable", "true")]);
    reporter.lend(&batch, o);
    // The second record of the batch is now the one consumed at offset 2.
    let e = reporter
        .report(&batch[1], ConnectError::other("no"))
        .unwrap_err();
    assert!(e.to_string().contains("in t-0 at offset 2"), "{e}");
    let (mut o, _) = reporter.take_back();
    o.clear();
    assert!(o.is_empty());
}
