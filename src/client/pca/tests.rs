//! The map against covariances formed whole, on data with known spreads.

use super::eigen::symmetric_eigen;
use super::*;

#[test]
fn finds_the_two_directions_of_largest_spread() {
    // Points spread 10 along (1,1,0,0)/√2, 3 along z, 0.1 along w.
    let mut rows = Vec::new();
    for i in 0..200 {
        let t = (i as f32 / 199.0 - 0.5) * 2.0;
        let s = ((i * 7919) % 200) as f32 / 199.0 - 0.5;
        let u = ((i * 104_729) % 200) as f32 / 199.0 - 0.5;
        let a = 10.0 * t / 2f32.sqrt();
        rows.push(vec![a + 1.0, a + 1.0, 3.0 * s, 0.1 * u]);
    }
    let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let p = pca2(&refs, 4);
    let c0 = &p.components[..4];
    let c1 = &p.components[4..];
    assert!(
        (c0[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3
            && (c0[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3,
        "{c0:?}"
    );
    assert!((c1[2].abs() - 1.0).abs() < 1e-3, "{c1:?}");
    assert!(
        p.explained[0] > 0.9 && p.explained[1] > 0.01,
        "{:?}",
        p.explained
    );
    assert!(p.explained[0] + p.explained[1] <= 1.0 + 1e-5);
    assert!((p.mean[0] - 1.0).abs() < 1e-4);
    // The first point is at t = -1 on the first axis: x = -10 (scaled spread).
    assert!((p.points[0] + 10.0).abs() < 1e-2, "{}", p.points[0]);
    assert_eq!(p.points.len(), 400);
    assert_eq!(pca2(&refs, 4), p, "deterministic");
}

#[test]
fn degenerate_inputs_give_a_map_of_zeros() {
    let one = [1.0f32, 0.0, 0.0];
    let p = pca2(&[&one], 3);
    assert_eq!(p.points, [0.0, 0.0]);
    assert_eq!(p.explained, [0.0, 0.0]);
    let p = pca2(&[], 3);
    assert!(p.points.is_empty());
    // One dimension: one axis, and a second of zeros.
    let rows: [&[f32]; 3] = [&[1.0], &[2.0], &[3.0]];
    let p = pca2(&rows, 1);
    assert_eq!(p.components, [1.0, 0.0]);
    assert_eq!(p.points, [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(p.explained, [1.0, 0.0]);
}

#[test]
fn a_flat_spectrum_still_gives_two_orthonormal_axes() {
    // No direction stands out, so the plane never settles: every round runs, and the basis
    // restarts from its best vectors when full.
    let rows = rotated_rows(2000, [1.0; 64]);
    let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let p = pca2(&refs, 64);
    let (a, b) = p.components.split_at(64);
    assert!((dot_f32(a, a) - 1.0).abs() < 1e-4 && (dot_f32(b, b) - 1.0).abs() < 1e-4);
    assert!(dot_f32(a, b).abs() < 1e-4);
    assert!(
        p.explained[0] >= p.explained[1] && p.explained[1] > 0.0,
        "{:?}",
        p.explained
    );
    assert!(p.explained[0] < 0.1, "{:?}", p.explained);
    assert_eq!(pca2(&refs, 64), p, "deterministic");
    // Fitted on 50 of the rows, the sample's first axis spreads all the rows less than its
    // second here; the map puts the axis that spreads them most first.
    let sampled = pca2_fitted_on(&refs[..], 64, 50);
    assert!(
        sampled.explained[0] >= sampled.explained[1],
        "{:?}",
        sampled.explained
    );
    let mut scratch = vec![0.0; 64];
    let sample = spread(&refs[..], 50, &mut scratch);
    let sample: Vec<&[f32]> = sample.chunks_exact(64).collect();
    let own = fit_axes(&sample, &sampled.mean);
    let cos = dot_f32(&own[0], &sampled.components[64..]).abs();
    assert!(
        (cos - 1.0).abs() < 1e-4,
        "the sample's first axis is the map's second: {cos}"
    );
}

/// `n` rows of `DIMS` dims with the given spread along each axis of a rotated basis.
fn rotated_rows<const DIMS: usize>(n: usize, spread: [f32; DIMS]) -> Vec<Vec<f32>> {
    let mut uniform = uniform(0x2545_f491_4f6c_dd1d);
    let basis: Vec<Vec<f32>> = (0..DIMS)
        .map(|_| (0..DIMS).map(|_| uniform()).collect())
        .collect();
    let basis = orthonormal_block(basis, &[]);
    (0..n)
        .map(|_| {
            let mut row = vec![0.5f32; DIMS];
            for (axis, s) in basis.iter().zip(spread) {
                // Roughly normal: the sum of four uniforms.
                let z = s * (0..4).map(|_| uniform()).sum::<f32>();
                row.iter_mut().zip(axis).for_each(|(x, &a)| *x += z * a);
            }
            row
        })
        .collect()
}

/// The leading two eigenvectors and eigenvalues of the rows' covariance, formed whole.
fn exact_leading_two<const DIMS: usize>(rows: &[Vec<f32>]) -> ([[f64; DIMS]; 2], [f64; 2], f64) {
    let n = rows.len() as f64;
    let mean: [f64; DIMS] =
        std::array::from_fn(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n);
    let cov: [[f64; DIMS]; DIMS] = std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            rows.iter()
                .map(|r| (f64::from(r[i]) - mean[i]) * (f64::from(r[j]) - mean[j]))
                .sum::<f64>()
                / n
        })
    });
    let trace: f64 = (0..DIMS).map(|i| cov[i][i]).sum();
    let (values, vectors) = symmetric_eigen(cov.concat(), DIMS);
    let mut order: Vec<usize> = (0..DIMS).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let top = |k: usize| std::array::from_fn(|r| vectors[r * DIMS + order[k]]);
    (
        [top(0), top(1)],
        [values[order[0]], values[order[1]]],
        trace,
    )
}

/// The largest `sin²` of the angle between an axis of `p` and the plane of `plane`.
fn off_plane<const DIMS: usize>(p: &Pca2, plane: &[[f64; DIMS]; 2]) -> f64 {
    p.components
        .chunks(DIMS)
        .map(|axis| {
            let inside: f64 = plane
                .iter()
                .map(|e| {
                    e.iter()
                        .zip(axis)
                        .map(|(a, &b)| a * f64::from(b))
                        .sum::<f64>()
                        .powi(2)
                })
                .sum();
            1.0 - inside
        })
        .fold(0.0, f64::max)
}

#[test]
fn finds_the_true_plane_when_the_leading_eigenvalues_are_close() {
    // As in text embeddings: a slowly falling spectrum, the third axis within 6 % of the
    // second, where iterating on two vectors settles slowly and in the wrong plane.
    let spread = std::array::from_fn::<f32, 24, _>(|i| 1.0 / (1.0 + 0.06 * i as f32));
    let rows = rotated_rows(4000, spread);
    let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let p = pca2(&refs, 24);
    let (plane, values, trace) = exact_leading_two::<24>(&rows);
    let off = off_plane(&p, &plane);
    assert!(
        off < 3e-4,
        "an axis is {:.2}° off the true plane",
        off.sqrt().asin().to_degrees()
    );
    for (got, want) in p.explained.iter().zip(values) {
        assert!(
            (f64::from(*got) - want / trace).abs() < 2e-3,
            "{:?} vs {values:?} / {trace}",
            p.explained
        );
    }
}

#[test]
fn fits_on_a_spread_sample_and_places_every_row() {
    let rows = rotated_rows(3000, [9.0, 4.0, 1.0, 0.5, 0.2, 0.1]);
    let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
    let sampled = pca2_fitted_on(&refs[..], 6, 300);
    let whole = pca2_fitted_on(&refs[..], 6, usize::MAX);
    assert_eq!(sampled.points.len(), 6000);
    let (plane, _, _) = exact_leading_two::<6>(&rows);
    assert!(off_plane(&whole, &plane) < 1e-4);
    let off = off_plane(&sampled, &plane);
    assert!(
        off < 3e-3,
        "the sample's plane is {:.2}° off",
        off.sqrt().asin().to_degrees()
    );
    assert_eq!(sampled.mean, whole.mean, "the mean is over every row");
    let shown = |p: &Pca2| p.explained[0] + p.explained[1];
    assert!(
        shown(&sampled) > 0.99 * shown(&whole),
        "{:?} vs {:?}",
        sampled.explained,
        whole.explained
    );
    // Every row's place is its centred projection on the axes.
    let last = &rows[2999];
    let x: f32 = last
        .iter()
        .zip(&sampled.mean)
        .zip(&sampled.components[..6])
        .map(|((v, m), a)| (v - m) * a)
        .sum();
    assert!(
        (sampled.points[5998] - x).abs() < 1e-3,
        "{} vs {x}",
        sampled.points[5998]
    );
}

#[test]
fn binary_rows_unpacked_one_at_a_time_give_the_map_of_the_unpacked_vectors() {
    use crate::format::{Document, Shard, ShardVectors, decode_shard, encode_shard};
    // 70 dims: a partial last word; sign bits from rows with a clear main direction.
    let dims: usize = 70;
    let rows = rotated_rows(
        500,
        std::array::from_fn::<f32, 70, _>(|i| 1.0 / (1.0 + i as f32)),
    );
    let mut bits = Vec::new();
    for r in &rows {
        let mut packed = vec![0u8; dims.div_ceil(8)];
        // rotated_rows centres its rows on 0.5 in every dim; the signs need them at 0.
        let centred: Vec<f32> = r.iter().map(|x| x - 0.5).collect();
        crate::rank::quantize::pack_binary(&centred, &mut packed);
        bits.extend(packed);
    }
    let docs = (0..rows.len())
        .map(|i| Document {
            id: format!("d{i}"),
            ..Document::default()
        })
        .collect();
    let shard = Shard {
        dims: dims as u32,
        vectors: ShardVectors::Binary(bits),
        docs,
    };
    let bytes = encode_shard(&shard).expect("a valid shard");
    let mut collection = Collection::new();
    collection
        .add_shard(&decode_shard(&bytes).expect("decodes"))
        .expect("adds");
    let ids: Vec<String> = collection.ids().map(str::to_string).collect();

    let one_at_a_time = pca2_of_rows(&BinaryRows::new(&collection, &ids), dims);
    let unpacked: Vec<Vec<f32>> = ids
        .iter()
        .map(|id| collection.unpacked_binary(id).expect("present"))
        .collect();
    let refs: Vec<&[f32]> = unpacked.iter().map(Vec::as_slice).collect();
    assert_eq!(one_at_a_time, pca2(&refs, dims));
    assert!(
        unpacked.iter().all(|v| (dot_f32(v, v) - 1.0).abs() < 1e-5),
        "unit ±1 vectors"
    );
    assert!(
        one_at_a_time.explained[0] > 0.1,
        "{:?}",
        one_at_a_time.explained
    );
}
