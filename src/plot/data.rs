//! Reading a run's output folder back: the plots and the report are drawn from the files a
//! command wrote, so `regimen plot DIR` redraws exactly what the command drew.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A CSV file as text cells (regimen's CSVs never quote a comma).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Cells, row by row, as text.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads CSV text (quoted fields allowed: a covariate's value may hold a comma); the
    /// first line is the header.
    pub fn parse(text: &str) -> Table {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut lines = reader
            .records()
            .filter_map(|r| r.ok())
            .filter(|r| !r.iter().all(str::is_empty))
            .map(|r| r.iter().map(str::to_owned).collect::<Vec<String>>());
        let header = lines.next().unwrap_or_default();
        Table {
            header,
            rows: lines.collect(),
        }
    }

    /// The index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The number in `row` at column `col` (NaN when missing or not a number).
    pub fn number(row: &[String], col: Option<usize>) -> f64 {
        col.and_then(|c| row.get(c))
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    }

    /// The cell at `col` of `row` ("" when the column is missing).
    pub fn text(row: &[String], col: Option<usize>) -> String {
        col.and_then(|c| row.get(c)).cloned().unwrap_or_default()
    }

    /// Checks that every cell of the numeric columns (every column but `except`) holds a
    /// finite number or nothing: a NaN or an infinity in a run folder is a damaged file, and
    /// a NaN time would stall the Kaplan–Meier estimator. Errors name the file, the line and
    /// the column.
    pub fn check_finite(&self, file: &Path, except: &[&str]) -> Result<()> {
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let Some(name) = self.header.get(c) else {
                    continue;
                };
                if cell.is_empty() || except.contains(&name.as_str()) {
                    continue;
                }
                if !cell.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(Error::Usage(format!(
                        "{}: line {}, column `{name}`: expected a finite number, got `{}`",
                        file.display(),
                        r + 2,
                        cell.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Text columns of the CSV files regimen writes (every other column is a number).
pub const TEXT_COLUMNS: &[&str] = &[
    "arm",
    "drug",
    "schedule",
    "parameters",
    "feasible",
    "on_front",
    "search",
    "family",
    "label",
    "candidate",
    "cliff_parameter",
    "kind",
    "parameter",
    "parameter2",
    "point",
    "decides",
    "action",
];

/// One recorded run: an arm, and the rollout for stochastic runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunKey {
    /// The arm.
    pub arm: String,
    /// The rollout (`None` for a deterministic run).
    pub rollout: Option<u64>,
}

/// A recorded trajectory.
#[derive(Debug, Clone, Default)]
pub struct Trajectory {
    /// Recording times.
    pub times: Vec<f64>,
    /// (compartment, counts).
    pub compartments: Vec<(String, Vec<f64>)>,
    /// The true marker at each time.
    pub marker: Vec<f64>,
}

/// A visit as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    /// Visit time.
    pub time: f64,
    /// The marker as measured.
    pub marker: f64,
    /// Above the detection limit.
    pub detected: bool,
    /// Progression was called at this visit.
    pub progression: bool,
    /// The marker value this visit had to reach for progression (none at baseline).
    pub threshold: Option<f64>,
}

/// A dose given: time, drug, duration.
#[derive(Debug, Clone)]
pub struct GivenDose {
    /// When the dose was given.
    pub time: f64,
    /// The drug's name.
    pub drug: String,
    /// How long the dose is in effect.
    pub duration: f64,
}

/// A model-predictive rule's filter at one visit (`mpc_filter.csv`).
#[derive(Debug, Clone)]
pub struct FilterRow {
    /// Visit time.
    pub time: f64,
    /// Effective sample size.
    pub ess: f64,
    /// Per compartment (in trajectory order): 5 %, 50 %, 95 % quantiles.
    pub quantiles: Vec<[f64; 3]>,
}

/// One action at one decision of a model-predictive rule (`mpc_decisions.csv`).
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// Decision time.
    pub time: f64,
    /// The action's label.
    pub action: String,
    /// What the plan expected of it (NaN when racing stopped it).
    pub score: f64,
    /// It was given.
    pub chosen: bool,
}

/// A row of an optimisation's leaderboard.
#[derive(Debug, Clone)]
pub struct Finalist {
    /// The schedule's label (`arm:NAME` or `search:FAMILY`).
    pub label: String,
    /// Mean dose relative to continuous dosing.
    pub relative_dose: f64,
    /// Objective on the hold-out seeds.
    pub holdout: f64,
    /// Meets the constraints on the hold-out seeds.
    pub feasible: bool,
    /// Not beaten on both benefit and dose.
    pub on_front: bool,
}

/// Everything a run's folder holds that the plots use.
#[derive(Debug, Clone, Default)]
pub struct RunFolder {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest, as read.
    pub manifest: serde_json::Value,
    /// The command that wrote it.
    pub command: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// The scenario's unit of time.
    pub time_units: String,
    /// The scenario's horizon.
    pub horizon: f64,
    /// Per arm: its progression rule in words.
    pub progression: BTreeMap<String, String>,
    /// Arms in the order of the scenario.
    pub arms: Vec<String>,
    /// Drugs in the order of the scenario.
    pub drugs: Vec<String>,
    /// Kept trajectories, by run.
    pub trajectories: BTreeMap<RunKey, Trajectory>,
    /// Visits, by run.
    pub visits: BTreeMap<RunKey, Vec<Visit>>,
    /// Doses given, by run.
    pub doses: BTreeMap<RunKey, Vec<GivenDose>>,
    /// A model-predictive rule's filter, by run: compartment names, then the rows.
    pub filter: BTreeMap<RunKey, (Vec<String>, Vec<FilterRow>)>,
    /// A model-predictive rule's decisions, by run.
    pub decisions: BTreeMap<RunKey, Vec<DecisionRow>>,
    /// Per arm: (time, progressed) of every run.
    pub outcomes: BTreeMap<String, Vec<(f64, bool)>>,
    /// Rollouts per arm in outcomes.csv (1 for a deterministic run).
    pub stochastic: bool,
    /// Optimisation: every evaluation's (relative dose, score), and the finalists.
    pub cloud: Vec<(f64, f64)>,
    /// The leaderboard's rows.
    pub finalists: Vec<Finalist>,
    /// The optimisation's objective (as `--objective` takes it).
    pub objective: String,
    /// Cells per unit of the counts (1 when counts are cells).
    pub cells_per_unit: f64,
    /// Marker below this is not detected (0: no limit).
    pub detection_limit: f64,
}

/// A JSON array of strings (empty if it is not one).
fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The text of `dir/name`, or `None` if there is no such file.
pub(super) fn read(dir: &Path, name: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|source| Error::Read { path, source })
}

fn key(t: &Table, row: &[String]) -> RunKey {
    RunKey {
        arm: Table::text(row, t.column("arm")),
        rollout: t
            .column("rollout")
            .and_then(|c| row.get(c))
            .and_then(|s| s.parse().ok()),
    }
}

impl RunFolder {
    /// The progression rule `arm` was judged by, in words ("" when the run did not say).
    pub fn arm_progression(&self, arm: &str) -> String {
        self.progression.get(arm).cloned().unwrap_or_default()
    }

    /// Reads `dir` (a folder written by simulate, compare or optimise).
    pub fn load(dir: &Path) -> Result<RunFolder> {
        let manifest_text = read(dir, "manifest.json")?.ok_or_else(|| {
            Error::Usage(format!(
                "{} has no manifest.json: not an output folder of regimen",
                dir.display()
            ))
        })?;
        let manifest: serde_json::Value =
            serde_json::from_str(&manifest_text).map_err(|e| Error::Format {
                path: dir.join("manifest.json"),
                reason: e.to_string(),
            })?;
        let s = |k: &str| manifest[k].as_str().unwrap_or_default().to_owned();
        let mut folder = RunFolder {
            dir: dir.to_path_buf(),
            command: s("command"),
            scenario_name: s("scenario_name"),
            time_units: manifest["time_units"].as_str().unwrap_or("days").to_owned(),
            horizon: manifest["horizon"].as_f64().unwrap_or(f64::NAN),
            progression: manifest["arm_progression"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            arms: strings(&manifest["arms"]),
            drugs: strings(&manifest["drugs"]),
            objective: manifest["optimise"]["objective"]
                .as_str()
                .unwrap_or("rmst")
                .to_owned(),
            cells_per_unit: manifest["cells_per_unit"].as_f64().unwrap_or(1.0),
            detection_limit: manifest["detection_limit"].as_f64().unwrap_or(0.0),
            manifest,
            ..RunFolder::default()
        };
        if let Some(text) = read(dir, "trajectory.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("trajectory.csv"), TEXT_COLUMNS)?;
            folder.read_trajectories(&t);
        }
        if let Some(text) = read(dir, "visits.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("visits.csv"), TEXT_COLUMNS)?;
            let (time, marker, detected, progression, threshold) = (
                t.column("time"),
                t.column("marker"),
                t.column("detected"),
                t.column("progression"),
                t.column("threshold"),
            );
            for row in &t.rows {
                folder.visits.entry(key(&t, row)).or_default().push(Visit {
                    time: Table::number(row, time),
                    marker: Table::number(row, marker),
                    detected: Table::text(row, detected) == "1",
                    progression: Table::text(row, progression) == "1",
                    threshold: Some(Table::number(row, threshold)).filter(|x| x.is_finite()),
                });
            }
        }
        if let Some(text) = read(dir, "doses.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("doses.csv"), TEXT_COLUMNS)?;
            let (time, drug, duration) = (t.column("time"), t.column("drug"), t.column("duration"));
            for row in &t.rows {
                folder
                    .doses
                    .entry(key(&t, row))
                    .or_default()
                    .push(GivenDose {
                        time: Table::number(row, time),
                        drug: Table::text(row, drug),
                        duration: Table::number(row, duration),
                    });
            }
        }
        folder.read_mpc(dir)?;
        if let Some(text) = read(dir, "outcomes.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("outcomes.csv"), TEXT_COLUMNS)?;
            folder.stochastic = t.column("rollout").is_some();
            let time = t.column("time").or(t.column("ttp"));
            let event = t.column("event");
            for row in &t.rows {
                folder
                    .outcomes
                    .entry(Table::text(row, t.column("arm")))
                    .or_default()
                    .push((Table::number(row, time), Table::text(row, event) == "1"));
            }
        }
        if let Some(text) = read(dir, "trace.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("trace.csv"), TEXT_COLUMNS)?;
            let (dose, score) = (t.column("relative_dose"), t.column("score"));
            folder.cloud = t
                .rows
                .iter()
                .map(|r| (Table::number(r, dose), Table::number(r, score)))
                .filter(|(d, s)| d.is_finite() && s.is_finite())
                .collect();
        }
        if let Some(text) = read(dir, "leaderboard.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("leaderboard.csv"), TEXT_COLUMNS)?;
            let c = |n: &str| t.column(n);
            folder.finalists = t
                .rows
                .iter()
                .map(|r| Finalist {
                    label: Table::text(r, c("schedule")),
                    relative_dose: Table::number(r, c("relative_dose")),
                    holdout: Table::number(r, c("holdout")),
                    feasible: Table::text(r, c("feasible")) == "true",
                    on_front: Table::text(r, c("on_front")) == "true",
                })
                .collect();
        }
        if folder.arms.is_empty() {
            folder.arms = folder.outcomes.keys().cloned().collect();
        }
        Ok(folder)
    }

    /// `mpc_filter.csv` and `mpc_decisions.csv`, when the folder has them.
    fn read_mpc(&mut self, dir: &Path) -> Result<()> {
        if let Some(text) = read(dir, "mpc_filter.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("mpc_filter.csv"), TEXT_COLUMNS)?;
            let names: Vec<String> = t
                .header
                .iter()
                .filter_map(|h| h.strip_suffix("_q50").map(str::to_owned))
                .collect();
            let cols: Vec<[Option<usize>; 3]> = names
                .iter()
                .map(|n| ["q05", "q50", "q95"].map(|q| t.column(&format!("{n}_{q}"))))
                .collect();
            let (time, ess) = (t.column("time"), t.column("ess"));
            for row in &t.rows {
                let entry = self
                    .filter
                    .entry(key(&t, row))
                    .or_insert_with(|| (names.clone(), Vec::new()));
                entry.1.push(FilterRow {
                    time: Table::number(row, time),
                    ess: Table::number(row, ess),
                    quantiles: cols
                        .iter()
                        .map(|c| c.map(|i| Table::number(row, i)))
                        .collect(),
                });
            }
        }
        if let Some(text) = read(dir, "mpc_decisions.csv")? {
            let t = Table::parse(&text);
            t.check_finite(&dir.join("mpc_decisions.csv"), TEXT_COLUMNS)?;
            let c = |n: &str| t.column(n);
            for row in &t.rows {
                self.decisions
                    .entry(key(&t, row))
                    .or_default()
                    .push(DecisionRow {
                        time: Table::number(row, c("time")),
                        action: Table::text(row, c("action")),
                        score: Table::number(row, c("score")),
                        chosen: Table::text(row, c("chosen")) == "1",
                    });
            }
        }
        Ok(())
    }

    fn read_trajectories(&mut self, t: &Table) {
        let Some(time) = t.column("time") else {
            return;
        };
        let Some(total) = t.column("total") else {
            return;
        };
        let marker = t.column("marker");
        let names: Vec<(usize, String)> = (time + 1..total)
            .map(|i| (i, t.header[i].clone()))
            .collect();
        for row in &t.rows {
            let tr = self.trajectories.entry(key(t, row)).or_default();
            if tr.compartments.is_empty() {
                tr.compartments = names.iter().map(|(_, n)| (n.clone(), Vec::new())).collect();
            }
            tr.times.push(Table::number(row, Some(time)));
            for (k, (i, _)) in names.iter().enumerate() {
                tr.compartments[k].1.push(Table::number(row, Some(*i)));
            }
            tr.marker.push(Table::number(row, marker));
        }
    }

    /// One cell in the units of the counts.
    pub fn one_cell(&self) -> f64 {
        1.0 / self.cells_per_unit.max(1.0)
    }

    /// The y-axis label of counts.
    pub fn count_label(&self) -> String {
        if self.cells_per_unit == 1.0 {
            "cells (log scale)".to_owned()
        } else {
            format!("burden, 1 = {:e} cells (log scale)", self.cells_per_unit)
        }
    }

    /// The recorded runs of `arm`, in rollout order.
    pub fn runs_of<'a, T>(
        map: &'a BTreeMap<RunKey, T>,
        arm: &'a str,
    ) -> impl Iterator<Item = (&'a RunKey, &'a T)> + 'a {
        map.iter().filter(move |(k, _)| k.arm == arm)
    }
}
