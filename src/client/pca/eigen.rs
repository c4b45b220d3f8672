//! The eigenpairs of the small symmetric matrices Rayleigh-Ritz makes (at most 40 × 40).

/// Eigenvalues and eigenvectors (columns) of a small symmetric `n × n` matrix (row-major), by
/// cyclic Jacobi rotations.
pub(super) fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..64 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        let scale: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vp, vq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vp - s * vq;
                    v[k * n + q] = s * vp + c * vq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_the_eigenpairs_of_a_known_matrix() {
        // Eigenvalues 5 (z), 3 ((1,1,0)/√2) and 1 ((1,-1,0)/√2).
        let matrix = vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let (values, vectors) = symmetric_eigen(matrix, 3);
        let h = 0.5f64.sqrt();
        for (want, want_vector) in [
            (5.0, [0.0, 0.0, 1.0]),
            (3.0, [h, h, 0.0]),
            (1.0, [h, -h, 0.0]),
        ] {
            let c = (0..3)
                .find(|&c| (values[c] - want).abs() < 1e-12)
                .unwrap_or_else(|| panic!("no eigenvalue {want} in {values:?}"));
            let cos: f64 = (0..3).map(|r| vectors[r * 3 + c] * want_vector[r]).sum();
            assert!((cos.abs() - 1.0).abs() < 1e-12, "{want}: {vectors:?}");
        }
    }
}
