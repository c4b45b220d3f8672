//! Conversions between the three vector encodings. Pure functions over slices.

/// Largest `i8` code used: the range is symmetric so that `-x` quantizes to `-q`.
pub const I8_MAX_CODE: f32 = 127.0;

/// Symmetric per-vector quantization: `codes[i] = round(v[i] / scale)`, `scale = max|v| / 127`.
/// Returns the scale; `v[i] ≈ codes[i] · scale`. A zero vector gets scale 0.0 and all-zero codes.
pub fn quantize_i8(v: &[f32], codes: &mut [i8]) -> f32 {
    debug_assert_eq!(v.len(), codes.len());
    let max_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max_abs == 0.0 || !max_abs.is_finite() {
        codes.fill(0);
        return 0.0;
    }
    let inv = I8_MAX_CODE / max_abs;
    for (c, &x) in codes.iter_mut().zip(v) {
        *c = (x * inv).round().clamp(-I8_MAX_CODE, I8_MAX_CODE) as i8;
    }
    max_abs / I8_MAX_CODE
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
    out.fill(0);
    for (i, &x) in v.iter().enumerate() {
        if x > 0.0 {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
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

/// The ±1 vector a packed bit vector stands for, scaled to unit length.
pub fn unpack_binary(bytes: &[u8], dims: usize, v: &mut [f32]) {
    debug_assert_eq!(v.len(), dims);
    let unit = 1.0 / (dims as f32).sqrt();
    for (i, x) in v.iter_mut().enumerate() {
        let set = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
        *x = if set { unit } else { -unit };
    }
}

/// L2 norm, accumulated in `f64`.
pub fn l2_norm(v: &[f32]) -> f32 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt() as f32
}

/// Scales `v` to unit length in place. A zero vector is left as it is (see the module docs of
/// [`crate::rank`]); returns the norm it had.
pub fn normalize(v: &mut [f32]) -> f32 {
    let norm = l2_norm(v);
    if norm > 0.0 && norm.is_finite() {
        let inv = 1.0 / norm;
        v.iter_mut().for_each(|x| *x *= inv);
    }
    norm
}
