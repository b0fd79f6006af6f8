//! The plan of an optimisation run: the scenario's `optimise:` block, overridden by
//! command-line flags, with every default filled in.

use super::family::{Family, Solver};
use super::lp::LpTarget;
use super::objective::Objective;
use super::robust::{Design, Measure, RobustPlan};
use super::sensitivity::{self, SensitivityPlan};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::scenario::Scenario;
use crate::scenario::spec::{
    BoundsSpec, ConstraintsSpec, FamilyName, LpTargetName, ObjectiveSpec, OptimiseSpec,
    RobustMeasureSpec, RobustPointsSpec, RobustSpec, SolverName,
};
use std::time::Duration;

/// Settings given on the command line; each replaces the block's value when set.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overrides {
    /// `--objective`.
    pub objective: Option<Objective>,
    /// `--rollouts`: rollouts per candidate while searching.
    pub rollouts: Option<u64>,
    /// `--holdout`: rollouts of the hold-out re-scoring.
    pub holdout: Option<u64>,
    /// `--budget-evals`: distinct schedules scored per family.
    pub budget_evals: Option<u64>,
    /// `--max-relative-dose`.
    pub max_relative_dose: Option<f64>,
    /// `--families`.
    pub families: Option<Vec<FamilyName>>,
    /// `--solver`.
    pub solver: Option<Solver>,
    /// `--no-racing` (false).
    pub racing: Option<bool>,
    /// `--pareto`: the dose limits of the front.
    pub pareto: Option<Vec<f64>>,
    /// `--no-sensitivity` (false).
    #[serde(default)]
    pub sensitivity: Option<bool>,
}

/// The LP's part of the plan (its dose budget comes from each dose limit in turn).
#[derive(Debug, Clone, PartialEq)]
pub struct LpPlan {
    /// Most marker relative to time 0 in every period: the marker cap if one is set,
    /// otherwise the progression rule's factor (without a cap, "fewest resistant cells"
    /// is met by never treating and letting sensitive cells crowd them out).
    pub cap: f64,
    /// The factor (≤ 1) the LP holds the true marker under `cap` by, so that a noisy
    /// measurement passes the cap by noise alone at most 5 % of the time: e^{−1.645 σ} with
    /// σ² = ln(1 + cv²) for the marker's lognormal error of coefficient of variation cv
    /// (1 without noise).
    pub noise_margin: f64,
    /// Dose given on an on day.
    pub dose: f64,
    /// Time between doses.
    pub interval: f64,
    /// Length of a period of the plan.
    pub period: f64,
    /// What the LP minimises.
    pub target: LpTarget,
    /// Largest change of a period's time on in one step (a fraction of the period).
    pub trust_region: f64,
    /// Most sequential-LP steps.
    pub max_iterations: usize,
    /// Further dose levels of the searched drug.
    pub levels: Vec<f64>,
    /// Further drugs planned with it.
    pub others: Vec<super::lp::LpDrug>,
}

/// Everything an optimisation run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What the search maximises.
    pub objective: Objective,
    /// The searched drug.
    pub drug: usize,
    /// Seed of the tuning rollouts (the hold-out seed is the next).
    pub seed: u64,
    /// Rollouts per candidate while searching.
    pub rollouts: u64,
    /// Rollouts of the hold-out re-scoring.
    pub holdout: u64,
    /// Distinct schedules scored per family.
    pub budget_per_family: u64,
    /// The families searched, with their bounds.
    pub families: Vec<Family>,
    /// The LP relaxation, if searched.
    pub lp: Option<LpPlan>,
    /// The solver after the design.
    pub solver: Solver,
    /// Race candidates on the tuning rollouts.
    pub racing: bool,
    /// Most mean cumulative dose relative to continuous dosing at the standard dose.
    pub max_relative_dose: Option<f64>,
    /// Most marker before progression, relative to time 0.
    pub marker_cap: Option<f64>,
    /// Bi-objective mode: the dose limits of the front.
    pub pareto: Option<Vec<f64>>,
    /// Stop searching after this long.
    pub time_limit: Option<Duration>,
    /// The continuous schedule dose limits are relative to.
    pub continuous_interval: f64,
    /// The searched drug's standard dose.
    pub standard_dose: f64,
    /// Things the plan left out, and why (printed as notes).
    pub notes: Vec<String>,
    /// Score candidates under parameter uncertainty (the block's `robust:`).
    pub robust: Option<RobustPlan>,
    /// The sensitivity report of the leaderboard's entries, unless turned off.
    pub sensitivity: Option<SensitivityPlan>,
}

/// Default rollouts per candidate, hold-out rollouts and evaluations per family.
pub const DEFAULT_ROLLOUTS: u64 = 200;
/// Default hold-out rollouts.
pub const DEFAULT_HOLDOUT: u64 = 1000;
/// Default distinct schedules scored per family.
pub const DEFAULT_BUDGET_EVALS: u64 = 40;

/// `rmst`, `median`, `pfs:T` or `cvar:A`, as on the command line.
pub fn parse_objective(text: &str) -> Result<Objective> {
    let number = |s: &str, what: &str| -> Result<f64> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--objective {text}: {what} must be a positive number, got `{s}`"
                ))
            })
    };
    match text.split_once(':') {
        None if text == "rmst" => Ok(Objective::RestrictedMeanTtp),
        None if text == "median" => Ok(Objective::MedianTtp),
        Some(("pfs", t)) => Ok(Objective::PfsAt(number(t, "the time")?)),
        Some(("cvar", a)) => {
            let a = number(a, "the fraction")?;
            if a > 1.0 {
                return Err(Error::Usage(format!(
                    "--objective {text}: the CVaR fraction must be in (0, 1]"
                )));
            }
            Ok(Objective::Cvar(a))
        }
        _ => Err(Error::Usage(format!(
            "--objective must be rmst, median, pfs:T or cvar:A, got `{text}`"
        ))),
    }
}

/// The same rule for `--objective` as for the `optimise:` block's objective: a P(PFS) time
/// within the horizon.
pub fn check_objective(o: Objective, horizon: f64) -> Result<()> {
    if let Objective::PfsAt(t) = o
        && t > horizon
    {
        return Err(Error::Usage(format!(
            "--objective pfs:{t}: pfs_at must be a time in (0, horizon = {horizon}], got {t}"
        )));
    }
    Ok(())
}

/// The objective's name as `--objective` takes it.
pub fn objective_name(o: Objective) -> String {
    match o {
        Objective::RestrictedMeanTtp => "rmst".to_owned(),
        Objective::MedianTtp => "median".to_owned(),
        Objective::PfsAt(t) => format!("pfs:{t}"),
        Objective::Cvar(a) => format!("cvar:{a}"),
    }
}

impl Plan {
    /// The plan for `scenario` (validated, so its `optimise:` block is within range).
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        overrides: &Overrides,
        time_limit: Option<Duration>,
    ) -> Result<Plan> {
        let block = scenario
            .resolved_spec()
            .optimise
            .clone()
            .unwrap_or_default();
        let constraints = block.constraints.clone().unwrap_or_default();
        let basis = Basis::new(scenario, &block)?;
        let chosen = overrides
            .families
            .clone()
            .or(block.families.clone())
            .unwrap_or_else(|| FamilyName::ALL.to_vec());
        let mut families = Vec::new();
        let mut lp = None;
        let mut notes = Vec::new();
        for name in chosen {
            if name == FamilyName::Lp {
                lp = Some(basis.lp_plan(scenario, &block, &constraints));
            } else if let Some(family) = basis.family(name, &mut notes) {
                families.push(family);
            }
        }
        let plan = Plan {
            objective: objective(overrides, block.objective),
            drug: basis.drug,
            seed,
            rollouts: overrides
                .rollouts
                .or(block.rollouts)
                .unwrap_or(DEFAULT_ROLLOUTS),
            holdout: overrides
                .holdout
                .or(block.holdout)
                .unwrap_or(DEFAULT_HOLDOUT),
            budget_per_family: overrides
                .budget_evals
                .or(block.budget_evals)
                .unwrap_or(DEFAULT_BUDGET_EVALS),
            families,
            lp,
            solver: overrides.solver.unwrap_or(match block.solver {
                Some(SolverName::ParticleSwarm) => Solver::ParticleSwarm,
                Some(SolverName::NelderMead) | None => Solver::NelderMead,
            }),
            racing: overrides.racing.or(block.racing).unwrap_or(true),
            max_relative_dose: overrides
                .max_relative_dose
                .or(constraints.max_relative_dose),
            marker_cap: constraints.marker_cap,
            pareto: overrides.pareto.clone().or(block.pareto).map(|mut levels| {
                levels.sort_by(f64::total_cmp);
                levels.dedup();
                levels
            }),
            time_limit,
            continuous_interval: basis.interval,
            standard_dose: basis.standard,
            notes,
            robust: block.robust.as_ref().map(|r| robust_plan(scenario, r)),
            sensitivity: None,
        };
        let mut plan = plan;
        let sens = block.sensitivity.clone().unwrap_or_default();
        if overrides.sensitivity.or(sens.enabled).unwrap_or(true) {
            let parameters: Vec<(String, f64)> = if !sens.parameters.is_empty() {
                sens.parameters
                    .iter()
                    .map(|(p, w)| (p.to_owned(), *w))
                    .collect()
            } else if let Some(r) = plan.robust.as_ref().filter(|r| !r.uncertain.is_empty()) {
                r.uncertain.clone()
            } else {
                sensitivity::default_parameters(scenario)
            };
            if parameters.is_empty() {
                plan.notes.push(
                    "no sensitivity report: the scenario has no drug effect or birth rate to \
                     change (name parameters in optimise.sensitivity.parameters)"
                        .to_owned(),
                );
            } else {
                plan.sensitivity = Some(SensitivityPlan {
                    parameters,
                    rollouts: sens
                        .rollouts
                        .unwrap_or(plan.rollouts.min(sensitivity::DEFAULT_ROLLOUTS)),
                });
            }
        }
        if plan.rollouts == 0 || plan.holdout == 0 || plan.budget_per_family == 0 {
            return Err(Error::Usage(
                "rollouts, holdout and budget_evals must be at least 1".to_owned(),
            ));
        }
        if plan.families.is_empty() && plan.lp.is_none() {
            return Err(Error::Usage("no family left to search".to_owned()));
        }
        Ok(plan)
    }

    /// Continuous dosing of the searched drug at its standard dose: what dose limits, regrets
    /// and cliffs are measured against.
    pub fn continuous(&self) -> crate::protocol::schedule::Schedule {
        crate::protocol::schedule::Schedule::Continuous {
            drug: self.drug,
            dose: self.standard_dose,
            interval: self.continuous_interval,
        }
    }

    /// The dose limits the run searches under: each level of the front in bi-objective
    /// mode, otherwise the one limit (or none).
    pub fn dose_limits(&self) -> Vec<Option<f64>> {
        match &self.pareto {
            Some(levels) => levels.iter().map(|l| Some(*l)).collect(),
            None => vec![self.max_relative_dose],
        }
    }
}

/// The block's `robust:` settings, the models' paths taken relative to the scenario file.
fn robust_plan(scenario: &Scenario, r: &RobustSpec) -> RobustPlan {
    let folder = scenario
        .source
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    RobustPlan {
        measure: match r.measure {
            None | Some(RobustMeasureSpec::Worst) => Measure::Worst,
            Some(RobustMeasureSpec::Mean) => Measure::Mean,
            Some(RobustMeasureSpec::Regret) => Measure::Regret,
            Some(RobustMeasureSpec::Quantile(q)) => Measure::Quantile(q),
        },
        uncertain: r
            .uncertain
            .iter()
            .map(|(p, w)| (p.to_owned(), *w))
            .collect(),
        design: match r.points {
            None | Some(RobustPointsSpec::Corners) => Design::Corners,
            Some(RobustPointsSpec::Axes) => Design::Axes,
            Some(RobustPointsSpec::Draws(n)) => Design::Draws(n),
        },
        models: r.models.iter().map(|m| folder.join(m)).collect(),
    }
}

/// The objective: the override, else the block's, else restricted mean TTP.
fn objective(overrides: &Overrides, block: Option<ObjectiveSpec>) -> Objective {
    overrides.objective.unwrap_or(match block {
        None | Some(ObjectiveSpec::Rmst) => Objective::RestrictedMeanTtp,
        Some(ObjectiveSpec::Median) => Objective::MedianTtp,
        Some(ObjectiveSpec::PfsAt(t)) => Objective::PfsAt(t),
        Some(ObjectiveSpec::Cvar(a)) => Objective::Cvar(a),
    })
}

/// What every family's bounds are made from: the searched drug, its doses and the scenario's
/// time scale.
struct Basis {
    drug: usize,
    /// One day in the scenario's time units.
    day: f64,
    /// Time between doses (one day).
    interval: f64,
    standard: f64,
    max: f64,
    /// The only doses allowed (empty: any).
    levels: Vec<f64>,
    bounds: BoundsSpec,
    /// Bounds of the visits between adaptive decisions.
    cadence: (f64, f64),
    /// The companion family's second drug, if the scenario has one.
    companion: Option<CompanionDrug>,
    /// The scenario's horizon and progression rule (the sequence family's).
    horizon: f64,
    rule: crate::protocol::observe::ProgressionRule,
}

/// The second drug of the `companion` family.
struct CompanionDrug {
    drug: usize,
    standard: f64,
    max: f64,
    /// Its time-on budget (on, window).
    budget: Option<(f64, f64)>,
}

impl Basis {
    fn new(scenario: &Scenario, block: &OptimiseSpec) -> Result<Basis> {
        let drug = match &block.drug {
            Some(name) => scenario
                .drugs
                .iter()
                .position(|d| &d.name == name)
                .ok_or_else(|| Error::Usage(format!("optimise.drug: unknown drug `{name}`")))?,
            None => 0,
        };
        let drug_spec = scenario.drugs.get(drug).ok_or_else(|| {
            Error::Usage("optimise needs a drug: the scenario defines none".to_owned())
        })?;
        let standard = drug_spec.standard_dose.ok_or_else(|| {
            Error::Usage(format!(
                "optimise needs a standard_dose for drug `{}`",
                scenario.drugs[drug].name
            ))
        })?;
        let constraints = block.constraints.clone().unwrap_or_default();
        let bounds = block.bounds.clone().unwrap_or_default();
        let visits_min = constraints
            .min_visit_interval
            .map_or(1.0, |m| (m / scenario.marker.every - 1e-9).ceil().max(1.0));
        let cadence = bound(bounds.every_visits, (visits_min, visits_min + 3.0));
        let day = 1.0 / scenario.time_units.in_days();
        let second = match &block.companion {
            Some(name) => Some(
                scenario
                    .drugs
                    .iter()
                    .position(|d| &d.name == name)
                    .filter(|&i| i != drug)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "optimise.companion: `{name}` is not a drug of the scenario other \
                             than the searched one"
                        ))
                    })?,
            ),
            None => (0..scenario.drugs.len()).find(|&i| i != drug),
        };
        let companion = second.map(|i| {
            let d = &scenario.drugs[i];
            let standard = d.standard_dose.or(d.max_dose).unwrap_or(1.0);
            CompanionDrug {
                drug: i,
                standard,
                max: d.max_dose.unwrap_or(standard).max(standard),
                budget: scenario
                    .toxicity
                    .get(i)
                    .and_then(|b| b.as_ref())
                    .and_then(|b| b.max_time_on),
            }
        });
        Ok(Basis {
            companion,
            horizon: scenario.horizon,
            rule: scenario.progression,
            drug,
            day,
            interval: day.max(f64::MIN_POSITIVE),
            standard,
            max: drug_spec.max_dose.unwrap_or(standard).max(standard),
            levels: constraints.dose_levels.clone().unwrap_or_default(),
            bounds,
            cadence: (cadence.0.max(visits_min), cadence.1.max(visits_min)),
        })
    }

    /// The dose of families with one dose: the standard dose, or the allowed level nearest
    /// to it.
    fn level_dose(&self) -> f64 {
        if self.levels.is_empty() {
            self.standard
        } else {
            super::family::nearest(&self.levels, self.standard)
        }
    }

    /// Family `name` with its bounds, or `None` (and a note saying why) when the
    /// constraints leave it out.
    fn family(&self, name: FamilyName, notes: &mut Vec<String>) -> Option<Family> {
        let (b, day, drug, interval) = (&self.bounds, self.day, self.drug, self.interval);
        Some(match name {
            FamilyName::Intermittent => {
                let doses = if self.levels.is_empty() {
                    (0.5 * self.standard, self.max)
                } else {
                    (
                        self.levels.iter().copied().fold(f64::INFINITY, f64::min),
                        self.levels
                            .iter()
                            .copied()
                            .fold(f64::NEG_INFINITY, f64::max),
                    )
                };
                Family::Intermittent {
                    drug,
                    interval,
                    on: bound(b.on, (day, 56.0 * day)),
                    off: bound(b.off, (0.0, 28.0 * day)),
                    dose: bound(b.dose, doses),
                    levels: self.levels.clone(),
                }
            }
            FamilyName::Holiday => Family::Holiday {
                drug,
                dose: self.level_dose(),
                interval,
                lead_in: bound(b.lead_in, (7.0 * day, 112.0 * day)),
                holiday: bound(b.holiday, (7.0 * day, 84.0 * day)),
                levels: self.levels.clone(),
            },
            FamilyName::Adaptive => Family::Adaptive {
                drug,
                dose: self.level_dose(),
                interval,
                stop_below: bound(b.stop_below, (0.1, 0.9)),
                resume_above: bound(b.resume_above, (0.5, 1.5)),
                every_visits: self.cadence,
                levels: self.levels.clone(),
            },
            FamilyName::Modulation if self.levels.is_empty() => Family::Modulation {
                drug,
                dose: self.standard,
                interval,
                min_dose: 0.25 * self.standard,
                max_dose: self.max,
                step: bound(b.step, (0.05, 0.5)),
                margin: bound(b.margin, (0.0, 0.3)),
            },
            FamilyName::Modulation => {
                notes.push(
                    "modulation left out: its doses vary continuously, which \
                     constraints.dose_levels does not allow"
                        .to_owned(),
                );
                return None;
            }
            FamilyName::Companion => {
                let Some(c) = &self.companion else {
                    notes.push("companion left out: the scenario has only one drug".to_owned());
                    return None;
                };
                Family::Companion {
                    base: drug,
                    base_dose: self.level_dose(),
                    drug: c.drug,
                    interval,
                    start: bound(b.start, (0.0, 182.0 * day)),
                    on: (day, 28.0 * day),
                    off: (0.0, 56.0 * day),
                    dose: (c.standard, c.max),
                    levels: Vec::new(),
                    budget: c.budget,
                }
            }
            FamilyName::Sequence => {
                let Some(c) = &self.companion else {
                    notes.push("sequence left out: the scenario has only one drug".to_owned());
                    return None;
                };
                Family::Sequence {
                    first: drug,
                    first_dose: self.level_dose(),
                    second: c.drug,
                    second_dose: c.standard,
                    interval,
                    switch: bound(b.switch, (28.0 * day, self.horizon.max(28.0 * day))),
                    rule: self.rule,
                }
            }
            FamilyName::Lp => return None,
        })
    }

    /// The LP relaxation's settings.
    fn lp_plan(
        &self,
        scenario: &Scenario,
        block: &OptimiseSpec,
        constraints: &ConstraintsSpec,
    ) -> LpPlan {
        let lp = block.lp.clone().unwrap_or_default();
        let has_resistant = scenario
            .model
            .compartments
            .iter()
            .any(|c| c.role == Role::Resistant);
        let target = match lp.target {
            Some(LpTargetName::Total) => LpTarget::Total,
            Some(LpTargetName::Resistant) => LpTarget::Resistant,
            None if has_resistant => LpTarget::Resistant,
            None => LpTarget::Total,
        };
        let (day, interval) = (self.day, self.interval);
        let period = lp.period.unwrap_or(28.0 * day).max(interval);
        let cv = scenario.marker.noise_cv;
        LpPlan {
            cap: constraints
                .marker_cap
                .unwrap_or(scenario.progression.marker_factor()),
            noise_margin: (-1.645 * (1.0 + cv * cv).ln().sqrt()).exp(),
            dose: self.level_dose(),
            interval,
            period: (period / interval).round().max(1.0) * interval,
            target,
            trust_region: lp.trust_region.unwrap_or(7.0 * day),
            max_iterations: lp.max_iterations.unwrap_or(30) as usize,
            levels: lp.levels.clone().unwrap_or_default(),
            others: lp
                .with
                .iter()
                .flatten()
                .filter_map(|w| {
                    let i = scenario.drugs.iter().position(|d| d.name == w.drug)?;
                    let d = &scenario.drugs[i];
                    let standard = d.standard_dose.or(d.max_dose).unwrap_or(1.0);
                    // Days on: as given, else the time-on budget's share of the horizon.
                    let share = scenario
                        .toxicity
                        .get(i)
                        .and_then(|b| b.as_ref())
                        .and_then(|b| b.max_time_on)
                        .map_or(1.0, |(on, window)| (on / window).min(1.0));
                    Some(super::lp::LpDrug {
                        drug: i,
                        levels: w.levels.clone().unwrap_or_else(|| vec![standard]),
                        max_on: w
                            .max_days_on
                            .map_or(share * scenario.horizon, |days| days * day),
                    })
                })
                .collect(),
        }
    }
}

/// `[low, high]` as given, or the default.
fn bound(given: Option<[f64; 2]>, default: (f64, f64)) -> (f64, f64) {
    given.map_or(default, |[lo, hi]| (lo, hi))
}
