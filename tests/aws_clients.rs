//! The AWS clients against a scripted transport: error parsing, retries, credential refresh and
//! coalescing, clock-skew correction, pagination, Bedrock's wire format. No network, so these run
//! natively and under wasm (node and Chromium) alike.
// On wasm32 the clients are single-threaded (not Send/Sync) by design; Arc is still how they
// are shared.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use s3vec::aws::bedrock::{BedrockClient, BedrockConfig, EmbedOptions, MAX_INPUT_CHARS};
use s3vec::aws::credentials::{PresignFetcher, parse_presign_response};
use s3vec::aws::error::TransportErrorKind;
use s3vec::aws::runtime::{ManualClock, NoSleep};
use s3vec::aws::s3::{Addressing, ByteRange, ETag, ListRequest, PutOptions, S3Client, S3Config};
use s3vec::aws::{
    AwsError, BoxFuture, CachingProvider, Credentials, CredentialsFetcher, CredentialsProvider,
    ErrorKind, Request, Response, RetryPolicy, Runtime, Sleep, StaticProvider, Transport,
    TransportError,
};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use wasm_bindgen_test::wasm_bindgen_test;

// ---------------------------------------------------------------------------------------------
// Test doubles

/// Returns `Pending` `n` times (waking itself), so concurrent futures interleave.
struct Yield(usize);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type Reply = Result<Response, TransportError>;
type Handler = Box<dyn Fn(&Request, usize) -> Reply + Send + Sync>;

/// Answers requests from a script and remembers them.
struct Script {
    queue: Mutex<VecDeque<Reply>>,
    handler: Option<Handler>,
    seen: Mutex<Vec<Request>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Script {
    fn queue(replies: Vec<Reply>) -> Arc<Self> {
        Arc::new(Script {
            queue: Mutex::new(replies.into()),
            handler: None,
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn handler(h: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Script {
            queue: Mutex::new(VecDeque::new()),
            handler: Some(Box::new(h)),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Transport for Script {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let n = {
                let mut seen = self.seen.lock().unwrap();
                seen.push(request.clone());
                seen.len() - 1
            };
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            Yield(3).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            match &self.handler {
                Some(h) => h(&request, n),
                None => self
                    .queue
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| panic!("unexpected request #{n}: {request:?}")),
            }
        })
    }
}

/// Records the waits instead of waiting.
#[derive(Default)]
struct RecordSleep(Mutex<Vec<Duration>>);

impl Sleep for RecordSleep {
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().push(d);
        Box::pin(std::future::ready(()))
    }
}

fn resp(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
    let mut h = HeaderMap::new();
    for (n, v) in headers {
        h.append(*n, HeaderValue::from_str(v).unwrap());
    }
    Ok(Response {
        status: StatusCode::from_u16(status).unwrap(),
        headers: h,
        body: Bytes::from(body.to_string()),
    })
}

fn s3_error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId><HostId>h</HostId></Error>"
    )
}

const T0: u64 = 1_700_000_000;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix(T0))
}

fn runtime(script: &Arc<Script>, clock: &Arc<ManualClock>) -> Runtime {
    Runtime::new(script.clone(), clock.clone(), Arc::new(NoSleep))
}

fn root_keys() -> Arc<dyn CredentialsProvider> {
    Arc::new(StaticProvider::new(Credentials::new(
        "AKIDEXAMPLE",
        "secret",
        None,
        None,
    )))
}

fn local_s3(script: &Arc<Script>) -> S3Client {
    S3Client::new(
        S3Config::new("us-east-1", "vec-bucket").endpoint("http://127.0.0.1:9000"),
        root_keys(),
        runtime(script, &clock()),
    )
    .unwrap()
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Hands out `AKID1`, `AKID2`, ... each valid `lifetime` from `clock`, after yielding a little.
struct CountingFetcher {
    calls: AtomicUsize,
    clock: Arc<ManualClock>,
    lifetime: Duration,
    fail_from: Option<usize>,
}

impl CountingFetcher {
    fn new(clock: &Arc<ManualClock>, lifetime: Duration) -> Arc<Self> {
        Arc::new(CountingFetcher {
            calls: AtomicUsize::new(0),
            clock: clock.clone(),
            lifetime,
            fail_from: None,
        })
    }
}

impl CredentialsFetcher for CountingFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            Yield(5).await;
            if self.fail_from.is_some_and(|f| n >= f) {
                return Err(AwsError::Credentials(format!("fetch #{n} failed")));
            }
            use s3vec::aws::Clock;
            Ok(Credentials::new(
                format!("AKID{n}"),
                format!("secret{n}"),
                Some(format!("token{n}")),
                Some(self.clock.now() + self.lifetime),
            ))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// S3

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_errors_keep_code_message_and_request_id() {
    let script = Script::queue(vec![resp(
        404,
        &[("x-amz-request-id", "REQ123")],
        &s3_error_xml(
            "NoSuchKey",
            "The specified key does not exist &amp; never did.",
            "REQ-BODY",
        ),
    )]);
    let s3 = local_s3(&script);
    let err = s3.get_object("coll/manifest.json").await.unwrap_err();
    let s = err.service().expect("service error");
    assert_eq!(s.code, "NoSuchKey");
    assert_eq!(s.kind(), ErrorKind::NoSuchKey);
    assert_eq!(s.message, "The specified key does not exist & never did.");
    assert_eq!(s.request_id.as_deref(), Some("REQ123"));
    assert_eq!(s.status, 404);
    assert!(err.is_not_found());
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("s3://vec-bucket/coll/manifest.json"),
        "{text}"
    );
    assert!(text.contains("check the key"), "{text}");
    // Request id from the body when the header is missing.
    let script = Script::queue(vec![resp(
        403,
        &[],
        &s3_error_xml("AccessDenied", "not allowed", "REQ-BODY"),
    )]);
    let err = local_s3(&script).get_object("k").await.unwrap_err();
    assert!(err.is_access_denied());
    assert_eq!(
        err.service().unwrap().request_id.as_deref(),
        Some("REQ-BODY")
    );
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_head_errors_without_body_come_from_the_status() {
    let script = Script::queue(vec![
        resp(404, &[("x-amz-request-id", "R1")], ""),
        resp(403, &[], ""),
    ]);
    let s3 = local_s3(&script);
    let err = s3.head_object("missing").await.unwrap_err();
    assert_eq!(err.code(), Some("NotFound"));
    assert!(err.is_not_found());
    let err = s3.head_object("secret").await.unwrap_err();
    assert!(err.is_access_denied());
    assert_eq!(script.seen()[0].method, Method::HEAD);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_get_range_head_put_delete_wire_format() {
    let script = Script::queue(vec![
        resp(
            206,
            &[
                ("etag", "\"abc\""),
                ("content-range", "bytes 2-5/10"),
                ("content-type", "application/octet-stream"),
                ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ],
            "2345",
        ),
        resp(200, &[("etag", "\"abc\""), ("content-length", "10")], ""),
        resp(200, &[("etag", "\"def\"")], ""),
        resp(204, &[], ""),
    ]);
    let s3 = local_s3(&script);
    let obj = s3
        .get_object_range("a b/c.bin", ByteRange::Inclusive { first: 2, last: 5 })
        .await
        .unwrap();
    assert_eq!(&obj.body[..], b"2345");
    assert_eq!(obj.meta.size, 10);
    assert_eq!(obj.meta.etag, ETag::new("\"abc\""));
    let r = obj.range.unwrap();
    assert_eq!((r.first, r.last, r.total), (2, 5, Some(10)));
    assert_eq!(obj.meta.last_modified, Some(at(1_445_412_480)));

    let meta = s3.head_object("a b/c.bin").await.unwrap();
    assert_eq!(meta.size, 10);

    let out = s3
        .put_object(
            "a b/c.bin",
            b"0123456789".to_vec(),
            PutOptions::if_match(ETag::new("\"abc\"")).content_type("application/octet-stream"),
        )
        .await
        .unwrap();
    assert_eq!(out.etag.as_str(), "\"def\"");
    s3.delete_object("a b/c.bin").await.unwrap();

    let seen = script.seen();
    assert_eq!(
        seen[0].uri.to_string(),
        "http://127.0.0.1:9000/vec-bucket/a%20b/c.bin"
    );
    assert_eq!(seen[0].headers["range"], "bytes=2-5");
    assert_eq!(seen[2].method, Method::PUT);
    assert_eq!(seen[2].headers["if-match"], "\"abc\"");
    assert_eq!(seen[2].headers["content-type"], "application/octet-stream");
    assert!(seen[2].headers.contains_key("x-amz-content-sha256"));
    assert!(
        seen[2].headers["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/s3/aws4_request")
    );
    assert_eq!(seen[3].method, Method::DELETE);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_conditional_put_failure_is_typed_and_not_retried() {
    let script = Script::queue(vec![
        resp(
            412,
            &[],
            &s3_error_xml(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                "R",
            ),
        ),
        resp(500, &[], &s3_error_xml("InternalError", "oops", "R")),
    ]);
    let s3 = local_s3(&script);
    let err = s3
        .put_object("m.json", b"{}".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed() && err.is_conflict());
    assert_eq!(script.seen()[0].headers["if-none-match"], "*");
    // A 500 on a conditional PUT may hide a success: not retried here (the store re-reads).
    let err = s3
        .put_object("m.json", b"{}".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::ServerError));
    assert!(err.is_retryable());
    assert_eq!(script.seen().len(), 2);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_retries_slowdown_with_backoff() {
    let script = Script::queue(vec![
        resp(
            503,
            &[],
            &s3_error_xml("SlowDown", "Please reduce your request rate.", "R"),
        ),
        resp(
            503,
            &[],
            &s3_error_xml("SlowDown", "Please reduce your request rate.", "R"),
        ),
        resp(200, &[("etag", "\"e\"")], ""),
    ]);
    let sleeps = Arc::new(RecordSleep::default());
    let rt = Runtime::new(script.clone(), clock(), sleeps.clone());
    let policy = RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(1));
    let s3 = S3Client::with_retry(
        S3Config::new("us-east-1", "b-1").endpoint("http://localhost:9000"),
        root_keys(),
        rt,
        policy,
    )
    .unwrap();
    // A conditional PUT refused with SlowDown was not processed: retrying is safe.
    s3.put_object("k", b"x".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap();
    let waits = sleeps.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] <= Duration::from_millis(100), "{waits:?}");
    assert!(waits[1] <= Duration::from_millis(200), "{waits:?}");
    // Out of attempts: the last error comes back, still marked retryable.
    let script = Script::queue(vec![
        resp(503, &[], &s3_error_xml("SlowDown", "", "R")),
        resp(503, &[], &s3_error_xml("SlowDown", "", "R")),
        resp(503, &[], &s3_error_xml("SlowDown", "", "R")),
    ]);
    let err = local_s3(&script).get_object("k").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Throttling));
    assert!(err.is_retryable());
    assert_eq!(script.seen().len(), 3);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_transport_errors_are_retried_for_reads_and_redact_the_url() {
    let fail = || -> Reply {
        Err(TransportError {
            kind: TransportErrorKind::Connect,
            method: "GET".into(),
            url: "http://127.0.0.1:9000/vec-bucket/k".into(),
            message: "connection refused".into(),
        })
    };
    let script = Script::queue(vec![fail(), fail(), fail()]);
    let err = local_s3(&script).get_object("k").await.unwrap_err();
    assert!(matches!(err, AwsError::Transport(_)));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("CORS"), "{err}");
    assert_eq!(script.seen().len(), 3);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_list_pagination_encodes_the_token() {
    let page1 = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>vec-bucket</Name><Prefix>coll/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>coll/a&amp;b</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>"e1"</ETag><Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>coll/b</Key><ETag>&quot;e2&quot;</ETag><Size>20</Size></Contents>
<NextContinuationToken>1/a+b=</NextContinuationToken></ListBucketResult>"#;
    let page2 = r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>
<Contents><Key>coll/c</Key><Size>30</Size></Contents></ListBucketResult>"#;
    let script = Script::queue(vec![resp(200, &[], page1), resp(200, &[], page2)]);
    let s3 = local_s3(&script);
    let all = s3.list_all("coll/").await.unwrap();
    let keys: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["coll/a&b", "coll/b", "coll/c"]);
    assert_eq!(all[0].size, 10);
    assert_eq!(all[1].etag, Some(ETag::new("\"e2\"")));
    assert_eq!(all[0].last_modified, Some(at(1_704_164_645)));
    let seen = script.seen();
    assert_eq!(
        seen[0].uri.to_string(),
        "http://127.0.0.1:9000/vec-bucket?list-type=2&prefix=coll%2F"
    );
    assert_eq!(
        seen[1].uri.query().unwrap(),
        "list-type=2&continuation-token=1%2Fa%2Bb%3D&prefix=coll%2F"
    );
    // One page with every option.
    let script = Script::queue(vec![resp(
        200,
        &[],
        "<ListBucketResult><IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>p/x/</Prefix></CommonPrefixes></ListBucketResult>",
    )]);
    let page = local_s3(&script)
        .list_objects_v2(&ListRequest {
            prefix: Some("p/".into()),
            delimiter: Some("/".into()),
            max_keys: Some(5),
            start_after: Some("p/a".into()),
            continuation_token: None,
        })
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["p/x/"]);
    assert!(!page.is_truncated);
    assert_eq!(
        script.seen()[0].uri.query().unwrap(),
        "list-type=2&delimiter=%2F&max-keys=5&prefix=p%2F&start-after=p%2Fa"
    );
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_list_refuses_a_truncated_page_without_token() {
    let script = Script::queue(vec![resp(
        200,
        &[],
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    )]);
    let err = local_s3(&script).list_all("").await.unwrap_err();
    assert!(err.to_string().contains("continuation token"), "{err}");
    let script = Script::queue(vec![resp(200, &[], "<html>not s3</html>")]);
    let err = local_s3(&script).list_all("").await.unwrap_err();
    assert!(matches!(err, AwsError::InvalidResponse(_)), "{err}");
}

#[wasm_bindgen_test(unsupported = test)]
fn s3_addressing() {
    let script = Script::queue(vec![]);
    let make = |cfg: S3Config| S3Client::new(cfg, root_keys(), runtime(&script, &clock())).unwrap();
    // AWS, DNS-compatible bucket: virtual-hosted.
    let s3 = make(S3Config::new("eu-west-1", "vec-docs"));
    assert_eq!(
        s3.object_url("a/b c").unwrap(),
        "https://vec-docs.s3.eu-west-1.amazonaws.com/a/b%20c"
    );
    // A dot in the name would break the TLS wildcard: path-style.
    let s3 = make(S3Config::new("eu-west-1", "vec.docs"));
    assert_eq!(
        s3.object_url("k").unwrap(),
        "https://s3.eu-west-1.amazonaws.com/vec.docs/k"
    );
    // Custom endpoints are path-style, keeping a path prefix.
    let s3 = make(S3Config::new("us-east-1", "b-1").endpoint("https://proxy.example/s3/"));
    assert_eq!(
        s3.object_url("k").unwrap(),
        "https://proxy.example/s3/b-1/k"
    );
    let s3 = make(
        S3Config::new("us-east-1", "b-1")
            .endpoint("http://localhost:4566")
            .addressing(Addressing::VirtualHosted),
    );
    assert_eq!(s3.object_url("k").unwrap(), "http://b-1.localhost:4566/k");
    let s3 = make(S3Config::new("us-east-1", "vec-docs").addressing(Addressing::Path));
    assert_eq!(
        s3.object_url("k").unwrap(),
        "https://s3.us-east-1.amazonaws.com/vec-docs/k"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn s3_refuses_bad_keys_buckets_and_endpoints() {
    let script = Script::queue(vec![]);
    let s3 = local_s3(&script);
    for bad in ["", "a/../b", "./a", "a/."] {
        let err = s3.object_url(bad).unwrap_err();
        assert!(matches!(err, AwsError::InvalidInput(_)), "{bad}: {err}");
    }
    assert!(s3.object_url(&"k".repeat(1025)).is_err());
    assert!(s3.object_url("a..b/.c/d.").is_ok());
    let rt = runtime(&script, &clock());
    let err =
        S3Client::new(S3Config::new("us-east-1", "a/b"), root_keys(), rt.clone()).unwrap_err();
    assert!(err.to_string().contains("bucket name"), "{err}");
    let err = S3Client::new(
        S3Config::new("us-east-1", "b").endpoint("ftp://x"),
        root_keys(),
        rt.clone(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("http"), "{err}");
    let err = S3Client::new(S3Config::new("", "b"), root_keys(), rt).unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_missing_etag_names_cors() {
    let script = Script::queue(vec![resp(200, &[], "body")]);
    let err = local_s3(&script).get_object("k").await.unwrap_err();
    assert!(err.to_string().contains("ExposeHeaders"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Credentials

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn caching_provider_reuses_then_refreshes_before_expiry() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(3600));
    let provider = CachingProvider::with_margin(fetcher.clone(), Duration::from_secs(300));
    use s3vec::aws::Clock;
    let c1 = provider.credentials(clock.now()).await.unwrap();
    assert_eq!(c1.access_key_id(), "AKID1");
    clock.advance(Duration::from_secs(3000));
    let c = provider.credentials(clock.now()).await.unwrap();
    assert_eq!(
        c.access_key_id(),
        "AKID1",
        "still 600 s left, more than the margin"
    );
    clock.advance(Duration::from_secs(301));
    let c = provider.credentials(clock.now()).await.unwrap();
    assert_eq!(c.access_key_id(), "AKID2", "inside the margin: refreshed");
    assert_eq!(provider.fetch_count(), 2);
    // Short sessions: the margin is at most half the lifetime.
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(10));
    let provider = CachingProvider::with_margin(fetcher.clone(), Duration::from_secs(300));
    provider.credentials(clock.now()).await.unwrap();
    clock.advance(Duration::from_secs(4));
    provider.credentials(clock.now()).await.unwrap();
    assert_eq!(provider.fetch_count(), 1);
    clock.advance(Duration::from_secs(2));
    provider.credentials(clock.now()).await.unwrap();
    assert_eq!(provider.fetch_count(), 2);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn caching_provider_coalesces_concurrent_refreshes() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(3600));
    let provider = CachingProvider::new(fetcher.clone());
    use s3vec::aws::Clock;
    let now = clock.now();
    let results = join_all((0..20).map(|_| provider.credentials(now))).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().access_key_id() == "AKID1")
    );
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.fetch_count(), 1);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn caching_provider_shares_errors_and_falls_back_to_valid_credentials() {
    let clock = clock();
    let fetcher = Arc::new(CountingFetcher {
        calls: AtomicUsize::new(0),
        clock: clock.clone(),
        lifetime: Duration::from_secs(1000),
        fail_from: Some(2),
    });
    let provider = CachingProvider::with_margin(fetcher.clone(), Duration::from_secs(300));
    use s3vec::aws::Clock;
    provider.credentials(clock.now()).await.unwrap();
    // Inside the margin, the refresh fails: the old credentials are still valid, so they serve.
    clock.advance(Duration::from_secs(800));
    let now = clock.now();
    let results = join_all((0..5).map(|_| provider.credentials(now))).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().access_key_id() == "AKID1")
    );
    assert_eq!(
        fetcher.calls.load(Ordering::SeqCst),
        2,
        "one shared failed fetch"
    );
    // Past expiry, the failure is the answer (shared by all concurrent callers).
    clock.advance(Duration::from_secs(300));
    let now = clock.now();
    let results = join_all((0..5).map(|_| provider.credentials(now))).await;
    for r in &results {
        assert!(
            r.as_ref()
                .unwrap_err()
                .to_string()
                .contains("fetch #3 failed")
        );
    }
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 3);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn caching_provider_refuses_already_expired_credentials() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::ZERO);
    let provider = CachingProvider::new(fetcher);
    use s3vec::aws::Clock;
    let err = provider.credentials(clock.now()).await.unwrap_err();
    assert!(err.to_string().contains("set the clock right"), "{err}");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn expired_token_invalidates_and_retries_once_with_new_credentials() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(3600));
    let provider = Arc::new(CachingProvider::new(fetcher.clone()));
    let expired = || {
        resp(
            400,
            &[],
            &s3_error_xml("ExpiredToken", "The provided token has expired.", "R"),
        )
    };
    let script = Script::queue(vec![
        expired(),
        resp(200, &[("etag", "\"e\"")], "data"),
        expired(),
        expired(),
    ]);
    let s3 = S3Client::new(
        S3Config::new("us-east-1", "vec-bucket").endpoint("http://127.0.0.1:9000"),
        provider.clone(),
        runtime(&script, &clock),
    )
    .unwrap();
    let obj = s3.get_object("k").await.unwrap();
    assert_eq!(&obj.body[..], b"data");
    let seen = script.seen();
    assert_eq!(seen[0].headers["x-amz-security-token"], "token1");
    assert_eq!(seen[1].headers["x-amz-security-token"], "token2");
    // Expired again right after a refresh: no endless loop, the error comes back.
    let err = s3.get_object("k").await.unwrap_err();
    assert!(err.is_expired_token());
    assert!(err.to_string().contains("check the clock"), "{err}");
    assert_eq!(script.seen().len(), 4);
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 3);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn invalidate_keeps_credentials_that_were_already_replaced() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(3600));
    let provider = CachingProvider::new(fetcher.clone());
    use s3vec::aws::Clock;
    let c1 = provider.credentials(clock.now()).await.unwrap();
    provider.invalidate(&c1);
    let c2 = provider.credentials(clock.now()).await.unwrap();
    assert_eq!(c2.access_key_id(), "AKID2");
    // A second request that failed with c1 must not throw c2 away.
    provider.invalidate(&c1);
    let c = provider.credentials(clock.now()).await.unwrap();
    assert_eq!(c.access_key_id(), "AKID2");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn clock_skew_is_corrected_from_the_date_header() {
    let clock = clock(); // 2023-11-14T22:13:20Z
    let script = Script::queue(vec![
        resp(
            403,
            &[("date", "Wed, 15 Nov 2023 00:13:20 GMT")],
            &s3_error_xml(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                "R",
            ),
        ),
        resp(200, &[("etag", "\"e\"")], ""),
    ]);
    let s3 = S3Client::new(
        S3Config::new("us-east-1", "vec-bucket").endpoint("http://127.0.0.1:9000"),
        root_keys(),
        runtime(&script, &clock),
    )
    .unwrap();
    s3.get_object("k").await.unwrap();
    let seen = script.seen();
    assert_eq!(seen[0].headers["x-amz-date"], "20231114T221320Z");
    assert_eq!(seen[1].headers["x-amz-date"], "20231115T001320Z");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn clock_skew_without_date_header_uses_the_body() {
    // S3: <ServerTime> (a browser cannot read Date unless CORS exposes it).
    let clock = clock(); // 2023-11-14T22:13:20Z
    let script = Script::queue(vec![
        resp(
            403,
            &[],
            "<Error><Code>RequestTimeTooSkewed</Code><Message>too large</Message>\
             <RequestTime>20231114T221320Z</RequestTime>\
             <ServerTime>2023-11-14T21:13:20Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>",
        ),
        resp(200, &[("etag", "\"e\"")], ""),
    ]);
    let s3 = S3Client::new(
        S3Config::new("us-east-1", "vec-bucket").endpoint("http://127.0.0.1:9000"),
        root_keys(),
        runtime(&script, &clock),
    )
    .unwrap();
    s3.get_object("k").await.unwrap();
    assert_eq!(script.seen()[1].headers["x-amz-date"], "20231114T211320Z");
    // Bedrock: the server's time is in the message.
    let script = Script::handler(|req, n| match n {
        0 => resp(
            403,
            &[("x-amzn-ErrorType", "InvalidSignatureException")],
            r#"{"message":"Signature expired: 20231114T221320Z is now earlier than 20231114T233320Z (20231114T234820Z - 15 min.)"}"#,
        ),
        _ => titan_v2_reply(req),
    });
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    b.embed("x", &EmbedOptions::default()).await.unwrap();
    assert_eq!(script.seen()[1].headers["x-amz-date"], "20231114T234820Z");
    // A signature that is simply wrong is not retried.
    let script = Script::queue(vec![resp(
        403,
        &[("date", "Wed, 15 Nov 2023 00:13:20 GMT")],
        &s3_error_xml(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
            "R",
        ),
    )]);
    let err = local_s3(&script).get_object("k").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::SignatureDoesNotMatch));
    assert_eq!(script.seen().len(), 1);
}

#[wasm_bindgen_test(unsupported = test)]
fn static_credentials_from_variables() {
    let vars = |name: &str| match name {
        "AWS_ACCESS_KEY_ID" => Some("AKID".to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some("SECRET".to_string()),
        "AWS_SESSION_TOKEN" => Some(String::new()),
        _ => None,
    };
    let p = StaticProvider::from_vars(vars).unwrap();
    let err = StaticProvider::from_vars(|_| None).unwrap_err();
    assert!(err.to_string().contains("export both"), "{err}");
    let c = futures_util::FutureExt::now_or_never(p.credentials(at(T0)))
        .unwrap()
        .unwrap();
    assert_eq!(c.access_key_id(), "AKID");
    assert_eq!(
        c.session_token(),
        None,
        "an empty AWS_SESSION_TOKEN is no token"
    );
    // Secrets stay out of Debug output.
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("SECRET"), "{dbg}");
}

#[wasm_bindgen_test(unsupported = test)]
fn presign_json_is_read_with_its_configuration() {
    let body = br#"{"accessKeyId":"ASIA1","secretAccessKey":"s","sessionToken":"t",
        "expiration":"2030-01-02T03:04:05Z","region":"us-east-1","bucket":"vec-docs",
        "prefix":"coll/","modelId":"amazon.titan-embed-text-v2:0",
        "endpoints":{"s3":"http://127.0.0.1:9000","bedrock":"http://127.0.0.1:9001"},
        "canWrite":false}"#;
    let r = parse_presign_response(body, "https://presign.example/creds?x=secret").unwrap();
    assert_eq!(r.credentials.access_key_id(), "ASIA1");
    assert_eq!(r.credentials.session_token(), Some("t"));
    assert_eq!(r.credentials.expiration(), Some(at(1_893_553_445)));
    assert_eq!(r.config.bucket.as_deref(), Some("vec-docs"));
    assert_eq!(
        r.config.model_id.as_deref(),
        Some("amazon.titan-embed-text-v2:0")
    );
    assert_eq!(
        r.config.endpoints.s3.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(r.config.extra["canWrite"], serde_json::json!(false));

    let err =
        parse_presign_response(br#"{"accessKeyId":"A"}"#, "https://p/x?token=SECRET").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("secretAccessKey") && !msg.contains("SECRET"),
        "{msg}"
    );
    let err = parse_presign_response(
        br#"{"accessKeyId":"A","secretAccessKey":"s","expiration":"tomorrow"}"#,
        "https://p/x",
    )
    .unwrap_err();
    assert!(err.to_string().contains("ISO 8601"), "{err}");
    let err = parse_presign_response(b"<html>", "https://p/x").unwrap_err();
    assert!(err.to_string().contains("not its JSON"), "{err}");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn presign_fetcher_reports_http_errors() {
    let script = Script::queue(vec![
        resp(
            403,
            &[("x-amzn-requestid", "RID")],
            r#"{"message":"not signed in"}"#,
        ),
        resp(
            200,
            &[],
            r#"{"accessKeyId":"A","secretAccessKey":"s","sessionToken":"t","expiration":"2030-01-01T00:00:00Z","bucket":"b"}"#,
        ),
    ]);
    let f = PresignFetcher::new(script.clone(), "https://presign.example/creds")
        .header("authorization", "Bearer x");
    let err = f.fetch().await.unwrap_err();
    let s = err.service().unwrap();
    assert_eq!((s.status, s.message.as_str()), (403, "not signed in"));
    assert_eq!(s.request_id.as_deref(), Some("RID"));
    let c = f.fetch().await.unwrap();
    assert_eq!(c.access_key_id(), "A");
    assert_eq!(f.latest_config().unwrap().bucket.as_deref(), Some("b"));
    assert_eq!(script.seen()[0].headers["authorization"], "Bearer x");
}

#[wasm_bindgen_test(unsupported = test)]
fn retry_delays_are_jittered_and_capped() {
    let p = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_secs(2)).with_seed(42);
    assert_eq!(p.ceiling(1), Duration::from_millis(100));
    assert_eq!(p.ceiling(2), Duration::from_millis(200));
    assert_eq!(p.ceiling(5), Duration::from_millis(1600));
    assert_eq!(p.ceiling(6), Duration::from_secs(2));
    assert_eq!(p.ceiling(60), Duration::from_secs(2));
    let mut distinct = std::collections::HashSet::new();
    for attempt in 1..=8 {
        for _ in 0..50 {
            let d = p.delay(attempt);
            assert!(d <= p.ceiling(attempt));
            distinct.insert(d);
        }
    }
    assert!(distinct.len() > 300, "jitter spreads the waits");
}

// ---------------------------------------------------------------------------------------------
// Bedrock

fn bedrock(script: &Arc<Script>, model: &str, sleep: Arc<dyn Sleep>) -> BedrockClient {
    BedrockClient::new(
        BedrockConfig::new("us-east-1", model).endpoint("http://127.0.0.1:9001"),
        root_keys(),
        Runtime::new(script.clone(), clock(), sleep),
    )
    .unwrap()
}

fn titan_v2_reply(req: &Request) -> Reply {
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let text = body["inputText"].as_str().unwrap();
    let dims = body
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .unwrap_or(1024) as usize;
    // A recognisable vector: the text's length in every component.
    let v = vec![text.len() as f32; dims];
    resp(
        200,
        &[("x-amzn-requestid", "rid")],
        &serde_json::json!({
            "embedding": v,
            "embeddingsByType": {"float": v, "binary": vec![1u8; dims]},
            "inputTextTokenCount": text.split_whitespace().count(),
        })
        .to_string(),
    )
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_titan_v2_request_and_response() {
    let script = Script::handler(|req, _| titan_v2_reply(req));
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    let e = b
        .embed(
            "hello world",
            &EmbedOptions::default()
                .dimensions(256)
                .normalize(true)
                .types(true, true),
        )
        .await
        .unwrap();
    assert_eq!(e.float.as_ref().unwrap().len(), 256);
    assert_eq!(e.binary.as_ref().unwrap().len(), 256);
    assert_eq!(e.input_text_token_count, 2);
    let seen = script.seen();
    assert_eq!(
        seen[0].uri.to_string(),
        "http://127.0.0.1:9001/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"inputText": "hello world", "dimensions": 256, "normalize": true,
                           "embeddingTypes": ["float", "binary"]})
    );
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert!(
        seen[0].headers["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/bedrock/aws4_request")
    );
    // Defaults: only inputText is sent.
    b.embed("x", &EmbedOptions::default()).await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&script.seen()[1].body).unwrap();
    assert_eq!(sent, serde_json::json!({"inputText": "x"}));
    // Binary only.
    let e = b
        .embed(
            "x",
            &EmbedOptions::default().dimensions(512).types(false, true),
        )
        .await
        .unwrap();
    assert!(e.float.is_none());
    assert_eq!(e.binary.unwrap().len(), 512);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_titan_v1() {
    let script = Script::handler(|req, _| {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "V1 takes inputText only"
        );
        resp(
            200,
            &[],
            &serde_json::json!({"embedding": vec![0.5f32; 1536], "inputTextTokenCount": 3})
                .to_string(),
        )
    });
    let b = bedrock(&script, "amazon.titan-embed-text-v1", Arc::new(NoSleep));
    let e = b.embed("a b c", &EmbedOptions::default()).await.unwrap();
    assert_eq!(e.float.unwrap().len(), 1536);
    assert_eq!(e.input_text_token_count, 3);
    let err = b
        .embed("a", &EmbedOptions::default().dimensions(256))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Titan V1 takes only inputText"),
        "{err}"
    );
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_errors_keep_the_error_type_and_message() {
    let script = Script::queue(vec![resp(
        400,
        &[
            (
                "x-amzn-ErrorType",
                "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            ),
            ("x-amzn-RequestId", "b-rid"),
        ],
        r#"{"message":"Malformed input request: #/dimensions: 300 is not a valid enum value, please reformat your input and try again."}"#,
    )]);
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    let err = b.embed("x", &EmbedOptions::default()).await.unwrap_err();
    let s = err.service().unwrap();
    assert_eq!(s.code, "ValidationException");
    assert_eq!(s.kind(), ErrorKind::Validation);
    assert!(s.message.starts_with("Malformed input request"));
    assert_eq!(s.request_id.as_deref(), Some("b-rid"));
    assert!(!err.is_retryable());
    assert_eq!(script.seen().len(), 1);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_retries_throttling_server_errors_and_timeouts_with_backoff() {
    let throttled = || {
        resp(
            429,
            &[("x-amzn-ErrorType", "ThrottlingException")],
            r#"{"message":"Too many requests, please wait before trying your request again."}"#,
        )
    };
    let script = Script::handler(move |req, n| match n {
        0 => throttled(),
        1 => resp(
            500,
            &[("x-amzn-ErrorType", "InternalServerException")],
            r#"{"message":"internal"}"#,
        ),
        2 => resp(
            408,
            &[("x-amzn-ErrorType", "ModelTimeoutException")],
            r#"{"message":"timed out"}"#,
        ),
        3 => Err(TransportError {
            kind: TransportErrorKind::Timeout,
            method: "POST".into(),
            url: "u".into(),
            message: "operation timed out".into(),
        }),
        _ => titan_v2_reply(req),
    });
    let sleeps = Arc::new(RecordSleep::default());
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", sleeps.clone());
    b.embed("x", &EmbedOptions::default()).await.unwrap();
    assert_eq!(script.seen().len(), 5);
    let waits = sleeps.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 4);
    let policy = s3vec::aws::bedrock::default_retry();
    for (i, w) in waits.iter().enumerate() {
        assert!(*w <= policy.ceiling(i as u32 + 1), "{waits:?}");
    }
    // Throttled every time: gives up after max_attempts with the throttling error.
    let script = Script::handler(move |_, _| throttled());
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    let err = b.embed("x", &EmbedOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert!(err.is_retryable());
    assert_eq!(script.seen().len() as u32, policy.max_attempts);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_refuses_oversized_input_before_sending() {
    let script = Script::queue(vec![]);
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    let long = "é".repeat(MAX_INPUT_CHARS + 1);
    let err = b.embed(&long, &EmbedOptions::default()).await.unwrap_err();
    assert!(matches!(err, AwsError::InvalidInput(_)));
    assert!(err.to_string().contains("split it"), "{err}");
    let err = b
        .embed_many(&["ok", "", "fine"], &EmbedOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("text #1 is empty"), "{err}");
    let err = b
        .embed("x", &EmbedOptions::default().dimensions(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("256, 512 or 1024"), "{err}");
    assert!(script.seen().is_empty());
    // Exactly at the limit is fine.
    let script = Script::handler(|req, _| titan_v2_reply(req));
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    b.embed(&"é".repeat(MAX_INPUT_CHARS), &EmbedOptions::default())
        .await
        .unwrap();
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_embed_many_keeps_order_and_bounds_concurrency() {
    let script = Script::handler(|req, _| titan_v2_reply(req));
    let b = BedrockClient::new(
        BedrockConfig::new("us-east-1", "amazon.titan-embed-text-v2:0")
            .endpoint("http://127.0.0.1:9001")
            .concurrency(3),
        root_keys(),
        Runtime::new(script.clone(), clock(), Arc::new(NoSleep)),
    )
    .unwrap();
    let texts: Vec<String> = (1..=20).map(|n| "w".repeat(n)).collect();
    let mut progress = Vec::new();
    let out = b
        .embed_many_with_progress(&texts, &EmbedOptions::default().dimensions(256), |d, t| {
            progress.push((d, t))
        })
        .await
        .unwrap();
    for (i, e) in out.iter().enumerate() {
        assert_eq!(e.float.as_ref().unwrap()[0], (i + 1) as f32);
    }
    assert_eq!(script.seen().len(), 20);
    let max = script.max_in_flight.load(Ordering::SeqCst);
    assert!(max > 1 && max <= 3, "max in flight {max}");
    assert_eq!(progress.last(), Some(&(20, 20)));
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn bedrock_refuses_answers_that_do_not_match_the_request() {
    let script = Script::queue(vec![resp(
        200,
        &[],
        r#"{"embedding":[0.1,0.2],"inputTextTokenCount":1}"#,
    )]);
    let b = bedrock(&script, "amazon.titan-embed-text-v2:0", Arc::new(NoSleep));
    let err = b
        .embed("x", &EmbedOptions::default().dimensions(256))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("2 dimensions where 256"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The platform's runtime: SystemClock / Date.now(), tokio / setTimeout, reqwest.

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn platform_runtime_reads_the_clock_and_sleeps() {
    let rt = Runtime::platform().expect("the platform runtime builds (TLS roots natively)");
    let now = rt.now();
    // After 2024-01-01 and before 2100.
    assert!(
        now > at(1_704_067_200) && now < at(4_102_444_800),
        "{now:?}"
    );
    rt.sleep.sleep(Duration::from_millis(20)).await;
    let later = rt.now();
    assert!(
        later.duration_since(now).unwrap_or_default() >= Duration::from_millis(15),
        "slept {:?}",
        later.duration_since(now)
    );
    let _ = rt.transport.clone();
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn presigned_urls_do_not_outlive_their_session() {
    let clock = clock();
    let fetcher = CountingFetcher::new(&clock, Duration::from_secs(1200));
    let s3 = S3Client::new(
        S3Config::new("us-east-1", "vec-bucket").endpoint("http://127.0.0.1:9000"),
        Arc::new(CachingProvider::with_margin(
            fetcher,
            Duration::from_secs(60),
        )),
        runtime(&Script::queue(vec![]), &clock),
    )
    .unwrap();
    let url = s3
        .presign_get("coll/s.bin", Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Expires=1200&"), "{url}");
    assert!(url.contains("X-Amz-Security-Token=token1"), "{url}");
    assert!(url.starts_with("http://127.0.0.1:9000/vec-bucket/coll/s.bin?X-Amz-Algorithm="));
    let url = s3
        .presign_get("coll/s.bin", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Expires=60&"), "{url}");
}
