//! Every SIMD kernel against its scalar reference, natively and under wasm (node and Chromium).

mod common;

use common::{DIMS, Rng};
use s3vec::rank::quantize::{binary_len, pack_binary, quantize_i8};
use s3vec::rank::select::{Ties, smallest};
use s3vec::rank::topk::Scored;
use s3vec::rank::{TopK, add_scaled, binary, dot_f32, dot_i8, hamming_distance, scalar};
use wasm_bindgen_test::wasm_bindgen_test;

fn words(bytes: &[u8]) -> Vec<u64> {
    let mut w = vec![0u64; bytes.len().div_ceil(8)];
    binary::bytes_to_words(bytes, &mut w);
    w
}

#[wasm_bindgen_test(unsupported = test)]
fn dot_f32_matches_scalar_at_every_dimension() {
    let mut rng = Rng::new(1);
    for dims in DIMS {
        for _ in 0..20 {
            let a = rng.vec_f32(dims);
            let b = rng.vec_f32(dims);
            let (got, want) = (dot_f32(&a, &b), scalar::dot_f32(&a, &b));
            // Different summation orders: bound the error by the magnitude summed.
            let bound = 1e-5 * a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum::<f32>() + 1e-6;
            assert!(
                (got - want).abs() <= bound,
                "dims {dims}: simd {got} vs scalar {want}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn add_scaled_matches_scalar_exactly() {
    let mut rng = Rng::new(11);
    for dims in DIMS {
        for a in [0.0, 1.0, -0.37, 1e-30, f32::MAX] {
            let x = rng.vec_f32(dims);
            let start = rng.vec_f32(dims);
            let (mut got, mut want) = (start.clone(), start);
            add_scaled(&mut got, a, &x);
            scalar::add_scaled(&mut want, a, &x);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "dims {dims}, a {a}");
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn dot_i8_matches_scalar_exactly_including_extremes() {
    let mut rng = Rng::new(2);
    for dims in DIMS {
        for case in 0..20 {
            let (a, b) = match case {
                0 => (vec![127i8; dims], vec![127i8; dims]),
                1 => (vec![-127i8; dims], vec![127i8; dims]),
                _ => (rng.vec_i8(dims), rng.vec_i8(dims)),
            };
            let wide = s3vec::rank::dot_i8::widen_query(&b);
            assert_eq!(
                dot_i8(&a, &wide),
                scalar::dot_i8(&a, &b),
                "dims {dims} case {case}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn hamming_matches_scalar_exactly() {
    let mut rng = Rng::new(3);
    for dims in DIMS {
        let n = binary_len(dims);
        for _ in 0..20 {
            let mut a = vec![0u8; n];
            let mut b = vec![0u8; n];
            pack_binary(&rng.vec_f32(dims), &mut a);
            pack_binary(&rng.vec_f32(dims), &mut b);
            assert_eq!(
                hamming_distance(&words(&a), &words(&b)),
                scalar::hamming_distance(&a, &b),
                "dims {dims}"
            );
        }
        let ones = {
            let mut v = vec![0u8; n];
            pack_binary(&vec![1.0; dims], &mut v);
            v
        };
        assert_eq!(
            hamming_distance(&words(&ones), &words(&vec![0u8; n])),
            dims as u32,
            "all bits differ at {dims}"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn quantized_dot_approximates_float_dot() {
    let mut rng = Rng::new(4);
    for dims in DIMS {
        let mut a = rng.vec_f32(dims);
        let mut b = rng.vec_f32(dims);
        s3vec::rank::quantize::normalize(&mut a);
        s3vec::rank::quantize::normalize(&mut b);
        let (mut qa, mut qb) = (vec![0i8; dims], vec![0i8; dims]);
        let (sa, sb) = (quantize_i8(&a, &mut qa), quantize_i8(&b, &mut qb));
        let approx = scalar::dot_i8(&qa, &qb) as f32 * sa * sb;
        let exact = scalar::dot_f32(&a, &b);
        // Each code is off by at most half a step (scale / 2) per component.
        let bound = 0.5 * (sa + sb) * (dims as f32).sqrt() + 1e-6;
        assert!(
            (approx - exact).abs() <= bound,
            "dims {dims}: {approx} vs {exact} (bound {bound})"
        );
    }
}

/// Values that land exactly on, and one step beside, the rounding ties once scaled: with
/// max|v| = 127 the scale is 1, so each value is its own scaled value.
fn rounding_edges() -> Vec<f32> {
    let mut v = vec![
        127.0f32,
        -127.0,
        0.0,
        -0.0,
        f32::NAN,
        126.5,
        -126.5,
        127.0 - 1e-5,
    ];
    for k in 0..127 {
        let tie = k as f32 + 0.5;
        for x in [tie, tie.next_down(), tie.next_up()] {
            v.extend([x, -x]);
        }
    }
    v
}

#[wasm_bindgen_test(unsupported = test)]
fn quantize_i8_matches_scalar_exactly_including_ties() {
    let mut rng = Rng::new(5);
    let mut inputs: Vec<Vec<f32>> = vec![rounding_edges()];
    for dims in DIMS {
        inputs.push(rng.vec_f32(dims));
        let mut unit = rng.vec_f32(dims);
        s3vec::rank::quantize::normalize(&mut unit);
        inputs.push(unit);
    }
    for v in inputs {
        let (mut got, mut want) = (vec![0i8; v.len()], vec![0i8; v.len()]);
        let (sg, sw) = (
            quantize_i8(&v, &mut got),
            scalar::quantize_i8(&v, &mut want),
        );
        assert_eq!(sg.to_bits(), sw.to_bits(), "scale, dims {}", v.len());
        assert_eq!(got, want, "codes, dims {}", v.len());
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn pack_binary_and_l2_norm_match_scalar() {
    let mut rng = Rng::new(6);
    let mut inputs: Vec<Vec<f32>> =
        vec![rounding_edges(), vec![0.0, -0.0, f32::NAN, 1e-40, -1e-40]];
    inputs.extend(DIMS.iter().map(|&dims| rng.vec_f32(dims)));
    for v in inputs {
        let (mut got, mut want) = (
            vec![0u8; binary_len(v.len())],
            vec![0u8; binary_len(v.len())],
        );
        pack_binary(&v, &mut got);
        scalar::pack_binary(&v, &mut want);
        assert_eq!(got, want, "dims {}", v.len());
        let finite: Vec<f32> = v
            .iter()
            .map(|x| if x.is_nan() { 1.0 } else { *x })
            .collect();
        let (n, r) = (
            s3vec::rank::quantize::l2_norm(&finite),
            scalar::l2_norm(&finite),
        );
        // Summed in f64 in another order: equal, or one f32 step apart at worst.
        assert!(
            (n - r).abs() <= r * f32::EPSILON,
            "dims {}: {n} vs {r}",
            v.len()
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn zero_vectors_score_zero_and_quantize_to_zero() {
    for dims in DIMS {
        let zero = vec![0.0f32; dims];
        let one = vec![1.0f32; dims];
        assert_eq!(dot_f32(&zero, &one), 0.0);
        let mut codes = vec![1i8; dims];
        assert_eq!(quantize_i8(&zero, &mut codes), 0.0);
        assert!(codes.iter().all(|&c| c == 0));
        let mut z = zero.clone();
        assert_eq!(s3vec::rank::quantize::normalize(&mut z), 0.0);
        assert_eq!(
            z, zero,
            "normalizing a zero vector leaves it zero, never NaN"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn distances_match_scalar_hamming_row_by_row() {
    let mut rng = Rng::new(5);
    // DIMS plus the other word counts the kernel writes out (256, 512, 768 dimensions).
    for dims in DIMS.into_iter().chain([256, 512, 768]) {
        let n = binary_len(dims);
        let rows: Vec<Vec<u8>> = (0..37)
            .map(|_| {
                let mut r = vec![0u8; n];
                pack_binary(&rng.vec_f32(dims), &mut r);
                r
            })
            .collect();
        let mut query = vec![0u8; n];
        pack_binary(&rng.vec_f32(dims), &mut query);
        let store: Vec<u64> = rows.iter().flat_map(|r| words(r)).collect();
        let mut out = vec![0u32; rows.len()];
        binary::distances(&store, &words(&query), &mut out);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                out[i],
                scalar::hamming_distance(r, &query),
                "dims {dims} row {i}"
            );
        }
    }
}

/// `TopK` keeps what a sort keeps, and its threshold is the gate the scans use: minus infinity
/// until `k` are kept, then exactly the worst kept score, so offering only scores at or above
/// it loses nothing.
#[wasm_bindgen_test(unsupported = test)]
fn topk_keeps_what_a_sort_keeps_behind_its_threshold() {
    let mut rng = Rng::new(9);
    let by_row = |a: u32, b: u32| a.cmp(&b);
    for n in [1usize, 5, 40, 1000] {
        // Few distinct scores, so ties at the cut-off are common.
        let scores: Vec<f32> = (0..n).map(|_| rng.below(30) as f32 / 8.0).collect();
        for k in [1usize, 3, 10, 40] {
            let mut top = TopK::new(k);
            for (row, &score) in scores.iter().enumerate() {
                let threshold = top.threshold();
                if row < k {
                    assert_eq!(threshold, f32::NEG_INFINITY, "n {n} k {k}: not yet full");
                }
                if score >= threshold {
                    top.push(
                        Scored {
                            score,
                            row: row as u32,
                        },
                        &by_row,
                    );
                }
            }
            let mut want: Vec<(f32, u32)> = scores
                .iter()
                .enumerate()
                .map(|(row, &s)| (s, row as u32))
                .collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            want.truncate(k);
            if n >= k {
                assert_eq!(
                    top.threshold(),
                    want[k - 1].0,
                    "n {n} k {k}: the worst kept"
                );
            }
            let got: Vec<(f32, u32)> = top
                .into_sorted(&by_row)
                .iter()
                .map(|s| (s.score, s.row))
                .collect();
            assert_eq!(got, want, "n {n} k {k}");
        }
    }
}

/// `smallest` by sorting: the `count` first positions in (distance, position) order among those
/// at most `max`, plus, for `Ties::All`, every other position tied with the last one taken.
fn smallest_by_sort(d: &[u32], max: u32, count: usize, ties: Ties) -> Vec<u32> {
    let mut order: Vec<u32> = (0..d.len() as u32)
        .filter(|&i| d[i as usize] <= max)
        .collect();
    order.sort_by_key(|&i| (d[i as usize], i));
    order.truncate(count);
    if ties == Ties::All && order.len() == count && count > 0 {
        let cut = d[order[count - 1] as usize];
        order = (0..d.len() as u32)
            .filter(|&i| d[i as usize] <= cut)
            .collect();
    }
    order.sort_unstable();
    order
}

#[wasm_bindgen_test(unsupported = test)]
fn smallest_picks_what_a_sort_picks_with_ties_and_exclusions() {
    let mut rng = Rng::new(6);
    for len in [0usize, 1, 5, 64, 1000] {
        // Few distinct values, so ties at the cut-off are the rule; some rows excluded.
        let d: Vec<u32> = (0..len)
            .map(|_| match rng.below(10) {
                0 => u32::MAX,
                _ => rng.below(12) as u32,
            })
            .collect();
        for count in [0usize, 1, 3, 10, 100, 2000] {
            for ties in [Ties::FirstPositions, Ties::All] {
                assert_eq!(
                    smallest(&d, 11, count, ties),
                    smallest_by_sort(&d, 11, count, ties),
                    "len {len} count {count} {ties:?}"
                );
            }
        }
    }
}

/// Arrays large enough for `smallest` to estimate its cut-off from a sample, including ones
/// where the sample misjudges: it sees only the large distances (a cut-off too high, which is
/// merely slower) or only the small ones (too low: it must then fall back to the heap and still
/// agree), and ones where most rows are excluded.
#[wasm_bindgen_test(unsupported = test)]
fn smallest_agrees_with_a_sort_on_sampled_sizes() {
    let mut rng = Rng::new(7);
    for len in [4096usize, 10_000, 50_000] {
        let step = len / 1024;
        let shapes: [(&str, Vec<u32>); 5] = [
            // Binary distances of 1024 dimensions: a bell around 512, ties everywhere.
            (
                "bell",
                (0..len)
                    .map(|_| (0..16).map(|_| rng.below(65) as u32).sum())
                    .collect(),
            ),
            // The smallest distances only at positions the sample skips.
            (
                "hidden from the sample",
                (0..len)
                    .map(|i| {
                        if i % step == 0 {
                            900
                        } else {
                            100 + (i % 97) as u32
                        }
                    })
                    .collect(),
            ),
            // The smallest distances only at positions the sample reads.
            (
                "seen only by the sample",
                (0..len)
                    .map(|i| {
                        if i % step == 0 {
                            (i / step % 1024) as u32
                        } else {
                            1000
                        }
                    })
                    .collect(),
            ),
            // Ascending: the sample's low quantiles are the first rows.
            ("ascending", (0..len as u32).collect()),
            // 49 rows in 50 excluded, so a large `count` exceeds the eligible rows.
            (
                "mostly excluded",
                (0..len)
                    .map(|_| match rng.below(50) {
                        0 => rng.below(200) as u32,
                        _ => u32::MAX,
                    })
                    .collect(),
            ),
        ];
        for (shape, d) in &shapes {
            for count in [1usize, 10, 40, 250, 320, 640, 2000] {
                for ties in [Ties::FirstPositions, Ties::All] {
                    assert_eq!(
                        smallest(d, 1024, count, ties),
                        smallest_by_sort(d, 1024, count, ties),
                        "{shape}: len {len} count {count} {ties:?}"
                    );
                }
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn dims() -> impl Strategy<Value = usize> {
        prop_oneof![proptest::sample::select(DIMS.to_vec()), 1usize..2048]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn dot_f32_agrees((a, b) in dims().prop_flat_map(|d| (prop::collection::vec(-1.0f32..1.0, d), prop::collection::vec(-1.0f32..1.0, d)))) {
            let bound = 1e-5 * a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum::<f32>() + 1e-6;
            prop_assert!((dot_f32(&a, &b) - scalar::dot_f32(&a, &b)).abs() <= bound);
        }

        #[test]
        fn add_scaled_agrees((acc, x) in dims().prop_flat_map(|d| (prop::collection::vec(-1.0f32..1.0, d), prop::collection::vec(-1.0f32..1.0, d))), a in -4.0f32..4.0) {
            let (mut got, mut want) = (acc.clone(), acc);
            add_scaled(&mut got, a, &x);
            scalar::add_scaled(&mut want, a, &x);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn dot_i8_agrees((a, b) in dims().prop_flat_map(|d| (prop::collection::vec(-127i8..=127, d), prop::collection::vec(-127i8..=127, d)))) {
            prop_assert_eq!(dot_i8(&a, &s3vec::rank::dot_i8::widen_query(&b)), scalar::dot_i8(&a, &b));
        }

        #[test]
        fn smallest_agrees(d in prop::collection::vec(prop_oneof![0u32..40, Just(u32::MAX)], 0..500), count in 0usize..600, all in any::<bool>()) {
            let ties = if all { Ties::All } else { Ties::FirstPositions };
            prop_assert_eq!(smallest(&d, 39, count, ties), smallest_by_sort(&d, 39, count, ties));
        }

        #[test]
        fn quantize_i8_agrees(v in dims().prop_flat_map(|d| prop::collection::vec(prop_oneof![-1.0f32..1.0, -200.0f32..200.0, Just(0.5f32)], d))) {
            let (mut got, mut want) = (vec![0i8; v.len()], vec![0i8; v.len()]);
            let (sg, sw) = (quantize_i8(&v, &mut got), scalar::quantize_i8(&v, &mut want));
            prop_assert_eq!(sg.to_bits(), sw.to_bits());
            prop_assert_eq!(got, want);
        }

        #[test]
        fn pack_binary_agrees(v in dims().prop_flat_map(|d| prop::collection::vec(prop_oneof![-1.0f32..1.0, Just(0.0f32), Just(-0.0f32)], d))) {
            let (mut got, mut want) = (vec![0u8; binary_len(v.len())], vec![0u8; binary_len(v.len())]);
            pack_binary(&v, &mut got);
            scalar::pack_binary(&v, &mut want);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn hamming_agrees((a, b) in (1usize..300).prop_flat_map(|n| (prop::collection::vec(any::<u8>(), n), prop::collection::vec(any::<u8>(), n)))) {
            prop_assert_eq!(hamming_distance(&words(&a), &words(&b)), scalar::hamming_distance(&a, &b));
        }
    }
}
