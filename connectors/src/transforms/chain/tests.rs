//! The chain with test-only plugins registered as a user registers their own: Connect's
//! `ConnectorConfigTest` cases (stages in order, predicates, negation, config errors) and what
//! kconnect adds (drop, failure naming the transform, close).

use std::cell::Cell;

use super::*;
use crate::config::ConfigDef;
use crate::data::{Schema, Value};
use crate::error::ConnectResult;
use crate::record::SourceRecord;
use crate::registry::{PredicatePlugin, TransformationPlugin};

thread_local! {
    /// Transforms and predicates closed on this thread (each test runs on a thread of its own).
    static CLOSED: Cell<usize> = const { Cell::new(0) };
}

/// Connect's `SimpleTransformation`: sets the partition to `magic.number` (at least 42).
#[derive(Default)]
struct SetPartition(i32);

impl Transformation for SetPartition {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "magic.number",
            ConfigType::Int,
            None,
            Some(Validator::at_least(42.0)),
            Importance::High,
            "The partition to set.",
        )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0 = props["magic.number"].trim().parse().expect("validated");
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        record.set_kafka_partition(Some(self.0));
        Ok(Outcome::Keep)
    }
    fn close(&mut self) {
        CLOSED.with(|c| c.set(c.get() + 1));
    }
}

/// Appends `suffix` to a string value; fails on the value `fail.on`; refuses to be configured
/// with `suffix=!`.
#[derive(Default)]
struct Suffix {
    suffix: String,
    fail_on: Option<String>,
}

impl Transformation for Suffix {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "suffix",
                ConfigType::String,
                None,
                None,
                Importance::High,
                "Appended to the value.",
            )
            .define_optional(
                "fail.on",
                ConfigType::String,
                Importance::Low,
                "A value to fail on.",
            )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.suffix = props["suffix"].clone();
        if self.suffix == "!" {
            return Err(ConnectError::config("suffix may not be !"));
        }
        self.fail_on = props.get("fail.on").cloned();
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        let (_, value) = record.value_mut();
        let Value::String(s) = value else {
            return Err(ConnectError::data("not a string"));
        };
        if self.fail_on.as_deref() == Some(s.as_str()) {
            return Err(ConnectError::data(format!("refused {s}")));
        }
        s.push_str(&self.suffix);
        Ok(Outcome::Keep)
    }
    fn close(&mut self) {
        CLOSED.with(|c| c.set(c.get() + 1));
    }
}

/// Puts the keys it was configured with into the value (`k=v;k=v`).
#[derive(Default)]
struct Echo(String);

impl Transformation for Echo {
    fn config_def(&self) -> ConfigDef {
        // Keys of the implicit names, which the chain's own `predicate` / `negate` mask.
        ConfigDef::new().define(
            PREDICATE,
            ConfigType::Int,
            None,
            None,
            Importance::High,
            "masked",
        )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let pairs: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0 = pairs.join(";");
        Ok(())
    }
    fn apply(&mut self, record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        *record.value_mut().1 = Value::String(self.0.clone());
        Ok(Outcome::Keep)
    }
}

#[derive(Default)]
struct DropAll;

impl Transformation for DropAll {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _: &Props) -> ConnectResult<()> {
        Ok(())
    }
    fn apply(&mut self, _: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        Ok(Outcome::Drop)
    }
}

/// Connect's `TestPredicate`: the partition is `int` (at least 80, default 80).
#[derive(Default)]
struct PartitionIs(i32);

impl Predicate for PartitionIs {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            "int",
            ConfigType::Int,
            Some("80"),
            Some(Validator::at_least(80.0)),
            Importance::Medium,
            "A test parameter",
        )
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.0 = props.get("int").map_or(80, |v| v.trim().parse().unwrap());
        Ok(())
    }
    fn test(&self, record: &dyn ConnectRecord) -> bool {
        record.kafka_partition() == Some(self.0)
    }
    fn close(&mut self) {
        CLOSED.with(|c| c.set(c.get() + 1));
    }
}

fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register_transformation(TransformationPlugin::new("test.SetPartition", "1", || {
        Box::new(SetPartition::default())
    }));
    r.register_transformation(TransformationPlugin::new("test.Suffix", "1", || {
        Box::new(Suffix::default())
    }));
    r.register_transformation(TransformationPlugin::new("test.Echo", "1", || {
        Box::new(Echo::default())
    }));
    r.register_transformation(TransformationPlugin::new("test.DropAll", "1", || {
        Box::new(DropAll)
    }));
    r.register_predicate(PredicatePlugin::new("test.PartitionIs", "1", || {
        Box::new(PartitionIs::default())
    }));
    r
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn chain(pairs: &[(&str, &str)]) -> TransformChain {
    TransformChain::new(&props(pairs), &registry()).unwrap()
}

fn error(pairs: &[(&str, &str)]) -> ChainConfigError {
    TransformChain::new(&props(pairs), &registry()).unwrap_err()
}

fn record(partition: Option<i32>, value: &str) -> SourceRecord {
    let mut r = SourceRecord::new(
        Default::default(),
        Default::default(),
        "t",
        Some(Schema::string()),
        Value::String(value.into()),
    );
    r.partition = partition;
    r
}

fn value(r: &SourceRecord) -> &str {
    r.value.as_str().unwrap()
}

#[test]
fn no_transforms_make_an_empty_chain_that_keeps_records_as_they_are() {
    let mut c = chain(&[("name", "c")]);
    assert!(c.is_empty());
    let mut r = record(Some(3), "x");
    assert_eq!(c.apply(&mut r), Ok(Outcome::Keep));
    assert_eq!(r, record(Some(3), "x"));
}

#[test]
fn transforms_apply_in_the_listed_order_each_with_its_own_keys() {
    let mut c = chain(&[
        ("transforms", "b, a"),
        ("transforms.a.type", "test.Suffix"),
        ("transforms.a.suffix", "-a"),
        // By the alias the registry derives from the class name.
        ("transforms.b.type", "Suffix"),
        ("transforms.b.suffix", "-b"),
    ]);
    assert_eq!(c.len(), 2);
    let mut r = record(None, "x");
    assert_eq!(c.apply(&mut r), Ok(Outcome::Keep));
    assert_eq!(value(&r), "x-b-a");
}

#[test]
fn a_transform_is_configured_with_its_alias_stripped_keys_type_included_predicate_and_negate_not() {
    let mut c = chain(&[
        ("transforms", "e"),
        ("transforms.e.type", "test.Echo"),
        ("transforms.e.some.key", "v"),
        ("transforms.e.predicate", "p"),
        ("transforms.e.negate", "true"),
        ("transforms.other.key", "not mine"),
        ("predicates", "p"),
        ("predicates.p.type", "test.PartitionIs"),
    ]);
    let mut r = record(Some(1), "x");
    c.apply(&mut r).unwrap();
    assert_eq!(value(&r), "some.key=v;type=test.Echo");
}

/// Connect's `singleConditionalTransform` and `predicateNegationDefaultsToFalse`.
#[test]
fn a_predicate_decides_where_its_transform_applies_and_negate_inverts_it() {
    for (negate, on_match, on_other) in [
        (None, 42, 0),
        (Some("false"), 42, 0),
        (Some("true"), 84, 42),
    ] {
        let mut pairs = vec![
            ("transforms", "a"),
            ("transforms.a.type", "test.SetPartition"),
            ("transforms.a.magic.number", "42"),
            ("transforms.a.predicate", "my-pred"),
            ("predicates", "my-pred"),
            ("predicates.my-pred.type", "test.PartitionIs"),
            ("predicates.my-pred.int", "84"),
        ];
        if let Some(n) = negate {
            pairs.push(("transforms.a.negate", n));
        }
        let mut c = chain(&pairs);
        let mut matching = record(Some(84), "x");
        c.apply(&mut matching).unwrap();
        assert_eq!(matching.partition, Some(on_match), "negate={negate:?}");
        let mut other = record(Some(0), "x");
        c.apply(&mut other).unwrap();
        assert_eq!(other.partition, Some(on_other), "negate={negate:?}");
    }
}

#[test]
fn one_predicate_alias_serves_several_transforms() {
    let mut c = chain(&[
        ("transforms", "yes,no"),
        ("transforms.yes.type", "test.Suffix"),
        ("transforms.yes.suffix", "+matched"),
        ("transforms.yes.predicate", "p"),
        ("transforms.no.type", "test.Suffix"),
        ("transforms.no.suffix", "+other"),
        ("transforms.no.predicate", "p"),
        ("transforms.no.negate", "TRUE"),
        ("predicates", "p"),
        ("predicates.p.type", "PartitionIs"),
    ]);
    let mut a = record(Some(80), "a");
    let mut b = record(None, "b");
    c.apply(&mut a).unwrap();
    c.apply(&mut b).unwrap();
    assert_eq!(value(&a), "a+matched");
    assert_eq!(value(&b), "b+other");
}

#[test]
fn a_dropped_record_goes_through_no_later_transform() {
    let mut c = chain(&[
        ("transforms", "first,drop,last"),
        ("transforms.first.type", "test.Suffix"),
        ("transforms.first.suffix", "+1"),
        ("transforms.drop.type", "test.DropAll"),
        ("transforms.drop.predicate", "p"),
        ("transforms.last.type", "test.Suffix"),
        ("transforms.last.suffix", "+2"),
        ("predicates", "p"),
        ("predicates.p.type", "test.PartitionIs"),
    ]);
    let mut dropped = record(Some(80), "a");
    assert_eq!(c.apply(&mut dropped), Ok(Outcome::Drop));
    assert_eq!(value(&dropped), "a+1");
    let mut kept = record(Some(1), "b");
    assert_eq!(c.apply(&mut kept), Ok(Outcome::Keep));
    assert_eq!(value(&kept), "b+1+2");
}

#[test]
fn a_failure_names_the_transform_and_stops_the_chain() {
    let mut c = chain(&[
        ("transforms", "ok,picky,never"),
        ("transforms.ok.type", "test.Suffix"),
        ("transforms.ok.suffix", "+1"),
        ("transforms.picky.type", "test.Suffix"),
        ("transforms.picky.suffix", "+2"),
        ("transforms.picky.fail.on", "bad+1"),
        ("transforms.never.type", "test.Suffix"),
        ("transforms.never.suffix", "+3"),
    ]);
    let mut r = record(None, "bad");
    let e = c.apply(&mut r).unwrap_err();
    assert_eq!(
        e,
        TransformFailure {
            alias: "picky".into(),
            class: "test.Suffix",
            index: 1,
            error: ConnectError::data("refused bad+1"),
        }
    );
    assert_eq!(
        e.to_string(),
        "transformation picky (test.Suffix) failed: data error: refused bad+1"
    );
    // The chain goes on with the next record.
    let mut good = record(None, "good");
    assert_eq!(c.apply(&mut good), Ok(Outcome::Keep));
    assert_eq!(value(&good), "good+1+2+3");
    // A retry repeats only the failed transform, then the rest of the chain goes on from it:
    // the transforms before it are not applied twice.
    assert_eq!(value(&r), "bad+1");
    assert_eq!(c.apply_stage(&mut r, e.index), Err(e.clone()));
    assert_eq!(value(&r), "bad+1");
    assert_eq!(c.apply_from(&mut r, e.index + 1), Ok(Outcome::Keep));
    assert_eq!(value(&r), "bad+1+3");
}

#[test]
fn close_closes_every_transform_and_predicate_once_and_so_does_drop() {
    let pairs = [
        ("transforms", "a,b"),
        ("transforms.a.type", "test.SetPartition"),
        ("transforms.a.magic.number", "42"),
        ("transforms.a.predicate", "p"),
        ("transforms.b.type", "test.Suffix"),
        ("transforms.b.suffix", "x"),
        ("predicates", "p"),
        ("predicates.p.type", "test.PartitionIs"),
    ];
    CLOSED.with(|c| c.set(0));
    let mut c = chain(&pairs);
    c.close();
    assert_eq!(CLOSED.with(Cell::get), 3);
    c.close();
    drop(c);
    assert_eq!(CLOSED.with(Cell::get), 3, "closed once");
    drop(chain(&pairs));
    assert_eq!(CLOSED.with(Cell::get), 6, "dropping closes");
    // A chain that fails to build closes what it had configured.
    CLOSED.with(|c| c.set(0));
    let mut bad = pairs.to_vec();
    bad.push(("transforms.b.suffix", "!"));
    error(&bad);
    assert_eq!(CLOSED.with(Cell::get), 2, "transform a and its predicate");
}

fn assert_error(pairs: &[(&str, &str)], key: &str, message: &str) {
    let e = error(pairs);
    assert_eq!(e.key, key, "{e}");
    assert_eq!(e.message, message);
}

const A_SUFFIX: [(&str, &str); 3] = [
    ("transforms", "a"),
    ("transforms.a.type", "test.Suffix"),
    ("transforms.a.suffix", "x"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut p = A_SUFFIX.to_vec();
    p.extend_from_slice(extra);
    p
}

#[test]
fn config_errors_name_their_key_with_connect_s_messages() {
    assert_error(
        &[("transforms", "dangler")],
        "transforms.dangler.type",
        "Missing required configuration \"transforms.dangler.type\" which has no default value.",
    );
    assert_error(
        &[("transforms", "a"), ("transforms.a.type", "uninstantiable")],
        "transforms.a.type",
        "Invalid value uninstantiable for configuration transforms.a.type: Class uninstantiable \
         could not be found.",
    );
    assert_error(
        &[
            ("transforms", "a"),
            ("transforms.a.type", "test.PartitionIs"),
        ],
        "transforms.a.type",
        "Invalid value class test.PartitionIs for configuration transforms.a.type: Not a \
         Transformation",
    );
    assert_error(
        &[
            ("transforms", "a"),
            ("transforms.a.type", "FileStreamSource"),
        ],
        "transforms.a.type",
        "Invalid value class org.apache.kafka.connect.file.FileStreamSourceConnector for \
         configuration transforms.a.type: Not a Transformation",
    );
    assert_error(
        &[
            ("transforms", "a"),
            ("transforms.a.type", "test.SetPartition"),
        ],
        "transforms.a.magic.number",
        "Missing required configuration \"transforms.a.magic.number\" which has no default \
         value.",
    );
    assert_error(
        &[
            ("transforms", "a"),
            ("transforms.a.type", "test.SetPartition"),
            ("transforms.a.magic.number", "40"),
        ],
        "transforms.a.magic.number",
        "Invalid value 40 for configuration transforms.a.magic.number: Value must be at least 42",
    );
    assert_error(
        &[("transforms", "a, b, a")],
        "transforms",
        "Invalid value a, b, a for configuration transforms: Duplicate alias provided.",
    );
    assert_error(
        &with(&[("predicates", "p,p")]),
        "predicates",
        "Invalid value p,p for configuration predicates: Duplicate alias provided.",
    );
    assert_error(
        &with(&[("transforms.a.negate", "true")]),
        "transforms.a.type",
        "Config 'transforms.a.negate' was provided but there is no config \
         'transforms.a.predicate' defining a predicate to be negated.",
    );
    assert_error(
        &with(&[
            ("transforms.a.predicate", "p"),
            ("transforms.a.negate", "maybe"),
            ("predicates", "p"),
            ("predicates.p.type", "test.PartitionIs"),
        ]),
        "transforms.a.negate",
        "Invalid value maybe for configuration transforms.a.negate: Expected value to be either \
         true or false",
    );
    assert_error(
        &with(&[
            ("transforms.a.predicate", "q"),
            ("predicates", "p"),
            ("predicates.q.type", "test.PartitionIs"),
        ]),
        "transforms.a.predicate",
        "Invalid value q for configuration transforms.a.predicate: not one of the predicate \
         aliases listed in predicates",
    );
    assert_error(
        &with(&[("transforms.a.predicate", "p"), ("predicates", "p")]),
        "predicates.p.type",
        "Missing required configuration \"predicates.p.type\" which has no default value.",
    );
    assert_error(
        &with(&[
            ("transforms.a.predicate", "p"),
            ("predicates", "p"),
            ("predicates.p.type", "test.Suffix"),
        ]),
        "predicates.p.type",
        "Invalid value class test.Suffix for configuration predicates.p.type: Not a Predicate",
    );
    // Connect's `misconfiguredPredicate`.
    assert_error(
        &with(&[
            ("transforms.a.predicate", "p"),
            ("predicates", "p"),
            ("predicates.p.type", "test.PartitionIs"),
            ("predicates.p.int", "79"),
        ]),
        "predicates.p.int",
        "Invalid value 79 for configuration predicates.p.int: Value must be at least 80",
    );
    assert_error(
        &[
            ("transforms", "a"),
            ("transforms.a.type", "test.Suffix"),
            ("transforms.a.suffix", "!"),
        ],
        "transforms.a.type",
        "Transformation a (test.Suffix) could not be configured: invalid config: suffix may not \
         be !",
    );
}

#[test]
fn a_listed_predicate_no_transform_uses_is_not_built() {
    let c = chain(&with(&[
        ("predicates", "unused"),
        ("predicates.unused.type", "nope"),
    ]));
    assert_eq!(c.len(), 1);
}

#[test]
fn enrich_adds_each_alias_s_keys_in_its_group_as_connect_does() {
    let p = props(&with(&[
        ("transforms", "a,bad,a"),
        ("transforms.a.predicate", "p"),
        ("transforms.bad.type", "Nope"),
        ("transforms.bad.negate", "true"),
        ("predicates", "p,q"),
        ("predicates.p.type", "test.PartitionIs"),
    ]));
    let e = enrich(&p, &registry());
    let keys: Vec<(&str, Option<&str>, i32)> = e
        .def
        .keys()
        .iter()
        .map(|k| (k.name.as_str(), k.group.as_deref(), k.order))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("transforms.a.type", Some("Transforms: a"), 0),
            // Required first, then by importance, then by name.
            ("transforms.a.suffix", Some("Transforms: a"), 1),
            ("transforms.a.negate", Some("Transforms: a"), 2),
            ("transforms.a.predicate", Some("Transforms: a"), 3),
            ("transforms.a.fail.on", Some("Transforms: a"), 4),
            ("transforms.bad.type", Some("Transforms: bad"), 0),
            ("predicates.p.type", Some("Predicates: p"), 0),
            ("predicates.p.int", Some("Predicates: p"), 1),
            ("predicates.q.type", Some("Predicates: q"), 0),
        ]
    );
    let a_type = e.def.key("transforms.a.type").unwrap();
    assert_eq!(a_type.ty, ConfigType::Class);
    assert!(a_type.required());
    assert_eq!(a_type.display_name, "Transformation type for a");
    assert_eq!(a_type.documentation, "Class for the 'a' transformation.");
    assert_eq!(
        e.def.key("predicates.q.type").unwrap().display_name,
        "Predicate type for q"
    );
    let negate = e.def.key("transforms.a.negate").unwrap();
    assert_eq!(
        (negate.ty, negate.default_string()),
        (ConfigType::Boolean, Some("false".into()))
    );
    // The unknown class is an error on its key; its `negate` is not looked at.
    assert_eq!(
        e.errors,
        vec![ChainConfigError::new(
            "transforms.bad.type",
            "Invalid value Nope for configuration transforms.bad.type: Class Nope could not be \
             found."
        )]
    );
    // The missing predicate type is the definition's own error.
    let q = e
        .def
        .validate(&p)
        .into_iter()
        .find(|v| v.name == "predicates.q.type")
        .unwrap();
    assert_eq!(
        q.errors,
        vec!["Missing required configuration \"predicates.q.type\" which has no default value."]
    );
    let recommended = &e.recommended["transforms.a.type"];
    for class in [
        "test.Suffix",
        "test.SetPartition",
        "test.Echo",
        "test.DropAll",
    ] {
        assert!(recommended.contains(&class.to_string()), "{recommended:?}");
    }
    // Every registered predicate, the built-ins first.
    let predicates = &e.recommended["predicates.p.type"];
    assert_eq!(
        predicates.last().map(String::as_str),
        Some("test.PartitionIs")
    );
    assert!(predicates
        .contains(&"org.apache.kafka.connect.transforms.predicates.TopicNameMatches".to_string()));
}

#[test]
fn enrich_reports_negate_without_predicate_and_unlisted_predicates() {
    let e = enrich(
        &props(&with(&[("transforms.a.negate", "false")])),
        &registry(),
    );
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].key, "transforms.a.type");
    let e = enrich(
        &props(&with(&[("transforms.a.predicate", "nope")])),
        &registry(),
    );
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].key, "transforms.a.predicate");
}

#[test]
fn the_implicit_keys_mask_a_transform_s_own_of_the_same_names() {
    let e = enrich(
        &props(&[("transforms", "e"), ("transforms.e.type", "test.Echo")]),
        &registry(),
    );
    let predicate = e.def.key("transforms.e.predicate").unwrap();
    assert_eq!(predicate.ty, ConfigType::String);
    assert!(!predicate.required());
}
