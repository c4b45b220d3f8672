//! The browser's Cache API as the client's shard cache: cache `"s3vec-shards"`, one entry per
//! shard, keyed by a made-up URL built from the shard's object URL and checksum (see
//! `store::cache` for why that names the bytes exactly). Best effort: any failure (no Cache API,
//! quota, a private window) is a miss or a skipped put.

use crate::aws::runtime::BoxFuture;
use crate::store::{ShardCache, ShardName};
use bytes::Bytes;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub const CACHE_NAME: &str = "s3vec-shards";

/// Never fetched: `.invalid` cannot resolve (RFC 2606), so an entry is only ever read back
/// through the cache.
const KEY_BASE: &str = "https://s3vec-cache.invalid/";

pub struct BrowserCache;

impl BrowserCache {
    /// `Some` where the Cache API exists (pages and workers in secure contexts; not node).
    pub fn available() -> Option<BrowserCache> {
        caches().map(|_| BrowserCache)
    }
}

fn caches() -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("caches"))
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null())
}

/// `https://s3vec-cache.invalid/{host}/{path}?checksum={checksum}`.
pub fn key(name: ShardName<'_>) -> String {
    format!("{}?checksum={}", base(name.url), name.checksum)
}

/// `https://s3vec-cache.invalid/{host}/{path}`.
fn base(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    format!("{KEY_BASE}{rest}")
}

/// `url` as the Cache API reports request URLs (the URL parser's `href`), so that keys read
/// back from `cache.keys()` compare equal to ours.
fn href(url: &str) -> Option<String> {
    let ctor: Function = Reflect::get(&js_sys::global(), &"URL".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let args: js_sys::Array = std::iter::once(JsValue::from_str(url)).collect();
    let parsed = Reflect::construct(&ctor, &args).ok()?;
    Reflect::get(&parsed, &"href".into()).ok()?.as_string()
}

/// `target[method](...args)`, awaited.
async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    let out = f.apply(target, &array)?;
    match out.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await,
        Err(v) => Ok(v),
    }
}

async fn open() -> Result<JsValue, JsValue> {
    let caches = caches().ok_or(JsValue::UNDEFINED)?;
    call(&caches, "open", &[JsValue::from_str(CACHE_NAME)]).await
}

async fn get(key: String) -> Result<Option<Bytes>, JsValue> {
    let cache = open().await?;
    let response = call(&cache, "match", &[JsValue::from_str(&key)]).await?;
    if response.is_undefined() || response.is_null() {
        return Ok(None);
    }
    let buffer = call(&response, "arrayBuffer", &[]).await?;
    Ok(Some(Bytes::from(Uint8Array::new(&buffer).to_vec())))
}

async fn put(key: String, bytes: Bytes) -> Result<(), JsValue> {
    let cache = open().await?;
    let body = Uint8Array::from(&bytes[..]);
    let init = Object::new();
    let headers = Object::new();
    Reflect::set(
        &headers,
        &"content-type".into(),
        &"application/octet-stream".into(),
    )?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    let ctor: Function = Reflect::get(&js_sys::global(), &"Response".into())?.dyn_into()?;
    let args: js_sys::Array = [JsValue::from(body), JsValue::from(init)].iter().collect();
    let response = Reflect::construct(&ctor, &args)?;
    call(&cache, "put", &[JsValue::from_str(&key), response]).await?;
    Ok(())
}

/// Deletes the entries under `under` that are not in `keep`.
async fn prune(under: String, keep: Vec<String>) -> Result<(), JsValue> {
    let under = href(&under).ok_or(JsValue::UNDEFINED)?;
    let keep: std::collections::HashSet<String> = keep.iter().filter_map(|k| href(k)).collect();
    let cache = open().await?;
    let requests: js_sys::Array = call(&cache, "keys", &[]).await?.dyn_into()?;
    for request in requests.iter() {
        let Some(url) = Reflect::get(&request, &"url".into())?.as_string() else {
            continue;
        };
        if url.starts_with(&under) && !keep.contains(&url) {
            call(&cache, "delete", &[request]).await?;
        }
    }
    Ok(())
}

impl ShardCache for BrowserCache {
    fn get<'a>(&'a self, name: ShardName<'a>) -> BoxFuture<'a, Option<Bytes>> {
        let key = key(name);
        Box::pin(async move { get(key).await.ok().flatten() })
    }

    fn put<'a>(&'a self, name: ShardName<'a>, bytes: Bytes) -> BoxFuture<'a, ()> {
        let key = key(name);
        Box::pin(async move {
            let _ = put(key, bytes).await;
        })
    }

    fn prune<'a>(&'a self, under: &'a str, keep: &'a [ShardName<'a>]) -> BoxFuture<'a, ()> {
        let under = base(under);
        let keep = keep.iter().map(|&k| key(k)).collect();
        Box::pin(async move {
            let _ = prune(under, keep).await;
        })
    }
}
