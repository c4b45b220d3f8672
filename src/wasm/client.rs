//! The `Client` class (docs/JS-API.md): bindings only. Each method converts its arguments,
//! calls `crate::client::Client`, and converts the result or the error.
//!
//! The Rust client sits behind an `Rc` and every async method clones it into the future it
//! returns as a `Promise`, so calls may overlap (a search while a refresh runs) without
//! wasm-bindgen's borrow of `self` lasting across an `await`.

use super::client_args::{
    self as args, ProgressJs, QueryJs, connect_config, progress_options, report, search_options,
};
use super::error::{JsResult, client_error, client_error_probed};
use super::to_js;
use crate::client::{self as core, ClientError, Query};
use js_sys::Promise;
use std::rc::Rc;
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

/** The documents in memory on the plane of their first two principal components. */
export interface Pca2 {
  /** The loaded documents, in the order of `points`. */
  ids: string[];
  /** x0, y0, x1, y1, … (2 × ids.length). */
  points: Float32Array;
  /** The mean the rows were centred on (dims). */
  mean: Float32Array;
  /** 2 × dims, row-major: the two principal axes, unit length. Place a query `q` (from
   *  `embed`) at x = (q − mean) · components[0 … dims), y = (q − mean) · components[dims …). */
  components: Float32Array;
  /** The share of the variance each axis explains. */
  explained: [number, number];
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
            let q = args::query(&query)?;
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
            let docs = args::docs(&docs)?;
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

    /// The ids of the documents in memory, in the order they were loaded.
    pub fn ids(&self) -> JsResult<Vec<String>> {
        self.inner.ids().map_err(|e| client_error(&e))
    }

    /// Every document in memory on the plane of its first two principal components
    /// (computed here, in wasm; the cost is in `client/pca/`).
    #[wasm_bindgen(unchecked_return_type = "Pca2")]
    pub fn pca2(&self) -> JsResult<JsValue> {
        let (ids, map) = self.inner.pca2().map_err(|e| client_error(&e))?;
        let out = js_sys::Object::new();
        let ids: js_sys::Array = ids.iter().map(|id| JsValue::from_str(id)).collect();
        let explained: js_sys::Array = map.explained.iter().map(|&x| JsValue::from(x)).collect();
        let fields: [(&str, JsValue); 5] = [
            ("ids", ids.into()),
            ("points", js_sys::Float32Array::from(&map.points[..]).into()),
            ("mean", js_sys::Float32Array::from(&map.mean[..]).into()),
            (
                "components",
                js_sys::Float32Array::from(&map.components[..]).into(),
            ),
            ("explained", explained.into()),
        ];
        for (key, value) in fields {
            js_sys::Reflect::set(&out, &JsValue::from_str(key), &value)?;
        }
        Ok(out.into())
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
