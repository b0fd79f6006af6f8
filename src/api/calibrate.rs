//! `fit --targets`: the scenario's population calibrated to published summaries of a trial
//! arm (docs/fitting.md §12).

use super::progress::Progress;
use crate::error::Result;
use crate::fit::trial::{self, Calibration};
use crate::scenario::Scenario;
use serde_json::{Value, json};
use std::time::Instant;

/// What to change of the scenario's `fit.targets` block (the command line's flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalibrateOptions {
    /// Virtual patients per evaluation.
    pub rollouts: Option<u64>,
    /// Evaluations the search may spend.
    pub budget: Option<u32>,
    /// Seed of the virtual patients.
    pub seed: Option<u64>,
}

/// A finished calibration.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// The scenario as calibrated from (the options applied).
    pub scenario: Scenario,
    /// The calibration.
    pub calibration: Calibration,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

/// Calibrates `scenario`'s population to its `fit.targets`.
pub fn calibrate(
    scenario: &Scenario,
    options: &CalibrateOptions,
    progress: &dyn Progress,
) -> Result<Calibrated> {
    let started = Instant::now();
    let mut edits: Vec<(&str, Value)> = Vec::new();
    if let Some(n) = options.rollouts {
        edits.push(("fit.targets.rollouts", json!(n)));
    }
    if let Some(b) = options.budget {
        edits.push(("fit.targets.budget", json!(b)));
    }
    if let Some(s) = options.seed {
        edits.push(("fit.targets.seed", json!(s)));
    }
    let scenario = if edits.is_empty() {
        scenario.clone()
    } else {
        scenario.with_params(&edits)?
    };
    let settings = trial::TrialSettings::of(&scenario)?;
    progress.begin(u64::from(settings.budget));
    progress.label("calibrating");
    let result = trial::calibrate(&scenario, &|| progress.step());
    progress.end();
    Ok(Calibrated {
        calibration: result?,
        scenario,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}
