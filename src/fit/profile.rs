//! Profile-likelihood intervals: for one coordinate held at a value, the objective
//! minimised over the others; the 95 % interval is where that profile stays within
//! χ²₁(0.95) = 3.84 of the minimum. A side that stays below it up to the bound of the search
//! is not reached: the data do not bound the parameter there.

use super::estimate::{Boxed, nelder_mead, polish};

/// χ²₁ 95 % quantile: the rise of −2 ln L that bounds a 95 % profile interval.
pub const CHI2_95: f64 = 3.841_458_820_694_124;

/// A point whose √(profile rise) is within this fraction of √χ²₁(95 %) is close enough to
/// place the interval's end by the √-linear model instead of more profile points.
const CLOSE: f64 = 0.005;

/// One side of a profile interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// The profile crosses the threshold here (search coordinate).
    At(f64),
    /// The profile stays below the threshold up to the search bound.
    NotReached,
}

/// A parameter's profile interval, and the points evaluated on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Lower end.
    pub lower: End,
    /// Upper end.
    pub upper: End,
    /// (coordinate, profile −2 ln L) of every point evaluated, sorted by coordinate.
    pub points: Vec<(f64, f64)>,
}

/// The profile of coordinate `j` about the minimum `best` (value `min`), with `se` the
/// coordinate's standard error (NaN if unknown) to size the first steps.
pub fn profile(problem: &Boxed, best: &[f64], min: f64, j: usize, se: f64) -> Profile {
    let mut points = vec![(best[j], min)];
    let lower = side(problem, best, min, j, se, -1.0, &mut points);
    let upper = side(problem, best, min, j, se, 1.0, &mut points);
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Profile {
        lower,
        upper,
        points,
    }
}

/// The profile at coordinate `j` = `v`: the others minimised by Nelder–Mead from `warm`.
fn profile_at(problem: &Boxed, warm: &[f64], j: usize, v: f64) -> (Vec<f64>, f64) {
    let others: Vec<usize> = (0..warm.len()).filter(|&i| i != j).collect();
    if others.is_empty() {
        let mut x = warm.to_vec();
        x[j] = v;
        let fx = (problem.f)(&x);
        return (x, fx);
    }
    let embed = |y: &[f64]| {
        let mut x = warm.to_vec();
        x[j] = v;
        for (k, &i) in others.iter().enumerate() {
            x[i] = y[k];
        }
        x
    };
    let f = |y: &[f64]| (problem.f)(&embed(y));
    let reduced = Boxed {
        f: &f,
        bounds: others.iter().map(|&i| problem.bounds[i]).collect(),
    };
    let start: Vec<f64> = others.iter().map(|&i| warm[i]).collect();
    // The warm start (the neighbouring point's solution) is close: Newton converges in a
    // few steps where Nelder–Mead would need hundreds of evaluations.
    let (y, fy, _) = polish(&reduced, &start, 12);
    if fy.is_finite() {
        return (embed(&y), fy);
    }
    let steps: Vec<f64> = reduced
        .bounds
        .iter()
        .map(|(lo, hi)| 0.02 * (hi - lo))
        .collect();
    let (y, fy) = nelder_mead(&reduced, &start, &steps, 100 * others.len() as u64, 1e-6);
    (embed(&y), fy)
}

/// One side (`dir` = ±1) of the interval: steps outward until the profile passes the
/// threshold or the bound, then secant steps on √(profile − min), which is close to linear
/// in the coordinate when the profile is close to quadratic.
fn side(
    problem: &Boxed,
    best: &[f64],
    min: f64,
    j: usize,
    se: f64,
    dir: f64,
    points: &mut Vec<(f64, f64)>,
) -> End {
    let (lo, hi) = problem.bounds[j];
    let bound = if dir < 0.0 { lo } else { hi };
    let x0 = best[j];
    if (bound - x0).abs() < 1e-12 {
        return End::NotReached;
    }
    let target = CHI2_95.sqrt();
    let root = |f: f64| (f - min).max(0.0).sqrt();
    let width = hi - lo;
    let mut step = if se.is_finite() && se > 0.0 {
        (1.96 * se).min(0.5 * width)
    } else {
        0.1 * width
    };
    // The profile at x: the others' optimum, √(rise), and the end if x is close to it (the
    // √-linear model through the estimate places it exactly for a quadratic profile).
    let mut probe = |warm: &[f64], x: f64| {
        let (xv, f) = profile_at(problem, warm, j, x);
        points.push((x, f));
        let q = root(f);
        let end = ((q - target).abs() < CLOSE * target).then(|| x0 + (x - x0) * target / q);
        (xv, q, end)
    };
    // Inside: the last point known below the threshold.
    let (mut inside_x, mut inside_q, mut warm) = (x0, 0.0, best.to_vec());
    let mut outside: Option<(f64, f64)> = None;
    for _ in 0..12 {
        let x = (x0 + dir * step).clamp(lo, hi);
        let (xv, q, end) = probe(&warm, x);
        if let Some(end) = end {
            return End::At(end);
        }
        if q >= target {
            outside = Some((x, q));
            break;
        }
        inside_x = x;
        inside_q = q;
        warm = xv;
        if (x - bound).abs() < 1e-12 {
            return End::NotReached;
        }
        // Extrapolate √ linearly to the target, at least doubling the step.
        let predicted = if q > 1e-9 {
            (x - x0).abs() * target / q * 1.1
        } else {
            2.0 * step
        };
        step = predicted.max(1.5 * step).min((bound - x0).abs());
    }
    let Some((mut out_x, mut out_q)) = outside else {
        return End::NotReached;
    };
    // Regula falsi between inside and outside, a few steps.
    for _ in 0..4 {
        if (out_x - inside_x).abs() < 1e-4 * width.max(1e-12) {
            break;
        }
        let t = (target - inside_q) / (out_q - inside_q);
        let x = inside_x + t.clamp(0.05, 0.95) * (out_x - inside_x);
        let (xv, q, end) = probe(&warm, x);
        if let Some(end) = end {
            return End::At(end);
        }
        if q >= target {
            out_x = x;
            out_q = q;
        } else {
            inside_x = x;
            inside_q = q;
            warm = xv;
        }
    }
    let t = ((target - inside_q) / (out_q - inside_q)).clamp(0.0, 1.0);
    End::At(inside_x + t * (out_x - inside_x))
}
