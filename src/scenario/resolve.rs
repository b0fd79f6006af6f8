//! Filling in defaults: the human form becomes the resolved form, with every value explicit.
//! Resolving a resolved scenario changes nothing.

use super::spec::*;

/// Default schedule thresholds of the adaptive rule (Zhang et al. 2017/2022: stop below
/// 50 % of the marker at treatment start, resume when it is back at that value).
pub const DEFAULT_STOP_BELOW: f64 = 0.5;
/// See [`DEFAULT_STOP_BELOW`].
pub const DEFAULT_RESUME_ABOVE: f64 = 1.0;
/// RECIST 1.1: progression is a ≥ 20 % increase of the diameter over the nadir; the same
/// factor is the default of the marker rules.
pub const DEFAULT_PROGRESSION_FACTOR: f64 = 1.2;
/// RECIST 1.1: the increase must also be at least 5 mm.
pub const RECIST_MIN_INCREASE_MM: f64 = 5.0;
/// PCWG3 (Scher 2016): a rise of ≥ 25 % and ≥ 2 ng/mL over the nadir, confirmed by a
/// second value ≥ 3 weeks later; without a decline, not before 12 weeks.
pub const PCWG3_RISE: f64 = 0.25;
/// See [`PCWG3_RISE`].
pub const PCWG3_MIN_RISE_NG_PER_ML: f64 = 2.0;
/// See [`PCWG3_RISE`].
pub const PCWG3_CONFIRM_DAYS: f64 = 21.0;
/// See [`PCWG3_RISE`].
pub const PCWG3_NO_DECLINE_DAYS: f64 = 84.0;

/// Fills every default of `spec` in place. Schedules named by file must already be inline.
/// Values that cannot be defaulted (a dose for a PK drug with no standard dose) stay empty
/// and are reported by validation.
pub fn resolve(spec: &mut ScenarioSpec) {
    resolve_model(&mut spec.model);
    for (_, drug) in spec.drugs.0.iter_mut() {
        resolve_drug(drug);
    }
    let day = 1.0 / spec.time_units.in_days();
    resolve_progression(&mut spec.progression, day);
    // An arm's own rule treats beyond progression as the scenario does unless it says.
    let beyond = spec.progression.treat_beyond_progression;
    for arm in &mut spec.arms {
        if let Some(p) = &mut arm.progression {
            if p.treat_beyond_progression.is_none() {
                p.treat_beyond_progression = beyond;
            }
            resolve_progression(p, day);
        }
    }
    // A schedule that names no drug doses the first (primary) drug.
    let only_drug = spec.drugs.0.first().map(|(name, _)| name.clone());
    let clinic = ClinicDefaults {
        visit_every: spec.observation.every,
        noise_cv: spec.observation.noise_cv,
        year: 365.0 / spec.time_units.in_days(),
        horizon: spec.horizon,
    };
    for arm in &mut spec.arms {
        for (_, schedule) in arm.schedules_mut() {
            if let ScheduleRef::Inline(schedule) = schedule {
                resolve_schedule(schedule, only_drug.as_deref(), &spec.drugs, &clinic);
            }
        }
    }
    if spec.pfs_at.is_none() {
        let year = 365.0 / spec.time_units.in_days();
        // The defaults that fall within the horizon.
        spec.pfs_at = Some(
            [year, 2.0 * year]
                .into_iter()
                .filter(|t| *t <= spec.horizon)
                .collect(),
        );
    }
    let stochastic = spec.stochastic.get_or_insert_with(StochasticSpec::default);
    stochastic.cells_per_unit.get_or_insert(1.0);
    if stochastic.step.is_none() {
        stochastic.step = Some(default_step(&spec.model, &spec.drugs));
    }
    resolve_fit(spec);
}

/// Fills the defaults of the `fit:` block: proportional error, 8 starts, profiles on; each
/// free parameter of positive value searched on the log scale within ×/÷ 100 of it (a
/// probability no higher than 1). Unknown paths stay for validation.
fn resolve_fit(spec: &mut ScenarioSpec) {
    let Some(mut fit) = spec.fit.take() else {
        return;
    };
    fit.error.get_or_insert(ErrorModelName::Proportional);
    fit.starts.get_or_insert(8);
    fit.profiles.get_or_insert(true);
    for (path, free) in fit.parameters.0.iter_mut() {
        let Ok(p) = super::paths::find(spec, path) else {
            continue;
        };
        let log = *free.scale.get_or_insert(if p.value > 0.0 {
            ParameterScale::Log
        } else {
            ParameterScale::Linear
        }) == ParameterScale::Log;
        if log && p.value > 0.0 {
            free.lower.get_or_insert(p.value / 100.0);
            free.upper
                .get_or_insert((p.value * 100.0).min(p.max.unwrap_or(f64::INFINITY)));
        }
    }
    if let Some(targets) = fit.targets.as_mut() {
        resolve_targets(spec, targets);
    }
    spec.fit = Some(fit);
}

/// Defaults of `fit.targets`: the first arm, 1000 rollouts, seed 1, 200 evaluations, 2
/// starts; free parameters as in `fit.parameters`, by any numeric path of the scenario.
fn resolve_targets(spec: &ScenarioSpec, targets: &mut super::spec::TrialTargetsSpec) {
    if targets.arm.is_none() {
        targets.arm = spec.arms.first().map(|a| a.name.clone());
    }
    targets.rollouts.get_or_insert(1000);
    targets.seed.get_or_insert(1);
    targets.budget.get_or_insert(200);
    targets.starts.get_or_insert(2);
    for (path, free) in targets.parameters.0.iter_mut() {
        let Ok(value) = super::params::number_at(spec, path) else {
            continue;
        };
        let log = *free.scale.get_or_insert(if value > 0.0 {
            ParameterScale::Log
        } else {
            ParameterScale::Linear
        }) == ParameterScale::Log;
        if log && value > 0.0 {
            free.lower.get_or_insert(value / 100.0);
            free.upper.get_or_insert(value * 100.0);
        }
    }
}

/// Fills the defaults of a progression block; `day` is one day in the scenario's units.
fn resolve_progression(p: &mut ProgressionSpec, day: f64) {
    match p.rule {
        ProgressionRule::Pcwg3 => {
            if let Some(psa) = &mut p.psa {
                psa.rise.get_or_insert(PCWG3_RISE);
                psa.min_rise_ng_per_ml
                    .get_or_insert(PCWG3_MIN_RISE_NG_PER_ML);
                psa.confirm_after.get_or_insert(PCWG3_CONFIRM_DAYS * day);
                psa.no_decline_wait
                    .get_or_insert(PCWG3_NO_DECLINE_DAYS * day);
            }
        }
        rule => {
            p.factor.get_or_insert(DEFAULT_PROGRESSION_FACTOR);
            if rule == ProgressionRule::Recist {
                p.reference.get_or_insert(ReferenceName::Nadir);
                if let Some(lesion) = &mut p.lesion {
                    lesion.min_increase_mm.get_or_insert(RECIST_MIN_INCREASE_MM);
                }
            }
        }
    }
    p.treat_beyond_progression.get_or_insert(false);
}

/// The fastest per-capita rate a cell can see: its birth, death, drug kill at full effect and
/// the switching out of it.
fn fastest_rate(model: &ModelSpec, drugs: &super::named::NamedList<DrugSpec>) -> f64 {
    let full = |r: &ResponseSpec, drug: Option<&DrugSpec>| match r {
        ResponseSpec::Hill { emax, .. } => *emax,
        // A linear response at the standard dose level (or 1) stands in for full effect.
        ResponseSpec::Linear { slope } => {
            slope
                * match drug.map(|d| &d.exposure) {
                    Some(ExposureSpec::Level) => drug.and_then(|d| d.standard_dose).unwrap_or(1.0),
                    _ => 1.0,
                }
        }
    };
    let mut fastest: f64 = 0.0;
    for (name, c) in model.compartments.iter() {
        let mut rate = c.birth + c.death;
        for (_, d) in drugs.iter() {
            if let Some(e) = d.effects.get(name) {
                if let Some(r) = &e.kill {
                    rate += full(r, Some(d));
                }
                // A cytostatic effect kills in proportion to growth beyond E = 1.
                if let Some(r) = &e.cytostatic {
                    rate += full(r, Some(d)) * c.birth;
                }
            }
        }
        for t in model.transitions.iter().filter(|t| t.from == name) {
            let drug = t.induced_by.as_deref().and_then(|d| drugs.get(d));
            let multiplier = t.response.as_ref().map_or(1.0, |r| full(r, drug));
            rate += t.rate * multiplier.max(1.0);
        }
        if rate.is_finite() {
            fastest = fastest.max(rate);
        }
    }
    fastest
}

/// Largest step 2^-k (k ≥ 0, so steps tile whole time units) over which no rate changes a
/// cell's fate with probability above about 0.2.
pub fn default_step(model: &ModelSpec, drugs: &super::named::NamedList<DrugSpec>) -> f64 {
    let fastest = fastest_rate(model, drugs);
    let mut step = 1.0;
    while fastest * step > 0.2 && step > 1.0 / 1024.0 {
        step /= 2.0;
    }
    step
}

fn resolve_model(model: &mut ModelSpec) {
    let names: Vec<String> = model.compartments.names().map(str::to_owned).collect();
    for (_, c) in model.compartments.0.iter_mut() {
        let law = *c.growth.get_or_insert(model.growth);
        if law != GrowthLaw::Exponential && c.carrying_capacity.is_none() {
            c.carrying_capacity = model.carrying_capacity;
        }
        // Every competition coefficient explicit; an unknown name stays for validation.
        for name in &names {
            if c.competition.get(name).is_none() {
                c.competition.0.push((name.clone(), 1.0));
            }
        }
        let order = |k: &str| names.iter().position(|n| n == k).unwrap_or(usize::MAX);
        c.competition.0.sort_by_key(|(k, _)| order(k));
    }
    for t in &mut model.transitions {
        if t.induced_by.is_some() && t.response.is_none() {
            t.response = Some(ResponseSpec::Linear { slope: 1.0 });
        }
    }
}

fn resolve_drug(drug: &mut DrugSpec) {
    match &mut drug.exposure {
        ExposureSpec::Level => {
            drug.standard_dose.get_or_insert(1.0);
            drug.dose_unit.get_or_insert_with(|| "MTD".to_owned());
            drug.activity
                .get_or_insert(ResponseSpec::Linear { slope: 1.0 });
        }
        ExposureSpec::Pk(pk) => {
            pk.volume.get_or_insert(1.0);
            pk.bioavailability.get_or_insert(1.0);
            drug.dose_unit.get_or_insert_with(|| "amount".to_owned());
        }
    }
}

/// What the defaults of a model-predictive rule depend on.
struct ClinicDefaults {
    visit_every: f64,
    noise_cv: f64,
    year: f64,
    horizon: f64,
}

/// The model-predictive rule's defaults (docs/mpc.md, "Settings").
fn resolve_mpc(s: &mut super::spec::MpcSpec, clinic: &ClinicDefaults) {
    s.every.get_or_insert(clinic.visit_every);
    s.particles.get_or_insert(200);
    s.plan_particles.get_or_insert(32);
    s.lookahead.get_or_insert(clinic.year.min(clinic.horizon));
    s.continuations.get_or_insert_with(|| vec![0.0, 0.9]);
    s.objective
        .get_or_insert(super::spec::MpcObjectiveSpec::Ttp);
    s.risk.get_or_insert(1.0);
    s.spread.get_or_insert(0.0);
    s.jitter.get_or_insert(0.05);
    s.likelihood_cv.get_or_insert(clinic.noise_cv.max(0.1));
    s.race.get_or_insert(true);
    s.filter_engine
        .get_or_insert(super::spec::MpcEngineSpec::Ode);
    s.on.get_or_insert_with(|| vec![1.0]);
}

fn resolve_schedule(
    schedule: &mut ScheduleSpec,
    only_drug: Option<&str>,
    drugs: &super::named::NamedList<DrugSpec>,
    clinic: &ClinicDefaults,
) {
    // Family-specific defaults that do not depend on the drug.
    match schedule {
        ScheduleSpec::Intermittent(s) => {
            s.start_delay.get_or_insert(0.0);
        }
        ScheduleSpec::Adaptive(s) => {
            s.stop_below.get_or_insert(DEFAULT_STOP_BELOW);
            s.resume_above.get_or_insert(DEFAULT_RESUME_ABOVE);
            s.every_visits.get_or_insert(1);
        }
        ScheduleSpec::Holiday(s) => {
            if s.lead_in.is_none() && s.respond_below.is_none() {
                s.respond_below = Some(DEFAULT_STOP_BELOW);
            }
            if s.holiday.is_none() && s.resume_above.is_none() {
                s.resume_above = Some(DEFAULT_RESUME_ABOVE);
            }
        }
        ScheduleSpec::Modulation(s) => {
            s.step.get_or_insert(0.25);
            s.margin.get_or_insert(0.1);
        }
        // A containment rule starts off drug: it doses only once the marker nears the target.
        ScheduleSpec::Containment(s) => {
            s.dose.get_or_insert(0.0);
        }
        ScheduleSpec::Mpc(s) => resolve_mpc(s, clinic),
        ScheduleSpec::Continuous(_) | ScheduleSpec::Piecewise(_) | ScheduleSpec::Events(_) => {}
    }
    let is_piecewise = matches!(
        schedule,
        ScheduleSpec::Piecewise(_) | ScheduleSpec::Events(_)
    );
    let dosing = schedule.dosing_mut();
    if dosing.drug.is_none() {
        *dosing.drug = only_drug.map(str::to_owned);
    }
    let drug = dosing.drug.as_deref().and_then(|d| drugs.get(d)).cloned();
    // A piecewise schedule lists its doses; it has no single dose to default.
    if dosing.dose.is_none() && !is_piecewise {
        *dosing.dose = drug.as_ref().and_then(|d| d.standard_dose);
    }
    dosing.interval.get_or_insert(1.0);
    let dose = *dosing.dose;
    let drug_max = drug.as_ref().and_then(|d| d.max_dose);
    let standard = drug.as_ref().and_then(|d| d.standard_dose);
    match schedule {
        ScheduleSpec::Modulation(s) => {
            if s.max_dose.is_none() {
                s.max_dose = drug_max.or(dose);
            }
            if s.min_dose.is_none() {
                s.min_dose = dose.map(|d| 0.25 * d);
            }
        }
        ScheduleSpec::Containment(s) => {
            if s.max_dose.is_none() {
                s.max_dose = drug_max.or(standard);
            }
            let control = *s.control.get_or_insert(super::spec::ContainmentControl::Pi);
            if control == super::spec::ContainmentControl::Integral && s.gain.is_none() {
                s.gain = s.max_dose.map(|m| 0.5 * m);
            }
        }
        ScheduleSpec::Mpc(s) if s.levels.is_none() => {
            s.levels = dose.map(|d| vec![d]);
        }
        _ => {}
    }
}
