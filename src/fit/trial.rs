//! Population calibration to published trial summaries (`regimen fit --targets`,
//! docs/fitting.md §12).
//!
//! A trial publishes a handful of numbers about an arm — median PFS with its interval, PFS at
//! landmark times, the response rate, the duration of response, a Kaplan–Meier curve — not
//! patients' series. The scenario's free parameters (rates, drug effects, and the location and
//! spread of its `virtual_patients` laws) are chosen so that a simulated trial of the same arm
//! shows the same numbers: the method of simulated moments, with each statistic weighted by
//! its published uncertainty. Every evaluation simulates the same virtual patients (common
//! random numbers, so the objective is a deterministic function of the parameters), on a
//! quarter of them first: a point whose quarter is clearly worse than the best point so far
//! goes no further (racing, as in `optimise`). The fit's uncertainty comes from the
//! Gauss–Newton curvature of the objective at the estimate, inflated for the Monte Carlo
//! error of the simulated trial; a parameter whose interval spans its whole box is reported
//! as not pinned down by these targets.

use super::estimate::{Boxed, inverse_spd, nelder_mead};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::scenario::spec::{ParameterScale, TrialStatisticSpec};
use crate::sim::rollouts::{Rollout, RolloutSettings, run_rollouts};
use crate::stats::survival::KaplanMeier;
use crate::support::design::halton;
use crate::support::rng::Key;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;
/// Bootstrap resamples for the Monte Carlo error of the final statistics.
const BOOTSTRAP: u64 = 200;
/// Bootstrap resamples for racing's error of a quarter's distance.
const RACING_BOOTSTRAP: u64 = 40;
/// Racing stops a point whose quarter-distance is this many of its standard errors above
/// the best full distance so far.
const RACING_Z: f64 = 3.0;

/// What a statistic measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Median PFS.
    MedianPfs,
    /// PFS at a time (a landmark, or a point of a published KM curve).
    PfsAt(f64),
    /// Share of patients with a response.
    ResponseRate,
    /// Median duration of response.
    DurationOfResponse,
}

impl Kind {
    /// The statistic in a few words.
    pub fn label(&self) -> String {
        match self {
            Kind::MedianPfs => "median PFS".to_owned(),
            Kind::PfsAt(t) => format!("PFS at {t}"),
            Kind::ResponseRate => "response rate".to_owned(),
            Kind::DurationOfResponse => "median duration of response".to_owned(),
        }
    }

    /// A short key for CSV files.
    pub fn key(&self) -> &'static str {
        match self {
            Kind::MedianPfs => "median_pfs",
            Kind::PfsAt(_) => "pfs_at",
            Kind::ResponseRate => "response_rate",
            Kind::DurationOfResponse => "duration_of_response",
        }
    }
}

/// One published statistic, with the standard error it is weighted by.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistic {
    /// What it measures.
    pub kind: Kind,
    /// The published value.
    pub value: f64,
    /// Its published 95 % interval, if given.
    pub ci: Option<[f64; 2]>,
    /// Its standard error: given, or the interval's width / 3.92, or Peto's / the binomial
    /// one from the trial's size.
    pub se: f64,
    /// Reported, not fitted.
    pub held_out: bool,
    /// Where it comes from.
    pub source: Option<String>,
}

/// A free number of the scenario, by path.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeNumber {
    /// Its path in the scenario file.
    pub path: String,
    /// The scenario's value (the first start).
    pub value: f64,
    /// Smallest value searched.
    pub lower: f64,
    /// Largest value searched.
    pub upper: f64,
    /// Searched on the log scale.
    pub log: bool,
}

impl FreeNumber {
    fn coordinate_of(&self, v: f64) -> f64 {
        if self.log { v.ln() } else { v }
    }

    fn value_of(&self, x: f64) -> f64 {
        if self.log { x.exp() } else { x }
    }
}

/// The resolved `fit.targets` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSettings {
    /// The trial, for reports.
    pub trial: Option<String>,
    /// The arm simulated.
    pub arm: String,
    /// Patients in the trial arm, if given.
    pub patients: Option<u32>,
    /// Virtual patients per evaluation.
    pub rollouts: u64,
    /// Their seed.
    pub seed: u64,
    /// Evaluations the search may spend.
    pub budget: u32,
    /// Starting points.
    pub starts: u32,
    /// The free numbers.
    pub free: Vec<FreeNumber>,
    /// The published statistics (a KM curve's points one by one).
    pub statistics: Vec<Statistic>,
}

fn missing(field: &str) -> Error {
    Error::Internal(format!("fit.targets.{field} was not resolved"))
}

/// The standard error of a proportion `p` seen in `n` patients: binomial, no smaller than
/// the resolution 1/(2n) of a proportion out of n (so a survival of 1 still has a weight).
fn proportion_se(p: f64, n: f64) -> f64 {
    (p * (1.0 - p) / n).sqrt().max(0.5 / n)
}

/// The standard error of a value from its 95 % interval.
fn se_of_ci([lo, hi]: [f64; 2]) -> f64 {
    (hi - lo) / (2.0 * Z95)
}

impl TrialSettings {
    /// The settings of `scenario`'s `fit.targets` block (an error if it has none).
    pub fn of(scenario: &Scenario) -> Result<TrialSettings> {
        let spec = scenario.resolved_spec();
        let Some(t) = spec.fit.as_ref().and_then(|f| f.targets.as_ref()) else {
            return Err(Error::Usage(format!(
                "{} has no `fit.targets` block: give the trial arm's published statistics and \
                 the free parameters there (docs/fitting.md §12)",
                scenario.source.display()
            )));
        };
        let mut free = Vec::new();
        for (path, f) in t.parameters.iter() {
            let value = crate::scenario::params::number_at(spec, path).map_err(|m| {
                Error::in_field(
                    &scenario.source,
                    &format!("fit.targets.parameters.{path}"),
                    m,
                )
            })?;
            free.push(FreeNumber {
                path: path.to_owned(),
                value,
                lower: f.lower.ok_or_else(|| missing("parameters.lower"))?,
                upper: f.upper.ok_or_else(|| missing("parameters.upper"))?,
                log: f.scale.ok_or_else(|| missing("parameters.scale"))? == ParameterScale::Log,
            });
        }
        let n = t.patients.map(f64::from);
        let mut statistics = Vec::new();
        for s in &t.statistics {
            match s {
                TrialStatisticSpec::MedianPfs(v)
                | TrialStatisticSpec::ResponseRate(v)
                | TrialStatisticSpec::DurationOfResponse(v) => {
                    let kind = match s {
                        TrialStatisticSpec::MedianPfs(_) => Kind::MedianPfs,
                        TrialStatisticSpec::ResponseRate(_) => Kind::ResponseRate,
                        _ => Kind::DurationOfResponse,
                    };
                    let se =
                        v.se.or(v.ci.map(se_of_ci))
                            .or_else(|| {
                                (kind == Kind::ResponseRate)
                                    .then(|| n.map(|n| proportion_se(v.value, n)))
                                    .flatten()
                            })
                            .ok_or_else(|| missing("statistics.se"))?;
                    statistics.push(Statistic {
                        kind,
                        value: v.value,
                        ci: v.ci,
                        se,
                        held_out: v.held_out.unwrap_or(false),
                        source: v.source.clone(),
                    });
                }
                TrialStatisticSpec::PfsAt(v) => {
                    let se =
                        v.se.or(v.ci.map(se_of_ci))
                            .or(n.map(|n| peto_se(v.value, n * v.value)))
                            .ok_or_else(|| missing("statistics.se"))?;
                    statistics.push(Statistic {
                        kind: Kind::PfsAt(v.time),
                        value: v.value,
                        ci: v.ci,
                        se,
                        held_out: v.held_out.unwrap_or(false),
                        source: v.source.clone(),
                    });
                }
                TrialStatisticSpec::Km(v) => {
                    for (j, [time, surv]) in v.points.iter().enumerate() {
                        let at_risk = match &v.at_risk {
                            Some(a) => a.get(j).copied(),
                            None => n.map(|n| n * surv),
                        }
                        .ok_or_else(|| missing("statistics.km.at_risk"))?;
                        statistics.push(Statistic {
                            kind: Kind::PfsAt(*time),
                            value: *surv,
                            ci: None,
                            se: peto_se(*surv, at_risk),
                            held_out: v.held_out.unwrap_or(false),
                            source: v.source.clone(),
                        });
                    }
                }
            }
        }
        Ok(TrialSettings {
            trial: t.trial.clone(),
            arm: t.arm.clone().ok_or_else(|| missing("arm"))?,
            patients: t.patients,
            rollouts: t.rollouts.ok_or_else(|| missing("rollouts"))?,
            seed: t.seed.ok_or_else(|| missing("seed"))?,
            budget: t.budget.ok_or_else(|| missing("budget"))?,
            starts: t.starts.ok_or_else(|| missing("starts"))?,
            free,
            statistics,
        })
    }
}

/// Peto's standard error of a KM survival `s` with `at_risk` patients at risk:
/// s·√((1 − s)/n), no smaller than the resolution 1/(2n).
fn peto_se(s: f64, at_risk: f64) -> f64 {
    let n = at_risk.max(1.0);
    (s * ((1.0 - s) / n).sqrt()).max(0.5 / n)
}

/// A Kaplan–Meier curve read the way a published one is: its steps joined by straight lines
/// from (0, 1). Progression is seen at a visit but happened some time since the last one, so
/// the drop is spread over the interval before it; a trial's curve, pooled over patients
/// scanned on different days, looks the same.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedCurve {
    /// (time, survival) at time 0 and at each time with events.
    pub knots: Vec<(f64, f64)>,
}

impl JoinedCurve {
    /// The curve of (time, event) pairs.
    pub fn new(data: &[(f64, bool)]) -> Self {
        let km = KaplanMeier::new(data);
        let mut knots = vec![(0.0, 1.0)];
        knots.extend(
            km.steps
                .iter()
                .filter(|s| s.events > 0)
                .map(|s| (s.time, s.survival)),
        );
        JoinedCurve { knots }
    }

    /// Survival at `t` (flat after the last event).
    pub fn at(&self, t: f64) -> f64 {
        for w in self.knots.windows(2) {
            let ((t0, s0), (t1, s1)) = (w[0], w[1]);
            if t <= t1 {
                return if t1 > t0 {
                    s0 + (s1 - s0) * ((t - t0) / (t1 - t0)).clamp(0.0, 1.0)
                } else {
                    s1
                };
            }
        }
        self.knots.last().map_or(1.0, |k| k.1)
    }

    /// The median, extrapolated past the last knot when the curve stays above 0.5: as if
    /// survival went on falling exponentially at its average rate so far, t·ln 2 / −ln S(t)
    /// (ten times the follow-up when nothing happened at all). A calibration needs a value
    /// that keeps moving with the parameters where the median is not reached; a report says
    /// when this was used.
    pub fn median_extrapolated(&self, follow_up: f64) -> f64 {
        if let Some(m) = self.median() {
            return m;
        }
        let s = self.at(follow_up);
        if s < 1.0 && s > 0.0 {
            (follow_up * std::f64::consts::LN_2 / -s.ln()).min(10.0 * follow_up)
        } else {
            10.0 * follow_up
        }
    }

    /// The time the curve reaches 0.5, if it does.
    pub fn median(&self) -> Option<f64> {
        self.knots.windows(2).find_map(|w| {
            let ((t0, s0), (t1, s1)) = (w[0], w[1]);
            (s1 <= 0.5 && s0 > 0.5).then(|| t0 + (t1 - t0) * (s0 - 0.5) / (s0 - s1))
        })
    }
}

/// The statistics of a simulated trial arm, in the order of `statistics`. A median not
/// reached within follow-up (`horizon`) is extrapolated ([`JoinedCurve::median_extrapolated`]).
pub fn simulated(rollouts: &[&Rollout], statistics: &[Statistic], horizon: f64) -> Vec<f64> {
    let pfs: Vec<(f64, bool)> = rollouts
        .iter()
        .map(|r| (r.outcome.ttp, r.outcome.progressed))
        .collect();
    let curve = JoinedCurve::new(&pfs);
    let responders: Vec<(f64, bool)> = rollouts
        .iter()
        .filter_map(|r| {
            r.outcome
                .response_at
                .map(|t| ((r.outcome.ttp - t).max(0.0), r.outcome.progressed))
        })
        .collect();
    let n = rollouts.len().max(1) as f64;
    statistics
        .iter()
        .map(|s| match s.kind {
            Kind::MedianPfs => curve.median_extrapolated(horizon),
            Kind::PfsAt(t) => curve.at(t),
            Kind::ResponseRate => responders.len() as f64 / n,
            Kind::DurationOfResponse => {
                if responders.is_empty() {
                    0.0
                } else {
                    JoinedCurve::new(&responders).median_extrapolated(horizon)
                }
            }
        })
        .collect()
}

/// The weighted distance Σ ((model − published)/se)² over the fitted statistics.
pub fn distance(model: &[f64], statistics: &[Statistic]) -> f64 {
    model
        .iter()
        .zip(statistics)
        .filter(|(_, s)| !s.held_out)
        .map(|(m, s)| ((m - s.value) / s.se).powi(2))
        .sum()
}

/// `b` bootstrap resamples of `rollouts` (drawn from keyed streams of `seed`): each
/// resample's statistics.
fn bootstrap(
    rollouts: &[Rollout],
    statistics: &[Statistic],
    horizon: f64,
    b: u64,
    seed: u64,
) -> Vec<Vec<f64>> {
    let n = rollouts.len();
    (0..b)
        .map(|k| {
            let mut stream = Key {
                seed,
                rollout: k,
                step: u64::MAX - 1,
                unit: 0x626f_6f74, // "boot"
                channel: 0,
            }
            .stream();
            let sample: Vec<&Rollout> = (0..n)
                .map(|_| {
                    let pick = ((u128::from(stream.next_word()) * n as u128) >> 64) as usize;
                    &rollouts[pick]
                })
                .collect();
            simulated(&sample, statistics, horizon)
        })
        .collect()
}

/// The bootstrap standard error of each statistic of `rollouts` (`b` resamples from keyed
/// streams of `seed`): the Monte Carlo error of a simulated trial, or the sampling error of a
/// real one of that size.
pub fn bootstrap_se(
    rollouts: &[Rollout],
    statistics: &[Statistic],
    horizon: f64,
    b: u64,
    seed: u64,
) -> Vec<f64> {
    column_sd(&bootstrap(rollouts, statistics, horizon, b, seed))
}

/// Standard deviation of each column of `rows`.
fn column_sd(rows: &[Vec<f64>]) -> Vec<f64> {
    let m = rows.len() as f64;
    let width = rows.first().map_or(0, Vec::len);
    (0..width)
        .map(|j| {
            let mean = rows.iter().map(|r| r[j]).sum::<f64>() / m;
            (rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0)).sqrt()
        })
        .collect()
}

/// One statistic as calibrated.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// The published statistic.
    pub statistic: Statistic,
    /// The calibrated model's value.
    pub model: f64,
    /// Its Monte Carlo standard error (bootstrap over the simulated patients).
    pub mc_se: f64,
    /// (model − published) / √(se² + mc_se²).
    pub z: f64,
}

/// One free number as calibrated.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterRow {
    /// The free number.
    pub free: FreeNumber,
    /// The estimate.
    pub estimate: f64,
    /// Approximate 95 % interval (on the search scale, mapped back).
    pub lower: f64,
    /// Its upper end.
    pub upper: f64,
    /// Standard error on the search scale (of the log for a log-scale parameter).
    pub sd: f64,
    /// Whether the targets pin it down: its interval is narrower than its box.
    pub identified: bool,
}

impl ParameterRow {
    /// How many standard errors `value` lies from the estimate, on the search scale.
    pub fn z_of(&self, value: f64) -> f64 {
        (self.free.coordinate_of(value) - self.free.coordinate_of(self.estimate)) / self.sd
    }
}

/// A finished calibration.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The settings used.
    pub settings: TrialSettings,
    /// The scenario with the estimates written in.
    pub scenario: Scenario,
    /// Each statistic, published against calibrated.
    pub targets: Vec<TargetRow>,
    /// Each free number.
    pub parameters: Vec<ParameterRow>,
    /// The distance at the start and at the estimate.
    pub start_distance: f64,
    /// The distance at the estimate.
    pub distance: f64,
    /// Points evaluated, and how many of them racing stopped after a quarter.
    pub evaluations: u32,
    /// Points racing stopped.
    pub stopped: u32,
    /// The calibrated arm's PFS curve (joined KM of the simulated patients).
    pub curve: JoinedCurve,
    /// What the reader should know (medians not reached, parameters not pinned down).
    pub notes: Vec<String>,
}

/// The simulated trial at one point: its rollouts, statistics and distance.
struct Point {
    rollouts: Vec<Rollout>,
    model: Vec<f64>,
    distance: f64,
}

/// Evaluates points of the search space, with racing and a cache.
struct Evaluator<'a> {
    base: &'a Scenario,
    settings: &'a TrialSettings,
    cache: RefCell<HashMap<Vec<u64>, f64>>,
    best: Cell<f64>,
    evaluations: Cell<u32>,
    stopped: Cell<u32>,
    failure: RefCell<Option<Error>>,
    step: &'a (dyn Fn() + Sync),
}

impl Evaluator<'_> {
    fn values(&self, x: &[f64]) -> Vec<f64> {
        self.settings
            .free
            .iter()
            .zip(x)
            .map(|(f, v)| f.value_of(*v))
            .collect()
    }

    /// The scenario with `values` written in.
    fn scenario(&self, values: &[f64]) -> Result<Scenario> {
        let edits: Vec<(&str, serde_json::Value)> = self
            .settings
            .free
            .iter()
            .zip(values)
            .map(|(f, v)| (f.path.as_str(), serde_json::Value::from(*v)))
            .collect();
        self.base.with_params(&edits)
    }

    /// Rollouts `first .. first + count` of the trial arm of `scenario`.
    fn rollouts(&self, scenario: &Scenario, first: u64, count: u64) -> Result<Vec<Rollout>> {
        if crate::support::stop::requested() {
            return Err(Error::Interrupted("calibration stopped".to_owned()));
        }
        let arm = scenario
            .arm(&self.settings.arm)
            .ok_or_else(|| missing("arm"))?;
        let settings = RolloutSettings {
            seed: self.settings.seed,
            first,
            count,
            keep_trajectories: 0,
            record_every: 0.0,
        };
        Ok(run_rollouts(scenario, arm, settings)?.rollouts)
    }

    /// Every rollout at `values`.
    fn full(&self, values: &[f64]) -> Result<Point> {
        let scenario = self.scenario(values)?;
        let rollouts = self.rollouts(&scenario, 0, self.settings.rollouts)?;
        Ok(self.point(rollouts))
    }

    fn point(&self, rollouts: Vec<Rollout>) -> Point {
        let refs: Vec<&Rollout> = rollouts.iter().collect();
        let model = simulated(&refs, &self.settings.statistics, self.base.horizon);
        let distance = distance(&model, &self.settings.statistics);
        Point {
            rollouts,
            model,
            distance,
        }
    }

    /// The distance at search point `x`: a quarter of the rollouts first, the rest only if
    /// the quarter is not clearly worse than the best point so far.
    fn cost(&self, x: &[f64]) -> Result<f64> {
        let key: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
        if let Some(d) = self.cache.borrow().get(&key) {
            return Ok(*d);
        }
        if self.evaluations.get() >= self.settings.budget {
            // Out of budget: no more simulation; the search keeps the best point it has.
            return Ok(f64::MAX / 4.0);
        }
        self.evaluations.set(self.evaluations.get() + 1);
        (self.step)();
        let values = self.values(x);
        let Ok(scenario) = self.scenario(&values) else {
            // A combination the scenario refuses (e.g. a spread that breaks a law): far off.
            return Ok(f64::MAX / 4.0);
        };
        let n = self.settings.rollouts;
        let quarter = (n / 4).max(1);
        let first = self.rollouts(&scenario, 0, quarter)?;
        let best = self.best.get();
        let stage = self.point(first);
        let d = if best.is_finite() && quarter < n {
            let spread = column_sd(
                &bootstrap(
                    &stage.rollouts,
                    &self.settings.statistics,
                    self.base.horizon,
                    RACING_BOOTSTRAP,
                    self.settings.seed,
                )
                .iter()
                .map(|m| vec![distance(m, &self.settings.statistics)])
                .collect::<Vec<_>>(),
            )[0];
            if stage.distance - RACING_Z * spread > best {
                self.stopped.set(self.stopped.get() + 1);
                Some(stage.distance)
            } else {
                None
            }
        } else {
            None
        };
        let d = match d {
            Some(d) => d,
            None => {
                let mut all = stage.rollouts;
                if quarter < n {
                    all.extend(self.rollouts(&scenario, quarter, n - quarter)?);
                }
                let full = self.point(all).distance;
                self.best.set(best.min(full));
                full
            }
        };
        self.cache.borrow_mut().insert(key, d);
        Ok(d)
    }
}

/// Calibrates `scenario` to its `fit.targets`; `step` is called once per evaluated point.
pub fn calibrate(scenario: &Scenario, step: &(dyn Fn() + Sync)) -> Result<Calibration> {
    let settings = TrialSettings::of(scenario)?;
    let eval = Evaluator {
        base: scenario,
        settings: &settings,
        cache: RefCell::new(HashMap::new()),
        best: Cell::new(f64::INFINITY),
        evaluations: Cell::new(0),
        stopped: Cell::new(0),
        failure: RefCell::new(None),
        step,
    };
    let objective = |x: &[f64]| match eval.cost(x) {
        Ok(d) => d,
        Err(e) => {
            eval.failure.borrow_mut().get_or_insert(e);
            f64::MAX / 4.0
        }
    };
    let bounds: Vec<(f64, f64)> = settings
        .free
        .iter()
        .map(|f| (f.coordinate_of(f.lower), f.coordinate_of(f.upper)))
        .collect();
    let problem = Boxed {
        f: &objective,
        bounds: bounds.clone(),
    };
    let start: Vec<f64> = settings
        .free
        .iter()
        .map(|f| f.coordinate_of(f.value))
        .collect();
    let start_distance = objective(&start);
    let d = start.len();
    let steps: Vec<f64> = bounds.iter().map(|(lo, hi)| 0.15 * (hi - lo)).collect();
    // Nelder–Mead spends one to two evaluations an iteration (more when it shrinks).
    let per_start = u64::from(settings.budget / settings.starts.max(1)).max(2 * d as u64 + 2);
    let iters = (per_start * 2 / 3).max(1);
    let mut best = (start.clone(), start_distance);
    for k in 0..settings.starts.max(1) {
        let x0: Vec<f64> = if k == 0 {
            start.clone()
        } else {
            halton(u64::from(k), d)
                .iter()
                .zip(&bounds)
                .map(|(u, (lo, hi))| lo + u * (hi - lo))
                .collect()
        };
        let found = nelder_mead(&problem, &x0, &steps, iters, 1e-3);
        if let Some(e) = eval.failure.borrow_mut().take() {
            return Err(e);
        }
        if found.1 < best.1 {
            best = found;
        }
    }
    // A last, smaller simplex around the best point.
    let small: Vec<f64> = steps.iter().map(|s| 0.2 * s).collect();
    let polished = nelder_mead(&problem, &best.0, &small, iters / 2 + 1, 1e-4);
    if let Some(e) = eval.failure.borrow_mut().take() {
        return Err(e);
    }
    if polished.1 < best.1 {
        best = polished;
    }
    let x_hat = best.0;
    let values = eval.values(&x_hat);
    let at = eval.full(&values)?;
    let parameters = uncertainty(&eval, &x_hat, &at, &bounds)?;
    let mc = bootstrap_se(
        &at.rollouts,
        &settings.statistics,
        scenario.horizon,
        BOOTSTRAP,
        settings.seed,
    );
    let targets: Vec<TargetRow> = settings
        .statistics
        .iter()
        .zip(&at.model)
        .zip(&mc)
        .map(|((s, m), e)| TargetRow {
            statistic: s.clone(),
            model: *m,
            mc_se: *e,
            z: (m - s.value) / (s.se * s.se + e * e).sqrt(),
        })
        .collect();
    let mut notes = Vec::new();
    for t in &targets {
        if matches!(t.statistic.kind, Kind::MedianPfs | Kind::DurationOfResponse)
            && t.model >= scenario.horizon
        {
            notes.push(format!(
                "the calibrated model's {} is not reached within the horizon ({}); it is \
                 extrapolated from the curve's average rate of decline",
                t.statistic.kind.label(),
                scenario.horizon
            ));
        }
    }
    for p in &parameters {
        if !p.identified {
            notes.push(format!(
                "{} is not pinned down by these targets: its 95 % interval spans its whole \
                 search range; its estimate is one of many that fit as well",
                p.free.path
            ));
        }
    }
    let refs: Vec<&Rollout> = at.rollouts.iter().collect();
    let pfs: Vec<(f64, bool)> = refs
        .iter()
        .map(|r| (r.outcome.ttp, r.outcome.progressed))
        .collect();
    Ok(Calibration {
        scenario: eval.scenario(&values)?,
        targets,
        parameters,
        start_distance,
        distance: at.distance,
        evaluations: eval.evaluations.get(),
        stopped: eval.stopped.get(),
        curve: JoinedCurve::new(&pfs),
        notes,
        settings,
    })
}

/// Approximate 95 % intervals from the Gauss–Newton curvature at `x_hat`: J, the derivative
/// of the weighted residuals (model − published)/se by central differences on every rollout,
/// gives the covariance (JᵀJ)⁻¹, inflated by 1 + patients/rollouts for the simulation's own
/// error (the method of simulated moments' factor, when the trial's size is known).
fn uncertainty(
    eval: &Evaluator,
    x_hat: &[f64],
    at: &Point,
    bounds: &[(f64, f64)],
) -> Result<Vec<ParameterRow>> {
    let settings = eval.settings;
    let fitted: Vec<usize> = (0..settings.statistics.len())
        .filter(|&k| !settings.statistics[k].held_out)
        .collect();
    let residual = |model: &[f64]| -> Vec<f64> {
        fitted
            .iter()
            .map(|&k| {
                let s = &settings.statistics[k];
                (model[k] - s.value) / s.se
            })
            .collect()
    };
    let d = x_hat.len();
    let mut jac = vec![vec![0.0; d]; fitted.len()];
    for j in 0..d {
        let (lo, hi) = bounds[j];
        // Steps of 2 % of the range: wide enough to see through the steps of a statistic of
        // finitely many patients, narrow enough for a local slope.
        let h = 0.02 * (hi - lo);
        let up = (x_hat[j] + h).min(hi);
        let down = (x_hat[j] - h).max(lo);
        let mut xu = x_hat.to_vec();
        xu[j] = up;
        let mut xd = x_hat.to_vec();
        xd[j] = down;
        let ru = residual(&eval.full(&eval.values(&xu))?.model);
        let rd = if down < x_hat[j] {
            residual(&eval.full(&eval.values(&xd))?.model)
        } else {
            residual(&at.model)
        };
        let width = up - down;
        for (row, (a, b)) in jac.iter_mut().zip(ru.iter().zip(&rd)) {
            row[j] = if width > 0.0 { (a - b) / width } else { 0.0 };
        }
    }
    let mut info = vec![vec![0.0; d]; d];
    for row in &jac {
        for a in 0..d {
            for b in 0..d {
                info[a][b] += row[a] * row[b];
            }
        }
    }
    let inflation = settings
        .patients
        .map_or(1.0, |p| 1.0 + f64::from(p) / settings.rollouts as f64);
    // A direction the targets do not see has no curvature: a tiny ridge keeps the inverse
    // finite, and that direction's variance huge.
    let trace: f64 = (0..d).map(|a| info[a][a]).sum::<f64>().max(1e-300);
    for (a, row) in info.iter_mut().enumerate() {
        row[a] += 1e-9 * trace;
    }
    let cov = inverse_spd(&info);
    Ok(settings
        .free
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let (lo, hi) = bounds[j];
            let sd = cov
                .as_ref()
                .map_or(f64::INFINITY, |c| (c[j][j] * inflation).max(0.0).sqrt());
            let half = Z95 * sd;
            let (a, b) = ((x_hat[j] - half).max(lo), (x_hat[j] + half).min(hi));
            ParameterRow {
                free: f.clone(),
                estimate: f.value_of(x_hat[j]),
                lower: f.value_of(a),
                upper: f.value_of(b),
                sd,
                identified: half.is_finite() && 2.0 * half < hi - lo,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_curve_spreads_each_drop_over_the_interval_before_it() {
        // Four patients: events at 10, 20 (two), censored at 30.
        let c = JoinedCurve::new(&[(10.0, true), (20.0, true), (20.0, true), (30.0, false)]);
        assert_eq!(c.knots, vec![(0.0, 1.0), (10.0, 0.75), (20.0, 0.25)]);
        assert!((c.at(5.0) - 0.875).abs() < 1e-12);
        assert!((c.at(15.0) - 0.5).abs() < 1e-12);
        assert_eq!(c.at(25.0), 0.25);
        assert_eq!(c.median(), Some(15.0));
        assert_eq!(JoinedCurve::new(&[(5.0, false)]).median(), None);
        // Not reached: S(30) = 0.75 at follow-up 30 extrapolates to 30·ln 2/ln(4/3) = 72.28.
        let half = JoinedCurve::new(&[(10.0, true), (30.0, false), (30.0, false), (30.0, false)]);
        assert!((half.median_extrapolated(30.0) - 72.28).abs() < 0.01);
    }

    #[test]
    fn standard_errors_come_from_intervals_or_counts() {
        assert!((se_of_ci([15.2, 21.4]) - 6.2 / 3.919_927_969_080_108).abs() < 1e-12);
        // 80 % of 279: binomial 0.0239.
        assert!((proportion_se(0.8, 279.0) - 0.023_946).abs() < 1e-5);
        // Peto at S = 0.5 with 100 at risk: 0.5·√(0.5/100) = 0.0354; at S = 1, the floor.
        assert!((peto_se(0.5, 100.0) - 0.035_355).abs() < 1e-5);
        assert_eq!(peto_se(1.0, 100.0), 0.005);
    }
}
