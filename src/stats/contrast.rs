//! Trial-arm comparison: every arm on the same rollouts (same seeds, hence the same virtual
//! patients and random numbers), summarised and contrasted with a reference arm.

use crate::scenario::Scenario;
use crate::sim::rollouts::ArmRollouts;
use crate::stats::summary::ArmSummary;
use crate::stats::survival::{hazard_ratio, log_rank, proportional_hazards_test};
use serde::Serialize;

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Below this Grambsch–Therneau p-value the hazards are taken as not proportional.
pub const PH_ALPHA: f64 = 0.05;

/// An arm against the reference arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contrast {
    /// The arm contrasted with.
    pub reference: String,
    /// Mean over rollouts of (restricted TTP of this arm − that of the reference) with a 95 %
    /// CI. Rollout i of both arms shares seeds, so the difference is paired.
    pub rmst_difference: f64,
    /// 95 % CI of `rmst_difference`.
    pub rmst_difference_ci: (f64, f64),
    /// Cox hazard ratio of progression (this arm / reference) with a 95 % Wald CI; `None`
    /// when it cannot be estimated (an arm without progression, or arms so separated that
    /// every event of one comes before every event of the other).
    pub hazard_ratio: Option<f64>,
    /// 95 % Wald CI of the hazard ratio.
    pub hazard_ratio_ci: Option<(f64, f64)>,
    /// Log-rank chi-square and p-value. They treat the arms as independent samples; common
    /// random numbers make the arms positively correlated, so the p-value is conservative.
    pub log_rank_chi2: f64,
    /// Log-rank p-value (two-sided).
    pub log_rank_p: f64,
    /// Grambsch–Therneau test of proportional hazards (p-value), where it can be computed.
    pub proportional_hazards_p: Option<f64>,
    /// The hazard ratio should not be read as the headline: hazards are not proportional
    /// (p < 0.05), or the HR points one way while ΔRMST's CI lies wholly the other way.
    pub hazard_ratio_misleading: bool,
}

/// One arm's row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmComparison {
    /// The arm.
    pub arm: String,
    /// Its summary.
    #[serde(flatten)]
    pub summary: ArmSummary,
    /// Mean cumulative dose per drug relative to the reference arm (`None` where the
    /// reference gave none of that drug).
    pub relative_dose: Vec<Option<f64>>,
    /// The contrast with the reference (`None` for the reference itself).
    pub contrast: Option<Contrast>,
}

/// Summarises one arm's rollouts.
pub fn summarise(scenario: &Scenario, runs: &ArmRollouts) -> ArmSummary {
    ArmSummary::new(
        runs.rollouts
            .iter()
            .map(|r| (&r.outcome, r.resistance_emerged)),
        scenario.horizon,
        &scenario.pfs_at,
    )
}

fn events(runs: &ArmRollouts) -> Vec<(f64, bool)> {
    runs.rollouts
        .iter()
        .map(|r| (r.outcome.ttp, r.outcome.progressed))
        .collect()
}

/// Compares every arm with `arms[reference]`. All arms must hold the same rollout indices.
pub fn compare(
    scenario: &Scenario,
    arms: &[(&str, &ArmRollouts)],
    reference: usize,
) -> Vec<ArmComparison> {
    let summaries: Vec<ArmSummary> = arms.iter().map(|(_, r)| summarise(scenario, r)).collect();
    let (ref_name, ref_runs) = arms[reference];
    let ref_events = events(ref_runs);
    let ref_dose = &summaries[reference].mean_cumulative_dose;
    arms.iter()
        .zip(&summaries)
        .enumerate()
        .map(|(i, ((name, runs), summary))| {
            let relative_dose = summary
                .mean_cumulative_dose
                .iter()
                .zip(ref_dose)
                .map(|(d, r)| (*r > 0.0).then(|| d / r))
                .collect();
            let contrast = (i != reference).then(|| {
                let diffs: Vec<f64> = runs
                    .rollouts
                    .iter()
                    .zip(&ref_runs.rollouts)
                    .map(|(a, b)| a.outcome.ttp - b.outcome.ttp)
                    .collect();
                let n = diffs.len() as f64;
                let mean = diffs.iter().sum::<f64>() / n;
                let sd = if n > 1.0 {
                    (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
                } else {
                    0.0
                };
                let half = Z95 * sd / n.sqrt();
                let own = events(runs);
                let hr = hazard_ratio(&own, &ref_events);
                let (chi2, p) = log_rank(&own, &ref_events);
                let ph_p = hr
                    .and_then(|(h, _)| proportional_hazards_test(&own, &ref_events, h))
                    .map(|x| x.1);
                let (lo, hi) = (mean - half, mean + half);
                // HR < 1 says "fewer progressions"; ΔRMST < 0 says "earlier progression".
                let against =
                    hr.is_some_and(|(h, _)| (h < 1.0 && hi < 0.0) || (h > 1.0 && lo > 0.0));
                Contrast {
                    reference: ref_name.to_owned(),
                    rmst_difference: mean,
                    rmst_difference_ci: (mean - half, mean + half),
                    hazard_ratio: hr.map(|h| h.0),
                    hazard_ratio_ci: hr.map(|h| h.1),
                    log_rank_chi2: chi2,
                    log_rank_p: p,
                    proportional_hazards_p: ph_p,
                    hazard_ratio_misleading: against || ph_p.is_some_and(|p| p < PH_ALPHA),
                }
            });
            ArmComparison {
                arm: (*name).to_owned(),
                summary: summary.clone(),
                relative_dose,
                contrast,
            }
        })
        .collect()
}

/// Plain-language warnings about a comparison that its numbers alone would hide: hazard
/// ratios that should not be read, rollouts so alike that the CIs describe only
/// demographic noise, and arms that coincide.
pub fn notes(
    scenario: &Scenario,
    rows: &[ArmComparison],
    arms: &[(&str, &ArmRollouts)],
) -> Vec<String> {
    let mut notes = Vec::new();
    let misleading: Vec<&str> = rows
        .iter()
        .filter(|r| {
            r.contrast
                .as_ref()
                .is_some_and(|c| c.hazard_ratio_misleading)
        })
        .map(|r| r.arm.as_str())
        .collect();
    if !misleading.is_empty() {
        notes.push(format!(
            "‡ {}: hazards are not proportional (Grambsch–Therneau p < {PH_ALPHA}) or the HR \
             points against ΔRMST — the survival curves cross, the HR averages over that, \
             read ΔRMST instead.",
            misleading.join(", ")
        ));
    }
    // Spread between rollouts: the 10–90 % range of TTP within one visit interval for every
    // arm means the rollouts are nearly copies of one patient.
    let narrow = arms.iter().all(|(_, runs)| {
        let mut t: Vec<f64> = runs.rollouts.iter().map(|r| r.outcome.ttp).collect();
        t.sort_by(f64::total_cmp);
        t.len() < 2 || {
            let q = |p: f64| t[((t.len() - 1) as f64 * p).round() as usize];
            q(0.9) - q(0.1) <= scenario.marker.every
        }
    });
    if narrow && arms.first().is_some_and(|(_, r)| r.rollouts.len() > 1) {
        notes.push(
            if scenario.patients.is_empty() && scenario.patient_table.is_none() {
                "rollouts differ only by demographic noise (birth, death and switching of single \
             cells): within each arm 80 % of TTPs lie within one visit interval, so the CIs \
             describe that noise, not a population of patients. Add virtual_patients for \
             between-patient variability."
                    .to_owned()
            } else {
                "within each arm 80 % of TTPs lie within one visit interval: the virtual patients \
             vary too little to change the outcome."
                    .to_owned()
            },
        );
    }
    // Arms with identical outcomes rollout by rollout.
    for (i, (a, ra)) in arms.iter().enumerate() {
        for (b, rb) in &arms[..i] {
            let same = ra.rollouts.len() == rb.rollouts.len()
                && ra.rollouts.iter().zip(&rb.rollouts).all(|(x, y)| {
                    x.outcome.ttp == y.outcome.ttp && x.outcome.progressed == y.outcome.progressed
                });
            if same {
                notes.push(format!(
                    "{a} and {b} have the same TTP in every rollout: their curves coincide."
                ));
            }
        }
    }
    notes
}
