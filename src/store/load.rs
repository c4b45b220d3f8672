//! Reading: the manifest, then its shards, fetched in parallel and added in manifest order (a
//! later shard's document replaces an earlier one with the same id), then the tombstones.

use super::{Store, StoreError, Versioned};
use crate::aws::s3::ETag;
use crate::format::{Manifest, ShardEntry, decode_shard};
use crate::index::Collection;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

/// How far a load is; reported after each shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    pub loaded_bytes: u64,
    pub total_bytes: u64,
    pub loaded_shards: usize,
    pub total_shards: usize,
}

/// A shard that could not be loaded, even after fetching it a second time.
#[derive(Debug)]
pub struct ShardFailure {
    pub key: String,
    pub error: StoreError,
}

/// A loaded collection and the manifest it came from.
pub struct Loaded {
    pub manifest: Manifest,
    pub etag: ETag,
    pub collection: Collection,
    /// Shards left out; the collection holds every other shard's documents.
    pub failed: Vec<ShardFailure>,
    /// Shards that failed verification once and loaded on the second fetch.
    pub refetched: usize,
    /// Bytes downloaded, refetches included.
    pub downloaded_bytes: u64,
    /// Times the load started over because a compaction published while it ran.
    pub restarts: u32,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("generation", &self.manifest.generation)
            .field("documents", &self.collection.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// A shard deleted between reading the manifest and fetching it means a compaction published
/// meanwhile; the load starts over from the newer manifest, this many times at most.
const MAX_RESTARTS: u32 = 3;

enum Outcome {
    Done(Box<Loaded>),
    /// A listed shard is gone and the manifest has changed: start again.
    Stale,
}

impl Store {
    /// Loads the whole collection. Fails only when the manifest cannot be read; shards that
    /// stay corrupt or unreadable after a second fetch are listed in [`Loaded::failed`].
    pub async fn load<F: FnMut(LoadProgress)>(
        &self,
        mut on_progress: F,
    ) -> Result<Loaded, StoreError> {
        let mut restarts = 0;
        loop {
            let current = self.require_manifest().await?;
            match self.load_from(current, &mut on_progress).await? {
                Outcome::Done(mut loaded) => {
                    loaded.restarts = restarts;
                    return Ok(*loaded);
                }
                Outcome::Stale if restarts < MAX_RESTARTS => restarts += 1,
                Outcome::Stale => {
                    return Err(StoreError::Contention {
                        attempts: MAX_RESTARTS + 1,
                    });
                }
            }
        }
    }

    async fn load_from<F: FnMut(LoadProgress)>(
        &self,
        current: Versioned,
        on_progress: &mut F,
    ) -> Result<Outcome, StoreError> {
        let Versioned { manifest, etag } = current;
        let mut progress = LoadProgress {
            total_bytes: manifest.shards.iter().map(|s| s.bytes).sum(),
            total_shards: manifest.shards.len(),
            ..LoadProgress::default()
        };
        on_progress(progress);
        let mut loaded = Loaded {
            manifest: manifest.clone(),
            etag: etag.clone(),
            collection: Collection::new(),
            failed: Vec::new(),
            refetched: 0,
            downloaded_bytes: 0,
            restarts: 0,
        };
        // `buffered` keeps the manifest's order while `load_concurrency` downloads run, so
        // shards are added oldest first without holding every shard's bytes at once.
        // Owned entries: a closure over borrowed ones is not `Send` (rust-lang/rust#100013).
        let this = self;
        let mut fetches = stream::iter(manifest.shards.clone())
            .map(move |entry| async move {
                let fetched = this.fetch(&entry).await;
                (entry, fetched)
            })
            .buffered(self.options.load_concurrency);
        while let Some((entry, fetched)) = fetches.next().await {
            let entry = &entry;
            let first = match fetched {
                Ok(bytes) => bytes,
                Err(e) if is_not_found(&e) => {
                    if self.manifest_changed(&etag).await? {
                        return Ok(Outcome::Stale);
                    }
                    loaded.failed.push(ShardFailure {
                        key: self.key(&entry.key),
                        error: e,
                    });
                    continue;
                }
                Err(e) => {
                    // Transport errors were retried by the client already; one more try
                    // is the same second chance a corrupt shard gets.
                    match self.fetch(entry).await {
                        Ok(bytes) => bytes,
                        Err(_) => {
                            loaded.failed.push(ShardFailure {
                                key: self.key(&entry.key),
                                error: e,
                            });
                            continue;
                        }
                    }
                }
            };
            loaded.downloaded_bytes += first.len() as u64;
            let added = match self.add_verified(&manifest, entry, &first, &mut loaded) {
                Ok(()) => Ok(()),
                Err(StoreError::Format { .. }) => {
                    // Corrupt in transit or at rest: a second fetch tells which.
                    match self.fetch(entry).await {
                        Ok(second) => {
                            loaded.downloaded_bytes += second.len() as u64;
                            let r = self.add_verified(&manifest, entry, &second, &mut loaded);
                            if r.is_ok() {
                                loaded.refetched += 1;
                            }
                            r
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match added {
                Ok(()) => {
                    progress.loaded_bytes += entry.bytes;
                    progress.loaded_shards += 1;
                    on_progress(progress);
                }
                Err(error) => loaded.failed.push(ShardFailure {
                    key: self.key(&entry.key),
                    error,
                }),
            }
        }
        drop(fetches);
        loaded
            .collection
            .remove(manifest.deleted.iter().map(String::as_str));
        Ok(Outcome::Done(Box::new(loaded)))
    }

    async fn fetch(&self, entry: &ShardEntry) -> Result<Bytes, StoreError> {
        Ok(self.s3.get_object(&self.key(&entry.key)).await?.body)
    }

    /// Verifies `bytes` against the manifest entry and adds the shard's documents.
    fn add_verified(
        &self,
        manifest: &Manifest,
        entry: &ShardEntry,
        bytes: &[u8],
        loaded: &mut Loaded,
    ) -> Result<(), StoreError> {
        let key = || self.key(&entry.key);
        // A short or long object is refused before hashing it.
        if bytes.len() as u64 != entry.bytes {
            return Err(self.format_error(
                key(),
                crate::format::FormatError::ManifestDisagrees {
                    field: "bytes",
                    shard: bytes.len().to_string(),
                    manifest: entry.bytes.to_string(),
                },
            ));
        }
        let shard = decode_shard(bytes).map_err(|e| self.format_error(key(), e))?;
        manifest
            .check_shard(entry, &shard, bytes.len())
            .map_err(|e| self.format_error(key(), e))?;
        loaded.collection.add_shard(&shard)?;
        Ok(())
    }

    async fn manifest_changed(&self, seen: &ETag) -> Result<bool, StoreError> {
        Ok(match self.read_manifest().await? {
            Some(now) => &now.etag != seen,
            None => true,
        })
    }
}

fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::Aws(a) if a.is_not_found())
}
