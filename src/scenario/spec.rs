//! The scenario file as written: serde types that mirror the YAML one to one.
//!
//! These types are both the human form (optional fields left out) and, after
//! [`super::resolve`], the resolved form (every default filled in) that `regimen check`
//! prints. Printing the resolved form and reading it back gives the same scenario.
//! Range checks live in `validate`; the simulation never sees these types, only the
//! compiled model built from them.

use super::named::NamedList;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The version of the scenario format this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A scenario file: the tumour model, the drugs, the trial arms and how progression is
/// judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "regimen scenario")]
pub struct ScenarioSpec {
    /// Version of the scenario format; this version of regimen reads format 1.
    pub format_version: u32,
    /// Heads every table, plot and report.
    pub name: String,
    /// What the scenario models and where its numbers come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The unit of every time in the file: rates per unit, horizon, intervals.
    pub time_units: TimeUnit,
    /// Length of the simulated treatment period, in `time_units`.
    pub horizon: f64,
    /// The cell populations and how they grow, switch and mutate.
    pub model: ModelSpec,
    /// The drugs, by name, in the order written (the column order of every output).
    #[serde(default)]
    pub drugs: NamedList<DrugSpec>,
    /// When the clinic measures the disease, and what it measures.
    pub observation: ObservationSpec,
    /// When progression is called, and what happens to treatment then.
    pub progression: ProgressionSpec,
    /// The trial arms, in order; the first is the reference unless a command names another.
    pub arms: Vec<ArmSpec>,
    /// Times at which to report P(progression-free) over rollouts (default: 1 and 2 years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfs_at: Option<Vec<f64>>,
    /// Settings of the stochastic engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stochastic: Option<StochasticSpec>,
    /// Between-patient variability: parameters drawn anew for every rollout (every arm sees
    /// the same patients). Keys: `compartments.<name>.<birth|death|initial|carrying_capacity>`
    /// or `drugs.<drug>.effects.<compartment>.<kill|cytostatic|capacity>` (the response's
    /// emax or slope).
    #[serde(default, skip_serializing_if = "NamedList::is_empty")]
    pub virtual_patients: NamedList<DistributionSpec>,
    /// Correlations between virtual patients' parameters (a Gaussian copula): each names two
    /// `virtual_patients` keys and their correlation (of the underlying normals: of the logs
    /// for log-normal parameters). Pairs not listed are uncorrelated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_patient_correlations: Vec<CorrelationSpec>,
    /// A CSV file of patients, one per row (e.g. `regimen fit`'s estimates.csv): each rollout
    /// draws one row, with every column named by a parameter path (as `fit:` names them)
    /// giving that patient's value; other columns are ignored. Relative to the scenario's
    /// folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_patient_table: Option<String>,
    /// What `regimen optimise` searches for and under which constraints (command-line flags
    /// override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimise: Option<OptimiseSpec>,
    /// What `regimen fit` estimates from observed data (command-line flags override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitSpec>,
}

/// The `fit:` block (docs/fitting.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FitSpec {
    /// The observed data: a CSV in the NONMEM layout (ID, TIME, EVID, AMT, CMT, DV, MDV, ...),
    /// relative to the scenario file. TIME is in the scenario's time units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The free parameters, by path (`model.compartments.resistant.initial`); every other
    /// parameter keeps the scenario's value.
    #[serde(default)]
    pub parameters: NamedList<FreeParameterSpec>,
    /// The residual error model (proportional if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorModelName>,
    /// Starting points of the multi-start search (Halton points in the bounds; the
    /// scenario's values are the first). Default 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<u32>,
    /// Fit only the data up to this time and forecast the rest (all data if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<f64>,
    /// Or fit each subject's first K treatment cycles (a cycle starts with a dose after a
    /// break in dosing) and forecast the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles: Option<u32>,
    /// Profile-likelihood intervals for every free parameter (default true; false keeps
    /// only the standard errors and is much faster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<bool>,
    /// Population calibration to published summaries of a trial arm (`regimen fit
    /// --targets`, docs/fitting.md §12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TrialTargetsSpec>,
}

/// Summary statistics of a trial arm that the scenario's population should reproduce, and
/// the parameters free to make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialTargetsSpec {
    /// The trial, for reports (e.g. "FLAURA osimertinib arm, Soria 2018").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<String>,
    /// The arm that gives the trial's treatment (the first arm if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// Patients in the trial arm: the standard error of a proportion given without one, and
    /// the share of the calibration's uncertainty that comes from simulating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patients: Option<u32>,
    /// Virtual patients simulated per evaluation, on common random numbers (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts: Option<u64>,
    /// Seed of the virtual patients (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Evaluations the search may spend (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
    /// Starting points of the search: the scenario's values, then Halton points (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<u32>,
    /// The free parameters by path: any number of the scenario, including the location and
    /// spread of a `virtual_patients` distribution
    /// (`virtual_patients.<key>.lognormal.median`).
    #[serde(default)]
    pub parameters: NamedList<FreeParameterSpec>,
    /// The published statistics.
    #[serde(default)]
    pub statistics: Vec<TrialStatisticSpec>,
}

/// One published statistic of a trial arm, in the scenario's time units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatisticSpec {
    /// Median progression-free survival.
    MedianPfs(TargetValueSpec),
    /// Progression-free survival at a time.
    PfsAt(TimedTargetSpec),
    /// Objective response rate (RECIST partial or complete response; PSA50 for a marker
    /// rule), as a fraction.
    ResponseRate(TargetValueSpec),
    /// Median duration of response: from the first response to progression.
    DurationOfResponse(TargetValueSpec),
    /// Points read off a published Kaplan–Meier curve of progression-free survival.
    Km(KmTargetSpec),
}

/// A published value and its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetValueSpec {
    /// The value.
    pub value: f64,
    /// Its 95 % confidence interval (the standard error is its width / 3.92).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// Or its standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
    /// Reported beside the fit but not fitted: a held-back check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<bool>,
    /// Where the number comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A published value at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimedTargetSpec {
    /// The time.
    pub time: f64,
    /// The value.
    pub value: f64,
    /// Its 95 % confidence interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// Or its standard error (without either: Peto's, from `patients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
    /// Reported beside the fit but not fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<bool>,
    /// Where the number comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Points of a published Kaplan–Meier curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KmTargetSpec {
    /// (time, survival) pairs, times increasing.
    pub points: Vec<[f64; 2]>,
    /// Patients at risk at each point's time (the numbers under the plot), for Peto's
    /// standard error S·√((1 − S)/n); `patients` × S if left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_risk: Option<Vec<f64>>,
    /// Reported beside the fit but not fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<bool>,
    /// Where the numbers come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One free parameter of a fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreeParameterSpec {
    /// Smallest value searched (log scale: the scenario's value / 100 if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Largest value searched (log scale: the scenario's value × 100 if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// Search on the log of the value (rates, sizes) or the value itself (default: log for
    /// a positive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ParameterScale>,
    /// A prior: the fit maximises the posterior (MAP) instead of the likelihood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<DistributionSpec>,
}

/// The scale a free parameter is searched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParameterScale {
    /// The log of the value.
    Log,
    /// The value.
    Linear,
}

/// How measurements scatter about the model's marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorModelName {
    /// Normal with a constant SD `a`.
    Additive,
    /// Normal with SD `b` × prediction.
    Proportional,
    /// Normal with SD √(a² + (b × prediction)²).
    Combined,
    /// Normal on the log of the marker with SD σ (log-normal measurement noise, as the
    /// scenario's `observation.noise_cv` makes).
    LogAdditive,
}

impl ErrorModelName {
    /// The name as the YAML file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorModelName::Additive => "additive",
            ErrorModelName::Proportional => "proportional",
            ErrorModelName::Combined => "combined",
            ErrorModelName::LogAdditive => "log_additive",
        }
    }
}

/// The `optimise:` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimiseSpec {
    /// What to maximise (restricted mean TTP if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveSpec>,
    /// The drug whose schedule is searched (the first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// The second drug of the `companion` and `sequence` families (the first other drug if
    /// left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companion: Option<String>,
    /// Rollouts per candidate while searching (the tuning set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts: Option<u64>,
    /// Rollouts of the hold-out re-scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<u64>,
    /// Distinct schedules scored per family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_evals: Option<u64>,
    /// Families searched, in order (the five of `FamilyName::ALL` if left out; `companion`
    /// only when named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<FamilyName>>,
    /// The argmin solver after the design (nelder-mead if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solver: Option<SolverName>,
    /// Stop clearly worse candidates early (true if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub racing: Option<bool>,
    /// Bi-objective mode: search again under each of these limits on the dose relative to
    /// continuous dosing, and report the front of benefit against dose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto: Option<Vec<f64>>,
    /// Constraints every searched schedule must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<ConstraintsSpec>,
    /// Search bounds of each family's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<BoundsSpec>,
    /// Settings of the sequential LP relaxation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lp: Option<LpSpec>,
    /// Score every candidate under parameter uncertainty instead of at the nominal model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust: Option<RobustSpec>,
    /// The sensitivity report of the leaderboard's schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<SensitivitySpec>,
}

/// The `optimise.sensitivity:` block: which parameters the report of every finalist and arm
/// changes (a tornado, the distance to the cliff, a two-parameter map) and on how many
/// rollouts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SensitivitySpec {
    /// Write the report (true if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The parameters, by path, with the relative half-width of the range the tornado and
    /// the map cover (if left out: the robust block's uncertain parameters, else each drug
    /// effect and birth rate at ±30 %).
    #[serde(default, skip_serializing_if = "NamedList::is_empty")]
    pub parameters: NamedList<f64>,
    /// Rollouts per score (100, or the tuning rollouts if fewer, if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts: Option<u64>,
}

/// The `optimise.robust:` block: the points of parameter (and model) uncertainty a candidate
/// is scored at, and how their values combine into the one score the search maximises.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobustSpec {
    /// How the points' values combine (`worst` if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<RobustMeasureSpec>,
    /// The uncertain parameters: any numeric field of the scenario by its path, with the
    /// relative half-width of its range (0.3: from 70 % to 130 % of the scenario's value).
    #[serde(default)]
    pub uncertain: NamedList<f64>,
    /// Which points of that box are scored (`corners` if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<RobustPointsSpec>,
    /// Other scenario files of the same disease (structural uncertainty), scored at their
    /// own values as further points; paths relative to this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// How a robust score combines the values at its points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RobustMeasureSpec {
    /// The smallest value over the points.
    Worst,
    /// The mean over the points.
    Mean,
    /// The smallest difference to continuous dosing at the standard dose over the points:
    /// the schedule whose worst loss against the standard of care is smallest.
    Regret,
    /// This quantile of the values over the points (e.g. 0.1).
    Quantile(f64),
}

/// Which points of the uncertainty box a robust score uses. Every design includes the
/// nominal scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RobustPointsSpec {
    /// Every corner of the box (2^k points for k uncertain parameters).
    Corners,
    /// One parameter at a time at each end of its range (2k points).
    Axes,
    /// This many draws spread over the box (a Latin hypercube, uniform per parameter).
    Draws(u64),
}

/// A statistic of time to progression, larger is better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ObjectiveSpec {
    /// Restricted mean TTP up to the horizon.
    Rmst,
    /// Kaplan–Meier median TTP.
    Median,
    /// P(progression-free) at this time.
    PfsAt(f64),
    /// Mean of the worst fraction of TTPs.
    Cvar(f64),
}

/// A family of schedules `optimise` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FamilyName {
    /// Cycles of on and off.
    Intermittent,
    /// Treat to response, take a holiday, rechallenge.
    Holiday,
    /// Stop below a fraction of the baseline marker, resume above another.
    Adaptive,
    /// Dose steps up and down with the marker.
    Modulation,
    /// The sequential LP relaxation over on/off days.
    Lp,
    /// A second drug given with the first: the first continuous, the second in on/off
    /// cycles from a start time at a dose level (named, never searched by default).
    Companion,
    /// Two lines: the searched drug continuous, then the second drug continuous from a
    /// switch day or at progression, whichever first (named, never searched by default).
    Sequence,
}

impl FamilyName {
    /// The families searched when none are named, in the order searched (`companion` needs
    /// a second drug and is searched only when named).
    pub const ALL: [FamilyName; 5] = [
        FamilyName::Intermittent,
        FamilyName::Holiday,
        FamilyName::Adaptive,
        FamilyName::Modulation,
        FamilyName::Lp,
    ];

    /// Every family a run may name: [`FamilyName::ALL`], `companion` and `sequence`.
    pub const NAMED: [FamilyName; 7] = [
        FamilyName::Intermittent,
        FamilyName::Holiday,
        FamilyName::Adaptive,
        FamilyName::Modulation,
        FamilyName::Lp,
        FamilyName::Companion,
        FamilyName::Sequence,
    ];

    /// The name as the YAML file and `--families` spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            FamilyName::Intermittent => "intermittent",
            FamilyName::Holiday => "holiday",
            FamilyName::Adaptive => "adaptive",
            FamilyName::Modulation => "modulation",
            FamilyName::Lp => "lp",
            FamilyName::Companion => "companion",
            FamilyName::Sequence => "sequence",
        }
    }
}

/// The argmin solver a family search runs after its design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SolverName {
    /// Nelder–Mead, restarted from the best design points.
    NelderMead,
    /// Particle swarm over the unit cube.
    ParticleSwarm,
}

/// Constraints every searched schedule must meet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstraintsSpec {
    /// Most mean cumulative dose of the searched drug, relative to continuous dosing at its
    /// standard dose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_relative_dose: Option<f64>,
    /// Most marker before progression, as a multiple of its value at time 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_cap: Option<f64>,
    /// Shortest time between the visits a closed-loop rule decides on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_visit_interval: Option<f64>,
    /// The only doses allowed (e.g. tablet strengths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose_levels: Option<Vec<f64>>,
}

/// Search bounds, `[low, high]`, in the scenario's time units and dose units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundsSpec {
    /// Days on per cycle (intermittent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<[f64; 2]>,
    /// Days off per cycle (intermittent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off: Option<[f64; 2]>,
    /// Dose per administration (intermittent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<[f64; 2]>,
    /// Treatment before the first holiday (holiday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_in: Option<[f64; 2]>,
    /// Length of a holiday (holiday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday: Option<[f64; 2]>,
    /// Stop when the marker falls below this fraction of baseline (adaptive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_below: Option<[f64; 2]>,
    /// Resume when the marker rises above this fraction of baseline (adaptive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_above: Option<[f64; 2]>,
    /// Visits between decisions (adaptive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_visits: Option<[f64; 2]>,
    /// Dose step as a fraction of the dose (modulation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<[f64; 2]>,
    /// Marker change between visits that moves the dose (modulation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<[f64; 2]>,
    /// Day the second drug starts (companion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<[f64; 2]>,
    /// Day of the planned switch to the second line (sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<[f64; 2]>,
}

impl BoundsSpec {
    /// Every bound given, with its name.
    pub fn given(&self) -> Vec<(&'static str, [f64; 2])> {
        [
            ("on", self.on),
            ("off", self.off),
            ("dose", self.dose),
            ("lead_in", self.lead_in),
            ("holiday", self.holiday),
            ("stop_below", self.stop_below),
            ("resume_above", self.resume_above),
            ("every_visits", self.every_visits),
            ("step", self.step),
            ("margin", self.margin),
            ("start", self.start),
            ("switch", self.switch),
        ]
        .into_iter()
        .filter_map(|(n, b)| b.map(|b| (n, b)))
        .collect()
    }
}

/// The LP relaxation's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LpSpec {
    /// Period length (28 days if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<f64>,
    /// What to minimise at the horizon (resistant cells if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<LpTargetName>,
    /// First trust region (one week if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_region: Option<f64>,
    /// Most sequential-LP steps (30 if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Further dose levels of the searched drug: the LP chooses how long each is given in
    /// each period (the levels of a period together at most the period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<f64>>,
    /// Further drugs planned with the searched one, each with its levels and budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Vec<LpDrugSpec>>,
}

/// A further drug of the LP relaxation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LpDrugSpec {
    /// The drug.
    pub drug: String,
    /// Its dose levels (its standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<f64>>,
    /// Most days on it over the horizon (if left out: its time-on budget's share of the
    /// horizon, else the whole horizon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days_on: Option<f64>,
}

/// What the LP relaxation minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LpTargetName {
    /// Resistant cells at the end of each period.
    Resistant,
    /// All cells at the end of each period.
    Total,
}

/// A distribution of a patient parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum DistributionSpec {
    /// Log-normal with the given coefficient of variation; its median is `median`, or the
    /// scenario's own value of the parameter when `median` is left out.
    Lognormal {
        /// The median (the scenario's own value of the parameter if left out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median: Option<f64>,
        /// Coefficient of variation (standard deviation / mean).
        cv: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Uniform on [low, high].
    Uniform {
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
    },
}

/// A correlation between two virtual-patient parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSpec {
    /// The two `virtual_patients` keys.
    pub between: [String; 2],
    /// Their correlation, in (−1, 1).
    pub r: f64,
}

/// Settings of the stochastic engine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StochasticSpec {
    /// Grid step of the stochastic engine in time units (default: from the fastest rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Cells per unit of burden, for models written in fractions of a capacity (default 1:
    /// counts are cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells_per_unit: Option<f64>,
}

/// The unit of time of a scenario or schedule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Hours.
    Hours,
    /// Days.
    Days,
    /// Weeks.
    Weeks,
}

impl TimeUnit {
    /// The name as the YAML file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
        }
    }

    /// Length of one unit in days (used to report "days on drug").
    pub fn in_days(self) -> f64 {
        match self {
            TimeUnit::Hours => 1.0 / 24.0,
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }
}

/// How crowding slows growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrowthLaw {
    /// Lotka–Volterra: `g_i = 1 − Σ_j a_ij N_j / K_i`.
    #[default]
    Logistic,
    /// `g_i = ln(K_i / Σ_j a_ij N_j)`.
    Gompertz,
    /// `g_i = 1`.
    Exponential,
}

/// The cell populations of the tumour and how they interact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Default growth law of every compartment.
    #[serde(default)]
    pub growth: GrowthLaw,
    /// Default carrying capacity of every compartment (cells, or the scenario's burden unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrying_capacity: Option<f64>,
    /// The compartments (cell states), by name, in the order written.
    pub compartments: NamedList<CompartmentSpec>,
    /// Switches between compartments (persister entry and exit).
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
    /// Heritable changes at division (genetic resistance).
    #[serde(default)]
    pub mutations: Vec<MutationSpec>,
}

/// What a compartment is, for outcomes such as time to resistance majority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ordinary drug-sensitive tumour cells.
    #[default]
    Sensitive,
    /// Drug-tolerant persisters (any non-genetic tolerant state).
    Persister,
    /// Genetically resistant cells: counted for "time to resistance majority".
    Resistant,
}

/// One cell population: its rates, initial count and role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompartmentSpec {
    /// Intrinsic birth (division) rate per time unit.
    pub birth: f64,
    /// Intrinsic death rate per time unit.
    #[serde(default)]
    pub death: f64,
    /// Cell count at time 0.
    pub initial: f64,
    /// Sensitive, persister or resistant.
    #[serde(default)]
    pub role: Role,
    /// Overrides the model's growth law for this compartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<GrowthLaw>,
    /// Overrides the model's carrying capacity for this compartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrying_capacity: Option<f64>,
    /// Competition coefficients `a_ij` of the other compartments on this one (1 if absent).
    #[serde(default, skip_serializing_if = "NamedList::is_empty")]
    pub competition: NamedList<f64>,
}

/// A switch of cells from one compartment to another at a per-capita rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// The compartment cells leave.
    pub from: String,
    /// The compartment cells enter.
    pub to: String,
    /// Per-capita switching rate per time unit (multiplied by the drug effect if induced).
    pub rate: f64,
    /// The drug whose effect multiplies the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub induced_by: Option<String>,
    /// How the inducing drug's exposure maps to the multiplier (default linear, slope 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseSpec>,
    /// The transition runs only off drug: rate × (1 − max over drugs of their activity).
    #[serde(default, skip_serializing_if = "is_false")]
    pub only_off_drug: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A mutation at division: a daughter of `from` born into `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MutationSpec {
    /// The dividing compartment.
    pub from: String,
    /// The compartment the mutant daughter joins.
    pub to: String,
    /// Probability that a division of `from` yields one `to` daughter.
    pub per_division: f64,
}

/// How a drug's exposure maps to an effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ResponseSpec {
    /// `E = slope · C`.
    Linear {
        /// Effect per unit of exposure.
        slope: f64,
    },
    /// `E = emax · Cⁿ / (ec50ⁿ + Cⁿ)`.
    Hill {
        /// Largest effect.
        emax: f64,
        /// Exposure of half the largest effect.
        ec50: f64,
        /// Hill coefficient (steepness).
        n: f64,
    },
}

/// One drug: how exposure follows doses, and its effects on each compartment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrugSpec {
    /// Dose levels (fraction of MTD held while a dose lasts) or one-compartment PK.
    #[serde(default)]
    pub exposure: ExposureSpec,
    /// The label dose a schedule gives when it names no dose (1.0 = MTD for dose levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_dose: Option<f64>,
    /// The largest single dose a schedule may give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dose: Option<f64>,
    /// Unit of a dose amount (for reports): `MTD` for dose levels, e.g. `mg` for PK drugs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose_unit: Option<String>,
    /// Fraction of full effect in [0, 1] at exposure C, used by `only_off_drug` transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ResponseSpec>,
    /// A toxicity budget every schedule of this drug must respect; doses that would break
    /// it are reduced or withheld, and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<ToxicitySpec>,
    /// Per compartment: the effects of this drug on it.
    #[serde(default)]
    pub effects: NamedList<EffectSpec>,
}

/// A toxicity budget: doses that would break it are reduced or withheld.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToxicitySpec {
    /// Most cumulative dose over the run (amount for PK drugs, level × time for levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cumulative_dose: Option<f64>,
    /// Most time on drug within any trailing window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time_on: Option<TimeOnSpec>,
}

/// A limit on time on drug within a sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOnSpec {
    /// Time units on drug allowed …
    pub on: f64,
    /// … in any window of this length.
    pub window: f64,
}

/// How a drug's exposure follows its doses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ExposureSpec {
    /// Exposure is the dose level itself (fraction of MTD), held while a dose lasts.
    #[default]
    Level,
    /// One-compartment pharmacokinetics.
    Pk(PkSpec),
}

/// One-compartment pharmacokinetics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PkSpec {
    /// Elimination half-life in time units (give this or `clearance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life: Option<f64>,
    /// Clearance in volume units per time unit (give this or `half_life`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearance: Option<f64>,
    /// Volume of distribution; concentration = amount / volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
    /// First-order absorption rate per time unit; absent means an intravenous bolus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ka: Option<f64>,
    /// Fraction of a dose that reaches the circulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bioavailability: Option<f64>,
}

/// The effects of one drug on one compartment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EffectSpec {
    /// Log-kill: adds E to the death rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<ResponseSpec>,
    /// Norton–Simon: growth × (1 − E); beyond E = 1 the surplus kills in proportion to growth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cytostatic: Option<ResponseSpec>,
    /// Carrying capacity × (1 − E).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<ResponseSpec>,
}

/// The clinic's visits and measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationSpec {
    /// Visit interval in time units; the first visit (baseline) is at time 0.
    pub every: f64,
    /// What is measured: total burden, or a weighted sum of compartments.
    #[serde(default)]
    pub marker: MarkerSpec,
    /// Coefficient of variation of multiplicative log-normal measurement noise.
    #[serde(default)]
    pub noise_cv: f64,
    /// Marker values below this are reported as "not detected".
    #[serde(default)]
    pub detection_limit: f64,
}

/// The marker the clinic measures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum MarkerSpec {
    /// Total burden: every compartment weighs 1.
    #[default]
    Total,
    /// Weighted sum; compartments not listed weigh 0.
    Weighted(NamedList<f64>),
}

/// When progression is called (docs/model.md, "Endpoints"), and what happens to treatment
/// then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressionSpec {
    /// Which rule calls progression.
    pub rule: ProgressionRule,
    /// recist: the rise of the lesion diameter over its reference (1.2 = 20 %);
    /// rise_over_nadir: progression at marker ≥ factor × nadir;
    /// above_baseline: progression when the marker exceeds factor × baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// recist: measure the rise from the nadir (RECIST 1.1) or from the pre-treatment
    /// baseline (adaptive protocols, where the marker returns to baseline on purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceName>,
    /// recist: how burden maps to a lesion diameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesion: Option<LesionSpec>,
    /// pcwg3: the marker as PSA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psa: Option<PsaSpec>,
    /// Keep dosing after progression on the last line (false: treatment stops there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_beyond_progression: Option<bool>,
}

/// The rule that calls progression (docs/model.md, "Endpoints").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgressionRule {
    /// RECIST 1.1 on the spherical-equivalent lesion diameter.
    Recist,
    /// Marker ≥ factor × nadir.
    RiseOverNadir,
    /// Marker > factor × baseline.
    AboveBaseline,
    /// PCWG3 PSA progression, confirmed.
    Pcwg3,
}

impl ProgressionRule {
    /// The name as the YAML file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressionRule::Recist => "recist",
            ProgressionRule::RiseOverNadir => "rise_over_nadir",
            ProgressionRule::AboveBaseline => "above_baseline",
            ProgressionRule::Pcwg3 => "pcwg3",
        }
    }
}

/// What a RECIST rise is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceName {
    /// The smallest diameter so far (RECIST 1.1).
    Nadir,
    /// The diameter before treatment (adaptive protocols that regrow to baseline on purpose).
    Baseline,
}

/// The lesion RECIST measures: a sphere holding the burden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LesionSpec {
    /// Cells per cm³ of tumour (marker units × `stochastic.cells_per_unit` are cells).
    pub cells_per_cm3: f64,
    /// The smallest diameter imaging measures, in mm (RECIST 1.1: 10 mm on CT); sets the
    /// detection limit of the marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_limit_mm: Option<f64>,
    /// The smallest absolute increase that counts, in mm (RECIST 1.1: 5 mm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_increase_mm: Option<f64>,
}

/// The marker read as serum PSA, for PCWG3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PsaSpec {
    /// ng/mL of PSA per marker unit.
    pub ng_per_ml_per_unit: f64,
    /// The relative rise over the nadir that counts (PCWG3: 0.25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<f64>,
    /// The absolute rise over the nadir that counts, ng/mL (PCWG3: 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rise_ng_per_ml: Option<f64>,
    /// The confirming value comes at least this long after the first, in the scenario's
    /// time units (PCWG3: 3 weeks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_after: Option<f64>,
    /// Without a decline below baseline, no progression before this time (PCWG3: 12 weeks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_decline_wait: Option<f64>,
}

/// A trial arm: a name and the schedule (or schedules) it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArmSpec {
    /// Unique name, shown in every table.
    pub name: String,
    /// What the arm is, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The arm's schedule: a name from schedules/ or the schedule itself.
    pub schedule: ScheduleRef,
    /// Schedules of other drugs given at the same time (a combination regimen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<ScheduleRef>,
    /// Later lines of treatment, each replacing the one before when its switch comes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<LineSpec>,
    /// This arm's own progression rule (the scenario's if left out): e.g. an adaptive arm
    /// measured from baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progression: Option<ProgressionSpec>,
}

impl ArmSpec {
    /// Every schedule reference of the arm with its field path below `arms[i]`.
    pub fn schedules_mut(&mut self) -> Vec<(String, &mut ScheduleRef)> {
        let mut out = vec![("schedule".to_owned(), &mut self.schedule)];
        for (j, s) in self.with.iter_mut().enumerate() {
            out.push((format!("with[{j}]"), s));
        }
        for (j, line) in self.then.iter_mut().enumerate() {
            out.push((format!("then[{j}].schedule"), &mut line.schedule));
        }
        out
    }
}

/// A later line of treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    /// When this line starts.
    pub after: SwitchSpec,
    /// The schedule of this line.
    pub schedule: ScheduleRef,
}

/// When a sequential regimen moves to its next line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SwitchSpec {
    /// At the visit where the scenario's progression rule fires on the current line.
    Progression,
    /// After this long on the current line.
    Time(f64),
    /// After this long on the current line, or at progression on it if that comes first.
    TimeOrProgression(f64),
}

/// An arm's schedule: the name of a file in `schedules/`, or the schedule itself.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleRef {
    /// A schedule file's name (in `schedules/` beside the scenario, above it, or built in).
    Named(String),
    /// The schedule written in place.
    Inline(ScheduleSpec),
}

impl Serialize for ScheduleRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ScheduleRef::Named(name) => serializer.serialize_str(name),
            ScheduleRef::Inline(spec) => spec.serialize(serializer),
        }
    }
}

impl JsonSchema for ScheduleRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ScheduleRef".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let inline = generator.subschema_for::<ScheduleSpec>();
        json_schema!({
            "description": "The name of a schedule file in schedules/ (or a built-in schedule), or the schedule itself.",
            "anyOf": [
                { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" },
                inline
            ]
        })
    }
}

impl<'de> Deserialize<'de> for ScheduleRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = ScheduleRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a schedule name from schedules/ or an inline schedule \
                     (continuous, intermittent, adaptive, holiday, modulation, containment, \
                     mpc or piecewise)",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ScheduleRef::Named(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ScheduleSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ScheduleRef::Inline)
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

/// A dosing schedule of one drug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ScheduleSpec {
    /// The same dose every `interval`.
    Continuous(ContinuousSpec),
    /// Cycles of `on` time units dosing and `off` time units without.
    Intermittent(IntermittentSpec),
    /// Zhang 2017/2022: stop below a fraction of the marker at treatment start, resume above
    /// a fraction. Decides at visits from the observed marker only.
    Adaptive(AdaptiveSpec),
    /// Treat to response (a fixed lead-in or the marker below a fraction of baseline), take
    /// a drug holiday (fixed length or until the marker climbs back), rechallenge; repeated.
    Holiday(HolidaySpec),
    /// Change the dose by a step when the marker rises or falls by more than a margin
    /// between visits; skip doses when it falls a lot.
    Modulation(ModulationSpec),
    /// Hold the marker at a target with the smallest dose up to a maximum (Viossat & Noble
    /// 2021), by feedback on the observed marker.
    Containment(ContainmentSpec),
    /// A model-predictive rule: a particle filter over the hidden compartments at every
    /// visit, and at each re-planning time the action whose look-ahead on the filter's
    /// hypotheses is best (docs/mpc.md).
    Mpc(Box<MpcSpec>),
    /// An explicit dose per period (what the optimiser emits).
    Piecewise(PiecewiseSpec),
    /// Dosing records in the NONMEM / mrgsolve convention, inline or from a CSV file.
    Events(EventsSpec),
}

/// The same dose at a fixed interval for the whole horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinuousSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
}

/// Cycles of `on` time units dosing and `off` without.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntermittentSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Time units on drug per cycle.
    pub on: f64,
    /// Time units off drug per cycle.
    pub off: f64,
    /// Time before the first cycle starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_delay: Option<f64>,
}

/// Adaptive therapy (Zhang 2017/2022): decides at visits from the observed marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Stop dosing when the marker falls below this fraction of its value at treatment start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_below: Option<f64>,
    /// Resume when the marker climbs back to this fraction of its value at treatment start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_above: Option<f64>,
    /// Decide at every k-th visit only (1: every visit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_visits: Option<u32>,
}

/// Treatment to response, a drug holiday, rechallenge; repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidaySpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Treat for this long before each holiday (give this or `respond_below`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_in: Option<f64>,
    /// Or treat until the marker falls below this fraction of its value at treatment start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond_below: Option<f64>,
    /// Holiday length in time units (give this or `resume_above`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday: Option<f64>,
    /// Or stay off until the marker is back to this fraction of its value at treatment start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_above: Option<f64>,
    /// After this many holidays, treat continuously (no limit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cycles: Option<u32>,
}

/// Dose modulation: a step up or down when the marker moves by more than a margin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModulationSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Relative dose change per decision (0.25 = ±25 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Relative marker change between visits that triggers a change (0.1 = 10 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    /// A fall larger than this fraction between visits skips dosing until the next visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_below: Option<f64>,
    /// Smallest dose when dosing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_dose: Option<f64>,
    /// Largest dose (the drug's max_dose, else the starting dose, if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dose: Option<f64>,
}

/// Containment (Viossat & Noble 2021): the smallest dose that holds the marker at a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainmentSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Target marker as a multiple of its value at treatment start (e.g. the tolerable
    /// burden over the initial one).
    pub target: f64,
    /// Largest dose (Cmax); `dose` is the starting dose (0 if left out: no treatment until
    /// the target is reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dose: Option<f64>,
    /// How the dose follows the marker: `pi` (default), `hold` or `integral`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<ContainmentControl>,
    /// `pi`: dose per e-fold of marker over target, now (default: tuned on the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proportional: Option<f64>,
    /// `pi`: dose added per visit per e-fold of marker over target (default: tuned on the
    /// model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integral: Option<f64>,
    /// `integral`: dose change per visit for each e-fold of marker over target (default:
    /// max_dose / 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
}

/// How a containment rule follows the marker (docs/model.md, "Containment").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainmentControl {
    /// Proportional–integral feedback with anti-windup; gains tuned on the model unless given.
    Pi,
    /// The dose the scenario's model expects to bring the marker to the target by the next
    /// visit, the model corrected to each observation.
    Hold,
    /// Integral feedback alone (oscillates on a growing tumour; kept for comparison).
    Integral,
}

/// A model-predictive rule (docs/mpc.md). Every setting has a default; the cost of one
/// decision is actions × continuations × plan_particles × lookahead particle-days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MpcSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose when on (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Dose amounts the rule may give when on (default: `[dose]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<f64>>,
    /// Shares of the re-planning interval the rule may dose for, from its start (default
    /// `[1]`: on for the whole interval or off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<f64>>,
    /// Time between re-plans (default: the visit interval); the minimum time on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<f64>,
    /// Hypotheses in the particle filter (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub particles: Option<usize>,
    /// Hypotheses drawn from the filter for each plan (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_particles: Option<usize>,
    /// Length of the look-ahead window (default: one year, within the horizon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookahead: Option<f64>,
    /// Thresholds θ of the rule that carries each action on to the end of the window:
    /// dose while the marker is at least θ × the progression threshold (default
    /// `[0, 0.9]`; 0 is continuous dosing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuations: Option<Vec<f64>>,
    /// What the plan maximises: `ttp` (expected time to progression within the window,
    /// default) or `progression_free` (the chance of none within it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<MpcObjectiveSpec>,
    /// Share of the worst outcomes the objective averages (default 1: the mean; 0.2 the
    /// mean of the worst fifth, a risk-averse plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<f64>,
    /// CV of an extra spread of every hypothesis' initial counts on top of the scenario's
    /// virtual-patient laws (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// CV of the jitter of every count after each resampling (default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    /// CV of the measurement error the filter assumes (default: the scenario's noise_cv,
    /// at least 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood_cv: Option<f64>,
    /// Stop simulating an action clearly worse than the leader (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race: Option<bool>,
    /// The engine that moves the filter's hypotheses between visits: `ode` (default) or
    /// `stochastic` (where counts are cells: in rollouts, or with cells_per_unit 1); plans
    /// always use the ODE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_engine: Option<MpcEngineSpec>,
}

/// The engine of a model-predictive rule's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MpcEngineSpec {
    /// The mean-field ODE.
    Ode,
    /// The stochastic engine (demographic noise in every hypothesis).
    Stochastic,
}

/// What a model-predictive plan maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MpcObjectiveSpec {
    /// Expected time to progression, censored at the end of the look-ahead window.
    Ttp,
    /// Probability of no progression within the window.
    ProgressionFree,
}

/// An explicit dose per period (what the optimiser emits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PiecewiseSpec {
    /// The drug dosed (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Amount per dose (the drug's standard dose if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// Time between doses (1 time unit if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Length of each period in time units.
    pub period: f64,
    /// Dose given every `interval` within each period; after the last period, none.
    pub doses: Vec<f64>,
    /// Time on drug at the start of each period (the whole period if left out); the rest
    /// of the period is a holiday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<f64>>,
}

/// Dosing records in the NONMEM convention, inline or from a CSV file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// The drug of records without `cmt` (the scenario's first drug if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Not used: each record gives its `amt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<f64>,
    /// How long a dose level lasts when a record gives neither `rate` nor `ii` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// The records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<EventRecord>,
    /// Or a CSV file of records (upper-case headers ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS),
    /// relative to the scenario file; the resolved form holds its records inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

pub use crate::protocol::events::EventRecord;

/// The dosing fields every schedule family shares, borrowed for resolution and checks.
pub struct Dosing<'a> {
    /// The drug dosed.
    pub drug: &'a mut Option<String>,
    /// Amount per dose.
    pub dose: &'a mut Option<f64>,
    /// Time between doses.
    pub interval: &'a mut Option<f64>,
}

impl ScheduleSpec {
    /// The dosing fields of this schedule, to fill defaults and check them in one place.
    pub fn dosing_mut(&mut self) -> Dosing<'_> {
        match self {
            ScheduleSpec::Continuous(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Intermittent(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Adaptive(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Holiday(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Modulation(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Containment(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Mpc(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Piecewise(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
            ScheduleSpec::Events(s) => Dosing {
                drug: &mut s.drug,
                dose: &mut s.dose,
                interval: &mut s.interval,
            },
        }
    }

    /// The YAML key of this schedule family.
    pub fn family(&self) -> &'static str {
        match self {
            ScheduleSpec::Continuous(_) => "continuous",
            ScheduleSpec::Intermittent(_) => "intermittent",
            ScheduleSpec::Adaptive(_) => "adaptive",
            ScheduleSpec::Holiday(_) => "holiday",
            ScheduleSpec::Modulation(_) => "modulation",
            ScheduleSpec::Containment(_) => "containment",
            ScheduleSpec::Mpc(_) => "mpc",
            ScheduleSpec::Piecewise(_) => "piecewise",
            ScheduleSpec::Events(_) => "events",
        }
    }
}

/// A file in `schedules/`: one named, documented schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Version of the schedule file format (1).
    pub format_version: u32,
    /// What the schedule is and where it comes from.
    #[serde(default)]
    pub description: String,
    /// The unit of every time in the schedule (days when left out); a scenario that counts
    /// time in another unit cannot use the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_units: Option<TimeUnit>,
    /// The schedule.
    pub schedule: ScheduleSpec,
}

/// The JSON Schema of a scenario file, generated from these types (`regimen schema`;
/// shipped as `docs/scenario.schema.json` so editors can check scenario files as they are
/// typed). It checks structure, names and types; ranges and cross-references are
/// `regimen check`'s.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioSpec);
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot write the schema: {e}\"}}"));
    text.push('\n');
    text
}
