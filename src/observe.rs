//! What the clinic sees: a marker measured at visits (weighted burden, with optional
//! log-normal noise and a detection limit), and the rules that call progression from it.

use crate::rng::{Key, ROLLOUT_LEVEL_STEP};
use crate::schedule::Observation;
use crate::sim::NoiseKey;
use rand_distr::{Distribution, StandardNormal};

/// Channel of the measurement-noise draws in the rollout-level streams.
const NOISE_CHANNEL: u64 = 1;

/// How the marker is measured.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerModel {
    /// Weight of each compartment in the marker.
    pub weights: Vec<f64>,
    /// Visit interval; the first visit is at time 0.
    pub every: f64,
    /// Coefficient of variation of multiplicative log-normal noise (0: exact).
    pub noise_cv: f64,
    pub detection_limit: f64,
}

impl MarkerModel {
    /// The true (noise-free) marker of state `n`.
    pub fn true_value(&self, n: &[f64]) -> f64 {
        self.weights.iter().zip(n).map(|(w, x)| w * x).sum()
    }

    /// The observation at visit number `visit` (time `time`). With a noise key and a
    /// non-zero CV, the value is multiplied by a mean-one log-normal factor drawn from a
    /// stream keyed by (seed, rollout, visit) alone, so every arm sees the same noise at the
    /// same visit.
    pub fn observe(
        &self,
        n: &[f64],
        time: f64,
        visit: u64,
        noise: Option<NoiseKey>,
    ) -> Observation {
        let mut value = self.true_value(n);
        if let Some(key) = noise
            && self.noise_cv > 0.0
        {
            let sigma2 = (1.0 + self.noise_cv * self.noise_cv).ln();
            let mut rng = Key {
                seed: key.seed,
                rollout: key.rollout,
                step: ROLLOUT_LEVEL_STEP,
                unit: visit,
                channel: NOISE_CHANNEL,
            }
            .stream();
            let z: f64 = StandardNormal.sample(&mut rng);
            value *= (sigma2.sqrt() * z - 0.5 * sigma2).exp();
        }
        Observation {
            time,
            value,
            detected: value >= self.detection_limit,
        }
    }
}

/// When progression is called.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProgressionRule {
    /// Marker ≥ factor × nadir (nadir includes baseline) and above the detection limit.
    Recist { factor: f64 },
    /// Marker > factor × baseline (Strobl 2021 uses 1.2).
    AboveBaseline { factor: f64 },
}

/// Follows the observations of one run and calls progression at the first visit that meets
/// the rule.
#[derive(Debug, Clone)]
pub struct ProgressionTracker {
    rule: ProgressionRule,
    baseline: Option<f64>,
    nadir: f64,
    progressed_at: Option<f64>,
}

impl ProgressionTracker {
    pub fn new(rule: ProgressionRule) -> Self {
        ProgressionTracker {
            rule,
            baseline: None,
            nadir: f64::INFINITY,
            progressed_at: None,
        }
    }

    /// Takes one visit; returns true if progression is called at this visit.
    pub fn update(&mut self, obs: &Observation) -> bool {
        if self.progressed_at.is_some() {
            return false;
        }
        let Some(baseline) = self.baseline else {
            self.baseline = Some(obs.value);
            self.nadir = obs.value;
            return false;
        };
        let progressed = match self.rule {
            ProgressionRule::Recist { factor } => obs.detected && obs.value >= factor * self.nadir,
            ProgressionRule::AboveBaseline { factor } => obs.value > factor * baseline,
        };
        self.nadir = self.nadir.min(obs.value);
        if progressed {
            self.progressed_at = Some(obs.time);
        }
        progressed
    }

    pub fn progressed_at(&self) -> Option<f64> {
        self.progressed_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(time: f64, value: f64) -> Observation {
        Observation {
            time,
            value,
            detected: value >= 10.0,
        }
    }

    #[test]
    fn recist_measures_from_nadir_and_needs_detection() {
        let mut p = ProgressionTracker::new(ProgressionRule::Recist { factor: 1.2 });
        assert!(!p.update(&obs(0.0, 100.0)));
        assert!(!p.update(&obs(1.0, 5.0))); // nadir 5, below detection
        assert!(!p.update(&obs(2.0, 8.0))); // +60 % but not detected
        assert!(p.update(&obs(3.0, 12.0)));
        assert_eq!(p.progressed_at(), Some(3.0));
    }

    #[test]
    fn above_baseline_ignores_nadir() {
        let mut p = ProgressionTracker::new(ProgressionRule::AboveBaseline { factor: 1.2 });
        p.update(&obs(0.0, 100.0));
        assert!(!p.update(&obs(1.0, 20.0)));
        assert!(!p.update(&obs(2.0, 120.0)));
        assert!(p.update(&obs(3.0, 121.0)));
    }

    fn key(seed: u64) -> Option<NoiseKey> {
        Some(NoiseKey { seed, rollout: 0 })
    }

    #[test]
    fn noise_is_keyed_by_visit_and_mean_one() {
        let m = MarkerModel {
            weights: vec![1.0],
            every: 1.0,
            noise_cv: 0.3,
            detection_limit: 0.0,
        };
        let a = m.observe(&[100.0], 0.0, 7, key(1)).value;
        let b = m.observe(&[100.0], 0.0, 7, key(1)).value;
        assert_eq!(a, b);
        assert_ne!(a, m.observe(&[100.0], 0.0, 8, key(1)).value);
        // Mean of 20000 mean-one log-normal factors with CV 0.3: standard error
        // 0.3/√20000 ≈ 0.0021, so 5 SE ≈ 0.011.
        let mean: f64 = (0..20_000)
            .map(|v| m.observe(&[1.0], 0.0, v, key(3)).value)
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - 1.0).abs() < 0.011, "mean {mean}");
    }
}
