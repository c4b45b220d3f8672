//! Scalar references. Deliberately plain: every SIMD kernel is property-tested against these.

/// `acc += a · x`, element by element (a multiply, then an add, each rounded).
pub fn add_scaled(acc: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(acc.len(), x.len(), "add_scaled: lengths differ");
    for (s, &v) in acc.iter_mut().zip(x) {
        *s += a * v;
    }
}

/// Dot product of two equally long `f32` slices, summed in `f64` so the reference is more
/// accurate than any kernel it checks.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot_f32: lengths differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum::<f64>() as f32
}

/// Exact integer dot product of two equally long `i8` slices.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len(), "dot_i8: lengths differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Number of differing bits between two equally long packed bit vectors.
pub fn hamming_distance(a: &[u8], b: &[u8]) -> u32 {
    assert_eq!(a.len(), b.len(), "hamming_distance: lengths differ");
    a.iter().zip(b).map(|(&x, &y)| (x ^ y).count_ones()).sum()
}

/// [`crate::rank::quantize::quantize_i8`] as its definition reads: `round(v[i] / scale)` with
/// `scale = max|v| / 127`, rounding half away from zero.
pub fn quantize_i8(v: &[f32], codes: &mut [i8]) -> f32 {
    assert_eq!(v.len(), codes.len(), "quantize_i8: lengths differ");
    let max_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max_abs == 0.0 || !max_abs.is_finite() {
        codes.fill(0);
        return 0.0;
    }
    let inv = 127.0 / max_abs;
    for (c, &x) in codes.iter_mut().zip(v) {
        *c = (x * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max_abs / 127.0
}

/// [`crate::rank::quantize::pack_binary`] a bit at a time: bit `7 - i % 8` of byte `i / 8` is
/// set when `v[i] > 0`.
pub fn pack_binary(v: &[f32], out: &mut [u8]) {
    assert_eq!(
        out.len(),
        v.len().div_ceil(8),
        "pack_binary: wrong output length"
    );
    out.fill(0);
    for (i, &x) in v.iter().enumerate() {
        if x > 0.0 {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
}

/// L2 norm summed in `f64` in order, one element after the other.
pub fn l2_norm(v: &[f32]) -> f32 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt() as f32
}
