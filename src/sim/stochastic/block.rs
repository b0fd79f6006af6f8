//! Rollouts stepped together, stage by stage.
//!
//! A block holds several rollouts (lanes). Lanes whose joint steps share a kernel take them
//! together as arrays, eight (AVX-512) or four (AVX2) lanes to a vector instruction
//! (`lanes.rs`); the others run each stage of a joint step across the lanes before the next
//! stage. Every lane draws from its own keyed streams and does the same arithmetic in the
//! same order as alone, so a rollout's numbers do not depend on the block it runs in, its
//! size, or its other lanes (docs/performance.md has what each part gained).

use super::lanes::{self, LANES};
use super::{Pending, StochasticPropagator};
use crate::error::Error;
use crate::model::Model;
use crate::model::pk::Exposure;

/// One lane's leg: move `state` from time `t0` by `span` under `exposure` (a stretch with no
/// dosing event inside, as [`crate::sim::Propagator::advance`] takes).
pub struct Leg<'a> {
    /// The lane's model (its own when virtual patients differ).
    pub model: &'a Model,
    /// The drugs from the leg's start.
    pub exposure: &'a Exposure,
    /// The leg's start.
    pub t0: f64,
    /// The leg's length.
    pub span: f64,
    /// The lane's counts, moved in place.
    pub state: &'a mut [f64],
}

/// The stochastic engines of a block of rollouts, with the scratch of their lock-step.
pub struct Block {
    lanes: Vec<StochasticPropagator>,
    /// Per lane: where its leg has got to, and its joint step between stages.
    at: Vec<f64>,
    pending: Vec<Option<Pending>>,
    /// The lanes whose current step is a joint one.
    joint: Vec<usize>,
    /// Those lanes in groups that share a kernel, for the arrays (`lanes.rs`), and per
    /// lane whether the arrays took its step.
    grouped: Vec<usize>,
    /// Scratch of the grouping: per lane, its kernel's address and order of steps.
    keyed: Vec<((usize, bool), usize)>,
    taken: Vec<bool>,
    /// The joint lanes the arrays did not take, which run the lane-by-lane stages.
    alone: Vec<usize>,
    /// Some two lanes have the same model, so their steps can share kernels (virtual
    /// patients whose drawn parameters differ never do, and skip the grouping).
    shared: bool,
}

impl Block {
    /// A block of the engines `lanes` (one per rollout, in lane order).
    pub fn new(lanes: Vec<StochasticPropagator>) -> Self {
        let n = lanes.len();
        let mut models: Vec<u64> = lanes.iter().map(|lane| lane.digest).collect();
        models.sort_unstable();
        let shared = models.windows(2).any(|w| w[0] == w[1]);
        Block {
            lanes,
            at: vec![0.0; n],
            pending: (0..n).map(|_| None).collect(),
            joint: Vec::with_capacity(n),
            grouped: Vec::with_capacity(n),
            keyed: Vec::with_capacity(n),
            taken: vec![false; n],
            alone: Vec::with_capacity(n),
            shared,
        }
    }

    /// The number of lanes.
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    /// Whether the block has no lanes.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Moves every lane that has a leg (`legs[i]` for lane i; `None` sits the round out) to
    /// its leg's end, one step of every lane at a time. A lane whose counts stop being
    /// finite stops there, with its error in `errors[i]`; the others go on.
    pub fn advance(&mut self, legs: &mut [Option<Leg>], errors: &mut [Option<Error>]) {
        for (at, leg) in self.at.iter_mut().zip(legs.iter()) {
            if let Some(leg) = leg {
                *at = leg.t0;
            }
        }
        loop {
            // Start each lane's next step; lanes whose step is not a joint one take it whole.
            self.joint.clear();
            // Some lane has a step left after this round (else the round is the last, and
            // no pass over the lanes is needed to find that out).
            let mut more = false;
            let lanes = self.lanes.iter_mut().zip(legs.iter_mut());
            let slots = self.at.iter_mut().zip(errors.iter_mut());
            for (i, (((lane, leg), (at, error)), pending)) in
                lanes.zip(slots).zip(&mut self.pending).enumerate()
            {
                let Some(leg) = leg.as_mut() else {
                    continue;
                };
                let end = leg.t0 + leg.span;
                let tiny = 1e-9 * lane.step;
                if error.is_some() || *at >= end - tiny {
                    continue;
                }
                let plan = lane.plan(leg.t0, *at, end);
                *at = plan.end;
                match lane.begin_step(leg.model, leg.exposure, &plan, leg.state) {
                    Some(step) => {
                        *pending = Some(step);
                        self.joint.push(i);
                        more |= plan.end < end - tiny;
                    }
                    None => {
                        *error = non_finite(plan.t, leg.state);
                        more |= error.is_none() && plan.end < end - tiny;
                    }
                }
            }
            // Lanes that share a kernel take their joint steps together, as arrays; the
            // others take each stage across the lanes before the next.
            self.arrays(legs);
            self.alone.clear();
            for &i in &self.joint {
                if !self.taken[i] {
                    self.alone.push(i);
                }
            }
            for &i in &self.alone {
                if let (Some(step), Some(leg)) = (&self.pending[i], &legs[i]) {
                    self.lanes[i].joint_laws(step, leg.model, leg.state);
                }
            }
            for &i in &self.alone {
                if let (Some(step), Some(leg)) = (&self.pending[i], &legs[i]) {
                    self.lanes[i].joint_covariance(step, leg.state);
                }
            }
            for &i in &self.alone {
                if let (Some(step), Some(leg)) = (&self.pending[i], &legs[i]) {
                    self.lanes[i].joint_draw(step, leg.model);
                }
            }
            for &i in &self.joint {
                if let (Some(step), Some(leg)) = (self.pending[i].take(), legs[i].as_mut()) {
                    if !self.taken[i] {
                        self.lanes[i].joint_finish(&step, leg.state);
                    }
                    errors[i] = non_finite(step.t, leg.state);
                }
            }
            if !more {
                return;
            }
        }
    }

    /// The joint steps of lanes that share a kernel and an order of switching and growth,
    /// [`LANES`] at a time through the arrays, which move their legs' states; marks in
    /// `taken` the lanes they took. A kernel's lanes are grouped by its address, which
    /// changes only which lanes go together, never a number.
    fn arrays(&mut self, legs: &mut [Option<Leg>]) {
        self.taken.fill(false);
        if !self.shared {
            return;
        }
        self.keyed.clear();
        for &i in &self.joint {
            if let (Some(step), Some(leg)) = (&self.pending[i], &legs[i])
                && self.lanes[i].arrays
                && step.kernel.lineages.len() == leg.state.len()
            {
                let kernel = std::rc::Rc::as_ptr(&step.kernel) as usize;
                self.keyed.push(((kernel, step.switch_first), i));
            }
        }
        // (On an open-loop arm every lane's step usually shares one kernel: no sort then.)
        if self.keyed.windows(2).any(|w| w[0].0 != w[1].0) {
            self.keyed.sort_unstable();
        }
        self.grouped.clear();
        self.grouped.extend(self.keyed.iter().map(|&(_, i)| i));
        let mut s = 0;
        while s < self.keyed.len() {
            let key = self.keyed[s].0;
            let mut e = s + 1;
            while e < self.keyed.len() && e - s < LANES && self.keyed[e].0 == key {
                e += 1;
            }
            // A lone lane goes faster by itself.
            if e - s > 1 {
                let chunk = &self.grouped[s..e];
                let took = lanes::joint_steps(&mut self.lanes, &self.pending, legs, chunk);
                for (&i, took) in chunk.iter().zip(took) {
                    self.taken[i] = took;
                }
            }
            s = e;
        }
    }
}

/// The engine's error for a step from `t` that left a count non-finite, if it did.
fn non_finite(t: f64, state: &[f64]) -> Option<Error> {
    state
        .iter()
        .any(|x| !x.is_finite())
        .then(|| Error::engine(t, "a count became non-finite"))
}
