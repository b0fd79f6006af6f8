//! Many stochastic rollouts of one arm, in parallel.
//!
//! Rollout `r` draws only from streams keyed by (seed, r, …), so its result does not depend
//! on the thread that ran it; results are collected in rollout order. Only per-rollout
//! outcomes are kept, plus the trajectories of the first few rollouts if asked, so memory
//! does not grow with trajectories × rollouts.

use super::stochastic::{Block, StochasticPropagator, StochasticSettings};
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
    s.counts_in_cells = true;
    let in_cells = |model: &mut crate::model::Model| {
        for c in &mut model.compartments {
            c.initial = (c.initial * scale).round();
            c.capacity *= scale;
        }
    };
    in_cells(&mut s.model);
    if let Some(typical) = s.typical_model.as_mut() {
        in_cells(std::sync::Arc::make_mut(typical));
    } else if !s.patients.is_empty() || s.patient_table.is_some() {
        // The model a virtual patient's rule assumes, made once per run here and shared by
        // every patient (see [`patient`]); its laws are set below, once scaled.
        s.typical_model = Some(std::sync::Arc::new(s.model.clone()));
    }
    s.marker.detection_limit *= scale;
    s.progression = s.progression.in_cells(scale);
    for arm in &mut s.arms {
        arm.progression = arm.progression.in_cells(scale);
    }
    crate::model::patients::in_cells(&mut s.patients, scale);
    if let Some(laws) = s.typical_laws.as_mut() {
        std::sync::Arc::make_mut(laws).in_cells(scale);
    } else if s.typical_model.is_some() {
        // The laws just scaled above.
        s.typical_laws = s.own_laws();
    }
    s
}

/// Rollouts one thread runs in lock-step (see [`crate::sim::stochastic::Block`]): 16 ran 7 %
/// faster than 1 on the frozen bench, 8 and 32 no better. Results do not depend on it.
pub const BLOCK: usize = 16;

/// The scenario rollout `index` runs: a virtual patient's own model, drawn from the
/// rollout's streams, or the scenario itself.
pub fn patient(cells: &Scenario, seed: u64, index: u64) -> std::borrow::Cow<'_, Scenario> {
    if cells.patients.is_empty() && cells.patient_table.is_none() {
        return std::borrow::Cow::Borrowed(cells);
    }
    let mut patient = cells.clone();
    // `in_cells` has set the typical model (an `Arc`, shared); a scenario that did not come
    // through it gets its own here.
    if patient.typical_model.is_none() {
        patient.typical_model = Some(cells.assumed_model());
        patient.typical_laws = cells.assumed_laws();
    }
    crate::model::patients::apply(
        &cells.patients,
        cells.patient_correlation.as_deref(),
        &mut patient.model,
        seed,
        index,
        true,
    );
    if let Some(table) = &cells.patient_table {
        table.apply(&mut patient.model, seed, index, true);
    }
    patient.patients.clear();
    patient.patient_table = None;
    std::borrow::Cow::Owned(patient)
}

/// The stochastic engine of rollout `index` of `scenario` (a patient's own).
fn engine(scenario: &Scenario, seed: u64, index: u64) -> StochasticPropagator {
    StochasticPropagator::new(
        &scenario.model,
        scenario.has_pk(),
        StochasticSettings {
            seed,
            rollout: index,
            step: scenario.stochastic_step,
        },
    )
}

/// The options of rollout `index`: its measurement noise keyed by (seed, index).
fn options(seed: u64, index: u64, record_every: f64) -> RunOptions {
    RunOptions {
        record_every,
        noise: Some(NoiseKey {
            seed,
            rollout: index,
        }),
    }
}

/// Runs rollout `index` of `arm` on a scenario already [`in_cells`], alone.
pub fn run_rollout(
    cells: &Scenario,
    arm: &Arm,
    seed: u64,
    index: u64,
    record_every: f64,
) -> Result<RunResult> {
    let scenario = patient(cells, seed, index);
    let mut engine = engine(&scenario, seed, index);
    run(
        &scenario,
        arm,
        &mut engine,
        options(seed, index, record_every),
    )
}

/// Runs rollouts `indices` of `arm` on a scenario already [`in_cells`] in lock-step, rollout
/// `i` recording every `record_every(i)` (0: not at all). Per rollout, what
/// [`run_rollout`] gives, number for number.
pub fn run_rollout_block(
    cells: &Scenario,
    arm: &Arm,
    seed: u64,
    indices: std::ops::Range<u64>,
    record_every: impl Fn(u64) -> f64,
) -> Vec<Result<RunResult>> {
    let scenarios: Vec<_> = indices
        .clone()
        .map(|index| patient(cells, seed, index))
        .collect();
    let runs: Vec<(&Scenario, RunOptions)> = scenarios
        .iter()
        .zip(indices.clone())
        .map(|(s, index)| (&**s, options(seed, index, record_every(index))))
        .collect();
    let mut block = Block::new(
        scenarios
            .iter()
            .zip(indices)
            .map(|(s, index)| engine(s, seed, index))
            .collect(),
    );
    super::lockstep::run_block(&runs, arm, &mut block)
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
    in_blocks(&cells, arm, scale, settings, BLOCK, done)
}

/// [`run_rollouts_with_progress`] on a scenario already [`in_cells`] (`scale` cells per unit)
/// with the arm's rule in cells, in blocks of `block` rollouts.
fn in_blocks(
    cells: &Scenario,
    arm: &Arm,
    scale: f64,
    settings: RolloutSettings,
    block: usize,
    done: &(dyn Fn() + Sync),
) -> Result<ArmRollouts> {
    let block = block.max(1) as u64;
    let end = settings.first + settings.count;
    let keep_until = settings.first + settings.keep_trajectories;
    let record = |index: u64| {
        if index < keep_until {
            settings.record_every
        } else {
            0.0
        }
    };
    let blocks: Vec<Vec<(Rollout, Option<RunResult>)>> = (0..settings.count.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            if crate::support::stop::requested() {
                return Err(crate::error::Error::Interrupted(format!(
                    "stopped during the rollouts of arm `{}`",
                    arm.name
                )));
            }
            let from = settings.first + b * block;
            let to = (from + block).min(end);
            run_rollout_block(cells, arm, settings.seed, from..to, record)
                .into_iter()
                .zip(from..to)
                .map(|(result, index)| {
                    let mut result = result?;
                    done();
                    let emerged = result.outcome.final_resistant >= 1.0;
                    result.outcome.final_total /= scale;
                    result.outcome.final_resistant /= scale;
                    let rollout = Rollout {
                        index,
                        outcome: result.outcome.clone(),
                        resistance_emerged: emerged,
                    };
                    let kept = (index < keep_until).then(|| {
                        for x in result.trajectory.counts.iter_mut() {
                            *x /= scale;
                        }
                        for v in &mut result.visits {
                            v.observation.value /= scale;
                            v.true_value /= scale;
                            v.threshold = v.threshold.map(|x| x / scale);
                        }
                        if let Some(trace) = result.policy_trace.as_mut() {
                            trace.scale_counts(scale);
                        }
                        result
                    });
                    Ok((rollout, kept))
                })
                .collect()
        })
        .collect::<Result<Vec<_>>>()?;
    let results = blocks.into_iter().flatten();
    let mut rollouts = Vec::with_capacity(settings.count as usize);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The flagship, its text changed by `edit`.
    fn persister_with(edit: impl Fn(String) -> String) -> Scenario {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        Scenario::from_text(&path, &text).unwrap()
    }

    fn persister() -> Scenario {
        persister_with(|text| text)
    }

    /// Every arm of the flagship (open and closed loop), with its virtual patients and as
    /// one typical patient (whose lanes share kernels, so the arrays of `stochastic/lanes.rs`
    /// take most joint steps, and whose open-loop arms' lanes follow one shared schedule,
    /// `sim/lockstep.rs`), 21 rollouts from rollout 5, three of them recording trajectories
    /// (so lanes of one block take legs of different lengths and some keep their own
    /// schedule): blocks of 1, 4 and 16 lanes give the same results, and each rollout is the
    /// one run alone. Once more with the GPX4 inhibitor given two weeks in four, against a
    /// toxicity budget of one, so the guard clips doses (its count is in the outcome).
    #[test]
    fn results_do_not_depend_on_the_block_size() {
        let mut typical = persister();
        typical.patients.clear();
        typical.patient_correlation = None;
        typical.patient_table = None;
        let mut clipped = persister_with(|text| {
            let longer = text.replace(
                "{ intermittent: { drug: gpx4i, on: 7, off: 21 } }",
                "{ intermittent: { drug: gpx4i, on: 14, off: 14 } }",
            );
            assert_ne!(longer, text);
            longer
        });
        clipped.patients.clear();
        clipped.patient_correlation = None;
        clipped.patient_table = None;
        clipped.arms.retain(|arm| arm.name == "continuous-gpx4i");
        for s in [persister(), typical, clipped] {
            same_in_any_block(&s);
        }
    }

    fn same_in_any_block(s: &Scenario) {
        let cells = in_cells(s);
        let settings = RolloutSettings {
            seed: 11,
            first: 5,
            count: 21,
            keep_trajectories: 3,
            record_every: 7.0,
        };
        for arm in &s.arms {
            let mut arm = arm.clone();
            arm.progression = arm.progression.in_cells(s.cells_per_unit);
            let by =
                |block| in_blocks(&cells, &arm, s.cells_per_unit, settings, block, &|| {}).unwrap();
            let one = by(1);
            if s.arms.len() == 1 {
                // (The clipped variant: its guard does clip.)
                assert!(one.rollouts.iter().any(|r| r.outcome.clipped_doses > 0));
            }
            assert_eq!(one, by(4), "arm {}", arm.name);
            assert_eq!(one, by(16), "arm {}", arm.name);
            let record = |index| if index < 8 { 7.0 } else { 0.0 };
            let block = run_rollout_block(&cells, &arm, 11, 5..26, record);
            for (index, in_block) in (5..26).zip(block) {
                let alone = run_rollout(&cells, &arm, 11, index, record(index)).unwrap();
                assert_eq!(in_block.unwrap(), alone, "arm {} rollout {index}", arm.name);
            }
        }
    }
}
