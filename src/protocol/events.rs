//! Dosing records in the NONMEM / mrgsolve convention: reading them from CSV, expanding
//! `addl`/`ii` repeats into doses, and writing the doses a run gave back out.
//!
//! CSV files use the upper-case headers `ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS` (only TIME and
//! AMT are required; other columns are ignored). Observation rows are skipped; resets (EVID 3,
//! 4) and steady state (SS ≠ 0) are refused. CMT is the 1-based index of the drug in the
//! scenario.

use crate::error::Diagnostic;
use crate::model::pk::{Dose, Kinetics};
use crate::protocol::dataset;
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

/// Parses a dosing-record CSV (`text`, the contents of `file`): the doses of its one subject,
/// in the NONMEM layout [`crate::protocol::dataset`] reads.
pub fn parse_csv(file: &Path, text: &str) -> Result<Vec<EventRecord>, Vec<Diagnostic>> {
    let data = dataset::read(file, text, dataset::Layout::Doses)?;
    Ok(data
        .subjects
        .into_iter()
        .flat_map(|s| s.doses)
        .map(|d| d.record)
        .collect())
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

/// `doses` (sorted by time) with each run of contiguous, equal dose levels of a drug whose
/// `joinable` flag is set made one long level: the same exposure at every instant, one
/// decision instead of one per day (a year of daily records is one dose, not 365 stops of
/// the integrator).
pub fn join_levels(doses: Vec<(f64, Dose)>, joinable: &[bool]) -> Vec<(f64, Dose)> {
    let mut out: Vec<(f64, Dose)> = Vec::with_capacity(doses.len());
    // Per drug, the index in `out` of its latest dose.
    let mut last: Vec<Option<usize>> = vec![None; joinable.len()];
    for (t, dose) in doses {
        let d = dose.drug;
        if joinable.get(d).copied().unwrap_or(false)
            && let Some(i) = last[d]
        {
            let (t0, prev) = &mut out[i];
            let end = *t0 + prev.duration;
            if prev.amount == dose.amount && (t - end).abs() <= 1e-9 * end.abs().max(1.0) {
                prev.duration = t + dose.duration - *t0;
                continue;
            }
        }
        if let Some(slot) = last.get_mut(d) {
            *slot = Some(out.len());
        }
        out.push((t, dose));
    }
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
