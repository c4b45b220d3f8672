//! The seed's design against ours, on the same documents in the same local S3 server.
//!
//! - **seed**: one JSON object per document (`embeddings/{id}.json`, the seed's full shape);
//!   reading is ListObjectsV2 + one GET per object + a JSON parse each
//!   ([`s3vec::seed::read_seed_prefix`], `--concurrency` GETs at a time: 32 by default, which is
//!   generous to the seed, whose own `search` reads them one by one).
//! - **shards**: the same documents in shards of `--shard-docs` (f32, unit vectors) and a
//!   `manifest.json`; reading is a GET of the manifest, GETs of the shards (same concurrency),
//!   `decode_shard` and `Collection::add_shard`, ready to search.
//!
//! ```sh
//! cargo run --release --example seed_vs_shards -- --docs 10000 --dims 1024
//! ```
//!
//! The S3 server: `S3VEC_TEST_STACK` (`endpoint|key|secret|region`, as `scripts/with-stack.sh`
//! sets it) or `--ready FILE` (the ready file of a running `s3vec-dev`), else the example starts
//! `$S3VEC_DEV_BIN` (default `target/debug/s3vec-dev`, built if missing) on a free port and
//! stops it at the end. Each design is timed `--runs` times (alternating), best run reported.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/aws_common/mod.rs"]
mod aws_common;

// Native only (it runs processes and tokio); `cargo test --target wasm32-unknown-unknown` builds
// the examples too, so under wasm this is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {

    use futures_util::StreamExt;
    use s3vec::aws::s3::{PutOptions, S3Client, S3Config};
    use s3vec::aws::{Credentials, Runtime, StaticProvider};
    use s3vec::format::{Dtype, Manifest, ShardEntry, decode_shard, encode_shard};
    use s3vec::index::Collection;
    use s3vec::seed::{SeedRecord, put_seed, read_seed_prefix, records_to_shards};
    use serde_json::{Map, json};
    use std::sync::Arc;
    use std::time::Instant;

    const SEED_PREFIX: &str = "seed-bench/embeddings/";
    const COLLECTION: &str = "seed-bench/collection";

    struct Args {
        docs: usize,
        dims: usize,
        shard_docs: usize,
        concurrency: usize,
        runs: usize,
        gzip: bool,
        ready: Option<String>,
        bucket: String,
    }

    fn parse_args() -> Result<Args, String> {
        let mut a = Args {
            docs: 10_000,
            dims: 1024,
            shard_docs: 10_000,
            concurrency: 32,
            runs: 3,
            gzip: false,
            ready: None,
            bucket: crate::aws_common::BUCKET.to_string(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--gzip" {
                a.gzip = true;
                continue;
            }
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{flag} {value}: give a whole number of at least 1"))
            };
            match flag.as_str() {
                "--docs" => a.docs = number()?,
                "--dims" => a.dims = number()?,
                "--shard-docs" => a.shard_docs = number()?,
                "--concurrency" => a.concurrency = number()?,
                "--runs" => a.runs = number()?,
                "--ready" => a.ready = Some(value),
                "--bucket" => a.bucket = value,
                _ => {
                    return Err(format!(
                        "unknown flag {flag}; flags: --docs N --dims N --shard-docs N \
                     --concurrency N --runs N --gzip --ready FILE --bucket NAME"
                    ));
                }
            }
        }
        Ok(a)
    }

    /// Where the S3 server is: endpoint, key, secret, region.
    fn endpoint(args: &Args) -> Result<Option<[String; 4]>, String> {
        if let Ok(spec) = std::env::var("S3VEC_TEST_STACK") {
            let parts: Vec<String> = spec.split('|').map(str::to_string).collect();
            return <[String; 4]>::try_from(parts).map(Some).map_err(|_| {
                format!("S3VEC_TEST_STACK {spec:?} is not endpoint|key|secret|region")
            });
        }
        let Some(file) = &args.ready else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file).map_err(|e| format!("--ready {file}: {e}"))?;
        let r: crate::aws_common::Ready =
            serde_json::from_str(&text).map_err(|e| format!("--ready {file}: {e}"))?;
        Ok(Some([r.s3, r.access_key_id, r.secret_access_key, r.region]))
    }

    /// Deterministic vectors (SplitMix64); the loaders' speed does not depend on their values.
    fn embedding(i: usize, dims: usize) -> Vec<f32> {
        let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED;
        (0..dims)
            .map(|_| {
                x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1
            })
            .collect()
    }

    fn records(docs: usize, dims: usize) -> Vec<SeedRecord> {
        (0..docs)
            .map(|i| {
                let mut metadata = Map::new();
                metadata.insert(
                    "category".into(),
                    json!(["tech", "animals", "finance"][i % 3]),
                );
                SeedRecord {
                    id: format!("doc{i:07}"),
                    text: Some(format!(
                        "Document {i}: a sentence or two of text, as the seed stores next to each \
                     embedding."
                    )),
                    embedding: embedding(i, dims),
                    metadata: Some(metadata),
                }
            })
            .collect()
    }

    /// One timed read: requests made, body bytes received, seconds, documents ready.
    #[derive(Clone, Copy)]
    struct Run {
        requests: usize,
        bytes: u64,
        seconds: f64,
        docs: usize,
    }

    async fn read_seed(s3: &S3Client, args: &Args) -> Result<Run, String> {
        let start = Instant::now();
        let import = read_seed_prefix(s3, SEED_PREFIX, args.concurrency, |_| {})
            .await
            .map_err(|e| e.to_string())?;
        let seconds = start.elapsed().as_secs_f64();
        if !import.skipped.is_empty() {
            return Err(format!("seed objects skipped: {:?}", &import.skipped[..1]));
        }
        Ok(Run {
            // ListObjectsV2 pages of 1000, then one GET per object.
            requests: import.listed.div_ceil(1000).max(1) + import.fetched,
            bytes: import.bytes,
            seconds,
            docs: import.records.len(),
        })
    }

    async fn read_shards(s3: &S3Client, args: &Args) -> Result<Run, String> {
        let start = Instant::now();
        let object = s3
            .get_object(&format!("{COLLECTION}/manifest.json"))
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = object.body.len() as u64;
        let manifest = Manifest::decode(&object.body).map_err(|e| e.to_string())?;
        let mut shards = futures_util::stream::iter(manifest.shards.iter())
            .map(|entry| async move {
                let got = s3.get_object(&format!("{COLLECTION}/{}", entry.key)).await;
                (entry, got)
            })
            .buffer_unordered(args.concurrency);
        let mut collection = Collection::new();
        while let Some((entry, got)) = shards.next().await {
            let body = got.map_err(|e| e.to_string())?.body;
            bytes += body.len() as u64;
            let shard = decode_shard(&body).map_err(|e| e.to_string())?;
            manifest
                .check_shard(entry, &shard, body.len())
                .map_err(|e| e.to_string())?;
            collection.add_shard(&shard).map_err(|e| e.to_string())?;
        }
        Ok(Run {
            requests: 1 + manifest.shards.len(),
            bytes,
            seconds: start.elapsed().as_secs_f64(),
            docs: collection.len(),
        })
    }

    async fn write_both(s3: &S3Client, args: &Args) -> Result<(), String> {
        let records = records(args.docs, args.dims);
        let start = Instant::now();
        let mut puts = futures_util::stream::iter(records.iter())
            .map(|r| put_seed(s3, SEED_PREFIX, r, args.gzip))
            .buffer_unordered(args.concurrency);
        while let Some(put) = puts.next().await {
            put.map_err(|e| e.to_string())?;
        }
        drop(puts);
        eprintln!(
            "wrote {} seed objects{} in {:.1} s",
            args.docs,
            if args.gzip { " (.json.gz)" } else { "" },
            start.elapsed().as_secs_f64()
        );

        let start = Instant::now();
        let shards = records_to_shards(records, args.dims, Dtype::F32, args.shard_docs)
            .map_err(|e| e.to_string())?;
        let mut manifest =
            Manifest::new("amazon.titan-embed-text-v2:0", args.dims as u32, Dtype::F32);
        for (i, shard) in shards.iter().enumerate() {
            let bytes = encode_shard(shard).map_err(|e| e.to_string())?;
            let sum = decode_shard(&bytes).map_err(|e| e.to_string())?.checksum;
            let key = format!("shards/{:06}-{sum:016x}.s3vs", i + 1);
            manifest.shards.push(ShardEntry {
                key: key.clone(),
                count: shard.docs.len() as u64,
                bytes: bytes.len() as u64,
                checksum: ShardEntry::format_checksum(sum),
            });
            s3.put_object(
                &format!("{COLLECTION}/{key}"),
                bytes,
                PutOptions::default().content_type("application/octet-stream"),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        manifest.generation = 1;
        manifest.validate().map_err(|e| e.to_string())?;
        s3.put_object(
            &format!("{COLLECTION}/manifest.json"),
            manifest.to_json(),
            PutOptions::default().content_type("application/json"),
        )
        .await
        .map_err(|e| e.to_string())?;
        eprintln!(
            "wrote {} shards and the manifest in {:.1} s",
            manifest.shards.len(),
            start.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn report(name: &str, best: &Run) {
        println!(
            "{name:<8} {:>9} {:>14} {:>9.3} {:>12.0} {:>9.1}",
            best.requests,
            best.bytes,
            best.seconds,
            best.docs as f64 / best.seconds,
            best.bytes as f64 / best.seconds / 1e6,
        );
    }

    async fn run(args: Args) -> Result<(), String> {
        let runtime = Runtime::platform().map_err(|e| e.to_string())?;
        let mut _stack = None;
        let [endpoint, key, secret, region] = match endpoint(&args)? {
            Some(e) => e,
            None => {
                let stack = crate::aws_common::Stack::try_start(&[])?;
                eprintln!(
                    "started {} at {}",
                    crate::aws_common::binary().display(),
                    stack.ready.s3
                );
                let r = stack.ready.clone();
                _stack = Some(stack);
                [r.s3, r.access_key_id, r.secret_access_key, r.region]
            }
        };
        let s3 = S3Client::new(
            S3Config::new(region, args.bucket.clone()).endpoint(endpoint),
            Arc::new(StaticProvider::new(Credentials::new(
                key, secret, None, None,
            ))),
            runtime,
        )
        .map_err(|e| e.to_string())?;
        if !s3
            .list_all(SEED_PREFIX)
            .await
            .map_err(|e| e.to_string())?
            .is_empty()
        {
            return Err(format!(
                "s3://{}/{SEED_PREFIX} is not empty: use a fresh stack",
                args.bucket
            ));
        }
        write_both(&s3, &args).await?;

        let (mut seed, mut ours): (Option<Run>, Option<Run>) = (None, None);
        let better = |best: Option<Run>, r: Run| match best {
            Some(b) if b.seconds <= r.seconds => Some(b),
            _ => Some(r),
        };
        for i in 0..args.runs {
            let s = read_seed(&s3, &args).await?;
            let o = read_shards(&s3, &args).await?;
            for (name, r) in [("seed", s), ("shards", o)] {
                if r.docs != args.docs {
                    return Err(format!(
                        "{name} run {i}: {} documents, expected {}",
                        r.docs, args.docs
                    ));
                }
                eprintln!("run {}: {name:<6} {:.3} s", i + 1, r.seconds);
            }
            seed = better(seed, s);
            ours = better(ours, o);
        }
        println!(
            "{} documents of {} dimensions, concurrency {}, best of {}",
            args.docs, args.dims, args.concurrency, args.runs
        );
        println!(
            "{:<8} {:>9} {:>14} {:>9} {:>12} {:>9}",
            "design", "requests", "body bytes", "seconds", "docs/s", "MB/s"
        );
        if let (Some(s), Some(o)) = (seed, ours) {
            report("seed", &s);
            report("shards", &o);
            println!("shards are {:.1}x faster to ready", s.seconds / o.seconds);
        }
        Ok(())
    }

    #[tokio::main]
    pub async fn main() {
        let args = match parse_args() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("seed_vs_shards: {e}");
                std::process::exit(2);
            }
        };
        if let Err(e) = run(args).await {
            eprintln!("seed_vs_shards: {e}");
            std::process::exit(1);
        }
    }
}
