//! The Bedrock client against the local stack's Bedrock-compatible service (`s3vec-dev
//! --bedrock-port`): Titan V2 and V1 and Cohere Embed v3 wire formats, Cohere's batches of 96,
//! session policies, backoff and adaptive concurrency under throttling and injected faults, and
//! sessions that expire. Native only. Skipped, with a note, while the `s3vec-dev` binary has no
//! Bedrock service wired in.
#![cfg(not(target_arch = "wasm32"))]

mod aws_common;

use aws_common::Stack;
use s3vec::aws::bedrock::{
    BedrockClient, BedrockConfig, COHERE_ENGLISH_V3, EmbedOptions, EmbeddingType, InputType,
    TITAN_V1, TITAN_V2,
};
use s3vec::aws::sts::{AssumeRole, AssumeRoleFetcher};
use s3vec::aws::{
    AwsError, CachingProvider, Credentials, CredentialsProvider, ErrorKind, Request, RetryPolicy,
    Runtime, StaticProvider,
};
use std::sync::Arc;
use std::time::Duration;

/// The stack with its Bedrock service, or `None` (and a note) if this build has none.
fn bedrock_stack(extra: &[&str]) -> Option<Stack> {
    let mut args = vec!["--bedrock-port", "0", "--bedrock-workers", "1"];
    args.extend_from_slice(extra);
    match Stack::try_start(&args) {
        Ok(stack) if stack.ready.bedrock.is_some() => Some(stack),
        Ok(_) => {
            eprintln!("SKIPPED: s3vec-dev started without a Bedrock endpoint");
            None
        }
        // The refusal main.rs prints until the service is wired in, or clap not knowing the
        // service's own flags yet.
        Err(e) if e.contains("not wired") || e.contains("unexpected argument '--bedrock") => {
            eprintln!("SKIPPED: this s3vec-dev has no Bedrock service yet ({e})");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn client(stack: &Stack, model: &str, creds: Arc<dyn CredentialsProvider>) -> BedrockClient {
    BedrockClient::new(
        BedrockConfig::new(stack.ready.region.clone(), model)
            .endpoint(stack.ready.bedrock.clone().unwrap())
            .concurrency(4),
        creds,
        Runtime::platform().unwrap(),
    )
    .unwrap()
}

fn invoke_policy(region: &str, model: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": format!("arn:aws:bedrock:{region}::foundation-model/{model}")
        }]
    })
    .to_string()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (norm(a) * norm(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titan_wire_formats_and_session_policy() {
    let Some(stack) = bedrock_stack(&[]) else {
        return;
    };
    let v2 = client(&stack, TITAN_V2, stack.root());

    let e = v2
        .embed("coding in python", &EmbedOptions::default())
        .await
        .unwrap();
    let f = e.float.unwrap();
    assert_eq!(f.len(), 1024);
    assert!((norm(&f) - 1.0).abs() < 1e-3, "normalized by default");
    assert!(e.input_text_token_count > 0);

    let e = v2
        .embed(
            "coding in python",
            &EmbedOptions::default()
                .dimensions(256)
                .normalize(true)
                .types(true, true),
        )
        .await
        .unwrap();
    assert_eq!(e.float.as_ref().unwrap().len(), 256);
    assert_eq!(e.binary.as_ref().unwrap().len(), 256);
    let e512 = v2
        .embed(
            "x",
            &EmbedOptions::default().dimensions(512).types(false, true),
        )
        .await
        .unwrap();
    assert!(e512.float.is_none());
    assert_eq!(e512.binary.unwrap().len(), 512);

    // Similar texts are closer than unrelated ones; the same text gives the same vector.
    let texts = [
        "coding in python",
        "writing python programs",
        "a recipe for apple pie",
        "coding in python",
    ];
    let many = v2
        .embed_many(&texts, &EmbedOptions::default().dimensions(256))
        .await
        .unwrap();
    let v: Vec<Vec<f32>> = many.into_iter().map(|e| e.float.unwrap()).collect();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
    assert!(cosine(&v[0], &v[3]) > 0.9999);

    let v1 = client(&stack, TITAN_V1, stack.root());
    let e = v1.embed("hello", &EmbedOptions::default()).await.unwrap();
    assert_eq!(e.float.unwrap().len(), 1536);

    // A session scoped to Titan V2 may invoke it, and nothing else.
    let creds = stack
        .sts()
        .assume_role(
            &AssumeRole::new(stack.role_arn(), "s3vec-bedrock")
                .policy(invoke_policy(&stack.ready.region, TITAN_V2)),
        )
        .await
        .unwrap()
        .credentials;
    let session: Arc<dyn CredentialsProvider> = Arc::new(StaticProvider::new(creds));
    client(&stack, TITAN_V2, session.clone())
        .embed("allowed", &EmbedOptions::default())
        .await
        .unwrap();
    let err = client(&stack, TITAN_V1, session)
        .embed("not allowed", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(err.service().unwrap().request_id.is_some());

    // Errors keep Bedrock's type and message.
    let err = client(&stack, "amazon.no-such-model-v9:0", stack.root())
        .embed("x", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::ResourceNotFound), "{err}");
    let wrong = Arc::new(StaticProvider::new(Credentials::new(
        stack.ready.access_key_id.clone(),
        "wrong",
        None,
        None,
    )));
    let err = client(&stack, TITAN_V2, wrong)
        .embed("x", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::SignatureDoesNotMatch), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_rides_out_throttling_and_server_errors() {
    let Some(stack) = bedrock_stack(&[
        "--bedrock-rate-limit",
        "8",
        "--bedrock-error-rate",
        "0.2",
        "--bedrock-error-status",
        "503",
    ]) else {
        return;
    };
    let b = BedrockClient::with_retry(
        BedrockConfig::new(stack.ready.region.clone(), TITAN_V2)
            .endpoint(stack.ready.bedrock.clone().unwrap())
            .concurrency(6),
        stack.root(),
        Runtime::platform().unwrap(),
        s3vec::aws::RetryPolicy::new(12, Duration::from_millis(100), Duration::from_secs(2)),
    )
    .unwrap();
    let texts: Vec<String> = (0..30).map(|i| format!("document number {i}")).collect();
    let out = b
        .embed_many(&texts, &EmbedOptions::default().dimensions(256))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", stack.log()));
    assert_eq!(out.len(), 30);
    assert!(out.iter().all(|e| e.float.as_ref().unwrap().len() == 256));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refreshed() {
    let Some(stack) = bedrock_stack(&["--test-session-lifetime-secs", "2"]) else {
        return;
    };
    let fetcher = Arc::new(AssumeRoleFetcher::new(
        stack.sts(),
        AssumeRole::new(stack.role_arn(), "s3vec-bedrock")
            .policy(invoke_policy(&stack.ready.region, TITAN_V2)),
    ));
    let provider = Arc::new(CachingProvider::new(fetcher));
    let b = client(&stack, TITAN_V2, provider.clone());
    b.embed("one", &EmbedOptions::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    b.embed("two", &EmbedOptions::default()).await.unwrap();
    assert_eq!(provider.fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere_floats_by_type_and_batches_of_96() {
    let Some(stack) = bedrock_stack(&[]) else {
        return;
    };
    let cohere = client(&stack, COHERE_ENGLISH_V3, stack.root());
    let doc = EmbedOptions::default().input_type(InputType::SearchDocument);

    let e = cohere.embed("coding in python", &doc).await.unwrap();
    let f = e.float.unwrap();
    assert_eq!(f.len(), 1024);
    assert!((norm(&f) - 1.0).abs() < 1e-3);
    // The stack serves one model for both families: the same vector as Titan's 1024.
    let titan = client(&stack, TITAN_V2, stack.root())
        .embed("coding in python", &EmbedOptions::default())
        .await
        .unwrap();
    assert!(cosine(&f, &titan.float.unwrap()) > 0.9999);

    // 200 texts: three calls (96 + 96 + 8), answers in order, tokens from the header.
    let topics = ["python programs", "apple pie", "the weather", "football"];
    let texts: Vec<String> = (0..200)
        .map(|i| format!("document {i} about {}", topics[i % 4]))
        .collect();
    let mut progress = Vec::new();
    let report = cohere
        .embed_many_with_stats(&texts, &doc, |p| progress.push((p.done, p.total)))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", stack.log()));
    assert_eq!(report.embeddings.len(), 200);
    assert_eq!(report.stats.requests, 3);
    // Cumulative, one report per call.
    let sizes: Vec<usize> = progress.iter().map(|p| p.0).collect();
    assert!(
        sizes == [96, 192, 200] || sizes == [96, 104, 200] || sizes == [8, 104, 200],
        "{sizes:?}"
    );
    assert!(progress.iter().all(|p| p.1 == 200));
    assert_eq!(report.stats.requests_without_token_count, 0);
    assert!(report.stats.input_tokens >= 200 * 4, "{:?}", report.stats);
    for i in [0, 95, 96, 150, 199] {
        let solo = cohere.embed(&texts[i], &doc).await.unwrap().float.unwrap();
        let batched = report.embeddings[i].float.as_ref().unwrap();
        assert!(cosine(&solo, batched) > 0.9999, "text {i} out of place");
    }
    let v: Vec<&Vec<f32>> = report
        .embeddings
        .iter()
        .map(|e| e.float.as_ref().unwrap())
        .collect();
    assert!(
        cosine(v[0], v[4]) > cosine(v[0], v[1]),
        "same topic is closer"
    );

    // Every type, from the same vector.
    let all = doc.clone().embedding_types(&[
        EmbeddingType::Float,
        EmbeddingType::Int8,
        EmbeddingType::Uint8,
        EmbeddingType::Binary,
        EmbeddingType::Ubinary,
    ]);
    let typed = cohere.embed_many(&texts[..3], &all).await.unwrap();
    for (e, plain) in typed.iter().zip(&v) {
        let f = e.float.as_ref().unwrap();
        assert!(cosine(f, plain) > 0.9999);
        let bits = e.binary.as_ref().unwrap();
        assert_eq!(bits.len(), 1024);
        let signs: Vec<u8> = f.iter().map(|&x| u8::from(x > 0.0)).collect();
        assert_eq!(bits, &signs);
        let packed: Vec<u8> = signs
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |b, &bit| (b << 1) | bit))
            .collect();
        assert_eq!(e.ubinary.as_ref().unwrap(), &packed);
        let int8 = e.int8.as_ref().unwrap();
        let uint8 = e.uint8.as_ref().unwrap();
        assert_eq!(int8.len(), 1024);
        assert!(
            int8.iter()
                .zip(uint8)
                .all(|(&q, &u)| i16::from(q) + 128 == i16::from(u))
        );
        let dequantized: Vec<f32> = int8.iter().map(|&q| f32::from(q)).collect();
        assert!(cosine(&dequantized, f) > 0.999);
    }
    // Queries ask with another input type; the request says so (the local model ignores it).
    let q = cohere
        .embed(
            "python",
            &EmbedOptions::default().input_type(InputType::SearchQuery),
        )
        .await
        .unwrap();
    assert!(cosine(q.float.as_ref().unwrap(), v[0]) > cosine(q.float.as_ref().unwrap(), v[1]));

    // Over Cohere's 2,048 characters: refused here, before anything is sent.
    let before = cohere.stats();
    let long = "x".repeat(2049);
    let err = cohere
        .embed_many(&["fine", long.as_str()], &doc)
        .await
        .unwrap_err();
    assert!(matches!(err, AwsError::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("2048 characters"), "{err}");
    assert_eq!(cohere.stats(), before);

    // A session scoped to Cohere may invoke it, and not Titan.
    let creds = stack
        .sts()
        .assume_role(
            &AssumeRole::new(stack.role_arn(), "s3vec-cohere")
                .policy(invoke_policy(&stack.ready.region, COHERE_ENGLISH_V3)),
        )
        .await
        .unwrap()
        .credentials;
    let session: Arc<dyn CredentialsProvider> = Arc::new(StaticProvider::new(creds));
    client(&stack, COHERE_ENGLISH_V3, session.clone())
        .embed("allowed", &doc)
        .await
        .unwrap();
    let err = client(&stack, TITAN_V2, session)
        .embed("not allowed", &EmbedOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_access_denied(), "{err}");
}

/// `PUT /_dev/bedrock` on the stack's Bedrock service (the local control endpoint).
async fn control(stack: &Stack, settings: serde_json::Value) -> serde_json::Value {
    let url = format!("{}/_dev/bedrock", stack.ready.bedrock.clone().unwrap());
    let mut request = Request::parse(http::Method::PUT, &url).unwrap();
    request.header("content-type", "application/json").unwrap();
    request.body = settings.to_string().into();
    let resp = Runtime::platform()
        .unwrap()
        .transport
        .send(request)
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    serde_json::from_slice(&resp.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_concurrency_backs_off_under_a_low_rate_limit() {
    let Some(stack) = bedrock_stack(&[]) else {
        return;
    };
    // Four requests a second (bursts of four), against eight in flight.
    let state = control(&stack, serde_json::json!({"rateLimit": 4})).await;
    assert_eq!(state["rateLimit"], 4.0);
    let b = BedrockClient::with_retry(
        BedrockConfig::new(stack.ready.region.clone(), TITAN_V2)
            .endpoint(stack.ready.bedrock.clone().unwrap())
            .concurrency(8),
        stack.root(),
        Runtime::platform().unwrap(),
        RetryPolicy::new(20, Duration::from_millis(100), Duration::from_secs(2)),
    )
    .unwrap();
    let texts: Vec<String> = (0..24).map(|i| format!("sentence number {i}")).collect();
    let options = EmbedOptions::default().dimensions(256);
    let mut limits = Vec::new();
    let report = b
        .embed_many_with_stats(&texts, &options, |p| limits.push(p.stats.concurrency))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", stack.log()));
    assert_eq!(report.embeddings.len(), 24);
    let s = report.stats;
    assert!(s.throttle_retries > 0, "{s:?}");
    assert_eq!(s.other_retries, 0, "{s:?}");
    assert_eq!((s.requests, s.max_concurrency), (24, 8));
    assert!(
        s.lowest_concurrency < 8 && limits.iter().any(|&l| l < 8),
        "the limit went down: {s:?} {limits:?}"
    );
    // "sentence", "number", "{i}": three word pieces each.
    assert_eq!(s.input_tokens, 24 * 3, "{s:?}");
    assert_eq!(b.stats().throttle_retries, s.throttle_retries);

    // The answers are the unthrottled ones, in order.
    control(&stack, serde_json::json!({"rateLimit": null})).await;
    for i in [0, 23] {
        let solo = b.embed(&texts[i], &options).await.unwrap().float.unwrap();
        assert!(cosine(&solo, report.embeddings[i].float.as_ref().unwrap()) > 0.9999);
    }
}
