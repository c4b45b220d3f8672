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

/// The Hamming distance of every row of `rows` (consecutive vectors of `query.len()` words) to
/// `query`, written to `out` in row order. One tight loop over the whole store, so a scan pays
/// no per-row call, bounds check or selection work; [`crate::rank::select`] picks from `out`.
///
/// Panics if `query` is empty or `out` is not one slot per row: callers size both from the
/// collection.
pub fn distances(rows: &[u64], query: &[u64], out: &mut [u32]) {
    let n = query.len();
    assert!(n > 0, "distances: empty query");
    assert_eq!(rows.len(), n * out.len(), "distances: one output per row");
    // The common embedding sizes (256, 384, 512, 768, 1024, 1536 dimensions) get straight-line
    // rows with the query words in locals: at opt-level "s" LLVM neither unrolls a constant
    // word loop nor keeps a query array out of linear memory.
    match n {
        4 => fixed!(rows, query, out, [0, 1, 2, 3]),
        6 => fixed!(rows, query, out, [0, 1, 2, 3, 4, 5]),
        8 => fixed!(rows, query, out, [0, 1, 2, 3, 4, 5, 6, 7]),
        12 => fixed!(rows, query, out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        16 => fixed!(
            rows,
            query,
            out,
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
        ),
        24 => fixed!(
            rows,
            query,
            out,
            [
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                23
            ]
        ),
        _ => {
            for (row, d) in rows.chunks_exact(n).zip(out) {
                *d = hamming_distance(row, query);
            }
        }
    }
}

/// One pass of [`distances`] for a word count known at compile time, written out word by word.
macro_rules! fixed {
    ($rows:expr, $query:expr, $out:expr, [$($i:literal),+]) => {{
        const N: usize = [$($i),+].len();
        let (rows, _) = $rows.as_chunks::<N>();
        let (q, _) = $query.as_chunks::<N>();
        let q: [u64; N] = q[0];
        for (row, d) in rows.iter().zip($out) {
            *d = 0 $(+ (row[$i] ^ q[$i]).count_ones())+;
        }
    }};
}
use fixed;

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
