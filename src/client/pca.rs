//! A 2-D map of the documents in memory: their first two principal components (PCA), for a
//! page that draws the collection and lights up a query and its hits.
//!
//! Subspace iteration on two vectors, never forming the `dims × dims` covariance: each round
//! is one pass over the rows (`Xcᵀ·Xc·V`, with the centring folded in so the rows are not
//! copied), then Gram-Schmidt. It stops when both axes turn by less than about 1° in a round
//! (a map does not need more), or after [`MAX_ROUNDS`]. Deterministic: a fixed starting basis, and each axis's largest
//! entry made positive, so the same collection gets the same map on every load.

use crate::rank::dot_f32;

/// The map: `points` are `x0, y0, x1, y1, …` in the order of the rows given.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca2 {
    pub points: Vec<f32>,
    /// The mean the rows were centred on (`dims`).
    pub mean: Vec<f32>,
    /// The two axes, unit length, row-major (`2 × dims`).
    pub components: Vec<f32>,
    /// The share of the total variance each axis explains.
    pub explained: [f32; 2],
}

pub const MAX_ROUNDS: usize = 50;

/// The first two principal components of `rows` (each `dims` long).
pub fn pca2(rows: &[&[f32]], dims: usize) -> Pca2 {
    let n = rows.len();
    let mut mean = vec![0.0f64; dims];
    let mut sum_sq = 0.0f64;
    for r in rows {
        for (m, &x) in mean.iter_mut().zip(r.iter()) {
            *m += f64::from(x);
        }
        sum_sq += r.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
    }
    let inv = if n > 0 { 1.0 / n as f64 } else { 0.0 };
    let mean: Vec<f32> = mean.iter().map(|m| (m * inv) as f32).collect();
    let mean_sq: f64 = mean.iter().map(|&m| f64::from(m) * f64::from(m)).sum();
    let total = (sum_sq * inv - mean_sq).max(0.0);

    let mut axes = start(dims);
    let mut variance = [0.0f64; 2];
    for _ in 0..MAX_ROUNDS {
        let (next, var) = round(rows, &mean, &axes);
        variance = var;
        let Some(next) = orthonormal(next) else {
            break; // no variance left to find
        };
        let moved = (0..2).any(|i| dot_f32(&next[i], &axes[i]).abs() < 1.0 - 1e-4);
        axes = next;
        if !moved {
            break;
        }
    }
    for axis in &mut axes {
        let biggest = axis
            .iter()
            .copied()
            .fold(0.0f32, |b, x| if x.abs() > b.abs() { x } else { b });
        if biggest < 0.0 {
            axis.iter_mut().for_each(|x| *x = -*x);
        }
    }
    let offsets = [dot_f32(&mean, &axes[0]), dot_f32(&mean, &axes[1])];
    let points = rows
        .iter()
        .flat_map(|r| {
            [
                dot_f32(r, &axes[0]) - offsets[0],
                dot_f32(r, &axes[1]) - offsets[1],
            ]
        })
        .collect();
    let share = |v: f64| {
        if total > 0.0 {
            (v * inv / total) as f32
        } else {
            0.0
        }
    };
    Pca2 {
        points,
        mean,
        components: axes.concat(),
        explained: [share(variance[0]), share(variance[1])],
    }
}

/// A fixed, spread-out starting basis (not aligned with any coordinate axis).
fn start(dims: usize) -> [Vec<f32>; 2] {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let a: Vec<f32> = (0..dims).map(|_| next()).collect();
    let b: Vec<f32> = (0..dims).map(|_| next()).collect();
    orthonormal([a, b]).unwrap_or_else(|| [vec![0.0; dims], vec![0.0; dims]])
}

/// `Xcᵀ·Xc·v` for both axes, and `‖Xc·v‖²` (the variance along each, times n).
fn round(rows: &[&[f32]], mean: &[f32], axes: &[Vec<f32>; 2]) -> ([Vec<f32>; 2], [f64; 2]) {
    let dims = mean.len();
    let shift = [dot_f32(mean, &axes[0]), dot_f32(mean, &axes[1])];
    let mut acc = [vec![0.0f32; dims], vec![0.0f32; dims]];
    let mut weights = [0.0f64; 2];
    let mut variance = [0.0f64; 2];
    for r in rows {
        for i in 0..2 {
            let a = dot_f32(r, &axes[i]) - shift[i];
            weights[i] += f64::from(a);
            variance[i] += f64::from(a) * f64::from(a);
            acc[i]
                .iter_mut()
                .zip(r.iter())
                .for_each(|(s, &x)| *s += a * x);
        }
    }
    for i in 0..2 {
        let w = weights[i] as f32;
        acc[i].iter_mut().zip(mean).for_each(|(s, &m)| *s -= w * m);
    }
    (acc, variance)
}

/// Gram-Schmidt; `None` when the first vector is zero. A zero second vector stays zero.
fn orthonormal([mut a, mut b]: [Vec<f32>; 2]) -> Option<[Vec<f32>; 2]> {
    let na = dot_f32(&a, &a).sqrt();
    if na == 0.0 || !na.is_finite() {
        return None;
    }
    a.iter_mut().for_each(|x| *x /= na);
    let p = dot_f32(&a, &b);
    b.iter_mut().zip(&a).for_each(|(y, &x)| *y -= p * x);
    let nb = dot_f32(&b, &b).sqrt();
    if nb > 0.0 && nb.is_finite() {
        b.iter_mut().for_each(|x| *x /= nb);
    } else {
        b.iter_mut().for_each(|x| *x = 0.0);
    }
    Some([a, b])
}

#[cfg(test)]
mod tests {
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
    }
}
