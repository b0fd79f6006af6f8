//! Kaplan–Meier estimation for time-to-event outcomes censored at the horizon.

/// One step of the Kaplan–Meier curve: at `time`, `events` of `at_risk` subjects progressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KmStep {
    pub time: f64,
    pub at_risk: usize,
    pub events: usize,
    pub censored: usize,
    /// Survival just after `time`.
    pub survival: f64,
    /// Pointwise 95 % confidence band (log–log transform, Greenwood variance).
    pub lower: f64,
    pub upper: f64,
}

/// A Kaplan–Meier curve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KaplanMeier {
    pub steps: Vec<KmStep>,
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
            while i < sorted.len() && sorted[i].0 == time {
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
    fn wilson_interval_is_sane() {
        let (lo, hi) = wilson_interval(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
        assert_eq!(wilson_interval(0, 10).0, 0.0);
    }
}
