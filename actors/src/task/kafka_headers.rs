//! A consumed record's Kafka headers without librdkafka parsing an empty header block.
//!
//! `rd_kafka_message_headers` parses a consumed record's header block on first access. A v2
//! record always has one, and without headers it is one byte, the varint 0 — which librdkafka
//! still parses by allocating a shadow buffer (`calloc`), reading the count and freeing it:
//! about 1,000 instructions per record, a tenth of what a whole record costs the sink path,
//! for records that have no headers at all (the usual case).
//!
//! librdkafka's public API has no "does it have headers" question, so [`headers`] reads the
//! unparsed block's length and first byte from the message's private envelope
//! (`rd_kafka_msg_t` in `rdkafka_msg.h`), whose layout is mirrored in [`MsgHead`]. That layout
//! is private to librdkafka, so it is trusted only for the exact version it was read from
//! ([`LAYOUT_VERSION`], the one `rdkafka-sys` vendors and links statically); any other version
//! takes the public call for every record. The test below checks the mirror against the public
//! call on records with and without headers.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::OnceLock;

use rdkafka::bindings as rd;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Message};

/// The librdkafka version (`RD_KAFKA_VERSION`, 2.12.1) whose `rd_kafka_msg_t` [`MsgHead`]
/// mirrors.
const LAYOUT_VERSION: c_int = 0x020c_01ff;

/// The head of librdkafka's `rd_kafka_msg_t` up to a consumed record's unparsed headers
/// (`rkm_u.consumer.binhdrs`, an `rd_kafkap_bytes_t`: a 32-bit length, then a pointer).
#[repr(C)]
struct MsgHead {
    /// `rkm_rkmessage`, the public part: `rd_kafka_message_t` is the envelope's first field.
    message: rd::rd_kafka_message_t,
    /// `rkm_link`, a `TAILQ_ENTRY`: next and previous pointers.
    link_next: *mut c_void,
    link_prev: *mut *mut c_void,
    flags: c_int,
    /// `rkm_tstype`, an enum.
    timestamp_type: c_int,
    timestamp: i64,
    /// `rkm_headers`: the parsed headers, once parsed.
    headers: *mut c_void,
    /// `rkm_status`, an enum.
    status: c_int,
    broker_id: i32,
    /// `rkm_u.consumer.binhdrs.len` (the union starts 8-byte aligned, as here).
    unparsed_len: i32,
    /// `rkm_u.consumer.binhdrs.data`.
    unparsed: *const u8,
}

/// Whether the linked librdkafka is the one [`MsgHead`] was read from; asked once.
fn layout_known() -> bool {
    static KNOWN: OnceLock<bool> = OnceLock::new();
    // SAFETY: `rd_kafka_version` only returns a constant.
    *KNOWN.get_or_init(|| unsafe { rd::rd_kafka_version() } == LAYOUT_VERSION)
}

/// The headers of consumed record `m`, `None` when it has none — what `m.headers()` answers,
/// without parsing an empty header block.
#[inline]
pub fn headers<'a>(m: &'a BorrowedMessage<'a>) -> Option<&'a BorrowedHeaders> {
    if layout_known() && has_no_headers(m) {
        return None;
    }
    m.headers()
}

/// Whether `m`'s envelope says it has no headers: none parsed, and an unparsed block that is
/// empty or starts with the varint 0 (no headers, see `rd_kafka_msg_headers_parse`).
#[inline]
fn has_no_headers(m: &BorrowedMessage<'_>) -> bool {
    // SAFETY: `m` is a consumed message librdkafka handed out: its `rd_kafka_message_t` is the
    // first field of an `rd_kafka_msg_t` of the version `layout_known` checked, laid out as
    // `MsgHead`. A consumed message's union holds the consumer half. `unparsed_len` bytes from
    // `unparsed` are in the fetch buffer the message keeps alive, so reading the first of at
    // least one is in bounds.
    unsafe {
        let head = &*(m.ptr() as *const MsgHead);
        head.headers.is_null()
            && (head.unparsed_len <= 0 || (!head.unparsed.is_null() && *head.unparsed == 0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Header, Headers, OwnedHeaders};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::TopicPartitionList;

    use super::*;

    /// Records with no headers, an explicitly empty set, one header, and a header without a
    /// value: the mirror must answer as librdkafka's own parser does for each.
    #[test]
    fn the_envelope_says_what_the_parser_says() {
        assert!(
            layout_known(),
            "the linked librdkafka is not 2.12.1: check MsgHead against its rdkafka_msg.h"
        );
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("h", 1, 1).unwrap();
        let bootstrap = cluster.bootstrap_servers();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .unwrap();
        let sent: [Option<OwnedHeaders>; 5] = [
            None,
            Some(OwnedHeaders::new()),
            Some(OwnedHeaders::new().insert(Header {
                key: "k",
                value: Some("v"),
            })),
            Some(OwnedHeaders::new().insert(Header::<&str> {
                key: "",
                value: None,
            })),
            None,
        ];
        for h in &sent {
            let mut r = BaseRecord::<(), str>::to("h").payload("x");
            if let Some(h) = h {
                r = r.headers(h.clone());
            }
            producer.send(r).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "headers-test")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("h", 0, rdkafka::Offset::Beginning)
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let mut seen = Vec::new();
        while seen.len() < sent.len() {
            let Some(m) = consumer.poll(Duration::from_secs(10)) else {
                panic!("only {} of {} records consumed", seen.len(), sent.len());
            };
            let m = m.unwrap();
            let fast = has_no_headers(&m);
            let ours: Option<Vec<(String, Option<Vec<u8>>)>> = headers(&m).map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            });
            // librdkafka's parse, after ours (which may have parsed already: then the
            // envelope holds the parsed list and says so).
            let parsed = m.headers().map(|h| h.count());
            assert_eq!(fast, parsed.is_none(), "record {}", seen.len());
            seen.push(ours);
        }
        assert_eq!(
            seen,
            vec![
                None,
                None,
                Some(vec![("k".to_string(), Some(b"v".to_vec()))]),
                Some(vec![(String::new(), None)]),
                None,
            ]
        );
    }
}
