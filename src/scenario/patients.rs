//! The scenario's `virtual_patients`, compiled into [`crate::model::patients`]' own types.

use super::paths;
use super::spec::{DistributionSpec, ResponseSpec, ScenarioSpec};
use crate::error::{Error, Result};
use crate::model::patients::{Distribution, PatientParameter, PatientTable, Target};
use std::path::Path;

/// Resolves a `virtual_patients` key against a scenario, or says what is allowed. A key is
/// a parameter path ([`super::paths`]: `model.compartments.resistant.initial`) or one of the
/// short forms `compartments.<name>.<field>` and `drugs.<drug>.effects.<compartment>.<kind>`.
pub fn resolve_target(spec: &ScenarioSpec, key: &str) -> std::result::Result<Vec<Target>, String> {
    let full = full_path(spec, key)?;
    paths::find(spec, &full).map(|p| p.targets)
}

/// Where `virtual_patients` draws go in the compiled model (the keys that resolve): a
/// parameter there is overridden per patient, so nothing else may set or perturb it.
pub fn drawn_targets(spec: &ScenarioSpec) -> Vec<Target> {
    spec.virtual_patients
        .iter()
        .filter_map(|(key, _)| resolve_target(spec, key).ok())
        .flatten()
        .collect()
}

/// The parameter path a `virtual_patients` key names.
fn full_path(spec: &ScenarioSpec, key: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = key.split('.').collect();
    let comps = &spec.model.compartments;
    let known_compartment = |name: &str| {
        if comps.position(name).is_some() {
            Ok(())
        } else {
            Err(format!(
                "unknown compartment `{name}`; the scenario defines: {}",
                comps.names().collect::<Vec<_>>().join(", ")
            ))
        }
    };
    match parts.as_slice() {
        ["model", "compartments", name, ..] => {
            known_compartment(name)?;
            Ok(key.to_owned())
        }
        ["model", ..] | ["drugs", _, "effects", _, _, _, _] => Ok(key.to_owned()),
        ["compartments", name, field] => {
            known_compartment(name)?;
            match *field {
                "birth" | "death" | "initial" | "carrying_capacity" => Ok(format!("model.{key}")),
                other => Err(format!(
                    "`{other}` cannot vary between patients; use birth, death, initial or \
                     carrying_capacity (or any parameter path: model.compartments.<name>.<field>, \
                     model.transitions.<k>.rate, ...)"
                )),
            }
        }
        ["drugs", drug, "effects", comp, kind] => {
            let d = spec
                .drugs
                .position(drug)
                .ok_or_else(|| format!("unknown drug `{drug}`"))?;
            known_compartment(comp)?;
            if !["kill", "cytostatic", "capacity"].contains(kind) {
                return Err(format!(
                    "`{kind}` is not an effect; use kill, cytostatic or capacity"
                ));
            }
            let effect = spec.drugs.0[d].1.effects.get(comp);
            let response = effect.and_then(|e| match *kind {
                "kill" => e.kill.as_ref(),
                "cytostatic" => e.cytostatic.as_ref(),
                _ => e.capacity.as_ref(),
            });
            match response {
                Some(ResponseSpec::Linear { .. }) => Ok(format!("{key}.linear.slope")),
                Some(ResponseSpec::Hill { .. }) => Ok(format!("{key}.hill.emax")),
                None => Err(format!("drug `{drug}` has no {key} effect to vary")),
            }
        }
        _ => Err(
            "name a parameter by its path (model.compartments.<name>.<field>, \
             model.transitions.<k>.rate, drugs.<drug>.effects.<compartment>.<kind>.linear.slope, \
             ...) or as compartments.<name>.<birth|death|initial|carrying_capacity> or \
             drugs.<drug>.effects.<compartment>.<kill|cytostatic|capacity>"
                .to_owned(),
        ),
    }
}

/// Compiles the scenario's `virtual_patients`.
pub fn compile(spec: &ScenarioSpec) -> Result<Vec<PatientParameter>> {
    spec.virtual_patients
        .iter()
        .map(|(key, dist)| {
            resolve_target(spec, key)
                .map(|targets| PatientParameter {
                    targets,
                    distribution: match *dist {
                        DistributionSpec::Lognormal { median, cv } => {
                            Distribution::Lognormal { median, cv }
                        }
                        DistributionSpec::Normal { mean, sd } => Distribution::Normal { mean, sd },
                        DistributionSpec::Uniform { low, high } => {
                            Distribution::Uniform { low, high }
                        }
                    },
                })
                .map_err(|m| Error::Internal(format!("virtual_patients.{key}: {m}")))
        })
        .collect()
}

/// The correlation matrix of `virtual_patients` (in their order) that the scenario's
/// `virtual_patient_correlations` make, or a message saying what is wrong with them.
pub fn correlation_matrix(spec: &ScenarioSpec) -> std::result::Result<Option<Vec<f64>>, String> {
    if spec.virtual_patient_correlations.is_empty() {
        return Ok(None);
    }
    let n = spec.virtual_patients.len();
    let mut r = vec![0.0; n * n];
    for i in 0..n {
        r[i * n + i] = 1.0;
    }
    for c in &spec.virtual_patient_correlations {
        let index = |key: &str| {
            spec.virtual_patients.position(key).ok_or_else(|| {
                format!(
                    "`{key}` is not a key of virtual_patients; they are: {}",
                    spec.virtual_patients.names().collect::<Vec<_>>().join(", ")
                )
            })
        };
        let (a, b) = (index(&c.between[0])?, index(&c.between[1])?);
        if a == b {
            return Err(format!("`{}` is correlated with itself", c.between[0]));
        }
        if r[a * n + b] != 0.0 {
            return Err(format!(
                "the pair `{}`, `{}` is given twice",
                c.between[0], c.between[1]
            ));
        }
        r[a * n + b] = c.r;
        r[b * n + a] = c.r;
    }
    Ok(Some(r))
}

/// The Cholesky factor of the virtual patients' correlation matrix (`None` without
/// correlations).
pub fn correlation(spec: &ScenarioSpec) -> Result<Option<Vec<f64>>> {
    let n = spec.virtual_patients.len();
    match correlation_matrix(spec) {
        Ok(Some(r)) => crate::model::patients::cholesky(n, &r)
            .map(Some)
            .ok_or_else(|| {
                Error::Internal("virtual_patient_correlations: not positive definite".to_owned())
            }),
        Ok(None) => Ok(None),
        Err(m) => Err(Error::Internal(format!(
            "virtual_patient_correlations: {m}"
        ))),
    }
}

/// The scenario's `virtual_patient_table` (read from the scenario's folder), if it names one.
pub fn table(path: &Path, spec: &ScenarioSpec) -> Result<Option<PatientTable>> {
    let Some(name) = &spec.virtual_patient_table else {
        return Ok(None);
    };
    let problem = |message: String| Error::in_field(path, "virtual_patient_table", message);
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = super::data_file(dir, name).map_err(problem)?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| problem(format!("cannot read `{}`: {e}", file.display())))?;
    read_table(spec, &text).map_err(|m| problem(format!("`{name}`: {m}")))
}

/// [`table`] from the CSV's text: the columns named by parameter paths, every row.
fn read_table(
    spec: &ScenarioSpec,
    text: &str,
) -> std::result::Result<Option<PatientTable>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("cannot read its header: {e}"))?
        .clone();
    let drawn = drawn_targets(spec);
    let mut columns: Vec<(usize, String, Vec<Target>)> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let Ok(p) = paths::find(spec, name) else {
            continue;
        };
        if p.targets.iter().any(|t| drawn.contains(t)) {
            return Err(format!(
                "column `{name}` is also drawn by virtual_patients; draw each parameter one way"
            ));
        }
        columns.push((i, name.to_owned(), p.targets));
    }
    if columns.is_empty() {
        return Err(format!(
            "no column is named by a parameter path (model.compartments.<name>.birth, \
             drugs.<drug>.effects.<compartment>.kill.linear.slope, ...); its columns are: {}",
            header.iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut rows = Vec::new();
    for (r, record) in reader.records().enumerate() {
        let line = r + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let row = columns
            .iter()
            .map(|(i, name, _)| {
                let cell = record.get(*i).unwrap_or("");
                cell.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        format!(
                            "line {line}, column `{name}`: expected a finite number ≥ 0, got `{cell}`"
                        )
                    })
            })
            .collect::<std::result::Result<Vec<f64>, String>>()?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("it has a header but no patients".to_owned());
    }
    Ok(Some(PatientTable {
        targets: columns.into_iter().map(|(_, _, t)| t).collect(),
        rows,
    }))
}
