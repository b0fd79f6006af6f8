//! A validated, resolved spec → the index-based model, drugs, observation and arms.

use super::spec::{self, ScenarioSpec, ScheduleRef, ScheduleSpec};
use super::{Arm, Scenario};
use crate::error::{Error, Result};
use crate::model::pk::{Drug, Kinetics, Response};
use crate::model::{
    Compartment, DrugEffect, GrowthLaw, Model, Modulation, Mutation, Role, Transition,
};
use crate::protocol::observe::{Lesion, MarkerModel, ProgressionRule, Reference};
use crate::protocol::schedule::{
    ContainmentRule, Control, HolidayRule, ModulationRule, Schedule, Switch,
};
use std::path::Path;

/// Validation has run, so a missing name here is a bug; it still becomes an error, not a panic.
fn index_of(names: &[&str], name: &str) -> Result<usize> {
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| Error::Internal(format!("`{name}` not found after validation")))
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

/// A value [`super::resolve`] fills in; its absence is a bug, reported as one.
fn resolved<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| Error::Internal(format!("`{field}` was not resolved")))
}

/// Compiles a resolved, validated scenario. Every default comes from `resolve`: this reads
/// resolved values only.
pub fn compile(path: &Path, spec: ScenarioSpec) -> Result<Scenario> {
    let comp_names: Vec<&str> = spec.model.compartments.names().collect();
    let drug_names: Vec<&str> = spec.drugs.names().collect();
    let mut compartments = compartments(&spec, &comp_names)?;
    let mut shapes = Vec::new();
    let (drugs, activity) = drugs(&spec, &comp_names, &mut compartments, &mut shapes)?;
    let transitions = transitions(&spec, &comp_names, &drug_names, &mut shapes)?;
    let mutations = spec
        .model
        .mutations
        .iter()
        .map(|m| {
            Ok(Mutation {
                from: index_of(&comp_names, &m.from)?,
                to: index_of(&comp_names, &m.to)?,
                probability: m.per_division,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let stochastic = resolved(spec.stochastic.as_ref(), "stochastic")?;
    let cells_per_unit = resolved(stochastic.cells_per_unit, "stochastic.cells_per_unit")?;
    let progression = progression_rule(&spec.progression, cells_per_unit)?;
    let marker = marker(&spec, &comp_names, progression)?;
    let kinetics: Vec<Kinetics> = drugs.iter().map(|d| d.kinetics).collect();
    // Contiguous dose levels of a drug without a toxicity budget are one dose (the budget
    // judges each dose on its own, so joining would change what it admits).
    let joinable: Vec<bool> = spec
        .drugs
        .iter()
        .zip(&kinetics)
        .map(|((_, d), k)| d.toxicity.is_none() && *k == Kinetics::Level)
        .collect();
    let arms = spec
        .arms
        .iter()
        .map(|arm| {
            compile_arm(
                arm,
                &spec,
                &drug_names,
                (&kinetics, &joinable),
                cells_per_unit,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Scenario {
        source: path.to_path_buf(),
        name: spec.name.clone(),
        time_units: spec.time_units,
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
        pfs_at: resolved(spec.pfs_at.clone(), "pfs_at")?,
        stochastic_step: resolved(stochastic.step, "stochastic.step")?,
        cells_per_unit,
        patients: super::patients::compile(&spec)?,
        patient_table: super::patients::table(path, &spec)?,
        patient_correlation: super::patients::correlation(&spec)?,
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
        typical_model: None,
        typical_laws: None,
        counts_in_cells: false,
        resolved: spec,
    })
}

/// The compartments, without drug effects yet.
fn compartments(spec: &ScenarioSpec, comp_names: &[&str]) -> Result<Vec<Compartment>> {
    let mut out = Vec::with_capacity(comp_names.len());
    for (name, c) in spec.model.compartments.iter() {
        let mut competition = vec![1.0; comp_names.len()];
        for (other, a) in c.competition.iter() {
            competition[index_of(comp_names, other)?] = *a;
        }
        out.push(Compartment {
            name: name.to_owned(),
            birth: c.birth,
            death: c.death,
            initial: c.initial,
            role: match c.role {
                spec::Role::Sensitive => Role::Sensitive,
                spec::Role::Persister => Role::Persister,
                spec::Role::Resistant => Role::Resistant,
            },
            growth: growth(resolved(c.growth, "compartments.growth")?),
            // No capacity (exponential growth) is no crowding at all.
            capacity: c.carrying_capacity.unwrap_or(f64::INFINITY),
            competition,
            kill: Vec::new(),
            cytostatic: Vec::new(),
            capacity_effects: Vec::new(),
        });
    }
    Ok(out)
}

/// How a drug's exposure follows its doses.
fn kinetics(name: &str, exposure: &spec::ExposureSpec) -> Result<Kinetics> {
    Ok(match exposure {
        spec::ExposureSpec::Level => Kinetics::Level,
        spec::ExposureSpec::Pk(pk) => {
            let v = resolved(pk.volume, "pk.volume")?;
            let k = match (pk.half_life, pk.clearance) {
                (Some(h), _) => std::f64::consts::LN_2 / h,
                (None, Some(cl)) => cl / v,
                (None, None) => {
                    return Err(Error::Internal(format!(
                        "drug `{name}` has no elimination after validation"
                    )));
                }
            };
            Kinetics::OneCompartment {
                k,
                ka: pk.ka,
                f: resolved(pk.bioavailability, "pk.bioavailability")?,
                v,
            }
        }
    })
}

/// The drugs and their activity curves; their effects go onto `compartments`.
fn drugs(
    spec: &ScenarioSpec,
    comp_names: &[&str],
    compartments: &mut [Compartment],
    shapes: &mut Vec<(usize, crate::model::Shape)>,
) -> Result<(Vec<Drug>, Vec<Option<DrugEffect>>)> {
    let mut drugs = Vec::with_capacity(spec.drugs.len());
    let mut activity = Vec::with_capacity(spec.drugs.len());
    for (d, (name, drug)) in spec.drugs.iter().enumerate() {
        drugs.push(Drug {
            name: name.to_owned(),
            kinetics: kinetics(name, &drug.exposure)?,
            dose_unit: resolved(drug.dose_unit.clone(), "drugs.dose_unit")?,
            standard_dose: drug.standard_dose,
            max_dose: drug.max_dose,
        });
        activity.push(
            drug.activity
                .as_ref()
                .map(|r| DrugEffect::intern(shapes, d, response(r))),
        );
        for (comp, effect) in drug.effects.iter() {
            let c = &mut compartments[index_of(comp_names, comp)?];
            let mut mk = |r: &spec::ResponseSpec| DrugEffect::intern(shapes, d, response(r));
            c.kill.extend(effect.kill.as_ref().map(&mut mk));
            c.cytostatic.extend(effect.cytostatic.as_ref().map(&mut mk));
            c.capacity_effects
                .extend(effect.capacity.as_ref().map(&mut mk));
        }
    }
    Ok((drugs, activity))
}

/// The switches between compartments, with what modulates each.
fn transitions(
    spec: &ScenarioSpec,
    comp_names: &[&str],
    drug_names: &[&str],
    shapes: &mut Vec<(usize, crate::model::Shape)>,
) -> Result<Vec<Transition>> {
    let mut out = Vec::with_capacity(spec.model.transitions.len());
    for t in &spec.model.transitions {
        let modulation = match (&t.induced_by, t.only_off_drug) {
            (Some(drug), _) => Modulation::Induced(DrugEffect::intern(
                shapes,
                index_of(drug_names, drug)?,
                response(resolved(t.response.as_ref(), "transitions.response")?),
            )),
            (None, true) => Modulation::OffDrug,
            (None, false) => Modulation::Spontaneous,
        };
        out.push(Transition {
            from: index_of(comp_names, &t.from)?,
            to: index_of(comp_names, &t.to)?,
            rate: t.rate,
            modulation,
        });
    }
    Ok(out)
}

/// What the clinic measures: the marker's weights, visits, noise and detection limit (with
/// RECIST a diameter, turned into marker units).
fn marker(
    spec: &ScenarioSpec,
    comp_names: &[&str],
    progression: ProgressionRule,
) -> Result<MarkerModel> {
    let weights = match &spec.observation.marker {
        spec::MarkerSpec::Total => vec![1.0; comp_names.len()],
        spec::MarkerSpec::Weighted(w) => {
            let mut out = vec![0.0; comp_names.len()];
            for (name, weight) in w.iter() {
                out[index_of(comp_names, name)?] = *weight;
            }
            out
        }
    };
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
    Ok(MarkerModel {
        weights,
        every: spec.observation.every,
        noise_cv: spec.observation.noise_cv,
        detection_limit,
    })
}

/// An arm's schedule inline, or the bug of an unresolved one.
fn inline<'a>(arm: &spec::ArmSpec, schedule: &'a ScheduleRef) -> Result<&'a ScheduleSpec> {
    match schedule {
        ScheduleRef::Inline(s) => Ok(s),
        ScheduleRef::Named(_) => Err(Error::Internal(format!(
            "arm `{}` schedule not resolved",
            arm.name
        ))),
    }
}

/// One arm: its schedule (a sequence of lines, a combination, or one schedule) and the
/// progression rule it is judged by.
fn compile_arm(
    arm: &spec::ArmSpec,
    spec: &ScenarioSpec,
    drug_names: &[&str],
    kinetics: (&[Kinetics], &[bool]),
    cells_per_unit: f64,
) -> Result<Arm> {
    let main = schedule(inline(arm, &arm.schedule)?, drug_names, kinetics)?;
    let own = arm.progression.as_ref().unwrap_or(&spec.progression);
    let arm_progression = progression_rule(own, cells_per_unit)?;
    let schedule = if !arm.then.is_empty() {
        let mut later = Vec::new();
        for line in &arm.then {
            let switch = match line.after {
                spec::SwitchSpec::Progression => Switch::OnProgression,
                spec::SwitchSpec::Time(t) => Switch::AfterTime(t),
                spec::SwitchSpec::TimeOrProgression(t) => Switch::TimeOrProgression(t),
            };
            later.push((
                schedule(inline(arm, &line.schedule)?, drug_names, kinetics)?,
                switch,
            ));
        }
        Schedule::sequence(main, later, arm_progression)
    } else if arm.with.is_empty() {
        main
    } else {
        let mut parts = vec![main];
        for extra in &arm.with {
            parts.push(schedule(inline(arm, extra)?, drug_names, kinetics)?);
        }
        Schedule::combination(parts)
    };
    Ok(Arm {
        name: arm.name.clone(),
        description: arm.description.clone(),
        schedule,
        progression: arm_progression,
        treat_beyond_progression: resolved(
            own.treat_beyond_progression,
            "progression.treat_beyond_progression",
        )?,
    })
}

/// `kinetics`: each drug's, and whether its contiguous dose levels may be joined.
fn schedule(
    s: &ScheduleSpec,
    drug_names: &[&str],
    (kinetics, joinable): (&[Kinetics], &[bool]),
) -> Result<Schedule> {
    let mut copy = s.clone();
    let dosing = copy.dosing_mut();
    let missing = || Error::Internal("schedule not resolved".to_owned());
    let drug = index_of(drug_names, dosing.drug.as_deref().ok_or_else(missing)?)?;
    let interval = dosing.interval.ok_or_else(missing)?;
    if let ScheduleSpec::Events(x) = s {
        let doses = crate::protocol::events::expand(&x.records, drug, interval, kinetics);
        return Ok(Schedule::events(crate::protocol::events::join_levels(
            doses, joinable,
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
            start_delay: resolved(x.start_delay, "intermittent.start_delay")?,
        },
        ScheduleSpec::Adaptive(x) => Schedule::Adaptive {
            drug,
            dose,
            interval,
            stop_below: resolved(x.stop_below, "adaptive.stop_below")?,
            resume_above: resolved(x.resume_above, "adaptive.resume_above")?,
            every_visits: resolved(x.every_visits, "adaptive.every_visits")?,
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
            control: match x.control.ok_or_else(missing)? {
                spec::ContainmentControl::Pi => Control::Pi {
                    proportional: x.proportional,
                    integral: x.integral,
                },
                spec::ContainmentControl::Hold => Control::Hold,
                spec::ContainmentControl::Integral => Control::Integral {
                    gain: x.gain.ok_or_else(missing)?,
                },
            },
        }),
        ScheduleSpec::Mpc(x) => {
            let mut levels = x.levels.clone().ok_or_else(missing)?;
            levels.sort_by(f64::total_cmp);
            Schedule::Mpc(crate::protocol::mpc::MpcRule {
                drug,
                interval,
                levels,
                on: x.on.clone().ok_or_else(missing)?,
                every: x.every.ok_or_else(missing)?,
                particles: x.particles.ok_or_else(missing)?,
                plan_particles: x.plan_particles.ok_or_else(missing)?,
                lookahead: x.lookahead.ok_or_else(missing)?,
                continuations: x.continuations.clone().ok_or_else(missing)?,
                objective: match x.objective.ok_or_else(missing)? {
                    spec::MpcObjectiveSpec::Ttp => crate::protocol::mpc::MpcObjective::Ttp,
                    spec::MpcObjectiveSpec::ProgressionFree => {
                        crate::protocol::mpc::MpcObjective::ProgressionFree
                    }
                },
                risk: x.risk.ok_or_else(missing)?,
                spread: x.spread.ok_or_else(missing)?,
                jitter: x.jitter.ok_or_else(missing)?,
                likelihood_cv: x.likelihood_cv.ok_or_else(missing)?,
                race: x.race.ok_or_else(missing)?,
                stochastic_filter: x.filter_engine.ok_or_else(missing)?
                    == spec::MpcEngineSpec::Stochastic,
            })
        }
        ScheduleSpec::Piecewise(_) | ScheduleSpec::Events(_) => return Err(missing()),
    })
}

/// The progression rule of a (resolved, validated) progression block.
fn progression_rule(p: &spec::ProgressionSpec, cells_per_unit: f64) -> Result<ProgressionRule> {
    let factor = || resolved(p.factor, "progression.factor");
    Ok(match p.rule {
        spec::ProgressionRule::Recist => {
            let lesion = resolved(p.lesion.as_ref(), "progression.lesion")?;
            ProgressionRule::Recist {
                factor: factor()?,
                lesion: Lesion {
                    units_per_cm3: lesion.cells_per_cm3 / cells_per_unit,
                    min_increase_mm: resolved(lesion.min_increase_mm, "lesion.min_increase_mm")?,
                },
                reference: match resolved(p.reference, "progression.reference")? {
                    spec::ReferenceName::Baseline => Reference::Baseline,
                    spec::ReferenceName::Nadir => Reference::Nadir,
                },
            }
        }
        spec::ProgressionRule::RiseOverNadir => {
            ProgressionRule::RiseOverNadir { factor: factor()? }
        }
        spec::ProgressionRule::AboveBaseline => {
            ProgressionRule::AboveBaseline { factor: factor()? }
        }
        spec::ProgressionRule::Pcwg3 => {
            let psa = resolved(p.psa.as_ref(), "progression.psa")?;
            ProgressionRule::Pcwg3 {
                rise: resolved(psa.rise, "psa.rise")?,
                min_rise: resolved(psa.min_rise_ng_per_ml, "psa.min_rise_ng_per_ml")?
                    / psa.ng_per_ml_per_unit,
                confirm_after: resolved(psa.confirm_after, "psa.confirm_after")?,
                no_decline_wait: resolved(psa.no_decline_wait, "psa.no_decline_wait")?,
            }
        }
    })
}
