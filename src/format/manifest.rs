//! The manifest: `{prefix}/manifest.json`, the one mutable object of a collection.

use super::shard::ShardRef;
use super::{Dtype, FormatError, MAX_DIMS, MAX_ID_BYTES};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub const FORMAT: &str = "s3vec-manifest";
pub const VERSION: u32 = 1;
/// A manifest larger than this is refused before parsing: at ~100 bytes a shard entry it leaves
/// room for hundreds of thousands of shards, and bounds what a hostile object can make us parse.
pub const MAX_MANIFEST_BYTES: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity, computed as a dot product over unit vectors.
    Cosine,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always `"s3vec-manifest"`: tells a manifest from any other JSON in the bucket.
    pub format: String,
    pub version: u32,
    /// The Bedrock model that made the vectors, e.g. `amazon.titan-embed-text-v2:0`.
    pub model_id: String,
    pub dims: u32,
    pub dtype: Dtype,
    pub metric: Metric,
    /// Whether the stored vectors are unit length (Titan's `normalize: true`).
    pub normalized: bool,
    /// Incremented by every publish; lets readers tell which of two manifests is newer.
    pub generation: u64,
    pub shards: Vec<ShardEntry>,
    /// Ids deleted since their shards were written (tombstones until compaction).
    #[serde(default)]
    pub deleted: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardEntry {
    /// Object key relative to the collection prefix, e.g. `shards/000001-3f2a….s3vs`.
    pub key: String,
    pub count: u64,
    pub bytes: u64,
    /// `xxh3-64:` and 16 lowercase hex digits: the checksum in the shard's header.
    pub checksum: String,
}

impl ShardEntry {
    pub fn format_checksum(sum: u64) -> String {
        format!("xxh3-64:{sum:016x}")
    }

    pub fn checksum_value(&self) -> Result<u64, FormatError> {
        self.checksum
            .strip_prefix("xxh3-64:")
            .filter(|hex| hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                FormatError::BadManifest(format!(
                    "shard {:?}: checksum {:?} is not \"xxh3-64:\" followed by 16 lowercase hex digits",
                    self.key, self.checksum
                ))
            })
    }
}

impl Manifest {
    /// An empty collection for `model_id` at `dims` dimensions, generation 0.
    pub fn new(model_id: impl Into<String>, dims: u32, dtype: Dtype) -> Self {
        Manifest {
            format: FORMAT.to_string(),
            version: VERSION,
            model_id: model_id.into(),
            dims,
            dtype,
            metric: Metric::Cosine,
            normalized: true,
            generation: 0,
            shards: Vec::new(),
            deleted: Vec::new(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn document_count(&self) -> u64 {
        self.shards.iter().map(|s| s.count).sum()
    }

    /// Parses and validates a manifest from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(FormatError::BadManifest(format!(
                "{} bytes is larger than the {MAX_MANIFEST_BYTES}-byte limit; compact the collection",
                bytes.len()
            )));
        }
        // Read the version first, so a newer manifest fails as "unsupported version" rather than
        // on whichever field changed.
        let head: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| FormatError::BadManifest(format!("not valid JSON: {e}")))?;
        let Some(head) = head.as_object() else {
            return Err(FormatError::BadManifest(
                "the manifest must be a JSON object".into(),
            ));
        };
        check_format_and_version(
            head.get("format").and_then(|f| f.as_str()),
            head.get("version"),
        )?;
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| FormatError::BadManifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks the invariants [`Manifest::decode`] relies on; writers call it before publishing.
    pub fn validate(&self) -> Result<(), FormatError> {
        let bad = |m: String| Err(FormatError::BadManifest(m));
        check_format_and_version(
            Some(&self.format),
            Some(&serde_json::Value::from(self.version)),
        )?;
        if self.dims == 0 || self.dims > MAX_DIMS {
            return Err(FormatError::BadDims(u64::from(self.dims)));
        }
        if self.model_id.is_empty() {
            return bad("\"modelId\" is empty".into());
        }
        let mut keys = HashSet::new();
        for shard in &self.shards {
            if !is_safe_key(&shard.key) {
                return bad(format!(
                    "shard key {:?} must be a relative path without empty, \".\" or \"..\" segments",
                    shard.key
                ));
            }
            if !keys.insert(shard.key.as_str()) {
                return bad(format!("shard key {:?} is listed twice", shard.key));
            }
            shard.checksum_value()?;
        }
        if let Some(id) = self
            .deleted
            .iter()
            .find(|id| id.is_empty() || id.len() > MAX_ID_BYTES)
        {
            return bad(format!(
                "deleted id {id:?} is empty or longer than {MAX_ID_BYTES} bytes"
            ));
        }
        Ok(())
    }

    /// Checks that a decoded shard is the one this manifest lists under `entry`.
    pub fn check_shard(
        &self,
        entry: &ShardEntry,
        shard: &ShardRef<'_>,
        byte_len: usize,
    ) -> Result<(), FormatError> {
        let disagree = |field, shard: String, manifest: String| {
            Err(FormatError::ManifestDisagrees {
                field,
                shard,
                manifest,
            })
        };
        if shard.dims != self.dims {
            return disagree("dims", shard.dims.to_string(), self.dims.to_string());
        }
        if shard.dtype != self.dtype {
            return disagree("dtype", shard.dtype.to_string(), self.dtype.to_string());
        }
        if shard.len() as u64 != entry.count {
            return disagree("count", shard.len().to_string(), entry.count.to_string());
        }
        if byte_len as u64 != entry.bytes {
            return disagree("bytes", byte_len.to_string(), entry.bytes.to_string());
        }
        if shard.checksum != entry.checksum_value()? {
            return disagree(
                "checksum",
                ShardEntry::format_checksum(shard.checksum),
                entry.checksum.clone(),
            );
        }
        Ok(())
    }
}

fn check_format_and_version(
    format: Option<&str>,
    version: Option<&serde_json::Value>,
) -> Result<(), FormatError> {
    if format != Some(FORMAT) {
        return Err(FormatError::BadManifest(format!(
            "\"format\" is {format:?}, expected {FORMAT:?}"
        )));
    }
    match version {
        None => Err(FormatError::BadManifest("\"version\" is missing".into())),
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => Ok(()),
        Some(v) => Err(FormatError::BadManifest(format!(
            "version {v} is not supported (this reader knows {VERSION}); upgrade s3vec"
        ))),
    }
}

/// Keys are relative paths under the collection prefix. Backslashes and control characters are
/// refused because browsers' URL parsing treats `\` as `/`, which would escape the prefix.
fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_ID_BYTES
        && !key.chars().any(|c| c == '\\' || c.is_control())
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}
