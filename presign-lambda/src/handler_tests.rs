//! The handler with a recording STS and a recording upstream: what it asks STS for, and what
//! it refuses without calling it. The relay's cases are in relay_tests.rs.

use crate::auth::sha256;
use crate::config::{Config, Settings};
use crate::handler::{App, Incoming};
use crate::relay::Upstream;
use crate::sts::{AssumeRole, AssumeRoleInput, StsFailure, TemporaryCredentials};
use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

pub(crate) const ORIGIN: &str = "https://search.example.com";
const TOKEN: &str = "a-long-random-write-token-0123456789";

#[derive(Default)]
pub(crate) struct RecordingSts {
    calls: Mutex<Vec<AssumeRoleInput>>,
    fail: Option<StsFailure>,
}

impl AssumeRole for RecordingSts {
    async fn assume_role(
        &self,
        input: AssumeRoleInput,
    ) -> Result<TemporaryCredentials, StsFailure> {
        self.calls.lock().unwrap().push(input);
        match &self.fail {
            Some(f) => Err(f.clone()),
            None => Ok(TemporaryCredentials {
                access_key_id: "ASIATESTKEY".into(),
                secret_access_key: "secret".into(),
                session_token: "token".into(),
                expiration: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            }),
        }
    }
}

#[derive(Default)]
pub(crate) struct RecordingUpstream {
    pub(crate) calls: Mutex<Vec<http::Request<Bytes>>>,
    pub(crate) fail: bool,
}

impl Upstream for RecordingUpstream {
    async fn send(&self, request: http::Request<Bytes>) -> Result<Response<Bytes>, String> {
        self.calls.lock().unwrap().push(request);
        if self.fail {
            return Err("could not reach Bedrock: connection refused".into());
        }
        let mut r = Response::new(Bytes::from_static(b"{\"embedding\":[0.5]}"));
        r.headers_mut()
            .insert("x-amzn-requestid", "req-1".parse().unwrap());
        r.headers_mut().insert("set-cookie", "x=y".parse().unwrap());
        Ok(r)
    }
}

pub(crate) fn config(change: impl FnOnce(&mut Settings)) -> Config {
    let mut s = Settings {
        bucket: "s3vec-dev-vector-docs".into(),
        prefixes: vec!["docs/".into(), "team/".into()],
        model_id: "amazon.titan-embed-text-v2:0".into(),
        role_arn: "arn:aws:iam::123456789012:role/s3vec-dev-browser".into(),
        allowed_origins: vec![ORIGIN.into()],
        allow_missing_origin: false,
        write_token_sha256: Some(hex::encode(sha256(TOKEN.as_bytes()))),
        session_duration_seconds: 900,
        region: "us-east-1".into(),
        kms_key_arn: None,
        s3_endpoint: None,
        bedrock_endpoint: None,
        relay: true,
        credentials_per_minute: 10,
        relay_per_minute: 600,
    };
    change(&mut s);
    Config::from_settings(s).unwrap()
}

pub(crate) type TestApp = App<RecordingSts, RecordingUpstream>;

pub(crate) fn app() -> TestApp {
    App::new(
        config(|_| {}),
        RecordingSts::default(),
        RecordingUpstream::default(),
    )
}

pub(crate) fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Incoming {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    Incoming {
        method,
        path: path.into(),
        query: None,
        headers: map,
        body: Bytes::from(body.to_string()),
        source_ip: Some("203.0.113.7".parse().unwrap()),
        base_url: Some("https://abc.lambda-url.us-east-1.on.aws".into()),
    }
}

pub(crate) fn post_credentials(headers: &[(&str, &str)], body: &str) -> Incoming {
    request(Method::POST, "/credentials", headers, body)
}

pub(crate) fn json(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

fn policy_of(app: &TestApp) -> Value {
    let calls = app_sts(app).calls.lock().unwrap();
    serde_json::from_str(&calls.last().unwrap().policy).unwrap()
}

fn app_sts(app: &TestApp) -> &RecordingSts {
    // The test module is inside the crate: reach the fields through a helper.
    crate::handler::test_parts(app).0
}

pub(crate) fn app_upstream(app: &TestApp) -> &RecordingUpstream {
    crate::handler::test_parts(app).1
}

#[tokio::test]
async fn anonymous_callers_get_read_only_credentials_and_everything_to_start() {
    let app = app();
    let r = app
        .handle(post_credentials(&[("origin", ORIGIN)], ""))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = json(&r);
    assert_eq!(body["accessKeyId"], "ASIATESTKEY");
    assert_eq!(body["sessionToken"], "token");
    assert_eq!(body["expiration"], "2026-01-01T00:00:00Z");
    assert_eq!(body["bucket"], "s3vec-dev-vector-docs");
    assert_eq!(body["prefix"], "docs/");
    assert_eq!(body["access"], "read");
    assert_eq!(body["modelId"], "amazon.titan-embed-text-v2:0");
    assert_eq!(
        body["endpoints"]["s3"],
        "https://s3.us-east-1.amazonaws.com"
    );
    assert_eq!(
        body["endpoints"]["bedrockRelay"],
        "https://abc.lambda-url.us-east-1.on.aws/bedrock"
    );
    let calls = app_sts(&app).calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].session_name, "s3vec-read-203.0.113.7");
    assert_eq!(calls[0].duration, Duration::from_secs(900));
    let policy: Value = serde_json::from_str(&calls[0].policy).unwrap();
    assert_eq!(
        policy["Statement"][0]["Action"],
        serde_json::json!(["s3:GetObject"])
    );
}

#[tokio::test]
async fn the_write_token_unlocks_write_scope_and_nothing_else_does() {
    let app = app();
    let auth = format!("Bearer {TOKEN}");
    let write = r#"{"access":"write","prefix":"team/a"}"#;
    let r = app
        .handle(post_credentials(
            &[("origin", ORIGIN), ("authorization", &auth)],
            write,
        ))
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    assert_eq!(json(&r)["access"], "write");
    assert_eq!(json(&r)["prefix"], "team/a/");
    let actions = &policy_of(&app)["Statement"][0]["Action"];
    assert_eq!(
        *actions,
        serde_json::json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
    );

    let refused = [
        (vec![("origin", ORIGIN)], 401, "WriteNotAuthorized"),
        (
            vec![("origin", ORIGIN), ("authorization", "Bearer wrong")],
            401,
            "Unauthorized",
        ),
        (
            vec![("origin", ORIGIN), ("authorization", "Basic eDp5")],
            400,
            "Unauthorized",
        ),
    ];
    for (headers, status, code) in refused {
        let r = app.handle(post_credentials(&headers, write)).await;
        assert_eq!(r.status(), status);
        assert_eq!(json(&r)["code"], code);
        assert_eq!(json(&r)["retryable"], false);
        assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    }
    assert_eq!(app_sts(&app).calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn foreign_or_missing_origins_get_nothing_and_no_cors_grant() {
    let app = app();
    let r = app
        .handle(post_credentials(&[("origin", "https://evil.example")], ""))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(json(&r)["code"], "OriginNotAllowed");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = app.handle(post_credentials(&[], "")).await;
    assert_eq!(json(&r)["code"], "OriginRequired");
    let preflight = request(
        Method::OPTIONS,
        "/credentials",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    let r = app.handle(preflight).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(app_sts(&app).calls.lock().unwrap().is_empty());

    let cli = App::new(
        config(|s| s.allow_missing_origin = true),
        RecordingSts::default(),
        RecordingUpstream::default(),
    );
    assert_eq!(cli.handle(post_credentials(&[], "")).await.status(), 200);
}

#[tokio::test]
async fn preflights_grant_post_with_the_route_s_headers_only() {
    let app = app();
    let ok = request(
        Method::OPTIONS,
        "/credentials",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "Content-Type, Authorization",
            ),
        ],
        "",
    );
    let r = app.handle(ok).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(r.headers()["access-control-allow-methods"], "POST");
    assert_eq!(
        r.headers()["access-control-allow-headers"],
        "content-type, authorization"
    );
    let relay = request(
        Method::OPTIONS,
        "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type,x-amz-date,x-amz-security-token,x-amz-content-sha256",
            ),
        ],
        "",
    );
    assert_eq!(app.handle(relay).await.status(), 204);
    let bad = request(
        Method::OPTIONS,
        "/credentials",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-amz-date"),
        ],
        "",
    );
    let r = app.handle(bad).await;
    assert_eq!(r.status(), 403);
    assert!(json(&r)["message"].as_str().unwrap().contains("x-amz-date"));
}

#[tokio::test]
async fn prefixes_outside_the_configured_ones_and_bad_bodies_are_refused() {
    let app = app();
    let cases = [
        (r#"{"prefix":"other/"}"#, 403, "PrefixNotAllowed"),
        (r#"{"prefix":"docs*"}"#, 400, "InvalidPrefix"),
        (r#"{"prefix":"docs/../x/"}"#, 400, "InvalidPrefix"),
        (r#"{"prefx":"docs/"}"#, 400, "InvalidRequest"),
        (r#"{"access":"admin"}"#, 400, "InvalidRequest"),
        ("not json", 400, "InvalidRequest"),
    ];
    for (body, status, code) in cases {
        let r = app
            .handle(post_credentials(&[("origin", ORIGIN)], body))
            .await;
        assert_eq!(
            (r.status().as_u16(), json(&r)["code"].clone()),
            (status, code.into()),
            "{body}"
        );
    }
    let big = format!(r#"{{"prefix":"{}"}}"#, "a".repeat(5000));
    let r = app
        .handle(post_credentials(&[("origin", ORIGIN)], &big))
        .await;
    assert_eq!(r.status(), 413);
    assert!(app_sts(&app).calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn sts_failures_say_whether_to_retry() {
    let throttled = StsFailure {
        code: "Throttling".into(),
        message: "Rate exceeded".into(),
        retryable: true,
    };
    let app = App::new(
        config(|_| {}),
        RecordingSts {
            fail: Some(throttled),
            ..Default::default()
        },
        RecordingUpstream::default(),
    );
    let r = app
        .handle(post_credentials(&[("origin", ORIGIN)], ""))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(json(&r)["retryable"], true);
    assert_eq!(r.headers()["retry-after"], "1");

    let denied = StsFailure {
        code: "AccessDenied".into(),
        message: "not authorized to perform sts:AssumeRole".into(),
        retryable: false,
    };
    let app = App::new(
        config(|_| {}),
        RecordingSts {
            fail: Some(denied),
            ..Default::default()
        },
        RecordingUpstream::default(),
    );
    let r = app
        .handle(post_credentials(&[("origin", ORIGIN)], ""))
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(json(&r)["retryable"], false);
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .contains("AccessDenied")
    );
}

#[tokio::test]
async fn callers_over_the_rate_limit_wait_and_are_told_how_long() {
    let app = App::new(
        config(|s| s.credentials_per_minute = 2),
        RecordingSts::default(),
        RecordingUpstream::default(),
    );
    for _ in 0..2 {
        let r = app
            .handle(post_credentials(&[("origin", ORIGIN)], ""))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = app
        .handle(post_credentials(&[("origin", ORIGIN)], ""))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(json(&r)["retryable"], true);
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(app_sts(&app).calls.lock().unwrap().len(), 2);
}
