//! Arguments of the `Client` class from JavaScript: options objects (unknown keys refused, so
//! a misspelt option is named instead of ignored), queries, documents, progress callbacks.

use super::error::{JsResult, js_error, reject_unknown_keys};
use super::shard_cache::BrowserCache;
use super::to_js;
use crate::aws::credentials::Credentials;
use crate::client::{self as core, ClientConfig, CredentialSource, Doc};
use crate::index::Mode;
use crate::store::{LoadProgress, ShardCache};
use js_sys::Function;
use serde::Deserialize;
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};

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

pub fn connect_config(value: &JsValue) -> JsResult<ClientConfig> {
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

pub fn progress_options(options: &JsValue, what: &str) -> JsResult<Option<Function>> {
    if options.is_undefined() || options.is_null() {
        Ok(None)
    } else {
        on_progress(options, what)
    }
}

/// Calls `f` with a plain object; an exception in the callback is the page's, not the load's.
pub fn report(f: &Option<Function>, value: &impl serde::Serialize) {
    if let (Some(f), Ok(v)) = (f, to_js(value)) {
        let _ = f.call1(&JsValue::UNDEFINED, &v);
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressJs {
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

pub fn search_options(value: &JsValue) -> JsResult<core::Search> {
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

pub enum QueryJs {
    Text(String),
    Vector(Vec<f32>),
}

pub fn query(value: &JsValue) -> JsResult<QueryJs> {
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

pub fn docs(value: &JsValue) -> JsResult<Vec<Doc>> {
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
