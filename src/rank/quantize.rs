//! Conversions between the three vector encodings. Pure functions over slices.

/// Largest `i8` code used: the range is symmetric so that `-x` quantizes to `-q`.
pub const I8_MAX_CODE: f32 = 127.0;

/// Symmetric per-vector quantization: `codes[i] = round(v[i] / scale)`, `scale = max|v| / 127`.
/// Returns the scale; `v[i] ≈ codes[i] · scale`. A zero vector gets scale 0.0 and all-zero codes.
pub fn quantize_i8(v: &[f32], codes: &mut [i8]) -> f32 {
    debug_assert_eq!(v.len(), codes.len());
    let (blocks, tail) = v.as_chunks::<BLOCK>();
    let max_abs = tail
        .iter()
        .fold(simd::max_abs(blocks), |m, x| larger(m, x.abs()));
    if max_abs == 0.0 || !max_abs.is_finite() {
        codes.fill(0);
        return 0.0;
    }
    let inv = I8_MAX_CODE / max_abs;
    let (code_blocks, code_tail) = codes.as_chunks_mut::<BLOCK>();
    simd::codes(blocks, inv, code_blocks);
    for (c, &x) in code_tail.iter_mut().zip(tail) {
        *c = round_to_code(x * inv);
    }
    max_abs / I8_MAX_CODE
}

/// Values per step of the block kernels below: one `v128` of `i8` codes.
const BLOCK: usize = 16;

/// `x.round().clamp(-127.0, 127.0) as i8` for |x| ≤ 128, without `round`: that is a libm call
/// per element on baseline x86-64 (no SSE4.1) and a software routine on wasm32 (wasm's
/// `f32.nearest` rounds half to even, `round` half away from zero), and it made quantizing the
/// slowest step of loading a collection. The truncation is one instruction on both, the
/// fraction is exact (|x| < 2²³), and the comparisons with ±0.5 give the same ties as `round`.
/// NaN gives 0, as `round` and `as` do.
#[inline(always)]
fn round_to_code(x: f32) -> i8 {
    let t = x as i32;
    let frac = x - t as f32;
    let r = t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5);
    r.clamp(-(I8_MAX_CODE as i32), I8_MAX_CODE as i32) as i8
}

/// The larger of a running maximum and `x`, ignoring NaN in `x` as `f32::max` does. Not
/// `f32::max` itself: on wasm32 that is a call to `fmaxf` (wasm's `f32.max` returns NaN for a
/// NaN operand), while a compare and select is what `f32x4.pmax` does.
#[inline(always)]
fn larger(m: f32, x: f32) -> f32 {
    if m < x { x } else { m }
}

/// `v[i] = codes[i] · scale`.
pub fn dequantize_i8(codes: &[i8], scale: f32, v: &mut [f32]) {
    debug_assert_eq!(v.len(), codes.len());
    for (x, &c) in v.iter_mut().zip(codes) {
        *x = f32::from(c) * scale;
    }
}

/// Bytes needed for `dims` bits.
pub const fn binary_len(dims: usize) -> usize {
    dims.div_ceil(8)
}

/// Sign bits packed most significant bit first (dimension 0 is bit 7 of byte 0, as numpy's
/// `packbits`): bit set when the component is strictly positive. Unused trailing bits are 0.
pub fn pack_binary(v: &[f32], out: &mut [u8]) {
    debug_assert_eq!(out.len(), binary_len(v.len()));
    let (blocks, tail) = v.as_chunks::<BLOCK>();
    let (head, byte_tail) = out.split_at_mut(blocks.len() * 2);
    simd::pack(blocks, head.as_chunks_mut::<2>().0);
    for (byte, chunk) in byte_tail.iter_mut().zip(tail.chunks(8)) {
        *byte = pack_byte(chunk);
    }
}

/// Up to 8 components into one byte, first component in the top bit; without branches, since a
/// branch per component mispredicts on about half of a real embedding's signs.
#[inline(always)]
fn pack_byte(chunk: &[f32]) -> u8 {
    chunk
        .iter()
        .enumerate()
        .fold(0u8, |b, (j, &x)| b | (u8::from(x > 0.0) << (7 - j)))
}

/// Bits (as Titan's `embeddingsByType.binary` gives them, one 0/1 per dimension) packed the same
/// way as [`pack_binary`]. Any non-zero value counts as 1.
pub fn pack_bits<T: Copy + PartialEq + Default>(bits: &[T], out: &mut [u8]) {
    debug_assert_eq!(out.len(), binary_len(bits.len()));
    out.fill(0);
    for (i, &b) in bits.iter().enumerate() {
        if b != T::default() {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
}

/// The ±1 vector a packed bit vector stands for, scaled to unit length: `v.len()` components
/// from `words`, the packed bytes as the collection stores them (little-endian `u64`s,
/// [`bytes_to_words`](super::binary::bytes_to_words)). Writes into `v`, so a pass over many
/// rows allocates nothing.
pub fn unpack_binary(words: &[u64], v: &mut [f32]) {
    debug_assert!(words.len() * 64 >= v.len());
    let unit = 1.0 / (v.len() as f32).sqrt();
    for (chunk, word) in v.chunks_mut(64).zip(words) {
        let bytes = word.to_le_bytes();
        for (i, x) in chunk.iter_mut().enumerate() {
            let set = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
            *x = if set { unit } else { -unit };
        }
    }
}

/// L2 norm, accumulated in `f64` (in four lanes; see `simd::sum_squares`).
pub fn l2_norm(v: &[f32]) -> f32 {
    let (quads, tail) = v.as_chunks::<4>();
    let tail: f64 = tail.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (simd::sum_squares(quads) + tail).sqrt() as f32
}

/// Scales `v` to unit length in place. A zero vector is left as it is (see the module docs of
/// [`crate::rank`]); returns the norm it had.
pub fn normalize(v: &mut [f32]) -> f32 {
    let norm = l2_norm(v);
    if norm > 0.0 && norm.is_finite() {
        let inv = 1.0 / norm;
        let (quads, tail) = v.as_chunks_mut::<4>();
        simd::scale(quads, inv);
        tail.iter_mut().for_each(|x| *x *= inv);
    }
    norm
}

/// The block kernels of [`quantize_i8`], [`pack_binary`], [`l2_norm`] and [`normalize`]: whole
/// blocks of 16 (or 4) components; the callers do the tail. On wasm32 written with
/// `core::arch::wasm32`, because the release profile's opt-level "s" leaves the portable loops
/// scalar there (one `i32.trunc_sat_f32_s` and a store per code); natively the portable loops.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{BLOCK, I8_MAX_CODE, larger};
    use core::arch::wasm32::{
        f32x4_abs, f32x4_convert_i32x4, f32x4_extract_lane, f32x4_ge, f32x4_gt, f32x4_le,
        f32x4_mul, f32x4_pmax, f32x4_splat, f32x4_sub, f64x2_add, f64x2_extract_lane, f64x2_mul,
        f64x2_promote_low_f32x4, f64x2_splat, i8x16_bitmask, i8x16_narrow_i16x8, i8x16_shuffle,
        i16x8_narrow_i32x4, i32x4_add, i32x4_max, i32x4_min, i32x4_shuffle, i32x4_splat, i32x4_sub,
        i32x4_trunc_sat_f32x4, v128, v128_load, v128_store,
    };

    /// Four components from `b[at..at + 4]`.
    #[inline(always)]
    fn load(b: &[f32; BLOCK], at: usize) -> v128 {
        let lanes: &[f32; 4] = b[at..at + 4].try_into().expect("4 lanes");
        // SAFETY: `lanes` is 16 readable bytes; `v128_load` has no alignment requirement.
        unsafe { v128_load(lanes.as_ptr().cast::<v128>()) }
    }

    /// Sixteen `i32x4` lanes (all in i8 range, or masks of 0 / -1) narrowed to sixteen bytes.
    #[inline(always)]
    fn narrow(a: v128, b: v128, c: v128, d: v128) -> v128 {
        i8x16_narrow_i16x8(i16x8_narrow_i32x4(a, b), i16x8_narrow_i32x4(c, d))
    }

    pub fn max_abs(blocks: &[[f32; BLOCK]]) -> f32 {
        let zero = f32x4_splat(0.0);
        let (mut m0, mut m1, mut m2, mut m3) = (zero, zero, zero, zero);
        for b in blocks {
            // pmax(m, x) is `m < x ? x : m`: a NaN in x is ignored, as in `larger`.
            m0 = f32x4_pmax(m0, f32x4_abs(load(b, 0)));
            m1 = f32x4_pmax(m1, f32x4_abs(load(b, 4)));
            m2 = f32x4_pmax(m2, f32x4_abs(load(b, 8)));
            m3 = f32x4_pmax(m3, f32x4_abs(load(b, 12)));
        }
        let m = f32x4_pmax(f32x4_pmax(m0, m1), f32x4_pmax(m2, m3));
        larger(
            larger(f32x4_extract_lane::<0>(m), f32x4_extract_lane::<1>(m)),
            larger(f32x4_extract_lane::<2>(m), f32x4_extract_lane::<3>(m)),
        )
    }

    /// `round_to_code(x * inv)` for every component, lane-wise.
    pub fn codes(blocks: &[[f32; BLOCK]], inv: f32, out: &mut [[i8; BLOCK]]) {
        let inv = f32x4_splat(inv);
        let (half, minus_half) = (f32x4_splat(0.5), f32x4_splat(-0.5));
        let limit = I8_MAX_CODE as i32;
        let (lo, hi) = (i32x4_splat(-limit), i32x4_splat(limit));
        let code = |b: &[f32; BLOCK], at: usize| {
            let x = f32x4_mul(load(b, at), inv);
            let t = i32x4_trunc_sat_f32x4(x);
            let frac = f32x4_sub(x, f32x4_convert_i32x4(t));
            // Comparison masks are -1 where true: subtracting one adds 1.
            let r = i32x4_add(
                i32x4_sub(t, f32x4_ge(frac, half)),
                f32x4_le(frac, minus_half),
            );
            i32x4_max(i32x4_min(r, hi), lo)
        };
        for (b, o) in blocks.iter().zip(out) {
            let bytes = narrow(code(b, 0), code(b, 4), code(b, 8), code(b, 12));
            // SAFETY: `o` is 16 writable bytes; `v128_store` has no alignment requirement.
            unsafe { v128_store(o.as_mut_ptr().cast::<v128>(), bytes) }
        }
    }

    /// Σx² in f64 over four lanes (lane j sums components 4i + j), combined as
    /// `(lane 0 + lane 1) + (lane 2 + lane 3)`: the same order as the portable version, so both
    /// give the same bits.
    pub fn sum_squares(quads: &[[f32; 4]]) -> f64 {
        let (mut low, mut high) = (f64x2_splat(0.0), f64x2_splat(0.0));
        for q in quads {
            // SAFETY: `q` is 16 readable bytes; `v128_load` has no alignment requirement.
            let x = unsafe { v128_load(q.as_ptr().cast::<v128>()) };
            let (a, b) = (
                f64x2_promote_low_f32x4(x),
                f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 0, 1>(x, x)),
            );
            low = f64x2_add(low, f64x2_mul(a, a));
            high = f64x2_add(high, f64x2_mul(b, b));
        }
        (f64x2_extract_lane::<0>(low) + f64x2_extract_lane::<1>(low))
            + (f64x2_extract_lane::<0>(high) + f64x2_extract_lane::<1>(high))
    }

    pub fn scale(quads: &mut [[f32; 4]], factor: f32) {
        let factor = f32x4_splat(factor);
        for q in quads {
            let p = q.as_mut_ptr().cast::<v128>();
            // SAFETY: `q` is 16 readable and writable bytes; no alignment is required.
            unsafe { v128_store(p, f32x4_mul(v128_load(p), factor)) }
        }
    }

    /// Sign bits of 16 components into two bytes, first component in the top bit.
    pub fn pack(blocks: &[[f32; BLOCK]], out: &mut [[u8; 2]]) {
        let zero = f32x4_splat(0.0);
        for (b, o) in blocks.iter().zip(out) {
            let positive = |at| f32x4_gt(load(b, at), zero);
            let masks = narrow(positive(0), positive(4), positive(8), positive(12));
            // `bitmask` puts lane 0 in bit 0; reversing each half first puts it in bit 7.
            let reversed =
                i8x16_shuffle::<7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8>(masks, masks);
            let bits = i8x16_bitmask(reversed);
            *o = [bits as u8, (bits >> 8) as u8];
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    use super::{BLOCK, larger, pack_byte, round_to_code};

    pub fn max_abs(blocks: &[[f32; BLOCK]]) -> f32 {
        // Independent lanes: one running maximum is a chain of dependent compares.
        let mut lanes = [0.0f32; BLOCK];
        for b in blocks {
            for (m, x) in lanes.iter_mut().zip(b) {
                *m = larger(*m, x.abs());
            }
        }
        lanes.iter().fold(0.0, |m, &x| larger(m, x))
    }

    pub fn codes(blocks: &[[f32; BLOCK]], inv: f32, out: &mut [[i8; BLOCK]]) {
        for (b, o) in blocks.iter().zip(out) {
            for (c, &x) in o.iter_mut().zip(b) {
                *c = round_to_code(x * inv);
            }
        }
    }

    pub fn pack(blocks: &[[f32; BLOCK]], out: &mut [[u8; 2]]) {
        for (b, o) in blocks.iter().zip(out) {
            *o = [pack_byte(&b[..8]), pack_byte(&b[8..])];
        }
    }

    /// Four independent f64 sums: one running sum is a chain of dependent additions, and at
    /// f64's precision the order of the additions does not show in the `f32` norm.
    pub fn sum_squares(quads: &[[f32; 4]]) -> f64 {
        let mut sums = [0.0f64; 4];
        for q in quads {
            for (s, &x) in sums.iter_mut().zip(q) {
                *s += f64::from(x) * f64::from(x);
            }
        }
        (sums[0] + sums[1]) + (sums[2] + sums[3])
    }

    pub fn scale(quads: &mut [[f32; 4]], factor: f32) {
        quads.iter_mut().flatten().for_each(|x| *x *= factor);
    }
}
