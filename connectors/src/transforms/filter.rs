//! `org.apache.kafka.connect.transforms.Filter`: drops every record. Useful only with a
//! predicate (`transforms.x.predicate`), to drop the records that match (or, negated, do not).

use crate::api::Props;
use crate::config::ConfigDef;
use crate::error::ConnectResult;
use crate::transforms::{ConnectRecord, Outcome, Transformation};

/// The transform's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.Filter";

/// Drops every record it is applied to: with a predicate, the records the predicate matches
/// (Connect's `Filter`).
#[derive(Debug, Default)]
pub struct Filter;

impl Transformation for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> ConnectResult<()> {
        Ok(())
    }

    fn apply(&mut self, _record: &mut dyn ConnectRecord) -> ConnectResult<Outcome> {
        Ok(Outcome::Drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transforms::test_records::{configured, sink, source};

    #[test]
    fn drops_source_and_sink_records_alike() {
        let mut t = configured("Filter", &[]);
        assert!(t.config_def().keys().is_empty());
        let mut s = source("t", None, Value::Null, None, Value::Int32(1));
        assert_eq!(t.apply(&mut s).unwrap(), Outcome::Drop);
        let mut k = sink("t", None, Value::Null, None, Value::Null);
        assert_eq!(t.apply(&mut k).unwrap(), Outcome::Drop);
    }
}
