//! `f32` dot product with `wide`: simd128 on wasm32, SSE2 (or AVX with `-C target-cpu`) natively.

use wide::f32x8;

const LANES: usize = 8;
/// Four independent accumulators hide the add latency; the scan is then limited by memory
/// bandwidth rather than by the dependency chain.
const UNROLL: usize = 4;

/// Dot product of two equally long slices; equals the cosine similarity for unit vectors.
///
/// Panics if the lengths differ: callers (the collection) check dimensions once, up front.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot_f32: lengths differ");
    let block = LANES * UNROLL;
    let mut acc = [f32x8::ZERO; UNROLL];
    let mut a_blocks = a.chunks_exact(block);
    let mut b_blocks = b.chunks_exact(block);
    for (ab, bb) in (&mut a_blocks).zip(&mut b_blocks) {
        for (u, acc) in acc.iter_mut().enumerate() {
            let x = load(&ab[u * LANES..]);
            let y = load(&bb[u * LANES..]);
            *acc = x.mul_add(y, *acc);
        }
    }
    let mut a_lanes = a_blocks.remainder().chunks_exact(LANES);
    let mut b_lanes = b_blocks.remainder().chunks_exact(LANES);
    for (al, bl) in (&mut a_lanes).zip(&mut b_lanes) {
        acc[0] = load(al).mul_add(load(bl), acc[0]);
    }
    let tail: f32 = a_lanes
        .remainder()
        .iter()
        .zip(b_lanes.remainder())
        .map(|(x, y)| x * y)
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add() + tail
}

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    let mut lanes = [0.0f32; LANES];
    lanes.copy_from_slice(&s[..LANES]);
    f32x8::from(lanes)
}
