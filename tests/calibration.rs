//! Population calibration to trial summaries (`regimen fit --targets`): a synthetic trial
//! drawn from a known virtual-patient distribution is calibrated back to it.

use regimen::Scenario;
use regimen::fit::trial::{Kind, Statistic, bootstrap_se, calibrate, simulated};
use regimen::sim::rollouts::{Rollout, RolloutSettings, run_rollouts};
use serde_json::json;
use std::path::Path;

const R0_MEDIAN: &str = "virtual_patients.compartments.resistant.initial.lognormal.median";
const R0_CV: &str = "virtual_patients.compartments.resistant.initial.lognormal.cv";
const KILL: &str = "drugs.drug.effects.sensitive.kill.linear.slope";

fn synthetic() -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/calibration/synthetic-trial.yaml"),
    )
    .unwrap()
}

/// The statistics a trial report would give, without values yet.
fn kinds() -> Vec<Kind> {
    vec![
        Kind::MedianPfs,
        Kind::PfsAt(462.0),
        Kind::PfsAt(672.0),
        Kind::ResponseRate,
        Kind::DurationOfResponse,
    ]
}

#[test]
fn a_synthetic_trial_is_calibrated_back_to_its_distribution() {
    // The truth: resistant clone log-normal (median 1e5 cells, CV 2), kill slope 0.016/day
    // (the median of its own log-normal law, CV 0.5). The trial: 300 patients on seed 101.
    let truth = synthetic();
    let patients = 300;
    let trial: Vec<Rollout> = run_rollouts(
        &truth,
        truth.arm("continuous").unwrap(),
        RolloutSettings {
            seed: 101,
            first: 0,
            count: patients,
            keep_trajectories: 0,
            record_every: 0.0,
        },
    )
    .unwrap()
    .rollouts;
    let blank: Vec<Statistic> = kinds()
        .into_iter()
        .map(|kind| Statistic {
            kind,
            value: 0.0,
            ci: None,
            se: 1.0,
            held_out: false,
            source: None,
        })
        .collect();
    let refs: Vec<&Rollout> = trial.iter().collect();
    let published = simulated(&refs, &blank, truth.horizon);
    // The trial's standard errors: its own bootstrap, as a report's intervals would be.
    let se = bootstrap_se(&trial, &blank, truth.horizon, 400, 7);
    let statistics: Vec<serde_json::Value> = kinds()
        .iter()
        .zip(published.iter().zip(&se))
        .map(|(k, (v, s))| match k {
            Kind::MedianPfs => json!({ "median_pfs": { "value": v, "se": s } }),
            Kind::PfsAt(t) => json!({ "pfs_at": { "time": t, "value": v, "se": s } }),
            Kind::ResponseRate => json!({ "response_rate": { "value": v, "se": s } }),
            Kind::DurationOfResponse => {
                json!({ "duration_of_response": { "value": v, "se": s } })
            }
        })
        .collect();
    println!("published: {published:?}\n       se: {se:?}");

    // The calibration starts away from the truth, on other virtual patients (seed 1).
    let start = truth
        .with_params(&[
            (R0_MEDIAN, json!(4.0e5)),
            (R0_CV, json!(0.8)),
            (KILL, json!(0.028)),
            (
                "fit",
                json!({ "targets": {
                    "arm": "continuous",
                    "patients": patients,
                    "rollouts": 1000,
                    "seed": 1,
                    "budget": 150,
                    "parameters": {
                        R0_MEDIAN: { "lower": 1.0e3, "upper": 1.0e7 },
                        R0_CV: { "lower": 0.2, "upper": 10.0 },
                        KILL: { "lower": 0.004, "upper": 0.064 },
                    },
                    "statistics": statistics,
                }}),
            ),
        ])
        .unwrap();
    let calibration = calibrate(&start, &|| {}).unwrap();
    for t in &calibration.targets {
        println!(
            "{:<28} published {:>8.3} ± {:<6.3} model {:>8.3} ± {:<6.3} z {:+.2}",
            t.statistic.kind.label(),
            t.statistic.value,
            t.statistic.se,
            t.model,
            t.mc_se,
            t.z
        );
    }
    let truth_of = [(R0_MEDIAN, 1.0e5), (R0_CV, 2.0), (KILL, 0.016)];
    for p in &calibration.parameters {
        let (_, value) = truth_of
            .iter()
            .find(|(path, _)| *path == p.free.path)
            .unwrap();
        let z = p.z_of(*value);
        println!(
            "{:<66} start {:>9.3e} estimate {:>9.3e} [{:.3e}, {:.3e}] truth {:.3e} ({z:+.2} se){}",
            p.free.path,
            p.free.value,
            p.estimate,
            p.lower,
            p.upper,
            value,
            if p.identified {
                ""
            } else {
                " (not pinned down)"
            }
        );
        // Recovered within the reported uncertainty: the targets pin every parameter down
        // and the truth is within 3.29 standard errors of the estimate (its 99.9 % interval;
        // for three parameters a correct method fails this with probability < 0.3 %). On
        // this trial the kill slope is 2.1 se off: the 300 patients of seed 101 responded
        // less often (59.7 %) than the model's 66 % (binomial se 2.7 points), and the
        // calibration follows the data, as it should.
        assert!(p.identified, "{}", p.free.path);
        assert!(
            z.abs() < 3.29,
            "{}: truth {value} is {z:.2} se off",
            p.free.path
        );
    }
    println!(
        "distance {:.2} (start {:.2}), {} evaluations, {} stopped after a quarter",
        calibration.distance,
        calibration.start_distance,
        calibration.evaluations,
        calibration.stopped
    );
    // Five statistics, three parameters: at the truth the distance is a χ² with about five
    // degrees of freedom (the trial's sampling error), at the estimate with two; its 99.9 %
    // point is 13.8.
    assert!(calibration.distance < 13.8, "{}", calibration.distance);
    assert!(calibration.distance < calibration.start_distance);
}

#[test]
fn the_command_line_writes_a_calibration_folder() {
    let dir = std::env::temp_dir().join(format!("regimen-calibration-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/calibration/synthetic-trial.yaml"),
    )
    .unwrap()
        + "fit:\n  targets:\n    trial: synthetic\n    patients: 300\n    parameters:\n      \
           drugs.drug.effects.sensitive.kill.linear.slope: { lower: 0.004, upper: 0.064 }\n    \
           statistics:\n      - median_pfs: { value: 569, ci: [555, 583] }\n      \
           - response_rate: { value: 0.6 }\n      - pfs_at: { time: 504, value: 0.75, se: 0.03, held_out: true }\n";
    let scenario = dir.join("trial.yaml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "fit",
            scenario.to_str().unwrap(),
            "--targets",
            "--budget",
            "4",
        ])
        .args([
            "--rollouts",
            "200",
            "--no-png",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("calibrated to synthetic") && stdout.contains("held out"));
    for line in stdout.lines().filter(|l| !l.starts_with("wrote ")) {
        assert!(line.chars().count() <= 100, "{line}");
    }
    for file in [
        "targets.csv",
        "parameters.csv",
        "pfs.csv",
        "calibrated.yaml",
        "scenario.yaml",
        "manifest.json",
        "plots/calibration-pfs.svg",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"calibration\"") && manifest.contains("\"held_out\": 1"));
    // The calibrated scenario loads and carries the estimate.
    let calibrated = Scenario::load(&out.join("calibrated.yaml")).unwrap();
    assert_eq!(calibrated.arms.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
