//! `regimen compare`: arms on common random numbers, contrasts, and the files it writes.

mod common;
use common::correlation;
use regimen::Scenario;
use regimen::sim::rollouts::{RolloutSettings, run_rollouts};
use regimen::stats::contrast::compare;
use std::path::Path;
use std::process::Command;

fn zhang_with_duplicate_arm() -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/zhang2022-prostate.yaml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  - name: adaptive-50\n",
        "  - name: soc-again\n    schedule: continuous-mtd\n  - name: adaptive-50\n",
    );
    Scenario::from_text(&file, &text).unwrap()
}

#[test]
fn identical_arms_differ_by_exactly_zero_and_different_arms_do_not() {
    // With common random numbers an arm that repeats the reference schedule reproduces
    // every rollout exactly: the paired difference and its CI are 0 and the HR is 1.
    let s = zhang_with_duplicate_arm();
    let settings = RolloutSettings {
        seed: 8,
        first: 0,
        count: 300,
        keep_trajectories: 0,
        record_every: 0.0,
    };
    let runs: Vec<_> = s
        .arms
        .iter()
        .map(|a| (a.name.as_str(), run_rollouts(&s, a, settings).unwrap()))
        .collect();
    let refs: Vec<_> = runs.iter().map(|(n, r)| (*n, r)).collect();
    let rows = compare(&s, &refs, 0);
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contrast.is_none());
    let again = rows[1].contrast.as_ref().unwrap();
    assert_eq!(again.rmst_difference, 0.0);
    assert_eq!(again.rmst_difference_ci, (0.0, 0.0));
    assert!((again.hazard_ratio.unwrap() - 1.0).abs() < 1e-12);
    assert!((again.log_rank_p - 1.0).abs() < 1e-6);
    assert_eq!(rows[1].relative_dose, vec![Some(1.0)]);
    // Adaptive therapy in Zhang's model keeps the tumour controlled far longer.
    let adaptive = rows[2].contrast.as_ref().unwrap();
    assert!(adaptive.rmst_difference_ci.0 > 300.0, "{adaptive:?}");
    assert!(adaptive.log_rank_p < 1e-6);
    assert!(rows[2].relative_dose[0].unwrap() < 0.6);
    assert!(rows[2].summary.mean_cycles > 2.0, "{:?}", rows[2].summary);
}

#[test]
fn compare_writes_its_files_and_a_table() {
    let out = std::env::temp_dir().join(format!("regimen-compare-{}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "compare",
            "scenarios/zhang2022-prostate.yaml",
            "--rollouts",
            "200",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run regimen");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("ΔRMST vs standard-of-care"), "{stdout}");
    assert!(stdout.contains("reference"), "{stdout}");
    let outcomes = std::fs::read_to_string(out.join("outcomes.csv")).unwrap();
    assert_eq!(outcomes.lines().count(), 1 + 2 * 200);
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["rollouts_per_arm"], 200);
    assert_eq!(manifest["scenario_sha256"].as_str().unwrap().len(), 64);
    std::fs::remove_dir_all(&out).unwrap();

    let o = Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "compare",
            "scenarios/zhang2022-prostate.yaml",
            "--reference",
            "nope",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--reference: no arm `nope`"));
}

#[test]
fn arms_treat_the_same_virtual_patients() {
    // In the Algazi scenario pre-existing resistance varies ~10-fold between patients. A
    // patient with much resistance progresses early on either arm, so with shared patients
    // the two arms' TTPs are strongly correlated across rollouts; with the patients of
    // another seed they are not (|r| < 0.15 at n = 400 is 3 SE). Shared patients must give
    // r > 0.45, three times that bound (RECIST on diameters, which calls a lesion that
    // reappears from below 10 mm progressed, lowered it from ~0.7 to ~0.6).
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/algazi2020-melanoma.yaml");
    let s = Scenario::load(&file).unwrap();
    assert_eq!(s.patients.len(), 2);
    let ttp = |arm: &str, seed: u64| -> Vec<f64> {
        run_rollouts(
            &s,
            s.arm(arm).unwrap(),
            RolloutSettings {
                seed,
                first: 0,
                count: 400,
                keep_trajectories: 0,
                record_every: 0.0,
            },
        )
        .unwrap()
        .rollouts
        .iter()
        .map(|r| r.outcome.ttp)
        .collect()
    };
    let continuous = ttp("continuous", 21);
    let intermittent = ttp("5w-on-3w-off", 21);
    let other_patients = ttp("5w-on-3w-off", 22);
    let spread = continuous.iter().cloned().fold(f64::INFINITY, f64::min)
        < continuous.iter().cloned().fold(0.0, f64::max);
    assert!(spread, "patients should differ");
    let same = correlation(&continuous, &intermittent);
    let different = correlation(&continuous, &other_patients);
    assert!(same > 0.45, "same patients: r = {same}");
    assert!(different.abs() < 0.15, "other patients: r = {different}");
}
