//! Runs of one arm in lock-step: the stochastic rollouts of a [`Block`] turn by turn.
//!
//! Each run keeps its own driver — its visits, decisions, progression and outcome — and
//! does exactly what it would alone; only the moving of the counts is handed to the block,
//! one leg of every run at a time (see [`Block`]).
//!
//! On an open-loop arm (doses that depend on time alone), runs of the same patient are dosed
//! alike until progression ends treatment: their exposure, toxicity guard and event times
//! are the same, number for number. Such runs follow one shared schedule — a driver of the
//! arm that only doses — instead of each working its day out: a following run keeps its own
//! visits, outcome and rate check, and takes the shared schedule's exposure, doses and next
//! event. It takes a copy of the shared schedule's state whenever its own could be read: at
//! each visit (which may end its treatment, after which it runs on its own) and at its end.

use super::stochastic::{Block, Leg};
use super::{Driver, RunOptions, RunResult};
use crate::error::{Error, Result};
use crate::model::pk::Exposure;
use crate::scenario::{Arm, Scenario};

/// Runs `arm` once per entry of `runs` (lane i: its scenario — a virtual patient's own —
/// and options), moving the counts with lane i of `block`. Per run, its result or error,
/// in lane order.
pub fn run_block(
    runs: &[(&Scenario, RunOptions)],
    arm: &Arm,
    block: &mut Block,
) -> Vec<Result<RunResult>> {
    let n = runs.len().min(block.len());
    let mut drivers: Vec<Option<Driver>> = runs[..n]
        .iter()
        .map(|&(scenario, options)| Some(Driver::new(scenario, arm, options)))
        .collect();
    // Runs that follow the shared schedule: on an open-loop arm, those dosed as the first
    // run is that record nothing (a recorded run keeps its own, for its trajectory's
    // exposure and doses). Worth it for two or more.
    let mut follows: Vec<bool> = runs[..n]
        .iter()
        .map(|&(scenario, options)| {
            arm.schedule.open_loop()
                && dosed_alike(scenario, runs[0].0)
                && options.record_every <= 0.0
        })
        .collect();
    let mut shared = (follows.iter().filter(|&&f| f).count() >= 2).then(|| {
        let mut lead = Driver::new(
            runs[0].0,
            arm,
            RunOptions {
                record_every: 0.0,
                noise: None,
            },
        );
        lead.logs_doses = true;
        // (Runs start at 0, so each takes the schedule's levels and bound at its first day.)
        lead.conc_version = 1;
        lead
    });
    if shared.is_none() {
        follows.fill(false);
    }
    let mut results: Vec<Option<Result<RunResult>>> = (0..n).map(|_| None).collect();
    let mut next = vec![0.0; n];
    let mut errors: Vec<Option<Error>> = (0..n).map(|_| None).collect();
    let mut conc_now = runs
        .first()
        .map_or(Vec::new(), |r| vec![0.0; r.0.drugs.len()]);
    loop {
        // The shared schedule's day: its visit (it observes nothing), then its doses and
        // where it goes next; each following run's visit comes first, from the schedule's
        // state before those doses, as a run alone sees it.
        let lead_next = match shared.as_mut() {
            Some(lead) => {
                if lead.visit_due() {
                    for (slot, follows) in drivers.iter_mut().zip(follows.iter_mut()) {
                        if let (Some(run), true) = (slot.as_mut(), *follows) {
                            run.adopt_schedule(lead);
                            run.visit();
                            // Progression ended its treatment: from here on it runs on its
                            // own.
                            *follows = !run.treatment_over;
                        }
                    }
                    lead.visit_k += 1;
                }
                lead.decide();
                lead.sample();
                let at_end = lead.record();
                let lead_next = (!at_end).then(|| lead.next_event());
                if let Some(at) = lead_next
                    && at - lead.t > 0.0
                {
                    lead.exposure.at(0.0, &mut conc_now);
                    if conc_now != lead.conc {
                        lead.conc.copy_from_slice(&conc_now);
                        lead.conc_version += 1;
                    }
                }
                lead_next
            }
            None => None,
        };
        // Each run's events now, and where its next leg takes it.
        let mut live = 0;
        for (i, slot) in drivers.iter_mut().enumerate() {
            // (A run whose visit has just ended its treatment departs as any run on its own:
            // its visit is made, so none is due.)
            let turn = match (slot.as_mut(), shared.as_ref()) {
                (None, _) => Ok(None),
                (Some(run), Some(lead)) if follows[i] => run.follow(lead, lead_next),
                (Some(run), _) => run.depart(),
            };
            match turn {
                Ok(Some(at)) => next[i] = at,
                Ok(None) => {
                    if let Some(mut run) = slot.take() {
                        if follows[i]
                            && let Some(lead) = &shared
                        {
                            run.adopt_schedule(lead);
                        }
                        results[i] = Some(Ok(run.finish()));
                    }
                }
                Err(e) => {
                    results[i] = Some(Err(e));
                    *slot = None;
                }
            }
            live += usize::from(slot.is_some());
        }
        if live == 0 {
            break;
        }
        let mut legs: Vec<Option<Leg>> = drivers
            .iter_mut()
            .enumerate()
            .map(|(i, slot)| match (slot.as_mut(), shared.as_ref()) {
                (Some(run), Some(lead)) if follows[i] => run.leg_on(&lead.exposure, next[i]),
                (Some(run), _) => run.leg(next[i]),
                (None, _) => None,
            })
            .collect();
        block.advance(&mut legs, &mut errors);
        drop(legs);
        for (i, slot) in drivers.iter_mut().enumerate() {
            let Some(run) = slot.as_mut() else {
                continue;
            };
            match errors[i].take() {
                Some(e) => {
                    results[i] = Some(Err(e.in_arm(&arm.name)));
                    *slot = None;
                }
                None if follows[i] => run.move_clock(next[i]),
                None => run.arrive(next[i]),
            }
        }
        // The shared schedule moves on while some run follows it.
        let following = drivers
            .iter()
            .zip(&follows)
            .any(|(slot, &f)| f && slot.is_some());
        match (shared.as_mut(), lead_next) {
            (Some(lead), Some(at)) if following => lead.arrive(at),
            _ => {
                shared = None;
                follows.fill(false);
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::engine(0.0, "a run in a block never ended"))))
        .collect()
}

impl<'s> Driver<'s> {
    /// The leg to `next` for the block to move, if the state moves at all.
    fn leg(&mut self, next: f64) -> Option<Leg<'_>> {
        let Driver {
            scenario,
            exposure,
            state,
            t,
            ..
        } = self;
        leg_to(scenario, exposure, state, *t, next)
    }

    /// [`Self::leg`] under `exposure` (the shared schedule's, which this run follows).
    fn leg_on<'a>(&'a mut self, exposure: &'a Exposure, next: f64) -> Option<Leg<'a>> {
        leg_to(self.scenario, exposure, &mut self.state, self.t, next)
    }

    /// The shared schedule's state as this run's own: its exposure, toxicity guard and
    /// decisions so far (the same as this run's would be, had it worked them out itself).
    fn adopt_schedule(&mut self, lead: &Driver) {
        self.exposure.clone_from(&lead.exposure);
        self.toxicity.clone_from(&lead.toxicity);
        self.decision_k = lead.decision_k;
    }

    /// [`Self::depart`] of a run that follows `lead`, whose visit (if due) is done and
    /// whose decisions now are `lead`'s: their doses in this run's outcome, then the
    /// horizon or `lead`'s next event (`next`), with this run's rate check at `lead`'s
    /// exposure.
    fn follow(&mut self, lead: &Driver, next: Option<f64>) -> Result<Option<f64>> {
        for &(drug, weight, duration) in &lead.dosed {
            self.outcome.dose(self.t, drug, weight, duration);
        }
        self.sample();
        if self.record() {
            return Ok(None);
        }
        let Some(next) = next else {
            return Err(Error::engine(self.t, "a run left its shared schedule"));
        };
        if next - self.t > 0.0 {
            if self.conc_version != lead.conc_version {
                self.conc.copy_from_slice(&lead.conc);
                self.conc_version = lead.conc_version;
                if self.conc != self.check_conc {
                    self.bound_rates_at_conc();
                }
            }
            self.check_state()?;
        }
        Ok(Some(next))
    }
}

/// The leg of `state` from `t` to `next` under `exposure`, if it is not empty.
fn leg_to<'a>(
    scenario: &'a Scenario,
    exposure: &'a Exposure,
    state: &'a mut [f64],
    t: f64,
    next: f64,
) -> Option<Leg<'a>> {
    let span = next - t;
    (span > 0.0).then_some(Leg {
        model: &scenario.model,
        exposure,
        t0: t,
        span,
        state,
    })
}

/// Whether an open-loop arm doses patients `a` and `b` alike: the same drugs (their
/// kinetics), toxicity budgets, horizon and visit times, all that a run's schedule reads (a
/// virtual patient differs in its model, which only its own visits and rate check read).
fn dosed_alike(a: &Scenario, b: &Scenario) -> bool {
    std::ptr::eq(a, b)
        || (a.drugs == b.drugs
            && a.toxicity == b.toxicity
            && a.horizon == b.horizon
            && a.marker.every == b.marker.every)
}
