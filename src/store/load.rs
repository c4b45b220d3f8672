//! Reading: the manifest, then its shards, fetched in parallel and added in manifest order (a
//! later shard's document replaces an earlier one with the same id), then the tombstones.
//!
//! Shards come from the store's [`ShardCache`](super::ShardCache) when it has them, else from
//! S3; either way they are verified before use, and what was downloaded and verified is put
//! in the cache. [`Store::fetch_shards`] does the same for a few shards of a manifest whose
//! other shards a reader already holds (a refresh).

use super::cache::ShardName;
use super::{Store, StoreError, Versioned};
use crate::aws::s3::ETag;
use crate::format::shard::ShardRef;
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
    /// Bytes downloaded, refetches included (cache hits excluded).
    pub downloaded_bytes: u64,
    /// Shards read from the shard cache (and verified) instead of S3.
    pub cached_shards: usize,
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

/// Some shards of a manifest, verified, in the order asked for ([`Store::fetch_shards`]).
#[derive(Debug, Default)]
pub struct FetchedShards {
    pub shards: Vec<(ShardEntry, Bytes)>,
    pub failed: Vec<ShardFailure>,
    pub refetched: usize,
    pub downloaded_bytes: u64,
    pub cached_shards: usize,
}

/// A shard deleted between reading the manifest and fetching it means a compaction published
/// meanwhile; the load starts over from the newer manifest, this many times at most.
const MAX_RESTARTS: u32 = 3;

/// What fetching a list of shards came to.
#[derive(Default)]
struct Tally {
    failed: Vec<ShardFailure>,
    refetched: usize,
    downloaded_bytes: u64,
    cached_shards: usize,
}

enum Run {
    Done(Tally),
    /// A listed shard is gone and the manifest has changed: start again.
    Stale,
}

/// A shard's bytes and whether they came from the cache.
struct Got {
    bytes: Bytes,
    cached: bool,
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
            let mut collection = Collection::new();
            // Sized once from the manifest, so the stores are not copied as shards arrive.
            let m = &current.manifest;
            let docs = usize::try_from(m.document_count()).unwrap_or(usize::MAX);
            collection.reserve(m.dims as usize, m.dtype, docs);
            let run = self
                .fetch_each(
                    &current,
                    &current.manifest.shards,
                    &mut on_progress,
                    |_, _, s| {
                        collection.add_shard(s)?;
                        Ok(())
                    },
                )
                .await?;
            match run {
                Run::Done(tally) => {
                    self.prune_cache(&current.manifest).await;
                    let Versioned { manifest, etag } = current;
                    collection.remove(manifest.deleted.iter().map(String::as_str));
                    return Ok(Loaded {
                        manifest,
                        etag,
                        collection,
                        failed: tally.failed,
                        refetched: tally.refetched,
                        downloaded_bytes: tally.downloaded_bytes,
                        cached_shards: tally.cached_shards,
                        restarts,
                    });
                }
                Run::Stale if restarts < MAX_RESTARTS => restarts += 1,
                Run::Stale => {
                    return Err(StoreError::Contention {
                        attempts: MAX_RESTARTS + 1,
                    });
                }
            }
        }
    }

    /// Fetches and verifies `entries` (shards of `current`'s manifest) the way [`Store::load`]
    /// does, and returns their bytes instead of a collection: for a reader that holds the
    /// manifest's other shards already and adds these itself. `None` when one of them is gone
    /// because the manifest changed meanwhile (a compaction): load again from scratch.
    pub async fn fetch_shards<F: FnMut(LoadProgress)>(
        &self,
        current: &Versioned,
        entries: &[ShardEntry],
        mut on_progress: F,
    ) -> Result<Option<FetchedShards>, StoreError> {
        let mut shards = Vec::with_capacity(entries.len());
        let run = self
            .fetch_each(current, entries, &mut on_progress, |entry, bytes, _| {
                shards.push((entry.clone(), bytes.clone()));
                Ok(())
            })
            .await?;
        Ok(match run {
            Run::Stale => None,
            Run::Done(t) => Some(FetchedShards {
                shards,
                failed: t.failed,
                refetched: t.refetched,
                downloaded_bytes: t.downloaded_bytes,
                cached_shards: t.cached_shards,
            }),
        })
    }

    /// Fetches `entries` with bounded parallelism and hands each verified shard to `sink`, in
    /// the order of `entries`.
    async fn fetch_each<F, S>(
        &self,
        current: &Versioned,
        entries: &[ShardEntry],
        on_progress: &mut F,
        mut sink: S,
    ) -> Result<Run, StoreError>
    where
        F: FnMut(LoadProgress),
        S: FnMut(&ShardEntry, &Bytes, &ShardRef<'_>) -> Result<(), StoreError>,
    {
        let mut progress = LoadProgress {
            total_bytes: entries.iter().map(|s| s.bytes).sum(),
            total_shards: entries.len(),
            ..LoadProgress::default()
        };
        on_progress(progress);
        let mut tally = Tally::default();
        // `buffered` keeps the manifest's order while `load_concurrency` fetches run, so
        // shards are handed over oldest first without holding every shard's bytes at once.
        // Owned entries: a closure over borrowed ones is not `Send` (rust-lang/rust#100013).
        let this = self;
        let mut fetches = stream::iter(entries.to_vec())
            .map(move |entry| async move {
                let got = this.fetch_first(&entry).await;
                (entry, got)
            })
            .buffered(self.options.load_concurrency);
        while let Some((entry, got)) = fetches.next().await {
            let outcome = match self
                .settle(current, &entry, got, &mut tally, &mut sink)
                .await?
            {
                Some(outcome) => outcome,
                None => return Ok(Run::Stale),
            };
            match outcome {
                Ok(got) => {
                    if got.cached {
                        tally.cached_shards += 1;
                    } else if let Ok(url) = self.s3.object_url(&self.key(&entry.key)) {
                        let name = ShardName {
                            url: &url,
                            checksum: &entry.checksum,
                        };
                        self.cache.put(name, got.bytes).await;
                    }
                    progress.loaded_bytes += entry.bytes;
                    progress.loaded_shards += 1;
                    on_progress(progress);
                }
                Err(error) => tally.failed.push(ShardFailure {
                    key: self.key(&entry.key),
                    error,
                }),
            }
        }
        Ok(Run::Done(tally))
    }

    /// Turns the first fetch of `entry` into verified bytes handed to `sink`: a download that
    /// fails, or does not verify, gets one more try; a cached copy that does not verify is
    /// downloaded. `None`: the shard is gone and the manifest changed (start again).
    async fn settle<S>(
        &self,
        current: &Versioned,
        entry: &ShardEntry,
        first: Result<Got, StoreError>,
        tally: &mut Tally,
        sink: &mut S,
    ) -> Result<Option<Result<Got, StoreError>>, StoreError>
    where
        S: FnMut(&ShardEntry, &Bytes, &ShardRef<'_>) -> Result<(), StoreError>,
    {
        let mut next = first;
        let mut second_chance = true;
        let mut refetching = false;
        loop {
            let got = match next {
                Ok(got) => got,
                Err(e) if is_not_found(&e) => {
                    if self.manifest_changed(&current.etag).await? {
                        return Ok(None);
                    }
                    return Ok(Some(Err(e)));
                }
                // Transport errors were retried by the client already; one more try is the
                // same second chance a corrupt shard gets. The first error is the one reported.
                Err(e) if second_chance => {
                    second_chance = false;
                    match self.download(entry).await {
                        Ok(got) => next = Ok(got),
                        Err(_) => return Ok(Some(Err(e))),
                    }
                    continue;
                }
                Err(e) => return Ok(Some(Err(e))),
            };
            if !got.cached {
                tally.downloaded_bytes += got.bytes.len() as u64;
            }
            match self.verify_into(&current.manifest, entry, &got.bytes, sink) {
                Ok(()) => {
                    if refetching {
                        tally.refetched += 1;
                    }
                    return Ok(Some(Ok(got)));
                }
                // A bad cache entry is a miss: download the shard (and replace the entry).
                Err(StoreError::Format { .. }) if got.cached => next = self.download(entry).await,
                // Corrupt in transit or at rest: a second fetch tells which.
                Err(StoreError::Format { .. }) if second_chance => {
                    second_chance = false;
                    refetching = true;
                    match self.download(entry).await {
                        Ok(got) => next = Ok(got),
                        Err(e) => return Ok(Some(Err(e))),
                    }
                }
                Err(e) => return Ok(Some(Err(e))),
            }
        }
    }

    /// Tells the cache which of this collection's shards are still listed.
    async fn prune_cache(&self, manifest: &Manifest) {
        let Ok(manifest_url) = self.s3.object_url(&self.manifest_key()) else {
            return;
        };
        let Some(base) = manifest_url.strip_suffix(super::MANIFEST_NAME) else {
            return;
        };
        let under = format!("{base}shards/");
        let urls: Vec<(String, &str)> = manifest
            .shards
            .iter()
            .filter_map(|e| {
                let url = self.s3.object_url(&self.key(&e.key)).ok()?;
                Some((url, e.checksum.as_str()))
            })
            .collect();
        let keep: Vec<ShardName<'_>> = urls
            .iter()
            .map(|(url, checksum)| ShardName { url, checksum })
            .collect();
        self.cache.prune(&under, &keep).await;
    }

    /// From the cache if it has the shard, else from S3.
    async fn fetch_first(&self, entry: &ShardEntry) -> Result<Got, StoreError> {
        if let Ok(url) = self.s3.object_url(&self.key(&entry.key)) {
            let name = ShardName {
                url: &url,
                checksum: &entry.checksum,
            };
            if let Some(bytes) = self.cache.get(name).await {
                return Ok(Got {
                    bytes,
                    cached: true,
                });
            }
        }
        self.download(entry).await
    }

    async fn download(&self, entry: &ShardEntry) -> Result<Got, StoreError> {
        let bytes = self.s3.get_object(&self.key(&entry.key)).await?.body;
        Ok(Got {
            bytes,
            cached: false,
        })
    }

    /// Verifies `bytes` against the manifest entry, then hands the shard to `sink`.
    fn verify_into<S>(
        &self,
        manifest: &Manifest,
        entry: &ShardEntry,
        bytes: &Bytes,
        sink: &mut S,
    ) -> Result<(), StoreError>
    where
        S: FnMut(&ShardEntry, &Bytes, &ShardRef<'_>) -> Result<(), StoreError>,
    {
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
        sink(entry, bytes, &shard)
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
