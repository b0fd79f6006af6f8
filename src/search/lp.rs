//! The LP relaxation: a sequential linear programme over the time on drug in each period.
//!
//! The horizon is split into periods of length `L`; in period `k` the drug is given for the
//! first `o_k ∈ [0, L]` time units (`o_k / L` is the period's duty cycle). Around a current
//! schedule `ō` the deterministic model's map from on-times to log-populations is linearised
//! by forward differences of one dosing interval (each column is one ODE run of the
//! implementable schedule with one more dose in period `j`; the runs are independent and
//! run in parallel). With
//!
//! * `z(o)`: ln of the target load at the horizon (resistant cells, or all cells) plus one
//!   cell, and
//! * `y_k(o)`: ln of the peak marker in period `k` over the cap (`y_k ≤ 0` is "under the
//!   cap"),
//!
//! each step solves the LP
//!
//! ```text
//! minimise   z̄ + Σ_j ∂z/∂o_j (o_j − ō_j) + ρ Σ_k s_k
//! subject to ȳ_k + Σ_j ∂y_k/∂o_j (o_j − ō_j) ≤ s_k,  s_k ≥ 0      (cap, softened)
//!            Σ_j o_j ≤ B                                          (dose budget)
//!            max(0, ō_j − Δ) ≤ o_j ≤ min(L_j, ō_j + Δ)            (trust region)
//! ```
//!
//! with good_lp's pure-Rust microlp backend (HiGHS with the `highs` feature). The LP's
//! solution is rounded to whole dosing intervals without exceeding the budget and run; the
//! step is kept if the merit `z + ρ Σ_k max(0, y_k)` fell, and the trust region grows;
//! otherwise it halves. The iteration stops when the trust region is below one dosing
//! interval or after `max_iterations` steps.
//!
//! **When the cap cannot be held to the horizon** (progression before the horizon is
//! unavoidable for every schedule the budget allows), minimising the summed violation says
//! nothing about time to progression: the LP would spread the violation and leave most of
//! the budget unspent. The LP then tracks time to progression instead: a sequence of
//! sequential LPs, each holding the cap only in the first K periods (the later ones free),
//! with K found by bisection as the most leading periods a schedule can hold — the LP
//! version of "maximise the number of periods before the burden first crosses the
//! threshold". Each is warm-started from the best schedule so far (the first descent's, or a
//! uniform duty cycle of 1/8 to all of each period that the budget allows, whichever
//! progresses last), and the schedule kept is the one with the latest first crossing, then
//! the lowest merit; when the budget allows continuous dosing, continuous dosing is one of
//! the candidates, so the LP's schedule is never worse than it on the ODE.

use crate::error::{Error, Result};
use crate::model::Role;
use crate::protocol::schedule::Schedule;
use crate::scenario::Arm;
use crate::scenario::Scenario;
use crate::sim::{Paused, RunOptions, RunResult, run_deterministic, run_deterministic_pausing};
#[cfg(feature = "highs")]
use good_lp::highs as lp_solver;
#[cfg(not(feature = "highs"))]
use good_lp::microlp as lp_solver;
use good_lp::{
    Expression, ProblemVariables, Solution, SolverModel, Variable, constraint, variable,
};
use rayon::prelude::*;

/// Penalty per unit of ln(peak / cap) over the cap, in units of ln(target load): large
/// enough that the LP never trades a cap violation for a smaller load.
const CAP_PENALTY: f64 = 100.0;

/// What the LP minimises at the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LpTarget {
    /// Cells of resistant-role compartments.
    Resistant,
    /// All cells.
    Total,
}

impl LpTarget {
    /// The name as the scenario's `lp.target` spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            LpTarget::Resistant => "resistant",
            LpTarget::Total => "total",
        }
    }
}

/// Settings of the sequential LP.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSettings {
    /// The drug dosed.
    pub drug: usize,
    /// Amount per dose on dosing days.
    pub dose: f64,
    /// Time between doses.
    pub interval: f64,
    /// Period length (a whole number of intervals).
    pub period: f64,
    /// What the LP minimises.
    pub target: LpTarget,
    /// Most marker, as a multiple of its value at time 0, at any recorded time (None: no cap).
    pub cap: Option<f64>,
    /// Most time on drug over the horizon (the dose budget).
    pub max_on: f64,
    /// First trust region, in time units.
    pub trust_region: f64,
    /// Most sequential-LP steps.
    pub max_iterations: usize,
    /// Stop stepping after this instant.
    pub deadline: Option<std::time::Instant>,
    /// Further dose levels of `drug`: each level is a variable per period (how long it is
    /// given), the levels of one period together at most the period (empty: `dose` only).
    pub levels: Vec<f64>,
    /// Further drugs planned with the first, each with its levels and its own budget.
    pub others: Vec<LpDrug>,
}

/// A further drug of the LP: its dose levels and its budget of time on.
#[derive(Debug, Clone, PartialEq)]
pub struct LpDrug {
    /// The drug.
    pub drug: usize,
    /// Its dose levels (one at least).
    pub levels: Vec<f64>,
    /// Most time on it over the horizon, at any level.
    pub max_on: f64,
}

/// One variable of the LP: time on `dose` of `drug` in `period`, counted against the budget
/// of `group`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Var {
    group: usize,
    drug: usize,
    dose: f64,
    period: usize,
    /// Its level's place among the group's levels (the first level is 0).
    level: usize,
}

/// What the LP ended up tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LpMode {
    /// No cap: the target load alone.
    Load,
    /// The cap held in every period, and the target load minimised under it.
    CapHeld,
    /// The cap cannot be held to the horizon: the most leading periods held under it.
    TimeToProgression,
}

impl LpMode {
    /// The mode in words, for the leaderboard.
    pub fn as_str(&self) -> &'static str {
        match self {
            LpMode::Load => "load",
            LpMode::CapHeld => "cap held",
            LpMode::TimeToProgression => "periods held",
        }
    }
}

/// One step of the sequential LP.
#[derive(Debug, Clone, PartialEq)]
pub struct LpStep {
    /// Merit predicted by the LP (ln units).
    pub predicted: f64,
    /// Merit of the rounded schedule (ln units).
    pub actual: f64,
    /// The step was taken (the rounded schedule improved the merit).
    pub accepted: bool,
    /// The trust region after the step (a fraction of a period).
    pub trust_region: f64,
    /// Total time on drug of the rounded schedule.
    pub on_total: f64,
}

/// What the sequential LP found.
#[derive(Debug, Clone, PartialEq)]
pub struct LpResult {
    /// On-time per period of the best rounded schedule (whole dosing intervals).
    pub on: Vec<f64>,
    /// The fractional optimum of the LP linearised at `on` (the relaxed solution).
    pub relaxed_on: Vec<f64>,
    /// log10 of the target load the LP predicts for `relaxed_on`.
    pub relaxed_log10: f64,
    /// log10 of the target load of the rounded schedule on the ODE.
    pub rounded_log10: f64,
    /// Largest ln(peak marker / cap) of the rounded schedule (≤ 0: under the cap).
    pub cap_excess: f64,
    /// Time to progression of the rounded schedule on the ODE.
    pub deterministic_ttp: f64,
    /// What the LP tracked.
    pub mode: LpMode,
    /// Leading periods whose peak marker stays under the cap on the ODE.
    pub held_periods: usize,
    /// Periods of the plan.
    pub periods: usize,
    /// LP solves that failed (each a rejected step; the final relaxation's failure leaves
    /// `relaxed_log10` NaN).
    pub solver_failures: usize,
    /// The best rounded schedule.
    pub schedule: Schedule,
    /// Every sequential-LP step.
    pub steps: Vec<LpStep>,
    /// ODE runs made.
    pub evaluations: u64,
}

/// The deterministic profile of one schedule: what the LP constrains and minimises.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    /// ln(target load at the horizon + one cell).
    z: f64,
    /// Per period: ln(peak marker / cap) (0 everywhere without a cap).
    y: Vec<f64>,
    ttp: f64,
}

impl Profile {
    /// The target plus the penalty of the cap's violations in the first `held` periods.
    fn merit(&self, held: usize) -> f64 {
        self.z + CAP_PENALTY * self.y.iter().take(held).map(|v| v.max(0.0)).sum::<f64>()
    }

    /// Leading periods under the cap.
    fn held(&self) -> usize {
        self.y.iter().take_while(|v| **v <= 0.0).count()
    }
}

struct Problem<'a> {
    scenario: &'a Scenario,
    settings: &'a LpSettings,
    /// Length of each period (the last one may be cut by the horizon).
    lengths: Vec<f64>,
    /// The cap is imposed in the first `held` periods only (all of them unless the LP is
    /// tracking time to progression).
    held: usize,
    /// The variables: per drug (group), per level, per period.
    vars: Vec<Var>,
    /// Each group's budget of time on.
    budgets: Vec<f64>,
}

/// The variables of `settings` over `periods` periods: the searched drug's levels, then each
/// further drug's, each level over every period (one drug at one level: one variable per
/// period, in period order).
fn variables(settings: &LpSettings, periods: usize) -> (Vec<Var>, Vec<f64>) {
    let mut groups = vec![(
        settings.drug,
        std::iter::once(settings.dose)
            .chain(settings.levels.iter().copied())
            .collect::<Vec<f64>>(),
        settings.max_on,
    )];
    groups.extend(
        settings
            .others
            .iter()
            .map(|o| (o.drug, o.levels.clone(), o.max_on)),
    );
    let mut vars = Vec::new();
    for (group, (drug, levels, _)) in groups.iter().enumerate() {
        for (level, &dose) in levels.iter().enumerate() {
            for period in 0..periods {
                vars.push(Var {
                    group,
                    drug: *drug,
                    dose,
                    period,
                    level,
                });
            }
        }
    }
    (vars, groups.iter().map(|g| g.2).collect())
}

impl Problem<'_> {
    /// One drug at one level: the plan is a per-period on-time, as the LP always was.
    fn single(&self) -> bool {
        self.vars.len() == self.lengths.len()
    }

    fn schedule(&self, on: &[f64]) -> Schedule {
        if self.single() {
            return Schedule::Piecewise {
                drug: self.settings.drug,
                interval: self.settings.interval,
                period: self.settings.period,
                doses: vec![self.settings.dose; on.len()],
                on: on.to_vec(),
            };
        }
        // Several drugs or levels: within each period, each drug's levels one after the
        // other from the period's start, a dose every interval.
        let h = self.settings.interval;
        let mut doses = Vec::new();
        for (k, _) in self.lengths.iter().enumerate() {
            let start = k as f64 * self.settings.period;
            let mut next: Vec<f64> = vec![start; self.budgets.len()];
            for (v, var) in self.vars.iter().enumerate().filter(|(_, v)| v.period == k) {
                let count = (on[v] / h + 1e-9).floor() as usize;
                for i in 0..count {
                    doses.push((
                        next[var.group] + i as f64 * h,
                        crate::model::pk::Dose {
                            drug: var.drug,
                            amount: var.dose,
                            duration: h,
                        },
                    ));
                }
                next[var.group] += count as f64 * h;
            }
        }
        Schedule::events(doses)
    }

    /// The time one group already spends in `var`'s period on its other levels.
    fn others_in_period(&self, on: &[f64], v: usize) -> f64 {
        let var = self.vars[v];
        self.vars
            .iter()
            .enumerate()
            .filter(|(j, w)| *j != v && w.group == var.group && w.period == var.period)
            .map(|(j, _)| on[j])
            .sum()
    }

    /// The arm of the schedule with on-times `on`. The LP plans the whole horizon: its
    /// linearisation needs every period's on-time to act on the state, so its ODE runs dose
    /// through progression (the rollouts that score the rounded schedule stop at
    /// progression as usual).
    fn arm(&self, on: &[f64]) -> Arm {
        let mut arm = self.scenario.candidate_arm("lp", self.schedule(on));
        arm.treat_beyond_progression = true;
        arm
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            record_every: self.settings.interval.min(self.settings.period),
            noise: None,
        }
    }

    fn profile(&self, on: &[f64]) -> Result<Profile> {
        let run = run_deterministic(self.scenario, &self.arm(on), self.options())?;
        self.profile_of(&run)
    }

    /// What the LP reads from a run: the target load at the horizon and each period's peak
    /// marker over the cap.
    fn profile_of(&self, run: &RunResult) -> Result<Profile> {
        let n = self.scenario.model.n_compartments();
        let traj = &run.trajectory;
        let rows = traj.times.len();
        if rows == 0 {
            return Err(Error::Internal("the LP's run recorded nothing".to_owned()));
        }
        let row = |i: usize| &traj.counts[i * n..(i + 1) * n];
        let marker0 = self.scenario.marker.true_value(row(0));
        let one_cell = 1.0 / self.scenario.cells_per_unit.max(1.0);
        let last = row(rows - 1);
        let load: f64 = match self.settings.target {
            LpTarget::Total => last.iter().sum(),
            LpTarget::Resistant => self
                .scenario
                .model
                .compartments
                .iter()
                .zip(last)
                .filter(|(c, _)| c.role == Role::Resistant)
                .map(|(_, x)| *x)
                .sum(),
        };
        let mut y = vec![0.0; self.lengths.len()];
        if let Some(cap) = self.settings.cap {
            let mut peak = vec![0.0f64; self.lengths.len()];
            let eps = 1e-9 * self.settings.period;
            for (i, &t) in traj.times.iter().enumerate() {
                let m = self.scenario.marker.true_value(row(i));
                // A row on a period boundary counts for both periods it touches.
                let first = (((t - eps) / self.settings.period).floor().max(0.0)) as usize;
                let last = ((t + eps) / self.settings.period).floor() as usize;
                for p in peak.iter_mut().take(last + 1).skip(first) {
                    *p = p.max(m);
                }
            }
            let limit = cap * marker0;
            for (v, p) in y.iter_mut().zip(peak) {
                *v = if p > 0.0 && limit > 0.0 {
                    (p / limit).ln()
                } else {
                    -1.0
                };
            }
        }
        Ok(Profile {
            z: (load.max(0.0) + one_cell).ln(),
            y,
            ttp: run.outcome.ttp,
        })
    }

    /// Forward (or, at the upper bound, backward) differences of one dosing interval.
    /// Column j changes only period j, so its run is the base run's up to that period's
    /// start: the base run is taken once more, paused at every period's start, and each
    /// column carries on from its period's pause (the same numbers as a run from time 0,
    /// tested). Differences are taken against that paused base run, whose segment
    /// boundaries the columns share.
    fn jacobian(&self, on: &[f64]) -> Result<Linearisation> {
        let h = self.settings.interval;
        let starts: Vec<f64> = (0..self.lengths.len())
            .map(|j| j as f64 * self.settings.period)
            .collect();
        let base_arm = self.arm(on);
        let (base_run, paused) =
            run_deterministic_pausing(self.scenario, &base_arm, self.options(), &starts)?;
        let base = &self.profile_of(&base_run)?;
        // Each variable carries on from its period's pause (a copy when several share it).
        let mut paused: Vec<Option<Paused>> = paused.into_iter().map(Some).collect();
        paused.resize_with(self.lengths.len(), || None);
        let shared = self.vars.len() > self.lengths.len();
        let pauses: Vec<Option<Paused>> = self
            .vars
            .iter()
            .map(|var| {
                let p = &mut paused[var.period];
                if shared {
                    p.as_ref().map(Paused::duplicate)
                } else {
                    p.take()
                }
            })
            .collect();
        let columns: Vec<Result<(f64, Vec<f64>)>> = pauses
            .into_par_iter()
            .enumerate()
            .map(|(j, pause)| {
                let room = self.lengths[self.vars[j].period] - self.others_in_period(on, j);
                let step = if on[j] + h <= room + 1e-9 {
                    h
                } else {
                    -h.min(on[j])
                };
                if step == 0.0 {
                    return Ok((0.0, vec![0.0; self.lengths.len()]));
                }
                let mut moved = on.to_vec();
                moved[j] += step;
                let arm = self.arm(&moved);
                let p = match pause {
                    Some(pause) => self.profile_of(&pause.resume(&arm)?)?,
                    None => self.profile(&moved)?,
                };
                Ok((
                    (p.z - base.z) / step,
                    p.y.iter()
                        .zip(&base.y)
                        .map(|(a, b)| (a - b) / step)
                        .collect(),
                ))
            })
            .collect();
        let mut dz = Vec::with_capacity(on.len());
        let mut dy = vec![vec![0.0; on.len()]; self.lengths.len()];
        for (j, c) in columns.into_iter().enumerate() {
            let (gz, gy) = c?;
            dz.push(gz);
            for (k, g) in gy.into_iter().enumerate() {
                dy[k][j] = g;
            }
        }
        Ok(Linearisation { dz, dy })
    }

    /// Whole dosing intervals per variable, as near `on` as possible, never more in total
    /// than each group's budget allows nor more in one period than the period (largest
    /// remainders first).
    fn round(&self, on: &[f64]) -> Vec<f64> {
        let h = self.settings.interval;
        let capacity = |v: usize| self.lengths[self.vars[v].period] / h + 1e-9;
        let units: Vec<f64> = on
            .iter()
            .enumerate()
            .map(|(v, o)| (o.max(0.0) / h).min(capacity(v)))
            .collect();
        let mut whole: Vec<f64> = units.iter().map(|u| (u + 1e-9).floor()).collect();
        // Whole units used in each (group, period).
        let used = |whole: &[f64], v: usize| -> f64 {
            let var = self.vars[v];
            self.vars
                .iter()
                .zip(whole)
                .filter(|(w, _)| w.group == var.group && w.period == var.period)
                .map(|(_, x)| *x)
                .sum()
        };
        for (g, budget) in self.budgets.iter().enumerate() {
            let members: Vec<usize> = (0..units.len())
                .filter(|&v| self.vars[v].group == g)
                .collect();
            let budget_units = (budget / h + 1e-9).floor();
            let wanted = (members.iter().map(|&v| units[v]).sum::<f64>() + 1e-9)
                .round()
                .min(budget_units);
            let mut order = members.clone();
            order.sort_by(|&a, &b| {
                (units[b] - whole[b])
                    .total_cmp(&(units[a] - whole[a]))
                    .then(a.cmp(&b))
            });
            let mut total: f64 = members.iter().map(|&v| whole[v]).sum();
            for v in order {
                if total + 1.0 > wanted + 1e-9 {
                    break;
                }
                if used(&whole, v) + 1.0 <= capacity(v) && units[v] > whole[v] {
                    whole[v] += 1.0;
                    total += 1.0;
                }
            }
        }
        whole.iter().map(|w| w * h).collect()
    }

    /// A uniform duty cycle `duty` on each group's first level (its budget permitting:
    /// `None` when a group's would exceed it), rounded.
    fn uniform(&self, duty: impl Fn(usize) -> f64) -> Vec<f64> {
        let on: Vec<f64> = self
            .vars
            .iter()
            .map(|v| {
                if v.level == 0 {
                    duty(v.group) * self.lengths[v.period]
                } else {
                    0.0
                }
            })
            .collect();
        self.round(&on)
    }

    /// Whether `on` keeps every group's budget.
    fn within_budgets(&self, on: &[f64]) -> bool {
        self.budgets.iter().enumerate().all(|(g, b)| {
            self.vars
                .iter()
                .zip(on)
                .filter(|(v, _)| v.group == g)
                .map(|(_, x)| *x)
                .sum::<f64>()
                <= b + 1e-9
        })
    }
}

/// The linearisation at the current point: ∂z/∂o_j and ∂y_k/∂o_j.
struct Linearisation {
    dz: Vec<f64>,
    dy: Vec<Vec<f64>>,
}

/// Solves one trust-region LP around `on`; returns the fractional solution, the predicted
/// merit and the predicted target z.
fn solve_step(
    problem: &Problem,
    on: &[f64],
    base: &Profile,
    lin: &Linearisation,
    delta: f64,
) -> Result<(Vec<f64>, f64, f64)> {
    let lengths = &problem.lengths;
    let (dz, dy) = (&lin.dz, &lin.dy);
    let capped = problem.settings.cap.is_some();
    let mut vars = ProblemVariables::new();
    let o: Vec<Variable> = on
        .iter()
        .zip(&problem.vars)
        .map(|(&c, v)| {
            let l = lengths[v.period];
            vars.add(variable().min((c - delta).max(0.0)).max((c + delta).min(l)))
        })
        .collect();
    // A slack per capped period (a variable in no constraint would leave the LP's basis
    // singular).
    // A period whose peak does not move with any on-time (far from the doses, or at a
    // saturated burden) needs no constraint: its slack is bounded below by its excess
    // (redundant rows left the solver's basis singular).
    let held = if capped {
        problem.held.min(lengths.len())
    } else {
        0
    };
    let moves = |k: usize| dy[k].iter().any(|g| *g != 0.0);
    let s: Vec<Variable> = (0..held)
        .map(|k| {
            let floor = if moves(k) { 0.0 } else { base.y[k].max(0.0) };
            vars.add(variable().min(floor))
        })
        .collect();
    let change = |g: &[f64]| -> Expression {
        g.iter()
            .zip(&o)
            .zip(on)
            .map(|((gj, v), c)| *gj * (*v - *c))
            .sum()
    };
    let z_lin = base.z + change(dz);
    let objective = z_lin.clone() + CAP_PENALTY * s.iter().copied().sum::<Expression>();
    let mut model = vars.minimise(objective.clone()).using(lp_solver);
    for (k, row) in dy.iter().enumerate().take(held) {
        if moves(k) {
            model = model.with(constraint!(base.y[k] + change(row) <= s[k]));
        }
    }
    // Feasible: the current point is within every budget and period (rounding keeps it so).
    for (g, &budget) in problem.budgets.iter().enumerate() {
        let used: Expression = o
            .iter()
            .zip(&problem.vars)
            .filter(|(_, v)| v.group == g)
            .map(|(x, _)| *x)
            .sum();
        model = model.with(constraint!(used <= budget));
    }
    if !problem.single() {
        for (g, _) in problem.budgets.iter().enumerate() {
            for (k, &l) in lengths.iter().enumerate() {
                let levels: Vec<Variable> = o
                    .iter()
                    .zip(&problem.vars)
                    .filter(|(_, v)| v.group == g && v.period == k)
                    .map(|(x, _)| *x)
                    .collect();
                if levels.len() > 1 {
                    let sum: Expression = levels.into_iter().sum();
                    model = model.with(constraint!(sum <= l));
                }
            }
        }
    }
    let solution = model
        .solve()
        .map_err(|e| Error::Usage(format!("the LP relaxation failed: {e}")))?;
    let x: Vec<f64> = o.iter().map(|v| solution.value(*v)).collect();
    Ok((x, solution.eval(&objective), solution.eval(&z_lin)))
}

/// Steps of the sequential LP from `on` under `problem`'s cap (its first `held` periods):
/// the best rounded schedule found, its profile, and the linearisation at it if one is
/// current.
fn descend(
    problem: &Problem,
    mut on: Vec<f64>,
    evaluations: &mut u64,
    steps: &mut Vec<LpStep>,
    failures: &mut usize,
) -> Result<(Vec<f64>, Profile, Option<Linearisation>)> {
    let settings = problem.settings;
    let held = problem.held;
    let mut base = problem.profile(&on)?;
    *evaluations += 1;
    let mut delta = settings.trust_region.max(settings.interval);
    let mut jacobian: Option<Linearisation> = None;
    for _ in 0..settings.max_iterations {
        if delta < settings.interval - 1e-9
            || settings
                .deadline
                .is_some_and(|d| std::time::Instant::now() >= d)
        {
            break;
        }
        if jacobian.is_none() {
            jacobian = Some(problem.jacobian(&on)?);
            *evaluations += on.len() as u64 + 1;
        }
        let Some(lin) = jacobian.as_ref() else {
            break;
        };
        // A failed solve (the pure-Rust solver can meet a numerically singular basis) is
        // a rejected step: the trust region halves and the LP is solved again.
        let (x, predicted, _) = match solve_step(problem, &on, &base, lin, delta) {
            Ok(step) => step,
            Err(e) => {
                tracing::debug!(error = %e, delta, "LP step not solved");
                *failures += 1;
                delta /= 2.0;
                continue;
            }
        };
        let rounded = problem.round(&x);
        let trial = if rounded == on {
            base.clone()
        } else {
            *evaluations += 1;
            problem.profile(&rounded)?
        };
        let accepted = rounded != on && trial.merit(held) < base.merit(held) - 1e-9;
        steps.push(LpStep {
            predicted,
            actual: trial.merit(held),
            accepted,
            trust_region: delta,
            on_total: rounded.iter().sum(),
        });
        tracing::debug!(
            predicted,
            actual = trial.merit(held),
            accepted,
            delta,
            held,
            "LP step"
        );
        if accepted {
            let reached_edge = rounded
                .iter()
                .zip(&on)
                .any(|(a, b)| (a - b).abs() >= delta - settings.interval);
            on = rounded;
            base = trial;
            jacobian = None;
            if reached_edge {
                delta = (2.0 * delta).min(settings.period);
            }
        } else {
            delta /= 2.0;
        }
    }
    Ok((on, base, jacobian))
}

/// Whether `a` is a better schedule than `b` by time to progression: later progression on
/// the ODE, then more leading periods under the cap, then a lower merit over them.
fn progresses_later(a: &Profile, b: &Profile, held: usize) -> bool {
    a.ttp
        .total_cmp(&b.ttp)
        .then(a.held().cmp(&b.held()))
        .then(b.merit(held).total_cmp(&a.merit(held)))
        .is_gt()
}

/// Runs the sequential LP from a uniform duty cycle that spends the budget; when the cap
/// cannot be held to the horizon, the sequence that tracks time to progression (see the
/// module's documentation).
pub fn optimise_lp(scenario: &Scenario, settings: &LpSettings) -> Result<LpResult> {
    if !(settings.period > 0.0 && settings.interval > 0.0 && settings.period >= settings.interval) {
        return Err(Error::Usage(format!(
            "the LP needs a period ({}) at least one dosing interval ({}) long",
            settings.period, settings.interval
        )));
    }
    let horizon = scenario.horizon;
    let periods = ((horizon / settings.period) - 1e-9).ceil().max(1.0) as usize;
    if periods > 10_000 {
        return Err(Error::Usage(format!(
            "the LP would have {periods} periods; use a longer period"
        )));
    }
    let lengths: Vec<f64> = (0..periods)
        .map(|k| (horizon - k as f64 * settings.period).min(settings.period))
        .collect();
    let (vars, budgets) = variables(settings, periods);
    let mut problem = Problem {
        scenario,
        settings,
        lengths: lengths.clone(),
        held: periods,
        vars,
        budgets,
    };
    let start = problem.uniform(|g| (problem.budgets[g] / horizon).clamp(0.0, 1.0));
    let mut evaluations = 0u64;
    let mut steps = Vec::new();
    let mut failures = 0;
    let (mut on, mut base, mut jacobian) =
        descend(&problem, start, &mut evaluations, &mut steps, &mut failures)?;
    let mode = match settings.cap {
        None => LpMode::Load,
        Some(_) if base.held() == periods => LpMode::CapHeld,
        Some(_) => LpMode::TimeToProgression,
    };
    if mode == LpMode::TimeToProgression {
        // Uniform duty cycles the budget allows (continuous dosing among them when it
        // does) are candidate starts like the descent's result: the bisection's descents
        // are local, and where progression is unavoidable the best start is often a low
        // duty cycle far from the one that spends the budget.
        for duty in [0.125, 0.25, 0.5, 0.75, 1.0] {
            let candidate = problem.uniform(|_| duty);
            if !problem.within_budgets(&candidate) || candidate == on {
                continue;
            }
            let p = problem.profile(&candidate)?;
            evaluations += 1;
            if progresses_later(&p, &base, periods) {
                (on, base, jacobian) = (candidate, p, None);
            }
        }
        // Bisection on the periods held: `lo` are held by the best schedule so far, more
        // than `hi` are out of reach (all of them were, above).
        let (mut lo, mut hi) = (base.held(), periods - 1);
        while lo < hi
            && settings
                .deadline
                .is_none_or(|d| std::time::Instant::now() < d)
        {
            let k = (lo + hi).div_ceil(2);
            problem.held = k;
            let (x, p, lin) = descend(
                &problem,
                on.clone(),
                &mut evaluations,
                &mut steps,
                &mut failures,
            )?;
            tracing::debug!(k, held = p.held(), ttp = p.ttp, "LP periods held");
            if p.held() >= k {
                lo = p.held().min(hi);
                if progresses_later(&p, &base, k) {
                    (on, base, jacobian) = (x, p, lin);
                }
            } else {
                hi = k - 1;
            }
        }
        problem.held = base.held();
    }
    // The relaxation at the final schedule: the LP's fractional optimum within the first
    // trust region. The final schedule is feasible for this LP, so the LP's merit is at most
    // the schedule's; the difference is the relaxation gap (fractional days, linearisation).
    let lin = match jacobian {
        Some(lin) => lin,
        None => {
            evaluations += on.len() as u64 + 1;
            problem.jacobian(&on)?
        }
    };
    let first_region = settings.trust_region.max(settings.interval);
    let (relaxed_on, relaxed_z) = match solve_step(&problem, &on, &base, &lin, first_region) {
        Ok((x, _, z)) => (x, z),
        Err(e) => {
            tracing::warn!(error = %e, "LP relaxation at the final schedule not solved");
            failures += 1;
            (on.clone(), f64::NAN)
        }
    };
    Ok(LpResult {
        schedule: problem.schedule(&on),
        relaxed_log10: relaxed_z / std::f64::consts::LN_10,
        rounded_log10: base.z / std::f64::consts::LN_10,
        cap_excess: base.y.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        deterministic_ttp: base.ttp,
        mode,
        held_periods: base.held(),
        periods,
        solver_failures: failures,
        on,
        relaxed_on,
        steps,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The persister scenario's LP settings: daily 80 mg, 28-day periods, half the
    /// horizon on drug.
    fn settings(scenario: &Scenario) -> LpSettings {
        LpSettings {
            drug: 0,
            dose: 80.0,
            interval: 1.0,
            period: 28.0,
            target: LpTarget::Resistant,
            cap: Some(2.0),
            max_on: 0.5 * scenario.horizon,
            trust_region: 7.0,
            max_iterations: 1,
            deadline: None,
            levels: Vec::new(),
            others: Vec::new(),
        }
    }

    fn problem<'a>(scenario: &'a Scenario, settings: &'a LpSettings) -> Problem<'a> {
        let periods = (scenario.horizon / settings.period).ceil() as usize;
        let lengths = (0..periods)
            .map(|k| (scenario.horizon - k as f64 * settings.period).min(settings.period))
            .collect();
        let (vars, budgets) = variables(settings, periods);
        Problem {
            scenario,
            settings,
            lengths,
            held: usize::MAX,
            vars,
            budgets,
        }
    }

    #[test]
    fn a_column_resumed_from_its_period_equals_its_run_from_time_zero() {
        // The finite differences carry on from the base run paused at the start of the
        // period they change; that must be the run of the changed schedule itself, number
        // for number (else the shared work would bias the linearisation).
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml");
        let scenario = Scenario::load(&path).unwrap();
        let settings = settings(&scenario);
        let problem = problem(&scenario, &settings);
        let on: Vec<f64> = problem.lengths.iter().map(|l| (0.5 * l).floor()).collect();
        let starts: Vec<f64> = (0..on.len()).map(|j| j as f64 * 28.0).collect();
        let base_arm = problem.arm(&on);
        let (base, paused) =
            run_deterministic_pausing(&scenario, &base_arm, problem.options(), &starts).unwrap();
        assert_eq!(paused.len(), on.len());
        // Pauses at period starts fall on dosing decisions: no segment boundary is added.
        let plain = run_deterministic(&scenario, &base_arm, problem.options()).unwrap();
        assert_eq!(base, plain);
        let mut paused: Vec<Option<Paused>> = paused.into_iter().map(Some).collect();
        for j in [0, 1, 7, on.len() - 1] {
            let mut moved = on.clone();
            moved[j] += 1.0;
            let arm = problem.arm(&moved);
            let resumed = paused[j].take().unwrap().resume(&arm).unwrap();
            let fresh = run_deterministic(&scenario, &arm, problem.options()).unwrap();
            assert_eq!(resumed, fresh, "column {j}");
            assert_ne!(resumed.outcome, base.outcome, "column {j} changed nothing");
        }
    }
}
