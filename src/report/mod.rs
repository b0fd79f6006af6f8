//! Tables for people and tidy CSV for programs. Files are written whole or not at all.

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sim::RunResult;
use crate::sim::rollouts::ArmRollouts;
use crate::stats::contrast::ArmComparison;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub mod frame;
pub mod outdir;
pub use crate::support::format::{Num, sha256_hex};
pub use frame::{Cell, Column, Frame};

/// Writes `contents` to `path` atomically: a temporary file in the same folder, flushed,
/// then renamed over the target.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Formats a time (or "—" when absent) with one decimal.
fn time_cell(t: Option<f64>) -> String {
    t.map_or_else(|| "—".to_owned(), |t| format!("{t:.1}"))
}

/// Formats a number with three significant digits, switching to scientific form when large.
fn number_cell(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() >= 1e5 || x.abs() < 1e-2 {
        format!("{x:.2e}")
    } else {
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    }
}

/// The per-arm table `simulate` prints.
/// Times are in the scenario's units (the legend under it says which).
pub fn summary_table(scenario: &Scenario, results: &[(&str, &RunResult)]) -> String {
    let units = scenario.time_units.as_str();
    let mut header = vec![
        "arm".to_owned(),
        "TTP".to_owned(),
        "resistant >50%".to_owned(),
        "treated".to_owned(),
    ];
    for d in &scenario.drugs {
        header.push(format!("{}, {}", d.name, dose_unit(d, units)));
    }
    header.push("% on drug".to_owned());
    let mut rows = vec![header];
    for (name, r) in results {
        let o = &r.outcome;
        let mut row = vec![
            (*name).to_owned(),
            if o.progressed {
                format!("{:.1}", o.ttp)
            } else {
                format!(">{:.1}", o.ttp)
            },
            time_cell(o.resistance_majority),
            format!("{:.1}", o.end_of_treatment),
        ];
        row.extend(o.cumulative_dose.iter().map(|&x| number_cell(x)));
        row.push(format!("{:.1}", 100.0 * o.fraction_on_drug));
        rows.push(row);
    }
    render_table(&rows)
}

/// Left-aligns the first column, right-aligns the rest, with a rule under the header.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = width[c] - cell.chars().count();
            if c == 0 {
                let _ = write!(line, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "  {}{cell}", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            let total: usize = width.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            out.push_str(&"─".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// A run as the CSV writers see it: its arm, and its rollout number for stochastic runs.
pub type LabelledRun<'a> = (&'a str, Option<u64>, &'a RunResult);

/// `arm` or `arm,rollout` columns, then `rest`; and whether rollouts are labelled.
fn run_columns(results: &[LabelledRun], rest: &[String]) -> (Vec<String>, bool) {
    let with_rollout = results.iter().any(|(_, r, _)| r.is_some());
    let mut names = vec!["arm".to_owned()];
    if with_rollout {
        names.push("rollout".to_owned());
    }
    names.extend(rest.iter().cloned());
    (names, with_rollout)
}

fn label_cells(arm: &str, rollout: Option<u64>, with_rollout: bool) -> Vec<Cell> {
    let mut cells = vec![Cell::from(arm)];
    if with_rollout {
        cells.push(Cell::Number(rollout.map(|r| r as f64)));
    }
    cells
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// `trajectory.csv`: arm (and rollout), time, each compartment, exposure and dose of each drug.
pub fn trajectory_frame(scenario: &Scenario, results: &[LabelledRun]) -> Frame {
    let comps: Vec<&str> = scenario
        .model
        .compartments
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let drugs: Vec<&str> = scenario.drugs.iter().map(|d| d.name.as_str()).collect();
    let mut rest = vec!["time".to_owned()];
    rest.extend(strings(&comps));
    rest.extend(strings(&["total", "marker"]));
    rest.extend(drugs.iter().map(|d| format!("exposure_{d}")));
    rest.extend(drugs.iter().map(|d| format!("dose_{d}")));
    let (names, with_rollout) = run_columns(results, &rest);
    let mut frame = Frame::new(names, &["arm"]);
    for (name, rollout, r) in results {
        let tr = &r.trajectory;
        for (row, t) in tr.times.iter().enumerate() {
            let counts = &tr.counts[row * comps.len()..(row + 1) * comps.len()];
            let mut cells = label_cells(name, *rollout, with_rollout);
            cells.push(Cell::from(*t));
            cells.extend(counts.iter().map(|x| Cell::from(*x)));
            cells.push(Cell::from(counts.iter().sum::<f64>()));
            cells.push(Cell::from(scenario.marker.true_value(counts)));
            let drug_row = row * drugs.len()..(row + 1) * drugs.len();
            cells.extend(tr.exposure[drug_row.clone()].iter().map(|x| Cell::from(*x)));
            cells.extend(tr.dose[drug_row].iter().map(|x| Cell::from(*x)));
            frame.push(cells);
        }
    }
    frame
}

/// [`trajectory_frame`] as CSV.
pub fn trajectory_csv(scenario: &Scenario, results: &[LabelledRun]) -> String {
    trajectory_frame(scenario, results).to_csv()
}

/// `outcomes.csv`: one row per arm, with the time-to-event layout (time, event flag,
/// censoring flag as in CDISC ADTTE: `cnsr` = 1 when censored).
pub fn outcomes_frame(scenario: &Scenario, results: &[(&str, &RunResult)]) -> Frame {
    let mut names = strings(&[
        "arm",
        "ttp",
        "event",
        "cnsr",
        "resistance_majority_time",
        "fraction_time_on_drug",
        "end_of_treatment",
        "extinct_at",
        "cycles",
        "clipped_doses",
    ]);
    names.extend(
        scenario
            .drugs
            .iter()
            .map(|d| format!("cumulative_dose_{}", d.name)),
    );
    let mut frame = Frame::new(names, &["arm"]);
    for (name, r) in results {
        let o = &r.outcome;
        let mut cells = vec![
            Cell::from(*name),
            Cell::from(o.ttp),
            Cell::from(o.progressed),
            Cell::from(!o.progressed),
            Cell::from(o.resistance_majority),
            Cell::from(o.fraction_on_drug),
            Cell::from(o.end_of_treatment),
            Cell::from(o.extinct_at),
            Cell::from(o.cycles),
            Cell::from(o.clipped_doses),
        ];
        cells.extend(o.cumulative_dose.iter().map(|x| Cell::from(*x)));
        frame.push(cells);
    }
    frame
}

/// [`outcomes_frame`] as CSV.
pub fn outcomes_csv(scenario: &Scenario, results: &[(&str, &RunResult)]) -> String {
    outcomes_frame(scenario, results).to_csv()
}

/// `doses.csv`: every dose given (after toxicity clipping): time, drug, amount, and how long
/// it is in effect (the dosing interval, or a level's duration).
pub fn doses_frame(scenario: &Scenario, results: &[LabelledRun]) -> Frame {
    let (names, with_rollout) =
        run_columns(results, &strings(&["time", "drug", "amount", "duration"]));
    let mut frame = Frame::new(names, &["arm", "drug"]);
    for (name, rollout, r) in results {
        for g in &r.doses {
            let drug = scenario
                .drugs
                .get(g.dose.drug)
                .map_or("?", |d| d.name.as_str());
            let mut cells = label_cells(name, *rollout, with_rollout);
            cells.extend([
                Cell::from(g.time),
                Cell::from(drug),
                Cell::from(g.dose.amount),
                Cell::from(g.dose.duration),
            ]);
            frame.push(cells);
        }
    }
    frame
}

/// [`doses_frame`] as CSV.
pub fn doses_csv(scenario: &Scenario, results: &[LabelledRun]) -> String {
    doses_frame(scenario, results).to_csv()
}

/// `visits.csv`: every visit of every run — observed and true marker, detection, progression.
pub fn visits_frame(results: &[LabelledRun]) -> Frame {
    let rest = strings(&[
        "time",
        "marker",
        "true_marker",
        "detected",
        "progression",
        "threshold",
    ]);
    let (names, with_rollout) = run_columns(results, &rest);
    let mut frame = Frame::new(names, &["arm"]);
    for (name, rollout, r) in results {
        for v in &r.visits {
            let mut cells = label_cells(name, *rollout, with_rollout);
            cells.extend([
                Cell::from(v.observation.time),
                Cell::from(v.observation.value),
                Cell::from(v.true_value),
                Cell::from(v.observation.detected),
                Cell::from(v.progression),
                Cell::from(v.threshold),
            ]);
            frame.push(cells);
        }
    }
    frame
}

/// [`visits_frame`] as CSV.
pub fn visits_csv(results: &[LabelledRun]) -> String {
    visits_frame(results).to_csv()
}

/// The runs whose rule left a model-predictive trace (`None` when there are none).
fn traced<'r, 'a>(results: &'r [LabelledRun<'a>]) -> Option<Vec<&'r LabelledRun<'a>>> {
    let traced: Vec<&LabelledRun> = results
        .iter()
        .filter(|r| r.2.policy_trace.is_some())
        .collect();
    (!traced.is_empty()).then_some(traced)
}

/// `mpc_filter.csv`: a model-predictive rule's particle filter at every visit of the runs
/// that have one: effective sample size, resampling, and the 5 %, 50 % and 95 % quantiles
/// of every compartment. `None` when no run has such a rule.
pub fn mpc_filter_frame(scenario: &Scenario, results: &[LabelledRun]) -> Option<Frame> {
    let traced = traced(results)?;
    let mut rest = strings(&["time", "ess", "resampled", "collapsed"]);
    for c in &scenario.model.compartments {
        for q in ["q05", "q50", "q95"] {
            rest.push(format!("{}_{q}", c.name));
        }
    }
    let (names, with_rollout) = run_columns(results, &rest);
    let mut frame = Frame::new(names, &["arm"]);
    for (name, rollout, r) in traced {
        let Some(trace) = &r.policy_trace else {
            continue;
        };
        for f in &trace.filter {
            let mut cells = label_cells(name, *rollout, with_rollout);
            cells.extend([
                Cell::from(f.time),
                Cell::from(f.ess),
                Cell::from(f.resampled),
                Cell::from(f.collapsed),
            ]);
            for q in &f.quantiles {
                cells.extend(q.iter().map(|x| Cell::from(*x)));
            }
            frame.push(cells);
        }
    }
    Some(frame)
}

/// [`mpc_filter_frame`] as CSV.
pub fn mpc_filter_csv(scenario: &Scenario, results: &[LabelledRun]) -> Option<String> {
    mpc_filter_frame(scenario, results).map(|f| f.to_csv())
}

/// [`mpc_decisions_frame`] as CSV.
pub fn mpc_decisions_csv(results: &[LabelledRun]) -> Option<String> {
    mpc_decisions_frame(results).map(|f| f.to_csv())
}

/// `mpc_decisions.csv`: every decision of a model-predictive rule, one row per action:
/// the score the plan expected of it (empty when racing stopped it early), the
/// continuation threshold behind that score, whether it was given, and the particle-days
/// the decision simulated. `None` when no run has such a rule.
pub fn mpc_decisions_frame(results: &[LabelledRun]) -> Option<Frame> {
    let traced = traced(results)?;
    let rest = strings(&[
        "time",
        "action",
        "score",
        "theta",
        "chosen",
        "particle_days",
    ]);
    let (names, with_rollout) = run_columns(results, &rest);
    let mut frame = Frame::new(names, &["arm", "action"]);
    for (name, rollout, r) in traced {
        let Some(trace) = &r.policy_trace else {
            continue;
        };
        for d in &trace.decisions {
            for (a, action) in trace.actions.iter().enumerate() {
                let mut cells = label_cells(name, *rollout, with_rollout);
                let finite = |x: f64| Cell::from(Some(x).filter(|v| v.is_finite()));
                cells.extend([
                    Cell::from(d.time),
                    Cell::from(action.label(trace.every).as_str()),
                    finite(d.scores.get(a).copied().unwrap_or(f64::NAN)),
                    finite(d.theta.get(a).copied().unwrap_or(f64::NAN)),
                    Cell::from(a == d.chosen),
                    Cell::from(d.particle_days),
                ]);
                frame.push(cells);
            }
        }
    }
    Some(frame)
}

/// A median that may not be reached: "NR (>h)" style text.
fn reached(t: Option<f64>, horizon: f64) -> String {
    t.map_or_else(|| format!(">{horizon:.0}"), |t| format!("{t:.0}"))
}

/// Unit of a cumulative dose: the dose unit for PK drugs, level × time for dose levels.
fn dose_unit(d: &crate::model::pk::Drug, time_units: &str) -> String {
    match d.kinetics {
        crate::model::pk::Kinetics::Level => format!("{}·{time_units}", d.dose_unit),
        crate::model::pk::Kinetics::OneCompartment { .. } => d.dose_unit.clone(),
    }
}

/// `outcomes.csv` of a stochastic run: one row per rollout and arm, in the time-to-event
/// layout.
pub fn rollouts_frame(scenario: &Scenario, arms: &[(&str, &ArmRollouts)]) -> Frame {
    let mut names = strings(&[
        "arm",
        "rollout",
        "time",
        "event",
        "cnsr",
        "resistance_majority_time",
        "resistance_emerged",
        "fraction_time_on_drug",
        "end_of_treatment",
        "extinct_at",
        "final_total",
        "final_resistant",
        "cycles",
        "clipped_doses",
        "peak_marker",
        "best_response",
        "response_time",
    ]);
    names.extend(
        scenario
            .drugs
            .iter()
            .map(|d| format!("cumulative_dose_{}", d.name)),
    );
    let mut frame = Frame::new(names, &["arm"]);
    for (name, arm) in arms {
        for r in &arm.rollouts {
            let o = &r.outcome;
            let mut cells = vec![
                Cell::from(*name),
                Cell::from(r.index),
                Cell::from(o.ttp),
                Cell::from(o.progressed),
                Cell::from(!o.progressed),
                Cell::from(o.resistance_majority),
                Cell::from(r.resistance_emerged),
                Cell::from(o.fraction_on_drug),
                Cell::from(o.end_of_treatment),
                Cell::from(o.extinct_at),
                Cell::from(o.final_total),
                Cell::from(o.final_resistant),
                Cell::from(o.cycles),
                Cell::from(o.clipped_doses),
                Cell::from(o.peak_marker),
                Cell::from(o.best_response),
                Cell::from(o.response_at),
            ];
            cells.extend(o.cumulative_dose.iter().map(|x| Cell::from(*x)));
            frame.push(cells);
        }
    }
    frame
}

/// [`rollouts_frame`] as CSV.
pub fn rollouts_csv(scenario: &Scenario, arms: &[(&str, &ArmRollouts)]) -> String {
    rollouts_frame(scenario, arms).to_csv()
}

/// The tables `compare` prints, each within 100 columns for short arm names: efficacy
/// (median TTP, RMST, ΔRMST, HR, PFS, cures) and treatment (dose, time on drug, cycles,
/// resistance, log-rank p). Every number is also in summary.csv.
pub fn compare_table(scenario: &Scenario, rows: &[ArmComparison]) -> String {
    let units = scenario.time_units.as_str();
    let h = scenario.horizon;
    let reference = rows
        .iter()
        .find_map(|r| r.contrast.as_ref().map(|c| c.reference.clone()))
        .unwrap_or_default();
    let mut header = vec![
        "arm".to_owned(),
        format!("median TTP, {units}"),
        "RMST".to_owned(),
        format!("ΔRMST vs {reference}"),
        "HR".to_owned(),
    ];
    let pfs_times: Vec<f64> = rows
        .first()
        .map(|r| r.summary.pfs.iter().map(|(t, _)| *t).collect())
        .unwrap_or_default();
    for t in &pfs_times {
        header.push(format!("PFS@{t:.0}"));
    }
    let cures = rows.iter().any(|r| r.summary.p_cured > 0.0);
    if cures {
        header.push("cured".to_owned());
    }
    let mut efficacy = vec![header];
    let ends = |t: Option<f64>| t.map_or_else(|| "NR".to_owned(), |t| format!("{t:.0}"));
    for r in rows {
        let s = &r.summary;
        let mut row = vec![
            r.arm.clone(),
            format!(
                "{} ({}–{})",
                reached(s.median_ttp, h),
                ends(s.median_ttp_ci.0),
                ends(s.median_ttp_ci.1)
            ),
            format!("{:.0}", s.restricted_mean_ttp),
        ];
        match &r.contrast {
            Some(c) => {
                row.push(format!(
                    "{:+.0} ({:+.0} to {:+.0})",
                    c.rmst_difference, c.rmst_difference_ci.0, c.rmst_difference_ci.1
                ));
                let mark = if c.hazard_ratio_misleading {
                    " ‡"
                } else {
                    ""
                };
                row.push(match (c.hazard_ratio, c.hazard_ratio_ci) {
                    (Some(hr), Some((lo, hi))) => format!("{hr:.2} ({lo:.2}–{hi:.2}){mark}"),
                    _ => "—".to_owned(),
                });
            }
            None => row.extend(["reference".to_owned(), "—".to_owned()]),
        }
        for (_, p) in &s.pfs {
            row.push(format!("{p:.2}"));
        }
        if cures {
            row.push(format!("{:.2}", s.p_cured));
        }
        efficacy.push(row);
    }
    let mut header = vec!["arm".to_owned()];
    for d in &scenario.drugs {
        header.push(d.name.clone());
    }
    header.push("% on drug".to_owned());
    header.push(format!("treated, {units}"));
    header.push("cycles".to_owned());
    let budgets = rows.iter().any(|r| r.summary.mean_clipped_doses > 0.0);
    if budgets {
        header.push("clipped".to_owned());
    }
    header.push("P(resistance)".to_owned());
    header.push("log-rank p".to_owned());
    let mut treatment = vec![header];
    for r in rows {
        let s = &r.summary;
        let mut row = vec![r.arm.clone()];
        for d in &r.relative_dose {
            row.push(d.map_or_else(|| "—".to_owned(), |x| format!("{:.0}%", 100.0 * x)));
        }
        row.push(format!("{:.1}", 100.0 * s.mean_fraction_on_drug));
        row.push(format!("{:.0}", s.mean_time_on_treatment));
        row.push(format!("{:.1}", s.mean_cycles));
        if budgets {
            row.push(format!("{:.1}", s.mean_clipped_doses));
        }
        row.push(format!("{:.3}", s.p_resistance));
        row.push(
            r.contrast
                .as_ref()
                .map_or_else(|| "—".to_owned(), |c| p_value(c.log_rank_p)),
        );
        treatment.push(row);
    }
    format!("{}\n{}", render_table(&efficacy), render_table(&treatment))
}

/// A p-value for people: "<1e-16" below what the computation resolves.
fn p_value(p: f64) -> String {
    if p < 1e-16 {
        "<1e-16".to_owned()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// `summary.csv` of a comparison: one row per arm, every number of the tables and more.
pub fn compare_frame(scenario: &Scenario, rows: &[ArmComparison]) -> Frame {
    let mut names = strings(&[
        "arm",
        "rollouts",
        "median_ttp",
        "median_ttp_lower",
        "median_ttp_upper",
        "restricted_mean_ttp",
        "rmst_difference",
        "rmst_difference_lower",
        "rmst_difference_upper",
        "hazard_ratio",
        "hazard_ratio_lower",
        "hazard_ratio_upper",
        "log_rank_chi2",
        "log_rank_p",
        "proportional_hazards_p",
        "hazard_ratio_misleading",
    ]);
    let pfs_times: Vec<f64> = rows
        .first()
        .map(|r| r.summary.pfs.iter().map(|(t, _)| *t).collect())
        .unwrap_or_default();
    names.extend(pfs_times.iter().map(|t| format!("pfs_at_{t}")));
    names.extend(strings(&[
        "p_resistance",
        "median_resistance_majority",
        "p_cured",
        "p_cured_lower",
        "p_cured_upper",
        "mean_time_on_treatment",
        "mean_fraction_time_on_drug",
        "mean_cycles",
        "mean_clipped_doses",
    ]));
    for d in &scenario.drugs {
        names.push(format!("mean_cumulative_dose_{}", d.name));
        names.push(format!("relative_dose_{}", d.name));
    }
    let mut frame = Frame::new(names, &["arm"]);
    for r in rows {
        let s = &r.summary;
        let mut cells = vec![
            Cell::from(r.arm.as_str()),
            Cell::from(s.rollouts as u64),
            Cell::from(s.median_ttp),
            Cell::from(s.median_ttp_ci.0),
            Cell::from(s.median_ttp_ci.1),
            Cell::from(s.restricted_mean_ttp),
        ];
        match &r.contrast {
            Some(c) => cells.extend([
                Cell::from(c.rmst_difference),
                Cell::from(c.rmst_difference_ci.0),
                Cell::from(c.rmst_difference_ci.1),
                Cell::from(c.hazard_ratio),
                Cell::from(c.hazard_ratio_ci.map(|x| x.0)),
                Cell::from(c.hazard_ratio_ci.map(|x| x.1)),
                Cell::from(c.log_rank_chi2),
                Cell::from(c.log_rank_p),
                Cell::from(c.proportional_hazards_p),
                Cell::from(c.hazard_ratio_misleading),
            ]),
            None => cells.extend(std::iter::repeat_n(Cell::Number(None), 10)),
        }
        cells.extend(s.pfs.iter().map(|(_, p)| Cell::from(*p)));
        cells.extend([
            Cell::from(s.p_resistance),
            Cell::from(s.median_resistance_majority),
            Cell::from(s.p_cured),
            Cell::from(s.p_cured_ci.0),
            Cell::from(s.p_cured_ci.1),
            Cell::from(s.mean_time_on_treatment),
            Cell::from(s.mean_fraction_on_drug),
            Cell::from(s.mean_cycles),
            Cell::from(s.mean_clipped_doses),
        ]);
        for (d, rel) in s.mean_cumulative_dose.iter().zip(&r.relative_dose) {
            cells.push(Cell::from(*d));
            cells.push(Cell::from(*rel));
        }
        frame.push(cells);
    }
    frame
}

/// [`compare_frame`] as CSV.
pub fn compare_csv(scenario: &Scenario, rows: &[ArmComparison]) -> String {
    compare_frame(scenario, rows).to_csv()
}

#[cfg(test)]
mod tests {
    use super::Num;

    #[test]
    fn csv_numbers_are_short_and_read_back_exactly() {
        for x in [
            2.27e-201,
            1.734_723_475_976_807e-18,
            6.5e-5,
            0.5,
            672.0,
            1.0e10,
            3.2e17,
        ] {
            let text = Num(x).to_string();
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
            assert!(text.len() <= 24, "{text}");
        }
        assert_eq!(Num(-0.0).to_string(), "0");
        assert_eq!(Num(2.27e-201).to_string(), "2.27e-201");
        assert_eq!(Num(672.0).to_string(), "672");
    }

    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(number_cell(0.0), "0");
        assert_eq!(number_cell(1234.5), "1234");
        assert_eq!(number_cell(12.345), "12.3");
        assert_eq!(number_cell(2.5e10), "2.50e10");
    }

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("regimen-report-{}", std::process::id()));
        let file = dir.join("x.csv");
        write_atomic(&file, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"a,b\n");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
