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
mod docs;
mod error;
mod query_cache;
mod route;
mod sync;
mod write;

pub use config::{ClientConfig, CredentialSource, Endpoints};
pub use docs::Doc;
pub use error::ClientError;
pub use route::BedrockRoute;
pub use sync::{LoadKind, LoadReport};
pub use write::{AddReport, RemoveReport};

use crate::aws::StaticProvider;
use crate::aws::bedrock::{BedrockClient, BedrockConfig, InputType, ModelFamily};
use crate::aws::credentials::{CachingProvider, CredentialsProvider, PresignFetcher};
use crate::aws::runtime::Runtime;
use crate::aws::s3::{S3Client, S3Config};
use crate::filter::Filter;
use crate::format::Dtype;
use crate::index::{Mode, SearchOptions};
use crate::store::{Store, StoreOptions};
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
    /// Checks the configuration, fetches credentials once (presign) and builds the clients.
    /// Reads nothing from S3.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        if config.concurrency == 0 || config.load_concurrency == 0 {
            return Err(ClientError::invalid(
                "concurrency and loadConcurrency must be at least 1",
            ));
        }
        let runtime = match &config.runtime {
            Some(r) => r.clone(),
            None => Runtime::platform()?,
        };
        let (credentials, presign, answer): (Arc<dyn CredentialsProvider>, _, _) = match &config
            .credentials
        {
            CredentialSource::Static(c) => (Arc::new(StaticProvider::new(c.clone())), None, None),
            CredentialSource::Provider(p) => (p.clone(), None, None),
            CredentialSource::Presign {
                url,
                access,
                write_token,
            } => {
                let mut body = Map::new();
                if let Some(p) = &config.prefix {
                    body.insert("prefix".into(), Value::from(p.as_str()));
                }
                if let Some(a) = access {
                    body.insert("access".into(), Value::from(a.as_str()));
                }
                let mut fetcher = PresignFetcher::new(runtime.transport.clone(), url.clone())
                    .post_json(Value::Object(body).to_string());
                if let Some(token) = write_token {
                    fetcher = fetcher.header("authorization", format!("Bearer {token}"));
                }
                let fetcher = Arc::new(fetcher);
                let caching = Arc::new(CachingProvider::new(fetcher.clone()));
                caching.credentials(runtime.now()).await?;
                (caching.clone(), Some(caching), fetcher.latest_config())
            }
        };
        let settings = config::resolve(&config, answer.as_ref()).map_err(ClientError::invalid)?;
        let mut s3 = S3Config::new(settings.region.clone(), settings.bucket.clone());
        if let Some(e) = &settings.s3_endpoint {
            s3 = s3.endpoint(e.clone());
        }
        let s3 = S3Client::new(s3, credentials.clone(), runtime.clone())?;
        let options = StoreOptions {
            load_concurrency: config.load_concurrency,
            ..StoreOptions::default()
        };
        let mut store = Store::with_options(Arc::new(s3), &settings.prefix, &runtime, options)?;
        if let Some(cache) = &config.shard_cache {
            store = store.with_cache(cache.clone());
        }
        let route = Arc::new(
            RouteTransport::new(
                runtime.transport.clone(),
                settings.bedrock_endpoint.clone(),
                settings.bedrock_relay.clone(),
                config.bedrock_route,
            )
            .map_err(ClientError::invalid)?,
        );
        let bedrock = make_bedrock(
            &settings,
            &route,
            &runtime,
            &credentials,
            config.concurrency,
            &settings.model_id,
        )?;
        Ok(Client {
            new_dims: config.dims,
            new_dtype: config.dtype,
            store,
            credentials,
            route,
            concurrency: config.concurrency,
            bedrock: Mutex::new(Arc::new(bedrock)),
            presign,
            state: Mutex::new(sync::State::default()),
            writer: futures_util::lock::Mutex::new(()),
            queries: Mutex::new(QueryCache::new(config.query_cache_size)),
            closed: AtomicBool::new(false),
            runtime,
            settings,
        })
    }

    /// A Bedrock client for another model (a collection made with a model other than the
    /// default one).
    fn bedrock_for(&self, model_id: &str) -> Result<BedrockClient, ClientError> {
        make_bedrock(
            &self.settings,
            &self.route,
            &self.runtime,
            &self.credentials,
            self.concurrency,
            model_id,
        )
    }

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

/// A Bedrock client for `model_id` that sends through `route`.
fn make_bedrock(
    settings: &Resolved,
    route: &Arc<RouteTransport>,
    runtime: &Runtime,
    credentials: &Arc<dyn CredentialsProvider>,
    concurrency: usize,
    model_id: &str,
) -> Result<BedrockClient, ClientError> {
    let runtime = Runtime {
        transport: route.clone(),
        ..runtime.clone()
    };
    let config = BedrockConfig::new(settings.region.clone(), model_id)
        .endpoint(settings.bedrock_endpoint.clone())
        .concurrency(concurrency);
    Ok(BedrockClient::new(config, credentials.clone(), runtime)?)
}
