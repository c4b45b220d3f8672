//! `acc += a · x` over `f32` slices: `wide` natively, `core::arch::wasm32` simd128 on wasm32.
//!
//! The collection map (`client::pca`) spends its time here and in [`dot_f32`](super::dot_f32).
//! The release profile is opt-level "s", at which rustc leaves LLVM's loop vectoriser off, so
//! the plain loop stays scalar in the shipped wasm: the 100k × 1024 map took 415 to 543 ms in
//! node with plain loops, 199 to 323 ms with this kernel (162 ms natively; docs/BENCHMARKS.md).
//! Multiply, then add, as the scalar reference does (no fused multiply-add): every lane rounds
//! exactly as [`scalar::add_scaled`](super::scalar::add_scaled).

/// Floats per loop step: 64 bytes, one cache line, of each operand.
const BLOCK: usize = 16;

/// Adds `a · x` to `acc`, element by element.
///
/// Panics if the lengths differ: callers pass vectors of one collection's dims.
#[inline]
pub fn add_scaled(acc: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(acc.len(), x.len(), "add_scaled: lengths differ");
    let (acc_blocks, acc_rest) = acc.as_chunks_mut::<BLOCK>();
    let (x_blocks, x_rest) = x.as_chunks::<BLOCK>();
    simd::add_scaled_blocks(acc_blocks, a, x_blocks);
    acc_rest
        .iter_mut()
        .zip(x_rest)
        .for_each(|(s, &v)| *s += a * v);
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::BLOCK;
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_store};

    #[inline(always)]
    pub fn add_scaled_blocks(acc: &mut [[f32; BLOCK]], a: f32, x: &[[f32; BLOCK]]) {
        let a = f32x4_splat(a);
        for (s, v) in acc.iter_mut().zip(x) {
            let (s, v) = (s.as_mut_ptr(), v.as_ptr());
            // SAFETY: `s` and `v` each point at 16 floats (`s` writable), and every access
            // touches four of them at a constant offset of at most 12. Written out: at
            // opt-level "s" a loop over the offsets is not unrolled.
            unsafe {
                step(s, v, a, 0);
                step(s, v, a, 4);
                step(s, v, a, 8);
                step(s, v, a, 12);
            }
        }
    }

    #[inline(always)]
    unsafe fn step(s: *mut f32, v: *const f32, a: v128, at: usize) {
        // SAFETY: the caller guarantees `s[at..at + 4]` is writable and `v[at..at + 4]` readable.
        unsafe {
            let s = s.add(at).cast::<v128>();
            let product = f32x4_mul(a, v128_load(v.add(at).cast::<v128>()));
            v128_store(s, f32x4_add(v128_load(s), product));
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    use super::BLOCK;
    use wide::f32x8;

    #[inline(always)]
    pub fn add_scaled_blocks(acc: &mut [[f32; BLOCK]], a: f32, x: &[[f32; BLOCK]]) {
        let a = f32x8::splat(a);
        for (s, v) in acc.iter_mut().zip(x) {
            for at in [0, 8] {
                let sum = load(s, at) + a * load(v, at);
                s[at..at + 8].copy_from_slice(&sum.to_array());
            }
        }
    }

    #[inline(always)]
    fn load(s: &[f32; BLOCK], at: usize) -> f32x8 {
        let mut lanes = [0.0f32; 8];
        lanes.copy_from_slice(&s[at..at + 8]);
        f32x8::from(lanes)
    }
}
