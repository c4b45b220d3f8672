//! Hamming distance over packed bit vectors, a word at a time.
//!
//! `u64::count_ones` is one `i64.popcnt` instruction on wasm32 and `popcnt` natively when the
//! target has it, so a 1024-dimension vector costs 16 xor/popcount/add steps: there is nothing
//! left for lane-parallel SIMD to win on wasm, whose `i8x16.popcnt` would need a horizontal sum.

/// Number of differing bits: a *distance*, lower is closer. For ±1 vectors of `dims` dimensions
/// the cosine similarity is `1 - 2 · distance / dims`.
#[inline]
pub fn hamming_distance(a: &[u64], b: &[u64]) -> u32 {
    assert_eq!(a.len(), b.len(), "hamming_distance: lengths differ");
    let mut d0 = 0u32;
    let mut d1 = 0u32;
    let (a_pairs, a_rest) = a.as_chunks::<2>();
    let (b_pairs, b_rest) = b.as_chunks::<2>();
    for (x, y) in a_pairs.iter().zip(b_pairs) {
        d0 += (x[0] ^ y[0]).count_ones();
        d1 += (x[1] ^ y[1]).count_ones();
    }
    // At most one word is left. (A `zip` over the remainders compiled, at opt-level "s", to
    // two out-of-line length calls per vector.)
    let tail = match (a_rest, b_rest) {
        ([x], [y]) => (x ^ y).count_ones(),
        _ => 0,
    };
    d0 + d1 + tail
}

/// Packed bytes (the shard's layout, most significant bit first) as little-endian words, the
/// last one zero-padded. Padding bits are zero in every vector, so they never add distance.
pub fn bytes_to_words(bytes: &[u8], out: &mut [u64]) {
    debug_assert_eq!(out.len(), bytes.len().div_ceil(8));
    for (word, chunk) in out.iter_mut().zip(bytes.chunks(8)) {
        let mut buf = [0u8; 8];
        buf[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_le_bytes(buf);
    }
}
