//! Which ids a collection holds, without downloading its vectors: two ranged reads per shard
//! (the header, then the ids section). This is what lets an interrupted bulk index resume
//! without re-embedding what it already published.

use super::{Store, StoreError};
use crate::aws::s3::ByteRange;
use crate::format::shard::{HEADER_LEN, decode_ids, ids_section};
use crate::format::{Manifest, ShardEntry};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashSet;

impl Store {
    /// The ids a reader of `manifest` would find: every shard's ids minus the tombstones.
    pub async fn published_ids(&self, manifest: &Manifest) -> Result<HashSet<String>, StoreError> {
        let this = self;
        let per_shard: Vec<Vec<String>> = stream::iter(manifest.shards.clone())
            .map(move |entry| async move { this.shard_ids(&entry).await })
            .buffer_unordered(self.options.load_concurrency)
            .try_collect()
            .await?;
        let deleted: HashSet<&str> = manifest.deleted.iter().map(String::as_str).collect();
        Ok(per_shard
            .into_iter()
            .flatten()
            .filter(|id| !deleted.contains(id.as_str()))
            .collect())
    }

    async fn shard_ids(&self, entry: &ShardEntry) -> Result<Vec<String>, StoreError> {
        let key = self.key(&entry.key);
        let bad = |e| self.format_error(key.clone(), e);
        let header = self
            .s3
            .get_object_range(
                &key,
                ByteRange::Inclusive {
                    first: 0,
                    last: HEADER_LEN as u64 - 1,
                },
            )
            .await?
            .body;
        let (count, range) = ids_section(&header).map_err(bad)?;
        if count != entry.count || range.end > entry.bytes {
            return Err(bad(crate::format::FormatError::ManifestDisagrees {
                field: "count or ids section",
                shard: format!("{count} documents, ids at {range:?}"),
                manifest: format!("{} documents in {} bytes", entry.count, entry.bytes),
            }));
        }
        if range.is_empty() {
            return decode_ids(&[], count).map_err(bad);
        }
        let section = self
            .s3
            .get_object_range(
                &key,
                ByteRange::Inclusive {
                    first: range.start,
                    last: range.end - 1,
                },
            )
            .await?
            .body;
        if section.len() as u64 != range.end - range.start {
            return Err(bad(crate::format::FormatError::Truncated {
                what: "ids section",
                offset: range.start,
                needed: range.end - range.start,
                len: section.len() as u64,
            }));
        }
        decode_ids(&section, count).map_err(bad)
    }
}
