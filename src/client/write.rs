//! Adding and removing documents: publish first (compare-and-swap of the manifest), then
//! change memory, so what a call returned for is both durable and searchable.
//!
//! After publishing, memory's manifest is replaced by the published one when that one is
//! exactly memory's shards plus this change (nobody else published meanwhile); otherwise the
//! new shard is remembered as an extra one and the next refresh sorts it out (see
//! [`super::sync`]).

use super::docs::{self, Doc};
use super::sync::State;
use super::{Client, ClientError, lock};
use crate::aws::bedrock::{InputType, ModelFamily, TitanVersion};
use crate::aws::s3::ETag;
use crate::format::{Dtype, Manifest, ShardEntry, decode_shard, encode_shard};
use crate::store::{Change, CollectionSpec};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddReport {
    pub added: usize,
    /// The manifest generation that published them.
    pub generation: u64,
    /// The new shard's key, relative to the prefix.
    pub shard: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveReport {
    /// Ids that were in memory.
    pub removed: usize,
    pub generation: u64,
}

impl Client {
    /// Embeds `docs`, publishes them as one shard and adds them to memory. `on_progress(done,
    /// total)` follows the embedding.
    pub async fn add<P: FnMut(usize, usize)>(
        &self,
        docs: &[Doc],
        mut on_progress: P,
    ) -> Result<AddReport, ClientError> {
        self.check_open()?;
        docs::check(docs)?;
        let _turn = self.writer.lock().await;
        let known = lock(&self.state)
            .synced
            .as_ref()
            .map(|s| s.manifest.clone());
        let existing = match known {
            Some(m) => Some(m),
            None => self.store.read_manifest().await?.map(|v| v.manifest),
        };
        if let Some(m) = &existing {
            self.use_model(&m.model_id)?;
        }
        let spec = self.spec(existing.as_ref());
        // A mismatched size or encoding fails before any Bedrock call is paid for.
        if let Some(m) = &existing {
            spec.check(m)?;
        }
        let bedrock = self.bedrock();
        let options = docs::embed_options(
            bedrock.family(),
            spec.dims,
            spec.dtype,
            InputType::SearchDocument,
        );
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        let report = bedrock
            .embed_many_with_stats(&texts, &options, |p| on_progress(p.done, p.total))
            .await?;
        let shard = docs::build_shard(docs, report.embeddings, spec.dims, spec.dtype)?;
        // Keys only order shards for people reading a listing; the checksum makes them unique.
        let sequence = existing.as_ref().map_or(1, |m| m.generation + 1);
        let pending = self.store.write_shard(&shard, sequence).await?;
        let change = Change::Update {
            add: vec![pending.clone()],
            delete: Vec::new(),
        };
        let published = self.store.publish(Some(&spec), &change).await?;
        self.check_open()?;
        // The documents as a reader will decode them (vectors as stored, e.g. quantized).
        let bytes = encode_shard(&shard).map_err(|e| ClientError::invalid(e.to_string()))?;
        let decoded = decode_shard(&bytes).map_err(|e| ClientError::invalid(e.to_string()))?;
        let generation = published.manifest.generation;
        let mut state = lock(&self.state);
        state.collection.add_shard(&decoded)?;
        adopt(
            &mut state,
            published.manifest,
            published.etag,
            Some(pending.entry.clone()),
        );
        Ok(AddReport {
            added: docs.len(),
            generation,
            shard: pending.entry.key,
        })
    }

    /// Publishes tombstones for `ids` and removes them from memory.
    pub async fn remove(&self, ids: &[String]) -> Result<RemoveReport, ClientError> {
        self.check_open()?;
        if ids.is_empty() {
            return Err(ClientError::invalid("remove: no ids; pass [\"id\", ...]"));
        }
        let _turn = self.writer.lock().await;
        let published = self.store.delete(ids).await?;
        self.check_open()?;
        let generation = published.manifest.generation;
        let mut state = lock(&self.state);
        let removed = state.collection.remove(ids.iter().map(String::as_str));
        adopt(&mut state, published.manifest, published.etag, None);
        Ok(RemoveReport {
            removed,
            generation,
        })
    }

    /// The collection a write must agree with: the caller's dims and dtype if given, else the
    /// existing collection's, else the model's defaults.
    fn spec(&self, existing: Option<&Manifest>) -> CollectionSpec {
        let family = self.family();
        CollectionSpec {
            normalized: family != ModelFamily::Titan(TitanVersion::V1),
            ..CollectionSpec::new(
                self.model_id(),
                self.new_dims
                    .or(existing.map(|m| m.dims))
                    .unwrap_or_else(|| docs::default_dims(family)),
                self.new_dtype
                    .or(existing.map(|m| m.dtype))
                    .unwrap_or(Dtype::F32),
            )
        }
    }
}

/// Takes the manifest this client just published as memory's, if it is memory's shards plus
/// `ours`; else remembers `ours` as an extra shard.
fn adopt(state: &mut State, manifest: Manifest, etag: ETag, ours: Option<ShardEntry>) {
    let State { collection, synced } = state;
    let Some(synced) = synced else {
        // Never loaded: the next refresh is a full load anyway.
        return;
    };
    let expected = synced
        .manifest
        .shards
        .iter()
        .chain(&synced.extra)
        .chain(&ours);
    if manifest.shards.iter().eq(expected) {
        // Tombstones others published meanwhile apply to memory too.
        collection.remove(manifest.deleted.iter().map(String::as_str));
        synced.manifest = manifest;
        synced.etag = etag;
        synced.extra.clear();
    } else if let Some(ours) = ours {
        synced.extra.push(ours);
    }
}
