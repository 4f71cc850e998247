//! Source offsets in the shape of Confluent's `TimestampIncrementingOffset`:
//! `{"incrementing": 42}` in incrementing mode, `{"timestamp": <Unix ms>, "timestamp_nanos":
//! <nanoseconds of that second>}` in timestamp mode, all three in timestamp+incrementing mode.
//! `timestamp` and `timestamp_nanos` are `java.sql.Timestamp`'s `getTime()` and `getNanos()`,
//! so `timestamp_nanos` repeats the milliseconds already in `timestamp`.

use serde_json::Value as Json;
use thiserror::Error;

use super::types::PG_EPOCH_MICROS;
use crate::record::OffsetMap;

pub const INCREMENTING_FIELD: &str = "incrementing";
pub const TIMESTAMP_FIELD: &str = "timestamp";
pub const TIMESTAMP_NANOS_FIELD: &str = "timestamp_nanos";

/// A committed offset that is not in the shape this connector writes.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("the committed offset {offset} of source partition {partition} is not valid: {why}")]
pub struct OffsetError {
    pub partition: String,
    pub offset: String,
    pub why: String,
}

/// A point in time as `java.sql.Timestamp` holds it: Unix milliseconds and the nanoseconds of
/// the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Milliseconds since the epoch.
    pub millis: i64,
    /// 0..=999,999,999.
    pub nanos: i64,
}

impl Instant {
    /// From PostgreSQL's microseconds since 2000-01-01.
    pub fn from_pg_micros(pg_micros: i64) -> Instant {
        let unix = pg_micros.saturating_add(PG_EPOCH_MICROS);
        let secs = unix.div_euclid(1_000_000);
        let micros = unix.rem_euclid(1_000_000);
        Instant {
            millis: secs.saturating_mul(1000).saturating_add(micros / 1000),
            nanos: micros * 1000,
        }
    }

    /// PostgreSQL's microseconds since 2000-01-01 (sub-microsecond nanoseconds dropped).
    pub fn to_pg_micros(self) -> i64 {
        let secs = self.millis.div_euclid(1000);
        secs.saturating_mul(1_000_000)
            .saturating_add(self.nanos / 1000)
            .saturating_sub(PG_EPOCH_MICROS)
    }

    /// From Unix milliseconds.
    pub fn from_millis(millis: i64) -> Instant {
        Instant {
            millis,
            nanos: millis.rem_euclid(1000) * 1_000_000,
        }
    }
}

/// Where a table's reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset {
    /// The last incrementing column value read, if the mode has one.
    pub incrementing: Option<i64>,
    /// The last timestamp read, if the mode has one.
    pub timestamp: Option<Instant>,
}

impl Offset {
    /// The last incrementing value read; -1 before any (Confluent's start: `id > -1`).
    pub fn incrementing_or_start(&self) -> i64 {
        self.incrementing.unwrap_or(-1)
    }

    /// The last timestamp read; the Unix epoch before any (Confluent's start).
    pub fn timestamp_or_start(&self) -> Instant {
        self.timestamp.unwrap_or(Instant {
            millis: 0,
            nanos: 0,
        })
    }

    /// The offset as it is stored: Confluent's keys.
    pub fn to_map(&self) -> OffsetMap {
        let mut m = OffsetMap::new();
        if let Some(i) = self.incrementing {
            m.insert(INCREMENTING_FIELD.into(), i.into());
        }
        if let Some(t) = self.timestamp {
            m.insert(TIMESTAMP_FIELD.into(), t.millis.into());
            m.insert(TIMESTAMP_NANOS_FIELD.into(), t.nanos.into());
        }
        m
    }

    /// Reads a committed offset; `partition` names it in errors.
    pub fn from_map(partition: &OffsetMap, map: &OffsetMap) -> Result<Offset, OffsetError> {
        let err = |why: String| OffsetError {
            partition: Json::Object(partition.clone()).to_string(),
            offset: Json::Object(map.clone()).to_string(),
            why,
        };
        let long = |key: &str| -> Result<Option<i64>, OffsetError> {
            match map.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| err(format!("{key} must be an integer, not {v}"))),
            }
        };
        let incrementing = long(INCREMENTING_FIELD)?;
        let timestamp = match long(TIMESTAMP_FIELD)? {
            None => None,
            Some(millis) => Some(match long(TIMESTAMP_NANOS_FIELD)? {
                Some(nanos) if (0..1_000_000_000).contains(&nanos) => Instant { millis, nanos },
                Some(nanos) => {
                    return Err(err(format!(
                        "{TIMESTAMP_NANOS_FIELD} {nanos} is not within a second"
                    )))
                }
                None => Instant::from_millis(millis),
            }),
        };
        Ok(Offset {
            incrementing,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> OffsetMap {
        match v {
            Json::Object(m) => m,
            _ => panic!(),
        }
    }

    #[test]
    fn offsets_have_confluents_keys() {
        let o = Offset {
            incrementing: Some(42),
            timestamp: None,
        };
        assert_eq!(Json::Object(o.to_map()), json!({"incrementing": 42}));
        let ts = Instant::from_pg_micros(1_234_567);
        // 2000-01-01 00:00:01.234567
        assert_eq!(
            ts,
            Instant {
                millis: 946_684_801_234,
                nanos: 234_567_000
            }
        );
        let o = Offset {
            incrementing: Some(7),
            timestamp: Some(ts),
        };
        assert_eq!(
            Json::Object(o.to_map()),
            json!({"incrementing": 7, "timestamp": 946_684_801_234i64, "timestamp_nanos": 234_567_000})
        );
        assert_eq!(Json::Object(Offset::default().to_map()), json!({}));
    }

    #[test]
    fn offsets_round_trip_through_their_maps_and_microseconds() {
        let p = map(json!({"protocol": "1", "table": "public.t"}));
        for micros in [0, 1, 999_999, -1, -PG_EPOCH_MICROS - 1, 123_456_789_012] {
            let ts = Instant::from_pg_micros(micros);
            assert_eq!(ts.to_pg_micros(), micros, "{micros}");
            assert!((0..1_000_000_000).contains(&ts.nanos));
            let o = Offset {
                incrementing: Some(micros),
                timestamp: Some(ts),
            };
            assert_eq!(Offset::from_map(&p, &o.to_map()).unwrap(), o);
        }
        // Before the Unix epoch: 1969-12-31 23:59:59.999999 is -1 ms and 999,999,000 ns, as
        // java.sql.Timestamp has it.
        let ts = Instant::from_pg_micros(-PG_EPOCH_MICROS - 1);
        assert_eq!(
            ts,
            Instant {
                millis: -1,
                nanos: 999_999_000
            }
        );
    }

    #[test]
    fn missing_fields_start_where_confluent_starts() {
        let p = map(json!({"table": "t"}));
        let o = Offset::from_map(&p, &map(json!({}))).unwrap();
        assert_eq!(o.incrementing_or_start(), -1);
        assert_eq!(
            o.timestamp_or_start(),
            Instant {
                millis: 0,
                nanos: 0
            }
        );
        // A timestamp without nanoseconds (an older writer) keeps its milliseconds.
        let o = Offset::from_map(&p, &map(json!({"timestamp": 1_500}))).unwrap();
        assert_eq!(
            o.timestamp,
            Some(Instant {
                millis: 1_500,
                nanos: 500_000_000
            })
        );
    }

    #[test]
    fn malformed_offsets_are_errors_naming_the_partition() {
        let p = map(json!({"protocol": "1", "table": "public.t"}));
        let e = Offset::from_map(&p, &map(json!({"incrementing": "x"}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the committed offset {\"incrementing\":\"x\"} of source partition \
             {\"protocol\":\"1\",\"table\":\"public.t\"} is not valid: incrementing must be an \
             integer, not \"x\""
        );
        assert!(
            Offset::from_map(&p, &map(json!({"timestamp": 1, "timestamp_nanos": -1}))).is_err()
        );
    }
}
