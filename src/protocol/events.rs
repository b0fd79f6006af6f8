//! Dosing records in the NONMEM / mrgsolve convention: reading them from CSV, expanding
//! `addl`/`ii` repeats into doses, and writing the doses a run gave back out.
//!
//! CSV files use the upper-case headers `ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS` (only TIME and
//! AMT are required). Rows with EVID other than 1 (observations, resets) are skipped; steady
//! state (SS ≠ 0) is not supported. CMT is the 1-based index of the drug in the scenario.

use crate::error::Diagnostic;
use crate::model::pk::{Dose, Kinetics};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// One dosing record: `amt` at `time`, repeated `addl` more times every `ii`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// Time of the (first) dose.
    pub time: f64,
    /// Amount per dose.
    pub amt: f64,
    /// 1-based index of the drug in `drugs` (the schedule's drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmt: Option<u32>,
    /// Interval between repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ii: Option<f64>,
    /// Additional doses after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addl: Option<u32>,
    /// Amount per time unit for a dose level: the level lasts amt / rate (give this or `dur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// How long a dose level lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dur: Option<f64>,
}

const KNOWN: [&str; 9] = [
    "ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS",
];

fn problem(
    file: &Path,
    line: usize,
    column: Option<usize>,
    field: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: Some(line),
        column,
        field: field.to_owned(),
        message,
    }
}

/// Parses a dosing-record CSV (`text`, the contents of `file`).
pub fn parse_csv(file: &Path, text: &str) -> Result<Vec<EventRecord>, Vec<Diagnostic>> {
    // Spreadsheets often start a UTF-8 CSV with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_index, header)) = lines.next() else {
        return Err(vec![problem(file, 1, None, "", "the file is empty; expected a header line such as ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS".to_owned())]);
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut problems = check_header(file, header_index + 1, &names);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut records = Vec::new();
    let mut last_time = f64::NEG_INFINITY;
    for (index, line) in lines {
        let row = Row {
            file,
            line_no: index + 1,
            names: &names,
        };
        if let Some(r) = row.record(line, &mut last_time, &mut problems) {
            records.push(r);
        }
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

/// The header's problems: unknown columns (with a hint) and missing TIME or AMT.
fn check_header(file: &Path, line_no: usize, names: &[&str]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if !KNOWN.contains(name) {
            let hint = if KNOWN.contains(&name.to_ascii_uppercase().as_str()) {
                format!(
                    "headers are upper case: write {}",
                    name.to_ascii_uppercase()
                )
            } else {
                format!("allowed headers: {}", KNOWN.join(","))
            };
            // Echo no more of the file than the offending cell, and at most 40 characters.
            let shown: String = name.chars().take(40).collect();
            problems.push(problem(
                file,
                line_no,
                Some(i + 1),
                &shown,
                format!("unknown column `{shown}`; {hint}"),
            ));
        }
    }
    for required in ["TIME", "AMT"] {
        if !names.contains(&required) {
            problems.push(problem(
                file,
                line_no,
                None,
                required,
                format!("missing column {required}"),
            ));
        }
    }
    problems
}

/// One data line of a dosing-record CSV.
struct Row<'a> {
    file: &'a Path,
    line_no: usize,
    names: &'a [&'a str],
}

impl Row<'_> {
    fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }

    /// The line's dosing record (`None` for a non-dose EVID or a line with problems, which go
    /// to `problems`); `last_time` keeps the records in time order.
    fn record(
        &self,
        line: &str,
        last_time: &mut f64,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<EventRecord> {
        let (file, line_no, names) = (self.file, self.line_no, self.names);
        let column = |name: &str| self.column(name);
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            problems.push(problem(
                file,
                line_no,
                None,
                "",
                format!("{} values for {} columns", cells.len(), names.len()),
            ));
            return None;
        }
        let mut number = |name: &str| -> Result<Option<f64>, ()> {
            let Some(i) = column(name) else {
                return Ok(None);
            };
            let cell = cells[i];
            if cell.is_empty() || cell == "." {
                return Ok(None);
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => {
                    let shown: String = cell.chars().take(40).collect();
                    problems.push(problem(
                        file,
                        line_no,
                        Some(i + 1),
                        name,
                        format!("`{shown}` is not a finite number"),
                    ));
                    Err(())
                }
            }
        };
        let (Ok(time), Ok(amt), Ok(evid), Ok(cmt), Ok(rate), Ok(ii), Ok(addl), Ok(ss)) = (
            number("TIME"),
            number("AMT"),
            number("EVID"),
            number("CMT"),
            number("RATE"),
            number("II"),
            number("ADDL"),
            number("SS"),
        ) else {
            return None;
        };
        if evid.unwrap_or(1.0) != 1.0 {
            return None;
        }
        if ss.unwrap_or(0.0) != 0.0 {
            problems.push(problem(
                file,
                line_no,
                column("SS").map(|i| i + 1),
                "SS",
                "steady-state records (SS ≠ 0) are not supported; give the doses explicitly"
                    .to_owned(),
            ));
            return None;
        }
        let (Some(time), Some(amt)) = (time, amt) else {
            problems.push(problem(
                file,
                line_no,
                None,
                "",
                "a dosing record needs TIME and AMT".to_owned(),
            ));
            return None;
        };
        // Negative values are located here, in the CSV row, not in the scenario.
        for (name, value) in [
            ("TIME", Some(time)),
            ("AMT", Some(amt)),
            ("RATE", rate),
            ("II", ii),
        ] {
            if let Some(v) = value
                && v < 0.0
            {
                problems.push(problem(
                    file,
                    line_no,
                    column(name).map(|i| i + 1),
                    name,
                    format!("{name} must be ≥ 0, got {v}"),
                ));
            }
        }
        if time < *last_time {
            problems.push(problem(
                file,
                line_no,
                column("TIME").map(|i| i + 1),
                "TIME",
                format!("records must be in time order: {time} comes after {last_time}"),
            ));
        }
        *last_time = last_time.max(time);
        let whole = |v: Option<f64>, name: &str, problems: &mut Vec<Diagnostic>| -> Option<u32> {
            let v = v?;
            if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
                problems.push(problem(
                    file,
                    line_no,
                    column(name).map(|i| i + 1),
                    name,
                    format!("{name} must be a whole number ≥ 0, got {v}"),
                ));
                return None;
            }
            Some(v as u32)
        };
        Some(EventRecord {
            time,
            amt,
            cmt: whole(cmt, "CMT", problems),
            ii: ii.filter(|x| *x > 0.0),
            addl: whole(addl, "ADDL", problems).filter(|x| *x > 0),
            rate: rate.filter(|x| *x > 0.0),
            dur: None,
        })
    }
}

/// Expands records into (time, dose) pairs, sorted by time. `drug` is the schedule's drug
/// (for records without `cmt`), `default_duration` how long a level lasts when a record
/// says nothing, `kinetics` each drug's.
pub fn expand(
    records: &[EventRecord],
    drug: usize,
    default_duration: f64,
    kinetics: &[Kinetics],
) -> Vec<(f64, Dose)> {
    let mut out = Vec::new();
    for r in records {
        let d = r.cmt.map_or(drug, |c| (c as usize).saturating_sub(1));
        let ii = r.ii.unwrap_or(0.0);
        let duration = match kinetics.get(d) {
            Some(Kinetics::Level) => r
                .dur
                .or(r.rate.map(|rate| r.amt / rate))
                .unwrap_or(if ii > 0.0 { ii } else { default_duration }),
            _ => {
                if ii > 0.0 {
                    ii
                } else {
                    default_duration
                }
            }
        };
        for k in 0..=r.addl.unwrap_or(0) {
            out.push((
                r.time + k as f64 * ii,
                Dose {
                    drug: d,
                    amount: r.amt,
                    duration,
                },
            ));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// A dose a run gave, for export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GivenDose {
    /// When the dose was given.
    pub time: f64,
    /// The dose after toxicity clipping.
    pub dose: Dose,
}

/// Writes doses as NONMEM-style records (one row per dose; `RATE` = AMT / duration for dose
/// levels so the level's duration survives a round trip).
pub fn to_csv(runs: &[(u64, &[GivenDose])], kinetics: &[Kinetics]) -> String {
    let mut out = String::from("ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS\n");
    for (id, doses) in runs {
        for g in *doses {
            let rate = match kinetics.get(g.dose.drug) {
                Some(Kinetics::Level) if g.dose.duration > 0.0 => g.dose.amount / g.dose.duration,
                _ => 0.0,
            };
            let _ = writeln!(
                out,
                "{id},{},1,{},{},{rate},0,0,0",
                g.time,
                g.dose.amount,
                g.dose.drug + 1
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addl_and_ii_expand_to_repeated_doses() {
        let records = vec![EventRecord {
            time: 2.0,
            amt: 80.0,
            cmt: None,
            ii: Some(7.0),
            addl: Some(3),
            rate: None,
            dur: None,
        }];
        let doses = expand(
            &records,
            0,
            1.0,
            &[Kinetics::OneCompartment {
                k: 0.3,
                ka: None,
                f: 1.0,
                v: 1.0,
            }],
        );
        let times: Vec<f64> = doses.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![2.0, 9.0, 16.0, 23.0]);
        assert!(
            doses
                .iter()
                .all(|(_, d)| d.amount == 80.0 && d.duration == 7.0)
        );
    }

    #[test]
    fn csv_round_trip_keeps_times_amounts_and_level_durations() {
        let kinetics = [
            Kinetics::Level,
            Kinetics::OneCompartment {
                k: 0.3,
                ka: Some(2.0),
                f: 1.0,
                v: 1.0,
            },
        ];
        let given = vec![
            GivenDose {
                time: 0.0,
                dose: Dose {
                    drug: 0,
                    amount: 0.5,
                    duration: 2.0,
                },
            },
            GivenDose {
                time: 1.5,
                dose: Dose {
                    drug: 1,
                    amount: 80.0,
                    duration: 1.0,
                },
            },
        ];
        let text = to_csv(&[(1, &given)], &kinetics);
        let records = parse_csv(Path::new("doses.csv"), &text).unwrap();
        let back = expand(&records, 0, 1.0, &kinetics);
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0],
            (
                0.0,
                Dose {
                    drug: 0,
                    amount: 0.5,
                    duration: 2.0
                }
            )
        );
        assert_eq!(back[1].0, 1.5);
        assert_eq!((back[1].1.drug, back[1].1.amount), (1, 80.0));
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let err = parse_csv(Path::new("d.csv"), "id,TIME,AMT\n1,0,80\n").unwrap_err();
        assert!(
            err[0].message.contains("headers are upper case: write ID"),
            "{err:?}"
        );
        assert_eq!((err[0].line, err[0].column), (Some(1), Some(1)));
        let err = parse_csv(Path::new("d.csv"), "TIME,AMT\n5,80\n2,80\n").unwrap_err();
        assert!(err[0].message.contains("time order"), "{err:?}");
        assert_eq!(err[0].line, Some(3));
        let err = parse_csv(Path::new("d.csv"), "TIME\n5\n").unwrap_err();
        assert!(err[0].message.contains("missing column AMT"));
        let err = parse_csv(Path::new("d.csv"), "TIME,AMT\n0,abc\n").unwrap_err();
        assert!(err[0].message.contains("`abc` is not a finite number"));
        // Observation rows are skipped.
        let ok = parse_csv(Path::new("d.csv"), "TIME,EVID,AMT\n0,0,.\n1,1,80\n").unwrap();
        assert_eq!(ok.len(), 1);
    }
}
