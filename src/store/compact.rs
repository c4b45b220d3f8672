//! Compaction: rewrite the collection's shards without deleted and replaced documents, publish
//! the new shard list atomically, then delete the old shard objects.
//!
//! Readers are never broken: the old shards stay until the new manifest is published, and a
//! reader that still fetches from the old manifest after they are deleted finds a missing
//! shard, sees that the manifest changed, and loads the new one ([`Store::load`]).

use super::change::{Change, PendingShard};
use super::{Store, StoreError, Versioned};
use crate::format::shard::{ShardRef, read_f32};
use crate::format::{Document, Dtype, Shard, ShardVectors, decode_shard};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Documents per new shard.
    pub max_docs_per_shard: usize,
    /// Wait this long after publishing before deleting the old shards, for readers that
    /// fetched the old manifest just before (they recover anyway, at the cost of a reload).
    pub delete_old_after: Duration,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            max_docs_per_shard: 10_000,
            delete_old_after: Duration::from_secs(30),
        }
    }
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// False when there was nothing to fold (no tombstones, no replaced documents, no shards
    /// to merge); then nothing was written.
    pub compacted: bool,
    pub shards_before: usize,
    pub shards_after: usize,
    pub documents_kept: usize,
    /// Deleted documents and older versions of replaced ones, physically removed.
    pub documents_dropped: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub generation: u64,
    /// Old shard objects that could not be deleted (unreferenced now; safe to remove by hand).
    pub leftover_keys: Vec<String>,
}

impl Store {
    pub async fn compact(&self, options: &CompactOptions) -> Result<CompactReport, StoreError> {
        if options.max_docs_per_shard == 0 {
            return Err(StoreError::InvalidInput(
                "max_docs_per_shard must be at least 1".into(),
            ));
        }
        let current = self.require_manifest().await?;
        let blobs = self.fetch_all_verified(&current).await?;
        let snapshot = current.manifest;
        let mut report = CompactReport {
            shards_before: snapshot.shards.len(),
            bytes_before: snapshot.shards.iter().map(|s| s.bytes).sum(),
            generation: snapshot.generation,
            ..CompactReport::default()
        };
        let shards = blobs
            .iter()
            .zip(&snapshot.shards)
            .map(|(b, e)| decode_shard(b).map_err(|err| self.format_error(self.key(&e.key), err)))
            .collect::<Result<Vec<_>, _>>()?;

        // The newest copy of each live id, kept in the order the collection reads them.
        let deleted: HashSet<&str> = snapshot.deleted.iter().map(String::as_str).collect();
        let mut newest: HashMap<&str, (usize, usize)> = HashMap::new();
        for (s, shard) in shards.iter().enumerate() {
            for (r, doc) in shard.docs.iter().enumerate() {
                newest.insert(doc.id.as_str(), (s, r));
            }
        }
        let total: usize = shards.iter().map(|s| s.len()).sum();
        let mut keep: Vec<(usize, usize)> = newest
            .iter()
            .filter(|(id, _)| !deleted.contains(*id))
            .map(|(_, &at)| at)
            .collect();
        keep.sort_unstable();
        report.documents_kept = keep.len();
        report.documents_dropped = total - keep.len();
        let target_shards = keep.len().div_ceil(options.max_docs_per_shard);
        let undersized = snapshot.shards.len() > target_shards;
        if report.documents_dropped == 0 && snapshot.deleted.is_empty() && !undersized {
            report.shards_after = snapshot.shards.len();
            report.bytes_after = report.bytes_before;
            return Ok(report);
        }

        let mut written: Vec<PendingShard> = Vec::new();
        for (n, rows) in keep.chunks(options.max_docs_per_shard).enumerate() {
            let shard = gather(&shards, rows, snapshot.dims, snapshot.dtype);
            let sequence = snapshot.generation + 1 + n as u64;
            match self.write_shard(&shard, sequence).await {
                Ok(p) => written.push(p),
                Err(e) => {
                    self.delete_quietly(written.iter().map(|p| p.entry.key.as_str()))
                        .await;
                    return Err(e);
                }
            }
        }
        let change = Change::Compact {
            replaces: snapshot.shards.iter().map(|s| s.key.clone()).collect(),
            with: written.clone(),
            dropped: snapshot.deleted.clone(),
        };
        let published = match self.publish(None, &change).await {
            Ok(p) => p,
            Err(e) => {
                // Nothing references the new shards; a shard that kept its key (identical
                // content) is still listed, so only remove the ones that are not.
                let old: HashSet<&str> = snapshot.shards.iter().map(|s| s.key.as_str()).collect();
                self.delete_quietly(
                    written
                        .iter()
                        .map(|p| p.entry.key.as_str())
                        .filter(|k| !old.contains(k)),
                )
                .await;
                return Err(e);
            }
        };
        report.compacted = true;
        report.generation = published.manifest.generation;
        report.shards_after = written.len();
        report.bytes_after = written.iter().map(|p| p.entry.bytes).sum();

        if !options.delete_old_after.is_zero() {
            self.sleep.sleep(options.delete_old_after).await;
        }
        let still_listed: HashSet<&str> = published
            .manifest
            .shards
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        for entry in &snapshot.shards {
            if still_listed.contains(entry.key.as_str()) {
                continue;
            }
            let key = self.key(&entry.key);
            if self.s3.delete_object(&key).await.is_err() {
                report.leftover_keys.push(key);
            }
        }
        Ok(report)
    }

    /// Every shard of `current`, verified and refetched as [`Store::load`] does. Compaction
    /// refuses to rewrite a collection that does not load whole (it would silently drop the
    /// unreadable shard's documents), or one another compaction just rewrote.
    async fn fetch_all_verified(&self, current: &Versioned) -> Result<Vec<Bytes>, StoreError> {
        let fetched = self
            .fetch_shards(current, &current.manifest.shards, |_| {})
            .await?
            .ok_or(StoreError::CompactionConflict)?;
        if let Some(failure) = fetched.failed.into_iter().next() {
            return Err(failure.error);
        }
        Ok(fetched.shards.into_iter().map(|(_, bytes)| bytes).collect())
    }

    async fn delete_quietly(&self, relative_keys: impl Iterator<Item = &str>) {
        for k in relative_keys {
            let _ = self.s3.delete_object(&self.key(k)).await;
        }
    }
}

/// A new shard of the given rows (shard index, row), vectors copied in their stored encoding.
fn gather(shards: &[ShardRef<'_>], rows: &[(usize, usize)], dims: u32, dtype: Dtype) -> Shard {
    let docs: Vec<Document> = rows
        .iter()
        .map(|&(s, r)| shards[s].docs[r].clone())
        .collect();
    let vectors = match dtype {
        Dtype::F32 => ShardVectors::F32(
            rows.iter()
                .flat_map(|&(s, r)| shards[s].row(r).chunks_exact(4).map(read_f32))
                .collect(),
        ),
        Dtype::I8 => ShardVectors::I8 {
            codes: rows
                .iter()
                .flat_map(|&(s, r)| shards[s].row(r).iter().map(|&b| b as i8))
                .collect(),
            scales: rows.iter().map(|&(s, r)| shards[s].scale(r)).collect(),
        },
        Dtype::Binary => ShardVectors::Binary(
            rows.iter()
                .flat_map(|&(s, r)| shards[s].row(r).iter().copied())
                .collect(),
        ),
    };
    Shard {
        dims,
        vectors,
        docs,
    }
}
