//! Tuning a schedule family's parameters with Nelder–Mead (argmin) on the rollout score.
//!
//! The simplex moves in the unit cube; each coordinate maps onto its parameter's bounds and
//! whole-day parameters are rounded, so nearby simplex points often name the same schedule.
//! Scores are cached by the rounded parameters: a repeat costs no evaluation. Because
//! rounding makes the objective piecewise flat and schedules have many local optima, the
//! search first scores a spread-out (Halton) design, then runs Nelder–Mead from the best
//! design points in turn until its evaluation budget is spent.

use super::objective::{Evaluator, Score};
use crate::error::{Error, Result};
use crate::schedule::Schedule;
use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;
use std::cell::RefCell;
use std::collections::HashMap;

/// One tunable parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: &'static str,
    pub low: f64,
    pub high: f64,
    /// Rounded to a whole number (days on, days off).
    pub whole: bool,
}

/// A schedule family and the bounds of its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Family {
    /// Intermittent dosing of `drug`: parameters on, off (whole time units) and dose.
    Intermittent {
        drug: usize,
        interval: f64,
        on: (f64, f64),
        off: (f64, f64),
        dose: (f64, f64),
    },
    /// The Zhang adaptive rule: parameters stop_below and resume_above.
    Adaptive {
        drug: usize,
        dose: f64,
        interval: f64,
        stop_below: (f64, f64),
        resume_above: (f64, f64),
    },
}

impl Family {
    pub fn name(&self) -> &'static str {
        match self {
            Family::Intermittent { .. } => "intermittent",
            Family::Adaptive { .. } => "adaptive",
        }
    }

    pub fn parameters(&self) -> Vec<Parameter> {
        match *self {
            Family::Intermittent { on, off, dose, .. } => vec![
                Parameter {
                    name: "on",
                    low: on.0,
                    high: on.1,
                    whole: true,
                },
                Parameter {
                    name: "off",
                    low: off.0,
                    high: off.1,
                    whole: true,
                },
                Parameter {
                    name: "dose",
                    low: dose.0,
                    high: dose.1,
                    whole: false,
                },
            ],
            Family::Adaptive {
                stop_below,
                resume_above,
                ..
            } => vec![
                Parameter {
                    name: "stop_below",
                    low: stop_below.0,
                    high: stop_below.1,
                    whole: false,
                },
                Parameter {
                    name: "resume_above",
                    low: resume_above.0,
                    high: resume_above.1,
                    whole: false,
                },
            ],
        }
    }

    /// Parameter values (within bounds, rounded where whole) for a point of the unit cube.
    ///
    /// An intermittent schedule is searched as (cycle length, duty fraction) rather than
    /// (on, off): good schedules lie along a line of nearly constant duty fraction (the
    /// dose intensity), which these coordinates make an axis.
    pub fn decode(&self, x: &[f64]) -> Vec<f64> {
        if let Family::Intermittent { on, off, dose, .. } = *self {
            let u = |i: usize| x.get(i).copied().unwrap_or(0.5).clamp(0.0, 1.0);
            let (shortest, longest) = (on.0 + off.0, on.1 + off.1);
            let cycle = shortest + u(0) * (longest - shortest);
            let days_on = (u(1) * cycle).round().clamp(on.0, on.1);
            let days_off = (cycle - days_on).round().clamp(off.0, off.1);
            let amount = ((dose.0 + u(2) * (dose.1 - dose.0)) * 1e6).round() / 1e6;
            return vec![days_on, days_off, amount];
        }
        self.parameters()
            .iter()
            .zip(x)
            .map(|(p, &u)| {
                let v = p.low + u.clamp(0.0, 1.0) * (p.high - p.low);
                if p.whole {
                    v.round()
                } else {
                    (v * 1e6).round() / 1e6
                }
            })
            .collect()
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
        if let Family::Intermittent { on, off, dose, .. } = *self {
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
        match *self {
            Family::Intermittent { drug, interval, .. } => Schedule::Intermittent {
                drug,
                dose: values[2],
                interval,
                on: values[0],
                off: values[1],
                start_delay: 0.0,
            },
            Family::Adaptive {
                drug,
                dose,
                interval,
                ..
            } => Schedule::Adaptive {
                drug,
                dose,
                interval,
                stop_below: values[0],
                resume_above: values[1].max(values[0]),
                every_visits: 1,
            },
        }
    }
}

/// One evaluation of a search, for the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub values: Vec<f64>,
    pub score: f64,
    pub penalised: f64,
    pub mean_dose: Vec<f64>,
}

/// What a family search found.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyResult {
    pub family: &'static str,
    pub best: Evaluation,
    pub schedule: Schedule,
    /// Every distinct schedule scored, in order.
    pub trace: Vec<Evaluation>,
}

/// A dose constraint: mean cumulative dose of `drug` at most `max` (absolute units);
/// exceeding it costs `weight` score units per unit of relative excess.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseLimit {
    pub drug: usize,
    pub max: f64,
    pub weight: f64,
}

struct Problem<'e, 'a> {
    family: &'e Family,
    evaluator: RefCell<&'e mut Evaluator<'a>>,
    cache: RefCell<HashMap<Vec<u64>, f64>>,
    trace: RefCell<Vec<Evaluation>>,
    limit: Option<DoseLimit>,
    budget: u64,
    failure: RefCell<Option<Error>>,
}

impl Problem<'_, '_> {
    fn penalised(&self, score: &Score) -> f64 {
        match self.limit {
            Some(l) if l.max > 0.0 => {
                let used = score.mean_dose.get(l.drug).copied().unwrap_or(0.0);
                let excess = (used / l.max - 1.0).max(0.0);
                score.value - l.weight * excess
            }
            _ => score.value,
        }
    }
}

impl CostFunction for Problem<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let values = self.family.decode(x);
        let key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        if let Some(&c) = self.cache.borrow().get(&key) {
            return Ok(c);
        }
        if self.trace.borrow().len() as u64 >= self.budget {
            // Out of budget: make every new point look bad so the simplex stops moving.
            return Ok(f64::INFINITY);
        }
        let schedule = self.family.schedule(&values);
        let score = match self.evaluator.borrow_mut().score(&schedule) {
            Ok(s) => s,
            Err(e) => {
                let message = e.to_string();
                *self.failure.borrow_mut() = Some(e);
                return Err(argmin::core::Error::msg(message));
            }
        };
        let penalised = self.penalised(&score);
        self.trace.borrow_mut().push(Evaluation {
            values,
            score: score.value,
            penalised,
            mean_dose: score.mean_dose,
        });
        self.cache.borrow_mut().insert(key, -penalised);
        Ok(-penalised)
    }
}

/// The `i`-th point (i ≥ 1) of the Halton sequence in `dims` dimensions: a deterministic,
/// evenly spread design of the unit cube.
fn halton(i: u64, dims: usize) -> Vec<f64> {
    const PRIMES: [u64; 8] = [2, 3, 5, 7, 11, 13, 17, 19];
    (0..dims)
        .map(|d| {
            let base = PRIMES[d % PRIMES.len()];
            let (mut f, mut r, mut n) = (1.0, 0.0, i);
            while n > 0 {
                f /= base as f64;
                r += f * (n % base) as f64;
                n /= base;
            }
            r
        })
        .collect()
}

/// Searches `family` with at most `budget` distinct evaluations.
pub fn search(
    evaluator: &mut Evaluator,
    family: &Family,
    budget: u64,
    limit: Option<DoseLimit>,
) -> Result<FamilyResult> {
    let dims = family.parameters().len();
    let problem = Problem {
        family,
        evaluator: RefCell::new(evaluator),
        cache: RefCell::new(HashMap::new()),
        trace: RefCell::new(Vec::new()),
        limit,
        budget,
        failure: RefCell::new(None),
    };
    // A spread-out first look (a quarter of the budget, at most 8 points a dimension), then
    // Nelder–Mead from the best points found, best first, until the budget is spent.
    let design = (budget / 4).clamp(1, 8 * dims as u64);
    for i in 1..=design {
        problem.cost(&halton(i, dims)).map_err(|e| {
            problem
                .failure
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Error::Usage(format!("search of {} failed: {e}", family.name())))
        })?;
    }
    let mut ranked: Vec<Vec<f64>> = problem
        .trace
        .borrow()
        .iter()
        .map(|e| (e.penalised, e.values.clone()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let scores: Vec<f64> = problem.trace.borrow().iter().map(|e| e.penalised).collect();
    let mut order: Vec<usize> = (0..ranked.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    ranked = order.into_iter().map(|i| ranked[i].clone()).collect();
    let encode = |values: &[f64]| family.encode(values);
    let mut problem = Some(problem);
    for values in ranked {
        let start = encode(&values);
        let Some(p) = problem.take() else { break };
        if p.trace.borrow().len() as u64 >= budget {
            problem = Some(p);
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
            .map_err(|e| Error::Usage(format!("internal: Nelder–Mead setup: {e}")))?;
        let result = Executor::new(p, solver)
            .configure(|state| state.max_iters(budget))
            .run();
        match result {
            Ok(done) => problem = done.problem.problem,
            Err(e) => {
                return Err(Error::Usage(format!(
                    "search of {} failed: {e}",
                    family.name()
                )));
            }
        }
        if let Some(p) = &problem
            && let Some(e) = p.failure.borrow_mut().take()
        {
            return Err(e);
        }
    }
    let p = problem.ok_or_else(|| Error::Usage("internal: search lost its problem".to_owned()))?;
    let trace = p.trace.into_inner();
    let best = trace
        .iter()
        .max_by(|a, b| a.penalised.total_cmp(&b.penalised))
        .cloned()
        .ok_or_else(|| Error::Usage(format!("the {} search made no evaluation", family.name())))?;
    Ok(FamilyResult {
        family: family.name(),
        schedule: family.schedule(&best.values),
        best,
        trace,
    })
}
