//! The collection map, natively: `cargo bench --bench pca`.
//!
//! `pca2/<n>x<dims>`: [`s3vec::client::pca2`] over `n` rows with a slowly falling spectrum
//! (the spread along the i-th of 32 random directions is `1 / (1 + 0.05 i)`, as in text
//! embeddings, where the leading eigenvalues are close). Throughput is the bytes of the rows.
//!
//! `pca2/shards`: the f32 shards in the directory `S3VEC_PCA_SHARDS` names, when set, e.g. the
//! demo's real embeddings: `S3VEC_PCA_SHARDS=target/demo-data/s3/s3vec-demo-vector-docs/debian/shards`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3vec::client::pca2;
use s3vec::format::{Dtype, decode_shard};
use std::hint::black_box;
use std::time::Duration;

/// Leading axes the data spreads along; beyond them, a little isotropic noise.
const AXES: usize = 32;

/// Row-major rows: `n` points `Σᵢ sᵢ·zᵢ·bᵢ + noise` for [`AXES`] random directions `b` and
/// roughly normal `z` (the sum of four uniforms).
fn falling_spectrum(n: usize, dims: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    // Random directions in 256 or more dims are close enough to orthogonal for a benchmark.
    let scale = (12.0 / dims as f32).sqrt();
    let basis: Vec<f32> = (0..AXES * dims).map(|_| uniform() * scale).collect();
    let mut rows: Vec<f32> = (0..n * dims).map(|_| 0.02 * uniform()).collect();
    for row in rows.chunks_mut(dims) {
        for (i, axis) in basis.chunks(dims).enumerate() {
            let z = (0..4).map(|_| uniform()).sum::<f32>() / (1.0 + 0.05 * i as f32);
            row.iter_mut().zip(axis).for_each(|(x, &a)| *x += z * a);
        }
    }
    rows
}

fn shards_from_env() -> Option<(Vec<f32>, usize)> {
    let dir = std::env::var_os("S3VEC_PCA_SHARDS")?;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("S3VEC_PCA_SHARDS: not a readable directory")
        .map(|e| e.expect("S3VEC_PCA_SHARDS: unreadable entry").path())
        .collect();
    paths.sort();
    let (mut rows, mut dims) = (Vec::new(), 0);
    for path in paths {
        let bytes = std::fs::read(&path).expect("S3VEC_PCA_SHARDS: unreadable shard");
        let shard = decode_shard(&bytes).expect("S3VEC_PCA_SHARDS: not an s3vec shard");
        assert_eq!(shard.dtype, Dtype::F32, "S3VEC_PCA_SHARDS: f32 shards only");
        dims = shard.dims as usize;
        rows.extend(
            shard
                .vectors
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    Some((rows, dims))
}

fn map(c: &mut Criterion) {
    let mut g = c.benchmark_group("pca2");
    g.sample_size(10);
    let mut sets: Vec<(String, Vec<f32>, usize)> = [(3000, 256), (20_000, 1024), (100_000, 1024)]
        .into_iter()
        .map(|(n, dims)| (format!("{n}x{dims}"), falling_spectrum(n, dims), dims))
        .collect();
    if let Some((rows, dims)) = shards_from_env() {
        sets.push((format!("shards/{}x{dims}", rows.len() / dims), rows, dims));
    }
    for (name, rows, dims) in &sets {
        let refs: Vec<&[f32]> = rows.chunks(*dims).collect();
        let explained = pca2(&refs, *dims).explained;
        println!("pca2/{name}: the two axes explain {explained:?} of the variance");
        g.throughput(Throughput::Bytes(4 * rows.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(pca2(black_box(&refs), *dims)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    targets = map
}
criterion_main!(benches);
