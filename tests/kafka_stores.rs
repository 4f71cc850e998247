//! The Kafka-backed stores (`kconnect_actors::storage::kafka`) against the embedded broker:
//! records in Kafka Connect's formats, read back by other stores, at start and while following.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use kconnect::embedded_broker::EmbeddedBroker;
use kconnect_actors::context::OffsetStore;
use kconnect_actors::status::State;
use kconnect_actors::storage::kafka::{
    ConfigRecord, ConfigUpdate, KafkaConfigStore, KafkaLog, KafkaLogConfig, KafkaLogError,
    KafkaOffsetStore, KafkaStatusStore, LogRecord, Status, StatusRecord,
};
use kconnect_actors::TargetState;
use kconnect_connectors::api::Props;
use kconnect_connectors::record::OffsetMap;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(20);

fn broker_with(topics: &[(&str, i32)]) -> EmbeddedBroker {
    let broker = EmbeddedBroker::start().expect("embedded broker");
    for (topic, partitions) in topics {
        broker
            .create_topic(topic, *partitions)
            .expect("create topic");
    }
    broker
}

/// The mock answers fetches only when `fetch.wait.max.ms` expires: keep read-backs quick.
fn config(broker: &EmbeddedBroker, topic: &str) -> KafkaLogConfig {
    KafkaLogConfig::new(topic, broker.bootstrap_servers())
        .with_timeout(TIMEOUT)
        .with_props([("fetch.wait.max.ms", "10")])
}

fn map(value: Value) -> OffsetMap {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every record of the topic, read with a plain consumer: (partition, key, value) as text.
fn raw_records(
    broker: &EmbeddedBroker,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> Vec<(i32, String, Option<String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("group.id", "raw-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    while out.len() < expected && std::time::Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
            out.push((m.partition(), text(m.key()).unwrap(), text(m.payload())));
        }
    }
    assert_eq!(out.len(), expected, "records of {topic}: {out:?}");
    out
}

#[test]
fn offsets_are_shared_between_stores_in_connects_format() {
    let broker = broker_with(&[("connect-offsets", 25)]);
    let writer = KafkaOffsetStore::start(config(&broker, "connect-offsets")).unwrap();
    // Started before anything was written: it must pick the offsets up by following the topic.
    let follower = KafkaOffsetStore::start(config(&broker, "connect-offsets")).unwrap();

    let file_a = map(json!({"filename": "/tmp/a.txt"}));
    let file_b = map(json!({"filename": "/tmp/b.txt"}));
    let table = map(json!({"db": "x", "table": "t"}));
    writer
        .put_offsets(
            "local-file-source",
            &[
                (file_a.clone(), Some(map(json!({"position": 30})))),
                (file_b.clone(), Some(map(json!({"position": 7})))),
            ],
        )
        .unwrap();
    // Through the runtime's trait, as the offset committer writes: a future on tokio.
    let as_trait: Arc<dyn OffsetStore> = Arc::new(writer.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(as_trait.put(
            "db-source",
            vec![(table.clone(), Some(map(json!({"ts": 1.5, "id": 12}))))],
        ))
        .unwrap();
    // A write is readable by its writer at once.
    assert_eq!(
        writer.get("local-file-source", &file_a),
        Some(map(json!({"position": 30})))
    );

    // The follower's reader reads to the end first, as Connect's does.
    let reader = OffsetStore::reader(&follower, "local-file-source");
    assert_eq!(reader.offset(&file_a), Some(map(json!({"position": 30}))));
    assert_eq!(reader.offset(&file_b), Some(map(json!({"position": 7}))));
    // Key order of the partition does not matter.
    assert_eq!(
        follower.get("db-source", &map(json!({"table": "t", "db": "x"}))),
        Some(map(json!({"ts": 1.5, "id": 12})))
    );
    assert_eq!(follower.get("db-source", &file_a), None);

    // A store opened later reads everything at start.
    let late = KafkaOffsetStore::start(config(&broker, "connect-offsets")).unwrap();
    assert_eq!(
        late.get("local-file-source", &file_b),
        Some(map(json!({"position": 7})))
    );
    assert_eq!(
        late.connectors(),
        vec!["db-source".to_string(), "local-file-source".to_string()]
    );

    // Updates and tombstones.
    writer
        .put_offsets(
            "local-file-source",
            &[
                (file_a.clone(), None),
                (file_b.clone(), Some(map(json!({"position": 99})))),
            ],
        )
        .unwrap();
    late.refresh().unwrap();
    assert_eq!(late.get("local-file-source", &file_a), None);
    assert_eq!(
        late.get("local-file-source", &file_b),
        Some(map(json!({"position": 99})))
    );
    assert_eq!(
        OffsetStore::all(&follower, "local-file-source"),
        vec![(file_b.clone(), map(json!({"position": 99})))]
    );
    let reopened = KafkaOffsetStore::start(config(&broker, "connect-offsets")).unwrap();
    assert_eq!(reopened.get("local-file-source", &file_a), None);
    assert_eq!(
        reopened.get_all("local-file-source"),
        vec![(file_b.clone(), map(json!({"position": 99})))]
    );

    // The bytes on the topic are what Connect's JsonConverter (schemas.enable=false) writes
    // (OffsetStorageWriter: key [connector, partition], value the offset map or null).
    let records = raw_records(&broker, "connect-offsets", 25, 5);
    let mut seen: Vec<(String, Option<String>)> = records
        .iter()
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect();
    seen.sort();
    let mut expected: Vec<(String, Option<String>)> = vec![
        (
            r#"["db-source",{"db":"x","table":"t"}]"#.into(),
            Some(r#"{"ts":1.5,"id":12}"#.into()),
        ),
        (
            r#"["local-file-source",{"filename":"/tmp/a.txt"}]"#.into(),
            Some(r#"{"position":30}"#.into()),
        ),
        (
            r#"["local-file-source",{"filename":"/tmp/a.txt"}]"#.into(),
            None,
        ),
        (
            r#"["local-file-source",{"filename":"/tmp/b.txt"}]"#.into(),
            Some(r#"{"position":7}"#.into()),
        ),
        (
            r#"["local-file-source",{"filename":"/tmp/b.txt"}]"#.into(),
            Some(r#"{"position":99}"#.into()),
        ),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // One partition per key (murmur2, as Java producers), so a key's records stay in order.
    let partitions_of = |key: &str| {
        records
            .iter()
            .filter(|(_, k, _)| k == key)
            .map(|(p, _, _)| *p)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        partitions_of(r#"["local-file-source",{"filename":"/tmp/b.txt"}]"#).len(),
        1
    );

    for store in [writer, follower, late, reopened] {
        store.stop();
    }
}

#[test]
fn the_log_follows_the_topic_and_reads_to_the_end() {
    let broker = broker_with(&[("log-topic", 3)]);
    let (tx, rx) = mpsc::channel::<LogRecord>();
    let follower = KafkaLog::start(config(&broker, "log-topic"), move |r: &LogRecord| {
        let _ = tx.send(r.clone());
    })
    .unwrap();
    assert_eq!(follower.partition_count(), 3);
    let writer = KafkaLog::start(config(&broker, "log-topic"), |_: &LogRecord| {}).unwrap();
    let delivered = writer.send(Some(b"k1"), Some(b"v1")).unwrap();
    writer.send(Some(b"k1"), None).unwrap();
    writer.send(None, Some(b"no key")).unwrap();

    // Following, without anyone asking: records arrive in order within their partition.
    let mut got: Vec<LogRecord> = (0..3).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    got.sort_by_key(|r| (r.partition, r.offset));
    let k1: Vec<_> = got
        .iter()
        .filter(|r| r.key.as_deref() == Some(b"k1"))
        .collect();
    assert_eq!(k1.len(), 2);
    assert_eq!(k1[0].partition, delivered.partition);
    assert_eq!(k1[0].offset, delivered.offset);
    assert_eq!(k1[0].value.as_deref(), Some(&b"v1"[..]));
    assert_eq!(k1[1].value, None);
    assert!(got
        .iter()
        .any(|r| r.key.is_none() && r.value.as_deref() == Some(b"no key")));

    // read_to_end: once it returns, everything written before was applied.
    let (tx2, rx2) = mpsc::channel::<LogRecord>();
    let late = KafkaLog::start(config(&broker, "log-topic"), move |r: &LogRecord| {
        let _ = tx2.send(r.clone());
    })
    .unwrap();
    assert_eq!(rx2.try_iter().count(), 3, "start reads to the end");
    type Raw = (Option<Vec<u8>>, Option<Vec<u8>>);
    let batch: Vec<Raw> = (0..50)
        .map(|i| (Some(format!("key-{i}").into_bytes()), Some(vec![b'x'; i])))
        .collect();
    writer.send_all(&batch).unwrap();
    late.read_to_end().unwrap();
    assert_eq!(rx2.try_iter().count(), 50);

    writer.stop();
    follower.stop();
    late.stop();
    // Stopped logs refuse work with an error naming the topic.
    let e = late.send(Some(b"k"), Some(b"v")).unwrap_err();
    assert!(matches!(e, KafkaLogError::Stopped { .. }), "{e}");
    assert!(e.to_string().contains("log-topic"), "{e}");
    assert!(late.read_to_end().is_err());
}

#[test]
fn a_missing_topic_is_an_error_naming_it() {
    let broker = broker_with(&[]);
    let e = KafkaLog::start(
        config(&broker, "no-such-topic").with_timeout(Duration::from_secs(5)),
        |_: &LogRecord| {},
    )
    .err()
    .expect("no topic, no log");
    assert!(e.to_string().contains("no-such-topic"), "{e}");
}

#[test]
fn the_config_topic_applies_commits_as_connect_does() {
    let broker = broker_with(&[("connect-configs", 1), ("two-partitions", 2)]);
    let (tx, updates) = mpsc::channel();
    let leader = KafkaConfigStore::start(config(&broker, "connect-configs"), move |u| {
        let _ = tx.send(u.clone());
    })
    .unwrap();
    let source = props(&[
        ("connector.class", "FileStreamSource"),
        ("name", "file-source"),
        ("tasks.max", "2"),
    ]);
    leader
        .put_connector_config("file-source", &source, Some(TargetState::Paused))
        .unwrap();
    leader
        .put_task_configs(
            "file-source",
            &[props(&[("task", "0")]), props(&[("task", "1")])],
        )
        .unwrap();
    leader
        .put_target_state("file-source", TargetState::Stopped)
        .unwrap();

    let snapshot = leader.snapshot();
    assert_eq!(snapshot.connector_config("file-source"), Some(&source));
    assert_eq!(
        snapshot.target_state("file-source"),
        Some(TargetState::Stopped)
    );
    assert_eq!(
        snapshot.task_configs("file-source"),
        vec![props(&[("task", "0")]), props(&[("task", "1")])]
    );
    assert_eq!(snapshot.offset(), 6);
    let seen: Vec<ConfigUpdate> = updates.try_iter().collect();
    assert_eq!(
        seen,
        vec![
            ConfigUpdate::ConnectorConfigUpdated("file-source".into()),
            ConfigUpdate::TaskConfigsCommitted {
                connector: "file-source".into(),
                tasks: vec![0, 1]
            },
            ConfigUpdate::TargetStateChanged("file-source".into()),
        ]
    );

    // Raw records, as a Java worker would write them (KafkaConfigBackingStore's schemas): a
    // task config whose commit never came, then a commit with an incomplete set.
    let raw = KafkaLog::start(config(&broker, "connect-configs"), |_: &LogRecord| {}).unwrap();
    raw.send(
        Some(b"task-file-source-0"),
        Some(br#"{"properties":{"task":"uncommitted"}}"#),
    )
    .unwrap();
    // A second store, started now, rebuilds the same state from the topic.
    let follower = KafkaConfigStore::start(config(&broker, "connect-configs"), |_| {}).unwrap();
    let rebuilt = follower.snapshot();
    assert_eq!(
        rebuilt.task_configs("file-source"),
        snapshot.task_configs("file-source")
    );
    assert_eq!(rebuilt.pending_task_configs("file-source"), 1);
    assert_eq!(
        rebuilt.target_state("file-source"),
        Some(TargetState::Stopped)
    );

    raw.send(
        Some(b"task-file-source-1"),
        Some(br#"{"properties":{"task":"x"}}"#),
    )
    .unwrap();
    raw.send(Some(b"commit-file-source"), Some(br#"{"tasks":3}"#))
        .unwrap();
    follower.refresh().unwrap();
    let inconsistent = follower.snapshot();
    assert!(inconsistent.inconsistent().contains("file-source"));
    assert!(inconsistent.tasks("file-source").is_empty());
    assert_eq!(inconsistent.task_count("file-source"), Some(3));

    // A complete rewrite repairs it; deleting drops tasks and target state everywhere.
    leader
        .put_task_configs("file-source", &[props(&[("task", "only")])])
        .unwrap();
    follower.refresh().unwrap();
    assert_eq!(
        follower.snapshot().task_configs("file-source"),
        vec![props(&[("task", "only")])]
    );
    assert!(follower.snapshot().inconsistent().is_empty());
    leader.remove_connector_config("file-source").unwrap();
    follower.refresh().unwrap();
    let gone = follower.snapshot();
    assert!(!gone.contains("file-source"));
    assert!(gone.task_configs("file-source").is_empty());
    assert_eq!(gone.target_state("file-source"), None);

    // The bytes on the topic.
    let records = raw_records(&broker, "connect-configs", 1, 13);
    let text: Vec<(String, Option<String>)> = records.into_iter().map(|(_, k, v)| (k, v)).collect();
    let expected: Vec<(&str, Option<&str>)> = vec![
        (
            "target-state-file-source",
            Some(r#"{"state":"PAUSED","state.v2":"PAUSED"}"#),
        ),
        (
            "connector-file-source",
            Some(
                r#"{"properties":{"connector.class":"FileStreamSource","name":"file-source","tasks.max":"2"}}"#,
            ),
        ),
        ("task-file-source-0", Some(r#"{"properties":{"task":"0"}}"#)),
        ("task-file-source-1", Some(r#"{"properties":{"task":"1"}}"#)),
        ("commit-file-source", Some(r#"{"tasks":2}"#)),
        (
            "target-state-file-source",
            Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
        ),
        (
            "task-file-source-0",
            Some(r#"{"properties":{"task":"uncommitted"}}"#),
        ),
        ("task-file-source-1", Some(r#"{"properties":{"task":"x"}}"#)),
        ("commit-file-source", Some(r#"{"tasks":3}"#)),
        (
            "task-file-source-0",
            Some(r#"{"properties":{"task":"only"}}"#),
        ),
        ("commit-file-source", Some(r#"{"tasks":1}"#)),
        ("connector-file-source", None),
        ("target-state-file-source", None),
    ];
    let expected: Vec<(String, Option<String>)> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    assert_eq!(text, expected);
    // Every one of them decodes.
    for (k, v) in &text {
        ConfigRecord::decode(k, v.as_deref().map(str::as_bytes)).unwrap();
    }

    // The config topic must have one partition.
    let e = KafkaConfigStore::start(config(&broker, "two-partitions"), |_| {})
        .err()
        .expect("two partitions are refused");
    assert!(e.to_string().contains("two-partitions"), "{e}");
    leader.stop();
    follower.stop();
    raw.stop();
}

#[test]
fn statuses_are_shared_and_safe_writes_respect_generations() {
    let broker = broker_with(&[("connect-status", 5)]);
    let a = KafkaStatusStore::start(config(&broker, "connect-status")).unwrap();
    let b = KafkaStatusStore::start(config(&broker, "connect-status")).unwrap();
    let status = |state, worker: &str, generation| Status {
        state,
        trace: None,
        worker_id: worker.into(),
        generation,
    };
    a.put(&StatusRecord::Task {
        connector: "c".into(),
        task: 0,
        status: Some(status(State::Running, "a:8083", 5)),
    })
    .unwrap();
    b.refresh().unwrap();
    // B is in an older generation: its safe write must not replace A's status…
    let stale = StatusRecord::Task {
        connector: "c".into(),
        task: 0,
        status: Some(status(State::Unassigned, "b:8083", 4)),
    };
    assert!(!b.put_safe(&stale).unwrap());
    // …but a newer generation may.
    let newer = StatusRecord::Task {
        connector: "c".into(),
        task: 0,
        status: Some(status(State::Running, "b:8083", 6)),
    };
    assert!(b.put_safe(&newer).unwrap());
    a.refresh().unwrap();
    assert_eq!(a.snapshot().task("c", 0).unwrap().worker_id, "b:8083");

    let records = raw_records(&broker, "connect-status", 5, 2);
    let values: Vec<String> = records.into_iter().filter_map(|(_, _, v)| v).collect();
    assert!(values.contains(
        &r#"{"state":"RUNNING","trace":null,"worker_id":"a:8083","generation":5}"#.to_string()
    ));
    assert!(values.contains(
        &r#"{"state":"RUNNING","trace":null,"worker_id":"b:8083","generation":6}"#.to_string()
    ));
    a.stop();
    b.stop();
}
