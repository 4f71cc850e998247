//! The PostgreSQL source against a real PostgreSQL server (`KCONNECT_TEST_POSTGRES`, started by
//! scripts/test.sh; skipped loudly without it, a failure under CI=true): every supported type
//! value by value, the four modes and query mode, tables created and dropped while it runs,
//! a SIGKILLed worker that loses no row, and bad input failing with errors that name it.
//!
//! Each test works in a schema of its own, so tests run side by side on one server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bigdecimal::BigDecimal;
use common::*;
use kconnect_actors::status::State;
use kconnect_connectors::api::Props;
use kconnect_connectors::converters::{Converter, JsonConverter};
use kconnect_connectors::data::{Schema, Struct, Type, Value};
use kconnect_connectors::registry::PluginRegistry;
use serde_json::json;
use tokio_postgres::{Client, NoTls};

const WAIT: Duration = Duration::from_secs(60);

/// A connection to the test server and a fresh schema of the test's own.
struct Db {
    client: Client,
    url: String,
    schema: String,
}

impl Db {
    async fn new(url: &str, schema: &str) -> Db {
        let (client, conn) = tokio_postgres::connect(url, NoTls)
            .await
            .expect("connect to the test PostgreSQL");
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
            ))
            .await
            .unwrap();
        Db {
            client,
            url: url.to_string(),
            schema: schema.to_string(),
        }
    }

    async fn exec(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// What the server computes for `expr` (an int8): the oracle for expected values.
    async fn long(&self, expr: &str) -> i64 {
        self.client
            .query_one(&format!("SELECT ({expr})::int8"), &[])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e:?}"))
            .get(0)
    }

    /// Connector props reading this schema with `extra` keys; the JDBC URL form with the
    /// credentials in `connection.user` / `connection.password`.
    fn source(&self, name: &str, extra: &[(&str, &str)]) -> Props {
        let (jdbc, user, password) = jdbc(&self.url);
        let mut p = props(&[
            ("name", name),
            (
                "connector.class",
                "io.confluent.connect.jdbc.JdbcSourceConnector",
            ),
            ("tasks.max", "1"),
            ("connection.url", &jdbc),
            ("connection.user", &user),
            ("connection.password", &password),
            ("connection.attempts", "1"),
            ("schema.pattern", &self.schema),
            ("poll.interval.ms", "100"),
            ("table.poll.interval.ms", "500"),
        ]);
        p.extend(props(extra));
        p
    }
}

/// `postgres://user:password@host:port/db` as a JDBC URL and its credentials.
fn jdbc(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").unwrap().1;
    let (creds, location) = rest.split_once('@').unwrap();
    let (user, password) = creds.split_once(':').unwrap();
    (
        format!("jdbc:postgresql://{location}"),
        user.to_string(),
        password.to_string(),
    )
}

async fn worker(extra: &[(&str, &str)]) -> TestWorker {
    TestWorker::start(extra, PluginRegistry::builtin()).await
}

/// The first `n` records of `topic` as the JsonConverter reads them back: value schema and
/// value.
async fn read(w: &TestWorker, topic: &str, n: usize) -> Vec<(Schema, Struct)> {
    let (bootstrap, topic) = (w.broker.bootstrap_servers(), topic.to_string());
    let raw = tokio::task::spawn_blocking(move || {
        kafka::read_partition(&bootstrap, &topic, n, WAIT)
            .into_iter()
            .map(|r| {
                assert!(r.key.is_none(), "records have no key");
                r.value.expect("a value")
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let conv = JsonConverter::new();
    raw.iter()
        .map(|bytes| {
            let sv = conv.to_connect("t", Some(bytes)).unwrap();
            match sv.value {
                Value::Struct(s) => (sv.schema.expect("a schema"), s),
                other => panic!("not a struct: {other:?}"),
            }
        })
        .collect()
}

fn field<'a>(s: &'a Struct, name: &str) -> &'a Value {
    s.get(name)
        .unwrap_or_else(|e| panic!("no field {name}: {e:?}"))
}

fn ids(records: &[(Schema, Struct)]) -> Vec<i64> {
    records
        .iter()
        .map(|(_, s)| match field(s, "id") {
            Value::Int32(i) => i64::from(*i),
            Value::Int64(i) => *i,
            other => panic!("id {other:?}"),
        })
        .collect()
}

fn decimal(text: &str) -> Value {
    Value::Decimal(BigDecimal::from_str(text).unwrap())
}

/// The committed offsets of `connector`, partition → offset.
async fn offsets(w: &TestWorker, connector: &str) -> BTreeMap<String, serde_json::Value> {
    w.worker
        .offsets(connector)
        .await
        .unwrap()
        .into_iter()
        .map(|o| {
            (
                serde_json::Value::Object(o.partition).to_string(),
                o.offset
                    .map(serde_json::Value::Object)
                    .unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// Waits until the committed offset of `partition` is `want`.
async fn wait_offset(
    w: &TestWorker,
    connector: &str,
    partition: serde_json::Value,
    want: serde_json::Value,
) {
    let key = partition.to_string();
    let deadline = Instant::now() + WAIT;
    loop {
        let o = offsets(w, connector).await;
        if o.get(&key) == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "offset of {key} never became {want}: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many records `topic` holds now.
async fn count(w: &TestWorker, topic: &str) -> i64 {
    let (b, t) = (w.broker.bootstrap_servers(), topic.to_string());
    tokio::task::spawn_blocking(move || kafka::record_count(&b, &t).unwrap_or(0))
        .await
        .unwrap()
}

async fn wait_failed(w: &TestWorker, name: &str, task: bool) -> String {
    let failed = w
        .status()
        .wait_until(WAIT, |m| {
            m.get(name).is_some_and(|c| {
                if task {
                    c.tasks.values().any(|t| t.state == State::Failed)
                } else {
                    c.connector.state == State::Failed
                }
            })
        })
        .await;
    let status = w.status().get(name);
    assert!(failed, "{name} did not fail: {status:?}");
    let status = status.unwrap();
    let trace = if task {
        status
            .tasks
            .values()
            .find(|t| t.state == State::Failed)
            .and_then(|t| t.trace.clone())
    } else {
        status.connector.trace.clone()
    };
    trace.expect("a failure trace")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_supported_type_is_mapped_value_by_value() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_types").await;
    db.exec(
        "CREATE TYPE pgsrc_types.mood AS ENUM ('sad', 'happy');
         CREATE DOMAIN pgsrc_types.positive AS integer CHECK (VALUE > 0);
         CREATE TABLE pgsrc_types.all_types (
           id serial PRIMARY KEY,
           c_bool boolean NOT NULL,
           c_int2 smallint, c_int4 integer, c_int8 bigint,
           c_real real, c_double double precision,
           c_numeric numeric(12,3), c_numeric_free numeric,
           c_text text, c_varchar varchar(20), c_char char(4), c_name name, c_xml xml,
           c_bytea bytea,
           c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz,
           c_json json, c_jsonb jsonb, c_uuid uuid,
           c_enum pgsrc_types.mood, c_domain pgsrc_types.positive, c_oid oid);
         INSERT INTO pgsrc_types.all_types VALUES (DEFAULT, true,
           -32768, 2147483647, -9223372036854775808,
           1.5, -2.25,
           12345.678, 3.14159,
           'héllo ✓', 'v', 'ab', 'nm', '<a>x</a>',
           '\\x0001ff',
           '2024-02-29', '13:14:15.678912', '10:00:00+02', '2024-01-02 03:04:05.123456',
           '2024-01-02 03:04:05.5+01',
           '{\"a\": [1, 2]}', '{\"b\": 1, \"a\": 2}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
           'happy', 7, 4000000000);
         INSERT INTO pgsrc_types.all_types (c_bool) VALUES (false);",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("pg-all_types", 1).await;
    w.worker
        .add_connector(db.source(
            "types",
            &[
                ("mode", "incrementing"),
                ("incrementing.column.name", "id"),
                ("table.whitelist", "all_types"),
                ("topic.prefix", "pg-"),
            ],
        ))
        .await
        .unwrap();
    let records = read(&w, "pg-all_types", 2).await;
    let (schema, full) = &records[0];

    // The schema: a struct named after the table, one field per column in order, optional
    // where the column is nullable.
    assert_eq!(schema.ty(), Type::Struct);
    assert_eq!(schema.name(), Some("all_types"));
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "c_bool",
            "c_int2",
            "c_int4",
            "c_int8",
            "c_real",
            "c_double",
            "c_numeric",
            "c_numeric_free",
            "c_text",
            "c_varchar",
            "c_char",
            "c_name",
            "c_xml",
            "c_bytea",
            "c_date",
            "c_time",
            "c_timetz",
            "c_ts",
            "c_tstz",
            "c_json",
            "c_jsonb",
            "c_uuid",
            "c_enum",
            "c_domain",
            "c_oid"
        ]
    );
    for f in schema.fields() {
        let required = matches!(f.name.as_str(), "id" | "c_bool");
        assert_eq!(f.schema.is_optional(), !required, "{}", f.name);
    }
    let fs = |n: &str| schema.field(n).unwrap().schema.clone();
    for (n, ty, logical) in [
        ("id", Type::Int32, None),
        ("c_bool", Type::Boolean, None),
        ("c_int2", Type::Int16, None),
        ("c_int4", Type::Int32, None),
        ("c_int8", Type::Int64, None),
        ("c_real", Type::Float32, None),
        ("c_double", Type::Float64, None),
        (
            "c_numeric",
            Type::Bytes,
            Some("org.apache.kafka.connect.data.Decimal"),
        ),
        (
            "c_numeric_free",
            Type::Bytes,
            Some("org.apache.kafka.connect.data.Decimal"),
        ),
        ("c_text", Type::String, None),
        ("c_bytea", Type::Bytes, None),
        (
            "c_date",
            Type::Int32,
            Some("org.apache.kafka.connect.data.Date"),
        ),
        (
            "c_time",
            Type::Int32,
            Some("org.apache.kafka.connect.data.Time"),
        ),
        (
            "c_timetz",
            Type::Int32,
            Some("org.apache.kafka.connect.data.Time"),
        ),
        (
            "c_ts",
            Type::Int64,
            Some("org.apache.kafka.connect.data.Timestamp"),
        ),
        (
            "c_tstz",
            Type::Int64,
            Some("org.apache.kafka.connect.data.Timestamp"),
        ),
        ("c_json", Type::String, None),
        ("c_uuid", Type::String, None),
        ("c_enum", Type::String, None),
        ("c_domain", Type::Int32, None),
        ("c_oid", Type::Int64, None),
    ] {
        assert_eq!(fs(n).ty(), ty, "{n}");
        assert_eq!(fs(n).name(), logical, "{n}");
    }
    assert_eq!(fs("c_numeric").parameters()["scale"], "3");
    assert_eq!(
        fs("c_numeric").parameters()["connect.decimal.precision"],
        "12"
    );
    assert_eq!(fs("c_numeric_free").parameters()["scale"], "127");

    // The values, each as the server computes it where it is a computation.
    let expect = [
        ("id", Value::Int32(1)),
        ("c_bool", Value::Boolean(true)),
        ("c_int2", Value::Int16(-32768)),
        ("c_int4", Value::Int32(2147483647)),
        ("c_int8", Value::Int64(i64::MIN)),
        ("c_real", Value::Float32(1.5)),
        ("c_double", Value::Float64(-2.25)),
        ("c_numeric", decimal("12345.678")),
        ("c_numeric_free", decimal("3.14159")),
        ("c_text", Value::String("héllo ✓".into())),
        ("c_varchar", Value::String("v".into())),
        ("c_char", Value::String("ab  ".into())),
        ("c_name", Value::String("nm".into())),
        ("c_xml", Value::String("<a>x</a>".into())),
        ("c_bytea", Value::Bytes(vec![0, 1, 255])),
        (
            "c_date",
            Value::Date(db.long("DATE '2024-02-29' - DATE '1970-01-01'").await as i32),
        ),
        (
            "c_time",
            Value::Time(((13 * 60 + 14) * 60 + 15) * 1000 + 678),
        ),
        ("c_timetz", Value::Time(8 * 3600 * 1000)),
        (
            "c_ts",
            Value::Timestamp(
                db.long("extract(epoch FROM TIMESTAMP '2024-01-02 03:04:05.123') * 1000")
                    .await,
            ),
        ),
        (
            "c_tstz",
            Value::Timestamp(
                db.long("extract(epoch FROM TIMESTAMPTZ '2024-01-02 02:04:05.5+00') * 1000")
                    .await,
            ),
        ),
        ("c_json", Value::String("{\"a\": [1, 2]}".into())),
        ("c_jsonb", Value::String("{\"a\": 2, \"b\": 1}".into())),
        (
            "c_uuid",
            Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
        ),
        ("c_enum", Value::String("happy".into())),
        ("c_domain", Value::Int32(7)),
        ("c_oid", Value::Int64(4_000_000_000)),
    ];
    assert_eq!(expect.len(), names.len());
    for (n, want) in &expect {
        assert_eq!(field(full, n), want, "{n}");
    }
    // The second row: every nullable column NULL.
    let (_, nulls) = &records[1];
    assert_eq!(field(nulls, "id"), &Value::Int32(2));
    assert_eq!(field(nulls, "c_bool"), &Value::Boolean(false));
    for n in &names[2..] {
        assert_eq!(field(nulls, n), &Value::Null, "{n}");
    }
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numeric_mapping_best_fit_maps_by_precision_and_scale() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_numeric").await;
    db.exec(
        "CREATE TABLE pgsrc_numeric.nums (id serial PRIMARY KEY, small numeric(2,0),
           int numeric(9,0), big numeric(18,0), frac numeric(10,2), wide numeric(30,2),
           free numeric);
         INSERT INTO pgsrc_numeric.nums VALUES
           (DEFAULT, -99, 123456789, 123456789012345678, -1234.5, 1234567890123456789012.34, 0.001);",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("nums", 1).await;
    w.worker
        .add_connector(db.source(
            "bestfit",
            &[
                ("mode", "bulk"),
                ("table.include.list", "pgsrc_numeric\\.nums"),
                ("numeric.mapping", "best_fit"),
            ],
        ))
        .await
        .unwrap();
    let records = read(&w, "nums", 1).await;
    let (schema, s) = &records[0];
    let ty = |n: &str| schema.field(n).unwrap().schema.ty();
    assert_eq!(ty("small"), Type::Int8);
    assert_eq!(ty("int"), Type::Int32);
    assert_eq!(ty("big"), Type::Int64);
    assert_eq!(ty("frac"), Type::Float64);
    assert_eq!(ty("wide"), Type::Bytes, "too wide for a primitive: Decimal");
    assert_eq!(ty("free"), Type::Bytes, "no precision: Decimal");
    assert_eq!(field(s, "small"), &Value::Int8(-99));
    assert_eq!(field(s, "int"), &Value::Int32(123_456_789));
    assert_eq!(field(s, "big"), &Value::Int64(123_456_789_012_345_678));
    assert_eq!(field(s, "frac"), &Value::Float64(-1234.5));
    assert_eq!(field(s, "wide"), &decimal("1234567890123456789012.34"));
    assert_eq!(field(s, "free"), &decimal("0.001"));
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incrementing_mode_streams_new_rows_once_in_order_and_commits_confluents_offsets() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_inc").await;
    db.exec(
        "CREATE TABLE pgsrc_inc.items (id bigserial PRIMARY KEY, name text NOT NULL);
         INSERT INTO pgsrc_inc.items (name) SELECT 'row' || g FROM generate_series(1, 25) g;",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("inc-items", 1).await;
    // The auto-incrementing column is found without incrementing.column.name; batches of 10.
    w.worker
        .add_connector(db.source(
            "inc",
            &[
                ("connector.class", "PostgresSource"),
                ("mode", "incrementing"),
                ("table.whitelist", "pgsrc_inc.items"),
                ("topic.prefix", "inc-"),
                ("batch.max.rows", "10"),
            ],
        ))
        .await
        .unwrap();
    let first = read(&w, "inc-items", 25).await;
    assert_eq!(ids(&first), (1..=25).collect::<Vec<_>>());
    assert_eq!(field(&first[24].1, "name"), &Value::String("row25".into()));
    db.exec("INSERT INTO pgsrc_inc.items (name) SELECT 'more' || g FROM generate_series(1, 5) g")
        .await;
    // The sentinel row comes last: once it is in, everything before it is too, once each.
    db.exec("INSERT INTO pgsrc_inc.items (name) VALUES ('sentinel')")
        .await;
    let all = read(&w, "inc-items", 31).await;
    assert_eq!(ids(&all), (1..=31).collect::<Vec<_>>());
    assert_eq!(field(&all[30].1, "name"), &Value::String("sentinel".into()));
    wait_offset(
        &w,
        "inc",
        json!({"protocol": "1", "table": "pgsrc_inc.items"}),
        json!({"incrementing": 31}),
    )
    .await;
    assert_eq!(count(&w, "inc-items").await, 31, "no row twice");
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timestamp_mode_reads_new_and_updated_rows_without_splitting_equal_timestamps() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_ts").await;
    db.exec(
        "CREATE TABLE pgsrc_ts.events (id int PRIMARY KEY, updated timestamp NOT NULL);
         INSERT INTO pgsrc_ts.events VALUES
           (1, '2024-01-01 00:00:01'), (2, '2024-01-01 00:00:01'), (3, '2024-01-01 00:00:01'),
           (4, '2024-01-01 00:00:02.5'), (5, '2024-01-01 00:00:02.5');",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("events", 1).await;
    // Batches of 2 end between rows of equal timestamps.
    w.worker
        .add_connector(db.source(
            "ts",
            &[
                ("mode", "timestamp"),
                ("timestamp.column.name", "updated"),
                ("table.whitelist", "events"),
                ("batch.max.rows", "2"),
            ],
        ))
        .await
        .unwrap();
    let first = read(&w, "events", 5).await;
    let mut got = ids(&first);
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    let ts_ms = db
        .long("extract(epoch FROM TIMESTAMP '2024-01-01 00:00:02.5') * 1000")
        .await;
    wait_offset(
        &w,
        "ts",
        json!({"protocol": "1", "table": "pgsrc_ts.events"}),
        json!({"timestamp": ts_ms, "timestamp_nanos": 500_000_000}),
    )
    .await;
    // An update moves a row past the offset: it is read again; then a new row.
    db.exec("UPDATE pgsrc_ts.events SET updated = '2024-01-01 00:00:03' WHERE id = 2")
        .await;
    db.exec("INSERT INTO pgsrc_ts.events VALUES (6, '2024-01-01 00:00:04')")
        .await;
    let all = read(&w, "events", 7).await;
    assert_eq!(ids(&all[5..]), vec![2, 6]);
    assert_eq!(
        field(&all[5].1, "updated"),
        &Value::Timestamp(
            db.long("extract(epoch FROM TIMESTAMP '2024-01-01 00:00:03') * 1000")
                .await
        )
    );
    assert_eq!(count(&w, "events").await, 7, "no row twice");
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timestamp_incrementing_mode_takes_later_ids_at_one_timestamp_and_updates() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_tsinc").await;
    db.exec(
        "CREATE TABLE pgsrc_tsinc.orders (id serial PRIMARY KEY, modified timestamptz,
           created timestamptz NOT NULL, qty int NOT NULL);
         INSERT INTO pgsrc_tsinc.orders (modified, created, qty) VALUES
           (NULL, '2024-03-01 10:00:00+00', 1), (NULL, '2024-03-01 10:00:00+00', 2);",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("orders", 1).await;
    w.worker
        .add_connector(db.source(
            "tsinc",
            &[
                ("mode", "timestamp+incrementing"),
                ("timestamp.column.name", "modified,created"),
                ("incrementing.column.name", "id"),
                ("table.include.list", "pgsrc_tsinc\\.orders"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(ids(&read(&w, "orders", 2).await), vec![1, 2]);
    let created_ms = db
        .long("extract(epoch FROM TIMESTAMPTZ '2024-03-01 10:00:00+00') * 1000")
        .await;
    wait_offset(
        &w,
        "tsinc",
        json!({"protocol": "1", "table": "pgsrc_tsinc.orders"}),
        json!({"incrementing": 2, "timestamp": created_ms, "timestamp_nanos": 0}),
    )
    .await;
    // A row at the same timestamp with a larger id, then an update of row 1 (COALESCE takes
    // `modified`), then a sentinel.
    db.exec(
        "INSERT INTO pgsrc_tsinc.orders (modified, created, qty) VALUES
           (NULL, '2024-03-01 10:00:00+00', 3)",
    )
    .await;
    db.exec(
        "UPDATE pgsrc_tsinc.orders SET modified = '2024-03-02 00:00:00+00', qty = 10 WHERE id = 1",
    )
    .await;
    db.exec(
        "INSERT INTO pgsrc_tsinc.orders (modified, created, qty) VALUES
           (NULL, '2024-03-03 00:00:00+00', 4)",
    )
    .await;
    let all = read(&w, "orders", 5).await;
    assert_eq!(ids(&all), vec![1, 2, 3, 1, 4]);
    assert_eq!(field(&all[3].1, "qty"), &Value::Int32(10));
    assert_eq!(count(&w, "orders").await, 5, "no row twice");
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_mode_copies_the_whole_table_every_poll() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_bulk").await;
    db.exec(
        "CREATE TABLE pgsrc_bulk.colors (id int, name text);
         INSERT INTO pgsrc_bulk.colors VALUES (1, 'red'), (2, 'green'), (3, 'blue');",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("colors", 1).await;
    w.worker
        .add_connector(db.source(
            "bulk",
            &[
                ("mode", "bulk"),
                ("table.whitelist", "\"pgsrc_bulk\".\"colors\""),
            ],
        ))
        .await
        .unwrap();
    let records = read(&w, "colors", 9).await;
    let mut passes: Vec<Vec<i64>> = ids(&records).chunks(3).map(<[i64]>::to_vec).collect();
    for p in &mut passes {
        p.sort();
    }
    assert_eq!(passes, vec![vec![1, 2, 3]; 3], "three whole passes");
    // Bulk mode's partition is the older, unqualified one.
    wait_offset(&w, "bulk", json!({"table": "colors"}), json!({})).await;
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn query_mode_copies_the_query_rows_to_the_prefix_topic() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_query").await;
    db.exec(
        "CREATE TABLE pgsrc_query.people (id int PRIMARY KEY, name text NOT NULL, secret text);
         INSERT INTO pgsrc_query.people VALUES (1, 'ann', 'x'), (2, 'bob', 'y');",
    )
    .await;
    let w = worker(&[]).await;
    w.broker.create_topic("people-q", 1).await;
    let mut p = db.source(
        "query",
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            (
                "query",
                "SELECT * FROM (SELECT id, upper(name) AS shout FROM pgsrc_query.people) p",
            ),
            ("topic.prefix", "people-q"),
        ],
    );
    p.remove("schema.pattern");
    w.worker.add_connector(p).await.unwrap();
    let records = read(&w, "people-q", 2).await;
    let (schema, s) = &records[0];
    assert_eq!(schema.name(), None, "a query's struct has no name");
    assert_eq!(schema.fields().len(), 2);
    assert_eq!(field(s, "shout"), &Value::String("ANN".into()));
    assert_eq!(ids(&records), vec![1, 2]);
    wait_offset(
        &w,
        "query",
        json!({"query": "query"}),
        json!({"incrementing": 2}),
    )
    .await;
    w.worker.shutdown().await;
}

/// The tables of each task config of `connector`.
async fn assigned(w: &TestWorker, connector: &str) -> Vec<String> {
    w.worker
        .task_configs(connector)
        .await
        .unwrap()
        .iter()
        .map(|c| c.get("tables").cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_table_created_while_running_is_streamed_and_a_dropped_one_stops_cleanly() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_dyn").await;
    db.exec(
        "CREATE TABLE pgsrc_dyn.a (id serial PRIMARY KEY, v text);
         CREATE TABLE pgsrc_dyn.c (id serial PRIMARY KEY, v text);
         INSERT INTO pgsrc_dyn.a (v) VALUES ('a1');
         INSERT INTO pgsrc_dyn.c (v) VALUES ('c1');",
    )
    .await;
    let w = worker(&[]).await;
    for t in ["dyn-a", "dyn-b", "dyn-c"] {
        w.broker.create_topic(t, 1).await;
    }
    w.worker
        .add_connector(db.source(
            "dyn",
            &[
                ("tasks.max", "2"),
                ("mode", "incrementing"),
                ("table.include.list", "pgsrc_dyn\\..*"),
                ("topic.prefix", "dyn-"),
            ],
        ))
        .await
        .unwrap();
    w.wait_running("dyn", 2).await;
    assert_eq!(
        assigned(&w, "dyn").await,
        vec!["\"pgsrc_dyn\".\"a\"", "\"pgsrc_dyn\".\"c\""]
    );
    read(&w, "dyn-a", 1).await;
    read(&w, "dyn-c", 1).await;

    // A new table: its rows arrive within table.poll.interval.ms (500) and one
    // reconfiguration; every table is assigned to exactly one task.
    let created = Instant::now();
    db.exec(
        "CREATE TABLE pgsrc_dyn.b (id serial PRIMARY KEY, v text);
         INSERT INTO pgsrc_dyn.b (v) VALUES ('b1'), ('b2');",
    )
    .await;
    let b = read(&w, "dyn-b", 2).await;
    let took = created.elapsed();
    eprintln!("a new table's rows arrived {took:?} after it was created");
    assert_eq!(ids(&b), vec![1, 2]);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let tables = assigned(&w, "dyn").await;
    assert_eq!(tables.len(), 2);
    let all: Vec<&str> = tables.iter().flat_map(|t| t.split(',')).collect();
    let unique: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a table in two tasks: {tables:?}");
    assert_eq!(
        unique,
        BTreeSet::from([
            "\"pgsrc_dyn\".\"a\"",
            "\"pgsrc_dyn\".\"b\"",
            "\"pgsrc_dyn\".\"c\""
        ])
    );

    // A dropped table: the tasks are reconfigured without it and nothing fails; the other
    // tables go on, each row once.
    db.exec("DROP TABLE pgsrc_dyn.b").await;
    let deadline = Instant::now() + WAIT;
    while assigned(&w, "dyn")
        .await
        .iter()
        .any(|t| t.contains("\"b\""))
    {
        assert!(Instant::now() < deadline, "b still assigned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.exec(
        "INSERT INTO pgsrc_dyn.a (v) VALUES ('a2'); INSERT INTO pgsrc_dyn.c (v) VALUES ('c2');",
    )
    .await;
    assert_eq!(ids(&read(&w, "dyn-a", 2).await), vec![1, 2]);
    assert_eq!(ids(&read(&w, "dyn-c", 2).await), vec![1, 2]);
    w.wait_running("dyn", 2).await;
    let status = w.status().get("dyn").unwrap();
    assert_eq!(status.connector.state, State::Running);
    for (id, t) in &status.tasks {
        assert_eq!(t.state, State::Running, "task {id}: {:?}", t.trace);
    }
    assert_eq!(count(&w, "dyn-a").await, 2);
    assert_eq!(count(&w, "dyn-b").await, 2);
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_fails_the_connector_naming_the_user_and_hiding_the_password() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_badpw").await;
    let w = worker(&[("task.restart.max.restarts", "0")]).await;
    w.worker
        .add_connector(db.source(
            "badpw",
            &[
                ("mode", "bulk"),
                ("connection.password", "not-the-password-42"),
            ],
        ))
        .await
        .unwrap();
    let trace = wait_failed(&w, "badpw", false).await;
    assert!(
        trace.contains("password authentication failed for user \"kconnect\""),
        "{trace}"
    );
    assert!(
        trace.contains("cannot connect to PostgreSQL at 127.0.0.1:"),
        "{trace}"
    );
    assert!(!trace.contains("not-the-password-42"), "{trace}");
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_host_fails_the_connector_naming_it() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_unreach").await;
    let w = worker(&[("task.restart.max.restarts", "0")]).await;
    w.worker
        .add_connector(db.source(
            "unreach",
            &[
                ("mode", "bulk"),
                ("connection.url", "jdbc:postgresql://127.0.0.1:1/shop"),
                ("connection.backoff.ms", "10"),
            ],
        ))
        .await
        .unwrap();
    let trace = wait_failed(&w, "unreach", false).await;
    assert!(
        trace.contains(
            "cannot connect to PostgreSQL at 127.0.0.1:1/shop as kconnect after 1 attempt(s)"
        ),
        "{trace}"
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_table_fails_the_task_naming_it() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_missing").await;
    let w = worker(&[("task.restart.max.restarts", "0")]).await;
    w.worker
        .add_connector(db.source(
            "missing",
            &[("mode", "bulk"), ("table.whitelist", "pgsrc_missing.nope")],
        ))
        .await
        .unwrap();
    let trace = wait_failed(&w, "missing", true).await;
    assert!(
        trace.contains("none of the tables table.whitelist names exists (pgsrc_missing.nope)"),
        "{trace}"
    );
    // In query mode the server names it.
    let mut p = db.source(
        "missing-q",
        &[
            ("mode", "bulk"),
            ("query", "SELECT * FROM pgsrc_missing.gone"),
            ("topic.prefix", "gone"),
        ],
    );
    p.remove("schema.pattern");
    w.worker.add_connector(p).await.unwrap();
    let trace = wait_failed(&w, "missing-q", true).await;
    assert!(
        trace.contains(
            "cannot read the query: ERROR: relation \"pgsrc_missing.gone\" does not exist"
        ),
        "{trace}"
    );
    w.worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_array_column_fails_the_task_naming_the_column() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_array").await;
    db.exec(
        "CREATE TABLE pgsrc_array.tagged (id serial PRIMARY KEY, tags text[]);
         INSERT INTO pgsrc_array.tagged (tags) VALUES ('{a,b}');",
    )
    .await;
    let w = worker(&[("task.restart.max.restarts", "0")]).await;
    w.worker
        .add_connector(db.source("array", &[("mode", "incrementing")]))
        .await
        .unwrap();
    let trace = wait_failed(&w, "array", true).await;
    assert!(
        trace.contains("column tags of pgsrc_array.tagged is an array (_text)"),
        "{trace}"
    );
    w.worker.shutdown().await;
}

/// Committed offsets held in memory, for a task driven by the test.
struct Committed(Vec<(serde_json::Value, serde_json::Value)>);

impl kconnect_connectors::api::OffsetStorageReader for Committed {
    fn offset(
        &self,
        partition: &kconnect_connectors::record::OffsetMap,
    ) -> Option<kconnect_connectors::record::OffsetMap> {
        let p = serde_json::Value::Object(partition.clone());
        self.0.iter().find(|(k, _)| *k == p).map(|(_, v)| match v {
            serde_json::Value::Object(m) => m.clone(),
            _ => panic!("not an object"),
        })
    }
}

/// A task of the source started on `props` (with `tables`) and `committed` offsets.
async fn task(
    props: Props,
    tables: &str,
    committed: Vec<(serde_json::Value, serde_json::Value)>,
) -> kconnect_connectors::builtin::postgres::source::PostgresSourceTask {
    use kconnect_connectors::api::{SourceTask, SourceTaskContext};
    let mut p = props;
    p.insert("tables".into(), tables.into());
    p.insert("tables.fetched".into(), "true".into());
    let mut t = kconnect_connectors::builtin::postgres::source::PostgresSourceTask::new();
    let ctx = SourceTaskContext {
        offset_reader: std::sync::Arc::new(Committed(committed)),
        task_id: 0,
        transactions: None,
    };
    t.start(ctx, &p).await.unwrap();
    t
}

/// The next non-empty batch: its ids and offset.
async fn next_batch(
    t: &mut kconnect_connectors::builtin::postgres::source::PostgresSourceTask,
) -> (Vec<i64>, serde_json::Value) {
    use kconnect_connectors::api::SourceTask;
    use kconnect_connectors::record::Polled;
    let deadline = Instant::now() + WAIT;
    loop {
        match t.poll_batches().await.unwrap() {
            Polled::Batches(b) if !b.is_empty() => {
                assert_eq!(b.len(), 1);
                let b = b.into_iter().next().unwrap();
                let ids = b
                    .records
                    .iter()
                    .map(|r| match &r.value {
                        Value::Struct(s) => match field(s, "id") {
                            Value::Int32(i) => i64::from(*i),
                            other => panic!("{other:?}"),
                        },
                        other => panic!("{other:?}"),
                    })
                    .collect();
                return (ids, serde_json::Value::Object(b.offset));
            }
            Polled::Batches(_) => assert!(Instant::now() < deadline, "no batch"),
            Polled::Records(_) => panic!("the source returns batches"),
        }
    }
}

/// Batches end between rows of one timestamp, yet no batch's offset passes a timestamp some
/// of whose rows are still to come: resuming from any of them loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_offsets_never_pass_rows_of_a_timestamp_still_to_come() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_ties").await;
    db.exec(
        "CREATE TABLE pgsrc_ties.t (id int PRIMARY KEY, ts timestamp NOT NULL);
         INSERT INTO pgsrc_ties.t VALUES (1, '2024-01-01 00:00:01'), (2, '2024-01-01 00:00:01'),
           (3, '2024-01-01 00:00:01'), (4, '2024-01-01 00:00:02'), (5, '2024-01-01 00:00:02');",
    )
    .await;
    let props = db.source(
        "ties",
        &[
            ("mode", "timestamp"),
            ("timestamp.column.name", "ts"),
            ("batch.max.rows", "2"),
        ],
    );
    let mut t = task(props, "\"pgsrc_ties\".\"t\"", vec![]).await;
    let t1 = db
        .long("extract(epoch FROM TIMESTAMP '2024-01-01 00:00:01') * 1000")
        .await;
    let t2 = db
        .long("extract(epoch FROM TIMESTAMP '2024-01-01 00:00:02') * 1000")
        .await;
    // Rows 1 and 2: row 3 shares their timestamp, so nothing is committable yet.
    assert_eq!(next_batch(&mut t).await, (vec![1, 2], json!({})));
    // Rows 3 and 4: the first timestamp is done; row 5 shares the second.
    assert_eq!(
        next_batch(&mut t).await,
        (vec![3, 4], json!({"timestamp": t1, "timestamp_nanos": 0}))
    );
    assert_eq!(
        next_batch(&mut t).await,
        (vec![5], json!({"timestamp": t2, "timestamp_nanos": 0}))
    );
}

/// A task resumes after the committed offset, whichever of the JDBC connector's partition
/// shapes it was committed under: the current one, the one with the database in front, or the
/// unqualified one of older versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_resumes_after_offsets_committed_under_every_partition_shape() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_resume").await;
    db.exec(
        "CREATE TABLE pgsrc_resume.t (id int PRIMARY KEY);
         INSERT INTO pgsrc_resume.t SELECT generate_series(1, 10);",
    )
    .await;
    let props = db.source(
        "resume",
        &[("mode", "incrementing"), ("incrementing.column.name", "id")],
    );
    let database: String = db
        .client
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap()
        .get(0);
    for (partition, from) in [
        (json!({"protocol": "1", "table": "pgsrc_resume.t"}), 7),
        (
            json!({"protocol": "1", "table": format!("{database}.pgsrc_resume.t")}),
            5,
        ),
        (json!({"table": "t"}), 3),
    ] {
        let mut t = task(
            props.clone(),
            "\"pgsrc_resume\".\"t\"",
            vec![(partition.clone(), json!({"incrementing": from}))],
        )
        .await;
        let (ids, offset) = next_batch(&mut t).await;
        assert_eq!(ids, ((from + 1)..=10).collect::<Vec<_>>(), "{partition}");
        assert_eq!(offset, json!({"incrementing": 10}));
    }
    // A malformed committed offset is an error naming the partition.
    use kconnect_connectors::api::{SourceTask, SourceTaskContext};
    let mut p = props.clone();
    p.insert("tables".into(), "\"pgsrc_resume\".\"t\"".into());
    let mut t = kconnect_connectors::builtin::postgres::source::PostgresSourceTask::new();
    let ctx = SourceTaskContext {
        offset_reader: std::sync::Arc::new(Committed(vec![(
            json!({"protocol": "1", "table": "pgsrc_resume.t"}),
            json!({"incrementing": "seven"}),
        )])),
        task_id: 0,
        transactions: None,
    };
    let e = t.start(ctx, &p).await.unwrap_err().to_string();
    assert!(
        e.contains(
            "of source partition {\"protocol\":\"1\",\"table\":\"pgsrc_resume.t\"} is not valid"
        ),
        "{e}"
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

/// `kconnect broker` with `topics`, and the address it printed.
fn start_broker(topics: &[&str]) -> (procs::Proc, String) {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("broker");
    for t in topics {
        cmd.args(["--topic", t]);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (procs::Proc(child), line.trim().to_string())
}

fn standalone(files: &[&std::path::Path], log: &std::path::Path) -> procs::Proc {
    let child = std::process::Command::new(BIN)
        .arg("standalone")
        .args(files)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    procs::Proc(child)
}

/// Rows keep arriving while the worker (the `kconnect` binary, Confluent's class name in its
/// connector file) is SIGKILLed mid-stream and started again: every row reaches the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_worker_started_again_loses_no_row_in_incrementing_mode() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    const TOTAL: i64 = 10_000;
    let db = Db::new(&url, "pgsrc_kill").await;
    db.exec("CREATE TABLE pgsrc_kill.events (id bigserial PRIMARY KEY, payload text NOT NULL)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (_broker, addr) = start_broker(&["kill-events:1"]);
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "bootstrap.servers={addr}\nlisteners=http://127.0.0.1:0\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=200\n",
            dir.path().join("offsets").display()
        ),
    )
    .unwrap();
    let (jdbc_url, user, password) = jdbc(&url);
    let source = dir.path().join("source.properties");
    std::fs::write(
        &source,
        format!(
            "name=kill\nconnector.class=io.confluent.connect.jdbc.JdbcSourceConnector\n\
             tasks.max=1\nconnection.url={jdbc_url}\nconnection.user={user}\n\
             connection.password={password}\nmode=incrementing\nincrementing.column.name=id\n\
             table.whitelist=pgsrc_kill.events\ntopic.prefix=kill-\npoll.interval.ms=50\n\
             batch.max.rows=200\n"
        ),
    )
    .unwrap();
    // One writer, one transaction at a time: ids commit in order, as incrementing mode needs.
    let writer = {
        let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        tokio::spawn(async move {
            for _ in 0..(TOTAL / 100) {
                client
                    .batch_execute(
                        "INSERT INTO pgsrc_kill.events (payload)
                         SELECT 'p' || g FROM generate_series(1, 100) g",
                    )
                    .await
                    .unwrap();
                // Load pacing, so that the kill falls mid-stream.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let count = |addr: String| async move {
        tokio::task::spawn_blocking(move || kafka::record_count(&addr, "kill-events").unwrap_or(0))
            .await
            .unwrap()
    };
    let mut run1 = standalone(&[&worker, &source], &dir.path().join("run1.log"));
    let deadline = Instant::now() + WAIT;
    while count(addr.clone()).await < 1_500 {
        assert!(
            Instant::now() < deadline,
            "no records; log:\n{}",
            std::fs::read_to_string(dir.path().join("run1.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run1.signal(nix::sys::signal::Signal::SIGKILL);
    run1.wait_exit(Duration::from_secs(30));
    let before = count(addr.clone()).await;
    let _run2 = standalone(&[&worker, &source], &dir.path().join("run2.log"));
    writer.await.unwrap();
    // Every row read back, however many times: duplicates (rows read again after the restart)
    // make the record count reach TOTAL before the last rows are in, so wait for the rows.
    let deadline = Instant::now() + WAIT;
    let (n, seen) = loop {
        let n = count(addr.clone()).await as usize;
        let a = addr.clone();
        let records =
            tokio::task::spawn_blocking(move || kafka::read_partition(&a, "kill-events", n, WAIT))
                .await
                .unwrap();
        let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
        for r in &records {
            let v: serde_json::Value = serde_json::from_slice(r.value.as_ref().unwrap()).unwrap();
            *seen
                .entry(v["payload"]["id"].as_i64().unwrap())
                .or_default() += 1;
        }
        if seen.len() as i64 >= TOTAL || Instant::now() > deadline {
            break (n, seen);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing: Vec<i64> = (1..=TOTAL)
        .filter(|i| !seen.contains_key(i))
        .take(10)
        .collect();
    let duplicates = n - seen.len();
    eprintln!(
        "SIGKILL after {before} of {TOTAL} records: {n} records, {} distinct rows, {duplicates} \
         duplicates",
        seen.len()
    );
    assert!(before < TOTAL, "killed too late to test a resume");
    assert!(missing.is_empty(), "lost rows, first: {missing:?}");
    assert_eq!(seen.len() as i64, TOTAL, "no row beyond the table's");
}

/// The example connector file in config/ is a valid config of the source, under Confluent's
/// class name.
#[test]
fn the_example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/connect-postgres-source.properties");
    let file = std::fs::File::open(&path).unwrap();
    let props: Props = java_properties::read(std::io::BufReader::new(file))
        .unwrap()
        .into_iter()
        .collect();
    let plugins = PluginRegistry::builtin();
    let plugin = plugins.connector(&props["connector.class"]).unwrap();
    assert_eq!(
        plugin.class_name,
        "io.confluent.connect.jdbc.JdbcSourceConnector"
    );
    let errors: Vec<_> = plugin
        .create()
        .validate(&props)
        .into_iter()
        .filter(|v| !v.errors.is_empty())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(props["table.include.list"], "public\\.orders.*");
}

/// `kconnect distributed` with `config`, and the REST URL it printed.
fn distributed_worker(config: &std::path::Path, log: &std::path::Path) -> (procs::Proc, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(BIN)
        .args(["--log-level", "info", "distributed"])
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (procs::Proc(child), line.trim().to_string())
}

/// In distributed mode too, a table created while the source runs reaches the tasks (the
/// connector's reconfiguration request goes through the group's leader), each table assigned
/// once over the tasks of two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_distributed_mode_a_new_table_reconfigures_the_tasks() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    let db = Db::new(&url, "pgsrc_dist").await;
    db.exec(
        "CREATE TABLE pgsrc_dist.a (id serial PRIMARY KEY, v text);
         INSERT INTO pgsrc_dist.a (v) VALUES ('a1');",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_broker, addr) = start_broker(&[
        "connect-configs:1",
        "connect-offsets:5",
        "connect-status:3",
        "dist-a:1",
        "dist-b:1",
    ]);
    let config = dir.path().join("worker.properties");
    std::fs::write(
        &config,
        format!(
            "bootstrap.servers={addr}\nlisteners=http://127.0.0.1:0\ngroup.id=pgsrc-dist\n\
             config.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n\
             offset.storage.partitions=5\nstatus.storage.topic=connect-status\n\
             status.storage.partitions=3\nsession.timeout.ms=3000\nheartbeat.interval.ms=500\n\
             offset.flush.interval.ms=300\n"
        ),
    )
    .unwrap();
    let workers: Vec<(procs::Proc, String)> = (0..2)
        .map(|i| distributed_worker(&config, &dir.path().join(format!("worker-{i}.log"))))
        .collect();
    let logs = || {
        (0..2)
            .map(|i| {
                std::fs::read_to_string(dir.path().join(format!("worker-{i}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let http = reqwest::Client::new();
    let rest = &workers[0].1;
    // Every worker knows the leader before the connector is created.
    let deadline = Instant::now() + WAIT;
    for (_, u) in &workers {
        loop {
            let v: serde_json::Value = match http.get(format!("{u}/admin/worker")).send().await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            };
            if v["cluster"]["leader_url"].is_string() {
                break;
            }
            assert!(Instant::now() < deadline, "never joined\n{}", logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut config: serde_json::Map<String, serde_json::Value> = db
        .source(
            "dist",
            &[
                ("tasks.max", "2"),
                ("mode", "incrementing"),
                ("table.include.list", "pgsrc_dist\\..*"),
                ("topic.prefix", "dist-"),
            ],
        )
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    config.remove("name");
    let r = http
        .post(format!("{rest}/connectors"))
        .json(&json!({"name": "dist", "config": config}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let read_ids = |topic: &'static str, n: usize| {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            kafka::read_partition(&addr, topic, n, WAIT)
                .iter()
                .map(|r| {
                    let v: serde_json::Value =
                        serde_json::from_slice(r.value.as_ref().unwrap()).unwrap();
                    v["payload"]["id"].as_i64().unwrap()
                })
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(read_ids("dist-a", 1).await.unwrap(), vec![1], "{}", logs());
    db.exec(
        "CREATE TABLE pgsrc_dist.b (id serial PRIMARY KEY, v text);
         INSERT INTO pgsrc_dist.b (v) VALUES ('b1'), ('b2');",
    )
    .await;
    assert_eq!(
        read_ids("dist-b", 2).await.unwrap(),
        vec![1, 2],
        "{}",
        logs()
    );
    let tasks: serde_json::Value = http
        .get(format!("{rest}/connectors/dist/tasks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tables: Vec<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["config"]["tables"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tables,
        vec!["\"pgsrc_dist\".\"a\"", "\"pgsrc_dist\".\"b\""],
        "one table per task"
    );
}

/// A task whose table is dropped keeps running (its polls come back empty), and reads the
/// table again once one of that name exists again, from the committed position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_table_is_skipped_and_read_again_once_recreated() {
    let Some(url) = common::postgres::real_postgres() else {
        return;
    };
    use kconnect_connectors::api::SourceTask;
    use kconnect_connectors::record::Polled;
    let db = Db::new(&url, "pgsrc_recreate").await;
    db.exec(
        "CREATE TABLE pgsrc_recreate.t (id int PRIMARY KEY);
         INSERT INTO pgsrc_recreate.t VALUES (1), (2);",
    )
    .await;
    let props = db.source(
        "recreate",
        &[("mode", "incrementing"), ("incrementing.column.name", "id")],
    );
    let mut t = task(props, "\"pgsrc_recreate\".\"t\"", vec![]).await;
    assert_eq!(
        next_batch(&mut t).await,
        (vec![1, 2], json!({"incrementing": 2}))
    );
    db.exec("DROP TABLE pgsrc_recreate.t").await;
    // Several polls over the poll interval (100 ms): none fails, none returns records.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        match t.poll_batches().await.unwrap() {
            Polled::Batches(b) => assert!(b.iter().all(|b| b.records.is_empty()), "{b:?}"),
            Polled::Records(r) => assert!(r.is_empty()),
        }
    }
    db.exec(
        "CREATE TABLE pgsrc_recreate.t (id int PRIMARY KEY);
         INSERT INTO pgsrc_recreate.t VALUES (2), (3);",
    )
    .await;
    assert_eq!(
        next_batch(&mut t).await,
        (vec![3], json!({"incrementing": 3}))
    );
}
