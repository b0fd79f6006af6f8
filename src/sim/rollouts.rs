//! Many stochastic rollouts of one arm, in parallel.
//!
//! Rollout `r` draws only from streams keyed by (seed, r, …), so its result does not depend
//! on the thread that ran it; results are collected in rollout order. Only per-rollout
//! outcomes are kept, plus the trajectories of the first few rollouts if asked, so memory
//! does not grow with trajectories × rollouts.

use super::stochastic::{StochasticPropagator, StochasticSettings};
use super::{NoiseKey, RunOptions, RunResult, run};
use crate::error::Result;
use crate::scenario::{Arm, Scenario};
use crate::sim::outcome::RunOutcome;
use rayon::prelude::*;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RolloutSettings {
    /// Seed: rollout `r` draws from streams keyed by (seed, r).
    pub seed: u64,
    /// Rollouts `first .. first + count` (shards run disjoint ranges).
    pub first: u64,
    /// Rollouts to run.
    pub count: u64,
    /// Keep the trajectories of rollouts `first .. first + keep_trajectories`.
    pub keep_trajectories: u64,
    /// Recording interval of kept trajectories.
    pub record_every: f64,
}

/// One rollout's outcome, in the scenario's units.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// The rollout's number.
    pub index: u64,
    /// What it came to.
    pub outcome: RunOutcome,
    /// At least one resistant-role cell is alive at the horizon.
    pub resistance_emerged: bool,
}

/// The rollouts of one arm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmRollouts {
    /// Each rollout's outcome, in rollout order.
    pub rollouts: Vec<Rollout>,
    /// (rollout index, run) of the kept trajectories, counts in the scenario's units.
    pub trajectories: Vec<(u64, RunResult)>,
}

/// The scenario as the stochastic engine sees it: counts in whole cells. A model written in
/// fractions of a capacity is multiplied by `cells_per_unit` (capacities, initial counts and
/// the detection limit alike), so its rates and ratios are unchanged.
pub fn in_cells(scenario: &Scenario) -> Scenario {
    let scale = scenario.cells_per_unit;
    let mut s = scenario.clone();
    for c in &mut s.model.compartments {
        c.initial = (c.initial * scale).round();
        c.capacity *= scale;
    }
    s.marker.detection_limit *= scale;
    s.progression = s.progression.in_cells(scale);
    for arm in &mut s.arms {
        arm.progression = arm.progression.in_cells(scale);
    }
    // Patient values given in burden units scale with the counts.
    for p in &mut s.patients {
        if p.targets.iter().any(|t| {
            matches!(
                t,
                crate::model::patients::Target::Initial(_)
                    | crate::model::patients::Target::Capacity(_)
            )
        }) {
            p.distribution = p.distribution.scaled(scale);
        }
    }
    s
}

/// Runs rollout `index` of `arm` on a scenario already [`in_cells`].
pub fn run_rollout(
    cells: &Scenario,
    arm: &Arm,
    seed: u64,
    index: u64,
    record_every: f64,
) -> Result<RunResult> {
    if !cells.patients.is_empty() {
        let mut patient = cells.clone();
        crate::model::patients::apply(
            &cells.patients,
            cells.patient_correlation.as_deref(),
            &mut patient.model,
            seed,
            index,
            true,
        );
        patient.patients.clear();
        return run_rollout(&patient, arm, seed, index, record_every);
    }
    let graded = cells.drugs.iter().any(|d| {
        matches!(
            d.kinetics,
            crate::model::pk::Kinetics::OneCompartment { .. }
        )
    });
    let mut engine = StochasticPropagator::new(
        &cells.model,
        graded,
        StochasticSettings {
            seed,
            rollout: index,
            step: cells.stochastic_step,
        },
    );
    run(
        cells,
        arm,
        &mut engine,
        RunOptions {
            record_every,
            noise: Some(NoiseKey {
                seed,
                rollout: index,
            }),
        },
    )
}

/// Runs the rollouts of `arm` in parallel (rayon's current pool).
pub fn run_rollouts(
    scenario: &Scenario,
    arm: &Arm,
    settings: RolloutSettings,
) -> Result<ArmRollouts> {
    run_rollouts_with_progress(scenario, arm, settings, &|| {})
}

/// As [`run_rollouts`], calling `done` after each rollout (from any thread), e.g. to move a
/// progress bar.
pub fn run_rollouts_with_progress(
    scenario: &Scenario,
    arm: &Arm,
    settings: RolloutSettings,
    done: &(dyn Fn() + Sync),
) -> Result<ArmRollouts> {
    let cells = in_cells(scenario);
    let scale = scenario.cells_per_unit;
    // The arm's rule speaks in the scenario's marker units; the engine counts cells.
    let mut arm = arm.clone();
    arm.progression = arm.progression.in_cells(scale);
    let arm = &arm;
    let results: Vec<(Rollout, Option<RunResult>)> = (settings.first
        ..settings.first + settings.count)
        .into_par_iter()
        .map(|index| {
            if crate::support::stop::requested() {
                return Err(crate::error::Error::Interrupted(format!(
                    "stopped during the rollouts of arm `{}`",
                    arm.name
                )));
            }
            let keep = index < settings.first + settings.keep_trajectories;
            let record = if keep { settings.record_every } else { 0.0 };
            let mut result = run_rollout(&cells, arm, settings.seed, index, record)?;
            done();
            let emerged = result.outcome.final_resistant >= 1.0;
            result.outcome.final_total /= scale;
            result.outcome.final_resistant /= scale;
            let rollout = Rollout {
                index,
                outcome: result.outcome.clone(),
                resistance_emerged: emerged,
            };
            let kept = keep.then(|| {
                for x in result.trajectory.counts.iter_mut() {
                    *x /= scale;
                }
                for v in &mut result.visits {
                    v.observation.value /= scale;
                    v.true_value /= scale;
                    v.threshold = v.threshold.map(|x| x / scale);
                }
                result
            });
            Ok((rollout, kept))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut rollouts = Vec::with_capacity(results.len());
    let mut trajectories = Vec::new();
    for (rollout, kept) in results {
        if let Some(run) = kept {
            trajectories.push((rollout.index, run));
        }
        rollouts.push(rollout);
    }
    Ok(ArmRollouts {
        rollouts,
        trajectories,
    })
}
