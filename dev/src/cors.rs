//! CORS for the local stack, evaluated the way S3 evaluates a bucket's CORS rule: a preflight
//! is granted only when its origin, method and every requested header are allowed; otherwise it
//! is refused and carries no `Access-Control-Allow-*` header at all. Actual requests from an
//! allowed origin get `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers`.
//!
//! It works on header maps only, so any server of the stack can use it: call
//! [`Cors::preflight`] for `OPTIONS` requests and [`Cors::decorate`] on every other response.

use crate::policy::wildcard;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The methods a browser may use (S3's `AllowedMethods`).
pub const ALLOWED_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Request headers a browser may send: what SigV4 and the AWS SDKs need, conditional and range
/// requests, and object metadata. Patterns use `*` as in S3's `AllowedHeaders`.
pub const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-md5",
    "content-encoding",
    "content-disposition",
    "cache-control",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-user-agent",
    "x-amz-*",
    "amz-sdk-*",
];

/// Response headers S3 exposes to scripts.
pub const S3_EXPOSE_HEADERS: &[&str] = &[
    "ETag",
    "Content-Range",
    "Content-Length",
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-version-id",
];

/// How long a browser may cache a granted preflight.
pub const MAX_AGE_SECS: u32 = 3000;

#[derive(Clone, Debug)]
pub struct Cors {
    /// Allowed origins: exact (`http://localhost:8080`), with one `*` wildcard
    /// (`http://localhost:*`), or `*` for any origin.
    origins: Vec<String>,
    expose_headers: String,
}

/// Why a preflight was refused (each is answered `403 AccessForbidden`, as S3 does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Origin` header: S3 answers 400 `BadRequest` here, not 403.
    MissingOrigin,
    /// No or an unparsable `Access-Control-Request-Method`: 400 as well.
    MissingMethod,
    /// The origin, method or a requested header is not allowed.
    NotAllowed,
}

impl Cors {
    pub fn new(origins: impl IntoIterator<Item = String>) -> Cors {
        Cors {
            origins: origins.into_iter().collect(),
            expose_headers: S3_EXPOSE_HEADERS.join(", "),
        }
    }

    /// The same origins, exposing other response headers (e.g. Bedrock's `x-amzn-RequestId`).
    pub fn with_expose_headers(&self, headers: &[&str]) -> Cors {
        Cors {
            origins: self.origins.clone(),
            expose_headers: headers.join(", "),
        }
    }

    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The value of `Access-Control-Allow-Origin` for `origin`, if it is allowed.
    pub fn allow_origin<'a>(&'a self, origin: &'a str) -> Option<&'a str> {
        if self.origins.iter().any(|o| o == "*") {
            return Some("*");
        }
        origin_matches(&self.origins, origin).then_some(origin)
    }

    /// Answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): the
    /// headers of a `200` response, or why it is refused.
    pub fn preflight(&self, request: &HeaderMap) -> Result<HeaderMap, Refusal> {
        let origin = text(request, header::ORIGIN).ok_or(Refusal::MissingOrigin)?;
        let method = text(request, header::ACCESS_CONTROL_REQUEST_METHOD)
            .filter(|m| !m.is_empty())
            .ok_or(Refusal::MissingMethod)?;
        let allow_origin = self.allow_origin(origin).ok_or(Refusal::NotAllowed)?;
        if !ALLOWED_METHODS.contains(&method) {
            return Err(Refusal::NotAllowed);
        }
        let requested = requested_headers(request);
        let header_allowed = |h: &str| ALLOWED_HEADERS.iter().any(|p| wildcard(p, h, true));
        if !requested.iter().all(|h| header_allowed(h)) {
            return Err(Refusal::NotAllowed);
        }
        let mut out = HeaderMap::new();
        self.grant(&mut out, allow_origin);
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, PUT, POST, DELETE, HEAD"),
        );
        if !requested.is_empty()
            && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
        {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(MAX_AGE_SECS),
        );
        out.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
        out.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Method"),
        );
        Ok(out)
    }

    /// Adds the CORS grant to the response of an actual (non-preflight) request whose
    /// `Origin` is allowed. Responses to other origins are left without any CORS header.
    pub fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = text(request, header::ORIGIN) else {
            return;
        };
        if let Some(allow_origin) = self.allow_origin(origin) {
            self.grant(response, allow_origin);
        }
    }

    fn grant(&self, out: &mut HeaderMap, allow_origin: &str) {
        let Ok(origin) = HeaderValue::from_str(allow_origin) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if allow_origin != "*" {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            out.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if let Ok(v) = HeaderValue::from_str(&self.expose_headers) {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
}

/// Whether `origin` is one of `patterns`: exact, or with `*` wildcards (`http://localhost:*`).
/// Shared by the S3 and Bedrock endpoints so both grant the same origins.
pub fn origin_matches(patterns: &[String], origin: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == origin || (p.contains('*') && wildcard(p, origin, false)))
}

/// The header names a preflight asks for (`Access-Control-Request-Headers`), lower-cased.
pub fn requested_headers(request: &HeaderMap) -> Vec<String> {
    request
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn grants_configured_origins_only() {
        let cors = Cors::new(["http://localhost:8080".to_string()]);
        let ok = cors
            .preflight(&req(&[
                ("origin", "http://localhost:8080"),
                ("access-control-request-method", "PUT"),
                (
                    "access-control-request-headers",
                    "authorization,x-amz-date, x-amz-content-sha256,X-Amz-Security-Token,amz-sdk-invocation-id",
                ),
                ("access-control-request-headers", "if-none-match"),
            ]))
            .unwrap();
        assert_eq!(ok["access-control-allow-origin"], "http://localhost:8080");
        assert!(
            ok["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("x-amz-security-token")
        );
        assert!(
            ok["access-control-expose-headers"]
                .to_str()
                .unwrap()
                .contains("ETag")
        );
        assert_eq!(
            cors.preflight(&req(&[
                ("origin", "http://evil.example"),
                ("access-control-request-method", "GET"),
            ])),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            cors.preflight(&req(&[
                ("origin", "http://localhost:8080"),
                ("access-control-request-method", "PATCH"),
            ])),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            cors.preflight(&req(&[
                ("origin", "http://localhost:8080"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-custom"),
            ])),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            cors.preflight(&req(&[("access-control-request-method", "GET")])),
            Err(Refusal::MissingOrigin)
        );
        let mut resp = HeaderMap::new();
        cors.decorate(&req(&[("origin", "http://evil.example")]), &mut resp);
        assert!(resp.is_empty());
        cors.decorate(&req(&[("origin", "http://localhost:8080")]), &mut resp);
        assert_eq!(resp["access-control-allow-origin"], "http://localhost:8080");
    }

    #[test]
    fn wildcard_origins() {
        let cors = Cors::new(["http://localhost:*".to_string()]);
        assert_eq!(
            cors.allow_origin("http://localhost:5173"),
            Some("http://localhost:5173")
        );
        assert_eq!(cors.allow_origin("http://example.com"), None);
        let any = Cors::new(["*".to_string()]);
        assert_eq!(any.allow_origin("http://example.com"), Some("*"));
        assert_eq!(Cors::new([]).allow_origin("http://localhost"), None);
    }
}
