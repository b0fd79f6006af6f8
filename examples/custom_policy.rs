//! A dosing rule written in user code, compared with a scenario's own arms.
//!
//! "Halve on response": the standard dose until the measured marker falls below half its
//! baseline, then half the dose until it is back above baseline. The rule sees only what a
//! clinic sees (the marker at visits), through the `Policy` trait; the same engines,
//! endpoints and statistics as every other arm judge it.
//!
//!     cargo run --release --example custom_policy [-- scenarios/persister-nsclc.yaml]

use regimen::api::text;
use regimen::model::pk::Dose;
use regimen::protocol::schedule::{Custom, Observation, Policy, PolicyFactory, Schedule};
use regimen::{CompareOptions, Scenario, Silent};
use std::sync::Arc;

/// The rule's settings; `make` gives each simulated patient a fresh policy.
struct HalveOnResponse {
    drug: usize,
    dose: f64,
    interval: f64,
}

/// One patient's state of the rule.
struct HalveOnResponsePolicy {
    rule: (usize, f64, f64),
    baseline: Option<f64>,
    halved: bool,
}

impl PolicyFactory for HalveOnResponse {
    fn name(&self) -> &str {
        "halve-on-response"
    }
    fn make(&self) -> Box<dyn Policy + Send> {
        Box::new(HalveOnResponsePolicy {
            rule: (self.drug, self.dose, self.interval),
            baseline: None,
            halved: false,
        })
    }
    fn interval(&self) -> f64 {
        self.interval
    }
}

impl Policy for HalveOnResponsePolicy {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64 * self.rule.2)
    }
    fn observe(&mut self, obs: &Observation) {
        let baseline = *self.baseline.get_or_insert(obs.value);
        if !obs.detected || obs.value < 0.5 * baseline {
            self.halved = true;
        } else if obs.value > baseline {
            self.halved = false;
        }
    }
    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        let (drug, dose, interval) = self.rule;
        let amount = if self.halved { 0.5 * dose } else { dose };
        doses.push(Dose {
            drug,
            amount,
            duration: interval,
        });
    }
}

fn main() -> Result<(), regimen::Error> {
    let path = std::env::args().nth(1);
    let path = path.as_deref().unwrap_or("scenarios/persister-nsclc.yaml");
    let mut scenario = Scenario::load(path.as_ref())?;
    // Dose and interval of the scenario's continuous arm.
    let Some((drug, dose, interval)) = scenario.arms.iter().find_map(|a| match a.schedule {
        Schedule::Continuous {
            drug,
            dose,
            interval,
        } => Some((drug, dose, interval)),
        _ => None,
    }) else {
        eprintln!("{path} has no continuous arm to take the dose from");
        return Ok(());
    };
    let rule = HalveOnResponse {
        drug,
        dose,
        interval,
    };
    let arm = scenario.candidate_arm(
        "halve-on-response",
        Schedule::Custom(Custom(Arc::new(rule))),
    );
    scenario.arms.push(arm);
    let options = CompareOptions {
        rollouts: 300,
        ..CompareOptions::default()
    };
    let comparison = regimen::compare(&scenario, &options, &Silent)?;
    print!("{}", text::comparison(&scenario, &comparison));
    Ok(())
}
