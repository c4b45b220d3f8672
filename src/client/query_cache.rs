//! Query embeddings already paid for: a small LRU keyed by model, dimensions and text, so
//! typing the same query again (or paging back to it) costs no Bedrock call.
//!
//! Eviction scans for the least recently used entry: with a few hundred entries that is
//! cheaper than the bookkeeping of a linked list, and the scan only happens on an insert into
//! a full cache (after a Bedrock round trip of tens of milliseconds).

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    model: String,
    dims: u32,
    text: String,
}

#[derive(Debug)]
pub(crate) struct QueryCache {
    capacity: usize,
    tick: u64,
    entries: HashMap<Key, (Arc<[f32]>, u64)>,
    pub hits: u64,
    pub misses: u64,
}

impl QueryCache {
    pub fn new(capacity: usize) -> Self {
        QueryCache {
            capacity,
            tick: 0,
            entries: HashMap::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The vector for this query, counting a hit or a miss.
    pub fn get(&mut self, model: &str, dims: u32, text: &str) -> Option<Arc<[f32]>> {
        self.tick += 1;
        let key = Key {
            model: model.to_string(),
            dims,
            text: text.to_string(),
        };
        match self.entries.get_mut(&key) {
            Some((vector, used)) => {
                *used = self.tick;
                self.hits += 1;
                Some(vector.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    pub fn put(&mut self, model: &str, dims: u32, text: &str, vector: Arc<[f32]>) {
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        let key = Key {
            model: model.to_string(),
            dims,
            text: text.to_string(),
        };
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (vector, self.tick));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f32) -> Arc<[f32]> {
        Arc::from(vec![x])
    }

    #[test]
    fn least_recently_used_goes_first() {
        let mut c = QueryCache::new(2);
        c.put("m", 4, "a", v(1.0));
        c.put("m", 4, "b", v(2.0));
        assert!(c.get("m", 4, "a").is_some()); // "b" is now the oldest
        c.put("m", 4, "c", v(3.0));
        assert!(c.get("m", 4, "b").is_none());
        assert_eq!(c.get("m", 4, "a").as_deref(), Some(&[1.0][..]));
        assert_eq!(c.get("m", 4, "c").as_deref(), Some(&[3.0][..]));
        assert_eq!((c.hits, c.misses), (3, 1));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn model_and_dims_are_part_of_the_key() {
        let mut c = QueryCache::new(8);
        c.put("m", 4, "a", v(1.0));
        assert!(c.get("m", 8, "a").is_none());
        assert!(c.get("other", 4, "a").is_none());
        let mut off = QueryCache::new(0);
        off.put("m", 4, "a", v(1.0));
        assert!(off.get("m", 4, "a").is_none());
    }
}
