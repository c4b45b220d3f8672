//! Throughput of the Bedrock service's model, in texts per second for ~64-token inputs: straight
//! through the worker pool, and end to end over HTTP with SigV4-signed InvokeModel requests.
//!
//! ```text
//! cargo run --release -p s3vec-dev --example bedrock_throughput -- [--texts 240] \
//!     [--concurrency 8] [--workers N] [--max-batch 8] [--http] [--corpus FILE.jsonl]
//! ```
//!
//! `--corpus` takes the first `--texts` texts of a JSON Lines corpus (`{"id", "text"}` per line,
//! as `s3vec index` reads) instead of the generated ~64-token ones, so the service's own rate can
//! be compared with the CLI's indexing rate on the same texts.
//!
//! `--workers` defaults to the number of cores; with more than one worker the pool runs candle's
//! kernels single-threaded (`RAYON_NUM_THREADS=1`) unless that variable is set.

#[path = "../tests/bedrock_common/mod.rs"]
mod bedrock_common;

use bedrock_common::{V2, embedder, start_with_pool};
use s3vec_dev::bedrock::BedrockConfig;
use s3vec_dev::model::pool::{ModelPool, PoolConfig};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Options {
    texts: usize,
    concurrency: usize,
    pool: PoolConfig,
    http: bool,
    corpus: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        texts: 240,
        concurrency: 8,
        pool: PoolConfig::default(),
        http: false,
        corpus: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--texts" => o.texts = number(),
            "--concurrency" => o.concurrency = number(),
            "--workers" => o.pool.workers = number(),
            "--max-batch" => o.pool.max_batch = number(),
            "--http" => o.http = true,
            "--corpus" => o.corpus = args.next(),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// Deterministic texts of about 64 tokens: runs of consecutive held-out test sentences.
fn texts(n: usize) -> (Vec<String>, f64) {
    let sentences: Vec<&str> = include_str!("../tests/bedrock_sentences.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    let e = embedder();
    let mut out = Vec::with_capacity(n);
    let mut tokens = 0;
    for i in 0..n {
        let mut text = String::new();
        let mut k = i * 7;
        loop {
            let candidate = format!("{text} {}", sentences[k % sentences.len()]);
            let count = e.tokenize(candidate.trim()).unwrap().token_count;
            if count > 66 && !text.is_empty() {
                break;
            }
            text = candidate;
            k += 1;
        }
        tokens += e.tokenize(text.trim()).unwrap().token_count;
        out.push(text.trim().to_string());
    }
    let mean = tokens as f64 / n as f64;
    (out, mean)
}

/// The first `n` texts of a JSON Lines corpus, and their mean token count.
fn corpus_texts(path: &str, n: usize) -> (Vec<String>, f64) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let out: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .take(n)
        .collect();
    let e = embedder();
    let tokens: usize = out.iter().map(|t| e.tokenize(t).unwrap().token_count).sum();
    let mean = tokens as f64 / out.len().max(1) as f64;
    (out, mean)
}

#[tokio::main]
async fn main() {
    let o = options();
    let (texts, mean_tokens) = match &o.corpus {
        Some(path) => corpus_texts(path, o.texts),
        None => texts(o.texts),
    };
    let pool = Arc::new(ModelPool::start(embedder(), &o.pool));
    eprintln!(
        "{} texts of {mean_tokens:.1} tokens on average (+2 special tokens); {} workers, max \
         batch {}, concurrency {}, RAYON_NUM_THREADS={}",
        texts.len(),
        pool.workers(),
        o.pool.max_batch,
        o.concurrency,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "(unset)".into())
    );
    let texts = Arc::new(texts);

    // Warm-up.
    for t in texts.iter().take(4) {
        pool.embed(t.clone()).await.unwrap();
    }

    let started = Instant::now();
    run(&texts, o.concurrency, {
        let pool = pool.clone();
        move |t: String| {
            let pool = pool.clone();
            async move {
                pool.embed(t).await.unwrap();
            }
        }
    })
    .await;
    let pool_rate = texts.len() as f64 / started.elapsed().as_secs_f64();
    println!("pool: {pool_rate:.1} texts/s");

    if o.http {
        let server = Arc::new(start_with_pool(BedrockConfig::default(), pool.clone()).await);
        let started = Instant::now();
        run(&texts, o.concurrency, {
            let server = server.clone();
            move |t: String| {
                let server = server.clone();
                async move {
                    let r = server
                        .invoke(V2, &json!({"inputText": t}), &server.root())
                        .await;
                    assert_eq!(r.status, 200);
                }
            }
        })
        .await;
        let http_rate = texts.len() as f64 / started.elapsed().as_secs_f64();
        println!("http (SigV4-signed InvokeModel, 1024 dims): {http_rate:.1} texts/s");
    }
}

/// Runs `f` on every text with `concurrency` tasks.
async fn run<F, Fut>(texts: &Arc<Vec<String>>, concurrency: usize, f: F)
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (texts, next, f) = (texts.clone(), next.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = texts.get(i) else { break };
                f(t.clone()).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
