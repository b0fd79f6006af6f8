//! The scenario's model as a model-based dosing rule carries it ([`crate::protocol::forecast`]):
//! the deterministic engine run on the rule's own doses, from the scenario's starting state,
//! rescaled to each observed marker. In a rollout of a virtual patient it is the population's
//! typical model, not the patient's own draws: the rule knows what a clinician would. A
//! particle filter's hypotheses are drawn here too, from the population's laws, and may move
//! on the stochastic engine.

use super::stochastic::{StochasticPropagator, StochasticSettings};
use super::{OdePropagator, Propagator, ode};
use crate::model::Model;
use crate::model::pk::{Dose, Exposure, Kinetics};
use crate::model::toxicity::ToxicityGuard;
use crate::protocol::forecast::{Clinic, Forecaster, PolicyEnv};
use crate::protocol::observe::{NoiseKey, ProgressionRule};
use crate::scenario::Scenario;
use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// The environment the driver offers a run's policy: the scenario's (typical) model and
/// the clinic of the arm being run.
pub struct ScenarioEnv<'a> {
    /// The scenario being run (a virtual patient's own, for a rollout).
    pub scenario: &'a Scenario,
    /// The arm's progression rule.
    pub progression: ProgressionRule,
    /// The run's stream keys (`None` for a deterministic run: seed 0, rollout 0).
    pub key: Option<NoiseKey>,
}

/// Channel of the hypotheses' extra spread of initial counts (the patient draws use their
/// own channel, under a key of their own).
const SPREAD_CHANNEL: u64 = 0x5350_5245_4144; // "SPREAD"

impl PolicyEnv for ScenarioEnv<'_> {
    fn forecaster(&self) -> Option<Box<dyn Forecaster>> {
        let s = self.scenario;
        Some(Box::new(ModelForecaster::new(s.assumed_model(), s)))
    }

    fn clinic(&self) -> Option<Clinic> {
        let s = self.scenario;
        let key = self.key.unwrap_or(NoiseKey {
            seed: 0,
            rollout: 0,
        });
        Some(Clinic {
            marker: s.marker.clone(),
            progression: self.progression,
            guard: ToxicityGuard::new(
                s.toxicity.clone(),
                s.drugs.iter().map(|d| d.kinetics).collect(),
            ),
            level: s
                .drugs
                .iter()
                .map(|d| d.kinetics == Kinetics::Level)
                .collect(),
            horizon: s.horizon,
            seed: key.seed,
            rollout: key.rollout,
        })
    }

    fn hypotheses(
        &self,
        n: usize,
        spread: f64,
        key: u64,
        stochastic: bool,
    ) -> Vec<Box<dyn Forecaster>> {
        let s = self.scenario;
        // The stochastic engine counts cells: where the counts are fractions of a capacity
        // (a deterministic run of such a scenario), the hypotheses stay on the ODE.
        let stochastic = stochastic && (s.counts_in_cells || s.cells_per_unit == 1.0);
        let graded = s.has_pk();
        let typical = s.assumed_model();
        let laws = s.assumed_laws();
        let sigma = (1.0 + spread * spread).ln().sqrt();
        (0..n as u64)
            .map(|i| {
                let mut model = (*typical).clone();
                if let Some(laws) = &laws {
                    laws.draw(&mut model, key, i, false);
                }
                if sigma > 0.0 {
                    for (c, comp) in model.compartments.iter_mut().enumerate() {
                        let mut rng = Key {
                            seed: key,
                            rollout: i,
                            step: ROLLOUT_LEVEL_STEP,
                            unit: c as u64,
                            channel: SPREAD_CHANNEL,
                        }
                        .stream();
                        let z: f64 = StandardNormal.sample(&mut rng);
                        comp.initial *= (sigma * z - 0.5 * sigma * sigma).exp();
                    }
                }
                let mut hypothesis = ModelForecaster::new(Arc::new(model), s);
                if stochastic {
                    hypothesis.stochastic = Some(StochasticKey {
                        seed: key ^ STOCHASTIC_TAG,
                        id: i,
                        step: s.stochastic_step,
                        graded,
                    });
                }
                Box::new(hypothesis) as Box<dyn Forecaster>
            })
            .collect()
    }
}

/// Distinguishes a hypothesis' stochastic streams from the filter's other draws.
const STOCHASTIC_TAG: u64 = 0x5354_4f43_4841_5354; // "STOCHAST"

/// The streams of a model moved by the stochastic engine: rollout `id` of seed `seed`.
#[derive(Clone, Copy)]
struct StochasticKey {
    seed: u64,
    id: u64,
    step: f64,
    graded: bool,
}

/// The model of a patient advanced on the doses a rule gives: on the ODE, or (a particle
/// filter's hypotheses, when asked) on the stochastic engine.
#[derive(Clone)]
pub struct ModelForecaster {
    /// Set: moved by the stochastic engine with these streams (its propagator is made for
    /// each stretch: it keeps per-thread caches that cannot travel with a policy).
    stochastic: Option<StochasticKey>,
    model: Arc<Model>,
    /// Per drug: held as a level (a dose repeated every interval is then one long level).
    level: Vec<bool>,
    weights: Vec<f64>,
    every: f64,
    t: f64,
    state: Vec<f64>,
    exposure: Exposure,
    ode: OdePropagator,
}

impl ModelForecaster {
    /// `model` at its starting state at time 0 with the drugs, marker and visits of
    /// `scenario`.
    pub fn new(model: Arc<Model>, scenario: &Scenario) -> Self {
        let n_drugs = scenario.drugs.len();
        ModelForecaster {
            stochastic: None,
            level: scenario
                .drugs
                .iter()
                .map(|d| d.kinetics == Kinetics::Level)
                .collect(),
            weights: scenario.marker.weights.clone(),
            every: scenario.marker.every,
            t: 0.0,
            state: model.initial_state(),
            exposure: Exposure::new(&scenario.drugs),
            ode: OdePropagator::new(&model, n_drugs, ode::Tolerance::default()),
            model,
        }
    }

    fn eps(&self) -> f64 {
        1e-9 * self.t.abs().max(1.0)
    }
}

impl Forecaster for ModelForecaster {
    fn advance_to(&mut self, t: f64) -> Result<(), String> {
        while self.t < t - self.eps() {
            let next = self.exposure.next_change_after(self.t).min(t);
            let span = next - self.t;
            match self.stochastic {
                Some(k) => {
                    // Whole cells: the filter's jitter and rescaling leave fractions.
                    self.state.iter_mut().for_each(|x| *x = x.round().max(0.0));
                    StochasticPropagator::new(
                        &self.model,
                        k.graded,
                        StochasticSettings {
                            seed: k.seed,
                            rollout: k.id,
                            step: k.step,
                        },
                    )
                    .advance(
                        &self.model,
                        &self.exposure,
                        self.t,
                        span,
                        &mut self.state,
                    )
                }
                None => {
                    self.ode
                        .advance(&self.model, &self.exposure, self.t, span, &mut self.state)
                }
            }
            .map_err(|e| e.to_string())?;
            self.exposure.advance(self.t, span);
            self.t = next;
        }
        Ok(())
    }

    fn give(&mut self, dose: &Dose) {
        self.exposure.give(self.t, dose);
    }

    fn marker(&self) -> f64 {
        self.weights
            .iter()
            .zip(&self.state)
            .map(|(w, x)| w * x)
            .sum()
    }

    fn rescale(&mut self, value: f64) {
        let now = self.marker();
        if now > 0.0 && value > 0.0 && now.is_finite() && value.is_finite() {
            let factor = value / now;
            self.state.iter_mut().for_each(|x| *x *= factor);
        }
    }

    fn marker_if(&self, dose: &Dose, interval: f64, until: f64) -> Result<f64, String> {
        let mut copy = self.clone();
        let contiguous = dose.duration >= interval - copy.eps();
        if dose.amount > 0.0 && interval > 0.0 {
            if self.level.get(dose.drug) == Some(&true) && contiguous {
                // Back-to-back levels are one level: one integration instead of one per dose.
                copy.give(&Dose {
                    duration: until - copy.t,
                    ..*dose
                });
            } else {
                let mut k = 0u32;
                loop {
                    let at = self.t + f64::from(k) * interval;
                    if at >= until - copy.eps() {
                        break;
                    }
                    copy.advance_to(at)?;
                    copy.give(dose);
                    k += 1;
                }
            }
        }
        copy.advance_to(until)?;
        Ok(copy.marker())
    }

    fn visit_every(&self) -> f64 {
        self.every
    }

    fn time(&self) -> f64 {
        self.t
    }

    fn state(&self) -> &[f64] {
        &self.state
    }

    fn state_mut(&mut self) -> &mut [f64] {
        &mut self.state
    }

    fn boxed_clone(&self) -> Box<dyn Forecaster> {
        Box::new(self.clone())
    }

    fn planning_copy(&self) -> Box<dyn Forecaster> {
        let mut copy = self.clone();
        copy.stochastic = None;
        Box::new(copy)
    }

    fn rekey(&mut self, id: u64) {
        if let Some(k) = self.stochastic.as_mut() {
            k.id = id;
        }
    }
}
