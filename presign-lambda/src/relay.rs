//! The Bedrock CORS relay: forwards a browser's already-signed `InvokeModel` request to
//! bedrock-runtime and returns the answer with CORS headers.
//!
//! It adds no authority: the function's role holds no Bedrock permission, and the request's own
//! SigV4 signature (made with the session credentials, for the upstream host) is what Bedrock
//! checks. It forwards nothing but `POST /model/{allowed model}/invoke` signed for service
//! `bedrock` in this region, and only the headers the signature covers.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::future::Future;
use std::time::Duration;

/// Where relayed calls arrive: `POST {base}/bedrock/model/{modelId}/invoke`.
pub const ROUTE_PREFIX: &str = "/bedrock/model/";
const ROUTE_SUFFIX: &str = "/invoke";
/// Largest body relayed (Titan's 50,000 characters fit many times over).
pub const MAX_BODY: usize = 1024 * 1024;
/// Upstream answer headers passed back to the browser.
const ANSWER_HEADERS: &[&str] = &[
    "content-type",
    "x-amzn-requestid",
    "x-amzn-errortype",
    "x-amzn-bedrock-input-token-count",
    "x-amzn-bedrock-invocation-latency",
];
/// Headers that describe one connection, never forwarded even if signed.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
];
/// What AWS SDKs (and ours) leave unencoded in a path segment: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a request is not forwarded. Each is answered without calling Bedrock.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NotInvokeModel(String),
    OtherModel(String),
    Unsigned(String),
    TooLarge(usize),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotInvokeModel(_) => 404,
            Refusal::OtherModel(_) => 403,
            Refusal::Unsigned(_) => 400,
            Refusal::TooLarge(_) => 413,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotInvokeModel(_) => "RelayNotInvokeModel",
            Refusal::OtherModel(_) => "RelayModelNotAllowed",
            Refusal::Unsigned(_) => "RelayNotSigned",
            Refusal::TooLarge(_) => "RelayBodyTooLarge",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::NotInvokeModel(what) => format!(
                "the relay forwards only POST /bedrock/model/{{modelId}}/invoke without a query \
                 string, not {what}"
            ),
            Refusal::OtherModel(id) => format!(
                "the relay forwards InvokeModel for this deployment's model only, not {id:?}: \
                 use the modelId from the credentials response"
            ),
            Refusal::Unsigned(why) => format!(
                "{why}: sign the request with the session credentials (SigV4, service bedrock, \
                 for the bedrock endpoint of the credentials response), then send it here"
            ),
            Refusal::TooLarge(n) => format!(
                "the body is {n} bytes; the relay forwards at most {MAX_BODY}: embed shorter texts"
            ),
        }
    }
}

/// The part of the deployment the relay checks against.
pub struct Allowed<'a> {
    pub model_id: &'a str,
    pub model_arn: &'a str,
    pub region: &'a str,
    /// The upstream base URL (`https://bedrock-runtime.{region}.amazonaws.com`).
    pub upstream: &'a str,
}

/// Checks a relayed request and builds the one to send upstream.
pub fn prepare(
    allowed: &Allowed<'_>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<http::Request<Bytes>, Refusal> {
    let model = path
        .strip_prefix(ROUTE_PREFIX)
        .and_then(|rest| rest.strip_suffix(ROUTE_SUFFIX))
        .filter(|m| !m.is_empty());
    let (Some(model), &Method::POST, None | Some("")) = (model, method, query) else {
        return Err(Refusal::NotInvokeModel(format!("{method} {path}")));
    };
    // The platform may hand over the path decoded or not (`%3A` or `:`): compare decoded, and
    // forward the encoding every SDK signs, so the signature matches either way.
    let model = percent_decode_str(model)
        .decode_utf8()
        .map_err(|_| Refusal::OtherModel(model.to_string()))?;
    if model != allowed.model_id && model != allowed.model_arn {
        return Err(Refusal::OtherModel(model.into_owned()));
    }
    if body.len() > MAX_BODY {
        return Err(Refusal::TooLarge(body.len()));
    }
    let signed = signed_headers(headers, allowed.region)?;
    let url = format!(
        "{}/model/{}/invoke",
        allowed.upstream,
        utf8_percent_encode(&model, SEGMENT)
    );
    let mut request = http::Request::builder()
        .method(Method::POST)
        .uri(url)
        .body(body)
        .map_err(|e| Refusal::Unsigned(format!("the request cannot be rebuilt ({e})")))?;
    let mut names: Vec<&str> = signed;
    names.extend(["authorization", "x-amz-security-token"]);
    names.sort_unstable();
    names.dedup();
    let out = request.headers_mut();
    for name in names {
        if HOP_BY_HOP.contains(&name) {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        for value in headers.get_all(&name) {
            out.append(name.clone(), value.clone());
        }
    }
    Ok(request)
}

/// The signed header names of a SigV4 `Authorization` header, after checking that it is SigV4
/// for Bedrock in this region and covers the host and date.
fn signed_headers<'h>(headers: &'h HeaderMap, region: &str) -> Result<Vec<&'h str>, Refusal> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal::Unsigned("the request has no Authorization header".into()))?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        Refusal::Unsigned("the Authorization header is not AWS4-HMAC-SHA256".into())
    })?;
    let mut credential = None;
    let mut signed = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        }
    }
    let scope: Vec<&str> = credential.unwrap_or("").split('/').collect();
    if scope.len() != 5 || scope[3] != "bedrock" || scope[4] != "aws4_request" {
        return Err(Refusal::Unsigned(
            "the signature's scope is not <key>/<date>/<region>/bedrock/aws4_request".into(),
        ));
    }
    if scope[2] != region {
        return Err(Refusal::Unsigned(format!(
            "the request is signed for region {} but this relay forwards to {region}",
            scope[2]
        )));
    }
    let signed: Vec<&str> = signed.unwrap_or("").split(';').collect();
    for needed in ["host", "x-amz-date"] {
        if !signed.contains(&needed) {
            return Err(Refusal::Unsigned(format!(
                "the signature does not cover the {needed} header"
            )));
        }
    }
    Ok(signed)
}

/// Copies the upstream answer's useful headers onto the relay's answer.
pub fn answer_headers(upstream: &HeaderMap, out: &mut HeaderMap) {
    for name in ANSWER_HEADERS {
        if let Some(v) = upstream.get(*name) {
            out.insert(*name, v.clone());
        }
    }
}

/// Sends a prepared request to bedrock-runtime.
pub trait Upstream: Send + Sync + 'static {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, String>> + Send;
}

/// The real upstream: reqwest over rustls (ring) with the platform's roots, no redirects.
pub struct HttpUpstream {
    client: reqwest::Client,
}

/// Below the function's 30 s timeout, so a slow Bedrock gets a clear 504, not a cut-off.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(25);

impl HttpUpstream {
    pub fn new() -> Result<Self, String> {
        use std::sync::Arc;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| format!("cannot load the platform's root certificates: {e}"))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous() // only in that the verifier is a custom type: it verifies fully
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(UPSTREAM_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpUpstream { client })
    }
}

impl Upstream for HttpUpstream {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let mut answer = http::Response::builder().status(response.status());
        if let Some(h) = answer.headers_mut() {
            *h = response.headers().clone();
        }
        let body = response.bytes().await.map_err(describe)?;
        answer.body(body).map_err(|e| e.to_string())
    }
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "Bedrock did not answer within {} s",
            UPSTREAM_TIMEOUT.as_secs()
        )
    } else {
        format!("could not reach Bedrock: {}", e.without_url())
    }
}

/// Whether a relayed request may carry `name` (its CORS preflight asks first).
pub fn header_allowed(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "content-type"
            | "accept"
            | "x-amz-date"
            | "x-amz-security-token"
            | "x-amz-content-sha256"
            | "x-amz-user-agent"
            | "amz-sdk-invocation-id"
            | "amz-sdk-request"
    ) || name.starts_with("x-amzn-bedrock-")
}
