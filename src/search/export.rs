//! Writing a schedule back as a scenario arm, so a searched schedule can be pasted under
//! `arms:` and run by `compare`.

use crate::protocol::schedule::{Control, Schedule, Switch};
use crate::scenario::spec::{
    AdaptiveSpec, ArmSpec, ContainmentControl, ContainmentSpec, ContinuousSpec, HolidaySpec,
    IntermittentSpec, LineSpec, ModulationSpec, PiecewiseSpec, ScheduleRef, ScheduleSpec,
    SwitchSpec,
};

/// The YAML spec of a single-drug schedule; `None` for combinations, sequences, events and
/// rules in user code, which the search does not produce.
pub fn schedule_spec(schedule: &Schedule, drugs: &[String]) -> Option<ScheduleSpec> {
    let name = |d: usize| drugs.get(d).cloned();
    Some(match schedule {
        Schedule::Continuous {
            drug,
            dose,
            interval,
        } => ScheduleSpec::Continuous(ContinuousSpec {
            drug: name(*drug),
            dose: Some(*dose),
            interval: Some(*interval),
        }),
        Schedule::Intermittent {
            drug,
            dose,
            interval,
            on,
            off,
            start_delay,
        } => ScheduleSpec::Intermittent(IntermittentSpec {
            drug: name(*drug),
            dose: Some(*dose),
            interval: Some(*interval),
            on: *on,
            off: *off,
            start_delay: Some(*start_delay),
        }),
        Schedule::Adaptive {
            drug,
            dose,
            interval,
            stop_below,
            resume_above,
            every_visits,
        } => ScheduleSpec::Adaptive(AdaptiveSpec {
            drug: name(*drug),
            dose: Some(*dose),
            interval: Some(*interval),
            stop_below: Some(*stop_below),
            resume_above: Some(*resume_above),
            every_visits: Some(*every_visits),
        }),
        Schedule::Holiday(r) => ScheduleSpec::Holiday(HolidaySpec {
            drug: name(r.drug),
            dose: Some(r.dose),
            interval: Some(r.interval),
            lead_in: r.lead_in,
            respond_below: r.respond_below,
            holiday: r.holiday,
            resume_above: r.resume_above,
            max_cycles: r.max_cycles,
        }),
        Schedule::Modulation(r) => ScheduleSpec::Modulation(ModulationSpec {
            drug: name(r.drug),
            dose: Some(r.dose),
            interval: Some(r.interval),
            step: Some(r.step),
            margin: Some(r.margin),
            skip_below: r.skip_below,
            min_dose: Some(r.min_dose),
            max_dose: Some(r.max_dose),
        }),
        Schedule::Containment(r) => ScheduleSpec::Containment(ContainmentSpec {
            drug: name(r.drug),
            dose: Some(r.dose),
            interval: Some(r.interval),
            target: r.target,
            max_dose: Some(r.max_dose),
            control: Some(match r.control {
                Control::Pi { .. } => ContainmentControl::Pi,
                Control::Hold => ContainmentControl::Hold,
                Control::Integral { .. } => ContainmentControl::Integral,
            }),
            proportional: match r.control {
                Control::Pi { proportional, .. } => proportional,
                _ => None,
            },
            integral: match r.control {
                Control::Pi { integral, .. } => integral,
                _ => None,
            },
            gain: match r.control {
                Control::Integral { gain } => Some(gain),
                _ => None,
            },
        }),
        Schedule::Mpc(r) => ScheduleSpec::Mpc(Box::new(crate::scenario::spec::MpcSpec {
            drug: name(r.drug),
            dose: r.levels.last().copied(),
            interval: Some(r.interval),
            levels: Some(r.levels.clone()),
            on: Some(r.on.clone()),
            every: Some(r.every),
            particles: Some(r.particles),
            plan_particles: Some(r.plan_particles),
            lookahead: Some(r.lookahead),
            continuations: Some(r.continuations.clone()),
            objective: Some(match r.objective {
                crate::protocol::mpc::MpcObjective::Ttp => {
                    crate::scenario::spec::MpcObjectiveSpec::Ttp
                }
                crate::protocol::mpc::MpcObjective::ProgressionFree => {
                    crate::scenario::spec::MpcObjectiveSpec::ProgressionFree
                }
            }),
            risk: Some(r.risk),
            spread: Some(r.spread),
            jitter: Some(r.jitter),
            likelihood_cv: Some(r.likelihood_cv),
            race: Some(r.race),
            filter_engine: Some(if r.stochastic_filter {
                crate::scenario::spec::MpcEngineSpec::Stochastic
            } else {
                crate::scenario::spec::MpcEngineSpec::Ode
            }),
        })),
        Schedule::Piecewise {
            drug,
            interval,
            period,
            doses,
            on,
        } => ScheduleSpec::Piecewise(PiecewiseSpec {
            drug: name(*drug),
            dose: None,
            interval: Some(*interval),
            period: *period,
            doses: doses.clone(),
            on: (!on.is_empty()).then(|| on.clone()),
        }),
        Schedule::Sequence { .. }
        | Schedule::Combination { .. }
        | Schedule::Events { .. }
        | Schedule::Custom(_) => {
            return None;
        }
    })
}

/// The schedule as one entry of a scenario's `arms:` list, indented to paste under it.
pub fn arm_yaml(name: &str, schedule: &Schedule, drugs: &[String]) -> String {
    if let Schedule::Piecewise {
        drug,
        interval,
        period,
        doses,
        on,
    } = schedule
    {
        // Flow style: a value per period would make a block list hundreds of lines long.
        let list = |xs: &[f64]| {
            xs.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let drug = drugs
            .get(*drug)
            .map_or(String::new(), |d| format!("drug: {d}, "));
        let on = if on.is_empty() {
            String::new()
        } else {
            format!(",\n        on: [{}]", list(on))
        };
        return format!(
            "  - name: {name}\n    schedule:\n      piecewise: {{ {drug}interval: {interval}, period: {period},\n        doses: [{}]{on} }}\n",
            list(doses)
        );
    }
    // A sequence (the sequence family) is its first line with the later ones `then`.
    if let Schedule::Sequence { lines, .. } = schedule {
        let first = lines.first().and_then(|(s, _)| schedule_spec(s, drugs));
        let later: Option<Vec<LineSpec>> = lines
            .iter()
            .skip(1)
            .map(|(s, switch)| {
                Some(LineSpec {
                    after: match (*switch)? {
                        Switch::OnProgression => SwitchSpec::Progression,
                        Switch::AfterTime(t) => SwitchSpec::Time(t),
                        Switch::TimeOrProgression(t) => SwitchSpec::TimeOrProgression(t),
                    },
                    schedule: ScheduleRef::Inline(schedule_spec(s, drugs)?),
                })
            })
            .collect();
        let (Some(first), Some(then)) = (first, later) else {
            return format!("  # {name}: a sequence that cannot be written as one arm\n");
        };
        let arm = ArmSpec {
            name: name.to_owned(),
            description: String::new(),
            schedule: ScheduleRef::Inline(first),
            with: Vec::new(),
            then,
            progression: None,
        };
        return match serde_saphyr::to_string(&vec![arm]) {
            Ok(text) => text.lines().map(|l| format!("  {l}\n")).collect(),
            Err(e) => format!("  # {name}: cannot be written as YAML: {e}\n"),
        };
    }
    // A combination (the companion family) is its first part with the others `with` it.
    let parts: Vec<&Schedule> = match schedule {
        Schedule::Combination { parts, .. } => parts.iter().collect(),
        other => vec![other],
    };
    let specs: Option<Vec<ScheduleSpec>> = parts.iter().map(|p| schedule_spec(p, drugs)).collect();
    let Some(mut specs) = specs.filter(|s| !s.is_empty()) else {
        return format!("  # {name}: a multi-part schedule that cannot be written as one arm\n");
    };
    let first = specs.remove(0);
    let arm = ArmSpec {
        name: name.to_owned(),
        description: String::new(),
        schedule: ScheduleRef::Inline(first),
        with: specs.into_iter().map(ScheduleRef::Inline).collect(),
        then: Vec::new(),
        progression: None,
    };
    match serde_saphyr::to_string(&vec![arm]) {
        Ok(text) => text.lines().map(|l| format!("  {l}\n")).collect(),
        Err(e) => format!("  # {name}: cannot be written as YAML: {e}\n"),
    }
}
