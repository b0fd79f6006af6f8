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
    let survive = 1.0 - alpha;
    if count * survive > GAUSSIAN_ABOVE {
        return gaussian_lineages(count, alpha, beta, survivors);
    }
    let k = binomial(count as u64, survive, survivors);
    if k == 0 || beta <= 0.0 {
        return k as f64;
    }
    (k + negative_binomial(k, beta, offspring)) as f64
}

/// Normal approximation of N lineages: exact mean N(1−α)/(1−β) and variance
/// N(1−α)(α+β)/(1−β)².
fn gaussian_lineages(count: f64, alpha: f64, beta: f64, rng: &mut Stream) -> f64 {
    let q = 1.0 - beta;
    let mean = count * (1.0 - alpha) / q;
    let var = count * (1.0 - alpha) * (alpha + beta) / (q * q);
    let z: f64 = StandardNormal.sample(rng);
    whole(mean + var.sqrt() * z)
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
    match Binomial::new(n, p) {
        Ok(d) => d.sample(rng),
        Err(_) => (n as f64 * p).round() as u64,
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
    if mean < SMALL_POISSON {
        return small_poisson(mean, rng);
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
/// a polynomial instead of the library's set-up (an `exp`) and its product of uniforms. A
/// step's mutant counts have means of 1e-3–1.
const SMALL_POISSON: f64 = 0.125;

/// Poisson(mean) for 0 < mean < [`SMALL_POISSON`] by inversion: the first k with
/// u < P(X ≤ k), P(X = 0) = e^{−mean} from its Taylor polynomial (relative error < 1e-11)
/// and each next term by the recurrence p·mean/k.
fn small_poisson(mean: f64, rng: &mut Stream) -> u64 {
    let u: f64 = rng.random();
    let mut p = 1.0 + super::kernel::expm1_series(-mean);
    let mut cumulative = p;
    let mut k = 0;
    // The tail beyond k = 30 has probability below 1e-57 at these means.
    while u >= cumulative && k < 30 {
        k += 1;
        p *= mean / k as f64;
        cumulative += p;
    }
    k
}

/// `m` cells arriving at uniform times within a step of length `h`, each then following a
/// birth–death process (λ, μ) to the end of the step.
pub fn grow_arrivals(m: u64, lambda: f64, mu: f64, h: f64, rng: &mut Stream) -> f64 {
    if m <= SINGLE_ARRIVALS {
        let mut total = 0u64;
        for _ in 0..m {
            let remaining = h * rng.random::<f64>();
            let (alpha, beta) = constant_rate_law(lambda, mu, remaining);
            if rng.random::<f64>() >= alpha {
                total += 1;
                if beta > 0.0
                    && let Ok(g) = Geometric::new(1.0 - beta)
                {
                    total += g.sample(rng);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_poisson_has_the_poisson_law() {
        // 1e6 draws at each mean; cells k = 0, 1, 2 and ≥ 3 against the Poisson pmf. The
        // χ² statistic with 3 degrees of freedom exceeds 25 with probability 1.5e-5, so a
        // correct sampler passes, and a wrong P(0) or recurrence fails: moving 1e-3 of
        // probability from k = 0 to k = 1 gives χ² ≈ (1e3)²/(1e6·P(1)) = 250 at mean 0.004.
        for mean in [0.004, 0.03, 0.12] {
            let mut rng = crate::support::rng::RolloutKey::new(42, 0)
                .step(0)
                .stream(0);
            let n = 1_000_000;
            let mut counts = [0u64; 4];
            for _ in 0..n {
                counts[small_poisson(mean, &mut rng).min(3) as usize] += 1;
            }
            let pmf = |k: i32| (-mean).exp() * mean.powi(k) / [1.0, 1.0, 2.0][k as usize];
            let expected = [pmf(0), pmf(1), pmf(2), 1.0 - pmf(0) - pmf(1) - pmf(2)];
            let chi2: f64 = counts
                .iter()
                .zip(expected)
                .map(|(&c, p)| {
                    let e = p * n as f64;
                    (c as f64 - e).powi(2) / e.max(1e-300)
                })
                .sum();
            assert!(chi2 < 25.0, "mean {mean}: {counts:?} χ² {chi2}");
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
