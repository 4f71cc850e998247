use kconnect_connectors::api::{Props, SinkOffsets};
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance};
use kconnect_connectors::record::TimestampType;
use kconnect_connectors::registry::{PluginRegistry, TransformationPlugin};
use kconnect_connectors::transforms::Transformation;
use kconnect_connectors::ConnectResult;

use super::*;
use crate::restart::RestartPolicy;
use crate::task::errors::metrics::ErrorMetrics;
use crate::task::errors::Reporters;

/// Routes to `topic`; drops the value "drop"; fails on the value "fail", and retriably on the
/// value "flaky" the first time it sees it.
#[derive(Default)]
struct Route(String, bool);

impl Transformation for Route {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "topic",
            ConfigType::String,
            None,
            None,
            Importance::High,
            "Where to.",
        )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0 = props["topic"].clone();
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        match record.value().as_str() {
            Some("drop") => return Ok(Outcome::Drop),
            Some("fail") => return Err(ConnectError::data("cannot route fail")),
            Some("flaky") if !self.1 => {
                self.1 = true;
                return Err(ConnectError::Retriable("not now".into()));
            }
            _ => {}
        }
        record.set_topic(&self.0);
        record.set_kafka_partition(Some(7));
        Ok(Outcome::Keep)
    }
}

fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register_transformation(TransformationPlugin::new("test.Route", "1", || {
        Box::new(Route::default())
    }));
    r
}

fn connector(tolerance: &str) -> ConnectorConfig {
    let props: Props = [
        ("name", "c"),
        ("connector.class", "FileStreamSink"),
        ("errors.tolerance", tolerance),
        ("errors.retry.timeout", "10000"),
        ("errors.retry.delay.max.ms", "1"),
        ("transforms", "mark,route"),
        ("transforms.mark.type", "InsertHeader"),
        ("transforms.mark.header", "seen"),
        ("transforms.mark.value.literal", "yes"),
        ("transforms.route.type", "test.Route"),
        ("transforms.route.topic", "elsewhere"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap()
}

fn errors(c: &ConnectorConfig) -> ErrorHandler {
    let reporters = Reporters::new(
        &c.name,
        0,
        &c.errors,
        ErrorMetrics::new(&c.name, 0),
        None,
        std::time::Duration::from_secs(1),
    );
    ErrorHandler::new(&c.errors, Arc::new(reporters))
}

/// The record `r` was converted from, as consumed.
fn consumed(r: &SinkRecord) -> Consumed<'_> {
    Consumed {
        topic: &r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: None,
        key: None,
        value: None,
        headers: Vec::new(),
    }
}

async fn put_through(
    t: &mut SinkTransforms,
    c: &ConnectorConfig,
    r: SinkRecord,
) -> Result<Option<SinkRecord>, ToleranceExceeded> {
    let original = r.clone();
    t.apply(&errors(c), &consumed(&original), r).await
}

fn sink_record(topic: &Arc<str>, partition: i32, offset: i64, value: &str) -> SinkRecord {
    SinkRecord {
        topic: topic.clone(),
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

fn sink_transforms(c: &ConnectorConfig) -> SinkTransforms {
    SinkTransforms::new(TransformChain::new(&c.props, &registry()).unwrap())
}

#[tokio::test]
async fn sink_offsets_advance_past_every_consumed_record_whatever_the_transforms_did() {
    let c = connector("all");
    let mut t = sink_transforms(&c);
    let (a, b) = (Arc::<str>::from("a"), Arc::<str>::from("b"));
    let routed = put_through(&mut t, &c, sink_record(&a, 0, 5, "x"))
        .await
        .unwrap()
        .unwrap();
    // put sees the routed record...
    assert_eq!((&*routed.topic, routed.partition), ("elsewhere", 7));
    // ...a dropped record and one failed (tolerated) are not put...
    for r in [
        sink_record(&a, 0, 6, "drop"),
        sink_record(&b, 1, 10, "fail"),
    ] {
        assert_eq!(put_through(&mut t, &c, r).await.unwrap(), None);
    }
    t.skipped(&a, 1, 3);
    assert!(put_through(&mut t, &c, sink_record(&b, 1, 11, "y"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        put_through(&mut t, &c, sink_record(&a, 0, 7, "drop"))
            .await
            .unwrap(),
        None
    );
    // ...and the offsets are those of the records as consumed, dropped and failed ones too.
    let mut current = SinkOffsets::new();
    current.insert(TopicPartition::new("c", 0), 3);
    t.advance(&mut current);
    let expected: SinkOffsets = [
        (TopicPartition::new("a", 0), 8),
        (TopicPartition::new("a", 1), 4),
        (TopicPartition::new("b", 1), 12),
        (TopicPartition::new("c", 0), 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(current, expected);
    // Advancing again without new records changes nothing.
    t.advance(&mut current);
    assert_eq!(current, expected);
    put_through(&mut t, &c, sink_record(&b, 1, 12, "z"))
        .await
        .unwrap();
    t.advance(&mut current);
    assert_eq!(current[&TopicPartition::new("b", 1)], 13);
}

#[tokio::test]
async fn a_transform_failure_fails_the_task_naming_the_record_and_the_transform_unless_tolerated() {
    let strict = connector("none");
    let mut t = sink_transforms(&strict);
    let e = put_through(
        &mut t,
        &strict,
        sink_record(&Arc::from("orders"), 2, 41, "fail"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tolerance exceeded in error handler at stage TRANSFORMATION: the transformation route \
         (test.Route) failed on the record in orders-2 at offset 41: data error: cannot route \
         fail"
    );
    let lenient = connector("all");
    let mut t = sink_transforms(&lenient);
    let r = sink_record(&Arc::from("orders"), 2, 41, "fail");
    assert_eq!(put_through(&mut t, &lenient, r).await.unwrap(), None);
}

/// A retriable failure is retried on the failing transform alone: the one before it ran once.
#[tokio::test]
async fn a_retried_transform_goes_on_with_the_rest_of_the_chain_only() {
    let c = connector("none");
    let mut t = sink_transforms(&c);
    let r = put_through(&mut t, &c, sink_record(&Arc::from("orders"), 0, 1, "flaky"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&*r.topic, r.partition), ("elsewhere", 7));
    let seen: Vec<&str> = r.headers.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(seen, ["seen"], "the header transform ran once");
}

#[tokio::test]
async fn a_batch_record_is_routed_away_from_its_batch_s_topic_without_changing_the_batch() {
    let c = connector("none");
    let mut chain = TransformChain::new(&c.props, &registry()).unwrap();
    let batch_topic = Topic::from("lines");
    let mut r = BatchRecord::new(None, Value::String("x".into()));
    let (offset, partition) = (OffsetMap::new(), SourcePartition::new(OffsetMap::new()));
    let mut item = BatchItem {
        view: BatchRecordView {
            topic: batch_topic.clone(),
            record: &mut r,
        },
        offset: &offset,
        partition: &partition,
    };
    assert_eq!(
        apply(&mut chain, &errors(&c), &mut item).await.unwrap(),
        Fate::Keep
    );
    assert_eq!(&*item.view.topic, "elsewhere");
    assert_eq!(r.kafka_partition, Some(7));
    assert_eq!(&*batch_topic, "lines");
}

#[test]
fn a_connector_without_transforms_gets_no_chain_and_one_with_gets_it() {
    let props: Props = [("name", "c"), ("connector.class", "FileStreamSink")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let c = ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap();
    assert!(build(&registry(), &c).unwrap().is_none());
    assert_eq!(
        build(&registry(), &connector("none"))
            .unwrap()
            .unwrap()
            .len(),
        2
    );
    let mut bad = connector("none");
    bad.props
        .insert("transforms.route.type".into(), "Nope".into());
    assert_eq!(
        build(&registry(), &bad).unwrap_err(),
        ConnectError::config(
            "Invalid value Nope for configuration transforms.route.type: Class Nope could not be \
             found."
        )
    );
}
