//! Native ranking benchmarks: `cargo bench --bench rank`.
//!
//! - `kernel/<dims>/<name>`: one document against one query, both in L1, so this is the
//!   compute throughput of each kernel (bytes of the document vector per second) and the SIMD
//!   kernels against their scalar references.
//! - `search/100kx384/<mode>`: `Collection::search` (top-10) over 100,000 clustered unit vectors
//!   of 384 dimensions, per mode at its default oversample; throughput is the bytes of the store
//!   the mode scans (f32 rows; i8 rows and scales; bit rows), plus the rerank reads.
//!
//! The native build targets baseline x86-64 (SSE2 only, no FMA/AVX) unless you pass
//! `-C target-cpu`; the wasm build (bench/rank.mjs) is what ships. The data: 256 random gaussian
//! centres, documents = centre + gaussian noise of norm 0.75, normalised; queries are held-out
//! documents perturbed by noise of norm 0.2 (the same model as bench/rank.mjs, another PRNG).
//!
//! - `load/1024/<step>` and `load/10kx1024/add_shard`: the CPU work of loading a collection
//!   (see [`loading`]).
//!
//! Set `S3VEC_BENCH_N` to change the number of documents of the search benchmark.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3vec::format::{Document, Shard, ShardVectors, decode_shard, encode_shard};
use s3vec::index::{Collection, Mode, SearchOptions};
use s3vec::rank::{binary, dot_f32, dot_i8, hamming_distance, quantize, scalar};
use std::hint::black_box;
use std::time::Duration;

/// SplitMix64 plus Box–Muller: small, seeded, no dependency.
struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Rng {
            state: seed,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f32 {
        if let Some(s) = self.spare.take() {
            return s as f32;
        }
        let (u, v) = (self.unit(), self.unit());
        let m = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        self.spare = Some(m * t.sin());
        (m * t.cos()) as f32
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const CENTRES: usize = 256;
const NOISE: f32 = 0.75;
const PERTURB: f32 = 0.2;

/// `n` clustered unit vectors and `nq` held-out, perturbed queries.
fn clustered(seed: u64, n: usize, nq: usize, dims: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut rng = Rng::new(seed);
    let mut centres = vec![0.0f32; CENTRES * dims];
    centres.iter_mut().for_each(|x| *x = rng.gauss());
    centres.chunks_exact_mut(dims).for_each(|c| {
        quantize::normalize(c);
    });
    let sd = NOISE / (dims as f32).sqrt();
    let sample = |rng: &mut Rng, out: &mut [f32]| {
        let c = &centres[rng.below(CENTRES) * dims..][..dims];
        for (x, &m) in out.iter_mut().zip(c) {
            *x = m + sd * rng.gauss();
        }
        quantize::normalize(out);
    };
    let mut docs = vec![0.0f32; n * dims];
    docs.chunks_exact_mut(dims)
        .for_each(|row| sample(&mut rng, row));
    let sp = PERTURB / (dims as f32).sqrt();
    let queries = (0..nq)
        .map(|_| {
            let mut q = vec![0.0f32; dims];
            sample(&mut rng, &mut q);
            q.iter_mut().for_each(|x| *x += sp * rng.gauss());
            quantize::normalize(&mut q);
            q
        })
        .collect();
    (docs, queries)
}

fn unit_vec(rng: &mut Rng, dims: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims).map(|_| rng.gauss()).collect();
    quantize::normalize(&mut v);
    v
}

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(7);
    for dims in [384usize, 1024] {
        let mut g = c.benchmark_group(format!("kernel/{dims}"));
        let (a, b) = (unit_vec(&mut rng, dims), unit_vec(&mut rng, dims));
        g.throughput(Throughput::Bytes((dims * 4) as u64));
        g.bench_function("dot_f32", |bch| {
            bch.iter(|| dot_f32(black_box(&a), black_box(&b)))
        });
        g.bench_function("scalar::dot_f32", |bch| {
            bch.iter(|| scalar::dot_f32(black_box(&a), black_box(&b)))
        });

        let (mut qa, mut qb) = (vec![0i8; dims], vec![0i8; dims]);
        quantize::quantize_i8(&a, &mut qa);
        quantize::quantize_i8(&b, &mut qb);
        let wide = s3vec::rank::dot_i8::widen_query(&qb);
        g.throughput(Throughput::Bytes(dims as u64));
        g.bench_function("dot_i8", |bch| {
            bch.iter(|| dot_i8(black_box(&qa), black_box(&wide)))
        });
        g.bench_function("scalar::dot_i8", |bch| {
            bch.iter(|| scalar::dot_i8(black_box(&qa), black_box(&qb)))
        });

        let n = quantize::binary_len(dims);
        let (mut pa, mut pb) = (vec![0u8; n], vec![0u8; n]);
        quantize::pack_binary(&a, &mut pa);
        quantize::pack_binary(&b, &mut pb);
        let (mut wa, mut wb) = (vec![0u64; n.div_ceil(8)], vec![0u64; n.div_ceil(8)]);
        binary::bytes_to_words(&pa, &mut wa);
        binary::bytes_to_words(&pb, &mut wb);
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function("hamming_distance", |bch| {
            bch.iter(|| hamming_distance(black_box(&wa), black_box(&wb)))
        });
        g.bench_function("scalar::hamming_distance", |bch| {
            bch.iter(|| scalar::hamming_distance(black_box(&pa), black_box(&pb)))
        });
        g.finish();
    }
}

/// What `Collection::add_shard` does per row (normalise, quantize to i8, pack sign bits), one
/// 1024-dimension row at a time, and the whole of it for a decoded 10,000 × 1024 f32 shard into
/// an empty collection: the CPU part of loading a collection, natively.
fn loading(c: &mut Criterion) {
    const DIMS: usize = 1024;
    let mut rng = Rng::new(11);
    // Rows taken in turn, so branches on the data are not learnt from one repeated row.
    let rows: Vec<Vec<f32>> = (0..64).map(|_| unit_vec(&mut rng, DIMS)).collect();
    let mut g = c.benchmark_group(format!("load/{DIMS}"));
    g.throughput(Throughput::Bytes((DIMS * 4) as u64));
    let mut i = 0;
    let mut next = || {
        i = (i + 1) % rows.len();
        &rows[i]
    };
    let mut v = vec![0.0f32; DIMS];
    g.bench_function("normalize", |bch| {
        bch.iter(|| {
            v.copy_from_slice(next());
            quantize::normalize(black_box(&mut v))
        })
    });
    let mut codes = vec![0i8; DIMS];
    g.bench_function("quantize_i8", |bch| {
        bch.iter(|| quantize::quantize_i8(black_box(next()), black_box(&mut codes)))
    });
    let mut packed = vec![0u8; quantize::binary_len(DIMS)];
    g.bench_function("pack_binary", |bch| {
        bch.iter(|| quantize::pack_binary(black_box(next()), black_box(&mut packed)))
    });
    g.finish();

    let n = 10_000;
    let docs: Vec<f32> = (0..n).flat_map(|_| unit_vec(&mut rng, DIMS)).collect();
    let shard = Shard {
        dims: DIMS as u32,
        vectors: ShardVectors::F32(docs),
        docs: (0..n)
            .map(|i| Document {
                id: format!("{i:07}"),
                ..Document::default()
            })
            .collect(),
    };
    let bytes = encode_shard(&shard).expect("encode");
    let decoded = decode_shard(&bytes).expect("decode");
    let mut g = c.benchmark_group("load/10kx1024");
    g.sample_size(10)
        .throughput(Throughput::Bytes((n * DIMS * 4) as u64));
    g.bench_function("add_shard", |bch| {
        bch.iter(|| {
            let mut col = Collection::new();
            col.add_shard(black_box(&decoded)).expect("add")
        })
    });
    g.finish();
}

fn load(docs: &[f32], dims: usize) -> Collection {
    let mut col = Collection::new();
    let n = docs.len() / dims;
    for start in (0..n).step_by(10_000) {
        let end = (start + 10_000).min(n);
        let shard = Shard {
            dims: dims as u32,
            vectors: ShardVectors::F32(docs[start * dims..end * dims].to_vec()),
            docs: (start..end)
                .map(|i| Document {
                    id: format!("{i:07}"),
                    ..Document::default()
                })
                .collect(),
        };
        let bytes = encode_shard(&shard).expect("encode");
        col.add_shard(&decode_shard(&bytes).expect("decode"))
            .expect("add");
    }
    col
}

fn search(c: &mut Criterion) {
    const DIMS: usize = 384;
    const K: usize = 10;
    let n: usize = std::env::var("S3VEC_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (docs, queries) = clustered(1, n, 64, DIMS);
    let col = load(&docs, DIMS);
    drop(docs);

    // Recall of the quantized modes against exact, once, so the speeds below have context.
    let ids = |mode: Mode, q: &[f32]| -> Vec<String> {
        let opts = SearchOptions {
            k: K,
            mode,
            ..SearchOptions::default()
        };
        let hits = col.search(q, &opts).expect("search");
        hits.iter().map(|h| h.id.to_string()).collect()
    };
    for mode in [Mode::Int8, Mode::Binary] {
        let mut found = 0;
        for q in &queries {
            let truth = ids(Mode::Exact, q);
            found += ids(mode, q).iter().filter(|id| truth.contains(id)).count();
        }
        println!(
            "search/{}kx{DIMS}: recall@{K} of {} (oversample {}) against exact over {} queries: {:.4}",
            n / 1000,
            mode.name(),
            mode.default_oversample(),
            queries.len(),
            found as f64 / (K * queries.len()) as f64
        );
    }

    let stride = DIMS.next_multiple_of(32);
    let mut g = c.benchmark_group(format!("search/{}kx{DIMS}", n / 1000));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for mode in [Mode::Exact, Mode::Int8, Mode::Binary] {
        let rerank = if mode == Mode::Exact {
            0
        } else {
            K * mode.default_oversample() * stride * 4
        };
        let scanned = match mode {
            Mode::Exact => n * stride * 4,
            Mode::Int8 => n * (stride + 4) + rerank,
            Mode::Binary => n * DIMS.div_ceil(64) * 8 + rerank,
        };
        g.throughput(Throughput::Bytes(scanned as u64));
        let opts = SearchOptions {
            k: K,
            mode,
            ..SearchOptions::default()
        };
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(mode.name()), |bch| {
            bch.iter(|| {
                i = (i + 1) % queries.len();
                col.search(black_box(&queries[i]), &opts)
                    .expect("search")
                    .len()
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    println!(
        "native target features: sse2={} sse4.1={} avx={} avx2={} fma={} popcnt={}",
        cfg!(target_feature = "sse2"),
        cfg!(target_feature = "sse4.1"),
        cfg!(target_feature = "avx"),
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "popcnt"),
    );
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = kernels, loading, search
}
criterion_main!(benches);
