//! `producer.override.*`, `consumer.override.*` and `admin.override.*` on connector configs:
//! the worker's `connector.client.config.override.policy` (`All`, `None`, `Principal`) as the
//! validate endpoint, create and update apply it, in Connect's response shape and message; and
//! overrides reaching the clients of running tasks, seen from the broker's side.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

struct Api {
    base: String,
    http: reqwest::Client,
    running: kconnect::standalone::Standalone,
    dir: tempfile::TempDir,
}

impl Api {
    async fn start(extra: &[(&str, &str)]) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = vec![("offset.flush.interval.ms", "100")];
        keys.extend_from_slice(extra);
        let running = standalone_worker(dir.path(), &keys).await;
        Api {
            base: format!("http://{}", running.rest_addr),
            http: reqwest::Client::new(),
            running,
            dir,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, v)
    }

    async fn validate(&self, config: &Value) -> Value {
        let class = config["connector.class"].as_str().unwrap();
        let (s, v) = self
            .call(
                "PUT",
                &format!("/connector-plugins/{class}/config/validate"),
                Some(config.clone()),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

/// The `(value, errors)` of every `*.override.*` entry of a validate answer.
fn overrides(v: &Value) -> Vec<(String, Value, Value)> {
    v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["value"]["name"].as_str().unwrap().contains(".override."))
        .map(|c| {
            // No client ConfigDefs in kconnect: these entries carry no definition.
            assert!(c["definition"].is_null(), "{c}");
            (
                c["value"]["name"].as_str().unwrap().to_string(),
                c["value"]["value"].clone(),
                c["value"]["errors"].clone(),
            )
        })
        .collect()
}

fn refused(policy: &str, key: &str) -> Value {
    json!([format!(
        "The '{policy}' policy does not allow '{key}' to be overridden in the connector \
         configuration."
    )])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_create_and_update_apply_each_override_policy() {
    let source = json!({
        "name": "src", "connector.class": "FileStreamSource", "topic": "t", "file": "/dev/null",
        "producer.override.acks": "1",
        "producer.override.sasl.mechanism": "PLAIN",
        "producer.override.ssl.key.password": "pw-5521ab",
        // A source has no consumer, nor (without topic.creation.*) an admin client: Connect
        // checks only the clients a connector uses.
        "consumer.override.max.poll.records": "5",
        "admin.override.request.timeout.ms": "100",
    });
    let sink = json!({
        "name": "snk", "connector.class": "FileStreamSink", "topics": "t", "file": "/dev/null",
        "consumer.override.security.protocol": "PLAINTEXT",
        "consumer.override.client.id": "mine",
        "producer.override.acks": "1",
    });
    // With a dead letter queue a sink also has a producer and an admin client.
    let mut sink_with_dlq = sink.clone();
    sink_with_dlq["errors.deadletterqueue.topic.name"] = json!("dlq");
    sink_with_dlq["admin.override.sasl.jaas.config"] = json!("secret-jaas");

    let o = |k: &str, v: &str, e: Value| (k.to_string(), json!(v), e);
    let none = json!([]);
    for (policy, worker_keys) in [
        ("All", vec![]),
        (
            "None",
            vec![("connector.client.config.override.policy", "None")],
        ),
        (
            "Principal",
            vec![(
                "connector.client.config.override.policy",
                "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy",
            )],
        ),
    ] {
        let api = Api::start(&worker_keys).await;
        let allowed = |key: &str| match policy {
            "All" => true,
            "None" => false,
            _ => ["sasl.jaas.config", "sasl.mechanism", "security.protocol"].contains(&key),
        };
        let errors = |key: &str| {
            if allowed(key) {
                none.clone()
            } else {
                refused(policy, key)
            }
        };
        let v = api.validate(&source).await;
        let expected = vec![
            o("producer.override.acks", "1", errors("acks")),
            o("producer.override.sasl.mechanism", "PLAIN", errors("sasl.mechanism")),
            // PASSWORD in Kafka's client ConfigDefs: hidden, as Connect shows it.
            o(
                "producer.override.ssl.key.password",
                "[hidden]",
                errors("ssl.key.password"),
            ),
        ];
        let mut got = overrides(&v);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected, "{policy}");
        let count = expected.iter().filter(|(_, _, e)| *e != none).count();
        assert_eq!(v["error_count"], count, "{policy}: {v}");

        let v = api.validate(&sink).await;
        let mut got = overrides(&v);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                o("consumer.override.client.id", "mine", errors("client.id")),
                o(
                    "consumer.override.security.protocol",
                    "PLAINTEXT",
                    errors("security.protocol")
                ),
            ],
            "{policy}"
        );
        let v = api.validate(&sink_with_dlq).await;
        let names: Vec<String> = overrides(&v).into_iter().map(|(n, ..)| n).collect();
        for key in ["producer.override.acks", "admin.override.sasl.jaas.config"] {
            assert!(names.contains(&key.to_string()), "{policy}: {key} in {names:?}");
        }
        let jaas = overrides(&v)
            .into_iter()
            .find(|(n, ..)| n == "admin.override.sasl.jaas.config")
            .unwrap();
        assert_eq!(jaas.1, json!("[hidden]"));

        // Create and update refuse what validation refuses, with Connect's message.
        let mut config = source.clone();
        config.as_object_mut().unwrap().remove("name");
        let (s, v) = api
            .call(
                "POST",
                "/connectors",
                Some(json!({"name": "src", "config": config})),
            )
            .await;
        if policy == "All" {
            assert_eq!(s, 201, "{v}");
        } else {
            assert_eq!(s, 400, "{policy}: {v}");
            let message = v["message"].as_str().unwrap();
            assert!(
                message.contains(&refused(policy, "acks")[0].as_str().unwrap().to_string()),
                "{message}"
            );
            let (s, _) = api
                .call("PUT", "/connectors/src/config", Some(config.clone()))
                .await;
            assert_eq!(s, 400, "{policy}");
            let (s, _) = api.call("GET", "/connectors/src", None).await;
            assert_eq!(s, 404, "{policy}: nothing left behind");
        }
        api.running.stop().await;
    }
}

/// The committed offset of `topic`-0 in `group`, read by a client of the test's own.
fn committed(bootstrap: &str, group: &str, topic: &str) -> Offset {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    got.find_partition(topic, 0).unwrap().offset()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_reach_the_clients_of_running_tasks() {
    let api = Api::start(&[]).await;
    let bootstrap = api.running.worker.context().bootstrap_servers.clone();
    std::fs::write(api.file("in.txt"), "a\nb\nc\n").unwrap();
    let create = |name: &str, config: Value| {
        let body = json!({"name": name, "config": config});
        async { api.call("POST", "/connectors", Some(body)).await }
    };
    let (s, v) = create(
        "src",
        json!({"connector.class": "FileStreamSource", "topic": "ov", "file": api.file("in.txt")}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    // The sink's consumer commits where its override says: the broker has the group.
    let (s, v) = create(
        "snk",
        json!({"connector.class": "FileStreamSink", "topics": "ov", "file": api.file("out.txt"),
               "consumer.override.group.id": "group-from-override"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while committed(&bootstrap, "group-from-override", "ov") != Offset::Offset(3) {
        assert!(
            Instant::now() < deadline,
            "no commit of 3 records by the group"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        read_lines(std::path::Path::new(&api.file("out.txt"))),
        ["a", "b", "c"]
    );
    assert_eq!(
        committed(&bootstrap, "connect-snk", "ov"),
        Offset::Invalid,
        "the default group was not used"
    );

    // The source's producer refuses a record larger than its overridden message.max.bytes.
    std::fs::write(api.file("long.txt"), format!("{}\n", "x".repeat(2000))).unwrap();
    let (s, v) = create(
        "long",
        json!({"connector.class": "FileStreamSource", "topic": "ov-long",
               "file": api.file("long.txt"), "task.restart.max.restarts": "0",
               "producer.override.message.max.bytes": "1000"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let failed = api
        .running
        .worker
        .context()
        .status
        .wait_until(Duration::from_secs(30), |m| {
            m.get("long")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state.as_str() == "FAILED")
        })
        .await;
    assert!(failed, "{:?}", api.running.worker.status("long"));
    let (_, status) = api.call("GET", "/connectors/long/status", None).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.starts_with("cannot produce to topic ov-long: ")
            && trace.contains("MessageSizeTooLarge"),
        "{trace}"
    );
    api.running.stop().await;
}
