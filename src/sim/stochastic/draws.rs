//! The stochastic engine's random draws: Kendall's lineage law for N cells, binomial,
//! negative binomial and Poisson counts, each exact where counts are small and by the normal
//! law with the exact mean and variance where they are large.

use crate::support::rng::Stream;
use rand::RngExt;
use rand_distr::{Binomial, Distribution, Gamma, Geometric, Poisson, StandardNormal};

/// Above this many expected cells (or events) a draw uses the normal law (relative skewness
/// below 0.3 %).
pub const GAUSSIAN_ABOVE: f64 = 1.0e5;
/// A binomial draw whose variance exceeds this uses the normal law (skewness below 3 %);
/// smaller draws, which decide the fate of small clones, stay exact.
const BINOMIAL_NORMAL_ABOVE_VARIANCE: f64 = 1.0e3;
/// Most counts [`correlated_normal`] draws together.
pub const MAX_JOINT: usize = 16;
/// Up to this many cells arriving in one step each get their own lineage draw.
const SINGLE_ARRIVALS: u64 = 32;

/// (α, β) of one lineage from e^{ρ(h)} − 1 and ∫₀ʰ λ e^{ρ}: W = e^ρ + I,
/// α = (e^ρ − 1 + I)/W, β = I/W (clamped against rounding).
#[inline]
pub fn lineage_law(em1: f64, integral: f64) -> (f64, f64) {
    let w = 1.0 + em1 + integral;
    if !(w.is_finite() && w > 0.0) {
        return (1.0, 0.0);
    }
    let inv = 1.0 / w;
    (
        ((em1 + integral) * inv).clamp(0.0, 1.0),
        (integral * inv).clamp(0.0, 1.0),
    )
}

/// (α, β) for constant rates λ, μ over time τ.
#[inline]
pub fn constant_rate_law(lambda: f64, mu: f64, tau: f64) -> (f64, f64) {
    let x = (mu - lambda) * tau;
    // (Once: the library call is not known to the compiler as pure, so two were made.)
    let em1 = x.exp_m1();
    // ∫₀^τ λ e^{(μ−λ)s} ds = λτ·(e^x − 1)/x.
    let integral = if x.abs() < 1e-12 {
        lambda * tau
    } else {
        lambda * tau * em1 / x
    };
    lineage_law(em1, integral)
}

/// The cells that `count` lineages leave after a step (each extinct with probability α,
/// else 1 + Geometric(β)): survivors from `survivors`, their offspring from `offspring`;
/// the normal law from `survivors` when the expected survivors are many.
pub fn lineages(
    count: f64,
    alpha: f64,
    beta: f64,
    survivors: &mut Stream,
    offspring: &mut Stream,
) -> f64 {
    if many_survivors(count, alpha) {
        return gaussian_lineages(count, alpha, beta, survivors);
    }
    let survive = 1.0 - alpha;
    let k = binomial(count as u64, survive, survivors);
    if k == 0 || beta <= 0.0 {
        return k as f64;
    }
    (k + negative_binomial(k, beta, offspring)) as f64
}

/// Whether `count` lineages, each extinct with probability α, leave so many survivors
/// that [`lineages`] draws them from the normal law.
#[inline(always)]
pub(super) fn many_survivors(count: f64, alpha: f64) -> bool {
    count * (1.0 - alpha) > GAUSSIAN_ABOVE
}

/// Normal approximation of N lineages: exact mean N(1−α)/(1−β) and variance
/// N(1−α)(α+β)/(1−β)².
fn gaussian_lineages(count: f64, alpha: f64, beta: f64, rng: &mut Stream) -> f64 {
    let (mean, deviation) = gaussian_moments(count, alpha, beta);
    let z: f64 = StandardNormal.sample(rng);
    whole(mean + deviation * z)
}

/// The mean and standard deviation of [`gaussian_lineages`] (the arrays take them for
/// several lanes at once).
#[inline(always)]
pub(super) fn gaussian_moments(count: f64, alpha: f64, beta: f64) -> (f64, f64) {
    let q = 1.0 - beta;
    let mean = count * (1.0 - alpha) / q;
    let var = count * (1.0 - alpha) * (alpha + beta) / (q * q);
    (mean, var.sqrt())
}

/// The nearest whole number ≥ 0 to `x` (by truncation of x + ½, which needs no library call
/// on a baseline x86-64, unlike `round`; the two differ only at exact halves). Through i64,
/// which converts in one instruction (u64 needs a branch and two), exactly as u64 would here.
#[inline]
pub(super) fn whole(x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x < 1e18 {
        (x + 0.5) as i64 as f64
    } else {
        x.round()
    }
}

/// A draw from the normal law with `mean` and covariance `cov` (m×m, positive
/// semi-definite, given as its packed lower triangle: row i's entries k ≤ i at
/// i(i+1)/2 + k; overwritten by its factors), rounded to whole counts ≥ 0, into `out`.
/// Directions of zero variance (pivots below 1e-12 of the diagonal's scale) get none.
///
/// The factorisation is cov = L·D·Lᵀ (L unit lower triangular), and the draw mean +
/// L·(√D ∘ z): the same law as with Cholesky's factor L·√D, but with no square root on the
/// chain from one column to the next (the square roots are independent and come last).
pub fn correlated_normal(
    mean: &[f64],
    cov: &mut [f64],
    m: usize,
    rng: &mut Stream,
    out: &mut [f64],
) {
    // The sizes models have, each compiled with m known (loops unrolled, no bounds checks:
    // a third of the instructions); the same arithmetic in the same order as any other m.
    match m {
        2 => correlated_normal_of(mean, cov, 2, rng, out),
        3 => correlated_normal_of(mean, cov, 3, rng, out),
        4 => correlated_normal_of(mean, cov, 4, rng, out),
        5 => correlated_normal_of(mean, cov, 5, rng, out),
        _ => correlated_normal_of(mean, cov, m, rng, out),
    }
}

#[inline(always)]
fn correlated_normal_of(
    mean: &[f64],
    cov: &mut [f64],
    m: usize,
    rng: &mut Stream,
    out: &mut [f64],
) {
    let (mean, cov, out) = (&mean[..m], &mut cov[..m * (m + 1) / 2], &mut out[..m]);
    let at = |i: usize, k: usize| i * (i + 1) / 2 + k;
    let mut scale = 0.0f64;
    for i in 0..m {
        let d = cov[at(i, i)].abs();
        if d > scale {
            scale = d;
        }
    }
    let floor = 1e-12 * scale;
    // Below the diagonal, L; on it, D (0 where the direction has no variance). Row j of
    // L·D is kept in `ld` while column j is worked out.
    let mut ld = [0.0f64; MAX_JOINT];
    for j in 0..m {
        let mut d = cov[at(j, j)];
        for k in 0..j {
            ld[k] = cov[at(j, k)] * cov[at(k, k)];
            d -= cov[at(j, k)] * ld[k];
        }
        let pivot = if d > floor { d } else { 0.0 };
        cov[at(j, j)] = pivot;
        let inverse = if pivot > 0.0 { 1.0 / pivot } else { 0.0 };
        for i in j + 1..m {
            let mut s = cov[at(i, j)];
            for k in 0..j {
                s -= cov[at(i, k)] * ld[k];
            }
            cov[at(i, j)] = s * inverse;
        }
    }
    let mut z = [0.0f64; MAX_JOINT];
    for k in 0..m {
        let normal: f64 = StandardNormal.sample(rng);
        z[k] = normal * cov[at(k, k)].sqrt();
    }
    for i in 0..m {
        let mut x = mean[i] + z[i];
        for k in 0..i {
            x += cov[at(i, k)] * z[k];
        }
        out[i] = whole(x);
    }
}

/// Binomial(n, p): exact, or the normal law when its variance is large.
pub fn binomial(n: u64, p: f64, rng: &mut Stream) -> u64 {
    if p >= 1.0 {
        return n;
    }
    if p <= 0.0 || n == 0 {
        return 0;
    }
    let nf = n as f64;
    let var = nf * p * (1.0 - p);
    if var > BINOMIAL_NORMAL_ABOVE_VARIANCE {
        let z: f64 = StandardNormal.sample(rng);
        return whole(nf * p + var.sqrt() * z).min(nf) as u64;
    }
    let flipped = p > 0.5;
    let small = if flipped { 1.0 - p } else { p };
    if nf * small < INVERT_BINOMIAL_BELOW {
        let x = inverted_binomial(n, small, rng);
        return if flipped { n - x } else { x };
    }
    match Binomial::new(n, p) {
        Ok(d) => d.sample(rng),
        Err(_) => (n as f64 * p).round() as u64,
    }
}

/// Means n·min(p, 1 − p) below which [`binomial`] inverts the distribution function itself
/// (as the library's BINV does below 10, with its set-up (1 − p)ⁿ from a logarithm and an
/// exponential instead of a power, about half the cost).
const INVERT_BINOMIAL_BELOW: f64 = 10.0;

/// Binomial(n, p) for 0 < p ≤ ½ and n·p < [`INVERT_BINOMIAL_BELOW`], by inversion
/// (Kachitvichyanukul & Schmeiser 1988, BINV): the first k with u < P(X ≤ k), from
/// P(X = 0) = (1 − p)ⁿ and the recurrence P(k) = P(k − 1)·((n + 1)s/k − s), s = p/(1 − p).
fn inverted_binomial(n: u64, p: f64, rng: &mut Stream) -> u64 {
    let nf = n as f64;
    let first = (nf * (-p).ln_1p()).exp();
    let s = p / (1.0 - p);
    let a = (nf + 1.0) * s;
    // P(X > 110) < 1e-60 at these means; a run past it (rounding) starts again.
    loop {
        let mut u: f64 = rng.random();
        let mut r = first;
        let mut x = 0;
        while u > r {
            u -= r;
            x += 1;
            if x > 110 {
                break;
            }
            r *= a / x as f64 - s;
        }
        if x <= 110 {
            return x.min(n);
        }
    }
}

/// Failures before `k` successes with failure probability `beta`.
fn negative_binomial(k: u64, beta: f64, rng: &mut Stream) -> u64 {
    if beta <= 0.0 {
        return 0;
    }
    let q = 1.0 - beta;
    if k <= 8 {
        return match Geometric::new(q) {
            Ok(g) => (0..k).map(|_| g.sample(rng)).sum(),
            Err(_) => 0,
        };
    }
    // Gamma–Poisson mixture: NB(k, q) = Poisson(Gamma(k, β/q)).
    match Gamma::new(k as f64, beta / q) {
        Ok(g) => poisson(g.sample(rng), rng),
        Err(_) => 0,
    }
}

/// Poisson draws, with the normal law for very large means (relative skewness < 0.3 %).
pub fn poisson(mean: f64, rng: &mut Stream) -> u64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    if mean > GAUSSIAN_ABOVE {
        let z: f64 = StandardNormal.sample(rng);
        return whole(mean + mean.sqrt() * z) as u64;
    }
    if mean < INVERT_POISSON_BELOW {
        return inverted_poisson(mean, rng);
    }
    match Poisson::new(mean) {
        Ok(d) => {
            let x: f64 = d.sample(rng);
            x as u64
        }
        Err(_) => mean.round() as u64,
    }
}

/// Means below which [`poisson`] inverts the distribution function itself: one uniform and
/// a short sum instead of the library's product of about mean + 1 uniforms. A step's
/// mutant counts have means of 1e-3–10.
const INVERT_POISSON_BELOW: f64 = 12.0;
/// Below this mean, e^{−mean} comes from its Taylor polynomial (no library call).
const TAYLOR_POISSON_BELOW: f64 = 0.125;

/// Poisson(mean) for 0 < mean < [`INVERT_POISSON_BELOW`] by inversion: the first k with
/// u < P(X ≤ k), P(X = 0) = e^{−mean} (below [`TAYLOR_POISSON_BELOW`] from its Taylor
/// polynomial, relative error < 1e-11) and each next term by the recurrence p·mean/k.
fn inverted_poisson(mean: f64, rng: &mut Stream) -> u64 {
    let u: f64 = rng.random();
    let mut p = if mean < TAYLOR_POISSON_BELOW {
        1.0 + super::kernel::expm1_series(-mean)
    } else {
        (-mean).exp()
    };
    let mut cumulative = p;
    let mut k = 0;
    // The tail beyond k = 100 has probability below 1e-50 at these means.
    while u >= cumulative && k < 100 {
        k += 1;
        p *= mean / k as f64;
        cumulative += p;
    }
    k
}

/// `m` cells arriving at uniform times within a step of length `h`, each then following a
/// birth–death process (λ, μ) to the end of the step.
///
/// Up to [`SINGLE_ARRIVALS`] cells, each arrival's fate is drawn exactly from its law over
/// the uniform arrival time, in one uniform for the common case: with probability
/// [`arrival_stays_single`] it is still one cell at the step's end; otherwise
/// [`arrival_otherwise`] draws its arrival time given that, and its fate then (none, or two
/// or more cells).
pub fn grow_arrivals(m: u64, lambda: f64, mu: f64, h: f64, rng: &mut Stream) -> f64 {
    if m <= SINGLE_ARRIVALS {
        let single = arrival_stays_single(lambda, mu, h);
        let mut total = 0u64;
        for _ in 0..m {
            total += if rng.random::<f64>() < single {
                1
            } else {
                arrival_otherwise(lambda, mu, h, rng)
            };
        }
        return total as f64;
    }
    // Many arrivals: treat them as arriving together half-way through the step.
    let (alpha, beta) = constant_rate_law(lambda, mu, 0.5 * h);
    let survivors = binomial(m, 1.0 - alpha, rng);
    if survivors as f64 > GAUSSIAN_ABOVE {
        return gaussian_lineages(m as f64, alpha, beta, rng);
    }
    (survivors + negative_binomial(survivors, beta, rng)) as f64
}

/// The probability that a cell arriving at a uniform time within a step of length `h` is
/// exactly one cell at the step's end (rates λ, μ).
///
/// After time r a lineage is one cell with probability (1 − α(r))(1 − β(r)) =
/// c²e^{cr}/(μe^{cr} − λ)², c = μ − λ, whose integral over [0, h] is α(h)/μ; and
/// α(h)/μ = g/(λg + 1) with g = (e^{−ch} − 1)/(−c) (→ h as c → 0), so no division by μ.
pub fn arrival_stays_single(lambda: f64, mu: f64, h: f64) -> f64 {
    if h.is_nan() || h <= 0.0 {
        return 1.0;
    }
    let r = (lambda - mu) * h;
    let g = if r.abs() < 1e-12 {
        h * (1.0 + 0.5 * r)
    } else {
        h * r.exp_m1() / r
    };
    let single = g / ((lambda * g + 1.0) * h);
    if single.is_finite() {
        single.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The cells an arrival leaves at the step's end, given that it is not exactly one: its
/// time left r has density ∝ q(r) = 1 − (1 − α(r))(1 − β(r)) on [0, h] (drawn by rejection
/// under q(h): q increases with r); then it has died out with probability α(r)/q(r), and
/// otherwise holds 2 + Geometric(β(r)) cells.
fn arrival_otherwise(lambda: f64, mu: f64, h: f64, rng: &mut Stream) -> u64 {
    let fate = |r: f64| {
        let (alpha, beta) = constant_rate_law(lambda, mu, r);
        (alpha, beta, alpha + beta - alpha * beta)
    };
    let (_, _, top) = fate(h);
    if top.is_nan() || top <= 0.0 {
        return 1;
    }
    // The acceptance rate is at least a half where q is concave; 200 tries fail with
    // probability below 1e-60 then, and after them the last time drawn stands.
    let (mut alpha, mut beta, mut q) = fate(h);
    for _ in 0..200 {
        let r = h * rng.random::<f64>();
        (alpha, beta, q) = fate(r);
        if rng.random::<f64>() * top < q {
            break;
        }
    }
    if rng.random::<f64>() * q < alpha {
        return 0;
    }
    match Geometric::new(1.0 - beta) {
        Ok(g) if beta > 0.0 => 2 + g.sample(rng),
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pearson's χ² of `counts` against the cell probabilities `expected`; a cell of no
    /// probability (none left by a pure birth, say) makes it infinite if it is hit.
    fn chi_square(counts: &[u64], expected: &[f64]) -> f64 {
        let n: u64 = counts.iter().sum();
        counts
            .iter()
            .zip(expected)
            .map(|(&c, &p)| {
                let e = p * n as f64;
                if e < 1e-6 {
                    if c > 0 { f64::INFINITY } else { 0.0 }
                } else {
                    (c as f64 - e).powi(2) / e
                }
            })
            .sum()
    }

    #[test]
    fn inverted_poisson_has_the_poisson_law() {
        // 1e6 draws at each mean; cells k = 0 … K − 1 and ≥ K against the Poisson pmf, K
        // the last k expected at least 20 times (so the χ² law holds). With K ≤ 30 degrees of
        // freedom the statistic exceeds 70 with probability below 1e-4, so a correct sampler
        // passes, and a wrong P(0) or recurrence fails: moving 1e-3 of probability from
        // k = 0 to k = 1 gives χ² ≈ (1e3)²/(1e6·P(1)) = 250 at mean 0.004, and above 70 at
        // every mean here.
        for mean in [0.004f64, 0.03, 0.12, 0.13, 0.9, 4.0, 11.5] {
            let mut rng = crate::support::rng::RolloutKey::new(42, 0)
                .step(0)
                .stream(0);
            let n = 1_000_000;
            let mut pmf = vec![(-mean).exp()];
            while n as f64 * pmf[pmf.len() - 1] * mean / pmf.len() as f64 >= 20.0 {
                let k = pmf.len();
                pmf.push(pmf[k - 1] * mean / k as f64);
            }
            let top = pmf.len() - 1;
            let mut expected = pmf[..top].to_vec();
            expected.push(1.0 - expected.iter().sum::<f64>());
            assert!(top <= 30);
            let mut counts = vec![0u64; top + 1];
            for _ in 0..n {
                counts[(inverted_poisson(mean, &mut rng) as usize).min(top)] += 1;
            }
            let chi2 = chi_square(&counts, &expected);
            assert!(chi2 < 70.0, "mean {mean}: {counts:?} χ² {chi2}");
        }
    }

    #[test]
    fn inverted_binomial_has_the_binomial_law() {
        // 1e6 draws per case through `binomial` (so p > ½ is flipped as there); cells
        // k = 0 … K − 1 and ≥ K against the binomial pmf, K the last k expected at least 20
        // times. With K ≤ 30 degrees of freedom χ² exceeds 70 with probability below 1e-4;
        // a set-up (1 − p)ⁿ off by 1e-3, or a recurrence off by one in k, gives χ² in the
        // hundreds or more.
        for (n, p) in [
            (1u64, 0.3f64),
            (12, 0.5),
            (40, 0.2),
            (7, 0.93),
            (3000, 0.001),
            (10_000_000_000, 4e-10),
            (200_000, 2e-5),
        ] {
            let mut rng = crate::support::rng::RolloutKey::new(11, 2)
                .step(5)
                .stream(1);
            let draws = 1_000_000;
            let small = p.min(1.0 - p);
            let ratio = small / (1.0 - small);
            let mut pmf = vec![(n as f64 * (-small).ln_1p()).exp()];
            while (pmf.len() as u64) <= n {
                let k = pmf.len() as f64;
                let next = pmf[pmf.len() - 1] * (n as f64 - k + 1.0) / k * ratio;
                if draws as f64 * next < 20.0 {
                    break;
                }
                pmf.push(next);
            }
            let top = pmf.len() - 1;
            let mut expected = pmf[..top].to_vec();
            expected.push(1.0 - expected.iter().sum::<f64>());
            assert!((1..=30).contains(&top));
            let mut counts = vec![0u64; top + 1];
            for _ in 0..draws {
                let x = binomial(n, p, &mut rng);
                let k = if p > 0.5 { n - x } else { x };
                counts[(k as usize).min(top)] += 1;
            }
            let chi2 = chi_square(&counts, &expected);
            assert!(chi2 < 70.0, "n {n} p {p}: {counts:?} χ² {chi2}");
        }
    }

    /// The law of one arrival at a uniform time: P(k) = (1/h)∫₀ʰ P(k | r) dr with P(0 | r) =
    /// α(r) and P(k | r) = (1 − α)(1 − β)β^{k−1}, by Simpson's rule on 2000 intervals.
    fn arrival_law(lambda: f64, mu: f64, h: f64, k: u64) -> f64 {
        let steps = 2000;
        let at = |r: f64| {
            let (a, b) = constant_rate_law(lambda, mu, r);
            if k == 0 {
                a
            } else {
                (1.0 - a) * (1.0 - b) * b.powi(k as i32 - 1)
            }
        };
        let dr = h / steps as f64;
        let mut sum = at(0.0) + at(h);
        for i in 1..steps {
            sum += at(i as f64 * dr) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * dr / 3.0 / h
    }

    #[test]
    fn an_arrival_stays_single_with_the_integrated_probability() {
        // The closed form against the quadrature (Simpson's error at 2000 intervals is far
        // below 1e-10 for these smooth integrands), for growing, shrinking, balanced,
        // pure-birth and pure-death rates.
        for (lambda, mu, h) in [
            (0.8, 0.5, 1.0),
            (0.3, 0.9, 0.7),
            (0.4, 0.4, 1.0),
            (0.6, 0.0, 1.0),
            (0.0, 0.7, 1.0),
            (0.036, 0.028, 1.0),
        ] {
            let closed = arrival_stays_single(lambda, mu, h);
            let numeric = arrival_law(lambda, mu, h, 1);
            assert!(
                (closed - numeric).abs() < 1e-10,
                "λ {lambda} μ {mu} h {h}: {closed} vs {numeric}"
            );
        }
        assert_eq!(arrival_stays_single(0.0, 0.0, 1.0), 1.0);
        assert_eq!(arrival_stays_single(0.5, 0.5, 0.0), 1.0);
    }

    #[test]
    fn arrivals_have_the_law_of_a_uniform_arrival_time() {
        // 1e6 single arrivals per case; cells k = 0, 1, 2, 3 and ≥ 4 against the integrated
        // law. The χ² statistic with 4 degrees of freedom exceeds 30 with probability 5e-6,
        // so a correct sampler passes; drawing the fate at the step's middle instead of
        // over the arrival time moves P(0) at λ 0.8, μ 0.5 by ~0.01, χ² in the thousands.
        for (lambda, mu, h) in [
            (0.8, 0.5, 1.0),
            (0.3, 0.9, 0.7),
            (0.6, 0.0, 1.0),
            (0.0, 0.7, 1.0),
            (0.036, 0.028, 1.0),
        ] {
            let mut rng = crate::support::rng::RolloutKey::new(7, 1).step(3).stream(0);
            let n = 1_000_000;
            let mut counts = [0u64; 5];
            for _ in 0..n {
                let k = grow_arrivals(1, lambda, mu, h, &mut rng) as usize;
                counts[k.min(4)] += 1;
            }
            let mut expected: Vec<f64> = (0..4).map(|k| arrival_law(lambda, mu, h, k)).collect();
            expected.push(1.0 - expected.iter().sum::<f64>());
            let chi2 = chi_square(&counts, &expected);
            assert!(
                chi2 < 30.0,
                "λ {lambda} μ {mu} h {h}: {counts:?} against {expected:?}, χ² {chi2}"
            );
        }
    }

    #[test]
    fn constant_law_matches_closed_form() {
        // α = μ(e^{rt} − 1)/(λe^{rt} − μ), β = λ(e^{rt} − 1)/(λe^{rt} − μ), r = λ − μ.
        let (l, m, t): (f64, f64, f64) = (0.3, 0.1, 2.0);
        let e = ((l - m) * t).exp();
        let (a, b) = constant_rate_law(l, m, t);
        assert!((a - m * (e - 1.0) / (l * e - m)).abs() < 1e-14);
        assert!((b - l * (e - 1.0) / (l * e - m)).abs() < 1e-14);
        // Pure death: survival e^{−μt}, no offspring.
        let (a, b) = constant_rate_law(0.0, 0.2, 3.0);
        assert!((1.0 - a - (-0.6f64).exp()).abs() < 1e-14);
        assert_eq!(b, 0.0);
    }
}
