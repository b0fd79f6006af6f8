//! Virtual patients: model parameters drawn per rollout from the scenario's distributions.
//!
//! A patient's draws come from streams keyed by (seed, rollout, parameter) alone, so every
//! arm of a comparison treats the same patients, and adding an arm changes nobody.

use crate::error::{Error, Result};
use crate::model::{DrugEffect, Model};
use crate::rng::{Key, ROLLOUT_LEVEL_STEP};
use crate::scenario::spec::{DistributionSpec, ScenarioSpec};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// Channel of patient draws in the rollout-level streams (measurement noise uses 1).
const PATIENT_CHANNEL: u64 = 2;

/// Which model parameter a distribution sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Birth(usize),
    Death(usize),
    Initial(usize),
    Capacity(usize),
    /// Scale (emax or slope) of drug `drug`'s effect of `kind` on compartment `compartment`.
    Effect {
        drug: usize,
        compartment: usize,
        kind: EffectKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    Kill,
    Cytostatic,
    Capacity,
}

/// One parameter's distribution, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientParameter {
    pub target: Target,
    pub distribution: DistributionSpec,
}

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
                    distribution: dist.clone(),
                })
                .map_err(|m| Error::Usage(format!("internal: virtual_patients.{key}: {m}")))
        })
        .collect()
}

fn effect_mut(
    model: &mut Model,
    drug: usize,
    compartment: usize,
    kind: EffectKind,
) -> Option<&mut DrugEffect> {
    let Model {
        shapes,
        compartments,
        ..
    } = model;
    let c = compartments.get_mut(compartment)?;
    let list = match kind {
        EffectKind::Kill => &mut c.kill,
        EffectKind::Cytostatic => &mut c.cytostatic,
        EffectKind::Capacity => &mut c.capacity_effects,
    };
    list.iter_mut()
        .find(|e| shapes.get(e.shape).is_some_and(|s| s.0 == drug))
}

/// Draws patient `rollout`'s parameters into `model` (whose values are the typical
/// patient's). Counts are rounded when `whole_counts`.
pub fn apply(
    parameters: &[PatientParameter],
    model: &mut Model,
    seed: u64,
    rollout: u64,
    whole_counts: bool,
) {
    for (index, p) in parameters.iter().enumerate() {
        let mut rng = Key {
            seed,
            rollout,
            step: ROLLOUT_LEVEL_STEP,
            unit: index as u64,
            channel: PATIENT_CHANNEL,
        }
        .stream();
        let current = match p.target {
            Target::Birth(i) => model.compartments[i].birth,
            Target::Death(i) => model.compartments[i].death,
            Target::Initial(i) => model.compartments[i].initial,
            Target::Capacity(i) => model.compartments[i].capacity,
            Target::Effect {
                drug,
                compartment,
                kind,
            } => effect_mut(model, drug, compartment, kind).map_or(0.0, |e| e.scale),
        };
        let value = match p.distribution {
            DistributionSpec::Lognormal { median, cv } => {
                let sigma = (1.0 + cv * cv).ln().sqrt();
                let z: f64 = StandardNormal.sample(&mut rng);
                median.unwrap_or(current) * (sigma * z).exp()
            }
            DistributionSpec::Normal { mean, sd } => {
                let z: f64 = StandardNormal.sample(&mut rng);
                (mean + sd * z).max(0.0)
            }
            DistributionSpec::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
        };
        match p.target {
            Target::Birth(i) => model.compartments[i].birth = value,
            Target::Death(i) => model.compartments[i].death = value,
            Target::Initial(i) => {
                model.compartments[i].initial = if whole_counts { value.round() } else { value };
            }
            Target::Capacity(i) => model.compartments[i].capacity = value.max(f64::MIN_POSITIVE),
            Target::Effect {
                drug,
                compartment,
                kind,
            } => {
                if let Some(e) = effect_mut(model, drug, compartment, kind) {
                    e.scale = value;
                }
            }
        }
    }
}
