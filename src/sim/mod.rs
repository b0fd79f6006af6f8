//! Running one arm of a scenario through time.
//!
//! The driver owns the clock: it visits, asks the policy for doses, records, and hands each
//! smooth stretch between those events to a [`Propagator`] (the ODE today; stochastic
//! engines plug in the same way). Every step therefore ends on a dose, a visit, the end of a
//! dose level or a recording time.

pub mod exact;
pub mod forecast;
mod lockstep;
pub mod ode;
pub mod outcome;
pub mod rollouts;
pub mod stochastic;

use crate::error::{Error, Result};
use crate::model::pk::{Dose, Exposure, Kinetics};
use crate::model::toxicity::ToxicityGuard;
use crate::model::{Model, RateParts, Rates, Role};
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
#[derive(Clone)]
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
    /// What a model-predictive rule believed and expected, when the run records a
    /// trajectory and its arm has one.
    pub policy_trace: Option<crate::protocol::mpc::MpcTrace>,
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
    let mut run = Driver::new(scenario, arm, options);
    run.drive(propagator)?;
    Ok(run.finish())
}

/// The state at each of `times` (sorted, within the horizon) in a run of `arm` with
/// `propagator`: row-major, one row of compartment counts per time. This is what a fit
/// compares with measurements taken at arbitrary times; nothing else is recorded.
pub fn run_sampled<P: Propagator>(
    scenario: &Scenario,
    arm: &Arm,
    propagator: &mut P,
    times: &[f64],
) -> Result<Vec<f64>> {
    let options = RunOptions {
        record_every: 0.0,
        noise: None,
    };
    let mut run = Driver::new(scenario, arm, options);
    run.sample_times = times;
    run.drive(propagator)?;
    Ok(run.samples)
}

/// A deterministic run stopped at a time, to be carried on with an open-loop schedule
/// that agrees with the run's own up to then (see [`run_deterministic_pausing`]).
pub(crate) struct Paused<'s> {
    driver: Driver<'s>,
    ode: OdePropagator,
}

impl<'s> Paused<'s> {
    /// A second copy of the paused run (several schedules may carry on from one pause).
    pub(crate) fn duplicate(&self) -> Paused<'s> {
        Paused {
            driver: self.driver.copy(),
            ode: self.ode.clone(),
        }
    }

    /// The run carried on to the horizon with `arm`'s schedule from the pause on. The
    /// caller promises that `arm`'s schedule gives the same doses as the paused run's
    /// before the pause and does not depend on observations (an open-loop schedule): the
    /// result is then the run of `arm` from time 0, number for number.
    pub(crate) fn resume(self, arm: &'s Arm) -> Result<RunResult> {
        let Paused {
            mut driver,
            mut ode,
        } = self;
        driver.arm = arm;
        driver.policy = arm.schedule.policy(&forecast::ScenarioEnv {
            scenario: driver.scenario,
            progression: arm.progression,
            key: driver.options.noise,
        });
        driver.drive(&mut ode)?;
        Ok(driver.finish())
    }
}

/// The deterministic run of `arm` (as [`run_deterministic`], with the extra segment
/// boundaries at `pauses`), and a copy of it as it stood at each of `pauses` (sorted; none
/// for pauses at or after the horizon) before the events due then. Runs of schedules that
/// differ only after some time share the run up to it: the LP's finite differences resume
/// from the pause at the start of the period they change.
pub(crate) fn run_deterministic_pausing<'s>(
    scenario: &'s Scenario,
    arm: &'s Arm,
    options: RunOptions,
    pauses: &'s [f64],
) -> Result<(RunResult, Vec<Paused<'s>>)> {
    let mut ode = OdePropagator::new(
        &scenario.model,
        scenario.drugs.len(),
        ode::Tolerance::default(),
    );
    let mut run = Driver::new(scenario, arm, options);
    run.pauses = pauses;
    let mut kept = Vec::new();
    loop {
        while let Some(&at) = pauses.get(kept.len())
            && at <= run.t + run.eps
            && at < scenario.horizon - run.eps
        {
            kept.push(Paused {
                driver: run.copy(),
                ode: ode.clone(),
            });
        }
        if run.tick(&mut ode)? {
            break;
        }
    }
    Ok((run.finish(), kept))
}

/// The policy of a paused copy until [`Paused::resume`] gives it the schedule to carry on
/// with.
struct NoPolicy;

impl crate::protocol::schedule::Policy for NoPolicy {
    fn decision_time(&self, _k: usize) -> Option<f64> {
        None
    }

    fn decide(&mut self, _t: f64, _doses: &mut Vec<Dose>) {}
}

/// One run in progress: the state, the policy and everything recorded so far.
struct Driver<'s> {
    scenario: &'s Scenario,
    arm: &'s Arm,
    options: RunOptions,
    /// Tolerance for "these two event times are the same".
    eps: f64,
    t: f64,
    state: Vec<f64>,
    exposure: Exposure,
    policy: Box<dyn crate::protocol::schedule::Policy + Send>,
    progression: ProgressionTracker,
    /// Set when progression on the last line ends treatment.
    treatment_over: bool,
    outcome: OutcomeTracker,
    toxicity: ToxicityGuard,
    trajectory: Trajectory,
    visits: Vec<Visit>,
    given: Vec<GivenDose>,
    /// The doses of one decision (reused).
    doses: Vec<Dose>,
    dose_since_row: Vec<f64>,
    conc: Vec<f64>,
    rate_check: Rates,
    /// The rate parts of the exposure `check_conc` (exposures repeat: daily doses reach a
    /// steady state, and between doses of a level drug nothing changes).
    check_parts: RateParts,
    check_conc: Vec<f64>,
    /// Below this many cells in all, the rates at `check_conc` cannot be out of range.
    check_below: f64,
    /// `check_parts` holds the rate parts at `check_conc` (they are needed only above
    /// `check_below`, and the bound itself comes from a cache shared by the thread's runs).
    parts_ready: bool,
    /// [`Model::fingerprint`], for that cache.
    model_digest: u64,
    visit_k: u64,
    decision_k: usize,
    record_k: u64,
    /// The true marker at time 0, and its peak before progression.
    marker0: f64,
    peak_marker: f64,
    /// The measured marker at time 0, the smallest measured ratio to it since, and the
    /// first visit that counted as a response.
    response_base: f64,
    best_response: f64,
    response_at: Option<f64>,
    /// Times at which to keep the state (for [`run_sampled`]), the next one's index, and the
    /// states kept.
    sample_times: &'s [f64],
    sample_k: usize,
    samples: Vec<f64>,
    /// Times the run must stop at (segment boundaries), for [`run_deterministic_pausing`].
    pauses: &'s [f64],
    /// Keep the doses of the latest decisions in `dosed` (drug, weight for the outcome,
    /// duration): the shared schedule of a block does, for the runs that follow it
    /// (`lockstep.rs`).
    logs_doses: bool,
    dosed: Vec<(usize, f64, f64)>,
    /// Of the shared schedule, a count of the changes of `conc` (from 1); of a run that
    /// follows it, the count its `conc` and rate bound are at (`lockstep.rs`: most days the
    /// exposure at the day's start repeats, and then nothing is copied or compared).
    conc_version: u64,
}

impl<'s> Driver<'s> {
    fn new(scenario: &'s Scenario, arm: &'s Arm, options: RunOptions) -> Self {
        let model = &scenario.model;
        let n_drugs = scenario.drugs.len();
        let resistant = model
            .compartments
            .iter()
            .map(|c| c.role == Role::Resistant)
            .collect();
        let state = model.initial_state();
        let mut outcome = OutcomeTracker::new(scenario.horizon, resistant, n_drugs);
        outcome.state(0.0, &state);
        Driver {
            scenario,
            arm,
            options,
            eps: EVENT_EPS * scenario.horizon.max(1.0),
            t: 0.0,
            state,
            exposure: Exposure::new(&scenario.drugs),
            policy: arm.schedule.policy(&forecast::ScenarioEnv {
                scenario,
                progression: arm.progression,
                key: options.noise,
            }),
            progression: ProgressionTracker::new(arm.progression),
            treatment_over: false,
            outcome,
            toxicity: ToxicityGuard::new(
                scenario.toxicity.clone(),
                scenario.drugs.iter().map(|d| d.kinetics).collect(),
            ),
            trajectory: Trajectory::default(),
            visits: Vec::new(),
            given: Vec::new(),
            doses: Vec::new(),
            dose_since_row: vec![0.0; n_drugs],
            conc: vec![0.0; n_drugs],
            rate_check: model.new_rates(),
            check_parts: model.new_rate_parts(),
            check_conc: vec![f64::NAN; n_drugs],
            check_below: 0.0,
            parts_ready: false,
            model_digest: model.fingerprint(),
            visit_k: 0,
            decision_k: 0,
            record_k: 0,
            marker0: 0.0,
            peak_marker: 0.0,
            response_base: 0.0,
            best_response: 1.0,
            response_at: None,
            sample_times: &[],
            sample_k: 0,
            samples: Vec::new(),
            pauses: &[],
            logs_doses: false,
            dosed: Vec::new(),
            conc_version: 0,
        }
    }

    /// A copy of the run as it stands, without its policy (see [`Paused`]).
    fn copy(&self) -> Self {
        Driver {
            scenario: self.scenario,
            arm: self.arm,
            options: self.options,
            eps: self.eps,
            t: self.t,
            state: self.state.clone(),
            exposure: self.exposure.clone(),
            policy: Box::new(NoPolicy),
            progression: self.progression.clone(),
            treatment_over: self.treatment_over,
            outcome: self.outcome.clone(),
            toxicity: self.toxicity.clone(),
            trajectory: self.trajectory.clone(),
            visits: self.visits.clone(),
            given: self.given.clone(),
            doses: Vec::new(),
            dose_since_row: self.dose_since_row.clone(),
            conc: self.conc.clone(),
            rate_check: self.rate_check.clone(),
            check_parts: self.check_parts.clone(),
            check_conc: self.check_conc.clone(),
            check_below: self.check_below,
            parts_ready: self.parts_ready,
            model_digest: self.model_digest,
            visit_k: self.visit_k,
            decision_k: self.decision_k,
            record_k: self.record_k,
            marker0: self.marker0,
            peak_marker: self.peak_marker,
            response_base: self.response_base,
            best_response: self.best_response,
            response_at: self.response_at,
            sample_times: self.sample_times,
            sample_k: self.sample_k,
            samples: self.samples.clone(),
            pauses: self.pauses,
            logs_doses: self.logs_doses,
            dosed: self.dosed.clone(),
            conc_version: self.conc_version,
        }
    }

    /// The run from time 0 to the horizon.
    fn drive<P: Propagator>(&mut self, propagator: &mut P) -> Result<()> {
        while !self.tick(propagator)? {}
        Ok(())
    }

    /// One turn of the run: the events due now, then the state moved to the next event;
    /// true when the run has reached the horizon.
    fn tick<P: Propagator>(&mut self, propagator: &mut P) -> Result<bool> {
        let Some(next) = self.depart()? else {
            return Ok(true);
        };
        let span = next - self.t;
        if span > 0.0 {
            let model = &self.scenario.model;
            propagator
                .advance(model, &self.exposure, self.t, span, &mut self.state)
                .map_err(|e| e.in_arm(&self.arm.name))?;
        }
        self.arrive(next);
        Ok(false)
    }

    /// The events due now, then where the state moves next (checked against rates no
    /// engine can follow); `None` when the run has reached the horizon. The state is then
    /// moved to it by an engine and [`Self::arrive`] follows.
    fn depart(&mut self) -> Result<Option<f64>> {
        // 1. Visits: observe, call progression, and let the policy see the result.
        if self.visit_due() {
            self.visit();
        }
        self.depart_after_visit()
    }

    /// [`Self::depart`] from the decisions on, the visit due now (if any) done.
    fn depart_after_visit(&mut self) -> Result<Option<f64>> {
        // 2. Decisions: doses given now (none once treatment is over).
        self.decide();
        // 3. Samples (for a fit) and recording; at the horizon the run is over.
        self.sample();
        if self.record() {
            return Ok(None);
        }
        // 4. Integrate to the next event.
        let next = self.next_event();
        self.check_rates(next)?;
        Ok(Some(next))
    }

    fn recording(&self) -> bool {
        self.options.record_every > 0.0
    }

    fn visit_due(&self) -> bool {
        (self.visit_k as f64) * self.scenario.marker.every <= self.t + self.eps
    }

    /// The visit at `t`: the policy sees the observed marker first (a sequential regimen may
    /// move to its next line here), then progression is judged, on the last line only and
    /// from that line's start; progression on the last line ends treatment unless the arm
    /// treats beyond it.
    fn visit(&mut self) {
        let (t, marker) = (self.t, &self.scenario.marker);
        let obs = marker.observe(&self.state, t, self.visit_k, self.options.noise);
        let true_value = marker.true_value(&self.state);
        if self.visit_k == 0 {
            self.marker0 = true_value;
        }
        if self.progression.progressed_at().is_none() {
            self.peak_marker = self.peak_marker.max(true_value);
            self.track_response(&obs);
        }
        let line_before = self.policy.line();
        self.policy.observe(&obs);
        let threshold = self.progression.threshold();
        let decided = if self.policy.line() != line_before {
            self.progression = ProgressionTracker::new(self.arm.progression);
            self.progression.update(&obs);
            false
        } else if self.policy.on_last_line() {
            self.progression.update(&obs)
        } else {
            false
        };
        self.visits.push(Visit {
            observation: obs,
            true_value,
            progression: false,
            threshold,
        });
        if decided {
            // A confirmed rule dates progression at the first of its visits.
            let at = self.progression.progressed_at().unwrap_or(t);
            if let Some(v) = self
                .visits
                .iter_mut()
                .rev()
                .find(|v| v.observation.time <= at)
            {
                v.progression = true;
            }
            if !self.arm.treat_beyond_progression {
                self.treatment_over = true;
                let unused = self.exposure.stop_levels(t, self.scenario.horizon);
                self.outcome.end_treatment(t, &unused);
            }
        }
        self.visit_k += 1;
    }

    /// The best response so far and the first visit that met the response criterion, on
    /// the measured marker (what a trial reads) against the measured baseline.
    fn track_response(&mut self, obs: &Observation) {
        if self.visit_k == 0 {
            self.response_base = obs.value;
            return;
        }
        let ratio = if !obs.detected {
            0.0
        } else if self.response_base > 0.0 {
            obs.value / self.response_base
        } else {
            return;
        };
        self.best_response = self.best_response.min(ratio);
        if self.response_at.is_none() && ratio <= self.arm.progression.response_fraction() {
            self.response_at = Some(obs.time);
        }
    }

    /// The policy's next decision time, while treatment goes on.
    fn next_decision(&self) -> Option<f64> {
        self.policy
            .decision_time(self.decision_k)
            .filter(|_| !self.treatment_over)
    }

    /// Every decision due at `t`: doses through the toxicity guard into the exposure.
    fn decide(&mut self) {
        self.dosed.clear();
        let (t, horizon, eps) = (self.t, self.scenario.horizon, self.eps);
        let n_drugs = self.scenario.drugs.len();
        while let Some(td) = self.next_decision() {
            if td > t + eps || td >= horizon - eps {
                break;
            }
            self.doses.clear();
            self.policy.decide(t, &mut self.doses);
            for planned in &self.doses {
                // (Field by field: the policy has just stored them one by one, and one wide
                // load across two such stores waits for both to reach the cache.)
                let (drug, amount, duration) = (planned.drug, planned.amount, planned.duration);
                if amount <= 0.0 || drug >= n_drugs {
                    continue;
                }
                let mut dose = Dose {
                    drug,
                    amount,
                    duration,
                };
                if !self.toxicity.admit(t, &mut dose) {
                    continue;
                }
                if self.options.record_every > 0.0 {
                    self.given.push(GivenDose { time: t, dose });
                }
                self.exposure.give(t, &dose);
                let weight = match self.scenario.drugs[dose.drug].kinetics {
                    Kinetics::Level => dose.amount * dose.duration.min(horizon - t),
                    Kinetics::OneCompartment { .. } => dose.amount,
                };
                self.outcome.dose(t, dose.drug, weight, dose.duration);
                self.dose_since_row[dose.drug] += dose.amount;
                if self.logs_doses {
                    self.dosed.push((dose.drug, weight, dose.duration));
                }
            }
            self.decision_k += 1;
        }
    }

    /// Records a trajectory row when one is due; true at the horizon (the run is over).
    fn record(&mut self) -> bool {
        let (t, eps, every) = (self.t, self.eps, self.options.record_every);
        let at_end = t >= self.scenario.horizon - eps;
        if self.recording() && ((self.record_k as f64) * every <= t + eps || at_end) {
            self.exposure.at(0.0, &mut self.conc);
            let tr = &mut self.trajectory;
            tr.times.push(t);
            tr.counts.extend_from_slice(&self.state);
            tr.exposure.extend_from_slice(&self.conc);
            tr.dose.extend_from_slice(&self.dose_since_row);
            self.dose_since_row.iter_mut().for_each(|x| *x = 0.0);
            while (self.record_k as f64) * every <= t + eps {
                self.record_k += 1;
            }
        }
        at_end
    }

    /// Keeps the state for every sample time due now.
    fn sample(&mut self) {
        while let Some(&ts) = self.sample_times.get(self.sample_k) {
            if ts > self.t + self.eps {
                break;
            }
            self.samples.extend_from_slice(&self.state);
            self.sample_k += 1;
        }
    }

    /// The next time something happens: a visit, a decision, a recording, a sample, a change
    /// of exposure, or the horizon.
    fn next_event(&self) -> f64 {
        let mut next = self.scenario.horizon;
        if let Some(&ts) = self.sample_times.get(self.sample_k) {
            next = next.min(ts);
        }
        next = next.min(self.visit_k as f64 * self.scenario.marker.every);
        if let Some(td) = self.next_decision() {
            next = next.min(td);
        }
        if self.recording() {
            next = next.min(self.record_k as f64 * self.options.record_every);
        }
        if let Some(&at) = self.pauses.iter().find(|&&at| at > self.t + self.eps) {
            next = next.min(at);
        }
        next.min(self.exposure.next_change_after(self.t + self.eps))
    }

    /// Before the state moves to `next`: stops the run, with the same words for every
    /// engine, on a rate no engine can follow (an effect of 1e300, say), instead of one
    /// overflowing and the other rounding.
    fn check_rates(&mut self, next: f64) -> Result<()> {
        if next - self.t <= 0.0 {
            return Ok(());
        }
        self.exposure.at(0.0, &mut self.conc);
        self.check_rates_at_conc()
    }

    /// [`Self::check_rates`] at the exposure `self.conc` (the drugs' levels now).
    fn check_rates_at_conc(&mut self) -> Result<()> {
        if self.conc != self.check_conc {
            self.bound_rates_at_conc();
        }
        self.check_state()
    }

    /// The bound below which the state's rates at `self.conc` cannot be out of range.
    fn bound_rates_at_conc(&mut self) {
        let model = &self.scenario.model;
        self.check_conc.copy_from_slice(&self.conc);
        self.parts_ready = false;
        self.check_below = safe_below(model, self.model_digest, &self.conc, || {
            model.rate_parts(&self.conc, &mut self.check_parts);
            self.parts_ready = true;
            model.rates_safe_below(&self.check_parts)
        });
    }

    /// The rate check of the state at `self.check_conc`, its bound known.
    fn check_state(&mut self) -> Result<()> {
        let model = &self.scenario.model;
        // (Σ|N|: the bound holds for the ODE's tiny negative counts too.)
        let total: f64 = self.state.iter().map(|x| x.abs()).sum();
        if (total.is_nan() || total >= self.check_below)
            && let Some(what) = {
                if !self.parts_ready {
                    model.rate_parts(&self.conc, &mut self.check_parts);
                    self.parts_ready = true;
                }
                model.rates_from_parts(&self.check_parts, &self.state, &mut self.rate_check);
                model.rate_out_of_range(&self.rate_check)
            }
        {
            return Err(Error::Simulation {
                arm: self.arm.name.clone(),
                time: self.t,
                reason: format!(
                    "{what}, more than the limit of {:e}: check the parameters behind it \
                     (rates, effects and their units)",
                    crate::support::limits::MAX_RATE
                ),
            });
        }
        Ok(())
    }

    /// After the state has moved to `next`: the exposure and the clock follow it.
    fn arrive(&mut self, next: f64) {
        let span = next - self.t;
        if span > 0.0 {
            self.exposure.advance(self.t, span);
        }
        self.move_clock(next);
    }

    /// The clock to `next` (the horizon when within rounding of it), and the outcome's
    /// record of the state there.
    fn move_clock(&mut self, next: f64) {
        let horizon = self.scenario.horizon;
        self.t = if next >= horizon - self.eps {
            horizon
        } else {
            next
        };
        self.outcome.state(self.t, &self.state);
    }

    /// The run's result: what was recorded and what it came to.
    fn finish(self) -> RunResult {
        let mut outcome = self.outcome.finish(self.progression.progressed_at());
        outcome.clipped_doses = self.toxicity.clipped;
        outcome.peak_marker = if self.marker0 > 0.0 {
            self.peak_marker / self.marker0
        } else {
            0.0
        };
        outcome.best_response = self.best_response;
        outcome.response_at = self.response_at;
        let policy_trace = if self.options.record_every > 0.0 {
            self.policy.trace().cloned()
        } else {
            None
        };
        RunResult {
            policy_trace,
            trajectory: self.trajectory,
            visits: self.visits,
            outcome,
            doses: self.given,
        }
    }
}

/// [`Model::rates_safe_below`] at exposure `conc` of the model with fingerprint `digest`,
/// from a per-thread cache (`compute` on a miss): the runs of one arm meet the same
/// exposures day after day, and the bound costs Hill powers to find.
fn safe_below(model: &Model, digest: u64, conc: &[f64], compute: impl FnOnce() -> f64) -> f64 {
    use std::cell::RefCell;
    use std::collections::HashMap;
    /// Bounds one thread keeps before it starts afresh.
    const KEEP: usize = 1 << 14;
    thread_local! {
        static BOUNDS: RefCell<HashMap<[u64; 2], f64>> = RefCell::new(HashMap::new());
    }
    let mut key = [digest, !digest];
    crate::support::rng::absorb2(&mut key, model.n_compartments() as u64);
    for c in conc {
        crate::support::rng::absorb2(&mut key, c.to_bits());
    }
    if let Some(bound) = BOUNDS.with(|b| b.borrow().get(&key).copied()) {
        return bound;
    }
    let bound = compute();
    BOUNDS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() >= KEEP {
            b.clear();
        }
        b.insert(key, bound);
    });
    bound
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
