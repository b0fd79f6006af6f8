//! Running one arm of a scenario through time.
//!
//! The driver owns the clock: it visits, asks the policy for doses, records, and hands each
//! smooth stretch between those events to a [`Propagator`] (the ODE today; stochastic
//! engines plug in the same way). Every step therefore ends on a dose, a visit, the end of a
//! dose level or a recording time.

pub mod exact;
pub mod ode;
pub mod outcome;
pub mod rollouts;
pub mod stochastic;

use crate::error::{Error, Result};
use crate::model::pk::{Dose, Exposure, Kinetics};
use crate::model::toxicity::ToxicityGuard;
use crate::model::{Model, Rates, Role};
use crate::protocol::events::GivenDose;
use crate::protocol::observe::ProgressionTracker;
use crate::protocol::schedule::Observation;
use crate::scenario::{Arm, Scenario};
use crate::sim::outcome::{OutcomeTracker, RunOutcome};

/// Moves the cell counts across one stretch of time with no dosing event inside.
pub trait Propagator {
    /// Advances `state` from time `t0` by `span` time units; `exposure` describes the drugs
    /// from the start of the stretch (query it with `tau` in [0, span]).
    fn advance(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        t0: f64,
        span: f64,
        state: &mut [f64],
    ) -> Result<()>;
}

/// The deterministic engine: integrates the mean-field ODE.
pub struct OdePropagator {
    integrator: ode::Integrator,
    rates: Rates,
    concentrations: Vec<f64>,
}

impl OdePropagator {
    /// An ODE engine for `model` with `n_drugs` drugs at tolerance `tol`.
    pub fn new(model: &Model, n_drugs: usize, tol: ode::Tolerance) -> Self {
        OdePropagator {
            integrator: ode::Integrator::new(model.n_compartments(), tol),
            rates: model.new_rates(),
            concentrations: vec![0.0; n_drugs],
        }
    }

    /// Integration steps accepted and rejected so far.
    pub fn steps(&self) -> (u64, u64) {
        (self.integrator.accepted, self.integrator.rejected)
    }
}

impl Propagator for OdePropagator {
    fn advance(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        t0: f64,
        span: f64,
        state: &mut [f64],
    ) -> Result<()> {
        let rates = &mut self.rates;
        let conc = &mut self.concentrations;
        self.integrator
            .integrate(
                |tau, y, dy| {
                    exposure.at(tau, conc);
                    model.derivative(y, conc, rates, dy);
                },
                span,
                state,
            )
            .map_err(|reason| Error::engine(t0, reason))
    }
}

/// Options of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Record the trajectory every this many time units (0: do not record).
    pub record_every: f64,
    /// Measurement noise key; `None` observes the exact marker.
    pub noise: Option<NoiseKey>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            record_every: 1.0,
            noise: None,
        }
    }
}

pub use crate::protocol::observe::NoiseKey;

/// A recorded trajectory, one row per recording time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    /// Recording times.
    pub times: Vec<f64>,
    /// Row-major: `n_compartments` counts per row.
    pub counts: Vec<f64>,
    /// Row-major: exposure of each drug per row.
    pub exposure: Vec<f64>,
    /// Row-major: amount of each drug given since the previous row, this time included.
    pub dose: Vec<f64>,
}

/// One visit as recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Visit {
    /// What was measured.
    pub observation: Observation,
    /// The noise-free marker.
    pub true_value: f64,
    /// Progression was called at this visit (for a confirmed rule: the first of the two
    /// visits).
    pub progression: bool,
    /// The marker value this visit had to reach for progression (`None` at baseline).
    pub threshold: Option<f64>,
}

/// Everything one run of an arm produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The recorded trajectory (empty when recording is off).
    pub trajectory: Trajectory,
    /// Every visit.
    pub visits: Vec<Visit>,
    /// Time to progression, dose, time on drug.
    pub outcome: RunOutcome,
    /// Every dose given (after toxicity clipping), when the run records a trajectory.
    pub doses: Vec<GivenDose>,
}

/// Tolerance for "these two event times are the same", relative to the horizon.
const EVENT_EPS: f64 = 1e-9;

/// Runs `arm` of `scenario` from time 0 to the horizon with `propagator`.
pub fn run<P: Propagator>(
    scenario: &Scenario,
    arm: &Arm,
    propagator: &mut P,
    options: RunOptions,
) -> Result<RunResult> {
    let model = &scenario.model;
    let horizon = scenario.horizon;
    let eps = EVENT_EPS * horizon.max(1.0);
    let n_drugs = scenario.drugs.len();
    let n_comp = model.n_compartments();

    let mut state = model.initial_state();
    let mut exposure = Exposure::new(&scenario.drugs);
    let mut policy = arm.schedule.policy();
    let mut progression = ProgressionTracker::new(arm.progression);
    // Set when progression on the last line ends treatment.
    let mut treatment_over = false;
    let resistant = model
        .compartments
        .iter()
        .map(|c| c.role == Role::Resistant)
        .collect();
    let mut outcome = OutcomeTracker::new(horizon, resistant, n_drugs);
    let mut trajectory = Trajectory::default();
    let mut visits = Vec::new();
    let mut doses: Vec<Dose> = Vec::new();
    let mut dose_since_row = vec![0.0; n_drugs];
    let mut conc = vec![0.0; n_drugs];
    let mut rate_check = model.new_rates();
    let mut given: Vec<GivenDose> = Vec::new();
    let mut toxicity = ToxicityGuard::new(
        scenario.toxicity.clone(),
        scenario.drugs.iter().map(|d| d.kinetics).collect(),
    );

    let every = scenario.marker.every;
    let record = options.record_every > 0.0;
    let (mut visit_k, mut decision_k, mut record_k) = (0u64, 0usize, 0u64);
    let mut t = 0.0;
    let (mut marker0, mut peak_marker) = (0.0f64, 0.0f64);
    outcome.state(t, &state);
    loop {
        // 1. Visits: observe, call progression, and let the policy see the result.
        if (visit_k as f64) * every <= t + eps {
            let obs = scenario.marker.observe(&state, t, visit_k, options.noise);
            // The policy sees the visit first: a sequential regimen may move to its next
            // line here, and progression ends the arm only on its last line, judged from
            // that line's start.
            let true_value = scenario.marker.true_value(&state);
            if visit_k == 0 {
                marker0 = true_value;
            }
            if progression.progressed_at().is_none() {
                peak_marker = peak_marker.max(true_value);
            }
            let line_before = policy.line();
            policy.observe(&obs);
            let threshold = progression.threshold();
            let decided = if policy.line() != line_before {
                progression = ProgressionTracker::new(arm.progression);
                progression.update(&obs);
                false
            } else if policy.on_last_line() {
                progression.update(&obs)
            } else {
                false
            };
            visits.push(Visit {
                observation: obs,
                true_value,
                progression: false,
                threshold,
            });
            if decided {
                // A confirmed rule dates progression at the first of its visits.
                let at = progression.progressed_at().unwrap_or(t);
                if let Some(v) = visits.iter_mut().rev().find(|v| v.observation.time <= at) {
                    v.progression = true;
                }
                if !arm.treat_beyond_progression {
                    treatment_over = true;
                    let unused = exposure.stop_levels(t, horizon);
                    outcome.end_treatment(t, &unused);
                }
            }
            visit_k += 1;
        }
        // 2. Decisions: doses given now (none once treatment is over).
        while let Some(td) = policy.decision_time(decision_k).filter(|_| !treatment_over) {
            if td > t + eps || td >= horizon - eps {
                break;
            }
            doses.clear();
            policy.decide(t, &mut doses);
            for planned in &doses {
                if planned.amount <= 0.0 || planned.drug >= n_drugs {
                    continue;
                }
                let mut dose = *planned;
                if !toxicity.admit(t, &mut dose) {
                    continue;
                }
                let d = &dose;
                if record {
                    given.push(GivenDose { time: t, dose });
                }
                exposure.give(t, d);
                let weight = match scenario.drugs[d.drug].kinetics {
                    Kinetics::Level => d.amount * d.duration.min(horizon - t),
                    Kinetics::OneCompartment { .. } => d.amount,
                };
                outcome.dose(t, d.drug, weight, d.duration);
                dose_since_row[d.drug] += d.amount;
            }
            decision_k += 1;
        }
        // 3. Recording.
        let at_end = t >= horizon - eps;
        if record && ((record_k as f64) * options.record_every <= t + eps || at_end) {
            exposure.at(0.0, &mut conc);
            trajectory.times.push(t);
            trajectory.counts.extend_from_slice(&state);
            trajectory.exposure.extend_from_slice(&conc);
            trajectory.dose.extend_from_slice(&dose_since_row);
            dose_since_row.iter_mut().for_each(|x| *x = 0.0);
            while (record_k as f64) * options.record_every <= t + eps {
                record_k += 1;
            }
        }
        if at_end {
            break;
        }
        // 4. Integrate to the next event.
        let mut next = horizon;
        next = next.min(visit_k as f64 * every);
        if let Some(td) = policy.decision_time(decision_k).filter(|_| !treatment_over) {
            next = next.min(td);
        }
        if record {
            next = next.min(record_k as f64 * options.record_every);
        }
        next = next.min(exposure.next_change_after(t + eps));
        let span = next - t;
        if span > 0.0 {
            // Both engines stop here, with the same words, on a rate no engine can follow
            // (an effect of 1e300, say), instead of one overflowing and the other rounding.
            exposure.at(0.0, &mut conc);
            model.rates(&state, &conc, &mut rate_check);
            if let Some(what) = model.rate_out_of_range(&rate_check) {
                return Err(Error::Simulation {
                    arm: arm.name.clone(),
                    time: t,
                    reason: format!(
                        "{what}, more than the limit of {:e}: check the parameters behind it \
                         (rates, effects and their units)",
                        crate::support::limits::MAX_RATE
                    ),
                });
            }
            propagator
                .advance(model, &exposure, t, span, &mut state)
                .map_err(|e| e.in_arm(&arm.name))?;
            exposure.advance(t, span);
        }
        t = if next >= horizon - eps { horizon } else { next };
        outcome.state(t, &state);
        debug_assert_eq!(state.len(), n_comp);
    }
    let mut outcome = outcome.finish(progression.progressed_at());
    outcome.clipped_doses = toxicity.clipped;
    outcome.peak_marker = if marker0 > 0.0 {
        peak_marker / marker0
    } else {
        0.0
    };
    Ok(RunResult {
        trajectory,
        visits,
        outcome,
        doses: given,
    })
}

/// Runs `arm` deterministically (mean-field ODE) with default tolerances.
pub fn run_deterministic(scenario: &Scenario, arm: &Arm, options: RunOptions) -> Result<RunResult> {
    let mut ode = OdePropagator::new(
        &scenario.model,
        scenario.drugs.len(),
        ode::Tolerance::default(),
    );
    run(scenario, arm, &mut ode, options)
}
