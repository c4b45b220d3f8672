//! Deterministic test data, the same natively and under wasm (no getrandom there).
#![allow(dead_code)]

use s3vec::format::{Document, Shard, ShardVectors};

/// SplitMix64: tiny, seeded, good enough for test vectors.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Approximately standard normal (sum of uniforms), enough for clustered test data.
    pub fn normal(&mut self) -> f32 {
        (0..6).map(|_| self.uniform()).sum::<f32>() / 1.41
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn vec_f32(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }

    pub fn vec_i8(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| (self.below(255) as i32 - 127) as i8)
            .collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// `count` unit vectors in two levels of clusters: `clusters` topics, each made of groups of
    /// about `group` near-duplicates. Real embeddings look like this (a query has a few close
    /// neighbours, then a topic); one level of isotropic clusters does not, and there every
    /// member of a cluster is almost equally near, which no quantization can rank.
    pub fn topics(&mut self, count: usize, dims: usize, clusters: usize, group: usize) -> Vec<f32> {
        let centres: Vec<Vec<f32>> = (0..clusters)
            .map(|_| (0..dims).map(|_| self.normal()).collect())
            .collect();
        let mut out = Vec::with_capacity(count * dims);
        let mut sub: Vec<f32> = Vec::new();
        for i in 0..count {
            if i % group == 0 {
                let c = &centres[self.below(clusters)];
                sub = c.iter().map(|x| x + 0.7 * self.normal()).collect();
            }
            let mut v: Vec<f32> = sub.iter().map(|x| x + 0.3 * self.normal()).collect();
            s3vec::rank::quantize::normalize(&mut v);
            out.extend(v);
        }
        out
    }

    /// `count` unit vectors around `clusters` random centres.
    pub fn clustered(
        &mut self,
        count: usize,
        dims: usize,
        clusters: usize,
        spread: f32,
    ) -> Vec<f32> {
        let centres: Vec<Vec<f32>> = (0..clusters)
            .map(|_| (0..dims).map(|_| self.normal()).collect())
            .collect();
        let mut out = Vec::with_capacity(count * dims);
        for _ in 0..count {
            let c = &centres[self.below(clusters)];
            let mut v: Vec<f32> = c.iter().map(|x| x + spread * self.normal()).collect();
            s3vec::rank::quantize::normalize(&mut v);
            out.extend(v);
        }
        out
    }
}

/// The dimensions every SIMD kernel is checked at: around and between lane widths.
pub const DIMS: [usize; 7] = [1, 3, 127, 384, 1023, 1024, 1536];

/// A shard of `f32` vectors with ids `doc-0`, `doc-1`, … and the given metadata.
pub fn f32_shard(
    dims: usize,
    vectors: Vec<f32>,
    metadata: Vec<Option<serde_json::Value>>,
) -> Shard {
    let docs = metadata
        .into_iter()
        .enumerate()
        .map(|(i, m)| Document {
            id: format!("doc-{i}"),
            metadata: m.and_then(|v| v.as_object().cloned()),
            text: Some(format!("text of document {i}")),
        })
        .collect();
    Shard {
        dims: dims as u32,
        vectors: ShardVectors::F32(vectors),
        docs,
    }
}

/// A shard of `count` documents without metadata.
pub fn plain_shard(dims: usize, vectors: Vec<f32>) -> Shard {
    let count = vectors.len() / dims;
    f32_shard(dims, vectors, vec![None; count])
}

/// Brute-force top-k ids by f64 cosine similarity, ties by id: the oracle for search tests.
pub fn brute_force(
    vectors: &[f32],
    dims: usize,
    ids: &[String],
    query: &[f32],
    k: usize,
) -> Vec<String> {
    let qn = query
        .iter()
        .map(|&x| f64::from(x).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut scored: Vec<(f64, &String)> = vectors
        .chunks_exact(dims)
        .zip(ids)
        .map(|(v, id)| {
            let vn = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            let dot: f64 = v
                .iter()
                .zip(query)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            (if vn == 0.0 { 0.0 } else { dot / (vn * qn) }, id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect()
}
