//! The schema a transform derives from an input schema, remembered per input schema, as
//! Connect's transforms do with an `LRUCache<Schema, Schema>` of 16 entries: records of one
//! schema then share one output schema object, so downstream caches keyed by schema identity
//! (converters, the next transform) hit.
//!
//! An input schema is found by pointer first (the common case: every record of a source shares
//! one `Arc`), then by equality (a converter that rebuilt an equal schema).

use crate::data::Schema;
use crate::error::ConnectResult;
use std::sync::Arc;

/// How many input schemas are remembered, Connect's size.
pub const CAPACITY: usize = 16;

/// Input schema → derived schema, least recently used first out.
#[derive(Debug, Default, Clone)]
pub struct SchemaCache {
    /// Most recently used last.
    entries: Vec<(Schema, Schema)>,
}

impl SchemaCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema derived from `input`, built by `build` the first time.
    pub fn get_or_try_insert(
        &mut self,
        input: &Schema,
        build: impl FnOnce(&Schema) -> ConnectResult<Schema>,
    ) -> ConnectResult<Schema> {
        let hit = match self
            .entries
            .iter()
            .rposition(|(k, _)| Arc::ptr_eq(&k.0, &input.0))
        {
            Some(i) => Some(i),
            None => {
                let i = self.entries.iter().rposition(|(k, _)| k == input);
                // Keep the newest handle, so the records after this one hit by pointer.
                if let Some(i) = i {
                    self.entries[i].0 = input.clone();
                }
                i
            }
        };
        if let Some(i) = hit {
            let last = self.entries.len() - 1;
            if i != last {
                let entry = self.entries.remove(i);
                self.entries.push(entry);
            }
            return Ok(self.entries[last].1.clone());
        }
        let output = build(input)?;
        if self.entries.len() == CAPACITY {
            self.entries.remove(0);
        }
        self.entries.push((input.clone(), output.clone()));
        Ok(output)
    }

    /// Forgets every schema (a transform's `close`).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Type};
    use crate::error::ConnectError;

    fn named(n: &str) -> Schema {
        SchemaBuilder::struct_().name(n).build()
    }

    fn wrap(s: &Schema) -> ConnectResult<Schema> {
        Ok(SchemaBuilder::struct_().field("w", s.clone()).build())
    }

    #[test]
    fn one_output_object_per_input_schema() {
        let mut cache = SchemaCache::new();
        let input = named("a");
        let first = cache.get_or_try_insert(&input, wrap).unwrap();
        let again = cache
            .get_or_try_insert(&input, |_| panic!("built twice"))
            .unwrap();
        assert!(Arc::ptr_eq(&first.0, &again.0));
        // An equal schema built elsewhere finds the same entry.
        let equal = named("a");
        assert!(!Arc::ptr_eq(&equal.0, &input.0));
        let by_eq = cache
            .get_or_try_insert(&equal, |_| panic!("built for an equal schema"))
            .unwrap();
        assert!(Arc::ptr_eq(&first.0, &by_eq.0));
        assert_eq!(cache.len(), 1);
        // The entry now holds the newer handle.
        assert!(Arc::ptr_eq(&cache.entries[0].0 .0, &equal.0));
    }

    #[test]
    fn keeps_the_sixteen_most_recently_used() {
        let mut cache = SchemaCache::new();
        let inputs: Vec<Schema> = (0..=CAPACITY).map(|i| named(&i.to_string())).collect();
        for s in &inputs[..CAPACITY] {
            cache.get_or_try_insert(s, wrap).unwrap();
        }
        // Touch the oldest, then add one more: the second oldest goes.
        cache
            .get_or_try_insert(&inputs[0], |_| panic!("evicted too early"))
            .unwrap();
        cache.get_or_try_insert(&inputs[CAPACITY], wrap).unwrap();
        assert_eq!(cache.len(), CAPACITY);
        cache
            .get_or_try_insert(&inputs[0], |_| panic!("most recently used was evicted"))
            .unwrap();
        let mut rebuilt = false;
        cache
            .get_or_try_insert(&inputs[1], |s| {
                rebuilt = true;
                wrap(s)
            })
            .unwrap();
        assert!(rebuilt);
    }

    #[test]
    fn a_failed_build_caches_nothing() {
        let mut cache = SchemaCache::new();
        let input = SchemaBuilder::new(Type::Int32).build();
        let err = cache
            .get_or_try_insert(&input, |_| Err(ConnectError::data("no")))
            .unwrap_err();
        assert_eq!(err, ConnectError::data("no"));
        assert!(cache.is_empty());
    }
}
