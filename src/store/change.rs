//! Manifest edits as pure functions: what one publish does to whatever manifest it finds.
//! [`super::Store::publish`] applies a [`Change`] to the manifest it just read, and on losing
//! the compare-and-swap applies the same change to the newer one. So a change must say what
//! it means, never what it saw ("add these shards", not "the shard list is now …").
//!
//! Nothing here does IO or reads the clock.

use super::StoreError;
use crate::format::manifest::MAX_MANIFEST_BYTES;
use crate::format::{Dtype, FormatError, Manifest, ShardEntry};
use std::collections::HashSet;

/// What a new collection is made of, and what a write into an existing one must agree with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionSpec {
    pub model_id: String,
    pub dims: u32,
    pub dtype: Dtype,
    pub normalized: bool,
}

impl CollectionSpec {
    pub fn new(model_id: impl Into<String>, dims: u32, dtype: Dtype) -> Self {
        CollectionSpec {
            model_id: model_id.into(),
            dims,
            dtype,
            normalized: true,
        }
    }

    /// The empty manifest of a collection made to this spec.
    pub fn empty_manifest(&self) -> Manifest {
        let mut m = Manifest::new(self.model_id.clone(), self.dims, self.dtype);
        m.normalized = self.normalized;
        m
    }

    /// Refuses to write vectors of another model, size or encoding into `manifest`'s
    /// collection: they would be silently meaningless next to the others.
    pub fn check(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let differ = |field, collection: String, given: String| {
            Err(StoreError::Incompatible {
                field,
                collection,
                given,
            })
        };
        if manifest.model_id != self.model_id {
            return differ("model", manifest.model_id.clone(), self.model_id.clone());
        }
        if manifest.dims != self.dims {
            return differ(
                "dimension count",
                manifest.dims.to_string(),
                self.dims.to_string(),
            );
        }
        if manifest.dtype != self.dtype {
            return differ(
                "vector encoding",
                manifest.dtype.to_string(),
                self.dtype.to_string(),
            );
        }
        Ok(())
    }
}

/// A shard object that is completely written and may be listed in the manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingShard {
    pub entry: ShardEntry,
    /// The ids it holds (a re-added id leaves `deleted`).
    pub ids: Vec<String>,
}

/// One publish.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Append shards (newest last, so their documents replace older ones with the same ids)
    /// and tombstone ids. The shards' ids leave `deleted`; then `delete` is applied, so an id
    /// in both ends up deleted.
    Update {
        add: Vec<PendingShard>,
        delete: Vec<String>,
    },
    /// Compaction: `replaces` (every shard of the manifest it read) gives way to `with`, which
    /// holds exactly their live documents. `dropped` are the tombstones that manifest had;
    /// `with` holds none of those ids.
    Compact {
        replaces: Vec<String>,
        with: Vec<PendingShard>,
        dropped: Vec<String>,
    },
}

/// What applying a change did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Shards of the change that the manifest already listed (a retried publish).
    pub already_listed: usize,
    /// Tombstones kept because shards written after the compaction's snapshot may hold them.
    pub tombstones_kept: usize,
}

/// Applies `change` to `manifest` and bumps its generation; on error `manifest` is unchanged.
pub fn apply(manifest: &Manifest, change: &Change) -> Result<(Manifest, Applied), StoreError> {
    let mut next = manifest.clone();
    let mut applied = Applied::default();
    match change {
        Change::Update { add, delete } => {
            let listed: HashSet<&str> = manifest.shards.iter().map(|s| s.key.as_str()).collect();
            let mut revived = HashSet::new();
            for shard in add {
                if listed.contains(shard.entry.key.as_str()) {
                    applied.already_listed += 1;
                    continue;
                }
                next.shards.push(shard.entry.clone());
                revived.extend(shard.ids.iter().map(String::as_str));
            }
            next.deleted.retain(|id| !revived.contains(id.as_str()));
            let mut tombstones: HashSet<String> = next.deleted.iter().cloned().collect();
            for id in delete {
                if tombstones.insert(id.clone()) {
                    next.deleted.push(id.clone());
                }
            }
        }
        Change::Compact {
            replaces,
            with,
            dropped,
        } => {
            let replaced: HashSet<&str> = replaces.iter().map(String::as_str).collect();
            let present = manifest
                .shards
                .iter()
                .filter(|s| replaced.contains(s.key.as_str()))
                .count();
            if present != replaced.len() {
                return Err(StoreError::CompactionConflict);
            }
            let newer: Vec<ShardEntry> = manifest
                .shards
                .iter()
                .filter(|s| !replaced.contains(s.key.as_str()))
                .cloned()
                .collect();
            // Shards published after the snapshot may hold an id that was deleted again after
            // being re-added; only without them is every dropped tombstone provably spent.
            if newer.is_empty() {
                let spent: HashSet<&str> = dropped.iter().map(String::as_str).collect();
                next.deleted.retain(|id| !spent.contains(id.as_str()));
            } else {
                applied.tombstones_kept = dropped.len();
            }
            next.shards = with.iter().map(|s| s.entry.clone()).collect();
            next.shards.extend(newer);
        }
    }
    next.generation = manifest.generation.checked_add(1).ok_or_else(|| {
        StoreError::InvalidInput("the manifest's generation is at its maximum (2^64 - 1)".into())
    })?;
    next.validate().map_err(|e| StoreError::Format {
        bucket: String::new(),
        key: super::MANIFEST_NAME.into(),
        source: e,
    })?;
    let size = next.to_json().len();
    if size > MAX_MANIFEST_BYTES {
        return Err(StoreError::Format {
            bucket: String::new(),
            key: super::MANIFEST_NAME.into(),
            source: FormatError::BadManifest(format!(
                "this publish would make the manifest {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; run compact to fold tombstones and small shards"
            )),
        });
    }
    Ok((next, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> PendingShard {
        PendingShard {
            entry: ShardEntry {
                key: key.into(),
                count: 1,
                bytes: 200,
                checksum: "xxh3-64:0123456789abcdef".into(),
            },
            ids: vec![format!("id-{key}")],
        }
    }

    fn keys(m: &Manifest) -> Vec<&str> {
        m.shards.iter().map(|s| s.key.as_str()).collect()
    }

    fn base() -> Manifest {
        CollectionSpec::new("m", 4, Dtype::F32).empty_manifest()
    }

    #[test]
    fn update_appends_revives_and_deletes() {
        let mut m = base();
        m.deleted = vec!["id-b".into(), "x".into()];
        let change = Change::Update {
            add: vec![entry("a"), entry("b")],
            delete: vec!["y".into(), "x".into(), "y".into()],
        };
        let (next, applied) = apply(&m, &change).unwrap();
        assert_eq!(keys(&next), ["a", "b"]);
        assert_eq!(next.deleted, ["x", "y"]);
        assert_eq!(next.generation, 1);
        assert_eq!(applied, Applied::default());
        // Applying the same change again (a retried publish) adds no duplicate shard.
        let (again, applied) = apply(&next, &change).unwrap();
        assert_eq!(keys(&again), ["a", "b"]);
        assert_eq!(applied.already_listed, 2);
        assert_eq!(again.generation, 2);
    }

    #[test]
    fn an_id_added_and_deleted_in_one_change_ends_deleted() {
        let change = Change::Update {
            add: vec![entry("a")],
            delete: vec!["id-a".into()],
        };
        let (next, _) = apply(&base(), &change).unwrap();
        assert_eq!(next.deleted, ["id-a"]);
    }

    #[test]
    fn compaction_replaces_its_snapshot_and_keeps_newer_shards_after_it() {
        let mut m = base();
        m.shards = vec![entry("a").entry, entry("b").entry, entry("c").entry];
        m.deleted = vec!["gone".into(), "later".into()];
        let change = Change::Compact {
            replaces: vec!["a".into(), "b".into()],
            with: vec![entry("ab")],
            dropped: vec!["gone".into()],
        };
        let (next, applied) = apply(&m, &change).unwrap();
        assert_eq!(keys(&next), ["ab", "c"]);
        // "c" came after the snapshot and may hold a re-added-then-deleted "gone".
        assert_eq!(next.deleted, ["gone", "later"]);
        assert_eq!(applied.tombstones_kept, 1);

        m.shards.pop();
        let (next, _) = apply(&m, &change).unwrap();
        assert_eq!(keys(&next), ["ab"]);
        assert_eq!(next.deleted, ["later"]);
    }

    #[test]
    fn compaction_conflicts_when_its_shards_are_gone() {
        let mut m = base();
        m.shards = vec![entry("b").entry];
        let change = Change::Compact {
            replaces: vec!["a".into(), "b".into()],
            with: vec![entry("ab")],
            dropped: vec![],
        };
        assert!(matches!(
            apply(&m, &change),
            Err(StoreError::CompactionConflict)
        ));
    }

    #[test]
    fn spec_mismatch_names_the_field() {
        let m = base();
        let err = CollectionSpec::new("m", 8, Dtype::F32)
            .check(&m)
            .unwrap_err();
        assert!(err.to_string().contains("dimension count is 4"), "{err}");
        let err = CollectionSpec::new("other", 4, Dtype::F32)
            .check(&m)
            .unwrap_err();
        assert!(err.to_string().contains("model is m"), "{err}");
        assert!(CollectionSpec::new("m", 4, Dtype::F32).check(&m).is_ok());
    }

    #[test]
    fn invalid_entries_are_refused_before_publishing() {
        let mut bad = entry("../escape");
        bad.entry.key = "../escape".into();
        let change = Change::Update {
            add: vec![bad],
            delete: vec![],
        };
        let err = apply(&base(), &change).unwrap_err();
        assert!(err.to_string().contains("escape"), "{err}");
    }
}
