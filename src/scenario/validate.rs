//! Range and consistency checks on a resolved scenario. Every problem is collected (not just
//! the first) with its field path and a message that says what is allowed.

use super::named::NamedList;
use super::spec::*;

/// One problem, located by field path; the loader turns the path into file, line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted field path (`arms[2].schedule.intermittent.off`).
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Upper bound on any count (initial cells, carrying capacity): beyond this the numbers are
/// not cells any more and risk overflow in the stochastic engine.
pub const MAX_COUNT: f64 = 1.0e15;
use crate::support::limits::{
    MAX_DESCRIPTION_CHARS, MAX_DOSES, MAX_NAME_CHARS, MAX_STEPS, MAX_VISITS,
};

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A finite number ≥ 0.
    fn non_negative(&mut self, path: &str, v: f64, what: &str) -> bool {
        if !v.is_finite() || v < 0.0 {
            self.fail(path, format!("{what} must be a finite number ≥ 0, got {v}"));
            return false;
        }
        true
    }

    /// A finite number > 0.
    fn positive(&mut self, path: &str, v: f64, what: &str) -> bool {
        if !v.is_finite() || v <= 0.0 {
            self.fail(path, format!("{what} must be a finite number > 0, got {v}"));
            return false;
        }
        true
    }

    fn at_most(&mut self, path: &str, v: f64, max: f64, what: &str) -> bool {
        if v > max {
            self.fail(path, format!("{what} must be at most {max:e}, got {v:e}"));
            return false;
        }
        true
    }

    fn fraction(&mut self, path: &str, v: f64, what: &str) {
        if !v.is_finite() || !(0.0..=1.0).contains(&v) {
            self.fail(
                path,
                format!("{what} must be a fraction in [0, 1], got {v}"),
            );
        }
    }

    fn name(&mut self, path: &str, name: &str, what: &str) {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !ok {
            self.fail(
                path,
                format!(
                    "{what} `{name}` is not allowed: use 1–64 letters, digits, `_`, `-` or `.` \
                     (names become CSV column names)"
                ),
            );
        }
    }

    fn known<T>(&mut self, path: &str, list: &NamedList<T>, name: &str, what: &str) -> bool {
        if list.get(name).is_none() {
            let known: Vec<&str> = list.names().collect();
            self.fail(
                path,
                format!(
                    "unknown {what} `{name}`; the scenario defines: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return false;
        }
        true
    }

    fn response(&mut self, path: &str, r: &ResponseSpec) {
        match r {
            ResponseSpec::Linear { slope } => {
                self.non_negative(&format!("{path}.linear.slope"), *slope, "slope");
            }
            ResponseSpec::Hill { emax, ec50, n } => {
                self.non_negative(&format!("{path}.hill.emax"), *emax, "emax");
                self.positive(&format!("{path}.hill.ec50"), *ec50, "ec50");
                if self.positive(&format!("{path}.hill.n"), *n, "Hill coefficient n") {
                    self.at_most(&format!("{path}.hill.n"), *n, 100.0, "Hill coefficient n");
                }
            }
        }
    }
}

/// Checks a resolved scenario; an empty list means it is valid.
pub fn validate(spec: &ScenarioSpec) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    check_texts(&mut c, spec);
    if c.positive("horizon", spec.horizon, "horizon") {
        c.at_most("horizon", spec.horizon, 1.0e7, "horizon");
    }
    check_model(&mut c, &spec.model, &spec.drugs);
    check_drugs(&mut c, spec);
    check_observation(&mut c, spec);
    check_progression(&mut c, "progression", &spec.progression, spec, true);
    check_arms(&mut c, spec);
    if let Some(o) = &spec.optimise {
        check_optimise(&mut c, spec, o);
    }
    if let Some(times) = &spec.pfs_at {
        check_pfs_at(&mut c, times, spec.horizon);
    }
    check_virtual_patients(&mut c, spec);
    check_correlations(&mut c, spec);
    if let Some(fit) = &spec.fit {
        check_fit(&mut c, spec, fit);
    }
    if let Some(st) = &spec.stochastic {
        check_stochastic(&mut c, st, spec);
    }
    c.problems
}

/// The format version, and the name and descriptions a terminal and a report will show.
fn check_texts(c: &mut Checker, spec: &ScenarioSpec) {
    if spec.format_version != FORMAT_VERSION {
        c.fail(
            "format_version",
            format!(
                "format_version {} is not supported; this build reads format_version {FORMAT_VERSION}",
                spec.format_version
            ),
        );
    }
    if spec.name.trim().is_empty() {
        c.fail("name", "name must not be empty");
    }
    if spec.name.chars().any(char::is_control) {
        c.fail(
            "name",
            "the name holds a control character (such as ESC, BEL or NUL), which terminals \
             would act on: remove it",
        );
    }
    let chars = spec.name.chars().count();
    if chars > MAX_NAME_CHARS {
        c.fail(
            "name",
            format!("the name has {chars} characters, more than the limit of {MAX_NAME_CHARS}"),
        );
    }
    let mut describe = |path: String, text: &str| {
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            c.fail(
                &path,
                format!("a description may have at most {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
        if text
            .chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
        {
            c.fail(
                path,
                "the description holds a control character (such as ESC, BEL or NUL), which \
                 terminals would act on: remove it",
            );
        }
    };
    describe("description".to_owned(), &spec.description);
    for (i, arm) in spec.arms.iter().enumerate() {
        describe(format!("arms[{i}].description"), &arm.description);
    }
}

/// The P(progression-free) time points: positive and within the horizon.
fn check_pfs_at(c: &mut Checker, times: &[f64], horizon: f64) {
    for (i, t) in times.iter().enumerate() {
        if c.positive(
            &format!("pfs_at[{i}]"),
            *t,
            "a P(progression-free) time point",
        ) && *t > horizon
        {
            c.fail(
                format!("pfs_at[{i}]"),
                format!(
                    "a P(progression-free) time must lie within the horizon ({}), got {t}",
                    horizon
                ),
            );
        }
    }
}

/// Each virtual-patient parameter: a parameter that exists, a distribution in range.
fn check_virtual_patients(c: &mut Checker, spec: &ScenarioSpec) {
    for (key, dist) in spec.virtual_patients.iter() {
        let p = format!("virtual_patients.{key}");
        if let Err(message) = super::patients::resolve_target(spec, key) {
            c.fail(&p, message);
        }
        check_distribution(c, &p, dist);
    }
}

/// Correlations between virtual patients' parameters: known keys, each pair once, r in
/// (−1, 1), and together a valid (positive-definite) correlation matrix.
fn check_correlations(c: &mut Checker, spec: &ScenarioSpec) {
    let mut ok = true;
    for (i, corr) in spec.virtual_patient_correlations.iter().enumerate() {
        if !corr.r.is_finite() || corr.r <= -1.0 || corr.r >= 1.0 {
            c.fail(
                format!("virtual_patient_correlations[{i}].r"),
                format!(
                    "a correlation must lie strictly between -1 and 1, got {}",
                    corr.r
                ),
            );
            ok = false;
        }
    }
    if !ok {
        return;
    }
    match super::patients::correlation_matrix(spec) {
        Err(message) => c.fail("virtual_patient_correlations", message),
        Ok(Some(r)) => {
            if crate::model::patients::cholesky(spec.virtual_patients.len(), &r).is_none() {
                c.fail(
                    "virtual_patient_correlations",
                    "these correlations cannot hold together (the matrix they make is not \
                     positive definite): weaken some of them",
                );
            }
        }
        Ok(None) => {}
    }
}

/// A distribution's parameters (virtual patients, priors).
fn check_distribution(c: &mut Checker, p: &str, dist: &DistributionSpec) {
    match dist {
        DistributionSpec::Lognormal { median, cv } => {
            if let Some(m) = median {
                c.positive(&format!("{p}.lognormal.median"), *m, "median");
            }
            if c.non_negative(&format!("{p}.lognormal.cv"), *cv, "cv") {
                c.at_most(&format!("{p}.lognormal.cv"), *cv, 10.0, "cv");
            }
        }
        DistributionSpec::Normal { mean, sd } => {
            c.non_negative(&format!("{p}.normal.mean"), *mean, "mean");
            c.non_negative(&format!("{p}.normal.sd"), *sd, "sd");
        }
        DistributionSpec::Uniform { low, high } => {
            if c.non_negative(&format!("{p}.uniform.low"), *low, "low")
                && c.non_negative(&format!("{p}.uniform.high"), *high, "high")
                && high < low
            {
                c.fail(
                    format!("{p}.uniform.high"),
                    format!("high ({high}) must be ≥ low ({low})"),
                );
            }
        }
    }
}

/// The `fit:` block: every free parameter exists, its bounds hold the scenario's value (the
/// first start) and suit its scale, and its prior is a distribution.
fn check_fit(c: &mut Checker, spec: &ScenarioSpec, fit: &FitSpec) {
    if let Some(until) = fit.until {
        c.positive("fit.until", until, "fit.until");
        if fit.cycles.is_some() {
            c.fail("fit.cycles", "give fit.until or fit.cycles, not both");
        }
    }
    if fit.cycles == Some(0) {
        c.fail("fit.cycles", "fit at least one cycle (cycles ≥ 1)");
    }
    if let Some(starts) = fit.starts
        && !(1..=1000).contains(&starts)
    {
        c.fail(
            "fit.starts",
            format!("starts must be 1 to 1000, got {starts}"),
        );
    }
    if let Some(targets) = &fit.targets {
        check_targets(c, spec, targets);
    }
    if fit.parameters.is_empty() && fit.targets.is_none() {
        c.fail(
            "fit.parameters",
            "name at least one free parameter by its path, e.g. \
             model.compartments.<name>.birth: { lower: 0.001, upper: 0.1 }",
        );
    }
    for (path, free) in fit.parameters.iter() {
        let p = format!("fit.parameters.{path}");
        let param = match super::paths::find(spec, path) {
            Ok(param) => param,
            Err(message) => {
                c.fail(&p, message);
                continue;
            }
        };
        if let Some(prior) = &free.prior {
            if matches!(prior, DistributionSpec::Uniform { .. }) {
                c.fail(
                    format!("{p}.prior"),
                    "a uniform prior is what the bounds already say: give lower and upper \
                     instead (priors are normal or lognormal)",
                );
            }
            check_distribution(c, &format!("{p}.prior"), prior);
        }
        check_free_bounds(c, &p, free, param.value, param.max);
    }
}

/// A free parameter's bounds: both given (or resolved), finite, ordered, on its scale's
/// domain and around the scenario's `value` (the search starts there).
fn check_free_bounds(
    c: &mut Checker,
    p: &str,
    free: &FreeParameterSpec,
    value: f64,
    max: Option<f64>,
) {
    let (Some(lower), Some(upper)) = (free.lower, free.upper) else {
        c.fail(
            p,
            format!(
                "give lower and upper bounds (a parameter of value {value} is searched on the \
                 linear scale, which has no default bounds)"
            ),
        );
        return;
    };
    if !lower.is_finite() || !upper.is_finite() || lower >= upper {
        c.fail(
            format!("{p}.upper"),
            format!("bounds must be finite with lower < upper, got [{lower}, {upper}]"),
        );
        return;
    }
    if free.scale == Some(ParameterScale::Log) && lower <= 0.0 {
        c.fail(
            format!("{p}.lower"),
            format!("a parameter searched on the log scale needs lower > 0, got {lower}"),
        );
    }
    if lower < 0.0 {
        c.fail(
            format!("{p}.lower"),
            format!("parameters are ≥ 0; lower is {lower}"),
        );
    }
    if let Some(max) = max
        && upper > max
    {
        c.fail(
            format!("{p}.upper"),
            format!("upper must be at most {max}, got {upper}"),
        );
    }
    if !(lower..=upper).contains(&value) {
        c.fail(
            p,
            format!(
                "the bounds [{lower}, {upper}] exclude the scenario's value {value}; the search \
                 starts from it, so widen the bounds or change the value"
            ),
        );
    }
}

/// `fit.targets`: the arm exists, the free parameters are numbers of the scenario within
/// their bounds, and every statistic is in range with an uncertainty the fit can weigh it by.
fn check_targets(c: &mut Checker, spec: &ScenarioSpec, t: &TrialTargetsSpec) {
    let p = "fit.targets";
    if let Some(arm) = &t.arm
        && !spec.arms.iter().any(|a| &a.name == arm)
    {
        let names: Vec<&str> = spec.arms.iter().map(|a| a.name.as_str()).collect();
        c.fail(
            format!("{p}.arm"),
            format!("no arm `{arm}`; the arms are {}", names.join(", ")),
        );
    }
    if let Some(n) = t.rollouts
        && !(50..=1_000_000).contains(&n)
    {
        c.fail(
            format!("{p}.rollouts"),
            format!("rollouts must be 50 to 1000000, got {n}"),
        );
    }
    if t.budget == Some(0) {
        c.fail(
            format!("{p}.budget"),
            "give a budget of at least 1 evaluation",
        );
    }
    if let Some(s) = t.starts
        && !(1..=100).contains(&s)
    {
        c.fail(
            format!("{p}.starts"),
            format!("starts must be 1 to 100, got {s}"),
        );
    }
    if t.patients == Some(0) {
        c.fail(
            format!("{p}.patients"),
            "a trial arm has at least one patient",
        );
    }
    if t.parameters.is_empty() {
        c.fail(
            format!("{p}.parameters"),
            "name at least one free parameter by its path, e.g. \
             virtual_patients.<key>.lognormal.median: { lower: 1.0e5, upper: 1.0e9 }",
        );
    }
    for (path, free) in t.parameters.iter() {
        let at = format!("{p}.parameters.{path}");
        match super::params::number_at(spec, path) {
            Ok(value) => check_free_bounds(c, &at, free, value, None),
            Err(message) => c.fail(&at, message),
        }
        if free.prior.is_some() {
            c.fail(
                format!("{at}.prior"),
                "a calibration to trial summaries takes no priors (bounds only)",
            );
        }
    }
    if t.statistics.iter().all(|s| match s {
        TrialStatisticSpec::MedianPfs(v)
        | TrialStatisticSpec::ResponseRate(v)
        | TrialStatisticSpec::DurationOfResponse(v) => v.held_out == Some(true),
        TrialStatisticSpec::PfsAt(v) => v.held_out == Some(true),
        TrialStatisticSpec::Km(v) => v.held_out == Some(true),
    }) {
        c.fail(
            format!("{p}.statistics"),
            "give at least one published statistic to fit (not held out): median_pfs, \
             pfs_at, response_rate, duration_of_response or km",
        );
    }
    let horizon = spec.horizon;
    let time_ok = |c: &mut Checker, at: &str, time: f64| {
        if c.positive(at, time, "time") && time >= horizon {
            c.fail(
                at,
                format!("the time {time} is not before the horizon {horizon}: the model has no PFS there"),
            );
        }
    };
    let spread = |c: &mut Checker, at: &str, value: f64, ci: Option<[f64; 2]>, se: Option<f64>| {
        if let Some([lo, hi]) = ci
            && !(lo <= value && value <= hi && lo.is_finite() && hi.is_finite() && lo < hi)
        {
            c.fail(
                format!("{at}.ci"),
                format!(
                    "the interval [{lo}, {hi}] must be finite, ordered and hold the value {value}"
                ),
            );
        }
        if let Some(se) = se {
            c.positive(&format!("{at}.se"), se, "se");
        }
    };
    for (k, s) in t.statistics.iter().enumerate() {
        let at = format!("{p}.statistics[{k}]");
        match s {
            TrialStatisticSpec::MedianPfs(v) | TrialStatisticSpec::DurationOfResponse(v) => {
                let at = format!(
                    "{at}.{}",
                    if matches!(s, TrialStatisticSpec::MedianPfs(_)) {
                        "median_pfs"
                    } else {
                        "duration_of_response"
                    }
                );
                time_ok(c, &format!("{at}.value"), v.value);
                spread(c, &at, v.value, v.ci, v.se);
                if v.ci.is_none() && v.se.is_none() {
                    c.fail(
                        &at,
                        "give the median's 95 % ci (or se): the fit weighs each statistic by \
                         its uncertainty",
                    );
                }
            }
            TrialStatisticSpec::ResponseRate(v) => {
                let at = format!("{at}.response_rate");
                c.fraction(&format!("{at}.value"), v.value, "a response rate");
                spread(c, &at, v.value, v.ci, v.se);
                if v.ci.is_none() && v.se.is_none() && t.patients.is_none() {
                    c.fail(&at, "give its ci or se, or the trial's patients");
                }
            }
            TrialStatisticSpec::PfsAt(v) => {
                let at = format!("{at}.pfs_at");
                time_ok(c, &format!("{at}.time"), v.time);
                c.fraction(&format!("{at}.value"), v.value, "a PFS rate");
                spread(c, &at, v.value, v.ci, v.se);
                if v.ci.is_none() && v.se.is_none() && t.patients.is_none() {
                    c.fail(&at, "give its ci or se, or the trial's patients");
                }
            }
            TrialStatisticSpec::Km(v) => {
                let at = format!("{at}.km");
                if v.points.is_empty() {
                    c.fail(
                        format!("{at}.points"),
                        "give at least one (time, survival) point",
                    );
                }
                let mut last = 0.0;
                for (j, [time, surv]) in v.points.iter().enumerate() {
                    let pj = format!("{at}.points[{j}]");
                    time_ok(c, &pj, *time);
                    c.fraction(&pj, *surv, "a survival");
                    if *time <= last {
                        c.fail(&pj, "times must increase along the curve");
                    }
                    last = *time;
                }
                match &v.at_risk {
                    Some(n) if n.len() != v.points.len() => c.fail(
                        format!("{at}.at_risk"),
                        format!(
                            "give one number at risk per point ({} points, {} numbers)",
                            v.points.len(),
                            n.len()
                        ),
                    ),
                    Some(n) => {
                        for (j, x) in n.iter().enumerate() {
                            c.positive(&format!("{at}.at_risk[{j}]"), *x, "patients at risk");
                        }
                    }
                    None if t.patients.is_none() => c.fail(
                        &at,
                        "give at_risk (the numbers under the plot) or the trial's patients",
                    ),
                    None => {}
                }
            }
        }
    }
}

/// The stochastic engine's step (within the step limit) and cells per unit (within the
/// count limit).
fn check_stochastic(c: &mut Checker, st: &StochasticSpec, spec: &ScenarioSpec) {
    if let Some(step) = st.step
        && c.positive("stochastic.step", step, "stochastic step")
        && spec.horizon.is_finite()
        && spec.horizon / step > MAX_STEPS
    {
        c.fail(
            "stochastic.step",
            format!(
                "a stochastic step of {} (set here, or derived from the fastest \
                 per-capita rate) over a horizon of {} makes {:.2e} steps, more than the \
                 limit of {MAX_STEPS:e}; set stochastic.step or shorten the horizon",
                crate::support::format::Num(step),
                spec.horizon,
                spec.horizon / step
            ),
        );
    }
    if let Some(scale) = st.cells_per_unit
        && c.positive("stochastic.cells_per_unit", scale, "cells_per_unit")
    {
        for (name, comp) in spec.model.compartments.iter() {
            if comp.initial * scale > MAX_COUNT {
                c.fail(
                    "stochastic.cells_per_unit",
                    format!(
                        "compartment `{name}` would start with {:e} cells; at most {MAX_COUNT:e}",
                        comp.initial * scale
                    ),
                );
            }
        }
    }
}

fn check_model(c: &mut Checker, m: &ModelSpec, drugs: &NamedList<DrugSpec>) {
    if m.compartments.is_empty() {
        c.fail("model.compartments", "at least one compartment is needed");
    }
    if let Some(k) = m.carrying_capacity
        && c.positive("model.carrying_capacity", k, "carrying capacity")
    {
        c.at_most("model.carrying_capacity", k, MAX_COUNT, "carrying capacity");
    }
    for (name, comp) in m.compartments.iter() {
        let p = format!("model.compartments.{name}");
        c.name(&p, name, "compartment name");
        c.non_negative(&format!("{p}.birth"), comp.birth, "birth rate");
        c.non_negative(&format!("{p}.death"), comp.death, "death rate");
        if c.non_negative(&format!("{p}.initial"), comp.initial, "initial count") {
            c.at_most(
                &format!("{p}.initial"),
                comp.initial,
                MAX_COUNT,
                "initial count",
            );
        }
        let law = comp.growth.unwrap_or(m.growth);
        match comp.carrying_capacity {
            Some(k) if c.positive(&format!("{p}.carrying_capacity"), k, "carrying capacity") => {
                c.at_most(
                    &format!("{p}.carrying_capacity"),
                    k,
                    MAX_COUNT,
                    "carrying capacity",
                );
            }
            Some(_) => {}
            None if law != GrowthLaw::Exponential => c.fail(
                &p,
                format!(
                    "{law:?} growth needs a carrying capacity: set model.carrying_capacity or \
                     carrying_capacity on this compartment",
                )
                .to_lowercase(),
            ),
            None => {}
        }
        for (other, a) in comp.competition.iter() {
            let q = format!("{p}.competition.{other}");
            if c.known(&q, &m.compartments, other, "compartment") {
                c.non_negative(&q, *a, "competition coefficient");
            }
        }
    }
    for (i, t) in m.transitions.iter().enumerate() {
        let p = format!("model.transitions[{i}]");
        c.known(
            &format!("{p}.from"),
            &m.compartments,
            &t.from,
            "compartment",
        );
        c.known(&format!("{p}.to"), &m.compartments, &t.to, "compartment");
        if t.from == t.to {
            c.fail(
                format!("{p}.to"),
                "a transition must lead to another compartment",
            );
        }
        c.non_negative(&format!("{p}.rate"), t.rate, "transition rate");
        if let Some(d) = &t.induced_by {
            c.known(&format!("{p}.induced_by"), drugs, d, "drug");
            if t.only_off_drug {
                c.fail(
                    format!("{p}.only_off_drug"),
                    "a transition is either induced_by a drug or only_off_drug, not both",
                );
            }
        } else if t.response.is_some() {
            c.fail(
                format!("{p}.response"),
                "response applies only to a transition with induced_by",
            );
        }
        if let Some(r) = &t.response {
            c.response(&format!("{p}.response"), r);
        }
    }
    let mut total_mutation = vec![0.0; m.compartments.len()];
    for (i, mu) in m.mutations.iter().enumerate() {
        let p = format!("model.mutations[{i}]");
        let from = m.compartments.position(&mu.from);
        c.known(
            &format!("{p}.from"),
            &m.compartments,
            &mu.from,
            "compartment",
        );
        c.known(&format!("{p}.to"), &m.compartments, &mu.to, "compartment");
        if mu.from == mu.to {
            c.fail(
                format!("{p}.to"),
                "a mutation must lead to another compartment",
            );
        }
        c.fraction(
            &format!("{p}.per_division"),
            mu.per_division,
            "per_division probability",
        );
        if let Some(f) = from
            && mu.per_division.is_finite()
        {
            total_mutation[f] += mu.per_division;
            if total_mutation[f] > 1.0 {
                c.fail(
                    format!("{p}.per_division"),
                    format!(
                        "mutation probabilities out of `{}` add up to {} per division; the sum must be ≤ 1",
                        mu.from, total_mutation[f]
                    ),
                );
            }
        }
    }
}

fn check_drugs(c: &mut Checker, spec: &ScenarioSpec) {
    let needs_activity = spec.model.transitions.iter().any(|t| t.only_off_drug);
    for (name, d) in spec.drugs.iter() {
        let p = format!("drugs.{name}");
        c.name(&p, name, "drug name");
        if let ExposureSpec::Pk(pk) = &d.exposure {
            let q = format!("{p}.exposure.pk");
            match (pk.half_life, pk.clearance) {
                (Some(h), None) => {
                    c.positive(&format!("{q}.half_life"), h, "half_life");
                }
                (None, Some(cl)) => {
                    c.positive(&format!("{q}.clearance"), cl, "clearance");
                }
                _ => c.fail(&q, "give exactly one of half_life or clearance"),
            }
            if let Some(v) = pk.volume {
                c.positive(&format!("{q}.volume"), v, "volume");
            }
            if let Some(ka) = pk.ka {
                c.positive(&format!("{q}.ka"), ka, "absorption rate ka");
            }
            if let Some(f) = pk.bioavailability
                && c.positive(&format!("{q}.bioavailability"), f, "bioavailability")
                && f > 1.0
            {
                c.fail(
                    format!("{q}.bioavailability"),
                    format!("bioavailability is a fraction in (0, 1], got {f}"),
                );
            }
            if d.standard_dose.is_none() {
                c.fail(
                    &p,
                    "a PK drug needs standard_dose (the label dose, in dose_unit) for schedules that name no dose",
                );
            }
        }
        if let Some(sd) = d.standard_dose {
            c.positive(&format!("{p}.standard_dose"), sd, "standard_dose");
        }
        if let Some(md) = d.max_dose {
            c.positive(&format!("{p}.max_dose"), md, "max_dose");
        }
        if let Some(unit) = &d.dose_unit
            && unit.trim().is_empty()
        {
            c.fail(format!("{p}.dose_unit"), "dose_unit must not be empty");
        }
        match &d.activity {
            Some(r) => c.response(&format!("{p}.activity"), r),
            None if needs_activity => c.fail(
                &p,
                "a transition is only_off_drug, so every drug needs `activity` (the fraction of \
                 full effect at an exposure, e.g. a Hill curve with emax 1)",
            ),
            None => {}
        }
        if let Some(tox) = &d.toxicity {
            let q = format!("{p}.toxicity");
            if tox.max_cumulative_dose.is_none() && tox.max_time_on.is_none() {
                c.fail(&q, "give max_cumulative_dose and/or max_time_on");
            }
            if let Some(m) = tox.max_cumulative_dose {
                c.non_negative(
                    &format!("{q}.max_cumulative_dose"),
                    m,
                    "max_cumulative_dose",
                );
            }
            if let Some(w) = &tox.max_time_on {
                c.non_negative(&format!("{q}.max_time_on.on"), w.on, "on");
                if c.positive(&format!("{q}.max_time_on.window"), w.window, "window")
                    && w.on > w.window
                {
                    c.fail(
                        format!("{q}.max_time_on.on"),
                        format!("on ({}) cannot exceed the window ({})", w.on, w.window),
                    );
                }
            }
        }
        if d.effects.is_empty() {
            c.fail(
                format!("{p}.effects"),
                "a drug needs at least one effect (kill, cytostatic or capacity on a compartment)",
            );
        }
        for (comp, e) in d.effects.iter() {
            let q = format!("{p}.effects.{comp}");
            c.known(&q, &spec.model.compartments, comp, "compartment");
            if e.kill.is_none() && e.cytostatic.is_none() && e.capacity.is_none() {
                c.fail(&q, "give at least one of kill, cytostatic or capacity");
            }
            for (kind, r) in [
                ("kill", &e.kill),
                ("cytostatic", &e.cytostatic),
                ("capacity", &e.capacity),
            ] {
                if let Some(r) = r {
                    c.response(&format!("{q}.{kind}"), r);
                }
            }
        }
    }
}

fn check_observation(c: &mut Checker, spec: &ScenarioSpec) {
    let o = &spec.observation;
    if c.positive("observation.every", o.every, "visit interval")
        && spec.horizon.is_finite()
        && spec.horizon / o.every > MAX_VISITS
    {
        c.fail(
            "observation.every",
            format!(
                "visits every {} over a horizon of {} make {:.2e} visits, more than the limit \
                 of {MAX_VISITS:e}",
                crate::support::format::Num(o.every),
                spec.horizon,
                spec.horizon / o.every
            ),
        );
    }
    if c.non_negative("observation.noise_cv", o.noise_cv, "noise_cv") {
        c.at_most("observation.noise_cv", o.noise_cv, 10.0, "noise_cv");
    }
    c.non_negative(
        "observation.detection_limit",
        o.detection_limit,
        "detection_limit",
    );
    let comps = &spec.model.compartments;
    let baseline: f64 = match &o.marker {
        MarkerSpec::Total => comps.iter().map(|(_, x)| x.initial).sum(),
        MarkerSpec::Weighted(w) => {
            if w.is_empty() {
                c.fail(
                    "observation.marker.weighted",
                    "list at least one compartment and its weight",
                );
            }
            let mut sum = 0.0;
            for (name, weight) in w.iter() {
                let p = format!("observation.marker.weighted.{name}");
                if c.known(&p, comps, name, "compartment")
                    && c.non_negative(&p, *weight, "marker weight")
                {
                    sum += weight * comps.get(name).map_or(0.0, |x| x.initial);
                }
            }
            sum
        }
    };
    if baseline.is_finite() && baseline <= 0.0 {
        c.fail(
            "observation.marker",
            "the marker is 0 at time 0 (no weighted compartment starts with cells), so baseline and nadir are undefined",
        );
    }
}

/// A progression block: the scenario's (`top`) or an arm's own.
fn check_progression(
    c: &mut Checker,
    p: &str,
    rule: &ProgressionSpec,
    spec: &ScenarioSpec,
    top: bool,
) {
    let name = rule.rule.as_str();
    if let Some(f) = rule.factor {
        if rule.rule == ProgressionRule::Pcwg3 {
            c.fail(
                format!("{p}.factor"),
                "pcwg3 has no factor: its rise is psa.rise (0.25 = 25 %) and psa.min_rise_ng_per_ml",
            );
        } else if c.positive(&format!("{p}.factor"), f, "progression factor")
            && rule.rule != ProgressionRule::AboveBaseline
            && f < 1.0
        {
            c.fail(
                format!("{p}.factor"),
                format!("{name} factor is the rise that counts as progression and must be ≥ 1 (1.2 = 20 %), got {f}"),
            );
        }
    }
    if rule.reference.is_some() && rule.rule != ProgressionRule::Recist {
        c.fail(
            format!("{p}.reference"),
            format!(
                "reference (nadir or baseline) is a setting of rule recist; with {name} use                  rise_over_nadir or above_baseline for the marker"
            ),
        );
    }
    match (&rule.lesion, rule.rule) {
        (None, ProgressionRule::Recist) => c.fail(
            format!("{p}.lesion"),
            "recist measures lesion diameters: give lesion.cells_per_cm3 (cells per cm³ of \
             tumour, e.g. 1.0e9) and optionally lesion.detection_limit_mm (RECIST 1.1: 10); \
             for a plain marker ≥ factor × nadir rule use rule: rise_over_nadir",
        ),
        (Some(_), r) if r != ProgressionRule::Recist => c.fail(
            format!("{p}.lesion"),
            format!("lesion belongs to rule recist, not {name}"),
        ),
        (Some(lesion), _) => {
            let q = format!("{p}.lesion");
            c.positive(
                &format!("{q}.cells_per_cm3"),
                lesion.cells_per_cm3,
                "cells_per_cm3",
            );
            if let Some(mm) = lesion.min_increase_mm {
                c.non_negative(&format!("{q}.min_increase_mm"), mm, "min_increase_mm");
            }
            if let Some(mm) = lesion.detection_limit_mm {
                if !top {
                    c.fail(
                        format!("{q}.detection_limit_mm"),
                        "the detection limit belongs to the scenario's progression block: \
                         every arm is imaged the same way",
                    );
                } else if c.non_negative(
                    &format!("{q}.detection_limit_mm"),
                    mm,
                    "detection_limit_mm",
                ) && spec.observation.detection_limit > 0.0
                {
                    c.fail(
                        format!("{q}.detection_limit_mm"),
                        format!(
                            "two detection limits: observation.detection_limit ({}) and \
                             lesion.detection_limit_mm ({mm}); with recist give the diameter only",
                            spec.observation.detection_limit
                        ),
                    );
                }
            }
        }
        (None, _) => {}
    }
    match (&rule.psa, rule.rule) {
        (None, ProgressionRule::Pcwg3) => c.fail(
            format!("{p}.psa"),
            "pcwg3 reads the marker as PSA: give psa.ng_per_ml_per_unit (ng/mL per marker unit)",
        ),
        (Some(_), r) if r != ProgressionRule::Pcwg3 => c.fail(
            format!("{p}.psa"),
            format!("psa belongs to rule pcwg3, not {name}"),
        ),
        (Some(psa), _) => {
            let q = format!("{p}.psa");
            c.positive(
                &format!("{q}.ng_per_ml_per_unit"),
                psa.ng_per_ml_per_unit,
                "ng_per_ml_per_unit",
            );
            if let Some(x) = psa.rise {
                c.positive(&format!("{q}.rise"), x, "rise (0.25 = 25 %)");
            }
            if let Some(x) = psa.min_rise_ng_per_ml {
                c.non_negative(&format!("{q}.min_rise_ng_per_ml"), x, "min_rise_ng_per_ml");
            }
            if let Some(x) = psa.confirm_after {
                c.non_negative(&format!("{q}.confirm_after"), x, "confirm_after");
            }
            if let Some(x) = psa.no_decline_wait {
                c.non_negative(&format!("{q}.no_decline_wait"), x, "no_decline_wait");
            }
        }
        (None, _) => {}
    }
}

fn check_arms(c: &mut Checker, spec: &ScenarioSpec) {
    if spec.arms.is_empty() {
        c.fail("arms", "at least one arm is needed");
    }
    for (i, arm) in spec.arms.iter().enumerate() {
        let p = format!("arms[{i}]");
        c.name(&format!("{p}.name"), &arm.name, "arm name");
        if spec.arms[..i].iter().any(|a| a.name == arm.name) {
            c.fail(
                format!("{p}.name"),
                format!("arm name `{}` is used twice", arm.name),
            );
        }
        if let ScheduleRef::Inline(s) = &arm.schedule {
            check_schedule(c, &format!("{p}.schedule"), s, spec);
        }
        if let Some(rule) = &arm.progression {
            check_progression(c, &format!("{p}.progression"), rule, spec, false);
        }
        let mut intervals = vec![schedule_interval(&arm.schedule)];
        let is_events = |r: &ScheduleRef| matches!(r, ScheduleRef::Inline(ScheduleSpec::Events(_)));
        if !arm.with.is_empty() && (is_events(&arm.schedule) || arm.with.iter().any(is_events)) {
            c.fail(
                format!("{p}.with"),
                "events cannot be combined with other schedules: put every drug's records in one events schedule (cmt names the drug)",
            );
        }
        let sequential = !arm.then.is_empty();
        if sequential
            && (is_events(&arm.schedule) || arm.then.iter().any(|l| is_events(&l.schedule)))
        {
            c.fail(
                format!("{p}.then"),
                "events cannot be part of a sequence of lines: their times are absolute",
            );
        }
        if sequential && !arm.with.is_empty() {
            c.fail(
                format!("{p}.with"),
                "an arm is a combination (with) or a sequence of lines (then), not both yet",
            );
        }
        for (j, line) in arm.then.iter().enumerate() {
            let q = format!("{p}.then[{j}]");
            match line.after {
                SwitchSpec::Time(t) => {
                    c.positive(&format!("{q}.after.time"), t, "time on the previous line");
                }
                SwitchSpec::TimeOrProgression(t) => {
                    c.positive(
                        &format!("{q}.after.time_or_progression"),
                        t,
                        "time on the previous line",
                    );
                }
                SwitchSpec::Progression => {}
            }
            if let ScheduleRef::Inline(s) = &line.schedule {
                check_schedule(c, &format!("{q}.schedule"), s, spec);
            }
        }
        for (j, extra) in arm.with.iter().enumerate() {
            if let ScheduleRef::Inline(s) = extra {
                check_schedule(c, &format!("{p}.with[{j}]"), s, spec);
            }
            intervals.push(schedule_interval(extra));
        }
        // A combination decides on the finest dosing grid; every schedule's grid must sit on it.
        let intervals: Vec<f64> = intervals
            .into_iter()
            .flatten()
            .filter(|x| *x > 0.0)
            .collect();
        if let Some(base) = intervals.iter().cloned().reduce(f64::min) {
            for (j, iv) in intervals.iter().enumerate() {
                let ratio = iv / base;
                if (ratio - ratio.round()).abs() > 1e-9 * ratio.max(1.0) {
                    c.fail(
                        if j == 0 { format!("{p}.schedule") } else { format!("{p}.with[{}]", j - 1) },
                        format!("dosing interval {iv} is not a whole multiple of {base}, the finest interval of the combination"),
                    );
                }
            }
        }
    }
}

fn check_schedule(c: &mut Checker, path: &str, s: &ScheduleSpec, spec: &ScenarioSpec) {
    let p = format!("{path}.{}", s.family());
    check_dosing(c, &p, s, spec);
    match s {
        ScheduleSpec::Continuous(_) => {}
        ScheduleSpec::Intermittent(x) => check_intermittent(c, &p, x),
        ScheduleSpec::Adaptive(x) => check_adaptive(c, &p, x),
        ScheduleSpec::Holiday(x) => check_holiday(c, &p, x),
        ScheduleSpec::Modulation(x) => check_modulation(c, &p, x),
        ScheduleSpec::Containment(x) => check_containment(c, &p, x),
        ScheduleSpec::Mpc(x) => check_mpc(c, &p, x, spec),
        ScheduleSpec::Events(x) => check_events(c, &p, x, spec),
        ScheduleSpec::Piecewise(x) => check_piecewise(c, &p, x, s, spec),
    }
}

/// The fields every family shares: the drug, the dose (within the drug's max_dose) and the
/// dosing interval (within the dose limit).
fn check_dosing(c: &mut Checker, p: &str, s: &ScheduleSpec, spec: &ScenarioSpec) {
    let mut copy = s.clone();
    let dosing = copy.dosing_mut();
    match dosing.drug.as_deref() {
        None => c.fail(
            format!("{p}.drug"),
            format!(
                "name the drug: the scenario defines no drugs{}",
                if spec.drugs.is_empty() {
                    ""
                } else {
                    " by that name"
                }
            ),
        ),
        Some(d) => {
            if c.known(&format!("{p}.drug"), &spec.drugs, d, "drug")
                && let (Some(dose), Some(max)) =
                    (*dosing.dose, spec.drugs.get(d).and_then(|x| x.max_dose))
                && dose > max
            {
                c.fail(
                    format!("{p}.dose"),
                    format!("dose {dose} exceeds max_dose {max} of drug `{d}`"),
                );
            }
        }
    }
    let drug_known = dosing
        .drug
        .as_deref()
        .is_some_and(|d| spec.drugs.get(d).is_some());
    match *dosing.dose {
        Some(dose) => {
            c.non_negative(&format!("{p}.dose"), dose, "dose");
        }
        None if matches!(s, ScheduleSpec::Piecewise(_) | ScheduleSpec::Events(_)) => {}
        // Without a known drug the missing dose is a consequence, already reported.
        None if drug_known => c.fail(
            format!("{p}.dose"),
            "give a dose (the drug has no standard_dose)",
        ),
        None => {}
    }
    if let Some(iv) = *dosing.interval
        && c.positive(&format!("{p}.interval"), iv, "dosing interval")
        && spec.horizon.is_finite()
        && spec.horizon / iv > MAX_DOSES
    {
        c.fail(
            format!("{p}.interval"),
            format!(
                "dosing every {} over a horizon of {} makes {:.2e} doses, more than the limit \
                 of {MAX_DOSES:e}",
                crate::support::format::Num(iv),
                spec.horizon,
                spec.horizon / iv
            ),
        );
    }
}

/// Cycles: a positive on period, a non-negative off period and delay.
fn check_intermittent(c: &mut Checker, p: &str, x: &IntermittentSpec) {
    c.positive(&format!("{p}.on"), x.on, "on period");
    c.non_negative(&format!("{p}.off"), x.off, "off period");
    if let Some(d) = x.start_delay {
        c.non_negative(&format!("{p}.start_delay"), d, "start_delay");
    }
}

/// The adaptive rule: thresholds as fractions, resume at or above stop.
fn check_adaptive(c: &mut Checker, p: &str, x: &AdaptiveSpec) {
    if x.every_visits == Some(0) {
        c.fail(
            format!("{p}.every_visits"),
            "every_visits counts visits: at least 1",
        );
    }
    if let Some(stop) = x.stop_below {
        c.fraction(&format!("{p}.stop_below"), stop, "stop_below");
    }
    if let Some(resume) = x.resume_above
        && c.positive(&format!("{p}.resume_above"), resume, "resume_above")
        && let Some(stop) = x.stop_below
        && resume < stop
    {
        c.fail(
            format!("{p}.resume_above"),
            format!("resume_above ({resume}) must be ≥ stop_below ({stop}), or dosing would never stay off"),
        );
    }
}

/// A holiday rule: one way to end treatment and one way to end the holiday.
fn check_holiday(c: &mut Checker, p: &str, x: &HolidaySpec) {
    match (x.lead_in, x.respond_below) {
        (Some(l), None) => {
            c.positive(&format!("{p}.lead_in"), l, "lead_in");
        }
        (None, Some(r)) => c.fraction(&format!("{p}.respond_below"), r, "respond_below"),
        _ => c.fail(p, "give one of lead_in (a fixed time on drug) or respond_below (a fraction of the starting marker)"),
    }
    match (x.holiday, x.resume_above) {
        (Some(h), None) => {
            c.positive(&format!("{p}.holiday"), h, "holiday length");
        }
        (None, Some(r)) => {
            c.positive(&format!("{p}.resume_above"), r, "resume_above");
        }
        _ => c.fail(p, "give one of holiday (a fixed length) or resume_above (a fraction of the starting marker)"),
    }
}

/// Dose modulation: the step, margins and the dose range.
fn check_modulation(c: &mut Checker, p: &str, x: &ModulationSpec) {
    if let Some(step) = x.step
        && c.positive(&format!("{p}.step"), step, "step")
        && step > 1.0
    {
        c.fail(
            format!("{p}.step"),
            format!("step is a relative change in (0, 1], got {step}"),
        );
    }
    if let Some(m) = x.margin {
        c.non_negative(&format!("{p}.margin"), m, "margin");
    }
    if let Some(skip) = x.skip_below {
        c.fraction(&format!("{p}.skip_below"), skip, "skip_below");
        if x.margin.is_some_and(|m| skip <= m) {
            c.fail(
                format!("{p}.skip_below"),
                "skip_below must be larger than margin (skipping is for large falls)",
            );
        }
    }
    if let (Some(lo), Some(hi)) = (x.min_dose, x.max_dose)
        && c.non_negative(&format!("{p}.min_dose"), lo, "min_dose")
        && c.positive(&format!("{p}.max_dose"), hi, "max_dose")
        && !(lo <= x.dose.unwrap_or(lo) && x.dose.unwrap_or(hi) <= hi)
    {
        c.fail(
            format!("{p}.dose"),
            format!("the starting dose must lie in [min_dose, max_dose] = [{lo}, {hi}]"),
        );
    }
}

/// A model-predictive rule: its sets non-empty and in range, and the nested simulation it
/// asks for within [`crate::support::limits::MAX_MPC_PARTICLE_DAYS`] a patient.
fn check_mpc(c: &mut Checker, p: &str, x: &super::spec::MpcSpec, spec: &ScenarioSpec) {
    let list = |c: &mut Checker, field: &str, v: &Option<Vec<f64>>, allowed: &str| {
        if v.as_ref().is_some_and(Vec::is_empty) {
            c.fail(
                format!("{p}.{field}"),
                format!("give at least one value ({allowed})"),
            );
        }
    };
    list(c, "levels", &x.levels, "dose amounts > 0");
    list(c, "on", &x.on, "shares of the interval in (0, 1]");
    list(c, "continuations", &x.continuations, "thresholds θ ≥ 0");
    for (i, v) in x.levels.iter().flatten().enumerate() {
        c.positive(&format!("{p}.levels[{i}]"), *v, "a dose level");
    }
    for (i, v) in x.on.iter().flatten().enumerate() {
        if !(v.is_finite() && *v > 0.0 && *v <= 1.0) {
            c.fail(
                format!("{p}.on[{i}]"),
                format!("a share of the re-planning interval must lie in (0, 1], got {v}"),
            );
        }
    }
    for (i, v) in x.continuations.iter().flatten().enumerate() {
        c.non_negative(&format!("{p}.continuations[{i}]"), *v, "a threshold θ");
    }
    for (field, v) in [("every", x.every), ("lookahead", x.lookahead)] {
        if let Some(v) = v {
            c.positive(&format!("{p}.{field}"), v, field);
        }
    }
    for (field, v) in [("spread", x.spread), ("jitter", x.jitter)] {
        if let Some(v) = v {
            c.non_negative(&format!("{p}.{field}"), v, field);
        }
    }
    if let Some(v) = x.likelihood_cv {
        c.positive(&format!("{p}.likelihood_cv"), v, "likelihood_cv");
    }
    if let Some(r) = x.risk
        && !(r.is_finite() && r > 0.0 && r <= 1.0)
    {
        c.fail(
            format!("{p}.risk"),
            format!("risk is the share of worst outcomes averaged, in (0, 1]; got {r}"),
        );
    }
    const MAX_PARTICLES: usize = 100_000;
    for (field, v) in [
        ("particles", x.particles),
        ("plan_particles", x.plan_particles),
    ] {
        if let Some(n) = v
            && !(1..=MAX_PARTICLES).contains(&n)
        {
            c.fail(
                format!("{p}.{field}"),
                format!("{field} must be between 1 and {MAX_PARTICLES}, got {n}"),
            );
        }
    }
    if let (Some(n), Some(m)) = (x.particles, x.plan_particles)
        && m > n
    {
        c.fail(
            format!("{p}.plan_particles"),
            format!(
                "plan_particles ({m}) cannot exceed particles ({n}): plans draw from the filter"
            ),
        );
    }
    // The nested simulation of one patient, in particle-days.
    let (Some(every), Some(lookahead), Some(plan), Some(particles)) =
        (x.every, x.lookahead, x.plan_particles, x.particles)
    else {
        return;
    };
    if every <= 0.0 || !every.is_finite() {
        return;
    }
    let actions = 1 + x.levels.as_ref().map_or(1, Vec::len) * x.on.as_ref().map_or(1, Vec::len);
    let thetas = x.continuations.as_ref().map_or(1, |v| v.len().max(1));
    let decisions = (spec.horizon / every).ceil();
    let cost = decisions * (actions * thetas * plan) as f64 * lookahead.min(spec.horizon)
        + particles as f64 * spec.horizon;
    let max = crate::support::limits::MAX_MPC_PARTICLE_DAYS;
    if cost > max {
        c.fail(
            p,
            format!(
                "this rule would simulate up to {cost:.2e} particle-days for each patient \
                 ({decisions} decisions × {actions} actions × {thetas} continuations × \
                 {plan} plan_particles × lookahead {lookahead}), more than the limit of \
                 {max:e}: re-plan less often (every), shorten the lookahead or use fewer \
                 plan_particles"
            ),
        );
    }
}

/// Containment: a target and a maximum dose above the starting one.
fn check_containment(c: &mut Checker, p: &str, x: &ContainmentSpec) {
    c.positive(&format!("{p}.target"), x.target, "target");
    match x.max_dose {
        Some(m) => {
            if c.positive(&format!("{p}.max_dose"), m, "max_dose") && x.dose.is_some_and(|d| d > m)
            {
                c.fail(
                    format!("{p}.dose"),
                    "the starting dose must be at most max_dose",
                );
            }
        }
        None => c.fail(
            format!("{p}.max_dose"),
            "give max_dose (Cmax), or a max_dose or standard_dose on the drug",
        ),
    }
    use super::spec::ContainmentControl as C;
    let control = x.control.unwrap_or(C::Pi);
    for (field, value, used) in [
        ("gain", x.gain, control == C::Integral),
        ("proportional", x.proportional, control == C::Pi),
        ("integral", x.integral, control == C::Pi),
    ] {
        let Some(v) = value else { continue };
        if used {
            c.non_negative(&format!("{p}.{field}"), v, field);
        } else {
            let name = match control {
                C::Pi => "pi",
                C::Hold => "hold",
                C::Integral => "integral",
            };
            c.fail(
                format!("{p}.{field}"),
                format!(
                    "`{field}` is not a setting of `control: {name}` (gain: integral; \
                     proportional and integral: pi; hold takes no gains)"
                ),
            );
        }
    }
}

/// Dosing records: in time order, within the dose limit, each field in range.
fn check_events(c: &mut Checker, p: &str, x: &EventsSpec, spec: &ScenarioSpec) {
    if x.file.is_some() {
        // Read in by the loader before validation; reaching here means it was not.
        c.fail(format!("{p}.file"), "the records file was not read");
    }
    if x.records.is_empty() {
        c.fail(
            format!("{p}.records"),
            "give at least one dosing record (or a file of them)",
        );
    }
    if x.dose.is_some() {
        c.fail(
            format!("{p}.dose"),
            "events take their amounts from each record's amt; remove dose",
        );
    }
    let mut last = f64::NEG_INFINITY;
    // Doses after expanding addl, counted up to the limit.
    let mut doses = 0.0;
    for (i, r) in x.records.iter().enumerate() {
        let q = format!("{p}.records[{i}]");
        let before = doses;
        doses += 1.0 + r.addl.unwrap_or(0) as f64;
        if doses > MAX_DOSES && before <= MAX_DOSES {
            c.fail(
                format!("{q}.addl"),
                format!(
                    "the records up to here expand to {doses:.0} doses (addl repeats \
                     included), more than the limit of {MAX_DOSES:e} doses a run"
                ),
            );
        }
        if c.non_negative(&format!("{q}.time"), r.time, "time") {
            if r.time < last {
                c.fail(
                    format!("{q}.time"),
                    format!(
                        "records must be in time order: {} comes after {last}",
                        r.time
                    ),
                );
            }
            last = last.max(r.time);
        }
        check_event_record(c, &q, r, spec.drugs.len());
    }
}

/// One dosing record's own fields (`q` is its path).
fn check_event_record(c: &mut Checker, q: &str, r: &EventRecord, drugs: usize) {
    c.non_negative(&format!("{q}.amt"), r.amt, "amt");
    if let Some(cmt) = r.cmt
        && (cmt == 0 || cmt as usize > drugs)
    {
        c.fail(
            format!("{q}.cmt"),
            format!("cmt is the 1-based index of a drug: 1 to {drugs}"),
        );
    }
    if let Some(ii) = r.ii {
        c.positive(&format!("{q}.ii"), ii, "ii");
    }
    if r.addl.is_some_and(|a| a > 0) && r.ii.is_none() {
        c.fail(
            format!("{q}.addl"),
            "addl repeats a dose every ii: give ii too",
        );
    }
    if let Some(rate) = r.rate {
        c.positive(&format!("{q}.rate"), rate, "rate");
    }
    if let Some(dur) = r.dur {
        c.positive(&format!("{q}.dur"), dur, "dur");
    }
    if r.rate.is_some() && r.dur.is_some() {
        c.fail(q, "give rate or dur, not both");
    }
}

/// A dose per period: doses within max_dose, one on-time per period within it.
fn check_piecewise(
    c: &mut Checker,
    p: &str,
    x: &PiecewiseSpec,
    s: &ScheduleSpec,
    spec: &ScenarioSpec,
) {
    c.positive(&format!("{p}.period"), x.period, "period");
    if x.doses.is_empty() {
        c.fail(format!("{p}.doses"), "list at least one dose");
    }
    let max = dosing_drug_max(spec, s);
    for (i, d) in x.doses.iter().enumerate() {
        let q = format!("{p}.doses[{i}]");
        if c.non_negative(&q, *d, "dose")
            && let Some(m) = max
            && *d > m
        {
            c.fail(q, format!("dose {d} exceeds the drug's max_dose {m}"));
        }
    }
    if let Some(on) = &x.on {
        if on.len() != x.doses.len() {
            c.fail(
                format!("{p}.on"),
                format!(
                    "give one on-time per period: {} doses but {} on-times",
                    x.doses.len(),
                    on.len()
                ),
            );
        }
        for (i, t) in on.iter().enumerate() {
            let q = format!("{p}.on[{i}]");
            if c.non_negative(&q, *t, "on-time") && *t > x.period {
                c.fail(
                    q,
                    format!("on-time {t} is longer than the period {}", x.period),
                );
            }
        }
    }
}

use crate::support::limits::{MAX_BUDGET_EVALS, MAX_ROLLOUTS as MAX_OPTIMISE_ROLLOUTS};

fn check_optimise(c: &mut Checker, spec: &ScenarioSpec, o: &OptimiseSpec) {
    let drug = match &o.drug {
        Some(name) => {
            if !c.known("optimise.drug", &spec.drugs, name, "drug") {
                return;
            }
            spec.drugs.get(name)
        }
        None => spec.drugs.0.first().map(|(_, d)| d),
    };
    let Some(drug) = drug else {
        c.fail(
            "optimise",
            "optimise needs a drug: the scenario defines none",
        );
        return;
    };
    if drug.standard_dose.is_none() {
        c.fail(
            if o.drug.is_some() {
                "optimise.drug"
            } else {
                "optimise"
            },
            "the searched drug needs a standard_dose (the dose of continuous dosing, which \
             dose limits are relative to)",
        );
    }
    if let Some(name) = &o.companion
        && c.known("optimise.companion", &spec.drugs, name, "drug")
        && o.drug
            .as_deref()
            .or(spec.drugs.0.first().map(|(n, _)| n.as_str()))
            == Some(name)
    {
        c.fail(
            "optimise.companion",
            format!("the companion must be another drug than the searched one (`{name}`)"),
        );
    }
    match o.objective {
        Some(ObjectiveSpec::PfsAt(t)) if !(t.is_finite() && t > 0.0 && t <= spec.horizon) => {
            c.fail(
                "optimise.objective.pfs_at",
                format!(
                    "pfs_at must be a time in (0, horizon = {}], got {t}",
                    spec.horizon
                ),
            );
        }
        Some(ObjectiveSpec::Cvar(a)) if !(a.is_finite() && a > 0.0 && a <= 1.0) => {
            c.fail(
                "optimise.objective.cvar",
                format!("cvar must be a fraction in (0, 1], got {a}"),
            );
        }
        _ => {}
    }
    for (field, v, max) in [
        ("rollouts", o.rollouts, MAX_OPTIMISE_ROLLOUTS),
        ("holdout", o.holdout, MAX_OPTIMISE_ROLLOUTS),
        ("budget_evals", o.budget_evals, MAX_BUDGET_EVALS),
    ] {
        if let Some(v) = v
            && !(1..=max).contains(&v)
        {
            c.fail(
                format!("optimise.{field}"),
                format!("{field} must be between 1 and {max}, got {v}"),
            );
        }
    }
    if let Some(families) = &o.families {
        if families.is_empty() {
            c.fail(
                "optimise.families",
                "list at least one of: intermittent, holiday, adaptive, modulation, lp",
            );
        }
        for (i, f) in families.iter().enumerate() {
            if families[..i].contains(f) {
                c.fail(
                    format!("optimise.families[{i}]"),
                    format!("family `{}` is listed twice", f.as_str()),
                );
            }
        }
    }
    if let Some(levels) = &o.pareto {
        if levels.is_empty() {
            c.fail(
                "optimise.pareto",
                "list at least one dose limit relative to continuous dosing (e.g. [0.25, 0.5, 1])",
            );
        }
        if levels.len() > 20 {
            c.fail("optimise.pareto", "list at most 20 dose limits");
        }
        for (i, l) in levels.iter().enumerate() {
            c.positive(&format!("optimise.pareto[{i}]"), *l, "relative dose limit");
        }
    }
    if let Some(k) = &o.constraints {
        check_constraints(c, k, drug);
    }
    if let Some(b) = &o.bounds {
        check_bounds(c, b, drug);
    }
    if let Some(lp) = &o.lp {
        check_lp(c, lp, spec.horizon);
        check_lp_drugs(c, spec, o, lp);
    }
    if let Some(r) = &o.robust {
        check_robust(c, spec, r);
    }
    if let Some(sens) = &o.sensitivity {
        for (path, &w) in sens.parameters.iter() {
            check_uncertain(
                c,
                spec,
                &format!("optimise.sensitivity.parameters.{path}"),
                path,
                w,
            );
        }
        if let Some(n) = sens.rollouts
            && !(1..=MAX_OPTIMISE_ROLLOUTS).contains(&n)
        {
            c.fail(
                "optimise.sensitivity.rollouts",
                format!("rollouts must be between 1 and {MAX_OPTIMISE_ROLLOUTS}, got {n}"),
            );
        }
    }
}

/// One uncertain parameter (`path`, relative half-width `w`), reported at `field`: a number
/// of this scenario, not zero, not drawn per patient, and a width in (0, 1).
fn check_uncertain(c: &mut Checker, spec: &ScenarioSpec, field: &str, path: &str, w: f64) {
    if !(w.is_finite() && w > 0.0 && w < 1.0) {
        c.fail(
            field,
            format!("the relative half-width must be in (0, 1) (0.3: ±30 %), got {w}"),
        );
    }
    match super::params::number_at(spec, path) {
        Err(m) => c.fail(field, m),
        Ok(0.0) => c.fail(
            field,
            "the scenario's value is 0, which a relative range leaves at 0",
        ),
        Ok(_) => {}
    }
    let drawn = super::patients::drawn_targets(spec);
    if let Ok(p) = super::paths::find(spec, path)
        && p.targets.iter().any(|t| drawn.contains(t))
    {
        c.fail(
            field,
            "this parameter is drawn per patient by virtual_patients, which overrides \
             its value; make its distribution uncertain instead (e.g. \
             virtual_patients.<key>.lognormal.median)",
        );
    }
}

/// Most uncertain parameters of a `corners` design (2^8 = 256 points).
pub const MAX_CORNER_PARAMETERS: usize = 8;
/// Most points of a `draws` design.
pub const MAX_ROBUST_DRAWS: u64 = 1000;

/// The optimise block's robust settings: a measure in range, uncertain parameters that are
/// numbers of this scenario not drawn per patient, and a design of a sensible size.
fn check_robust(c: &mut Checker, spec: &ScenarioSpec, r: &RobustSpec) {
    if let Some(RobustMeasureSpec::Quantile(q)) = r.measure
        && !(q.is_finite() && q > 0.0 && q < 1.0)
    {
        c.fail(
            "optimise.robust.measure.quantile",
            format!("the quantile must be a fraction in (0, 1), got {q}"),
        );
    }
    if r.uncertain.is_empty() && r.models.is_empty() {
        c.fail(
            "optimise.robust",
            "name at least one uncertain parameter (uncertain: {<path>: 0.3}) or another \
             model (models: [other.yaml])",
        );
    }
    for (path, &w) in r.uncertain.iter() {
        check_uncertain(
            c,
            spec,
            &format!("optimise.robust.uncertain.{path}"),
            path,
            w,
        );
    }
    let k = r.uncertain.len();
    match r.points {
        None | Some(RobustPointsSpec::Corners) if k > MAX_CORNER_PARAMETERS => c.fail(
            "optimise.robust.points",
            format!(
                "corners of {k} parameters are {} points; use at most \
                 {MAX_CORNER_PARAMETERS} parameters, or points: axes or {{draws: N}}",
                1u64 << k.min(63)
            ),
        ),
        Some(RobustPointsSpec::Draws(n)) if !(2..=MAX_ROBUST_DRAWS).contains(&n) => c.fail(
            "optimise.robust.points.draws",
            format!("draws must be between 2 and {MAX_ROBUST_DRAWS}, got {n}"),
        ),
        _ => {}
    }
    for (i, m) in r.models.iter().enumerate() {
        if m.trim().is_empty() {
            c.fail(
                format!("optimise.robust.models[{i}]"),
                "give the path of a scenario file",
            );
        }
    }
}

/// The optimise block's constraints.
fn check_constraints(c: &mut Checker, k: &ConstraintsSpec, drug: &DrugSpec) {
    if let Some(r) = k.max_relative_dose {
        c.positive(
            "optimise.constraints.max_relative_dose",
            r,
            "max_relative_dose",
        );
    }
    if let Some(cap) = k.marker_cap
        && c.positive("optimise.constraints.marker_cap", cap, "marker_cap")
        && cap < 1.0
    {
        c.fail(
            "optimise.constraints.marker_cap",
            format!(
                "marker_cap is a multiple of the marker at time 0 and must be ≥ 1 (the \
                 marker starts there), got {cap}"
            ),
        );
    }
    if let Some(v) = k.min_visit_interval {
        c.positive(
            "optimise.constraints.min_visit_interval",
            v,
            "min_visit_interval",
        );
    }
    if let Some(levels) = &k.dose_levels {
        if levels.is_empty() {
            c.fail("optimise.constraints.dose_levels", "list at least one dose");
        }
        for (i, d) in levels.iter().enumerate() {
            let q = format!("optimise.constraints.dose_levels[{i}]");
            if c.positive(&q, *d, "dose level")
                && let Some(m) = drug.max_dose
                && *d > m
            {
                c.fail(q, format!("dose {d} exceeds the drug's max_dose {m}"));
            }
        }
    }
}

/// The optimise block's search bounds: `[low, high]` within each parameter's range.
fn check_bounds(c: &mut Checker, b: &BoundsSpec, drug: &DrugSpec) {
    for (name, [lo, hi]) in b.given() {
        let q = format!("optimise.bounds.{name}");
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo <= hi) {
            c.fail(
                q,
                format!("give [low, high] with 0 ≤ low ≤ high, got [{lo}, {hi}]"),
            );
            continue;
        }
        let (min, max, what) = match name {
            "on" | "lead_in" | "holiday" | "every_visits" => (
                if name == "every_visits" { 1.0 } else { 0.0 },
                f64::INFINITY,
                "",
            ),
            "stop_below" => (0.0, 1.0, "a fraction of the marker at treatment start"),
            "step" => (0.0, 1.0, "a relative change per decision"),
            _ => (0.0, f64::INFINITY, ""),
        };
        if lo < min || hi > max || (name == "on" && hi <= 0.0) {
            c.fail(
                q,
                format!(
                    "{name} bounds must lie in [{min}, {max}]{}{what}, got [{lo}, {hi}]",
                    if what.is_empty() { "" } else { ": " }
                ),
            );
        }
    }
    if let (Some([lo, hi]), Some(m)) = (b.dose, drug.max_dose)
        && hi > m
    {
        c.fail(
            "optimise.bounds.dose",
            format!("dose bounds [{lo}, {hi}] exceed the drug's max_dose {m}"),
        );
    }
}

/// The optimise block's LP settings.
fn check_lp(c: &mut Checker, lp: &LpSpec, horizon: f64) {
    if let Some(p) = lp.period
        && c.positive("optimise.lp.period", p, "period")
        && horizon / p > 10_000.0
    {
        c.fail(
            "optimise.lp.period",
            format!(
                "a period of {p} splits the horizon {} into more than 10000 periods",
                horizon
            ),
        );
    }
    if let Some(t) = lp.trust_region {
        c.positive("optimise.lp.trust_region", t, "trust_region");
    }
    if lp.max_iterations == Some(0) {
        c.fail(
            "optimise.lp.max_iterations",
            "max_iterations must be at least 1",
        );
    }
}

/// The LP's further levels and drugs: positive levels within each drug's max_dose, known
/// drugs other than the searched one, listed once, with a positive budget.
fn check_lp_drugs(c: &mut Checker, spec: &ScenarioSpec, o: &OptimiseSpec, lp: &LpSpec) {
    let searched = o
        .drug
        .as_deref()
        .or(spec.drugs.0.first().map(|(n, _)| n.as_str()));
    let levels_ok = |c: &mut Checker, at: &str, levels: &[f64], drug: Option<&DrugSpec>| {
        if levels.is_empty() {
            c.fail(at, "give at least one dose level");
        }
        for (k, l) in levels.iter().enumerate() {
            let p = format!("{at}[{k}]");
            if c.positive(&p, *l, "a dose level")
                && let Some(m) = drug.and_then(|d| d.max_dose)
                && *l > m
            {
                c.fail(p, format!("the level {l} exceeds the drug's max_dose {m}"));
            }
        }
    };
    if let Some(levels) = &lp.levels {
        let drug = searched.and_then(|n| spec.drugs.get(n));
        levels_ok(c, "optimise.lp.levels", levels, drug);
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, w) in lp.with.iter().flatten().enumerate() {
        let at = format!("optimise.lp.with[{k}]");
        if !c.known(&format!("{at}.drug"), &spec.drugs, &w.drug, "drug") {
            continue;
        }
        if Some(w.drug.as_str()) == searched || seen.contains(&w.drug.as_str()) {
            c.fail(
                format!("{at}.drug"),
                format!(
                    "`{}` is the searched drug or already listed: each further drug once",
                    w.drug
                ),
            );
        }
        seen.push(&w.drug);
        if let Some(levels) = &w.levels {
            levels_ok(c, &format!("{at}.levels"), levels, spec.drugs.get(&w.drug));
        }
        if let Some(days) = w.max_days_on {
            c.positive(&format!("{at}.max_days_on"), days, "max_days_on");
        }
    }
}

/// The max_dose of the drug a schedule doses, if any.
fn dosing_drug_max(spec: &ScenarioSpec, s: &ScheduleSpec) -> Option<f64> {
    let mut copy = s.clone();
    let drug = copy.dosing_mut().drug.clone()?;
    spec.drugs.get(&drug).and_then(|d| d.max_dose)
}

/// The dosing interval of a resolved inline schedule.
fn schedule_interval(r: &ScheduleRef) -> Option<f64> {
    match r {
        ScheduleRef::Inline(s) => *s.clone().dosing_mut().interval,
        ScheduleRef::Named(_) => None,
    }
}
