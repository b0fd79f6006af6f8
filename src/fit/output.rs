//! A fit's tables and files: estimates per subject, predictions per measurement, the
//! forecast per subject, the population summary and the population scenario.

use super::population::Population;
use super::{Settings, SubjectFit};
use crate::error::Result;
use crate::report::frame::{Cell, Frame};
use crate::scenario::Scenario;
use serde_json::{Value, json};

/// estimates.csv: one row per subject; per parameter its estimate, SE, 95 % profile
/// interval (empty where the data do not bound it) and whether it is identifiable; then
/// the data's extra columns (covariates).
pub fn estimates(fits: &[SubjectFit]) -> Frame {
    let params: Vec<String> = fits
        .first()
        .map(|f| f.parameters.iter().map(|p| p.path.clone()).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = ["id", "n_obs", "n_blq", "neg2ll", "aic", "bic", "r2"]
        .map(str::to_owned)
        .to_vec();
    let mut flags = Vec::new();
    for p in &params {
        names.extend([
            p.clone(),
            format!("{p}.se"),
            format!("{p}.ci_lower"),
            format!("{p}.ci_upper"),
            format!("{p}.identifiable"),
            format!("{p}.at_bound"),
        ]);
        flags.push(format!("{p}.identifiable"));
        flags.push(format!("{p}.at_bound"));
    }
    // The data's extra columns, carried along as text (a regression on them is the user's).
    let covariates: Vec<String> = fits
        .first()
        .map(|f| f.covariates.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mut text = vec!["id".to_owned()];
    for c in &covariates {
        let name = if names.contains(c) {
            format!("covariate.{c}")
        } else {
            c.clone()
        };
        names.push(name.clone());
        text.push(name);
    }
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let text_refs: Vec<&str> = text.iter().map(String::as_str).collect();
    let mut frame = Frame::with_flags(names, &text_refs, &flag_refs);
    for f in fits {
        let mut row: Vec<Cell> = vec![
            f.id.as_str().into(),
            (f.n_fitted as u64).into(),
            (f.n_censored as u64).into(),
            f.neg2ll.into(),
            f.aic.into(),
            f.bic.into(),
            Some(f.r2).filter(|x| x.is_finite()).into(),
        ];
        for p in &f.parameters {
            row.extend([
                p.value.into(),
                Some(p.se).filter(|x| x.is_finite()).into(),
                p.ci.0.into(),
                p.ci.1.into(),
                p.identifiable.into(),
                p.at_bound.into(),
            ]);
        }
        for c in &covariates {
            let value = f
                .covariates
                .iter()
                .find(|(n, _)| n == c)
                .map_or("", |(_, v)| v);
            row.push(Cell::Text(value.to_owned()));
        }
        frame.push(row);
    }
    frame
}

/// predictions.csv: every measurement with the fitted model's value and the residual.
pub fn predictions(fits: &[SubjectFit]) -> Frame {
    let names = [
        "id",
        "time",
        "observed",
        "blq",
        "predicted",
        "residual",
        "log_residual",
        "fitted",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut frame = Frame::with_flags(names, &["id"], &["blq", "fitted"]);
    for f in fits {
        for p in &f.predictions {
            let m = p.measurement;
            let log_residual = (m.value > 0.0 && p.predicted > 0.0 && !m.censored)
                .then(|| (m.value / p.predicted).ln());
            frame.push(vec![
                f.id.as_str().into(),
                m.time.into(),
                m.value.into(),
                m.censored.into(),
                p.predicted.into(),
                (!m.censored).then_some(m.value - p.predicted).into(),
                log_residual.into(),
                p.fitted.into(),
            ]);
        }
    }
    frame
}

/// curves.csv: each subject's fitted marker on a fine grid (for plots).
pub fn curves(fits: &[SubjectFit]) -> Frame {
    let mut frame = Frame::new(
        vec!["id".into(), "time".into(), "predicted".into()],
        &["id"],
    );
    for f in fits {
        for (t, v) in &f.curve {
            frame.push(vec![f.id.as_str().into(), (*t).into(), (*v).into()]);
        }
    }
    frame
}

/// dosing.csv: each subject's doses as given in the data (drug index from 1, start, end,
/// amount).
pub fn dosing(fits: &[SubjectFit]) -> Frame {
    let names = ["id", "cmt", "start", "end", "amount"]
        .map(str::to_owned)
        .to_vec();
    let mut frame = Frame::new(names, &["id"]);
    for f in fits {
        for (drug, start, end, amount) in &f.dosing {
            frame.push(vec![
                f.id.as_str().into(),
                (*drug as u64 + 1).into(),
                (*start).into(),
                (*end).into(),
                (*amount).into(),
            ]);
        }
    }
    frame
}

/// vpc.csv: per time bin, the observed and simulated 5th, 50th and 95th percentiles.
pub fn vpc(bins: &[super::vpc::VpcBin]) -> Frame {
    let names = [
        "time",
        "observed_n",
        "observed_p5",
        "observed_p50",
        "observed_p95",
        "simulated_p5",
        "simulated_p50",
        "simulated_p95",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut frame = Frame::new(names, &[]);
    for b in bins {
        let mut row: Vec<Cell> = vec![b.time.into(), (b.observed_n as u64).into()];
        row.extend(
            b.observed
                .iter()
                .chain(&b.simulated)
                .map(|v| Cell::from(*v)),
        );
        frame.push(row);
    }
    frame
}

/// forecast.csv: per subject with data held back, the forecast error and the observed and
/// predicted progression.
pub fn forecasts(fits: &[SubjectFit]) -> Frame {
    let names = [
        "id",
        "held_back",
        "rmse_log",
        "median_relative_error",
        "observed_progression",
        "predicted_progression",
        "progressed_while_fitted",
        "progression_agrees",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut frame = Frame::with_flags(
        names,
        &["id"],
        &["progressed_while_fitted", "progression_agrees"],
    );
    for f in fits {
        let Some(fc) = &f.forecast else { continue };
        frame.push(vec![
            f.id.as_str().into(),
            (fc.held_back as u64).into(),
            Some(fc.rmse_log).filter(|x| x.is_finite()).into(),
            Some(fc.median_relative_error)
                .filter(|x| x.is_finite())
                .into(),
            fc.observed_progression.into(),
            fc.predicted_progression.into(),
            fc.progressed_while_fitted.into(),
            fc.progression_agrees().into(),
        ]);
    }
    frame
}

/// population.csv: per free parameter the log-normal's median, ω (SD of the log), CV and
/// the subjects it rests on, then its correlations with the others.
pub fn population(pop: &Population) -> Frame {
    let mut names: Vec<String> = ["parameter", "median", "omega", "cv", "subjects"]
        .map(str::to_owned)
        .to_vec();
    names.extend(pop.parameters.iter().map(|p| format!("corr.{}", p.path)));
    let mut frame = Frame::new(names, &["parameter"]);
    let n = pop.parameters.len();
    for (a, p) in pop.parameters.iter().enumerate() {
        let mut row: Vec<Cell> = vec![
            p.path.as_str().into(),
            Some(p.median).filter(|x| x.is_finite()).into(),
            p.omega.into(),
            p.cv.into(),
            (p.subjects as u64).into(),
        ];
        row.extend(
            (0..n).map(|b| Cell::from(Some(pop.correlation[a * n + b]).filter(|x| x.is_finite()))),
        );
        frame.push(row);
    }
    frame
}

/// A correlation strong enough to draw, the subjects it must rest on, and the Fisher z it
/// must reach (|atanh r|·√(n − 3) ≥ 2.576: two-sided p < 0.01 that it is not zero).
const STRONG: f64 = 0.3;
const SUPPORTED: usize = 10;
const FISHER_Z: f64 = 2.576;

/// The correlations the population scenario draws: between parameters it draws, strong and
/// resting on enough subjects, and only if together they make a valid correlation matrix.
fn drawn_correlations(pop: &Population, patients: &serde_json::Map<String, Value>) -> Vec<Value> {
    let n = pop.parameters.len();
    let keys: Vec<usize> = (0..n)
        .filter(|&a| patients.contains_key(&pop.parameters[a].path))
        .collect();
    let mut out = Vec::new();
    let m = keys.len();
    let mut matrix = vec![0.0; m * m];
    for (i, &a) in keys.iter().enumerate() {
        matrix[i * m + i] = 1.0;
        for (j, &b) in keys.iter().enumerate().take(i) {
            let r = pop.correlation[a * n + b];
            let pairs = pop.pairs[a * n + b];
            let z = r.atanh().abs() * (pairs as f64 - 3.0).max(0.0).sqrt();
            if r.is_finite() && r.abs() >= STRONG && pairs >= SUPPORTED && z >= FISHER_Z {
                let r = r.clamp(-0.99, 0.99);
                matrix[i * m + j] = r;
                matrix[j * m + i] = r;
                out.push(json!({
                    "between": [pop.parameters[a].path, pop.parameters[b].path],
                    "r": r,
                }));
            }
        }
    }
    // The patients' order in the file is the parameters' order: the same matrix.
    if crate::model::patients::cholesky(m, &matrix).is_none() {
        return Vec::new();
    }
    out
}

/// The population scenario: the base scenario with each free parameter drawn per virtual
/// patient from its fitted log-normal (typical value = the population median), strong
/// correlations between them drawn too, the measurement noise of a log-additive error
/// model, and no `fit:` block.
pub fn population_scenario(
    base: &Scenario,
    settings: &Settings,
    pop: &Population,
    residual_sigma: Option<f64>,
    header: &str,
) -> Result<String> {
    let mut patients = serde_json::Map::new();
    let mut typical = Vec::new();
    for (free, p) in settings.free.iter().zip(&pop.parameters) {
        if p.subjects < 2 || !p.median.is_finite() {
            continue;
        }
        let median = p.median.clamp(free.lower, free.upper);
        typical.push((free, median));
        if p.cv > 0.0 {
            patients.insert(
                free.path.clone(),
                json!({ "lognormal": { "median": median, "cv": p.cv.min(10.0) } }),
            );
        }
    }
    let mut header = header.to_owned();
    let n = pop.parameters.len();
    let drawn = drawn_correlations(pop, &patients);
    if n > 1 {
        header.push_str(&format!(
            "\nCorrelations of the log estimates between subjects; those with |r| ≥ {STRONG} \
             over at least\n{SUPPORTED} subjects and p < 0.01 are drawn \
             (virtual_patient_correlations), the others not:"
        ));
        for (a, p) in pop.parameters.iter().enumerate() {
            let row: Vec<String> = (0..n)
                .map(|b| format!("{:>6}", format!("{:.2}", pop.correlation[a * n + b])))
                .collect();
            header.push_str(&format!("\n  {} {}", row.join(" "), p.path));
        }
    }
    super::subject::derived_text(base, &typical, &header, |map| {
        map.insert("virtual_patients".to_owned(), Value::Object(patients));
        map.remove("virtual_patient_correlations");
        if !drawn.is_empty() {
            map.insert(
                "virtual_patient_correlations".to_owned(),
                Value::Array(drawn),
            );
        }
        if let Some(sigma) = residual_sigma
            && let Some(obs) = map.get_mut("observation")
        {
            obs["noise_cv"] = json!((sigma * sigma).exp_m1().sqrt());
        }
        Ok(())
    })
}

/// targets.csv of a calibration: per published statistic, its value and uncertainty, the
/// calibrated model's value with its Monte Carlo error, and the z between them.
pub fn calibration_targets(c: &super::trial::Calibration) -> Frame {
    let names = [
        "statistic",
        "time",
        "published",
        "ci_lower",
        "ci_upper",
        "se",
        "held_out",
        "model",
        "model_mc_se",
        "z",
        "source",
    ];
    let mut frame = Frame::new(
        names.iter().map(|s| (*s).to_owned()).collect(),
        &["statistic", "source"],
    );
    for t in &c.targets {
        let s = &t.statistic;
        let time = match s.kind {
            super::trial::Kind::PfsAt(t) => Some(t),
            _ => None,
        };
        frame.push(vec![
            Cell::from(s.kind.key()),
            Cell::from(time),
            Cell::from(s.value),
            Cell::from(s.ci.map(|c| c[0])),
            Cell::from(s.ci.map(|c| c[1])),
            Cell::from(s.se),
            Cell::from(s.held_out),
            Cell::from(t.model),
            Cell::from(t.mc_se),
            Cell::from(t.z),
            Cell::from(s.source.as_deref().unwrap_or("")),
        ]);
    }
    frame
}

/// parameters.csv of a calibration: per free number, its start, estimate, approximate 95 %
/// interval, standard error on the search scale, and whether the targets pin it down.
pub fn calibration_parameters(c: &super::trial::Calibration) -> Frame {
    let names = [
        "path",
        "scale",
        "start",
        "estimate",
        "ci_lower",
        "ci_upper",
        "se_search_scale",
        "lower_bound",
        "upper_bound",
        "identified",
    ];
    let mut frame = Frame::new(
        names.iter().map(|s| (*s).to_owned()).collect(),
        &["path", "scale"],
    );
    for p in &c.parameters {
        frame.push(vec![
            Cell::from(p.free.path.as_str()),
            Cell::from(if p.free.log { "log" } else { "linear" }),
            Cell::from(p.free.value),
            Cell::from(p.estimate),
            Cell::from(p.lower),
            Cell::from(p.upper),
            Cell::from(p.sd),
            Cell::from(p.free.lower),
            Cell::from(p.free.upper),
            Cell::from(p.identified),
        ]);
    }
    frame
}

/// pfs.csv of a calibration: the calibrated arm's PFS curve (the simulated patients'
/// Kaplan–Meier steps joined by lines).
pub fn calibration_curve(c: &super::trial::Calibration) -> Frame {
    let mut frame = Frame::new(vec!["time".to_owned(), "pfs".to_owned()], &[]);
    for (t, s) in &c.curve.knots {
        frame.push(vec![Cell::from(*t), Cell::from(*s)]);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::population::PopulationParameter;

    fn population(r: f64, pairs: usize) -> Population {
        let p = |path: &str| PopulationParameter {
            path: path.to_owned(),
            median: 1.0,
            omega: 0.5,
            cv: 0.53,
            subjects: pairs,
        };
        Population {
            parameters: vec![p("a"), p("b")],
            correlation: vec![1.0, r, r, 1.0],
            pairs: vec![pairs; 4],
        }
    }

    #[test]
    fn only_strong_well_supported_correlations_are_drawn() {
        let mut patients = serde_json::Map::new();
        patients.insert("a".into(), json!({}));
        patients.insert("b".into(), json!({}));
        // r = −0.7 over 40 subjects: Fisher z = 0.87 × √37 = 5.3.
        assert_eq!(
            drawn_correlations(&population(-0.7, 40), &patients).len(),
            1
        );
        // r = 0.35 over 40: z = 0.37 × √37 = 2.2 < 2.576, not drawn; so too r = 0.9 over 8.
        assert!(drawn_correlations(&population(0.35, 40), &patients).is_empty());
        assert!(drawn_correlations(&population(0.9, 8), &patients).is_empty());
        // A parameter the population does not draw cannot be correlated.
        patients.remove("b");
        assert!(drawn_correlations(&population(-0.7, 40), &patients).is_empty());
    }
}
