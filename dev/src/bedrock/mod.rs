//! A Bedrock-compatible embedding service: `POST /model/{modelId}/invoke` for Titan Text
//! Embeddings V2 and V1 ([`titan`]) and Cohere Embed English and Multilingual v3 ([`cohere`]),
//! with their exact request and response bodies, backed by a real sentence-embedding model
//! ([`crate::model`]).
//!
//! Each request goes through what bedrock-runtime checks, in this order: the SigV4 signature
//! (signing name `bedrock`, clock skew at most 15 minutes), the access key and its session token
//! and expiry ([`CredentialStore`]), the session policy (`bedrock:InvokeModel` on
//! `arn:aws:bedrock:{region}::foundation-model/{modelId}`), the model id, the rate limit,
//! injected faults, then the body. Errors are answered as Bedrock answers them: a status code,
//! `x-amzn-ErrorType` and `{"message": ...}`. Every response carries `x-amzn-RequestId`.
//!
//! Not part of Bedrock: `GET`/`PUT /_dev/bedrock` reads and changes the rate limit, the faults and
//! the CORS origins of a running server (unauthenticated; the server listens on 127.0.0.1 only).

pub mod cli;
pub mod cohere;
pub mod cors;
pub mod error;
pub mod limits;
pub mod sigv4;
pub mod titan;

use crate::creds::{AuthError, CredentialStore, Principal};
use crate::model::pool::{ModelPool, PoolConfig};
use crate::model::{Embedder, ModelError, ensure_model};
use crate::policy::{Context, Decision};
use bytes::Bytes;
use cohere::CohereModel;
use cors::CorsConfig;
use error::BedrockError;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use limits::{Faults, RateLimit};
use serde_json::json;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use titan::TitanModel;
use tokio::net::TcpListener;

/// The IAM action every invocation needs.
pub const INVOKE_ACTION: &str = "bedrock:InvokeModel";
/// The SigV4 signing name.
pub const SIGNING_NAME: &str = "bedrock";
/// Largest request body read: 96 Cohere texts of 2,048 characters fit even with every character
/// escaped (`\u0001`, 6 bytes), and so does a 50,000-character Titan text. (Bedrock's own limit
/// is far higher; nothing valid comes near this one.)
pub const MAX_BODY_BYTES: usize = 2 << 20;
/// The path of the local control endpoint (not part of Bedrock).
pub const CONTROL_PATH: &str = "/_dev/bedrock";

#[derive(Clone, Debug)]
pub struct BedrockConfig {
    /// The region requests must be signed for (default `us-east-1`).
    pub region: String,
    /// `None`: no CORS headers at all.
    pub cors: Option<CorsConfig>,
    /// Requests per second before `ThrottlingException`; `None`: no limit.
    pub rate_limit: Option<f64>,
    pub faults: Faults,
    /// Allowed difference between `x-amz-date` and the clock.
    pub max_skew: Duration,
}

impl Default for BedrockConfig {
    fn default() -> Self {
        BedrockConfig {
            region: "us-east-1".into(),
            cors: None,
            rate_limit: None,
            faults: Faults::default(),
            max_skew: sigv4::MAX_SKEW,
        }
    }
}

/// Everything a running service shares between requests.
pub struct BedrockState {
    creds: Arc<CredentialStore>,
    model: Arc<ModelPool>,
    region: String,
    max_skew: Duration,
    cors: RwLock<Option<CorsConfig>>,
    rate_limit: Mutex<Option<(f64, RateLimit)>>,
    faults: RwLock<Faults>,
    /// Invocations since the faults were last set (the fault pattern counts from there).
    invocations: AtomicU64,
}

impl BedrockState {
    pub fn new(
        creds: Arc<CredentialStore>,
        model: Arc<ModelPool>,
        config: BedrockConfig,
    ) -> BedrockState {
        let state = BedrockState {
            creds,
            model,
            region: config.region,
            max_skew: config.max_skew,
            cors: RwLock::new(config.cors),
            rate_limit: Mutex::new(None),
            faults: RwLock::new(Faults::default()),
            invocations: AtomicU64::new(0),
        };
        state.set_rate_limit(config.rate_limit);
        if let Err(e) = state.set_faults(config.faults) {
            tracing::warn!("bedrock: faults ignored: {e}");
        }
        state
    }

    /// Fetches the model into `model_dir` if needed (see [`ensure_model`]), loads it and starts
    /// its worker threads. Blocking (reads ~90 MB): call it before serving, or from
    /// `spawn_blocking`.
    pub fn load(
        creds: Arc<CredentialStore>,
        model_dir: &Path,
        pool: &PoolConfig,
        config: BedrockConfig,
    ) -> Result<BedrockState, ModelError> {
        ensure_model(model_dir)?;
        let embedder = Arc::new(Embedder::load(model_dir)?);
        let model = Arc::new(ModelPool::start(embedder, pool));
        Ok(BedrockState::new(creds, model, config))
    }

    pub fn model(&self) -> &Arc<ModelPool> {
        &self.model
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sets or removes the request-rate limit (requests per second; the bucket starts full).
    pub fn set_rate_limit(&self, rate: Option<f64>) {
        let limit = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| (r, RateLimit::new(r, Instant::now())));
        *lock(&self.rate_limit) = limit;
    }

    pub fn rate_limit(&self) -> Option<f64> {
        lock(&self.rate_limit).as_ref().map(|(r, _)| *r)
    }

    /// Replaces the injected faults and restarts their pattern. Invalid faults are refused.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
        self.invocations.store(0, Ordering::SeqCst);
        Ok(())
    }

    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Switches CORS on (with these origins) or off.
    pub fn set_cors(&self, cors: Option<CorsConfig>) {
        *self.cors.write().unwrap_or_else(|e| e.into_inner()) = cors;
    }

    pub fn cors(&self) -> Option<CorsConfig> {
        self.cors.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the Bedrock endpoint on `listener` (HTTP/1.1) until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<BedrockState>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("bedrock: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = state.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle_incoming(&state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("bedrock: connection ended: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // In-flight invocations get a while to finish; idle keep-alive connections are closed.
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}

async fn handle_incoming(state: &BedrockState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => handle(state, Request::from_parts(parts, collected.to_bytes())).await,
        Err(e) => {
            let error = if e.is::<http_body_util::LengthLimitError>() {
                BedrockError::malformed(format!(
                    "the request body is larger than {MAX_BODY_BYTES} bytes"
                ))
            } else {
                BedrockError::validation(format!("could not read the request body: {e}"))
            };
            let mut response = error_response(&error);
            finish(state, &parts, &mut response);
            response
        }
    }
}

/// Answers one request whose body has been read.
pub async fn handle(state: &BedrockState, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let cors = state.cors();
    let mut response = match &cors {
        Some(cors) if cors::is_preflight(&parts.method, &parts.headers) => {
            match cors.preflight(&parts.headers) {
                Some(headers) => {
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.headers_mut() = headers;
                    response
                }
                // Refused: a 403 without any CORS header, so the browser blocks the call.
                None => error_response(&BedrockError::access_denied(
                    "CORS preflight refused: the origin, method or a requested header is not \
                     allowed.",
                )),
            }
        }
        _ => match invoke(state, &parts, &body).await {
            Ok(response) => response,
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::warn!("bedrock: {e}");
                } else {
                    tracing::debug!("bedrock: {e}");
                }
                error_response(&e)
            }
        },
    };
    finish(state, &parts, &mut response);
    response
}

/// Adds `x-amzn-RequestId`, and the CORS grant where CORS is on and the origin allowed.
fn finish(
    state: &BedrockState,
    request: &http::request::Parts,
    response: &mut Response<Full<Bytes>>,
) {
    if let Some(cors) = state.cors()
        && !cors::is_preflight(&request.method, &request.headers)
    {
        cors.decorate(&request.headers, response.headers_mut());
    }
    let id = HeaderValue::from_str(&crate::stack::uuid()).expect("a UUID is a valid header value");
    response.headers_mut().insert("x-amzn-RequestId", id);
}

pub fn error_response(e: &BedrockError) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(e.body())));
    *response.status_mut() = e.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-amzn-ErrorType", HeaderValue::from_static(e.kind));
    response
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn invoke(
    state: &BedrockState,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Response<Full<Bytes>>, BedrockError> {
    if parts.uri.path() == CONTROL_PATH {
        return control(state, parts, body);
    }
    let now = SystemTime::now();
    let expect = sigv4::Expect {
        service: SIGNING_NAME,
        region: &state.region,
        now,
        max_skew: state.max_skew,
    };
    let verified = sigv4::verify(parts, body, &expect, |key| state.creds.secret_for(key)).map_err(
        |e| match e {
            sigv4::VerifyError::Unsigned => BedrockError::missing_authentication(),
            sigv4::VerifyError::UnknownKey => BedrockError::unrecognized_client(),
            sigv4::VerifyError::Rejected(e) => e,
        },
    )?;
    let principal = state
        .creds
        .authenticate(&verified.access_key, verified.session_token.as_deref(), now)
        .map_err(|e| match e {
            AuthError::InvalidAccessKeyId | AuthError::InvalidToken => {
                BedrockError::unrecognized_client()
            }
            AuthError::ExpiredToken => BedrockError::expired_token(),
        })?;

    let model_id = route(parts)?;
    let resource = if model_id.starts_with("arn:") {
        model_id.clone()
    } else {
        format!(
            "arn:aws:bedrock:{}::foundation-model/{model_id}",
            state.region
        )
    };
    authorize(&principal, &resource)?;
    let model = Model::from_model_id(&model_id).ok_or_else(BedrockError::model_not_found)?;

    if let Some((_, limit)) = lock(&state.rate_limit).as_mut()
        && !limit.try_acquire(Instant::now())
    {
        return Err(BedrockError::throttled());
    }
    let faults = state.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.error_rate > 0.0 && faults.fails(state.invocations.fetch_add(1, Ordering::SeqCst)) {
        return Err(if faults.error_status == 500 {
            BedrockError::internal()
        } else {
            BedrockError::unavailable()
        });
    }

    let started = Instant::now();
    let (body, tokens) = match model {
        Model::Titan(model) => {
            let request = titan::parse_request(model, body)?;
            let embedding = state
                .model
                .embed(request.input_text.clone())
                .await
                .map_err(model_failed)?;
            titan::check_tokens(embedding.token_count)?;
            (
                titan::response(model, &request, &embedding),
                embedding.token_count,
            )
        }
        Model::Cohere(_) => {
            let request = cohere::parse_request(body)?;
            let embeddings = state
                .model
                .embed_all(request.texts.clone())
                .await
                .map_err(model_failed)?;
            let counts: Vec<usize> = embeddings.iter().map(|e| e.token_count).collect();
            cohere::check_tokens(&request, &counts)?;
            (
                cohere::response(&request, &embeddings, &crate::stack::uuid()),
                counts.iter().sum(),
            )
        }
    };
    let mut response = json_response(StatusCode::OK, &body);
    let headers = response.headers_mut();
    headers.insert(
        "X-Amzn-Bedrock-Input-Token-Count",
        HeaderValue::from(tokens),
    );
    headers.insert(
        "X-Amzn-Bedrock-Invocation-Latency",
        HeaderValue::from(started.elapsed().as_millis() as u64),
    );
    Ok(response)
}

/// The models served, each with its own wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Titan(TitanModel),
    Cohere(CohereModel),
}

impl Model {
    /// The model a `modelId` (a model id or a foundation-model ARN) names, if it is served.
    pub fn from_model_id(model_id: &str) -> Option<Model> {
        TitanModel::from_model_id(model_id)
            .map(Model::Titan)
            .or_else(|| CohereModel::from_model_id(model_id).map(Model::Cohere))
    }
}

fn model_failed(e: crate::model::ModelError) -> BedrockError {
    tracing::error!("bedrock: the model failed: {e}");
    BedrockError::internal()
}

/// `POST /model/{modelId}/invoke` → the model id, percent-decoded.
fn route(parts: &http::request::Parts) -> Result<String, BedrockError> {
    let segments: Vec<&str> = parts.uri.path().split('/').collect();
    let ["", "model", id, "invoke"] = segments[..] else {
        return Err(BedrockError::unknown_operation());
    };
    if parts.method != Method::POST {
        return Err(BedrockError::unknown_operation());
    }
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| BedrockError::model_not_found())?;
    Ok(id.into_owned())
}

fn authorize(principal: &Principal, resource: &str) -> Result<(), BedrockError> {
    let (Principal::Session(session), Some(policy)) = (principal, principal.policy()) else {
        return Ok(());
    };
    let why = match policy.evaluate(INVOKE_ACTION, resource, &Context::new()) {
        Decision::Allow => return Ok(()),
        Decision::ExplicitDeny => "with an explicit deny in a session policy",
        Decision::ImplicitDeny => "because no session policy allows the bedrock:InvokeModel action",
    };
    Err(BedrockError::access_denied(format!(
        "User: {} is not authorized to perform: {INVOKE_ACTION} on resource: {resource} {why}",
        session.assumed_role_arn
    )))
}

/// `GET /_dev/bedrock` → `{"rateLimit", "faults", "corsOrigins"}`; `PUT` with any of those keys
/// changes them (`null` switches the rate limit or CORS off).
fn control(
    state: &BedrockState,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<Response<Full<Bytes>>, BedrockError> {
    if parts.method == Method::PUT {
        let update: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| BedrockError::validation(format!("expected a JSON object: {e}")))?;
        let mut faults = None;
        for (key, value) in &update {
            match key.as_str() {
                "rateLimit" if value.is_null() || value.as_f64().is_some_and(|r| r > 0.0) => {}
                "faults" => {
                    let f: Faults = serde_json::from_value(value.clone())
                        .map_err(|e| BedrockError::validation(format!("faults: {e}")))?;
                    f.validate().map_err(BedrockError::validation)?;
                    faults = Some(f);
                }
                "corsOrigins"
                    if value.is_null()
                        || value
                            .as_array()
                            .is_some_and(|a| a.iter().all(serde_json::Value::is_string)) => {}
                _ => {
                    return Err(BedrockError::validation(format!(
                        "unknown or invalid setting {key:?}: expected rateLimit (number > 0 or \
                         null), faults ({{latencyMs, errorRate, errorStatus}}) or corsOrigins \
                         (array of strings or null)"
                    )));
                }
            }
        }
        if let Some(rate) = update.get("rateLimit") {
            state.set_rate_limit(rate.as_f64());
        }
        if let Some(f) = faults {
            state.set_faults(f).map_err(BedrockError::validation)?;
        }
        if let Some(origins) = update.get("corsOrigins") {
            state.set_cors(origins.as_array().map(|a| {
                CorsConfig {
                    allowed_origins: a
                        .iter()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect(),
                }
            }));
        }
    } else if parts.method != Method::GET {
        return Err(BedrockError::unknown_operation());
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "rateLimit": state.rate_limit(),
            "faults": state.faults(),
            "corsOrigins": state.cors().map(|c| c.allowed_origins),
        }),
    ))
}
