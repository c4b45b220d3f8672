//! Credentials and where they come from.
//!
//! - [`StaticProvider`]: fixed keys (and optionally a session token), e.g. from
//!   [`StaticProvider::from_env`] natively.
//! - [`CachingProvider`]: wraps a [`CredentialsFetcher`] (the presign endpoint, STS AssumeRole,
//!   a test double), keeps the last credentials, fetches new ones `refresh_margin` before they
//!   expire, runs at most one fetch at a time (concurrent callers share its result, success or
//!   error), and forgets credentials a service called expired ([`CredentialsProvider::invalidate`]).
//! - [`PresignFetcher`]: GETs (or POSTs to) the presign endpoint and reads its JSON.
//!
//! The time is always an argument (`now`): nothing here reads the clock.

use super::error::{AwsError, ServiceError, redact_url};
use super::http::{Request, Transport};
use super::runtime::{BoxFuture, MaybeSend, MaybeSync};
use futures_util::FutureExt;
use futures_util::future::Shared;
use http::Method;
use serde::Deserialize;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// An access key, its secret, and for temporary credentials the session token and expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: Arc<str>,
    secret_access_key: Arc<str>,
    session_token: Option<Arc<str>>,
    expiration: Option<SystemTime>,
}

impl Credentials {
    /// Long-lived keys, or temporary ones when `session_token` is given.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expiration: Option<SystemTime>,
    ) -> Self {
        Credentials {
            access_key_id: Arc::from(access_key_id.into()),
            secret_access_key: Arc::from(secret_access_key.into()),
            session_token: session_token.map(Arc::from),
            expiration,
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    pub fn expiration(&self) -> Option<SystemTime> {
        self.expiration
    }

    /// Whether the credentials are still usable at `now`, with `margin` to spare.
    pub fn valid_at(&self, now: SystemTime, margin: Duration) -> bool {
        match self.expiration {
            None => true,
            Some(exp) => now.checked_add(margin).is_some_and(|t| t < exp),
        }
    }

    /// Checks what a signer needs: non-empty keys.
    pub fn validate(&self, source: &str) -> Result<(), AwsError> {
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Err(AwsError::Credentials(format!(
                "{source} gave an empty access key id or secret: check its configuration"
            )));
        }
        if self.session_token.as_deref() == Some("") {
            return Err(AwsError::Credentials(format!(
                "{source} gave an empty session token: omit it for long-lived keys, or give the \
                 whole token"
            )));
        }
        Ok(())
    }

    /// As the signer wants them.
    pub(crate) fn identity(&self) -> aws_smithy_runtime_api::client::identity::Identity {
        aws_credential_types::Credentials::new(
            self.access_key_id.to_string(),
            self.secret_access_key.to_string(),
            self.session_token.as_deref().map(str::to_string),
            self.expiration,
            "s3vec",
        )
        .into()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Gives credentials valid at `now`.
pub trait CredentialsProvider: MaybeSend + MaybeSync {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, AwsError>>;

    /// A service refused `stale` as expired: forget them, so the next call gets new ones.
    /// Credentials other than `stale` (already replaced) are kept.
    fn invalidate(&self, stale: &Credentials) {
        let _ = stale;
    }
}

/// The same credentials every time.
#[derive(Clone, Debug)]
pub struct StaticProvider(Credentials);

impl StaticProvider {
    pub fn new(credentials: Credentials) -> Self {
        StaticProvider(credentials)
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional) `AWS_SESSION_TOKEN`.
    /// Native only: a browser has no environment.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Result<Self, AwsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From the standard variables, read through `var` (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, AwsError> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(AwsError::Credentials(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set: export both (and \
                 AWS_SESSION_TOKEN for temporary credentials)"
                    .into(),
            ));
        };
        Ok(StaticProvider(Credentials::new(
            id,
            secret,
            get("AWS_SESSION_TOKEN"),
            None,
        )))
    }
}

impl CredentialsProvider for StaticProvider {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        let result = match self.0.validate("static credentials") {
            Err(e) => Err(e),
            Ok(()) if !self.0.valid_at(now, Duration::ZERO) => Err(AwsError::Credentials(
                "the static credentials have expired: give new ones".into(),
            )),
            Ok(()) => Ok(self.0.clone()),
        };
        Box::pin(std::future::ready(result))
    }
}

/// Fetches new temporary credentials: one call to the presign endpoint, to STS, ...
pub trait CredentialsFetcher: MaybeSend + MaybeSync {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>>;
}

type SharedFetch = Shared<BoxFuture<'static, Result<Credentials, AwsError>>>;

struct CacheState {
    /// The credentials and when they were fetched.
    current: Option<(Credentials, SystemTime)>,
    /// The fetch in flight, with its number (to tell it from a later one).
    inflight: Option<(u64, SharedFetch)>,
    next_fetch: u64,
}

/// Caches a [`CredentialsFetcher`]'s credentials and refreshes them before they expire.
///
/// - Credentials are reused until `refresh_margin` before their expiry (at most half their
///   lifetime, so short sessions are not refetched on every call).
/// - While a fetch is in flight, every caller awaits that same fetch: one call, one result
///   (success or error), on one thread or many.
/// - If a refresh fails while the old credentials are still valid, the old ones are used.
/// - [`CredentialsProvider::invalidate`] drops credentials a service called expired.
pub struct CachingProvider {
    fetcher: Arc<dyn CredentialsFetcher>,
    refresh_margin: Duration,
    state: Mutex<CacheState>,
    fetches: AtomicU64,
}

/// Refresh five minutes before expiry by default (STS sessions last 15 minutes to 12 hours).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl CachingProvider {
    pub fn new(fetcher: Arc<dyn CredentialsFetcher>) -> Self {
        Self::with_margin(fetcher, DEFAULT_REFRESH_MARGIN)
    }

    pub fn with_margin(fetcher: Arc<dyn CredentialsFetcher>, refresh_margin: Duration) -> Self {
        CachingProvider {
            fetcher,
            refresh_margin,
            state: Mutex::new(CacheState {
                current: None,
                inflight: None,
                next_fetch: 0,
            }),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many fetches have started (for tests and diagnostics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // Every write under this lock is a single assignment, so a lock poisoned by a panic
        // elsewhere still guards a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether credentials fetched at `fetched_at` can be handed out at `now` without a refresh.
    fn fresh(&self, c: &Credentials, fetched_at: SystemTime, now: SystemTime) -> bool {
        let Some(exp) = c.expiration() else {
            return true;
        };
        let lifetime = exp.duration_since(fetched_at).unwrap_or(Duration::ZERO);
        c.valid_at(now, self.refresh_margin.min(lifetime / 2))
    }

    async fn get(&self, now: SystemTime) -> Result<Credentials, AwsError> {
        let (id, fetch, previous) = {
            let mut st = self.lock();
            if let Some((c, at)) = &st.current
                && self.fresh(c, *at, now)
            {
                return Ok(c.clone());
            }
            let previous = st.current.as_ref().map(|(c, _)| c.clone());
            match &st.inflight {
                Some((id, f)) => (*id, f.clone(), previous),
                None => {
                    let id = st.next_fetch;
                    st.next_fetch += 1;
                    self.fetches.fetch_add(1, Ordering::Relaxed);
                    let fetcher = self.fetcher.clone();
                    let fut: BoxFuture<'static, Result<Credentials, AwsError>> =
                        Box::pin(async move { fetcher.fetch().await });
                    let shared = fut.shared();
                    st.inflight = Some((id, shared.clone()));
                    (id, shared, previous)
                }
            }
        };
        let result = fetch.await.and_then(|c| {
            c.validate("the credentials fetcher")?;
            if !c.valid_at(now, Duration::ZERO) {
                return Err(AwsError::Credentials(format!(
                    "the fetched credentials expired at {} but the clock says {}: set the clock \
                     right (or the credentials source hands out stale ones)",
                    fmt_time(c.expiration()),
                    fmt_time(Some(now)),
                )));
            }
            Ok(c)
        });
        let mut st = self.lock();
        if st.inflight.as_ref().is_some_and(|(i, _)| *i == id) {
            st.inflight = None;
            if let Ok(c) = &result {
                st.current = Some((c.clone(), now));
            }
        }
        drop(st);
        match (result, previous) {
            (Ok(c), _) => Ok(c),
            // The refresh failed, but the credentials we had are still good for a while.
            (Err(_), Some(p)) if p.valid_at(now, Duration::ZERO) => Ok(p),
            (Err(e), _) => Err(e),
        }
    }
}

impl CredentialsProvider for CachingProvider {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        Box::pin(self.get(now))
    }

    fn invalidate(&self, stale: &Credentials) {
        let mut st = self.lock();
        if st.current.as_ref().is_some_and(|(c, _)| c == stale) {
            st.current = None;
        }
    }
}

/// A [`CredentialsProvider`] shared between clients.
impl<P: CredentialsProvider + ?Sized> CredentialsProvider for Arc<P> {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        (**self).credentials(now)
    }

    fn invalidate(&self, stale: &Credentials) {
        (**self).invalidate(stale)
    }
}

fn fmt_time(t: Option<SystemTime>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            };
            time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| format!("{secs} s after the epoch"))
        }
    }
}

/// Parses an ISO 8601 / RFC 3339 time (`2025-01-01T00:00:00Z`, with or without fractions).
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?;
    let secs = t.unix_timestamp();
    let nanos = t.nanosecond();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(nanos as u64))
    }
}

/// Endpoint overrides the presign endpoint may send (for the local stack and proxies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignEndpoints {
    pub s3: Option<String>,
    pub bedrock: Option<String>,
    pub sts: Option<String>,
    /// The presign service's Bedrock CORS relay (`{base}/bedrock`): a browser sends the
    /// `InvokeModel` request it signed for `bedrock` to `{bedrockRelay}/model/{id}/invoke`
    /// when Bedrock's own endpoint does not answer cross-origin requests.
    pub bedrock_relay: Option<String>,
}

/// Where the credentials may be used, as the presign endpoint describes it. Every field is
/// optional; unknown fields are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignConfig {
    pub region: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub model_id: Option<String>,
    /// What the session policy allows: `"read"` or `"write"`.
    pub access: Option<String>,
    #[serde(default)]
    pub endpoints: PresignEndpoints,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The presign endpoint's answer: credentials and the configuration that goes with them.
#[derive(Clone, Debug)]
pub struct PresignResponse {
    pub credentials: Credentials,
    pub config: PresignConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresignJson {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
    #[serde(flatten)]
    config: PresignConfig,
}

/// Reads the presign endpoint's JSON: `accessKeyId`, `secretAccessKey`, `sessionToken`,
/// `expiration` (ISO 8601) and the configuration fields.
pub fn parse_presign_response(body: &[u8], url: &str) -> Result<PresignResponse, AwsError> {
    let url = redact_url(url);
    let json: PresignJson = serde_json::from_slice(body).map_err(|e| {
        AwsError::Credentials(format!(
            "the presign endpoint {url} answered something that is not its JSON ({e}): check \
             the credentials URL"
        ))
    })?;
    let missing = |field: &str| {
        AwsError::Credentials(format!(
            "the presign endpoint {url} answered without `{field}`: check the endpoint's version"
        ))
    };
    let id = json.access_key_id.ok_or_else(|| missing("accessKeyId"))?;
    let secret = json
        .secret_access_key
        .ok_or_else(|| missing("secretAccessKey"))?;
    let expiration = match json.expiration.as_deref() {
        None => None,
        Some(s) => Some(parse_iso8601(s).ok_or_else(|| {
            AwsError::Credentials(format!(
                "the presign endpoint {url} sent expiration {s:?}, which is not an ISO 8601 time \
                 like 2025-01-01T00:00:00Z: fix the endpoint"
            ))
        })?),
    };
    let credentials = Credentials::new(id, secret, json.session_token, expiration);
    credentials.validate(&format!("the presign endpoint {url}"))?;
    Ok(PresignResponse {
        credentials,
        config: json.config,
    })
}

/// Fetches credentials from the presign endpoint: `GET url` (or `POST` with a body), with
/// extra headers if given (an `Authorization` for callers allowed to write).
pub struct PresignFetcher {
    transport: Arc<dyn Transport>,
    url: String,
    method: Method,
    headers: Vec<(&'static str, String)>,
    body: bytes::Bytes,
    latest: Mutex<Option<PresignConfig>>,
}

impl PresignFetcher {
    pub fn new(transport: Arc<dyn Transport>, url: impl Into<String>) -> Self {
        PresignFetcher {
            transport,
            url: url.into(),
            method: Method::GET,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            latest: Mutex::new(None),
        }
    }

    /// POST `body` (JSON) instead of GET.
    pub fn post_json(mut self, body: impl Into<bytes::Bytes>) -> Self {
        self.method = Method::POST;
        self.body = body.into();
        self.headers
            .push(("content-type", "application/json".into()));
        self
    }

    /// Sends `name: value` with every request (e.g. `authorization`).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The configuration of the last successful fetch.
    pub fn latest_config(&self) -> Option<PresignConfig> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One call to the endpoint.
    pub async fn fetch_response(&self) -> Result<PresignResponse, AwsError> {
        let mut request = Request::parse(self.method.clone(), &self.url)?;
        for (name, value) in &self.headers {
            request.header(name, value)?;
        }
        request.header("accept", "application/json")?;
        request.body = self.body.clone();
        let response = self.transport.send(request).await?;
        if !response.status.is_success() {
            let message = summarize_body(&response.body);
            return Err(AwsError::from(ServiceError {
                service: "presign",
                operation: "GetCredentials",
                resource: redact_url(&self.url),
                status: response.status.as_u16(),
                code: json_error_code(&response.body).unwrap_or_else(|| {
                    response
                        .status
                        .canonical_reason()
                        .unwrap_or("Error")
                        .replace(' ', "")
                }),
                message,
                request_id: response
                    .header("x-amzn-requestid")
                    .or_else(|| response.header("x-amz-request-id"))
                    .map(str::to_string),
            }));
        }
        let parsed = parse_presign_response(&response.body, &self.url)?;
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(parsed.config.clone());
        Ok(parsed)
    }
}

impl CredentialsFetcher for PresignFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        Box::pin(async move { self.fetch_response().await.map(|r| r.credentials) })
    }
}

/// The `code`/`error`/`__type` of a JSON error body, if any.
fn json_error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["code", "Code", "error", "__type"]
        .iter()
        .find_map(|k| v.get(k).and_then(|c| c.as_str()).map(str::to_string))
}

/// A short printable excerpt of an error body: its JSON `message` if it has one.
pub(crate) fn summarize_body(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(m) = ["message", "Message", "errorMessage"]
            .iter()
            .find_map(|k| v.get(k).and_then(|m| m.as_str()))
    {
        return m.to_string();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
