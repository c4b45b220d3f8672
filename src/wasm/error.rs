//! Rust errors as JavaScript `Error`s: `name` is "S3vecError", `code` is stable, the message is
//! the Rust one (which says what to do).

use crate::format::FormatError;
use crate::index::IndexError;
use wasm_bindgen::{JsCast, JsValue};

pub type JsResult<T> = Result<T, JsValue>;

pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("S3vecError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

pub fn format_error(e: FormatError) -> JsValue {
    let code = match e {
        FormatError::ChecksumMismatch { .. } => "ChecksumMismatch",
        FormatError::UnsupportedVersion { .. } => "UnsupportedVersion",
        FormatError::Encode(_) | FormatError::BadDims(_) | FormatError::UnknownDtype(_) => {
            "InvalidArgument"
        }
        _ => "InvalidShard",
    };
    js_error(code, &e.to_string())
}

/// Encoding fails only on what the caller passed in.
pub fn encode_error(e: FormatError) -> JsValue {
    js_error("InvalidArgument", &format!("encodeShard: {e}"))
}

pub fn index_error(e: IndexError) -> JsValue {
    let code = match &e {
        IndexError::DimensionMismatch { .. } => "DimensionMismatch",
        IndexError::DtypeMismatch { .. } => "DtypeMismatch",
        IndexError::Empty => "EmptyCollection",
        IndexError::ModeUnavailable { .. } => "ModeUnavailable",
        IndexError::Format(f) => return format_error(f.clone()),
        _ => "InvalidArgument",
    };
    js_error(code, &e.to_string())
}

/// serde_wasm_bindgen reads only the fields it knows, so a misspelt option (`topK`) would be
/// silently ignored; name it instead.
pub fn reject_unknown_keys(object: &JsValue, known: &[&str], what: &str) -> JsResult<()> {
    let Some(object) = object.dyn_ref::<js_sys::Object>() else {
        return Err(js_error(
            "InvalidArgument",
            &format!("{what} must be an object"),
        ));
    };
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(js_error(
                "InvalidArgument",
                &format!(
                    "{what}: unknown field `{key}`, expected one of: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A client error as an `S3vecError`: the stable code of docs/JS-API.md, `retryable`, and
/// what AWS said (`awsCode`, `status`, `requestId`) when it answered.
pub fn client_error(e: &crate::client::ClientError) -> JsValue {
    let err = js_error(e.code(), &e.to_string());
    set(&err, "retryable", JsValue::from_bool(e.is_retryable()));
    if let Some(s) = e.aws().and_then(|a| a.service()) {
        set(&err, "awsCode", JsValue::from_str(&s.code));
        set(&err, "status", JsValue::from(s.status));
        if let Some(id) = &s.request_id {
            set(&err, "requestId", JsValue::from_str(id));
        }
    }
    err
}

/// [`client_error`], telling a CORS refusal from a dead network in a browser: a page cannot
/// read why a `fetch` failed, but a `no-cors` request to the same URL still succeeds (with an
/// opaque answer) when the server is up, and fails too when it is not reachable.
pub async fn client_error_probed(e: &crate::client::ClientError) -> JsValue {
    let err = client_error(e);
    let transport = match e.aws() {
        Some(crate::aws::AwsError::Transport(t)) if e.code() == "Network" => t,
        _ => return err,
    };
    if in_browser() && reachable(&transport.url).await {
        set(&err, "code", JsValue::from_str("CorsBlocked"));
        let message = format!(
            "{}: the server answered, but the browser did not let this page read the answer \
             (CORS). Allow this origin in the bucket's CORS rules, or for Bedrock use \
             bedrockRoute \"relay\" with a presign endpoint that offers one.",
            transport.url
        );
        set(&err, "message", JsValue::from_str(&message));
    }
    err
}

fn set(target: &JsValue, key: &str, value: JsValue) {
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), &value);
}

/// A page or a worker (node has no CORS to tell apart).
fn in_browser() -> bool {
    let global = js_sys::global();
    ["document", "WorkerGlobalScope"].iter().any(|name| {
        js_sys::Reflect::get(&global, &JsValue::from_str(name)).is_ok_and(|v| !v.is_undefined())
    })
}

/// Whether `fetch(url, {mode: "no-cors"})` gets any answer.
async fn reachable(url: &str) -> bool {
    let global = js_sys::global();
    let Ok(fetch) = js_sys::Reflect::get(&global, &JsValue::from_str("fetch"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    else {
        return false;
    };
    let init = js_sys::Object::new();
    set(&init, "mode", JsValue::from_str("no-cors"));
    set(&init, "cache", JsValue::from_str("no-store"));
    match fetch.call2(&global, &JsValue::from_str(url), &init) {
        Ok(promise) => match promise.dyn_into::<js_sys::Promise>() {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}
