//! The client a page (or a program) uses: one collection, its credentials, and the documents
//! in memory. Platform-neutral: the same code runs natively (tests, servers) and in the
//! browser, where `src/wasm/client.rs` wraps it for JavaScript (docs/JS-API.md).
//!
//! - [`Client::connect`]: credentials (presign endpoint or static), S3, Bedrock (direct or
//!   through the presign service's relay, [`route`]) and the store (with a [`ShardCache`]).
//! - [`Client::load`] and [`Client::refresh`] ([`sync`]): the collection into memory, then only
//!   what other writers published since.
//! - [`Client::search`]: a text (embedded once, then remembered: [`query_cache`]) or a vector.
//! - [`Client::add`] and [`Client::remove`] ([`write`]): publish, then change memory, so a
//!   document is searchable as soon as the call returns.
//!
//! Concurrency: searches run at once and only lock the documents while ranking; load,
//! refresh, add and remove take turns (an async lock), so memory always follows one
//! sequence of manifests.

// Natively the clients are shared across threads in `Arc`s; on wasm32 there is one thread and
// they are not `Send` (neither are the `fetch` futures inside), and the same `Arc`s still work.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

mod config;
mod connect;
mod docs;
mod error;
mod pca;
mod query_cache;
mod route;
mod sync;
mod write;

pub use config::{ClientConfig, CredentialSource, Endpoints};
pub use docs::{Doc, build_shard, embed_options};
pub use error::ClientError;
pub use pca::{Pca2, pca2};
pub use route::BedrockRoute;
pub use sync::{LoadKind, LoadReport};
pub use write::{AddReport, RemoveReport};

use crate::aws::bedrock::{BedrockClient, InputType, ModelFamily};
use crate::aws::credentials::{CachingProvider, CredentialsProvider};
use crate::aws::runtime::Runtime;
use crate::filter::Filter;
use crate::format::Dtype;
use crate::index::{Mode, SearchOptions};
use crate::store::Store;
use config::Resolved;
use query_cache::QueryCache;
use route::RouteTransport;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::store::ShardCache;

/// A query: text to embed, or a vector of the collection's dimensions.
#[derive(Clone, Debug)]
pub enum Query<'a> {
    Text(&'a str),
    Vector(&'a [f32]),
}

/// How to search.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// Results (`None`: 10).
    pub k: Option<usize>,
    pub mode: Mode,
    pub oversample: Option<usize>,
    /// A MongoDB-style filter as JSON.
    pub filter: Option<Value>,
}

/// One result, owned (it outlives the lock on the documents).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SearchHit {
    pub id: String,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl From<crate::index::Hit<'_>> for SearchHit {
    fn from(h: crate::index::Hit<'_>) -> Self {
        SearchHit {
            id: h.id.to_string(),
            score: h.score,
            metadata: h.metadata.cloned(),
            text: h.text.map(str::to_string),
        }
    }
}

/// Counters for a status line; docs/JS-API.md `ClientStats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientStats {
    pub bedrock_requests: u64,
    pub throttle_retries: u64,
    pub other_retries: u64,
    pub bedrock_concurrency: usize,
    pub bedrock_route: &'static str,
    pub query_cache_hits: u64,
    pub query_cache_misses: u64,
    pub credential_fetches: u64,
}

pub struct Client {
    settings: Resolved,
    /// For a new collection.
    new_dims: Option<u32>,
    new_dtype: Option<Dtype>,
    store: Store,
    credentials: Arc<dyn CredentialsProvider>,
    runtime: Runtime,
    route: Arc<RouteTransport>,
    concurrency: usize,
    bedrock: Mutex<Arc<BedrockClient>>,
    presign: Option<Arc<CachingProvider>>,
    state: Mutex<sync::State>,
    /// Load, refresh, add and remove take turns.
    writer: futures_util::lock::Mutex<()>,
    queries: Mutex<QueryCache>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bucket", &self.settings.bucket)
            .field("prefix", &self.settings.prefix)
            .field("model_id", &self.settings.model_id)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex that is only ever held for plain reads and assignments, so a poisoned one
/// still guards a consistent value.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    fn bedrock(&self) -> Arc<BedrockClient> {
        lock(&self.bedrock).clone()
    }

    fn check_open(&self) -> Result<(), ClientError> {
        if self.closed.load(Ordering::Relaxed) {
            Err(ClientError::Closed)
        } else {
            Ok(())
        }
    }

    pub fn region(&self) -> &str {
        &self.settings.region
    }

    pub fn bucket(&self) -> &str {
        &self.settings.bucket
    }

    pub fn prefix(&self) -> &str {
        self.store.prefix()
    }

    /// The model queries and new documents are embedded with.
    pub fn model_id(&self) -> String {
        self.bedrock().model_id().to_string()
    }

    /// `"read"` or `"write"`, as the presign endpoint granted; `None` for other credentials.
    pub fn access(&self) -> Option<&str> {
        self.settings.access.as_deref()
    }

    /// Searchable documents in memory.
    pub fn len(&self) -> usize {
        lock(&self.state).collection.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dims(&self) -> Option<usize> {
        lock(&self.state).collection.dims()
    }

    pub fn dtype(&self) -> Option<Dtype> {
        lock(&self.state).collection.dtype()
    }

    /// The generation of the manifest memory follows.
    pub fn generation(&self) -> Option<u64> {
        lock(&self.state)
            .synced
            .as_ref()
            .map(|s| s.manifest.generation)
    }

    pub fn stats(&self) -> ClientStats {
        let b = self.bedrock().stats();
        let q = lock(&self.queries);
        ClientStats {
            bedrock_requests: b.requests,
            throttle_retries: b.throttle_retries,
            other_retries: b.other_retries,
            bedrock_concurrency: b.concurrency,
            bedrock_route: if self.route.relaying() {
                "relay"
            } else {
                "direct"
            },
            query_cache_hits: q.hits,
            query_cache_misses: q.misses,
            credential_fetches: self.presign.as_ref().map_or(0, |p| p.fetch_count()),
        }
    }

    /// The query embedding [`Client::search`] uses for `text` (remembered).
    pub async fn embed(&self, text: &str) -> Result<Arc<[f32]>, ClientError> {
        self.check_open()?;
        let (dims, dtype) = {
            let state = lock(&self.state);
            match state.shape() {
                Some(shape) => shape,
                None => return Err(ClientError::NotLoaded),
            }
        };
        let bedrock = self.bedrock();
        let model = bedrock.model_id().to_string();
        if let Some(v) = lock(&self.queries).get(&model, dims, text) {
            return Ok(v);
        }
        let options = docs::embed_options(bedrock.family(), dims, dtype, InputType::SearchQuery);
        let embedding = bedrock.embed(text, &options).await?;
        let vector: Arc<[f32]> = embedding
            .float
            .ok_or_else(|| {
                ClientError::invalid("Bedrock returned no float embedding for the query")
            })?
            .into();
        lock(&self.queries).put(&model, dims, text, vector.clone());
        Ok(vector)
    }

    /// The best `k` documents for `query`, best first (score, then id).
    pub async fn search(
        &self,
        query: Query<'_>,
        search: &Search,
    ) -> Result<Vec<SearchHit>, ClientError> {
        self.check_open()?;
        // Parse the filter before paying for an embedding.
        let filter = search.filter.as_ref().map(Filter::parse).transpose()?;
        let embedded;
        let vector = match query {
            Query::Text(t) => {
                embedded = self.embed(t).await?;
                &embedded[..]
            }
            Query::Vector(v) => v,
        };
        let options = SearchOptions {
            k: search.k.unwrap_or(10),
            mode: search.mode,
            oversample: search.oversample,
            filter: filter.as_ref(),
        };
        let state = lock(&self.state);
        if state.shape().is_none() {
            return Err(ClientError::NotLoaded);
        }
        let hits = state.collection.search(vector, &options)?;
        Ok(hits.into_iter().map(SearchHit::from).collect())
    }

    /// A loaded document (score 1).
    pub fn get(&self, id: &str) -> Result<Option<SearchHit>, ClientError> {
        self.check_open()?;
        Ok(lock(&self.state).collection.get(id).map(SearchHit::from))
    }

    /// The ids of the documents in memory, in the order they were loaded.
    pub fn ids(&self) -> Result<Vec<String>, ClientError> {
        self.check_open()?;
        Ok(lock(&self.state)
            .collection
            .ids()
            .map(str::to_string)
            .collect())
    }

    /// Every document in memory on the plane of its first two principal components, with the
    /// ids in the order of the points. Binary collections use their ±1 sign vectors.
    pub fn pca2(&self) -> Result<(Vec<String>, Pca2), ClientError> {
        self.check_open()?;
        let state = lock(&self.state);
        let c = &state.collection;
        let dims = c.dims().ok_or(ClientError::NotLoaded)?;
        let ids: Vec<String> = c.ids().map(str::to_string).collect();
        let map = if c.dtype() == Some(Dtype::Binary) {
            pca::pca2_of_rows(&pca::BinaryRows::new(c, &ids), dims)
        } else {
            let rows: Vec<&[f32]> = ids.iter().filter_map(|id| c.vector(id)).collect();
            pca::pca2(&rows, dims)
        };
        Ok((ids, map))
    }

    /// Forgets the documents and the remembered queries; every later call fails with
    /// [`ClientError::Closed`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        *lock(&self.state) = sync::State::default();
        lock(&self.queries).clear();
    }

    fn family(&self) -> ModelFamily {
        self.bedrock().family()
    }
}
