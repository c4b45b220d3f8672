//! Memory following the bucket: a full load, and a refresh that fetches only what other
//! writers appended since.
//!
//! Memory holds the documents of `synced.manifest`'s shards, then of `synced.extra`: shards
//! this client published itself after that manifest (see [`super::write`]), in the order it
//! added them. A newer manifest can be applied without a full load when it lists the same
//! shards first, then those extra shards, then new ones: adding the new ones last then gives
//! every id the document of its latest shard, exactly as a load in manifest order would.
//! Anything else (a compaction rewrote the list, another writer's shard landed before one of
//! ours) is a full load.

use super::{Client, ClientError, lock};
use crate::aws::s3::ETag;
use crate::format::{Dtype, Manifest, ShardEntry, decode_shard};
use crate::index::Collection;
use crate::store::{LoadProgress, ShardFailure, StoreError};

/// What memory holds.
#[derive(Default)]
pub(crate) struct State {
    pub collection: Collection,
    pub synced: Option<Synced>,
}

/// The manifest memory follows, and the shards published here since.
pub(crate) struct Synced {
    pub manifest: Manifest,
    pub etag: ETag,
    pub extra: Vec<ShardEntry>,
}

impl State {
    /// Dimensions and encoding queries are embedded for: the manifest's, else (documents added
    /// before any load) the collection's. `None`: nothing loaded or added yet.
    pub fn shape(&self) -> Option<(u32, Dtype)> {
        if let Some(s) = &self.synced {
            return Some((s.manifest.dims, s.manifest.dtype));
        }
        match (self.collection.dims(), self.collection.dtype()) {
            (Some(d), Some(t)) => Some((d as u32, t)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    /// A full load (`load`).
    Loaded,
    /// The manifest had not changed: nothing downloaded.
    Unchanged,
    /// Only the shards appended since were fetched.
    Extended,
    /// The shard list was rewritten (or was never loaded): everything loaded again.
    Reloaded,
}

/// A shard left out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailedShard {
    pub key: String,
    pub code: &'static str,
    pub message: String,
}

/// What `load` or `refresh` did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    pub kind: LoadKind,
    /// Searchable documents now.
    pub documents: usize,
    /// Shards this call fetched, cached ones included.
    pub shards: usize,
    pub cached_shards: usize,
    pub downloaded_bytes: u64,
    pub generation: u64,
    pub failed: Vec<FailedShard>,
}

fn failures(failed: Vec<ShardFailure>) -> Vec<FailedShard> {
    failed
        .into_iter()
        .map(|f| FailedShard {
            code: super::error::store_code(&f.error),
            message: f.error.to_string(),
            key: f.key,
        })
        .collect()
}

/// The shards to fetch to bring memory (`old`'s shards, then `extra`) to `new`, or `None`
/// when only a full load can.
pub(crate) fn plan(
    old: &Manifest,
    extra: &[ShardEntry],
    new: &Manifest,
) -> Option<Vec<ShardEntry>> {
    if (&old.model_id, old.dims, old.dtype) != (&new.model_id, new.dims, new.dtype) {
        return None;
    }
    let rest = new.shards.strip_prefix(old.shards.as_slice())?;
    let rest = rest.strip_prefix(extra)?;
    Some(rest.to_vec())
}

impl Client {
    /// Reads the manifest and every shard, and replaces the documents in memory.
    pub async fn load<F: FnMut(LoadProgress)>(
        &self,
        on_progress: F,
    ) -> Result<LoadReport, ClientError> {
        self.check_open()?;
        let _turn = self.writer.lock().await;
        self.full_load(on_progress, LoadKind::Loaded).await
    }

    /// Picks up what other writers published since the last load or refresh.
    pub async fn refresh<F: FnMut(LoadProgress)>(
        &self,
        mut on_progress: F,
    ) -> Result<LoadReport, ClientError> {
        self.check_open()?;
        let _turn = self.writer.lock().await;
        let synced = lock(&self.state)
            .synced
            .as_ref()
            .map(|s| (s.manifest.clone(), s.etag.clone(), s.extra.clone()));
        let Some((old, etag, extra)) = synced else {
            return self.full_load(on_progress, LoadKind::Reloaded).await;
        };
        let current = self.store.require_manifest().await?;
        if current.etag == etag {
            return Ok(LoadReport {
                kind: LoadKind::Unchanged,
                documents: self.len(),
                shards: 0,
                cached_shards: 0,
                downloaded_bytes: 0,
                generation: old.generation,
                failed: Vec::new(),
            });
        }
        let Some(todo) = plan(&old, &extra, &current.manifest) else {
            return self.full_load(on_progress, LoadKind::Reloaded).await;
        };
        let Some(fetched) = self
            .store
            .fetch_shards(&current, &todo, &mut on_progress)
            .await?
        else {
            return self.full_load(on_progress, LoadKind::Reloaded).await;
        };
        self.check_open()?;
        let mut state = lock(&self.state);
        for (entry, bytes) in &fetched.shards {
            let shard = decode_shard(bytes).map_err(|source| StoreError::Format {
                bucket: self.bucket().to_string(),
                key: self.store.key(&entry.key),
                source,
            })?;
            state.collection.add_shard(&shard)?;
        }
        let manifest = current.manifest;
        state
            .collection
            .remove(manifest.deleted.iter().map(String::as_str));
        let report = LoadReport {
            kind: LoadKind::Extended,
            documents: state.collection.len(),
            shards: fetched.shards.len(),
            cached_shards: fetched.cached_shards,
            downloaded_bytes: fetched.downloaded_bytes,
            generation: manifest.generation,
            failed: failures(fetched.failed),
        };
        state.synced = Some(Synced {
            manifest,
            etag: current.etag,
            extra: Vec::new(),
        });
        Ok(report)
    }

    async fn full_load<F: FnMut(LoadProgress)>(
        &self,
        on_progress: F,
        kind: LoadKind,
    ) -> Result<LoadReport, ClientError> {
        let loaded = self.store.load(on_progress).await?;
        self.use_model(&loaded.manifest.model_id)?;
        self.check_open()?;
        let report = LoadReport {
            kind,
            documents: loaded.collection.len(),
            shards: loaded.manifest.shards.len() - loaded.failed.len(),
            cached_shards: loaded.cached_shards,
            downloaded_bytes: loaded.downloaded_bytes,
            generation: loaded.manifest.generation,
            failed: failures(loaded.failed),
        };
        let mut state = lock(&self.state);
        state.collection = loaded.collection;
        state.synced = Some(Synced {
            manifest: loaded.manifest,
            etag: loaded.etag,
            extra: Vec::new(),
        });
        Ok(report)
    }

    /// Queries must be embedded with the collection's model: switch to it, unless a model was
    /// named explicitly (then the mismatch is the caller's to fix).
    pub(super) fn use_model(&self, model_id: &str) -> Result<(), ClientError> {
        let current = self.model_id();
        if current == model_id {
            return Ok(());
        }
        if self.settings.model_named {
            return Err(ClientError::Incompatible(format!(
                "the collection was embedded with {model_id} but this client uses {current}: \
                 connect with modelId {model_id:?} (queries must use the collection's model)"
            )));
        }
        let bedrock = self.bedrock_for(model_id)?;
        *lock(&self.bedrock) = std::sync::Arc::new(bedrock);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> ShardEntry {
        ShardEntry {
            key: key.into(),
            count: 1,
            bytes: 200,
            checksum: "xxh3-64:0123456789abcdef".into(),
        }
    }

    fn manifest(keys: &[&str]) -> Manifest {
        let mut m = Manifest::new("m", 4, Dtype::F32);
        m.shards = keys.iter().map(|k| entry(k)).collect();
        m
    }

    #[test]
    fn appended_shards_are_fetched_after_our_own() {
        let old = manifest(&["a", "b"]);
        assert_eq!(plan(&old, &[], &manifest(&["a", "b"])), Some(vec![]));
        assert_eq!(
            plan(&old, &[], &manifest(&["a", "b", "c", "d"])),
            Some(vec![entry("c"), entry("d")])
        );
        // Ours ("x") was published first: only the one after it is new.
        assert_eq!(
            plan(&old, &[entry("x")], &manifest(&["a", "b", "x", "c"])),
            Some(vec![entry("c")])
        );
    }

    #[test]
    fn anything_else_is_a_full_load() {
        let old = manifest(&["a", "b"]);
        // Compaction rewrote the list.
        assert_eq!(plan(&old, &[], &manifest(&["ab"])), None);
        // Another writer's shard landed before ours: ours must end up after it.
        assert_eq!(
            plan(&old, &[entry("x")], &manifest(&["a", "b", "c", "x"])),
            None
        );
        // Same key, other content.
        let mut changed = manifest(&["a", "b"]);
        changed.shards[1].checksum = "xxh3-64:fedcba9876543210".into();
        assert_eq!(plan(&old, &[], &changed), None);
        // Another model or size.
        let mut other = manifest(&["a", "b", "c"]);
        other.dims = 8;
        assert_eq!(plan(&old, &[], &other), None);
    }
}
