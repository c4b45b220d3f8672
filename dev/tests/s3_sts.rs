//! The S3 + STS part of the local stack, exercised through independent clients: the AWS SDK for
//! Rust (`aws-sdk-s3`, `aws-sdk-sts`), AWS's own SigV4 signer (`aws-sigv4`) for raw requests,
//! and plain HTTP for CORS. Each test starts the real `s3vec-dev` binary on free ports.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

const ROOT_KEY: &str = "AKIAS3VECDEVROOT0001";
const ROOT_SECRET: &str = "s3vec-dev-root-secret-for-tests";
const BUCKET: &str = "vec-dev-docs";
const ORIGIN: &str = "http://localhost:8080";
const ROLE: &str = "arn:aws:iam::000000000000:role/s3vec-browser";

// ---------------------------------------------------------------------------------------------
// The stack under test

struct Stack {
    child: Child,
    dir: PathBuf,
    ready: serde_json::Value,
}

impl Stack {
    fn start(extra: &[&str]) -> Stack {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "s3vec-dev-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ready_file = dir.join("ready.json");
        let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_s3vec-dev"))
            .args(["--s3-port", "0", "--region", "us-east-1"])
            .args(["--access-key", ROOT_KEY, "--secret-key", ROOT_SECRET])
            .args(["--cors-origin", ORIGIN, "--bucket", BUCKET])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&ready_file)
            .args(extra)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn s3vec-dev");
        let mut stack = Stack {
            child,
            dir,
            ready: serde_json::Value::Null,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file) {
                stack.ready = serde_json::from_str(&text).expect("ready file is JSON");
                return stack;
            }
            if let Ok(Some(status)) = stack.child.try_wait() {
                panic!("s3vec-dev exited with {status}: {}", stack.log());
            }
            assert!(
                Instant::now() < deadline,
                "no ready file after 30 s: {}",
                stack.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn s3_url(&self) -> String {
        self.ready["s3"].as_str().unwrap().to_string()
    }

    fn sts_url(&self) -> String {
        self.ready["sts"].as_str().unwrap().to_string()
    }

    fn s3(&self, creds: Creds) -> aws_sdk_s3::Client {
        self.s3_in("us-east-1", creds)
    }

    fn s3_in(&self, region: &'static str, creds: Creds) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region))
            .endpoint_url(self.s3_url())
            .force_path_style(true)
            .credentials_provider(creds.sdk())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn sts(&self, creds: Creds) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(self.sts_url())
            .credentials_provider(creds.sdk())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    fn root(&self) -> Creds {
        Creds::new(ROOT_KEY, ROOT_SECRET, None)
    }

    /// AssumeRole as root, with an optional session policy.
    async fn session(&self, policy: Option<&str>) -> Creds {
        let out = self
            .sts(self.root())
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("test")
            .duration_seconds(900)
            .set_policy(policy.map(str::to_string))
            .send()
            .await
            .expect("AssumeRole");
        let c = out.credentials().unwrap();
        Creds::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone)]
struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

impl Creds {
    fn new(key: &str, secret: &str, token: Option<&str>) -> Creds {
        Creds {
            key: key.into(),
            secret: secret.into(),
            token: token.map(str::to_string),
        }
    }

    fn sdk(&self) -> aws_sdk_s3::config::Credentials {
        aws_sdk_s3::config::Credentials::new(
            &self.key,
            &self.secret,
            self.token.clone(),
            None,
            "s3vec-dev-test",
        )
    }

    fn without_token(&self) -> Creds {
        Creds {
            token: None,
            ..self.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(req: http::Request<Full<Bytes>>) -> Raw {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.expect("HTTP request");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = http::Request::get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req.body(Full::new(Bytes::new())).unwrap()).await
}

/// A form-encoded STS request signed by AWS's own SigV4 implementation.
async fn raw_sts(stack: &Stack, creds: &Creds, form: &[(&str, &str)]) -> Raw {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let url = format!("{}/", stack.sts_url());
    let mut req = http::Request::post(&url)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Full::new(Bytes::from(body.clone())))
        .unwrap();
    let identity = creds.sdk().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    send(req).await
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

fn status<E, R: HasStatus>(e: &aws_sdk_s3::error::SdkError<E, R>) -> u16 {
    e.raw_response().map(|r| r.status_u16()).unwrap_or(0)
}

trait HasStatus {
    fn status_u16(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

async fn put(client: &aws_sdk_s3::Client, key: &str, body: &'static str) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

async fn read(client: &aws_sdk_s3::Client, key: &str) -> Result<String, String> {
    match client.get_object().bucket(BUCKET).key(key).send().await {
        Ok(out) => Ok(String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()),
        Err(e) => Err(code(&e)),
    }
}

async fn list(client: &aws_sdk_s3::Client, prefix: Option<&str>) -> Result<Vec<String>, String> {
    match client
        .list_objects_v2()
        .bucket(BUCKET)
        .set_prefix(prefix.map(str::to_string))
        .send()
        .await
    {
        Ok(out) => Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()),
        Err(e) => Err(code(&e)),
    }
}

const READ_DEMO: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vec-dev-docs/demo/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::vec-dev-docs",
     "Condition": {"StringLike": {"s3:prefix": ["demo/*", "demo"]}}}
  ]
}"#;

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn ready_file_and_root_round_trip() {
    let stack = Stack::start(&[]);
    let r = &stack.ready;
    assert_eq!(r["s3"], r["sts"]);
    assert!(r["s3"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert_eq!(r["region"], "us-east-1");
    assert_eq!(r["access_key_id"], ROOT_KEY);
    assert_eq!(r["secret_access_key"], ROOT_SECRET);
    assert!(r["bedrock"].is_null());

    let s3 = stack.s3(stack.root());
    s3.create_bucket()
        .bucket("made-by-sdk")
        .send()
        .await
        .unwrap();
    let buckets = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(
        names.contains(&"made-by-sdk") && names.contains(&BUCKET),
        "{names:?}"
    );
    put(&s3, "demo/a.txt", "hello").await;
    assert_eq!(read(&s3, "demo/a.txt").await.unwrap(), "hello");
    assert_eq!(read(&s3, "demo/missing").await.unwrap_err(), "NoSuchKey");
    assert_eq!(list(&s3, None).await.unwrap(), ["demo/a.txt"]);

    let who = stack
        .sts(stack.root())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some("arn:aws:iam::000000000000:root"));
    assert_eq!(who.account(), Some("000000000000"));
}

#[tokio::test]
async fn wrong_secret_and_unknown_keys_are_refused() {
    let stack = Stack::start(&[]);
    let bad = stack.s3(Creds::new(ROOT_KEY, "not-the-secret", None));
    let e = bad
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("SignatureDoesNotMatch", 403)
    );
    let e = bad
        .put_object()
        .bucket(BUCKET)
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "SignatureDoesNotMatch");

    let unknown = stack.s3(Creds::new("AKIANOBODY0000000000", ROOT_SECRET, None));
    let e = unknown
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidAccessKeyId", 403));

    // STS words the same failures its own way.
    let e = stack
        .sts(Creds::new(ROOT_KEY, "not-the-secret", None))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "SignatureDoesNotMatch");
    let e = stack
        .sts(Creds::new("AKIANOBODY0000000000", ROOT_SECRET, None))
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    let raw = raw_sts(
        &stack,
        &Creds::new(ROOT_KEY, "not-the-secret", None),
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await;
    assert_eq!(raw.status, StatusCode::FORBIDDEN);
    assert!(
        raw.body
            .contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
            && raw.body.contains("<Type>Sender</Type>")
            && raw.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        raw.body
    );
}

#[tokio::test]
async fn presigned_urls_are_verified() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    put(&s3, "demo/a.txt", "presigned body").await;
    put(&s3, "demo/b.txt", "other").await;
    let presign = |key: &'static str, config: PresigningConfig| {
        let s3 = s3.clone();
        async move {
            s3.get_object()
                .bucket(BUCKET)
                .key(key)
                .presigned(config)
                .await
                .unwrap()
                .uri()
                .to_string()
        }
    };
    let url = presign(
        "demo/a.txt",
        PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
    )
    .await;
    let ok = get(&url, &[]).await;
    assert_eq!(
        (ok.status, ok.body.as_str()),
        (StatusCode::OK, "presigned body")
    );

    // Another key under the same signature.
    let tampered = url.replace("demo/a.txt", "demo/b.txt");
    assert_ne!(tampered, url);
    let r = get(&tampered, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body
    );
    // A flipped signature digit.
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = url.clone();
    let flipped = if &url[at..at + 1] == "0" { "1" } else { "0" };
    forged.replace_range(at..at + 1, flipped);
    let r = get(&forged, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body
    );
    // A longer validity than was signed.
    let stretched = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    let r = get(&stretched, &[]).await;
    assert!(
        r.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body
    );

    // Signed an hour ago, valid for a minute.
    let expired = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = presign("demo/a.txt", expired).await;
    let r = get(&url, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("<Code>AccessDenied</Code>") && r.body.contains("Request has expired"),
        "{}",
        r.body
    );

    // Session credentials put their token in the URL, where it is signed and checked.
    let session = stack.session(Some(READ_DEMO)).await;
    let url = stack
        .s3(session.clone())
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    assert!(url.contains("X-Amz-Security-Token="));
    assert_eq!(get(&url, &[]).await.status, StatusCode::OK);
    let denied = stack
        .s3(session)
        .get_object()
        .bucket(BUCKET)
        .key("private/x")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let r = get(&denied, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<Code>AccessDenied</Code>"), "{}", r.body);
}

#[tokio::test]
async fn session_policy_bounds_reads_writes_and_listing() {
    let stack = Stack::start(&[]);
    let root = stack.s3(stack.root());
    put(&root, "demo/a.txt", "public").await;
    put(&root, "private/b.txt", "secret").await;

    let s3 = stack.s3(stack.session(Some(READ_DEMO)).await);
    assert_eq!(read(&s3, "demo/a.txt").await.unwrap(), "public");
    s3.head_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read(&s3, "private/b.txt").await.unwrap_err(),
        "AccessDenied"
    );
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key("demo/new.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("AccessDenied", 403));
    assert!(
        e.message().unwrap_or("").contains("s3:PutObject"),
        "{:?}",
        e.message()
    );
    let e = s3
        .delete_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // ListBucket only within the s3:prefix condition.
    assert_eq!(list(&s3, Some("demo/")).await.unwrap(), ["demo/a.txt"]);
    assert_eq!(
        list(&s3, Some("private/")).await.unwrap_err(),
        "AccessDenied"
    );
    assert_eq!(list(&s3, None).await.unwrap_err(), "AccessDenied");
    let e = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = s3
        .create_bucket()
        .bucket("not-allowed")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // Writes under a prefix, with an explicit Deny carved out, and batch deletes.
    let writer = stack
        .s3(stack
            .session(Some(
                r#"{"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                     "Resource": "arn:aws:s3:::vec-dev-docs/demo/*"},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::vec-dev-docs/demo/locked/*"}
                ]}"#,
            ))
            .await);
    put(&writer, "demo/written.txt", "w").await;
    let e = writer
        .put_object()
        .bucket(BUCKET)
        .key("demo/locked/x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(
        e.message().unwrap_or("").contains("explicit deny"),
        "{:?}",
        e.message()
    );
    let ids = |keys: &[&str]| {
        aws_sdk_s3::types::Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| {
                        aws_sdk_s3::types::ObjectIdentifier::builder()
                            .key(*k)
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    let e = writer
        .delete_objects()
        .bucket(BUCKET)
        .delete(ids(&["demo/written.txt", "private/b.txt"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    writer
        .delete_objects()
        .bucket(BUCKET)
        .delete(ids(&["demo/written.txt"]))
        .send()
        .await
        .unwrap();
    // A copy needs s3:GetObject on the source.
    let e = writer
        .copy_object()
        .bucket(BUCKET)
        .key("demo/copied.txt")
        .copy_source(format!("{BUCKET}/private/b.txt"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // No session policy: the role's (unrestricted) permissions.
    let full = stack.s3(stack.session(None).await);
    assert_eq!(read(&full, "private/b.txt").await.unwrap(), "secret");
    put(&full, "private/c.txt", "c").await;
}

#[tokio::test]
async fn session_tokens_are_required_and_checked() {
    let stack = Stack::start(&[]);
    put(&stack.s3(stack.root()), "demo/a.txt", "x").await;
    let session = stack.session(None).await;
    assert_eq!(
        read(&stack.s3(session.clone()), "demo/a.txt")
            .await
            .unwrap(),
        "x"
    );

    // Temporary keys without their token are unknown to S3, as on AWS.
    let e = stack
        .s3(session.without_token())
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidAccessKeyId", 403));
    // Someone else's token.
    let forged = Creds {
        token: Some("IQoJb3JpZ2luX2VjEForged".into()),
        ..session.clone()
    };
    let e = stack
        .s3(forged.clone())
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidToken", 400));
    // A token with long-term keys.
    let e = stack
        .s3(Creds::new(ROOT_KEY, ROOT_SECRET, session.token.as_deref()))
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidToken");
    // STS checks tokens too.
    let e = stack
        .sts(forged)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    let who = stack
        .sts(session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/s3vec-browser/test")
    );
}

#[tokio::test]
async fn expired_sessions_get_expired_token() {
    let stack = Stack::start(&["--test-session-lifetime-secs", "2"]);
    put(&stack.s3(stack.root()), "demo/a.txt", "x").await;
    let out = stack
        .sts(stack.root())
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("short")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let expires = SystemTime::try_from(*c.expiration()).unwrap();
    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    assert!(
        left <= Duration::from_secs(3),
        "Expiration is the real one: {left:?}"
    );
    let session = Creds::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    );
    let s3 = stack.s3(session.clone());
    assert_eq!(read(&s3, "demo/a.txt").await.unwrap(), "x");

    tokio::time::sleep(left + Duration::from_millis(1200)).await;
    let e = s3
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("ExpiredToken", 400));
    assert_eq!(e.message(), Some("The provided token has expired."));
    let e = stack
        .sts(session)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
}

#[tokio::test]
async fn assume_role_validates_like_sts() {
    let stack = Stack::start(&[]);
    let sts = stack.sts(stack.root());
    let assume = |secs: i32| {
        sts.assume_role()
            .role_arn(ROLE)
            .role_session_name("web")
            .duration_seconds(secs)
            .send()
    };
    let e = assume(899).await.unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    assert_eq!(
        e.message(),
        Some(
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )
    );
    let body = std::str::from_utf8(e.raw_response().unwrap().body().bytes().unwrap())
        .unwrap()
        .to_string();
    assert!(
        body.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
            && body.contains("<Error>\n    <Type>Sender</Type>\n    <Code>ValidationError</Code>\n    <Message>1 validation error detected"),
        "{body}"
    );
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    assert_eq!(code(&assume(43201).await.unwrap_err()), "ValidationError");

    let before = SystemTime::now();
    let out = assume(43200).await.unwrap();
    let expires = SystemTime::try_from(*out.credentials().unwrap().expiration()).unwrap();
    let lifetime = expires.duration_since(before).unwrap().as_secs();
    assert!((43199..=43201).contains(&lifetime), "{lifetime}");
    let out = assume(900).await.unwrap();
    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::000000000000:assumed-role/s3vec-browser/web"
    );
    assert!(user.assumed_role_id().starts_with("AROA") && user.assumed_role_id().ends_with(":web"));
    assert!(
        out.credentials()
            .unwrap()
            .access_key_id()
            .starts_with("ASIA")
    );

    let e = sts
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("web")
        .policy(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject""#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let e = sts
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");

    // Only root may assume roles.
    let session = stack.session(None).await;
    let e = stack
        .sts(session)
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("chained")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn assume_role_response_is_aws_xml() {
    let stack = Stack::start(&[]);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::vec-dev-docs/demo/*"}]}"#;
    let r = raw_sts(
        &stack,
        &stack.root(),
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "raw"),
            ("DurationSeconds", "3600"),
            ("Policy", policy),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "text/xml");
    assert!(r.headers.contains_key("x-amzn-requestid"));
    let b = &r.body;
    let order = [
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">",
        "<AssumeRoleResult>",
        "<AssumedRoleUser>",
        "<AssumedRoleId>AROA",
        "<Arn>arn:aws:sts::000000000000:assumed-role/s3vec-browser/raw</Arn>",
        "</AssumedRoleUser>",
        "<Credentials>",
        "<AccessKeyId>ASIA",
        "<SecretAccessKey>",
        "<SessionToken>",
        "<Expiration>",
        "</Credentials>",
        "<PackedPolicySize>",
        "</AssumeRoleResult>",
        "<ResponseMetadata>",
        "<RequestId>",
        "</ResponseMetadata>",
        "</AssumeRoleResponse>",
    ];
    let mut at = 0;
    for piece in order {
        let found = b[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece} missing after {at} in {b}"));
        at += found + piece.len();
    }
    let rid = r.headers["x-amzn-requestid"].to_str().unwrap();
    assert!(
        b.contains(&format!("<RequestId>{rid}</RequestId>")),
        "{rid} in {b}"
    );
    // ISO 8601, UTC: 2025-01-01T00:00:00Z
    let exp = &b[b.find("<Expiration>").unwrap() + 12..b.find("</Expiration>").unwrap()];
    assert_eq!(exp.len(), 20, "{exp}");
    assert!(exp.ends_with('Z') && &exp[10..11] == "T", "{exp}");

    let r = raw_sts(
        &stack,
        &stack.root(),
        &[("Action", "Frobnicate"), ("Version", "2011-06-15")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("<Code>InvalidAction</Code>"), "{}", r.body);
}

#[tokio::test]
async fn cors_preflights_and_grants() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    put(&s3, "demo/a.txt", "cors").await;
    let object = format!("{}/{BUCKET}/demo/a.txt", stack.s3_url());
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        let object = object.clone();
        async move {
            send(
                http::Request::builder()
                    .method("OPTIONS")
                    .uri(&object)
                    .header("origin", origin)
                    .header("access-control-request-method", method)
                    .header("access-control-request-headers", headers)
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
            .await
        }
    };
    let sigv4_headers = "authorization,x-amz-date,x-amz-content-sha256,x-amz-security-token,range,if-match,if-none-match,content-type,amz-sdk-invocation-id,amz-sdk-request,x-amz-user-agent";
    let ok = preflight(ORIGIN, "PUT", sigv4_headers).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.headers["access-control-allow-origin"], ORIGIN);
    let methods = ok.headers["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "PUT", "HEAD", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = ok.headers["access-control-allow-headers"].to_str().unwrap();
    for h in sigv4_headers.split(',') {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    let exposed = ok.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "etag",
        "content-range",
        "x-amz-request-id",
        "x-amz-version-id",
    ] {
        assert!(exposed.contains(h), "{h} not in {exposed}");
    }

    let foreign = preflight("http://evil.example", "GET", "authorization").await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(
        foreign.body.contains("<Code>AccessForbidden</Code>"),
        "{}",
        foreign.body
    );
    assert!(
        !foreign
            .headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
    );
    let odd_header = preflight(ORIGIN, "GET", "x-not-allowed").await;
    assert_eq!(odd_header.status, StatusCode::FORBIDDEN);
    assert!(
        !odd_header
            .headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "a refused preflight grants nothing"
    );
    // The STS endpoint (same port) answers preflights too.
    let sts_preflight = send(
        http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{}/", stack.sts_url()))
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-amz-date",
            )
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(sts_preflight.status, StatusCode::OK);

    // Actual requests: the allowed origin gets the grant, a foreign one nothing.
    let url = s3
        .get_object()
        .bucket(BUCKET)
        .key("demo/a.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let r = get(&url, &[("origin", ORIGIN)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], ORIGIN);
    assert!(
        r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("ETag")
    );
    assert!(r.headers.contains_key("x-amz-request-id"));
    assert!(r.headers.contains_key("etag"));
    let r = get(&url, &[("origin", "http://evil.example")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn conditional_writes_and_ranges() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    let key = "demo/manifest.json";
    let first = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    let etag = first.e_tag().unwrap().to_string();

    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from_static(b"clobber"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("PreconditionFailed", 412));

    let second = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_match(&etag)
        .body(ByteStream::from_static(b"abcdefghij"))
        .send()
        .await
        .unwrap();
    assert_ne!(second.e_tag().unwrap(), etag);
    // The first ETag is stale now.
    let e = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_match(&etag)
        .body(ByteStream::from_static(b"lost update"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("PreconditionFailed", 412));
    assert_eq!(read(&s3, key).await.unwrap(), "abcdefghij");

    let part = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .range("bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.content_range(), Some("bytes 2-5/10"));
    assert_eq!(part.body.collect().await.unwrap().to_vec(), b"cdef");
    let url = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let r = get(&url, &[("range", "bytes=-3")]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::PARTIAL_CONTENT, "hij")
    );
    assert_eq!(r.headers["content-range"], "bytes 7-9/10");
    let r = get(&url, &[("range", "bytes=20-30")]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(r.body.contains("<Code>InvalidRange</Code>"), "{}", r.body);
}

#[tokio::test]
async fn signing_region_must_be_the_stacks() {
    let stack = Stack::start(&[]);
    let e = stack
        .s3_in("eu-west-1", stack.root())
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("AuthorizationHeaderMalformed", 400)
    );
    assert!(
        e.message().unwrap_or("").contains("expecting 'us-east-1'"),
        "{:?}",
        e.message()
    );
}

#[tokio::test]
async fn signature_version_2_is_refused() {
    let stack = Stack::start(&[]);
    let object = format!("{}/{BUCKET}/demo/a.txt", stack.s3_url());
    // Refused for the mechanism, before (and whatever) the signature.
    let r = get(
        &object,
        &[("authorization", &format!("AWS {ROOT_KEY}:c2lnbmF0dXJl"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("<Code>InvalidRequest</Code>") && r.body.contains("AWS4-HMAC-SHA256"),
        "{}",
        r.body
    );
    let presigned_v2 =
        format!("{object}?AWSAccessKeyId={ROOT_KEY}&Expires=4102444800&Signature=c2ln");
    let r = get(&presigned_v2, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("<Code>InvalidRequest</Code>"), "{}", r.body);
    assert!(r.headers.contains_key("x-amz-request-id"));
}

#[tokio::test]
async fn stops_cleanly_on_sigterm() {
    let mut stack = Stack::start(&[]);
    let ready_file = stack.dir.join("ready.json");
    assert!(ready_file.exists());
    let pid = stack.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = stack.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", stack.log());
    assert!(!ready_file.exists(), "the ready file is removed on exit");
}

#[tokio::test]
async fn dev_stats_count_the_requests_answered() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    put(&s3, "c/a.txt", "hello").await;
    assert_eq!(read(&s3, "c/a.txt").await.unwrap(), "hello");
    assert_eq!(read(&s3, "c/missing").await.unwrap_err(), "NoSuchKey");
    let base = stack.ready["s3"].as_str().unwrap();
    // A preflight is not an S3 request: not counted.
    let pre = send(
        http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{base}/{BUCKET}/c/a.txt"))
            .header("origin", ORIGIN)
            .header("access-control-request-method", "GET")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(pre.status, 200, "{}", pre.body);
    let raw = get(&format!("{base}/_dev/stats"), &[]).await;
    assert_eq!(raw.status, 200);
    let v: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    let seen: Vec<(String, String, u64)> = v["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = |m: &str, p: &str, s: u64| (m.to_string(), format!("/{BUCKET}/{p}"), s);
    assert_eq!(
        seen,
        [
            want("PUT", "c/a.txt", 200),
            want("GET", "c/a.txt", 200),
            want("GET", "c/missing", 404)
        ]
    );
    assert_eq!(v["total"], 3);
}
