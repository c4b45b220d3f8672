//! The handler: routes, origin check, rate limits, and the two answers (credentials and the
//! relay). It sees a plain request and returns a plain response, so Lambda and the local server
//! serve the same code.

use crate::auth::{self, AuthError};
use crate::config::Config;
use crate::cors::{self, OriginCheck};
use crate::policy::{self, Access, Scope};
use crate::ratelimit::RateLimiter;
use crate::relay::{self, Upstream};
use crate::sts::{AssumeRole, AssumeRoleInput};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const CREDENTIALS_PATH: &str = "/credentials";
/// Largest `POST /credentials` body: it holds two short fields.
pub const MAX_CREDENTIALS_BODY: usize = 4096;

/// A request as either front end received it.
#[derive(Debug)]
pub struct Incoming {
    pub method: Method,
    /// As received, percent-encoded or not.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: Option<IpAddr>,
    /// This endpoint's base URL as callers reach it (`https://{id}.lambda-url.{region}.on.aws`).
    pub base_url: Option<String>,
}

/// An answer that is not a success: JSON `{code, message, retryable}`.
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    fn retry(mut self, after: Duration) -> Failure {
        self.retryable = true;
        self.retry_after = Some(after);
        self
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CredentialsRequest {
    prefix: Option<String>,
    access: Option<Access>,
}

pub struct App<S, U> {
    config: Config,
    sts: S,
    upstream: U,
    credentials_limit: RateLimiter,
    relay_limit: RateLimiter,
}

impl<S: AssumeRole, U: Upstream> App<S, U> {
    pub fn new(config: Config, sts: S, upstream: U) -> Self {
        App {
            credentials_limit: RateLimiter::per_minute(config.credentials_per_minute),
            relay_limit: RateLimiter::per_minute(config.relay_per_minute),
            config,
            sts,
            upstream,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request; never fails (every failure is an HTTP answer).
    pub async fn handle(&self, request: Incoming) -> Response<Bytes> {
        let started = Instant::now();
        let origin = cors::check(&self.config, &request.headers);
        let relay = self.config.relay && request.path.starts_with("/bedrock/");
        let result = match origin {
            OriginCheck::Refused(ref o) => Err(Failure::new(
                403,
                "OriginNotAllowed",
                format!(
                    "origin {o} is not allowed: add it to ALLOWED_ORIGINS if this site should \
                     get credentials"
                ),
            )),
            OriginCheck::Missing if !self.config.allow_missing_origin => Err(Failure::new(
                403,
                "OriginRequired",
                "the request has no Origin header: call from an allowed site, or set \
                 ALLOW_MISSING_ORIGIN=true for non-browser clients",
            )),
            _ if request.method == Method::OPTIONS
                && (relay || request.path == CREDENTIALS_PATH) =>
            {
                cors::preflight(&request.headers, relay)
                    .map_err(|m| Failure::new(403, "PreflightRefused", m))
            }
            _ if relay => self.relay(&request).await,
            _ if request.path == CREDENTIALS_PATH && request.method == Method::POST => {
                self.credentials(&request).await
            }
            _ if request.path == CREDENTIALS_PATH => Err(Failure::new(
                405,
                "MethodNotAllowed",
                format!("{} {CREDENTIALS_PATH}: use POST", request.method),
            )),
            _ => Err(Failure::new(
                404,
                "NotFound",
                format!(
                    "no route {}: use POST {CREDENTIALS_PATH}{}",
                    request.path,
                    if self.config.relay {
                        " or POST /bedrock/model/{modelId}/invoke"
                    } else {
                        ""
                    }
                ),
            )),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(f) => failure_response(&f),
        };
        if let OriginCheck::Allowed(value) = &origin {
            cors::grant(response.headers_mut(), value.clone(), relay);
        }
        tracing::info!(
            method = %request.method,
            path = %request.path,
            status = response.status().as_u16(),
            origin = ?request.headers.get("origin"),
            caller = ?request.source_ip,
            code = ?response.headers().get("x-amzn-errortype"),
            millis = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    }

    async fn credentials(&self, request: &Incoming) -> Result<Response<Bytes>, Failure> {
        self.credentials_limit
            .check(request.source_ip, Instant::now())
            .map_err(too_many)?;
        if request.body.len() > MAX_CREDENTIALS_BODY {
            return Err(Failure::new(
                413,
                "RequestTooLarge",
                format!(
                    "the body is {} bytes; send at most {MAX_CREDENTIALS_BODY}: \
                     {{\"prefix\": \"docs/\", \"access\": \"read\"}}",
                    request.body.len()
                ),
            ));
        }
        let asked: CredentialsRequest = if request.body.iter().all(u8::is_ascii_whitespace) {
            CredentialsRequest::default()
        } else {
            serde_json::from_slice(&request.body).map_err(|e| {
                Failure::new(
                    400,
                    "InvalidRequest",
                    format!(
                        "the body is not {{\"prefix\"?: string, \"access\"?: \"read\"|\"write\"}} \
                         ({e}): send that JSON, or an empty body for the defaults"
                    ),
                )
            })?
        };
        let header = request.headers.get(http::header::AUTHORIZATION);
        let authorized = auth::check_bearer(
            header.map(HeaderValue::as_bytes),
            self.config.write_token_sha256.as_ref(),
        )
        .map_err(|e| {
            let status = if e == AuthError::Malformed { 400 } else { 401 };
            Failure::new(status, "Unauthorized", e.message())
        })?;
        let access = asked.access.unwrap_or(Access::Read);
        if access == Access::Write && !authorized {
            return Err(Failure::new(
                401,
                "WriteNotAuthorized",
                "write access needs the write token: send Authorization: Bearer <token>, or ask \
                 for \"access\": \"read\"",
            ));
        }
        let prefix = self.prefix(asked.prefix.as_deref())?;
        let scope = Scope {
            partition: &self.config.partition,
            region: &self.config.region,
            bucket: &self.config.bucket,
            prefix: &prefix,
            model_id: &self.config.model_id,
            kms_key_arn: self.config.kms_key_arn.as_deref(),
            access,
        };
        let input = AssumeRoleInput {
            role_arn: self.config.role_arn.clone(),
            session_name: session_name(access, request.source_ip),
            policy: policy::session_policy(&scope),
            duration: self.config.session_duration,
        };
        let creds = self.sts.assume_role(input).await.map_err(|f| {
            tracing::warn!(code = %f.code, message = %f.message, "AssumeRole failed");
            if f.retryable {
                Failure::new(
                    503,
                    "CredentialsUnavailable",
                    format!(
                        "STS could not issue credentials now ({}): try again",
                        f.code
                    ),
                )
                .retry(Duration::from_secs(1))
            } else {
                Failure::new(
                    500,
                    "CredentialsRefused",
                    format!(
                        "STS refused to issue credentials ({}: {}): the deployment's role or \
                         settings need fixing, retrying will not help",
                        f.code, f.message
                    ),
                )
            }
        })?;
        let expiration = aws_sdk_sts::primitives::DateTime::from(creds.expiration)
            .fmt(aws_sdk_sts::primitives::DateTimeFormat::DateTime)
            .map_err(|e| Failure::new(500, "InternalError", format!("expiration: {e}")))?;
        let mut endpoints = json!({
            "s3": self.config.s3_endpoint,
            "bedrock": self.config.bedrock_endpoint,
        });
        if let (true, Some(base)) = (self.config.relay, &request.base_url) {
            endpoints["bedrockRelay"] = json!(format!("{base}/bedrock"));
        }
        let body = json!({
            "accessKeyId": creds.access_key_id,
            "secretAccessKey": creds.secret_access_key,
            "sessionToken": creds.session_token,
            "expiration": expiration,
            "region": self.config.region,
            "bucket": self.config.bucket,
            "prefix": prefix,
            "modelId": self.config.model_id,
            "access": access.as_str(),
            "endpoints": endpoints,
        });
        Ok(json_response(StatusCode::OK, &body))
    }

    /// The asked prefix (or the default), if it lies under a configured one.
    fn prefix(&self, asked: Option<&str>) -> Result<String, Failure> {
        let Some(asked) = asked else {
            return Ok(self.config.prefixes[0].clone());
        };
        let prefix =
            policy::validate_prefix(asked).map_err(|e| Failure::new(400, "InvalidPrefix", e))?;
        if self
            .config
            .prefixes
            .iter()
            .any(|p| prefix.starts_with(p.as_str()))
        {
            Ok(prefix)
        } else {
            Err(Failure::new(
                403,
                "PrefixNotAllowed",
                format!(
                    "prefix {prefix:?} is not under one this endpoint grants ({}): ask for one of \
                     them or a prefix below it",
                    self.config.prefixes.join(", ")
                ),
            ))
        }
    }

    async fn relay(&self, request: &Incoming) -> Result<Response<Bytes>, Failure> {
        self.relay_limit
            .check(request.source_ip, Instant::now())
            .map_err(too_many)?;
        let model_arn = policy::model_arn(
            &self.config.partition,
            &self.config.region,
            &self.config.model_id,
        );
        let allowed = relay::Allowed {
            model_id: &self.config.model_id,
            model_arn: &model_arn,
            region: &self.config.region,
            upstream: &self.config.bedrock_endpoint,
        };
        let upstream_request = relay::prepare(
            &allowed,
            &request.method,
            &request.path,
            request.query.as_deref(),
            &request.headers,
            request.body.clone(),
        )
        .map_err(|r| {
            let status = r.status();
            Failure::new(status, r.code(), r.message())
        })?;
        let answer = self.upstream.send(upstream_request).await.map_err(|e| {
            Failure::new(502, "RelayUpstreamUnavailable", e).retry(Duration::from_secs(1))
        })?;
        let (parts, body) = answer.into_parts();
        let mut response = Response::new(body);
        *response.status_mut() = parts.status;
        relay::answer_headers(&parts.headers, response.headers_mut());
        Ok(response)
    }
}

/// `s3vec-read-203.0.113.5`: shows in CloudTrail who a session was for.
fn session_name(access: Access, caller: Option<IpAddr>) -> String {
    let who = caller.map_or_else(
        || "unknown".to_string(),
        |ip| ip.to_string().replace(':', "."),
    );
    format!("s3vec-{}-{who}", access.as_str())
}

fn too_many(wait: Duration) -> Failure {
    let secs = wait.as_secs_f64().ceil() as u64;
    Failure::new(
        429,
        "TooManyRequests",
        format!("too many requests from this address: try again in {secs} s"),
    )
    .retry(Duration::from_secs(secs))
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    // Credentials must never sit in a shared or browser cache.
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

pub fn failure_response(f: &Failure) -> Response<Bytes> {
    let body = json!({"code": f.code, "message": f.message, "retryable": f.retryable});
    let mut response = json_response(f.status, &body);
    let h = response.headers_mut();
    h.insert("x-amzn-errortype", HeaderValue::from_static(f.code));
    if let Some(after) = f.retry_after
        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
    {
        h.insert("retry-after", v);
    }
    if f.status == StatusCode::UNAUTHORIZED {
        h.insert("www-authenticate", HeaderValue::from_static("Bearer"));
    }
    response
}

/// The recording STS and upstream of a test app.
#[cfg(test)]
pub(crate) fn test_parts<S, U>(app: &App<S, U>) -> (&S, &U) {
    (&app.sts, &app.upstream)
}
