//! A 2-D map of the documents in memory: their first two principal components (PCA), for a
//! page that draws the collection and lights up a query and its hits.
//!
//! Block Krylov iteration with Rayleigh-Ritz, never forming the `dims × dims` covariance `C`:
//! each round is one pass over the rows that multiplies a block of [`BLOCK`] vectors by `C`
//! (`Xcᵀ·Xc·V`, with the centring folded in so no centred copy is made), and the axes are the
//! leading Ritz vectors of everything multiplied so far. It stops when their plane turns by less
//! than about 0.6° in a round (a map needs no more), or after [`MAX_ROUNDS`].
//!
//! Why not plain power iteration on two vectors: on text embeddings the leading eigenvalues
//! are close (the demo's 3,000 Debian packages: 4.1 % and 3.0 % of the variance, with more
//! near 3 %). Two vectors had not settled after 50 rounds there, and their plane was 20° from
//! the true one; this settles in 8 rounds of 4 vectors, within 0.1° (docs/BENCHMARKS.md).
//!
//! The axes are fitted on at most [`FIT_VALUES`] values' worth of rows, spread evenly over the
//! collection (every row up to 8,192 rows of 256 dims, or 2,048 of 1,024), so a large
//! collection costs a bounded fit plus two passes: pages compute the map on their main thread.
//! The mean, every row's place and the explained variance use every row, and the axis that
//! spreads all of them most comes first. Rows are read one at a time ([`Rows`]).
//!
//! Deterministic: a fixed starting block, and each axis's largest entry made positive, so the
//! same collection gets the same map on every load.

mod eigen;
#[cfg(test)]
mod tests;

use crate::index::Collection;
use crate::rank::quantize::{l2_norm, normalize};
use crate::rank::{add_scaled, dot_f32};
use eigen::symmetric_eigen;

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

/// Rounds (passes over the fitted rows) before the axes are taken as they are.
pub const MAX_ROUNDS: usize = 30;
/// Vectors multiplied by the covariance per round.
pub const BLOCK: usize = 4;
/// The most vectors kept for Rayleigh-Ritz before restarting from the best [`BLOCK`].
const MAX_BASIS: usize = 40;
/// The most values (rows × dims) the axes are fitted on.
pub const FIT_VALUES: usize = 1 << 21;
/// The plane has settled when each new axis lies within this `sin²` of the previous plane.
const SETTLED: f64 = 1e-4;

/// The rows a map is made of, read one at a time, so that rows not stored as `f32` (a binary
/// collection's ±1 vectors) are never all unpacked at once: a million 1024-bit rows are 128 MB
/// as bits and would be 4 GB as floats.
pub trait Rows {
    /// How many rows there are.
    fn count(&self) -> usize;
    /// Row `i` (`i < count()`), borrowed from storage or written into `scratch` (`dims` long).
    fn row<'a>(&'a self, i: usize, scratch: &'a mut [f32]) -> &'a [f32];
}

impl Rows for [&[f32]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn row<'a>(&'a self, i: usize, _scratch: &'a mut [f32]) -> &'a [f32] {
        self[i]
    }
}

/// A binary collection's documents as their ±1 vectors, unpacked one at a time.
pub struct BinaryRows<'a> {
    collection: &'a Collection,
    ids: &'a [String],
}

impl<'a> BinaryRows<'a> {
    /// The documents `ids` (each in `collection`) in that order.
    pub fn new(collection: &'a Collection, ids: &'a [String]) -> Self {
        Self { collection, ids }
    }
}

impl Rows for BinaryRows<'_> {
    fn count(&self) -> usize {
        self.ids.len()
    }
    fn row<'a>(&'a self, i: usize, scratch: &'a mut [f32]) -> &'a [f32] {
        // An id that is not there (never, for ids taken from the collection) maps as zeros.
        if !self.collection.unpack_binary_into(&self.ids[i], scratch) {
            scratch.fill(0.0);
        }
        scratch
    }
}

/// The first two principal components of `rows` (each `dims` long).
pub fn pca2(rows: &[&[f32]], dims: usize) -> Pca2 {
    pca2_of_rows(rows, dims)
}

/// [`pca2`] of rows read one at a time.
pub fn pca2_of_rows<R: Rows + ?Sized>(rows: &R, dims: usize) -> Pca2 {
    pca2_fitted_on(rows, dims, FIT_VALUES / dims.max(1))
}

/// [`pca2`] with the axes fitted on at most `fit_rows` rows.
fn pca2_fitted_on<R: Rows + ?Sized>(rows: &R, dims: usize, fit_rows: usize) -> Pca2 {
    let n = rows.count();
    let mut scratch = vec![0.0f32; dims];
    let (mean, total) = moments(rows, &mut scratch);
    let fit = spread(rows, fit_rows.max(BLOCK), &mut scratch);
    let fit: Vec<&[f32]> = fit.chunks_exact(dims.max(1)).collect();
    let mut axes = fit_axes(&fit, &mean);
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
    let mut variance = [0.0f64; 2];
    let mut points = Vec::with_capacity(2 * n);
    for i in 0..n {
        let r = rows.row(i, &mut scratch);
        for k in 0..2 {
            let p = dot_f32(r, &axes[k]) - offsets[k];
            variance[k] += f64::from(p) * f64::from(p);
            points.push(p);
        }
    }
    if variance[1] > variance[0] {
        // Fitted on a sample, the axes come in the sample's order; over every row the second
        // can spread more (when the two are close). The first axis is the one that does.
        axes.swap(0, 1);
        variance.swap(0, 1);
        points.chunks_exact_mut(2).for_each(|xy| xy.swap(0, 1));
    }
    let share = |v: f64| {
        if total > 0.0 {
            (v / n as f64 / total).min(1.0) as f32
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

/// The mean row, and the total variance (the covariance's trace).
fn moments<R: Rows + ?Sized>(rows: &R, scratch: &mut [f32]) -> (Vec<f32>, f64) {
    // Sums of a few hundred rows in f32 (vectorised), carried into f64 between them: as
    // accurate for a mean as summing in f64 throughout, at several times the speed.
    const CARRY_EVERY: usize = 256;
    let n = rows.count();
    let dims = scratch.len();
    let mut sum = vec![0.0f64; dims];
    let mut partial = vec![0.0f32; dims];
    let mut sum_sq = 0.0f64;
    for start in (0..n).step_by(CARRY_EVERY) {
        partial.fill(0.0);
        for i in start..n.min(start + CARRY_EVERY) {
            let r = rows.row(i, scratch);
            add_scaled(&mut partial, 1.0, r);
            sum_sq += f64::from(dot_f32(r, r));
        }
        sum.iter_mut()
            .zip(&partial)
            .for_each(|(s, &p)| *s += f64::from(p));
    }
    let inv = if n == 0 { 0.0 } else { 1.0 / n as f64 };
    let mean: Vec<f32> = sum.iter().map(|s| (s * inv) as f32).collect();
    let mean_sq: f64 = mean.iter().map(|&m| f64::from(m) * f64::from(m)).sum();
    (mean, (sum_sq * inv - mean_sq).max(0.0))
}

/// At most `most` of `rows`, evenly spread and in order, copied one after another: the fit
/// passes over them many times.
fn spread<R: Rows + ?Sized>(rows: &R, most: usize, scratch: &mut [f32]) -> Vec<f32> {
    let n = rows.count();
    let picks = n.min(most);
    let mut out = Vec::with_capacity(picks * scratch.len());
    for k in 0..picks {
        // Every row when there are no more than `most`; else `most` of them, evenly apart.
        let i = if n <= most { k } else { k * n / most };
        out.extend_from_slice(rows.row(i, scratch));
    }
    out
}

/// The two leading principal axes of `rows` centred on `mean`, strongest first.
fn fit_axes(rows: &[&[f32]], mean: &[f32]) -> [Vec<f32>; 2] {
    let dims = mean.len();
    let mut block = orthonormal_block(start(dims), &[]);
    // Orthonormal: every vector multiplied so far; `images` holds `C` times each.
    let mut basis: Vec<Vec<f32>> = Vec::new();
    let mut images: Vec<Vec<f32>> = Vec::new();
    let mut plane: Option<[Vec<f32>; 2]> = None;
    for _ in 0..MAX_ROUNDS {
        if block.is_empty() {
            break; // the basis spans every direction the rows vary in: its Ritz vectors are exact
        }
        let fresh = block.len();
        images.extend(covariance_times(rows, mean, &block));
        basis.append(&mut block);
        let (mut ritz, no_variance) = leading_ritz_vectors(&basis, &images);
        let now = [ritz.remove(0), ritz.remove(0)];
        let settled = no_variance || plane.as_ref().is_some_and(|p| same_plane(p, &now));
        if settled {
            return now;
        }
        block = if basis.len() + BLOCK > MAX_BASIS {
            // Restart from the best directions found: `now`, then the rest of the Ritz vectors.
            basis.clear();
            images.clear();
            now.iter().cloned().chain(ritz).take(BLOCK).collect()
        } else {
            orthonormal_block(images[images.len() - fresh..].to_vec(), &basis)
        };
        plane = Some(now);
    }
    plane.unwrap_or_else(|| [vec![0.0; dims], vec![0.0; dims]])
}

/// Rayleigh-Ritz: the [`BLOCK`] leading Ritz vectors of `basis` (strongest first, fewer when
/// `basis` is smaller), and whether every Ritz value is zero (no variance in its span).
fn leading_ritz_vectors(basis: &[Vec<f32>], images: &[Vec<f32>]) -> (Vec<Vec<f32>>, bool) {
    let m = basis.len();
    // `basisᵀ·C·basis`, symmetrised against rounding.
    let mut projected = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..=i {
            let x = 0.5
                * (f64::from(dot_f32(&basis[i], &images[j]))
                    + f64::from(dot_f32(&basis[j], &images[i])));
            projected[i * m + j] = x;
            projected[j * m + i] = x;
        }
    }
    let (values, vectors) = symmetric_eigen(projected, m);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
    let dims = basis.first().map_or(0, Vec::len);
    let mut ritz = order
        .iter()
        .take(BLOCK)
        .map(|&col| {
            let mut axis = vec![0.0f32; dims];
            for (j, v) in basis.iter().enumerate() {
                let c = vectors[j * m + col] as f32;
                add_scaled(&mut axis, c, v);
            }
            axis
        })
        .collect::<Vec<_>>();
    ritz.resize(ritz.len().max(2), vec![0.0; dims]);
    (ritz, values.iter().all(|&v| v == 0.0))
}

/// A fixed, spread-out starting block (not aligned with any coordinate axis).
fn start(dims: usize) -> Vec<Vec<f32>> {
    let mut next = uniform(0x9e37_79b9_7f4a_7c15);
    (0..BLOCK)
        .map(|_| (0..dims).map(|_| next()).collect())
        .collect()
}

/// A deterministic stream of numbers in [-0.5, 0.5) (xorshift64; `seed` must not be zero).
fn uniform(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// `Xcᵀ·Xc·v` for each vector of `block`: one pass over the rows.
fn covariance_times(rows: &[&[f32]], mean: &[f32], block: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let shift: Vec<f32> = block.iter().map(|v| dot_f32(mean, v)).collect();
    let mut next = vec![vec![0.0f32; mean.len()]; block.len()];
    let mut weights = vec![0.0f64; block.len()];
    for r in rows {
        for (j, v) in block.iter().enumerate() {
            let a = dot_f32(r, v) - shift[j];
            weights[j] += f64::from(a);
            add_scaled(&mut next[j], a, r);
        }
    }
    for (w, n) in weights.iter().zip(&mut next) {
        let w = *w as f32;
        add_scaled(n, -w, mean);
    }
    next
}

/// `block` made orthonormal and orthogonal to `basis` (already orthonormal) by Gram-Schmidt,
/// twice over (once loses orthogonality as the vectors converge and become nearly parallel).
/// Vectors with next to nothing left are dropped.
fn orthonormal_block(mut block: Vec<Vec<f32>>, basis: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut done: Vec<Vec<f32>> = Vec::with_capacity(block.len());
    for mut v in block.drain(..) {
        let before = l2_norm(&v);
        for _ in 0..2 {
            for u in basis.iter().chain(&done) {
                let p = dot_f32(&v, u);
                add_scaled(&mut v, -p, u);
            }
        }
        let norm = normalize(&mut v);
        if norm > 1e-5 * before && norm.is_finite() {
            done.push(v);
        }
    }
    done
}

/// Whether each axis of `now` lies in the plane of `before` (both orthonormal pairs).
fn same_plane(before: &[Vec<f32>; 2], now: &[Vec<f32>; 2]) -> bool {
    now.iter().all(|u| {
        let inside: f64 = before
            .iter()
            .map(|p| f64::from(dot_f32(u, p)).powi(2))
            .sum();
        1.0 - inside < SETTLED
    })
}
