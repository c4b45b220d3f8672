//! CORS for the Bedrock endpoint, switchable: on, it grants preflights from the configured origins
//! for `POST` with the SigV4 and SDK headers, and lets the page read `x-amzn-ErrorType` and
//! `x-amzn-RequestId`; off, it sends no CORS headers at all (a browser then cannot call the
//! service, as it may not be able to call bedrock-runtime).

use crate::policy::wildcard;
use http::header::{self, HeaderMap, HeaderValue};

/// Request headers a browser client of Bedrock may send (SigV4, the SDKs' own, InvokeModel's).
/// `*` is a wildcard.
pub const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "x-amz-*",
    "amz-sdk-*",
    "x-amzn-bedrock-*",
];
/// Response headers a page may read.
pub const EXPOSED_HEADERS: &str = "x-amzn-ErrorType, x-amzn-RequestId, \
     X-Amzn-Bedrock-Input-Token-Count, X-Amzn-Bedrock-Invocation-Latency";
pub const MAX_AGE_SECONDS: u32 = 600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsConfig {
    /// Origins allowed to call, e.g. `http://127.0.0.1:8080`; `*` is a wildcard
    /// (`http://localhost:*`, or `*` for any origin).
    pub allowed_origins: Vec<String>,
}

impl CorsConfig {
    pub fn allows(&self, origin: &str) -> bool {
        crate::cors::origin_matches(&self.allowed_origins, origin)
    }

    /// Answers a preflight: the headers of a `200`, or `None` when the origin, the method (only
    /// `POST` is served) or a requested header is not allowed.
    pub fn preflight(&self, request: &HeaderMap) -> Option<HeaderMap> {
        let origin = request.get(header::ORIGIN)?;
        if !origin.to_str().is_ok_and(|o| self.allows(o)) {
            return None;
        }
        let method = request.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        if method.as_bytes() != b"POST" {
            return None;
        }
        let requested = crate::cors::requested_headers(request);
        if !requested
            .iter()
            .all(|h| ALLOWED_HEADERS.iter().any(|p| wildcard(p, h, true)))
        {
            return None;
        }
        let mut out = HeaderMap::new();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        if let Ok(v) = HeaderValue::from_str(&requested.join(", "))
            && !requested.is_empty()
        {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(MAX_AGE_SECONDS),
        );
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        Some(out)
    }

    /// Adds the CORS grant to an actual response (errors included) when the request's origin is
    /// allowed.
    pub fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get(header::ORIGIN) else {
            return;
        };
        if origin.to_str().is_ok_and(|o| self.allows(o)) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
            response.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// A preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn preflight_grants_sigv4_headers_for_configured_origins() {
        let cors = CorsConfig {
            allowed_origins: vec!["http://localhost:*".into()],
        };
        let request = [
            ("origin", "http://localhost:8080"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type, x-amz-date, X-Amz-Security-Token, amz-sdk-request",
            ),
        ];
        let ok = cors.preflight(&headers(&request)).unwrap();
        assert_eq!(ok["access-control-allow-origin"], "http://localhost:8080");
        assert!(
            ok["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("x-amz-security-token")
        );
        let mut other = request;
        other[0].1 = "http://evil.example";
        assert!(cors.preflight(&headers(&other)).is_none());
        let mut put = request;
        put[1].1 = "PUT";
        assert!(cors.preflight(&headers(&put)).is_none());
        let mut odd = request;
        odd[2].1 = "authorization, x-secret";
        assert!(cors.preflight(&headers(&odd)).is_none());
    }
}
