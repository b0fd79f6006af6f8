//! Robust scores: a candidate scored at several points of parameter and model uncertainty,
//! and the points' values combined into the one number a search maximises.
//!
//! A point is the scenario with some of its numbers changed (a corner of the box of ±w on
//! each uncertain parameter, one end of one parameter's range, or a draw spread over the
//! box), or another scenario file of the same disease. Every point is scored on the same
//! seeds (common random numbers), so the differences between points are the parameters'
//! doing, not noise. The nominal scenario is always point 0.
//!
//! Variance: with R rollouts per point, the value at point p is estimated with variance
//! σ²_p / R (σ²_p: the variance of one rollout's contribution there). Across points the
//! values spread by the parameters' effect. A worst case or a low quantile picks out the
//! lowest estimates, so noise biases it low by about σ/√R times the expected maximum of
//! that many normals; [`noise_share`] reports how much of the spread between points the
//! noise could explain, so a run can say when it needs more rollouts per point.

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::support::format::short_parameter;
use crate::support::rng::Key;
use std::path::PathBuf;

/// How the values at the points combine.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Measure {
    /// The smallest value.
    Worst,
    /// The mean.
    Mean,
    /// The smallest difference to continuous dosing at the standard dose at the same point.
    Regret,
    /// This quantile (linear between order statistics).
    Quantile(f64),
}

impl Measure {
    /// The measure's name for a column header.
    pub fn name(&self) -> String {
        match self {
            Measure::Worst => "worst case".to_owned(),
            Measure::Mean => "mean over points".to_owned(),
            Measure::Regret => "regret".to_owned(),
            Measure::Quantile(q) => format!("{q} quantile"),
        }
    }

    /// What the measure takes of the points' values, in words.
    pub fn describe(&self) -> String {
        match self {
            Measure::Worst => "the smallest value".to_owned(),
            Measure::Mean => "the mean".to_owned(),
            Measure::Regret => {
                "the smallest difference to continuous dosing at the standard dose".to_owned()
            }
            Measure::Quantile(q) => format!("the {q} quantile"),
        }
    }
}

/// Which points of the box are scored.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Design {
    /// Every corner.
    Corners,
    /// Each end of each parameter's range, the others at their values.
    Axes,
    /// This many draws (Latin hypercube).
    Draws(u64),
}

/// The robust part of an optimisation plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustPlan {
    /// How values combine.
    pub measure: Measure,
    /// Uncertain parameters: path and relative half-width.
    pub uncertain: Vec<(String, f64)>,
    /// The points of the box.
    pub design: Design,
    /// Other scenario files scored as further points.
    pub models: Vec<PathBuf>,
}

/// One point of uncertainty: its label, its factor on each uncertain parameter (empty for
/// another model) and the scenario it makes.
#[derive(Debug, Clone)]
pub struct Point {
    /// `nominal`, `kill−30% birth+30%`, `draw 7` or `model:<name>`.
    pub label: String,
    /// The factor applied to each uncertain parameter, in the plan's order.
    pub factors: Vec<f64>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

/// The points a candidate is scored at, and how their values combine.
#[derive(Debug, Clone)]
pub struct Robust {
    /// How values combine.
    pub measure: Measure,
    /// The uncertain parameters' paths, in the order of every point's factors.
    pub parameters: Vec<String>,
    /// The points; the nominal scenario first.
    pub points: Vec<Point>,
}

/// The label of a point of the box from its factors: each parameter away from its value
/// with its signed change in per cent.
fn label_of(parameters: &[String], factors: &[f64]) -> String {
    let parts: Vec<String> = parameters
        .iter()
        .zip(factors)
        .filter(|(_, f)| (**f - 1.0).abs() > 1e-12)
        .map(|(p, f)| format!("{}{:+.0}%", short_parameter(p), 100.0 * (f - 1.0)))
        .collect();
    if parts.is_empty() {
        "nominal".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The factors of each point of `design` on the box of half-widths `widths` (the nominal
/// point excluded), drawn from `seed` for a Latin hypercube.
pub fn design_factors(design: Design, widths: &[f64], seed: u64) -> Vec<Vec<f64>> {
    let k = widths.len();
    if k == 0 {
        return Vec::new();
    }
    match design {
        Design::Corners => (0..1u64 << k)
            .map(|mask| {
                widths
                    .iter()
                    .enumerate()
                    .map(|(j, w)| if mask >> j & 1 == 1 { 1.0 + w } else { 1.0 - w })
                    .collect()
            })
            .collect(),
        Design::Axes => (0..k)
            .flat_map(|j| {
                [-1.0, 1.0].map(|sign| {
                    let mut f = vec![1.0; k];
                    f[j] = 1.0 + sign * widths[j];
                    f
                })
            })
            .collect(),
        Design::Draws(n) => {
            let n = n as usize;
            let mut points = vec![vec![1.0; k]; n];
            for (j, w) in widths.iter().enumerate() {
                // One stratum of [0, 1) per draw, shuffled per parameter (Fisher–Yates), a
                // uniform position within it.
                let mut stream = Key {
                    seed,
                    rollout: u64::MAX,
                    step: 0x726f_6275_7374, // "robust"
                    unit: j as u64,
                    channel: 0,
                }
                .stream();
                let mut strata: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let r = (stream.next_word() % (i as u64 + 1)) as usize;
                    strata.swap(i, r);
                }
                for (point, s) in points.iter_mut().zip(strata) {
                    let u = (stream.next_word() >> 11) as f64 / (1u64 << 53) as f64;
                    let x = (s as f64 + u) / n as f64;
                    point[j] = 1.0 - w + 2.0 * w * x;
                }
            }
            points
        }
    }
}

impl Robust {
    /// The points of `plan` around `scenario` (whose file the models' paths are relative
    /// to); `seed` spreads the draws of a `draws` design.
    pub fn build(scenario: &Scenario, plan: &RobustPlan, seed: u64) -> Result<Robust> {
        let spec = scenario.resolved_spec();
        let parameters: Vec<String> = plan.uncertain.iter().map(|(p, _)| p.clone()).collect();
        let widths: Vec<f64> = plan.uncertain.iter().map(|(_, w)| *w).collect();
        let nominal: Vec<f64> = parameters
            .iter()
            .map(|p| {
                crate::scenario::params::number_at(spec, p).map_err(|m| {
                    let field = format!("optimise.robust.uncertain.{p}");
                    Error::in_field(&scenario.source, &field, m)
                })
            })
            .collect::<Result<_>>()?;
        let mut points = vec![Point {
            label: "nominal".to_owned(),
            factors: vec![1.0; parameters.len()],
            scenario: scenario.clone(),
        }];
        for factors in design_factors(plan.design, &widths, seed) {
            let values: Vec<(&str, serde_json::Value)> = parameters
                .iter()
                .zip(&nominal)
                .zip(&factors)
                .map(|((p, v), f)| (p.as_str(), serde_json::Value::from(v * f)))
                .collect();
            let label = match plan.design {
                Design::Draws(_) => format!("draw {}", points.len()),
                _ => label_of(&parameters, &factors),
            };
            let at = scenario.with_params(&values).map_err(|e| {
                Error::Usage(format!(
                    "optimise.robust: the scenario at {label} is not valid: {e}"
                ))
            })?;
            points.push(Point {
                label,
                factors,
                scenario: at.assuming(scenario),
            });
        }
        for path in &plan.models {
            let other = Scenario::load(path)?;
            points.push(Point {
                label: format!("model:{}", other.name),
                factors: Vec::new(),
                scenario: other,
            });
        }
        Ok(Robust {
            measure: plan.measure,
            parameters,
            points,
        })
    }

    /// The labels of the points, in order.
    pub fn labels(&self) -> Vec<String> {
        self.points.iter().map(|p| p.label.clone()).collect()
    }

    /// The robust value of the values at the points (`reference`: continuous dosing's, for
    /// [`Measure::Regret`]).
    pub fn combine(&self, values: &[f64], reference: &[f64]) -> f64 {
        combine(self.measure, values, reference)
    }
}

/// See [`Robust::combine`].
pub fn combine(measure: Measure, values: &[f64], reference: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    match measure {
        Measure::Worst => values.iter().copied().fold(f64::INFINITY, f64::min),
        Measure::Mean => values.iter().sum::<f64>() / values.len() as f64,
        Measure::Regret => values
            .iter()
            .zip(reference.iter().chain(std::iter::repeat(&0.0)))
            .map(|(v, r)| v - r)
            .fold(f64::INFINITY, f64::min),
        Measure::Quantile(q) => {
            let mut v = values.to_vec();
            v.sort_by(f64::total_cmp);
            let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
            let (lo, frac) = (h.floor() as usize, h - h.floor());
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] + frac * (v[hi] - v[lo])
        }
    }
}

/// The point that decides a worst-case or regret score: the smallest value (less the
/// reference). `None` for measures not decided by one point.
pub fn critical(measure: Measure, values: &[f64], reference: &[f64]) -> Option<usize> {
    let less = |i: usize| values[i] - reference.get(i).copied().unwrap_or(0.0);
    match measure {
        Measure::Worst | Measure::Regret => {
            (0..values.len()).min_by(|&a, &b| less(a).total_cmp(&less(b)))
        }
        Measure::Mean | Measure::Quantile(_) => None,
    }
}

/// The share of the variance of the values between points that noise alone would give:
/// the mean over points of the variance of a point's estimate (`noise_var[p]`: the sample
/// variance of one rollout's contribution, over `rollouts`) against the variance of the
/// values. Near 0: the spread is the parameters'; near or above 1: more rollouts per point
/// are needed before the points can be told apart.
pub fn noise_share(values: &[f64], noise_var: &[f64], rollouts: usize) -> Option<f64> {
    let p = values.len();
    if p < 2 || rollouts < 2 || noise_var.len() != p {
        return None;
    }
    let mean = values.iter().sum::<f64>() / p as f64;
    let between = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (p - 1) as f64;
    let noise = noise_var.iter().sum::<f64>() / p as f64 / rollouts as f64;
    (between > 0.0).then(|| noise / between)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_on_a_small_set() {
        let v = [10.0, 4.0, 7.0, 12.0, 9.0];
        let r = [8.0, 1.0, 8.0, 8.0, 8.0];
        assert_eq!(combine(Measure::Worst, &v, &[]), 4.0);
        assert_eq!(combine(Measure::Mean, &v, &[]), 8.4);
        // Differences 2, 3, −1, 4, 1: the worst is at the third point.
        assert_eq!(combine(Measure::Regret, &v, &r), -1.0);
        assert_eq!(critical(Measure::Regret, &v, &r), Some(2));
        assert_eq!(critical(Measure::Worst, &v, &[]), Some(1));
        // Sorted 4, 7, 9, 10, 12: the 0.25 quantile is the second; 0.1 is 40 % of the way.
        assert_eq!(combine(Measure::Quantile(0.25), &v, &[]), 7.0);
        assert!((combine(Measure::Quantile(0.1), &v, &[]) - 5.2).abs() < 1e-12);
    }

    #[test]
    fn designs_cover_the_box() {
        let w = [0.3, 0.1];
        let corners = design_factors(Design::Corners, &w, 1);
        assert_eq!(corners.len(), 4);
        assert!(corners.contains(&vec![0.7, 1.1]) && corners.contains(&vec![1.3, 0.9]));
        let axes = design_factors(Design::Axes, &w, 1);
        assert_eq!(
            axes,
            vec![
                vec![0.7, 1.0],
                vec![1.3, 1.0],
                vec![1.0, 0.9],
                vec![1.0, 1.1]
            ]
        );
        // A Latin hypercube: each of the n strata of each parameter holds exactly one draw.
        let n = 20;
        let draws = design_factors(Design::Draws(n), &w, 7);
        assert_eq!(draws.len(), n as usize);
        for (j, wj) in w.iter().enumerate() {
            let mut strata: Vec<usize> = draws
                .iter()
                .map(|d| (((d[j] - (1.0 - wj)) / (2.0 * wj)) * n as f64) as usize)
                .collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..n as usize).collect::<Vec<_>>());
        }
        // Same seed, same draws; another seed, others.
        assert_eq!(draws, design_factors(Design::Draws(n), &w, 7));
        assert_ne!(draws, design_factors(Design::Draws(n), &w, 8));
    }

    #[test]
    fn labels_name_the_parameters_that_moved() {
        let p = vec![
            "drugs.d.effects.sensitive.kill.linear.slope".to_owned(),
            "model.compartments.sensitive.birth".to_owned(),
        ];
        assert_eq!(label_of(&p, &[0.7, 1.0]), "d.sensitive.kill-30%");
        assert_eq!(
            label_of(&p, &[1.3, 0.7]),
            "d.sensitive.kill+30% sensitive.birth-30%"
        );
        assert_eq!(label_of(&p, &[1.0, 1.0]), "nominal");
    }
}
