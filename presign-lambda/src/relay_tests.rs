//! The relay through the handler: what it forwards upstream, and what it refuses without
//! forwarding.

use crate::handler::{App, Incoming};
use crate::handler_tests::{
    ORIGIN, RecordingSts, RecordingUpstream, app, app_upstream, config, json, post_credentials,
    request,
};
use http::Method;

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=ASIATESTKEY/20260101/us-east-1/bedrock/aws4_request, \
     SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=abc";

fn relayed(path: &str, auth: &str) -> Incoming {
    request(
        Method::POST,
        path,
        &[
            ("origin", ORIGIN),
            ("authorization", auth),
            ("content-type", "application/json"),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-security-token", "token"),
            ("cookie", "session=secret"),
            ("referer", "https://search.example.com/page"),
        ],
        r#"{"inputText":"hello"}"#,
    )
}

#[tokio::test]
async fn the_relay_forwards_the_signed_request_unchanged_and_grants_cors() {
    let app = app();
    let r = app
        .handle(relayed(
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            SIGNED,
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.body().as_ref(), b"{\"embedding\":[0.5]}");
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(r.headers()["x-amzn-requestid"], "req-1");
    assert!(r.headers().get("set-cookie").is_none());
    let calls = app_upstream(&app).calls.lock().unwrap();
    let sent = &calls[0];
    assert_eq!(sent.method(), Method::POST);
    assert_eq!(
        sent.uri().to_string(),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    let mut names: Vec<&str> = sent.headers().keys().map(|k| k.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "authorization",
            "content-type",
            "x-amz-date",
            "x-amz-security-token"
        ]
    );
    assert_eq!(sent.headers()["authorization"], SIGNED);
    assert_eq!(sent.body().as_ref(), br#"{"inputText":"hello"}"#);
}

#[tokio::test]
async fn a_decoded_path_or_the_model_arn_is_forwarded_in_the_signed_encoding() {
    let app = app();
    let arn = "/bedrock/model/arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0/invoke";
    for path in ["/bedrock/model/amazon.titan-embed-text-v2:0/invoke", arn] {
        assert_eq!(
            app.handle(relayed(path, SIGNED)).await.status(),
            200,
            "{path}"
        );
    }
    let calls = app_upstream(&app).calls.lock().unwrap();
    assert!(
        calls[0]
            .uri()
            .path()
            .ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke")
    );
    assert_eq!(
        calls[1].uri().path(),
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.titan-embed-text-v2%3A0/invoke"
    );
}

#[tokio::test]
async fn the_relay_refuses_other_models_operations_and_signatures_without_forwarding() {
    let app = app();
    let other_region = SIGNED.replace("us-east-1", "eu-west-1");
    let other_service = SIGNED.replace("/bedrock/", "/s3/");
    let no_date = SIGNED.replace(";x-amz-date", "");
    let cases = [
        (
            "/bedrock/model/amazon.titan-embed-text-v1/invoke",
            SIGNED,
            403,
            "RelayModelNotAllowed",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke-with-response-stream",
            SIGNED,
            404,
            "RelayNotInvokeModel",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/converse",
            SIGNED,
            404,
            "RelayNotInvokeModel",
        ),
        (
            "/bedrock/guardrail/x/apply",
            SIGNED,
            404,
            "RelayNotInvokeModel",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            "Bearer x",
            400,
            "RelayNotSigned",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            &other_region,
            400,
            "RelayNotSigned",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            &other_service,
            400,
            "RelayNotSigned",
        ),
        (
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            &no_date,
            400,
            "RelayNotSigned",
        ),
    ];
    for (path, auth, status, code) in cases {
        let r = app.handle(relayed(path, auth)).await;
        assert_eq!(r.status(), status, "{path} {auth}");
        assert_eq!(json(&r)["code"], code, "{path} {auth}");
        assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    }
    let mut get = relayed(
        "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
        SIGNED,
    );
    get.method = Method::GET;
    assert_eq!(app.handle(get).await.status(), 404);
    let mut query = relayed(
        "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
        SIGNED,
    );
    query.query = Some("x=1".into());
    assert_eq!(app.handle(query).await.status(), 404);
    let mut foreign = relayed(
        "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
        SIGNED,
    );
    foreign
        .headers
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(app.handle(foreign).await.status(), 403);
    assert!(app_upstream(&app).calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_bedrock_is_a_retryable_502_and_a_disabled_relay_is_absent() {
    let app = App::new(
        config(|_| {}),
        RecordingSts::default(),
        RecordingUpstream {
            fail: true,
            ..Default::default()
        },
    );
    let r = app
        .handle(relayed(
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            SIGNED,
        ))
        .await;
    assert_eq!(r.status(), 502);
    assert_eq!(json(&r)["retryable"], true);

    let off = App::new(
        config(|s| s.relay = false),
        RecordingSts::default(),
        RecordingUpstream::default(),
    );
    let r = off
        .handle(relayed(
            "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
            SIGNED,
        ))
        .await;
    assert_eq!(r.status(), 404);
    let r = off
        .handle(post_credentials(&[("origin", ORIGIN)], ""))
        .await;
    assert!(json(&r)["endpoints"].get("bedrockRelay").is_none());
}
