//! Scalar references. Deliberately plain: every SIMD kernel is property-tested against these.

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
