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
