//! An S3 client for one bucket: GetObject (whole or a range), HeadObject, PutObject (optionally
//! conditional: `If-None-Match: *`, `If-Match`), DeleteObject, ListObjectsV2 (a page, or all
//! pages), and presigned GET URLs.
//!
//! Addressing: with a custom endpoint (the local stack, MinIO, a proxy) requests are path-style,
//! `{endpoint}/{bucket}/{key}`. Against AWS ([`S3Config::endpoint`] unset) they are
//! virtual-hosted, `https://{bucket}.s3.{region}.amazonaws.com/{key}`, when the bucket name
//! allows it (DNS-compatible and without dots, which would break the TLS wildcard), else
//! path-style. [`Addressing`] forces either.
//!
//! Every read and write returns the object's ETag, so a caller can compare-and-swap.

use super::credentials::CredentialsProvider;
use super::error::{AwsError, ServiceError};
use super::http::{Request, Response};
use super::retry::RetryPolicy;
use super::runtime::Runtime;
use super::send::{Op, Sender, parse_http_date};
use super::sign::{Signer, SigningProfile, uri_encode, uri_encode_path};
use super::xml;
use bytes::Bytes;
use http::Method;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How the bucket appears in URLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Addressing {
    /// Virtual-hosted against AWS when the bucket name allows it, path-style otherwise and for
    /// every custom endpoint.
    #[default]
    Auto,
    /// `{endpoint}/{bucket}/{key}`.
    Path,
    /// `{scheme}://{bucket}.{endpoint host}/{key}`.
    VirtualHosted,
}

/// Where the bucket is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    pub region: String,
    pub bucket: String,
    /// `None`: AWS, `https://s3.{region}.amazonaws.com`. Else a URL such as
    /// `http://127.0.0.1:9000` (a path after the host is kept as a prefix, for proxies).
    pub endpoint: Option<String>,
    pub addressing: Addressing,
}

impl S3Config {
    pub fn new(region: impl Into<String>, bucket: impl Into<String>) -> Self {
        S3Config {
            region: region.into(),
            bucket: bucket.into(),
            endpoint: None,
            addressing: Addressing::Auto,
        }
    }

    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    pub fn addressing(mut self, addressing: Addressing) -> Self {
        self.addressing = addressing;
        self
    }
}

/// An entity tag as S3 sends it, quotes included (`"9b2cf535f27731c974343645a3985328"`), which
/// is also how `If-Match` wants it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    pub fn new(tag: impl Into<String>) -> Self {
        ETag(tag.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What S3 says about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: ETag,
    /// The whole object's size, even for a range (from `Content-Range`; should a server not
    /// know the total, the end of the range).
    pub size: u64,
    pub content_type: Option<String>,
    pub last_modified: Option<SystemTime>,
}

/// Bytes to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `first..=last`.
    Inclusive { first: u64, last: u64 },
    /// From `first` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    fn header(&self) -> Result<String, AwsError> {
        match *self {
            ByteRange::Inclusive { first, last } if first <= last => {
                Ok(format!("bytes={first}-{last}"))
            }
            ByteRange::Inclusive { first, last } => Err(AwsError::invalid_input(format!(
                "range {first}-{last} ends before it starts: give first <= last"
            ))),
            ByteRange::From(first) => Ok(format!("bytes={first}-")),
            ByteRange::Suffix(0) => Err(AwsError::invalid_input(
                "a suffix range of 0 bytes selects nothing: ask for at least 1 byte",
            )),
            ByteRange::Suffix(n) => Ok(format!("bytes=-{n}")),
        }
    }
}

/// Where a partial body sits in the object (`Content-Range: bytes 0-99/1234`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    /// Inclusive.
    pub last: u64,
    pub total: Option<u64>,
}

/// An object's bytes and what S3 says about it.
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Bytes,
    pub meta: ObjectMeta,
    /// `Some` when a range was asked for and answered with 206.
    pub range: Option<ContentRange>,
}

/// A write's precondition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    #[default]
    None,
    /// `If-None-Match: *`: only if the key does not exist yet (412 otherwise).
    IfNoneMatch,
    /// `If-Match`: only if the object still has this ETag (412 otherwise).
    IfMatch(ETag),
}

/// Options of [`S3Client::put_object`].
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    pub content_type: Option<String>,
    /// Sent as `Content-Encoding` and stored with the object, which S3 then answers GETs with
    /// (e.g. `gzip` for the seed's `.json.gz` objects, which browsers then decompress).
    pub content_encoding: Option<String>,
    pub condition: Condition,
}

impl PutOptions {
    pub fn if_none_match() -> Self {
        PutOptions {
            condition: Condition::IfNoneMatch,
            ..Self::default()
        }
    }

    pub fn if_match(etag: ETag) -> Self {
        PutOptions {
            condition: Condition::IfMatch(etag),
            ..Self::default()
        }
    }

    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    pub fn content_encoding(mut self, content_encoding: impl Into<String>) -> Self {
        self.content_encoding = Some(content_encoding.into());
        self
    }
}

/// The result of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutput {
    pub etag: ETag,
}

/// One ListObjectsV2 request.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    /// At most 1000 (S3's maximum and default).
    pub max_keys: Option<u32>,
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
}

/// One object in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: Option<ETag>,
    pub last_modified: Option<SystemTime>,
}

/// One page of ListObjectsV2.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    /// With a delimiter: the "directories".
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Pass as [`ListRequest::continuation_token`] for the next page.
    pub next_continuation_token: Option<String>,
}

/// Longest key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// A client for one bucket. Cheap to share (`Arc`); all methods take `&self`.
pub struct S3Client {
    sender: Sender,
    bucket: String,
    scheme: String,
    /// Host and port of the bucket's URLs (with the bucket for virtual-hosted addressing).
    authority: String,
    /// What comes before the key in the path: `/{bucket}` (path-style) or empty, after the
    /// endpoint's own path if it has one.
    key_prefix: String,
}

impl fmt::Debug for S3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client")
            .field("bucket", &self.bucket)
            .field("base", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl S3Client {
    /// A client with the default retry policy (3 attempts).
    pub fn new(
        config: S3Config,
        credentials: Arc<dyn CredentialsProvider>,
        runtime: Runtime,
    ) -> Result<Self, AwsError> {
        Self::with_retry(config, credentials, runtime, RetryPolicy::default())
    }

    pub fn with_retry(
        config: S3Config,
        credentials: Arc<dyn CredentialsProvider>,
        runtime: Runtime,
        retry: RetryPolicy,
    ) -> Result<Self, AwsError> {
        validate_bucket(&config.bucket)?;
        if config.region.is_empty() {
            return Err(AwsError::invalid_input(
                "S3: no region: give the bucket's region (e.g. us-east-1)",
            ));
        }
        let endpoint = match &config.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => format!("https://s3.{}.amazonaws.com", config.region),
        };
        let (scheme, host, base_path) = split_endpoint(&endpoint)?;
        let virtual_hosted = match config.addressing {
            Addressing::Path => false,
            Addressing::VirtualHosted => true,
            Addressing::Auto => config.endpoint.is_none() && dns_compatible(&config.bucket),
        };
        let (authority, key_prefix) = if virtual_hosted {
            (format!("{}.{host}", config.bucket), base_path)
        } else {
            (host, format!("{base_path}/{}", uri_encode(&config.bucket)))
        };
        let signer = Signer::new(config.region.clone(), SigningProfile::s3());
        Ok(S3Client {
            sender: Sender::new(runtime, credentials, signer, retry),
            bucket: config.bucket,
            scheme,
            authority,
            key_prefix,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The bucket's URL (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.key_prefix)
    }

    /// The URL of `key` (percent-encoded, unsigned).
    pub fn object_url(&self, key: &str) -> Result<String, AwsError> {
        validate_key(key)?;
        Ok(format!("{}/{}", self.base_url(), uri_encode_path(key)))
    }

    fn resource(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn op(&self, operation: &'static str, key: &str, idempotent: bool) -> Op {
        Op {
            service: "S3",
            operation,
            resource: self.resource(key),
            idempotent,
        }
    }

    /// The whole object.
    pub async fn get_object(&self, key: &str) -> Result<Object, AwsError> {
        self.get(key, None).await
    }

    /// Part of the object (206). A range that reaches past the end is cut at the end; one that
    /// starts past it fails with `InvalidRange`.
    pub async fn get_object_range(&self, key: &str, range: ByteRange) -> Result<Object, AwsError> {
        self.get(key, Some(range)).await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Object, AwsError> {
        let mut request = Request::parse(Method::GET, &self.object_url(key)?)?;
        if let Some(r) = range {
            request.header("range", &r.header()?)?;
        }
        let op = self.op("GetObject", key, true);
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200 || s == 206, s3_error)
            .await?;
        let content_range = if resp.status.as_u16() == 206 {
            Some(parse_content_range(&resp, &op)?)
        } else {
            None
        };
        let size = match content_range {
            Some(ContentRange {
                total: Some(total), ..
            }) => total,
            // `bytes 0-9/*`: the server does not know; the range's end is what we know.
            Some(r) => r.last + 1,
            None => resp.body.len() as u64,
        };
        let meta = self.meta(&resp, &op, size)?;
        Ok(Object {
            body: resp.body,
            meta,
            range: content_range,
        })
    }

    /// The object's ETag, size, type and date, without its bytes. A missing key fails with
    /// `NotFound` (HEAD answers have no body, so there is no `NoSuchKey`);
    /// [`AwsError::is_not_found`] covers both.
    pub async fn head_object(&self, key: &str) -> Result<ObjectMeta, AwsError> {
        let request = Request::parse(Method::HEAD, &self.object_url(key)?)?;
        let op = self.op("HeadObject", key, true);
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200, s3_error)
            .await?;
        let size = resp
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| missing_header(&op, "Content-Length"))?;
        self.meta(&resp, &op, size)
    }

    /// Writes `body` to `key`, if `options.condition` holds (else `PreconditionFailed`).
    pub async fn put_object(
        &self,
        key: &str,
        body: impl Into<Bytes>,
        options: PutOptions,
    ) -> Result<PutOutput, AwsError> {
        let mut request = Request::parse(Method::PUT, &self.object_url(key)?)?;
        request.body = body.into();
        if let Some(ct) = &options.content_type {
            request.header("content-type", ct)?;
        }
        if let Some(ce) = &options.content_encoding {
            request.header("content-encoding", ce)?;
        }
        let idempotent = match &options.condition {
            Condition::None => true,
            Condition::IfNoneMatch => {
                request.header("if-none-match", "*")?;
                false
            }
            Condition::IfMatch(etag) => {
                request.header("if-match", etag.as_str())?;
                false
            }
        };
        let op = self.op("PutObject", key, idempotent);
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200, s3_error)
            .await?;
        let etag = resp
            .header("etag")
            .map(ETag::new)
            .ok_or_else(|| missing_header(&op, "ETag"))?;
        Ok(PutOutput { etag })
    }

    /// Deletes `key`. Deleting a key that does not exist succeeds, as on S3.
    pub async fn delete_object(&self, key: &str) -> Result<(), AwsError> {
        let request = Request::parse(Method::DELETE, &self.object_url(key)?)?;
        let op = self.op("DeleteObject", key, true);
        self.sender
            .send(&request, &op, |s| s == 204 || s == 200, s3_error)
            .await?;
        Ok(())
    }

    /// One page of ListObjectsV2.
    pub async fn list_objects_v2(&self, list: &ListRequest) -> Result<ListPage, AwsError> {
        let mut query = vec![("list-type", "2".to_string())];
        if let Some(t) = &list.continuation_token {
            query.push(("continuation-token", t.clone()));
        }
        if let Some(d) = &list.delimiter {
            query.push(("delimiter", d.clone()));
        }
        if let Some(m) = list.max_keys {
            query.push(("max-keys", m.to_string()));
        }
        if let Some(p) = &list.prefix {
            query.push(("prefix", p.clone()));
        }
        if let Some(s) = &list.start_after {
            query.push(("start-after", s.clone()));
        }
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", uri_encode(v)))
            .collect();
        let path = if self.key_prefix.is_empty() {
            "/".to_string()
        } else {
            self.key_prefix.clone()
        };
        let url = format!(
            "{}://{}{path}?{}",
            self.scheme,
            self.authority,
            query.join("&")
        );
        let request = Request::parse(Method::GET, &url)?;
        let op = Op {
            service: "S3",
            operation: "ListObjectsV2",
            resource: format!(
                "s3://{}/{}",
                self.bucket,
                list.prefix.as_deref().unwrap_or("")
            ),
            idempotent: true,
        };
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200, s3_error)
            .await?;
        parse_list(&resp.body, &op)
    }

    /// Every object under `prefix`, following continuation tokens.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<ListedObject>, AwsError> {
        self.list_all_from(ListRequest {
            prefix: Some(prefix.to_string()).filter(|p| !p.is_empty()),
            ..ListRequest::default()
        })
        .await
    }

    /// Every object `request` lists, page after page (`max_keys` is the page size).
    pub async fn list_all_from(
        &self,
        mut request: ListRequest,
    ) -> Result<Vec<ListedObject>, AwsError> {
        let prefix = request.prefix.clone().unwrap_or_default();
        let mut out = Vec::new();
        loop {
            let page = self.list_objects_v2(&request).await?;
            out.extend(page.objects);
            if !page.is_truncated {
                return Ok(out);
            }
            match page.next_continuation_token {
                Some(t) if Some(&t) != request.continuation_token.as_ref() => {
                    request.continuation_token = Some(t)
                }
                _ => {
                    return Err(AwsError::InvalidResponse(format!(
                        "S3 ListObjectsV2 s3://{}/{prefix}: the listing is truncated but gives \
                         no new continuation token, so it cannot be continued: the server is \
                         not S3-compatible here",
                        self.bucket
                    )));
                }
            }
        }
    }

    /// A URL anyone can GET `key` with until `expires` from now (at most 7 days), carrying
    /// `X-Amz-Security-Token` for temporary credentials. A URL cannot outlive the session that
    /// signed it, so `X-Amz-Expires` is cut to the credentials' remaining lifetime.
    pub async fn presign_get(&self, key: &str, expires: Duration) -> Result<String, AwsError> {
        let request = Request::parse(Method::GET, &self.object_url(key)?)?;
        let now = self.sender.now();
        let creds = self.sender.credentials.credentials(now).await?;
        let mut expires = expires;
        if let Some(left) = creds
            .expiration()
            .and_then(|exp| exp.duration_since(now).ok())
        {
            expires = expires.min(Duration::from_secs(left.as_secs().max(1)));
        }
        let uri = self.sender.signer.presign(&request, &creds, now, expires)?;
        Ok(uri.to_string())
    }

    fn meta(&self, resp: &Response, op: &Op, size: u64) -> Result<ObjectMeta, AwsError> {
        let etag = resp
            .header("etag")
            .map(ETag::new)
            .ok_or_else(|| missing_header(op, "ETag"))?;
        Ok(ObjectMeta {
            etag,
            size,
            content_type: resp.header("content-type").map(str::to_string),
            last_modified: resp.header("last-modified").and_then(parse_http_date),
        })
    }
}

fn missing_header(op: &Op, name: &str) -> AwsError {
    AwsError::InvalidResponse(format!(
        "S3 {} {}: the answer has no readable {name} header. In a browser, the bucket's CORS \
         configuration must expose it (ExposeHeaders: ETag, Content-Range, Content-Length, \
         x-amz-request-id); otherwise the endpoint is not S3-compatible",
        op.operation, op.resource
    ))
}

fn parse_content_range(resp: &Response, op: &Op) -> Result<ContentRange, AwsError> {
    let v = resp
        .header("content-range")
        .ok_or_else(|| missing_header(op, "Content-Range"))?;
    let bad = || {
        AwsError::InvalidResponse(format!(
            "S3 {} {}: Content-Range {v:?} is not `bytes first-last/total`",
            op.operation, op.resource
        ))
    };
    let rest = v.strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, total) = rest.split_once('/').ok_or_else(bad)?;
    let (first, last) = span.split_once('-').ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().map_err(|_| bad())?),
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return Err(bad());
    }
    if resp.body.len() as u64 != last - first + 1 {
        return Err(AwsError::InvalidResponse(format!(
            "S3 {} {}: Content-Range {v:?} announces {} bytes but the body has {}: the \
             transfer was cut short; retry",
            op.operation,
            op.resource,
            last - first + 1,
            resp.body.len()
        )));
    }
    Ok(ContentRange { first, last, total })
}

/// Reads S3's `<Error>` document, or makes an error from the status when there is none (HEAD).
pub(crate) fn s3_error(op: &Op, resp: &Response) -> ServiceError {
    let header_id = resp.header("x-amz-request-id").map(str::to_string);
    let status = resp.status.as_u16();
    if let Ok(root) = xml::parse(&resp.body)
        && root.name == "Error"
    {
        let code = root.child_text("Code").unwrap_or("").to_string();
        let message = root.child_text("Message").unwrap_or("").to_string();
        if !code.is_empty() {
            let request_id = header_id.or_else(|| root.child_text("RequestId").map(str::to_string));
            return op.error(status, code, message, request_id);
        }
    }
    let code = match status {
        404 => "NotFound".to_string(),
        403 => "Forbidden".to_string(),
        412 => "PreconditionFailed".to_string(),
        304 => "NotModified".to_string(),
        _ => resp
            .status
            .canonical_reason()
            .unwrap_or("UnknownError")
            .replace(' ', ""),
    };
    let message = super::credentials::summarize_body(&resp.body);
    op.error(status, code, message, header_id)
}

fn parse_list(body: &[u8], op: &Op) -> Result<ListPage, AwsError> {
    let bad = |what: String| {
        AwsError::InvalidResponse(format!(
            "S3 ListObjectsV2 {}: the answer is not a ListBucketResult ({what}): check that the \
             endpoint is S3",
            op.resource
        ))
    };
    let root = xml::parse(body).map_err(bad)?;
    if root.name != "ListBucketResult" {
        return Err(bad(format!("root element <{}>", root.name)));
    }
    let mut page = ListPage {
        is_truncated: root.child_text("IsTruncated") == Some("true"),
        next_continuation_token: root
            .child_text("NextContinuationToken")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        ..ListPage::default()
    };
    for c in root.children("Contents") {
        let key = c
            .child_text("Key")
            .ok_or_else(|| bad("an entry without Key".into()))?;
        let size = match c.child_text("Size") {
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("Size {s:?} of {key}")))?,
            None => 0,
        };
        page.objects.push(ListedObject {
            key: key.to_string(),
            size,
            etag: c.child_text("ETag").map(ETag::new),
            last_modified: c
                .child_text("LastModified")
                .and_then(super::credentials::parse_iso8601),
        });
    }
    for p in root.children("CommonPrefixes") {
        if let Some(prefix) = p.child_text("Prefix") {
            page.common_prefixes.push(prefix.to_string());
        }
    }
    Ok(page)
}

fn split_endpoint(endpoint: &str) -> Result<(String, String, String), AwsError> {
    let bad = |why: &str| {
        AwsError::invalid_input(format!(
            "S3 endpoint {endpoint:?} {why}: give a URL like https://s3.us-east-1.amazonaws.com \
             or http://127.0.0.1:9000"
        ))
    };
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| bad("has no scheme"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("is neither http nor https"));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("has a query or fragment"));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains('@') {
        return Err(bad("has no host (or has user info)"));
    }
    Ok((scheme.to_string(), host.to_string(), path.to_string()))
}

fn validate_bucket(bucket: &str) -> Result<(), AwsError> {
    if bucket.is_empty()
        || bucket.len() > 255
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(AwsError::invalid_input(format!(
            "S3 bucket name {bucket:?} is not valid: bucket names are 3 to 63 lowercase letters, \
             digits, dots and hyphens"
        )));
    }
    Ok(())
}

/// Whether the bucket name can be a host name label under a TLS wildcard certificate.
fn dns_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-')
}

/// Refuses keys S3 would refuse or that a URL cannot carry unchanged: empty, longer than 1024
/// bytes, or with a `.` or `..` segment (URL parsers, `fetch` included, resolve those).
pub fn validate_key(key: &str) -> Result<(), AwsError> {
    if key.is_empty() {
        return Err(AwsError::invalid_input(
            "an S3 key cannot be empty: give the object's key",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(AwsError::invalid_input(format!(
            "S3 key of {} bytes is longer than S3's {MAX_KEY_BYTES}: shorten it",
            key.len()
        )));
    }
    if key.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(AwsError::invalid_input(format!(
            "S3 key {key:?} has a `.` or `..` segment, which URL handling would resolve away: \
             rename the object"
        )));
    }
    Ok(())
}
