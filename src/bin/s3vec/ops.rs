//! `search`, `get`, `rm`, `import-seed` and `compact`.

use crate::config::{Clients, Config};
use crate::output::{clip, human_bytes, human_count};
use crate::{CliResult, Failure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use s3vec::aws::bedrock::{InputType, ModelFamily};
use s3vec::client;
use s3vec::filter::Filter;
use s3vec::format::Dtype;
use s3vec::index::{Mode, SearchOptions};
use s3vec::seed::{read_seed_prefix, records_to_shards};
use s3vec::store::{CollectionSpec, CompactOptions, Loaded, Store};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Search the collection: embed the query with the collection's model, rank every document.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  s3vec --bucket my-vectors --prefix debian search \"tool to resize images\" -k 5 \\\n    --filter '{\"section\": \"graphics\"}' --mode int8"
)]
pub struct SearchArgs {
    pub query: String,
    /// Results to return.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Metadata filter, as JSON: {"field": value}, {"field": {"$in": [...]}}, {"$and": [...]}, ...
    #[arg(long)]
    pub filter: Option<String>,
    /// exact (f32), int8 or binary, the quantized ones reranked with f32.
    #[arg(long, default_value = "exact")]
    pub mode: Mode,
    /// Candidates per result for int8 and binary [default: 4 and 32].
    #[arg(long)]
    pub oversample: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Print one document, in the seed's JSON shape ({"id","text","embedding","metadata","dimension"}).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  s3vec --bucket my-vectors --prefix debian get imagemagick")]
pub struct GetArgs {
    pub id: String,
    /// Leave the embedding out.
    #[arg(long)]
    pub no_embedding: bool,
}

/// Delete documents by id (tombstones; `compact` removes them from the shards).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  s3vec --bucket my-vectors --prefix debian rm doc-17 doc-18")]
pub struct RmArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
}

/// Import the seed's one-JSON-per-embedding objects ({prefix}{id}.json[.gz]) into shards.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  s3vec --bucket fin-advisor-dev-vector-documents --prefix imported import-seed embeddings/"
)]
pub struct ImportSeedArgs {
    /// Where the seed objects are, e.g. `embeddings/`.
    pub seed_prefix: String,
    /// How to store the vectors.
    #[arg(long, default_value = "f32")]
    pub dtype: Dtype,
    /// Documents per shard.
    #[arg(long, default_value_t = 10_000)]
    pub shard_size: usize,
    /// GetObject requests in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// Rewrite the shards without deleted and replaced documents, merging small shards.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  s3vec --bucket my-vectors --prefix debian compact --delete-after 60"
)]
pub struct CompactArgs {
    /// Documents per new shard.
    #[arg(long, default_value_t = 10_000)]
    pub shard_size: usize,
    /// Seconds to keep the old shards after publishing, for readers that loaded the old
    /// manifest just before (they recover anyway, by reloading).
    #[arg(long, default_value_t = 30)]
    pub delete_after: u64,
}

async fn load(store: &Store) -> CliResult<Loaded> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("loading {bytes}/{total_bytes} {bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let loaded = store
        .load(|p| {
            bar.set_length(p.total_bytes);
            bar.set_position(p.loaded_bytes);
            bar.set_message(format!("{}/{} shards", p.loaded_shards, p.total_shards));
        })
        .await?;
    bar.finish_and_clear();
    for f in &loaded.failed {
        eprintln!("warning: shard {} left out: {}", f.key, f.error);
    }
    Ok(loaded)
}

pub async fn search(config: &Config, args: SearchArgs) -> CliResult {
    let filter = match &args.filter {
        Some(text) => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| Failure::Usage(format!("--filter is not JSON: {e}")))?;
            Some(Filter::parse(&value).map_err(|e| Failure::Usage(format!("--filter: {e}")))?)
        }
        None => None,
    };
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let started = Instant::now();
    let loaded = load(&store).await?;
    let load_time = started.elapsed();
    let query = embed_query(config, &clients, &loaded, &args.query).await?;
    let t = Instant::now();
    let hits = loaded.collection.search(
        &query.0,
        &SearchOptions {
            k: args.k,
            mode: args.mode,
            oversample: args.oversample,
            filter: filter.as_ref(),
        },
    );
    let rank_time = t.elapsed();
    let hits = hits.map_err(|e| Failure::Usage(e.to_string()))?;
    if args.json {
        let out: Vec<Value> = hits
            .iter()
            .map(|h| json!({"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata}))
            .collect();
        println!("{}", Value::Array(out));
    } else {
        println!("{:>4}  {:>6}  {:<28}  text", "rank", "score", "id");
        for (i, h) in hits.iter().enumerate() {
            println!(
                "{:>4}  {:>6.4}  {:<28}  {}",
                i + 1,
                h.score,
                clip(h.id, 28),
                clip(h.text.unwrap_or(""), 90)
            );
        }
    }
    eprintln!(
        "{} of {} documents; load {:.2} s, embed {} ms, rank {:.2} ms ({})",
        hits.len(),
        human_count(loaded.collection.len() as u64),
        load_time.as_secs_f64(),
        query.1.as_millis(),
        rank_time.as_secs_f64() * 1000.0,
        args.mode.name()
    );
    Ok(())
}

/// The query's vector, made by the model the collection was indexed with.
async fn embed_query(
    config: &Config,
    clients: &Clients,
    loaded: &Loaded,
    text: &str,
) -> CliResult<(Vec<f32>, Duration)> {
    let manifest = &loaded.manifest;
    let bedrock = config.with_model(&manifest.model_id).bedrock(clients, 1)?;
    let family = ModelFamily::of_model(&manifest.model_id);
    let options = client::embed_options(
        family,
        manifest.dims,
        manifest.dtype,
        InputType::SearchQuery,
    );
    let t = Instant::now();
    let embedding = bedrock.embed(text, &options).await?;
    let vector = embedding
        .float
        .ok_or_else(|| Failure::Aws("Bedrock returned no float embedding for the query".into()))?;
    Ok((vector, t.elapsed()))
}

pub async fn get(config: &Config, args: GetArgs) -> CliResult {
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let loaded = load(&store).await?;
    let c = &loaded.collection;
    let hit = c.get(&args.id).ok_or_else(|| {
        Failure::Other(format!(
            "no document {:?} in {}",
            args.id,
            config.location()
        ))
    })?;
    let embedding = match (args.no_embedding, c.vector(&args.id)) {
        (true, _) => None,
        (false, Some(v)) => Some(v.to_vec()),
        (false, None) => c.unpacked_binary(&args.id),
    };
    let mut out = json!({
        "id": hit.id,
        "text": hit.text,
        "metadata": hit.metadata.cloned().unwrap_or_default(),
        "dimension": c.dims(),
    });
    if let Some(e) = embedding {
        out["embedding"] = json!(e);
    }
    println!("{out}");
    Ok(())
}

pub async fn rm(config: &Config, args: RmArgs) -> CliResult {
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let current = store.require_manifest().await?;
    let present = store.published_ids(&current.manifest).await?;
    let (found, missing): (Vec<String>, Vec<String>) =
        args.ids.into_iter().partition(|id| present.contains(id));
    if !found.is_empty() {
        let published = store.delete(&found).await?;
        eprintln!(
            "deleted {} documents (generation {}); {} tombstones await `s3vec compact`",
            found.len(),
            published.manifest.generation,
            published.manifest.deleted.len()
        );
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial(format!(
            "not in the collection, nothing done for: {}",
            missing.join(", ")
        )))
    }
}

pub async fn import_seed(config: &Config, args: ImportSeedArgs) -> CliResult {
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let bar = ProgressBar::new(0);
    let started = Instant::now();
    let import = read_seed_prefix(
        &clients.s3,
        &args.seed_prefix,
        args.concurrency.max(1),
        |p| {
            bar.set_length(p.to_fetch as u64);
            bar.set_position(p.fetched as u64);
        },
    )
    .await
    .map_err(|e| Failure::Aws(e.to_string()))?;
    bar.finish_and_clear();
    for s in import.skipped.iter().take(20) {
        eprintln!("skipped {}: {}", s.key, s.reason);
    }
    for d in import.duplicates.iter().take(5) {
        eprintln!(
            "{:?} exists as {} and {}: read {}",
            d.id, d.kept, d.ignored, d.kept
        );
    }
    let Some(dims) = import.dims else {
        return Err(Failure::Usage(format!(
            "no seed objects under s3://{}/{} ({} listed, {} skipped)",
            config.bucket,
            args.seed_prefix,
            import.listed,
            import.skipped.len()
        )));
    };
    let count = import.records.len();
    let spec = CollectionSpec::new(config.model.clone(), dims as u32, args.dtype);
    let shards = records_to_shards(import.records, dims, args.dtype, args.shard_size.max(1))
        .map_err(|e| Failure::Other(e.to_string()))?;
    for shard in &shards {
        store.add(&spec, shard).await?;
    }
    eprintln!(
        "imported {} documents of {dims} dimensions into {} shards at {} in {:.1} s ({} objects, {} read)",
        human_count(count as u64),
        shards.len(),
        config.location(),
        started.elapsed().as_secs_f64(),
        import.fetched,
        human_bytes(import.bytes)
    );
    if import.skipped.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial(format!(
            "{} objects were skipped (see above)",
            import.skipped.len()
        )))
    }
}

pub async fn compact(config: &Config, args: CompactArgs) -> CliResult {
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let report = store
        .compact(&CompactOptions {
            max_docs_per_shard: args.shard_size.max(1),
            delete_old_after: Duration::from_secs(args.delete_after),
        })
        .await?;
    if !report.compacted {
        eprintln!(
            "nothing to compact: {} shards, {} documents, no tombstones",
            report.shards_before,
            human_count(report.documents_kept as u64)
        );
        return Ok(());
    }
    eprintln!(
        "compacted {} shards ({}) into {} ({}): kept {} documents, dropped {}; generation {}",
        report.shards_before,
        human_bytes(report.bytes_before),
        report.shards_after,
        human_bytes(report.bytes_after),
        human_count(report.documents_kept as u64),
        human_count(report.documents_dropped as u64),
        report.generation
    );
    if report.leftover_keys.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial(format!(
            "old shards could not be deleted (unreferenced, safe to remove): {}",
            report.leftover_keys.join(", ")
        )))
    }
}
