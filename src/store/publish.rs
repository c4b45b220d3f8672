//! Writing: immutable shards first, then the manifest by compare-and-swap (FORMAT.md §4.5).

use super::change::{Applied, Change, CollectionSpec, PendingShard, apply};
use super::{Store, StoreError, Versioned};
use crate::aws::s3::{ETag, PutOptions};
use crate::format::{Manifest, Shard, ShardEntry, encode_shard};

/// The manifest a publish wrote.
#[derive(Clone, Debug)]
pub struct Published {
    pub manifest: Manifest,
    pub etag: ETag,
    /// Compare-and-swap attempts it took (1 when nobody else was publishing).
    pub attempts: u32,
    pub applied: Applied,
}

impl Store {
    /// Writes `shard` under a new key and returns its manifest entry; the shard is not part
    /// of the collection until a publish lists it. `sequence` only orders keys for people
    /// reading a bucket listing (readers never parse keys).
    pub async fn write_shard(
        &self,
        shard: &Shard,
        sequence: u64,
    ) -> Result<PendingShard, StoreError> {
        let bytes = encode_shard(shard).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        // The checksum sits in the header at [8, 16): the key names the content.
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[8..16]);
        let sum = u64::from_le_bytes(sum);
        let relative = format!("shards/{sequence:06}-{sum:016x}.s3vs");
        let key = self.key(&relative);
        let size = bytes.len() as u64;
        let put = PutOptions::if_none_match().content_type("application/octet-stream");
        match self.s3.put_object(&key, bytes, put).await {
            Ok(_) => {}
            // Same key, same checksum: this very shard was written before (a retried or
            // resumed write). Make sure it is whole before reusing it.
            Err(e) if e.is_precondition_failed() => {
                let meta = self.s3.head_object(&key).await?;
                if meta.size != size {
                    return Err(StoreError::InvalidInput(format!(
                        "s3://{}/{key} exists with {} bytes, but the shard with this checksum has {size}; delete the stray object",
                        self.s3.bucket(),
                        meta.size
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(PendingShard {
            entry: ShardEntry {
                key: relative,
                count: shard.docs.len() as u64,
                bytes: size,
                checksum: ShardEntry::format_checksum(sum),
            },
            ids: shard.docs.iter().map(|d| d.id.clone()).collect(),
        })
    }

    /// Publishes `change`: reads the manifest, applies the change, writes it back only if
    /// nobody published in between, and otherwise starts again from the newer manifest.
    /// `spec` creates the collection when there is none and is checked against an existing
    /// one; without it a missing collection is an error.
    pub async fn publish(
        &self,
        spec: Option<&CollectionSpec>,
        change: &Change,
    ) -> Result<Published, StoreError> {
        let retry = &self.options.publish_retry;
        let key = self.manifest_key();
        for attempt in 1..=retry.max_attempts {
            let current = self.read_manifest().await?;
            let (base, condition) = match (&current, spec) {
                (Some(Versioned { manifest, etag }), spec) => {
                    if let Some(spec) = spec {
                        spec.check(manifest)?;
                    }
                    (manifest.clone(), PutOptions::if_match(etag.clone()))
                }
                (None, Some(spec)) => (spec.empty_manifest(), PutOptions::if_none_match()),
                (None, None) => self
                    .require_manifest()
                    .await
                    .map(|v| (v.manifest, PutOptions::if_match(v.etag)))?,
            };
            let (next, applied) = apply(&base, change).map_err(|e| match e {
                StoreError::Format { source, .. } => self.format_error(key.clone(), source),
                other => other,
            })?;
            let put = condition.content_type("application/json");
            match self.s3.put_object(&key, next.to_json(), put).await {
                Ok(out) => {
                    return Ok(Published {
                        manifest: next,
                        etag: out.etag,
                        attempts: attempt,
                        applied,
                    });
                }
                Err(e) if e.is_precondition_failed() || e.is_conflict() => {
                    if attempt < retry.max_attempts {
                        self.sleep.sleep(retry.delay(attempt)).await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contention {
            attempts: retry.max_attempts,
        })
    }

    /// Adds the documents of `shard` to the collection (creating it to `spec` if needed):
    /// writes the shard, then publishes it. Documents whose ids exist already are replaced.
    pub async fn add(&self, spec: &CollectionSpec, shard: &Shard) -> Result<Published, StoreError> {
        if shard.docs.is_empty() {
            return Err(StoreError::InvalidInput(
                "no documents to add: the shard is empty".into(),
            ));
        }
        // Fail on a mismatched model or size before writing anything.
        let sequence = match self.read_manifest().await? {
            Some(current) => {
                spec.check(&current.manifest)?;
                current.manifest.generation + 1
            }
            None => 1,
        };
        let pending = self.write_shard(shard, sequence).await?;
        let change = Change::Update {
            add: vec![pending],
            delete: Vec::new(),
        };
        self.publish(Some(spec), &change).await
    }

    /// Tombstones `ids`: they disappear from every reader that loads the new manifest, and
    /// from the shards at the next compaction.
    pub async fn delete(&self, ids: &[String]) -> Result<Published, StoreError> {
        if let Some(bad) = ids.iter().find(|id| id.is_empty() || id.len() > 1024) {
            return Err(StoreError::InvalidInput(format!(
                "cannot delete id {bad:?}: ids are 1 to 1024 bytes"
            )));
        }
        let change = Change::Update {
            add: Vec::new(),
            delete: ids.to_vec(),
        };
        self.publish(None, &change).await
    }
}
