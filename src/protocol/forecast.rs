//! The model a model-based dosing rule carries.
//!
//! A rule such as containment's "hold at target" chooses each dose by asking what the
//! scenario's model expects the marker to do. It must not see the simulated patient's true
//! cells, so it keeps its own copy of the model, fed only with what the rule knows: the doses
//! it gave and the markers it observed. The engines supply that copy through a
//! [`PolicyEnv`] when they make the rule's policy.

use crate::model::pk::Dose;
use crate::model::toxicity::ToxicityGuard;
use crate::protocol::observe::{MarkerModel, ProgressionRule};

/// A deterministic model of the patient, advanced alongside the run.
pub trait Forecaster: Send {
    /// Moves the model's state on to time `t` (no earlier than its own time) with the doses
    /// given so far.
    fn advance_to(&mut self, t: f64) -> Result<(), String>;

    /// Gives `dose` at the model's current time.
    fn give(&mut self, dose: &Dose);

    /// The model's marker now.
    fn marker(&self) -> f64;

    /// Scales every compartment by one factor so that the model's marker is `value`: the
    /// observation corrects the size of the tumour the model believes in, not its make-up.
    fn rescale(&mut self, value: f64);

    /// The marker the model expects at `until` if `dose` is given now and every `interval`
    /// after it until then (the model itself is not moved).
    fn marker_if(&self, dose: &Dose, interval: f64, until: f64) -> Result<f64, String>;

    /// Time between visits: when the rule will next see the marker.
    fn visit_every(&self) -> f64;

    /// The model's time.
    fn time(&self) -> f64;

    /// The model's compartment counts now.
    fn state(&self) -> &[f64];

    /// The model's compartment counts, to correct (a particle filter moves them).
    fn state_mut(&mut self) -> &mut [f64];

    /// An independent copy of the model as it stands.
    fn boxed_clone(&self) -> Box<dyn Forecaster>;

    /// A copy on the deterministic engine, for plans (the same as [`Self::boxed_clone`]
    /// for a deterministic model).
    fn planning_copy(&self) -> Box<dyn Forecaster> {
        self.boxed_clone()
    }

    /// Gives a stochastic model fresh random streams, numbered `id` (a resampled copy must
    /// not repeat its parent's future); nothing for a deterministic one.
    fn rekey(&mut self, _id: u64) {}
}

/// What the clinic around a rule is like: how the marker is read, what counts as
/// progression, the toxicity budgets the doses pass through, and the keys of the run's
/// random streams. A rule that plans (the model-predictive policy) needs all of it.
#[derive(Debug, Clone)]
pub struct Clinic {
    /// How the marker is measured.
    pub marker: MarkerModel,
    /// The arm's progression rule.
    pub progression: ProgressionRule,
    /// A fresh ledger of the scenario's toxicity budgets.
    pub guard: ToxicityGuard,
    /// Per drug: dosed as a level (back-to-back doses are one level).
    pub level: Vec<bool>,
    /// The end of follow-up.
    pub horizon: f64,
    /// The run's seed and rollout: a rule's own random streams are keyed by them, so its
    /// draws do not depend on the thread that runs it.
    pub seed: u64,
    /// See `seed`.
    pub rollout: u64,
}

/// What the engine running a rule offers it beyond the observations.
pub trait PolicyEnv {
    /// A fresh model of the patient at time 0, if the engine has one to give.
    fn forecaster(&self) -> Option<Box<dyn Forecaster>>;

    /// The clinic the rule works in, if the engine describes it.
    fn clinic(&self) -> Option<Clinic> {
        None
    }

    /// `n` hypotheses about the patient for a particle filter, each at its starting state:
    /// models drawn from what the scenario says of its patients (the virtual-patient laws
    /// around the typical model; the typical model alone if it has none), each initial
    /// count then spread by a mean-one log-normal factor of CV `spread`. Drawn from streams
    /// keyed by `key` and the hypothesis' number. With `stochastic` they move between
    /// visits on the stochastic engine where the counts are cells (else on the ODE). Empty if
    /// the engine has no model.
    fn hypotheses(
        &self,
        _n: usize,
        _spread: f64,
        _key: u64,
        _stochastic: bool,
    ) -> Vec<Box<dyn Forecaster>> {
        Vec::new()
    }
}

/// An engine with no model to give: model-based rules fall back to feedback alone (see
/// each rule).
pub struct NoModel;

impl PolicyEnv for NoModel {
    fn forecaster(&self) -> Option<Box<dyn Forecaster>> {
        None
    }
}
