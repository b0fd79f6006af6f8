//! Tables for people and tidy CSV for programs. Files are written whole or not at all.

use crate::contrast::ArmComparison;
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sim::RunResult;
use crate::sim::rollouts::ArmRollouts;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

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
    let units = scenario.spec.time_units.as_str();
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

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| Num(v).to_string())
}

/// A number as CSV files carry it: the shortest text that reads back to the same f64, in
/// scientific notation when it is tiny or huge (never 200 zeros), and 0 for −0.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x == 0.0 {
            f.write_str("0")
        } else if x.is_finite() && (x.abs() < 1e-5 || x.abs() >= 1e16) {
            write!(f, "{x:e}")
        } else {
            write!(f, "{x}")
        }
    }
}

/// A run as the CSV writers see it: its arm, and its rollout number for stochastic runs.
pub type LabelledRun<'a> = (&'a str, Option<u64>, &'a RunResult);

/// `arm` or `arm,rollout` columns.
fn run_label(out: &mut String, results: &[LabelledRun]) -> bool {
    let with_rollout = results.iter().any(|(_, r, _)| r.is_some());
    out.push_str(if with_rollout { "arm,rollout" } else { "arm" });
    with_rollout
}

fn label_cells(arm: &str, rollout: Option<u64>, with_rollout: bool) -> String {
    match (with_rollout, rollout) {
        (true, Some(r)) => format!("{},{r}", csv_field(arm)),
        (true, None) => format!("{},", csv_field(arm)),
        (false, _) => csv_field(arm),
    }
}

/// `trajectory.csv`: arm (and rollout), time, each compartment, exposure and dose of each drug.
pub fn trajectory_csv(scenario: &Scenario, results: &[LabelledRun]) -> String {
    let comps: Vec<&str> = scenario
        .model
        .compartments
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let drugs: Vec<&str> = scenario.drugs.iter().map(|d| d.name.as_str()).collect();
    let mut out = String::new();
    let with_rollout = run_label(&mut out, results);
    out.push_str(",time");
    for c in &comps {
        let _ = write!(out, ",{c}");
    }
    out.push_str(",total,marker");
    for d in &drugs {
        let _ = write!(out, ",exposure_{d}");
    }
    for d in &drugs {
        let _ = write!(out, ",dose_{d}");
    }
    out.push('\n');
    for (name, rollout, r) in results {
        let tr = &r.trajectory;
        let arm = label_cells(name, *rollout, with_rollout);
        for (row, t) in tr.times.iter().enumerate() {
            let counts = &tr.counts[row * comps.len()..(row + 1) * comps.len()];
            let _ = write!(out, "{arm},{}", Num(*t));
            for x in counts {
                let _ = write!(out, ",{}", Num(*x));
            }
            let total: f64 = counts.iter().sum();
            let _ = write!(
                out,
                ",{},{}",
                Num(total),
                Num(scenario.marker.true_value(counts))
            );
            for x in &tr.exposure[row * drugs.len()..(row + 1) * drugs.len()] {
                let _ = write!(out, ",{}", Num(*x));
            }
            for x in &tr.dose[row * drugs.len()..(row + 1) * drugs.len()] {
                let _ = write!(out, ",{}", Num(*x));
            }
            out.push('\n');
        }
    }
    out
}

/// `outcomes.csv`: one row per arm, with the time-to-event layout (time, event flag,
/// censoring flag as in CDISC ADTTE: `cnsr` = 1 when censored).
pub fn outcomes_csv(scenario: &Scenario, results: &[(&str, &RunResult)]) -> String {
    let mut out = String::from(
        "arm,ttp,event,cnsr,resistance_majority_time,fraction_time_on_drug,end_of_treatment,\
         extinct_at,cycles,clipped_doses",
    );
    for d in &scenario.drugs {
        let _ = write!(out, ",cumulative_dose_{}", d.name);
    }
    out.push('\n');
    for (name, r) in results {
        let o = &r.outcome;
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(name),
            Num(o.ttp),
            u8::from(o.progressed),
            u8::from(!o.progressed),
            opt(o.resistance_majority),
            Num(o.fraction_on_drug),
            Num(o.end_of_treatment),
            opt(o.extinct_at),
            o.cycles,
            o.clipped_doses
        );
        for x in &o.cumulative_dose {
            let _ = write!(out, ",{}", Num(*x));
        }
        out.push('\n');
    }
    out
}

/// `doses.csv`: every dose given (after toxicity clipping): time, drug, amount, and how long
/// it is in effect (the dosing interval, or a level's duration).
pub fn doses_csv(scenario: &Scenario, results: &[LabelledRun]) -> String {
    let mut out = String::new();
    let with_rollout = run_label(&mut out, results);
    out.push_str(",time,drug,amount,duration\n");
    for (name, rollout, r) in results {
        for g in &r.doses {
            let drug = scenario
                .drugs
                .get(g.dose.drug)
                .map_or("?", |d| d.name.as_str());
            let _ = writeln!(
                out,
                "{},{},{drug},{},{}",
                label_cells(name, *rollout, with_rollout),
                g.time,
                g.dose.amount,
                g.dose.duration
            );
        }
    }
    out
}

/// `visits.csv`: every visit of every run — observed and true marker, detection, progression.
pub fn visits_csv(results: &[LabelledRun]) -> String {
    let mut out = String::new();
    let with_rollout = run_label(&mut out, results);
    out.push_str(",time,marker,true_marker,detected,progression,threshold\n");
    for (name, rollout, r) in results {
        for v in &r.visits {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                label_cells(name, *rollout, with_rollout),
                Num(v.observation.time),
                Num(v.observation.value),
                Num(v.true_value),
                u8::from(v.observation.detected),
                u8::from(v.progression),
                opt(v.threshold)
            );
        }
    }
    out
}

/// A median that may not be reached: "NR (>h)" style text.
fn reached(t: Option<f64>, horizon: f64) -> String {
    t.map_or_else(|| format!(">{horizon:.0}"), |t| format!("{t:.0}"))
}

/// Unit of a cumulative dose: the dose unit for PK drugs, level × time for dose levels.
fn dose_unit(d: &crate::pk::Drug, time_units: &str) -> String {
    match d.kinetics {
        crate::pk::Kinetics::Level => format!("{}·{time_units}", d.dose_unit),
        crate::pk::Kinetics::OneCompartment { .. } => d.dose_unit.clone(),
    }
}

/// `outcomes.csv` of a stochastic run: one row per rollout and arm, in the time-to-event
/// layout.
pub fn rollouts_csv(scenario: &Scenario, arms: &[(&str, &ArmRollouts)]) -> String {
    let mut out = String::from(
        "arm,rollout,time,event,cnsr,resistance_majority_time,resistance_emerged,\
         fraction_time_on_drug,end_of_treatment,extinct_at,final_total,final_resistant,cycles,\
         clipped_doses,peak_marker",
    );
    for d in &scenario.drugs {
        let _ = write!(out, ",cumulative_dose_{}", d.name);
    }
    out.push('\n');
    for (name, arm) in arms {
        let label = csv_field(name);
        for r in &arm.rollouts {
            let o = &r.outcome;
            let _ = write!(
                out,
                "{label},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.index,
                Num(o.ttp),
                u8::from(o.progressed),
                u8::from(!o.progressed),
                opt(o.resistance_majority),
                u8::from(r.resistance_emerged),
                Num(o.fraction_on_drug),
                Num(o.end_of_treatment),
                opt(o.extinct_at),
                Num(o.final_total),
                Num(o.final_resistant),
                o.cycles,
                o.clipped_doses,
                Num(o.peak_marker)
            );
            for x in &o.cumulative_dose {
                let _ = write!(out, ",{}", Num(*x));
            }
            out.push('\n');
        }
    }
    out
}

/// The tables `compare` prints, each within 100 columns for short arm names: efficacy
/// (median TTP, RMST, ΔRMST, HR, PFS, cures) and treatment (dose, time on drug, cycles,
/// resistance, log-rank p). Every number is also in summary.csv.
pub fn compare_table(scenario: &Scenario, rows: &[ArmComparison]) -> String {
    let units = scenario.spec.time_units.as_str();
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

/// `summary.csv` of `compare`: one row per arm with its contrast to the reference.
pub fn compare_csv(scenario: &Scenario, rows: &[ArmComparison]) -> String {
    let mut out = String::from(
        "arm,rollouts,median_ttp,median_ttp_lower,median_ttp_upper,restricted_mean_ttp,\
         rmst_difference,rmst_difference_lower,rmst_difference_upper,hazard_ratio,\
         hazard_ratio_lower,hazard_ratio_upper,log_rank_chi2,log_rank_p,\
         proportional_hazards_p,hazard_ratio_misleading",
    );
    let pfs_times: Vec<f64> = rows
        .first()
        .map(|r| r.summary.pfs.iter().map(|(t, _)| *t).collect())
        .unwrap_or_default();
    for t in &pfs_times {
        let _ = write!(out, ",pfs_at_{t}");
    }
    out.push_str(
        ",p_resistance,median_resistance_majority,p_cured,p_cured_lower,p_cured_upper,\
         mean_time_on_treatment,mean_fraction_time_on_drug,mean_cycles,mean_clipped_doses",
    );
    for d in &scenario.drugs {
        let _ = write!(out, ",mean_cumulative_dose_{0},relative_dose_{0}", d.name);
    }
    out.push('\n');
    for r in rows {
        let s = &r.summary;
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            csv_field(&r.arm),
            s.rollouts,
            opt(s.median_ttp),
            opt(s.median_ttp_ci.0),
            opt(s.median_ttp_ci.1),
            Num(s.restricted_mean_ttp)
        );
        match &r.contrast {
            Some(c) => {
                let _ = write!(
                    out,
                    ",{},{},{},{},{},{},{},{},{},{}",
                    Num(c.rmst_difference),
                    Num(c.rmst_difference_ci.0),
                    Num(c.rmst_difference_ci.1),
                    opt(c.hazard_ratio),
                    opt(c.hazard_ratio_ci.map(|x| x.0)),
                    opt(c.hazard_ratio_ci.map(|x| x.1)),
                    Num(c.log_rank_chi2),
                    Num(c.log_rank_p),
                    opt(c.proportional_hazards_p),
                    u8::from(c.hazard_ratio_misleading)
                );
            }
            None => out.push_str(",,,,,,,,,,"),
        }
        for (_, p) in &s.pfs {
            let _ = write!(out, ",{}", Num(*p));
        }
        let _ = write!(
            out,
            ",{},{},{},{},{},{},{},{},{}",
            Num(s.p_resistance),
            opt(s.median_resistance_majority),
            Num(s.p_cured),
            Num(s.p_cured_ci.0),
            Num(s.p_cured_ci.1),
            Num(s.mean_time_on_treatment),
            Num(s.mean_fraction_on_drug),
            Num(s.mean_cycles),
            Num(s.mean_clipped_doses)
        );
        for (d, rel) in s.mean_cumulative_dose.iter().zip(&r.relative_dose) {
            let _ = write!(out, ",{},{}", Num(*d), opt(*rel));
        }
        out.push('\n');
    }
    out
}

/// SHA-256 of `text`, in hex (the scenario hash of manifests).
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
