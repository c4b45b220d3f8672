//! The Bedrock service over HTTP, in-process on 127.0.0.1:0, with requests signed by the
//! `aws-sigv4` crate: Titan's and Cohere Embed v3's wire formats, their validation, SigV4 and
//! credential failures, the session policy, throttling, injected faults, CORS on and off.

mod bedrock_common;

use bedrock_common::*;
use s3vec_dev::bedrock::cors::CorsConfig;
use s3vec_dev::bedrock::limits::Faults;
use s3vec_dev::bedrock::{BedrockConfig, MAX_BODY_BYTES};
use s3vec_dev::model::cosine;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn titan_v2_defaults_match_the_documented_shape() {
    let server = start(BedrockConfig::default()).await;
    let r = server
        .invoke(
            V2,
            &json!({"inputText": "The weather is lovely today."}),
            &server.root(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(is_uuid(r.header("x-amzn-RequestId").unwrap()));
    assert_eq!(r.header("X-Amzn-Bedrock-Input-Token-Count"), Some("6"));
    let body = r.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let embedding = floats(&body["embedding"]);
    assert_eq!(embedding.len(), 1024);
    assert!((norm(&embedding) - 1.0).abs() < 1e-4);
    assert!(embedding[384..].iter().all(|&x| x == 0.0), "zero-padded");
    let by_type = body["embeddingsByType"].as_object().unwrap();
    assert_eq!(by_type.len(), 1, "only float by default");
    assert_eq!(floats(&by_type["float"]), embedding);
    // Tokens of the text itself: the, weather, is, lovely, today, "." ([CLS]/[SEP] not counted).
    assert_eq!(body["inputTextTokenCount"], 6);
}

#[tokio::test]
async fn dimensions_and_normalize() {
    let server = start(BedrockConfig::default()).await;
    let text = "A heavy storm is expected to reach the coast tonight.";
    let mut vectors = Vec::new();
    for dims in [256, 512, 1024] {
        let r = server
            .invoke(
                V2,
                &json!({"inputText": text, "dimensions": dims}),
                &server.root(),
            )
            .await;
        assert_eq!(r.status, 200);
        let v = floats(&r.json()["embedding"]);
        assert_eq!(v.len(), dims);
        assert!((norm(&v) - 1.0).abs() < 1e-4, "{dims}: unit length");
        vectors.push(v);
    }
    assert_eq!(
        vectors[1][..384],
        vectors[2][..384],
        "512 and 1024 pad the same vector"
    );
    assert!(vectors[1][384..].iter().all(|&x| x == 0.0));

    let r = server
        .invoke(
            V2,
            &json!({"inputText": text, "normalize": false}),
            &server.root(),
        )
        .await;
    let raw = floats(&r.json()["embedding"]);
    assert_eq!(raw.len(), 1024);
    assert!(
        (norm(&raw) - 1.0).abs() > 0.01,
        "normalize: false keeps the pooled length"
    );
    assert!(
        (cosine(&raw, &vectors[2]) - 1.0).abs() < 1e-5,
        "same direction"
    );
}

#[tokio::test]
async fn binary_embeddings_are_the_sign_bits() {
    let server = start(BedrockConfig::default()).await;
    let text = "Bees are essential for pollinating many crops.";
    let both = server
        .invoke(
            V2,
            &json!({"inputText": text, "dimensions": 512, "embeddingTypes": ["float", "binary"]}),
            &server.root(),
        )
        .await
        .json();
    let float = floats(&both["embeddingsByType"]["float"]);
    assert_eq!(floats(&both["embedding"]), float);
    let binary: Vec<u64> = both["embeddingsByType"]["binary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().expect("binary values are integers"))
        .collect();
    assert_eq!(binary.len(), 512);
    let expected: Vec<u64> = float.iter().map(|&x| u64::from(x > 0.0)).collect();
    assert_eq!(binary, expected);
    assert!(
        binary[384..].iter().all(|&b| b == 0),
        "padding is not positive"
    );
    assert!(binary.iter().filter(|&&b| b == 1).count() > 100);

    let only = server
        .invoke(
            V2,
            &json!({"inputText": text, "dimensions": 512, "embeddingTypes": ["binary"]}),
            &server.root(),
        )
        .await
        .json();
    assert!(
        only.get("embedding").is_none(),
        "no float embedding unless asked: {only}"
    );
    let by_type = only["embeddingsByType"].as_object().unwrap();
    assert_eq!(by_type.keys().collect::<Vec<_>>(), ["binary"]);
    assert_eq!(by_type["binary"], both["embeddingsByType"]["binary"]);
    assert_eq!(only["inputTextTokenCount"], both["inputTextTokenCount"]);
}

#[tokio::test]
async fn titan_v1_and_model_arns() {
    let server = start(BedrockConfig::default()).await;
    let r = server
        .invoke(V1, &json!({"inputText": "The cat slept."}), &server.root())
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    let v = floats(&body["embedding"]);
    assert_eq!(v.len(), 1536);
    assert!(v[384..].iter().all(|&x| x == 0.0));
    assert_eq!(body["inputTextTokenCount"], 4);

    let r = server
        .invoke(
            V1,
            &json!({"inputText": "The cat slept.", "dimensions": 1024}),
            &server.root(),
        )
        .await;
    r.assert_error(400, "ValidationException");
    assert!(
        r.message()
            .contains("extraneous key [dimensions] is not permitted")
    );

    let arn = format!("arn:aws:bedrock:{REGION}::foundation-model/{V2}");
    let r = server
        .invoke(
            &arn,
            &json!({"inputText": "The cat slept."}),
            &server.root(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(floats(&r.json()["embedding"])[..384], v[..384]);
}

#[tokio::test]
async fn quickstart_similarities_through_the_api() {
    let server = start(BedrockConfig::default()).await;
    let mut v = Vec::new();
    for text in [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ] {
        let r = server
            .invoke(
                V2,
                &json!({"inputText": text, "dimensions": 512}),
                &server.root(),
            )
            .await;
        v.push(floats(&r.json()["embedding"]));
    }
    let sims = [
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2]),
        cosine(&v[1], &v[2]),
    ];
    for (got, want) in sims.iter().zip([0.6660f32, 0.1046, 0.1411]) {
        assert!((got - want).abs() < 5e-4, "{sims:?}");
    }
}

#[tokio::test]
async fn invalid_bodies_are_validation_exceptions() {
    let server = start(BedrockConfig::default()).await;
    let root = server.root();
    let cases = [
        (
            json!({"inputText": ""}),
            "#/inputText: expected minLength: 1, actual: 0",
        ),
        (
            json!({"inputText": "x".repeat(50_001)}),
            "#/inputText: expected maxLength: 50000, actual: 50001",
        ),
        (
            json!({"inputText": "a", "dimensions": 384}),
            "#/dimensions: 384 is not a valid enum value",
        ),
        (
            json!({"inputText": "a", "embeddingTypes": ["int8"]}),
            "#/embeddingTypes/0: int8 is not a valid enum value",
        ),
        (
            json!({"inputText": "a", "normalise": true}),
            "#: extraneous key [normalise] is not permitted",
        ),
        (
            json!({"text": "a"}),
            "#: extraneous key [text] is not permitted",
        ),
        (json!({}), "#: required key [inputText] not found"),
    ];
    for (body, detail) in cases {
        let r = server.invoke(V2, &body, &root).await;
        r.assert_error(400, "ValidationException");
        assert_eq!(
            r.message(),
            format!("Malformed input request: {detail}, please reformat your input and try again."),
        );
    }
    // 50,000 characters are fine (the model reads the first 256 tokens), up to 8,192 tokens.
    let long = "lovely weather ".repeat(3_333);
    assert!(long.len() <= 50_000);
    let r = server.invoke(V2, &json!({"inputText": long}), &root).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["inputTextTokenCount"], 6_666);
    let r = server
        .invoke(V2, &json!({"inputText": "word ".repeat(10_000)}), &root)
        .await;
    r.assert_error(400, "ValidationException");
    assert!(r.message().contains(
        "Too many input tokens. Max input tokens: 8192, request input token count: 10000"
    ));
    // A body over the limit is refused before it is parsed.
    let huge = json!({"inputText": "a".repeat(MAX_BODY_BYTES)});
    server
        .invoke(V2, &huge, &root)
        .await
        .assert_error(400, "ValidationException");
    // Not JSON at all.
    let request = signed(
        "POST",
        &server.invoke_url(V2),
        &[("content-type", "application/json")],
        b"inputText=hello".to_vec(),
        &root,
        SystemTime::now(),
    );
    let r = send(request).await;
    r.assert_error(400, "ValidationException");
    assert!(r.message().starts_with("Malformed input request"));
}

#[tokio::test]
async fn unknown_models_and_operations() {
    let server = start(BedrockConfig::default()).await;
    let r = server
        .invoke(
            "amazon.titan-embed-text-v9:0",
            &json!({"inputText": "a"}),
            &server.root(),
        )
        .await;
    r.assert_error(404, "ResourceNotFoundException");
    let request = signed(
        "GET",
        &server.invoke_url(V2),
        &[],
        Vec::new(),
        &server.root(),
        SystemTime::now(),
    );
    send(request)
        .await
        .assert_error(404, "UnknownOperationException");
    let request = signed(
        "POST",
        &format!("{}/model/{}/converse", server.url(), encode_label(V2)),
        &[],
        b"{}".to_vec(),
        &server.root(),
        SystemTime::now(),
    );
    send(request)
        .await
        .assert_error(404, "UnknownOperationException");
}

#[tokio::test]
async fn sigv4_failures() {
    let server = start(BedrockConfig::default()).await;
    let url = server.invoke_url(V2);
    let body = json!({"inputText": "hello"}).to_string().into_bytes();
    let headers = [("content-type", "application/json")];
    let now = SystemTime::now();
    let sign_with =
        |keys: &Keys, at: SystemTime| signed("POST", &url, &headers, body.clone(), keys, at);

    // Unsigned.
    let r = send(unsigned("POST", &url, &headers, body.clone())).await;
    r.assert_error(403, "MissingAuthenticationTokenException");

    // Wrong secret.
    let mut wrong = server.root();
    wrong.secret = "not-the-secret".into();
    let r = send(sign_with(&wrong, now)).await;
    r.assert_error(403, "InvalidSignatureException");
    assert!(r.message().starts_with(
        "The request signature we calculated does not match the signature you provided."
    ));

    // Body changed after signing.
    let mut tampered = sign_with(&server.root(), now);
    *tampered.body_mut() = json!({"inputText": "HELLO"}).to_string().into_bytes();
    send(tampered)
        .await
        .assert_error(403, "InvalidSignatureException");

    // A signed header changed after signing.
    let mut moved = sign_with(&server.root(), now);
    moved
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    send(moved)
        .await
        .assert_error(403, "InvalidSignatureException");

    // Unknown access key.
    let mut unknown = server.root();
    unknown.access_key = "AKIANOTAKEYATALL1234".into();
    let r = send(sign_with(&unknown, now)).await;
    r.assert_error(403, "UnrecognizedClientException");
    assert_eq!(
        r.message(),
        "The security token included in the request is invalid."
    );

    // Clock skew: 15 minutes either way is the limit.
    let r = send(sign_with(
        &server.root(),
        now - Duration::from_secs(16 * 60),
    ))
    .await;
    r.assert_error(403, "InvalidSignatureException");
    assert!(
        r.message().starts_with("Signature expired: "),
        "{}",
        r.message()
    );
    let r = send(sign_with(
        &server.root(),
        now + Duration::from_secs(16 * 60),
    ))
    .await;
    r.assert_error(403, "InvalidSignatureException");
    assert!(
        r.message().starts_with("Signature not yet current: "),
        "{}",
        r.message()
    );
    let r = send(sign_with(
        &server.root(),
        now - Duration::from_secs(14 * 60),
    ))
    .await;
    assert_eq!(r.status, 200);

    // Signed for another service or region.
    let mut s3 = sign_with(&server.root(), now);
    let auth = s3.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace("/bedrock/", "/s3/");
    s3.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let r = send(s3).await;
    r.assert_error(403, "InvalidSignatureException");
    assert!(r.message().contains("correct service: 'bedrock'"));
    let mut region = sign_with(&server.root(), now);
    let auth = region.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace("/us-east-1/", "/eu-west-1/");
    region
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    send(region)
        .await
        .assert_error(403, "InvalidSignatureException");

    // A malformed Authorization header.
    let mut broken = sign_with(&server.root(), now);
    broken.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
    );
    send(broken)
        .await
        .assert_error(400, "IncompleteSignatureException");
}

#[tokio::test]
async fn session_tokens_and_expiry() {
    let server = start(BedrockConfig::default()).await;
    let now = SystemTime::now();
    let keys = server.session(None, Duration::from_secs(900), now);
    let body = json!({"inputText": "hello"});
    assert_eq!(server.invoke(V2, &body, &keys).await.status, 200);

    let mut no_token = keys.clone();
    no_token.token = None;
    let r = server.invoke(V2, &body, &no_token).await;
    r.assert_error(403, "UnrecognizedClientException");

    let mut forged = keys.clone();
    forged.token = Some("IQoJb3JpZ2luX2VjFORGED".into());
    server
        .invoke(V2, &body, &forged)
        .await
        .assert_error(403, "UnrecognizedClientException");

    // Issued an hour ago for 15 minutes: correctly signed, but expired.
    let expired = server.session(
        None,
        Duration::from_secs(900),
        now - Duration::from_secs(3600),
    );
    let r = server.invoke(V2, &body, &expired).await;
    r.assert_error(403, "ExpiredTokenException");
    assert_eq!(
        r.message(),
        "The security token included in the request is expired"
    );
}

#[tokio::test]
async fn the_session_policy_is_enforced() {
    let server = start(BedrockConfig::default()).await;
    let now = SystemTime::now();
    let v2_only = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": "bedrock:InvokeModel",
              "Resource": "arn:aws:bedrock:{REGION}::foundation-model/{V2}"}},
            {{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}]}}"#
    );
    let keys = server.session(Some(&v2_only), Duration::from_secs(900), now);
    let body = json!({"inputText": "hello"});
    assert_eq!(server.invoke(V2, &body, &keys).await.status, 200);
    let r = server.invoke(V1, &body, &keys).await;
    r.assert_error(403, "AccessDeniedException");
    assert_eq!(
        r.message(),
        format!(
            "User: {ROLE_ARN} is not authorized to perform: bedrock:InvokeModel on resource: \
             arn:aws:bedrock:{REGION}::foundation-model/{V1} because no session policy allows \
             the bedrock:InvokeModel action"
        )
    );

    let s3_only = r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
    let keys = server.session(Some(s3_only), Duration::from_secs(900), now);
    server
        .invoke(V2, &body, &keys)
        .await
        .assert_error(403, "AccessDeniedException");

    let denied = r#"{"Statement": [
        {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "bedrock:InvokeModel", "Resource": "*:foundation-model/amazon.titan-embed-text-v1"}]}"#;
    let keys = server.session(Some(denied), Duration::from_secs(900), now);
    assert_eq!(server.invoke(V2, &body, &keys).await.status, 200);
    let r = server.invoke(V1, &body, &keys).await;
    r.assert_error(403, "AccessDeniedException");
    assert!(
        r.message()
            .ends_with("with an explicit deny in a session policy")
    );
}

#[tokio::test]
async fn the_rate_limit_throttles() {
    let server = start(BedrockConfig {
        rate_limit: Some(2.0),
        ..BedrockConfig::default()
    })
    .await;
    let body = json!({"inputText": "hi"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(server.invoke(V2, &body, &server.root()).await);
    }
    assert_eq!(statuses[0].status, 200);
    let throttled: Vec<_> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(
        !throttled.is_empty(),
        "{:?}",
        statuses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    throttled[0].assert_error(429, "ThrottlingException");
    assert_eq!(
        throttled[0].message(),
        "Too many requests, please wait before trying your request again."
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(server.invoke(V2, &body, &server.root()).await.status, 200);
    server.state.set_rate_limit(None);
    for _ in 0..4 {
        assert_eq!(server.invoke(V2, &body, &server.root()).await.status, 200);
    }
}

#[tokio::test]
async fn injected_faults_and_the_control_endpoint() {
    let server = start(BedrockConfig {
        faults: Faults {
            error_rate: 0.5,
            error_status: 500,
            ..Faults::default()
        },
        ..BedrockConfig::default()
    })
    .await;
    let body = json!({"inputText": "hi"});
    let mut pattern = Vec::new();
    for _ in 0..4 {
        let r = server.invoke(V2, &body, &server.root()).await;
        if r.status != 200 {
            r.assert_error(500, "InternalServerException");
        }
        pattern.push(r.status);
    }
    assert_eq!(pattern, [500, 200, 500, 200]);

    // Switch at run time over HTTP: every request fails with 503, after 300 ms.
    let put = unsigned(
        "PUT",
        &format!("{}/_dev/bedrock", server.url()),
        &[],
        json!({"faults": {"latencyMs": 300, "errorRate": 1.0, "errorStatus": 503}})
            .to_string()
            .into_bytes(),
    );
    let r = send(put).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["faults"]["errorStatus"], 503);
    let started = Instant::now();
    let r = server.invoke(V2, &body, &server.root()).await;
    r.assert_error(503, "ServiceUnavailableException");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let bad = unsigned(
        "PUT",
        &format!("{}/_dev/bedrock", server.url()),
        &[],
        br#"{"faults": {"errorRate": 2}}"#.to_vec(),
    );
    send(bad).await.assert_error(400, "ValidationException");
    let off = unsigned(
        "PUT",
        &format!("{}/_dev/bedrock", server.url()),
        &[],
        br#"{"faults": {}, "rateLimit": null}"#.to_vec(),
    );
    assert_eq!(send(off).await.status, 200);
    assert_eq!(server.invoke(V2, &body, &server.root()).await.status, 200);
    let get = unsigned(
        "GET",
        &format!("{}/_dev/bedrock", server.url()),
        &[],
        Vec::new(),
    );
    let state = send(get).await.json();
    assert_eq!(state["faults"]["errorRate"], 0.0);
    assert_eq!(state["rateLimit"], Value::Null);
}

fn preflight(server: &Server, origin: &str) -> http::Request<Vec<u8>> {
    unsigned(
        "OPTIONS",
        &server.invoke_url(V2),
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type,x-amz-date,x-amz-security-token",
            ),
        ],
        Vec::new(),
    )
}

#[tokio::test]
async fn cors_on_grants_configured_origins() {
    let origin = "http://127.0.0.1:8080";
    let server = start(BedrockConfig {
        cors: Some(CorsConfig {
            allowed_origins: vec![origin.into()],
        }),
        ..BedrockConfig::default()
    })
    .await;
    let r = send(preflight(&server, origin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let allowed = r.header("access-control-allow-headers").unwrap();
    for h in [
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "content-type",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(r.header("x-amzn-RequestId").is_some());

    let r = send(preflight(&server, "http://elsewhere.example")).await;
    assert_eq!(r.status, 403);
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );

    // Actual responses, success and error, let the page read the error type and request id.
    let body = json!({"inputText": "hi"}).to_string().into_bytes();
    for keys in [
        server.root(),
        Keys {
            secret: "wrong".into(),
            ..server.root()
        },
    ] {
        let request = signed(
            "POST",
            &server.invoke_url(V2),
            &[("content-type", "application/json"), ("origin", origin)],
            body.clone(),
            &keys,
            SystemTime::now(),
        );
        let r = send(request).await;
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        let exposed = r.header("access-control-expose-headers").unwrap();
        assert!(exposed.contains("x-amzn-ErrorType") && exposed.contains("x-amzn-RequestId"));
    }
}

#[tokio::test]
async fn cors_off_sends_no_cors_headers() {
    let server = start(BedrockConfig {
        cors: None,
        ..BedrockConfig::default()
    })
    .await;
    let origin = "http://127.0.0.1:8080";
    let r = send(preflight(&server, origin)).await;
    assert_ne!(r.status, 200);
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    assert!(r.header("x-amzn-RequestId").is_some());
    let request = signed(
        "POST",
        &server.invoke_url(V2),
        &[("content-type", "application/json"), ("origin", origin)],
        json!({"inputText": "hi"}).to_string().into_bytes(),
        &server.root(),
        SystemTime::now(),
    );
    let r = send(request).await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );

    // Switched on at run time.
    server.state.set_cors(Some(CorsConfig {
        allowed_origins: vec!["http://127.0.0.1:*".into()],
    }));
    assert_eq!(send(preflight(&server, origin)).await.status, 200);
}

#[tokio::test]
async fn concurrent_requests_are_batched_without_changing_results() {
    let server = start(BedrockConfig::default()).await;
    let texts = [
        "The cat slept on the windowsill all afternoon.",
        "Stock markets fell sharply after the earnings report.",
        "Preheat the oven to two hundred degrees before baking the bread, then let it cool.",
        "Hi",
        "Astronomers discovered a planet orbiting a distant star, far beyond our solar system, \
         using a telescope in the desert.",
        "The museum is closed on Mondays.",
        "Rust's borrow checker prevents data races at compile time.",
        "My dog loves chasing balls in the garden.",
    ];
    let root = server.root();
    let solo: Vec<Vec<f32>> = {
        let e = embedder();
        texts
            .iter()
            .map(|t| e.embed(&[t]).unwrap()[0].normalized())
            .collect()
    };
    for _round in 0..2 {
        let calls = texts.iter().map(|t| {
            let (server, root) = (&server, &root);
            async move {
                server
                    .invoke(V2, &json!({"inputText": t, "dimensions": 512}), root)
                    .await
            }
        });
        let replies = futures_join_all(calls).await;
        for (r, want) in replies.iter().zip(&solo) {
            assert_eq!(r.status, 200);
            let got = floats(&r.json()["embedding"]);
            let diff = got[..384]
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "batched result differs by {diff}");
        }
    }
}

/// Runs futures concurrently on the current task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

const COHERE_EN: &str = "cohere.embed-english-v3";
const COHERE_ML: &str = "cohere.embed-multilingual-v3";

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_i64().expect("an integer"))
        .collect()
}

#[tokio::test]
async fn cohere_floats_match_the_documented_shape() {
    let server = start(BedrockConfig::default()).await;
    let texts = ["The weather is lovely today.", "It's so sunny outside!", ""];
    let r = server
        .invoke(
            COHERE_EN,
            &json!({"texts": texts, "input_type": "search_document"}),
            &server.root(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["embeddings", "id", "response_type", "texts"]);
    assert_eq!(body["response_type"], "embeddings_floats");
    assert!(is_uuid(body["id"].as_str().unwrap()));
    assert_eq!(body["texts"], json!(texts));
    let vectors: Vec<Vec<f32>> = body["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    assert_eq!(vectors.len(), 3);
    for v in &vectors[..2] {
        assert_eq!(v.len(), 1024);
        assert!((norm(v) - 1.0).abs() < 1e-4);
        assert!(v[384..].iter().all(|&x| x == 0.0), "zero-padded");
    }
    // The same vector Titan V2 gives at 1024 dimensions, and one token count for the call.
    let titan = server
        .invoke(V2, &json!({"inputText": texts[0]}), &server.root())
        .await
        .json();
    let diff = floats(&titan["embedding"])
        .iter()
        .zip(&vectors[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-6, "{diff}");
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    let tokens: u64 = r
        .header("X-Amzn-Bedrock-Input-Token-Count")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        tokens,
        6 + 7,
        "the, weather, is, lovely, today, . / it, ', s, so, sunny, outside, !"
    );

    // The multilingual id and ARNs are served the same way; no texts, no embeddings.
    let arn = format!("arn:aws:bedrock:{REGION}::foundation-model/{COHERE_ML}");
    let r = server
        .invoke(
            &arn,
            &json!({"texts": [], "input_type": "search_query"}),
            &server.root(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["embeddings"], json!([]));
}

#[tokio::test]
async fn cohere_embedding_types_come_from_the_float_vector() {
    let server = start(BedrockConfig::default()).await;
    let texts = ["Bees are essential for pollinating many crops.", "Hi"];
    let all = json!({"texts": texts, "input_type": "classification", "truncate": "END",
                     "embedding_types": ["ubinary", "binary", "uint8", "int8", "float"]});
    let body = server.invoke(COHERE_EN, &all, &server.root()).await.json();
    assert_eq!(body["response_type"], "embeddings_by_type");
    let by_type = body["embeddings"].as_object().unwrap();
    let mut types: Vec<&str> = by_type.keys().map(String::as_str).collect();
    types.sort_unstable();
    assert_eq!(types, ["binary", "float", "int8", "ubinary", "uint8"]);
    for i in 0..texts.len() {
        let float = floats(&by_type["float"][i]);
        let int8 = ints(&by_type["int8"][i]);
        let uint8 = ints(&by_type["uint8"][i]);
        let binary = ints(&by_type["binary"][i]);
        let ubinary = ints(&by_type["ubinary"][i]);
        assert_eq!((float.len(), int8.len(), uint8.len()), (1024, 1024, 1024));
        assert_eq!((binary.len(), ubinary.len()), (128, 128));
        // Sign bits, 8 to a byte, first dimension in the most significant bit.
        for (byte, chunk) in ubinary.iter().zip(float.chunks(8)) {
            let want = chunk
                .iter()
                .enumerate()
                .map(|(j, &x)| i64::from(x > 0.0) << (7 - j))
                .sum::<i64>();
            assert_eq!(*byte, want);
        }
        assert!(
            ubinary[48..].iter().all(|&b| b == 0),
            "padding is not positive"
        );
        let signed: Vec<i64> = ubinary.iter().map(|b| b - 128).collect();
        assert_eq!(binary, signed);
        assert_eq!(int8.iter().map(|q| q.abs()).max(), Some(127));
        assert!(int8.iter().all(|q| (-128..=127).contains(q)));
        let shifted: Vec<i64> = int8.iter().map(|q| q + 128).collect();
        assert_eq!(uint8, shifted);
        let dequantized: Vec<f32> = int8.iter().map(|&q| q as f32).collect();
        assert!(cosine(&dequantized, &float) > 0.999);
    }
    // Only what was asked for.
    let body = server
        .invoke(
            COHERE_EN,
            &json!({"texts": texts, "input_type": "clustering", "embedding_types": ["int8"]}),
            &server.root(),
        )
        .await
        .json();
    let by_type = body["embeddings"].as_object().unwrap();
    assert_eq!(by_type.keys().collect::<Vec<_>>(), ["int8"]);
}

#[tokio::test]
async fn cohere_limits_are_validation_exceptions() {
    let server = start(BedrockConfig::default()).await;
    let root = server.root();
    let malformed = |detail: &str| {
        format!("Malformed input request: {detail}, please reformat your input and try again.")
    };
    let r = server
        .invoke(
            COHERE_EN,
            &json!({"texts": vec!["a"; 97], "input_type": "search_document"}),
            &root,
        )
        .await;
    r.assert_error(400, "ValidationException");
    assert_eq!(
        r.message(),
        malformed("#/texts: expected maximum item count: 96, found: 97")
    );
    let r = server
        .invoke(
            COHERE_EN,
            &json!({"texts": ["ok", "é".repeat(2049)], "input_type": "search_document"}),
            &root,
        )
        .await;
    r.assert_error(400, "ValidationException");
    assert_eq!(
        r.message(),
        malformed("#/texts/1: expected maxLength: 2048, actual: 2049")
    );
    for (body, detail) in [
        (
            json!({"texts": ["a"]}),
            "#: required key [input_type] not found",
        ),
        (
            json!({"texts": ["a"], "input_type": "search"}),
            "#/input_type: search is not a valid enum value",
        ),
        (
            json!({"texts": ["a"], "input_type": "search_query", "embedding_types": ["bit"]}),
            "#/embedding_types/0: bit is not a valid enum value",
        ),
        (
            json!({"inputText": "a", "input_type": "search_query"}),
            "#: extraneous key [inputText] is not permitted",
        ),
    ] {
        let r = server.invoke(COHERE_EN, &body, &root).await;
        r.assert_error(400, "ValidationException");
        assert_eq!(r.message(), malformed(detail));
    }

    // At the limits: 96 texts of 2,048 characters (worst case for the body size: every
    // character escaped).
    let full = json!({"texts": vec!["\u{1}".repeat(2048); 96], "input_type": "search_document"});
    assert!(full.to_string().len() > 1 << 20);
    let r = server.invoke(COHERE_EN, &full, &root).await;
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["embeddings"].as_array().unwrap().len(), 96);

    // Over 512 tokens: refused unless truncation is allowed.
    let long = "a. ".repeat(600);
    let body = json!({"texts": ["short", long], "input_type": "search_document"});
    let r = server.invoke(COHERE_EN, &body, &root).await;
    r.assert_error(400, "ValidationException");
    assert!(
        r.message().starts_with("Text #1 has 1200 tokens"),
        "{}",
        r.message()
    );
    for truncate in ["START", "END"] {
        let body = json!({"texts": ["short", long], "input_type": "search_document",
                          "truncate": truncate});
        assert_eq!(server.invoke(COHERE_EN, &body, &root).await.status, 200);
    }
}

#[tokio::test]
async fn cohere_needs_its_own_policy_grant() {
    let server = start(BedrockConfig::default()).await;
    let now = SystemTime::now();
    let policy = |model: &str| {
        format!(
            r#"{{"Statement": {{"Effect": "Allow", "Action": "bedrock:InvokeModel",
                 "Resource": "arn:aws:bedrock:{REGION}::foundation-model/{model}"}}}}"#
        )
    };
    let body = json!({"texts": ["hello"], "input_type": "search_query"});
    let titan_only = server.session(Some(&policy(V2)), Duration::from_secs(900), now);
    let r = server.invoke(COHERE_EN, &body, &titan_only).await;
    r.assert_error(403, "AccessDeniedException");
    assert!(
        r.message()
            .contains(&format!("foundation-model/{COHERE_EN} because"))
    );
    let cohere = server.session(Some(&policy(COHERE_EN)), Duration::from_secs(900), now);
    assert_eq!(server.invoke(COHERE_EN, &body, &cohere).await.status, 200);
    server
        .invoke(COHERE_ML, &body, &cohere)
        .await
        .assert_error(403, "AccessDeniedException");
    // Signed with a wrong secret: refused before anything else.
    let mut wrong = server.root();
    wrong.secret = "not-the-secret".into();
    server
        .invoke(COHERE_EN, &body, &wrong)
        .await
        .assert_error(403, "InvalidSignatureException");
}
