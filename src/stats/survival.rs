//! Kaplan–Meier estimation for time-to-event outcomes censored at the horizon.

/// One step of the Kaplan–Meier curve: at `time`, `events` of `at_risk` subjects progressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KmStep {
    /// Event or censoring time.
    pub time: f64,
    /// Runs still at risk just before `time`.
    pub at_risk: usize,
    /// Events at `time`.
    pub events: usize,
    /// Censored at `time`.
    pub censored: usize,
    /// Survival just after `time`.
    pub survival: f64,
    /// Pointwise 95 % confidence band (log–log transform, Greenwood variance).
    pub lower: f64,
    /// Upper end of the band.
    pub upper: f64,
}

/// A Kaplan–Meier curve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KaplanMeier {
    /// One step per distinct time.
    pub steps: Vec<KmStep>,
    /// Runs in the curve.
    pub n: usize,
}

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

impl KaplanMeier {
    /// Builds the curve from (time, event) pairs; `event = false` means censored at `time`.
    pub fn new(data: &[(f64, bool)]) -> Self {
        let mut sorted: Vec<(f64, bool)> = data.to_vec();
        // Events before censorings at the same time (the usual convention).
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let n = sorted.len();
        let mut steps = Vec::new();
        let mut at_risk = n;
        let mut survival = 1.0;
        let mut greenwood = 0.0;
        let mut i = 0;
        while i < sorted.len() {
            let time = sorted[i].0;
            let mut events = 0;
            let mut censored = 0;
            // total_cmp, so a NaN (never written by regimen) cannot stall the loop.
            while i < sorted.len() && sorted[i].0.total_cmp(&time).is_eq() {
                if sorted[i].1 {
                    events += 1;
                } else {
                    censored += 1;
                }
                i += 1;
            }
            if events > 0 {
                survival *= 1.0 - events as f64 / at_risk as f64;
                if at_risk > events {
                    greenwood += events as f64 / (at_risk as f64 * (at_risk - events) as f64);
                }
            }
            let (lower, upper) = log_log_band(survival, greenwood);
            steps.push(KmStep {
                time,
                at_risk,
                events,
                censored,
                survival,
                lower,
                upper,
            });
            at_risk -= events + censored;
        }
        KaplanMeier { steps, n }
    }

    /// Survival at time `t` (right-continuous step function).
    pub fn survival_at(&self, t: f64) -> f64 {
        self.steps
            .iter()
            .take_while(|s| s.time <= t)
            .last()
            .map_or(1.0, |s| s.survival)
    }

    /// Median time: the first time the curve reaches 0.5 or below; `None` if it never does.
    pub fn median(&self) -> Option<f64> {
        self.first_time_at_or_below(0.5, |s| s.survival)
    }

    /// 95 % CI of the median (Brookmeyer & Crowley 1982 with the log–log band): from the first
    /// time the upper band reaches 0.5 to the first time the lower band does. `None` ends are
    /// not reached within follow-up.
    pub fn median_ci(&self) -> (Option<f64>, Option<f64>) {
        (
            self.first_time_at_or_below(0.5, |s| s.upper),
            self.first_time_at_or_below(0.5, |s| s.lower),
        )
    }

    fn first_time_at_or_below(&self, level: f64, f: impl Fn(&KmStep) -> f64) -> Option<f64> {
        self.steps
            .iter()
            .find(|s| s.events > 0 && f(s) <= level)
            .map(|s| s.time)
    }

    /// Restricted mean survival time: the area under the curve from 0 to `tau`.
    pub fn restricted_mean(&self, tau: f64) -> f64 {
        let mut area = 0.0;
        let mut last_t = 0.0;
        let mut last_s = 1.0;
        for s in &self.steps {
            if s.time >= tau {
                break;
            }
            area += last_s * (s.time - last_t);
            last_t = s.time;
            last_s = s.survival;
        }
        area + last_s * (tau - last_t).max(0.0)
    }
}

/// Pointwise 95 % band of S by the log–log (complementary log–log) transform.
fn log_log_band(s: f64, greenwood: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (0.0, 0.0);
    }
    if s >= 1.0 || greenwood <= 0.0 {
        return (s, s);
    }
    let log_s = s.ln();
    let se = greenwood.sqrt() / log_s.abs();
    (
        s.powf((-Z95 * se).exp()).clamp(0.0, 1.0),
        s.powf((Z95 * se).exp()).clamp(0.0, 1.0),
    )
}

/// Wilson score 95 % interval of a proportion `k / n`.
pub fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Distinct event times of two groups with, at each, (events, at risk) per group.
fn risk_table(a: &[(f64, bool)], b: &[(f64, bool)]) -> Vec<[(f64, f64); 2]> {
    let mut all: Vec<(f64, bool, usize)> = a
        .iter()
        .map(|&(t, e)| (t, e, 0))
        .chain(b.iter().map(|&(t, e)| (t, e, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut at_risk = [a.len() as f64, b.len() as f64];
    let mut table = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        let mut events = [0.0; 2];
        let mut leaving = [0.0; 2];
        while i < all.len() && all[i].0 == t {
            let g = all[i].2;
            if all[i].1 {
                events[g] += 1.0;
            }
            leaving[g] += 1.0;
            i += 1;
        }
        if events[0] + events[1] > 0.0 {
            table.push([(events[0], at_risk[0]), (events[1], at_risk[1])]);
        }
        at_risk[0] -= leaving[0];
        at_risk[1] -= leaving[1];
    }
    table
}

/// Log-rank test of group `a` against group `b`: (chi-square with 1 df, two-sided p-value).
pub fn log_rank(a: &[(f64, bool)], b: &[(f64, bool)]) -> (f64, f64) {
    let mut o_minus_e = 0.0;
    let mut var = 0.0;
    for [(da, na), (db, nb)] in risk_table(a, b) {
        let (d, n) = (da + db, na + nb);
        if n <= 0.0 {
            continue;
        }
        o_minus_e += da - d * na / n;
        if n > 1.0 {
            var += d * (na / n) * (nb / n) * (n - d) / (n - 1.0);
        }
    }
    if var <= 0.0 {
        return (0.0, 1.0);
    }
    let chi2 = o_minus_e * o_minus_e / var;
    (chi2, erfc((chi2 / 2.0).sqrt()))
}

/// Hazard ratio of group `a` to group `b` from a Cox model with one binary covariate
/// (Breslow ties, Newton–Raphson), with its 95 % Wald interval. `None` when either group
/// has no event or the groups separate completely (the estimate then runs off to 0 or ∞).
pub fn hazard_ratio(a: &[(f64, bool)], b: &[(f64, bool)]) -> Option<(f64, (f64, f64))> {
    let table = risk_table(a, b);
    let events_a: f64 = table.iter().map(|r| r[0].0).sum();
    let events_b: f64 = table.iter().map(|r| r[1].0).sum();
    if events_a == 0.0 || events_b == 0.0 {
        return None;
    }
    let mut beta = 0.0f64;
    let mut information = 0.0;
    let mut converged = false;
    for _ in 0..50 {
        let (mut score, mut info) = (0.0, 0.0);
        let r = beta.exp();
        for [(da, na), (db, nb)] in &table {
            let d = da + db;
            let denominator = na * r + nb;
            if denominator <= 0.0 {
                continue;
            }
            let share = na * r / denominator;
            score += da - d * share;
            info += d * share * (1.0 - share);
        }
        information = info;
        if info <= 0.0 {
            return None;
        }
        let step = score / info;
        beta += step.clamp(-5.0, 5.0);
        if step.abs() < 1e-12 {
            converged = true;
            break;
        }
    }
    if !converged || beta.abs() > 30.0 {
        return None;
    }
    let se = 1.0 / information.sqrt();
    Some((
        beta.exp(),
        ((beta - Z95 * se).exp(), (beta + Z95 * se).exp()),
    ))
}

/// Grambsch–Therneau test of proportional hazards for the one-covariate Cox model of
/// [`hazard_ratio`] (Grambsch & Therneau 1994, Biometrika 81:515; the score test of
/// R's `cox.zph`, survival ≥ 3.0): does the log hazard ratio drift with g(t), the
/// Kaplan–Meier transform 1 − Ŝ(t−) of the pooled data? With β̂ = ln `hr`, the score for
/// γ in β + γ·g(t) is U = Σₖ gₖ·rₖ (rₖ: Schoenfeld residual at event time k) and its
/// efficient variance Σ g²V − (Σ gV)²/ΣV (V: Breslow variance of the covariate in the risk
/// set). Returns (chi-square with 1 df, p); `None` when it cannot be computed.
pub fn proportional_hazards_test(
    a: &[(f64, bool)],
    b: &[(f64, bool)],
    hr: f64,
) -> Option<(f64, f64)> {
    let r = hr;
    if !r.is_finite() || r <= 0.0 {
        return None;
    }
    let (mut u, mut i_gg, mut i_gb, mut i_bb) = (0.0, 0.0, 0.0, 0.0);
    let mut survival = 1.0;
    for [(da, na), (db, nb)] in risk_table(a, b) {
        let (d, n) = (da + db, na + nb);
        let denominator = na * r + nb;
        if n <= 0.0 || denominator <= 0.0 {
            continue;
        }
        let g = 1.0 - survival;
        let share = na * r / denominator;
        let residual = da - d * share;
        let v = d * share * (1.0 - share);
        u += g * residual;
        i_gg += g * g * v;
        i_gb += g * v;
        i_bb += v;
        survival *= 1.0 - d / n;
    }
    if i_bb <= 0.0 {
        return None;
    }
    let variance = i_gg - i_gb * i_gb / i_bb;
    if variance <= 1e-12 * i_gg.max(1e-300) {
        return None;
    }
    let chi2 = u * u / variance;
    Some((chi2, erfc((chi2 / 2.0).sqrt())))
}

pub use crate::support::special::erfc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        // Times 1,2,2,3+,4,5+ (+ censored): S = 5/6 after 1, 5/6·3/5 = 0.5 after 2,
        // 0.5·1/2 = 0.25 after 4.
        let data = [
            (1.0, true),
            (2.0, true),
            (2.0, true),
            (3.0, false),
            (4.0, true),
            (5.0, false),
        ];
        let km = KaplanMeier::new(&data);
        assert!((km.survival_at(1.5) - 5.0 / 6.0).abs() < 1e-12);
        assert!((km.survival_at(2.0) - 0.5).abs() < 1e-12);
        assert!((km.survival_at(4.5) - 0.25).abs() < 1e-12);
        assert_eq!(km.median(), Some(2.0));
        // Area: 1·1 + 5/6·1 + 0.5·2 + 0.25·1 up to τ = 5.
        assert!((km.restricted_mean(5.0) - (1.0 + 5.0 / 6.0 + 1.0 + 0.25)).abs() < 1e-12);
    }

    #[test]
    fn a_nan_time_does_not_stall_the_estimator() {
        // NaN == NaN is false: the grouping loop once never advanced past a NaN.
        let km = KaplanMeier::new(&[(f64::NAN, true), (1.0, true), (f64::NAN, false)]);
        assert_eq!(km.n, 3);
        assert!(km.steps.len() <= 3);
    }

    #[test]
    fn all_censored_has_no_median() {
        let km = KaplanMeier::new(&[(10.0, false), (10.0, false)]);
        assert_eq!(km.median(), None);
        assert_eq!(km.restricted_mean(10.0), 10.0);
        assert_eq!(km.median_ci(), (None, None));
    }

    #[test]
    fn median_ci_brackets_the_median_of_exponential_data() {
        // 400 deterministic quantiles of Exp(1): the median ln 2 ≈ 0.693 lies in the CI,
        // and the CI has roughly the width 2·1.96·√(1/400)·ln2 ≈ 0.14 expected for it.
        let data: Vec<(f64, bool)> = (0..400)
            .map(|i| (-(1.0 - (i as f64 + 0.5) / 400.0).ln(), true))
            .collect();
        let km = KaplanMeier::new(&data);
        let (lo, hi) = km.median_ci();
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        assert!(lo < 0.693 && 0.693 < hi, "{lo} {hi}");
        assert!(hi - lo > 0.08 && hi - lo < 0.25, "{lo} {hi}");
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        // Two-sided p of z = 1.96 is 0.05.
        assert!((erfc(1.959_964 / 2f64.sqrt()) - 0.05).abs() < 1e-6);
    }

    #[test]
    fn log_rank_and_hazard_ratio_on_exponential_groups() {
        // Deterministic quantiles of Exp(1) and Exp(2): hazard ratio 2, a clear difference.
        let q = |rate: f64| -> Vec<(f64, bool)> {
            (0..300)
                .map(|i| (-(1.0 - (i as f64 + 0.5) / 300.0).ln() / rate, true))
                .collect()
        };
        let (fast, slow) = (q(2.0), q(1.0));
        let (hr, (lo, hi)) = hazard_ratio(&fast, &slow).unwrap();
        assert!(
            (hr - 2.0).abs() < 0.25 && lo < 2.0 && 2.0 < hi,
            "{hr} {lo} {hi}"
        );
        let (chi2, p) = log_rank(&fast, &slow);
        assert!(chi2 > 20.0 && p < 1e-5, "{chi2} {p}");
        // Identical groups: no difference.
        let (chi2, p) = log_rank(&slow, &slow);
        assert!(chi2 < 1e-12 && (p - 1.0).abs() < 1e-6);
        assert!((hazard_ratio(&slow, &slow).unwrap().0 - 1.0).abs() < 1e-9);
    }

    /// Deterministic quantiles of Exp(rate), `n` of them.
    fn exponential(rate: f64, n: usize) -> Vec<(f64, bool)> {
        (0..n)
            .map(|i| (-(1.0 - (i as f64 + 0.5) / n as f64).ln() / rate, true))
            .collect()
    }

    #[test]
    fn proportional_hazards_hold_for_exponential_groups() {
        let (fast, slow) = (exponential(2.0, 300), exponential(1.0, 300));
        let (hr, _) = hazard_ratio(&fast, &slow).unwrap();
        let (chi2, p) = proportional_hazards_test(&fast, &slow, hr).unwrap();
        // Exact quantiles of two exponentials have proportional hazards: no drift at all
        // beyond discreteness, far from the 3.84 of p = 0.05.
        assert!(chi2 < 1.0 && p > 0.3, "{chi2} {p}");
    }

    #[test]
    fn proportional_hazards_fail_for_crossing_curves() {
        // Group a: half progress very early (hazard high, then low); group b: a constant
        // hazard. The curves cross near t = 1; the Cox HR averages the two regimes.
        let mut a: Vec<(f64, bool)> = exponential(8.0, 150);
        a.extend(exponential(0.25, 150));
        let b = exponential(0.8, 300);
        let (hr, _) = hazard_ratio(&a, &b).unwrap();
        let (chi2, p) = proportional_hazards_test(&a, &b, hr).unwrap();
        assert!(chi2 > 20.0 && p < 1e-4, "hr {hr} chi2 {chi2} p {p}");
    }

    #[test]
    fn wilson_interval_is_sane() {
        let (lo, hi) = wilson_interval(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
        assert_eq!(wilson_interval(0, 10).0, 0.0);
    }
}
