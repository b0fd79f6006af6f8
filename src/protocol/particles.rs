//! A particle filter over the hidden compartments: a cloud of hypotheses about the patient
//! (each a model with its own parameters and counts, [`Forecaster`]), moved on with the
//! doses given, weighted by how likely each makes the measured marker, and resampled when
//! the weight gathers on a few.
//!
//! The hypotheses move between visits on the deterministic engine, or on the stochastic one
//! (each on its own streams, re-keyed when resampling copies it); what keeps the cloud from
//! collapsing onto a few of them is the jitter after each resampling (a regularised particle
//! filter: every count multiplied by a mean-one log-normal factor), and, when no hypothesis explains
//! a measurement at all, a reset that rescales every hypothesis to the measured marker and
//! jitters harder. Every random number comes from streams keyed by the filter's key, the
//! visit and the particle, so a run gives the same cloud on any thread.

use crate::model::pk::Dose;
use crate::protocol::forecast::Forecaster;
use crate::protocol::observe::{MarkerModel, Observation};
use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP, Stream};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// Channels of the filter's keyed streams.
const RESAMPLE_CHANNEL: u64 = 0x5245_5341_4d50; // "RESAMP"
const JITTER_CHANNEL: u64 = 0x4a49_5454_4552; // "JITTER"
const REKEY_CHANNEL: u64 = 0x0052_454b_4559; // "REKEY"

/// The filter counts as collapsed when even the likeliest hypothesis puts the measurement
/// more than this many standard deviations (of the log marker) away: none explains it.
pub const COLLAPSE_Z: f64 = 4.0;

/// Resample when the effective sample size falls below this share of the particles.
pub const RESAMPLE_BELOW: f64 = 0.5;

/// What one measurement did to the cloud.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Update {
    /// Effective sample size after weighting (before any resampling).
    pub ess: f64,
    /// The cloud was resampled (and jittered).
    pub resampled: bool,
    /// No hypothesis explained the measurement: the cloud was reset to it.
    pub collapsed: bool,
}

/// The hypotheses and their weights.
pub struct Cloud {
    particles: Vec<Box<dyn Forecaster>>,
    /// Normalised weights.
    weights: Vec<f64>,
    /// Log-normal sigma of the jitter after resampling.
    jitter: f64,
    /// Log-normal sigma of the measurement as the filter reads it.
    sigma: f64,
    key: u64,
}

impl Cloud {
    /// A cloud of `particles` of equal weight; `jitter` and `likelihood_cv` are CVs of
    /// mean-one log-normal factors; `key` keys the filter's streams.
    pub fn new(
        particles: Vec<Box<dyn Forecaster>>,
        jitter: f64,
        likelihood_cv: f64,
        key: u64,
    ) -> Self {
        let n = particles.len().max(1);
        Cloud {
            weights: vec![1.0 / n as f64; particles.len()],
            particles,
            jitter: cv_sigma(jitter),
            sigma: cv_sigma(likelihood_cv),
            key,
        }
    }

    /// Number of hypotheses.
    pub fn len(&self) -> usize {
        self.particles.len()
    }

    /// Whether the cloud has no hypotheses.
    pub fn is_empty(&self) -> bool {
        self.particles.is_empty()
    }

    /// Every hypothesis moved on to `t`; one whose model fails loses its weight.
    pub fn advance_to(&mut self, t: f64) {
        for (p, w) in self.particles.iter_mut().zip(&mut self.weights) {
            if *w > 0.0 && p.advance_to(t).is_err() {
                *w = 0.0;
            }
        }
    }

    /// `dose` given to every hypothesis at its current time.
    pub fn give(&mut self, dose: &Dose) {
        for p in &mut self.particles {
            p.give(dose);
        }
    }

    /// Effective sample size, 1 / Σ w².
    pub fn ess(&self) -> f64 {
        let s: f64 = self.weights.iter().map(|w| w * w).sum();
        if s > 0.0 { 1.0 / s } else { 0.0 }
    }

    /// Takes the measurement `obs` of visit `visit` (the cloud already at its time): weights
    /// by its likelihood, then resamples and jitters if the weight has gathered on few, or
    /// resets to the measurement if no hypothesis explains it.
    pub fn update(&mut self, obs: &Observation, marker: &MarkerModel, visit: u64) -> Update {
        let log_l: Vec<f64> = self
            .particles
            .iter()
            .map(|p| log_likelihood(obs, p.marker(), self.sigma, marker.detection_limit))
            .collect();
        let best = self
            .weights
            .iter()
            .zip(&log_l)
            .filter(|(w, _)| **w > 0.0)
            .map(|(_, l)| *l)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        if best.is_finite() {
            for (w, l) in self.weights.iter_mut().zip(&log_l) {
                *w *= (l - best).exp();
                total += *w;
            }
        }
        let n = self.particles.len() as f64;
        if !(total > 0.0 && total.is_finite()) {
            // Nothing explains the measurement (or every model failed): start from equal
            // weights, every hypothesis rescaled to it.
            self.weights.iter_mut().for_each(|w| *w = 1.0 / n);
            self.reset_to(obs, visit);
            return Update {
                ess: 0.0,
                resampled: true,
                collapsed: true,
            };
        }
        self.weights.iter_mut().for_each(|w| *w /= total);
        let ess = self.ess();
        let collapsed = best < -0.5 * COLLAPSE_Z * COLLAPSE_Z;
        let resampled = collapsed || ess < RESAMPLE_BELOW * n;
        if resampled {
            self.resample(visit);
            if collapsed {
                self.reset_to(obs, visit);
            } else {
                self.jitter(visit, self.jitter);
            }
        }
        Update {
            ess,
            resampled,
            collapsed,
        }
    }

    /// Every hypothesis rescaled to the measured marker (when it was detected) and
    /// jittered three times as hard as usual: their sizes agree with the measurement, their
    /// make-up keeps its spread.
    fn reset_to(&mut self, obs: &Observation, visit: u64) {
        if obs.detected && obs.value > 0.0 {
            for p in &mut self.particles {
                p.rescale(obs.value);
            }
        }
        self.jitter(visit, 3.0 * self.jitter.max(0.05));
    }

    /// Systematic resampling: one uniform for the whole cloud, from the visit's stream.
    fn resample(&mut self, visit: u64) {
        let u: f64 = self.stream(visit, 0, RESAMPLE_CHANNEL).random();
        let picks = systematic(&self.weights, self.particles.len(), u);
        let mut fresh: Vec<Box<dyn Forecaster>> = picks
            .iter()
            .map(|&i| self.particles[i].boxed_clone())
            .collect();
        // Copies of one hypothesis on the stochastic engine must not share a future.
        for (i, p) in fresh.iter_mut().enumerate() {
            p.rekey(
                Key {
                    seed: self.key,
                    rollout: visit,
                    step: ROLLOUT_LEVEL_STEP,
                    unit: i as u64,
                    channel: REKEY_CHANNEL,
                }
                .digest(),
            );
        }
        self.particles = fresh;
        let n = self.particles.len() as f64;
        self.weights.iter_mut().for_each(|w| *w = 1.0 / n);
    }

    /// Every count of every hypothesis multiplied by a mean-one log-normal factor.
    fn jitter(&mut self, visit: u64, sigma: f64) {
        if sigma <= 0.0 {
            return;
        }
        for i in 0..self.particles.len() {
            let mut rng = self.stream(visit, i as u64, JITTER_CHANNEL);
            for x in self.particles[i].state_mut() {
                let z: f64 = StandardNormal.sample(&mut rng);
                *x *= (sigma * z - 0.5 * sigma * sigma).exp();
            }
        }
    }

    fn stream(&self, visit: u64, unit: u64, channel: u64) -> Stream {
        Key {
            seed: self.key,
            rollout: visit,
            step: ROLLOUT_LEVEL_STEP,
            unit,
            channel,
        }
        .stream()
    }

    /// `m` equally weighted copies drawn from the cloud by systematic resampling with
    /// uniform `u`, on the deterministic engine (what a planner simulates).
    pub fn draw(&self, m: usize, u: f64) -> Vec<Box<dyn Forecaster>> {
        systematic(&self.weights, m, u)
            .into_iter()
            .map(|i| self.particles[i].planning_copy())
            .collect()
    }

    /// The weighted quantiles `qs` of compartment `c`'s count.
    pub fn quantiles(&self, c: usize, qs: &[f64]) -> Vec<f64> {
        let mut pairs: Vec<(f64, f64)> = self
            .particles
            .iter()
            .zip(&self.weights)
            .map(|(p, &w)| (p.state().get(c).copied().unwrap_or(f64::NAN), w))
            .filter(|(x, w)| x.is_finite() && *w > 0.0)
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        qs.iter()
            .map(|&q| {
                let mut acc = 0.0;
                for &(x, w) in &pairs {
                    acc += w;
                    if acc >= q * total {
                        return x;
                    }
                }
                pairs.last().map_or(f64::NAN, |p| p.0)
            })
            .collect()
    }
}

/// Indices of `m` draws from `weights` (normalised) by systematic resampling with offset
/// `u` in [0, 1): draw k takes the particle whose cumulative weight first passes (u + k)/m.
pub fn systematic(weights: &[f64], m: usize, u: f64) -> Vec<usize> {
    let mut picks = Vec::with_capacity(m);
    if weights.is_empty() {
        return picks;
    }
    let total: f64 = weights.iter().sum();
    let mut acc = weights[0] / total;
    let mut i = 0;
    for k in 0..m {
        let target = (u + k as f64) / m as f64;
        while acc < target && i + 1 < weights.len() {
            i += 1;
            acc += weights[i] / total;
        }
        picks.push(i);
    }
    picks
}

/// Log-normal sigma of a mean-one factor with coefficient of variation `cv`.
pub fn cv_sigma(cv: f64) -> f64 {
    (1.0 + cv * cv).ln().sqrt()
}

/// Log-likelihood of measurement `obs` if the true marker is `m`: the marker model's
/// mean-one log-normal error with log-sd `sigma`; below the detection limit `limit`, the
/// probability of reading below it.
pub fn log_likelihood(obs: &Observation, m: f64, sigma: f64, limit: f64) -> f64 {
    if !(m > 0.0 && m.is_finite()) {
        return if obs.detected { f64::NEG_INFINITY } else { 0.0 };
    }
    let shift = 0.5 * sigma * sigma;
    if obs.detected {
        let z = (obs.value.ln() - m.ln() + shift) / sigma;
        -0.5 * z * z
    } else {
        let z = (limit.ln() - m.ln() + shift) / sigma;
        crate::support::special::normal_cdf(z).max(1e-300).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_follows_the_weights() {
        // With weights 0.5, 0.25, 0.25 and 4 draws, each particle gets within one of
        // 4 × its weight, whatever the offset.
        let w = [0.5, 0.25, 0.25];
        for u in [0.0, 0.3, 0.99] {
            let picks = systematic(&w, 4, u);
            for (i, wi) in w.iter().enumerate() {
                let count = picks.iter().filter(|&&p| p == i).count() as f64;
                assert!((count - 4.0 * wi).abs() <= 1.0, "u {u}: {picks:?}");
            }
        }
    }

    #[test]
    fn likelihood_peaks_where_the_marker_matches() {
        let obs = Observation {
            time: 0.0,
            value: 2.0,
            detected: true,
        };
        let s = cv_sigma(0.1);
        // The log-normal's median is m·exp(−σ²/2): the peak sits just above the reading.
        let at = |m: f64| log_likelihood(&obs, m, s, 0.0);
        assert!(at(2.0 * (0.5 * s * s).exp()).abs() < 1e-12);
        assert!(at(1.5) < at(2.0) && at(3.0) < at(2.0));
        let below = Observation {
            detected: false,
            value: 0.5,
            ..obs
        };
        // Undetected: likely for a marker well under the limit, unlikely far above it.
        assert!(log_likelihood(&below, 0.1, s, 1.0) > -1e-6);
        assert!(log_likelihood(&below, 10.0, s, 1.0) < -50.0);
    }
}
