//! The model a model-based dosing rule carries.
//!
//! A rule such as containment's "hold at target" chooses each dose by asking what the
//! scenario's model expects the marker to do. It must not see the simulated patient's true
//! cells, so it keeps its own copy of the model, fed only with what the rule knows: the doses
//! it gave and the markers it observed. The engines supply that copy through a
//! [`PolicyEnv`] when they make the rule's policy.

use crate::model::pk::Dose;

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
}

/// What the engine running a rule offers it beyond the observations.
pub trait PolicyEnv {
    /// A fresh model of the patient at time 0, if the engine has one to give.
    fn forecaster(&self) -> Option<Box<dyn Forecaster>>;
}

/// An engine with no model to give: model-based rules fall back to feedback alone (see
/// each rule).
pub struct NoModel;

impl PolicyEnv for NoModel {
    fn forecaster(&self) -> Option<Box<dyn Forecaster>> {
        None
    }
}
