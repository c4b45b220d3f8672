//! CORS: which origins get an answer a browser will let the page read, and preflights.
//!
//! An `Origin` header only constrains browsers (any other client can send any value), so this
//! keeps other sites' pages from using a visitor's browser to draw on this deployment; the rate
//! limit and the function's reserved concurrency bound everyone else.

use crate::config::Config;
use crate::relay;
use http::{HeaderMap, HeaderValue};

pub enum OriginCheck {
    /// Allowed: the value to echo in `Access-Control-Allow-Origin`.
    Allowed(HeaderValue),
    Missing,
    /// Not allowed (printable form, for the message).
    Refused(String),
}

pub fn check(config: &Config, headers: &HeaderMap) -> OriginCheck {
    let Some(origin) = headers.get("origin") else {
        return OriginCheck::Missing;
    };
    let text = String::from_utf8_lossy(origin.as_bytes()).to_ascii_lowercase();
    if config.origins.contains(&text) {
        OriginCheck::Allowed(origin.clone())
    } else {
        OriginCheck::Refused(text.chars().take(200).collect())
    }
}

/// Answers a preflight from an allowed origin: `POST` with the headers each route takes.
pub fn preflight(headers: &HeaderMap, relay: bool) -> Result<http::Response<bytes::Bytes>, String> {
    let method = headers
        .get("access-control-request-method")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if method.as_deref() != Some("POST") {
        return Err(format!(
            "preflight for method {}: this endpoint answers POST only",
            method.as_deref().unwrap_or("(none)")
        ));
    }
    let asked = headers
        .get("access-control-request-headers")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    let mut granted = Vec::new();
    for name in asked.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let ok = if relay {
            relay::header_allowed(name)
        } else {
            matches!(name, "authorization" | "content-type")
        };
        if !ok {
            return Err(format!(
                "preflight asks for header {name:?}, which this route does not accept: send \
                 only the SigV4 headers to the relay, or content-type and authorization to \
                 /credentials"
            ));
        }
        granted.push(name);
    }
    let mut response = http::Response::new(bytes::Bytes::new());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST"),
    );
    if let Ok(v) = HeaderValue::from_str(&granted.join(", "))
        && !granted.is_empty()
    {
        h.insert("access-control-allow-headers", v);
    }
    // Chromium caps this at 2 hours; Firefox at 24.
    h.insert("access-control-max-age", HeaderValue::from_static("7200"));
    Ok(response)
}

/// Adds the grant for `origin` to any answer (errors too, so the page can read them).
pub fn grant(headers: &mut HeaderMap, origin: HeaderValue, relay: bool) {
    headers.insert("access-control-allow-origin", origin);
    headers.insert(
        "vary",
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    let expose = if relay {
        "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-bedrock-input-token-count, \
         x-amzn-bedrock-invocation-latency, Retry-After"
    } else {
        "x-amzn-ErrorType, Retry-After"
    };
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(expose),
    );
}
