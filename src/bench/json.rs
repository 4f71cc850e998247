//! JsonConverter (`schemas.enable=true`) on a struct with a few fields, against serde_json
//! serializing and parsing derived structs that produce the very same bytes (schema envelope
//! included).

use std::hint::black_box;
use std::time::Instant;

use anyhow::{anyhow, bail};
use kconnect_connectors::api::Props;
use kconnect_connectors::converters::{Converter, JsonConverter};
use kconnect_connectors::data::{Schema, SchemaBuilder, Struct, Value};
use serde::{Deserialize, Serialize};

use super::{format_value, rate, thousands, Plan, Report, Row, Unit};

/// The serde twin of the converter's envelope: `{"schema": …, "payload": …}`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Envelope {
    schema: SchemaJson,
    payload: Order,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct SchemaJson {
    #[serde(rename = "type")]
    ty: String,
    fields: Vec<FieldJson>,
    optional: bool,
    name: String,
    version: i32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct FieldJson {
    #[serde(rename = "type")]
    ty: String,
    optional: bool,
    field: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    quantity: i32,
    paid: bool,
    note: Option<String>,
}

const SCHEMA_NAME: &str = "kconnect.bench.Order";

pub(super) fn connect_schema() -> Schema {
    SchemaBuilder::struct_()
        .name(SCHEMA_NAME)
        .version(1)
        .field("id", Schema::int64())
        .field("customer", Schema::string())
        .field("amount", Schema::float64())
        .field("quantity", Schema::int32())
        .field("paid", Schema::boolean())
        .field("note", Schema::optional_string())
        .build()
}

pub(super) fn connect_value(schema: &Schema) -> anyhow::Result<Value> {
    let s = Struct::new(schema.clone())
        .and_then(|s| s.with("id", 1_234_567_890_123i64))
        .and_then(|s| s.with("customer", "ACME Corporation, Building 7"))
        .and_then(|s| s.with("amount", 1234.5625f64))
        .and_then(|s| s.with("quantity", 42i32))
        .and_then(|s| s.with("paid", true))
        .and_then(|s| s.with("note", "deliver to the back door"))
        .map_err(|e| anyhow!("building the struct: {e}"))?;
    Ok(Value::Struct(s))
}

fn serde_value() -> Envelope {
    let field = |ty: &str, optional: bool, name: &str| FieldJson {
        ty: ty.into(),
        optional,
        field: name.into(),
    };
    Envelope {
        schema: SchemaJson {
            ty: "struct".into(),
            fields: vec![
                field("int64", false, "id"),
                field("string", false, "customer"),
                field("double", false, "amount"),
                field("int32", false, "quantity"),
                field("boolean", false, "paid"),
                field("string", true, "note"),
            ],
            optional: false,
            name: SCHEMA_NAME.into(),
            version: 1,
        },
        payload: Order {
            id: 1_234_567_890_123,
            customer: "ACME Corporation, Building 7".into(),
            amount: 1234.5625,
            quantity: 42,
            paid: true,
            note: Some("deliver to the back door".into()),
        },
    }
}

pub(super) fn converter() -> anyhow::Result<JsonConverter> {
    let mut c = JsonConverter::new();
    let props: Props = [("schemas.enable".to_string(), "true".to_string())].into();
    c.configure(&props, false)
        .map_err(|e| anyhow!("configuring JsonConverter: {e}"))?;
    Ok(c)
}

/// Records/s of: converter from_connect, serde to_vec, converter to_connect, serde from_slice;
/// and whether both sides wrote the same bytes.
fn measure(m: usize) -> anyhow::Result<([f64; 4], bool, usize)> {
    let conv = converter()?;
    let schema = connect_schema();
    let value = connect_value(&schema)?;
    let twin = serde_value();
    let bytes = conv
        .from_connect("t", Some(&schema), &value)
        .map_err(|e| anyhow!("from_connect: {e}"))?
        .ok_or_else(|| anyhow!("from_connect returned null"))?;
    let serde_bytes = serde_json::to_vec(&twin)?;
    let same = bytes == serde_bytes;
    let back = conv
        .to_connect("t", Some(&bytes))
        .map_err(|e| anyhow!("to_connect: {e}"))?;
    if back.value != value {
        bail!("to_connect(from_connect(x)) != x");
    }
    // Warm up both sides once.
    for _ in 0..m / 10 {
        black_box(
            conv.from_connect("t", Some(&schema), black_box(&value))
                .ok(),
        );
        black_box(serde_json::to_vec(black_box(&twin)).ok());
    }
    let t = Instant::now();
    for _ in 0..m {
        black_box(
            conv.from_connect("t", Some(&schema), black_box(&value))
                .ok(),
        );
    }
    let kc_ser = rate(m, t.elapsed());
    let t = Instant::now();
    for _ in 0..m {
        black_box(serde_json::to_vec(black_box(&twin)).ok());
    }
    let serde_ser = rate(m, t.elapsed());
    let t = Instant::now();
    for _ in 0..m {
        black_box(conv.to_connect("t", Some(black_box(&bytes[..]))).ok());
    }
    let kc_de = rate(m, t.elapsed());
    let t = Instant::now();
    for _ in 0..m {
        black_box(serde_json::from_slice::<Envelope>(black_box(&bytes[..])).ok());
    }
    let serde_de = rate(m, t.elapsed());
    Ok(([kc_ser, serde_ser, kc_de, serde_de], same, bytes.len()))
}

pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let m = plan.json_records;
    let ([kc_ser, serde_ser, kc_de, serde_de], same, len) =
        tokio::task::spawn_blocking(move || measure(m)).await??;
    let mut note = format!(
        "**json**: {} records each way through one `JsonConverter` with `schemas.enable=true`: a \
         struct of six fields (int64, string, float64, int32, boolean, optional string; {len} \
         bytes of JSON with its schema envelope). `from_connect` (Connect struct → bytes) is \
         compared with `serde_json::to_vec` of `#[derive(Serialize)]` structs shaped like the \
         envelope, and `to_connect` (bytes → schema and struct) with `serde_json::from_slice` \
         into them; one thread, after a warm-up of a tenth as many records.",
        thousands(m as u64)
    );
    if same {
        note.push_str(" Both sides write byte-identical JSON.");
    } else {
        note.push_str(" NOTE: the serde twin's bytes differ from the converter's this time.");
    }
    eprintln!(
        "  json: from_connect {} vs serde {}; to_connect {} vs serde {}",
        format_value(kc_ser, Unit::PerSec),
        format_value(serde_ser, Unit::PerSec),
        format_value(kc_de, Unit::PerSec),
        format_value(serde_de, Unit::PerSec)
    );
    Ok(Report {
        rows: vec![
            Row::info("json from_connect: kconnect", kc_ser, Unit::PerSec),
            Row::info("json serialize: serde_json", serde_ser, Unit::PerSec),
            Row::info(
                "json from_connect: kconnect / serde",
                kc_ser / serde_ser,
                Unit::Ratio,
            ),
            Row::info("json to_connect: kconnect", kc_de, Unit::PerSec),
            Row::info("json parse: serde_json", serde_de, Unit::PerSec),
            Row::info(
                "json to_connect: kconnect / serde",
                kc_de / serde_de,
                Unit::Ratio,
            ),
        ],
        notes: vec![note],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serde_twin_writes_the_converters_bytes() {
        let conv = converter().unwrap();
        let schema = connect_schema();
        let bytes = conv
            .from_connect("t", Some(&schema), &connect_value(&schema).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(serde_json::to_vec(&serde_value()).unwrap()).unwrap(),
            String::from_utf8(bytes.clone()).unwrap()
        );
        assert_eq!(
            serde_json::from_slice::<Envelope>(&bytes).unwrap(),
            serde_value()
        );
    }
}
