//! `i8` dot product with `wide`: documents stay `i8`, the query is widened to `i16` once per
//! search, so the inner loop is one widen and one `i32x4.dot_i16x8_s` (`pmaddwd`) per 8 lanes.

use wide::{i8x16, i16x16, i32x8};

const LANES: usize = 16;

/// A query prepared for [`dot_i8`]: its `i8` codes widened to `i16`.
pub fn widen_query(q: &[i8]) -> Vec<i16> {
    q.iter().map(|&x| i16::from(x)).collect()
}

/// Exact integer dot product of `i8` document codes with a widened query.
///
/// Cannot overflow for the vectors this crate produces: |code| ≤ 127, so |sum| ≤ 127² · dims,
/// which fits `i32` up to 133,000 dimensions (the format caps dimensions at 65,536).
#[inline]
pub fn dot_i8(doc: &[i8], query: &[i16]) -> i32 {
    assert_eq!(doc.len(), query.len(), "dot_i8: lengths differ");
    let mut acc0 = i32x8::ZERO;
    let mut acc1 = i32x8::ZERO;
    let mut d_blocks = doc.chunks_exact(2 * LANES);
    let mut q_blocks = query.chunks_exact(2 * LANES);
    for (d, q) in (&mut d_blocks).zip(&mut q_blocks) {
        acc0 += widen(&d[..LANES]).dot(load_i16(&q[..LANES]));
        acc1 += widen(&d[LANES..]).dot(load_i16(&q[LANES..]));
    }
    let mut d_lanes = d_blocks.remainder().chunks_exact(LANES);
    let mut q_lanes = q_blocks.remainder().chunks_exact(LANES);
    for (d, q) in (&mut d_lanes).zip(&mut q_lanes) {
        acc0 += widen(d).dot(load_i16(q));
    }
    let tail: i32 = d_lanes
        .remainder()
        .iter()
        .zip(q_lanes.remainder())
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    (acc0 + acc1).reduce_add() + tail
}

#[inline(always)]
fn widen(s: &[i8]) -> i16x16 {
    let mut lanes = [0i8; LANES];
    lanes.copy_from_slice(&s[..LANES]);
    i16x16::from_i8x16(i8x16::from(lanes))
}

#[inline(always)]
fn load_i16(s: &[i16]) -> i16x16 {
    let mut lanes = [0i16; LANES];
    lanes.copy_from_slice(&s[..LANES]);
    i16x16::from(lanes)
}
