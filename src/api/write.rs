//! Writers: each puts a value of the API into a run folder (usually the staging folder of
//! [`crate::report::outdir::Staged`], swapped in whole once everything is written) and returns the
//! names of the files it wrote.

use super::compare::{Comparison, Rollouts};
use super::manifest::{Manifest, ShardRecord};
use super::optimise::{Optimisation, ShardSearch};
use super::simulate::Simulation;
use crate::error::{Error, Result};
use crate::report::{self, write_atomic};
use crate::scenario::Scenario;
use crate::search::output;
use std::path::{Path, PathBuf};

/// The resolved scenario (`scenario.yaml`) and `manifest.json`.
pub fn provenance(scenario: &Scenario, manifest: &Manifest, dir: &Path) -> Result<()> {
    write_atomic(
        &dir.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    manifest.write(dir)
}

/// A deterministic run: trajectory.csv, visits.csv, outcomes.csv, doses.csv, scenario.yaml,
/// manifest.json.
pub fn simulation(scenario: &Scenario, run: &Simulation, dir: &Path) -> Result<Vec<&'static str>> {
    let refs: Vec<(&str, &crate::sim::RunResult)> =
        run.runs.iter().map(|(n, r)| (n.as_str(), r)).collect();
    write_atomic(
        &dir.join("outcomes.csv"),
        report::outcomes_csv(scenario, &refs).as_bytes(),
    )?;
    let mut written = vec!["outcomes.csv"];
    written.extend(run_files(scenario, &run.labelled(), dir)?);
    let reference = scenario.arms.first().map_or("", |a| a.name.as_str());
    let manifest = Manifest::new(scenario, "simulate", 0, 1, reference, run.wall_seconds);
    provenance(scenario, &manifest, dir)?;
    written.extend(["scenario.yaml", "manifest.json"]);
    Ok(written)
}

/// trajectory.csv, visits.csv and doses.csv of recorded runs (none when there are none).
pub fn run_files(
    scenario: &Scenario,
    labelled: &[report::LabelledRun],
    dir: &Path,
) -> Result<Vec<&'static str>> {
    if labelled.is_empty() {
        return Ok(Vec::new());
    }
    write_atomic(
        &dir.join("trajectory.csv"),
        report::trajectory_csv(scenario, labelled).as_bytes(),
    )?;
    write_atomic(
        &dir.join("visits.csv"),
        report::visits_csv(labelled).as_bytes(),
    )?;
    write_atomic(
        &dir.join("doses.csv"),
        report::doses_csv(scenario, labelled).as_bytes(),
    )?;
    let mut written = vec!["trajectory.csv", "visits.csv", "doses.csv"];
    if let Some(text) = report::mpc_filter_csv(scenario, labelled) {
        write_atomic(&dir.join("mpc_filter.csv"), text.as_bytes())?;
        written.push("mpc_filter.csv");
    }
    if let Some(text) = report::mpc_decisions_csv(labelled) {
        write_atomic(&dir.join("mpc_decisions.csv"), text.as_bytes())?;
        written.push("mpc_decisions.csv");
    }
    Ok(written)
}

/// outcomes.csv (one row per rollout and arm) and, where trajectories were kept,
/// trajectory.csv, visits.csv and doses.csv.
pub fn rollouts(scenario: &Scenario, run: &Rollouts, dir: &Path) -> Result<Vec<&'static str>> {
    write_atomic(
        &dir.join("outcomes.csv"),
        report::rollouts_csv(scenario, &run.by_arm()).as_bytes(),
    )?;
    let mut written = vec!["outcomes.csv"];
    written.extend(run_files(scenario, &run.kept_runs(), dir)?);
    Ok(written)
}

/// The manifest of a stochastic run of `command` (`compare`, `simulate --rollouts`).
pub fn rollouts_manifest(scenario: &Scenario, run: &Rollouts, command: &str) -> Manifest {
    let mut manifest = Manifest::new(
        scenario,
        command,
        run.seed,
        run.rollouts,
        run.reference_name(),
        run.wall_seconds,
    );
    manifest.shard = run.shard.map(|shard| ShardRecord {
        index: shard.index,
        count: shard.count,
        block: Some(super::shard::BLOCK),
        units: run.units.iter().map(|u| u.id).collect(),
        complete: true,
    });
    manifest
}

/// A shard's folder: its outcomes (and kept trajectories), scenario.yaml and manifest.json,
/// for `merge`.
pub fn rollouts_shard(
    scenario: &Scenario,
    run: &Rollouts,
    command: &str,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let mut written = rollouts(scenario, run, dir)?;
    provenance(scenario, &rollouts_manifest(scenario, run, command), dir)?;
    written.extend(["scenario.yaml", "manifest.json"]);
    Ok(written)
}

/// summary.csv, summary.json and notes.txt of a comparison.
pub fn summary(
    scenario: &Scenario,
    comparison: &Comparison,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    write_atomic(
        &dir.join("summary.csv"),
        report::compare_csv(scenario, &comparison.rows).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&comparison.rows).map_err(|e| Error::Format {
        path: dir.join("summary.json"),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.join("summary.json"), json.as_bytes())?;
    let mut text = comparison.notes.join("\n");
    text.push('\n');
    write_atomic(&dir.join("notes.txt"), text.as_bytes())?;
    Ok(vec!["summary.csv", "summary.json", "notes.txt"])
}

/// A whole comparison: outcomes (and kept trajectories), scenario.yaml, manifest.json,
/// summary.csv, summary.json and notes.txt.
pub fn comparison(
    scenario: &Scenario,
    comparison: &Comparison,
    command: &str,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let manifest = rollouts_manifest(scenario, &comparison.rollouts, command);
    comparison_with(scenario, comparison, &manifest, dir)
}

/// A comparison's files with the given manifest.
fn comparison_with(
    scenario: &Scenario,
    comparison: &Comparison,
    manifest: &Manifest,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let mut written = rollouts(scenario, &comparison.rollouts, dir)?;
    provenance(scenario, manifest, dir)?;
    written.extend(["scenario.yaml", "manifest.json"]);
    written.extend(summary(scenario, comparison, dir)?);
    Ok(written)
}

/// A comparison merged from shard folders `shards`: as [`comparison`], with the kept
/// trajectories copied from the shards in canonical order.
pub fn merged_comparison(
    scenario: &Scenario,
    comparison: &Comparison,
    manifest: &Manifest,
    shards: &[PathBuf],
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let mut written = comparison_with(scenario, comparison, manifest, dir)?;
    let names: Vec<String> = comparison
        .rollouts
        .arms
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    for name in [
        "trajectory.csv",
        "visits.csv",
        "doses.csv",
        "mpc_filter.csv",
        "mpc_decisions.csv",
    ] {
        if let Some(text) = super::shard::merge_run_csv(shards, name, &names)? {
            write_atomic(&dir.join(name), text.as_bytes())?;
            written.push(name);
        }
    }
    Ok(written)
}

/// An optimisation: best.yaml (when a finalist was feasible), leaderboard.csv, trace.csv,
/// pareto.csv (bi-objective mode), manifest.json and scenario.yaml.
pub fn optimisation(
    scenario: &Scenario,
    run: &Optimisation,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let (board, plan) = (&run.board, &run.plan);
    let mut written = Vec::new();
    if let Some(best) = output::best_yaml(board, plan, scenario) {
        write_atomic(&dir.join("best.yaml"), best.as_bytes())?;
        written.push("best.yaml");
    }
    write_atomic(
        &dir.join("leaderboard.csv"),
        output::leaderboard_csv(board).as_bytes(),
    )?;
    write_atomic(&dir.join("trace.csv"), output::trace_csv(board).as_bytes())?;
    written.extend(["leaderboard.csv", "trace.csv"]);
    if let Some(frame) = output::robust_frame(board) {
        write_atomic(&dir.join("robust.csv"), frame.to_csv().as_bytes())?;
        written.push("robust.csv");
    }
    if let Some(frame) = output::sensitivity_frame(board) {
        write_atomic(&dir.join("sensitivity.csv"), frame.to_csv().as_bytes())?;
        written.push("sensitivity.csv");
    }
    if plan.pareto.is_some() {
        write_atomic(
            &dir.join("pareto.csv"),
            output::pareto_csv(board).as_bytes(),
        )?;
        written.push("pareto.csv");
    }
    provenance(scenario, &super::optimise::manifest(scenario, run), dir)?;
    written.extend(["manifest.json", "scenario.yaml"]);
    Ok(written)
}

/// An optimisation shard's folder: search.json (its units' searches), scenario.yaml and
/// manifest.json, for `merge`.
pub fn optimisation_shard(
    scenario: &Scenario,
    search: &ShardSearch,
    manifest: &Manifest,
    dir: &Path,
) -> Result<Vec<&'static str>> {
    let path = dir.join("search.json");
    let text = serde_json::to_string(&search.searched).map_err(|e| Error::Format {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, text.as_bytes())?;
    provenance(scenario, manifest, dir)?;
    Ok(vec!["search.json", "scenario.yaml", "manifest.json"])
}

/// A calibration's folder: targets.csv, parameters.csv, pfs.csv, calibrated.yaml,
/// scenario.yaml and manifest.json.
pub fn calibrated(run: &super::calibrate::Calibrated, dir: &Path) -> Result<Vec<String>> {
    use crate::fit::output;
    let c = &run.calibration;
    let mut written = Vec::new();
    let mut put = |name: &str, text: &str| -> Result<()> {
        write_atomic(&dir.join(name), text.as_bytes())?;
        written.push(name.to_owned());
        Ok(())
    };
    put("targets.csv", &output::calibration_targets(c).to_csv())?;
    put(
        "parameters.csv",
        &output::calibration_parameters(c).to_csv(),
    )?;
    put("pfs.csv", &output::calibration_curve(c).to_csv())?;
    put(
        "calibrated.yaml",
        &format!(
            "# {} calibrated to {} by `regimen fit --targets` (parameters.csv has the\n\
             # estimates and their intervals); resolved form, every default written out.\n{}",
            run.scenario.name,
            c.settings.trial.as_deref().unwrap_or("its trial targets"),
            c.scenario.resolved_yaml()
        ),
    )?;
    let s = &c.settings;
    let mut manifest = Manifest::new(
        &run.scenario,
        "fit",
        s.seed,
        s.rollouts,
        &s.arm,
        run.wall_seconds,
    );
    manifest.calibration = Some(super::manifest::CalibrationRecord {
        trial: s.trial.clone(),
        arm: s.arm.clone(),
        statistics: s.statistics.len(),
        held_out: s.statistics.iter().filter(|x| x.held_out).count(),
        parameters: s.free.iter().map(|f| f.path.clone()).collect(),
        rollouts: s.rollouts,
        evaluations: c.evaluations,
        stopped: c.stopped,
        start_distance: c.start_distance,
        distance: c.distance,
    });
    provenance(&run.scenario, &manifest, dir)?;
    written.extend(["scenario.yaml".to_owned(), "manifest.json".to_owned()]);
    Ok(written)
}

/// A fit's folder: estimates.csv, predictions.csv, forecast.csv (with data held back),
/// population.csv, population.yaml, curves.csv, dosing.csv and vpc.csv (for the figures),
/// `subjects/<ID>.yaml`, scenario.yaml and manifest.json.
pub fn fitted(run: &super::fit::Fitted, dir: &Path) -> Result<Vec<String>> {
    use crate::fit::output;
    let mut written = Vec::new();
    let mut put = |name: &str, text: &str| -> Result<()> {
        write_atomic(&dir.join(name), text.as_bytes())?;
        written.push(name.to_owned());
        Ok(())
    };
    put("estimates.csv", &output::estimates(&run.subjects).to_csv())?;
    put(
        "predictions.csv",
        &output::predictions(&run.subjects).to_csv(),
    )?;
    let forecasts = output::forecasts(&run.subjects);
    if !forecasts.is_empty() {
        put("forecast.csv", &forecasts.to_csv())?;
    }
    put(
        "population.csv",
        &output::population(&run.population).to_csv(),
    )?;
    put("population.yaml", &run.population_yaml)?;
    put("curves.csv", &output::curves(&run.subjects).to_csv())?;
    put("dosing.csv", &output::dosing(&run.subjects).to_csv())?;
    put("vpc.csv", &output::vpc(&run.vpc).to_csv())?;
    for s in &run.subjects {
        let name = format!("subjects/{}.yaml", crate::support::format::slug(&s.id));
        put(&name, &s.scenario)?;
    }
    let scenario = &run.scenario;
    let reference = scenario.arms.first().map_or("", |a| a.name.as_str());
    let mut manifest = Manifest::new(scenario, "fit", 0, 1, reference, run.wall_seconds);
    manifest.fit = Some(super::manifest::FitRecord {
        data_file: run.data_file.display().to_string(),
        data_sha256: run.data_sha256.clone(),
        subjects: run.subjects.len(),
        parameters: run.settings.free.iter().map(|f| f.path.clone()).collect(),
        error_model: run.settings.error.name().to_owned(),
        until: run.settings.until,
        cycles: run.settings.cycles,
        starts: run.settings.starts,
        profiles: run.settings.profiles,
        evaluations: run.evaluations(),
    });
    provenance(scenario, &manifest, dir)?;
    written.extend(["scenario.yaml".to_owned(), "manifest.json".to_owned()]);
    Ok(written)
}
