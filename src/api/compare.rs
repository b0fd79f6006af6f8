//! Stochastic rollouts of a scenario's arms on common random numbers, and their comparison
//! with a reference arm.

use super::progress::Progress;
use crate::api::shard::{Shard, Unit};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sim::rollouts::{ArmRollouts, RolloutSettings, run_rollouts_with_progress};
use crate::stats::contrast::{self, ArmComparison};

/// What [`compare`] and [`run_rollouts`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Stochastic rollouts per arm.
    pub rollouts: u64,
    /// The same seed gives the same numbers on any number of threads.
    pub seed: u64,
    /// The arm the others are contrasted with (the first arm of those run if `None`).
    pub reference: Option<String>,
    /// Run only these arms, in this order (every arm if `None`).
    pub arms: Option<Vec<String>>,
    /// Keep the trajectories of the first this many rollouts of each arm.
    pub trajectories: u64,
    /// Recording interval of kept trajectories, in time units.
    pub record_every: f64,
    /// Run only this shard's units of the work (for `merge`).
    pub shard: Option<Shard>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            rollouts: 1000,
            seed: 1,
            reference: None,
            arms: None,
            trajectories: 0,
            record_every: 7.0,
            shard: None,
        }
    }
}

/// The rollouts of a job (or of one shard of it), arm by arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollouts {
    /// (arm name, its rollouts), in the order run.
    pub arms: Vec<(String, ArmRollouts)>,
    /// Index in `arms` of the reference arm.
    pub reference: usize,
    /// Seed of the rollouts.
    pub seed: u64,
    /// Rollouts per arm of the whole job.
    pub rollouts: u64,
    /// The shard run, if only one was.
    pub shard: Option<Shard>,
    /// The units of work run.
    pub units: Vec<Unit>,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

impl Rollouts {
    /// (name, rollouts) pairs as the summaries take them.
    pub fn by_arm(&self) -> Vec<(&str, &ArmRollouts)> {
        self.arms.iter().map(|(n, r)| (n.as_str(), r)).collect()
    }

    /// The kept trajectories, labelled by arm and rollout, as the CSV writers take them.
    pub fn kept_runs(&self) -> Vec<crate::report::LabelledRun<'_>> {
        self.arms
            .iter()
            .flat_map(|(name, r)| {
                r.trajectories
                    .iter()
                    .map(move |(i, run)| (name.as_str(), Some(*i), run))
            })
            .collect()
    }

    /// The name of the reference arm.
    pub fn reference_name(&self) -> &str {
        self.arms
            .get(self.reference)
            .map_or("", |(n, _)| n.as_str())
    }
}

/// A comparison: the rollouts, one summary row per arm, and notes on what the numbers hide.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What was run.
    pub rollouts: Rollouts,
    /// One row per arm: median TTP, RMST, contrast with the reference, dose.
    pub rows: Vec<ArmComparison>,
    /// Plain-language warnings (crossing hazards, arms that coincide).
    pub notes: Vec<String>,
}

impl Comparison {
    /// Summarises the rollouts of a whole job (from one machine or merged shards).
    pub fn new(scenario: &Scenario, rollouts: Rollouts) -> Comparison {
        let by_arm = rollouts.by_arm();
        let rows = contrast::compare(scenario, &by_arm, rollouts.reference);
        let notes = contrast::notes(scenario, &rows, &by_arm);
        Comparison {
            rollouts,
            rows,
            notes,
        }
    }

    /// The row of the arm called `name`.
    pub fn row(&self, name: &str) -> Option<&ArmComparison> {
        self.rows.iter().find(|r| r.arm == name)
    }
}

/// Runs every arm (or `options.arms`) on the same rollouts and compares them with the
/// reference arm. A shard is not summarised alone: use [`run_rollouts`] and `merge`.
pub fn compare(
    scenario: &Scenario,
    options: &CompareOptions,
    progress: &dyn Progress,
) -> Result<Comparison> {
    if options.shard.is_some() {
        return Err(Error::Usage(
            "a shard's rollouts are summarised by merge, not alone: run them with run_rollouts"
                .to_owned(),
        ));
    }
    Ok(Comparison::new(
        scenario,
        run_rollouts(scenario, options, progress)?,
    ))
}

/// The arms `options` names, and the index of the reference among them.
fn chosen_arms<'s>(
    scenario: &'s Scenario,
    options: &CompareOptions,
) -> Result<(Vec<&'s crate::scenario::Arm>, usize)> {
    let arms: Vec<_> = match &options.arms {
        Some(names) => names
            .iter()
            .map(|n| scenario.find_arm("--arm", n))
            .collect::<Result<_>>()?,
        None => scenario.arms.iter().collect(),
    };
    if arms.is_empty() {
        return Err(Error::Usage("no arm to run".to_owned()));
    }
    let reference = match &options.reference {
        None => 0,
        Some(name) => {
            let arm = scenario.find_arm("--reference", name)?;
            arms.iter()
                .position(|a| std::ptr::eq(*a, arm))
                .ok_or_else(|| {
                    Error::Usage(format!("--reference: arm `{name}` is not among those run"))
                })?
        }
    };
    Ok((arms, reference))
}

/// Checks `options` against `scenario` and the limits of [`crate::support::limits`] without running
/// anything (so a front-end can refuse a request before it prepares an output folder).
pub fn check(scenario: &Scenario, options: &CompareOptions) -> Result<()> {
    checked(scenario, options).map(|_| ())
}

/// [`check`], giving the arms to run and the index of the reference among them.
fn checked<'s>(
    scenario: &'s Scenario,
    options: &CompareOptions,
) -> Result<(Vec<&'s crate::scenario::Arm>, usize)> {
    let (arms, reference) = chosen_arms(scenario, options)?;
    crate::support::limits::record_every(options.record_every, scenario.horizon)?;
    crate::support::limits::rollouts("--rollouts", options.rollouts)?;
    crate::support::limits::kept_rows(
        options.trajectories.min(options.rollouts),
        arms.len(),
        options.record_every,
        scenario.horizon,
    )?;
    crate::support::limits::rollout_work(
        options.rollouts,
        arms.len(),
        scenario.horizon / scenario.stochastic_step,
    )?;
    Ok((arms, reference))
}

/// Runs the rollouts `options` asks for (every arm's, or one shard's units) in parallel,
/// reporting each rollout to `progress`. Every limit is checked before any work.
pub fn run_rollouts(
    scenario: &Scenario,
    options: &CompareOptions,
    progress: &dyn Progress,
) -> Result<Rollouts> {
    let (arms, reference) = checked(scenario, options)?;
    let units: Vec<Unit> = match options.shard {
        Some(shard) => crate::api::shard::units_of(shard, arms.len(), options.rollouts),
        None => (0..arms.len())
            .map(|arm| Unit {
                id: arm as u64,
                arm,
                first: 0,
                count: options.rollouts,
            })
            .collect(),
    };
    let started = std::time::Instant::now();
    progress.begin(units.iter().map(|u| u.count).sum());
    let mut runs: Vec<(String, ArmRollouts)> = arms
        .iter()
        .map(|a| (a.name.clone(), ArmRollouts::default()))
        .collect();
    for unit in &units {
        let arm = arms[unit.arm];
        tracing::info!(arm = %arm.name, first = unit.first, rollouts = unit.count, "simulating");
        progress.label(&arm.name);
        let settings = RolloutSettings {
            seed: options.seed,
            first: unit.first,
            count: unit.count,
            keep_trajectories: options
                .trajectories
                .saturating_sub(unit.first)
                .min(unit.count),
            record_every: options.record_every,
        };
        let done = run_rollouts_with_progress(scenario, arm, settings, &|| progress.step());
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                progress.end();
                return Err(e);
            }
        };
        runs[unit.arm].1.rollouts.extend(done.rollouts);
        runs[unit.arm].1.trajectories.extend(done.trajectories);
    }
    progress.end();
    Ok(Rollouts {
        arms: runs,
        reference,
        seed: options.seed,
        rollouts: options.rollouts,
        shard: options.shard,
        units,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}
