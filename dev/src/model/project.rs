//! From the model's 384 dimensions to the ones Titan answers with.
//!
//! - 512, 1024 (Titan V2) and 1536 (Titan V1): the vector followed by zeros. An exact isometry:
//!   lengths, dot products and cosines are those of the 384-dimensional vector.
//! - 256 (Titan V2): no exact answer exists. The vector is projected onto the 256 directions that
//!   carry the most of the embeddings' energy (the top eigenvectors of their uncentred second
//!   moment, so inner products, not variances around a mean, are what is kept), fitted offline by
//!   `cargo run --release -p s3vec-dev --example fit_pca` on a generic English corpus and shipped
//!   as `pca256.bin`. The loss is measured by the `bedrock_model` tests and recorded in
//!   docs/BENCHMARKS.md; it is far smaller than keeping the first 256 dimensions.

use super::MODEL_DIMENSIONS;
use std::sync::OnceLock;

pub const PCA_DIMENSIONS: usize = 256;

/// 256 rows of 384 little-endian f32: orthonormal directions, most energetic first.
const PCA_BYTES: &[u8] = include_bytes!("pca256.bin");
const _: () = assert!(PCA_BYTES.len() == PCA_DIMENSIONS * MODEL_DIMENSIONS * 4);

fn pca_matrix() -> &'static [f32] {
    static MATRIX: OnceLock<Vec<f32>> = OnceLock::new();
    MATRIX.get_or_init(|| decode_matrix(PCA_BYTES))
}

/// `v` (of [`MODEL_DIMENSIONS`]) in `dims` dimensions: zero-padded for `dims` ≥ 384, the shipped
/// projection for 256, `None` otherwise. Not normalised: project a unit vector and normalise
/// again for unit output (projection shortens vectors a little).
pub fn to_dimensions(v: &[f32], dims: usize) -> Option<Vec<f32>> {
    debug_assert_eq!(v.len(), MODEL_DIMENSIONS);
    if dims >= MODEL_DIMENSIONS {
        let mut out = v.to_vec();
        out.resize(dims, 0.0);
        Some(out)
    } else if dims == PCA_DIMENSIONS {
        Some(project(pca_matrix(), v))
    } else {
        None
    }
}

/// `matrix` (rows of `v.len()` values) times `v`.
pub fn project(matrix: &[f32], v: &[f32]) -> Vec<f32> {
    matrix
        .chunks_exact(v.len())
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

/// The first `dims` values: the naive way to shorten an embedding, kept as the baseline the
/// projection is measured against.
pub fn truncate(v: &[f32], dims: usize) -> Vec<f32> {
    v[..dims.min(v.len())].to_vec()
}

/// Titan's binary embedding: one 0/1 per dimension, 1 where the float value is positive.
pub fn binary(v: &[f32]) -> Vec<u8> {
    v.iter().map(|&x| u8::from(x > 0.0)).collect()
}

/// Row-major little-endian f32s, as `pca256.bin` stores them.
pub fn encode_matrix(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode_matrix(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The shipped projection (256 rows of 384), for tools and tests.
pub fn pca_rows() -> &'static [f32] {
    pca_matrix()
}
