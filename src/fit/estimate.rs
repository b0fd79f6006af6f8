//! Finding the minimum of a fit's objective in a box, and its curvature there.
//!
//! Global phase: Nelder–Mead (argmin) from the scenario's values and from Halton points of
//! the box. Local phase: a damped Newton method on finite-difference derivatives, which
//! converges quadratically where the likelihood is smooth (it is: the model is an ODE solved
//! to 1e-10) and ends with the Hessian the standard errors need anyway. Steps are clipped to
//! the box.

// The matrix helpers index several rows at once; index loops read clearest.
#![allow(clippy::needless_range_loop)]

use crate::support::design::halton;
use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;

/// An objective over a box: points outside cost the value at the nearest point of the box
/// plus a penalty growing with the distance, so Nelder–Mead is pushed back without cliffs.
pub struct Boxed<'f> {
    /// The objective.
    pub f: &'f dyn Fn(&[f64]) -> f64,
    /// Lower and upper bound per coordinate.
    pub bounds: Vec<(f64, f64)>,
}

impl Boxed<'_> {
    /// The nearest point of the box.
    pub fn clamp(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(&self.bounds)
            .map(|(v, (lo, hi))| v.clamp(*lo, *hi))
            .collect()
    }

    /// The objective with the box penalty.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let inside = self.clamp(x);
        let outside: f64 = x
            .iter()
            .zip(&inside)
            .zip(&self.bounds)
            .map(|((v, c), (lo, hi))| ((v - c) / (hi - lo).max(1e-12)).powi(2))
            .sum();
        let value = (self.f)(&inside);
        if outside > 0.0 {
            value + 1e4 * (1.0 + value.abs()) * outside
        } else {
            value
        }
    }
}

impl CostFunction for Boxed<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(x))
    }
}

/// Nelder–Mead from `start` with initial steps `steps` per coordinate, at most `iters`
/// iterations, stopping once the simplex's values spread less than `tolerance`; the best
/// point (inside the box) and its value.
pub fn nelder_mead(
    problem: &Boxed,
    start: &[f64],
    steps: &[f64],
    iters: u64,
    tolerance: f64,
) -> (Vec<f64>, f64) {
    let start = problem.clamp(start);
    let f0 = problem.eval(&start);
    let mut simplex = vec![start.clone()];
    for (d, step) in steps.iter().enumerate() {
        let mut v = start.clone();
        let (lo, hi) = problem.bounds[d];
        v[d] = if v[d] + step <= hi {
            v[d] + step
        } else {
            (v[d] - step).max(lo)
        };
        simplex.push(v);
    }
    let fallback = (start.clone(), f0);
    let Ok(solver) = NelderMead::new(simplex).with_sd_tolerance(tolerance) else {
        return fallback;
    };
    let boxed = Boxed {
        f: problem.f,
        bounds: problem.bounds.clone(),
    };
    match Executor::new(boxed, solver)
        .configure(|state| state.max_iters(iters))
        .run()
    {
        Ok(done) => {
            let state = done.state;
            match state.best_param {
                Some(x) if state.best_cost < f0 => {
                    let x = problem.clamp(&x);
                    let v = problem.eval(&x);
                    (x, v)
                }
                _ => fallback,
            }
        }
        Err(_) => fallback,
    }
}

/// Finite-difference steps: a small fraction of each coordinate's range.
pub fn fd_steps(bounds: &[(f64, f64)]) -> Vec<f64> {
    bounds.iter().map(|(lo, hi)| 3e-4 * (hi - lo)).collect()
}

/// Gradient and Hessian of `f` at `x` by central differences (2d² + 1 evaluations), each
/// step taken inward at a bound.
pub fn derivatives(problem: &Boxed, x: &[f64], h: &[f64]) -> (f64, Vec<f64>, Vec<Vec<f64>>) {
    let d = x.len();
    let f = |p: &[f64]| (problem.f)(p);
    let f0 = f(x);
    // Centre moved inside so x ± h stays in the box.
    let c: Vec<f64> = x
        .iter()
        .zip(h)
        .zip(&problem.bounds)
        .map(|((v, h), (lo, hi))| v.clamp(lo + h, (hi - h).max(lo + h)))
        .collect();
    let at = |i: usize, si: f64, j: usize, sj: f64| {
        let mut p = c.clone();
        p[i] += si * h[i];
        p[j] += sj * h[j];
        f(&p)
    };
    let fc = if c == x { f0 } else { f(&c) };
    let mut grad = vec![0.0; d];
    let mut hess = vec![vec![0.0; d]; d];
    let mut plus = vec![0.0; d];
    let mut minus = vec![0.0; d];
    for i in 0..d {
        let mut p = c.clone();
        p[i] += h[i];
        plus[i] = f(&p);
        p[i] = c[i] - h[i];
        minus[i] = f(&p);
        grad[i] = (plus[i] - minus[i]) / (2.0 * h[i]);
        hess[i][i] = (plus[i] - 2.0 * fc + minus[i]) / (h[i] * h[i]);
    }
    for i in 0..d {
        for j in 0..i {
            let v = (at(i, 1.0, j, 1.0) - at(i, 1.0, j, -1.0) - at(i, -1.0, j, 1.0)
                + at(i, -1.0, j, -1.0))
                / (4.0 * h[i] * h[j]);
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    // The gradient at x from the one at the centre (a first-order shift).
    for i in 0..d {
        let shift: f64 = (0..d).map(|j| hess[i][j] * (x[j] - c[j])).sum();
        grad[i] += shift;
    }
    (f0, grad, hess)
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (`None` if singular).
pub fn solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, v)| {
            let mut r = row.clone();
            r.push(*v);
            r
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 || !m[pivot][col].is_finite() {
            return None;
        }
        m.swap(col, pivot);
        for row in col + 1..n {
            let factor = m[row][col] / m[col][col];
            for k in col..=n {
                m[row][k] -= factor * m[col][k];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - s) / m[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The inverse of a symmetric positive-definite matrix (`None` if it is not).
pub fn inverse_spd(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let flat: Vec<f64> = a.iter().flatten().copied().collect();
    let inv = crate::support::linalg::inverse_spd(n, &flat)?;
    Some(inv.chunks(n.max(1)).map(<[f64]>::to_vec).collect())
}

/// A damped Newton polish from `x`: Levenberg–Marquardt steps on the finite-difference
/// gradient and Hessian, clipped to the box. The final point, its value and the Hessian
/// there.
pub fn polish(problem: &Boxed, x: &[f64], max_iters: usize) -> (Vec<f64>, f64, Vec<Vec<f64>>) {
    let h = fd_steps(&problem.bounds);
    let mut x = problem.clamp(x);
    let (mut fx, mut grad, mut hess) = derivatives(problem, &x, &h);
    let mut lambda = 1e-3;
    for _ in 0..max_iters {
        let mut improved = false;
        for _ in 0..12 {
            let damped: Vec<Vec<f64>> = hess
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let mut r = row.clone();
                    r[i] += lambda * (row[i].abs() + 1e-6);
                    r
                })
                .collect();
            let neg: Vec<f64> = grad.iter().map(|g| -g).collect();
            let Some(step) = solve(&damped, &neg) else {
                lambda *= 10.0;
                continue;
            };
            let trial: Vec<f64> =
                problem.clamp(&x.iter().zip(&step).map(|(a, b)| a + b).collect::<Vec<_>>());
            let ft = (problem.f)(&trial);
            if ft < fx {
                let gain = fx - ft;
                x = trial;
                lambda = (lambda / 10.0).max(1e-9);
                improved = true;
                (fx, grad, hess) = derivatives(problem, &x, &h);
                if gain < 1e-10 * (1.0 + fx.abs()) {
                    return (x, fx, hess);
                }
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    (x, fx, hess)
}

/// The multi-start search: Nelder–Mead on `coarse` (a cheaper evaluation of the same
/// objective) from `start` and from `starts − 1` Halton points of the box, then Nelder–Mead
/// and a Newton polish on `problem` from the best two. The best point, its value and the
/// Hessian there.
pub fn minimise(
    coarse: &Boxed,
    problem: &Boxed,
    start: &[f64],
    starts: u32,
) -> (Vec<f64>, f64, Vec<Vec<f64>>) {
    let d = start.len();
    let steps: Vec<f64> = problem
        .bounds
        .iter()
        .map(|(lo, hi)| 0.1 * (hi - lo))
        .collect();
    let iters = 150 * d as u64;
    let mut found: Vec<(Vec<f64>, f64)> = Vec::new();
    for k in 0..starts.max(1) {
        let x0 = if k == 0 {
            start.to_vec()
        } else {
            halton(u64::from(k), d)
                .iter()
                .zip(&problem.bounds)
                .map(|(u, (lo, hi))| lo + u * (hi - lo))
                .collect()
        };
        found.push(nelder_mead(coarse, &x0, &steps, iters, 1e-4));
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut best: Option<(Vec<f64>, f64, Vec<Vec<f64>>)> = None;
    for (x, _) in found.iter().take(2) {
        // A second Nelder–Mead with small steps first: Newton needs to start near the bottom.
        let small: Vec<f64> = steps.iter().map(|s| s * 0.05).collect();
        let (x, _) = nelder_mead(problem, x, &small, iters, 1e-7);
        let polished = polish(problem, &x, 30);
        if best.as_ref().is_none_or(|b| polished.1 < b.1) {
            best = Some(polished);
        }
    }
    best.unwrap_or_else(|| (start.to_vec(), f64::INFINITY, vec![vec![f64::NAN; d]; d]))
}
