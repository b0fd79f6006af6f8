//! What a search maximises, and the evaluator that scores a schedule on fixed seeds.

use super::robust::{Measure, Robust};
use crate::error::{Error, Result};
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
    /// Each rollout's outcome (for racing and the hold-out CI); with a robust score, every
    /// point's rollouts in turn (the same number at each point).
    pub outcomes: Vec<RunOutcome>,
    /// False when racing stopped the candidate before its last rollout.
    pub complete: bool,
    /// With a robust score: the objective at each point of uncertainty, in the points'
    /// order (`value` combines them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<f64>,
}

impl Score {
    /// Each point's rollouts (one slice without a robust score).
    pub fn by_point(&self) -> Vec<&[RunOutcome]> {
        let p = self.points.len().max(1);
        let n = self.outcomes.len() / p;
        if n == 0 {
            return vec![&self.outcomes[..]; p];
        }
        self.outcomes.chunks(n).take(p).collect()
    }
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
    /// Score at these points of uncertainty instead of the scenario alone.
    robust: Option<&'a Robust>,
    /// The standard of care a regret is measured against, and its score at the points once
    /// known.
    continuous: Option<Schedule>,
    reference: Option<Score>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator of `objective` on `engine`.
    pub fn new(scenario: &'a Scenario, objective: Objective, engine: Engine) -> Self {
        Evaluator {
            scenario,
            objective,
            engine,
            evaluations: 0,
            robust: None,
            continuous: None,
            reference: None,
        }
    }

    /// This evaluator scoring at the points of `robust` (if given), regrets measured against
    /// `continuous`.
    pub fn with_robust(mut self, robust: Option<&'a Robust>, continuous: Schedule) -> Self {
        self.robust = robust;
        self.continuous = Some(continuous);
        self
    }

    /// This evaluator with the standard of care's score at the points already known (from
    /// [`Evaluator::reference`] of an evaluator on the same engine).
    pub fn with_reference(mut self, reference: Option<Score>) -> Self {
        self.reference = reference;
        self
    }

    /// The robust setting scored at, if any.
    pub fn robust(&self) -> Option<&'a Robust> {
        self.robust
    }

    /// Continuous dosing's score at the points (its `points` are the values): what a regret
    /// is measured against, rollout by rollout (`None` unless the measure is a regret).
    /// Computed once, not counted as an evaluation.
    pub fn reference(&mut self) -> Result<Option<Score>> {
        self.ensure_reference()?;
        Ok(self.reference.clone())
    }

    /// Computes [`Evaluator::reference`] if the measure needs it and it is not known yet.
    fn ensure_reference(&mut self) -> Result<()> {
        let Some(robust) = self.robust.filter(|r| r.measure == Measure::Regret) else {
            return Ok(());
        };
        if self.reference.is_none() {
            let schedule = self.continuous.clone().ok_or_else(|| {
                Error::Internal("a regret needs the continuous schedule".to_owned())
            })?;
            let arm = self.scenario.candidate_arm("continuous", schedule);
            let per_point = self.run_points(&arm, 0, self.rollouts())?;
            let values = robust
                .points
                .iter()
                .zip(&per_point)
                .map(|(p, o)| self.objective.value(o, p.scenario.horizon))
                .collect();
            let mut score = self.summarise(per_point, true);
            score.points = values;
            score.value = 0.0;
            self.reference = Some(score);
        }
        Ok(())
    }

    /// Continuous dosing's value at each point, once known (empty otherwise).
    fn reference_values(&self) -> Vec<f64> {
        self.reference
            .as_ref()
            .map_or_else(Vec::new, |c| c.points.clone())
    }

    /// Rollouts per point of a complete score.
    fn rollouts(&self) -> u64 {
        match self.engine {
            Engine::Deterministic => 1,
            Engine::Stochastic { rollouts, .. } => rollouts,
        }
    }

    /// The per-rollout series whose mean is the score, for paired comparisons (racing, the
    /// hold-out CI): each rollout's contribution; with a robust score, the mean over points
    /// (mean measure) or the contribution at the point that decides it (worst case), less
    /// continuous dosing's on the same rollout there (regret). `None` where the score is not
    /// such a mean (median, CVaR, a quantile over points).
    pub fn series(&self, score: &Score) -> Option<Vec<f64>> {
        let contribution = |o: &RunOutcome, horizon: f64| self.objective.contribution(o, horizon);
        let Some(robust) = self.robust else {
            let horizon = self.scenario.horizon;
            return score
                .outcomes
                .iter()
                .map(|o| contribution(o, horizon))
                .collect();
        };
        let by_point = score.by_point();
        let reference = self.reference_values();
        let horizon = |p: usize| robust.points[p].scenario.horizon;
        match robust.measure {
            Measure::Mean => {
                let n = by_point.first().map_or(0, |o| o.len());
                (0..n)
                    .map(|r| {
                        let sum = by_point
                            .iter()
                            .enumerate()
                            .map(|(p, o)| contribution(&o[r], horizon(p)))
                            .sum::<Option<f64>>()?;
                        Some(sum / by_point.len() as f64)
                    })
                    .collect()
            }
            Measure::Worst | Measure::Regret => {
                let at = super::robust::critical(robust.measure, &score.points, &reference)?;
                let h = horizon(at);
                let own = by_point.get(at)?.iter().map(|o| contribution(o, h));
                match (robust.measure, &self.reference) {
                    (Measure::Regret, Some(c)) => {
                        let theirs = c.by_point().get(at)?.iter().map(|o| contribution(o, h));
                        own.zip(theirs).map(|(a, b)| Some(a? - b?)).collect()
                    }
                    _ => own.collect(),
                }
            }
            Measure::Quantile(_) => None,
        }
    }

    /// Runs `schedule` on every rollout and scores it.
    pub fn score(&mut self, schedule: &Schedule) -> Result<Score> {
        let arm = self.scenario.candidate_arm("candidate", schedule.clone());
        self.score_arm(&arm)
    }

    /// Runs `arm` as it is (its own progression rule) on every rollout and scores it.
    pub fn score_arm(&mut self, arm: &Arm) -> Result<Score> {
        self.ensure_reference()?;
        self.evaluations += 1;
        let outcomes = self.run_points(arm, 0, self.rollouts())?;
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
        let points = self.robust.map_or(1, |r| r.points.len());
        if !best.complete || best.outcomes.len() as u64 != rollouts * points as u64 {
            return self.score_arm(arm);
        }
        self.ensure_reference()?;
        let Some(best_series) = self.series(best) else {
            return self.score_arm(arm);
        };
        self.evaluations += 1;
        let mut stages: Vec<u64> = [rollouts / 4, rollouts / 2]
            .into_iter()
            .filter(|&m| m >= RACE_MIN_ROLLOUTS)
            .collect();
        stages.push(rollouts);
        stages.dedup();
        let best_penalty = penalty(best);
        let mut outcomes: Vec<Vec<RunOutcome>> = vec![Vec::new(); points];
        for end in stages {
            let done = outcomes[0].len() as u64;
            for (all, more) in outcomes
                .iter_mut()
                .zip(self.run_points(arm, done, end - done)?)
            {
                all.extend(more);
            }
            if end == rollouts {
                break;
            }
            let partial = self.summarise(outcomes.clone(), false);
            // With a robust score: the candidate at the point that decides its partial score
            // against the incumbent at its own (the candidate's score is at most its value
            // there), paired rollout by rollout.
            let Some(series) = self.series(&partial) else {
                continue;
            };
            let diffs: Vec<f64> = series
                .iter()
                .zip(&best_series)
                .map(|(a, b)| a - b)
                .collect();
            let m = diffs.len() as f64;
            let mean = diffs.iter().sum::<f64>() / m;
            let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0);
            let upper = mean - (penalty(&partial) - best_penalty) + RACE_Z * (var / m).sqrt();
            if upper < 0.0 {
                return Ok(partial);
            }
        }
        Ok(self.summarise(outcomes, true))
    }

    /// Outcomes of rollouts `first .. first + count` of `arm` at each point (the scenario
    /// alone without a robust setting): at a point, a scenario arm of the same name and
    /// schedule, else the schedule as that point's scenario judges a candidate.
    fn run_points(&self, arm: &Arm, first: u64, count: u64) -> Result<Vec<Vec<RunOutcome>>> {
        let Some(robust) = self.robust else {
            return Ok(vec![self.run_arm(self.scenario, arm, first, count)?]);
        };
        robust
            .points
            .iter()
            .map(|p| {
                let own = p
                    .scenario
                    .arm(&arm.name)
                    .filter(|a| a.schedule == arm.schedule)
                    .cloned();
                let at = own
                    .unwrap_or_else(|| p.scenario.candidate_arm(&arm.name, arm.schedule.clone()));
                self.run_arm(&p.scenario, &at, first, count)
                    .map_err(|e| e.in_context(&format!("at {}", p.label)))
            })
            .collect()
    }

    /// Outcomes of rollouts `first .. first + count` of `arm` in `scenario` (the one ODE
    /// run on the deterministic engine).
    fn run_arm(
        &self,
        scenario: &Scenario,
        arm: &Arm,
        first: u64,
        count: u64,
    ) -> Result<Vec<RunOutcome>> {
        Ok(match self.engine {
            Engine::Deterministic => vec![
                run_deterministic(
                    scenario,
                    arm,
                    RunOptions {
                        record_every: 0.0,
                        noise: None,
                    },
                )?
                .outcome,
            ],
            Engine::Stochastic { seed, .. } => run_rollouts(
                scenario,
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

    /// The score of each point's outcomes (the mean dose over every point's rollouts).
    fn summarise(&self, per_point: Vec<Vec<RunOutcome>>, complete: bool) -> Score {
        let (value, points) = match self.robust {
            None => (
                self.objective.value(
                    per_point.first().map_or(&[][..], |o| o),
                    self.scenario.horizon,
                ),
                Vec::new(),
            ),
            Some(robust) => {
                let values: Vec<f64> = robust
                    .points
                    .iter()
                    .zip(&per_point)
                    .map(|(p, o)| self.objective.value(o, p.scenario.horizon))
                    .collect();
                (robust.combine(&values, &self.reference_values()), values)
            }
        };
        let outcomes: Vec<RunOutcome> = per_point.into_iter().flatten().collect();
        let n = outcomes.len().max(1) as f64;
        let mut mean_dose = vec![0.0; self.scenario.drugs.len()];
        for o in &outcomes {
            for (m, d) in mean_dose.iter_mut().zip(&o.cumulative_dose) {
                *m += d / n;
            }
        }
        Score {
            value,
            mean_dose,
            outcomes,
            complete,
            points,
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
            best_response: 1.0,
            response_at: None,
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
