//! `s3vec index`: embed a corpus with Bedrock and publish it, shard by shard.
//!
//! Resumable by construction: every shard is published (compare-and-swap of the manifest)
//! as soon as it is embedded, and a run starts by listing the ids the collection already has
//! (two ranged reads per shard), so a run started again after Ctrl-C, a crash or a network
//! loss embeds only what is missing, and no id is published twice.

use crate::config::Config;
use crate::corpus::{self, Doc};
use crate::output::{cost_per_1k_tokens, human_count};
use crate::{CliResult, Failure};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use s3vec::aws::bedrock::{
    EmbedProgress, EmbedStats, InputType, MAX_INPUT_CHARS, ModelFamily, TitanVersion, cohere,
};
use s3vec::client;
use s3vec::format::Dtype;
use s3vec::store::{CollectionSpec, Published, StoreError};
use std::sync::Arc;
use std::time::Instant;

/// Embed a JSON Lines corpus with Bedrock and publish it to the collection.
#[derive(Args, Debug)]
#[command(
    after_help = "Each line: {\"id\": \"...\", \"text\": \"...\", \"metadata\": {...}}.\n\
Example:\n  s3vec --bucket my-vectors --prefix debian index corpus/debian-3000.jsonl.gz\n  \
zcat big.jsonl.gz | s3vec --bucket my-vectors index - --dims 512 --dtype i8\n\
Run the same command again after an interruption: it continues where it stopped."
)]
pub struct IndexArgs {
    /// The corpus: a .jsonl or .jsonl.gz file, or - for standard input.
    pub corpus: String,
    /// Embedding dimensions (Titan V2: 256, 512 or 1024; Titan V1: 1536; Cohere v3: 1024).
    #[arg(long, default_value_t = 1024)]
    pub dims: u32,
    /// How vectors are stored: f32, i8 (quantized locally) or binary (Bedrock's binary
    /// embeddings).
    #[arg(long, default_value = "f32")]
    pub dtype: Dtype,
    /// Documents per shard (each shard is one publish, and the most a crash can lose).
    #[arg(long, default_value_t = 2000)]
    pub shard_size: usize,
    /// Bedrock requests in flight at most (lowered automatically while throttled).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// What to do with lines that are not valid documents.
    #[arg(long, value_enum, default_value_t = BadLines::Fail)]
    pub bad_lines: BadLines,
    /// Embed and publish documents whose ids the collection already has (replacing them).
    #[arg(long)]
    pub replace: bool,
    /// Index at most this many new documents (a quick subset; run again for more).
    #[arg(long)]
    pub limit: Option<usize>,
    /// USD per 1,000 input tokens for the cost estimate [default: the model's list price].
    #[arg(long)]
    pub price_per_1k_tokens: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BadLines {
    /// Report them and index nothing.
    Fail,
    /// Report them and index the rest (exit code 4).
    Skip,
}

pub async fn run(config: &Config, args: IndexArgs) -> CliResult {
    if args.shard_size == 0 || args.concurrency == 0 {
        return Err(Failure::Usage(
            "--shard-size and --concurrency must be at least 1".into(),
        ));
    }
    let family = ModelFamily::of_model(&config.model);
    let corpus = corpus::read(corpus::open(&args.corpus)?, max_input_chars(family))?;
    for (id, first, last) in corpus.duplicates.iter().take(5) {
        eprintln!("duplicate id {id:?}: line {last} replaces line {first} (the last one wins)");
    }
    if corpus.duplicates.len() > 5 {
        eprintln!("... {} duplicate ids in all", corpus.duplicates.len());
    }
    for bad in corpus.bad.iter().take(20) {
        eprintln!("line {}: {}", bad.line, bad.reason);
    }
    if corpus.bad.len() > 20 {
        eprintln!("... {} bad lines in all", corpus.bad.len());
    }
    if !corpus.bad.is_empty() && args.bad_lines == BadLines::Fail {
        return Err(Failure::Other(format!(
            "{} of {} lines are not valid documents (listed above); fix them, or pass --bad-lines skip to index the rest",
            corpus.bad.len(),
            corpus.lines
        )));
    }

    let clients = config.clients().await?;
    let store = Arc::new(config.store(&clients)?);
    let bedrock = config.bedrock(&clients, args.concurrency)?;
    let spec = CollectionSpec {
        normalized: family != ModelFamily::Titan(TitanVersion::V1),
        ..CollectionSpec::new(config.model.clone(), args.dims, args.dtype)
    };
    let options = client::embed_options(family, args.dims, args.dtype, InputType::SearchDocument);

    let published = match store.read_manifest().await? {
        Some(current) => {
            spec.check(&current.manifest)?;
            if args.replace {
                Default::default()
            } else {
                store.published_ids(&current.manifest).await?
            }
        }
        None => Default::default(),
    };
    let total = corpus.docs.len();
    let mut todo: Vec<Doc> = corpus
        .docs
        .into_iter()
        .filter(|d| !published.contains(&d.id))
        .collect();
    let already = total - todo.len();
    if let Some(limit) = args.limit {
        todo.truncate(limit);
    }
    eprintln!(
        "{}: {} documents in the corpus, {} already published, {} to embed with {} ({} dims, {})",
        config.location(),
        human_count(total as u64),
        human_count(already as u64),
        human_count(todo.len() as u64),
        config.model,
        args.dims,
        args.dtype
    );
    if todo.is_empty() {
        return finish(&corpus.bad);
    }

    let price = args
        .price_per_1k_tokens
        .unwrap_or_else(|| cost_per_1k_tokens(&config.model));
    let bar = progress_bar(todo.len() as u64);
    let started = Instant::now();
    let mut totals = EmbedStats::default();
    let mut publishing: Option<tokio::task::JoinHandle<Result<Published, StoreError>>> = None;
    let mut shards = 0;
    let work = async {
        for (n, chunk) in todo.chunks(args.shard_size).enumerate() {
            let done_before = n * args.shard_size;
            let texts: Vec<&str> = chunk.iter().map(|d| d.text.as_str()).collect();
            let report = bedrock
                .embed_many_with_stats(&texts, &options, |p: &EmbedProgress| {
                    bar.set_position((done_before + p.done) as u64);
                    bar.set_message(status(&add(&totals, &p.stats), price));
                })
                .await?;
            totals = add(&totals, &report.stats);
            let docs: Vec<client::Doc> = chunk
                .iter()
                .map(|d| client::Doc {
                    id: d.id.clone(),
                    text: d.text.clone(),
                    metadata: d.metadata.clone(),
                })
                .collect();
            let shard = client::build_shard(&docs, report.embeddings, args.dims, args.dtype)
                .map_err(|e| Failure::Aws(e.to_string()))?;
            // Publish this shard while the next one is embedded; one publish in flight keeps
            // shards in order and memory bounded.
            if let Some(previous) = publishing.take() {
                join(previous).await?;
                shards += 1;
            }
            let (store, spec) = (store.clone(), spec.clone());
            publishing = Some(tokio::spawn(async move { store.add(&spec, &shard).await }));
        }
        if let Some(last) = publishing.take() {
            join(last).await?;
            shards += 1;
        }
        Ok::<(), Failure>(())
    };
    tokio::select! {
        result = work => result?,
        _ = tokio::signal::ctrl_c() => {
            bar.abandon();
            return Err(Failure::Partial(format!(
                "interrupted; {shards} shards were published; run the same command again to continue"
            )));
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "published {} documents in {shards} shards in {secs:.1} s ({:.1} documents/s); {}",
        human_count(todo.len() as u64),
        todo.len() as f64 / secs,
        status(&totals, price)
    );
    finish(&corpus.bad)
}

/// The longest text the model takes, in characters.
pub fn max_input_chars(family: ModelFamily) -> usize {
    match family {
        ModelFamily::CohereV3 => cohere::MAX_CHARS,
        ModelFamily::Titan(_) => MAX_INPUT_CHARS,
    }
}

fn finish(bad: &[corpus::BadLine]) -> CliResult {
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial(format!(
            "{} bad lines were skipped (listed above)",
            bad.len()
        )))
    }
}

async fn join(task: tokio::task::JoinHandle<Result<Published, StoreError>>) -> CliResult {
    match task.await {
        Ok(result) => result.map(|_| ()).map_err(Failure::from),
        Err(e) => Err(Failure::Other(format!("the publishing task failed: {e}"))),
    }
}

fn add(a: &EmbedStats, b: &EmbedStats) -> EmbedStats {
    EmbedStats {
        requests: a.requests + b.requests,
        throttle_retries: a.throttle_retries + b.throttle_retries,
        other_retries: a.other_retries + b.other_retries,
        input_tokens: a.input_tokens + b.input_tokens,
        requests_without_token_count: a.requests_without_token_count
            + b.requests_without_token_count,
        ..*b
    }
}

fn status(s: &EmbedStats, price: f64) -> String {
    format!(
        "{} tokens (~${:.4}), {} throttled retries, {} other retries, concurrency {}",
        human_count(s.input_tokens),
        s.input_tokens as f64 / 1000.0 * price,
        s.throttle_retries,
        s.other_retries,
        s.concurrency
    )
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} docs  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
