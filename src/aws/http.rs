//! One small HTTP transport for every client: a request goes out whole and its answer comes back
//! whole (shards are at most tens of megabytes; there is no streaming).

use super::error::{AwsError, TransportError, TransportErrorKind, redact_url};
use super::runtime::{BoxFuture, MaybeSend, MaybeSync};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::time::Duration;

/// A request, before or after signing. Cloneable (the body is reference-counted), so a retry
/// can sign the same request again.
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    /// Absolute and already percent-encoded.
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Parses `url` (absolute, percent-encoded).
    pub fn parse(method: Method, url: &str) -> Result<Self, AwsError> {
        let uri: Uri = url.parse().map_err(|e| {
            AwsError::invalid_input(format!(
                "{} is not a valid URL ({e}): give an absolute, percent-encoded http(s) URL",
                redact_url(url)
            ))
        })?;
        if uri.scheme().is_none() || uri.host().is_none() {
            return Err(AwsError::invalid_input(format!(
                "{} is not an absolute URL: give scheme and host, e.g. https://s3.us-east-1.amazonaws.com",
                redact_url(url)
            )));
        }
        Ok(Self::new(method, uri))
    }

    /// Adds a header; refuses values that cannot be sent (control characters).
    pub fn header(&mut self, name: &'static str, value: &str) -> Result<&mut Self, AwsError> {
        let v = http::HeaderValue::from_str(value).map_err(|_| {
            AwsError::invalid_input(format!(
                "header {name}: {value:?} cannot be sent in an HTTP header (control characters or \
                 non-ASCII): remove them"
            ))
        })?;
        self.headers.insert(name, v);
        Ok(self)
    }

    /// The URL without query, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.uri.to_string())
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the query (presigned signature, token) nor the headers (Authorization,
        // x-amz-security-token) are printed.
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A complete answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// A header's value as text, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends requests. [`ReqwestTransport`] is the real one; tests may script answers.
pub trait Transport: MaybeSend + MaybeSync {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
}

/// reqwest: hyper and rustls (ring, the platform's roots) natively, `fetch` on wasm32.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    timeout: Option<Duration>,
}

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl ReqwestTransport {
    /// A client with [`DEFAULT_TIMEOUT`] per request.
    pub fn new() -> Result<Self, AwsError> {
        Self::with_timeout(Some(DEFAULT_TIMEOUT))
    }

    /// A client whose requests time out after `timeout` (`None`: never).
    pub fn with_timeout(timeout: Option<Duration>) -> Result<Self, AwsError> {
        Ok(ReqwestTransport {
            client: build_client()?,
            timeout,
        })
    }

    /// Wraps a client configured elsewhere.
    pub fn from_client(client: reqwest::Client, timeout: Option<Duration>) -> Self {
        ReqwestTransport { client, timeout }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn build_client() -> Result<reqwest::Client, AwsError> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
        AwsError::invalid_input(format!(
            "TLS: cannot load the platform's root certificates ({e}): install the CA \
             certificates (Debian: ca-certificates) or set SSL_CERT_FILE"
        ))
    })?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AwsError::invalid_input(format!("TLS: {e}")))?
        .dangerous() // the "dangerous" part is only that the verifier is a custom type
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AwsError::invalid_input(format!("cannot build the HTTP client: {e}")))
}

#[cfg(target_arch = "wasm32")]
fn build_client() -> Result<reqwest::Client, AwsError> {
    reqwest::Client::builder()
        .build()
        .map_err(|e| AwsError::invalid_input(format!("cannot build the HTTP client: {e}")))
}

impl Transport for ReqwestTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let method = request.method.to_string();
            let url = request.uri.to_string();
            // reqwest's messages include the URL, query and all: drop it (presigned signatures
            // and session tokens live there); the redacted URL is in the error already.
            let fail = |kind, e: reqwest::Error| TransportError {
                kind,
                method: method.clone(),
                url: redact_url(&url),
                message: describe(&e.without_url()),
            };
            let mut builder = self
                .client
                .request(request.method.clone(), &url)
                .headers(request.headers)
                .body(request.body);
            if let Some(t) = self.timeout {
                builder = builder.timeout(t);
            }
            // Every request is signed anew and the manifest changes under the same URL: the
            // browser's HTTP cache must neither answer nor keep any of it.
            #[cfg(target_arch = "wasm32")]
            {
                builder = builder.fetch_cache_no_store();
            }
            let response = builder.send().await.map_err(|e| {
                let kind = if e.is_timeout() {
                    TransportErrorKind::Timeout
                } else if is_connect(&e) {
                    TransportErrorKind::Connect
                } else if e.is_builder() {
                    TransportErrorKind::Request
                } else {
                    TransportErrorKind::Other
                };
                fail(kind, e)
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| {
                let kind = if e.is_timeout() {
                    TransportErrorKind::Timeout
                } else {
                    TransportErrorKind::Body
                };
                fail(kind, e)
            })?;
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn is_connect(e: &reqwest::Error) -> bool {
    e.is_connect()
}

#[cfg(target_arch = "wasm32")]
fn is_connect(_e: &reqwest::Error) -> bool {
    false
}

/// Every `source()` of an error, joined: reqwest's own message is often just "error sending
/// request" with the cause underneath.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
