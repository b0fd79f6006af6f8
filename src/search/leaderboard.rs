//! An optimisation run: family searches and the LP on tuning seeds, then every finalist and
//! the scenario's own arms re-scored on fresh (hold-out) seeds and ranked.

use super::config::Plan;
use super::family::{DoseLimit, DoseTie, Evaluation, Family, Penalty, SearchOptions, search};
use super::lp::{LpSettings, LpTarget, optimise_lp};
use super::objective::{Engine, Evaluator, Objective, Score};
use super::robust::Robust;
use crate::error::Result;
use crate::protocol::schedule::Schedule;
use crate::scenario::Scenario;
use std::time::Instant;

/// What the LP reports beside its rounded schedule's score: the relaxation gap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LpReport {
    /// What the LP minimised.
    pub target: LpTarget,
    /// The marker cap of every period, relative to time 0.
    pub cap: f64,
    /// The share of the cap the LP held the true marker under, for measurement noise.
    #[serde(default = "one")]
    pub noise_margin: f64,
    /// What the LP tracked: the target load under a cap held to the horizon, or (when no
    /// schedule holds it) the most leading periods held.
    #[serde(default = "cap_held")]
    pub mode: super::lp::LpMode,
    /// Leading periods under the cap on the ODE, of `periods`.
    #[serde(default)]
    pub held_periods: usize,
    /// Periods of the plan.
    #[serde(default)]
    pub periods: usize,
    /// Continuous dosing's time to progression on the ODE.
    #[serde(default)]
    pub continuous_ttp: f64,
    /// Why the relaxation says nothing beyond continuous dosing, when it does not.
    #[serde(default)]
    pub uninformative: Option<String>,
    /// LP solves that failed (rejected steps).
    #[serde(default)]
    pub solver_failures: usize,
    /// Largest ln(peak marker / cap) of the rounded schedule on the ODE (≤ 0: under it).
    pub cap_excess: f64,
    /// log10 of the target load at the horizon: the LP's relaxed prediction, the rounded
    /// schedule on the ODE, and the mean over the hold-out rollouts.
    pub relaxed_log10: f64,
    /// See `relaxed_log10`.
    pub rounded_log10: f64,
    /// See `relaxed_log10`.
    pub stochastic_log10: f64,
    /// Time to progression of the rounded schedule on the ODE.
    pub deterministic_ttp: f64,
    /// Sequential-LP steps taken.
    pub steps: usize,
    /// ODE runs the LP made.
    pub ode_runs: u64,
}

fn one() -> f64 {
    1.0
}

fn cap_held() -> super::lp::LpMode {
    super::lp::LpMode::CapHeld
}

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// `search:<family>` (with `@<limit>` in bi-objective mode) or `arm:<name>`.
    pub label: String,
    /// Not stored in a shard's file: rebuilt from the unit and `values` on merge.
    #[serde(skip, default = "no_schedule")]
    pub schedule: Schedule,
    /// The searched parameter values (family parameters, or the LP's on-times).
    #[serde(default)]
    pub values: Vec<f64>,
    /// Parameter names and values of searched schedules.
    pub parameters: Vec<(String, f64)>,
    /// The dose limit (relative to continuous) the schedule was searched under.
    pub dose_limit: Option<f64>,
    /// Objective on the tuning seeds (searched schedules only).
    pub tuning: Option<f64>,
    /// Objective on the hold-out seeds, with a 95 % CI for a mean over rollouts.
    pub holdout: f64,
    /// Bounds of the 95 % CI of `holdout`.
    pub holdout_ci: Option<(f64, f64)>,
    /// Hold-out rollouts run: fewer than the plan's when racing stopped a finalist that was
    /// clearly worse than the leader (its `holdout` is then the leader's value plus their
    /// mean paired difference on the rollouts it ran).
    #[serde(default)]
    pub holdout_rollouts: u64,
    /// Mean cumulative dose of the searched drug relative to continuous dosing (hold-out).
    pub relative_dose: f64,
    /// Share of hold-out rollouts whose marker passed the cap before progression.
    pub over_cap: f64,
    /// Meets the dose limit and the marker cap on the hold-out seeds.
    pub feasible: bool,
    /// Not beaten on both benefit and dose by another feasible entry.
    pub on_front: bool,
    /// Distinct schedules scored by its search.
    pub evaluations: u64,
    /// The LP's own report, for the LP's entry.
    pub lp: Option<LpReport>,
    /// With a robust score: the hold-out objective at each point of uncertainty (see
    /// [`Leaderboard::robust`]); `holdout` combines them.
    #[serde(default)]
    pub points: Vec<f64>,
    /// With a robust score: the share of the spread of `points` that rollout noise alone
    /// would give (see [`super::robust::noise_share`]).
    #[serde(default)]
    pub noise_share: Option<f64>,
}

/// A placeholder until a merged entry's schedule is rebuilt.
fn no_schedule() -> Schedule {
    Schedule::Events { doses: Vec::new() }
}

impl Entry {
    /// An entry before its hold-out scoring.
    pub fn unscored(label: String, schedule: Schedule, parameters: Vec<(String, f64)>) -> Entry {
        Entry {
            label,
            schedule,
            values: Vec::new(),
            parameters,
            dose_limit: None,
            tuning: None,
            holdout: 0.0,
            holdout_ci: None,
            holdout_rollouts: 0,
            relative_dose: 0.0,
            over_cap: 0.0,
            feasible: true,
            on_front: false,
            evaluations: 0,
            lp: None,
            points: Vec::new(),
            noise_share: None,
        }
    }
}

/// One evaluation of the search, for trace.csv.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TraceRow {
    /// The search that made it (`FAMILY` or `FAMILY@LIMIT`).
    pub search: String,
    /// What it scored.
    pub evaluation: Evaluation,
    /// Its mean dose relative to continuous dosing.
    pub relative_dose: f64,
}

/// The result of [`optimise`].
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    /// Best first: feasible entries (an uninformative LP relaxation after the others), then by
    /// hold-out objective, ties to the lower dose.
    pub entries: Vec<Entry>,
    /// Every evaluation of the searches, in order.
    pub trace: Vec<TraceRow>,
    /// Seed of the hold-out rollouts.
    pub holdout_seed: u64,
    /// Mean cumulative dose of continuous dosing at the standard dose (tuning seeds).
    pub continuous_dose: f64,
    /// Tuning rollouts run, and what they would have been without racing.
    pub rollouts_run: u64,
    /// Tuning rollouts the same searches would have run without racing.
    pub rollouts_without_racing: u64,
    /// The time limit stopped the search early.
    pub timed_out: bool,
    /// A stop was asked for (Ctrl-C, SIGTERM): only the searches' results so far, not
    /// re-scored on hold-out seeds.
    pub interrupted: bool,
    /// With a robust score: how the points combine, their labels, and continuous dosing's
    /// hold-out value at each (what a regret is measured against).
    pub robust: Option<RobustSummary>,
    /// How each entry fares with the model's parameters changed.
    pub sensitivity: Option<super::sensitivity::Sensitivity>,
}

/// What a leaderboard of robust scores says about its points.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustSummary {
    /// How the points' values combine.
    pub measure: super::robust::Measure,
    /// The points' labels, nominal first.
    pub labels: Vec<String>,
    /// Continuous dosing's hold-out value at each point, when the measure is a regret.
    pub reference: Option<Vec<f64>>,
}

/// Score units per unit of constraint violation: ten times the objective's range, so no
/// gain in the objective pays for a violation.
fn penalty_weight(objective: Objective, horizon: f64) -> f64 {
    10.0 * objective_range(objective, horizon)
}

/// The span of values the objective can take: the horizon, or 1 for a probability.
fn objective_range(objective: Objective, horizon: f64) -> f64 {
    match objective {
        Objective::PfsAt(_) => 1.0,
        _ => horizon,
    }
}

/// ln-free mean of log10(target load + one cell) over rollouts.
fn mean_log10_load(scenario: &Scenario, score: &Score, target: LpTarget) -> f64 {
    let one_cell = 1.0 / scenario.cells_per_unit.max(1.0);
    let n = score.outcomes.len().max(1) as f64;
    score
        .outcomes
        .iter()
        .map(|o| {
            let load = match target {
                LpTarget::Total => o.final_total,
                LpTarget::Resistant => o.final_resistant,
            };
            (load.max(0.0) + one_cell).log10()
        })
        .sum::<f64>()
        / n
}

struct Scored {
    score: Score,
    ci: Option<(f64, f64)>,
}

/// Scores an entry on the hold-out seeds: a scenario arm with its own progression rule, a
/// searched schedule as [`Scenario::candidate_arm`] judges it. A searched schedule is raced
/// against `leader` (the best complete score so far) when given: stopped once clearly worse
/// on the same rollouts, its value is then the leader's plus their mean paired difference
/// (a control-variate estimate, below the leader's by construction).
fn holdout(
    scenario: &Scenario,
    plan: &Plan,
    robust: &Robustness,
    entry: &Entry,
    leader: Option<&Score>,
) -> Result<Scored> {
    let arm = entry
        .label
        .strip_prefix("arm:")
        .and_then(|name| scenario.arm(name))
        .cloned()
        .unwrap_or_else(|| scenario.candidate_arm(&entry.label, entry.schedule.clone()));
    let mut eval = robust.evaluator(scenario, plan);
    let mut score = eval.score_arm_raced(&arm, leader, &|_| 0.0)?;
    let values = |s: &Score| eval.series(s).unwrap_or_default();
    let xs = values(&score);
    if xs.is_empty() {
        return Ok(Scored { score, ci: None });
    }
    let z = 1.959_963_984_540_054;
    let ci = match leader.filter(|_| !score.complete) {
        None => {
            let (mean, var) = mean_var(&xs);
            let half = z * (var / xs.len() as f64).sqrt();
            (mean - half, mean + half)
        }
        Some(best) => {
            let ys = values(best);
            let diffs: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| x - y).collect();
            let (d, var_d) = mean_var(&diffs);
            let (_, var_y) = mean_var(&ys);
            score.value = best.value + d;
            let half = z * (var_y / ys.len() as f64 + var_d / diffs.len() as f64).sqrt();
            (score.value - half, score.value + half)
        }
    };
    Ok(Scored {
        score,
        ci: Some(ci),
    })
}

/// The points a run's candidates are scored at (none without a `robust:` block), on one
/// engine, with continuous dosing's value at each point once known.
struct Robustness {
    points: Option<Robust>,
    engine: Engine,
    continuous: Schedule,
    reference: Option<Score>,
}

impl Robustness {
    /// The plan's points on `engine`, with the regret's reference computed once.
    fn new(scenario: &Scenario, plan: &Plan, engine: Engine) -> Result<Robustness> {
        let points = plan
            .robust
            .as_ref()
            .map(|r| Robust::build(scenario, r, plan.seed))
            .transpose()?;
        let mut robustness = Robustness {
            points,
            engine,
            continuous: plan.continuous(),
            reference: None,
        };
        robustness.reference = robustness.evaluator(scenario, plan).reference()?;
        Ok(robustness)
    }

    /// Points a candidate is scored at (1 without a robust setting).
    fn point_count(&self) -> u64 {
        self.points.as_ref().map_or(1, |r| r.points.len() as u64)
    }

    /// An evaluator of the plan's objective at the points.
    fn evaluator<'a>(&'a self, scenario: &'a Scenario, plan: &Plan) -> Evaluator<'a> {
        Evaluator::new(scenario, plan.objective, self.engine)
            .with_robust(self.points.as_ref(), self.continuous.clone())
            .with_reference(self.reference.clone())
    }
}

/// The share of the spread between a robust score's points that its rollouts' noise would
/// give: per point, the sample variance of one rollout's contribution over the rollouts run.
fn noise_share(scenario: &Scenario, plan: &Plan, score: &Score) -> Option<f64> {
    if score.points.len() < 2 {
        return None;
    }
    let by_point = score.by_point();
    let variances: Vec<f64> = by_point
        .iter()
        .map(|o| {
            let xs: Vec<f64> = o
                .iter()
                .filter_map(|o| plan.objective.contribution(o, scenario.horizon))
                .collect();
            (xs.len() >= 2).then(|| mean_var(&xs).1)
        })
        .collect::<Option<_>>()?;
    let rollouts = by_point.first().map_or(0, |o| o.len());
    super::robust::noise_share(&score.points, &variances, rollouts)
}

/// Mean and sample variance.
fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var)
}

/// Runs the plan's searches and ranks the finalists with the scenario's arms on hold-out
/// seeds. `progress` is called after every evaluation and hold-out scoring.
pub fn optimise(
    scenario: &Scenario,
    plan: &Plan,
    progress: Option<&(dyn Fn() + Sync)>,
    journal: Option<&super::checkpoint::Journal>,
) -> Result<Leaderboard> {
    let searched = search_units(scenario, plan, progress, journal, None)?;
    if searched.interrupted {
        return Ok(Leaderboard {
            entries: searched.finalists.into_iter().map(|(_, e)| e).collect(),
            trace: searched.trace.into_iter().map(|(_, t)| t).collect(),
            holdout_seed: plan.seed.wrapping_add(1),
            continuous_dose: searched.continuous_dose,
            rollouts_run: searched.rollouts_run,
            rollouts_without_racing: searched.rollouts_without_racing,
            timed_out: searched.timed_out,
            interrupted: true,
            robust: None,
            sensitivity: None,
        });
    }
    finish(scenario, plan, searched, progress)
}

/// The units of an optimisation's search, in canonical order: for each dose limit, each
/// family, then the LP. Shards split these.
pub fn unit_count(plan: &Plan) -> u64 {
    plan.dose_limits().len() as u64 * (plan.families.len() as u64 + u64::from(plan.lp.is_some()))
}

/// What the searches found, before the hold-out scoring: finalists and trace rows tagged
/// with the unit that made them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Searched {
    /// The best of each unit, tagged with the unit.
    pub finalists: Vec<(u64, Entry)>,
    /// Every evaluation, tagged with its unit.
    pub trace: Vec<(u64, TraceRow)>,
    /// Mean cumulative dose of continuous dosing at the standard dose.
    pub continuous_dose: f64,
    /// Tuning rollouts run.
    pub rollouts_run: u64,
    /// Tuning rollouts without racing.
    pub rollouts_without_racing: u64,
    /// A time limit stopped a search.
    pub timed_out: bool,
    /// A stop was asked for.
    pub interrupted: bool,
}

impl Searched {
    /// The searches of several shards as one, in canonical unit order.
    pub fn combine(parts: Vec<Searched>) -> Searched {
        let mut all = Searched {
            finalists: Vec::new(),
            trace: Vec::new(),
            continuous_dose: parts.first().map_or(0.0, |p| p.continuous_dose),
            rollouts_run: 0,
            rollouts_without_racing: 0,
            timed_out: false,
            interrupted: false,
        };
        for p in parts {
            all.finalists.extend(p.finalists);
            all.trace.extend(p.trace);
            all.rollouts_run += p.rollouts_run;
            all.rollouts_without_racing += p.rollouts_without_racing;
            all.timed_out |= p.timed_out;
            all.interrupted |= p.interrupted;
        }
        // Stable: rows of one unit keep their order.
        all.finalists.sort_by_key(|(u, _)| *u);
        all.trace.sort_by_key(|(u, _)| *u);
        all
    }
}

/// What every search unit of one run shares.
struct Units<'a> {
    scenario: &'a Scenario,
    plan: &'a Plan,
    progress: Option<&'a (dyn Fn() + Sync)>,
    journal: Option<&'a super::checkpoint::Journal>,
    tuning: Robustness,
    deadline: Option<Instant>,
}

impl Units<'_> {
    /// Mean dose of the searched drug relative to continuous dosing.
    fn relative(&self, found: &Searched, mean_dose: &[f64]) -> f64 {
        if found.continuous_dose > 0.0 {
            mean_dose.get(self.plan.drug).copied().unwrap_or(0.0) / found.continuous_dose
        } else {
            0.0
        }
    }

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Family `i`'s search under one dose limit (unit `id`), into `found`.
    fn family(
        &self,
        found: &mut Searched,
        (id, i, family): (u64, usize, &Family),
        (limit, suffix): (Option<f64>, &str),
        penalty: Penalty,
    ) -> Result<()> {
        let plan = self.plan;
        let label = format!("search:{}{suffix}", family.name());
        tracing::info!(search = %label, "searching");
        let mut eval = self.tuning.evaluator(self.scenario, plan);
        let options = SearchOptions {
            budget: plan.budget_per_family,
            penalty,
            solver: plan.solver,
            racing: plan.racing,
            seed: plan.seed.wrapping_add(1000 + i as u64),
            deadline: self.deadline,
            progress: self.progress,
            label: &label,
            journal: self.journal,
            tie: DoseTie::new(
                plan.drug,
                objective_range(plan.objective, self.scenario.horizon),
                found.continuous_dose,
                self.scenario.horizon,
            ),
        };
        let result = match search(&mut eval, family, &options) {
            Ok(f) => f,
            // Stopped or out of time before the first evaluation: nothing to report.
            Err(_) if super::checkpoint::stop_requested() => return Ok(()),
            Err(_) if self.out_of_time() => {
                found.timed_out = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        found.timed_out |= result.timed_out;
        for e in &result.trace {
            found.rollouts_run += e.rollouts;
            found.rollouts_without_racing += plan.rollouts * self.tuning.point_count();
            let row = TraceRow {
                search: label.clone(),
                relative_dose: self.relative(found, &e.mean_dose),
                evaluation: e.clone(),
            };
            found.trace.push((id, row));
        }
        let parameters = family
            .parameters()
            .iter()
            .map(|p| p.name.to_owned())
            .zip(result.best.values.iter().copied())
            .collect();
        found.finalists.push((
            id,
            Entry {
                dose_limit: limit,
                tuning: Some(result.best.score),
                evaluations: result.trace.len() as u64,
                values: result.best.values.clone(),
                ..Entry::unscored(label, result.schedule.clone(), parameters)
            },
        ));
        Ok(())
    }

    /// The sequential LP under one dose limit (unit `id`), into `found`.
    fn lp(
        &self,
        found: &mut Searched,
        (id, lp): (u64, &super::config::LpPlan),
        (limit, suffix): (Option<f64>, &str),
        penalty: Penalty,
    ) -> Result<()> {
        let (scenario, plan) = (self.scenario, self.plan);
        if self.out_of_time() {
            found.timed_out = true;
            return Ok(());
        }
        let label = format!("search:lp{suffix}");
        tracing::info!(search = %label, "sequential LP");
        let settings = LpSettings {
            drug: plan.drug,
            dose: lp.dose,
            interval: lp.interval,
            period: lp.period,
            target: lp.target,
            cap: Some(lp.cap * lp.noise_margin),
            max_on: limit.unwrap_or(1.0).min(1.0) * scenario.horizon,
            trust_region: lp.trust_region,
            max_iterations: lp.max_iterations,
            deadline: self.deadline,
            levels: lp.levels.clone(),
            others: lp.others.clone(),
        };
        let result = optimise_lp(scenario, &settings)?;
        let tuned = self
            .tuning
            .evaluator(scenario, plan)
            .score(&result.schedule)?;
        found.rollouts_run += tuned.outcomes.len() as u64;
        found.rollouts_without_racing += tuned.outcomes.len() as u64;
        if let Some(report) = self.progress {
            report();
        }
        let row = TraceRow {
            search: label.clone(),
            relative_dose: self.relative(found, &tuned.mean_dose),
            evaluation: Evaluation {
                values: result.on.clone(),
                score: tuned.value,
                penalised: tuned.value - penalty.of(&tuned),
                mean_dose: tuned.mean_dose.clone(),
                rollouts: tuned.outcomes.len() as u64,
                over_cap: penalty.over_cap(&tuned),
                resistance_time: super::family::resistance_time(&tuned),
            },
        };
        found.trace.push((id, row));
        let continuous_ttp = crate::sim::run_deterministic(
            scenario,
            &scenario.candidate_arm("continuous", plan.continuous()),
            crate::sim::RunOptions {
                record_every: 0.0,
                noise: None,
            },
        )?
        .outcome
        .ttp;
        let uninformative = match result.mode {
            super::lp::LpMode::TimeToProgression if result.held_periods == 0 => Some(
                "no schedule within the budget holds even the first period under the cap"
                    .to_owned(),
            ),
            super::lp::LpMode::TimeToProgression
                if result.deterministic_ttp <= continuous_ttp + 1e-9 =>
            {
                Some(format!(
                    "the cap cannot be held to the horizon and the schedule that holds it \
                     longest progresses on day {:.0} on the ODE, no later than continuous \
                     dosing ({continuous_ttp:.0})",
                    result.deterministic_ttp
                ))
            }
            _ => None,
        };
        let report = LpReport {
            target: lp.target,
            cap: lp.cap,
            noise_margin: lp.noise_margin,
            mode: result.mode,
            held_periods: result.held_periods,
            periods: result.periods,
            continuous_ttp,
            uninformative,
            solver_failures: result.solver_failures,
            cap_excess: result.cap_excess,
            relaxed_log10: result.relaxed_log10,
            rounded_log10: result.rounded_log10,
            // Set by the hold-out scoring.
            stochastic_log10: 0.0,
            deterministic_ttp: result.deterministic_ttp,
            steps: result.steps.len(),
            ode_runs: result.evaluations,
        };
        let parameters = vec![
            ("period".to_owned(), lp.period),
            ("on_total".to_owned(), result.on.iter().sum()),
        ];
        found.finalists.push((
            id,
            Entry {
                dose_limit: limit,
                tuning: Some(tuned.value),
                evaluations: result.evaluations,
                values: result.on.clone(),
                lp: Some(report),
                ..Entry::unscored(label, result.schedule.clone(), parameters)
            },
        ));
        Ok(())
    }
}

/// Runs the search units (all, or those in `only`), in canonical order: for each dose limit,
/// each family, then the LP.
pub fn search_units(
    scenario: &Scenario,
    plan: &Plan,
    progress: Option<&(dyn Fn() + Sync)>,
    journal: Option<&super::checkpoint::Journal>,
    only: Option<&std::collections::BTreeSet<u64>>,
) -> Result<Searched> {
    let tuning = Engine::Stochastic {
        seed: plan.seed,
        rollouts: plan.rollouts,
    };
    let units = Units {
        scenario,
        plan,
        progress,
        journal,
        tuning: Robustness::new(scenario, plan, tuning)?,
        deadline: plan.time_limit.map(|d| Instant::now() + d),
    };
    let continuous_dose = units
        .tuning
        .evaluator(scenario, plan)
        .score(&units.tuning.continuous)?
        .mean_dose
        .get(plan.drug)
        .copied()
        .unwrap_or(0.0);
    let mut found = Searched::combine(Vec::new());
    found.continuous_dose = continuous_dose;
    let weight = penalty_weight(plan.objective, scenario.horizon);
    let mine = |id: u64| only.is_none_or(|o| o.contains(&id));
    let mut id: u64 = 0;
    for limit in plan.dose_limits() {
        let suffix = match (plan.pareto.is_some(), limit) {
            (true, Some(l)) => format!("@{l}"),
            _ => String::new(),
        };
        let penalty = Penalty {
            dose: limit.map(|r| DoseLimit {
                drug: plan.drug,
                max: r * continuous_dose,
            }),
            marker_cap: plan.marker_cap,
            weight,
        };
        for (i, family) in plan.families.iter().enumerate() {
            if mine(id) {
                units.family(&mut found, (id, i, family), (limit, &suffix), penalty)?;
            }
            id += 1;
        }
        if super::checkpoint::stop_requested() {
            found.interrupted = true;
            break;
        }
        if let Some(lp) = &plan.lp {
            if mine(id) {
                units.lp(&mut found, (id, lp), (limit, &suffix), penalty)?;
            }
            id += 1;
        }
    }
    Ok(found)
}

/// Rebuilds a finalist's schedule from its unit and values (for merged shards).
pub fn rebuild_schedule(plan: &Plan, unit: u64, values: &[f64]) -> Option<Schedule> {
    let per_limit = plan.families.len() as u64 + u64::from(plan.lp.is_some());
    if per_limit == 0 {
        return None;
    }
    let k = (unit % per_limit) as usize;
    match plan.families.get(k) {
        Some(family) => Some(family.schedule(values)),
        None => plan.lp.as_ref().map(|lp| Schedule::Piecewise {
            drug: plan.drug,
            interval: lp.interval,
            period: lp.period,
            doses: vec![lp.dose; values.len()],
            on: values.to_vec(),
        }),
    }
}

/// Hold-out scoring of the finalists and the scenario's arms, the front, the ranking.
pub fn finish(
    scenario: &Scenario,
    plan: &Plan,
    searched: Searched,
    progress: Option<&(dyn Fn() + Sync)>,
) -> Result<Leaderboard> {
    let Searched {
        finalists,
        trace,
        continuous_dose,
        rollouts_run,
        rollouts_without_racing,
        timed_out,
        ..
    } = searched;
    let finalists: Vec<Entry> = finalists.into_iter().map(|(_, e)| e).collect();
    let trace: Vec<TraceRow> = trace.into_iter().map(|(_, t)| t).collect();
    let pareto = plan.pareto.is_some();
    let relative = |mean_dose: &[f64]| {
        if continuous_dose > 0.0 {
            mean_dose.get(plan.drug).copied().unwrap_or(0.0) / continuous_dose
        } else {
            0.0
        }
    };
    let holdout_seed = plan.seed.wrapping_add(1);
    let robust = Robustness::new(
        scenario,
        plan,
        Engine::Stochastic {
            seed: holdout_seed,
            rollouts: plan.holdout,
        },
    )?;
    let cap_penalty = Penalty {
        dose: None,
        marker_cap: plan.marker_cap,
        weight: 0.0,
    };
    let mut entries = finalists;
    entries.extend(scenario.arms.iter().map(|arm| {
        Entry::unscored(
            format!("arm:{}", arm.name),
            arm.schedule.clone(),
            Vec::new(),
        )
    }));
    let stopped = || {
        crate::error::Error::Interrupted(
            "stopped while scoring the finalists on the hold-out seeds".to_owned(),
        )
    };
    // The scenario's arms first (the references, never stopped), then the finalists from the
    // best tuning score down, each raced against the best complete feasible score so far
    // (not in bi-objective mode, where a worse schedule on less dose still counts).
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let arm = |i: usize| entries[i].label.starts_with("arm:");
        let tuning = |i: usize| entries[i].tuning.unwrap_or(f64::NEG_INFINITY);
        arm(b).cmp(&arm(a)).then(tuning(b).total_cmp(&tuning(a)))
    });
    let race = plan.racing && !pareto;
    let mut leader: Option<Score> = None;
    for i in order {
        let e = &mut entries[i];
        if crate::support::stop::requested() {
            return Err(stopped());
        }
        let against = leader
            .as_ref()
            .filter(|_| race && !e.label.starts_with("arm:"));
        let scored = match holdout(scenario, plan, &robust, e, against) {
            Err(crate::error::Error::Interrupted(_)) => return Err(stopped()),
            other => other?,
        };
        e.holdout = scored.score.value;
        e.holdout_ci = scored.ci;
        e.holdout_rollouts = scored.score.outcomes.len() as u64 / robust.point_count();
        e.points = scored.score.points.clone();
        e.noise_share = noise_share(scenario, plan, &scored.score);
        e.relative_dose = relative(&scored.score.mean_dose);
        e.over_cap = cap_penalty.over_cap(&scored.score);
        if let Some(lp) = &mut e.lp {
            lp.stochastic_log10 = mean_log10_load(scenario, &scored.score, lp.target);
        }
        let limit = e
            .dose_limit
            .or(if pareto { None } else { plan.max_relative_dose });
        e.feasible = limit.is_none_or(|m| e.relative_dose <= m + 1e-9) && e.over_cap == 0.0;
        if e.feasible
            && scored.score.complete
            && leader.as_ref().is_none_or(|l| scored.score.value > l.value)
        {
            leader = Some(scored.score);
        }
        if let Some(report) = progress {
            report();
        }
    }
    // The front: feasible entries not beaten on benefit without using more dose.
    let snapshot: Vec<(f64, f64, bool)> = entries
        .iter()
        .map(|e| (e.holdout, e.relative_dose, e.feasible))
        .collect();
    for (i, e) in entries.iter_mut().enumerate() {
        e.on_front = e.feasible
            && !snapshot.iter().enumerate().any(|(j, &(v, d, ok))| {
                j != i
                    && ok
                    && v >= e.holdout
                    && d <= e.relative_dose
                    && (v > e.holdout || d < e.relative_dose)
            });
    }
    // An LP relaxation that says nothing beyond continuous dosing is listed, not ranked as a
    // finding: after every other feasible entry.
    let informative = |e: &Entry| e.lp.as_ref().is_none_or(|r| r.uninformative.is_none());
    entries.sort_by(|a, b| {
        b.feasible
            .cmp(&a.feasible)
            .then(informative(b).cmp(&informative(a)))
            .then(b.holdout.total_cmp(&a.holdout))
            .then(a.relative_dose.total_cmp(&b.relative_dose))
    });
    let sensitivity = match &plan.sensitivity {
        Some(s) if !crate::support::stop::requested() => {
            tracing::info!(parameters = s.parameters.len(), "sensitivity report");
            Some(super::sensitivity::analyse(scenario, plan, s, &entries)?)
        }
        _ => None,
    };
    Ok(Leaderboard {
        entries,
        trace,
        holdout_seed,
        continuous_dose,
        rollouts_run,
        rollouts_without_racing,
        timed_out,
        interrupted: false,
        robust: robust.points.as_ref().map(|r| RobustSummary {
            measure: r.measure,
            labels: r.labels(),
            reference: robust.reference.as_ref().map(|c| c.points.clone()),
        }),
        sensitivity,
    })
}
