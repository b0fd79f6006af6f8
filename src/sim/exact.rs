//! Exact event-by-event simulation (Gillespie's direct method), the reference the leaping
//! engine is tested against at small populations.
//!
//! Rates come from the same [`Model::rates`] and are recomputed after every event, so
//! crowding is exact. The exposure must be constant within each stretch the driver hands
//! over, which holds for dose-level drugs (the driver ends stretches where levels change);
//! pharmacokinetic drugs are refused.

// Propensities are indexed by compartment alongside the state; index loops read clearest.
#![allow(clippy::needless_range_loop)]

use super::Propagator;
use crate::model::pk::Exposure;
use crate::model::{Model, Rates};
use crate::support::rng::{Key, Stream};
use rand::RngExt;

/// Most events one stretch may hold before the run is refused (exact simulation is for
/// small populations).
const MAX_EVENTS_PER_STRETCH: u64 = 50_000_000;

/// Gillespie's direct method: event-by-event simulation, the reference the stochastic
/// engine is tested against at small populations.
pub struct ExactPropagator {
    rng: Stream,
    rates: Rates,
    conc: Vec<f64>,
    propensity: Vec<f64>,
}

impl ExactPropagator {
    /// One exact rollout's propagator. Its stream is keyed apart from the leaping engine's.
    pub fn new(model: &Model, n_drugs: usize, seed: u64, rollout: u64) -> Self {
        ExactPropagator {
            rng: Key {
                seed,
                rollout,
                step: u64::MAX - 1,
                unit: 0,
                channel: 0,
            }
            .stream(),
            rates: model.new_rates(),
            conc: vec![0.0; n_drugs],
            propensity: Vec::new(),
        }
    }
}

impl Propagator for ExactPropagator {
    fn advance(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        t0: f64,
        span: f64,
        state: &mut [f64],
    ) -> crate::error::Result<()> {
        exposure.at(0.0, &mut self.conc);
        let mut probe = vec![0.0; self.conc.len()];
        exposure.at(span, &mut probe);
        if probe != self.conc {
            return Err(crate::error::Error::engine(
                t0,
                "exact simulation needs exposure constant between events (dose-level drugs only)",
            ));
        }
        let nc = state.len();
        let nt = model.transitions.len();
        let nm = model.mutations.len();
        // Channels: birth (keeps parent) per compartment, death per compartment, each
        // transition, each mutation.
        self.propensity.resize(2 * nc + nt + nm, 0.0);
        let mut t = 0.0;
        let mut events = 0u64;
        loop {
            model.rates(state, &self.conc, &mut self.rates);
            let r = &self.rates;
            for i in 0..nc {
                let share: f64 = model
                    .mutations
                    .iter()
                    .filter(|m| m.from == i)
                    .map(|m| m.probability)
                    .sum();
                self.propensity[i] = r.birth[i] * (1.0 - share) * state[i];
                self.propensity[nc + i] = r.death[i] * state[i];
            }
            for (k, tr) in model.transitions.iter().enumerate() {
                self.propensity[2 * nc + k] = r.transition[k] * state[tr.from];
            }
            for (k, m) in model.mutations.iter().enumerate() {
                self.propensity[2 * nc + nt + k] = r.birth[m.from] * m.probability * state[m.from];
            }
            let total: f64 = self.propensity.iter().sum();
            if total <= 0.0 {
                return Ok(());
            }
            let u: f64 = self.rng.random();
            t += -(1.0 - u).ln() / total;
            if t >= span {
                return Ok(());
            }
            let mut pick = self.rng.random::<f64>() * total;
            let mut channel = self.propensity.len() - 1;
            for (k, a) in self.propensity.iter().enumerate() {
                if pick < *a {
                    channel = k;
                    break;
                }
                pick -= a;
            }
            if channel < nc {
                state[channel] += 1.0;
            } else if channel < 2 * nc {
                state[channel - nc] = (state[channel - nc] - 1.0).max(0.0);
            } else if channel < 2 * nc + nt {
                let tr = &model.transitions[channel - 2 * nc];
                state[tr.from] -= 1.0;
                state[tr.to] += 1.0;
            } else {
                state[model.mutations[channel - 2 * nc - nt].to] += 1.0;
            }
            events += 1;
            if events > MAX_EVENTS_PER_STRETCH {
                return Err(crate::error::Error::engine(
                    t0 + t,
                    format!(
                        "more than {MAX_EVENTS_PER_STRETCH} events in one stretch: population \
                         too large for exact simulation"
                    ),
                ));
            }
        }
    }
}
