//! What a search maximises, and the evaluator that scores a schedule on fixed seeds.

use crate::error::Result;
use crate::outcome::RunOutcome;
use crate::scenario::{Arm, Scenario};
use crate::schedule::Schedule;
use crate::sim::rollouts::{RolloutSettings, run_rollouts};
use crate::sim::{RunOptions, run_deterministic};
use crate::survival::KaplanMeier;

/// A statistic of time to progression over rollouts; larger is better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Restricted mean TTP up to the horizon (mean of min(TTP, horizon)).
    RestrictedMeanTtp,
    /// Kaplan–Meier median TTP (the horizon when not reached).
    MedianTtp,
    /// P(progression-free) at a time.
    PfsAt(f64),
    /// Mean of the worst `alpha` fraction of TTPs (risk-averse).
    Cvar(f64),
}

impl Objective {
    /// The objective's value over `outcomes` (censored TTPs sit at the horizon).
    pub fn value(&self, outcomes: &[RunOutcome], horizon: f64) -> f64 {
        if outcomes.is_empty() {
            return 0.0;
        }
        match *self {
            Objective::RestrictedMeanTtp => {
                outcomes.iter().map(|o| o.ttp.min(horizon)).sum::<f64>() / outcomes.len() as f64
            }
            Objective::MedianTtp | Objective::PfsAt(_) => {
                let km = KaplanMeier::new(
                    &outcomes
                        .iter()
                        .map(|o| (o.ttp, o.progressed))
                        .collect::<Vec<_>>(),
                );
                match *self {
                    Objective::PfsAt(t) => km.survival_at(t),
                    _ => km.median().unwrap_or(horizon),
                }
            }
            Objective::Cvar(alpha) => {
                let mut ttp: Vec<f64> = outcomes.iter().map(|o| o.ttp.min(horizon)).collect();
                ttp.sort_by(f64::total_cmp);
                let k = ((alpha * ttp.len() as f64).ceil() as usize).clamp(1, ttp.len());
                ttp[..k].iter().sum::<f64>() / k as f64
            }
        }
    }
}

/// How candidates are run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Engine {
    /// The mean-field ODE: one run, no noise (fast, for smooth searches and tests).
    Deterministic,
    /// `rollouts` stochastic rollouts from `seed` (common random numbers across candidates).
    Stochastic { seed: u64, rollouts: u64 },
}

/// A schedule's score and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub value: f64,
    /// Mean cumulative dose per drug.
    pub mean_dose: Vec<f64>,
    pub outcomes: Vec<RunOutcome>,
}

/// Scores schedules of one scenario on a fixed engine and objective.
pub struct Evaluator<'a> {
    pub scenario: &'a Scenario,
    pub objective: Objective,
    pub engine: Engine,
    /// Schedules scored so far.
    pub evaluations: u64,
}

impl<'a> Evaluator<'a> {
    pub fn new(scenario: &'a Scenario, objective: Objective, engine: Engine) -> Self {
        Evaluator {
            scenario,
            objective,
            engine,
            evaluations: 0,
        }
    }

    /// Runs `schedule` and scores it.
    pub fn score(&mut self, schedule: &Schedule) -> Result<Score> {
        self.evaluations += 1;
        let arm = Arm {
            name: "candidate".to_owned(),
            description: String::new(),
            schedule: schedule.clone(),
        };
        let outcomes: Vec<RunOutcome> = match self.engine {
            Engine::Deterministic => vec![
                run_deterministic(
                    self.scenario,
                    &arm,
                    RunOptions {
                        record_every: 0.0,
                        noise: None,
                    },
                )?
                .outcome,
            ],
            Engine::Stochastic { seed, rollouts } => run_rollouts(
                self.scenario,
                &arm,
                RolloutSettings {
                    seed,
                    first: 0,
                    count: rollouts,
                    keep_trajectories: 0,
                    record_every: 0.0,
                },
            )?
            .rollouts
            .into_iter()
            .map(|r| r.outcome)
            .collect(),
        };
        let n = outcomes.len().max(1) as f64;
        let drugs = self.scenario.drugs.len();
        let mut mean_dose = vec![0.0; drugs];
        for o in &outcomes {
            for (m, d) in mean_dose.iter_mut().zip(&o.cumulative_dose) {
                *m += d / n;
            }
        }
        Ok(Score {
            value: self.objective.value(&outcomes, self.scenario.horizon),
            mean_dose,
            outcomes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ttp: f64, progressed: bool) -> RunOutcome {
        RunOutcome {
            ttp,
            progressed,
            resistance_majority: None,
            cumulative_dose: vec![],
            fraction_on_drug: 0.0,
            final_total: 0.0,
            final_resistant: 0.0,
            cycles: 0,
            clipped_doses: 0,
            peak_marker: 0.0,
        }
    }

    #[test]
    fn objectives_on_a_small_sample() {
        let o = vec![
            outcome(10.0, true),
            outcome(20.0, true),
            outcome(30.0, true),
            outcome(100.0, false),
        ];
        assert_eq!(Objective::RestrictedMeanTtp.value(&o, 100.0), 40.0);
        assert_eq!(Objective::MedianTtp.value(&o, 100.0), 20.0);
        assert_eq!(Objective::PfsAt(25.0).value(&o, 100.0), 0.5);
        // Worst quarter: the single lowest TTP; worst half: mean of 10 and 20.
        assert_eq!(Objective::Cvar(0.25).value(&o, 100.0), 10.0);
        assert_eq!(Objective::Cvar(0.5).value(&o, 100.0), 15.0);
    }
}
