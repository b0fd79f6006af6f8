//! The objective of a subject's fit: −2 ln likelihood of the measurements given the
//! deterministic model under the subject's own doses, with values below the limit of
//! quantification entering as P(measurement < limit) (Beal's M3 method), plus −2 ln prior
//! for a MAP fit.

use super::settings::{ErrorModel, Free};
use crate::protocol::dataset::Measurement;
use crate::scenario::Scenario;
use crate::sim::{OdePropagator, ode::Tolerance, run_sampled};
use crate::support::special::erfc;
use std::cell::{Cell, RefCell};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The ODE tolerance of the final fit: tighter than the default so finite-difference
/// derivatives of the likelihood (standard errors, the Newton polish, profiles) see the
/// model, not the step control.
pub const FIT_TOLERANCE: Tolerance = Tolerance {
    relative: 1e-10,
    absolute: 1e-12,
};

/// The ODE tolerance of the global search: a third of the steps, and errors far below
/// the measurement noise, which is all Nelder–Mead needs to find the basin.
pub const SEARCH_TOLERANCE: Tolerance = Tolerance {
    relative: 1e-7,
    absolute: 1e-10,
};

/// ln Φ(z), the log of the standard normal distribution function, accurate in the far left
/// tail too (where a censored value far above the prediction puts it).
pub fn ln_normal_cdf(z: f64) -> f64 {
    if z < -8.0 {
        // Asymptotic series of the Mills ratio (next term below 1e-6 relative for z < −8).
        let w = 1.0 / (z * z);
        let series = 1.0 - w * (1.0 - w * (3.0 - w * (15.0 - w * 105.0)));
        -0.5 / w - 0.5 * LN_2PI - (-z).ln() + series.ln()
    } else {
        (0.5 * erfc(-z / std::f64::consts::SQRT_2)).ln()
    }
}

/// A subject's fitting problem over search coordinates: the free parameters' (log or
/// linear) values, then the log of each residual-error parameter.
pub struct Objective<'a> {
    free: &'a [Free],
    error: ErrorModel,
    arm: usize,
    measurements: Vec<Measurement>,
    times: Vec<f64>,
    /// A copy of the subject's scenario whose free parameters each evaluation sets.
    scratch: RefCell<Scenario>,
    /// The typical size of a measurement (scales the additive error's search range).
    typical: f64,
    /// Likelihood evaluations so far (model runs).
    pub evaluations: Cell<u64>,
    /// The ODE tolerance of the next evaluations.
    tolerance: Cell<Tolerance>,
}

impl<'a> Objective<'a> {
    /// The problem of fitting `measurements` (in time order) with arm `arm` of `scenario`.
    pub fn new(
        scenario: &Scenario,
        arm: usize,
        measurements: &[Measurement],
        free: &'a [Free],
        error: ErrorModel,
    ) -> Self {
        let mut values: Vec<f64> = measurements.iter().map(|m| m.value.abs()).collect();
        values.sort_by(f64::total_cmp);
        let typical = values
            .get(values.len() / 2)
            .copied()
            .filter(|v| *v > 0.0)
            .or_else(|| values.last().copied().filter(|v| *v > 0.0))
            .unwrap_or(1.0);
        Objective {
            free,
            error,
            arm,
            measurements: measurements.to_vec(),
            times: measurements.iter().map(|m| m.time).collect(),
            scratch: RefCell::new(scenario.clone()),
            typical,
            evaluations: Cell::new(0),
            tolerance: Cell::new(FIT_TOLERANCE),
        }
    }

    /// Search coordinates: free parameters, then error parameters.
    pub fn dim(&self) -> usize {
        self.free.len() + self.error.parameters().len()
    }

    /// Evaluates with the search's looser ODE tolerance (`true`) or the fit's tight one.
    pub fn set_coarse(&self, coarse: bool) {
        self.set_tolerance(if coarse {
            SEARCH_TOLERANCE
        } else {
            FIT_TOLERANCE
        });
    }

    /// The ODE tolerance of the next evaluations.
    pub fn set_tolerance(&self, tolerance: Tolerance) {
        self.tolerance.set(tolerance);
    }

    /// The free parameters.
    pub fn free(&self) -> &[Free] {
        self.free
    }

    /// The error model.
    pub fn error(&self) -> ErrorModel {
        self.error
    }

    /// The measurements fitted.
    pub fn measurements(&self) -> &[Measurement] {
        &self.measurements
    }

    /// The box searched, in search coordinates.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        let mut b: Vec<(f64, f64)> = self.free.iter().map(Free::search_bounds).collect();
        for name in self.error.parameters() {
            b.push(match *name {
                "error.a" => ((1e-4 * self.typical).ln(), (10.0 * self.typical).ln()),
                _ => (1e-3_f64.ln(), 10.0_f64.ln()),
            });
        }
        b
    }

    /// The scenario's own values and a 10 % error: the first start.
    pub fn start(&self) -> Vec<f64> {
        let mut x: Vec<f64> = self.free.iter().map(|f| f.to_search(f.value)).collect();
        for name in self.error.parameters() {
            x.push(match *name {
                "error.a" => (0.1 * self.typical).ln(),
                _ => 0.1_f64.ln(),
            });
        }
        x
    }

    /// The model's marker at every measurement time, with the free parameters at `values`
    /// (natural scale).
    pub fn predict(&self, values: &[f64]) -> crate::error::Result<Vec<f64>> {
        predict_at(
            &self.scratch,
            (self.free, values),
            self.arm,
            &self.times,
            self.tolerance.get(),
        )
    }

    /// −2 ln likelihood (+ −2 ln prior) at search coordinates `x`; +∞ where the model
    /// cannot be run.
    pub fn value(&self, x: &[f64]) -> f64 {
        self.evaluations.set(self.evaluations.get() + 1);
        let n = self.free.len();
        let values: Vec<f64> = self
            .free
            .iter()
            .zip(x)
            .map(|(f, v)| f.from_search(*v))
            .collect();
        let Ok(predicted) = self.predict(&values) else {
            return f64::INFINITY;
        };
        let mut total = self.neg2ll(&predicted, &x[n..]);
        for (f, v) in self.free.iter().zip(&values) {
            if let Some(prior) = f.prior {
                total += prior.penalty(*v);
            }
        }
        if total.is_nan() { f64::INFINITY } else { total }
    }

    /// −2 ln likelihood of the measurements given `predicted` and the log error
    /// parameters `log_error`.
    pub fn neg2ll(&self, predicted: &[f64], log_error: &[f64]) -> f64 {
        let e: Vec<f64> = log_error.iter().map(|v| v.exp()).collect();
        let mut total = 0.0;
        for (m, &f) in self.measurements.iter().zip(predicted) {
            let f = f.max(1e-300);
            let (residual, sd, jacobian) = match self.error {
                ErrorModel::Additive => (m.value - f, e[0], 0.0),
                ErrorModel::Proportional => (m.value - f, e[0] * f, 0.0),
                ErrorModel::Combined => {
                    (m.value - f, (e[0] * e[0] + (e[1] * f).powi(2)).sqrt(), 0.0)
                }
                ErrorModel::LogAdditive => {
                    let y = m.value.max(1e-300);
                    (y.ln() - f.ln(), e[0], 2.0 * y.ln())
                }
            };
            total += if m.censored {
                -2.0 * ln_normal_cdf(residual / sd)
            } else {
                LN_2PI + 2.0 * sd.ln() + (residual / sd).powi(2) + jacobian
            };
        }
        total
    }
}

/// The marker of `scratch` at `times` with the free parameters set to `values`, solved to
/// `tolerance`.
pub fn predict_at(
    scratch: &RefCell<Scenario>,
    (free, values): (&[Free], &[f64]),
    arm: usize,
    times: &[f64],
    tolerance: Tolerance,
) -> crate::error::Result<Vec<f64>> {
    let mut scenario = scratch.borrow_mut();
    for (f, v) in free.iter().zip(values) {
        for t in &f.targets {
            t.set(&mut scenario.model, *v);
        }
    }
    let scenario = &*scenario;
    let arm = &scenario.arms[arm];
    let mut ode = OdePropagator::new(&scenario.model, scenario.drugs.len(), tolerance);
    let states = run_sampled(scenario, arm, &mut ode, times)?;
    let width = scenario.model.n_compartments().max(1);
    Ok(states
        .chunks(width)
        .map(|row| scenario.marker.true_value(row))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_normal_cdf_matches_known_values() {
        // Φ(0) = 1/2, Φ(−1.959964) = 0.025, Φ(−10): ln = −53.23128515051247.
        assert!((ln_normal_cdf(0.0) - 0.5_f64.ln()).abs() < 1e-7);
        assert!((ln_normal_cdf(-1.959_964) - 0.025_f64.ln()).abs() < 1e-6);
        assert!((ln_normal_cdf(-10.0) + 53.231_285_150_512_47).abs() < 1e-6);
        assert!(ln_normal_cdf(8.0) > -1e-14 && ln_normal_cdf(8.0) <= 0.0);
        // The two branches meet at z = −8.
        assert!((ln_normal_cdf(-7.999_999) - ln_normal_cdf(-8.000_001)).abs() < 1e-4);
    }
}
