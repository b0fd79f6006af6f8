//! Toxicity budgets clip schedules in the running simulation, and the clipping is counted.

use regimen::Scenario;
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

fn scenario(toxicity: &str) -> Scenario {
    let yaml = format!(
        "format_version: 1
name: budget
time_units: days
horizon: 30
model:
  growth: exponential
  compartments:
    tumour: {{ birth: 0.02, initial: 1.0e9 }}
drugs:
  drug:
    toxicity: {toxicity}
    effects:
      tumour: {{ kill: {{ linear: {{ slope: 0.05 }} }} }}
observation: {{ every: 10 }}
progression: {{ rule: rise_over_nadir }}
arms:
  - {{ name: continuous, schedule: continuous-mtd }}
"
    );
    Scenario::from_text(Path::new("toxicity-test.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn cumulative_budget_caps_total_dose() {
    // Daily MTD doses (1 MTD·day each) against a budget of 10.5: ten whole doses, one half
    // dose, then nothing; 20 doses clipped (the half one and the 19 withheld).
    let s = scenario("{ max_cumulative_dose: 10.5 }");
    let o = run_deterministic(&s, &s.arms[0], RunOptions::default())
        .unwrap()
        .outcome;
    assert!((o.cumulative_dose[0] - 10.5).abs() < 1e-9, "{o:?}");
    assert_eq!(o.clipped_doses, 20);
    assert!((o.fraction_on_drug - 11.0 / 30.0).abs() < 1e-9);
}

#[test]
fn time_on_budget_turns_continuous_into_cycles() {
    // At most 21 days on in any 28: continuous dosing becomes 21 on / 7 off.
    let s = scenario("{ max_time_on: { on: 21, window: 28 } }");
    let o = run_deterministic(&s, &s.arms[0], RunOptions::default())
        .unwrap()
        .outcome;
    assert_eq!(o.clipped_doses, 7);
    assert!((o.cumulative_dose[0] - 23.0).abs() < 1e-9, "{o:?}");
    assert_eq!(o.cycles, 2);
}
