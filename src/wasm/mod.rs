//! JavaScript bindings. Bindings only: every function converts its arguments, calls the Rust API
//! and converts the result or the error. No logic lives here.

mod client;
mod client_args;
mod error;
mod shard;
mod shard_cache;

use crate::filter::Filter;
use crate::format::decode_shard;
use crate::index::{self, Mode, SearchOptions};
use error::{JsResult, js_error};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Metadata filter, MongoDB style: `{ section: "graphics", size: { $lt: 5000 } }`. */
export type Filter = { [field: string]: unknown };

export type SearchMode = "exact" | "int8" | "binary";

export interface SearchOptions {
  /** Number of results (default 10). */
  k?: number;
  /** "exact" (default) ranks every f32 vector; "int8" and "binary" rank quantized vectors and rerank the best `k × oversample` with f32. */
  mode?: SearchMode;
  /** Candidates per result for "int8" (default 4) and "binary" (default 32). */
  oversample?: number;
  /** Applied before ranking. */
  filter?: Filter;
}

export interface SearchHit {
  id: string;
  /** Cosine similarity to the query, -1 to 1. */
  score: number;
  metadata?: Record<string, unknown>;
  text?: string;
}

export type Dtype = "f32" | "i8" | "binary";

export interface ShardInput {
  dims: number;
  /** `ids.length × dims` values, row-major. */
  vectors: Float32Array;
  ids: string[];
  metadata?: (Record<string, unknown> | null | undefined)[];
  texts?: (string | null | undefined)[];
  /** How the shard stores the vectors (default "f32"). */
  dtype?: Dtype;
}

/** Every error s3vec throws or rejects with is an Error with `name` "S3vecError" and a stable `code` (docs/JS-API.md). */
export interface S3vecError extends Error {
  name: "S3vecError";
  code: ErrorCode;
  /** Whether the same call later may succeed. Errors from Collection and encodeShard leave it out. */
  retryable?: boolean;
  /** What AWS answered, when it did. */
  awsCode?: string;
  status?: number;
  requestId?: string;
}
"#;

/// Documents loaded into memory, searchable with a query vector.
#[wasm_bindgen]
pub struct Collection {
    inner: index::Collection,
}

#[derive(Serialize)]
struct HitJs<'a> {
    id: &'a str,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl<'a> From<index::Hit<'a>> for HitJs<'a> {
    fn from(h: index::Hit<'a>) -> Self {
        HitJs {
            id: h.id,
            score: h.score,
            metadata: h.metadata,
            text: h.text,
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct SearchOptionsJs {
    k: Option<usize>,
    mode: Option<String>,
    oversample: Option<usize>,
    filter: Option<serde_json::Value>,
}

pub(crate) fn to_js<T: Serialize>(value: &T) -> JsResult<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            js_error(
                "InvalidArgument",
                &format!("cannot convert the result to JavaScript: {e}"),
            )
        })
}

#[wasm_bindgen]
impl Collection {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Collection {
        Collection {
            inner: index::Collection::new(),
        }
    }

    /// Decodes a shard (checksum verified) and adds its documents; returns how many were added.
    /// A document whose id is already loaded replaces the old one.
    #[wasm_bindgen(js_name = loadShard)]
    pub fn load_shard(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] bytes: JsValue,
    ) -> JsResult<usize> {
        let bytes = shard::bytes_from_js(&bytes)?;
        let decoded = decode_shard(&bytes).map_err(error::format_error)?;
        self.inner.add_shard(&decoded).map_err(error::index_error)
    }

    /// The `k` most similar documents to `query`, best first.
    #[wasm_bindgen(unchecked_return_type = "SearchHit[]")]
    pub fn search(
        &self,
        query: &[f32],
        #[wasm_bindgen(unchecked_optional_param_type = "SearchOptions")] options: JsValue,
    ) -> JsResult<JsValue> {
        let opts: SearchOptionsJs = if options.is_undefined() || options.is_null() {
            SearchOptionsJs::default()
        } else {
            error::reject_unknown_keys(
                &options,
                &["k", "mode", "oversample", "filter"],
                "search options",
            )?;
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_error("InvalidArgument", &format!("search options: {e}")))?
        };
        let filter = opts
            .filter
            .as_ref()
            .map(Filter::parse)
            .transpose()
            .map_err(|e| js_error("InvalidFilter", &e.to_string()))?;
        let mode: Mode = match opts.mode.as_deref() {
            None => Mode::Exact,
            Some(m) => m.parse().map_err(error::index_error)?,
        };
        let options = SearchOptions {
            k: opts.k.unwrap_or(10),
            mode,
            oversample: opts.oversample,
            filter: filter.as_ref(),
        };
        let hits = self
            .inner
            .search(query, &options)
            .map_err(error::index_error)?;
        let hits: Vec<HitJs<'_>> = hits.into_iter().map(HitJs::from).collect();
        to_js(&hits)
    }

    /// Removes documents by id; returns how many were present.
    pub fn remove(&mut self, ids: Vec<String>) -> usize {
        self.inner.remove(ids.iter().map(String::as_str))
    }

    /// A loaded document by id (score 1), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "SearchHit | undefined")]
    pub fn get(&self, id: &str) -> JsResult<JsValue> {
        match self.inner.get(id) {
            Some(hit) => to_js(&HitJs::from(hit)),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Number of searchable documents.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// Dimensions, once a shard is loaded.
    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> Option<usize> {
        self.inner.dims()
    }

    /// How the loaded shards store vectors, once a shard is loaded.
    #[wasm_bindgen(getter, unchecked_return_type = "Dtype | undefined")]
    pub fn dtype(&self) -> JsValue {
        self.inner
            .dtype()
            .map_or(JsValue::UNDEFINED, |d| JsValue::from_str(d.name()))
    }

    /// Bytes of wasm memory held by the vectors.
    #[wasm_bindgen(getter, js_name = vectorBytes)]
    pub fn vector_bytes(&self) -> usize {
        self.inner.vector_bytes()
    }
}

impl Default for Collection {
    fn default() -> Self {
        Self::new()
    }
}

/// Encodes documents and their vectors as a shard (the bytes to store in S3).
#[wasm_bindgen(js_name = encodeShard)]
pub fn encode_shard(
    #[wasm_bindgen(unchecked_param_type = "ShardInput")] input: JsValue,
) -> JsResult<Vec<u8>> {
    shard::encode(input)
}
