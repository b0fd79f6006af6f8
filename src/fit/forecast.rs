//! The honest test of a fit: the measurements held back (after `fit.until`) against what
//! the model fitted to the earlier ones predicts under the doses the subject then received,
//! and whether it predicted progression when the data show it.

use super::Prediction;
use crate::protocol::observe::{Observation, ProgressionTracker};
use crate::scenario::Scenario;

/// How a fit forecast the measurements it did not see.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Measurements held back.
    pub held_back: usize,
    /// Root mean square of ln(observed / predicted) over the quantified ones held back.
    pub rmse_log: f64,
    /// Median of |observed − predicted| / observed over the quantified ones held back.
    pub median_relative_error: f64,
    /// When the measurements show progression (the scenario's rule), if they do.
    pub observed_progression: Option<f64>,
    /// When the fitted model's marker at the same times shows it, if it does.
    pub predicted_progression: Option<f64>,
    /// The measurements show progression within the fitted period already (nothing left
    /// to forecast about it).
    pub progressed_while_fitted: bool,
    /// How far apart the two progression times may be and still agree: three visit
    /// intervals (a marker measured at visits dates progression no better than that).
    pub window: f64,
}

impl Forecast {
    /// Progression forecast right: neither shows it, or both do within [`Forecast::window`]
    /// of each other.
    pub fn progression_agrees(&self) -> bool {
        match (self.observed_progression, self.predicted_progression) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= self.window,
            _ => false,
        }
    }
}

/// When `series` (time, value, detected) progresses by the rule of `scenario`'s first arm.
fn progression(scenario: &Scenario, series: impl Iterator<Item = Observation>) -> Option<f64> {
    let mut tracker = ProgressionTracker::new(scenario.arms[0].progression);
    for obs in series {
        if tracker.update(&obs) {
            break;
        }
    }
    tracker.progressed_at()
}

/// The forecast of a subject whose predictions include measurements held back (`None` if
/// none were). `scenario` is the subject's own (its first arm's rule judges progression).
pub fn forecast(scenario: &Scenario, predictions: &[Prediction]) -> Option<Forecast> {
    let held: Vec<&Prediction> = predictions.iter().filter(|p| !p.fitted).collect();
    if held.is_empty() || scenario.arms.is_empty() {
        return None;
    }
    let until = predictions
        .iter()
        .filter(|p| p.fitted)
        .map(|p| p.measurement.time)
        .fold(f64::NEG_INFINITY, f64::max);
    let quantified: Vec<&&Prediction> = held
        .iter()
        .filter(|p| !p.measurement.censored && p.measurement.value > 0.0 && p.predicted > 0.0)
        .collect();
    let mut log_errors: Vec<f64> = quantified
        .iter()
        .map(|p| (p.measurement.value / p.predicted).ln())
        .collect();
    let rmse_log =
        (log_errors.iter().map(|e| e * e).sum::<f64>() / log_errors.len().max(1) as f64).sqrt();
    log_errors.clear();
    let mut relative: Vec<f64> = quantified
        .iter()
        .map(|p| (p.measurement.value - p.predicted).abs() / p.measurement.value)
        .collect();
    relative.sort_by(f64::total_cmp);
    let limit = scenario.marker.detection_limit;
    let observed = progression(
        scenario,
        predictions.iter().map(|p| Observation {
            time: p.measurement.time,
            value: p.measurement.value,
            detected: !p.measurement.censored,
        }),
    );
    let predicted = progression(
        scenario,
        predictions.iter().map(|p| Observation {
            time: p.measurement.time,
            value: p.predicted,
            detected: p.predicted >= limit,
        }),
    );
    Some(Forecast {
        held_back: held.len(),
        rmse_log: if quantified.is_empty() {
            f64::NAN
        } else {
            rmse_log
        },
        median_relative_error: crate::stats::middle(relative).unwrap_or(f64::NAN),
        observed_progression: observed,
        predicted_progression: predicted,
        progressed_while_fitted: observed.is_some_and(|t| t <= until),
        window: 3.0 * scenario.marker.every,
    })
}
