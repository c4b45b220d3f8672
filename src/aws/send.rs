//! Sign, send, and retry: the loop every client's requests go through.
//!
//! - Credentials a service calls expired (`ExpiredToken`, `ExpiredTokenException`) are dropped
//!   from the provider and the request is signed again with fresh ones, once.
//! - A clock the service calls skewed (`RequestTimeTooSkewed`, `Signature expired`) is corrected
//!   by the offset to the service's time, and the request is retried, once. The service's time
//!   comes from the `Date` header (which a browser only lets us read if CORS exposes it), else
//!   S3's `<ServerTime>`, else the time in Bedrock's and STS's "Signature expired: … (… - 5 min.)".
//! - Retryable failures are retried with backoff per the [`RetryPolicy`]; requests that are
//!   not idempotent (a conditional PUT) only when the service refused them outright
//!   (throttling), never after an ambiguous failure (a timeout may hide a success).

use super::credentials::CredentialsProvider;
use super::error::{AwsError, ErrorKind, ServiceError};
use super::http::{Request, Response};
use super::retry::RetryPolicy;
use super::runtime::Runtime;
use super::sign::Signer;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

/// What a request is, for errors and retry decisions.
pub(crate) struct Op {
    pub service: &'static str,
    pub operation: &'static str,
    /// `s3://bucket/key`, a model id, ...
    pub resource: String,
    /// Sending it twice has the effect of sending it once.
    pub idempotent: bool,
}

impl Op {
    pub fn error(
        &self,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    ) -> ServiceError {
        ServiceError {
            service: self.service,
            operation: self.operation,
            resource: self.resource.clone(),
            status,
            code,
            message,
            request_id,
        }
    }
}

/// Turns a failed answer into the service's error.
pub(crate) type ErrorParser = fn(&Op, &Response) -> ServiceError;

pub(crate) struct Sender {
    pub runtime: Runtime,
    pub credentials: Arc<dyn CredentialsProvider>,
    pub signer: Signer,
    pub retry: RetryPolicy,
    /// Milliseconds to add to the clock, learnt from a service that called it skewed.
    skew_ms: AtomicI64,
}

impl Sender {
    pub fn new(
        runtime: Runtime,
        credentials: Arc<dyn CredentialsProvider>,
        signer: Signer,
        retry: RetryPolicy,
    ) -> Self {
        Sender {
            runtime,
            credentials,
            signer,
            retry,
            skew_ms: AtomicI64::new(0),
        }
    }

    /// The clock, corrected by what services told us about it.
    pub fn now(&self) -> SystemTime {
        let now = self.runtime.now();
        let skew = self.skew_ms.load(Ordering::Relaxed);
        if skew >= 0 {
            now + Duration::from_millis(skew as u64)
        } else {
            now.checked_sub(Duration::from_millis(skew.unsigned_abs()))
                .unwrap_or(now)
        }
    }

    /// Signs and sends `request` until an answer `ok` accepts, or a failure that retrying will
    /// not fix.
    pub async fn send(
        &self,
        request: &Request,
        op: &Op,
        ok: impl Fn(u16) -> bool,
        parse: ErrorParser,
    ) -> Result<Response, AwsError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut reclocked = false;
        loop {
            attempt += 1;
            let now = self.now();
            let creds = self.credentials.credentials(now).await?;
            let mut signed = request.clone();
            self.signer.sign(&mut signed, &creds, now)?;
            let (err, date) = match self.runtime.transport.send(signed).await {
                Ok(resp) if ok(resp.status.as_u16()) => return Ok(resp),
                Ok(resp) => {
                    let err = parse(op, &resp);
                    let date = server_time(&resp, &err);
                    (AwsError::from(err), date)
                }
                Err(e) => (AwsError::from(e), None),
            };
            if err.is_expired_token() && !refreshed {
                self.credentials.invalidate(&creds);
                refreshed = true;
                attempt -= 1;
                continue;
            }
            if is_clock_skew(&err)
                && !reclocked
                && let Some(server) = date
            {
                self.learn_skew(server);
                reclocked = true;
                attempt -= 1;
                continue;
            }
            let may_retry = match &err {
                AwsError::Service(s) => {
                    s.is_retryable() && (op.idempotent || s.kind() == ErrorKind::Throttling)
                }
                AwsError::Transport(_) => op.idempotent,
                _ => false,
            };
            if may_retry && attempt < self.retry.max_attempts {
                self.runtime.sleep.sleep(self.retry.delay(attempt)).await;
                continue;
            }
            return Err(err);
        }
    }

    fn learn_skew(&self, server: SystemTime) {
        let local = self.runtime.now();
        let ms = match server.duration_since(local) {
            Ok(d) => d.as_millis().min(i64::MAX as u128) as i64,
            Err(e) => -(e.duration().as_millis().min(i64::MAX as u128) as i64),
        };
        self.skew_ms.store(ms, Ordering::Relaxed);
    }
}

/// S3's `RequestTimeTooSkewed`, Bedrock's and STS's "Signature expired" / "not yet current".
fn is_clock_skew(err: &AwsError) -> bool {
    let Some(s) = err.service() else {
        return false;
    };
    s.kind() == ErrorKind::ClockSkew
        || (s.kind() == ErrorKind::SignatureDoesNotMatch
            && (s.message.contains("Signature expired")
                || s.message.contains("Signature not yet current")))
}

/// The service's clock, as far as its answer tells.
fn server_time(resp: &Response, err: &ServiceError) -> Option<SystemTime> {
    if let Some(t) = resp.header("date").and_then(parse_http_date) {
        return Some(t);
    }
    if let Ok(root) = super::xml::parse(&resp.body)
        && let Some(t) = root
            .child_text("ServerTime")
            .and_then(super::credentials::parse_iso8601)
    {
        return Some(t);
    }
    // "Signature expired: 20240101T000000Z is now earlier than 20240101T001500Z
    // (20240101T002000Z - 15 min.)": the time in parentheses is the server's.
    let m = &err.message;
    let open = m.rfind('(')?;
    parse_amz_date(m.get(open + 1..open + 17)?)
}

/// Parses SigV4's `20240101T002000Z`.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let month = time::Month::try_from(num(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(num(0..4)? as i32, month, num(6..8)? as u8).ok()?;
    let t = time::Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
    let unix = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(unix).ok()?))
}

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let rest = s.split_once(", ").map(|(_, r)| r).unwrap_or(s);
    let mut parts = rest.split_ascii_whitespace();
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u8 = hms.next()?.parse().ok()?;
    let m: u8 = hms.next()?.parse().ok()?;
    let sec: u8 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    let unix = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(unix).ok()?))
}
