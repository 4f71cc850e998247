//! The cache of updated schemas Connect's transforms keep (`LRUCache<Schema, Schema>(16)`), so
//! that a stream of records with one schema gets one output schema: built once, then shared by
//! every record (converters and sinks that cache by schema identity see a single schema).
//!
//! Lookups compare the `Arc` of the input schema first, which is what a stream of records from
//! one converter or source hits, and fall back to equality, which Connect's `HashMap` lookup
//! uses, for schemas rebuilt per record.

use std::sync::Arc;

use crate::data::Schema;
use crate::error::ConnectResult;

/// How many input schemas a transform remembers (Connect's `LRUCache` size).
pub const CAPACITY: usize = 16;

/// A small least-recently-used map from input schemas to what a transform derived from them.
#[derive(Debug)]
pub struct SchemaUpdateCache<V = Schema> {
    /// Most recently used first.
    entries: Vec<(Schema, V)>,
}

impl<V: Clone> Default for SchemaUpdateCache<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone> SchemaUpdateCache<V> {
    /// An empty cache.
    pub fn new() -> Self {
        SchemaUpdateCache {
            entries: Vec::with_capacity(CAPACITY),
        }
    }

    /// Where `key` is, moved to the front (most recently used): `0`, or `None`.
    fn find(&mut self, key: &Schema) -> Option<usize> {
        let at = match self
            .entries
            .iter()
            .position(|(k, _)| Arc::ptr_eq(&k.0, &key.0))
        {
            Some(at) => at,
            None => {
                let at = self.entries.iter().position(|(k, _)| k == key)?;
                // Keep the newest handle, so the records after this one hit by pointer.
                self.entries[at].0 = key.clone();
                at
            }
        };
        if at != 0 {
            let entry = self.entries.remove(at);
            self.entries.insert(0, entry);
        }
        Some(0)
    }

    /// What was stored for `key`, marking it most recently used.
    pub fn get(&mut self, key: &Schema) -> Option<V> {
        self.find(key).map(|at| self.entries[at].1.clone())
    }

    /// Stores `value` for `key`, evicting the least recently used entry when full.
    pub fn put(&mut self, key: Schema, value: V) {
        if let Some(at) = self.entries.iter().position(|(k, _)| *k == key) {
            self.entries.remove(at);
        }
        if self.entries.len() >= CAPACITY {
            self.entries.pop();
        }
        self.entries.insert(0, (key, value));
    }

    /// The stored value for `key`, or the one `build` makes, stored for next time.
    pub fn get_or_build(
        &mut self,
        key: &Schema,
        build: impl FnOnce() -> ConnectResult<V>,
    ) -> ConnectResult<V> {
        self.get_or_build_ref(key, build).cloned()
    }

    /// [`SchemaUpdateCache::get_or_build`] lent rather than cloned, for a caller that needs
    /// only part of it: a hit per record then costs no reference count.
    pub fn get_or_build_ref(
        &mut self,
        key: &Schema,
        build: impl FnOnce() -> ConnectResult<V>,
    ) -> ConnectResult<&V> {
        if self.find(key).is_none() {
            let v = build()?;
            self.put(key.clone(), v);
        }
        Ok(&self.entries[0].1)
    }

    /// How many schemas it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every schema.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Type};
    use crate::error::ConnectError;

    fn named(n: usize) -> Schema {
        SchemaBuilder::struct_().name(format!("s{n}")).build()
    }

    #[test]
    fn equal_schemas_share_one_entry_and_the_built_value() {
        let mut c: SchemaUpdateCache = SchemaUpdateCache::new();
        let mut builds = 0;
        let a = c
            .get_or_build(&named(1), || {
                builds += 1;
                Ok(Schema::string())
            })
            .unwrap();
        // An equal schema in another Arc finds the same output, without building again.
        let b = c
            .get_or_build(&named(1), || {
                builds += 1;
                Ok(Schema::int32())
            })
            .unwrap();
        assert_eq!(builds, 1);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn an_equal_schema_leaves_its_handle_for_pointer_hits() {
        let mut c: SchemaUpdateCache = SchemaUpdateCache::new();
        let first = named(1);
        c.put(first.clone(), Schema::string());
        let equal = named(1);
        assert!(!Arc::ptr_eq(&equal.0, &first.0));
        assert_eq!(c.get(&equal), Some(Schema::string()));
        assert!(Arc::ptr_eq(&c.entries[0].0 .0, &equal.0));
    }

    #[test]
    fn a_failed_build_caches_nothing() {
        let mut c: SchemaUpdateCache = SchemaUpdateCache::new();
        let input = SchemaBuilder::new(Type::Int32).build();
        let err = c
            .get_or_build(&input, || Err(ConnectError::data("no")))
            .unwrap_err();
        assert_eq!(err, ConnectError::data("no"));
        assert!(c.is_empty());
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let mut c: SchemaUpdateCache<usize> = SchemaUpdateCache::new();
        for n in 0..CAPACITY {
            c.put(named(n), n);
        }
        // Touch the oldest so that the second oldest goes first.
        assert_eq!(c.get(&named(0)), Some(0));
        c.put(named(100), 100);
        assert_eq!(c.len(), CAPACITY);
        assert_eq!(c.get(&named(1)), None);
        assert_eq!(c.get(&named(0)), Some(0));
        assert_eq!(c.get(&named(100)), Some(100));
        c.clear();
        assert!(c.is_empty());
    }
}
