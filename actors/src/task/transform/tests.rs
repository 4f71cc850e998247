use kconnect_connectors::api::{Props, SinkOffsets};
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance};
use kconnect_connectors::record::TimestampType;
use kconnect_connectors::registry::{PluginRegistry, TransformationPlugin};
use kconnect_connectors::transforms::Transformation;
use kconnect_connectors::ConnectResult;

use super::*;
use crate::restart::RestartPolicy;

/// Routes to `topic`; drops the value "drop"; fails on the value "fail".
#[derive(Default)]
struct Route(String);

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
        ("transforms", "route"),
        ("transforms.route.type", "test.Route"),
        ("transforms.route.topic", "elsewhere"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ConnectorConfig::parse(props, &RestartPolicy::default()).unwrap()
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

#[test]
fn sink_offsets_advance_past_every_consumed_record_whatever_the_transforms_did() {
    let c = connector("all");
    let mut t = sink_transforms(&c);
    let (a, b) = (Arc::<str>::from("a"), Arc::<str>::from("b"));
    let routed = t.apply(&c, sink_record(&a, 0, 5, "x")).unwrap().unwrap();
    // put sees the routed record...
    assert_eq!((&*routed.topic, routed.partition), ("elsewhere", 7));
    assert_eq!(t.apply(&c, sink_record(&a, 0, 6, "drop")).unwrap(), None);
    assert_eq!(t.apply(&c, sink_record(&b, 1, 10, "fail")).unwrap(), None);
    t.skipped(&a, 1, 3);
    assert!(t.apply(&c, sink_record(&b, 1, 11, "y")).unwrap().is_some());
    assert_eq!(t.apply(&c, sink_record(&a, 0, 7, "drop")).unwrap(), None);
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
    t.apply(&c, sink_record(&b, 1, 12, "z")).unwrap();
    t.advance(&mut current);
    assert_eq!(current[&TopicPartition::new("b", 1)], 13);
}

#[test]
fn a_transform_failure_fails_the_task_naming_the_record_and_the_transform_unless_tolerated() {
    let strict = connector("none");
    let mut t = sink_transforms(&strict);
    let e = t
        .apply(&strict, sink_record(&Arc::from("orders"), 2, 41, "fail"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the transformation route (test.Route) failed on the record in orders-2 at offset 41: \
         data error: cannot route fail"
    );
    let failure = TransformFailure {
        alias: "route".into(),
        class: "test.Route",
        error: ConnectError::data("boom"),
    };
    assert!(transform_failed(&connector("all"), &failure, "r").is_ok());
    assert_eq!(
        transform_failed(&strict, &failure, "the record at source offset {\"p\":1}")
            .unwrap_err()
            .to_string(),
        "the transformation route (test.Route) failed on the record at source offset \
         {\"p\":1}: data error: boom"
    );
}

#[test]
fn a_batch_record_is_routed_away_from_its_batch_s_topic_without_changing_the_batch() {
    let c = connector("none");
    let mut chain = TransformChain::new(&c.props, &registry()).unwrap();
    let batch_topic = Topic::from("lines");
    let mut r = BatchRecord::new(None, Value::String("x".into()));
    let mut view = BatchRecordView {
        topic: batch_topic.clone(),
        record: &mut r,
    };
    assert_eq!(
        apply(&mut chain, &c, &mut view, String::new).unwrap(),
        Fate::Keep
    );
    assert_eq!(&*view.topic, "elsewhere");
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
        1
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
