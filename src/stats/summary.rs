//! What many runs of one arm amount to: Kaplan–Meier median TTP, restricted mean,
//! P(progression-free), P(resistance), cures, dose.

use crate::sim::outcome::RunOutcome;
use crate::stats::survival::{KaplanMeier, wilson_interval};

/// Summary of many rollouts of one arm.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ArmSummary {
    /// Rollouts summarised.
    pub rollouts: usize,
    /// The Kaplan–Meier curve (kept for plots; not part of the serialised summary).
    #[serde(skip)]
    pub km: KaplanMeier,
    /// Median TTP and its 95 % CI (`None`: not reached within the horizon).
    pub median_ttp: Option<f64>,
    /// 95 % CI of the median (Brookmeyer–Crowley on the log–log scale).
    pub median_ttp_ci: (Option<f64>, Option<f64>),
    /// Restricted mean TTP up to the horizon.
    pub restricted_mean_ttp: f64,
    /// (time, P(progression-free at time)).
    pub pfs: Vec<(f64, f64)>,
    /// Fraction of rollouts with resistant cells alive at the horizon, with a Wilson 95 % CI.
    pub p_resistance: f64,
    /// Wilson 95 % CI of `p_resistance`.
    pub p_resistance_ci: (f64, f64),
    /// Fraction of rollouts whose tumour went extinct within the horizon (cured), with a
    /// Wilson 95 % CI.
    pub p_cured: f64,
    /// Wilson 95 % CI of `p_cured`.
    pub p_cured_ci: (f64, f64),
    /// Mean time on treatment (to progression, or the horizon).
    pub mean_time_on_treatment: f64,
    /// Median time to resistance majority over rollouts (`None`: fewer than half reached it).
    pub median_resistance_majority: Option<f64>,
    /// Mean cumulative dose per drug.
    pub mean_cumulative_dose: Vec<f64>,
    /// Mean share of the time on treatment spent on drug.
    pub mean_fraction_on_drug: f64,
    /// Mean number of treatment cycles per rollout.
    pub mean_cycles: f64,
    /// Mean number of doses reduced or withheld by a toxicity budget, per rollout.
    pub mean_clipped_doses: f64,
}

impl ArmSummary {
    /// Summarises `(outcome, resistance emerged)` pairs of one arm.
    pub fn new<'a>(
        runs: impl IntoIterator<Item = (&'a RunOutcome, bool)>,
        horizon: f64,
        pfs_at: &[f64],
    ) -> Self {
        let runs: Vec<(&RunOutcome, bool)> = runs.into_iter().collect();
        let n = runs.len();
        let km = KaplanMeier::new(
            &runs
                .iter()
                .map(|(o, _)| (o.ttp, o.progressed))
                .collect::<Vec<_>>(),
        );
        let emerged = runs.iter().filter(|(_, e)| *e).count();
        let cured = runs.iter().filter(|(o, _)| o.extinct_at.is_some()).count();
        let on_treatment: f64 = runs.iter().map(|(o, _)| o.end_of_treatment).sum();
        let mut majority: Vec<f64> = runs
            .iter()
            .map(|(o, _)| o.resistance_majority.unwrap_or(f64::INFINITY))
            .collect();
        majority.sort_by(f64::total_cmp);
        let median_resistance_majority = if n == 0 {
            None
        } else {
            // Lower median: the time by which at least half the rollouts had a resistant majority.
            Some(majority[(n - 1) / 2]).filter(|t| t.is_finite())
        };
        let n_drugs = runs.first().map_or(0, |(o, _)| o.cumulative_dose.len());
        let mut dose = vec![0.0; n_drugs];
        let mut on_drug = 0.0;
        let mut cycles = 0.0;
        let mut clipped = 0.0;
        for (o, _) in &runs {
            cycles += o.cycles as f64;
            clipped += o.clipped_doses as f64;
            for (d, x) in dose.iter_mut().zip(&o.cumulative_dose) {
                *d += x;
            }
            on_drug += o.fraction_on_drug;
        }
        let mean = |x: f64| if n > 0 { x / n as f64 } else { 0.0 };
        ArmSummary {
            rollouts: n,
            median_ttp: km.median(),
            median_ttp_ci: km.median_ci(),
            restricted_mean_ttp: km.restricted_mean(horizon),
            pfs: pfs_at
                .iter()
                .filter(|t| **t <= horizon)
                .map(|&t| (t, km.survival_at(t)))
                .collect(),
            p_resistance: mean(emerged as f64),
            p_resistance_ci: wilson_interval(emerged, n),
            p_cured: mean(cured as f64),
            p_cured_ci: wilson_interval(cured, n),
            mean_time_on_treatment: mean(on_treatment),
            median_resistance_majority,
            mean_cumulative_dose: dose.into_iter().map(mean).collect(),
            mean_fraction_on_drug: mean(on_drug),
            mean_cycles: mean(cycles),
            mean_clipped_doses: mean(clipped),
            km,
        }
    }
}
