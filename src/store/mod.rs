//! The bucket layout of a collection under a key prefix (docs/FORMAT.md §4.4–4.5):
//! `{prefix}/manifest.json`, the one mutable object, and immutable shards under
//! `{prefix}/shards/`.
//!
//! - [`Store::load`] reads the manifest, fetches shards with bounded parallelism, verifies each
//!   one (length, checksum, agreement with its manifest entry), refetches a bad one once, and
//!   builds a [`Collection`]; a shard that stays bad is reported and the rest still loads.
//! - [`Store::add`] writes a new shard and publishes it; [`Store::delete`] publishes
//!   tombstones. Both go through [`Store::publish`]: a compare-and-swap of the manifest
//!   (`If-Match` / `If-None-Match: *`) that re-reads and re-applies on 412/409.
//! - [`Store::compact`] rewrites the shards without deleted and replaced documents, publishes,
//!   and only then deletes the old shard objects.
//! - [`Store::with_cache`] keeps verified shards in a [`ShardCache`] between loads, keyed by
//!   URL and checksum (why that is enough: [`cache`]).
//!
//! The manifest edits themselves are pure ([`change`]), so the rules are unit-tested without IO.

pub mod cache;
pub mod change;
mod compact;
mod ids;
mod load;
mod publish;

pub use cache::{MemoryCache, NoCache, ShardCache, ShardName};
pub use change::{Change, CollectionSpec, PendingShard};
pub use compact::{CompactOptions, CompactReport};
pub use load::{FetchedShards, LoadProgress, Loaded, ShardFailure};
pub use publish::Published;

use crate::aws::s3::{ETag, S3Client};
use crate::aws::{AwsError, RetryPolicy, Runtime, Sleep};
use crate::format::{FormatError, Manifest};
use crate::index::IndexError;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Everything a store operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An object of the collection is malformed: the key says which.
    #[error("s3://{bucket}/{key}: {source}")]
    Format {
        bucket: String,
        key: String,
        source: FormatError,
    },
    #[error(
        "no collection at s3://{bucket}/{key}: nothing has been published under this prefix yet; add documents first (or check the bucket and prefix)"
    )]
    NoCollection { bucket: String, key: String },
    #[error(
        "the collection's {field} is {collection} but this write uses {given}; write with the collection's settings or use another prefix"
    )]
    Incompatible {
        field: &'static str,
        collection: String,
        given: String,
    },
    #[error(
        "the manifest changed under us {attempts} times in a row (other writers keep publishing first); try again later"
    )]
    Contention { attempts: u32 },
    #[error(
        "another writer compacted the collection while this compaction ran; nothing was changed, run compact again"
    )]
    CompactionConflict,
    #[error("{0}")]
    Index(#[from] IndexError),
    #[error("{0}")]
    InvalidInput(String),
}

impl StoreError {
    /// Whether doing the same again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Aws(e) => e.is_retryable(),
            StoreError::Contention { .. } | StoreError::CompactionConflict => true,
            _ => false,
        }
    }
}

/// How patient and how parallel a [`Store`] is.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Shards fetched at once while loading.
    pub load_concurrency: usize,
    /// Backoff between compare-and-swap attempts of the manifest; `max_attempts` bounds them.
    pub publish_retry: RetryPolicy,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            load_concurrency: 6,
            publish_retry: RetryPolicy::new(
                25,
                Duration::from_millis(20),
                Duration::from_millis(1500),
            ),
        }
    }
}

/// A manifest and the ETag it was read with (the `If-Match` of the next publish).
#[derive(Clone, Debug)]
pub struct Versioned {
    pub manifest: Manifest,
    pub etag: ETag,
}

/// One collection: a bucket (through its client) and a prefix.
pub struct Store {
    s3: Arc<S3Client>,
    prefix: String,
    sleep: Arc<dyn Sleep>,
    options: StoreOptions,
    cache: Arc<dyn ShardCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("bucket", &self.s3.bucket())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

pub const MANIFEST_NAME: &str = "manifest.json";

impl Store {
    /// The collection under `prefix` (`""` for the bucket's root; a trailing `/` is ignored).
    pub fn new(s3: Arc<S3Client>, prefix: &str, runtime: &Runtime) -> Result<Store, StoreError> {
        Self::with_options(s3, prefix, runtime, StoreOptions::default())
    }

    pub fn with_options(
        s3: Arc<S3Client>,
        prefix: &str,
        runtime: &Runtime,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let prefix = prefix.trim_end_matches('/').to_string();
        if !prefix.is_empty() {
            crate::aws::s3::validate_key(&prefix).map_err(|e| {
                StoreError::InvalidInput(format!("collection prefix {prefix:?}: {e}"))
            })?;
        }
        if options.load_concurrency == 0 {
            return Err(StoreError::InvalidInput(
                "load_concurrency must be at least 1".into(),
            ));
        }
        Ok(Store {
            s3,
            prefix,
            sleep: runtime.sleep.clone(),
            options,
            cache: Arc::new(NoCache),
        })
    }

    /// Loads read shards from `cache` when it has them, and put what they download into it.
    pub fn with_cache(mut self, cache: Arc<dyn ShardCache>) -> Self {
        self.cache = cache;
        self
    }

    pub fn s3(&self) -> &S3Client {
        &self.s3
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bucket key of `relative` (a manifest key such as `shards/…`).
    pub fn key(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    pub fn manifest_key(&self) -> String {
        self.key(MANIFEST_NAME)
    }

    fn format_error(&self, key: String, source: FormatError) -> StoreError {
        StoreError::Format {
            bucket: self.s3.bucket().to_string(),
            key,
            source,
        }
    }

    /// The manifest and its ETag, `None` when the collection does not exist yet.
    pub async fn read_manifest(&self) -> Result<Option<Versioned>, StoreError> {
        let key = self.manifest_key();
        match self.s3.get_object(&key).await {
            Ok(object) => {
                let manifest =
                    Manifest::decode(&object.body).map_err(|e| self.format_error(key, e))?;
                Ok(Some(Versioned {
                    manifest,
                    etag: object.meta.etag,
                }))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Like [`Store::read_manifest`], but a missing collection is an error.
    pub async fn require_manifest(&self) -> Result<Versioned, StoreError> {
        self.read_manifest()
            .await?
            .ok_or_else(|| StoreError::NoCollection {
                bucket: self.s3.bucket().to_string(),
                key: self.manifest_key(),
            })
    }
}
