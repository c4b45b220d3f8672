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
    // Four named accumulators, not an array walked by an inner loop: at opt-level "s" that loop
    // is not unrolled and the array lived in linear memory, stored and reloaded every step.
    //
    // Each step takes half a block (16 lanes) into acc0/acc1, then rotates the pairs, so lanes
    // 0..16 of every block still go to acc0/acc1 and lanes 16..32 to acc2/acc3, in block order:
    // the sum is bit-identical to a full block per step. But a step has 8 loads live instead of
    // 16; V8 schedules all of a block's loads before its arithmetic, and with 16 loads plus 8
    // `v128` accumulators it spilled to the stack on every step.
    let mut acc0 = f32x8::ZERO;
    let mut acc1 = f32x8::ZERO;
    let mut acc2 = f32x8::ZERO;
    let mut acc3 = f32x8::ZERO;
    let (a_blocks, a_rest) = a.as_chunks::<{ LANES * UNROLL }>();
    let (b_blocks, b_rest) = b.as_chunks::<{ LANES * UNROLL }>();
    let (a_halves, _) = a_blocks.as_flattened().as_chunks::<{ 2 * LANES }>();
    let (b_halves, _) = b_blocks.as_flattened().as_chunks::<{ 2 * LANES }>();
    for (ah, bh) in a_halves.iter().zip(b_halves) {
        let n0 = load(ah, 0).mul_add(load(bh, 0), acc0);
        let n1 = load(ah, LANES).mul_add(load(bh, LANES), acc1);
        acc0 = acc2;
        acc1 = acc3;
        acc2 = n0;
        acc3 = n1;
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
