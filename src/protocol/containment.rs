//! Containment (Viossat & Noble 2021): hold the tumour at a tolerable size with the smallest
//! dose, so sensitive cells keep crowding resistant ones for as long as possible.
//!
//! The tumour integrates the dose: a dose a little too low lets the burden drift up without
//! end. A controller that only integrates the error therefore puts a second integrator on an
//! integrating plant and oscillates for ever (closed-loop poles on the unit circle); this is
//! the `integral` form, kept for comparison. The `pi` form adds a proportional term and stops
//! integrating while the dose is pinned at 0 or at the maximum (anti-windup); its default
//! gains come from the scenario's model. The `hold` form asks the model directly which dose
//! brings the burden to the target by the next visit.

use crate::model::pk::Dose;
use crate::protocol::forecast::Forecaster;
use crate::protocol::schedule::{Observation, Policy};

/// How the dose follows the marker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// At each visit the dose moves by `gain × ln(marker / target)`.
    Integral {
        /// Dose change per visit for each e-fold of marker over target.
        gain: f64,
    },
    /// dose = `proportional × e + Σ integral × e`, e = ln(marker / target), clamped to
    /// [0, max_dose]; the sum stops growing while the dose is pinned at a bound.
    Pi {
        /// Dose per e-fold of error now (`None`: tuned on the model, see [`tuned_gains`]).
        proportional: Option<f64>,
        /// Dose added per visit per e-fold of error (`None`: tuned on the model).
        integral: Option<f64>,
    },
    /// The dose that the scenario's model expects to bring the marker to the target by the
    /// next visit (the model corrected to each observed marker).
    Hold,
}

/// Parameters of a containment rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainmentRule {
    /// The drug dosed.
    pub drug: usize,
    /// Starting dose.
    pub dose: f64,
    /// Time between doses.
    pub interval: f64,
    /// Target marker as a multiple of its value at treatment start.
    pub target: f64,
    /// Highest dose the rule gives.
    pub max_dose: f64,
    /// How the dose follows the marker.
    pub control: Control,
}

impl ContainmentRule {
    /// Whether the rule asks the model anything: `hold`, and `pi` to tune missing gains.
    pub fn needs_model(&self) -> bool {
        match self.control {
            Control::Integral { .. } => false,
            Control::Pi {
                proportional,
                integral,
            } => proportional.is_none() || integral.is_none(),
            Control::Hold => true,
        }
    }
}

/// The policy of a containment rule. `model` is the scenario's model, fed only with the
/// rule's own doses and observations; without one (an engine that offers none), `pi` uses
/// gains of `max_dose / 2` and `hold` keeps the maximum dose.
pub struct Containment {
    rule: ContainmentRule,
    dose: f64,
    /// The PI's running sum (its estimate of the dose that holds the burden).
    sum: f64,
    /// (proportional, integral) gains of the PI, once known.
    gains: Option<(f64, f64)>,
    baseline: Option<f64>,
    model: Option<Box<dyn Forecaster>>,
}

impl Containment {
    /// A containment policy in its initial state; `model` as in the type's description.
    pub fn new(rule: ContainmentRule, model: Option<Box<dyn Forecaster>>) -> Self {
        let gains = match rule.control {
            Control::Pi {
                proportional: Some(p),
                integral: Some(i),
            } => Some((p, i)),
            _ => None,
        };
        Containment {
            rule,
            dose: rule.dose,
            sum: rule.dose,
            gains,
            baseline: None,
            model: model.filter(|_| rule.needs_model()),
        }
    }

    /// The model moved on to `t`; a model that fails is dropped (the rule then behaves as
    /// without one).
    fn model_at(&mut self, t: f64) -> Option<&mut Box<dyn Forecaster>> {
        if let Some(m) = self.model.as_mut()
            && m.advance_to(t).is_err()
        {
            self.model = None;
        }
        self.model.as_mut()
    }

    /// A dose of `amount` lasting one interval.
    fn dose_of(&self, amount: f64) -> Dose {
        Dose {
            drug: self.rule.drug,
            amount,
            duration: self.rule.interval,
        }
    }

    /// The PI's gains: as given, else tuned on the model at the first visit, else
    /// `max_dose / 2` each.
    fn pi_gains(&mut self, time: f64, proportional: Option<f64>, integral: Option<f64>) {
        let fallback = 0.5 * self.rule.max_dose;
        let tuned = match (self.model.take(), self.baseline) {
            (Some(mut model), Some(baseline)) => {
                let target = self.rule.target * baseline;
                let (zero, full) = (self.dose_of(0.0), self.dose_of(self.rule.max_dose));
                let until = time + model.visit_every();
                tuned_gains(self.rule.max_dose, |dose| {
                    model.rescale(target);
                    model.marker_if(
                        if dose > 0.0 { &full } else { &zero },
                        self.rule.interval,
                        until,
                    )
                })
            }
            _ => None,
        };
        let (p, i) = tuned.unwrap_or((fallback, fallback));
        self.gains = Some((proportional.unwrap_or(p), integral.unwrap_or(i)));
    }

    /// The dose at which the model expects the marker to be `target` at the next visit,
    /// within [0, max_dose]; the maximum if the model fails.
    fn hold_dose(&mut self, time: f64, target: f64) -> f64 {
        let (interval, max) = (self.rule.interval, self.rule.max_dose);
        let drug = self.rule.drug;
        let Some(model) = self.model.as_ref() else {
            return max;
        };
        let until = time + model.visit_every();
        let gap = |amount: f64| {
            let dose = Dose {
                drug,
                amount,
                duration: interval,
            };
            model
                .marker_if(&dose, interval, until)
                .map(|m| m.max(f64::MIN_POSITIVE).ln() - target.ln())
        };
        solve_decreasing(gap, max).unwrap_or(max)
    }
}

/// PI gains from the model's response over one visit interval, linearised at the target:
/// with b the fall in ln(marker) per unit of dose, proportional 0.75/b and integral 0.25/b
/// put both poles of the closed loop at 0.5 (the error halves at each visit, with no
/// oscillation). `marker_at(dose)` is the model's marker at the next visit from the target,
/// with no drug (`0`) or the maximum dose (`max_dose`). `None` when the drug does not lower
/// the marker.
pub fn tuned_gains(
    max_dose: f64,
    mut marker_at: impl FnMut(f64) -> Result<f64, String>,
) -> Option<(f64, f64)> {
    let off = marker_at(0.0).ok()?;
    let on = marker_at(max_dose).ok()?;
    let b = (off.ln() - on.ln()) / max_dose;
    (b.is_finite() && b > 0.0).then(|| (0.75 / b, 0.25 / b))
}

/// The root in [0, max] of a function that falls with the dose (Illinois regula falsi on
/// the bracket): 0 when it is already ≤ 0 there, `max` when it is still ≥ 0 at `max`.
fn solve_decreasing(
    mut f: impl FnMut(f64) -> Result<f64, String>,
    max: f64,
) -> Result<f64, String> {
    let (mut a, mut fa) = (0.0, f(0.0)?);
    if fa <= 0.0 {
        return Ok(0.0);
    }
    let (mut b, mut fb) = (max, f(max)?);
    if fb >= 0.0 {
        return Ok(max);
    }
    let mut side = 0i8;
    for _ in 0..60 {
        let c = (a * fb - b * fa) / (fb - fa);
        let fc = f(c)?;
        if fc.abs() < 1e-7 || (b - a) < 1e-9 * max {
            return Ok(c);
        }
        if fc > 0.0 {
            (a, fa) = (c, fc);
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        } else {
            (b, fb) = (c, fc);
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        }
    }
    Ok(0.5 * (a + b))
}

impl Policy for Containment {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.rule.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        let seen = obs.detected && obs.value > 0.0;
        if let Some(model) = self.model_at(obs.time)
            && seen
        {
            model.rescale(obs.value);
        }
        let baseline = *self.baseline.get_or_insert(obs.value);
        let target = self.rule.target * baseline;
        if target <= 0.0 {
            return;
        }
        let max = self.rule.max_dose;
        match self.rule.control {
            Control::Integral { gain } => {
                if obs.value > 0.0 {
                    let adjusted = self.dose + gain * (obs.value / target).ln();
                    self.dose = adjusted.clamp(0.0, max);
                }
            }
            Control::Pi {
                proportional,
                integral,
            } => {
                if self.gains.is_none() {
                    self.pi_gains(obs.time, proportional, integral);
                }
                let Some((kp, ki)) = self.gains else {
                    return;
                };
                if !seen {
                    // Below the detection limit: far under target, so no drug, and nothing
                    // added to the sum (it would only wind down).
                    self.dose = 0.0;
                    return;
                }
                let error = (obs.value / target).ln();
                let sum = self.sum + ki * error;
                let unclamped = kp * error + sum;
                // Anti-windup: the sum does not move further while the dose is pinned at a
                // bound the error pushes it against.
                let pinned = (unclamped > max && error > 0.0) || (unclamped < 0.0 && error < 0.0);
                if !pinned {
                    self.sum = sum.clamp(0.0, max);
                }
                self.dose = (kp * error + self.sum).clamp(0.0, max);
            }
            Control::Hold => self.dose = self.hold_dose(obs.time, target),
        }
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        if self.dose <= 0.0 {
            return;
        }
        let dose = self.dose_of(self.dose);
        if let Some(model) = self.model_at(t) {
            model.give(&dose);
        }
        doses.push(dose);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-compartment tumour that grows by `rate` per time unit and falls by `kill` per
    /// unit of dose (ln marker linear in dose: the plant the PI is tuned for).
    #[derive(Clone)]
    struct Exponential {
        t: f64,
        size: f64,
        /// (level, end) of each dose.
        active: Vec<(f64, f64)>,
        rate: f64,
        kill: f64,
        every: f64,
    }

    impl Exponential {
        fn level_at(&self, t: f64) -> f64 {
            self.active
                .iter()
                .filter(|(_, end)| *end > t + 1e-9)
                .map(|(l, _)| l)
                .sum()
        }
    }

    impl Forecaster for Exponential {
        fn advance_to(&mut self, t: f64) -> Result<(), String> {
            // Levels change only at whole dosing intervals here (interval 1).
            while self.t < t - 1e-9 {
                let step = (t - self.t).min(1.0);
                self.size *= ((self.rate - self.kill * self.level_at(self.t)) * step).exp();
                self.t += step;
            }
            Ok(())
        }
        fn give(&mut self, dose: &Dose) {
            self.active.push((dose.amount, self.t + dose.duration));
        }
        fn marker(&self) -> f64 {
            self.size
        }
        fn rescale(&mut self, value: f64) {
            self.size = value;
        }
        fn marker_if(&self, dose: &Dose, _interval: f64, until: f64) -> Result<f64, String> {
            let span = until - self.t;
            Ok(self.size * ((self.rate - self.kill * dose.amount) * span).exp())
        }
        fn visit_every(&self) -> f64 {
            self.every
        }
        fn time(&self) -> f64 {
            self.t
        }
        fn state(&self) -> &[f64] {
            std::slice::from_ref(&self.size)
        }
        fn state_mut(&mut self) -> &mut [f64] {
            std::slice::from_mut(&mut self.size)
        }
        fn boxed_clone(&self) -> Box<dyn Forecaster> {
            Box::new(self.clone())
        }
    }

    /// The plant at time 0: size 1, +2 %/day, −2 %/day per unit of dose.
    fn plant(every: f64) -> Exponential {
        Exponential {
            t: 0.0,
            size: 1.0,
            active: Vec::new(),
            rate: 0.02,
            kill: 0.02,
            every,
        }
    }

    /// Runs `rule` against the plant itself (the rule's model is exact), visiting every
    /// `every`; the marker at each visit.
    fn closed_loop(rule: ContainmentRule, every: f64, visits: usize) -> Vec<f64> {
        let mut truth = plant(every);
        let mut policy = Containment::new(rule, Some(Box::new(plant(every))));
        let mut seen = Vec::new();
        let mut k = 0;
        for v in 0..visits {
            let time = v as f64 * every;
            policy.observe(&Observation {
                time,
                value: truth.size,
                detected: true,
            });
            seen.push(truth.size);
            while let Some(t) = policy.decision_time(k) {
                if t >= time + every - 1e-9 {
                    break;
                }
                truth.advance_to(t).unwrap();
                let mut d = Vec::new();
                policy.decide(t, &mut d);
                for x in &d {
                    truth.give(x);
                }
                k += 1;
            }
            truth.advance_to(time + every).unwrap();
        }
        seen
    }

    fn rule(control: Control) -> ContainmentRule {
        ContainmentRule {
            drug: 0,
            dose: 0.0,
            interval: 1.0,
            target: 2.0,
            max_dose: 2.0,
            control,
        }
    }

    #[test]
    fn integral_control_moves_the_dose_by_gain_per_e_fold() {
        let mut p = Containment::new(rule(Control::Integral { gain: 1.0 }), None);
        let e = std::f64::consts::E;
        let mut got = Vec::new();
        for (k, value) in [100.0, 150.0, 200.0 * e, 200.0 * e * e, 200.0, 200.0 / e]
            .into_iter()
            .enumerate()
        {
            p.observe(&Observation {
                time: k as f64,
                value,
                detected: true,
            });
            let mut d = Vec::new();
            p.decide(k as f64, &mut d);
            got.push(d.first().map_or(0.0, |x| x.amount));
        }
        // Below target: none; one e-fold over: +1; two more: capped at 2; at target:
        // unchanged; one e-fold under: 1.
        assert_eq!(got, [0.0, 0.0, 1.0, 2.0, 2.0, 1.0]);
    }

    #[test]
    fn tuned_pi_settles_on_the_target_where_pure_integral_control_oscillates() {
        // Plant: ln marker moves by (0.02 − 0.02·dose) per day; the holding dose is 1.
        // Visits every 28 days. After the first crossing, the tuned PI (poles at 0.5) is
        // within 1 % of target after 8 visits; pure integral control (poles on the unit
        // circle) still swings by more than 20 %.
        let pi = closed_loop(
            rule(Control::Pi {
                proportional: None,
                integral: None,
            }),
            28.0,
            40,
        );
        let integral = closed_loop(rule(Control::Integral { gain: 1.0 }), 28.0, 40);
        let tail = |xs: &[f64]| {
            xs[30..]
                .iter()
                .map(|x| (x / 2.0).ln().abs())
                .fold(0.0, f64::max)
        };
        assert!(tail(&pi) < 0.01, "{pi:?}");
        assert!(tail(&integral) > 0.2, "{integral:?}");
    }

    #[test]
    fn hold_reaches_the_target_at_the_next_visit_and_stays() {
        let seen = closed_loop(rule(Control::Hold), 28.0, 20);
        // The model is exact: at the last visit below target (1.75) the rule picks the dose
        // that lands on it, so every later visit is at the target up to the root finder's
        // tolerance.
        let last_below = seen.iter().position(|x| *x > 1.5).unwrap();
        assert!(seen[last_below] < 1.9, "{seen:?}");
        for x in &seen[last_below + 1..] {
            assert!((x / 2.0 - 1.0).abs() < 1e-5, "{seen:?}");
        }
    }

    #[test]
    fn tuned_gains_put_the_poles_at_one_half() {
        // b = 0.02·28 = 0.56 per unit of dose over 28 days.
        let (p, i) = tuned_gains(2.0, |d| Ok((0.56 - 0.56 * d).exp())).unwrap();
        assert!((p - 0.75 / 0.56).abs() < 1e-9 && (i - 0.25 / 0.56).abs() < 1e-9);
        assert!(tuned_gains(2.0, |_| Ok(1.0)).is_none());
    }
}
