//! A validated, resolved spec → the index-based model, drugs, observation and arms.

use super::spec::{self, ScenarioSpec, ScheduleRef, ScheduleSpec};
use super::{Arm, Scenario};
use crate::error::{Error, Result};
use crate::model::pk::{Drug, Kinetics, Response};
use crate::model::{
    Compartment, DrugEffect, GrowthLaw, Model, Modulation, Mutation, Role, Transition,
};
use crate::protocol::observe::{Lesion, MarkerModel, ProgressionRule, Reference};
use crate::protocol::schedule::{ContainmentRule, HolidayRule, ModulationRule, Schedule, Switch};
use std::path::Path;

/// Validation has run, so a missing name here is a bug; it still becomes an error, not a panic.
fn index_of(names: &[&str], name: &str) -> Result<usize> {
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| Error::Usage(format!("internal: `{name}` not found after validation")))
}

fn response(r: &spec::ResponseSpec) -> Response {
    match *r {
        spec::ResponseSpec::Linear { slope } => Response::Linear { slope },
        spec::ResponseSpec::Hill { emax, ec50, n } => Response::Hill { emax, ec50, n },
    }
}

fn growth(g: spec::GrowthLaw) -> GrowthLaw {
    match g {
        spec::GrowthLaw::Logistic => GrowthLaw::Logistic,
        spec::GrowthLaw::Gompertz => GrowthLaw::Gompertz,
        spec::GrowthLaw::Exponential => GrowthLaw::Exponential,
    }
}

pub fn compile(path: &Path, spec: ScenarioSpec) -> Result<Scenario> {
    let comp_names: Vec<&str> = spec.model.compartments.names().collect();
    let drug_names: Vec<&str> = spec.drugs.names().collect();

    let mut compartments = Vec::with_capacity(comp_names.len());
    for (name, c) in spec.model.compartments.iter() {
        let mut competition = vec![1.0; comp_names.len()];
        for (other, a) in c.competition.iter() {
            competition[index_of(&comp_names, other)?] = *a;
        }
        compartments.push(Compartment {
            name: name.to_owned(),
            birth: c.birth,
            death: c.death,
            initial: c.initial,
            role: match c.role {
                spec::Role::Sensitive => Role::Sensitive,
                spec::Role::Persister => Role::Persister,
                spec::Role::Resistant => Role::Resistant,
            },
            growth: growth(c.growth.unwrap_or(spec.model.growth)),
            capacity: c.carrying_capacity.unwrap_or(f64::INFINITY),
            competition,
            kill: Vec::new(),
            cytostatic: Vec::new(),
            capacity_effects: Vec::new(),
        });
    }

    let mut drugs = Vec::with_capacity(drug_names.len());
    let mut activity = Vec::with_capacity(drug_names.len());
    let mut shapes = Vec::new();
    for (d, (name, drug)) in spec.drugs.iter().enumerate() {
        let kinetics = match &drug.exposure {
            spec::ExposureSpec::Level => Kinetics::Level,
            spec::ExposureSpec::Pk(pk) => {
                let v = pk.volume.unwrap_or(1.0);
                let k = match (pk.half_life, pk.clearance) {
                    (Some(h), _) => std::f64::consts::LN_2 / h,
                    (None, Some(cl)) => cl / v,
                    (None, None) => {
                        return Err(Error::Usage(format!(
                            "internal: drug `{name}` has no elimination after validation"
                        )));
                    }
                };
                Kinetics::OneCompartment {
                    k,
                    ka: pk.ka,
                    f: pk.bioavailability.unwrap_or(1.0),
                    v,
                }
            }
        };
        drugs.push(Drug {
            name: name.to_owned(),
            kinetics,
            dose_unit: drug.dose_unit.clone().unwrap_or_default(),
        });
        activity.push(
            drug.activity
                .as_ref()
                .map(|r| DrugEffect::intern(&mut shapes, d, response(r))),
        );
        for (comp, effect) in drug.effects.iter() {
            let c = &mut compartments[index_of(&comp_names, comp)?];
            let mut mk = |r: &spec::ResponseSpec| DrugEffect::intern(&mut shapes, d, response(r));
            c.kill.extend(effect.kill.as_ref().map(&mut mk));
            c.cytostatic.extend(effect.cytostatic.as_ref().map(&mut mk));
            c.capacity_effects
                .extend(effect.capacity.as_ref().map(&mut mk));
        }
    }

    let mut transitions = Vec::with_capacity(spec.model.transitions.len());
    for t in &spec.model.transitions {
        let modulation = match (&t.induced_by, t.only_off_drug) {
            (Some(drug), _) => Modulation::Induced(DrugEffect::intern(
                &mut shapes,
                index_of(&drug_names, drug)?,
                t.response
                    .as_ref()
                    .map(response)
                    .unwrap_or(Response::Linear { slope: 1.0 }),
            )),
            (None, true) => Modulation::OffDrug,
            (None, false) => Modulation::Spontaneous,
        };
        transitions.push(Transition {
            from: index_of(&comp_names, &t.from)?,
            to: index_of(&comp_names, &t.to)?,
            rate: t.rate,
            modulation,
        });
    }
    let mut mutations = Vec::with_capacity(spec.model.mutations.len());
    for m in &spec.model.mutations {
        mutations.push(Mutation {
            from: index_of(&comp_names, &m.from)?,
            to: index_of(&comp_names, &m.to)?,
            probability: m.per_division,
        });
    }

    let weights = match &spec.observation.marker {
        spec::MarkerSpec::Total => vec![1.0; comp_names.len()],
        spec::MarkerSpec::Weighted(w) => {
            let mut out = vec![0.0; comp_names.len()];
            for (name, weight) in w.iter() {
                out[index_of(&comp_names, name)?] = *weight;
            }
            out
        }
    };
    let cells_per_unit = spec
        .stochastic
        .as_ref()
        .and_then(|s| s.cells_per_unit)
        .unwrap_or(1.0);
    let progression = progression_rule(&spec.progression, cells_per_unit);
    // With RECIST the detection limit is a diameter.
    let detection_limit = match (&spec.progression.lesion, progression) {
        (
            Some(spec::LesionSpec {
                detection_limit_mm: Some(mm),
                ..
            }),
            ProgressionRule::Recist { lesion, .. },
        ) => lesion.marker_of_diameter(*mm),
        _ => spec.observation.detection_limit,
    };
    let marker = MarkerModel {
        weights,
        every: spec.observation.every,
        noise_cv: spec.observation.noise_cv,
        detection_limit,
    };

    let mut arms = Vec::with_capacity(spec.arms.len());
    for arm in &spec.arms {
        let ScheduleRef::Inline(s) = &arm.schedule else {
            return Err(Error::Usage(format!(
                "internal: arm `{}` schedule not resolved",
                arm.name
            )));
        };
        let kinetics: Vec<Kinetics> = drugs.iter().map(|d| d.kinetics).collect();
        let main = schedule(s, &drug_names, &kinetics)?;
        let own = arm.progression.as_ref().unwrap_or(&spec.progression);
        let arm_progression = progression_rule(own, cells_per_unit);
        let schedule = if !arm.then.is_empty() {
            let mut later = Vec::new();
            for line in &arm.then {
                let ScheduleRef::Inline(x) = &line.schedule else {
                    return Err(Error::Usage(format!(
                        "internal: arm `{}` schedule not resolved",
                        arm.name
                    )));
                };
                let switch = match line.after {
                    spec::SwitchSpec::Progression => Switch::OnProgression,
                    spec::SwitchSpec::Time(t) => Switch::AfterTime(t),
                };
                later.push((schedule(x, &drug_names, &kinetics)?, switch));
            }
            Schedule::sequence(main, later, arm_progression)
        } else if arm.with.is_empty() {
            main
        } else {
            let mut parts = vec![main];
            for extra in &arm.with {
                let ScheduleRef::Inline(x) = extra else {
                    return Err(Error::Usage(format!(
                        "internal: arm `{}` schedule not resolved",
                        arm.name
                    )));
                };
                parts.push(schedule(x, &drug_names, &kinetics)?);
            }
            Schedule::combination(parts)
        };
        arms.push(Arm {
            name: arm.name.clone(),
            description: arm.description.clone(),
            schedule,
            progression: arm_progression,
            treat_beyond_progression: own.treat_beyond_progression.unwrap_or(false),
        });
    }

    Ok(Scenario {
        source: path.to_path_buf(),
        model: Model {
            compartments,
            transitions,
            mutations,
            activity,
            shapes,
        },
        drugs,
        marker,
        progression,
        arms,
        horizon: spec.horizon,
        pfs_at: spec.pfs_at.clone().unwrap_or_default(),
        stochastic_step: spec.stochastic.as_ref().and_then(|s| s.step).unwrap_or(1.0),
        cells_per_unit,
        patients: super::patients::compile(&spec)?,
        toxicity: spec
            .drugs
            .iter()
            .map(|(_, d)| {
                d.toxicity.as_ref().map(|t| crate::model::toxicity::Budget {
                    max_cumulative: t.max_cumulative_dose,
                    max_time_on: t.max_time_on.as_ref().map(|w| (w.on, w.window)),
                })
            })
            .collect(),
        spec,
    })
}

fn schedule(s: &ScheduleSpec, drug_names: &[&str], kinetics: &[Kinetics]) -> Result<Schedule> {
    let mut copy = s.clone();
    let dosing = copy.dosing_mut();
    let missing = || Error::Usage("internal: schedule not resolved".to_owned());
    let drug = index_of(drug_names, dosing.drug.as_deref().ok_or_else(missing)?)?;
    let interval = dosing.interval.ok_or_else(missing)?;
    if let ScheduleSpec::Events(x) = s {
        return Ok(Schedule::events(crate::protocol::events::expand(
            &x.records, drug, interval, kinetics,
        )));
    }
    if let ScheduleSpec::Piecewise(x) = s {
        return Ok(Schedule::Piecewise {
            drug,
            interval,
            period: x.period,
            doses: x.doses.clone(),
            on: x.on.clone().unwrap_or_default(),
        });
    }
    let dose = dosing.dose.ok_or_else(missing)?;
    Ok(match s {
        ScheduleSpec::Continuous(_) => Schedule::Continuous {
            drug,
            dose,
            interval,
        },
        ScheduleSpec::Intermittent(x) => Schedule::Intermittent {
            drug,
            dose,
            interval,
            on: x.on,
            off: x.off,
            start_delay: x.start_delay.unwrap_or(0.0),
        },
        ScheduleSpec::Adaptive(x) => Schedule::Adaptive {
            drug,
            dose,
            interval,
            stop_below: x.stop_below.unwrap_or(super::resolve::DEFAULT_STOP_BELOW),
            resume_above: x
                .resume_above
                .unwrap_or(super::resolve::DEFAULT_RESUME_ABOVE),
            every_visits: x.every_visits.unwrap_or(1).max(1),
        },
        ScheduleSpec::Holiday(x) => Schedule::Holiday(HolidayRule {
            drug,
            dose,
            interval,
            lead_in: x.lead_in,
            respond_below: x.respond_below,
            holiday: x.holiday,
            resume_above: x.resume_above,
            max_cycles: x.max_cycles,
        }),
        ScheduleSpec::Modulation(x) => Schedule::Modulation(ModulationRule {
            drug,
            dose,
            interval,
            step: x.step.ok_or_else(missing)?,
            margin: x.margin.ok_or_else(missing)?,
            skip_below: x.skip_below,
            min_dose: x.min_dose.ok_or_else(missing)?,
            max_dose: x.max_dose.ok_or_else(missing)?,
        }),
        ScheduleSpec::Containment(x) => Schedule::Containment(ContainmentRule {
            drug,
            dose,
            interval,
            target: x.target,
            max_dose: x.max_dose.ok_or_else(missing)?,
            gain: x.gain.ok_or_else(missing)?,
        }),
        ScheduleSpec::Piecewise(_) | ScheduleSpec::Events(_) => return Err(missing()),
    })
}

/// The progression rule of a (resolved, validated) progression block.
fn progression_rule(p: &spec::ProgressionSpec, cells_per_unit: f64) -> ProgressionRule {
    let factor = p
        .factor
        .unwrap_or(super::resolve::DEFAULT_PROGRESSION_FACTOR);
    match p.rule {
        spec::ProgressionRule::Recist => {
            let lesion = p.lesion.as_ref();
            ProgressionRule::Recist {
                factor,
                lesion: Lesion {
                    units_per_cm3: lesion.map_or(1e9, |l| l.cells_per_cm3) / cells_per_unit,
                    min_increase_mm: lesion
                        .and_then(|l| l.min_increase_mm)
                        .unwrap_or(super::resolve::RECIST_MIN_INCREASE_MM),
                },
                reference: match p.reference {
                    Some(spec::ReferenceName::Baseline) => Reference::Baseline,
                    _ => Reference::Nadir,
                },
            }
        }
        spec::ProgressionRule::RiseOverNadir => ProgressionRule::RiseOverNadir { factor },
        spec::ProgressionRule::AboveBaseline => ProgressionRule::AboveBaseline { factor },
        spec::ProgressionRule::Pcwg3 => {
            use super::resolve::*;
            let psa = p.psa.as_ref();
            let per_unit = psa.map_or(1.0, |s| s.ng_per_ml_per_unit);
            ProgressionRule::Pcwg3 {
                rise: psa.and_then(|s| s.rise).unwrap_or(PCWG3_RISE),
                min_rise: psa
                    .and_then(|s| s.min_rise_ng_per_ml)
                    .unwrap_or(PCWG3_MIN_RISE_NG_PER_ML)
                    / per_unit,
                confirm_after: psa
                    .and_then(|s| s.confirm_after)
                    .unwrap_or(PCWG3_CONFIRM_DAYS),
                no_decline_wait: psa
                    .and_then(|s| s.no_decline_wait)
                    .unwrap_or(PCWG3_NO_DECLINE_DAYS),
            }
        }
    }
}
