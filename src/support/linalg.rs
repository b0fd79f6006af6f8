//! Small dense linear algebra: the Cholesky factor that correlated virtual patients and a
//! fit's covariance both need.

/// The Cholesky factor L (row-major, lower triangular, L Lᵀ = `a`) of the symmetric `n`×`n`
/// matrix `a` (row-major), or `None` when a pivot is not above `min_pivot` (the matrix is
/// not positive definite, or too close to singular for the caller).
pub fn cholesky(n: usize, a: &[f64], min_pivot: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= min_pivot || !d.is_finite() {
                    return None;
                }
                l[i * n + j] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// The inverse of a symmetric positive-definite `n`×`n` matrix `a` (row-major) from its
/// Cholesky factor, or `None` if it is not positive definite.
pub fn inverse_spd(n: usize, a: &[f64]) -> Option<Vec<f64>> {
    let l = cholesky(n, a, 0.0)?;
    let mut inv = vec![0.0; n * n];
    for col in 0..n {
        // L y = e_col, then Lᵀ x = y.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
            y[i] = (f64::from(u8::from(i == col)) - s) / l[i * n + i];
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| l[k * n + i] * inv[k * n + col]).sum();
            inv[i * n + col] = (y[i] - s) / l[i * n + i];
        }
    }
    inv.iter().all(|v| v.is_finite()).then_some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_known_matrix() {
        // [[4, 2], [2, 3]]⁻¹ = [[3, -2], [-2, 4]] / 8.
        let inv = inverse_spd(2, &[4.0, 2.0, 2.0, 3.0]).unwrap();
        let want = [0.375, -0.25, -0.25, 0.5];
        assert!(
            inv.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
            "{inv:?}"
        );
        assert!(inverse_spd(2, &[1.0, 2.0, 2.0, 1.0]).is_none());
    }
}
