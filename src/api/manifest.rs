//! `manifest.json`: what produced a run's files, so a result can be traced and repeated,
//! and so `merge` can check that shards belong together.

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::search::config::Overrides;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How the random numbers are drawn (the same for every run of this version).
pub const RNG: &str = "SplitMix64 streams keyed by (seed, rollout, step, unit, channel)";

/// Reads a JSON file regimen wrote; `what` says what a file that does not parse is not.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    })
}

/// The manifest of a run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version of regimen that wrote the folder.
    pub regimen_version: String,
    /// `simulate`, `simulate --rollouts`, `compare` or `optimise`.
    pub command: String,
    /// The scenario file the run was started from.
    pub scenario_file: String,
    /// The scenario's `name`.
    pub scenario_name: String,
    /// SHA-256 of the resolved scenario (`scenario.yaml` beside the manifest).
    pub scenario_sha256: String,
    /// Seed of the stochastic rollouts (0 for a deterministic run).
    pub seed: u64,
    /// Rollouts per arm (1 for a deterministic run).
    pub rollouts_per_arm: u64,
    /// Every arm of the scenario, in order.
    pub arms: Vec<String>,
    /// The arm the others are contrasted with.
    pub reference_arm: String,
    /// How random numbers are drawn.
    pub rng: String,
    /// Step of the stochastic engine, in time units.
    pub stochastic_step: f64,
    /// Cells per burden unit.
    pub cells_per_unit: f64,
    /// Detection limit of the marker, in burden units.
    pub detection_limit: f64,
    /// `days`, `weeks` or `hours`.
    pub time_units: String,
    /// Horizon, in time units.
    pub horizon: f64,
    /// The scenario's progression rule, by name.
    pub progression_rule: String,
    /// The scenario's progression rule, in words.
    pub progression: String,
    /// The rule each arm is judged by, in words.
    pub arm_progression: BTreeMap<String, String>,
    /// Dosing continues after progression.
    pub treat_beyond_progression: bool,
    /// The drugs, in order.
    pub drugs: Vec<String>,
    /// Worker threads of the run (results do not depend on it).
    pub threads: usize,
    /// Wall-clock seconds the run took.
    pub wall_seconds: f64,
    /// Set in a shard's folder: which part of the job it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// Set in a merged folder: the shard folders it was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<String>>,
    /// Set by `optimise`: the plan of the search and what it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimise: Option<OptimiseRecord>,
    /// Set in an optimisation shard: the settings given on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimise_overrides: Option<Overrides>,
    /// Set in an optimisation shard: the identity of the run (see [`crate::api::optimise::fingerprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimise_fingerprint: Option<String>,
    /// Set by `fit`: the data and the settings of the fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitRecord>,
    /// Set by `fit --targets`: what the population was calibrated to and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationRecord>,
}

/// What a calibration to trial summaries fitted and how it searched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    /// The trial, as the scenario names it.
    pub trial: Option<String>,
    /// The arm simulated.
    pub arm: String,
    /// Statistics fitted and held out.
    pub statistics: usize,
    /// Of which held out.
    pub held_out: usize,
    /// The free parameters, by path.
    pub parameters: Vec<String>,
    /// Virtual patients per evaluation.
    pub rollouts: u64,
    /// Points evaluated, and how many racing stopped after a quarter of the patients.
    pub evaluations: u32,
    /// Points racing stopped.
    pub stopped: u32,
    /// The weighted distance at the start and at the estimate.
    pub start_distance: f64,
    /// At the estimate.
    pub distance: f64,
}

/// What a fit read and how it searched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    /// The data file.
    pub data_file: String,
    /// SHA-256 of the data file's text.
    pub data_sha256: String,
    /// Subjects fitted.
    pub subjects: usize,
    /// The free parameters, by path.
    pub parameters: Vec<String>,
    /// The residual error model.
    pub error_model: String,
    /// Data after this time were held back for the forecast.
    pub until: Option<f64>,
    /// Or each subject's data after its first K cycles were.
    pub cycles: Option<u32>,
    /// Starts of the multi-start search per subject.
    pub starts: u32,
    /// Profile-likelihood intervals were computed.
    pub profiles: bool,
    /// Model runs over all subjects.
    pub evaluations: u64,
}

/// The part of a job a shard folder holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// K of `--shard K/N`.
    pub index: u64,
    /// N of `--shard K/N`.
    pub count: u64,
    /// Rollouts per unit (comparisons only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    /// The units of work this shard ran.
    pub units: Vec<u64>,
    /// The shard finished.
    pub complete: bool,
}

/// The plan of an optimisation and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimiseRecord {
    /// As `--objective` takes it.
    pub objective: String,
    /// The searched drug.
    pub drug: Option<String>,
    /// Seed of the tuning rollouts.
    pub tuning_seed: u64,
    /// Rollouts per candidate while searching.
    pub tuning_rollouts: u64,
    /// Seed of the hold-out re-scoring.
    pub holdout_seed: u64,
    /// Rollouts of the hold-out re-scoring.
    pub holdout_rollouts: u64,
    /// Distinct schedules scored per family.
    pub budget_evals_per_family: u64,
    /// The families searched (and `lp`).
    pub families: Vec<String>,
    /// The argmin solver after the design.
    pub solver: String,
    /// Candidates were raced.
    pub racing: bool,
    /// Dose limit relative to continuous dosing.
    pub max_relative_dose: Option<f64>,
    /// Most marker before progression, relative to time 0.
    pub marker_cap: Option<f64>,
    /// The dose limits of the bi-objective front.
    pub pareto: Option<Vec<f64>>,
    /// `--time-limit`, in seconds.
    pub time_limit_seconds: Option<f64>,
    /// The time limit stopped the search.
    pub timed_out: bool,
    /// Schedules evaluated.
    pub evaluations: usize,
    /// Tuning rollouts run.
    pub rollouts_run: u64,
    /// Tuning rollouts the same search would have run without racing.
    pub rollouts_without_racing: u64,
    /// Mean cumulative dose of continuous dosing (what relative doses are relative to).
    pub continuous_mean_dose: f64,
}

impl Manifest {
    /// The manifest of a run of `command` on `scenario`.
    pub fn new(
        scenario: &Scenario,
        command: &str,
        seed: u64,
        rollouts: u64,
        reference: &str,
        wall_seconds: f64,
    ) -> Manifest {
        Manifest {
            regimen_version: env!("CARGO_PKG_VERSION").to_owned(),
            command: command.to_owned(),
            scenario_file: scenario.source.display().to_string(),
            scenario_name: scenario.name.clone(),
            scenario_sha256: scenario.sha256(),
            seed,
            rollouts_per_arm: rollouts,
            arms: scenario.arms.iter().map(|a| a.name.clone()).collect(),
            reference_arm: reference.to_owned(),
            rng: RNG.to_owned(),
            stochastic_step: scenario.stochastic_step,
            cells_per_unit: scenario.cells_per_unit,
            detection_limit: scenario.marker.detection_limit,
            time_units: scenario.time_units.as_str().to_owned(),
            horizon: scenario.horizon,
            progression_rule: scenario.progression.name().to_owned(),
            progression: scenario.progression.describe(),
            arm_progression: scenario
                .arms
                .iter()
                .map(|a| (a.name.clone(), a.progression.describe()))
                .collect(),
            treat_beyond_progression: scenario.treats_beyond_progression(),
            drugs: scenario.drugs.iter().map(|d| d.name.clone()).collect(),
            threads: rayon::current_num_threads(),
            wall_seconds,
            shard: None,
            merged_from: None,
            optimise: None,
            optimise_overrides: None,
            optimise_fingerprint: None,
            fit: None,
            calibration: None,
        }
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        read_json(
            &dir.join("manifest.json"),
            "not a manifest of this version of regimen",
        )
    }

    /// The manifest as written to `manifest.json`.
    pub fn to_json(&self) -> String {
        // Every field is a plain number, string, list or map: encoding cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Writes `dir/manifest.json` (whole or not at all).
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::report::write_atomic(&dir.join("manifest.json"), self.to_json().as_bytes())
    }
}
