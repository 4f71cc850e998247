//! A driver for profiling `JsonConverter`: converts the record of `kconnect bench --only json`
//! (a six-field struct with `schemas.enable=true`) N times one way, so that instruction
//! counts per record can be read off `valgrind --tool=callgrind`; `serde-to` / `serde-from` do
//! the same with serde_json and derived structs shaped like the envelope (the bench's twin):
//!
//! ```text
//! cargo build --release --example json_profile
//! valgrind --tool=callgrind target/release/examples/json_profile from 10000
//! valgrind --tool=callgrind target/release/examples/json_profile to 10000
//! valgrind --tool=callgrind target/release/examples/json_profile serde-from 10000
//! ```
//!
//! Run it with N and 2N records and divide the difference by N to leave out the start-up.

use std::hint::black_box;

use kconnect_connectors::converters::{Converter, JsonConverter};
use kconnect_connectors::data::{Schema, SchemaBuilder, Struct, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Envelope {
    schema: SchemaJson,
    payload: Order,
}

#[derive(Serialize, Deserialize)]
struct SchemaJson {
    #[serde(rename = "type")]
    ty: String,
    fields: Vec<FieldJson>,
    optional: bool,
    name: String,
    version: i32,
}

#[derive(Serialize, Deserialize)]
struct FieldJson {
    #[serde(rename = "type")]
    ty: String,
    optional: bool,
    field: String,
}

#[derive(Serialize, Deserialize)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    quantity: i32,
    paid: bool,
    note: Option<String>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let direction = args.next().unwrap_or_else(|| "from".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let schema = SchemaBuilder::struct_()
        .name("kconnect.bench.Order")
        .version(1)
        .field("id", Schema::int64())
        .field("customer", Schema::string())
        .field("amount", Schema::float64())
        .field("quantity", Schema::int32())
        .field("paid", Schema::boolean())
        .field("note", Schema::optional_string())
        .build();
    let value = Struct::new(schema.clone())
        .and_then(|s| s.with("id", 1_234_567_890_123i64))
        .and_then(|s| s.with("customer", "ACME Corporation, Building 7"))
        .and_then(|s| s.with("amount", 1234.5625f64))
        .and_then(|s| s.with("quantity", 42i32))
        .and_then(|s| s.with("paid", true))
        .and_then(|s| s.with("note", "deliver to the back door"))
        .map(Value::Struct)
        .expect("a valid struct");
    let conv = JsonConverter::new();
    let bytes = conv
        .from_connect("t", Some(&schema), &value)
        .expect("converts")
        .expect("not null");
    match direction.as_str() {
        "from" => {
            for _ in 0..n {
                black_box(
                    conv.from_connect("t", Some(&schema), black_box(&value))
                        .ok(),
                );
            }
        }
        "to" => {
            for _ in 0..n {
                black_box(conv.to_connect("t", Some(black_box(&bytes[..]))).ok());
            }
        }
        "serde-from" => {
            let twin: Envelope = serde_json::from_slice(&bytes).expect("the twin reads it");
            for _ in 0..n {
                black_box(serde_json::to_vec(black_box(&twin)).ok());
            }
        }
        "serde-to" => {
            for _ in 0..n {
                black_box(serde_json::from_slice::<Envelope>(black_box(&bytes[..])).ok());
            }
        }
        other => eprintln!("unknown direction {other}: use from, to, serde-from or serde-to"),
    }
}
