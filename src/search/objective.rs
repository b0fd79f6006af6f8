//! What a search maximises, and the evaluator that scores a schedule on fixed seeds.

use crate::error::Result;
use crate::protocol::schedule::Schedule;
use crate::scenario::{Arm, Scenario};
use crate::sim::outcome::RunOutcome;
use crate::sim::rollouts::{RolloutSettings, run_rollouts};
use crate::sim::{RunOptions, run_deterministic};
use crate::stats::survival::KaplanMeier;

/// A statistic of time to progression over rollouts; larger is better.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The per-rollout quantity whose mean is the objective, where there is one: racing
    /// compares candidates rollout by rollout on it. (With censoring only at the horizon,
    /// the Kaplan–Meier P(PFS at t) is the fraction not progressed by t.)
    pub fn contribution(&self, o: &RunOutcome, horizon: f64) -> Option<f64> {
        match *self {
            Objective::RestrictedMeanTtp => Some(o.ttp.min(horizon)),
            Objective::PfsAt(t) => Some(if o.progressed && o.ttp <= t { 0.0 } else { 1.0 }),
            Objective::MedianTtp | Objective::Cvar(_) => None,
        }
    }

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
    Stochastic {
        /// Seed of the rollouts.
        seed: u64,
        /// Rollouts per candidate.
        rollouts: u64,
    },
}

/// A schedule's score and what it cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    /// The objective over the rollouts run.
    pub value: f64,
    /// Mean cumulative dose per drug.
    pub mean_dose: Vec<f64>,
    /// Each rollout's outcome (for racing and the hold-out CI).
    pub outcomes: Vec<RunOutcome>,
    /// False when racing stopped the candidate before its last rollout.
    pub complete: bool,
}

/// A one-sided bound this many standard errors above the mean paired difference must still
/// be below zero for a candidate to be stopped: a false stop has probability ≈ 0.13 % per
/// look under a normal approximation of the mean difference.
const RACE_Z: f64 = 3.0;

/// Fewest rollouts at which racing looks at a candidate (the normal approximation of a mean
/// over fewer is poor).
const RACE_MIN_ROLLOUTS: u64 = 16;

/// Scores schedules of one scenario on a fixed engine and objective.
pub struct Evaluator<'a> {
    /// The scenario candidates are judged in.
    pub scenario: &'a Scenario,
    /// What is maximised.
    pub objective: Objective,
    /// Deterministic or stochastic.
    pub engine: Engine,
    /// Schedules scored so far.
    pub evaluations: u64,
}

impl<'a> Evaluator<'a> {
    /// An evaluator of `objective` on `engine`.
    pub fn new(scenario: &'a Scenario, objective: Objective, engine: Engine) -> Self {
        Evaluator {
            scenario,
            objective,
            engine,
            evaluations: 0,
        }
    }

    /// Runs `schedule` on every rollout and scores it.
    pub fn score(&mut self, schedule: &Schedule) -> Result<Score> {
        let arm = self.scenario.candidate_arm("candidate", schedule.clone());
        self.score_arm(&arm)
    }

    /// Runs `arm` as it is (its own progression rule) on every rollout and scores it.
    pub fn score_arm(&mut self, arm: &Arm) -> Result<Score> {
        self.evaluations += 1;
        let outcomes = match self.engine {
            Engine::Deterministic => self.run_arm(arm, 0, 1)?,
            Engine::Stochastic { rollouts, .. } => self.run_arm(arm, 0, rollouts)?,
        };
        Ok(self.summarise(outcomes, true))
    }

    /// Scores `schedule` in stages (¼, ½, all of the rollouts), stopping early when it is
    /// clearly worse than `incumbent` on the same rollouts: the upper bound of the mean
    /// paired difference of per-rollout contributions, less the difference of penalties, is
    /// below zero. Falls back to [`Evaluator::score`] on the ODE, without an incumbent, or
    /// for objectives that are not a mean over rollouts (median, CVaR).
    pub fn score_raced(
        &mut self,
        schedule: &Schedule,
        incumbent: Option<&Score>,
        penalty: &dyn Fn(&Score) -> f64,
    ) -> Result<Score> {
        let arm = self.scenario.candidate_arm("candidate", schedule.clone());
        self.score_arm_raced(&arm, incumbent, penalty)
    }

    /// [`Evaluator::score_raced`] of `arm` as it is (its own progression rule).
    pub fn score_arm_raced(
        &mut self,
        arm: &Arm,
        incumbent: Option<&Score>,
        penalty: &dyn Fn(&Score) -> f64,
    ) -> Result<Score> {
        let (Engine::Stochastic { rollouts, .. }, Some(best)) = (self.engine, incumbent) else {
            return self.score_arm(arm);
        };
        let horizon = self.scenario.horizon;
        let objective = self.objective;
        let contribution = |o: &RunOutcome| objective.contribution(o, horizon);
        if !best.complete
            || best.outcomes.len() as u64 != rollouts
            || best.outcomes.first().and_then(contribution).is_none()
        {
            return self.score_arm(arm);
        }
        self.evaluations += 1;
        let mut stages: Vec<u64> = [rollouts / 4, rollouts / 2]
            .into_iter()
            .filter(|&m| m >= RACE_MIN_ROLLOUTS)
            .collect();
        stages.push(rollouts);
        stages.dedup();
        let best_penalty = penalty(best);
        let mut outcomes: Vec<RunOutcome> = Vec::with_capacity(rollouts as usize);
        for end in stages {
            let done = outcomes.len() as u64;
            outcomes.extend(self.run_arm(arm, done, end - done)?);
            if end == rollouts {
                break;
            }
            let diffs: Vec<f64> = outcomes
                .iter()
                .zip(&best.outcomes)
                .filter_map(|(a, b)| Some(contribution(a)? - contribution(b)?))
                .collect();
            let m = diffs.len() as f64;
            let mean = diffs.iter().sum::<f64>() / m;
            let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0);
            let partial = self.summarise(outcomes.clone(), false);
            let upper = mean - (penalty(&partial) - best_penalty) + RACE_Z * (var / m).sqrt();
            if upper < 0.0 {
                return Ok(partial);
            }
        }
        Ok(self.summarise(outcomes, true))
    }

    /// Outcomes of rollouts `first .. first + count` of `arm` (the one ODE run on the
    /// deterministic engine).
    fn run_arm(&self, arm: &Arm, first: u64, count: u64) -> Result<Vec<RunOutcome>> {
        Ok(match self.engine {
            Engine::Deterministic => vec![
                run_deterministic(
                    self.scenario,
                    arm,
                    RunOptions {
                        record_every: 0.0,
                        noise: None,
                    },
                )?
                .outcome,
            ],
            Engine::Stochastic { seed, .. } => run_rollouts(
                self.scenario,
                arm,
                RolloutSettings {
                    seed,
                    first,
                    count,
                    keep_trajectories: 0,
                    record_every: 0.0,
                },
            )?
            .rollouts
            .into_iter()
            .map(|r| r.outcome)
            .collect(),
        })
    }

    fn summarise(&self, outcomes: Vec<RunOutcome>, complete: bool) -> Score {
        let n = outcomes.len().max(1) as f64;
        let mut mean_dose = vec![0.0; self.scenario.drugs.len()];
        for o in &outcomes {
            for (m, d) in mean_dose.iter_mut().zip(&o.cumulative_dose) {
                *m += d / n;
            }
        }
        Score {
            value: self.objective.value(&outcomes, self.scenario.horizon),
            mean_dose,
            outcomes,
            complete,
        }
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
            end_of_treatment: ttp,
            extinct_at: None,
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
