//! The S3 and STS clients against the local stack (`s3vec-dev`): round trips with root keys,
//! conditional writes, ranges, pagination, session policies, presigned URLs, and sessions that
//! expire under a running client. Native only (the wasm tests cannot start processes).
#![cfg(not(target_arch = "wasm32"))]

mod aws_common;

use aws_common::{BUCKET, Stack, read_only_policy, read_write_policy};
use http::Method;
use s3vec::aws::credentials::{Credentials, PresignFetcher};
use s3vec::aws::s3::{ByteRange, ETag, ListRequest, PutOptions};
use s3vec::aws::sts::{AssumeRole, AssumeRoleFetcher, StsClient};
use s3vec::aws::{
    AwsError, BoxFuture, CachingProvider, CredentialsFetcher, CredentialsProvider, ErrorKind,
    Request, Runtime, StaticProvider,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn session(creds: Credentials) -> Arc<dyn CredentialsProvider> {
    Arc::new(StaticProvider::new(creds))
}

async fn assume(stack: &Stack, policy: Option<String>) -> Credentials {
    let mut req =
        AssumeRole::new(stack.role_arn(), "s3vec-test").duration(Duration::from_secs(900));
    if let Some(p) = policy {
        req = req.policy(p);
    }
    let r = stack.sts().assume_role(&req).await.expect("AssumeRole");
    assert!(
        r.assumed_role_arn
            .unwrap()
            .contains("assumed-role/s3vec-reader/s3vec-test")
    );
    r.credentials
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_round_trip_conditional_writes_and_ranges() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    let key = "coll/shards/0001.bin";
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();

    let put = s3
        .put_object(
            key,
            body.clone(),
            PutOptions::if_none_match().content_type("application/octet-stream"),
        )
        .await
        .unwrap();
    let obj = s3.get_object(key).await.unwrap();
    assert_eq!(&obj.body[..], &body[..]);
    assert_eq!(obj.meta.etag, put.etag);
    assert_eq!(obj.meta.size, 100_000);
    assert!(obj.range.is_none());
    assert!(obj.meta.last_modified.is_some());
    let head = s3.head_object(key).await.unwrap();
    assert_eq!((head.etag.clone(), head.size), (put.etag.clone(), 100_000));
    assert_eq!(
        head.content_type.as_deref(),
        Some("application/octet-stream")
    );

    // Ranges: 206 with the slice, the whole size, and Content-Range.
    let part = s3
        .get_object_range(
            key,
            ByteRange::Inclusive {
                first: 1000,
                last: 1999,
            },
        )
        .await
        .unwrap();
    assert_eq!(&part.body[..], &body[1000..2000]);
    let r = part.range.unwrap();
    assert_eq!((r.first, r.last, r.total), (1000, 1999, Some(100_000)));
    assert_eq!(part.meta.size, 100_000);
    assert_eq!(part.meta.etag, put.etag);
    let tail = s3
        .get_object_range(key, ByteRange::Suffix(10))
        .await
        .unwrap();
    assert_eq!(&tail.body[..], &body[99_990..]);
    let from = s3
        .get_object_range(key, ByteRange::From(99_999))
        .await
        .unwrap();
    assert_eq!(&from.body[..], &body[99_999..]);
    let err = s3
        .get_object_range(key, ByteRange::From(200_000))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidRange), "{err}");

    // If-None-Match: * on an existing key, and a stale If-Match: 412, typed.
    let err = s3
        .put_object(key, b"other".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    let s = err.service().unwrap();
    assert_eq!((s.status, s.code.as_str()), (412, "PreconditionFailed"));
    assert!(s.request_id.is_some());
    let v2 = s3
        .put_object(
            key,
            b"version 2".to_vec(),
            PutOptions::if_match(put.etag.clone()),
        )
        .await
        .unwrap();
    assert_ne!(v2.etag, put.etag);
    let err = s3
        .put_object(
            key,
            b"version 3".to_vec(),
            PutOptions::if_match(put.etag.clone()),
        )
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    let err = s3
        .put_object(
            key,
            b"v".to_vec(),
            PutOptions::if_match(ETag::new("\"0000\"")),
        )
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    assert_eq!(&s3.get_object(key).await.unwrap().body[..], b"version 2");

    // Delete; then NoSuchKey (GET) and NotFound (HEAD).
    s3.delete_object(key).await.unwrap();
    let err = s3.get_object(key).await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"), "{err}");
    assert!(err.is_not_found());
    let err = s3.head_object(key).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    s3.delete_object(key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_need_encoding_and_empty_bodies() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    for key in [
        "coll/a b+c=d&e.json",
        "coll/ünïcödé/ሴ.bin",
        "coll/100%/x~y_z-!'()*.bin",
        "coll//double-slash",
        "coll/a:b;c,d@e$f",
    ] {
        let put = s3
            .put_object(key, key.as_bytes().to_vec(), PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let got = s3.get_object(key).await.unwrap();
        assert_eq!(&got.body[..], key.as_bytes(), "{key}");
        assert_eq!(got.meta.etag, put.etag);
    }
    let listed = s3.list_all("coll/").await.unwrap();
    let mut keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    keys.sort();
    assert!(keys.contains(&"coll/ünïcödé/ሴ.bin"), "{keys:?}");
    assert!(keys.contains(&"coll/a b+c=d&e.json"), "{keys:?}");
    s3.put_object("coll/empty", Vec::new(), PutOptions::default())
        .await
        .unwrap();
    let e = s3.get_object("coll/empty").await.unwrap();
    assert!(e.body.is_empty());
    assert_eq!(e.meta.size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_objects_v2_paginates() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    for i in 0..23 {
        s3.put_object(
            &format!("p/{i:03}"),
            vec![i as u8; i],
            PutOptions::default(),
        )
        .await
        .unwrap();
    }
    s3.put_object("q/outside", b"x".to_vec(), PutOptions::default())
        .await
        .unwrap();
    // By hand, five at a time.
    let mut pages = 0;
    let mut keys = Vec::new();
    let mut req = ListRequest {
        prefix: Some("p/".into()),
        max_keys: Some(5),
        ..ListRequest::default()
    };
    loop {
        let page = s3.list_objects_v2(&req).await.unwrap();
        pages += 1;
        assert!(page.objects.len() <= 5);
        keys.extend(page.objects.iter().map(|o| o.key.clone()));
        if !page.is_truncated {
            break;
        }
        req.continuation_token = Some(page.next_continuation_token.expect("token"));
    }
    assert_eq!(pages, 5);
    let expected: Vec<String> = (0..23).map(|i| format!("p/{i:03}")).collect();
    assert_eq!(keys, expected);
    // list_all_from follows the tokens itself.
    let all = s3
        .list_all_from(ListRequest {
            prefix: Some("p/".into()),
            max_keys: Some(7),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 23);
    assert_eq!(all[22].size, 22);
    // (s3s-fs leaves ETag out of listings; S3 sends it and ListedObject::etag carries it.)
    // Delimiter: "directories".
    let page = s3
        .list_objects_v2(&ListRequest {
            delimiter: Some("/".into()),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["p/", "q/"]);
    assert_eq!(s3.list_all("").await.unwrap().len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_policy_scopes_reads_to_the_prefix() {
    let stack = Stack::start(&[]);
    let root = stack.s3(stack.root());
    root.put_object("coll/manifest.json", b"{}".to_vec(), PutOptions::default())
        .await
        .unwrap();
    root.put_object("other/secret.json", b"no".to_vec(), PutOptions::default())
        .await
        .unwrap();

    let creds = assume(&stack, Some(read_only_policy(BUCKET, "coll/"))).await;
    assert!(creds.session_token().is_some());
    assert!(creds.expiration().unwrap() > SystemTime::now());
    let s3 = stack.s3(session(creds.clone()));

    // Inside the prefix: reads work.
    assert_eq!(
        &s3.get_object("coll/manifest.json").await.unwrap().body[..],
        b"{}"
    );
    s3.head_object("coll/manifest.json").await.unwrap();
    let listed = s3.list_all("coll/").await.unwrap();
    assert_eq!(listed.len(), 1);

    // A write inside the prefix, and anything outside it: AccessDenied, typed, with AWS's words.
    let err = s3
        .put_object("coll/new.bin", b"x".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let msg = &err.service().unwrap().message;
    assert!(msg.contains("s3:PutObject"), "{msg}");
    let err = s3.delete_object("coll/manifest.json").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let err = s3.get_object("other/secret.json").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let err = s3.list_all("other/").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    assert!(
        err.to_string().contains("ask for write credentials") || err.to_string().contains("prefix")
    );

    // A read-write session may write inside, still not outside.
    let rw = stack.s3(session(
        assume(&stack, Some(read_write_policy(BUCKET, "coll/"))).await,
    ));
    rw.put_object("coll/new.bin", b"x".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap();
    let err = rw
        .put_object("other/new.bin", b"x".to_vec(), PutOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_access_denied(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_get_urls_work_with_session_credentials() {
    let stack = Stack::start(&[]);
    let root = stack.s3(stack.root());
    root.put_object(
        "coll/shards/a b.bin",
        b"shard".to_vec(),
        PutOptions::default(),
    )
    .await
    .unwrap();
    root.put_object("other/x", b"x".to_vec(), PutOptions::default())
        .await
        .unwrap();
    let creds = assume(&stack, Some(read_only_policy(BUCKET, "coll/"))).await;
    let s3 = stack.s3(session(creds));
    let http = Runtime::platform().unwrap().transport;
    let get = |url: String| {
        let http = http.clone();
        async move {
            let req = Request::parse(Method::GET, &url).unwrap();
            http.send(req).await.unwrap()
        }
    };

    let url = s3
        .presign_get("coll/shards/a b.bin", Duration::from_secs(300))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Security-Token="), "{url}");
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let r = get(url).await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"shard");

    // Outside the session policy: the URL is well signed but refused.
    let url = s3
        .presign_get("other/x", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(get(url).await.status, 403);

    // Expired.
    let url = s3
        .presign_get("coll/shards/a b.bin", Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = get(url).await;
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_are_typed_errors() {
    let stack = Stack::start(&[]);
    let wrong_secret = stack.s3(session(Credentials::new(
        stack.ready.access_key_id.clone(),
        "not-the-secret",
        None,
        None,
    )));
    let err = wrong_secret.get_object("k").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::SignatureDoesNotMatch), "{err}");
    assert!(err.to_string().contains("check the secret key"), "{err}");

    let unknown = stack.s3(session(Credentials::new(
        "AKIAUNKNOWN000000000",
        "x",
        None,
        None,
    )));
    let err = unknown.get_object("k").await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"), "{err}");
    assert_eq!(err.kind(), Some(ErrorKind::InvalidCredentials));

    // Session keys without their token.
    let creds = assume(&stack, None).await;
    let tokenless = stack.s3(session(Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        None,
        None,
    )));
    let err = tokenless.get_object("k").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidCredentials), "{err}");

    // STS errors are typed too.
    let err = stack
        .sts()
        .assume_role(&AssumeRole::new("not-an-arn", "s3vec-session"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"), "{err}");
    let err = stack
        .sts()
        .assume_role(&AssumeRole::new(stack.role_arn(), "s3vec-session").policy("{not json"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedPolicyDocument"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Sessions that expire while a client uses them

/// A presign-like endpoint: every request gets fresh AssumeRole credentials (read-only on
/// `coll/`) as the presign Lambda's JSON. Returns its URL and a request counter.
async fn presign_endpoint(stack: &Stack) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/credentials", listener.local_addr().unwrap());
    let sts = Arc::new(stack.sts());
    let role = stack.role_arn();
    let (region, s3) = (stack.ready.region.clone(), stack.ready.s3.clone());
    let count = Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (sts, role, region, s3, served) = (
                sts.clone(),
                role.clone(),
                region.clone(),
                s3.clone(),
                served.clone(),
            );
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                served.fetch_add(1, Ordering::SeqCst);
                let req =
                    AssumeRole::new(role, "presign").policy(read_only_policy(BUCKET, "coll/"));
                let (status, body) = match sts.assume_role(&req).await {
                    Ok(r) => {
                        let c = r.credentials;
                        let exp = time::OffsetDateTime::from(c.expiration().unwrap())
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap();
                        (
                            "200 OK",
                            serde_json::json!({
                                "accessKeyId": c.access_key_id(),
                                "secretAccessKey": c.secret_access_key(),
                                "sessionToken": c.session_token(),
                                "expiration": exp,
                                "region": region, "bucket": BUCKET, "prefix": "coll/",
                                "modelId": "amazon.titan-embed-text-v2:0",
                                "endpoints": {"s3": s3},
                            })
                            .to_string(),
                        )
                    }
                    Err(e) => (
                        "500 Internal Server Error",
                        serde_json::json!({"message": e.to_string()}).to_string(),
                    ),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presign_provider_refreshes_before_sessions_expire() {
    let stack = Stack::start(&["--test-session-lifetime-secs", "3"]);
    stack
        .s3(stack.root())
        .put_object("coll/m.json", b"m".to_vec(), PutOptions::default())
        .await
        .unwrap();
    let (url, served) = presign_endpoint(&stack).await;
    let fetcher = Arc::new(PresignFetcher::new(
        Runtime::platform().unwrap().transport,
        url,
    ));
    let provider = Arc::new(CachingProvider::new(fetcher.clone()));
    let s3 = stack.s3(provider.clone());

    // Many concurrent first requests: one fetch.
    let results =
        futures_util::future::join_all((0..8).map(|_| s3.get_object("coll/m.json"))).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(served.load(Ordering::SeqCst), 1);
    let config = fetcher.latest_config().unwrap();
    assert_eq!(config.prefix.as_deref(), Some("coll/"));
    assert_eq!(
        config.endpoints.s3.as_deref(),
        Some(stack.ready.s3.as_str())
    );

    // Past the session's lifetime: the provider fetched new credentials before S3 saw old ones.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(3200)).await;
        s3.get_object("coll/m.json").await.unwrap();
    }
    assert_eq!(served.load(Ordering::SeqCst), 4);
    assert_eq!(provider.fetch_count(), 4);
}

/// AssumeRole, but claiming the credentials last an hour (a server whose sessions end early,
/// or a wrong clock): only the service's ExpiredToken tells the truth.
struct Overconfident {
    inner: AssumeRoleFetcher,
    calls: AtomicUsize,
}

impl CredentialsFetcher for Overconfident {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let c = self.inner.fetch().await?;
            Ok(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                c.session_token().map(str::to_string),
                Some(SystemTime::now() + Duration::from_secs(3600)),
            ))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_transparently() {
    let stack = Stack::start(&["--test-session-lifetime-secs", "2"]);
    stack
        .s3(stack.root())
        .put_object("coll/m.json", b"m".to_vec(), PutOptions::default())
        .await
        .unwrap();
    let sts = StsClient::new(
        stack.ready.region.clone(),
        Some(stack.ready.sts.clone()),
        stack.root(),
        Runtime::platform().unwrap(),
    );
    let fetcher = Arc::new(Overconfident {
        inner: AssumeRoleFetcher::new(
            sts,
            AssumeRole::new(stack.role_arn(), "s3vec-session")
                .policy(read_only_policy(BUCKET, "coll/")),
        ),
        calls: AtomicUsize::new(0),
    });
    let provider = Arc::new(CachingProvider::new(fetcher.clone()));
    let s3 = stack.s3(provider.clone());
    s3.get_object("coll/m.json").await.unwrap();
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 1);

    // Without the retry, this is ExpiredToken.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stale = provider.credentials(SystemTime::now()).await.unwrap();
    let err = stack
        .s3(session(stale))
        .get_object("coll/m.json")
        .await
        .unwrap_err();
    assert!(err.is_expired_token(), "{err}");
    assert_eq!(err.service().unwrap().status, 400);

    // Through the provider, the client drops them, fetches new ones, and retries once.
    let m = s3.get_object("coll/m.json").await.unwrap();
    assert_eq!(&m.body[..], b"m");
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 2);
    // Concurrent requests that all hit ExpiredToken share one refresh.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let results =
        futures_util::future::join_all((0..6).map(|_| s3.get_object("coll/m.json"))).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_an_hour_off_is_corrected() {
    let stack = Stack::start(&[]);
    let late = Arc::new(|| SystemTime::now() - Duration::from_secs(3600));
    let s3 = s3vec::aws::s3::S3Client::new(
        s3vec::aws::s3::S3Config::new(stack.ready.region.clone(), BUCKET)
            .endpoint(stack.ready.s3.clone()),
        stack.root(),
        Runtime::with_clock(late).unwrap(),
    )
    .unwrap();
    s3.put_object("k", b"v".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap();
    assert_eq!(&s3.get_object("k").await.unwrap().body[..], b"v");
}
