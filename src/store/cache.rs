//! A place to keep shard bytes between loads (the browser's Cache API, a directory, memory), so
//! that loading a collection again downloads only the manifest and the shards not seen before.
//!
//! Entries are named by the shard's object URL and its manifest checksum, not by an ETag:
//!
//! - shards are immutable: a writer puts a shard once, under a new key, with
//!   `If-None-Match: *`, and never overwrites it (FORMAT.md §4.5), so a key names one content
//!   for as long as the object exists;
//! - the manifest entry's checksum is the XXH3-64 of that content, so key + checksum names the
//!   bytes even across a bucket that was emptied and refilled, or a compaction that reused a
//!   key: a different content has a different checksum, hence a different entry;
//! - an ETag would tell no more (S3's is an MD5 of the same bytes, or opaque for multipart
//!   uploads) and is only known after asking S3 (a HEAD per shard, the very round trip the
//!   cache exists to save);
//! - whatever a cache returns is verified exactly like a download (length, checksum, agreement
//!   with the manifest entry); bytes that fail are downloaded again and replace the entry.
//!
//! So a cache never needs to be told that an entry is stale, and may drop entries at will. It
//! is told, after each full load, which shards the collection still lists, so entries of shards
//! a compaction replaced do not pile up ([`ShardCache::prune`]).

use crate::aws::runtime::{BoxFuture, MaybeSend, MaybeSync};
use bytes::Bytes;

/// Where one shard lives and what it must hash to: the name of a cache entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardName<'a> {
    /// The object's URL (`http://127.0.0.1:9000/bucket/prefix/shards/….s3vs`), unsigned.
    pub url: &'a str,
    /// The manifest entry's checksum (`xxh3-64:…`).
    pub checksum: &'a str,
}

/// Shard bytes kept between loads. Best effort: a `get` that fails is a miss, a `put` that
/// fails is forgotten; neither may make a load fail.
pub trait ShardCache: MaybeSend + MaybeSync {
    fn get<'a>(&'a self, name: ShardName<'a>) -> BoxFuture<'a, Option<Bytes>>;
    fn put<'a>(&'a self, name: ShardName<'a>, bytes: Bytes) -> BoxFuture<'a, ()>;

    /// Drops the entries whose URL starts with `under` (a collection's `…/{prefix}/shards/`)
    /// and that are not in `keep` (the shards its manifest lists). By default keeps everything.
    fn prune<'a>(&'a self, under: &'a str, keep: &'a [ShardName<'a>]) -> BoxFuture<'a, ()> {
        let _ = (under, keep);
        Box::pin(std::future::ready(()))
    }
}

/// Keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCache;

impl ShardCache for NoCache {
    fn get<'a>(&'a self, _name: ShardName<'a>) -> BoxFuture<'a, Option<Bytes>> {
        Box::pin(std::future::ready(None))
    }

    fn put<'a>(&'a self, _name: ShardName<'a>, _bytes: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Keeps everything in memory: for tests, and for a process that loads the same collection
/// several times.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), Bytes>>,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Replaces an entry's bytes (tests: a corrupt cache).
    pub fn insert(&self, name: ShardName<'_>, bytes: Bytes) {
        self.lock()
            .insert((name.url.to_string(), name.checksum.to_string()), bytes);
    }

    /// Every entry's URL.
    pub fn urls(&self) -> Vec<String> {
        self.lock().keys().map(|(u, _)| u.clone()).collect()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), Bytes>> {
        // Single inserts and reads only: a poisoned lock still guards a consistent map.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShardCache for MemoryCache {
    fn get<'a>(&'a self, name: ShardName<'a>) -> BoxFuture<'a, Option<Bytes>> {
        let hit = self
            .lock()
            .get(&(name.url.to_string(), name.checksum.to_string()))
            .cloned();
        Box::pin(std::future::ready(hit))
    }

    fn put<'a>(&'a self, name: ShardName<'a>, bytes: Bytes) -> BoxFuture<'a, ()> {
        self.insert(name, bytes);
        Box::pin(std::future::ready(()))
    }

    fn prune<'a>(&'a self, under: &'a str, keep: &'a [ShardName<'a>]) -> BoxFuture<'a, ()> {
        self.lock().retain(|(url, checksum), _| {
            !url.starts_with(under) || keep.iter().any(|k| k.url == url && k.checksum == checksum)
        });
        Box::pin(std::future::ready(()))
    }
}
