//! A fit's tables and files: estimates per subject, predictions per measurement, the
//! forecast per subject, the population summary and the population scenario.

use super::population::Population;
use super::{Settings, SubjectFit};
use crate::error::Result;
use crate::report::frame::{Cell, Frame};
use crate::scenario::Scenario;
use serde_json::{Value, json};

/// estimates.csv: one row per subject; per parameter its estimate, SE, 95 % profile
/// interval (empty where the data do not bound it) and whether it is identifiable.
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
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut frame = Frame::with_flags(names, &["id"], &flag_refs);
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

/// The population scenario: the base scenario with each free parameter drawn per virtual
/// patient from its fitted log-normal (typical value = the population median), the
/// measurement noise of a log-additive error model, and no `fit:` block.
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
    if n > 1 {
        header.push_str(
            "\nCorrelations of the log estimates between subjects (not drawn: virtual\n\
             patients draw each parameter independently):",
        );
        for (a, p) in pop.parameters.iter().enumerate() {
            let row: Vec<String> = (0..n)
                .map(|b| format!("{:>6}", format!("{:.2}", pop.correlation[a * n + b])))
                .collect();
            header.push_str(&format!("\n  {} {}", row.join(" "), p.path));
        }
    }
    super::subject::derived_text(base, &typical, &header, |map| {
        map.insert("virtual_patients".to_owned(), Value::Object(patients));
        if let Some(sigma) = residual_sigma
            && let Some(obs) = map.get_mut("observation")
        {
            obs["noise_cv"] = json!((sigma * sigma).exp_m1().sqrt());
        }
        Ok(())
    })
}
