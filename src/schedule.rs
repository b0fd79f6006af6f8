//! Dosing schedules behind one [`Policy`] trait.
//!
//! A policy is asked for doses at its own decision times and is shown each visit's observed
//! marker. It never sees the true cell counts, so a closed-loop rule here can be run in a
//! clinic as written.

use crate::pk::Dose;

/// What a policy learns at a visit: the measured marker, nothing else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub time: f64,
    /// The measured marker (with noise, if the scenario has any).
    pub value: f64,
    /// False when the value is below the detection limit.
    pub detected: bool,
}

/// A dosing rule.
pub trait Policy {
    /// The `k`-th time (k = 0, 1, …) at which the policy decides; strictly increasing.
    /// `None`: no more decisions.
    fn decision_time(&self, k: usize) -> Option<f64>;

    /// Called at every visit, before any decision at the same time.
    fn observe(&mut self, _obs: &Observation) {}

    /// Appends the doses given at decision time `t`.
    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>);
}

/// A resolved schedule of one drug, ready to make policies from.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Continuous {
        drug: usize,
        dose: f64,
        interval: f64,
    },
    Intermittent {
        drug: usize,
        dose: f64,
        interval: f64,
        on: f64,
        off: f64,
        start_delay: f64,
    },
    Adaptive {
        drug: usize,
        dose: f64,
        interval: f64,
        stop_below: f64,
        resume_above: f64,
    },
}

impl Schedule {
    /// A fresh policy in its initial state (one per simulated patient).
    pub fn policy(&self) -> Box<dyn Policy + Send> {
        match *self {
            Schedule::Continuous {
                drug,
                dose,
                interval,
            } => Box::new(Continuous {
                drug,
                dose,
                interval,
            }),
            Schedule::Intermittent {
                drug,
                dose,
                interval,
                on,
                off,
                start_delay,
            } => Box::new(Intermittent {
                drug,
                dose,
                interval,
                on,
                off,
                start_delay,
            }),
            Schedule::Adaptive {
                drug,
                dose,
                interval,
                stop_below,
                resume_above,
            } => Box::new(Adaptive {
                drug,
                dose,
                interval,
                stop_below,
                resume_above,
                baseline: None,
                on: true,
            }),
        }
    }
}

/// The same dose every `interval`.
#[derive(Debug, Clone)]
pub struct Continuous {
    drug: usize,
    dose: f64,
    interval: f64,
}

impl Policy for Continuous {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        doses.push(Dose {
            drug: self.drug,
            amount: self.dose,
            duration: self.interval,
        });
    }
}

/// `on` time units of dosing, then `off` without, repeated, after `start_delay`.
#[derive(Debug, Clone)]
pub struct Intermittent {
    drug: usize,
    dose: f64,
    interval: f64,
    on: f64,
    off: f64,
    start_delay: f64,
}

/// Slack for comparing times built from sums of user-given intervals.
const TIME_EPS: f64 = 1e-9;

impl Policy for Intermittent {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        if t + TIME_EPS < self.start_delay {
            return;
        }
        let cycle = self.on + self.off;
        let phase = (t - self.start_delay).max(0.0) % cycle;
        // A phase within rounding of the cycle length is the start of the next cycle.
        let phase = if cycle - phase < TIME_EPS { 0.0 } else { phase };
        let remaining_on = self.on - phase;
        if remaining_on > TIME_EPS {
            doses.push(Dose {
                drug: self.drug,
                amount: self.dose,
                // A dose level lasts to the end of the on-period at most.
                duration: self.interval.min(remaining_on),
            });
        }
    }
}

/// Zhang et al. 2017/2022 adaptive rule: dose until the marker falls below
/// `stop_below × baseline`, pause until it is back to `resume_above × baseline`, repeat.
/// The baseline is the first observation (the visit at treatment start).
#[derive(Debug, Clone)]
pub struct Adaptive {
    drug: usize,
    dose: f64,
    interval: f64,
    stop_below: f64,
    resume_above: f64,
    baseline: Option<f64>,
    on: bool,
}

impl Policy for Adaptive {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        let Some(baseline) = self.baseline else {
            self.baseline = Some(obs.value);
            return;
        };
        if self.on && obs.value < self.stop_below * baseline {
            self.on = false;
        } else if !self.on && obs.value >= self.resume_above * baseline {
            self.on = true;
        }
    }

    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        if self.on {
            doses.push(Dose {
                drug: self.drug,
                amount: self.dose,
                duration: self.interval,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doses_over(policy: &mut dyn Policy, horizon: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut k = 0;
        while let Some(t) = policy.decision_time(k) {
            if t >= horizon {
                break;
            }
            let mut d = Vec::new();
            policy.decide(t, &mut d);
            out.extend(d.iter().map(|x| (t, x.duration)));
            k += 1;
        }
        out
    }

    #[test]
    fn intermittent_doses_on_days_only() {
        let s = Schedule::Intermittent {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            on: 3.0,
            off: 2.0,
            start_delay: 1.0,
        };
        let days: Vec<f64> = doses_over(s.policy().as_mut(), 11.0)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(days, vec![1.0, 2.0, 3.0, 6.0, 7.0, 8.0]);
    }

    #[test]
    fn intermittent_clips_last_dose_to_on_period() {
        let s = Schedule::Intermittent {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            on: 1.5,
            off: 1.5,
            start_delay: 0.0,
        };
        let d = doses_over(s.policy().as_mut(), 3.0);
        assert_eq!(d, vec![(0.0, 1.0), (1.0, 0.5)]);
    }

    #[test]
    fn adaptive_stops_and_resumes_on_observed_marker() {
        let s = Schedule::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: 0.5,
            resume_above: 1.0,
        };
        let mut p = s.policy();
        let seen = |v: f64, p: &mut Box<dyn Policy + Send>| {
            p.observe(&Observation {
                time: 0.0,
                value: v,
                detected: true,
            });
            let mut d = Vec::new();
            p.decide(0.0, &mut d);
            !d.is_empty()
        };
        assert!(seen(100.0, &mut p)); // baseline
        assert!(seen(60.0, &mut p));
        assert!(!seen(49.0, &mut p)); // below 50 %: stop
        assert!(!seen(99.0, &mut p)); // not yet back at baseline
        assert!(seen(100.0, &mut p)); // resume
    }
}
