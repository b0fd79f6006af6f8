//! Multi-drug regimens: schedules of several drugs given together.

use regimen::Scenario;
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

#[test]
fn a_combination_doses_each_drug_on_its_own_schedule() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/valid/combination.yaml");
    let s = Scenario::load(&file).unwrap();
    let arm = s.arm("combination").unwrap();
    let o = run_deterministic(&s, arm, RunOptions::default()).unwrap();
    // `drug` every day of 100; `other` 7 days on, 21 off: days 0–6, 28–34, 56–62, 84–90.
    assert!((o.outcome.cumulative_dose[0] - 100.0).abs() < 1e-9);
    assert!((o.outcome.cumulative_dose[1] - 28.0).abs() < 1e-9);
    let other_days: Vec<f64> = o
        .trajectory
        .times
        .iter()
        .enumerate()
        .filter(|(i, _)| o.trajectory.dose[2 * i + 1] > 0.0)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(other_days.len(), 28);
    assert_eq!(&other_days[..8], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 28.0]);
    // The continuous arm gives only the first drug.
    let mono = run_deterministic(&s, s.arm("continuous").unwrap(), RunOptions::default()).unwrap();
    assert_eq!(mono.outcome.cumulative_dose[1], 0.0);
    // The second drug's extra kill shows in the tumour.
    let last = |r: &regimen::sim::RunResult| *r.trajectory.counts.last().unwrap();
    assert!(last(&o) < last(&mono));
}
