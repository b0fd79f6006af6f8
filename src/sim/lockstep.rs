//! Runs of one arm in lock-step: the stochastic rollouts of a [`Block`] turn by turn.
//!
//! Each run keeps its own driver — its visits, decisions, progression and outcome — and
//! does exactly what it would alone; only the moving of the counts is handed to the block,
//! one leg of every run at a time (see [`Block`]).

use super::stochastic::{Block, Leg};
use super::{Driver, RunOptions, RunResult};
use crate::error::{Error, Result};
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
    let mut results: Vec<Option<Result<RunResult>>> = (0..n).map(|_| None).collect();
    let mut next = vec![0.0; n];
    let mut errors: Vec<Option<Error>> = (0..n).map(|_| None).collect();
    loop {
        // Each run's events now, and where its next leg takes it.
        let mut legs: Vec<Option<Leg>> = Vec::with_capacity(n);
        let mut live = 0;
        for (i, slot) in drivers.iter_mut().enumerate() {
            let turn = slot.as_mut().map_or(Ok(None), Driver::depart);
            match turn {
                Ok(Some(at)) => next[i] = at,
                Ok(None) => {
                    if let Some(run) = slot.take() {
                        results[i] = Some(Ok(run.finish()));
                    }
                }
                Err(e) => {
                    results[i] = Some(Err(e));
                    *slot = None;
                }
            }
            live += usize::from(slot.is_some());
            legs.push(slot.as_mut().and_then(|run| run.leg(next[i])));
        }
        if live == 0 {
            break;
        }
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
                None => run.arrive(next[i]),
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
        let span = next - self.t;
        (span > 0.0).then_some(Leg {
            model: &self.scenario.model,
            exposure: &self.exposure,
            t0: self.t,
            span,
            state: &mut self.state,
        })
    }
}
