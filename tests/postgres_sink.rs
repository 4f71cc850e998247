//! The PostgreSQL sink against a real server (`KCONNECT_TEST_POSTGRES`, started by
//! tests/postgres/start-postgres.sh; without it each test says SKIPPED, under CI=true it fails).
//! Records are JSON with schemas in front, so the sink gets typed structs, as from a JDBC
//! pipeline. Each test works in a schema of its own, dropped and created again at its start.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::procs::Proc;
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;
use nix::sys::signal::Signal;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value as Json};
use tokio_postgres::{Client, NoTls};

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");
const TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to the test server and the schema a test works in.
struct Db {
    client: Client,
    schema: String,
    host: String,
    port: u16,
    dbname: String,
    user: String,
    password: String,
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A fresh schema `schema` on the server at `url`.
async fn db(url: &str, schema: &str) -> Db {
    let client = connect(url).await;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("{other:?}"),
    };
    Db {
        client,
        schema: schema.to_string(),
        host,
        port: config.get_ports()[0],
        dbname: config.get_dbname().unwrap_or("postgres").to_string(),
        user: config.get_user().unwrap().to_string(),
        password: String::from_utf8(config.get_password().unwrap().to_vec()).unwrap(),
    }
}

impl Db {
    /// The server as a JDBC URL, credentials in their own keys, as JDBC sink configs have it.
    fn connection(&self) -> Vec<(String, String)> {
        vec![
            (
                "connection.url".into(),
                format!(
                    "jdbc:postgresql://{}:{}/{}",
                    self.host, self.port, self.dbname
                ),
            ),
            ("connection.user".into(), self.user.clone()),
            ("connection.password".into(), self.password.clone()),
        ]
    }

    /// Rows of `sql`, every column read as text (`NULL` → `None`).
    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let rows = self.client.query(sql, &[]).await.unwrap();
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect()
    }

    /// Polls `sql` (the database is written by another component) until `done` holds.
    async fn wait_rows(
        &self,
        sql: &str,
        done: impl Fn(&[Vec<Option<String>>]) -> bool,
    ) -> Vec<Vec<Option<String>>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let got = match self.client.query(sql, &[]).await {
                // The table may not exist yet.
                Err(_) => Vec::new(),
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<_, Option<String>>(i))
                            .collect()
                    })
                    .collect(),
            };
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "{sql}: timed out with {got:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        self.client.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// Text rows from string literals, for comparisons.
fn text(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
        .collect()
}

/// A sink config writing `topic` to `db.schema.${topic}`, JSON with schemas on both sides.
fn sink(db: &Db, name: &str, topic: &str, extra: &[(&str, &str)]) -> Props {
    let mut p = props(&[
        ("name", name),
        ("connector.class", "kconnect.postgres.PostgresSinkConnector"),
        ("tasks.max", "1"),
        ("topics", topic),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("task.restart.max.restarts", "0"),
    ]);
    p.insert(
        "table.name.format".into(),
        format!("{}.${{topic}}", db.schema),
    );
    p.extend(db.connection());
    p.extend(props(extra));
    p
}

fn envelope(schema: &Json, payload: Json) -> String {
    json!({"schema": schema, "payload": payload}).to_string()
}

/// Writes records (key, value; `None` is a null) to partition 0 of `topic`, in order.
fn produce(bootstrap: &str, topic: &str, records: &[(Option<String>, Option<String>)]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (k, v) in records {
        let mut r = BaseRecord::<str, str>::to(topic).partition(0);
        if let Some(k) = k {
            r = r.key(k.as_str());
        }
        if let Some(v) = v {
            r = r.payload(v.as_str());
        }
        p.send(r).map_err(|(e, _)| e).unwrap();
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

async fn worker() -> TestWorker {
    TestWorker::start(&[], PluginRegistry::builtin()).await
}

/// Waits for task 0 of `name` to fail and returns its trace.
async fn failure(w: &TestWorker, name: &str) -> String {
    let failed = w
        .status()
        .wait_until(TIMEOUT, |m| {
            m.get(name)
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Failed)
        })
        .await;
    assert!(failed, "{:?}", w.status().get(name));
    w.status().get(name).unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap()
}

fn field(ty: &str, name: &str) -> Json {
    json!({"type": ty, "optional": false, "field": name})
}

fn logical(ty: &str, logical: &str, name: &str) -> Json {
    json!({"type": ty, "optional": false, "name": logical, "version": 1, "field": name})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_supported_type_is_created_and_stored_value_by_value() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_types").await;
    let w = worker().await;
    w.broker.create_topic("typed", 1).await;
    let mut price = logical("bytes", "org.apache.kafka.connect.data.Decimal", "price");
    price["parameters"] = json!({"scale": "2"});
    let schema = json!({"type": "struct", "name": "typed", "optional": false, "fields": [
        field("int8", "i8"), field("int16", "i16"), field("int32", "i32"), field("int64", "i64"),
        field("float", "f32"), field("double", "f64"), field("boolean", "flag"),
        field("string", "s"), field("bytes", "b"), price,
        logical("int32", "org.apache.kafka.connect.data.Date", "d"),
        logical("int32", "org.apache.kafka.connect.data.Time", "t"),
        logical("int64", "org.apache.kafka.connect.data.Timestamp", "ts"),
        {"type": "string", "optional": true, "field": "opt"},
        {"type": "int32", "optional": true, "default": 7, "field": "dflt"},
    ]});
    produce(
        &w.broker.bootstrap_servers(),
        "typed",
        &[
            (
                None,
                Some(envelope(
                    &schema,
                    json!({"i8": 127, "i16": -32768, "i32": 2147483647,
                        "i64": i64::MIN, "f32": 1.5, "f64": 0.1, "flag": true,
                        "s": "héllo 'quoted'", "b": "AAH/", "price": "BNI=",
                        "d": 19782, "t": 3723004, "ts": 1709164800123i64,
                        "opt": null, "dflt": null}),
                )),
            ),
            (
                None,
                Some(envelope(
                    &schema,
                    json!({"i8": -128, "i16": 0, "i32": -1, "i64": i64::MAX,
                        "f32": -0.25, "f64": 1e300, "flag": false, "s": "", "b": "",
                        "price": "+w==", "d": -1, "t": 0, "ts": -1,
                        "opt": "set", "dflt": 3}),
                )),
            ),
        ],
    );
    w.worker
        .add_connector(sink(&db, "types", "typed", &[("auto.create", "true")]))
        .await
        .unwrap();
    let rows = db
        .wait_rows(
            "SELECT i8::text, i16::text, i32::text, i64::text, f32::text, f64::text, \
             flag::text, s, b::text, price::text, d::text, t::text, ts::text, opt, dflt::text \
             FROM sink_types.typed ORDER BY i8 DESC",
            |r| r.len() == 2,
        )
        .await;
    assert_eq!(
        rows,
        text(&[
            &[
                Some("127"),
                Some("-32768"),
                Some("2147483647"),
                Some("-9223372036854775808"),
                Some("1.5"),
                Some("0.1"),
                Some("true"),
                Some("héllo 'quoted'"),
                Some("\\x0001ff"),
                Some("12.34"),
                Some("2024-02-29"),
                Some("01:02:03.004"),
                Some("2024-02-29 00:00:00.123"),
                None,
                // replace.null.with.default: the field's default.
                Some("7"),
            ],
            &[
                Some("-128"),
                Some("0"),
                Some("-1"),
                Some("9223372036854775807"),
                Some("-0.25"),
                Some("1e+300"),
                Some("false"),
                Some(""),
                Some("\\x"),
                Some("-0.05"),
                Some("1969-12-31"),
                Some("00:00:00"),
                Some("1969-12-31 23:59:59.999"),
                Some("set"),
                Some("3"),
            ],
        ])
    );
    // The column types of Confluent's PostgreSQL dialect; optional fields are nullable.
    let columns = db
        .rows(
            "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text \
             FROM information_schema.columns \
             WHERE table_schema = 'sink_types' AND table_name = 'typed' ORDER BY ordinal_position",
        )
        .await;
    let want: &[(&str, &str, &str, Option<&str>)] = &[
        ("i8", "smallint", "NO", None),
        ("i16", "smallint", "NO", None),
        ("i32", "integer", "NO", None),
        ("i64", "bigint", "NO", None),
        ("f32", "real", "NO", None),
        ("f64", "double precision", "NO", None),
        ("flag", "boolean", "NO", None),
        ("s", "text", "NO", None),
        ("b", "bytea", "NO", None),
        ("price", "numeric", "NO", None),
        ("d", "date", "NO", None),
        ("t", "time without time zone", "NO", None),
        ("ts", "timestamp without time zone", "NO", None),
        ("opt", "text", "YES", None),
        ("dflt", "integer", "YES", Some("7")),
    ];
    let want: Vec<Vec<Option<String>>> = want
        .iter()
        .map(|(n, t, null, d)| {
            vec![
                Some(n.to_string()),
                Some(t.to_string()),
                Some(null.to_string()),
                d.map(str::to_string),
            ]
        })
        .collect();
    assert_eq!(columns, want);
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upsert_by_record_key_with_deletes_under_confluents_class_name() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_upsert").await;
    let w = worker().await;
    w.broker.create_topic("people", 1).await;
    let key_schema = json!({"type": "struct", "optional": false, "fields": [field("int64", "id")]});
    let value_schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name")]});
    let key = |id: i64| Some(envelope(&key_schema, json!({ "id": id })));
    let value =
        |id: i64, name: &str| Some(envelope(&value_schema, json!({"id": id, "name": name})));
    // One batch: a key written twice, a tombstone after a write, a key after a delete.
    produce(
        &w.broker.bootstrap_servers(),
        "people",
        &[
            (key(1), value(1, "a")),
            (key(2), value(2, "b")),
            (key(1), value(1, "c")),
            (key(2), None),
            (key(3), value(3, "d")),
        ],
    );
    let mut p = sink(
        &db,
        "upsert",
        "people",
        &[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("delete.enabled", "true"),
            ("auto.create", "true"),
        ],
    );
    p.insert(
        "connector.class".into(),
        "io.confluent.connect.jdbc.JdbcSinkConnector".into(),
    );
    w.worker.add_connector(p).await.unwrap();
    let sql = "SELECT id::text, name FROM sink_upsert.people ORDER BY id";
    let want = text(&[&[Some("1"), Some("c")], &[Some("3"), Some("d")]]);
    assert_eq!(db.wait_rows(sql, |r| r == want.as_slice()).await, want);
    // The key is the table's primary key.
    let pk = db
        .rows(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = 'sink_upsert.people'::regclass AND i.indisprimary",
        )
        .await;
    assert_eq!(pk, text(&[&[Some("id")]]));
    // Later batches: an update in place and a delete.
    produce(
        &w.broker.bootstrap_servers(),
        "people",
        &[(key(3), value(3, "e")), (key(1), None)],
    );
    let want = text(&[&[Some("3"), Some("e")]]);
    assert_eq!(db.wait_rows(sql, |r| r == want.as_slice()).await, want);
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_mode_changes_existing_rows_only() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_update").await;
    db.client
        .batch_execute(
            "CREATE TABLE sink_update.stock (id BIGINT PRIMARY KEY, name TEXT, qty INT); \
             INSERT INTO sink_update.stock VALUES (1, 'a', 1), (2, 'b', 2)",
        )
        .await
        .unwrap();
    let w = worker().await;
    w.broker.create_topic("stock", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name"), field("int32", "qty")]});
    let v = |id: i64, name: &str, qty: i32| {
        (
            None,
            Some(envelope(
                &schema,
                json!({"id": id, "name": name, "qty": qty}),
            )),
        )
    };
    produce(
        &w.broker.bootstrap_servers(),
        "stock",
        &[v(1, "x", 10), v(3, "new", 3), v(2, "y", 20), v(1, "z", 11)],
    );
    w.worker
        .add_connector(sink(
            &db,
            "update",
            "stock",
            &[
                ("insert.mode", "update"),
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
            ],
        ))
        .await
        .unwrap();
    let want = text(&[
        &[Some("1"), Some("z"), Some("11")],
        &[Some("2"), Some("y"), Some("20")],
    ]);
    let got = db
        .wait_rows(
            "SELECT id::text, name, qty::text FROM sink_update.stock ORDER BY id",
            |r| r == want.as_slice(),
        )
        .await;
    // Id 3 had no row to update: none was made.
    assert_eq!(got, want);
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_coordinates_as_the_key_with_a_fields_whitelist() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_kafka_pk").await;
    let w = worker().await;
    w.broker.create_topic("events", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name"), field("string", "secret")]});
    let records: Vec<_> = (0..3)
        .map(|i| {
            (
                None,
                Some(envelope(
                    &schema,
                    json!({"id": i * 10, "name": format!("n{i}"), "secret": "s"}),
                )),
            )
        })
        .collect();
    produce(&w.broker.bootstrap_servers(), "events", &records);
    w.worker
        .add_connector(sink(
            &db,
            "kafka-pk",
            "events",
            &[
                ("pk.mode", "kafka"),
                ("fields.whitelist", "id,name"),
                ("auto.create", "true"),
            ],
        ))
        .await
        .unwrap();
    let rows = db
        .wait_rows(
            "SELECT __connect_topic, __connect_partition::text, __connect_offset::text, \
             id::text, name FROM sink_kafka_pk.events ORDER BY __connect_offset",
            |r| r.len() == 3,
        )
        .await;
    assert_eq!(
        rows,
        text(&[
            &[Some("events"), Some("0"), Some("0"), Some("0"), Some("n0")],
            &[Some("events"), Some("0"), Some("1"), Some("10"), Some("n1")],
            &[Some("events"), Some("0"), Some("2"), Some("20"), Some("n2")],
        ])
    );
    let columns = db
        .rows(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'sink_kafka_pk' ORDER BY ordinal_position",
        )
        .await;
    assert_eq!(
        columns,
        text(&[
            &[Some("__connect_topic")],
            &[Some("__connect_partition")],
            &[Some("__connect_offset")],
            &[Some("id")],
            &[Some("name")],
        ])
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primitive_record_key_names_its_column_with_pk_fields() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_primitive_key").await;
    let w = worker().await;
    w.broker.create_topic("orders", 1).await;
    let key_schema = json!({"type": "int64", "optional": false});
    let schema = json!({"type": "struct", "optional": false, "fields": [field("string", "state")]});
    let r = |k: i64, state: &str| {
        (
            Some(envelope(&key_schema, json!(k))),
            Some(envelope(&schema, json!({ "state": state }))),
        )
    };
    produce(
        &w.broker.bootstrap_servers(),
        "orders",
        &[r(7, "new"), r(8, "new"), r(7, "paid")],
    );
    w.worker
        .add_connector(sink(
            &db,
            "primitive-key",
            "orders",
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "order_id"),
                ("auto.create", "true"),
            ],
        ))
        .await
        .unwrap();
    let want = text(&[&[Some("7"), Some("paid")], &[Some("8"), Some("new")]]);
    let got = db
        .wait_rows(
            "SELECT order_id::text, state FROM sink_primitive_key.orders ORDER BY order_id",
            |r| r == want.as_slice(),
        )
        .await;
    assert_eq!(got, want);
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_evolve_adds_nullable_and_defaulted_columns_and_refuses_when_off() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_evolve").await;
    let w = worker().await;
    w.broker.create_topic("users", 1).await;
    w.broker.create_topic("frozen", 1).await;
    let v1 = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name")]});
    let v2 = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name"),
        {"type": "string", "optional": true, "field": "email"},
        {"type": "int32", "optional": false, "default": 0, "field": "score"}]});
    let bootstrap = w.broker.bootstrap_servers();
    produce(
        &bootstrap,
        "users",
        &[(None, Some(envelope(&v1, json!({"id": 1, "name": "a"}))))],
    );
    w.worker
        .add_connector(sink(
            &db,
            "evolve",
            "users",
            &[("auto.create", "true"), ("auto.evolve", "true")],
        ))
        .await
        .unwrap();
    db.wait_rows("SELECT id::text FROM sink_evolve.users", |r| r.len() == 1)
        .await;
    produce(
        &bootstrap,
        "users",
        &[(
            None,
            Some(envelope(
                &v2,
                json!({"id": 2, "name": "b", "email": "b@x", "score": 5}),
            )),
        )],
    );
    let rows = db
        .wait_rows(
            "SELECT id::text, name, email, score::text FROM sink_evolve.users ORDER BY id",
            |r| r.len() == 2,
        )
        .await;
    assert_eq!(
        rows,
        text(&[
            &[Some("1"), Some("a"), None, Some("0")],
            &[Some("2"), Some("b"), Some("b@x"), Some("5")],
        ])
    );
    let added = db
        .rows(
            "SELECT column_name::text, is_nullable::text, column_default::text \
             FROM information_schema.columns WHERE table_schema = 'sink_evolve' \
             AND table_name = 'users' AND column_name IN ('email', 'score') ORDER BY 1",
        )
        .await;
    // As Confluent's DDL: a field with a default gets `DEFAULT`, without NOT NULL.
    assert_eq!(
        added,
        text(&[
            &[Some("email"), Some("YES"), None],
            &[Some("score"), Some("YES"), Some("0")],
        ])
    );

    // Without auto.evolve a new field fails the task, naming the table and the field.
    db.client
        .batch_execute("CREATE TABLE sink_evolve.frozen (id BIGINT, name TEXT)")
        .await
        .unwrap();
    produce(
        &bootstrap,
        "frozen",
        &[(
            None,
            Some(envelope(
                &v2,
                json!({"id": 2, "name": "b", "email": null, "score": 1}),
            )),
        )],
    );
    w.worker
        .add_connector(sink(&db, "frozen", "frozen", &[]))
        .await
        .unwrap();
    let trace = failure(&w, "frozen").await;
    assert!(
        trace.contains(
            "Table \"sink_evolve\".\"frozen\" is missing fields [\"email\", \"score\"] and \
             auto-evolution is disabled"
        ) && trace.contains("(topic='frozen',partition=0,offset=0"),
        "{trace}"
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_table_without_auto_create_fails_naming_it() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_no_table").await;
    let w = worker().await;
    w.broker.create_topic("absent", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [field("int64", "id")]});
    produce(
        &w.broker.bootstrap_servers(),
        "absent",
        &[(None, Some(envelope(&schema, json!({"id": 1}))))],
    );
    w.worker
        .add_connector(sink(&db, "no-table", "absent", &[]))
        .await
        .unwrap();
    let trace = failure(&w, "no-table").await;
    assert!(
        trace.contains(
            "Table \"sink_no_table\".\"absent\" is missing and auto-creation is disabled"
        ),
        "{trace}"
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_or_an_unreachable_server_fails_the_task_with_its_cause() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_connect").await;
    let w = worker().await;
    w.broker.create_topic("t", 1).await;
    let secret = "not-the-password-4711";
    w.worker
        .add_connector(sink(
            &db,
            "bad-password",
            "t",
            &[
                ("connection.password", secret),
                ("connection.attempts", "1"),
            ],
        ))
        .await
        .unwrap();
    let trace = failure(&w, "bad-password").await;
    assert!(
        trace.contains(&format!(
            "cannot connect to PostgreSQL at {}:{}/{} as {} after 1 attempt(s)",
            db.host, db.port, db.dbname, db.user
        )) && trace.contains("password authentication failed"),
        "{trace}"
    );
    assert!(!trace.contains(secret), "{trace}");

    w.worker
        .add_connector(sink(
            &db,
            "unreachable",
            "t",
            &[
                ("connection.url", "jdbc:postgresql://127.0.0.1:1/nowhere"),
                ("connection.password", secret),
                ("connection.attempts", "2"),
                ("connection.backoff.ms", "10"),
            ],
        ))
        .await
        .unwrap();
    let trace = failure(&w, "unreachable").await;
    assert!(
        trace.contains("cannot connect to PostgreSQL at 127.0.0.1:1/nowhere")
            && trace.contains("after 2 attempt(s)"),
        "{trace}"
    );
    assert!(!trace.contains(secret), "{trace}");
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strings_reach_json_uuid_and_varchar_columns_and_timestamps_timestamptz_in_utc() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_casts").await;
    db.client
        .batch_execute(
            "CREATE TABLE sink_casts.docs (id INT PRIMARY KEY, doc JSONB, raw JSON, ref UUID, \
             label VARCHAR(20), at TIMESTAMPTZ, day TIMESTAMP)",
        )
        .await
        .unwrap();
    let w = worker().await;
    w.broker.create_topic("docs", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "doc"), field("string", "raw"),
        field("string", "ref"), field("string", "label"),
        logical("int64", "org.apache.kafka.connect.data.Timestamp", "at"),
        logical("int32", "org.apache.kafka.connect.data.Date", "day")]});
    produce(
        &w.broker.bootstrap_servers(),
        "docs",
        &[(
            None,
            Some(envelope(
                &schema,
                json!({"id": 1, "doc": "{\"a\": [1, 2]}", "raw": "{\"b\":true}",
                    "ref": "123e4567-e89b-12d3-a456-426614174000", "label": "short",
                    "at": 1709164800123i64, "day": 19782}),
            )),
        )],
    );
    w.worker
        .add_connector(sink(
            &db,
            "casts",
            "docs",
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
            ],
        ))
        .await
        .unwrap();
    let rows = db
        .wait_rows(
            "SELECT id::text, doc::text, jsonb_typeof(doc->'a'), raw::text, ref::text, label, \
             (at AT TIME ZONE 'UTC')::text, day::text FROM sink_casts.docs",
            |r| r.len() == 1,
        )
        .await;
    assert_eq!(
        rows,
        text(&[&[
            Some("1"),
            Some("{\"a\": [1, 2]}"),
            Some("array"),
            Some("{\"b\":true}"),
            Some("123e4567-e89b-12d3-a456-426614174000"),
            Some("short"),
            Some("2024-02-29 00:00:00.123"),
            Some("2024-02-29 00:00:00"),
        ]])
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_array_field_is_refused_naming_the_field() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_array").await;
    let w = worker().await;
    w.broker.create_topic("tagged", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"),
        {"type": "array", "items": {"type": "string", "optional": false}, "optional": false,
         "field": "tags"}]});
    produce(
        &w.broker.bootstrap_servers(),
        "tagged",
        &[(
            None,
            Some(envelope(&schema, json!({"id": 1, "tags": ["a"]}))),
        )],
    );
    w.worker
        .add_connector(sink(&db, "array", "tagged", &[("auto.create", "true")]))
        .await
        .unwrap();
    let trace = failure(&w, "array").await;
    assert!(
        trace.contains("cannot write the record at (topic='tagged',partition=0,offset=0")
            && trace.contains("to table \"sink_array\".\"tagged\"")
            && trace.contains(
                "field 'tags' has schema type ARRAY, which the PostgreSQL sink cannot store"
            ),
        "{trace}"
    );
    w.worker.shutdown().await;
}

/// Ends the server sessions of connections named `application` (the sink's, named through
/// the JDBC URL's `ApplicationName`), as a server restart or a network cut would.
async fn cut_sessions(db: &Db, application: &str) -> i64 {
    db.count(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = '{application}'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_lost_mid_write_is_retried_and_fails_the_task_once_retries_are_spent() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_retry").await;
    let w = worker().await;
    let schema = json!({"type": "struct", "optional": false, "fields": [field("int64", "n")]});
    let batch = |from: i64| -> Vec<_> {
        (from..from + 10)
            .map(|n| (None, Some(envelope(&schema, json!({ "n": n })))))
            .collect()
    };
    let bootstrap = w.broker.bootstrap_servers();
    for (name, retries) in [("retrying", "5"), ("giving-up", "0")] {
        w.broker.create_topic(name, 1).await;
        let app = format!("kconnect-{name}");
        let mut p = sink(
            &db,
            name,
            name,
            &[
                ("auto.create", "true"),
                ("max.retries", retries),
                ("retry.backoff.ms", "10"),
                ("exactly.once", "true"),
                ("exactly.once.offsets.table", "sink_retry.offsets"),
            ],
        );
        p.insert(
            "connection.url".into(),
            format!(
                "jdbc:postgresql://{}:{}/{}?ApplicationName={app}",
                db.host, db.port, db.dbname
            ),
        );
        w.worker.add_connector(p).await.unwrap();
        produce(&bootstrap, name, &batch(0));
        let count =
            format!("SELECT count(*)::text, count(DISTINCT n)::text FROM sink_retry.\"{name}\"");
        db.wait_rows(&count, |r| {
            r == text(&[&[Some("10"), Some("10")]]).as_slice()
        })
        .await;
        // Hold the partition's offsets row: the sink's next write waits for it inside its
        // transaction, and loses its connection there.
        let mut holder = connect(&url).await;
        let lock = holder.transaction().await.unwrap();
        lock.execute(
            "SELECT 1 FROM sink_retry.offsets WHERE connector = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .unwrap();
        produce(&bootstrap, name, &batch(10));
        db.wait_rows(
            &format!(
                "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = '{app}' \
                 AND wait_event_type = 'Lock'"
            ),
            |r| r == text(&[&[Some("1")]]).as_slice(),
        )
        .await;
        assert_eq!(cut_sessions(&db, &app).await, 1);
        lock.rollback().await.unwrap();
        if retries == "0" {
            let trace = failure(&w, name).await;
            assert!(
                trace.contains("writing 10 records failed after 0 retries")
                    && trace.contains("terminating connection due to administrator command"),
                "{trace}"
            );
            assert_eq!(db.rows(&count).await, text(&[&[Some("10"), Some("10")]]));
        } else {
            // The retry connects again and writes the batch, once.
            db.wait_rows(&count, |r| {
                r == text(&[&[Some("20"), Some("20")]]).as_slice()
            })
            .await;
            w.wait_running(name, 1).await;
        }
    }
    w.worker.shutdown().await;
}

/// A table whose `name` column takes 3 characters, and records 0..3 of which offset 1 has a
/// longer name.
async fn too_long_setup(db: &Db, w: &TestWorker, topic: &str) {
    db.client
        .batch_execute(&format!(
            "CREATE TABLE {}.{topic} (id BIGINT, name VARCHAR(3))",
            db.schema
        ))
        .await
        .unwrap();
    w.broker.create_topic(topic, 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "name")]});
    let r = |id: i64, name: &str| {
        (
            None,
            Some(envelope(&schema, json!({"id": id, "name": name}))),
        )
    };
    produce(
        &w.broker.bootstrap_servers(),
        topic,
        &[r(0, "abc"), r(1, "toolong"), r(2, "xyz")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_the_column_cannot_hold_fails_naming_the_record_and_writes_nothing() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_too_long").await;
    let w = worker().await;
    too_long_setup(&db, &w, "names").await;
    w.worker
        .add_connector(sink(&db, "too-long", "names", &[]))
        .await
        .unwrap();
    let trace = failure(&w, "too-long").await;
    assert!(
        trace.contains("cannot write the record at (topic='names',partition=0,offset=1,timestamp=")
            && trace.contains("to table \"sink_too_long\".\"names\"")
            && trace.contains("value too long for type character varying(3)"),
        "{trace}"
    );
    // The batch is one transaction: none of it was written.
    assert_eq!(
        db.count("SELECT count(*) FROM sink_too_long.names").await,
        0
    );
    w.worker.shutdown().await;
}

/// Issue 15, "a column type the sink cannot store": the user's table has a column whose type
/// the field's values cannot go into (a STRING field, a `boolean` column). PostgreSQL refuses
/// the statement (SQLSTATE 42804); retrying cannot change that, so the task fails at once,
/// naming the record, the table and the column, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_column_of_a_type_the_field_cannot_go_into_fails_naming_it_and_writes_nothing() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_wrong_type").await;
    let w = worker().await;
    db.client
        .batch_execute("CREATE TABLE sink_wrong_type.flags (id BIGINT, flag BOOLEAN)")
        .await
        .unwrap();
    w.broker.create_topic("flags", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), field("string", "flag")]});
    let r = |id: i64, flag: &str| {
        (
            None,
            Some(envelope(&schema, json!({"id": id, "flag": flag}))),
        )
    };
    produce(
        &w.broker.bootstrap_servers(),
        "flags",
        &[r(0, "yes"), r(1, "no")],
    );
    // A retry would wait a minute, past `failure`'s wait: FAILED within it means not retried.
    w.worker
        .add_connector(sink(
            &db,
            "wrong-type",
            "flags",
            &[("max.retries", "10"), ("retry.backoff.ms", "60000")],
        ))
        .await
        .unwrap();
    let trace = failure(&w, "wrong-type").await;
    assert!(
        trace.contains("cannot write the record at (topic='flags',partition=0,offset=0,timestamp=")
            && trace.contains("to table \"sink_wrong_type\".\"flags\"")
            && trace.contains("column \"flag\" is of type boolean"),
        "{trace}"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM sink_wrong_type.flags").await,
        0
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_errors_tolerance_all_the_record_that_cannot_be_stored_is_skipped() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_tolerant").await;
    let w = worker().await;
    too_long_setup(&db, &w, "names").await;
    w.worker
        .add_connector(sink(
            &db,
            "tolerant",
            "names",
            &[("errors.tolerance", "all")],
        ))
        .await
        .unwrap();
    let want = text(&[&[Some("0"), Some("abc")], &[Some("2"), Some("xyz")]]);
    let got = db
        .wait_rows(
            "SELECT id::text, name FROM sink_tolerant.names ORDER BY id",
            |r| r == want.as_slice(),
        )
        .await;
    assert_eq!(got, want);
    w.wait_running("tolerant", 1).await;
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_skipped_first_record_does_not_take_the_table_it_created_from_the_others() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_tolerant_create").await;
    let w = worker().await;
    w.broker.create_topic("days", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "id"), logical("int32", "org.apache.kafka.connect.data.Date", "day")]});
    // Day 2^31-1 is past PostgreSQL's last date: the first record cannot be stored, and its
    // savepoint also held the CREATE TABLE it caused.
    let r = |id: i64, day: i32| (None, Some(envelope(&schema, json!({"id": id, "day": day}))));
    produce(
        &w.broker.bootstrap_servers(),
        "days",
        &[r(0, i32::MAX), r(1, 0), r(2, 1)],
    );
    w.worker
        .add_connector(sink(
            &db,
            "tolerant-create",
            "days",
            &[
                ("auto.create", "true"),
                ("errors.tolerance", "all"),
                ("max.retries", "0"),
            ],
        ))
        .await
        .unwrap();
    let want = text(&[
        &[Some("1"), Some("1970-01-01")],
        &[Some("2"), Some("1970-01-02")],
    ]);
    let got = db
        .wait_rows(
            "SELECT id::text, day::text FROM sink_tolerant_create.days ORDER BY id",
            |r| r == want.as_slice(),
        )
        .await;
    assert_eq!(got, want);
    w.wait_running("tolerant-create", 1).await;
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_resumes_from_the_offsets_table_not_the_consumer_group() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_eos_seek").await;
    let w = worker().await;
    w.broker.create_topic("seq", 1).await;
    let schema = json!({"type": "struct", "optional": false, "fields": [field("int64", "n")]});
    let records: Vec<_> = (0..100)
        .map(|n| (None, Some(envelope(&schema, json!({ "n": n })))))
        .collect();
    produce(&w.broker.bootstrap_servers(), "seq", &records);
    // The table says records up to offset 59 were written; the consumer group has no offset.
    db.client
        .batch_execute(
            "CREATE TABLE sink_eos_seek.offsets (connector TEXT NOT NULL, topic TEXT NOT NULL, \
             \"partition\" INT NOT NULL, next_offset BIGINT, \
             PRIMARY KEY (connector, topic, \"partition\")); \
             INSERT INTO sink_eos_seek.offsets VALUES ('eos-seek', 'seq', 0, 60)",
        )
        .await
        .unwrap();
    w.worker
        .add_connector(sink(
            &db,
            "eos-seek",
            "seq",
            &[
                ("auto.create", "true"),
                ("exactly.once", "true"),
                ("exactly.once.offsets.table", "sink_eos_seek.offsets"),
            ],
        ))
        .await
        .unwrap();
    let stored = db
        .wait_rows(
            "SELECT next_offset::text FROM sink_eos_seek.offsets WHERE connector = 'eos-seek'",
            |r| r == text(&[&[Some("100")]]).as_slice(),
        )
        .await;
    assert_eq!(stored, text(&[&[Some("100")]]));
    let written = db
        .rows("SELECT min(n)::text, max(n)::text, count(*)::text FROM sink_eos_seek.seq")
        .await;
    assert_eq!(written, text(&[&[Some("60"), Some("99"), Some("40")]]));
    w.worker.shutdown().await;
}

/// "A sink never skips data the broker dropped", on the exactly-once path: the offsets table
/// says the sink's next record is offset 10, but the embedded broker (which keeps only the last
/// 5 MB of a partition) has dropped it since. The consumer group's offset is past the gap, so
/// only the sink's own seek lands in it: the task fails naming the partition and the offsets,
/// and writes nothing, instead of resuming at whatever the broker still has.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_fails_loudly_when_its_next_record_was_dropped_by_the_broker() {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = db(&url, "sink_eos_gone").await;
    let w = worker().await;
    let bootstrap = w.broker.bootstrap_servers();
    w.broker.create_topic("gone", 1).await;
    // 3,000 records of ~4 kB: 12 MB, of which the broker keeps the last 5 MB.
    const N: i64 = 3_000;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        field("int64", "n"), field("string", "pad")]});
    let pad = "x".repeat(4_000);
    let records: Vec<_> = (0..N)
        .map(|n| (None, Some(envelope(&schema, json!({ "n": n, "pad": pad })))))
        .collect();
    produce(&bootstrap, "gone", &records);
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "connect-eos-gone")
        .create()
        .unwrap();
    let (low, high) = probe
        .fetch_watermarks("gone", 0, Duration::from_secs(10))
        .unwrap();
    assert!(low > 10 && high == N, "the broker kept [{low}, {high})");
    // The consumer group is past the gap; the offsets table is not.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("gone", 0, Offset::Offset(N))
        .unwrap();
    probe.commit(&tpl, CommitMode::Sync).unwrap();
    db.client
        .batch_execute(
            "CREATE TABLE sink_eos_gone.offsets (connector TEXT NOT NULL, topic TEXT NOT NULL, \
             \"partition\" INT NOT NULL, next_offset BIGINT, \
             PRIMARY KEY (connector, topic, \"partition\")); \
             INSERT INTO sink_eos_gone.offsets VALUES ('eos-gone', 'gone', 0, 10); \
             CREATE TABLE sink_eos_gone.gone (n BIGINT, pad TEXT)",
        )
        .await
        .unwrap();
    w.worker
        .add_connector(sink(
            &db,
            "eos-gone",
            "gone",
            &[
                ("exactly.once", "true"),
                ("exactly.once.offsets.table", "sink_eos_gone.offsets"),
            ],
        ))
        .await
        .unwrap();
    let trace = failure(&w, "eos-gone").await;
    assert!(
        trace.contains(&format!(
            "gone-0: next offset 10, but the earliest offset on the broker is {low} ({} records \
             dropped)",
            low - 10
        )),
        "{trace}"
    );
    assert_eq!(db.count("SELECT count(*) FROM sink_eos_gone.gone").await, 0);
    let stored = db
        .rows("SELECT next_offset::text FROM sink_eos_gone.offsets")
        .await;
    assert_eq!(stored, text(&[&[Some("10")]]));
    w.worker.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// SIGKILL during a load: `kconnect standalone` child processes on a `kconnect broker` process
// (the embedded broker would die with the worker).

/// Records of the kill tests, their partitions, and how many times the worker is killed.
const LOAD: usize = 500_000;
const LOAD_PARTITIONS: i32 = 8;
const KILLS: usize = 5;

/// Starts `kconnect broker` with `topic` and returns it with the address it printed.
fn start_broker(topic: &str, partitions: i32) -> (Proc, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args(["broker", "--topic", &format!("{topic}:{partitions}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "broker printed {addr:?}");
    (Proc(child), addr)
}

/// Loads `n` records `{"id": i, "body": …}` round-robin over the partitions, compressed (the
/// embedded broker keeps 5 MB per partition), and checks the broker kept every one.
fn load(bootstrap: &str, topic: &str, n: usize) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let schema = json!({"type": "struct", "name": "load", "optional": false, "fields": [
        field("int64", "id"), field("string", "body")]});
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for i in 0..n {
        let v = envelope(
            &schema,
            json!({"id": i, "body": format!("record number {i}")}),
        );
        let mut r = BaseRecord::<(), str>::to(topic)
            .payload(&v)
            .partition(i as i32 % LOAD_PARTITIONS);
        loop {
            match p.send(r) {
                Ok(()) => break,
                Err((_, back)) => {
                    // The local queue is full: let deliveries drain it.
                    p.poll(Duration::from_millis(10));
                    r = back;
                }
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let mut total = 0;
    for part in 0..LOAD_PARTITIONS {
        let (low, high) = c
            .fetch_watermarks(topic, part, Duration::from_secs(10))
            .unwrap();
        assert_eq!(low, 0, "the broker dropped records of partition {part}");
        total += high;
    }
    assert_eq!(total, n as i64);
}

fn write_file(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
}

/// What a kill run left in the table.
struct Tally {
    rows: i64,
    distinct: i64,
    /// Rows in the table when each SIGKILL was sent.
    killed_at: Vec<i64>,
    elapsed: Duration,
}

/// Loads LOAD records, runs `kconnect standalone` with the sink and SIGKILLs it KILLS times at
/// evenly spread points of the load (as the table grows), then lets a last run finish.
async fn kill_run(url: &str, schema: &str, exactly_once: bool) -> Tally {
    let db = db(url, schema).await;
    let dir = tempfile::tempdir().unwrap();
    let topic = "load";
    let (_broker, addr) = start_broker(topic, LOAD_PARTITIONS);
    load(&addr, topic, LOAD);
    let worker = dir.path().join("worker.properties");
    write_file(
        &worker,
        &format!(
            "bootstrap.servers={addr}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            dir.path().join("offsets").display()
        ),
    );
    let connector = dir.path().join("sink.properties");
    let mut p = sink(
        &db,
        "load-sink",
        topic,
        &[
            ("auto.create", "true"),
            ("exactly.once", if exactly_once { "true" } else { "false" }),
        ],
    );
    p.insert(
        "exactly.once.offsets.table".into(),
        format!("{schema}.offsets"),
    );
    let body: String = p.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    write_file(&connector, &body);
    let run = |i: usize| {
        let log = std::fs::File::create(dir.path().join(format!("run{i}.log"))).unwrap();
        Proc(
            Command::new(BIN)
                .args(["standalone"])
                .arg(&worker)
                .arg(&connector)
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let table = format!("{schema}.{topic}");
    let count = format!("SELECT count(*) FROM {table}");
    let started = Instant::now();
    let mut killed_at = Vec::new();
    for k in 1..=KILLS {
        let mut worker = run(k);
        let mark = (k * LOAD / (KILLS + 1)) as i64;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // The table may not exist yet.
            let n = match db.client.query_one(&count, &[]).await {
                Ok(r) => r.get::<_, i64>(0),
                Err(_) => 0,
            };
            if n >= mark {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "run {k}: {n} rows after 120 s; log:\n{}",
                std::fs::read_to_string(dir.path().join(format!("run{k}.log"))).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.signal(Signal::SIGKILL);
        worker.wait_exit(Duration::from_secs(10));
        killed_at.push(db.count(&count).await);
    }
    let mut last = run(KILLS + 1);
    let distinct = format!("SELECT count(DISTINCT id) FROM {table}");
    let deadline = Instant::now() + Duration::from_secs(180);
    while db.count(&distinct).await < LOAD as i64 {
        assert!(
            Instant::now() < deadline,
            "not every record arrived; log:\n{}",
            std::fs::read_to_string(dir.path().join(format!("run{}.log", KILLS + 1))).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exactly_once {
        // Every partition's stored offset at its end: nothing is left to write.
        let stored = db
            .count(&format!(
                "SELECT coalesce(sum(next_offset), 0)::int8 FROM {schema}.offsets"
            ))
            .await;
        assert_eq!(stored, LOAD as i64);
    }
    last.signal(Signal::SIGTERM);
    last.wait_exit(Duration::from_secs(30));
    Tally {
        rows: db.count(&count).await,
        distinct: db.count(&distinct).await,
        killed_at,
        elapsed: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_survives_five_sigkills_with_every_record_written_once() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let t = kill_run(&url, "sink_eos_kill", true).await;
    // Reported on the real stderr (libtest captures eprintln! of passing tests).
    common::kafka::loud(&format!(
        "exactly.once=true: {} rows, {} distinct, killed at {:?} rows, {:.1} s",
        t.rows,
        t.distinct,
        t.killed_at,
        t.elapsed.as_secs_f64()
    ));
    // Each kill came mid-load, after the one before.
    assert!(
        t.killed_at.windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        t.killed_at
    );
    assert!(*t.killed_at.last().unwrap() < LOAD as i64);
    assert_eq!(t.distinct, LOAD as i64);
    assert_eq!(t.rows, LOAD as i64, "duplicates: {}", t.rows - LOAD as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_survives_five_sigkills_losing_nothing() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let t = kill_run(&url, "sink_alo_kill", false).await;
    common::kafka::loud(&format!(
        "exactly.once=false: {} rows, {} distinct, {} duplicates, killed at {:?} rows, {:.1} s",
        t.rows,
        t.distinct,
        t.rows - t.distinct,
        t.killed_at,
        t.elapsed.as_secs_f64()
    ));
    assert!(*t.killed_at.last().unwrap() < LOAD as i64);
    assert_eq!(t.distinct, LOAD as i64, "lost records");
    assert!(t.rows >= t.distinct);
}
