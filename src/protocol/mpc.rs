//! A model-predictive dosing rule: at each visit a particle filter ([`super::particles`])
//! updates what the rule believes about the hidden compartments; at each re-planning time
//! the rule tries every action of a small set (off, or on at a dose level for part of the
//! coming interval) on copies of the believed tumours, lets a threshold rule carry each on
//! to the end of a look-ahead window, and gives the action whose expected outcome (time to
//! progression, or the chance of none within the window) is best.
//!
//! It sees what any rule sees: the measured markers and its own doses. The model it plans
//! with is the scenario's typical model and patient laws (for a virtual patient, not the
//! patient's own draws). The continuation after the first interval is chosen per action
//! from a few thresholds ("dose while the marker is above θ × the progression threshold";
//! θ = 0 is continuous dosing): a rule that only looked one interval ahead with a fixed
//! continuation would dose too early under a dose budget. Actions are scored on the same
//! copies (common random numbers); with racing, an action clearly worse than the leader on
//! the first quarters of the copies is not simulated on the rest.

use crate::model::pk::Dose;
use crate::model::toxicity::ToxicityGuard;
use crate::protocol::forecast::{Clinic, Forecaster, PolicyEnv};
use crate::protocol::observe::{Observation, ProgressionTracker};
use crate::protocol::particles::{Cloud, Update};
use crate::protocol::schedule::Policy;
use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// What the planner maximises over its look-ahead window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpcObjective {
    /// Expected time to progression, censored at the end of the window.
    Ttp,
    /// Probability of no progression within the window.
    ProgressionFree,
}

/// Settings of a model-predictive rule (docs/mpc.md).
#[derive(Debug, Clone, PartialEq)]
pub struct MpcRule {
    /// The drug dosed.
    pub drug: usize,
    /// Time between doses.
    pub interval: f64,
    /// Dose amounts the rule may give when on, ascending.
    pub levels: Vec<f64>,
    /// Shares of the re-planning interval the rule may dose for, from its start.
    pub on: Vec<f64>,
    /// Re-planning cadence.
    pub every: f64,
    /// Hypotheses in the filter.
    pub particles: usize,
    /// Hypotheses drawn from the filter for each plan.
    pub plan_particles: usize,
    /// Length of the look-ahead window.
    pub lookahead: f64,
    /// Thresholds θ of the continuation rule (see the module description).
    pub continuations: Vec<f64>,
    /// What the plan maximises.
    pub objective: MpcObjective,
    /// Share of the worst outcomes averaged (1: the mean; 0.2: the mean of the worst fifth).
    pub risk: f64,
    /// CV of the extra spread of the hypotheses' initial counts.
    pub spread: f64,
    /// CV of the jitter after each resampling.
    pub jitter: f64,
    /// CV of the measurement error the filter assumes.
    pub likelihood_cv: f64,
    /// Stop simulating an action clearly worse than the leader.
    pub race: bool,
    /// Move the filter's hypotheses between visits on the stochastic engine (plans stay on
    /// the ODE).
    pub stochastic_filter: bool,
}

impl MpcRule {
    /// The actions, least drug first: off, then each level for each on-share.
    pub fn actions(&self) -> Vec<Action> {
        let mut actions = vec![Action {
            amount: 0.0,
            on: 0.0,
        }];
        for &amount in &self.levels {
            for &share in &self.on {
                if amount > 0.0 && share > 0.0 {
                    actions.push(Action {
                        amount,
                        on: share * self.every,
                    });
                }
            }
        }
        actions.sort_by(|a, b| (a.amount * a.on).total_cmp(&(b.amount * b.on)));
        actions
    }
}

/// One action: `amount` every dosing interval for the first `on` time units of the
/// re-planning interval (`amount` 0: off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Action {
    /// Dose per administration.
    pub amount: f64,
    /// Time on drug from the start of the interval.
    pub on: f64,
}

/// The filter at one visit, as the trajectory plot shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPoint {
    /// Visit time.
    pub time: f64,
    /// Effective sample size after weighting.
    pub ess: f64,
    /// Resampled at this visit.
    pub resampled: bool,
    /// No hypothesis explained the measurement (reset).
    pub collapsed: bool,
    /// Per compartment: 5 %, 50 % and 95 % quantiles of the weighted cloud.
    pub quantiles: Vec<[f64; 3]>,
}

/// One decision, with what the rule expected of each action.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionPoint {
    /// Decision time.
    pub time: f64,
    /// Index of the action given (into [`MpcTrace::actions`]).
    pub chosen: usize,
    /// Per action: its score (NaN when racing stopped it early).
    pub scores: Vec<f64>,
    /// Per action: the continuation threshold that scored best (NaN if stopped early).
    pub theta: Vec<f64>,
    /// Particle-days simulated for this decision.
    pub particle_days: f64,
}

/// What a model-predictive rule did in one run, to explain it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MpcTrace {
    /// The actions, in the order of the scores.
    pub actions: Vec<Action>,
    /// The re-planning interval (to label the actions).
    pub every: f64,
    /// The filter at every visit.
    pub filter: Vec<FilterPoint>,
    /// Every decision.
    pub decisions: Vec<DecisionPoint>,
}

impl MpcTrace {
    /// The filter's counts divided by `factor` (cells back to the scenario's units).
    pub fn scale_counts(&mut self, factor: f64) {
        for point in &mut self.filter {
            for q in &mut point.quantiles {
                q.iter_mut().for_each(|x| *x /= factor);
            }
        }
    }
}

impl Action {
    /// A short label: `off`, the amount when on for the whole interval, else
    /// `AMOUNT for TIME`.
    pub fn label(&self, every: f64) -> String {
        if self.amount <= 0.0 || self.on <= 0.0 {
            "off".to_owned()
        } else if self.on >= every - TIME_EPS * every.max(1.0) {
            format!("on {}", self.amount)
        } else {
            format!("on {} for {}", self.amount, self.on)
        }
    }
}

/// Channels of the planner's streams.
const KEY_CHANNEL: u64 = 0x4d50_4300; // "MPC"
const PLAN_CHANNEL: u64 = 0x504c_414e; // "PLAN"
const NOISE_CHANNEL: u64 = 0x004e_4f49_5345; // "NOISE"

/// Slack for comparing times.
const TIME_EPS: f64 = 1e-9;

/// The rule's policy in one run.
pub struct Mpc {
    rule: MpcRule,
    actions: Vec<Action>,
    clinic: Option<Clinic>,
    cloud: Option<Cloud>,
    tracker: Option<ProgressionTracker>,
    guard: Option<ToxicityGuard>,
    key: u64,
    visits: u64,
    next_plan: f64,
    current: Action,
    since: f64,
    /// Doses given but not yet passed to the cloud: (time, dose), back-to-back levels
    /// merged.
    pending: Vec<(f64, Dose)>,
    trace: MpcTrace,
}

impl Mpc {
    /// A fresh policy for `rule` in the run `env` describes. Without a model or clinic
    /// from the engine, the rule doses at its highest level throughout.
    pub fn new(rule: MpcRule, env: &dyn PolicyEnv) -> Self {
        let clinic = env.clinic();
        let key = clinic.as_ref().map_or(0, |c| {
            Key {
                seed: c.seed,
                rollout: c.rollout,
                step: ROLLOUT_LEVEL_STEP,
                unit: 0,
                channel: KEY_CHANNEL,
            }
            .digest()
        });
        let cloud = clinic.as_ref().and_then(|_| {
            let hypotheses =
                env.hypotheses(rule.particles, rule.spread, key, rule.stochastic_filter);
            (!hypotheses.is_empty())
                .then(|| Cloud::new(hypotheses, rule.jitter, rule.likelihood_cv, key))
        });
        let actions = rule.actions();
        Mpc {
            tracker: clinic
                .as_ref()
                .map(|c| ProgressionTracker::new(c.progression)),
            guard: clinic.as_ref().map(|c| c.guard.clone()),
            current: *actions.last().unwrap_or(&Action {
                amount: 0.0,
                on: 0.0,
            }),
            trace: MpcTrace {
                actions: actions.clone(),
                every: rule.every,
                ..MpcTrace::default()
            },
            actions,
            clinic,
            cloud,
            key,
            visits: 0,
            next_plan: 0.0,
            since: 0.0,
            pending: Vec::new(),
            rule,
        }
    }

    /// The cloud brought up to `t` with the doses given so far.
    fn catch_up(&mut self, t: f64) {
        let Some(cloud) = self.cloud.as_mut() else {
            return;
        };
        for (at, dose) in self.pending.drain(..) {
            cloud.advance_to(at);
            cloud.give(&dose);
        }
        cloud.advance_to(t);
    }

    /// Records a dose for the cloud, merging it with the previous one when the drug is a
    /// level and the two are back to back at the same amount.
    fn remember(&mut self, t: f64, dose: Dose) {
        let level = self
            .clinic
            .as_ref()
            .is_some_and(|c| c.level.get(dose.drug) == Some(&true));
        if level
            && let Some((at, last)) = self.pending.last_mut()
            && last.drug == dose.drug
            && last.amount == dose.amount
            && (*at + last.duration - t).abs() <= TIME_EPS * t.abs().max(1.0)
        {
            last.duration += dose.duration;
            return;
        }
        self.pending.push((t, dose));
    }

    /// Chooses the action for the interval starting at `t`.
    fn plan(&mut self, t: f64) -> Action {
        let fallback = *self.actions.last().unwrap_or(&self.current);
        self.catch_up(t);
        let (Some(clinic), Some(tracker), Some(guard)) = (
            self.clinic.as_ref(),
            self.tracker.as_ref(),
            self.guard.as_ref(),
        ) else {
            return fallback;
        };
        let Some(cloud) = self.cloud.as_ref().filter(|c| !c.is_empty()) else {
            return fallback;
        };
        let k = self.trace.decisions.len() as u64;
        let u: f64 = Key {
            seed: self.key,
            rollout: k,
            step: ROLLOUT_LEVEL_STEP,
            unit: 0,
            channel: PLAN_CHANNEL,
        }
        .stream()
        .random();
        let copies = cloud.draw(self.rule.plan_particles.min(cloud.len()).max(1), u);
        let end = (t + self.rule.lookahead).min(clinic.horizon);
        let planner = Planner {
            rule: &self.rule,
            clinic,
            tracker,
            guard,
            start: t,
            end,
            noise_key: Key {
                seed: self.key,
                rollout: k,
                step: ROLLOUT_LEVEL_STEP,
                unit: 0,
                channel: NOISE_CHANNEL,
            }
            .digest(),
            noise_sigma: crate::protocol::particles::cv_sigma(clinic.marker.noise_cv),
        };
        let result = planner.choose(&self.actions, &copies);
        self.trace.decisions.push(DecisionPoint {
            time: t,
            chosen: result.chosen,
            scores: result.scores,
            theta: result.theta,
            particle_days: result.particle_days,
        });
        self.actions[result.chosen]
    }

    /// What the rule did in this run.
    pub fn trace(&self) -> &MpcTrace {
        &self.trace
    }
}

impl Policy for Mpc {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.rule.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.update(obs);
        }
        self.catch_up(obs.time);
        let visit = self.visits;
        self.visits += 1;
        let (Some(cloud), Some(clinic)) = (self.cloud.as_mut(), self.clinic.as_ref()) else {
            return;
        };
        let point = filter_point(cloud, obs, &clinic.marker, visit);
        self.trace.filter.push(point);
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        if t >= self.next_plan - TIME_EPS * t.abs().max(1.0) {
            self.current = self.plan(t);
            self.since = t;
            self.next_plan = t + self.rule.every;
        }
        let left = self.current.on - (t - self.since);
        if self.current.amount <= 0.0 || left <= TIME_EPS {
            return;
        }
        let mut dose = Dose {
            drug: self.rule.drug,
            amount: self.current.amount,
            duration: self.rule.interval.min(left),
        };
        // The driver passes doses through the same budgets: keeping a copy of its ledger
        // lets the filter see the doses actually given.
        if let Some(guard) = self.guard.as_mut()
            && !guard.admit(t, &mut dose)
        {
            return;
        }
        doses.push(dose);
        self.remember(t, dose);
    }

    fn trace(&self) -> Option<&MpcTrace> {
        Some(&self.trace)
    }
}

/// Takes measurement `obs` at visit `visit` into `cloud` and describes the cloud after it.
fn filter_point(
    cloud: &mut Cloud,
    obs: &Observation,
    marker: &crate::protocol::observe::MarkerModel,
    visit: u64,
) -> FilterPoint {
    let Update {
        ess,
        resampled,
        collapsed,
    } = cloud.update(obs, marker, visit);
    FilterPoint {
        time: obs.time,
        ess,
        resampled,
        collapsed,
        quantiles: (0..marker.weights.len())
            .map(|c| {
                let q = cloud.quantiles(c, &[0.05, 0.5, 0.95]);
                [q[0], q[1], q[2]]
            })
            .collect(),
    }
}

/// What a plan came to.
struct Choice {
    chosen: usize,
    scores: Vec<f64>,
    theta: Vec<f64>,
    particle_days: f64,
}

/// One plan: the actions tried on copies of the believed tumours from `start` to `end`.
struct Planner<'a> {
    rule: &'a MpcRule,
    clinic: &'a Clinic,
    tracker: &'a ProgressionTracker,
    guard: &'a ToxicityGuard,
    start: f64,
    end: f64,
    /// Keys the measurement error of the look-ahead's visits: one draw per copy and visit,
    /// the same for every action (progression is called on measured values, so a plan
    /// that holds the burden just under the threshold must reckon with the error).
    noise_key: u64,
    /// Log-sd of the clinic's measurement error.
    noise_sigma: f64,
}

/// One copy of a believed tumour in a look-ahead, with the clinic's ledgers.
struct Lookahead {
    /// The copy's number (keys its measurement error).
    copy: u64,
    model: Box<dyn Forecaster>,
    tracker: ProgressionTracker,
    guard: ToxicityGuard,
    /// The next visit's number.
    visit: u64,
    /// Set when the copy progressed (its time).
    progressed: Option<f64>,
}

impl Lookahead {
    fn duplicate(&self) -> Lookahead {
        Lookahead {
            copy: self.copy,
            model: self.model.boxed_clone(),
            tracker: self.tracker.clone(),
            guard: self.guard.clone(),
            visit: self.visit,
            progressed: self.progressed,
        }
    }
}

impl Planner<'_> {
    /// Scores every action and returns the best (least drug among equals).
    fn choose(&self, actions: &[Action], copies: &[Box<dyn Forecaster>]) -> Choice {
        let m = copies.len();
        let n_theta = self.rule.continuations.len().max(1);
        // values[a][θ][i]
        let mut values = vec![vec![vec![f64::NAN; m]; n_theta]; actions.len()];
        let mut alive = vec![true; actions.len()];
        let mut particle_days = 0.0;
        let batches = if self.rule.race && self.rule.risk >= 1.0 {
            4
        } else {
            1
        };
        let mut done = 0;
        for b in 0..batches {
            let upto = m * (b + 1) / batches;
            for (a, action) in actions.iter().enumerate() {
                if !alive[a] {
                    continue;
                }
                for i in done..upto {
                    let (scores, days) = self.score(action, copies[i].as_ref(), i as u64);
                    particle_days += days;
                    for (j, s) in scores.into_iter().enumerate() {
                        values[a][j][i] = s;
                    }
                }
            }
            done = upto;
            if b + 1 < batches {
                self.race(&values, &mut alive, done);
            }
        }
        let mut scores = vec![f64::NAN; actions.len()];
        let mut theta = vec![f64::NAN; actions.len()];
        let mut chosen = 0;
        for a in 0..actions.len() {
            if !alive[a] {
                continue;
            }
            let (j, v) = self.best_theta(&values[a], m);
            scores[a] = v;
            theta[a] = self.rule.continuations.get(j).copied().unwrap_or(0.0);
            let tol = 1e-9 * scores[chosen].abs().max(1.0);
            if !alive[chosen] || scores[chosen].is_nan() || v > scores[chosen] + tol {
                chosen = a;
            }
        }
        Choice {
            chosen,
            scores,
            theta,
            particle_days,
        }
    }

    /// The continuation that scores best over the first `n` copies, and its score.
    fn best_theta(&self, by_theta: &[Vec<f64>], n: usize) -> (usize, f64) {
        let mut best = (0, f64::NEG_INFINITY);
        for (j, v) in by_theta.iter().enumerate() {
            let s = self.aggregate(&v[..n]);
            if s > best.1 {
                best = (j, s);
            }
        }
        best
    }

    /// The objective over copies: the mean, or the mean of the worst `risk` share.
    fn aggregate(&self, v: &[f64]) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        if self.rule.risk >= 1.0 {
            return v.iter().sum::<f64>() / v.len() as f64;
        }
        let mut sorted = v.to_vec();
        sorted.sort_by(f64::total_cmp);
        let k = ((self.rule.risk * v.len() as f64).ceil() as usize).clamp(1, v.len());
        sorted[..k].iter().sum::<f64>() / k as f64
    }

    /// Drops every action whose paired difference from the leader over the first `n`
    /// copies is below zero by more than three standard errors.
    fn race(&self, values: &[Vec<Vec<f64>>], alive: &mut [bool], n: usize) {
        if n < 2 {
            return;
        }
        let best: Vec<Option<(usize, f64)>> = values
            .iter()
            .zip(alive.iter())
            .map(|(v, &a)| a.then(|| self.best_theta(v, n)))
            .collect();
        let Some(leader) = (0..values.len())
            .filter_map(|a| best[a].map(|b| (a, b.1)))
            .max_by(|x, y| x.1.total_cmp(&y.1))
            .map(|x| x.0)
        else {
            return;
        };
        let Some((lj, _)) = best[leader] else { return };
        for a in 0..values.len() {
            let Some((j, _)) = best[a] else { continue };
            if a == leader {
                continue;
            }
            let d: Vec<f64> = (0..n)
                .map(|i| values[a][j][i] - values[leader][lj][i])
                .collect();
            let mean = d.iter().sum::<f64>() / n as f64;
            let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (var / n as f64).sqrt();
            if mean + 3.0 * se < 0.0 {
                alive[a] = false;
            }
        }
    }

    /// The outcome of `action` then each continuation on one copy, and the particle-days
    /// simulated.
    fn score(&self, action: &Action, copy: &dyn Forecaster, index: u64) -> (Vec<f64>, f64) {
        let every = self.clinic.marker.every;
        let mut first = Lookahead {
            copy: index,
            model: copy.boxed_clone(),
            tracker: self.tracker.clone(),
            guard: self.guard.clone(),
            visit: (self.start / every + 1e-9).floor() as u64 + 1,
            progressed: None,
        };
        let stretch_end = (self.start + self.rule.every).min(self.end);
        let mut days = self.stretch(&mut first, action, self.start, stretch_end);
        let thetas: &[f64] = if self.rule.continuations.is_empty() {
            &[0.0]
        } else {
            &self.rule.continuations
        };
        let mut out = Vec::with_capacity(thetas.len());
        for &theta in thetas {
            let mut run = first.duplicate();
            let mut s = stretch_end;
            while run.progressed.is_none() && s < self.end - TIME_EPS {
                let next = (s + self.rule.every).min(self.end);
                let on = match run.tracker.threshold() {
                    Some(threshold) => run.model.marker() >= theta * threshold,
                    None => true,
                };
                let act = if on {
                    Action {
                        amount: self.rule.levels.last().copied().unwrap_or(0.0),
                        on: self.rule.every,
                    }
                } else {
                    Action {
                        amount: 0.0,
                        on: 0.0,
                    }
                };
                days += self.stretch(&mut run, &act, s, next);
                s = next;
            }
            out.push(self.value(run.progressed));
        }
        (out, days)
    }

    /// The score of a copy that progressed at `at` (or not within the window).
    fn value(&self, at: Option<f64>) -> f64 {
        match self.rule.objective {
            MpcObjective::Ttp => at.unwrap_or(self.end).min(self.end) - self.start,
            MpcObjective::ProgressionFree => f64::from(u8::from(at.is_none())),
        }
    }

    /// The mean-one log-normal factor of measurement error at `visit` of copy `copy`.
    fn measurement_error(&self, copy: u64, visit: u64) -> f64 {
        if self.noise_sigma <= 0.0 {
            return 1.0;
        }
        let mut rng = Key {
            seed: self.noise_key,
            rollout: copy,
            step: ROLLOUT_LEVEL_STEP,
            unit: visit,
            channel: NOISE_CHANNEL,
        }
        .stream();
        let z: f64 = StandardNormal.sample(&mut rng);
        let s = self.noise_sigma;
        (s * z - 0.5 * s * s).exp()
    }

    /// Gives `action` on `run` from `from` to `to`, visiting on the way; returns the time
    /// simulated.
    fn stretch(&self, run: &mut Lookahead, action: &Action, from: f64, to: f64) -> f64 {
        if run.progressed.is_some() {
            return 0.0;
        }
        let level = self.clinic.level.get(self.rule.drug) == Some(&true);
        let on_until = (from + action.on).min(to);
        // Dose times and visits in order; a level is one dose for its whole stretch.
        let mut doses: Vec<(f64, Dose)> = Vec::new();
        if action.amount > 0.0 && on_until > from + TIME_EPS {
            if level {
                doses.push((
                    from,
                    Dose {
                        drug: self.rule.drug,
                        amount: action.amount,
                        duration: on_until - from,
                    },
                ));
            } else {
                let mut k = 0u32;
                loop {
                    let at = from + f64::from(k) * self.rule.interval;
                    if at >= on_until - TIME_EPS {
                        break;
                    }
                    doses.push((
                        at,
                        Dose {
                            drug: self.rule.drug,
                            amount: action.amount,
                            duration: self.rule.interval.min(on_until - at),
                        },
                    ));
                    k += 1;
                }
            }
        }
        let every = self.clinic.marker.every;
        let mut next_dose = 0;
        loop {
            let visit_t = run.visit as f64 * every;
            let dose_t = doses.get(next_dose).map(|d| d.0);
            let visit_due = visit_t <= to + TIME_EPS;
            match dose_t {
                Some(dt) if !visit_due || dt < visit_t - TIME_EPS => {
                    if run.model.advance_to(dt).is_err() {
                        run.progressed = Some(dt);
                        return dt - from;
                    }
                    let mut dose = doses[next_dose].1;
                    if run.guard.admit(dt, &mut dose) {
                        run.model.give(&dose);
                    }
                    next_dose += 1;
                }
                _ if visit_due => {
                    if run.model.advance_to(visit_t).is_err() {
                        run.progressed = Some(visit_t);
                        return visit_t - from;
                    }
                    let value = run.model.marker() * self.measurement_error(run.copy, run.visit);
                    let obs = Observation {
                        time: visit_t,
                        value,
                        detected: value >= self.clinic.marker.detection_limit,
                    };
                    run.visit += 1;
                    if run.tracker.update(&obs) {
                        run.progressed = Some(run.tracker.progressed_at().unwrap_or(visit_t));
                        return visit_t - from;
                    }
                }
                _ => break,
            }
        }
        if run.model.advance_to(to).is_err() {
            run.progressed = Some(to);
        }
        to - from
    }
}
