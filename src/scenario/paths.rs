//! The numeric parameters of a scenario by their path in the file
//! (`model.compartments.resistant.initial`): what `fit:` estimates and `virtual_patients`
//! draws, and where each lives in the compiled model. One list, made from the resolved
//! scenario, so a path that is not in it is an error that can say which paths there are.

use super::spec::{ResponseSpec, ScenarioSpec};
use crate::model::patients::{EffectKind, Target};

/// One numeric parameter, by path.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterPath {
    /// The path as users write it.
    pub path: String,
    /// The fields of the resolved scenario that hold the value (more than one for the
    /// model's carrying capacity, which resolution copies into every compartment sharing it).
    pub fields: Vec<String>,
    /// Where the value lives in the compiled model.
    pub targets: Vec<Target>,
    /// The value in the scenario.
    pub value: f64,
    /// The largest value the parameter may take (1 for a probability), if any.
    pub max: Option<f64>,
}

impl ParameterPath {
    fn one(path: String, target: Target, value: f64) -> Self {
        ParameterPath {
            fields: vec![path.clone()],
            path,
            targets: vec![target],
            value,
            max: None,
        }
    }
}

/// Every numeric parameter of the (resolved) scenario, in file order.
pub fn parameters(spec: &ScenarioSpec) -> Vec<ParameterPath> {
    let comps = &spec.model.compartments;
    let mut out = Vec::new();
    if let Some(k) = spec.model.carrying_capacity {
        let sharing: Vec<usize> = comps
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| c.carrying_capacity == Some(k))
            .map(|(i, _)| i)
            .collect();
        if !sharing.is_empty() {
            let mut fields = vec!["model.carrying_capacity".to_owned()];
            fields.extend(
                sharing
                    .iter()
                    .map(|&i| format!("model.compartments.{}.carrying_capacity", comps.0[i].0)),
            );
            out.push(ParameterPath {
                path: "model.carrying_capacity".to_owned(),
                fields,
                targets: sharing.iter().map(|&i| Target::Capacity(i)).collect(),
                value: k,
                max: None,
            });
        }
    }
    for (i, (name, c)) in comps.iter().enumerate() {
        let at = |field: &str| format!("model.compartments.{name}.{field}");
        out.push(ParameterPath::one(at("birth"), Target::Birth(i), c.birth));
        out.push(ParameterPath::one(at("death"), Target::Death(i), c.death));
        out.push(ParameterPath::one(
            at("initial"),
            Target::Initial(i),
            c.initial,
        ));
        if let Some(k) = c.carrying_capacity {
            out.push(ParameterPath::one(
                at("carrying_capacity"),
                Target::Capacity(i),
                k,
            ));
        }
        for (other, a) in c.competition.iter() {
            if let Some(by) = comps.position(other) {
                out.push(ParameterPath::one(
                    at(&format!("competition.{other}")),
                    Target::Competition { of: i, by },
                    *a,
                ));
            }
        }
    }
    for (k, t) in spec.model.transitions.iter().enumerate() {
        out.push(ParameterPath::one(
            format!("model.transitions.{k}.rate"),
            Target::Transition(k),
            t.rate,
        ));
    }
    for (k, m) in spec.model.mutations.iter().enumerate() {
        let mut p = ParameterPath::one(
            format!("model.mutations.{k}.per_division"),
            Target::Mutation(k),
            m.per_division,
        );
        p.max = Some(1.0);
        out.push(p);
    }
    for (d, (drug, spec_drug)) in spec.drugs.iter().enumerate() {
        for (comp, effect) in spec_drug.effects.iter() {
            let Some(compartment) = comps.position(comp) else {
                continue;
            };
            for (kind, name, response) in [
                (EffectKind::Kill, "kill", &effect.kill),
                (EffectKind::Cytostatic, "cytostatic", &effect.cytostatic),
                (EffectKind::Capacity, "capacity", &effect.capacity),
            ] {
                let (field, value) = match response {
                    Some(ResponseSpec::Linear { slope }) => ("linear.slope", *slope),
                    Some(ResponseSpec::Hill { emax, .. }) => ("hill.emax", *emax),
                    None => continue,
                };
                out.push(ParameterPath::one(
                    format!("drugs.{drug}.effects.{comp}.{name}.{field}"),
                    Target::Effect {
                        drug: d,
                        compartment,
                        kind,
                    },
                    value,
                ));
            }
        }
    }
    out
}

/// The parameter at `path`, or a message listing the paths there are.
pub fn find(spec: &ScenarioSpec, path: &str) -> Result<ParameterPath, String> {
    let all = parameters(spec);
    match all.iter().position(|p| p.path == path) {
        Some(i) => Ok(all[i].clone()),
        None => Err(format!(
            "`{path}` is not a numeric parameter of this scenario; the parameters are: {}",
            all.iter()
                .map(|p| p.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
