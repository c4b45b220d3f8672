//! `f32` dot product: `wide` natively (SSE2, or AVX with `-C target-cpu`), `core::arch::wasm32`
//! simd128 on wasm32.
//!
//! The exact scan over resident vectors is memory-bound, but V8 runs more instructions per byte
//! than native code, which leaves fewer loads in flight; so the wasm32 loop is written for the
//! fewest instructions and no spills (checked in V8's output, `node --print-wasm-code`):
//! - four `v128` accumulators (`wide`'s `f32x8` is two `v128`s each);
//! - 64 bytes of each operand per step: V8 hoists all of a step's loads above its arithmetic,
//!   and at 128 bytes the 16 loads plus 4 accumulators outnumbered the 15 usable `xmm`
//!   registers, spilling 5 of them every step (64-byte steps measured 10 % faster at 100k rows);
//! - raw-pointer loads at constant offsets, which `wasm-opt --low-memory-unused` folds into
//!   `v128.load offset=N` (see scripts/build-pkg.sh), so V8 emits no address add per load.
//!
//! Stored rows are padded to a multiple of 32 floats, so the collection never takes the scalar
//! tail; other callers with other lengths sum the last `len % 16` products one by one.

/// Floats per loop step: 64 bytes, one cache line, of each operand.
const BLOCK: usize = 16;

/// Dot product of two equally long slices; equals the cosine similarity for unit vectors.
///
/// Panics if the lengths differ: callers (the collection) check dimensions once, up front.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot_f32: lengths differ");
    let (a_blocks, a_rest) = a.as_chunks::<BLOCK>();
    let (b_blocks, b_rest) = b.as_chunks::<BLOCK>();
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    simd::dot_blocks(a_blocks, b_blocks) + tail
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::BLOCK;
    use core::arch::wasm32::{
        f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128, v128_load,
    };

    /// Four accumulators, one product each per step: enough independent adds that the loads,
    /// not the add latency, bound the loop.
    #[inline(always)]
    pub fn dot_blocks(a: &[[f32; BLOCK]], b: &[[f32; BLOCK]]) -> f32 {
        // Named accumulators and written-out steps: at opt-level "s" a loop over an array of
        // accumulators is not unrolled, and the array then lives in linear memory.
        let (mut acc0, mut acc1, mut acc2, mut acc3) = (zero(), zero(), zero(), zero());
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (x.as_ptr(), y.as_ptr());
            // SAFETY: `x` and `y` each point at 16 readable floats, and every load reads four
            // of them at a constant offset of at most 12.
            unsafe {
                acc0 = f32x4_add(acc0, f32x4_mul(load(x, 0), load(y, 0)));
                acc1 = f32x4_add(acc1, f32x4_mul(load(x, 4), load(y, 4)));
                acc2 = f32x4_add(acc2, f32x4_mul(load(x, 8), load(y, 8)));
                acc3 = f32x4_add(acc3, f32x4_mul(load(x, 12), load(y, 12)));
            }
        }
        let s = f32x4_add(f32x4_add(acc0, acc1), f32x4_add(acc2, acc3));
        (f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s))
            + (f32x4_extract_lane::<2>(s) + f32x4_extract_lane::<3>(s))
    }

    #[inline(always)]
    fn zero() -> v128 {
        f32x4_splat(0.0)
    }

    #[inline(always)]
    unsafe fn load(p: *const f32, at: usize) -> v128 {
        // SAFETY: the caller guarantees `p[at..at + 4]` is readable.
        unsafe { v128_load(p.add(at).cast::<v128>()) }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    use super::BLOCK;
    use wide::f32x8;

    /// Two `f32x8` accumulators (four SSE registers, two AVX ones), written out for the same
    /// reason as on wasm32.
    #[inline(always)]
    pub fn dot_blocks(a: &[[f32; BLOCK]], b: &[[f32; BLOCK]]) -> f32 {
        let (mut acc0, mut acc1) = (f32x8::ZERO, f32x8::ZERO);
        for (x, y) in a.iter().zip(b) {
            acc0 = load(x, 0).mul_add(load(y, 0), acc0);
            acc1 = load(x, 8).mul_add(load(y, 8), acc1);
        }
        (acc0 + acc1).reduce_add()
    }

    #[inline(always)]
    fn load(s: &[f32; BLOCK], at: usize) -> f32x8 {
        let mut lanes = [0.0f32; 8];
        lanes.copy_from_slice(&s[at..at + 8]);
        f32x8::from(lanes)
    }
}
