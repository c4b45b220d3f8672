//! Loading a collection from the local S3 server: seconds to a searchable [`Collection`] and
//! MB/s, against plain `curl` fetching the same shard objects in the same run with the same
//! parallelism (presigned URLs, `--parallel`).
//!
//! ```sh
//! cargo build --release -p s3vec-dev
//! S3VEC_DEV_BIN=target/release/s3vec-dev scripts/with-stack.sh \
//!   cargo run --release --example load_bench -- --docs 100000 --dims 1024
//! ```
//!
//! Needs `S3VEC_TEST_STACK` (`endpoint|access key|secret|region`, set by
//! `scripts/with-stack.sh`). Writes the collection once under `load-bench/`, then times
//! `--runs` loads of each kind and prints every run and the best.

// Native only (it runs processes and tokio); `cargo test --target wasm32-unknown-unknown` builds
// the examples too, so under wasm this is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), String> {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use s3vec::aws::s3::{S3Client, S3Config};
    use s3vec::aws::{Credentials, Runtime, StaticProvider};
    use s3vec::format::{Document, Dtype, Shard, ShardVectors};
    use s3vec::store::{CollectionSpec, Store, StoreOptions};
    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    struct Args {
        docs: usize,
        dims: usize,
        shard_docs: usize,
        concurrency: usize,
        runs: usize,
    }

    fn parse_args() -> Result<Args, String> {
        let mut a = Args {
            docs: 100_000,
            dims: 1024,
            shard_docs: 10_000,
            concurrency: 6,
            runs: 3,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let n: usize = value
                .parse()
                .map_err(|_| format!("{flag} {value}: not a number"))?;
            match flag.as_str() {
                "--docs" => a.docs = n,
                "--dims" => a.dims = n,
                "--shard-docs" => a.shard_docs = n,
                "--concurrency" => a.concurrency = n,
                "--runs" => a.runs = n,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if a.docs == 0 || a.dims == 0 || a.shard_docs == 0 || a.concurrency == 0 || a.runs == 0 {
            return Err("every number must be at least 1".into());
        }
        Ok(a)
    }

    fn client(runtime: &Runtime) -> Result<S3Client, String> {
        let spec = std::env::var("S3VEC_TEST_STACK").map_err(|_| {
            "S3VEC_TEST_STACK is not set: run through scripts/with-stack.sh".to_string()
        })?;
        let [endpoint, key, secret, region] = spec.split('|').collect::<Vec<_>>()[..] else {
            return Err(format!(
                "S3VEC_TEST_STACK {spec:?} is not endpoint|key|secret|region"
            ));
        };
        let creds = Credentials::new(key.to_string(), secret.to_string(), None, None);
        S3Client::new(
            S3Config::new(region, "vec-test").endpoint(endpoint),
            Arc::new(StaticProvider::new(creds)),
            runtime.clone(),
        )
        .map_err(|e| e.to_string())
    }

    /// Deterministic pseudo-random unit-ish vectors (the loader's speed does not depend on them).
    fn vectors(seed: u64, n: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn mb_per_s(bytes: u64, t: Duration) -> f64 {
        bytes as f64 / 1e6 / t.as_secs_f64()
    }

    #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    pub async fn main() -> Result<(), String> {
        let args = parse_args()?;
        let runtime = Runtime::platform().map_err(|e| e.to_string())?;
        let s3 = Arc::new(client(&runtime)?);
        let options = StoreOptions {
            load_concurrency: args.concurrency,
            ..StoreOptions::default()
        };
        let prefix = format!("load-bench/{}x{}", args.docs, args.dims);
        let store = Store::with_options(s3.clone(), &prefix, &runtime, options)
            .map_err(|e| e.to_string())?;
        let spec =
            CollectionSpec::new("amazon.titan-embed-text-v2:0", args.dims as u32, Dtype::F32);

        let existing = store.read_manifest().await.map_err(|e| e.to_string())?;
        if existing.map(|v| v.manifest.document_count()) != Some(args.docs as u64) {
            let t = Instant::now();
            let mut first = 0;
            while first < args.docs {
                let n = args.shard_docs.min(args.docs - first);
                let shard = Shard {
                    dims: args.dims as u32,
                    vectors: ShardVectors::F32(vectors(first as u64, n * args.dims)),
                    docs: (first..first + n)
                        .map(|i| Document {
                            id: format!("doc-{i:07}"),
                            metadata: None,
                            text: None,
                        })
                        .collect(),
                };
                store.add(&spec, &shard).await.map_err(|e| e.to_string())?;
                first += n;
            }
            println!(
                "wrote {} documents in {:.1} s",
                args.docs,
                t.elapsed().as_secs_f64()
            );
        }
        let manifest = store
            .require_manifest()
            .await
            .map_err(|e| e.to_string())?
            .manifest;
        let total: u64 = manifest.shards.iter().map(|s| s.bytes).sum();
        println!(
            "collection: {} documents x {} dims f32, {} shards, {:.1} MB",
            manifest.document_count(),
            manifest.dims,
            manifest.shards.len(),
            total as f64 / 1e6
        );

        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for run in 1..=args.runs {
            let t = Instant::now();
            let loaded = store.load(|_| {}).await.map_err(|e| e.to_string())?;
            let took = t.elapsed();
            if !loaded.failed.is_empty() || loaded.collection.len() != args.docs {
                return Err(format!("load incomplete: {:?}", loaded.failed));
            }
            drop(loaded);
            println!(
                "run {run}: s3vec load (GET, verify, add): {:.2} s, {:.0} MB/s",
                took.as_secs_f64(),
                mb_per_s(total, took)
            );
            ours.push(took);

            let mut urls = Vec::new();
            for entry in &manifest.shards {
                let key = store.key(&entry.key);
                urls.push(
                    s3.presign_get(&key, Duration::from_secs(600))
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let mut curl = Command::new("curl");
            curl.args([
                "--silent",
                "--show-error",
                "--no-progress-meter",
                "--fail",
                "--parallel",
            ])
            .args(["--parallel-max", &args.concurrency.to_string()]);
            for url in &urls {
                curl.args(["-o", "/dev/null", url]);
            }
            let t = Instant::now();
            let status = curl.status().map_err(|e| format!("cannot run curl: {e}"))?;
            let took = t.elapsed();
            if !status.success() {
                return Err(format!("curl failed: {status}"));
            }
            println!(
                "run {run}: curl --parallel-max {} to /dev/null: {:.2} s, {:.0} MB/s",
                args.concurrency,
                took.as_secs_f64(),
                mb_per_s(total, took)
            );
            theirs.push(took);
        }
        // The CPU part alone: the same shards from memory through decode (checksum, checks) and
        // Collection::add_shard (normalise, quantize, pack), to see what the network path adds.
        let mut blobs = Vec::new();
        for entry in &manifest.shards {
            blobs.push(
                s3.get_object(&store.key(&entry.key))
                    .await
                    .map_err(|e| e.to_string())?
                    .body,
            );
        }
        for run in 1..=args.runs {
            let t = Instant::now();
            let mut collection = s3vec::index::Collection::new();
            collection.reserve(args.dims, Dtype::F32, args.docs);
            let mut decode = Duration::ZERO;
            for b in &blobs {
                let d = Instant::now();
                let shard = s3vec::format::decode_shard(b).map_err(|e| e.to_string())?;
                decode += d.elapsed();
                collection.add_shard(&shard).map_err(|e| e.to_string())?;
            }
            println!(
                "run {run}: from memory: decode {:.2} s + add {:.2} s = {:.2} s",
                decode.as_secs_f64(),
                (t.elapsed() - decode).as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
        }
        let best = |v: &[Duration]| v.iter().copied().min().unwrap_or_default();
        let (o, c) = (best(&ours), best(&theirs));
        println!(
            "best: s3vec {:.2} s ({:.0} MB/s), curl {:.2} s ({:.0} MB/s), ratio {:.2}x",
            o.as_secs_f64(),
            mb_per_s(total, o),
            c.as_secs_f64(),
            mb_per_s(total, c),
            o.as_secs_f64() / c.as_secs_f64()
        );
        Ok(())
    }
}
