//! `presign-lambda local` end to end against the local stack's real STS, S3 and Bedrock, with
//! the project's own clients (what the browser runs, compiled natively).

mod common;

use common::{BUCKET, Env, MODEL, ORIGIN, WRITE_TOKEN, session};
use s3vec::aws::bedrock::{BedrockClient, BedrockConfig, EmbedOptions, TITAN_V1};
use s3vec::aws::http::{Request, ReqwestTransport, Response, Transport};
use s3vec::aws::s3::PutOptions;
use s3vec::aws::{BoxFuture, CredentialsProvider, Runtime, TransportError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn bedrock(
    env: &Env,
    model: &str,
    creds: Arc<dyn CredentialsProvider>,
    runtime: Runtime,
) -> BedrockClient {
    let endpoint = env.stack_ready.bedrock.clone().expect("Bedrock URL");
    BedrockClient::new(
        BedrockConfig::new(env.stack_ready.region.clone(), model).endpoint(endpoint),
        creds,
        runtime,
    )
    .expect("Bedrock client")
}

#[tokio::test]
async fn sessions_reach_their_prefix_and_model_only_and_only_allowed_origins_get_them() {
    let env = Env::start(&[]);
    let root = env.s3(env.root());
    root.put_object("docs/a.json", "inside", PutOptions::default())
        .await
        .unwrap();
    root.put_object("other/b.json", "outside", PutOptions::default())
        .await
        .unwrap();

    // Anonymous: read-only, this prefix, this model.
    let anon = env
        .fetch(ORIGIN, "{}", None)
        .await
        .expect("anonymous credentials");
    assert_eq!(anon.config.bucket.as_deref(), Some(BUCKET));
    assert_eq!(anon.config.prefix.as_deref(), Some("docs/"));
    assert_eq!(anon.config.model_id.as_deref(), Some(MODEL));
    assert_eq!(
        anon.config.endpoints.s3.as_deref(),
        Some(env.stack_ready.s3.as_str())
    );
    assert_eq!(anon.config.access.as_deref(), Some("read"));
    let expires = anon.credentials.expiration().expect("an expiry");
    let lifetime = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(lifetime > Duration::from_secs(800) && lifetime <= Duration::from_secs(900));

    let s3 = env.s3(session(&anon));
    assert_eq!(
        s3.get_object("docs/a.json").await.unwrap().body.as_ref(),
        b"inside"
    );
    let listed = s3.list_all("docs/").await.unwrap();
    assert_eq!(
        listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["docs/a.json"]
    );
    let write = s3
        .put_object("docs/new.json", "x", PutOptions::default())
        .await
        .unwrap_err();
    assert!(write.is_access_denied(), "{write}");
    assert!(
        s3.delete_object("docs/a.json")
            .await
            .unwrap_err()
            .is_access_denied()
    );
    assert!(
        s3.get_object("other/b.json")
            .await
            .unwrap_err()
            .is_access_denied()
    );
    assert!(s3.list_all("other/").await.unwrap_err().is_access_denied());
    assert!(s3.list_all("").await.unwrap_err().is_access_denied());

    let runtime = Runtime::platform().unwrap();
    let embedding = bedrock(&env, MODEL, session(&anon), runtime.clone())
        .embed("coding in python", &EmbedOptions::default())
        .await
        .expect("InvokeModel on the allowed model");
    assert_eq!(embedding.float.as_ref().map(Vec::len), Some(1024));
    let other = bedrock(&env, TITAN_V1, session(&anon), runtime)
        .embed("coding in python", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert!(other.is_access_denied(), "{other}");

    // Authorised: write access, still inside its prefix.
    let writer = env
        .fetch(
            ORIGIN,
            r#"{"access":"write","prefix":"team/x"}"#,
            Some(WRITE_TOKEN),
        )
        .await
        .expect("write credentials");
    assert_eq!(writer.config.prefix.as_deref(), Some("team/x/"));
    let s3 = env.s3(session(&writer));
    s3.put_object("team/x/manifest.json", "{}", PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        root.get_object("team/x/manifest.json")
            .await
            .unwrap()
            .body
            .as_ref(),
        b"{}"
    );
    s3.delete_object("team/x/manifest.json").await.unwrap();
    assert!(
        s3.put_object("docs/x.json", "x", PutOptions::default())
            .await
            .unwrap_err()
            .is_access_denied()
    );
    assert!(
        s3.put_object("team/y/x.json", "x", PutOptions::default())
            .await
            .unwrap_err()
            .is_access_denied()
    );

    // Write without the token, with a wrong one, or a prefix outside the allowed ones.
    let refused = [
        (ORIGIN, r#"{"access":"write"}"#, None, "WriteNotAuthorized"),
        (
            ORIGIN,
            r#"{"access":"write"}"#,
            Some("not-the-token"),
            "Unauthorized",
        ),
        (ORIGIN, r#"{"prefix":"other/"}"#, None, "PrefixNotAllowed"),
        ("https://evil.example", "{}", None, "OriginNotAllowed"),
    ];
    for (origin, body, token, code) in refused {
        let err = env.fetch(origin, body, token).await.unwrap_err();
        assert_eq!(err.code(), Some(code), "{origin} {body}: {err}");
    }

    // A foreign origin's preflight and request get no CORS grant a browser would honour.
    let client = common::raw_client();
    for (method, origin) in [
        ("OPTIONS", "https://evil.example"),
        ("POST", "https://evil.example"),
        ("OPTIONS", ORIGIN),
    ] {
        let r = client
            .request(method.parse().unwrap(), env.credentials_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
            .await
            .unwrap();
        let grant = r.headers().get("access-control-allow-origin").cloned();
        if origin == ORIGIN {
            assert_eq!(r.status(), 204);
            assert_eq!(grant.unwrap(), ORIGIN);
        } else {
            assert_eq!(r.status(), 403);
            assert!(grant.is_none(), "{method}: {grant:?}");
        }
    }
    let log = env.presign_log();
    assert!(!log.contains(WRITE_TOKEN), "the token was logged");
    assert!(
        !log.contains(anon.credentials.secret_access_key()),
        "a secret was logged"
    );
}

/// The browser's transport pointed at the relay: the request is signed for Bedrock's own
/// host, then sent to `{relay}/model/…` from the page's origin.
struct ViaRelay {
    inner: ReqwestTransport,
    relay: String,
    answers: Mutex<Vec<http::HeaderMap>>,
}

impl Transport for ViaRelay {
    fn send(&self, mut request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let path = request
                .uri
                .path_and_query()
                .map_or("", |p| p.as_str())
                .to_string();
            request.uri = format!("{}{path}", self.relay).parse().expect("relay URL");
            request
                .headers
                .insert("origin", http::HeaderValue::from_static(ORIGIN));
            let response = self.inner.send(request).await?;
            self.answers.lock().unwrap().push(response.headers.clone());
            Ok(response)
        })
    }
}

#[tokio::test]
async fn the_relay_carries_signed_invoke_model_calls_to_a_bedrock_without_cors() {
    let env = Env::start(&[]);
    let bedrock_url = env.stack_ready.bedrock.clone().unwrap();
    let client = common::raw_client();

    // Bedrock itself (CORS off, as on AWS) grants the page nothing.
    let direct = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{bedrock_url}/model/{MODEL}/invoke"),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        direct
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let anon = env.fetch(ORIGIN, "", None).await.expect("credentials");
    let relay = anon
        .config
        .endpoints
        .bedrock_relay
        .clone()
        .expect("the relay's URL");
    assert_eq!(relay, format!("{}/bedrock", env.presign_ready.url));
    let via = Arc::new(ViaRelay {
        inner: ReqwestTransport::new().unwrap(),
        relay: relay.clone(),
        answers: Mutex::new(Vec::new()),
    });
    let runtime = Runtime {
        transport: via.clone(),
        ..Runtime::platform().unwrap()
    };
    let embedding = bedrock(&env, MODEL, session(&anon), runtime.clone())
        .embed("cats are popular pets", &EmbedOptions::default())
        .await
        .expect("InvokeModel through the relay");
    assert_eq!(embedding.float.as_ref().map(Vec::len), Some(1024));
    let answer = via.answers.lock().unwrap().last().cloned().unwrap();
    assert_eq!(answer["access-control-allow-origin"], ORIGIN);
    assert!(answer.get("x-amzn-requestid").is_some());

    // Another model, or another operation: refused by the relay itself (its own error types),
    // never forwarded.
    let other = bedrock(&env, TITAN_V1, session(&anon), runtime)
        .embed("x", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert_eq!(other.code(), Some("RelayModelNotAllowed"), "{other}");
    let converse = client
        .post(format!(
            "{relay}/model/amazon.titan-embed-text-v2%3A0/converse"
        ))
        .header("origin", ORIGIN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(converse.status(), 404);
    assert_eq!(
        converse.headers()["x-amzn-errortype"],
        "RelayNotInvokeModel"
    );
    assert_eq!(converse.headers()["access-control-allow-origin"], ORIGIN);

    // SIGTERM: the server stops, exits 0 and removes its ready file.
    let mut env = env;
    let pid = env.presign_ready.pid.to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut child = env.presign.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert!(!env.dir.join("presign.json").exists());
}
