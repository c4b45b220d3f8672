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
    // The accumulators are four named variables rather than an array walked by an inner loop:
    // at opt-level "s" that loop is not unrolled, so the array lived in linear memory and every
    // step of the scan loaded, added and stored it again (a store-to-load chain per block).
    let mut acc0 = f32x8::ZERO;
    let mut acc1 = f32x8::ZERO;
    let mut acc2 = f32x8::ZERO;
    let mut acc3 = f32x8::ZERO;
    let (a_blocks, a_rest) = a.as_chunks::<{ LANES * UNROLL }>();
    let (b_blocks, b_rest) = b.as_chunks::<{ LANES * UNROLL }>();
    for (ab, bb) in a_blocks.iter().zip(b_blocks) {
        acc0 = load(ab, 0).mul_add(load(bb, 0), acc0);
        acc1 = load(ab, LANES).mul_add(load(bb, LANES), acc1);
        acc2 = load(ab, 2 * LANES).mul_add(load(bb, 2 * LANES), acc2);
        acc3 = load(ab, 3 * LANES).mul_add(load(bb, 3 * LANES), acc3);
    }
    let (a_lanes, a_tail) = a_rest.as_chunks::<LANES>();
    let (b_lanes, b_tail) = b_rest.as_chunks::<LANES>();
    for (al, bl) in a_lanes.iter().zip(b_lanes) {
        acc0 = load(al, 0).mul_add(load(bl, 0), acc0);
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    ((acc0 + acc1) + (acc2 + acc3)).reduce_add() + tail
}

/// Eight lanes from a fixed-size block at a constant offset: no bounds check survives.
#[inline(always)]
fn load<const N: usize>(s: &[f32; N], at: usize) -> f32x8 {
    let mut lanes = [0.0f32; LANES];
    lanes.copy_from_slice(&s[at..at + LANES]);
    f32x8::from(lanes)
}
