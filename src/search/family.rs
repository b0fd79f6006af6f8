//! Tuning a schedule family's parameters with argmin (Nelder–Mead or particle swarm) on the
//! rollout score.
//!
//! The simplex moves in the unit cube; each coordinate maps onto its parameter's bounds and
//! whole-day parameters are rounded, so nearby simplex points often name the same schedule.
//! Scores are cached by the rounded parameters: a repeat costs no evaluation. Because
//! rounding makes the objective piecewise flat and schedules have many local optima, the
//! search first scores a spread-out (Halton) design, then runs Nelder–Mead from the best
//! design points in turn until its evaluation budget is spent — or, with the particle swarm,
//! lets a swarm seeded with the best design points explore from there.
//!
//! Candidates are raced against the best complete candidate so far (see
//! [`Evaluator::score_raced`]); the swarm's own random numbers come from a generator seeded
//! from the run's seed, separate from regimen's rollout streams.

use super::objective::{Evaluator, Score};
use crate::error::{Error, Result};
use crate::protocol::schedule::{HolidayRule, ModulationRule, Schedule};
use crate::support::design::halton;
use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;
use argmin::solver::particleswarm::ParticleSwarm;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

/// One tunable parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The parameter's name in trace.csv and best.yaml.
    pub name: &'static str,
    /// Lowest value searched.
    pub low: f64,
    /// Highest value searched.
    pub high: f64,
    /// Rounded to a whole number (days on, days off).
    pub whole: bool,
}

/// A schedule family and the bounds of its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Family {
    /// Intermittent dosing of `drug`: parameters on, off (whole time units) and dose (the
    /// nearest of `levels` when given).
    Intermittent {
        /// The drug dosed (index into the scenario's drugs).
        drug: usize,
        /// Time between doses.
        interval: f64,
        /// Bounds of the time on per cycle.
        on: (f64, f64),
        /// Bounds of the time off per cycle.
        off: (f64, f64),
        /// Bounds of the dose.
        dose: (f64, f64),
        /// The only doses allowed (empty: any dose within the bounds).
        levels: Vec<f64>,
    },
    /// Fixed drug holidays: treat for lead_in, pause for holiday, repeat (whole time units).
    Holiday {
        /// The drug dosed.
        drug: usize,
        /// Dose per administration.
        dose: f64,
        /// Time between doses.
        interval: f64,
        /// Bounds of the treatment before each holiday.
        lead_in: (f64, f64),
        /// Bounds of a holiday's length.
        holiday: (f64, f64),
        /// Dose levels searched among (a third parameter, `dose`, when there are two or
        /// more; else `dose` throughout).
        levels: Vec<f64>,
    },
    /// The Zhang adaptive rule: parameters stop_below, resume_above and every_visits (the
    /// cadence of decisions, in visits).
    Adaptive {
        /// The drug dosed.
        drug: usize,
        /// Dose per administration while on.
        dose: f64,
        /// Time between doses.
        interval: f64,
        /// Bounds of the stop threshold (fraction of the baseline marker).
        stop_below: (f64, f64),
        /// Bounds of the resume threshold (fraction of the baseline marker).
        resume_above: (f64, f64),
        /// Bounds of the visits between decisions.
        every_visits: (f64, f64),
        /// Dose levels searched among (a fourth parameter, `dose`, when there are two or
        /// more; else `dose` throughout).
        levels: Vec<f64>,
    },
    /// A second drug with the first: `base` continuous at `base_dose`, `drug` in cycles of
    /// `on` days on and `off` off from day `start`, at `dose` (the nearest of `levels` when
    /// given). Parameters start, on, off (whole time units) and dose (when its bounds
    /// differ). With a time-on budget (at most `on` days of any `window`), every candidate
    /// keeps to it where the off bound allows: on ≤ the budget's on, and off at least what
    /// keeps any window's days on within it.
    Companion {
        /// The drug given throughout.
        base: usize,
        /// Its dose per administration.
        base_dose: f64,
        /// The second drug.
        drug: usize,
        /// Time between doses (both drugs).
        interval: f64,
        /// Bounds of the second drug's start.
        start: (f64, f64),
        /// Bounds of its time on per cycle.
        on: (f64, f64),
        /// Bounds of its time off per cycle.
        off: (f64, f64),
        /// Bounds of its dose.
        dose: (f64, f64),
        /// Its only doses allowed (empty: any within the bounds).
        levels: Vec<f64>,
        /// Its time-on budget (on, window), if it has one.
        budget: Option<(f64, f64)>,
    },
    /// Two lines of treatment: `first` continuous at `first_dose`, then `second` continuous
    /// at `second_dose` from day `switch` (the one parameter, whole time units) or at
    /// progression on the first line, whichever comes first. Progression is judged with
    /// `rule`, on the second line from its start: the candidate's time to progression is the
    /// strategy's, both lines together.
    Sequence {
        /// The first line's drug.
        first: usize,
        /// Its dose.
        first_dose: f64,
        /// The second line's drug.
        second: usize,
        /// Its dose.
        second_dose: f64,
        /// Time between doses.
        interval: f64,
        /// Bounds of the switch day.
        switch: (f64, f64),
        /// The progression rule.
        rule: crate::protocol::observe::ProgressionRule,
    },
    /// Dose modulation: parameters step (relative change per decision) and margin (relative
    /// marker change that triggers it), between min_dose and max_dose.
    Modulation {
        /// The drug dosed.
        drug: usize,
        /// Starting dose.
        dose: f64,
        /// Time between doses.
        interval: f64,
        /// Lowest dose the rule may give.
        min_dose: f64,
        /// Highest dose the rule may give.
        max_dose: f64,
        /// Bounds of the relative dose step.
        step: (f64, f64),
        /// Bounds of the relative marker change that moves the dose.
        margin: (f64, f64),
    },
}

/// The level nearest to `x` (`x` itself when there are none).
pub(super) fn nearest(levels: &[f64], x: f64) -> f64 {
    levels
        .iter()
        .copied()
        .min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs()))
        .unwrap_or(x)
}

/// The `dose` parameter of a family that searches among `levels` (two or more of them).
fn level_parameter(levels: &[f64]) -> Option<Parameter> {
    (levels.len() > 1).then(|| {
        let low = levels.iter().copied().fold(f64::INFINITY, f64::min);
        let high = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        parameter("dose", (low, high), false)
    })
}

/// The upper bound of a companion's days on: its bound, cut to the time-on budget's days.
fn longest_on(on: (f64, f64), budget: Option<(f64, f64)>) -> f64 {
    budget.map_or(on.1, |(b, _)| on.1.min(b)).max(on.0)
}

/// The most days on within any `window` days of cycles of `on` days on and `off` off.
fn most_on(on: f64, off: f64, window: f64) -> f64 {
    let cycle = on + off;
    if cycle <= 0.0 {
        return 0.0;
    }
    let whole = (window / cycle).floor();
    whole * on + on.min(window - whole * cycle)
}

/// The shortest whole-day time off, within `off`, after `on` days on that keeps to the
/// time-on `budget` (on, window) in every window (the upper bound if none does).
fn shortest_off(on: f64, off: (f64, f64), budget: Option<(f64, f64)>) -> f64 {
    let Some((most, window)) = budget else {
        return off.0;
    };
    let mut days = off.0.ceil();
    while days < off.1 && most_on(on, days, window) > most + 1e-9 {
        days += 1.0;
    }
    days.min(off.1.max(off.0))
}

/// `v` rounded to six decimal places (what the leaderboard prints and the cache keys on).
fn six_places(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn parameter(name: &'static str, bounds: (f64, f64), whole: bool) -> Parameter {
    Parameter {
        name,
        low: bounds.0,
        high: bounds.1,
        whole,
    }
}

impl Family {
    /// The family's name (as `--families` takes it).
    pub fn name(&self) -> &'static str {
        match self {
            Family::Intermittent { .. } => "intermittent",
            Family::Holiday { .. } => "holiday",
            Family::Adaptive { .. } => "adaptive",
            Family::Modulation { .. } => "modulation",
            Family::Companion { .. } => "companion",
            Family::Sequence { .. } => "sequence",
        }
    }

    /// The tunable parameters, in the order of a candidate's values.
    pub fn parameters(&self) -> Vec<Parameter> {
        match *self {
            Family::Intermittent { on, off, dose, .. } => vec![
                parameter("on", on, true),
                parameter("off", off, true),
                parameter("dose", dose, false),
            ],
            Family::Holiday {
                lead_in,
                holiday,
                ref levels,
                ..
            } => [
                parameter("lead_in", lead_in, true),
                parameter("holiday", holiday, true),
            ]
            .into_iter()
            .chain(level_parameter(levels))
            .collect(),
            Family::Adaptive {
                stop_below,
                resume_above,
                every_visits,
                ref levels,
                ..
            } => [
                parameter("stop_below", stop_below, false),
                parameter("resume_above", resume_above, false),
                parameter("every_visits", every_visits, true),
            ]
            .into_iter()
            .chain(level_parameter(levels))
            .collect(),
            Family::Modulation { step, margin, .. } => vec![
                parameter("step", step, false),
                parameter("margin", margin, false),
            ],
            Family::Sequence { switch, .. } => vec![parameter("switch", switch, true)],
            Family::Companion {
                start,
                on,
                off,
                dose,
                ..
            } => {
                let mut p = vec![
                    parameter("start", start, true),
                    parameter("on", on, true),
                    parameter("off", off, true),
                ];
                if dose.1 > dose.0 {
                    p.push(parameter("dose", dose, false));
                }
                p
            }
        }
    }

    /// A companion's (start, on, off, dose) for a point of the unit cube: off is searched
    /// above what the time-on budget needs for the chosen on, so every point keeps to it.
    fn decode_companion(&self, u: impl Fn(usize) -> f64) -> Vec<f64> {
        let Family::Companion {
            start,
            on,
            off,
            dose,
            ref levels,
            budget,
            ..
        } = *self
        else {
            return Vec::new();
        };
        let on_high = longest_on(on, budget);
        let days_on = (on.0 + u(1) * (on_high - on.0)).round();
        let off_low = shortest_off(days_on, off, budget);
        let days_off = (off_low + u(2) * (off.1 - off_low).max(0.0)).round();
        let mut values = vec![
            (start.0 + u(0) * (start.1 - start.0)).round(),
            days_on,
            days_off,
        ];
        if dose.1 > dose.0 {
            let wanted = dose.0 + u(3) * (dose.1 - dose.0);
            values.push(if levels.is_empty() {
                six_places(wanted)
            } else {
                nearest(levels, wanted)
            });
        }
        values
    }

    /// Parameter values (within bounds, rounded where whole) for a point of the unit cube.
    ///
    /// An intermittent schedule is searched as (cycle length, duty fraction) rather than
    /// (on, off): good schedules lie along a line of nearly constant duty fraction (the
    /// dose intensity), which these coordinates make an axis.
    pub fn decode(&self, x: &[f64]) -> Vec<f64> {
        let u = |i: usize| x.get(i).copied().unwrap_or(0.5).clamp(0.0, 1.0);
        if let Family::Companion { .. } = self {
            return self.decode_companion(u);
        }
        if let Family::Intermittent {
            on,
            off,
            dose,
            ref levels,
            ..
        } = *self
        {
            let (shortest, longest) = (on.0 + off.0, on.1 + off.1);
            let cycle = shortest + u(0) * (longest - shortest);
            let days_on = (u(1) * cycle).round().clamp(on.0, on.1);
            let days_off = (cycle - days_on).round().clamp(off.0, off.1);
            let wanted = dose.0 + u(2) * (dose.1 - dose.0);
            let amount = if levels.is_empty() {
                six_places(wanted)
            } else {
                nearest(levels, wanted)
            };
            return vec![days_on, days_off, amount];
        }
        if let Family::Adaptive {
            stop_below,
            resume_above,
            every_visits,
            ref levels,
            ..
        } = *self
        {
            // The resume threshold is searched within [max(its lower bound, stop), its upper
            // bound], so every point is a rule the run applies as printed (resume ≥ stop) and
            // distinct points are distinct rules; where the stop threshold lies above the
            // resume bounds, resuming at the stop threshold is the one rule left.
            let stop = six_places(stop_below.0 + u(0) * (stop_below.1 - stop_below.0));
            let low = resume_above.0.max(stop);
            let resume = six_places(low + u(1) * (resume_above.1 - low).max(0.0)).max(stop);
            let every = (every_visits.0 + u(2) * (every_visits.1 - every_visits.0)).round();
            let mut values = vec![stop, resume, every];
            if let Some(dose) = level_parameter(levels) {
                values.push(nearest(levels, dose.low + u(3) * (dose.high - dose.low)));
            }
            return values;
        }
        let mut values: Vec<f64> = self
            .parameters()
            .iter()
            .zip(x)
            .map(|(p, &u)| {
                let v = p.low + u.clamp(0.0, 1.0) * (p.high - p.low);
                if p.whole { v.round() } else { six_places(v) }
            })
            .collect();
        if let Family::Holiday { ref levels, .. } = *self
            && let Some(dose) = values.get_mut(2)
        {
            *dose = nearest(levels, *dose);
        }
        values
    }

    /// A point of the unit cube that decodes to `values` (the inverse of [`Family::decode`]).
    pub fn encode(&self, values: &[f64]) -> Vec<f64> {
        let unit = |v: f64, lo: f64, hi: f64| {
            if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        if let Family::Adaptive {
            stop_below,
            resume_above,
            every_visits,
            ref levels,
            ..
        } = *self
            && values.len() >= 3
        {
            let low = resume_above.0.max(values[0]);
            let mut point = vec![
                unit(values[0], stop_below.0, stop_below.1),
                unit(values[1], low, resume_above.1),
                unit(values[2], every_visits.0, every_visits.1),
            ];
            if let (Some(dose), Some(&v)) = (level_parameter(levels), values.get(3)) {
                point.push(unit(v, dose.low, dose.high));
            }
            return point;
        }
        if let Family::Companion {
            start,
            on,
            off,
            dose,
            budget,
            ..
        } = *self
            && values.len() >= 3
        {
            let on_high = longest_on(on, budget);
            let mut point = vec![
                unit(values[0], start.0, start.1),
                unit(values[1], on.0, on_high),
                unit(values[2], shortest_off(values[1], off, budget), off.1),
            ];
            if let Some(&d) = values.get(3) {
                point.push(unit(d, dose.0, dose.1));
            }
            return point;
        }
        if let Family::Intermittent { on, off, dose, .. } = *self
            && values.len() == 3
        {
            let cycle = values[0] + values[1];
            return vec![
                unit(cycle, on.0 + off.0, on.1 + off.1),
                if cycle > 0.0 { values[0] / cycle } else { 0.5 },
                unit(values[2], dose.0, dose.1),
            ];
        }
        self.parameters()
            .iter()
            .zip(values)
            .map(|(p, v)| unit(*v, p.low, p.high))
            .collect()
    }

    /// The schedule with the given parameter values.
    pub fn schedule(&self, values: &[f64]) -> Schedule {
        let value = |i: usize| values.get(i).copied().unwrap_or(0.0);
        match *self {
            Family::Holiday {
                drug,
                dose,
                interval,
                ref levels,
                ..
            } => Schedule::Holiday(HolidayRule {
                drug,
                dose: if levels.len() > 1 { value(2) } else { dose },
                interval,
                lead_in: Some(value(0).max(interval)),
                respond_below: None,
                holiday: Some(value(1)),
                resume_above: None,
                max_cycles: None,
            }),
            Family::Modulation {
                drug,
                dose,
                interval,
                min_dose,
                max_dose,
                ..
            } => Schedule::Modulation(ModulationRule {
                drug,
                dose,
                interval,
                step: value(0),
                margin: value(1),
                skip_below: None,
                min_dose,
                max_dose,
            }),
            Family::Companion {
                base,
                base_dose,
                drug,
                interval,
                dose,
                ..
            } => Schedule::combination(vec![
                Schedule::Continuous {
                    drug: base,
                    dose: base_dose,
                    interval,
                },
                Schedule::Intermittent {
                    drug,
                    dose: values.get(3).copied().unwrap_or(dose.0),
                    interval,
                    on: value(1).max(interval),
                    off: value(2),
                    start_delay: value(0),
                },
            ]),
            Family::Sequence {
                first,
                first_dose,
                second,
                second_dose,
                interval,
                rule,
                ..
            } => Schedule::sequence(
                Schedule::Continuous {
                    drug: first,
                    dose: first_dose,
                    interval,
                },
                vec![(
                    Schedule::Continuous {
                        drug: second,
                        dose: second_dose,
                        interval,
                    },
                    crate::protocol::schedule::Switch::TimeOrProgression(value(0).max(interval)),
                )],
                rule,
            ),
            Family::Intermittent { drug, interval, .. } => Schedule::Intermittent {
                drug,
                dose: value(2),
                interval,
                on: value(0),
                off: value(1),
                start_delay: 0.0,
            },
            Family::Adaptive {
                drug,
                dose,
                interval,
                ref levels,
                ..
            } => Schedule::Adaptive {
                drug,
                dose: if levels.len() > 1 { value(3) } else { dose },
                interval,
                stop_below: value(0),
                resume_above: value(1).max(value(0)),
                every_visits: value(2).max(1.0) as u32,
            },
        }
    }
}

/// One evaluation of a search, for the trace.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// The candidate's parameter values.
    pub values: Vec<f64>,
    /// The objective on the rollouts run.
    pub score: f64,
    /// The objective less the constraint penalties (what the search maximises).
    pub penalised: f64,
    /// Mean cumulative dose of each drug.
    pub mean_dose: Vec<f64>,
    /// Rollouts run (fewer than the tuning set when racing stopped it).
    pub rollouts: u64,
    /// Share of rollouts whose marker went above the cap before progression.
    pub over_cap: f64,
    /// Mean time at which resistant cells became the majority (the run's end where they
    /// never did): the tie-break after dose.
    #[serde(default)]
    pub resistance_time: f64,
}

/// What a family search found.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyResult {
    /// The family searched.
    pub family: &'static str,
    /// The best evaluation.
    pub best: Evaluation,
    /// The best schedule.
    pub schedule: Schedule,
    /// Every distinct schedule scored, in order.
    pub trace: Vec<Evaluation>,
    /// The search stopped at its deadline.
    pub timed_out: bool,
}

/// A dose constraint: mean cumulative dose of `drug` at most `max` (absolute units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseLimit {
    /// The drug limited.
    pub drug: usize,
    /// Most mean cumulative dose.
    pub max: f64,
}

/// Constraints, enforced as penalties on the score: `weight` score units per unit of
/// relative dose excess, and per unit share of rollouts whose marker passed the cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalty {
    /// The dose limit, if any.
    pub dose: Option<DoseLimit>,
    /// Most marker before progression, as a multiple of its value at time 0.
    pub marker_cap: Option<f64>,
    /// Score units lost per unit of violation.
    pub weight: f64,
}

impl Penalty {
    /// No constraints.
    pub const NONE: Penalty = Penalty {
        dose: None,
        marker_cap: None,
        weight: 0.0,
    };

    /// Share of `score`'s rollouts whose marker went above the cap.
    pub fn over_cap(&self, score: &Score) -> f64 {
        match self.marker_cap {
            Some(cap) if !score.outcomes.is_empty() => {
                score
                    .outcomes
                    .iter()
                    .filter(|o| o.peak_marker > cap)
                    .count() as f64
                    / score.outcomes.len() as f64
            }
            _ => 0.0,
        }
    }

    /// The penalty of `score` (0 when every constraint holds).
    pub fn of(&self, score: &Score) -> f64 {
        let dose = match self.dose {
            Some(l) if l.max > 0.0 => {
                let used = score.mean_dose.get(l.drug).copied().unwrap_or(0.0);
                (used / l.max - 1.0).max(0.0)
            }
            _ => 0.0,
        };
        self.weight * (dose + self.over_cap(score))
    }
}

/// The argmin solver a family search runs after its design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Solver {
    /// Nelder–Mead restarted from the best design points.
    NelderMead,
    /// Particle swarm over the unit cube.
    ParticleSwarm,
}

impl Solver {
    /// The name as `--solver` takes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Solver::NelderMead => "nelder-mead",
            Solver::ParticleSwarm => "particle-swarm",
        }
    }
}

/// How a family search runs.
#[derive(Clone, Copy)]
pub struct SearchOptions<'p> {
    /// Distinct schedules scored at most.
    pub budget: u64,
    /// Constraint penalties applied to every score.
    pub penalty: Penalty,
    /// The solver after the design.
    pub solver: Solver,
    /// Race candidates against the best so far (stochastic engine only).
    pub racing: bool,
    /// Seed of the particle swarm's own generator.
    pub seed: u64,
    /// Stop scoring new schedules after this instant.
    pub deadline: Option<Instant>,
    /// Called after each new evaluation.
    pub progress: Option<&'p (dyn Fn() + Sync)>,
    /// The search's name in the journal.
    pub label: &'p str,
    /// Records evaluations, and answers those an interrupted run already made.
    pub journal: Option<&'p super::checkpoint::Journal>,
    /// Among equal scores, prefer the lower dose (see [`DoseTie`]).
    pub tie: Option<DoseTie>,
}

/// The search's secondary objectives: among schedules with equal (penalised) scores — a
/// saturated objective, say, where every schedule holds the tumour to the horizon — the
/// one with less of `drug` is better, and among equal doses too the one whose resistant
/// cells become the majority later. The solver maximises score − `per_unit` × mean dose +
/// `per_time` × mean time to a resistant majority, with `per_unit` so small (a millionth of
/// the objective's range for a whole course of continuous dosing) that no difference the
/// rollouts can resolve is reversed, and `per_time` a thousand times smaller again (a
/// billionth of the range for the whole horizon); scores and the leaderboard report the
/// score itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseTie {
    /// The drug whose dose breaks ties.
    pub drug: usize,
    /// Score units per unit of mean cumulative dose.
    pub per_unit: f64,
    /// Score units per time unit of the mean time to a resistant majority.
    pub per_time: f64,
}

impl DoseTie {
    /// A millionth of the objective's `range` per `continuous_dose` (continuous dosing's
    /// mean cumulative dose), and a billionth per `horizon` of delay to a resistant
    /// majority; none when that dose is not positive.
    pub fn new(drug: usize, range: f64, continuous_dose: f64, horizon: f64) -> Option<DoseTie> {
        (continuous_dose > 0.0 && range > 0.0 && horizon > 0.0).then(|| DoseTie {
            drug,
            per_unit: 1e-6 * range / continuous_dose,
            per_time: 1e-9 * range / horizon,
        })
    }

    /// The penalised score of `e` with the tie-breaks.
    fn adjusted(tie: Option<DoseTie>, e: &Evaluation) -> f64 {
        match tie {
            Some(t) => {
                e.penalised - t.per_unit * e.mean_dose.get(t.drug).copied().unwrap_or(0.0)
                    + t.per_time * e.resistance_time
            }
            None => e.penalised,
        }
    }
}

/// Mean over `score`'s rollouts of the time resistant cells became the majority (the run's
/// end, its time to progression or the horizon, where they never did).
pub(super) fn resistance_time(score: &Score) -> f64 {
    let n = score.outcomes.len().max(1) as f64;
    score
        .outcomes
        .iter()
        .map(|o| {
            o.resistance_majority
                .unwrap_or(o.end_of_treatment.max(o.ttp))
        })
        .sum::<f64>()
        / n
}

impl SearchOptions<'_> {
    /// Nelder–Mead with `budget` evaluations, no constraints, no racing.
    pub fn budget(budget: u64) -> SearchOptions<'static> {
        SearchOptions {
            budget,
            penalty: Penalty::NONE,
            solver: Solver::NelderMead,
            racing: false,
            seed: 0,
            deadline: None,
            progress: None,
            label: "",
            journal: None,
            tie: None,
        }
    }
}

struct Problem<'e, 'a, 'p> {
    family: &'e Family,
    evaluator: RefCell<&'e mut Evaluator<'a>>,
    cache: RefCell<HashMap<Vec<u64>, f64>>,
    trace: RefCell<Vec<Evaluation>>,
    /// The best complete score so far, which candidates race against.
    incumbent: RefCell<Option<(f64, Score)>>,
    options: SearchOptions<'p>,
    /// Evaluations allowed in the current phase (the swarm leaves the rest to the polish).
    phase_budget: RefCell<u64>,
    timed_out: RefCell<bool>,
    failure: RefCell<Option<Error>>,
}

impl Problem<'_, '_, '_> {
    /// Every point scored so far, best first, in unit-cube coordinates: where local
    /// searches start.
    fn starts(&self) -> Vec<Vec<f64>> {
        let mut ranked: Vec<(f64, Vec<f64>)> = self
            .trace
            .borrow()
            .iter()
            .map(|e| (e.penalised, self.family.encode(&e.values)))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.into_iter().map(|(_, x)| x).collect()
    }

    fn exhausted(&self) -> bool {
        let used = self.trace.borrow().len() as u64;
        if used >= self.options.budget || used >= *self.phase_budget.borrow() {
            return true;
        }
        if self.options.deadline.is_some_and(|d| Instant::now() >= d) {
            *self.timed_out.borrow_mut() = true;
            return true;
        }
        super::checkpoint::stop_requested()
    }
}

impl CostFunction for Problem<'_, '_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let values = self.family.decode(x);
        let key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        if let Some(&c) = self.cache.borrow().get(&key) {
            return Ok(c);
        }
        if self.exhausted() {
            // Out of budget or time: every new point looks bad so the solver stops moving.
            return Ok(f64::INFINITY);
        }
        let schedule = self.family.schedule(&values);
        let penalty = self.options.penalty;
        let journal = self.options.journal;
        let replayed = journal.and_then(|j| j.lookup(self.options.label, &values));
        let scored = match replayed {
            Some(score) => Ok(score),
            None => {
                let incumbent = self.incumbent.borrow();
                let against = incumbent
                    .as_ref()
                    .filter(|_| self.options.racing)
                    .map(|(_, s)| s);
                let fresh = self
                    .evaluator
                    .borrow_mut()
                    .score_raced(&schedule, against, &|s| penalty.of(s));
                match (fresh, journal) {
                    (Ok(score), Some(j)) => j
                        .record(self.options.label, &values, &score)
                        .map(|()| score),
                    (other, _) => other,
                }
            }
        };
        let score = match scored {
            Ok(s) => s,
            Err(e) => {
                let message = e.to_string();
                *self.failure.borrow_mut() = Some(e);
                return Err(argmin::core::Error::msg(message));
            }
        };
        let penalised = score.value - penalty.of(&score);
        let evaluation = Evaluation {
            values,
            score: score.value,
            penalised,
            mean_dose: score.mean_dose.clone(),
            rollouts: score.outcomes.len() as u64,
            over_cap: penalty.over_cap(&score),
            resistance_time: resistance_time(&score),
        };
        let adjusted = DoseTie::adjusted(self.options.tie, &evaluation);
        self.trace.borrow_mut().push(evaluation);
        if let Some(report) = self.options.progress {
            report();
        }
        self.cache.borrow_mut().insert(key, -adjusted);
        if score.complete {
            let mut incumbent = self.incumbent.borrow_mut();
            if incumbent.as_ref().is_none_or(|(p, _)| adjusted > *p) {
                *incumbent = Some((adjusted, score));
            }
        }
        Ok(-adjusted)
    }
}

/// Searches `family` with at most `options.budget` distinct evaluations.
pub fn search(
    evaluator: &mut Evaluator,
    family: &Family,
    options: &SearchOptions,
) -> Result<FamilyResult> {
    let dims = family.parameters().len();
    let budget = options.budget;
    let problem = Problem {
        family,
        evaluator: RefCell::new(evaluator),
        cache: RefCell::new(HashMap::new()),
        trace: RefCell::new(Vec::new()),
        incumbent: RefCell::new(None),
        options: *options,
        phase_budget: RefCell::new(budget),
        timed_out: RefCell::new(false),
        failure: RefCell::new(None),
    };
    let failed = |p: &Problem, e: argmin::core::Error| {
        p.failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Error::Usage(format!("search of {} failed: {e}", family.name())))
    };
    // A spread-out first look (a quarter of the budget, at most 8 points a dimension).
    let design = (budget / 4).clamp(1, 8 * dims as u64);
    for i in 1..=design {
        problem
            .cost(&halton(i, dims))
            .map_err(|e| failed(&problem, e))?;
    }
    let problem = match options.solver {
        Solver::NelderMead => {
            let starts = problem.starts();
            nelder_mead(problem, &starts, dims, budget)?
        }
        Solver::ParticleSwarm => {
            // The swarm explores with two thirds of the budget; Nelder–Mead polishes the
            // best points it found with the rest (a swarm alone converges slowly on the
            // rounded, piecewise-flat scores).
            *problem.phase_budget.borrow_mut() = budget - (budget - design) / 3;
            let problem = particle_swarm(problem, dims, budget, options.seed)?;
            *problem.phase_budget.borrow_mut() = budget;
            let starts = problem.starts();
            nelder_mead(problem, &starts, dims, budget)?
        }
    };
    if let Some(e) = problem.failure.borrow_mut().take() {
        return Err(e);
    }
    let timed_out = problem.timed_out.into_inner();
    let trace = problem.trace.into_inner();
    // The best complete evaluation (a raced-out one is scored on part of the rollouts).
    let full = trace.iter().map(|t| t.rollouts).max().unwrap_or(0);
    let adjusted = |e: &Evaluation| DoseTie::adjusted(options.tie, e);
    let best = trace
        .iter()
        .filter(|e| e.rollouts == full)
        .max_by(|a, b| adjusted(a).total_cmp(&adjusted(b)))
        .cloned()
        .ok_or_else(|| Error::Usage(format!("the {} search made no evaluation", family.name())))?;
    Ok(FamilyResult {
        family: family.name(),
        schedule: family.schedule(&best.values),
        best,
        trace,
        timed_out,
    })
}

/// Nelder–Mead from each start in turn (best first) until the budget is spent.
fn nelder_mead<'e, 'a, 'p>(
    problem: Problem<'e, 'a, 'p>,
    starts: &[Vec<f64>],
    dims: usize,
    budget: u64,
) -> Result<Problem<'e, 'a, 'p>> {
    let mut problem = problem;
    for start in starts {
        if problem.exhausted() {
            break;
        }
        // Simplex: the start and one step of 0.15 along each axis.
        let mut simplex = vec![start.clone()];
        for d in 0..dims {
            let mut v = start.clone();
            v[d] = if v[d] + 0.15 <= 1.0 {
                v[d] + 0.15
            } else {
                v[d] - 0.15
            };
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-4)
            .map_err(|e| Error::Internal(format!("Nelder–Mead setup: {e}")))?;
        let done = Executor::new(problem, solver)
            .configure(|state| state.max_iters(budget))
            .run()
            .map_err(|e| Error::Usage(format!("Nelder–Mead failed: {e}")))?;
        problem = done
            .problem
            .problem
            .ok_or_else(|| Error::Internal("Nelder–Mead lost its problem".to_owned()))?;
        if problem.failure.borrow().is_some() {
            break;
        }
    }
    Ok(problem)
}

/// Particles in the swarm: enough to cover a few dimensions, few enough to leave the budget
/// several generations.
fn swarm_size(dims: usize, budget: u64) -> usize {
    (4 * dims).clamp(6, 16).min((budget / 4).max(2) as usize)
}

/// argmin's particle swarm over the unit cube, its generator seeded from `seed`. The swarm
/// draws its own starting positions; the design's points stay in the cache and the trace,
/// so the best of them still counts.
fn particle_swarm<'e, 'a, 'p>(
    problem: Problem<'e, 'a, 'p>,
    dims: usize,
    budget: u64,
    seed: u64,
) -> Result<Problem<'e, 'a, 'p>> {
    let particles = swarm_size(dims, budget);
    let solver = ParticleSwarm::new((vec![0.0; dims], vec![1.0; dims]), particles)
        .with_rng_generator(Xoshiro256PlusPlus::seed_from_u64(seed));
    let done = Executor::new(problem, solver)
        .configure(|state| state.max_iters(budget))
        .run()
        .map_err(|e| Error::Usage(format!("particle swarm failed: {e}")))?;
    done.problem
        .problem
        .ok_or_else(|| Error::Internal("the particle swarm lost its problem".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every point of the adaptive family's box decodes to a rule the run applies exactly as
    /// decoded (resume ≥ stop: the leaderboard, the trace and the cache see what was run),
    /// distinct points to distinct rules, and encoding inverts decoding. (The old decoding
    /// searched resume on its own bounds and clamped it up to stop in the schedule: on this
    /// grid it printed resume < stop for 129 of the 441 points, which ran as 328 rules.)
    #[test]
    fn ties_fall_to_dose_then_to_the_later_resistant_majority() {
        // Range 1000 (a horizon), continuous dosing's dose 100, horizon 1000.
        let tie = DoseTie::new(0, 1000.0, 100.0, 1000.0);
        let e = |score: f64, dose: f64, resistance: f64| Evaluation {
            values: vec![],
            score,
            penalised: score,
            mean_dose: vec![dose],
            rollouts: 1,
            over_cap: 0.0,
            resistance_time: resistance,
        };
        let a = |x: &Evaluation| DoseTie::adjusted(tie, x);
        // A better score wins whatever its dose and resistance (0.01 of a day of RMST beats a
        // whole course of dose and a resistant majority delayed over the whole horizon).
        assert!(a(&e(500.01, 100.0, 0.0)) > a(&e(500.0, 0.0, 1000.0)));
        // Equal scores: the lower dose wins, even against a later resistant majority.
        assert!(a(&e(500.0, 50.0, 0.0)) > a(&e(500.0, 51.0, 1000.0)));
        // Equal scores and doses: the later resistant majority wins.
        assert!(a(&e(500.0, 50.0, 700.0)) > a(&e(500.0, 50.0, 600.0)));
        // Without a tie-break, the score alone.
        assert_eq!(DoseTie::adjusted(None, &e(500.0, 50.0, 700.0)), 500.0);
    }

    #[test]
    fn every_adaptive_point_is_a_distinct_rule_run_as_printed() {
        let family = Family::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: (0.2, 0.9),
            resume_above: (0.3, 1.2),
            every_visits: (1.0, 3.0),
            levels: Vec::new(),
        };
        let mut rules = std::collections::HashSet::new();
        for i in 0..=20 {
            for j in 0..=20 {
                let x = [f64::from(i) / 20.0, f64::from(j) / 20.0, 0.5];
                let v = family.decode(&x);
                assert!(v[1] >= v[0], "resume {} below stop {}", v[1], v[0]);
                let Schedule::Adaptive {
                    stop_below,
                    resume_above,
                    every_visits,
                    ..
                } = family.schedule(&v)
                else {
                    panic!("not an adaptive schedule");
                };
                assert_eq!((stop_below, resume_above), (v[0], v[1]));
                assert_eq!(f64::from(every_visits), v[2]);
                assert_eq!(family.decode(&family.encode(&v)), v);
                rules.insert([v[0].to_bits(), v[1].to_bits()]);
            }
        }
        assert_eq!(rules.len(), 21 * 21);
    }

    /// With two or more dose levels, the holiday and adaptive families search the dose
    /// among them (a last parameter, `dose`): every decoded dose is a level, both levels
    /// are reached, the schedule gives it, and encoding inverts decoding; with one level
    /// the dose stays fixed and the parameters are as before.
    #[test]
    fn holiday_and_adaptive_search_the_dose_among_its_levels() {
        let levels = vec![40.0, 80.0];
        let families = [
            Family::Holiday {
                drug: 0,
                dose: 80.0,
                interval: 1.0,
                lead_in: (7.0, 112.0),
                holiday: (7.0, 84.0),
                levels: levels.clone(),
            },
            Family::Adaptive {
                drug: 0,
                dose: 80.0,
                interval: 1.0,
                stop_below: (0.1, 0.9),
                resume_above: (0.5, 1.5),
                every_visits: (1.0, 4.0),
                levels: levels.clone(),
            },
        ];
        for family in families {
            let names: Vec<_> = family.parameters().iter().map(|p| p.name).collect();
            assert_eq!(names.last(), Some(&"dose"), "{names:?}");
            let dims = names.len();
            let mut seen = std::collections::BTreeSet::new();
            for k in 0..=10 {
                let mut x = vec![0.37; dims];
                x[dims - 1] = f64::from(k) / 10.0;
                let v = family.decode(&x);
                let dose = v[dims - 1];
                assert!(levels.contains(&dose), "dose {dose}");
                seen.insert(dose.to_bits());
                let given = match family.schedule(&v) {
                    Schedule::Holiday(rule) => rule.dose,
                    Schedule::Adaptive { dose, .. } => dose,
                    other => panic!("{other:?}"),
                };
                assert_eq!(given, dose);
                assert_eq!(family.decode(&family.encode(&v)), v);
            }
            assert_eq!(seen.len(), 2, "{}", family.name());
        }
        let one = Family::Holiday {
            drug: 0,
            dose: 80.0,
            interval: 1.0,
            lead_in: (7.0, 112.0),
            holiday: (7.0, 84.0),
            levels: vec![80.0],
        };
        assert_eq!(one.parameters().len(), 2);
    }
}
