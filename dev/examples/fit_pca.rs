//! Fits the 384 → 256 projection that the Bedrock service uses for `dimensions: 256`, and writes
//! it to `dev/src/model/pca256.bin`.
//!
//! ```text
//! python3 dev/scripts/pca-corpus.py > /tmp/corpus.txt
//! cargo run --release -p s3vec-dev --example fit_pca -- /tmp/corpus.txt [OUT]
//! ```
//!
//! Every text of the corpus (one per line) is embedded and L2-normalised; the projection's rows
//! are the 256 top eigenvectors of the uncentred second moment `E[x xᵀ]` (so that inner
//! products, which cosine search uses, are what is kept), found with the cyclic Jacobi method.
//! Each row's sign is fixed (largest component positive) so refits are comparable.

use s3vec_dev::model::pool::single_threaded_kernels;
use s3vec_dev::model::project::{PCA_DIMENSIONS, encode_matrix};
use s3vec_dev::model::{Embedder, MODEL_DIMENSIONS, default_model_dir, ensure_model};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(corpus) = args.first() else {
        eprintln!("usage: fit_pca CORPUS.txt [OUT.bin]");
        std::process::exit(2);
    };
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model/pca256.bin"));
    let texts: Vec<String> = std::fs::read_to_string(corpus)
        .expect("reading the corpus")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    eprintln!("{} texts", texts.len());

    single_threaded_kernels();
    let dir = default_model_dir();
    ensure_model(&dir).expect("fetching the model");
    let embedder = Arc::new(Embedder::load(&dir).expect("loading the model"));

    // Embed on one thread per core, in batches of texts of similar length.
    let started = Instant::now();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let batches: Vec<Vec<usize>> = order.chunks(16).map(<[usize]>::to_vec).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let vectors: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (embedder, texts, batches) = (&embedder, &texts, &batches);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for batch in batches.iter().skip(t).step_by(threads) {
                        let refs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
                        let embedded = embedder.embed(&refs).expect("embedding");
                        out.extend(embedded.iter().map(|e| e.normalized()));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an embedding thread panicked"))
            .collect()
    });
    eprintln!("embedded in {:.1} s", started.elapsed().as_secs_f64());

    // Second moment, in f64.
    let n = MODEL_DIMENSIONS;
    let mut m = vec![0f64; n * n];
    for v in &vectors {
        for i in 0..n {
            let vi = f64::from(v[i]);
            for j in i..n {
                m[i * n + j] += vi * f64::from(v[j]);
            }
        }
    }
    for i in 0..n {
        for j in i..n {
            m[i * n + j] /= vectors.len() as f64;
            m[j * n + i] = m[i * n + j];
        }
    }
    let (values, vecs) = jacobi_eigen(m.clone(), n);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let total: f64 = values.iter().sum();
    let kept: f64 = idx[..PCA_DIMENSIONS].iter().map(|&i| values[i]).sum();
    let first: f64 = (0..PCA_DIMENSIONS).map(|i| m[i * n + i]).sum();
    eprintln!(
        "energy kept: top-{PCA_DIMENSIONS} eigenvectors {:.4}, first {PCA_DIMENSIONS} coordinates {:.4}",
        kept / total,
        first / total
    );

    let mut rows = Vec::with_capacity(PCA_DIMENSIONS * n);
    for &e in &idx[..PCA_DIMENSIONS] {
        let mut row: Vec<f64> = (0..n).map(|k| vecs[k * n + e]).collect();
        let largest = row
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if largest < 0.0 {
            row.iter_mut().for_each(|x| *x = -*x);
        }
        // Check: M row = λ row, and unit length.
        let residual: f64 = (0..n)
            .map(|i| {
                let mv: f64 = (0..n).map(|j| m[i * n + j] * row[j]).sum();
                (mv - values[e] * row[i]).powi(2)
            })
            .sum::<f64>()
            .sqrt();
        let norm: f64 = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            residual < 1e-9 && (norm - 1.0).abs() < 1e-9,
            "eigenvector check failed"
        );
        rows.extend(row.iter().map(|&x| x as f32));
    }
    std::fs::write(&out, encode_matrix(&rows)).expect("writing the projection");
    eprintln!("wrote {}", out.display());
}

/// Eigenvalues and eigenvectors (the columns of the second result, row-major) of a symmetric
/// `n × n` matrix, by cyclic Jacobi rotations.
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum();
    for sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off <= 1e-26 * scale {
            eprintln!("Jacobi converged after {sweep} sweeps");
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}
