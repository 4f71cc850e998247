//! The JSON converter's schema caches (Connect's `schemas.cache.size`): a Connect schema's
//! JSON text for writing, and the Connect schema of an envelope's schema text for reading, so
//! that a topic whose records all carry the same schema converts it once.
//!
//! Like Connect's `LRUCache`, each holds at most `capacity` entries and forgets the least
//! recently used one first; a capacity of 0 (or less) caches nothing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHasher;

use crate::data::schema::SchemaBody;
use crate::data::Schema;

type FxBuild = BuildHasherDefault<FxHasher>;

/// A least-recently-used map. Eviction scans for the oldest entry, which is O(capacity) but
/// only happens when more distinct schemas than `capacity` are in use.
#[derive(Debug)]
pub struct Lru<K, V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<K, (V, u64), FxBuild>,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub fn new(capacity: i32) -> Self {
        Lru {
            capacity: usize::try_from(capacity).unwrap_or(0),
            tick: 0,
            entries: HashMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(v, used)| {
            *used = tick;
            v.clone()
        })
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.tick += 1;
        self.entries.insert(key, (value, self.tick));
    }
}

/// A Connect schema as a hash key: hashed by its structure (defaults left out, they rarely
/// tell schemas apart), compared in full, the same `Arc` being equal at once.
#[derive(Debug, Clone)]
pub struct SchemaKey(pub Schema);

impl PartialEq for SchemaKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0 .0, &other.0 .0) || self.0 == other.0
    }
}

impl Eq for SchemaKey {}

impl Hash for SchemaKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_schema(&self.0 .0, state);
    }
}

fn hash_schema<H: Hasher>(s: &SchemaBody, state: &mut H) {
    std::mem::discriminant(&s.ty).hash(state);
    s.optional.hash(state);
    s.name.hash(state);
    s.version.hash(state);
    s.doc.hash(state);
    s.parameters.hash(state);
    s.default.is_some().hash(state);
    if let Some(v) = &s.value_schema {
        hash_schema(&v.0, state);
    }
    if let Some(k) = &s.key_schema {
        hash_schema(&k.0, state);
    }
    s.fields.len().hash(state);
    for f in &s.fields {
        f.name.hash(state);
        hash_schema(&f.schema.0, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaBuilder;

    #[test]
    fn forgets_the_least_recently_used_first() {
        let mut lru: Lru<&str, i32> = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get("a"), Some(1)); // "b" is now the oldest
        lru.insert("c", 3);
        assert_eq!(
            (lru.get("a"), lru.get("b"), lru.get("c")),
            (Some(1), None, Some(3))
        );
        assert_eq!(lru.len(), 2);
        let mut none: Lru<&str, i32> = Lru::new(0);
        none.insert("a", 1);
        assert_eq!(none.get("a"), None);
    }

    #[test]
    fn equal_schemas_are_one_key() {
        let build = || {
            SchemaBuilder::struct_()
                .name("n")
                .field("a", Schema::int32())
                .build()
        };
        let mut lru: Lru<SchemaKey, i32> = Lru::new(10);
        lru.insert(SchemaKey(build()), 1);
        assert_eq!(lru.get(&SchemaKey(build())), Some(1));
        let other = SchemaBuilder::struct_()
            .name("n")
            .field("a", Schema::int64())
            .build();
        assert_eq!(lru.get(&SchemaKey(other)), None);
    }
}
