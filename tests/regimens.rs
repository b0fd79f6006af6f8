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

#[test]
fn exported_doses_replay_as_an_events_schedule() {
    // Export the doses the closed-loop adaptive arm gave, read them back as an events arm,
    // and the deterministic run is the same: same doses, same tumour, same TTP.
    let dir = std::env::temp_dir().join(format!("regimen-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("adaptive-doses.csv");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "events",
            "scenarios/zhang2022-prostate.yaml",
            "--arm",
            "adaptive-50",
            "--out",
            csv.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS\n"));

    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/zhang2022-prostate.yaml");
    let scenario_text = std::fs::read_to_string(&original).unwrap().replace(
        "  - name: adaptive-50\n",
        "  - name: replay\n    schedule: { events: { file: adaptive-doses.csv } }\n  - name: adaptive-50\n",
    );
    let replay_file = dir.join("zhang.yaml");
    std::fs::write(&replay_file, &scenario_text).unwrap();
    let s = Scenario::load(&replay_file).unwrap_or_else(|e| panic!("{e}"));
    let adaptive =
        run_deterministic(&s, s.arm("adaptive-50").unwrap(), RunOptions::default()).unwrap();
    let replay = run_deterministic(&s, s.arm("replay").unwrap(), RunOptions::default()).unwrap();
    assert_eq!(
        replay.outcome.cumulative_dose,
        adaptive.outcome.cumulative_dose
    );
    assert_eq!(replay.outcome.ttp, adaptive.outcome.ttp);
    // The same exposure at every moment (contiguous daily levels replay as one long level:
    // one decision instead of one per day).
    let level = |doses: &[regimen::protocol::events::GivenDose], t: f64| -> f64 {
        doses
            .iter()
            .filter(|d| d.time <= t && t < d.time + d.dose.duration)
            .map(|d| d.dose.amount)
            .sum()
    };
    for day in 0..s.horizon as usize {
        let t = day as f64 + 0.5;
        assert_eq!(
            level(&replay.doses, t),
            level(&adaptive.doses, t),
            "day {day}"
        );
    }
    assert!(replay.doses.len() < adaptive.doses.len());
    let n = adaptive.trajectory.counts.len();
    for i in 0..n {
        let (a, b) = (adaptive.trajectory.counts[i], replay.trajectory.counts[i]);
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "row {i}: {a} vs {b}"
        );
    }
    // The resolved form holds the records inline.
    assert!(s.resolved_yaml().contains("records:"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn two_drug_scenario(arms: &str) -> Scenario {
    let yaml = format!(
        "format_version: 1
name: lines
time_units: days
horizon: 600
model:
  growth: exponential
  compartments:
    a: {{ birth: 0.03, death: 0.01, initial: 1.0e9 }}
    b: {{ birth: 0.03, death: 0.01, initial: 1.0e6, role: resistant }}
drugs:
  first:
    effects: {{ a: {{ kill: {{ linear: {{ slope: 0.05 }} }} }} }}
  second:
    effects: {{ b: {{ kill: {{ linear: {{ slope: 0.05 }} }} }} }}
observation: {{ every: 28 }}
progression: {{ rule: rise_over_nadir }}
arms:
{arms}"
    );
    Scenario::from_text(Path::new("lines.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_second_line_starts_at_progression_on_the_first() {
    let s = two_drug_scenario(
        "  - { name: first-only, schedule: continuous-mtd }
  - name: first-then-second
    schedule: continuous-mtd
    then:
      - { after: progression, schedule: { continuous: { drug: second } } }
",
    );
    let first_only =
        run_deterministic(&s, s.arm("first-only").unwrap(), RunOptions::default()).unwrap();
    let sequence = run_deterministic(
        &s,
        s.arm("first-then-second").unwrap(),
        RunOptions::default(),
    )
    .unwrap();
    let switch = first_only.outcome.ttp;
    assert!(first_only.outcome.progressed && switch < 600.0);
    // The second drug's first dose comes at the visit where line 1 progressed.
    let first_second = sequence
        .doses
        .iter()
        .find(|g| g.dose.drug == 1)
        .expect("second line given")
        .time;
    assert_eq!(first_second, switch);
    // The first drug stops there.
    assert!(
        sequence
            .doses
            .iter()
            .filter(|g| g.dose.drug == 0)
            .all(|g| g.time < switch)
    );
    // Progression of the arm is judged on the last line, from its start: later than line 1.
    assert!(sequence.outcome.ttp > switch, "{:?}", sequence.outcome);
    // The visit at the switch is not a progression of the arm.
    assert!(
        !sequence
            .visits
            .iter()
            .any(|v| v.progression && v.observation.time <= switch)
    );
}

#[test]
fn a_line_can_start_after_a_fixed_time() {
    let s = two_drug_scenario(
        "  - name: switch-at-day-100
    schedule: continuous-mtd
    then:
      - { after: { time: 100 }, schedule: { intermittent: { drug: second, on: 7, off: 7 } } }
",
    );
    let r = run_deterministic(&s, &s.arms[0], RunOptions::default()).unwrap();
    let first: Vec<f64> = r
        .doses
        .iter()
        .filter(|g| g.dose.drug == 0)
        .map(|g| g.time)
        .collect();
    let second: Vec<f64> = r
        .doses
        .iter()
        .filter(|g| g.dose.drug == 1)
        .map(|g| g.time)
        .collect();
    assert_eq!(*first.last().unwrap(), 99.0);
    // The intermittent line starts its own cycle at day 100: 100–106 on, 107–113 off, 114 on.
    assert_eq!(
        &second[..8],
        &[100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 114.0]
    );
}
