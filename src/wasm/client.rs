//! The `Client` class (docs/JS-API.md): bindings only. Each method converts its arguments,
//! calls `crate::client::Client`, and converts the result or the error.
//!
//! The Rust client sits behind an `Rc` and every async method clones it into the future it
//! returns as a `Promise`, so calls may overlap (a search while a refresh runs) without
//! wasm-bindgen's borrow of `self` lasting across an `await`.

use super::error::{JsResult, client_error, client_error_probed, js_error, reject_unknown_keys};
use super::shard_cache::BrowserCache;
use super::to_js;
use crate::aws::credentials::Credentials;
use crate::client::{self as core, ClientConfig, ClientError, CredentialSource, Doc, Query};
use crate::index::Mode;
use crate::store::{LoadProgress, ShardCache};
use js_sys::{Function, Promise};
use serde::Deserialize;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(typescript_custom_section)]
const TS_CLIENT: &'static str = r#"
export type ErrorCode =
  | "InvalidArgument" | "InvalidFilter" | "NotLoaded" | "Closed" | "NoCollection" | "NoSuchKey"
  | "NoSuchBucket" | "AccessDenied" | "ExpiredCredentials" | "InvalidCredentials"
  | "CredentialsUnavailable" | "ModelNotAvailable" | "Throttled" | "CorsBlocked" | "Network"
  | "Timeout" | "ChecksumMismatch" | "InvalidShard" | "InvalidManifest" | "UnsupportedVersion"
  | "DimensionMismatch" | "DtypeMismatch" | "Incompatible" | "ModeUnavailable"
  | "EmptyCollection" | "Conflict" | "ServiceError";

export interface ConnectOptions {
  /** The presign endpoint (POST): credentials and the collection's settings. */
  credentialsUrl?: string;
  /** What to ask the presign endpoint for (default "read"). */
  access?: "read" | "write";
  /** Sent as `Authorization: Bearer <writeToken>` to the presign endpoint. */
  writeToken?: string;
  /** Fixed credentials instead of `credentialsUrl`. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  bucket?: string;
  /** The collection's key prefix ("" for the bucket's root). */
  prefix?: string;
  /** Default "amazon.titan-embed-text-v2:0". */
  modelId?: string;
  /** For a new collection: dimensions (default the model's) and encoding (default "f32"). */
  dims?: number;
  dtype?: Dtype;
  endpoints?: { s3?: string; bedrock?: string; bedrockRelay?: string };
  /** Default "auto": direct, then the relay for good once a direct call gets no answer. */
  bedrockRoute?: "auto" | "direct" | "relay";
  /** Bedrock requests in flight while adding (default 4). */
  concurrency?: number;
  /** Shards downloaded at once (default 6). */
  loadConcurrency?: number;
  /** Query embeddings remembered (default 256; 0: none). */
  queryCacheSize?: number;
  /** Keep shards in the Cache API ("s3vec-shards") where it exists (default true). */
  shardCache?: boolean;
}

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  loadedShards: number;
  totalShards: number;
}

export interface LoadOptions {
  onProgress?: (progress: LoadProgress) => void;
}

export interface FailedShard {
  key: string;
  code: ErrorCode;
  message: string;
}

export interface LoadReport {
  kind: "loaded" | "unchanged" | "extended" | "reloaded";
  /** Searchable documents now. */
  documents: number;
  /** Shards this call fetched, cached ones included. */
  shards: number;
  cachedShards: number;
  downloadedBytes: number;
  generation: number;
  failed: FailedShard[];
}

export type Query = string | Float32Array | number[];

export interface Doc {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface AddOptions {
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface AddReport {
  added: number;
  generation: number;
  /** The new shard's key, relative to the prefix. */
  shard: string;
}

export interface RemoveReport {
  /** Ids that were in memory. */
  removed: number;
  generation: number;
}

export interface ClientStats {
  bedrockRequests: number;
  throttleRetries: number;
  otherRetries: number;
  bedrockConcurrency: number;
  bedrockRoute: "direct" | "relay";
  queryCacheHits: number;
  queryCacheMisses: number;
  credentialFetches: number;
}
"#;

/// One collection, its credentials and the documents in memory (docs/JS-API.md).
#[wasm_bindgen]
pub struct Client {
    inner: Rc<core::Client>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectJs {
    credentials_url: Option<String>,
    access: Option<String>,
    write_token: Option<String>,
    credentials: Option<CredentialsJs>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    model_id: Option<String>,
    dims: Option<u32>,
    dtype: Option<String>,
    endpoints: Option<EndpointsJs>,
    bedrock_route: Option<String>,
    concurrency: Option<usize>,
    load_concurrency: Option<usize>,
    query_cache_size: Option<usize>,
    shard_cache: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsJs {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsJs {
    s3: Option<String>,
    bedrock: Option<String>,
    bedrock_relay: Option<String>,
}

const CONNECT_KEYS: &[&str] = &[
    "credentialsUrl",
    "access",
    "writeToken",
    "credentials",
    "region",
    "bucket",
    "prefix",
    "modelId",
    "dims",
    "dtype",
    "endpoints",
    "bedrockRoute",
    "concurrency",
    "loadConcurrency",
    "queryCacheSize",
    "shardCache",
];

fn invalid(message: impl AsRef<str>) -> JsValue {
    js_error("InvalidArgument", message.as_ref())
}

/// Reads `value` (an object with only `known` keys) as `T`; `undefined`/`null` is `None`.
fn options<T: for<'de> Deserialize<'de>>(
    value: &JsValue,
    known: &[&str],
    what: &str,
) -> JsResult<Option<T>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    reject_unknown_keys(value, known, what)?;
    serde_wasm_bindgen::from_value(value.clone())
        .map(Some)
        .map_err(|e| invalid(format!("{what}: {e}")))
}

/// A nested object of an options object, checked the same way.
fn nested(value: &JsValue, key: &str, known: &[&str], what: &str) -> JsResult<()> {
    let inner = js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    if inner.is_undefined() || inner.is_null() {
        return Ok(());
    }
    reject_unknown_keys(&inner, known, what)
}

fn connect_config(value: &JsValue) -> JsResult<ClientConfig> {
    let o: ConnectJs = options(value, CONNECT_KEYS, "connect options")?
        .ok_or_else(|| invalid("Client.connect needs an options object: { credentialsUrl } or { credentials, region, bucket }"))?;
    nested(
        value,
        "credentials",
        &["accessKeyId", "secretAccessKey", "sessionToken"],
        "connect options.credentials",
    )?;
    nested(
        value,
        "endpoints",
        &["s3", "bedrock", "bedrockRelay"],
        "connect options.endpoints",
    )?;
    let source = match (o.credentials_url, o.credentials) {
        (Some(url), None) => CredentialSource::Presign {
            url,
            access: o.access,
            write_token: o.write_token,
        },
        (None, Some(c)) => {
            if o.access.is_some() || o.write_token.is_some() {
                return Err(invalid(
                    "access and writeToken go to a presign endpoint: give credentialsUrl, or leave them out with static credentials",
                ));
            }
            CredentialSource::Static(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                c.session_token,
                None,
            ))
        }
        _ => {
            return Err(invalid(
                "give exactly one of credentialsUrl (a presign endpoint) and credentials ({accessKeyId, secretAccessKey})",
            ));
        }
    };
    let mut config = ClientConfig::new(source);
    config.region = o.region;
    config.bucket = o.bucket;
    config.prefix = o.prefix;
    config.model_id = o.model_id;
    config.dims = o.dims;
    config.dtype = o
        .dtype
        .map(|d| d.parse())
        .transpose()
        .map_err(|e: crate::format::FormatError| invalid(format!("dtype: {e}")))?;
    if let Some(e) = o.endpoints {
        config.endpoints = core::Endpoints {
            s3: e.s3,
            bedrock: e.bedrock,
            bedrock_relay: e.bedrock_relay,
        };
    }
    if let Some(r) = o.bedrock_route {
        config.bedrock_route = r.parse().map_err(|e: String| invalid(e))?;
    }
    config.concurrency = o.concurrency.unwrap_or(config.concurrency);
    config.load_concurrency = o.load_concurrency.unwrap_or(config.load_concurrency);
    config.query_cache_size = o.query_cache_size.unwrap_or(config.query_cache_size);
    if o.shard_cache.unwrap_or(true) {
        config.shard_cache = BrowserCache::available().map(|c| Arc::new(c) as Arc<dyn ShardCache>);
    }
    Ok(config)
}

/// `options.onProgress`, if given.
fn on_progress(options: &JsValue, what: &str) -> JsResult<Option<Function>> {
    reject_unknown_keys(options, &["onProgress"], what)?;
    let f = js_sys::Reflect::get(options, &"onProgress".into()).unwrap_or(JsValue::UNDEFINED);
    if f.is_undefined() {
        return Ok(None);
    }
    f.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| invalid(format!("{what}: onProgress must be a function")))
}

fn progress_options(options: &JsValue, what: &str) -> JsResult<Option<Function>> {
    if options.is_undefined() || options.is_null() {
        Ok(None)
    } else {
        on_progress(options, what)
    }
}

/// Calls `f` with a plain object; an exception in the callback is the page's, not the load's.
fn report(f: &Option<Function>, value: &impl serde::Serialize) {
    if let (Some(f), Ok(v)) = (f, to_js(value)) {
        let _ = f.call1(&JsValue::UNDEFINED, &v);
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgressJs {
    loaded_bytes: u64,
    total_bytes: u64,
    loaded_shards: usize,
    total_shards: usize,
}

impl From<LoadProgress> for ProgressJs {
    fn from(p: LoadProgress) -> Self {
        ProgressJs {
            loaded_bytes: p.loaded_bytes,
            total_bytes: p.total_bytes,
            loaded_shards: p.loaded_shards,
            total_shards: p.total_shards,
        }
    }
}

#[derive(Deserialize, Default)]
struct SearchJs {
    k: Option<usize>,
    mode: Option<String>,
    oversample: Option<usize>,
    filter: Option<serde_json::Value>,
}

fn search_options(value: &JsValue) -> JsResult<core::Search> {
    let o: SearchJs = options(
        value,
        &["k", "mode", "oversample", "filter"],
        "search options",
    )?
    .unwrap_or_default();
    let mode: Mode = match o.mode.as_deref() {
        None => Mode::Exact,
        Some(m) => m
            .parse()
            .map_err(|e: crate::index::IndexError| invalid(e.to_string()))?,
    };
    Ok(core::Search {
        k: o.k,
        mode,
        oversample: o.oversample,
        filter: o.filter,
    })
}

enum QueryJs {
    Text(String),
    Vector(Vec<f32>),
}

fn query(value: &JsValue) -> JsResult<QueryJs> {
    if let Some(s) = value.as_string() {
        return Ok(QueryJs::Text(s));
    }
    if let Some(v) = value.dyn_ref::<js_sys::Float32Array>() {
        return Ok(QueryJs::Vector(v.to_vec()));
    }
    if js_sys::Array::is_array(value) {
        return serde_wasm_bindgen::from_value(value.clone())
            .map(QueryJs::Vector)
            .map_err(|e| invalid(format!("search: the query array must hold numbers ({e})")));
    }
    Err(invalid(
        "search: the query must be a string, a Float32Array or an array of numbers",
    ))
}

fn docs(value: &JsValue) -> JsResult<Vec<Doc>> {
    let array = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| invalid("add: pass an array of {id, text, metadata?}"))?;
    for (i, d) in array.iter().enumerate() {
        reject_unknown_keys(
            &d,
            &["id", "text", "metadata"],
            &format!("add: document #{i}"),
        )?;
    }
    serde_wasm_bindgen::from_value(value.clone()).map_err(|e| invalid(format!("add: {e}")))
}

/// Runs `f` on the client in a promise; rejections are `S3vecError`s.
fn spawn<F, Fut>(inner: &Rc<core::Client>, f: F) -> Promise
where
    F: FnOnce(Rc<core::Client>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<JsValue, Failure>> + 'static,
{
    let inner = inner.clone();
    future_to_promise(async move {
        match f(inner).await {
            Ok(v) => Ok(v),
            Err(Failure::Js(e)) => Err(e),
            Err(Failure::Client(e)) => Err(client_error_probed(&e).await),
        }
    })
}

/// A rejection: already a JS error (bad arguments), or the client's.
enum Failure {
    Js(JsValue),
    Client(ClientError),
}

impl From<JsValue> for Failure {
    fn from(e: JsValue) -> Self {
        Failure::Js(e)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

#[wasm_bindgen]
impl Client {
    /// Checks the options, fetches credentials once (presign), reads nothing from S3.
    pub async fn connect(
        #[wasm_bindgen(unchecked_param_type = "ConnectOptions")] options: JsValue,
    ) -> Result<Client, JsValue> {
        let config = connect_config(&options)?;
        match core::Client::connect(config).await {
            Ok(c) => Ok(Client { inner: Rc::new(c) }),
            Err(e) => Err(client_error_probed(&e).await),
        }
    }

    /// Reads the manifest and every shard (from the shard cache when it has them).
    #[wasm_bindgen(unchecked_return_type = "Promise<LoadReport>")]
    pub fn load(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: JsValue,
    ) -> Promise {
        spawn(&self.inner, move |c| async move {
            let f = progress_options(&options, "load options")?;
            let r = c.load(|p| report(&f, &ProgressJs::from(p))).await?;
            Ok(to_js(&r)?)
        })
    }

    /// Picks up what other writers published: only new shards when the list was appended to.
    #[wasm_bindgen(unchecked_return_type = "Promise<LoadReport>")]
    pub fn refresh(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: JsValue,
    ) -> Promise {
        spawn(&self.inner, move |c| async move {
            let f = progress_options(&options, "refresh options")?;
            let r = c.refresh(|p| report(&f, &ProgressJs::from(p))).await?;
            Ok(to_js(&r)?)
        })
    }

    /// The `k` best documents for a text (embedded, then remembered) or a vector.
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchHit[]>")]
    pub fn search(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SearchOptions")] options: JsValue,
    ) -> Promise {
        spawn(&self.inner, move |c| async move {
            let q = self::query(&query)?;
            let search = search_options(&options)?;
            let hits = match &q {
                QueryJs::Text(t) => c.search(Query::Text(t), &search).await?,
                QueryJs::Vector(v) => c.search(Query::Vector(v), &search).await?,
            };
            Ok(to_js(&hits)?)
        })
    }

    /// The query embedding `search` would use for `text`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn embed(&self, text: String) -> Promise {
        spawn(&self.inner, move |c| async move {
            let v = c.embed(&text).await?;
            Ok(js_sys::Float32Array::from(&v[..]).into())
        })
    }

    /// Embeds, publishes one shard, and adds the documents to memory.
    #[wasm_bindgen(unchecked_return_type = "Promise<AddReport>")]
    pub fn add(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Doc[]")] docs: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "AddOptions")] options: JsValue,
    ) -> Promise {
        spawn(&self.inner, move |c| async move {
            let docs = self::docs(&docs)?;
            let f = progress_options(&options, "add options")?;
            #[derive(serde::Serialize)]
            struct Done {
                done: usize,
                total: usize,
            }
            let r = c
                .add(&docs, |done, total| report(&f, &Done { done, total }))
                .await?;
            Ok(to_js(&r)?)
        })
    }

    /// Publishes tombstones for `ids` and removes them from memory.
    #[wasm_bindgen(unchecked_return_type = "Promise<RemoveReport>")]
    pub fn remove(&self, ids: Vec<String>) -> Promise {
        spawn(&self.inner, move |c| async move {
            let r = c.remove(&ids).await?;
            Ok(to_js(&r)?)
        })
    }

    /// A loaded document (score 1), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "SearchHit | undefined")]
    pub fn get(&self, id: &str) -> JsResult<JsValue> {
        match self.inner.get(id) {
            Ok(Some(hit)) => to_js(&hit),
            Ok(None) => Ok(JsValue::UNDEFINED),
            Err(e) => Err(client_error(&e)),
        }
    }

    /// Forgets the documents and remembered queries; later calls throw `Closed`.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Searchable documents in memory.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> Option<usize> {
        self.inner.dims()
    }

    #[wasm_bindgen(getter, unchecked_return_type = "Dtype | undefined")]
    pub fn dtype(&self) -> JsValue {
        self.inner
            .dtype()
            .map_or(JsValue::UNDEFINED, |d| JsValue::from_str(d.name()))
    }

    /// The manifest generation in memory.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> Option<f64> {
        self.inner.generation().map(|g| g as f64)
    }

    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> String {
        self.inner.model_id()
    }

    #[wasm_bindgen(getter)]
    pub fn region(&self) -> String {
        self.inner.region().to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn bucket(&self) -> String {
        self.inner.bucket().to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn prefix(&self) -> String {
        self.inner.prefix().to_string()
    }

    /// What the presign endpoint granted; `undefined` with static credentials.
    #[wasm_bindgen(getter, unchecked_return_type = "\"read\" | \"write\" | undefined")]
    pub fn access(&self) -> JsValue {
        self.inner
            .access()
            .map_or(JsValue::UNDEFINED, JsValue::from_str)
    }

    #[wasm_bindgen(getter, unchecked_return_type = "ClientStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        to_js(&self.inner.stats())
    }
}
