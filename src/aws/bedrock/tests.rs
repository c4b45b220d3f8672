//! The client over a scripted transport: Cohere batching and its wire format, the limits checked
//! before sending, and adaptive concurrency under a server that throttles when overloaded.

use super::*;
use crate::aws::credentials::{Credentials, StaticProvider};
use crate::aws::error::TransportError;
use crate::aws::http::Transport;
use crate::aws::runtime::{BoxFuture, ManualClock, NoSleep};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Polls until ready. Every future here makes progress on each poll (nothing waits on IO or
/// timers), so spinning is enough, and it runs the same natively and on wasm32.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending `n` times, waking itself each time (`FuturesUnordered` polls again only what was
/// woken), so that requests in flight overlap.
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

type Handler =
    Box<dyn Fn(&Value, usize) -> (u16, Vec<(&'static str, String)>, Value) + Send + Sync>;

/// A server: `handler(body, requests in flight)` answers; bodies are kept.
struct Server {
    handler: Handler,
    bodies: Mutex<Vec<Value>>,
    /// Requests in flight as each request arrived (itself included).
    arrivals: Mutex<Vec<usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Server {
    fn new(
        h: impl Fn(&Value, usize) -> (u16, Vec<(&'static str, String)>, Value) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Server {
            handler: Box::new(h),
            bodies: Mutex::new(Vec::new()),
            arrivals: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Transport for Server {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            self.bodies.lock().unwrap().push(body.clone());
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.arrivals.lock().unwrap().push(now);
            let (status, headers, reply) = (self.handler)(&body, now);
            Yield(2).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let mut h = HeaderMap::new();
            for (n, v) in headers {
                h.insert(n, HeaderValue::from_str(&v).unwrap());
            }
            Ok(Response {
                status: StatusCode::from_u16(status).unwrap(),
                headers: h,
                body: Bytes::from(reply.to_string()),
            })
        })
    }
}

fn client(server: &Arc<Server>, model: &str, concurrency: usize) -> BedrockClient {
    BedrockClient::with_retry(
        BedrockConfig::new("us-east-1", model)
            .endpoint("http://127.0.0.1:9001")
            .concurrency(concurrency),
        Arc::new(StaticProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
        ))),
        Runtime::new(
            server.clone(),
            Arc::new(ManualClock::at_unix(1_700_000_000)),
            Arc::new(NoSleep),
        ),
        RetryPolicy::new(30, Duration::ZERO, Duration::ZERO),
    )
    .unwrap()
}

/// Cohere's answer: each text's vector is its length, then zeros.
fn cohere_reply(body: &Value) -> (u16, Vec<(&'static str, String)>, Value) {
    let texts: Vec<&str> = body["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let vectors: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            let mut v = vec![0.0; cohere::DIMENSIONS];
            v[0] = t.len() as f32;
            v
        })
        .collect();
    let tokens = texts
        .iter()
        .map(|t| t.split_whitespace().count())
        .sum::<usize>();
    (
        200,
        vec![("x-amzn-bedrock-input-token-count", tokens.to_string())],
        json!({"id": "r", "response_type": "embeddings_floats", "embeddings": vectors,
               "texts": texts}),
    )
}

fn throttled() -> (u16, Vec<(&'static str, String)>, Value) {
    (
        429,
        vec![("x-amzn-ErrorType", "ThrottlingException".into())],
        json!({"message": "Too many requests, please wait before trying your request again."}),
    )
}

fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("text {i} {}", "w ".repeat(i % 7)))
        .collect()
}

#[test]
fn model_families() {
    assert_eq!(
        ModelFamily::of_model(COHERE_ENGLISH_V3),
        ModelFamily::CohereV3
    );
    assert_eq!(
        ModelFamily::of_model(
            "arn:aws:bedrock:eu-west-1::foundation-model/cohere.embed-multilingual-v3"
        ),
        ModelFamily::CohereV3
    );
    assert_eq!(
        ModelFamily::of_model(TITAN_V1),
        ModelFamily::Titan(TitanVersion::V1)
    );
    assert_eq!(
        ModelFamily::of_model("amazon.titan-embed-text-v3:0"),
        ModelFamily::Titan(TitanVersion::V2)
    );
    assert_eq!(ModelFamily::CohereV3.texts_per_call(), 96);
}

#[test]
fn cohere_batches_of_96_in_order_with_the_header_token_counts() {
    let server = Server::new(|body, _| cohere_reply(body));
    let b = client(&server, COHERE_ENGLISH_V3, 2);
    let texts = texts(200);
    let options = EmbedOptions::default().input_type(InputType::SearchDocument);
    let mut seen = Vec::new();
    let report =
        block_on(b.embed_many_with_stats(&texts, &options, |p| seen.push((p.done, p.total))))
            .unwrap();
    assert_eq!(report.embeddings.len(), 200);
    for (t, e) in texts.iter().zip(&report.embeddings) {
        assert_eq!(e.float.as_ref().unwrap()[0], t.len() as f32);
    }
    let bodies = server.bodies();
    let sizes: Vec<usize> = bodies
        .iter()
        .map(|b| b["texts"].as_array().unwrap().len())
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [8, 96, 96]);
    assert!(bodies.iter().all(|b| b["input_type"] == "search_document"
        && b.get("embedding_types").is_none()
        && b.get("truncate").is_none()));
    assert_eq!(seen.last(), Some(&(200, 200)));
    assert_eq!(seen.len(), 3);
    let words: u64 = texts
        .iter()
        .map(|t| t.split_whitespace().count() as u64)
        .sum();
    assert_eq!(report.stats.requests, 3);
    assert_eq!(report.stats.input_tokens, words);
    assert_eq!(report.stats.requests_without_token_count, 0);
    assert_eq!(b.stats().input_tokens, words);

    // Queries, by type: the body asks for the types, the answer is read by type.
    let server = Server::new(|body, _| {
        let n = body["texts"].as_array().unwrap().len();
        (
            200,
            vec![],
            json!({"id": "r", "response_type": "embeddings_by_type", "texts": body["texts"],
                   "embeddings": {"float": vec![vec![0.5f32; 1024]; n],
                                  "int8": vec![vec![7i8; 1024]; n],
                                  "ubinary": vec![vec![255u8; 128]; n]}}),
        )
    });
    let b = client(&server, COHERE_MULTILINGUAL_V3, 2);
    let options = EmbedOptions::default()
        .input_type(InputType::SearchQuery)
        .truncate(Truncate::Start)
        .embedding_types(&[
            EmbeddingType::Float,
            EmbeddingType::Int8,
            EmbeddingType::Ubinary,
        ]);
    let e = block_on(b.embed("what is rust", &options)).unwrap();
    assert_eq!(e.int8.unwrap()[0], 7);
    assert_eq!(e.ubinary.unwrap().len(), 128);
    assert_eq!(
        server.bodies()[0],
        json!({"texts": ["what is rust"], "input_type": "search_query", "truncate": "START",
               "embedding_types": ["float", "int8", "ubinary"]})
    );
    let s = b.stats();
    assert_eq!(
        (s.requests, s.requests_without_token_count, s.input_tokens),
        (1, 1, 0)
    );
}

#[test]
fn cohere_limits_are_refused_before_sending() {
    let server = Server::new(|body, _| cohere_reply(body));
    let b = client(&server, COHERE_ENGLISH_V3, 2);
    let doc = EmbedOptions::default().input_type(InputType::SearchDocument);
    let long = "é".repeat(cohere::MAX_CHARS + 1);
    let err = block_on(b.embed_many(&["fine", long.as_str()], &doc)).unwrap_err();
    assert!(matches!(err, AwsError::InvalidInput(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("text #1") && msg.contains("Cohere Embed v3's 2048 characters"),
        "{msg}"
    );
    let err = block_on(b.embed("x", &EmbedOptions::default())).unwrap_err();
    assert!(err.to_string().contains("needs an input type"), "{err}");
    let err = block_on(b.embed("x", &doc.clone().dimensions(512))).unwrap_err();
    assert!(err.to_string().contains("1024 dimensions"), "{err}");
    assert!(server.bodies().is_empty());
    // At the limits: 2048 characters, and an empty text (Cohere's minimum is 0).
    let exact = "é".repeat(cohere::MAX_CHARS);
    let out = block_on(b.embed_many(&[exact.as_str(), ""], &doc)).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        b.request_body("x", &doc).unwrap(),
        br#"{"input_type":"search_document","texts":["x"]}"#
    );
    // Nothing to embed: nothing sent.
    assert!(
        block_on(b.embed_many::<&str>(&[], &doc))
            .unwrap()
            .is_empty()
    );
    assert_eq!(server.bodies().len(), 1);
}

#[test]
fn titan_ignores_the_input_type_and_refuses_cohere_settings() {
    let server = Server::new(|body, _| {
        (
            200,
            vec![],
            json!({"embedding": vec![0.1f32; 1024], "inputTextTokenCount": body["inputText"]
                .as_str().unwrap().len()}),
        )
    });
    let b = client(&server, TITAN_V2, 2);
    let q = EmbedOptions::default().input_type(InputType::SearchQuery);
    let e = block_on(b.embed("four", &q)).unwrap();
    assert_eq!(e.input_text_token_count, 4);
    assert_eq!(server.bodies()[0], json!({"inputText": "four"}));
    let err = block_on(b.embed("x", &q.clone().truncate(Truncate::End))).unwrap_err();
    assert!(err.to_string().contains("no truncate"), "{err}");
    assert_eq!(b.stats().input_tokens, 4);
}

/// A server that takes two requests at a time and throttles the rest, like a quota would.
#[test]
fn concurrency_halves_under_throttling_and_grows_back() {
    const CAPACITY: usize = 2;
    let server = Server::new(|body, in_flight| {
        if in_flight > CAPACITY {
            return throttled();
        }
        let n = body["inputText"].as_str().unwrap().len();
        (
            200,
            vec![],
            json!({"embedding": vec![n as f32; 1024], "inputTextTokenCount": 1}),
        )
    });
    let b = client(&server, TITAN_V2, 8);
    let texts = texts(60);
    let mut limits = Vec::new();
    let report = block_on(
        b.embed_many_with_stats(&texts, &EmbedOptions::default(), |p| {
            limits.push(p.stats.concurrency)
        }),
    )
    .unwrap();
    for (t, e) in texts.iter().zip(&report.embeddings) {
        assert_eq!(e.float.as_ref().unwrap()[0], t.len() as f32);
    }
    let s = report.stats;
    assert!(s.throttle_retries > 0, "{s:?}");
    assert_eq!(s.other_retries, 0);
    assert_eq!((s.requests, s.input_tokens), (60, 60));
    assert_eq!(s.max_concurrency, 8);
    assert!(s.lowest_concurrency <= CAPACITY, "{s:?}");
    // It grew back once throttling stopped, and then stayed near the capacity.
    // After the first burst the limit saws between the capacity and one above it (AIMD probes
    // for more), and the permits hold the requests actually sent to it, retries included.
    assert!(limits[4..].iter().all(|&l| l <= CAPACITY + 1), "{limits:?}");
    assert!(
        limits[4..].contains(&(CAPACITY + 1)),
        "it grows back: {limits:?}"
    );
    let arrivals = server.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len() as u64, s.requests + s.throttle_retries);
    assert!(arrivals[..8].contains(&8), "the first burst: {arrivals:?}");
    assert!(
        arrivals[20..].iter().all(|&n| n <= CAPACITY + 1),
        "{arrivals:?}"
    );
    assert_eq!(b.stats().throttle_retries, s.throttle_retries);
}

#[test]
fn server_errors_are_retried_without_shrinking_the_limit() {
    let calls = AtomicUsize::new(0);
    let server = Server::new(move |_, _| {
        if calls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            (
                503,
                vec![("x-amzn-ErrorType", "ServiceUnavailableException".into())],
                json!({"message": "Bedrock is unable to process your request."}),
            )
        } else {
            (
                200,
                vec![],
                json!({"embedding": vec![0.1f32; 1024], "inputTextTokenCount": 2}),
            )
        }
    });
    let b = client(&server, TITAN_V2, 3);
    let report =
        block_on(b.embed_many_with_stats(&texts(9), &EmbedOptions::default(), |_| {})).unwrap();
    let s = report.stats;
    assert_eq!((s.other_retries, s.throttle_retries), (9, 0));
    assert_eq!((s.concurrency, s.lowest_concurrency), (3, 3));
    assert!(server.max_in_flight.load(Ordering::SeqCst) <= 3);
}

/// Natively the futures are `Send`, so a caller may spawn `embed_many` on a multi-threaded
/// runtime (the permits and counters are behind mutexes, not cells).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn embed_many_can_be_spawned_natively() {
    fn spawnable<T: Send>(_: &T) {}
    let server = Server::new(|body, _| cohere_reply(body));
    let b = client(&server, COHERE_ENGLISH_V3, 2);
    let texts = vec!["a".to_string()];
    let options = EmbedOptions::default().input_type(InputType::SearchDocument);
    let many = b.embed_many_with_stats(&texts, &options, |_| {});
    spawnable(&many);
    assert_eq!(block_on(many).unwrap().embeddings.len(), 1);
}
