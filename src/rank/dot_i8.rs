//! `i8` dot product: documents stay `i8`, the query is widened to `i16` once per search, so the
//! inner loop is one widen and one `i32x4.dot_i16x8_s` (`pmaddwd`) per 8 lanes.
//!
//! Natively this is `wide` (SSE2, or AVX2 with `-C target-cpu`). On wasm32 it is written with
//! `core::arch::wasm32`: `wide` has no simd128 path for widening `i8` lanes to `i16`
//! (`i16x16::from_i8x16`) and falls back to sixteen scalar loads and lane inserts per 16 codes,
//! which made the `int8` scan slower than the `f32` one. `i16x8.extend_{low,high}_i8x16_s` widen
//! in two instructions. Both paths compute the same exact integer sum.

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
    let (d_lanes, d_tail) = doc.as_chunks::<LANES>();
    let (q_lanes, q_tail) = query.as_chunks::<LANES>();
    let tail: i32 = d_tail
        .iter()
        .zip(q_tail)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    simd::dot_lanes(d_lanes, q_lanes) + tail
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::LANES;
    use core::arch::wasm32::{
        i16x8_extend_high_i8x16, i16x8_extend_low_i8x16, i32x4_add, i32x4_dot_i16x8,
        i32x4_extract_lane, i32x4_splat, v128, v128_load,
    };

    /// Sum over whole 16-lane blocks, two blocks per step when it can (stored rows are padded
    /// to 32 codes): half the loop overhead, which is a third of the work at 16 codes a step.
    /// Four accumulators, one per half block.
    #[inline(always)]
    pub fn dot_lanes(doc: &[[i8; LANES]], query: &[[i16; LANES]]) -> i32 {
        let (mut acc0, mut acc1, mut acc2, mut acc3) = (
            i32x4_splat(0),
            i32x4_splat(0),
            i32x4_splat(0),
            i32x4_splat(0),
        );
        let (d_pairs, d_rest) = doc.as_chunks::<2>();
        let (q_pairs, q_rest) = query.as_chunks::<2>();
        for (d, q) in d_pairs.iter().zip(q_pairs) {
            (acc0, acc1) = block((acc0, acc1), &d[0], &q[0]);
            (acc2, acc3) = block((acc2, acc3), &d[1], &q[1]);
        }
        for (d, q) in d_rest.iter().zip(q_rest) {
            (acc0, acc1) = block((acc0, acc1), d, q);
        }
        let s = i32x4_add(i32x4_add(acc0, acc1), i32x4_add(acc2, acc3));
        i32x4_extract_lane::<0>(s)
            .wrapping_add(i32x4_extract_lane::<1>(s))
            .wrapping_add(i32x4_extract_lane::<2>(s))
            .wrapping_add(i32x4_extract_lane::<3>(s))
    }

    /// One 16-code block into a pair of accumulators: low and high eight codes widened to
    /// `i16`, multiplied with the query and summed pairwise into `i32` lanes.
    #[inline(always)]
    fn block(acc: (v128, v128), d: &[i8; LANES], q: &[i16; LANES]) -> (v128, v128) {
        let d = load_i8(d);
        (
            i32x4_add(
                acc.0,
                i32x4_dot_i16x8(i16x8_extend_low_i8x16(d), load_i16(q, 0)),
            ),
            i32x4_add(
                acc.1,
                i32x4_dot_i16x8(i16x8_extend_high_i8x16(d), load_i16(q, 8)),
            ),
        )
    }

    /// Sixteen codes in one `v128.load`. (Building the vector lane by lane from the array, the
    /// safe way, compiles to sixteen `v128.load8_lane`s.)
    #[inline(always)]
    fn load_i8(s: &[i8; LANES]) -> v128 {
        // SAFETY: `s` is 16 readable bytes; `v128_load` has no alignment requirement.
        unsafe { v128_load(s.as_ptr().cast::<v128>()) }
    }

    /// Eight widened query values from `s[at..at + 8]`.
    #[inline(always)]
    fn load_i16(s: &[i16; LANES], at: usize) -> v128 {
        let lanes: &[i16; 8] = s[at..at + 8].try_into().expect("8 lanes");
        // SAFETY: `lanes` is 16 readable bytes; `v128_load` has no alignment requirement.
        unsafe { v128_load(lanes.as_ptr().cast::<v128>()) }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    use super::LANES;
    use wide::{i8x16, i16x16, i32x8};

    /// Sum over whole 16-lane blocks, two blocks per step into two accumulators.
    #[inline(always)]
    pub fn dot_lanes(doc: &[[i8; LANES]], query: &[[i16; LANES]]) -> i32 {
        let mut acc0 = i32x8::ZERO;
        let mut acc1 = i32x8::ZERO;
        let (d_pairs, d_rest) = doc.as_chunks::<2>();
        let (q_pairs, q_rest) = query.as_chunks::<2>();
        for (d, q) in d_pairs.iter().zip(q_pairs) {
            acc0 += widen(&d[0]).dot(i16x16::from(q[0]));
            acc1 += widen(&d[1]).dot(i16x16::from(q[1]));
        }
        for (d, q) in d_rest.iter().zip(q_rest) {
            acc0 += widen(d).dot(i16x16::from(*q));
        }
        (acc0 + acc1).reduce_add()
    }

    #[inline(always)]
    fn widen(s: &[i8; LANES]) -> i16x16 {
        i16x16::from_i8x16(i8x16::from(*s))
    }
}
