//! One subject's scenario: the base scenario with the subject's parameter values and, as its
//! first arm, the doses the subject actually received. The same file serves the fit (its
//! first arm is what the data's doses did) and the user afterwards (`compare`, `optimise`
//! and `simulate` load it as is).

use super::settings::Free;
use crate::error::{Diagnostic, Error, Result};
use crate::protocol::dataset::Subject;
use crate::scenario::Scenario;
use serde_json::{Value, json};
use std::path::Path;

/// The name of the arm that gives the subject's own doses.
pub const OBSERVED_ARM: &str = "observed";

/// Checks the subject's doses against the scenario's drugs, locating each problem in the
/// data file.
pub fn check_doses(base: &Scenario, data_file: &Path, subject: &Subject) -> Result<()> {
    let n = base.drugs.len();
    let problems: Vec<Diagnostic> = subject
        .doses
        .iter()
        .filter_map(|d| {
            let cmt = d.record.cmt.unwrap_or(1) as usize;
            let message = if n == 0 {
                "a dose, but the scenario defines no drug".to_owned()
            } else if cmt > n {
                format!(
                    "CMT {cmt} names no drug: the scenario has {n} ({})",
                    base.drugs
                        .iter()
                        .enumerate()
                        .map(|(i, d)| format!("{} = {}", i + 1, d.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                return None;
            };
            Some(Diagnostic {
                file: data_file.to_path_buf(),
                line: Some(d.line),
                column: None,
                field: "CMT".to_owned(),
                message,
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// A scenario file derived from `base`: its resolved form without the `fit:` block, changed
/// by `edit`, with `values` (each free parameter's) written into every field that holds
/// them, and `header` as comment lines on top.
pub fn derived_text(
    base: &Scenario,
    values: &[(&Free, f64)],
    header: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<()>,
) -> Result<String> {
    let mut root = serde_json::to_value(base.resolved_spec())
        .map_err(|e| Error::Internal(format!("cannot represent the scenario: {e}")))?;
    let Value::Object(map) = &mut root else {
        return Err(Error::Internal("the scenario is not a mapping".to_owned()));
    };
    map.remove("fit");
    edit(map)?;
    for (free, value) in values {
        for field in &free.fields {
            crate::scenario::params::set(&mut root, field, json!(value))
                .map_err(|m| Error::Internal(format!("{field}: {m}")))?;
        }
    }
    let yaml = serde_saphyr::to_string(&root)
        .map_err(|e| Error::Internal(format!("cannot write a scenario: {e}")))?;
    let mut text: String = header.lines().map(|l| format!("# {l}\n")).collect();
    text.push_str(&yaml);
    Ok(text)
}

/// The subject's scenario as YAML text: `base` with `values` set (each free parameter's
/// value), the `virtual_patients` block left out (it is one patient), the horizon long
/// enough for every measurement, and the arms `observed` (the subject's doses, given
/// whatever the marker does, as they were) followed by the base scenario's arms.
pub fn scenario_text(
    base: &Scenario,
    subject: &Subject,
    values: &[(&Free, f64)],
    header: &str,
) -> Result<String> {
    let mut records: Vec<Value> = subject
        .doses
        .iter()
        .map(|d| serde_json::to_value(&d.record))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("cannot represent a dose: {e}")))?;
    if records.is_empty() {
        // An untreated subject: one empty dose keeps the arm a valid schedule.
        records.push(json!({"time": 0.0, "amt": 0.0}));
    }
    let last = subject
        .measurements
        .iter()
        .map(|m| m.time)
        .chain(subject.doses.iter().map(|d| d.record.time))
        .fold(0.0, f64::max);
    derived_text(base, values, header, |map| {
        map.remove("virtual_patients");
        map.remove("virtual_patient_correlations");
        map.insert(
            "name".to_owned(),
            json!(format!("{} — subject {}", base.name, subject.id)),
        );
        if last >= base.horizon {
            map.insert("horizon".to_owned(), json!(last * 1.001 + 1.0));
        }
        let mut progression = map.get("progression").cloned().unwrap_or_else(|| json!({}));
        progression["treat_beyond_progression"] = json!(true);
        let observed = json!({
            "name": OBSERVED_ARM,
            "description": format!("the doses subject {} received, as recorded", subject.id),
            "schedule": { "events": { "records": records } },
            "progression": progression,
        });
        let mut arms = vec![observed];
        if let Some(Value::Array(base_arms)) = map.get("arms") {
            arms.extend(
                base_arms
                    .iter()
                    .filter(|a| a.get("name").and_then(Value::as_str) != Some(OBSERVED_ARM))
                    .cloned(),
            );
        }
        map.insert("arms".to_owned(), Value::Array(arms));
        Ok(())
    })
}

/// The subject's scenario, compiled (`file` names it in messages).
pub fn scenario(
    base: &Scenario,
    subject: &Subject,
    values: &[(&Free, f64)],
    file: &Path,
) -> Result<Scenario> {
    Scenario::from_text(file, &scenario_text(base, subject, values, "")?)
}
