//! How each recommendation fares when the model's parameters are off: its score with one
//! uncertain parameter changed at a time (a tornado), the smallest change that makes it
//! score below continuous dosing at the standard dose (the distance to the cliff), and a map
//! over the two parameters that move the best schedule most.
//!
//! Every score here is on the same rollouts (common random numbers), so a schedule's margin
//! over continuous dosing at a changed parameter is a paired difference with little noise.
//! The cliff is found by stepping the change out along [`CLIFF_STEPS`] until the margin turns
//! negative and then halving the last step [`BISECTIONS`] times: a margin that dips below
//! zero and recovers between two steps is missed, which the brute-force scan of
//! `tests/sensitivity.rs` checks does not happen on its case.

use super::config::Plan;
use super::leaderboard::Entry;
use super::objective::{Engine, Evaluator};
use crate::error::{Error, Result};
use crate::scenario::{Arm, Scenario};
use std::collections::HashMap;

/// The relative changes the cliff search steps through, in each direction: finest near no
/// change, where a recommendation on a knife edge falls.
pub const CLIFF_STEPS: [f64; 12] = [
    0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
];
/// Halvings of the step where the margin turned negative.
pub const BISECTIONS: usize = 3;
/// Default rollouts per score (at most the plan's tuning rollouts).
pub const DEFAULT_ROLLOUTS: u64 = 100;
/// Most parameters a default set holds.
pub const MAX_DEFAULT_PARAMETERS: usize = 10;
/// Relative half-width of a default parameter's range.
pub const DEFAULT_WIDTH: f64 = 0.3;

/// The sensitivity part of an optimisation plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityPlan {
    /// The uncertain parameters: path and relative half-width w of the range the tornado
    /// and the map cover (±w/3 and ±w).
    pub parameters: Vec<(String, f64)>,
    /// Rollouts per score.
    pub rollouts: u64,
}

/// One score of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The entry's label (`search:<family>`, `arm:<name>`).
    pub schedule: String,
    /// `nominal` (the scenario as written), `oneway` (tornado), `cliff` (the cliff
    /// search's steps) or `map`.
    pub kind: &'static str,
    /// The changed parameter, by path.
    pub parameter: String,
    /// Its relative change.
    pub change: f64,
    /// A second changed parameter (the map).
    pub parameter2: Option<String>,
    /// Its relative change.
    pub change2: Option<f64>,
    /// The schedule's objective there.
    pub value: f64,
    /// Continuous dosing's objective there.
    pub continuous: f64,
}

/// Where a schedule meets continuous dosing.
#[derive(Debug, Clone, PartialEq)]
pub enum Cliff {
    /// The schedule is continuous dosing at the standard dose.
    Reference,
    /// Already below continuous dosing as the scenario stands.
    BelowAtNominal,
    /// Below continuous dosing once `parameter` changes by `change` (signed, relative);
    /// the smallest such change over every parameter and direction.
    At {
        /// The parameter's path.
        parameter: String,
        /// The relative change.
        change: f64,
    },
    /// At least as good as continuous dosing for every single change up to ±`searched`.
    Beyond {
        /// The largest change searched.
        searched: f64,
    },
}

impl Cliff {
    /// The cliff in words for a table: `kill −23%`, `> ±75%`, `reference`, `below`.
    pub fn describe(&self) -> String {
        match self {
            Cliff::Reference => "reference".to_owned(),
            Cliff::BelowAtNominal => "below at nominal".to_owned(),
            Cliff::At { parameter, change } => {
                let digits = if change.abs() < 0.1 { 1 } else { 0 };
                format!(
                    "{} {:+.digits$}%",
                    crate::support::format::brief_parameter(parameter),
                    100.0 * change
                )
            }
            Cliff::Beyond { searched } => format!("none to ±{:.0}%", 100.0 * searched),
        }
    }

    /// The size of the smallest harmful change (0 below at nominal, infinite beyond the
    /// search or for the reference), for sorting and CSV.
    pub fn distance(&self) -> f64 {
        match self {
            Cliff::BelowAtNominal => 0.0,
            Cliff::At { change, .. } => change.abs(),
            Cliff::Reference | Cliff::Beyond { .. } => f64::INFINITY,
        }
    }
}

/// The report of one optimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    /// The uncertain parameters with their half-widths.
    pub parameters: Vec<(String, f64)>,
    /// Rollouts per score and their seed.
    pub rollouts: u64,
    /// Seed of the rollouts.
    pub seed: u64,
    /// Every score, in the order computed.
    pub rows: Vec<Row>,
    /// Per entry label, its cliff.
    pub cliffs: Vec<(String, Cliff)>,
    /// The entry the two-parameter map is of, and the map's parameters (most influential
    /// first), if there were two.
    pub map_of: Option<(String, String, String)>,
    /// Changes that made no valid model (with the reason), left out of every score.
    pub skipped: Vec<String>,
}

impl Sensitivity {
    /// The cliff of the entry labelled `label`.
    pub fn cliff(&self, label: &str) -> Option<&Cliff> {
        self.cliffs.iter().find(|(l, _)| l == label).map(|(_, c)| c)
    }
}

/// The parameters a report uses when none are named: the effect of each drug on each
/// compartment and each compartment's birth rate, where not zero and not drawn per patient.
pub fn default_parameters(scenario: &Scenario) -> Vec<(String, f64)> {
    let spec = scenario.resolved_spec();
    let drawn = crate::scenario::patients::drawn_targets(spec);
    let all = crate::scenario::paths::parameters(spec);
    let effects = all.iter().filter(|p| p.path.starts_with("drugs."));
    let births = all.iter().filter(|p| p.path.ends_with(".birth"));
    effects
        .chain(births)
        .filter(|p| p.value != 0.0 && !p.targets.iter().any(|t| drawn.contains(t)))
        .take(MAX_DEFAULT_PARAMETERS)
        .map(|p| (p.path.clone(), DEFAULT_WIDTH))
        .collect()
}

/// The report for `entries` (each searched finalist and scenario arm); the map is of
/// `entries[0]`, the leaderboard's best.
pub fn analyse(
    scenario: &Scenario,
    plan: &Plan,
    sensitivity: &SensitivityPlan,
    entries: &[Entry],
) -> Result<Sensitivity> {
    let mut a = Analysis {
        scenario,
        plan,
        engine: Engine::Stochastic {
            seed: plan.seed.wrapping_add(2),
            rollouts: sensitivity.rollouts,
        },
        nominal: sensitivity
            .parameters
            .iter()
            .map(|(p, _)| {
                crate::scenario::params::number_at(scenario.resolved_spec(), p)
                    .map_err(|m| Error::Usage(format!("sensitivity: {m}")))
            })
            .collect::<Result<_>>()?,
        parameters: sensitivity.parameters.clone(),
        scenarios: HashMap::new(),
        values: HashMap::new(),
        rows: Vec::new(),
        reference: scenario.candidate_arm("continuous", plan.continuous()),
        skipped: Vec::new(),
    };
    let continuous = plan.continuous();
    let mut cliffs = Vec::new();
    let mut map_of = None;
    for (i, e) in entries.iter().enumerate() {
        let arm = entry_arm(scenario, e);
        let nominal = a.try_margin(&e.label, &arm, &[])?;
        a.rows.push(Row {
            schedule: e.label.clone(),
            kind: "nominal",
            parameter: String::new(),
            change: 0.0,
            parameter2: None,
            change2: None,
            value: nominal.0,
            continuous: nominal.1,
        });
        let spans: Vec<f64> = (0..a.parameters.len())
            .map(|j| a.tornado(&e.label, &arm, j))
            .collect::<Result<_>>()?;
        let cliff = if arm.schedule == continuous {
            Cliff::Reference
        } else {
            a.cliff(&e.label, &arm)?
        };
        cliffs.push((e.label.clone(), cliff));
        if i == 0 && a.parameters.len() >= 2 {
            let mut order: Vec<usize> = (0..spans.len()).collect();
            order.sort_by(|&x, &y| spans[y].total_cmp(&spans[x]));
            a.map(&e.label, &arm, order[0], order[1])?;
            map_of = Some((
                e.label.clone(),
                a.parameters[order[0]].0.clone(),
                a.parameters[order[1]].0.clone(),
            ));
        }
    }
    Ok(Sensitivity {
        parameters: a.parameters,
        rollouts: sensitivity.rollouts,
        seed: plan.seed.wrapping_add(2),
        rows: a.rows,
        cliffs,
        map_of,
        skipped: a.skipped,
    })
}

/// The arm an entry is run as: a scenario arm as it is, a searched schedule as the scenario
/// judges a candidate.
fn entry_arm(scenario: &Scenario, e: &Entry) -> Arm {
    e.label
        .strip_prefix("arm:")
        .and_then(|name| scenario.arm(name))
        .cloned()
        .unwrap_or_else(|| scenario.candidate_arm(&e.label, e.schedule.clone()))
}

/// A key for a relative change (to a millionth).
fn key(change: f64) -> i64 {
    (change * 1e6).round() as i64
}

/// A relative change rounded to a millionth (so w/3 prints as 0.1, not 0.09999…).
fn rounded(change: f64) -> f64 {
    key(change) as f64 / 1e6
}

/// The scores of one report, cached by point.
struct Analysis<'a> {
    scenario: &'a Scenario,
    plan: &'a Plan,
    engine: Engine,
    parameters: Vec<(String, f64)>,
    nominal: Vec<f64>,
    /// Scenarios by their changes (parameter index, change key), sorted.
    scenarios: HashMap<Vec<(usize, i64)>, Scenario>,
    /// Values by (label, changes); continuous dosing under the label "".
    values: HashMap<(String, Vec<(usize, i64)>), f64>,
    rows: Vec<Row>,
    /// Continuous dosing as the scenario judges a candidate: the reference of every margin.
    reference: Arm,
    /// Changes that made no valid model, with why.
    skipped: Vec<String>,
}

impl Analysis<'_> {
    /// The objective of `arm` (labelled `label`) with parameters `changes` (index, relative
    /// change) changed, and continuous dosing's there; `None` where the changed scenario is
    /// not a valid model or cannot be run (a capacity effect pushed past 1, say), which is
    /// noted in `skipped`.
    fn margin(
        &mut self,
        label: &str,
        arm: &Arm,
        changes: &[(usize, f64)],
    ) -> Result<Option<(f64, f64)>> {
        match self.try_margin(label, arm, changes) {
            Ok(m) => Ok(Some(m)),
            Err(e @ (Error::Invalid(_) | Error::Simulation { .. })) => {
                let what: Vec<String> = changes
                    .iter()
                    .map(|&(j, c)| {
                        format!(
                            "{} {:+.1}%",
                            crate::support::format::short_parameter(&self.parameters[j].0),
                            100.0 * c
                        )
                    })
                    .collect();
                let said = format!("{}: {}", what.join(", "), e.to_string().replace('\n', " "));
                if !self.skipped.contains(&said) {
                    self.skipped.push(said);
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn try_margin(
        &mut self,
        label: &str,
        arm: &Arm,
        changes: &[(usize, f64)],
    ) -> Result<(f64, f64)> {
        let mut point: Vec<(usize, i64)> = changes.iter().map(|&(j, c)| (j, key(c))).collect();
        point.retain(|&(_, k)| k != 0);
        point.sort_unstable();
        if !point.is_empty() && !self.scenarios.contains_key(&point) {
            let values: Vec<(&str, serde_json::Value)> = changes
                .iter()
                .map(|&(j, c)| {
                    let path = self.parameters[j].0.as_str();
                    (path, serde_json::Value::from(self.nominal[j] * (1.0 + c)))
                })
                .collect();
            let at = self.scenario.with_params(&values)?.assuming(self.scenario);
            self.scenarios.insert(point.clone(), at);
        }
        let ours = self.value(label, arm, &point)?;
        let reference = self.reference.clone();
        let theirs = self.value("", &reference, &point)?;
        Ok((ours, theirs))
    }

    /// The objective of `arm` at `point`, cached.
    fn value(&mut self, label: &str, arm: &Arm, point: &[(usize, i64)]) -> Result<f64> {
        let cache_key = (label.to_owned(), point.to_vec());
        if let Some(v) = self.values.get(&cache_key) {
            return Ok(*v);
        }
        let at = if point.is_empty() {
            self.scenario
        } else {
            &self.scenarios[point]
        };
        let own = at
            .arm(&arm.name)
            .filter(|a| a.schedule == arm.schedule)
            .cloned()
            .unwrap_or_else(|| at.candidate_arm(&arm.name, arm.schedule.clone()));
        let v = Evaluator::new(at, self.plan.objective, self.engine)
            .score_arm(&own)?
            .value;
        self.values.insert(cache_key, v);
        Ok(v)
    }

    fn push(&mut self, label: &str, kind: &'static str, at: &[(usize, f64)], v: (f64, f64)) {
        self.rows.push(Row {
            schedule: label.to_owned(),
            kind,
            parameter: self.parameters[at[0].0].0.clone(),
            change: at[0].1,
            parameter2: at.get(1).map(|&(j, _)| self.parameters[j].0.clone()),
            change2: at.get(1).map(|&(_, c)| c),
            value: v.0,
            continuous: v.1,
        });
    }

    /// The tornado rows of parameter `j` (±w/3, ±w); returns their span of values.
    fn tornado(&mut self, label: &str, arm: &Arm, j: usize) -> Result<f64> {
        let w = self.parameters[j].1;
        let mut values = Vec::new();
        for c in [-w, -w / 3.0, w / 3.0, w].map(rounded) {
            if let Some(v) = self.margin(label, arm, &[(j, c)])? {
                self.push(label, "oneway", &[(j, c)], v);
                values.push(v.0);
            }
        }
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        Ok(if hi >= lo { hi - lo } else { 0.0 })
    }

    /// The smallest single change that puts `arm` below continuous dosing.
    fn cliff(&mut self, label: &str, arm: &Arm) -> Result<Cliff> {
        let Some((v, c)) = self.margin(label, arm, &[])? else {
            return Ok(Cliff::Beyond { searched: 0.0 });
        };
        if v < c {
            return Ok(Cliff::BelowAtNominal);
        }
        let mut best: Option<(usize, f64)> = None;
        for j in 0..self.parameters.len() {
            for sign in [-1.0, 1.0] {
                let mut inside = 0.0;
                for &step in CLIFF_STEPS.iter() {
                    // A parameter cannot fall to zero or below, nor is a change beyond the best
                    // found so far worth scoring.
                    if sign < 0.0 && step >= 1.0 || best.is_some_and(|(_, d)| step > d.abs()) {
                        break;
                    }
                    // Past where the model is valid, this direction ends.
                    let Some(m) = self.margin(label, arm, &[(j, sign * step)])? else {
                        break;
                    };
                    self.push(label, "cliff", &[(j, sign * step)], m);
                    if m.0 >= m.1 {
                        inside = step;
                        continue;
                    }
                    // Below at `step`, not at `inside`: halve the gap.
                    let mut outside = step;
                    for _ in 0..BISECTIONS {
                        let mid = rounded(0.5 * (inside + outside));
                        let Some(m) = self.margin(label, arm, &[(j, sign * mid)])? else {
                            // Invalid between two valid changes: keep the valid bracket.
                            break;
                        };
                        self.push(label, "cliff", &[(j, sign * mid)], m);
                        if m.0 >= m.1 {
                            inside = mid;
                        } else {
                            outside = mid;
                        }
                    }
                    if best.is_none_or(|(_, d)| outside < d.abs()) {
                        best = Some((j, sign * outside));
                    }
                    break;
                }
            }
        }
        Ok(match best {
            Some((j, change)) => Cliff::At {
                parameter: self.parameters[j].0.clone(),
                change,
            },
            None => Cliff::Beyond {
                searched: CLIFF_STEPS[CLIFF_STEPS.len() - 1],
            },
        })
    }

    /// The map over parameters `j` and `k` (five changes each across ±w).
    fn map(&mut self, label: &str, arm: &Arm, j: usize, k: usize) -> Result<()> {
        let grid = |w: f64| [-w, -w / 2.0, 0.0, w / 2.0, w].map(rounded);
        for cj in grid(self.parameters[j].1) {
            for ck in grid(self.parameters[k].1) {
                let at = [(j, cj), (k, ck)];
                if let Some(v) = self.margin(label, arm, &at)? {
                    self.push(label, "map", &at, v);
                }
            }
        }
        Ok(())
    }
}
