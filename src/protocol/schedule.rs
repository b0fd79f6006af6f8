//! Dosing schedules behind one [`Policy`] trait.
//!
//! A policy is asked for doses at its own decision times and is shown each visit's observed
//! marker. It never sees the true cell counts, so a closed-loop rule here can be run in a
//! clinic as written.

use crate::model::pk::Dose;
use crate::protocol::forecast::PolicyEnv;

pub use crate::protocol::containment::{Containment, ContainmentRule, Control};
pub use crate::protocol::observe::Observation;

/// A dosing rule.
pub trait Policy {
    /// The `k`-th time (k = 0, 1, …) at which the policy decides; strictly increasing.
    /// `None`: no more decisions.
    fn decision_time(&self, k: usize) -> Option<f64>;

    /// Called at every visit, before any decision at the same time.
    fn observe(&mut self, _obs: &Observation) {}

    /// Appends the doses given at decision time `t`.
    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>);

    /// The line of treatment in effect (sequential regimens move through several).
    fn line(&self) -> usize {
        0
    }

    /// Whether the current line is the last: progression only ends the arm there.
    fn on_last_line(&self) -> bool {
        true
    }

    /// What a model-predictive rule believed and expected at each visit (to explain it).
    fn trace(&self) -> Option<&crate::protocol::mpc::MpcTrace> {
        None
    }
}

/// Makes the policy of a dosing rule written in user code, afresh for each run (see
/// `examples/custom_policy.rs`).
pub trait PolicyFactory: Send + Sync {
    /// The rule's name, for messages.
    fn name(&self) -> &str;
    /// A fresh policy in its initial state.
    fn make(&self) -> Box<dyn Policy + Send>;
    /// Spacing of the decisions when the rule is part of a combination or sequence (0: it
    /// decides at its own times).
    fn interval(&self) -> f64 {
        0.0
    }
}

/// A dosing rule written in user code, as a schedule: put it in an arm with
/// [`crate::Scenario::candidate_arm`] and every engine and command runs it.
#[derive(Clone)]
pub struct Custom(pub std::sync::Arc<dyn PolicyFactory>);

impl std::fmt::Debug for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Custom({:?})", self.0.name())
    }
}

impl PartialEq for Custom {
    /// The same rule object.
    fn eq(&self, other: &Custom) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A resolved schedule of one drug, ready to make policies from.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Lines of treatment one after another; `lines[0]` starts at time 0, each later line
    /// when its switch comes. Progression is judged with `rule`.
    Sequence {
        /// Each line's schedule and what ends it (`None` for the last line).
        lines: Vec<(Schedule, Option<Switch>)>,
        /// The rule that calls progression (a `progression` switch fires with it).
        rule: crate::protocol::observe::ProgressionRule,
        /// The finest dosing grid of the lines, on which decisions are made.
        base: f64,
    },
    /// Explicit doses: (time, dose), sorted by time.
    Events {
        /// The doses, sorted by time.
        doses: Vec<(f64, Dose)>,
    },
    /// Several schedules given together (a combination regimen), deciding on the finest
    /// of their dosing grids, `base`.
    Combination {
        /// The schedules given together.
        parts: Vec<Schedule>,
        /// The finest dosing grid of the parts.
        base: f64,
    },
    /// Treat to response, take a holiday, rechallenge.
    Holiday(HolidayRule),
    /// Raise or lower the dose with the marker.
    Modulation(ModulationRule),
    /// Hold the marker at a target with the smallest dose.
    Containment(ContainmentRule),
    /// Plan each interval's dosing on a particle filter's picture of the tumour.
    Mpc(crate::protocol::mpc::MpcRule),
    /// A dose per period, given every `interval` for the first `on[k]` time units of
    /// period `k` (the whole period when `on` is empty).
    Piecewise {
        /// The drug dosed.
        drug: usize,
        /// Time between doses.
        interval: f64,
        /// Length of a period.
        period: f64,
        /// Dose in each period.
        doses: Vec<f64>,
        /// Time on in each period (empty: all of it).
        on: Vec<f64>,
    },
    /// The same dose every `interval`.
    Continuous {
        /// The drug dosed.
        drug: usize,
        /// Dose per administration.
        dose: f64,
        /// Time between doses.
        interval: f64,
    },
    /// Cycles of `on` time units dosing and `off` without.
    Intermittent {
        /// The drug dosed.
        drug: usize,
        /// Dose per administration.
        dose: f64,
        /// Time between doses.
        interval: f64,
        /// Time on per cycle.
        on: f64,
        /// Time off per cycle.
        off: f64,
        /// Time before the first cycle starts.
        start_delay: f64,
    },
    /// Zhang's adaptive rule: stop below `stop_below` × baseline, resume above
    /// `resume_above` × baseline.
    Adaptive {
        /// The drug dosed.
        drug: usize,
        /// Dose per administration while on.
        dose: f64,
        /// Time between doses.
        interval: f64,
        /// Stop when the marker falls below this fraction of its baseline.
        stop_below: f64,
        /// Resume when the marker rises above this fraction of its baseline.
        resume_above: f64,
        /// Decide at every k-th visit only.
        every_visits: u32,
    },
    /// A rule written in user code.
    Custom(Custom),
}

impl Schedule {
    /// Combines schedules given together.
    pub fn combination(parts: Vec<Schedule>) -> Schedule {
        // Validation keeps explicit events out of combinations; a positive base is a must.
        let base = parts
            .iter()
            .map(Schedule::interval)
            .filter(|x| *x > 0.0)
            .fold(f64::INFINITY, f64::min);
        let base = if base.is_finite() { base } else { 1.0 };
        Schedule::Combination { parts, base }
    }

    /// Lines of treatment in sequence; each later line says when it starts.
    pub fn sequence(
        first: Schedule,
        later: Vec<(Schedule, Switch)>,
        rule: crate::protocol::observe::ProgressionRule,
    ) -> Schedule {
        let mut lines = vec![(first, None)];
        lines.extend(later.into_iter().map(|(s, w)| (s, Some(w))));
        let base = lines
            .iter()
            .map(|(s, _)| s.interval())
            .filter(|x| *x > 0.0)
            .fold(f64::INFINITY, f64::min);
        let base = if base.is_finite() { base } else { 1.0 };
        Schedule::Sequence { lines, rule, base }
    }

    /// An explicit dose list (sorted here).
    pub fn events(mut doses: Vec<(f64, Dose)>) -> Schedule {
        doses.sort_by(|a, b| a.0.total_cmp(&b.0));
        Schedule::Events { doses }
    }

    /// The dosing interval: the spacing of the decisions (0 for explicit events, which
    /// decide at their own times).
    pub fn interval(&self) -> f64 {
        match self {
            Schedule::Sequence { base, .. } => *base,
            Schedule::Events { .. } => 0.0,
            Schedule::Combination { base, .. } => *base,
            Schedule::Holiday(r) => r.interval,
            Schedule::Modulation(r) => r.interval,
            Schedule::Containment(r) => r.interval,
            Schedule::Mpc(r) => r.interval,
            Schedule::Custom(c) => c.0.interval(),
            Schedule::Piecewise { interval, .. }
            | Schedule::Continuous { interval, .. }
            | Schedule::Intermittent { interval, .. }
            | Schedule::Adaptive { interval, .. } => *interval,
        }
    }

    /// Whether the schedule's doses depend on time alone: it never reads an observation and
    /// has one line of treatment, so every patient on it is dosed alike until progression
    /// ends treatment (runs share its dosing then: `sim/lockstep.rs`).
    pub fn open_loop(&self) -> bool {
        match self {
            Schedule::Events { .. }
            | Schedule::Piecewise { .. }
            | Schedule::Continuous { .. }
            | Schedule::Intermittent { .. } => true,
            Schedule::Combination { parts, .. } => parts.iter().all(Schedule::open_loop),
            Schedule::Sequence { .. }
            | Schedule::Holiday(_)
            | Schedule::Modulation(_)
            | Schedule::Containment(_)
            | Schedule::Mpc(_)
            | Schedule::Adaptive { .. }
            | Schedule::Custom(_) => false,
        }
    }

    /// A fresh policy in its initial state (one per simulated patient); a model-based rule
    /// takes its model of the patient from `env`.
    pub fn policy(&self, env: &dyn PolicyEnv) -> Box<dyn Policy + Send> {
        match *self {
            Schedule::Sequence {
                ref lines,
                rule,
                base,
            } => Box::new(Sequence {
                lines: lines
                    .iter()
                    .map(|(s, switch)| (s.policy(env), s.interval(), *switch))
                    .collect(),
                current: 0,
                started: 0.0,
                tracker: crate::protocol::observe::ProgressionTracker::new(rule),
                rule,
                base,
            }),
            Schedule::Custom(ref c) => c.0.make(),
            Schedule::Events { ref doses } => {
                let mut times: Vec<f64> = Vec::new();
                let mut at: Vec<Vec<Dose>> = Vec::new();
                for (t, d) in doses {
                    if times
                        .last()
                        .is_some_and(|last| (t - last).abs() <= TIME_EPS)
                    {
                        if let Some(group) = at.last_mut() {
                            group.push(*d);
                        }
                    } else {
                        times.push(*t);
                        at.push(vec![*d]);
                    }
                }
                Box::new(Events { times, at })
            }
            Schedule::Combination { ref parts, base } => Box::new(Combination {
                parts: parts
                    .iter()
                    .map(|p| (p.policy(env), p.interval()))
                    .collect(),
                base,
            }),
            Schedule::Holiday(rule) => Box::new(Holiday {
                rule,
                baseline: None,
                phase: Phase::Treat { since: 0.0 },
                holidays: 0,
            }),
            Schedule::Modulation(rule) => Box::new(Modulation {
                rule,
                dose: rule.dose,
                last: None,
                skip: false,
            }),
            Schedule::Containment(rule) => {
                let model = if rule.needs_model() {
                    env.forecaster()
                } else {
                    None
                };
                Box::new(Containment::new(rule, model))
            }
            Schedule::Mpc(ref rule) => Box::new(crate::protocol::mpc::Mpc::new(rule.clone(), env)),
            Schedule::Piecewise {
                drug,
                interval,
                period,
                ref doses,
                ref on,
            } => Box::new(Piecewise {
                drug,
                interval,
                period,
                doses: doses.clone(),
                on: on.clone(),
            }),
            Schedule::Continuous {
                drug,
                dose,
                interval,
            } => Box::new(Continuous {
                drug,
                dose,
                interval,
            }),
            Schedule::Intermittent {
                drug,
                dose,
                interval,
                on,
                off,
                start_delay,
            } => Box::new(Intermittent {
                drug,
                dose,
                interval,
                on,
                off,
                start_delay,
            }),
            Schedule::Adaptive {
                drug,
                dose,
                interval,
                stop_below,
                resume_above,
                every_visits,
            } => Box::new(Adaptive {
                drug,
                dose,
                interval,
                stop_below,
                resume_above,
                every_visits,
                visits: 0,
                baseline: None,
                on: true,
            }),
        }
    }
}

/// The same dose every `interval`.
#[derive(Debug, Clone)]
pub struct Continuous {
    drug: usize,
    dose: f64,
    interval: f64,
}

impl Policy for Continuous {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        doses.push(Dose {
            drug: self.drug,
            amount: self.dose,
            duration: self.interval,
        });
    }
}

/// `on` time units of dosing, then `off` without, repeated, after `start_delay`.
#[derive(Debug, Clone)]
pub struct Intermittent {
    drug: usize,
    dose: f64,
    interval: f64,
    on: f64,
    off: f64,
    start_delay: f64,
}

/// Slack for comparing times built from sums of user-given intervals.
const TIME_EPS: f64 = 1e-9;

impl Policy for Intermittent {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        if t + TIME_EPS < self.start_delay {
            return;
        }
        let cycle = self.on + self.off;
        let phase = (t - self.start_delay).max(0.0) % cycle;
        // A phase within rounding of the cycle length is the start of the next cycle.
        let phase = if cycle - phase < TIME_EPS { 0.0 } else { phase };
        let remaining_on = self.on - phase;
        if remaining_on > TIME_EPS {
            doses.push(Dose {
                drug: self.drug,
                amount: self.dose,
                // A dose level lasts to the end of the on-period at most.
                duration: self.interval.min(remaining_on),
            });
        }
    }
}

/// Zhang et al. 2017/2022 adaptive rule: dose until the marker falls below
/// `stop_below × baseline`, pause until it is back to `resume_above × baseline`, repeat.
/// The baseline is the first observation (the visit at treatment start).
#[derive(Debug, Clone)]
pub struct Adaptive {
    drug: usize,
    dose: f64,
    interval: f64,
    stop_below: f64,
    resume_above: f64,
    every_visits: u32,
    /// Visits seen after the baseline.
    visits: u32,
    baseline: Option<f64>,
    on: bool,
}

impl Policy for Adaptive {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        let Some(baseline) = self.baseline else {
            self.baseline = Some(obs.value);
            return;
        };
        self.visits += 1;
        if !self.visits.is_multiple_of(self.every_visits) {
            return;
        }
        if self.on && obs.value < self.stop_below * baseline {
            self.on = false;
        } else if !self.on && obs.value >= self.resume_above * baseline {
            self.on = true;
        }
    }

    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        if self.on {
            doses.push(Dose {
                drug: self.drug,
                amount: self.dose,
                duration: self.interval,
            });
        }
    }
}

/// When a sequential regimen moves on to a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Switch {
    /// At the visit where progression is called on the line before.
    OnProgression,
    /// After this long on the line before.
    AfterTime(f64),
    /// After this long on the line before, or at progression on it if that comes first (a
    /// planned early switch that never hides a progression).
    TimeOrProgression(f64),
}

/// Lines of treatment one after another. Each line runs on its own clock, started when the
/// line starts (so an intermittent line begins its first cycle then), and sees visits in
/// that clock too.
pub struct Sequence {
    lines: Vec<(Box<dyn Policy + Send>, f64, Option<Switch>)>,
    current: usize,
    started: f64,
    tracker: crate::protocol::observe::ProgressionTracker,
    rule: crate::protocol::observe::ProgressionRule,
    base: f64,
}

impl Sequence {
    fn next_switch(&self) -> Option<Switch> {
        self.lines.get(self.current + 1).and_then(|l| l.2)
    }

    fn advance(&mut self, at: f64) {
        self.current += 1;
        self.started = at;
        self.tracker = crate::protocol::observe::ProgressionTracker::new(self.rule);
    }

    fn local(&self, obs: &Observation) -> Observation {
        Observation {
            time: obs.time - self.started,
            ..*obs
        }
    }
}

impl Policy for Sequence {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.base)
    }

    fn observe(&mut self, obs: &Observation) {
        let local = self.local(obs);
        if let Some((line, _, _)) = self.lines.get_mut(self.current) {
            line.observe(&local);
        }
        if self.tracker.update(&local)
            && matches!(
                self.next_switch(),
                Some(Switch::OnProgression | Switch::TimeOrProgression(_))
            )
        {
            self.advance(obs.time);
            // The new line takes this visit as its baseline.
            let local = self.local(obs);
            self.tracker.update(&local);
            if let Some((line, _, _)) = self.lines.get_mut(self.current) {
                line.observe(&local);
            }
        }
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        if let Some(Switch::AfterTime(length) | Switch::TimeOrProgression(length)) =
            self.next_switch()
            && t - self.started >= length - TIME_EPS
        {
            self.advance(self.started + length);
        }
        let local = t - self.started;
        if let Some((line, interval, _)) = self.lines.get_mut(self.current) {
            let steps = local / *interval;
            if (steps - steps.round()).abs() < TIME_EPS * steps.max(1.0) {
                line.decide(local, doses);
            }
        }
    }

    fn line(&self) -> usize {
        self.current
    }

    fn on_last_line(&self) -> bool {
        self.current + 1 >= self.lines.len()
    }
}

/// Explicit doses at their own times.
#[derive(Debug, Clone)]
pub struct Events {
    /// Distinct dosing times, increasing.
    times: Vec<f64>,
    /// The doses at each time.
    at: Vec<Vec<Dose>>,
}

impl Policy for Events {
    fn decision_time(&self, k: usize) -> Option<f64> {
        self.times.get(k).copied()
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        // Decision times are visited in order; find the group at t.
        let index = self
            .times
            .partition_point(|x| *x < t - TIME_EPS * t.abs().max(1.0));
        if let (Some(time), Some(group)) = (self.times.get(index), self.at.get(index))
            && (time - t).abs() <= TIME_EPS * t.abs().max(1.0)
        {
            doses.extend_from_slice(group);
        }
    }
}

/// Schedules given together: each decides on its own grid, all see every observation.
pub struct Combination {
    parts: Vec<(Box<dyn Policy + Send>, f64)>,
    base: f64,
}

impl Policy for Combination {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.base)
    }

    fn observe(&mut self, obs: &Observation) {
        for (p, _) in &mut self.parts {
            p.observe(obs);
        }
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        for (p, interval) in &mut self.parts {
            let steps = t / *interval;
            if (steps - steps.round()).abs() < TIME_EPS * steps.max(1.0) {
                p.decide(t, doses);
            }
        }
    }
}

/// Parameters of a drug-holiday rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HolidayRule {
    /// The drug dosed.
    pub drug: usize,
    /// Dose per administration while on.
    pub dose: f64,
    /// Time between doses.
    pub interval: f64,
    /// Treat this long before each holiday …
    pub lead_in: Option<f64>,
    /// … or until the marker is below this fraction of baseline.
    pub respond_below: Option<f64>,
    /// Holiday of this length …
    pub holiday: Option<f64>,
    /// … or until the marker is back to this fraction of baseline.
    pub resume_above: Option<f64>,
    /// Holidays allowed before treating continuously.
    pub max_cycles: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Treat { since: f64 },
    Off { since: f64 },
}

/// Treat to response, pause, rechallenge.
#[derive(Debug, Clone)]
pub struct Holiday {
    rule: HolidayRule,
    baseline: Option<f64>,
    phase: Phase,
    holidays: u32,
}

impl Holiday {
    fn may_pause(&self) -> bool {
        self.rule.max_cycles.is_none_or(|m| self.holidays < m)
    }

    fn pause(&mut self, at: f64) {
        self.phase = Phase::Off { since: at };
        self.holidays += 1;
    }
}

impl Policy for Holiday {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.rule.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        let Some(baseline) = self.baseline else {
            self.baseline = Some(obs.value);
            return;
        };
        match self.phase {
            Phase::Treat { .. } => {
                if let Some(r) = self.rule.respond_below
                    && obs.value < r * baseline
                    && self.may_pause()
                {
                    self.pause(obs.time);
                }
            }
            Phase::Off { .. } => {
                if let Some(r) = self.rule.resume_above
                    && obs.value >= r * baseline
                {
                    self.phase = Phase::Treat { since: obs.time };
                }
            }
        }
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        // Fixed-length phases end at decision times.
        match self.phase {
            Phase::Treat { since } => {
                if let Some(lead_in) = self.rule.lead_in
                    && t - since >= lead_in - TIME_EPS
                    && self.may_pause()
                {
                    self.pause(since + lead_in);
                }
            }
            Phase::Off { since } => {
                if let Some(length) = self.rule.holiday
                    && t - since >= length - TIME_EPS
                {
                    self.phase = Phase::Treat {
                        since: since + length,
                    };
                }
            }
        }
        if let Phase::Treat { .. } = self.phase {
            doses.push(Dose {
                drug: self.rule.drug,
                amount: self.rule.dose,
                duration: self.rule.interval,
            });
        }
    }
}

/// Parameters of a dose-modulation rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModulationRule {
    /// The drug dosed.
    pub drug: usize,
    /// Starting dose.
    pub dose: f64,
    /// Time between doses.
    pub interval: f64,
    /// Relative change per decision.
    pub step: f64,
    /// Relative marker change between visits that triggers a dose change.
    pub margin: f64,
    /// A relative fall larger than this skips dosing until the next visit.
    pub skip_below: Option<f64>,
    /// Lowest dose the rule gives.
    pub min_dose: f64,
    /// Highest dose the rule gives.
    pub max_dose: f64,
}

/// Raise the dose when the marker rises, lower it when it falls, skip when it falls a lot.
#[derive(Debug, Clone)]
pub struct Modulation {
    rule: ModulationRule,
    dose: f64,
    last: Option<f64>,
    skip: bool,
}

impl Policy for Modulation {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.rule.interval)
    }

    fn observe(&mut self, obs: &Observation) {
        if let Some(previous) = self.last
            && previous > 0.0
        {
            let change = obs.value / previous - 1.0;
            let r = &self.rule;
            self.skip = r.skip_below.is_some_and(|s| change < -s);
            if change > r.margin {
                self.dose = (self.dose * (1.0 + r.step)).min(r.max_dose);
            } else if change < -r.margin {
                self.dose = (self.dose * (1.0 - r.step)).max(r.min_dose);
            }
        }
        self.last = Some(obs.value);
    }

    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        if !self.skip && self.dose > 0.0 {
            doses.push(Dose {
                drug: self.rule.drug,
                amount: self.dose,
                duration: self.rule.interval,
            });
        }
    }
}

/// An explicit dose per period, given every `interval` within the period.
#[derive(Debug, Clone)]
pub struct Piecewise {
    drug: usize,
    interval: f64,
    period: f64,
    doses: Vec<f64>,
    on: Vec<f64>,
}

impl Policy for Piecewise {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.interval)
    }

    fn decide(&mut self, t: f64, doses: &mut Vec<Dose>) {
        let index = ((t + TIME_EPS) / self.period).floor();
        if index < 0.0 {
            return;
        }
        let Some(&amount) = self.doses.get(index as usize) else {
            return;
        };
        let start = index * self.period;
        let on_end = match self.on.get(index as usize) {
            Some(&on) => start + on.min(self.period),
            None => start + self.period,
        };
        if amount > 0.0 && t + TIME_EPS < on_end {
            doses.push(Dose {
                drug: self.drug,
                amount,
                duration: self.interval.min(on_end - t),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::forecast::NoModel;

    fn doses_over(policy: &mut dyn Policy, horizon: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut k = 0;
        while let Some(t) = policy.decision_time(k) {
            if t >= horizon {
                break;
            }
            let mut d = Vec::new();
            policy.decide(t, &mut d);
            out.extend(d.iter().map(|x| (t, x.duration)));
            k += 1;
        }
        out
    }

    #[test]
    fn intermittent_doses_on_days_only() {
        let s = Schedule::Intermittent {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            on: 3.0,
            off: 2.0,
            start_delay: 1.0,
        };
        let days: Vec<f64> = doses_over(s.policy(&NoModel).as_mut(), 11.0)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(days, vec![1.0, 2.0, 3.0, 6.0, 7.0, 8.0]);
    }

    #[test]
    fn intermittent_clips_last_dose_to_on_period() {
        let s = Schedule::Intermittent {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            on: 1.5,
            off: 1.5,
            start_delay: 0.0,
        };
        let d = doses_over(s.policy(&NoModel).as_mut(), 3.0);
        assert_eq!(d, vec![(0.0, 1.0), (1.0, 0.5)]);
    }

    /// Shows `policy` the marker values at visits 0, 1, 2, … (one per time unit, dosing daily)
    /// and returns the dose given right after each visit.
    fn doses_after_visits(policy: &mut dyn Policy, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let t = i as f64;
                policy.observe(&Observation {
                    time: t,
                    value: v,
                    detected: true,
                });
                let mut d = Vec::new();
                policy.decide(t, &mut d);
                d.iter().map(|x| x.amount).sum()
            })
            .collect()
    }

    #[test]
    fn adaptive_stops_at_the_first_visit_below_half_and_resumes_at_baseline() {
        let s = Schedule::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: 0.5,
            resume_above: 1.0,
            every_visits: 1,
        };
        let got = doses_after_visits(
            s.policy(&NoModel).as_mut(),
            &[100.0, 80.0, 50.0, 49.9, 30.0, 60.0, 99.9, 100.0, 70.0, 49.0],
        );
        assert_eq!(got, vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn adaptive_can_decide_at_every_second_visit_only() {
        let s = Schedule::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: 0.5,
            resume_above: 1.0,
            every_visits: 2,
        };
        // Visits after baseline: 1 (skipped), 2 (decides), 3 (skipped), 4 (decides) …
        let got = doses_after_visits(
            s.policy(&NoModel).as_mut(),
            &[100.0, 40.0, 40.0, 120.0, 120.0],
        );
        assert_eq!(got, vec![1.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn holiday_on_response_and_marker_return_with_a_cycle_limit() {
        let rule = HolidayRule {
            drug: 0,
            dose: 2.0,
            interval: 1.0,
            lead_in: None,
            respond_below: Some(0.5),
            holiday: None,
            resume_above: Some(0.8),
            max_cycles: Some(1),
        };
        let got = doses_after_visits(
            Schedule::Holiday(rule).policy(&NoModel).as_mut(),
            &[100.0, 60.0, 40.0, 70.0, 85.0, 40.0, 30.0],
        );
        // Pause at 40 (< 50), rechallenge at 85 (≥ 80); the one holiday is used, so the
        // second response no longer pauses.
        assert_eq!(got, vec![2.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn holiday_with_fixed_lead_in_and_length() {
        let rule = HolidayRule {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            lead_in: Some(3.0),
            respond_below: None,
            holiday: Some(2.0),
            resume_above: None,
            max_cycles: None,
        };
        let got = doses_after_visits(
            Schedule::Holiday(rule).policy(&NoModel).as_mut(),
            &[1.0; 11],
        );
        assert_eq!(
            got,
            vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn modulation_steps_the_dose_and_skips_on_a_large_fall() {
        let rule = ModulationRule {
            drug: 0,
            dose: 100.0,
            interval: 1.0,
            step: 0.25,
            margin: 0.1,
            skip_below: Some(0.4),
            min_dose: 50.0,
            max_dose: 150.0,
        };
        let got = doses_after_visits(
            Schedule::Modulation(rule).policy(&NoModel).as_mut(),
            &[100.0, 105.0, 120.0, 150.0, 140.0, 120.0, 60.0, 58.0, 40.0],
        );
        // +5 %: keep 100; +14 %: 125; +25 %: 150 (cap); −7 %: keep; −14 %: 112.5;
        // −50 %: skip (dose lowered to 84.4 meanwhile); −3 %: 84.4; −31 %: 63.3.
        let want = [
            100.0, 100.0, 125.0, 150.0, 150.0, 112.5, 0.0, 84.375, 63.28125,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn piecewise_gives_each_period_its_dose_then_stops() {
        let s = Schedule::Piecewise {
            drug: 0,
            interval: 1.0,
            period: 2.0,
            doses: vec![1.0, 0.0, 0.5],
            on: vec![],
        };
        let got = doses_after_visits(s.policy(&NoModel).as_mut(), &[1.0; 8]);
        assert_eq!(got, vec![1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn piecewise_on_times_dose_the_start_of_each_period() {
        let s = Schedule::Piecewise {
            drug: 0,
            interval: 1.0,
            period: 4.0,
            doses: vec![1.0, 1.0, 1.0],
            on: vec![1.0, 0.0, 4.0],
        };
        let got = doses_after_visits(s.policy(&NoModel).as_mut(), &[1.0; 12]);
        assert_eq!(
            got,
            vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn adaptive_stops_and_resumes_on_observed_marker() {
        let s = Schedule::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: 0.5,
            resume_above: 1.0,
            every_visits: 1,
        };
        let mut p = s.policy(&NoModel);
        let seen = |v: f64, p: &mut Box<dyn Policy + Send>| {
            p.observe(&Observation {
                time: 0.0,
                value: v,
                detected: true,
            });
            let mut d = Vec::new();
            p.decide(0.0, &mut d);
            !d.is_empty()
        };
        assert!(seen(100.0, &mut p)); // baseline
        assert!(seen(60.0, &mut p));
        assert!(!seen(49.0, &mut p)); // below 50 %: stop
        assert!(!seen(99.0, &mut p)); // not yet back at baseline
        assert!(seen(100.0, &mut p)); // resume
    }
}
