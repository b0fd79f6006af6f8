//! The search for better schedules: every family and the LP on the tuning seeds, then the
//! finalists ranked with the scenario's arms on hold-out seeds.

use super::manifest::{Manifest, OptimiseRecord, ShardRecord};
use super::progress::Progress;
use crate::api::shard::Shard;
use crate::error::Result;
use crate::scenario::Scenario;
use crate::search::checkpoint::Journal;
use crate::search::config::{self, Overrides, Plan};
use crate::search::family::Solver;
use crate::search::leaderboard::{self, Leaderboard, Searched};
use crate::search::objective::Objective;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// What [`optimise`] searches: the scenario's `optimise:` block, with these overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimiseOptions {
    /// Seed of the tuning rollouts (the hold-out seed is the next one).
    pub seed: u64,
    /// Settings that replace the block's (as the command line gives them).
    pub overrides: Overrides,
    /// Stop searching after this long and rank the best found so far.
    pub time_limit: Option<Duration>,
}

/// The result of an optimisation: its plan and its leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimisation {
    /// Every setting of the search, defaults filled in.
    pub plan: Plan,
    /// Finalists and arms ranked on the hold-out seeds, and every evaluation.
    pub board: Leaderboard,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

/// The plan `options` makes of `scenario`'s `optimise:` block.
pub fn plan(scenario: &Scenario, options: &OptimiseOptions) -> Result<Plan> {
    if let Some(o) = options.overrides.objective {
        // The same rule as the optimise: block's objective.
        config::check_objective(o, scenario.horizon)?;
    }
    Plan::new(
        scenario,
        options.seed,
        &options.overrides,
        options.time_limit,
    )
}

/// Searches and ranks (see the module's documentation). `journal` records every evaluation
/// so a stopped run can be resumed; a stop leaves `board.interrupted` set.
pub fn optimise(
    scenario: &Scenario,
    options: &OptimiseOptions,
    progress: &dyn Progress,
    journal: Option<&Journal>,
) -> Result<Optimisation> {
    optimise_plan(scenario, plan(scenario, options)?, progress, journal)
}

/// As [`optimise`], with the plan already made (to print its notes or fingerprint first).
pub fn optimise_plan(
    scenario: &Scenario,
    plan: Plan,
    progress: &dyn Progress,
    journal: Option<&Journal>,
) -> Result<Optimisation> {
    let started = std::time::Instant::now();
    progress.begin(total_steps(scenario, &plan));
    progress.label("searching");
    let tick = || progress.step();
    let board = leaderboard::optimise(scenario, &plan, Some(&tick), journal);
    progress.end();
    Ok(Optimisation {
        board: board?,
        plan,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Evaluations and hold-out scorings an optimisation makes (for a progress bar).
pub fn total_steps(scenario: &Scenario, plan: &Plan) -> u64 {
    let levels = plan.dose_limits().len() as u64;
    let searches = plan.families.len() as u64 + u64::from(plan.lp.is_some());
    levels * (plan.families.len() as u64 * plan.budget_per_family + u64::from(plan.lp.is_some()))
        + levels * searches
        + scenario.arms.len() as u64
}

/// What identifies a run for resuming: a journal only continues the same scenario, seed and
/// plan.
#[derive(Serialize)]
struct Identity<'a> {
    scenario_sha256: String,
    seed: u64,
    objective: Objective,
    rollouts: u64,
    holdout: u64,
    budget_per_family: u64,
    families: Vec<&'static str>,
    lp: bool,
    solver: Solver,
    racing: bool,
    max_relative_dose: Option<f64>,
    marker_cap: Option<f64>,
    pareto: &'a Option<Vec<f64>>,
    /// SHA-256 of each other model a robust score uses (the scenario's own hash covers the
    /// robust block, not the files it names). Left out without any, so the identities of
    /// runs without a robust block are those earlier versions wrote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    robust_models: Vec<String>,
}

/// The identity of an optimisation run: SHA-256 of its scenario hash, seed and plan.
pub fn fingerprint(scenario: &Scenario, plan: &Plan) -> String {
    let identity = Identity {
        scenario_sha256: scenario.sha256(),
        seed: plan.seed,
        objective: plan.objective,
        rollouts: plan.rollouts,
        holdout: plan.holdout,
        budget_per_family: plan.budget_per_family,
        families: plan.families.iter().map(|f| f.name()).collect(),
        lp: plan.lp.is_some(),
        solver: plan.solver,
        racing: plan.racing,
        max_relative_dose: plan.max_relative_dose,
        marker_cap: plan.marker_cap,
        pareto: &plan.pareto,
        robust_models: plan
            .robust
            .iter()
            .flat_map(|r| &r.models)
            .map(|m| {
                std::fs::read_to_string(m).map_or_else(
                    |_| "unreadable".to_owned(),
                    |t| crate::report::sha256_hex(&t),
                )
            })
            .collect(),
    };
    // Plain numbers, strings and lists: encoding cannot fail.
    let text = serde_json::to_string(&identity).unwrap_or_default();
    crate::report::sha256_hex(&text)
}

/// One shard's part of an optimisation: the searches of its units, not yet ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSearch {
    /// The search units this shard ran.
    pub units: BTreeSet<u64>,
    /// What they found.
    pub searched: Searched,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

/// Runs shard `shard`'s search units of `plan` (ranking happens in `merge`).
pub fn search_shard(
    scenario: &Scenario,
    plan: &Plan,
    shard: Shard,
    progress: &dyn Progress,
    journal: Option<&Journal>,
) -> Result<ShardSearch> {
    let units: BTreeSet<u64> = (0..leaderboard::unit_count(plan))
        .filter(|u| u % shard.count == shard.index)
        .collect();
    let started = std::time::Instant::now();
    progress.begin(total_steps(scenario, plan));
    let tick = || progress.step();
    let searched = leaderboard::search_units(scenario, plan, Some(&tick), journal, Some(&units));
    progress.end();
    Ok(ShardSearch {
        units,
        searched: searched?,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The fields every optimisation's manifest shares (seed and rollouts of the tuning set;
/// arms are contrasted with continuous dosing).
fn base_manifest(scenario: &Scenario, plan: &Plan, wall_seconds: f64) -> Manifest {
    Manifest::new(
        scenario,
        "optimise",
        plan.seed,
        plan.rollouts,
        "continuous",
        wall_seconds,
    )
}

/// The manifest of an optimisation shard's folder.
pub fn shard_manifest(
    scenario: &Scenario,
    plan: &Plan,
    options: &OptimiseOptions,
    shard: Shard,
    search: &ShardSearch,
) -> Manifest {
    let mut manifest = base_manifest(scenario, plan, search.wall_seconds);
    manifest.optimise_overrides = Some(options.overrides.clone());
    manifest.optimise_fingerprint = Some(fingerprint(scenario, plan));
    manifest.shard = Some(ShardRecord {
        index: shard.index,
        count: shard.count,
        block: None,
        units: search.units.iter().copied().collect(),
        complete: true,
    });
    manifest
}

/// The manifest of an optimisation's folder: the shared fields and the plan of the search.
pub fn manifest(scenario: &Scenario, run: &Optimisation) -> Manifest {
    let (plan, board) = (&run.plan, &run.board);
    let mut manifest = base_manifest(scenario, plan, run.wall_seconds);
    manifest.optimise = Some(OptimiseRecord {
        objective: config::objective_name(plan.objective),
        drug: scenario.drugs.get(plan.drug).map(|d| d.name.clone()),
        tuning_seed: plan.seed,
        tuning_rollouts: plan.rollouts,
        holdout_seed: board.holdout_seed,
        holdout_rollouts: plan.holdout,
        budget_evals_per_family: plan.budget_per_family,
        families: plan
            .families
            .iter()
            .map(|f| f.name().to_owned())
            .chain(plan.lp.as_ref().map(|_| "lp".to_owned()))
            .collect(),
        solver: plan.solver.as_str().to_owned(),
        racing: plan.racing,
        max_relative_dose: plan.max_relative_dose,
        marker_cap: plan.marker_cap,
        pareto: plan.pareto.clone(),
        time_limit_seconds: plan.time_limit.map(|d| d.as_secs_f64()),
        timed_out: board.timed_out,
        evaluations: board.trace.len(),
        rollouts_run: board.rollouts_run,
        rollouts_without_racing: board.rollouts_without_racing,
        continuous_mean_dose: board.continuous_dose,
    });
    manifest
}
