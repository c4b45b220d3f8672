//! Rust errors as JavaScript `Error`s: `name` is "S3vecError", `code` is stable, the message is
//! the Rust one (which says what to do).

use crate::format::FormatError;
use crate::index::IndexError;
use wasm_bindgen::JsValue;

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
