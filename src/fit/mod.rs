//! Calibration from data (docs/fitting.md): each subject's measurements fitted by maximum
//! likelihood (or MAP) on the deterministic model under the subject's own doses, with
//! standard errors from the observed information, profile-likelihood intervals, a forecast
//! of data held back, and a two-stage population from the subjects' estimates.

pub mod estimate;
pub mod forecast;
pub mod likelihood;
pub mod output;
pub mod population;
pub mod profile;
pub mod settings;
pub mod subject;
pub mod trial;
pub mod vpc;

use crate::error::{Error, Result};
use crate::protocol::dataset::{Dataset, Measurement, Subject};
use crate::scenario::Scenario;
use estimate::{Boxed, inverse_spd, minimise};
use likelihood::Objective;
use profile::End;
use rayon::prelude::*;
pub use settings::{ErrorModel, Free, Settings};
use std::path::Path;

/// One parameter's estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterEstimate {
    /// Its path (or `error.a`, `error.b`, `error.sigma`).
    pub path: String,
    /// The estimate.
    pub value: f64,
    /// Standard error from the observed information (NaN where the curvature is not
    /// positive definite).
    pub se: f64,
    /// 95 % profile-likelihood interval; `None` on a side the data do not bound (or without
    /// profiles).
    pub ci: (Option<f64>, Option<f64>),
    /// Both ends of the profile interval were reached (without profiles: a finite standard
    /// error below the value).
    pub identifiable: bool,
    /// The estimate sits on a bound of the search.
    pub at_bound: bool,
}

/// One measurement with the fitted model's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The measurement.
    pub measurement: Measurement,
    /// The model's marker at its time.
    pub predicted: f64,
    /// It was fitted (false: held back for the forecast).
    pub fitted: bool,
}

/// Everything a subject's fit found.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectFit {
    /// The subject's ID.
    pub id: String,
    /// The free parameters, then the error model's.
    pub parameters: Vec<ParameterEstimate>,
    /// −2 ln likelihood at the estimate (with priors: of the posterior, up to a constant).
    pub neg2ll: f64,
    /// −2 ln L + 2k.
    pub aic: f64,
    /// −2 ln L + k ln n.
    pub bic: f64,
    /// 1 − SS(residual) / SS(about the mean) over the fitted, quantified measurements.
    pub r2: f64,
    /// Measurements fitted.
    pub n_fitted: usize,
    /// Of which below the limit of quantification.
    pub n_censored: usize,
    /// Every measurement with its prediction.
    pub predictions: Vec<Prediction>,
    /// The forecast of the measurements held back, if any were.
    pub forecast: Option<forecast::Forecast>,
    /// The fitted model's marker on a fine grid from 0 to the last measurement (for plots).
    pub curve: Vec<(f64, f64)>,
    /// The subject's dosing as (drug, start, end, amount) levels or doses.
    pub dosing: Vec<(usize, f64, f64, f64)>,
    /// The data's extra columns on the subject's first row (covariates, carried along).
    pub covariates: Vec<(String, String)>,
    /// Model runs the fit took.
    pub evaluations: u64,
    /// The subject's scenario with the estimates (the text of `subjects/<ID>.yaml`).
    pub scenario: String,
}

/// Points of the fitted curve written for plots.
const CURVE_POINTS: usize = 400;

/// The measurements a fit uses: all, or those up to `until`; values on or below the
/// scenario's detection limit count as censored at it.
pub fn fitted_measurements(
    subject: &Subject,
    until: Option<f64>,
    detection_limit: f64,
) -> Vec<Measurement> {
    subject
        .measurements
        .iter()
        .filter(|m| until.is_none_or(|u| m.time <= u))
        .map(|m| {
            let mut m = *m;
            if detection_limit > 0.0 && m.value < detection_limit {
                m = Measurement {
                    value: detection_limit,
                    censored: true,
                    ..m
                };
            }
            m
        })
        .collect()
}

/// When the subject's cycle `k + 1` starts (0-based `k` cycles before it), if it does: a
/// cycle starts with a dose that follows a break in dosing. Fitting "the first K cycles"
/// fits the measurements before that dose (strictly before: its own baseline measurement
/// is forecast).
pub fn cycle_start(subject: &Subject, k: usize) -> Option<f64> {
    let mut starts = Vec::new();
    let mut end = f64::NEG_INFINITY;
    for d in &subject.doses {
        let r = &d.record;
        let ii = r.ii.unwrap_or(0.0);
        let length = ii * f64::from(r.addl.unwrap_or(0) + 1);
        let one = if ii > 0.0 { ii } else { 1.0 };
        if starts.is_empty() || r.time > end + 1e-9 * end.abs().max(1.0) {
            starts.push(r.time);
        }
        end = end.max(r.time + length.max(one));
    }
    // Just before the start: its measurement on the same day is the forecast's first.
    starts.get(k).map(|t| t - 1e-6 * t.abs().max(1.0))
}

/// Checks what the likelihood cannot take: a quantified zero on the log scale, a censored
/// value with no limit.
fn check_measurements(data_file: &Path, error: ErrorModel, ms: &[Measurement]) -> Result<()> {
    let problems: Vec<_> = ms
        .iter()
        .filter_map(|m| {
            let message = if m.censored && m.value <= 0.0 {
                "a value below the limit of quantification needs the limit as its DV (or set \
                 observation.detection_limit in the scenario)"
            } else if !m.censored && m.value <= 0.0 && error == ErrorModel::LogAdditive {
                "DV 0 has no logarithm: flag it BLQ (below the limit of quantification) or use \
                 an additive, proportional or combined error model"
            } else {
                return None;
            };
            Some(crate::error::Diagnostic {
                file: data_file.to_path_buf(),
                line: Some(m.line),
                column: None,
                field: "DV".to_owned(),
                message: message.to_owned(),
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Fits one subject.
pub fn fit_subject(
    base: &Scenario,
    settings: &Settings,
    data_file: &Path,
    subject: &Subject,
) -> Result<SubjectFit> {
    subject::check_doses(base, data_file, subject)?;
    let limit = base.marker.detection_limit;
    let until = settings.until.or_else(|| {
        settings
            .cycles
            .and_then(|k| cycle_start(subject, k as usize))
    });
    let fitted = fitted_measurements(subject, until, limit);
    let everything = fitted_measurements(subject, None, limit);
    check_measurements(data_file, settings.error, &everything)?;
    if fitted.is_empty() {
        return Err(Error::Usage(format!(
            "subject {} has no measurements up to {} (fit.until or fit.cycles): nothing to fit",
            subject.id,
            until.unwrap_or(0.0)
        )));
    }
    let start_values: Vec<(&Free, f64)> = settings.free.iter().map(|f| (f, f.value)).collect();
    let own = subject::scenario(base, subject, &start_values, &base.source)?;
    let objective = Objective::new(&own, 0, &fitted, &settings.free, settings.error);
    let coarse_f = |x: &[f64]| {
        objective.set_coarse(true);
        objective.value(x)
    };
    let f = |x: &[f64]| {
        objective.set_coarse(false);
        objective.value(x)
    };
    let coarse = Boxed {
        f: &coarse_f,
        bounds: objective.bounds(),
    };
    let problem = Boxed {
        f: &f,
        bounds: objective.bounds(),
    };
    let (best, min, hessian) = minimise(&coarse, &problem, &objective.start(), settings.starts);
    let searched = objective.evaluations.get();
    if !min.is_finite() {
        return Err(Error::Usage(format!(
            "subject {}: the model could not be run anywhere the search looked; check the \
             free parameters' bounds",
            subject.id
        )));
    }
    let names = parameter_names(settings);
    let parameters = estimates(&problem, (&best, min, &hessian), settings, &names);
    tracing::debug!(
        "subject {}: {searched} model runs to the estimate, {} for the profiles",
        subject.id,
        objective.evaluations.get() - searched
    );
    let values: Vec<f64> = parameters[..settings.free.len()]
        .iter()
        .map(|p| p.value)
        .collect();
    let all = Objective::new(&own, 0, &everything, &settings.free, settings.error);
    let predicted = all.predict(&values)?;
    let predictions: Vec<Prediction> = everything
        .iter()
        .zip(&predicted)
        .map(|(m, p)| Prediction {
            measurement: *m,
            predicted: *p,
            fitted: until.is_none_or(|u| m.time <= u),
        })
        .collect();
    let last = everything.last().map_or(0.0, |m| m.time);
    let curve = fitted_curve(&own, settings, &values, last)?;
    let dosing = dosing_of(&own);
    let k = names.len() as f64;
    let n = fitted.len() as f64;
    let estimates: Vec<(&Free, f64)> = settings.free.iter().zip(values.iter().copied()).collect();
    let header = subject_header(&subject.id, data_file, settings, &estimates);
    let scenario = subject::scenario_text(base, subject, &estimates, &header)?;
    Ok(SubjectFit {
        id: subject.id.clone(),
        forecast: forecast::forecast(&own, &predictions),
        curve,
        dosing,
        covariates: subject.covariates.clone(),
        r2: r_squared(&predictions),
        n_fitted: fitted.len(),
        n_censored: fitted.iter().filter(|m| m.censored).count(),
        parameters,
        neg2ll: min,
        aic: min + 2.0 * k,
        bic: min + k * n.ln(),
        predictions,
        evaluations: objective.evaluations.get() + all.evaluations.get(),
        scenario,
    })
}

/// The names of a fit's parameters: the free ones by path, then the error model's.
fn parameter_names(settings: &Settings) -> Vec<String> {
    settings
        .free
        .iter()
        .map(|f| f.path.clone())
        .chain(settings.error.parameters().iter().map(|s| (*s).to_owned()))
        .collect()
}

/// Each parameter at the minimum `best` (value `min`, Hessian `hessian`): its value, its
/// standard error from the observed information, its profile interval and flags.
fn estimates(
    problem: &Boxed,
    (best, min, hessian): (&[f64], f64, &[Vec<f64>]),
    settings: &Settings,
    names: &[String],
) -> Vec<ParameterEstimate> {
    // −2 ln L: the observed information is half its Hessian.
    let covariance = inverse_spd(hessian).map(|inv| {
        inv.iter()
            .map(|row| row.iter().map(|v| 2.0 * v).collect::<Vec<f64>>())
            .collect::<Vec<_>>()
    });
    let mut parameters = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let log = settings.free.get(j).is_none_or(|f| f.log);
        let natural = |x: f64| if log { x.exp() } else { x };
        let se_search = covariance
            .as_ref()
            .map_or(f64::NAN, |c| c[j][j].max(0.0).sqrt());
        let value = natural(best[j]);
        let se = if log { value * se_search } else { se_search };
        let (lo, hi) = problem.bounds[j];
        let at_bound =
            (best[j] - lo).abs() < 1e-6 * (hi - lo) || (hi - best[j]).abs() < 1e-6 * (hi - lo);
        let (ci, identifiable) = if settings.profiles {
            let p = profile::profile(problem, best, min, j, se_search);
            let end = |e: End| match e {
                End::At(x) => Some(natural(x)),
                End::NotReached => None,
            };
            let ci = (end(p.lower), end(p.upper));
            (ci, ci.0.is_some() && ci.1.is_some())
        } else {
            ((None, None), se.is_finite() && se < value.abs())
        };
        parameters.push(ParameterEstimate {
            path: name.clone(),
            value,
            se,
            ci,
            identifiable,
            at_bound,
        });
    }
    parameters
}

/// The fitted marker of `own`'s first arm at `values` on a fine grid from 0 to `last`.
fn fitted_curve(
    own: &Scenario,
    settings: &Settings,
    values: &[f64],
    last: f64,
) -> Result<Vec<(f64, f64)>> {
    let grid: Vec<f64> = (0..=CURVE_POINTS)
        .map(|i| last * i as f64 / CURVE_POINTS as f64)
        .collect();
    let curve_values = likelihood::predict_at(
        &std::cell::RefCell::new(own.clone()),
        (&settings.free, values),
        0,
        &grid,
        likelihood::FIT_TOLERANCE,
    )?;
    Ok(grid.into_iter().zip(curve_values).collect())
}

/// The doses of `own`'s first arm (the subject's own) as (drug, start, end, amount).
fn dosing_of(own: &Scenario) -> Vec<(usize, f64, f64, f64)> {
    match &own.arms[0].schedule {
        crate::protocol::schedule::Schedule::Events { doses } => doses
            .iter()
            .filter(|(_, d)| d.amount > 0.0)
            .map(|(t, d)| (d.drug, *t, t + d.duration, d.amount))
            .collect(),
        _ => Vec::new(),
    }
}

/// The comment heading a subject's scenario file: where it comes from and its estimates.
fn subject_header(
    id: &str,
    data_file: &Path,
    settings: &Settings,
    estimates: &[(&Free, f64)],
) -> String {
    format!(
        "Subject {id} of {}, fitted by `regimen fit` (maximum {}likelihood, {} error).\n\
         Free parameters: {}.\n\
         The first arm gives the doses the subject received; the others are the scenario's.",
        data_file.display(),
        if settings.free.iter().any(|f| f.prior.is_some()) {
            "a posteriori "
        } else {
            ""
        },
        settings.error.name(),
        estimates
            .iter()
            .map(|(f, v)| format!("{} = {}", f.path, crate::support::format::Num(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// R² over the fitted, quantified measurements.
fn r_squared(predictions: &[Prediction]) -> f64 {
    let used: Vec<&Prediction> = predictions
        .iter()
        .filter(|p| p.fitted && !p.measurement.censored)
        .collect();
    if used.len() < 2 {
        return f64::NAN;
    }
    let mean = used.iter().map(|p| p.measurement.value).sum::<f64>() / used.len() as f64;
    let total: f64 = used
        .iter()
        .map(|p| (p.measurement.value - mean).powi(2))
        .sum();
    let residual: f64 = used
        .iter()
        .map(|p| (p.measurement.value - p.predicted).powi(2))
        .sum();
    1.0 - residual / total
}

/// Fits every subject of `data`, in parallel; the results are in the data's order and the
/// same for any number of threads (each subject's fit is sequential and deterministic).
pub fn fit_all(
    base: &Scenario,
    settings: &Settings,
    data: &Dataset,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<SubjectFit>> {
    data.subjects
        .par_iter()
        .map(|s| {
            if crate::support::stop::requested() {
                return Err(Error::Interrupted(format!(
                    "fit stopped before subject {}",
                    s.id
                )));
            }
            let fit = fit_subject(base, settings, &data.file, s);
            done();
            fit
        })
        .collect()
}
