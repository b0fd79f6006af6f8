//! An optimisation run: family searches on tuning seeds, then every finalist and the
//! scenario's own arms re-scored on fresh (hold-out) seeds.

use super::family::{DoseLimit, Evaluation, Family, FamilyResult, search};
use super::objective::{Engine, Evaluator, Objective};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::schedule::Schedule;

/// Settings of an optimisation run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub objective: Objective,
    pub seed: u64,
    /// Rollouts per candidate while searching.
    pub rollouts: u64,
    /// Rollouts of the hold-out re-scoring (seed + 1).
    pub holdout_rollouts: u64,
    /// Distinct evaluations per family.
    pub budget_per_family: u64,
    /// Most mean cumulative dose of the searched drug, relative to the scenario's first arm.
    pub max_relative_dose: Option<f64>,
}

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `search:<family>` or `arm:<name>`.
    pub label: String,
    pub schedule: Schedule,
    /// Parameter names and values for searched schedules.
    pub parameters: Vec<(&'static str, f64)>,
    /// Objective on the tuning seeds (searched schedules only).
    pub tuning: Option<f64>,
    /// Objective on the hold-out seeds, with a 95 % CI for the restricted mean.
    pub holdout: f64,
    pub holdout_ci: Option<(f64, f64)>,
    /// Mean cumulative dose of the searched drug relative to the first arm (hold-out).
    pub relative_dose: f64,
    pub evaluations: u64,
}

/// The result of [`optimise`].
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    /// Best first (by hold-out objective, among entries within the dose limit).
    pub entries: Vec<Entry>,
    /// Every evaluation of every family search: (family, evaluation).
    pub trace: Vec<(&'static str, Evaluation)>,
    pub holdout_seed: u64,
}

/// The default families for the scenario's first drug, with bounds in its time units.
pub fn default_families(scenario: &Scenario) -> Result<Vec<Family>> {
    let drug = 0;
    let standard = scenario
        .spec
        .drugs
        .0
        .first()
        .and_then(|(_, d)| d.standard_dose)
        .ok_or_else(|| Error::Usage("optimise needs a drug with a standard dose".to_owned()))?;
    let max = scenario
        .spec
        .drugs
        .0
        .first()
        .and_then(|(_, d)| d.max_dose)
        .unwrap_or(standard)
        .max(standard);
    let day = 1.0 / scenario.spec.time_units.in_days();
    let interval = day.max(f64::MIN_POSITIVE);
    Ok(vec![
        Family::Intermittent {
            drug,
            interval,
            on: (day, 56.0 * day),
            off: (0.0, 28.0 * day),
            dose: (0.5 * standard, max),
        },
        Family::Adaptive {
            drug,
            dose: standard,
            interval,
            stop_below: (0.1, 0.9),
            resume_above: (0.5, 1.5),
        },
    ])
}

/// A hold-out score: the objective, its 95 % CI (restricted mean only) and the dose
/// relative to the first arm.
struct Holdout {
    value: f64,
    ci: Option<(f64, f64)>,
    relative_dose: f64,
}

fn holdout(
    scenario: &Scenario,
    objective: Objective,
    seed: u64,
    rollouts: u64,
    schedule: &Schedule,
    reference_dose: f64,
) -> Result<Holdout> {
    let mut eval = Evaluator::new(scenario, objective, Engine::Stochastic { seed, rollouts });
    let score = eval.score(schedule)?;
    let ci = matches!(objective, Objective::RestrictedMeanTtp).then(|| {
        let xs: Vec<f64> = score
            .outcomes
            .iter()
            .map(|o| o.ttp.min(scenario.horizon))
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let half = 1.959_963_984_540_054 * sd / n.sqrt();
        (mean - half, mean + half)
    });
    let relative = if reference_dose > 0.0 {
        score.mean_dose.first().copied().unwrap_or(0.0) / reference_dose
    } else {
        0.0
    };
    Ok(Holdout {
        value: score.value,
        ci,
        relative_dose: relative,
    })
}

/// Searches `families` and ranks the finalists with the scenario's arms on hold-out seeds.
pub fn optimise(
    scenario: &Scenario,
    families: &[Family],
    settings: &Settings,
) -> Result<Leaderboard> {
    let first_arm = scenario
        .arms
        .first()
        .ok_or_else(|| Error::Usage("the scenario has no arms".to_owned()))?;
    let tuning = Engine::Stochastic {
        seed: settings.seed,
        rollouts: settings.rollouts,
    };
    // The dose limit is relative to the first arm on the tuning seeds.
    let mut reference = Evaluator::new(scenario, settings.objective, tuning);
    let reference_dose = reference
        .score(&first_arm.schedule)?
        .mean_dose
        .first()
        .copied()
        .unwrap_or(0.0);
    let limit = settings.max_relative_dose.map(|r| DoseLimit {
        drug: 0,
        max: r * reference_dose,
        weight: 10.0 * scenario.horizon,
    });
    let mut results: Vec<FamilyResult> = Vec::new();
    let mut trace = Vec::new();
    for family in families {
        tracing::info!(family = family.name(), "searching");
        let mut eval = Evaluator::new(scenario, settings.objective, tuning);
        let found = search(&mut eval, family, settings.budget_per_family, limit)?;
        trace.extend(found.trace.iter().map(|e| (found.family, e.clone())));
        results.push(found);
    }
    let holdout_seed = settings.seed.wrapping_add(1);
    let mut entries = Vec::new();
    for (family, found) in families.iter().zip(&results) {
        let h = holdout(
            scenario,
            settings.objective,
            holdout_seed,
            settings.holdout_rollouts,
            &found.schedule,
            reference_dose,
        )?;
        entries.push(Entry {
            label: format!("search:{}", found.family),
            schedule: found.schedule.clone(),
            parameters: family
                .parameters()
                .iter()
                .map(|p| p.name)
                .zip(found.best.values.iter().copied())
                .collect(),
            tuning: Some(found.best.score),
            holdout: h.value,
            holdout_ci: h.ci,
            relative_dose: h.relative_dose,
            evaluations: found.trace.len() as u64,
        });
    }
    for arm in &scenario.arms {
        let h = holdout(
            scenario,
            settings.objective,
            holdout_seed,
            settings.holdout_rollouts,
            &arm.schedule,
            reference_dose,
        )?;
        entries.push(Entry {
            label: format!("arm:{}", arm.name),
            schedule: arm.schedule.clone(),
            parameters: Vec::new(),
            tuning: None,
            holdout: h.value,
            holdout_ci: h.ci,
            relative_dose: h.relative_dose,
            evaluations: 0,
        });
    }
    let within = |e: &Entry| {
        settings
            .max_relative_dose
            .is_none_or(|m| e.relative_dose <= m + 1e-9)
    };
    // Within the dose limit first, then by hold-out objective; ties go to the lower dose.
    entries.sort_by(|a, b| {
        within(b)
            .cmp(&within(a))
            .then(b.holdout.total_cmp(&a.holdout))
            .then(a.relative_dose.total_cmp(&b.relative_dose))
    });
    Ok(Leaderboard {
        entries,
        trace,
        holdout_seed,
    })
}
