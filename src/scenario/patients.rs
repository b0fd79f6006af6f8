//! The scenario's `virtual_patients`, compiled into [`crate::model::patients`]' own types.

use super::spec::{DistributionSpec, ScenarioSpec};
use crate::error::{Error, Result};
use crate::model::patients::{Distribution, EffectKind, PatientParameter, Target};

/// Resolves a `virtual_patients` key against a scenario, or says what is allowed.
pub fn resolve_target(spec: &ScenarioSpec, key: &str) -> std::result::Result<Target, String> {
    let parts: Vec<&str> = key.split('.').collect();
    let comps = &spec.model.compartments;
    let compartment = |name: &str| {
        comps.position(name).ok_or_else(|| {
            format!(
                "unknown compartment `{name}`; the scenario defines: {}",
                comps.names().collect::<Vec<_>>().join(", ")
            )
        })
    };
    match parts.as_slice() {
        ["compartments", name, field] => {
            let i = compartment(name)?;
            match *field {
                "birth" => Ok(Target::Birth(i)),
                "death" => Ok(Target::Death(i)),
                "initial" => Ok(Target::Initial(i)),
                "carrying_capacity" => Ok(Target::Capacity(i)),
                other => Err(format!(
                    "`{other}` cannot vary between patients; use birth, death, initial or carrying_capacity"
                )),
            }
        }
        ["drugs", drug, "effects", comp, kind] => {
            let d = spec
                .drugs
                .position(drug)
                .ok_or_else(|| format!("unknown drug `{drug}`"))?;
            let c = compartment(comp)?;
            let effect = spec.drugs.0[d].1.effects.get(comp);
            let (kind, present) = match *kind {
                "kill" => (EffectKind::Kill, effect.is_some_and(|e| e.kill.is_some())),
                "cytostatic" => (
                    EffectKind::Cytostatic,
                    effect.is_some_and(|e| e.cytostatic.is_some()),
                ),
                "capacity" => (
                    EffectKind::Capacity,
                    effect.is_some_and(|e| e.capacity.is_some()),
                ),
                other => {
                    return Err(format!(
                        "`{other}` is not an effect; use kill, cytostatic or capacity"
                    ));
                }
            };
            if !present {
                return Err(format!("drug `{drug}` has no {key} effect to vary"));
            }
            Ok(Target::Effect {
                drug: d,
                compartment: c,
                kind,
            })
        }
        _ => Err(
            "name a parameter as compartments.<name>.<birth|death|initial|carrying_capacity> \
             or drugs.<drug>.effects.<compartment>.<kill|cytostatic|capacity>"
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
                .map(|target| PatientParameter {
                    target,
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
