//! Adaptive Dormand–Prince 5(4) integration of the mean-field model.
//!
//! The driver in `sim` calls [`Integrator::integrate`] once per segment between dosing,
//! visit and recording times, so every step ends exactly on a discontinuity of the exposure.
//! Within a segment the right-hand side is smooth.

// The stage formulas index several parallel buffers at once; index loops read clearest.
#![allow(clippy::needless_range_loop)]

/// Tolerances of the local error control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative error tolerance per step.
    pub relative: f64,
    /// Absolute error tolerance per step.
    pub absolute: f64,
}

impl Default for Tolerance {
    /// Tight enough that closed-form tests hold to 1e-6 relative error over thousands of days;
    /// the absolute part only matters for compartments far below one cell.
    fn default() -> Self {
        Tolerance {
            relative: 1e-9,
            absolute: 1e-12,
        }
    }
}

/// Most steps one segment may take before we call the problem ill-posed.
const MAX_STEPS_PER_SEGMENT: usize = 1_000_000;

// Dormand & Prince (1980) coefficients.
const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const B1: f64 = 35.0 / 384.0;
const B3: f64 = 500.0 / 1113.0;
const B4: f64 = 125.0 / 192.0;
const B5: f64 = -2187.0 / 6784.0;
const B6: f64 = 11.0 / 84.0;
// Fifth- minus fourth-order weights: the local error estimate.
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;

/// Reusable integrator state: stage buffers and the last accepted step size.
#[derive(Debug, Clone)]
pub struct Integrator {
    tol: Tolerance,
    k: [Vec<f64>; 7],
    tmp: Vec<f64>,
    y_new: Vec<f64>,
    /// Step size to try next within a segment.
    h: f64,
    /// First accepted step of the previous segment: segments usually start alike (just after
    /// a dose), so this is a better first guess than the large step a quiet segment ended with.
    h_segment_start: f64,
    /// Steps accepted so far (for benchmarks and diagnostics).
    pub accepted: u64,
    /// Steps rejected by the error control.
    pub rejected: u64,
}

impl Integrator {
    /// A solver for `dim` equations at tolerance `tol`.
    pub fn new(dim: usize, tol: Tolerance) -> Self {
        Integrator {
            tol,
            k: std::array::from_fn(|_| vec![0.0; dim]),
            tmp: vec![0.0; dim],
            y_new: vec![0.0; dim],
            h: 0.0,
            h_segment_start: 0.0,
            accepted: 0,
            rejected: 0,
        }
    }

    /// Advances `y` from local time 0 to `span` under `f(tau, y, dy)`. Counts stay ≥ 0
    /// (tiny negative overshoots, of the order of the absolute tolerance, are clipped).
    pub fn integrate<F>(&mut self, mut f: F, span: f64, y: &mut [f64]) -> Result<(), String>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        if span <= 0.0 {
            return Ok(());
        }
        let n = y.len();
        let mut t = 0.0;
        f(t, y, &mut self.k[0]);
        self.h = if self.h_segment_start > 0.0 {
            self.h_segment_start
        } else {
            self.initial_step(y, span)
        };
        let mut first = true;
        let mut steps = 0;
        while t < span {
            steps += 1;
            if steps > MAX_STEPS_PER_SEGMENT {
                return Err(format!(
                    "more than {MAX_STEPS_PER_SEGMENT} integration steps in one segment (the model may be stiff or blow up)"
                ));
            }
            let last = t + self.h >= span * (1.0 - 1e-12);
            let h = if last { span - t } else { self.h };
            self.stages(&mut f, t, h, y);
            let err = self.error_norm(y, h);
            if !err.is_finite() {
                return Err("the state became non-finite".to_owned());
            }
            if err <= 1.0 {
                t = if last { span } else { t + h };
                let mut clipped = false;
                for i in 0..n {
                    clipped |= self.y_new[i] < 0.0;
                    y[i] = self.y_new[i].max(0.0);
                }
                // First-same-as-last: the last stage is the derivative at the new point,
                // unless clipping changed the state.
                if clipped {
                    f(t, y, &mut self.k[0]);
                } else {
                    self.k.swap(0, 6);
                }
                self.accepted += 1;
                let grow = if err == 0.0 {
                    5.0
                } else {
                    (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
                };
                if first && !last {
                    // The error-optimal first step for a segment that starts like this one.
                    self.h_segment_start = h * grow;
                }
                first = false;
                self.h = h * grow;
            } else {
                self.rejected += 1;
                self.h = h * (0.9 * err.powf(-0.2)).clamp(0.1, 1.0);
                if self.h < 1e-14 * span.max(1.0) {
                    return Err(format!("step size underflow (h = {:e})", self.h));
                }
            }
        }
        Ok(())
    }

    /// Hairer–Wanner's starting step guess from the first derivative.
    fn initial_step(&self, y: &[f64], span: f64) -> f64 {
        let mut d0 = 0.0;
        let mut d1 = 0.0;
        for (yi, fi) in y.iter().zip(&self.k[0]) {
            let sc = self.tol.absolute + self.tol.relative * yi.abs();
            d0 += (yi / sc).powi(2);
            d1 += (fi / sc).powi(2);
        }
        let h = if d0 < 1e-10 || d1 < 1e-10 {
            1e-6 * span
        } else {
            0.01 * (d0 / d1).sqrt()
        };
        h.min(span)
    }

    fn stages<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let n = y.len();
        macro_rules! stage {
            ($out:expr, $c:expr, $($a:expr => $ki:expr),+) => {{
                for i in 0..n {
                    self.tmp[i] = y[i] + h * (0.0 $(+ $a * self.k[$ki][i])+);
                }
                let (head, tail) = self.k.split_at_mut($out);
                let _ = head;
                f(t + $c * h, &self.tmp, &mut tail[0]);
            }};
        }
        stage!(1, C2, A21 => 0);
        stage!(2, C3, A31 => 0, A32 => 1);
        stage!(3, C4, A41 => 0, A42 => 1, A43 => 2);
        stage!(4, C5, A51 => 0, A52 => 1, A53 => 2, A54 => 3);
        stage!(5, 1.0, A61 => 0, A62 => 1, A63 => 2, A64 => 3, A65 => 4);
        for i in 0..n {
            self.y_new[i] = y[i]
                + h * (B1 * self.k[0][i]
                    + B3 * self.k[2][i]
                    + B4 * self.k[3][i]
                    + B5 * self.k[4][i]
                    + B6 * self.k[5][i]);
        }
        let (head, tail) = self.k.split_at_mut(6);
        let _ = head;
        f(t + h, &self.y_new, &mut tail[0]);
    }

    fn error_norm(&self, y: &[f64], h: f64) -> f64 {
        let k = &self.k;
        let mut sum = 0.0;
        for i in 0..y.len() {
            let e = h
                * (E1 * k[0][i]
                    + E3 * k[2][i]
                    + E4 * k[3][i]
                    + E5 * k[4][i]
                    + E6 * k[5][i]
                    + E7 * k[6][i]);
            let sc = self.tol.absolute + self.tol.relative * y[i].abs().max(self.y_new[i].abs());
            sum += (e / sc).powi(2);
        }
        (sum / y.len().max(1) as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_harmonic_oscillator_over_many_periods() {
        // y'' = −y: after 10 full periods y returns to (1, 0).
        let mut integ = Integrator::new(2, Tolerance::default());
        let mut y = [1.0, 0.0];
        // Shift so that counts stay positive is not needed here; use an unclipped copy.
        let mut yy = [y[0] + 2.0, y[1] + 2.0];
        integ
            .integrate(
                |_, s, d| {
                    d[0] = s[1] - 2.0;
                    d[1] = -(s[0] - 2.0);
                },
                20.0 * std::f64::consts::PI,
                &mut yy,
            )
            .unwrap();
        y[0] = yy[0] - 2.0;
        y[1] = yy[1] - 2.0;
        assert!((y[0] - 1.0).abs() < 1e-6, "{y:?}");
        assert!(y[1].abs() < 1e-6, "{y:?}");
    }
}
