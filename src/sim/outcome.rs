//! What one run of an arm amounts to: time to progression, time to resistance majority,
//! dose used, time on drug. The driver tracks it as the run goes.

/// Outcome of one run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunOutcome {
    /// Time of progression, or the horizon if the run is censored.
    pub ttp: f64,
    /// True if progression was observed (false: censored at the horizon).
    pub progressed: bool,
    /// First time at which resistant-role compartments make up more than half of all cells
    /// (linearly interpolated between checkpoints), if it happened.
    pub resistance_majority: Option<f64>,
    /// Per drug: cumulative dose up to the end of treatment (amount for PK drugs; level ×
    /// time for dose levels).
    pub cumulative_dose: Vec<f64>,
    /// Fraction of the time on treatment (0 to [`Self::end_of_treatment`]) during which any
    /// dose was in effect.
    pub fraction_on_drug: f64,
    /// When treatment ended: progression on the last line (unless the scenario treats
    /// beyond progression), or the horizon.
    #[serde(default)]
    pub end_of_treatment: f64,
    /// When every cell was gone (a cure), if that happened within the horizon.
    #[serde(default)]
    pub extinct_at: Option<f64>,
    /// All cells at the end of the run.
    pub final_total: f64,
    /// Resistant-role cells at the end of the run.
    pub final_resistant: f64,
    /// Treatment cycles: stretches of dosing separated by a gap with no dose in effect.
    pub cycles: u32,
    /// Doses reduced or withheld to respect a toxicity budget.
    pub clipped_doses: u32,
    /// Highest true marker at a visit up to progression, over its value at time 0.
    pub peak_marker: f64,
    /// Smallest measured marker at a visit after baseline up to progression, over the
    /// measured baseline (0 once undetected): the best overall response.
    #[serde(default = "no_response")]
    pub best_response: f64,
    /// The first visit at which the measured marker met the response criterion of the
    /// progression rule ([`crate::protocol::observe::ProgressionRule::response_fraction`]),
    /// if one did before progression.
    #[serde(default)]
    pub response_at: Option<f64>,
}

/// The best response of a run with no visit after baseline: none.
fn no_response() -> f64 {
    1.0
}

/// Accumulates the per-run outcome as the driver moves through time.
#[derive(Debug, Clone)]
pub struct OutcomeTracker {
    horizon: f64,
    resistant: Vec<bool>,
    last: Option<(f64, f64)>,
    resistance_majority: Option<f64>,
    cumulative_dose: Vec<f64>,
    covered: f64,
    covered_until: f64,
    last_total: f64,
    last_resistant: f64,
    cycles: u32,
    end_of_treatment: f64,
    extinct_at: Option<f64>,
}

impl OutcomeTracker {
    /// A tracker over `horizon`; `resistant` marks the resistant compartments.
    pub fn new(horizon: f64, resistant: Vec<bool>, n_drugs: usize) -> Self {
        OutcomeTracker {
            horizon,
            resistant,
            last: None,
            resistance_majority: None,
            cumulative_dose: vec![0.0; n_drugs],
            covered: 0.0,
            covered_until: 0.0,
            last_total: 0.0,
            last_resistant: 0.0,
            cycles: 0,
            end_of_treatment: horizon,
            extinct_at: None,
        }
    }

    /// Treatment ends at `t`: time on drug is counted up to `t` (a dose given before and
    /// still in effect counts only until then). `unused` is the part of each drug's
    /// cumulative dose that lies after `t` (dose levels cut short).
    pub fn end_treatment(&mut self, t: f64, unused: &[f64]) {
        self.end_of_treatment = t;
        if self.covered_until > t {
            self.covered -= self.covered_until - t;
            self.covered_until = t;
        }
        for (c, u) in self.cumulative_dose.iter_mut().zip(unused) {
            *c = (*c - u).max(0.0);
        }
    }

    /// Records the state at time `t` (called at every segment end, in time order).
    pub fn state(&mut self, t: f64, n: &[f64]) {
        let total: f64 = n.iter().sum();
        let resistant: f64 = n
            .iter()
            .zip(&self.resistant)
            .filter(|(_, r)| **r)
            .map(|(x, _)| x)
            .sum();
        self.last_total = total;
        self.last_resistant = resistant;
        if total <= 0.0 && self.extinct_at.is_none() {
            self.extinct_at = Some(t);
        }
        if self.resistance_majority.is_some() {
            return;
        }
        let frac = if total > 0.0 { resistant / total } else { 0.0 };
        if frac > 0.5 {
            self.resistance_majority = Some(match self.last {
                Some((t0, f0)) if f0 <= 0.5 && frac > f0 => {
                    t0 + (t - t0) * (0.5 - f0) / (frac - f0)
                }
                _ => t,
            });
        }
        self.last = Some((t, frac));
    }

    /// Records a dose given at `t`: `amount` counted in the drug's cumulative total as
    /// `weight` (the amount, or level × duration), covering [t, t + duration).
    pub fn dose(&mut self, t: f64, drug: usize, weight: f64, duration: f64) {
        if let Some(c) = self.cumulative_dose.get_mut(drug) {
            *c += weight;
        }
        let end = (t + duration).min(self.horizon);
        if self.cycles == 0 || t > self.covered_until + 1e-9 * self.horizon.max(1.0) {
            self.cycles += 1;
        }
        let start = t.max(self.covered_until);
        if end > start {
            self.covered += end - start;
        }
        self.covered_until = self.covered_until.max(end);
    }

    /// The run's outcome; `progressed_at` is the progression time, if any.
    pub fn finish(self, progressed_at: Option<f64>) -> RunOutcome {
        RunOutcome {
            ttp: progressed_at.unwrap_or(self.horizon),
            progressed: progressed_at.is_some(),
            resistance_majority: self.resistance_majority,
            cumulative_dose: self.cumulative_dose,
            fraction_on_drug: if self.end_of_treatment > 0.0 {
                self.covered / self.end_of_treatment
            } else {
                0.0
            },
            end_of_treatment: self.end_of_treatment,
            extinct_at: self.extinct_at,
            final_total: self.last_total,
            final_resistant: self.last_resistant,
            cycles: self.cycles,
            clipped_doses: 0,
            peak_marker: 0.0,
            best_response: no_response(),
            response_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_time_is_interpolated() {
        let mut o = OutcomeTracker::new(10.0, vec![false, true], 1);
        o.state(0.0, &[90.0, 10.0]);
        o.state(1.0, &[40.0, 60.0]); // fraction 0.1 → 0.6: crosses 0.5 at 0.8
        let r = o.finish(None);
        assert!((r.resistance_majority.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(r.ttp, 10.0);
        assert!(!r.progressed);
    }

    #[test]
    fn overlapping_doses_count_time_once() {
        let mut o = OutcomeTracker::new(10.0, vec![false], 2);
        o.dose(0.0, 0, 1.0, 2.0);
        o.dose(1.0, 1, 5.0, 2.0); // overlaps [1, 2)
        o.dose(9.5, 0, 1.0, 2.0); // clipped at the horizon
        let r = o.finish(Some(4.0));
        assert!((r.fraction_on_drug - 0.35).abs() < 1e-12);
        assert_eq!(r.cumulative_dose, vec![2.0, 5.0]);
        assert!(r.progressed);
        // [0, 3) is one stretch; the dose at 9.5 starts a second.
        assert_eq!(r.cycles, 2);
    }
}
